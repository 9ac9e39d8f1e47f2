//! SIGKILL at several points of a live chat, then a restart (`SQLite`) or a surviving second
//! instance (Postgres): the next DM reaches the agent well before the 60 s lease would have let
//! a dead claim go (under 15 s), and no message is lost or doubled on either side.
//!
//! The kill points reachable from outside the process:
//! - a post to Twilio made (Twilio has the message) but its answer held, so the success is not
//!   recorded: the retry must find the earlier message by its `flexcord.action` attribute;
//! - a DM made by Discord but its answer held: the retry carries the same `nonce` with
//!   `enforce_nonce`, so Discord answers with the first message;
//! - an inbound DM delivered to Twilio and recorded, the process killed at once: nothing of it
//!   is replayed after the restart (no gateway replay, no catch-up sweep posts it again);
//! - an inbound DM received but not yet in the store (another connection holds `SQLite`'s write
//!   lock): the restarted process's new gateway session reads it back from the DM history.

use std::time::{Duration, Instant};

use flexcord_testkit::discord::DiscordEmulator;
use flexcord_testkit::twilio::{Fault, TwilioEmulator};

use crate::bridge::{WAIT, app_env, emulators, free_port};
use crate::process::{AppProcess, dm_count, hand_off_to, wait_dm};
use crate::scale::{FreshDatabase, database_url};
use crate::support::{OutboxRow, outbox_rows};

/// What is in flight when the process is killed.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Alice's DM posted to Twilio, Twilio's answer held.
    TwilioPostHeld,
    /// The agent's reply sent to Alice by Discord, Discord's answer held.
    DiscordDmHeld,
    /// Alice's DM posted to Twilio and recorded as delivered.
    AfterInboundDelivered,
}

const USER_BEFORE: &str = "crash point: before the kill";
const AGENT_BEFORE: &str = "crash point: agent reply before the kill";
const USER_AFTER: &str = "crash point: after the restart";
const AGENT_AFTER: &str = "crash point: agent reply after the restart";

