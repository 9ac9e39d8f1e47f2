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
    public: String,
    _dir: tempfile::TempDir,
}

impl Bridge {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    async fn start_with(extra: &[(&str, &str)]) -> Self {
        flexcord::install_crypto_provider();
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
            ("FLEXCORD_SERVER__PUBLIC_URL", public.clone()),
            ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "5s".to_owned()),
            ("FLEXCORD_STORE__URL", db),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
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
    // Split at Discord's 2,000 characters, in order, nothing lost.
    let parts = b
        .discord
        .wait_for_value(
            |s| {
                let dms = s.dms_to(alice);
                let start = dms
                    .iter()
                    .position(|m| m.content.starts_with("Here is how"))?;
                let parts: Vec<String> = dms[start..].iter().map(|m| m.content.clone()).collect();
                let words: usize = parts.iter().map(|p| p.matches("word").count()).sum();
                (words == 900).then_some(parts)
            },
            WAIT,
        )
        .await
        .expect("every part of the long reply");
    assert!(parts.len() >= 3, "{} parts", parts.len());
    assert!(parts.iter().all(|p| p.chars().count() <= 2000));
    let joined: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
    let sent: Vec<&str> = long_reply.split_whitespace().collect();
    assert_eq!(joined, sent, "the parts, in order, are the reply");
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

impl Bridge {
    /// Alice asks, presses "Talk to a live agent" and gets her case number; returns the Twilio
    /// conversation SID.
    async fn hand_off(&self, alice: u64) -> String {
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

    async fn post_webhook(&self, params: &[(&str, &str)], signature: Option<String>) -> u16 {
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

    fn sign(&self, params: &[(&str, &str)]) -> String {
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

#[tokio::test]
async fn webhooks_forged_unknown_and_duplicated() {
    let b = Bridge::start().await;
    let alice = b.discord.user_id("alice").unwrap();
    let sid = b.hand_off(alice).await;
    let count = |text: &str| {
        b.discord
            .dms_to(alice)
            .iter()
            .filter(|m| m.content.contains(text))
            .count()
    };
    let message = |body: &'static str, msid: &'static str| {
        vec![
            ("EventType", "onMessageAdded"),
            ("ConversationSid", sid.as_str()),
            ("MessageSid", msid),
            ("Author", "agent:zoe"),
            ("Body", body),
            ("Source", "SDK"),
        ]
    };
    // Forged or missing signature: 403, nothing posted.
    let forged = message("forged text", "IM00000000000000000000000000000001");
    assert_eq!(
        b.post_webhook(&forged, Some("bm90IGEgc2lnbmF0dXJl".into()))
            .await,
        403
    );
    assert_eq!(b.post_webhook(&forged, None).await, 403);
    // A conversation we do not know: 200, nothing posted.
    let unknown = vec![
        ("EventType", "onMessageAdded"),
        ("ConversationSid", "CHffffffffffffffffffffffffffffffff"),
        ("MessageSid", "IM00000000000000000000000000000002"),
        ("Author", "agent:zoe"),
        ("Body", "unknown text"),
    ];
    assert_eq!(b.post_webhook(&unknown, Some(b.sign(&unknown))).await, 200);
    // The same webhook twice: posted once.
    let dup = message("duplicate text", "IM00000000000000000000000000000003");
    assert_eq!(b.post_webhook(&dup, Some(b.sign(&dup))).await, 200);
    assert_eq!(b.post_webhook(&dup, Some(b.sign(&dup))).await, 200);
    b.dm_containing(alice, "duplicate text").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count("duplicate text"), 1);
    assert_eq!(count("forged text"), 0);
    assert_eq!(count("unknown text"), 0);
    b.stop().await;
}

#[tokio::test]
async fn conversations_studio_route_asks_the_bot_through_twilio() {
    let flow = "FW0123456789abcdef0123456789abcdef";
    let b = Bridge::start_with(&[
        ("FLEXCORD_BOT__ROUTE", "studio"),
        ("FLEXCORD_TWILIO__STUDIO_FLOW_SID", flow),
    ])
    .await;
    let alice = b.discord.user_id("alice").unwrap();
    b.discord.inject_dm(alice, "I forgot my password").unwrap();
    // The DM goes to Twilio first; Studio (emulated) calls POST /twilio/bot; the answer reaches
    // Discord with linked suggestions.
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
        .expect("the bot answers through Studio");
    assert!(
        answer.embeds[0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
    );
    let conversations = b.twilio.conversations();
    assert_eq!(conversations.len(), 1, "created at the first DM");
    let sid = conversations[0].sid.clone();
    let hooks = b.twilio.conversation_webhooks(&sid);
    assert!(hooks.iter().any(|h| h.target == "studio"), "{hooks:?}");
    assert!(
        !b.twilio.bot_requests().is_empty(),
        "Studio asked the bridge's bot"
    );
    let messages = b.twilio.messages(&sid);
    assert!(
        messages
            .iter()
            .any(|m| m.author == "discord:".to_owned() + &alice.to_string()),
        "{messages:?}"
    );
    b.stop().await;
}
