//! Trace ids for what the bridge takes in: one per Discord message or interaction, and per
//! Twilio webhook unless the webhook is the echo of a message the bridge wrote (then it
//! continues that message's trace).
//!
//! | ingress | trace |
//! |---|---|
//! | Discord DM (`MESSAGE_CREATE`) | `dm-<message id>` |
//! | Discord interaction | `ix-<interaction id>` |
//! | Twilio webhook whose `Attributes` carry `flexcord.trace` | that trace (continued) |
//! | other Twilio webhook | `tw-<MessageSid>`, else `tw-<I-Twilio-Idempotency-Token>`, else random |
//! | timer tick | `tick-<conversation>-<ms>` (made by the store's engine) |
//!
//! Each is handled inside a span with the field `trace` and with the id as
//! [`TraceId::current`], so the outbox rows it produces carry it (see `flexcord_store::trace`).

pub use flexcord_store::TraceId;

/// The header Twilio sends with the same value on every retry of one webhook.
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";

/// The trace of a Discord direct message.
pub fn for_message(id: u64) -> TraceId {
    TraceId::decimal("dm", id)
}

/// The trace of a Discord interaction (slash command, button, modal).
pub fn for_interaction(id: u64) -> TraceId {
    TraceId::decimal("ix", id)
}

/// The trace of a Twilio webhook with form `params` and the `I-Twilio-Idempotency-Token`
/// header `idempotency_token`; `true` when it continues a trace the bridge wrote into the
/// message's attributes (the echo of our own message). Only a `verified` webhook (signature or
/// bot secret checked) may continue a trace, so a forged request cannot add lines to one.
pub fn for_webhook(
    params: &[(String, String)],
    idempotency_token: Option<&str>,
    verified: bool,
) -> (TraceId, bool) {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    if let Some(trace) = param("Attributes")
        .filter(|_| verified)
        .and_then(attributes_trace)
    {
        return (trace, true);
    }
    let trace = param("MessageSid")
        .and_then(|sid| TraceId::derived("tw", sid))
        .or_else(|| idempotency_token.and_then(|t| TraceId::derived("tw", t)))
        .unwrap_or_else(random);
    (trace, false)
}

/// `flexcord.trace` of a message's attributes JSON, when present and well-formed.
pub fn attributes_trace(attributes: &str) -> Option<TraceId> {
    let value: serde_json::Value = serde_json::from_str(attributes).ok()?;
    TraceId::parse(value.get("flexcord")?.get("trace")?.as_str()?)
}

/// The trace a delivery writes into upstream attributes: the current trace, or else the
/// action id (rows stored without a trace).
pub fn for_delivery(action: &flexcord_routing::Action) -> String {
    TraceId::current().map_or_else(|| action.id.as_str().to_owned(), |t| t.as_str().to_owned())
}

/// A fresh random trace `r-<16 hex digits>` (a time-based one if the system has no
/// randomness).
pub fn random() -> TraceId {
    let mut bytes = [0u8; 8];
    let n = if getrandom::fill(&mut bytes).is_ok() {
        u64::from_le_bytes(bytes)
    } else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // The low bits are the varying ones.
        u64::try_from(nanos & u128::from(u64::MAX)).unwrap_or(0)
    };
    TraceId::hex("r", n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn discord_ids_give_stable_traces() {
        assert_eq!(for_message(1234).as_str(), "dm-1234");
        assert_eq!(for_interaction(99).as_str(), "ix-99");
    }

    #[test]
    fn webhook_continues_our_trace_from_the_attributes() {
        let params = form(&[
            ("MessageSid", "IM0123"),
            (
                "Attributes",
                r#"{"flexcord": {"discord_message": "55", "trace": "dm-55"}}"#,
            ),
        ]);
        let (trace, continued) = for_webhook(&params, Some("token-1"), true);
        assert_eq!(trace.as_str(), "dm-55");
        assert!(continued);
        // Unverified (forged or unsigned): a trace of its own.
        let (trace, continued) = for_webhook(&params, Some("token-1"), false);
        assert_eq!(trace.as_str(), "tw-IM0123");
        assert!(!continued);
    }

    #[test]
    fn webhook_starts_a_trace_otherwise() {
        // Attributes without our trace, or with one that is not a trace id: a new trace from
        // the message SID.
        for attributes in [
            "{}",
            "not json",
            r#"{"flexcord": {"trace": "has spaces in it"}}"#,
            r#"{"flexcord": {"trace": 7}}"#,
        ] {
            let params = form(&[("MessageSid", "IM0123"), ("Attributes", attributes)]);
            let (trace, continued) = for_webhook(&params, Some("token-1"), true);
            assert_eq!(trace.as_str(), "tw-IM0123", "{attributes}");
            assert!(!continued);
        }
        // No message: the idempotency token, then a random id.
        let params = form(&[("EventType", "onConversationStateUpdated")]);
        assert_eq!(
            for_webhook(&params, Some("abc-123"), true).0.as_str(),
            "tw-abc-123"
        );
        let a = for_webhook(&params, None, true).0;
        let b = for_webhook(&params, None, true).0;
        assert!(
            a.as_str().starts_with("r-") && a.as_str().len() == 18,
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn deliveries_write_the_current_trace_or_the_action_id() {
        let action = flexcord_routing::Action {
            id: flexcord_routing::ActionId::new("1-2", 3),
            kind: flexcord_routing::ActionKind::CloseTwilio {
                sid: flexcord_routing::TwilioSid::from("CH1"),
                interaction: None,
            },
        };
        assert_eq!(for_delivery(&action), "1-2/3");
        let traced = for_message(2).scope(async { for_delivery(&action) }).await;
        assert_eq!(traced, "dm-2");
    }
}
