//! Typed webhook events from Programmable Chat and Conversations.

use std::str::FromStr;

use serde::Deserialize;

use crate::conversations::ConversationState;
use crate::enums::string_enum;
use crate::sid::{
    AccountSid, ChannelSid, ConversationSid, MediaSid, MemberSid, MessageSid, MessagingServiceSid,
    ParticipantSid, RoleSid, ServiceSid, SidError, SidKind, WebhookSid,
};

string_enum! {
    /// Who caused an event (`Source`).
    pub enum Source {
        /// A client SDK, e.g. an agent in the Flex UI.
        Sdk = "SDK",
        /// The REST API (only reported when the request carried `X-Twilio-Webhook-Enabled: true`).
        Api = "API",
    }
}

/// A webhook request from Twilio, decoded from its form parameters.
///
/// [`Event::from_form`] never fails: an event type this crate does not model, and a known event
/// type whose required fields are missing or malformed, both become [`Event::Unknown`] with all
/// the fields kept. [`Event::try_from_form`] reports the second case as an [`EventError`].
///
/// ```
/// use flexcord_twilio::webhook::{ConversationsEvent, Event};
/// let form: Vec<(String, String)> = [
///     ("EventType", "onMessageAdded"),
///     ("ConversationSid", "CH0123456789abcdef0123456789abcdef"),
///     ("MessageSid", "IM0123456789abcdef0123456789abcdef"),
///     ("Author", "agent@example.com"),
///     ("Body", "Hello"),
///     ("Source", "SDK"),
/// ]
/// .iter()
/// .map(|(k, v)| (k.to_string(), v.to_string()))
/// .collect();
/// match Event::from_form(&form) {
///     Event::Conversations(ConversationsEvent::MessageAdded(msg)) => {
///         assert_eq!(msg.author.as_deref(), Some("agent@example.com"));
///         assert_eq!(msg.body.as_deref(), Some("Hello"));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A Programmable Chat event.
    Chat(ChatEvent),
    /// A Conversations event.
    Conversations(ConversationsEvent),
    /// An event type this crate does not model (or a malformed known one), with every field.
    Unknown {
        /// The `EventType` parameter (empty if absent).
        event_type: String,
        /// All form parameters, in the order received.
        fields: Vec<(String, String)>,
    },
}

/// A Programmable Chat webhook event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// `onMessageSent`.
    MessageSent(ChatMessageEvent),
    /// `onMessageUpdated`.
    MessageUpdated(ChatMessageEvent),
    /// `onMediaMessageSent`.
    MediaMessageSent(ChatMediaMessageEvent),
    /// `onMemberAdded`.
    MemberAdded(ChatMemberEvent),
    /// `onChannelUpdated`.
    ChannelUpdated(ChatChannelEvent),
}

/// A Conversations webhook event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConversationsEvent {
    /// `onMessageAdded`.
    MessageAdded(ConversationMessageEvent),
    /// `onMessageUpdated`.
    MessageUpdated(ConversationMessageEvent),
    /// `onParticipantAdded`.
    ParticipantAdded(ParticipantAddedEvent),
    /// `onConversationStateUpdated`.
    StateUpdated(StateUpdatedEvent),
}

/// Fields every Chat webhook carries.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ChatContext {
    /// `AccountSid`.
    pub account_sid: Option<AccountSid>,
    /// `InstanceSid`: the Chat service.
    pub service_sid: Option<ServiceSid>,
    /// `Source`: `SDK` or `API`.
    pub source: Option<Source>,
    /// `ClientIdentity`: the SDK user who acted (SDK events only).
    pub client_identity: Option<String>,
    /// `RetryCount`: delivery attempt, 0 on the first try.
    pub retry_count: Option<u32>,
    /// `WebhookSid`: the channel-scoped webhook that called (channel webhooks only).
    pub webhook_sid: Option<WebhookSid>,
    /// `WebhookType`: `webhook`, `trigger` or `studio` (channel webhooks only).
    pub webhook_type: Option<String>,
}

