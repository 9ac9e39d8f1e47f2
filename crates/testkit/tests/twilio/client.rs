//! flexcord-twilio against the emulator: its webhook validator accepts the emulator's signatures.

use flexcord_twilio::webhook::Validator;

/// Validates an `X-Twilio-Signature` with flexcord-twilio's [`Validator`].
pub(crate) fn validate_signature(
    token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    Validator::new(token)
        .validate(url, params, signature)
        .is_ok()
}

/// Every event the emulator sends decodes into flexcord-twilio's typed events (never `Unknown`).
#[tokio::test]
async fn every_event_decodes_with_the_typed_parser() {
    use flexcord_testkit::twilio::{DeliveryOutcome, TaskEnd};
    use flexcord_twilio::webhook::{ChatEvent, ConversationsEvent, Event};

    use crate::support::{Api, Receiver, WAIT, emulator, with_handoff};

    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let url = rx.url("/twilio/outbound");

    // Conversations: the four events the bridge registers.
    let conv = crate::support::conversation_with_webhook(
        &api,
        &url,
        &[
            "onMessageAdded",
            "onMessageUpdated",
            "onParticipantAdded",
            "onConversationStateUpdated",
        ],
    )
    .await;
    let c = format!("/v1/Conversations/{conv}");
    api.post_hooked(&format!("{c}/Participants"), &[("Identity", "discord:1")])
        .await;
    api.post_hooked(
        &format!("{c}/Messages"),
        &[("Author", "discord:1"), ("Body", "hi")],
    )
    .await;
    api.post_hooked(&format!("{c}/Messages"), &[("Body", "system note")])
        .await;
    let channel = format!(
        r#"{{"type":"chat","initiated_by":"customer","properties":{{"media_channel_sid":"{conv}"}}}}"#
    );
    api.post("/v1/Interactions", &[("Channel", &channel)]).await;
    let agent = emu.agent("agent:alice");
    let task = agent.accept_next(WAIT).await.expect("accepted");
    let sid = agent.send(&conv, "hello").expect("sent");
    agent.edit(&conv, &sid, "hello!").expect("edited");
    agent
        .send_media(&conv, "a.png", "image/png", vec![1u8, 2], None)
        .expect("media");
    agent
        .end_task(&task.sid, TaskEnd::Completed)
        .expect("ended");

    // Chat: the five events the bridge registers.
    let ch = api
        .post(
            "/v1/Channels",
            &[
                ("FlexFlowSid", emu.flex_flow_sid()),
                ("Identity", "discord:2"),
                ("ChatUserFriendlyName", "Two"),
                ("ChatFriendlyName", "Two"),
            ],
        )
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let svc = format!("/v2/Services/{}", emu.chat_service_sid());
    let mut form = vec![("Type", "webhook"), ("Configuration.Url", url.as_str())];
    for f in [
        "onMessageSent",
        "onMessageUpdated",
        "onMediaMessageSent",
        "onMemberAdded",
        "onChannelUpdated",
    ] {
        form.push(("Configuration.Filters", f));
    }
    api.post(&format!("{svc}/Channels/{ch}/Webhooks"), &form)
        .await;
    let attrs = with_handoff(&emu.chat_channel(&ch).expect("channel").attributes);
    api.post_hooked(&format!("{svc}/Channels/{ch}"), &[("Attributes", &attrs)])
        .await;
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:2"), ("Body", "help")],
    )
    .await;
    let chat_agent = emu.agent("agent:bob");
    let chat_task = chat_agent.accept_next(WAIT).await.expect("accepted");
    let msg = chat_agent.send(&ch, "Bob here").expect("sent");
    chat_agent.edit(&ch, &msg, "Bob here!").expect("edited");
    chat_agent
        .send_media(&ch, "b.txt", "text/plain", b"x".to_vec(), None)
        .expect("media");
    chat_agent
        .end_task(&chat_task.sid, TaskEnd::Completed)
        .expect("ended");

    emu.wait_for(WAIT, |e| {
        e.deliveries()
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Delivered)
            .then_some(())
    })
    .await
    .expect("delivered");
    let mut kinds = std::collections::BTreeSet::new();
    for r in rx.received() {
        assert!(validate_signature(
            emu.auth_token(),
            &url,
            &r.params,
            r.header("X-Twilio-Signature").unwrap_or_default()
        ));
        let event =
            Event::try_from_form(&r.params).unwrap_or_else(|e| panic!("{e}: {:?}", r.params));
        let name = match &event {
            Event::Conversations(ConversationsEvent::MessageAdded(m)) => {
                assert_eq!(m.conversation_sid.to_string(), conv);
                "conversations message added"
            }
            Event::Conversations(ConversationsEvent::MessageUpdated(_)) => {
                "conversations message updated"
            }
            Event::Conversations(ConversationsEvent::ParticipantAdded(_)) => "participant added",
            Event::Conversations(ConversationsEvent::StateUpdated(s)) => {
                assert_eq!(s.state_to.to_string(), "closed");
                "state updated"
            }
            Event::Chat(ChatEvent::MessageSent(_)) => "chat message sent",
            Event::Chat(ChatEvent::MessageUpdated(_)) => "chat message updated",
            Event::Chat(ChatEvent::MediaMessageSent(m)) => {
                assert_eq!(m.media_size, Some(1));
                "chat media message"
            }
            Event::Chat(ChatEvent::MemberAdded(_)) => "member added",
            Event::Chat(ChatEvent::ChannelUpdated(_)) => "channel updated",
            other => panic!("not a typed event: {other:?}"),
        };
        kinds.insert(name);
    }
    assert_eq!(kinds.len(), 9, "{kinds:?}");
}

