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
