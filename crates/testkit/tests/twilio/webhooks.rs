//! Webhooks: fields per event, signatures, idempotency tokens, filters, retries, the
//! `X-Twilio-Webhook-Enabled` header, service-level and Chat channel webhooks.

use std::time::Duration;

use flexcord_testkit::twilio::{DeliveryOutcome, ServiceWebhook};

use crate::support::{
    Api, Receiver, WAIT, conversation_with_webhook, emulator, emulator_with, signature_valid,
};

#[tokio::test]
async fn message_added_is_signed_and_carries_every_field() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let url = rx.url("/twilio/outbound?tenant=a");
    let conv =
        conversation_with_webhook(&api, &url, &["onMessageAdded", "onParticipantAdded"]).await;
    let base = format!("/v1/Conversations/{conv}");
    api.post_hooked(
        &format!("{base}/Participants"),
        &[("Identity", "discord:1")],
    )
    .await;
    let msg = api
        .post_hooked(
            &format!("{base}/Messages"),
            &[
                ("Author", "discord:1"),
                ("Body", "hello"),
                ("Attributes", r#"{"k":"v"}"#),
            ],
        )
        .await;
    let d = emu
        .wait_for_delivery(WAIT, |d| d.event_type.as_deref() == Some("onMessageAdded"))
        .await
        .expect("delivered");
    assert_eq!(d.outcome, DeliveryOutcome::Delivered);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    let added = got
        .iter()
        .find(|r| r.param("EventType") == Some("onMessageAdded"))
        .expect("message webhook");
    assert_eq!(added.method, "POST");
    assert_eq!(added.query.as_deref(), Some("tenant=a"));
    assert!(
        added
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    );
    for (k, v) in [
        ("AccountSid", emu.account_sid()),
        ("ChatServiceSid", emu.chat_service_sid()),
        ("ConversationSid", conv.as_str()),
        ("MessageSid", msg.json["sid"].as_str().unwrap_or_default()),
        ("Index", "0"),
        ("Author", "discord:1"),
        ("Body", "hello"),
        ("Attributes", r#"{"k":"v"}"#),
        ("ParticipantSid", emu.participants(&conv)[0].sid.as_str()),
        ("Source", "API"),
        ("RetryCount", "0"),
    ] {
        assert_eq!(added.param(k), Some(v), "{k}");
    }
    assert!(added.param("DateCreated").is_some());
    assert!(
        signature_valid(emu.auth_token(), &url, added),
        "signature accepted"
    );
    assert!(!signature_valid("other-token", &url, added));
    let token = added
        .header("I-Twilio-Idempotency-Token")
        .expect("idempotency token");
    assert_eq!(token, d.idempotency_token);
    let joined = got
        .iter()
        .find(|r| r.param("EventType") == Some("onParticipantAdded"))
        .expect("participant webhook");
    assert_eq!(joined.param("Identity"), Some("discord:1"));
    assert!(
        joined
            .param("ParticipantSid")
            .is_some_and(|p| p.starts_with("MB"))
    );
    assert_ne!(
        joined.header("I-Twilio-Idempotency-Token"),
        Some(token),
        "one token per event"
    );
}

#[tokio::test]
async fn filters_and_the_webhook_header_decide_what_fires() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv = conversation_with_webhook(&api, &rx.url("/hook"), &["onMessageAdded"]).await;
    let base = format!("/v1/Conversations/{conv}");
    api.post(
        &format!("{base}/Messages"),
        &[("Body", "no header: REST writes are silent")],
    )
    .await;
    api.post_with(
        &format!("{base}/Messages"),
        &[("Body", "header false")],
        Some("false"),
    )
    .await;
    api.post_hooked(&format!("{base}/Participants"), &[("Identity", "x")])
        .await; // not in the filters
    api.post_hooked(&format!("{base}/Messages"), &[("Body", "fires")])
        .await;
    emu.wait_for_event(WAIT, "onMessageAdded")
        .await
        .expect("delivered");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].param("Body"), Some("fires"));

    let loose = emulator_with(|c| c.rest_webhooks_need_header = false).await;
    let api = Api::new(&loose);
    let rx = Receiver::start().await;
    let conv = conversation_with_webhook(&api, &rx.url("/hook"), &["onMessageAdded"]).await;
    api.post(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Body", "fires without header")],
    )
    .await;
    api.post_with(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Body", "silenced")],
        Some("false"),
    )
    .await;
    loose
        .wait_for_event(WAIT, "onMessageAdded")
        .await
        .expect("delivered");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let bodies: Vec<_> = rx
        .received()
        .iter()
        .filter_map(|r| r.param("Body").map(str::to_owned))
        .collect();
    assert_eq!(bodies, ["fires without header"]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_token() {
    let emu = emulator_with(|c| c.webhook_retries = 2).await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    rx.script(&[(500, Duration::ZERO), (200, Duration::from_millis(800))]); // then a timeout, then 200
    let url = rx.url("/hook");
    let conv = conversation_with_webhook(&api, &url, &["onMessageAdded"]).await;
    api.post_hooked(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Body", "retry me")],
    )
    .await;
    let d = emu
        .wait_for_event(WAIT, "onMessageAdded")
        .await
        .expect("finished");
    assert_eq!(d.outcome, DeliveryOutcome::Delivered);
    assert_eq!(d.attempts.len(), 3);
    assert_eq!(d.attempts[0].status, Some(500));
    assert!(
        d.attempts[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("timeout")),
        "{:?}",
        d.attempts[1]
    );
    assert_eq!(d.attempts[2].status, Some(200));
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let tokens: Vec<_> = got
        .iter()
        .map(|r| r.header("I-Twilio-Idempotency-Token").map(str::to_owned))
        .collect();
    assert!(tokens.iter().all(|t| t == &tokens[0] && t.is_some()));
    let retries: Vec<_> = got
        .iter()
        .map(|r| r.param("RetryCount").map(str::to_owned))
        .collect();
    assert_eq!(
        retries,
        [
            Some("0".to_owned()),
            Some("1".to_owned()),
            Some("2".to_owned())
        ]
    );
    assert!(
        got.iter()
            .all(|r| signature_valid(emu.auth_token(), &url, r))
    );

    // A 4xx is not retried; with retries exhausted the delivery fails.
    rx.script(&[(400, Duration::ZERO)]);
    api.post_hooked(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Body", "rejected")],
    )
    .await;
    let d = emu
        .wait_for_delivery(WAIT, |d| d.param("Body") == Some("rejected"))
        .await
        .expect("finished");
    assert_eq!((d.outcome, d.attempts.len()), (DeliveryOutcome::Failed, 1));
}

#[tokio::test]
async fn fragment_sets_retry_count_and_is_not_sent() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    rx.script(&[
        (503, Duration::ZERO),
        (503, Duration::ZERO),
        (503, Duration::ZERO),
    ]);
    let conv = conversation_with_webhook(&api, &rx.url("/hook#rc=2"), &["onMessageAdded"]).await;
    api.post_hooked(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Body", "x")],
    )
    .await;
    let d = emu
        .wait_for_event(WAIT, "onMessageAdded")
        .await
        .expect("finished");
    assert_eq!((d.outcome, d.attempts.len()), (DeliveryOutcome::Failed, 3));
    assert_eq!(d.url, rx.url("/hook"));
}

