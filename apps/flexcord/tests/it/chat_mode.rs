//! The whole bridge (`flexcord::app::App`) in chat mode (Programmable Chat through a Flex
//! Flow, always the studio route) against both emulators over real sockets.

use std::time::Duration;

use flexcord_cases::{CaseStatus, TimelineEvent};
use flexcord_testkit::discord::StoredMessage;
use flexcord_testkit::twilio::{DeliveryOutcome, Route, TaskEnd};

use crate::bridge::Bridge;

const WAIT: Duration = Duration::from_secs(30);

/// The bridge in chat mode: the shared harness (its environment names the Twilio emulator's
/// chat service and Flex Flow) with `twilio.mode = "chat"`.
pub(crate) async fn start_chat() -> Bridge {
    start_chat_with(&[]).await
}

/// [`start_chat`] with more settings.
pub(crate) async fn start_chat_with(extra: &[(&str, &str)]) -> Bridge {
    let mut env = vec![("FLEXCORD_TWILIO__MODE", "chat")];
    env.extend_from_slice(extra);
    Bridge::start_with(&env).await
}

/// `user` asks, is handed off and an agent with `identity` accepts the task; returns the chat
/// channel, the agent and the task.
pub(crate) async fn agent_in_chat<'t>(
    b: &'t Bridge,
    user: u64,
    identity: &str,
) -> (
    String,
    flexcord_testkit::twilio::Agent<'t>,
    flexcord_testkit::twilio::Task,
) {
    b.discord.inject_dm(user, "I forgot my password").unwrap();
    let answer = b
        .discord
        .wait_for_dm_where(user, |m| !m.components.is_empty(), WAIT)
        .await
        .expect("the bot answers through Studio");
    b.discord
        .inject_button(user, &custom_id(&answer, "fc:agent:"))
        .unwrap();
    let agent = b.twilio.agent(identity);
    let task = agent.accept_next(WAIT).await.expect("a task for the agent");
    let ch = task.chat_channel_sid.clone().expect("a chat channel");
    b.dm_containing(user, "joined").await;
    (ch, agent, task)
}

