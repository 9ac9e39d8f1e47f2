//! Typed Twilio SIDs.
//!
//! Every Twilio resource identifier (SID) is two upper-case letters naming the resource type
//! followed by 32 hexadecimal digits, 34 ASCII characters in all (`CH0123…`). A [`Sid<K>`] is
//! parsed and checked once; afterwards its type says which resource it names, so a conversation
//! SID cannot be passed where a chat channel SID is expected even though both start with `CH`.
//!
//! ```
//! use flexcord_twilio::sid::{ConversationSid, ChannelSid};
//!
//! let conversation: ConversationSid = "CH0123456789abcdef0123456789abcdef".parse()?;
//! assert_eq!(conversation.as_str(), "CH0123456789abcdef0123456789abcdef");
//! // Wrong prefix, wrong length or a non-hex digit is a typed error.
//! assert!("US0123456789abcdef0123456789abcdef".parse::<ChannelSid>().is_err());
//! # Ok::<(), flexcord_twilio::sid::SidError>(())
//! ```
//!
//! Where Twilio accepts "a SID or a unique name/identity" in a path, the API takes a
//! [`SidOrName<K>`] instead of weakening `Sid`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The length of every Twilio SID: a two-letter prefix and 32 hex digits.
pub const SID_LEN: usize = 34;

/// A kind of Twilio resource, identified by its SID prefix.
pub trait SidKind {
    /// The two-letter prefix, e.g. `"CH"`.
    const PREFIX: &'static str;
    /// A human-readable name used in error messages, e.g. `"conversation"`.
    const NAME: &'static str;
}

/// A checked Twilio SID of resource kind `K`.
///
/// `Clone`, `Copy`, `Eq`, `Hash` and `Ord` are implemented by hand: deriving them would require
/// them of the marker type `K`.
pub struct Sid<K> {
    bytes: [u8; SID_LEN],
    kind: PhantomData<fn() -> K>,
}

impl<K: SidKind> Sid<K> {
    /// Parses and checks a SID (same as [`str::parse`]).
    ///
    /// # Errors
    /// [`SidError`] when the text is not `K::PREFIX` followed by 32 hex digits.
    pub fn parse(s: &str) -> Result<Self, SidError> {
        s.parse()
    }
}

impl<K> Sid<K> {
    /// The SID as text (34 ASCII characters).
    pub fn as_str(&self) -> &str {
        // The constructor only admits ASCII, so this cannot fail; fall back to "" defensively.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

impl<K: SidKind> FromStr for Sid<K> {
    type Err = SidError;

    fn from_str(s: &str) -> Result<Self, SidError> {
        let raw = s.as_bytes();
        let reason = if raw.len() != SID_LEN {
            Some(SidErrorReason::Length(raw.len()))
        } else if !raw.starts_with(K::PREFIX.as_bytes()) {
            Some(SidErrorReason::Prefix)
        } else if !raw[2..].iter().all(u8::is_ascii_hexdigit) {
            Some(SidErrorReason::NotHex)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(SidError::new(K::NAME, K::PREFIX, s, reason));
        }
        let mut bytes = [0; SID_LEN];
        bytes.copy_from_slice(raw);
        Ok(Self {
            bytes,
            kind: PhantomData,
        })
    }
}

impl<K: SidKind> TryFrom<&str> for Sid<K> {
    type Error = SidError;
    fn try_from(value: &str) -> Result<Self, SidError> {
        value.parse()
    }
}

impl<K: SidKind> TryFrom<String> for Sid<K> {
    type Error = SidError;
    fn try_from(value: String) -> Result<Self, SidError> {
        value.parse()
    }
}

impl<K> Clone for Sid<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Sid<K> {}
impl<K> PartialEq for Sid<K> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl<K> Eq for Sid<K> {}
impl<K> Hash for Sid<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}
impl<K> PartialOrd for Sid<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Sid<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes.cmp(&other.bytes)
    }
}
impl<K> fmt::Display for Sid<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl<K: SidKind> fmt::Debug for Sid<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid<{}>({})", K::NAME, self.as_str())
    }
}
impl<K> AsRef<str> for Sid<K> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}
impl<K> PartialEq<str> for Sid<K> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl<K> PartialEq<&str> for Sid<K> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<K> Serialize for Sid<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de, K: SidKind> Deserialize<'de> for Sid<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SidVisitor<K>(PhantomData<fn() -> K>);
        impl<K: SidKind> Visitor<'_> for SidVisitor<K> {
            type Value = Sid<K>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {} SID ({} and 32 hex digits)", K::NAME, K::PREFIX)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Sid<K>, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(SidVisitor(PhantomData))
    }
}

