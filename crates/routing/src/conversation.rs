//! The state of one conversation, as the store persists it (JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{FlexInteraction, ResolvedBy, TranscriptEntry};
use crate::event::{Button, Interaction, SweptMessage};
use crate::ids::{
    ActionId, CaseNumber, ChannelId, ConversationId, MessageId, Timestamp, TwilioMessageSid,
    TwilioSid, UserId,
};
use crate::text::Attachment;

/// Where a conversation is. See the crate docs for the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Just created; nothing answered yet.
    New,
    /// The virtual agent answers.
    Bot,
    /// Handed off; no agent has joined yet.
    WaitingAgent,
    /// An agent joined.
    WithAgent,
    /// Over. A new DM starts a new conversation.
    Closed,
}

impl Phase {
    /// The phase's name, as stored in the `phase` column.
    pub fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Bot => "bot",
            Self::WaitingAgent => "waiting_agent",
            Self::WithAgent => "with_agent",
            Self::Closed => "closed",
        }
    }
}

/// An action whose result the core waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pending", rename_all = "snake_case")]
pub enum Pending {
    /// `OpenDm`.
    OpenDm,
    /// `SendDm` (only a DM sent while `/helpme` waits for its answer; kept for stored states
    /// of earlier versions, which had one per DM).
    SendDm {
        /// The Twilio message forwarded (for later edits).
        forwarded: Option<TwilioMessageSid>,
        /// Which part of that message (0 = the first).
        #[serde(default)]
        part: u32,
    },
    /// `CreateTwilioConversation`.
    CreateTwilio,
    /// `CreateInteraction`.
    CreateInteraction,
    /// `PostToTwilio`; `notice` when it was the core's own notice to the agent. No longer
    /// created (a failed post says what it was, [`crate::FailedAction`]); kept so stored states
    /// of earlier versions decode.
    PostToTwilio {
        /// An agent-facing notice (its failure is only logged).
        notice: bool,
    },
    /// `OpenCase`.
    OpenCase,
    /// `AskBot`.
    AskBot,
    /// `LookupAgentName` for this identity.
    AgentName {
        /// The agent's identity.
        identity: String,
    },
    /// `CatchUpTwilio`.
    CatchUp,
}

/// A DM waiting for the DM channel to be known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedDm {
    /// The text (already neutralised and at most 2,000 characters).
    pub text: String,
    /// Buttons under it.
    pub buttons: Vec<Button>,
    /// The Twilio message it forwards, if any.
    pub forwarded: Option<TwilioMessageSid>,
    /// Which part of that message (0 = the first).
    #[serde(default)]
    pub part: u32,
    /// Files to upload with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Attachment>,
}

/// A user message waiting for the Twilio conversation to exist (studio route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedPost {
    /// The body (at most 1,600 characters).
    pub body: String,
    /// The Discord message.
    pub discord_message: MessageId,
    /// A file to upload and attach (`body` is then its fallback line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Box<Attachment>>,
}

/// One Discord message a forwarded Twilio message became, for edits. A message longer than
/// 2,000 characters becomes several, one entry each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    /// The Twilio message.
    pub twilio: TwilioMessageSid,
    /// The Discord message this part became.
    pub discord: MessageId,
    /// Which part (0 = the first; entries stored before parts were recorded are the first).
    #[serde(default)]
    pub part: u32,
}

/// A forwarded agent message whose parts are still on their way to Discord.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sending {
    /// The Twilio message.
    pub twilio: TwilioMessageSid,
    /// How many of its parts have not reached Discord yet.
    pub left: u32,
}

/// An edit of a forwarded message that waits until every part of the message has reached
/// Discord (only the latest text is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingEdit {
    /// The Twilio message.
    pub twilio: TwilioMessageSid,
    /// Its new text.
    pub body: String,
}

