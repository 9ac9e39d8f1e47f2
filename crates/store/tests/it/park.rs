//! Parked events: Twilio webhooks that arrive before their conversation's SID is recorded.
//! Every test runs on SQLite and on Postgres; the race runs two stores (two pools, as two app
//! instances) on one database.

use std::sync::Arc;

use flexcord_routing::{
    Action, ActionKind, BotRoute, Event, Router, RouterConfig, TwilioMessageSid, TwilioSid,
};
use flexcord_store::{Claimed, Engine, Store};
use sqlx::Row;

use crate::common::{Clock, FakeUpstream, dm, drain};

const MINUTE: i64 = 60_000;
const ROUNDS: u64 = 12;

crate::common::two_instances!(
    webhook_before_the_sid_is_parked_then_replayed_once,
    duplicate_webhooks_while_parked_are_parked_once,
    processed_events_are_never_parked,
    parked_events_expire_and_are_reported,
    sweep_replays_what_a_dead_instance_left,
    later_webhooks_queue_behind_parked_ones,
    two_engines_race_park_and_create,
);

/// The Studio route: the first DM creates the Twilio conversation at once.
fn engine(store: &Store, clock: &Clock) -> Engine {
    let c = clock.clone();
    let config = RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    };
    Engine::new(store.clone(), Router::new(config)).clock(move || c.now())
}

fn sid(n: u64) -> TwilioSid {
    TwilioSid::from(format!("CH{n:032}").as_str())
}

fn agent_message(sid: &TwilioSid, message: &str, body: &str) -> Event {
    Event::TwilioMessage {
        sid: sid.clone(),
        message: TwilioMessageSid::from(message),
        author: "agent:zoe".into(),
        body: body.into(),
        attachments: Vec::new(),
        index: None,
    }
}

/// User `user` writes; the worker `owner` claims the conversation's creation (the upstream
/// call is "in flight": nothing recorded yet).
async fn creation_in_flight(engine: &Engine, user: u64, owner: &str) -> Claimed {
    engine
        .handle(dm(user, 100 + user, "hi"))
        .await
        .expect("applies");
    let now = crate::common::T0;
    let claimed = engine
        .store()
        .claim(owner, flexcord_routing::Timestamp(now), 30_000)
        .await
        .expect("q")
        .expect("claimed");
    assert_eq!(claimed.action.kind.name(), "create_twilio_conversation");
    claimed
}

/// The worker records the created SID and feeds the result to `engine`.
async fn creation_done(engine: &Engine, claimed: &Claimed, owner: &str, sid: &TwilioSid) {
    let result = claimed.action.completed(Some(sid.as_str().to_owned()));
    let now = flexcord_routing::Timestamp(crate::common::T0);
    assert!(
        engine
            .store()
            .record_delivered(&claimed.action.id, owner, Some(sid.as_str()), &result, now)
            .await
            .expect("q"),
        "the lease is ours"
    );
    engine.handle(result).await.expect("the result applies");
}

/// Outbox actions of `kind` whose JSON contains `text`.
async fn outbox_with(store: &Store, kind: &str, text: &str) -> Vec<Action> {
    let like = format!("%{text}%");
    let sql =
        "SELECT action FROM outbox WHERE kind = $1 AND action LIKE $2 ORDER BY created_at, seq";
    let rows: Vec<String> = if let Some(pool) = store.sqlite_pool() {
        sqlx::query(sql)
            .bind(kind)
            .bind(&like)
            .fetch_all(pool)
            .await
            .expect("q")
            .iter()
            .map(|r| r.get(0))
            .collect()
    } else {
        sqlx::query(sql)
            .bind(kind)
            .bind(&like)
            .fetch_all(store.pg_pool().expect("postgres"))
            .await
            .expect("q")
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    rows.iter()
        .map(|json| serde_json::from_str(json).expect("action decodes"))
        .collect()
}

/// The trace stored with an outbox row.
async fn outbox_trace(store: &Store, action: &Action) -> Option<String> {
    let sql = "SELECT trace FROM outbox WHERE action_id = $1";
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query(sql)
            .bind(action.id.as_str())
            .fetch_one(pool)
            .await
            .expect("q")
            .get(0)
    } else {
        sqlx::query(sql)
            .bind(action.id.as_str())
            .fetch_one(store.pg_pool().expect("postgres"))
            .await
            .expect("q")
            .get(0)
    }
}

