//! The configuration: a TOML file plus `FLEXCORD_<SECTION>__<KEY>` environment overrides.
//!
//! Every key, its default and its meaning are listed in `docs/configuration.md` ([`KEYS`] is
//! the list). Loading never stops at the first problem: [`Config::load`] returns every missing,
//! unknown or invalid key at once in [`ConfigError`], so `flexcord check-config` can name them
//! all. What each Twilio mode and bot route needs is [`route_requirements`].
//!
//! Secrets (`discord.token`, `twilio.auth_token`, `twilio.api_key_secret`,
//! `bot.webhook_secret`, `cases.token`, `kb.embeddings_key`) are held in [`Secret`] and never
//! appear in `Debug`.

mod community;
mod hours;
mod keys;
mod reader;
mod shards;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use flexcord_routing::{BotRoute, SupportHours, TwilioMode};
use flexcord_twilio::sid::{
    AccountSid, ApiKeySid, FlexFlowSid, FlowSid, ServiceSid, WorkflowSid, WorkspaceSid,
};
use url::Url;

pub use community::{CommunityConfig, FEED_KEYS, FeedSettings, GuildNames, is_feed_name};
pub use hours::{OFFSET_DAYS_AHEAD, OFFSET_DAYS_BEHIND};
pub use keys::{ENV_PREFIX, FALLBACKS, KEYS};
use reader::Raw;
pub use reader::{ConfigError, format_duration, parse_duration};
pub use shards::ShardSpec;
pub use validate::{RouteRequirement, route_requirements};

use crate::secret::Secret;

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
    /// `[community]` and `[feeds.<name>]`.
    pub community: CommunityConfig,
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
    /// Requests per second the bot token may make across all of Discord's routes (Discord's
    /// global limit: 50, unless Discord raised it for this bot). The REST client keeps to it
    /// and to every route's bucket on its own.
    pub global_rate_limit: u16,
    /// How long a shard of this process may be without a gateway session (reconnecting, or
    /// connecting for the first time) before `/readyz` fails.
    pub ready_grace: Duration,
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
    /// How often every open conversation is checked for Twilio messages no webhook brought
    /// (also once at start); `None` (`0s`) turns the periodic sweep off.
    pub sweep_interval: Option<Duration>,
    /// How many conversations the catch-up sweeps (Twilio's and Discord's) look at per second,
    /// to stay inside the upstreams' rate limits.
    pub sweep_rate: u32,
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
    /// Address of the separate admin listener (`/metrics`, `/healthz`, `/readyz`); `None`
    /// serves them on `listen`.
    pub admin_listen: Option<SocketAddr>,
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
    /// How long processed-event keys (what makes a repeated webhook or message a no-op) and
    /// finished outbox rows are kept; older ones are pruned. At least [`MIN_RETENTION`], and
    /// longer than any catch-up sweep looks back.
    pub retention: Duration,
    /// How often the app prunes (`retention`) and closes quiet cases (`cases.close_after`).
    pub housekeeping_interval: Duration,
}

/// The shortest `store.retention`: Twilio retries a webhook for up to a day, and a processed
/// key pruned before the last retry would let that retry through twice.
pub const MIN_RETENTION: Duration = Duration::from_secs(24 * 3600);

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
    /// How many conversations' deliveries run at once (each conversation's in order).
    pub concurrency: usize,
    /// How many Twilio requests may be in flight at once (Twilio limits concurrent requests
    /// per account and answers 429 beyond them).
    pub twilio_in_flight: usize,
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
    /// How often the folder is checked for changes (a change is loaded once it has settled
    /// for one interval); `None` (`"0s"`) turns the watch off. SIGHUP reloads either way.
    pub watch_interval: Option<std::time::Duration>,
    /// Semantic retrieval over an embeddings endpoint; `None` (the default) keeps the lexical
    /// search alone.
    pub embeddings: Option<KbEmbeddings>,
}

impl KbConfig {
    /// The `kb.embeddings_*` lines of [`Config::summary`] (the key redacted).
    fn summary_lines(&self) -> [(&'static str, String); 3] {
        let e = self.embeddings.as_ref();
        let unset = || "<unset>".to_owned();
        [
            (
                "kb.embeddings_url",
                e.map_or_else(unset, |e| redact_url(e.url.as_str())),
            ),
            (
                "kb.embeddings_model",
                e.map_or_else(unset, |e| e.model.clone()),
            ),
            (
                "kb.embeddings_key",
                e.and_then(|e| e.key.as_ref())
                    .map_or_else(unset, ToString::to_string),
            ),
        ]
    }
}

/// `kb.embeddings_*`: an OpenAI-compatible embeddings endpoint for semantic retrieval.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KbEmbeddings {
    /// The endpoint (`…/v1/embeddings`) or its base.
    pub url: Url,
    /// The model the endpoint serves.
    pub model: String,
    /// Bearer token, when the endpoint wants one (`FLEXCORD_KB__EMBEDDINGS_KEY`).
    pub key: Option<Secret>,
    /// Time allowed for a message's vector before the lexical ranking answers alone.
    pub timeout: Duration,
    /// Folder of the article vector cache.
    pub cache: std::path::PathBuf,
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
    /// Bearer token for the cases API: the integration `default` of the embedded API, the
    /// bridge's token for a remote one.
    pub token: Option<Secret>,
    /// How long an agent's session on the case pages lasts.
    pub session_ttl: Duration,
    /// A resolved case nobody reopened for this long is closed (embedded cases only; decision
    /// 0003).
    pub close_after: Duration,
    /// Behind a reverse proxy: the header holding the client's address (failed sign-ins are
    /// limited per address).
    pub client_ip_header: Option<String>,
    /// Single sign-on on the case pages, when configured.
    pub oidc: Option<OidcSettings>,
}

