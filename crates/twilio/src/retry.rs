//! When to send a failed request again: a pure decision, table-tested.
//!
//! [`decide`] maps (policy, attempt, method, error, jitter) to [`Decision`]. The client sleeps
//! through an injected [`Sleep`] function, so tests never wait.
//!
//! Rules:
//! - GET and DELETE (idempotent) retry on HTTP 429, any 5xx, transport failures and timeouts.
//! - POST (Twilio's create and update) retries only on 429 (Twilio did not process the request)
//!   and on failures that happened before the request was sent. Never after a timeout or a
//!   broken connection once sent: Twilio may have processed it, and a second try would duplicate
//!   a message or an interaction.
//! - The delay is exponential (`base × 2^attempt`, capped) with jitter; a `Retry-After` header
//!   takes precedence. A `Retry-After` longer than [`RetryPolicy::max_retry_after`] gives up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::error::{Error, ErrorKind};

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// Return the error to the caller.
    GiveUp,
}

/// Retry limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Delay before the first retry, doubled each time.
    pub base_delay: Duration,
    /// Upper bound of the exponential delay.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client is willing to wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The same policy with `max_retries` retries.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The same policy with another base and maximum delay.
    #[must_use]
    pub fn with_delays(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay;
        self
    }
}

/// Decides whether to retry after attempt number `attempt` (0 = the first attempt) failed with
/// `error`. `jitter` in `0.0..=1.0` picks the delay within the upper half of the backoff window
/// (the client passes a random value; tests pass fixed ones).
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    method: &Method,
    error: &Error,
    jitter: f64,
) -> Decision {
    if attempt >= policy.max_retries {
        return Decision::GiveUp;
    }
    let idempotent = matches!(*method, Method::GET | Method::DELETE | Method::HEAD);
    let (retry, retry_after) = match error.kind() {
        ErrorKind::Api {
            status,
            retry_after,
            ..
        } => {
            let retry = *status == 429 || (idempotent && (500..600).contains(status));
            (retry, *retry_after)
        }
        ErrorKind::Transport { sent } | ErrorKind::Timeout { sent } => (idempotent || !sent, None),
        _ => (false, None),
    };
    if !retry {
        return Decision::GiveUp;
    }
    if let Some(wait) = retry_after {
        return if wait <= policy.max_retry_after {
            Decision::RetryAfter(wait)
        } else {
            Decision::GiveUp
        };
    }
    Decision::RetryAfter(backoff(policy, attempt, jitter))
}

/// Exponential backoff with "equal jitter": half the window fixed, half random.
fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(16));
    let window = policy
        .base_delay
        .saturating_mul(factor)
        .min(policy.max_delay);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    window / 2 + (window / 2).mul_f64(jitter)
}

/// An injected sleep: the client awaits `sleep(delay)` between attempts.
pub type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The default [`Sleep`]: `tokio::time::sleep`.
pub fn tokio_sleep() -> Sleep {
    Arc::new(|delay| Box::pin(tokio::time::sleep(delay)))
}

