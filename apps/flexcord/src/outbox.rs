//! `flexcord outbox ...`: what the outbox holds, for operators (dead letters, rows per state).

use std::fmt::Write as _;

use flexcord_store::{DeadLetter, Store};

/// `flexcord outbox dead`: the dead letters (deliveries given up), newest first, each with its
/// action, why it failed, how often it was tried and the trace to look for in the logs.
///
/// # Errors
/// The store's error, as text.
pub async fn dead(store: &Store, limit: usize) -> Result<String, String> {
    let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(10_000);
    let letters = store.dead_letters(limit).await.map_err(|e| e.to_string())?;
    Ok(render_dead(&letters))
}

/// The listing of [`dead`].
pub fn render_dead(letters: &[DeadLetter]) -> String {
    if letters.is_empty() {
        return "no dead letters\n".to_owned();
    }
    let mut out = format!(
        "{} dead letter{} (newest first)\n",
        letters.len(),
        if letters.len() == 1 { "" } else { "s" }
    );
    for letter in letters {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(letter.at.millis()) * 1_000_000,
        )
        .map_or_else(|_| letter.at.millis().to_string(), crate::cases::clock);
        let _ = writeln!(
            out,
            "{at}  {}  {}  attempts {}\n  reason: {}",
            letter.kind,
            letter.action_id.as_str(),
            letter.attempts,
            one_line(&letter.reason),
        );
        if let Some(trace) = &letter.trace {
            let _ = writeln!(out, "  trace: {}", trace.as_str());
        }
        match &letter.action {
            Some(action) => match serde_json::to_string(&action.kind) {
                Ok(json) => {
                    let _ = writeln!(out, "  action: {json}");
                }
                Err(e) => {
                    let _ = writeln!(out, "  action: (cannot show: {e})");
                }
            },
            None => out.push_str("  action: (stored action does not decode)\n"),
        }
    }
    out
}

/// `flexcord outbox stats`: rows per state.
///
/// # Errors
/// The store's error, as text.
pub async fn stats(store: &Store) -> Result<String, String> {
    let counts = store.outbox_counts().await.map_err(|e| e.to_string())?;
    let mut out = String::new();
    for (state, n) in &counts {
        let _ = writeln!(out, "{state:<9} {n}");
    }
    Ok(out)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use flexcord_routing::{ActionId, Timestamp};

    use super::*;

    #[test]
    fn dead_letters_are_listed_with_reason_and_action() {
        assert_eq!(render_dead(&[]), "no dead letters\n");
        let action = flexcord_routing::Action {
            id: ActionId::new("7-100", 3),
            kind: flexcord_routing::ActionKind::CloseTwilio {
                sid: flexcord_routing::TwilioSid("CH00000000000000000000000000000001".into()),
                interaction: None,
            },
        };
        let letters = [DeadLetter {
            action_id: action.id.clone(),
            kind: "close_twilio".into(),
            reason: "Twilio answered 404:\n not found".into(),
            attempts: 1,
            at: Timestamp(1_795_600_000_000),
            action: Some(action),
            trace: flexcord_store::TraceId::parse("dm-42"),
        }];
        let text = render_dead(&letters);
        assert!(text.starts_with("1 dead letter (newest first)\n"), "{text}");
        assert!(text.contains("close_twilio  7-100/3  attempts 1"), "{text}");
        assert!(
            text.contains("reason: Twilio answered 404: not found\n"),
            "{text}"
        );
        assert!(
            text.contains("CH00000000000000000000000000000001"),
            "{text}"
        );
        assert!(text.contains("2026-"), "{text}");
        assert!(text.contains("  trace: dm-42\n"), "{text}");
    }
}