/// Why a text is not a SID of the expected kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SidErrorReason {
    /// The text is not 34 characters long (the actual length in bytes).
    Length(usize),
    /// The text does not start with the expected two-letter prefix.
    Prefix,
    /// A character after the prefix is not a hex digit.
    NotHex,
}

/// A text that is not a valid SID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} SID {input:?}: expected {prefix} and 32 hex digits ({reason})")]
pub struct SidError {
    kind: &'static str,
    prefix: &'static str,
    input: String,
    reason: SidErrorReason,
}

impl fmt::Display for SidErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(f, "got {n} characters"),
            Self::Prefix => f.write_str("wrong prefix"),
            Self::NotHex => f.write_str("not hexadecimal"),
        }
    }
}

impl SidError {
    fn new(kind: &'static str, prefix: &'static str, input: &str, reason: SidErrorReason) -> Self {
        // Keep error messages short even for hostile input.
        let input: String = input.chars().take(64).collect();
        Self {
            kind,
            prefix,
            input,
            reason,
        }
    }
    /// The kind of SID that was expected, e.g. `"conversation"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
    /// The prefix that was expected, e.g. `"CH"`.
    pub fn expected_prefix(&self) -> &'static str {
        self.prefix
    }
    /// The rejected text (at most 64 characters of it).
    pub fn input(&self) -> &str {
        &self.input
    }
    /// Why it was rejected.
    pub fn reason(&self) -> SidErrorReason {
        self.reason
    }
}

/// A path segment that Twilio accepts either as a SID or as a unique name / identity.
///
/// For example `GET /v1/Conversations/{Sid}` takes a conversation SID or its `UniqueName`, and
/// `GET /v2/Services/{IS}/Users/{Sid}` takes a user SID or the user's identity.
pub enum SidOrName<K> {
    /// A checked SID.
    Sid(Sid<K>),
    /// A unique name or identity, sent percent-encoded as a path segment.
    Name(String),
}

impl<K: SidKind> fmt::Debug for SidOrName<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sid(sid) => f.debug_tuple("Sid").field(sid).finish(),
            Self::Name(name) => f.debug_tuple("Name").field(name).finish(),
        }
    }
}
impl<K> Clone for SidOrName<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Sid(sid) => Self::Sid(*sid),
            Self::Name(name) => Self::Name(name.clone()),
        }
    }
}
impl<K> PartialEq for SidOrName<K> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Sid(a), Self::Sid(b)) => a == b,
            (Self::Name(a), Self::Name(b)) => a == b,
            _ => false,
        }
    }
}
impl<K> Eq for SidOrName<K> {}
impl<K> Hash for SidOrName<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl<K> SidOrName<K> {
    /// The text to place in the path (before percent-encoding).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sid(sid) => sid.as_str(),
            Self::Name(name) => name,
        }
    }
}

impl<K> fmt::Display for SidOrName<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<K> From<Sid<K>> for SidOrName<K> {
    fn from(sid: Sid<K>) -> Self {
        Self::Sid(sid)
    }
}
impl<K> From<&Sid<K>> for SidOrName<K> {
    fn from(sid: &Sid<K>) -> Self {
        Self::Sid(*sid)
    }
}