fn custom_id(message: &StoredMessage, prefix: &str) -> String {
    let comps = serde_json::to_string(&message.components).unwrap();
    let start = comps
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} button in {comps}"));
    comps[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one customer journey, read top to bottom
async fn chat_mode_studio_bot_handoff_agent_close() {
    let b = start_chat().await;
    let alice = b.discord.user_id("alice").unwrap();
    let identity = format!("discord:{alice}");

    // The first DM creates the Flex chat channel; Studio (emulated) asks POST /twilio/bot with
    // the ChannelSid; the answer reaches Discord with linked suggestions.
    let first = b.discord.inject_dm(alice, "I forgot my password").unwrap();
    let answer = b
        .discord
        .wait_for_dm_where(alice, |m| !m.embeds.is_empty(), WAIT)
        .await
        .expect("the bot answers through Studio");
    assert!(
        answer.embeds[0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{:?}",
        answer.embeds
    );
    assert!(b.twilio.conversations().is_empty(), "no Conversations");
    let flex = b.twilio.flex_channels();
    assert_eq!(flex.len(), 1, "one Flex chat channel: {flex:?}");
    assert_eq!(flex[0].identity, identity);
    assert_eq!(flex[0].flex_flow_sid, b.twilio.flex_flow_sid());
    let ch = flex[0].sid.clone();
    // Flex names the chat after the user: `from` is Alice's Discord display name.
    let channel = b.twilio.chat_channel(&ch).expect("the chat channel");
    let cattrs: serde_json::Value = serde_json::from_str(&channel.attributes).unwrap();
    assert_eq!(cattrs["from"], crate::bridge::ALICE, "{cattrs}");
    let hooks = b.twilio.chat_webhooks(&ch);
    assert!(
        hooks.iter().any(|h| h.kind == "studio"),
        "the Flex Flow's Studio flow: {hooks:?}"
    );
    let ours: Vec<_> = hooks.iter().filter(|h| h.kind == "webhook").collect();
    assert_eq!(ours.len(), 1, "{hooks:?}");
    assert_eq!(
        ours[0].url.as_deref(),
        Some(format!("{}/twilio/outbound", b.public).as_str())
    );
    for filter in flexcord::deliver::twilio::CHAT_FILTERS {
        assert!(ours[0].filters.iter().any(|f| f == filter), "{filter}");
    }
    let asked = b.twilio.bot_requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].param("ChannelSid"), Some(ch.as_str()));
    assert_eq!(asked[0].param("Author"), Some(identity.as_str()));
    assert_eq!(asked[0].outcome, DeliveryOutcome::Delivered);
    // The bot's reply is written into the channel as the bot, without webhooks (no loop).
    b.until("the bot reply in the channel", |t| {
        t.chat_messages(&ch)
            .iter()
            .any(|m| m.from == "flexcord-bot")
    })
    .await;
    let messages = b.twilio.chat_messages(&ch);
    assert_eq!(messages[0].from, identity);
    assert_eq!(messages[0].body.as_deref(), Some("I forgot my password"));
    // The message carries the DM's id and trace (the DM's trace survived the channel's
    // creation: the post is an action of its result).
    let attrs: serde_json::Value = serde_json::from_str(&messages[0].attributes).unwrap();
    assert_eq!(
        attrs["flexcord"]["trace"],
        format!("dm-{}", first.id),
        "{attrs}"
    );
    assert_eq!(
        attrs["flexcord"]["discord_message"],
        first.id.to_string(),
        "{attrs}"
    );
    assert_eq!(
        b.twilio.bot_requests().len(),
        1,
        "the bot's own message is not routed to the bot"
    );

    // Hand-off: the transfer notice, the case number, and the channel flagged for Studio.
    b.discord
        .inject_button(alice, &custom_id(&answer, "fc:agent:"))
        .unwrap();
    b.dm_containing(alice, "transferring you").await;
    let case_dm = b.dm_containing(alice, "CASE-").await;
    assert!(
        case_dm.content.contains("CASE-000001"),
        "{}",
        case_dm.content
    );
    b.until("handoff set on the channel", |t| {
        t.chat_channel(&ch).is_some_and(|c| {
            serde_json::from_str::<serde_json::Value>(&c.attributes)
                .is_ok_and(|a| a["flexcord"]["handoff"] == true)
        })
    })
    .await;
    let attributes: serde_json::Value =
        serde_json::from_str(&b.twilio.chat_channel(&ch).unwrap().attributes).unwrap();
    assert_eq!(attributes["status"], "ACTIVE", "Flex's attributes kept");
    assert_eq!(attributes["flexcord"]["discord_user"], alice.to_string());

    // Flex gets the channel at once, without another user message: the bot's transfer notice,
    // posted with webhooks on, runs the flow, which sees the flag and sends the channel to Flex.
    let agent = b.twilio.agent("agent:zoe");
    let task = agent.accept_next(WAIT).await.expect("a task for the agent");
    assert_eq!(task.chat_channel_sid.as_deref(), Some(ch.as_str()));
    let to_flex: Vec<_> = b
        .twilio
        .router_decisions()
        .into_iter()
        .filter(|d| d.channel_sid == ch && matches!(d.route, Route::Flex { .. }))
        .collect();
    assert_eq!(to_flex.len(), 1, "{:?}", b.twilio.router_decisions());
    assert!(
        b.twilio
            .chat_messages(&ch)
            .iter()
            .any(|m| m.sid == to_flex[0].message_sid && m.from != identity),
        "the bot's notice, not a user message, brought Flex in"
    );
    assert_eq!(
        b.twilio.bot_requests().len(),
        1,
        "no bot after the hand-off"
    );
    // Chat mode's agent has a Chat user without a friendly name: the identity's local part.
    let joined = b.dm_containing(alice, "joined").await;
    assert_eq!(joined.content, "zoe has joined the conversation.");
    assert!(
        b.twilio
            .api_calls()
            .iter()
            .any(|c| c.method == "GET" && c.path.ends_with("/Users/agent:zoe")),
        "the name was asked of the Chat user"
    );

    // The agent's reply reaches the DM; the user's answer reaches the channel.
    agent.send(&ch, "Hi, I am Zoe. Let me reset it.").unwrap();
    b.dm_containing(alice, "Hi, I am Zoe.").await;
    b.discord.inject_dm(alice, "Thank you!").unwrap();
    b.until("the user's reply in the channel", |t| {
        t.chat_messages(&ch)
            .iter()
            .any(|m| m.from == identity && m.body.as_deref() == Some("Thank you!"))
    })
    .await;
    assert_eq!(
        b.twilio
            .tasks()
            .iter()
            .filter(|t| t.chat_channel_sid.as_deref() == Some(ch.as_str()))
            .count(),
        1,
        "the user's later message joins the existing task"
    );
    let case = b.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    assert_eq!(case.status, CaseStatus::Open);

    // The agent ends the task: the channel goes INACTIVE, the user is told and asked to rate,
    // the case is resolved with the transcript.
    agent.end_task(&task.sid, TaskEnd::Completed).unwrap();
    let closed = b
        .dm_containing(alice, "The agent closed this conversation")
        .await;
    b.discord
        .inject_button(alice, &custom_id(&closed, "fc:rate5:"))
        .unwrap();
    let mut case = b.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    for _ in 0..100 {
        if case.status == CaseStatus::Resolved && case.rating.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        case = b.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    }
    assert_eq!(case.status, CaseStatus::Resolved);
    assert_eq!(case.rating.map(|r| r.score), Some(5));
    assert_eq!(case.requester.discord_id, alice.to_string());
    assert_eq!(case.requester.name, crate::bridge::ALICE);
    // The user's own lines came back through the channel webhook and were not echoed.
    assert!(
        b.twilio
            .events("onMessageSent")
            .iter()
            .any(|d| d.param("Body") == Some("Thank you!")),
        "the channel webhook fired for the user's message"
    );
    assert!(
        !b.discord
            .dms_to(alice)
            .iter()
            .any(|m| m.content.contains("Thank you!") || m.content.contains("Are you there?")),
        "no echo of the user's own messages"
    );
    let timeline = b
        .cases
        .timeline("CASE-000001".parse().unwrap())
        .await
        .unwrap();
    let lines: Vec<(String, String)> = timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::Message { text, .. } => Some((e.actor.clone(), text.clone())),
            _ => None,
        })
        .collect();
    let position = |actor: &str, needle: &str| {
        lines
            .iter()
            .position(|(a, t)| a == actor && t.contains(needle))
            .unwrap_or_else(|| panic!("no {actor} line with {needle:?}: {lines:#?}"))
    };
    let asked = position(&identity, "I forgot my password");
    let bot = lines
        .iter()
        .position(|(a, _)| a == "flexcord-bot")
        .unwrap_or_else(|| panic!("no bot line: {lines:#?}"));
    let agent_line = position("agent:zoe", "Let me reset it.");
    let thanks = position(&identity, "Thank you!");
    assert!(
        asked < bot && bot < agent_line && agent_line < thanks,
        "{lines:#?}"
    );
    b.stop().await;
}

