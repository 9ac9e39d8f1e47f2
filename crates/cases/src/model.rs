//! The case model: numbers, kinds, statuses, the timeline and the inputs that change a case.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;

/// A case number, shown as `CASE-` and six digits (`CASE-000123`).
///
/// Numbers start at 1 and are gap-free per store: the store takes the next one from a counter row in
/// the same transaction that inserts the case.
///
/// ```
/// use flexcord_cases::CaseNumber;
/// let n: CaseNumber = "CASE-000123".parse().unwrap();
/// assert_eq!(n.get(), 123);
/// assert_eq!(n.to_string(), "CASE-000123");
/// assert!("CASE-12".parse::<CaseNumber>().is_ok());
/// assert!("case-0".parse::<CaseNumber>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseNumber(u32);

impl CaseNumber {
    /// The number as a plain integer.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Wraps a plain integer; `None` for 0, which is never a case number.
    pub fn new(n: u32) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }

    pub(crate) fn from_db(n: i64) -> Result<Self, Error> {
        u32::try_from(n)
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| Error::decode(format!("case number {n} out of range")))
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CASE-{:06}", self.0)
    }
}

impl FromStr for CaseNumber {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || {
            Error::invalid(format!(
                "`{}` is not a case number like CASE-000123",
                truncate(s, 40)
            ))
        };
        let digits = s.strip_prefix("CASE-").ok_or_else(invalid)?;
        if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        digits
            .parse::<u32>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(invalid)
    }
}

impl Serialize for CaseNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CaseNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for CaseNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^CASE-[0-9]{6,10}$"))
            .examples(["CASE-000123"])
            .description(Some("Case number: `CASE-` and six (or more) digits"))
            .into()
    }
}

