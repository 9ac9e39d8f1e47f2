//! The configuration: a TOML file plus `FLEXCORD_<SECTION>__<KEY>` environment overrides.
//!
//! Every key, its default and its meaning are listed in `docs/configuration.md`. Loading never
//! stops at the first problem: [`Config::load`] returns every missing, unknown or invalid key at
//! once in [`ConfigError`], so `flexcord check-config` can name them all.
//!
//! Secrets (`discord.token`, `twilio.auth_token`, `twilio.api_key_secret`,
//! `bot.webhook_secret`, `cases.token`) are held in [`Secret`] and never appear in `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

pub use flexcord_routing::SupportHours;
use flexcord_routing::hours::OffsetChange;
use flexcord_twilio::sid::{
    AccountSid, ApiKeySid, FlexFlowSid, FlowSid, ServiceSid, WorkflowSid, WorkspaceSid,
};
use url::Url;

use crate::secret::Secret;

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "FLEXCORD_";

/// Every configuration key as `(section, key, default)`; `None` means "no default".
///
/// This list is the single source for unknown-key detection and for the docs test that checks
/// `docs/configuration.md` mentions every key.
pub const KEYS: &[(&str, &str, Option<&str>)] = &[
    ("discord", "token", None),
    ("discord", "application_id", None),
    ("discord", "guild_id", None),
    ("discord", "api_url", Some("https://discord.com")),
    ("discord", "gateway_url", Some("wss://gateway.discord.gg")),
    ("discord", "shards", Some("0..1 of 1")),
    ("discord", "bug_channel_id", None),
    ("discord", "feature_channel_id", None),
    ("discord", "max_upload_bytes", Some("10485760")),
    ("twilio", "mode", Some("conversations")),
    ("twilio", "account_sid", None),
    ("twilio", "auth_token", None),
    ("twilio", "api_key_sid", None),
    ("twilio", "api_key_secret", None),
    ("twilio", "chat_service_sid", None),
    ("twilio", "flex_flow_sid", None),
    ("twilio", "conversations_service_sid", None),
    ("twilio", "workspace_sid", None),
    ("twilio", "workflow_sid", None),
    ("twilio", "studio_flow_sid", None),
    ("twilio", "chat_url", Some("https://chat.twilio.com")),
    ("twilio", "flex_url", Some("https://flex-api.twilio.com")),
    (
        "twilio",
        "conversations_url",
        Some("https://conversations.twilio.com"),
    ),
    ("twilio", "studio_url", Some("https://studio.twilio.com")),
    ("twilio", "media_url", Some("https://mcs.us1.twilio.com")),
    ("server", "listen", Some("0.0.0.0:8080")),
    ("server", "public_url", None),
    ("server", "max_body_bytes", Some("65536")),
    ("server", "shutdown_grace", Some("10s")),
    ("store", "url", Some("sqlite://flexcord.db")),
    ("outbox", "max_attempts", Some("8")),
    ("outbox", "base_backoff", Some("1s")),
    ("outbox", "max_backoff", Some("5m")),
    ("outbox", "lease", Some("60s")),
    ("bot", "route", Some("direct")),
    ("bot", "mode", Some("embedded")),
    ("bot", "rasa_url", None),
    ("bot", "identity", Some("flexcord-bot")),
    ("bot", "webhook_secret", None),
    ("kb", "path", None),
    ("cases", "backend", Some("embedded")),
    ("cases", "store_url", None),
    ("cases", "url", None),
    ("cases", "token", None),
    ("support", "hours", None),
    ("support", "timezone", Some("UTC")),
    ("support", "agent_wait_notice", Some("5m")),
    ("support", "idle_close", Some("24h")),
];

/// The whole configuration, validated.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `[discord]`.
    pub discord: DiscordConfig,
    /// `[twilio]`.
    pub twilio: TwilioConfig,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[outbox]`.
    pub outbox: OutboxConfig,
    /// `[bot]`.
    pub bot: BotConfig,
    /// `[kb]`.
    pub kb: KbConfig,
    /// `[cases]`.
    pub cases: CasesConfig,
    /// `[support]`.
    pub support: SupportConfig,
}

/// `[discord]`: the bot application.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DiscordConfig {
    /// The bot token.
    pub token: Secret,
    /// The application (client) id.
    pub application_id: u64,
    /// Register commands in this guild only (instant updates; for testing).
    pub guild_id: Option<u64>,
    /// REST base URL (`https://discord.com`, or an emulator's `http://127.0.0.1:port`).
    pub api_url: Url,
    /// Gateway base URL (`wss://gateway.discord.gg`, or an emulator's `ws://…`).
    pub gateway_url: Url,
    /// The shards this process runs.
    pub shards: ShardSpec,
    /// Where `/bug` reports are announced, if anywhere.
    pub bug_channel_id: Option<u64>,
    /// Where `/new_feature` requests are announced, if anywhere.
    pub feature_channel_id: Option<u64>,
    /// The largest file passed on as an upload, either way (Discord's upload limit, 10 MiB by
    /// default); larger files are passed on as links.
    pub max_upload_bytes: u64,
}

impl DiscordConfig {
    /// The `(host[:port][/prefix], use_http)` pair twilight-http's `ClientBuilder::proxy` takes,
    /// or `None` for the real `https://discord.com`.
    pub fn http_proxy(&self) -> Option<(String, bool)> {
        let host = self.api_url.host_str()?;
        if self.api_url.scheme() == "https" && host == "discord.com" {
            return None;
        }
        let mut base = match self.api_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let path = self.api_url.path().trim_end_matches('/');
        base.push_str(path);
        Some((base, self.api_url.scheme() == "http"))
    }

    /// The gateway URL as twilight's `proxy_url` wants it: no trailing slash.
    pub fn gateway_base(&self) -> String {
        self.gateway_url.as_str().trim_end_matches('/').to_owned()
    }
}

