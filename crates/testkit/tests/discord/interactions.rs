//! Interactions: slash commands (with sub-commands), buttons and modals, answered with twilight.

use std::time::Duration;

use flexcord_testkit::discord::{DiscordState, MessageOrigin, ModalSubmit, SlashCommand};
use serde_json::json;
use twilight_gateway::Event;
use twilight_model::application::command::Command;
use twilight_model::application::interaction::application_command::CommandOptionValue;
use twilight_model::application::interaction::modal::ModalInteractionComponent;
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;

use crate::{WAIT, emulator, http, next_where, ready_shard};

async fn next_interaction(shard: &mut twilight_gateway::Shard) -> Interaction {
    next_where(shard, |e| match e {
        Event::InteractionCreate(i) => Some(i.0),
        _ => None,
    })
    .await
}

fn case_command() -> Command {
    serde_json::from_value(json!({
        "name": "case", "description": "Manage your support case", "type": 1, "version": "1",
        "options": [
            {"name": "status", "description": "Show case status", "type": 1,
             "options": [{"name": "number", "description": "Case number", "type": 3, "required": false}]},
            {"name": "close", "description": "Close a case", "type": 1,
             "options": [{"name": "number", "description": "Case id", "type": 3, "required": true},
                         {"name": "reason", "description": "Reason", "type": 3, "required": false}]}
        ]
    }))
    .expect("command json")
}

