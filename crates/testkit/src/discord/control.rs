//! A small HTTP control API under `/__testkit/discord/` on the emulator's own port, for driving
//! it by hand (the `flexcord-testkit` binary) or from another process. JSON in, JSON out. No
//! authentication: loopback only. `user` is a user id or username; `channel` a channel id or name.
//!
//! | Method and path | JSON body / query | Effect |
//! |---|---|---|
//! | `GET /__testkit/discord/state` | | URLs, guild, channels, users, sessions, commands |
//! | `GET /__testkit/discord/messages` | `?channel=` or `?user=` (DM) | messages, oldest first |
//! | `GET /__testkit/discord/requests` | | every REST call (method, path, route, body, status) |
//! | `GET /__testkit/discord/interactions` | | injected interactions and the bot's responses |
//! | `POST /__testkit/discord/dm` | `user`, `content`, `files`? (`[{"filename", "content_type", "text" or "base64"}]`) | a DM to the bot |
//! | `POST /__testkit/discord/message` | `channel`, `user`, `content` | a guild message |
//! | `POST /__testkit/discord/slash` | `user`, `command` (`/case status CASE-000001`), `channel`? | a slash command |
//! | `POST /__testkit/discord/button` | `user`, `custom_id`, `message`? | a button press |
//! | `POST /__testkit/discord/select` | `user`, `custom_id`, `values` | a select-menu choice |
//! | `POST /__testkit/discord/modal` | `user`, `custom_id`, `fields` (`{"title": "..."}`) | a modal submit |
//! | `POST /__testkit/discord/faults` | `kind`: `rate_limit` (`method`, `path`, `times`, `retry_after_ms`), `global_rate_limit` (`times`, `retry_after_ms`), `error` (`method`, `path`, `times`, `status`, `code`, `message`), `block_dm` / `unblock_dm` (`user`) | fault injection |
//! | `DELETE /__testkit/discord/faults` | | clear every fault |
//! | `POST /__testkit/discord/gateway` | `action`: `drop`, `close` (`code`), `reconnect`, `invalidate` (`resumable`); `shard`? | gateway control |

#![allow(clippy::result_large_err)] // one response per control request, built once

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::{DiscordState, FaultKind, RouteFault, pattern_segments};
use super::{Attachment, EmulatorError, ModalSubmit, Shared};

fn err(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

fn emu_err(e: &EmulatorError) -> Response {
    let status = match e {
        EmulatorError::UnknownUser(_)
        | EmulatorError::UnknownChannel(_)
        | EmulatorError::UnknownMessage(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    err(status, e.to_string())
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            form_urlencoded::parse(format!("v={v}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
        })?
    })
}

fn resolve_user(s: &DiscordState, v: &Value) -> Result<u64, Response> {
    let found = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(t) => t
            .parse()
            .ok()
            .or_else(|| s.users.values().find(|u| u.username == *t).map(|u| u.id)),
        _ => None,
    };
    found.ok_or_else(|| err(StatusCode::NOT_FOUND, format!("unknown user {v}")))
}

fn resolve_channel(s: &DiscordState, v: &Value) -> Result<u64, Response> {
    let found = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(t) => t.parse().ok().or_else(|| s.channel_id(t)),
        _ => None,
    };
    found.ok_or_else(|| err(StatusCode::NOT_FOUND, format!("unknown channel {v}")))
}

/// `[{"filename", "content_type", "text" | "base64"}]`.
fn files(v: &Value) -> Result<Vec<Attachment>, Response> {
    use base64::Engine as _;
    let Some(list) = v.as_array() else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|f| {
            let filename = f["filename"].as_str().unwrap_or("file.txt");
            let content_type = f["content_type"]
                .as_str()
                .unwrap_or("application/octet-stream");
            let data = if let Some(b64) = f["base64"].as_str() {
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| err(StatusCode::BAD_REQUEST, format!("files: bad base64: {e}")))?
            } else {
                f["text"].as_str().unwrap_or_default().as_bytes().to_vec()
            };
            Ok(Attachment::new(filename, content_type, data))
        })
        .collect()
}

