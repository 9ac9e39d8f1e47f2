use std::time::Duration;

use flexcord_kb::{ErrorKind, RasaClient};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WEBHOOK: &str = "/webhooks/rest/webhook";

#[tokio::test]
async fn sends_sender_message_metadata_and_decodes_every_kind_of_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "sender": "discord:4021",
            "message": "hi",
            "metadata": {"guild": "7"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"recipient_id": "discord:4021", "text": "Hello!"},
            {"recipient_id": "discord:4021", "buttons": [{"title": "Yes", "payload": "/affirm"}], "text": "Ok?"},
            {"recipient_id": "discord:4021", "image": "https://img.example/a.png"},
            {"recipient_id": "discord:4021", "custom": {"handoff": true}},
            {"recipient_id": "discord:4021", "text": "x", "unknown_field": 1}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let client = RasaClient::new(&server.uri()).expect("client");
    let messages = client
        .send("discord:4021", "hi", Some(&json!({"guild": "7"})))
        .await
        .expect("decoded");
    assert_eq!(messages.len(), 5);
    assert_eq!(messages[0].text.as_deref(), Some("Hello!"));
    assert_eq!(messages[1].buttons[0].payload, "/affirm");
    assert_eq!(
        messages[2].image.as_deref(),
        Some("https://img.example/a.png")
    );
    assert!(messages[3].is_handoff());
    assert!(!messages[0].is_handoff());
}

#[tokio::test]
async fn metadata_is_left_out_when_absent_and_empty_list_is_ok() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK))
        .and(body_json(json!({"sender": "u", "message": "?"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let client = RasaClient::new(&server.uri()).expect("client");
    assert!(client.send("u", "?", None).await.expect("ok").is_empty());
}

#[tokio::test]
async fn http_errors_are_typed_with_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal boom"))
        .expect(1)
        .mount(&server)
        .await;
    let err = RasaClient::new(&server.uri())
        .expect("client")
        .send("u", "m", None)
        .await
        .expect_err("500");
    match err.kind() {
        ErrorKind::RasaStatus { status, body } => {
            assert_eq!(*status, 500);
            assert_eq!(body, "internal boom");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn undecodable_bodies_are_typed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"not\": \"a list\"}"))
        .mount(&server)
        .await;
    let err = RasaClient::new(&server.uri())
        .expect("client")
        .send("u", "m", None)
        .await
        .expect_err("decode");
    assert!(
        matches!(err.kind(), ErrorKind::RasaDecode { snippet } if snippet.contains("not")),
        "{err}"
    );
}

#[tokio::test]
async fn slow_answers_time_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(WEBHOOK))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let client =
        RasaClient::with_timeout(&server.uri(), Duration::from_millis(200)).expect("client");
    let err = client.send("u", "m", None).await.expect_err("timeout");
    assert!(matches!(err.kind(), ErrorKind::RasaTimeout), "{err:?}");
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let client =
        RasaClient::with_timeout(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2))
            .expect("client");
    let err = client.send("u", "m", None).await.expect_err("refused");
    assert!(matches!(err.kind(), ErrorKind::RasaTransport), "{err:?}");
}
