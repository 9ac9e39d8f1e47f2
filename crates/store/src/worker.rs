//! The outbox worker: runs actions through a [`Deliver`] implementation with retries.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use flexcord_routing::{Action, ActionId, ActionKind, Event, Timestamp};

use futures::future::Either;
use futures::future::FusedFuture as _;
use futures::stream::{FuturesOrdered, FuturesUnordered};
use futures::{FutureExt as _, StreamExt as _};
use tracing::Instrument as _;

use crate::error::Error;
use crate::outbox::Claimed;
use crate::store::Store;
use crate::trace::TraceId;

/// A successful delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// What the upstream created: a Discord message or channel id, a Twilio SID, a case number.
    pub upstream_id: Option<String>,
    /// The result event to feed back instead of [`Action::completed`] (for `AskBot`: the
    /// [`Event::BotReply`]).
    pub event: Option<Event>,
}

impl Receipt {
    /// A receipt with an upstream id.
    pub fn id(upstream_id: impl Into<String>) -> Self {
        Self {
            upstream_id: Some(upstream_id.into()),
            event: None,
        }
    }

    /// A receipt without an id (edits, case updates, ...).
    pub fn done() -> Self {
        Self::default()
    }

    /// A receipt carrying its own result event.
    pub fn with_event(event: Event) -> Self {
        Self {
            upstream_id: None,
            event: Some(event),
        }
    }
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The upstream refused for good (Discord 50007, 10003; Twilio 404/20404; an illegal case
    /// transition): dead-letter at once.
    pub permanent: bool,
    /// Why, for the dead letter, the logs and the agent.
    pub reason: String,
    /// The upstream asked to wait this long (429 `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure worth retrying.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            permanent: false,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            permanent: true,
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// Runs one action against the outside world. Implemented by the app (Discord, Twilio, the
/// bot, cases).
///
/// Deliveries may run more than once (a worker can die after the upstream call and before
/// recording it), so they must be idempotent: send Discord messages with
/// `nonce = action.id.nonce()` and `enforce_nonce: true`, use `action.id` as the idempotency key
/// of Twilio (`I-Twilio-Idempotency-Token`) and case calls, or look up what an earlier attempt
/// created before creating again.
pub trait Deliver: Send + Sync {
    /// Runs `action`.
    fn deliver(&self, action: &Action) -> impl Future<Output = Result<Receipt, Failure>> + Send;

    /// Runs `action` as attempt number `attempt` (1-based, counting every claim, including one
    /// by a worker that died mid-delivery). From the second attempt on, an earlier attempt may
    /// have reached the upstream without its result being recorded: an upstream with no
    /// idempotency key (a Twilio message) is asked first whether the action's work exists. The
    /// worker calls this; the default ignores `attempt`.
    fn deliver_attempt(
        &self,
        action: &Action,
        attempt: u32,
    ) -> impl Future<Output = Result<Receipt, Failure>> + Send {
        let _ = attempt;
        self.deliver(action)
    }
}

/// How a claimed action ended, to record and apply ([`EventSink::settle`]).
#[derive(Debug, Clone, Copy)]
pub enum Settle<'a> {
    /// Delivered: the upstream's id and the result event.
    Delivered {
        /// What the upstream created, if anything.
        upstream_id: Option<&'a str>,
        /// The result event ([`Action::completed`], or the deliverer's own).
        event: &'a Event,
    },
    /// Given up (a permanent failure, or out of attempts): a dead letter.
    Dead {
        /// Why.
        reason: &'a str,
        /// The `DeliveryFailed` result.
        event: &'a Event,
    },
}

/// Where the worker sends result events (the driver applies them to the router).
pub trait EventSink: Send + Sync {
    /// Takes one event.
    ///
    /// # Errors
    /// When the event could not be taken; the worker feeds it again later (it stays recorded).
    fn send(&self, event: Event) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records a claimed action's outcome on its outbox row under `owner`'s lease and applies
    /// its result event. `Ok(false)`: the lease was lost (another worker took the action over;
    /// nothing done). The default records through `store`, then [`EventSink::send`]s the
    /// event (a crash in between leaves a recorded result that [`Worker::refeed`] applies);
    /// the [`crate::Engine`] does both in one transaction.
    ///
    /// # Errors
    /// The store's, or the sink's (the result stays recorded and is fed again).
    fn settle(
        &self,
        store: &Store,
        owner: &str,
        outcome: Settle<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        async move {
            let (recorded, event) = match outcome {
                Settle::Delivered { upstream_id, event } => {
                    let id = crate::store::result_action(event)
                        .ok_or_else(|| crate::store::invalid("a result event names no action"))?;
                    (
                        store
                            .record_delivered(&id, owner, upstream_id, event, now)
                            .await?,
                        event,
                    )
                }
                Settle::Dead { reason, event } => {
                    let id = crate::store::result_action(event)
                        .ok_or_else(|| crate::store::invalid("a result event names no action"))?;
                    (
                        store.record_dead(&id, owner, reason, event, now).await?,
                        event,
                    )
                }
            };
            if recorded {
                self.send(event.clone()).await?;
            }
            Ok(recorded)
        }
    }
}

impl EventSink for tokio::sync::mpsc::Sender<Event> {
    async fn send(&self, event: Event) -> Result<(), Error> {
        tokio::sync::mpsc::Sender::send(self, event)
            .await
            .map_err(|_| crate::store::invalid("the event channel is closed"))
    }
}

impl EventSink for tokio::sync::mpsc::UnboundedSender<Event> {
    async fn send(&self, event: Event) -> Result<(), Error> {
        tokio::sync::mpsc::UnboundedSender::send(self, event)
            .map_err(|_| crate::store::invalid("the event channel is closed"))
    }
}

/// A point in the worker's life, reported to the probe (tests, tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The action was claimed.
    Claimed,
    /// The upstream call returned (before anything is recorded).
    Called,
    /// The result was recorded (before it is fed back).
    Recorded,
    /// The result event was handed to the sink.
    Fed,
}

