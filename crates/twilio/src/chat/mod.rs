//! Programmable Chat v2 (`https://chat.twilio.com`): users, channels, messages, channel
//! webhooks and members of one Chat service.
//!
//! Twilio ended Programmable Chat for Flex on 2026-06-01; this module serves accounts that still
//! have it (the legacy Flex Flow path). New integrations use [`conversations`](crate::conversations).
//!
//! ```no_run
//! # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
//! use flexcord_twilio::chat::ChannelWebhookType;
//! use flexcord_twilio::sid::{ChannelSid, ServiceSid};
//!
//! let service: ServiceSid = "IS0123456789abcdef0123456789abcdef".parse()?;
//! let channel: ChannelSid = "CH0123456789abcdef0123456789abcdef".parse()?;
//! let chat = twilio.chat(&service);
//! chat.webhooks(&channel)
//!     .create(ChannelWebhookType::Webhook)
//!     .url("https://bridge.example/twilio/outbound")
//!     .filters(["onMessageSent", "onChannelUpdated"])
//!     .await?;
//! chat.messages(&channel)
//!     .create()
//!     .from("discord:4021")
//!     .body("Hello")
//!     .webhook_enabled(true) // so the Flex Flow's Studio webhook sees it
//!     .await?;
//! # Ok(()) }
//! ```

mod models;

pub use models::*;

use crate::builder::{
    Draft, attributes_setter, builder, date_setters, text_setters, webhook_header_setter,
};
use crate::client::Client;
use crate::error::Error;
use crate::model::{Order, WebhookMethod};
use crate::request::{Product, Request, segment};
use crate::sid::{
    self, ChannelSid, FlowSid, MediaSid, MessageSid, RoleSid, ServiceSid, SidOrName, WebhookSid,
};

const P: Product = Product::Chat;

impl Client {
    /// Programmable Chat v2, for one Chat service (`IS…`).
    pub fn chat(&self, service: &ServiceSid) -> Chat<'_> {
        Chat {
            client: self,
            service: *service,
        }
    }
}

/// Handler for `/v2/Services/{ServiceSid}`.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    client: &'a Client,
    service: ServiceSid,
}

impl<'a> Chat<'a> {
    fn base(&self) -> String {
        format!("/v2/Services/{}", self.service)
    }

    /// `/Users`.
    pub fn users(self) -> Users<'a> {
        Users { chat: self }
    }

    /// `/Users/{UserSid}/Channels`: the channels of one user (SID or identity).
    pub fn user_channels(self, user: impl Into<SidOrName<sid::User>>) -> UserChannels<'a> {
        UserChannels {
            chat: self,
            user: user.into(),
        }
    }

    /// `/Channels`.
    pub fn channels(self) -> Channels<'a> {
        Channels { chat: self }
    }

    /// `/Channels/{ChannelSid}/Messages`.
    pub fn messages(self, channel: &ChannelSid) -> Messages<'a> {
        Messages {
            chat: self,
            channel: *channel,
        }
    }

    /// `/Channels/{ChannelSid}/Webhooks`.
    pub fn webhooks(self, channel: &ChannelSid) -> Webhooks<'a> {
        Webhooks {
            chat: self,
            channel: *channel,
        }
    }

    /// `/Channels/{ChannelSid}/Members`.
    pub fn members(self, channel: &ChannelSid) -> Members<'a> {
        Members {
            chat: self,
            channel: *channel,
        }
    }
}

/// Handler for `/v2/Services/{ServiceSid}/Users`.
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    chat: Chat<'a>,
}

impl<'a> Users<'a> {
    /// `POST …/Users` for `identity`. Not idempotent: Twilio answers error 50201 if the user
    /// exists; fetch by identity first.
    pub fn create(self, identity: impl Into<String>) -> CreateUser<'a> {
        let path = format!("{}/Users", self.chat.base());
        CreateUser::from_draft(
            Draft::new(self.chat.client, Request::post(P, path)).set("Identity", identity),
        )
    }

    /// `GET …/Users/{Sid}` by SID or identity.
    pub fn fetch(self, user: impl Into<SidOrName<sid::User>>) -> FetchUser<'a> {
        let path = format!(
            "{}/Users/{}",
            self.chat.base(),
            segment(user.into().as_str())
        );
        FetchUser::from_draft(Draft::new(self.chat.client, Request::get(P, path)))
    }
}

