//! Shared helpers for the integration tests.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use flexcord_twilio::registry::Operation;
use flexcord_twilio::retry::{RetryPolicy, Sleep};
use flexcord_twilio::{Client, ClientBuilder};
use serde_json::{Value, json};
use wiremock::{Match, MockServer, Request};

pub(crate) const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub(crate) const AUTH_TOKEN: &str = "test-auth-token";
pub(crate) const SERVICE: &str = "IS00000000000000000000000000000001";
pub(crate) const CHANNEL: &str = "CH00000000000000000000000000000001";
pub(crate) const CONVERSATION: &str = "CH00000000000000000000000000000002";
pub(crate) const MESSAGE: &str = "IM00000000000000000000000000000001";
pub(crate) const PARTICIPANT: &str = "MB00000000000000000000000000000001";
pub(crate) const WEBHOOK: &str = "WH00000000000000000000000000000001";
pub(crate) const USER: &str = "US00000000000000000000000000000001";
pub(crate) const FLEX_FLOW: &str = "FO00000000000000000000000000000001";
pub(crate) const INTERACTION: &str = "KD00000000000000000000000000000001";
pub(crate) const INTERACTION_CHANNEL: &str = "UO00000000000000000000000000000001";
pub(crate) const FLOW: &str = "FW00000000000000000000000000000001";
pub(crate) const EXECUTION: &str = "FN00000000000000000000000000000001";
pub(crate) const MEDIA: &str = "ME00000000000000000000000000000001";
pub(crate) const DATE: &str = "2026-11-25T08:00:00Z";

/// Where Twilio's `OpenAPI` specs and signature vectors live: `TWILIO_SPECS_DIR`, or
/// `<workspace>/../shared/specs/twilio`.
///
/// Returns `None` (after printing why) when the folder is absent, unless `FLEXCORD_CI=1`, in
/// which case it panics: CI never skips the spec checks.
pub(crate) fn specs_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TWILIO_SPECS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs/twilio"),
        PathBuf::from,
    );
    if dir.join("twilio_conversations_v1.json").is_file() {
        return Some(dir);
    }
    let why = format!(
        "{test}: Twilio specs not found in {} (set TWILIO_SPECS_DIR to the folder holding \
         twilio_*.json and signature_vectors.json)",
        dir.display()
    );
    assert!(
        std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
        "{why}; FLEXCORD_CI=1 forbids skipping"
    );
    eprintln!("SKIPPED {why}");
    None
}

/// A builder for a client pointed at `server`, with sleeps recorded instead of waited.
pub(crate) fn builder_for(server: &MockServer) -> (ClientBuilder, Arc<Mutex<Vec<Duration>>>) {
    let slept = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&slept);
    let sleep: Sleep = Arc::new(move |delay| {
        record.lock().expect("lock").push(delay);
        Box::pin(async {})
    });
    let builder = Client::builder()
        .account(ACCOUNT_SID, AUTH_TOKEN)
        .base_url(server.uri())
        .timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy::default())
        .sleep(sleep);
    (builder, slept)
}

/// A client pointed at `server`.
pub(crate) fn client_for(server: &MockServer) -> Client {
    builder_for(server).0.build().expect("client builds")
}

/// Parses a SID constant.
pub(crate) fn sid<K: flexcord_twilio::sid::SidKind>(text: &str) -> flexcord_twilio::sid::Sid<K> {
    text.parse().expect("test SID is valid")
}

