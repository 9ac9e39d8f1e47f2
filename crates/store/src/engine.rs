//! The driver step: load, handle, commit, for one event at a time.

use std::sync::Arc;
use std::time::Duration;

use flexcord_routing::{Event, EventKey, Note, Router, Timestamp, TwilioSid};

use crate::error::Error;
use crate::park::Parked;
use crate::store::{Applied, LeaseOwned, Store};
use crate::trace::TraceId;
use crate::worker::EventSink;
use crate::worker::Settle;

/// Applies events: [`Store::apply`] with a [`Router`], retried when another writer won a race
/// for the user's open conversation. Cheap to clone; use one per process and give a clone to
/// the outbox worker as its [`EventSink`].
///
/// Serialisation per user: on SQLite every apply holds the database's write lock for its
/// load-handle-commit; on Postgres the conversation row is locked (`FOR UPDATE`) and a second
/// open conversation for a user is refused by a unique index, so two DMs at once (even on two
/// instances) end in one conversation.
///
/// Parked events: a Twilio webhook that arrives before the SID of its conversation is recorded
/// is parked by [`Store::apply`]. The engine replays a SID's parked events, in order, right
/// after applying [`Event::TwilioConversationCreated`] for it; after parking, it looks once
/// more whether the SID became known meanwhile (another instance may have recorded it and
/// replayed before the park committed) and replays itself if so. [`Engine::sweep_parked`]
/// replays what a crashed instance left and drops events parked longer than
/// [`Engine::park_ttl`].
#[derive(Clone)]
pub struct Engine {
    store: Store,
    router: Arc<Router>,
    clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    park_ttl: Duration,
    observer: Option<Observer>,
}

/// What [`Engine::observe`] calls with each note.
type Observer = Arc<dyn Fn(&Event, &Note) + Send + Sync>;

/// What [`Engine::sweep_parked`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Parked events applied because their SID is known now.
    pub replayed: usize,
    /// Parked events dropped: parked longer than the bound, or undecodable.
    pub expired: Vec<Parked>,
}

