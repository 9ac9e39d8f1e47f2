//! The loads: agent messages as signed webhooks, users' DMs through the gateway, and the
//! emulator's own ceiling.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator};

use crate::report::{Figures, Percentiles};
use crate::rig::{self, Rig};
use crate::{Args, Scenario, Storage};

/// What a scenario sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Load {
    /// A plain client posting to one channel of the Discord emulator, sequentially.
    Ceiling,
    /// Agent messages (`onMessageAdded` webhooks) from `senders` concurrent senders, spread
    /// over `conversations` live conversations.
    Outbound {
        senders: usize,
        conversations: usize,
    },
    /// A burst of DMs from `users` users, each with a live agent.
    Inbound { users: usize },
}

/// How long after the load the deliveries may take before the rest counts as lost.
const DRAIN: Duration = Duration::from_secs(120);

/// How often the emulators are looked at for deliveries.
const POLL: Duration = Duration::from_millis(5);

/// The text of message `i` (unique, so lost and doubled messages can be counted).
fn body(i: usize) -> String {
    format!("bench-{i:06}")
}

fn index_of(text: &str) -> Option<usize> {
    text.strip_prefix("bench-")?.parse().ok()
}

/// Runs one scenario.
pub(crate) async fn run(
    scenario: &Scenario,
    binary: &Path,
    args: &Args,
) -> Result<Figures, String> {
    match scenario.load {
        Load::Ceiling => ceiling(scenario, args.messages).await,
        Load::Outbound {
            senders,
            conversations,
        } => outbound(scenario, binary, args, senders, conversations).await,
        Load::Inbound { users } => inbound(scenario, binary, args, users).await,
    }
}

/// A sent message: when it was written upstream, when it left, how long its acknowledgement
/// took and with what status.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// When the message took its place in its conversation (an agent's message is written into
    /// the Twilio emulator first, which gives it its position, then its webhook is sent): the
    /// order the bridge must keep is the order of these.
    created: SystemTime,
    at: SystemTime,
    ack: Duration,
    status: u16,
    conversation: usize,
}

/// When each message arrived upstream (first copy), and how many copies arrived.
#[derive(Debug, Default)]
struct Arrivals {
    first: HashMap<usize, (SystemTime, usize)>,
    copies: HashMap<usize, usize>,
    /// Arrival order per conversation (or user), by message index.
    order: BTreeMap<usize, Vec<usize>>,
}

