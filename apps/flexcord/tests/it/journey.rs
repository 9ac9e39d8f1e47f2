//! The whole bridge (`flexcord::app::App`) against both emulators over real sockets:
//! conversations mode, direct and studio routes, one named test per flow.

use std::time::Duration;

use flexcord_cases::{CaseStatus, TimelineEvent};
use flexcord_testkit::discord::SlashCommand;
use flexcord_testkit::twilio::{DeliveryOutcome, Fault};

use crate::bridge::{ALICE, Bridge, WAIT, button, position};

#[tokio::test]
async fn webhooks_forged_unknown_and_duplicated() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let sid = b.hand_off(alice).await;
    let count = |text: &str| {
        b.discord
            .dms_to(alice)
            .iter()
            .filter(|m| m.content.contains(text))
            .count()
    };
    let message = |body: &'static str, msid: &'static str| {
        vec![
            ("EventType", "onMessageAdded"),
            ("ConversationSid", sid.as_str()),
            ("MessageSid", msid),
            ("Author", "agent:zoe"),
            ("Body", body),
            ("Source", "SDK"),
        ]
    };
    // Forged or missing signature: 403, nothing posted.
    let forged = message("forged text", "IM00000000000000000000000000000001");
    assert_eq!(
        b.post_webhook(&forged, Some("bm90IGEgc2lnbmF0dXJl".into()))
            .await,
        403
    );
    assert_eq!(b.post_webhook(&forged, None).await, 403);
    // A conversation we do not know: 200, nothing posted.
    let unknown = vec![
        ("EventType", "onMessageAdded"),
        ("ConversationSid", "CHffffffffffffffffffffffffffffffff"),
        ("MessageSid", "IM00000000000000000000000000000002"),
        ("Author", "agent:zoe"),
        ("Body", "unknown text"),
    ];
    assert_eq!(b.post_webhook(&unknown, Some(b.sign(&unknown))).await, 200);
    // The same webhook twice: posted once.
    let dup = message("duplicate text", "IM00000000000000000000000000000003");
    assert_eq!(b.post_webhook(&dup, Some(b.sign(&dup))).await, 200);
    assert_eq!(b.post_webhook(&dup, Some(b.sign(&dup))).await, 200);
    b.dm_containing(alice, "duplicate text").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count("duplicate text"), 1);
    assert_eq!(count("forged text"), 0);
    assert_eq!(count("unknown text"), 0);
    b.stop().await;
}

