//! What happens: inbound messages and commands, Twilio webhooks, results of actions, the clock.

use serde::{Deserialize, Serialize};

use crate::action::{FailedAction, Forward};
use crate::ids::{
    ActionId, CaseNumber, ChannelId, ConversationId, InteractionId, MessageId, TwilioMessageSid,
    TwilioSid, UserId,
};
use crate::text::Attachment;

/// How the bridge acknowledged an interaction within Discord's 3 seconds, which decides how the
/// core's answer ([`crate::ActionKind::Respond`]) reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ack {
    /// With a deferred ephemeral answer ("thinking…"): the core's answer replaces it.
    #[default]
    Deferred,
    /// Without a message (a button click): the core's answer, if any, is a new ephemeral
    /// follow-up.
    Silent,
}

/// A Discord interaction the core may answer (with a follow-up, within its 15 minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    /// The interaction id.
    pub id: InteractionId,
    /// Its token, needed for follow-up messages.
    pub token: String,
    /// How it was acknowledged.
    #[serde(default)]
    pub ack: Ack,
    /// The guild it was used in (`None` in a DM); a report's case records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<u64>,
    /// The channel it was used in, if Discord said; a report's case records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelId>,
}

impl Interaction {
    /// An interaction known by its id and token only (no place).
    pub fn new(id: InteractionId, token: impl Into<String>) -> Self {
        Self {
            id,
            token: token.into(),
            ack: Ack::Deferred,
            guild: None,
            channel: None,
        }
    }
}

/// A message found on the Twilio side by [`crate::ActionKind::CatchUpTwilio`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweptMessage {
    /// Its SID.
    pub message: TwilioMessageSid,
    /// Its position in the conversation.
    pub index: u64,
    /// Its author identity.
    pub author: String,
    /// Its text.
    pub body: String,
    /// Media, as links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The bridge posted it (its attributes carry `flexcord.action`): a back-fill line, a
    /// notice or a user's message, never routed to Discord.
    pub ours: bool,
}

/// A slash command or modal submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// `/helpme`: open the DM with the virtual agent (it offers a live agent).
    HelpMe,
    /// `/bug` (modal: title, steps, expected, actual).
    Bug {
        /// Short title.
        title: String,
        /// Steps to reproduce.
        steps: String,
        /// Expected behaviour.
        expected: String,
        /// Actual behaviour.
        actual: String,
    },
    /// `/new_feature` (modal: title, description).
    NewFeature {
        /// Short title.
        title: String,
        /// What is wanted.
        description: String,
    },
    /// `/case status [number]`: one case, or the user's open cases.
    CaseStatus {
        /// The case asked about.
        number: Option<CaseNumber>,
    },
    /// `/case close <number>`.
    CaseClose {
        /// The case to resolve.
        number: CaseNumber,
    },
    /// `/announce` (staff only): without `form` the command itself (the staff get the form
    /// instead, so the core answers it only to refuse), with it the submitted form.
    Announce {
        /// The submitted form, if this is the submission.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        form: Option<crate::community::Announcement>,
        /// The roles the member has in the guild (the staff check reads them).
        #[serde(default)]
        roles: Vec<u64>,
    },
    /// `/setup` (administrators only): lay the guild out as `flexcord setup-guild` does.
    Setup {
        /// Whether the member has the Administrator permission in the guild.
        administrator: bool,
    },
}

/// A button under one of the core's messages; its custom id carries the conversation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "button", content = "stars", rename_all = "snake_case")]
pub enum Button {
    /// "Talk to a live agent".
    TalkToAgent,
    /// "This solved it".
    Solved,
    /// A rating from 1 to 5 (other values are ignored).
    Rate(u8),
}

impl Button {
    /// The custom id for this button under a message of `conversation`: `fc:<button>:<id>`.
    pub fn custom_id(self, conversation: &ConversationId) -> String {
        match self {
            Self::TalkToAgent => format!("fc:agent:{conversation}"),
            Self::Solved => format!("fc:solved:{conversation}"),
            Self::Rate(n) => format!("fc:rate{n}:{conversation}"),
        }
    }

    /// Reads a custom id made by [`Button::custom_id`].
    pub fn parse_custom_id(custom_id: &str) -> Option<(Self, ConversationId)> {
        let rest = custom_id.strip_prefix("fc:")?;
        let (kind, conversation) = rest.split_once(':')?;
        let button = match kind {
            "agent" => Self::TalkToAgent,
            "solved" => Self::Solved,
            _ => Self::Rate(kind.strip_prefix("rate")?.parse().ok()?),
        };
        (!conversation.is_empty()).then(|| (button, ConversationId::from(conversation)))
    }
}

