//! Programmable Chat v2 resources as Twilio returns them.

use serde::Deserialize;

use crate::enums::string_enum;
use crate::model::{Timestamp, WebhookConfiguration, date, parse_attributes};
use crate::sid::{
    AccountSid, ChannelSid, MediaSid, MemberSid, MessageSid, RoleSid, ServiceSid, UserSid,
    WebhookSid,
};

string_enum! {
    /// Visibility of a chat channel (`Type`).
    pub enum ChannelType {
        /// Listed and joinable by anyone in the service.
        Public = "public",
        /// Invitation only.
        Private = "private",
    }
}

string_enum! {
    /// A user's relation to a channel.
    pub enum UserChannelStatus {
        /// A member.
        Joined = "joined",
        /// Invited, not yet joined.
        Invited = "invited",
        /// Neither (Twilio renamed `not_participating` to `notParticipating`; both are read).
        NotParticipating = "notParticipating" | "not_participating",
    }
}

string_enum! {
    /// Kind of a channel-scoped webhook (`Type`).
    pub enum ChannelWebhookType {
        /// An HTTP URL for the events in `filters`.
        Webhook = "webhook",
        /// An HTTP URL for messages containing a keyword.
        Trigger = "trigger",
        /// A Studio flow.
        Studio = "studio",
    }
}

string_enum! {
    /// Kind of a chat message.
    pub enum MessageType {
        /// Text.
        Text = "text",
        /// Media.
        Media = "media",
    }
}

/// A chat user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// `US…`.
    pub sid: UserSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Chat service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// Identity, e.g. `discord:4021`.
    #[serde(default)]
    pub identity: Option<String>,
    /// Display name.
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
    /// Number of channels joined.
    #[serde(default)]
    pub joined_channels_count: Option<u64>,
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

/// A channel as seen from one user (`/Users/{UserSid}/Channels`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UserChannel {
    /// The channel.
    pub channel_sid: ChannelSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Chat service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// The user.
    #[serde(default)]
    pub user_sid: Option<UserSid>,
    /// The user's membership.
    #[serde(default)]
    pub member_sid: Option<MemberSid>,
    /// Joined, invited or not participating.
    #[serde(default)]
    pub status: Option<UserChannelStatus>,
    /// Index of the last message the user consumed.
    #[serde(default)]
    pub last_consumed_message_index: Option<u64>,
    /// Unread messages.
    #[serde(default)]
    pub unread_messages_count: Option<u64>,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A chat channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Channel {
    /// `CH…`.
    pub sid: ChannelSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Chat service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// Display name.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// Unique name.
    #[serde(default)]
    pub unique_name: Option<String>,
    /// Attributes as a JSON text (Flex writes `status`, `from`, `channel_type` here).
    #[serde(default)]
    pub attributes: Option<String>,
    /// Public or private.
    #[serde(rename = "type", default)]
    pub channel_type: Option<ChannelType>,
    /// Creator identity (`system` via the API).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Members.
    #[serde(default)]
    pub members_count: Option<u64>,
    /// Messages.
    #[serde(default)]
    pub messages_count: Option<u64>,
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

impl Channel {
    /// The attributes parsed as JSON (`None` when absent or not JSON).
    pub fn attributes_json(&self) -> Option<serde_json::Value> {
        parse_attributes(self.attributes.as_deref())
    }
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// `IM…`.
    pub sid: MessageSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Chat service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// The channel.
    #[serde(default)]
    pub channel_sid: Option<ChannelSid>,
    /// Author identity (`system` by default).
    #[serde(default)]
    pub from: Option<String>,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// Attributes as a JSON text.
    #[serde(default)]
    pub attributes: Option<String>,
    /// Position in the channel (monotonic, may skip numbers).
    #[serde(default)]
    pub index: Option<u64>,
    /// Text or media.
    #[serde(rename = "type", default)]
    pub message_type: Option<MessageType>,
    /// Media, for media messages.
    #[serde(default)]
    pub media: Option<ChatMedia>,
    /// Whether it was edited.
    #[serde(default)]
    pub was_edited: Option<bool>,
    /// Who last edited it.
    #[serde(default)]
    pub last_updated_by: Option<String>,
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

/// The media of a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ChatMedia {
    /// `ME…`.
    #[serde(default)]
    pub sid: Option<MediaSid>,
    /// File name.
    #[serde(default)]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
}

/// A channel-scoped webhook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ChannelWebhook {
    /// `WH…`.
    pub sid: WebhookSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Chat service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// The channel.
    #[serde(default)]
    pub channel_sid: Option<ChannelSid>,
    /// Webhook, trigger or studio.
    #[serde(rename = "type", default)]
    pub webhook_type: Option<ChannelWebhookType>,
    /// URL, method, filters, triggers, flow, retry count.
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

/// A channel member.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Member {
    /// `MB…`.
    pub sid: MemberSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The channel.
    #[serde(default)]
    pub channel_sid: Option<ChannelSid>,
    /// The Chat service.
    #[serde(default)]
    pub service_sid: Option<ServiceSid>,
    /// Identity.
    #[serde(default)]
    pub identity: Option<String>,
    /// Role.
    #[serde(default)]
    pub role_sid: Option<RoleSid>,
    /// Attributes as a JSON text.
    #[serde(default)]
    pub attributes: Option<String>,
    /// Index of the last message consumed.
    #[serde(default)]
    pub last_consumed_message_index: Option<u64>,
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
