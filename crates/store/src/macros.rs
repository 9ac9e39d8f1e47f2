//! Dispatch over the two backends.

/// Runs `$body` with `$pool` bound to the concrete pool of either backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a write transaction `$tx` of either backend and commits it.
/// SQLite takes the write lock at `BEGIN IMMEDIATE`, so a load and the commit that follows it
/// are serialised; Postgres relies on row locks (`FOR UPDATE`) and unique indexes.
macro_rules! in_tx {
    ($store:expr, $tx:ident, $lock:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let $lock = "";
                let out = $body;
                $tx.commit().await?;
                out
            }
            Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let $lock = " FOR UPDATE";
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}
