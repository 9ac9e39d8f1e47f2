//! The store's error type.

use std::fmt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in the store.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<BoxError>,
}

/// The kind of an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The database failed (connection, query, migration).
    #[error("database error")]
    Database,
    /// A uniqueness rule refused the write (e.g. a second open conversation for a user).
    #[error("conflicting write: {0}")]
    Conflict(String),
    /// A stored value could not be read back.
    #[error("stored value could not be decoded: {0}")]
    Decode(String),
    /// Bad input (malformed URL, unsupported scheme, id out of range).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Too many writes are waiting: try again shortly (answered at once instead of queueing
    /// without bound).
    #[error("the store is busy: too many writes waiting")]
    Busy,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind, to match on.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// A uniqueness conflict (another writer won a race; retrying is safe).
    pub fn is_conflict(&self) -> bool {
        matches!(self.kind, ErrorKind::Conflict(_))
    }

    /// The store refused the write because too many are waiting (retry shortly).
    pub fn is_busy(&self) -> bool {
        matches!(self.kind, ErrorKind::Busy)
    }

    /// The database failed or was too busy for now (a lost connection, a pool that timed
    /// out, too many writes waiting): the same work may succeed when tried again. Not for a
    /// value that cannot be decoded, bad input or a lost race.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Database | ErrorKind::Busy)
    }

    /// `SQLite` gave up waiting for another connection's lock (`SQLITE_BUSY`, `SQLITE_LOCKED`):
    /// the same write may succeed when tried again.
    pub fn is_locked(&self) -> bool {
        let Some(source) = self.source.as_deref() else {
            return false;
        };
        match source.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                // The primary result code is the low byte of an extended one.
                code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            }),
            Some(_) => false,
            None if source.downcast_ref::<rusqlite::Error>().is_some() => matches!(
                source.downcast_ref::<rusqlite::Error>(),
                Some(rusqlite::Error::SqliteFailure(e, _)) if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
            ),
            // Passed on as text (the writer answers every job of a batch that could not
            // start): SQLite's own words.
            None => {
                let text = source.to_string();
                text.contains("database is locked") || text.contains("database table is locked")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)?;
        if let (ErrorKind::Database, Some(source)) = (&self.kind, &self.source) {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            let what = db.message().to_owned();
            return Self::new(ErrorKind::Conflict(what)).with_source(err);
        }
        Self::new(ErrorKind::Database).with_source(err)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(e, message) = &err
            && matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
        {
            let what = message.clone().unwrap_or_else(|| e.to_string());
            return Self::new(ErrorKind::Conflict(what)).with_source(err);
        }
        Self::new(ErrorKind::Database).with_source(err)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::new(ErrorKind::Database).with_source(err)
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self::new(ErrorKind::Decode(err.to_string())).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_timeout_is_told_apart_from_other_database_errors() {
        let locked = Error::new(ErrorKind::Database)
            .with_source("error returned from database: (code: 5) database is locked".to_owned());
        assert!(locked.is_locked());
        let other = Error::new(ErrorKind::Database).with_source("no such table: outbox".to_owned());
        assert!(!other.is_locked());
        assert!(!Error::new(ErrorKind::Busy).is_locked());
        let pool = Error::from(sqlx::Error::PoolTimedOut);
        assert!(!pool.is_locked());
    }

    #[tokio::test]
    async fn sqlite_busy_from_a_held_write_lock_is_locked() {
        use sqlx::ConnectOptions as _;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let options = options
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_millis(50));
        let mut holder = options.connect().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut other = options.connect().await.unwrap();
        let err = Error::from(
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut other)
                .await
                .unwrap_err(),
        );
        assert!(err.is_locked(), "{err}");
    }
}
