//! Conversations v1 (`https://conversations.twilio.com`): conversations, participants, messages
//! and conversation-scoped webhooks.
//!
//! ```no_run
//! # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
//! use std::time::Duration;
//! use flexcord_twilio::conversations::WebhookTarget;
//!
//! let conversation = twilio
//!     .conversations()
//!     .create()
//!     .friendly_name("Discord support")
//!     .attributes(&serde_json::json!({"flexcord": {"discord_user": "4021"}}))
//!     .timers_closed(Duration::from_secs(24 * 3600))
//!     .await?;
//! let sid = conversation.sid;
//! twilio.conversations().participants(&sid).create().identity("discord:4021").await?;
//! twilio
//!     .conversations()
//!     .webhooks(&sid)
//!     .create(WebhookTarget::Webhook)
//!     .url("https://bridge.example/twilio/outbound")
//!     .filters(["onMessageAdded", "onConversationStateUpdated"])
//!     .await?;
//! twilio
//!     .conversations()
//!     .messages(&sid)
//!     .create()
//!     .author("discord:4021")
//!     .body("Hello from Discord")
//!     .await?;
//! # Ok(()) }
//! ```

mod models;

use std::time::Duration;

pub use models::*;

use crate::builder::{
    Draft, attributes_setter, builder, date_setters, text_setters, webhook_header_setter,
};
use crate::client::Client;
use crate::error::Error;
use crate::model::{Order, WebhookMethod};
use crate::request::{Product, Request, segment};
use crate::sid::{
    self, ContentSid, ConversationSid, FlowSid, MediaSid, MessageSid, MessagingServiceSid, RoleSid,
    ServiceSid, SidOrName, WebhookSid,
};

/// The longest message body Twilio accepts, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

impl Client {
    /// Conversations v1 in the account's default Conversations service (`/v1/Conversations`).
    pub fn conversations(&self) -> Conversations<'_> {
        Conversations {
            client: self,
            service: None,
        }
    }

    /// Conversations v1 in one Conversations service (`/v1/Services/{ChatServiceSid}/...`).
    /// Conversations of a service other than the account's default one are only reachable
    /// through these paths; the default service is reachable both ways.
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client, service: flexcord_twilio::sid::ServiceSid) -> Result<(), flexcord_twilio::Error> {
    /// let conversation = twilio.conversations_in(&service).create().friendly_name("Support").await?;
    /// twilio
    ///     .conversations_in(&service)
    ///     .messages(&conversation.sid)
    ///     .create()
    ///     .author("discord:4021")
    ///     .body("Hello")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn conversations_in(&self, service: &ServiceSid) -> Conversations<'_> {
        Conversations {
            client: self,
            service: Some(*service),
        }
    }

    /// [`conversations_in`](Self::conversations_in) the given service, or
    /// [`conversations`](Self::conversations) (the default service) for `None`: the handler to
    /// use with an optional configured service.
    pub fn conversations_for(&self, service: Option<&ServiceSid>) -> Conversations<'_> {
        Conversations {
            client: self,
            service: service.copied(),
        }
    }
}

/// Handler for `/v1/Conversations`, or `/v1/Services/{ChatServiceSid}/Conversations`.
#[derive(Debug, Clone, Copy)]
pub struct Conversations<'a> {
    client: &'a Client,
    service: Option<ServiceSid>,
}

const P: Product = Product::Conversations;

/// `/v1`, or `/v1/Services/{ChatServiceSid}` for a service's paths.
fn root(service: Option<&ServiceSid>) -> String {
    match service {
        Some(s) => format!("/v1/Services/{s}"),
        None => "/v1".to_owned(),
    }
}

fn conversation_path(
    service: Option<&ServiceSid>,
    conversation: &SidOrName<sid::Conversation>,
) -> String {
    format!(
        "{}/Conversations/{}",
        root(service),
        segment(conversation.as_str())
    )
}

impl<'a> Conversations<'a> {
    /// The Conversations service these paths name (`None`: the default service's
    /// `/v1/Conversations`).
    pub fn service(&self) -> Option<&ServiceSid> {
        self.service.as_ref()
    }

