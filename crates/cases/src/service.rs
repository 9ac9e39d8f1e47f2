//! [`CasesService`]: the API and the agent pages as one axum [`Router`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::accounts::Accounts;
use crate::limit::{LoginLimiter, LoginLimits};
use crate::oidc::{Oidc, OidcConfig};
use crate::store::CaseStore;

/// The integration name of the token given to [`CasesService::new`] (`cases.token` in the app,
/// `FLEXCORD_CASES_TOKEN` for the standalone server): the audit trail shows `api:default`.
pub const DEFAULT_INTEGRATION: &str = "default";

/// How long an agent's session lasts by default.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Serves a [`CaseStore`] over HTTP: the REST API under `/api/v1` (a bearer token per
/// integration) and the agent web pages under a prefix (agents sign in with their own account,
/// or through single sign-on).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let (store, accounts) = flexcord_cases::open_with_accounts("sqlite://cases.db").await?;
/// let cases = flexcord_cases::CasesService::new(store, "s3cret-token-of-the-bridge")
///     .accounts(accounts)
///     .web_prefix("/cases");
/// let app = axum::Router::new().merge(cases.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(
///     listener,
///     app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
/// )
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CasesService {
    store: Arc<dyn CaseStore>,
    token: String,
    accounts: Option<Arc<dyn Accounts>>,
    oidc: Option<OidcConfig>,
    web_prefix: String,
    max_body_bytes: usize,
    secure_cookies: bool,
    session_ttl: Duration,
    limits: LoginLimits,
    client_ip_header: Option<String>,
    clock: Clock,
}

/// The service's clock (tests move it to end sessions).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

impl fmt::Debug for CasesService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CasesService")
            .field("token", &"<redacted>")
            .field("accounts", &self.accounts.is_some())
            .field("oidc", &self.oidc)
            .field("web_prefix", &self.web_prefix)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("secure_cookies", &self.secure_cookies)
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl CasesService {
    /// A service over `store`, accepting `token` as `Authorization: Bearer <token>` on the API
    /// as the integration [`DEFAULT_INTEGRATION`]. An empty (or all-blank) token accepts
    /// nobody. Defaults: pages under `/cases`, 64 KiB bodies, cookies without `Secure` (turn it
    /// on behind HTTPS), sessions of [`DEFAULT_SESSION_TTL`], no agent sign-in until
    /// [`accounts`](Self::accounts) or [`oidc`](Self::oidc) is given.
    pub fn new(store: Arc<dyn CaseStore>, token: impl Into<String>) -> Self {
        Self {
            store,
            token: token.into(),
            accounts: None,
            oidc: None,
            web_prefix: "/cases".into(),
            max_body_bytes: 64 * 1024,
            secure_cookies: false,
            session_ttl: DEFAULT_SESSION_TTL,
            limits: LoginLimits::default(),
            client_ip_header: None,
            clock: Arc::new(OffsetDateTime::now_utc),
        }
    }

    /// Agent accounts, sessions and further integration tokens (see
    /// [`crate::open_with_accounts`]). Without them the pages keep no sessions, so nobody can
    /// sign in, and the API takes only the token given to [`new`](Self::new).
    #[must_use]
    pub fn accounts(mut self, accounts: Arc<dyn Accounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// Single sign-on through an OpenID Connect provider (needs [`accounts`](Self::accounts)
    /// for the sessions).
    #[must_use]
    pub fn oidc(mut self, config: OidcConfig) -> Self {
        self.oidc = Some(config);
        self
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

    /// How long a session lasts after sign-in (at least a minute).
    #[must_use]
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl.max(Duration::from_secs(60));
        self
    }

    /// How many failed sign-ins are allowed per account and per address in a window.
    #[must_use]
    pub fn login_limits(mut self, limits: LoginLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Behind a reverse proxy: the header it puts the client's address in (e.g.
    /// `X-Forwarded-For`; its last entry is used). Unset, the peer address is used, which needs
    /// the server built with `into_make_service_with_connect_info::<SocketAddr>()`.
    #[must_use]
    pub fn client_ip_header(mut self, header: Option<String>) -> Self {
        self.client_ip_header = header.filter(|h| !h.trim().is_empty());
        self
    }

    /// Replaces the clock sessions are checked against (tests).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn shared(&self) -> Arc<Shared> {
        Arc::new(Shared {
            store: self.store.clone(),
            accounts: self.accounts.clone(),
            oidc: self.oidc.clone().map(Oidc::new),
            token_digest: Sha256::digest(self.token.as_bytes()).into(),
            token_is_blank: self.token.trim().is_empty(),
            web_prefix: self.web_prefix.clone(),
            max_body_bytes: self.max_body_bytes,
            secure_cookies: self.secure_cookies,
            session_ttl: self.session_ttl,
            limiter: LoginLimiter::new(self.limits),
            client_ip_header: self.client_ip_header.clone(),
            clock: self.clock.clone(),
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
    pub(crate) accounts: Option<Arc<dyn Accounts>>,
    pub(crate) oidc: Option<Oidc>,
    token_digest: [u8; 32],
    /// A blank token is a configuration mistake: it must not let an empty credential in.
    token_is_blank: bool,
    pub(crate) web_prefix: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) secure_cookies: bool,
    pub(crate) session_ttl: Duration,
    pub(crate) limiter: LoginLimiter,
    pub(crate) client_ip_header: Option<String>,
    clock: Clock,
}

impl Shared {
    /// Constant-time comparison of digests (so the token's length does not leak either).
    fn default_token_matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(&self.token_digest)) && !self.token_is_blank
    }

    /// The integration a presented API token belongs to.
    pub(crate) async fn integration(
        &self,
        presented: &str,
    ) -> Result<Option<String>, crate::Error> {
        if presented.is_empty() {
            return Ok(None);
        }
        if self.default_token_matches(presented) {
            return Ok(Some(DEFAULT_INTEGRATION.to_owned()));
        }
        match &self.accounts {
            Some(accounts) => accounts.token_owner(presented).await,
            None => Ok(None),
        }
    }

    /// Now, by the service's clock.
    pub(crate) fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}