/// `[twilio]`: the account and the products used.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TwilioConfig {
    /// Conversations (default) or Programmable Chat.
    pub mode: TwilioMode,
    /// The account SID.
    pub account_sid: AccountSid,
    /// The primary Auth Token: signs webhooks, and authenticates REST calls without an API key.
    pub auth_token: Secret,
    /// API key credentials for REST calls, if used.
    pub api_key: Option<(ApiKeySid, Secret)>,
    /// Chat service (chat mode).
    pub chat_service_sid: Option<ServiceSid>,
    /// Flex Flow (chat mode).
    pub flex_flow_sid: Option<FlexFlowSid>,
    /// Conversations service (default service when unset).
    pub conversations_service_sid: Option<ServiceSid>,
    /// `TaskRouter` workspace (hand-off through the Interactions API).
    pub workspace_sid: Option<WorkspaceSid>,
    /// `TaskRouter` workflow (hand-off through the Interactions API).
    pub workflow_sid: Option<WorkflowSid>,
    /// Studio flow (conversations mode with the studio route).
    pub studio_flow_sid: Option<FlowSid>,
    /// Programmable Chat base URL.
    pub chat_url: Url,
    /// Flex API base URL.
    pub flex_url: Url,
    /// Conversations base URL.
    pub conversations_url: Url,
    /// Studio base URL.
    pub studio_url: Url,
    /// Media Content Service base URL.
    pub media_url: Url,
}

/// Which Twilio product carries the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwilioMode {
    /// Twilio Conversations (default).
    Conversations,
    /// Programmable Chat through a Flex Flow (the reference design; retired for Flex on
    /// 2026-06-01).
    Chat,
}

/// Where the virtual agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotRoute {
    /// In-process; Twilio is only touched at hand-off (default).
    Direct,
    /// Through a Studio flow whose HTTP widget calls `POST /twilio/bot`.
    Studio,
}

/// Which virtual agent answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotMode {
    /// The embedded knowledge-base agent (default).
    Embedded,
    /// A Rasa server at `bot.rasa_url`.
    Rasa,
}

/// Where cases live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasesBackend {
    /// In this process, in `cases.store_url` (default `store.url`).
    Embedded,
    /// A separate flexcord-cases server at `cases.url`.
    Remote,
}

/// `[server]`: the HTTP server for webhooks, health and metrics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The external URL Twilio calls (signatures are computed on it).
    pub public_url: Url,
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// How long shutdown waits for requests and the outbox to drain.
    pub shutdown_grace: Duration,
}

/// `[store]`: the database of conversations and the outbox.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
}

/// `[outbox]`: how the outbox worker retries deliveries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// Attempts before a delivery is given up (dead letter).
    pub max_attempts: u32,
    /// The first retry delay, doubled at each further attempt.
    pub base_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
    /// How long a worker holds a claimed delivery; after it, another worker (or this process
    /// after a restart) takes the delivery over.
    pub lease: Duration,
}

/// `[bot]`: the virtual agent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BotConfig {
    /// Direct (default) or studio.
    pub route: BotRoute,
    /// Embedded (default) or Rasa.
    pub mode: BotMode,
    /// Rasa's base URL (rasa mode).
    pub rasa_url: Option<Url>,
    /// The identity the bot writes as in Twilio.
    pub identity: String,
    /// Shared secret accepted on `POST /twilio/bot` in `X-Flexcord-Secret`.
    pub webhook_secret: Option<Secret>,
}

/// `[kb]`: the knowledge base.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KbConfig {
    /// Folder of articles; `None` uses the sample built into the binary.
    pub path: Option<std::path::PathBuf>,
}

/// `[cases]`: case management.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CasesConfig {
    /// Embedded (default) or remote.
    pub backend: CasesBackend,
    /// Database of embedded cases (defaults to `store.url`).
    pub store_url: String,
    /// Remote cases server.
    pub url: Option<Url>,
    /// Bearer token for the cases API.
    pub token: Option<Secret>,
}

/// `[support]`: opening hours and timers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SupportConfig {
    /// When agents are available, in local time of `timezone` (weekly ranges only: the UTC
    /// offsets are added by [`SupportConfig::hours_at`]); `None` means always.
    pub hours: Option<SupportHours>,
    /// The IANA time zone of `hours`, as configured (known to the bundled tz database).
    pub timezone: String,
    /// After this long without an agent the user is told they are still queued.
    pub agent_wait_notice: Duration,
    /// A conversation idle this long is closed (case resolved with reason `idle`).
    pub idle_close: Duration,
}

/// How many days before the start the UTC offsets of `support.timezone` are worked out from
/// (times of earlier activity are looked at, e.g. for the idle close).
pub const OFFSET_DAYS_BEHIND: i64 = 366;
/// How many days after the start the UTC offsets are worked out to (ten years); past that the
/// last offset stays in force until the process restarts.
pub const OFFSET_DAYS_AHEAD: i64 = 3653;

impl SupportConfig {
    /// The support hours as the routing core takes them: the weekly ranges plus the UTC offsets
    /// of `timezone` from [`OFFSET_DAYS_BEHIND`] days before `now` to [`OFFSET_DAYS_AHEAD`] days
    /// after it. Always open when `hours` is unset.
    ///
    /// # Errors
    /// When `timezone` is not in the tz database (never for a validated configuration) or `now`
    /// is out of range.
    pub fn hours_at(&self, now: flexcord_routing::Timestamp) -> Result<SupportHours, String> {
        let Some(hours) = &self.hours else {
            return Ok(SupportHours::always());
        };
        let zone = time_zone(&self.timezone)?;
        let day = 86_400_000;
        let at = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms).map_err(|e| format!("support hours: {e}"))
        };
        let from = at(now.0.saturating_sub(OFFSET_DAYS_BEHIND * day))?;
        let until = at(now.0.saturating_add(OFFSET_DAYS_AHEAD * day))?;
        Ok(hours
            .clone()
            .with_offsets(offset_changes(&zone, from, until)))
    }
}

/// The zone named `name` in the bundled tz database.
fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name)
        .map_err(|_| format!("{name:?} is not a known IANA time zone (e.g. Europe/Paris or UTC)"))
}