/// `onMessageSent` / `onMessageUpdated` (Chat).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChatMessageEvent {
    /// Fields common to every Chat event.
    pub context: ChatContext,
    /// `ChannelSid`.
    pub channel_sid: ChannelSid,
    /// `MessageSid`.
    pub message_sid: MessageSid,
    /// `Index`: position in the channel.
    pub index: Option<u64>,
    /// `Body`.
    pub body: Option<String>,
    /// `Attributes`: a JSON text.
    pub attributes: Option<String>,
    /// `From`: the author's identity.
    pub from: Option<String>,
    /// `DateCreated`, ISO 8601 as sent.
    pub date_created: Option<String>,
    /// `DateUpdated` (updates only).
    pub date_updated: Option<String>,
    /// `ModifiedBy` (updates only).
    pub modified_by: Option<String>,
}

/// `onMediaMessageSent` (Chat).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChatMediaMessageEvent {
    /// Fields common to every Chat event.
    pub context: ChatContext,
    /// `ChannelSid`.
    pub channel_sid: ChannelSid,
    /// `MessageSid`.
    pub message_sid: MessageSid,
    /// `Index`.
    pub index: Option<u64>,
    /// `Attributes`: a JSON text.
    pub attributes: Option<String>,
    /// `From`: the author's identity.
    pub from: Option<String>,
    /// `DateCreated`.
    pub date_created: Option<String>,
    /// `MediaSid`.
    pub media_sid: Option<MediaSid>,
    /// `MediaFilename`.
    pub media_filename: Option<String>,
    /// `MediaContentType`.
    pub media_content_type: Option<String>,
    /// `MediaSize` in bytes.
    pub media_size: Option<u64>,
}

/// `onMemberAdded` (Chat).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChatMemberEvent {
    /// Fields common to every Chat event.
    pub context: ChatContext,
    /// `ChannelSid`.
    pub channel_sid: ChannelSid,
    /// `MemberSid`.
    pub member_sid: Option<MemberSid>,
    /// `Identity`.
    pub identity: Option<String>,
    /// `RoleSid`.
    pub role_sid: Option<RoleSid>,
}

/// `onChannelUpdated` (Chat).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChatChannelEvent {
    /// Fields common to every Chat event.
    pub context: ChatContext,
    /// `ChannelSid`.
    pub channel_sid: ChannelSid,
    /// `Attributes`: a JSON text; Flex sets `status` to `INACTIVE` when a chat ends.
    pub attributes: Option<String>,
    /// `FriendlyName`.
    pub friendly_name: Option<String>,
    /// `UniqueName`.
    pub unique_name: Option<String>,
    /// `ChannelType`.
    pub channel_type: Option<String>,
    /// `DateUpdated`.
    pub date_updated: Option<String>,
}

fn parse_json(text: Option<&str>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

impl ChatMessageEvent {
    /// `Attributes` parsed as JSON (`None` when absent or not JSON).
    pub fn attributes_json(&self) -> Option<serde_json::Value> {
        parse_json(self.attributes.as_deref())
    }
}

impl ChatChannelEvent {
    /// `Attributes` parsed as JSON (`None` when absent or not JSON).
    pub fn attributes_json(&self) -> Option<serde_json::Value> {
        parse_json(self.attributes.as_deref())
    }

    /// The `status` Flex keeps in the channel's attributes (`ACTIVE`, `INACTIVE` when the
    /// agent ended the chat), if present.
    pub fn flex_status(&self) -> Option<String> {
        self.attributes_json()?
            .get("status")?
            .as_str()
            .map(str::to_owned)
    }
}

impl ConversationMessageEvent {
    /// `Attributes` parsed as JSON (`None` when absent or not JSON).
    pub fn attributes_json(&self) -> Option<serde_json::Value> {
        parse_json(self.attributes.as_deref())
    }
}

/// Fields every Conversations webhook carries.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ConversationsContext {
    /// `AccountSid`.
    pub account_sid: Option<AccountSid>,
    /// `ChatServiceSid`.
    pub chat_service_sid: Option<ServiceSid>,
    /// `Source`: `SDK`, `API`, or a channel name such as `SMS`.
    pub source: Option<Source>,
    /// `ClientIdentity` (SDK events only).
    pub client_identity: Option<String>,
    /// `RetryCount`.
    pub retry_count: Option<u32>,
    /// `MessagingServiceSid`, when the conversation has one.
    pub messaging_service_sid: Option<MessagingServiceSid>,
}

