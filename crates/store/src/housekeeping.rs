//! Keeping the tables bounded and the dead letters recoverable: pruning old processed-event
//! keys and finished outbox rows in bounded batches, re-queuing a dead letter, and a cheap
//! query that says whether the database answers.

use std::fmt;

use flexcord_routing::{
    Action, ActionId, ActionKind, CaseNumber, Speaker, Timestamp, TranscriptEntry,
};
use sqlx::Row;

use crate::error::Error;
use crate::store::{Backend, INSERT_ACTION, Store, decode_conversation, to_i64};

/// Rows one pruning statement removes at most ([`Store::prune`] loops until none are left).
pub const PRUNE_BATCH: usize = 500;

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Processed-event keys.
    pub processed: u64,
    /// Finished (`done`) outbox rows.
    pub outbox: u64,
}

/// Why [`Store::retry_dead`] did not re-queue a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryRefused {
    /// No outbox row has this id (never existed, or pruned).
    NotFound,
    /// The row is no dead letter (`state` is its state); `failed` means its failure is still
    /// being applied.
    NotDead {
        /// The row's state.
        state: String,
    },
    /// Its conversation is closed, by the failure itself or since: delivering now would act on
    /// a conversation that is over.
    ConversationClosed {
        /// Who or what closed it (`agent`, `requester`, `idle`, `unreachable`), if known.
        closed_by: Option<String>,
    },
    /// The failure marked the user unreachable on Discord (the agent was told): a DM is not
    /// sent again until the user writes.
    UserUnreachable,
    /// The conversation the action belongs to is not in the store.
    ConversationUnknown,
}

impl fmt::Display for RetryRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no outbox row has this id"),
            Self::NotDead { state } if state == "failed" => f.write_str(
                "its failure is still being applied to the conversation; try again in a moment",
            ),
            Self::NotDead { state } => write!(f, "it is no dead letter (state {state})"),
            Self::ConversationClosed {
                closed_by: Some(by),
            } if by == "unreachable" => f.write_str(
                "the failure closed its conversation (the other side could not be reached)",
            ),
            Self::ConversationClosed { closed_by: Some(by) } => {
                write!(f, "its conversation is closed (by {by})")
            }
            Self::ConversationClosed { closed_by: None } => {
                f.write_str("its conversation is closed")
            }
            Self::UserUnreachable => f.write_str(
                "the failure marked the user unreachable (the agent was told); the user is reachable again once they write",
            ),
            Self::ConversationUnknown => f.write_str("its conversation is not in the store"),
        }
    }
}

/// What [`Store::retry_dead`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// Back to `pending`, due now, its attempts reset; the worker delivers it before the later
    /// actions of its conversation.
    Requeued {
        /// Its kind (`send_dm`, ...).
        kind: String,
        /// The case of its conversation, which gets a timeline entry about the retry.
        case: Option<CaseNumber>,
    },
    /// Left as it was, and why.
    Refused(RetryRefused),
}

/// The kinds whose failure marks the user unreachable.
fn is_dm(kind: &ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::OpenDm { .. }
            | ActionKind::SendDm { .. }
            | ActionKind::EditDm { .. }
            | ActionKind::DeleteDm { .. }
    )
}

/// The scope of the case entry a retry adds: no conversation's (see
/// [`ActionId::conversation`]), unique per retry.
fn retry_scope(id: &ActionId, now: Timestamp) -> String {
    format!("ops-retry-{}-{}", now.millis(), id.nonce())
}

/// The conversation of a row being retried.
enum Owner {
    /// The action belongs to no conversation (an interaction's, a feed's).
    None,
    /// Its conversation is not stored.
    Missing,
    /// Its conversation's stored state.
    State(String),
}

/// A row being retried.
struct DeadRow {
    state: String,
    kind: String,
    reason: Option<String>,
    action: Option<Action>,
}

