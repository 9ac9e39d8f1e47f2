//! Single sign-on through an OpenID Connect provider: the authorization code flow with PKCE,
//! a nonce, and the `state` kept in a short-lived cookie of its own.
//!
//! The provider's metadata and keys are discovered from the issuer on the first sign-in and
//! kept for an hour (a failed discovery is tried again at the next sign-in).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
};

/// How long discovered metadata (and the provider's keys) are used before asking again.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// What the provider needs to know about this service.
#[derive(Clone)]
pub struct OidcConfig {
    /// The issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Where the provider sends agents back: `<public URL of the pages>/oidc/callback`.
    pub redirect_url: String,
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_url", &self.redirect_url)
            .finish()
    }
}

/// Who signed in through the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OidcAgent {
    /// `oidc:<subject>`.
    pub(crate) id: String,
    /// The `name` claim, else `preferred_username`, else the e-mail's local part.
    pub(crate) name: String,
}

/// A started sign-in: where to send the agent, and what the callback must find again.
pub(crate) struct Started {
    pub(crate) url: String,
    /// `state`, nonce and PKCE verifier, joined by `.` (the cookie value).
    pub(crate) cookie: String,
}

pub(crate) struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// One request of the OpenID Connect flow over the crate's own reqwest client (openidconnect's
/// `reqwest` feature would pull a second reqwest version into the build).
async fn call(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = response.headers().clone();
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer
        .body(body)
        .unwrap_or_else(|_| openidconnect::http::Response::new(Vec::new())))
}

impl Oidc {
    /// The HTTP client openidconnect calls: owns a handle to the pool, so the futures it returns
    /// borrow nothing.
    fn client(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>>
                + Send,
        >,
    > + use<> {
        let http = self.http.clone();
        move |request| Box::pin(call(http.clone(), request))
    }

    pub(crate) fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            // The token endpoint must answer itself: following redirects could leak the code.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self {
            config,
            http,
            metadata: Mutex::new(None),
        }
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, String> {
        if let Some((at, metadata)) = self
            .metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| format!("the issuer URL is not usable: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.client())
            .await
            .map_err(|e| format!("discovery failed: {e}"))?;
        *self
            .metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn redirect(&self) -> Result<RedirectUrl, String> {
        RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| format!("the redirect URL is not usable: {e}"))
    }

    /// Starts a sign-in.
    pub(crate) async fn start(&self) -> Result<Started, String> {
        let metadata = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect()?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            cookie: format!(
                "{}.{}.{}",
                state.secret(),
                nonce.secret(),
                verifier.secret()
            ),
        })
    }

    /// Finishes a sign-in: `state` must be the cookie's; the code is exchanged and the ID
    /// token checked (signature, issuer, audience, expiry, nonce).
    pub(crate) async fn finish(
        &self,
        cookie: &str,
        state: &str,
        code: &str,
    ) -> Result<OidcAgent, String> {
        let mut parts = cookie.split('.');
        let (Some(expected), Some(nonce), Some(verifier), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the sign-in was not started here or has expired".into());
        };
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), state.as_bytes()).into();
        if !same || state.is_empty() {
            return Err("the sign-in was not started here or has expired".into());
        }
        let metadata = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect()?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| format!("the provider has no token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.client())
            .await
            .map_err(|e| format!("the provider refused the code: {e}"))?;
        let id_token = token.id_token().ok_or("the provider sent no ID token")?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| format!("the ID token is not valid: {e}"))?;
        let subject = claims.subject().as_str();
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()))
            .or_else(|| {
                claims
                    .email()
                    .and_then(|e| e.as_str().split('@').next().map(str::to_owned))
            })
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| subject.to_owned());
        let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
        Ok(OidcAgent {
            id: format!("oidc:{subject}").chars().take(200).collect(),
            name,
        })
    }
}
