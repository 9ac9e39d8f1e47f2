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
//!
//! The writer keeps one connection of its own. sqlx runs each connection's statements on a
//! thread of its own, handing every statement and its answer across threads; for the hot
//! writes (applying an event, claiming, recording a delivery: [`Writer::write_now`]) that
//! hand-off cost more than `SQLite` itself, so those run in place, through `rusqlite` on the
//! same connection while sqlx's thread is parked on it (decision 0025). Both kinds of writes
//! share one transaction.
//!
//! Writes from outside (a webhook waiting for its answer) go first; the outbox worker's claims
//! and records fill the rest of a batch, and stop once the batch has run for
//! [`BACKGROUND_BUDGET`] while a write from outside waits: the ones not run yet are carried,
//! in order, to the next batch (decision 0027).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, ErrorKind};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

/// The most background writes ([`Writer::write_now`]: the outbox worker's claims and records)
/// one transaction takes. Foreground writes ([`Writer::write_now_first`]: events from outside,
/// a webhook waiting for its answer) go first and fill the rest, so a busy worker cannot make
/// a webhook wait for a long batch.
const BACKGROUND_BATCH: usize = 64;

/// How long a batch runs background writes while a foreground write waits for the next batch.
/// Past it, the background writes not yet run are carried, in order, to the next batch, which
/// the waiting foreground writes join: a webhook waits at most this and one write for the
/// batch in progress, however many background writes it took.
const BACKGROUND_BUDGET: Duration = Duration::from_millis(2);

/// A future borrowing the connection.
pub(crate) type Work<'t, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 't>>;

/// One queued write through sqlx: runs in the batch's transaction, answers after the commit.
trait AsyncJob: Send {
    /// Runs the write in a savepoint; returns what to answer once the batch is committed.
    fn run<'t>(
        self: Box<Self>,
        conn: &'t mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = Box<dyn Answer>> + Send + 't>>;
    /// The batch could not start: answer with `error`.
    fn abort(self: Box<Self>, error: Error);
}

/// One queued write run in place ([`Writer::write_now`]).
trait NowJob: Send {
    /// Runs the write in a savepoint; returns what to answer once the batch is committed.
    fn run(self: Box<Self>, conn: &rusqlite::Connection) -> Box<dyn Answer>;
    /// The batch could not start: answer with `error`.
    fn abort(self: Box<Self>, error: Error);
}

enum Job {
    Async(Box<dyn AsyncJob>),
    Now(Box<dyn NowJob>),
    /// Close the writer's connection once the writes before it are done ([`Writer::close`]).
    Close(oneshot::Sender<()>),
}

impl Job {
    fn abort(self, error: Error) {
        match self {
            Job::Async(j) => j.abort(error),
            Job::Now(j) => j.abort(error),
            Job::Close(done) => {
                let _ = done.send(());
            }
        }
    }
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

impl<T, W> AsyncJob for Task<T, W>
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

/// A job of [`Writer::write_now`].
struct NowTask<T, W> {
    work: W,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<T, W> NowJob for NowTask<T, W>
where
    T: Send + 'static,
    W: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &rusqlite::Connection) -> Box<dyn Answer> {
        let NowTask { work, reply } = *self;
        let result = savepoint(conn, work);
        Box::new(Reply { result, reply })
    }

    fn abort(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// Runs `work` in a savepoint of the batch's transaction: its writes are kept when it
/// succeeds, rolled back alone when it fails.
fn savepoint<T>(
    conn: &rusqlite::Connection,
    work: impl FnOnce(&rusqlite::Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    match work(conn) {
        Ok(v) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Err(e)
        }
    }
}

/// The queue of writes and the task that commits them.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
    first: mpsc::Sender<Job>,
    /// Taken around every batch ([`Writer::turns`]).
    turns: Turns,
}

/// The turns of the writers of one `SQLite` file in this process: each takes the lock around
/// its write transaction. SQLite lets one connection write at a time; a writer that meets its
/// lock waits in the busy handler, which sleeps and polls (up to 100 ms a turn), and while this
/// writer commits batch after batch it may find the lock free only seconds later. Queued on a
/// fair lock instead, it writes right after the batch under way, and the next batch after it.
pub(crate) type Turns = Arc<tokio::sync::Mutex<()>>;

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Async(_) => "Job::Async",
            Job::Now(_) => "Job::Now",
            Job::Close(_) => "Job::Close",
        })
    }
}

