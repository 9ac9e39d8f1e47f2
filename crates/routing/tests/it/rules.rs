//! The rules the reference design got wrong, one test each.

use flexcord_routing::{
    ActionKind, BotRoute, Button, Event, Note, Phase, RouterConfig, Texts, TwilioSid, UserId,
};

use crate::world::{World, dm, dm_texts, interaction};

fn studio() -> RouterConfig {
    RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    }
}

/// A studio-route conversation of user 1 whose Twilio side exists.
fn studio_world() -> (World, TwilioSid) {
    let mut w = World::new(studio());
    w.apply(dm(1, 101, "hello"));
    w.drain();
    let sid = w
        .conv_of(1)
        .and_then(|c| c.twilio.clone())
        .expect("created");
    (w, sid)
}

#[test]
fn dm_after_closed_conversation_starts_a_new_twilio_conversation() {
    let (mut w, sid) = studio_world();
    let first = w.conv_of(1).expect("open").id.clone();
    w.apply(Event::TwilioClosed { sid: sid.clone() });
    assert!(w.conv_of(1).is_none(), "closed conversations are not open");

    // The store finds no open conversation: a new one, with a new Twilio conversation.
    let step = w.apply(dm(1, 202, "one more thing"));
    let conv = step.state.expect("new conversation");
    assert_ne!(conv.id, first);
    let creates: Vec<_> = step
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::CreateTwilioConversation { unique_name, .. } => Some(unique_name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        creates.len(),
        1,
        "a new Twilio conversation, never the closed one"
    );
    assert!(!creates[0].contains(first.as_str()));
    assert!(
        step.actions.iter().all(|a| !matches!(&a.kind,
            ActionKind::PostToTwilio { sid: s, .. } if *s == sid)),
        "nothing is posted to the closed conversation"
    );

    // Even when the driver hands the closed state back, the router starts afresh.
    let closed = w.convs.get(&first).cloned().expect("kept");
    let step = w.router.handle(
        Some(closed),
        dm(1, 303, "again"),
        flexcord_routing::Timestamp(w.now),
    );
    assert_ne!(step.state.expect("new").id, first);
}

#[test]
fn agent_message_for_unknown_conversation_is_never_posted() {
    let mut w = World::new(RouterConfig::default());
    let unknown = TwilioSid::from("CH00000000000000000000000000000bad");
    let step = w.apply(w.agent_message(&unknown, "IM1", "agent@example.com", "hello?"));
    assert!(step.actions.is_empty());
    assert!(step.state.is_none());
    assert_eq!(
        step.notes,
        vec![Note::Dropped {
            reason: "unknown twilio conversation".into()
        }]
    );
}

#[test]
fn agent_message_for_closed_conversation_is_never_posted() {
    let (mut w, sid) = studio_world();
    w.apply(Event::TwilioClosed { sid: sid.clone() });
    w.drain();
    let step = w.apply(w.agent_message(&sid, "IM2", "agent@example.com", "late reply"));
    assert!(step.actions.is_empty(), "{:?}", step.actions);
    assert!(matches!(&step.notes[..], [Note::Dropped { .. }]));
}

#[test]
fn same_twilio_event_twice_is_applied_once() {
    let (mut w, sid) = studio_world();
    let event = w.agent_message(&sid, "IM3", "agent@example.com", "hi there");
    let first = w.apply(event.clone());
    assert_eq!(dm_texts(&first.actions), vec!["hi there"]);
    let second = w.apply(event);
    assert!(second.actions.is_empty());
    assert_eq!(second.notes, vec![Note::Duplicate]);
    assert_eq!(
        w.apply(w.agent_message(&sid, "IM4", "agent@example.com", "next"))
            .actions
            .len(),
        1
    );
}

