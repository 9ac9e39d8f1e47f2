//! The store suite: every test runs against SQLite and Postgres (see `main.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flexcord_routing::{
    Action, ActionId, ActionKind, CaseNumber, ChannelId, Conversation, ConversationId, Event,
    Phase, Timestamp, TwilioMessageSid, UserId,
};
use flexcord_store::{Deliver, Failure, Outcome, Receipt, Store, TraceId, Worker, WorkerConfig};

use crate::common::{Clock, FakeUpstream, Mode, T0, dm, dms, drain, engine};

pub(crate) fn worker<D: Deliver>(store: &Store, up: D, clock: &Clock, owner: &str) -> Worker<D> {
    let c = clock.clone();
    Worker::new(store.clone(), up)
        .config(WorkerConfig {
            owner: owner.to_owned(),
            lease: Duration::from_secs(30),
            max_attempts: 3,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            poll: Duration::from_millis(20),
            ..WorkerConfig::default()
        })
        .clock(move || c.now())
}

/// Runs `w` on a task with `sink` until the returned sender fires (or is dropped).
fn running<D, S>(
    w: &Arc<Worker<D>>,
    sink: S,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), flexcord_store::Error>>,
)
where
    D: Deliver + 'static,
    S: flexcord_store::EventSink + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let w = w.clone();
    let task = tokio::spawn(async move {
        w.run(&sink, async {
            let _ = stop_rx.await;
        })
        .await
    });
    (stop_tx, task)
}

pub(crate) async fn count(store: &Store, state: &str) -> i64 {
    store
        .outbox_counts()
        .await
        .expect("counts")
        .into_iter()
        .find(|(s, _)| *s == state)
        .map_or(0, |(_, n)| n)
}

pub(crate) async fn commit_is_state_plus_outbox(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let applied = engine.handle(dm(1, 101, "hello")).await.expect("applies");
    assert!(!applied.duplicate);
    let conv = store
        .open_conversation(UserId(1))
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(conv.phase, Phase::Bot);
    assert_eq!(Some(conv.clone()), applied.step.state);
    assert_eq!(count(&store, "pending").await, 1);
    let by_channel = store.by_dm_channel(ChannelId(1001)).await.expect("query");
    assert_eq!(by_channel.map(|c| c.id), Some(conv.id.clone()));
    assert!(
        store
            .stored_state_bytes(&conv.id)
            .await
            .expect("size")
            .unwrap_or(0)
            > 100
    );
}

pub(crate) async fn lookups_both_ways(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = FakeUpstream::new(true); // the bot hands off at once
    let w = worker(&store, up.clone(), &clock, "w1");
    engine
        .handle(dm(1, 101, "my order"))
        .await
        .expect("applies");
    drain(&w, &engine).await;
    let conv = store
        .open_conversation(UserId(1))
        .await
        .expect("q")
        .expect("open");
    assert_eq!(conv.phase, Phase::WaitingAgent);
    let sid = conv.twilio.clone().expect("twilio sid recorded");
    let case = conv.case.clone().expect("case recorded");
    assert_eq!(
        store.by_twilio_sid(&sid).await.expect("q").map(|c| c.id),
        Some(conv.id.clone())
    );
    assert_eq!(
        store.by_case(&case).await.expect("q").map(|c| c.id),
        Some(conv.id.clone())
    );
    assert_eq!(
        store
            .by_dm_channel(ChannelId(1001))
            .await
            .expect("q")
            .map(|c| c.user),
        Some(UserId(1))
    );
    assert!(
        store
            .by_case(&CaseNumber::from("CASE-999999"))
            .await
            .expect("q")
            .is_none()
    );
    // Everything the router asked for ran, results were applied.
    assert_eq!(count(&store, "pending").await, 0);
    assert_eq!(count(&store, "delivered").await, 0);
    assert!(count(&store, "done").await >= 8, "{:?}", up.kinds());
}

pub(crate) async fn same_twilio_event_twice_is_applied_once(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let w = worker(&store, FakeUpstream::new(true), &clock, "w1");
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    drain(&w, &engine).await;
    let sid = store
        .open_conversation(UserId(1))
        .await
        .expect("q")
        .and_then(|c| c.twilio)
        .expect("sid");
    let event = Event::TwilioMessage {
        sid,
        message: TwilioMessageSid::from("IM0001"),
        author: "agent@example.com".into(),
        body: "hello from the agent".into(),
        attachments: Vec::new(),
        index: None,
    };
    let before = count(&store, "pending").await;
    let first = engine.handle(event.clone()).await.expect("applies");
    assert!(!first.duplicate);
    assert_eq!(
        count(&store, "pending").await,
        before + 2,
        "DM + case annotation"
    );
    let second = engine.handle(event).await.expect("applies");
    assert!(second.duplicate);
    assert!(second.step.actions.is_empty());
    assert_eq!(count(&store, "pending").await, before + 2);
    assert!(store.is_processed("tw:msg:IM0001").await.expect("q"));
}

