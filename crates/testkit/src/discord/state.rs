//! The emulator's state: guild, channels, messages, interactions, gateway sessions, faults and the
//! log of REST calls. Everything is changed under one lock by short synchronous functions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::config::{ChannelKind, DiscordConfig, UserSpec};

/// Discord's epoch (2015-01-01) in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

pub(crate) const INTENT_GUILDS: u64 = 1;
pub(crate) const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
pub(crate) const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
pub(crate) const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;

/// Where a stored message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageOrigin {
    /// Injected by a test as written by a user.
    Injected,
    /// Created by the bot with `POST /channels/{id}/messages`.
    Rest,
    /// The original response of an interaction (callback type 4 or 5).
    InteractionResponse,
    /// An interaction follow-up (`POST /webhooks/{app}/{token}`).
    Followup,
}

/// A message as the emulator stores it (user messages and everything the bot sent).
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredMessage {
    /// Snowflake id.
    #[serde(serialize_with = "super::ser::id")]
    pub id: u64,
    /// Channel id.
    #[serde(serialize_with = "super::ser::id")]
    pub channel_id: u64,
    /// Guild id, `None` in DMs.
    #[serde(serialize_with = "super::ser::opt_id")]
    pub guild_id: Option<u64>,
    /// Author id.
    #[serde(serialize_with = "super::ser::id")]
    pub author_id: u64,
    /// Text content (the latest edit).
    pub content: String,
    /// Embeds (the latest edit), as sent.
    pub embeds: Vec<Value>,
    /// Components (the latest edit), as sent.
    pub components: Vec<Value>,
    /// Attachments, as sent.
    pub attachments: Vec<Value>,
    /// Message flags (64 = ephemeral, 128 = loading).
    pub flags: u64,
    /// The `nonce` the bot sent, if any.
    pub nonce: Option<Value>,
    /// Message type (0 default, 19 reply, 20 chat input command).
    pub kind: u8,
    /// ISO-8601 creation time.
    pub timestamp: String,
    /// ISO-8601 time of the last edit.
    pub edited_timestamp: Option<String>,
    /// Previous contents, oldest first (one entry per edit).
    pub edits: Vec<String>,
    /// Whether the message was deleted.
    pub deleted: bool,
    /// Where the message came from.
    pub origin: MessageOrigin,
    /// The interaction this message answers.
    #[serde(serialize_with = "super::ser::opt_id")]
    pub interaction_id: Option<u64>,
    /// `message_reference`, as sent.
    pub message_reference: Option<Value>,
    /// Mentioned user ids.
    #[serde(serialize_with = "super::ser::ids")]
    pub mentions: Vec<u64>,
    /// The body of the request that created the message (bot messages).
    pub request_body: Option<Value>,
    /// Emojis the bot reacted with (`✅`, or `name:id` for a custom emoji).
    pub bot_reactions: Vec<String>,
}

impl StoredMessage {
    /// Whether the message is ephemeral (flag 64).
    pub fn is_ephemeral(&self) -> bool {
        self.flags & 64 != 0
    }

    /// Custom ids of every button or select menu in the message's components.
    pub fn custom_ids(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.components {
            collect_custom_ids(c, &mut out);
        }
        out
    }
}

fn collect_custom_ids(component: &Value, out: &mut Vec<String>) {
    if let Some(id) = component.get("custom_id").and_then(Value::as_str) {
        out.push(id.to_owned());
    }
    if let Some(children) = component.get("components").and_then(Value::as_array) {
        for child in children {
            collect_custom_ids(child, out);
        }
    }
    if let Some(child) = component.get("component") {
        collect_custom_ids(child, out);
    }
}

/// A file attached to a message: uploaded by the bot (multipart) or attached by a test to a
/// user's message. The emulator serves its bytes at the attachment's `url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// File name, e.g. `screenshot.png`.
    pub filename: String,
    /// MIME type, e.g. `image/png`.
    pub content_type: String,
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl Attachment {
    /// A file with this name, type and content.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            filename: filename.into(),
            content_type: content_type.into(),
            data: data.into(),
        }
    }
}

