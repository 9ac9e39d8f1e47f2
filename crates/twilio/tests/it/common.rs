//! Shared helpers for the integration tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use flexcord_twilio::registry::Operation;
use flexcord_twilio::retry::{RetryPolicy, Sleep};
use flexcord_twilio::{Client, ClientBuilder, Product};
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
    // `cargo test` sets CARGO_MANIFEST_DIR when it runs the binary; prefer it to the value
    // compiled in, which a shared build cache may have taken from another checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let dir = std::env::var_os("TWILIO_SPECS_DIR").map_or_else(
        || manifest_dir.join("../../../shared/specs/twilio"),
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

/// The spec file of a product (`None` for the Media Content Service, which has none).
pub(crate) fn spec_file(product: Product) -> Option<&'static str> {
    match product {
        Product::Chat => Some("twilio_chat_v2.json"),
        Product::Flex => Some("twilio_flex_v1.json"),
        Product::Conversations => Some("twilio_conversations_v1.json"),
        Product::Studio => Some("twilio_studio_v2.json"),
        _ => None,
    }
}

/// Loads the four spec documents.
pub(crate) fn load_specs(dir: &std::path::Path) -> HashMap<Product, Value> {
    [
        Product::Chat,
        Product::Flex,
        Product::Conversations,
        Product::Studio,
    ]
    .into_iter()
    .map(|product| {
        let file = spec_file(product).expect("spec file");
        let text =
            std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        let spec = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {file}: {e}"));
        (product, spec)
    })
    .collect()
}

/// The specs, loaded once per test binary (`None` when absent and skipping is allowed).
fn specs() -> Option<&'static HashMap<Product, Value>> {
    static SPECS: OnceLock<Option<HashMap<Product, Value>>> = OnceLock::new();
    SPECS
        .get_or_init(|| {
            specs_dir("wire values against spec enums and types").map(|d| load_specs(&d))
        })
        .as_ref()
}

/// The schema of parameter `name` of `method path` in `spec`, with `$ref` and array items
/// resolved.
fn param_schema(spec: &Value, method: &str, path: &str, name: &str) -> Option<Value> {
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let key = reference.rsplit('/').next().unwrap_or_default();
                spec["components"]["schemas"][key].clone()
            }
            None => schema.clone(),
        }
    };
    let operation = &spec["paths"][path][method.to_ascii_lowercase()];
    let mut schema = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .map(|p| p["schema"].clone())
        .or_else(|| {
            operation["requestBody"]["content"]
                .as_object()?
                .values()
                .find_map(|c| c["schema"]["properties"].get(name).cloned())
        })?;
    schema = resolve(&schema);
    if schema["type"] == "array" {
        schema = resolve(&schema["items"]);
    }
    Some(schema)
}

/// Asserts that `value`, sent as parameter `name`, fits the spec's enum and type.
fn check_value_against_spec(id: &str, op: &Operation, name: &str, value: &str) {
    let Some(spec) = specs().and_then(|s| s.get(&op.product)) else {
        return;
    };
    let Some(schema) = param_schema(spec, op.method, op.path, name) else {
        panic!("{id}: {name} has no schema in the spec");
    };
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(
            allowed.iter().any(|a| a == value),
            "{id}: {name}={value:?} is not one of the spec's {allowed:?}"
        );
    }
    match schema["type"].as_str() {
        Some("integer") => assert!(
            value.parse::<i64>().is_ok(),
            "{id}: {name}={value:?} is not an integer"
        ),
        Some("boolean") => assert!(
            matches!(value, "true" | "false"),
            "{id}: {name}={value:?} is not a boolean"
        ),
        _ => {}
    }
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
/// template, HTTP Basic credentials, form-encoded body, that every form field, query parameter
/// and `X-Twilio-*` header is one the registry (and so the spec check) lists, and that each value
/// fits the spec's enum and type for that parameter.
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
        let upload = op.method == "POST" && op.product == Product::Media;
        if upload {
            // A Media Content Service upload: the body is the file with its own type.
            let content_type = request
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                !content_type.is_empty() && content_type != "application/x-www-form-urlencoded",
                "{id}: content type {content_type:?}"
            );
            assert!(!request.body.is_empty(), "{id}: empty upload");
        } else if op.method == "POST" {
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
        for (key, value) in form_pairs(request).into_iter().filter(|_| !upload) {
            assert!(
                op.params.contains(&key.as_str()),
                "{id}: form field {key} not registered"
            );
            check_value_against_spec(id, op, &key, &value);
        }
        for (key, value) in request.url.query_pairs() {
            assert!(
                op.params.contains(&key.as_ref()),
                "{id}: query parameter {key} not registered"
            );
            check_value_against_spec(id, op, &key, &value);
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