    /// `POST /v1/Conversations`.
    pub fn create(self) -> CreateConversation<'a> {
        let path = format!("{}/Conversations", root(self.service.as_ref()));
        CreateConversation::from_draft(Draft::new(self.client, Request::post(P, path)))
    }

    /// `GET /v1/Conversations/{Sid}` by SID or unique name.
    pub fn fetch(
        self,
        conversation: impl Into<SidOrName<sid::Conversation>>,
    ) -> FetchConversation<'a> {
        let path = conversation_path(self.service.as_ref(), &conversation.into());
        FetchConversation::from_draft(Draft::new(self.client, Request::get(P, path)))
    }

    /// `POST /v1/Conversations/{Sid}`: change state (e.g. close), attributes or timers.
    pub fn update(
        self,
        conversation: impl Into<SidOrName<sid::Conversation>>,
    ) -> UpdateConversation<'a> {
        let path = conversation_path(self.service.as_ref(), &conversation.into());
        UpdateConversation::from_draft(Draft::new(self.client, Request::post(P, path)))
    }

    /// `GET /v1/Conversations`.
    pub fn list(self) -> ListConversations<'a> {
        let path = format!("{}/Conversations", root(self.service.as_ref()));
        ListConversations::from_draft(Draft::new(self.client, Request::get(P, path)))
    }

    /// `DELETE /v1/Conversations/{Sid}`.
    pub fn delete(
        self,
        conversation: impl Into<SidOrName<sid::Conversation>>,
    ) -> DeleteConversation<'a> {
        let path = conversation_path(self.service.as_ref(), &conversation.into());
        DeleteConversation::from_draft(Draft::new(self.client, Request::delete(P, path)))
    }

    /// `/v1/Users`: the Conversations users of the service (an agent's friendly name is the
    /// name customers should read for them).
    pub fn users(self) -> Users<'a> {
        Users {
            client: self.client,
            service: self.service,
        }
    }

    /// `/v1/Conversations/{ConversationSid}/Participants`.
    pub fn participants(self, conversation: &ConversationSid) -> Participants<'a> {
        Participants {
            client: self.client,
            service: self.service,
            conversation: *conversation,
        }
    }

    /// `/v1/Conversations/{ConversationSid}/Messages`.
    pub fn messages(self, conversation: &ConversationSid) -> Messages<'a> {
        Messages {
            client: self.client,
            service: self.service,
            conversation: *conversation,
        }
    }

    /// `/v1/Conversations/{ConversationSid}/Webhooks`.
    pub fn webhooks(self, conversation: &ConversationSid) -> Webhooks<'a> {
        Webhooks {
            client: self.client,
            service: self.service,
            conversation: *conversation,
        }
    }
}

builder! {
    /// `POST /v1/Conversations`; Twilio answers 201 with the [`Conversation`].
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
    /// let conversation = twilio
    ///     .conversations()
    ///     .create()
    ///     .unique_name("discord:1234:1")
    ///     .attributes(&serde_json::json!({"flexcord": {"handoff": false}}))
    ///     .await?;
    /// # let _ = conversation; Ok(()) }
    /// ```
    CreateConversation -> Conversation
}
builder! {
    /// `POST /v1/Conversations/{Sid}`; answers the updated [`Conversation`].
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client, sid: flexcord_twilio::sid::ConversationSid) -> Result<(), flexcord_twilio::Error> {
    /// use flexcord_twilio::conversations::ConversationState;
    /// twilio.conversations().update(sid).state(&ConversationState::Closed).await?;
    /// # Ok(()) }
    /// ```
    UpdateConversation -> Conversation
}
builder! {
    /// `GET /v1/Conversations/{Sid}`.
    FetchConversation -> Conversation
}
builder! {
    /// `GET /v1/Conversations`: a page of conversations (list key `conversations`).
    ListConversations -> list Conversation, "conversations", max 100
}
builder! {
    /// `DELETE /v1/Conversations/{Sid}` (204).
    DeleteConversation -> ()
}

/// Formats a duration as ISO 8601 (`PT600S`), as Twilio's timers expect.
fn iso_duration(duration: Duration) -> String {
    format!("PT{}S", duration.as_secs())
}