impl ToSchema for CaseNumber {}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The lowercase name used in JSON, SQL and URLs.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(Error::invalid(format!(
                        concat!("`{}` is not a ", stringify!($name), " (expected one of: {})"),
                        truncate(other, 40),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

text_enum! {
    /// What a case is about.
    CaseKind {
        /// A user asked for help (escalation to a live agent).
        Support = "support",
        /// A bug report (`/bug`).
        Bug = "bug",
        /// A feature request (`/new_feature`).
        Feature = "feature",
    }
}

text_enum! {
    /// Where a case stands. See [`CaseStatus::can_become`] for the legal transitions.
    CaseStatus {
        /// Created, nobody has picked it up yet.
        New = "new",
        /// An agent works on it.
        Open = "open",
        /// Waiting for the requester or a third party.
        Pending = "pending",
        /// Solved (by an agent, the requester, or the idle timeout); may be reopened.
        Resolved = "resolved",
        /// Final: resolved and quiet for the configured period.
        Closed = "closed",
    }
}

text_enum! {
    /// How urgent a case is.
    Priority {
        /// Can wait.
        Low = "low",
        /// The default.
        Normal = "normal",
        /// Should be handled soon.
        High = "high",
        /// Drop everything.
        Urgent = "urgent",
    }
}

impl CaseStatus {
    /// Whether a case in this status may move to `to`.
    ///
    /// The lifecycle is `new -> open -> pending -> resolved -> closed` with `resolved -> open`
    /// (reopen). A case may skip ahead to `resolved` (an agent closes the task, the requester runs
    /// `/case close`, the idle timeout fires) and `pending -> open` resumes work. `closed` is final.
    /// Staying in the same status is not a transition (stores treat it as a no-op).
    ///
    /// ```
    /// use flexcord_cases::CaseStatus::*;
    /// assert!(New.can_become(Open));
    /// assert!(Resolved.can_become(Open));
    /// assert!(!Closed.can_become(Open));
    /// assert!(!New.can_become(Closed));
    /// ```
    pub fn can_become(self, to: Self) -> bool {
        use CaseStatus::{Closed, New, Open, Pending, Resolved};
        matches!(
            (self, to),
            (New, Open | Pending | Resolved)
                | (Open, Pending | Resolved)
                | (Pending, Open | Resolved)
                | (Resolved, Open | Closed)
        )
    }

    /// `new`, `open` and `pending`: the case still needs work.
    pub fn is_open(self) -> bool {
        matches!(self, Self::New | Self::Open | Self::Pending)
    }

    /// The statuses for which [`CaseStatus::is_open`] holds.
    pub const OPEN: &'static [Self] = &[Self::New, Self::Open, Self::Pending];
}

/// Who asked: a Discord user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Requester {
    /// Discord user id (a snowflake, as a string).
    #[schema(min_length = 1, max_length = 100)]
    pub discord_id: String,
    /// Display name at the time the case was opened.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// Where a case came from. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CaseSource {
    /// Discord guild (server) id.
    #[schema(min_length = 1, max_length = 100)]
    pub guild_id: Option<String>,
    /// Discord channel id (a DM channel or a guild channel).
    #[schema(min_length = 1, max_length = 100)]
    pub channel_id: Option<String>,
    /// Discord message id.
    #[schema(min_length = 1, max_length = 100)]
    pub message_id: Option<String>,
    /// Twilio Conversation SID (`CH...`) or Programmable Chat channel SID.
    #[schema(min_length = 1, max_length = 100)]
    pub twilio_sid: Option<String>,
}

/// A satisfaction rating left by the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rating {
    /// 1 (bad) to 5 (great).
    #[schema(minimum = 1, maximum = 5)]
    pub score: u8,
    /// What the requester wrote, if anything.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Case {
    /// `CASE-000123`.
    pub number: CaseNumber,
    /// Support, bug or feature.
    pub kind: CaseKind,
    /// Where it stands.
    pub status: CaseStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// One line.
    pub subject: String,
    /// Longer text (for bugs: steps, expected, actual).
    pub description: String,
    /// Who asked.
    pub requester: Requester,
    /// Where it came from.
    pub source: CaseSource,
    /// The agent working on it (e.g. a Twilio worker identity).
    pub assignee: Option<String>,
    /// The assignee's display name when it was assigned, if known (pages show it, with the
    /// identity in a tooltip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_name: Option<String>,
    /// Free labels.
    pub tags: Vec<String>,
    /// The requester's rating, once given.
    pub rating: Option<Rating>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When it was last resolved (kept when closed, cleared when reopened).
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// What it takes to open a case. The case starts in status `new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewCase {
    /// Support, bug or feature.
    pub kind: CaseKind,
    /// One line, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
    /// Longer text, up to 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    /// Who asked.
    pub requester: Requester,
    /// Where it came from.
    #[serde(default)]
    pub source: CaseSource,
    /// Defaults to `normal`.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Up to 20 labels of 1 to 50 characters.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    /// Makes creation idempotent: a second create with the same key (e.g. the outbox action id)
    /// returns the case the first one made instead of opening another. 1 to 200 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub idempotency_key: Option<String>,
    /// Which credential opened it; set by the service, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl NewCase {
    /// A case with the required fields and defaults for the rest.
    pub fn new(kind: CaseKind, subject: impl Into<String>, requester: Requester) -> Self {
        Self {
            kind,
            subject: subject.into(),
            description: String::new(),
            requester,
            source: CaseSource::default(),
            priority: None,
            tags: Vec::new(),
            idempotency_key: None,
            via: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the source.
    #[must_use]
    pub fn source(mut self, source: CaseSource) -> Self {
        self.source = source;
        self
    }

    /// Sets the idempotency key (see [`NewCase::idempotency_key`](#structfield.idempotency_key)).
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Checks every field; the stores call this before writing.
    ///
    /// # Errors
    /// [`ErrorKind::Invalid`] naming the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        text("subject", &self.subject, 1, 200)?;
        text("description", &self.description, 0, 20_000)?;
        id("requester.discord_id", &self.requester.discord_id)?;
        text("requester.name", &self.requester.name, 1, 200)?;
        for (field, value) in [
            ("source.guild_id", &self.source.guild_id),
            ("source.channel_id", &self.source.channel_id),
            ("source.message_id", &self.source.message_id),
            ("source.twilio_sid", &self.source.twilio_sid),
        ] {
            if let Some(value) = value {
                id(field, value)?;
            }
        }
        if self.tags.len() > 20 {
            return Err(Error::invalid("at most 20 tags"));
        }
        for tag in &self.tags {
            text("tags[]", tag, 1, 50)?;
        }
        if let Some(key) = &self.idempotency_key {
            text("idempotency_key", key, 1, 200)?;
        }
        Ok(())
    }
}

/// A status change with who made it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusChange {
    /// The new status.
    pub status: CaseStatus,
    /// Who changes it (`discord:<id>`, an agent identity, `system`).
    #[schema(min_length = 1, max_length = 200)]
    pub actor: String,
    /// Why, e.g. `idle` for the idle timeout.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// The actor's display name, if known (the timeline shows it; the id stays in `actor`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub actor_name: Option<String>,
    /// Which credential made the change (`api:<integration>`, `web`); set by the service from
    /// the request's credential, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl StatusChange {
    /// A change to `status` by `actor` without a reason.
    pub fn new(status: CaseStatus, actor: impl Into<String>) -> Self {
        Self {
            status,
            actor: actor.into(),
            reason: None,
            actor_name: None,
            via: None,
        }
    }

    /// Adds the actor's display name.
    #[must_use]
    pub fn actor_name(mut self, name: impl Into<String>) -> Self {
        self.actor_name = Some(name.into());
        self
    }

    /// Adds a reason.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        text("actor", &self.actor, 1, 200)?;
        name("actor_name", self.actor_name.as_deref())?;
        opt_text("reason", self.reason.as_deref(), 500)
    }
}