type Probe = Arc<dyn Fn(Point, &ActionId) + Send + Sync>;
type Pulse = Arc<dyn Fn(Timestamp) + Send + Sync>;

/// Retry and lease settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's name in the `lease_owner` column; it must be unique among every worker
    /// sharing the database (the default is: see [`unique_owner`]).
    pub owner: String,
    /// How long a claim lasts; a crashed worker's action is taken over after it.
    /// Keep it above the longest delivery timeout.
    pub lease: Duration,
    /// Attempts before an action is dead-lettered.
    pub max_attempts: u32,
    /// The first retry delay; doubled each attempt.
    pub base_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
    /// How often to look for due actions when not woken by a commit.
    pub poll: Duration,
    /// How many conversations' deliveries run at once (each conversation's in order).
    pub concurrency: usize,
    /// How many of one conversation's due actions one claim takes (delivered one after the
    /// other; what a failure leaves is given back).
    pub run: usize,
    /// How often [`Worker::run`] records that it is alive ([`Store::heartbeat`]).
    pub heartbeat: Duration,
    /// How long a worker may be silent before its running actions are taken over, whatever
    /// their lease (a crashed instance's deliveries resume within seconds); while it heartbeats
    /// its actions stay its own, even past their lease.
    pub stale_after: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            owner: unique_owner(),
            lease: Duration::from_secs(60),
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            poll: Duration::from_millis(500),
            concurrency: 32,
            run: 64,
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_millis(u64::try_from(crate::STALE_MS).unwrap_or(10_000)),
        }
    }
}

/// A worker name unique among the workers sharing a database: the process id alone is not
/// (containers on several hosts all run as process 1, and one process may run several
/// workers), so the start time in nanoseconds and a per-process counter are added.
pub fn unique_owner() -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("worker-{}-{nanos:x}-{seq}", std::process::id())
}

/// The delay before attempt `attempt + 1` after `attempt` failed: exponential from `base`,
/// capped at `max`, never shorter than the upstream's `retry_after`, with a deterministic
/// ±10% spread per action so retries of many actions do not line up.
pub fn backoff(
    config: &WorkerConfig,
    id: &ActionId,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let raw = config
        .base_backoff
        .saturating_mul(1 << exp)
        .min(config.max_backoff);
    let spread = id.nonce().bytes().map(u32::from).sum::<u32>() % 21;
    let jittered = raw.mul_f64(f64::from(90 + spread) / 100.0);
    retry_after.map_or(jittered, |r| jittered.max(r))
}