impl Writer {
    /// Starts the writing task on a connection of `pool`'s own, with room for `capacity`
    /// waiting writes.
    pub(crate) fn start(pool: SqlitePool, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let (first, first_rx) = mpsc::channel(capacity.max(1));
        let turns = Turns::default();
        tokio::spawn(run(pool, first_rx, rx, turns.clone()));
        Self {
            queue,
            first,
            turns,
        }
    }

    /// The lock this writer takes around each batch, for the other writers of its file.
    pub(crate) fn turns(&self) -> Turns {
        self.turns.clone()
    }

    async fn submit<T>(
        &self,
        job: Job,
        first: bool,
        answer: oneshot::Receiver<Result<T, Error>>,
    ) -> Result<T, Error> {
        let queue = if first { &self.first } else { &self.queue };
        queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::new(ErrorKind::Busy),
            mpsc::error::TrySendError::Closed(_) => {
                Error::new(ErrorKind::Database).with_source("the store's writer stopped")
            }
        })?;
        answer.await.map_err(|_| {
            Error::new(ErrorKind::Database).with_source("the store's writer dropped a write")
        })?
    }

    /// Closes the writer's connection after the writes queued before this call; a later write
    /// opens one again from the pool (and fails once the pool is closed).
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// Runs `work` through sqlx in the next batch; answers after the batch's commit.
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
        self.submit(Job::Async(Box::new(Task { work, reply })), false, answer)
            .await
    }

    /// Runs `work` in place on the writer's connection in the next batch (synchronous
    /// statements, no hand-off to another thread); answers after the batch's commit.
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub(crate) async fn write_now<T, W>(&self, work: W) -> Result<T, Error>
    where
        T: Send + 'static,
        W: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        self.now(work, false).await
    }

    /// [`Writer::write_now`] ahead of the background writes waiting (see [`BACKGROUND_BATCH`]).
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub(crate) async fn write_now_first<T, W>(&self, work: W) -> Result<T, Error>
    where
        T: Send + 'static,
        W: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        self.now(work, true).await
    }

    async fn now<T, W>(&self, work: W, first: bool) -> Result<T, Error>
    where
        T: Send + 'static,
        W: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Now(Box::new(NowTask { work, reply })), first, answer)
            .await
    }
}

/// Waits for the next writes: every foreground one waiting (up to [`MAX_BATCH`]), then the
/// background ones carried from the last batch, then more up to [`BACKGROUND_BATCH`]. Returns
/// how many of the batch's first jobs are foreground ones, or `None` when the writer is dropped.
async fn next_batch(
    first: &mut mpsc::Receiver<Job>,
    rx: &mut mpsc::Receiver<Job>,
    carry: &mut VecDeque<Job>,
    batch: &mut Vec<Job>,
) -> Option<usize> {
    let mut foreground = 0;
    if carry.is_empty() {
        let (job, from_first) = tokio::select! {
            biased;
            job = first.recv() => (job, true),
            job = rx.recv() => (job, false),
        };
        let job = job?;
        if from_first {
            foreground = 1;
            batch.push(job);
        } else {
            carry.push_back(job);
        }
    }
    while batch.len() < MAX_BATCH
        && let Ok(job) = first.try_recv()
    {
        batch.push(job);
        foreground += 1;
    }
    let mut background = 0;
    while background < BACKGROUND_BATCH
        && batch.len() < MAX_BATCH
        && let Some(job) = carry.pop_front()
    {
        batch.push(job);
        background += 1;
    }
    while background < BACKGROUND_BATCH
        && batch.len() < MAX_BATCH
        && let Ok(job) = rx.try_recv()
    {
        batch.push(job);
        background += 1;
    }
    Some(foreground)
}

/// When a batch stops taking background writes ([`BACKGROUND_BUDGET`]).
struct Budget<'a> {
    started: Instant,
    foreground: usize,
    first: &'a mpsc::Receiver<Job>,
}

