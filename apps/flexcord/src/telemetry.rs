//! Logging (tracing) and Prometheus metrics.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
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

/// Polls of the feeds relayed into #announcements, labels `feed` and `outcome` (`ok`,
/// `not_modified`, `failed`).
pub const FEED_POLLS: &str = "flexcord_feed_polls_total";

/// Messages moved between Discord and Twilio, label `direction` (`to_twilio`, `to_discord`).
pub const MESSAGES_ROUTED: &str = "flexcord_messages_routed_total";
/// Webhook requests by `route` and `outcome` (`accepted`, `parked`, `ignored`, `forbidden`,
/// `invalid`, `error`). Bodies over the limit are refused (413) before they reach a route.
pub const WEBHOOKS: &str = "flexcord_webhooks_total";
/// How long a webhook took to answer, label `route` (`outbound`, `bot`), in seconds: a
/// histogram with [`WEBHOOK_BUCKETS`].
pub const WEBHOOK_DURATION: &str = "flexcord_webhook_duration_seconds";
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
/// Latency of calls to Discord, Twilio, the bot and cases (one outbox delivery each), label
/// `upstream`, in seconds: a histogram with [`UPSTREAM_BUCKETS`].
pub const UPSTREAM_LATENCY: &str = "flexcord_upstream_latency_seconds";
/// Hand-offs to a person: counted when the hand-off's case is opened, once per conversation
/// handed off (the same in both Twilio modes and on both bot routes).
pub const HANDOFFS: &str = "flexcord_handoffs_total";
/// The virtual agent's replies, label `outcome`: `answered` (articles suggested), `escalated`
/// (it handed off to a person), `unanswered` (nothing found, or small talk).
pub const BOT_REPLIES: &str = "flexcord_bot_replies_total";
/// 1 while the process takes traffic (what `/readyz` answers 200 for), 0 before and while
/// draining.
pub const READY: &str = "flexcord_ready";
/// Counter: messages the catch-up sweeps found that no webhook or gateway event had brought,
/// by `source` (`twilio`, `discord`).
pub const SWEEP_RECOVERED: &str = "flexcord_sweep_recovered_total";
/// Counter: conversations the catch-up sweeps looked at, by `source`.
pub const SWEEP_CHECKED: &str = "flexcord_sweep_checked_total";
/// Each readiness check (label `check`: `running`, `shards`, `outbox`, `timers`, `store`): 1
/// while it passes, 0 while it fails; set whenever readiness is evaluated.
pub const READY_CHECK: &str = "flexcord_ready_check";
/// Processed-event keys and finished outbox rows pruned after `store.retention`, label
/// `table` (`processed_events`, `outbox`).
pub const PRUNED: &str = "flexcord_pruned_rows_total";
/// Resolved cases closed after `cases.close_after` without being reopened.
pub const CASES_CLOSED_QUIET: &str = "flexcord_cases_closed_quiet_total";
/// Dead letters re-queued by an operator (`flexcord outbox retry`), as the store counts them:
/// every instance reports the same value, so take the maximum, not the sum.
pub const OUTBOX_RETRIED: &str = "flexcord_outbox_dead_letters_retried_total";
/// Always 1, label `version`: which release each instance runs (a rolling upgrade shows both).
pub const BUILD_INFO: &str = "flexcord_build_info";

/// Buckets of [`WEBHOOK_DURATION`], in seconds. A webhook does one database transaction (no
/// upstream call), so most answer in milliseconds; Twilio gives up after 15 s, so the last
/// buckets show requests close to that.
pub const WEBHOOK_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];