#[tokio::test]
async fn slash_command_registration_and_response() {
    let emu = emulator().await;
    let client = http(&emu);
    let app = Id::new(emu.application_id());
    let registered = client
        .interaction(app)
        .set_global_commands(&[case_command()])
        .await
        .expect("PUT commands")
        .models()
        .await
        .expect("commands deserialize");
    assert_eq!(registered.len(), 1);
    let command_id = registered[0].id.expect("id assigned");
    let guild = client
        .interaction(app)
        .set_guild_commands(Id::new(emu.guild_id()), &[case_command()])
        .await
        .expect("PUT guild commands")
        .models()
        .await
        .expect("deserialize");
    assert_eq!(guild[0].guild_id.map(Id::get), Some(emu.guild_id()));

    let mut shard = ready_shard(&emu).await;
    let alice = emu.user_id("alice").expect("user");
    let injected = emu
        .inject_command_line(alice, "/case status CASE-000001", None)
        .expect("command line fits the registered command");
    let interaction = next_interaction(&mut shard).await;
    assert_eq!(interaction.id.get(), injected.id);
    assert_eq!(interaction.author_id().map(Id::get), Some(alice));
    assert!(interaction.is_dm());
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("expected a command, got {:?}", interaction.data);
    };
    assert_eq!(data.name, "case");
    assert_eq!(data.id, command_id);
    let CommandOptionValue::SubCommand(sub) = &data.options[0].value else {
        panic!("expected a sub-command: {:?}", data.options);
    };
    assert_eq!(data.options[0].name, "status");
    assert_eq!(sub[0].name, "number");
    assert_eq!(
        sub[0].value,
        CommandOptionValue::String("CASE-000001".to_owned())
    );

    // Defer, then edit the original and add a follow-up.
    let deferred = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    client
        .interaction(app)
        .create_response(interaction.id, &interaction.token, &deferred)
        .await
        .expect("callback");
    let edited = client
        .interaction(app)
        .update_response(&interaction.token)
        .content(Some("CASE-000001 is open"))
        .await
        .expect("PATCH @original")
        .model()
        .await
        .expect("message");
    assert_eq!(edited.content, "CASE-000001 is open");
    let followup = client
        .interaction(app)
        .create_followup(&interaction.token)
        .content("anything else?")
        .await
        .expect("follow-up")
        .model()
        .await
        .expect("message");
    let rec = emu.interaction(injected.id).expect("record");
    assert_eq!(rec.responses.len(), 1);
    assert_eq!(rec.responses[0].kind, 5);
    assert_eq!(rec.original_message, Some(edited.id.get()));
    assert_eq!(rec.followups, vec![followup.id.get()]);
    let original = emu
        .state(|s| s.message(edited.id.get()).cloned())
        .expect("stored");
    assert!(original.is_ephemeral());
    assert_eq!(original.origin, MessageOrigin::InteractionResponse);
    assert_eq!(original.edits, vec![String::new()]);

    // A second callback is refused, as Discord does.
    let again = client
        .interaction(app)
        .create_response(interaction.id, &interaction.token, &deferred)
        .await;
    assert!(again.is_err());
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn button_then_modal_then_submit() {
    let emu = emulator().await;
    let client = http(&emu);
    let app = Id::new(emu.application_id());
    let mut shard = ready_shard(&emu).await;
    let alice = emu.user_id("alice").expect("user");

    // /bug in a guild channel; the bot answers with a message carrying a button.
    let channel = emu.channel_id("bug-report").expect("channel");
    let slash = emu
        .inject_slash(
            alice,
            &SlashCommand::new("bug")
                .option("title", "crash")
                .in_channel(channel),
        )
        .expect("inject");
    let i = next_interaction(&mut shard).await;
    assert_eq!(i.id.get(), slash.id);
    assert_eq!(i.guild_id.map(Id::get), Some(emu.guild_id()));
    assert_eq!(i.author_id().map(Id::get), Some(alice));
    let with_button: InteractionResponse = serde_json::from_value(json!({
        "type": 4,
        "data": {"content": "Describe it", "components": [
            {"type": 1, "components": [{"type": 2, "style": 1, "label": "Open form", "custom_id": "bug:form"}]}
        ]}
    }))
    .expect("response json");
    client
        .interaction(app)
        .create_response(i.id, &i.token, &with_button)
        .await
        .expect("callback");
    emu.wait_for(
        |s| {
            s.interaction(slash.id)
                .is_some_and(|r| r.original_message.is_some())
        },
        WAIT,
    )
    .await
    .expect("answered");

    // The button press carries the message and the custom id.
    let press = emu
        .inject_button(alice, "bug:form")
        .expect("button is shown");
    let b = next_where(&mut shard, |e| match e {
        Event::InteractionCreate(i) if i.id.get() == press.id => Some(i.0),
        _ => None,
    })
    .await;
    let Some(InteractionData::MessageComponent(data)) = &b.data else {
        panic!("expected a component: {:?}", b.data);
    };
    assert_eq!(data.custom_id, "bug:form");
    assert_eq!(
        b.message.as_ref().map(|m| m.content.as_str()),
        Some("Describe it")
    );

    // Answer with a modal (a Label and an ActionRow around text inputs).
    let modal: InteractionResponse = serde_json::from_value(json!({
        "type": 9,
        "data": {"custom_id": "bug_form", "title": "Report a bug", "components": [
            {"type": 18, "label": "Title", "component": {"type": 4, "custom_id": "title", "style": 1}},
            {"type": 1, "components": [{"type": 4, "custom_id": "details", "label": "Details", "style": 2}]}
        ]}
    }))
    .expect("modal json");
    client
        .interaction(app)
        .create_response(b.id, &b.token, &modal)
        .await
        .expect("modal");
    assert!(
        emu.inject_modal_submit(alice, &ModalSubmit::new("nope"))
            .is_err()
    );
    let submit = emu
        .inject_modal_submit(
            alice,
            &ModalSubmit::new("bug_form")
                .field("title", "It crashes")
                .field("details", "steps"),
        )
        .expect("modal was shown");
    let m = next_where(&mut shard, |e| match e {
        Event::InteractionCreate(i) if i.id.get() == submit.id => Some(i.0),
        _ => None,
    })
    .await;
    let Some(InteractionData::ModalSubmit(data)) = &m.data else {
        panic!("expected a modal submit: {:?}", m.data);
    };
    assert_eq!(data.custom_id, "bug_form");
    let mut values = Vec::new();
    for c in &data.components {
        match c {
            ModalInteractionComponent::Label(l) => {
                if let ModalInteractionComponent::TextInput(t) = &*l.component {
                    values.push((t.custom_id.clone(), t.value.clone()));
                }
            }
            ModalInteractionComponent::ActionRow(r) => {
                for inner in &r.components {
                    if let ModalInteractionComponent::TextInput(t) = inner {
                        values.push((t.custom_id.clone(), t.value.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        values,
        vec![
            ("title".to_owned(), "It crashes".to_owned()),
            ("details".to_owned(), "steps".to_owned())
        ]
    );
    let thanks = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("Thanks, CASE-000002".to_owned()),
            ..Default::default()
        }),
    };
    client
        .interaction(app)
        .create_response(m.id, &m.token, &thanks)
        .await
        .expect("callback");
    let last = emu
        .wait_for_message(channel, 2, WAIT)
        .await
        .expect("message");
    assert_eq!(last.content, "Thanks, CASE-000002");
    assert_eq!(last.interaction_id, Some(submit.id));
    let first = emu
        .wait_for_message(channel, 1, WAIT)
        .await
        .expect("message");
    assert_eq!(first.custom_ids(), vec!["bug:form".to_owned()]);
    assert!(
        emu.state(|s: &DiscordState| s.interactions().count()) == 3,
        "slash, button, modal"
    );
}

#[tokio::test]
async fn late_interaction_callback_is_unknown() {
    let config = flexcord_testkit::discord::DiscordConfig {
        interaction_ack_deadline: Duration::from_millis(50),
        ..Default::default()
    };
    let emu = crate::emulator_with(config).await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let injected = emu
        .inject_slash(alice, &SlashCommand::new("helpme"))
        .expect("inject");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: None,
    };
    let token = injected.token.expect("token");
    let err = client
        .interaction(Id::new(emu.application_id()))
        .create_response(Id::new(injected.id), &token, &response)
        .await
        .expect_err("too late");
    let msg = err.to_string();
    assert!(
        msg.contains("10062") || msg.contains("Unknown interaction"),
        "{msg}"
    );
}

#[tokio::test]
async fn callback_with_response_returns_the_created_message() {
    let emu = emulator().await;
    let client = http(&emu);
    let alice = emu.user_id("alice").expect("user");
    let injected = emu
        .inject_slash(
            alice,
            &SlashCommand::new("helpme").option("topic", "billing"),
        )
        .expect("inject");
    let token = injected.token.clone().expect("token");
    let response = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("An agent will be with you shortly".to_owned()),
            ..Default::default()
        }),
    };
    let callback = client
        .interaction(Id::new(emu.application_id()))
        .create_response(Id::new(injected.id), &token, &response)
        .with_response()
        .await
        .expect("callback")
        .model()
        .await
        .expect("callback object");
    assert_eq!(callback.interaction.id.get(), injected.id);
    let message = callback
        .resource
        .and_then(|r| r.message)
        .expect("created message");
    assert_eq!(message.content, "An agent will be with you shortly");
    assert_eq!(message.channel_id.get(), injected.channel_id);
    assert_eq!(emu.dms_to(alice).len(), 1);
}