impl Budget<'_> {
    /// Whether the job at `position` in the batch waits for the next one.
    fn spent(&self, position: usize) -> bool {
        position >= self.foreground
            && self.started.elapsed() >= BACKGROUND_BUDGET
            && !self.first.is_empty()
    }
}

/// The writer's connection, and the same connection seen through `rusqlite`.
struct Own {
    // Declared first: dropped (its cached statements finalized) before the connection.
    now: rusqlite::Connection,
    conn: SqliteConnection,
    /// The connection's busy timeout, as configured ([`try_begin`] sets it aside).
    busy: Duration,
}

impl Own {
    async fn close(self) {
        let Own { now, conn, .. } = self;
        drop(now);
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "the writer's connection did not close cleanly");
        }
    }

    async fn open(pool: &SqlitePool) -> Result<Self, Error> {
        let mut conn = pool.acquire().await?.detach();
        let mut guard = conn.lock_handle().await?;
        let handle: NonNull<rusqlite::ffi::sqlite3> = guard.as_raw_handle();
        let now = borrow_handle(handle)?;
        let busy: i64 = now.pragma_query_value(None, "busy_timeout", |r| r.get(0))?;
        drop(guard);
        let busy = Duration::from_millis(u64::try_from(busy).unwrap_or(0));
        Ok(Self { now, conn, busy })
    }
}

/// A `rusqlite` view of the sqlx connection's handle (never closed by `rusqlite`).
#[allow(unsafe_code)]
fn borrow_handle(handle: NonNull<rusqlite::ffi::sqlite3>) -> Result<rusqlite::Connection, Error> {
    // SAFETY: the handle is the open connection of `Own::conn`, which outlives the returned
    // connection (`Own` drops it first), and `rusqlite` does not close a handle it did not
    // open. Both sides link the one libsqlite3 (`links = "sqlite3"`). The handle is only used
    // while sqlx's thread is parked on it (the batch holds `lock_handle`'s guard), so the two
    // never run statements at the same time.
    Ok(unsafe { rusqlite::Connection::from_handle(handle.as_ptr()) }?)
}

/// The writing task: takes the waiting jobs ([`next_batch`]), runs them in one transaction,
/// commits, answers. Ends when every [`Writer`] is dropped.
async fn run(
    pool: SqlitePool,
    mut first: mpsc::Receiver<Job>,
    mut rx: mpsc::Receiver<Job>,
    turns: Turns,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut carry: VecDeque<Job> = VecDeque::new();
    let mut own: Option<Own> = None;
    while let Some(foreground) = next_batch(&mut first, &mut rx, &mut carry, &mut batch).await {
        let turn = turns.lock().await;
        let started = Instant::now();
        let closes: Vec<oneshot::Sender<()>> = batch
            .extract_if(.., |job| matches!(job, Job::Close(_)))
            .filter_map(|job| match job {
                Job::Close(done) => Some(done),
                _ => None,
            })
            .collect();
        let n = batch.len();
        let budget = Budget {
            started,
            foreground: foreground.min(n),
            first: &first,
        };
        if n > 0 && own.is_none() {
            match Own::open(&pool).await {
                Ok(o) => own = Some(o),
                Err(e) => {
                    tracing::error!(error = %e, jobs = n, "the writer cannot open its connection");
                    for job in batch.drain(..) {
                        job.abort(Error::new(ErrorKind::Database).with_source(e.to_string()));
                    }
                }
            }
        }
        if let Some(o) = own.as_mut()
            && !batch.is_empty()
            && let Err(e) = if batch.iter().all(|job| matches!(job, Job::Now(_))) {
                run_in_place(o, &mut batch, &budget, &mut carry).await
            } else {
                run_batch(o, &mut batch, &budget, &mut carry).await
            }
        {
            // The connection may be broken: open another for the next batch.
            tracing::error!(error = %e, jobs = n, "a batch of writes failed");
            own = None;
        }
        drop(turn);
        if !carry.is_empty() {
            // Writes queued before the close are still to run: it waits behind them.
            carry.extend(closes.into_iter().map(Job::Close));
        } else if !closes.is_empty() {
            if let Some(o) = own.take() {
                o.close().await;
            }
            for done in closes {
                let _ = done.send(());
            }
        }
        tracing::trace!(
            jobs = n,
            carried = carry.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "write batch"
        );
    }
}