/// One REST call the bot made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RestCall {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path after `/api/v10/`, e.g. `channels/123/messages`.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Route template, e.g. `POST channels/{channel_id}/messages`.
    pub route: String,
    /// JSON body, if any (the `payload_json` part of a multipart body).
    pub body: Option<Value>,
    /// The files of a multipart body, in the order sent.
    pub files: Vec<UploadedFile>,
    /// Status the emulator answered.
    pub status: u16,
    /// Body the emulator answered.
    pub response: Option<Value>,
}

/// A file part of a multipart REST call (the bytes are kept with the message; see
/// [`DiscordState::attachment`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UploadedFile {
    /// The part's file name.
    pub filename: String,
    /// The part's `Content-Type`.
    pub content_type: String,
    /// Its size in bytes.
    pub size: usize,
}

/// One response the bot gave to an interaction callback.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InteractionResponse {
    /// Callback type (4 message, 5 deferred, 6 deferred update, 7 update, 9 modal, ...).
    pub kind: u8,
    /// The callback's `data`, as sent.
    pub data: Option<Value>,
}

/// An interaction injected by a test, with what the bot did with it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InteractionRecord {
    /// Interaction id.
    #[serde(serialize_with = "super::ser::id")]
    pub id: u64,
    /// Interaction token.
    pub token: String,
    /// Interaction type (2 command, 3 component, 5 modal submit).
    pub kind: u8,
    /// The user who triggered it.
    #[serde(serialize_with = "super::ser::id")]
    pub user_id: u64,
    /// Channel it happened in.
    #[serde(serialize_with = "super::ser::id")]
    pub channel_id: u64,
    /// Guild, `None` in DMs.
    #[serde(serialize_with = "super::ser::opt_id")]
    pub guild_id: Option<u64>,
    /// Command name or component/modal `custom_id`.
    pub name: String,
    /// The `data` object sent in `INTERACTION_CREATE`.
    pub data: Value,
    /// The message a component was on.
    #[serde(serialize_with = "super::ser::opt_id")]
    pub message_id: Option<u64>,
    /// Callback responses (normally exactly one).
    pub responses: Vec<InteractionResponse>,
    /// The original response message, if type 4 or 5 created one.
    #[serde(serialize_with = "super::ser::opt_id")]
    pub original_message: Option<u64>,
    /// Follow-up message ids.
    #[serde(serialize_with = "super::ser::ids")]
    pub followups: Vec<u64>,
    #[serde(skip)]
    pub(crate) created: Instant,
}

/// Public view of a gateway session.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// `[shard_id, num_shards]` from IDENTIFY.
    pub shard: [u32; 2],
    /// Intents from IDENTIFY.
    pub intents: u64,
    /// Last sequence number sent.
    pub seq: u64,
    /// Whether a connection is attached now.
    pub connected: bool,
    /// Whether the session can still be resumed.
    pub alive: bool,
    /// How many times it was resumed.
    pub resumes: u32,
}

pub(crate) enum Outgoing {
    Text(String),
    Close(u16, String),
    Abort,
}

pub(crate) struct Conn {
    pub(crate) tx: UnboundedSender<Outgoing>,
    pub(crate) session: Option<String>,
    /// Start of the current 60 s window for the gateway's command limit, and the count in it.
    pub(crate) window: (Instant, u32),
}

pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) shard: [u32; 2],
    pub(crate) intents: u64,
    pub(crate) seq: u64,
    pub(crate) log: Vec<(u64, String)>,
    /// The highest sequence number dropped from `log` (0: nothing dropped).
    pub(crate) dropped_through: u64,
    pub(crate) conn: Option<u64>,
    pub(crate) alive: bool,
    pub(crate) resumes: u32,
}

/// Most REST calls, and most dispatches per session kept for RESUME, that the emulator keeps.
pub(crate) const LOG_CAP: usize = 10_000;

impl Session {
    /// Keeps a sent dispatch for a later RESUME (the oldest go past [`LOG_CAP`]).
    pub(crate) fn push_frame(&mut self, frame: String) {
        if self.log.len() >= LOG_CAP {
            let cut = LOG_CAP / 10;
            if let Some((seq, _)) = self.log.get(cut - 1) {
                self.dropped_through = *seq;
            }
            self.log.drain(..cut);
        }
        self.log.push((self.seq, frame));
    }

    /// Whether every dispatch after `client_seq` is still kept, so a RESUME loses nothing.
    pub(crate) fn can_replay_after(&self, client_seq: u64) -> bool {
        client_seq >= self.dropped_through
    }
}

