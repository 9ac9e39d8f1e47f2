//! [`Client`] and [`ClientBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ApiError, Error, ErrorKind};
use crate::request::{Product, Request, Target};
use crate::retry::{self, Decision, RetryPolicy, Sleep};
use crate::sid::{AccountSid, ApiKeySid};

/// A secret string that never shows in `Debug` or `Display`, zeroed in memory when dropped
/// (a [`secrecy::SecretString`]).
#[derive(Clone)]
pub struct Secret(secrecy::SecretString);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secrecy::SecretString::from(secret.into()))
    }
    /// The secret itself. Avoid logging it.
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}
impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// How the client authenticates (HTTP Basic).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// Account SID and its Auth Token.
    AuthToken {
        /// The account (`AC…`), the Basic user name.
        account_sid: AccountSid,
        /// The Auth Token, the Basic password.
        auth_token: Secret,
    },
    /// An API key: recommended for production.
    ApiKey {
        /// The account the key belongs to.
        account_sid: AccountSid,
        /// The key (`SK…`), the Basic user name.
        key_sid: ApiKeySid,
        /// The key's secret, the Basic password.
        secret: Secret,
    },
}

impl Credentials {
    /// The account these credentials act for.
    pub fn account_sid(&self) -> AccountSid {
        match self {
            Credentials::AuthToken { account_sid, .. }
            | Credentials::ApiKey { account_sid, .. } => *account_sid,
        }
    }

    fn basic(&self) -> (&str, &str) {
        match self {
            Credentials::AuthToken {
                account_sid,
                auth_token,
            } => (account_sid.as_str(), auth_token.expose()),
            Credentials::ApiKey {
                key_sid, secret, ..
            } => (key_sid.as_str(), secret.expose()),
        }
    }
}

/// Base URLs per product; each defaults to Twilio's host.
#[derive(Clone, PartialEq, Eq)]
struct BaseUrls {
    chat: Url,
    flex: Url,
    conversations: Url,
    studio: Url,
    media: Url,
}

impl fmt::Debug for BaseUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaseUrls")
            .field("chat", &self.chat.as_str())
            .field("flex", &self.flex.as_str())
            .field("conversations", &self.conversations.as_str())
            .field("studio", &self.studio.as_str())
            .field("media", &self.media.as_str())
            .finish()
    }
}

impl BaseUrls {
    fn get(&self, product: Product) -> &Url {
        match product {
            Product::Chat => &self.chat,
            Product::Flex => &self.flex,
            Product::Conversations => &self.conversations,
            Product::Studio => &self.studio,
            Product::Media => &self.media,
        }
    }
}

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use flexcord_twilio::Client;
///
/// let client = Client::builder()
///     .account("AC0123456789abcdef0123456789abcdef", "auth-token")
///     // e.g. a local emulator; each product can also be set on its own
///     .base_url("http://127.0.0.1:4010")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// assert!(!format!("{client:?}").contains("auth-token"));
/// # Ok::<(), flexcord_twilio::Error>(())
/// ```
#[must_use]
pub struct ClientBuilder {
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    api_key: Option<(String, Secret)>,
    urls: [(Product, Option<String>); 5],
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    sleep: Option<Sleep>,
    user_agent_extension: Option<String>,
    http: Option<reqwest::Client>,
    edge: Option<String>,
    region: Option<String>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth_token)
            .field("api_key", &self.api_key)
            .field("urls", &self.urls)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            account_sid: None,
            auth_token: None,
            api_key: None,
            urls: Product::ALL.map(|p| (p, None)),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            sleep: None,
            user_agent_extension: None,
            http: None,
            edge: None,
            region: None,
        }
    }
}

impl ClientBuilder {
    /// Authenticates with the Account SID and its Auth Token.
    pub fn account(
        mut self,
        account_sid: impl Into<String>,
        auth_token: impl Into<Secret>,
    ) -> Self {
        self.account_sid = Some(account_sid.into());
        self.auth_token = Some(auth_token.into());
        self
    }