/// `cases.oidc_*`: the single sign-on provider (OIDC) agents may sign in with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OidcSettings {
    /// The issuer URL.
    pub issuer: Url,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
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

    /// A summary of the effective configuration, one `section.key = value` line per key, with
    /// secrets shown as `<redacted>` (or `<unset>`). Printed by `flexcord check-config`.
    pub fn summary(&self) -> String {
        fn opt<T: fmt::Display>(v: Option<&T>) -> String {
            v.map_or_else(|| "<unset>".to_owned(), ToString::to_string)
        }
        let (d, t, srv, o) = (&self.discord, &self.twilio, &self.server, &self.outbox);
        let sweep = t
            .sweep_interval
            .map_or_else(|| "0s".into(), format_duration);
        let lines = [
            ("discord.token", d.token.to_string()),
            ("discord.application_id", d.application_id.to_string()),
            ("discord.guild_id", opt(d.guild_id.as_ref())),
            ("discord.api_url", d.api_url.to_string()),
            ("discord.gateway_url", d.gateway_url.to_string()),
            ("discord.shards", d.shards.to_string()),
            ("discord.max_upload_bytes", d.max_upload_bytes.to_string()),
            ("discord.global_rate_limit", d.global_rate_limit.to_string()),
            ("discord.ready_grace", format_duration(d.ready_grace)),
            ("twilio.mode", format!("{:?}", t.mode).to_lowercase()),
            ("twilio.account_sid", t.account_sid.to_string()),
            ("twilio.auth_token", t.auth_token.to_string()),
            ("twilio.sweep_interval", sweep),
            ("twilio.sweep_rate", t.sweep_rate.to_string()),
            ("server.listen", srv.listen.to_string()),
            ("server.admin_listen", opt(srv.admin_listen.as_ref())),
            ("server.public_url", srv.public_url.to_string()),
            ("server.max_body_bytes", srv.max_body_bytes.to_string()),
            ("server.shutdown_grace", format_duration(srv.shutdown_grace)),
            ("store.url", redact_url(&self.store.url)),
            ("store.retention", format_duration(self.store.retention)),
            (
                "store.housekeeping_interval",
                format_duration(self.store.housekeeping_interval),
            ),
            ("outbox.max_attempts", o.max_attempts.to_string()),
            ("outbox.base_backoff", format_duration(o.base_backoff)),
            ("outbox.max_backoff", format_duration(o.max_backoff)),
            ("outbox.lease", format_duration(o.lease)),
            ("outbox.concurrency", o.concurrency.to_string()),
            ("outbox.twilio_in_flight", o.twilio_in_flight.to_string()),
            ("bot.route", format!("{:?}", self.bot.route).to_lowercase()),
            ("bot.mode", format!("{:?}", self.bot.mode).to_lowercase()),
            ("bot.identity", self.bot.identity.clone()),
            ("bot.webhook_secret", opt(self.bot.webhook_secret.as_ref())),
            (
                "cases.backend",
                format!("{:?}", self.cases.backend).to_lowercase(),
            ),
            ("cases.store_url", redact_url(&self.cases.store_url)),
            ("cases.session_ttl", format!("{:?}", self.cases.session_ttl)),
            ("cases.close_after", format_duration(self.cases.close_after)),
            (
                "cases.oidc_issuer",
                opt(self.cases.oidc.as_ref().map(|o| &o.issuer)),
            ),
            ("support.timezone", self.support.timezone.clone()),
            (
                "community.announcements_channel_id",
                opt(self.community.announcements_channel_id.as_ref()),
            ),
            (
                "community.staff_role_id",
                opt(self.community.staff_role_id.as_ref()),
            ),
            (
                "community.feed_interval",
                format_duration(self.community.feed_interval),
            ),
            (
                "feeds",
                self.community
                    .feeds
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ];
        let mut out = String::new();
        for (k, v) in lines.into_iter().chain(self.kb.summary_lines()) {
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
mod community_tests;
#[cfg(test)]
mod env_tests;
#[cfg(test)]
mod tests;
