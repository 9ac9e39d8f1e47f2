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

/// Runs `$body` (an async block's body returning `Result<T, Error>`, with `$conn` a mutable
/// connection of either backend) as one write: on `SQLite` through the group-commit writer (so
/// what `$body` captures must be owned), on Postgres in a transaction of its own.
macro_rules! write_op {
    ($store:expr, |$conn:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite(_) => {
                $store
                    .writer()?
                    .write(move |$conn| Box::pin(async move { $body }))
                    .await
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let out = {
                    let $conn: &mut sqlx::PgConnection = &mut *tx;
                    async move { $body }.await
                };
                match out {
                    Ok(v) => {
                        tx.commit().await?;
                        Ok(v)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    };
}