/// Everything the core knows about one conversation with one Discord user.
///
/// Lists are bounded (transcript 200 lines, kept only until the hand-off is done; recent event
/// keys 128; forwarded message parts 128; messages being sent 64; waiting edits 16) and the
/// pending map holds only the few actions whose result changes the conversation, never one
/// entry per message, so a stored conversation stays small however long the backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // independent once-only flags, stored as JSON
pub struct Conversation {
    /// The conversation id.
    pub id: ConversationId,
    /// The Discord user.
    pub user: UserId,
    /// The user's latest Discord display name (from their DMs, commands and buttons).
    #[serde(default)]
    pub user_name: Option<String>,
    /// Where it is.
    pub phase: Phase,
    /// When it started.
    pub started_at: Timestamp,
    /// The last message from either side.
    pub last_activity: Timestamp,
    /// The DM channel, once known.
    pub dm_channel: Option<ChannelId>,
    /// The Twilio conversation or channel, once created.
    pub twilio: Option<TwilioSid>,
    /// The case, once opened.
    pub case: Option<CaseNumber>,
    /// The agent that joined.
    pub agent: Option<String>,
    /// When the hand-off was asked for.
    pub handoff_at: Option<Timestamp>,
    /// When to send "still looking for an agent" (cleared once sent or when an agent joins).
    pub wait_notice_due: Option<Timestamp>,
    /// The next action sequence number.
    pub next_seq: u64,
    /// What was said (user, bot, agents), for the case and the back-fill.
    pub transcript: Vec<TranscriptEntry>,
    /// The last user text (the case subject).
    pub last_user_text: Option<String>,
    /// DMs waiting for the DM channel.
    pub dm_backlog: Vec<QueuedDm>,
    /// User messages waiting for the Twilio conversation.
    pub twilio_backlog: Vec<QueuedPost>,
    /// Case timeline lines waiting for the case number.
    pub case_backlog: Vec<TranscriptEntry>,
    /// An agent joined before the case number was known: tell the user after the number.
    pub joined_notice_pending: Option<String>,
    /// Actions whose results matter.
    pub pending: BTreeMap<ActionId, Pending>,
    /// The Discord messages of recent Twilio messages forwarded to Discord.
    pub forwarded: Vec<Forwarded>,
    /// Edits waiting for the parts of their message to reach Discord.
    #[serde(default)]
    pub waiting_edits: Vec<WaitingEdit>,
    /// Forwarded messages with parts still on their way (the most recent 64), so an edit
    /// waits for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sending: Vec<Sending>,
    /// Recent inbound event keys (second line of dedup after the store's).
    pub seen: Vec<String>,
    /// `OpenDm` was emitted.
    pub dm_requested: bool,
    /// `CreateTwilioConversation` was emitted.
    pub twilio_requested: bool,
    /// `OpenCase` was emitted (never twice).
    pub case_requested: bool,
    /// `OpenCase` failed for good.
    pub case_failed: bool,
    /// Discord refused a DM to the user (e.g. 50007); reset by the user's next DM.
    pub dm_unreachable: bool,
    /// Why it closed.
    pub closed_by: Option<ResolvedBy>,
    /// The user rated it.
    pub rated: bool,
    /// The Flex interaction the bridge created for the Twilio conversation, once known
    /// (closing its channel ends the agent's task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex: Option<FlexInteraction>,
    /// A `/helpme` waiting for its answer: told once the greeting reached the DM, or told how
    /// to open DMs when Discord refuses them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Interaction>,
    /// Agents' display names by identity, as Twilio gave them ([`crate::ActionKind::LookupAgentName`]);
    /// at most 16 are kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent_names: BTreeMap<String, String>,
    /// Until when the joined notice waits for the agent's name; after it the notice goes out
    /// with the identity's local part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name_due: Option<Timestamp>,
    /// The last position on the Twilio side the core accounted for (routed, or known to be the
    /// bridge's own message): the next message expected is the one after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twilio_index: Option<u64>,
    /// Twilio messages that came after a gap, held until the missing ones are fetched
    /// ([`crate::ActionKind::CatchUpTwilio`]) or [`Conversation::held_until`] passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub twilio_held: Vec<SweptMessage>,
    /// Positions a gap left unfilled when held messages were released without them (the
    /// catch-up failed or was late): such a message is still routed when it turns up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub twilio_missing: Vec<u64>,
    /// Until when held messages wait for the gap before them to be filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<Timestamp>,
    /// The latest user DM routed (Discord ids grow with time): the Discord sweep reads the DM
    /// history after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_dm: Option<MessageId>,
}

