//! The shared end-to-end harness: the whole bridge built by `flexcord::app::App::build` (what
//! `flexcord run` builds) against both emulators over real sockets, the app's environment for
//! the built binary, and small helpers.

use std::sync::Arc;
use std::time::Duration;

use flexcord::app::{App, RunError};
use flexcord::config::Config;
use flexcord_cases::CaseStore;
use flexcord_testkit::Emulators;
use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator};
use flexcord_testkit::twilio::{TaskEnd, TwilioConfig, TwilioEmulator};
use tokio_util::sync::CancellationToken;

pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The display name the Discord emulator gives its user `alice` (her `global_name`).
pub(crate) const ALICE: &str = "Alice";

/// The secret Studio's (emulated) bot requests carry, and the app expects.
pub(crate) const BOT_SECRET: &str = "e2e-studio-bot-secret";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Both emulators, the way the app's tests run them: Discord with a 5 s heartbeat, Twilio
/// sending its webhooks and Studio's bot requests (with [`BOT_SECRET`]) to `public`, where the
/// app listens. Installs the TLS crypto provider the app needs first.
pub(crate) async fn emulators(public: &str) -> Emulators {
    flexcord::install_crypto_provider();
    let mut twilio = TwilioConfig::default().webhook_base_url(public);
    twilio.bot_secret = Some(BOT_SECRET.to_owned());
    Emulators::start(
        DiscordConfig::default().heartbeat_interval(Duration::from_secs(5)),
        twilio,
    )
    .await
    .expect("the emulators start")
}

/// The app's configuration (as `FLEXCORD_*` variables) against `emulators`: theirs, plus the
/// HTTP server on `listen` and the store (and the cases) at `db`. Shared by the in-process
/// bridge and the tests that run the built binary.
pub(crate) fn app_env(emulators: &Emulators, listen: &str, db: &str) -> Vec<(String, String)> {
    let own = [
        ("FLEXCORD_SERVER__LISTEN", listen),
        ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "5s"),
        ("FLEXCORD_STORE__URL", db),
    ];
    emulators
        .app_env()
        .into_iter()
        .chain(own.map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// The whole bridge against both emulators; shared with the chat-mode tests.
pub(crate) struct Bridge {
    pub(crate) discord: DiscordEmulator,
    pub(crate) twilio: TwilioEmulator,
    pub(crate) cases: Arc<dyn CaseStore>,
    shutdown: CancellationToken,
    app: tokio::task::JoinHandle<Result<(), RunError>>,
    pub(crate) public: String,
    /// `http://<admin listener>` when `FLEXCORD_SERVER__ADMIN_LISTEN` was set.
    pub(crate) admin: Option<String>,
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
        let emulators = emulators(&public).await;
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
        let env: Vec<(String, String)> = app_env(&emulators, &format!("127.0.0.1:{port}"), &db)
            .into_iter()
            .chain(extra(&emulators.twilio))
            .collect();
        let config = Config::load("", env).expect("config");
        let app = App::build(config).await.expect("the app starts");
        let admin = app
            .admin_addr()
            .expect("the admin listener's address")
            .map(|a| format!("http://{a}"));
        let cases = app.cases();
        let shutdown = CancellationToken::new();
        let app = tokio::spawn(app.run(shutdown.clone()));
        let Emulators { discord, twilio } = emulators;
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
            admin,
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
            .wait_for_dm_where(user, |m| m.content.contains(&needle), WAIT)
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
        let drained = tokio::time::timeout(WAIT, self.app)
            .await
            .expect("stops in time")
            .expect("no panic");
        assert!(drained.is_ok(), "{drained:?}");
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
            .wait_for_dm_where(alice, |m| !m.components.is_empty(), WAIT)
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
            .wait_for_dm_where(alice, |m| !m.embeds.is_empty(), WAIT)
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
