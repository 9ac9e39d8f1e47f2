//! Validating raw values into a [`Config`]: every key parsed, then the rules across keys,
//! every problem collected.

use std::net::SocketAddr;

use flexcord_twilio::sid::{
    AccountSid, ApiKeySid, FlexFlowSid, FlowSid, ServiceSid, WorkflowSid, WorkspaceSid,
};

use super::hours::time_zone;
use super::reader::{
    ConfigError, Raw, Reader, db_url, one_of, parse_duration, secret, sid, snowflake, url_with,
};
use super::{
    BotConfig, BotMode, BotRoute, CasesBackend, CasesConfig, Config, DiscordConfig, KbConfig,
    KbEmbeddings, OutboxConfig, ServerConfig, ShardSpec, StoreConfig, SupportConfig, SupportHours,
    TwilioConfig, TwilioMode,
};

impl Config {
    #[allow(clippy::too_many_lines)] // one block per section, read top to bottom
    pub(super) fn validate(raw: Raw) -> Result<Config, ConfigError> {
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

        let global_rate_limit =
            r.required("discord", "global_rate_limit", |s| match s.parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!(
                    "{s:?} must be a whole number of requests per second from 1 to 65535"
                )),
            });

        let ready_grace = r.required("discord", "ready_grace", parse_duration);

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
        let admin_listen = r.optional("server", "admin_listen", |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?} is not an address like 127.0.0.1:9090"))
        });
        if let (Some(listen), Some(admin)) = (listen, admin_listen)
            && admin == listen
            && admin.port() != 0
        {
            r.problem(
                "server",
                "admin_listen",
                "must differ from server.listen (leave it unset to serve both on one listener)",
            );
        }
        let public_url = r.required("server", "public_url", &http_urls);
        let max_body_bytes = r.required("server", "max_body_bytes", |s| match s.parse::<usize>() {
            Ok(n) if n >= 1024 => Ok(n),
            _ => Err(format!("{s:?} must be a number of bytes, at least 1024")),
        });
        let shutdown_grace = r.required("server", "shutdown_grace", parse_duration);

        // [store]
        let store_url = r.required("store", "url", db_url);
        let retention = r.required("store", "retention", |s| match parse_duration(s)? {
            d if d < super::MIN_RETENTION => Err(format!(
                "{s:?} must be at least 1d (Twilio retries a webhook for up to a day), and longer than any catch-up sweep looks back"
            )),
            d => Ok(d),
        });
        let housekeeping_interval =
            r.required(
                "store",
                "housekeeping_interval",
                |s| match parse_duration(s)? {
                    d if d.is_zero() => Err(format!("{s:?} must be longer than zero")),
                    d => Ok(d),
                },
            );

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
        let between = |low: usize, high: usize| {
            move |s: &str| match s.parse::<usize>() {
                Ok(n) if (low..=high).contains(&n) => Ok(n),
                _ => Err(format!("{s:?} must be a whole number from {low} to {high}")),
            }
        };
        let concurrency = r.required("outbox", "concurrency", between(1, 1024));
        let twilio_in_flight = r.required("outbox", "twilio_in_flight", between(1, 1024));
        let sweep_interval = r.required("twilio", "sweep_interval", |s| {
            parse_duration(s).map(|d| (!d.is_zero()).then_some(d))
        });
        let sweep_rate = r.required("twilio", "sweep_rate", |s| match s.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(format!("{s:?} must be a whole number from 1 to 100")),
        });
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
        let kb_watch = r.required("kb", "watch_interval", |s| {
            let d = parse_duration(s)?;
            Ok((!d.is_zero()).then_some(d))
        });
        let embeddings_url = r.optional("kb", "embeddings_url", &http_urls);
        let embeddings_model = r.optional("kb", "embeddings_model", |s| Ok(s.trim().to_owned()));
        let embeddings_key = r.optional("kb", "embeddings_key", secret);
        let longest = flexcord_kb::embeddings::MAX_QUERY_TIMEOUT;
        let embeddings_timeout =
            r.required("kb", "embeddings_timeout", |s| match parse_duration(s)? {
                d if d.is_zero() || d > longest => Err(format!(
                    "{s:?} must be longer than zero and at most {}s (the bot's time for a reply; \
                     the lexical ranking answers when it runs out)",
                    longest.as_secs()
                )),
                d => Ok(d),
            });
        let embeddings_cache = r.required("kb", "embeddings_cache", |s| {
            Ok(std::path::PathBuf::from(s))
        });
        let has_url = r.text("kb", "embeddings_url").is_some();
        let has_model = r.text("kb", "embeddings_model").is_some();
        if has_url && !has_model {
            r.problem(
                "kb",
                "embeddings_model",
                "missing (required when kb.embeddings_url is set: the model the endpoint serves)",
            );
        }
        if has_model && !has_url {
            r.problem(
                "kb",
                "embeddings_url",
                "missing (required when kb.embeddings_model is set)",
            );
        }
        if !has_url && r.text("kb", "embeddings_key").is_some() {
            r.problem(
                "kb",
                "embeddings_key",
                "set but kb.embeddings_url is not (semantic retrieval is off)",
            );
        }

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
        let session_ttl = r.required("cases", "session_ttl", |s| match parse_duration(s)? {
            d if d < std::time::Duration::from_secs(60) => {
                Err(format!("{s:?} must be at least a minute"))
            }
            d => Ok(d),
        });
        let close_after = r.required("cases", "close_after", |s| match parse_duration(s)? {
            d if d.is_zero() => Err(format!("{s:?} must be longer than zero")),
            d => Ok(d),
        });
        let client_ip_header = r.optional("cases", "client_ip_header", |s| {
            axum::http::HeaderName::from_bytes(s.trim().as_bytes())
                .map(|_| s.trim().to_owned())
                .map_err(|_| format!("{s:?} is not an HTTP header name"))
        });
        let oidc_issuer = r.optional("cases", "oidc_issuer", |s| {
            let url = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
            let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if url.scheme() == "https" || (url.scheme() == "http" && local) {
                Ok(url)
            } else {
                Err(format!("{s:?} must be an https:// URL"))
            }
        });
        let oidc_client_id = r.optional("cases", "oidc_client_id", |s| Ok(s.trim().to_owned()));
        let oidc_client_secret = r.optional("cases", "oidc_client_secret", secret);
        let oidc_keys = ["oidc_issuer", "oidc_client_id", "oidc_client_secret"];
        let oidc_given: Vec<&str> = oidc_keys
            .iter()
            .copied()
            .filter(|k| r.text("cases", k).is_some())
            .collect();
        if !oidc_given.is_empty() {
            for key in oidc_keys {
                if !oidc_given.contains(&key) {
                    r.problem(
                        "cases",
                        key,
                        "missing (single sign-on needs cases.oidc_issuer, cases.oidc_client_id and cases.oidc_client_secret)",
                    );
                }
            }
        }

        // [support]
        let hours = r.optional("support", "hours", |s| {
            SupportHours::parse(s).map_err(|e| e.to_string())
        });
        let timezone = r.required("support", "timezone", |s| {
            time_zone(s).map(|_| s.to_owned())
        });
        let agent_wait_notice = r.required("support", "agent_wait_notice", parse_duration);
        let idle_close = r.required("support", "idle_close", parse_duration);

        // [community], [feeds.<name>]
        let community = super::community::read(&mut r);

        // Rules across keys.
        if mode == Some(TwilioMode::Chat) {
            if explicit_route && route == Some(BotRoute::Direct) {
                r.problem("bot", "route", "chat mode always uses the studio route");
            }
            route = route.map(|_| BotRoute::Studio);
        }
        if let (Some(mode), Some(route)) = (mode, route) {
            let requirement = route_requirements(mode, route);
            for (section, key) in requirement.keys {
                if r.text(section, key).is_none() {
                    r.problem(
                        section,
                        key,
                        format!(
                            "missing (required when {}: {})",
                            requirement.when, requirement.why
                        ),
                    );
                }
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
                    global_rate_limit: global_rate_limit?,
                    ready_grace: ready_grace?,
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
                    sweep_interval: sweep_interval?,
                    sweep_rate: sweep_rate?,
                },
                server: ServerConfig {
                    listen: listen?,
                    admin_listen,
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
                kb: KbConfig {
                    path: kb_path,
                    watch_interval: kb_watch?,
                    embeddings: match (embeddings_url, embeddings_model) {
                        (Some(url), Some(model)) => Some(KbEmbeddings {
                            url,
                            model,
                            key: embeddings_key,
                            timeout: embeddings_timeout?,
                            cache: embeddings_cache?,
                        }),
                        _ => None,
                    },
                },
                cases: CasesConfig {
                    backend: backend?,
                    store_url: cases_store_url.unwrap_or_else(|| store_url.clone()),
                    url: cases_url,
                    token: cases_token,
                    session_ttl: session_ttl?,
                    close_after: close_after?,
                    client_ip_header,
                    oidc: match (oidc_issuer, oidc_client_id, oidc_client_secret) {
                        (Some(issuer), Some(client_id), Some(client_secret)) => {
                            Some(super::OidcSettings {
                                issuer,
                                client_id,
                                client_secret,
                            })
                        }
                        _ => None,
                    },
                },
                store: StoreConfig {
                    url: store_url,
                    retention: retention?,
                    housekeeping_interval: housekeeping_interval?,
                },
                outbox: OutboxConfig {
                    max_attempts: max_attempts?,
                    base_backoff: base_backoff?,
                    max_backoff: max_backoff?,
                    lease: lease?,
                    concurrency: concurrency?,
                    twilio_in_flight: twilio_in_flight?,
                },
                support: SupportConfig {
                    hours,
                    timezone: timezone?,
                    agent_wait_notice: agent_wait_notice?,
                    idle_close: idle_close?,
                },
                community: community?,
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
}

/// What one Twilio mode and bot route needs beyond the keys every configuration needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRequirement {
    /// The combination, as the problem names it (`twilio.mode = "chat"`).
    pub when: &'static str,
    /// The keys, as `(section, key)`.
    pub keys: &'static [(&'static str, &'static str)],
    /// What uses them.
    pub why: &'static str,
}