// ---------------------------------------------------------------------------------------------
// The real flexcord-twilio Client, every product, against the emulator.

mod with_client {
    use std::time::Duration;

    use flexcord_testkit::twilio::{DeliveryOutcome, Fault, TwilioEmulator};
    use flexcord_twilio::chat::ChannelWebhookType;
    use flexcord_twilio::conversations::{ConversationState, WebhookTarget};
    use flexcord_twilio::flex::{ChannelStatusUpdate, InteractionChannelStatus};
    use flexcord_twilio::registry::OPERATIONS;
    use flexcord_twilio::sid::{
        ConversationSid, FlexFlowSid, FlowSid, MediaSid, ServiceSid, SidOrName,
    };
    use flexcord_twilio::{Client, ErrorKind, Order, Product, WebhookMethod};
    use futures::TryStreamExt as _;
    use serde_json::json;

    use crate::support::{Receiver, WAIT, emulator};

    fn client(emu: &TwilioEmulator) -> Client {
        Client::builder()
            .account(emu.account_sid(), emu.auth_token())
            .base_url(emu.base_url())
            .build()
            .expect("client builds")
    }

    fn service(emu: &TwilioEmulator) -> ServiceSid {
        emu.chat_service_sid().parse().expect("IS sid")
    }

    #[tokio::test]
    async fn conversations_through_the_client() {
        let emu = emulator().await;
        let twilio = client(&emu);
        let rx = Receiver::start().await;
        let conv = twilio
            .conversations()
            .create()
            .friendly_name("Discord support")
            .unique_name("discord:1:1")
            .attributes(&json!({"flexcord": {"handoff": false}}))
            .timers_closed(Duration::from_secs(3600))
            .await
            .expect("created");
        assert_eq!(conv.state, Some(ConversationState::Active));
        assert!(conv.timers.is_some_and(|t| t.date_closed.is_some()));
        let by_name = twilio
            .conversations()
            .fetch(SidOrName::Name("discord:1:1".to_owned()))
            .await
            .expect("by name");
        assert_eq!(by_name.sid, conv.sid);
        twilio
            .conversations()
            .participants(&conv.sid)
            .create()
            .identity("discord:1")
            .await
            .expect("participant");
        let hook = twilio
            .conversations()
            .webhooks(&conv.sid)
            .create(WebhookTarget::Webhook)
            .url(rx.url("/twilio/outbound"))
            .method(&WebhookMethod::Post)
            .filters(["onMessageAdded", "onConversationStateUpdated"])
            .await
            .expect("webhook");
        assert_eq!(
            hook.configuration.and_then(|c| c.filters).map(|f| f.len()),
            Some(2)
        );
        let msg = twilio
            .conversations()
            .messages(&conv.sid)
            .create()
            .author("discord:1")
            .body("hello")
            .attributes(&json!({"flexcord": {"discord_message": "1"}}))
            .webhook_enabled(true)
            .await
            .expect("message");
        assert_eq!(
            (msg.index, msg.author.as_deref()),
            (Some(0), Some("discord:1"))
        );
        assert!(msg.participant_sid.is_some());
        emu.wait_for_event(WAIT, "onMessageAdded")
            .await
            .expect("webhook fired");
        twilio
            .conversations()
            .messages(&conv.sid)
            .create()
            .body("quiet")
            .webhook_enabled(false)
            .await
            .expect("quiet");
        let fetched = twilio
            .conversations()
            .messages(&conv.sid)
            .fetch(&msg.sid)
            .await
            .expect("fetched");
        assert_eq!(fetched.body.as_deref(), Some("hello"));
        let page = twilio
            .conversations()
            .messages(&conv.sid)
            .list()
            .order(&Order::Desc)
            .page_size(1)
            .await
            .expect("page");
        assert_eq!(page.items[0].body.as_deref(), Some("quiet"));
        assert!(page.has_next());
        let all: Vec<_> = twilio
            .conversations()
            .messages(&conv.sid)
            .list()
            .page_size(1)
            .paginate()
            .try_collect()
            .await
            .expect("all");
        assert_eq!(all.len(), 2);
        let parts = twilio
            .conversations()
            .participants(&conv.sid)
            .list()
            .await
            .expect("participants");
        assert_eq!(parts.items[0].identity.as_deref(), Some("discord:1"));
        assert_eq!(
            twilio
                .conversations()
                .webhooks(&conv.sid)
                .list()
                .await
                .expect("hooks")
                .items
                .len(),
            1
        );
        let closed = twilio
            .conversations()
            .update(conv.sid)
            .state(&ConversationState::Closed)
            .webhook_enabled(true)
            .await
            .expect("closed");
        assert_eq!(closed.state, Some(ConversationState::Closed));
        emu.wait_for_event(WAIT, "onConversationStateUpdated")
            .await
            .expect("state webhook");
        let listed = twilio
            .conversations()
            .list()
            .state(&ConversationState::Closed)
            .await
            .expect("list");
        assert_eq!(listed.items.len(), 1);
        twilio
            .conversations()
            .webhooks(&conv.sid)
            .delete(&hook.sid)
            .await
            .expect("webhook deleted");
        twilio
            .conversations()
            .delete(conv.sid)
            .await
            .expect("deleted");
        let gone = twilio
            .conversations()
            .fetch(conv.sid)
            .await
            .expect_err("gone");
        match gone.kind() {
            ErrorKind::Api { status, api, .. } => assert_eq!((*status, api.code), (404, 20404)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            emu.deliveries()
                .iter()
                .all(|d| d.outcome == DeliveryOutcome::Delivered)
        );
        assert_eq!(rx.received().len(), 2);
    }

    #[tokio::test]
    async fn chat_through_the_client() {
        let emu = emulator().await;
        let twilio = client(&emu);
        let svc = service(&emu);
        let chat = || twilio.chat(&svc);
        let user = chat()
            .users()
            .create("discord:7")
            .friendly_name("Seven")
            .await
            .expect("user");
        let fetched = chat()
            .users()
            .fetch(SidOrName::Name("discord:7".to_owned()))
            .await
            .expect("by identity");
        assert_eq!(fetched.sid, user.sid);
        let ch = chat()
            .channels()
            .create()
            .friendly_name("DM")
            .unique_name("dm-7")
            .attributes(&json!({"a": 1}))
            .await
            .expect("channel");
        let updated = chat()
            .channels()
            .update(ch.sid)
            .friendly_name("DM 7")
            .await
            .expect("updated");
        assert_eq!(updated.friendly_name.as_deref(), Some("DM 7"));
        assert_eq!(
            chat()
                .channels()
                .fetch(SidOrName::Name("dm-7".to_owned()))
                .await
                .expect("by name")
                .sid,
            ch.sid
        );
        assert_eq!(chat().channels().list().await.expect("list").items.len(), 1);
        let hook = chat()
            .webhooks(&ch.sid)
            .create(ChannelWebhookType::Webhook)
            .url("http://127.0.0.1:9/outbound")
            .method(&WebhookMethod::Post)
            .filters(["onMessageSent"])
            .retry_count(2)
            .await
            .expect("webhook");
        assert_eq!(hook.configuration.and_then(|c| c.retry_count), Some(2));
        let studio = chat()
            .webhooks(&ch.sid)
            .create(ChannelWebhookType::Studio)
            .flow_sid(&emu.studio_flow_sid().parse::<FlowSid>().expect("FW"))
            .await
            .expect("studio webhook");
        assert_eq!(
            chat()
                .webhooks(&ch.sid)
                .list()
                .await
                .expect("hooks")
                .items
                .len(),
            2
        );
        chat()
            .webhooks(&ch.sid)
            .delete(&studio.sid)
            .await
            .expect("deleted");
        for i in 0..3 {
            chat()
                .messages(&ch.sid)
                .create()
                .from("discord:7")
                .body(format!("m{i}"))
                .await
                .expect("message");
        }
        let desc = chat()
            .messages(&ch.sid)
            .list()
            .order(&Order::Desc)
            .page_size(2)
            .await
            .expect("page");
        assert_eq!(
            desc.items
                .iter()
                .filter_map(|m| m.body.as_deref())
                .collect::<Vec<_>>(),
            ["m2", "m1"]
        );
        let first = &desc.items[1];
        assert_eq!(
            chat()
                .messages(&ch.sid)
                .fetch(&first.sid)
                .await
                .expect("fetch")
                .index,
            Some(1)
        );
        assert_eq!(
            chat()
                .members(&ch.sid)
                .list()
                .await
                .expect("members")
                .items
                .len(),
            0
        );
        let api = crate::support::Api::new(&emu);
        api.post(
            &format!("/v2/Services/{svc}/Channels/{}/Members", ch.sid),
            &[("Identity", "discord:7")],
        )
        .await;
        let members = chat()
            .members(&ch.sid)
            .list()
            .identity("discord:7")
            .await
            .expect("members");
        assert_eq!(members.items[0].identity.as_deref(), Some("discord:7"));
        let channels = chat()
            .user_channels(SidOrName::Name("discord:7".to_owned()))
            .list()
            .await
            .expect("user channels");
        assert_eq!(channels.items[0].channel_sid, ch.sid);
    }

    #[tokio::test]
    async fn flex_studio_and_media_through_the_client() {
        let emu = emulator().await;
        let twilio = client(&emu);
        let flows = twilio.flex().flex_flows().list().await.expect("flows");
        let flow: FlexFlowSid = emu.flex_flow_sid().parse().expect("FO");
        assert_eq!(flows.items[0].sid, flow);
        let ch = twilio
            .flex()
            .channels()
            .create(&flow, "discord:5", "Five", "Discord 5")
            .pre_engagement_data(&json!({"locale": "en"}))
            .await
            .expect("flex channel");
        assert!(emu.chat_channel(ch.sid.as_str()).is_some());

        let conv = twilio.conversations().create().await.expect("conversation");
        let routing = json!({"properties": {"workspace_sid": emu.config().workspace_sid, "workflow_sid": emu.config().workflow_sid, "task_channel_unique_name": "chat", "attributes": {"customerName": "discord:5"}}});
        let interaction = twilio
            .flex()
            .interactions()
            .create_for_conversation(&conv.sid, &routing)
            .await
            .expect("accepted");
        let fetched = twilio
            .flex()
            .interactions()
            .fetch(&interaction.sid)
            .await
            .expect("fetched");
        assert_eq!(fetched.sid, interaction.sid);
        let task = emu.wait_for_task(WAIT).await.expect("task queued");
        let channels = twilio
            .flex()
            .interaction_channels(&interaction.sid)
            .list()
            .await
            .expect("channels");
        assert_eq!(
            channels.items[0].status,
            Some(InteractionChannelStatus::Active)
        );
        let agent = emu.agent("agent:alice");
        agent.accept(&task.sid).expect("accepted");
        let file = agent
            .send_media(
                conv.sid.as_str(),
                "label.pdf",
                "application/pdf",
                b"%PDF".to_vec(),
                None,
            )
            .expect("media");
        let closed = twilio
            .flex()
            .interaction_channels(&interaction.sid)
            .update(&channels.items[0].sid, ChannelStatusUpdate::Closed)
            .complete_tasks()
            .await
            .expect("closed");
        assert_eq!(closed.status, Some(InteractionChannelStatus::Closed));
        let conv_now = twilio
            .conversations()
            .fetch(conv.sid)
            .await
            .expect("conversation");
        assert_eq!(conv_now.state, Some(ConversationState::Closed));

        // Media: the agent's file, through the client's Media Content Service handler.
        let message = emu
            .messages(conv.sid.as_str())
            .into_iter()
            .find(|m| m.sid == file)
            .expect("message");
        let me: MediaSid = message.media[0].sid.parse().expect("ME");
        let media = twilio
            .media(&service(&emu))
            .fetch(&me)
            .await
            .expect("media");
        assert_eq!(
            (media.filename.as_deref(), media.size),
            (Some("label.pdf"), Some(4))
        );
        let url = media.temporary_url().expect("temporary url").to_owned();
        assert_eq!(
            reqwest::get(url)
                .await
                .expect("download")
                .bytes()
                .await
                .expect("bytes")
                .as_ref(),
            b"%PDF"
        );

        // An upload through the client, attached to a message, downloaded again.
        let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 1, 2, 3];
        let open = twilio.conversations().create().await.expect("conversation");
        let up = twilio
            .media(&service(&emu))
            .create("image/png", png.to_vec())
            .filename("shot.png")
            .await
            .expect("upload");
        assert_eq!(
            (up.filename.as_deref(), up.content_type.as_deref(), up.size),
            (Some("shot.png"), Some("image/png"), Some(8))
        );
        let sent = twilio
            .conversations()
            .messages(&open.sid)
            .create()
            .author("discord:5")
            .media_sid(&up.sid)
            .await
            .expect("media message");
        let stored = emu
            .messages(open.sid.as_str())
            .into_iter()
            .find(|m| m.sid == sent.sid.as_str())
            .expect("stored");
        assert_eq!(stored.media[0].sid, up.sid.as_str());
        assert_eq!(stored.media[0].filename, "shot.png");
        let again = twilio
            .media(&service(&emu))
            .fetch(&up.sid)
            .await
            .expect("fetch");
        let url = again.temporary_url().expect("temporary url").to_owned();
        let body = reqwest::get(url).await.expect("download");
        assert_eq!(
            body.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("image/png")
        );
        assert_eq!(body.bytes().await.expect("bytes").as_ref(), png);

        // Studio executions.
        let fw: FlowSid = emu.studio_flow_sid().parse().expect("FW");
        let e = twilio
            .studio()
            .executions(&fw)
            .create("discord:5", "flexcord")
            .parameters(&json!({"x": 1}))
            .await
            .expect("execution");
        let again = twilio
            .studio()
            .executions(&fw)
            .fetch(&e.sid)
            .await
            .expect("fetched");
        assert_eq!(again.contact_channel_address.as_deref(), Some("discord:5"));
    }