pub(crate) async fn one_open_conversation_per_user(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    // Ten DMs at once from one user: one conversation, whatever the interleaving.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            engine.handle(dm(7, 700 + i, &format!("message {i}"))).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("applies");
    }
    let conv = store
        .open_conversation(UserId(7))
        .await
        .expect("q")
        .expect("open");
    assert_eq!(
        conv.transcript.len(),
        10,
        "every DM landed in the one conversation"
    );
    // Writing a second open conversation for the user directly is refused by the store.
    let other = Conversation::new(ConversationId::from("7-999"), UserId(7), Timestamp(T0));
    let err = store
        .apply(&dm(7, 999, "x"), Timestamp(T0), |_| {
            flexcord_routing::Step {
                state: Some(other),
                actions: Vec::new(),
                wake_at: None,
                notes: Vec::new(),
            }
        })
        .await
        .expect_err("second open conversation");
    assert!(err.is_conflict(), "{err}");
    // The refused transaction left nothing behind, not even its dedupe key.
    assert!(!store.is_processed("dm:999").await.expect("q"));
}

pub(crate) async fn worker_runs_scope_in_order_and_feeds_results(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = FakeUpstream::new(true);
    let w = worker(&store, up.clone(), &clock, "w1");
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    let outcomes = drain(&w, &engine).await;
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Delivered(_))));
    let calls = up.calls.lock().expect("calls").clone();
    // Within the conversation the sequence order holds.
    let seqs: Vec<u64> = calls.iter().map(|a| a.id.seq()).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(seqs, sorted);
    // The upstream ids were recorded.
    let send = calls
        .iter()
        .find(|a| a.kind.name() == "send_dm")
        .expect("a DM");
    let (state, upstream) = store.outbox_state(&send.id).await.expect("q").expect("row");
    assert_eq!(state, "done");
    assert!(upstream.is_some_and(|u| u.parse::<u64>().is_ok()));
    // The case number reached the user after the case was opened.
    let texts: Vec<String> = calls
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::SendDm { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(texts.iter().any(|t| t.contains("CASE-")), "{texts:?}");
}

pub(crate) async fn transient_failures_retry_then_dead_letter(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = FakeUpstream::new(false);
    up.set(Mode::Transient);
    let w = worker(&store, up.clone(), &clock, "w1");
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    assert!(matches!(
        w.run_once(&engine).await.expect("step"),
        Outcome::Retrying(_)
    ));
    // Not due again before the backoff.
    assert_eq!(w.run_once(&engine).await.expect("step"), Outcome::Idle);
    clock.advance(1_200);
    assert!(matches!(
        w.run_once(&engine).await.expect("step"),
        Outcome::Retrying(_)
    ));
    clock.advance(1_000);
    assert_eq!(
        w.run_once(&engine).await.expect("step"),
        Outcome::Idle,
        "second backoff is ~2 s"
    );
    clock.advance(1_500);
    let last = w.run_once(&engine).await.expect("step");
    let Outcome::Dead(id) = last else {
        panic!("dead-lettered after 3 attempts: {last:?}")
    };
    let dead = store.dead_letters(10).await.expect("q");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].action_id, id);
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].reason.contains("503"), "{}", dead[0].reason);
    assert_eq!(dead[0].kind, "ask_bot");
    assert_eq!(
        count(&store, "dead").await,
        1,
        "the DeliveryFailed result was applied"
    );
    // The router turned it into a user-visible outcome (offer an agent), not a loop.
    up.set(Mode::Succeed);
    drain(&w, &engine).await;
    let kinds = up.kinds();
    assert_eq!(kinds.iter().filter(|k| **k == "ask_bot").count(), 3);
    assert_eq!(kinds.last(), Some(&"send_dm"));
}

pub(crate) async fn permanent_failure_dead_letters_at_once(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = FakeUpstream::new(false);
    up.set(Mode::Permanent);
    let w = worker(&store, up.clone(), &clock, "w1");
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    assert!(matches!(
        w.run_once(&engine).await.expect("step"),
        Outcome::Dead(_)
    ));
    // The failed bot becomes a DM to the user; that DM fails permanently too: dead, and over.
    let outcomes = drain(&w, &engine).await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(store.dead_letters(10).await.expect("q").len(), 2);
    assert_eq!(count(&store, "pending").await, 0);
    assert_eq!(up.calls.lock().expect("calls").len(), 2);
}

/// Tracks actions in flight; a second concurrent or repeated run is a violation.
#[derive(Clone, Default)]
struct Exclusive {
    in_flight: Arc<Mutex<HashSet<ActionId>>>,
    runs: Arc<Mutex<HashMap<ActionId, u32>>>,
    violations: Arc<Mutex<Vec<String>>>,
}

impl Deliver for Exclusive {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        if !self
            .in_flight
            .lock()
            .expect("lock")
            .insert(action.id.clone())
        {
            self.violations
                .lock()
                .expect("lock")
                .push(format!("{} concurrently", action.id));
        }
        *self
            .runs
            .lock()
            .expect("lock")
            .entry(action.id.clone())
            .or_default() += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.in_flight.lock().expect("lock").remove(&action.id);
        Ok(Receipt::done())
    }
}