/// The keys `mode` with `route` needs (the table in `docs/configuration.md`):
///
/// - Conversations, direct route: the hand-off creates a Flex interaction, which needs the
///   `TaskRouter` workspace and workflow.
/// - Conversations, studio route: the Studio flow attached to each conversation calls
///   `POST /twilio/bot` (authenticated with the shared secret, as Studio's requests are not
///   known to be signed), and the bridge still hands off through a Flex interaction
///   (decision 0014), so the workspace and workflow too.
/// - Chat (always the studio route): the Chat service and the Flex Flow whose Studio
///   integration runs the flow, which hands off itself; the shared secret for its bot requests.
pub fn route_requirements(mode: TwilioMode, route: BotRoute) -> RouteRequirement {
    match (mode, route) {
        (TwilioMode::Conversations, BotRoute::Direct) => RouteRequirement {
            when: "twilio.mode = \"conversations\" and bot.route = \"direct\"",
            keys: &[("twilio", "workspace_sid"), ("twilio", "workflow_sid")],
            why: "the hand-off creates a Flex interaction",
        },
        (TwilioMode::Conversations, BotRoute::Studio) => RouteRequirement {
            when: "twilio.mode = \"conversations\" and bot.route = \"studio\"",
            keys: &[
                ("twilio", "studio_flow_sid"),
                ("twilio", "workspace_sid"),
                ("twilio", "workflow_sid"),
                ("bot", "webhook_secret"),
            ],
            why: "each conversation gets the Studio flow, whose bot requests carry the secret, and the hand-off creates a Flex interaction",
        },
        (TwilioMode::Chat, _) => RouteRequirement {
            when: "twilio.mode = \"chat\"",
            keys: &[
                ("twilio", "chat_service_sid"),
                ("twilio", "flex_flow_sid"),
                ("bot", "webhook_secret"),
            ],
            why: "channels are made through the Flex Flow, whose Studio flow hands off and sends bot requests carrying the secret",
        },
    }
}
