//! Configuration of the Discord emulator: the guild, its channels, the bot and the users.

use std::net::SocketAddr;
use std::time::Duration;

/// The bot token [`DiscordConfig::default`] requires, in Discord's shape: the bot's id in
/// base64, a timestamp and an HMAC, joined by dots (`MTIw…MQ.aVW5AA.Zmxl…`). The first part is the
/// default bot's id (`1200000000000000001`); the last decodes to `flexcord-testkit-not-a-secret`.
pub const DEFAULT_TOKEN: &str =
    "MTIwMDAwMDAwMDAwMDAwMDAwMQ.aVW5AA.ZmxleGNvcmQtdGVzdGtpdC1ub3QtYS1zZWNyZXQ";

/// Kind of a guild channel the emulator starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelKind {
    /// A text channel (Discord type 0).
    Text,
    /// An announcement channel (Discord type 5).
    Announcement,
    /// A category (Discord type 4).
    Category,
    /// A forum channel (Discord type 15).
    Forum,
}

impl ChannelKind {
    /// The Discord channel type number.
    pub const fn number(self) -> u8 {
        match self {
            Self::Text => 0,
            Self::Announcement => 5,
            Self::Category => 4,
            Self::Forum => 15,
        }
    }
}

/// A guild channel of the initial guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Snowflake id.
    pub id: u64,
    /// Name without the `#`, e.g. `bug-report`.
    pub name: String,
    /// Channel kind.
    pub kind: ChannelKind,
    /// Optional topic.
    pub topic: Option<String>,
}

impl ChannelSpec {
    /// A text channel.
    pub fn text(id: u64, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            kind: ChannelKind::Text,
            topic: None,
        }
    }

    /// A channel of any kind.
    pub fn new(id: u64, name: impl Into<String>, kind: ChannelKind) -> Self {
        Self {
            id,
            name: name.into(),
            kind,
            topic: None,
        }
    }
}

/// A Discord user known to the emulator (a guild member who can DM the bot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    /// Snowflake id.
    pub id: u64,
    /// Unique username (lower case, no discriminator).
    pub username: String,
    /// Display name.
    pub global_name: Option<String>,
    /// Whether the user is a bot account.
    pub bot: bool,
    /// Role ids the member has in the guild (besides `@everyone`).
    pub roles: Vec<u64>,
}

impl UserSpec {
    /// A human user with a display name derived from the username.
    pub fn new(id: u64, username: impl Into<String>) -> Self {
        let username = username.into();
        let mut display = username.clone();
        if let Some(first) = display.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self {
            id,
            username,
            global_name: Some(display),
            bot: false,
            roles: Vec::new(),
        }
    }
}

/// A guild role (besides `@everyone`, whose id is the guild id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    /// Snowflake id.
    pub id: u64,
    /// Role name, e.g. `Support`.
    pub name: String,
    /// Permission bits.
    pub permissions: u64,
}