macro_rules! conversation_setters {
    () => {
        text_setters! {
            /// Display name, at most 256 characters (`FriendlyName`).
            friendly_name => "FriendlyName";
            /// A name unique within the service, usable instead of the SID in paths
            /// (`UniqueName`).
            unique_name => "UniqueName";
            /// Address of an e-mail binding (`Bindings.Email.Address`).
            bindings_email_address => "Bindings.Email.Address";
            /// Name of an e-mail binding (`Bindings.Email.Name`).
            bindings_email_name => "Bindings.Email.Name";
        }
        attributes_setter!();
        webhook_header_setter!();
        date_setters! {
            /// Creation time to record, e.g. when back-filling (`DateCreated`).
            date_created => "DateCreated";
            /// Update time to record (`DateUpdated`).
            date_updated => "DateUpdated";
        }

        /// The Messaging Service (`MessagingServiceSid`).
        pub fn messaging_service_sid(mut self, sid: &MessagingServiceSid) -> Self {
            self.draft = self.draft.set("MessagingServiceSid", sid.as_str());
            self
        }

        /// The state, e.g. [`ConversationState::Closed`] to close it (`State`).
        pub fn state(mut self, state: &ConversationState) -> Self {
            self.draft = self.draft.set("State", state.as_str());
            self
        }

        /// Time without activity before it becomes inactive, at least one minute
        /// (`Timers.Inactive`, an ISO 8601 duration).
        pub fn timers_inactive(mut self, after: Duration) -> Self {
            self.draft = if after < Duration::from_secs(60) {
                self.draft
                    .fail(Error::invalid("Timers.Inactive must be at least 1 minute"))
            } else {
                self.draft.set("Timers.Inactive", iso_duration(after))
            };
            self
        }

        /// Time without activity before it closes, at least ten minutes (`Timers.Closed`).
        pub fn timers_closed(mut self, after: Duration) -> Self {
            self.draft = if after < Duration::from_secs(600) {
                self.draft
                    .fail(Error::invalid("Timers.Closed must be at least 10 minutes"))
            } else {
                self.draft.set("Timers.Closed", iso_duration(after))
            };
            self
        }
    };
}

impl CreateConversation<'_> {
    conversation_setters!();
}

impl UpdateConversation<'_> {
    conversation_setters!();
}

impl ListConversations<'_> {
    /// Only conversations started on or after this date, `YYYY-MM-DD` (`StartDate`).
    pub fn start_date(mut self, date: impl Into<String>) -> Self {
        self.draft = self.draft.query("StartDate", date);
        self
    }

    /// Only conversations started on or before this date, `YYYY-MM-DD` (`EndDate`).
    pub fn end_date(mut self, date: impl Into<String>) -> Self {
        self.draft = self.draft.query("EndDate", date);
        self
    }

    /// Only conversations in this state (`State`).
    pub fn state(mut self, state: &ConversationState) -> Self {
        self.draft = self.draft.query("State", state.as_str());
        self
    }
}

impl DeleteConversation<'_> {
    webhook_header_setter!();
}

/// Handler for `/v1/Users`, or `/v1/Services/{ChatServiceSid}/Users`.
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    client: &'a Client,
    service: Option<ServiceSid>,
}

impl<'a> Users<'a> {
    /// `GET …/Users/{Sid}` by SID or identity.
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
    /// use flexcord_twilio::sid::SidOrName;
    /// let user = twilio
    ///     .conversations()
    ///     .users()
    ///     .fetch(SidOrName::Name("agent.jane@brand.example".into()))
    ///     .await?;
    /// let name = user.friendly_name; // e.g. Some("Jane Doe")
    /// # let _ = name; Ok(()) }
    /// ```
    pub fn fetch(self, user: impl Into<SidOrName<sid::User>>) -> FetchUser<'a> {
        let path = format!(
            "{}/Users/{}",
            root(self.service.as_ref()),
            segment(user.into().as_str())
        );
        FetchUser::from_draft(Draft::new(self.client, Request::get(P, path)))
    }
}

builder! {
    /// `GET /v1/Users/{Sid}`: one Conversations user.
    FetchUser -> User
}

/// Handler for `/v1/Conversations/{ConversationSid}/Participants`.
#[derive(Debug, Clone, Copy)]
pub struct Participants<'a> {
    client: &'a Client,
    service: Option<ServiceSid>,
    conversation: ConversationSid,
}

impl<'a> Participants<'a> {
    fn path(&self) -> String {
        format!(
            "{}/Conversations/{}/Participants",
            root(self.service.as_ref()),
            self.conversation
        )
    }

