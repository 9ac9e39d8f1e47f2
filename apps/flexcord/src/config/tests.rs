//! Tests of loading, validating and summarising the configuration.

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
    assert_eq!(c.kb.path, None);
    assert_eq!(c.kb.watch_interval, Some(Duration::from_secs(2)));
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
    let err =
        Config::load(text, env(&[("FLEXCORD_SUPPORT__IDLE_CLOSE", "soon")])).expect_err("invalid");
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

/// The keys of every combination: `(section, key, value)`.
const ROUTE_KEYS: &[(&str, &str, &str)] = &[
    (
        "twilio",
        "workspace_sid",
        "WS0123456789abcdef0123456789abcdef",
    ),
    (
        "twilio",
        "workflow_sid",
        "WW0123456789abcdef0123456789abcdef",
    ),
    (
        "twilio",
        "studio_flow_sid",
        "FW0123456789abcdef0123456789abcdef",
    ),
    (
        "twilio",
        "chat_service_sid",
        "IS0123456789abcdef0123456789abcdef",
    ),
    (
        "twilio",
        "flex_flow_sid",
        "FO0123456789abcdef0123456789abcdef",
    ),
    ("bot", "webhook_secret", "studio-shared-secret"),
];

/// The configuration file without any key a mode or route may need.
const BARE: &str = r#"
[discord]
token = "discord-secret-token"
application_id = "100"

[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "twilio-secret-token"

[server]
public_url = "https://bridge.example.com"
"#;

fn env_key(section: &str, key: &str) -> String {
    format!(
        "FLEXCORD_{}__{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

#[test]
fn each_mode_and_route_requires_what_it_uses() {
    let combos = [
        (
            "conversations",
            "direct",
            TwilioMode::Conversations,
            BotRoute::Direct,
        ),
        (
            "conversations",
            "studio",
            TwilioMode::Conversations,
            BotRoute::Studio,
        ),
        ("chat", "studio", TwilioMode::Chat, BotRoute::Studio),
    ];
    for (mode_name, route_name, mode, route) in combos {
        let selector = [
            ("FLEXCORD_TWILIO__MODE".to_owned(), mode_name.to_owned()),
            ("FLEXCORD_BOT__ROUTE".to_owned(), route_name.to_owned()),
        ];
        let needed = route_requirements(mode, route).keys;
        // Nothing set: exactly the combination's keys are named, each with its reason.
        let bare = Config::load(BARE, selector.clone()).expect_err("keys are missing");
        let mut named: Vec<(&str, &str)> = ROUTE_KEYS
            .iter()
            .filter(|(s, k, _)| {
                bare.problems()
                    .iter()
                    .any(|p| p.starts_with(&format!("{s}.{k} ")))
            })
            .map(|(s, k, _)| (*s, *k))
            .collect();
        named.sort_unstable();
        let mut expected = needed.to_vec();
        expected.sort_unstable();
        assert_eq!(named, expected, "{mode_name}/{route_name}: {bare}");
        assert_eq!(bare.problems().len(), needed.len(), "{bare}");
        assert!(
            bare.problems().iter().all(|p| p.contains("required when")),
            "{bare}"
        );
        // Exactly those keys set: valid.
        let with_needed: Vec<(String, String)> = selector
            .iter()
            .cloned()
            .chain(
                ROUTE_KEYS
                    .iter()
                    .filter(|(s, k, _)| needed.contains(&(*s, *k)))
                    .map(|(s, k, v)| (env_key(s, k), (*v).to_owned())),
            )
            .collect();
        let c = Config::load(BARE, with_needed)
            .unwrap_or_else(|e| panic!("{mode_name}/{route_name}: {e}"));
        assert_eq!((c.twilio.mode, c.bot.route), (mode, route));
        // Each one left out is named.
        for left_out in needed {
            let env: Vec<(String, String)> = selector
                .iter()
                .cloned()
                .chain(
                    ROUTE_KEYS
                        .iter()
                        .filter(|(s, k, _)| needed.contains(&(*s, *k)) && (*s, *k) != *left_out)
                        .map(|(s, k, v)| (env_key(s, k), (*v).to_owned())),
                )
                .collect();
            let e = Config::load(BARE, env).expect_err("one key left out");
            assert_eq!(e.problems().len(), 1, "{e}");
            assert!(
                e.problems()[0].starts_with(&format!("{}.{} ", left_out.0, left_out.1)),
                "{e}"
            );
        }
    }
    // Chat mode with a route set to direct is named; without a route it is the studio route.
    let direct_chat = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_TWILIO__MODE", "chat"),
            ("FLEXCORD_BOT__ROUTE", "direct"),
        ]),
    )
    .expect_err("chat is always studio")
    .to_string();
    assert!(
        direct_chat.contains("chat mode always uses the studio route"),
        "{direct_chat}"
    );
    let chat: Vec<(String, String)> =
        std::iter::once(("FLEXCORD_TWILIO__MODE".to_owned(), "chat".to_owned()))
            .chain(
                ROUTE_KEYS
                    .iter()
                    .map(|(s, k, v)| (env_key(s, k), (*v).to_owned())),
            )
            .collect();
    let c = Config::load(BARE, chat).expect("valid chat");
    assert_eq!(c.bot.route, BotRoute::Studio, "chat implies studio");
}