/// Which shard(s) a dispatch goes to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// DMs and other guild-less events: shard 0.
    Dm,
    /// `(guild_id >> 22) % num_shards`.
    Guild(u64),
}

impl Target {
    pub(crate) fn on_shard(self, shard: [u32; 2]) -> bool {
        match self {
            Self::Dm => shard[0] == 0,
            Self::Guild(id) => {
                let total = u64::from(shard[1].max(1));
                (id >> 22) % total == u64::from(shard[0])
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Dispatch {
    pub(crate) t: String,
    pub(crate) d: Value,
    pub(crate) target: Target,
    /// Intent a session needs to receive it (`None`: always).
    pub(crate) intent: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct ChannelRec {
    pub(crate) id: u64,
    pub(crate) kind: u8,
    pub(crate) guild_id: Option<u64>,
    pub(crate) name: Option<String>,
    pub(crate) topic: Option<String>,
    pub(crate) parent_id: Option<u64>,
    pub(crate) position: i64,
    pub(crate) overwrites: Vec<Value>,
    pub(crate) recipient: Option<u64>,
    pub(crate) owner_id: Option<u64>,
    pub(crate) thread_members: Vec<u64>,
    pub(crate) archived: bool,
    pub(crate) locked: bool,
    pub(crate) auto_archive_duration: u64,
    pub(crate) invitable: Option<bool>,
    pub(crate) created: String,
    pub(crate) last_message_id: Option<u64>,
    pub(crate) deleted: bool,
    /// A forum's tags (`available_tags`, as Discord shows them).
    pub(crate) tags: Vec<Value>,
    /// A forum post's tags (`applied_tags`).
    pub(crate) applied_tags: Vec<u64>,
}

/// A fault injected for REST calls.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FaultKind {
    /// 429 with `retry_after` (per-route, `x-ratelimit-scope: user`).
    RateLimited {
        /// How long the client must wait.
        retry_after: Duration,
    },
    /// An error answer with a Discord JSON error body.
    Error {
        /// HTTP status.
        status: u16,
        /// Discord error code, e.g. 50007.
        code: u64,
        /// Error message.
        message: String,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct RouteFault {
    pub(crate) method: Option<String>,
    pub(crate) pattern: Vec<String>,
    pub(crate) remaining: u32,
    pub(crate) kind: FaultKind,
}

impl RouteFault {
    pub(crate) fn matches(&self, method: &str, segs: &[&str]) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        let mut i = 0;
        for (n, p) in self.pattern.iter().enumerate() {
            if p == "**" && n + 1 == self.pattern.len() {
                return true;
            }
            match segs.get(i) {
                Some(s) if p == "*" || p == s => i += 1,
                _ => return false,
            }
        }
        i == segs.len()
    }
}

/// Splits a route pattern such as `/api/v10/channels/*/messages` into segments.
pub(crate) fn pattern_segments(pattern: &str) -> Vec<String> {
    let p = pattern.trim();
    let p = p.strip_prefix("/api/v10/").unwrap_or(p);
    let p = p.trim_start_matches('/');
    let p = p.split('?').next().unwrap_or_default();
    p.split('/').map(str::to_owned).collect()
}

#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    pub(crate) window_start: Instant,
    pub(crate) count: u32,
}

/// The whole emulated Discord, behind one lock. Read it through the accessor methods, e.g. in
/// [`DiscordEmulator::wait_for`](super::DiscordEmulator::wait_for).
pub struct DiscordState {
    pub(crate) config: DiscordConfig,
    pub(crate) gateway_url: String,
    last_id: u64,
    pub(crate) users: BTreeMap<u64, UserSpec>,
    pub(crate) channels: BTreeMap<u64, ChannelRec>,
    pub(crate) dm_by_user: HashMap<u64, u64>,
    pub(crate) messages: Vec<StoredMessage>,
    pub(crate) message_index: HashMap<u64, usize>,
    pub(crate) nonces: HashMap<(u64, String), u64>,
    pub(crate) interactions: BTreeMap<u64, InteractionRecord>,
    pub(crate) interaction_tokens: HashMap<String, u64>,
    pub(crate) global_commands: Vec<Value>,
    pub(crate) guild_commands: BTreeMap<u64, Vec<Value>>,
    pub(crate) rest_log: Vec<RestCall>,
    /// Every REST call answered so far, by status (the log keeps only the latest calls).
    pub(crate) rest_statuses: BTreeMap<u16, u64>,
    pub(crate) conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    pub(crate) sessions: Vec<Session>,
    pub(crate) pending: Vec<Dispatch>,
    pub(crate) identifies: u32,
    pub(crate) route_faults: Vec<RouteFault>,
    /// Routes whose requests are served at once but answered only at the next
    /// [`release_held`](super::DiscordEmulator::release_held) (the fault's `kind` is unused).
    pub(crate) hold_routes: Vec<RouteFault>,
    /// How many answers the hold routes are holding right now.
    pub(crate) held: usize,
    /// Counts [`release_held`](super::DiscordEmulator::release_held) calls.
    pub(crate) releases: u64,
    pub(crate) global_429: Option<(u32, Duration)>,
    /// The global limit's current one-second window: its start and the requests counted.
    pub(crate) global_window: Option<(Instant, u32)>,
    pub(crate) blocked_dms: HashSet<u64>,
    pub(crate) buckets: HashMap<(String, String), Bucket>,
    pub(crate) started: String,
    pub(crate) files: HashMap<u64, Attachment>,
    /// The gateway refuses new connections (503) while set: an outage.
    pub(crate) gateway_down: bool,
}

impl DiscordState {
    pub(crate) fn new(config: DiscordConfig, gateway_url: String) -> Self {
        let mut state = Self {
            gateway_url,
            last_id: 0,
            users: BTreeMap::new(),
            channels: BTreeMap::new(),
            dm_by_user: HashMap::new(),
            messages: Vec::new(),
            message_index: HashMap::new(),
            nonces: HashMap::new(),
            interactions: BTreeMap::new(),
            interaction_tokens: HashMap::new(),
            global_commands: Vec::new(),
            guild_commands: BTreeMap::new(),
            rest_log: Vec::new(),
            rest_statuses: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            sessions: Vec::new(),
            pending: Vec::new(),
            identifies: 0,
            route_faults: Vec::new(),
            hold_routes: Vec::new(),
            held: 0,
            releases: 0,
            global_429: None,
            global_window: None,
            blocked_dms: HashSet::new(),
            buckets: HashMap::new(),
            started: now_iso(),
            files: HashMap::new(),
            gateway_down: false,
            config,
        };
        let mut bot = state.config.bot.clone();
        bot.bot = true;
        state.users.insert(bot.id, bot);
        for u in state.config.users.clone() {
            state.users.insert(u.id, u);
        }
        let guild = state.config.guild_id;
        for (pos, c) in state.config.channels.clone().into_iter().enumerate() {
            let mut rec =
                ChannelRec::new(c.id, c.kind.number(), Some(guild), state.started.clone());
            rec.name = Some(c.name);
            rec.topic = c.topic;
            rec.position = i64::try_from(pos).unwrap_or(0);
            if c.kind == ChannelKind::Category {
                rec.position = 0;
            }
            state.channels.insert(rec.id, rec);
        }
        state
    }

    /// A fresh snowflake for "now", strictly increasing.
    pub(crate) fn next_id(&mut self) -> u64 {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let candidate = (ms.saturating_sub(DISCORD_EPOCH_MS) << 22) | (1 << 17);
        self.last_id = candidate.max(self.last_id + 1);
        self.last_id
    }

    pub(crate) fn register_conn(&mut self, tx: UnboundedSender<Outgoing>) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                tx,
                session: None,
                window: (Instant::now(), 0),
            },
        );
        id
    }

    pub(crate) fn send_to_conn(&self, conn: u64, out: Outgoing) {
        if let Some(c) = self.conns.get(&conn) {
            // A closed receiver means the connection is going away; nothing to do.
            let _ = c.tx.send(out);
        }
    }

    /// Detaches a finished connection from its session.
    pub(crate) fn conn_closed(&mut self, conn: u64) {
        if let Some(c) = self.conns.remove(&conn)
            && let Some(sid) = c.session
            && let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid)
            && s.conn == Some(conn)
        {
            s.conn = None;
        }
    }

