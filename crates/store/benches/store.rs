//! Events per second through core + SQLite store + outbox on one core, durability on (WAL,
//! `synchronous=FULL`, one transaction per event and per outbox state change), and the bytes a
//! stored conversation takes.
//!
//! `cargo bench -p flexcord-store --bench store -- --warm-up-time 1 --measurement-time 5`
//! (with `DATABASE_URL` set, the same runs on Postgres too)
//!
//! One iteration is one support conversation of a new user: first DM, bot reply with hand-off,
//! case and Twilio conversation, back-fill, interaction, notices; every action is delivered by a
//! no-op upstream through the worker and its result applied through the engine.

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flexcord_routing::{
    Action, ActionKind, BotReply, ChannelId, Event, MessageId, Router, RouterConfig, UserId,
};
use flexcord_store::{Deliver, Engine, Failure, Outcome, Receipt, Store, Worker};

struct Noop;

impl Deliver for Noop {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        Ok(match &action.kind {
            ActionKind::OpenDm { user } => Receipt::id(user.0.to_string()),
            ActionKind::CreateTwilioConversation { unique_name, .. } => {
                Receipt::id(format!("CH{}", unique_name.len()) + &action.id.nonce())
            }
            ActionKind::OpenCase { .. } => Receipt::id(format!("CASE-{}", action.id.nonce())),
            ActionKind::AskBot { .. } => Receipt::with_event(Event::BotReply {
                action_id: action.id.clone(),
                reply: BotReply {
                    messages: vec!["Let me get someone from the team for you.".into()],
                    suggestions: Vec::new(),
                    handoff: true,
                    ..BotReply::default()
                },
            }),
            _ => Receipt::id("1234567890"),
        })
    }
}

/// One conversation; returns the number of events applied (inbound + results).
async fn conversation(engine: &Engine, worker: &Worker<Noop>, user: u64) -> u64 {
    engine
        .handle(Event::DirectMessage {
            user: UserId(user),
            channel: ChannelId(user + 1),
            message: MessageId(user * 10),
            text: "my parcel never arrived and the tracking page says delivered".into(),
            attachments: Vec::new(),
            user_name: None,
        })
        .await
        .expect("applies");
    let mut events = 1;
    while worker.run_once(engine).await.expect("worker") != Outcome::Idle {
        events += 1;
    }
    events
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bench.db");
    let store = rt
        .block_on(Store::connect(&format!("sqlite://{}", path.display())))
        .expect("store");
    let engine = Engine::new(store.clone(), Router::new(RouterConfig::default()));
    let worker = Worker::new(store.clone(), Noop);
    let user = AtomicU64::new(1);
    let per = rt.block_on(conversation(
        &engine,
        &worker,
        user.fetch_add(1, Ordering::Relaxed),
    ));

    let mut group = c.benchmark_group("store_sqlite");
    group.throughput(Throughput::Elements(per));
    group.bench_function(format!("conversation_{per}_events"), |b| {
        b.iter(|| {
            rt.block_on(conversation(
                &engine,
                &worker,
                user.fetch_add(1, Ordering::Relaxed),
            ))
        });
    });
    group.finish();

    // Bytes per stored conversation: state JSON, and the file (checkpointed) per conversation,
    // outbox and processed-event rows included.
    let (count, json): (i64, i64) = rt.block_on(async {
        let pool = store.sqlite_pool().expect("sqlite");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .expect("checkpoint");
        sqlx::query_as("SELECT COUNT(*), SUM(LENGTH(state)) FROM conversations")
            .fetch_one(pool)
            .await
            .expect("sizes")
    });
    let file = std::fs::metadata(&path).map_or(0, |m| m.len());
    let count_u = u64::try_from(count.max(1)).unwrap_or(1);
    eprintln!(
        "stored conversations: {count}; state JSON {} bytes each on average; database file {} bytes \
         per conversation (with its outbox and processed-event rows)",
        u64::try_from(json).unwrap_or(0) / count_u,
        file / count_u
    );
}

/// The same conversation on Postgres (`DATABASE_URL`, a schema of its own), when set.
fn bench_postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("store_postgres skipped: DATABASE_URL is unset");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let schema = format!("store_bench_{}", std::process::id());
    let store = rt.block_on(async {
        // A plain connection: the store's migrations must not run in the default schema.
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("postgres");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("schema");
        admin.close().await;
        let sep = if url.contains('?') { '&' } else { '?' };
        Store::connect(&format!("{url}{sep}options=-c%20search_path%3D{schema}"))
            .await
            .expect("store")
    });
    let engine = Engine::new(store.clone(), Router::new(RouterConfig::default()));
    let worker = Worker::new(store.clone(), Noop);
    let user = AtomicU64::new(1);
    let per = rt.block_on(conversation(
        &engine,
        &worker,
        user.fetch_add(1, Ordering::Relaxed),
    ));
    let mut group = c.benchmark_group("store_postgres");
    group.throughput(Throughput::Elements(per));
    group.bench_function(format!("conversation_{per}_events"), |b| {
        b.iter(|| {
            rt.block_on(conversation(
                &engine,
                &worker,
                user.fetch_add(1, Ordering::Relaxed),
            ))
        });
    });
    group.finish();
    rt.block_on(async {
        let pool = store.pg_pool().expect("postgres").clone();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await
            .expect("drop schema");
    });
}

criterion_group!(benches, bench, bench_postgres);
criterion_main!(benches);
