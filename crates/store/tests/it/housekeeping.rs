//! Housekeeping on both backends: pruning in bounded batches keeps what is recent, dead letters
//! are re-queued only while their conversation can take them, and the store answers a ping.

use flexcord_routing::{
    Action, ActionId, ActionKind, ConversationAttributes, Phase, Timestamp, UserId,
};
use flexcord_store::{Outcome, PRUNE_BATCH, Retried, RetryRefused, Store};

use crate::common::{Clock, FakeUpstream, Mode, T0, dm, drain, engine};
use crate::suite::{count, worker};

/// Runs `sql` with `bind` as `$1` on whichever backend `store` is.
async fn exec(store: &Store, sql: &str, bind: i64) {
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query(sql).bind(bind).execute(pool).await.expect(sql);
    } else if let Some(pool) = store.pg_pool() {
        sqlx::query(sql).bind(bind).execute(pool).await.expect(sql);
    }
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
    } else {
        let pool = store.pg_pool().expect("a backend");
        sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
    }
}

/// `n` processed-event keys `<prefix><i>` processed at `at`.
async fn keys(store: &Store, prefix: &str, n: i64, at: i64) {
    let sql = format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) \
         INSERT INTO processed_events (event_key, processed_at) \
         SELECT '{prefix}' || CAST(i AS TEXT), $1 FROM seq"
    );
    exec(store, &sql, at).await;
}

/// `n` outbox rows in state `state`, scopes `<prefix><i>`, last touched at `at`.
async fn rows(store: &Store, prefix: &str, state: &str, n: i64, at: i64) {
    let sql = format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) \
         INSERT INTO outbox (action_id, scope, seq, kind, action, state, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT '{prefix}' || CAST(i AS TEXT) || '/0', '{prefix}' || CAST(i AS TEXT), 0, \
         'close_twilio', '{{}}', '{state}', 1, $1, $1, $1 FROM seq"
    );
    exec(store, &sql, at).await;
}

pub(crate) async fn pruning_removes_old_rows_in_batches_and_keeps_recent_ones(store: Store) {
    let old = T0 - 8 * 86_400_000;
    let cutoff = Timestamp(T0 - 7 * 86_400_000);
    let recent = T0 - 86_400_000;
    keys(&store, "dm:old", 1_203, old).await;
    keys(&store, "feed:news:", 4, old).await;
    keys(&store, "dm:new", 5, recent).await;
    rows(&store, "iold", "done", 1_100, old).await;
    rows(&store, "inew", "done", 3, recent).await;
    rows(&store, "idead", "dead", 2, old).await;
    rows(&store, "iwait", "pending", 1, old).await;

    // One statement removes at most a batch.
    assert_eq!(
        store
            .prune_processed_batch(cutoff, PRUNE_BATCH)
            .await
            .expect("one batch"),
        500
    );
    let pruned = store.prune(cutoff, PRUNE_BATCH).await.expect("prunes");
    assert_eq!((pruned.processed, pruned.outbox), (703, 1_100));

    // What is recent, the feed entries' keys, dead letters and unfinished rows stay.
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM processed_events WHERE event_key LIKE 'dm:old%'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM processed_events WHERE event_key LIKE 'dm:new%'"
        )
        .await,
        5
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM processed_events WHERE event_key LIKE 'feed:%'"
        )
        .await,
        4
    );
    assert_eq!(count(&store, "done").await, 3);
    assert_eq!(count(&store, "dead").await, 2);
    assert_eq!(count(&store, "pending").await, 1);
    // Nothing left: a second run removes nothing.
    let again = store.prune(cutoff, PRUNE_BATCH).await.expect("prunes");
    assert_eq!((again.processed, again.outbox), (0, 0));
    store.ping().await.expect("the store answers");
}

/// An action of `conversation`'s scope with a sequence number the router will not reach.
fn extra(conversation: &str, seq: u64, kind: ActionKind) -> Action {
    Action {
        id: ActionId::new(conversation, seq),
        kind,
    }
}