/// The offset in force at `from`, then each change of offset until `until`.
fn offset_changes(
    zone: &jiff::tz::TimeZone,
    from: jiff::Timestamp,
    until: jiff::Timestamp,
) -> Vec<OffsetChange> {
    let change = |at: jiff::Timestamp, offset: jiff::tz::Offset| OffsetChange {
        at: flexcord_routing::Timestamp(at.as_millisecond()),
        minutes: offset.seconds().div_euclid(60),
    };
    let mut changes = vec![change(from, zone.to_offset(from))];
    for transition in zone.following(from) {
        if transition.timestamp() > until {
            break;
        }
        let next = change(transition.timestamp(), transition.offset());
        // Transitions that only rename the zone (same offset) change nothing here.
        if changes
            .last()
            .is_some_and(|last| last.minutes != next.minutes)
        {
            changes.push(next);
        }
    }
    changes
}

/// Which shards of how many this process runs, written `"0..4 of 16"` (ids 0 to 3) or
/// `"3 of 16"`.
///
/// ```
/// use flexcord::config::ShardSpec;
/// let spec: ShardSpec = "0..4 of 16".parse().unwrap();
/// assert_eq!(spec.ids().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
/// assert!(spec.receives_dms());
/// assert!("4..2 of 16".parse::<ShardSpec>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    start: u32,
    end: u32,
    total: u32,
}

impl ShardSpec {
    /// Shard ids `start..end` of `total`.
    ///
    /// # Errors
    /// When the range is empty or reaches past `total`.
    pub fn new(start: u32, end: u32, total: u32) -> Result<Self, String> {
        if total == 0 {
            return Err("the total number of shards must be at least 1".into());
        }
        if start >= end {
            return Err(format!("the shard range {start}..{end} is empty"));
        }
        if end > total {
            return Err(format!(
                "shard ids {start}..{end} reach past the total of {total}"
            ));
        }
        Ok(Self { start, end, total })
    }

    /// The ids of the shards this process runs.
    pub fn ids(&self) -> std::ops::Range<u32> {
        self.start..self.end
    }

    /// The total number of shards of the bot.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Whether this process runs shard 0, which Discord sends every DM to.
    pub fn receives_dms(&self) -> bool {
        self.start == 0
    }
}

impl FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("expected \"<first>..<end> of <total>\" or \"<id> of <total>\", got {s:?}");
        let (range, total) = s.split_once(" of ").ok_or_else(bad)?;
        let total: u32 = total.trim().parse().map_err(|_| bad())?;
        let (start, end) = if let Some((a, b)) = range.trim().split_once("..") {
            (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            )
        } else {
            let id: u32 = range.trim().parse().map_err(|_| bad())?;
            (id, id.saturating_add(1))
        };
        Self::new(start, end, total)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{} of {}", self.start, self.end, self.total)
    }
}

/// Parses `"250ms"`, `"90s"`, `"5m"`, `"24h"`, `"2d"` or a plain number of seconds.
///
/// # Errors
/// When the text is not a number followed by an optional unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("{s:?} is not a duration like \"250ms\", \"30s\", \"5m\", \"24h\" or \"2d\"")
    })?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {s:?} (use ms, s, m, h or d)"
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

/// Every problem found in a configuration, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl ConfigError {
    /// One line per problem, each naming the key.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Raw `section.key -> text` values before validation.
#[derive(Debug, Default, Clone)]
struct Raw {
    values: BTreeMap<(String, String), String>,
    problems: Vec<String>,
}

impl Raw {
    fn from_toml(text: &str) -> Self {
        let mut raw = Raw::default();
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                raw.problems
                    .push(format!("the configuration file is not valid TOML: {e}"));
                return raw;
            }
        };
        for (section, value) in table {
            let toml::Value::Table(keys) = value else {
                raw.problems
                    .push(format!("`{section}` must be a [section] table"));
                continue;
            };
            for (key, value) in keys {
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    _ => {
                        raw.problems
                            .push(format!("{section}.{key}: must be a string or a number"));
                        continue;
                    }
                };
                raw.insert(&section, &key, text);
            }
        }
        raw
    }

    fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue; // FLEXCORD_CONFIG, FLEXCORD_LOG, FLEXCORD_CI ...
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            if !is_known(&section, &key) {
                self.problems.push(format!(
                    "{name}: no configuration key {section}.{key} (see docs/configuration.md)"
                ));
                continue;
            }
            self.values.insert((section, key), value);
        }
    }

    fn insert(&mut self, section: &str, key: &str, value: String) {
        if is_known(section, key) {
            self.values
                .insert((section.to_owned(), key.to_owned()), value);
        } else {
            self.problems.push(format!(
                "{section}.{key}: unknown key (see docs/configuration.md)"
            ));
        }
    }
}

fn is_known(section: &str, key: &str) -> bool {
    KEYS.iter().any(|(s, k, _)| *s == section && *k == key)
}

fn default_of(section: &str, key: &str) -> Option<&'static str> {
    KEYS.iter()
        .find(|(s, k, _)| *s == section && *k == key)
        .and_then(|(_, _, d)| *d)
}

/// Reads typed values out of [`Raw`], collecting problems instead of stopping.
struct Reader {
    raw: Raw,
}

impl Reader {
    /// The value, its default, or `None`; empty strings count as unset.
    fn text(&self, section: &str, key: &str) -> Option<String> {
        self.raw
            .values
            .get(&(section.to_owned(), key.to_owned()))
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .or_else(|| default_of(section, key).map(str::to_owned))
    }

    fn problem(&mut self, section: &str, key: &str, message: impl fmt::Display) {
        self.raw.problems.push(format!(
            "{section}.{key} (env {ENV_PREFIX}{}__{}): {message}",
            section.to_ascii_uppercase(),
            key.to_ascii_uppercase()
        ));
    }

    fn optional<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(section, key)?;
        match parse(text.trim()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(section, key, e);
                None
            }
        }
    }

    fn required<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.text(section, key).is_none() {
            self.problem(section, key, "missing (required)");
            return None;
        }
        self.optional(section, key, parse)
    }
}

