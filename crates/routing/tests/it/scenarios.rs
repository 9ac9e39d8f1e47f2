//! Table-like scenarios with a fake clock: both routes, timers, the case mapping.

use flexcord_routing::{
    ActionKind, BotRoute, Button, CaseNumber, CaseUpdate, ChannelId, Command, Event, Phase,
    ReportChannels, ResolvedBy, RouterConfig, Speaker, SupportHours, Texts, Timestamp, TwilioMode,
    UserId,
};

use crate::world::{T0, World, dm, dm_texts, interaction};

const MIN: i64 = 60_000;

fn names(actions: &[flexcord_routing::Action]) -> Vec<&'static str> {
    actions.iter().map(|a| a.kind.name()).collect()
}

fn hand_off(w: &mut World, user: u64) {
    let id = w.conv_of(user).expect("open").id.clone();
    w.apply(Event::Button {
        user: UserId(user),
        user_name: None,
        interaction: interaction(77),
        conversation: id,
        button: Button::TalkToAgent,
    });
}

#[test]
fn direct_route_bot_only_never_touches_twilio() {
    let mut w = World::new(RouterConfig::default());
    let step = w.apply(dm(1, 101, "where is my order"));
    assert_eq!(names(&step.actions), ["ask_bot"]);
    w.drain();
    w.apply(dm(1, 102, "thanks"));
    w.drain();
    assert!(w.log.iter().all(|a| !matches!(
        a.kind,
        ActionKind::CreateTwilioConversation { .. } | ActionKind::PostToTwilio { .. }
    )));
    // Bot replies carry the agent and solved buttons.
    assert!(w.log.iter().any(|a| matches!(&a.kind,
        ActionKind::SendDm { buttons, .. } if buttons == &[Button::TalkToAgent, Button::Solved])));
}

#[test]
fn direct_route_backfills_transcript_then_creates_interaction() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "my parcel"));
    w.drain();
    w.now += MIN;
    hand_off(&mut w, 1);
    // Written while the Twilio conversation is being created: carried by the back-fill.
    w.apply(dm(1, 102, "it was blue"));
    let create = w.take("create_twilio_conversation").expect("create");
    let ActionKind::CreateTwilioConversation {
        studio,
        attributes,
        unique_name,
        ..
    } = &create.kind
    else {
        unreachable!()
    };
    assert!(!studio);
    assert!(attributes.handoff);
    assert!(unique_name.starts_with("discord:1001:"));
    let created = w.success(&create, false);
    let step = w.apply(created);
    let posts: Vec<_> = step
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::PostToTwilio {
                author,
                body,
                at,
                webhooks,
                ..
            } => Some((author.as_str(), body.as_str(), *at, *webhooks)),
            _ => None,
        })
        .collect();
    assert_eq!(
        posts,
        vec![
            ("discord:1", "my parcel", Some(Timestamp(T0)), false),
            ("flexcord-bot", "bot answer 1", Some(Timestamp(T0)), false),
            ("discord:1", "it was blue", Some(Timestamp(T0 + MIN)), false),
        ]
    );
    assert_eq!(
        step.actions.last().map(|a| a.kind.name()),
        Some("create_interaction")
    );
    // Afterwards user messages go straight to Twilio, with webhooks.
    let step = w.apply(dm(1, 103, "hello?"));
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::PostToTwilio { body, webhooks: true, .. } if body == "hello?")));
}

