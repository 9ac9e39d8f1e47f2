//! Agents as people, end to end: the name a customer reads for an agent comes from Twilio (the
//! Conversations user's friendly name, looked up through the outbox), never the raw identity,
//! and the case timeline shows the same names with the ids kept in the data.

use flexcord_testkit::twilio::TaskEnd;

use crate::bridge::{ALICE, Bridge, position};

/// Creates the Conversations user of `identity` in the emulator, as Flex does for a worker
/// (with the worker's full name as `FriendlyName`, or none).
async fn twilio_user(b: &Bridge, identity: &str, friendly_name: Option<&str>) {
    let mut form = vec![("Identity", identity)];
    if let Some(name) = friendly_name {
        form.push(("FriendlyName", name));
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/Users", b.twilio.base_url()))
        .basic_auth(b.twilio.account_sid(), Some(b.twilio.auth_token()))
        .form(&form)
        .send()
        .await
        .expect("the emulator answers");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
}

#[tokio::test]
async fn customers_read_the_agents_twilio_name_and_the_case_shows_it() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let identity = "agent.jane@brand.example";
    twilio_user(&b, identity, Some("Jane Doe")).await;
    let agent = b.twilio.agent(identity);
    let (sid, task) = b.agent_joins(alice, &agent).await;

    let dms = b.discord.dms_to(alice);
    let number = position(&dms, "Your case number is CASE-000001.");
    let joined = position(&dms, "Jane Doe has joined the conversation.");
    assert!(number < joined, "{number} {joined}");
    assert!(
        dms.iter().all(|m| !m.content.contains("@brand.example")),
        "no DM shows the agent's e-mail identity: {:#?}",
        dms.iter().map(|m| &m.content).collect::<Vec<_>>()
    );
    // The name came from Twilio's user resource, through the outbox.
    let lookups: Vec<_> = b
        .twilio
        .api_calls()
        .into_iter()
        .filter(|c| c.method == "GET" && c.path == format!("/v1/Users/{identity}"))
        .collect();
    assert_eq!(lookups.len(), 1, "one lookup per agent and conversation");

    agent.send(&sid, "Hi, Jane here").unwrap();
    b.dm_containing(alice, "Hi, Jane here").await;
    let case = b
        .case_when("assigned with the agent's name", |c| {
            c.assignee_name.as_deref() == Some("Jane Doe")
        })
        .await;
    assert_eq!(
        case.assignee.as_deref(),
        Some(identity),
        "the id stays in the data"
    );
    let deadline = tokio::time::Instant::now() + crate::bridge::WAIT;
    let timeline = loop {
        let timeline = b.cases.timeline(case.number).await.expect("timeline");
        if timeline.iter().any(|e| {
            matches!(&e.event, flexcord_cases::TimelineEvent::Message { text } if text == "Hi, Jane here")
        }) {
            break timeline;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent's line never reached the case"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let line = timeline
        .iter()
        .find(|e| matches!(&e.event, flexcord_cases::TimelineEvent::Message { text } if text == "Hi, Jane here"))
        .expect("the agent's line");
    assert_eq!(line.actor, identity);
    assert_eq!(line.actor_name.as_deref(), Some("Jane Doe"));
    let asked = timeline
        .iter()
        .find(|e| matches!(&e.event, flexcord_cases::TimelineEvent::Message { text } if text == "I forgot my password"))
        .expect("Alice's line");
    assert_eq!(asked.actor, format!("discord:{alice}"));
    assert_eq!(asked.actor_name.as_deref(), Some(ALICE));
    let opened = timeline
        .iter()
        .find(|e| matches!(&e.event, flexcord_cases::TimelineEvent::StatusChanged { to, .. } if *to == flexcord_cases::CaseStatus::Open))
        .expect("opened by the agent");
    assert_eq!(opened.actor, identity);
    assert_eq!(opened.actor_name.as_deref(), Some("Jane Doe"));

    agent.end_task(&task.sid, TaskEnd::Completed).unwrap();
    b.dm_containing(alice, "The agent closed this conversation")
        .await;
    b.stop().await;
}

#[tokio::test]
async fn an_agent_without_a_twilio_name_is_named_by_the_local_part() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let identity = "agent.bob@brand.example";
    twilio_user(&b, identity, None).await;
    let agent = b.twilio.agent(identity);
    let (_sid, task) = b.agent_joins(alice, &agent).await;
    let dms = b.discord.dms_to(alice);
    position(&dms, "agent.bob has joined the conversation.");
    assert!(dms.iter().all(|m| !m.content.contains("@brand.example")));
    let case = b
        .case_when("assigned", |c| c.assignee.as_deref() == Some(identity))
        .await;
    assert_eq!(case.assignee_name.as_deref(), Some("agent.bob"));
    agent.end_task(&task.sid, TaskEnd::Completed).unwrap();
    b.stop().await;
}