fn ok(v: impl serde::Serialize) -> Response {
    axum::Json(v).into_response()
}

fn millis(b: &Value, key: &str, default: u64) -> Duration {
    Duration::from_millis(b[key].as_u64().unwrap_or(default))
}

#[allow(clippy::too_many_lines)]
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(action): Path<String>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> Response {
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return err(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")),
        }
    };
    let q = query.as_deref();
    shared.with(|s| match (method.as_str(), action.as_str()) {
        ("GET", "state") => ok(state_json(s)),
        ("GET", "messages") => {
            let channel = if let Some(c) = query_param(q, "channel") {
                resolve_channel(s, &Value::String(c))
            } else if let Some(u) = query_param(q, "user") {
                resolve_user(s, &Value::String(u)).and_then(|u| {
                    s.dm_channel(u).ok_or_else(|| {
                        err(StatusCode::NOT_FOUND, "no DM channel with this user yet")
                    })
                })
            } else {
                Err(err(StatusCode::BAD_REQUEST, "give ?channel= or ?user="))
            };
            match channel {
                Ok(c) => ok(s.messages_in(c)),
                Err(r) => r,
            }
        }
        ("GET", "requests") => ok(s.rest_calls()),
        ("GET", "interactions") => ok(s.interactions().collect::<Vec<_>>()),
        ("POST", "dm") => match (resolve_user(s, &body["user"]), files(&body["files"])) {
            (Ok(u), Ok(f)) => s
                .inject_dm(u, body["content"].as_str().unwrap_or_default(), &f)
                .map_or_else(|e| emu_err(&e), ok),
            (Err(r), _) | (_, Err(r)) => r,
        },
        ("POST", "message") => match (
            resolve_user(s, &body["user"]),
            resolve_channel(s, &body["channel"]),
        ) {
            (Ok(u), Ok(c)) => s
                .inject_guild_message(c, u, body["content"].as_str().unwrap_or_default())
                .map_or_else(|e| emu_err(&e), ok),
            (Err(r), _) | (_, Err(r)) => r,
        },
        ("POST", "slash") => {
            let user = match resolve_user(s, &body["user"]) {
                Ok(u) => u,
                Err(r) => return r,
            };
            let channel = if body["channel"].is_null() {
                None
            } else {
                match resolve_channel(s, &body["channel"]) {
                    Ok(c) => Some(c),
                    Err(r) => return r,
                }
            };
            let line = body["command"].as_str().unwrap_or_default();
            s.parse_command_line(line)
                .and_then(|mut cmd| {
                    cmd.channel = channel;
                    s.inject_slash(user, &cmd)
                })
                .map_or_else(|e| emu_err(&e), ok)
        }
        ("POST", "button" | "select") => {
            let user = match resolve_user(s, &body["user"]) {
                Ok(u) => u,
                Err(r) => return r,
            };
            let custom_id = body["custom_id"].as_str().unwrap_or_default();
            let message = body["message"]
                .as_u64()
                .or_else(|| body["message"].as_str().and_then(|m| m.parse().ok()));
            let values = body["values"].as_array().map(|v| {
                v.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            });
            s.inject_component(user, custom_id, message, values)
                .map_or_else(|e| emu_err(&e), ok)
        }
        ("POST", "modal") => {
            let user = match resolve_user(s, &body["user"]) {
                Ok(u) => u,
                Err(r) => return r,
            };
            let mut submit = ModalSubmit::new(body["custom_id"].as_str().unwrap_or_default());
            if let Some(fields) = body["fields"].as_object() {
                for (k, v) in fields {
                    submit = submit.field(k.clone(), v.as_str().unwrap_or_default());
                }
            }
            s.inject_modal(user, &submit)
                .map_or_else(|e| emu_err(&e), ok)
        }
        ("POST", "faults") => add_fault(s, &body),
        ("DELETE", "faults") => {
            s.route_faults.clear();
            s.global_429 = None;
            s.blocked_dms.clear();
            ok(json!({"cleared": true}))
        }
        ("POST", "gateway") => {
            let which = body["shard"].as_u64().and_then(|n| u32::try_from(n).ok());
            let n = match body["action"].as_str() {
                Some("drop") => s.drop_connections(which),
                Some("close") => {
                    let code = body["code"]
                        .as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .unwrap_or(4000);
                    s.close_connections(which, code, "closed by the test")
                }
                Some("reconnect") => s.request_reconnect(which),
                Some("invalidate") => {
                    s.invalidate_sessions(which, body["resumable"].as_bool().unwrap_or(false))
                }
                _ => {
                    return err(
                        StatusCode::BAD_REQUEST,
                        "action must be drop, close, reconnect or invalidate",
                    );
                }
            };
            ok(json!({"connections": n}))
        }
        _ => err(
            StatusCode::NOT_FOUND,
            format!("no control route {method} {action}"),
        ),
    })
}

