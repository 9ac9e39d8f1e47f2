//! Conversations v1 resources as Twilio returns them.

use serde::Deserialize;

use crate::enums::string_enum;
use crate::model::{Timestamp, WebhookConfiguration, date, parse_attributes};
use crate::sid::{
    AccountSid, ContentSid, ConversationSid, MediaSid, MessageSid, MessagingServiceSid,
    ParticipantSid, RoleSid, ServiceSid, UserSid, WebhookSid,
};

string_enum! {
    /// The state of a conversation.
    pub enum ConversationState {
        /// Briefly, while a conversation created with participants is being set up.
        Initializing = "initializing",
        /// Open (the default).
        Active = "active",
        /// Paused by a timer or an update; new activity re-activates it.
        Inactive = "inactive",
        /// Final: a closed conversation cannot be reopened.
        Closed = "closed",
    }
}

string_enum! {
    /// What a conversation-scoped webhook calls (`Target`).
    pub enum WebhookTarget {
        /// An HTTP URL.
        Webhook = "webhook",
        /// An HTTP URL, only for messages containing a keyword.
        Trigger = "trigger",
        /// A Studio flow.
        Studio = "studio",
    }
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Conversation {
    /// `CH…`.
    pub sid: ConversationSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Conversations service.
    #[serde(default)]
    pub chat_service_sid: Option<ServiceSid>,
    /// The Messaging Service, if any.
    #[serde(default)]
    pub messaging_service_sid: Option<MessagingServiceSid>,
    /// Display name.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// Unique name.
    #[serde(default)]
    pub unique_name: Option<String>,
    /// Attributes as a JSON text (`"{}"` when unset); see [`Conversation::attributes_json`].
    #[serde(default)]
    pub attributes: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<ConversationState>,
    /// Timers, when set.
    #[serde(default)]
    pub timers: Option<ConversationTimers>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Updated at.
    #[serde(default, with = "date::opt")]
    pub date_updated: Timestamp,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

impl Conversation {
    /// The attributes parsed as JSON (`None` when absent or not JSON).
    pub fn attributes_json(&self) -> Option<serde_json::Value> {
        parse_attributes(self.attributes.as_deref())
    }
}

/// When a conversation's timers fire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub struct ConversationTimers {
    /// When it becomes inactive.
    #[serde(default, with = "date::opt")]
    pub date_inactive: Timestamp,
    /// When it closes.
    #[serde(default, with = "date::opt")]
    pub date_closed: Timestamp,
}

/// A Conversations user: the identity a chat participant (a customer, a Flex agent) speaks
/// as, with the name to show for it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// `US…`.
    pub sid: UserSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Conversations service.
    #[serde(default)]
    pub chat_service_sid: Option<ServiceSid>,
    /// Identity, e.g. `agent.jane@brand.example`.
    #[serde(default)]
    pub identity: Option<String>,
    /// The name to show for the user (Flex sets it from the worker's full name).
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// Attributes as a JSON text.
    #[serde(default)]
    pub attributes: Option<String>,
    /// Role.
    #[serde(default)]
    pub role_sid: Option<RoleSid>,
    /// Online (with Reachability enabled).
    #[serde(default)]
    pub is_online: Option<bool>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Updated at.
    #[serde(default, with = "date::opt")]
    pub date_updated: Timestamp,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A participant of a conversation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Participant {
    /// `MB…`.
    pub sid: ParticipantSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The conversation.
    #[serde(default)]
    pub conversation_sid: Option<ConversationSid>,
    /// Identity of a chat participant (`None` for SMS/WhatsApp participants).
    #[serde(default)]
    pub identity: Option<String>,
    /// Attributes as a JSON text.
    #[serde(default)]
    pub attributes: Option<String>,
    /// Address of a non-chat participant, as Twilio sends it.
    #[serde(default)]
    pub messaging_binding: Option<serde_json::Value>,
    /// Role.
    #[serde(default)]
    pub role_sid: Option<RoleSid>,
    /// Index of the last message read.
    #[serde(default)]
    pub last_read_message_index: Option<u64>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Updated at.
    #[serde(default, with = "date::opt")]
    pub date_updated: Timestamp,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A message in a conversation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// `IM…`.
    pub sid: MessageSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The conversation.
    #[serde(default)]
    pub conversation_sid: Option<ConversationSid>,
    /// Position in the conversation.
    #[serde(default)]
    pub index: Option<u64>,
    /// Author identity or address (`system` by default).
    #[serde(default)]
    pub author: Option<String>,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// Attached media.
    #[serde(default)]
    pub media: Option<Vec<MessageMedia>>,
    /// Attributes as a JSON text.
    #[serde(default)]
    pub attributes: Option<String>,
    /// The author's participant (`None` for `system`).
    #[serde(default)]
    pub participant_sid: Option<ParticipantSid>,
    /// Content template.
    #[serde(default)]
    pub content_sid: Option<ContentSid>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Updated at.
    #[serde(default, with = "date::opt")]
    pub date_updated: Timestamp,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

impl Message {
    /// The attributes parsed as JSON (`None` when absent or not JSON).
    pub fn attributes_json(&self) -> Option<serde_json::Value> {
        parse_attributes(self.attributes.as_deref())
    }
}

/// One media item of a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct MessageMedia {
    /// `ME…`.
    #[serde(default)]
    pub sid: Option<MediaSid>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// File name.
    #[serde(default)]
    pub filename: Option<String>,
}

/// A conversation-scoped webhook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ConversationWebhook {
    /// `WH…`.
    pub sid: WebhookSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The conversation.
    #[serde(default)]
    pub conversation_sid: Option<ConversationSid>,
    /// What it calls.
    #[serde(default)]
    pub target: Option<WebhookTarget>,
    /// URL, method, filters, triggers, flow.
    #[serde(default)]
    pub configuration: Option<WebhookConfiguration>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Updated at.
    #[serde(default, with = "date::opt")]
    pub date_updated: Timestamp,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}