fn sid<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    s.parse::<T>().map_err(|e| e.to_string())
}

fn snowflake(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a Discord id (a positive integer)")),
        Ok(n) => Ok(n),
    }
}

fn url_with(schemes: &'static [&'static str]) -> impl Fn(&str) -> Result<Url, String> {
    move |s| {
        let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
        if schemes.contains(&url.scheme()) {
            Ok(url)
        } else {
            Err(format!(
                "{s:?} must start with {}",
                schemes.join(":// or ") + "://"
            ))
        }
    }
}

#[allow(clippy::unnecessary_wraps)] // the shape every value parser has
fn secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

fn one_of<T: Copy>(choices: &'static [(&'static str, T)]) -> impl Fn(&str) -> Result<T, String> {
    move |s| {
        choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<_> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                format!("{s:?} is not one of {}", names.join(", "))
            })
    }
}

fn db_url(s: &str) -> Result<String, String> {
    if s.starts_with("sqlite:") || s.starts_with("postgres://") || s.starts_with("postgresql://") {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} must start with sqlite:, postgres:// or postgresql://"
        ))
    }
}

impl Config {
    /// Loads the configuration from TOML text and environment variables (`FLEXCORD_<SECTION>__<KEY>`;
    /// they win over the file). Pass `std::env::vars()` for the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] listing every unknown, missing or invalid key.
    pub fn load(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut raw = Raw::from_toml(toml_text);
        raw.apply_env(env);
        Self::validate(raw)
    }

