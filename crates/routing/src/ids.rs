//! The core's own identifiers: the app maps Discord snowflakes and Twilio SIDs in and out.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! snowflake {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

snowflake!(
    /// A Discord user id.
    UserId
);
snowflake!(
    /// A Discord channel id (here: a DM channel).
    ChannelId
);
snowflake!(
    /// A Discord message id.
    MessageId
);
snowflake!(
    /// A Discord interaction id (slash command, button, modal).
    InteractionId
);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A Twilio conversation SID (`CH...`) or, in chat mode, a Programmable Chat channel SID.
    TwilioSid
);
string_id!(
    /// A Twilio message SID (`IM...` in Conversations, `IM...` in Chat): the dedup key of an
    /// agent message.
    TwilioMessageSid
);
string_id!(
    /// A case number, `CASE-` and six digits.
    CaseNumber
);
string_id!(
    /// The id of one conversation, unique forever (a closed conversation never frees it).
    ///
    /// Made by [`ConversationId::new`] from the user and the Discord id of the event that
    /// started it (a message or an interaction id), so it is deterministic and unique.
    ConversationId
);

impl ConversationId {
    /// `<user>-<origin>`: the user and the snowflake of the event that started the conversation.
    pub fn new(user: UserId, origin: u64) -> Self {
        Self(format!("{user}-{origin}"))
    }
}

/// Unix time in milliseconds. The core never reads a clock: the driver passes `now`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// `self` plus `millis` (saturating).
    #[must_use]
    pub fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// Unix milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The stable id of one action: `<scope>/<sequence>`.
///
/// The scope is the [`ConversationId`] of the conversation that emitted it, or `i<interaction>`
/// for a command answered without a conversation. Ids never repeat, so the outbox uses them as
/// primary keys, Discord as message `nonce`s and Twilio/cases as idempotency keys. The outbox
/// delivers the actions of one scope in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub String);

impl ActionId {
    /// `<scope>/<seq>`.
    pub fn new(scope: &str, seq: u64) -> Self {
        Self(format!("{scope}/{seq}"))
    }

    /// The part before the last `/`: the conversation id or the interaction scope.
    pub fn scope(&self) -> &str {
        self.0.rsplit_once('/').map_or(self.0.as_str(), |(s, _)| s)
    }

    /// The sequence number within the scope (0 when the id is malformed).
    pub fn seq(&self) -> u64 {
        self.0
            .rsplit_once('/')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0)
    }

    /// The conversation this action belongs to (`None` for an interaction scope `i...`, a
    /// feed entry's scope `feed-...` and an operator's scope `ops-...`).
    pub fn conversation(&self) -> Option<ConversationId> {
        let scope = self.scope();
        (!scope.starts_with('i') && !scope.starts_with("feed-") && !scope.starts_with("ops-"))
            .then(|| ConversationId(scope.to_owned()))
    }

    /// A Discord message nonce (at most 25 characters) derived from this id: a 64-bit FNV-1a
    /// hash in decimal, stable across processes and versions.
    pub fn nonce(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.0.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // Discord nonces are integers or strings up to 25 characters; keep it a positive i64.
        (hash >> 1).to_string()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_id_parts() {
        let id = ActionId::new("42-1001", 7);
        assert_eq!(id.as_str(), "42-1001/7");
        assert_eq!(id.scope(), "42-1001");
        assert_eq!(id.seq(), 7);
        assert_eq!(id.conversation(), Some(ConversationId::from("42-1001")));
        assert_eq!(ActionId::new("i99", 0).conversation(), None);
        assert_eq!(ActionId::new("ops-retry-1-2", 0).conversation(), None);
    }

    #[test]
    fn nonce_is_stable_and_short() {
        let a = ActionId::new("42-1001", 7).nonce();
        assert_eq!(a, ActionId::new("42-1001", 7).nonce());
        assert_ne!(a, ActionId::new("42-1001", 8).nonce());
        assert!(a.len() <= 25);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
    }
}
