//! Test fixtures: per-test SQLite files, per-test Postgres schemas, a served API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use flexcord_cases::{CaseKind, CaseStore, NewCase, PgCaseStore, Requester, SqliteCaseStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

pub(crate) const TOKEN: &str = "test-token-0123456789";

pub(crate) fn requester(id: &str) -> Requester {
    Requester {
        discord_id: id.to_owned(),
        name: format!("user {id}"),
    }
}

pub(crate) fn new_case(kind: CaseKind, subject: &str) -> NewCase {
    NewCase::new(kind, subject, requester("1001"))
}

/// A fresh SQLite store in its own temporary file (the directory lives as long as the store).
pub(crate) async fn sqlite() -> (SqliteCaseStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("cases.db").display());
    let store = SqliteCaseStore::connect(&url)
        .await
        .expect("sqlite store opens");
    (store, dir)
}

/// The Postgres URL, or `None` (after saying why) when tests may skip.
pub(crate) fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
                "DATABASE_URL is unset but FLEXCORD_CI=1: the Postgres tests must run in CI"
            );
            eprintln!("skipped: DATABASE_URL is unset, so this Postgres test does not run");
            None
        }
    }
}

/// A Postgres schema of its own for one test; dropped by [`PgSchema::drop`].
pub(crate) struct PgSchema {
    url: String,
    name: String,
}

static SCHEMA_SEQ: AtomicU32 = AtomicU32::new(0);

impl PgSchema {
    pub(crate) async fn create() -> Option<(PgCaseStore, PgSchema)> {
        let url = database_url()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "cases_t_{}_{}_{}",
            std::process::id(),
            SCHEMA_SEQ.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("postgres reachable");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let options = PgConnectOptions::from_str(&url)
            .expect("DATABASE_URL parses")
            .options([("search_path", name.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .expect("connect");
        let store = PgCaseStore::from_pool(pool).await.expect("migrations run");
        Some((store, PgSchema { url, name }))
    }

    pub(crate) async fn drop(self, store: PgCaseStore) {
        store.pool().close().await;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .expect("postgres reachable");
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&admin)
            .await
            .expect("drop schema");
        admin.close().await;
    }
}

/// Serves the API and web pages for `store` on 127.0.0.1:0; returns the base URL.
pub(crate) async fn serve(store: Arc<dyn CaseStore>) -> String {
    serve_service(flexcord_cases::CasesService::new(store, TOKEN).web_prefix("/cases")).await
}

/// Serves a configured service on 127.0.0.1:0 (with the peer address known, as the app and the
/// standalone server do); returns the base URL.
pub(crate) async fn serve_service(service: flexcord_cases::CasesService) -> String {
    let app = service
        .router()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    format!("http://{addr}")
}
