//! The whole bridge while Twilio and Discord misbehave: throttling and server errors retried
//! with backoff and delivered once, permanent refusals dead-lettered with their reason (and
//! shown to operators), Discord REST errors and a dropped gateway without loss or duplicates.

use std::time::Duration;

use flexcord_cases::{CaseStatus, TimelineEvent};
use flexcord_testkit::twilio::Fault;

use crate::bridge::{Bridge, WAIT};
use crate::support::{eventually, outbox_rows, sample, scrape};

/// Short retry delays, so a few retries take well under a second.
fn fast_retries() -> Vec<(&'static str, &'static str)> {
    vec![
        ("FLEXCORD_OUTBOX__BASE_BACKOFF", "100ms"),
        ("FLEXCORD_OUTBOX__MAX_BACKOFF", "400ms"),
    ]
}

/// Bodies of the conversation's messages written by `author`.
fn bodies_by(b: &Bridge, sid: &str, author: &str) -> Vec<String> {
    b.twilio
        .messages(sid)
        .into_iter()
        .filter(|m| m.author == author)
        .filter_map(|m| m.body)
        .collect()
}

#[tokio::test]
async fn twilio_throttling_and_errors_are_retried_and_the_message_posted_once() {
    let b = Bridge::start_with(&fast_retries()).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    let author = format!("discord:{alice}");
    let before = b.twilio.api_calls().len();

    // Four 429s (the Twilio client waits out each Retry-After of 1 s three times, then the
    // outbox takes over), then two 500s (never retried by the client for a POST).
    let messages = "/v1/Conversations/*/Messages";
    b.twilio.inject(
        Fault::on("POST", messages)
            .too_many_requests(Duration::from_secs(1))
            .times(4),
    );
    b.twilio
        .inject(Fault::on("POST", messages).server_error().times(2));
    b.discord.inject_dm(alice, "Is anyone there?").unwrap();

    let posted = eventually("the DM reaches the conversation", WAIT, || async {
        bodies_by(&b, &sid, &author)
            .iter()
            .any(|t| t == "Is anyone there?")
            .then_some(())
    })
    .await;
    let () = posted;
    // On the wire: every refused attempt, then exactly one success.
    let statuses: Vec<u16> = b.twilio.api_calls()[before..]
        .iter()
        .filter(|c| c.method == "POST" && c.path == format!("/v1/Conversations/{sid}/Messages"))
        .map(|c| c.status)
        .collect();
    assert_eq!(
        statuses,
        [429, 429, 429, 429, 500, 500, 201],
        "{statuses:?}"
    );
    let copies = bodies_by(&b, &sid, &author)
        .iter()
        .filter(|t| *t == "Is anyone there?")
        .count();
    assert_eq!(copies, 1, "posted exactly once");

    // The outbox: delivered at the fourth attempt, the last error cleared, nothing dead.
    let posted_sid = b
        .twilio
        .messages(&sid)
        .into_iter()
        .find(|m| m.body.as_deref() == Some("Is anyone there?"))
        .map(|m| m.sid)
        .unwrap();
    let (post, rows) = eventually("the delivery is recorded", WAIT, || async {
        let rows = outbox_rows(&b.db).await;
        rows.iter()
            .find(|r| r.upstream_id.as_deref() == Some(posted_sid.as_str()))
            .cloned()
            .map(|post| (post, rows))
    })
    .await;
    assert_eq!(post.kind, "post_to_twilio");
    assert_eq!(post.attempts, 4, "{post:?}");
    assert!(
        matches!(post.state.as_str(), "delivered" | "done"),
        "{post:?}"
    );
    assert!(post.last_error.is_none(), "{post:?}");
    assert!(
        rows.iter()
            .all(|r| !matches!(r.state.as_str(), "failed" | "dead")),
        "{rows:#?}"
    );

    // /metrics counts the outbox's three retries (the recorder is shared by the tests of this
    // binary: at least ours are there) and shows no dead letter for this process's store.
    let text = scrape(&b.public).await;
    let retries = sample(
        &text,
        r#"flexcord_outbox_retries_total{action="post_to_twilio"}"#,
    )
    .unwrap_or(0.0);
    assert!(retries >= 3.0, "{retries} retries in\n{text}");
    b.stop().await;
}

