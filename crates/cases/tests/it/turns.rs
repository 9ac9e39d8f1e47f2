//! A SQLite case store sharing its write turns with another writer of its file.

use std::sync::Arc;
use std::time::Duration;

use flexcord_cases::{CaseKind, CaseStore, SqliteCaseStore};

use crate::common::new_case;

#[tokio::test]
async fn writes_wait_for_the_turns_they_share() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("cases.db").display());
    let turns = Arc::new(tokio::sync::Mutex::new(()));
    let store = Arc::new(
        SqliteCaseStore::connect_sharing(&url, turns.clone())
            .await
            .expect("opens"),
    );
    let held = turns.clone().lock_owned().await;
    let writing = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create(new_case(CaseKind::Bug, "Crash on start"))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !writing.is_finished(),
        "a write waits while the other writer has the turn"
    );
    // Reads do not take turns.
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        store.get(flexcord_cases::CaseNumber::new(1).expect("non-zero")),
    )
    .await
    .expect("a read does not wait");
    assert!(matches!(
        read.expect_err("nothing written yet").kind(),
        flexcord_cases::ErrorKind::NotFound { .. }
    ));
    drop(held);
    let case = writing.await.expect("task").expect("created");
    assert_eq!(case.subject, "Crash on start");
    assert!(turns.try_lock().is_ok(), "the turn is given back");
}
