//! Injected faults: on REST routes (latency, held answers, 429, 500) and on outgoing webhooks
//! (drop, duplicate).

use std::time::Duration;

/// A fault on the emulator's REST routes.
///
/// The pattern matches the request path segment by segment: `*` matches one segment, a final
/// `**` matches the rest. Method `*` matches any method.
///
/// ```
/// use std::time::Duration;
/// use flexcord_testkit::twilio::Fault;
/// let f = Fault::on("POST", "/v1/Conversations/*/Messages").too_many_requests(Duration::from_secs(1)).times(1);
/// # let _ = f;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub(crate) method: String,
    pub(crate) pattern: Vec<String>,
    pub(crate) effect: FaultEffect,
    pub(crate) remaining: Option<u32>,
}

/// What a [`Fault`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultEffect {
    /// Answer normally, after this delay.
    Latency(Duration),
    /// Answer 429 with Twilio error 20429 and a `Retry-After` header (whole seconds, rounded up).
    TooManyRequests(Duration),
    /// Answer 500 with Twilio error 20500.
    ServerError,
    /// Answer 503 with Twilio error 20503.
    Unavailable,
    /// Serve the request at once (its changes are made and the webhooks they cause are sent)
    /// but hold the answer until [`TwilioEmulator::release_held`](super::TwilioEmulator::release_held):
    /// the caller sees the call in flight while Twilio already reports its effects.
    Hold,
}

impl Fault {
    /// A fault on `method` (`GET`, `POST`, `DELETE` or `*`) and the path pattern; by default it
    /// adds no latency and applies forever: set an effect and optionally [`times`](Self::times).
    pub fn on(method: &str, path_pattern: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            pattern: path_pattern
                .trim_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect(),
            effect: FaultEffect::Latency(Duration::ZERO),
            remaining: None,
        }
    }

    /// Delay the answer.
    #[must_use]
    pub fn latency(mut self, delay: Duration) -> Self {
        self.effect = FaultEffect::Latency(delay);
        self
    }

    /// Answer 429 (error 20429) with `Retry-After`.
    #[must_use]
    pub fn too_many_requests(mut self, retry_after: Duration) -> Self {
        self.effect = FaultEffect::TooManyRequests(retry_after);
        self
    }

    /// Answer 500 (error 20500).
    #[must_use]
    pub fn server_error(mut self) -> Self {
        self.effect = FaultEffect::ServerError;
        self
    }

    /// Answer 503 (error 20503).
    #[must_use]
    pub fn unavailable(mut self) -> Self {
        self.effect = FaultEffect::Unavailable;
        self
    }

    /// Serve the request but hold the answer until
    /// [`TwilioEmulator::release_held`](super::TwilioEmulator::release_held) (see
    /// [`FaultEffect::Hold`]).
    #[must_use]
    pub fn hold(mut self) -> Self {
        self.effect = FaultEffect::Hold;
        self
    }

    /// Apply only to the next `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && self.method != method {
            return false;
        }
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut i = 0;
        for (n, p) in self.pattern.iter().enumerate() {
            if p == "**" && n + 1 == self.pattern.len() {
                return true;
            }
            match segs.get(i) {
                Some(s) if p == "*" || p == s => i += 1,
                _ => return false,
            }
        }
        i == segs.len()
    }
}

/// A fault on outgoing webhooks (and bot requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFault {
    pub(crate) effect: WebhookFaultEffect,
    pub(crate) event_type: Option<String>,
    pub(crate) url_contains: Option<String>,
    pub(crate) remaining: Option<u32>,
}

/// What a [`WebhookFault`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFaultEffect {
    /// The delivery is never sent (recorded as [`DeliveryOutcome::Dropped`](super::DeliveryOutcome::Dropped)).
    Drop,
    /// The delivery is sent twice, with the same idempotency token.
    Duplicate,
}

impl WebhookFault {
    /// Drop matching deliveries.
    pub fn drop_deliveries() -> Self {
        Self {
            effect: WebhookFaultEffect::Drop,
            event_type: None,
            url_contains: None,
            remaining: None,
        }
    }

    /// Send matching deliveries twice.
    pub fn duplicate() -> Self {
        Self {
            effect: WebhookFaultEffect::Duplicate,
            event_type: None,
            url_contains: None,
            remaining: None,
        }
    }

    /// Only deliveries of this `EventType` (bot requests have none).
    #[must_use]
    pub fn event(mut self, event_type: &str) -> Self {
        self.event_type = Some(event_type.to_owned());
        self
    }

    /// Only deliveries whose URL contains this text.
    #[must_use]
    pub fn url_contains(mut self, part: &str) -> Self {
        self.url_contains = Some(part.to_owned());
        self
    }

    /// Apply only to the next `n` matching deliveries.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    pub(crate) fn matches(&self, event_type: Option<&str>, url: &str) -> bool {
        self.event_type
            .as_deref()
            .is_none_or(|e| Some(e) == event_type)
            && self.url_contains.as_deref().is_none_or(|p| url.contains(p))
    }
}

/// Takes one use of the first matching rule, dropping rules that are used up.
pub(crate) fn take_match<T>(
    rules: &mut Vec<T>,
    mut matches: impl FnMut(&T) -> bool,
    remaining: impl Fn(&mut T) -> &mut Option<u32>,
) -> Option<T>
where
    T: Clone,
{
    let pos = rules.iter().position(&mut matches)?;
    let rule = rules[pos].clone();
    let left = remaining(&mut rules[pos]);
    if let Some(n) = left {
        *n = n.saturating_sub(1);
        if *n == 0 {
            rules.remove(pos);
        }
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments() {
        let f = Fault::on("post", "/v1/Conversations/*/Messages");
        assert!(f.matches("POST", "/v1/Conversations/CH1/Messages"));
        assert!(!f.matches("GET", "/v1/Conversations/CH1/Messages"));
        assert!(!f.matches("POST", "/v1/Conversations/CH1/Messages/IM1"));
        assert!(!f.matches("POST", "/v1/Conversations"));
        let any = Fault::on("*", "/v1/**");
        assert!(any.matches("DELETE", "/v1/Conversations/CH1"));
        assert!(!any.matches("GET", "/v2/Flows"));
    }

    #[test]
    fn counted_rules_expire() {
        let mut rules = vec![Fault::on("*", "/**").server_error().times(2)];
        let m = |f: &Fault| f.matches("GET", "/x");
        assert!(take_match(&mut rules, m, |f| &mut f.remaining).is_some());
        assert!(take_match(&mut rules, m, |f| &mut f.remaining).is_some());
        assert!(take_match(&mut rules, m, |f| &mut f.remaining).is_none());
    }
}
