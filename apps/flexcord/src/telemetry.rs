//! Logging (tracing) and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Messages moved between Discord and Twilio, label `direction` (`to_twilio`, `to_discord`).
pub const MESSAGES_ROUTED: &str = "flexcord_messages_routed_total";
/// Webhook requests by `route` and `outcome` (`accepted`, `parked`, `ignored`, `forbidden`,
/// `invalid`, `error`). Bodies over the limit are refused (413) before they reach a route.
pub const WEBHOOKS: &str = "flexcord_webhooks_total";
/// Outbox rows waiting to be delivered.
pub const OUTBOX_DEPTH: &str = "flexcord_outbox_depth";
/// Outbox rows per state (`pending`, `running`, `delivered`, `failed`, `done`, `dead`).
pub const OUTBOX_ROWS: &str = "flexcord_outbox_rows";
/// Deliveries that failed transiently (the worker tries them again unless their attempts are
/// exhausted), label `action`.
pub const OUTBOX_RETRIES: &str = "flexcord_outbox_retries_total";
/// Deliveries given up (dead letters) now in the outbox.
pub const OUTBOX_DEAD_LETTERS: &str = "flexcord_outbox_dead_letters";
/// Twilio events waiting for their conversation's SID to be recorded.
pub const PARKED: &str = "flexcord_parked_events";
/// Parked Twilio events dropped because no conversation recorded their SID within the parking
/// bound, label `event` (`twilio_message`, `participant_joined`, ...).
pub const PARKED_EXPIRED: &str = "flexcord_parked_events_expired_total";
/// Latency of calls to Discord, Twilio, the bot and cases, label `upstream`, in seconds.
pub const UPSTREAM_LATENCY: &str = "flexcord_upstream_latency_seconds";

/// Starts logging to stderr. The filter comes from `RUST_LOG` (default `info`).
/// Calling it twice is harmless (the second call does nothing).
pub fn init_tracing(format: LogFormat) {
    init_tracing_with_default(format, "info");
}

/// Like [`init_tracing`], with another filter when `RUST_LOG` is unset (the demo uses `warn`
/// so its transcript stays readable).
pub fn init_tracing_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = subscriber(format, filter, std::io::stderr).try_init();
}

/// The app's log subscriber: `format` (text, or one JSON object per line), `filter`, lines to
/// `writer`. Events carry the fields of the spans they happen in; the bridge's spans carry
/// `trace` (see `docs/operations.md`). In JSON, `span` is the innermost span and `spans` every
/// span from the outermost in.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
    }
}

/// The process-wide Prometheus recorder, installed on first use, with every metric described.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (e.g. by an embedding program): then our
        // handle renders only what it saw, which is still a valid exposition.
        let _ = metrics::set_global_recorder(recorder);
        metrics::describe_counter!(MESSAGES_ROUTED, "Messages routed, by direction");
        metrics::describe_counter!(WEBHOOKS, "Twilio webhook requests, by route and outcome");
        metrics::describe_gauge!(OUTBOX_DEPTH, "Outbox rows waiting for delivery");
        metrics::describe_gauge!(OUTBOX_ROWS, "Outbox rows per state");
        metrics::describe_counter!(OUTBOX_RETRIES, "Deliveries scheduled for another attempt");
        metrics::describe_gauge!(OUTBOX_DEAD_LETTERS, "Deliveries given up (dead letters)");
        metrics::describe_gauge!(PARKED, "Twilio events waiting for their conversation's SID");
        metrics::describe_counter!(
            PARKED_EXPIRED,
            "Parked Twilio events dropped: their SID was not recorded in time"
        );
        metrics::describe_histogram!(
            UPSTREAM_LATENCY,
            metrics::Unit::Seconds,
            "Latency of upstream calls"
        );
        handle
    })
}
