//! Case store figures: cases created per second, and list/search latency with 100,000 cases, on
//! SQLite and (when `DATABASE_URL` is set) Postgres.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p flexcord-cases --bench cases
//! ```
//! `CASES_BENCH_N` changes the table size (default 100000). Creation goes through
//! `CaseStore::create` (one transaction each, with its timeline entry); the remaining rows are then
//! bulk-inserted in SQL so that the list figures are measured at the full size.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flexcord_cases::{
    CaseFilter, CaseKind, CaseStatus, CaseStore, NewCase, PageRequest, PgCaseStore, Requester,
    SqliteCaseStore,
};

const SEQUENTIAL: u32 = 2_000;
const TASKS: u32 = 8;
const PER_TASK: u32 = 250;
const SAMPLES: usize = 200;

const TOPICS: &[&str] = &[
    "audio crash in voice channel",
    "login failure after update",
    "refund for double charge",
    "avatar upload fails",
    "missing order delivery",
    "dark mode request",
    "notification sound too loud",
];

fn new_case(i: u32) -> NewCase {
    let topic = TOPICS[i as usize % TOPICS.len()];
    let kind = [CaseKind::Bug, CaseKind::Support, CaseKind::Feature][i as usize % 3];
    NewCase::new(
        kind,
        format!("Case {i}: {topic}"),
        Requester {
            discord_id: (i % 5_000).to_string(),
            name: format!("user {i}"),
        },
    )
    .description(format!("The user reports {topic}; seen {i} times."))
}

async fn creation(store: Arc<dyn CaseStore>) -> (f64, f64) {
    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        store.create(new_case(i)).await.expect("create");
    }
    let sequential = f64::from(SEQUENTIAL) / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    store
                        .create(new_case(t * PER_TASK + i))
                        .await
                        .expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let concurrent = f64::from(TASKS * PER_TASK) / start.elapsed().as_secs_f64();
    (sequential, concurrent)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index].as_secs_f64() * 1_000.0
}

async fn latency<F, Fut>(name: &str, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut rows = 0;
    for _ in 0..SAMPLES {
        let start = Instant::now();
        rows = call().await;
        samples.push(start.elapsed());
    }
    let p50 = percentile(&mut samples, 0.5);
    let p95 = percentile(&mut samples, 0.95);
    println!("| {name} | {rows} | {p50:.2} | {p95:.2} |");
}

async fn lists(store: Arc<dyn CaseStore>, total: u32) {
    println!("| query ({total} cases) | rows | p50 ms | p95 ms |");
    println!("|---|---|---|---|");
    let page = |limit| PageRequest::first(limit);
    let s = store.clone();
    latency("first page, no filter, limit 50", || async {
        s.list(&CaseFilter::default(), &page(50))
            .await
            .expect("list")
            .cases
            .len()
    })
    .await;
    let s = store.clone();
    let deep = PageRequest {
        cursor: Some(format!("CASE-{:06}", total / 2)),
        limit: Some(50),
    };
    latency("page from the middle (cursor), limit 50", || async {
        s.list(&CaseFilter::default(), &deep)
            .await
            .expect("list")
            .cases
            .len()
    })
    .await;
    let s = store.clone();
    let open_bugs = CaseFilter {
        statuses: CaseStatus::OPEN.to_vec(),
        kind: Some(CaseKind::Bug),
        ..CaseFilter::default()
    };
    latency(
        "status in (new,open,pending) and kind=bug, limit 50",
        || async {
            s.list(&open_bugs, &page(50))
                .await
                .expect("list")
                .cases
                .len()
        },
    )
    .await;
    let s = store.clone();
    latency("open cases of one requester", || async {
        s.open_cases_for("4242").await.expect("list").len()
    })
    .await;
    let s = store.clone();
    let text = CaseFilter {
        text: Some("avatar upload".into()),
        ..CaseFilter::default()
    };
    latency("full-text `avatar upload`, limit 50", || async {
        s.list(&text, &page(50)).await.expect("list").cases.len()
    })
    .await;
    let s = store.clone();
    latency("similar open bugs, limit 5", || async {
        s.similar("crash in the voice channel audio", None, 5)
            .await
            .expect("similar")
            .len()
    })
    .await;
}