impl Arrivals {
    fn record(&mut self, i: usize, at: SystemTime, group: usize) {
        let copies = self.copies.entry(i).or_insert(0);
        *copies += 1;
        if *copies == 1 {
            let position = self.first.len();
            self.first.insert(i, (at, position));
            self.order.entry(group).or_default().push(i);
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// An ISO 8601 timestamp of the Discord emulator as a `SystemTime`.
fn parse_time(text: &str) -> Option<SystemTime> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(
        SystemTime::UNIX_EPOCH
            + Duration::from_nanos(u64::try_from(t.unix_timestamp_nanos()).ok()?),
    )
}

/// Pairs (a, b) of one group where `a` was acknowledged before `b` was created upstream, yet
/// `b` arrived first: messages the bridge reordered. (Counted from when `b` was sent instead, a
/// sender pausing between writing `b` upstream and sending its webhook would count the bridge
/// keeping the upstream order, `b` before `a`, as a reordering.)
fn reordered(sent: &[Sent], arrivals: &Arrivals, group_of: impl Fn(usize) -> usize) -> usize {
    let mut by_group: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..sent.len() {
        by_group.entry(group_of(i)).or_default().push(i);
    }
    let mut bad = 0;
    for members in by_group.values() {
        // Each message against the latest-arriving message acknowledged before it was sent.
        let mut by_ack_end: Vec<usize> = members.clone();
        by_ack_end.sort_by_key(|i| sent[*i].at + sent[*i].ack);
        let mut by_start: Vec<usize> = members.clone();
        by_start.sort_by_key(|i| sent[*i].created);
        let mut latest_arrival: Option<usize> = None;
        let mut k = 0;
        for b in by_start {
            while k < by_ack_end.len()
                && sent[by_ack_end[k]].at + sent[by_ack_end[k]].ack <= sent[b].created
            {
                if let Some((_, pos)) = arrivals.first.get(&by_ack_end[k]) {
                    latest_arrival = Some(latest_arrival.map_or(*pos, |p: usize| p.max(*pos)));
                }
                k += 1;
            }
            if let (Some(before), Some((_, pos))) = (latest_arrival, arrivals.first.get(&b))
                && *pos < before
            {
                bad += 1;
            }
        }
    }
    bad
}

/// The emulator's own ceiling: one client posting to one DM channel, one request after the
/// other.
async fn ceiling(scenario: &Scenario, n: usize) -> Result<Figures, String> {
    let discord = DiscordEmulator::start(
        DiscordConfig::default()
            .buckets(u32::MAX, Duration::from_secs(1))
            .latency(scenario.latency),
    )
    .await
    .map_err(|e| e.to_string())?;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v10", discord.api_url());
    let token = format!("Bot {}", discord.token().unwrap_or_default());
    let alice = discord.user_id("alice").ok_or("no alice")?;
    let channel: serde_json::Value = http
        .post(format!("{api}/users/@me/channels"))
        .header("authorization", &token)
        .json(&serde_json::json!({"recipient_id": alice.to_string()}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let channel = channel["id"].as_str().ok_or("no channel id")?.to_owned();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let r = http
            .post(format!("{api}/channels/{channel}/messages"))
            .header("authorization", &token)
            .json(&serde_json::json!({"content": body(i)}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("the emulator answered {}", r.status()));
        }
        latencies.push(micros(t.elapsed()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    discord.shutdown();
    #[allow(clippy::cast_precision_loss)] // message counts stay far below 2^52
    let rate = n as f64 / elapsed;
    Ok(Figures {
        name: scenario.name.to_owned(),
        accepted: n,
        delivered: n,
        accept_rate: rate,
        deliver_rate: rate,
        delivery: Percentiles::of(latencies),
        calls_per_message: 1.0,
        run_seconds: elapsed,
        ..Figures::default()
    })
}

#[allow(clippy::too_many_lines)] // set up, load, drain, count: one scenario read top to bottom
async fn outbound(
    scenario: &Scenario,
    binary: &Path,
    args: &Args,
    senders: usize,
    conversations: usize,
) -> Result<Figures, String> {
    let n = args.messages;
    let mut rig = Rig::start(scenario, binary, conversations, args.postgres.as_deref()).await?;
    let setup = rig.hand_off_all().await?;
    rig.emulators.discord.set_latency(scenario.latency);
    let sids: Vec<String> = rig
        .users
        .iter()
        .map(|u| rig.conversations[u].clone())
        .collect();
    let sids = Arc::new(sids);
    let cpu_before: f64 = rig
        .apps
        .iter()
        .filter_map(|a| rig::cpu_seconds(a.pid()))
        .sum();
    let statuses_before = rig
        .emulators
        .discord
        .state(|s| s.rest_status_counts().clone());
    let offset = rig.emulators.discord.state(|s| s.messages_since(0).len());
    let targets: Arc<Vec<String>> = Arc::new(rig.apps.iter().map(|a| a.base.clone()).collect());
    let account = rig.emulators.twilio.account_sid().to_owned();
    let token = rig.emulators.twilio.auth_token().to_owned();
    let public = rig.public.clone();
    let next = Arc::new(AtomicUsize::new(0));
    // The agent's messages are written into the emulator's conversations (so a catch-up
    // listing finds them, as in Twilio) and the load driver posts their webhooks itself, with
    // their real SID and position, to time each answer: the emulator's own deliveries of them
    // are dropped.
    rig.emulators.twilio.inject_webhook(
        flexcord_testkit::twilio::WebhookFault::drop_deliveries().event("onMessageAdded"),
    );
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (next, sids, targets) = (next.clone(), sids.clone(), targets.clone());
        let (account, token, public) = (account.clone(), token.clone(), public.clone());
        let twilio = rig.emulators.twilio.handle();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut sent = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return sent;
                }
                let conversation = i % sids.len();
                let created = SystemTime::now();
                let Ok((sid, index)) = twilio
                    .agent(rig::AGENT)
                    .send_indexed(&sids[conversation], &body(i))
                else {
                    // never sent: the scenario ends with "a message was not sent"
                    continue;
                };
                let form = webhook(&account, &sids[conversation], i, &sid, index);
                let signature = flexcord_twilio::webhook::sign(
                    &token,
                    &format!("{public}/twilio/outbound"),
                    &form,
                );
                let target = &targets[i % targets.len()];
                let at = SystemTime::now();
                let t = Instant::now();
                let status = http
                    .post(format!("{target}/twilio/outbound"))
                    .header("x-twilio-signature", signature)
                    .form(&form)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                sent.push((
                    i,
                    Sent {
                        created,
                        at,
                        ack: t.elapsed(),
                        status,
                        conversation,
                    },
                ));
            }
        }));
    }
    // Meanwhile: what reached Discord.
    let discord = &rig.emulators.discord;
    let channel_group: HashMap<u64, usize> = rig
        .users
        .iter()
        .enumerate()
        .filter_map(|(g, u)| Some((discord.state(|s| s.dm_channel(*u))?, g)))
        .collect();
    let mut arrivals = Arrivals::default();
    let mut seen = offset;
    let mut load_done: Option<Instant> = None;
    let mut sent: Vec<Option<Sent>> = vec![None; n];
    let mut within_one_second = None;
    loop {
        let new: Vec<(usize, SystemTime, usize)> = discord.state(|s| {
            let fresh = s.messages_since(seen);
            seen += fresh.len();
            fresh
                .iter()
                .filter_map(|m| {
                    let i = index_of(&m.content)?;
                    let at = parse_time(&m.timestamp).unwrap_or_else(SystemTime::now);
                    Some((i, at, *channel_group.get(&m.channel_id).unwrap_or(&0)))
                })
                .collect()
        });
        for (i, at, group) in new {
            arrivals.record(i, at, group);
        }
        if load_done.is_none() && tasks.iter().all(tokio::task::JoinHandle::is_finished) {
            load_done = Some(Instant::now());
            for task in tasks.drain(..) {
                for (i, s) in task.await.map_err(|e| e.to_string())? {
                    sent[i] = Some(s);
                }
            }
        }
        if let Some(done) = load_done {
            if within_one_second.is_none() && done.elapsed() >= Duration::from_secs(1) {
                within_one_second = Some(arrivals.first.len());
            }
            if arrivals.first.len() >= n || done.elapsed() > DRAIN {
                break;
            }
        }
        tokio::time::sleep(POLL).await;
    }
    let drained = clock.elapsed();
    let cpu_after: f64 = rig
        .apps
        .iter()
        .filter_map(|a| rig::cpu_seconds(a.pid()))
        .sum();
    let sent: Vec<Sent> = sent
        .into_iter()
        .map(|s| s.ok_or("a message was not sent"))
        .collect::<Result<_, _>>()?;
    let statuses_after = discord.state(|s| s.rest_status_counts().clone());
    let calls = |m: &BTreeMap<u16, u64>| m.values().sum::<u64>();
    let calls_during = calls(&statuses_after) - calls(&statuses_before);
    let limited = statuses_after.get(&429).copied().unwrap_or(0)
        - statuses_before.get(&429).copied().unwrap_or(0);
    let queued = rig.queued().await?;
    let figures = summarize(
        scenario,
        &Summary {
            n,
            setup,
            started,
            sent: &sent,
            arrivals: &arrivals,
            drained,
            within_one_second: within_one_second.unwrap_or(arrivals.first.len()),
            upstream_calls: calls_during,
            rate_limited: limited,
            cpu: cpu_after - cpu_before,
            peak_rss: rig.apps.iter().filter_map(|a| rig::peak_rss(a.pid())).max(),
            queued,
            acks: true,
        },
        |i| sent[i].conversation,
    );
    rig.finish().await;
    Ok(figures)
}

