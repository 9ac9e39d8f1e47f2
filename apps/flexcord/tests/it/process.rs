//! The built `flexcord` binary as a child process (`flexcord run`), for the crash and
//! multi-instance tests: started with a `FLEXCORD_*` environment, killed with SIGKILL or stopped
//! with SIGTERM, its log kept in a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flexcord_testkit::discord::DiscordEmulator;
use flexcord_testkit::twilio::TwilioEmulator;

use crate::bridge::WAIT;

/// One running `flexcord run`.
pub(crate) struct AppProcess {
    child: Option<Child>,
    /// `http://<listen address>`: health, readiness, metrics, webhooks.
    pub(crate) base: String,
    log: PathBuf,
}

impl AppProcess {
    /// Starts `flexcord run` with exactly `env` (plus `PATH`), logging to `<dir>/<name>.log`.
    pub(crate) fn spawn(env: &[(String, String)], dir: &Path, name: &str) -> Self {
        let listen = env
            .iter()
            .find(|(k, _)| k == "FLEXCORD_SERVER__LISTEN")
            .map(|(_, v)| v.clone())
            .expect("FLEXCORD_SERVER__LISTEN set");
        // Several runs of one name (a restart) append to one log.
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flexcord"));
        cmd.arg("run")
            .current_dir(dir)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("flexcord run starts");
        Self {
            child: Some(child),
            base: format!("http://{listen}"),
            log,
        }
    }

    /// Waits until `/readyz` answers 200; panics with the log if the process exits first.
    pub(crate) async fn ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("{} exited with {status}:\n{}", self.base, self.log_text());
            }
            if let Ok(res) = client.get(format!("{}/readyz", self.base)).send().await
                && res.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never ready:\n{}",
                self.base,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit on its own (panics with the log after [`WAIT`]).
    pub(crate) async fn exit_status(&mut self) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} still running:\n{}",
                self.base,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id (what the outbox worker's lease owner names: `worker-<pid>-…`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -{signal} works");
    }

    /// SIGKILL: no shutdown, no draining; whatever was in flight stays as it was.
    pub(crate) fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL sent");
            child.wait().expect("reaped");
        }
    }

    /// SIGTERM, then waits for the exit; returns whether it exited successfully.
    pub(crate) async fn terminate(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM works");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the process logged so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        // A failed test must not leave the child running.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Alice asks a question, presses "Talk to a live agent", gets her case number, and `agent`
/// accepts the task; returns the Twilio conversation SID.
pub(crate) async fn hand_off_to(
    discord: &DiscordEmulator,
    twilio: &TwilioEmulator,
    alice: u64,
    agent: &str,
) -> String {
    discord.inject_dm(alice, "I forgot my password").unwrap();
    let answer = discord
        .wait_for_dm_where(alice, |m| !m.components.is_empty(), WAIT)
        .await
        .expect("the bot answers with a button");
    discord
        .inject_button(alice, &crate::bridge::button(&answer, "fc:agent:"))
        .unwrap();
    wait_dm(discord, alice, "Your case number is CASE-").await;
    let task = twilio
        .agent(agent)
        .accept_next(WAIT)
        .await
        .expect("a task for the agent");
    wait_dm(discord, alice, "has joined the conversation").await;
    task.conversation_sid.expect("a conversation task")
}

/// Waits for a DM to `user` containing `needle`.
pub(crate) async fn wait_dm(
    discord: &DiscordEmulator,
    user: u64,
    needle: &str,
) -> flexcord_testkit::discord::StoredMessage {
    let wanted = needle.to_owned();
    discord
        .wait_for_dm_where(user, |m| m.content.contains(&wanted), WAIT)
        .await
        .unwrap_or_else(|_| {
            let seen: Vec<String> = discord
                .dms_to(user)
                .iter()
                .map(|m| m.content.clone())
                .collect();
            panic!("no DM containing {needle:?}; DMs: {seen:#?}")
        })
}

/// How many of the bot's DMs to `user` contain `needle`.
pub(crate) fn dm_count(discord: &DiscordEmulator, user: u64, needle: &str) -> usize {
    discord
        .dms_to(user)
        .iter()
        .filter(|m| m.content.contains(needle))
        .count()
}