builder! {
    /// `POST /v2/Services/{ServiceSid}/Users` (201).
    CreateUser -> User
}
builder! {
    /// `GET /v2/Services/{ServiceSid}/Users/{Sid}`.
    FetchUser -> User
}

impl CreateUser<'_> {
    text_setters! {
        /// Display name (`FriendlyName`).
        friendly_name => "FriendlyName";
    }
    attributes_setter!();
    webhook_header_setter!();

    /// Role (`RoleSid`).
    pub fn role_sid(mut self, role: &RoleSid) -> Self {
        self.draft = self.draft.set("RoleSid", role.as_str());
        self
    }
}

/// Handler for `/v2/Services/{ServiceSid}/Users/{UserSid}/Channels`.
#[derive(Debug, Clone)]
pub struct UserChannels<'a> {
    chat: Chat<'a>,
    user: SidOrName<sid::User>,
}

impl<'a> UserChannels<'a> {
    /// `GET …/Users/{UserSid}/Channels`.
    pub fn list(self) -> ListUserChannels<'a> {
        let path = format!(
            "{}/Users/{}/Channels",
            self.chat.base(),
            segment(self.user.as_str())
        );
        ListUserChannels::from_draft(Draft::new(self.chat.client, Request::get(P, path)))
    }
}

builder! {
    /// `GET /v2/Services/{ServiceSid}/Users/{UserSid}/Channels` (list key `channels`).
    ListUserChannels -> list UserChannel, "channels", max 50
}

/// Handler for `/v2/Services/{ServiceSid}/Channels`.
#[derive(Debug, Clone, Copy)]
pub struct Channels<'a> {
    chat: Chat<'a>,
}

impl<'a> Channels<'a> {
    fn path(&self) -> String {
        format!("{}/Channels", self.chat.base())
    }

    /// `POST …/Channels`.
    pub fn create(self) -> CreateChannel<'a> {
        CreateChannel::from_draft(Draft::new(self.chat.client, Request::post(P, self.path())))
    }

    /// `GET …/Channels/{Sid}` by SID or unique name.
    pub fn fetch(self, channel: impl Into<SidOrName<sid::ChatChannel>>) -> FetchChannel<'a> {
        let path = format!("{}/{}", self.path(), segment(channel.into().as_str()));
        FetchChannel::from_draft(Draft::new(self.chat.client, Request::get(P, path)))
    }

    /// `POST …/Channels/{Sid}`.
    pub fn update(self, channel: impl Into<SidOrName<sid::ChatChannel>>) -> UpdateChannel<'a> {
        let path = format!("{}/{}", self.path(), segment(channel.into().as_str()));
        UpdateChannel::from_draft(Draft::new(self.chat.client, Request::post(P, path)))
    }

    /// `GET …/Channels`.
    pub fn list(self) -> ListChannels<'a> {
        ListChannels::from_draft(Draft::new(self.chat.client, Request::get(P, self.path())))
    }
}

builder! {
    /// `POST /v2/Services/{ServiceSid}/Channels` (201).
    CreateChannel -> Channel
}
builder! {
    /// `GET /v2/Services/{ServiceSid}/Channels/{Sid}`.
    FetchChannel -> Channel
}
builder! {
    /// `POST /v2/Services/{ServiceSid}/Channels/{Sid}`.
    UpdateChannel -> Channel
}
builder! {
    /// `GET /v2/Services/{ServiceSid}/Channels` (list key `channels`).
    ListChannels -> list Channel, "channels", max 100
}

macro_rules! channel_setters {
    () => {
        text_setters! {
            /// A unique name, usable instead of the SID in paths (`UniqueName`).
            unique_name => "UniqueName";
            /// Creator identity; `system` when unset (`CreatedBy`).
            created_by => "CreatedBy";
        }
        attributes_setter!();
        webhook_header_setter!();
        date_setters! {
            /// Creation time to record (`DateCreated`).
            date_created => "DateCreated";
            /// Update time to record (`DateUpdated`).
            date_updated => "DateUpdated";
        }
    };
}

impl CreateChannel<'_> {
    channel_setters!();

    /// Display name, at most 64 characters on create (`FriendlyName`).
    pub fn friendly_name(mut self, name: impl Into<String>) -> Self {
        self.draft = self.draft.set_max_chars("FriendlyName", name.into(), 64);
        self
    }

    /// Public or private (`Type`).
    pub fn channel_type(mut self, channel_type: &ChannelType) -> Self {
        self.draft = self.draft.set("Type", channel_type.as_str());
        self
    }
}