    /// `POST …/Participants`: add a chat participant ([`CreateParticipant::identity`]) or an
    /// SMS/WhatsApp one ([`CreateParticipant::messaging_binding_address`]).
    pub fn create(self) -> CreateParticipant<'a> {
        CreateParticipant::from_draft(Draft::new(self.client, Request::post(P, self.path())))
    }

    /// `GET …/Participants`.
    pub fn list(self) -> ListParticipants<'a> {
        ListParticipants::from_draft(Draft::new(self.client, Request::get(P, self.path())))
    }
}

builder! {
    /// `POST /v1/Conversations/{ConversationSid}/Participants` (201).
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client, sid: flexcord_twilio::sid::ConversationSid) -> Result<(), flexcord_twilio::Error> {
    /// let participant = twilio
    ///     .conversations()
    ///     .participants(&sid)
    ///     .create()
    ///     .identity("discord:4021")
    ///     .await?;
    /// # let _ = participant; Ok(()) }
    /// ```
    CreateParticipant -> Participant
}
builder! {
    /// `GET /v1/Conversations/{ConversationSid}/Participants` (list key `participants`).
    ListParticipants -> list Participant, "participants", max 100
}

impl CreateParticipant<'_> {
    text_setters! {
        /// Identity of a chat participant, e.g. `discord:4021` (`Identity`).
        identity => "Identity";
        /// Phone/WhatsApp address of a non-chat participant (`MessagingBinding.Address`).
        messaging_binding_address => "MessagingBinding.Address";
        /// Twilio address the non-chat participant talks to (`MessagingBinding.ProxyAddress`).
        messaging_binding_proxy_address => "MessagingBinding.ProxyAddress";
        /// Address shown for a chat participant in group MMS
        /// (`MessagingBinding.ProjectedAddress`).
        messaging_binding_projected_address => "MessagingBinding.ProjectedAddress";
    }
    attributes_setter!();
    webhook_header_setter!();
    date_setters! {
        /// Creation time to record (`DateCreated`).
        date_created => "DateCreated";
        /// Update time to record (`DateUpdated`).
        date_updated => "DateUpdated";
    }

    /// The participant's role (`RoleSid`).
    pub fn role_sid(mut self, role: &RoleSid) -> Self {
        self.draft = self.draft.set("RoleSid", role.as_str());
        self
    }
}

/// Handler for `/v1/Conversations/{ConversationSid}/Messages`.
#[derive(Debug, Clone, Copy)]
pub struct Messages<'a> {
    client: &'a Client,
    service: Option<ServiceSid>,
    conversation: ConversationSid,
}

impl<'a> Messages<'a> {
    fn path(&self) -> String {
        format!(
            "{}/Conversations/{}/Messages",
            root(self.service.as_ref()),
            self.conversation
        )
    }

    /// `POST …/Messages`.
    pub fn create(self) -> CreateMessage<'a> {
        CreateMessage::from_draft(Draft::new(self.client, Request::post(P, self.path())))
    }

    /// `GET …/Messages/{Sid}`.
    pub fn fetch(self, message: &MessageSid) -> FetchMessage<'a> {
        let path = format!("{}/{message}", self.path());
        FetchMessage::from_draft(Draft::new(self.client, Request::get(P, path)))
    }

    /// `GET …/Messages`.
    pub fn list(self) -> ListMessages<'a> {
        ListMessages::from_draft(Draft::new(self.client, Request::get(P, self.path())))
    }
}

builder! {
    /// `POST /v1/Conversations/{ConversationSid}/Messages` (201).
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client, sid: flexcord_twilio::sid::ConversationSid) -> Result<(), flexcord_twilio::Error> {
    /// // Back-fill a message with its original author and time, without firing webhooks.
    /// let sent = twilio
    ///     .conversations()
    ///     .messages(&sid)
    ///     .create()
    ///     .author("discord:4021")
    ///     .body("My order never arrived")
    ///     .date_created(time::macros::datetime!(2026-11-25 07:58 UTC))
    ///     .webhook_enabled(false)
    ///     .await?;
    /// # let _ = sent; Ok(()) }
    /// ```
    CreateMessage -> Message
}
builder! {
    /// `GET /v1/Conversations/{ConversationSid}/Messages/{Sid}`.
    FetchMessage -> Message
}
builder! {
    /// `GET /v1/Conversations/{ConversationSid}/Messages` (list key `messages`).
    ListMessages -> list Message, "messages", max 100
}

