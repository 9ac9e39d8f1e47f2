//! Flex v1, Studio v2 and the Media Content Service: one mock-server test per operation.

use flexcord_twilio::flex::{ChannelStatusUpdate, InteractionChannelStatus};
use flexcord_twilio::sid::{
    ConversationSid, ExecutionSid, FlexFlowSid, FlowSid, InteractionChannelSid, InteractionSid,
    MediaSid, ServiceSid,
};
use flexcord_twilio::studio::ExecutionStatus;
use serde_json::{Value, json};
use wiremock::matchers::{body_bytes, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    ACCOUNT_SID, CHANNEL, CONVERSATION, DATE, EXECUTION, FLEX_FLOW, FLOW, INTERACTION,
    INTERACTION_CHANNEL, MEDIA, SERVICE, USER, check_op, client_for, form_field, form_json,
    list_body, sid,
};

fn interaction_json() -> Value {
    json!({
        "sid": INTERACTION,
        "channel": {"type": "chat", "sid": INTERACTION_CHANNEL},
        "routing": {"properties": {"workspace_sid": "WS00000000000000000000000000000001"}},
        "url": "u",
        "links": {"channels": "c"},
        "interaction_context_sid": null,
        "webhook_ttid": null
    })
}

fn interaction_channel_json(status: &str) -> Value {
    json!({
        "sid": INTERACTION_CHANNEL, "interaction_sid": INTERACTION, "type": "chat",
        "status": status, "error_code": null, "error_message": null, "url": "u", "links": {}
    })
}

fn routing() -> Value {
    json!({"properties": {
        "workspace_sid": "WS00000000000000000000000000000001",
        "workflow_sid": "WW00000000000000000000000000000001",
        "task_channel_unique_name": "chat",
        "attributes": {"customerName": "discord:4021"}
    }})
}

#[tokio::test]
async fn create_flex_channel_with_every_parameter() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Channels"))
        .and(form_field("FlexFlowSid", FLEX_FLOW))
        .and(form_field("Identity", "discord:4021"))
        .and(form_field("ChatUserFriendlyName", "Ada"))
        .and(form_field("ChatFriendlyName", "Support: Ada"))
        .and(form_field("Target", "4021"))
        .and(form_field("ChatUniqueName", "discord:1"))
        .and(form_json(
            "PreEngagementData",
            json!({"friendlyName": "Ada"}),
        ))
        .and(form_field("TaskSid", "WT00000000000000000000000000000001"))
        .and(form_json(
            "TaskAttributes",
            json!({"channelType": "custom"}),
        ))
        .and(form_field("LongLived", "false"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "account_sid": ACCOUNT_SID, "flex_flow_sid": FLEX_FLOW, "sid": CHANNEL,
            "user_sid": USER, "task_sid": null, "url": "u",
            "date_created": DATE, "date_updated": DATE
        })))
        .expect(1)
        .mount(&server)
        .await;
    let flow: FlexFlowSid = sid(FLEX_FLOW);
    let channel = client_for(&server)
        .flex()
        .channels()
        .create(&flow, "discord:4021", "Ada", "Support: Ada")
        .target("4021")
        .chat_unique_name("discord:1")
        .pre_engagement_data(&json!({"friendlyName": "Ada"}))
        .task_sid(&sid("WT00000000000000000000000000000001"))
        .task_attributes(&json!({"channelType": "custom"}))
        .long_lived(false)
        .await
        .expect("201");
    assert_eq!(channel.sid.as_str(), CHANNEL);
    assert_eq!(
        channel.user_sid.map(|s| s.to_string()).as_deref(),
        Some(USER)
    );
    assert_eq!(channel.task_sid, None);
    check_op("flex.channels.create", &server).await;
}

