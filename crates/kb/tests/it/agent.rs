use std::time::Duration;

use flexcord_kb::{
    AgentConfig, AgentMode, AgentRequest, EmbeddedAgent, KnowledgeBase, Language, RasaClient,
    RemoteAgent, ReplySource, VirtualAgent, build_agent,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn embedded() -> EmbeddedAgent {
    EmbeddedAgent::new(KnowledgeBase::sample().expect("sample"))
}

#[tokio::test]
async fn embedded_answers_with_articles() {
    let reply = embedded()
        .reply(&AgentRequest::new(
            "u",
            "my coins never arrived after paying",
        ))
        .await
        .expect("reply");
    assert_eq!(reply.source, ReplySource::Embedded);
    assert!(!reply.handoff);
    assert_eq!(reply.suggestions[0].id, "missing-purchase");
    assert!(reply.suggestions.len() <= 3);
    assert!(
        reply.messages[0]
            .text
            .as_deref()
            .is_some_and(|t| t.contains("articles"))
    );
}

#[tokio::test]
async fn embedded_hands_off_and_suggests_the_support_article() {
    let reply = embedded()
        .reply(&AgentRequest::new(
            "u",
            "please get me a real human, my refund is stuck",
        ))
        .await
        .expect("reply");
    assert!(reply.handoff);
    assert_eq!(reply.suggestions[0].id, "contact-support");
    let reply = embedded()
        .reply(&AgentRequest::new("u", "cho tôi gặp nhân viên"))
        .await
        .expect("reply");
    assert!(reply.handoff);
    assert_eq!(reply.language, Language::Vietnamese);
    assert_eq!(reply.suggestions[0].id, "contact-support-vi");
}

#[tokio::test]
async fn embedded_says_when_it_has_no_answer_in_the_users_language() {
    let reply = embedded()
        .reply(&AgentRequest::new("u", "cách nấu bánh chưng ngày tết"))
        .await
        .expect("reply");
    assert!(reply.suggestions.is_empty());
    assert!(!reply.handoff);
    let text = reply.messages[0].text.clone().expect("text");
    assert!(text.contains("Xin lỗi") && text.contains("Sorry"), "{text}");
    let reply = embedded()
        .reply(&AgentRequest::new("u", "who won the football match"))
        .await
        .expect("reply");
    let text = reply.messages[0].text.clone().expect("text");
    assert!(text.starts_with("Sorry") && !text.contains("Xin"), "{text}");
}

#[tokio::test]
async fn embedded_greets_small_talk() {
    let reply = embedded()
        .reply(&AgentRequest::new("u", "hello!"))
        .await
        .expect("reply");
    assert!(reply.suggestions.is_empty());
    assert!(
        reply.messages[0]
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("Hi!"))
    );
    assert!(
        embedded()
            .greeting(Language::Vietnamese)
            .starts_with("Xin chào")
    );
}

fn remote(server: &MockServer, timeout: Duration) -> RemoteAgent {
    RemoteAgent::new(
        RasaClient::with_timeout(&server.uri(), timeout).expect("client"),
        embedded(),
    )
}

#[tokio::test]
async fn remote_relays_messages_and_handoff_payload() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhooks/rest/webhook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"recipient_id": "u", "text": "Connecting you now"},
            {"recipient_id": "u", "custom": {"handoff": true}}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let reply = remote(&server, Duration::from_secs(5))
        .reply(&AgentRequest::new("u", "x"))
        .await
        .expect("reply");
    assert_eq!(reply.source, ReplySource::Remote);
    assert!(reply.handoff);
    assert_eq!(reply.messages.len(), 1, "the custom payload is not shown");
    assert_eq!(
        reply.messages[0].text.as_deref(),
        Some("Connecting you now")
    );
}

#[tokio::test]
async fn remote_without_handoff_payload_does_not_hand_off() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"text": "Try restarting", "buttons": [{"title": "Done", "payload": "/done"}]}]),
        ))
        .mount(&server)
        .await;
    let reply = remote(&server, Duration::from_secs(5))
        .reply(&AgentRequest::new("u", "x"))
        .await
        .expect("reply");
    assert!(!reply.handoff);
    assert_eq!(reply.messages[0].buttons[0].title, "Done");
}

#[tokio::test]
async fn remote_falls_back_on_error_timeout_and_empty_answer() {
    let cases = [
        ResponseTemplate::new(503),
        ResponseTemplate::new(200)
            .set_body_json(json!([]))
            .set_delay(Duration::from_secs(3)),
        ResponseTemplate::new(200).set_body_json(json!([])),
        ResponseTemplate::new(200).set_body_string("<html>"),
    ];
    for response in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let agent = remote(&server, Duration::from_millis(300));
        let reply = agent
            .reply(&AgentRequest::new("u", "forgot my password"))
            .await
            .expect("fallback reply");
        assert_eq!(reply.source, ReplySource::Fallback);
        assert_eq!(reply.suggestions[0].id, "reset-password");
        assert!(!reply.messages.is_empty());
    }
}

#[tokio::test]
async fn build_agent_from_config() {
    let kb = KnowledgeBase::sample().expect("sample");
    let embedded = build_agent(
        &AgentConfig::new(AgentMode::from_config("embedded", None).expect("mode")),
        kb.clone(),
    )
    .expect("agent");
    let reply = embedded
        .reply(&AgentRequest::new("u", "my bag is full"))
        .await
        .expect("reply");
    assert_eq!(reply.source, ReplySource::Embedded);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"text": "from rasa"}])))
        .mount(&server)
        .await;
    let mode = AgentMode::from_config("rasa", Some(&server.uri())).expect("mode");
    let rasa = build_agent(&AgentConfig::new(mode), kb.clone()).expect("agent");
    let reply = rasa
        .reply(&AgentRequest::new("u", "hi"))
        .await
        .expect("reply");
    assert_eq!(reply.source, ReplySource::Remote);
    assert_eq!(reply.messages[0].text.as_deref(), Some("from rasa"));

    let bad = AgentMode::Rasa {
        url: "not a url".into(),
        timeout: Duration::from_secs(1),
    };
    assert!(build_agent(&AgentConfig::new(bad), kb).is_err());
}
