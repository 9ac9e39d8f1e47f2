//! The records the emulator keeps. Tests read them through [`TwilioEmulator`](super::TwilioEmulator)'s
//! accessors, which hand out clones.

use bytes::Bytes;
use serde_json::Value;

/// A Conversations v1 conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// `CH…` SID.
    pub sid: String,
    /// The Conversations service (`IS…`) it belongs to.
    pub chat_service_sid: String,
    /// `MG…` Messaging Service, if one was given.
    pub messaging_service_sid: Option<String>,
    /// Human-readable name.
    pub friendly_name: Option<String>,
    /// Application-defined unique name.
    pub unique_name: Option<String>,
    /// Attributes as the JSON text Twilio stores (`"{}"` when unset).
    pub attributes: String,
    /// `active`, `inactive` or `closed`.
    pub state: String,
    /// `Timers.Inactive` as given (ISO 8601 duration).
    pub timer_inactive: Option<String>,
    /// `Timers.Closed` as given (ISO 8601 duration).
    pub timer_closed: Option<String>,
    /// When the inactive timer fires.
    pub date_inactive: Option<String>,
    /// When the closed timer fires.
    pub date_closed: Option<String>,
    /// Creation time (ISO 8601 UTC).
    pub date_created: String,
    /// Last update time (ISO 8601 UTC).
    pub date_updated: String,
}

/// A Conversations service (`IS…`). The emulator starts with the default one
/// ([`TwilioConfig::chat_service_sid`](super::TwilioConfig::chat_service_sid)); others are
/// created with `POST /v1/Services` or
/// [`TwilioEmulator::add_conversations_service`](super::TwilioEmulator::add_conversations_service).
/// Conversations of a non-default service are only reachable under
/// `/v1/Services/{ChatServiceSid}/Conversations`, as on Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationService {
    /// `IS…` SID.
    pub sid: String,
    /// Display name.
    pub friendly_name: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A Conversations user (`US…`): created with `POST /v1/Users`, or by Twilio when a participant
