//! The `flexcord-testkit` binary starts both emulators and prints the app's configuration.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[tokio::test]
async fn binary_starts_both_emulators_and_prints_the_configuration() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_flexcord-testkit"))
        .args([
            "--discord-port",
            "0",
            "--twilio-port",
            "0",
            "--discord-token",
            "tok",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut env = std::collections::HashMap::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                env.insert(k.to_owned(), v.to_owned());
            }
            if line.starts_with("export FLEXCORD_SERVER__PUBLIC_URL") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the binary printed its configuration");
    assert_eq!(
        env.get("FLEXCORD_DISCORD__TOKEN").map(String::as_str),
        Some("tok")
    );
    let api = env
        .get("FLEXCORD_DISCORD__API_URL")
        .cloned()
        .expect("api url");
    let gateway = env
        .get("FLEXCORD_DISCORD__GATEWAY_URL")
        .cloned()
        .expect("gateway url");
    assert!(gateway.starts_with("ws://127.0.0.1:"));
    let state: Value = reqwest::get(format!("{api}/__testkit/discord/state"))
        .await
        .expect("control API")
        .json()
        .await
        .expect("json");
    assert_eq!(state["gateway_url"], gateway.as_str());
    let twilio = env
        .get("FLEXCORD_TWILIO__CONVERSATIONS_URL")
        .cloned()
        .expect("twilio url");
    let sid = env
        .get("FLEXCORD_TWILIO__ACCOUNT_SID")
        .cloned()
        .expect("sid");
    let token = env
        .get("FLEXCORD_TWILIO__AUTH_TOKEN")
        .cloned()
        .expect("token");
    let res = reqwest::Client::new()
        .get(format!("{twilio}/v1/Conversations"))
        .basic_auth(sid, Some(token))
        .send()
        .await
        .expect("Twilio emulator answers");
    assert_eq!(res.status(), 200);
    child.kill().await.expect("stopped");
}

#[test]
fn help_lists_every_option_and_exits_0() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flexcord-testkit"))
        .arg("--help")
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--discord-port",
        "--twilio-port",
        "--host",
        "--app-url",
        "--discord-token",
        "--twilio-account-sid",
        "--twilio-auth-token",
        "--bot-secret",
        "--auto-agent",
        "--heartbeat-ms",
        "[default: 9001]",
        "[default: 41250]",
    ] {
        assert!(help.contains(option), "{option} in {help}");
    }
    // A bad value is a usage error (2) naming the option.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flexcord-testkit"))
        .args(["--heartbeat-ms", "0"])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--heartbeat-ms"));
}
