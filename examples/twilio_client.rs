//! The Twilio client end to end against a small local mock of Twilio.
//!
//! Run: `cargo run -p flexcord-examples --example twilio_client`
//!
//! The example starts an HTTP server on 127.0.0.1 that answers like Twilio's Conversations and
//! Flex APIs (HTTP Basic auth, form-encoded requests, JSON answers, a 429 with `Retry-After`,
//! paginated lists), points a `flexcord_twilio::Client` at it, and walks the hand-off sequence the
//! bridge uses: create a conversation, add the Discord user, register the bridge's webhook,
//! back-fill messages (the first one meets a 429 and is retried), read them back page by page,
//! and hand the conversation to Flex. It finishes by validating and decoding a webhook the way
//! the bridge does when Twilio posts an agent's reply. No network access or credentials needed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use flexcord_twilio::conversations::WebhookTarget;
use flexcord_twilio::webhook::{ConversationsEvent, Event, Validator, sign};
use flexcord_twilio::{Client, Order};
use futures::TryStreamExt;
use serde_json::{Value, json};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "example-auth-token";
const CONVERSATION_SID: &str = "CH0123456789abcdef0123456789abcdef";

#[derive(Default)]
struct Mock {
    base_url: String,
    messages: Vec<Value>,
    throttled_once: bool,
    webhook_url: Option<String>,
}

type Shared = Arc<Mutex<Mock>>;

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn authorised(headers: &HeaderMap) -> bool {
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(want.as_str())
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "status": status.as_u16(),
                      "more_info": format!("https://www.twilio.com/docs/errors/{code}")});
    (status, axum::Json(body)).into_response()
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn create_conversation(headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form = form(&body);
    created(json!({
        "sid": CONVERSATION_SID,
        "account_sid": ACCOUNT_SID,
        "friendly_name": field(&form, "FriendlyName"),
        "attributes": field(&form, "Attributes").unwrap_or("{}"),
        "state": "active",
        "timers": {},
        "date_created": "2026-11-25T08:00:00Z",
        "date_updated": "2026-11-25T08:00:00Z",
    }))
}

async fn create_participant(Path(sid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form = form(&body);
    created(json!({
        "sid": "MB0123456789abcdef0123456789abcdef",
        "conversation_sid": sid,
        "identity": field(&form, "Identity"),
        "attributes": "{}",
    }))
}

async fn create_webhook(
    State(mock): State<Shared>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form = form(&body);
    let filters: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "Configuration.Filters")
        .map(|(_, v)| v.as_str())
        .collect();
    let url = field(&form, "Configuration.Url").map(str::to_owned);
    mock.lock().expect("lock").webhook_url.clone_from(&url);
    created(json!({
        "sid": "WH0123456789abcdef0123456789abcdef",
        "conversation_sid": sid,
        "target": field(&form, "Target"),
        "configuration": {"url": url, "method": field(&form, "Configuration.Method"), "filters": filters},
    }))
}