impl Conversation {
    /// A fresh conversation in [`Phase::New`].
    pub fn new(id: ConversationId, user: UserId, now: Timestamp) -> Self {
        Self {
            id,
            user,
            user_name: None,
            phase: Phase::New,
            started_at: now,
            last_activity: now,
            dm_channel: None,
            twilio: None,
            case: None,
            agent: None,
            handoff_at: None,
            wait_notice_due: None,
            next_seq: 0,
            transcript: Vec::new(),
            last_user_text: None,
            dm_backlog: Vec::new(),
            twilio_backlog: Vec::new(),
            case_backlog: Vec::new(),
            joined_notice_pending: None,
            pending: BTreeMap::new(),
            forwarded: Vec::new(),
            waiting_edits: Vec::new(),
            sending: Vec::new(),
            seen: Vec::new(),
            dm_requested: false,
            twilio_requested: false,
            case_requested: false,
            case_failed: false,
            dm_unreachable: false,
            closed_by: None,
            rated: false,
            flex: None,
            help: None,
            agent_names: BTreeMap::new(),
            agent_name_due: None,
            twilio_index: None,
            twilio_held: Vec::new(),
            twilio_missing: Vec::new(),
            held_until: None,
            last_dm: None,
        }
    }

    /// Not [`Phase::Closed`]: the store allows one open conversation per user.
    pub fn is_open(&self) -> bool {
        self.phase != Phase::Closed
    }

    /// The user's Twilio identity, `discord:<user id>`.
    pub fn identity(&self) -> String {
        identity(self.user)
    }

    /// The name customers see for an agent identity: the friendly name Twilio gave, else
    /// [`agent_fallback_name`].
    pub fn agent_name(&self, identity: &str) -> String {
        self.agent_names
            .get(identity)
            .cloned()
            .unwrap_or_else(|| agent_fallback_name(identity))
    }

    /// The user's display name, or their identity when Discord sent none.
    pub fn display_name(&self) -> String {
        self.user_name.clone().unwrap_or_else(|| self.identity())
    }
}

/// The name shown for an agent whose Twilio user has no friendly name: the local part of the
/// identity, never an e-mail address (`agent.jane@brand.example` → `agent.jane`; a scheme such
/// as `client:` is dropped: `client:alice` → `alice`). "Support" when nothing is left.
pub fn agent_fallback_name(identity: &str) -> String {
    let local = identity.split('@').next().unwrap_or_default();
    let local = local.rsplit(':').next().unwrap_or_default().trim();
    if local.is_empty() {
        "Support".to_owned()
    } else {
        local.chars().take(100).collect()
    }
}

/// A friendly name as customers may see it: trimmed, without control characters, at most 100
/// characters; an e-mail address becomes its local part. `None` when nothing is left.
pub fn clean_agent_name(name: &str) -> Option<String> {
    let name = name.trim();
    let name = if name.contains('@') {
        name.split('@').next().unwrap_or_default().trim()
    } else {
        name
    };
    let cleaned: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    (!cleaned.trim().is_empty()).then(|| cleaned.trim().to_owned())
}

/// The Twilio identity of a Discord user: `discord:<user id>`.
pub fn identity(user: UserId) -> String {
    format!("discord:{user}")
}
