//! What the fault, crash and scale tests read besides the emulators: the outbox rows in the
//! app's database, `/metrics`, and waiting with a deadline.

use std::time::Duration;

use sqlx::Row as _;

/// One outbox row, as stored.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    pub(crate) action_id: String,
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) upstream_id: Option<String>,
    pub(crate) last_error: Option<String>,
    /// The action as stored (JSON).
    pub(crate) action: String,
    /// The worker holding (or last holding) its claim: `worker-<pid>-…`.
    pub(crate) lease_owner: Option<String>,
}

const ROWS: &str = "SELECT action_id, kind, state, attempts, upstream_id, last_error, action, lease_owner FROM outbox \
                    ORDER BY created_at, scope, seq";

/// Every outbox row of the database at `url` (`sqlite://…` or `postgres://…`), oldest first.
pub(crate) async fn outbox_rows(url: &str) -> Vec<OutboxRow> {
    if url.starts_with("sqlite:") {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("sqlite URL");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.busy_timeout(Duration::from_secs(10)))
            .await
            .expect("the app's database opens");
        let rows = sqlx::query(ROWS)
            .fetch_all(&pool)
            .await
            .expect("outbox rows");
        pool.close().await;
        rows.iter()
            .map(|r| OutboxRow {
                action_id: r.get(0),
                kind: r.get(1),
                state: r.get(2),
                attempts: r.get(3),
                upstream_id: r.get(4),
                last_error: r.get(5),
                action: r.get(6),
                lease_owner: r.get(7),
            })
            .collect()
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .expect("the app's database opens");
        let rows = sqlx::query(ROWS)
            .fetch_all(&pool)
            .await
            .expect("outbox rows");
        pool.close().await;
        rows.iter()
            .map(|r| OutboxRow {
                action_id: r.get(0),
                kind: r.get(1),
                state: r.get(2),
                attempts: r.get::<i64, _>(3),
                upstream_id: r.get(4),
                last_error: r.get(5),
                action: r.get(6),
                lease_owner: r.get(7),
            })
            .collect()
    }
}

/// The text `GET <base>/metrics` answers.
pub(crate) async fn scrape(base: &str) -> String {
    let res = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("/metrics answers");
    assert_eq!(res.status().as_u16(), 200);
    res.text().await.expect("metrics text")
}

/// The value of the sample `series` (name and labels exactly as exposed, e.g.
/// `flexcord_outbox_retries_total{action="post_to_twilio"}`), if present.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `within`.
pub(crate) async fn eventually<T, F>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `action` through `upstream` as the outbox worker does (first attempt) and returns the
/// result event the worker would feed the routing core.
pub(crate) async fn deliver(
    upstream: &impl flexcord_store::Deliver,
    action: &flexcord_routing::Action,
) -> Option<flexcord_routing::Event> {
    Some(match upstream.deliver(action).await {
        Ok(receipt) => receipt
            .event
            .unwrap_or_else(|| action.completed(receipt.upstream_id)),
        Err(failure) => action.failed(failure.permanent, failure.reason),
    })
}