mod executor {
    use flexcord::deliver::twilio::{ChatTarget, TwilioExecutor};
    use flexcord_routing::{ActionKind, Event, MessageId, TwilioSid, UserId};
    use flexcord_testkit::twilio::{TwilioConfig, TwilioEmulator};

    use crate::support::deliver;
    use crate::twilio::{Twilio, action, attributes};

    fn status(twilio: &TwilioEmulator, ch: &str) -> serde_json::Value {
        serde_json::from_str(&twilio.chat_channel(ch).unwrap().attributes).unwrap()
    }

    #[tokio::test]
    #[allow(clippy::too_many_lines)] // one channel's lifecycle, read top to bottom
    async fn chat_channel_lifecycle_is_idempotent_and_keeps_flex_attributes() {
        let twilio = TwilioEmulator::start(TwilioConfig::default())
            .await
            .expect("emulator");
        let client = flexcord_twilio::Client::builder()
            .account(twilio.account_sid(), twilio.auth_token())
            .base_url(twilio.base_url())
            .build()
            .expect("client");
        let flex_flow = twilio.flex_flow_sid().parse().unwrap();
        // An active channel of an earlier conversation of the same user.
        let stale = client
            .flex()
            .channels()
            .create(&flex_flow, "discord:500", "alice", "old")
            .chat_unique_name("discord:400:old")
            .await
            .unwrap()
            .sid
            .to_string();
        let exec = Twilio(TwilioExecutor::chat(
            client,
            &url::Url::parse("https://bridge.example.com").unwrap(),
            ChatTarget {
                service: twilio.chat_service_sid().parse().unwrap(),
                flex_flow,
            },
        ));
        let create = action(
            1,
            ActionKind::CreateTwilioConversation {
                unique_name: "discord:400:7-100".into(),
                identity: "discord:500".into(),
                friendly_name: "Discord 500".into(),
                user_name: None,
                attributes: attributes(false),
                studio: true,
            },
        );
        let mut sids = Vec::new();
        for _ in 0..2 {
            match deliver(&exec, &create).await {
                Some(Event::TwilioConversationCreated { sid, .. }) => sids.push(sid),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sids[0], sids[1], "a retry finds the same channel");
        let ch = sids[0].as_str().to_owned();
        assert_ne!(ch, stale);
        assert_eq!(status(&twilio, &stale)["status"], "INACTIVE");
        assert_eq!(twilio.flex_channels().len(), 2);
        let attrs = status(&twilio, &ch);
        assert_eq!(attrs["status"], "ACTIVE", "Flex's own attributes kept");
        assert_eq!(attrs["flexcord"]["discord_user"], "500");
        assert_eq!(attrs["flexcord"]["handoff"], false);
        let hooks = twilio.chat_webhooks(&ch);
        assert_eq!(hooks.iter().filter(|h| h.kind == "webhook").count(), 1);
        assert_eq!(hooks.iter().filter(|h| h.kind == "studio").count(), 1);

        // A bot reply: no webhooks; a user message: webhooks (Studio sees it).
        let sid = TwilioSid::from(ch.as_str());
        for (seq, author, webhooks) in [(2, "flexcord-bot", false), (3, "discord:500", true)] {
            let post = action(
                seq,
                ActionKind::PostToTwilio {
                    sid: sid.clone(),
                    author: author.into(),
                    body: format!("from {author}"),
                    at: None,
                    discord_message: Some(MessageId(300)),
                    webhooks,
                    media: None,
                },
            );
            assert!(matches!(
                deliver(&exec, &post).await,
                Some(Event::Delivered {
                    upstream_id: Some(_),
                    ..
                })
            ));
        }
        let messages = twilio.chat_messages(&ch);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].from, "flexcord-bot");
        assert_eq!(messages[1].from, "discord:500");
        let fired: Vec<String> = twilio
            .events("onMessageSent")
            .iter()
            .filter_map(|d| d.param("MessageSid").map(str::to_owned))
            .collect();
        assert_eq!(
            fired,
            vec![messages[1].sid.clone()],
            "only the user's fired"
        );

