//! Conversations users (`/v1/Users`), service-scoped conversations
//! (`/v1/Services/{ChatServiceSid}/...`) and the Studio execution context, every answer checked
//! against Twilio's specs by [`Api`].

use std::collections::BTreeSet;
use std::time::Duration;

use flexcord_testkit::twilio::TaskEnd;
use serde_json::{Value, json};

use crate::support::{Api, emulator};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn conversations_users_are_kept_per_identity() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let created = api
        .post(
            "/v1/Users",
            &[("Identity", "agent:bob"), ("FriendlyName", "Bob Agent")],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["chat_service_sid"], emu.chat_service_sid());
    let us = s(&created.json["sid"]);
    assert!(us.starts_with("US"));
    let by_identity = api.get("/v1/Users/agent:bob").await;
    assert_eq!(by_identity.status, 200);
    assert_eq!(by_identity.json["friendly_name"], "Bob Agent");
    assert_eq!(by_identity.json["sid"], us.as_str());
    let again = api.post("/v1/Users", &[("Identity", "agent:bob")]).await;
    assert_eq!(again.status, 409);
    let updated = api
        .post(&format!("/v1/Users/{us}"), &[("FriendlyName", "Bob")])
        .await;
    assert_eq!(updated.json["friendly_name"], "Bob");
    // A participant with a new identity gets a user, as on Twilio.
    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    api.post(
        &format!("/v1/Conversations/{conv}/Participants"),
        &[("Identity", "discord:42")],
    )
    .await;
    let list = api.get("/v1/Users?PageSize=1").await;
    assert_eq!(list.json["users"].as_array().map(Vec::len), Some(1));
    let next = s(&list.json["meta"]["next_page_url"]);
    let second = api.get(&next).await;
    assert_eq!(second.json["users"][0]["identity"], "discord:42");
    assert_eq!(second.json["users"][0]["friendly_name"], Value::Null);
    assert_eq!(api.delete(&format!("/v1/Users/{us}")).await.status, 204);
    assert_eq!(api.get("/v1/Users/agent:bob").await.status, 404);
}

#[tokio::test]
async fn an_agent_who_joins_has_a_user_with_a_friendly_name() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let conv = s(&api.post("/v1/Conversations", &[]).await.json["sid"]);
    let channel = format!(
        r#"{{"type":"chat","initiated_by":"customer","properties":{{"media_channel_sid":"{conv}"}}}}"#
    );
    let kd = api.post("/v1/Interactions", &[("Channel", &channel)]).await;
    assert_eq!(kd.status, 200, "{}", kd.json);
    let agent = emu.agent("agent:alice");
    let task = agent
        .accept_next(Duration::from_secs(5))
        .await
        .expect("a task");
    let user = api.get("/v1/Users/agent:alice").await;
    assert_eq!(user.status, 200, "{}", user.json);
    assert_eq!(user.json["friendly_name"], "Alice");
    agent
        .end_task(&task.sid, TaskEnd::Completed)
        .expect("ended");
}