pub(crate) async fn dead_letters_are_requeued_only_while_their_conversation_can_take_them(
    store: Store,
) {
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = FakeUpstream::new(true); // the bot hands off at once: a case, a Twilio conversation
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
    let case = conv.case.clone().expect("a case");
    let sid = conv.twilio.clone().expect("a Twilio conversation");

    // Twilio refuses an attributes update for good: a dead letter that leaves the conversation
    // as it was.
    let update = extra(
        conv.id.as_str(),
        900,
        ActionKind::UpdateTwilioAttributes {
            sid: sid.clone(),
            attributes: ConversationAttributes {
                discord_user: UserId(1),
                dm_channel: conv.dm_channel,
                handoff: true,
                case: Some(case.clone()),
            },
        },
    );
    store
        .enqueue(std::slice::from_ref(&update), clock.now())
        .await
        .expect("enqueue");
    up.set(Mode::Permanent);
    assert!(matches!(
        w.run_once(&engine).await.expect("step"),
        Outcome::Dead(_)
    ));
    assert_eq!(
        store.dead_letter_ids().await.expect("ids"),
        vec![update.id.clone()]
    );
    assert!(
        store
            .is_processed(&format!("result:{}", update.id.as_str()))
            .await
            .expect("q"),
        "the failure was applied"
    );

    // Unknown ids and rows that are no dead letters are refused.
    clock.advance(1_000);
    assert_eq!(
        store
            .retry_dead(&ActionId::new(conv.id.as_str(), 12_345), clock.now())
            .await
            .expect("retry"),
        Retried::Refused(RetryRefused::NotFound)
    );
    let done = store
        .outbox_state(&ActionId::new(conv.id.as_str(), 0))
        .await
        .expect("q")
        .expect("the first action");
    assert_eq!(done.0, "done");
    let refused = store
        .retry_dead(&ActionId::new(conv.id.as_str(), 0), clock.now())
        .await
        .expect("retry");
    assert_eq!(
        refused,
        Retried::Refused(RetryRefused::NotDead {
            state: "done".into()
        })
    );

    // The cause fixed, the dead letter goes back to the outbox and its case hears of it.
    up.set(Mode::Succeed);
    assert_eq!(store.retried_count().await.expect("count"), 0);
    let retried = store
        .retry_dead(&update.id, clock.now())
        .await
        .expect("retry");
    assert_eq!(
        retried,
        Retried::Requeued {
            kind: "update_twilio_attributes".into(),
            case: Some(case.clone()),
        }
    );
    assert_eq!(store.retried_count().await.expect("count"), 1);
    assert_eq!(
        store
            .outbox_state(&update.id)
            .await
            .expect("q")
            .map(|s| s.0),
        Some("pending".into())
    );
    assert!(
        !store
            .is_processed(&format!("result:{}", update.id.as_str()))
            .await
            .expect("q"),
        "the new result will be applied"
    );
    let calls_before = up.calls.lock().expect("calls").len();
    drain(&w, &engine).await;
    let calls: Vec<Action> = up.calls.lock().expect("calls")[calls_before..].to_vec();
    assert_eq!(calls.first().map(|a| &a.id), Some(&update.id), "{calls:#?}");
    let note = calls
        .iter()
        .find_map(|a| match &a.kind {
            ActionKind::AnnotateCase { number, entry } => Some((a.id.clone(), number, entry)),
            _ => None,
        })
        .expect("the case gets an entry about the retry");
    assert_eq!(note.0.conversation(), None, "{}", note.0);
    assert_eq!(note.1, &case);
    assert!(
        note.2.text.contains("re-queued") && note.2.text.contains(update.id.as_str()),
        "{}",
        note.2.text
    );
    assert_eq!(
        store
            .outbox_state(&update.id)
            .await
            .expect("q")
            .map(|s| s.0),
        Some("done".into())
    );
    assert!(store.dead_letter_ids().await.expect("ids").is_empty());

    // A DM whose failure marked the user unreachable is not sent again.
    let channel = conv.dm_channel.expect("a DM channel");
    let message = extra(
        conv.id.as_str(),
        901,
        ActionKind::SendDm {
            channel,
            text: "an agent's answer".into(),
            buttons: Vec::new(),
            suggestions: Vec::new(),
            files: Vec::new(),
            forwarded: None,
        },
    );
    store
        .enqueue(std::slice::from_ref(&message), clock.now())
        .await
        .expect("enqueue");
    up.set(Mode::Permanent);
    drain(&w, &engine).await;
    up.set(Mode::Succeed);
    drain(&w, &engine).await; // the notice to the agent
    let conv = store
        .conversation(&conv.id)
        .await
        .expect("q")
        .expect("stored");
    assert!(conv.is_open() && conv.dm_unreachable);
    let refused = store
        .retry_dead(&message.id, clock.now())
        .await
        .expect("retry");
    assert_eq!(refused, Retried::Refused(RetryRefused::UserUnreachable));
    assert!(refused_reason(&refused).contains("unreachable"));
    assert_eq!(
        store
            .outbox_state(&message.id)
            .await
            .expect("q")
            .map(|s| s.0),
        Some("dead".into())
    );

    // Once the conversation is closed, nothing of it is re-queued.
    engine
        .handle(flexcord_routing::Event::TwilioClosed { sid: sid.clone() })
        .await
        .expect("applies");
    drain(&w, &engine).await;
    let refused = store
        .retry_dead(&message.id, clock.now())
        .await
        .expect("retry");
    assert_eq!(
        refused,
        Retried::Refused(RetryRefused::ConversationClosed {
            closed_by: Some("agent".into())
        })
    );
    assert!(refused_reason(&refused).contains("closed"), "{refused:?}");
    assert_eq!(store.retried_count().await.expect("count"), 1);
}

fn refused_reason(retried: &Retried) -> String {
    match retried {
        Retried::Refused(why) => why.to_string(),
        Retried::Requeued { .. } => String::new(),
    }
}