        let update = action(
            4,
            ActionKind::UpdateTwilioAttributes {
                sid: sid.clone(),
                attributes: attributes(true),
            },
        );
        assert!(matches!(
            deliver(&exec, &update).await,
            Some(Event::Delivered { .. })
        ));
        let attrs = status(&twilio, &ch);
        assert_eq!(attrs["flexcord"]["handoff"], true);
        assert_eq!(attrs["flexcord"]["case"], "CASE-000001");
        assert_eq!(attrs["status"], "ACTIVE");

        let interaction = action(
            5,
            ActionKind::CreateInteraction {
                sid: sid.clone(),
                identity: "discord:500".into(),
                user_name: None,
                case: None,
            },
        );
        assert!(matches!(
            deliver(&exec, &interaction).await,
            Some(Event::DeliveryFailed {
                permanent: true,
                ..
            })
        ));
        assert!(twilio.interactions().is_empty());

        let close = action(
            6,
            ActionKind::CloseTwilio {
                sid: sid.clone(),
                interaction: None,
            },
        );
        assert!(matches!(
            deliver(&exec, &close).await,
            Some(Event::Delivered { .. })
        ));
        let attrs = status(&twilio, &ch);
        assert_eq!(attrs["status"], "INACTIVE");
        assert_eq!(attrs["flexcord"]["handoff"], true);

