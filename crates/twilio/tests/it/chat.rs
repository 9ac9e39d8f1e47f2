//! Programmable Chat v2: one mock-server test per operation.

use flexcord_twilio::chat::{ChannelType, ChannelWebhookType, MessageType, UserChannelStatus};
use flexcord_twilio::sid::{ChannelSid, MessageSid, ServiceSid, SidOrName, WebhookSid};
use flexcord_twilio::{Order, WebhookMethod};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    ACCOUNT_SID, CHANNEL, DATE, MESSAGE, SERVICE, USER, WEBHOOK, check_op, client_for, empty_body,
    form_field, form_json, form_values, list_body, sid,
};

fn service() -> ServiceSid {
    sid(SERVICE)
}
fn channel() -> ChannelSid {
    sid(CHANNEL)
}

fn user_json() -> Value {
    json!({
        "sid": USER, "account_sid": ACCOUNT_SID, "service_sid": SERVICE,
        "identity": "discord:4021", "friendly_name": "Ada", "attributes": "{}",
        "role_sid": "RL00000000000000000000000000000001", "is_online": null,
        "is_notifiable": null, "joined_channels_count": 1,
        "date_created": DATE, "date_updated": DATE, "links": {}, "url": "u"
    })
}

fn channel_json() -> Value {
    json!({
        "sid": CHANNEL, "account_sid": ACCOUNT_SID, "service_sid": SERVICE,
        "friendly_name": "Ada", "unique_name": "discord:1", "attributes": "{\"status\":\"ACTIVE\"}",
        "type": "private", "created_by": "system", "members_count": 2, "messages_count": 3,
        "date_created": DATE, "date_updated": DATE, "links": {}, "url": "u"
    })
}

fn message_json() -> Value {
    json!({
        "sid": MESSAGE, "account_sid": ACCOUNT_SID, "service_sid": SERVICE,
        "channel_sid": CHANNEL, "to": CHANNEL, "from": "discord:4021", "body": "Hello",
        "attributes": "{}", "index": 4, "type": "text", "media": null, "was_edited": false,
        "last_updated_by": null, "date_created": DATE, "date_updated": DATE, "url": "u"
    })
}

fn webhook_json() -> Value {
    json!({
        "sid": WEBHOOK, "account_sid": ACCOUNT_SID, "service_sid": SERVICE,
        "channel_sid": CHANNEL, "type": "webhook",
        "configuration": {"url": "https://bridge.example/twilio/outbound", "method": "POST",
            "filters": ["onMessageSent", "onChannelUpdated"], "retry_count": 1},
        "date_created": DATE, "date_updated": DATE, "url": "u"
    })
}

#[tokio::test]
async fn create_user() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/Services/{SERVICE}/Users")))
        .and(form_field("Identity", "discord:4021"))
        .and(form_field("FriendlyName", "Ada"))
        .and(form_field("RoleSid", "RL00000000000000000000000000000001"))
        .and(form_json("Attributes", json!({"discord": true})))
        .and(header("X-Twilio-Webhook-Enabled", "true"))
        .respond_with(ResponseTemplate::new(201).set_body_json(user_json()))
        .expect(1)
        .mount(&server)
        .await;
    let user = client_for(&server)
        .chat(&service())
        .users()
        .create("discord:4021")
        .friendly_name("Ada")
        .role_sid(&sid("RL00000000000000000000000000000001"))
        .attributes(&json!({"discord": true}))
        .webhook_enabled(true)
        .await
        .expect("201");
    assert_eq!(user.sid.as_str(), USER);
    assert_eq!(user.joined_channels_count, Some(1));
    check_op("chat.users.create", &server).await;
}

#[tokio::test]
async fn fetch_user_by_identity() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/Services/{SERVICE}/Users/discord:4021")))
        .and(empty_body())
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json()))
        .expect(1)
        .mount(&server)
        .await;
    let user = client_for(&server)
        .chat(&service())
        .users()
        .fetch(SidOrName::Name("discord:4021".into()))
        .await
        .expect("200");
    assert_eq!(user.identity.as_deref(), Some("discord:4021"));
    check_op("chat.users.fetch", &server).await;
}

#[tokio::test]
async fn list_user_channels() {
    let server = MockServer::start().await;
    let item = json!({
        "account_sid": ACCOUNT_SID, "service_sid": SERVICE, "channel_sid": CHANNEL,
        "user_sid": USER, "member_sid": "MB00000000000000000000000000000001",
        "status": "not_participating", "last_consumed_message_index": null,
        "unread_messages_count": null, "notification_level": null, "links": {}, "url": "u"
    });
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Users/{USER}/Channels"
        )))
        .and(query_param("PageSize", "50"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_body("channels", vec![item])))
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .chat(&service())
        .user_channels(sid::<flexcord_twilio::sid::User>(USER))
        .list()
        .page_size(50)
        .await
        .expect("200");
    assert_eq!(page.items[0].channel_sid, channel());
    assert_eq!(
        page.items[0].status,
        Some(UserChannelStatus::NotParticipating)
    );
    check_op("chat.user_channels.list", &server).await;
}

