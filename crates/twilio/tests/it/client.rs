//! Client behaviour: error bodies, pagination, retries, timeouts, credentials.

use std::time::Duration;

use base64::Engine as _;
use flexcord_twilio::retry::RetryPolicy;
use flexcord_twilio::sid::ConversationSid;
use flexcord_twilio::{Client, ErrorKind, Product, Request};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    ACCOUNT_SID, CONVERSATION, builder_for, client_for, conversation_json,
    conversation_message_json, form_field, sid,
};

fn conv() -> ConversationSid {
    sid(CONVERSATION)
}

#[tokio::test]
async fn twilio_error_body_becomes_api_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": 20404,
            "message": "The requested resource was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404
        })))
        .expect(1) // 404 is not retried
        .mount(&server)
        .await;
    let error = client_for(&server)
        .conversations()
        .fetch(conv())
        .await
        .expect_err("404");
    assert!(error.is_not_found());
    assert!(!error.is_retryable());
    assert_eq!(error.status(), Some(404));
    let api = error.api().expect("api error");
    assert_eq!(api.code, 20404);
    assert_eq!(
        api.more_info.as_deref(),
        Some("https://www.twilio.com/docs/errors/20404")
    );
    assert!(error.to_string().contains("20404"));
}

#[tokio::test]
async fn non_json_error_and_undecodable_success_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Conversations"))
        .respond_with(ResponseTemplate::new(400).set_body_string("<html>Bad Request</html>"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"sid\": 42, \"oops\""))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations/CH00000000000000000000000000000009"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"sid": "not-a-conversation-sid"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let error = client.conversations().create().await.expect_err("400");
    let api = error.api().expect("api");
    assert_eq!(api.code, 0);
    assert!(api.message.contains("Bad Request"));

    let error = client
        .conversations()
        .fetch(conv())
        .await
        .expect_err("bad json");
    match error.kind() {
        ErrorKind::Decode { snippet } => assert!(snippet.contains("\"sid\": 42")),
        other => panic!("unexpected {other:?}"),
    }
    // A malformed SID in a response is a typed decode error, not a panic.
    let bad: ConversationSid = sid("CH00000000000000000000000000000009");
    let error = client
        .conversations()
        .fetch(bad)
        .await
        .expect_err("bad sid");
    assert!(matches!(error.kind(), ErrorKind::Decode { .. }));
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test]
async fn pagination_follows_next_page_url_verbatim() {
    let server = MockServer::start().await;
    let base = format!("{}/v1/Conversations/{CONVERSATION}/Messages", server.uri());
    let mut second = conversation_message_json();
    second["sid"] = json!("IM00000000000000000000000000000002");
    let mut third = conversation_message_json();
    third["sid"] = json!("IM00000000000000000000000000000003");
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(query_param("PageToken", "PT2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [third],
            "meta": {"page": 2, "page_size": 1, "key": "messages", "next_page_url": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(query_param("PageToken", "PT1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [second],
            "meta": {"page": 1, "page_size": 1, "key": "messages",
                     "next_page_url": format!("{base}?PageSize=1&Page=2&PageToken=PT2")}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(query_param("PageSize", "1"))
        .and(|r: &wiremock::Request| !r.url.query_pairs().any(|(k, _)| k == "PageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [conversation_message_json()],
            "meta": {"page": 0, "page_size": 1, "key": "messages",
                     "next_page_url": format!("{base}?PageSize=1&Page=1&PageToken=PT1")}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let all: Vec<_> = client_for(&server)
        .conversations()
        .messages(&conv())
        .list()
        .page_size(1)
        .paginate()
        .try_collect()
        .await
        .expect("three pages");
    let sids: Vec<String> = all.iter().map(|m| m.sid.to_string()).collect();
    assert_eq!(
        sids,
        [
            "IM00000000000000000000000000000001",
            "IM00000000000000000000000000000002",
            "IM00000000000000000000000000000003"
        ]
    );
    let received = server.received_requests().await.expect("recorded");
    let queries: Vec<String> = received
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        queries,
        [
            "PageSize=1",
            "PageSize=1&Page=1&PageToken=PT1",
            "PageSize=1&Page=2&PageToken=PT2"
        ]
    );
}

#[tokio::test]
async fn pagination_stops_at_the_first_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations"))
        .and(query_param("PageToken", "PT1"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"code": 20403, "message": "Forbidden"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "conversations": [conversation_json(CONVERSATION)],
            "meta": {"key": "conversations",
                     "next_page_url": format!("{}/v1/Conversations?PageToken=PT1", server.uri())}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let results: Vec<_> =
        futures::StreamExt::collect(client_for(&server).conversations().list().paginate()).await;
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().expect_err("403").api().map(|a| a.code),
        Some(20403)
    );
}

#[tokio::test]
async fn pagination_refuses_to_send_credentials_elsewhere() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "conversations": [],
            "meta": {"key": "conversations", "next_page_url": "https://evil.example/steal"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let results: Vec<_> =
        futures::StreamExt::collect(client_for(&server).conversations().list().paginate()).await;
    assert_eq!(results.len(), 1);
    assert!(matches!(
        results[0].as_ref().expect_err("refused").kind(),
        ErrorKind::Invalid { .. }
    ));
}

#[tokio::test]
async fn create_retries_after_429_with_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "2")
                .set_body_json(
                    json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
                ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(form_field("Body", "hello"))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_message_json()))
        .expect(1)
        .mount(&server)
        .await;
    let (builder, slept) = builder_for(&server);
    let client = builder.build().expect("client");
    let message = client
        .conversations()
        .messages(&conv())
        .create()
        .body("hello")
        .await
        .expect("second attempt succeeds");
    assert_eq!(message.sid.as_str(), "IM00000000000000000000000000000001");
    assert_eq!(*slept.lock().expect("lock"), [Duration::from_secs(2)]);
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
}

#[tokio::test]
async fn create_is_not_retried_on_500_but_get_is() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Conversations"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .respond_with(ResponseTemplate::new(503))
        .expect(4) // first attempt + 3 retries
        .mount(&server)
        .await;
    let (builder, slept) = builder_for(&server);
    let client = builder.build().expect("client");
    let error = client.conversations().create().await.expect_err("500");
    assert_eq!(error.status(), Some(500));
    assert!(slept.lock().expect("lock").is_empty());
    let error = client
        .conversations()
        .fetch(conv())
        .await
        .expect_err("503 four times");
    assert_eq!(error.status(), Some(503));
    let slept = slept.lock().expect("lock").clone();
    assert_eq!(slept.len(), 3);
    // exponential backoff: each window doubles (equal jitter keeps each delay in [w/2, w])
    assert!(slept[0] <= Duration::from_millis(200));
    assert!(slept[1] >= Duration::from_millis(200) && slept[1] <= Duration::from_millis(400));
    assert!(slept[2] >= Duration::from_millis(400) && slept[2] <= Duration::from_millis(800));
}

#[tokio::test]
async fn no_retry_after_a_timeout_once_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(conversation_message_json())
                .set_delay(Duration::from_secs(3)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (builder, slept) = builder_for(&server);
    let client = builder
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let error = client
        .conversations()
        .messages(&conv())
        .create()
        .body("must not be duplicated")
        .await
        .expect_err("times out");
    assert!(
        matches!(error.kind(), ErrorKind::Timeout { sent: true }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert!(slept.lock().expect("lock").is_empty());
    assert_eq!(server.received_requests().await.expect("recorded").len(), 1);
}

#[tokio::test]
async fn create_is_retried_when_the_connection_fails_before_sending() {
    // A port with nothing listening: the request never leaves.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let server = MockServer::start().await; // only for builder_for's shape
    let (builder, slept) = builder_for(&server);
    let client = builder
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry_policy(RetryPolicy::default().with_max_retries(2))
        .build()
        .expect("client");
    let error = client
        .conversations()
        .messages(&conv())
        .create()
        .body("x")
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(error.kind(), ErrorKind::Transport { sent: false }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(slept.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn api_key_credentials_and_headers() {
    let server = MockServer::start().await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode("SK00000000000000000000000000000001:key-secret")
    );
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .and(header("authorization", auth.as_str()))
        .and(header("accept", "application/json"))
        .and(|r: &wiremock::Request| {
            r.headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ua| {
                    ua.starts_with("flexcord-twilio/") && ua.ends_with(" flexcord/test")
                })
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(conversation_json(CONVERSATION)))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .account_sid(ACCOUNT_SID)
        .api_key("SK00000000000000000000000000000001", "key-secret")
        .conversations_url(server.uri())
        .user_agent_extension("flexcord/test")
        .build()
        .expect("client");
    assert!(!format!("{client:?}").contains("key-secret"));
    client.conversations().fetch(conv()).await.expect("200");
}

#[tokio::test]
async fn products_use_their_own_base_urls() {
    let chat = MockServer::start().await;
    let conversations = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "conversations": [], "meta": {"key": "conversations", "next_page_url": null}
        })))
        .expect(1)
        .mount(&conversations)
        .await;
    let client = Client::builder()
        .account(ACCOUNT_SID, "t")
        .chat_url(chat.uri())
        .conversations_url(conversations.uri())
        .build()
        .expect("client");
    assert_eq!(
        client.base_url(Product::Flex),
        "https://flex-api.twilio.com/"
    );
    client.conversations().list().await.expect("200");
    assert!(chat.received_requests().await.expect("rec").is_empty());
}

#[tokio::test]
async fn execute_is_an_escape_hatch_for_other_endpoints() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/Services/IS00000000000000000000000000000001/Roles",
        ))
        .and(form_field("FriendlyName", "agent"))
        .and(header("X-Custom", "1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "RL1"})))
        .expect(1)
        .mount(&server)
        .await;
    let request = Request::post(
        Product::Conversations,
        "/v1/Services/IS00000000000000000000000000000001/Roles",
    )
    .form("FriendlyName", "agent")
    .header("X-Custom", "1");
    let value: serde_json::Value = client_for(&server).execute(request).await.expect("201");
    assert_eq!(value["sid"], "RL1");
}
