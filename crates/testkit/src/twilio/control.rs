//! A small HTTP control API under `/__testkit/twilio/`, for driving the emulator by hand (the
//! `flexcord-testkit` binary) or from another process. No authentication: loopback only.
//!
//! | Method and path | Form fields | Effect |
//! |---|---|---|
//! | `GET /__testkit/twilio/state` | | conversations, messages, participants, chat channels, tasks, router decisions, deliveries |
//! | `POST /__testkit/twilio/agent/accept` | `Agent`, `Task` (default: the oldest pending) | accept a task |
//! | `POST /__testkit/twilio/agent/send` | `Agent`, `Target`, `Body` | agent message |
//! | `POST /__testkit/twilio/agent/edit` | `Agent`, `Target`, `MessageSid`, `Body` | edit |
//! | `POST /__testkit/twilio/agent/media` | `Agent`, `Target`, `Filename`, `ContentType`, `Content`, `Body` | attach a file |
//! | `POST /__testkit/twilio/agent/close` | `Target` | close the conversation |
//! | `POST /__testkit/twilio/agent/end` | `Task`, `Wrapup` (`true`/`false`) | end the task |
//! | `POST /__testkit/twilio/auto-agent` | `Agent`, `Greeting`, `EndWords` (comma-separated), `DelayMs` | start an agent that works by itself |
//! | `POST /__testkit/twilio/faults` | `Method`, `Path`, `Effect` (`latency`, `hold`, `429`, `500`, `503`), `Millis`, `Times` | REST fault (`hold`: serve at once, answer when released) |
//! | `POST /__testkit/twilio/release` | | send the answers held by `hold` faults |
//! | `POST /__testkit/twilio/webhook-faults` | `Effect` (`drop`, `duplicate`), `Event`, `Times` | webhook fault |
//! | `DELETE /__testkit/twilio/faults` | | clear every fault |

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::util::Params;
use super::{Agent, ControlError, Fault, Inner, TaskEnd, TaskStatus, TwilioEmulator, WebhookFault};