#[test]
fn user_is_told_transfer_then_case_number_then_agent_joined() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "my parcel is lost"));
    w.drain();
    let conv_id = w.conv_of(1).expect("open").id.clone();
    let handoff = w.apply(Event::Button {
        user: UserId(1),
        user_name: None,
        interaction: interaction(5),
        conversation: conv_id,
        button: Button::TalkToAgent,
    });
    let texts = Texts::default();
    // "transferring" goes out in the same step, before anything else can happen.
    assert_eq!(dm_texts(&handoff.actions), vec![texts.transferring.clone()]);

    // Twilio is faster than the case store: the agent joins before the case exists.
    let create = w.take("create_twilio_conversation").expect("create");
    let created = w.success(&create, false);
    w.apply(created);
    let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
    let joined = w.apply(Event::ParticipantJoined {
        sid,
        identity: "alice@example.com".into(),
    });
    assert!(
        dm_texts(&joined.actions).is_empty(),
        "joined waits for the case number"
    );

    let open_case = w.take("open_case").expect("case");
    let opened = w.success(&open_case, false);
    let step = w.apply(opened);
    assert!(
        !dm_texts(&step.actions)
            .iter()
            .any(|t| t.contains("has joined")),
        "joined waits for the agent's name too"
    );
    // Twilio names the agent: customers read that name, never the identity.
    let lookup = w.take("lookup_agent_name").expect("the name is looked up");
    assert!(
        matches!(&lookup.kind, ActionKind::LookupAgentName { identity } if identity == "alice@example.com")
    );
    let step = w.apply(lookup.completed(Some("Alice Liddell".into())));
    let all: Vec<String> = dm_texts(&w.log);
    let pos = |needle: &str| all.iter().position(|t| t.contains(needle)).expect(needle);
    assert!(pos("transferring") < pos("case number"));
    assert!(pos("case number") < pos("Alice Liddell has joined the conversation."));
    assert!(!all.iter().any(|t| t.contains('@')), "{all:?}");
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::UpdateCase { update: flexcord_routing::CaseUpdate::Open { assignee, assignee_name }, .. }
            if assignee == "alice@example.com" && assignee_name.as_deref() == Some("Alice Liddell"))));
    // The name is kept for the conversation: the agent's lines carry it to the case.
    let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
    let message = w.agent_message(&sid, "IM1", "alice@example.com", "Hello!");
    let step = w.apply(message);
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::AnnotateCase { entry, .. } if entry.name.as_deref() == Some("Alice Liddell"))));
    assert!(
        !step
            .actions
            .iter()
            .any(|a| a.kind.name() == "lookup_agent_name")
    );
}

/// Joins whose name lookup has no name, fails, or does not come back in time, and an agent who
/// writes before it comes: the notice uses the identity's local part, never an e-mail address.
#[test]
fn an_agent_without_a_twilio_name_is_named_by_the_local_part_of_their_identity() {
    for outcome in [
        "no name",
        "failed",
        "late",
        "message first",
        "e-mail as name",
    ] {
        let (mut w, sid) = studio_world();
        w.drain();
        // A case exists: hand off and open it.
        let step = w.apply(Event::ParticipantJoined {
            sid: sid.clone(),
            identity: "agent.jane@brand.example".into(),
        });
        w.drain_except("lookup_agent_name");
        let joined = |w: &World| {
            dm_texts(&w.log)
                .into_iter()
                .filter(|t| t.contains("has joined"))
                .collect::<Vec<_>>()
        };
        assert!(joined(&w).is_empty(), "{outcome}: waits for the name");
        assert!(step.wake_at.is_some());
        let lookup = w.take("lookup_agent_name").expect("lookup");
        match outcome {
            "no name" => {
                w.apply(lookup.completed(None));
            }
            "failed" => {
                w.apply(lookup.failed(true, "Twilio answered 404"));
            }
            "late" => {
                w.now += 10_001;
                let conversation = w.conv_of(1).expect("conv").id.clone();
                w.apply(Event::Tick { conversation });
                // The name arriving afterwards is kept but says nothing more.
                w.apply(lookup.completed(Some("Jane Doe".into())));
            }
            "message first" => {
                let message = w.agent_message(&sid, "IM9", "agent.jane@brand.example", "Hi there");
                let step = w.apply(message);
                let texts = dm_texts(&step.actions);
                assert_eq!(
                    texts[0], "agent.jane has joined the conversation.",
                    "{texts:?}"
                );
                assert_eq!(texts[1], "Hi there");
            }
            _ => {
                w.apply(lookup.completed(Some("jane.doe@brand.example".into())));
            }
        }
        let expected = if outcome == "e-mail as name" {
            "jane.doe has joined the conversation."
        } else {
            "agent.jane has joined the conversation."
        };
        assert_eq!(joined(&w), [expected], "{outcome}");
    }
}

