//! Flex API v1 (`https://flex-api.twilio.com`): legacy Flex chat channels and Flex Flows, and
//! the Interactions API that hands a conversation to Flex.
//!
//! ```no_run
//! # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
//! use flexcord_twilio::flex::ChannelStatusUpdate;
//! use flexcord_twilio::sid::ConversationSid;
//! use serde_json::json;
//!
//! let conversation: ConversationSid = "CH0123456789abcdef0123456789abcdef".parse()?;
//! let routing = json!({"properties": {
//!     "workspace_sid": "WS0123456789abcdef0123456789abcdef",
//!     "workflow_sid": "WW0123456789abcdef0123456789abcdef",
//!     "task_channel_unique_name": "chat",
//!     "attributes": {"customerName": "discord:4021"}
//! }});
//! // 200 means "accepted": Twilio sets the interaction up asynchronously.
//! let interaction = twilio.flex().interactions().create_for_conversation(&conversation, &routing).await?;
//! // Later, end the agent's task: close the interaction channel and complete its tasks.
//! let channels = twilio.flex().interaction_channels(&interaction.sid).list().await?;
//! for channel in channels.items {
//!     twilio
//!         .flex()
//!         .interaction_channels(&interaction.sid)
//!         .update(&channel.sid, ChannelStatusUpdate::Closed)
//!         .complete_tasks()
//!         .await?;
//! }
//! # Ok(()) }
//! ```

use serde::Deserialize;

use crate::builder::{Draft, builder, text_setters};
use crate::client::Client;
use crate::enums::string_enum;
use crate::model::{Timestamp, date};
use crate::request::{Product, Request};
use crate::sid::{
    AccountSid, ChannelSid, ConversationSid, FlexFlowSid, InteractionChannelSid,
    InteractionContextSid, InteractionSid, ServiceSid, TaskSid, UserSid,
};

const P: Product = Product::Flex;

impl Client {
    /// Flex API v1.
    pub fn flex(&self) -> Flex<'_> {
        Flex { client: self }
    }
}

/// Handler for the Flex API.
#[derive(Debug, Clone, Copy)]
pub struct Flex<'a> {
    client: &'a Client,
}

impl<'a> Flex<'a> {
    /// `/v1/Channels` (legacy Flex chat channels).
    pub fn channels(self) -> FlexChannels<'a> {
        FlexChannels {
            client: self.client,
        }
    }

    /// `/v1/FlexFlows`.
    pub fn flex_flows(self) -> FlexFlows<'a> {
        FlexFlows {
            client: self.client,
        }
    }

    /// `/v1/Interactions`.
    pub fn interactions(self) -> Interactions<'a> {
        Interactions {
            client: self.client,
        }
    }

    /// `/v1/Interactions/{InteractionSid}/Channels`.
    pub fn interaction_channels(self, interaction: &InteractionSid) -> InteractionChannels<'a> {
        InteractionChannels {
            client: self.client,
            interaction: *interaction,
        }
    }
}

string_enum! {
    /// Media type of an interaction channel.
    pub enum InteractionChannelType {
        /// Voice.
        Voice = "voice",
        /// SMS.
        Sms = "sms",
        /// E-mail.
        Email = "email",
        /// Web chat.
        Web = "web",
        /// `WhatsApp`.
        Whatsapp = "whatsapp",
        /// Chat (Conversations).
        Chat = "chat",
        /// Facebook Messenger.
        Messenger = "messenger",
        /// Google Business Messages.
        Gbm = "gbm",
    }
}

string_enum! {
    /// Status of an interaction channel.
    pub enum InteractionChannelStatus {
        /// Being set up (creation is asynchronous).
        Setup = "setup",
        /// Routed and live.
        Active = "active",
        /// Setup failed; see `error_code` / `error_message`.
        Failed = "failed",
        /// Closed.
        Closed = "closed",
        /// Inactive.
        Inactive = "inactive",
        /// Paused.
        Pause = "pause",
        /// Being transferred.
        Transfer = "transfer",
    }
}

