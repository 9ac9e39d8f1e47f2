//! `SQLite` WAL checkpoints on a connection of their own, off the writer's commits.
//!
//! By default `SQLite` checkpoints inside the commit that takes the WAL past 1,000 pages: that
//! commit copies the WAL back into the database file and syncs it before it returns, so every
//! few thousand writes one batch of the group-commit writer (decision 0025), and every webhook
//! waiting for it, waits for a checkpoint too. [`Store::connect`](crate::Store::connect) turns
//! that off (`wal_autocheckpoint = 0`) and [`start`] runs a `PASSIVE` checkpoint on one of the
//! pool's other connections every [`EVERY`]: it copies what no reader still needs and never
//! takes the write lock, so the writer's commits go on meanwhile, and once everything is copied
//! the next commit starts the WAL over. Durability is the same: a commit is durable in the WAL
//! when it returns, whenever it is copied back.

use std::time::Duration;

use sqlx::sqlite::SqlitePool;
use tokio::sync::oneshot;

/// How often the WAL is copied back into the database file.
pub(crate) const EVERY: Duration = Duration::from_millis(250);

/// Stops the checkpoints when the last [`crate::Store`] holding it is dropped.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    _stop: oneshot::Sender<()>,
}

/// Starts the checkpoints of `pool`'s database, until the returned handle is dropped or the
/// pool is closed.
pub(crate) fn start(pool: SqlitePool) -> Checkpoints {
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = every.tick() => {}
            }
            if pool.is_closed() {
                break;
            }
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await
            {
                Ok((busy, log, copied)) => {
                    tracing::trace!(busy, log, copied, "WAL checkpoint");
                }
                Err(_) if pool.is_closed() => break,
                // The next round tries again; the WAL only grows meanwhile.
                Err(e) => tracing::warn!(error = %e, "a WAL checkpoint failed"),
            }
        }
    });
    Checkpoints { _stop: stop }
}