/// Everything the emulator starts with. [`Default`] gives a guild with `#general`, `#bug-report`,
/// `#feature-request` and `#announcements`, a bot `supportbot` whose token is [`DEFAULT_TOKEN`],
/// and the users `alice` and `bob`.
#[derive(Clone, Debug)]
pub struct DiscordConfig {
    /// Address to bind (default `127.0.0.1:0`, a free loopback port).
    pub bind: SocketAddr,
    /// Guild id.
    pub guild_id: u64,
    /// Guild name.
    pub guild_name: String,
    /// Guild owner id (default: the first user, or the bot).
    pub owner_id: Option<u64>,
    /// Guild channels.
    pub channels: Vec<ChannelSpec>,
    /// Extra roles.
    pub roles: Vec<RoleSpec>,
    /// Users who are guild members and may DM the bot.
    pub users: Vec<UserSpec>,
    /// The bot user (`bot` is forced to true).
    pub bot: UserSpec,
    /// Application id (Discord gives new bots the same id as the bot user).
    pub application_id: u64,
    /// Application name.
    pub application_name: String,
    /// Bot token expected in IDENTIFY, RESUME and the REST `Authorization` header (with or without
    /// the `Bot ` prefix): [`DEFAULT_TOKEN`] unless set. `None` accepts any non-empty token.
    pub token: Option<String>,
    /// Whether the privileged `MESSAGE_CONTENT` intent is enabled for the application. When false,
    /// an IDENTIFY that asks for it is closed with 4014 (Disallowed intents), as Discord does.
    pub message_content_allowed: bool,
    /// Heartbeat interval announced in HELLO. A connection that sends no heartbeat for 1.5 times
    /// this interval is closed with 4009 and its session is invalidated.
    pub heartbeat_interval: Duration,
    /// Time an interaction has for its first response (Discord: 3 s); later callbacks get
    /// 404 / 10062 Unknown interaction.
    pub interaction_ack_deadline: Duration,
    /// Lifetime of an interaction token for edits and follow-ups (Discord: 15 min).
    pub interaction_token_lifetime: Duration,
    /// Shard count recommended by `GET /gateway/bot`.
    pub recommended_shards: u32,
    /// Requests allowed per route bucket and window before a real 429.
    pub bucket_limit: u32,
    /// Length of a route bucket window.
    pub bucket_window: Duration,
    /// Discord's global limit: requests per second a bot token may make across every route
    /// (Discord: 50; interaction callbacks are exempt). Past it a real global 429 with
    /// `x-ratelimit-scope: global`. `None` (the default): no global limit.
    pub global_limit: Option<u32>,
    /// Extra time every REST answer takes (an upstream's latency; zero by default). Can also be
    /// changed while running ([`super::DiscordEmulator::set_latency`]).
    pub latency: Duration,
    /// Whether messages the bot creates over REST are also dispatched to the gateway as
    /// `MESSAGE_CREATE` (Discord does this; the bot must ignore its own messages).
    pub echo_bot_messages: bool,
    /// The largest file a bot may upload, in bytes (Discord: 10 MiB without boosts). A larger
    /// file is refused with 413 / 40005 `Request entity too large`.
    pub upload_limit: u64,
    /// The guild's features (`COMMUNITY`, `NEWS`, ...). Announcement channels (type 5) and
    /// forum channels (type 15) need `COMMUNITY` (or `NEWS` for announcement channels):
    /// without it, creating one or converting a channel to one is refused as Discord does.
    pub features: Vec<String>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        let guild_id = 1_200_000_000_000_000_000;
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            guild_id,
            guild_name: "Flexcord Test Guild".to_owned(),
            owner_id: None,
            channels: vec![
                ChannelSpec::text(1_200_000_000_000_000_010, "general"),
                ChannelSpec::text(1_200_000_000_000_000_011, "bug-report"),
                ChannelSpec::text(1_200_000_000_000_000_012, "feature-request"),
                ChannelSpec::text(1_200_000_000_000_000_013, "announcements"),
            ],
            roles: vec![RoleSpec {
                id: 1_200_000_000_000_000_020,
                name: "Support".to_owned(),
                permissions: 0x0000_0000_0000_0008, // ADMINISTRATOR
            }],
            users: vec![
                UserSpec::new(1_200_000_000_000_000_100, "alice"),
                UserSpec::new(1_200_000_000_000_000_101, "bob"),
            ],
            bot: UserSpec {
                id: 1_200_000_000_000_000_001,
                username: "supportbot".to_owned(),
                global_name: Some("Support Bot".to_owned()),
                bot: true,
                roles: Vec::new(),
            },
            application_id: 1_200_000_000_000_000_001,
            application_name: "Support Bot".to_owned(),
            token: Some(DEFAULT_TOKEN.to_owned()),
            message_content_allowed: true,
            heartbeat_interval: Duration::from_millis(41_250),
            interaction_ack_deadline: Duration::from_secs(3),
            interaction_token_lifetime: Duration::from_secs(15 * 60),
            recommended_shards: 1,
            bucket_limit: 50,
            bucket_window: Duration::from_secs(1),
            global_limit: None,
            latency: Duration::ZERO,
            echo_bot_messages: true,
            upload_limit: 10 * 1024 * 1024,
            features: Vec::new(),
        }
    }
}

impl DiscordConfig {
    /// Sets the bind address (e.g. a fixed loopback port for the binary).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Requires this bot token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Adds a guild channel.
    #[must_use]
    pub fn channel(mut self, channel: ChannelSpec) -> Self {
        self.channels.push(channel);
        self
    }

    /// Adds a user.
    #[must_use]
    pub fn user(mut self, user: UserSpec) -> Self {
        self.users.push(user);
        self
    }

    /// Sets the heartbeat interval announced in HELLO.
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Route buckets of `limit` requests per `window` (per route and major parameter).
    #[must_use]
    pub fn buckets(mut self, limit: u32, window: Duration) -> Self {
        self.bucket_limit = limit;
        self.bucket_window = window;
        self
    }

    /// Discord's global limit of `per_second` requests across routes.
    #[must_use]
    pub fn global_limit(mut self, per_second: u32) -> Self {
        self.global_limit = Some(per_second);
        self
    }

    /// Every REST answer takes `latency` longer.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the largest file the bot may upload.
    #[must_use]
    pub fn upload_limit(mut self, bytes: u64) -> Self {
        self.upload_limit = bytes;
        self
    }

    /// Adds a guild feature (e.g. `COMMUNITY`).
    #[must_use]
    pub fn feature(mut self, feature: impl Into<String>) -> Self {
        self.features.push(feature.into());
        self
    }

    /// Adds a guild role.
    #[must_use]
    pub fn role(mut self, role: RoleSpec) -> Self {
        self.roles.push(role);
        self
    }

    /// Id of the guild channel with this name (without `#`).
    pub fn channel_id(&self, name: &str) -> Option<u64> {
        let name = name.trim_start_matches('#');
        self.channels.iter().find(|c| c.name == name).map(|c| c.id)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn the_default_token_has_discords_shape_and_names_the_default_bot() {
        let parts: Vec<&str> = DEFAULT_TOKEN.split('.').collect();
        assert_eq!(parts.len(), 3);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let id = b64
            .decode(parts[0])
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        assert_eq!(id.ok(), Some(DiscordConfig::default().bot.id.to_string()));
        assert_eq!(
            b64.decode(parts[1]).map(|b| b.len()).ok(),
            Some(4),
            "a 32-bit timestamp"
        );
        assert!(parts[2].len() >= 27, "an HMAC as long as Discord's");
        assert!(
            DEFAULT_TOKEN
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        );
        assert_eq!(
            DiscordConfig::default().token.as_deref(),
            Some(DEFAULT_TOKEN)
        );
    }
}
