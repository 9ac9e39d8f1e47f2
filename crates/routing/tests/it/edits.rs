//! Edits of agent messages that were split into several Discord messages: every part is
//! edited in order, missing parts are sent, surplus parts deleted.

use flexcord_routing::{
    Action, ActionKind, BotRoute, Event, MessageId, Note, RouterConfig, Step, TwilioSid,
};

use crate::world::{World, dm};

const AGENT: &str = "agent:zoe";
const MSG: &str = "IM9";

/// `n` words of five characters with their spaces: 400 words fill one Discord message.
fn words(n: usize, word: &str) -> String {
    vec![word; n].join(" ")
}

/// A studio-route conversation where the agent wrote `body`; its parts reached Discord as
/// messages 5000, 5001, ... Returns the world, the Twilio SID and the Discord message ids.
fn agent_said(body: &str) -> (World, TwilioSid, Vec<MessageId>) {
    let mut w = World::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    w.apply(dm(1, 101, "hi"));
    w.drain();
    let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
    w.apply(w.agent_message(&sid, MSG, AGENT, body));
    let mut ids = Vec::new();
    while let Some(send) = w.take("send_dm") {
        let id = MessageId(5000 + ids.len() as u64);
        w.apply(send.completed(Some(id.to_string())));
        ids.push(id);
    }
    assert!(w.outbox.is_empty(), "{:?}", w.outbox);
    (w, sid, ids)
}

fn edit(w: &mut World, sid: &TwilioSid, body: &str) -> Step {
    w.apply(Event::TwilioMessageUpdated {
        sid: sid.clone(),
        message: MSG.into(),
        author: AGENT.into(),
        body: body.to_owned(),
    })
}

/// What an edit step does to Discord, in order: `("edit", id, text)`, `("send", 0, text)`,
/// `("delete", id, "")`.
fn effects(actions: &[Action]) -> Vec<(&'static str, u64, String)> {
    actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::EditDm { message, text, .. } => Some(("edit", message.0, text.clone())),
            ActionKind::SendDm { text, .. } => Some(("send", 0, text.clone())),
            ActionKind::DeleteDm { message, .. } => Some(("delete", message.0, String::new())),
            _ => None,
        })
        .collect()
}

fn parts_of(w: &World) -> Vec<(u32, u64)> {
    let mut parts: Vec<(u32, u64)> = w
        .conv_of(1)
        .expect("open")
        .forwarded
        .iter()
        .filter(|f| f.twilio.as_str() == MSG)
        .map(|f| (f.part, f.discord.0))
        .collect();
    parts.sort_unstable();
    parts
}

#[test]
fn every_part_is_remembered() {
    let (w, _, ids) = agent_said(&words(1000, "word"));
    assert_eq!(ids.len(), 3, "1000 words are three messages");
    assert_eq!(parts_of(&w), [(0, 5000), (1, 5001), (2, 5002)]);
}

#[test]
fn an_edit_with_as_many_parts_edits_each_in_order() {
    let (mut w, sid, _) = agent_said(&words(800, "word"));
    let step = edit(&mut w, &sid, &words(800, "text"));
    assert_eq!(
        effects(&step.actions),
        [
            ("edit", 5000, words(400, "text")),
            ("edit", 5001, words(400, "text")),
        ]
    );
    assert_eq!(parts_of(&w), [(0, 5000), (1, 5001)]);
}

#[test]
fn an_edit_with_more_parts_sends_the_extra_ones_and_remembers_them() {
    let (mut w, sid, _) = agent_said(&words(800, "word"));
    let step = edit(&mut w, &sid, &words(1000, "text"));
    assert_eq!(
        effects(&step.actions),
        [
            ("edit", 5000, words(400, "text")),
            ("edit", 5001, words(400, "text")),
            ("send", 0, words(200, "text")),
        ]
    );
    let send = w.take("send_dm").expect("the third part");
    w.outbox.clear();
    w.apply(send.completed(Some("6000".into())));
    assert_eq!(parts_of(&w), [(0, 5000), (1, 5001), (2, 6000)]);
    // A later edit reaches all three.
    let step = edit(&mut w, &sid, &words(1000, "more"));
    assert_eq!(
        effects(&step.actions)
            .iter()
            .map(|(what, id, _)| (*what, *id))
            .collect::<Vec<_>>(),
        [("edit", 5000), ("edit", 5001), ("edit", 6000)]
    );
}

