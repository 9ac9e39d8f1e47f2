//! Group commit on `SQLite`: one task runs every write, many per transaction.
//!
//! `SQLite` has one writer at a time, and with `synchronous=FULL` each commit waits for the disk
//! (a few milliseconds). Committing every webhook, delivery result and claim on its own caps
//! the store at a few hundred writes a second and makes writers queue on the database lock
//! (`busy_timeout`). Instead, writes are queued to one task, which takes all that are waiting,
//! runs each in a savepoint of one transaction (a failing write rolls back alone), commits once,
//! and only then answers each caller. Nothing is acknowledged before its commit is durable, so
//! durability is unchanged; the disk waits are shared. When the queue is full the caller gets
//! [`ErrorKind::Busy`] at once instead of waiting.

use std::future::Future;
use std::pin::Pin;

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, ErrorKind};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

/// A future borrowing the connection.
pub(crate) type Work<'t, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 't>>;

/// One queued write: runs in the batch's transaction, answers after the commit.
trait Job: Send {
    /// Runs the write in a savepoint; returns what to answer once the batch is committed.
    fn run<'t>(
        self: Box<Self>,
        conn: &'t mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = Box<dyn Answer>> + Send + 't>>;
    /// The batch could not start: answer with `error`.
    fn abort(self: Box<Self>, error: Error);
}

/// The answer of a job that ran, sent once the batch's commit succeeded or failed.
trait Answer: Send {
    fn send(self: Box<Self>, committed: Result<(), &Error>);
}

struct Task<T, W> {
    work: W,
    reply: oneshot::Sender<Result<T, Error>>,
}

struct Reply<T> {
    result: Result<T, Error>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<T: Send> Answer for Reply<T> {
    fn send(self: Box<Self>, committed: Result<(), &Error>) {
        let result = match (self.result, committed) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(commit_failed(e)),
            (Err(e), _) => Err(e),
        };
        let _ = self.reply.send(result);
    }
}

fn commit_failed(e: &Error) -> Error {
    Error::new(ErrorKind::Database).with_source(format!("the batch's commit failed: {e}"))
}

impl<T, W> Job for Task<T, W>
where
    T: Send + 'static,
    W: for<'t> FnOnce(&'t mut SqliteConnection) -> Work<'t, T> + Send + 'static,
{
    fn run<'t>(
        self: Box<Self>,
        conn: &'t mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = Box<dyn Answer>> + Send + 't>> {
        Box::pin(async move {
            let Task { work, reply } = *self;
            let result = async {
                let mut savepoint = conn.begin().await?;
                let result = work(&mut savepoint).await;
                match result {
                    Ok(v) => {
                        savepoint.commit().await?;
                        Ok(v)
                    }
                    Err(e) => {
                        savepoint.rollback().await?;
                        Err(e)
                    }
                }
            }
            .await;
            Box::new(Reply { result, reply }) as Box<dyn Answer>
        })
    }

    fn abort(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// The queue of writes and the task that commits them.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl std::fmt::Debug for dyn Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Writer {
    /// Starts the writing task on `pool`, with room for `capacity` waiting writes.
    pub(crate) fn start(pool: SqlitePool, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        tokio::spawn(run(pool, rx));
        Self { queue }
    }

    /// Runs `work` in the next batch; answers after the batch's commit.
    ///
    /// # Errors
    /// `work`'s error (its writes rolled back, the others' kept), the commit's, or
    /// [`ErrorKind::Busy`] when the queue is full.
    pub(crate) async fn write<T, W>(&self, work: W) -> Result<T, Error>
    where
        T: Send + 'static,
        W: for<'t> FnOnce(&'t mut SqliteConnection) -> Work<'t, T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Task { work, reply });
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::new(ErrorKind::Busy),
            mpsc::error::TrySendError::Closed(_) => {
                Error::new(ErrorKind::Database).with_source("the store's writer stopped")
            }
        })?;
        answer.await.map_err(|_| {
            Error::new(ErrorKind::Database).with_source("the store's writer dropped a write")
        })?
    }
}

/// The writing task: takes every waiting job (up to [`MAX_BATCH`]), runs them in one
/// transaction, commits, answers. Ends when every [`Writer`] is dropped.
async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = std::time::Instant::now();
        let n = batch.len();
        match pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(mut tx) => {
                let mut answers = Vec::with_capacity(n);
                for job in batch.drain(..) {
                    answers.push(job.run(&mut tx).await);
                }
                let committed: Result<(), Error> = tx.commit().await.map_err(Error::from);
                if let Err(e) = &committed {
                    tracing::error!(error = %e, jobs = n, "a batch of writes could not be committed");
                }
                for answer in answers {
                    answer.send(committed.as_ref().copied());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = n, "cannot start a batch of writes");
                for job in batch.drain(..) {
                    job.abort(Error::new(ErrorKind::Database).with_source(e.to_string()));
                }
            }
        }
        tracing::trace!(
            jobs = n,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "write batch"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool() -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
        let pool = SqlitePool::connect_with(options.create_if_missing(true))
            .await
            .expect("pool");
        sqlx::query("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .expect("table");
        (dir, pool)
    }

    fn insert(v: i64) -> impl for<'t> FnOnce(&'t mut SqliteConnection) -> Work<'t, i64> + Send {
        move |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO t (v) VALUES ($1)")
                    .bind(v)
                    .execute(&mut *conn)
                    .await?;
                Ok(v)
            })
        }
    }

    #[tokio::test]
    async fn writes_share_commits_and_a_failing_one_rolls_back_alone() {
        let (_dir, pool) = pool().await;
        let writer = Writer::start(pool.clone(), 1024);
        let mut handles = Vec::new();
        for v in [1, 2, 3, 2, 4] {
            let w = writer.clone();
            handles.push(tokio::spawn(async move { w.write(insert(v)).await }));
        }
        let mut ok = Vec::new();
        let mut failed = 0;
        for h in handles {
            match h.await.expect("task") {
                Ok(v) => ok.push(v),
                Err(e) => {
                    assert!(e.is_conflict(), "{e}");
                    failed += 1;
                }
            }
        }
        ok.sort_unstable();
        assert_eq!(ok, [1, 2, 3, 4]);
        assert_eq!(failed, 1, "the duplicate 2 alone is refused");
        let rows: Vec<i64> = sqlx::query_scalar("SELECT v FROM t ORDER BY v")
            .fetch_all(&pool)
            .await
            .expect("rows");
        assert_eq!(rows, [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let (_dir, pool) = pool().await;
        // Hold the database's write lock so the writer's batch waits, then fill the queue.
        let mut blocker = pool.acquire().await.expect("connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *blocker)
            .await
            .expect("lock");
        let writer = Writer::start(pool.clone(), 2);
        let mut waiting = Vec::new();
        for v in 0..3 {
            let w = writer.clone();
            waiting.push(tokio::spawn(async move { w.write(insert(v)).await }));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let refused = writer
            .write(insert(10))
            .await
            .expect_err("the queue is full");
        assert_eq!(refused.kind(), &ErrorKind::Busy);
        sqlx::query("ROLLBACK")
            .execute(&mut *blocker)
            .await
            .expect("unlock");
        drop(blocker);
        for h in waiting {
            h.await
                .expect("task")
                .expect("written once the lock is free");
        }
    }
}
