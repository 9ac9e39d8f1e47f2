//! The driver: routing events into the store's engine, the webhook sink of the HTTP server,
//! the timers, and the outbox gauges.
//!
//! `event -> Engine::handle (store.load -> router.handle -> store.commit) -> outbox ->
//! Worker -> deliver::Upstreams -> result event -> Engine`.

use std::sync::Arc;

use async_trait::async_trait;
use flexcord_routing::{Event, Note};
use flexcord_store::Engine;
use flexcord_twilio::webhook::Event as Webhook;

use crate::server::{BotRequest, Handled, SinkError, WebhookSink};
use crate::webhook;

/// Hands an inbound event to the engine; `Parked` when its Twilio SID is not recorded yet,
/// `Ignored` when the router dropped it (e.g. a closed conversation) or had seen it before.
///
/// # Errors
/// [`SinkError::Unavailable`] when the store failed (the sender should retry).
pub async fn apply(engine: &Engine, event: Event) -> Result<Handled, SinkError> {
    let name = event.name();
    match engine.handle(event).await {
        Ok(applied) if applied.duplicate => Ok(Handled::Ignored),
        Ok(applied) if applied.parked => Ok(Handled::Parked),
        Ok(applied) => {
            let dropped = applied
                .step
                .notes
                .iter()
                .any(|n| matches!(n, Note::Dropped { .. } | Note::Duplicate));
            if dropped && applied.step.actions.is_empty() {
                tracing::debug!(event = name, notes = ?applied.step.notes, "event dropped by the router");
                Ok(Handled::Ignored)
            } else {
                Ok(Handled::Accepted)
            }
        }
        Err(e) => Err(SinkError::Unavailable(e.to_string())),
    }
}

/// The webhook sink of the HTTP server: decoded webhooks become routing events.
pub struct EngineSink {
    engine: Arc<Engine>,
}

impl EngineSink {
    /// A sink feeding `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

#[async_trait]
impl WebhookSink for EngineSink {
    async fn outbound(&self, event: Webhook) -> Result<Handled, SinkError> {
        match webhook::from_webhook(&event) {
            Some(event) => apply(&self.engine, event).await,
            None => Ok(Handled::Ignored),
        }
    }

