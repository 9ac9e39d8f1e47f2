//! The built binary killed (SIGKILL) with deliveries in its outbox, then started again on the
//! same `SQLite` file: the dead process's claims are taken over within seconds (its heartbeat
//! stops; the 60 s lease is not waited out), every message reaches its side exactly once and
//! the journey completes.

use std::time::Duration;

use flexcord_cases::CaseStatus;
use flexcord_testkit::twilio::{Fault, TaskEnd};

use crate::bridge::{WAIT, app_env, button, emulators, free_port};
use crate::process::{AppProcess, dm_count, hand_off_to, wait_dm};
use crate::support::{eventually, outbox_rows};

#[tokio::test]
async fn killed_mid_delivery_and_restarted_delivers_each_message_once() {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let emulators = emulators(&public).await;
    let (discord, twilio) = (&emulators.discord, &emulators.twilio);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
    let mut env = app_env(&emulators, &format!("127.0.0.1:{port}"), &db);
    // The default 60 s lease: a killed worker's claim is taken over once its heartbeat is
    // 10 s old, not when the lease ends.
    for (k, v) in [
        ("FLEXCORD_OUTBOX__BASE_BACKOFF", "100ms"),
        ("FLEXCORD_OUTBOX__MAX_BACKOFF", "500ms"),
        ("FLEXCORD_OUTBOX__MAX_ATTEMPTS", "1000"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let mut app = AppProcess::spawn(&env, dir.path(), "flexcord");
    app.ready().await;
    discord
        .wait_for(|s| s.shard_connected(0), WAIT)
        .await
        .expect("shard 0 connects");
    let alice = discord.user_id("alice").unwrap();
    let sid = hand_off_to(discord, twilio, alice, "agent:alice").await;
    let author = format!("discord:{alice}");

    // Twilio holds every message post: the first one is in flight when the process dies, the
    // later actions of the conversation (the other posts, the agent's reply to Discord) wait
    // behind it, as the outbox delivers a conversation's actions in order.
    twilio.inject(
        Fault::on("POST", "/v1/Conversations/*/Messages").latency(Duration::from_secs(120)),
    );
    let lines = ["crash one", "crash two", "crash three"];
    for line in lines {
        discord.inject_dm(alice, line).unwrap();
    }
    let mut reply_sent = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    let before_kill = loop {
        let rows = outbox_rows(&db).await;
        let posts_waiting = rows
            .iter()
            .filter(|r| {
                r.kind == "post_to_twilio" && matches!(r.state.as_str(), "pending" | "running")
            })
            .count();
        let in_flight = rows
            .iter()
            .any(|r| r.kind == "post_to_twilio" && r.state == "running");
        let reply_waiting = rows
            .iter()
            .any(|r| r.kind == "send_dm" && r.state == "pending");
        if posts_waiting == 3 && in_flight && reply_waiting {
            break rows;
        }
        if posts_waiting == 3 && in_flight && !reply_sent {
            // The agent answers once Alice's messages are queued: the reply waits behind them.
            twilio
                .agent("agent:alice")
                .send(&sid, "Checking your account now.")
                .unwrap();
            reply_sent = true;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never waiting in the outbox: {rows:#?}\n{}",
            app.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    app.kill();

    // Nothing reached either side while the process lived.
    assert!(
        !twilio
            .messages(&sid)
            .iter()
            .any(|m| m.body.as_deref().is_some_and(|b| b.starts_with("crash"))),
        "{before_kill:#?}"
    );
    assert_eq!(dm_count(discord, alice, "Checking your account now."), 0);
    twilio.clear_faults();

    let restarted = std::time::Instant::now();
    let mut app = AppProcess::spawn(&env, dir.path(), "flexcord");
    app.ready().await;
    let posted = eventually("the three messages reach the agent", WAIT, || async {
        let seen: Vec<String> = twilio
            .messages(&sid)
            .into_iter()
            .filter(|m| m.author == author)
            .filter_map(|m| m.body)
            .filter(|b| b.starts_with("crash"))
            .collect();
        (seen.len() >= 3).then_some(seen)
    })
    .await;
    assert_eq!(posted, lines, "each once, in order");
    // Well before the 60 s lease would have let the claim go.
    let took = restarted.elapsed();
    eprintln!(
        "the messages held by the killed process reached the agent {took:?} after the restart"
    );
    assert!(
        took < Duration::from_secs(15),
        "{took:?}\n{}",
        app.log_text()
    );
    wait_dm(discord, alice, "Checking your account now.").await;

    // The journey goes on with the restarted process: a reply, the close, the rating.
    let agent = twilio.agent("agent:alice");
    agent.send(&sid, "All fixed now.").unwrap();
    wait_dm(discord, alice, "All fixed now.").await;
    let task = twilio
        .tasks()
        .into_iter()
        .find(|t| t.conversation_sid.as_deref() == Some(sid.as_str()))
        .expect("the task");
    agent.end_task(&task.sid, TaskEnd::Completed).unwrap();
    let closed = wait_dm(discord, alice, "The agent closed this conversation").await;
    discord
        .inject_button(alice, &button(&closed, "fc:rate5:"))
        .unwrap();
    wait_dm(discord, alice, "Thanks for your feedback!").await;

    let config = flexcord::config::Config::load("", env.clone()).unwrap();
    let (cases, _) = flexcord::cases::open(&config.cases, None).await.unwrap();
    let case = eventually("the case is resolved and rated", WAIT, || async {
        cases
            .get("CASE-000001".parse().unwrap())
            .await
            .ok()
            .filter(|c| c.status == CaseStatus::Resolved && c.rating.is_some())
    })
    .await;
    assert_eq!(case.rating.map(|r| r.score), Some(5));
    assert!(
        cases.get("CASE-000002".parse().unwrap()).await.is_err(),
        "one case"
    );

    // Exactly once on both sides, and the outbox agrees.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for line in lines {
        let copies = twilio
            .messages(&sid)
            .iter()
            .filter(|m| m.body.as_deref() == Some(line))
            .count();
        assert_eq!(copies, 1, "{line}");
    }
    assert_eq!(dm_count(discord, alice, "Checking your account now."), 1);
    assert_eq!(dm_count(discord, alice, "All fixed now."), 1);
    let rows = outbox_rows(&db).await;
    assert!(
        rows.iter()
            .all(|r| !matches!(r.state.as_str(), "failed" | "dead" | "pending" | "running")),
        "{rows:#?}"
    );
    // The post in flight at the kill was taken over from the silent worker: a second attempt.
    let first_line = twilio
        .messages(&sid)
        .into_iter()
        .find(|m| m.body.as_deref() == Some("crash one"))
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r.upstream_id.as_deref() == Some(first_line.sid.as_str()))
        .unwrap_or_else(|| panic!("the first post's row: {rows:#?}"));
    assert_eq!(row.attempts, 2, "{row:?}");
    assert!(app.terminate().await, "clean exit on SIGTERM");
    discord.shutdown();
}