    #[tokio::test]
    async fn errors_faults_and_retries_through_the_client() {
        let emu = emulator().await;
        let bad = Client::builder()
            .account(emu.account_sid(), "wrong")
            .base_url(emu.base_url())
            .build()
            .expect("client");
        let err = bad.conversations().list().await.expect_err("401");
        assert!(
            matches!(err.kind(), ErrorKind::Api { status: 401, api, .. } if api.code == 20003),
            "{err:?}"
        );

        let twilio = client(&emu);
        // A 429 with Retry-After is retried by the client and then succeeds.
        emu.inject(
            Fault::on("POST", "/v1/Conversations")
                .too_many_requests(Duration::from_millis(10))
                .times(1),
        );
        let conv = twilio
            .conversations()
            .create()
            .await
            .expect("created after a 429");
        let posts = emu
            .api_calls()
            .iter()
            .filter(|c| c.method == "POST" && c.path == "/v1/Conversations")
            .map(|c| c.status)
            .collect::<Vec<_>>();
        assert_eq!(posts, [429, 201]);
        assert_eq!(emu.conversations().len(), 1);
        // A 500 on a GET is retried too.
        emu.inject(
            Fault::on("GET", "/v1/Conversations/*")
                .server_error()
                .times(1),
        );
        twilio
            .conversations()
            .fetch(conv.sid)
            .await
            .expect("fetched after a 500");
        // A create that keeps failing with 500 is not retried (it may have been processed).
        emu.inject(
            Fault::on("POST", "/v1/Conversations/*/Messages")
                .server_error()
                .times(1),
        );
        let err = twilio
            .conversations()
            .messages(&conv.sid)
            .create()
            .body("x")
            .await
            .expect_err("500");
        assert!(matches!(err.kind(), ErrorKind::Api { status: 500, .. }));
        let unknown: ConversationSid = "CH00000000000000000000000000000000".parse().expect("CH");
        let err = twilio
            .conversations()
            .participants(&unknown)
            .create()
            .identity("x")
            .await
            .expect_err("404");
        assert!(matches!(err.kind(), ErrorKind::Api { status: 404, api, .. } if api.code == 20404));
    }