fn add_fault(s: &mut DiscordState, b: &Value) -> Response {
    let times = b["times"]
        .as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(1);
    let method = b["method"]
        .as_str()
        .filter(|m| *m != "*")
        .map(str::to_ascii_uppercase);
    let pattern = pattern_segments(b["path"].as_str().unwrap_or("**"));
    let kind = match b["kind"].as_str() {
        Some("rate_limit") => FaultKind::RateLimited {
            retry_after: millis(b, "retry_after_ms", 500),
        },
        Some("global_rate_limit") => {
            s.global_429 = Some((times, millis(b, "retry_after_ms", 500)));
            return ok(json!({"added": "global_rate_limit"}));
        }
        Some("error") => FaultKind::Error {
            status: b["status"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or(500),
            code: b["code"].as_u64().unwrap_or(0),
            message: b["message"]
                .as_str()
                .unwrap_or("Internal Server Error")
                .to_owned(),
        },
        Some(k @ ("block_dm" | "unblock_dm")) => {
            return match resolve_user(s, &b["user"]) {
                Ok(u) => {
                    if k == "block_dm" {
                        s.blocked_dms.insert(u);
                    } else {
                        s.blocked_dms.remove(&u);
                    }
                    ok(json!({"user": u.to_string(), "blocked": k == "block_dm"}))
                }
                Err(r) => r,
            };
        }
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "kind must be rate_limit, global_rate_limit, error, block_dm or unblock_dm",
            );
        }
    };
    s.route_faults.push(RouteFault {
        method,
        pattern,
        remaining: times,
        kind,
    });
    ok(json!({"added": b["kind"]}))
}

fn state_json(s: &DiscordState) -> Value {
    let channels: Vec<Value> = s
        .channels
        .values()
        .filter(|c| !c.deleted)
        .map(|c| {
            json!({
                "id": c.id.to_string(),
                "name": c.name,
                "type": c.kind,
                "recipient": c.recipient.map(|r| r.to_string()),
                "parent_id": c.parent_id.map(|p| p.to_string()),
            })
        })
        .collect();
    let users: Vec<Value> = s
        .users
        .values()
        .map(|u| json!({"id": u.id.to_string(), "username": u.username, "bot": u.bot, "dm_blocked": s.blocked_dms.contains(&u.id)}))
        .collect();
    let api_url = s.gateway_url.replacen("ws://", "http://", 1);
    json!({
        "gateway_url": s.gateway_url,
        "api_url": api_url,
        "guild_id": s.config.guild_id.to_string(),
        "bot_id": s.config.bot.id.to_string(),
        "application_id": s.config.application_id.to_string(),
        "channels": channels,
        "users": users,
        "sessions": s.sessions(),
        "global_commands": s.global_commands(),
        "guild_commands": s.guild_commands(s.config.guild_id),
    })
}