string_enum! {
    /// The status to set on an interaction channel (`Status`).
    pub enum ChannelStatusUpdate {
        /// Close the channel: its tasks go to wrap-up unless `Routing` closes them too.
        Closed = "closed",
        /// Pause the channel (requires `Routing={"status":"closed"}`).
        Inactive = "inactive",
    }
}

/// A legacy Flex chat channel (a Chat channel wired to a Flex Flow).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FlexChannel {
    /// The Chat channel, `CH…`.
    pub sid: ChannelSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The Flex Flow.
    #[serde(default)]
    pub flex_flow_sid: Option<FlexFlowSid>,
    /// The chat user created or found for the identity.
    #[serde(default)]
    pub user_sid: Option<UserSid>,
    /// The task, for integration type `task`.
    #[serde(default)]
    pub task_sid: Option<TaskSid>,
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

/// A Flex Flow.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FlexFlow {
    /// `FO…`.
    pub sid: FlexFlowSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// Name.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// The Chat service (`IS…`) the flow's channels live in.
    #[serde(default)]
    pub chat_service_sid: Option<ServiceSid>,
    /// `web`, `sms`, `custom`, ...
    #[serde(default)]
    pub channel_type: Option<String>,
    /// Contact identity.
    #[serde(default)]
    pub contact_identity: Option<String>,
    /// Enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `studio`, `external` or `task`.
    #[serde(default)]
    pub integration_type: Option<String>,
    /// Integration settings as Twilio returns them.
    #[serde(default)]
    pub integration: Option<serde_json::Value>,
    /// Long-lived channels.
    #[serde(default)]
    pub long_lived: Option<bool>,
    /// Janitor enabled.
    #[serde(default)]
    pub janitor_enabled: Option<bool>,
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

/// A Flex interaction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Interaction {
    /// `KD…`.
    pub sid: InteractionSid,
    /// The media channel, e.g. `{"type":"chat","sid":"UO…"}`.
    #[serde(default)]
    pub channel: Option<serde_json::Value>,
    /// Routing; for inbound interactions it holds the created task.
    #[serde(default)]
    pub routing: Option<serde_json::Value>,
    /// Interaction context.
    #[serde(default)]
    pub interaction_context_sid: Option<InteractionContextSid>,
    /// Webhook TTID.
    #[serde(default)]
    pub webhook_ttid: Option<String>,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// A channel of an interaction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct InteractionChannel {
    /// `UO…`.
    pub sid: InteractionChannelSid,
    /// The interaction.
    #[serde(default)]
    pub interaction_sid: Option<InteractionSid>,
    /// Media type.
    #[serde(rename = "type", default)]
    pub channel_type: Option<InteractionChannelType>,
    /// Status: `setup` until Twilio finishes, then `active` or `failed`.
    #[serde(default)]
    pub status: Option<InteractionChannelStatus>,
    /// Twilio error code of a failed channel.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// Error message of a failed channel.
    #[serde(default)]
    pub error_message: Option<String>,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// Handler for `/v1/Channels`.
#[derive(Debug, Clone, Copy)]
pub struct FlexChannels<'a> {
    client: &'a Client,
}

impl<'a> FlexChannels<'a> {
    /// `POST /v1/Channels` with the four required parameters: the Flex Flow, the chat user's
    /// identity and display name, and the channel's display name.
    pub fn create(
        self,
        flex_flow: &FlexFlowSid,
        identity: impl Into<String>,
        chat_user_friendly_name: impl Into<String>,
        chat_friendly_name: impl Into<String>,
    ) -> CreateFlexChannel<'a> {
        CreateFlexChannel::from_draft(
            Draft::new(self.client, Request::post(P, "/v1/Channels"))
                .set("FlexFlowSid", flex_flow.as_str())
                .set("Identity", identity)
                .set("ChatUserFriendlyName", chat_user_friendly_name)
                .set("ChatFriendlyName", chat_friendly_name),
        )
    }
}