#[tokio::test]
async fn list_flex_flows() {
    let server = MockServer::start().await;
    let flow = json!({
        "sid": FLEX_FLOW, "account_sid": ACCOUNT_SID, "friendly_name": "Discord",
        "chat_service_sid": SERVICE, "channel_type": "custom", "contact_identity": null,
        "enabled": true, "integration_type": "studio",
        "integration": {"flow_sid": "FW00000000000000000000000000000001"},
        "long_lived": false, "janitor_enabled": true, "url": "u",
        "date_created": DATE, "date_updated": DATE
    });
    Mock::given(method("GET"))
        .and(path("/v1/FlexFlows"))
        .and(query_param("FriendlyName", "Discord"))
        .and(query_param("PageSize", "1000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_body("flex_flows", vec![flow])))
        .expect(1)
        .mount(&server)
        .await;
    let page = client_for(&server)
        .flex()
        .flex_flows()
        .list()
        .friendly_name("Discord")
        .page_size(1000)
        .await
        .expect("200");
    assert_eq!(
        page.items[0]
            .chat_service_sid
            .map(|s| s.to_string())
            .as_deref(),
        Some(SERVICE)
    );
    check_op("flex.flex_flows.list", &server).await;
}

#[tokio::test]
async fn create_interaction_is_accepted_with_200() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/Interactions"))
        .and(form_json(
            "Channel",
            json!({"type": "chat", "initiated_by": "customer",
                   "properties": {"media_channel_sid": CONVERSATION}}),
        ))
        .and(form_json("Routing", routing()))
        .and(form_field(
            "InteractionContextSid",
            "HQ00000000000000000000000000000001",
        ))
        .and(form_field("WebhookTtid", "flex_interactions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(interaction_json()))
        .expect(1)
        .mount(&server)
        .await;
    let conversation: ConversationSid = sid(CONVERSATION);
    let interaction = client_for(&server)
        .flex()
        .interactions()
        .create_for_conversation(&conversation, &routing())
        .interaction_context_sid(&sid("HQ00000000000000000000000000000001"))
        .webhook_ttid("flex_interactions")
        .await
        .expect("200 = accepted");
    assert_eq!(interaction.sid.as_str(), INTERACTION);
    assert_eq!(
        interaction.channel.as_ref().and_then(|c| c["sid"].as_str()),
        Some(INTERACTION_CHANNEL)
    );
    check_op("flex.interactions.create", &server).await;
}

#[tokio::test]
async fn fetch_interaction() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Interactions/{INTERACTION}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(interaction_json()))
        .expect(1)
        .mount(&server)
        .await;
    let interaction_sid: InteractionSid = sid(INTERACTION);
    let interaction = client_for(&server)
        .flex()
        .interactions()
        .fetch(&interaction_sid)
        .await
        .expect("200");
    assert!(interaction.routing.is_some());
    check_op("flex.interactions.fetch", &server).await;
}

#[tokio::test]
async fn list_interaction_channels() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Interactions/{INTERACTION}/Channels")))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_body(
            "channels",
            vec![interaction_channel_json("setup")],
        )))
        .expect(1)
        .mount(&server)
        .await;
    let interaction_sid: InteractionSid = sid(INTERACTION);
    let page = client_for(&server)
        .flex()
        .interaction_channels(&interaction_sid)
        .list()
        .await
        .expect("200");
    assert_eq!(page.items[0].status, Some(InteractionChannelStatus::Setup));
    check_op("flex.interaction_channels.list", &server).await;
}