#[test]
fn studio_route_creates_at_first_dm_and_asks_bot_through_twilio() {
    for mode in [TwilioMode::Conversations, TwilioMode::Chat] {
        let config = RouterConfig {
            mode,
            bot_route: if mode == TwilioMode::Chat {
                BotRoute::Direct // chat forces studio
            } else {
                BotRoute::Studio
            },
            ..RouterConfig::default()
        };
        let mut w = World::new(config);
        let step = w.apply(dm(1, 101, "hi"));
        assert_eq!(
            names(&step.actions),
            ["create_twilio_conversation"],
            "{mode:?}"
        );
        w.apply(dm(1, 102, "anyone?"));
        let create = w.take("create_twilio_conversation").expect("create");
        let created = w.success(&create, false);
        let step = w.apply(created);
        let bodies: Vec<_> = step
            .actions
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::PostToTwilio {
                    body,
                    author,
                    webhooks: true,
                    ..
                } => Some((author.clone(), body.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            bodies,
            vec![
                ("discord:1".into(), "hi".into()),
                ("discord:1".into(), "anyone?".into())
            ]
        );
        let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
        w.outbox.clear();
        let step = w.apply(Event::BotAsked {
            sid,
            message: "IMq".into(),
            author: "discord:1".into(),
            body: "hi".into(),
        });
        assert_eq!(names(&step.actions), ["ask_bot"]);
        let ask = step.actions[0].clone();
        let reply = w.success(&ask, true);
        let step = w.apply(reply);
        // The bot's answer reaches the user and is written to Twilio as the bot, no webhooks.
        assert!(step.actions.iter().any(|a| matches!(&a.kind,
            ActionKind::PostToTwilio { author, webhooks: false, .. } if author == "flexcord-bot")));
        assert!(step.actions.iter().any(|a| matches!(&a.kind,
            ActionKind::UpdateTwilioAttributes { attributes, .. } if attributes.handoff)));
        assert_eq!(step.state.map(|c| c.phase), Some(Phase::WaitingAgent));
    }
}

#[test]
fn helpme_from_a_guild_opens_the_dm_with_the_virtual_agent() {
    let mut w = World::new(RouterConfig::default());
    let step = w.apply(Event::Command {
        user: UserId(3),
        user_name: None,
        interaction: interaction(9),
        command: Command::HelpMe,
    });
    // The DM with the virtual agent, not a hand-off: no case, no Twilio, no Flex. The
    // interaction is answered once the greeting reached the DM.
    assert_eq!(names(&step.actions), ["open_dm"]);
    let open = w.take("open_dm").expect("open dm");
    let opened = w.success(&open, false);
    let step = w.apply(opened);
    assert_eq!(dm_texts(&step.actions), vec![Texts::default().greeting]);
    let offers_agent = step.actions.iter().any(|a| {
        matches!(&a.kind, ActionKind::SendDm { buttons, .. } if buttons.contains(&Button::TalkToAgent))
    });
    assert!(
        offers_agent,
        "the greeting offers a live agent: {:?}",
        step.actions
    );
    let greeting = w.take("send_dm").expect("greeting");
    let sent = w.success(&greeting, false);
    let step = w.apply(sent);
    assert!(matches!(&step.actions[..], [a] if matches!(&a.kind,
        ActionKind::Respond { interaction: i, text } if i.id.0 == 9 && *text == Texts::default().help_ack)));
    let conv = w.conv_of(3).expect("open conversation");
    assert!(conv.handoff_at.is_none(), "no hand-off yet");
    assert!(conv.help.is_none(), "answered once");
}

#[test]
fn helpme_with_dms_closed_says_how_to_open_them() {
    for (at_open, permanent, expected) in [
        (true, true, Texts::default().dms_closed),
        (false, true, Texts::default().dms_closed),
        (true, false, Texts::default().dm_failed),
    ] {
        let mut w = World::new(RouterConfig::default());
        w.apply(Event::Command {
            user: UserId(3),
            user_name: None,
            interaction: interaction(9),
            command: Command::HelpMe,
        });
        let open = w.take("open_dm").expect("open dm");
        let refused = if at_open {
            open
        } else {
            // The channel opens, the first message is refused (50007 comes at either step).
            let opened = w.success(&open, false);
            w.apply(opened);
            w.take("send_dm").expect("greeting")
        };
        let step = w.apply(refused.failed(permanent, "Discord answered 403: 50007"));
        let answers: Vec<&str> = step
            .actions
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::Respond { interaction, text } if interaction.id.0 == 9 => {
                    Some(text.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(answers, [expected.as_str()], "{at_open} {permanent}");
        assert!(dm_texts(&step.actions).is_empty());
        // Nobody else is in a bot-only conversation: it ends, and the next /helpme starts anew.
        assert!(w.conv_of(3).is_none());
        let step = w.apply(Event::Command {
            user: UserId(3),
            user_name: None,
            interaction: interaction(10),
            command: Command::HelpMe,
        });
        assert_eq!(names(&step.actions), ["open_dm"]);
    }
}

#[test]
fn wait_notice_then_idle_close() {
    let config = RouterConfig::default();
    let idle = config.idle_close_ms;
    let mut w = World::new(config);
    w.apply(dm(1, 101, "hi"));
    w.drain();
    hand_off(&mut w, 1);
    w.drain();
    let conv = w.conv_of(1).expect("open").clone();
    assert_eq!(conv.wait_notice_due, Some(Timestamp(T0 + 5 * MIN)));
    w.now = T0 + 5 * MIN;
    let step = w.apply(Event::Tick {
        conversation: conv.id.clone(),
    });
    assert_eq!(
        dm_texts(&step.actions),
        vec![Texts::default().still_looking]
    );
    assert_eq!(step.wake_at, Some(Timestamp(T0 + idle)));
    // Once only.
    let step = w.apply(Event::Tick {
        conversation: conv.id.clone(),
    });
    assert!(step.actions.is_empty());
    w.now = T0 + idle;
    let step = w.apply(Event::Tick {
        conversation: conv.id.clone(),
    });
    assert_eq!(step.state.as_ref().map(|c| c.phase), Some(Phase::Closed));
    assert!(step.actions.iter().any(|a| matches!(
        &a.kind,
        ActionKind::UpdateCase {
            update: CaseUpdate::Resolved {
                by: ResolvedBy::Idle
            },
            ..
        }
    )));
    assert!(names(&step.actions).contains(&"close_twilio"));
    assert_eq!(step.wake_at, None);
}

#[test]
fn out_of_hours_handoff_says_when_agents_are_back() {
    let config = RouterConfig {
        hours: SupportHours::parse("Mon-Fri 12:00-18:00").expect("hours"),
        ..RouterConfig::default()
    };
    let mut w = World::new(config);
    w.apply(dm(1, 101, "hi"));
    w.drain();
    hand_off(&mut w, 1);
    let texts = dm_texts(&w.log);
    assert!(texts.iter().any(|t| t.contains("Mon 12:00")), "{texts:?}");
    // The wait notice counts from the opening, not from now (10:00).
    let conv = w.conv_of(1).expect("open");
    assert_eq!(
        conv.wait_notice_due,
        Some(Timestamp(T0 + 2 * 60 * MIN + 5 * MIN))
    );
    // The case is opened anyway (it stays `new`).
    assert!(w.log.iter().any(|a| a.kind.name() == "open_case"));
}

#[test]
fn case_mapping_follows_the_conversation() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "printer on fire"));
    w.drain();
    hand_off(&mut w, 1);
    w.drain();
    let conv = w.conv_of(1).expect("open").clone();
    let case = conv.case.clone().expect("case");
    let sid = conv.twilio.clone().expect("sid");
    // The case opened with the subject and the transcript so far.
    assert!(w.log.iter().any(|a| matches!(&a.kind,
        ActionKind::OpenCase { subject, transcript, .. }
            if subject == "printer on fire" && transcript.len() == 2)));
    w.apply(Event::ParticipantJoined {
        sid: sid.clone(),
        identity: "bob".into(),
    });
    let step = w.apply(w.agent_message(&sid, "IM1", "bob", "on it"));
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::AnnotateCase { number, entry }
            if *number == case && entry.speaker == Speaker::Agent("bob".into()))));
    let step = w.apply(dm(1, 102, "thanks"));
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::AnnotateCase { entry, .. } if entry.speaker == Speaker::User)));
    let step = w.apply(Event::TwilioClosed { sid });
    assert!(step.actions.iter().any(|a| matches!(
        &a.kind,
        ActionKind::UpdateCase {
            update: CaseUpdate::Resolved {
                by: ResolvedBy::Agent
            },
            ..
        }
    )));
    // Rating buttons under the closing message, then a rating on the case.
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::SendDm { buttons, .. } if buttons.len() == 5)));
    let step = w.apply(Event::Button {
        user: UserId(1),
        user_name: None,
        interaction: interaction(81),
        conversation: conv.id.clone(),
        button: Button::Rate(4),
    });
    assert!(step.actions.iter().any(|a| matches!(
        &a.kind,
        ActionKind::UpdateCase {
            update: CaseUpdate::Rating { stars: 4 },
            ..
        }
    )));
    // Rated once.
    let step = w.apply(Event::Button {
        user: UserId(1),
        user_name: None,
        interaction: interaction(82),
        conversation: conv.id,
        button: Button::Rate(1),
    });
    assert!(!step.actions.iter().any(|a| a.kind.name() == "update_case"));
}