impl CreateMessage<'_> {
    text_setters! {
        /// Author: a participant's identity or address; `system` when unset (`Author`).
        author => "Author";
        /// Subject of an e-mail message, at most 256 characters (`Subject`).
        subject => "Subject";
    }
    attributes_setter!();
    webhook_header_setter!();
    date_setters! {
        /// The original time of the message, for back-filling a transcript (`DateCreated`).
        date_created => "DateCreated";
        /// Update time to record (`DateUpdated`).
        date_updated => "DateUpdated";
    }

    /// Text, at most 1,600 characters (`Body`).
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.draft = self
            .draft
            .set_max_chars("Body", body.into(), MAX_BODY_CHARS);
        self
    }

    /// Media uploaded to the Media Content Service (`MediaSid`).
    pub fn media_sid(mut self, media: &MediaSid) -> Self {
        self.draft = self.draft.set("MediaSid", media.as_str());
        self
    }

    /// A content template; Twilio then ignores `Body` and `MediaSid` (`ContentSid`).
    pub fn content_sid(mut self, content: &ContentSid) -> Self {
        self.draft = self.draft.set("ContentSid", content.as_str());
        self
    }

    /// Values for the content template's variables (`ContentVariables`, a JSON text).
    pub fn content_variables(mut self, variables: &serde_json::Value) -> Self {
        self.draft = self.draft.set("ContentVariables", variables.to_string());
        self
    }
}

impl ListMessages<'_> {
    /// Sort order (`Order`): oldest first by default.
    pub fn order(mut self, order: &Order) -> Self {
        self.draft = self.draft.query("Order", order.as_str());
        self
    }
}

/// Handler for `/v1/Conversations/{ConversationSid}/Webhooks`.
#[derive(Debug, Clone, Copy)]
pub struct Webhooks<'a> {
    client: &'a Client,
    service: Option<ServiceSid>,
    conversation: ConversationSid,
}

impl<'a> Webhooks<'a> {
    fn path(&self) -> String {
        format!(
            "{}/Conversations/{}/Webhooks",
            root(self.service.as_ref()),
            self.conversation
        )
    }

    /// `POST …/Webhooks` with `Target` = `target`.
    pub fn create(self, target: WebhookTarget) -> CreateWebhook<'a> {
        CreateWebhook::from_draft(
            Draft::new(self.client, Request::post(P, self.path()))
                .set("Target", String::from(target)),
        )
    }

    /// `GET …/Webhooks` (at most 5 per conversation).
    pub fn list(self) -> ListWebhooks<'a> {
        ListWebhooks::from_draft(Draft::new(self.client, Request::get(P, self.path())))
    }

    /// `DELETE …/Webhooks/{Sid}`.
    pub fn delete(self, webhook: &WebhookSid) -> DeleteWebhook<'a> {
        let path = format!("{}/{webhook}", self.path());
        DeleteWebhook::from_draft(Draft::new(self.client, Request::delete(P, path)))
    }
}

builder! {
    /// `POST /v1/Conversations/{ConversationSid}/Webhooks` (201).
    ///
    /// ```no_run
    /// # async fn run(twilio: flexcord_twilio::Client, sid: flexcord_twilio::sid::ConversationSid) -> Result<(), flexcord_twilio::Error> {
    /// use flexcord_twilio::conversations::WebhookTarget;
    /// let flow = "FW0123456789abcdef0123456789abcdef".parse()?;
    /// twilio.conversations().webhooks(&sid).create(WebhookTarget::Studio).flow_sid(&flow).await?;
    /// # Ok(()) }
    /// ```
    CreateWebhook -> ConversationWebhook
}
builder! {
    /// `GET /v1/Conversations/{ConversationSid}/Webhooks` (list key `webhooks`).
    ListWebhooks -> list ConversationWebhook, "webhooks", max 5
}
builder! {
    /// `DELETE /v1/Conversations/{ConversationSid}/Webhooks/{Sid}` (204).
    DeleteWebhook -> ()
}