#[tokio::test]
async fn service_level_webhook_and_get_method() {
    let rx = Receiver::start().await;
    let service_url = rx.url("/service");
    let emu = emulator_with(|c| {
        c.conversations_webhook = Some(ServiceWebhook::post(
            service_url.clone(),
            &["onConversationStateUpdated", "onMessageAdded"],
        ));
    })
    .await;
    let api = Api::new(&emu);
    let conv = api.post("/v1/Conversations", &[]).await.json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let get_url = rx.url("/get-hook");
    api.post(
        &format!("/v1/Conversations/{conv}/Webhooks"),
        &[
            ("Target", "webhook"),
            ("Configuration.Url", &get_url),
            ("Configuration.Method", "get"),
            ("Configuration.Filters", "onMessageAdded"),
        ],
    )
    .await;
    api.post_hooked(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Body", "via GET")],
    )
    .await;
    api.post_hooked(&format!("/v1/Conversations/{conv}"), &[("State", "closed")])
        .await;
    emu.wait_for(WAIT, |e| {
        (e.deliveries()
            .iter()
            .filter(|d| d.outcome == DeliveryOutcome::Delivered)
            .count()
            == 3)
            .then_some(())
    })
    .await
    .expect("three deliveries");
    let state = rx
        .on("/service")
        .into_iter()
        .find(|r| r.param("EventType") == Some("onConversationStateUpdated"))
        .expect("state webhook");
    assert_eq!(
        (
            state.param("StateFrom"),
            state.param("StateTo"),
            state.param("Reason")
        ),
        (Some("active"), Some("closed"), Some("API"))
    );
    assert!(state.param("StateUpdated").is_some());
    assert!(signature_valid(emu.auth_token(), &service_url, &state));
    let get = rx.on("/get-hook").pop().expect("GET webhook");
    assert_eq!(get.method, "GET");
    let query = get.query.clone().unwrap_or_default();
    assert!(
        query.contains("Body=via+GET") && query.contains("EventType=onMessageAdded"),
        "{query}"
    );
    assert!(signature_valid(
        emu.auth_token(),
        &format!("{get_url}?{query}"),
        &get
    ));
}