pub(crate) async fn concurrent_workers_never_share_an_action(store: Store) {
    let clock = Clock::new();
    let actions: Vec<Action> = (0..40)
        .flat_map(|scope| {
            (0..5).map(move |seq| Action {
                id: ActionId::new(&format!("i{scope}"), seq),
                kind: ActionKind::CloseTwilio {
                    sid: format!("CH{scope}").into(),
                    interaction: None,
                },
            })
        })
        .collect();
    store.enqueue(&actions, clock.now()).await.expect("enqueue");
    let up = Exclusive::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for n in 0..4 {
        let w = worker(&store, up.clone(), &clock, &format!("w{n}"));
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            let mut idle = 0;
            while idle < 3 {
                if w.run_once(&tx).await.expect("worker step") == Outcome::Idle {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                } else {
                    idle = 0;
                    done += 1;
                }
            }
            done
        }));
    }
    drop(tx);
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    let mut fed = 0;
    while rx.try_recv().is_ok() {
        fed += 1;
    }
    assert_eq!(total, 200);
    // Closing a Twilio conversation changes nothing in the conversation when it succeeds: the
    // rows are recorded done without feeding a result.
    assert_eq!(fed, 0);
    assert_eq!(count(&store, "done").await, 200);
    assert!(
        up.violations.lock().expect("lock").is_empty(),
        "{:?}",
        up.violations.lock()
    );
    let runs = up.runs.lock().expect("lock").clone();
    assert_eq!(runs.len(), 200);
    assert!(runs.values().all(|n| *n == 1));
}

pub(crate) async fn expired_lease_is_taken_over(store: Store) {
    let clock = Clock::new();
    let action = Action {
        id: ActionId::new("i1", 0),
        kind: ActionKind::CloseTwilio {
            sid: "CH1".into(),
            interaction: None,
        },
    };
    store
        .enqueue(std::slice::from_ref(&action), clock.now())
        .await
        .expect("enqueue");
    let first = store
        .claim("dead-worker", clock.now(), 1_000)
        .await
        .expect("q")
        .expect("claimed");
    assert_eq!(first.attempt, 1);
    assert!(
        store
            .claim("w2", clock.now(), 1_000)
            .await
            .expect("q")
            .is_none(),
        "leased"
    );
    clock.advance(1_001);
    let second = store
        .claim("w2", clock.now(), 1_000)
        .await
        .expect("q")
        .expect("taken over");
    assert_eq!(second.attempt, 2);
    let result = action.completed(None);
    // The first worker comes back: its result is discarded.
    assert!(
        !store
            .record_delivered(&action.id, "dead-worker", None, &result, clock.now())
            .await
            .expect("q")
    );
    assert!(
        store
            .record_delivered(&action.id, "w2", None, &result, clock.now())
            .await
            .expect("q")
    );
}

pub(crate) async fn recorded_results_are_fed_again_after_a_crash(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    // A worker records the bot's answer, then dies before feeding it.
    let claimed = store
        .claim("w1", clock.now(), 30_000)
        .await
        .expect("q")
        .expect("claimed");
    let up = FakeUpstream::new(false);
    let receipt = up.deliver(&claimed.action).await.expect("delivers");
    let event = receipt.event.expect("bot reply");
    assert!(
        store
            .record_delivered(&claimed.action.id, "w1", None, &event, clock.now())
            .await
            .expect("q")
    );
    clock.advance(10);
    let w = worker(&store, up.clone(), &clock, "w2");
    assert_eq!(w.refeed(&engine, Duration::ZERO).await.expect("refeed"), 1);
    assert_eq!(
        w.refeed(&engine, Duration::ZERO).await.expect("refeed"),
        0,
        "applied once"
    );
    let conv = store
        .open_conversation(UserId(1))
        .await
        .expect("q")
        .expect("open");
    assert_eq!(
        conv.transcript.len(),
        2,
        "the bot answer is in the transcript once"
    );
}

pub(crate) async fn timers_are_found_when_due(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let w = worker(&store, FakeUpstream::new(true), &clock, "w1");
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    drain(&w, &engine).await;
    let next = store.next_wake().await.expect("q").expect("a timer");
    assert_eq!(next, Timestamp(T0 + 5 * 60_000), "the agent wait notice");
    assert!(
        store
            .due_wakeups(clock.now(), 10)
            .await
            .expect("q")
            .is_empty()
    );
    clock.advance(5 * 60_000);
    assert_eq!(engine.tick_due().await.expect("ticks"), 1);
    assert_eq!(
        count(&store, "pending").await,
        1,
        "still looking for an agent"
    );
}

pub(crate) async fn migrations_share_a_database(store: Store) {
    // Another crate's migration (e.g. the cases crate's) in the same history table: running the
    // store's migrations again must ignore it.
    let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
               VALUES (20990101000000, 'another crate', TRUE, $1, 0)";
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query(sql)
            .bind(vec![0u8; 48])
            .execute(pool)
            .await
            .expect("insert");
        let again = Store::from_sqlite_pool(pool.clone())
            .await
            .expect("ignores other versions");
        again.next_wake().await.expect("works");
    } else if let Some(pool) = store.pg_pool() {
        sqlx::query(sql)
            .bind(vec![0u8; 48])
            .execute(pool)
            .await
            .expect("insert");
        let again = Store::from_pg_pool(pool.clone())
            .await
            .expect("ignores other versions");
        again.next_wake().await.expect("works");
    } else {
        panic!("no backend");
    }
}