#[tokio::test]
async fn discord_refusing_the_dm_is_a_dead_letter_the_agent_is_told_and_later_messages_flow() {
    let b = Bridge::start_with(&fast_retries()).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;

    // Alice closes her DMs: Discord answers 403 / 50007 to the agent's reply.
    b.discord.block_dms(alice);
    agent.send(&sid, "Did the reset link arrive?").unwrap();
    let rows = eventually("a dead letter", WAIT, || async {
        let rows = outbox_rows(&b.db).await;
        rows.iter()
            .any(|r| r.kind == "send_dm" && matches!(r.state.as_str(), "failed" | "dead"))
            .then_some(rows)
    })
    .await;
    let dead: Vec<_> = rows
        .iter()
        .filter(|r| matches!(r.state.as_str(), "failed" | "dead"))
        .collect();
    assert_eq!(dead.len(), 1, "{dead:#?}");
    assert_eq!(dead[0].attempts, 1, "permanent: not retried");
    assert!(
        dead[0].action.contains("Did the reset link arrive?"),
        "{dead:#?}"
    );
    let reason = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("403") && reason.contains("50007"),
        "{reason}"
    );

    // The agent reads why in the conversation (posted by the bot, not echoed to Discord).
    let notice = eventually("the agent is told", WAIT, || async {
        bodies_by(&b, &sid, "flexcord-bot")
            .into_iter()
            .find(|t| t.contains("could not be reached"))
    })
    .await;
    assert!(notice.contains("50007"), "{notice}");
    assert!(
        !b.discord
            .dms_to(alice)
            .iter()
            .any(|m| m.content.contains("reset link arrive")),
        "nothing reached the closed DM"
    );

    // Operators see it: the gauge, and `flexcord outbox dead` on the same database.
    let text = scrape(&b.public).await;
    assert_eq!(
        sample(&text, "flexcord_outbox_dead_letters"),
        Some(1.0),
        "{text}"
    );
    let listing = outbox_dead(&b.db).await;
    assert!(listing.starts_with("1 dead letter"), "{listing}");
    assert!(
        listing.contains("send_dm") && listing.contains("50007"),
        "{listing}"
    );
    assert!(listing.contains("Did the reset link arrive?"), "{listing}");
    assert!(listing.contains(&dead[0].action_id), "{listing}");

    // Alice opens her DMs and writes: she is reachable again, nothing else was lost.
    b.discord.unblock_dms(alice);
    b.discord
        .inject_dm(alice, "Sorry, my DMs were closed")
        .unwrap();
    eventually("Alice's message reaches the agent", WAIT, || async {
        bodies_by(&b, &sid, &format!("discord:{alice}"))
            .iter()
            .any(|t| t == "Sorry, my DMs were closed")
            .then_some(())
    })
    .await;
    agent.send(&sid, "No problem: check your inbox.").unwrap();
    b.dm_containing(alice, "No problem: check your inbox.")
        .await;
    let case = b.case_when("open", |c| c.status == CaseStatus::Open).await;
    let timeline = b.cases.timeline(case.number).await.unwrap();
    let texts: Vec<String> = timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::Message { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        texts.iter().any(|t| t == "Sorry, my DMs were closed"),
        "{texts:#?}"
    );
    assert_eq!(
        outbox_rows(&b.db)
            .await
            .iter()
            .filter(|r| matches!(r.state.as_str(), "failed" | "dead"))
            .count(),
        1,
        "no other dead letter"
    );
    b.stop().await;
}

#[tokio::test]
async fn a_conversation_deleted_in_twilio_is_a_dead_letter_and_the_user_is_told() {
    let b = Bridge::start_with(&fast_retries()).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;

    // Someone deletes the conversation in Twilio; Alice's next message finds it gone (404).
    let deleted = reqwest::Client::new()
        .delete(format!("{}/v1/Conversations/{sid}", b.twilio.base_url()))
        .basic_auth(b.twilio.account_sid(), Some(b.twilio.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    b.discord.inject_dm(alice, "Hello? Still there?").unwrap();
    b.dm_containing(alice, "This conversation has ended.").await;

    let rows = outbox_rows(&b.db).await;
    let dead: Vec<_> = rows
        .iter()
        .filter(|r| matches!(r.state.as_str(), "failed" | "dead"))
        .collect();
    assert_eq!(dead.len(), 1, "{dead:#?}");
    assert_eq!(dead[0].kind, "post_to_twilio");
    let reason = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("404") || reason.contains("20404"),
        "{reason}"
    );
    // Exactly one POST was tried: a 404 is not retried.
    let posts = b
        .twilio
        .api_calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == format!("/v1/Conversations/{sid}/Messages"))
        .filter(|c| c.status == 404)
        .count();
    assert_eq!(posts, 1);

    // The case is resolved (the conversation could not go on) and keeps Alice's last words.
    let case = b
        .case_when("resolved", |c| c.status == CaseStatus::Resolved)
        .await;
    let timeline = b.cases.timeline(case.number).await.unwrap();
    assert!(
        timeline.iter().any(|e| matches!(
            &e.event,
            TimelineEvent::Message { text, .. } if text == "Hello? Still there?"
        )),
        "{timeline:#?}"
    );
    let listing = outbox_dead(&b.db).await;
    assert!(
        listing.contains("post_to_twilio") && listing.contains("Hello? Still there?"),
        "{listing}"
    );
    b.stop().await;
}

