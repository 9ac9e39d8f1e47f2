//! Fixtures: per-test SQLite files, per-test Postgres schemas, a scripted `Deliver`.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use flexcord_routing::{
    Action, ActionId, ActionKind, BotReply, ChannelId, Event, MessageId, Router, RouterConfig,
    Timestamp, UserId,
};
use flexcord_store::{Deliver, Engine, EventSink, Failure, Outcome, Receipt, Store, Worker};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub(crate) const T0: i64 = 1_795_392_000_000 + 10 * 3_600_000;

/// A DM action (`part <seq>`) of `scope` for each sequence number in `seqs`.
pub(crate) fn dms(scope: &str, seqs: std::ops::Range<u64>) -> Vec<Action> {
    seqs.map(|seq| Action {
        id: ActionId::new(scope, seq),
        kind: ActionKind::SendDm {
            channel: ChannelId(7),
            text: format!("part {seq}"),
            buttons: Vec::new(),
            suggestions: Vec::new(),
            files: Vec::new(),
            forwarded: None,
        },
    })
    .collect()
}

/// A fresh SQLite store in its own temporary directory.
pub(crate) async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Store::connect(&url).await.expect("sqlite store opens");
    (store, dir)
}

/// Two stores (two pools, as two app instances) on one fresh SQLite file.
pub(crate) async fn sqlite_pair() -> (Store, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let a = Store::connect(&url).await.expect("sqlite store opens");
    let b = Store::connect(&url)
        .await
        .expect("sqlite store opens twice");
    (a, b, dir)
}

/// The Postgres URL, or `None` (after saying why) when tests may skip.
pub(crate) fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
                "DATABASE_URL is unset but FLEXCORD_CI=1: the Postgres store tests must run"
            );
            eprintln!("skipped: DATABASE_URL is unset, so this Postgres test does not run");
            None
        }
    }
}

/// A Postgres schema of its own for one test.
pub(crate) struct PgSchema {
    url: String,
    name: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl PgSchema {
    pub(crate) async fn create() -> Option<(Store, PgSchema)> {
        let url = database_url()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "store_t_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("postgres reachable");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let options = PgConnectOptions::from_str(&url)
            .expect("DATABASE_URL parses")
            .options([("search_path", name.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(12)
            .connect_with(options)
            .await
            .expect("connect");
        let store = Store::from_pg_pool(pool).await.expect("migrations run");
        Some((store, PgSchema { url, name }))
    }

    /// Another store (its own pool) on this schema: a second app instance.
    pub(crate) async fn connect(&self) -> Store {
        self.connect_with(12).await
    }

    /// Another store on this schema whose pool holds at most `connections`.
    pub(crate) async fn connect_with(&self, connections: u32) -> Store {
        let options = PgConnectOptions::from_str(&self.url)
            .expect("DATABASE_URL parses")
            .options([("search_path", self.name.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await
            .expect("connect");
        Store::from_pg_pool(pool)
            .await
            .expect("migrations are in place")
    }

    /// The schema's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn drop(self, store: Store) {
        store.close().await;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .expect("postgres reachable");
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&admin)
            .await
            .expect("drop schema");
        admin.close().await;
    }
}

/// Runs a suite test against SQLite and against Postgres.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let (store, _dir) = crate::common::sqlite().await;
                    crate::suite::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some((store, schema)) = crate::common::PgSchema::create().await else {
                        return;
                    };
                    crate::suite::$name(store.clone()).await;
                    schema.drop(store).await;
                }
            }
        )*
    };
}
pub(crate) use both_backends;

/// Runs a test of two stores on one database (two pools, as two app instances) against
/// `SQLite` (two stores on one file) and Postgres (two stores on one schema whose pools hold
/// at most `pool` connections each, 12 unless given).
macro_rules! two_instances {
    (pool = $pool:expr; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let (a, b, _dir) = crate::common::sqlite_pair().await;
                    super::$name(a, b).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some((store, schema)) = crate::common::PgSchema::create().await else {
                        return;
                    };
                    let a = schema.connect_with($pool).await;
                    let b = schema.connect_with($pool).await;
                    super::$name(a.clone(), b.clone()).await;
                    a.close().await;
                    b.close().await;
                    schema.drop(store).await;
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        crate::common::two_instances!(pool = 12; $($name),*);
    };
}
pub(crate) use two_instances;

pub(crate) fn dm(user: u64, message: u64, text: &str) -> Event {
    Event::DirectMessage {
        user: UserId(user),
        channel: ChannelId(1000 + user),
        message: MessageId(message),
        text: text.to_owned(),
        attachments: Vec::new(),
        user_name: None,
    }
}

/// A fixed clock the test moves.
#[derive(Clone)]
pub(crate) struct Clock(Arc<Mutex<i64>>);

impl Clock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(T0)))
    }
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp(*self.0.lock().expect("clock"))
    }
    pub(crate) fn advance(&self, ms: i64) {
        *self.0.lock().expect("clock") += ms;
    }
}

pub(crate) fn engine(store: &Store, clock: &Clock) -> Engine {
    let c = clock.clone();
    Engine::new(store.clone(), Router::new(RouterConfig::default())).clock(move || c.now())
}

/// What the fake upstream does with each action.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Succeed,
    Transient,
    Permanent,
}

/// A scripted upstream: records every call, answers by kind.
#[derive(Clone)]
pub(crate) struct FakeUpstream {
    pub(crate) calls: Arc<Mutex<Vec<Action>>>,
    pub(crate) mode: Arc<Mutex<Mode>>,
    pub(crate) handoff: bool,
}

impl FakeUpstream {
    pub(crate) fn new(handoff: bool) -> Self {
        Self {
            calls: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Succeed)),
            handoff,
        }
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    pub(crate) fn kinds(&self) -> Vec<&'static str> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .map(|a| a.kind.name())
            .collect()
    }
}

impl Deliver for FakeUpstream {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        let n = {
            let mut calls = self.calls.lock().expect("calls");
            calls.push(action.clone());
            calls.len()
        };
        match *self.mode.lock().expect("mode") {
            Mode::Transient => return Err(Failure::transient("503 from upstream")),
            Mode::Permanent => return Err(Failure::permanent("Discord 50007: cannot DM")),
            Mode::Succeed => {}
        }
        Ok(match &action.kind {
            ActionKind::OpenDm { user } => Receipt::id((1000 + user.0).to_string()),
            ActionKind::CreateTwilioConversation { .. } => Receipt::id(format!("CH{n:032}")),
            ActionKind::OpenCase { .. } => Receipt::id(format!("CASE-{n:06}")),
            ActionKind::AskBot { .. } => Receipt::with_event(Event::BotReply {
                action_id: action.id.clone(),
                reply: BotReply {
                    messages: vec![format!("bot answer {n}")],
                    suggestions: Vec::new(),
                    handoff: self.handoff,
                    ..BotReply::default()
                },
            }),
            ActionKind::SendDm { .. } => Receipt::id((5_000_000 + n).to_string()),
            ActionKind::PostToTwilio { .. } => Receipt::id(format!("IM{n:032}")),
            _ => Receipt::done(),
        })
    }
}

/// Runs the worker until nothing is due; returns the outcomes.
pub(crate) async fn drain<D: Deliver>(worker: &Worker<D>, sink: &impl EventSink) -> Vec<Outcome> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        match worker.run_once(sink).await.expect("worker step") {
            Outcome::Idle => return out,
            o => out.push(o),
        }
    }
    panic!("the outbox did not drain");
}