pub(crate) async fn worker_run_drains_until_shutdown(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = FakeUpstream::new(true);
    let w = Arc::new(worker(&store, up.clone(), &clock, "w1"));
    let (stop_tx, task) = running(&w, engine.clone());
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    // The commit wakes the worker; it runs the whole hand-off without being polled by the test.
    let mut waited = 0;
    loop {
        let conv = store
            .open_conversation(UserId(1))
            .await
            .expect("q")
            .expect("open");
        if conv.case.is_some() && conv.twilio.is_some() && count(&store, "pending").await == 0 {
            break;
        }
        waited += 1;
        assert!(waited < 500, "the worker did not drain the outbox");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_tx.send(()).expect("worker alive");
    task.await.expect("task").expect("run ends cleanly");
    // Old dedupe keys can be pruned.
    assert!(store.is_processed("dm:101").await.expect("q"));
    let removed = store
        .prune_processed(Timestamp(T0 + 1))
        .await
        .expect("prune");
    assert!(removed >= 1);
    assert!(!store.is_processed("dm:101").await.expect("q"));
    let done = count(&store, "done").await;
    assert!(done > 0);
    assert_eq!(
        store.prune_outbox(Timestamp(T0 + 1)).await.expect("prune"),
        u64::try_from(done).expect("count")
    );
    assert_eq!(count(&store, "done").await, 0);
}

pub(crate) async fn undecodable_action_is_dead_lettered(store: Store) {
    let sql = "INSERT INTO outbox (action_id, scope, seq, kind, action, state, attempts, \
               next_attempt_at, created_at, updated_at) \
               VALUES ('i9/0', 'i9', 0, 'send_dm', '{not json', 'pending', 0, 0, 0, 0)";
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query(sql).execute(pool).await.expect("insert");
    } else if let Some(pool) = store.pg_pool() {
        sqlx::query(sql).execute(pool).await.expect("insert");
    }
    // The claim dead-letters it and goes on (nothing else is due).
    assert!(
        store
            .claim("w1", Timestamp(T0), 1_000)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        store
            .claim("w1", Timestamp(T0 + 5_000), 1_000)
            .await
            .expect("q")
            .is_none()
    );
    let dead = store.dead_letters(5).await.expect("q");
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.contains("does not decode"));
    assert!(dead[0].action.is_none());
}

pub(crate) async fn webhook_before_the_creation_result_is_not_lost(store: Store) {
    let clock = Clock::new();
    let c = clock.clone();
    let studio = flexcord_routing::RouterConfig {
        bot_route: flexcord_routing::BotRoute::Studio,
        ..flexcord_routing::RouterConfig::default()
    };
    let engine = flexcord_store::Engine::new(store.clone(), flexcord_routing::Router::new(studio))
        .clock(move || c.now());
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    // The worker created the conversation upstream and recorded its SID...
    let claimed = store
        .claim("w1", clock.now(), 30_000)
        .await
        .expect("q")
        .expect("claimed");
    assert_eq!(claimed.action.kind.name(), "create_twilio_conversation");
    let sid = "CH00000000000000000000000000000042";
    let result = claimed.action.completed(Some(sid.to_owned()));
    assert!(
        store
            .record_delivered(&claimed.action.id, "w1", Some(sid), &result, clock.now())
            .await
            .expect("q")
    );
    // ...and Studio's greeting arrives before the result is applied.
    let applied = engine
        .handle(Event::TwilioMessage {
            sid: sid.into(),
            message: TwilioMessageSid::from("IMgreeting"),
            author: "system".into(),
            body: "Welcome! How can we help?".into(),
            attachments: Vec::new(),
            index: None,
        })
        .await
        .expect("applies");
    assert!(applied.step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::SendDm { text, channel, .. } if text.starts_with("Welcome") && *channel == ChannelId(1001))));
    // The result still applies afterwards.
    engine.handle(result).await.expect("applies");
    let conv = store
        .by_twilio_sid(&sid.into())
        .await
        .expect("q")
        .expect("found by SID");
    assert_eq!(conv.user, UserId(1));
}

/// An action kind and the trace its delivery ran under.
type Seen = (&'static str, Option<String>);

/// Records the trace each delivery ran under, then delivers like [`FakeUpstream`].
#[derive(Clone)]
struct Traced {
    inner: FakeUpstream,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Deliver for Traced {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        let trace = TraceId::current().map(|t| t.as_str().to_owned());
        self.seen
            .lock()
            .expect("lock")
            .push((action.kind.name(), trace));
        self.inner.deliver(action).await
    }
}

impl Traced {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }
}