async fn create_message(
    State(mock): State<Shared>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let mut mock = mock.lock().expect("lock");
    if !mock.throttled_once {
        mock.throttled_once = true;
        let mut response = twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    let form = form(&body);
    let index = mock.messages.len();
    let message = json!({
        "sid": format!("IM{index:032x}"),
        "conversation_sid": sid,
        "index": index,
        "author": field(&form, "Author").unwrap_or("system"),
        "body": field(&form, "Body"),
        "attributes": field(&form, "Attributes").unwrap_or("{}"),
        "date_created": field(&form, "DateCreated"),
    });
    mock.messages.push(message.clone());
    created(message)
}

async fn list_messages(
    State(mock): State<Shared>,
    Path(sid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !authorised(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let query = form(query.unwrap_or_default().as_bytes());
    let page_size: usize = field(&query, "PageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let start: usize = field(&query, "PageToken")
        .and_then(|v| v.strip_prefix("PT"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mock = mock.lock().expect("lock");
    let end = (start + page_size).min(mock.messages.len());
    let items = mock.messages[start.min(end)..end].to_vec();
    let next = (end < mock.messages.len()).then(|| {
        format!(
            "{}/v1/Conversations/{sid}/Messages?PageSize={page_size}&PageToken=PT{end}",
            mock.base_url
        )
    });
    axum::Json(json!({
        "messages": items,
        "meta": {"page_size": page_size, "key": "messages", "next_page_url": next},
    }))
    .into_response()
}

async fn create_interaction(headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let form = form(&body);
    let channel: Value = field(&form, "Channel")
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    // Twilio answers 200 ("accepted") and sets the interaction up asynchronously.
    axum::Json(json!({
        "sid": "KD0123456789abcdef0123456789abcdef",
        "channel": {"type": channel["type"], "sid": "UO0123456789abcdef0123456789abcdef"},
        "routing": field(&form, "Routing").and_then(|r| serde_json::from_str::<Value>(r).ok()),
    }))
    .into_response()
}

async fn start_mock() -> Result<(String, Shared), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let mock: Shared = Arc::new(Mutex::new(Mock {
        base_url: base_url.clone(),
        ..Mock::default()
    }));
    let app = Router::new()
        .route("/v1/Conversations", post(create_conversation))
        .route(
            "/v1/Conversations/{sid}/Participants",
            post(create_participant),
        )
        .route("/v1/Conversations/{sid}/Webhooks", post(create_webhook))
        .route(
            "/v1/Conversations/{sid}/Messages",
            post(create_message).get(list_messages),
        )
        .route("/v1/Interactions", post(create_interaction))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::clone(&mock));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("mock server stopped: {error}");
        }
    });
    Ok((base_url, mock))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (base_url, mock) = start_mock().await?;
    println!("mock Twilio listening on {base_url}");

    let twilio = Client::builder()
        .account(ACCOUNT_SID, AUTH_TOKEN)
        .base_url(&base_url)
        .timeout(Duration::from_secs(5))
        .user_agent_extension("flexcord-examples/0.1.0")
        .build()?;
    println!("client: {twilio:?}");

    // 1. The conversation, the Discord user, the bridge's webhook.
    let conversation = twilio
        .conversations()
        .create()
        .friendly_name("Discord support: Ada")
        .attributes(&json!({"flexcord": {"discord_user": "4021", "handoff": true}}))
        .timers_closed(Duration::from_secs(24 * 3600))
        .await?;
    let sid = conversation.sid;
    println!(
        "created conversation {sid} (state {:?})",
        conversation.state
    );
    let participant = twilio
        .conversations()
        .participants(&sid)
        .create()
        .identity("discord:4021")
        .await?;
    println!(
        "added participant {} ({:?})",
        participant.sid, participant.identity
    );
    let webhook = twilio
        .conversations()
        .webhooks(&sid)
        .create(WebhookTarget::Webhook)
        .url("https://bridge.example/twilio/outbound")
        .filters(["onMessageAdded", "onConversationStateUpdated"])
        .await?;
    println!(
        "registered webhook {} -> {:?}",
        webhook.sid,
        webhook.configuration.and_then(|c| c.url)
    );

    // 2. Back-fill the bot-phase transcript with the original authors and times. The mock
    //    answers the first message with 429 + Retry-After: 1; the client waits and retries.
    let transcript = [
        (
            "discord:4021",
            "My order never arrived",
            "2026-11-25T07:58:00Z",
        ),
        (
            "flexcord-bot",
            "Let me get a person for you.",
            "2026-11-25T07:58:05Z",
        ),
        ("discord:4021", "Thanks!", "2026-11-25T07:58:09Z"),
    ];
    for (author, body, at) in transcript {
        let when = time_from_rfc3339(at)?;
        let message = twilio
            .conversations()
            .messages(&sid)
            .create()
            .author(author)
            .body(body)
            .date_created(when)
            .webhook_enabled(false)
            .await?;
        println!("  message #{:?} {} by {author}", message.index, message.sid);
    }

    // 3. Read the transcript back, two per page, following next_page_url.
    let all: Vec<_> = twilio
        .conversations()
        .messages(&sid)
        .list()
        .order(&Order::Asc)
        .page_size(2)
        .paginate()
        .try_collect()
        .await?;
    println!("read back {} messages across pages:", all.len());
    for message in &all {
        println!(
            "  {:?}: {}",
            message.author,
            message.body.as_deref().unwrap_or("")
        );
    }
    assert_eq!(all.len(), 3);

    hand_off(&twilio, &sid).await?;
    receive_agent_reply(&mock)?;
    show_typed_error(&base_url).await?;
    println!("done");
    Ok(())
}

/// Hand the conversation to Flex through the Interactions API.
async fn hand_off(
    twilio: &Client,
    sid: &flexcord_twilio::sid::ConversationSid,
) -> Result<(), Box<dyn std::error::Error>> {
    let routing = json!({"properties": {
        "workspace_sid": "WS0123456789abcdef0123456789abcdef",
        "workflow_sid": "WW0123456789abcdef0123456789abcdef",
        "task_channel_unique_name": "chat",
        "attributes": {"customerName": "Ada"}
    }});
    let interaction = twilio
        .flex()
        .interactions()
        .create_for_conversation(sid, &routing)
        .await?;
    println!(
        "interaction {} accepted (channel {:?})",
        interaction.sid, interaction.channel
    );

    Ok(())
}

/// Twilio posts an agent's reply to the bridge: check the signature, decode the event.
fn receive_agent_reply(mock: &Shared) -> Result<(), Box<dyn std::error::Error>> {
    let webhook_url = mock
        .lock()
        .map_err(|_| "mock state poisoned")?
        .webhook_url
        .clone()
        .ok_or("no webhook registered")?;
    let delivery: Vec<(String, String)> = [
        ("EventType", "onMessageAdded"),
        ("AccountSid", ACCOUNT_SID),
        ("ConversationSid", CONVERSATION_SID),
        ("MessageSid", "IM00000000000000000000000000000099"),
        ("Author", "agent@example.com"),
        ("Body", "Hi Ada, I am looking into your order."),
        ("Source", "SDK"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let signature = sign(AUTH_TOKEN, &webhook_url, &delivery);
    let validator = Validator::new(AUTH_TOKEN);
    validator.validate(&webhook_url, &delivery, &signature)?;
    println!("webhook signature valid; {validator:?}");
    match Event::from_form(&delivery) {
        Event::Conversations(ConversationsEvent::MessageAdded(message)) => println!(
            "agent {} says: {}",
            message.author.as_deref().unwrap_or("?"),
            message.body.as_deref().unwrap_or("")
        ),
        other => return Err(format!("unexpected event {other:?}").into()),
    }
    let forged = validator.validate(&webhook_url, &delivery[1..], &signature);
    println!("a tampered delivery is rejected: {forged:?}");
    assert!(forged.is_err());

    Ok(())
}

/// Errors are typed: wrong credentials give Twilio's 20003.
async fn show_typed_error(base_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let wrong = Client::builder()
        .account(ACCOUNT_SID, "wrong-token")
        .base_url(base_url)
        .build()?;
    let Err(error) = wrong.conversations().create().await else {
        return Err("the mock accepted a wrong token".into());
    };
    println!(
        "with a wrong token: {error} (code {:?}, retryable: {})",
        error.api().map(|a| a.code),
        error.is_retryable()
    );
    Ok(())
}

fn time_from_rfc3339(text: &str) -> Result<time::OffsetDateTime, Box<dyn std::error::Error>> {
    Ok(time::OffsetDateTime::parse(
        text,
        &time::format_description::well_known::Rfc3339,
    )?)
}
