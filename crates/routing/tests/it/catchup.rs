//! Twilio messages in position order, none missed: gaps are held and filled from the listing.

use flexcord_routing::{
    ActionKind, Event, GAP_HOLD_MS, Note, Pending, SweptMessage, TwilioMessageSid, TwilioSid,
};

use crate::world::{World, dm, dm_texts};

fn studio() -> flexcord_routing::RouterConfig {
    flexcord_routing::RouterConfig {
        bot_route: flexcord_routing::BotRoute::Studio,
        ..flexcord_routing::RouterConfig::default()
    }
}

/// A conversation with an agent in it; the Twilio side's positions up to 2 are accounted for.
fn with_agent() -> (World, TwilioSid) {
    let mut w = World::new(studio());
    w.apply(dm(1, 101, "hello"));
    w.drain();
    let sid = w
        .conv_of(1)
        .and_then(|c| c.twilio.clone())
        .expect("created");
    w.apply(Event::ParticipantJoined {
        sid: sid.clone(),
        identity: "agent:zoe".into(),
    });
    w.drain();
    // The first position seen is not 0: what came before is listed (the back-fill, ours).
    w.apply(indexed(&sid, 2, "agent:zoe", "hi, I am Zoe"));
    let step = answer(
        &mut w,
        vec![
            swept(0, "discord:1", "hello", true),
            swept(1, "Bot", "transferring you", true),
            swept(2, "agent:zoe", "hi, I am Zoe", false),
        ],
    );
    assert_eq!(dm_texts(&step.actions), vec!["hi, I am Zoe"]);
    w.drain();
    (w, sid)
}

fn swept(index: u64, author: &str, body: &str, ours: bool) -> SweptMessage {
    SweptMessage {
        message: TwilioMessageSid::from(format!("IM{index:032}").as_str()),
        index,
        author: author.to_owned(),
        body: body.to_owned(),
        attachments: Vec::new(),
        ours,
    }
}

fn indexed(sid: &TwilioSid, index: u64, author: &str, body: &str) -> Event {
    let m = swept(index, author, body, false);
    Event::TwilioMessage {
        sid: sid.clone(),
        message: m.message,
        author: m.author,
        body: m.body,
        attachments: Vec::new(),
        index: Some(index),
    }
}

/// The `CatchUpTwilio` in the outbox, answered with `messages`.
fn answer(w: &mut World, messages: Vec<SweptMessage>) -> flexcord_routing::Step {
    let action = w.take("catch_up_twilio").expect("a catch-up was asked for");
    w.apply(Event::TwilioCaughtUp {
        action_id: action.id,
        messages,
    })
}

#[test]
fn the_next_message_goes_out_at_once() {
    let (mut w, sid) = with_agent();
    let step = w.apply(indexed(&sid, 3, "agent:zoe", "second"));
    assert_eq!(dm_texts(&step.actions), vec!["second"]);
    assert!(w.take("catch_up_twilio").is_none());
    assert_eq!(w.conv_of(1).unwrap().twilio_index, Some(3));
}

#[test]
fn a_message_after_a_gap_waits_for_the_missing_one_and_both_go_out_in_order() {
    let (mut w, sid) = with_agent();
    // Position 3's webhook was lost; 4 arrives.
    let step = w.apply(indexed(&sid, 4, "agent:zoe", "fourth"));
    assert!(dm_texts(&step.actions).is_empty(), "{:?}", step.actions);
    let ask = step
        .actions
        .iter()
        .find_map(|a| match &a.kind {
            ActionKind::CatchUpTwilio { after, .. } => Some(*after),
            _ => None,
        })
        .expect("asks for what is missing");
    assert_eq!(ask, Some(2));
    assert_eq!(step.wake_at.map(|t| t.0), Some(w.now + GAP_HOLD_MS));
    // A second message after the gap does not ask twice.
    let step = w.apply(indexed(&sid, 5, "agent:zoe", "fifth"));
    assert!(step.actions.is_empty(), "{:?}", step.actions);

    let step = answer(
        &mut w,
        vec![
            swept(3, "agent:zoe", "third", false),
            swept(4, "agent:zoe", "fourth", false),
            swept(5, "agent:zoe", "fifth", false),
        ],
    );
    assert_eq!(dm_texts(&step.actions), vec!["third", "fourth", "fifth"]);
    assert!(step.notes.contains(&Note::Recovered {
        source: "twilio".into(),
        count: 1
    }));
    let conv = w.conv_of(1).unwrap();
    assert_eq!(conv.twilio_index, Some(5));
    assert!(conv.twilio_held.is_empty() && conv.held_until.is_none());
    // The lost webhook's late retry changes nothing.
    let step = w.apply(indexed(&sid, 3, "agent:zoe", "third"));
    assert!(dm_texts(&step.actions).is_empty());
}