#[tokio::test]
async fn create_channel() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/Services/{SERVICE}/Channels")))
        .and(form_field("FriendlyName", "Ada"))
        .and(form_field("UniqueName", "discord:1"))
        .and(form_field("Type", "private"))
        .and(form_field("CreatedBy", "flexcord"))
        .and(form_field("DateCreated", "2026-01-02T03:04:05Z"))
        .and(form_field("DateUpdated", "2026-01-02T03:04:05Z"))
        .and(form_json("Attributes", json!({"from": "Ada"})))
        .and(header("X-Twilio-Webhook-Enabled", "false"))
        .respond_with(ResponseTemplate::new(201).set_body_json(channel_json()))
        .expect(1)
        .mount(&server)
        .await;
    let created = client_for(&server)
        .chat(&service())
        .channels()
        .create()
        .friendly_name("Ada")
        .unique_name("discord:1")
        .channel_type(&ChannelType::Private)
        .created_by("flexcord")
        .date_created(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .date_updated(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .attributes(&json!({"from": "Ada"}))
        .webhook_enabled(false)
        .await
        .expect("201");
    assert_eq!(created.channel_type, Some(ChannelType::Private));
    assert_eq!(created.attributes_json(), Some(json!({"status": "ACTIVE"})));
    check_op("chat.channels.create", &server).await;
}

#[tokio::test]
async fn fetch_channel() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/Services/{SERVICE}/Channels/{CHANNEL}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_json()))
        .expect(1)
        .mount(&server)
        .await;
    let fetched = client_for(&server)
        .chat(&service())
        .channels()
        .fetch(channel())
        .await
        .expect("200");
    assert_eq!(fetched.members_count, Some(2));
    check_op("chat.channels.fetch", &server).await;
}

#[tokio::test]
async fn update_channel() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/Services/{SERVICE}/Channels/{CHANNEL}")))
        .and(form_json("Attributes", json!({"status": "INACTIVE"})))
        .and(form_field("FriendlyName", "closed"))
        .and(form_field("UniqueName", "discord:1:closed"))
        .and(header("X-Twilio-Webhook-Enabled", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_json()))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .chat(&service())
        .channels()
        .update(channel())
        .attributes(&json!({"status": "INACTIVE"}))
        .friendly_name("closed")
        .unique_name("discord:1:closed")
        .webhook_enabled(true)
        .await
        .expect("200");
    check_op("chat.channels.update", &server).await;
}

#[tokio::test]
async fn list_channels_of_both_types() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/Services/{SERVICE}/Channels")))
        .and(|request: &wiremock::Request| {
            let types: Vec<String> = request
                .url
                .query_pairs()
                .filter(|(k, _)| k == "Type")
                .map(|(_, v)| v.into_owned())
                .collect();
            types == ["public", "private"]
        })
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list_body("channels", vec![channel_json()])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .chat(&service())
        .channels()
        .list()
        .channel_type(&ChannelType::Public)
        .channel_type(&ChannelType::Private)
        .await
        .expect("200");
    assert_eq!(page.items.len(), 1);
    check_op("chat.channels.list", &server).await;
}

#[tokio::test]
async fn create_message_with_webhook_header_and_attributes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Messages"
        )))
        .and(form_field("From", "discord:4021"))
        .and(form_field("Body", "Hello"))
        .and(form_json("Attributes", json!({"flexcord": {"trace": "t"}})))
        .and(form_field("MediaSid", "ME00000000000000000000000000000001"))
        .and(form_field("LastUpdatedBy", "discord:4021"))
        .and(form_field("DateCreated", "2026-01-02T03:04:05Z"))
        .and(form_field("DateUpdated", "2026-01-02T03:04:05Z"))
        .and(header("X-Twilio-Webhook-Enabled", "true"))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_json()))
        .expect(1)
        .mount(&server)
        .await;
    let message = client_for(&server)
        .chat(&service())
        .messages(&channel())
        .create()
        .from("discord:4021")
        .body("Hello")
        .attributes(&json!({"flexcord": {"trace": "t"}}))
        .media_sid(&sid("ME00000000000000000000000000000001"))
        .last_updated_by("discord:4021")
        .date_created(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .date_updated(time::macros::datetime!(2026-01-02 03:04:05 UTC))
        .webhook_enabled(true)
        .await
        .expect("201");
    assert_eq!(message.index, Some(4));
    assert_eq!(message.message_type, Some(MessageType::Text));
    check_op("chat.messages.create", &server).await;
}

