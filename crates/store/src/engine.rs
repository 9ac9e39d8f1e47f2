//! The driver step: load, handle, commit, for one event at a time.

use std::sync::Arc;

use flexcord_routing::{Event, Router, Timestamp};

use crate::error::Error;
use crate::store::{Applied, Store};
use crate::trace::TraceId;
use crate::worker::EventSink;

/// Applies events: [`Store::apply`] with a [`Router`], retried when another writer won a race
/// for the user's open conversation. Cheap to clone; use one per process and give a clone to
/// the outbox worker as its [`EventSink`].
///
/// Serialisation per user: on SQLite every apply holds the database's write lock for its
/// load-handle-commit; on Postgres the conversation row is locked (`FOR UPDATE`) and a second
/// open conversation for a user is refused by a unique index, so two DMs at once (even on two
/// instances) end in one conversation.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    router: Arc<Router>,
    clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

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
        }
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
    /// trace of the event being handled on this task, if any).
    ///
    /// # Errors
    /// `Database`/`Decode`/`Invalid` from the store; `Conflict` only if the race for the
    /// user's open conversation was lost five times in a row.
    pub async fn handle_at(&self, event: Event, now: Timestamp) -> Result<Applied, Error> {
        let trace = TraceId::current();
        let mut tries = 0;
        loop {
            let router = &self.router;
            let result = self
                .store
                .apply_traced(&event, trace.as_ref(), now, |state| {
                    router.handle(state, event.clone(), now)
                })
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
                    if let Ok(applied) = &other {
                        for note in &applied.step.notes {
                            tracing::info!(event = event.name(), ?note, "routing note");
                        }
                    }
                    return other;
                }
            }
        }
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
}
