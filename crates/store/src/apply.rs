//! One event applied inside a transaction: the body of every apply, written once over the
//! statements it needs ([`ApplyDb`]), which each backend implements: Postgres through sqlx
//! ([`apply_pg`]), `SQLite` in place on the writer's connection ([`apply_sqlite`]).

use flexcord_routing::{Conversation, Event, EventKey, Step, Timestamp};
use futures::FutureExt as _;
use rusqlite::OptionalExtension as _;
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

const RECORD_LEASE: &str = "UPDATE outbox SET state = $3, upstream_id = $4, result = $5, \
    last_error = $6, lease_until = NULL, updated_at = $7 \
    WHERE action_id = $1 AND state = 'running' AND lease_owner = $2";

/// The conversation whose Twilio conversation an action created and recorded, while that
/// result is not applied yet. `{lock}` is the backend's row lock.
const BY_CREATED_SID: &str = "SELECT c.id, c.state FROM outbox o JOIN conversations c ON c.id = o.scope \
    WHERE o.kind = 'create_twilio_conversation' AND o.upstream_id = $1 \
    AND o.state IN ('delivered', 'done')";

const UNPARK: &str = "DELETE FROM parked_events WHERE id = $1";

const PARKED: &str = "SELECT id FROM parked_events WHERE sid = $1 LIMIT 1";

const SEEN: &str = "SELECT processed_at FROM processed_events WHERE event_key = $1";

const PARK: &str = "INSERT INTO parked_events (sid, event, dedupe_key, parked_at, trace) \
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING";

const PROCESSED: &str = "INSERT INTO processed_events (event_key, processed_at) VALUES ($1, $2) \
    ON CONFLICT (event_key) DO NOTHING";

const SAVE_CONVERSATION: &str = "INSERT INTO conversations (id, user_id, dm_channel, twilio_sid, \
    case_number, phase, is_open, state, wake_at, version, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) \
    ON CONFLICT (id) DO UPDATE SET dm_channel = excluded.dm_channel, \
    twilio_sid = excluded.twilio_sid, case_number = excluded.case_number, \
    phase = excluded.phase, is_open = excluded.is_open, state = excluded.state, \
    wake_at = excluded.wake_at, version = conversations.version + 1, \
    updated_at = excluded.updated_at";

const MARK_APPLIED: &str = "UPDATE outbox SET state = CASE state WHEN 'delivered' THEN 'done' \
    WHEN 'failed' THEN 'dead' ELSE state END, updated_at = $2 WHERE action_id = $1";

/// An action row to insert ([`INSERT_ACTION`]).
pub(crate) struct NewAction<'a> {
    pub(crate) id: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) seq: i64,
    pub(crate) kind: &'a str,
    pub(crate) json: &'a str,
    pub(crate) now: i64,
    pub(crate) trace: Option<&'a str>,
}