macro_rules! sid_kinds {
    ($($(#[$doc:meta])* $kind:ident, $alias:ident, $prefix:literal, $name:literal;)*) => {
        $(
            $(#[$doc])*
            #[doc = concat!("\n\nSID kind marker: prefix `", $prefix, "`, ", $name, ".")]
            #[derive(Debug)]
            pub enum $kind {}
            impl SidKind for $kind {
                const PREFIX: &'static str = $prefix;
                const NAME: &'static str = $name;
            }
            #[doc = concat!("A ", $name, " SID (`", $prefix, "…`).")]
            pub type $alias = Sid<$kind>;
        )*
        /// Every SID kind this crate knows: (prefix, name). Used in docs and tests.
        pub const KNOWN_KINDS: &[(&str, &str)] = &[$(($prefix, $name)),*];
    };
}

sid_kinds! {
    /// A Twilio account.
    Account, AccountSid, "AC", "account";
    /// An API key (its SID is the user name of API-key credentials).
    ApiKey, ApiKeySid, "SK", "API key";
    /// A Chat or Conversations service.
    Service, ServiceSid, "IS", "service";
    /// A Programmable Chat channel.
    ChatChannel, ChannelSid, "CH", "chat channel";
    /// A Conversations conversation (same prefix as a chat channel, a different kind).
    Conversation, ConversationSid, "CH", "conversation";
    /// A Chat or Conversations user.
    User, UserSid, "US", "user";
    /// A Chat or Conversations message.
    Message, MessageSid, "IM", "message";
    /// A channel- or conversation-scoped webhook.
    Webhook, WebhookSid, "WH", "webhook";
    /// A Programmable Chat channel member.
    Member, MemberSid, "MB", "chat member";
    /// A Conversations participant (same prefix as a chat member, a different kind).
    Participant, ParticipantSid, "MB", "conversation participant";
    /// A Chat invite.
    Invite, InviteSid, "IN", "invite";
    /// A Chat or Conversations role.
    Role, RoleSid, "RL", "role";
    /// A media item in the Media Content Service.
    Media, MediaSid, "ME", "media";
    /// A Conversations delivery receipt.
    DeliveryReceipt, DeliveryReceiptSid, "DY", "delivery receipt";
    /// A Messaging Service.
    MessagingService, MessagingServiceSid, "MG", "messaging service";
    /// A Content template.
    Content, ContentSid, "HX", "content template";
    /// A Flex Flow.
    FlexFlow, FlexFlowSid, "FO", "Flex Flow";
    /// A Flex instance.
    FlexInstance, FlexInstanceSid, "GO", "Flex instance";
    /// A Flex interaction.
    Interaction, InteractionSid, "KD", "interaction";
    /// A Flex interaction channel.
    InteractionChannel, InteractionChannelSid, "UO", "interaction channel";
    /// A Flex interaction channel participant.
    InteractionParticipant, InteractionParticipantSid, "UT", "interaction participant";
    /// A Flex interaction channel invite.
    InteractionInvite, InteractionInviteSid, "KG", "interaction invite";
    /// A Flex interaction context.
    InteractionContext, InteractionContextSid, "HQ", "interaction context";
    /// A Studio flow.
    Flow, FlowSid, "FW", "Studio flow";
    /// A Studio execution.
    Execution, ExecutionSid, "FN", "Studio execution";
    /// A Studio execution step.
    ExecutionStep, ExecutionStepSid, "FT", "Studio execution step";
    /// A Studio contact.
    Contact, ContactSid, "FC", "Studio contact";
    /// A `TaskRouter` workspace.
    Workspace, WorkspaceSid, "WS", "TaskRouter workspace";
    /// A `TaskRouter` workflow.
    Workflow, WorkflowSid, "WW", "TaskRouter workflow";
    /// A `TaskRouter` task queue.
    TaskQueue, TaskQueueSid, "WQ", "TaskRouter queue";
    /// A `TaskRouter` worker.
    Worker, WorkerSid, "WK", "TaskRouter worker";
    /// A `TaskRouter` task.
    Task, TaskSid, "WT", "TaskRouter task";
    /// A `TaskRouter` task channel.
    TaskChannel, TaskChannelSid, "TC", "TaskRouter task channel";
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789ABCDEF";

    #[test]
    fn parses_and_displays() {
        let text = format!("CH{HEX}");
        let sid: ConversationSid = text.parse().expect("valid");
        assert_eq!(sid.to_string(), text);
        assert_eq!(sid.as_str(), text);
        assert_eq!(format!("{sid:?}"), format!("Sid<conversation>({text})"));
    }

    #[test]
    fn rejects_wrong_prefix_length_and_digits() {
        let err = format!("US{HEX}").parse::<ChannelSid>().unwrap_err();
        assert_eq!(err.reason(), SidErrorReason::Prefix);
        assert_eq!(err.kind(), "chat channel");
        assert_eq!(err.expected_prefix(), "CH");

        let err = "CH123".parse::<ChannelSid>().unwrap_err();
        assert_eq!(err.reason(), SidErrorReason::Length(5));

        let err = format!("CH{}", "g".repeat(32))
            .parse::<ChannelSid>()
            .unwrap_err();
        assert_eq!(err.reason(), SidErrorReason::NotHex);

        // lower-case prefix is not accepted
        assert!(format!("ch{HEX}").parse::<ChannelSid>().is_err());
        // multibyte input of the right byte length is rejected, not a panic
        let tricky = format!("CH{}é", &HEX[..30]);
        assert_eq!(tricky.len(), 34);
        assert!(tricky.parse::<ChannelSid>().is_err());
    }

    #[test]
    fn error_message_is_bounded() {
        let long = "x".repeat(10_000);
        let err = long.parse::<AccountSid>().unwrap_err();
        assert_eq!(err.input().len(), 64);
        assert!(err.to_string().contains("account"));
    }

    #[test]
    fn serde_round_trip_and_typed_failure() {
        let text = format!("\"IM{HEX}\"");
        let sid: MessageSid = serde_json::from_str(&text).expect("valid");
        assert_eq!(serde_json::to_string(&sid).expect("ser"), text);
        let bad = serde_json::from_str::<MessageSid>(&format!("\"CH{HEX}\""));
        assert!(bad.is_err());
        assert!(serde_json::from_str::<MessageSid>("42").is_err());
    }

    #[test]
    fn kinds_are_distinct_types_with_shared_prefixes() {
        let text = format!("CH{HEX}");
        let conversation: ConversationSid = text.parse().expect("conversation");
        let channel: ChannelSid = text.parse().expect("channel");
        assert_eq!(conversation.as_str(), channel.as_str());
        assert_eq!(Conversation::NAME, "conversation");
        assert_eq!(ChatChannel::NAME, "chat channel");
    }

    #[test]
    fn every_kind_prefix_is_two_upper_case_letters() {
        for (prefix, name) in KNOWN_KINDS {
            assert_eq!(prefix.len(), 2, "{name}");
            assert!(prefix.bytes().all(|b| b.is_ascii_uppercase()), "{name}");
        }
    }

    #[test]
    fn ordering_hash_and_copy() {
        use std::collections::HashSet;
        let a: UserSid = format!("US{}", "0".repeat(32)).parse().expect("a");
        let b: UserSid = format!("US{}", "1".repeat(32)).parse().expect("b");
        assert!(a < b);
        let set: HashSet<UserSid> = [a, b, a].into_iter().collect();
        assert_eq!(set.len(), 2);
        let name: SidOrName<User> = SidOrName::Name("discord:1".into());
        assert_eq!(name.to_string(), "discord:1");
        assert_eq!(SidOrName::from(&a).as_str(), a.as_str());
    }
}