#[test]
fn an_edit_with_fewer_parts_deletes_the_surplus() {
    let (mut w, sid, _) = agent_said(&words(1000, "word"));
    let step = edit(&mut w, &sid, "Sorry, wrong customer.");
    assert_eq!(
        effects(&step.actions),
        [
            ("edit", 5000, "Sorry, wrong customer.".to_owned()),
            ("delete", 5001, String::new()),
            ("delete", 5002, String::new()),
        ]
    );
    assert!(step.actions.iter().all(|a| a.kind.name() != "send_dm"));
    assert_eq!(parts_of(&w), [(0, 5000)], "the deleted parts are forgotten");
    // Growing again sends a new second part.
    let step = edit(&mut w, &sid, &words(800, "back"));
    assert_eq!(
        effects(&step.actions),
        [
            ("edit", 5000, words(400, "back")),
            ("send", 0, words(400, "back")),
        ]
    );
}

#[test]
fn an_edit_while_parts_are_on_their_way_waits_for_them() {
    let mut w = World::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    w.apply(dm(1, 101, "hi"));
    w.drain();
    let sid = w.conv_of(1).and_then(|c| c.twilio.clone()).expect("sid");
    w.apply(w.agent_message(&sid, MSG, AGENT, &words(1000, "word")));
    let first = w.take("send_dm").expect("part 1");
    w.apply(first.completed(Some("5000".into())));
    // Two parts are still being sent: the edit waits; only the latest text is kept.
    let step = edit(&mut w, &sid, &words(10, "early"));
    assert!(effects(&step.actions).is_empty(), "{:?}", step.actions);
    let step = edit(&mut w, &sid, "Short now.");
    assert!(effects(&step.actions).is_empty(), "{:?}", step.actions);
    let second = w.take("send_dm").expect("part 2");
    let step = w.apply(second.completed(Some("5001".into())));
    assert!(effects(&step.actions).is_empty(), "{:?}", step.actions);
    let third = w.take("send_dm").expect("part 3");
    let step = w.apply(third.completed(Some("5002".into())));
    assert_eq!(
        effects(&step.actions),
        [
            ("edit", 5000, "Short now.".to_owned()),
            ("delete", 5001, String::new()),
            ("delete", 5002, String::new()),
        ]
    );
    assert!(w.conv_of(1).expect("open").waiting_edits.is_empty());
}

#[test]
fn edits_that_cannot_apply_are_dropped_with_a_reason() {
    let (mut w, sid, _) = agent_said(&words(800, "word"));
    let blank = edit(&mut w, &sid, "  ");
    assert!(effects(&blank.actions).is_empty());
    assert!(blank.notes.contains(&Note::Dropped {
        reason: "blank edit".into()
    }));
    let unknown = w.apply(Event::TwilioMessageUpdated {
        sid: sid.clone(),
        message: "IM404".into(),
        author: AGENT.into(),
        body: "x".into(),
    });
    assert!(effects(&unknown.actions).is_empty());
    assert!(unknown.notes.contains(&Note::Dropped {
        reason: "edit of a message not forwarded".into()
    }));
    // The user's own messages and the bot's are never forwarded, so never edited.
    let own = w.apply(Event::TwilioMessageUpdated {
        sid,
        message: MSG.into(),
        author: "discord:1".into(),
        body: "x".into(),
    });
    assert!(own.actions.is_empty());
    assert_eq!(parts_of(&w), [(0, 5000), (1, 5001)]);
}

#[test]
fn forgetting_old_messages_forgets_all_their_parts() {
    let (mut w, sid, _) = agent_said(&words(1000, "word"));
    // Many later one-part messages push the first one out of the bounded list.
    for n in 0..130 {
        let msg = format!("IM{n:04}");
        w.apply(w.agent_message(&sid, &msg, AGENT, "ok"));
        let send = w.take("send_dm").expect("sent");
        w.outbox.clear();
        w.apply(send.completed(Some((7000 + n).to_string())));
    }
    let conv = w.conv_of(1).expect("open");
    assert!(conv.forwarded.len() <= 128, "{}", conv.forwarded.len());
    assert!(
        parts_of(&w).is_empty(),
        "no orphan parts: {:?}",
        parts_of(&w)
    );
    let step = edit(&mut w, &sid, "x");
    assert!(effects(&step.actions).is_empty());
}