    /// Reads `path` (if it exists) and the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or any key is wrong.
    pub fn from_file_and_env(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| ConfigError {
                problems: vec![format!("cannot read {}: {e}", p.display())],
            })?,
            None => String::new(),
        };
        Self::load(&text, std::env::vars())
    }

    #[allow(clippy::too_many_lines)] // one block per section, read top to bottom
    fn validate(raw: Raw) -> Result<Config, ConfigError> {
        let mut r = Reader { raw };

        // [discord]
        let token = r.required("discord", "token", secret);
        let application_id = r.required("discord", "application_id", snowflake);
        let guild_id = r.optional("discord", "guild_id", snowflake);
        let api_url = r.required("discord", "api_url", url_with(&["https", "http"]));
        let gateway_url = r.required("discord", "gateway_url", url_with(&["wss", "ws"]));
        if gateway_url.as_ref().is_some_and(|g| g.query().is_some()) {
            r.problem("discord", "gateway_url", "must not have a query string");
        }
        let shards = r.required("discord", "shards", str::parse::<ShardSpec>);
        let bug_channel_id = r.optional("discord", "bug_channel_id", snowflake);
        let feature_channel_id = r.optional("discord", "feature_channel_id", snowflake);
        let max_upload_bytes = r.required("discord", "max_upload_bytes", |s| {
            s.parse::<u64>()
                .map_err(|_| format!("{s:?} must be a number of bytes"))
        });

        // [twilio]
        let mode = r.required(
            "twilio",
            "mode",
            one_of(&[
                ("conversations", TwilioMode::Conversations),
                ("chat", TwilioMode::Chat),
            ]),
        );
        let account_sid = r.required("twilio", "account_sid", sid::<AccountSid>);
        let auth_token = r.required("twilio", "auth_token", secret);
        let api_key_sid = r.optional("twilio", "api_key_sid", sid::<ApiKeySid>);
        let api_key_secret = r.optional("twilio", "api_key_secret", secret);
        let has_key_sid = r.text("twilio", "api_key_sid").is_some();
        let has_key_secret = r.text("twilio", "api_key_secret").is_some();
        if has_key_sid != has_key_secret {
            let (missing, given) = if has_key_sid {
                ("api_key_secret", "api_key_sid")
            } else {
                ("api_key_sid", "api_key_secret")
            };
            r.problem(
                "twilio",
                missing,
                format!("missing (required when {given} is set)"),
            );
        }
        let chat_service_sid = r.optional("twilio", "chat_service_sid", sid::<ServiceSid>);
        let flex_flow_sid = r.optional("twilio", "flex_flow_sid", sid::<FlexFlowSid>);
        let conversations_service_sid =
            r.optional("twilio", "conversations_service_sid", sid::<ServiceSid>);
        let workspace_sid = r.optional("twilio", "workspace_sid", sid::<WorkspaceSid>);
        let workflow_sid = r.optional("twilio", "workflow_sid", sid::<WorkflowSid>);
        let studio_flow_sid = r.optional("twilio", "studio_flow_sid", sid::<FlowSid>);
        let http_urls = url_with(&["https", "http"]);
        let chat_url = r.required("twilio", "chat_url", &http_urls);
        let flex_url = r.required("twilio", "flex_url", &http_urls);
        let conversations_url = r.required("twilio", "conversations_url", &http_urls);
        let studio_url = r.required("twilio", "studio_url", &http_urls);
        let media_url = r.required("twilio", "media_url", &http_urls);

        // [server]
        let listen = r.required("server", "listen", |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?} is not an address like 0.0.0.0:8080"))
        });
        let public_url = r.required("server", "public_url", &http_urls);
        let max_body_bytes = r.required("server", "max_body_bytes", |s| match s.parse::<usize>() {
            Ok(n) if n >= 1024 => Ok(n),
            _ => Err(format!("{s:?} must be a number of bytes, at least 1024")),
        });
        let shutdown_grace = r.required("server", "shutdown_grace", parse_duration);

        // [store]
        let store_url = r.required("store", "url", db_url);

        // [outbox]
        let max_attempts = r.required("outbox", "max_attempts", |s| match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("{s:?} must be a whole number, at least 1")),
        });
        let positive = |s: &str| match parse_duration(s)? {
            d if d.is_zero() => Err(format!("{s:?} must be longer than zero")),
            d => Ok(d),
        };
        let base_backoff = r.required("outbox", "base_backoff", positive);
        let max_backoff = r.required("outbox", "max_backoff", positive);
        let lease = r.required("outbox", "lease", positive);
        if let (Some(base), Some(max)) = (base_backoff, max_backoff)
            && max < base
        {
            r.problem(
                "outbox",
                "max_backoff",
                "must not be shorter than outbox.base_backoff",
            );
        }

        // [bot]
        let explicit_route = r
            .raw
            .values
            .contains_key(&("bot".to_owned(), "route".to_owned()));
        let mut route = r.required(
            "bot",
            "route",
            one_of(&[("direct", BotRoute::Direct), ("studio", BotRoute::Studio)]),
        );
        let bot_mode = r.required(
            "bot",
            "mode",
            one_of(&[("embedded", BotMode::Embedded), ("rasa", BotMode::Rasa)]),
        );
        let rasa_url = r.optional("bot", "rasa_url", &http_urls);
        let identity = r.required("bot", "identity", |s| {
            if s.starts_with("discord:") {
                Err("must not start with discord: (that prefix names Discord users)".into())
            } else {
                Ok(s.to_owned())
            }
        });
        let webhook_secret = r.optional("bot", "webhook_secret", secret);

        // [kb]
        let kb_path = r.optional("kb", "path", |s| Ok(std::path::PathBuf::from(s)));

        // [cases]
        let backend = r.required(
            "cases",
            "backend",
            one_of(&[
                ("embedded", CasesBackend::Embedded),
                ("remote", CasesBackend::Remote),
            ]),
        );
        let cases_store_url = r.optional("cases", "store_url", db_url);
        let cases_url = r.optional("cases", "url", &http_urls);
        let cases_token = r.optional("cases", "token", secret);

        // [support]
        let hours = r.optional("support", "hours", |s| {
            SupportHours::parse(s).map_err(|e| e.to_string())
        });
        let timezone = r.required("support", "timezone", |s| {
            time_zone(s).map(|_| s.to_owned())
        });
        let agent_wait_notice = r.required("support", "agent_wait_notice", parse_duration);
        let idle_close = r.required("support", "idle_close", parse_duration);

        // Rules across keys.
        if mode == Some(TwilioMode::Chat) {
            if explicit_route && route == Some(BotRoute::Direct) {
                r.problem("bot", "route", "chat mode always uses the studio route");
            }
            route = route.map(|_| BotRoute::Studio);
            for key in ["chat_service_sid", "flex_flow_sid"] {
                if r.text("twilio", key).is_none() {
                    r.problem(
                        "twilio",
                        key,
                        "missing (required when twilio.mode = \"chat\")",
                    );
                }
            }
        }
        if mode == Some(TwilioMode::Conversations) {
            match route {
                Some(BotRoute::Direct) => {
                    for key in ["workspace_sid", "workflow_sid"] {
                        if r.text("twilio", key).is_none() {
                            r.problem(
                                "twilio",
                                key,
                                "missing (required for the hand-off with bot.route = \"direct\")",
                            );
                        }
                    }
                }
                Some(BotRoute::Studio) if r.text("twilio", "studio_flow_sid").is_none() => {
                    r.problem(
                        "twilio",
                        "studio_flow_sid",
                        "missing (required when bot.route = \"studio\")",
                    );
                }
                _ => {}
            }
        }
        if bot_mode == Some(BotMode::Rasa) && r.text("bot", "rasa_url").is_none() {
            r.problem(
                "bot",
                "rasa_url",
                "missing (required when bot.mode = \"rasa\")",
            );
        }
        if backend == Some(CasesBackend::Remote) {
            for key in ["url", "token"] {
                if r.text("cases", key).is_none() {
                    r.problem(
                        "cases",
                        key,
                        "missing (required when cases.backend = \"remote\")",
                    );
                }
            }
        }

        let problems = std::mem::take(&mut r.raw.problems);
        let build = || -> Option<Config> {
            let store_url = store_url?;
            Some(Config {
                discord: DiscordConfig {
                    token: token?,
                    application_id: application_id?,
                    guild_id,
                    api_url: api_url?,
                    gateway_url: gateway_url?,
                    shards: shards?,
                    bug_channel_id,
                    feature_channel_id,
                    max_upload_bytes: max_upload_bytes?,
                },
                twilio: TwilioConfig {
                    mode: mode?,
                    account_sid: account_sid?,
                    auth_token: auth_token?,
                    api_key: api_key_sid.zip(api_key_secret),
                    chat_service_sid,
                    flex_flow_sid,
                    conversations_service_sid,
                    workspace_sid,
                    workflow_sid,
                    studio_flow_sid,
                    chat_url: chat_url?,
                    flex_url: flex_url?,
                    conversations_url: conversations_url?,
                    studio_url: studio_url?,
                    media_url: media_url?,
                },
                server: ServerConfig {
                    listen: listen?,
                    public_url: public_url?,
                    max_body_bytes: max_body_bytes?,
                    shutdown_grace: shutdown_grace?,
                },
                bot: BotConfig {
                    route: route?,
                    mode: bot_mode?,
                    rasa_url,
                    identity: identity?,
                    webhook_secret,
                },
                kb: KbConfig { path: kb_path },
                cases: CasesConfig {
                    backend: backend?,
                    store_url: cases_store_url.unwrap_or_else(|| store_url.clone()),
                    url: cases_url,
                    token: cases_token,
                },
                store: StoreConfig { url: store_url },
                outbox: OutboxConfig {
                    max_attempts: max_attempts?,
                    base_backoff: base_backoff?,
                    max_backoff: max_backoff?,
                    lease: lease?,
                },
                support: SupportConfig {
                    hours,
                    timezone: timezone?,
                    agent_wait_notice: agent_wait_notice?,
                    idle_close: idle_close?,
                },
            })
        };
        match (problems.is_empty(), build()) {
            (true, Some(config)) => Ok(config),
            (_, _) if !problems.is_empty() => Err(ConfigError { problems }),
            _ => Err(ConfigError {
                problems: vec!["the configuration is incomplete".into()],
            }),
        }
    }

    /// A summary of the effective configuration, one `section.key = value` line per key, with
    /// secrets shown as `<redacted>` (or `<unset>`). Printed by `flexcord check-config`.
    pub fn summary(&self) -> String {
        fn opt<T: fmt::Display>(v: Option<&T>) -> String {
            v.map_or_else(|| "<unset>".to_owned(), ToString::to_string)
        }
        let d = &self.discord;
        let t = &self.twilio;
        let lines = [
            ("discord.token", d.token.to_string()),
            ("discord.application_id", d.application_id.to_string()),
            ("discord.guild_id", opt(d.guild_id.as_ref())),
            ("discord.api_url", d.api_url.to_string()),
            ("discord.gateway_url", d.gateway_url.to_string()),
            ("discord.shards", d.shards.to_string()),
            ("discord.max_upload_bytes", d.max_upload_bytes.to_string()),
            ("twilio.mode", format!("{:?}", t.mode).to_lowercase()),
            ("twilio.account_sid", t.account_sid.to_string()),
            ("twilio.auth_token", t.auth_token.to_string()),
            ("server.listen", self.server.listen.to_string()),
            ("server.public_url", self.server.public_url.to_string()),
            (
                "server.max_body_bytes",
                self.server.max_body_bytes.to_string(),
            ),
            ("store.url", redact_url(&self.store.url)),
            ("outbox.max_attempts", self.outbox.max_attempts.to_string()),
            (
                "outbox.base_backoff",
                format!("{:?}", self.outbox.base_backoff),
            ),
            (
                "outbox.max_backoff",
                format!("{:?}", self.outbox.max_backoff),
            ),
            ("outbox.lease", format!("{:?}", self.outbox.lease)),
            ("bot.route", format!("{:?}", self.bot.route).to_lowercase()),
            ("bot.mode", format!("{:?}", self.bot.mode).to_lowercase()),
            ("bot.identity", self.bot.identity.clone()),
            ("bot.webhook_secret", opt(self.bot.webhook_secret.as_ref())),
            (
                "cases.backend",
                format!("{:?}", self.cases.backend).to_lowercase(),
            ),
            ("cases.store_url", redact_url(&self.cases.store_url)),
            ("support.timezone", self.support.timezone.clone()),
        ];
        let mut out = String::new();
        for (k, v) in lines {
            out.push_str(k);
            out.push_str(" = ");
            out.push_str(&v);
            out.push('\n');
        }
        out
    }
}

