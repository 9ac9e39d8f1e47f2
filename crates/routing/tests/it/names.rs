//! The user's Discord display name: carried by DMs, commands and buttons, kept on the
//! conversation, and put on the case and the Twilio side.

use flexcord_routing::{
    Action, ActionKind, BotRoute, Button, Command, Conversation, Event, RouterConfig, UserId,
};

use crate::world::{World, dm, dm_as, interaction};

fn find<'a>(log: &'a [Action], name: &str) -> &'a ActionKind {
    &log.iter()
        .find(|a| a.kind.name() == name)
        .unwrap_or_else(|| panic!("no {name} in {log:?}"))
        .kind
}

fn talk_to_agent(w: &mut World, user: u64, name: Option<&str>) {
    let id = w.conv_of(user).expect("open").id.clone();
    w.apply(Event::Button {
        user: UserId(user),
        user_name: name.map(str::to_owned),
        interaction: interaction(77),
        conversation: id,
        button: Button::TalkToAgent,
    });
}

#[test]
fn the_latest_name_reaches_the_case_the_conversation_and_the_task() {
    let mut w = World::new(RouterConfig::default());
    w.apply(dm_as(1, 101, "my parcel", Some("alice")));
    w.drain();
    assert_eq!(
        w.conv_of(1).and_then(|c| c.user_name.clone()).as_deref(),
        Some("alice")
    );
    // A later DM without a name keeps the known one; the button carries a newer one.
    w.apply(dm(1, 102, "still there?"));
    w.drain();
    assert_eq!(
        w.conv_of(1).and_then(|c| c.user_name.clone()).as_deref(),
        Some("alice")
    );
    talk_to_agent(&mut w, 1, Some("  Alice\tLiddell "));
    w.drain();
    let ActionKind::OpenCase {
        requester,
        requester_name,
        ..
    } = find(&w.log, "open_case")
    else {
        unreachable!()
    };
    assert_eq!(*requester, UserId(1));
    assert_eq!(requester_name.as_deref(), Some("Alice Liddell"));
    let ActionKind::CreateTwilioConversation {
        friendly_name,
        user_name,
        identity,
        ..
    } = find(&w.log, "create_twilio_conversation")
    else {
        unreachable!()
    };
    assert_eq!(friendly_name, "Alice Liddell (Discord)");
    assert_eq!(user_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(identity, "discord:1");
    let ActionKind::CreateInteraction { user_name, .. } = find(&w.log, "create_interaction") else {
        unreachable!()
    };
    assert_eq!(user_name.as_deref(), Some("Alice Liddell"));
}

#[test]
fn without_a_name_the_identity_stands_in() {
    let mut w = World::new(RouterConfig {
        bot_route: BotRoute::Studio,
        ..RouterConfig::default()
    });
    w.apply(dm(1, 101, "hi"));
    w.drain();
    talk_to_agent(&mut w, 1, Some(" \n "));
    w.drain();
    let conv = w.conv_of(1).expect("open");
    assert_eq!(conv.user_name, None, "a blank name is no name");
    assert_eq!(conv.display_name(), "discord:1");
    let ActionKind::OpenCase { requester_name, .. } = find(&w.log, "open_case") else {
        unreachable!()
    };
    assert_eq!(*requester_name, None);
    let ActionKind::CreateTwilioConversation {
        friendly_name,
        user_name,
        ..
    } = find(&w.log, "create_twilio_conversation")
    else {
        unreachable!()
    };
    assert_eq!(friendly_name, "Discord 1");
    assert_eq!(*user_name, None);
}

#[test]
fn helpme_names_the_conversation_and_reports_carry_the_name() {
    let mut w = World::new(RouterConfig::default());
    w.apply(Event::Command {
        user: UserId(1),
        user_name: Some("Alice".into()),
        interaction: interaction(5),
        command: Command::HelpMe,
    });
    w.drain();
    assert_eq!(
        w.conv_of(1).and_then(|c| c.user_name.clone()).as_deref(),
        Some("Alice")
    );
    let step = w.apply(Event::Command {
        user: UserId(2),
        user_name: Some("Bob".into()),
        interaction: interaction(6),
        command: Command::Bug {
            title: "Crash".into(),
            steps: "open".into(),
            expected: "works".into(),
            actual: "crashes".into(),
        },
    });
    assert!(matches!(&step.actions[..], [a] if matches!(&a.kind,
        ActionKind::FileReport { requester, requester_name: Some(n), .. }
            if *requester == UserId(2) && n == "Bob")));
    let step = w.apply(Event::Command {
        user: UserId(2),
        user_name: None,
        interaction: interaction(7),
        command: Command::NewFeature {
            title: "Dark mode".into(),
            description: "please".into(),
        },
    });
    assert!(matches!(&step.actions[..], [a] if matches!(&a.kind,
        ActionKind::FileReport { requester_name: None, .. })));
}

#[test]
fn json_stored_before_names_still_decodes() {
    // Events as stored before they carried names.
    let events = [
        dm_as(1, 101, "hi", Some("Alice")),
        Event::Button {
            user: UserId(1),
            user_name: Some("Alice".into()),
            interaction: interaction(5),
            conversation: "1-101".into(),
            button: Button::TalkToAgent,
        },
        Event::Command {
            user: UserId(1),
            user_name: Some("Alice".into()),
            interaction: interaction(6),
            command: Command::HelpMe,
        },
    ];
    for event in events {
        let mut json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(json["user_name"], "Alice");
        json.as_object_mut().expect("an object").remove("user_name");
        let old: Event = serde_json::from_value(json).expect("an old event decodes");
        assert_eq!(old.user_name(), None);
        assert_eq!(old.key(), event.key());
    }

    // A conversation and its actions as stored before: no name, no parts, no waiting edits.
    let mut w = World::new(RouterConfig::default());
    w.apply(dm(1, 101, "hi"));
    w.drain();
    talk_to_agent(&mut w, 1, None);
    let conv = w.conv_of(1).expect("open").clone();
    let mut json = serde_json::to_value(&conv).expect("serialises");
    let map = json.as_object_mut().expect("an object");
    map.remove("user_name");
    map.remove("waiting_edits");
    let old: Conversation = serde_json::from_value(json).expect("an old conversation decodes");
    assert_eq!(old, conv);
    for action in &w.log {
        let mut json = serde_json::to_value(action).expect("serialises");
        if let Some(kind) = json.get_mut("kind").and_then(|k| k.as_object_mut()) {
            kind.remove("requester_name");
            kind.remove("user_name");
        }
        let old: Action = serde_json::from_value(json).expect("an old action decodes");
        assert_eq!(&old, action);
    }
}