/// `onMessageAdded` / `onMessageUpdated` (Conversations).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConversationMessageEvent {
    /// Fields common to every Conversations event.
    pub context: ConversationsContext,
    /// `ConversationSid`.
    pub conversation_sid: ConversationSid,
    /// `MessageSid`.
    pub message_sid: MessageSid,
    /// `Index`.
    pub index: Option<u64>,
    /// `Author`: identity or address.
    pub author: Option<String>,
    /// `Body`.
    pub body: Option<String>,
    /// `Attributes`: a JSON text.
    pub attributes: Option<String>,
    /// `ParticipantSid` (absent or empty for `system`).
    pub participant_sid: Option<ParticipantSid>,
    /// `DateCreated`, ISO 8601 as sent.
    pub date_created: Option<String>,
    /// `DateUpdated` (updates only).
    pub date_updated: Option<String>,
    /// `Media`: attached media items (empty when none).
    pub media: Vec<WebhookMedia>,
    /// `Subject` (e-mail conversations).
    pub subject: Option<String>,
}

/// One item of a Conversations message's `Media` field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WebhookMedia {
    /// The media SID (`Sid` in webhooks, `MediaSid` in Event Streams; both accepted).
    #[serde(alias = "Sid", alias = "MediaSid", default)]
    pub sid: Option<MediaSid>,
    /// File name.
    #[serde(alias = "Filename", default)]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(alias = "ContentType", default)]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[serde(alias = "Size", default)]
    pub size: Option<u64>,
}

/// `onParticipantAdded` (Conversations).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParticipantAddedEvent {
    /// Fields common to every Conversations event.
    pub context: ConversationsContext,
    /// `ConversationSid`.
    pub conversation_sid: ConversationSid,
    /// `ParticipantSid`.
    pub participant_sid: ParticipantSid,
    /// `Identity` (chat participants).
    pub identity: Option<String>,
    /// `RoleSid`.
    pub role_sid: Option<RoleSid>,
    /// `Attributes`: a JSON text.
    pub attributes: Option<String>,
    /// `DateCreated`.
    pub date_created: Option<String>,
    /// `MessagingBinding.*` (non-chat participants).
    pub messaging_binding: Option<WebhookMessagingBinding>,
}

/// A non-chat participant's address, from `MessagingBinding.*` fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WebhookMessagingBinding {
    /// `MessagingBinding.Type`, e.g. `sms`.
    pub kind: Option<String>,
    /// `MessagingBinding.Address`.
    pub address: Option<String>,
    /// `MessagingBinding.ProxyAddress`.
    pub proxy_address: Option<String>,
    /// `MessagingBinding.ProjectedAddress`.
    pub projected_address: Option<String>,
}

/// `onConversationStateUpdated` (Conversations).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StateUpdatedEvent {
    /// Fields common to every Conversations event.
    pub context: ConversationsContext,
    /// `ConversationSid`.
    pub conversation_sid: ConversationSid,
    /// `StateFrom`.
    pub state_from: Option<ConversationState>,
    /// `StateTo`.
    pub state_to: ConversationState,
    /// `StateUpdated`: when, ISO 8601 as sent.
    pub state_updated: Option<String>,
    /// `Reason`: `API` when changed by a request, another value for timers.
    pub reason: Option<String>,
}

/// A known event type whose fields could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A required field is absent or empty.
    #[error("{event_type}: required field {field} is missing")]
    MissingField {
        /// The event type.
        event_type: String,
        /// The wire name of the field.
        field: &'static str,
    },
    /// A field that should hold a SID does not.
    #[error("{event_type}: field {field}: {source}")]
    InvalidSid {
        /// The event type.
        event_type: String,
        /// The wire name of the field.
        field: &'static str,
        /// The SID error.
        source: SidError,
    },
    /// A field that should hold a number (or JSON) does not.
    #[error("{event_type}: field {field} has an invalid value")]
    InvalidValue {
        /// The event type.
        event_type: String,
        /// The wire name of the field.
        field: &'static str,
    },
}

/// Read access to form fields with typed errors.
struct Form<'a> {
    event_type: &'a str,
    fields: &'a [(String, String)],
}

