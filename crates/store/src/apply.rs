//! One event applied inside a transaction: the body of every apply, written once and
//! compiled for both backends ([`apply_sqlite`], [`apply_pg`]).

use flexcord_routing::{Conversation, Event, EventKey, Step, Timestamp};
use sqlx::Row as _;

use crate::error::Error;
use crate::store::{
    Applied, Bind, ConvRow, INSERT_ACTION, decode_conversation, load_sql, result_action, to_i64,
};

/// An action's result, recorded under the worker's lease in the transaction that applies it
/// (so a result is never recorded without being applied, nor applied twice by two workers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease<'a> {
    /// The worker holding the action.
    pub(crate) owner: &'a str,
    /// What the upstream created, if anything.
    pub(crate) upstream_id: Option<&'a str>,
    /// `delivered`, or `failed` for a dead letter.
    pub(crate) state: &'static str,
    /// Why it failed (dead letters).
    pub(crate) reason: Option<&'a str>,
}

/// One event to apply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApplyRequest<'a> {
    pub(crate) event: &'a Event,
    pub(crate) trace: Option<&'a str>,
    pub(crate) now: Timestamp,
    /// The parked row being replayed, if any.
    pub(crate) replay: Option<i64>,
    /// The result's outbox row to record first, if the event is a delivery's result.
    pub(crate) lease: Option<Lease<'a>>,
}