pub(crate) async fn traces_follow_actions_and_their_results(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = Traced {
        inner: FakeUpstream::new(true), // the bot hands off at once
        seen: Arc::default(),
    };
    let w = worker(&store, up.clone(), &clock, "w1");
    let dm_trace = TraceId::parse("dm-101").expect("trace");
    let applied = dm_trace
        .clone()
        .scope(engine.handle(dm(1, 101, "my order")))
        .await
        .expect("applies");
    for action in &applied.step.actions {
        assert_eq!(
            store.trace_of(&action.id).await.expect("q"),
            Some(dm_trace.clone())
        );
    }
    let claimed = store
        .claim("peek", clock.now(), 1)
        .await
        .expect("q")
        .expect("claimed");
    assert_eq!(claimed.trace, Some(dm_trace.clone()));
    clock.advance(2); // the peek's lease expires
    drain(&w, &engine).await;
    // The bot's answer, the hand-off it caused, and what the hand-off's results caused (the
    // back-fill after the conversation was created, the case number after the case was opened)
    // all ran under the DM's trace.
    let seen = up.take();
    assert!(seen.len() >= 8, "{seen:?}");
    for kind in [
        "ask_bot",
        "create_twilio_conversation",
        "post_to_twilio",
        "open_case",
    ] {
        assert!(seen.iter().any(|(k, _)| *k == kind), "{kind}: {seen:?}");
    }
    assert!(
        seen.iter().all(|(_, t)| t.as_deref() == Some("dm-101")),
        "{seen:?}"
    );

    // An agent's message under its own trace: its deliveries carry that one.
    let sid = store
        .open_conversation(UserId(1))
        .await
        .expect("q")
        .and_then(|c| c.twilio)
        .expect("sid");
    let agent = Event::TwilioMessage {
        sid,
        message: TwilioMessageSid::from("IM0001"),
        author: "agent@example.com".into(),
        body: "hello from the agent".into(),
        attachments: Vec::new(),
        index: None,
    };
    TraceId::parse("tw-IM0001")
        .expect("trace")
        .scope(engine.handle(agent))
        .await
        .expect("applies");
    drain(&w, &engine).await;
    let seen = up.take();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|(_, t)| t.as_deref() == Some("tw-IM0001")),
        "{seen:?}"
    );

    // Without a trace: nothing stored, nothing current during the delivery.
    let untraced = engine.handle(dm(2, 201, "hello")).await.expect("applies");
    let first = &untraced.step.actions[0];
    assert_eq!(store.trace_of(&first.id).await.expect("q"), None);
    up.inner.set(Mode::Permanent);
    drain(&w, &engine).await;
    assert!(up.take().iter().all(|(_, t)| t.is_none()));
    up.inner.set(Mode::Succeed);

    // A dead letter keeps its trace.
    TraceId::parse("dm-301")
        .expect("trace")
        .scope(engine.handle(dm(3, 301, "hello")))
        .await
        .expect("applies");
    up.inner.set(Mode::Permanent);
    drain(&w, &engine).await;
    up.inner.set(Mode::Succeed);
    let dead = store.dead_letters(10).await.expect("q");
    assert!(
        dead.iter()
            .any(|d| d.trace.as_ref().map(TraceId::as_str) == Some("dm-301")),
        "{dead:?}"
    );
    assert!(dead.iter().any(|d| d.trace.is_none()), "{dead:?}");
}

pub(crate) async fn refed_results_and_ticks_keep_a_trace(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    TraceId::parse("dm-101")
        .expect("trace")
        .scope(engine.handle(dm(1, 101, "hi")))
        .await
        .expect("applies");
    // A worker records the bot's answer, then dies before feeding it.
    let claimed = store
        .claim("w1", clock.now(), 30_000)
        .await
        .expect("q")
        .expect("claimed");
    let up = Traced {
        inner: FakeUpstream::new(false),
        seen: Arc::default(),
    };
    let receipt = up.inner.deliver(&claimed.action).await.expect("delivers");
    let event = receipt.event.expect("bot reply");
    assert!(
        store
            .record_delivered(&claimed.action.id, "w1", None, &event, clock.now())
            .await
            .expect("q")
    );
    let recorded = store
        .unapplied_results_traced(Timestamp(clock.now().0 + 1), 10)
        .await
        .expect("q");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].1.as_ref().map(TraceId::as_str), Some("dm-101"));
    clock.advance(10);
    let w = worker(&store, up.clone(), &clock, "w2");
    assert_eq!(w.refeed(&engine, Duration::ZERO).await.expect("refeed"), 1);
    // The answer's Discord message was added under the refed result's trace.
    drain(&w, &engine).await;
    let seen = up.take();
    assert!(seen.iter().any(|(k, _)| *k == "send_dm"), "{seen:?}");
    assert!(
        seen.iter().all(|(_, t)| t.as_deref() == Some("dm-101")),
        "{seen:?}"
    );

    // A timer tick starts its own trace.
    let handoff = Traced {
        inner: FakeUpstream::new(true),
        seen: Arc::default(),
    };
    let w = worker(&store, handoff.clone(), &clock, "w3");
    engine.handle(dm(2, 201, "help")).await.expect("applies");
    drain(&w, &engine).await;
    handoff.take();
    clock.advance(5 * 60_000);
    assert!(engine.tick_due().await.expect("ticks") >= 1);
    drain(&w, &engine).await;
    let seen = handoff.take();
    assert!(!seen.is_empty(), "the agent-wait notice");
    assert!(
        seen.iter()
            .all(|(_, t)| t.as_deref().is_some_and(|t| t.starts_with("tick-2-201-"))),
        "{seen:?}"
    );
}