/// The statements of an apply, in one transaction of one backend. Each is a single statement;
/// the order and the decisions are [`apply`]'s.
pub(crate) trait ApplyDb {
    /// Records a leased result on its outbox row ([`Lease`]); the rows changed (0: the lease
    /// was lost).
    async fn record_lease(
        &mut self,
        id: &str,
        lease: &Lease<'_>,
        result: &str,
        now: i64,
    ) -> Result<u64, Error>;
    /// The stored state of the conversation `sql` selects (locked until the commit).
    async fn load_state(&mut self, sql: &str, bind: Bind<'_>) -> Result<Option<Loaded>, Error>;
    /// [`BY_CREATED_SID`] (locked).
    async fn state_by_created_sid(&mut self, sid: &str) -> Result<Option<Loaded>, Error>;
    /// The conversation a loaded row holds.
    fn decode(&mut self, loaded: Loaded) -> Result<Conversation, Error> {
        decode_conversation(&loaded.state)
    }
    /// `conv` was saved as `row` (in this transaction, which may still roll back).
    fn keep(&mut self, row: ConvRow, conv: &Conversation) {
        let _ = (row, conv);
    }
    /// Deletes parked row `id`; the rows deleted.
    async fn unpark(&mut self, id: i64) -> Result<u64, Error>;
    /// Whether events for `sid` are parked.
    async fn parked(&mut self, sid: &str) -> Result<bool, Error>;
    /// Whether dedupe key `key` was processed.
    async fn seen(&mut self, key: &str) -> Result<bool, Error>;
    /// Parks an event; the rows inserted (0: already parked).
    async fn park(
        &mut self,
        sid: &str,
        event: &str,
        dedupe: Option<&str>,
        now: i64,
        trace: Option<&str>,
    ) -> Result<u64, Error>;
    /// Records dedupe key `key`; the rows inserted (0: a repeat).
    async fn processed(&mut self, key: &str, now: i64) -> Result<u64, Error>;
    /// Inserts or updates a conversation's row.
    async fn save_conversation(&mut self, row: &ConvRow, now: i64) -> Result<(), Error>;
    /// Inserts an action row (a repeat of its id is ignored).
    async fn insert_action(&mut self, action: &NewAction<'_>) -> Result<(), Error>;
    /// Marks a recorded result applied.
    async fn mark_applied(&mut self, id: &str, now: i64) -> Result<(), Error>;
}

/// A conversation's stored row, as loaded.
pub(crate) struct Loaded {
    pub(crate) id: String,
    /// The stored state (JSON).
    pub(crate) state: String,
}

/// The conversations the `SQLite` writer saved last, decoded, by id, each with the state it
/// saved: applying the next event of a busy conversation skips decoding its state (a
/// conversation with a long history of forwarded messages keeps tens of kilobytes). An entry
/// is used only when the stored state is exactly the one it was saved with, so a save rolled
/// back later (a failed write, a failed commit) or a change made elsewhere is never read from
/// here.
#[derive(Debug, Default)]
pub(crate) struct StateCache {
    saved: std::collections::HashMap<String, (String, Conversation)>,
    /// Loads that skipped decoding.
    hits: u64,
}

impl StateCache {
    /// The most conversations kept: with the largest states (about 22 KB of JSON, as much again
    /// decoded) some 12 MB, usually far less.
    const MAX: usize = 256;

    fn take(&mut self, loaded: &Loaded) -> Option<Conversation> {
        match self.saved.remove(&loaded.id) {
            Some((state, conv)) if state == loaded.state => {
                self.hits += 1;
                Some(conv)
            }
            _ => None,
        }
    }

    fn keep(&mut self, row: ConvRow, conv: &Conversation) {
        if self.saved.len() >= Self::MAX && !self.saved.contains_key(&row.id) {
            // Forget one; the busiest are saved again soon.
            if let Some(any) = self.saved.keys().next().cloned() {
                self.saved.remove(&any);
            }
        }
        self.saved.insert(row.id, (row.state, conv.clone()));
    }
}

fn nothing(notes: Vec<flexcord_routing::Note>) -> Step {
    Step {
        state: None,
        actions: Vec::new(),
        wake_at: None,
        notes,
    }
}

fn duplicate() -> Applied {
    Applied {
        step: nothing(vec![flexcord_routing::Note::Duplicate]),
        duplicate: true,
        parked: false,
    }
}

/// [`ApplyRequest`] in `db`'s transaction.
///
/// Loads the event's conversation (locked), records its dedupe key (a repeat is a no-op),
/// calls `handle`, stores the new state and inserts the step's actions; when the event is an
/// action's result, that outbox row is marked applied. An event for a Twilio SID no
/// conversation has yet is parked instead. With a [`Lease`], the result is first recorded on
/// its outbox row; `None` when the lease was lost (another worker took the action over:
/// nothing is done).
pub(crate) async fn apply<D, F>(
    db: &mut D,
    req: &ApplyRequest<'_>,
    handle: F,
) -> Result<Option<Applied>, Error>
where
    D: ApplyDb,
    F: FnOnce(Option<Conversation>) -> Step,
{
    let ApplyRequest {
        event,
        trace,
        now,
        replay: _,
        lease,
    } = *req;
    let dedupe = event.dedupe_key();
    let result_of = result_action(event);
    let key = event.key();
    if lease.is_some() && result_of.is_none() {
        return Err(crate::store::invalid(
            "a settled event must be an action's result",
        ));
    }
    if let (Some(lease), Some(id)) = (lease, &result_of) {
        let json = serde_json::to_string(event)?;
        if db.record_lease(id.as_str(), &lease, &json, now.0).await? == 0 {
            return Ok(None);
        }
    }
    // Load first (locked): every event takes the conversation's lock before the dedupe key's,
    // so concurrent applies, parks and replays cannot deadlock.
    let state = match load_sql(&key)? {
        (Some(sql), Some(bind)) => {
            let mut row = db.load_state(sql, bind).await?;
            if let (None, EventKey::Twilio(sid)) = (&row, &key) {
                // Created upstream and recorded, but the result is not applied yet: the
                // webhook outran the worker. Find the conversation by the recorded SID so
                // nothing is lost.
                row = db.state_by_created_sid(sid.as_str()).await?;
            }
            row.map(|loaded| db.decode(loaded)).transpose()?
        }
        _ => None,
    };
    if let EventKey::Twilio(sid) = &key
        && let Some(done) = park_or_unpark(db, req, sid.as_str(), state.is_none()).await?
    {
        return Ok(Some(done));
    }
    let fresh = match &dedupe {
        Some(key) => db.processed(key.as_str(), now.0).await? == 1,
        None => true,
    };
    let step = if fresh {
        let step = handle(state);
        if let Some(conv) = &step.state {
            let row = ConvRow::new(conv, step.wake_at)?;
            db.save_conversation(&row, now.0).await?;
            db.keep(row, conv);
        }
        for action in &step.actions {
            let json = serde_json::to_string(action)?;
            db.insert_action(&NewAction {
                id: action.id.as_str(),
                scope: action.id.scope(),
                seq: to_i64(action.id.seq())?,
                kind: action.kind.name(),
                json: &json,
                now: now.0,
                trace,
            })
            .await?;
        }
        step
    } else {
        nothing(vec![flexcord_routing::Note::Duplicate])
    };
    if let Some(id) = &result_of {
        db.mark_applied(id.as_str(), now.0).await?;
    }
    Ok(Some(Applied {
        step,
        duplicate: !fresh,
        parked: false,
    }))
}

/// The parking of an event keyed by Twilio SID `sid`: a replayed parked row is taken (or left
/// while its conversation is still `unknown`), and a fresh event is parked while its
/// conversation is unknown or earlier events for it wait. `Some` when that ends the apply.
async fn park_or_unpark<D: ApplyDb>(
    db: &mut D,
    req: &ApplyRequest<'_>,
    sid: &str,
    unknown: bool,
) -> Result<Option<Applied>, Error> {
    let parked = |duplicate| Applied {
        step: nothing(Vec::new()),
        duplicate,
        parked: true,
    };
    match req.replay {
        // Still unknown: the row stays parked.
        Some(_) if unknown => Ok(Some(parked(false))),
        // Applied by another instance, or expired.
        Some(id) if db.unpark(id).await? == 0 => Ok(Some(duplicate())),
        None if unknown || db.parked(sid).await? => {
            let dedupe = req.event.dedupe_key();
            if let Some(key) = &dedupe
                && db.seen(key.as_str()).await?
            {
                return Ok(Some(duplicate()));
            }
            let json = serde_json::to_string(req.event)?;
            let inserted = db
                .park(sid, &json, dedupe.as_deref(), req.now.0, req.trace)
                .await?;
            Ok(Some(parked(inserted == 0)))
        }
        // a replay taken, or nothing waits: applied as usual
        _ => Ok(None),
    }
}

/// [`ApplyRequest`] on Postgres, in `conn`'s transaction (rows locked `FOR UPDATE`).
pub(crate) async fn apply_pg<F>(
    conn: &mut sqlx::PgConnection,
    req: &ApplyRequest<'_>,
    handle: F,
) -> Result<Option<Applied>, Error>
where
    F: FnOnce(Option<Conversation>) -> Step,
{
    apply(&mut Pg(conn), req, handle).await
}

/// [`ApplyRequest`] on `SQLite`, in place on the writer's connection (the write lock is the
/// batch's transaction).
pub(crate) fn apply_sqlite<F>(
    conn: &rusqlite::Connection,
    states: &mut StateCache,
    req: &ApplyRequest<'_>,
    handle: F,
) -> Result<Option<Applied>, Error>
where
    F: FnOnce(Option<Conversation>) -> Step,
{
    // Every statement of `Lite` runs at once: the future is ready when first polled.
    apply(&mut Lite(conn, Some(states)), req, handle)
        .now_or_never()
        .unwrap_or_else(|| {
            Err(crate::store::invalid(
                "an in-place apply did not finish at once",
            ))
        })
}

/// Postgres statements through sqlx.
struct Pg<'c>(&'c mut sqlx::PgConnection);

fn pg_loaded(row: &sqlx::postgres::PgRow) -> Result<Loaded, sqlx::Error> {
    Ok(Loaded {
        id: row.try_get("id")?,
        state: row.try_get("state")?,
    })
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    b: Bind<'q>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match b {
        Bind::Int(v) => q.bind(v),
        Bind::Text(v) => q.bind(v),
    }
}