#[test]
fn case_close_command_ends_the_live_conversation_like_the_agent_close() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "hi"));
    w.drain();
    hand_off(&mut w, 1);
    w.drain();
    let conv = w.conv_of(1).expect("open").clone();
    let case = conv.case.clone().expect("case");
    let flex = conv
        .flex
        .clone()
        .expect("the Flex interaction is remembered");
    assert!(flex.interaction.starts_with("KD") && flex.channel.starts_with("UO"));
    let step = w.apply(Event::Command {
        user: UserId(1),
        user_name: None,
        interaction: interaction(90),
        command: Command::CaseClose {
            number: case.clone(),
        },
    });
    assert!(step.actions.iter().any(|a| matches!(
        &a.kind,
        ActionKind::UpdateCase {
            update: CaseUpdate::Resolved {
                by: ResolvedBy::Requester
            },
            requester: Some(UserId(1)),
            ..
        }
    )));
    // The Flex interaction's channel is closed (the agent's task ends), the user is told and
    // asked for a rating, and the interaction is answered.
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::CloseTwilio { interaction: Some(i), .. } if *i == flex)));
    let closing = step
        .actions
        .iter()
        .find_map(|a| match &a.kind {
            ActionKind::SendDm { text, buttons, .. } => Some((text.clone(), buttons.clone())),
            _ => None,
        })
        .expect("a DM");
    assert_eq!(
        closing.0,
        Texts::default()
            .closed_by_requester
            .replace("{case}", case.as_str())
    );
    assert_eq!(closing.1, (1..=5).map(Button::Rate).collect::<Vec<_>>());
    assert!(names(&step.actions).contains(&"respond"));
    assert!(w.conv_of(1).is_none());
    // The agent's join or close arriving later changes nothing.
    let sid = conv.twilio.clone().expect("sid");
    let step = w.apply(Event::ParticipantJoined {
        sid: sid.clone(),
        identity: "agent:zoe".into(),
    });
    assert!(step.actions.is_empty());
    let step = w.apply(Event::TwilioClosed { sid });
    assert!(step.actions.is_empty());
    // Another case number: one composite action on behalf of the requester.
    let step = w.apply(Event::Command {
        user: UserId(1),
        user_name: None,
        interaction: interaction(91),
        command: Command::CaseClose {
            number: CaseNumber::from("CASE-000999"),
        },
    });
    assert_eq!(names(&step.actions), ["close_case"]);
    assert!(step.actions[0].id.as_str().starts_with("i91/"));
}

