//! What the core wants done. Actions are values; the app's `Deliver` implementations run them.

use serde::{Deserialize, Serialize};

use crate::event::{Button, Event, Interaction};
use crate::ids::{
    ActionId, CaseNumber, ChannelId, ConversationId, MessageId, Timestamp, TwilioMessageSid,
    TwilioSid, UserId,
};
use crate::text::Attachment;

/// One action with its stable id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Stable, unique: outbox key, Discord nonce (see [`ActionId::nonce`]), idempotency key.
    pub id: ActionId,
    /// What to do.
    pub kind: ActionKind,
}

/// Who wrote a line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The Discord user.
    User,
    /// The virtual agent.
    Bot,
    /// A contact-center identity (agent, Studio).
    Agent(String),
}

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// The author.
    pub speaker: Speaker,
    /// The text (attachments as links).
    pub text: String,
    /// When it was written.
    pub at: Timestamp,
    /// The author's display name when it was written, if known: the user's Discord name, an
    /// agent's Twilio friendly name (or the local part of their identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The `flexcord` object of the Twilio conversation attributes
/// (`{"flexcord": {"discord_user", "dm_channel", "handoff", "case"}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationAttributes {
    /// The Discord user id.
    pub discord_user: UserId,
    /// The DM channel, once known.
    pub dm_channel: Option<ChannelId>,
    /// The hand-off signal a Studio flow checks.
    pub handoff: bool,
    /// The case number, once known.
    pub case: Option<CaseNumber>,
}

/// A Flex interaction the bridge created for a conversation (`KD…`) and its interaction
/// channel (`UO…`): closing that channel completes the agent's task and closes the
/// conversation, the way Flex itself ends a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlexInteraction {
    /// The interaction SID (`KD…`).
    pub interaction: String,
    /// The interaction channel SID (`UO…`).
    pub channel: String,
}

impl FlexInteraction {
    /// Reads the upstream id a `CreateInteraction` delivery reports: `KD…/UO…`.
    pub fn parse(upstream_id: &str) -> Option<Self> {
        let (interaction, channel) = upstream_id.split_once('/')?;
        (interaction.starts_with("KD") && channel.starts_with("UO")).then(|| Self {
            interaction: interaction.to_owned(),
            channel: channel.to_owned(),
        })
    }

    /// The upstream id form, `KD…/UO…` (see [`FlexInteraction::parse`]).
    pub fn upstream_id(&self) -> String {
        format!("{}/{}", self.interaction, self.channel)
    }
}

/// The part of an agent's (Twilio) message a DM carries: messages longer than 2,000
/// characters become several DMs. Carried by [`ActionKind::SendDm`] and back by its
/// [`Event::Delivered`], so the core remembers which Discord message each part became (for
/// edits) without keeping an entry per DM in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The Twilio message.
    pub twilio: TwilioMessageSid,
    /// Which part (0 = the first).
    pub part: u32,
}

/// What a failed action was, as far as the core's reaction depends on it, for actions the
/// core keeps no pending entry for. Carried by [`Event::DeliveryFailed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "failed", rename_all = "snake_case")]
pub enum FailedAction {
    /// A DM (`SendDm`): the user cannot be reached on Discord.
    Dm,
    /// A message to the Twilio side (`PostToTwilio`) written as `author`.
    Post {
        /// The message's author identity.
        author: String,
    },
}

/// The kind of case a report opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// `/bug`.
    Bug,
    /// `/new_feature`.
    Feature,
}

/// Why a case is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedBy {
    /// The agent closed the conversation or wrapped the task.
    Agent,
    /// The user (`/case close`, "this solved it").
    Requester,
    /// Nobody wrote for the idle period.
    Idle,
    /// The Twilio side or the user could not be reached any more.
    Unreachable,
}

