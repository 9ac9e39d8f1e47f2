//! The built binary: exit codes and output of the commands that need no network.

use std::process::Command;

fn flexcord(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flexcord"));
    cmd.current_dir(dir).args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

const VALID: &[(&str, &str)] = &[
    ("FLEXCORD_DISCORD__TOKEN", "discord-token-value"),
    ("FLEXCORD_DISCORD__APPLICATION_ID", "100"),
    (
        "FLEXCORD_TWILIO__ACCOUNT_SID",
        "AC0123456789abcdef0123456789abcdef",
    ),
    ("FLEXCORD_TWILIO__AUTH_TOKEN", "twilio-token-value"),
    (
        "FLEXCORD_TWILIO__WORKSPACE_SID",
        "WS0123456789abcdef0123456789abcdef",
    ),
    (
        "FLEXCORD_TWILIO__WORKFLOW_SID",
        "WW0123456789abcdef0123456789abcdef",
    ),
    ("FLEXCORD_SERVER__PUBLIC_URL", "https://bridge.example.com"),
];

#[test]
fn check_config_names_every_problem_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(
        dir.path(),
        &[
            ("FLEXCORD_SERVER__MAX_BODY_BYTES", "tiny"),
            ("FLEXCORD_SUPPORT__TIMEZONE", "Mars/Olympus_Mons"),
        ],
        &["check-config"],
    );
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG, not a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"Mars/Olympus_Mons\" is not a known IANA time zone"),
        "{err}"
    );
    for key in [
        "support.timezone",
        "discord.token",
        "discord.application_id",
        "twilio.account_sid",
        "twilio.auth_token",
        "server.public_url",
        "server.max_body_bytes",
    ] {
        assert!(err.contains(key), "{key} missing from:\n{err}");
    }
}