macro_rules! apply_in {
    ($(#[$doc:meta])* $name:ident, $db:ty, $lock:expr) => {
        $(#[$doc])*
        ///
        /// Loads the event's conversation (locked), records its dedupe key (a repeat is a
        /// no-op), calls `handle`, stores the new state and inserts the step's actions; when
        /// the event is an action's result, that outbox row is marked applied. An event for a
        /// Twilio SID no conversation has yet is parked instead. With a [`Lease`], the result is
        /// first recorded on its outbox row; `None` when the lease was lost (another worker
        /// took the action over: nothing is done).
        #[allow(clippy::too_many_lines)] // one transaction, read top to bottom
        pub(crate) async fn $name<F>(
            conn: &mut $db,
            req: &ApplyRequest<'_>,
            handle: F,
        ) -> Result<Option<Applied>, Error>
        where
            F: FnOnce(Option<Conversation>) -> Step,
        {
            let lock: &str = $lock;
            let ApplyRequest { event, trace, now, replay, lease } = *req;
            let dedupe = event.dedupe_key();
            let result_of = result_action(event);
            let key = event.key();
            let nothing = |notes| Step {
                state: None,
                actions: Vec::new(),
                wake_at: None,
                notes,
            };
            if lease.is_some() && result_of.is_none() {
                return Err(crate::store::invalid(
                    "a settled event must be an action's result",
                ));
            }
            if let (Some(lease), Some(id)) = (lease, &result_of) {
                let recorded = sqlx::query(
                    "UPDATE outbox SET state = $3, upstream_id = $4, result = $5, last_error = $6, \
                     lease_until = NULL, updated_at = $7 \
                     WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
                )
                .bind(id.as_str())
                .bind(lease.owner)
                .bind(lease.state)
                .bind(lease.upstream_id)
                .bind(serde_json::to_string(event)?)
                .bind(lease.reason)
                .bind(now.0)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if recorded == 0 {
                    return Ok(None);
                }
            }
            // Load first (locked): every event takes the conversation's lock before the dedupe
            // key's, so concurrent applies, parks and replays cannot deadlock.
            let (sql, bind) = load_sql(&key)?;
            let state = match (sql, bind) {
                (Some(sql), Some(bind)) => {
                    let sql = format!("{sql}{lock}");
                    let q = sqlx::query(&sql);
                    let q = match bind { Bind::Int(v) => q.bind(v), Bind::Text(v) => q.bind(v) };
                    let mut row = q.fetch_optional(&mut *conn).await?;
                    if let (None, EventKey::Twilio(sid)) = (&row, &key) {
                        // Created upstream and recorded, but the result is not applied yet:
                        // the webhook outran the worker. Find the conversation by the
                        // recorded SID so nothing is lost.
                        let of = if lock.is_empty() { "" } else { " OF c" };
                        let sql = format!(
                            "SELECT c.state FROM outbox o JOIN conversations c ON c.id = o.scope \
                             WHERE o.kind = 'create_twilio_conversation' AND o.upstream_id = $1 \
                             AND o.state IN ('delivered', 'done'){lock}{of}"
                        );
                        row = sqlx::query(&sql).bind(sid.as_str()).fetch_optional(&mut *conn).await?;
                    }
                    match row {
                        Some(row) => Some(decode_conversation(&row.try_get::<String, _>("state")?)?),
                        None => None,
                    }
                }
                _ => None,
            };
            if let EventKey::Twilio(sid) = &key {
                match replay {
                    Some(_) if state.is_none() => {
                        // Still unknown: the row stays parked.
                        return Ok(Some(Applied { step: nothing(Vec::new()), duplicate: false, parked: true }));
                    }
                    Some(id) => {
                        let claimed = sqlx::query("DELETE FROM parked_events WHERE id = $1")
                            .bind(id)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                        if claimed == 0 {
                            // Applied by another instance, or expired.
                            return Ok(Some(Applied {
                                step: nothing(vec![flexcord_routing::Note::Duplicate]),
                                duplicate: true,
                                parked: false,
                            }));
                        }
                    }
                    None => {
                        let waiting = state.is_none()
                            || sqlx::query("SELECT id FROM parked_events WHERE sid = $1 LIMIT 1")
                                .bind(sid.as_str())
                                .fetch_optional(&mut *conn)
                                .await?
                                .is_some();
                        if waiting {
                            if let Some(key) = &dedupe {
                                let seen = sqlx::query(
                                    "SELECT processed_at FROM processed_events WHERE event_key = $1",
                                )
                                .bind(key.as_str())
                                .fetch_optional(&mut *conn)
                                .await?
                                .is_some();
                                if seen {
                                    return Ok(Some(Applied {
                                        step: nothing(vec![flexcord_routing::Note::Duplicate]),
                                        duplicate: true,
                                        parked: false,
                                    }));
                                }
                            }
                            let inserted = sqlx::query(
                                "INSERT INTO parked_events (sid, event, dedupe_key, parked_at, trace) \
                                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING",
                            )
                            .bind(sid.as_str())
                            .bind(serde_json::to_string(event)?)
                            .bind(dedupe.as_deref())
                            .bind(now.0)
                            .bind(trace)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                            return Ok(Some(Applied {
                                step: nothing(Vec::new()),
                                duplicate: inserted == 0,
                                parked: true,
                            }));
                        }
                    }
                }
            }
            let mut fresh = true;
            if let Some(key) = &dedupe {
                let inserted = sqlx::query(
                    "INSERT INTO processed_events (event_key, processed_at) VALUES ($1, $2) \
                     ON CONFLICT (event_key) DO NOTHING",
                )
                .bind(key.as_str())
                .bind(now.0)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                fresh = inserted == 1;
            }
            let step = if fresh {
                let step = handle(state);
                if let Some(conv) = &step.state {
                    let row = ConvRow::new(conv, step.wake_at)?;
                    sqlx::query(
                        "INSERT INTO conversations (id, user_id, dm_channel, twilio_sid, case_number, \
                         phase, is_open, state, wake_at, version, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) \
                         ON CONFLICT (id) DO UPDATE SET dm_channel = excluded.dm_channel, \
                         twilio_sid = excluded.twilio_sid, case_number = excluded.case_number, \
                         phase = excluded.phase, is_open = excluded.is_open, state = excluded.state, \
                         wake_at = excluded.wake_at, version = conversations.version + 1, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(row.id)
                    .bind(row.user_id)
                    .bind(row.dm_channel)
                    .bind(row.twilio_sid)
                    .bind(row.case_number)
                    .bind(row.phase)
                    .bind(row.is_open)
                    .bind(row.state)
                    .bind(row.wake_at)
                    .bind(now.0)
                    .execute(&mut *conn)
                    .await?;
                }
                for action in &step.actions {
                    let json = serde_json::to_string(action)?;
                    sqlx::query(INSERT_ACTION)
                        .bind(action.id.as_str())
                        .bind(action.id.scope())
                        .bind(to_i64(action.id.seq())?)
                        .bind(action.kind.name())
                        .bind(json)
                        .bind(now.0)
                        .bind(trace)
                        .execute(&mut *conn)
                        .await?;
                }
                step
            } else {
                nothing(vec![flexcord_routing::Note::Duplicate])
            };
            if let Some(id) = &result_of {
                sqlx::query(
                    "UPDATE outbox SET state = CASE state WHEN 'delivered' THEN 'done' \
                     WHEN 'failed' THEN 'dead' ELSE state END, updated_at = $2 \
                     WHERE action_id = $1",
                )
                .bind(id.as_str())
                .bind(now.0)
                .execute(&mut *conn)
                .await?;
            }
            Ok(Some(Applied { step, duplicate: !fresh, parked: false }))
        }
    };
}

apply_in!(
    /// [`ApplyRequest`] on `SQLite` (the write lock is the transaction's).
    apply_sqlite,
    sqlx::SqliteConnection,
    ""
);
apply_in!(
    /// [`ApplyRequest`] on Postgres (the conversation row is locked `FOR UPDATE`).
    apply_pg,
    sqlx::PgConnection,
    " FOR UPDATE"
);
