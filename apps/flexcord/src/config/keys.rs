//! Every configuration key, its default, and how environment variables name them.

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
    ("discord", "global_rate_limit", Some("50")),
    ("discord", "ready_grace", Some("30s")),
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
    ("twilio", "sweep_interval", Some("5m")),
    ("twilio", "sweep_rate", Some("5")),
    ("server", "listen", Some("0.0.0.0:8080")),
    ("server", "admin_listen", None),
    ("server", "public_url", None),
    ("server", "max_body_bytes", Some("65536")),
    ("server", "shutdown_grace", Some("10s")),
    ("store", "url", Some("sqlite://flexcord.db")),
    ("store", "retention", Some("7d")),
    ("store", "housekeeping_interval", Some("10m")),
    ("outbox", "max_attempts", Some("8")),
    ("outbox", "base_backoff", Some("1s")),
    ("outbox", "max_backoff", Some("5m")),
    ("outbox", "lease", Some("60s")),
    ("outbox", "concurrency", Some("32")),
    ("outbox", "twilio_in_flight", Some("16")),
    ("bot", "route", Some("direct")),
    ("bot", "mode", Some("embedded")),
    ("bot", "rasa_url", None),
    ("bot", "identity", Some("flexcord-bot")),
    ("bot", "webhook_secret", None),
    ("kb", "path", None),
    ("kb", "watch_interval", Some("2s")),
    ("kb", "embeddings_url", None),
    ("kb", "embeddings_model", None),
    ("kb", "embeddings_key", None),
    ("kb", "embeddings_timeout", Some("1s")),
    ("kb", "embeddings_cache", Some("kb-embeddings")),
    ("cases", "backend", Some("embedded")),
    ("cases", "store_url", None),
    ("cases", "url", None),
    ("cases", "token", None),
    ("cases", "session_ttl", Some("12h")),
    ("cases", "close_after", Some("7d")),
    ("cases", "client_ip_header", None),
    ("cases", "oidc_issuer", None),
    ("cases", "oidc_client_id", None),
    ("cases", "oidc_client_secret", None),
    ("support", "hours", None),
    ("support", "timezone", Some("UTC")),
    ("support", "agent_wait_notice", Some("5m")),
    ("support", "idle_close", Some("24h")),
    ("community", "announcements_channel_id", None),
    ("community", "customer_service_channel_id", None),
    ("community", "staff_role_id", None),
    ("community", "category_name", Some("Community")),
    ("community", "announcements_name", Some("announcements")),
    (
        "community",
        "customer_service_name",
        Some("customer-service"),
    ),
    ("community", "bug_report_name", Some("bug-report")),
    ("community", "feature_request_name", Some("feature-request")),
    ("community", "staff_role_name", Some("Staff")),
    ("community", "feed_interval", Some("5m")),
    ("community", "feed_max_age", Some("2d")),
    ("community", "feed_max_backoff", Some("1h")),
    ("community", "feed_timeout", Some("20s")),
];

/// The conventional variables read when a key is set nowhere else, as
/// `(variable, section, key)`: what Discord and Twilio tooling already exports.
pub const FALLBACKS: &[(&str, &str, &str)] = &[
    ("DISCORD_TOKEN", "discord", "token"),
    ("TWILIO_ACCOUNT_SID", "twilio", "account_sid"),
    ("TWILIO_AUTH_TOKEN", "twilio", "auth_token"),
];

/// Whether `section.key` is a configuration key (the keys of a feed are `feeds.<name>.<key>`,
/// see [`super::community::FEED_KEYS`]).
pub(super) fn is_known(section: &str, key: &str) -> bool {
    KEYS.iter().any(|(s, k, _)| *s == section && *k == key)
        || (section == "feeds" && super::community::is_feed_key(key))
}

/// The default of `section.key`, if it has one.
pub(super) fn default_of(section: &str, key: &str) -> Option<&'static str> {
    KEYS.iter()
        .find(|(s, k, _)| *s == section && *k == key)
        .and_then(|(_, _, d)| *d)
}