#[test]
fn contact_center_messages_are_recognised_by_author_not_source() {
    let (mut w, sid) = studio_world();
    // Studio's "send message" widget, Flex agents, anything not us: forwarded.
    for (i, author) in ["system", "studio-flow", "agent@example.com"]
        .iter()
        .enumerate()
    {
        let step = w.apply(w.agent_message(&sid, &format!("IMa{i}"), author, "from the center"));
        assert_eq!(
            dm_texts(&step.actions),
            vec!["from the center"],
            "author {author}"
        );
    }
    // The user's own message echoed by the webhook, and the bot's own post: never forwarded.
    for (i, author) in ["discord:1", "flexcord-bot"].iter().enumerate() {
        let step = w.apply(w.agent_message(&sid, &format!("IMb{i}"), author, "echo"));
        assert!(step.actions.is_empty(), "author {author}");
    }
}

#[test]
fn permanently_failed_dm_ends_visibly_and_never_loops() {
    let (mut w, sid) = studio_world();
    let step = w.apply(w.agent_message(&sid, "IM5", "agent@example.com", "are you there?"));
    let send = step.actions[0].clone();
    w.outbox.clear();
    let failed = w.apply(send.failed(true, "Discord 50007: cannot send messages to this user"));
    // The agent sees it, once, in the conversation, without webhooks (no echo, no loop).
    let notices: Vec<_> = failed
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::PostToTwilio {
                body,
                webhooks,
                author,
                ..
            } => Some((body.clone(), *webhooks, author.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].0.contains("50007"));
    assert!(!notices[0].1);
    assert_eq!(notices[0].2, "flexcord-bot");
    assert!(
        dm_texts(&failed.actions).is_empty(),
        "no DM about a failed DM"
    );

    // The notice failing as well ends there.
    let notice = failed.actions[0].clone();
    let after = w.apply(notice.failed(true, "20404"));
    assert!(after.actions.is_empty());
    // Further agent messages are not sent into the void again and again.
    let more = w.apply(w.agent_message(&sid, "IM6", "agent@example.com", "hello?"));
    assert!(dm_texts(&more.actions).is_empty());
    // Until the user writes again.
    w.outbox.clear();
    w.apply(dm(1, 104, "sorry, I'm back"));
    let again = w.apply(w.agent_message(&sid, "IM7", "agent@example.com", "welcome back"));
    assert_eq!(dm_texts(&again.actions), vec!["welcome back"]);
}

#[test]
fn failed_twilio_conversation_tells_the_user_and_closes() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "help"));
    w.drain();
    let id = w.conv_of(1).expect("open").id.clone();
    w.apply(Event::Button {
        user: UserId(1),
        user_name: None,
        interaction: interaction(6),
        conversation: id.clone(),
        button: Button::TalkToAgent,
    });
    let create = w.take("create_twilio_conversation").expect("create");
    let step = w.apply(create.failed(false, "out of retries: 503"));
    assert_eq!(
        dm_texts(&step.actions)[0],
        Texts::default().agents_unavailable
    );
    assert_eq!(step.state.map(|c| c.phase), Some(Phase::Closed));
}

