//! The HTTP server: Twilio webhooks, health, readiness and Prometheus metrics.
//!
//! Routes (each webhook also at the reference design's path):
//!
//! | route | purpose |
//! |---|---|
//! | `POST /twilio/outbound`, `POST /forward-to-discord` | every Conversations / Chat webhook |
//! | `POST /twilio/bot`, `POST /chatbot-to-discord` | a Studio HTTP widget asking the bot |
//! | `GET /healthz` | the process is up |
//! | `GET /readyz` | the process is ready to take traffic: 200, or 503 until then, while draining and while a part is down; JSON naming each check ([`crate::health`]) |
//! | `GET /metrics` | Prometheus text exposition |
//!
//! With `server.admin_listen` set, `/metrics` moves to that listener ([`ops_router`], which also
//! answers `/healthz` and `/readyz`), and the public listener serves [`public_router`]: the
//! webhooks, `/healthz` and `/readyz`.
//!
//! Webhooks must carry a valid `X-Twilio-Signature` computed on `server.public_url` plus the
//! request's path and query (403 otherwise). `/twilio/bot` is also accepted with the header
//! `X-Flexcord-Secret` (or the form parameter `FlexcordSecret`) equal to `bot.webhook_secret`. Bodies above `server.max_body_bytes` get
//! 413. Events for a Twilio SID no conversation has recorded yet get 200 and are parked until
//! the SID is recorded (or dropped after the parking bound); events that concern nothing of
//! ours get 200 and are ignored, so Twilio does not retry them.
//!
//! Each webhook is handled in a span `webhook{trace, route, event_type, message_sid}` and with
//! its trace as [`TraceId::current`] (see [`crate::trace::for_webhook`]): the echo of a message
//! the bridge wrote continues the trace in its attributes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flexcord_twilio::webhook::{Event, Validator};
use subtle::ConstantTimeEq;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument as _;
use url::Url;

use crate::secret::Secret;
use crate::telemetry;
use crate::trace::TraceId;

/// The header a Studio HTTP widget can carry instead of a Twilio signature.
pub const SECRET_HEADER: &str = "x-flexcord-secret";
/// The form parameter that may carry `bot.webhook_secret` instead of the header (Studio's HTTP
/// widget can add parameters but not headers).
pub const SECRET_PARAM: &str = "FlexcordSecret";
/// Twilio's signature header.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// It concerned one of our conversations and was recorded.
    Accepted,
    /// It concerned nothing of ours (our own echo, a duplicate, an event we skip).
    Ignored,
    /// Its Twilio conversation or channel is not recorded yet (the webhook outran the creation
    /// of the conversation, or the conversation is not ours): kept and applied once the SID is
    /// recorded, dropped after the parking bound.
    Parked,
}

/// A failure to record a webhook.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Temporary (database busy, shutting down): answered 503 so Twilio retries.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Anything else: answered 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `POST /twilio/bot`: a user message the virtual agent should answer (Studio route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRequest {
    /// `ConversationSid` (conversations mode) or `ChannelSid` (chat mode).
    pub conversation: String,
    /// `MessageSid`: the idempotency key of the request.
    pub message_sid: String,
    /// `Author` of the message (Conversations), or `From` (what a flow built on the
    /// Programmable Chat trigger forwards: `{{trigger.message.From}}`).
    pub author: String,
    /// `Body` of the message.
    pub body: String,
}

impl BotRequest {
    /// Reads the request from form parameters: `ConversationSid` or `ChannelSid`,
    /// `MessageSid`, `Author` or else `From`, and `Body`.
    ///
    /// # Errors
    /// The name of the first missing field.
    pub fn from_form(params: &[(String, String)]) -> Result<Self, String> {
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let conversation = get("ConversationSid")
            .or_else(|| get("ChannelSid"))
            .ok_or("ConversationSid or ChannelSid is missing")?;
        Ok(Self {
            conversation,
            message_sid: get("MessageSid").ok_or("MessageSid is missing")?,
            author: get("Author")
                .or_else(|| get("From"))
                .ok_or("Author (or From) is missing")?,
            body: get("Body").unwrap_or_default(),
        })
    }
}