#[tokio::test]
async fn update_interaction_channel_closes_and_completes_tasks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v1/Interactions/{INTERACTION}/Channels/{INTERACTION_CHANNEL}"
        )))
        .and(form_field("Status", "closed"))
        .and(form_json("Routing", json!({"status": "closed"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(interaction_channel_json("closed")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v1/Interactions/{INTERACTION}/Channels/{INTERACTION_CHANNEL}"
        )))
        .and(form_field("Status", "inactive"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(interaction_channel_json("inactive")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let interaction_sid: InteractionSid = sid(INTERACTION);
    let channel_sid: InteractionChannelSid = sid(INTERACTION_CHANNEL);
    let closed = client
        .flex()
        .interaction_channels(&interaction_sid)
        .update(&channel_sid, ChannelStatusUpdate::Closed)
        .complete_tasks()
        .await
        .expect("200");
    assert_eq!(closed.status, Some(InteractionChannelStatus::Closed));
    let paused = client
        .flex()
        .interaction_channels(&interaction_sid)
        .update(&channel_sid, ChannelStatusUpdate::Inactive)
        .routing(&json!({"status": "closed"}))
        .await
        .expect("200");
    assert_eq!(paused.status, Some(InteractionChannelStatus::Inactive));
    check_op("flex.interaction_channels.update", &server).await;
}

fn execution_json() -> Value {
    json!({
        "sid": EXECUTION, "account_sid": ACCOUNT_SID, "flow_sid": FLOW,
        "contact_sid": "FC00000000000000000000000000000001",
        "contact_channel_address": "discord:4021", "context": {}, "status": "active",
        "date_created": DATE, "date_updated": null, "url": "u", "links": {}
    })
}

#[tokio::test]
async fn create_studio_execution() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/Flows/{FLOW}/Executions")))
        .and(form_field("To", "discord:4021"))
        .and(form_field("From", "flexcord"))
        .and(form_json(
            "Parameters",
            json!({"conversation": CONVERSATION}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(execution_json()))
        .expect(1)
        .mount(&server)
        .await;
    let flow: FlowSid = sid(FLOW);
    let execution = client_for(&server)
        .studio()
        .executions(&flow)
        .create("discord:4021", "flexcord")
        .parameters(&json!({"conversation": CONVERSATION}))
        .await
        .expect("201");
    assert_eq!(execution.status, Some(ExecutionStatus::Active));
    assert_eq!(execution.date_updated, None);
    check_op("studio.executions.create", &server).await;
}

#[tokio::test]
async fn fetch_studio_execution() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/Flows/{FLOW}/Executions/{EXECUTION}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(execution_json()))
        .expect(1)
        .mount(&server)
        .await;
    let flow: FlowSid = sid(FLOW);
    let execution_sid: ExecutionSid = sid(EXECUTION);
    let execution = client_for(&server)
        .studio()
        .executions(&flow)
        .fetch(&execution_sid)
        .await
        .expect("200");
    assert_eq!(execution.sid, execution_sid);
    check_op("studio.executions.fetch", &server).await;
}

#[tokio::test]
async fn fetch_media_temporary_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/Services/{SERVICE}/Media/{MEDIA}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": MEDIA, "account_sid": ACCOUNT_SID, "service_sid": SERVICE,
            "date_created": DATE, "date_upload_updated": DATE, "date_updated": DATE,
            "links": {
                "content": format!("/v1/Services/{SERVICE}/Media/{MEDIA}/Content"),
                "content_direct_temporary": "https://media.example/signed?x=1"
            },
            "size": 1234, "content_type": "image/png", "filename": "shot.png",
            "author": "agent@example.com", "category": "media", "message_sid": null,
            "channel_sid": null, "url": "u", "is_multipart_upstream": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let service: ServiceSid = sid(SERVICE);
    let media: MediaSid = sid(MEDIA);
    let item = client_for(&server)
        .media(&service)
        .fetch(&media)
        .await
        .expect("200");
    assert_eq!(
        item.temporary_url(),
        Some("https://media.example/signed?x=1")
    );
    assert_eq!(item.content_type.as_deref(), Some("image/png"));
    assert_eq!(item.size, Some(1234));
    check_op("media.fetch", &server).await;
}

#[tokio::test]
async fn upload_media_sends_the_file_as_the_body() {
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 0x0d,
    ];
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Services/{SERVICE}/Media")))
        .and(query_param("Filename", "shot 1.png"))
        .and(header("content-type", "image/png"))
        .and(body_bytes(PNG.to_vec()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": MEDIA, "account_sid": ACCOUNT_SID, "service_sid": SERVICE,
            "date_created": DATE, "date_upload_updated": DATE, "date_updated": DATE,
            "links": {
                "content": format!("/v1/Services/{SERVICE}/Media/{MEDIA}/Content"),
                "content_direct_temporary": "https://media.example/signed?x=2"
            },
            "size": PNG.len(), "content_type": "image/png", "filename": "shot 1.png",
            "author": null, "category": "media", "message_sid": null,
            "channel_sid": null, "url": "u", "is_multipart_upstream": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let service: ServiceSid = sid(SERVICE);
    let item = client_for(&server)
        .media(&service)
        .create("image/png", PNG.to_vec())
        .filename("shot 1.png")
        .await
        .expect("201");
    assert_eq!(item.sid.as_str(), MEDIA);
    assert_eq!(item.filename.as_deref(), Some("shot 1.png"));
    assert_eq!(item.size, Some(PNG.len() as u64));
    let requests = check_op("media.create", &server).await;
    assert_eq!(requests[0].body, PNG);
}

#[tokio::test]
async fn upload_media_error_is_a_typed_api_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Services/{SERVICE}/Media")))
        .respond_with(ResponseTemplate::new(413).set_body_json(json!({
            "code": 20001, "message": "Media is too large", "status": 413,
            "more_info": "https://www.twilio.com/docs/errors/20001"
        })))
        .mount(&server)
        .await;
    let service: ServiceSid = sid(SERVICE);
    let error = client_for(&server)
        .media(&service)
        .create("application/pdf", b"%PDF-1.7".to_vec())
        .await
        .expect_err("413");
    assert_eq!(error.status(), Some(413));
    assert!(!error.is_retryable());
}
