//! Turning what Discord and Twilio send into the routing core's events.
//!
//! Pure functions, no I/O: the gateway loop and the webhook handlers call them, and the result
//! goes to the driver (`store.load -> router.handle -> store.commit`). `None` means "nothing for
//! the core": the bot's own messages, guild chatter, events without the fields the core needs.

use flexcord_routing as routing;
use flexcord_twilio::webhook::{ChatEvent, ConversationsEvent, Event as Webhook};
use routing::{
    Attachment, Button, CaseNumber, ChannelId, Command, Interaction as CoreInteraction,
    InteractionId, MessageId, TwilioMessageSid, TwilioSid, UserId,
};
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::channel::Message;
use twilight_model::id::Id;
use twilight_model::id::marker::UserMarker;
use twilight_model::user::User;

use crate::discord::commands::{self, CaseCommand, SlashCommand};
use crate::discord::modal::{self, ModalSubmit};
use crate::server::BotRequest;

/// The routing event for a Twilio webhook, or `None` for events the core does not use (an
/// author-less message, a conversation that merely went inactive, a chat channel update that
/// does not end it).
pub fn from_webhook(event: &Webhook) -> Option<routing::Event> {
    match event {
        Webhook::Conversations(ConversationsEvent::MessageAdded(m)) => {
            Some(routing::Event::TwilioMessage {
                sid: TwilioSid::from(m.conversation_sid.as_str()),
                message: TwilioMessageSid::from(m.message_sid.as_str()),
                author: m.author.clone()?,
                body: m.body.clone().unwrap_or_default(),
                attachments: m
                    .media
                    .iter()
                    .map(|x| Attachment {
                        filename: x.filename.clone().unwrap_or_default(),
                        url: String::new(),
                        content_type: x.content_type.clone(),
                        size: x.size,
                        media_sid: x.sid.map(|s| s.to_string()),
                        media_service: m.context.chat_service_sid.map(|s| s.to_string()),
                    })
                    .collect(),
            })
        }
        Webhook::Conversations(ConversationsEvent::MessageUpdated(m)) => {
            Some(routing::Event::TwilioMessageUpdated {
                sid: TwilioSid::from(m.conversation_sid.as_str()),
                message: TwilioMessageSid::from(m.message_sid.as_str()),
                author: m.author.clone()?,
                body: m.body.clone().unwrap_or_default(),
            })
        }
        Webhook::Conversations(ConversationsEvent::ParticipantAdded(p)) => {
            Some(routing::Event::ParticipantJoined {
                sid: TwilioSid::from(p.conversation_sid.as_str()),
                identity: p.identity.clone()?,
            })
        }
        Webhook::Conversations(ConversationsEvent::StateUpdated(s)) => {
            (s.state_to.as_str() == "closed").then(|| routing::Event::TwilioClosed {
                sid: TwilioSid::from(s.conversation_sid.as_str()),
            })
        }
        Webhook::Chat(ChatEvent::MessageSent(m)) => Some(routing::Event::TwilioMessage {
            sid: TwilioSid::from(m.channel_sid.as_str()),
            message: TwilioMessageSid::from(m.message_sid.as_str()),
            author: m.from.clone()?,
            body: m.body.clone().unwrap_or_default(),
            attachments: Vec::new(),
        }),
        Webhook::Chat(ChatEvent::MessageUpdated(m)) => Some(routing::Event::TwilioMessageUpdated {
            sid: TwilioSid::from(m.channel_sid.as_str()),
            message: TwilioMessageSid::from(m.message_sid.as_str()),
            author: m.from.clone()?,
            body: m.body.clone().unwrap_or_default(),
        }),
        Webhook::Chat(ChatEvent::MediaMessageSent(m)) => Some(routing::Event::TwilioMessage {
            sid: TwilioSid::from(m.channel_sid.as_str()),
            message: TwilioMessageSid::from(m.message_sid.as_str()),
            author: m.from.clone()?,
            body: String::new(),
            attachments: vec![Attachment {
                filename: m.media_filename.clone().unwrap_or_default(),
                url: String::new(),
                content_type: m.media_content_type.clone(),
                size: m.media_size,
                media_sid: m.media_sid.map(|s| s.to_string()),
                media_service: m.context.service_sid.map(|s| s.to_string()),
            }],
        }),
        Webhook::Chat(ChatEvent::MemberAdded(m)) => Some(routing::Event::ParticipantJoined {
            sid: TwilioSid::from(m.channel_sid.as_str()),
            identity: m.identity.clone()?,
        }),
        Webhook::Chat(ChatEvent::ChannelUpdated(c)) => c
            .flex_status()
            .filter(|s| s.eq_ignore_ascii_case("inactive") || s.eq_ignore_ascii_case("closed"))
            .map(|_| routing::Event::TwilioClosed {
                sid: TwilioSid::from(c.channel_sid.as_str()),
            }),
        _ => None,
    }
}