#[test]
fn the_bridges_own_messages_fill_a_gap_without_being_routed() {
    let (mut w, sid) = with_agent();
    w.apply(indexed(&sid, 5, "agent:zoe", "after the bot's notes"));
    let step = answer(
        &mut w,
        vec![
            swept(3, "Bot", "a notice", true),
            swept(4, "agent:zoe", "back-filled line", true),
            swept(5, "agent:zoe", "after the bot's notes", false),
        ],
    );
    assert_eq!(dm_texts(&step.actions), vec!["after the bot's notes"]);
    assert!(
        !step
            .notes
            .iter()
            .any(|n| matches!(n, Note::Recovered { .. }))
    );
}

#[test]
fn held_messages_go_out_when_the_wait_is_over_and_a_late_gap_still_comes_through() {
    let (mut w, sid) = with_agent();
    w.apply(indexed(&sid, 4, "agent:zoe", "fourth"));
    let late = w.take("catch_up_twilio").expect("asked");
    let id = w.conv_of(1).unwrap().id.clone();
    w.now += GAP_HOLD_MS;
    let step = w.apply(Event::Tick {
        conversation: id.clone(),
    });
    assert_eq!(dm_texts(&step.actions), vec!["fourth"]);
    assert_eq!(w.conv_of(1).unwrap().twilio_missing, vec![3]);
    // The catch-up answers late: the missing message is routed, once.
    let step = w.apply(Event::TwilioCaughtUp {
        action_id: late.id,
        messages: vec![
            swept(3, "agent:zoe", "third", false),
            swept(4, "agent:zoe", "fourth", false),
        ],
    });
    assert_eq!(dm_texts(&step.actions), vec!["third"]);
    assert!(w.conv_of(1).unwrap().twilio_missing.is_empty());
}

#[test]
fn a_failed_catch_up_releases_what_it_held() {
    let (mut w, sid) = with_agent();
    w.apply(indexed(&sid, 4, "agent:zoe", "fourth"));
    let action = w.take("catch_up_twilio").expect("asked");
    let step = w.apply(action.failed(false, "twilio down"));
    assert_eq!(dm_texts(&step.actions), vec!["fourth"]);
    let conv = w.conv_of(1).unwrap();
    assert!(!conv.pending.values().any(|p| matches!(p, Pending::CatchUp)));
}

#[test]
fn the_periodic_sweep_finds_a_last_message_no_webhook_brought() {
    let (mut w, _sid) = with_agent();
    let id = w.conv_of(1).unwrap().id.clone();
    let step = w.apply(Event::CatchUp {
        conversation: id.clone(),
    });
    let after = step.actions.iter().find_map(|a| match &a.kind {
        ActionKind::CatchUpTwilio { after, .. } => Some(*after),
        _ => None,
    });
    assert_eq!(after, Some(Some(2)));
    // A second sweep while the first is under way asks nothing more.
    assert!(
        w.apply(Event::CatchUp { conversation: id })
            .actions
            .is_empty()
    );
    let step = answer(
        &mut w,
        vec![swept(3, "agent:zoe", "are you still there?", false)],
    );
    assert_eq!(dm_texts(&step.actions), vec!["are you still there?"]);
    // Nothing new: nothing routed.
    let id = w.conv_of(1).unwrap().id.clone();
    w.apply(Event::CatchUp { conversation: id });
    let step = answer(&mut w, Vec::new());
    assert!(dm_texts(&step.actions).is_empty());
}

#[test]
fn messages_without_a_position_are_routed_as_they_come() {
    let (mut w, sid) = with_agent();
    let step = w.apply(w.agent_message(&sid, "IMx", "agent:zoe", "no index"));
    assert_eq!(dm_texts(&step.actions), vec!["no index"]);
    assert!(w.take("catch_up_twilio").is_none());
}

#[test]
fn the_latest_dm_is_remembered_for_the_discord_sweep() {
    let (mut w, _sid) = with_agent();
    w.apply(dm(1, 300, "later"));
    w.apply(dm(1, 250, "replayed out of order"));
    assert_eq!(
        w.conv_of(1).unwrap().last_dm,
        Some(flexcord_routing::MessageId(300))
    );
}

#[test]
fn a_held_message_goes_out_as_its_webhook_brought_it() {
    use flexcord_routing::Attachment;
    let (mut w, sid) = with_agent();
    let file = Attachment {
        filename: "label.pdf".into(),
        media_sid: Some("ME0123456789abcdef0123456789abcdef".into()),
        media_service: Some("IS0123456789abcdef0123456789abcdef".into()),
        ..Attachment::default()
    };
    let Event::TwilioMessage {
        sid,
        message,
        author,
        body,
        index,
        ..
    } = indexed(&sid, 4, "agent:zoe", "")
    else {
        unreachable!()
    };
    w.apply(Event::TwilioMessage {
        sid,
        message,
        author,
        body,
        attachments: vec![file.clone()],
        index,
    });
    // The listing knows the file but not the service it lives in.
    let mut listed = swept(4, "agent:zoe", "", false);
    listed.attachments = vec![Attachment {
        media_service: None,
        ..file.clone()
    }];
    let step = answer(&mut w, vec![swept(3, "agent:zoe", "third", false), listed]);
    let files: Vec<_> = step
        .actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::SendDm { files, .. } if !files.is_empty() => Some(files.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(files, vec![vec![file]]);
}
