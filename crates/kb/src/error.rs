//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error from the knowledge base, the Rasa client or the embeddings client.
///
/// Match on [`Error::kind`]; the underlying cause (I/O, tantivy, reqwest) is reachable through
/// [`std::error::Error::source`] but is not part of the public API.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: Option<BoxError>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The article folder (or a file in it) could not be read.
    #[error("cannot read the knowledge base at {}", .path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
    },
    /// The search index could not be built or queried.
    #[error("search index error")]
    Index,
    /// Rasa answered with a non-success HTTP status.
    #[error("Rasa answered HTTP {status}: {body}")]
    RasaStatus {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Rasa did not answer in time.
    #[error("no answer from Rasa in time")]
    RasaTimeout,
    /// Rasa could not be reached (connection refused, DNS, TLS).
    #[error("could not reach Rasa")]
    RasaTransport,
    /// Rasa's answer was not the REST channel's JSON list of messages.
    #[error("Rasa's answer could not be decoded: {snippet}")]
    RasaDecode {
        /// The start of the response body.
        snippet: String,
    },
    /// The embeddings endpoint answered with a non-success HTTP status.
    #[error("the embeddings endpoint answered HTTP {status}: {body}")]
    EmbeddingsStatus {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The embeddings endpoint did not answer in time.
    #[error("no answer from the embeddings endpoint in time")]
    EmbeddingsTimeout,
    /// The embeddings endpoint could not be reached (connection refused, DNS, TLS).
    #[error("could not reach the embeddings endpoint")]
    EmbeddingsTransport,
    /// The embeddings endpoint's answer was not an embeddings list of the right length.
    #[error("the embeddings endpoint's answer could not be decoded: {snippet}")]
    EmbeddingsDecode {
        /// What is wrong, and the start of the response body.
        snippet: String,
    },
    /// A configuration value is invalid (for example the Rasa URL).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
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

impl From<tantivy::TantivyError> for Error {
    fn from(err: tantivy::TantivyError) -> Self {
        Self::with_source(ErrorKind::Index, err)
    }
}