#[test]
fn failed_bot_offers_an_agent_once() {
    let mut w = World::new(RouterConfig::default());
    let step = w.apply(dm(1, 101, "hi"));
    let ask = step.actions[0].clone();
    w.outbox.clear();
    let failed = w.apply(ask.failed(false, "kb down"));
    assert!(failed.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::SendDm { buttons, .. } if buttons == &[Button::TalkToAgent])));
    assert_eq!(failed.actions.len(), 1);
}

#[test]
fn a_button_never_acts_on_another_users_conversation() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "hi"));
    w.drain();
    let id = w.conv_of(1).expect("open").id.clone();
    let step = w.apply(Event::Button {
        user: UserId(2),
        user_name: None,
        interaction: interaction(5),
        conversation: id,
        button: Button::TalkToAgent,
    });
    assert!(step.actions.is_empty());
    assert_eq!(step.state.map(|c| c.phase), Some(Phase::Bot));
}

/// The hand-off on a studio route brings Flex in at once: Conversations creates the interaction
/// after the `handoff` flag is set; Chat posts the transfer notice as the bot with webhooks on,
/// so the flow runs and sends the channel to Flex. Neither waits for another user message.
#[test]
fn studio_handoff_reaches_flex_without_another_message() {
    for mode in [
        flexcord_routing::TwilioMode::Conversations,
        flexcord_routing::TwilioMode::Chat,
    ] {
        let mut w = World::new(RouterConfig { mode, ..studio() });
        w.apply(dm(1, 101, "hello"));
        w.drain();
        let conv = w.conv_of(1).expect("open").clone();
        let sid = conv.twilio.clone().expect("created");
        let step = w.apply(Event::Button {
            user: UserId(1),
            user_name: None,
            interaction: interaction(5),
            conversation: conv.id.clone(),
            button: Button::TalkToAgent,
        });
        let update = step
            .actions
            .iter()
            .position(|a| matches!(&a.kind,
                ActionKind::UpdateTwilioAttributes { sid: s, attributes } if *s == sid && attributes.handoff))
            .expect("handoff flag set");
        let interactions: Vec<usize> = step
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(&a.kind, ActionKind::CreateInteraction { sid: s, .. } if *s == sid))
            .map(|(i, _)| i)
            .collect();
        let triggers: Vec<usize> = step
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                matches!(&a.kind,
                ActionKind::PostToTwilio { sid: s, author, webhooks: true, .. }
                    if *s == sid && *author == RouterConfig::default().bot_identity)
            })
            .map(|(i, _)| i)
            .collect();
        if mode == flexcord_routing::TwilioMode::Chat {
            assert!(interactions.is_empty(), "no Interactions API for chat");
            assert_eq!(triggers.len(), 1, "one transfer notice runs the flow");
            assert!(triggers[0] > update, "the flag is set before the flow runs");
        } else {
            assert!(triggers.is_empty());
            assert_eq!(interactions.len(), 1, "one interaction, at once");
            assert!(interactions[0] > update, "the flag is set first");
        }
        // A second request does not bring Flex in twice.
        let again = w.apply(Event::Button {
            user: UserId(1),
            user_name: None,
            interaction: interaction(6),
            conversation: conv.id.clone(),
            button: Button::TalkToAgent,
        });
        assert!(again.actions.iter().all(|a| !matches!(
            &a.kind,
            ActionKind::CreateInteraction { .. } | ActionKind::PostToTwilio { webhooks: true, .. }
        )));
    }
}

