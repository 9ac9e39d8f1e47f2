//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error from the Twilio client: match on [`Error::kind`], walk [`std::error::Error::source`].
///
/// Dependency errors (reqwest, `serde_json`) are kept private as the boxed source, so upgrading
/// them is not a breaking change.
pub struct Error {
    kind: ErrorKind,
    source: Option<BoxError>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Twilio answered with an error status.
    #[error("Twilio answered {status} with error {}: {}", .api.code, .api.message)]
    Api {
        /// The HTTP status.
        status: u16,
        /// Twilio's error body.
        api: ApiError,
        /// The `Retry-After` header, if any.
        retry_after: Option<Duration>,
    },
    /// The request could not be delivered or the connection broke.
    #[error("could not reach Twilio (request {})", if *.sent { "possibly sent" } else { "not sent" })]
    Transport {
        /// Whether the request may have reached Twilio (false: it certainly did not).
        sent: bool,
    },
    /// No answer in time.
    #[error("no answer from Twilio in time (request {})", if *.sent { "sent" } else { "not sent" })]
    Timeout {
        /// Whether the request had been sent when time ran out.
        sent: bool,
    },
    /// A success response whose body could not be decoded.
    #[error("response could not be decoded: {snippet}")]
    Decode {
        /// The start of the body (at most 200 characters).
        snippet: String,
    },
    /// An invalid SID, URL, credential or request field, found before anything was sent.
    #[error("invalid request: {reason}")]
    Invalid {
        /// What was invalid.
        reason: String,
    },
}

/// Twilio's error body: `{"code", "message", "more_info", "status"}`.
///
/// Newer APIs may answer with an RFC 9457 problem document (`type`, `title`, `detail`); its
/// fields are mapped onto the same struct. A body that is not JSON becomes an `ApiError` with
/// `code` 0 and the start of the body as `message`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// Twilio's error number (e.g. 20404), 0 if Twilio sent none.
    #[serde(default)]
    pub code: u32,
    /// Human-readable message.
    #[serde(default, alias = "title")]
    pub message: String,
    /// Link to the error's documentation.
    #[serde(default, alias = "type")]
    pub more_info: Option<String>,
    /// The HTTP status Twilio put in the body.
    #[serde(default)]
    pub status: Option<u16>,
    /// Extra detail (RFC 9457 `detail`).
    #[serde(default)]
    pub detail: Option<String>,
}

impl ApiError {
    /// Decodes an error body answered with `status`, tolerating anything: a body that is not
    /// Twilio's JSON becomes code 0 with the start of the body as message. Public so that code
    /// judging errors (retry policies, their tests) can build one.
    pub fn from_body(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ApiError>(body) {
            Ok(mut api) => {
                if api.status.is_none() {
                    api.status = Some(status);
                }
                api
            }
            Err(_) => ApiError {
                code: 0,
                message: snippet(body),
                more_info: None,
                status: Some(status),
                detail: None,
            },
        }
    }
}

/// The start of a body for error messages, at most 200 characters.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

impl Error {
    /// An error of `kind` without a source. Public so that code judging errors (retry
    /// policies, their tests) can build one.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid {
            reason: reason.into(),
        })
    }

    pub(crate) fn decode(body: &[u8], source: serde_json::Error) -> Self {
        Self::with_source(
            ErrorKind::Decode {
                snippet: snippet(body),
            },
            source,
        )
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error, returning its kind.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// Twilio's error body, if Twilio answered with an error.
    pub fn api(&self) -> Option<&ApiError> {
        match &self.kind {
            ErrorKind::Api { api, .. } => Some(api),
            _ => None,
        }
    }

    /// The HTTP status, if Twilio answered with an error.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 404 / Twilio error 20404 (the resource does not exist).
    pub fn is_not_found(&self) -> bool {
        matches!(&self.kind, ErrorKind::Api { status: 404, .. })
            || self.api().is_some_and(|a| a.code == 20404)
    }

    /// Whether sending the same request again is safe and may succeed, whatever its method:
    /// HTTP 429 or 503 (Twilio did not process it), or a transport failure or timeout before
    /// the request was sent. GETs and DELETEs may be retried in more cases; see
    /// [`retry::decide`](crate::retry::decide).
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ErrorKind::Api { status, .. } => matches!(status, 429 | 503),
            ErrorKind::Transport { sent } | ErrorKind::Timeout { sent } => !sent,
            _ => false,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
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

impl From<crate::sid::SidError> for Error {
    fn from(error: crate::sid::SidError) -> Self {
        Self::with_source(
            ErrorKind::Invalid {
                reason: error.to_string(),
            },
            error,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_twilio_and_problem_bodies() {
        let api = ApiError::from_body(
            404,
            br#"{"code":20404,"message":"not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}"#,
        );
        assert_eq!(api.code, 20404);
        assert_eq!(api.message, "not found");
        assert_eq!(api.status, Some(404));

        let problem = ApiError::from_body(
            400,
            br#"{"type":"https://x/e","title":"Bad","status":400,"code":21211,"detail":"d"}"#,
        );
        assert_eq!(problem.code, 21211);
        assert_eq!(problem.message, "Bad");
        assert_eq!(problem.more_info.as_deref(), Some("https://x/e"));
        assert_eq!(problem.detail.as_deref(), Some("d"));

        let html = ApiError::from_body(502, b"<html>bad gateway</html>");
        assert_eq!(html.code, 0);
        assert_eq!(html.status, Some(502));
        assert!(html.message.contains("bad gateway"));
    }

    #[test]
    fn retryable_table() {
        let api = |status| {
            Error::new(ErrorKind::Api {
                status,
                api: ApiError::from_body(status, b""),
                retry_after: None,
            })
        };
        assert!(api(429).is_retryable());
        assert!(api(503).is_retryable());
        assert!(!api(500).is_retryable());
        assert!(!api(404).is_retryable());
        assert!(api(404).is_not_found());
        assert!(Error::new(ErrorKind::Timeout { sent: false }).is_retryable());
        assert!(!Error::new(ErrorKind::Timeout { sent: true }).is_retryable());
        assert!(Error::new(ErrorKind::Transport { sent: false }).is_retryable());
        assert!(!Error::new(ErrorKind::Transport { sent: true }).is_retryable());
        assert!(!Error::invalid("x").is_retryable());
    }

    #[test]
    fn snippet_is_bounded() {
        let long = "é".repeat(1000);
        let s = snippet(long.as_bytes());
        assert_eq!(s.chars().count(), 201);
    }
}