#[test]
fn closing_while_flex_is_brought_in_ends_the_task_it_makes() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "hi"));
    w.drain();
    hand_off(&mut w, 1);
    // Deliver everything but the Flex interaction, then the user closes.
    let mut interaction_action = None;
    while let Some(action) = (!w.outbox.is_empty()).then(|| w.outbox.remove(0)) {
        if action.kind.name() == "create_interaction" {
            interaction_action = Some(action);
            continue;
        }
        let done = w.success(&action, false);
        w.apply(done);
    }
    let create = interaction_action.expect("the hand-off creates a Flex interaction");
    let case = w.conv_of(1).and_then(|c| c.case.clone()).expect("case");
    let step = w.apply(Event::Command {
        user: UserId(1),
        user_name: None,
        interaction: interaction(92),
        command: Command::CaseClose { number: case },
    });
    assert!(step.actions.iter().any(|a| matches!(
        &a.kind,
        ActionKind::CloseTwilio {
            interaction: None,
            ..
        }
    )));
    let created = w.success(&create, false);
    let step = w.apply(created);
    assert!(
        step.actions.iter().any(|a| matches!(
            &a.kind,
            ActionKind::CloseTwilio {
                interaction: Some(_),
                ..
            }
        )),
        "{:?}",
        step.actions
    );
}