/// How sure the virtual agent is of its answer, which decides what the user is offered under
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The articles are the answer: "Talk to a live agent" and "This solved it".
    #[default]
    Sure,
    /// "Is it one of these?": the articles, "Talk to a live agent" and "This solved it".
    Unsure,
    /// No article fits: only "Talk to a live agent".
    Unknown,
}

/// What the virtual agent answered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BotReply {
    /// Messages for the user, in order.
    pub messages: Vec<String>,
    /// Suggested follow-up questions (shown under the last message).
    pub suggestions: Vec<String>,
    /// The bot wants a person to take over.
    pub handoff: bool,
    /// How sure it is (answers stored before this field are sure).
    #[serde(default)]
    pub confidence: Confidence,
}

/// Everything the core reacts to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A DM from the user to the bot.
    DirectMessage {
        /// The author.
        user: UserId,
        /// The DM channel.
        channel: ChannelId,
        /// The message id (dedup key; first message's id names a new conversation).
        message: MessageId,
        /// The text.
        text: String,
        /// Attached files.
        attachments: Vec<Attachment>,
        /// The author's display name as Discord sent it (guild nickname, global name or
        /// username), if any.
        #[serde(default)]
        user_name: Option<String>,
    },
    /// A slash command or modal submission.
    Command {
        /// Who ran it.
        user: UserId,
        /// Their display name as Discord sent it, if any.
        #[serde(default)]
        user_name: Option<String>,
        /// To answer it.
        interaction: Interaction,
        /// Which one.
        command: Command,
    },
    /// A button press.
    Button {
        /// Who pressed it.
        user: UserId,
        /// Their display name as Discord sent it, if any.
        #[serde(default)]
        user_name: Option<String>,
        /// To answer it.
        interaction: Interaction,
        /// The conversation from the button's custom id.
        conversation: ConversationId,
        /// Which button.
        button: Button,
    },
    /// A message added to the Twilio side (agent, Studio, the bot, or an echo of ours).
    TwilioMessage {
        /// The Twilio conversation or channel.
        sid: TwilioSid,
        /// The message SID.
        message: TwilioMessageSid,
        /// Its author identity.
        author: String,
        /// Its text.
        body: String,
        /// Media, as links.
        attachments: Vec<Attachment>,
        /// Its position in the conversation (Twilio's `Index`), when the webhook said: a gap
        /// before it makes the core fetch what is missing ([`crate::ActionKind::CatchUpTwilio`])
        /// and route it first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
    },
    /// A Twilio message was edited.
    TwilioMessageUpdated {
        /// The Twilio conversation or channel.
        sid: TwilioSid,
        /// The message SID.
        message: TwilioMessageSid,
        /// Its author identity.
        author: String,
        /// The new text.
        body: String,
    },
    /// A participant (member) joined the Twilio side.
    ParticipantJoined {
        /// The Twilio conversation or channel.
        sid: TwilioSid,
        /// Their identity.
        identity: String,
    },
    /// The Twilio conversation was closed, the channel went inactive or the task was wrapped.
    TwilioClosed {
        /// The Twilio conversation or channel.
        sid: TwilioSid,
    },
    /// Studio's HTTP widget asked the bot (`POST /twilio/bot`, studio route).
    BotAsked {
        /// The Twilio conversation or channel.
        sid: TwilioSid,
        /// The user's message SID (dedup key).
        message: TwilioMessageSid,
        /// Its author.
        author: String,
        /// The question.
        body: String,
    },
    /// The virtual agent answered an [`crate::ActionKind::AskBot`].
    BotReply {
        /// The `AskBot` action.
        action_id: ActionId,
        /// The answer.
        reply: BotReply,
    },
    /// [`crate::ActionKind::OpenDm`] succeeded.
    DmOpened {
        /// The action.
        action_id: ActionId,
        /// The DM channel.
        channel: ChannelId,
    },
    /// [`crate::ActionKind::CreateTwilioConversation`] succeeded.
    TwilioConversationCreated {
        /// The action.
        action_id: ActionId,
        /// The conversation or channel SID.
        sid: TwilioSid,
    },
    /// [`crate::ActionKind::OpenCase`] succeeded.
    CaseOpened {
        /// The action.
        action_id: ActionId,
        /// The case number.
        number: CaseNumber,
    },
    /// [`crate::ActionKind::LookupAgentName`] succeeded.
    AgentNamed {
        /// The action.
        action_id: ActionId,
        /// The agent's identity.
        identity: String,
        /// The Twilio user's friendly name; `None` when it has none.
        name: Option<String>,
    },
    /// Any other action succeeded.
    Delivered {
        /// The action.
        action_id: ActionId,
        /// What the upstream created (a Discord message id, a Twilio message SID), if anything.
        upstream_id: Option<String>,
        /// The part of an agent's message a delivered DM carried ([`crate::ActionKind::SendDm`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forwarded: Option<Forward>,
    },
    /// An action failed for good: `permanent` (the upstream refused it) or out of retries.
    DeliveryFailed {
        /// The action.
        action_id: ActionId,
        /// Refused (e.g. Discord 50007) rather than out of retries.
        permanent: bool,
        /// Why, for logs and the agent.
        reason: String,
        /// What the action was, when the core keeps no pending entry for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of: Option<FailedAction>,
    },
    /// [`crate::ActionKind::CatchUpTwilio`] listed the Twilio side's messages after the index
    /// it was given.
    TwilioCaughtUp {
        /// The action.
        action_id: ActionId,
        /// The messages, oldest first.
        messages: Vec<SweptMessage>,
    },
    /// Time to look for Twilio messages no webhook brought (the periodic sweep).
    CatchUp {
        /// The conversation to sweep.
        conversation: ConversationId,
    },
    /// A timer the core asked for is due.
    Tick {
        /// The conversation that asked.
        conversation: ConversationId,
    },
    /// An entry of a relayed feed, seen by a poll. Applied once per `(feed, entry)` (the
    /// store records its dedupe key), so an entry is posted at most once, whatever the
    /// restarts, edits and instances.
    FeedEntry {
        /// The feed's configured name.
        feed: String,
        /// The entry's stable key within the feed (its id, else its link, else its title).
        entry: String,
        /// What to post; `None` remembers the entry without posting it (the history found at
        /// a feed's first poll, entries older than the configured age, entries the feed's
        /// filter leaves out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        post: Option<crate::community::Announcement>,
    },
}