#[tokio::test]
async fn discord_server_errors_are_retried_and_the_answer_posted_once() {
    let b = Bridge::start_with(&fast_retries()).await;
    let alice = b.discord.user_id("alice").unwrap();
    b.discord
        .fail_route("POST", "channels/*/messages", 2, 502, 0, "Bad Gateway");
    let answer = b.bot_answer(alice).await;
    let channel = answer.channel_id;
    let statuses: Vec<u16> = b.discord.state(|s| {
        s.rest_calls_matching("POST", "channels/*/messages")
            .iter()
            .filter(|c| c.path == format!("channels/{channel}/messages"))
            .map(|c| c.status)
            .collect()
    });
    assert_eq!(&statuses[..3], [502, 502, 200], "{statuses:?}");
    // One answer with suggestions, whatever the retries.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answers = b
        .discord
        .dms_to(alice)
        .iter()
        .filter(|m| !m.embeds.is_empty())
        .count();
    assert_eq!(answers, 1);
    let answer_id = answer.id.to_string();
    let send = eventually("the answer's delivery is recorded", WAIT, || async {
        outbox_rows(&b.db)
            .await
            .into_iter()
            .find(|r| r.upstream_id.as_deref() == Some(answer_id.as_str()))
    })
    .await;
    assert_eq!(send.kind, "send_dm");
    assert_eq!(send.attempts, 3, "{send:?}");
    b.stop().await;
}

#[tokio::test]
async fn dms_sent_while_the_gateway_is_down_are_handled_once_after_resuming() {
    let b = Bridge::start_with(&fast_retries()).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    let author = format!("discord:{alice}");

    // The connection drops; Alice writes three messages before the shard is back.
    assert_eq!(b.discord.drop_connections(None), 1);
    let lines = ["outage one", "outage two", "outage three"];
    for line in lines {
        b.discord.inject_dm(alice, line).unwrap();
    }
    let got = eventually("the three messages reach the agent", WAIT, || async {
        let seen: Vec<String> = bodies_by(&b, &sid, &author)
            .into_iter()
            .filter(|t| t.starts_with("outage"))
            .collect();
        (seen.len() >= 3).then_some(seen)
    })
    .await;
    let sessions = b
        .discord
        .state(flexcord_testkit::discord::DiscordState::sessions);
    assert!(
        sessions.iter().any(|s| s.shard[0] == 0 && s.resumes >= 1),
        "the shard resumed: {sessions:?}"
    );
    // The agent replies; the reply and a reconnect request do not repeat anything.
    agent.send(&sid, "Got all three.").unwrap();
    b.dm_containing(alice, "Got all three.").await;
    assert!(b.discord.request_reconnect(None) >= 1);
    b.discord.inject_dm(alice, "after reconnect").unwrap();
    eventually("the message after op 7", WAIT, || async {
        bodies_by(&b, &sid, &author)
            .iter()
            .any(|t| t == "after reconnect")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen: Vec<String> = bodies_by(&b, &sid, &author)
        .into_iter()
        .filter(|t| t.starts_with("outage"))
        .collect();
    assert_eq!(seen, got, "nothing more arrived");
    assert_eq!(seen, lines, "each once, in order");
    let replies = b
        .discord
        .dms_to(alice)
        .iter()
        .filter(|m| m.content.contains("Got all three."))
        .count();
    assert_eq!(replies, 1);
    b.stop().await;
}

/// `flexcord outbox dead` on the database at `db`, as an operator runs it (awaited: the app
/// under test shares this test's runtime).
pub(crate) async fn outbox_dead(db: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_flexcord"))
        .current_dir(dir.path())
        .args(["outbox", "dead"])
        .env_clear()
        .env("FLEXCORD_STORE__URL", db)
        .output()
        .await
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