    /// Authenticates with an API key (`SK…` and its secret) instead of the Auth Token. The
    /// account SID is still required ([`ClientBuilder::account_sid`] or
    /// [`ClientBuilder::account`]).
    pub fn api_key(mut self, key_sid: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.api_key = Some((key_sid.into(), secret.into()));
        self
    }

    /// Sets the account SID alone (with [`ClientBuilder::api_key`]).
    pub fn account_sid(mut self, account_sid: impl Into<String>) -> Self {
        self.account_sid = Some(account_sid.into());
        self
    }

    /// Points one product at another base URL (scheme, host, optional port and path prefix).
    pub fn product_url(mut self, product: Product, url: impl Into<String>) -> Self {
        let url = url.into();
        for (p, slot) in &mut self.urls {
            if *p == product {
                *slot = Some(url);
                break;
            }
        }
        self
    }

    /// Points every product at one base URL, e.g. a local emulator or mock server.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        for (_, slot) in &mut self.urls {
            *slot = Some(url.clone());
        }
        self
    }

    /// Base URL of Programmable Chat (default `https://chat.twilio.com`).
    pub fn chat_url(self, url: impl Into<String>) -> Self {
        self.product_url(Product::Chat, url)
    }
    /// Base URL of the Flex API (default `https://flex-api.twilio.com`).
    pub fn flex_url(self, url: impl Into<String>) -> Self {
        self.product_url(Product::Flex, url)
    }
    /// Base URL of Conversations (default `https://conversations.twilio.com`).
    pub fn conversations_url(self, url: impl Into<String>) -> Self {
        self.product_url(Product::Conversations, url)
    }
    /// Base URL of Studio (default `https://studio.twilio.com`).
    pub fn studio_url(self, url: impl Into<String>) -> Self {
        self.product_url(Product::Studio, url)
    }
    /// Base URL of the Media Content Service (default `https://mcs.us1.twilio.com`).
    pub fn media_url(self, url: impl Into<String>) -> Self {
        self.product_url(Product::Media, url)
    }

    /// Routes the Chat, Flex, Conversations and Studio hosts through a Twilio edge location, e.g.
    /// `dublin` (`conversations.dublin.us1.twilio.com`; the region defaults to `us1` as in
    /// Twilio's helper libraries). Only products left on their default host are affected.
    pub fn edge(mut self, edge: impl Into<String>) -> Self {
        self.edge = Some(edge.into());
        self
    }

    /// Routes the Chat, Flex, Conversations and Studio hosts to a Twilio region, e.g. `ie1`
    /// (`conversations.ie1.twilio.com`). Use it only if the account's data lives there.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Total time allowed for one attempt (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retry limits (default: 3 retries, 200 ms doubling up to 5 s).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Replaces the sleep between retries (tests inject one that records and returns at once).
    pub fn sleep(mut self, sleep: Sleep) -> Self {
        self.sleep = Some(sleep);
        self
    }

    /// Appends a token to the User-Agent, e.g. `flexcord/0.1.0`.
    pub fn user_agent_extension(mut self, extension: impl Into<String>) -> Self {
        self.user_agent_extension = Some(extension.into());
        self
    }

    /// Uses an existing reqwest client (its own timeouts and connection settings then apply;
    /// the User-Agent and credentials are still added to every request).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Invalid`] for a missing or malformed credential or base URL, or when the
    /// HTTP client cannot be created.
    pub fn build(self) -> Result<Client, Error> {
        let account_sid: AccountSid = self
            .account_sid
            .as_deref()
            .ok_or_else(|| Error::invalid("the account SID is missing"))?
            .parse()?;
        let credentials = match (self.api_key, self.auth_token) {
            (Some((key_sid, secret)), _) => Credentials::ApiKey {
                account_sid,
                key_sid: key_sid.parse()?,
                secret,
            },
            (None, Some(auth_token)) => Credentials::AuthToken {
                account_sid,
                auth_token,
            },
            (None, None) => return Err(Error::invalid("no Auth Token or API key given")),
        };
        let url = |product: Product| -> Result<Url, Error> {
            let overridden = self
                .urls
                .iter()
                .find(|(p, _)| *p == product)
                .and_then(|(_, u)| u.clone());
            let text = match overridden {
                Some(text) => text,
                None => regional_url(product, self.edge.as_deref(), self.region.as_deref()),
            };
            let text = text.as_str();
            let url = Url::parse(text).map_err(|e| {
                Error::with_source(
                    ErrorKind::Invalid {
                        reason: format!("invalid {product} base URL {text:?}"),
                    },
                    e,
                )
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(Error::invalid(format!(
                    "invalid {product} base URL {text:?}: not http(s)"
                )));
            }
            Ok(url)
        };
        let urls = BaseUrls {
            chat: url(Product::Chat)?,
            flex: url(Product::Flex)?,
            conversations: url(Product::Conversations)?,
            studio: url(Product::Studio)?,
            media: url(Product::Media)?,
        };
        let mut user_agent = format!(
            "flexcord-twilio/{} ({} {}) rust",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        if let Some(ext) = &self.user_agent_extension {
            user_agent.push(' ');
            user_agent.push_str(ext);
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(user_agent.clone())
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                // Twilio does not redirect; never carry credentials anywhere else.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::Invalid {
                            reason: "could not build the HTTP client".into(),
                        },
                        e,
                    )
                })?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                credentials,
                urls,
                user_agent,
                retry: self.retry,
                sleep: self.sleep.unwrap_or_else(retry::tokio_sleep),
            }),
        })
    }
}