/// Which conversation an event belongs to: what the driver loads before calling the router.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKey {
    /// The user's open conversation, if any.
    User(UserId),
    /// The conversation with this Twilio SID (open or closed), if any.
    Twilio(TwilioSid),
    /// This conversation (open or closed), if it exists.
    Conversation(ConversationId),
    /// An action of an interaction scope: no conversation.
    None,
}

impl Event {
    /// Which conversation to load for this event.
    pub fn key(&self) -> EventKey {
        match self {
            Self::DirectMessage { user, .. } | Self::Command { user, .. } => EventKey::User(*user),
            Self::Button { conversation, .. }
            | Self::Tick { conversation }
            | Self::CatchUp { conversation } => EventKey::Conversation(conversation.clone()),
            Self::TwilioMessage { sid, .. }
            | Self::TwilioMessageUpdated { sid, .. }
            | Self::ParticipantJoined { sid, .. }
            | Self::TwilioClosed { sid }
            | Self::BotAsked { sid, .. } => EventKey::Twilio(sid.clone()),
            Self::BotReply { action_id, .. }
            | Self::DmOpened { action_id, .. }
            | Self::TwilioConversationCreated { action_id, .. }
            | Self::CaseOpened { action_id, .. }
            | Self::AgentNamed { action_id, .. }
            | Self::TwilioCaughtUp { action_id, .. }
            | Self::Delivered { action_id, .. }
            | Self::DeliveryFailed { action_id, .. } => action_id
                .conversation()
                .map_or(EventKey::None, EventKey::Conversation),
            Self::FeedEntry { .. } => EventKey::None,
        }
    }

    /// The action this event reports the result of, if it is a result.
    pub fn result_of(&self) -> Option<&ActionId> {
        match self {
            Self::BotReply { action_id, .. }
            | Self::DmOpened { action_id, .. }
            | Self::TwilioConversationCreated { action_id, .. }
            | Self::CaseOpened { action_id, .. }
            | Self::AgentNamed { action_id, .. }
            | Self::TwilioCaughtUp { action_id, .. }
            | Self::Delivered { action_id, .. }
            | Self::DeliveryFailed { action_id, .. } => Some(action_id),
            _ => None,
        }
    }

