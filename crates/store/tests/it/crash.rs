//! The crash test: a child process runs a scripted conversation against a local mock upstream
//! and is killed with SIGKILL right after a commit, right after an upstream call, and right
//! after recording a result; restarted on the same database, it finishes, and the mock has
//! applied every delivery exactly once (it honours the action id as an idempotency key, as
//! Discord honours `nonce` + `enforce_nonce`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flexcord_routing::{Action, ActionKind, BotReply, Event, Router, RouterConfig};
use flexcord_store::{
    Deliver, Engine, Error, EventSink, Failure, Outcome, Point, Receipt, Store, Worker,
    WorkerConfig,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const MARKER: &str = "FLEXCORD-CRASH-POINT";
const DONE: &str = "FLEXCORD-CRASH-DONE";

/// The mock upstream: `KEY\n` -> `ID\n`; a key seen before gets the same id and is not applied
/// again.
#[derive(Default)]
struct Mock {
    applied: HashMap<String, u64>,
    replays: u32,
}

fn start_mock() -> (String, Arc<Mutex<Mock>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let mock = Arc::new(Mutex::new(Mock::default()));
    let shared = mock.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mock = shared.clone();
            std::thread::spawn(move || serve(stream, &mock));
        }
    });
    (addr, mock)
}

fn serve(stream: TcpStream, mock: &Mutex<Mock>) {
    let mut writer = stream.try_clone().expect("clone");
    let mut line = String::new();
    if BufReader::new(stream).read_line(&mut line).is_err() {
        return;
    }
    let key = line.trim().to_owned();
    let id = {
        let mut m = mock.lock().expect("mock");
        let next = u64::try_from(m.applied.len()).unwrap_or(0) + 1;
        if m.applied.contains_key(&key) {
            m.replays += 1;
        }
        *m.applied.entry(key).or_insert(next)
    };
    let _ = writeln!(writer, "{id}");
}

/// Runs the child until it prints the marker (then SIGKILLs it) or finishes.
fn run_child(db_url: &str, mock: &str, crash_at: Option<&str>) -> bool {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "crash::crash_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("FLEXCORD_CRASH_CHILD", "1")
    .env("FLEXCORD_CRASH_DB", db_url)
    .env("FLEXCORD_CRASH_MOCK", mock)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(at) = crash_at {
        cmd.env("FLEXCORD_CRASH_AT", at);
    }
    let mut child = cmd.spawn().expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut done = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if line.contains(MARKER) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            return false;
        }
        if line.contains(DONE) {
            done = true;
        }
    }
    let status = child.wait().expect("child exits");
    assert!(status.success() && done, "child failed: {status}");
    true
}

#[test]
fn killed_at_each_point_delivers_exactly_once_sqlite() {
    if std::env::var("FLEXCORD_CRASH_CHILD").is_ok() {
        return;
    }
    let (addr, mock) = start_mock();
    for (point, nth) in [("commit", 4), ("called", 3), ("recorded", 5)] {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("crash.db").display());
        crash_and_check(&url, &addr, &mock, point, nth);
    }
}

#[test]
fn killed_at_each_point_delivers_exactly_once_postgres() {
    if std::env::var("FLEXCORD_CRASH_CHILD").is_ok() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let Some(base) = crate::common::database_url() else {
        return;
    };
    let (addr, mock) = start_mock();
    for (point, nth) in [("commit", 4), ("called", 3), ("recorded", 5)] {
        let (store, schema) = rt
            .block_on(crate::common::PgSchema::create())
            .expect("schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{}", schema.name());
        crash_and_check(&url, &addr, &mock, point, nth);
        rt.block_on(schema.drop(store));
    }
}