async fn webhook_before_the_sid_is_parked_then_replayed_once(store: Store, _other: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let claimed = creation_in_flight(&engine, 1, "w1").await;
    let sid = sid(1);
    // The agent's message and join arrive while the creation call is still in flight.
    let message = agent_message(&sid, "IM1", "hello from the agent");
    let trace = flexcord_store::TraceId::parse("tw-IM1").expect("a trace id");
    let applied = trace
        .clone()
        .scope(engine.handle(message.clone()))
        .await
        .expect("applies");
    assert!(applied.parked && !applied.duplicate, "{applied:?}");
    assert!(applied.step.actions.is_empty());
    let joined = Event::ParticipantJoined {
        sid: sid.clone(),
        identity: "agent:zoe".into(),
    };
    assert!(engine.handle(joined).await.expect("applies").parked);
    let parked = store.parked(&sid).await.expect("q");
    assert_eq!(
        parked
            .iter()
            .map(flexcord_store::Parked::event_name)
            .collect::<Vec<_>>(),
        ["twilio_message", "participant_joined"],
        "parked in arrival order"
    );
    assert_eq!(parked[0].event.as_ref(), Some(&message));
    assert_eq!(parked[0].dedupe_key.as_deref(), Some("tw:msg:IM1"));
    assert_eq!(
        parked[0].trace.as_ref(),
        Some(&trace),
        "the webhook's trace is kept"
    );
    assert_eq!(parked[1].trace, None);
    assert!(
        !store.is_processed("tw:msg:IM1").await.expect("q"),
        "a parked event is not processed yet"
    );
    assert!(
        outbox_with(&store, "send_dm", "hello from the agent")
            .await
            .is_empty()
    );

    // The creation result is applied: the parked events are replayed, in order, once.
    creation_done(&engine, &claimed, "w1", &sid).await;
    assert!(store.parked(&sid).await.expect("q").is_empty());
    assert_eq!(store.parked_count().await.expect("q"), 0);
    assert!(store.is_processed("tw:msg:IM1").await.expect("q"));
    assert!(
        store
            .is_processed("tw:join:CH00000000000000000000000000000001:agent:zoe")
            .await
            .expect("q")
    );
    let dms = outbox_with(&store, "send_dm", "hello from the agent").await;
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert_eq!(
        outbox_trace(&store, &dms[0]).await.as_deref(),
        Some("tw-IM1"),
        "the replayed step continues the webhook's trace"
    );
    let conv = store.by_twilio_sid(&sid).await.expect("q").expect("known");
    assert_eq!(
        conv.agent.as_deref(),
        Some("agent:zoe"),
        "the join was applied"
    );

    // Twilio retries the message after the replay: applied before, so a duplicate.
    let again = engine.handle(message).await.expect("applies");
    assert!(again.duplicate && !again.parked, "{again:?}");
    assert_eq!(
        outbox_with(&store, "send_dm", "hello from the agent")
            .await
            .len(),
        1
    );

    // The rest of the outbox runs: the user gets the agent's message exactly once.
    let up = FakeUpstream::new(false);
    let worker = flexcord_store::Worker::new(store.clone(), up.clone()).clock({
        let c = clock.clone();
        move || c.now()
    });
    drain(&worker, &engine).await;
    let sent = up
        .calls
        .lock()
        .expect("calls")
        .iter()
        .filter(|a| matches!(&a.kind, ActionKind::SendDm { text, .. } if text.contains("hello from the agent")))
        .count();
    assert_eq!(sent, 1);
}

async fn duplicate_webhooks_while_parked_are_parked_once(store: Store, other: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let engine_b = self::engine(&other, &clock);
    let claimed = creation_in_flight(&engine, 2, "w1").await;
    let sid = sid(2);
    let message = agent_message(&sid, "IM2", "only once please");
    let first = engine.handle(message.clone()).await.expect("applies");
    assert!(first.parked && !first.duplicate);
    // Twilio retries, on this instance and on the other one.
    let second = engine.handle(message.clone()).await.expect("applies");
    assert!(second.parked && second.duplicate, "{second:?}");
    let third = engine_b.handle(message.clone()).await.expect("applies");
    assert!(third.duplicate, "{third:?}");
    // An edit carries no dedupe key: parked too (keyless rows never conflict), after the
    // message.
    let edit = Event::TwilioMessageUpdated {
        sid: sid.clone(),
        message: TwilioMessageSid::from("IM2"),
        author: "agent:zoe".into(),
        body: "only once, edited".into(),
    };
    assert!(engine.handle(edit).await.expect("applies").parked);
    assert_eq!(store.parked(&sid).await.expect("q").len(), 2);

    creation_done(&engine, &claimed, "w1", &sid).await;
    assert_eq!(store.parked_count().await.expect("q"), 0);
    assert_eq!(
        outbox_with(&store, "send_dm", "only once please")
            .await
            .len(),
        1
    );
}