#[tokio::test]
async fn conversations_studio_route_asks_the_bot_through_twilio() {
    let b = Bridge::start_with(&[("FLEXCORD_BOT__ROUTE", "studio")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    b.discord.inject_dm(alice, "I forgot my password").unwrap();
    // The DM goes to Twilio first; Studio (emulated) calls POST /twilio/bot; the answer reaches
    // Discord with linked suggestions.
    let answer = b
        .discord
        .wait_for_dm_where(alice, |m| !m.embeds.is_empty(), WAIT)
        .await
        .expect("the bot answers through Studio");
    assert!(
        answer.embeds[0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
    );
    let conversations = b.twilio.conversations();
    assert_eq!(conversations.len(), 1, "created at the first DM");
    let sid = conversations[0].sid.clone();
    let hooks = b.twilio.conversation_webhooks(&sid);
    assert!(hooks.iter().any(|h| h.target == "studio"), "{hooks:?}");
    assert!(
        !b.twilio.bot_requests().is_empty(),
        "Studio asked the bridge's bot"
    );
    let messages = b.twilio.messages(&sid);
    assert!(
        messages
            .iter()
            .any(|m| m.author == "discord:".to_owned() + &alice.to_string()),
        "{messages:?}"
    );

    // Hand-off: Flex gets the task at once, without another user message.
    b.discord
        .inject_button(alice, &{
            let comps = serde_json::to_string(&answer.components).unwrap();
            let start = comps.find("fc:agent:").unwrap();
            comps[start..].split('"').next().unwrap().to_owned()
        })
        .unwrap();
    b.dm_containing(alice, "CASE-").await;
    let agent = b.twilio.agent("agent:alice");
    let task = agent.accept_next(WAIT).await.expect("a task for the agent");
    assert_eq!(task.conversation_sid.as_deref(), Some(sid.as_str()));
    // A later user message joins that task: one interaction, one task for the conversation.
    b.discord.inject_dm(alice, "Are you there?").unwrap();
    b.twilio
        .wait_for(WAIT, |t| {
            t.messages(&sid)
                .into_iter()
                .find(|m| m.body.as_deref() == Some("Are you there?"))
        })
        .await
        .expect("the message reaches the conversation");
    let interactions = b
        .twilio
        .interactions()
        .into_iter()
        .filter(|i| i.conversation_sid.as_deref() == Some(sid.as_str()))
        .count();
    assert_eq!(interactions, 1, "one interaction for the conversation");
    let tasks = b
        .twilio
        .tasks()
        .into_iter()
        .filter(|t| t.conversation_sid.as_deref() == Some(sid.as_str()))
        .count();
    assert_eq!(tasks, 1, "one task for the conversation");
    b.stop().await;
}

#[tokio::test]
async fn helpme_is_deferred_and_continues_in_the_dm() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let cmd = b
        .discord
        .inject_slash(alice, &SlashCommand::new("helpme"))
        .unwrap();
    let record = b
        .discord
        .wait_for_interaction_response(cmd.id, WAIT)
        .await
        .expect("/helpme acknowledged");
    assert_eq!(record.responses[0].kind, 5, "deferred first");
    b.dm_containing(alice, "I'll continue in your direct messages.")
        .await;
    // The DM opens with the virtual agent, offering a live agent; nothing is handed off yet.
    let greeting = b.dm_containing(alice, "virtual support assistant").await;
    assert!(button(&greeting, "fc:agent:").starts_with("fc:agent:"));
    assert!(b.twilio.conversations().is_empty());
    assert!(b.twilio.tasks().is_empty());
    assert!(b.cases.get("CASE-000001".parse().unwrap()).await.is_err());
    b.stop().await;
}

#[tokio::test]
async fn bot_answer_with_suggestions() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let answer = b.bot_answer(alice).await;
    assert!(
        answer.embeds[0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{:?}",
        answer.embeds
    );
    assert!(button(&answer, "fc:agent:").starts_with("fc:agent:"));
    // Bot-only sessions never touch Twilio and open no case.
    assert!(b.twilio.conversations().is_empty());
    assert!(b.twilio.tasks().is_empty());
    assert!(b.twilio.deliveries().is_empty());
    assert!(b.cases.get("CASE-000001".parse().unwrap()).await.is_err());
    b.stop().await;
}

#[tokio::test]
async fn handoff_transfer_notice_case_number_then_agent_joined() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, task) = b.agent_joins(alice, &agent).await;

    // In Discord: the transfer notice, the case number, the agent-joined notice, in this order.
    let dms = b.discord.dms_to(alice);
    let transfer = position(&dms, "transferring you");
    let number = position(&dms, "Your case number is CASE-000001.");
    let joined = position(&dms, "Alice has joined the conversation.");
    assert!(
        transfer < number && number < joined,
        "{transfer} {number} {joined}"
    );

    // In Twilio: one conversation with the back-filled transcript and the hand-off flag, a
    // webhook to the bridge, a task for it accepted by the agent.
    let conversations = b.twilio.conversations();
    assert_eq!(conversations.len(), 1);
    let backfill = b.twilio.messages(&sid);
    assert!(
        backfill
            .iter()
            .any(|m| m.body.as_deref() == Some("I forgot my password")),
        "{backfill:?}"
    );
    let attrs: serde_json::Value = serde_json::from_str(&conversations[0].attributes).unwrap();
    assert_eq!(attrs["flexcord"]["handoff"], true, "{attrs}");
    assert_eq!(attrs["flexcord"]["case"], "CASE-000001", "{attrs}");
    assert!(
        b.twilio
            .conversation_webhooks(&sid)
            .iter()
            .any(|h| h.url.as_deref() == Some(&format!("{}/twilio/outbound", b.public))),
        "{:?}",
        b.twilio.conversation_webhooks(&sid)
    );
    assert_eq!(task.conversation_sid.as_deref(), Some(sid.as_str()));
    assert_eq!(b.twilio.tasks().len(), 1);

    // The agent sees who they talk to: the participant's friendly name, the conversation's
    // name and the task's customer name are Alice's Discord display name.
    let user = b
        .twilio
        .participants(&sid)
        .into_iter()
        .find(|p| p.identity.as_deref() == Some(&format!("discord:{alice}")))
        .expect("Alice is a participant");
    let pattrs: serde_json::Value = serde_json::from_str(&user.attributes).unwrap();
    assert_eq!(pattrs["friendlyName"], ALICE, "{pattrs}");
    assert_eq!(
        conversations[0].friendly_name.as_deref(),
        Some("Alice (Discord)")
    );
    let tattrs: serde_json::Value = serde_json::from_str(&task.attributes).unwrap();
    assert_eq!(tattrs["customerName"], ALICE, "{tattrs}");

    let case = b.case_when("open", |c| c.status == CaseStatus::Open).await;
    assert_eq!(case.requester.discord_id, alice.to_string());
    assert_eq!(case.requester.name, ALICE);
    b.stop().await;
}

