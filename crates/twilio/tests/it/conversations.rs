//! Conversations v1: one mock-server test per operation.

use std::time::Duration;

use flexcord_twilio::Order;
use flexcord_twilio::WebhookMethod;
use flexcord_twilio::conversations::{ConversationState, WebhookTarget};
use flexcord_twilio::sid::{ConversationSid, MessageSid, SidOrName, WebhookSid};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    CONVERSATION, MESSAGE, PARTICIPANT, WEBHOOK, check_op, client_for, conversation_json,
    conversation_message_json, conversation_webhook_json, empty_body, form_field, form_json,
    form_values, list_body, participant_json, sid,
};

fn conv() -> ConversationSid {
    sid(CONVERSATION)
}

#[tokio::test]
async fn create_conversation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Conversations"))
        .and(form_field("FriendlyName", "Discord support"))
        .and(form_field("UniqueName", "discord:1:1"))
        .and(form_json(
            "Attributes",
            json!({"flexcord": {"handoff": false}}),
        ))
        .and(form_field("Timers.Closed", "PT86400S"))
        .and(form_field("Timers.Inactive", "PT600S"))
        .and(form_field("State", "active"))
        .and(form_field(
            "MessagingServiceSid",
            "MG00000000000000000000000000000001",
        ))
        .and(form_field("DateCreated", "2026-01-02T03:04:05Z"))
        .and(form_field("DateUpdated", "2026-01-02T03:04:06Z"))
        .and(form_field("Bindings.Email.Address", "a@example.com"))
        .and(form_field("Bindings.Email.Name", "A"))
        .and(header("X-Twilio-Webhook-Enabled", "true"))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_json(CONVERSATION)))
        .expect(1)
        .mount(&server)
        .await;
    let created = client_for(&server)
        .conversations()
        .create()
        .friendly_name("Discord support")
        .unique_name("discord:1:1")
        .attributes(&json!({"flexcord": {"handoff": false}}))
        .timers_closed(Duration::from_secs(86_400))
        .timers_inactive(Duration::from_secs(600))
        .state(&ConversationState::Active)
        .messaging_service_sid(&sid("MG00000000000000000000000000000001"))
        .date_created(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .date_updated(time::macros::datetime!(2026-01-02 03:04:06 UTC))
        .bindings_email_address("a@example.com")
        .bindings_email_name("A")
        .webhook_enabled(true)
        .await
        .expect("201 decodes");
    assert_eq!(created.sid, conv());
    assert_eq!(created.state, Some(ConversationState::Active));
    assert_eq!(
        created.attributes_json(),
        Some(json!({"flexcord": {"handoff": false}}))
    );
    assert!(
        created
            .timers
            .as_ref()
            .and_then(|t| t.date_closed)
            .is_some()
    );
    assert_eq!(
        created.date_created,
        Some(time::macros::datetime!(2026-11-25 08:00:00 UTC))
    );
    check_op("conversations.create", &server).await;
}

#[tokio::test]
async fn fetch_conversation_by_sid_and_unique_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .and(empty_body())
        .respond_with(ResponseTemplate::new(200).set_body_json(conversation_json(CONVERSATION)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations/discord:1:1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(conversation_json(CONVERSATION)))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let by_sid = client.conversations().fetch(conv()).await.expect("fetches");
    assert_eq!(by_sid.unique_name.as_deref(), Some("discord:1:1"));
    let by_name = client
        .conversations()
        .fetch(SidOrName::Name("discord:1:1".into()))
        .await
        .expect("fetches");
    assert_eq!(by_name.sid, conv());
    check_op("conversations.fetch", &server).await;
}