impl<'a> Form<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    fn non_empty(&self, name: &str) -> Option<&'a str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    fn sid<K: SidKind>(&self, name: &'static str) -> Result<crate::sid::Sid<K>, EventError> {
        self.opt_sid(name)?.ok_or_else(|| EventError::MissingField {
            event_type: self.event_type.to_owned(),
            field: name,
        })
    }

    fn opt_sid<K: SidKind>(
        &self,
        name: &'static str,
    ) -> Result<Option<crate::sid::Sid<K>>, EventError> {
        self.non_empty(name)
            .map(|v| {
                v.parse().map_err(|source| EventError::InvalidSid {
                    event_type: self.event_type.to_owned(),
                    field: name,
                    source,
                })
            })
            .transpose()
    }

    fn number<T: FromStr>(&self, name: &'static str) -> Result<Option<T>, EventError> {
        self.non_empty(name)
            .map(|v| {
                v.trim().parse().map_err(|_| EventError::InvalidValue {
                    event_type: self.event_type.to_owned(),
                    field: name,
                })
            })
            .transpose()
    }

    fn chat_context(&self) -> Result<ChatContext, EventError> {
        Ok(ChatContext {
            account_sid: self.opt_sid("AccountSid")?,
            service_sid: self.opt_sid("InstanceSid")?,
            source: self.non_empty("Source").map(Source::from),
            client_identity: self.text("ClientIdentity"),
            retry_count: self.number("RetryCount")?,
            webhook_sid: self.opt_sid("WebhookSid")?,
            webhook_type: self.text("WebhookType"),
        })
    }

    fn conversations_context(&self) -> Result<ConversationsContext, EventError> {
        Ok(ConversationsContext {
            account_sid: self.opt_sid("AccountSid")?,
            chat_service_sid: self.opt_sid("ChatServiceSid")?,
            source: self.non_empty("Source").map(Source::from),
            client_identity: self.text("ClientIdentity"),
            retry_count: self.number("RetryCount")?,
            messaging_service_sid: self.opt_sid("MessagingServiceSid")?,
        })
    }

    fn chat_message(&self) -> Result<ChatMessageEvent, EventError> {
        Ok(ChatMessageEvent {
            context: self.chat_context()?,
            channel_sid: self.sid("ChannelSid")?,
            message_sid: self.sid("MessageSid")?,
            index: self.number("Index")?,
            body: self.text("Body"),
            attributes: self.text("Attributes"),
            from: self.text("From"),
            date_created: self.text("DateCreated"),
            date_updated: self.text("DateUpdated"),
            modified_by: self.text("ModifiedBy"),
        })
    }

    fn chat_media_message(&self) -> Result<ChatMediaMessageEvent, EventError> {
        Ok(ChatMediaMessageEvent {
            context: self.chat_context()?,
            channel_sid: self.sid("ChannelSid")?,
            message_sid: self.sid("MessageSid")?,
            index: self.number("Index")?,
            attributes: self.text("Attributes"),
            from: self.text("From"),
            date_created: self.text("DateCreated"),
            media_sid: self.opt_sid("MediaSid")?,
            media_filename: self.text("MediaFilename"),
            media_content_type: self.text("MediaContentType"),
            media_size: self.number("MediaSize")?,
        })
    }

    fn chat_member(&self) -> Result<ChatMemberEvent, EventError> {
        Ok(ChatMemberEvent {
            context: self.chat_context()?,
            channel_sid: self.sid("ChannelSid")?,
            member_sid: self.opt_sid("MemberSid")?,
            identity: self.text("Identity"),
            role_sid: self.opt_sid("RoleSid")?,
        })
    }

    fn chat_channel(&self) -> Result<ChatChannelEvent, EventError> {
        Ok(ChatChannelEvent {
            context: self.chat_context()?,
            channel_sid: self.sid("ChannelSid")?,
            attributes: self.text("Attributes"),
            friendly_name: self.text("FriendlyName"),
            unique_name: self.text("UniqueName"),
            channel_type: self.text("ChannelType"),
            date_updated: self.text("DateUpdated"),
        })
    }

    fn conversation_message(&self) -> Result<ConversationMessageEvent, EventError> {
        let media = match self.non_empty("Media") {
            None => Vec::new(),
            Some(text) => serde_json::from_str::<Option<Vec<WebhookMedia>>>(text)
                .map_err(|_| EventError::InvalidValue {
                    event_type: self.event_type.to_owned(),
                    field: "Media",
                })?
                .unwrap_or_default(),
        };
        Ok(ConversationMessageEvent {
            context: self.conversations_context()?,
            conversation_sid: self.sid("ConversationSid")?,
            message_sid: self.sid("MessageSid")?,
            index: self.number("Index")?,
            author: self.text("Author"),
            body: self.text("Body"),
            attributes: self.text("Attributes"),
            participant_sid: self.opt_sid("ParticipantSid")?,
            date_created: self.text("DateCreated"),
            date_updated: self.text("DateUpdated"),
            media,
            subject: self.text("Subject"),
        })
    }

    fn participant_added(&self) -> Result<ParticipantAddedEvent, EventError> {
        let binding = WebhookMessagingBinding {
            kind: self.text("MessagingBinding.Type"),
            address: self.text("MessagingBinding.Address"),
            proxy_address: self.text("MessagingBinding.ProxyAddress"),
            projected_address: self.text("MessagingBinding.ProjectedAddress"),
        };
        let messaging_binding = (binding != WebhookMessagingBinding::default()).then_some(binding);
        Ok(ParticipantAddedEvent {
            context: self.conversations_context()?,
            conversation_sid: self.sid("ConversationSid")?,
            participant_sid: self.sid("ParticipantSid")?,
            identity: self.text("Identity"),
            role_sid: self.opt_sid("RoleSid")?,
            attributes: self.text("Attributes"),
            date_created: self.text("DateCreated"),
            messaging_binding,
        })
    }

    fn state_updated(&self) -> Result<StateUpdatedEvent, EventError> {
        let state_to = self
            .non_empty("StateTo")
            .map(ConversationState::from)
            .ok_or_else(|| EventError::MissingField {
                event_type: self.event_type.to_owned(),
                field: "StateTo",
            })?;
        Ok(StateUpdatedEvent {
            context: self.conversations_context()?,
            conversation_sid: self.sid("ConversationSid")?,
            state_from: self.non_empty("StateFrom").map(ConversationState::from),
            state_to,
            state_updated: self.text("StateUpdated"),
            reason: self.text("Reason"),
        })
    }
}