/// A database URL with any password replaced by `<redacted>`.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[discord]
token = "discord-secret-token"
application_id = "100"

[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "twilio-secret-token"
workspace_sid = "WS0123456789abcdef0123456789abcdef"
workflow_sid = "WW0123456789abcdef0123456789abcdef"

[server]
public_url = "https://bridge.example.com"
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn minimal_file_gets_every_default() {
        let c = Config::load(GOOD, env(&[])).expect("valid");
        assert_eq!(c.server.max_body_bytes, 65_536);
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.twilio.mode, TwilioMode::Conversations);
        assert_eq!(c.bot.route, BotRoute::Direct);
        assert_eq!(c.bot.mode, BotMode::Embedded);
        assert_eq!(c.bot.identity, "flexcord-bot");
        assert_eq!(c.store.url, "sqlite://flexcord.db");
        assert_eq!(c.cases.store_url, "sqlite://flexcord.db");
        assert_eq!(c.cases.backend, CasesBackend::Embedded);
        assert_eq!(c.support.agent_wait_notice, Duration::from_secs(300));
        assert_eq!(c.support.idle_close, Duration::from_secs(86_400));
        assert_eq!(c.discord.shards.ids(), 0..1);
        assert_eq!(c.discord.http_proxy(), None);
        assert_eq!(c.discord.gateway_base(), "wss://gateway.discord.gg");
        assert_eq!(
            c.twilio.conversations_url.as_str(),
            "https://conversations.twilio.com/"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_SERVER__MAX_BODY_BYTES", "2048"),
                ("FLEXCORD_DISCORD__API_URL", "http://127.0.0.1:9002"),
                ("FLEXCORD_DISCORD__SHARDS", "0..2 of 4"),
                ("FLEXCORD_STORE__URL", "postgres://u:pw@db/flex"),
                ("FLEXCORD_CONFIG", "ignored.toml"),
                ("OTHER", "ignored"),
            ]),
        )
        .expect("valid");
        assert_eq!(c.server.max_body_bytes, 2048);
        assert_eq!(
            c.discord.http_proxy(),
            Some(("127.0.0.1:9002".to_owned(), true))
        );
        assert_eq!(c.discord.shards.total(), 4);
        assert_eq!(c.cases.store_url, "postgres://u:pw@db/flex");
        assert!(!c.summary().contains("pw@"), "{}", c.summary());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let text = r#"
[discord]
application_id = "not-a-number"
shards = "5..2 of 4"
colour = "blue"

[twilio]
account_sid = "XX123"
mode = "fax"