#[tokio::test]
async fn update_conversation_closes_it() {
    let server = MockServer::start().await;
    let mut closed = conversation_json(CONVERSATION);
    closed["state"] = json!("closed");
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .and(form_field("State", "closed"))
        .and(form_json(
            "Attributes",
            json!({"flexcord": {"handoff": true}}),
        ))
        .and(form_field("Timers.Closed", "PT600S"))
        .and(header("X-Twilio-Webhook-Enabled", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(closed))
        .expect(1)
        .mount(&server)
        .await;
    let updated = client_for(&server)
        .conversations()
        .update(conv())
        .state(&ConversationState::Closed)
        .attributes(&json!({"flexcord": {"handoff": true}}))
        .timers_closed(Duration::from_secs(600))
        .webhook_enabled(false)
        .await
        .expect("updates");
    assert_eq!(updated.state, Some(ConversationState::Closed));
    check_op("conversations.update", &server).await;
}

#[tokio::test]
async fn list_conversations_with_filters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/Conversations"))
        .and(query_param("State", "active"))
        .and(query_param("StartDate", "2026-11-01"))
        .and(query_param("EndDate", "2026-11-30"))
        .and(query_param("PageSize", "20"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_body(
            "conversations",
            vec![conversation_json(CONVERSATION)],
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .conversations()
        .list()
        .state(&ConversationState::Active)
        .start_date("2026-11-01")
        .end_date("2026-11-30")
        .page_size(20)
        .await
        .expect("lists");
    assert_eq!(page.items.len(), 1);
    assert!(!page.has_next());
    check_op("conversations.list", &server).await;
}

#[tokio::test]
async fn delete_conversation() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}")))
        .and(header("X-Twilio-Webhook-Enabled", "true"))
        .and(empty_body())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .conversations()
        .delete(conv())
        .webhook_enabled(true)
        .await
        .expect("204");
    check_op("conversations.delete", &server).await;
}

#[tokio::test]
async fn create_participant_with_identity() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v1/Conversations/{CONVERSATION}/Participants"
        )))
        .and(form_field("Identity", "discord:4021"))
        .and(form_json("Attributes", json!({"display_name": "Ada"})))
        .and(form_field("RoleSid", "RL00000000000000000000000000000001"))
        .and(form_field("DateCreated", "2026-01-02T03:04:05Z"))
        .and(header("X-Twilio-Webhook-Enabled", "true"))
        .respond_with(ResponseTemplate::new(201).set_body_json(participant_json()))
        .expect(1)
        .mount(&server)
        .await;
    let participant = client_for(&server)
        .conversations()
        .participants(&conv())
        .create()
        .identity("discord:4021")
        .attributes(&json!({"display_name": "Ada"}))
        .role_sid(&sid("RL00000000000000000000000000000001"))
        .date_created(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .webhook_enabled(true)
        .await
        .expect("201");
    assert_eq!(participant.sid.as_str(), PARTICIPANT);
    assert_eq!(participant.identity.as_deref(), Some("discord:4021"));
    check_op("conversations.participants.create", &server).await;
}

#[tokio::test]
async fn create_participant_with_messaging_binding() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v1/Conversations/{CONVERSATION}/Participants"
        )))
        .and(form_field("MessagingBinding.Address", "+15550001111"))
        .and(form_field("MessagingBinding.ProxyAddress", "+15550002222"))
        .and(form_field(
            "MessagingBinding.ProjectedAddress",
            "+15550003333",
        ))
        .and(form_field("DateUpdated", "2026-01-02T03:04:05Z"))
        .respond_with(ResponseTemplate::new(201).set_body_json(participant_json()))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .conversations()
        .participants(&conv())
        .create()
        .messaging_binding_address("+15550001111")
        .messaging_binding_proxy_address("+15550002222")
        .messaging_binding_projected_address("+15550003333")
        .date_updated(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .await
        .expect("201");
    check_op("conversations.participants.create", &server).await;
}

