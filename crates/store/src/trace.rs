//! Trace ids: one id per inbound message, carried through the outbox and back.
//!
//! The app gives every event it takes (a Discord message or interaction, a Twilio webhook) a
//! [`TraceId`] and handles it inside [`TraceId::scope`] (and a `tracing` span with the field
//! `trace`). [`crate::Engine`] stamps the actions a step produces with the current trace (the
//! outbox column `trace`); the [`crate::Worker`] delivers each action and feeds its result back
//! inside a span and a scope of that trace, so a delivery, its upstream (a Twilio message's
//! attributes) and the actions its result produces share the trace of the event that started
//! them.

use std::fmt;
use std::future::Future;

/// The longest trace id accepted.
pub const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: TraceId;
}

/// A trace id: 1 to [`MAX_LEN`] characters out of ASCII letters, digits, `-`, `_`, `.` and
/// `:`, so it can be logged, stored and written into upstream attributes as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(String);

impl TraceId {
    /// Reads a trace id (e.g. from a Twilio message's attributes); `None` when `text` is empty,
    /// too long or has other characters.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        ok.then(|| Self(text.to_owned()))
    }

    /// A trace id derived from an upstream id: `<prefix>-<id>`, e.g. `dm-1234` for a Discord
    /// message. Characters a trace id cannot hold are dropped, and the result is cut to
    /// [`MAX_LEN`]; `None` when nothing is left of `id`.
    pub fn derived(prefix: &str, id: &str) -> Option<Self> {
        let clean = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
                .collect()
        };
        let id = clean(id);
        if id.is_empty() {
            return None;
        }
        let prefix = clean(prefix);
        let mut text = if prefix.is_empty() {
            id
        } else {
            format!("{prefix}-{id}")
        };
        text.truncate(MAX_LEN);
        Some(Self(text))
    }

    /// `<prefix>-<n>` in decimal (e.g. `dm-1234` for a Discord message id); the prefix is
    /// cleaned as in [`TraceId::derived`].
    pub fn decimal(prefix: &str, n: u64) -> Self {
        Self::numbered(prefix, &n.to_string())
    }

    /// `<prefix>-<n>` in 16 hexadecimal digits (e.g. a random id).
    pub fn hex(prefix: &str, n: u64) -> Self {
        Self::numbered(prefix, &format!("{n:016x}"))
    }

    fn numbered(prefix: &str, digits: &str) -> Self {
        let prefix: String = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
            .take(MAX_LEN - 21)
            .collect();
        if prefix.is_empty() {
            Self(digits.to_owned())
        } else {
            Self(format!("{prefix}-{digits}"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trace of the event being handled on this task, if any (set by [`TraceId::scope`]).
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `fut` with this trace as [`TraceId::current`].
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
    }

    /// Runs `fut` with `trace` as [`TraceId::current`], or without a trace when `None`.
    pub async fn scope_opt<F: Future>(trace: Option<Self>, fut: F) -> F::Output {
        match trace {
            Some(trace) => trace.scope(fut).await,
            None => fut.await,
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TraceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_safe_short_ids() {
        assert_eq!(TraceId::parse("dm-1234").unwrap().as_str(), "dm-1234");
        assert_eq!(
            TraceId::parse("tw-IM0123:abc_1.2").unwrap().to_string(),
            "tw-IM0123:abc_1.2"
        );
        assert!(TraceId::parse("").is_none());
        assert!(TraceId::parse("has space").is_none());
        assert!(TraceId::parse("quote\"").is_none());
        assert!(TraceId::parse("é").is_none());
        assert!(TraceId::parse(&"x".repeat(MAX_LEN)).is_some());
        assert!(TraceId::parse(&"x".repeat(MAX_LEN + 1)).is_none());
    }

    #[test]
    fn numbers_make_valid_ids() {
        assert_eq!(TraceId::decimal("dm", 1234).as_str(), "dm-1234");
        assert_eq!(TraceId::decimal("", 7).as_str(), "7");
        assert_eq!(TraceId::hex("r", 255).as_str(), "r-00000000000000ff");
        let long = TraceId::decimal(&"p".repeat(100), u64::MAX);
        assert!(TraceId::parse(long.as_str()).is_some(), "{long}");
        assert!(long.as_str().ends_with(&u64::MAX.to_string()));
    }

    #[test]
    fn derived_cleans_and_cuts() {
        assert_eq!(TraceId::derived("dm", "1234").unwrap().as_str(), "dm-1234");
        assert_eq!(
            TraceId::derived("tw", "IM 12/\"34").unwrap().as_str(),
            "tw-IM1234"
        );
        assert_eq!(TraceId::derived("", "abc").unwrap().as_str(), "abc");
        assert!(TraceId::derived("tw", "//").is_none());
        let long = TraceId::derived("tw", &"a".repeat(200)).unwrap();
        assert_eq!(long.as_str().len(), MAX_LEN);
        assert!(TraceId::parse(long.as_str()).is_some());
    }

    #[tokio::test]
    async fn scope_sets_the_current_trace_for_the_future_only() {
        assert_eq!(TraceId::current(), None);
        let t = TraceId::parse("dm-1").unwrap();
        let seen = t
            .clone()
            .scope(async {
                tokio::task::yield_now().await;
                TraceId::current()
            })
            .await;
        assert_eq!(seen, Some(t));
        assert_eq!(TraceId::current(), None);
        assert_eq!(
            TraceId::scope_opt(None, async { TraceId::current() }).await,
            None
        );
    }
}