#[test]
fn check_config_accepts_a_valid_environment_without_printing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(dir.path(), VALID, &["check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("configuration OK"));
    assert!(stdout.contains("server.max_body_bytes = 65536"));
    for secret in ["discord-token-value", "twilio-token-value"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
}

#[test]
fn check_config_reads_the_file_named_by_config() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../flexcord.example.toml");
    let out = flexcord(dir.path(), &[], &["check-config", "--config", example]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = flexcord(dir.path(), &[], &["--config", "nope.toml", "check-config"]);
    assert_eq!(missing.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read nope.toml"));
    // A usage error stays clap's 2.
    let usage = flexcord(dir.path(), &[], &["check-config", "--no-such-flag"]);
    assert_eq!(usage.status.code(), Some(2));
}

/// `FLEXCORD_*` variables and their values.
type Vars = &'static [(&'static str, &'static str)];

/// Each Twilio mode and bot route of `docs/configuration.md`: what it needs.
const COMBINATIONS: &[(&str, &str, Vars)] = &[
    (
        "conversations",
        "direct",
        &[
            (
                "FLEXCORD_TWILIO__WORKSPACE_SID",
                "WS0123456789abcdef0123456789abcdef",
            ),
            (
                "FLEXCORD_TWILIO__WORKFLOW_SID",
                "WW0123456789abcdef0123456789abcdef",
            ),
        ],
    ),
    (
        "conversations",
        "studio",
        &[
            (
                "FLEXCORD_TWILIO__STUDIO_FLOW_SID",
                "FW0123456789abcdef0123456789abcdef",
            ),
            (
                "FLEXCORD_TWILIO__WORKSPACE_SID",
                "WS0123456789abcdef0123456789abcdef",
            ),
            (
                "FLEXCORD_TWILIO__WORKFLOW_SID",
                "WW0123456789abcdef0123456789abcdef",
            ),
            ("FLEXCORD_BOT__WEBHOOK_SECRET", "studio-shared-secret"),
        ],
    ),
    (
        "chat",
        "studio",
        &[
            (
                "FLEXCORD_TWILIO__CHAT_SERVICE_SID",
                "IS0123456789abcdef0123456789abcdef",
            ),
            (
                "FLEXCORD_TWILIO__FLEX_FLOW_SID",
                "FO0123456789abcdef0123456789abcdef",
            ),
            ("FLEXCORD_BOT__WEBHOOK_SECRET", "studio-shared-secret"),
        ],
    ),
];

#[test]
fn check_config_requires_what_each_mode_and_route_uses() {
    let dir = tempfile::tempdir().unwrap();
    let common: Vec<(&str, &str)> = VALID
        .iter()
        .copied()
        .filter(|(k, _)| !k.contains("WORKSPACE") && !k.contains("WORKFLOW"))
        .collect();
    for (mode, route, needs) in COMBINATIONS {
        let selector = [
            ("FLEXCORD_TWILIO__MODE", *mode),
            ("FLEXCORD_BOT__ROUTE", *route),
        ];
        let bare: Vec<(&str, &str)> = common.iter().copied().chain(selector).collect();
        let out = flexcord(dir.path(), &bare, &["check-config"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{mode}/{route}: {err}");
        for (key, _) in *needs {
            let name = key
                .trim_start_matches("FLEXCORD_")
                .replace("__", ".")
                .to_ascii_lowercase();
            assert!(
                err.contains(&format!("{name} (env {key}): missing")),
                "{mode}/{route}: {name}: {err}"
            );
        }
        assert!(
            err.contains(&format!("{} configuration problem(s)", needs.len())),
            "{err}"
        );
        let complete: Vec<(&str, &str)> =
            bare.iter().copied().chain(needs.iter().copied()).collect();
        let out = flexcord(dir.path(), &complete, &["check-config"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}/{route}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(
            summary.contains(&format!("twilio.mode = {mode}")),
            "{summary}"
        );
        assert!(
            summary.contains(&format!("bot.route = {route}")),
            "{summary}"
        );
    }
}

#[test]
fn run_with_a_bad_configuration_logs_it_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(
        dir.path(),
        &[("FLEXCORD_BOT__ROUTE", "studio")],
        &["--log-format", "json", "run"],
    );
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["fields"]["problem"]
                .as_str()
                .is_some_and(|p| p.starts_with("twilio.studio_flow_sid"))),
        "{err}"
    );
}

#[test]
fn register_commands_print_shows_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(dir.path(), &[], &["register-commands", "--print"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["helpme", "bug", "new_feature", "case", "announce", "setup"]
    );
}

#[test]
fn help_of_the_binary_and_every_command_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(dir.path(), &[], &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    let commands = [
        "run",
        "demo",
        "check-config",
        "register-commands",
        "setup-guild",
        "kb",
        "cases",
        "outbox",
        "healthcheck",
    ];
    for command in commands {
        assert!(help.contains(command), "{command} in {help}");
        let out = flexcord(dir.path(), &[], &[command, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{command} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: flexcord"),
            "{command} --help"
        );
    }
    for (command, option) in [
        (&["cases", "list", "--help"][..], "--json"),
        (&["outbox", "dead", "--help"], "--json"),
        (&["outbox", "stats", "--help"], "--json"),
        (&["healthcheck", "--help"], "--timeout"),
    ] {
        let out = flexcord(dir.path(), &[], command);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(option),
            "{option} in {command:?}"
        );
    }
}

#[test]
fn check_config_takes_secrets_from_files_and_conventional_variables() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("auth_token");
    std::fs::write(&token_file, "twilio-token-from-file\n").unwrap();
    let token_file = token_file.display().to_string();
    let env: Vec<(&str, &str)> = VALID
        .iter()
        .copied()
        .filter(|(k, _)| {
            !matches!(
                *k,
                "FLEXCORD_DISCORD__TOKEN"
                    | "FLEXCORD_TWILIO__AUTH_TOKEN"
                    | "FLEXCORD_TWILIO__ACCOUNT_SID"
            )
        })
        .chain([
            ("DISCORD_TOKEN", "discord-token-fallback"),
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("FLEXCORD_TWILIO__AUTH_TOKEN_FILE", token_file.as_str()),
        ])
        .collect();
    let out = flexcord(dir.path(), &env, &["check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("discord.token = <redacted>"), "{stdout}");
    assert!(
        stdout.contains("twilio.auth_token = <redacted>"),
        "{stdout}"
    );
    for secret in ["discord-token-fallback", "twilio-token-from-file"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
    // A file that cannot be read is a configuration problem: exit 78.
    let missing = dir.path().join("missing").display().to_string();
    let env: Vec<(&str, &str)> = env
        .into_iter()
        .map(|(k, v)| {
            if k == "FLEXCORD_TWILIO__AUTH_TOKEN_FILE" {
                (k, missing.as_str())
            } else {
                (k, v)
            }
        })
        .collect();
    let out = flexcord(dir.path(), &env, &["check-config"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "FLEXCORD_TWILIO__AUTH_TOKEN_FILE: cannot read {missing}"
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_listings_on_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let mut env = VALID.to_vec();
    env.push(("FLEXCORD_STORE__URL", &db));
    for (args, want) in [
        (&["cases", "list", "--json"][..], serde_json::json!([])),
        (&["outbox", "dead", "--json"], serde_json::json!([])),
    ] {
        let out = flexcord(dir.path(), &env, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("one JSON document");
        assert_eq!(value, want, "{args:?}");
    }
    let out = flexcord(dir.path(), &env, &["outbox", "stats", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(stats.is_object(), "{stats}");
    assert!(
        stats
            .as_object()
            .is_some_and(|o| o.values().all(serde_json::Value::is_i64)),
        "{stats}"
    );
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::bridge::free_port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let out = flexcord(
        dir.path(),
        &[],
        &["healthcheck", "--url", &url, "--timeout", "2s"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unhealthy"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cases_list_and_show_on_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let mut env = VALID.to_vec();
    env.push(("FLEXCORD_STORE__URL", &db));
    let out = flexcord(dir.path(), &env, &["cases", "list"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no cases\n");
    let show = flexcord(dir.path(), &env, &["cases", "show", "CASE-000001"]);
    assert_eq!(show.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&show.stderr).contains("CASE-000001"));
}

#[test]
fn kb_search_uses_the_built_in_sample() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(
        dir.path(),
        &[],
        &["kb", "search", "forgot", "my", "password", "--limit", "2"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1. "), "{text}");
    assert!(text.contains("http"), "{text}");
    let none = flexcord(dir.path(), &[], &["kb", "search", "zzzqqq"]);
    assert_eq!(
        String::from_utf8_lossy(&none.stdout),
        "no article matches\n"
    );
}

#[test]
fn kb_import_zendesk_writes_articles_that_kb_search_finds() {
    let dir = tempfile::tempdir().unwrap();
    let export = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/kb/tests/fixtures/zendesk_export.json");
    let articles = dir.path().join("kb");
    let args = [
        "kb",
        "import",
        "zendesk",
        export.to_str().unwrap(),
        articles.to_str().unwrap(),
    ];
    let out = flexcord(dir.path(), &[], &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("3 created, 0 updated, 0 unchanged, 0 removed, 2 skipped"),
        "{text}"
    );
    let again = flexcord(dir.path(), &[], &args);
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("0 created, 0 updated, 3 unchanged"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let found = flexcord(
        dir.path(),
        &[("FLEXCORD_KB__PATH", articles.to_str().unwrap())],
        &[
            "kb", "search", "unlock", "a", "bike", "with", "the", "qr", "code",
        ],
    );
    let found = String::from_utf8_lossy(&found.stdout);
    assert!(found.contains("Unlock a bike with the app"), "{found}");
    let bad = flexcord(
        dir.path(),
        &[],
        &["kb", "import", "zendesk", "missing.json", "kb"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing.json"));
}

#[test]
fn demo_runs_from_the_binary_alone_and_leaves_a_resolved_rated_case() {
    // An empty directory: no configuration, no source tree, no network.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = flexcord(dir.path(), &[], &["demo", "--db", db.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "I forgot my password",
        "Talk to a live agent",
        "CASE-000001",
        "joined",
        "status: resolved",
        "#announcements: the blog's new post, relayed from its feed:",
        "Dark mode is here https://example.com/blog/dark-mode",
        "Turn it on in Settings.",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from:\n{stdout}");
    }
    assert!(
        !stdout.contains("\x1b["),
        "no colour when not on a terminal"
    );
    // The printed timeline is in the order things happened: the agent is assigned and the case
    // opened before the agent's first message, which comes before the close and the rating.
    let timeline = stdout.split("timeline:").nth(1).expect("a timeline");
    let at = |needle: &str| {
        timeline
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from:\n{timeline}"))
    };
    let order = [
        at("opened support"),
        at("assigned to Sam"),
        at("status new -> open"),
        at("says: Hi Alice"),
        at("status open -> resolved"),
        at("rated 5/5"),
    ];
    assert!(order.is_sorted(), "{order:?}:\n{timeline}");
    // Open the SQLite file the demo left and check the case.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cases = flexcord_cases::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let number = "CASE-000001".parse().unwrap();
        let case = cases.get(number).await.unwrap();
        assert_eq!(case.status, flexcord_cases::CaseStatus::Resolved);
        assert_eq!(case.rating.map(|r| r.score), Some(5));
        let authors: Vec<String> = cases
            .timeline(number)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.event, flexcord_cases::TimelineEvent::Message { .. }))
            .map(|e| e.actor)
            .collect();
        assert_eq!(authors.len(), 3, "{authors:?}");
        assert!(
            authors[0].starts_with("discord:"),
            "user first: {authors:?}"
        );
        assert_eq!(authors[1], "flexcord-bot", "then the bot: {authors:?}");
        assert_eq!(authors[2], "agent:sam", "then the agent: {authors:?}");
    });
}

/// The interactive demo's stdout, line by line, as it is printed.
struct Transcript {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Transcript {
    /// Reads lines until one contains `needle` (within 60 s); returns that line.
    fn until(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no line containing {needle:?} ({e}); the demo printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one session, step by step
fn interactive_demo_plays_stdin_lines_and_serves_the_case_page() {
    use std::io::Write as _;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flexcord"))
        .current_dir(dir.path())
        .args(["demo", "--interactive", "--db", db.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = Transcript {
        lines: rx,
        seen: Vec::new(),
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut say = move |line: &str| {
        writeln!(stdin, "{line}").expect("the demo reads stdin");
        stdin.flush().unwrap();
    };

    let pages = out.until("Case pages: ");
    let (base, rest) = pages
        .trim_start_matches("Case pages: ")
        .split_once(" (login: demo, password: ")
        .expect("the URL and the demo agent's password");
    let password = rest.split(';').next().expect("password").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(base.ends_with("/cases"), "{base}");

    // The customer's question, echoed, then the bot's answer with a suggestion.
    say("I forgot my password");
    out.until("customer ▸ I forgot my password");
    out.until("[Talk to a live agent]");
    // An agent line before any hand-off has nobody to talk to.
    say("/agent Hello?");
    out.until("no conversation is waiting for an agent yet");
    // Asking for a person hands off: the notice, the case number and its page.
    say("I want to talk to a live agent");
    out.until("transferring you");
    out.until("Your case number is CASE-000001.");
    let page_line = out.until("case page: ");
    let page = page_line
        .split("case page: ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(page, format!("{base}/CASE-000001"));
    // The agent takes the task and answers.
    say("/agent Hi Alice, Sam here. I have sent you a reset link.");
    out.until("agent sam accepted the task");
    out.until("has joined the conversation");
    out.until("discord ◂ Hi Alice, Sam here. I have sent you a reset link.");

    // The case page, fetched over HTTP after logging in with the printed token.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let html = rt.block_on(async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let anonymous = http.get(&page).send().await.unwrap();
        assert_ne!(anonymous.status(), 200, "the page needs a login");
        let login = http
            .post(format!("{base}/login"))
            .form(&[("login", "demo"), ("password", password.as_str())])
            .send()
            .await
            .unwrap();
        assert!(login.status().is_redirection(), "{}", login.status());
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        // The agent's message reaches the case through the outbox: poll for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let response = http
                .get(&page)
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let html = response.text().await.unwrap();
            if html.contains("Sam here") || std::time::Instant::now() > deadline {
                return html;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    for needle in [
        "CASE-000001",
        "I want to talk to a live agent",
        "I forgot my password",
        "agent:sam",
        "Sam here",
    ] {
        assert!(
            html.contains(needle),
            "{needle} missing from the case page:\n{html}"
        );
    }

    // End of input: a clean exit.
    drop(say);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not exit after stdin closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}