async fn processed_events_are_never_parked(store: Store, _other: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let claimed = creation_in_flight(&engine, 3, "w1").await;
    let known = sid(3);
    creation_done(&engine, &claimed, "w1", &known).await;
    let applied = engine
        .handle(agent_message(&known, "IM3", "seen once"))
        .await
        .expect("applies");
    assert!(!applied.parked && !applied.duplicate);
    // The same message SID reported for a SID nobody knows: its key was processed, so it is
    // a duplicate and is not parked.
    let stray = engine
        .handle(agent_message(&sid(99), "IM3", "seen once"))
        .await
        .expect("applies");
    assert!(stray.duplicate && !stray.parked, "{stray:?}");
    assert_eq!(store.parked_count().await.expect("q"), 0);
}

async fn parked_events_expire_and_are_reported(store: Store, _other: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock).park_ttl(std::time::Duration::from_secs(15 * 60));
    let unknown = sid(404);
    let before = outbox_with(&store, "send_dm", "").await.len();
    let applied = engine
        .handle(agent_message(
            &unknown,
            "IM404",
            "nobody knows this conversation",
        ))
        .await
        .expect("applies");
    assert!(applied.parked);
    // Within the bound nothing happens.
    clock.advance(14 * MINUTE);
    let swept = engine.sweep_parked().await.expect("sweeps");
    assert_eq!((swept.replayed, swept.expired.len()), (0, 0));
    assert_eq!(store.parked_count().await.expect("q"), 1);
    // After it the event is dropped and reported.
    clock.advance(2 * MINUTE);
    let swept = engine.sweep_parked().await.expect("sweeps");
    assert_eq!(swept.replayed, 0);
    assert_eq!(swept.expired.len(), 1, "{swept:?}");
    assert_eq!(swept.expired[0].sid, unknown);
    assert_eq!(swept.expired[0].event_name(), "twilio_message");
    assert_eq!(swept.expired[0].dedupe_key.as_deref(), Some("tw:msg:IM404"));
    assert_eq!(store.parked_count().await.expect("q"), 0);
    assert!(
        engine
            .sweep_parked()
            .await
            .expect("sweeps")
            .expired
            .is_empty()
    );
    // A webhook for an unknown conversation never posts anything.
    assert_eq!(outbox_with(&store, "send_dm", "").await.len(), before);
}

async fn sweep_replays_what_a_dead_instance_left(store: Store, _other: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let claimed = creation_in_flight(&engine, 5, "w1").await;
    let sid = sid(5);
    assert!(
        engine
            .handle(agent_message(&sid, "IM5", "left behind"))
            .await
            .expect("applies")
            .parked
    );
    // Another instance records the SID and applies the result, then dies before replaying
    // (the store's apply alone does not replay).
    let result = claimed.action.completed(Some(sid.as_str().to_owned()));
    let router = Router::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    let now = clock.now();
    let owned = result.clone();
    store
        .apply(&result, now, move |state| router.handle(state, owned, now))
        .await
        .expect("applies");
    assert_eq!(store.parked(&sid).await.expect("q").len(), 1);
    assert!(store.twilio_sid_known(&sid).await.expect("q"));
    assert_eq!(
        store.parked_known_sids(10).await.expect("q"),
        vec![sid.clone()]
    );
    let swept = engine.sweep_parked().await.expect("sweeps");
    assert_eq!(swept.replayed, 1);
    assert!(swept.expired.is_empty());
    assert_eq!(store.parked_count().await.expect("q"), 0);
    assert_eq!(outbox_with(&store, "send_dm", "left behind").await.len(), 1);
}

async fn later_webhooks_queue_behind_parked_ones(store: Store, _other: Store) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let claimed = creation_in_flight(&engine, 6, "w1").await;
    let sid = sid(6);
    assert!(
        engine
            .handle(agent_message(&sid, "IM6a", "first words"))
            .await
            .expect("applies")
            .parked
    );
    // The SID gets recorded and the result applied without a replay (a dead instance)...
    let result = claimed.action.completed(Some(sid.as_str().to_owned()));
    let router = Router::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    let now = clock.now();
    let owned = result.clone();
    store
        .apply(&result, now, move |state| router.handle(state, owned, now))
        .await
        .expect("applies");
    // ...then the next message arrives: it queues behind the parked one and both are applied
    // at once, in Twilio's order.
    let second = engine
        .handle(agent_message(&sid, "IM6b", "second words"))
        .await
        .expect("applies");
    assert!(second.parked, "{second:?}");
    assert_eq!(
        store.parked_count().await.expect("q"),
        0,
        "replayed at once"
    );
    let first = outbox_with(&store, "send_dm", "first words").await;
    let then = outbox_with(&store, "send_dm", "second words").await;
    assert_eq!((first.len(), then.len()), (1, 1));
    assert!(
        first[0].id.seq() < then[0].id.seq(),
        "{first:?} then {then:?}"
    );
}

