//! Turning what Discord sends (direct messages, interactions) into the routing core's events.
//!
//! Pure functions, no I/O: the gateway loop and the interaction handler call them. `None` or an
//! [`InteractionError`] means "nothing for the core": the bot's own messages, guild chatter,
//! interactions of other applications.

use flexcord_routing as routing;
use routing::{
    Ack, Attachment, Button, CaseNumber, ChannelId, Command, Interaction as CoreInteraction,
    InteractionId, MessageId, UserId,
};
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::channel::Message;
use twilight_model::id::Id;
use twilight_model::id::marker::UserMarker;
use twilight_model::user::User;

use super::commands::{self, CaseCommand, SlashCommand};
use super::modal::{self, ModalSubmit};

/// The name Discord shows for `user`: their guild nickname, else their global display name,
/// else their username (cleaned by [`routing::text::display_name`]).
pub(crate) fn display_name(user: &User, nick: Option<&str>) -> Option<String> {
    [nick, user.global_name.as_deref(), Some(user.name.as_str())]
        .into_iter()
        .flatten()
        .find_map(routing::text::display_name)
}

/// The routing event for a `MESSAGE_CREATE`: only direct messages from people (not the bot
/// itself, not other bots, not guild channels).
pub fn from_message(message: &Message, bot: Id<UserMarker>) -> Option<routing::Event> {
    if message.guild_id.is_some() || message.author.id == bot || message.author.bot {
        return None;
    }
    Some(routing::Event::DirectMessage {
        user: UserId(message.author.id.get()),
        channel: ChannelId(message.channel_id.get()),
        message: MessageId(message.id.get()),
        text: message.content.clone(),
        attachments: message
            .attachments
            .iter()
            .map(|a| Attachment {
                filename: a.filename.clone(),
                url: a.url.clone(),
                content_type: a.content_type.clone(),
                size: Some(a.size),
                media_sid: None,
                media_service: None,
            })
            .collect(),
        user_name: display_name(
            &message.author,
            message.member.as_ref().and_then(|m| m.nick.as_deref()),
        ),
    })
}

/// Why an interaction gives no routing event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteractionError {
    /// No user (should not happen for the kinds the bot registers).
    #[error("the interaction has no user")]
    NoUser,
    /// Not a kind the core handles (autocomplete, pings, select menus, ...).
    #[error("not an interaction the bot handles")]
    NotHandled,
    /// The user sent something malformed; the text is safe to show them.
    #[error("{0}")]
    Invalid(String),
    /// A command answered with its form (the modal is its acknowledgement; the submission is
    /// the command).
    #[error("answered with a form")]
    OpensModal(Form),
}

/// The forms (modals) of the report commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `/bug`.
    Bug,
    /// `/new_feature`.
    Feature,
}

/// The roles of the member who used the interaction (none outside a guild).
fn member_roles(interaction: &Interaction) -> Vec<u64> {
    interaction
        .member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default()
}

fn case_number(text: &str) -> Result<CaseNumber, InteractionError> {
    text.trim()
        .parse::<flexcord_cases::CaseNumber>()
        .map(|n| CaseNumber::from(n.to_string()))
        .map_err(|_| {
            InteractionError::Invalid(format!(
                "`{}` is not a case number (they look like CASE-000123).",
                text.trim()
            ))
        })
}

