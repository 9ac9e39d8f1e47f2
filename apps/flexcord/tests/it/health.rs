//! Health and housekeeping end to end: `/readyz` turns 503 when a part of the process is down
//! (a shard without a session past its grace, a worker that cannot heartbeat, the store), a
//! shard Discord closes for good stops the process with exit code 78, quiet cases are closed
//! and old keys pruned on the app's schedule, and `flexcord outbox retry` re-queues a dead
//! letter whose conversation is open and refuses one whose conversation is closed.

use std::time::Duration;

use flexcord_cases::{CaseKind, CaseStatus, NewCase, Requester, StatusChange, TimelineEvent};
use flexcord_testkit::discord::SlashCommand;
use flexcord_testkit::twilio::Fault;
use serde_json::Value;

use crate::bridge::{Bridge, WAIT, app_env, emulators, free_port};
use crate::process::AppProcess;
use crate::support::{eventually, outbox_rows, sample, scrape};

/// `GET <base>/readyz`: the status and the JSON body.
async fn readyz(base: &str) -> (u16, Value) {
    let res = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("/readyz answers");
    let status = res.status().as_u16();
    (status, res.json().await.expect("a JSON body"))
}

/// Waits until `/readyz` answers `status`; returns its body.
async fn readyz_becomes(base: &str, status: u16, within: Duration) -> Value {
    eventually(&format!("/readyz answers {status}"), within, || async {
        let (got, body) = readyz(base).await;
        (got == status).then_some(body)
    })
    .await
}