/// The routing event for `POST /twilio/bot`.
pub fn from_bot_request(request: &BotRequest) -> routing::Event {
    routing::Event::BotAsked {
        sid: TwilioSid::from(request.conversation.as_str()),
        message: TwilioMessageSid::from(request.message_sid.as_str()),
        author: request.author.clone(),
        body: request.body.clone(),
    }
}

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
/// (`fc:...` custom ids). `/bug` and `/new_feature` themselves are answered with a modal by the
/// interaction handler; their submissions become the commands.
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
    let core = CoreInteraction {
        id: InteractionId(interaction.id.get()),
        token: interaction.token.clone(),
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
                SlashCommand::Bug | SlashCommand::NewFeature => {
                    return Err(InteractionError::NotHandled);
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

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const CH: &str = "CH0123456789abcdef0123456789abcdef";
    const IM: &str = "IM0123456789abcdef0123456789abcdef";

    #[test]
    fn conversations_webhooks_map_to_core_events() {
        let added = Webhook::from_form(&form(&[
            ("EventType", "onMessageAdded"),
            ("ConversationSid", CH),
            ("MessageSid", IM),
            ("Author", "agent@example.com"),
            ("Body", "Hello"),
        ]));
        assert_eq!(
            from_webhook(&added),
            Some(routing::Event::TwilioMessage {
                sid: TwilioSid::from(CH),
                message: TwilioMessageSid::from(IM),
                author: "agent@example.com".into(),
                body: "Hello".into(),
                attachments: Vec::new(),
            })
        );
        let joined = Webhook::from_form(&form(&[
            ("EventType", "onParticipantAdded"),
            ("ConversationSid", CH),
            ("ParticipantSid", "MB0123456789abcdef0123456789abcdef"),
            ("Identity", "agent@example.com"),
        ]));
        assert_eq!(
            from_webhook(&joined),
            Some(routing::Event::ParticipantJoined {
                sid: TwilioSid::from(CH),
                identity: "agent@example.com".into()
            })
        );
        let closed = Webhook::from_form(&form(&[
            ("EventType", "onConversationStateUpdated"),
            ("ConversationSid", CH),
            ("StateFrom", "active"),
            ("StateTo", "closed"),
        ]));
        assert_eq!(
            from_webhook(&closed),
            Some(routing::Event::TwilioClosed {
                sid: TwilioSid::from(CH)
            })
        );
        let inactive = Webhook::from_form(&form(&[
            ("EventType", "onConversationStateUpdated"),
            ("ConversationSid", CH),
            ("StateTo", "inactive"),
        ]));
        assert_eq!(
            from_webhook(&inactive),
            None,
            "inactive is a pause, not an end"
        );
        let unknown = Webhook::from_form(&form(&[("EventType", "onUserAdded")]));
        assert_eq!(from_webhook(&unknown), None);
    }

    #[test]
    fn chat_webhooks_map_to_core_events() {
        let sent = Webhook::from_form(&form(&[
            ("EventType", "onMessageSent"),
            ("ChannelSid", CH),
            ("MessageSid", IM),
            ("From", "agent"),
            ("Body", "Hi"),
        ]));
        assert!(matches!(
            from_webhook(&sent),
            Some(routing::Event::TwilioMessage { ref author, ref body, .. }) if author == "agent" && body == "Hi"
        ));
        let inactive = Webhook::from_form(&form(&[
            ("EventType", "onChannelUpdated"),
            ("ChannelSid", CH),
            ("Attributes", r#"{"status":"INACTIVE"}"#),
        ]));
        assert_eq!(
            from_webhook(&inactive),
            Some(routing::Event::TwilioClosed {
                sid: TwilioSid::from(CH)
            })
        );
        let active = Webhook::from_form(&form(&[
            ("EventType", "onChannelUpdated"),
            ("ChannelSid", CH),
            ("Attributes", r#"{"status":"ACTIVE"}"#),
        ]));
        assert_eq!(from_webhook(&active), None);
    }

    #[test]
    fn bot_requests_map_to_bot_asked() {
        let req = BotRequest {
            conversation: CH.into(),
            message_sid: IM.into(),
            author: "discord:5".into(),
            body: "hi".into(),
        };
        assert_eq!(
            from_bot_request(&req),
            routing::Event::BotAsked {
                sid: TwilioSid::from(CH),
                message: TwilioMessageSid::from(IM),
                author: "discord:5".into(),
                body: "hi".into()
            }
        );
    }

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
        assert_eq!(from_interaction(&bug), Err(InteractionError::NotHandled));
        let submit = interaction(
            r#"{"custom_id":"flexcord:feature","components":[
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

    fn click_without_nick(json: &str) -> Interaction {
        serde_json::from_str(&json.replace(r#""nick":"Ally","#, r#""nick":null,"#))
            .expect("interaction fixture")
    }
}