    /// Sends a dispatch to every live session on the right shard (buffered for resume when the
    /// session has no connection). Kept for the first session of that shard when none exists yet.
    pub(crate) fn dispatch(&mut self, ev: Dispatch) {
        let bot_id = self.config.bot.id;
        let mut matched = false;
        let mut frames = Vec::new();
        for s in self.sessions.iter_mut().filter(|s| s.alive) {
            if !ev.target.on_shard(s.shard) {
                continue;
            }
            matched = true;
            if let Some(intent) = ev.intent
                && s.intents & intent == 0
            {
                continue;
            }
            let d = strip_content(&ev, s.intents, bot_id);
            s.seq += 1;
            let frame = json!({"op": 0, "s": s.seq, "t": ev.t, "d": d}).to_string();
            s.push_frame(frame.clone());
            if let Some(c) = s.conn {
                frames.push((c, frame));
            }
        }
        for (c, f) in frames {
            self.send_to_conn(c, Outgoing::Text(f));
        }
        if !matched {
            self.pending.push(ev);
        }
    }

    /// Dispatches kept while no session of their shard existed, now that one identified.
    pub(crate) fn flush_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for ev in pending {
            self.dispatch(ev);
        }
    }

    /// Message by id.
    pub fn message(&self, id: u64) -> Option<&StoredMessage> {
        self.message_index
            .get(&id)
            .and_then(|i| self.messages.get(*i))
    }

    pub(crate) fn message_mut(&mut self, id: u64) -> Option<&mut StoredMessage> {
        let i = *self.message_index.get(&id)?;
        self.messages.get_mut(i)
    }

    pub(crate) fn push_message(&mut self, msg: StoredMessage) {
        if let Some(ch) = self.channels.get_mut(&msg.channel_id) {
            ch.last_message_id = Some(msg.id);
        }
        self.message_index.insert(msg.id, self.messages.len());
        self.messages.push(msg);
    }

    /// Base URL of the emulator's HTTP side, `http://127.0.0.1:<port>`.
    pub(crate) fn http_base(&self) -> String {
        self.gateway_url.replacen("ws://", "http://", 1)
    }

    /// Keeps a file and returns its Discord attachment object (served at its `url`).
    pub(crate) fn store_attachment(&mut self, channel: u64, id: u64, file: &Attachment) -> Value {
        let url = format!(
            "{}/attachments/{channel}/{id}/{}",
            self.http_base(),
            file.filename
        );
        self.files.insert(id, file.clone());
        json!({
            "id": id.to_string(),
            "filename": file.filename,
            "size": file.data.len(),
            "url": url,
            "proxy_url": url,
            "content_type": file.content_type,
        })
    }

    /// The bytes of an attachment (by attachment id).
    pub fn attachment(&self, id: u64) -> Option<&Attachment> {
        self.files.get(&id)
    }

    /// Every message in a channel (user and bot messages, deleted ones included), oldest first.
    pub fn messages_in(&self, channel_id: u64) -> Vec<&StoredMessage> {
        self.messages
            .iter()
            .filter(|m| m.channel_id == channel_id)
            .collect()
    }

    /// Messages the bot sent to a channel (REST, interaction responses and follow-ups), oldest
    /// first, deleted ones left out.
    pub fn bot_messages_in(&self, channel_id: u64) -> Vec<&StoredMessage> {
        let bot = self.config.bot.id;
        self.messages
            .iter()
            .filter(|m| m.channel_id == channel_id && m.author_id == bot && !m.deleted)
            .collect()
    }

    /// How many REST calls were answered with each status since the start (unlike
    /// [`DiscordState::rest_calls`], never truncated).
    pub fn rest_status_counts(&self) -> &BTreeMap<u16, u64> {
        &self.rest_statuses
    }

    /// Every message (any author, any channel, deleted ones included) after the first `from`,
    /// in the order they were created: cheap to poll for what is new.
    pub fn messages_since(&self, from: usize) -> &[StoredMessage] {
        self.messages.get(from..).unwrap_or_default()
    }

    /// Every message the bot sent anywhere, oldest first (deleted ones included).
    pub fn bot_messages(&self) -> Vec<&StoredMessage> {
        let bot = self.config.bot.id;
        self.messages
            .iter()
            .filter(|m| m.author_id == bot)
            .collect()
    }

    /// Messages the bot sent in the DM with this user (not deleted), oldest first.
    pub fn dms_to(&self, user_id: u64) -> Vec<&StoredMessage> {
        self.dm_by_user
            .get(&user_id)
            .map(|c| self.bot_messages_in(*c))
            .unwrap_or_default()
    }

    /// The DM channel between the bot and this user, once it exists.
    pub fn dm_channel(&self, user_id: u64) -> Option<u64> {
        self.dm_by_user.get(&user_id).copied()
    }

    /// Id of the guild channel (or thread) with this name.
    pub fn channel_id(&self, name: &str) -> Option<u64> {
        let name = name.trim_start_matches('#');
        self.channels
            .values()
            .find(|c| !c.deleted && c.name.as_deref() == Some(name))
            .map(|c| c.id)
    }

    /// A channel as Discord's JSON channel object.
    pub fn channel_json(&self, id: u64) -> Option<Value> {
        self.channels.get(&id).map(|c| self.channel_value(c))
    }

    /// Threads created in the guild (JSON channel objects), oldest first.
    pub fn threads(&self) -> Vec<Value> {
        self.channels
            .values()
            .filter(|c| matches!(c.kind, 10..=12) && !c.deleted)
            .map(|c| self.channel_value(c))
            .collect()
    }

    /// Every REST call, oldest first.
    pub fn rest_calls(&self) -> &[RestCall] {
        &self.rest_log
    }

    /// REST calls whose method matches and whose path matches `pattern` (`*` = one segment,
    /// trailing `**` = the rest), e.g. `("POST", "channels/*/messages")`.
    pub fn rest_calls_matching(&self, method: &str, pattern: &str) -> Vec<&RestCall> {
        let rule = RouteFault {
            method: Some(method.to_owned()),
            pattern: pattern_segments(pattern),
            remaining: 0,
            kind: FaultKind::Error {
                status: 0,
                code: 0,
                message: String::new(),
            },
        };
        self.rest_log
            .iter()
            .filter(|c| {
                let segs: Vec<&str> = c.path.split('/').collect();
                rule.matches(&c.method, &segs)
            })
            .collect()
    }

    /// An interaction by id.
    pub fn interaction(&self, id: u64) -> Option<&InteractionRecord> {
        self.interactions.get(&id)
    }

    /// Every injected interaction, in id order.
    pub fn interactions(&self) -> impl Iterator<Item = &InteractionRecord> {
        self.interactions.values()
    }

    /// Registered global commands (as the emulator returned them).
    pub fn global_commands(&self) -> &[Value] {
        &self.global_commands
    }

    /// Registered guild commands.
    pub fn guild_commands(&self, guild_id: u64) -> &[Value] {
        self.guild_commands
            .get(&guild_id)
            .map_or(&[], Vec::as_slice)
    }

    /// Gateway sessions, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.sessions
            .iter()
            .map(|s| SessionInfo {
                session_id: s.id.clone(),
                shard: s.shard,
                intents: s.intents,
                seq: s.seq,
                connected: s.conn.is_some(),
                alive: s.alive,
                resumes: s.resumes,
            })
            .collect()
    }

    /// Number of IDENTIFY payloads accepted so far.
    pub fn identify_count(&self) -> u32 {
        self.identifies
    }

    /// Whether a live session with a connection exists for shard `shard_id`.
    pub fn shard_connected(&self, shard_id: u32) -> bool {
        self.sessions
            .iter()
            .any(|s| s.alive && s.conn.is_some() && s.shard[0] == shard_id)
    }

    /// Number of open websocket connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn user_known(&self, id: u64) -> bool {
        self.users.contains_key(&id)
    }

    /// The DM channel with `user`, created if needed.
    pub(crate) fn ensure_dm(&mut self, user: u64) -> u64 {
        if let Some(c) = self.dm_by_user.get(&user) {
            return *c;
        }
        let id = self.next_id();
        let mut rec = ChannelRec::new(id, 1, None, now_iso());
        rec.recipient = Some(user);
        self.channels.insert(id, rec);
        self.dm_by_user.insert(user, id);
        id
    }
}

