//! The executor of routing actions against the Discord emulator and a `SQLite` case store.

use std::sync::Arc;

use flexcord::deliver::Upstreams;
use flexcord::deliver::bot::BotExecutor;
use flexcord::deliver::cases::CaseExecutor;
use flexcord::deliver::discord::DiscordExecutor;
use flexcord_cases::{CaseStatus, CaseStore, TimelineEvent};
use flexcord_routing::{
    Action, ActionId, ActionKind, Button, CaseNumber, CaseUpdate, ChannelId, Event, MessageId,
    ResolvedBy, Speaker, Timestamp, TranscriptEntry, UserId,
};
use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator};

use crate::support::deliver;

/// The outbox's upstreams without Twilio: Discord, the case store and the embedded agent.
async fn setup() -> (
    DiscordEmulator,
    Upstreams,
    Arc<dyn CaseStore>,
    tempfile::TempDir,
) {
    flexcord::install_crypto_provider();
    let discord = DiscordEmulator::start(DiscordConfig::default().token("t"))
        .await
        .unwrap();
    let http = twilight_http::Client::builder()
        .token("t".to_owned())
        .proxy(discord.proxy_host(), true)
        .build();
    let dir = tempfile::tempdir().unwrap();
    let cases = flexcord_cases::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    let kb = flexcord_kb::KnowledgeBase::sample().unwrap();
    let agent = flexcord_kb::build_agent(
        &flexcord_kb::AgentConfig::new(flexcord_kb::AgentMode::Embedded),
        kb,
    )
    .unwrap();
    let exec = Upstreams {
        discord: DiscordExecutor::new(
            Arc::new(http),
            twilight_model::id::Id::new(discord.application_id()),
        ),
        cases: CaseExecutor::new(cases.clone(), "flexcord-bot"),
        bot: BotExecutor::new(agent),
        twilio: None,
    };
    (discord, exec, cases, dir)
}

fn action(seq: u64, kind: ActionKind) -> Action {
    Action {
        id: ActionId::new("7-100", seq),
        kind,
    }
}

#[tokio::test]
async fn send_dm_is_idempotent_and_renders_buttons_and_suggestions() {
    let (discord, exec, _cases, _dir) = setup().await;
    let alice = discord.user_id("alice").unwrap();
    let open = action(
        1,
        ActionKind::OpenDm {
            user: UserId(alice),
        },
    );
    let Some(Event::DmOpened { channel, .. }) = deliver(&exec, &open).await else {
        panic!("DM opened")
    };
    let send = action(
        2,
        ActionKind::SendDm {
            channel,
            text: "Here is what I found".into(),
            buttons: vec![Button::TalkToAgent],
            suggestions: vec!["[Reset your password](https://help.example.com/reset)".into()],
            files: vec![],
            forwarded: None,
        },
    );
    let first = deliver(&exec, &send).await;
    let again = deliver(&exec, &send).await;
    let Some(Event::Delivered {
        upstream_id: Some(id1),
        ..
    }) = first
    else {
        panic!("{first:?}")
    };
    let Some(Event::Delivered {
        upstream_id: Some(id2),
        ..
    }) = again
    else {
        panic!("{again:?}")
    };
    assert_eq!(id1, id2, "the retry returns the first message");
    let dms = discord.dms_to(alice);
    assert_eq!(dms.len(), 1, "posted once");
    assert_eq!(dms[0].content, "Here is what I found");
    assert_eq!(dms[0].embeds[0]["url"], "https://help.example.com/reset");
    assert_eq!(dms[0].embeds[0]["title"], "Reset your password");
    let buttons = serde_json::to_string(&dms[0].components).unwrap();
    assert!(buttons.contains("fc:agent:7-100"), "{buttons}");
}