/// Runs `batch` (emptied) in one transaction and answers every job it ran; the background
/// jobs left when the budget is spent go to the front of `carry`, in order. `Err` when the
/// batch could not start or commit (every job it ran was answered with the error).
async fn run_batch(
    own: &mut Own,
    batch: &mut Vec<Job>,
    budget: &Budget<'_>,
    carry: &mut VecDeque<Job>,
) -> Result<(), Error> {
    let n = batch.len();
    let Own { now, conn, .. } = own;
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let e = Error::from(e);
            for job in batch.drain(..) {
                job.abort(Error::new(ErrorKind::Database).with_source(e.to_string()));
            }
            return Err(e);
        }
    };
    let mut answers: Vec<Box<dyn Answer>> = Vec::with_capacity(n);
    let mut jobs = batch.drain(..).peekable();
    let mut position = 0;
    let mut left: Vec<Job> = Vec::new();
    while let Some(job) = jobs.next() {
        if budget.spent(position) {
            left.push(job);
            left.extend(jobs.by_ref());
            break;
        }
        match job {
            Job::Async(j) => {
                answers.push(j.run(&mut tx).await);
                position += 1;
            }
            // taken out of the batch by `run`
            Job::Close(done) => {
                let _ = done.send(());
            }
            Job::Now(first) => {
                // This job and the in-place ones right after it, under one lock of the handle.
                let mut stretch = vec![first];
                while let Some(Job::Now(_)) = jobs.peek() {
                    if let Some(Job::Now(j)) = jobs.next() {
                        stretch.push(j);
                    }
                }
                match tx.lock_handle().await {
                    Ok(_guard) => {
                        let rest =
                            in_place(|| run_now(now, stretch, &mut answers, budget, &mut position));
                        if !rest.is_empty() {
                            left.extend(rest.into_iter().map(Job::Now));
                            left.extend(jobs.by_ref());
                            break;
                        }
                    }
                    Err(e) => {
                        for j in stretch {
                            j.abort(Error::new(ErrorKind::Database).with_source(e.to_string()));
                        }
                    }
                }
            }
        }
    }
    drop(jobs);
    let committed = tx.commit().await.map_err(Error::from);
    settle(answers, left, committed, carry, n)
}

/// Ends a batch of `n` jobs: the ones `left` go to the front of `carry`, in order, and every
/// job that ran is answered with the commit's outcome.
fn settle(
    answers: Vec<Box<dyn Answer>>,
    left: Vec<Job>,
    committed: Result<(), Error>,
    carry: &mut VecDeque<Job>,
    n: usize,
) -> Result<(), Error> {
    for job in left.into_iter().rev() {
        carry.push_front(job);
    }
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = n, "a batch of writes could not be committed");
    }
    for answer in answers {
        answer.send(committed.as_ref().copied());
    }
    committed
}

/// Runs in-place jobs until the budget is spent; returns the jobs not run.
fn run_now(
    now: &rusqlite::Connection,
    stretch: Vec<Box<dyn NowJob>>,
    answers: &mut Vec<Box<dyn Answer>>,
    budget: &Budget<'_>,
    position: &mut usize,
) -> Vec<Box<dyn NowJob>> {
    let mut jobs = stretch.into_iter();
    for j in jobs.by_ref() {
        if budget.spent(*position) {
            return std::iter::once(j).chain(jobs).collect();
        }
        answers.push(j.run(now));
        *position += 1;
    }
    Vec::new()
}