/// A new (or no) assignee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    /// The agent identity; `null` unassigns.
    #[schema(min_length = 1, max_length = 200)]
    pub assignee: Option<String>,
    /// Who assigns.
    #[schema(min_length = 1, max_length = 200)]
    pub actor: String,
    /// The assignee's display name, if known.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub assignee_name: Option<String>,
    /// The actor's display name, if known.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub actor_name: Option<String>,
    /// Which credential made the change; set by the service, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl Assignment {
    /// `actor` assigns the case to `assignee` (`None` unassigns).
    pub fn new(assignee: Option<String>, actor: impl Into<String>) -> Self {
        Self {
            assignee,
            actor: actor.into(),
            assignee_name: None,
            actor_name: None,
            via: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        text("actor", &self.actor, 1, 200)?;
        name("actor_name", self.actor_name.as_deref())?;
        name("assignee_name", self.assignee_name.as_deref())?;
        if let Some(assignee) = &self.assignee {
            text("assignee", assignee, 1, 200)?;
        } else if self.assignee_name.is_some() {
            return Err(Error::invalid("assignee_name needs an assignee"));
        }
        Ok(())
    }
}

/// A new priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriorityChange {
    /// The new priority.
    pub priority: Priority,
    /// Who changes it.
    #[schema(min_length = 1, max_length = 200)]
    pub actor: String,
    /// The actor's display name, if known.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub actor_name: Option<String>,
    /// Which credential made the change; set by the service, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl PriorityChange {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        text("actor", &self.actor, 1, 200)?;
        name("actor_name", self.actor_name.as_deref())
    }
}

/// An internal note by an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewNote {
    /// Who writes it.
    #[schema(min_length = 1, max_length = 200)]
    pub author: String,
    /// 1 to 10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
    /// The author's display name, if known.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub author_name: Option<String>,
    /// Which credential wrote it; set by the service, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl NewNote {
    /// A note by `author`.
    pub fn new(author: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            author: author.into(),
            text: text.into(),
            author_name: None,
            via: None,
        }
    }

    /// Checks the message as the store would before appending it.
    ///
    /// # Errors
    /// `Invalid`, naming the field out of bounds.
    pub fn validate(&self) -> Result<(), Error> {
        text("author", &self.author, 1, 200)?;
        name("author_name", self.author_name.as_deref())?;
        text("text", &self.text, 1, 10_000)
    }
}

