//! Shared helpers: a REST caller that checks every success against the specs, and a webhook
//! receiver that records what it gets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flexcord_testkit::twilio::{TwilioConfig, TwilioEmulator};
use serde_json::Value;

use crate::spec;

pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn emulator() -> TwilioEmulator {
    emulator_with(|_| {}).await
}

pub(crate) async fn emulator_with(f: impl FnOnce(&mut TwilioConfig)) -> TwilioEmulator {
    let mut cfg = TwilioConfig {
        webhook_retry_delay: Duration::from_millis(10),
        webhook_timeout: Duration::from_millis(500),
        ..TwilioConfig::default()
    };
    f(&mut cfg);
    TwilioEmulator::start(cfg).await.expect("emulator starts")
}

/// A REST caller with the emulator's credentials. Every 2xx JSON answer is checked against the
/// response schema of its operation in Twilio's specs.
pub(crate) struct Api {
    pub(crate) base: String,
    user: String,
    pass: String,
    http: reqwest::Client,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) json: Value,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Api {
    pub(crate) fn new(emu: &TwilioEmulator) -> Self {
        Self::with_credentials(emu, emu.account_sid(), emu.auth_token())
    }

    pub(crate) fn with_credentials(emu: &TwilioEmulator, user: &str, pass: &str) -> Self {
        Self {
            base: emu.base_url().to_owned(),
            user: user.to_owned(),
            pass: pass.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.send(self.http.get(url), "GET").await
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.post_with(path, form, None).await
    }

    pub(crate) async fn post_hooked(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.post_with(path, form, Some("true")).await
    }

    pub(crate) async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        webhook: Option<&str>,
    ) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(w) = webhook {
            req = req.header("X-Twilio-Webhook-Enabled", w);
        }
        self.send(req, "POST").await
    }

    pub(crate) async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(format!("{}{path}", self.base)), "DELETE")
            .await
    }

    async fn send(&self, req: reqwest::RequestBuilder, method: &str) -> Answer {
        let res = req
            .basic_auth(&self.user, Some(&self.pass))
            .send()
            .await
            .expect("emulator answers");
        let status = res.status().as_u16();
        let path = res.url().path().to_owned();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        if (200..300).contains(&status) {
            spec::check_response(method, &path, status, &json);
        }
        if status >= 400 {
            assert_error_body(&json, status);
        }
        Answer {
            status,
            json,
            headers,
        }
    }
}

/// Twilio's error body: `code`, `message`, `more_info`, `status`.
pub(crate) fn assert_error_body(json: &Value, status: u16) {
    assert!(json["code"].as_u64().is_some(), "error code in {json}");
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {json}"
    );
    let code = json["code"].as_u64().unwrap_or_default();
    assert_eq!(
        json["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert_eq!(json["status"].as_u64(), Some(u64::from(status)));
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) params: Vec<(String, String)>,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Received>,
    script: Vec<(u16, Duration)>,
}

/// A webhook receiver on loopback; answers 200 unless scripted.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these statuses (and delays), in order; then 200.
    pub(crate) fn script(&self, answers: &[(u16, Duration)]) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .script
            .extend_from_slice(answers);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .got
            .clone()
    }

    pub(crate) fn on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn receive(State(state): State<Arc<Mutex<ReceiverState>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let params = form_urlencoded::parse(&bytes).into_owned().collect();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let (status, delay) = {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.got.push(Received {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            params,
        });
        if s.script.is_empty() {
            (200, Duration::ZERO)
        } else {
            s.script.remove(0)
        }
    };
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status)
        .unwrap_or(StatusCode::OK)
        .into_response()
}

/// Checks a received webhook's signature with flexcord-twilio's validator.
pub(crate) fn signature_valid(token: &str, url: &str, r: &Received) -> bool {
    let sig = r.header("X-Twilio-Signature").unwrap_or_default();
    let params: Vec<(String, String)> = if r.method == "GET" {
        Vec::new()
    } else {
        r.params.clone()
    };
    crate::client::validate_signature(token, url, &params, sig)
}

/// A conversation with a scoped webhook to `url` for these filters; returns its SID.
pub(crate) async fn conversation_with_webhook(api: &Api, url: &str, filters: &[&str]) -> String {
    let c = api
        .post("/v1/Conversations", &[("FriendlyName", "Support")])
        .await;
    assert_eq!(c.status, 201);
    let sid = c.json["sid"].as_str().expect("sid").to_owned();
    let mut form = vec![
        ("Target", "webhook"),
        ("Configuration.Url", url),
        ("Configuration.Method", "post"),
    ];
    for f in filters {
        form.push(("Configuration.Filters", f));
    }
    let w = api
        .post(&format!("/v1/Conversations/{sid}/Webhooks"), &form)
        .await;
    assert_eq!(w.status, 201, "{}", w.json);
    sid
}

/// Channel attributes with `flexcord.handoff` set to true.
pub(crate) fn with_handoff(attributes: &str) -> String {
    let mut v: Value = serde_json::from_str(attributes).expect("attributes are JSON");
    v["flexcord"] = serde_json::json!({ "handoff": true });
    v.to_string()
}