#[tokio::test]
async fn edit_and_delete_dm_apply_once_and_a_repeated_delete_is_done() {
    let (discord, exec, _cases, _dir) = setup().await;
    let alice = discord.user_id("alice").unwrap();
    let open = action(
        1,
        ActionKind::OpenDm {
            user: UserId(alice),
        },
    );
    let Some(Event::DmOpened { channel, .. }) = deliver(&exec, &open).await else {
        panic!("DM opened")
    };
    let mut ids = Vec::new();
    for (seq, text) in [(2, "first part"), (3, "second part")] {
        let send = action(
            seq,
            ActionKind::SendDm {
                channel,
                text: text.into(),
                buttons: vec![],
                suggestions: vec![],
                files: vec![],
                forwarded: None,
            },
        );
        let Some(Event::Delivered {
            upstream_id: Some(id),
            ..
        }) = deliver(&exec, &send).await
        else {
            panic!("sent")
        };
        ids.push(MessageId(id.parse().unwrap()));
    }
    let edit = action(
        4,
        ActionKind::EditDm {
            channel,
            message: ids[0],
            text: "the whole answer".into(),
        },
    );
    assert!(matches!(
        deliver(&exec, &edit).await,
        Some(Event::Delivered { .. })
    ));
    let delete = action(
        5,
        ActionKind::DeleteDm {
            channel,
            message: ids[1],
        },
    );
    // A retried delete finds the message gone (Discord's 10008) and counts as done.
    for _ in 0..2 {
        assert!(
            matches!(deliver(&exec, &delete).await, Some(Event::Delivered { .. })),
            "delete delivered"
        );
    }
    let dms = discord.dms_to(alice);
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert_eq!(dms[0].id, ids[0].0);
    assert_eq!(dms[0].content, "the whole answer");
    assert_eq!(dms[0].edits, ["first part"]);
    let deletes: Vec<_> = discord
        .rest_calls()
        .into_iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.status)
        .collect();
    assert_eq!(deletes, [204, 404], "deleted, then already gone");
    // A message that never existed is also gone: done, not a retry loop.
    let missing = action(
        6,
        ActionKind::DeleteDm {
            channel,
            message: MessageId(42),
        },
    );
    assert!(matches!(
        deliver(&exec, &missing).await,
        Some(Event::Delivered { .. })
    ));
}