#[test]
fn reports_and_status_need_no_conversation() {
    let mut w = World::new(RouterConfig {
        reports: ReportChannels {
            bug: Some(ChannelId(700)),
            feature: None,
        },
        ..RouterConfig::default()
    });
    let step = w.apply(Event::Command {
        user: UserId(2),
        user_name: None,
        interaction: interaction(50),
        command: Command::Bug {
            title: "crash".into(),
            steps: "click".into(),
            expected: "no crash".into(),
            actual: "crash".into(),
        },
    });
    assert_eq!(names(&step.actions), ["file_report"]);
    assert!(matches!(&step.actions[0].kind,
        ActionKind::FileReport { announce: Some(ChannelId(700)), interaction, .. } if interaction.id.0 == 50));
    assert!(step.state.is_none());
    let step = w.apply(Event::Command {
        user: UserId(2),
        user_name: None,
        interaction: interaction(52),
        command: Command::NewFeature {
            title: "dark mode".into(),
            description: "please".into(),
        },
    });
    assert!(matches!(
        &step.actions[0].kind,
        ActionKind::FileReport { announce: None, .. }
    ));
    let step = w.apply(Event::Command {
        user: UserId(2),
        user_name: None,
        interaction: interaction(51),
        command: Command::CaseStatus { number: None },
    });
    assert_eq!(names(&step.actions), ["case_status"]);
    // Their results need nothing more and are not reported as dropped.
    let done = step.actions[0].completed(None);
    let step = w.apply(done);
    assert!(step.actions.is_empty() && step.notes.is_empty() && step.state.is_none());
}

#[test]
fn long_agent_message_is_split_and_neutralised() {
    let mut w = World::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    w.apply(dm(1, 101, "hi"));
    w.drain();
    let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
    let body = format!("@everyone {}", "lorem ipsum ".repeat(300));
    let step = w.apply(w.agent_message(&sid, "IM9", "agent", &body));
    let texts = dm_texts(&step.actions);
    assert_eq!(texts.len(), 2);
    assert!(texts.iter().all(|t| t.chars().count() <= 2000));
    assert!(texts[0].starts_with("@\u{200b}everyone"));
    // An edit to a short text edits the first Discord message and deletes the second.
    w.outbox.clear();
    for (send, id) in step
        .actions
        .iter()
        .filter(|a| a.kind.name() == "send_dm")
        .zip(["555", "556"])
    {
        w.apply(send.completed(Some(id.into())));
    }
    let step = w.apply(Event::TwilioMessageUpdated {
        sid,
        message: "IM9".into(),
        author: "agent".into(),
        body: "fixed".into(),
    });
    assert!(matches!(&step.actions[..], [a, b] if matches!(&a.kind,
        ActionKind::EditDm { message, text, .. } if message.0 == 555 && text == "fixed")
        && matches!(&b.kind, ActionKind::DeleteDm { message, .. } if message.0 == 556)));
}

