//! Tests of durations, the admin listener, `*_FILE` variables, the conventional fallbacks and
//! the embeddings keys.

use super::*;

/// The minimal valid configuration (as in `tests.rs`).
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
fn durations_keep_every_form_accepted_before_and_take_humantime() {
    // What the configuration accepted before humantime: a number and one unit, or seconds.
    for (text, want) in [
        ("250ms", Duration::from_millis(250)),
        ("30s", Duration::from_secs(30)),
        ("5m", Duration::from_secs(300)),
        ("24h", Duration::from_secs(86_400)),
        ("2d", Duration::from_secs(172_800)),
        ("90", Duration::from_secs(90)),
        (" 10s ", Duration::from_secs(10)),
        ("5 m", Duration::from_secs(300)),
        ("0", Duration::ZERO),
        // humantime's notation on top.
        ("1h 30m", Duration::from_secs(5_400)),
        ("1w", Duration::from_secs(604_800)),
        ("5min", Duration::from_secs(300)),
        ("2 hours", Duration::from_secs(7_200)),
    ] {
        assert_eq!(parse_duration(text), Ok(want), "{text:?}");
    }
    for (d, text) in [
        (Duration::from_millis(250), "250ms"),
        (Duration::from_secs(5_400), "1h 30m"),
        (Duration::from_secs(86_400), "1day"),
    ] {
        assert_eq!(format_duration(d), text);
        assert_eq!(parse_duration(text), Ok(d), "{text} reads back");
    }
    let c = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_SUPPORT__IDLE_CLOSE", "1h 30m"),
            ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "15s"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.support.idle_close, Duration::from_secs(5_400));
    assert!(
        c.summary().contains("server.shutdown_grace = 15s\n"),
        "{}",
        c.summary()
    );
    let err = Config::load(GOOD, env(&[("FLEXCORD_OUTBOX__LEASE", "soon")])).unwrap_err();
    assert!(
        err.to_string()
            .contains("outbox.lease (env FLEXCORD_OUTBOX__LEASE): \"soon\" is not a duration"),
        "{err}"
    );
}

#[test]
fn admin_listen_is_off_by_default_and_must_differ_from_listen() {
    let c = Config::load(GOOD, env(&[])).expect("valid");
    assert_eq!(c.server.admin_listen, None);
    assert!(
        c.summary().contains("server.admin_listen = <unset>\n"),
        "{}",
        c.summary()
    );
    let c = Config::load(
        GOOD,
        env(&[("FLEXCORD_SERVER__ADMIN_LISTEN", "127.0.0.1:9090")]),
    )
    .expect("valid");
    assert_eq!(
        c.server.admin_listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9090")
    );
    // Both on port 0 is fine: each listener gets its own free port.
    let c = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_SERVER__LISTEN", "127.0.0.1:0"),
            ("FLEXCORD_SERVER__ADMIN_LISTEN", "127.0.0.1:0"),
        ]),
    )
    .expect("valid");
    assert!(c.server.admin_listen.is_some());
    let err = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_SERVER__LISTEN", "0.0.0.0:8080"),
            ("FLEXCORD_SERVER__ADMIN_LISTEN", "0.0.0.0:8080"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("server.admin_listen (env FLEXCORD_SERVER__ADMIN_LISTEN): must differ"),
        "{err}"
    );
    let err = Config::load(GOOD, env(&[("FLEXCORD_SERVER__ADMIN_LISTEN", "metrics")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"metrics\" is not an address"), "{err}");
}

/// The minimal configuration without its secrets, which the tests below supply otherwise.
const GOOD_WITHOUT_SECRETS: &str = r#"
[discord]
application_id = "100"

[twilio]
workspace_sid = "WS0123456789abcdef0123456789abcdef"
workflow_sid = "WW0123456789abcdef0123456789abcdef"

[server]
public_url = "https://bridge.example.com"
"#;

