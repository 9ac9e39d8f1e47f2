//! Outbox rows: claiming with a lease, recording results, dead letters, counts.

use flexcord_routing::{Action, ActionId, Event, Timestamp};
use sqlx::Row;

use crate::error::Error;
use crate::store::{Backend, Store};
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

const CLAIM: &str = "UPDATE outbox SET state = 'running', attempts = attempts + 1, \
    lease_until = $1, lease_owner = $2, updated_at = $3 \
    WHERE action_id = (SELECT o.action_id FROM outbox o \
      WHERE ((o.state = 'pending' AND o.next_attempt_at <= $3) \
          OR (o.state = 'running' AND o.lease_until < $3)) \
        AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.scope = o.scope AND p.seq < o.seq \
                        AND p.state IN ('pending', 'running')) \
      ORDER BY o.next_attempt_at, o.created_at, o.seq LIMIT 1{LOCK}) \
    AND (state = 'pending' OR (state = 'running' AND lease_until < $3)) \
    RETURNING action, attempts, action_id, trace";

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
        type Raw = (String, i64, String, Option<String>);
        let row: Option<Raw> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(&CLAIM.replace("{LOCK}", ""))
                .bind(now.0.saturating_add(lease_ms))
                .bind(owner)
                .bind(now.0)
                .fetch_optional(pool)
                .await?
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                    ))
                })
                .transpose()?,
            Backend::Postgres(pool) => {
                sqlx::query(&CLAIM.replace("{LOCK}", " FOR UPDATE SKIP LOCKED"))
                    .bind(now.0.saturating_add(lease_ms))
                    .bind(owner)
                    .bind(now.0)
                    .fetch_optional(pool)
                    .await?
                    .map(|r| {
                        Ok::<_, sqlx::Error>((
                            r.try_get(0)?,
                            r.try_get(1)?,
                            r.try_get(2)?,
                            r.try_get(3)?,
                        ))
                    })
                    .transpose()?
            }
        };
        let Some((json, attempts, id, trace)) = row else {
            return Ok(None);
        };
        let action: Action = match serde_json::from_str(&json) {
            Ok(action) => action,
            Err(e) => {
                // Retrying cannot fix it: dead-letter the row so it stops coming back.
                let reason = format!("stored action does not decode: {e}");
                on_pool!(self, pool => {
                    sqlx::query(
                        "UPDATE outbox SET state = 'dead', last_error = $2, lease_until = NULL, \
                         updated_at = $3 WHERE action_id = $1",
                    )
                    .bind(id.as_str())
                    .bind(reason.as_str())
                    .bind(now.0)
                    .execute(pool)
                    .await?
                    .rows_affected()
                });
                return Err(Error::from(e));
            }
        };
        Ok(Some(Claimed {
            action,
            attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
            trace: trace.as_deref().and_then(TraceId::parse),
        }))
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
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET state = 'delivered', upstream_id = $3, result = $4, \
                 lease_until = NULL, updated_at = $5, last_error = NULL \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
            )
            .bind(id.as_str())
            .bind(owner)
            .bind(upstream_id)
            .bind(json)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
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
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET state = 'pending', next_attempt_at = $3, last_error = $4, \
                 lease_until = NULL, updated_at = $5 \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
            )
            .bind(id.as_str())
            .bind(owner)
            .bind(retry_at.0)
            .bind(reason)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
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
        let n = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET state = 'failed', last_error = $3, result = $4, \
                 lease_until = NULL, updated_at = $5 \
                 WHERE action_id = $1 AND state = 'running' AND lease_owner = $2",
            )
            .bind(id.as_str())
            .bind(owner)
            .bind(reason)
            .bind(json)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
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

    /// Deletes finished rows (`done`) last touched before `before`; dead letters stay until
    /// looked at. Returns how many were removed.
    ///
    /// # Errors
    /// `Database`.
    pub async fn prune_outbox(&self, before: Timestamp) -> Result<u64, Error> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM outbox WHERE state = 'done' AND updated_at < $1")
                .bind(before.0)
                .execute(pool)
                .await?
                .rows_affected()
        }))
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