fn failing(body: &Value) -> Vec<String> {
    body["failing"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_shard_closed_for_good_stops_the_process_with_exit_code_78() {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let emulators = emulators(&public).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("flexcord.db").display());
    let env = app_env(&emulators, &format!("127.0.0.1:{port}"), &db);

    // A running process whose shard Discord closes with 4004 (the token was revoked).
    let mut app = AppProcess::spawn(&env, dir.path(), "revoked");
    app.ready().await;
    emulators
        .discord
        .wait_for(|s| s.shard_connected(0), WAIT)
        .await
        .expect("shard 0 connects");
    let (status, body) = readyz(&app.base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["shards"]["ok"], true, "{body}");
    assert_eq!(
        emulators
            .discord
            .close_connections(Some(0), 4004, "Authentication failed."),
        1
    );
    let status = app.exit_status().await;
    let log = app.log_text();
    assert_eq!(status.code(), Some(78), "{log}");
    assert!(
        log.contains("Discord closed shard 0 for good: 4004 Authentication Failed: discord.token is not a valid bot token"),
        "{log}"
    );

    // A process started with a token Discord refuses exits the same way.
    let port = free_port();
    let mut env = app_env(&emulators, &format!("127.0.0.1:{port}"), &db);
    env.retain(|(k, _)| k != "FLEXCORD_DISCORD__TOKEN");
    env.push(("FLEXCORD_DISCORD__TOKEN".into(), "not-the-bot-token".into()));
    let mut app = AppProcess::spawn(&env, dir.path(), "bad-token");
    let status = app.exit_status().await;
    let log = app.log_text();
    assert_eq!(status.code(), Some(78), "{log}");
    assert!(
        log.contains("discord.token is not a valid bot token"),
        "{log}"
    );
    emulators.discord.shutdown();
}

#[tokio::test]
async fn readyz_fails_once_a_shard_has_no_session_past_its_grace() {
    let b = Bridge::start_with(&[("FLEXCORD_DISCORD__READY_GRACE", "1s")]).await;
    let body = readyz_becomes(&b.public, 200, WAIT).await;
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(
        body["checks"]["shards"]["detail"], "shard 0 connected",
        "{body}"
    );
    for check in ["running", "shards", "outbox", "timers", "store"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
    }
    // Discord goes away: the shard reconnects in vain; within the grace the process stays
    // ready, after it not.
    b.discord.shutdown();
    let body = readyz_becomes(&b.public, 503, WAIT).await;
    assert_eq!(failing(&body), vec!["shards"], "{body}");
    let detail = body["checks"]["shards"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("shard 0 without a gateway session for"),
        "{body}"
    );
    let metrics = scrape(&b.public).await;
    assert_eq!(
        sample(&metrics, r#"flexcord_ready_check{check="shards"}"#),
        Some(0.0),
        "{metrics}"
    );
    b.stop().await;
}

#[tokio::test]
async fn readyz_fails_while_the_outbox_worker_cannot_heartbeat() {
    let b = Bridge::start().await;
    readyz_becomes(&b.public, 200, WAIT).await;
    // Another process holds the database's write lock: the worker's heartbeats (writes) wait
    // and fail, while reads still answer. Other instances would take its deliveries over once
    // its heartbeat is stale, and so its readiness fails then too.
    let options: sqlx::sqlite::SqliteConnectOptions = b.db.parse().expect("sqlite URL");
    let mut lock = sqlx::ConnectOptions::connect(&options)
        .await
        .expect("the app's database opens");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .expect("the write lock");
    let body = readyz_becomes(&b.public, 503, WAIT).await;
    assert_eq!(failing(&body), vec!["outbox"], "{body}");
    let detail = body["checks"]["outbox"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the outbox worker has not beaten for"),
        "{body}"
    );
    assert_eq!(body["checks"]["store"]["ok"], true, "reads answer: {body}");
    sqlx::query("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("unlock");
    drop(lock);
    readyz_becomes(&b.public, 200, WAIT).await;
    b.stop().await;
}

/// A TCP proxy in front of Postgres that the test can take down (every connection cut, new
/// ones refused) and bring back.
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn readyz_fails_while_the_store_is_down() {
    let Some(admin) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(
            std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
            "DATABASE_URL is unset but FLEXCORD_CI=1: the Postgres tests must run"
        );
        eprintln!("skipped: DATABASE_URL is unset, so this Postgres test does not run");
        return;
    };
    let name = format!(
        "flexcord_health_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .expect("postgres reachable at DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("DATABASE_URL parses");
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    url.set_path(&name);
    let store_url = url.to_string();

    let b = Bridge::start_with(&[("FLEXCORD_STORE__URL", store_url.as_str())]).await;
    let body = readyz_becomes(&b.public, 200, WAIT).await;
    assert!(
        body["checks"]["store"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("postgres")),
        "{body}"
    );
    proxy.down();
    let body = readyz_becomes(&b.public, 503, WAIT).await;
    assert!(failing(&body).contains(&"store".to_owned()), "{body}");
    assert_eq!(body["checks"]["store"]["ok"], false, "{body}");
    assert_eq!(body["checks"]["shards"]["ok"], true, "{body}");
    proxy.up();
    readyz_becomes(&b.public, 200, WAIT).await;
    b.stop().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await
        .expect("drop database");
}

#[tokio::test]
async fn quiet_cases_are_closed_and_old_keys_pruned_on_the_apps_schedule() {
    let b = Bridge::start_with(&[
        ("FLEXCORD_CASES__CLOSE_AFTER", "1s"),
        ("FLEXCORD_STORE__HOUSEKEEPING_INTERVAL", "200ms"),
    ])
    .await;
    // Keys of events handled long ago, and one of an event handled now.
    let options: sqlx::sqlite::SqliteConnectOptions = b.db.parse().expect("sqlite URL");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.busy_timeout(Duration::from_secs(10)))
        .await
        .expect("the app's database opens");
    let now = flexcord_store::now().millis();
    for (key, at) in [
        ("dm:ancient-1", now - 30 * 86_400_000),
        ("dm:ancient-2", now - 8 * 86_400_000),
        ("dm:recent", now),
    ] {
        sqlx::query("INSERT INTO processed_events (event_key, processed_at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(&pool)
            .await
            .expect("insert");
    }
    let requester = Requester {
        discord_id: "4021".into(),
        name: "Alice".into(),
    };
    let resolved = b
        .cases
        .create(NewCase::new(
            CaseKind::Support,
            "Resolved and quiet",
            requester.clone(),
        ))
        .await
        .expect("create");
    b.cases
        .transition(
            resolved.number,
            StatusChange::new(CaseStatus::Resolved, "agent:zoe"),
        )
        .await
        .expect("resolve");
    let open = b
        .cases
        .create(NewCase::new(CaseKind::Support, "Still open", requester))
        .await
        .expect("create");

    let closed = eventually("the quiet case is closed", WAIT, || async {
        let case = b.cases.get(resolved.number).await.ok()?;
        (case.status == CaseStatus::Closed).then_some(case)
    })
    .await;
    let timeline = b.cases.timeline(closed.number).await.expect("timeline");
    let last = timeline.last().expect("entries");
    assert_eq!(last.actor, "flexcord");
    assert_eq!(
        last.event,
        TimelineEvent::StatusChanged {
            from: CaseStatus::Resolved,
            to: CaseStatus::Closed,
            reason: Some("quiet".into()),
        }
    );
    assert_eq!(
        b.cases.get(open.number).await.expect("get").status,
        CaseStatus::New
    );
    let keys: Vec<String> = eventually("the old keys are pruned", WAIT, || async {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT event_key FROM processed_events WHERE event_key LIKE 'dm:%'",
        )
        .fetch_all(&pool)
        .await
        .ok()?;
        (!keys.iter().any(|k| k.starts_with("dm:ancient"))).then_some(keys)
    })
    .await;
    assert_eq!(keys, vec!["dm:recent".to_owned()], "the recent key stays");
    pool.close().await;
    let metrics = scrape(&b.public).await;
    assert!(
        sample(&metrics, "flexcord_cases_closed_quiet_total").is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            r#"flexcord_pruned_rows_total{table="processed_events"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{metrics}"
    );
    b.stop().await;
}

/// `flexcord outbox retry <args>` against the store at `db`: exit code and output. Awaited, not
/// blocked on: the app under test runs on this test's runtime and must go on committing (a
/// blocked runtime would hold the app's open write transaction, and the CLI would meet a
/// locked database).
async fn retry_cli(db: &str, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_flexcord"))
        .args(["outbox", "retry"])
        .args(args)
        .env_clear()
        .env("FLEXCORD_STORE__URL", db)
        .output()
        .await
        .expect("flexcord runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn outbox_retry_delivers_a_dead_letter_and_refuses_one_of_a_closed_conversation() {
    let b = Bridge::start_with(&[
        ("FLEXCORD_OUTBOX__MAX_ATTEMPTS", "2"),
        ("FLEXCORD_OUTBOX__BASE_BACKOFF", "50ms"),
        ("FLEXCORD_OUTBOX__MAX_BACKOFF", "100ms"),
    ])
    .await;
    let alice = b.discord.user_id("alice").unwrap();
    // Twilio fails every update of a conversation: the hand-off's attributes (the case number)
    // are given up.
    b.twilio
        .inject(Fault::on("POST", "/v1/Conversations/*").server_error());
    let sid = b.hand_off(alice).await;
    let dead = eventually("the attributes update is dead-lettered", WAIT, || async {
        outbox_rows(&b.db)
            .await
            .into_iter()
            .find(|r| r.kind == "update_twilio_attributes" && r.state == "dead")
    })
    .await;
    let attributes = |sid: &str| {
        b.twilio
            .conversation(sid)
            .map(|c| c.attributes)
            .unwrap_or_default()
    };
    assert!(
        !attributes(&sid).contains("CASE-000001"),
        "{}",
        attributes(&sid)
    );

    // The cause fixed, the operator re-queues it; the running app delivers it.
    b.twilio.clear_faults();
    let (code, out) = retry_cli(&b.db, &[&dead.action_id]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "re-queued {} (update_twilio_attributes); CASE-000001 gets a timeline entry",
            dead.action_id
        )),
        "{out}"
    );
    b.until("the case number reaches the Twilio conversation", |t| {
        t.conversation(&sid)
            .is_some_and(|c| c.attributes.contains("CASE-000001"))
    })
    .await;
    let row = eventually("the retried row is done", WAIT, || async {
        outbox_rows(&b.db)
            .await
            .into_iter()
            .find(|r| r.action_id == dead.action_id && r.state == "done")
    })
    .await;
    assert_eq!(row.attempts, 1, "counted afresh: {row:?}");
    let number = "CASE-000001".parse().unwrap();
    eventually("the case shows the retry", WAIT, || async {
        b.cases
            .timeline(number)
            .await
            .ok()?
            .iter()
            .find_map(|e| match &e.event {
                TimelineEvent::Message { text }
                    if text.contains("re-queued") && text.contains(&dead.action_id) =>
                {
                    Some(())
                }
                _ => None,
            })
    })
    .await;
    eventually("the metric counts the retry", WAIT, || async {
        let metrics = scrape(&b.public).await;
        (sample(&metrics, "flexcord_outbox_dead_letters_retried_total") == Some(1.0)).then_some(())
    })
    .await;

    // Alice closes her case; closing the Flex channel fails for good: that dead letter belongs
    // to a closed conversation and is not re-queued.
    b.twilio
        .inject(Fault::on("POST", "/v1/Interactions/*/Channels/*").server_error());
    b.discord
        .inject_slash(
            alice,
            &SlashCommand::new("case").subcommand("close", [("number", "CASE-000001")]),
        )
        .unwrap();
    let closing = eventually("closing the channel is dead-lettered", WAIT, || async {
        outbox_rows(&b.db)
            .await
            .into_iter()
            .find(|r| r.kind == "close_twilio" && r.state == "dead")
    })
    .await;
    b.twilio.clear_faults();
    let (code, out) = retry_cli(&b.db, &["--all-dead"]).await;
    assert_eq!(code, 0, "--all-dead reports, whatever it refuses: {out}");
    assert!(
        out.contains(&format!(
            "not re-queued {}: its conversation is closed (by requester)",
            closing.action_id
        )),
        "{out}"
    );
    assert!(out.contains("0 re-queued, 1 not"), "{out}");
    let (code, out) = retry_cli(&b.db, &[&closing.action_id]).await;
    assert_eq!(code, 1, "named and refused: {out}");
    let still = outbox_rows(&b.db)
        .await
        .into_iter()
        .find(|r| r.action_id == closing.action_id)
        .unwrap();
    assert_eq!(still.state, "dead");
    b.stop().await;
}