/// Where accepted webhooks go: the driver that turns them into routing events.
#[async_trait]
pub trait WebhookSink: Send + Sync + 'static {
    /// A verified event from `POST /twilio/outbound`.
    async fn outbound(&self, event: Event) -> Result<Handled, SinkError>;
    /// A verified request from `POST /twilio/bot`.
    async fn bot(&self, request: BotRequest) -> Result<Handled, SinkError>;
}

/// One readiness check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Whether this part lets the process take traffic.
    pub ok: bool,
    /// What was found, for the operator (`shard 0 connected`, `the outbox worker stopped`).
    pub detail: String,
}

impl Check {
    /// A passing check.
    pub fn pass(detail: String) -> Self {
        Self { ok: true, detail }
    }

    /// A failing check.
    pub fn fail(detail: String) -> Self {
        Self { ok: false, detail }
    }
}

/// The checks `/readyz` runs besides the app's own running flag (see [`crate::health`]).
#[async_trait]
pub trait ReadyChecks: Send + Sync + 'static {
    /// Each check by name, in a stable order.
    async fn checks(&self) -> Vec<(&'static str, Check)>;
}

/// Whether the process takes traffic: the app's running flag (flipped when its parts are up,
/// and back when draining) and, when given, the [`ReadyChecks`] of its parts.
#[derive(Clone, Default)]
pub struct Readiness {
    running: Arc<AtomicBool>,
    checks: Option<Arc<dyn ReadyChecks>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("running", &self.is_running())
            .field("checks", &self.checks.is_some())
            .finish()
    }
}

/// What [`Readiness::report`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every check passed.
    pub ready: bool,
    /// Each check by name (`running` first).
    pub checks: Vec<(&'static str, Check)>,
}

impl Report {
    /// The JSON `/readyz` answers: `{"ready": …, "failing": [names], "checks": {name: {"ok":
    /// …, "detail": …}}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let checks: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .map(|(name, check)| {
                (
                    (*name).to_owned(),
                    serde_json::json!({"ok": check.ok, "detail": check.detail}),
                )
            })
            .collect();
        let failing: Vec<&str> = self
            .checks
            .iter()
            .filter(|(_, c)| !c.ok)
            .map(|(name, _)| *name)
            .collect();
        serde_json::json!({"ready": self.ready, "failing": failing, "checks": checks})
    }
}

impl Readiness {
    /// Readiness that also runs `checks`.
    #[must_use]
    pub fn with_checks(mut self, checks: Arc<dyn ReadyChecks>) -> Self {
        self.checks = Some(checks);
        self
    }

    /// Marks the app running or not (starting, draining); also the gauge `flexcord_ready`.
    pub fn set(&self, ready: bool) {
        self.running.store(ready, Ordering::SeqCst);
        telemetry::set_ready(ready);
    }

    /// Whether the app is marked running (its parts are not checked).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Whether the process is ready: running, and every check passes.
    pub async fn is_ready(&self) -> bool {
        self.report().await.ready
    }

    /// Runs every check; sets `flexcord_ready` and `flexcord_ready_check{check}`.
    pub async fn report(&self) -> Report {
        let running = self.is_running();
        let mut checks = vec![(
            "running",
            if running {
                Check::pass("running".to_owned())
            } else {
                Check::fail("starting or draining".to_owned())
            },
        )];
        if let Some(more) = &self.checks {
            checks.extend(more.checks().await);
        }
        let ready = checks.iter().all(|(_, c)| c.ok);
        for (name, check) in &checks {
            telemetry::set_ready_check(name, check.ok);
        }
        telemetry::set_ready(ready);
        Report { ready, checks }
    }
}

/// Brings gauges read from elsewhere (the outbox's rows) up to date before `/metrics` renders.
pub type MetricsRefresh =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Everything the handlers need.
pub struct ServerState {
    validator: Validator,
    public_url: String,
    bot_secret: Option<Secret>,
    sink: Option<Arc<dyn WebhookSink>>,
    readiness: Readiness,
    refresh: Option<MetricsRefresh>,
}

