//! Property tests: random sequences of at least 50 events over several users.

use std::collections::HashMap;

use flexcord_routing::{
    ActionKind, BotRoute, Button, ChannelId, Command, ConversationId, Event, RouterConfig,
    TwilioSid, UserId,
};
use proptest::prelude::*;

use crate::world::{World, channel_of, dm, interaction};

#[derive(Debug, Clone)]
enum Op {
    Dm(u64),
    HelpMe(u64),
    Button(u64, u8),
    /// Resolve the outbox action at this index: success, transient-exhausted or permanent.
    Resolve(usize, u8),
    AgentMessage(u64),
    UnknownAgentMessage,
    Repeat,
    Joined(u64),
    Closed(u64),
    Tick(u64, u32),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 1..=4u64;
    prop_oneof![
        3 => user.clone().prop_map(Op::Dm),
        1 => user.clone().prop_map(Op::HelpMe),
        1 => (user.clone(), 0..7u8).prop_map(|(u, b)| Op::Button(u, b)),
        6 => (0..8usize, 0..10u8).prop_map(|(i, o)| Op::Resolve(i, o)),
        2 => user.clone().prop_map(Op::AgentMessage),
        1 => Just(Op::UnknownAgentMessage),
        1 => Just(Op::Repeat),
        1 => user.clone().prop_map(Op::Joined),
        1 => user.clone().prop_map(Op::Closed),
        1 => (user, 0..100_000_000u32).prop_map(|(u, ms)| Op::Tick(u, ms)),
    ]
}

/// Runs the ops; checks the invariants on everything the router asked for.
fn run(config: RouterConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut w = World::new(config);
    let mut n = 0u64;
    let mut last: Option<Event> = None;
    // Agent text token -> the user of the conversation it was sent into.
    let mut agent_tokens: HashMap<String, UserId> = HashMap::new();
    // Latest conversation (any phase) and SID per user.
    let mut latest: HashMap<u64, ConversationId> = HashMap::new();
    for op in ops {
        n += 1;
        w.now += 1_000;
        let event = match op {
            Op::Dm(u) => Some(dm(u, 10_000 + n, &format!("user-msg-{n} from {u}"))),
            Op::HelpMe(u) => Some(Event::Command {
                user: UserId(u),
                user_name: None,
                interaction: interaction(20_000 + n),
                command: Command::HelpMe,
            }),
            Op::Button(u, b) => latest.get(&u).map(|c| Event::Button {
                user: UserId(u),
                user_name: None,
                interaction: interaction(30_000 + n),
                conversation: c.clone(),
                button: match b {
                    0 => Button::TalkToAgent,
                    1 => Button::Solved,
                    s => Button::Rate(s - 1),
                },
            }),
            Op::Resolve(i, outcome) => {
                if w.outbox.is_empty() {
                    None
                } else {
                    let action = w.outbox.remove(i % w.outbox.len());
                    Some(match outcome {
                        0 => action.failed(true, "permanent"),
                        1 => action.failed(false, "out of retries"),
                        o => w.success(&action, o % 3 == 0),
                    })
                }
            }
            Op::AgentMessage(u) => {
                let sid = latest
                    .get(&u)
                    .and_then(|c| w.convs.get(c))
                    .and_then(|c| c.twilio.clone());
                sid.map(|sid| {
                    let token = format!("[agent-msg-{n}]");
                    agent_tokens.insert(token.clone(), UserId(u));
                    w.agent_message(&sid, &format!("IM{n}"), "agent@example.com", &token)
                })
            }
            Op::UnknownAgentMessage => {
                let token = format!("[agent-msg-{n}]");
                let sid = TwilioSid::from("CH000000000000000000000000000dead");
                Some(w.agent_message(&sid, &format!("IM{n}"), "agent@example.com", &token))
            }
            Op::Repeat => last.clone(),
            Op::Joined(u) => latest
                .get(&u)
                .and_then(|c| w.convs.get(c))
                .and_then(|c| c.twilio.clone())
                .map(|sid| Event::ParticipantJoined {
                    sid,
                    identity: format!("agent-{n}"),
                }),
            Op::Closed(u) => latest
                .get(&u)
                .and_then(|c| w.convs.get(c))
                .and_then(|c| c.twilio.clone())
                .map(|sid| Event::TwilioClosed { sid }),
            Op::Tick(u, ms) => {
                w.now += i64::from(ms);
                latest.get(&u).map(|c| Event::Tick {
                    conversation: c.clone(),
                })
            }
        };
        let Some(event) = event else { continue };
        last = Some(event.clone());
        let step = w.apply(event);
        if let Some(conv) = &step.state {
            latest.insert(conv.user.0, conv.id.clone());
        }
    }

    // Agent text only ever reaches the DM of its own conversation's user.
    let owner = |c: ChannelId| UserId(c.0 - 1000);
    for action in &w.log {
        if let ActionKind::SendDm { channel, text, .. } = &action.kind {
            for (token, user) in &agent_tokens {
                if text.contains(token.as_str()) {
                    prop_assert_eq!(owner(*channel), *user, "{} went to {}", token, channel);
                    prop_assert_eq!(*channel, channel_of(*user));
                }
            }
            prop_assert!(
                !text.contains("agent-msg")
                    || agent_tokens.keys().any(|t| text.contains(t.as_str()))
            );
        }
    }
    // Every hand-off opens exactly one case.
    let mut cases: HashMap<ConversationId, usize> = HashMap::new();
    for action in &w.log {
        if let ActionKind::OpenCase { conversation, .. } = &action.kind {
            *cases.entry(conversation.clone()).or_default() += 1;
            prop_assert_eq!(action.id.conversation(), Some(conversation.clone()));
        }
    }
    for conv in w.convs.values() {
        let opened = cases.get(&conv.id).copied().unwrap_or(0);
        let handed_off = conv.handoff_at.is_some();
        prop_assert_eq!(opened, usize::from(handed_off), "conversation {}", conv.id);
    }
    // Every user message reaches Twilio at most once.
    let mut posted: HashMap<String, usize> = HashMap::new();
    for action in &w.log {
        if let ActionKind::PostToTwilio { body, .. } = &action.kind
            && let Some(token) = body.split_whitespace().find(|t| t.starts_with("user-msg-"))
        {
            *posted.entry(token.to_owned()).or_default() += 1;
        }
    }
    for (token, count) in posted {
        prop_assert!(count <= 1, "{} posted {} times", token, count);
    }
    // Action ids never repeat.
    let mut ids: Vec<_> = w.log.iter().map(|a| a.id.clone()).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    prop_assert_eq!(ids.len(), total);
    // At most one open conversation per user.
    for user in 1..=4 {
        let open = w
            .convs
            .values()
            .filter(|c| c.user == UserId(user) && c.is_open())
            .count();
        prop_assert!(open <= 1);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn invariants_hold_direct_route(ops in proptest::collection::vec(op(), 50..90)) {
        run(RouterConfig::default(), ops)?;
    }

    #[test]
    fn invariants_hold_studio_route(ops in proptest::collection::vec(op(), 50..90)) {
        run(RouterConfig { bot_route: BotRoute::Studio, ..RouterConfig::default() }, ops)?;
    }
}