/// How long a parked event waits for its SID by default (15 minutes).
pub const DEFAULT_PARK_TTL: Duration = Duration::from_secs(15 * 60);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store.backend_name())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with the system clock.
    pub fn new(store: Store, router: Router) -> Self {
        Self {
            store,
            router: Arc::new(router),
            clock: Arc::new(crate::now),
            park_ttl: DEFAULT_PARK_TTL,
            observer: None,
        }
    }

    /// Calls `observer` with every note of every step applied (after its commit), for metrics.
    #[must_use]
    pub fn observe(mut self, observer: impl Fn(&Event, &Note) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// How long a parked event waits for its conversation's SID before
    /// [`Engine::sweep_parked`] drops it (default [`DEFAULT_PARK_TTL`]).
    #[must_use]
    pub fn park_ttl(mut self, ttl: Duration) -> Self {
        self.park_ttl = ttl;
        self
    }

    /// Another clock (tests, benchmarks).
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Applies `event` now.
    ///
    /// # Errors
    /// As [`Engine::handle_at`].
    pub async fn handle(&self, event: Event) -> Result<Applied, Error> {
        let now = (self.clock)();
        self.handle_at(event, now).await
    }

    /// Applies `event` at `now`: dedup, load (locked), [`Router::handle`], commit of the new
    /// state and the outbox rows in one transaction. The rows carry [`TraceId::current`] (the
    /// trace of the event being handled on this task, if any). An event for a Twilio SID that
    /// is not recorded yet is parked ([`Applied::parked`], with its trace) and applied when the
    /// SID is recorded; the creation result of a Twilio conversation replays the events parked
    /// for its SID.
    ///
    /// # Errors
    /// `Database`/`Decode`/`Invalid` from the store; `Conflict` only if the race for the
    /// user's open conversation was lost five times in a row. A failed replay is logged, not
    /// returned (the event itself was applied; [`Engine::sweep_parked`] replays later).
    pub async fn handle_at(&self, event: Event, now: Timestamp) -> Result<Applied, Error> {
        let trace = TraceId::current();
        let applied = self.apply(&event, trace.as_ref(), now, None).await?;
        self.after(&event, &applied).await;
        Ok(applied)
    }

    /// Records the outcome of a claimed action on its outbox row under `owner`'s lease and
    /// applies its result event, in one transaction: a result is never recorded without being
    /// applied, and a worker whose lease was taken over changes nothing (`Ok(None)`). The
    /// result's actions carry [`TraceId::current`].
    ///
    /// # Errors
    /// As [`Engine::handle_at`].
    pub async fn settle(
        &self,
        owner: &str,
        outcome: Settle<'_>,
        now: Timestamp,
    ) -> Result<Option<Applied>, Error> {
        let trace = TraceId::current();
        let (event, lease) = match outcome {
            Settle::Delivered { upstream_id, event } => (
                event,
                LeaseOwned {
                    owner: owner.to_owned(),
                    upstream_id: upstream_id.map(str::to_owned),
                    state: "delivered",
                    reason: None,
                },
            ),
            Settle::Dead { reason, event } => (
                event,
                LeaseOwned {
                    owner: owner.to_owned(),
                    upstream_id: None,
                    state: "failed",
                    reason: Some(reason.to_owned()),
                },
            ),
        };
        let applied = self
            .apply_with(event, trace.as_ref(), now, None, Some(lease))
            .await?;
        if let Some(applied) = &applied {
            self.after(event, applied).await;
        }
        Ok(applied)
    }

    /// What follows an apply: the creation result of a Twilio conversation replays the events
    /// parked for its SID; a park that raced the SID's recording replays itself.
    async fn after(&self, event: &Event, applied: &Applied) {
        let replay_sid = match (&event, event.key()) {
            (Event::TwilioConversationCreated { sid, .. }, _) => Some(sid.clone()),
            (_, EventKey::Twilio(sid)) if applied.parked && !applied.duplicate => {
                // Recorded by another instance between our lookup and our commit? It may have
                // replayed before our row was visible: then replay it ourselves.
                match self.store.twilio_sid_known(&sid).await {
                    Ok(known) => known.then_some(sid),
                    Err(e) => {
                        tracing::warn!(%sid, error = %e, "cannot check a parked event's SID; the sweep replays it");
                        None
                    }
                }
            }
            _ => None,
        };
        if let Some(sid) = replay_sid
            && let Err(e) = self.replay_parked(&sid).await
        {
            tracing::warn!(%sid, error = %e, "replaying parked events failed; the sweep retries");
        }
    }

    /// One event through [`Store::apply`] (or the replay of parked row `parked`), retried when
    /// another writer won the race for the user's open conversation.
    async fn apply(
        &self,
        event: &Event,
        trace: Option<&TraceId>,
        now: Timestamp,
        parked: Option<i64>,
    ) -> Result<Applied, Error> {
        self.apply_with(event, trace, now, parked, None)
            .await?
            .ok_or_else(|| {
                Error::new(crate::ErrorKind::Invalid(
                    "an apply without a lease was refused".into(),
                ))
            })
    }

    /// [`Engine::apply`], recording `lease`'s result first when given (`None`: lease lost).
    async fn apply_with(
        &self,
        event: &Event,
        trace: Option<&TraceId>,
        now: Timestamp,
        parked: Option<i64>,
        lease: Option<LeaseOwned>,
    ) -> Result<Option<Applied>, Error> {
        let mut tries = 0;
        loop {
            let router = self.router.clone();
            let owned = event.clone();
            let handle = move |state| router.handle(state, owned, now);
            // Boxed: the transaction's future is large, and callers spawn `handle` futures.
            let result =
                Box::pin(
                    self.store
                        .apply_leased(event, trace, now, parked, lease.clone(), handle),
                )
                .await;
            match result {
                Err(e) if e.is_conflict() && tries < 4 => {
                    tries += 1;
                    tracing::debug!(
                        event = event.name(),
                        "lost a race for a conversation; retrying"
                    );
                }
                other => {
                    if let Ok(Some(applied)) = &other {
                        if applied.parked && !applied.duplicate && parked.is_none() {
                            tracing::info!(
                                event = event.name(),
                                "parked: its Twilio SID is not recorded yet"
                            );
                        }
                        for note in &applied.step.notes {
                            tracing::info!(event = event.name(), ?note, "routing note");
                            if let Some(observer) = &self.observer {
                                observer(event, note);
                            }
                        }
                    }
                    return other;
                }
            }
        }
    }

    /// Applies the events parked for `sid`, oldest first; returns how many this call applied
    /// (rows applied meanwhile by another instance are skipped). Each row is claimed in the
    /// transaction that applies it, so two instances replaying at once apply every row once
    /// and in order. Undecodable rows are dropped with an error log line.
    ///
    /// # Errors
    /// The store's (rows not yet applied stay parked).
    pub async fn replay_parked(&self, sid: &TwilioSid) -> Result<usize, Error> {
        let mut replayed = 0;
        for row in self.store.parked(sid).await? {
            let Some(event) = &row.event else {
                if self.store.discard_parked(row.id).await? {
                    tracing::error!(%sid, id = row.id, "parked event does not decode; dropped");
                }
                continue;
            };
            let now = (self.clock)();
            let applied = self
                .apply(event, row.trace.as_ref(), now, Some(row.id))
                .await?;
            if applied.parked {
                break; // the SID is not known after all: leave the rest parked
            }
            if !applied.duplicate {
                replayed += 1;
            }
        }
        if replayed > 0 {
            tracing::info!(%sid, replayed, "replayed parked Twilio events");
        }
        Ok(replayed)
    }

    /// Housekeeping for parked events, to call from the timer loop: replays the events of SIDs
    /// that are known by now (left by an instance that died before replaying), then drops the
    /// events parked longer than [`Engine::park_ttl`], logging each at `warn` (`parked event
    /// expired`). Returns what it did, for metrics.
    ///
    /// # Errors
    /// The store's.
    pub async fn sweep_parked(&self) -> Result<Swept, Error> {
        let mut swept = Swept::default();
        for sid in self.store.parked_known_sids(100).await? {
            swept.replayed += self.replay_parked(&sid).await?;
        }
        let ttl = i64::try_from(self.park_ttl.as_millis()).unwrap_or(i64::MAX);
        let before = (self.clock)().plus_millis(ttl.saturating_neg());
        swept.expired = self.store.expire_parked(before).await?;
        for p in &swept.expired {
            tracing::warn!(
                sid = %p.sid,
                event = p.event_name(),
                dedupe_key = p.dedupe_key.as_deref().unwrap_or(""),
                parked_at = p.parked_at.0,
                "parked event expired: no conversation recorded its Twilio SID in time; dropped"
            );
        }
        Ok(swept)
    }

    /// Sends [`Event::Tick`] to every conversation whose timer is due; returns how many.
    /// Each tick starts a trace `tick-<conversation>-<now in ms>` and is handled in a span
    /// `tick` with it.
    ///
    /// # Errors
    /// The store's.
    pub async fn tick_due(&self) -> Result<usize, Error> {
        let now = (self.clock)();
        let due = self.store.due_wakeups(now, 500).await?;
        let n = due.len();
        for conversation in due {
            let trace = TraceId::derived("tick", &format!("{}-{}", conversation.as_str(), now.0));
            let span = tracing::info_span!(
                "tick",
                trace = trace.as_ref().map(TraceId::as_str),
                conversation = conversation.as_str(),
            );
            let tick = self.handle_at(Event::Tick { conversation }, now);
            TraceId::scope_opt(trace, tracing::Instrument::instrument(tick, span)).await?;
        }
        Ok(n)
    }
}

impl EventSink for Engine {
    async fn send(&self, event: Event) -> Result<(), Error> {
        self.handle(event).await.map(|_| ())
    }

    /// One transaction: the outcome recorded under the lease and the result applied.
    async fn settle(
        &self,
        _store: &Store,
        owner: &str,
        outcome: Settle<'_>,
        now: Timestamp,
    ) -> Result<bool, Error> {
        Ok(Engine::settle(self, owner, outcome, now).await?.is_some())
    }
}