#[tokio::test]
async fn closed_dms_are_a_permanent_failure() {
    let (discord, exec, _cases, _dir) = setup().await;
    let alice = discord.user_id("alice").unwrap();
    let open = action(
        1,
        ActionKind::OpenDm {
            user: UserId(alice),
        },
    );
    let Some(Event::DmOpened { channel, .. }) = deliver(&exec, &open).await else {
        panic!("DM opened")
    };
    discord.block_dms(alice);
    let send = action(
        2,
        ActionKind::SendDm {
            channel,
            text: "hi".into(),
            buttons: vec![],
            suggestions: vec![],
            files: vec![],
            forwarded: None,
        },
    );
    match deliver(&exec, &send).await {
        Some(Event::DeliveryFailed {
            permanent, reason, ..
        }) => {
            assert!(permanent);
            assert!(
                reason.contains("50007") || reason.contains("403"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let missing = action(
        3,
        ActionKind::SendDm {
            channel: ChannelId(1),
            text: "x".into(),
            buttons: vec![],
            suggestions: vec![],
            files: vec![],
            forwarded: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &missing).await,
        Some(Event::DeliveryFailed {
            permanent: true,
            ..
        })
    ));
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one journey, read top to bottom
async fn case_actions_open_update_and_rate_a_case_once() {
    let (_discord, exec, cases, _dir) = setup().await;
    let transcript = vec![
        TranscriptEntry {
            speaker: Speaker::User,
            text: "My order is late".into(),
            at: Timestamp(1_700_000_000_000),
            name: Some("Alice".into()),
        },
        TranscriptEntry {
            speaker: Speaker::Bot,
            text: "Here are some articles".into(),
            at: Timestamp(1_700_000_001_000),
            name: None,
        },
    ];
    let open = action(
        1,
        ActionKind::OpenCase {
            requester: UserId(500),
            requester_name: Some("Alice".into()),
            subject: "My order is late".into(),
            transcript,
            conversation: "7-100".into(),
        },
    );
    for _ in 0..2 {
        match deliver(&exec, &open).await {
            Some(Event::CaseOpened { number, .. }) => {
                assert_eq!(number, CaseNumber::from("CASE-000001"));
            }
            other => panic!("{other:?}"),
        }
    }
    let number = CaseNumber::from("CASE-000001");
    let steps = [
        ActionKind::UpdateCase {
            number: number.clone(),
            update: CaseUpdate::Open {
                assignee: "agent@example.com".into(),
                assignee_name: Some("Dana".into()),
            },
            requester: None,
        },
        ActionKind::AnnotateCase {
            number: number.clone(),
            entry: TranscriptEntry {
                speaker: Speaker::Agent("agent@example.com".into()),
                text: "On it".into(),
                at: Timestamp(1_700_000_002_000),
                name: Some("Dana".into()),
            },
        },
        ActionKind::UpdateCase {
            number: number.clone(),
            update: CaseUpdate::Resolved {
                by: ResolvedBy::Agent,
            },
            requester: None,
        },
        ActionKind::UpdateCase {
            number: number.clone(),
            update: CaseUpdate::Rating { stars: 5 },
            requester: Some(UserId(500)),
        },
    ];
    for (i, kind) in steps.into_iter().enumerate() {
        let a = action(10 + i as u64, kind);
        assert!(
            matches!(deliver(&exec, &a).await, Some(Event::Delivered { .. })),
            "step {i}"
        );
    }
    let n = "CASE-000001".parse().unwrap();
    let case = cases.get(n).await.unwrap();
    assert_eq!(case.status, CaseStatus::Resolved);
    assert_eq!(case.requester.name, "Alice");
    assert_eq!(case.requester.discord_id, "500");
    assert_eq!(case.assignee.as_deref(), Some("agent@example.com"));
    assert_eq!(case.assignee_name.as_deref(), Some("Dana"));
    assert_eq!(case.rating.as_ref().map(|r| r.score), Some(5));
    let names: Vec<(String, Option<String>)> = cases
        .timeline(n)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event, TimelineEvent::Message { .. }))
        .map(|e| (e.actor, e.actor_name))
        .collect();
    assert_eq!(
        names,
        [
            ("discord:500".to_owned(), Some("Alice".to_owned())),
            ("flexcord-bot".to_owned(), None),
            ("agent@example.com".to_owned(), Some("Dana".to_owned())),
        ],
        "the timeline keeps the names the core gave"
    );
    let lines: Vec<(String, String)> = cases
        .timeline(n)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::Message { text } => Some((e.actor, text)),
            _ => None,
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            ("discord:500".to_owned(), "My order is late".to_owned()),
            (
                "flexcord-bot".to_owned(),
                "Here are some articles".to_owned()
            ),
            ("agent@example.com".to_owned(), "On it".to_owned()),
        ],
        "in order, each once"
    );
    // The timeline shows the changes and the agent's message in the order they were delivered,
    // although the message's own time (2023) is older than the changes the store stamped.
    let order: Vec<String> = cases
        .timeline(n)
        .await
        .unwrap()
        .into_iter()
        .map(|e| match e.event {
            TimelineEvent::Message { text } => format!("says {text}"),
            TimelineEvent::Assigned { .. } => "assigned".to_owned(),
            TimelineEvent::StatusChanged { to, .. } => format!("status {to}"),
            TimelineEvent::Rated { .. } => "rated".to_owned(),
            _ => "other".to_owned(),
        })
        .skip_while(|e| e != "assigned")
        .collect();
    assert_eq!(
        order,
        [
            "assigned",
            "status open",
            "says On it",
            "status resolved",
            "rated"
        ],
        "in the order they happened"
    );
    // A bad case number is a permanent failure, not a retry loop.
    let bad = action(
        20,
        ActionKind::UpdateCase {
            number: CaseNumber::from("nope"),
            update: CaseUpdate::Rating { stars: 1 },
            requester: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &bad).await,
        Some(Event::DeliveryFailed {
            permanent: true,
            ..
        })
    ));
    // A Twilio action without a Twilio client is a dead letter, not a retry loop.
    let twilio = action(
        21,
        ActionKind::CloseTwilio {
            sid: "CH0123456789abcdef0123456789abcdef".into(),
            interaction: None,
        },
    );
    assert!(matches!(
        deliver(&exec, &twilio).await,
        Some(Event::DeliveryFailed { permanent: true, ref reason, .. }) if reason.contains("no Twilio client")
    ));
}
