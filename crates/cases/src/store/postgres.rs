//! The Postgres store: full-text search with a generated `tsvector` column.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::accounts::sql_accounts;
use super::sql::{Dialect, HasDb, case_columns, sql_case_store};
use crate::error::Error;

/// [`crate::CaseStore`] on Postgres.
///
/// Case numbers come from `UPDATE case_counters SET n = n + 1 ... RETURNING n` in the creating
/// transaction: the row lock serialises concurrent creators and a rolled-back creation gives its
/// number back, so numbers stay gap-free. Writes to a case take its row lock (`FOR UPDATE`).
/// Similar cases use `websearch_to_tsquery` over an English `tsvector`, ranked by `ts_rank`.
#[derive(Debug, Clone)]
pub struct PgCaseStore {
    pool: PgPool,
}

impl PgCaseStore {
    /// Postgres writers wait for each other's row locks themselves: no gate.
    #[allow(clippy::unused_async)] // the same call as `SqliteCaseStore`'s
    async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        None
    }

    /// Connects to `url` (`postgres://user@host:port/db`) and runs the migrations.
    ///
    /// # Errors
    /// `Database` when connecting or migrating fails; `Invalid` for a malformed URL.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("malformed Postgres URL").with_source(e))?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses a pool the app already has (e.g. shared with the conversation store) and runs the
    /// migrations.
    ///
    /// # Errors
    /// `Database` when migrating fails.
    pub async fn from_pool(pool: PgPool) -> Result<Self, Error> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl HasDb for PgCaseStore {
    type Db = sqlx::Postgres;
    type Pool = PgPool;
    type Tx = sqlx::Transaction<'static, sqlx::Postgres>;
}

fn plain_words(words: &[String]) -> impl Iterator<Item = &str> {
    // `or` is an operator for websearch_to_tsquery.
    words.iter().map(String::as_str).filter(|w| *w != "or")
}

fn web_and(words: &[String]) -> String {
    plain_words(words).collect::<Vec<_>>().join(" ")
}

fn web_or(words: &[String]) -> String {
    plain_words(words).collect::<Vec<_>>().join(" or ")
}

sql_case_store!(
    PgCaseStore,
    Dialect {
        resolved_before: "resolved_at <= $1",
        lock_case: "SELECT number FROM cases WHERE number = $1 FOR UPDATE",
        text_filter: "c.search @@ websearch_to_tsquery('english', {})",
        similar: concat!(
            "SELECT ",
            case_columns!(),
            ", ts_rank(c.search, q)::float8 AS score \
             FROM cases c, websearch_to_tsquery('english', $1) q \
             WHERE c.search @@ q AND c.kind = 'bug' \
             AND c.status IN ('new', 'open', 'pending') AND c.number <> $2 \
             ORDER BY score DESC, c.number DESC LIMIT $3"
        ),
        and_query: web_and,
        or_query: web_or,
    }
);

sql_accounts!(PgCaseStore);