impl Event {
    /// Decodes a webhook's form parameters. Never fails and never panics: unknown or malformed
    /// events become [`Event::Unknown`] with every field kept.
    pub fn from_form(params: &[(String, String)]) -> Event {
        Self::try_from_form(params).unwrap_or_else(|_| Event::Unknown {
            event_type: event_type_of(params).to_owned(),
            fields: params.to_vec(),
        })
    }

    /// Decodes a webhook's form parameters, reporting a known event type with missing or
    /// malformed required fields as an error. Unknown event types are `Ok(Event::Unknown)`.
    ///
    /// `onMessageUpdated` exists in both products: it is a Conversations event when the request
    /// has a `ConversationSid`, a Chat event otherwise.
    ///
    /// # Errors
    /// [`EventError`] naming the event type and the field at fault.
    pub fn try_from_form(params: &[(String, String)]) -> Result<Event, EventError> {
        let event_type = event_type_of(params);
        let form = Form {
            event_type,
            fields: params,
        };
        let is_conversations = form.has("ConversationSid");
        let event = match event_type {
            "onMessageSent" => Event::Chat(ChatEvent::MessageSent(form.chat_message()?)),
            "onMessageUpdated" if !is_conversations => {
                Event::Chat(ChatEvent::MessageUpdated(form.chat_message()?))
            }
            "onMediaMessageSent" => {
                Event::Chat(ChatEvent::MediaMessageSent(form.chat_media_message()?))
            }
            "onMemberAdded" => Event::Chat(ChatEvent::MemberAdded(form.chat_member()?)),
            "onChannelUpdated" => Event::Chat(ChatEvent::ChannelUpdated(form.chat_channel()?)),
            "onMessageAdded" => Event::Conversations(ConversationsEvent::MessageAdded(
                form.conversation_message()?,
            )),
            "onMessageUpdated" => Event::Conversations(ConversationsEvent::MessageUpdated(
                form.conversation_message()?,
            )),
            "onParticipantAdded" => Event::Conversations(ConversationsEvent::ParticipantAdded(
                form.participant_added()?,
            )),
            "onConversationStateUpdated" => {
                Event::Conversations(ConversationsEvent::StateUpdated(form.state_updated()?))
            }
            other => Event::Unknown {
                event_type: other.to_owned(),
                fields: params.to_vec(),
            },
        };
        Ok(event)
    }