#[test]
fn state_round_trips_as_json() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "hi"));
    w.drain();
    hand_off(&mut w, 1);
    let conv = w.conv_of(1).expect("open").clone();
    let json = serde_json::to_string(&conv).expect("serialises");
    assert_eq!(
        serde_json::from_str::<flexcord_routing::Conversation>(&json).expect("parses"),
        conv
    );
    for action in &w.log {
        let json = serde_json::to_string(action).expect("serialises");
        assert_eq!(
            &serde_json::from_str::<flexcord_routing::Action>(&json).expect("parses"),
            action
        );
    }
}

#[test]
fn bot_only_chat_closes_quietly_when_idle() {
    let config = RouterConfig::default();
    let idle = config.idle_close_ms;
    let mut w = World::new(config);
    w.apply(dm(1, 101, "hi"));
    w.drain();
    let id = w.conv_of(1).expect("open").id.clone();
    w.now = T0 + idle;
    let step = w.apply(Event::Tick { conversation: id });
    assert_eq!(step.state.map(|c| c.phase), Some(Phase::Closed));
    assert!(step.actions.is_empty(), "{:?}", step.actions);
}

#[test]
fn what_the_user_is_offered_follows_the_bots_confidence() {
    use flexcord_routing::{BotReply, Confidence};
    for (confidence, expected) in [
        (Confidence::Sure, vec![Button::TalkToAgent, Button::Solved]),
        (
            Confidence::Unsure,
            vec![Button::TalkToAgent, Button::Solved],
        ),
        (Confidence::Unknown, vec![Button::TalkToAgent]),
    ] {
        let mut w = World::new(RouterConfig::default());
        w.apply(dm(1, 101, "something"));
        let ask = w.take("ask_bot").expect("ask");
        let step = w.apply(Event::BotReply {
            action_id: ask.id.clone(),
            reply: BotReply {
                messages: vec!["first".into(), "second".into()],
                suggestions: Vec::new(),
                handoff: false,
                confidence,
            },
        });
        let buttons: Vec<Vec<Button>> = step
            .actions
            .iter()
            .filter_map(|a| match &a.kind {
                ActionKind::SendDm { buttons, .. } => Some(buttons.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(buttons, vec![Vec::new(), expected], "{confidence:?}");
    }
}

#[test]
fn a_backlog_of_agent_messages_keeps_the_conversation_small() {
    let mut w = World::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    w.apply(dm(1, 101, "hi"));
    w.drain();
    hand_off(&mut w, 1);
    w.drain();
    let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
    let before = serde_json::to_string(w.conv_of(1).expect("open"))
        .expect("json")
        .len();
    // Two thousand agent messages, none delivered yet.
    for i in 0..2000 {
        w.apply(w.agent_message(
            &sid,
            &format!("IM{i:032}"),
            "agent:zoe",
            &format!("line {i}"),
        ));
    }
    let conv = w.conv_of(1).expect("open").clone();
    assert!(
        conv.pending.len() <= 2,
        "{:?}",
        conv.pending.keys().collect::<Vec<_>>()
    );
    assert!(conv.sending.len() <= 64);
    assert!(
        conv.transcript.is_empty(),
        "the transcript is not kept after the hand-off"
    );
    let after = serde_json::to_string(&conv).expect("json").len();
    assert!(after < before + 16 * 1024, "{before} -> {after} bytes");
    // Delivering them all keeps it small and forgets nothing it needs for edits.
    w.drain();
    let conv = w.conv_of(1).expect("open");
    assert!(conv.sending.is_empty());
    assert!(conv.forwarded.len() <= 128);
    // A failed DM without a pending entry still marks the user unreachable.
    let step = w.apply(w.agent_message(&sid, "IM-last", "agent:zoe", "one more"));
    let send = step
        .actions
        .iter()
        .find(|a| a.kind.name() == "send_dm")
        .cloned()
        .expect("a DM");
    w.outbox.clear();
    let step = w.apply(send.failed(true, "Discord answered 403: 50007"));
    assert!(step.actions.iter().any(|a| matches!(&a.kind,
        ActionKind::PostToTwilio { body, .. } if body.contains("could not be reached"))));
    assert!(w.conv_of(1).expect("open").dm_unreachable);
}
