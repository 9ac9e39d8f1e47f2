//! `flexcord outbox ...`: what the outbox holds, for operators (dead letters, rows per state),
//! and re-queuing dead letters.

use std::fmt::Write as _;

use flexcord_routing::ActionId;
use flexcord_store::{DeadLetter, Retried, Store};

/// `flexcord outbox dead`: the dead letters (deliveries given up), newest first, each with its
/// action, why it failed, how often it was tried and the trace to look for in the logs.
/// With `json`, one JSON array ([`render_dead_json`]).
///
/// # Errors
/// The store's error, as text.
pub async fn dead(store: &Store, limit: usize, json: bool) -> Result<String, String> {
    let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(10_000);
    let letters = store.dead_letters(limit).await.map_err(|e| e.to_string())?;
    Ok(if json {
        render_dead_json(&letters)
    } else {
        render_dead(&letters)
    })
}

/// The dead letters as a JSON array, newest first, one object each: `at` (RFC 3339, UTC),
/// `at_ms` (Unix milliseconds), `kind`, `action_id`, `attempts`, `reason`, `trace` (or null)
/// and `action` (the stored action's kind and fields, or null when it does not decode).
pub fn render_dead_json(letters: &[DeadLetter]) -> String {
    let items: Vec<serde_json::Value> = letters
        .iter()
        .map(|letter| {
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(letter.at.millis()) * 1_000_000,
            )
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
            serde_json::json!({
                "at": at,
                "at_ms": letter.at.millis(),
                "kind": letter.kind,
                "action_id": letter.action_id.as_str(),
                "attempts": letter.attempts,
                "reason": letter.reason,
                "trace": letter.trace.as_ref().map(|t| t.as_str().to_owned()),
                "action": letter.action.as_ref().and_then(|a| serde_json::to_value(&a.kind).ok()),
            })
        })
        .collect();
    json_line(&serde_json::Value::Array(items))
}

/// A JSON value on one line, ending with a line break.
fn json_line(value: &serde_json::Value) -> String {
    let mut out = value.to_string();
    out.push('\n');
    out
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

/// `flexcord outbox stats`: rows per state; with `json`, one object of state to count.
///
/// # Errors
/// The store's error, as text.
pub async fn stats(store: &Store, json: bool) -> Result<String, String> {
    let counts = store.outbox_counts().await.map_err(|e| e.to_string())?;
    if json {
        let object: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(state, n)| ((*state).to_owned(), serde_json::Value::from(*n)))
            .collect();
        return Ok(json_line(&serde_json::Value::Object(object)));
    }
    let mut out = String::new();
    for (state, n) in &counts {
        let _ = writeln!(out, "{state:<9} {n}");
    }
    Ok(out)
}

/// What [`retry`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryReport {
    /// One line per dead letter, then a summary.
    pub text: String,
    /// A dead letter named by id was not re-queued.
    pub refused_named: bool,
}

/// `flexcord outbox retry ID|--all-dead`: re-queues dead letter `id`, or every dead letter
/// when `None`, through [`Store::retry_dead`]; says which went back to the outbox and why the
/// others did not.
///
/// # Errors
/// The store's error, as text (dead letters re-queued before it stay re-queued).
pub async fn retry(store: &Store, id: Option<&str>) -> Result<RetryReport, String> {
    let ids = match id {
        Some(id) => vec![ActionId(id.trim().to_owned())],
        None => store.dead_letter_ids().await.map_err(|e| e.to_string())?,
    };
    let mut out = String::new();
    let (mut requeued, mut refused) = (0, 0);
    for id in &ids {
        match retry_one(store, id)
            .await
            .map_err(|e| format!("{id}: {e}"))?
        {
            Retried::Requeued { kind, case } => {
                requeued += 1;
                let _ = write!(out, "re-queued {id} ({kind})");
                match case {
                    Some(case) => {
                        let _ = writeln!(out, "; {case} gets a timeline entry");
                    }
                    None => out.push('\n'),
                }
            }
            Retried::Refused(why) => {
                refused += 1;
                let _ = writeln!(out, "not re-queued {id}: {why}");
            }
        }
    }
    if ids.is_empty() {
        out.push_str("no dead letters\n");
    } else {
        let _ = writeln!(out, "{requeued} re-queued, {refused} not");
    }
    Ok(RetryReport {
        text: out,
        refused_named: id.is_some() && refused > 0,
    })
}

/// [`Store::retry_dead`], tried again a few times while a running instance holds `SQLite`'s
/// write lock past the busy timeout (it is one short transaction; the instance keeps writing).
async fn retry_one(store: &Store, id: &ActionId) -> Result<Retried, flexcord_store::Error> {
    let mut attempt = 1;
    loop {
        match store.retry_dead(id, flexcord_store::now()).await {
            Err(e) if e.is_locked() && attempt < 4 => {
                tracing::warn!(error = %e, attempt, "the database is locked; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
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

        assert_eq!(render_dead_json(&[]), "[]\n");
        let json = render_dead_json(&letters);
        assert!(json.ends_with('\n') && json.lines().count() == 1, "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        let first = &value[0];
        assert_eq!(first["kind"], "close_twilio");
        assert_eq!(first["action_id"], "7-100/3");
        assert_eq!(first["attempts"], 1);
        assert_eq!(first["reason"], "Twilio answered 404:\n not found");
        assert_eq!(first["trace"], "dm-42");
        assert_eq!(first["at_ms"], 1_795_600_000_000_i64);
        assert!(
            first["at"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-") && t.ends_with('Z')),
            "{json}"
        );
        assert!(
            json.contains("CH00000000000000000000000000000001"),
            "{json}"
        );
    }
}