builder! {
    /// `POST /v1/Channels` (201).
    CreateFlexChannel -> FlexChannel
}

impl CreateFlexChannel<'_> {
    text_setters! {
        /// The contact's identity at its channel, e.g. a phone number or an external id
        /// (`Target`).
        target => "Target";
        /// Unique name of the chat channel (`ChatUniqueName`).
        chat_unique_name => "ChatUniqueName";
    }

    /// Pre-engagement data shown to the agent (`PreEngagementData`, a JSON text).
    pub fn pre_engagement_data(mut self, data: &serde_json::Value) -> Self {
        self.draft = self.draft.set("PreEngagementData", data.to_string());
        self
    }

    /// An existing task, for integration type `task` (`TaskSid`).
    pub fn task_sid(mut self, task: &TaskSid) -> Self {
        self.draft = self.draft.set("TaskSid", task.as_str());
        self
    }

    /// Attributes of the task to create (`TaskAttributes`, a JSON text).
    pub fn task_attributes(mut self, attributes: &serde_json::Value) -> Self {
        self.draft = self.draft.set("TaskAttributes", attributes.to_string());
        self
    }

    /// Keep the channel after the task ends (`LongLived`).
    pub fn long_lived(mut self, long_lived: bool) -> Self {
        self.draft = self.draft.set_bool("LongLived", long_lived);
        self
    }
}

/// Handler for `/v1/FlexFlows`.
#[derive(Debug, Clone, Copy)]
pub struct FlexFlows<'a> {
    client: &'a Client,
}

impl<'a> FlexFlows<'a> {
    /// `GET /v1/FlexFlows`.
    pub fn list(self) -> ListFlexFlows<'a> {
        ListFlexFlows::from_draft(Draft::new(self.client, Request::get(P, "/v1/FlexFlows")))
    }
}

builder! {
    /// `GET /v1/FlexFlows` (list key `flex_flows`).
    ListFlexFlows -> list FlexFlow, "flex_flows", max 1000
}

impl ListFlexFlows<'_> {
    /// Only flows with this name (`FriendlyName`).
    pub fn friendly_name(mut self, name: impl Into<String>) -> Self {
        self.draft = self.draft.query("FriendlyName", name);
        self
    }
}

/// Handler for `/v1/Interactions`.
#[derive(Debug, Clone, Copy)]
pub struct Interactions<'a> {
    client: &'a Client,
}

impl<'a> Interactions<'a> {
    /// `POST /v1/Interactions` with the `Channel` JSON. Twilio answers 200 and sets the
    /// interaction up asynchronously: the result means "accepted"; list its channels to learn
    /// whether setup succeeded.
    pub fn create(self, channel: &serde_json::Value) -> CreateInteraction<'a> {
        CreateInteraction::from_draft(
            Draft::new(self.client, Request::post(P, "/v1/Interactions"))
                .set("Channel", channel.to_string()),
        )
    }

    /// `POST /v1/Interactions` for an existing conversation started by the customer:
    /// `Channel={"type":"chat","initiated_by":"customer","properties":{"media_channel_sid":"CH…"}}`
    /// and the given `Routing` JSON.
    pub fn create_for_conversation(
        self,
        conversation: &ConversationSid,
        routing: &serde_json::Value,
    ) -> CreateInteraction<'a> {
        let channel = serde_json::json!({
            "type": "chat",
            "initiated_by": "customer",
            "properties": {"media_channel_sid": conversation.as_str()},
        });
        self.create(&channel).routing(routing)
    }

    /// `GET /v1/Interactions/{Sid}`.
    pub fn fetch(self, interaction: &InteractionSid) -> FetchInteraction<'a> {
        FetchInteraction::from_draft(Draft::new(
            self.client,
            Request::get(P, format!("/v1/Interactions/{interaction}")),
        ))
    }
}