#[tokio::test]
async fn list_participants() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1/Conversations/{CONVERSATION}/Participants"
        )))
        .and(query_param("PageSize", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list_body("participants", vec![participant_json()])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .conversations()
        .participants(&conv())
        .list()
        .page_size(100)
        .await
        .expect("lists");
    assert_eq!(page.items[0].identity.as_deref(), Some("discord:4021"));
    check_op("conversations.participants.list", &server).await;
}

#[tokio::test]
async fn create_message_backfilled_without_webhooks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(form_field("Author", "discord:4021"))
        .and(form_field("Body", "Hello from Discord"))
        .and(form_json(
            "Attributes",
            json!({"flexcord": {"discord_message": "9"}}),
        ))
        .and(form_field("DateCreated", "2026-01-02T03:04:05Z"))
        .and(form_field("DateUpdated", "2026-01-02T03:04:05Z"))
        .and(form_field("MediaSid", "ME00000000000000000000000000000001"))
        .and(form_field("Subject", "s"))
        .and(header("X-Twilio-Webhook-Enabled", "false"))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_message_json()))
        .expect(1)
        .mount(&server)
        .await;
    let message = client_for(&server)
        .conversations()
        .messages(&conv())
        .create()
        .author("discord:4021")
        .body("Hello from Discord")
        .attributes(&json!({"flexcord": {"discord_message": "9"}}))
        .date_created(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .date_updated(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .media_sid(&sid("ME00000000000000000000000000000001"))
        .subject("s")
        .webhook_enabled(false)
        .await
        .expect("201");
    assert_eq!(message.sid.as_str(), MESSAGE);
    assert_eq!(message.author.as_deref(), Some("discord:4021"));
    assert_eq!(
        message.participant_sid.map(|s| s.to_string()).as_deref(),
        Some(PARTICIPANT)
    );
    check_op("conversations.messages.create", &server).await;
}

#[tokio::test]
async fn create_message_from_content_template() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(form_field(
            "ContentSid",
            "HX00000000000000000000000000000001",
        ))
        .and(form_json("ContentVariables", json!({"1": "Ada"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_message_json()))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .conversations()
        .messages(&conv())
        .create()
        .content_sid(&sid("HX00000000000000000000000000000001"))
        .content_variables(&json!({"1": "Ada"}))
        .await
        .expect("201");
    check_op("conversations.messages.create", &server).await;
}

#[tokio::test]
async fn fetch_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1/Conversations/{CONVERSATION}/Messages/{MESSAGE}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(conversation_message_json()))
        .expect(1)
        .mount(&server)
        .await;
    let message_sid: MessageSid = sid(MESSAGE);
    let message = client_for(&server)
        .conversations()
        .messages(&conv())
        .fetch(&message_sid)
        .await
        .expect("200");
    assert_eq!(message.body.as_deref(), Some("Hello"));
    check_op("conversations.messages.fetch", &server).await;
}

#[tokio::test]
async fn list_messages_newest_first() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Messages")))
        .and(query_param("Order", "desc"))
        .and(query_param("PageSize", "10"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list_body("messages", vec![conversation_message_json()])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .conversations()
        .messages(&conv())
        .list()
        .order(&Order::Desc)
        .page_size(10)
        .await
        .expect("200");
    assert_eq!(page.items[0].index, Some(0));
    check_op("conversations.messages.list", &server).await;
}

#[tokio::test]
async fn create_webhook_target_webhook() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Webhooks")))
        .and(form_field("Target", "webhook"))
        .and(form_field(
            "Configuration.Url",
            "https://bridge.example/twilio/outbound",
        ))
        .and(form_field("Configuration.Method", "post"))
        .and(form_values(
            "Configuration.Filters",
            &["onMessageAdded", "onConversationStateUpdated"],
        ))
        .and(form_field("Configuration.ReplayAfter", "0"))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_webhook_json()))
        .expect(1)
        .mount(&server)
        .await;
    let webhook = client_for(&server)
        .conversations()
        .webhooks(&conv())
        .create(WebhookTarget::Webhook)
        .url("https://bridge.example/twilio/outbound")
        .method(&WebhookMethod::Post)
        .filters(["onMessageAdded", "onConversationStateUpdated"])
        .replay_after(0)
        .await
        .expect("201");
    assert_eq!(webhook.target, Some(WebhookTarget::Webhook));
    let configuration = webhook.configuration.expect("configuration");
    assert_eq!(configuration.method, Some(WebhookMethod::Post));
    assert_eq!(
        configuration.filters.as_deref(),
        Some(
            &[
                "onMessageAdded".to_owned(),
                "onConversationStateUpdated".to_owned()
            ][..]
        )
    );
    check_op("conversations.webhooks.create", &server).await;
}

#[tokio::test]
async fn create_webhook_target_studio_and_trigger() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Webhooks")))
        .and(form_field("Target", "studio"))
        .and(form_field(
            "Configuration.FlowSid",
            "FW00000000000000000000000000000001",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_webhook_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Webhooks")))
        .and(form_field("Target", "trigger"))
        .and(form_values("Configuration.Triggers", &["help", "agent"]))
        .respond_with(ResponseTemplate::new(201).set_body_json(conversation_webhook_json()))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    client
        .conversations()
        .webhooks(&conv())
        .create(WebhookTarget::Studio)
        .flow_sid(&sid("FW00000000000000000000000000000001"))
        .await
        .expect("201");
    client
        .conversations()
        .webhooks(&conv())
        .create(WebhookTarget::Trigger)
        .triggers(["help", "agent"])
        .await
        .expect("201");
    check_op("conversations.webhooks.create", &server).await;
}

#[tokio::test]
async fn list_webhooks() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Conversations/{CONVERSATION}/Webhooks")))
        .and(query_param("PageSize", "5"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list_body("webhooks", vec![conversation_webhook_json()])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .conversations()
        .webhooks(&conv())
        .list()
        .page_size(5)
        .await
        .expect("200");
    assert_eq!(page.items[0].sid.as_str(), WEBHOOK);
    check_op("conversations.webhooks.list", &server).await;
}

#[tokio::test]
async fn delete_webhook() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/v1/Conversations/{CONVERSATION}/Webhooks/{WEBHOOK}"
        )))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let webhook: WebhookSid = sid(WEBHOOK);
    client_for(&server)
        .conversations()
        .webhooks(&conv())
        .delete(&webhook)
        .await
        .expect("204");
    check_op("conversations.webhooks.delete", &server).await;
}