#[test]
fn conventional_variables_fill_keys_set_nowhere_else() {
    let fallbacks = [
        ("DISCORD_TOKEN", "from-discord-token"),
        ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
        ("TWILIO_AUTH_TOKEN", "from-twilio-auth-token"),
    ];
    let c = Config::load(GOOD_WITHOUT_SECRETS, env(&fallbacks)).expect("valid");
    assert_eq!(c.discord.token.expose(), "from-discord-token");
    assert_eq!(c.twilio.auth_token.expose(), "from-twilio-auth-token");
    assert_eq!(
        c.twilio.account_sid.to_string(),
        "AC0123456789abcdef0123456789abcdef"
    );
    // The file and FLEXCORD_* win over them.
    let c = Config::load(
        GOOD,
        env(&[
            ("DISCORD_TOKEN", "from-discord-token"),
            ("TWILIO_AUTH_TOKEN", "from-twilio-auth-token"),
            ("FLEXCORD_TWILIO__AUTH_TOKEN", "from-flexcord-variable"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.discord.token.expose(), "discord-secret-token");
    assert_eq!(c.twilio.auth_token.expose(), "from-flexcord-variable");
    // Empty counts as unset; a missing key names the fallback too.
    let err = Config::load(GOOD_WITHOUT_SECRETS, env(&[("DISCORD_TOKEN", " ")]))
        .unwrap_err()
        .to_string();
    for want in [
        "discord.token (env FLEXCORD_DISCORD__TOKEN or DISCORD_TOKEN): missing",
        "twilio.account_sid (env FLEXCORD_TWILIO__ACCOUNT_SID or TWILIO_ACCOUNT_SID): missing",
        "twilio.auth_token (env FLEXCORD_TWILIO__AUTH_TOKEN or TWILIO_AUTH_TOKEN): missing",
    ] {
        assert!(err.contains(want), "{want} in {err}");
    }
}

#[test]
fn file_variants_read_secrets_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let token = write("discord_token", "token-from-a-file\n");
    let auth = write("auth_token", "auth-from-a-file\r\n");
    let db = write("store_url", "postgres://flexcord:pw@db/flexcord");
    let c = Config::load(
        GOOD_WITHOUT_SECRETS,
        env(&[
            ("FLEXCORD_DISCORD__TOKEN_FILE", token.as_str()),
            ("FLEXCORD_TWILIO__AUTH_TOKEN_FILE", auth.as_str()),
            ("FLEXCORD_STORE__URL_FILE", db.as_str()),
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "the-fallback-loses"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.discord.token.expose(), "token-from-a-file");
    assert_eq!(c.twilio.auth_token.expose(), "auth-from-a-file");
    assert_eq!(c.store.url, "postgres://flexcord:pw@db/flexcord");
    // A _FILE variable wins over the configuration file, like the variable itself.
    let c = Config::load(
        GOOD,
        env(&[("FLEXCORD_DISCORD__TOKEN_FILE", token.as_str())]),
    )
    .expect("valid");
    assert_eq!(c.discord.token.expose(), "token-from-a-file");

    // Both set, an unreadable file, an unknown key: named, and no secret in the message.
    let missing = dir.path().join("nope").display().to_string();
    let err = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_TWILIO__AUTH_TOKEN", "inline-secret-value"),
            ("FLEXCORD_TWILIO__AUTH_TOKEN_FILE", auth.as_str()),
            ("FLEXCORD_DISCORD__TOKEN_FILE", missing.as_str()),
            ("FLEXCORD_DISCORD__COLOUR_FILE", token.as_str()),
        ]),
    )
    .unwrap_err()
    .to_string();
    for want in [
        "FLEXCORD_TWILIO__AUTH_TOKEN and FLEXCORD_TWILIO__AUTH_TOKEN_FILE are both set",
        &format!("FLEXCORD_DISCORD__TOKEN_FILE: cannot read {missing}: "),
        "FLEXCORD_DISCORD__COLOUR_FILE: no configuration key discord.colour_file",
    ] {
        assert!(err.contains(want), "{want} in {err}");
    }
    for secret in [
        "inline-secret-value",
        "auth-from-a-file",
        "token-from-a-file",
    ] {
        assert!(!err.contains(secret), "{secret} leaked: {err}");
    }
}

#[test]
fn embeddings_are_off_by_default_and_need_a_url_and_a_model() {
    let c = Config::load(GOOD, env(&[])).expect("valid");
    assert!(c.kb.embeddings.is_none());
    let on = Config::load(
        GOOD,
        env(&[
            ("FLEXCORD_KB__EMBEDDINGS_URL", "http://127.0.0.1:11434"),
            ("FLEXCORD_KB__EMBEDDINGS_MODEL", "nomic-embed-text"),
            ("FLEXCORD_KB__EMBEDDINGS_KEY", "embeddings-key-value"),
            ("FLEXCORD_KB__EMBEDDINGS_TIMEOUT", "400ms"),
        ]),
    )
    .expect("valid");
    let e = on.kb.embeddings.as_ref().expect("on");
    assert_eq!(e.model, "nomic-embed-text");
    assert_eq!(e.timeout, Duration::from_millis(400));
    assert_eq!(e.cache, std::path::PathBuf::from("kb-embeddings"));
    assert_eq!(
        e.key.as_ref().map(Secret::expose),
        Some("embeddings-key-value")
    );
    let shown = format!("{on:?}\n{}", on.summary());
    assert!(!shown.contains("embeddings-key-value"), "{shown}");
    assert!(
        shown.contains("kb.embeddings_model = nomic-embed-text"),
        "{shown}"
    );

    let no_model = Config::load(
        GOOD,
        env(&[("FLEXCORD_KB__EMBEDDINGS_URL", "http://127.0.0.1:11434")]),
    )
    .expect_err("a url without a model");
    assert!(
        no_model.to_string().contains(
            "kb.embeddings_model (env FLEXCORD_KB__EMBEDDINGS_MODEL): missing (required when kb.embeddings_url is set"
        ),
        "{no_model}"
    );
    let no_url = Config::load(GOOD, env(&[("FLEXCORD_KB__EMBEDDINGS_MODEL", "m")]))
        .expect_err("a model without a url");
    assert!(no_url.to_string().contains("kb.embeddings_url"), "{no_url}");
    for (timeout, why) in [("0s", "zero"), ("10s", "longer than the bot's time")] {
        let bad = Config::load(
            GOOD,
            env(&[
                ("FLEXCORD_KB__EMBEDDINGS_URL", "http://e.example"),
                ("FLEXCORD_KB__EMBEDDINGS_MODEL", "m"),
                ("FLEXCORD_KB__EMBEDDINGS_TIMEOUT", timeout),
            ]),
        )
        .expect_err(why);
        assert!(bad.to_string().contains("kb.embeddings_timeout"), "{bad}");
    }
    let stray_key = Config::load(GOOD, env(&[("FLEXCORD_KB__EMBEDDINGS_KEY", "k")]))
        .expect_err("a key without a url");
    assert!(
        stray_key.to_string().contains("kb.embeddings_key"),
        "{stray_key}"
    );
}
