//! Catch-up: agent messages whose webhook Twilio never delivered, and DMs sent while no
//! gateway session was open, reach the other side once and in order (both Twilio modes).

use std::time::Duration;

use flexcord_testkit::twilio::WebhookFault;

use crate::bridge::{Bridge, WAIT, position};
use crate::chat_mode::start_chat_with;
use crate::support::{eventually, sample, scrape};

/// Waits until the case's timeline holds each of `texts` as a message line, and returns how
/// many times each is there.
async fn case_lines(b: &Bridge, texts: &[&str]) -> Vec<usize> {
    let number: flexcord_cases::CaseNumber = "CASE-000001".parse().unwrap();
    eventually("the case shows the lines", WAIT, || async {
        let timeline = b.cases.timeline(number).await.ok()?;
        let counts: Vec<usize> = texts
            .iter()
            .map(|t| {
                timeline
                    .iter()
                    .filter(|e| matches!(&e.event, flexcord_cases::TimelineEvent::Message { text } if text.contains(*t)))
                    .count()
            })
            .collect();
        counts.iter().all(|n| *n > 0).then_some(counts)
    })
    .await
}

/// DMs to `user` whose text is one of `texts`, in the order they were sent.
fn dms_among(b: &Bridge, user: u64, texts: &[&str]) -> Vec<String> {
    b.discord
        .dms_to(user)
        .into_iter()
        .map(|m| m.content)
        .filter(|c| texts.contains(&c.as_str()))
        .collect()
}

async fn recovered(b: &Bridge, source: &str) -> f64 {
    let text = scrape(&b.public).await;
    sample(
        &text,
        &format!("flexcord_sweep_recovered_total{{source=\"{source}\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn an_agent_message_whose_webhook_was_lost_is_fetched_and_routed_before_the_next() {
    // No periodic sweep: the gap the next webhook reveals is what brings the lost message.
    let b = Bridge::start_with(&[("FLEXCORD_TWILIO__SWEEP_INTERVAL", "0s")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:zoe");
    let (sid, _task) = b.agent_joins(alice, &agent).await;

    b.twilio.inject_webhook(
        WebhookFault::drop_deliveries()
            .event("onMessageAdded")
            .times(1),
    );
    agent.send(&sid, "Let me check your account.").unwrap();
    agent
        .send(&sid, "Found it: the reset link is on its way.")
        .unwrap();
    let texts = [
        "Let me check your account.",
        "Found it: the reset link is on its way.",
    ];
    eventually("both agent messages in the DM", WAIT, || async {
        (dms_among(&b, alice, &texts).len() >= 2).then_some(())
    })
    .await;
    // Once each, in the order the agent wrote them.
    assert_eq!(dms_among(&b, alice, &texts), texts);
    let dms = b.discord.dms_to(alice);
    assert!(position(&dms, texts[0]) < position(&dms, texts[1]));
    assert!(recovered(&b, "twilio").await >= 1.0);
    // The case's transcript has both, once each.
    assert_eq!(case_lines(&b, &texts).await, [1, 1]);
    // The listing went through the Twilio API.
    assert!(
        b.twilio
            .api_calls()
            .iter()
            .any(|c| c.method == "GET" && c.path == format!("/v1/Conversations/{sid}/Messages")),
        "the conversation's messages were listed"
    );
    b.stop().await;
}

#[tokio::test]
async fn the_periodic_sweep_brings_a_last_agent_message_no_webhook_brought() {
    let b = Bridge::start_with(&[("FLEXCORD_TWILIO__SWEEP_INTERVAL", "1s")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:zoe");
    let (sid, _task) = b.agent_joins(alice, &agent).await;

    // Every delivery of the agent's last message is lost (Twilio's retry included).
    b.twilio.inject_webhook(
        WebhookFault::drop_deliveries()
            .event("onMessageAdded")
            .times(2),
    );
    agent.send(&sid, "Anything else I can do?").unwrap();
    let dm = b.dm_containing(alice, "Anything else I can do?").await;
    assert_eq!(dm.content, "Anything else I can do?");
    // A few more sweeps find nothing new: still one copy.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        dms_among(&b, alice, &["Anything else I can do?"]).len(),
        1,
        "routed once"
    );
    b.stop().await;
}

#[tokio::test]
async fn chat_mode_fetches_a_lost_agent_message_too() {
    let b = start_chat_with(&[("FLEXCORD_TWILIO__SWEEP_INTERVAL", "0s")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let (ch, agent, _task) = crate::chat_mode::agent_in_chat(&b, alice, "agent:zoe").await;

    b.twilio.inject_webhook(
        WebhookFault::drop_deliveries()
            .event("onMessageSent")
            .times(1),
    );
    agent.send(&ch, "First, your order number?").unwrap();
    agent.send(&ch, "Then the e-mail on the account.").unwrap();
    let texts = [
        "First, your order number?",
        "Then the e-mail on the account.",
    ];
    eventually("both agent messages in the DM", WAIT, || async {
        (dms_among(&b, alice, &texts).len() >= 2).then_some(())
    })
    .await;
    assert_eq!(dms_among(&b, alice, &texts), texts);
    b.stop().await;
}

#[tokio::test]
async fn dms_sent_while_the_gateway_session_was_lost_are_read_back_in_order() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let identity = format!("discord:{alice}");
    let agent = b.twilio.agent("agent:zoe");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    let identifies = b
        .discord
        .state(flexcord_testkit::discord::DiscordState::identify_count);

    // The connection drops and cannot come back for a while; Alice writes meanwhile; the
    // session is then invalidated, so those DMs are never replayed by the gateway.
    b.discord.set_gateway_down(true);
    assert_eq!(b.discord.drop_connections(Some(0)), 1);
    b.discord.inject_dm(alice, "Hello? Still there?").unwrap();
    b.discord
        .inject_dm(alice, "My order number is 4417.")
        .unwrap();
    b.discord.invalidate_sessions(Some(0), false);
    b.discord.set_gateway_down(false);

    let texts = ["Hello? Still there?", "My order number is 4417."];
    let posted = || {
        b.twilio
            .messages(&sid)
            .into_iter()
            .filter(|m| m.author == identity)
            .filter_map(|m| m.body)
            .filter(|t| texts.contains(&t.as_str()))
            .collect::<Vec<_>>()
    };
    eventually("both DMs in the conversation", WAIT, || async {
        (posted().len() >= 2).then_some(())
    })
    .await;
    assert_eq!(posted(), texts, "once each, in order");
    assert!(
        b.discord
            .state(flexcord_testkit::discord::DiscordState::identify_count)
            > identifies,
        "a new session, not a resume"
    );
    assert!(recovered(&b, "discord").await >= 2.0);
    assert_eq!(case_lines(&b, &texts).await, [1, 1]);
    b.stop().await;
}
