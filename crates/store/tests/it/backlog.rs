//! Backlogs drained by two instances at once (two stores, two pools, two workers on one
//! database), with the engine recording each result on its conversation: every action called
//! once, each conversation's in order, and the drain never waits for a pool that its own
//! records hold. (A run that awaited its continuation without polling the records under way
//! left a Postgres transaction holding a conversation's lock while the others waited for it
//! with every pooled connection, until the pool's acquire timeout.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flexcord_routing::{Action, ActionId, Timestamp, UserId};
use flexcord_store::{Deliver, Engine, Failure, Receipt, Store, Worker, WorkerConfig};

use crate::common::{Clock, FakeUpstream, dm, drain, engine};

// Small pools, as under load: every connection can be waiting for one conversation's lock.
crate::common::two_instances!(pool = 3; two_instances_drain_long_backlogs_in_order);

/// Logs every call, by action id, across both instances; each call takes a millisecond.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<ActionId>>>);

impl Deliver for Log {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        self.0.lock().expect("log").push(action.id.clone());
        // An upstream answers after a while, and the records under way go on meanwhile.
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(Receipt::with_event(action.completed(Some("m".into()))))
    }
}

const CONVERSATIONS: u64 = 4;
const BACKLOG: u64 = 300;

/// Each conversation's backlog: `BACKLOG` DMs after the actions its first message produced.
async fn backlogs(store: &Store, engine: &Engine) -> Vec<Vec<ActionId>> {
    let mut all = Vec::new();
    for user in 1..=CONVERSATIONS {
        engine
            .handle(dm(user, 100 + user, "hi"))
            .await
            .expect("applies");
    }
    // The first messages' own actions (a DM channel, the bot) first, by a plain worker.
    let clock = Clock::new();
    let first = Worker::new(store.clone(), FakeUpstream::new(false)).clock(move || clock.now());
    drain(&first, engine).await;
    for user in 1..=CONVERSATIONS {
        let conversation = store
            .open_conversation(UserId(user))
            .await
            .expect("query")
            .expect("open");
        let actions = crate::common::dms(conversation.id.as_str(), 1_000..1_000 + BACKLOG);
        store
            .enqueue(&actions, Timestamp(crate::common::T0))
            .await
            .expect("enqueue");
        all.push(actions.into_iter().map(|a| a.id).collect());
    }
    all
}

pub(crate) async fn two_instances_drain_long_backlogs_in_order(a: Store, b: Store) {
    let clock = Clock::new();
    let engine_a = engine(&a, &clock);
    let engine_b = engine(&b, &clock);
    let expected = backlogs(&a, &engine_a).await;
    let log = Log::default();
    let config = |owner: &str| WorkerConfig {
        owner: owner.to_owned(),
        poll: Duration::from_millis(20),
        // Short runs: many continuations and many claims across the two instances.
        run: 8,
        ..WorkerConfig::default()
    };
    let workers = [
        (
            Arc::new(Worker::new(a.clone(), log.clone()).config(config("wa"))),
            engine_a,
        ),
        (
            Arc::new(Worker::new(b.clone(), log.clone()).config(config("wb"))),
            engine_b,
        ),
    ];
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for (worker, engine) in workers {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop_tx);
        tasks.push(tokio::spawn(async move {
            worker
                .run(&engine, async {
                    let _ = stop_rx.await;
                })
                .await
        }));
    }
    let total = usize::try_from(CONVERSATIONS * BACKLOG).expect("small");
    let started = Instant::now();
    loop {
        let called = log.0.lock().expect("log").len();
        if called >= total {
            break;
        }
        // Far less than a pool's acquire timeout (30 s): a stall shows as a timeout here.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the backlogs did not drain: {called} of {total} called"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stopping finishes the records under way.
    for stop in stops {
        stop.send(()).expect("worker alive");
    }
    for task in tasks {
        task.await.expect("task").expect("run ends cleanly");
    }
    let calls = log.0.lock().expect("log").clone();
    assert_eq!(calls.len(), total, "each action called once");
    let mut by_conversation: HashMap<String, Vec<ActionId>> = HashMap::new();
    for id in calls {
        by_conversation
            .entry(id.scope().to_owned())
            .or_default()
            .push(id);
    }
    for ids in expected {
        let scope = ids[0].scope().to_owned();
        assert_eq!(
            by_conversation.remove(&scope).unwrap_or_default(),
            ids,
            "conversation {scope} called in order, once each"
        );
    }
    for state in ["pending", "running", "failed", "dead"] {
        assert_eq!(crate::suite::count(&a, state).await, 0, "{state} rows left");
    }
}