pub(crate) async fn a_run_stops_at_a_gap_in_its_sequence(store: Store) {
    // A conversation's unfinished rows are numbered without gaps; a missing number is a row
    // another worker holds (Postgres skips locked rows), so a run never jumps over it.
    let action = |seq: u64| {
        let a = flexcord_routing::Action {
            id: flexcord_routing::ActionId::new("g7", seq),
            kind: flexcord_routing::ActionKind::SendDm {
                channel: flexcord_routing::ChannelId(7),
                text: format!("part {seq}"),
                buttons: Vec::new(),
                suggestions: Vec::new(),
                files: Vec::new(),
                forwarded: None,
            },
        };
        serde_json::to_string(&a).expect("json")
    };
    for seq in [0_i64, 1, 3] {
        let sql = "INSERT INTO outbox (action_id, scope, seq, kind, action, state, attempts, \
                   next_attempt_at, created_at, updated_at) \
                   VALUES ($1, 'g7', $2, 'send_dm', $3, 'pending', 0, 0, 0, 0)";
        let id = format!("g7/{seq}");
        let json = action(u64::try_from(seq).expect("small"));
        if let Some(pool) = store.sqlite_pool() {
            sqlx::query(sql)
                .bind(&id)
                .bind(seq)
                .bind(&json)
                .execute(pool)
                .await
                .expect("insert");
        } else if let Some(pool) = store.pg_pool() {
            sqlx::query(sql)
                .bind(&id)
                .bind(seq)
                .bind(&json)
                .execute(pool)
                .await
                .expect("insert");
        }
    }
    let runs = store
        .claim_runs("w1", Timestamp(T0), 30_000, 4, 8)
        .await
        .expect("claim");
    let ids: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            run.iter()
                .map(|c| c.action.id.as_str().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(ids, vec![vec!["g7/0".to_owned(), "g7/1".to_owned()]]);
    // Only the claimed rows are running; the one after the gap is still pending.
    assert_eq!(count(&store, "running").await, 2);
    assert_eq!(count(&store, "pending").await, 1);
}

pub(crate) async fn a_silent_worker_is_taken_over_within_seconds(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    let claim = |owner: &'static str, at: i64| {
        let store = store.clone();
        async move {
            store
                .claim_runs_alive(owner, Timestamp(at), 60_000, 10_000, 4, 4)
                .await
                .expect("claim")
        }
    };
    store.heartbeat("w1", Timestamp(T0)).await.expect("beat");
    let mine = claim("w1", T0).await;
    assert_eq!(mine.len(), 1);
    let id = mine[0][0].action.id.clone();
    // Alive (a beat 5 s ago): the action stays w1's.
    assert!(claim("w2", T0 + 5_000).await.is_empty());
    // Silent for more than 10 s, long before the 60 s lease ends: w2 takes it over.
    let theirs = claim("w2", T0 + 10_001).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0][0].action.id, id);
    assert_eq!(theirs[0][0].attempt, 2);
    // And w1, back, cannot record a result for it.
    assert!(
        !store
            .record_done(&id, "w1", None, Timestamp(T0 + 11_000))
            .await
            .expect("record")
    );
}

pub(crate) async fn a_heartbeating_worker_keeps_its_action_past_the_lease(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    engine.handle(dm(1, 101, "hi")).await.expect("applies");
    store.heartbeat("w1", Timestamp(T0)).await.expect("beat");
    let taken = store
        .claim_runs_alive("w1", Timestamp(T0), 1_000, 10_000, 4, 4)
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    // The 1 s lease is long over, but w1 still beats: a slow delivery is not run twice.
    for at in [T0 + 5_000, T0 + 14_000, T0 + 23_000] {
        store.heartbeat("w1", Timestamp(at)).await.expect("beat");
        let other = store
            .claim_runs_alive("w2", Timestamp(at + 1_000), 1_000, 10_000, 4, 4)
            .await
            .expect("claim");
        assert!(other.is_empty(), "taken over at {at} while w1 beats");
    }
    // A worker that stopped cleanly is forgotten; without a heartbeat the lease rules again.
    store.retire("w1").await.expect("retire");
    let other = store
        .claim_runs_alive("w2", Timestamp(T0 + 25_000), 1_000, 10_000, 4, 4)
        .await
        .expect("claim");
    assert_eq!(other.len(), 1);
}

pub(crate) async fn open_conversations_page_in_id_order(store: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    for user in 1..=5 {
        engine
            .handle(dm(user, 100 + user, "hello"))
            .await
            .expect("applies");
    }
    // Close user 3's conversation directly: it is no longer swept.
    let mut closed = store
        .open_conversation(UserId(3))
        .await
        .expect("q")
        .expect("open");
    closed.phase = Phase::Closed;
    store
        .apply(&dm(3, 999, "x"), Timestamp(T0), |_| {
            flexcord_routing::Step {
                state: Some(closed),
                actions: Vec::new(),
                wake_at: None,
                notes: Vec::new(),
            }
        })
        .await
        .expect("closes");
    let first = store.open_conversations(None, 2).await.expect("page");
    assert_eq!(first.len(), 2);
    let rest = store
        .open_conversations(first.last().map(|c| &c.id), 10)
        .await
        .expect("page");
    let users: Vec<u64> = first.iter().chain(&rest).map(|c| c.user.0).collect();
    let mut sorted = users.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![1, 2, 4, 5]);
    let ids: Vec<_> = first.iter().chain(&rest).map(|c| c.id.clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

/// Calls of a conversation's run, as they start and end; a transcript line's call waits for
/// `release`.
#[derive(Clone, Default)]
struct Overlap {
    log: Arc<Mutex<Vec<&'static str>>>,
    release: Arc<tokio::sync::Notify>,
}

impl Deliver for Overlap {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        let push = |what| self.log.lock().expect("log").push(what);
        match &action.kind {
            ActionKind::AnnotateCase { .. } => {
                push("line starts");
                self.release.notified().await;
                push("line ends");
                Ok(Receipt::done())
            }
            ActionKind::SendDm { .. } => {
                push("dm");
                Ok(Receipt::id("m1"))
            }
            _ => {
                push("case change");
                Ok(Receipt::done())
            }
        }
    }
}

