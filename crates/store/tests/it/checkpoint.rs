//! The WAL of a `SQLite` store is copied back into the database file beside the writer
//! (commits do not checkpoint: `wal_autocheckpoint = 0`).

use std::time::{Duration, Instant};

use flexcord_routing::Timestamp;
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::common::T0;

/// The outbox rows the database file itself holds, read without the WAL (`immutable`); `None`
/// while the file cannot be read that way (a checkpoint is writing it).
async fn rows_in_the_file(path: &std::path::Path) -> Option<i64> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let mut conn = SqliteConnection::connect_with(&options).await.ok()?;
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&mut conn)
        .await
        .ok();
    let _ = conn.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_reach_the_database_file_without_a_checkpointing_commit() {
    let (store, dir) = crate::common::sqlite().await;
    let path = dir.path().join("store.db");
    store
        .enqueue(&crate::common::dms("cp", 0..20), Timestamp(T0))
        .await
        .expect("enqueue");
    // Twenty rows are far below the 1,000 WAL pages at which a commit would checkpoint: only
    // the store's own checkpoints put them into the file.
    let started = Instant::now();
    loop {
        if rows_in_the_file(&path).await == Some(20) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the WAL was not copied into the database file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
}