/// How many times a run goes on with its conversation's next due actions
/// ([`Store::claim_after`]) before it ends and the conversation waits for the next claim with
/// the others: a conversation with a long backlog keeps its deliveries flowing, and still
/// gives its place back after at most `run × (1 + MAX_CONTINUATIONS)` actions.
const MAX_CONTINUATIONS: usize = 7;

/// The first wait before a failed record is tried again ([`Worker::record`]); doubled each try.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(50);

/// The longest wait between two tries of a record.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(2);

/// When a run claims its continuation ([`Store::claim_after`]).
struct Continuation {
    /// The last action claimed: the continuation is what follows it.
    tail: Option<ActionId>,
    /// How many more continuations the run may claim.
    left: usize,
    /// Claim once this many actions or fewer are left to call: half a run, so the claim's wait
    /// for the store overlaps the calls and the next actions are there when these are done,
    /// instead of after every result is recorded and the next claim.
    at: usize,
}

impl Continuation {
    /// The action to continue after, when it is time to claim (and one claim is left).
    fn due(&mut self, unstarted: usize) -> Option<ActionId> {
        if self.left == 0 || unstarted > self.at {
            return None;
        }
        let tail = self.tail.take()?;
        self.left -= 1;
        Some(tail)
    }

    /// A continuation was claimed; nothing claimed means nothing follows yet (the next claim
    /// finds what comes later).
    fn took(&mut self, claimed: &[Claimed]) {
        self.tail = claimed.last().map(|c| c.action.id.clone());
        if self.tail.is_none() {
            self.left = 0;
        }
    }
}

/// What one [`Worker::run_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was due.
    Idle,
    /// Delivered; the result was fed.
    Delivered(ActionId),
    /// Failed; retried later.
    Retrying(ActionId),
    /// Dead-lettered; the `DeliveryFailed` result was fed.
    Dead(ActionId),
    /// Another worker took the action over while this one ran it; its result was discarded.
    LeaseLost(ActionId),
}

/// An upstream call's outcome, before it is recorded.
struct Called {
    action: Action,
    attempt: u32,
    result: Result<Receipt, Failure>,
}

/// Runs outbox actions through `D`. Several workers (tasks, processes, hosts on one Postgres)
/// may run at once.
pub struct Worker<D> {
    store: Store,
    deliver: D,
    config: WorkerConfig,
    clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    probe: Option<Probe>,
    pulse: Option<Pulse>,
}

impl<D: Deliver> Worker<D> {
    /// A worker with the default settings and the system clock.
    pub fn new(store: Store, deliver: D) -> Self {
        Self {
            store,
            deliver,
            config: WorkerConfig::default(),
            clock: Arc::new(crate::now),
            probe: None,
            pulse: None,
        }
    }