impl ServerState {
    /// State for the server: the Auth Token that signs webhooks, the public base URL Twilio
    /// calls, the optional bot secret, the sink for verified webhooks and the readiness flag.
    /// Without a sink, verified webhooks are answered 503 (so Twilio retries them later).
    pub fn new(
        auth_token: &Secret,
        public_url: &Url,
        bot_secret: Option<Secret>,
        sink: Option<Arc<dyn WebhookSink>>,
        readiness: Readiness,
    ) -> Self {
        Self {
            validator: Validator::new(auth_token.expose()),
            public_url: public_url.as_str().trim_end_matches('/').to_owned(),
            bot_secret,
            sink,
            readiness,
            refresh: None,
        }
    }

    /// Runs `refresh` (bounded to two seconds) before each `/metrics` answer, so gauges such as
    /// the outbox's dead letters are current when scraped.
    #[must_use]
    pub fn with_metrics_refresh(mut self, refresh: MetricsRefresh) -> Self {
        self.refresh = Some(refresh);
        self
    }

    /// The URL Twilio signed for a request to `uri`: the public base URL plus path and query.
    pub fn signed_url(&self, uri: &Uri) -> String {
        let tail = uri.path_and_query().map_or("/", |pq| pq.as_str());
        format!("{}{tail}", self.public_url)
    }
}

/// Every route on one listener: [`webhook_router`] and [`ops_router`] merged (what the app
/// serves when `server.admin_listen` is unset). Merge other routers (the cases API) into it
/// before serving.
pub fn router(state: Arc<ServerState>, max_body_bytes: usize) -> Router {
    webhook_router(state.clone(), max_body_bytes).merge(ops_router(state))
}

/// The public routes: the Twilio webhooks (body limit applied), `/healthz` and `/readyz` (for a
/// load balancer in front of the public port), without `/metrics`.
pub fn public_router(state: Arc<ServerState>, max_body_bytes: usize) -> Router {
    webhook_router(state.clone(), max_body_bytes).merge(
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(state),
    )
}

/// The Twilio webhooks alone, with the body limit applied.
pub fn webhook_router(state: Arc<ServerState>, max_body_bytes: usize) -> Router {
    // Install the recorder before the first request so no count is lost.
    let _ = telemetry::metrics();
    Router::new()
        .route("/twilio/outbound", post(outbound))
        .route("/forward-to-discord", post(outbound))
        .route("/twilio/bot", post(bot))
        .route("/chatbot-to-discord", post(bot))
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
}

/// The operator's routes: `/healthz`, `/readyz` and `/metrics`; served on
/// `server.admin_listen` when it is set, away from the webhooks.
pub fn ops_router(state: Arc<ServerState>) -> Router {
    let _ = telemetry::metrics();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when ready, 503 otherwise; the body names each check and what it found
/// ([`Report::to_json`]).
async fn readyz(State(state): State<Arc<ServerState>>) -> Response {
    let report = state.readiness.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report.to_json())).into_response()
}

async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    if let Some(refresh) = &state.refresh
        && tokio::time::timeout(std::time::Duration::from_secs(2), refresh())
            .await
            .is_err()
    {
        tracing::warn!("metrics refresh timed out; serving the last values");
    }
    // The readiness gauges are current at each scrape too.
    let _ = state.readiness.report().await;
    let body = telemetry::metrics().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

fn outcome(route: &'static str, outcome: &'static str) {
    metrics::counter!(telemetry::WEBHOOKS, "route" => route, "outcome" => outcome).increment(1);
}

fn reject(route: &'static str, status: StatusCode, label: &'static str, why: String) -> Response {
    outcome(route, label);
    tracing::warn!(route, %status, reason = %why, "webhook refused");
    (status, why).into_response()
}

fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|e| format!("the body is not form-encoded: {e}"))
}

