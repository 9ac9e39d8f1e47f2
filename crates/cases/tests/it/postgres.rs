//! Postgres-only behaviour: gap-free numbers under concurrent creation, shared databases.

use std::sync::Arc;

use flexcord_cases::{CaseKind, CaseStore, PgCaseStore, SqliteCaseStore};
use sqlx::migrate::Migrator;

use crate::common::{PgSchema, new_case};

const N: u32 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_are_gap_free() {
    let Some((store, schema)) = PgSchema::create().await else {
        return;
    };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create(new_case(CaseKind::Support, &format!("case {i}")))
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task").expect("create").number.get());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=N).collect::<Vec<_>>());
    let store = Arc::try_unwrap(store).expect("sole owner");
    schema.drop(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_parallel_creates_are_gap_free() {
    let (store, _dir) = crate::common::sqlite().await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create(new_case(CaseKind::Bug, &format!("bug {i}")))
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task").expect("create").number.get());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=32).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_with_one_key_make_one_case() {
    let Some((store, schema)) = PgSchema::create().await else {
        return;
    };
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create(new_case(CaseKind::Support, "once").idempotency_key("action-1"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("create").number.get(), 1);
    }
    let next = store
        .create(new_case(CaseKind::Support, "next"))
        .await
        .expect("create");
    assert_eq!(
        next.number.get(),
        2,
        "losing attempts gave their numbers back"
    );
    let store = Arc::try_unwrap(store).expect("sole owner");
    schema.drop(store).await;
}

/// Another crate's migrator (like the conversation store's) with its own timestamp version.
async fn other_migrator(dir: &std::path::Path) -> Migrator {
    std::fs::write(
        dir.join("20250101000000_conversations.sql"),
        "CREATE TABLE conversations (id BIGINT PRIMARY KEY, state TEXT NOT NULL);",
    )
    .expect("write migration");
    let mut migrator = Migrator::new(dir).await.expect("migrator");
    migrator.set_ignore_missing(true);
    migrator
}

#[tokio::test]
async fn migrations_share_a_postgres_database() {
    let Some((store, schema)) = PgSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let other = other_migrator(dir.path()).await;
    other
        .run(store.pool())
        .await
        .expect("other crate migrates after cases");
    // Both ways round, and again: each ignores the other's versions.
    let again = PgCaseStore::from_pool(store.pool().clone())
        .await
        .expect("cases migrate again");
    other
        .run(again.pool())
        .await
        .expect("other crate migrates again");
    again
        .create(new_case(CaseKind::Bug, "still works"))
        .await
        .expect("create");
    schema.drop(store).await;
}

#[tokio::test]
async fn migrations_share_a_sqlite_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            url.parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true),
        )
        .await
        .expect("pool");
    let migrations = tempfile::tempdir().expect("temp dir");
    let other = other_migrator(migrations.path()).await;
    other.run(&pool).await.expect("other crate migrates first");
    let store = SqliteCaseStore::from_pool(pool.clone())
        .await
        .expect("cases migrate second");
    other.run(&pool).await.expect("other crate migrates again");
    store
        .create(new_case(CaseKind::Bug, "works"))
        .await
        .expect("create");
    let opened = flexcord_cases::open(&url).await.expect("open by URL");
    assert_eq!(opened.open_cases_for("1001").await.expect("list").len(), 1);
}