/// A Twilio REST client: credentials, one connection pool, base URLs, retries.
///
/// Cheap to clone (an `Arc`). Secrets never appear in `Debug`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    credentials: Credentials,
    urls: BaseUrls,
    user_agent: String,
    retry: RetryPolicy,
    sleep: Sleep,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("credentials", &self.inner.credentials)
            .field("urls", &self.inner.urls)
            .field("user_agent", &self.inner.user_agent)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// A raw response: status, headers and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for Twilio's production hosts with an Account SID and Auth Token.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn new(account_sid: &str, auth_token: impl Into<Secret>) -> Result<Self, Error> {
        Self::builder().account(account_sid, auth_token).build()
    }

    /// The account this client acts for.
    pub fn account_sid(&self) -> AccountSid {
        self.inner.credentials.account_sid()
    }

    /// The User-Agent the client sends.
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }

    /// The base URL of a product.
    pub fn base_url(&self, product: Product) -> &str {
        self.inner.urls.get(product).as_str()
    }

    /// The absolute URL a request goes to (without the query).
    ///
    /// # Errors
    /// [`ErrorKind::Invalid`] when an absolute target is not a URL.
    pub fn url_for(&self, request: &Request) -> Result<Url, Error> {
        match request.target() {
            Target::Path(path) => {
                let base = self.inner.urls.get(request.product());
                let mut url = base.clone();
                let prefix = base.path().trim_end_matches('/');
                url.set_path(&format!("{prefix}{path}"));
                Ok(url)
            }
            Target::Url(text) => {
                let url = Url::parse(text).map_err(|e| {
                    Error::with_source(
                        ErrorKind::Invalid {
                            reason: format!("invalid URL {text:?}"),
                        },
                        e,
                    )
                })?;
                self.check_origin(request.product(), &url)?;
                Ok(url)
            }
        }
    }

    /// Credentials are only ever sent to the product's own host or to Twilio.
    fn check_origin(&self, product: Product, url: &Url) -> Result<(), Error> {
        let base = self.inner.urls.get(product);
        let same = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        let twilio = url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|h| h == "twilio.com" || h.ends_with(".twilio.com"));
        if same || twilio {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "refusing to send credentials to {url}: not the {product} host"
            )))
        }
    }

    /// Sends a request with retries and decodes a JSON success body into `T`.
    ///
    /// # Errors
    /// [`ErrorKind::Api`] for a Twilio error status, [`ErrorKind::Decode`] for an undecodable
    /// body, and transport / timeout errors once retries are exhausted.
    pub async fn execute<T: DeserializeOwned>(&self, request: Request) -> Result<T, Error> {
        let response = self.send(request).await?;
        serde_json::from_slice(&response.body).map_err(|e| Error::decode(&response.body, e))
    }

    /// Sends a request with retries and returns the raw success response (any 2xx).
    ///
    /// # Errors
    /// As [`Client::execute`], except decoding.
    pub async fn send(&self, request: Request) -> Result<Response, Error> {
        let mut attempt = 0;
        loop {
            match self.send_once(&request).await {
                Ok(response) => return Ok(response),
                Err(error) => {
                    let decision = retry::decide(
                        &self.inner.retry,
                        attempt,
                        request.method(),
                        &error,
                        retry::random_jitter(),
                    );
                    match decision {
                        Decision::GiveUp => return Err(error),
                        Decision::RetryAfter(delay) => {
                            tracing::debug!(
                                method = %request.method(),
                                product = %request.product(),
                                attempt,
                                ?delay,
                                error = %error,
                                "retrying Twilio request"
                            );
                            (self.inner.sleep)(delay).await;
                            attempt += 1;
                        }
                    }
                }
            }
        }
    }

    async fn send_once(&self, request: &Request) -> Result<Response, Error> {
        let url = self.url_for(request)?;
        let (user, password) = self.inner.credentials.basic();
        let mut builder = self
            .inner
            .http
            .request(request.method().clone(), url)
            .basic_auth(user, Some(password))
            .header(http::header::USER_AGENT, self.inner.user_agent.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::ACCEPT_CHARSET, "utf-8");
        if !request.query_pairs().is_empty() {
            builder = builder.query(request.query_pairs());
        }
        for (name, value) in request.headers() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(raw) = request.raw() {
            builder = builder
                .header(http::header::CONTENT_TYPE, raw.content_type.as_str())
                .body(raw.bytes.clone());
        } else if *request.method() == Method::POST || !request.form_pairs().is_empty() {
            builder = builder
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(request.encoded_form());
        }
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        tracing::debug!(
            method = %request.method(),
            product = %request.product(),
            path = request.path().unwrap_or("<next page>"),
            status,
            "Twilio answered"
        );
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport_error)?;
        if (200..300).contains(&status) {
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        Err(Error::new(ErrorKind::Api {
            status,
            api: ApiError::from_body(status, &body),
            retry_after,
        }))
    }
}

