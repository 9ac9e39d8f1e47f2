//! Events per second through the pure core: a whole support conversation (first DM, bot reply
//! with hand-off, Twilio conversation and case created, agent joins, 4 agent and 3 user
//! messages with their deliveries, close) routed through `Router::handle`, state cloned and
//! carried between steps as a driver would.
//!
//! `cargo bench -p flexcord-routing --bench core -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flexcord_routing::{
    Action, ActionKind, BotReply, ChannelId, Conversation, Event, MessageId, Router, RouterConfig,
    Timestamp, TwilioMessageSid, TwilioSid, UserId,
};

/// Runs one conversation; returns how many events went through the router.
fn conversation(router: &Router, user: u64) -> usize {
    let mut state: Option<Conversation> = None;
    let mut now = Timestamp(1_795_392_000_000);
    let mut events = 0;
    let mut queue: Vec<Event> = vec![Event::DirectMessage {
        user: UserId(user),
        channel: ChannelId(user + 1),
        message: MessageId(user * 100),
        text: "my parcel never arrived and the tracking page says delivered".into(),
        attachments: Vec::new(),
        user_name: None,
    }];
    let sid = TwilioSid(format!("CH{user:032}"));
    let mut script: Vec<Event> = vec![Event::ParticipantJoined {
        sid: sid.clone(),
        identity: "agent@example.com".into(),
    }];
    for i in 0..4u64 {
        script.push(Event::TwilioMessage {
            sid: sid.clone(),
            message: TwilioMessageSid(format!("IM{user}-{i}")),
            author: "agent@example.com".into(),
            body: "Thanks for waiting, I am checking this with the carrier right now.".into(),
            attachments: Vec::new(),
            index: Some(i),
        });
        if i < 3 {
            script.push(Event::DirectMessage {
                user: UserId(user),
                channel: ChannelId(user + 1),
                message: MessageId(user * 100 + 1 + i),
                text: "ok thanks".into(),
                attachments: Vec::new(),
                user_name: None,
            });
        }
    }
    script.push(Event::TwilioClosed { sid: sid.clone() });
    script.reverse();
    while let Some(event) = queue.pop().or_else(|| script.pop()) {
        now = now.plus_millis(1_000);
        let step = router.handle(state.take(), event, now);
        events += 1;
        state = step.state;
        for action in step.actions.iter().rev() {
            queue.push(result(action, &sid));
        }
    }
    black_box(state);
    events
}

fn result(action: &Action, sid: &TwilioSid) -> Event {
    match &action.kind {
        ActionKind::CreateTwilioConversation { .. } => action.completed(Some(sid.0.clone())),
        ActionKind::OpenCase { .. } => action.completed(Some("CASE-000001".into())),
        ActionKind::AskBot { .. } => Event::BotReply {
            action_id: action.id.clone(),
            reply: BotReply {
                messages: vec!["Let me get someone from the team for you.".into()],
                suggestions: Vec::new(),
                handoff: true,
                ..BotReply::default()
            },
        },
        ActionKind::SendDm { .. } => action.completed(Some("123456789".into())),
        _ => action.completed(None),
    }
}

fn bench(c: &mut Criterion) {
    let router = Router::new(RouterConfig::default());
    let per_conversation = conversation(&router, 1);
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(per_conversation as u64));
    let mut user = 0;
    group.bench_function(format!("conversation_{per_conversation}_events"), |b| {
        b.iter(|| {
            user += 1;
            conversation(&router, user)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
