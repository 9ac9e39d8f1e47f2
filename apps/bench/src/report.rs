//! The figures of one scenario, as a table row or a JSON object.

use serde::Serialize;

/// p50, p95, p99 and max of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (milliseconds); zeros when empty.
    pub(crate) fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |p: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )] // an index into a vector that is not empty
            let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
            values[rank.clamp(1, values.len()) - 1]
        };
        Self {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            max: values[values.len() - 1],
        }
    }

    fn cell(&self) -> String {
        format!(
            "{:.1}/{:.1}/{:.1}/{:.0}",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// What one scenario measured.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Figures {
    pub(crate) name: String,
    /// App processes (1 on `SQLite`, 2 on Postgres).
    pub(crate) instances: usize,
    /// Setting the conversations up through the real flow, in seconds.
    pub(crate) setup_seconds: f64,
    /// Messages the app took (webhooks answered 2xx; DMs injected).
    pub(crate) accepted: usize,
    /// Webhooks answered with anything else (or not at all).
    pub(crate) refused: usize,
    /// Messages that reached the other side at least once.
    pub(crate) delivered: usize,
    /// Accepted but never delivered within the drain window.
    pub(crate) lost: usize,
    /// Delivered more than once.
    pub(crate) doubled: usize,
    /// Delivered out of order within their conversation.
    pub(crate) reordered: usize,
    /// Delivered by one second after the last message was accepted.
    pub(crate) within_one_second: usize,
    /// Accepted messages per second (from the first send to the last acknowledgement).
    pub(crate) accept_rate: f64,
    /// Delivered messages per second (from the first send to the last delivery).
    pub(crate) deliver_rate: f64,
    /// Webhook acknowledgement latency (ms), when the load is webhooks.
    pub(crate) ack: Option<Percentiles>,
    /// From sending to arriving on the other side (ms).
    pub(crate) delivery: Percentiles,
    /// Calls to the upstream per message (retries and 429s included).
    pub(crate) calls_per_message: f64,
    /// 429s the upstream answered.
    pub(crate) rate_limited: u64,
    /// The app's CPU seconds per 1,000 messages.
    pub(crate) cpu_per_1000: Option<f64>,
    /// The app's peak resident memory (MiB).
    pub(crate) peak_rss_mib: Option<f64>,
    /// Outbox rows still waiting at the end.
    pub(crate) queued: i64,
    /// From the first message to the end of the drain, in seconds.
    pub(crate) run_seconds: f64,
}

/// Prints the table's header.
pub(crate) fn header() {
    println!(
        "{:<22} {:>5} {:>5} {:>4} {:>4} {:>4} {:>5} {:>8} {:>8} {:>22} {:>24} {:>5} {:>4} {:>7} {:>6} {:>5}",
        "scenario",
        "acc",
        "dlv",
        "lost",
        "dbl",
        "ord",
        "in1s",
        "acc/s",
        "dlv/s",
        "ack ms p50/95/99/max",
        "delivery ms p50/95/99/max",
        "calls",
        "429",
        "cpu/1k",
        "rssMB",
        "queue"
    );
}

impl Figures {
    /// One table row.
    pub(crate) fn row(&self) {
        println!(
            "{:<22} {:>5} {:>5} {:>4} {:>4} {:>4} {:>5} {:>8.0} {:>8.0} {:>22} {:>24} {:>5.2} {:>4} {:>7} {:>6} {:>5}",
            self.name,
            self.accepted,
            self.delivered,
            self.lost,
            self.doubled,
            self.reordered,
            self.within_one_second,
            self.accept_rate,
            self.deliver_rate,
            self.ack
                .as_ref()
                .map_or_else(|| "-".to_owned(), Percentiles::cell),
            self.delivery.cell(),
            self.calls_per_message,
            self.rate_limited,
            self.cpu_per_1000
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
            self.peak_rss_mib
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.0}")),
            self.queued,
        );
    }

    /// One JSON object.
    pub(crate) fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