/// The default host of `product`, moved to an edge and/or region the way Twilio's helper
/// libraries do: `{product}.{edge}.{region}.twilio.com`, the region defaulting to `us1` when
/// only an edge is given. The Media Content Service keeps its own host.
fn regional_url(product: Product, edge: Option<&str>, region: Option<&str>) -> String {
    let default = product.default_base_url();
    if product == Product::Media || (edge.is_none() && region.is_none()) {
        return default.to_owned();
    }
    let prefix = default
        .trim_start_matches("https://")
        .trim_end_matches(".twilio.com");
    let region = region.or(edge.map(|_| "us1"));
    let mut host = prefix.to_owned();
    for part in [edge, region].into_iter().flatten() {
        host.push('.');
        host.push_str(part);
    }
    format!("https://{host}.twilio.com")
}

/// `Retry-After` as delta-seconds (HTTP dates are not used by Twilio's APIs; they are ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn transport_error(error: reqwest::Error) -> Error {
    // A connect error (including a connect timeout) means nothing was sent.
    let sent = !error.is_connect();
    let kind = if error.is_timeout() {
        ErrorKind::Timeout { sent }
    } else if error.is_builder() {
        ErrorKind::Invalid {
            reason: "the request could not be built".into(),
        }
    } else {
        ErrorKind::Transport { sent }
    };
    // reqwest includes the URL in its errors; URLs carry no secrets here (credentials go in a
    // header), so the source can be kept.
    Error::with_source(kind, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const SK: &str = "SK0123456789abcdef0123456789abcdef";

    #[test]
    fn builds_with_auth_token_or_api_key_and_redacts() {
        let builder = Client::builder()
            .account(AC, "s3cret-token")
            .api_key(SK, "key-s3cret");
        let debug = format!("{builder:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        let c = Client::builder()
            .account(AC, "s3cret-token")
            .build()
            .expect("builds");
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret-token"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert_eq!(c.base_url(Product::Chat), "https://chat.twilio.com/");
        assert_eq!(c.base_url(Product::Media), "https://mcs.us1.twilio.com/");
        assert!(c.user_agent().starts_with("flexcord-twilio/0.1.0 ("));
        assert!(c.user_agent().ends_with(") rust"));

        let c = Client::builder()
            .account_sid(AC)
            .api_key(SK, "key-secret")
            .user_agent_extension("flexcord/9")
            .conversations_url("http://127.0.0.1:9/prefix")
            .build()
            .expect("builds");
        assert_eq!(c.inner.credentials.basic(), (SK, "key-secret"));
        assert!(!format!("{c:?}").contains("key-secret"));
        assert!(c.user_agent().ends_with(" flexcord/9"));
        let url = c
            .url_for(&Request::get(Product::Conversations, "/v1/Conversations"))
            .expect("url");
        assert_eq!(url.as_str(), "http://127.0.0.1:9/prefix/v1/Conversations");
    }

    #[test]
    fn rejects_bad_credentials_and_urls() {
        assert!(Client::builder().build().is_err());
        assert!(Client::builder().account("nope", "t").build().is_err());
        assert!(Client::builder().account_sid(AC).build().is_err());
        assert!(
            Client::builder()
                .account_sid(AC)
                .api_key("AC0123456789abcdef0123456789abcdef", "x")
                .build()
                .is_err()
        );
        assert!(
            Client::builder()
                .account(AC, "t")
                .studio_url("ftp://x")
                .build()
                .is_err()
        );
        assert!(
            Client::builder()
                .account(AC, "t")
                .chat_url("not a url")
                .build()
                .is_err()
        );
    }

    #[test]
    fn absolute_urls_must_stay_on_the_product_host_or_twilio() {
        let c = Client::builder()
            .account(AC, "t")
            .base_url("http://127.0.0.1:4000")
            .build()
            .expect("builds");
        let ok = Request::get_url(Product::Chat, "http://127.0.0.1:4000/v2/x?PageToken=a");
        assert!(c.url_for(&ok).is_ok());
        let twilio = Request::get_url(Product::Chat, "https://chat.twilio.com/v2/x");
        assert!(c.url_for(&twilio).is_ok());
        let evil = Request::get_url(Product::Chat, "https://evil.example/v2/x");
        assert!(c.url_for(&evil).is_err());
        let evil2 = Request::get_url(Product::Chat, "https://twilio.com.evil.example/");
        assert!(c.url_for(&evil2).is_err());
    }

    #[test]
    fn edge_and_region_rewrite_default_hosts_only() {
        let c = Client::builder()
            .account(AC, "t")
            .edge("dublin")
            .region("ie1")
            .studio_url("http://127.0.0.1:9")
            .build()
            .expect("builds");
        assert_eq!(
            c.base_url(Product::Conversations),
            "https://conversations.dublin.ie1.twilio.com/"
        );
        assert_eq!(
            c.base_url(Product::Flex),
            "https://flex-api.dublin.ie1.twilio.com/"
        );
        assert_eq!(c.base_url(Product::Studio), "http://127.0.0.1:9/");
        assert_eq!(c.base_url(Product::Media), "https://mcs.us1.twilio.com/");
        let edge_only = Client::builder()
            .account(AC, "t")
            .edge("sydney")
            .build()
            .expect("builds");
        assert_eq!(
            edge_only.base_url(Product::Chat),
            "https://chat.sydney.us1.twilio.com/"
        );
        let region_only = Client::builder()
            .account(AC, "t")
            .region("ie1")
            .build()
            .expect("builds");
        assert_eq!(
            region_only.base_url(Product::Chat),
            "https://chat.ie1.twilio.com/"
        );
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