/// A change to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "update", rename_all = "snake_case")]
pub enum CaseUpdate {
    /// An agent joined: status `open`, assignee.
    Open {
        /// The agent identity.
        assignee: String,
        /// The agent's display name (see [`ActionKind::LookupAgentName`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee_name: Option<String>,
    },
    /// Status `resolved`.
    Resolved {
        /// Why.
        by: ResolvedBy,
    },
    /// The user's rating after the close.
    Rating {
        /// 1 to 5.
        stars: u8,
    },
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionKind {
    /// Open (get) the DM channel with `user`. Result: [`Event::DmOpened`].
    OpenDm {
        /// The user.
        user: UserId,
    },
    /// Send one Discord message (already at most 2,000 characters, mentions neutralised).
    /// Send it with `nonce` = [`ActionId::nonce`] and `enforce_nonce`, and with no allowed
    /// mentions. Result: [`Event::Delivered`] with the Discord message id.
    SendDm {
        /// The DM channel.
        channel: ChannelId,
        /// The text.
        text: String,
        /// Buttons under the message, with custom ids from [`Button::custom_id`].
        buttons: Vec<Button>,
        /// Suggested questions (e.g. as a select menu or a list).
        suggestions: Vec<String>,
        /// Files to upload with the message (a file sent from the contact center). One that
        /// cannot be uploaded (over Discord's upload limit, or not downloadable) is named with
        /// its link in the text instead.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<Attachment>,
        /// The part of an agent's message this DM carries, if it is one (the deliverer ignores
        /// it; its result carries it back).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forwarded: Option<Forward>,
    },
    /// Edit a Discord message the core sent earlier.
    EditDm {
        /// The DM channel.
        channel: ChannelId,
        /// The message.
        message: MessageId,
        /// The new text.
        text: String,
    },
    /// Delete a Discord message the core sent earlier (the surplus parts of an agent message
    /// whose edit needs fewer parts). A message that is already gone counts as deleted.
    DeleteDm {
        /// The DM channel.
        channel: ChannelId,
        /// The message.
        message: MessageId,
    },
    /// A follow-up (ephemeral) answer to a slash command or button.
    Respond {
        /// The interaction.
        interaction: Interaction,
        /// The text.
        text: String,
    },
    /// Create the Twilio conversation (conversations mode) or channel (chat mode, through the
    /// Flex Flow), with the user as participant `identity`. With `studio`, the conversation gets
    /// the Studio webhook (studio route). The user's display name, when known, is the
    /// participant's `friendlyName` attribute (Flex shows it as the author of their messages).
    /// Record the SID before reporting success.
    /// Result: [`Event::TwilioConversationCreated`].
    CreateTwilioConversation {
        /// `discord:<dm channel>:<n>` style, unique per conversation.
        unique_name: String,
        /// The user's identity, `discord:<user id>`.
        identity: String,
        /// The conversation's display name (the user's name when known).
        friendly_name: String,
        /// The user's Discord display name, if known.
        #[serde(default)]
        user_name: Option<String>,
        /// Initial attributes.
        attributes: ConversationAttributes,
        /// Attach the Studio flow (studio route, chat mode).
        studio: bool,
    },
    /// Add a message to the Twilio side (user message, back-filled line, bot reply, notice).
    /// Result: [`Event::Delivered`] with the message SID.
    PostToTwilio {
        /// The conversation or channel.
        sid: TwilioSid,
        /// The author identity.
        author: String,
        /// The text (at most 1,600 characters).
        body: String,
        /// Original time for back-filled lines (`DateCreated`).
        at: Option<Timestamp>,
        /// The Discord message it came from (message attribute `discord_message`).
        discord_message: Option<MessageId>,
        /// `false`: send `X-Twilio-Webhook-Enabled: false` (bot replies, back-fill, notices).
        webhooks: bool,
        /// A file to upload to the Media Content Service and attach (`MediaSid`), the message
        /// then carrying no body. When it cannot be uploaded (too large, not downloadable, no
        /// media service) the message is sent with `body` alone, which names the file and its
        /// link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<Box<Attachment>>,
    },
    /// Replace the conversation attributes (the `handoff` flag, the case number).
    UpdateTwilioAttributes {
        /// The conversation or channel.
        sid: TwilioSid,
        /// The attributes.
        attributes: ConversationAttributes,
    },
    /// Hand the conversation to Flex (Conversations mode, both routes): `POST /v1/Interactions`
    /// with the configured workspace and workflow; the task's `customerName` is the user's
    /// display name when known. Result: [`Event::Delivered`] whose upstream id is the
    /// interaction and its channel, `KD…/UO…` ([`FlexInteraction::upstream_id`]).
    CreateInteraction {
        /// The conversation.
        sid: TwilioSid,
        /// The user's identity.
        identity: String,
        /// The user's Discord display name, if known.
        #[serde(default)]
        user_name: Option<String>,
        /// The case, when already known.
        case: Option<CaseNumber>,
    },
    /// Close the Twilio side: with a Flex interaction, close its channel and complete its tasks
    /// (Flex then closes the conversation, as when an agent ends the chat); otherwise set the
    /// conversation's state to `closed`, or deactivate the chat channel (chat mode: Flex wraps
    /// the task up).
    CloseTwilio {
        /// The conversation or channel.
        sid: TwilioSid,
        /// The Flex interaction the bridge created for it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interaction: Option<FlexInteraction>,
    },
    /// Look up the name customers see for an agent: the friendly name of the Twilio user with
    /// this identity (the Conversations user, or chat mode's Chat user). Report the name as the
    /// upstream id, or no id when the user has none (or does not exist). Read-only.
    /// Result: [`Event::AgentNamed`].
    LookupAgentName {
        /// The agent's identity.
        identity: String,
    },
    /// List the messages of the Twilio conversation (or channel) after position `after` (all
    /// of them when `None`), oldest first, marking the bridge's own. Read-only. Result:
    /// [`Event::TwilioCaughtUp`], which the deliverer reports itself.
    CatchUpTwilio {
        /// The conversation or channel.
        sid: TwilioSid,
        /// The last position the core accounted for.
        after: Option<u64>,
    },
    /// Ask the virtual agent. Result: [`Event::BotReply`].
    AskBot {
        /// The user.
        user: UserId,
        /// The question.
        text: String,
    },
    /// Open a support case (status `new`). Use the action id as the idempotency key.
    /// Result: [`Event::CaseOpened`].
    OpenCase {
        /// The requester.
        requester: UserId,
        /// The requester's Discord display name, if known (the case shows `discord:<id>`
        /// otherwise).
        #[serde(default)]
        requester_name: Option<String>,
        /// The last user message.
        subject: String,
        /// Everything said so far.
        transcript: Vec<TranscriptEntry>,
        /// The conversation it belongs to.
        conversation: ConversationId,
    },
    /// Change a case.
    UpdateCase {
        /// The case.
        number: CaseNumber,
        /// The change, on behalf of `requester` when the user asked for it.
        update: CaseUpdate,
        /// Set when the user asked (the case must be theirs).
        requester: Option<UserId>,
    },
    /// Append a message to the case timeline (external id = the action id).
    AnnotateCase {
        /// The case.
        number: CaseNumber,
        /// The line.
        entry: TranscriptEntry,
    },
    /// `/bug`, `/new_feature`: open a case of that kind (status `new`, idempotency key = the
    /// action id), answer the interaction with its number and likely duplicates, then announce
    /// it in `announce` (nonce derived from the action id, no mentions). Each step is safe to
    /// repeat, so a retry after a failed announcement files nothing twice.
    FileReport {
        /// Bug or feature.
        kind: ReportKind,
        /// Its title.
        title: String,
        /// The modal's other fields, as text.
        body: String,
        /// Who filed it.
        requester: UserId,
        /// Their Discord display name, if known.
        #[serde(default)]
        requester_name: Option<String>,
        /// Where to answer.
        interaction: Interaction,
        /// The channel that announces new reports of this kind, if configured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        announce: Option<ChannelId>,
    },
    /// `/case status`: look the case (or the requester's open cases) up and answer the
    /// interaction. Read-only.
    CaseStatus {
        /// The requester (only their cases are shown).
        requester: UserId,
        /// One case, or all open cases of the requester.
        number: Option<CaseNumber>,
        /// Where to answer.
        interaction: Interaction,
    },
    /// Post `post` in `channel` as one embed (nonce derived from the action id, no mentions),
    /// then publish it to the channels following it when `channel` is an announcement channel
    /// (a message already published counts as published), then, for a staff member's
    /// `/announce`, answer `interaction`. Each step is safe to repeat. Result:
    /// [`Event::Delivered`] with the message id.
    PostAnnouncement {
        /// #announcements.
        channel: ChannelId,
        /// What to post.
        post: crate::community::Announcement,
        /// The `/announce` form submission to answer, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interaction: Option<Interaction>,
    },
    /// `/setup`: lay `guild` out as `flexcord setup-guild` does (idempotent: what exists and
    /// fits is left alone) and answer `interaction` with what was done and the resulting ids.
    SetupGuild {
        /// The guild.
        guild: u64,
        /// Where to answer.
        interaction: Interaction,
    },
    /// `/case close <number>` for a case that is not the user's live conversation: resolve it
    /// if it is theirs and still open, and answer the interaction with the outcome.
    CloseCase {
        /// The requester (only their cases may be closed).
        requester: UserId,
        /// The case.
        number: CaseNumber,
        /// Where to answer.
        interaction: Interaction,
    },
}

impl ActionKind {
    /// Whether the core does anything with this action's success: opening a DM, creating the
    /// Twilio conversation, a case or a Flex interaction, an agent's name, the bot's answer,
    /// and a DM (its
    /// Discord id, for edits; the `/helpme` answer). The success of the others (case updates
    /// and annotations, edits, deletions, answers, Twilio posts and updates, reports) changes
    /// nothing, so a driver may mark them done without applying their result. A failure always
    /// matters.
    pub fn success_matters(&self) -> bool {
        matches!(
            self,
            Self::OpenDm { .. }
                | Self::SendDm { .. }
                | Self::CreateTwilioConversation { .. }
                | Self::CreateInteraction { .. }
                | Self::LookupAgentName { .. }
                | Self::CatchUpTwilio { .. }
                | Self::AskBot { .. }
                | Self::OpenCase { .. }
        )
    }