    /// Every operation in flexcord-twilio's registry is served by the emulator.
    #[tokio::test]
    async fn the_emulator_serves_every_registered_operation() {
        let emu = emulator().await;
        let twilio = client(&emu);
        let svc = service(&emu);
        // Drive the client through each operation once (the other tests check the answers).
        let user = twilio.chat(&svc).users().create("u1").await.expect("user");
        twilio
            .chat(&svc)
            .users()
            .fetch(user.sid)
            .await
            .expect("user fetch");
        twilio
            .chat(&svc)
            .user_channels(user.sid)
            .list()
            .await
            .expect("user channels");
        let ch = twilio
            .chat(&svc)
            .channels()
            .create()
            .await
            .expect("channel");
        twilio
            .chat(&svc)
            .channels()
            .fetch(ch.sid)
            .await
            .expect("channel fetch");
        twilio
            .chat(&svc)
            .channels()
            .update(ch.sid)
            .friendly_name("x")
            .await
            .expect("channel update");
        twilio.chat(&svc).channels().list().await.expect("channels");
        let m = twilio
            .chat(&svc)
            .messages(&ch.sid)
            .create()
            .body("b")
            .await
            .expect("message");
        twilio
            .chat(&svc)
            .messages(&ch.sid)
            .fetch(&m.sid)
            .await
            .expect("message fetch");
        twilio
            .chat(&svc)
            .messages(&ch.sid)
            .list()
            .await
            .expect("messages");
        let wh = twilio
            .chat(&svc)
            .webhooks(&ch.sid)
            .create(ChannelWebhookType::Webhook)
            .url("http://127.0.0.1:9/")
            .await
            .expect("webhook");
        twilio
            .chat(&svc)
            .webhooks(&ch.sid)
            .list()
            .await
            .expect("webhooks");
        twilio
            .chat(&svc)
            .webhooks(&ch.sid)
            .delete(&wh.sid)
            .await
            .expect("webhook delete");
        twilio
            .chat(&svc)
            .members(&ch.sid)
            .list()
            .await
            .expect("members");
        let flow: FlexFlowSid = emu.flex_flow_sid().parse().expect("FO");
        twilio
            .flex()
            .channels()
            .create(&flow, "u2", "U", "C")
            .await
            .expect("flex channel");
        twilio.flex().flex_flows().list().await.expect("flows");
        let conv = twilio.conversations().create().await.expect("conversation");
        let i = twilio
            .flex()
            .interactions()
            .create_for_conversation(&conv.sid, &json!({"properties": {}}))
            .await
            .expect("interaction");
        twilio
            .flex()
            .interactions()
            .fetch(&i.sid)
            .await
            .expect("interaction fetch");
        let uo = twilio
            .flex()
            .interaction_channels(&i.sid)
            .list()
            .await
            .expect("channels")
            .items[0]
            .sid;
        twilio
            .flex()
            .interaction_channels(&i.sid)
            .update(&uo, ChannelStatusUpdate::Closed)
            .await
            .expect("close");
        let c2 = twilio.conversations().create().await.expect("conversation");
        twilio.conversations().fetch(c2.sid).await.expect("fetch");
        twilio
            .conversations()
            .update(c2.sid)
            .friendly_name("f")
            .await
            .expect("update");
        twilio.conversations().list().await.expect("list");
        twilio
            .conversations()
            .participants(&c2.sid)
            .create()
            .identity("p")
            .await
            .expect("participant");
        twilio
            .conversations()
            .participants(&c2.sid)
            .list()
            .await
            .expect("participants");
        let im = twilio
            .conversations()
            .messages(&c2.sid)
            .create()
            .author("p")
            .body("b")
            .await
            .expect("message");
        twilio
            .conversations()
            .messages(&c2.sid)
            .fetch(&im.sid)
            .await
            .expect("message fetch");
        twilio
            .conversations()
            .messages(&c2.sid)
            .list()
            .await
            .expect("messages");
        let cw = twilio
            .conversations()
            .webhooks(&c2.sid)
            .create(WebhookTarget::Webhook)
            .url("http://127.0.0.1:9/")
            .await
            .expect("webhook");
        twilio
            .conversations()
            .webhooks(&c2.sid)
            .list()
            .await
            .expect("webhooks");
        twilio
            .conversations()
            .webhooks(&c2.sid)
            .delete(&cw.sid)
            .await
            .expect("webhook delete");
        twilio.conversations().delete(c2.sid).await.expect("delete");
        let fw: FlowSid = emu.studio_flow_sid().parse().expect("FW");
        let e = twilio
            .studio()
            .executions(&fw)
            .create("a", "b")
            .await
            .expect("execution");
        twilio
            .studio()
            .executions(&fw)
            .fetch(&e.sid)
            .await
            .expect("execution fetch");
        let file = emu.agent("agent:x").send_media(
            conv.sid.as_str(),
            "f.txt",
            "text/plain",
            b"x".to_vec(),
            None,
        );
        assert!(
            file.is_err(),
            "the conversation was closed with its interaction channel"
        );
        let open = twilio.conversations().create().await.expect("conversation");
        let file = emu
            .agent("agent:x")
            .send_media(
                open.sid.as_str(),
                "f.txt",
                "text/plain",
                b"x".to_vec(),
                None,
            )
            .expect("media");
        let me: MediaSid = emu
            .messages(open.sid.as_str())
            .iter()
            .find(|m| m.sid == file)
            .expect("message")
            .media[0]
            .sid
            .parse()
            .expect("ME");
        twilio.media(&svc).fetch(&me).await.expect("media fetch");
        let uploaded = twilio
            .media(&svc)
            .create("text/plain", b"uploaded".to_vec())
            .filename("up.txt")
            .await
            .expect("media upload");
        assert_eq!(uploaded.filename.as_deref(), Some("up.txt"));
        assert_eq!(uploaded.size, Some(8));

        // The same Conversations operations in a named, non-default service.
        let other: ServiceSid = emu
            .add_conversations_service("Discord")
            .parse()
            .expect("IS");
        let scoped = twilio.conversations_in(&other);
        let sc = scoped
            .create()
            .friendly_name("Scoped")
            .await
            .expect("scoped create");
        assert_eq!(sc.chat_service_sid, Some(other));
        scoped.fetch(sc.sid).await.expect("scoped fetch");
        scoped
            .update(sc.sid)
            .friendly_name("Scoped again")
            .await
            .expect("scoped update");
        let listed = scoped.list().await.expect("scoped list");
        assert_eq!(listed.items.len(), 1);
        scoped
            .participants(&sc.sid)
            .create()
            .identity("discord:9")
            .await
            .expect("scoped participant");
        scoped
            .participants(&sc.sid)
            .list()
            .await
            .expect("scoped participants");
        let sm = scoped
            .messages(&sc.sid)
            .create()
            .author("discord:9")
            .body("scoped hello")
            .await
            .expect("scoped message");
        scoped
            .messages(&sc.sid)
            .fetch(&sm.sid)
            .await
            .expect("scoped message fetch");
        scoped
            .messages(&sc.sid)
            .list()
            .await
            .expect("scoped messages");
        let sw = scoped
            .webhooks(&sc.sid)
            .create(WebhookTarget::Webhook)
            .url("http://127.0.0.1:9/")
            .filters(["onMessageAdded"])
            .await
            .expect("scoped webhook");
        scoped
            .webhooks(&sc.sid)
            .list()
            .await
            .expect("scoped webhooks");
        scoped
            .webhooks(&sc.sid)
            .delete(&sw.sid)
            .await
            .expect("scoped webhook delete");
        // Users: the participants' users, by identity, in the default service and the scoped one.
        let p = twilio
            .conversations()
            .users()
            .fetch(flexcord_twilio::sid::SidOrName::Name("p".into()))
            .await
            .expect("user fetch");
        assert_eq!(p.identity.as_deref(), Some("p"));
        let d9 = scoped
            .users()
            .fetch(flexcord_twilio::sid::SidOrName::Name("discord:9".into()))
            .await
            .expect("scoped user fetch");
        assert_eq!(d9.identity.as_deref(), Some("discord:9"));
        let hidden = twilio.conversations().fetch(sc.sid).await;
        assert!(
            hidden.is_err(),
            "a non-default service's conversation is not under /v1/Conversations"
        );
        scoped.delete(sc.sid).await.expect("scoped delete");

        let calls = emu.api_calls();
        let missing: Vec<String> = OPERATIONS
            .iter()
            .filter(|op| {
                !calls.iter().any(|c| {
                    c.method == op.method
                        && op.matches_path(&c.path)
                        && (200..300).contains(&c.status)
                })
            })
            .map(|op| format!("{} {} ({})", op.method, op.path, op.id))
            .collect();
        assert!(
            missing.is_empty(),
            "operations the emulator did not serve: {missing:?}"
        );
        assert!(OPERATIONS.iter().any(|op| op.product == Product::Media));
    }
}
