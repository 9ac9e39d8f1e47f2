//! Outbox rows: claiming with a lease, recording results, dead letters, counts.

use flexcord_routing::{Action, ActionId, Event, Timestamp};
use sqlx::Row;

use futures::FutureExt as _;

use crate::apply::{Lite, numbered};
use crate::error::Error;
use crate::store::{Backend, Store, invalid, to_i64};
use crate::trace::TraceId;

/// An outbox row's state.
///
/// `pending -> running -> delivered -> done`: `delivered` means the upstream id and the result
/// event are recorded, `done` that the result was applied to the conversation. A transient
/// failure goes back to `pending` with a later `next_attempt_at`; a permanent or exhausted one
/// goes to `failed` (dead letter, result not yet applied) then `dead`.
pub const STATES: [&str; 6] = ["pending", "running", "delivered", "done", "failed", "dead"];

/// An action claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The action.
    pub action: Action,
    /// This is attempt number `attempt` (1-based).
    pub attempt: u32,
    /// The trace of the event that produced the action (`None` for rows without one).
    pub trace: Option<TraceId>,
}

/// A dead-lettered action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The action id.
    pub action_id: ActionId,
    /// Its kind (`send_dm`, ...).
    pub kind: String,
    /// Why it failed.
    pub reason: String,
    /// How often it was tried.
    pub attempts: u32,
    /// When it was given up.
    pub at: Timestamp,
    /// The action itself (`None` when its stored JSON does not decode).
    pub action: Option<Action>,
    /// The trace of the event that produced the action.
    pub trace: Option<TraceId>,
}

/// Each conversation's lowest unfinished row that can be delivered now: pending and due, or
/// running for a worker that died: one whose heartbeat is older than `$3`, or, for a worker
/// that never heartbeats (one driven by [`Store::claim`] alone), past its lease.
///
/// The heads are found by skipping through the index of unfinished rows (`outbox_open`, on
/// `(scope, seq)`) from one conversation to the next, a lookup each, so a claim costs one step
/// per conversation with unfinished rows, never one per row: a conversation with a backlog of
/// thousands (one busy conversation, or a burst that outruns its upstream) costs as little as
/// one with a single action. (`GROUP BY scope` with `MIN(seq)` read every unfinished row on
/// every claim, on both backends.) `$index` is how the backend is told to use `outbox_open`
/// (`SQLite`'s planner, without statistics, would otherwise pick `outbox_due`), `$join` how
/// the heads are joined to their rows (`SQLite`'s `CROSS JOIN` keeps the heads outermost).
macro_rules! heads_sql {
    ($index:literal, $join:literal) => {
        concat!(
            "WITH RECURSIVE s(scope) AS ( \
               SELECT (SELECT MIN(scope) FROM outbox ",
            $index,
            " \
                       WHERE state IN ('pending', 'running')) \
               UNION ALL \
               SELECT (SELECT MIN(scope) FROM outbox ",
            $index,
            " \
                       WHERE state IN ('pending', 'running') AND scope > s.scope) \
               FROM s WHERE s.scope IS NOT NULL) \
             SELECT o.scope, o.seq FROM s \
             ",
            $join,
            " outbox o ON o.scope = s.scope \
              AND o.seq = (SELECT MIN(seq) FROM outbox ",
            $index,
            " \
                           WHERE state IN ('pending', 'running') AND scope = s.scope) \
             LEFT JOIN workers w ON w.owner = o.lease_owner \
             WHERE (o.state = 'pending' AND o.next_attempt_at <= $1) \
                OR (o.state = 'running' AND CASE WHEN w.heartbeat_at IS NULL \
                                                 THEN o.lease_until < $1 \
                                                 ELSE w.heartbeat_at < $3 END) \
             ORDER BY o.next_attempt_at, o.created_at LIMIT $2"
        )
    };
}

/// The heads on Postgres (see [`heads_sql`]).
const HEADS: &str = heads_sql!("", "JOIN");

/// The heads on `SQLite` (see [`heads_sql`]).
const HEADS_SQLITE: &str = heads_sql!("INDEXED BY outbox_open", "CROSS JOIN");