/// One transcript message (from the user, the bot or an agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewMessage {
    /// `discord:<id>`, the bot identity or an agent identity.
    #[schema(min_length = 1, max_length = 200)]
    pub author: String,
    /// Up to 10,000 characters (may be empty for attachments-only messages).
    #[schema(max_length = 10000)]
    pub text: String,
    /// When it was sent (the original time, also for back-filled messages).
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// The message's id where it came from (Discord message id, Twilio message SID). A message
    /// whose id the case already has is skipped, so a retried batch adds nothing twice.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub external_id: Option<String>,
    /// The author's display name, if known (a Discord user's name, an agent's friendly name).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub author_name: Option<String>,
}

impl NewMessage {
    /// A message without an external id.
    pub fn new(
        author: impl Into<String>,
        text: impl Into<String>,
        sent_at: OffsetDateTime,
    ) -> Self {
        Self {
            author: author.into(),
            text: text.into(),
            sent_at,
            external_id: None,
            author_name: None,
        }
    }

    /// Sets the author's display name.
    #[must_use]
    pub fn author_name(mut self, name: impl Into<String>) -> Self {
        self.author_name = Some(name.into());
        self
    }

    /// Sets the external id (see [`NewMessage::external_id`](#structfield.external_id)).
    #[must_use]
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Checks the message as the store would before appending it.
    ///
    /// # Errors
    /// `Invalid`, naming the field out of bounds.
    pub fn validate(&self) -> Result<(), Error> {
        text("author", &self.author, 1, 200)?;
        name("author_name", self.author_name.as_deref())?;
        text("text", &self.text, 0, 10_000)?;
        if let Some(id) = &self.external_id {
            text("external_id", id, 1, 200)?;
        }
        timestamp("sent_at", self.sent_at)
    }
}

/// A batch of transcript messages, appended in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageBatch {
    /// 1 to 500 messages.
    #[schema(min_items = 1, max_items = 500)]
    pub messages: Vec<NewMessage>,
    /// Which credential sent them; set by the service, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl MessageBatch {
    /// A batch of `messages`.
    pub fn new(messages: Vec<NewMessage>) -> Self {
        Self {
            messages,
            via: None,
        }
    }
}

/// A link to something outside (a Twilio task, a GitHub issue, a Discord message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewLink {
    /// A URL or an opaque reference such as `WT...`.
    #[schema(min_length = 1, max_length = 2000)]
    pub url: String,
    /// What it is.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// Who adds it.
    #[schema(min_length = 1, max_length = 200)]
    pub actor: String,
    /// The actor's display name, if known.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub actor_name: Option<String>,
    /// Which credential added it; set by the service, never read from a request body.
    #[serde(skip)]
    pub via: Option<String>,
}

impl NewLink {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        text("url", &self.url, 1, 2_000)?;
        opt_text("title", self.title.as_deref(), 200)?;
        name("actor_name", self.actor_name.as_deref())?;
        text("actor", &self.actor, 1, 200)
    }
}

impl Rating {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !(1..=5).contains(&self.score) {
            return Err(Error::invalid("score must be between 1 and 5"));
        }
        opt_text("comment", self.comment.as_deref(), 2_000)
    }
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// Unique per store, increasing in insertion order.
    pub id: i64,
    /// When it happened (for messages: when the message was sent).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who did it: an id (`discord:<id>`, an agent identity, `agent:<login>`, `system`).
    pub actor: String,
    /// The actor's display name when it happened, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The credential it came through: `api:<integration>` for the REST API, `web` for the
    /// agent pages; absent for the bridge's own writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// What happened.
    pub event: TimelineEvent,
}

