//! The whole bridge (`flexcord::app::serve`) against both emulators over real sockets:
//! conversations mode, direct route.

use std::sync::Arc;
use std::time::Duration;

use flexcord::config::Config;
use flexcord_cases::{CaseStatus, CaseStore, TimelineEvent};
use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator};
use flexcord_testkit::twilio::{TaskEnd, TwilioConfig, TwilioEmulator};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Bridge {
    discord: DiscordEmulator,
    twilio: TwilioEmulator,
    cases: Arc<dyn CaseStore>,
    shutdown: CancellationToken,
    app: tokio::task::JoinHandle<std::process::ExitCode>,
    _dir: tempfile::TempDir,
}

impl Bridge {
    async fn start() -> Self {
        flexcord::install_crypto_provider();
        flexcord::telemetry::init_tracing(flexcord::cli::LogFormat::Text);
        let discord = DiscordEmulator::start(
            DiscordConfig::default()
                .token("test-token")
                .heartbeat_interval(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let twilio =
            TwilioEmulator::start(TwilioConfig::default().webhook_base_url(public.clone()))
                .await
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
        let env: Vec<(String, String)> = [
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
            ("FLEXCORD_SERVER__LISTEN", format!("127.0.0.1:{port}")),
            ("FLEXCORD_SERVER__PUBLIC_URL", public),
            ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "5s".to_owned()),
            ("FLEXCORD_STORE__URL", db),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
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
            _dir: dir,
        }
    }

    async fn dm_containing(
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

    async fn stop(self) {
        self.shutdown.cancel();
        let code = tokio::time::timeout(WAIT, self.app)
            .await
            .expect("stops in time")
            .expect("no panic");
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        self.discord.shutdown();
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one customer journey, read top to bottom
async fn customer_journey_bot_handoff_agent_close_rating() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();

    // A question: the bot answers with linked article suggestions.
    b.discord.inject_dm(alice, "I forgot my password").unwrap();
    let answer = b
        .discord
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
        .expect("a bot answer with suggestions");
    assert!(
        answer.embeds[0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{:?}",
        answer.embeds
    );
    assert!(
        serde_json::to_string(&answer.components)
            .unwrap()
            .contains("fc:agent:")
    );
    assert!(
        b.twilio.conversations().is_empty(),
        "bot-only sessions never touch Twilio"
    );

    // The user asks for a person: told "transferring", then the case number.
    b.discord
        .inject_button(alice, &{
            let comps = serde_json::to_string(&answer.components).unwrap();
            let start = comps.find("fc:agent:").unwrap();
            comps[start..].split('"').next().unwrap().to_owned()
        })
        .unwrap();
    let case_dm = b.dm_containing(alice, "CASE-").await;
    assert!(
        case_dm.content.contains("CASE-000001"),
        "{}",
        case_dm.content
    );

    // Twilio: one conversation with the back-filled transcript, handed to Flex.
    b.twilio.wait_for_event(WAIT, "onMessageAdded").await.ok();
    let conversations = b.twilio.conversations();
    assert_eq!(conversations.len(), 1);
    let sid = conversations[0].sid.clone();
    let backfill = b.twilio.messages(&sid);
    assert!(
        backfill
            .iter()
            .any(|m| m.body.as_deref() == Some("I forgot my password")),
        "{backfill:?}"
    );

    // The agent joins (the user is told), replies, and closes.
    let agent = b.twilio.agent("agent:alice");
    let task = agent.accept_next(WAIT).await.expect("a task for the agent");
    let joined = b.dm_containing(alice, "joined").await;
    assert!(!joined.content.is_empty());
    let long_reply = format!("Here is how to reset it. {}", "word ".repeat(900));
    agent.send(&sid, &long_reply).unwrap();
    b.dm_containing(alice, "Here is how to reset it.").await;
    let case = b.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    assert_eq!(case.status, CaseStatus::Open);
    agent.end_task(&task.sid, TaskEnd::Completed).unwrap();

    // Rating buttons after close; the user rates.
    let rating = b
        .discord
        .wait_for_value(
            |s| {
                s.dms_to(alice)
                    .into_iter()
                    .find(|m| {
                        serde_json::to_string(&m.components)
                            .unwrap_or_default()
                            .contains("fc:rate5:")
                    })
                    .cloned()
            },
            WAIT,
        )
        .await
        .expect("rating buttons");
    let comps = serde_json::to_string(&rating.components).unwrap();
    let start = comps.find("fc:rate5:").unwrap();
    let rate5 = comps[start..].split('"').next().unwrap().to_owned();
    b.discord.inject_button(alice, &rate5).unwrap();
    let mut case = b.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    for _ in 0..100 {
        if case.rating.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        case = b.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    }
    assert_eq!(case.status, CaseStatus::Resolved);
    assert_eq!(case.rating.map(|r| r.score), Some(5));
    let timeline = b
        .cases
        .timeline("CASE-000001".parse().unwrap())
        .await
        .unwrap();
    let authors: Vec<String> = timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::Message { .. }))
        .map(|e| e.actor.clone())
        .collect();
    assert!(
        authors.first().is_some_and(|a| a.starts_with("discord:")),
        "{authors:?}"
    );
    assert!(authors.iter().any(|a| a == "flexcord-bot"), "{authors:?}");
    assert!(authors.iter().any(|a| a == "agent:alice"), "{authors:?}");
    b.stop().await;
}