#[tokio::test]
async fn agent_long_reply_is_split_in_order() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    agent.send(&sid, "Hi, I am here.").unwrap();
    b.dm_containing(alice, "Hi, I am here.").await;
    let long_reply = format!("Here is how to reset it. {}", "word ".repeat(800));
    assert!(long_reply.chars().count() > 4_000);
    agent.send(&sid, &long_reply).unwrap();
    // Split at Discord's 2,000 characters, in order, nothing lost.
    let parts = b
        .discord
        .wait_for_value(
            |s| {
                let dms = s.dms_to(alice);
                let start = dms
                    .iter()
                    .position(|m| m.content.starts_with("Here is how"))?;
                let parts: Vec<String> = dms[start..].iter().map(|m| m.content.clone()).collect();
                let words: usize = parts.iter().map(|p| p.matches("word").count()).sum();
                (words == 800).then_some(parts)
            },
            WAIT,
        )
        .await
        .expect("every part of the long reply");
    assert!(parts.len() >= 3, "{} parts", parts.len());
    assert!(parts.iter().all(|p| p.chars().count() <= 2000));
    let joined: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
    let sent: Vec<&str> = long_reply.split_whitespace().collect();
    assert_eq!(joined, sent, "the parts, in order, are the reply");
    // The webhooks that carried the replies were delivered to the bridge.
    let delivered: Vec<_> = b
        .twilio
        .events("onMessageAdded")
        .into_iter()
        .filter(|d| d.param("Author") == Some("agent:alice"))
        .collect();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(
        delivered
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Delivered)
    );
    let case = b.case_when("open", |c| c.status == CaseStatus::Open).await;
    assert_eq!(case.requester.discord_id, alice.to_string());
    assert_eq!(case.requester.name, ALICE);
    let mut recorded = false;
    for _ in 0..200 {
        let timeline = b.cases.timeline(case.number).await.unwrap();
        recorded = timeline.iter().any(|e| {
            matches!(
                &e.event,
                TimelineEvent::Message { text, .. } if text.starts_with("Here is how")
            ) && e.actor == "agent:alice"
        });
        if recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recorded, "the long reply is in the case transcript");
    b.stop().await;
}

#[tokio::test]
async fn agent_closes_and_the_user_is_asked_to_rate() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, task) = b.agent_joins(alice, &agent).await;
    let closed = b.agent_closes(alice, &agent, &task).await;
    for score in 1..=5 {
        assert!(button(&closed, &format!("fc:rate{score}:")).starts_with("fc:rate"));
    }
    let case = b
        .case_when("resolved", |c| c.status == CaseStatus::Resolved)
        .await;
    assert!(case.rating.is_none());
    // Twilio: the task ended; the conversation is closed.
    assert!(
        b.twilio
            .wait_for(WAIT, |t| t
                .conversation(&sid)
                .filter(|c| c.state == "closed")
                .map(|_| ()))
            .await
            .is_ok(),
        "conversation state: {:?}",
        b.twilio.conversation(&sid).map(|c| c.state)
    );
    b.stop().await;
}

