//! Two instances of the built binary on one Postgres database, splitting the Discord shards
//! (the one with shard 0 receives the DMs), with Twilio's webhooks sent to each in turn through
//! a round-robin proxy: the journey completes with one case and no message twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use flexcord_cases::CaseStatus;
use flexcord_testkit::twilio::TaskEnd;

use crate::bridge::{WAIT, app_env, button, emulators, free_port};
use crate::process::{AppProcess, dm_count, hand_off_to, wait_dm};
use crate::support::{eventually, outbox_rows};

/// The Postgres URL of the environment. In CI (`FLEXCORD_CI=1`) it must be set; elsewhere the
/// test is skipped with a message when it is not.
pub(crate) fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
                "DATABASE_URL is unset but FLEXCORD_CI=1: the multi-instance tests must run in CI"
            );
            eprintln!("skipped: DATABASE_URL is unset, so this Postgres test does not run");
            None
        }
    }
}

/// A database of its own for one test, dropped by [`FreshDatabase::drop`].
pub(crate) struct FreshDatabase {
    admin: String,
    name: String,
    pub(crate) url: String,
}

impl FreshDatabase {
    pub(crate) async fn create(admin: String, prefix: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("flexcord_{prefix}_{}_{nanos}", std::process::id());
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin)
            .await
            .expect("postgres reachable at DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let mut url = url::Url::parse(&admin).expect("DATABASE_URL parses");
        url.set_path(&name);
        Self {
            admin,
            name,
            url: url.to_string(),
        }
    }

    pub(crate) async fn drop(self) {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.admin)
            .await
            .expect("postgres reachable");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&pool)
        .await
        .expect("drop database");
        pool.close().await;
    }
}

/// A load balancer in front of the instances: request `n` goes to backend `n % backends`.
struct Proxy {
    backends: Vec<String>,
    next: AtomicUsize,
    client: reqwest::Client,
    /// `(backend index, path, status)` of every forwarded request.
    log: std::sync::Mutex<Vec<(usize, String, u16)>>,
}

async fn forward(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let i = proxy.next.fetch_add(1, Ordering::SeqCst) % proxy.backends.len();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut out = proxy
        .client
        .request(parts.method.clone(), format!("{}{path}", proxy.backends[i]));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let (status, body) = match out.body(body).send().await {
        Ok(res) => {
            let status = res.status();
            (status, res.bytes().await.unwrap_or_default())
        }
        Err(_) => (axum::http::StatusCode::BAD_GATEWAY, Bytes::new()),
    };
    proxy
        .log
        .lock()
        .unwrap()
        .push((i, parts.uri.path().to_owned(), status.as_u16()));
    (status, body).into_response()
}