fn form_pairs(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Matches a request whose form body has `key` = `want` (exact wire name).
pub(crate) fn form_field(key: &'static str, want: impl Into<String>) -> impl Match {
    let want = want.into();
    move |request: &Request| {
        form_pairs(request)
            .iter()
            .any(|(k, v)| k == key && *v == want)
    }
}

/// Matches a request whose form body has exactly these values for `key`, in order.
pub(crate) fn form_values(key: &'static str, want: &'static [&'static str]) -> impl Match {
    move |request: &Request| {
        let got: Vec<String> = form_pairs(request)
            .into_iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect();
        got == want
    }
}

/// Matches a request whose form field `key` holds JSON equal to `want`.
pub(crate) fn form_json(key: &'static str, want: Value) -> impl Match {
    move |request: &Request| {
        form_pairs(request)
            .iter()
            .any(|(k, v)| k == key && serde_json::from_str::<Value>(v).is_ok_and(|got| got == want))
    }
}

/// Matches a request without a body.
pub(crate) fn empty_body() -> impl Match {
    |request: &Request| request.body.is_empty()
}

/// Checks every request the server received against the registry entry `id`: method, path
/// template, HTTP Basic credentials, form-encoded body, and that every form field, query
/// parameter and `X-Twilio-*` header is one the registry (and so the spec check) lists.
/// Returns the received requests.
pub(crate) async fn check_op(id: &str, server: &MockServer) -> Vec<Request> {
    let op = Operation::by_id(id).unwrap_or_else(|| panic!("{id} is not registered"));
    let requests = server.received_requests().await.expect("recording on");
    assert!(!requests.is_empty(), "{id}: no request received");
    let want_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    for request in &requests {
        assert_eq!(request.method.as_str(), op.method, "{id}: method");
        assert!(
            op.matches_path(request.url.path()),
            "{id}: path {} does not match {}",
            request.url.path(),
            op.path
        );
        assert_eq!(
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some(want_auth.as_str()),
            "{id}: Basic auth"
        );
        let user_agent = request
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            user_agent.starts_with("flexcord-twilio/"),
            "{id}: User-Agent {user_agent}"
        );
        if op.method == "POST" {
            assert_eq!(
                request
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/x-www-form-urlencoded"),
                "{id}: content type"
            );
        } else {
            assert!(request.body.is_empty(), "{id}: {} has a body", op.method);
        }
        for (key, _) in form_pairs(request) {
            assert!(
                op.params.contains(&key.as_str()),
                "{id}: form field {key} not registered"
            );
        }
        for (key, _) in request.url.query_pairs() {
            assert!(
                op.params.contains(&key.as_ref()),
                "{id}: query parameter {key} not registered"
            );
        }
        for name in request.headers.keys() {
            if name.as_str().starts_with("x-twilio") {
                assert!(
                    op.headers
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(name.as_str())),
                    "{id}: header {name} not registered"
                );
            }
        }
    }
    requests
}

/// A JSON list body with `items` under `key` and no next page.
pub(crate) fn list_body(key: &str, items: Vec<Value>) -> Value {
    let mut body = json!({
        "meta": {
            "page": 0,
            "page_size": 50,
            "first_page_url": "https://example.invalid/first",
            "previous_page_url": null,
            "next_page_url": null,
            "url": "https://example.invalid/first",
            "key": key,
        }
    });
    body[key] = Value::Array(items);
    body
}

pub(crate) fn conversation_json(sid: &str) -> Value {
    json!({
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "chat_service_sid": SERVICE,
        "messaging_service_sid": null,
        "friendly_name": "Discord support",
        "unique_name": "discord:1:1",
        "attributes": "{\"flexcord\":{\"handoff\":false}}",
        "state": "active",
        "timers": {"date_closed": "2026-11-26T08:00:00Z"},
        "bindings": null,
        "date_created": DATE,
        "date_updated": DATE,
        "url": format!("https://conversations.twilio.com/v1/Conversations/{sid}"),
        "links": {"participants": "x", "messages": "y"},
        "a_field_twilio_adds_later": 1
    })
}

pub(crate) fn conversation_message_json() -> Value {
    json!({
        "sid": MESSAGE,
        "account_sid": ACCOUNT_SID,
        "conversation_sid": CONVERSATION,
        "index": 0,
        "author": "discord:4021",
        "body": "Hello",
        "media": null,
        "attributes": "{}",
        "participant_sid": PARTICIPANT,
        "delivery": null,
        "content_sid": null,
        "date_created": DATE,
        "date_updated": DATE,
        "url": "u",
        "links": {}
    })
}

pub(crate) fn participant_json() -> Value {
    json!({
        "sid": PARTICIPANT,
        "account_sid": ACCOUNT_SID,
        "conversation_sid": CONVERSATION,
        "identity": "discord:4021",
        "attributes": "{}",
        "messaging_binding": null,
        "role_sid": "RL00000000000000000000000000000001",
        "last_read_message_index": null,
        "last_read_timestamp": null,
        "date_created": DATE,
        "date_updated": DATE,
        "url": "u"
    })
}

pub(crate) fn conversation_webhook_json() -> Value {
    json!({
        "sid": WEBHOOK,
        "account_sid": ACCOUNT_SID,
        "conversation_sid": CONVERSATION,
        "target": "webhook",
        "configuration": {
            "url": "https://bridge.example/twilio/outbound",
            "method": "post",
            "filters": ["onMessageAdded", "onConversationStateUpdated"]
        },
        "date_created": DATE,
        "date_updated": DATE,
        "url": "u"
    })
}