/// A conversation's unfinished rows from `seq` on, in order.
const RUN: &str = "SELECT action_id, seq, state, next_attempt_at, lease_until, attempts, action, trace, \
    (SELECT w.heartbeat_at FROM workers w WHERE w.owner = outbox.lease_owner) AS heartbeat_at \
    FROM outbox WHERE scope = $1 AND seq >= $2 AND state IN ('pending', 'running') \
    ORDER BY seq LIMIT $3";

/// How old a worker's last heartbeat may be before its running rows are taken over, for
/// [`Store::claim_runs`] (five of [`WorkerConfig::heartbeat`](crate::WorkerConfig::heartbeat)'s
/// default).
pub const STALE_MS: i64 = 10_000;

/// A row of a run being claimed.
struct RunRow {
    action_id: String,
    seq: i64,
    state: String,
    next_attempt_at: i64,
    lease_until: Option<i64>,
    attempts: i64,
    action: String,
    trace: Option<String>,
    /// The holding worker's last heartbeat, if it heartbeats.
    heartbeat_at: Option<i64>,
}

impl RunRow {
    /// Decodes a row of the `RUN` query on either backend.
    fn decode<R>(r: &R) -> Result<Self, sqlx::Error>
    where
        R: Row,
        usize: sqlx::ColumnIndex<R>,
        String: for<'q> sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
        i64: for<'q> sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            action_id: r.try_get(0)?,
            seq: r.try_get(1)?,
            state: r.try_get(2)?,
            next_attempt_at: r.try_get(3)?,
            lease_until: r.try_get(4)?,
            attempts: r.try_get(5)?,
            action: r.try_get(6)?,
            trace: r.try_get(7)?,
            heartbeat_at: r.try_get(8)?,
        })
    }

    /// Whether a run may start at this row: it is due, or its worker is gone (silent for longer
    /// than the staleness window, or, for a worker that never heartbeat, past its lease).
    fn takeable_head(&self, now: i64, stale_before: i64) -> bool {
        (self.state == "pending" && self.next_attempt_at <= now)
            || (self.state == "running"
                && match self.heartbeat_at {
                    None => self.lease_until.is_some_and(|l| l < now),
                    Some(beat) => beat < stale_before,
                })
    }
}

/// One claim's parameters ([`Store::claim_runs_alive`]).
struct Claim {
    owner: String,
    now: i64,
    lease_until: i64,
    stale_before: i64,
    max_runs: i64,
    run_len: i64,
    /// A continuation ([`Store::claim_after`]): only this conversation's rows after this
    /// sequence number, instead of the heads of every conversation.
    continues: Option<(String, i64)>,
}

/// The statements of a claim, in one transaction of one backend.
trait ClaimDb {
    /// [`HEADS`] (or its `SQLite` form).
    async fn heads(&mut self, c: &Claim) -> Result<Vec<(String, i64)>, Error>;
    /// [`RUN`] (rows locked on Postgres, skipping those another worker holds).
    async fn run(&mut self, scope: &str, head: i64, c: &Claim) -> Result<Vec<RunRow>, Error>;
    /// Dead-letters a row whose action does not decode.
    async fn dead_letter(&mut self, id: &str, reason: &str, now: i64) -> Result<(), Error>;
    /// [`MARK_RUNNING`].
    async fn mark_running(
        &mut self,
        scope: &str,
        head: i64,
        last: i64,
        c: &Claim,
    ) -> Result<(), Error>;
}

const DEAD_LETTER: &str = "UPDATE outbox SET state = 'dead', last_error = $2, \
    lease_until = NULL, updated_at = $3 WHERE action_id = $1";

/// The claimed rows are exactly the unfinished ones from the head to the last taken (the run
/// stops at the first it cannot take): one statement.
const MARK_RUNNING: &str = "UPDATE outbox SET state = 'running', attempts = attempts + 1, \
    lease_until = $4, lease_owner = $5, updated_at = $6 \
    WHERE scope = $1 AND seq >= $2 AND seq <= $3 AND state IN ('pending', 'running')";

