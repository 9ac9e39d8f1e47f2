//! [`CasesService`]: the API and the agent pages as one axum [`Router`].

use std::fmt;
use std::sync::Arc;

use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::CaseStore;

/// Serves a [`CaseStore`] over HTTP: the REST API under `/api/v1` (bearer token) and the agent
/// web pages under a prefix (log in with the same token).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = flexcord_cases::open("sqlite://cases.db").await?;
/// let cases = flexcord_cases::CasesService::new(store, "s3cret-token").web_prefix("/cases");
/// let app = axum::Router::new().merge(cases.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CasesService {
    store: Arc<dyn CaseStore>,
    token: String,
    web_prefix: String,
    max_body_bytes: usize,
    secure_cookies: bool,
}

impl fmt::Debug for CasesService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CasesService")
            .field("token", &"<redacted>")
            .field("web_prefix", &self.web_prefix)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl CasesService {
    /// A service over `store`, accepting `token` as `Authorization: Bearer <token>` on the API
    /// and on the web login page. An empty (or all-blank) token accepts nobody. Defaults: pages
    /// under `/cases`, 64 KiB bodies, cookies without `Secure` (turn it on behind HTTPS).
    pub fn new(store: Arc<dyn CaseStore>, token: impl Into<String>) -> Self {
        Self {
            store,
            token: token.into(),
            web_prefix: "/cases".into(),
            max_body_bytes: 64 * 1024,
            secure_cookies: false,
        }
    }

    /// Where the agent pages live (`/cases` by default; `""` for the root). A trailing `/` is
    /// dropped.
    #[must_use]
    pub fn web_prefix(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim_end_matches('/');
        self.web_prefix = if trimmed.is_empty() || trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// The largest request body accepted; larger ones get 413.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Marks the session cookie `Secure` (only sent over HTTPS).
    #[must_use]
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    fn shared(&self) -> Arc<Shared> {
        let mut hasher = Sha256::new();
        hasher.update(b"flexcord-cases web session key\0");
        hasher.update(self.token.as_bytes());
        Arc::new(Shared {
            store: self.store.clone(),
            token_digest: Sha256::digest(self.token.as_bytes()).into(),
            token_is_blank: self.token.trim().is_empty(),
            web_key: hasher.finalize().into(),
            web_prefix: self.web_prefix.clone(),
            max_body_bytes: self.max_body_bytes,
            secure_cookies: self.secure_cookies,
        })
    }

    /// The REST API alone: `/api/v1/...` and `/api/v1/openapi.json`.
    pub fn api_router(&self) -> Router {
        crate::api::router(self.shared())
    }

    /// The agent pages alone, at their prefix.
    pub fn web_router(&self) -> Router {
        crate::web::router(self.shared())
    }

    /// API and pages together; merge it into the app's router.
    pub fn router(&self) -> Router {
        let shared = self.shared();
        crate::api::router(shared.clone()).merge(crate::web::router(shared))
    }
}

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn CaseStore>,
    token_digest: [u8; 32],
    /// A blank token is a configuration mistake: it must not let an empty credential in.
    token_is_blank: bool,
    pub(crate) web_key: [u8; 32],
    pub(crate) web_prefix: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) secure_cookies: bool,
}

impl Shared {
    /// Constant-time comparison of digests (so the token's length does not leak either).
    pub(crate) fn token_matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(&self.token_digest)) && !self.token_is_blank
    }
}