/// Buckets of [`UPSTREAM_LATENCY`], in seconds: the embedded bot and the case store answer in
/// milliseconds, Discord and Twilio in tens to hundreds of milliseconds, a Twilio call may wait
/// out a 429's `Retry-After`, and the Twilio client gives up after 30 s.
pub const UPSTREAM_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The label sets registered at zero when the recorder is installed, so that a rate or an
/// `increase()` sees the first event and dashboards show 0 rather than "no data".
const ZERO_COUNTERS: &[(&str, &[(&str, &str)])] = &[
    (MESSAGES_ROUTED, &[("direction", "to_twilio")]),
    (MESSAGES_ROUTED, &[("direction", "to_discord")]),
    (HANDOFFS, &[]),
    (SWEEP_RECOVERED, &[("source", "twilio")]),
    (SWEEP_RECOVERED, &[("source", "discord")]),
    (SWEEP_CHECKED, &[("source", "twilio")]),
    (SWEEP_CHECKED, &[("source", "discord")]),
    (BOT_REPLIES, &[("outcome", "answered")]),
    (BOT_REPLIES, &[("outcome", "escalated")]),
    (BOT_REPLIES, &[("outcome", "unanswered")]),
    (PARKED_EXPIRED, &[("event", "twilio_message")]),
    (PARKED_EXPIRED, &[("event", "twilio_message_updated")]),
    (PARKED_EXPIRED, &[("event", "participant_joined")]),
    (PARKED_EXPIRED, &[("event", "twilio_closed")]),
    (PARKED_EXPIRED, &[("event", "bot_asked")]),
    (PRUNED, &[("table", "processed_events")]),
    (PRUNED, &[("table", "outbox")]),
    (CASES_CLOSED_QUIET, &[]),
];

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

/// The Prometheus builder: histograms of [`WEBHOOK_DURATION`] and [`UPSTREAM_LATENCY`] with
/// their buckets (every other histogram would be a summary).
///
/// # Errors
/// The exporter's error for an empty bucket list (the constants are not empty).
pub fn prometheus_builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(WEBHOOK_DURATION.to_owned()), WEBHOOK_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(UPSTREAM_LATENCY.to_owned()), UPSTREAM_BUCKETS)
}

/// The process-wide Prometheus recorder, installed on first use, with every metric described
/// and the counters of known label sets registered at zero.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = prometheus_builder().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "histogram buckets refused; latencies become summaries");
            PrometheusBuilder::new()
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (e.g. by an embedding program): then our
        // handle renders only what it saw, which is still a valid exposition.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        for (name, labels) in ZERO_COUNTERS {
            let labels: Vec<metrics::Label> = labels
                .iter()
                .map(|(k, v)| metrics::Label::new(*k, *v))
                .collect();
            metrics::counter!(*name, labels).increment(0);
        }
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        metrics::gauge!(READY).set(0.0);
        handle
    })
}

fn describe() {
    metrics::describe_counter!(MESSAGES_ROUTED, "Messages routed, by direction");
    metrics::describe_counter!(FEED_POLLS, "Feed polls, by feed and outcome");
    metrics::describe_counter!(WEBHOOKS, "Twilio webhook requests, by route and outcome");
    metrics::describe_histogram!(
        WEBHOOK_DURATION,
        metrics::Unit::Seconds,
        "Time to answer a Twilio webhook, by route"
    );
    metrics::describe_gauge!(OUTBOX_DEPTH, "Outbox rows waiting for delivery");
    metrics::describe_gauge!(OUTBOX_ROWS, "Outbox rows per state");
    metrics::describe_counter!(OUTBOX_RETRIES, "Deliveries scheduled for another attempt");
    metrics::describe_gauge!(OUTBOX_DEAD_LETTERS, "Deliveries given up (dead letters)");
    metrics::describe_gauge!(PARKED, "Twilio events waiting for their conversation's SID");
    metrics::describe_gauge!(
        READY_CHECK,
        "Readiness checks: 1 while passing, 0 while failing, by check"
    );
    metrics::describe_counter!(PRUNED, "Rows pruned after store.retention, by table");
    metrics::describe_counter!(
        CASES_CLOSED_QUIET,
        "Resolved cases closed after cases.close_after"
    );
    metrics::describe_counter!(
        OUTBOX_RETRIED,
        "Dead letters re-queued by an operator (the store's count; take the max across instances)"
    );
    metrics::describe_counter!(
        PARKED_EXPIRED,
        "Parked Twilio events dropped: their SID was not recorded in time"
    );
    metrics::describe_histogram!(
        UPSTREAM_LATENCY,
        metrics::Unit::Seconds,
        "Latency of upstream calls (one outbox delivery each), by upstream"
    );
    metrics::describe_counter!(HANDOFFS, "Conversations handed off to a person");
    metrics::describe_counter!(BOT_REPLIES, "Virtual agent replies, by outcome");
    metrics::describe_gauge!(READY, "1 while the process takes traffic");
    metrics::describe_counter!(
        SWEEP_RECOVERED,
        "Messages found by the catch-up sweeps that no webhook or gateway event brought, by source"
    );
    metrics::describe_counter!(
        SWEEP_CHECKED,
        "Conversations looked at by the catch-up sweeps, by source"
    );
    metrics::describe_gauge!(BUILD_INFO, "Always 1; the label says the version");
}