#[tokio::test]
async fn rating_is_recorded_on_the_resolved_case() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, task) = b.agent_joins(alice, &agent).await;
    agent.send(&sid, "Reset link sent.").unwrap();
    b.dm_containing(alice, "Reset link sent.").await;
    let closed = b.agent_closes(alice, &agent, &task).await;
    b.discord
        .inject_button(alice, &button(&closed, "fc:rate5:"))
        .unwrap();
    b.dm_containing(alice, "Thanks for your feedback!").await;
    let case = b
        .case_when("rated", |c| {
            c.status == CaseStatus::Resolved && c.rating.is_some()
        })
        .await;
    assert_eq!(case.rating.map(|r| r.score), Some(5));
    assert_eq!(case.requester.name, ALICE);
    let timeline = b.cases.timeline(case.number).await.unwrap();
    let authors: Vec<String> = timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::Message { .. }))
        .map(|e| e.actor.clone())
        .collect();
    assert!(
        authors.first().is_some_and(|a| a.starts_with("discord:")),
        "{authors:?}"
    );
    assert!(authors.iter().any(|a| a == "flexcord-bot"), "{authors:?}");
    assert!(authors.iter().any(|a| a == "agent:alice"), "{authors:?}");
    // The rating goes to Discord only: nothing more is posted to Twilio after the close.
    assert!(
        !b.twilio
            .messages(&sid)
            .iter()
            .any(|m| m.body.as_deref().is_some_and(|t| t.contains("feedback")))
    );
    b.stop().await;
}

#[tokio::test]
async fn conversations_studio_full_handoff_journey() {
    let b = Bridge::start_with(&[("FLEXCORD_BOT__ROUTE", "studio")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let answer = b.bot_answer(alice).await;
    let sid = b.twilio.conversations()[0].sid.clone();
    assert!(!b.twilio.bot_requests().is_empty(), "Studio asked the bot");

    // Hand-off: the transfer notice, the case number, then the agent joins.
    b.discord
        .inject_button(alice, &button(&answer, "fc:agent:"))
        .unwrap();
    b.dm_containing(alice, "Your case number is CASE-000001.")
        .await;
    // Flex has the task at once: no further user message is needed.
    let agent = b.twilio.agent("agent:zoe");
    let task = agent.accept_next(WAIT).await.expect("a task for the agent");
    assert_eq!(task.conversation_sid.as_deref(), Some(sid.as_str()));
    // A message written while waiting joins that task, never a second one.
    b.discord.inject_dm(alice, "Are you there?").unwrap();
    b.twilio
        .wait_for(WAIT, |t| {
            t.messages(&sid)
                .into_iter()
                .find(|m| m.body.as_deref() == Some("Are you there?"))
        })
        .await
        .expect("the message reaches the conversation");
    assert_eq!(
        b.twilio
            .tasks()
            .iter()
            .filter(|t| t.conversation_sid.as_deref() == Some(sid.as_str()))
            .count(),
        1,
        "one task for the conversation"
    );
    b.dm_containing(alice, "Zoe has joined the conversation.")
        .await;
    let dms = b.discord.dms_to(alice);
    let transfer = position(&dms, "transferring you");
    let number = position(&dms, "Your case number is CASE-000001.");
    let joined = position(&dms, "has joined the conversation.");
    assert!(
        transfer < number && number < joined,
        "{transfer} {number} {joined}"
    );
    assert_eq!(b.twilio.conversations().len(), 1, "the same conversation");

    // The agent replies and the user answers; the bot is no longer asked.
    let bot_calls = b.twilio.bot_requests().len();
    agent.send(&sid, "Hi, I am Zoe.").unwrap();
    b.dm_containing(alice, "Hi, I am Zoe.").await;
    b.discord.inject_dm(alice, "Thank you!").unwrap();
    b.twilio
        .wait_for(WAIT, |t| {
            t.messages(&sid)
                .iter()
                .any(|m| m.body.as_deref() == Some("Thank you!"))
                .then_some(())
        })
        .await
        .expect("the user's answer reaches the conversation");
    assert_eq!(
        b.twilio.bot_requests().len(),
        bot_calls,
        "no bot after hand-off"
    );

    // The agent closes; the user rates; the case is resolved with its transcript.
    let closed = b.agent_closes(alice, &agent, &task).await;
    b.discord
        .inject_button(alice, &button(&closed, "fc:rate4:"))
        .unwrap();
    let case = b
        .case_when("rated", |c| {
            c.status == CaseStatus::Resolved && c.rating.is_some()
        })
        .await;
    assert_eq!(case.rating.map(|r| r.score), Some(4));
    assert_eq!(
        case.requester.name, ALICE,
        "the name from Alice's DMs and button"
    );
    let timeline = b.cases.timeline(case.number).await.unwrap();
    let authors: Vec<String> = timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::Message { .. }))
        .map(|e| e.actor.clone())
        .collect();
    assert!(
        authors.iter().any(|a| a.starts_with("discord:")),
        "{authors:?}"
    );
    assert!(authors.iter().any(|a| a == "agent:zoe"), "{authors:?}");
    b.stop().await;
}