impl UpdateChannel<'_> {
    channel_setters!();

    /// Display name, at most 256 characters (`FriendlyName`).
    pub fn friendly_name(mut self, name: impl Into<String>) -> Self {
        self.draft = self.draft.set_max_chars("FriendlyName", name.into(), 256);
        self
    }
}

impl ListChannels<'_> {
    /// Adds a channel type to list (`Type`, repeated; Twilio defaults to public).
    pub fn channel_type(mut self, channel_type: &ChannelType) -> Self {
        self.draft = self.draft.push_query("Type", channel_type.as_str());
        self
    }
}

/// Handler for `/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages`.
#[derive(Debug, Clone, Copy)]
pub struct Messages<'a> {
    chat: Chat<'a>,
    channel: ChannelSid,
}

impl<'a> Messages<'a> {
    fn path(&self) -> String {
        format!("{}/Channels/{}/Messages", self.chat.base(), self.channel)
    }

    /// `POST …/Messages`.
    pub fn create(self) -> CreateMessage<'a> {
        CreateMessage::from_draft(Draft::new(self.chat.client, Request::post(P, self.path())))
    }

    /// `GET …/Messages/{Sid}`.
    pub fn fetch(self, message: &MessageSid) -> FetchMessage<'a> {
        let path = format!("{}/{message}", self.path());
        FetchMessage::from_draft(Draft::new(self.chat.client, Request::get(P, path)))
    }

    /// `GET …/Messages`.
    pub fn list(self) -> ListMessages<'a> {
        ListMessages::from_draft(Draft::new(self.chat.client, Request::get(P, self.path())))
    }
}

builder! {
    /// `POST /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages` (201).
    CreateMessage -> Message
}
builder! {
    /// `GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages/{Sid}`.
    FetchMessage -> Message
}
builder! {
    /// `GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages` (list key `messages`).
    ListMessages -> list Message, "messages", max 100
}

impl CreateMessage<'_> {
    text_setters! {
        /// Author identity; `system` when unset (`From`).
        from => "From";
        /// Text (`Body`).
        body => "Body";
        /// Identity of the last editor (`LastUpdatedBy`).
        last_updated_by => "LastUpdatedBy";
    }
    attributes_setter!();
    webhook_header_setter!();
    date_setters! {
        /// The original time of the message (`DateCreated`).
        date_created => "DateCreated";
        /// Update time to record (`DateUpdated`).
        date_updated => "DateUpdated";
    }

    /// Media uploaded to the Media Content Service (`MediaSid`).
    pub fn media_sid(mut self, media: &MediaSid) -> Self {
        self.draft = self.draft.set("MediaSid", media.as_str());
        self
    }
}

impl ListMessages<'_> {
    /// Sort order (`Order`).
    pub fn order(mut self, order: &Order) -> Self {
        self.draft = self.draft.query("Order", order.as_str());
        self
    }
}

/// Handler for `/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks`.
#[derive(Debug, Clone, Copy)]
pub struct Webhooks<'a> {
    chat: Chat<'a>,
    channel: ChannelSid,
}

impl<'a> Webhooks<'a> {
    fn path(&self) -> String {
        format!("{}/Channels/{}/Webhooks", self.chat.base(), self.channel)
    }

    /// `POST …/Webhooks` of kind `webhook_type` (`Type`).
    pub fn create(self, webhook_type: ChannelWebhookType) -> CreateWebhook<'a> {
        CreateWebhook::from_draft(
            Draft::new(self.chat.client, Request::post(P, self.path()))
                .set("Type", String::from(webhook_type)),
        )
    }

    /// `GET …/Webhooks` (at most 5 per channel).
    pub fn list(self) -> ListWebhooks<'a> {
        ListWebhooks::from_draft(Draft::new(self.chat.client, Request::get(P, self.path())))
    }

    /// `DELETE …/Webhooks/{Sid}`.
    pub fn delete(self, webhook: &WebhookSid) -> DeleteWebhook<'a> {
        let path = format!("{}/{webhook}", self.path());
        DeleteWebhook::from_draft(Draft::new(self.chat.client, Request::delete(P, path)))
    }
}

builder! {
    /// `POST /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks` (201).
    CreateWebhook -> ChannelWebhook
}
builder! {
    /// `GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks` (list key `webhooks`).
    ListWebhooks -> list ChannelWebhook, "webhooks", max 5
}
builder! {
    /// `DELETE /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks/{Sid}` (204).
    DeleteWebhook -> ()
}