#[tokio::test]
async fn fetch_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Messages/{MESSAGE}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(message_json()))
        .expect(1)
        .mount(&server)
        .await;
    let message_sid: MessageSid = sid(MESSAGE);
    let message = client_for(&server)
        .chat(&service())
        .messages(&channel())
        .fetch(&message_sid)
        .await
        .expect("200");
    assert_eq!(message.from.as_deref(), Some("discord:4021"));
    check_op("chat.messages.fetch", &server).await;
}

#[tokio::test]
async fn list_messages_with_order_and_page_size() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Messages"
        )))
        .and(query_param("Order", "desc"))
        .and(query_param("PageSize", "1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list_body("messages", vec![message_json()])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .chat(&service())
        .messages(&channel())
        .list()
        .order(&Order::Desc)
        .page_size(1)
        .await
        .expect("200");
    assert_eq!(page.items[0].body.as_deref(), Some("Hello"));
    check_op("chat.messages.list", &server).await;
}

#[tokio::test]
async fn create_channel_webhook_of_each_type() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Webhooks"
        )))
        .and(form_field("Type", "webhook"))
        .and(form_field(
            "Configuration.Url",
            "https://bridge.example/twilio/outbound",
        ))
        .and(form_field("Configuration.Method", "POST"))
        .and(form_values(
            "Configuration.Filters",
            &["onMessageSent", "onChannelUpdated"],
        ))
        .and(form_field("Configuration.RetryCount", "1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(webhook_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Webhooks"
        )))
        .and(form_field("Type", "studio"))
        .and(form_field(
            "Configuration.FlowSid",
            "FW00000000000000000000000000000001",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(webhook_json()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Webhooks"
        )))
        .and(form_field("Type", "trigger"))
        .and(form_values("Configuration.Triggers", &["agent"]))
        .respond_with(ResponseTemplate::new(201).set_body_json(webhook_json()))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let chat = client.chat(&service());
    let webhook = chat
        .webhooks(&channel())
        .create(ChannelWebhookType::Webhook)
        .url("https://bridge.example/twilio/outbound")
        .method(&WebhookMethod::Post)
        .filters(["onMessageSent", "onChannelUpdated"])
        .retry_count(1)
        .await
        .expect("201");
    assert_eq!(webhook.webhook_type, Some(ChannelWebhookType::Webhook));
    assert_eq!(webhook.configuration.and_then(|c| c.retry_count), Some(1));
    chat.webhooks(&channel())
        .create(ChannelWebhookType::Studio)
        .flow_sid(&sid("FW00000000000000000000000000000001"))
        .await
        .expect("201");
    chat.webhooks(&channel())
        .create(ChannelWebhookType::Trigger)
        .triggers(["agent"])
        .await
        .expect("201");
    check_op("chat.webhooks.create", &server).await;
}

#[tokio::test]
async fn list_channel_webhooks() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Webhooks"
        )))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list_body("webhooks", vec![webhook_json()])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .chat(&service())
        .webhooks(&channel())
        .list()
        .await
        .expect("200");
    assert_eq!(page.items[0].sid.as_str(), WEBHOOK);
    check_op("chat.webhooks.list", &server).await;
}

#[tokio::test]
async fn delete_channel_webhook() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Webhooks/{WEBHOOK}"
        )))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let webhook: WebhookSid = sid(WEBHOOK);
    client_for(&server)
        .chat(&service())
        .webhooks(&channel())
        .delete(&webhook)
        .await
        .expect("204");
    check_op("chat.webhooks.delete", &server).await;
}

#[tokio::test]
async fn list_members_by_identity() {
    let server = MockServer::start().await;
    let member = json!({
        "sid": "MB00000000000000000000000000000001", "account_sid": ACCOUNT_SID,
        "channel_sid": CHANNEL, "service_sid": SERVICE, "identity": "agent@example.com",
        "role_sid": null, "attributes": "{}", "last_consumed_message_index": 3,
        "last_consumption_timestamp": null, "date_created": DATE, "date_updated": DATE, "url": "u"
    });
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/Services/{SERVICE}/Channels/{CHANNEL}/Members"
        )))
        .and(query_param("Identity", "agent@example.com"))
        .and(query_param("PageSize", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_body("members", vec![member])))
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .chat(&service())
        .members(&channel())
        .list()
        .identity("agent@example.com")
        .page_size(100)
        .await
        .expect("200");
    assert_eq!(page.items[0].identity.as_deref(), Some("agent@example.com"));
    assert_eq!(page.items[0].last_consumed_message_index, Some(3));
    check_op("chat.members.list", &server).await;
}