async fn start_proxy(port: u16, backends: Vec<String>) -> Arc<Proxy> {
    let proxy = Arc::new(Proxy {
        backends,
        next: AtomicUsize::new(0),
        client: reqwest::Client::new(),
        log: std::sync::Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the proxy listens");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    proxy
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one journey over two instances, checked end to end
async fn two_instances_on_one_postgres_split_shards_and_webhooks_without_duplicates() {
    let Some(admin) = database_url() else {
        return;
    };
    let db = FreshDatabase::create(admin, "scale").await;
    let proxy_port = free_port();
    let public = format!("http://127.0.0.1:{proxy_port}");
    let emulators = emulators(&public).await;
    let (discord, twilio) = (&emulators.discord, &emulators.twilio);
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let envs: Vec<Vec<(String, String)>> = ports
        .iter()
        .zip(["0..1 of 2", "1..2 of 2"])
        .map(|(port, shards)| {
            let mut env = app_env(&emulators, &format!("127.0.0.1:{port}"), &db.url);
            for (k, v) in [
                ("FLEXCORD_DISCORD__SHARDS", shards),
                ("FLEXCORD_OUTBOX__BASE_BACKOFF", "100ms"),
                ("FLEXCORD_OUTBOX__MAX_BACKOFF", "500ms"),
                ("FLEXCORD_OUTBOX__LEASE", "10s"),
            ] {
                env.push((k.to_owned(), v.to_owned()));
            }
            env
        })
        .collect();
    // Both start at once on the empty database (their migrations race).
    let mut a = AppProcess::spawn(&envs[0], dir.path(), "instance-a");
    let mut b = AppProcess::spawn(&envs[1], dir.path(), "instance-b");
    a.ready().await;
    b.ready().await;
    let proxy = start_proxy(proxy_port, vec![a.base.clone(), b.base.clone()]).await;
    discord
        .wait_for(|s| s.shard_connected(0) && s.shard_connected(1), WAIT)
        .await
        .expect("both shards connect");
    let sessions = discord.state(flexcord_testkit::discord::DiscordState::sessions);
    assert!(
        sessions.iter().all(|s| s.shard[1] == 2),
        "two shards in all: {sessions:?}"
    );

    let alice = discord.user_id("alice").unwrap();
    let sid = hand_off_to(discord, twilio, alice, "agent:alice").await;
    let agent = twilio.agent("agent:alice");
    let author = format!("discord:{alice}");
    for n in 1..=4 {
        agent.send(&sid, &format!("agent line {n}")).unwrap();
        wait_dm(discord, alice, &format!("agent line {n}")).await;
        discord.inject_dm(alice, &format!("user line {n}")).unwrap();
        let line = format!("user line {n}");
        eventually("the user's line reaches the agent", WAIT, || async {
            twilio
                .messages(&sid)
                .iter()
                .any(|m| m.author == author && m.body.as_deref() == Some(line.as_str()))
                .then_some(())
        })
        .await;
    }
    let task = twilio
        .tasks()
        .into_iter()
        .find(|t| t.conversation_sid.as_deref() == Some(sid.as_str()))
        .expect("the task");
    agent.end_task(&task.sid, TaskEnd::Completed).unwrap();
    let closed = wait_dm(discord, alice, "The agent closed this conversation").await;
    discord
        .inject_button(alice, &button(&closed, "fc:rate4:"))
        .unwrap();
    wait_dm(discord, alice, "Thanks for your feedback!").await;

    let config = flexcord::config::Config::load("", envs[0].clone()).unwrap();
    let (cases, _) = flexcord::cases::open(&config.cases, None).await.unwrap();
    let case = eventually("the case is resolved and rated", WAIT, || async {
        cases
            .get("CASE-000001".parse().unwrap())
            .await
            .ok()
            .filter(|c| c.status == CaseStatus::Resolved && c.rating.is_some())
    })
    .await;
    assert_eq!(case.rating.map(|r| r.score), Some(4));
    assert!(
        cases.get("CASE-000002".parse().unwrap()).await.is_err(),
        "one case"
    );
    eventually("the conversation is closed in Twilio", WAIT, || async {
        twilio
            .conversation(&sid)
            .filter(|c| c.state == "closed")
            .map(|_| ())
    })
    .await;
    // Let anything late (a duplicate delivery) land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Twilio: one conversation, one interaction and task, no message twice.
    assert_eq!(twilio.conversations().len(), 1);
    assert_eq!(twilio.tasks().len(), 1);
    assert_eq!(twilio.interactions().len(), 1);
    let mut lines: Vec<(String, String)> = twilio
        .messages(&sid)
        .into_iter()
        .map(|m| (m.author, m.body.unwrap_or_default()))
        .collect();
    let total = lines.len();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), total, "a Twilio message twice: {lines:#?}");
    for n in 1..=4 {
        assert!(lines.contains(&(author.clone(), format!("user line {n}"))));
    }
    // Discord: every bot DM once.
    let dms: Vec<String> = discord
        .dms_to(alice)
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m.content,
                serde_json::Value::Array(m.embeds.clone())
            )
        })
        .collect();
    let mut unique = dms.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), dms.len(), "a DM twice: {dms:#?}");
    for needle in [
        "Your case number is CASE-000001.",
        "has joined the conversation",
        "The agent closed this conversation",
        "Thanks for your feedback!",
    ] {
        assert_eq!(dm_count(discord, alice, needle), 1, "{needle}");
    }
    // Webhooks reached both instances, and every one was accepted.
    let log = proxy.log.lock().unwrap().clone();
    for i in 0..2 {
        assert!(
            log.iter()
                .any(|(b, path, _)| *b == i && path == "/twilio/outbound"),
            "instance {i} got no webhook: {log:?}"
        );
    }
    assert!(log.iter().all(|(_, _, status)| *status == 200), "{log:?}");
    // The shared outbox: everything delivered, nothing dead.
    let rows = outbox_rows(&db.url).await;
    assert!(
        rows.iter()
            .all(|r| matches!(r.state.as_str(), "delivered" | "done")),
        "{rows:#?}"
    );
    drop(cases);
    assert!(a.terminate().await, "instance a exits cleanly");
    assert!(b.terminate().await, "instance b exits cleanly");
    discord.shutdown();
    db.drop().await;
}