#[tokio::test]
async fn chat_channel_webhooks_fire_chat_events() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let url = rx.url("/twilio/outbound");
    let svc = format!("/v2/Services/{}", emu.chat_service_sid());
    let ch = api
        .post(&format!("{svc}/Channels"), &[("FriendlyName", "c")])
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut form = vec![
        ("Type", "webhook"),
        ("Configuration.Url", url.as_str()),
        ("Configuration.Method", "POST"),
    ];
    for f in [
        "onMessageSent",
        "onMessageUpdated",
        "onMemberAdded",
        "onChannelUpdated",
    ] {
        form.push(("Configuration.Filters", f));
    }
    let wh = api
        .post(&format!("{svc}/Channels/{ch}/Webhooks"), &form)
        .await
        .json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.post_hooked(
        &format!("{svc}/Channels/{ch}/Members"),
        &[("Identity", "discord:3")],
    )
    .await;
    let m = api
        .post_hooked(
            &format!("{svc}/Channels/{ch}/Messages"),
            &[("From", "discord:3"), ("Body", "hey")],
        )
        .await;
    api.post_hooked(
        &format!(
            "{svc}/Channels/{ch}/Messages/{}",
            m.json["sid"].as_str().unwrap_or_default()
        ),
        &[("Body", "hey!")],
    )
    .await;
    api.post_hooked(
        &format!("{svc}/Channels/{ch}"),
        &[("Attributes", r#"{"status":"INACTIVE"}"#)],
    )
    .await;
    emu.wait_for(WAIT, |e| {
        (e.deliveries()
            .iter()
            .filter(|d| d.outcome == DeliveryOutcome::Delivered)
            .count()
            == 4)
            .then_some(())
    })
    .await
    .expect("four");
    let got = rx.received();
    let kinds: Vec<_> = got
        .iter()
        .filter_map(|r| r.param("EventType").map(str::to_owned))
        .collect();
    assert_eq!(
        kinds,
        [
            "onMemberAdded",
            "onMessageSent",
            "onMessageUpdated",
            "onChannelUpdated"
        ]
    );
    for r in &got {
        assert_eq!(r.param("InstanceSid"), Some(emu.chat_service_sid()));
        assert_eq!(r.param("ChannelSid"), Some(ch.as_str()));
        assert_eq!(r.param("WebhookSid"), Some(wh.as_str()));
        assert_eq!(r.param("WebhookType"), Some("webhook"));
        assert!(signature_valid(emu.auth_token(), &url, r));
    }
    assert_eq!(got[0].param("Identity"), Some("discord:3"));
    assert_eq!(
        (
            got[1].param("From"),
            got[1].param("Body"),
            got[1].param("Index")
        ),
        (Some("discord:3"), Some("hey"), Some("0"))
    );
    assert_eq!(got[2].param("Body"), Some("hey!"));
    assert_eq!(got[3].param("Attributes"), Some(r#"{"status":"INACTIVE"}"#));
}

#[tokio::test]
async fn expired_timers_close_conversations() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv =
        conversation_with_webhook(&api, &rx.url("/o"), &["onConversationStateUpdated"]).await;
    let untimed =
        conversation_with_webhook(&api, &rx.url("/o"), &["onConversationStateUpdated"]).await;
    assert_eq!(
        api.post(
            &format!("/v1/Conversations/{conv}"),
            &[("Timers.Closed", "PT5M")]
        )
        .await
        .status,
        400,
        "at least 10 minutes"
    );
    api.post(
        &format!("/v1/Conversations/{conv}"),
        &[("Timers.Closed", "PT10M")],
    )
    .await;
    assert_eq!(emu.expire_timers(), 1);
    let d = emu
        .wait_for_event(WAIT, "onConversationStateUpdated")
        .await
        .expect("state");
    assert_eq!(
        (d.param("StateTo"), d.param("Reason")),
        (Some("closed"), Some("TIMER"))
    );
    assert_eq!(
        emu.conversation(&untimed).map(|c| c.state).as_deref(),
        Some("active")
    );
    assert_eq!(emu.expire_timers(), 0);
}

#[tokio::test]
async fn a_message_reactivates_an_inactive_conversation() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv =
        conversation_with_webhook(&api, &rx.url("/o"), &["onConversationStateUpdated"]).await;
    api.post(
        &format!("/v1/Conversations/{conv}"),
        &[("State", "inactive")],
    )
    .await;
    api.post_hooked(
        &format!("/v1/Conversations/{conv}/Messages"),
        &[("Author", "discord:1"), ("Body", "back")],
    )
    .await;
    let d = emu
        .wait_for_event(WAIT, "onConversationStateUpdated")
        .await
        .expect("state");
    assert_eq!(
        (d.param("StateFrom"), d.param("StateTo")),
        (Some("inactive"), Some("active"))
    );
    assert_eq!(
        emu.conversation(&conv).map(|c| c.state).as_deref(),
        Some("active")
    );
}