/// A guild `MESSAGE_CREATE`/UPDATE without `MESSAGE_CONTENT` loses its content unless it mentions the
/// bot or the bot wrote it (Discord's rule for the privileged intent).
fn strip_content(ev: &Dispatch, intents: u64, bot_id: u64) -> Value {
    let is_message = ev.t == "MESSAGE_CREATE" || ev.t == "MESSAGE_UPDATE";
    if !is_message || intents & INTENT_MESSAGE_CONTENT != 0 || matches!(ev.target, Target::Dm) {
        return ev.d.clone();
    }
    let bot = bot_id.to_string();
    let by_bot = ev.d["author"]["id"].as_str() == Some(bot.as_str());
    let mentions_bot = ev.d["mentions"]
        .as_array()
        .is_some_and(|m| m.iter().any(|u| u["id"].as_str() == Some(bot.as_str())));
    if by_bot || mentions_bot {
        return ev.d.clone();
    }
    let mut d = ev.d.clone();
    d["content"] = json!("");
    d["embeds"] = json!([]);
    d["attachments"] = json!([]);
    d["components"] = json!([]);
    d
}

impl ChannelRec {
    pub(crate) fn new(id: u64, kind: u8, guild_id: Option<u64>, created: String) -> Self {
        Self {
            id,
            kind,
            guild_id,
            name: None,
            topic: None,
            parent_id: None,
            position: 0,
            overwrites: Vec::new(),
            recipient: None,
            owner_id: None,
            thread_members: Vec::new(),
            archived: false,
            locked: false,
            auto_archive_duration: 4320,
            invitable: None,
            created,
            last_message_id: None,
            deleted: false,
            tags: Vec::new(),
            applied_tags: Vec::new(),
        }
    }
}

