//! Conversations v1 resources as Twilio returns them.

use crate::enums::string_enum;

string_enum! {
    /// The state of a conversation.
    pub enum ConversationState {
        /// Briefly, while a conversation created with participants is being set up.
        Initializing = "initializing",
        /// Open (the default).
        Active = "active",
        /// Paused by a timer or an update; new activity re-activates it.
        Inactive = "inactive",
        /// Final: a closed conversation cannot be reopened.
        Closed = "closed",
    }
}
