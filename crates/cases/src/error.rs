//! The crate's error type.

use std::fmt;

use crate::model::{CaseNumber, CaseStatus};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in this crate. Match on [`Error::kind`].
#[derive(Debug)]
pub struct Error {
    pub(crate) kind: ErrorKind,
    pub(crate) source: Option<BoxError>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No case with that number.
    #[error("no case {number}")]
    NotFound {
        /// The number asked for.
        number: CaseNumber,
    },
    /// The status change is not allowed (see [`CaseStatus::can_become`]).
    #[error("{number} cannot go from {from} to {to}")]
    IllegalTransition {
        /// The case.
        number: CaseNumber,
        /// Its status.
        from: CaseStatus,
        /// The status asked for.
        to: CaseStatus,
    },
    /// Bad input; the message names the field.
    #[error("invalid input: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// The API refused the token.
    #[error("missing or wrong API token")]
    Unauthorized,
    /// The database failed (connection, query, migration).
    #[error("case database error")]
    Database,
    /// The remote case service could not be reached or answered unexpectedly.
    #[error("case service request failed: {message}")]
    Remote {
        /// HTTP status, when there was an answer.
        status: Option<u16>,
        /// What happened.
        message: String,
    },
    /// Stored or received data could not be decoded.
    #[error("could not decode case data: {message}")]
    Decode {
        /// What could not be decoded.
        message: String,
    },
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether the same call may succeed later (database or network trouble), as opposed to a
    /// permanent refusal (not found, illegal transition, bad input, bad token).
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ErrorKind::Database => true,
            ErrorKind::Remote { status, .. } => status.is_none_or(|s| s >= 500 || s == 429),
            _ => false,
        }
    }

    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid {
            message: message.into(),
        })
    }

    pub(crate) fn not_found(number: CaseNumber) -> Self {
        Self::new(ErrorKind::NotFound { number })
    }

    pub(crate) fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode {
            message: message.into(),
        })
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
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
        Self::new(ErrorKind::Database).with_source(err)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::new(ErrorKind::Database).with_source(err)
    }
}