impl TimelineEntry {
    /// The name to show for the actor: its display name, else the requester's name for the
    /// requester's own `discord:<id>`, else the id itself.
    pub fn display_actor<'a>(&'a self, case: &'a Case) -> &'a str {
        if let Some(name) = self.actor_name.as_deref() {
            return name;
        }
        if self
            .actor
            .strip_prefix("discord:")
            .is_some_and(|id| id == case.requester.discord_id)
        {
            return &case.requester.name;
        }
        &self.actor
    }
}

/// What happened to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The case was opened.
    Created {
        /// Its kind.
        kind: CaseKind,
        /// Its subject.
        subject: String,
    },
    /// The status changed.
    StatusChanged {
        /// Before.
        from: CaseStatus,
        /// After.
        to: CaseStatus,
        /// Why (e.g. `idle`).
        reason: Option<String>,
    },
    /// The assignee changed.
    Assigned {
        /// The new assignee; `null` when unassigned.
        assignee: Option<String>,
        /// The assignee's display name, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee_name: Option<String>,
    },
    /// The priority changed.
    PriorityChanged {
        /// Before.
        from: Priority,
        /// After.
        to: Priority,
    },
    /// An internal note.
    Note {
        /// The note.
        text: String,
    },
    /// A transcript message; the entry's `actor` is its author and `at` its time.
    Message {
        /// The message text.
        text: String,
    },
    /// An external reference.
    Linked {
        /// URL or reference.
        url: String,
        /// What it is.
        title: Option<String>,
    },
    /// The requester rated the case.
    Rated {
        /// 1 to 5.
        score: u8,
        /// Optional comment.
        comment: Option<String>,
    },
}

impl TimelineEvent {
    /// The event's name as stored (`created`, `status_changed`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::StatusChanged { .. } => "status_changed",
            Self::Assigned { .. } => "assigned",
            Self::PriorityChanged { .. } => "priority_changed",
            Self::Note { .. } => "note",
            Self::Message { .. } => "message",
            Self::Linked { .. } => "linked",
            Self::Rated { .. } => "rated",
        }
    }
}

/// Which cases to list. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Any of these statuses (empty: all).
    pub statuses: Vec<CaseStatus>,
    /// Only this kind.
    pub kind: Option<CaseKind>,
    /// Only this requester (Discord user id).
    pub requester: Option<String>,
    /// Only this assignee.
    pub assignee: Option<String>,
    /// Full-text search over subject, description and tags: every word must match (common
    /// English words are ignored). Blank text does not filter; text without letters or digits
    /// matches nothing.
    pub text: Option<String>,
}

impl CaseFilter {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        opt_text("requester", self.requester.as_deref(), 100)?;
        opt_text("assignee", self.assignee.as_deref(), 200)?;
        opt_text("text", self.text.as_deref(), 500)
    }
}

/// Where a page of cases starts and how long it is. Cases come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The `next_cursor` of the previous page; `None` for the first page.
    pub cursor: Option<String>,
    /// 1 to 200; default 50.
    pub limit: Option<u32>,
}

impl PageRequest {
    /// The default page size.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The largest page size.
    pub const MAX_LIMIT: u32 = 200;

    /// First page with `limit` cases.
    pub fn first(limit: u32) -> Self {
        Self {
            cursor: None,
            limit: Some(limit),
        }
    }

    /// Cases older than the cursor's, `limit` of them.
    pub(crate) fn resolve(&self) -> Result<(Option<u32>, u32), Error> {
        let limit = self.limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(format!(
                "limit must be between 1 and {}",
                Self::MAX_LIMIT
            )));
        }
        let before = match &self.cursor {
            None => None,
            Some(cursor) => Some(
                cursor
                    .parse::<CaseNumber>()
                    .map_err(|_| Error::invalid("cursor is not one this API returned"))?
                    .get(),
            ),
        };
        Ok((before, limit))
    }
}

