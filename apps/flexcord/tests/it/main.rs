//! The app against the Discord emulator, over real sockets: slash commands, modals, cases;
//! and the built binary's commands.

mod bridge;
mod chat_mode;
mod cli;
mod crash;
mod deliver;
mod faults;
mod journey;
mod media;
mod process;
mod scale;
mod studio_flows;
mod support;
mod twilio;

use std::sync::Arc;
use std::time::Duration;

use flexcord::config::Config;
use flexcord::discord::gateway::{http_client, run_shards};
use flexcord::discord::interactions::InteractionHandler;
use flexcord_cases::{CaseKind, CaseNumber, CaseStatus, CaseStore};
use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator, ModalSubmit, SlashCommand};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

struct Harness {
    discord: DiscordEmulator,
    cases: Arc<dyn CaseStore>,
    shutdown: CancellationToken,
    shards: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        flexcord::install_crypto_provider();
        let discord = DiscordEmulator::start(
            DiscordConfig::default()
                .token("test-token")
                .heartbeat_interval(Duration::from_secs(5)),
        )
        .await
        .expect("emulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
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
                "FLEXCORD_DISCORD__BUG_CHANNEL_ID",
                discord
                    .channel_id("bug-report")
                    .expect("channel")
                    .to_string(),
            ),
            (
                "FLEXCORD_TWILIO__ACCOUNT_SID",
                "AC0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("FLEXCORD_TWILIO__AUTH_TOKEN", "auth".to_owned()),
            (
                "FLEXCORD_TWILIO__WORKSPACE_SID",
                "WS0123456789abcdef0123456789abcdef".to_owned(),
            ),
            (
                "FLEXCORD_TWILIO__WORKFLOW_SID",
                "WW0123456789abcdef0123456789abcdef".to_owned(),
            ),
            (
                "FLEXCORD_SERVER__PUBLIC_URL",
                "http://127.0.0.1:1".to_owned(),
            ),
            ("FLEXCORD_STORE__URL", db),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = Config::load("", env).expect("config");
        let cases = flexcord::cases::open(&config.cases)
            .await
            .expect("case store");
        let http = Arc::new(http_client(&config.discord));
        let commands = flexcord::discord::commands::all();
        http.interaction(twilight_model::id::Id::new(discord.application_id()))
            .set_global_commands(&commands)
            .await
            .expect("commands registered");
        let handler = Arc::new(
            InteractionHandler::new(
                http,
                config.discord.application_id,
                cases.clone(),
                config.discord.bug_channel_id,
                config.discord.feature_channel_id,
            )
            .expect("handler"),
        );
        let shutdown = CancellationToken::new();
        let discord_config = config.discord.clone();
        let token = shutdown.clone();
        let shards = tokio::spawn(async move {
            run_shards(
                &discord_config,
                handler,
                None,
                token,
                Duration::from_secs(2),
            )
            .await;
        });
        discord
            .wait_for(|s| s.shard_connected(0), WAIT)
            .await
            .expect("shard 0 connects");
        Self {
            discord,
            cases,
            shutdown,
            shards,
            _dir: dir,
        }
    }

    fn alice(&self) -> u64 {
        self.discord.user_id("alice").expect("alice")
    }

    /// The text of the interaction's answer once the deferred response was edited.
    async fn answer(&self, interaction: u64) -> String {
        self.discord
            .wait_for_value(
                |s| {
                    let record = s.interaction(interaction)?;
                    let id = record.original_message?;
                    let m = s.message(id)?;
                    (!m.content.is_empty()).then(|| m.content.clone())
                },
                WAIT,
            )
            .await
            .expect("the deferred answer is edited")
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.shards)
            .await
            .expect("shards stop")
            .expect("no panic");
        self.discord.shutdown();
    }
}

#[tokio::test]
async fn bug_command_opens_a_modal_files_a_case_and_lists_duplicates() {
    let h = Harness::start().await;
    let alice = h.alice();
    let mut numbers = Vec::new();
    for (title, n) in [
        ("Login page crashes", 1),
        ("Login page crashes on Android", 2),
    ] {
        let cmd = h
            .discord
            .inject_slash(alice, &SlashCommand::new("bug"))
            .expect("inject /bug");
        let record = h
            .discord
            .wait_for_interaction_response(cmd.id, WAIT)
            .await
            .expect("answered");
        assert_eq!(record.responses[0].kind, 9, "a modal");
        let submit = ModalSubmit::new("flexcord:bug")
            .field("title", title)
            .field("steps", "Open the login page")
            .field("expected", "The login form")
            .field("actual", "The app crashes");
        let modal = h
            .discord
            .inject_modal_submit(alice, &submit)
            .expect("submit");
        let text = h.answer(modal.id).await;
        let number = format!("CASE-{n:06}");
        assert!(text.contains(&number), "{text}");
        if n == 2 {
            assert!(
                text.contains("may be the same as") && text.contains("CASE-000001"),
                "{text}"
            );
        }
        numbers.push(number);
    }
    let case = h
        .cases
        .get(numbers[1].parse::<CaseNumber>().unwrap())
        .await
        .unwrap();
    assert_eq!(case.kind, CaseKind::Bug);
    assert_eq!(case.status, CaseStatus::New);
    assert_eq!(case.subject, "Login page crashes on Android");
    assert!(case.description.contains("The app crashes"));
    assert_eq!(case.requester.discord_id, alice.to_string());
    assert_eq!(
        case.requester.name, "Alice",
        "the emulator's display name for alice"
    );
    // Announced in the bug channel.
    let channel = h.discord.channel_id("bug-report").unwrap();
    let note = h
        .discord
        .wait_for_message(channel, 2, WAIT)
        .await
        .expect("announced");
    assert!(note.content.contains("CASE-000002"), "{}", note.content);
    h.stop().await;
}