/// with a new identity joins; agents get one with a friendly name when they first accept a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationUser {
    /// `US…` SID.
    pub sid: String,
    /// The service (`IS…`) it belongs to.
    pub chat_service_sid: String,
    /// Identity, unique within the service.
    pub identity: String,
    /// Display name.
    pub friendly_name: Option<String>,
    /// Attributes JSON text.
    pub attributes: String,
    /// `RL…` role.
    pub role_sid: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A participant of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    /// `MB…` SID.
    pub sid: String,
    /// The conversation (`CH…`).
    pub conversation_sid: String,
    /// Chat identity (`discord:123`, an agent's identity), `None` for SMS-style participants.
    pub identity: Option<String>,
    /// `messaging_binding` object for non-chat participants.
    pub messaging_binding: Option<Value>,
    /// Attributes JSON text.
    pub attributes: String,
    /// `RL…` role.
    pub role_sid: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A media item attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// `ME…` SID.
    pub sid: String,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// A message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `IM…` SID.
    pub sid: String,
    /// The conversation (`CH…`).
    pub conversation_sid: String,
    /// Position in the conversation, from 0.
    pub index: u64,
    /// Author identity (`system` when none was given).
    pub author: String,
    /// Text, if any.
    pub body: Option<String>,
    /// Attributes JSON text.
    pub attributes: String,
    /// Attached media.
    pub media: Vec<MediaRef>,
    /// The author's participant, when the author is a participant.
    pub participant_sid: Option<String>,
    /// `API` (REST) or `SDK` (an agent driven through the emulator).
    pub source: String,
    /// Creation time (may be back-dated with `DateCreated`).
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A conversation-scoped webhook (`WH…`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationWebhook {
    /// `WH…` SID.
    pub sid: String,
    /// The conversation.
    pub conversation_sid: String,
    /// `webhook`, `trigger` or `studio`.
    pub target: String,
    /// `Configuration.Url`.
    pub url: Option<String>,
    /// `Configuration.Method` (`get` or `post`).
    pub method: Option<String>,
    /// `Configuration.Filters`.
    pub filters: Vec<String>,
    /// `Configuration.Triggers`.
    pub triggers: Vec<String>,
    /// `Configuration.FlowSid`.
    pub flow_sid: Option<String>,
    /// `Configuration.ReplayAfter`.
    pub replay_after: Option<u64>,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A Programmable Chat user.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatUser {
    /// `US…` SID.
    pub sid: String,
    /// Identity.
    pub identity: String,
    /// Display name.
    pub friendly_name: Option<String>,
    /// Attributes JSON text.
    pub attributes: String,
    /// `RL…` role.
    pub role_sid: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A Programmable Chat channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatChannel {
    /// `CH…` SID.
    pub sid: String,
    /// Unique name.
    pub unique_name: Option<String>,
    /// Display name.
    pub friendly_name: Option<String>,
    /// Attributes JSON text (Flex writes `from`, `channel_type`, `status`, …).
    pub attributes: String,
    /// `public` or `private`.
    pub kind: String,
    /// Creator identity (`system` through the API).
    pub created_by: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A member of a chat channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMember {
    /// `MB…` SID.
    pub sid: String,
    /// The channel.
    pub channel_sid: String,
    /// Identity.
    pub identity: String,
    /// `RL…` role.
    pub role_sid: String,
    /// Attributes JSON text.
    pub attributes: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A chat channel message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// `IM…` SID.
    pub sid: String,
    /// The channel.
    pub channel_sid: String,
    /// Position in the channel, from 0.
    pub index: u64,
    /// Author identity (`system` by default).
    pub from: String,
    /// Text, if any.
    pub body: Option<String>,
    /// Attributes JSON text.
    pub attributes: String,
    /// Attached media.
    pub media: Option<MediaRef>,
    /// Whether the body was edited.
    pub was_edited: bool,
    /// Identity of the last editor.
    pub last_updated_by: Option<String>,
    /// `API` or `SDK`.
    pub source: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A chat channel webhook (`WH…`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatWebhook {
    /// `WH…` SID.
    pub sid: String,
    /// The channel.
    pub channel_sid: String,
    /// `webhook`, `trigger` or `studio`.
    pub kind: String,
    /// `Configuration.Url`.
    pub url: Option<String>,
    /// `Configuration.Method` (`GET` or `POST`).
    pub method: Option<String>,
    /// `Configuration.Filters`.
    pub filters: Vec<String>,
    /// `Configuration.Triggers`.
    pub triggers: Vec<String>,
    /// `Configuration.FlowSid`.
    pub flow_sid: Option<String>,
    /// `Configuration.RetryCount` (0–3).
    pub retry_count: u32,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A Flex Flow (`FO…`).
#[derive(Debug, Clone, PartialEq)]
pub struct FlexFlow {
    /// `FO…` SID.
    pub sid: String,
    /// Name.
    pub friendly_name: String,
    /// The chat service (`IS…`).
    pub chat_service_sid: String,
    /// `web`, `sms`, `custom`, ….
    pub channel_type: String,
    /// `studio`, `external` or `task`.
    pub integration_type: String,
    /// The integration object (`flow_sid`, `url`, `workspace_sid`, …).
    pub integration: Value,
    /// Contact identity.
    pub contact_identity: Option<String>,
    /// Whether enabled.
    pub enabled: bool,
    /// Long-lived channels.
    pub long_lived: bool,
    /// Janitor enabled.
    pub janitor_enabled: bool,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A Flex chat channel created through `POST /v1/Channels`.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexChannel {
    /// The chat channel (`CH…`).
    pub sid: String,
    /// The flow.
    pub flex_flow_sid: String,
    /// The chat user (`US…`).
    pub user_sid: String,
    /// The customer's identity.
    pub identity: String,
    /// The task, for `task` integrations.
    pub task_sid: Option<String>,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A Flex interaction (`KD…`).
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    /// `KD…` SID.
    pub sid: String,
    /// The `Channel` JSON as given.
    pub channel: Value,
    /// The `Routing` JSON as given.
    pub routing: Value,
    /// The interaction channel (`UO…`).
    pub channel_sid: String,
    /// The task this interaction creates (`WT…`).
    pub task_sid: String,
    /// The conversation bound through `properties.media_channel_sid`.
    pub conversation_sid: Option<String>,
    /// `webhook_ttid`.
    pub webhook_ttid: Option<String>,
}

/// A Flex interaction channel (`UO…`).
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionChannel {
    /// `UO…` SID.
    pub sid: String,
    /// The interaction.
    pub interaction_sid: String,
    /// Media type (`chat`, `sms`, …).
    pub kind: String,
    /// `setup`, `active`, `failed`, `closed`, `inactive`.
    pub status: String,
    /// Error code when `failed`.
    pub error_code: Option<i64>,
    /// Error message when `failed`.
    pub error_message: Option<String>,
}

/// A `TaskRouter` task waiting for, or handled by, a Flex agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// `WT…` SID.
    pub sid: String,
    /// Status.
    pub status: TaskStatus,
    /// Task attributes (JSON text).
    pub attributes: String,
    /// The queue the task waits in.
    pub queue: String,
    /// The agent that accepted it.
    pub worker: Option<String>,
    /// The interaction, on the Conversations path.
    pub interaction_sid: Option<String>,
    /// The interaction channel, on the Conversations path.
    pub interaction_channel_sid: Option<String>,
    /// The conversation, on the Conversations path.
    pub conversation_sid: Option<String>,
    /// The chat channel, on the Chat path.
    pub chat_channel_sid: Option<String>,
    /// Creation time.
    pub date_created: String,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting in the agent queue.
    Pending,
    /// Accepted by an agent.
    Assigned,
    /// Ended into wrap-up.
    Wrapping,
    /// Completed.
    Completed,
}

/// A Studio v2 execution (`FN…`).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// `FN…` SID.
    pub sid: String,
    /// The flow (`FW…`).
    pub flow_sid: String,
    /// The contact (`FC…`).
    pub contact_sid: String,
    /// `To`.
    pub to: String,
    /// `From`.
    pub from: String,
    /// `Parameters` JSON.
    pub parameters: Value,
    /// `active` or `ended`.
    pub status: String,
    /// Creation time.
    pub date_created: String,
    /// Last update time.
    pub date_updated: String,
}

/// A media item in the Media Content Service.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// `ME…` SID.
    pub sid: String,
    /// The service (`IS…`).
    pub service_sid: String,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub content: Bytes,
    /// Author identity.
    pub author: Option<String>,
    /// The message it is attached to.
    pub message_sid: Option<String>,
    /// The conversation or channel of that message.
    pub channel_sid: Option<String>,
    /// Creation time.
    pub date_created: String,
}

/// What the Studio-like router did with a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterDecision {
    /// The conversation or chat channel.
    pub channel_sid: String,
    /// The message routed.
    pub message_sid: String,
    /// Where it went.
    pub route: Route,
}

/// A routing target of the Studio-like router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Posted to the bot URL (delivery id in [`TwilioEmulator::deliveries`](super::TwilioEmulator::deliveries)).
    Bot {
        /// The delivery's id.
        delivery_id: u64,
    },
    /// Handed to Flex: a task was created.
    Flex {
        /// The task.
        task_sid: String,
    },
    /// Already with Flex; the agent sees it.
    AlreadyWithFlex,
    /// `flexcord.handoff` is true and no task exists yet: the shipped Conversations flow ends
    /// without calling the bot (the bridge hands the conversation to Flex through the
    /// Interactions API, so the flow never creates a second task).
    HandedOff,
    /// `handoff` is false but no bot URL is configured.
    NoBotUrl,
}

/// What kind of outgoing request a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A product webhook (Conversations / Chat post-event).
    Event,
    /// The Studio-like router's HTTP request to the bot URL.
    Bot,
}

/// One webhook (or bot request) the emulator sent, with every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Sequence number, from 1.
    pub id: u64,
    /// Event webhook or bot call.
    pub kind: DeliveryKind,
    /// `EventType` (for events).
    pub event_type: Option<String>,
    /// The URL (without any `#` fragment).
    pub url: String,
    /// `POST` or `GET`.
    pub method: String,
    /// `I-Twilio-Idempotency-Token` (the same on every attempt and duplicate).
    pub idempotency_token: String,
    /// Parameters of the first attempt.
    pub params: Vec<(String, String)>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// Final outcome.
    pub outcome: DeliveryOutcome,
    /// Set when this is an injected duplicate of another delivery.
    pub duplicate_of: Option<u64>,
}

impl Delivery {
    /// The value of a parameter of the first attempt.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The `X-Twilio-Signature` sent.
    pub signature: String,
    /// The parameters sent (with this attempt's `RetryCount`).
    pub params: Vec<(String, String)>,
    /// The HTTP status received, if any.
    pub status: Option<u16>,
    /// The response body received (truncated to 4 KiB).
    pub response_body: String,
    /// The transport error, if no status was received.
    pub error: Option<String>,
}

/// The outcome of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Not sent yet, or retrying.
    Pending,
    /// Answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Dropped by an injected fault.
    Dropped,
}

/// One REST request the emulator answered (used by tests that check responses against the specs).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Status answered.
    pub status: u16,
    /// JSON body answered (`Null` when empty or not JSON).
    pub response: Value,
}