#[tokio::test]
async fn select_menu_choice_carries_values() {
    let emu = emulator().await;
    let client = http(&emu);
    let mut shard = ready_shard(&emu).await;
    let alice = emu.user_id("alice").expect("user");
    let dm = client
        .create_private_channel(Id::new(alice))
        .await
        .expect("dm")
        .model()
        .await
        .expect("channel");
    let components: Vec<twilight_model::channel::message::Component> = serde_json::from_value(json!([
        {"type": 1, "components": [{"type": 3, "custom_id": "rating", "options": [
            {"label": "1", "value": "1", "default": false}, {"label": "5", "value": "5", "default": false}
        ]}]}
    ]))
    .expect("components");
    client
        .create_message(dm.id)
        .content("How did we do?")
        .components(&components)
        .await
        .expect("message");
    assert!(emu.inject_select(alice, "nope", &["5"]).is_err());
    let pick = emu
        .inject_select(alice, "rating", &["5"])
        .expect("select is shown");
    let i = next_where(&mut shard, |e| match e {
        Event::InteractionCreate(i) if i.id.get() == pick.id => Some(i.0),
        _ => None,
    })
    .await;
    let Some(InteractionData::MessageComponent(data)) = &i.data else {
        panic!("expected a component: {:?}", i.data);
    };
    assert_eq!(data.custom_id, "rating");
    assert_eq!(data.values, vec!["5".to_owned()]);
    assert_eq!(i.channel.as_ref().map(|c| c.id), Some(dm.id));
}
