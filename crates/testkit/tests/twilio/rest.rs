//! The REST products: stateful CRUD, pagination, auth, error bodies.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{Api, emulator};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn conversations_crud_is_stateful() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let created = api
        .post(
            "/v1/Conversations",
            &[
                ("FriendlyName", "Ticket"),
                ("UniqueName", "discord:42:1"),
                ("Attributes", r#"{"flexcord":{"handoff":false}}"#),
                ("Timers.Closed", "PT10M"),
            ],
        )
        .await;
    assert_eq!(created.status, 201);
    let sid = s(&created.json["sid"]);
    assert!(sid.starts_with("CH") && sid.len() == 34);
    assert_eq!(created.json["state"], "active");
    assert_eq!(
        created.json["attributes"],
        r#"{"flexcord":{"handoff":false}}"#
    );
    assert_eq!(created.json["account_sid"], emu.account_sid());
    assert!(created.json["timers"]["date_closed"].is_string());
    assert_eq!(
        created.json["url"],
        format!("{}/v1/Conversations/{sid}", emu.base_url())
    );

    let by_name = api.get("/v1/Conversations/discord:42:1").await;
    assert_eq!(by_name.status, 200);
    assert_eq!(by_name.json["sid"], sid.as_str());

    let dup = api
        .post("/v1/Conversations", &[("UniqueName", "discord:42:1")])
        .await;
    assert_eq!((dup.status, dup.json["code"].as_u64()), (409, Some(50353)));

    let updated = api
        .post(
            &format!("/v1/Conversations/{sid}"),
            &[("Attributes", r#"{"flexcord":{"handoff":true}}"#)],
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        api.get(&format!("/v1/Conversations/{sid}")).await.json["attributes"],
        r#"{"flexcord":{"handoff":true}}"#
    );

    let bad = api
        .post(
            &format!("/v1/Conversations/{sid}"),
            &[("Attributes", "{not json")],
        )
        .await;
    assert_eq!((bad.status, bad.json["code"].as_u64()), (400, Some(20001)));
    let bad_state = api
        .post(&format!("/v1/Conversations/{sid}"), &[("State", "open")])
        .await;
    assert_eq!(bad_state.status, 400);

    let list = api.get("/v1/Conversations").await;
    assert_eq!(list.json["conversations"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.json["meta"]["key"], "conversations");

    let closed = api
        .post(&format!("/v1/Conversations/{sid}"), &[("State", "closed")])
        .await;
    assert_eq!(closed.json["state"], "closed");
    let reopen = api
        .post(&format!("/v1/Conversations/{sid}"), &[("State", "active")])
        .await;
    assert_eq!(reopen.status, 400);
    assert_eq!(
        api.get("/v1/Conversations?State=active").await.json["conversations"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    assert_eq!(
        api.delete(&format!("/v1/Conversations/{sid}")).await.status,
        204
    );
    let gone = api.get(&format!("/v1/Conversations/{sid}")).await;
    assert_eq!(
        (gone.status, gone.json["code"].as_u64()),
        (404, Some(20404))
    );
    assert_eq!(emu.conversations().len(), 0);
}

#[tokio::test]
async fn participants_messages_and_webhooks() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    let base = format!("/v1/Conversations/{conv}");

    let p = api
        .post(
            &format!("{base}/Participants"),
            &[
                ("Identity", "discord:1"),
                ("Attributes", r#"{"name":"Ann"}"#),
            ],
        )
        .await;
    assert_eq!(p.status, 201);
    assert_eq!(p.json["identity"], "discord:1");
    assert!(p.json["messaging_binding"].is_null());
    let again = api
        .post(
            &format!("{base}/Participants"),
            &[("Identity", "discord:1")],
        )
        .await;
    assert_eq!(
        (again.status, again.json["code"].as_u64()),
        (409, Some(50433))
    );
    let none = api.post(&format!("{base}/Participants"), &[]).await;
    assert_eq!(none.status, 400);
    let sms = api
        .post(
            &format!("{base}/Participants"),
            &[
                ("MessagingBinding.Address", "+15550001"),
                ("MessagingBinding.ProxyAddress", "+15550002"),
            ],
        )
        .await;
    assert_eq!(sms.json["messaging_binding"]["address"], "+15550001");
    let list = api.get(&format!("{base}/Participants")).await;
    assert_eq!(list.json["participants"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        api.get(&format!("{base}/Participants/discord:1"))
            .await
            .json["sid"],
        p.json["sid"]
    );
    assert_eq!(
        api.delete(&format!("{base}/Participants/{}", s(&sms.json["sid"])))
            .await
            .status,
        204
    );

    let m1 = api
        .post(
            &format!("{base}/Messages"),
            &[
                ("Author", "discord:1"),
                ("Body", "hello"),
                ("Attributes", r#"{"flexcord":{"discord_message":"9"}}"#),
                ("DateCreated", "2026-01-02T03:04:05Z"),
            ],
        )
        .await;
    assert_eq!(m1.status, 201);
    assert_eq!(m1.json["index"], 0);
    assert_eq!(m1.json["participant_sid"], p.json["sid"]);
    assert_eq!(m1.json["date_created"], "2026-01-02T03:04:05Z");
    let m2 = api
        .post(&format!("{base}/Messages"), &[("Body", "from the system")])
        .await;
    assert_eq!(
        (m2.json["index"].as_u64(), m2.json["author"].as_str()),
        (Some(1), Some("system"))
    );
    assert!(m2.json["participant_sid"].is_null());
    let fetched = api
        .get(&format!("{base}/Messages/{}", s(&m1.json["sid"])))
        .await;
    assert_eq!(fetched.json["body"], "hello");
    let desc = api.get(&format!("{base}/Messages?Order=desc")).await;
    assert_eq!(desc.json["messages"][0]["index"], 1);
    let edited = api
        .post(
            &format!("{base}/Messages/{}", s(&m1.json["sid"])),
            &[("Body", "hello again")],
        )
        .await;
    assert_eq!(edited.json["body"], "hello again");
    let long = "x".repeat(1601);
    assert_eq!(
        api.post(&format!("{base}/Messages"), &[("Body", &long)])
            .await
            .status,
        400
    );

    let wh = api
        .post(
            &format!("{base}/Webhooks"),
            &[
                ("Target", "webhook"),
                ("Configuration.Url", "http://127.0.0.1:9/x"),
                ("Configuration.Method", "post"),
                ("Configuration.Filters", "onMessageAdded"),
                ("Configuration.Filters", "onConversationStateUpdated"),
            ],
        )
        .await;
    assert_eq!(wh.status, 201);
    assert_eq!(
        wh.json["configuration"]["filters"],
        serde_json::json!(["onMessageAdded", "onConversationStateUpdated"])
    );
    let studio = api
        .post(
            &format!("{base}/Webhooks"),
            &[
                ("Target", "studio"),
                ("Configuration.FlowSid", emu.studio_flow_sid()),
            ],
        )
        .await;
    assert_eq!(
        studio.json["configuration"]["flow_sid"],
        emu.studio_flow_sid()
    );
    assert_eq!(
        api.post(&format!("{base}/Webhooks"), &[("Target", "studio")])
            .await
            .status,
        400
    );
    assert_eq!(
        api.post(&format!("{base}/Webhooks"), &[("Target", "sqs")])
            .await
            .status,
        400
    );
    let hooks = api.get(&format!("{base}/Webhooks")).await;
    assert_eq!(hooks.json["webhooks"].as_array().map(Vec::len), Some(2));
    assert_eq!(hooks.json["meta"]["page_size"], 5);
    assert_eq!(
        api.get(&format!("{base}/Webhooks/{}", s(&wh.json["sid"])))
            .await
            .status,
        200
    );
    assert_eq!(
        api.delete(&format!("{base}/Webhooks/{}", s(&wh.json["sid"])))
            .await
            .status,
        204
    );
    assert_eq!(emu.conversation_webhooks(&conv).len(), 1);
    assert_eq!(
        api.delete(&format!("{base}/Messages/{}", s(&m2.json["sid"])))
            .await
            .status,
        204
    );
    assert_eq!(emu.messages(&conv).len(), 1);
}

#[tokio::test]
async fn lists_paginate_past_page_size() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    for i in 0..7 {
        api.post(
            &format!("/v1/Conversations/{conv}/Messages"),
            &[("Body", &format!("m{i}"))],
        )
        .await;
        api.post("/v1/Conversations", &[("FriendlyName", &format!("c{i}"))])
            .await;
    }
    let mut url = "/v1/Conversations?PageSize=3".to_owned();
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = api.get(&url).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.json["meta"]["page"], pages);
        assert_eq!(page.json["meta"]["page_size"], 3);
        for c in page.json["conversations"].as_array().expect("array") {
            assert!(seen.insert(s(&c["sid"])), "no repeats");
        }
        pages += 1;
        match page.json["meta"]["next_page_url"].as_str() {
            Some(next) => {
                assert!(next.starts_with(emu.base_url()), "absolute: {next}");
                assert!(next.contains("PageToken="), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (8, 3));

    let first = api
        .get(&format!(
            "/v1/Conversations/{conv}/Messages?PageSize=5&Order=desc"
        ))
        .await;
    let bodies: Vec<&str> = first.json["messages"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, ["m6", "m5", "m4", "m3", "m2"]);
    let next = first.json["meta"]["next_page_url"]
        .as_str()
        .expect("next page");
    assert!(next.contains("Order=desc"));
    let second = api.get(next).await;
    let bodies: Vec<&str> = second.json["messages"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, ["m1", "m0"]);
    assert!(second.json["meta"]["next_page_url"].is_null());
    assert!(second.json["meta"]["previous_page_url"].is_string());
    assert_eq!(api.get("/v1/Conversations?PageSize=0").await.status, 400);
    assert_eq!(
        api.get("/v1/Conversations?PageSize=1000").await.json["meta"]["page_size"],
        100
    );
}

#[tokio::test]
async fn auth_is_checked() {
    let emu = emulator_with_key().await;
    let wrong = Api::with_credentials(&emu, emu.account_sid(), "not-the-token");
    let res = wrong.get("/v1/Conversations").await;
    assert_eq!((res.status, res.json["code"].as_u64()), (401, Some(20003)));
    assert!(res.headers.get("www-authenticate").is_some());
    let raw = reqwest::get(format!("{}/v1/Conversations", emu.base_url()))
        .await
        .expect("answer");
    assert_eq!(raw.status().as_u16(), 401);
    let key = Api::with_credentials(&emu, "SK00000000000000000000000000000001", "key-secret");
    assert_eq!(key.get("/v1/Conversations").await.status, 200);
    let good = Api::new(&emu);
    assert_eq!(good.get("/v2/Flows/FW00000000000000000000000000000000/Executions/FN00000000000000000000000000000000").await.status, 404);
    let unknown = good.get("/v1/Nothing").await;
    assert_eq!(
        (unknown.status, unknown.json["code"].as_u64()),
        (404, Some(20404))
    );
}

async fn emulator_with_key() -> flexcord_testkit::twilio::TwilioEmulator {
    crate::support::emulator_with(|c| {
        c.api_keys.push((
            "SK00000000000000000000000000000001".to_owned(),
            "key-secret".to_owned(),
        ));
    })
    .await
}

#[tokio::test]
async fn chat_v2_resources() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let svc = format!("/v2/Services/{}", emu.chat_service_sid());
    let user = api
        .post(
            &format!("{svc}/Users"),
            &[("Identity", "discord:7"), ("FriendlyName", "Seven")],
        )
        .await;
    assert_eq!(user.status, 201);
    let dup = api
        .post(&format!("{svc}/Users"), &[("Identity", "discord:7")])
        .await;
    assert_eq!((dup.status, dup.json["code"].as_u64()), (409, Some(50201)));
    assert_eq!(
        api.post(&format!("{svc}/Users"), &[]).await.json["code"],
        20001
    );
    assert_eq!(
        api.get(&format!("{svc}/Users/discord:7")).await.json["sid"],
        user.json["sid"]
    );

    let ch = api
        .post(
            &format!("{svc}/Channels"),
            &[
                ("FriendlyName", "DM"),
                ("UniqueName", "dm-7"),
                ("Type", "private"),
                ("Attributes", "{}"),
            ],
        )
        .await;
    assert_eq!(ch.status, 201);
    let ch_sid = s(&ch.json["sid"]);
    assert_eq!(
        api.get(&format!("{svc}/Channels/dm-7")).await.json["sid"],
        ch_sid.as_str()
    );
    let upd = api
        .post(
            &format!("{svc}/Channels/{ch_sid}"),
            &[("FriendlyName", "DM 7")],
        )
        .await;
    assert_eq!(upd.json["friendly_name"], "DM 7");
    assert_eq!(
        api.get(&format!("{svc}/Channels")).await.json["channels"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "public by default"
    );
    assert_eq!(
        api.get(&format!("{svc}/Channels?Type=private&Type=public"))
            .await
            .json["channels"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let member = api
        .post(
            &format!("{svc}/Channels/{ch_sid}/Members"),
            &[("Identity", "discord:7")],
        )
        .await;
    assert_eq!(member.status, 201);
    assert_eq!(
        api.post(
            &format!("{svc}/Channels/{ch_sid}/Members"),
            &[("Identity", "discord:7")]
        )
        .await
        .json["code"],
        50404
    );
    let members = api
        .get(&format!(
            "{svc}/Channels/{ch_sid}/Members?Identity=discord:7"
        ))
        .await;
    assert_eq!(members.json["members"].as_array().map(Vec::len), Some(1));
    let uc = api.get(&format!("{svc}/Users/discord:7/Channels")).await;
    assert_eq!(uc.json["channels"][0]["channel_sid"], ch_sid.as_str());
    assert_eq!(uc.json["channels"][0]["member_sid"], member.json["sid"]);

    let msg = api
        .post(
            &format!("{svc}/Channels/{ch_sid}/Messages"),
            &[
                ("From", "discord:7"),
                ("Body", "hi"),
                ("Attributes", r#"{"a":1}"#),
            ],
        )
        .await;
    assert_eq!(
        (
            msg.status,
            msg.json["index"].as_u64(),
            msg.json["to"].as_str()
        ),
        (201, Some(0), Some(ch_sid.as_str()))
    );
    assert_eq!(
        api.get(&format!(
            "{svc}/Channels/{ch_sid}/Messages/{}",
            s(&msg.json["sid"])
        ))
        .await
        .json["body"],
        "hi"
    );
    assert_eq!(
        api.get(&format!(
            "{svc}/Channels/{ch_sid}/Messages?Order=desc&PageSize=1"
        ))
        .await
        .json["messages"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let edited = api
        .post(
            &format!("{svc}/Channels/{ch_sid}/Messages/{}", s(&msg.json["sid"])),
            &[("Body", "hi!")],
        )
        .await;
    assert_eq!(edited.json["was_edited"], true);

    let wh = api
        .post(
            &format!("{svc}/Channels/{ch_sid}/Webhooks"),
            &[
                ("Type", "webhook"),
                ("Configuration.Url", "http://127.0.0.1:9/o"),
                ("Configuration.Method", "POST"),
                ("Configuration.Filters", "onMessageSent"),
                ("Configuration.RetryCount", "2"),
            ],
        )
        .await;
    assert_eq!(wh.status, 201);
    assert_eq!(wh.json["configuration"]["retry_count"], 2);
    assert_eq!(
        api.post(
            &format!("{svc}/Channels/{ch_sid}/Webhooks"),
            &[
                ("Type", "webhook"),
                ("Configuration.Url", "http://x"),
                ("Configuration.RetryCount", "9")
            ]
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.get(&format!("{svc}/Channels/{ch_sid}/Webhooks"))
            .await
            .json["webhooks"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        api.delete(&format!(
            "{svc}/Channels/{ch_sid}/Webhooks/{}",
            s(&wh.json["sid"])
        ))
        .await
        .status,
        204
    );
    assert_eq!(
        api.get(&format!("{svc}/Channels/{ch_sid}")).await.json["messages_count"],
        1
    );
    assert_eq!(
        api.get("/v2/Services/IS00000000000000000000000000000000/Channels")
            .await
            .status,
        404
    );
    assert_eq!(
        api.delete(&format!("{svc}/Channels/{ch_sid}")).await.status,
        204
    );
    assert!(emu.chat_channels().is_empty());
}

#[tokio::test]
async fn flex_channels_flows_and_interactions() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let flows = api.get("/v1/FlexFlows").await;
    assert_eq!(flows.json["flex_flows"][0]["sid"], emu.flex_flow_sid());
    assert_eq!(
        flows.json["flex_flows"][0]["integration"]["flow_sid"],
        emu.studio_flow_sid()
    );

    let form = [
        ("FlexFlowSid", emu.flex_flow_sid()),
        ("Identity", "discord:5"),
        ("ChatUserFriendlyName", "Five"),
        ("ChatFriendlyName", "Discord 5"),
        ("PreEngagementData", r#"{"locale":"en"}"#),
    ];
    let ch = api.post("/v1/Channels", &form).await;
    assert_eq!(ch.status, 201);
    let ch_sid = s(&ch.json["sid"]);
    assert!(ch.json["task_sid"].is_null());
    let again = api.post("/v1/Channels", &form).await;
    assert_eq!(
        again.json["sid"],
        ch_sid.as_str(),
        "an active channel is reused"
    );
    let chat = emu.chat_channel(&ch_sid).expect("chat channel");
    assert!(
        chat.attributes.contains(r#""status":"ACTIVE""#),
        "{}",
        chat.attributes
    );
    assert_eq!(emu.chat_members(&ch_sid)[0].identity, "discord:5");
    assert_eq!(emu.chat_webhooks(&ch_sid)[0].kind, "studio");
    assert_eq!(
        api.get(&format!("/v1/Channels/{ch_sid}")).await.json["user_sid"],
        ch.json["user_sid"]
    );
    assert_eq!(
        api.get("/v1/Channels").await.json["flex_chat_channels"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let missing = api.post("/v1/Channels", &form[..3]).await;
    assert_eq!(
        (missing.status, missing.json["message"].as_str()),
        (
            400,
            Some("Missing required parameter ChatFriendlyName in the post body")
        )
    );

    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    let channel = format!(
        r#"{{"type":"chat","initiated_by":"customer","properties":{{"media_channel_sid":"{conv}"}}}}"#
    );
    let routing = r#"{"properties":{"workspace_sid":"WS00000000000000000000000000000000","workflow_sid":"WW00000000000000000000000000000000","task_channel_unique_name":"chat","attributes":{"customerName":"Five"}}}"#;
    let i = api
        .post(
            "/v1/Interactions",
            &[("Channel", &channel), ("Routing", routing)],
        )
        .await;
    assert_eq!(i.status, 200, "Interactions create answers 200");
    let kd = s(&i.json["sid"]);
    let uo = s(&i.json["channel"]["sid"]);
    assert_eq!(
        api.get(&format!("/v1/Interactions/{kd}")).await.json["channel"]["sid"],
        uo.as_str()
    );
    let task = emu
        .wait_for_task(crate::support::WAIT)
        .await
        .expect("task created asynchronously");
    assert_eq!(task.conversation_sid.as_deref(), Some(conv.as_str()));
    assert!(task.attributes.contains("customerName"));
    let chans = api.get(&format!("/v1/Interactions/{kd}/Channels")).await;
    assert_eq!(chans.json["channels"][0]["status"], "active");
    assert_eq!(
        api.get(&format!("/v1/Interactions/{kd}/Channels/{uo}"))
            .await
            .json["type"],
        "chat"
    );
    assert_eq!(
        api.post(
            &format!("/v1/Interactions/{kd}/Channels/{uo}"),
            &[("Status", "inactive")]
        )
        .await
        .status,
        400
    );
    let closed = api
        .post(
            &format!("/v1/Interactions/{kd}/Channels/{uo}"),
            &[("Status", "closed"), ("Routing", r#"{"status":"closed"}"#)],
        )
        .await;
    assert_eq!(closed.json["status"], "closed");
    assert_eq!(
        emu.conversation(&conv).map(|c| c.state),
        Some("closed".to_owned())
    );
    assert_eq!(
        api.post("/v1/Interactions", &[("Channel", "{}")])
            .await
            .status,
        400
    );

    let bad = api.post("/v1/Interactions", &[("Channel", r#"{"type":"chat","properties":{"media_channel_sid":"CH00000000000000000000000000000000"}}"#)]).await;
    let kd = s(&bad.json["sid"]);
    let failed = emu
        .wait_for(crate::support::WAIT, |e| {
            e.interaction_channels()
                .into_iter()
                .find(|c| c.interaction_sid == kd && c.status == "failed")
        })
        .await
        .expect("setup fails");
    assert_eq!(failed.error_code, Some(20404));
}

#[tokio::test]
async fn studio_executions_and_media() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let path = format!("/v2/Flows/{}/Executions", emu.studio_flow_sid());
    let e = api
        .post(
            &path,
            &[
                ("To", "discord:1"),
                ("From", "flexcord"),
                ("Parameters", r#"{"x":1}"#),
            ],
        )
        .await;
    assert_eq!(e.status, 201);
    assert_eq!(e.json["status"], "active");
    let fetched = api.get(&format!("{path}/{}", s(&e.json["sid"]))).await;
    assert_eq!(fetched.json["contact_channel_address"], "discord:1");
    assert_eq!(
        api.post(&path, &[("From", "x")]).await.json["message"],
        "Missing required parameter To in the post body"
    );
    assert_eq!(
        api.get(&path).await.json["executions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(emu.executions()[0].parameters["x"], 1);

    // Media Content Service: upload raw bytes, fetch, follow the temporary link without auth.
    let http = reqwest::Client::new();
    let up = http
        .post(format!(
            "{}/v1/Services/{}/Media?Filename=a.png",
            emu.base_url(),
            emu.chat_service_sid()
        ))
        .basic_auth(emu.account_sid(), Some(emu.auth_token()))
        .header("Content-Type", "image/png")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .expect("upload");
    assert_eq!(up.status().as_u16(), 201);
    let up: Value = up.json().await.expect("json");
    let me = s(&up["sid"]);
    assert!(me.starts_with("ME"));
    let fetched = api
        .get(&format!(
            "/v1/Services/{}/Media/{me}",
            emu.chat_service_sid()
        ))
        .await;
    assert_eq!(
        (
            fetched.json["size"].as_u64(),
            fetched.json["content_type"].as_str()
        ),
        (Some(3), Some("image/png"))
    );
    let link = s(&fetched.json["links"]["content_direct_temporary"]);
    let bytes = reqwest::get(&link)
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), [1, 2, 3]);
    let forged = reqwest::get(format!(
        "{}/__media/{me}?Expires=99999999999&Signature=00",
        emu.base_url()
    ))
    .await
    .expect("answer");
    assert_eq!(forged.status().as_u16(), 403);
    let content = http
        .get(format!(
            "{}{}",
            emu.base_url(),
            s(&fetched.json["links"]["content"])
        ))
        .basic_auth(emu.account_sid(), Some(emu.auth_token()))
        .send()
        .await
        .expect("content");
    assert_eq!(content.bytes().await.expect("bytes").as_ref(), [1, 2, 3]);
    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    let m = api
        .post(
            &format!("/v1/Conversations/{conv}/Messages"),
            &[("Author", "discord:1"), ("MediaSid", &me)],
        )
        .await;
    assert_eq!(m.json["media"][0]["sid"], me.as_str());
    assert_eq!(
        api.post(
            &format!("/v1/Conversations/{conv}/Messages"),
            &[("MediaSid", "ME00000000000000000000000000000000")]
        )
        .await
        .status,
        400
    );
}

/// Every operation of flexcord-twilio's table answered, and each answer checked against the spec.
#[tokio::test]
async fn every_client_operation_is_served_and_matches_the_spec() {
    if crate::spec::specs().is_none() {
        return;
    }
    let emu = emulator().await;
    let api = Api::new(&emu);
    let svc = format!("/v2/Services/{}", emu.chat_service_sid());
    // Chat v2
    api.post(&format!("{svc}/Users"), &[("Identity", "u1")])
        .await;
    api.get(&format!("{svc}/Users/u1")).await;
    let ch = s(&api
        .post(&format!("{svc}/Channels"), &[("FriendlyName", "c")])
        .await
        .json["sid"]);
    api.get(&format!("{svc}/Channels/{ch}")).await;
    api.post(&format!("{svc}/Channels/{ch}"), &[("Attributes", "{}")])
        .await;
    api.get(&format!("{svc}/Channels")).await;
    api.post(
        &format!("{svc}/Channels/{ch}/Members"),
        &[("Identity", "u1")],
    )
    .await;
    api.get(&format!("{svc}/Users/u1/Channels")).await;
    let m = s(&api
        .post(&format!("{svc}/Channels/{ch}/Messages"), &[("Body", "b")])
        .await
        .json["sid"]);
    api.get(&format!("{svc}/Channels/{ch}/Messages/{m}")).await;
    api.get(&format!("{svc}/Channels/{ch}/Messages")).await;
    let wh = s(&api
        .post(
            &format!("{svc}/Channels/{ch}/Webhooks"),
            &[
                ("Type", "studio"),
                ("Configuration.FlowSid", emu.studio_flow_sid()),
            ],
        )
        .await
        .json["sid"]);
    api.get(&format!("{svc}/Channels/{ch}/Webhooks")).await;
    api.delete(&format!("{svc}/Channels/{ch}/Webhooks/{wh}"))
        .await;
    api.get(&format!("{svc}/Channels/{ch}/Members")).await;
    // Flex v1
    api.post(
        "/v1/Channels",
        &[
            ("FlexFlowSid", emu.flex_flow_sid()),
            ("Identity", "u2"),
            ("ChatUserFriendlyName", "U"),
            ("ChatFriendlyName", "C"),
        ],
    )
    .await;
    api.get("/v1/FlexFlows").await;
    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    let channel = format!(
        r#"{{"type":"chat","initiated_by":"customer","properties":{{"media_channel_sid":"{conv}"}}}}"#
    );
    let kd = s(&api
        .post("/v1/Interactions", &[("Channel", &channel)])
        .await
        .json["sid"]);
    api.get(&format!("/v1/Interactions/{kd}")).await;
    let uo = s(&api
        .get(&format!("/v1/Interactions/{kd}/Channels"))
        .await
        .json["channels"][0]["sid"]);
    api.post(
        &format!("/v1/Interactions/{kd}/Channels/{uo}"),
        &[("Status", "closed")],
    )
    .await;
    // Conversations v1
    let c = format!("/v1/Conversations/{conv}");
    api.get(&c).await;
    api.post(&c, &[("FriendlyName", "f")]).await;
    api.get("/v1/Conversations").await;
    let conv2 = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    let c2 = format!("/v1/Conversations/{conv2}");
    api.post(&format!("{c2}/Participants"), &[("Identity", "p")])
        .await;
    api.get(&format!("{c2}/Participants")).await;
    let im = s(&api
        .post(&format!("{c2}/Messages"), &[("Author", "p"), ("Body", "b")])
        .await
        .json["sid"]);
    api.get(&format!("{c2}/Messages/{im}")).await;
    api.get(&format!("{c2}/Messages")).await;
    let cw = s(&api
        .post(
            &format!("{c2}/Webhooks"),
            &[
                ("Target", "webhook"),
                ("Configuration.Url", "http://127.0.0.1:9/"),
                ("Configuration.Filters", "onMessageAdded"),
            ],
        )
        .await
        .json["sid"]);
    api.get(&format!("{c2}/Webhooks")).await;
    api.delete(&format!("{c2}/Webhooks/{cw}")).await;
    api.delete(&c2).await;
    // Studio v2
    let flow = format!("/v2/Flows/{}/Executions", emu.studio_flow_sid());
    let fnx = s(&api.post(&flow, &[("To", "a"), ("From", "b")]).await.json["sid"]);
    api.get(&format!("{flow}/{fnx}")).await;

    let want = [
        "GET /v2/Services/{ServiceSid}/Users/{Sid}",
        "POST /v2/Services/{ServiceSid}/Users",
        "GET /v2/Services/{ServiceSid}/Users/{UserSid}/Channels",
        "POST /v2/Services/{ServiceSid}/Channels",
        "GET /v2/Services/{ServiceSid}/Channels/{Sid}",
        "POST /v2/Services/{ServiceSid}/Channels/{Sid}",
        "GET /v2/Services/{ServiceSid}/Channels",
        "POST /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages",
        "GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages/{Sid}",
        "GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages",
        "POST /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
        "GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
        "GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members",
        "POST /v1/Channels",
        "GET /v1/FlexFlows",
        "POST /v1/Interactions",
        "GET /v1/Interactions/{Sid}",
        "GET /v1/Interactions/{InteractionSid}/Channels",
        "POST /v1/Interactions/{InteractionSid}/Channels/{Sid}",
        "POST /v1/Conversations",
        "GET /v1/Conversations/{Sid}",
        "POST /v1/Conversations/{Sid}",
        "GET /v1/Conversations",
        "POST /v1/Conversations/{ConversationSid}/Participants",
        "GET /v1/Conversations/{ConversationSid}/Participants",
        "POST /v1/Conversations/{ConversationSid}/Messages",
        "GET /v1/Conversations/{ConversationSid}/Messages/{Sid}",
        "GET /v1/Conversations/{ConversationSid}/Messages",
        "POST /v1/Conversations/{ConversationSid}/Webhooks",
        "GET /v1/Conversations/{ConversationSid}/Webhooks",
        "POST /v2/Flows/{FlowSid}/Executions",
        "GET /v2/Flows/{FlowSid}/Executions/{Sid}",
        "DELETE /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks/{Sid}",
        "DELETE /v1/Conversations/{ConversationSid}/Webhooks/{Sid}",
        "DELETE /v1/Conversations/{Sid}",
    ];
    // Every successful answer of this emulator, checked against the spec once more.
    let checked: BTreeSet<String> = emu
        .api_calls()
        .iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter_map(|c| crate::spec::check_response(&c.method, &c.path, c.status, &c.response))
        .collect();
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|w| !checked.contains(*w))
        .collect();
    assert!(
        missing.is_empty(),
        "not checked against the spec: {missing:?}"
    );
    // Deletes answer 204 with no body.
    let deletes: Vec<u16> = emu
        .api_calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.status)
        .collect();
    assert_eq!(deletes, [204, 204, 204]);
}
