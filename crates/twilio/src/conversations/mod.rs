//! Conversations v1 (`https://conversations.twilio.com`): conversations, participants, messages
//! and conversation-scoped webhooks.

mod models;

pub use models::*;