impl Claim {
    /// Takes the runs in `db`'s transaction.
    async fn take(&self, db: &mut impl ClaimDb) -> Result<Vec<Vec<Claimed>>, Error> {
        let mut runs = Vec::new();
        if let Some((scope, after)) = &self.continues {
            // The rows of a run its worker holds: due ones only, no dead worker's.
            let run = self
                .take_from(db, scope, after.saturating_add(1), false)
                .await?;
            if !run.is_empty() {
                runs.push(run);
            }
            return Ok(runs);
        }
        for (scope, head) in db.heads(self).await? {
            // The head is checked again: another worker may have taken it since the heads
            // were read.
            let run = self.take_from(db, &scope, head, true).await?;
            if !run.is_empty() {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// Takes `scope`'s rows from `first` on, in order, up to `run_len`, and marks them
    /// running: each must follow the one before without a gap (a missing sequence number is a
    /// row another worker holds, which Postgres skips) and be due with nobody holding it; with
    /// `head`, the first may also be one a dead worker held. Stops at the first that is not.
    async fn take_from(
        &self,
        db: &mut impl ClaimDb,
        scope: &str,
        first: i64,
        head: bool,
    ) -> Result<Vec<Claimed>, Error> {
        let mut run = Vec::new();
        let mut last = first.saturating_sub(1);
        for row in db.run(scope, first, self).await? {
            let takeable = if head && run.is_empty() {
                row.takeable_head(self.now, self.stale_before)
            } else {
                row.state == "pending" && row.next_attempt_at <= self.now
            };
            if row.seq != last + 1 || !takeable {
                break;
            }
            let Some(claimed) = self.decode(db, &row).await? else {
                break;
            };
            last = row.seq;
            run.push(claimed);
        }
        if !run.is_empty() {
            db.mark_running(scope, first, last, self).await?;
        }
        Ok(run)
    }

    /// A row being claimed as a [`Claimed`]; `None` when its stored action does not decode
    /// (retrying cannot fix it: the row is dead-lettered so it stops coming back, and the run
    /// ends before it).
    async fn decode(&self, db: &mut impl ClaimDb, row: &RunRow) -> Result<Option<Claimed>, Error> {
        match serde_json::from_str::<Action>(&row.action) {
            Ok(action) => Ok(Some(Claimed {
                action,
                attempt: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
                trace: row.trace.as_deref().and_then(TraceId::parse),
            })),
            Err(e) => {
                let reason = format!("stored action does not decode: {e}");
                db.dead_letter(&row.action_id, &reason, self.now).await?;
                tracing::error!(action = row.action_id.as_str(), error = %e,
                    "a stored action does not decode; dead-lettered");
                Ok(None)
            }
        }
    }
}

/// Postgres claim statements.
struct PgClaim<'c>(&'c mut sqlx::PgConnection);

impl ClaimDb for PgClaim<'_> {
    async fn heads(&mut self, c: &Claim) -> Result<Vec<(String, i64)>, Error> {
        Ok(sqlx::query(HEADS)
            .bind(c.now)
            .bind(c.max_runs)
            .bind(c.stale_before)
            .fetch_all(&mut *self.0)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, _>>()?)
    }

    async fn run(&mut self, scope: &str, head: i64, c: &Claim) -> Result<Vec<RunRow>, Error> {
        let sql = format!("{RUN} FOR UPDATE SKIP LOCKED");
        Ok(sqlx::query(&sql)
            .bind(scope)
            .bind(head)
            .bind(c.run_len)
            .fetch_all(&mut *self.0)
            .await?
            .iter()
            .map(RunRow::decode)
            .collect::<Result<_, _>>()?)
    }

    async fn dead_letter(&mut self, id: &str, reason: &str, now: i64) -> Result<(), Error> {
        sqlx::query(DEAD_LETTER)
            .bind(id)
            .bind(reason)
            .bind(now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn mark_running(
        &mut self,
        scope: &str,
        head: i64,
        last: i64,
        c: &Claim,
    ) -> Result<(), Error> {
        sqlx::query(MARK_RUNNING)
            .bind(scope)
            .bind(head)
            .bind(last)
            .bind(c.lease_until)
            .bind(c.owner.as_str())
            .bind(c.now)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

impl ClaimDb for Lite<'_> {
    async fn heads(&mut self, c: &Claim) -> Result<Vec<(String, i64)>, Error> {
        let mut stmt = self.0.prepare_cached(&numbered(HEADS_SQLITE))?;
        let rows = stmt.query_map(rusqlite::params![c.now, c.max_runs, c.stale_before], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn run(&mut self, scope: &str, head: i64, c: &Claim) -> Result<Vec<RunRow>, Error> {
        let mut stmt = self.0.prepare_cached(&numbered(RUN))?;
        let rows = stmt.query_map(rusqlite::params![scope, head, c.run_len], |r| {
            Ok(RunRow {
                action_id: r.get(0)?,
                seq: r.get(1)?,
                state: r.get(2)?,
                next_attempt_at: r.get(3)?,
                lease_until: r.get(4)?,
                attempts: r.get(5)?,
                action: r.get(6)?,
                trace: r.get(7)?,
                heartbeat_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn dead_letter(&mut self, id: &str, reason: &str, now: i64) -> Result<(), Error> {
        self.exec(DEAD_LETTER, rusqlite::params![id, reason, now])?;
        Ok(())
    }

    async fn mark_running(
        &mut self,
        scope: &str,
        head: i64,
        last: i64,
        c: &Claim,
    ) -> Result<(), Error> {
        self.exec(
            MARK_RUNNING,
            rusqlite::params![scope, head, last, c.lease_until, c.owner, c.now],
        )?;
        Ok(())
    }
}

impl Store {
    /// Claims the next due action (or one whose lease expired: its worker died) for `owner`
    /// until `now + lease_ms`. Actions of one scope run in sequence order: an action waits
    /// while an earlier one of its scope is pending or running. On Postgres the candidate row
    /// is taken with `FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same row;
    /// on SQLite the claim is one statement under the database's single writer.
    ///
    /// # Errors
    /// `Database`; `Decode` when the stored action does not parse (the row is dead-lettered).
    pub async fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
    ) -> Result<Option<Claimed>, Error> {
        let mut runs = self.claim_runs(owner, now, lease_ms, 1, 1).await?;
        Ok(runs.pop().and_then(|mut run| run.pop()))
    }

    /// Claims up to `max_runs` runs for `owner` until `now + lease_ms`: each run is the next
    /// deliverable action of one conversation (its lowest unfinished row, due, or held by a
    /// worker whose lease expired) followed by up to `run_len - 1` more of its rows that are
    /// due, in sequence order. Runs of different conversations can be delivered at once; a run
    /// is delivered in order, and what a failure leaves of it is given back
    /// ([`Store::release`]). The conversations' next rows are found through the index of
    /// unfinished rows, whatever the number of finished ones. On Postgres the rows are taken
    /// `FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same row; on `SQLite`
    /// the claim is one write of the group-commit writer.
    ///
    /// A row whose stored action does not decode is dead-lettered and ends its run.
    ///
    /// # Errors
    /// `Database`.
    pub async fn claim_runs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        max_runs: usize,
        run_len: usize,
    ) -> Result<Vec<Vec<Claimed>>, Error> {
        self.claim_runs_alive(owner, now, lease_ms, STALE_MS, max_runs, run_len)
            .await
    }

    /// [`Store::claim_runs`] taking over the rows of a worker whose last heartbeat
    /// ([`Store::heartbeat`]) is more than `stale_ms` old, whatever their lease; rows of a worker
    /// that still heartbeats are left to it even past their lease.
    ///
    /// # Errors
    /// `Database`.
    pub async fn claim_runs_alive(
        &self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        stale_ms: i64,
        max_runs: usize,
        run_len: usize,
    ) -> Result<Vec<Vec<Claimed>>, Error> {
        let stale_before = now.0.saturating_sub(stale_ms);
        if max_runs == 0 {
            return Ok(Vec::new());
        }
        let claim = Claim {
            owner: owner.to_owned(),
            now: now.0,
            lease_until: now.0.saturating_add(lease_ms),
            stale_before,
            max_runs: i64::try_from(max_runs).unwrap_or(i64::MAX),
            run_len: i64::try_from(run_len.max(1)).unwrap_or(i64::MAX),
            continues: None,
        };
        self.take_claim(claim).await
    }

    /// Runs `claim` in one transaction: the writer's on `SQLite`, a pooled connection's on
    /// Postgres.
    async fn take_claim(&self, claim: Claim) -> Result<Vec<Vec<Claimed>>, Error> {
        match &self.backend {
            Backend::Sqlite(_) => {
                self.writer()?
                    .write_now(move |conn| {
                        claim
                            .take(&mut Lite(conn, None))
                            .now_or_never()
                            .unwrap_or_else(|| {
                                Err(invalid("an in-place claim did not finish at once"))
                            })
                    })
                    .await
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let runs = claim.take(&mut PgClaim(&mut tx)).await?;
                tx.commit().await?;
                Ok(runs)
            }
        }
    }

    /// Continues a run: claims for `owner` the due actions of `last`'s conversation that follow
    /// `last` without a gap, up to `run_len`, in sequence order. `owner` must hold `last` and
    /// every unfinished action of its conversation before it (it claimed them and is
    /// delivering them in order), so a worker can go on with a conversation's backlog while
    /// its earlier results are still being recorded, instead of waiting for them before the
    /// next [`Store::claim_runs`]. An action that is not due (a retry) or that another worker
    /// holds ends the continuation. Empty when nothing follows.
    ///
    /// # Errors
    /// `Database`.
    pub async fn claim_after(
        &self,
        owner: &str,
        last: &ActionId,
        now: Timestamp,
        lease_ms: i64,
        run_len: usize,
    ) -> Result<Vec<Claimed>, Error> {
        let claim = Claim {
            owner: owner.to_owned(),
            now: now.0,
            lease_until: now.0.saturating_add(lease_ms),
            stale_before: now.0,
            max_runs: 1,
            run_len: i64::try_from(run_len.max(1)).unwrap_or(i64::MAX),
            continues: Some((last.scope().to_owned(), to_i64(last.seq())?)),
        };
        Ok(self.take_claim(claim).await?.pop().unwrap_or_default())
    }

    /// Records that worker `owner` is alive at `now` (and forgets workers silent for a day).
    /// [`Worker::run`](crate::Worker::run) calls it every
    /// [`WorkerConfig::heartbeat`](crate::WorkerConfig::heartbeat).
    ///
    /// # Errors
    /// `Database`.
    pub async fn heartbeat(&self, owner: &str, now: Timestamp) -> Result<(), Error> {
        self.exec_writes(vec![
            (
                "INSERT INTO workers (owner, heartbeat_at) VALUES ($1, $2) \
                 ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                vec![owner.into(), now.0.into()],
            ),
            (
                "DELETE FROM workers WHERE heartbeat_at < $1",
                vec![now.0.saturating_sub(86_400_000).into()],
            ),
        ])
        .await?;
        Ok(())
    }

    /// Forgets worker `owner` (it stopped cleanly: nothing of it is running).
    ///
    /// # Errors
    /// `Database`.
    pub async fn retire(&self, owner: &str) -> Result<(), Error> {
        self.exec_write("DELETE FROM workers WHERE owner = $1", vec![owner.into()])
            .await?;
        Ok(())
    }

    /// Records a success: the upstream id and the result event, state `delivered`. Returns
    /// `false` when `owner` no longer holds the lease (another worker took over; discard).
    ///
    /// # Errors
    /// `Database`.
    pub async fn record_delivered(
        &self,
        id: &ActionId,
        owner: &str,
        upstream_id: Option<&str>,
        result: &Event,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let json = serde_json::to_string(result)?;
        let n = self
            .exec_write(
                "UPDATE outbox SET state = 'delivered', upstream_id = $3, result = $4, \
                 lease_until = NULL, updated_at = $5, last_error = NULL \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
                vec![
                    id.as_str().into(),
                    owner.into(),
                    upstream_id.into(),
                    json.into(),
                    now.0.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Records a success whose result changes nothing ([`flexcord_routing::ActionKind::success_matters`]
    /// is false): the row is `done` at once, with the upstream id, no result to apply. `false`
    /// when `owner` no longer holds the lease.
    ///
    /// # Errors
    /// `Database`.
    pub async fn record_done(
        &self,
        id: &ActionId,
        owner: &str,
        upstream_id: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let n = self
            .exec_write(
                "UPDATE outbox SET state = 'done', upstream_id = $3, lease_until = NULL, \
                 updated_at = $4, last_error = NULL \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
                vec![
                    id.as_str().into(),
                    owner.into(),
                    upstream_id.into(),
                    now.0.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Gives back actions claimed but not started (the rest of a run after a failure): `pending`
    /// again, their claim not counted as an attempt. Rows `owner` no longer holds are left.
    ///
    /// # Errors
    /// `Database`.
    pub async fn release(
        &self,
        ids: &[ActionId],
        owner: &str,
        now: Timestamp,
    ) -> Result<u64, Error> {
        if ids.is_empty() {
            return Ok(0);
        }
        let stmts = ids
            .iter()
            .map(|id| {
                (
                    "UPDATE outbox SET state = 'pending', attempts = attempts - 1, \
                     lease_until = NULL, lease_owner = NULL, updated_at = $3 \
                     WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
                    vec![id.as_str().into(), owner.into(), now.0.into()],
                )
            })
            .collect();
        Ok(self.exec_writes(stmts).await?.into_iter().sum())
    }

    /// Records a transient failure: back to `pending` until `retry_at`.
    ///
    /// # Errors
    /// `Database`.
    pub async fn record_retry(
        &self,
        id: &ActionId,
        owner: &str,
        reason: &str,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let n = self
            .exec_write(
                "UPDATE outbox SET state = 'pending', next_attempt_at = $3, last_error = $4, \
                 lease_until = NULL, updated_at = $5 \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
                vec![
                    id.as_str().into(),
                    owner.into(),
                    retry_at.0.into(),
                    reason.into(),
                    now.0.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Dead-letters the action with `reason` (state `failed` until its `DeliveryFailed` result
    /// is applied, then `dead`).
    ///
    /// # Errors
    /// `Database`.
    pub async fn record_dead(
        &self,
        id: &ActionId,
        owner: &str,
        reason: &str,
        result: &Event,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let json = serde_json::to_string(result)?;
        let n = self
            .exec_write(
                "UPDATE outbox SET state = 'failed', last_error = $3, result = $4, \
                 lease_until = NULL, updated_at = $5 \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
                vec![
                    id.as_str().into(),
                    owner.into(),
                    reason.into(),
                    json.into(),
                    now.0.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Result events recorded but not yet applied (`delivered`, `failed`) and last touched
    /// before `before`: after a crash between recording and applying, feed them again
    /// (applying is idempotent).
    ///
    /// # Errors
    /// `Database`, `Decode`.
    pub async fn unapplied_results(
        &self,
        before: Timestamp,
        limit: i64,
    ) -> Result<Vec<Event>, Error> {
        Ok(self
            .unapplied_results_traced(before, limit)
            .await?
            .into_iter()
            .map(|(event, _)| event)
            .collect())
    }

    /// [`Store::unapplied_results`] with the trace of each action, to feed each result under
    /// its trace.
    ///
    /// # Errors
    /// `Database`, `Decode`.
    pub async fn unapplied_results_traced(
        &self,
        before: Timestamp,
        limit: i64,
    ) -> Result<Vec<(Event, Option<TraceId>)>, Error> {
        let rows: Vec<(String, Option<String>)> = on_pool!(self, pool => {
            sqlx::query(
                "SELECT result, trace FROM outbox WHERE state IN ('delivered', 'failed') \
                 AND result IS NOT NULL AND updated_at < $1 ORDER BY updated_at LIMIT $2",
            )
            .bind(before.0)
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, _>>()?
        });
        rows.iter()
            .map(|(json, trace)| {
                let event = serde_json::from_str(json).map_err(Error::from)?;
                Ok((event, trace.as_deref().and_then(TraceId::parse)))
            })
            .collect()
    }

    /// Outbox rows per state (every state of [`STATES`], zero included), for metrics.
    ///
    /// # Errors
    /// `Database`.
    pub async fn outbox_counts(&self) -> Result<Vec<(&'static str, i64)>, Error> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => {
            sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, _>>()?
        });
        Ok(STATES
            .iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .find(|(state, _)| state == s)
                    .map_or(0, |(_, n)| *n);
                (*s, n)
            })
            .collect())
    }

    /// Dead letters (`failed` and `dead`), newest first.
    ///
    /// # Errors
    /// `Database`, `Decode`.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<DeadLetter>, Error> {
        type Raw = (
            String,
            String,
            Option<String>,
            i64,
            i64,
            String,
            Option<String>,
        );
        let rows: Vec<Raw> = on_pool!(self, pool => {
            sqlx::query(
                "SELECT action_id, kind, last_error, attempts, updated_at, action, trace FROM outbox \
                 WHERE state IN ('failed', 'dead') ORDER BY updated_at DESC, action_id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((
                r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                r.try_get(5)?, r.try_get(6)?,
            )))
            .collect::<Result<_, _>>()?
        });
        rows.into_iter()
            .map(|(id, kind, reason, attempts, at, action, trace)| {
                Ok(DeadLetter {
                    action_id: ActionId(id),
                    kind,
                    reason: reason.unwrap_or_default(),
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    at: Timestamp(at),
                    action: serde_json::from_str(&action).ok(),
                    trace: trace.as_deref().and_then(TraceId::parse),
                })
            })
            .collect()
    }

    /// Deletes finished rows (`done`) last touched before `before`, [`crate::PRUNE_BATCH`] per
    /// statement until none are left; dead letters stay until retried or looked at. Returns how
    /// many were removed.
    ///
    /// # Errors
    /// `Database`.
    pub async fn prune_outbox(&self, before: Timestamp) -> Result<u64, Error> {
        let full = crate::PRUNE_BATCH as u64;
        let mut total = 0;
        loop {
            let n = self.prune_outbox_batch(before, crate::PRUNE_BATCH).await?;
            total += n;
            if n < full {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// An action's state and recorded upstream id.
    ///
    /// # Errors
    /// `Database`.
    pub async fn outbox_state(
        &self,
        id: &ActionId,
    ) -> Result<Option<(String, Option<String>)>, Error> {
        Ok(on_pool!(self, pool => {
            sqlx::query("SELECT state, upstream_id FROM outbox WHERE action_id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?
        }))
    }

    /// The trace stored with an action (`None` when the action is unknown or has none).
    ///
    /// # Errors
    /// `Database`.
    pub async fn trace_of(&self, id: &ActionId) -> Result<Option<TraceId>, Error> {
        let trace: Option<Option<String>> = on_pool!(self, pool => {
            sqlx::query("SELECT trace FROM outbox WHERE action_id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
        });
        Ok(trace.flatten().as_deref().and_then(TraceId::parse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The virtual-machine steps `SQLite` takes to find the heads of `conversations`
    /// conversations with `backlog` pending rows each: work, counted, not timed.
    fn heads_steps(conversations: i64, backlog: i64) -> (usize, i32) {
        let db = crate::apply::tests::migrated();
        let mut insert = db
            .prepare(
                "INSERT INTO outbox (action_id, scope, seq, kind, action, state, attempts, \
                 next_attempt_at, created_at, updated_at) \
                 VALUES (?1 || '/' || ?2, ?1, ?2, 'post_discord', '{}', 'pending', 0, 0, 0, 0)",
            )
            .expect("insert");
        for c in 0..conversations {
            for seq in 0..backlog {
                insert
                    .execute(rusqlite::params![format!("c{c}"), seq])
                    .expect("row");
            }
        }
        let mut heads = db.prepare(&numbered(HEADS_SQLITE)).expect("heads");
        let found = heads
            .query_map(rusqlite::params![1_i64, 1_000_i64, 0_i64], |r| {
                r.get::<_, String>(0)
            })
            .expect("query")
            .count();
        let steps = heads.get_status(rusqlite::StatementStatus::VmStep);
        (found, steps)
    }

    #[test]
    fn finding_the_heads_costs_per_conversation_not_per_row() {
        let (found, short) = heads_steps(8, 2);
        assert_eq!(found, 8);
        let (found, long) = heads_steps(8, 2_000);
        assert_eq!(found, 8);
        // A backlog a thousand times longer costs the same steps, give or take the b-tree's
        // depth (reading every row cost thousands more).
        assert!(
            long < short * 2,
            "{short} steps with 2 rows each, {long} with 2,000"
        );
    }
}