/// Records whether the process takes traffic ([`READY`]).
pub fn set_ready(ready: bool) {
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

/// Sets one readiness check's gauge ([`READY_CHECK`]).
pub fn set_ready_check(check: &'static str, ok: bool) {
    metrics::gauge!(READY_CHECK, "check" => check).set(if ok { 1.0 } else { 0.0 });
}

/// Records a hand-off ([`HANDOFFS`]).
pub fn count_handoff() {
    metrics::counter!(HANDOFFS).increment(1);
}

/// Records a virtual agent reply ([`BOT_REPLIES`]): `escalated` when it hands off, `answered`
/// when it suggests articles, `unanswered` otherwise.
pub fn count_bot_reply(handoff: bool, suggestions: usize) {
    let outcome = match (handoff, suggestions) {
        (true, _) => "escalated",
        (false, 0) => "unanswered",
        (false, _) => "answered",
    };
    metrics::counter!(BOT_REPLIES, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buckets of `name` as the exposition renders them (`le` values, `+Inf` excluded).
    fn rendered_buckets(text: &str, name: &str) -> Vec<f64> {
        let prefix = format!("{name}_bucket{{");
        let mut les: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next()?.parse().ok())
            .filter(|le: &f64| le.is_finite())
            .collect();
        les.sort_by(f64::total_cmp);
        les.dedup();
        les
    }

    #[test]
    fn latencies_are_histograms_with_their_buckets() {
        let recorder = prometheus_builder().expect("buckets").build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!(WEBHOOK_DURATION, "route" => "outbound").record(0.003);
            metrics::histogram!(UPSTREAM_LATENCY, "upstream" => "twilio").record(0.2);
            metrics::histogram!("flexcord_other_seconds").record(1.0);
        });
        let text = handle.render();
        assert!(
            text.contains("# TYPE flexcord_webhook_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE flexcord_upstream_latency_seconds histogram"),
            "{text}"
        );
        assert_eq!(rendered_buckets(&text, WEBHOOK_DURATION), WEBHOOK_BUCKETS);
        assert_eq!(rendered_buckets(&text, UPSTREAM_LATENCY), UPSTREAM_BUCKETS);
        // 3 ms falls in the first webhook bucket, 200 ms in the 250 ms upstream bucket.
        assert!(
            text.contains(
                "flexcord_webhook_duration_seconds_bucket{route=\"outbound\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "flexcord_upstream_latency_seconds_bucket{upstream=\"twilio\",le=\"0.1\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "flexcord_upstream_latency_seconds_bucket{upstream=\"twilio\",le=\"0.25\"} 1"
            ),
            "{text}"
        );
        // Histograms not named stay summaries.
        assert!(
            text.contains("# TYPE flexcord_other_seconds summary"),
            "{text}"
        );
    }

    #[test]
    fn buckets_grow_and_cover_the_timeouts() {
        for buckets in [WEBHOOK_BUCKETS, UPSTREAM_BUCKETS] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
            assert!(buckets[0] <= 0.005, "{buckets:?}");
        }
        // Twilio's webhook timeout (15 s) and the Twilio client's (30 s) are bucket bounds.
        assert!(WEBHOOK_BUCKETS.contains(&15.0));
        assert!(UPSTREAM_BUCKETS.contains(&30.0));
    }

    #[test]
    fn bot_replies_are_told_apart() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            count_bot_reply(true, 3);
            count_bot_reply(false, 2);
            count_bot_reply(false, 2);
            count_bot_reply(false, 0);
            count_handoff();
        });
        let text = handle.render();
        for line in [
            "flexcord_bot_replies_total{outcome=\"escalated\"} 1",
            "flexcord_bot_replies_total{outcome=\"answered\"} 2",
            "flexcord_bot_replies_total{outcome=\"unanswered\"} 1",
            "flexcord_handoffs_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }
}