#[tokio::test]
async fn new_feature_files_a_feature_case() {
    let h = Harness::start().await;
    let alice = h.alice();
    let cmd = h
        .discord
        .inject_slash(alice, &SlashCommand::new("new_feature"))
        .unwrap();
    let record = h
        .discord
        .wait_for_interaction_response(cmd.id, WAIT)
        .await
        .unwrap();
    assert_eq!(record.responses[0].kind, 9);
    let submit = ModalSubmit::new("flexcord:feature")
        .field("title", "Dark mode")
        .field("description", "Please");
    let modal = h.discord.inject_modal_submit(alice, &submit).unwrap();
    let text = h.answer(modal.id).await;
    assert!(
        text.contains("feature request") && text.contains("CASE-000001"),
        "{text}"
    );
    let case = h.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    assert_eq!(case.kind, CaseKind::Feature);
    assert_eq!(case.description, "Please");
    h.stop().await;
}

#[tokio::test]
async fn case_status_and_close() {
    let h = Harness::start().await;
    let alice = h.alice();
    let bob = h.discord.user_id("bob").unwrap();
    let submit = ModalSubmit::new("flexcord:feature")
        .field("title", "Export to CSV")
        .field("description", "x");
    let cmd = h
        .discord
        .inject_slash(alice, &SlashCommand::new("new_feature"))
        .unwrap();
    h.discord
        .wait_for_interaction_response(cmd.id, WAIT)
        .await
        .unwrap();
    let modal = h.discord.inject_modal_submit(alice, &submit).unwrap();
    h.answer(modal.id).await;

    let status = h
        .discord
        .inject_slash(alice, &SlashCommand::new("case").subcommand("status", []))
        .unwrap();
    let text = h.answer(status.id).await;
    assert!(
        text.contains("CASE-000001") && text.contains("Export to CSV") && text.contains("new"),
        "{text}"
    );
    let record = h.discord.interaction(status.id).unwrap();
    assert_eq!(record.responses[0].kind, 5, "deferred first");
    assert!(
        record.responses[0]
            .data
            .as_ref()
            .is_some_and(|d| d["flags"] == 64),
        "ephemeral"
    );

    // Bob cannot see or close Alice's case.
    let peek = h
        .discord
        .inject_slash(
            bob,
            &SlashCommand::new("case").subcommand("close", [("number", "CASE-000001")]),
        )
        .unwrap();
    assert!(
        h.answer(peek.id)
            .await
            .contains("no case CASE-000001 of yours")
    );

    let close = h
        .discord
        .inject_slash(
            alice,
            &SlashCommand::new("case").subcommand("close", [("number", "CASE-000001")]),
        )
        .unwrap();
    let text = h.answer(close.id).await;
    assert!(text.contains("resolved"), "{text}");
    let case = h.cases.get("CASE-000001".parse().unwrap()).await.unwrap();
    assert_eq!(case.status, CaseStatus::Resolved);

    let after = h
        .discord
        .inject_slash(alice, &SlashCommand::new("case").subcommand("status", []))
        .unwrap();
    assert_eq!(h.answer(after.id).await, "You have no open cases.");
    h.stop().await;
}

#[tokio::test]
async fn helpme_opens_a_dm_or_explains_how_to_open_dms() {
    let h = Harness::start().await;
    let alice = h.alice();
    h.discord.block_dms(alice);
    let blocked = h
        .discord
        .inject_slash(alice, &SlashCommand::new("helpme"))
        .unwrap();
    let text = h.answer(blocked.id).await;
    assert!(text.contains("Privacy Settings"), "{text}");
    assert!(
        !h.discord
            .dms_to(alice)
            .iter()
            .any(|m| m.content.contains("support assistant")),
        "no greeting while DMs are closed"
    );

    h.discord.unblock_dms(alice);
    let ok = h
        .discord
        .inject_slash(alice, &SlashCommand::new("helpme"))
        .unwrap();
    assert!(h.answer(ok.id).await.contains("direct message"));
    let dm = h
        .discord
        .wait_for_value(
            |s| {
                s.dms_to(alice)
                    .into_iter()
                    .find(|m| m.content.contains("support assistant"))
                    .cloned()
            },
            WAIT,
        )
        .await
        .expect("greeting DM");
    let buttons = serde_json::to_string(&dm.components).unwrap();
    assert!(buttons.contains("flexcord:agent"), "{buttons}");
    h.stop().await;
}