/// One page of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CasePage {
    /// Newest first.
    pub cases: Vec<Case>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A case found by [`crate::CaseStore::similar`], with its relevance (higher is closer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SimilarCase {
    /// The case.
    pub case: Case,
    /// Relevance score from the store's full-text ranking; only the order is meaningful.
    pub score: f64,
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(Error::invalid(format!(
            "{field} must not contain NUL characters"
        )));
    }
    let len = value.chars().count();
    if min > 0 && value.trim().is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if len > max {
        return Err(Error::invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

/// An optional display name: 1 to 200 characters when present.
fn name(field: &str, value: Option<&str>) -> Result<(), Error> {
    value.map_or(Ok(()), |v| text(field, v, 1, 200))
}

fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<(), Error> {
    value.map_or(Ok(()), |v| text(field, v, 0, max))
}

fn id(field: &str, value: &str) -> Result<(), Error> {
    text(field, value, 1, 100)
}

fn timestamp(field: &str, value: OffsetDateTime) -> Result<(), Error> {
    // Both stores keep years 1..=9999 in UTC; RFC 3339 output needs four-digit years too. The
    // check is on the UTC time: `9999-12-31T23:00:00-05:00` is already year 10000.
    let utc_year = value
        .checked_to_offset(time::UtcOffset::UTC)
        .map(OffsetDateTime::year);
    if utc_year.is_some_and(|year| (1..=9999).contains(&year)) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{field} must be between years 1 and 9999"
        )))
    }
}

pub(crate) fn validate_batch(batch: &[NewMessage]) -> Result<(), Error> {
    if batch.is_empty() || batch.len() > 500 {
        return Err(Error::invalid("a batch holds 1 to 500 messages"));
    }
    batch.iter().try_for_each(NewMessage::validate)
}

pub(crate) fn validate_limit(limit: u32) -> Result<(), Error> {
    if (1..=50).contains(&limit) {
        Ok(())
    } else {
        Err(Error::invalid("limit must be between 1 and 50"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_number_round_trips() {
        for (text, n) in [
            ("CASE-000001", 1),
            ("CASE-123456", 123_456),
            ("CASE-1234567", 1_234_567),
        ] {
            let parsed: CaseNumber = text.parse().unwrap();
            assert_eq!(parsed.get(), n);
            assert_eq!(parsed.to_string(), text);
        }
        for bad in [
            "",
            "CASE-",
            "CASE-0",
            "CASE-x1",
            "case-000001",
            "CASE-99999999999",
            "CASE-+1",
            " CASE-1",
        ] {
            assert!(bad.parse::<CaseNumber>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn transitions_follow_the_lifecycle() {
        use CaseStatus::*;
        let legal = [
            (New, Open),
            (New, Pending),
            (New, Resolved),
            (Open, Pending),
            (Open, Resolved),
            (Pending, Open),
            (Pending, Resolved),
            (Resolved, Open),
            (Resolved, Closed),
        ];
        for &from in CaseStatus::ALL {
            for &to in CaseStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn validation_names_the_field() {
        let requester = Requester {
            discord_id: "42".into(),
            name: "Ann".into(),
        };
        let ok = NewCase::new(CaseKind::Bug, "Crash", requester.clone());
        ok.validate().unwrap();
        let err = NewCase::new(CaseKind::Bug, "  ", requester.clone())
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("subject"), "{err}");
        let err = NewCase::new(CaseKind::Bug, "a\0b", requester)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
        assert!(
            Rating {
                score: 6,
                comment: None
            }
            .validate()
            .is_err()
        );
        assert!(
            Rating {
                score: 0,
                comment: None
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn timeline_events_are_tagged() {
        let event = TimelineEvent::StatusChanged {
            from: CaseStatus::Open,
            to: CaseStatus::Resolved,
            reason: Some("idle".into()),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "status_changed", "from": "open", "to": "resolved", "reason": "idle"})
        );
        let back: TimelineEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