builder! {
    /// `POST /v1/Interactions` (200: accepted, set up asynchronously).
    CreateInteraction -> Interaction
}
builder! {
    /// `GET /v1/Interactions/{Sid}`.
    FetchInteraction -> Interaction
}

impl CreateInteraction<'_> {
    text_setters! {
        /// Webhook TTID (`WebhookTtid`).
        webhook_ttid => "WebhookTtid";
    }

    /// `TaskRouter` routing (`Routing`, a JSON text), e.g.
    /// `{"properties":{"workspace_sid":"WS…","workflow_sid":"WW…","task_channel_unique_name":"chat","attributes":{…}}}`.
    pub fn routing(mut self, routing: &serde_json::Value) -> Self {
        self.draft = self.draft.set("Routing", routing.to_string());
        self
    }

    /// Interaction context (`InteractionContextSid`).
    pub fn interaction_context_sid(mut self, context: &InteractionContextSid) -> Self {
        self.draft = self.draft.set("InteractionContextSid", context.as_str());
        self
    }
}

/// Handler for `/v1/Interactions/{InteractionSid}/Channels`.
#[derive(Debug, Clone, Copy)]
pub struct InteractionChannels<'a> {
    client: &'a Client,
    interaction: InteractionSid,
}

impl<'a> InteractionChannels<'a> {
    fn path(&self) -> String {
        format!("/v1/Interactions/{}/Channels", self.interaction)
    }

    /// `GET …/Channels`.
    pub fn list(self) -> ListInteractionChannels<'a> {
        ListInteractionChannels::from_draft(Draft::new(self.client, Request::get(P, self.path())))
    }

    /// `POST …/Channels/{Sid}` with `Status`: how a Flex task is ended.
    pub fn update(
        self,
        channel: &InteractionChannelSid,
        status: ChannelStatusUpdate,
    ) -> UpdateInteractionChannel<'a> {
        let path = format!("{}/{channel}", self.path());
        UpdateInteractionChannel::from_draft(
            Draft::new(self.client, Request::post(P, path)).set("Status", String::from(status)),
        )
    }
}

builder! {
    /// `GET /v1/Interactions/{InteractionSid}/Channels` (list key `channels`).
    ListInteractionChannels -> list InteractionChannel, "channels", max 1000
}
builder! {
    /// `POST /v1/Interactions/{InteractionSid}/Channels/{Sid}`.
    UpdateInteractionChannel -> InteractionChannel
}

impl UpdateInteractionChannel<'_> {
    /// What happens to the channel's tasks (`Routing`, a JSON text).
    pub fn routing(mut self, routing: &serde_json::Value) -> Self {
        self.draft = self.draft.set("Routing", routing.to_string());
        self
    }

    /// `Routing={"status":"closed"}`: complete the tasks instead of leaving them in wrap-up.
    pub fn complete_tasks(self) -> Self {
        self.routing(&serde_json::json!({"status": "closed"}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TryIntoRequest;

    #[test]
    fn interaction_for_conversation_sends_json_fields() {
        let c = Client::builder()
            .account("AC0123456789abcdef0123456789abcdef", "t")
            .build()
            .expect("client");
        let conv: ConversationSid = "CH0123456789abcdef0123456789abcdef".parse().expect("ch");
        let r = c
            .flex()
            .interactions()
            .create_for_conversation(&conv, &serde_json::json!({"properties": {}}))
            .try_into_request()
            .expect("ok");
        let channel: serde_json::Value =
            serde_json::from_str(r.form_value("Channel").expect("Channel")).expect("json");
        assert_eq!(
            channel["properties"]["media_channel_sid"],
            "CH0123456789abcdef0123456789abcdef"
        );
        assert_eq!(channel["initiated_by"], "customer");
        assert_eq!(r.form_value("Routing"), Some(r#"{"properties":{}}"#));
    }
}