/// `n` copies of `word` separated by spaces: 400 five-letter words fill one Discord message.
fn words(n: usize, word: &str) -> String {
    vec![word; n].join(" ")
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one journey, read top to bottom
async fn agent_edits_a_split_reply_into_more_then_fewer_parts() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    // A reply of about 4,000 characters: two Discord messages.
    let original = words(800, "four");
    assert!(original.chars().count() > 3_990);
    let msid = agent.send(&sid, &original).unwrap();
    let first = b
        .discord
        .wait_for_value(
            |s| {
                let parts: Vec<u64> = s
                    .dms_to(alice)
                    .into_iter()
                    .filter(|m| m.content.starts_with("four"))
                    .map(|m| m.id)
                    .collect();
                (parts.len() == 2).then_some(parts)
            },
            WAIT,
        )
        .await
        .expect("the reply in two parts");

    // Edited into about 5,000 characters: both parts edited in order, a third one sent.
    let longer = words(1000, "five");
    assert!(longer.chars().count() > 4_990);
    agent.edit(&sid, &msid, &longer).unwrap();
    let parts = b
        .discord
        .wait_for_value(
            |s| {
                let dms = s.dms_to(alice);
                let start = dms.iter().position(|m| m.id == first[0])?;
                let parts: Vec<(u64, String)> = dms[start..]
                    .iter()
                    .filter(|m| m.content.starts_with("five"))
                    .map(|m| (m.id, m.content.clone()))
                    .collect();
                let total: usize = parts.iter().map(|(_, t)| t.matches("five").count()).sum();
                (total == 1000).then_some(parts)
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the edit in three parts; DMs: {:#?}",
                b.discord.dms_to(alice)
            )
        });
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(parts[0], (first[0], words(400, "five")));
    assert_eq!(parts[1], (first[1], words(400, "five")));
    assert_eq!(parts[2].1, words(200, "five"));
    let third = parts[2].0;
    assert!(third > first[1], "the third part is a new message");
    assert!(
        !b.discord
            .dms_to(alice)
            .iter()
            .any(|m| m.content.contains("four")),
        "nothing of the old text is left"
    );
    for id in &first {
        let m = b
            .discord
            .bot_messages()
            .into_iter()
            .find(|m| m.id == *id)
            .unwrap();
        assert_eq!(m.edits.len(), 1, "edited once: {:?}", m.edits);
        assert!(m.edits[0].starts_with("four"));
    }

    // Edited into a short text: the first part edited, the other two deleted.
    let short = "Sorry, that answer was for another customer.";
    agent.edit(&sid, &msid, short).unwrap();
    b.discord
        .wait_for(
            |s| {
                s.message(first[1]).is_some_and(|m| m.deleted)
                    && s.message(third).is_some_and(|m| m.deleted)
                    && s.message(first[0]).is_some_and(|m| m.content == short)
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|_| panic!("short edit; DMs: {:#?}", b.discord.dms_to(alice)));
    let deletes = b
        .discord
        .rest_calls()
        .into_iter()
        .filter(|c| c.method == "DELETE" && c.path.contains("/messages/"))
        .count();
    assert_eq!(deletes, 2, "each surplus part deleted once");
    let dms = b.discord.dms_to(alice);
    let last = dms
        .iter()
        .rev()
        .find(|m| m.content.contains("customer") || m.content.starts_with("five"))
        .expect("the edited reply");
    assert_eq!(last.id, first[0]);
    assert_eq!(last.content, short);
    assert!(!dms.iter().any(|m| m.content.contains("five")), "{dms:#?}");
    b.stop().await;
}

#[tokio::test]
async fn out_of_hours_handoff_says_when_agents_are_back_and_the_case_stays_new() {
    // Support works one whole day of the week, three days from today in Tokyo: closed now.
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let zone = "Asia/Tokyo";
    let today = jiff::Timestamp::now()
        .in_tz(zone)
        .unwrap()
        .weekday()
        .to_monday_zero_offset();
    let open_day = DAYS[usize::try_from((today + 3) % 7).unwrap()];
    let hours = format!("{open_day} 00:00-24:00");
    let b = Bridge::start_configured(|_| {
        vec![
            ("FLEXCORD_SUPPORT__HOURS".to_owned(), hours.clone()),
            ("FLEXCORD_SUPPORT__TIMEZONE".to_owned(), zone.to_owned()),
        ]
    })
    .await;
    let alice = b.discord.user_id("alice").unwrap();
    let answer = b.bot_answer(alice).await;
    b.discord
        .inject_button(alice, &button(&answer, "fc:agent:"))
        .unwrap();
    let back = format!("An agent will answer from {open_day} 00:00 ({zone}).");
    b.dm_containing(alice, &back).await;
    b.dm_containing(alice, "Your case number is CASE-000001.")
        .await;
    let dms = b.discord.dms_to(alice);
    let transfer = position(&dms, "transferring you");
    let offline = position(&dms, "Our support team is offline right now.");
    assert!(transfer < offline, "{transfer} {offline}");
    // The case is opened for the request and waits, unassigned, as `new`.
    let case = b.case_when("opened", |_| true).await;
    assert_eq!(case.status, CaseStatus::New);
    assert_eq!(case.assignee, None);
    assert_eq!(case.requester.discord_id, alice.to_string());
    assert_eq!(case.subject, "I forgot my password");
    // The conversation is queued in Flex for when agents are back; nobody has taken it.
    b.until("the conversation is queued in Flex", |t| {
        t.tasks().len() == 1
    })
    .await;
    let sid = b.twilio.conversations()[0].sid.clone();
    let task = b.twilio.tasks()[0].clone();
    assert_eq!(task.conversation_sid.as_deref(), Some(sid.as_str()));
    assert_eq!(task.worker, None);
    // Still `new` once every action of the hand-off has run: no agent joined.
    b.until("the hand-off's Twilio work is done", |t| {
        t.conversation(&sid).is_some_and(|c| {
            serde_json::from_str::<serde_json::Value>(&c.attributes)
                .is_ok_and(|a| a["flexcord"]["case"] == "CASE-000001")
        })
    })
    .await;
    let case = b.cases.get(case.number).await.unwrap();
    assert_eq!(case.status, CaseStatus::New);
    let timeline = b.cases.timeline(case.number).await.unwrap();
    assert!(
        !timeline
            .iter()
            .any(|e| matches!(e.event, TimelineEvent::StatusChanged { .. })),
        "{timeline:?}"
    );
    b.stop().await;
}

#[tokio::test]
async fn agent_message_before_the_sid_is_recorded_reaches_discord() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    // The creation's last call (adding the bridge's webhook) is served but its answer held:
    // the conversation exists at Twilio and reports to the bridge while the outbox worker
    // still waits for the call, so the bridge has not recorded the SID.
    b.twilio.inject(
        Fault::on("POST", "/v1/Conversations/*/Webhooks")
            .hold()
            .times(1),
    );
    let answer = b.bot_answer(alice).await;
    b.discord
        .inject_button(alice, &button(&answer, "fc:agent:"))
        .unwrap();
    b.twilio
        .wait_for(WAIT, |t| (t.held() == 1).then_some(()))
        .await
        .expect("the creation is in flight");
    let sid = b.twilio.conversations()[0].sid.clone();
    b.twilio
        .agent("agent:zoe")
        .send(&sid, "I am already here")
        .unwrap();
    // Twilio delivered the message to the bridge and got 200; the bridge parked it.
    let delivery = b
        .twilio
        .wait_for_delivery(WAIT, |d| {
            d.event_type.as_deref() == Some("onMessageAdded")
                && d.param("Body") == Some("I am already here")
        })
        .await
        .expect("the webhook was delivered");
    assert_eq!(delivery.outcome, DeliveryOutcome::Delivered);
    let store = flexcord_store::Store::connect(&format!(
        "sqlite://{}",
        b.dir.path().join("flexcord.db").display()
    ))
    .await
    .unwrap();
    let parked = store.parked(&sid.as_str().into()).await.unwrap();
    assert_eq!(
        parked
            .iter()
            .map(flexcord_store::Parked::event_name)
            .collect::<Vec<_>>(),
        ["twilio_message"]
    );
    assert!(
        b.discord
            .dms_to(alice)
            .iter()
            .all(|m| !m.content.contains("I am already here"))
    );
    // The creation call returns: the SID is recorded and the parked message replayed.
    assert_eq!(b.twilio.release_held(), 1);
    b.dm_containing(alice, "I am already here").await;
    b.dm_containing(alice, "CASE-").await;
    assert_eq!(store.parked_count().await.unwrap(), 0);
    let copies = b
        .discord
        .dms_to(alice)
        .iter()
        .filter(|m| m.content.contains("I am already here"))
        .count();
    assert_eq!(copies, 1);
    store.close().await;
    b.stop().await;
}

