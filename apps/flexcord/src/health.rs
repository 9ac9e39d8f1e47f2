//! What `/readyz` checks: the parts of this process that must be alive for it to take traffic.
//!
//! | check | ready while |
//! |---|---|
//! | `running` | the app runs (not starting, not draining) |
//! | `shards` | each Discord shard of this process has a gateway session, or has been without one for less than `discord.ready_grace` (reconnecting, or connecting at start); a shard Discord closed for good fails at once |
//! | `outbox` | the outbox worker recorded a heartbeat in the store within the last [`OUTBOX_STALE`] (what other instances wait before taking its deliveries over) |
//! | `timers` | the timer loop finished a round within the last [`TIMERS_STALE`] |
//! | `store` | the store answers a read within [`STORE_TIMEOUT`] |
//!
//! Each check is also the gauge `flexcord_ready_check{check}` (1 or 0), set whenever readiness
//! is evaluated (each `/readyz` and each `/metrics` scrape).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flexcord_store::Store;

use crate::server::{Check, ReadyChecks};

/// How long the outbox worker may go without recording a heartbeat: the staleness after which
/// other workers take its deliveries over (`flexcord_store::STALE_MS`).
pub const OUTBOX_STALE: Duration = Duration::from_millis(flexcord_store::STALE_MS.unsigned_abs());

/// How long the timer loop (a round at least every second) may go without finishing a round.
pub const TIMERS_STALE: Duration = Duration::from_secs(30);

/// How long the store has to answer the readiness read.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The last sign of life of a loop: when it last beat, or that it stopped.
#[derive(Debug, Clone, Default)]
pub struct Pulse(Arc<AtomicI64>);

/// A [`Pulse`] that has not beaten yet.
const NEVER: i64 = 0;
/// A [`Pulse`] whose loop ended.
const STOPPED: i64 = -1;

impl Pulse {
    /// Records a beat now.
    pub fn beat(&self) {
        self.0.store(now_ms().max(1), Ordering::SeqCst);
    }

    /// Records that the loop ended (it beats no more).
    pub fn stop(&self) {
        self.0.store(STOPPED, Ordering::SeqCst);
    }

    /// A guard that marks the pulse stopped when dropped: moved into a task, it says the task
    /// ended, whether it returned or panicked.
    pub fn stop_on_drop(&self) -> StopOnDrop {
        StopOnDrop(self.clone())
    }

    /// Whether the loop beat within `within`, and what to say about it.
    fn judge(&self, within: Duration, what: &str) -> Check {
        match self.0.load(Ordering::SeqCst) {
            STOPPED => Check::fail(format!("the {what} stopped")),
            NEVER => Check::fail(format!("the {what} has not started")),
            at => {
                let age = Duration::from_millis(u64::try_from(now_ms() - at).unwrap_or(0));
                if age <= within {
                    Check::pass(format!("the {what} beat {} ago", seconds(age)))
                } else {
                    Check::fail(format!(
                        "the {what} has not beaten for {} (at most {} allowed)",
                        seconds(age),
                        seconds(within)
                    ))
                }
            }
        }
    }
}

/// See [`Pulse::stop_on_drop`].
#[derive(Debug)]
pub struct StopOnDrop(Pulse);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// What one Discord shard of this process is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// No session yet (since the start, or since the session was lost).
    Down { since: Instant, code: Option<u16> },
    /// A session is up.
    Up,
    /// Discord closed the shard for good (the process exits), and why.
    Failed { why: String },
}

/// One shard's state, updated by its event loop.
#[derive(Debug)]
pub struct ShardHealth {
    id: u32,
    link: Mutex<Link>,
}

impl ShardHealth {
    /// The state of a shard no [`Health`] checks.
    pub fn detached(id: u32) -> Self {
        Self::new(id)
    }

    fn new(id: u32) -> Self {
        Self {
            id,
            link: Mutex::new(Link::Down {
                since: Instant::now(),
                code: None,
            }),
        }
    }

    fn set(&self, update: impl FnOnce(Link) -> Link) {
        if let Ok(mut link) = self.link.lock() {
            *link = update(link.clone());
        }
    }

    /// The shard has a session (READY or RESUMED).
    pub fn connected(&self) {
        self.set(|_| Link::Up);
    }

    /// The shard lost its session (a close frame with `code`, or a transport error): it
    /// reconnects, and counts as down since now unless it was down already.
    pub fn disconnected(&self, code: Option<u16>) {
        self.set(|link| match link {
            Link::Up => Link::Down {
                since: Instant::now(),
                code,
            },
            Link::Down { since, code: old } => Link::Down {
                since,
                code: code.or(old),
            },
            failed @ Link::Failed { .. } => failed,
        });
    }

    /// Discord closed the shard for good, for the reason `why` (its close code, explained).
    pub fn failed(&self, why: String) {
        self.set(|_| Link::Failed { why });
    }