/// The routing event for a slash command, a modal submission or a button of the core
/// (`fc:...` custom ids). A button click is acknowledged silently ([`Ack::Silent`]), anything
/// else with a deferred answer. `/bug` and `/new_feature` themselves are answered with their
/// modal by the interaction handler ([`InteractionError::OpensModal`]); the submissions become
/// the commands.
///
/// # Errors
/// [`InteractionError`]: no user, a kind the core does not handle, or malformed input.
pub fn from_interaction(interaction: &Interaction) -> Result<routing::Event, InteractionError> {
    let user = UserId(
        interaction
            .author_id()
            .ok_or(InteractionError::NoUser)?
            .get(),
    );
    let user_name = interaction.author().and_then(|author| {
        display_name(
            author,
            interaction.member.as_ref().and_then(|m| m.nick.as_deref()),
        )
    });
    let ack = if matches!(interaction.data, Some(InteractionData::MessageComponent(_))) {
        Ack::Silent
    } else {
        Ack::Deferred
    };
    let core = CoreInteraction {
        id: InteractionId(interaction.id.get()),
        token: interaction.token.clone(),
        ack,
        guild: interaction.guild_id.map(twilight_model::id::Id::get),
        channel: interaction.channel.as_ref().map(|c| ChannelId(c.id.get())),
    };
    let command = match interaction.data.clone() {
        Some(InteractionData::ApplicationCommand(data)) => {
            match commands::parse(*data).map_err(|e| InteractionError::Invalid(e.to_string()))? {
                SlashCommand::HelpMe(_) => Command::HelpMe,
                SlashCommand::Case(CaseCommand::Status(s)) => Command::CaseStatus {
                    number: s.number.as_deref().map(case_number).transpose()?,
                },
                SlashCommand::Case(CaseCommand::Close(c)) => Command::CaseClose {
                    number: case_number(&c.number)?,
                },
                SlashCommand::Announce => Command::Announce {
                    form: None,
                    roles: member_roles(interaction),
                },
                SlashCommand::Setup => Command::Setup {
                    administrator: interaction.member.as_ref().is_some_and(|m| {
                        m.permissions.is_some_and(|p| {
                            p.contains(twilight_model::guild::Permissions::ADMINISTRATOR)
                        })
                    }),
                },
                SlashCommand::Bug => return Err(InteractionError::OpensModal(Form::Bug)),
                SlashCommand::NewFeature => {
                    return Err(InteractionError::OpensModal(Form::Feature));
                }
            }
        }
        Some(InteractionData::ModalSubmit(data)) => {
            match modal::parse(&data).map_err(|e| InteractionError::Invalid(e.to_string()))? {
                ModalSubmit::Bug(b) => Command::Bug {
                    title: b.title,
                    steps: b.steps,
                    expected: b.expected,
                    actual: b.actual,
                },
                ModalSubmit::Feature(f) => Command::NewFeature {
                    title: f.title,
                    description: f.description,
                },
                ModalSubmit::Announce(a) => Command::Announce {
                    form: Some(routing::community::Announcement {
                        title: a.title,
                        url: a.link,
                        text: a.body,
                        image: a.image,
                        source: user_name.clone(),
                    }),
                    roles: member_roles(interaction),
                },
            }
        }
        Some(InteractionData::MessageComponent(data)) => {
            let (button, conversation) =
                Button::parse_custom_id(&data.custom_id).ok_or(InteractionError::NotHandled)?;
            return Ok(routing::Event::Button {
                user,
                user_name,
                interaction: core,
                conversation,
                button,
            });
        }
        _ => return Err(InteractionError::NotHandled),
    };
    Ok(routing::Event::Command {
        user,
        user_name,
        interaction: core,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flexcord_routing::{
        Button, CaseNumber, ChannelId, Command, InteractionId, MessageId, UserId,
    };

    fn message(json: &str) -> Message {
        serde_json::from_str(json).expect("message fixture")
    }

    const DM: &str = r#"{"id":"300","channel_id":"400","author":{"id":"500","username":"alice","discriminator":"0"},
        "content":"hello","timestamp":"2024-01-01T00:00:00.000000+00:00","tts":false,"mention_everyone":false,
        "mentions":[],"mention_roles":[],"attachments":[{"id":"9","filename":"a.png","size":3,"url":"https://cdn/a.png","proxy_url":"https://cdn/a.png"}],
        "embeds":[],"pinned":false,"type":0}"#;

    #[test]
    fn only_human_dms_reach_the_core() {
        let bot = Id::new(100);
        let dm = message(DM);
        assert_eq!(
            from_message(&dm, bot),
            Some(routing::Event::DirectMessage {
                user: UserId(500),
                channel: ChannelId(400),
                message: MessageId(300),
                text: "hello".into(),
                attachments: vec![Attachment {
                    size: Some(3),
                    ..Attachment::link("a.png", "https://cdn/a.png")
                }],
                user_name: Some("alice".into()),
            })
        );
        // The global display name wins over the username.
        let named = message(&DM.replace(
            r#""username":"alice","#,
            r#""username":"alice","global_name":"Alice Liddell","#,
        ));
        assert!(matches!(
            from_message(&named, bot),
            Some(routing::Event::DirectMessage { user_name: Some(ref n), .. }) if n == "Alice Liddell"
        ));
        assert_eq!(
            from_message(&dm, Id::new(500)),
            None,
            "the bot's own message"
        );
        let guild = message(&DM.replace(r#""id":"300","#, r#""id":"300","guild_id":"200","#));
        assert_eq!(from_message(&guild, bot), None);
        let other_bot = message(&DM.replace(
            r#""username":"alice","#,
            r#""username":"alice","bot":true,"#,
        ));
        assert_eq!(from_message(&other_bot, bot), None);
    }

    fn interaction(data: &str, kind: u8) -> Interaction {
        let json = format!(
            r#"{{"id":"600","application_id":"100","type":{kind},"token":"tok","attachment_size_limit":8388608,
            "authorizing_integration_owners":{{}},"channel":{{"id":"400","type":1}},
            "user":{{"id":"500","username":"alice","discriminator":"0"}},"data":{data}}}"#
        );
        serde_json::from_str(&json).expect("interaction fixture")
    }

    #[test]
    fn interactions_map_to_commands_and_buttons() {
        let close = interaction(
            r#"{"id":"7","name":"case","type":1,"options":[{"name":"close","type":1,"options":[{"name":"number","type":3,"value":"CASE-12"}]}]}"#,
            2,
        );
        match from_interaction(&close).unwrap() {
            routing::Event::Command {
                user,
                user_name,
                interaction,
                command,
            } => {
                assert_eq!(user, UserId(500));
                assert_eq!(user_name.as_deref(), Some("alice"));
                assert_eq!(interaction.id, InteractionId(600));
                assert_eq!(
                    command,
                    Command::CaseClose {
                        number: CaseNumber::from("CASE-000012")
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        let bad = interaction(
            r#"{"id":"7","name":"case","type":1,"options":[{"name":"close","type":1,"options":[{"name":"number","type":3,"value":"12"}]}]}"#,
            2,
        );
        assert!(matches!(
            from_interaction(&bad),
            Err(InteractionError::Invalid(_))
        ));
        let bug = interaction(r#"{"id":"7","name":"bug","type":1}"#, 2);
        assert_eq!(
            from_interaction(&bug),
            Err(InteractionError::OpensModal(Form::Bug))
        );
        let submit = interaction(
            r#"{"custom_id":"fc:feature","components":[
            {"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"title","value":"Dark mode"}},
            {"type":18,"id":3,"component":{"type":4,"id":4,"custom_id":"description","value":"please"}}]}"#,
            5,
        );
        assert!(matches!(
            from_interaction(&submit),
            Ok(routing::Event::Command { command: Command::NewFeature { ref title, .. }, .. }) if title == "Dark mode"
        ));
        let click = interaction(r#"{"custom_id":"fc:rate4:7-100","component_type":2}"#, 3);
        assert!(matches!(
            from_interaction(&click),
            Ok(routing::Event::Button { button: Button::Rate(4), ref conversation, .. }) if conversation.as_str() == "7-100"
        ));
        let foreign = interaction(r#"{"custom_id":"other","component_type":2}"#, 3);
        assert_eq!(
            from_interaction(&foreign),
            Err(InteractionError::NotHandled)
        );
    }

    #[test]
    fn a_guild_nickname_names_the_user() {
        let json = r#"{"id":"601","application_id":"100","type":3,"token":"tok","attachment_size_limit":8388608,
            "authorizing_integration_owners":{},"channel":{"id":"401","type":0},"guild_id":"200",
            "member":{"user":{"id":"500","username":"alice","global_name":"Alice","discriminator":"0"},
                "nick":"Ally","roles":[],"joined_at":"2024-01-01T00:00:00.000000+00:00","deaf":false,
                "mute":false,"flags":0,"permissions":"0"},
            "data":{"custom_id":"fc:agent:7-100","component_type":2}}"#;
        let click: Interaction = serde_json::from_str(json).expect("interaction fixture");
        assert!(matches!(
            from_interaction(&click),
            Ok(routing::Event::Button { user: UserId(500), user_name: Some(ref n), .. }) if n == "Ally"
        ));
        let unnamed = click_without_nick(json);
        assert!(matches!(
            from_interaction(&unnamed),
            Ok(routing::Event::Button { user_name: Some(ref n), .. }) if n == "Alice"
        ));
    }

    /// A guild interaction of `alice` with these roles and permissions.
    fn in_guild(data: &str, kind: u8, roles: &str, permissions: &str) -> Interaction {
        let json = format!(
            r#"{{"id":"602","application_id":"100","type":{kind},"token":"tok","attachment_size_limit":8388608,
            "authorizing_integration_owners":{{}},"channel":{{"id":"401","type":0}},"guild_id":"200",
            "member":{{"user":{{"id":"500","username":"alice","global_name":"Alice","discriminator":"0"}},
                "roles":{roles},"joined_at":"2024-01-01T00:00:00.000000+00:00","deaf":false,
                "mute":false,"flags":0,"permissions":"{permissions}"}},
            "data":{data}}}"#
        );
        serde_json::from_str(&json).expect("interaction fixture")
    }

    #[test]
    fn announce_and_setup_carry_the_members_roles_and_rights() {
        let announce = in_guild(
            r#"{"id":"700","name":"announce","type":1}"#,
            2,
            r#"["77","78"]"#,
            "0",
        );
        assert!(matches!(
            from_interaction(&announce),
            Ok(routing::Event::Command { command: Command::Announce { form: None, ref roles }, .. })
                if *roles == [77, 78]
        ));
        let admin = in_guild(r#"{"id":"700","name":"setup","type":1}"#, 2, "[]", "8");
        assert!(matches!(
            from_interaction(&admin),
            Ok(routing::Event::Command {
                command: Command::Setup {
                    administrator: true
                },
                ..
            })
        ));
        let member = in_guild(r#"{"id":"700","name":"setup","type":1}"#, 2, "[]", "2048");
        assert!(matches!(
            from_interaction(&member),
            Ok(routing::Event::Command {
                command: Command::Setup {
                    administrator: false
                },
                ..
            })
        ));
        let form = in_guild(
            r#"{"custom_id":"fc:announce","components":[
                {"type":1,"id":1,"components":[{"type":4,"id":2,"custom_id":"title","value":"Big news"}]},
                {"type":1,"id":3,"components":[{"type":4,"id":4,"custom_id":"body","value":"It is out."}]},
                {"type":1,"id":5,"components":[{"type":4,"id":6,"custom_id":"link","value":"https://example.com/n"}]},
                {"type":1,"id":7,"components":[{"type":4,"id":8,"custom_id":"image","value":""}]}]}"#,
            5,
            r#"["77"]"#,
            "0",
        );
        let Ok(routing::Event::Command {
            command:
                Command::Announce {
                    form: Some(post),
                    roles,
                },
            ..
        }) = from_interaction(&form)
        else {
            panic!("the form is the announcement");
        };
        assert_eq!(roles, [77]);
        assert_eq!(post.title, "Big news");
        assert_eq!(post.text, "It is out.");
        assert_eq!(post.url.as_deref(), Some("https://example.com/n"));
        assert_eq!(post.image, None);
        assert_eq!(post.source.as_deref(), Some("Alice"));
        let bad_link = in_guild(
            r#"{"custom_id":"fc:announce","components":[
                {"type":1,"id":9,"components":[{"type":4,"id":10,"custom_id":"title","value":"Big news"}]},
                {"type":1,"id":11,"components":[{"type":4,"id":12,"custom_id":"body","value":"It is out."}]},
                {"type":1,"id":13,"components":[{"type":4,"id":14,"custom_id":"link","value":"javascript:alert(1)"}]}]}"#,
            5,
            "[]",
            "0",
        );
        assert!(matches!(
            from_interaction(&bad_link),
            Err(InteractionError::Invalid(_))
        ));
    }

    fn click_without_nick(json: &str) -> Interaction {
        serde_json::from_str(&json.replace(r#""nick":"Ally","#, r#""nick":null,"#))
            .expect("interaction fixture")
    }
}
