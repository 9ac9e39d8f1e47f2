//! The HTTP control API used by the `flexcord-testkit` binary.

use serde_json::{Value, json};
use twilight_gateway::Event;

use crate::{emulator, next_where, ready_shard};

#[tokio::test]
async fn control_api_injects_and_reports() {
    let emu = emulator().await;
    let mut shard = ready_shard(&emu).await;
    let base = format!("{}/__testkit/discord", emu.api_url());
    let http = reqwest::Client::new();

    let state: Value = http
        .get(format!("{base}/state"))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["gateway_url"], emu.gateway_url());
    assert_eq!(state["sessions"].as_array().map(Vec::len), Some(1));

    let res = http
        .post(format!("{base}/dm"))
        .json(&json!({"user": "alice", "content": "from the control API"}))
        .send()
        .await
        .expect("dm");
    assert_eq!(res.status(), 200);
    let msg = next_where(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(msg.content, "from the control API");

    let res = http
        .post(format!("{base}/slash"))
        .json(&json!({"user": "alice", "command": "/helpme topic:\"my order\""}))
        .send()
        .await
        .expect("slash");
    assert_eq!(res.status(), 200);
    let injected: Value = res.json().await.expect("json");
    let i = next_where(&mut shard, |e| match e {
        Event::InteractionCreate(i) => Some(i),
        _ => None,
    })
    .await;
    assert_eq!(injected["id"].as_str(), Some(i.id.to_string().as_str()));
    assert!(injected["token"].as_str().is_some_and(|t| t == i.token));

    let res = http
        .post(format!("{base}/button"))
        .json(&json!({"user": "alice", "custom_id": "never-shown"}))
        .send()
        .await
        .expect("button");
    assert_eq!(res.status(), 422);

    let res = http
        .post(format!("{base}/faults"))
        .json(&json!({"kind": "block_dm", "user": "alice"}))
        .send()
        .await
        .expect("fault");
    assert_eq!(res.status(), 200);
    assert!(emu.state(|s| s.sessions().len() == 1));
    let users: Value = http
        .get(format!("{base}/state"))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let alice = users["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "alice").cloned())
        .unwrap_or_default();
    assert_eq!(alice["dm_blocked"], true);

    let messages: Value = http
        .get(format!("{base}/messages?user=alice"))
        .send()
        .await
        .expect("messages")
        .json()
        .await
        .expect("json");
    assert_eq!(messages[0]["content"], "from the control API");
    assert_eq!(
        messages[0]["author_id"],
        emu.user_id("alice").expect("user").to_string()
    );
    let res = http
        .post(format!("{base}/gateway"))
        .json(&json!({"action": "drop"}))
        .send()
        .await
        .expect("gateway");
    let dropped: Value = res.json().await.expect("json");
    assert_eq!(dropped["connections"], 1);
}