/// The outbox settings of the crash tests: quick retries, the default 60 s lease.
fn crash_env(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    for (k, v) in [
        ("FLEXCORD_OUTBOX__BASE_BACKOFF", "100ms"),
        ("FLEXCORD_OUTBOX__MAX_BACKOFF", "500ms"),
        ("FLEXCORD_OUTBOX__MAX_ATTEMPTS", "1000"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

/// The outbox row of the action whose stored JSON contains `text`.
fn row_with<'a>(rows: &'a [OutboxRow], kind: &str, text: &str) -> Option<&'a OutboxRow> {
    rows.iter()
        .find(|r| r.kind == kind && r.action.contains(text))
}

fn delivered(row: &OutboxRow) -> bool {
    row.upstream_id.is_some() && !matches!(row.state.as_str(), "pending" | "running")
}

/// How many messages of `author` in the conversation have exactly `body`.
fn twilio_copies(twilio: &TwilioEmulator, sid: &str, author: &str, body: &str) -> usize {
    twilio
        .messages(sid)
        .iter()
        .filter(|m| m.author == author && m.body.as_deref() == Some(body))
        .count()
}

/// Brings the chat to `point` (the hand-off done, `sid` the conversation) and returns the
/// outbox row in flight, once it is there; the caller kills the process holding it.
async fn reach(
    point: KillPoint,
    discord: &DiscordEmulator,
    twilio: &TwilioEmulator,
    alice: u64,
    sid: &str,
    db: &str,
) -> OutboxRow {
    let author = format!("discord:{alice}");
    let deadline = tokio::time::Instant::now() + WAIT;
    match point {
        KillPoint::TwilioPostHeld => {
            twilio.inject(Fault::on("POST", "/v1/Conversations/*/Messages").hold());
            discord.inject_dm(alice, USER_BEFORE).unwrap();
        }
        KillPoint::DiscordDmHeld => {
            discord.hold_route("POST", "channels/*/messages");
            twilio.agent("agent:alice").send(sid, AGENT_BEFORE).unwrap();
        }
        KillPoint::AfterInboundDelivered => {
            discord.inject_dm(alice, USER_BEFORE).unwrap();
        }
    }
    loop {
        let rows = outbox_rows(db).await;
        let reached = match point {
            KillPoint::TwilioPostHeld => row_with(&rows, "post_to_twilio", USER_BEFORE)
                .filter(|r| {
                    r.state == "running"
                        && twilio.held() == 1
                        && twilio_copies(twilio, sid, &author, USER_BEFORE) == 1
                })
                .cloned(),
            KillPoint::DiscordDmHeld => row_with(&rows, "send_dm", AGENT_BEFORE)
                .filter(|r| {
                    r.state == "running"
                        && discord.held() == 1
                        && dm_count(discord, alice, AGENT_BEFORE) == 1
                })
                .cloned(),
            KillPoint::AfterInboundDelivered => row_with(&rows, "post_to_twilio", USER_BEFORE)
                .filter(|r| delivered(r))
                .cloned(),
        };
        if let Some(row) = reached {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{point:?} never reached: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After the kill: lets the emulators answer normally again.
fn release(discord: &DiscordEmulator, twilio: &TwilioEmulator) {
    twilio.clear_faults();
    twilio.release_held();
    discord.release_held();
}

/// What the survivor (or the restarted process) must do, timed from `from`: the row in flight
/// at the kill delivered, the next DM at the agent, the agent's next reply in Discord; then
/// every line exactly once on its side. Returns (in-flight row delivered, next DM at the agent)
/// after `from`.
#[allow(clippy::too_many_arguments)] // the two emulators, the chat, the store and the clock
async fn after_kill(
    point: KillPoint,
    discord: &DiscordEmulator,
    twilio: &TwilioEmulator,
    alice: u64,
    sid: &str,
    db: &str,
    held: &OutboxRow,
    from: Instant,
    log: impl Fn() -> String,
) -> (Duration, Duration) {
    let author = format!("discord:{alice}");
    discord.inject_dm(alice, USER_AFTER).unwrap();
    let mut in_flight_done = None;
    let mut next_dm = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while in_flight_done.is_none() || next_dm.is_none() {
        let rows = outbox_rows(db).await;
        if in_flight_done.is_none()
            && rows
                .iter()
                .any(|r| r.action_id == held.action_id && delivered(r))
        {
            in_flight_done = Some(from.elapsed());
        }
        if next_dm.is_none() && twilio_copies(twilio, sid, &author, USER_AFTER) > 0 {
            next_dm = Some(from.elapsed());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{point:?}: in flight delivered after {in_flight_done:?}, next DM after {next_dm:?}\n{rows:#?}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (in_flight_done, next_dm) = (in_flight_done.unwrap(), next_dm.unwrap());
    twilio.agent("agent:alice").send(sid, AGENT_AFTER).unwrap();
    wait_dm(discord, alice, AGENT_AFTER).await;

    // Let any late duplicate arrive before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let user_lines: &[&str] = match point {
        KillPoint::DiscordDmHeld => &[USER_AFTER],
        _ => &[USER_BEFORE, USER_AFTER],
    };
    let posted: Vec<String> = twilio
        .messages(sid)
        .into_iter()
        .filter(|m| m.author == author)
        .filter_map(|m| m.body)
        .filter(|b| b.starts_with("crash point"))
        .collect();
    assert_eq!(posted, user_lines, "{point:?}: each once, in order");
    let agent_lines: &[&str] = match point {
        KillPoint::DiscordDmHeld => &[AGENT_BEFORE, AGENT_AFTER],
        _ => &[AGENT_AFTER],
    };
    let dms: Vec<String> = discord
        .dms_to(alice)
        .iter()
        .map(|m| m.content.clone())
        .filter(|c| c.starts_with("crash point"))
        .collect();
    assert_eq!(dms, agent_lines, "{point:?}: each DM once, in order");
    let rows = outbox_rows(db).await;
    assert!(
        rows.iter()
            .all(|r| !matches!(r.state.as_str(), "failed" | "dead" | "pending" | "running")),
        "{point:?}: {rows:#?}"
    );
    let row = rows
        .iter()
        .find(|r| r.action_id == held.action_id)
        .expect("the row in flight at the kill");
    // A held answer: the dead worker's attempt and the takeover's; a delivered row: untouched.
    let attempts = if matches!(point, KillPoint::AfterInboundDelivered) {
        1
    } else {
        2
    };
    assert_eq!(row.attempts, attempts, "{point:?}: {row:?}");
    for (label, took) in [("in flight", in_flight_done), ("next DM", next_dm)] {
        assert!(
            took < Duration::from_secs(15),
            "{point:?}: {label} after {took:?}\n{}",
            log()
        );
    }
    (in_flight_done, next_dm)
}

/// One kill point on `SQLite`: killed, restarted on the same file.
async fn killed_at_and_restarted(point: KillPoint) {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let emulators = emulators(&public).await;
    let (discord, twilio) = (&emulators.discord, &emulators.twilio);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
    let env = crash_env(app_env(&emulators, &format!("127.0.0.1:{port}"), &db));
    let mut app = AppProcess::spawn(&env, dir.path(), "flexcord");
    app.ready().await;
    discord
        .wait_for(|s| s.shard_connected(0), WAIT)
        .await
        .expect("shard 0 connects");
    let alice = discord.user_id("alice").unwrap();
    let sid = hand_off_to(discord, twilio, alice, "agent:alice").await;

    let held = reach(point, discord, twilio, alice, &sid, &db).await;
    app.kill();
    release(discord, twilio);

    let restarted = Instant::now();
    let mut app = AppProcess::spawn(&env, dir.path(), "flexcord");
    app.ready().await;
    let (in_flight, next_dm) = after_kill(
        point,
        discord,
        twilio,
        alice,
        &sid,
        &db,
        &held,
        restarted,
        || app.log_text(),
    )
    .await;
    let in_flight = match point {
        KillPoint::AfterInboundDelivered => "already done at the kill".to_owned(),
        _ => format!("done {:.1} s", in_flight.as_secs_f64()),
    };
    eprintln!(
        "crash point {point:?} (SQLite, restart): in-flight delivery {in_flight}, next DM at the agent {:.1} s after the restart",
        next_dm.as_secs_f64()
    );
    assert!(app.terminate().await, "clean exit on SIGTERM");
    discord.shutdown();
}

#[tokio::test]
async fn killed_with_a_twilio_post_unanswered_the_retry_finds_it() {
    killed_at_and_restarted(KillPoint::TwilioPostHeld).await;
}

#[tokio::test]
async fn killed_with_a_discord_dm_unanswered_the_nonce_keeps_it_single() {
    killed_at_and_restarted(KillPoint::DiscordDmHeld).await;
}

#[tokio::test]
async fn killed_right_after_an_inbound_dm_was_delivered_nothing_is_replayed() {
    killed_at_and_restarted(KillPoint::AfterInboundDelivered).await;
}

/// A load balancer with health checks in one: each request goes to the first backend that
/// accepts the connection (B while it lives, then A).
async fn start_failover(port: u16, backends: Vec<String>) {
    async fn forward(
        axum::extract::State(backends): axum::extract::State<std::sync::Arc<Vec<String>>>,
        req: axum::extract::Request,
    ) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        let client = reqwest::Client::new();
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        for backend in backends.iter() {
            let mut out = client.request(parts.method.clone(), format!("{backend}{path}"));
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    out = out.header(name, value);
                }
            }
            if let Ok(res) = out.body(body.clone()).send().await {
                let status = res.status();
                return (status, res.bytes().await.unwrap_or_default()).into_response();
            }
        }
        axum::http::StatusCode::BAD_GATEWAY.into_response()
    }
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(std::sync::Arc::new(backends));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the proxy listens");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Two instances on one Postgres database: A runs shard 0 (the DMs), B shard 1 and takes
/// Twilio's webhooks (through a proxy that turns to A once B is gone). The agent's reply reaches B, whose worker claims the DM; Discord holds
/// its answer; B is killed. A takes the claim over from the silent worker, the DM stays
/// single (nonce), and Alice's next DM reaches the agent through A.
#[tokio::test]
async fn postgres_second_instance_takes_over_from_a_killed_one() {
    let Some(admin) = database_url() else {
        return;
    };
    let db = FreshDatabase::create(admin, "crash").await;
    let ports = [free_port(), free_port()];
    // Twilio's webhooks go to B while it lives, then to A.
    let proxy = free_port();
    start_failover(
        proxy,
        vec![
            format!("http://127.0.0.1:{}", ports[1]),
            format!("http://127.0.0.1:{}", ports[0]),
        ],
    )
    .await;
    let emulators = emulators(&format!("http://127.0.0.1:{proxy}")).await;
    let (discord, twilio) = (&emulators.discord, &emulators.twilio);
    let dir = tempfile::tempdir().unwrap();
    let envs: Vec<Vec<(String, String)>> = ports
        .iter()
        .zip(["0..1 of 2", "1..2 of 2"])
        .map(|(port, shards)| {
            let mut env = crash_env(app_env(&emulators, &format!("127.0.0.1:{port}"), &db.url));
            env.push(("FLEXCORD_DISCORD__SHARDS".to_owned(), shards.to_owned()));
            env
        })
        .collect();
    let mut a = AppProcess::spawn(&envs[0], dir.path(), "instance-a");
    let mut b = AppProcess::spawn(&envs[1], dir.path(), "instance-b");
    a.ready().await;
    b.ready().await;
    discord
        .wait_for(|s| s.shard_connected(0) && s.shard_connected(1), WAIT)
        .await
        .expect("both shards connect");
    let alice = discord.user_id("alice").unwrap();
    let sid = hand_off_to(discord, twilio, alice, "agent:alice").await;

    // Either worker may claim a delivery; A is stopped (SIGSTOP, far shorter than the 10 s
    // after which a silent worker's claims are taken) while B claims the DM, so the instance
    // killed is the one holding it and the survivor still has shard 0 for the next DM.
    let point = KillPoint::DiscordDmHeld;
    a.signal("STOP");
    let held = reach(point, discord, twilio, alice, &sid, &db.url).await;
    a.signal("CONT");
    let owner = held.lease_owner.clone().unwrap_or_default();
    assert!(
        owner.starts_with(&format!("worker-{}-", b.pid())),
        "B (the webhooks' instance) holds the DM: {held:?}; A is {}, B is {}",
        a.pid(),
        b.pid()
    );
    b.kill();
    discord.release_held();

    let killed = Instant::now();
    let (in_flight, next_dm) = after_kill(
        point,
        discord,
        twilio,
        alice,
        &sid,
        &db.url,
        &held,
        killed,
        || a.log_text(),
    )
    .await;
    // Nothing of the survivor's work went through B.
    let rows = outbox_rows(&db.url).await;
    let taken_over = rows
        .iter()
        .find(|r| r.action_id == held.action_id)
        .and_then(|r| r.lease_owner.clone())
        .unwrap_or_default();
    assert!(
        taken_over.starts_with(&format!("worker-{}-", a.pid())),
        "A delivered the DM B held: {taken_over}"
    );
    eprintln!(
        "crash point {point:?} (Postgres, two instances, B killed): in-flight delivery done {:.1} s, next DM at the agent {:.1} s after the kill",
        in_flight.as_secs_f64(),
        next_dm.as_secs_f64()
    );
    assert!(a.terminate().await, "clean exit on SIGTERM");
    discord.shutdown();
    db.drop().await;
}

/// Killed before an inbound DM reached the store: another connection holds `SQLite`'s write
/// lock, so the DM the gateway delivered is never recorded. The restarted process starts a new
/// gateway session, whose catch-up sweep reads the DM back from the history: it reaches the
/// agent once, well within 15 s, and the chat goes on.
#[tokio::test]
async fn killed_before_an_inbound_dm_was_recorded_the_restart_reads_it_back() {
    let port = free_port();
    let emulators = emulators(&format!("http://127.0.0.1:{port}")).await;
    let (discord, twilio) = (&emulators.discord, &emulators.twilio);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
    let env = crash_env(app_env(&emulators, &format!("127.0.0.1:{port}"), &db));
    let mut app = AppProcess::spawn(&env, dir.path(), "flexcord");
    app.ready().await;
    discord
        .wait_for(|s| s.shard_connected(0), WAIT)
        .await
        .expect("shard 0 connects");
    let alice = discord.user_id("alice").unwrap();
    let author = format!("discord:{alice}");
    let sid = hand_off_to(discord, twilio, alice, "agent:alice").await;

    let options: sqlx::sqlite::SqliteConnectOptions = db.parse().expect("sqlite URL");
    let mut lock = sqlx::ConnectOptions::connect(&options)
        .await
        .expect("the app's database opens");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .expect("the write lock");
    let seq =
        |d: &DiscordEmulator| d.state(|s| s.sessions().iter().map(|x| x.seq).max().unwrap_or(0));
    let before = seq(discord);
    discord.inject_dm(alice, USER_BEFORE).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seq(discord) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the DM was never dispatched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The process has the DM and cannot record it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.kill();
    sqlx::query("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("unlock");
    drop(lock);
    assert_eq!(twilio_copies(twilio, &sid, &author, USER_BEFORE), 0);

    let restarted = Instant::now();
    let mut app = AppProcess::spawn(&env, dir.path(), "flexcord");
    app.ready().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while twilio_copies(twilio, &sid, &author, USER_BEFORE) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unrecorded DM never reached the agent; log:\n{}",
            app.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = restarted.elapsed();
    assert!(
        recovered < Duration::from_secs(15),
        "read back {recovered:?} after the restart"
    );
    discord.inject_dm(alice, USER_AFTER).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while twilio_copies(twilio, &sid, &author, USER_AFTER) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the next DM never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each once, in order.
    let bodies: Vec<String> = twilio
        .messages(&sid)
        .into_iter()
        .filter(|m| m.author == author)
        .filter_map(|m| m.body)
        .filter(|b| b == USER_BEFORE || b == USER_AFTER)
        .collect();
    assert_eq!(bodies, [USER_BEFORE, USER_AFTER]);
    eprintln!(
        "crash point: before the store commit (SQLite, restart): the DM read back {:.1} s after the restart",
        recovered.as_secs_f64()
    );
    assert!(app.terminate().await, "clean exit on SIGTERM");
    discord.shutdown();
}