/// A transcript line lets the conversation's next DM go while it is appended, but a change of
/// the case waits for it (`ActionKind::overlaps`); every row ends done.
pub(crate) async fn a_transcript_line_lets_the_next_dm_pass_but_not_a_case_change(store: Store) {
    let case = CaseNumber::from("CASE-000001");
    let kinds = [
        ActionKind::AnnotateCase {
            number: case.clone(),
            entry: flexcord_routing::TranscriptEntry {
                speaker: flexcord_routing::Speaker::User,
                text: "hello".into(),
                at: Timestamp(T0),
                name: None,
            },
        },
        ActionKind::SendDm {
            channel: ChannelId(7),
            text: "hi".into(),
            buttons: Vec::new(),
            suggestions: Vec::new(),
            files: Vec::new(),
            forwarded: None,
        },
        ActionKind::UpdateCase {
            number: case,
            update: flexcord_routing::CaseUpdate::Resolved {
                by: flexcord_routing::ResolvedBy::Agent,
            },
            requester: None,
        },
    ];
    let actions: Vec<Action> = kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Action {
            id: ActionId::new("ov1", u64::try_from(i).expect("small")),
            kind,
        })
        .collect();
    store
        .enqueue(&actions, Timestamp(T0))
        .await
        .expect("enqueue");
    let clock = Clock::new();
    let up = Overlap::default();
    let w = Arc::new(worker(&store, up.clone(), &clock, "w1"));
    let (sink, mut results) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let (stop_tx, task) = running(&w, sink);
    let log = || up.log.lock().expect("log").clone();
    let mut waited = 0;
    while !log().contains(&"dm") {
        waited += 1;
        assert!(waited < 500, "the DM did not pass the line: {:?}", log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The line is still being appended; the case change waits for it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log(), ["line starts", "dm"]);
    up.release.notify_one();
    let mut waited = 0;
    while count(&store, "done").await + count(&store, "delivered").await < 3 {
        waited += 1;
        assert!(waited < 500, "the run did not finish: {:?}", log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(log(), ["line starts", "dm", "line ends", "case change"]);
    stop_tx.send(()).expect("worker alive");
    task.await.expect("task").expect("run ends cleanly");
    // The DM's result was fed (the others' successes change nothing).
    assert!(matches!(results.try_recv(), Ok(Event::Delivered { .. })));
}

fn ids(run: &[flexcord_store::Claimed]) -> Vec<String> {
    run.iter()
        .map(|c| c.action.id.as_str().to_owned())
        .collect()
}

/// `claim_after` continues a run: the due rows right after its last one, up to the run's
/// length, and nothing past a retry that is not due yet.
pub(crate) async fn a_run_continues_with_the_rows_after_its_last(store: Store) {
    store
        .enqueue(&dms("ct1", 0..6), Timestamp(T0))
        .await
        .expect("enqueue");
    let first = store
        .claim_runs("w1", Timestamp(T0), 30_000, 4, 2)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(ids(&first[0]), ["ct1/0", "ct1/1"]);
    let last = first[0][1].action.id.clone();
    // While w1 holds the first two, nobody else gets the conversation.
    assert!(
        store
            .claim_runs("w2", Timestamp(T0), 30_000, 4, 8)
            .await
            .expect("claim")
            .is_empty()
    );
    let next = store
        .claim_after("w1", &last, Timestamp(T0), 30_000, 2)
        .await
        .expect("continue");
    assert_eq!(ids(&next), ["ct1/2", "ct1/3"]);
    assert_eq!(next[0].attempt, 1);
    assert_eq!(count(&store, "running").await, 4);
    // ct1/4 fails and waits for its retry: the continuation stops before it.
    let four = ActionId::new("ct1", 4);
    let more = store
        .claim_after("w1", &next[1].action.id, Timestamp(T0), 30_000, 8)
        .await
        .expect("continue");
    assert_eq!(ids(&more), ["ct1/4", "ct1/5"]);
    store
        .record_retry(&four, "w1", "503", Timestamp(T0 + 60_000), Timestamp(T0))
        .await
        .expect("retry");
    store
        .release(&[ActionId::new("ct1", 5)], "w1", Timestamp(T0))
        .await
        .expect("release");
    assert!(
        store
            .claim_after("w1", &next[1].action.id, Timestamp(T0), 30_000, 8)
            .await
            .expect("continue")
            .is_empty()
    );
    // Nothing after the last row either.
    assert!(
        store
            .claim_after("w1", &ActionId::new("ct1", 5), Timestamp(T0), 30_000, 8)
            .await
            .expect("continue")
            .is_empty()
    );
}

/// Calls every action it is given, in a log; answers with a result event so the record goes
/// through the sink.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Deliver for Calls {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        self.0
            .lock()
            .expect("log")
            .push(action.id.as_str().to_owned());
        Ok(Receipt::with_event(action.completed(Some("m".into()))))
    }
}

/// A sink that records results as the default [`flexcord_store::EventSink::settle`] does and
/// feeds them to `fed`, only once its gate (if any) opens, and whose first record of
/// `fail_once` (if any) fails as a store error does (a pool that timed out), after the
/// upstream call went through.
struct TestSink {
    gate: Option<tokio::sync::watch::Receiver<bool>>,
    fail_once: Option<ActionId>,
    failed: std::sync::atomic::AtomicBool,
    fed: tokio::sync::mpsc::UnboundedSender<Event>,
}

