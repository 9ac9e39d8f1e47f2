//! Fault injection: latency, held answers, 429 with Retry-After, 500, dropped and duplicated
//! webhooks.

use std::time::{Duration, Instant};

use flexcord_testkit::twilio::{DeliveryOutcome, Fault, WebhookFault};

use crate::support::{Api, Receiver, WAIT, conversation_with_webhook, emulator};

#[tokio::test]
async fn rest_faults_apply_per_route_and_count() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    emu.inject(
        Fault::on("POST", "/v1/Conversations")
            .too_many_requests(Duration::from_millis(1500))
            .times(1),
    );
    let limited = api.post("/v1/Conversations", &[]).await;
    assert_eq!(
        (limited.status, limited.json["code"].as_u64()),
        (429, Some(20429))
    );
    assert_eq!(
        limited
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert!(emu.conversations().is_empty(), "a 429 is not processed");
    let ok = api.post("/v1/Conversations", &[]).await;
    assert_eq!(ok.status, 201);
    let sid = ok.json["sid"].as_str().unwrap_or_default().to_owned();

    emu.inject(
        Fault::on("*", "/v1/Conversations/*")
            .server_error()
            .times(2),
    );
    assert_eq!(
        api.get(&format!("/v1/Conversations/{sid}")).await.status,
        500
    );
    assert_eq!(
        api.get("/v1/Conversations").await.status,
        200,
        "other routes unaffected"
    );
    assert_eq!(
        api.get(&format!("/v1/Conversations/{sid}")).await.json["code"],
        20500
    );
    assert_eq!(
        api.get(&format!("/v1/Conversations/{sid}")).await.status,
        200
    );

    emu.inject(Fault::on("GET", "/v1/Conversations/**").latency(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(
        api.get(&format!("/v1/Conversations/{sid}/Messages"))
            .await
            .status,
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    emu.clear_faults();
    emu.inject(Fault::on("*", "/**").unavailable().times(1));
    assert_eq!(api.get("/v1/FlexFlows").await.status, 503);
}

#[tokio::test]
async fn webhooks_can_be_dropped_or_duplicated() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv = conversation_with_webhook(&api, &rx.url("/o"), &["onMessageAdded"]).await;
    let path = format!("/v1/Conversations/{conv}/Messages");
    emu.inject_webhook(
        WebhookFault::drop_deliveries()
            .event("onMessageAdded")
            .times(1),
    );
    emu.inject_webhook(WebhookFault::duplicate().url_contains("/o").times(1));
    api.post_hooked(&path, &[("Body", "lost")]).await;
    api.post_hooked(&path, &[("Body", "twice")]).await;
    api.post_hooked(&path, &[("Body", "once")]).await;
    emu.wait_for(WAIT, |e| {
        let d = e.deliveries();
        (d.len() == 4 && d.iter().all(|x| x.outcome != DeliveryOutcome::Pending)).then_some(())
    })
    .await
    .expect("all finished");
    let d = emu.deliveries();
    assert_eq!(d[0].outcome, DeliveryOutcome::Dropped);
    assert_eq!(d.iter().filter(|x| x.duplicate_of.is_some()).count(), 1);
    let got = rx.received();
    let bodies: Vec<_> = got.iter().filter_map(|r| r.param("Body")).collect();
    assert_eq!(bodies, ["twice", "twice", "once"]);
    assert_eq!(
        got[0].header("I-Twilio-Idempotency-Token"),
        got[1].header("I-Twilio-Idempotency-Token")
    );
    assert_ne!(
        got[1].header("I-Twilio-Idempotency-Token"),
        got[2].header("I-Twilio-Idempotency-Token")
    );
}

#[tokio::test]
async fn held_answers_wait_for_release_while_webhooks_go_out() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let rx = Receiver::start().await;
    let conv = conversation_with_webhook(&api, &rx.url("/o"), &["onMessageAdded"]).await;
    let path = format!("/v1/Conversations/{conv}/Messages");
    emu.inject(
        Fault::on("POST", "/v1/Conversations/*/Messages")
            .hold()
            .times(1),
    );
    let call = tokio::spawn({
        let api = Api::new(&emu);
        let path = path.clone();
        async move {
            api.post_hooked(&path, &[("Body", "in flight")])
                .await
                .status
        }
    });
    emu.wait_for(WAIT, |e| (e.held() == 1).then_some(()))
        .await
        .expect("the answer is held");
    // Served already: the message exists and its webhook goes out while the caller waits.
    assert_eq!(emu.messages(&conv)[0].body.as_deref(), Some("in flight"));
    let deadline = Instant::now() + WAIT;
    while rx.on("/o").is_empty() {
        assert!(
            Instant::now() < deadline,
            "no webhook while the answer is held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rx.on("/o")[0].param("Body"), Some("in flight"));
    assert!(!call.is_finished());
    assert_eq!(emu.release_held(), 1);
    assert_eq!(call.await.expect("no panic"), 201);
    assert_eq!(emu.held(), 0);
    // The rule was used up: the next call is answered at once.
    assert_eq!(api.post(&path, &[("Body", "next")]).await.status, 201);
    let released: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/__testkit/twilio/release", emu.base_url()))
        .send()
        .await
        .expect("release")
        .json()
        .await
        .expect("json");
    assert_eq!(released["released"], 0);
}

#[tokio::test]
async fn control_api_drives_the_agent_over_http() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let conv = api.post("/v1/Conversations", &[]).await.json["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let channel = format!(r#"{{"type":"chat","properties":{{"media_channel_sid":"{conv}"}}}}"#);
    api.post("/v1/Interactions", &[("Channel", &channel)]).await;
    emu.wait_for_task(WAIT).await.expect("task");
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}/__testkit/twilio/{p}", emu.base_url());
    let accepted: serde_json::Value = http
        .post(ctl("agent/accept"))
        .form(&[("Agent", "agent:dan")])
        .send()
        .await
        .expect("accept")
        .json()
        .await
        .expect("json");
    assert!(
        accepted["participant_sid"]
            .as_str()
            .is_some_and(|s| s.starts_with("MB"))
    );
    let sent = http
        .post(ctl("agent/send"))
        .form(&[
            ("Agent", "agent:dan"),
            ("Target", conv.as_str()),
            ("Body", "hello"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status().as_u16(), 200);
    assert_eq!(emu.messages(&conv)[0].author, "agent:dan");
    let state: serde_json::Value = http
        .get(ctl("state"))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["conversations"][0]["messages"][0]["body"], "hello");
    assert_eq!(state["tasks"][0]["worker"], "agent:dan");
    let missing = http
        .post(ctl("agent/send"))
        .form(&[("Target", "CH00000000000000000000000000000000")])
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status().as_u16(), 404);
    let fault = http
        .post(ctl("faults"))
        .form(&[("Path", "/v1/FlexFlows"), ("Effect", "500"), ("Times", "1")])
        .send()
        .await
        .expect("fault");
    assert_eq!(fault.status().as_u16(), 204);
    assert_eq!(api.get("/v1/FlexFlows").await.status, 500);
    assert_eq!(api.get("/v1/FlexFlows").await.status, 200);
}