#[test]
fn a_users_files_go_to_twilio_one_message_each_after_the_text() {
    use flexcord_routing::{Attachment, ChannelId, MessageId};
    let (mut w, sid) = studio_world();
    let shot = Attachment {
        content_type: Some("image/png".into()),
        size: Some(42),
        ..Attachment::link("shot.png", "https://cdn.example/shot.png")
    };
    let log = Attachment::link("log.txt", "https://cdn.example/log.txt");
    let step = w.apply(Event::DirectMessage {
        user: UserId(1),
        channel: ChannelId(1001),
        message: MessageId(303),
        user_name: None,
        text: "see these".into(),
        attachments: vec![shot.clone(), log.clone()],
    });
    let posts: Vec<_> = step
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::PostToTwilio {
                sid: s,
                body,
                media,
                discord_message,
                ..
            } if *s == sid => Some((body.clone(), media.as_deref().cloned(), *discord_message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        posts,
        vec![
            ("see these".to_owned(), None, Some(MessageId(303))),
            (
                "shot.png: https://cdn.example/shot.png".to_owned(),
                Some(shot),
                Some(MessageId(303))
            ),
            (
                "log.txt: https://cdn.example/log.txt".to_owned(),
                Some(log),
                Some(MessageId(303))
            ),
        ]
    );
    // The transcript keeps the names and links.
    let conv = w.conv_of(1).expect("open");
    let last = conv.transcript.last().expect("line");
    assert!(last.text.contains("shot.png: https://cdn.example/shot.png"));
}

#[test]
fn an_agents_file_becomes_a_dm_upload_after_the_text() {
    use flexcord_routing::{Attachment, TwilioMessageSid};
    let (mut w, sid) = studio_world();
    w.apply(Event::ParticipantJoined {
        sid: sid.clone(),
        identity: "agent:zoe".into(),
    });
    w.drain();
    let label = Attachment {
        filename: "label.pdf".into(),
        content_type: Some("application/pdf".into()),
        size: Some(1234),
        media_sid: Some("ME0123456789abcdef0123456789abcdef".into()),
        media_service: Some("IS0123456789abcdef0123456789abcdef".into()),
        ..Attachment::default()
    };
    let step = w.apply(Event::TwilioMessage {
        sid,
        message: TwilioMessageSid::from("IM1"),
        author: "agent:zoe".into(),
        body: "your label".into(),
        attachments: vec![label.clone()],
        index: None,
    });
    let dms: Vec<_> = step
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::SendDm { text, files, .. } => Some((text.clone(), files.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        dms,
        vec![
            ("your label".to_owned(), vec![]),
            (String::new(), vec![label])
        ]
    );
    let annotated = step.actions.iter().any(|a| {
        matches!(&a.kind, ActionKind::AnnotateCase { entry, .. }
            if entry.text == "your label\nlabel.pdf")
    });
    assert!(annotated, "{:?}", step.actions);
}

#[test]
fn actions_stored_before_files_existed_still_read_back() {
    let old = r#"{"id":"1-1:3","kind":{"action":"send_dm","channel":5,"text":"hi","buttons":[],"suggestions":[]}}"#;
    let action: flexcord_routing::Action = serde_json::from_str(old).expect("old send_dm");
    assert!(matches!(&action.kind, ActionKind::SendDm { files, .. } if files.is_empty()));
    let back = serde_json::to_string(&action).expect("json");
    assert!(!back.contains("files"), "{back}");
    let post = r#"{"id":"1-1:4","kind":{"action":"post_to_twilio","sid":"CH1","author":"discord:1","body":"x","at":null,"discord_message":null,"webhooks":true}}"#;
    let action: flexcord_routing::Action = serde_json::from_str(post).expect("old post");
    assert!(matches!(
        &action.kind,
        ActionKind::PostToTwilio { media: None, .. }
    ));
}

#[test]
fn a_file_alone_asks_the_bot_nothing() {
    use flexcord_routing::TwilioMessageSid;
    let (mut w, sid) = studio_world();
    let step = w.apply(Event::BotAsked {
        sid,
        message: TwilioMessageSid::from("IM9"),
        author: "discord:1".into(),
        body: "  ".into(),
    });
    assert!(step.actions.is_empty(), "{:?}", step.actions);
    assert!(
        step.notes
            .iter()
            .any(|n| matches!(n, Note::Dropped { reason } if reason.contains("empty")))
    );
}