impl CreateWebhook<'_> {
    text_setters! {
        /// The URL Twilio calls, for `webhook` and `trigger` targets (`Configuration.Url`).
        url => "Configuration.Url";
    }

    /// HTTP method, sent lower case as Conversations expects (`Configuration.Method`).
    pub fn method(mut self, method: &WebhookMethod) -> Self {
        self.draft = self
            .draft
            .set("Configuration.Method", method.as_str().to_ascii_lowercase());
        self
    }

    /// Adds event names, e.g. `onMessageAdded` (`Configuration.Filters`, repeated).
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

    /// Adds keywords of a `trigger` webhook (`Configuration.Triggers`, repeated).
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

    /// Replays the message with this index and later ones to the new webhook
    /// (`Configuration.ReplayAfter`).
    pub fn replay_after(mut self, index: u64) -> Self {
        self.draft = self
            .draft
            .set("Configuration.ReplayAfter", index.to_string());
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

    fn conv() -> ConversationSid {
        "CH0123456789abcdef0123456789abcdef".parse().expect("sid")
    }

    #[test]
    fn create_message_request_offline() {
        let c = client();
        let r = c
            .conversations()
            .messages(&conv())
            .create()
            .author("discord:1")
            .body("hi")
            .attributes(&serde_json::json!({"a": 1}))
            .webhook_enabled(false)
            .date_created(time::macros::datetime!(2026-01-02 03:04:05 UTC))
            .try_into_request()
            .expect("valid");
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(
            r.path(),
            Some("/v1/Conversations/CH0123456789abcdef0123456789abcdef/Messages")
        );
        assert_eq!(r.form_value("Author"), Some("discord:1"));
        assert_eq!(r.form_value("Body"), Some("hi"));
        assert_eq!(r.form_value("Attributes"), Some(r#"{"a":1}"#));
        assert_eq!(r.form_value("DateCreated"), Some("2026-01-02T03:04:05Z"));
        assert_eq!(r.header_value("X-Twilio-Webhook-Enabled"), Some("false"));
    }

    #[test]
    fn validation_errors_surface_at_build() {
        let c = client();
        let long = "x".repeat(MAX_BODY_CHARS + 1);
        let err = c
            .conversations()
            .messages(&conv())
            .create()
            .body(long)
            .author("a")
            .try_into_request()
            .unwrap_err();
        assert!(err.to_string().contains("Body"));
        let err = c
            .conversations()
            .create()
            .timers_closed(Duration::from_secs(60))
            .try_into_request()
            .unwrap_err();
        assert!(err.to_string().contains("Timers.Closed"));
        assert!(
            c.conversations()
                .list()
                .page_size(0)
                .try_into_request()
                .is_err()
        );
        assert!(
            c.conversations()
                .webhooks(&conv())
                .list()
                .page_size(6)
                .try_into_request()
                .is_err()
        );
    }

    #[test]
    fn unique_names_are_escaped_in_paths() {
        let c = client();
        let r = c
            .conversations()
            .fetch(SidOrName::Name("discord:1/2".into()))
            .try_into_request()
            .expect("ok");
        assert_eq!(r.path(), Some("/v1/Conversations/discord:1%2F2"));
        let r = c
            .conversations()
            .update(conv())
            .state(&ConversationState::Closed)
            .timers_inactive(Duration::from_secs(120))
            .try_into_request()
            .expect("ok");
        assert_eq!(r.form_value("State"), Some("closed"));
        assert_eq!(r.form_value("Timers.Inactive"), Some("PT120S"));
    }

    #[test]
    fn webhook_filters_repeat_the_key() {
        let c = client();
        let r = c
            .conversations()
            .webhooks(&conv())
            .create(WebhookTarget::Webhook)
            .url("https://x")
            .method(&WebhookMethod::Post)
            .filters(["onMessageAdded", "onConversationStateUpdated"])
            .try_into_request()
            .expect("ok");
        assert_eq!(r.form_value("Target"), Some("webhook"));
        assert_eq!(r.form_value("Configuration.Method"), Some("post"));
        assert_eq!(
            r.form_values("Configuration.Filters"),
            ["onMessageAdded", "onConversationStateUpdated"]
        );
        assert_eq!(
            r.encoded_form(),
            "Target=webhook&Configuration.Url=https%3A%2F%2Fx&Configuration.Method=post&Configuration.Filters=onMessageAdded&Configuration.Filters=onConversationStateUpdated"
        );
    }
}