/// Kills the child at `point` (its `nth` occurrence), restarts it, and checks that the mock
/// applied each outbox action exactly once.
fn crash_and_check(url: &str, addr: &str, mock: &Mutex<Mock>, point: &str, nth: u32) {
    let before = mock.lock().expect("mock").applied.len();
    let replays_before = mock.lock().expect("mock").replays;
    assert!(
        !run_child(url, addr, Some(&format!("{point}:{nth}"))),
        "{point}: killed"
    );
    assert!(
        run_child(url, addr, None),
        "{point}: restarted and finished"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (counts, ids) = rt.block_on(async {
        let store = Store::connect(url).await.expect("opens");
        let counts = store.outbox_counts().await.expect("counts");
        let sql = "SELECT action_id FROM outbox";
        let ids: Vec<String> = if let Some(pool) = store.sqlite_pool() {
            sqlx::query_scalar(sql).fetch_all(pool).await.expect("ids")
        } else {
            let pool = store.pg_pool().expect("a backend");
            sqlx::query_scalar(sql).fetch_all(pool).await.expect("ids")
        };
        store.close().await;
        (counts, ids)
    });
    for (state, n) in &counts {
        if !matches!(*state, "done" | "dead") {
            assert_eq!(*n, 0, "{point}: {state} rows left: {counts:?}");
        }
    }
    let m = mock.lock().expect("mock");
    let prefix = format!("{url}#");
    let keys: Vec<&String> = m
        .applied
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .collect();
    assert_eq!(m.applied.len() - before, keys.len());
    // Each action was applied by the upstream exactly once, and nothing else was.
    assert_eq!(keys.len(), ids.len(), "{point}: {keys:?} vs {ids:?}");
    for id in &ids {
        assert!(
            m.applied.contains_key(&format!("{url}#{id}")),
            "{point}: {id} never applied"
        );
    }
    if point == "called" {
        assert!(
            m.replays > replays_before,
            "the re-run repeated the call, harmlessly"
        );
    }
    assert!(
        ids.len() >= 10,
        "{point}: the script produced {} actions",
        ids.len()
    );
}

/// The upstream client of the child: asks the mock with key `<db>#<action id>`.
struct MockDeliver {
    addr: String,
    scope: String,
}

impl Deliver for MockDeliver {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        let io = |e: std::io::Error| Failure::transient(e.to_string());
        let mut stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(io)?;
        let key = format!("{}#{}\n", self.scope, action.id);
        stream.write_all(key.as_bytes()).await.map_err(io)?;
        let mut line = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut line)
            .await
            .map_err(io)?;
        let n: u64 = line
            .trim()
            .parse()
            .map_err(|_| Failure::transient("bad mock answer"))?;
        Ok(match &action.kind {
            ActionKind::OpenDm { user } => Receipt::id((1000 + user.0).to_string()),
            ActionKind::CreateTwilioConversation { .. } => Receipt::id(format!("CH{n:032}")),
            ActionKind::OpenCase { .. } => Receipt::id(format!("CASE-{n:06}")),
            ActionKind::AskBot { .. } => Receipt::with_event(Event::BotReply {
                action_id: action.id.clone(),
                reply: BotReply {
                    messages: vec!["Let me find someone for you.".into()],
                    suggestions: Vec::new(),
                    handoff: true,
                    ..BotReply::default()
                },
            }),
            _ => Receipt::id(n.to_string()),
        })
    }
}

/// Dies (prints the marker, then waits for SIGKILL) at the configured point.
struct Crash {
    point: String,
    nth: u32,
    seen: AtomicU32,
}

impl Crash {
    fn from_env() -> Option<Arc<Self>> {
        let spec = std::env::var("FLEXCORD_CRASH_AT").ok()?;
        let (point, nth) = spec.split_once(':')?;
        Some(Arc::new(Self {
            point: point.to_owned(),
            nth: nth.parse().ok()?,
            seen: AtomicU32::new(0),
        }))
    }

    fn at(&self, point: &str) {
        if point == self.point && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            println!("{MARKER} {point}");
            let _ = std::io::stdout().flush();
            std::thread::sleep(Duration::from_secs(120));
        }
    }
}

/// Applies events through the engine; "after the commit" is right after each apply.
struct Sink {
    engine: Engine,
    crash: Option<Arc<Crash>>,
}

impl EventSink for Sink {
    async fn send(&self, event: Event) -> Result<(), Error> {
        self.engine.handle(event).await?;
        if let Some(c) = &self.crash {
            c.at("commit");
        }
        Ok(())
    }
}

#[test]
fn crash_child() {
    if std::env::var("FLEXCORD_CRASH_CHILD").is_err() {
        return;
    }
    let db = std::env::var("FLEXCORD_CRASH_DB").expect("db");
    let addr = std::env::var("FLEXCORD_CRASH_MOCK").expect("mock");
    let crash = Crash::from_env();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async move {
        let store = Store::connect(&db).await.expect("opens");
        let engine = Engine::new(store.clone(), Router::new(RouterConfig::default()));
        let sink = Sink {
            engine,
            crash: crash.clone(),
        };
        let probe_crash = crash.clone();
        let worker = Worker::new(
            store.clone(),
            MockDeliver {
                addr,
                scope: db.clone(),
            },
        )
        .config(WorkerConfig {
            owner: format!("child-{}", std::process::id()),
            lease: Duration::from_millis(300),
            poll: Duration::from_millis(20),
            ..WorkerConfig::default()
        })
        .probe(move |point, _| {
            if let Some(c) = &probe_crash {
                match point {
                    Point::Called => c.at("called"),
                    Point::Recorded => c.at("recorded"),
                    _ => {}
                }
            }
        });
        // Results recorded by a killed run are applied first (idempotent).
        worker.refeed(&sink, Duration::ZERO).await.expect("refeed");
        // The script: re-sent on every start, applied once (dedupe keys).
        for event in [
            crate::common::dm(1, 101, "my order is late"),
            crate::common::dm(2, 201, "I want a refund"),
        ] {
            sink.send(event).await.expect("applies");
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the outbox did not drain"
            );
            if worker.run_once(&sink).await.expect("worker") == Outcome::Idle {
                let counts = store.outbox_counts().await.expect("counts");
                let busy = counts
                    .iter()
                    .filter(|(s, _)| !matches!(*s, "done" | "dead"))
                    .map(|(_, n)| n)
                    .sum::<i64>();
                if busy == 0 {
                    break;
                }
                worker
                    .refeed(&sink, Duration::from_millis(200))
                    .await
                    .expect("refeed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        println!("{DONE}");
    });
}