/// One service-scoped operation: a mock at `path` answering `status` with `body`, expecting one
/// request.
async fn service_mock(
    verb: &str,
    at: &str,
    status: u16,
    body: Option<serde_json::Value>,
) -> MockServer {
    let server = MockServer::start().await;
    let template = match body {
        Some(b) => ResponseTemplate::new(status).set_body_json(b),
        None => ResponseTemplate::new(status),
    };
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// Every operation through `Client::conversations_in`: the same builders, under
/// `/v1/Services/{ChatServiceSid}`.
#[tokio::test]
#[allow(clippy::too_many_lines)] // one block per operation
async fn service_scoped_operations_use_the_service_paths() {
    let service: flexcord_twilio::sid::ServiceSid = sid(crate::common::SERVICE);
    let root = format!("/v1/Services/{}/Conversations", crate::common::SERVICE);
    let c = format!("{root}/{CONVERSATION}");

    let server = service_mock("POST", &root, 201, Some(conversation_json(CONVERSATION))).await;
    let client = client_for(&server);
    assert_eq!(client.conversations_in(&service).service(), Some(&service));
    let made = client
        .conversations_in(&service)
        .create()
        .friendly_name("Support")
        .await
        .expect("201 decodes");
    assert_eq!(made.sid, conv());
    check_op("conversations.services.create", &server).await;

    let server = service_mock("GET", &c, 200, Some(conversation_json(CONVERSATION))).await;
    client_for(&server)
        .conversations_for(Some(&service))
        .fetch(conv())
        .await
        .expect("fetched");
    check_op("conversations.services.fetch", &server).await;

    let server = service_mock("POST", &c, 200, Some(conversation_json(CONVERSATION))).await;
    client_for(&server)
        .conversations_in(&service)
        .update(conv())
        .state(&ConversationState::Closed)
        .await
        .expect("updated");
    check_op("conversations.services.update", &server).await;

    let listed = list_body("conversations", vec![conversation_json(CONVERSATION)]);
    let server = service_mock("GET", &root, 200, Some(listed)).await;
    let page = client_for(&server)
        .conversations_in(&service)
        .list()
        .await
        .expect("listed");
    assert_eq!(page.items.len(), 1);
    check_op("conversations.services.list", &server).await;

    let server = service_mock("DELETE", &c, 204, None).await;
    client_for(&server)
        .conversations_in(&service)
        .delete(conv())
        .await
        .expect("deleted");
    check_op("conversations.services.delete", &server).await;

    let participants = format!("{c}/Participants");
    let server = service_mock("POST", &participants, 201, Some(participant_json())).await;
    client_for(&server)
        .conversations_in(&service)
        .participants(&conv())
        .create()
        .identity("discord:4021")
        .await
        .expect("created");
    check_op("conversations.services.participants.create", &server).await;
    let listed = list_body("participants", vec![participant_json()]);
    let server = service_mock("GET", &participants, 200, Some(listed)).await;
    client_for(&server)
        .conversations_in(&service)
        .participants(&conv())
        .list()
        .await
        .expect("listed");
    check_op("conversations.services.participants.list", &server).await;

    let messages = format!("{c}/Messages");
    let server = service_mock("POST", &messages, 201, Some(conversation_message_json())).await;
    client_for(&server)
        .conversations_in(&service)
        .messages(&conv())
        .create()
        .author("discord:4021")
        .body("hello")
        .await
        .expect("created");
    check_op("conversations.services.messages.create", &server).await;
    let one = format!("{messages}/{MESSAGE}");
    let server = service_mock("GET", &one, 200, Some(conversation_message_json())).await;
    let msg: MessageSid = sid(MESSAGE);
    client_for(&server)
        .conversations_in(&service)
        .messages(&conv())
        .fetch(&msg)
        .await
        .expect("fetched");
    check_op("conversations.services.messages.fetch", &server).await;
    let listed = list_body("messages", vec![conversation_message_json()]);
    let server = service_mock("GET", &messages, 200, Some(listed)).await;
    client_for(&server)
        .conversations_in(&service)
        .messages(&conv())
        .list()
        .order(&Order::Desc)
        .await
        .expect("listed");
    check_op("conversations.services.messages.list", &server).await;

    let webhooks = format!("{c}/Webhooks");
    let server = service_mock("POST", &webhooks, 201, Some(conversation_webhook_json())).await;
    client_for(&server)
        .conversations_in(&service)
        .webhooks(&conv())
        .create(WebhookTarget::Webhook)
        .url("https://bridge.example/twilio")
        .method(&WebhookMethod::Post)
        .filters(["onMessageAdded"])
        .await
        .expect("created");
    check_op("conversations.services.webhooks.create", &server).await;
    let listed = list_body("webhooks", vec![conversation_webhook_json()]);
    let server = service_mock("GET", &webhooks, 200, Some(listed)).await;
    client_for(&server)
        .conversations_in(&service)
        .webhooks(&conv())
        .list()
        .await
        .expect("listed");
    check_op("conversations.services.webhooks.list", &server).await;
    let hook: WebhookSid = sid(WEBHOOK);
    let server = service_mock("DELETE", &format!("{webhooks}/{WEBHOOK}"), 204, None).await;
    client_for(&server)
        .conversations_in(&service)
        .webhooks(&conv())
        .delete(&hook)
        .await
        .expect("deleted");
    check_op("conversations.services.webhooks.delete", &server).await;

    // `None` is the default service's account-level paths.
    let server = service_mock(
        "GET",
        &format!("/v1/Conversations/{CONVERSATION}"),
        200,
        Some(conversation_json(CONVERSATION)),
    )
    .await;
    client_for(&server)
        .conversations_for(None)
        .fetch(conv())
        .await
        .expect("fetched");
}

#[tokio::test]
async fn users_are_fetched_by_identity_in_the_default_service_or_a_named_one() {
    let user = json!({
        "sid": "US0123456789abcdef0123456789abcdef",
        "account_sid": crate::common::ACCOUNT_SID,
        "chat_service_sid": "IS0123456789abcdef0123456789abcdef",
        "role_sid": "RL0123456789abcdef0123456789abcdef",
        "identity": "agent.jane@brand.example",
        "friendly_name": "Jane Doe",
        "attributes": "{}",
        "is_online": true,
        "is_notifiable": null,
        "date_created": "2026-01-02T03:04:05Z",
        "date_updated": "2026-01-02T03:04:05Z",
        "url": "https://conversations.twilio.com/v1/Users/US0123456789abcdef0123456789abcdef",
        "links": {}
    });
    // The identity is one path segment: `@` stays, `/` would be escaped.
    let server = service_mock(
        "GET",
        "/v1/Users/agent.jane@brand.example",
        200,
        Some(user.clone()),
    )
    .await;
    let fetched = client_for(&server)
        .conversations()
        .users()
        .fetch(SidOrName::Name("agent.jane@brand.example".into()))
        .await
        .expect("fetched");
    assert_eq!(fetched.friendly_name.as_deref(), Some("Jane Doe"));
    assert_eq!(
        fetched.identity.as_deref(),
        Some("agent.jane@brand.example")
    );
    check_op("conversations.users.fetch", &server).await;

    let service: flexcord_twilio::sid::ServiceSid =
        "IS0123456789abcdef0123456789abcdef".parse().expect("sid");
    let server = service_mock(
        "GET",
        &format!("/v1/Services/{service}/Users/agent:alice"),
        200,
        Some(user),
    )
    .await;
    client_for(&server)
        .conversations_in(&service)
        .users()
        .fetch(SidOrName::Name("agent:alice".into()))
        .await
        .expect("fetched");
    check_op("conversations.services.users.fetch", &server).await;

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/Users/nobody"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": 20404, "message": "The requested resource /Users/nobody was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404
        })))
        .expect(1)
        .mount(&server)
        .await;
    let missing = client_for(&server)
        .conversations()
        .users()
        .fetch(SidOrName::Name("nobody".into()))
        .await
        .expect_err("404");
    assert_eq!(missing.status(), Some(404));
}
