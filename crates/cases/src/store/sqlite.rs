//! The embedded store: one SQLite file (WAL), full-text search with FTS5.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::accounts::sql_accounts;
use super::sql::{Dialect, HasDb, case_columns, sql_case_store};
use crate::error::Error;

/// [`crate::CaseStore`] on SQLite: the default, embedded in the app's database file.
///
/// Case numbers come from a counter row updated in the same transaction as the insert; SQLite's
/// single writer makes them gap-free. Similar cases use an FTS5 index ranked by BM25.
#[derive(Debug, Clone)]
pub struct SqliteCaseStore {
    pool: SqlitePool,
    /// Taken around every write transaction: `SQLite` has one writer at a time, and writers
    /// that meet its lock wait in its busy handler, which sleeps and polls (up to 100 ms a
    /// turn). Queued here instead, the next writer starts the moment the last one commits.
    /// Shared with the other writer of the file ([`SqliteCaseStore::connect_sharing`]).
    gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteCaseStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`, `sqlite:path`,
    /// `sqlite::memory:`) and runs the migrations. Files use WAL with `synchronous=NORMAL` (a
    /// power cut may lose the last commits, never corrupt the file) and a 10-second busy timeout.
    ///
    /// # Errors
    /// `Database` when the file cannot be opened or migrated; `Invalid` for a malformed URL.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::open(url, None).await
    }

    /// Opens the store in a file that another writer of this process also writes (the
    /// conversation store of `flexcord-store`, whose `Store::write_turns`
    /// gives `turns`): the store's write transactions take their turns on `turns`, the lock the
    /// other writer takes around its own, so the two queue for the file in turn instead of this
    /// store waiting in SQLite's busy handler (which sleeps and polls, up to 100 ms a turn)
    /// while the other commits one transaction after another. Otherwise as
    /// [`SqliteCaseStore::connect`].
    ///
    /// # Errors
    /// As [`SqliteCaseStore::connect`].
    pub async fn connect_sharing(
        url: &str,
        turns: std::sync::Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, Error> {
        Self::open(url, Some(turns)).await
    }

    async fn open(
        url: &str,
        turns: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    ) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("malformed SQLite URL").with_source(e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let mut pool_options = SqlitePoolOptions::new().max_connections(4);
        if url.contains(":memory:") || url.contains("mode=memory") {
            // An in-memory database lives as long as one connection to it: keep one forever.
            pool_options = pool_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool_options.connect_with(options).await?;
        let mut store = Self::from_pool(pool).await?;
        if let Some(turns) = turns {
            store.gate = turns;
        }
        Ok(store)
    }

    /// Uses a pool the app already has (e.g. shared with the conversation store) and runs the
    /// migrations.
    ///
    /// # Errors
    /// `Database` when migrating fails.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, Error> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self {
            pool,
            gate: std::sync::Arc::default(),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for this store's turn to write (see the `gate` field).
    async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.gate.lock().await)
    }
}

impl HasDb for SqliteCaseStore {
    type Db = sqlx::Sqlite;
    type Pool = SqlitePool;
    type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;
}

fn fts_and(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fts_or(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" OR ")
}

sql_case_store!(
    SqliteCaseStore,
    Dialect {
        // A write first: the transaction takes SQLite's write lock before it reads (no upgrade
        // from a read snapshot, which could fail with SQLITE_BUSY instead of waiting).
        lock_case: "UPDATE cases SET number = number WHERE number = $1 RETURNING number",
        // Times are stored as RFC 3339 text in UTC (`…T10:00:05.12Z`) whose fraction varies in
        // length, so the text does not sort as the time does: compare the whole seconds (fixed
        // width) as text, then the fractions as numbers.
        resolved_before: "(substr(resolved_at, 1, 19) < substr($1, 1, 19) \
            OR (substr(resolved_at, 1, 19) = substr($1, 1, 19) \
            AND CAST('0' || substr(resolved_at, 20, length(resolved_at) - 20) AS REAL) \
            <= CAST('0' || substr($1, 20, length($1) - 20) AS REAL)))",
        text_filter: "c.number IN (SELECT rowid FROM cases_fts WHERE cases_fts MATCH {})",
        similar: concat!(
            "SELECT ",
            case_columns!(),
            ", -bm25(cases_fts, 10.0, 4.0, 2.0) AS score \
             FROM cases_fts JOIN cases c ON c.number = cases_fts.rowid \
             WHERE cases_fts MATCH $1 AND c.kind = 'bug' \
             AND c.status IN ('new', 'open', 'pending') AND c.number <> $2 \
             ORDER BY score DESC, c.number DESC LIMIT $3"
        ),
        and_query: fts_and,
        or_query: fts_or,
    }
);

sql_accounts!(SqliteCaseStore);
