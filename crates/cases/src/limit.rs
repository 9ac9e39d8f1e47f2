//! Limits on failed sign-ins, per account and per client address: after too many failures in
//! a window, sign-in is refused (429 with the time to wait) until the oldest failure leaves it.
//!
//! The counts live in this process's memory (bounded): a restart forgets them, and each
//! instance behind a load balancer counts on its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failed sign-ins are allowed in `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per login name (default 5).
    pub per_account: u32,
    /// Failures per client address (default 20).
    pub per_address: u32,
    /// The window (default 15 minutes).
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Keys kept at most; past it the oldest keys are forgotten.
const MAX_KEYS: usize = 10_000;

/// Failed sign-ins per key (`account:<login>`, `address:<ip>`).
pub(crate) struct LoginLimiter {
    limits: LoginLimits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// The keys of one attempt.
pub(crate) struct Attempt<'a> {
    pub(crate) account: &'a str,
    pub(crate) address: &'a str,
}

impl Attempt<'_> {
    fn keys(&self) -> [(String, u32); 2] {
        [
            (format!("account:{}", self.account.to_lowercase()), 0),
            (format!("address:{}", self.address), 1),
        ]
    }
}

impl LoginLimiter {
    pub(crate) fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, which: u32) -> u32 {
        if which == 0 {
            self.limits.per_account
        } else {
            self.limits.per_address
        }
    }

    /// How long until `attempt` may try again, if it is blocked now.
    pub(crate) fn blocked(&self, attempt: &Attempt<'_>, now: Instant) -> Option<Duration> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait: Option<Duration> = None;
        for (key, which) in attempt.keys() {
            let Some(times) = failures.get_mut(&key) else {
                continue;
            };
            prune(times, now, self.limits.window);
            let limit = self.limit(which) as usize;
            if times.len() >= limit.max(1)
                && let Some(oldest) = times.front()
            {
                let until = (*oldest + self.limits.window).saturating_duration_since(now);
                wait = Some(wait.map_or(until, |w| w.max(until)));
            }
        }
        wait
    }

    /// Records a failed attempt.
    pub(crate) fn failed(&self, attempt: &Attempt<'_>, now: Instant) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() >= MAX_KEYS {
            let window = self.limits.window;
            failures.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        for (key, _) in attempt.keys() {
            let times = failures.entry(key).or_default();
            prune(times, now, self.limits.window);
            times.push_back(now);
            while times.len() > 1_000 {
                times.pop_front();
            }
        }
    }

    /// A successful sign-in clears the account's failures (the address keeps its count).
    pub(crate) fn succeeded(&self, attempt: &Attempt<'_>) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&attempt.keys()[0].0);
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

/// "5 minutes", "1 minute", "30 seconds": how long to wait, for people.
pub(crate) fn describe_wait(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs >= 60 {
        let minutes = secs.div_ceil(60);
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    } else {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            per_account: 3,
            per_address: 5,
            window: Duration::from_secs(600),
        })
    }

    #[test]
    fn an_account_is_locked_after_its_limit_until_the_window_passes() {
        let l = limiter();
        let t0 = Instant::now();
        let a = Attempt {
            account: "Jane",
            address: "10.0.0.1",
        };
        for i in 0..3 {
            assert_eq!(l.blocked(&a, t0), None, "attempt {i}");
            l.failed(&a, t0 + Duration::from_secs(i));
        }
        let wait = l.blocked(&a, t0 + Duration::from_secs(10)).expect("locked");
        assert_eq!(wait, Duration::from_secs(590));
        // Another address, same account (case-insensitive): still locked.
        let b = Attempt {
            account: "jane",
            address: "10.0.0.2",
        };
        assert!(l.blocked(&b, t0 + Duration::from_secs(10)).is_some());
        // Once the oldest failure leaves the window, one more try is allowed.
        assert_eq!(l.blocked(&a, t0 + Duration::from_secs(600)), None);
    }

    #[test]
    fn an_address_is_limited_across_accounts_and_success_clears_the_account() {
        let l = limiter();
        let t0 = Instant::now();
        for n in 0..5 {
            let login = format!("user{n}");
            let a = Attempt {
                account: &login,
                address: "10.0.0.9",
            };
            l.failed(&a, t0);
        }
        let fresh = Attempt {
            account: "someone",
            address: "10.0.0.9",
        };
        assert!(l.blocked(&fresh, t0).is_some(), "the address is limited");
        let elsewhere = Attempt {
            account: "user0",
            address: "10.0.0.8",
        };
        assert_eq!(l.blocked(&elsewhere, t0), None, "one failure is no lock");
        l.failed(&elsewhere, t0);
        l.failed(&elsewhere, t0);
        assert!(l.blocked(&elsewhere, t0).is_some());
        l.succeeded(&elsewhere);
        assert_eq!(l.blocked(&elsewhere, t0), None);
        assert_eq!(describe_wait(Duration::from_secs(61)), "2 minutes");
        assert_eq!(describe_wait(Duration::from_secs(1)), "1 second");
    }
}