impl ApplyDb for Pg<'_> {
    async fn record_lease(
        &mut self,
        id: &str,
        lease: &Lease<'_>,
        result: &str,
        now: i64,
    ) -> Result<u64, Error> {
        Ok(sqlx::query(RECORD_LEASE)
            .bind(id)
            .bind(lease.owner)
            .bind(lease.state)
            .bind(lease.upstream_id)
            .bind(result)
            .bind(lease.reason)
            .bind(now)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn load_state(&mut self, sql: &str, b: Bind<'_>) -> Result<Option<Loaded>, Error> {
        let sql = format!("{sql} FOR UPDATE");
        let row = bind(sqlx::query(&sql), b)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.as_ref().map(pg_loaded).transpose()?)
    }

    async fn state_by_created_sid(&mut self, sid: &str) -> Result<Option<Loaded>, Error> {
        let sql = format!("{BY_CREATED_SID} FOR UPDATE OF c");
        let row = sqlx::query(&sql)
            .bind(sid)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(row.as_ref().map(pg_loaded).transpose()?)
    }

    async fn unpark(&mut self, id: i64) -> Result<u64, Error> {
        Ok(sqlx::query(UNPARK)
            .bind(id)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn parked(&mut self, sid: &str) -> Result<bool, Error> {
        Ok(sqlx::query(PARKED)
            .bind(sid)
            .fetch_optional(&mut *self.0)
            .await?
            .is_some())
    }

    async fn seen(&mut self, key: &str) -> Result<bool, Error> {
        Ok(sqlx::query(SEEN)
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?
            .is_some())
    }

    async fn park(
        &mut self,
        sid: &str,
        event: &str,
        dedupe: Option<&str>,
        now: i64,
        trace: Option<&str>,
    ) -> Result<u64, Error> {
        Ok(sqlx::query(PARK)
            .bind(sid)
            .bind(event)
            .bind(dedupe)
            .bind(now)
            .bind(trace)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn processed(&mut self, key: &str, now: i64) -> Result<u64, Error> {
        Ok(sqlx::query(PROCESSED)
            .bind(key)
            .bind(now)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn save_conversation(&mut self, row: &ConvRow, now: i64) -> Result<(), Error> {
        sqlx::query(SAVE_CONVERSATION)
            .bind(&row.id)
            .bind(row.user_id)
            .bind(row.dm_channel)
            .bind(row.twilio_sid.as_deref())
            .bind(row.case_number.as_deref())
            .bind(row.phase)
            .bind(row.is_open)
            .bind(&row.state)
            .bind(row.wake_at)
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_action(&mut self, a: &NewAction<'_>) -> Result<(), Error> {
        sqlx::query(INSERT_ACTION)
            .bind(a.id)
            .bind(a.scope)
            .bind(a.seq)
            .bind(a.kind)
            .bind(a.json)
            .bind(a.now)
            .bind(a.trace)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn mark_applied(&mut self, id: &str, now: i64) -> Result<(), Error> {
        sqlx::query(MARK_APPLIED)
            .bind(id)
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

/// `SQLite` statements run in place (`rusqlite`, prepared once per connection), with the
/// writer's decoded states when applying.
pub(crate) struct Lite<'c>(
    pub(crate) &'c rusqlite::Connection,
    pub(crate) Option<&'c mut StateCache>,
);

impl Lite<'_> {
    /// Runs a statement written with `$n` placeholders; the rows changed.
    pub(crate) fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<u64, Error> {
        let n = self.0.prepare_cached(&numbered(sql))?.execute(params)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// A conversation's row (`id`, `state`) that `sql` selects, if any.
    fn loaded(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<Loaded>, Error> {
        Ok(self
            .0
            .prepare_cached(&numbered(sql))?
            .query_row(params, |r| {
                Ok(Loaded {
                    id: r.get("id")?,
                    state: r.get("state")?,
                })
            })
            .optional()?)
    }

    /// The first column of the first row, if any.
    pub(crate) fn first<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<T>, Error> {
        Ok(self
            .0
            .prepare_cached(&numbered(sql))?
            .query_row(params, |r| r.get(0))
            .optional()?)
    }
}

/// `$n` placeholders (sqlx's, shared with Postgres) as `SQLite`'s numbered `?n`.
pub(crate) fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

impl ApplyDb for Lite<'_> {
    async fn record_lease(
        &mut self,
        id: &str,
        lease: &Lease<'_>,
        result: &str,
        now: i64,
    ) -> Result<u64, Error> {
        self.exec(
            RECORD_LEASE,
            rusqlite::params![
                id,
                lease.owner,
                lease.state,
                lease.upstream_id,
                result,
                lease.reason,
                now
            ],
        )
    }

    async fn load_state(&mut self, sql: &str, b: Bind<'_>) -> Result<Option<Loaded>, Error> {
        match b {
            Bind::Int(v) => self.loaded(sql, [v]),
            Bind::Text(v) => self.loaded(sql, [v]),
        }
    }

    async fn state_by_created_sid(&mut self, sid: &str) -> Result<Option<Loaded>, Error> {
        self.loaded(BY_CREATED_SID, [sid])
    }

    fn decode(&mut self, loaded: Loaded) -> Result<Conversation, Error> {
        match self.1.as_mut().and_then(|cache| cache.take(&loaded)) {
            Some(conv) => Ok(conv),
            None => decode_conversation(&loaded.state),
        }
    }

    fn keep(&mut self, row: ConvRow, conv: &Conversation) {
        if let Some(cache) = self.1.as_mut() {
            cache.keep(row, conv);
        }
    }

    async fn unpark(&mut self, id: i64) -> Result<u64, Error> {
        self.exec(UNPARK, [id])
    }

    async fn parked(&mut self, sid: &str) -> Result<bool, Error> {
        Ok(self.first::<i64>(PARKED, [sid])?.is_some())
    }

    async fn seen(&mut self, key: &str) -> Result<bool, Error> {
        Ok(self.first::<i64>(SEEN, [key])?.is_some())
    }

    async fn park(
        &mut self,
        sid: &str,
        event: &str,
        dedupe: Option<&str>,
        now: i64,
        trace: Option<&str>,
    ) -> Result<u64, Error> {
        self.exec(PARK, rusqlite::params![sid, event, dedupe, now, trace])
    }

    async fn processed(&mut self, key: &str, now: i64) -> Result<u64, Error> {
        self.exec(PROCESSED, rusqlite::params![key, now])
    }

    async fn save_conversation(&mut self, row: &ConvRow, now: i64) -> Result<(), Error> {
        self.exec(
            SAVE_CONVERSATION,
            rusqlite::params![
                row.id,
                row.user_id,
                row.dm_channel,
                row.twilio_sid,
                row.case_number,
                row.phase,
                row.is_open,
                row.state,
                row.wake_at,
                now
            ],
        )?;
        Ok(())
    }

    async fn insert_action(&mut self, a: &NewAction<'_>) -> Result<(), Error> {
        self.exec(
            INSERT_ACTION,
            rusqlite::params![a.id, a.scope, a.seq, a.kind, a.json, a.now, a.trace],
        )?;
        Ok(())
    }

    async fn mark_applied(&mut self, id: &str, now: i64) -> Result<(), Error> {
        self.exec(MARK_APPLIED, rusqlite::params![id, now])?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use flexcord_routing::{ChannelId, ConversationId, MessageId, UserId};

    use super::*;

    /// An in-memory `SQLite` database with the store's migrations.
    pub(crate) fn migrated() -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().expect("in-memory database");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("migrations")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for file in files {
            db.execute_batch(&std::fs::read_to_string(file).expect("migration"))
                .expect("migrates");
        }
        db
    }

    fn dm(message: u64, text: &str) -> Event {
        Event::DirectMessage {
            user: UserId(7),
            channel: ChannelId(70),
            message: MessageId(message),
            text: text.to_owned(),
            attachments: Vec::new(),
            user_name: None,
        }
    }

    /// Applies `event`: the conversation of user 7 gets `note` as its last user text; returns
    /// the state the handler was given.
    fn apply_noting(
        db: &rusqlite::Connection,
        states: &mut StateCache,
        event: &Event,
        note: &str,
    ) -> Option<Conversation> {
        let mut given = None;
        let req = ApplyRequest {
            event,
            trace: None,
            now: Timestamp(1_000),
            replay: None,
            lease: None,
        };
        apply_sqlite(db, states, &req, |state| {
            given.clone_from(&state);
            let mut conv = state.unwrap_or_else(|| {
                Conversation::new(ConversationId("c7".into()), UserId(7), Timestamp(1_000))
            });
            conv.last_user_text = Some(note.to_owned());
            Step {
                state: Some(conv),
                actions: Vec::new(),
                wake_at: None,
                notes: Vec::new(),
            }
        })
        .expect("applies");
        given
    }

    #[test]
    fn a_decoded_state_is_reused_only_while_it_is_the_stored_one() {
        let db = migrated();
        let mut states = StateCache::default();
        apply_noting(&db, &mut states, &dm(1, "one"), "one");
        assert_eq!(states.saved.len(), 1, "kept once saved");

        // The next event finds it stored as saved: handed over from the cache.
        let given = apply_noting(&db, &mut states, &dm(2, "two"), "two");
        assert_eq!(given.and_then(|c| c.last_user_text).as_deref(), Some("one"));
        assert_eq!(states.hits, 1);

        // A save rolled back (a failed write, a failed commit) stays in the cache...
        db.execute_batch("SAVEPOINT job").expect("savepoint");
        apply_noting(&db, &mut states, &dm(3, "three"), "rolled back");
        db.execute_batch("ROLLBACK TO job; RELEASE job")
            .expect("rollback");
        assert_eq!(states.saved.len(), 1);
        assert_eq!(states.hits, 2, "it started from the cached state");
        // ...but is not what the stored row holds: decoded from the row instead.
        let given = apply_noting(&db, &mut states, &dm(4, "four"), "four");
        assert_eq!(given.and_then(|c| c.last_user_text).as_deref(), Some("two"));
        assert_eq!(states.hits, 2, "decoded from the row");

        // A change made elsewhere is read from the row too.
        let stored: String = db
            .query_row("SELECT state FROM conversations WHERE id = 'c7'", [], |r| {
                r.get(0)
            })
            .expect("row");
        let changed = stored.replace("\"four\"", "\"changed elsewhere\"");
        assert_ne!(changed, stored);
        db.execute(
            "UPDATE conversations SET state = ?1 WHERE id = 'c7'",
            [&changed],
        )
        .expect("update");
        let given = apply_noting(&db, &mut states, &dm(5, "five"), "five");
        assert_eq!(
            given.and_then(|c| c.last_user_text).as_deref(),
            Some("changed elsewhere")
        );
        assert_eq!(states.hits, 2, "decoded from the row");
        apply_noting(&db, &mut states, &dm(6, "six"), "six");
        assert_eq!(states.hits, 3);
    }

    #[test]
    fn the_cache_keeps_a_bounded_number_of_conversations() {
        let mut states = StateCache::default();
        for i in 0..(StateCache::MAX + 10) {
            let conv = Conversation::new(
                ConversationId(format!("c{i}")),
                UserId(i as u64),
                Timestamp(0),
            );
            let row = ConvRow::new(&conv, None).expect("row");
            states.keep(row, &conv);
        }
        assert_eq!(states.saved.len(), StateCache::MAX);
    }
}
