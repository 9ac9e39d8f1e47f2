//! Turning what Twilio sends (webhooks, Studio's bot requests) into the routing core's events.
//!
//! Pure functions, no I/O: the webhook handlers call them, and the result goes to the driver
//! (`store.load -> router.handle -> store.commit`). `None` means "nothing for the core": an
//! author-less message, a conversation that merely went inactive, event types the bridge does
//! not use. Discord's side is `discord::inbound`.

use flexcord_routing as routing;
use flexcord_twilio::webhook::{ChatEvent, ConversationsEvent, Event as Webhook};
use routing::{Attachment, TwilioMessageSid, TwilioSid};

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
                index: m.index,
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
            index: m.index,
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
            index: m.index,
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
                index: None,
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
}