const SQLITE_SEED: &str = "INSERT INTO cases (number, kind, status, priority, subject, description, requester_id, \
    requester_name, source, assignee, tags, rating_score, rating_comment, created_at, updated_at, resolved_at) \
    WITH RECURSIVE seq(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM seq WHERE i < $2) \
    SELECT i, CASE i % 3 WHEN 0 THEN 'bug' WHEN 1 THEN 'support' ELSE 'feature' END, \
    CASE i % 5 WHEN 0 THEN 'new' WHEN 1 THEN 'open' WHEN 2 THEN 'pending' WHEN 3 THEN 'resolved' ELSE 'closed' END, \
    'normal', 'Case ' || i || ': ' || CASE i % 7 WHEN 0 THEN 'audio crash in voice channel' WHEN 1 THEN 'login failure after update' \
    WHEN 2 THEN 'refund for double charge' WHEN 3 THEN 'avatar upload fails' WHEN 4 THEN 'missing order delivery' \
    WHEN 5 THEN 'dark mode request' ELSE 'notification sound too loud' END, \
    'Seeded case number ' || i, CAST(i % 5000 AS TEXT), 'user ' || i, '{}', NULL, '[]', NULL, NULL, \
    strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NULL FROM seq";

const PG_SEED: &str = "INSERT INTO cases (number, kind, status, priority, subject, description, requester_id, \
    requester_name, source, assignee, tags, rating_score, rating_comment, created_at, updated_at, resolved_at) \
    SELECT i, (ARRAY['bug', 'support', 'feature'])[i % 3 + 1], \
    (ARRAY['new', 'open', 'pending', 'resolved', 'closed'])[i % 5 + 1], 'normal', \
    'Case ' || i || ': ' || (ARRAY['audio crash in voice channel', 'login failure after update', 'refund for double charge', \
    'avatar upload fails', 'missing order delivery', 'dark mode request', 'notification sound too loud'])[i % 7 + 1], \
    'Seeded case number ' || i, (i % 5000)::text, 'user ' || i, '{}', NULL, '[]', NULL, NULL, now(), now(), NULL \
    FROM generate_series($1::bigint, $2::bigint) AS i";

async fn sqlite(total: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = SqliteCaseStore::connect(&url).await.expect("open");
    let (sequential, concurrent) = creation(Arc::new(store.clone())).await;
    println!("\nSQLite (file, WAL, synchronous=NORMAL)");
    println!("| creation | cases/s |\n|---|---|");
    println!("| sequential, {SEQUENTIAL} cases | {sequential:.0} |");
    println!(
        "| {TASKS} concurrent tasks, {} cases | {concurrent:.0} |",
        TASKS * PER_TASK
    );
    let created = SEQUENTIAL + TASKS * PER_TASK;
    let seeded = Instant::now();
    sqlx::query(SQLITE_SEED)
        .bind(i64::from(created + 1))
        .bind(i64::from(total))
        .execute(store.pool())
        .await
        .expect("seed");
    sqlx::query("UPDATE case_counters SET n = $1")
        .bind(i64::from(total))
        .execute(store.pool())
        .await
        .expect("counter");
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");
    println!(
        "(bulk seed to {total} cases: {:.1} s)\n",
        seeded.elapsed().as_secs_f64()
    );
    lists(Arc::new(store), total).await;
}

async fn postgres(url: &str, total: u32) {
    let schema = format!("cases_bench_{}", std::process::id());
    let admin = sqlx::PgPool::connect(url).await.expect("postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("schema");
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .expect("url")
        .options([("search_path", schema.as_str())]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await
        .expect("pool");
    let store = PgCaseStore::from_pool(pool).await.expect("migrate");
    let (sequential, concurrent) = creation(Arc::new(store.clone())).await;
    println!("\nPostgres (local, default settings)");
    println!("| creation | cases/s |\n|---|---|");
    println!("| sequential, {SEQUENTIAL} cases | {sequential:.0} |");
    println!(
        "| {TASKS} concurrent tasks, {} cases | {concurrent:.0} |",
        TASKS * PER_TASK
    );
    let created = SEQUENTIAL + TASKS * PER_TASK;
    let seeded = Instant::now();
    sqlx::query(PG_SEED)
        .bind(i64::from(created + 1))
        .bind(i64::from(total))
        .execute(store.pool())
        .await
        .expect("seed");
    sqlx::query("UPDATE case_counters SET n = $1")
        .bind(i64::from(total))
        .execute(store.pool())
        .await
        .expect("counter");
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");
    println!(
        "(bulk seed to {total} cases: {:.1} s)\n",
        seeded.elapsed().as_secs_f64()
    );
    lists(Arc::new(store.clone()), total).await;
    store.pool().close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .expect("drop schema");
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less args; only measure under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let total: u32 = std::env::var("CASES_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    assert!(
        total > SEQUENTIAL + TASKS * PER_TASK,
        "CASES_BENCH_N must exceed the {} created cases",
        SEQUENTIAL + TASKS * PER_TASK
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        sqlite(total).await;
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => postgres(&url, total).await,
            _ => println!("\nPostgres skipped: DATABASE_URL is unset"),
        }
    });
}