#[tokio::test]
async fn a_non_default_conversations_service_is_reached_through_its_own_paths() {
    let b = Bridge::start_configured(|twilio| {
        let service = twilio.add_conversations_service("flexcord support");
        vec![(
            "FLEXCORD_TWILIO__CONVERSATIONS_SERVICE_SID".to_owned(),
            service,
        )]
    })
    .await;
    let service = b.twilio.config().chat_service_sid.clone();
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, task) = b.agent_joins(alice, &agent).await;
    let conversation = b.twilio.conversation(&sid).expect("the conversation");
    assert_ne!(
        conversation.chat_service_sid, service,
        "created in the configured service, not the default one"
    );
    agent.send(&sid, "Hello from the other service.").unwrap();
    b.dm_containing(alice, "Hello from the other service.")
        .await;
    b.discord.inject_dm(alice, "thanks!").unwrap();
    b.until("her reply reaches the agent", |t| {
        t.messages(&sid)
            .iter()
            .any(|m| m.body.as_deref() == Some("thanks!"))
    })
    .await;
    b.agent_closes(alice, &agent, &task).await;
    b.case_when("resolved", |c| c.status == CaseStatus::Resolved)
        .await;
    b.stop().await;
}

#[tokio::test]
async fn a_message_no_article_fits_is_answered_with_the_live_agent_only() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    b.discord.inject_dm(alice, "qwerty zxcvb plonk").unwrap();
    let answer = b
        .discord
        .wait_for_dm_where(alice, |m| !m.components.is_empty(), WAIT)
        .await
        .expect("an answer");
    // No article is suggested and nothing can be "solved": only the live agent is offered.
    assert!(answer.embeds.is_empty(), "{:?}", answer.embeds);
    let buttons = serde_json::to_string(&answer.components).unwrap();
    assert!(buttons.contains("fc:agent:"), "{buttons}");
    assert!(!buttons.contains("fc:solved:"), "{buttons}");
    assert!(b.twilio.conversations().is_empty());
    b.stop().await;
}
