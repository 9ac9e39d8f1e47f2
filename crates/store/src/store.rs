//! The [`Store`]: one SQLite file or a Postgres database; conversations, processed events, outbox.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use flexcord_routing::{
    Action, ActionId, CaseNumber, ChannelId, Conversation, ConversationId, Event, EventKey, Step,
    Timestamp, TwilioSid, UserId,
};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::apply::{ApplyRequest, Lease, StateCache, apply_pg, apply_sqlite};
use crate::error::{Error, ErrorKind};
use crate::trace::TraceId;
use crate::writer::Writer;

/// How many writes may wait for the `SQLite` writer before new ones are refused as busy.
const WRITE_QUEUE: usize = 8192;

/// A [`Lease`] that owns its strings (it moves into the writer's job).
#[derive(Debug, Clone)]
pub(crate) struct LeaseOwned {
    pub(crate) owner: String,
    pub(crate) upstream_id: Option<String>,
    pub(crate) state: &'static str,
    pub(crate) reason: Option<String>,
}

impl LeaseOwned {
    fn borrowed(&self) -> Lease<'_> {
        Lease {
            owner: &self.owner,
            upstream_id: self.upstream_id.as_deref(),
            state: self.state,
            reason: self.reason.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Durable state on SQLite (embedded default: one file, WAL, `synchronous=FULL`) or Postgres.
///
/// Cheap to clone (a pool handle). The migrations ignore versions they do not know, so the
/// database may be shared with `flexcord-cases`.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) outbox_added: Arc<Notify>,
    /// `SQLite`'s group-commit writer: every write of the hot paths (applies, claims, results).
    writer: Option<Writer>,
    /// The writer's decoded conversations (`SQLite`; see [`StateCache`]).
    states: Arc<std::sync::Mutex<StateCache>>,
    /// The WAL checkpoints of a `SQLite` file opened by [`Store::connect`] (`checkpoint`).
    checkpoints: Option<Arc<crate::checkpoint::Checkpoints>>,
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The router's step (empty when the event was a duplicate).
    pub step: Step,
    /// The event had been applied before (or is parked already); nothing changed.
    pub duplicate: bool,
    /// The event concerns a Twilio SID that no conversation has recorded yet: it waits in
    /// `parked_events` and is applied when the SID is recorded (see [`crate::Engine`]).
    pub parked: bool,
}

impl Store {
    /// Opens `sqlite://path` (created if missing; `sqlite::memory:` for tests) or
    /// `postgres://...`, and runs the migrations. A `SQLite` file is opened in WAL mode with
    /// `synchronous=FULL`, and its WAL is copied back into the file by a task of the store
    /// every 250 ms rather than inside a commit (so no write waits for a checkpoint); the task
    /// ends with the store.
    ///
    /// # Errors
    /// `Invalid` for another scheme or a malformed URL; `Database` when connecting or migrating
    /// fails.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| invalid("malformed SQLite URL").with_source(e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // A larger page cache (16 MiB a connection): the hot tables are read far more
                // often than written. (A memory map cost more than it saved: the file grows all
                // the time under load and each growth remaps it.)
                .pragma("cache_size", "-16384")
                .pragma("temp_store", "memory");
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            // Checkpoints run beside the writer, not in its commits (`checkpoint`).
            let options = if in_memory {
                options
            } else {
                options.pragma("wal_autocheckpoint", "0")
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(if in_memory { 1 } else { 8 })
                .connect_with(options)
                .await?;
            let mut store = Self::from_sqlite_pool(pool.clone()).await?;
            if !in_memory {
                store.checkpoints = Some(Arc::new(crate::checkpoint::start(pool)));
            }
            Ok(store)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| invalid("malformed Postgres URL").with_source(e))?;
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect_with(options)
                .await?;
            Self::from_pg_pool(pool).await
        } else {
            Err(invalid("store URL must start with sqlite: or postgres:"))
        }
    }

    /// Uses an existing SQLite pool (e.g. shared with the cases store) and runs the migrations.
    ///
    /// # Errors
    /// `Database` when migrating fails.
    pub async fn from_sqlite_pool(pool: SqlitePool) -> Result<Self, Error> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self::with_backend(Backend::Sqlite(pool)))
    }

    /// Uses an existing Postgres pool and runs the migrations.
    ///
    /// # Errors
    /// `Database` when migrating fails.
    pub async fn from_pg_pool(pool: PgPool) -> Result<Self, Error> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self::with_backend(Backend::Postgres(pool)))
    }

    fn with_backend(backend: Backend) -> Self {
        let writer = match &backend {
            Backend::Sqlite(pool) => Some(Writer::start(pool.clone(), WRITE_QUEUE)),
            Backend::Postgres(_) => None,
        };
        Self {
            backend,
            outbox_added: Arc::new(Notify::new()),
            writer,
            states: Arc::default(),
            checkpoints: None,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The SQLite pool, when on SQLite (to share it, e.g. with the cases store).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.backend {
            Backend::Sqlite(pool) => Some(pool),
            Backend::Postgres(_) => None,
        }
    }

    /// On `SQLite`, the lock the store's writer takes around each of its write transactions.
    /// Another writer of the same file in this process (e.g. the case store sharing the app's
    /// database) that takes it around its own transactions queues behind the batch under way,
    /// and the store's next batch behind it, instead of waiting in SQLite's busy handler, which
    /// sleeps and polls and, while the store commits batch after batch, may find the file free
    /// only seconds later. Never hold it across a write of this store: that write waits for it.
    pub fn write_turns(&self) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.writer.as_ref().map(Writer::turns)
    }

    /// The Postgres pool, when on Postgres.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Postgres(pool) => Some(pool),
            Backend::Sqlite(_) => None,
        }
    }

    /// Closes the pool (waits for connections to be returned) and, on `SQLite`, the writer's
    /// connection once the writes queued before are committed.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        on_pool!(self, pool => pool.close().await);
    }

    async fn one_conversation(
        &self,
        sql: &str,
        bind: Bind<'_>,
    ) -> Result<Option<Conversation>, Error> {
        let row: Option<String> = on_pool!(self, pool => {
            let q = sqlx::query(sql);
            let q = match bind { Bind::Int(v) => q.bind(v), Bind::Text(v) => q.bind(v) };
            q.fetch_optional(pool).await?.map(|r| r.try_get::<String, _>("state")).transpose()?
        });
        row.map(|json| decode_conversation(&json)).transpose()
    }

    /// The conversation with this id (open or closed).
    ///
    /// # Errors
    /// `Database`, or `Decode` when the stored state does not parse.
    pub async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, Error> {
        self.one_conversation(
            "SELECT state FROM conversations WHERE id = $1",
            Bind::Text(id.as_str()),
        )
        .await
    }

    /// The user's open conversation.
    ///
    /// # Errors
    /// `Database`, `Decode`, or `Invalid` for an id beyond `i64`.
    pub async fn open_conversation(&self, user: UserId) -> Result<Option<Conversation>, Error> {
        self.one_conversation(
            "SELECT state FROM conversations WHERE user_id = $1 AND is_open",
            Bind::Int(to_i64(user.0)?),
        )
        .await
    }

    /// The conversation of a Twilio conversation or channel SID (open or closed).
    ///
    /// # Errors
    /// `Database` or `Decode`.
    pub async fn by_twilio_sid(&self, sid: &TwilioSid) -> Result<Option<Conversation>, Error> {
        self.one_conversation(
            "SELECT state FROM conversations WHERE twilio_sid = $1",
            Bind::Text(sid.as_str()),
        )
        .await
    }

    /// The latest conversation in this DM channel (the open one if any).
    ///
    /// # Errors
    /// `Database`, `Decode` or `Invalid`.
    pub async fn by_dm_channel(&self, channel: ChannelId) -> Result<Option<Conversation>, Error> {
        self.one_conversation(
            "SELECT state FROM conversations WHERE dm_channel = $1 \
             ORDER BY is_open DESC, created_at DESC LIMIT 1",
            Bind::Int(to_i64(channel.0)?),
        )
        .await
    }

    /// The latest conversation of a case.
    ///
    /// # Errors
    /// `Database` or `Decode`.
    pub async fn by_case(&self, number: &CaseNumber) -> Result<Option<Conversation>, Error> {
        self.one_conversation(
            "SELECT state FROM conversations WHERE case_number = $1 \
             ORDER BY created_at DESC LIMIT 1",
            Bind::Text(number.as_str()),
        )
        .await
    }

    /// Open conversations in id order, `limit` at a time from after `after` (the last id of the
    /// previous page): what the catch-up sweeps walk through.
    ///
    /// # Errors
    /// `Database` or `Decode`.
    pub async fn open_conversations(
        &self,
        after: Option<&ConversationId>,
        limit: usize,
    ) -> Result<Vec<Conversation>, Error> {
        let after = after.map_or("", ConversationId::as_str).to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<String> = on_pool!(self, pool => {
            sqlx::query(
                "SELECT state FROM conversations WHERE is_open AND id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after.as_str())
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("state"))
            .collect::<Result<_, _>>()?
        });
        rows.iter().map(|json| decode_conversation(json)).collect()
    }

    /// What [`Event::key`] points at (without locking).
    ///
    /// # Errors
    /// As the lookups.
    pub async fn load(&self, key: &EventKey) -> Result<Option<Conversation>, Error> {
        match key {
            EventKey::User(user) => self.open_conversation(*user).await,
            EventKey::Twilio(sid) => self.by_twilio_sid(sid).await,
            EventKey::Conversation(id) => self.conversation(id).await,
            EventKey::None => Ok(None),
        }
    }

    /// Whether an event with this [`Event::dedupe_key`] was applied.
    ///
    /// # Errors
    /// `Database`.
    pub async fn is_processed(&self, key: &str) -> Result<bool, Error> {
        let found: Option<i64> = on_pool!(self, pool => {
            sqlx::query("SELECT processed_at FROM processed_events WHERE event_key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?
        });
        Ok(found.is_some())
    }

    /// Applies one event in one transaction: loads its conversation (locked), records its
    /// dedupe key (a repeat is a no-op), calls `handle`, stores the new state and inserts the
    /// step's actions into the outbox; when the event is an action's result, that outbox row is
    /// marked applied. Either all of it is committed or nothing.
    ///
    /// An event keyed by a Twilio SID ([`EventKey::Twilio`]) that no conversation has yet (the
    /// webhook outran the worker that created the conversation) is **parked** instead: stored
    /// in `parked_events` with its dedupe key, [`Applied::parked`] set, `handle` not called. So
    /// is one whose SID still has parked events waiting (it queues behind them, to keep
    /// Twilio's order). A parked event whose dedupe key was already processed, or that is
    /// parked already (a Twilio retry), is a duplicate. [`crate::Engine`] replays parked events
    /// once the SID is recorded.
    ///
    /// # Errors
    /// `Conflict` when another writer created the user's open conversation first (retry:
    /// [`crate::Engine`] does); `Database`, `Decode`, `Invalid`.
    pub async fn apply<F>(&self, event: &Event, now: Timestamp, handle: F) -> Result<Applied, Error>
    where
        F: FnOnce(Option<Conversation>) -> Step + Send + 'static,
    {
        self.apply_as(event, None, now, None, handle).await
    }

    /// [`Store::apply`], storing `trace` with every outbox row the step adds (the worker
    /// delivers those actions inside a span with that trace) and with the event if it is
    /// parked (its replay continues the trace).
    ///
    /// # Errors
    /// As [`Store::apply`].
    pub async fn apply_traced<F>(
        &self,
        event: &Event,
        trace: Option<&TraceId>,
        now: Timestamp,
        handle: F,
    ) -> Result<Applied, Error>
    where
        F: FnOnce(Option<Conversation>) -> Step + Send + 'static,
    {
        self.apply_as(event, trace, now, None, handle).await
    }

    async fn apply_as<F>(
        &self,
        event: &Event,
        trace: Option<&TraceId>,
        now: Timestamp,
        replay: Option<i64>,
        handle: F,
    ) -> Result<Applied, Error>
    where
        F: FnOnce(Option<Conversation>) -> Step + Send + 'static,
    {
        let applied = self
            .apply_leased(event, trace, now, replay, None, handle)
            .await?;
        // Without a lease there is nothing to lose.
        applied.ok_or_else(|| invalid("an apply without a lease was refused"))
    }

    /// Applies `event` in one transaction (see [`Store::apply`]); with a [`Lease`] the result
    /// is first recorded on its outbox row under the worker's lease, and `None` says the lease
    /// was lost (nothing done). On `SQLite` the write goes through the group-commit writer.
    pub(crate) async fn apply_leased<F>(
        &self,
        event: &Event,
        trace: Option<&TraceId>,
        now: Timestamp,
        replay: Option<i64>,
        lease: Option<LeaseOwned>,
        handle: F,
    ) -> Result<Option<Applied>, Error>
    where
        F: FnOnce(Option<Conversation>) -> Step + Send + 'static,
    {
        let applied = match &self.backend {
            Backend::Sqlite(_) => {
                let writer = self.writer()?;
                let event = event.clone();
                let trace = trace.map(|t| t.as_str().to_owned());
                // An event from outside (a webhook waits for its answer) goes ahead of the
                // worker's settled results.
                let first = lease.is_none();
                let states = Arc::clone(&self.states);
                let work = move |conn: &rusqlite::Connection| {
                    let req = ApplyRequest {
                        event: &event,
                        trace: trace.as_deref(),
                        now,
                        replay,
                        lease: lease.as_ref().map(LeaseOwned::borrowed),
                    };
                    // only ever taken on the writer's task, one job at a time
                    let mut states = states
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    apply_sqlite(conn, &mut states, &req, handle)
                };
                if first {
                    writer.write_now_first(work).await?
                } else {
                    writer.write_now(work).await?
                }
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let req = ApplyRequest {
                    event,
                    trace: trace.map(TraceId::as_str),
                    now,
                    replay,
                    lease: lease.as_ref().map(LeaseOwned::borrowed),
                };
                let applied = apply_pg(&mut tx, &req, handle).await?;
                tx.commit().await?;
                applied
            }
        };
        if applied.as_ref().is_some_and(|a| !a.step.actions.is_empty()) {
            self.outbox_added.notify_waiters();
        }
        Ok(applied)
    }

    /// The group-commit writer (`SQLite` only).
    pub(crate) fn writer(&self) -> Result<&Writer, Error> {
        self.writer
            .as_ref()
            .ok_or_else(|| invalid("no writer for this backend"))
    }

    /// Conversations whose timer is due at `now` (oldest first, at most `limit`).
    ///
    /// # Errors
    /// `Database`.
    pub async fn due_wakeups(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<ConversationId>, Error> {
        let ids: Vec<String> = on_pool!(self, pool => {
            sqlx::query("SELECT id FROM conversations WHERE wake_at IS NOT NULL AND wake_at <= $1 \
                         ORDER BY wake_at LIMIT $2")
                .bind(now.0)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?
        });
        Ok(ids.into_iter().map(ConversationId).collect())
    }

    /// The earliest timer of any conversation.
    ///
    /// # Errors
    /// `Database`.
    pub async fn next_wake(&self) -> Result<Option<Timestamp>, Error> {
        let at: Option<i64> = on_pool!(self, pool => {
            sqlx::query("SELECT MIN(wake_at) FROM conversations WHERE wake_at IS NOT NULL")
                .fetch_one(pool)
                .await?
                .try_get::<Option<i64>, _>(0)?
        });
        Ok(at.map(Timestamp))
    }

    /// Forgets processed-event keys older than `before` (Twilio retries webhooks for hours, not
    /// days), [`crate::PRUNE_BATCH`] per statement until none are left. Returns how many were
    /// removed. The keys of feed entries (`feed:…`) are kept: they are what stops a relayed
    /// entry from being posted again.
    ///
    /// # Errors
    /// `Database`.
    pub async fn prune_processed(&self, before: Timestamp) -> Result<u64, Error> {
        let full = crate::PRUNE_BATCH as u64;
        let mut total = 0;
        loop {
            let n = self
                .prune_processed_batch(before, crate::PRUNE_BATCH)
                .await?;
            total += n;
            if n < full {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// The size in bytes of a conversation's stored state (JSON), for capacity planning.
    ///
    /// # Errors
    /// `Database`.
    pub async fn stored_state_bytes(&self, id: &ConversationId) -> Result<Option<usize>, Error> {
        let state: Option<String> = on_pool!(self, pool => {
            sqlx::query("SELECT state FROM conversations WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?
        });
        Ok(state.map(|s| s.len()))
    }

    /// Inserts actions into the outbox outside of a step (e.g. tests, re-queued dead letters).
    ///
    /// # Errors
    /// `Database`, `Invalid`.
    pub async fn enqueue(&self, actions: &[Action], now: Timestamp) -> Result<(), Error> {
        self.enqueue_traced(actions, None, now).await
    }

    /// [`Store::enqueue`] with the `trace` their deliveries are logged under.
    ///
    /// # Errors
    /// `Database`, `Invalid`.
    pub async fn enqueue_traced(
        &self,
        actions: &[Action],
        trace: Option<&TraceId>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let trace = trace.map(TraceId::as_str);
        on_pool!(self, pool => {
            for action in actions {
                let json = serde_json::to_string(action)?;
                sqlx::query(INSERT_ACTION)
                    .bind(action.id.as_str())
                    .bind(action.id.scope())
                    .bind(to_i64(action.id.seq())?)
                    .bind(action.kind.name())
                    .bind(json)
                    .bind(now.0)
                    .bind(trace)
                    .execute(pool)
                    .await?;
            }
        });
        self.outbox_added.notify_waiters();
        Ok(())
    }
}

/// Adds one action to the outbox (a repeated action id is a no-op).
pub(crate) const INSERT_ACTION: &str = "INSERT INTO outbox (action_id, scope, seq, kind, action, state, \
    attempts, next_attempt_at, created_at, updated_at, trace) \
    VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6, $7) \
    ON CONFLICT (action_id) DO NOTHING";

/// A bound lookup value.
#[derive(Clone, Copy)]
pub(crate) enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

pub(crate) fn load_sql(key: &EventKey) -> Result<(Option<&'static str>, Option<Bind<'_>>), Error> {
    Ok(match key {
        EventKey::User(user) => (
            Some("SELECT id, state FROM conversations WHERE user_id = $1 AND is_open"),
            Some(Bind::Int(to_i64(user.0)?)),
        ),
        EventKey::Twilio(sid) => (
            Some("SELECT id, state FROM conversations WHERE twilio_sid = $1"),
            Some(Bind::Text(sid.as_str())),
        ),
        EventKey::Conversation(id) => (
            Some("SELECT id, state FROM conversations WHERE id = $1"),
            Some(Bind::Text(id.as_str())),
        ),
        EventKey::None => (None, None),
    })
}

/// The action an event reports the result of.
pub(crate) fn result_action(event: &Event) -> Option<ActionId> {
    event.result_of().cloned()
}

pub(crate) struct ConvRow {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) dm_channel: Option<i64>,
    pub(crate) twilio_sid: Option<String>,
    pub(crate) case_number: Option<String>,
    pub(crate) phase: &'static str,
    pub(crate) is_open: bool,
    pub(crate) state: String,
    pub(crate) wake_at: Option<i64>,
}

impl ConvRow {
    pub(crate) fn new(conv: &Conversation, wake_at: Option<Timestamp>) -> Result<Self, Error> {
        Ok(Self {
            id: conv.id.0.clone(),
            user_id: to_i64(conv.user.0)?,
            dm_channel: conv.dm_channel.map(|c| to_i64(c.0)).transpose()?,
            twilio_sid: conv.twilio.as_ref().map(|s| s.0.clone()),
            case_number: conv.case.as_ref().map(|c| c.0.clone()),
            phase: conv.phase.name(),
            is_open: conv.is_open(),
            state: serde_json::to_string(conv)?,
            wake_at: wake_at.map(|t| t.0),
        })
    }
}

pub(crate) fn decode_conversation(json: &str) -> Result<Conversation, Error> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(ErrorKind::Decode(format!("conversation state: {e}"))).with_source(e)
    })
}

pub(crate) fn to_i64(v: u64) -> Result<i64, Error> {
    i64::try_from(v).map_err(|_| invalid("id does not fit in a signed 64-bit column"))
}

pub(crate) fn invalid(what: &str) -> Error {
    Error::new(ErrorKind::Invalid(what.to_owned()))
}