    fn judge(&self, grace: Duration) -> (bool, String) {
        let link = self.link.lock().map_or_else(
            |_| Link::Failed {
                why: "its state is unreadable".to_owned(),
            },
            |l| l.clone(),
        );
        let id = self.id;
        match link {
            Link::Up => (true, format!("shard {id} connected")),
            Link::Down { since, code } => {
                let down = since.elapsed();
                let why = code.map_or_else(String::new, |c| format!(", last closed with {c}"));
                if down <= grace {
                    (
                        true,
                        format!(
                            "shard {id} connecting for {} (within {}{why})",
                            seconds(down),
                            seconds(grace)
                        ),
                    )
                } else {
                    (
                        false,
                        format!(
                            "shard {id} without a gateway session for {} (more than {}{why})",
                            seconds(down),
                            seconds(grace)
                        ),
                    )
                }
            }
            Link::Failed { why } => (
                false,
                format!("shard {id} closed for good by Discord ({why})"),
            ),
        }
    }
}

/// The parts `/readyz` checks, shared with the tasks that keep them up to date.
#[derive(Debug)]
pub struct Health {
    shards: Vec<Arc<ShardHealth>>,
    grace: Duration,
    /// Beats with each heartbeat the outbox worker records in the store.
    pub outbox: Pulse,
    /// Beats with each round of the timer loop.
    pub timers: Pulse,
    store: Store,
}

impl Health {
    /// Checks for the shards `shards` (with `grace` to get a session) and `store`.
    pub fn new(shards: impl IntoIterator<Item = u32>, grace: Duration, store: Store) -> Self {
        Self {
            shards: shards
                .into_iter()
                .map(|id| Arc::new(ShardHealth::new(id)))
                .collect(),
            grace,
            outbox: Pulse::default(),
            timers: Pulse::default(),
            store,
        }
    }

    /// The state of shard `id`, for its event loop.
    pub fn shard(&self, id: u32) -> Option<Arc<ShardHealth>> {
        self.shards.iter().find(|s| s.id == id).cloned()
    }

    fn shards_check(&self) -> Check {
        if self.shards.is_empty() {
            return Check::pass("this process runs no shard".to_owned());
        }
        let judged: Vec<(bool, String)> = self.shards.iter().map(|s| s.judge(self.grace)).collect();
        let ok = judged.iter().all(|(ok, _)| *ok);
        // The failing ones when some fail, else all of them.
        let detail: Vec<String> = judged
            .into_iter()
            .filter(|(good, _)| !ok || *good)
            .filter(|(good, _)| ok || !*good)
            .map(|(_, text)| text)
            .collect();
        Check {
            ok,
            detail: detail.join("; "),
        }
    }

    async fn store_check(&self) -> Check {
        match tokio::time::timeout(STORE_TIMEOUT, self.store.ping()).await {
            Ok(Ok(())) => Check::pass(format!("{} answers", self.store.backend_name())),
            Ok(Err(e)) => Check::fail(format!("{}: {e}", self.store.backend_name())),
            Err(_) => Check::fail(format!(
                "{} did not answer within {}",
                self.store.backend_name(),
                seconds(STORE_TIMEOUT)
            )),
        }
    }
}

#[async_trait]
impl ReadyChecks for Health {
    async fn checks(&self) -> Vec<(&'static str, Check)> {
        vec![
            ("shards", self.shards_check()),
            ("outbox", self.outbox.judge(OUTBOX_STALE, "outbox worker")),
            ("timers", self.timers.judge(TIMERS_STALE, "timer loop")),
            ("store", self.store_check().await),
        ]
    }
}

fn now_ms() -> i64 {
    flexcord_store::now().millis()
}

/// A duration as seconds with one decimal (`2.5 s`).
fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pulse_is_judged_by_its_last_beat() {
        let pulse = Pulse::default();
        assert!(!pulse.judge(Duration::from_secs(10), "loop").ok);
        pulse.beat();
        let fresh = pulse.judge(Duration::from_secs(10), "loop");
        assert!(fresh.ok, "{fresh:?}");
        // A beat older than allowed.
        pulse.0.store(now_ms() - 20_000, Ordering::SeqCst);
        let stale = pulse.judge(Duration::from_secs(10), "loop");
        assert!(
            !stale.ok && stale.detail.contains("has not beaten for 20"),
            "{stale:?}"
        );
        {
            let _guard = pulse.stop_on_drop();
            pulse.beat();
        }
        let stopped = pulse.judge(Duration::from_secs(10), "loop");
        assert_eq!(stopped.detail, "the loop stopped");
        assert!(!stopped.ok);
    }

    #[test]
    fn a_shard_is_ready_connected_or_within_its_grace() {
        let shard = ShardHealth::new(0);
        let (ok, detail) = shard.judge(Duration::from_secs(30));
        assert!(
            ok && detail.starts_with("shard 0 connecting for"),
            "{detail}"
        );
        assert!(!shard.judge(Duration::ZERO).0, "past the grace");
        shard.connected();
        assert_eq!(
            shard.judge(Duration::ZERO),
            (true, "shard 0 connected".into())
        );
        shard.disconnected(Some(4000));
        let (ok, detail) = shard.judge(Duration::from_secs(30));
        assert!(ok && detail.contains("last closed with 4000"), "{detail}");
        shard.failed("4004 Authentication Failed: discord.token is not a valid bot token".into());
        let (ok, detail) = shard.judge(Duration::from_secs(30));
        assert!(!ok);
        assert_eq!(
            detail,
            "shard 0 closed for good by Discord (4004 Authentication Failed: discord.token is not a valid bot token)"
        );
    }
}
