//! One trace id per message, from the Discord event through the outbox and Twilio and back, in
//! the app's JSON logs.
//!
//! The logs are captured with the app's own subscriber ([`flexcord::telemetry::subscriber`],
//! JSON) installed as the process-wide default. This test is a binary of its own so that no other
//! test shares its process: `tracing` caches per call site whether a line is enabled, and with a
//! thread-scoped subscriber a call site first reached by another test's thread (no subscriber
//! there) could stay disabled for the capture.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flexcord::cli::LogFormat;
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

#[path = "../it/bridge.rs"]
#[allow(dead_code)] // the shared harness; this test uses part of it
mod bridge;

use bridge::Bridge;

const WAIT: Duration = Duration::from_secs(30);

/// Log lines written to memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

impl Captured {
    /// Every line so far, parsed (each must be one JSON object).
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .expect("UTF-8 logs")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The first line satisfying `f`, waiting for it.
    async fn line(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| f(l)) {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line {what}; lines:\n{}",
                self.lines()
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or("")
}

/// A field of the spans the line happened in (innermost first).
fn span_field<'a>(line: &'a Value, field: &str) -> Option<&'a Value> {
    line["spans"]
        .as_array()?
        .iter()
        .rev()
        .find_map(|s| s.get(field))
}

fn trace(line: &Value) -> &str {
    span_field(line, "trace")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no trace on {line}"))
}

fn span_str<'a>(line: &'a Value, field: &str) -> Option<&'a str> {
    span_field(line, field).and_then(Value::as_str)
}

/// The outbox line reporting the delivery of `kind` with `trace`.
fn delivered(line: &Value, kind: &str, trace_id: &str) -> bool {
    message(line) == "action delivered"
        && span_str(line, "kind") == Some(kind)
        && span_field(line, "trace").and_then(Value::as_str) == Some(trace_id)
}

