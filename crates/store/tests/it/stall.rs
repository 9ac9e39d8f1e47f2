//! A delivery that holds a transaction of another store on the same `SQLite` file (the app's
//! embedded case store) across an await must not stall the worker: the worker keeps polling
//! the deliveries under way while its claim waits for the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flexcord_routing::{Action, ActionKind, UserId};
use flexcord_store::{Deliver, Failure, Receipt, Worker, WorkerConfig};
use sqlx::sqlite::SqlitePool;

use crate::common::{Clock, FakeUpstream, dm, engine};

/// Writes each case it opens into a table of its own, in a transaction of its own pool that
/// holds `SQLite`'s write lock across an await, as a case store on the same file does.
#[derive(Clone)]
struct CaseWriter {
    inner: FakeUpstream,
    pool: SqlitePool,
}

impl Deliver for CaseWriter {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        if matches!(action.kind, ActionKind::OpenCase { .. }) {
            let fail = |e: sqlx::Error| Failure::transient(e.to_string());
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(fail)?;
            sqlx::query("INSERT INTO side_cases (action) VALUES ($1)")
                .bind(action.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            // The lock is held while this delivery waits; it needs to be polled again to let go.
            tokio::time::sleep(Duration::from_millis(30)).await;
            sqlx::query("UPDATE side_cases SET done = 1 WHERE action = $1")
                .bind(action.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        }
        self.inner.deliver(action).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_holding_a_sqlite_lock_does_not_stall_the_worker() {
    let (store, dir) = crate::common::sqlite().await;
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options.busy_timeout(Duration::from_secs(10)))
        .await
        .expect("second pool");
    sqlx::query(
        "CREATE TABLE side_cases (action TEXT PRIMARY KEY, done INTEGER NOT NULL DEFAULT 0)",
    )
    .execute(&pool)
    .await
    .expect("table");
    let clock = Clock::new();
    let engine = engine(&store, &clock);
    let up = CaseWriter {
        inner: FakeUpstream::new(true),
        pool: pool.clone(),
    };
    let c = clock.clone();
    let worker = Arc::new(
        Worker::new(store.clone(), up)
            .config(WorkerConfig {
                owner: "stall".to_owned(),
                lease: Duration::from_secs(30),
                // Claims come often, so one is sure to wait for a delivery's lock.
                poll: Duration::from_millis(2),
                concurrency: 8,
                ..WorkerConfig::default()
            })
            .clock(move || c.now()),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (worker, engine) = (worker.clone(), engine.clone());
        tokio::spawn(async move {
            worker
                .run(&engine, async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    let users = 6u64;
    let started = Instant::now();
    for user in 1..=users {
        engine
            .handle(dm(user, 100 + user, "I need a person"))
            .await
            .expect("applies");
    }
    // Every user's case opened. A claim that waited for a lock held by a delivery nobody polls
    // would only give up after the store's 10 s busy timeout, once per stalled claim.
    loop {
        let mut opened = 0;
        for user in 1..=users {
            let conv = store.open_conversation(UserId(user)).await.expect("q");
            if conv.is_some_and(|c| c.case.is_some()) {
                opened += 1;
            }
        }
        if opened == users {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{opened} of {users} cases opened after {:?}: the worker stalled",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM side_cases WHERE done = 1")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(done, i64::try_from(users).expect("small"));
    stop_tx.send(()).expect("worker alive");
    task.await.expect("task").expect("run ends cleanly");
}