#[test]
fn other_rules_across_keys() {
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
    assert_eq!(c.outbox.concurrency, 32);
    assert_eq!(c.outbox.twilio_in_flight, 16);
    assert_eq!(c.discord.global_rate_limit, 50);
    let c = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_OUTBOX__MAX_ATTEMPTS", "3"),
            ("FLEXCORD_OUTBOX__BASE_BACKOFF", "50ms"),
            ("FLEXCORD_OUTBOX__MAX_BACKOFF", "200ms"),
            ("FLEXCORD_OUTBOX__LEASE", "2s"),
            ("FLEXCORD_OUTBOX__CONCURRENCY", "4"),
            ("FLEXCORD_OUTBOX__TWILIO_IN_FLIGHT", "2"),
            ("FLEXCORD_DISCORD__GLOBAL_RATE_LIMIT", "500"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.outbox.concurrency, 4);
    assert_eq!(c.outbox.twilio_in_flight, 2);
    assert_eq!(c.discord.global_rate_limit, 500);
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
            ("FLEXCORD_OUTBOX__CONCURRENCY", "0"),
            ("FLEXCORD_OUTBOX__TWILIO_IN_FLIGHT", "many"),
            ("FLEXCORD_DISCORD__GLOBAL_RATE_LIMIT", "0"),
        ]),
    )
    .unwrap_err()
    .to_string();
    for key in [
        "outbox.max_attempts (env FLEXCORD_OUTBOX__MAX_ATTEMPTS)",
        "outbox.max_backoff (env FLEXCORD_OUTBOX__MAX_BACKOFF): must not be shorter",
        "outbox.lease (env FLEXCORD_OUTBOX__LEASE)",
        "outbox.concurrency (env FLEXCORD_OUTBOX__CONCURRENCY): \"0\" must be a whole number from 1 to 1024",
        "outbox.twilio_in_flight (env FLEXCORD_OUTBOX__TWILIO_IN_FLIGHT)",
        "discord.global_rate_limit (env FLEXCORD_DISCORD__GLOBAL_RATE_LIMIT)",
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
        parse_duration("5 fortnights")
            .unwrap_err()
            .contains("is not a duration like")
    );
    assert!(parse_duration("").is_err());
    assert!(parse_duration("-5s").is_err());
    assert!(parse_duration("99999999999999999999").is_err());
    // kb.watch_interval: "0s" turns the watch off, a bad value is named
    let off = Config::load(GOOD, env(&[("FLEXCORD_KB__WATCH_INTERVAL", "0s")])).expect("valid");
    assert_eq!(off.kb.watch_interval, None);
    let slow = Config::load(GOOD, env(&[("FLEXCORD_KB__WATCH_INTERVAL", "1m")])).expect("valid");
    assert_eq!(slow.kb.watch_interval, Some(Duration::from_secs(60)));
    let bad =
        Config::load(GOOD, env(&[("FLEXCORD_KB__WATCH_INTERVAL", "often")])).expect_err("invalid");
    assert!(bad.to_string().contains("kb.watch_interval"), "{bad}");
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
    let docs = include_str!("../../../../docs/configuration.md");
    let example = include_str!("../../../../flexcord.example.toml");
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