    /// A key that is the same when the same event is delivered twice (a Twilio webhook retry, a
    /// gateway replay, a result reported twice): the store records it and drops repeats. `None`
    /// for events that are harmless to apply twice (ticks, edits).
    pub fn dedupe_key(&self) -> Option<String> {
        Some(match self {
            Self::DirectMessage { message, .. } => format!("dm:{message}"),
            Self::Command { interaction, .. } | Self::Button { interaction, .. } => {
                format!("ix:{}", interaction.id)
            }
            Self::TwilioMessage { message, .. } => format!("tw:msg:{message}"),
            Self::ParticipantJoined { sid, identity } => format!("tw:join:{sid}:{identity}"),
            Self::TwilioClosed { sid } => format!("tw:closed:{sid}"),
            Self::BotAsked { message, .. } => format!("tw:bot:{message}"),
            Self::BotReply { action_id, .. }
            | Self::DmOpened { action_id, .. }
            | Self::TwilioConversationCreated { action_id, .. }
            | Self::CaseOpened { action_id, .. }
            | Self::AgentNamed { action_id, .. }
            | Self::TwilioCaughtUp { action_id, .. }
            | Self::Delivered { action_id, .. }
            | Self::DeliveryFailed { action_id, .. } => format!("result:{action_id}"),
            Self::FeedEntry { feed, entry, .. } => crate::community::feed_key(feed, entry),
            Self::TwilioMessageUpdated { .. } | Self::Tick { .. } | Self::CatchUp { .. } => {
                return None;
            }
        })
    }

    /// The Discord user's display name the event carries (direct messages, commands, buttons),
    /// cleaned by [`crate::text::display_name`]; `None` for other events or when Discord sent none.
    pub fn user_name(&self) -> Option<String> {
        match self {
            Self::DirectMessage { user_name, .. }
            | Self::Command { user_name, .. }
            | Self::Button { user_name, .. } => {
                user_name.as_deref().and_then(crate::text::display_name)
            }
            _ => None,
        }
    }

    /// The event's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DirectMessage { .. } => "direct_message",
            Self::Command { .. } => "command",
            Self::Button { .. } => "button",
            Self::TwilioMessage { .. } => "twilio_message",
            Self::TwilioMessageUpdated { .. } => "twilio_message_updated",
            Self::ParticipantJoined { .. } => "participant_joined",
            Self::TwilioClosed { .. } => "twilio_closed",
            Self::BotAsked { .. } => "bot_asked",
            Self::BotReply { .. } => "bot_reply",
            Self::DmOpened { .. } => "dm_opened",
            Self::TwilioConversationCreated { .. } => "twilio_conversation_created",
            Self::CaseOpened { .. } => "case_opened",
            Self::AgentNamed { .. } => "agent_named",
            Self::Delivered { .. } => "delivered",
            Self::DeliveryFailed { .. } => "delivery_failed",
            Self::TwilioCaughtUp { .. } => "twilio_caught_up",
            Self::CatchUp { .. } => "catch_up",
            Self::Tick { .. } => "tick",
            Self::FeedEntry { .. } => "feed_entry",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_custom_ids_round_trip() {
        let c = ConversationId::from("7-100");
        for b in [Button::TalkToAgent, Button::Solved, Button::Rate(4)] {
            assert_eq!(
                Button::parse_custom_id(&b.custom_id(&c)),
                Some((b, c.clone()))
            );
        }
        assert_eq!(Button::parse_custom_id("other:agent:x"), None);
        assert_eq!(Button::parse_custom_id("fc:rateX:x"), None);
        assert_eq!(Button::parse_custom_id("fc:agent:"), None);
    }

    #[test]
    fn results_key_by_their_conversation() {
        let e = Event::Delivered {
            action_id: ActionId::new("7-100", 3),
            upstream_id: None,
            forwarded: None,
        };
        assert_eq!(
            e.key(),
            EventKey::Conversation(ConversationId::from("7-100"))
        );
        assert_eq!(e.dedupe_key().as_deref(), Some("result:7-100/3"));
    }

    #[test]
    fn events_round_trip_as_json() {
        let e = Event::Command {
            user: UserId(1),
            user_name: Some("Alice".into()),
            interaction: Interaction::new(InteractionId(2), "t"),
            command: Command::CaseClose {
                number: CaseNumber::from("CASE-000001"),
            },
        };
        let json = serde_json::to_string(&e).expect("serialises");
        assert_eq!(serde_json::from_str::<Event>(&json).expect("parses"), e);
    }
}