#[tokio::test]
async fn a_non_default_service_is_reached_only_through_its_paths() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let svc = api
        .post("/v1/Services", &[("FriendlyName", "Discord")])
        .await;
    assert_eq!(svc.status, 201, "{}", svc.json);
    let is = s(&svc.json["sid"]);
    let root = format!("/v1/Services/{is}");
    let conv = api
        .post(
            &format!("{root}/Conversations"),
            &[("UniqueName", "discord:1:1")],
        )
        .await;
    assert_eq!(conv.status, 201, "{}", conv.json);
    assert_eq!(conv.json["chat_service_sid"], is.as_str());
    let ch = s(&conv.json["sid"]);
    assert!(s(&conv.json["url"]).ends_with(&format!("{root}/Conversations/{ch}")));
    // Not under the account-level paths, which reach the default service only.
    assert_eq!(
        api.get(&format!("/v1/Conversations/{ch}")).await.status,
        404
    );
    assert!(
        api.get("/v1/Conversations").await.json["conversations"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    // Unique names are per service.
    let same_name = api
        .post("/v1/Conversations", &[("UniqueName", "discord:1:1")])
        .await;
    assert_eq!(same_name.status, 201);
    let c = format!("{root}/Conversations/{ch}");
    assert_eq!(api.get(&c).await.json["sid"], ch.as_str());
    assert_eq!(
        api.get(&format!("{root}/Conversations/discord:1:1"))
            .await
            .json["sid"],
        ch.as_str()
    );
    let part = api
        .post(&format!("{c}/Participants"), &[("Identity", "discord:7")])
        .await;
    assert_eq!(part.status, 201);
    assert_eq!(part.json["chat_service_sid"], is.as_str());
    let msg = api
        .post(
            &format!("{c}/Messages"),
            &[("Author", "discord:7"), ("Body", "hello")],
        )
        .await;
    assert_eq!(msg.status, 201);
    let hook = api
        .post(
            &format!("{c}/Webhooks"),
            &[
                ("Target", "webhook"),
                ("Configuration.Url", "http://127.0.0.1:9/"),
                ("Configuration.Filters", "onMessageAdded"),
            ],
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.json);
    let wh = s(&hook.json["sid"]);
    api.get(&format!("{c}/Participants")).await;
    api.get(&format!("{c}/Messages")).await;
    api.get(&format!("{c}/Messages/{}", s(&msg.json["sid"])))
        .await;
    api.get(&format!("{c}/Webhooks")).await;
    api.post(&c, &[("State", "closed")]).await;
    api.get(&format!("{root}/Conversations")).await;
    // The participant's user lives in that service.
    let user = api.get(&format!("{root}/Users/discord:7")).await;
    assert_eq!(user.status, 200);
    assert_eq!(api.get("/v1/Users/discord:7").await.status, 404);
    assert_eq!(api.delete(&format!("{c}/Webhooks/{wh}")).await.status, 204);
    assert_eq!(api.delete(&c).await.status, 204);
    // The default service is reachable both ways.
    let default = format!("/v1/Services/{}/Conversations", emu.chat_service_sid());
    let listed = api.get(&default).await;
    assert_eq!(
        listed.json["conversations"][0]["unique_name"],
        "discord:1:1"
    );
    assert_eq!(
        api.get(&format!("/v1/Services/IS{}/Conversations", "0".repeat(32)))
            .await
            .status,
        404
    );

    let checked: BTreeSet<String> = emu
        .api_calls()
        .iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter_map(|c| crate::spec::check_response(&c.method, &c.path, c.status, &c.response))
        .collect();
    if crate::spec::specs().is_some() {
        for op in [
            "POST /v1/Services",
            "POST /v1/Services/{ChatServiceSid}/Conversations",
            "GET /v1/Services/{ChatServiceSid}/Conversations",
            "GET /v1/Services/{ChatServiceSid}/Conversations/{Sid}",
            "POST /v1/Services/{ChatServiceSid}/Conversations/{Sid}",
            "DELETE /v1/Services/{ChatServiceSid}/Conversations/{Sid}",
            "POST /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
            "GET /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
            "POST /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
            "GET /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
            "GET /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages/{Sid}",
            "POST /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks",
            "GET /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks",
            "DELETE /v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks/{Sid}",
            "GET /v1/Services/{ChatServiceSid}/Users/{Sid}",
        ] {
            assert!(checked.contains(op), "{op} not checked: {checked:#?}");
        }
    }
}

#[tokio::test]
async fn a_studio_execution_has_its_context() {
    let emu = emulator().await;
    let api = Api::new(&emu);
    let flow = format!("/v2/Flows/{}/Executions", emu.studio_flow_sid());
    let params = json!({"discord_user": "42", "topic": "billing"});
    let created = api
        .post(
            &flow,
            &[
                ("To", "discord:42"),
                ("From", "flexcord"),
                ("Parameters", &params.to_string()),
            ],
        )
        .await;
    assert_eq!(created.status, 201);
    let fnx = s(&created.json["sid"]);
    let context_url = s(&created.json["links"]["execution_context"]);
    let context = api.get(&format!("{flow}/{fnx}/Context")).await;
    assert_eq!(context.status, 200, "{}", context.json);
    assert_eq!(context.json["execution_sid"], fnx.as_str());
    assert_eq!(s(&context.json["url"]), context_url);
    assert_eq!(context.json["context"]["flow"]["data"], params);
    assert_eq!(
        context.json["context"]["trigger"]["request"]["parameters"],
        params
    );
    assert_eq!(
        context.json["context"]["contact"]["channel"]["address"],
        "discord:42"
    );
    assert_eq!(
        api.get(&format!("{flow}/FN{}/Context", "0".repeat(32)))
            .await
            .status,
        404
    );
    if crate::spec::specs().is_some() {
        let checked = emu
            .api_calls()
            .iter()
            .filter(|c| c.status == 200 && c.path.ends_with("/Context"))
            .filter_map(|c| crate::spec::check_response(&c.method, &c.path, c.status, &c.response))
            .collect::<Vec<_>>();
        assert_eq!(
            checked,
            ["GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"]
        );
    }
}
