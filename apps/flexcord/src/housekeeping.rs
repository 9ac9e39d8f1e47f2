//! Keeping the tables bounded: every `store.housekeeping_interval` (and once at start) the app
//! prunes processed-event keys and finished outbox rows older than `store.retention`, and, with
//! the embedded case store, closes the cases resolved longer than `cases.close_after` ago
//! (decision 0003). Both work in bounded batches ([`flexcord_store::PRUNE_BATCH`] rows per
//! statement, [`flexcord_cases::CLOSE_QUIET_BATCH`] cases per query), yielding in between so
//! the hot paths' writes go first. What was done is logged and counted
//! (`flexcord_pruned_rows_total{table}`, `flexcord_cases_closed_quiet_total`).

use std::sync::Arc;
use std::time::Duration;

use flexcord_cases::CaseStore;
use flexcord_store::{PRUNE_BATCH, Store};
use tokio_util::sync::CancellationToken;

use crate::telemetry;

/// The actor the case timeline names for a case closed after its quiet period.
pub const ACTOR: &str = "flexcord";

/// What housekeeping is asked to do.
#[derive(Clone)]
pub struct Housekeeping {
    /// The conversation store.
    pub store: Store,
    /// The embedded case store (`None` with a remote one, which closes its own cases).
    pub cases: Option<Arc<dyn CaseStore>>,
    /// `store.retention`.
    pub retention: Duration,
    /// `cases.close_after`.
    pub close_after: Duration,
    /// `store.housekeeping_interval`.
    pub every: Duration,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Processed-event keys pruned.
    pub processed: u64,
    /// Finished outbox rows pruned.
    pub outbox: u64,
    /// Cases closed.
    pub closed: Vec<flexcord_cases::CaseNumber>,
}

impl Housekeeping {
    /// One round: prune, then close quiet cases. A failure of either is logged; the next round
    /// tries again.
    pub async fn round(&self) -> Round {
        let mut round = Round::default();
        let now = flexcord_store::now();
        let keep = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        match self.store.prune(now.plus_millis(-keep), PRUNE_BATCH).await {
            Ok(pruned) => {
                round.processed = pruned.processed;
                round.outbox = pruned.outbox;
                metrics::counter!(telemetry::PRUNED, "table" => "processed_events")
                    .increment(pruned.processed);
                metrics::counter!(telemetry::PRUNED, "table" => "outbox").increment(pruned.outbox);
                if pruned.processed + pruned.outbox > 0 {
                    tracing::info!(
                        processed_events = pruned.processed,
                        outbox = pruned.outbox,
                        retention = %crate::config::format_duration(self.retention),
                        "pruned old rows"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "pruning old rows failed"),
        }
        if let Some(cases) = &self.cases {
            let before = time::OffsetDateTime::now_utc() - self.close_after;
            match cases.close_quiet(before, ACTOR).await {
                Ok(closed) => {
                    metrics::counter!(telemetry::CASES_CLOSED_QUIET)
                        .increment(u64::try_from(closed.len()).unwrap_or(u64::MAX));
                    if !closed.is_empty() {
                        let numbers: Vec<String> = closed.iter().map(ToString::to_string).collect();
                        tracing::info!(
                            cases = closed.len(),
                            numbers = %numbers.join(", "),
                            close_after = %crate::config::format_duration(self.close_after),
                            "closed resolved cases after their quiet period"
                        );
                    }
                    round.closed = closed;
                }
                Err(e) => tracing::warn!(error = %e, "closing quiet cases failed"),
            }
        }
        round
    }

    /// Runs a round at once, then every `every`, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = self.round() => {}
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }
}
