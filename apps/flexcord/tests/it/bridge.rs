//! The shared end-to-end harness: the whole bridge (`flexcord::app::serve`) against both
//! emulators over real sockets, the app's environment for the built binary, and small helpers.

use std::sync::Arc;
use std::time::Duration;

use flexcord::config::Config;
use flexcord_cases::CaseStore;
use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator};
use flexcord_testkit::twilio::{TaskEnd, TwilioConfig, TwilioEmulator};
use tokio_util::sync::CancellationToken;

pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The display name the Discord emulator gives its user `alice` (her `global_name`).
pub(crate) const ALICE: &str = "Alice";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The app's configuration (as `FLEXCORD_*` variables) against both emulators: the HTTP server
/// on `listen`, reachable by Twilio at `public`, the store (and the cases) at `db`. Shared by
/// the in-process bridge and the tests that run the built binary.
pub(crate) fn app_env(
    discord: &DiscordEmulator,
    twilio: &TwilioEmulator,
    listen: &str,
    public: &str,
    db: &str,
) -> Vec<(String, String)> {
    [
        ("FLEXCORD_DISCORD__TOKEN", "test-token".to_owned()),
        (
            "FLEXCORD_DISCORD__APPLICATION_ID",
            discord.application_id().to_string(),
        ),
        ("FLEXCORD_DISCORD__API_URL", discord.api_url()),
        ("FLEXCORD_DISCORD__GATEWAY_URL", discord.gateway_url()),
        (
            "FLEXCORD_TWILIO__ACCOUNT_SID",
            twilio.account_sid().to_owned(),
        ),
        (
            "FLEXCORD_TWILIO__AUTH_TOKEN",
            twilio.auth_token().to_owned(),
        ),
        (
            "FLEXCORD_TWILIO__WORKSPACE_SID",
            "WS0123456789abcdef0123456789abcdef".to_owned(),
        ),
        (
            "FLEXCORD_TWILIO__WORKFLOW_SID",
            "WW0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("FLEXCORD_TWILIO__CHAT_URL", twilio.base_url().to_owned()),
        ("FLEXCORD_TWILIO__FLEX_URL", twilio.base_url().to_owned()),
        (
            "FLEXCORD_TWILIO__CONVERSATIONS_URL",
            twilio.base_url().to_owned(),
        ),
        ("FLEXCORD_TWILIO__STUDIO_URL", twilio.base_url().to_owned()),
        ("FLEXCORD_TWILIO__MEDIA_URL", twilio.base_url().to_owned()),
        ("FLEXCORD_SERVER__LISTEN", listen.to_owned()),
        ("FLEXCORD_SERVER__PUBLIC_URL", public.to_owned()),
        ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "5s".to_owned()),
        ("FLEXCORD_STORE__URL", db.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Both emulators, the way the app's tests run them: Discord with the token `test-token` and a
/// 5 s heartbeat, Twilio sending its webhooks to `public` (where the app listens). Installs the
/// TLS crypto provider the app needs first.
pub(crate) async fn emulators(public: &str) -> (DiscordEmulator, TwilioEmulator) {
    flexcord::install_crypto_provider();
    let discord = DiscordEmulator::start(
        DiscordConfig::default()
            .token("test-token")
            .heartbeat_interval(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let twilio = TwilioEmulator::start(TwilioConfig::default().webhook_base_url(public))
        .await
        .unwrap();
    (discord, twilio)
}

/// The whole bridge against both emulators; shared with the chat-mode tests.
pub(crate) struct Bridge {
    pub(crate) discord: DiscordEmulator,
    pub(crate) twilio: TwilioEmulator,
    pub(crate) cases: Arc<dyn CaseStore>,
    shutdown: CancellationToken,
    app: tokio::task::JoinHandle<std::process::ExitCode>,
    pub(crate) public: String,
    pub(crate) dir: tempfile::TempDir,
    /// The store's URL (`sqlite://…`), for tests that read the outbox.
    pub(crate) db: String,
}

impl Bridge {
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub(crate) async fn start_with(extra: &[(&str, &str)]) -> Self {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::start_configured(|_| extra).await
    }

    /// Starts with configuration overrides that may depend on the Twilio emulator (its SIDs).
    pub(crate) async fn start_configured(
        extra: impl FnOnce(&TwilioEmulator) -> Vec<(String, String)>,
    ) -> Self {
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let (discord, twilio) = emulators(&public).await;
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
        let env: Vec<(String, String)> = app_env(
            &discord,
            &twilio,
            &format!("127.0.0.1:{port}"),
            &public,
            &db,
        )
        .into_iter()
        .chain(extra(&twilio))
        .collect();
        let config = Config::load("", env).expect("config");
        let cases = flexcord::cases::open(&config.cases).await.unwrap();
        let shutdown = CancellationToken::new();
        let app = tokio::spawn(flexcord::app::serve(config, shutdown.clone()));
        discord
            .wait_for(|s| s.shard_connected(0), WAIT)
            .await
            .expect("shard 0 connects");
        Self {
            discord,
            twilio,
            cases,
            shutdown,
            app,
            public,
            dir,
            db,
        }
    }

    pub(crate) async fn dm_containing(
        &self,
        user: u64,
        needle: &str,
    ) -> flexcord_testkit::discord::StoredMessage {
        let needle = needle.to_owned();
        self.discord
            .wait_for_value(
                |s| {
                    s.dms_to(user)
                        .into_iter()
                        .find(|m| m.content.contains(&needle))
                        .cloned()
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|_| {
                let seen: Vec<String> = self
                    .discord
                    .dms_to(user)
                    .iter()
                    .map(|m| m.content.clone())
                    .collect();
                panic!("no DM containing {needle:?}; DMs: {seen:#?}")
            })
    }

    /// Waits until `f` holds on the Twilio emulator's state.
    pub(crate) async fn until(&self, what: &str, f: impl Fn(&TwilioEmulator) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !f(&self.twilio) {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        let code = tokio::time::timeout(WAIT, self.app)
            .await
            .expect("stops in time")
            .expect("no panic");
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        self.discord.shutdown();
    }
}

impl Bridge {
    /// Alice asks, presses "Talk to a live agent" and gets her case number; returns the Twilio
    /// conversation SID.
    pub(crate) async fn hand_off(&self, alice: u64) -> String {
        self.discord
            .inject_dm(alice, "I forgot my password")
            .unwrap();
        let answer = self
            .discord
            .wait_for_value(
                |s| {
                    s.dms_to(alice)
                        .into_iter()
                        .find(|m| !m.components.is_empty())
                        .cloned()
                },
                WAIT,
            )
            .await
            .unwrap();
        let comps = serde_json::to_string(&answer.components).unwrap();
        let start = comps.find("fc:agent:").unwrap();
        let id = comps[start..].split('"').next().unwrap().to_owned();
        self.discord.inject_button(alice, &id).unwrap();
        self.dm_containing(alice, "CASE-").await;
        self.twilio.wait_for_value_conversation(WAIT).await
    }

    pub(crate) async fn post_webhook(
        &self,
        params: &[(&str, &str)],
        signature: Option<String>,
    ) -> u16 {
        let url = format!("{}/twilio/outbound", self.public);
        let form: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut req = reqwest::Client::new().post(&url).form(&form);
        if let Some(sig) = signature {
            req = req.header("X-Twilio-Signature", sig);
        }
        req.send()
            .await
            .expect("the bridge answers")
            .status()
            .as_u16()
    }

    pub(crate) fn sign(&self, params: &[(&str, &str)]) -> String {
        let form: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        flexcord_twilio::webhook::sign(
            self.twilio.auth_token(),
            &format!("{}/twilio/outbound", self.public),
            &form,
        )
    }
}

trait WaitConversation {
    async fn wait_for_value_conversation(&self, timeout: Duration) -> String;
}

impl WaitConversation for TwilioEmulator {
    async fn wait_for_value_conversation(&self, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(c) = self.conversations().first() {
                return c.sid.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no Twilio conversation"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The `custom_id` of the first button of `message` whose id starts with `prefix`.
pub(crate) fn button(message: &flexcord_testkit::discord::StoredMessage, prefix: &str) -> String {
    let comps = serde_json::to_string(&message.components).unwrap();
    let start = comps
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} button in {comps}"));
    comps[start..].split('"').next().unwrap().to_owned()
}

/// Where in Alice's DMs the first message containing `needle` is.
pub(crate) fn position(dms: &[flexcord_testkit::discord::StoredMessage], needle: &str) -> usize {
    dms.iter()
        .position(|m| m.content.contains(needle))
        .unwrap_or_else(|| panic!("no DM containing {needle:?}"))
}

impl Bridge {
    /// Alice asks a question; returns the bot's answer (the DM with article suggestions).
    pub(crate) async fn bot_answer(&self, alice: u64) -> flexcord_testkit::discord::StoredMessage {
        self.discord
            .inject_dm(alice, "I forgot my password")
            .unwrap();
        self.discord
            .wait_for_value(
                |s| {
                    s.dms_to(alice)
                        .into_iter()
                        .find(|m| !m.embeds.is_empty())
                        .cloned()
                },
                WAIT,
            )
            .await
            .expect("a bot answer with suggestions")
    }

    /// The case as soon as `done` holds for it.
    pub(crate) async fn case_when(
        &self,
        what: &str,
        done: impl Fn(&flexcord_cases::Case) -> bool,
    ) -> flexcord_cases::Case {
        let number: flexcord_cases::CaseNumber = "CASE-000001".parse().unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(case) = self.cases.get(number).await
                && done(&case)
            {
                return case;
            }
            assert!(tokio::time::Instant::now() < deadline, "case never {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Hand-off, then the agent accepts the task; returns the conversation SID and the task.
    pub(crate) async fn agent_joins(
        &self,
        alice: u64,
        agent: &flexcord_testkit::twilio::Agent<'_>,
    ) -> (String, flexcord_testkit::twilio::Task) {
        let sid = self.hand_off(alice).await;
        let task = agent.accept_next(WAIT).await.expect("a task for the agent");
        self.dm_containing(alice, "has joined the conversation")
            .await;
        (sid, task)
    }

    /// The agent ends the task; returns the DM that asks for a rating.
    pub(crate) async fn agent_closes(
        &self,
        alice: u64,
        agent: &flexcord_testkit::twilio::Agent<'_>,
        task: &flexcord_testkit::twilio::Task,
    ) -> flexcord_testkit::discord::StoredMessage {
        agent.end_task(&task.sid, TaskEnd::Completed).unwrap();
        self.dm_containing(alice, "The agent closed this conversation")
            .await
    }
}