    /// The wire `EventType` of this event, e.g. `onMessageAdded`.
    pub fn event_type(&self) -> &str {
        match self {
            Event::Chat(ChatEvent::MessageSent(_)) => "onMessageSent",
            Event::Chat(ChatEvent::MessageUpdated(_))
            | Event::Conversations(ConversationsEvent::MessageUpdated(_)) => "onMessageUpdated",
            Event::Chat(ChatEvent::MediaMessageSent(_)) => "onMediaMessageSent",
            Event::Chat(ChatEvent::MemberAdded(_)) => "onMemberAdded",
            Event::Chat(ChatEvent::ChannelUpdated(_)) => "onChannelUpdated",
            Event::Conversations(ConversationsEvent::MessageAdded(_)) => "onMessageAdded",
            Event::Conversations(ConversationsEvent::ParticipantAdded(_)) => "onParticipantAdded",
            Event::Conversations(ConversationsEvent::StateUpdated(_)) => {
                "onConversationStateUpdated"
            }
            Event::Unknown { event_type, .. } => event_type,
        }
    }
}

fn event_type_of(params: &[(String, String)]) -> &str {
    params
        .iter()
        .find(|(k, _)| k == "EventType")
        .map_or("", |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = "CH0123456789abcdef0123456789abcdef";
    const IM: &str = "IM0123456789abcdef0123456789abcdef";
    const MB: &str = "MB0123456789abcdef0123456789abcdef";
    const ME: &str = "ME0123456789abcdef0123456789abcdef";
    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const IS: &str = "IS0123456789abcdef0123456789abcdef";

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn conversations_message_added_with_media() {
        let media =
            format!(r#"[{{"Sid":"{ME}","Filename":"a.png","ContentType":"image/png","Size":42}}]"#);
        let f = form(&[
            ("EventType", "onMessageAdded"),
            ("AccountSid", AC),
            ("ChatServiceSid", IS),
            ("ConversationSid", CH),
            ("MessageSid", IM),
            ("Index", "3"),
            ("Author", "agent"),
            ("Body", "hi"),
            ("Attributes", "{}"),
            ("ParticipantSid", MB),
            ("Source", "SDK"),
            ("RetryCount", "0"),
            ("Media", &media),
        ]);
        let Event::Conversations(ConversationsEvent::MessageAdded(m)) = Event::from_form(&f) else {
            panic!("not a message");
        };
        assert_eq!(m.conversation_sid.as_str(), CH);
        assert_eq!(m.message_sid.as_str(), IM);
        assert_eq!(m.index, Some(3));
        assert_eq!(
            m.participant_sid.map(|s| s.to_string()).as_deref(),
            Some(MB)
        );
        assert_eq!(m.context.source, Some(Source::Sdk));
        assert_eq!(m.context.retry_count, Some(0));
        assert_eq!(m.media.len(), 1);
        assert_eq!(m.media[0].sid.map(|s| s.to_string()).as_deref(), Some(ME));
        assert_eq!(m.media[0].size, Some(42));
        assert_eq!(m.media[0].content_type.as_deref(), Some("image/png"));
    }

    #[test]
    fn media_sid_key_from_event_streams_is_accepted() {
        let media = format!(r#"[{{"MediaSid":"{ME}"}}]"#);
        let f = form(&[
            ("EventType", "onMessageUpdated"),
            ("ConversationSid", CH),
            ("MessageSid", IM),
            ("ParticipantSid", ""),
            ("Media", &media),
        ]);
        let Event::Conversations(ConversationsEvent::MessageUpdated(m)) = Event::from_form(&f)
        else {
            panic!("not a conversations update");
        };
        assert_eq!(m.participant_sid, None);
        assert_eq!(m.media[0].sid.map(|s| s.to_string()).as_deref(), Some(ME));
    }

    #[test]
    fn chat_message_updated_without_conversation_sid() {
        let f = form(&[
            ("EventType", "onMessageUpdated"),
            ("ChannelSid", CH),
            ("MessageSid", IM),
            ("ModifiedBy", "agent"),
            ("InstanceSid", IS),
        ]);
        let Event::Chat(ChatEvent::MessageUpdated(m)) = Event::from_form(&f) else {
            panic!("not chat");
        };
        assert_eq!(m.modified_by.as_deref(), Some("agent"));
        assert_eq!(
            m.context.service_sid.map(|s| s.to_string()).as_deref(),
            Some(IS)
        );
    }

    #[test]
    fn every_chat_event_parses() {
        let cases = [
            ("onMessageSent", "onMessageSent"),
            ("onMediaMessageSent", "onMediaMessageSent"),
            ("onMemberAdded", "onMemberAdded"),
            ("onChannelUpdated", "onChannelUpdated"),
        ];
        for (event_type, want) in cases {
            let f = form(&[
                ("EventType", event_type),
                ("ChannelSid", CH),
                ("MessageSid", IM),
                ("MemberSid", MB),
                ("MediaSid", ME),
                ("MediaSize", "10"),
                ("Source", "API"),
            ]);
            let event = Event::try_from_form(&f).expect("parses");
            assert!(matches!(event, Event::Chat(_)), "{event_type}");
            assert_eq!(event.event_type(), want);
        }
    }

    #[test]
    fn chat_channel_updated_exposes_flex_status() {
        let f = form(&[
            ("EventType", "onChannelUpdated"),
            ("ChannelSid", CH),
            ("Attributes", r#"{"status":"INACTIVE","from":"Ada"}"#),
        ]);
        let Event::Chat(ChatEvent::ChannelUpdated(c)) = Event::from_form(&f) else {
            panic!("not channel updated");
        };
        assert_eq!(c.flex_status().as_deref(), Some("INACTIVE"));
        assert_eq!(c.attributes_json().expect("json")["from"], "Ada");
    }

    #[test]
    fn participant_added_and_state_updated() {
        let f = form(&[
            ("EventType", "onParticipantAdded"),
            ("ConversationSid", CH),
            ("ParticipantSid", MB),
            ("Identity", "agent@example.com"),
        ]);
        let Event::Conversations(ConversationsEvent::ParticipantAdded(p)) = Event::from_form(&f)
        else {
            panic!("not participant");
        };
        assert_eq!(p.identity.as_deref(), Some("agent@example.com"));
        assert_eq!(p.messaging_binding, None);

        let f = form(&[
            ("EventType", "onConversationStateUpdated"),
            ("ConversationSid", CH),
            ("StateFrom", "active"),
            ("StateTo", "closed"),
            ("Reason", "API"),
        ]);
        let Event::Conversations(ConversationsEvent::StateUpdated(s)) = Event::from_form(&f) else {
            panic!("not state");
        };
        assert_eq!(s.state_from, Some(ConversationState::Active));
        assert_eq!(s.state_to, ConversationState::Closed);
    }

    #[test]
    fn unknown_event_keeps_fields() {
        let f = form(&[("EventType", "onSomethingNew"), ("X", "1")]);
        let event = Event::from_form(&f);
        assert_eq!(
            event,
            Event::Unknown {
                event_type: "onSomethingNew".into(),
                fields: f.clone()
            }
        );
        assert_eq!(event.event_type(), "onSomethingNew");
        let empty = Event::from_form(&[]);
        assert_eq!(empty.event_type(), "");
    }

    #[test]
    fn malformed_known_event_is_typed_error_or_unknown() {
        let f = form(&[("EventType", "onMessageAdded"), ("ConversationSid", CH)]);
        assert_eq!(
            Event::try_from_form(&f),
            Err(EventError::MissingField {
                event_type: "onMessageAdded".into(),
                field: "MessageSid"
            })
        );
        assert!(matches!(Event::from_form(&f), Event::Unknown { .. }));

        let f = form(&[
            ("EventType", "onMessageAdded"),
            ("ConversationSid", CH),
            ("MessageSid", "IMnothex"),
        ]);
        assert!(matches!(
            Event::try_from_form(&f),
            Err(EventError::InvalidSid {
                field: "MessageSid",
                ..
            })
        ));
        let f = form(&[
            ("EventType", "onMessageAdded"),
            ("ConversationSid", CH),
            ("MessageSid", IM),
            ("Media", "not json"),
        ]);
        assert!(matches!(
            Event::try_from_form(&f),
            Err(EventError::InvalidValue { field: "Media", .. })
        ));
        let f = form(&[
            ("EventType", "onMessageSent"),
            ("ChannelSid", CH),
            ("MessageSid", IM),
            ("Index", "-1x"),
        ]);
        assert!(matches!(
            Event::try_from_form(&f),
            Err(EventError::InvalidValue { field: "Index", .. })
        ));
    }
}
