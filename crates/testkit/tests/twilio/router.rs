//! The Studio-like router: user messages go to the bot URL unless `flexcord.handoff` is true.

use flexcord_testkit::twilio::{Route, TaskStatus};

use crate::support::{Api, Receiver, WAIT, emulator_with, signature_valid};

#[tokio::test]
async fn conversations_route_to_the_bot_then_to_flex() {
    let rx = Receiver::start().await;
    let base = format!("http://{}", rx.addr);
    let emu = emulator_with(|c| {
        c.webhook_base_url = Some(base.clone());
        c.bot_secret = Some("s3cret".to_owned());
    })
    .await;
    let api = Api::new(&emu);
    let conv = api
        .post(
            "/v1/Conversations",
            &[("Attributes", r#"{"flexcord":{"handoff":false}}"#)],
        )
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let c = format!("/v1/Conversations/{conv}");
    api.post(
        &format!("{c}/Webhooks"),
        &[
            ("Target", "studio"),
            ("Configuration.FlowSid", emu.studio_flow_sid()),
        ],
    )
    .await;
    api.post(&format!("{c}/Participants"), &[("Identity", "discord:9")])
        .await;

    let m = api
        .post_hooked(
            &format!("{c}/Messages"),
            &[("Author", "discord:9"), ("Body", "where is my order?")],
        )
        .await;
    let d = emu
        .wait_for_delivery(WAIT, |d| d.url.ends_with("/twilio/bot"))
        .await
        .expect("bot called");
    let got = rx.on("/twilio/bot");
    assert_eq!(got.len(), 1);
    let bot = &got[0];
    assert_eq!(bot.param("ConversationSid"), Some(conv.as_str()));
    assert_eq!(bot.param("MessageSid"), m.json["sid"].as_str());
    assert_eq!(bot.param("Author"), Some("discord:9"));
    assert_eq!(bot.param("Body"), Some("where is my order?"));
    assert_eq!(bot.header("X-Flexcord-Secret"), Some("s3cret"));
    assert!(signature_valid(
        emu.auth_token(),
        &format!("{base}/twilio/bot"),
        bot
    ));
    assert!(
        matches!(emu.router_decisions()[0].route, Route::Bot { delivery_id } if delivery_id == d.id)
    );

    // The bot's own reply, written without webhooks, is never routed.
    api.post_with(
        &format!("{c}/Messages"),
        &[("Author", "flexcord-bot"), ("Body", "Let me check")],
        Some("false"),
    )
    .await;
    api.post_hooked(
        &format!("{c}/Messages"),
        &[("Author", "flexcord-bot"), ("Body", "echo")],
    )
    .await;
    assert_eq!(emu.router_decisions().len(), 1);

    // Hand-off: the flag is set; the shipped flow ends without calling the bot (the bridge
    // hands off through the Interactions API, so the flow never makes a second task).
    api.post(&c, &[("Attributes", r#"{"flexcord":{"handoff":true}}"#)])
        .await;
    api.post_hooked(
        &format!("{c}/Messages"),
        &[("Author", "discord:9"), ("Body", "a human please")],
    )
    .await;
    assert_eq!(emu.router_decisions()[1].route, Route::HandedOff);
    assert!(emu.tasks().is_empty(), "the flow makes no task");
    assert_eq!(rx.on("/twilio/bot").len(), 1, "no second bot call");
    let routing = serde_json::json!({"properties": {
        "workspace_sid": emu.config().workspace_sid,
        "workflow_sid": emu.config().workflow_sid,
        "task_channel_unique_name": "chat",
    }});
    let channel = serde_json::json!({"type": "chat", "initiated_by": "customer",
        "properties": {"media_channel_sid": conv}});
    api.post(
        "/v1/Interactions",
        &[
            ("Channel", channel.to_string().as_str()),
            ("Routing", routing.to_string().as_str()),
        ],
    )
    .await;
    let task = emu.wait_for_task(WAIT).await.expect("task");
    assert_eq!(task.conversation_sid.as_deref(), Some(conv.as_str()));
    assert_eq!(task.status, TaskStatus::Pending);
    let ch = emu
        .interaction_channels()
        .into_iter()
        .find(|c| Some(&c.sid) == task.interaction_channel_sid.as_ref())
        .expect("channel");
    assert_eq!(ch.status, "active");
    api.post_hooked(
        &format!("{c}/Messages"),
        &[("Author", "discord:9"), ("Body", "hello?")],
    )
    .await;
    assert_eq!(emu.router_decisions()[2].route, Route::AlreadyWithFlex);
    assert_eq!(emu.tasks().len(), 1);
    assert_eq!(rx.on("/twilio/bot").len(), 1, "still no second bot call");
}

#[tokio::test]
async fn chat_mode_routes_through_the_flex_flow_studio_webhook() {
    let rx = Receiver::start().await;
    let bot_url = rx.url("/bot");
    let emu = emulator_with(|c| c.bot_url = Some(bot_url.clone())).await;
    let api = Api::new(&emu);
    let ch = api
        .post(
            "/v1/Channels",
            &[
                ("FlexFlowSid", emu.flex_flow_sid()),
                ("Identity", "discord:4"),
                ("ChatUserFriendlyName", "Four"),
                ("ChatFriendlyName", "Four"),
            ],
        )
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let svc = format!("/v2/Services/{}", emu.chat_service_sid());
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:4"), ("Body", "hi bot")],
    )
    .await;
    emu.wait_for_delivery(WAIT, |d| d.url == bot_url)
        .await
        .expect("bot called");
    let bot = rx.on("/bot").pop().expect("bot request");
    assert_eq!(
        (
            bot.param("ChannelSid"),
            bot.param("Author"),
            bot.param("Body")
        ),
        (Some(ch.as_str()), Some("discord:4"), Some("hi bot"))
    );
    assert!(bot.param("ConversationSid").is_none());
    assert!(signature_valid(emu.auth_token(), &bot_url, &bot));

    // Without the header Studio never sees the message.
    api.post(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:4"), ("Body", "silent")],
    )
    .await;
    assert_eq!(emu.router_decisions().len(), 1);

    let attrs = crate::support::with_handoff(&emu.chat_channel(&ch).expect("channel").attributes);
    api.post(&format!("{svc}/Channels/{ch}"), &[("Attributes", &attrs)])
        .await;
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Messages"),
        &[("From", "discord:4"), ("Body", "agent please")],
    )
    .await;
    let task = emu.wait_for_task(WAIT).await.expect("task");
    assert_eq!(task.chat_channel_sid.as_deref(), Some(ch.as_str()));
    assert!(
        emu.chat_webhooks(&ch).iter().all(|w| w.kind != "studio"),
        "Studio webhook removed after Send to Flex"
    );
    assert_eq!(rx.on("/bot").len(), 1);
}