fn flexcord_attrs(m: &flexcord_testkit::twilio::Message) -> Value {
    let attrs: Value = serde_json::from_str(&m.attributes).expect("attributes are JSON");
    attrs["flexcord"].clone()
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one journey, checked step by step
async fn one_trace_from_discord_through_twilio_and_back() {
    let logs = Captured::default();
    let subscriber =
        flexcord::telemetry::subscriber(LogFormat::Json, EnvFilter::new("info"), logs.clone());
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");
    let b = Bridge::start_configured(|_| Vec::new()).await;
    let alice = b.discord.user_id("alice").unwrap();

    // Bot phase, then the hand-off button.
    b.discord.inject_dm(alice, "I forgot my password").unwrap();
    let answer = b
        .discord
        .wait_for_dm_where(alice, |m| !m.components.is_empty(), WAIT)
        .await
        .expect("the bot answers");
    let comps = serde_json::to_string(&answer.components).unwrap();
    let start = comps.find("fc:agent:").expect("a hand-off button");
    let button = b
        .discord
        .inject_button(alice, comps[start..].split('"').next().unwrap())
        .unwrap();
    b.dm_containing(alice, "CASE-").await;
    let sid = b
        .twilio
        .wait_for(WAIT, |t| t.conversations().first().map(|c| c.sid.clone()))
        .await
        .expect("a Twilio conversation");

    // The button's interaction trace reaches the actions its results produced: the back-filled
    // transcript is posted after TwilioConversationCreated came back.
    let press = format!("ix-{}", button.id);
    let ingress = logs
        .line("for the button press", |l| {
            message(l) == "interaction received"
                && span_field(l, "interaction").and_then(Value::as_u64) == Some(button.id)
        })
        .await;
    assert_eq!(trace(&ingress), press);
    logs.line("creating the conversation under the button's trace", |l| {
        delivered(l, "create_twilio_conversation", &press)
    })
    .await;
    let backfill = b
        .twilio
        .wait_for(WAIT, |t| {
            t.messages(&sid)
                .into_iter()
                .find(|m| m.body.as_deref() == Some("I forgot my password"))
        })
        .await
        .expect("the transcript is back-filled");
    assert_eq!(flexcord_attrs(&backfill)["trace"], press.as_str());

    // Hand-off phase: a user DM. One trace from the gateway to the Twilio message and back.
    let dm = b.discord.inject_dm(alice, "Are you there?").unwrap();
    let ingress = logs
        .line("for the DM", |l| {
            message(l) == "direct message received"
                && span_field(l, "message").and_then(Value::as_u64) == Some(dm.id)
        })
        .await;
    let t = trace(&ingress).to_owned();
    assert_eq!(t, format!("dm-{}", dm.id));
    assert_eq!(span_str(&ingress, "trace"), Some(t.as_str()));
    let posted = b
        .twilio
        .wait_for(WAIT, |tw| {
            tw.messages(&sid)
                .into_iter()
                .find(|m| m.body.as_deref() == Some("Are you there?"))
        })
        .await
        .expect("the DM reaches the conversation");
    let attrs = flexcord_attrs(&posted);
    assert_eq!(attrs["trace"], t.as_str(), "{attrs}");
    assert_eq!(attrs["discord_message"], dm.id.to_string(), "{attrs}");
    let outbox = logs
        .line("delivering post_to_twilio", |l| {
            delivered(l, "post_to_twilio", &t)
        })
        .await;
    assert_eq!(span_str(&outbox, "trace"), Some(t.as_str()));
    assert_eq!(
        outbox["fields"]["upstream_id"].as_str(),
        Some(posted.sid.as_str()),
        "{outbox}"
    );
    // Twilio's webhook for that message (our echo) continues the trace.
    let echo = logs
        .line("for the echo webhook", |l| {
            message(l) == "webhook received"
                && span_str(l, "message_sid") == Some(posted.sid.as_str())
        })
        .await;
    assert_eq!(trace(&echo), t);
    assert_eq!(echo["fields"]["continued"], true, "{echo}");
    assert_eq!(span_str(&echo, "event_type"), Some("onMessageAdded"));

    // An agent reply: one trace from the webhook to the Discord send.
    let agent = b.twilio.agent("agent:zoe");
    agent.accept_next(WAIT).await.expect("a task for the agent");
    // The joined notice first (it waits for the agent's name from Twilio, and would go out
    // under the reply's trace if the agent wrote before the name came back).
    b.dm_containing(alice, "Zoe has joined the conversation.")
        .await;
    let reply_sid = agent.send(&sid, "Hi, I am Zoe.").unwrap();
    let reply = b.dm_containing(alice, "Hi, I am Zoe.").await;
    let hook = logs
        .line("for the agent's message", |l| {
            message(l) == "webhook received" && span_str(l, "message_sid") == Some(&reply_sid)
        })
        .await;
    let r = trace(&hook).to_owned();
    assert_eq!(r, format!("tw-{reply_sid}"));
    assert_eq!(hook["fields"]["continued"], false, "{hook}");
    assert_ne!(r, t);
    let send = logs
        .line("delivering the reply to Discord", |l| {
            delivered(l, "send_dm", &r)
        })
        .await;
    assert_eq!(
        send["fields"]["upstream_id"].as_str(),
        Some(reply.id.to_string().as_str()),
        "{send}"
    );
    // Every line of the outbox under the reply's trace is about the reply (the Discord send
    // and the case transcript), none about the user's DM.
    let kinds: Vec<String> = logs
        .lines()
        .iter()
        .filter(|l| message(l) == "action delivered" && span_str(l, "trace") == Some(&r))
        .filter_map(|l| span_str(l, "kind").map(str::to_owned))
        .collect();
    assert!(
        kinds.iter().all(|k| k == "send_dm" || k == "annotate_case"),
        "{kinds:?}"
    );
    b.stop().await;
}