fn err(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

fn control_err(e: &ControlError) -> Response {
    let status = match e {
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    err(status, e.to_string())
}

pub(crate) fn handle(inner: &Arc<Inner>, method: &str, path: &str, body: &[u8]) -> Response {
    let p = Params::parse(body);
    let rest = path.trim_start_matches("/__testkit/twilio/");
    let view = View(Arc::clone(inner));
    match (method, rest) {
        ("GET", "state") => axum::Json(state(inner)).into_response(),
        ("POST", r) if r.starts_with("agent/") => {
            let identity = p.get("Agent").unwrap_or("agent:alice").to_owned();
            let emu = view.emulator();
            let agent = emu.agent(&identity);
            let result = agent_action(&agent, &r["agent/".len()..], &p);
            match result {
                Ok(v) => axum::Json(v).into_response(),
                Err(e) => control_err(&e),
            }
        }
        ("POST", "auto-agent") => {
            let mut agent = super::AutoAgent::new(p.get("Agent").unwrap_or("agent:alice"));
            if let Some(g) = p.get("Greeting") {
                agent = agent.greeting(g);
            }
            if let Some(words) = p.get("EndWords") {
                let words: Vec<&str> = words
                    .split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .collect();
                agent = agent.end_words(&words);
            }
            if let Some(ms) = p.get("DelayMs").and_then(|v| v.parse::<u64>().ok()) {
                agent = agent.delay(Duration::from_millis(ms));
            }
            let handle = tokio::spawn(super::auto::run(Arc::clone(inner), agent));
            inner
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(handle);
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "faults") => {
            let m = p.get("Method").unwrap_or("*");
            let Some(path) = p.get("Path") else {
                return err(StatusCode::BAD_REQUEST, "Path is required");
            };
            let millis = p
                .get("Millis")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1000);
            let f = Fault::on(m, path);
            let mut f = match p.get("Effect").unwrap_or("500") {
                "latency" => f.latency(Duration::from_millis(millis)),
                "hold" => f.hold(),
                "429" => f.too_many_requests(Duration::from_millis(millis)),
                "500" => f.server_error(),
                "503" => f.unavailable(),
                other => return err(StatusCode::BAD_REQUEST, format!("unknown Effect {other}")),
            };
            if let Some(n) = p.get("Times").and_then(|v| v.parse::<u32>().ok()) {
                f = f.times(n);
            }
            inner.with(|w| w.faults.push(f));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "webhook-faults") => {
            let mut f = match p.get("Effect").unwrap_or("drop") {
                "drop" => WebhookFault::drop_deliveries(),
                "duplicate" => WebhookFault::duplicate(),
                other => return err(StatusCode::BAD_REQUEST, format!("unknown Effect {other}")),
            };
            if let Some(e) = p.get("Event") {
                f = f.event(e);
            }
            if let Some(n) = p.get("Times").and_then(|v| v.parse::<u32>().ok()) {
                f = f.times(n);
            }
            inner.with(|w| w.webhook_faults.push(f));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "release") => {
            let held = view.emulator().release_held();
            axum::Json(json!({ "released": held })).into_response()
        }
        ("DELETE", "faults") => {
            inner.with(|w| {
                w.faults.clear();
                w.webhook_faults.clear();
            });
            StatusCode::NO_CONTENT.into_response()
        }
        _ => err(
            StatusCode::NOT_FOUND,
            format!("no control route {method} {path}"),
        ),
    }
}

/// A borrowed view of the emulator for the control handlers (no server or worker of its own).
struct View(Arc<Inner>);

impl View {
    fn emulator(&self) -> TwilioEmulator {
        TwilioEmulator::view(Arc::clone(&self.0))
    }
}

fn agent_action(agent: &Agent<'_>, action: &str, p: &Params) -> Result<Value, ControlError> {
    let target = || {
        p.get("Target")
            .map(str::to_owned)
            .ok_or_else(|| ControlError::Invalid("Target is required".to_owned()))
    };
    match action {
        "accept" => {
            let task = match p.get("Task") {
                Some(t) => t.to_owned(),
                None => agent
                    .emulator
                    .tasks()
                    .into_iter()
                    .find(|t| t.status == TaskStatus::Pending)
                    .map(|t| t.sid)
                    .ok_or_else(|| ControlError::NotFound("no pending task".to_owned()))?,
            };
            let member = agent.accept(&task)?;
            Ok(json!({ "task_sid": task, "participant_sid": member }))
        }
        "send" => {
            Ok(json!({ "message_sid": agent.send(&target()?, p.get("Body").unwrap_or(""))? }))
        }
        "edit" => {
            let sid = p
                .get("MessageSid")
                .ok_or_else(|| ControlError::Invalid("MessageSid is required".to_owned()))?;
            agent.edit(&target()?, sid, p.get("Body").unwrap_or(""))?;
            Ok(json!({ "message_sid": sid }))
        }
        "media" => {
            let sid = agent.send_media(
                &target()?,
                p.get("Filename").unwrap_or("file.txt"),
                p.get("ContentType").unwrap_or("text/plain"),
                p.get("Content").unwrap_or("").as_bytes().to_vec(),
                p.get("Body"),
            )?;
            Ok(json!({ "message_sid": sid }))
        }
        "close" => {
            agent.close_conversation(&target()?)?;
            Ok(json!({}))
        }
        "end" => {
            let task = p
                .get("Task")
                .ok_or_else(|| ControlError::Invalid("Task is required".to_owned()))?;
            let how = if p.get("Wrapup") == Some("true") {
                TaskEnd::Wrapup
            } else {
                TaskEnd::Completed
            };
            agent.end_task(task, how)?;
            Ok(json!({}))
        }
        other => Err(ControlError::NotFound(format!("agent action {other}"))),
    }
}

fn state(inner: &Arc<Inner>) -> Value {
    inner.read(|w| {
        let conversations: Vec<Value> = w
            .conversations
            .iter()
            .map(|c| {
                let mut v = w.r_conversation(c);
                let messages: Vec<Value> = w.messages.iter().filter(|m| m.conversation_sid == c.sid).map(|m| w.r_message(m)).collect();
                let participants: Vec<Value> =
                    w.participants.iter().filter(|p| p.conversation_sid == c.sid).map(|p| w.r_participant(p)).collect();
                v["messages"] = Value::Array(messages);
                v["participants"] = Value::Array(participants);
                v
            })
            .collect();
        let channels: Vec<Value> = w
            .chat_channels
            .iter()
            .map(|c| {
                let mut v = w.r_chat_channel(c);
                v["messages"] =
                    Value::Array(w.chat_messages.iter().filter(|m| m.channel_sid == c.sid).map(|m| w.r_chat_message(m)).collect());
                v["members"] = Value::Array(w.chat_members.iter().filter(|m| m.channel_sid == c.sid).map(|m| w.r_chat_member(m)).collect());
                v
            })
            .collect();
        let tasks: Vec<Value> = w
            .tasks
            .iter()
            .map(|t| {
                json!({
                    "sid": t.sid, "status": format!("{:?}", t.status).to_lowercase(), "worker": t.worker,
                    "conversation_sid": t.conversation_sid, "chat_channel_sid": t.chat_channel_sid,
                    "interaction_sid": t.interaction_sid, "attributes": t.attributes,
                })
            })
            .collect();
        let deliveries: Vec<Value> = w
            .deliveries
            .iter()
            .map(|d| {
                json!({
                    "id": d.id, "kind": format!("{:?}", d.kind).to_lowercase(), "event_type": d.event_type, "url": d.url,
                    "outcome": format!("{:?}", d.outcome).to_lowercase(), "attempts": d.attempts.len(),
                    "statuses": d.attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
                    "idempotency_token": d.idempotency_token,
                })
            })
            .collect();
        json!({
            "account_sid": w.cfg.account_sid,
            "chat_service_sid": w.cfg.chat_service_sid,
            "flex_flow_sid": w.cfg.flex_flow_sid,
            "studio_flow_sid": w.cfg.studio_flow_sid,
            "conversations": conversations,
            "chat_channels": channels,
            "tasks": tasks,
            "router_decisions": w.decisions.iter().map(|d| json!({
                "channel_sid": d.channel_sid, "message_sid": d.message_sid, "route": format!("{:?}", d.route),
            })).collect::<Vec<_>>(),
            "deliveries": deliveries,
        })
    })
}