/// Runs `work` off the runtime's worker when the runtime has others to take its tasks.
fn in_place<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Begins the batch's transaction in place if the database's write lock is free at once:
/// `false` when another connection holds it (waiting for it here would block the runtime's
/// thread, and with it, on a single-threaded runtime, the very task that holds the lock).
fn try_begin(now: &rusqlite::Connection, busy: Duration) -> Result<bool, Error> {
    now.busy_timeout(Duration::ZERO)?;
    let begun = now
        .prepare_cached("BEGIN IMMEDIATE")
        .and_then(|mut s| s.execute([]));
    now.busy_timeout(busy)?;
    match begun {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`run_batch`] for a batch of in-place jobs only (the usual one): the transaction is begun
/// and committed in place too, all under one lock of the handle, so the batch costs one
/// hand-off to sqlx's thread instead of three. When another connection holds the write lock,
/// the batch runs through [`run_batch`], whose `BEGIN` waits on sqlx's thread.
async fn run_in_place(
    own: &mut Own,
    batch: &mut Vec<Job>,
    budget: &Budget<'_>,
    carry: &mut VecDeque<Job>,
) -> Result<(), Error> {
    let n = batch.len();
    let stretch: Vec<Box<dyn NowJob>> = batch
        .drain(..)
        .filter_map(|job| match job {
            Job::Now(j) => Some(j),
            // `run` sends only in-place jobs here and takes the closes out
            other => {
                other.abort(Error::new(ErrorKind::Database).with_source("not an in-place write"));
                None
            }
        })
        .collect();
    let Own { now, conn, busy } = own;
    let guard = match conn.lock_handle().await {
        Ok(guard) => guard,
        Err(e) => {
            for j in stretch {
                j.abort(Error::new(ErrorKind::Database).with_source(e.to_string()));
            }
            return Err(e.into());
        }
    };
    let now: &rusqlite::Connection = now;
    let ran = in_place(|| {
        match try_begin(now, *busy) {
            Ok(true) => {}
            // Another connection writes: wait for it on sqlx's thread, not on this one.
            Ok(false) => return Err(stretch),
            Err(e) => {
                for j in stretch {
                    j.abort(Error::new(ErrorKind::Database).with_source(e.to_string()));
                }
                return Ok((Vec::new(), Vec::new(), Err(e)));
            }
        }
        let mut answers: Vec<Box<dyn Answer>> = Vec::with_capacity(n);
        let left = run_now(now, stretch, &mut answers, budget, &mut 0);
        // In WAL mode a commit holding the write lock does not wait for other connections.
        let committed = now
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(|e| {
                if !now.is_autocommit() {
                    let _ = now.execute_batch("ROLLBACK");
                }
                Error::from(e)
            });
        Ok((answers, left, committed))
    });
    let (answers, left, committed) = match ran {
        Ok(ran) => ran,
        Err(stretch) => {
            drop(guard);
            batch.extend(stretch.into_iter().map(Job::Now));
            return run_batch(own, batch, budget, carry).await;
        }
    };
    drop(guard);
    let left = left.into_iter().map(Job::Now).collect();
    settle(answers, left, committed, carry, n)
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

    /// A connection of `pool` holding the database's write lock (until `COMMIT` or `ROLLBACK`).
    async fn holding_the_write_lock(pool: &SqlitePool) -> sqlx::pool::PoolConnection<sqlx::Sqlite> {
        let mut holder = pool.acquire().await.expect("connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *holder)
            .await
            .expect("lock");
        holder
    }

    #[tokio::test]
    async fn a_batch_waits_for_its_turn_and_another_writer_gets_one_between_batches() {
        let (_dir, pool) = pool().await;
        let writer = Writer::start(pool.clone(), 1024);
        let turns = writer.turns();
        let held = turns.clone().lock_owned().await;
        let w = writer.clone();
        let first = tokio::spawn(async move { w.write(insert(1)).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !first.is_finished(),
            "the batch waits while another writer has the turn"
        );
        drop(held);
        assert_eq!(first.await.expect("task").expect("write"), 1);
        // A steady stream of batches: another writer queued for a turn gets one between them.
        let stream = {
            let w = writer.clone();
            tokio::spawn(async move {
                for v in 10..400 {
                    w.write(insert(v)).await.expect("write");
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let other = tokio::time::timeout(Duration::from_secs(5), turns.lock())
            .await
            .expect("a turn between two batches");
        assert!(
            !stream.is_finished(),
            "the turn came while batches still came"
        );
        drop(other);
        stream.await.expect("stream");
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_foreground_write_does_not_wait_for_the_whole_background_batch() {
        use std::sync::{Arc, Mutex};
        let (_dir, pool) = pool().await;
        let writer = Writer::start(pool.clone(), 1024);
        let ran: Arc<Mutex<Vec<i64>>> = Arc::default();
        let record = |v: i64, ran: Arc<Mutex<Vec<i64>>>| {
            move |conn: &rusqlite::Connection| {
                ran.lock().expect("lock").push(v);
                conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                std::thread::sleep(Duration::from_millis(1));
                Ok(v)
            }
        };
        // A first write holds the writer while 64 background writes of 1 ms each queue: the
        // next batch takes them all, 64 ms of work without a budget.
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gate = {
            let (w, ran, release) = (writer.clone(), ran.clone(), release.clone());
            tokio::spawn(async move {
                w.write_now(move |_| {
                    ran.lock().expect("lock").push(-1);
                    while !release.load(std::sync::atomic::Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    Ok(())
                })
                .await
            })
        };
        let started = |v: i64| ran.lock().expect("lock").contains(&v);
        while !started(-1) {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        // Queued in order: `join_all` polls them in order.
        let background = tokio::spawn(futures::future::join_all((0..64).map(|v| {
            let w = writer.clone();
            let job = record(v, ran.clone());
            async move { w.write_now(job).await }
        })));
        while writer.queue.max_capacity() - writer.queue.capacity() < 64 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        release.store(true, std::sync::atomic::Ordering::SeqCst);
        gate.await.expect("task").expect("gate");
        while !started(0) {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        writer
            .write_now_first(record(1000, ran.clone()))
            .await
            .expect("foreground write");
        for written in background.await.expect("task") {
            written.expect("background write");
        }
        let ran = ran.lock().expect("lock").clone();
        let at = |v: i64| ran.iter().position(|r| *r == v).expect("ran");
        assert!(
            at(1000) < at(63),
            "the foreground write waited for the whole background batch: {ran:?}"
        );
        let order: Vec<i64> = ran
            .iter()
            .copied()
            .filter(|v| (0..64).contains(v))
            .collect();
        assert_eq!(order, (0..64).collect::<Vec<_>>(), "background order kept");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(rows, 65);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_place_writes_commit_in_place_and_a_failing_one_rolls_back_alone() {
        let (_dir, pool) = pool().await;
        let writer = Writer::start(pool.clone(), 1024);
        let written = futures::future::join_all([1, 2, 3, 2, 4].map(|v| {
            let w = writer.clone();
            async move {
                w.write_now(move |conn| {
                    conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                    Ok(v)
                })
                .await
            }
        }))
        .await;
        let ok: Vec<i64> = written
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .copied()
            .collect();
        assert_eq!(ok, [1, 2, 3, 4]);
        assert!(written[3].as_ref().is_err_and(Error::is_conflict));
        // Committed: another connection sees them, and the writer's next batch starts afresh.
        let rows: Vec<i64> = sqlx::query_scalar("SELECT v FROM t ORDER BY v")
            .fetch_all(&pool)
            .await
            .expect("rows");
        assert_eq!(rows, [1, 2, 3, 4]);
        writer
            .write(insert(5))
            .await
            .expect("a write through sqlx after them");
    }

    #[tokio::test]
    async fn an_in_place_batch_waits_for_another_writer_without_blocking_the_runtime() {
        let (_dir, pool) = pool().await;
        // Another connection holds the write lock; this task, on the same single thread as the
        // writer, lets it go only if the writer does not block the thread while it waits.
        let mut other = holding_the_write_lock(&pool).await;
        let writer = Writer::start(pool.clone(), 16);
        let write = tokio::spawn({
            let w = writer.clone();
            async move {
                w.write_now(|conn| {
                    conn.execute("INSERT INTO t (v) VALUES (1)", [])?;
                    Ok(())
                })
                .await
            }
        });
        // Blocked, the thread would sit out the connection's busy timeout (5 s) first.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        tokio::time::sleep(Duration::from_millis(100)).await;
        sqlx::query("COMMIT")
            .execute(&mut *other)
            .await
            .expect("unlock");
        tokio::time::timeout_at(deadline, write)
            .await
            .expect("the runtime was not blocked")
            .expect("task")
            .expect("written once the lock is free");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(rows, 1);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let (_dir, pool) = pool().await;
        // Hold the database's write lock so the writer's batch waits, then fill the queue.
        let mut blocker = holding_the_write_lock(&pool).await;
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
