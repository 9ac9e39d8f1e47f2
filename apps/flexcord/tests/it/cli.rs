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
fn check_config_names_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = flexcord(
        dir.path(),
        &[("FLEXCORD_SERVER__MAX_BODY_BYTES", "tiny")],
        &["check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
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
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read nope.toml"));
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
    assert_eq!(names, ["helpme", "bug", "new_feature", "case"]);
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
    ] {
        assert!(stdout.contains(needle), "{needle} missing from:\n{stdout}");
    }
    assert!(
        !stdout.contains("\x1b["),
        "no colour when not on a terminal"
    );
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