    /// Whether a driver may start `next`, the conversation's following action, while this one
    /// is still being delivered. Only a transcript line ([`ActionKind::AnnotateCase`]) lets
    /// others pass: its success changes nothing, no later action needs it, and lines reach the
    /// case store in the order they are started (one queue). A later change of the case
    /// (`OpenCase`, `UpdateCase`, `CloseCase`, a report) still waits for it, so the line stays
    /// before that change on the case's timeline. A failure is handled as any other: the
    /// line is tried again later and the actions after it that already ran stay done.
    pub fn overlaps(&self, next: &ActionKind) -> bool {
        self.lets_others_pass() && !next.changes_case()
    }

    /// Whether [`ActionKind::overlaps`] holds for some following actions.
    pub fn lets_others_pass(&self) -> bool {
        matches!(self, Self::AnnotateCase { .. })
    }

    /// Whether this action writes a case other than by appending a transcript line.
    fn changes_case(&self) -> bool {
        matches!(
            self,
            Self::OpenCase { .. }
                | Self::UpdateCase { .. }
                | Self::CloseCase { .. }
                | Self::FileReport { .. }
        )
    }

    /// The action's name, for logs, metrics and the outbox's `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OpenDm { .. } => "open_dm",
            Self::SendDm { .. } => "send_dm",
            Self::EditDm { .. } => "edit_dm",
            Self::DeleteDm { .. } => "delete_dm",
            Self::Respond { .. } => "respond",
            Self::CreateTwilioConversation { .. } => "create_twilio_conversation",
            Self::PostToTwilio { .. } => "post_to_twilio",
            Self::UpdateTwilioAttributes { .. } => "update_twilio_attributes",
            Self::CreateInteraction { .. } => "create_interaction",
            Self::CloseTwilio { .. } => "close_twilio",
            Self::LookupAgentName { .. } => "lookup_agent_name",
            Self::CatchUpTwilio { .. } => "catch_up_twilio",
            Self::AskBot { .. } => "ask_bot",
            Self::OpenCase { .. } => "open_case",
            Self::UpdateCase { .. } => "update_case",
            Self::AnnotateCase { .. } => "annotate_case",
            Self::FileReport { .. } => "file_report",
            Self::CaseStatus { .. } => "case_status",
            Self::CloseCase { .. } => "close_case",
            Self::PostAnnouncement { .. } => "post_announcement",
            Self::SetupGuild { .. } => "setup_guild",
        }
    }
}

