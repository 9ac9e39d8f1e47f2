//! The Flex agent: accept, send, edit, attach, close, end the task.

use flexcord_testkit::twilio::{TaskEnd, TaskStatus};

use crate::support::{Api, Receiver, WAIT, emulator, signature_valid};

async fn handed_off(
    emu: &flexcord_testkit::twilio::TwilioEmulator,
    api: &Api,
    url: &str,
) -> String {
    let conv = api
        .post(
            "/v1/Conversations",
            &[("Attributes", r#"{"flexcord":{"handoff":true}}"#)],
        )
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let c = format!("/v1/Conversations/{conv}");
    api.post(&format!("{c}/Participants"), &[("Identity", "discord:1")])
        .await;
    let mut form = vec![
        ("Target", "webhook"),
        ("Configuration.Url", url),
        ("Configuration.Method", "post"),
    ];
    for f in [
        "onMessageAdded",
        "onMessageUpdated",
        "onParticipantAdded",
        "onConversationStateUpdated",
    ] {
        form.push(("Configuration.Filters", f));
    }
    api.post(&format!("{c}/Webhooks"), &form).await;
    let channel = format!(
        r#"{{"type":"chat","initiated_by":"customer","properties":{{"media_channel_sid":"{conv}"}}}}"#
    );
    assert_eq!(
        api.post("/v1/Interactions", &[("Channel", &channel)])
            .await
            .status,
        200
    );
    let _ = emu;
    conv
}

#[tokio::test]
async fn agent_joins_writes_edits_attaches_and_ends_the_task() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let url = rx.url("/twilio/outbound");
    let conv = handed_off(&emu, &api, &url).await;
    let agent = emu.agent("agent:alice");

    let task = agent.accept_next(WAIT).await.expect("accepted");
    assert_eq!(
        (task.status, task.worker.as_deref()),
        (TaskStatus::Assigned, Some("agent:alice"))
    );
    assert!(agent.accept(&task.sid).is_err(), "already assigned");
    let joined = emu
        .wait_for_event(WAIT, "onParticipantAdded")
        .await
        .expect("agent joined");
    assert_eq!(joined.param("Identity"), Some("agent:alice"));

    let sid = agent.send(&conv, "Hi, I am Alice").expect("sent");
    let added = emu
        .wait_for_delivery(WAIT, |d| {
            d.param("MessageSid") == Some(sid.as_str())
                && d.event_type.as_deref() == Some("onMessageAdded")
        })
        .await
        .expect("message");
    assert_eq!(
        (
            added.param("Author"),
            added.param("Source"),
            added.param("ClientIdentity")
        ),
        (Some("agent:alice"), Some("SDK"), Some("agent:alice"))
    );
    assert!(
        added
            .param("ParticipantSid")
            .is_some_and(|p| p.starts_with("MB"))
    );

    agent.edit(&conv, &sid, "Hi, I am Alice!").expect("edited");
    let updated = emu
        .wait_for_event(WAIT, "onMessageUpdated")
        .await
        .expect("updated");
    assert_eq!(updated.param("Body"), Some("Hi, I am Alice!"));
    assert!(updated.param("DateUpdated").is_some());

    let file = agent
        .send_media(
            &conv,
            "label.pdf",
            "application/pdf",
            b"%PDF-1".to_vec(),
            Some("your label"),
        )
        .expect("media");
    let with_media = emu
        .wait_for_delivery(WAIT, |d| d.param("MessageSid") == Some(file.as_str()))
        .await
        .expect("media message");
    let media: serde_json::Value =
        serde_json::from_str(with_media.param("Media").unwrap_or("null"))
            .expect("Media is JSON text");
    assert_eq!(
        (
            media[0]["Filename"].as_str(),
            media[0]["ContentType"].as_str(),
            media[0]["Size"].as_u64()
        ),
        (Some("label.pdf"), Some("application/pdf"), Some(6))
    );
    // The bridge fetches the media item and downloads it through the temporary URL.
    let me = media[0]["Sid"].as_str().unwrap_or_default();
    let item = api
        .get(&format!(
            "/v1/Services/{}/Media/{me}",
            emu.chat_service_sid()
        ))
        .await;
    assert_eq!(item.json["message_sid"], file.as_str());
    let link = item.json["links"]["content_direct_temporary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        reqwest::get(link)
            .await
            .expect("download")
            .bytes()
            .await
            .expect("bytes")
            .as_ref(),
        b"%PDF-1"
    );

    agent
        .end_task(&task.sid, TaskEnd::Completed)
        .expect("ended");
    let closed = emu
        .wait_for_event(WAIT, "onConversationStateUpdated")
        .await
        .expect("closed");
    assert_eq!(closed.param("StateTo"), Some("closed"));
    assert_eq!(
        emu.conversation(&conv).map(|c| c.state).as_deref(),
        Some("closed")
    );
    assert_eq!(emu.tasks()[0].status, TaskStatus::Completed);
    assert_eq!(emu.interaction_channels()[0].status, "closed");
    assert!(agent.send(&conv, "too late").is_err());

    emu.wait_for(WAIT, |e| {
        e.deliveries()
            .iter()
            .all(|d| d.outcome != flexcord_testkit::twilio::DeliveryOutcome::Pending)
            .then_some(())
    })
    .await
    .expect("all sent");
    let got = rx.received();
    assert_eq!(
        got.len(),
        5,
        "participant, message, update, media message, state"
    );
    assert!(
        got.iter()
            .all(|r| signature_valid(emu.auth_token(), &url, r))
    );
}

#[tokio::test]
async fn wrapup_and_close_conversation() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv = handed_off(&emu, &api, &rx.url("/o")).await;
    let agent = emu.agent("agent:bob");
    let task = agent.accept_next(WAIT).await.expect("accepted");
    agent.end_task(&task.sid, TaskEnd::Wrapup).expect("wrap-up");
    assert_eq!(emu.tasks()[0].status, TaskStatus::Wrapping);
    assert_eq!(
        emu.conversation(&conv).map(|c| c.state).as_deref(),
        Some("closed")
    );

    let conv2 = handed_off(&emu, &api, &rx.url("/o")).await;
    agent.close_conversation(&conv2).expect("closed");
    let d = emu
        .wait_for_delivery(WAIT, |d| {
            d.param("ConversationSid") == Some(conv2.as_str())
                && d.param("StateTo") == Some("closed")
        })
        .await
        .expect("state");
    assert_eq!(d.param("StateFrom"), Some("active"));
    assert!(
        agent
            .end_task("WT00000000000000000000000000000000", TaskEnd::Completed)
            .is_err()
    );
}