impl DeadRow {
    /// Whether the row may be re-queued, given its conversation: the conversation's case if
    /// so, why not otherwise.
    fn judge(&self, owner: &Owner) -> Result<Result<Option<CaseNumber>, RetryRefused>, Error> {
        if self.state != "dead" {
            return Ok(Err(RetryRefused::NotDead {
                state: self.state.clone(),
            }));
        }
        let state = match owner {
            Owner::None => return Ok(Ok(None)),
            Owner::Missing => return Ok(Err(RetryRefused::ConversationUnknown)),
            Owner::State(state) => state,
        };
        let conv = decode_conversation(state.as_str())?;
        if !conv.is_open() {
            let closed_by = conv.closed_by.and_then(|by| {
                serde_json::to_value(by)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            });
            return Ok(Err(RetryRefused::ConversationClosed { closed_by }));
        }
        if conv.dm_unreachable && self.action.as_ref().is_some_and(|a| is_dm(&a.kind)) {
            return Ok(Err(RetryRefused::UserUnreachable));
        }
        Ok(Ok(conv.case))
    }

    /// The case timeline entry about re-queuing this row (action `id`), as an action of its own.
    fn case_note(&self, id: &ActionId, number: &CaseNumber, now: Timestamp) -> Action {
        Action {
            id: ActionId::new(&retry_scope(id, now), 0),
            kind: ActionKind::AnnotateCase {
                number: number.clone(),
                entry: TranscriptEntry {
                    speaker: Speaker::Bot,
                    text: format!(
                        "An operator re-queued a delivery that had failed ({}, {}): {}",
                        self.kind,
                        id.as_str(),
                        self.reason.as_deref().unwrap_or("no reason recorded"),
                    ),
                    at: now,
                    name: None,
                },
            },
        }
    }
}

impl Store {
    /// Whether the database answers: one read of a table (so `SQLite` takes its file lock).
    ///
    /// # Errors
    /// `Database`.
    pub async fn ping(&self) -> Result<(), Error> {
        on_pool!(self, pool => {
            sqlx::query("SELECT COUNT(*) FROM workers").fetch_one(pool).await?;
        });
        Ok(())
    }

    /// Forgets up to `limit` processed-event keys older than `before` (feed entries' keys,
    /// `feed:…`, are kept: they stop a relayed entry from being posted again). One statement.
    ///
    /// # Errors
    /// `Database`.
    pub async fn prune_processed_batch(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        write_op!(self, |conn| {
            Ok(sqlx::query(
                "DELETE FROM processed_events WHERE event_key IN (SELECT event_key \
                 FROM processed_events WHERE processed_at < $1 AND event_key NOT LIKE 'feed:%' \
                 ORDER BY processed_at LIMIT $2)",
            )
            .bind(before.0)
            .bind(limit)
            .execute(&mut *conn)
            .await?
            .rows_affected())
        })
    }