impl Action {
    /// The event that reports this action's success with the upstream's id: `DmOpened` (id =
    /// channel id), `TwilioConversationCreated` (id = SID), `CaseOpened` (id = case number),
    /// `AgentNamed` (id = the friendly name, if any), otherwise `Delivered`. `AskBot` is answered with [`Event::BotReply`] by its deliverer
    /// instead. A malformed channel id becomes `DeliveryFailed`.
    pub fn completed(&self, upstream_id: Option<String>) -> Event {
        let action_id = self.id.clone();
        match (&self.kind, upstream_id) {
            (ActionKind::OpenDm { .. }, Some(id)) => match id.parse() {
                Ok(channel) => Event::DmOpened {
                    action_id,
                    channel: ChannelId(channel),
                },
                Err(_) => Event::DeliveryFailed {
                    action_id,
                    permanent: true,
                    reason: format!("DM channel id {id:?} is not a snowflake"),
                    of: None,
                },
            },
            (ActionKind::CreateTwilioConversation { .. }, Some(sid)) => {
                Event::TwilioConversationCreated {
                    action_id,
                    sid: TwilioSid(sid),
                }
            }
            (ActionKind::LookupAgentName { identity }, name) => Event::AgentNamed {
                action_id,
                identity: identity.clone(),
                name,
            },
            (ActionKind::OpenCase { .. }, Some(number)) => Event::CaseOpened {
                action_id,
                number: CaseNumber(number),
            },
            (
                ActionKind::OpenDm { .. }
                | ActionKind::CreateTwilioConversation { .. }
                | ActionKind::OpenCase { .. },
                None,
            ) => Event::DeliveryFailed {
                action_id,
                permanent: true,
                reason: "the upstream returned no id".to_owned(),
                of: None,
            },
            (kind, upstream_id) => Event::Delivered {
                action_id,
                upstream_id,
                forwarded: match kind {
                    ActionKind::SendDm { forwarded, .. } => forwarded.clone(),
                    _ => None,
                },
            },
        }
    }

    /// The event reporting that this action failed for good.
    pub fn failed(&self, permanent: bool, reason: impl Into<String>) -> Event {
        Event::DeliveryFailed {
            action_id: self.id.clone(),
            permanent,
            reason: reason.into(),
            of: match &self.kind {
                ActionKind::SendDm { .. } => Some(FailedAction::Dm),
                ActionKind::PostToTwilio { author, .. } => Some(FailedAction::Post {
                    author: author.clone(),
                }),
                _ => None,
            },
        }
    }
}