    async fn bot(&self, request: BotRequest) -> Result<Handled, SinkError> {
        apply(&self.engine, webhook::from_bot_request(&request)).await
    }
}

/// Sends the due timer ticks until `shutdown`: wakes at the store's next wake-up (at most every
/// `poll`). Each round also sweeps the parked events ([`sweep_parked`]), and beats `pulse`
/// (readiness: the timer loop is alive).
pub async fn run_timers(
    engine: Arc<Engine>,
    poll: std::time::Duration,
    pulse: crate::health::Pulse,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let _stopped = pulse.stop_on_drop();
    loop {
        if let Err(e) = engine.tick_due().await {
            tracing::warn!(error = %e, "timer ticks failed");
        }
        sweep_parked(&engine).await;
        pulse.beat();
        let wait = match engine.store().next_wake().await {
            Ok(Some(at)) => {
                let now = flexcord_store::now();
                let ms = u64::try_from(at.millis().saturating_sub(now.millis())).unwrap_or(0);
                std::time::Duration::from_millis(ms).min(poll)
            }
            _ => poll,
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Replays parked events whose Twilio SID is known by now and drops those parked longer than
/// the bound: each dropped event is logged (by the engine, at `warn`) and counted in
/// `flexcord_parked_events_expired_total{event}`.
pub async fn sweep_parked(engine: &Engine) {
    match engine.sweep_parked().await {
        Ok(swept) => {
            for parked in &swept.expired {
                metrics::counter!(crate::telemetry::PARKED_EXPIRED, "event" => parked.event_name())
                    .increment(1);
            }
        }
        Err(e) => tracing::warn!(error = %e, "sweeping parked events failed"),
    }
}

/// The routing configuration the app's configuration asks for, with the support hours' UTC
/// offsets worked out around `now` (see [`crate::config::SupportConfig::hours_at`]).
///
/// # Errors
/// When the support hours cannot be placed in time (an unknown zone; a validated configuration
/// has none).
pub fn router_config(
    config: &crate::config::Config,
    now: flexcord_routing::Timestamp,
) -> Result<flexcord_routing::RouterConfig, String> {
    let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let mut texts = flexcord_routing::Texts::default();
    // "from Mon 08:00" names the zone the time is in.
    texts.out_of_hours = texts
        .out_of_hours
        .replace("{when}", &format!("{{when}} ({})", config.support.timezone));
    Ok(flexcord_routing::RouterConfig {
        mode: config.twilio.mode,
        bot_route: config.bot.route,
        bot_identity: config.bot.identity.clone(),
        agent_wait_notice_ms: millis(config.support.agent_wait_notice),
        idle_close_ms: millis(config.support.idle_close),
        agent_name_wait_ms: flexcord_routing::RouterConfig::default().agent_name_wait_ms,
        hours: config.support.hours_at(now)?,
        texts,
        reports: flexcord_routing::ReportChannels {
            bug: config
                .discord
                .bug_channel_id
                .map(flexcord_routing::ChannelId),
            feature: config
                .discord
                .feature_channel_id
                .map(flexcord_routing::ChannelId),
        },
        community: flexcord_routing::community::CommunityConfig {
            announcements: config
                .community
                .announcements_channel_id
                .map(flexcord_routing::ChannelId),
            staff_role: config.community.staff_role_id,
        },
    })
}

/// Publishes the outbox's rows per state as the gauge `flexcord_outbox_rows{state}`, its
/// waiting rows (`pending` + `running`) as `flexcord_outbox_depth`, its dead letters
/// (`failed` + `dead`) as `flexcord_outbox_dead_letters` and the parked events as
/// `flexcord_parked_events`, and the dead letters operators re-queued as
/// `flexcord_outbox_dead_letters_retried_total`, once. `/metrics` calls it at each scrape.
pub async fn publish_outbox_metrics(store: &flexcord_store::Store) {
    match store.outbox_counts().await {
        Ok(counts) => {
            let mut depth = 0i64;
            let mut dead = 0i64;
            for (state, n) in &counts {
                #[allow(clippy::cast_precision_loss)] // row counts stay far below 2^52
                metrics::gauge!(crate::telemetry::OUTBOX_ROWS, "state" => *state).set(*n as f64);
                if matches!(*state, "pending" | "running") {
                    depth += n;
                }
                if matches!(*state, "failed" | "dead") {
                    dead += n;
                }
            }
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(crate::telemetry::OUTBOX_DEAD_LETTERS).set(dead as f64);
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(crate::telemetry::OUTBOX_DEPTH).set(depth as f64);
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox counts"),
    }
    match store.parked_count().await {
        #[allow(clippy::cast_precision_loss)] // row counts stay far below 2^52
        Ok(n) => metrics::gauge!(crate::telemetry::PARKED).set(n as f64),
        Err(e) => tracing::warn!(error = %e, "cannot count the parked events"),
    }
    match store.retried_count().await {
        Ok(n) => metrics::counter!(crate::telemetry::OUTBOX_RETRIED).absolute(n),
        Err(e) => tracing::warn!(error = %e, "cannot count the retried dead letters"),
    }
}

/// [`publish_outbox_metrics`] every `every`, until `shutdown` (for recorders that are not
/// scraped through `/metrics`).
pub async fn run_outbox_metrics(
    store: flexcord_store::Store,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        publish_outbox_metrics(&store).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn outbox_gauges_are_published() {
        let store = flexcord_store::Store::connect("sqlite::memory:")
            .await
            .expect("store");
        let handle = crate::telemetry::metrics();
        let shutdown = tokio_util::sync::CancellationToken::new();
        shutdown.cancel(); // one round, then stop
        run_outbox_metrics(store, std::time::Duration::from_secs(60), shutdown).await;
        let text = handle.render();
        assert!(text.contains("flexcord_outbox_depth 0"), "{text}");
        assert!(
            text.contains(r#"flexcord_outbox_rows{state="pending"} 0"#),
            "{text}"
        );
        assert!(text.contains("flexcord_outbox_dead_letters 0"), "{text}");
        assert!(text.contains("flexcord_parked_events 0"), "{text}");
        assert!(
            text.contains("flexcord_outbox_dead_letters_retried_total 0"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn unknown_sid_is_parked_then_expires_into_the_counter() {
        let store = flexcord_store::Store::connect("sqlite::memory:")
            .await
            .expect("store");
        let router = || flexcord_routing::Router::new(flexcord_routing::RouterConfig::default());
        let engine = Engine::new(store.clone(), router());
        let handle = crate::telemetry::metrics();
        let event = Event::TwilioMessage {
            sid: "CH0000000000000000000000000000beef".into(),
            message: "IM0000000000000000000000000000beef".into(),
            author: "agent:zoe".into(),
            body: "anyone there?".into(),
            attachments: Vec::new(),
            index: None,
        };
        assert_eq!(
            apply(&engine, event.clone()).await.unwrap(),
            Handled::Parked
        );
        // Twilio's retry of the parked webhook.
        assert_eq!(apply(&engine, event).await.unwrap(), Handled::Ignored);
        assert_eq!(store.parked_count().await.unwrap(), 1);
        // Within the bound the sweep keeps it; 16 minutes later it is dropped and counted.
        sweep_parked(&engine).await;
        assert_eq!(store.parked_count().await.unwrap(), 1);
        let later = flexcord_store::now().plus_millis(16 * 60_000);
        sweep_parked(&Engine::new(store.clone(), router()).clock(move || later)).await;
        assert_eq!(store.parked_count().await.unwrap(), 0);
        let text = handle.render();
        assert!(
            text.contains(r#"flexcord_parked_events_expired_total{event="twilio_message"} 1"#),
            "{text}"
        );
    }
}