/// The `onMessageAdded` webhook of agent message `i` (SID `sid`, position `index` in its
/// conversation), as Twilio sends it.
fn webhook(
    account: &str,
    conversation: &str,
    i: usize,
    sid: &str,
    index: u64,
) -> Vec<(String, String)> {
    [
        ("AccountSid", account.to_owned()),
        ("EventType", "onMessageAdded".to_owned()),
        ("ConversationSid", conversation.to_owned()),
        ("MessageSid", sid.to_owned()),
        ("Index", index.to_string()),
        ("Author", rig::AGENT.to_owned()),
        ("Body", body(i)),
        ("Source", "SDK".to_owned()),
        ("Attributes", "{}".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn inbound(
    scenario: &Scenario,
    binary: &Path,
    args: &Args,
    users: usize,
) -> Result<Figures, String> {
    let n = args.messages;
    let mut rig = Rig::start(scenario, binary, users, args.postgres.as_deref()).await?;
    let setup = rig.hand_off_all().await?;
    if !scenario.latency.is_zero() {
        rig.emulators
            .twilio
            .inject(flexcord_testkit::twilio::Fault::on("*", "/**").latency(scenario.latency));
    }
    let twilio = &rig.emulators.twilio;
    let calls_before = twilio.api_calls().len();
    let mut seen = twilio.messages_since(0).len();
    let cpu_before: f64 = rig
        .apps
        .iter()
        .filter_map(|a| rig::cpu_seconds(a.pid()))
        .sum();
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let group = i % users;
        let at = SystemTime::now();
        rig.emulators
            .discord
            .inject_dm(rig.users[group], &body(i))
            .map_err(|e| e.to_string())?;
        sent.push(Sent {
            created: at,
            at,
            ack: Duration::ZERO,
            status: 200,
            conversation: group,
        });
    }
    let load_done = Instant::now();
    let mut arrivals = Arrivals::default();
    let mut within_one_second = None;
    loop {
        let now = SystemTime::now();
        let fresh = twilio.messages_since(seen);
        seen += fresh.len();
        for m in fresh {
            if let Some(i) = m.body.as_deref().and_then(index_of)
                && i < n
            {
                arrivals.record(i, now, i % users);
            }
        }
        if within_one_second.is_none() && load_done.elapsed() >= Duration::from_secs(1) {
            within_one_second = Some(arrivals.first.len());
        }
        if arrivals.first.len() >= n || load_done.elapsed() > DRAIN {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let drained = clock.elapsed();
    let cpu_after: f64 = rig
        .apps
        .iter()
        .filter_map(|a| rig::cpu_seconds(a.pid()))
        .sum();
    let calls = twilio.api_calls().len() - calls_before;
    let queued = rig.queued().await?;
    let figures = summarize(
        scenario,
        &Summary {
            n,
            setup,
            started,
            sent: &sent,
            arrivals: &arrivals,
            drained,
            within_one_second: within_one_second.unwrap_or(arrivals.first.len()),
            upstream_calls: calls as u64,
            rate_limited: 0,
            cpu: cpu_after - cpu_before,
            peak_rss: rig.apps.iter().filter_map(|a| rig::peak_rss(a.pid())).max(),
            queued,
            acks: false,
        },
        |i| i % users,
    );
    rig.finish().await;
    Ok(figures)
}

/// What a load left to count.
struct Summary<'a> {
    n: usize,
    setup: Duration,
    started: SystemTime,
    sent: &'a [Sent],
    arrivals: &'a Arrivals,
    drained: Duration,
    within_one_second: usize,
    upstream_calls: u64,
    rate_limited: u64,
    cpu: f64,
    peak_rss: Option<u64>,
    queued: i64,
    /// The load was acknowledged (webhooks), so acknowledgement figures mean something.
    acks: bool,
}

#[allow(clippy::cast_precision_loss)] // counts and durations stay far below 2^52
fn summarize(scenario: &Scenario, s: &Summary<'_>, group_of: impl Fn(usize) -> usize) -> Figures {
    let accepted = s
        .sent
        .iter()
        .filter(|x| (200..300).contains(&x.status))
        .count();
    let refused = s.sent.len() - accepted;
    let delivered = s.arrivals.first.len();
    let doubled = s.arrivals.copies.values().filter(|c| **c > 1).count();
    let last_ack = s
        .sent
        .iter()
        .map(|x| x.at + x.ack)
        .max()
        .unwrap_or(s.started);
    let last_arrival = s
        .arrivals
        .first
        .values()
        .map(|(at, _)| *at)
        .max()
        .unwrap_or(s.started);
    let accept_window = since(last_ack, s.started).as_secs_f64().max(1e-6);
    let deliver_window = since(last_arrival, s.started).as_secs_f64().max(1e-6);
    let delivery: Vec<f64> = s
        .arrivals
        .first
        .iter()
        .filter_map(|(i, (at, _))| Some(micros(since(*at, s.sent.get(*i)?.at))))
        .collect();
    Figures {
        name: scenario.name.to_owned(),
        instances: if scenario.storage == Storage::Postgres {
            2
        } else {
            1
        },
        setup_seconds: s.setup.as_secs_f64(),
        accepted,
        refused,
        delivered,
        lost: accepted.saturating_sub(delivered),
        doubled,
        reordered: reordered(s.sent, s.arrivals, group_of),
        within_one_second: s.within_one_second,
        accept_rate: accepted as f64 / accept_window,
        deliver_rate: delivered as f64 / deliver_window,
        ack: s
            .acks
            .then(|| Percentiles::of(s.sent.iter().map(|x| micros(x.ack)).collect())),
        delivery: Percentiles::of(delivery),
        calls_per_message: s.upstream_calls as f64 / s.n.max(1) as f64,
        rate_limited: s.rate_limited,
        cpu_per_1000: Some(s.cpu * 1000.0 / s.n.max(1) as f64),
        peak_rss_mib: s.peak_rss.map(|b| b as f64 / 1_048_576.0),
        queued: s.queued,
        run_seconds: s.drained.as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(created_ms: u64, at_ms: u64, ack_ms: u64) -> Sent {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        Sent {
            created: t0 + Duration::from_millis(created_ms),
            at: t0 + Duration::from_millis(at_ms),
            ack: Duration::from_millis(ack_ms),
            status: 200,
            conversation: 0,
        }
    }

    fn arrived_in(order: &[usize]) -> Arrivals {
        let mut arrivals = Arrivals::default();
        for i in order {
            arrivals.record(*i, SystemTime::now(), 0);
        }
        arrivals
    }

    #[test]
    fn a_message_created_after_an_acknowledged_one_must_arrive_after_it() {
        // 0 is acknowledged at 15 ms; 1 is created at 20 ms: it must come second.
        let sent = [sent(0, 5, 10), sent(20, 21, 1)];
        assert_eq!(reordered(&sent, &arrived_in(&[1, 0]), |_| 0), 1);
        assert_eq!(reordered(&sent, &arrived_in(&[0, 1]), |_| 0), 0);
        // In another conversation the order is free.
        assert_eq!(reordered(&sent, &arrived_in(&[1, 0]), |i| i), 0);
    }

    #[test]
    fn a_message_created_before_but_sent_after_an_acknowledged_one_may_arrive_first() {
        // 1 took its place upstream at 2 ms (before 0, which the bridge acknowledged at 15 ms)
        // and its webhook left at 20 ms: the bridge keeps the upstream order, 1 then 0.
        let sent = [sent(3, 5, 10), sent(2, 20, 1)];
        assert_eq!(reordered(&sent, &arrived_in(&[1, 0]), |_| 0), 0);
    }
}