#[tokio::test]
async fn chat_agent_joins_and_ends_with_inactive_channel() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let url = rx.url("/o");
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
    let attrs = crate::support::with_handoff(&emu.chat_channel(&ch).expect("channel").attributes);
    api.post(&format!("{svc}/Channels/{ch}"), &[("Attributes", &attrs)])
        .await;
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:2"), ("Body", "help")],
    )
    .await;
    let agent = emu.agent("agent:carol");
    let task = agent.accept_next(WAIT).await.expect("accepted");
    let joined = emu
        .wait_for_event(WAIT, "onMemberAdded")
        .await
        .expect("member added");
    assert_eq!(joined.param("Identity"), Some("agent:carol"));
    let sid = agent.send(&ch, "Carol here").expect("sent");
    let sent = emu
        .wait_for_delivery(WAIT, |d| d.param("MessageSid") == Some(sid.as_str()))
        .await
        .expect("sent");
    assert_eq!(
        (
            sent.param("EventType"),
            sent.param("Source"),
            sent.param("From")
        ),
        (Some("onMessageSent"), Some("SDK"), Some("agent:carol"))
    );
    agent.edit(&ch, &sid, "Carol here!").expect("edit");
    emu.wait_for_event(WAIT, "onMessageUpdated")
        .await
        .expect("updated");
    agent
        .send_media(&ch, "a.txt", "text/plain", b"abc".to_vec(), None)
        .expect("media");
    let media = emu
        .wait_for_event(WAIT, "onMediaMessageSent")
        .await
        .expect("media");
    assert_eq!(
        (media.param("MediaFilename"), media.param("MediaSize")),
        (Some("a.txt"), Some("3"))
    );
    agent.end_task(&task.sid, TaskEnd::Completed).expect("end");
    let upd = emu
        .wait_for_delivery(WAIT, |d| {
            d.event_type.as_deref() == Some("onChannelUpdated")
                && d.param("Attributes")
                    .is_some_and(|a| a.contains("INACTIVE"))
        })
        .await
        .expect("inactive");
    assert_eq!(upd.param("ChannelSid"), Some(ch.as_str()));
    assert_eq!(emu.tasks()[0].status, TaskStatus::Completed);
}