fn signature_ok(
    state: &ServerState,
    uri: &Uri,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> bool {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    state
        .validator
        .validate(&state.signed_url(uri), params, signature)
        .is_ok()
}

fn sink_result(route: &'static str, result: Result<Handled, SinkError>) -> Response {
    match result {
        Ok(Handled::Accepted) => {
            outcome(route, "accepted");
            StatusCode::OK.into_response()
        }
        Ok(Handled::Ignored) => {
            outcome(route, "ignored");
            StatusCode::OK.into_response()
        }
        Ok(Handled::Parked) => {
            outcome(route, "parked");
            StatusCode::OK.into_response()
        }
        Err(SinkError::Unavailable(why)) => {
            let mut response = reject(route, StatusCode::SERVICE_UNAVAILABLE, "unavailable", why);
            // Asked at once rather than after a long wait: the sender may try again shortly.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(SinkError::Internal(why)) => {
            tracing::error!(route, error = %why, "webhook failed");
            outcome(route, "error");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn no_sink(route: &'static str) -> Response {
    reject(
        route,
        StatusCode::SERVICE_UNAVAILABLE,
        "error",
        "conversation routing is not running in this process".into(),
    )
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// The trace a webhook is handled under (see [`crate::trace::for_webhook`]; only a verified
/// webhook may continue a trace) and its span: `webhook{trace, route, event_type, message_sid}`.
fn webhook_trace(
    route: &'static str,
    headers: &HeaderMap,
    params: &[(String, String)],
    verified: bool,
) -> (TraceId, bool, tracing::Span) {
    let token = headers
        .get(crate::trace::IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok());
    let (trace, continued) = crate::trace::for_webhook(params, token, verified);
    let span = tracing::info_span!(
        "webhook",
        trace = trace.as_str(),
        route,
        event_type = param(params, "EventType"),
        message_sid = param(params, "MessageSid"),
    );
    (trace, continued, span)
}

/// Records how long a webhook took to answer in `flexcord_webhook_duration_seconds{route}`.
fn timed(route: &'static str, started: Instant) {
    metrics::histogram!(telemetry::WEBHOOK_DURATION, "route" => route)
        .record(started.elapsed().as_secs_f64());
}

async fn outbound(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let response = outbound_checked(&state, &uri, &headers, &body).await;
    timed("outbound", started);
    response
}

async fn outbound_checked(
    state: &ServerState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    const ROUTE: &str = "outbound";
    let params = match decode_form(body) {
        Ok(p) => p,
        Err(why) => return reject(ROUTE, StatusCode::BAD_REQUEST, "invalid", why),
    };
    let verified = signature_ok(state, uri, headers, &params);
    let (trace, continued, span) = webhook_trace(ROUTE, headers, &params, verified);
    let handled = outbound_traced(state, &params, verified, continued);
    trace.scope(handled.instrument(span)).await
}

async fn outbound_traced(
    state: &ServerState,
    params: &[(String, String)],
    verified: bool,
    continued: bool,
) -> Response {
    const ROUTE: &str = "outbound";
    if !verified {
        return reject(
            ROUTE,
            StatusCode::FORBIDDEN,
            "forbidden",
            "invalid signature".into(),
        );
    }
    let event = match Event::try_from_form(params) {
        Ok(Event::Unknown { event_type, .. }) => {
            tracing::debug!(%event_type, "webhook event not handled");
            outcome(ROUTE, "ignored");
            return StatusCode::OK.into_response();
        }
        Ok(event) => event,
        Err(e) => return reject(ROUTE, StatusCode::BAD_REQUEST, "invalid", e.to_string()),
    };
    tracing::info!(continued, "webhook received");
    let Some(sink) = &state.sink else {
        return no_sink(ROUTE);
    };
    sink_result(ROUTE, sink.outbound(event).await)
}

async fn bot(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let response = bot_checked(&state, &uri, &headers, &body).await;
    timed("bot", started);
    response
}

async fn bot_checked(state: &ServerState, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    const ROUTE: &str = "bot";
    let params = match decode_form(body) {
        Ok(p) => p,
        Err(why) => return reject(ROUTE, StatusCode::BAD_REQUEST, "invalid", why),
    };
    // Studio's HTTP widget cannot set headers: the secret may also come as a form parameter.
    let given = headers
        .get(SECRET_HEADER)
        .map(axum::http::HeaderValue::as_bytes)
        .or_else(|| {
            params
                .iter()
                .find(|(k, _)| k == SECRET_PARAM)
                .map(|(_, v)| v.as_bytes())
        });
    let by_secret = match (&state.bot_secret, given) {
        (Some(secret), Some(given)) => bool::from(secret.expose().as_bytes().ct_eq(given)),
        _ => false,
    };
    let verified = by_secret || signature_ok(state, uri, headers, &params);
    let (trace, continued, span) = webhook_trace(ROUTE, headers, &params, verified);
    let handled = bot_traced(state, &params, verified, continued);
    trace.scope(handled.instrument(span)).await
}

async fn bot_traced(
    state: &ServerState,
    params: &[(String, String)],
    verified: bool,
    continued: bool,
) -> Response {
    const ROUTE: &str = "bot";
    if !verified {
        return reject(
            ROUTE,
            StatusCode::FORBIDDEN,
            "forbidden",
            "invalid signature or secret".into(),
        );
    }
    let request = match BotRequest::from_form(params) {
        Ok(r) => r,
        Err(why) => return reject(ROUTE, StatusCode::BAD_REQUEST, "invalid", why),
    };
    tracing::info!(continued, "webhook received");
    let Some(sink) = &state.sink else {
        return no_sink(ROUTE);
    };
    sink_result(ROUTE, sink.bot(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use flexcord_twilio::webhook::{ConversationsEvent, sign};
    use std::sync::Mutex;
    use tower::ServiceExt as _;

    const TOKEN: &str = "auth-token";
    const PUBLIC: &str = "https://bridge.example.com";
    const CONV: &str = "CH0123456789abcdef0123456789abcdef";

    #[derive(Default)]
    struct Recorder {
        outbound: Mutex<Vec<Event>>,
        bot: Mutex<Vec<BotRequest>>,
    }

    #[async_trait]
    impl WebhookSink for Recorder {
        async fn outbound(&self, event: Event) -> Result<Handled, SinkError> {
            let ours = matches!(&event, Event::Conversations(ConversationsEvent::MessageAdded(m)) if m.conversation_sid.as_str() == CONV);
            self.outbound.lock().unwrap().push(event);
            Ok(if ours {
                Handled::Accepted
            } else {
                Handled::Ignored
            })
        }
        async fn bot(&self, request: BotRequest) -> Result<Handled, SinkError> {
            if request.body == "busy" {
                return Err(SinkError::Unavailable("database busy".into()));
            }
            self.bot.lock().unwrap().push(request);
            Ok(Handled::Accepted)
        }
    }

    fn app(max: usize) -> (Router, Arc<Recorder>, Readiness) {
        let sink = Arc::new(Recorder::default());
        let ready = Readiness::default();
        let state = ServerState::new(
            &Secret::new(TOKEN),
            &Url::parse(PUBLIC).unwrap(),
            Some(Secret::new("bot-secret")),
            Some(sink.clone()),
            ready.clone(),
        );
        (router(Arc::new(state), max), sink, ready)
    }

    fn form(pairs: &[(&str, &str)]) -> (Vec<(String, String)>, String) {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let body = serde_urlencoded::to_string(&params).unwrap();
        (params, body)
    }

    fn message_added(conv: &str) -> Vec<(&'static str, String)> {
        vec![
            ("EventType", "onMessageAdded".into()),
            ("ConversationSid", conv.into()),
            ("MessageSid", "IM0123456789abcdef0123456789abcdef".into()),
            ("Author", "agent@example.com".into()),
            ("Body", "Hello from Flex".into()),
            ("Source", "SDK".into()),
        ]
    }

    fn post(path: &str, body: String, headers: &[(&str, &str)]) -> Request<Body> {
        let mut req =
            Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(Body::from(body)).unwrap()
    }

    async fn send(app: &Router, req: Request<Body>) -> StatusCode {
        app.clone().oneshot(req).await.unwrap().status()
    }

    fn signed(path: &str, pairs: &[(&str, &str)]) -> Request<Body> {
        let (params, body) = form(pairs);
        let sig = sign(TOKEN, &format!("{PUBLIC}{path}"), &params);
        post(path, body, &[(SIGNATURE_HEADER, &sig)])
    }

    #[tokio::test]
    async fn signed_outbound_reaches_the_sink_on_both_paths() {
        let (app, sink, _) = app(65_536);
        let fields = message_added(CONV);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            send(&app, signed("/twilio/outbound", &pairs)).await,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, signed("/forward-to-discord", &pairs)).await,
            StatusCode::OK
        );
        let seen = sink.outbound.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].event_type(), "onMessageAdded");
    }

    #[tokio::test]
    async fn forged_or_missing_signature_is_403_and_nothing_reaches_the_sink() {
        let (app, sink, _) = app(65_536);
        let fields = message_added(CONV);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (params, body) = form(&pairs);
        let forged = sign("other-token", &format!("{PUBLIC}/twilio/outbound"), &params);
        assert_eq!(
            send(
                &app,
                post(
                    "/twilio/outbound",
                    body.clone(),
                    &[(SIGNATURE_HEADER, &forged)]
                )
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&app, post("/twilio/outbound", body.clone(), &[])).await,
            StatusCode::FORBIDDEN
        );
        // Signed for another path: refused too.
        let other_path = sign(TOKEN, &format!("{PUBLIC}/twilio/bot"), &params);
        assert_eq!(
            send(
                &app,
                post("/twilio/outbound", body, &[(SIGNATURE_HEADER, &other_path)])
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert!(sink.outbound.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn events_not_for_us_get_200() {
        let (app, sink, _) = app(65_536);
        // An event type we do not model: 200, and the sink is not even asked.
        let unknown = signed(
            "/twilio/outbound",
            &[("EventType", "onUserUpdated"), ("UserSid", "US1")],
        );
        assert_eq!(send(&app, unknown).await, StatusCode::OK);
        assert!(sink.outbound.lock().unwrap().is_empty());
        // A message in a conversation the sink does not know: 200, ignored.
        let fields = message_added("CHffffffffffffffffffffffffffffffff");
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            send(&app, signed("/twilio/outbound", &pairs)).await,
            StatusCode::OK
        );
        assert_eq!(sink.outbound.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn malformed_known_event_is_400() {
        let (app, sink, _) = app(65_536);
        let req = signed(
            "/twilio/outbound",
            &[("EventType", "onMessageAdded"), ("ConversationSid", "nope")],
        );
        assert_eq!(send(&app, req).await, StatusCode::BAD_REQUEST);
        assert!(sink.outbound.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let (app, sink, _) = app(1024);
        let big = format!("Body={}", "x".repeat(2048));
        assert_eq!(
            send(&app, post("/twilio/outbound", big.clone(), &[])).await,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        // Also without a content-length (streamed body).
        let stream = Body::from_stream(futures::stream::once(async move {
            Ok::<_, std::io::Error>(Bytes::from(big))
        }));
        let req = Request::post("/twilio/bot").body(stream).unwrap();
        assert_eq!(send(&app, req).await, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(sink.outbound.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn bot_accepts_signature_or_secret() {
        let (app, sink, _) = app(65_536);
        let pairs = [
            ("ConversationSid", CONV),
            ("MessageSid", "IM0123456789abcdef0123456789abcdef"),
            ("Author", "discord:500"),
            ("Body", "How do I reset my password?"),
        ];
        assert_eq!(
            send(&app, signed("/twilio/bot", &pairs)).await,
            StatusCode::OK
        );
        let (_, body) = form(&pairs);
        assert_eq!(
            send(
                &app,
                post(
                    "/chatbot-to-discord",
                    body.clone(),
                    &[(SECRET_HEADER, "bot-secret")]
                )
            )
            .await,
            StatusCode::OK
        );
        assert_eq!(
            send(
                &app,
                post("/twilio/bot", body.clone(), &[(SECRET_HEADER, "wrong")])
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&app, post("/twilio/bot", body, &[])).await,
            StatusCode::FORBIDDEN
        );
        let seen = sink.bot.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].author, "discord:500");
        assert_eq!(seen[0].body, "How do I reset my password?");
        // Chat mode sends ChannelSid.
        let chat = [
            ("ChannelSid", CONV),
            ("MessageSid", "IM1"),
            ("Author", "discord:500"),
            ("Body", "hi"),
        ];
        assert_eq!(
            send(&app, signed("/twilio/bot", &chat)).await,
            StatusCode::OK
        );
        // Missing fields: 400; a busy sink: 503 so Twilio retries.
        assert_eq!(
            send(&app, signed("/twilio/bot", &[("Body", "x")])).await,
            StatusCode::BAD_REQUEST
        );
        let busy = [
            ("ConversationSid", CONV),
            ("MessageSid", "IM2"),
            ("Author", "a"),
            ("Body", "busy"),
        ];
        let res = app
            .clone()
            .oneshot(signed("/twilio/bot", &busy))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            res.headers()
                .get(header::RETRY_AFTER)
                .map(axum::http::HeaderValue::as_bytes),
            Some(&b"1"[..])
        );
    }

    #[tokio::test]
    async fn health_readiness_and_metrics() {
        let (app, _, ready) = app(65_536);
        let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
        assert_eq!(send(&app, get("/healthz")).await, StatusCode::OK);
        assert_eq!(
            send(&app, get("/readyz")).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        ready.set(true);
        assert_eq!(send(&app, get("/readyz")).await, StatusCode::OK);
        // One refused webhook, then the counter shows up in the exposition.
        assert_eq!(
            send(&app, post("/twilio/outbound", "a=b".into(), &[])).await,
            StatusCode::FORBIDDEN
        );
        let res = app.clone().oneshot(get("/metrics")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains(r#"flexcord_webhooks_total{route="outbound",outcome="forbidden"}"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn with_an_admin_listener_metrics_leave_the_public_routes() {
        let sink = Arc::new(Recorder::default());
        let ready = Readiness::default();
        let state = Arc::new(ServerState::new(
            &Secret::new(TOKEN),
            &Url::parse(PUBLIC).unwrap(),
            None,
            Some(sink.clone()),
            ready.clone(),
        ));
        let public = public_router(state.clone(), 65_536);
        let admin = ops_router(state);
        let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
        ready.set(true);
        for path in ["/healthz", "/readyz"] {
            assert_eq!(
                send(&public, get(path)).await,
                StatusCode::OK,
                "public {path}"
            );
            assert_eq!(
                send(&admin, get(path)).await,
                StatusCode::OK,
                "admin {path}"
            );
        }
        assert_eq!(send(&public, get("/metrics")).await, StatusCode::NOT_FOUND);
        // Webhooks are public only.
        let fields = message_added(CONV);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            send(&admin, signed("/twilio/outbound", &pairs)).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&public, signed("/twilio/outbound", &pairs)).await,
            StatusCode::OK
        );
        assert_eq!(sink.outbound.lock().unwrap().len(), 1);
        let res = admin.clone().oneshot(get("/metrics")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        // The webhook's answer time is a histogram, and readiness a gauge.
        assert!(
            text.contains(
                "flexcord_webhook_duration_seconds_bucket{route=\"outbound\",le=\"0.005\"}"
            ),
            "{text}"
        );
        assert!(text.lines().any(|l| l == "flexcord_ready 1"), "{text}");
        ready.set(false);
        assert_eq!(
            send(&admin, get("/readyz")).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn without_a_sink_verified_webhooks_get_503() {
        let state = ServerState::new(
            &Secret::new(TOKEN),
            &Url::parse(PUBLIC).unwrap(),
            None,
            None,
            Readiness::default(),
        );
        let app = router(Arc::new(state), 65_536);
        let fields = message_added(CONV);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            send(&app, signed("/twilio/outbound", &pairs)).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let (_, body) = form(&pairs);
        assert_eq!(
            send(&app, post("/twilio/outbound", body, &[])).await,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn signed_url_keeps_query_and_prefix() {
        let (_, _, _) = app(1024);
        let state = ServerState::new(
            &Secret::new(TOKEN),
            &Url::parse("https://example.com/flexcord/").unwrap(),
            None,
            None,
            Readiness::default(),
        );
        let uri: Uri = "/twilio/outbound?x=1".parse().unwrap();
        assert_eq!(
            state.signed_url(&uri),
            "https://example.com/flexcord/twilio/outbound?x=1"
        );
    }
}
