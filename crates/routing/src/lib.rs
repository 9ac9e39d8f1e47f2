#![doc = include_str!("../README.md")]

mod action;
pub mod community;
mod conversation;
mod event;
pub mod hours;
mod ids;
mod router;
pub mod text;

pub use action::{
    Action, ActionKind, CaseUpdate, ConversationAttributes, FailedAction, FlexInteraction, Forward,
    ReportKind, ResolvedBy, Speaker, TranscriptEntry,
};
pub use conversation::{
    Conversation, Forwarded, Pending, Phase, QueuedDm, QueuedPost, Sending, WaitingEdit,
    agent_fallback_name, clean_agent_name, identity,
};
pub use event::{
    Ack, BotReply, Button, Command, Confidence, Event, EventKey, Interaction, SweptMessage,
};
pub use hours::SupportHours;
pub use ids::{
    ActionId, CaseNumber, ChannelId, ConversationId, InteractionId, MessageId, Timestamp,
    TwilioMessageSid, TwilioSid, UserId,
};
pub use router::{
    BotRoute, GAP_HOLD_MS, Note, ReportChannels, Router, RouterConfig, Step, Texts, TwilioMode,
};
pub use text::Attachment;