#[tokio::test]
async fn auto_agent_accepts_greets_answers_and_ends() {
    use flexcord_testkit::twilio::AutoAgent;

    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv = handed_off(&emu, &api, &rx.url("/o")).await;
    let _alice = emu.start_auto_agent(
        AutoAgent::new("agent:alice")
            .greeting("Hi, Alice here")
            .reply_with(|t| Some(format!("You said: {t}")))
            .end_words(&["bye"]),
    );
    let greeted = emu
        .wait_for(WAIT, |e| {
            e.messages(&conv)
                .into_iter()
                .find(|m| m.author == "agent:alice")
        })
        .await
        .expect("greeting");
    assert_eq!(greeted.body.as_deref(), Some("Hi, Alice here"));
    assert_eq!(emu.tasks()[0].worker.as_deref(), Some("agent:alice"));
    let path = format!("/v1/Conversations/{conv}/Messages");
    api.post_hooked(
        &path,
        &[("Author", "discord:1"), ("Body", "my order is late")],
    )
    .await;
    emu.wait_for(WAIT, |e| {
        e.messages(&conv)
            .into_iter()
            .find(|m| m.body.as_deref() == Some("You said: my order is late"))
    })
    .await
    .expect("answer");
    api.post_hooked(&path, &[("Author", "discord:1"), ("Body", "ok, bye")])
        .await;
    emu.wait_for(WAIT, |e| {
        (e.conversation(&conv).map(|c| c.state).as_deref() == Some("closed")).then_some(())
    })
    .await
    .expect("ended");
    assert_eq!(emu.tasks()[0].status, TaskStatus::Completed);
    let agent_messages = emu
        .messages(&conv)
        .into_iter()
        .filter(|m| m.author == "agent:alice")
        .count();
    assert_eq!(agent_messages, 2, "greeting and one answer");
}

#[tokio::test]
async fn auto_agent_over_the_control_api_in_chat_mode() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let started = reqwest::Client::new()
        .post(format!("{}/__testkit/twilio/auto-agent", emu.base_url()))
        .form(&[
            ("Agent", "agent:zoe"),
            ("Greeting", "Zoe here"),
            ("EndWords", "bye, thanks"),
        ])
        .send()
        .await
        .expect("started");
    assert_eq!(started.status().as_u16(), 204);
    let ch = api
        .post(
            "/v1/Channels",
            &[
                ("FlexFlowSid", emu.flex_flow_sid()),
                ("Identity", "discord:8"),
                ("ChatUserFriendlyName", "E"),
                ("ChatFriendlyName", "E"),
            ],
        )
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let svc = format!("/v2/Services/{}", emu.chat_service_sid());
    let attrs = crate::support::with_handoff(&emu.chat_channel(&ch).expect("channel").attributes);
    api.post(&format!("{svc}/Channels/{ch}"), &[("Attributes", &attrs)])
        .await;
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:8"), ("Body", "help")],
    )
    .await;
    emu.wait_for(WAIT, |e| {
        e.chat_messages(&ch)
            .into_iter()
            .find(|m| m.from == "agent:zoe")
    })
    .await
    .expect("greeting");
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:8"), ("Body", "Thanks!")],
    )
    .await;
    emu.wait_for(WAIT, |e| {
        e.chat_channel(&ch)
            .filter(|c| c.attributes.contains("INACTIVE"))
    })
    .await
    .expect("channel inactive");
}