/// Now as an ISO-8601 timestamp with microseconds, as Discord writes them.
pub(crate) fn now_iso() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    twilight_model::util::Timestamp::from_micros(micros).map_or_else(
        |_| "2025-01-01T00:00:00.000000+00:00".to_owned(),
        |t| t.iso_8601().with_microseconds(true).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_older_than_the_kept_dispatches_cannot_replay() {
        let mut s = Session {
            id: "s".into(),
            shard: [0, 1],
            intents: 0,
            seq: 0,
            log: Vec::new(),
            dropped_through: 0,
            conn: None,
            alive: true,
            resumes: 0,
        };
        for _ in 0..LOG_CAP {
            s.seq += 1;
            s.push_frame(String::new());
        }
        assert!(s.can_replay_after(0), "nothing dropped yet");
        s.seq += 1;
        s.push_frame(String::new());
        let dropped = u64::try_from(LOG_CAP / 10).expect("fits");
        assert_eq!(s.dropped_through, dropped);
        assert!(!s.can_replay_after(dropped - 1));
        assert!(s.can_replay_after(dropped));
        assert_eq!(s.log.first().map(|(seq, _)| *seq), Some(dropped + 1));
    }

    fn fault(method: Option<&str>, pattern: &str) -> RouteFault {
        RouteFault {
            method: method.map(str::to_owned),
            pattern: pattern_segments(pattern),
            remaining: 1,
            kind: FaultKind::RateLimited {
                retry_after: Duration::from_millis(1),
            },
        }
    }

    #[test]
    fn route_patterns_match_segments() {
        let segs = ["channels", "42", "messages"];
        assert!(fault(Some("POST"), "channels/*/messages").matches("POST", &segs));
        assert!(fault(Some("post"), "/api/v10/channels/*/messages").matches("POST", &segs));
        assert!(!fault(Some("PATCH"), "channels/*/messages").matches("POST", &segs));
        assert!(fault(None, "channels/**").matches("DELETE", &segs));
        assert!(!fault(None, "channels/*").matches("POST", &segs));
        assert!(!fault(None, "channels/*/messages/*").matches("POST", &segs));
        assert!(fault(None, "channels/42/messages").matches("GET", &segs));
    }

    #[test]
    fn shard_of_guild_follows_discord_formula() {
        let guild = 1_200_000_000_000_000_000_u64;
        let shard = u32::try_from((guild >> 22) % 4).unwrap_or(0);
        assert!(Target::Guild(guild).on_shard([shard, 4]));
        assert!(!Target::Guild(guild).on_shard([(shard + 1) % 4, 4]));
        assert!(Target::Dm.on_shard([0, 4]));
        assert!(!Target::Dm.on_shard([1, 4]));
    }

    #[test]
    fn snowflakes_increase() {
        let mut s = DiscordState::new(DiscordConfig::default(), "ws://x".to_owned());
        let a = s.next_id();
        let b = s.next_id();
        assert!(b > a);
        assert!(a >> 22 > 0);
    }
}