    /// Other settings.
    #[must_use]
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = config;
        self
    }

    /// Another clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Called at each [`Point`] (tests use it to crash at exact places; tracing).
    #[must_use]
    pub fn probe(mut self, probe: impl Fn(Point, &ActionId) + Send + Sync + 'static) -> Self {
        self.probe = Some(Arc::new(probe));
        self
    }

    /// Called with the time of each heartbeat [`Worker::run`] records in the store: a worker
    /// whose last recorded heartbeat is older than [`WorkerConfig::stale_after`] is taken for
    /// dead by the others, so its process should not call itself ready either.
    #[must_use]
    pub fn on_heartbeat(mut self, pulse: impl Fn(Timestamp) + Send + Sync + 'static) -> Self {
        self.pulse = Some(Arc::new(pulse));
        self
    }

    /// Records that this worker is alive; a failure is logged (the next beat tries again).
    async fn beat(&self) {
        let now = (self.clock)();
        match self.store.heartbeat(&self.config.owner, now).await {
            Ok(()) => {
                if let Some(pulse) = &self.pulse {
                    pulse(now);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not record this worker's heartbeat"),
        }
    }

    fn at(&self, point: Point, id: &ActionId) {
        if let Some(probe) = &self.probe {
            probe(point, id);
        }
    }

    /// Claims one due action, delivers it, records the outcome and feeds the result event to
    /// `sink`.
    ///
    /// The delivery, the recording and the feeding run inside a span `outbox` with the fields
    /// `trace` (the trace stored with the action), `action`, `kind` and `attempt`, and with
    /// that trace as [`TraceId::current`], so the actions the result produces keep the trace.
    ///
    /// # Errors
    /// `Database` errors of the store, or the sink's error (the result stays recorded and is
    /// fed again by [`Worker::refeed`]).
    pub async fn run_once(&self, sink: &impl EventSink) -> Result<Outcome, Error> {
        let now = (self.clock)();
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let Some(claimed) = self.store.claim(&self.config.owner, now, lease_ms).await? else {
            return Ok(Outcome::Idle);
        };
        let trace = claimed.trace.clone();
        let span = tracing::info_span!(
            "outbox",
            trace = trace.as_ref().map(TraceId::as_str),
            action = claimed.action.id.as_str(),
            kind = claimed.action.kind.name(),
            attempt = claimed.attempt,
        );
        TraceId::scope_opt(trace, self.finish(claimed, sink).instrument(span)).await
    }

    /// Delivers a claimed action, then records and applies its outcome
    /// ([`EventSink::settle`]; a success whose result changes nothing is only recorded).
    async fn finish(&self, claimed: Claimed, sink: &impl EventSink) -> Result<Outcome, Error> {
        let called = self.call(claimed).await;
        self.record(called, sink).await
    }

    /// The upstream call of a claimed action.
    async fn call(&self, claimed: Claimed) -> Called {
        let action = claimed.action;
        self.at(Point::Claimed, &action.id);
        tracing::debug!("delivering");
        let result = self.deliver.deliver_attempt(&action, claimed.attempt).await;
        self.at(Point::Called, &action.id);
        Called {
            action,
            attempt: claimed.attempt,
            result,
        }
    }

    /// Records and applies the outcome of a call. A store error is tried again (with backoff,
    /// for up to the lease): the call went through and only this worker may record it, since
    /// nobody takes over the actions of a worker that is alive, so a record given up would hold
    /// its conversation until this worker stops.
    async fn record(&self, called: Called, sink: &impl EventSink) -> Result<Outcome, Error> {
        let started = tokio::time::Instant::now();
        let mut wait = RECORD_RETRY_FIRST;
        loop {
            match self.record_once(&called, sink).await {
                Err(e) if e.is_transient() && started.elapsed() + wait < self.config.lease => {
                    tracing::warn!(error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "could not record a call's outcome; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RECORD_RETRY_MAX);
                }
                other => return other,
            }
        }
    }

    /// One try of [`Worker::record`].
    async fn record_once(&self, called: &Called, sink: &impl EventSink) -> Result<Outcome, Error> {
        let Called {
            action,
            attempt,
            result,
        } = called;
        let attempt = *attempt;
        let id = action.id.clone();
        let now = (self.clock)();
        let owner = self.config.owner.as_str();
        match result {
            Ok(receipt) => {
                let recorded = if receipt.event.is_none() && !action.kind.success_matters() {
                    self.store
                        .record_done(&id, owner, receipt.upstream_id.as_deref(), now)
                        .await?
                } else {
                    let event = receipt
                        .event
                        .clone()
                        .unwrap_or_else(|| action.completed(receipt.upstream_id.clone()));
                    let outcome = Settle::Delivered {
                        upstream_id: receipt.upstream_id.as_deref(),
                        event: &event,
                    };
                    sink.settle(&self.store, owner, outcome, now).await?
                };
                if !recorded {
                    tracing::warn!("another worker took the action over; result discarded");
                    return Ok(Outcome::LeaseLost(id));
                }
                tracing::info!(
                    upstream_id = receipt.upstream_id.as_deref(),
                    "action delivered"
                );
                self.at(Point::Recorded, &id);
                self.at(Point::Fed, &id);
                Ok(Outcome::Delivered(id))
            }
            Err(failure) if !failure.permanent && attempt < self.config.max_attempts => {
                let delay = backoff(&self.config, &id, attempt, failure.retry_after);
                let retry_at =
                    now.plus_millis(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                tracing::warn!(reason = %failure.reason, retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "delivery failed; retrying");
                let recorded = self
                    .store
                    .record_retry(&id, owner, &failure.reason, retry_at, now)
                    .await?;
                Ok(if recorded {
                    Outcome::Retrying(id)
                } else {
                    Outcome::LeaseLost(id)
                })
            }
            Err(failure) => {
                let reason = if failure.permanent {
                    failure.reason.clone()
                } else {
                    format!("gave up after {attempt} attempts: {}", failure.reason)
                };
                tracing::error!(reason = %reason, "delivery dead-lettered");
                let event = action.failed(failure.permanent, reason.clone());
                let outcome = Settle::Dead {
                    reason: &reason,
                    event: &event,
                };
                if !sink.settle(&self.store, owner, outcome, now).await? {
                    return Ok(Outcome::LeaseLost(id));
                }
                self.at(Point::Recorded, &id);
                self.at(Point::Fed, &id);
                Ok(Outcome::Dead(id))
            }
        }
    }

    /// Delivers a run of one conversation's actions in order, each in its trace's span; stops
    /// at the first that did not go through (a retry, a dead letter, a lost lease) and gives the
    /// rest back. Returns how many were delivered.
    ///
    /// The upstream calls are strictly sequential, and the next call starts only once the
    /// previous one succeeded; recording a success (a write that waits for its commit) overlaps
    /// the next call. Nothing a later action of the run needs comes from an earlier one's
    /// recorded result: an action carries what its delivery needs, and actions that depend on a
    /// result are only produced once that result is applied, in a later run. After a crash an
    /// unrecorded success is delivered again, which the upstreams' idempotency keys absorb, as
    /// for any crash between a call and its record.
    ///
    /// Once half the run is called, the conversation's next due actions are claimed
    /// ([`Store::claim_after`], up to [`MAX_CONTINUATIONS`] times), so a backlog keeps flowing
    /// instead of pausing at the end of each run until every result is recorded and the
    /// conversation is claimed again. What a stop leaves, continuation included, is given back.
    #[allow(clippy::too_many_lines)] // one loop: the order of calls, records and claims
    async fn deliver_run(&self, run: Vec<Claimed>, sink: &impl EventSink) -> usize {
        let mut delivered = 0;
        let mut stop = false;
        let mut recording = FuturesOrdered::new();
        let mut next_claim = Continuation {
            tail: run.last().map(|c| c.action.id.clone()),
            left: MAX_CONTINUATIONS,
            at: self.config.run / 2,
        };
        let mut rest = std::collections::VecDeque::from(run);
        // A continuation being claimed, started while the run still has actions to call so
        // that the claim's wait for the store overlaps the calls.
        let mut claiming = std::pin::pin!(futures::future::Fuse::terminated());
        let mut more: Option<Vec<Claimed>> = None;
        // The kinds of the calls still running in `recording` that let others pass
        // (`ActionKind::lets_others_pass`: transcript lines).
        let mut passing: Vec<ActionKind> = Vec::new();
        // Counts a finished record; `false` when the run must stop.
        let mut settled = |outcome: Result<Outcome, Error>| match outcome {
            Ok(Outcome::Delivered(_)) => {
                delivered += 1;
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "outbox worker error");
                false
            }
        };
        while !stop {
            if claiming.is_terminated()
                && let Some(after) = next_claim.due(rest.len())
            {
                claiming.set(self.continue_after(after).fuse());
            }
            if rest.is_empty() && !claiming.is_terminated() {
                // The records go on meanwhile: on Postgres each is a transaction holding its
                // conversation's lock, which others (the claim among them, for a pooled
                // connection) wait for; one left unpolled here stalls them all.
                more = loop {
                    tokio::select! {
                        biased;
                        claimed = &mut claiming => break Some(claimed),
                        Some(outcome) = recording.next(), if !recording.is_empty() => {
                            stop |= !settled(outcome);
                        }
                    }
                };
            }
            if let Some(claimed) = more.take() {
                next_claim.took(&claimed);
                rest.extend(claimed);
            }
            let Some(next) = rest.front() else { break };
            if recording.is_empty() {
                passing.clear();
            }
            if passing.iter().any(|k| !k.overlaps(&next.action.kind)) {
                // A call the next one may not pass is still running: let all finish first.
                while let Some(outcome) = recording.next().await {
                    stop |= !settled(outcome);
                }
                passing.clear();
                continue;
            }
            let Some(claimed) = rest.pop_front() else {
                break;
            };
            let trace = claimed.trace.clone();
            let span = tracing::info_span!(
                "outbox",
                trace = trace.as_ref().map(TraceId::as_str),
                action = claimed.action.id.as_str(),
                kind = claimed.action.kind.name(),
                attempt = claimed.attempt,
            );
            if claimed.action.kind.lets_others_pass() {
                // Called and recorded in the run's order of records, while the next ones go.
                passing.push(claimed.action.kind.clone());
                let call = self.call(claimed);
                let both = async move { self.record(call.await, sink).await };
                recording.push_back(Either::Right(TraceId::scope_opt(
                    trace,
                    both.instrument(span),
                )));
                // Start it now, before the next call: lines reach the upstream's queue in the
                // run's order.
                if let std::task::Poll::Ready(Some(outcome)) = futures::poll!(recording.next()) {
                    stop |= !settled(outcome);
                }
                continue;
            }
            let call =
                TraceId::scope_opt(trace.clone(), self.call(claimed).instrument(span.clone()));
            let mut call = std::pin::pin!(call);
            let called = loop {
                tokio::select! {
                    biased;
                    called = &mut call => break called,
                    Some(outcome) = recording.next(), if !recording.is_empty() => {
                        stop |= !settled(outcome);
                    }
                    claimed = &mut claiming => more = Some(claimed),
                }
            };
            let ok = called.result.is_ok();
            let record = TraceId::scope_opt(trace, self.record(called, sink).instrument(span));
            if ok {
                recording.push_back(Either::Left(record));
            } else {
                // A failure ends the run: its record follows the successes before it.
                while let Some(outcome) = recording.next().await {
                    settled(outcome);
                }
                settled(record.await);
                stop = true;
            }
        }
        while let Some(outcome) = recording.next().await {
            settled(outcome);
        }
        if !claiming.is_terminated() {
            more = Some((&mut claiming).await);
        }
        self.give_back(rest.into_iter().chain(more.into_iter().flatten()))
            .await;
        delivered
    }

    /// Gives back claimed actions that were not started ([`Store::release`]); on a store error
    /// their lease expires.
    async fn give_back(&self, unstarted: impl Iterator<Item = Claimed>) {
        let ids: Vec<ActionId> = unstarted.map(|c| c.action.id).collect();
        if ids.is_empty() {
            return;
        }
        let now = (self.clock)();
        if let Err(e) = self.store.release(&ids, &self.config.owner, now).await {
            tracing::warn!(error = %e, "could not give back a run; its lease expires");
        }
    }

    /// The conversation's due actions right after `last` ([`Store::claim_after`]); none on a
    /// store error (logged: the run ends and the next claim finds them).
    ///
    /// The claim runs on a task of its own, not inside the run's future: on Postgres it is a
    /// transaction holding row locks and a pooled connection, which must go on to its commit
    /// while the run waits for a call instead of polling it.
    fn continue_after(&self, last: ActionId) -> impl Future<Output = Vec<Claimed>> + use<D> {
        let store = self.store.clone();
        let owner = self.config.owner.clone();
        let now = (self.clock)();
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let run = self.config.run;
        let claim = tokio::spawn(async move {
            store
                .claim_after(&owner, &last, now, lease_ms, run)
                .await
                .map_err(|e| e.to_string())
        });
        async move {
            claim
                .await
                .map_err(|e| e.to_string())
                .and_then(|claimed| claimed)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not continue a run");
                    Vec::new()
                })
        }
    }

    /// Feeds results recorded but not applied for longer than `grace` (after a crash, or when
    /// the sink failed). Returns how many were fed.
    ///
    /// # Errors
    /// The store's or the sink's.
    pub async fn refeed(&self, sink: &impl EventSink, grace: Duration) -> Result<usize, Error> {
        let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let before = (self.clock)().plus_millis(grace.saturating_neg());
        let events = self.store.unapplied_results_traced(before, 100).await?;
        let n = events.len();
        for (event, trace) in events {
            let span = tracing::info_span!(
                "refeed",
                trace = trace.as_ref().map(TraceId::as_str),
                event = event.name(),
            );
            TraceId::scope_opt(trace, sink.send(event).instrument(span)).await?;
        }
        Ok(n)
    }

    /// Runs until `shutdown` completes: first feeds results left over from a crash, then
    /// delivers due actions: up to [`WorkerConfig::concurrency`] conversations at once, each
    /// conversation's actions in order ([`Store::claim_runs`], up to [`WorkerConfig::run`] at a
    /// time), waking when a commit adds actions, a delivery ends, or `poll` passes. Deliveries
    /// under way when `shutdown` fires are finished first (bounded by their own timeouts).
    ///
    /// # Errors
    /// Never for store or sink errors (they are logged and retried after `poll`); the
    /// `Result` is kept for future fatal conditions.
    pub async fn run(
        &self,
        sink: &impl EventSink,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let mut shutdown = std::pin::pin!(shutdown);
        self.beat().await;
        if let Err(e) = self.refeed(sink, Duration::ZERO).await {
            tracing::warn!(error = %e, "could not feed recorded results");
        }
        let concurrency = self.config.concurrency.max(1);
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let stale_ms = i64::try_from(self.config.stale_after.as_millis()).unwrap_or(i64::MAX);
        let mut heartbeat =
            tokio::time::interval(self.config.heartbeat.max(Duration::from_millis(10)));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.reset();
        let mut running = FuturesUnordered::new();
        let mut idle_rounds = 0u32;
        let mut stopping = false;
        loop {
            let notified = self.store.outbox_added.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let free = concurrency.saturating_sub(running.len());
            let mut claimed_any = false;
            if free > 0 && !stopping {
                let now = (self.clock)();
                let claim = self.store.claim_runs_alive(
                    &self.config.owner,
                    now,
                    lease_ms,
                    stale_ms,
                    free,
                    self.config.run,
                );
                match polling(&mut running, claim).await {
                    Ok(runs) => {
                        for run in runs {
                            claimed_any = true;
                            running.push(Box::pin(self.deliver_run(run, sink)));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "outbox worker error"),
                }
            }
            if stopping && running.is_empty() {
                if let Err(e) = self.store.retire(&self.config.owner).await {
                    tracing::warn!(error = %e, "could not retire this worker's heartbeat");
                }
                return Ok(());
            }
            if claimed_any {
                idle_rounds = 0;
                continue;
            }
            if running.is_empty() {
                idle_rounds += 1;
                if idle_rounds.is_multiple_of(60)
                    && let Err(e) = self.refeed(sink, self.config.poll * 10).await
                {
                    tracing::warn!(error = %e, "could not feed recorded results");
                }
            }
            tokio::select! {
                () = &mut shutdown, if !stopping => stopping = true,
                Some(_) = running.next(), if !running.is_empty() => {}
                () = &mut notified, if !stopping && running.len() < concurrency => {}
                _ = heartbeat.tick() => polling(&mut running, self.beat()).await,
                () = tokio::time::sleep(self.config.poll), if !stopping => {}
            }
        }
    }
}

/// Awaits `work` while the deliveries under way keep running: one may hold a lock `work` needs
/// (a transaction of another store on the same `SQLite` file) and would hold it until polled
/// again.
async fn polling<T, F: Future>(
    running: &mut FuturesUnordered<F>,
    work: impl Future<Output = T>,
) -> T {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => break out,
            Some(_) = running.next(), if !running.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_owners_differ_within_one_process() {
        let a = WorkerConfig::default().owner;
        let b = WorkerConfig::default().owner;
        assert_ne!(a, b);
        assert!(
            a.starts_with(&format!("worker-{}-", std::process::id())),
            "{a}"
        );
    }
}