impl TestSink {
    fn new(fed: tokio::sync::mpsc::UnboundedSender<Event>) -> Self {
        Self {
            gate: None,
            fail_once: None,
            failed: std::sync::atomic::AtomicBool::new(false),
            fed,
        }
    }
}

impl flexcord_store::EventSink for TestSink {
    async fn send(&self, event: Event) -> Result<(), flexcord_store::Error> {
        let _ = self.fed.send(event);
        Ok(())
    }

    async fn settle(
        &self,
        store: &Store,
        owner: &str,
        outcome: flexcord_store::Settle<'_>,
        now: Timestamp,
    ) -> Result<bool, flexcord_store::Error> {
        if let Some(gate) = &self.gate {
            gate.clone().wait_for(|o| *o).await.expect("gate kept");
        }
        let flexcord_store::Settle::Delivered { upstream_id, event } = outcome else {
            panic!("only deliveries here");
        };
        let Event::Delivered { action_id, .. } = event else {
            panic!("unexpected result {event:?}");
        };
        if self.fail_once.as_ref() == Some(action_id)
            && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(sqlx::Error::PoolTimedOut.into());
        }
        let recorded = store
            .record_delivered(action_id, owner, upstream_id, event, now)
            .await?;
        if recorded {
            let _ = self.fed.send(event.clone());
        }
        Ok(recorded)
    }
}

/// A conversation's backlog longer than a run keeps being called while the earlier results
/// are still being recorded (the run continues instead of waiting for them); every action is
/// called once, in order, and recorded once the records can go.
pub(crate) async fn a_backlog_is_called_while_earlier_results_are_recorded(store: Store) {
    store
        .enqueue(&dms("ct2", 0..7), Timestamp(T0))
        .await
        .expect("enqueue");
    let clock = Clock::new();
    let calls = Calls::default();
    let w = Arc::new(
        worker(&store, calls.clone(), &clock, "w1").config(WorkerConfig {
            owner: "w1".into(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(20),
            run: 2,
            ..WorkerConfig::default()
        }),
    );
    let (gate, open) = tokio::sync::watch::channel(false);
    let (fed, mut results) = tokio::sync::mpsc::unbounded_channel();
    let sink = TestSink {
        gate: Some(open),
        ..TestSink::new(fed)
    };
    let (stop_tx, task) = running(&w, sink);
    let log = || calls.0.lock().expect("log").clone();
    let all: Vec<String> = (0..7).map(|s| format!("ct2/{s}")).collect();
    let before_records = 7;
    let mut waited = 0;
    while log().len() < before_records {
        waited += 1;
        assert!(
            waited < 500,
            "the backlog waited for the records: {:?}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Nothing recorded yet, everything called once, in order.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&store, "done").await, 0);
    assert_eq!(log(), all[..before_records]);
    gate.send(true).expect("sink alive");
    let mut order = Vec::new();
    while order.len() < 7 {
        let event = tokio::time::timeout(Duration::from_secs(5), results.recv())
            .await
            .expect("results fed")
            .expect("sink open");
        if let Event::Delivered { action_id, .. } = event {
            order.push(action_id.as_str().to_owned());
        }
    }
    // Records run side by side (as within any run); each result is fed once.
    order.sort_by_key(|id| ActionId(id.clone()).seq());
    assert_eq!(order, all);
    stop_tx.send(()).expect("worker alive");
    task.await.expect("task").expect("run ends cleanly");
    assert_eq!(log(), all, "no action called twice");
    assert_eq!(count(&store, "running").await, 0);
}

/// A result that could not be recorded (the store failed for a moment after the upstream
/// call) is recorded again: the action does not stay held by a worker that is alive (nobody
/// else may take it over), so its conversation goes on, every action called once, in order.
pub(crate) async fn a_failed_record_is_tried_again(store: Store) {
    store
        .enqueue(&dms("rf", 0..5), Timestamp(T0))
        .await
        .expect("enqueue");
    let clock = Clock::new();
    let calls = Calls::default();
    let w = Arc::new(worker(&store, calls.clone(), &clock, "w1"));
    let (fed, mut results) = tokio::sync::mpsc::unbounded_channel();
    let sink = TestSink {
        fail_once: Some(ActionId::new("rf", 2)),
        ..TestSink::new(fed)
    };
    let (stop_tx, task) = running(&w, sink);
    let mut order = Vec::new();
    while order.len() < 5 {
        let event = tokio::time::timeout(Duration::from_secs(10), results.recv())
            .await
            .unwrap_or_else(|_| panic!("results stopped after {order:?}"))
            .expect("sink open");
        if let Event::Delivered { action_id, .. } = event {
            order.push(action_id.as_str().to_owned());
        }
    }
    stop_tx.send(()).expect("worker alive");
    task.await.expect("task").expect("run ends cleanly");
    let all: Vec<String> = (0..5).map(|s| format!("rf/{s}")).collect();
    order.sort_by_key(|id| ActionId(id.clone()).seq());
    assert_eq!(order, all);
    assert_eq!(
        calls.0.lock().expect("log").clone(),
        all,
        "each action called once, in order"
    );
    assert_eq!(count(&store, "running").await, 0);
    assert_eq!(count(&store, "delivered").await, 5);
}