        let bad = action(
            7,
            ActionKind::CloseTwilio {
                sid: TwilioSid::from("nope"),
                interaction: None,
            },
        );
        assert!(matches!(
            deliver(&exec, &bad).await,
            Some(Event::DeliveryFailed {
                permanent: true,
                ..
            })
        ));
        let not_ours = action(8, ActionKind::OpenDm { user: UserId(1) });
        assert!(matches!(
            deliver(&exec, &not_ours).await,
            Some(Event::DeliveryFailed {
                permanent: true,
                ..
            })
        ));
    }
}

#[tokio::test]
async fn chat_mode_files_go_both_ways() {
    use flexcord_testkit::discord::Attachment;
    let b = start_chat().await;
    let alice = b.discord.user_id("alice").unwrap();
    let identity = format!("discord:{alice}");
    let note = b"order 1234, shipped late".to_vec();

    // A user's file after the first DM: a media message in the Flex chat channel.
    b.discord.inject_dm(alice, "I forgot my password").unwrap();
    let answer = b
        .discord
        .wait_for_dm_where(alice, |m| !m.embeds.is_empty(), WAIT)
        .await
        .expect("the bot answers through Studio");
    let ch = b.twilio.flex_channels()[0].sid.clone();
    b.discord
        .inject_dm_with_files(
            alice,
            "",
            &[Attachment::new("note.txt", "text/plain", note.clone())],
        )
        .unwrap();
    let media = b
        .twilio
        .wait_for(WAIT, |t| {
            t.chat_messages(&ch)
                .into_iter()
                .filter(|m| m.from == identity)
                .find_map(|m| m.media)
        })
        .await
        .expect("a media message from the user");
    assert_eq!(media.filename, "note.txt");
    let stored = b
        .twilio
        .media()
        .into_iter()
        .find(|m| m.sid == media.sid)
        .expect("uploaded to the chat service");
    assert_eq!(stored.service_sid, b.twilio.chat_service_sid());
    assert_eq!(stored.content.as_ref(), note.as_slice());
    // A file alone asks the bot nothing (Studio sends it with an empty body).
    b.until("the file's bot request", |t| t.bot_requests().len() == 2)
        .await;

    // An agent's file (Chat's onMediaMessageSent): an upload in the DM.
    b.discord
        .inject_button(alice, &custom_id(&answer, "fc:agent:"))
        .unwrap();
    let agent = b.twilio.agent("agent:zoe");
    agent.accept_next(WAIT).await.expect("a task for the agent");
    b.dm_containing(alice, "joined").await;
    let pdf = b"%PDF-1.7 label".to_vec();
    agent
        .send_media(&ch, "label.pdf", "application/pdf", pdf.clone(), None)
        .unwrap();
    let dm = b
        .discord
        .wait_for_dm_where(alice, |m| !m.attachments.is_empty(), WAIT)
        .await
        .expect("a DM with the agent's file");
    assert_eq!(dm.attachments[0]["filename"], "label.pdf");
    let id: u64 = dm.attachments[0]["id"].as_str().unwrap().parse().unwrap();
    let uploaded = b.discord.state(|s| s.attachment(id).cloned()).unwrap();
    assert_eq!(uploaded.data, pdf);
    // By now the bot would have answered the file long ago: it was not asked.
    let answers = b
        .twilio
        .chat_messages(&ch)
        .into_iter()
        .filter(|m| {
            m.from == "flexcord-bot" && m.body.as_deref().is_some_and(|t| t.contains("article"))
        })
        .count();
    assert_eq!(answers, 1, "{:?}", b.twilio.chat_messages(&ch));
    b.stop().await;
}