async fn two_engines_race_park_and_create(store: Store, other: Store) {
    let clock = Clock::new();
    let a = Arc::new(engine(&store, &clock));
    let b = Arc::new(engine(&other, &clock));
    for user in 10..10 + ROUNDS {
        let claimed = creation_in_flight(&b, user, "wb").await;
        let sid = sid(user);
        let body = format!("race {user}");
        let start = Arc::new(tokio::sync::Barrier::new(2));
        // A takes the agent's webhook while B records the creation and applies its result.
        let webhook = tokio::spawn({
            let (a, start, event) = (
                a.clone(),
                start.clone(),
                agent_message(&sid, &format!("IMrace{user}"), &body),
            );
            async move {
                start.wait().await;
                a.handle(event).await.expect("applies")
            }
        });
        let created = tokio::spawn({
            let (b, start, sid) = (b.clone(), start.clone(), sid.clone());
            async move {
                start.wait().await;
                creation_done(&b, &claimed, "wb", &sid).await;
            }
        });
        let applied = webhook.await.expect("no panic");
        created.await.expect("no panic");
        assert!(!applied.duplicate, "{applied:?}");
        // Whatever the interleaving: nothing left parked (no sweep ran), the effect once.
        assert_eq!(
            store.parked_count().await.expect("q"),
            0,
            "round {user}: parked={}",
            applied.parked
        );
        assert_eq!(
            outbox_with(&store, "send_dm", &body).await.len(),
            1,
            "round {user}"
        );
        // Run this round's outbox so the next round's first claim is its creation.
        let worker = flexcord_store::Worker::new(store.clone(), FakeUpstream::new(false)).clock({
            let c = clock.clone();
            move || c.now()
        });
        drain(&worker, &*a).await;
    }
}

/// The cross-instance window, made to happen on Postgres: instance A looks the SID up (not
/// there) and is held before its park commits; meanwhile instance B records the SID, applies
/// the result and replays (seeing nothing parked yet). A's check after parking must find the
/// SID and replay itself. (On SQLite every apply holds the single write lock, so the window
/// cannot open.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_recheck_after_parking_closes_the_window() {
    let Some((store, schema)) = crate::common::PgSchema::create().await else {
        return;
    };
    let other = schema.connect().await;
    let clock = Clock::new();
    let a = Arc::new(engine(&store, &clock));
    let b = engine(&other, &clock);
    let claimed = creation_in_flight(&b, 30, "wb").await;
    let sid = sid(30);
    let pool = store.pg_pool().expect("postgres").clone();

    // A blocker holds the event's dedupe key in `parked_events` (uncommitted): A's park insert
    // waits for it, after A's lookup.
    let mut blocker = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO parked_events (sid, event, dedupe_key, parked_at) \
         VALUES ('CHblocker', '{}', 'tw:msg:IMwindow', 0)",
    )
    .execute(&mut *blocker)
    .await
    .expect("insert");
    let xid: String = sqlx::query("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *blocker)
        .await
        .expect("xid")
        .get(0);
    let webhook = tokio::spawn({
        let (a, event) = (
            a.clone(),
            agent_message(&sid, "IMwindow", "through the window"),
        );
        async move { a.handle(event).await.expect("applies") }
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: i64 = sqlx::query(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'transactionid' \
             AND NOT granted AND transactionid::text = $1",
        )
        .bind(&xid)
        .fetch_one(&pool)
        .await
        .expect("q")
        .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook never waited on the blocker"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // B records the SID and replays while A's park is not committed.
    creation_done(&b, &claimed, "wb", &sid).await;
    assert_eq!(
        other.parked_count().await.expect("q"),
        0,
        "A's row is not visible yet"
    );
    blocker.rollback().await.expect("rollback");
    let applied = webhook.await.expect("no panic");
    assert!(applied.parked && !applied.duplicate, "{applied:?}");
    assert_eq!(
        store.parked_count().await.expect("q"),
        0,
        "A replayed its own row"
    );
    assert_eq!(
        outbox_with(&store, "send_dm", "through the window")
            .await
            .len(),
        1
    );
    other.close().await;
    schema.drop(store).await;
}