/// A random number in `0.0..1.0` for jitter, without a dependency on a random-number crate.
pub(crate) fn random_jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos())),
    );
    // 53 random bits mapped onto [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let value = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        Error::new(ErrorKind::Api {
            status,
            api: ApiError::from_body(status, b"{}"),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn decision_table() {
        let p = RetryPolicy::default();
        let get = Method::GET;
        let post = Method::POST;
        let delete = Method::DELETE;
        let backoff0 = Duration::from_millis(100); // window 200 ms, jitter 0 -> half
        let retry = Decision::RetryAfter(backoff0);
        let give_up = Decision::GiveUp;
        let table: Vec<(&str, &Method, Error, Decision)> = vec![
            ("GET 429", &get, api(429, None), retry),
            ("GET 500", &get, api(500, None), retry),
            ("GET 502", &get, api(502, None), retry),
            ("GET 503", &get, api(503, None), retry),
            ("GET 404", &get, api(404, None), give_up),
            ("GET 400", &get, api(400, None), give_up),
            ("DELETE 503", &delete, api(503, None), retry),
            ("DELETE 429", &delete, api(429, None), retry),
            ("POST 429", &post, api(429, None), retry),
            ("POST 500", &post, api(500, None), give_up),
            ("POST 503", &post, api(503, None), give_up),
            ("POST 400", &post, api(400, None), give_up),
            (
                "GET connect failure",
                &get,
                Error::new(ErrorKind::Transport { sent: false }),
                retry,
            ),
            (
                "GET broken after send",
                &get,
                Error::new(ErrorKind::Transport { sent: true }),
                retry,
            ),
            (
                "GET timeout after send",
                &get,
                Error::new(ErrorKind::Timeout { sent: true }),
                retry,
            ),
            (
                "POST connect failure",
                &post,
                Error::new(ErrorKind::Transport { sent: false }),
                retry,
            ),
            (
                "POST connect timeout",
                &post,
                Error::new(ErrorKind::Timeout { sent: false }),
                retry,
            ),
            (
                "POST timeout once sent",
                &post,
                Error::new(ErrorKind::Timeout { sent: true }),
                give_up,
            ),
            (
                "POST broken once sent",
                &post,
                Error::new(ErrorKind::Transport { sent: true }),
                give_up,
            ),
            (
                "GET decode",
                &get,
                Error::new(ErrorKind::Decode {
                    snippet: String::new(),
                }),
                give_up,
            ),
            ("GET invalid", &get, Error::invalid("x"), give_up),
            (
                "POST 429 Retry-After",
                &post,
                api(429, Some(7)),
                Decision::RetryAfter(Duration::from_secs(7)),
            ),
            (
                "GET 503 Retry-After",
                &get,
                api(503, Some(2)),
                Decision::RetryAfter(Duration::from_secs(2)),
            ),
            (
                "POST 429 Retry-After too long",
                &post,
                api(429, Some(3600)),
                give_up,
            ),
        ];
        for (name, method, error, want) in table {
            assert_eq!(decide(&p, 0, method, &error, 0.0), want, "{name}");
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy::default();
        let e = api(429, None);
        assert_ne!(decide(&p, 2, &Method::GET, &e, 0.5), Decision::GiveUp);
        assert_eq!(decide(&p, 3, &Method::GET, &e, 0.5), Decision::GiveUp);
        assert_eq!(
            decide(&RetryPolicy::none(), 0, &Method::GET, &e, 0.5),
            Decision::GiveUp
        );
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_cap() {
        let p = RetryPolicy::default()
            .with_max_retries(100)
            .with_delays(Duration::from_millis(100), Duration::from_secs(1));
        let e = api(429, None);
        let at = |attempt, jitter| decide(&p, attempt, &Method::GET, &e, jitter);
        assert_eq!(at(0, 0.0), Decision::RetryAfter(Duration::from_millis(50)));
        assert_eq!(at(0, 1.0), Decision::RetryAfter(Duration::from_millis(100)));
        assert_eq!(at(1, 0.0), Decision::RetryAfter(Duration::from_millis(100)));
        assert_eq!(at(2, 0.5), Decision::RetryAfter(Duration::from_millis(300)));
        // capped at max_delay
        assert_eq!(at(10, 1.0), Decision::RetryAfter(Duration::from_secs(1)));
        assert_eq!(at(99, 1.0), Decision::RetryAfter(Duration::from_secs(1)));
        // nonsense jitter is clamped
        assert_eq!(
            at(0, f64::NAN),
            Decision::RetryAfter(Duration::from_millis(50))
        );
        assert_eq!(at(0, 7.0), Decision::RetryAfter(Duration::from_millis(100)));
    }

    #[test]
    fn random_jitter_is_in_range() {
        for _ in 0..100 {
            let j = random_jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