impl CreateWebhook<'_> {
    text_setters! {
        /// The URL Twilio calls (`Configuration.Url`).
        url => "Configuration.Url";
    }

    /// HTTP method, sent upper case as Chat expects (`Configuration.Method`).
    pub fn method(mut self, method: &WebhookMethod) -> Self {
        self.draft = self
            .draft
            .set("Configuration.Method", method.as_str().to_ascii_uppercase());
        self
    }

    /// Adds event names, e.g. `onMessageSent` (`Configuration.Filters`, repeated).
    pub fn filters<I, S>(mut self, filters: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for filter in filters {
            self.draft = self.draft.push("Configuration.Filters", filter);
        }
        self
    }

    /// Adds keywords of a `trigger` webhook, at most 5 in all (`Configuration.Triggers`).
    pub fn triggers<I, S>(mut self, triggers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for trigger in triggers {
            self.draft = self.draft.push("Configuration.Triggers", trigger);
        }
        self
    }

    /// The Studio flow of a `studio` webhook (`Configuration.FlowSid`).
    pub fn flow_sid(mut self, flow: &FlowSid) -> Self {
        self.draft = self.draft.set("Configuration.FlowSid", flow.as_str());
        self
    }

    /// Retries when Twilio's call fails, 0 to 3 (`Configuration.RetryCount`).
    pub fn retry_count(mut self, count: u8) -> Self {
        self.draft = if count <= 3 {
            self.draft
                .set("Configuration.RetryCount", count.to_string())
        } else {
            self.draft.fail(Error::invalid(
                "Configuration.RetryCount must be between 0 and 3",
            ))
        };
        self
    }
}

/// Handler for `/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members`.
#[derive(Debug, Clone, Copy)]
pub struct Members<'a> {
    chat: Chat<'a>,
    channel: ChannelSid,
}

impl<'a> Members<'a> {
    /// `GET …/Members`.
    pub fn list(self) -> ListMembers<'a> {
        let path = format!("{}/Channels/{}/Members", self.chat.base(), self.channel);
        ListMembers::from_draft(Draft::new(self.chat.client, Request::get(P, path)))
    }
}

builder! {
    /// `GET /v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members` (list key `members`).
    ListMembers -> list Member, "members", max 100
}

impl ListMembers<'_> {
    /// Only members with this identity (`Identity`, repeatable).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.draft = self.draft.push_query("Identity", identity);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TryIntoRequest;

    fn client() -> Client {
        Client::builder()
            .account("AC0123456789abcdef0123456789abcdef", "t")
            .build()
            .expect("client")
    }

    #[test]
    fn paths_and_fields() {
        let c = client();
        let is: ServiceSid = "IS0123456789abcdef0123456789abcdef".parse().expect("is");
        let ch: ChannelSid = "CH0123456789abcdef0123456789abcdef".parse().expect("ch");
        let r = c
            .chat(&is)
            .webhooks(&ch)
            .create(ChannelWebhookType::Studio)
            .flow_sid(&"FW0123456789abcdef0123456789abcdef".parse().expect("fw"))
            .method(&WebhookMethod::Post)
            .retry_count(2)
            .try_into_request()
            .expect("ok");
        assert_eq!(
            r.path(),
            Some(
                "/v2/Services/IS0123456789abcdef0123456789abcdef/Channels/CH0123456789abcdef0123456789abcdef/Webhooks"
            )
        );
        assert_eq!(r.form_value("Type"), Some("studio"));
        assert_eq!(r.form_value("Configuration.Method"), Some("POST"));
        assert_eq!(r.form_value("Configuration.RetryCount"), Some("2"));
        assert!(
            c.chat(&is)
                .webhooks(&ch)
                .create(ChannelWebhookType::Webhook)
                .retry_count(4)
                .try_into_request()
                .is_err()
        );
        let r = c
            .chat(&is)
            .users()
            .fetch(SidOrName::Name("discord:42".into()))
            .try_into_request()
            .expect("ok");
        assert_eq!(
            r.path(),
            Some("/v2/Services/IS0123456789abcdef0123456789abcdef/Users/discord:42")
        );
        assert!(
            c.chat(&is)
                .channels()
                .create()
                .friendly_name("x".repeat(65))
                .try_into_request()
                .is_err()
        );
        assert!(
            c.chat(&is)
                .user_channels(SidOrName::Name("a".into()))
                .list()
                .page_size(51)
                .try_into_request()
                .is_err()
        );
    }
}
