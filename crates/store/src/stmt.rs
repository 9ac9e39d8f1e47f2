//! Plain write statements (no reads between them) run as one write on either backend: on
//! `SQLite` in place on the group-commit writer's connection, on Postgres in a transaction.

use crate::apply::Lite;
use crate::error::Error;
use crate::store::{Backend, Store};

/// A bound value of a statement.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}

impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_owned()))
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}

impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Self {
        Val::Text(v.map(str::to_owned))
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Val::Int(v) => v.to_sql(),
            Val::Text(v) => v.to_sql(),
        }
    }
}

/// One statement (written with `$n` placeholders) and its values.
pub(crate) type Stmt = (&'static str, Vec<Val>);

impl Store {
    /// Runs `stmts` in order as one write (all or none); the rows each changed.
    pub(crate) async fn exec_writes(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, Error> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.writer()?
                    .write_now(move |conn| {
                        let lite = Lite(conn, None);
                        stmts
                            .iter()
                            .map(|(sql, vals)| lite.exec(sql, rusqlite::params_from_iter(vals)))
                            .collect()
                    })
                    .await
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let mut changed = Vec::with_capacity(stmts.len());
                for (sql, vals) in stmts {
                    let mut q = sqlx::query(sql);
                    for v in vals {
                        q = match v {
                            Val::Int(v) => q.bind(v),
                            Val::Text(v) => q.bind(v),
                        };
                    }
                    changed.push(q.execute(&mut *tx).await?.rows_affected());
                }
                tx.commit().await?;
                Ok(changed)
            }
        }
    }

    /// Runs one statement as a write; the rows it changed.
    pub(crate) async fn exec_write(&self, sql: &'static str, vals: Vec<Val>) -> Result<u64, Error> {
        Ok(self.exec_writes(vec![(sql, vals)]).await?.into_iter().sum())
    }
}