    /// Deletes up to `limit` finished (`done`) outbox rows last touched before `before`; dead
    /// letters stay until retried or looked at. One statement.
    ///
    /// # Errors
    /// `Database`.
    pub async fn prune_outbox_batch(&self, before: Timestamp, limit: usize) -> Result<u64, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        write_op!(self, |conn| {
            Ok(sqlx::query(
                "DELETE FROM outbox WHERE action_id IN (SELECT action_id FROM outbox \
                 WHERE state = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
            )
            .bind(before.0)
            .bind(limit)
            .execute(&mut *conn)
            .await?
            .rows_affected())
        })
    }

    /// Prunes processed-event keys and finished outbox rows older than `before`, `batch` rows
    /// per statement (each its own short transaction), yielding between statements so the
    /// hot paths' writes go in between, until none are left.
    ///
    /// # Errors
    /// `Database` (what was removed before the error stays removed).
    pub async fn prune(&self, before: Timestamp, batch: usize) -> Result<Pruned, Error> {
        let batch = batch.max(1);
        let full = u64::try_from(batch).unwrap_or(u64::MAX);
        let mut pruned = Pruned::default();
        loop {
            let n = self.prune_processed_batch(before, batch).await?;
            pruned.processed += n;
            tokio::task::yield_now().await;
            if n < full {
                break;
            }
        }
        loop {
            let n = self.prune_outbox_batch(before, batch).await?;
            pruned.outbox += n;
            tokio::task::yield_now().await;
            if n < full {
                break;
            }
        }
        Ok(pruned)
    }

    /// Re-queues dead letter `id` (after its cause was fixed) if its conversation is still
    /// open, and, for a DM, the failure did not mark the user unreachable: the row is `pending`
    /// again, due at `now`, with its attempts reset and its earlier result forgotten (so the new
    /// one is applied); the retry is recorded in `outbox_retries`, and the conversation's case,
    /// if any, gets a timeline entry through the outbox. All in one transaction. Otherwise
    /// nothing changes and [`Retried::Refused`] says why.
    ///
    /// # Errors
    /// `Database`; `Decode` when the conversation's stored state does not parse.
    pub async fn retry_dead(&self, id: &ActionId, now: Timestamp) -> Result<Retried, Error> {
        let lock = match self.backend {
            Backend::Sqlite(_) => "",
            Backend::Postgres(_) => " FOR UPDATE",
        };
        let id = id.clone();
        let retried = write_op!(self, |conn| {
            let row = sqlx::query(&format!(
                "SELECT state, kind, last_error, action FROM outbox WHERE action_id = $1{lock}"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else {
                return Ok(Retried::Refused(RetryRefused::NotFound));
            };
            let row = DeadRow {
                state: row.try_get(0)?,
                kind: row.try_get(1)?,
                reason: row.try_get(2)?,
                action: serde_json::from_str(&row.try_get::<String, _>(3)?).ok(),
            };
            let owner = match id.conversation() {
                Some(conversation) => sqlx::query(&format!(
                    "SELECT state FROM conversations WHERE id = $1{lock}"
                ))
                .bind(conversation.as_str())
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .map_or(Owner::Missing, Owner::State),
                None => Owner::None,
            };
            let case = match row.judge(&owner)? {
                Ok(case) => case,
                Err(refused) => return Ok(Retried::Refused(refused)),
            };
            sqlx::query(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, \
                 lease_until = NULL, lease_owner = NULL, result = NULL, updated_at = $2 \
                 WHERE action_id = $1",
            )
            .bind(id.as_str())
            .bind(now.0)
            .execute(&mut *conn)
            .await?;
            // The failure's result was applied under this key: the new result must apply too.
            sqlx::query("DELETE FROM processed_events WHERE event_key = $1")
                .bind(format!("result:{}", id.as_str()))
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO outbox_retries (action_id, kind, reason, retried_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(row.kind.as_str())
            .bind(row.reason.as_deref())
            .bind(now.0)
            .execute(&mut *conn)
            .await?;
            if let Some(number) = &case {
                let note = row.case_note(&id, number, now);
                sqlx::query(INSERT_ACTION)
                    .bind(note.id.as_str())
                    .bind(note.id.scope())
                    .bind(to_i64(note.id.seq())?)
                    .bind(note.kind.name())
                    .bind(serde_json::to_string(&note)?)
                    .bind(now.0)
                    .bind(None::<String>)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(Retried::Requeued {
                kind: row.kind,
                case,
            })
        })?;
        if matches!(retried, Retried::Requeued { .. }) {
            self.outbox_added.notify_waiters();
        }
        Ok(retried)
    }

    /// The ids of every dead letter (state `dead`), oldest first.
    ///
    /// # Errors
    /// `Database`.
    pub async fn dead_letter_ids(&self) -> Result<Vec<ActionId>, Error> {
        let ids: Vec<String> = on_pool!(self, pool => {
            sqlx::query("SELECT action_id FROM outbox WHERE state = 'dead' ORDER BY updated_at, action_id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?
        });
        Ok(ids.into_iter().map(ActionId).collect())
    }

    /// How many dead letters were re-queued ([`Store::retry_dead`]) since the database was
    /// created: only ever grows.
    ///
    /// # Errors
    /// `Database`.
    pub async fn retried_count(&self) -> Result<u64, Error> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query("SELECT COUNT(*) FROM outbox_retries")
                .fetch_one(pool)
                .await?
                .try_get(0)?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