[server]
max_body_bytes = 10
"#;
        let err = Config::load(text, env(&[("FLEXCORD_SUPPORT__IDLE_CLOSE", "soon")]))
            .expect_err("invalid");
        let all = err.to_string();
        for needle in [
            "discord.token",
            "discord.application_id",
            "discord.shards",
            "discord.colour: unknown key",
            "twilio.account_sid",
            "twilio.auth_token",
            "twilio.mode",
            "server.public_url",
            "server.max_body_bytes",
            "support.idle_close",
            "FLEXCORD_SUPPORT__IDLE_CLOSE",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
        assert_eq!(err.problems().len(), 10, "{all}");
    }

    #[test]
    fn mode_and_route_rules() {
        let chat = Config::load(GOOD, env(&[("FLEXCORD_TWILIO__MODE", "chat")]))
            .expect_err("chat needs its SIDs")
            .to_string();
        assert!(chat.contains("twilio.chat_service_sid"), "{chat}");
        assert!(chat.contains("twilio.flex_flow_sid"), "{chat}");
        let c = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_TWILIO__MODE", "chat"),
                (
                    "FLEXCORD_TWILIO__CHAT_SERVICE_SID",
                    "IS0123456789abcdef0123456789abcdef",
                ),
                (
                    "FLEXCORD_TWILIO__FLEX_FLOW_SID",
                    "FO0123456789abcdef0123456789abcdef",
                ),
            ]),
        )
        .expect("valid chat");
        assert_eq!(c.bot.route, BotRoute::Studio, "chat implies studio");
        let studio = Config::load(GOOD, env(&[("FLEXCORD_BOT__ROUTE", "studio")]))
            .expect_err("studio needs a flow")
            .to_string();
        assert!(studio.contains("twilio.studio_flow_sid"), "{studio}");
        let key = Config::load(
            GOOD,
            env(&[(
                "FLEXCORD_TWILIO__API_KEY_SID",
                "SK0123456789abcdef0123456789abcdef",
            )]),
        )
        .expect_err("half an API key")
        .to_string();
        assert!(key.contains("twilio.api_key_secret"), "{key}");
        let rasa = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_BOT__MODE", "rasa"),
                ("FLEXCORD_CASES__BACKEND", "remote"),
            ]),
        )
        .expect_err("rasa and remote need URLs")
        .to_string();
        for k in ["bot.rasa_url", "cases.url", "cases.token"] {
            assert!(rasa.contains(k), "{k}: {rasa}");
        }
    }

    #[test]
    fn secrets_never_appear_in_debug_or_summary() {
        let c = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_BOT__WEBHOOK_SECRET", "bot-secret-value"),
                (
                    "FLEXCORD_TWILIO__API_KEY_SID",
                    "SK0123456789abcdef0123456789abcdef",
                ),
                ("FLEXCORD_TWILIO__API_KEY_SECRET", "api-key-secret-value"),
                ("FLEXCORD_CASES__TOKEN", "cases-token-value"),
            ]),
        )
        .expect("valid");
        let shown = format!("{c:?}\n{c:#?}\n{}", c.summary());
        for secret in [
            "discord-secret-token",
            "twilio-secret-token",
            "bot-secret-value",
            "api-key-secret-value",
            "cases-token-value",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked");
        }
        assert!(shown.contains("<redacted>"));
        assert_eq!(c.discord.token.expose(), "discord-secret-token");
    }

    #[test]
    fn invalid_toml_is_reported() {
        let err = Config::load("[discord\n", env(&[])).expect_err("bad toml");
        assert!(err.to_string().contains("not valid TOML"), "{err}");
    }

    #[test]
    fn unknown_env_key_is_reported() {
        let err = Config::load(GOOD, env(&[("FLEXCORD_SERVER__LISTNE", "x")])).expect_err("typo");
        assert!(err.to_string().contains("FLEXCORD_SERVER__LISTNE"), "{err}");
    }

    #[test]
    fn outbox_defaults_and_overrides() {
        let c = Config::load(GOOD, env(&[])).expect("valid");
        assert_eq!(c.outbox.max_attempts, 8);
        assert_eq!(c.outbox.base_backoff, Duration::from_secs(1));
        assert_eq!(c.outbox.max_backoff, Duration::from_secs(300));
        assert_eq!(c.outbox.lease, Duration::from_secs(60));
        let c = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_OUTBOX__MAX_ATTEMPTS", "3"),
                ("FLEXCORD_OUTBOX__BASE_BACKOFF", "50ms"),
                ("FLEXCORD_OUTBOX__MAX_BACKOFF", "200ms"),
                ("FLEXCORD_OUTBOX__LEASE", "2s"),
            ]),
        )
        .expect("valid");
        assert_eq!(c.outbox.max_attempts, 3);
        assert_eq!(c.outbox.base_backoff, Duration::from_millis(50));
        assert_eq!(c.outbox.max_backoff, Duration::from_millis(200));
        assert_eq!(c.outbox.lease, Duration::from_secs(2));
        assert!(
            c.summary().contains("outbox.base_backoff = 50ms"),
            "{}",
            c.summary()
        );
        let err = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_OUTBOX__MAX_ATTEMPTS", "0"),
                ("FLEXCORD_OUTBOX__BASE_BACKOFF", "2s"),
                ("FLEXCORD_OUTBOX__MAX_BACKOFF", "1s"),
                ("FLEXCORD_OUTBOX__LEASE", "0ms"),
            ]),
        )
        .unwrap_err()
        .to_string();
        for key in [
            "outbox.max_attempts (env FLEXCORD_OUTBOX__MAX_ATTEMPTS)",
            "outbox.max_backoff (env FLEXCORD_OUTBOX__MAX_BACKOFF): must not be shorter",
            "outbox.lease (env FLEXCORD_OUTBOX__LEASE)",
        ] {
            assert!(err.contains(key), "{key} in {err}");
        }
    }

    #[test]
    fn durations_hours_and_shards() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(
            parse_duration("5 weeks")
                .unwrap_err()
                .contains("ms, s, m, h or d")
        );
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!("3 of 16".parse::<ShardSpec>().unwrap().ids(), 3..4);
        assert!(!"3 of 16".parse::<ShardSpec>().unwrap().receives_dms());
        assert!("0..17 of 16".parse::<ShardSpec>().is_err());
        assert!("0..1 of 0".parse::<ShardSpec>().is_err());
    }

    /// Milliseconds of an RFC 3339 time.
    fn ms(text: &str) -> flexcord_routing::Timestamp {
        flexcord_routing::Timestamp(
            text.parse::<jiff::Timestamp>()
                .expect("an RFC 3339 time")
                .as_millisecond(),
        )
    }

    fn support(hours: &str, zone: &str) -> Result<SupportConfig, ConfigError> {
        Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_SUPPORT__HOURS", hours),
                ("FLEXCORD_SUPPORT__TIMEZONE", zone),
            ]),
        )
        .map(|c| c.support)
    }

    #[test]
    fn support_hours_are_read_by_the_routing_core() {
        let s = support("Mon-Fri 08:00-20:00, Sat-Sun 10:00-18:00", "UTC").expect("valid");
        let hours = s.hours_at(ms("2026-11-25T00:00:00Z")).expect("placed");
        // Wednesday 2026-11-25 in UTC.
        assert!(hours.is_open(ms("2026-11-25T08:00:00Z")));
        assert!(!hours.is_open(ms("2026-11-25T20:00:00Z")));
        assert!(hours.is_open(ms("2026-11-29T10:00:00Z")), "Sunday");
        // Past midnight is a range that ends the next day.
        let night = support("Sun 22:00-02:00", "UTC").expect("valid");
        let hours = night.hours_at(ms("2026-11-25T00:00:00Z")).unwrap();
        assert!(hours.is_open(ms("2026-11-30T01:00:00Z")), "Monday 01:00");
        // Unset: always open.
        let always = Config::load(GOOD, env(&[])).unwrap().support;
        assert!(always.hours.is_none());
        assert!(
            always
                .hours_at(ms("2026-11-25T03:00:00Z"))
                .unwrap()
                .is_open(ms("2026-11-25T03:00:00Z"))
        );
        let err = support("Funday 08:00-09:00", "UTC")
            .expect_err("bad day")
            .to_string();
        assert!(
            err.contains("support.hours") && err.contains("Funday"),
            "{err}"
        );
    }

    #[test]
    fn unknown_time_zone_is_a_named_problem() {
        let err = support("Mon 09:00-17:00", "Mars/Olympus_Mons")
            .expect_err("no such zone")
            .to_string();
        assert!(
            err.contains("support.timezone") && err.contains("Mars/Olympus_Mons"),
            "{err}"
        );
        assert!(err.contains("FLEXCORD_SUPPORT__TIMEZONE"), "{err}");
        for zone in ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"] {
            support("Mon 09:00-17:00", zone).unwrap_or_else(|e| panic!("{zone}: {e}"));
        }
    }

    #[test]
    fn paris_hours_follow_daylight_saving_time() {
        let s = support("Mon-Fri 09:00-17:00", "Europe/Paris").expect("valid");
        let hours = s.hours_at(ms("2026-03-20T12:00:00Z")).expect("placed");
        // Friday 2026-03-27, CET (UTC+1): 09:00 local is 08:00 UTC.
        assert!(!hours.is_open(ms("2026-03-27T07:59:00Z")));
        assert!(hours.is_open(ms("2026-03-27T08:00:00Z")));
        assert!(hours.is_open(ms("2026-03-27T15:59:00Z")));
        assert!(!hours.is_open(ms("2026-03-27T16:00:00Z")));
        // The clocks go forward on Sunday 2026-03-29 at 01:00 UTC: on Monday, CEST (UTC+2),
        // 09:00 local is 07:00 UTC.
        assert!(!hours.is_open(ms("2026-03-30T06:59:00Z")));
        assert!(hours.is_open(ms("2026-03-30T07:00:00Z")));
        assert!(!hours.is_open(ms("2026-03-30T15:00:00Z")));
        // Closed over the weekend of the change: back on Monday 09:00 local, 07:00 UTC.
        let back = hours.next_open(ms("2026-03-27T17:00:00Z"));
        assert_eq!(back, ms("2026-03-30T07:00:00Z"));
        assert_eq!(hours.describe(back), "Mon 09:00");
        // And back to CET on Sunday 2026-10-25.
        assert!(hours.is_open(ms("2026-10-26T08:00:00Z")));
        assert!(!hours.is_open(ms("2026-10-26T07:30:00Z")));
        let change = hours
            .offsets
            .iter()
            .find(|o| o.at == ms("2026-03-29T01:00:00Z"))
            .expect("the spring change");
        assert_eq!(change.minutes, 120);
    }

    #[test]
    fn offsets_cover_ten_years_from_the_start() {
        let now = ms("2026-11-25T12:00:00Z");
        let paris = support("Mon 09:00-17:00", "Europe/Paris")
            .unwrap()
            .hours_at(now)
            .unwrap();
        let first = paris.offsets.first().expect("offsets");
        assert_eq!(first.at, ms("2025-11-24T12:00:00Z"), "a year back");
        assert_eq!(first.minutes, 60, "CET then");
        let last = paris.offsets.last().unwrap();
        assert!(last.at > ms("2036-01-01T00:00:00Z"), "{last:?}");
        assert!(last.at <= ms("2036-11-25T12:00:00Z"), "{last:?}");
        // Two changes a year, alternating.
        assert!(paris.offsets.len() >= 21, "{}", paris.offsets.len());
        assert!(
            paris
                .offsets
                .windows(2)
                .all(|w| w[0].minutes != w[1].minutes)
        );
        // Without daylight saving time: one offset.
        let tokyo = support("Mon 09:00-17:00", "Asia/Tokyo")
            .unwrap()
            .hours_at(now)
            .unwrap();
        assert_eq!(tokyo.offsets.len(), 1);
        assert_eq!(tokyo.offsets[0].minutes, 540);
    }

    #[test]
    fn docs_and_example_cover_every_key() {
        let docs = include_str!("../../../docs/configuration.md");
        let example = include_str!("../../../flexcord.example.toml");
        for (section, key, default) in KEYS {
            let env = format!(
                "FLEXCORD_{}__{}",
                section.to_uppercase(),
                key.to_uppercase()
            );
            let dotted = format!("`{section}.{key}`");
            assert!(
                docs.contains(&dotted),
                "{dotted} not in docs/configuration.md"
            );
            assert!(docs.contains(&env), "{env} not in docs/configuration.md");
            if let Some(d) = default {
                assert!(
                    docs.contains(&format!("`{d}`")),
                    "default {d} of {dotted} not in docs"
                );
            }
            assert!(
                example.contains(&format!("{key} =")),
                "{key} not in flexcord.example.toml"
            );
        }
        // The example parses (its placeholders are valid).
        Config::load(example, env(&[])).expect("flexcord.example.toml is valid");
    }
}
