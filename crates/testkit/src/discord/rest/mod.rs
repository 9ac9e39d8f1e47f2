//! REST under `/api/v10`: routing, authorisation, rate-limit buckets, injected faults, the call
//! log, and one handler per route.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::gateway::rest_token_ok;
use super::payload::{normalize_components, normalize_embeds};
use super::state::{
    Attachment, Bucket, ChannelRec, DiscordState, FaultKind, RestCall, UploadedFile,
};

mod channels;
mod commands;
mod community;
mod interactions;
mod messages;

/// Message content limit (characters).
const CONTENT_MAX: usize = 2000;

/// An answer before it becomes an HTTP response.
pub(crate) struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn created(body: Value) -> Self {
        Self {
            status: 201,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }
    fn error(status: u16, code: u64, message: &str) -> Self {
        Self {
            status,
            body: Some(json!({"code": code, "message": message})),
            headers: Vec::new(),
        }
    }
    /// 400 / 50035 `Invalid Form Body` with one error at `field`, a dotted path such as
    /// `embeds.0.title` (empty: the request itself), nested as Discord nests it.
    fn invalid_form(field: &str, code: &str, message: &str) -> Self {
        let mut errors = json!({"_errors": [{"code": code, "message": message}]});
        for key in field.split('.').filter(|k| !k.is_empty()).rev() {
            errors = json!({ key: errors });
        }
        Self {
            status: 400,
            body: Some(json!({"code": 50035, "message": "Invalid Form Body", "errors": errors})),
            headers: Vec::new(),
        }
    }
    /// `BASE_TYPE_REQUIRED`.
    fn required(field: &str) -> Self {
        Self::invalid_form(field, "BASE_TYPE_REQUIRED", "This field is required")
    }
    /// `BASE_TYPE_MAX_LENGTH`.
    fn max_length(field: &str, max: usize) -> Self {
        Self::invalid_form(
            field,
            "BASE_TYPE_MAX_LENGTH",
            &format!("Must be {max} or fewer in length."),
        )
    }
    /// `BASE_TYPE_BAD_LENGTH`.
    fn bad_length(field: &str, min: usize, max: usize) -> Self {
        Self::invalid_form(
            field,
            "BASE_TYPE_BAD_LENGTH",
            &format!("Must be between {min} and {max} in length."),
        )
    }
    /// `BASE_TYPE_CHOICES`.
    fn choices(field: &str, choices: &[u64]) -> Self {
        let list: Vec<String> = choices.iter().map(u64::to_string).collect();
        Self::invalid_form(
            field,
            "BASE_TYPE_CHOICES",
            &format!("Value must be one of ({}).", list.join(", ")),
        )
    }
    /// `LIST_TYPE_CONVERT`: an array was expected.
    fn not_a_list(field: &str) -> Self {
        Self::invalid_form(
            field,
            "LIST_TYPE_CONVERT",
            "Only iterables may be used in a ListType",
        )
    }
    /// `DICT_TYPE_CONVERT`: an object was expected.
    fn not_an_object(field: &str) -> Self {
        Self::invalid_form(
            field,
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType",
        )
    }
    /// `NUMBER_TYPE_COERCE`: a value that is not a snowflake (or not an int).
    fn not_a(field: &str, value: &str, kind: &str) -> Self {
        Self::invalid_form(
            field,
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{value}\" is not {kind}."),
        )
    }
    /// 405 for a known route asked with another method.
    fn method_not_allowed() -> Self {
        Self::error(405, 0, "405: Method Not Allowed")
    }
    fn not_found() -> Self {
        Self::error(404, 0, "404: Not Found")
    }
    fn unknown_channel() -> Self {
        Self::error(404, 10003, "Unknown Channel")
    }
    fn unknown_message() -> Self {
        Self::error(404, 10008, "Unknown Message")
    }
    fn unknown_webhook() -> Self {
        Self::error(404, 10015, "Unknown Webhook")
    }
    fn unknown_interaction() -> Self {
        Self::error(404, 10062, "Unknown interaction")
    }
}

/// Whether a message to a reference is `@original` or by id.
#[derive(Clone, Copy, Debug)]
enum MsgRef {
    Original,
    Id(u64),
}

#[derive(Clone, Debug)]
enum Route {
    GatewayBot,
    Gateway,
    CurrentUser,
    User(u64),
    CurrentApplication,
    CreateDm,
    GetChannel(u64),
    UpdateChannel(u64),
    DeleteChannel(u64),
    CreateMessage(u64),
    ListMessages(u64),
    GetMessage(u64, u64),
    UpdateMessage(u64, u64),
    DeleteMessage(u64, u64),
    Typing(u64),
    React(u64, u64, String, bool),
    PutPermission(u64, u64),
    DeletePermission(u64, u64),
    CreateThread(u64),
    CreateThreadFromMessage(u64, u64),
    AddThreadMember(u64, Option<u64>),
    RemoveThreadMember(u64, Option<u64>),
    Guild(u64),
    GuildChannels(u64),
    CreateGuildChannel(u64),
    GuildMember(u64, u64),
    GuildRoles(u64),
    CreateRole(u64),
    Crosspost(u64, u64),
    InteractionCallback(u64, String),
    ExecuteWebhook(u64, String),
    GetWebhookMessage(u64, String, MsgRef),
    UpdateWebhookMessage(u64, String, MsgRef),
    DeleteWebhookMessage(u64, String, MsgRef),
    SetCommands(u64, Option<u64>),
    GetCommands(u64, Option<u64>),
    CreateCommand(u64, Option<u64>),
    DeleteCommand(u64, Option<u64>, u64),
}

impl Route {
    /// Routes that need no `Authorization` header and are exempt from the global limit.
    fn is_interaction(&self) -> bool {
        matches!(
            self,
            Self::InteractionCallback(..)
                | Self::ExecuteWebhook(..)
                | Self::GetWebhookMessage(..)
                | Self::UpdateWebhookMessage(..)
                | Self::DeleteWebhookMessage(..)
        )
    }
}

/// The emoji path segment, percent-decoded (`%E2%9C%85` → `✅`).
fn decode_emoji(segment: &str) -> String {
    form_urlencoded::parse(format!("e={segment}").as_bytes())
        .next()
        .map_or_else(|| segment.to_owned(), |(_, v)| v.into_owned())
}

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

#[allow(clippy::option_option)] // outer: parsed; inner: None = @me
fn user_ref(s: &str) -> Option<Option<u64>> {
    if s == "@me" {
        Some(None)
    } else {
        id(s).map(Some)
    }
}

fn msg_ref(s: &str) -> Option<MsgRef> {
    if s == "@original" {
        Some(MsgRef::Original)
    } else {
        id(s).map(MsgRef::Id)
    }
}

/// Maps method + path to a route, its template (for the bucket and the log) and its major
/// parameter.
#[allow(clippy::too_many_lines)]
fn classify(method: &Method, segs: &[&str]) -> Option<(Route, String, String)> {
    use Route as R;
    let m = method.as_str();
    let (route, template, major): (Route, &str, String) = match (m, segs) {
        ("GET", ["gateway", "bot"]) => (R::GatewayBot, "gateway/bot", String::new()),
        ("GET", ["gateway"]) => (R::Gateway, "gateway", String::new()),
        ("GET", ["users", "@me"]) => (R::CurrentUser, "users/@me", String::new()),
        ("GET", ["users", u]) => (R::User(id(u)?), "users/{user_id}", String::new()),
        ("GET", ["applications" | "oauth2", "@me"] | ["oauth2", "applications", "@me"]) => {
            (R::CurrentApplication, "applications/@me", String::new())
        }
        ("POST", ["users", "@me", "channels"]) => {
            (R::CreateDm, "users/@me/channels", String::new())
        }
        ("GET", ["channels", c]) => (
            R::GetChannel(id(c)?),
            "channels/{channel_id}",
            (*c).to_owned(),
        ),
        ("PATCH", ["channels", c]) => (
            R::UpdateChannel(id(c)?),
            "channels/{channel_id}",
            (*c).to_owned(),
        ),
        ("DELETE", ["channels", c]) => (
            R::DeleteChannel(id(c)?),
            "channels/{channel_id}",
            (*c).to_owned(),
        ),
        ("POST", ["channels", c, "messages"]) => (
            R::CreateMessage(id(c)?),
            "channels/{channel_id}/messages",
            (*c).to_owned(),
        ),
        ("GET", ["channels", c, "messages"]) => (
            R::ListMessages(id(c)?),
            "channels/{channel_id}/messages",
            (*c).to_owned(),
        ),
        ("GET", ["channels", c, "messages", mid]) => (
            R::GetMessage(id(c)?, id(mid)?),
            "channels/{channel_id}/messages/{message_id}",
            (*c).to_owned(),
        ),
        ("PATCH", ["channels", c, "messages", mid]) => (
            R::UpdateMessage(id(c)?, id(mid)?),
            "channels/{channel_id}/messages/{message_id}",
            (*c).to_owned(),
        ),
        ("DELETE", ["channels", c, "messages", mid]) => (
            R::DeleteMessage(id(c)?, id(mid)?),
            "channels/{channel_id}/messages/{message_id}",
            (*c).to_owned(),
        ),
        ("PUT" | "DELETE", ["channels", c, "messages", mid, "reactions", emoji, "@me"]) => (
            R::React(id(c)?, id(mid)?, decode_emoji(emoji), m == "PUT"),
            "channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            (*c).to_owned(),
        ),
        ("POST", ["channels", c, "typing"]) => (
            R::Typing(id(c)?),
            "channels/{channel_id}/typing",
            (*c).to_owned(),
        ),
        ("PUT", ["channels", c, "permissions", o]) => (
            R::PutPermission(id(c)?, id(o)?),
            "channels/{channel_id}/permissions/{overwrite_id}",
            (*c).to_owned(),
        ),
        ("DELETE", ["channels", c, "permissions", o]) => (
            R::DeletePermission(id(c)?, id(o)?),
            "channels/{channel_id}/permissions/{overwrite_id}",
            (*c).to_owned(),
        ),
        ("POST", ["channels", c, "threads"]) => (
            R::CreateThread(id(c)?),
            "channels/{channel_id}/threads",
            (*c).to_owned(),
        ),
        ("POST", ["channels", c, "messages", mid, "threads"]) => (
            R::CreateThreadFromMessage(id(c)?, id(mid)?),
            "channels/{channel_id}/messages/{message_id}/threads",
            (*c).to_owned(),
        ),
        ("PUT", ["channels", c, "thread-members", u]) => (
            R::AddThreadMember(id(c)?, user_ref(u)?),
            "channels/{channel_id}/thread-members/{user_id}",
            (*c).to_owned(),
        ),
        ("DELETE", ["channels", c, "thread-members", u]) => (
            R::RemoveThreadMember(id(c)?, user_ref(u)?),
            "channels/{channel_id}/thread-members/{user_id}",
            (*c).to_owned(),
        ),
        ("GET", ["guilds", g]) => (R::Guild(id(g)?), "guilds/{guild_id}", (*g).to_owned()),
        ("GET", ["guilds", g, "channels"]) => (
            R::GuildChannels(id(g)?),
            "guilds/{guild_id}/channels",
            (*g).to_owned(),
        ),
        ("POST", ["guilds", g, "channels"]) => (
            R::CreateGuildChannel(id(g)?),
            "guilds/{guild_id}/channels",
            (*g).to_owned(),
        ),
        ("GET", ["guilds", g, "members", u]) => (
            R::GuildMember(id(g)?, id(u)?),
            "guilds/{guild_id}/members/{user_id}",
            (*g).to_owned(),
        ),
        ("GET", ["guilds", g, "roles"]) => (
            R::GuildRoles(id(g)?),
            "guilds/{guild_id}/roles",
            (*g).to_owned(),
        ),
        ("POST", ["guilds", g, "roles"]) => (
            R::CreateRole(id(g)?),
            "guilds/{guild_id}/roles",
            (*g).to_owned(),
        ),
        ("POST", ["channels", c, "messages", mid, "crosspost"]) => (
            R::Crosspost(id(c)?, id(mid)?),
            "channels/{channel_id}/messages/{message_id}/crosspost",
            (*c).to_owned(),
        ),
        ("POST", ["interactions", i, t, "callback"]) => (
            R::InteractionCallback(id(i)?, (*t).to_owned()),
            "interactions/{interaction_id}/{token}/callback",
            format!("{i}/{t}"),
        ),
        ("POST", ["webhooks", a, t]) => (
            R::ExecuteWebhook(id(a)?, (*t).to_owned()),
            "webhooks/{webhook_id}/{token}",
            format!("{a}/{t}"),
        ),
        ("GET", ["webhooks", a, t, "messages", mr]) => (
            R::GetWebhookMessage(id(a)?, (*t).to_owned(), msg_ref(mr)?),
            "webhooks/{webhook_id}/{token}/messages/{message_id}",
            format!("{a}/{t}"),
        ),
        ("PATCH", ["webhooks", a, t, "messages", mr]) => (
            R::UpdateWebhookMessage(id(a)?, (*t).to_owned(), msg_ref(mr)?),
            "webhooks/{webhook_id}/{token}/messages/{message_id}",
            format!("{a}/{t}"),
        ),
        ("DELETE", ["webhooks", a, t, "messages", mr]) => (
            R::DeleteWebhookMessage(id(a)?, (*t).to_owned(), msg_ref(mr)?),
            "webhooks/{webhook_id}/{token}/messages/{message_id}",
            format!("{a}/{t}"),
        ),
        ("PUT", ["applications", a, "commands"]) => (
            R::SetCommands(id(a)?, None),
            "applications/{application_id}/commands",
            (*a).to_owned(),
        ),
        ("GET", ["applications", a, "commands"]) => (
            R::GetCommands(id(a)?, None),
            "applications/{application_id}/commands",
            (*a).to_owned(),
        ),
        ("POST", ["applications", a, "commands"]) => (
            R::CreateCommand(id(a)?, None),
            "applications/{application_id}/commands",
            (*a).to_owned(),
        ),
        ("DELETE", ["applications", a, "commands", c]) => (
            R::DeleteCommand(id(a)?, None, id(c)?),
            "applications/{application_id}/commands/{command_id}",
            (*a).to_owned(),
        ),
        ("PUT", ["applications", a, "guilds", g, "commands"]) => (
            R::SetCommands(id(a)?, Some(id(g)?)),
            "applications/{application_id}/guilds/{guild_id}/commands",
            format!("{a}/{g}"),
        ),
        ("GET", ["applications", a, "guilds", g, "commands"]) => (
            R::GetCommands(id(a)?, Some(id(g)?)),
            "applications/{application_id}/guilds/{guild_id}/commands",
            format!("{a}/{g}"),
        ),
        ("POST", ["applications", a, "guilds", g, "commands"]) => (
            R::CreateCommand(id(a)?, Some(id(g)?)),
            "applications/{application_id}/guilds/{guild_id}/commands",
            format!("{a}/{g}"),
        ),
        ("DELETE", ["applications", a, "guilds", g, "commands", c]) => (
            R::DeleteCommand(id(a)?, Some(id(g)?), id(c)?),
            "applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
            format!("{a}/{g}"),
        ),
        _ => return None,
    };
    Some((route, format!("{m} {template}"), major))
}

/// Every route the emulator serves, as `classify` names them (a unit test keeps both in step).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "gateway/bot"),
    ("GET", "gateway"),
    ("GET", "users/@me"),
    ("GET", "users/{user_id}"),
    ("GET", "applications/@me"),
    ("POST", "users/@me/channels"),
    ("GET", "channels/{channel_id}"),
    ("PATCH", "channels/{channel_id}"),
    ("DELETE", "channels/{channel_id}"),
    ("POST", "channels/{channel_id}/messages"),
    ("GET", "channels/{channel_id}/messages"),
    ("GET", "channels/{channel_id}/messages/{message_id}"),
    ("PATCH", "channels/{channel_id}/messages/{message_id}"),
    ("DELETE", "channels/{channel_id}/messages/{message_id}"),
    (
        "PUT",
        "channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
    ),
    (
        "DELETE",
        "channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
    ),
    ("POST", "channels/{channel_id}/typing"),
    ("PUT", "channels/{channel_id}/permissions/{overwrite_id}"),
    ("DELETE", "channels/{channel_id}/permissions/{overwrite_id}"),
    ("POST", "channels/{channel_id}/threads"),
    (
        "POST",
        "channels/{channel_id}/messages/{message_id}/threads",
    ),
    ("PUT", "channels/{channel_id}/thread-members/{user_id}"),
    ("DELETE", "channels/{channel_id}/thread-members/{user_id}"),
    ("GET", "guilds/{guild_id}"),
    ("GET", "guilds/{guild_id}/channels"),
    ("POST", "guilds/{guild_id}/channels"),
    ("GET", "guilds/{guild_id}/members/{user_id}"),
    ("GET", "guilds/{guild_id}/roles"),
    ("POST", "guilds/{guild_id}/roles"),
    (
        "POST",
        "channels/{channel_id}/messages/{message_id}/crosspost",
    ),
    ("POST", "interactions/{interaction_id}/{token}/callback"),
    ("POST", "webhooks/{webhook_id}/{token}"),
    ("GET", "webhooks/{webhook_id}/{token}/messages/{message_id}"),
    (
        "PATCH",
        "webhooks/{webhook_id}/{token}/messages/{message_id}",
    ),
    (
        "DELETE",
        "webhooks/{webhook_id}/{token}/messages/{message_id}",
    ),
    ("PUT", "applications/{application_id}/commands"),
    ("GET", "applications/{application_id}/commands"),
    ("POST", "applications/{application_id}/commands"),
    (
        "DELETE",
        "applications/{application_id}/commands/{command_id}",
    ),
    (
        "PUT",
        "applications/{application_id}/guilds/{guild_id}/commands",
    ),
    (
        "GET",
        "applications/{application_id}/guilds/{guild_id}/commands",
    ),
    (
        "POST",
        "applications/{application_id}/guilds/{guild_id}/commands",
    ),
    (
        "DELETE",
        "applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
    ),
];

/// The answer for a request `classify` did not route, as Discord gives it: 400 / 50035
/// `NUMBER_TYPE_COERCE` when an id segment of a known route is not a snowflake, 405 when the
/// route exists for other methods only, 404 otherwise.
fn unrouted(method: &Method, segs: &[&str]) -> Reply {
    let mut other_method = false;
    for (m, template) in ROUTES {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segs.len() {
            continue;
        }
        let mut bad_id = None;
        let fits = parts.iter().zip(segs).all(|(want, got)| {
            match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) => {
                    let id_ok = !name.ends_with("_id")
                        || got.parse::<u64>().is_ok()
                        || matches!(
                            (name, *got),
                            ("user_id", "@me") | ("message_id", "@original")
                        );
                    if !id_ok && bad_id.is_none() {
                        bad_id = Some((name, *got));
                    }
                    !got.is_empty()
                }
                None => want == got,
            }
        });
        if !fits {
            continue;
        }
        match bad_id {
            Some((name, value)) if *m == method.as_str() => {
                return Reply::not_a(name, value, "snowflake");
            }
            None if *m != method.as_str() => other_method = true,
            _ => {}
        }
    }
    if other_method {
        Reply::method_not_allowed()
    } else {
        Reply::not_found()
    }
}

/// A stable 32-hex-digit bucket hash for a route template (FNV-1a, twice).
fn bucket_hash(template: &str) -> String {
    let mut h1: u64 = 0xcbf2_9ce4_8422_2325;
    let mut h2: u64 = 0x8422_2325_cbf2_9ce4;
    for b in template.bytes() {
        h1 = (h1 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        h2 = (h2 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3 ^ 0x5bd1);
    }
    format!("{h1:016x}{h2:016x}")
}

fn epoch_secs_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The request body: JSON, or the `payload_json` part (plus uploaded files) of a multipart body.
pub(crate) struct Body {
    json: Option<Value>,
    files: Vec<Attachment>,
}

fn parse_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Body, Reply> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(boundary) = ctype
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        return parse_multipart(boundary.trim_matches('"'), bytes);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body {
            json: None,
            files: Vec::new(),
        });
    }
    serde_json::from_slice(bytes)
        .map(|v| Body {
            json: Some(v),
            files: Vec::new(),
        })
        .map_err(|_| Reply::error(400, 50109, "The request body contains invalid JSON."))
}

/// Splits `hay` at every occurrence of `needle`.
fn split_bytes<'a>(hay: &'a [u8], needle: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while needle.len() <= hay.len() && i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            out.push(&hay[start..i]);
            i += needle.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&hay[start..]);
    out
}

fn parse_multipart(boundary: &str, bytes: &[u8]) -> Result<Body, Reply> {
    let delimiter = format!("--{boundary}");
    let mut body = Body {
        json: None,
        files: Vec::new(),
    };
    for part in split_bytes(bytes, delimiter.as_bytes()) {
        let Some(split) = split_bytes(part, b"\r\n\r\n").first().map(|h| h.len()) else {
            continue;
        };
        if split + 4 > part.len() {
            continue;
        }
        let head = String::from_utf8_lossy(&part[..split]);
        let content = &part[split + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or_default();
        let field = |key: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|kv| kv.strip_prefix(key))
                .map(|v| v.trim_matches('"').to_owned())
        };
        let content_type = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-type")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        match (field("name="), field("filename=")) {
            (Some(name), None) if name == "payload_json" => {
                body.json = Some(serde_json::from_slice(content).map_err(|_| {
                    Reply::error(400, 50109, "The request body contains invalid JSON.")
                })?);
            }
            (_, Some(filename)) => body.files.push(Attachment {
                filename,
                content_type,
                data: content.to_vec(),
            }),
            _ => {}
        }
    }
    Ok(body)
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or_else(|| uri.path());
    let path = path.trim_matches('/').to_owned();
    let query = uri.query().map(str::to_owned);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = parse_body(&headers, &bytes);
    let latency = shared.read(|s| s.config.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = shared.with(|s| s.rest(&method, &path, query, body, auth.as_deref()));
    let segs: Vec<&str> = path.split('/').collect();
    if shared.read(|s| {
        s.hold_routes
            .iter()
            .any(|f| f.matches(method.as_str(), &segs))
    }) {
        // Served (the message exists), but the answer waits for the next release.
        let mut rx = shared.changed.subscribe();
        let generation = shared.with(|s| {
            s.held += 1;
            s.releases
        });
        while shared.read(|s| s.releases) == generation {
            if rx.changed().await.is_err() {
                break; // the emulator is shutting down
            }
        }
        shared.with(|s| s.held = s.held.saturating_sub(1));
    }
    tracing::debug!(%method, path, status = reply.status, "Discord emulator REST call");
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(b) => (status, axum::Json(b)).into_response(),
        None => status.into_response(),
    };
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            response.headers_mut().insert(k, v);
        }
    }
    response
}

/// The first value of a query parameter, percent-decoded.
fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A boolean query parameter, read as Discord reads them: `True`, `true` or `1` for true,
/// `False`, `false` or `0` for false; anything else is refused.
fn query_bool(query: Option<&str>, key: &str) -> Result<Option<bool>, Reply> {
    match query_value(query, key).as_deref() {
        None => Ok(None),
        Some("True" | "true" | "1") => Ok(Some(true)),
        Some("False" | "false" | "0") => Ok(Some(false)),
        Some(_) => Err(Reply::invalid_form(
            key,
            "BASE_TYPE_BOOLEAN",
            "Must be either true or false.",
        )),
    }
}

/// An integer query parameter within `min..=max` (`NUMBER_TYPE_COERCE`, `NUMBER_TYPE_MIN`,
/// `NUMBER_TYPE_MAX` otherwise).
fn query_int(query: Option<&str>, key: &str, min: i64, max: i64) -> Result<Option<i64>, Reply> {
    let Some(raw) = query_value(query, key) else {
        return Ok(None);
    };
    let Ok(n) = raw.parse::<i64>() else {
        return Err(Reply::not_a(key, &raw, "int"));
    };
    if n < min {
        return Err(Reply::invalid_form(
            key,
            "NUMBER_TYPE_MIN",
            &format!("int value should be greater than or equal to {min}."),
        ));
    }
    if n > max {
        return Err(Reply::invalid_form(
            key,
            "NUMBER_TYPE_MAX",
            &format!("int value should be less than or equal to {max}."),
        ));
    }
    Ok(Some(n))
}

/// A snowflake query parameter.
fn query_snowflake(query: Option<&str>, key: &str) -> Result<Option<u64>, Reply> {
    match query_value(query, key) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Reply::not_a(key, &raw, "snowflake")),
    }
}

fn as_id(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Discord's embed limits (title 256, description 4096, 25 fields of 256/1024, footer 2048,
/// author 256, 6000 characters in all the embeds of a message). `at` prefixes error paths.
fn check_embeds(embeds: &[Value], at: &str) -> Result<(), Reply> {
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        if !e.is_object() {
            return Err(Reply::not_an_object(&format!("{at}embeds.{i}")));
        }
        let limits = [
            ("title", &e["title"], 256),
            ("description", &e["description"], 4096),
            ("footer.text", &e["footer"]["text"], 2048),
            ("author.name", &e["author"]["name"], 256),
        ];
        for (field, v, max) in limits {
            let n = chars(v);
            if n > max {
                return Err(Reply::max_length(&format!("{at}embeds.{i}.{field}"), max));
            }
            total += n;
        }
        let fields = match &e["fields"] {
            Value::Null => &[][..],
            Value::Array(a) => a.as_slice(),
            _ => return Err(Reply::not_a_list(&format!("{at}embeds.{i}.fields"))),
        };
        if fields.len() > 25 {
            return Err(Reply::max_length(&format!("{at}embeds.{i}.fields"), 25));
        }
        for (j, f) in fields.iter().enumerate() {
            for (key, max) in [("name", 256), ("value", 1024)] {
                if chars(&f[key]) > max {
                    return Err(Reply::max_length(
                        &format!("{at}embeds.{i}.fields.{j}.{key}"),
                        max,
                    ));
                }
            }
            total += chars(&f["name"]) + chars(&f["value"]);
        }
    }
    if total > 6000 {
        return Err(Reply::invalid_form(
            &format!("{at}embeds"),
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        ));
    }
    Ok(())
}

/// Discord's component limits for messages (5 action rows of 1 to 5 components, `custom_id` up
/// to 100 characters, button labels up to 80, a `custom_id` on every non-link button).
fn check_components(rows: &[Value], at: &str) -> Result<(), Reply> {
    let top_rows = rows
        .iter()
        .filter(|r| r["type"].as_u64() == Some(1))
        .count();
    if top_rows > 5 {
        return Err(Reply::max_length(&format!("{at}components"), 5));
    }
    for (i, row) in rows.iter().enumerate() {
        let children = row["components"].as_array().map_or(&[][..], Vec::as_slice);
        if row["type"].as_u64() == Some(1) && !(1..=5).contains(&children.len()) {
            return Err(Reply::bad_length(
                &format!("{at}components.{i}.components"),
                1,
                5,
            ));
        }
        for (j, c) in children.iter().enumerate() {
            let here = format!("{at}components.{i}.components.{j}");
            if chars(&c["custom_id"]) > 100 {
                return Err(Reply::max_length(&format!("{here}.custom_id"), 100));
            }
            if chars(&c["label"]) > 80 {
                return Err(Reply::max_length(&format!("{here}.label"), 80));
            }
            let is_link = c["style"].as_u64() == Some(5);
            if c["type"].as_u64() == Some(2) && !is_link && c["custom_id"].as_str().is_none() {
                return Err(Reply::invalid_form(
                    &format!("{here}.custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                    "A custom id is required",
                ));
            }
        }
    }
    Ok(())
}

fn nonce_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Message fields from a create/edit body.
struct MessageInput {
    content: Option<String>,
    embeds: Option<Vec<Value>>,
    components: Option<Vec<Value>>,
    attachments: Option<Vec<Value>>,
    flags: Option<u64>,
}

impl MessageInput {
    /// Reads a message body; `at` prefixes error paths (`data.` in interaction callbacks).
    fn from_body(b: &Value, at: &str) -> Result<Self, Reply> {
        let content = match &b["content"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                return Err(Reply::invalid_form(
                    &format!("{at}content"),
                    "BASE_TYPE_STRING",
                    "This field must be a string.",
                ));
            }
        };
        if let Some(c) = &content
            && c.chars().count() > CONTENT_MAX
        {
            return Err(Reply::max_length(&format!("{at}content"), CONTENT_MAX));
        }
        let array = |key: &str| -> Result<Option<Vec<Value>>, Reply> {
            match &b[key] {
                Value::Null => Ok(None),
                Value::Array(a) => Ok(Some(a.clone())),
                _ => Err(Reply::not_a_list(&format!("{at}{key}"))),
            }
        };
        let mut embeds = array("embeds")?;
        if let Some(e) = &mut embeds {
            if e.len() > 10 {
                return Err(Reply::max_length(&format!("{at}embeds"), 10));
            }
            check_embeds(e, at)?;
            normalize_embeds(e);
        }
        let mut components = array("components")?;
        if let Some(c) = &mut components {
            check_components(c, at)?;
            normalize_components(c);
        }
        Ok(Self {
            content,
            embeds,
            components,
            attachments: array("attachments")?,
            flags: b["flags"].as_u64(),
        })
    }

    fn is_empty(&self, files: usize) -> bool {
        self.content.as_deref().is_none_or(str::is_empty)
            && self.embeds.as_ref().is_none_or(Vec::is_empty)
            && self.components.as_ref().is_none_or(Vec::is_empty)
            && files == 0
    }
}

impl DiscordState {
    #[allow(clippy::too_many_lines)]
    pub(crate) fn rest(
        &mut self,
        method: &Method,
        path: &str,
        query: Option<String>,
        body: Result<Body, Reply>,
        auth: Option<&str>,
    ) -> Reply {
        let segs: Vec<&str> = path.split('/').collect();
        let json_body = body.as_ref().ok().and_then(|b| b.json.clone());
        let files: Vec<UploadedFile> = body
            .as_ref()
            .map(|b| {
                b.files
                    .iter()
                    .map(|f| UploadedFile {
                        filename: f.filename.clone(),
                        content_type: f.content_type.clone(),
                        size: f.data.len(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let classified = classify(method, &segs);
        let template = classified
            .as_ref()
            .map_or_else(|| format!("{method} {path}"), |(_, t, _)| t.clone());
        let mut reply = match classified {
            None => unrouted(method, &segs),
            Some((route, template, major)) => self.routed(
                method,
                &segs,
                route,
                &template,
                &major,
                query.as_deref(),
                body,
                auth,
            ),
        };
        let has_bucket = reply
            .headers
            .iter()
            .any(|(k, _)| *k == "x-ratelimit-bucket" || *k == "x-ratelimit-global");
        if !has_bucket {
            // Unknown routes and 401s get headers too: every answer carries a bucket.
            self.bucket_headers(&bucket_hash(&template), "", &mut reply);
        }
        reply
            .headers
            .push(("content-type", "application/json".to_owned()));
        if reply.body.is_none() {
            reply.headers.retain(|(k, _)| *k != "content-type");
        }
        *self.rest_statuses.entry(reply.status).or_insert(0) += 1;
        if self.rest_log.len() >= super::state::LOG_CAP {
            // A long-running emulator (the binary) keeps the latest calls only.
            self.rest_log.drain(..super::state::LOG_CAP / 10);
        }
        self.rest_log.push(RestCall {
            method: method.to_string(),
            path: path.to_owned(),
            query,
            route: template,
            body: json_body,
            files,
            status: reply.status,
            response: reply.body.clone(),
        });
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn routed(
        &mut self,
        method: &Method,
        segs: &[&str],
        route: Route,
        template: &str,
        major: &str,
        query: Option<&str>,
        body: Result<Body, Reply>,
        auth: Option<&str>,
    ) -> Reply {
        let public = route.is_interaction() || matches!(route, Route::Gateway);
        if !public && !rest_token_ok(self.config.token.as_deref(), auth) {
            return Reply::error(401, 0, "401: Unauthorized");
        }
        if !route.is_interaction()
            && let Some((remaining, retry_after)) = self.global_429
        {
            self.global_429 = (remaining > 1).then(|| (remaining - 1, retry_after));
            let wait_secs = retry_after.as_secs_f64();
            let mut r = Reply {
                status: 429,
                body: Some(
                    json!({"message": "You are being rate limited.", "code": 0, "retry_after": wait_secs, "global": true}),
                ),
                headers: Vec::new(),
            };
            r.headers.push(("x-ratelimit-global", "true".to_owned()));
            r.headers.push(("x-ratelimit-scope", "global".to_owned()));
            r.headers.push(("retry-after", ceil_secs(retry_after)));
            r.headers.push(("via", "1.1 google".to_owned()));
            return r;
        }
        if !route.is_interaction()
            && let Some(limited) = self.global_limit()
        {
            return limited;
        }
        let hash = bucket_hash(template);
        if let Some(pos) = self
            .route_faults
            .iter()
            .position(|f| f.remaining > 0 && f.matches(method.as_str(), segs))
        {
            let fault = &mut self.route_faults[pos];
            fault.remaining -= 1;
            let kind = fault.kind.clone();
            if fault.remaining == 0 {
                self.route_faults.remove(pos);
            }
            return match kind {
                FaultKind::RateLimited { retry_after } => self.rate_limited(&hash, retry_after),
                FaultKind::Error {
                    status,
                    code,
                    message,
                } => {
                    let mut r = Reply::error(status, code, &message);
                    self.bucket_headers(&hash, major, &mut r);
                    r
                }
            };
        }
        // Per-route bucket: count, and answer a real 429 past the limit.
        let now = Instant::now();
        let window = self.config.bucket_window;
        let limit = self.config.bucket_limit;
        let bucket = self
            .buckets
            .entry((hash.clone(), major.to_owned()))
            .or_insert(Bucket {
                window_start: now,
                count: 0,
            });
        if now.duration_since(bucket.window_start) >= window {
            bucket.window_start = now;
            bucket.count = 0;
        }
        if bucket.count >= limit {
            let wait = window.saturating_sub(now.duration_since(bucket.window_start));
            return self.rate_limited(&hash, wait);
        }
        bucket.count += 1;
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                let mut e = e;
                self.bucket_headers(&hash, major, &mut e);
                return e;
            }
        };
        let mut reply = self.route(route, query, body);
        self.bucket_headers(&hash, major, &mut reply);
        reply
    }

    /// Counts a request against Discord's global limit (`config.global_limit` per second):
    /// the global 429 once the window is full, `None` otherwise.
    fn global_limit(&mut self) -> Option<Reply> {
        let limit = self.config.global_limit?;
        let now = Instant::now();
        let window = Duration::from_secs(1);
        let (start, count) = match self.global_window {
            Some((start, count)) if now.duration_since(start) < window => (start, count),
            _ => (now, 0),
        };
        if count >= limit {
            self.global_window = Some((start, count));
            let wait = window.saturating_sub(now.duration_since(start));
            let mut r = Reply {
                status: 429,
                body: Some(json!({"message": "You are being rate limited.", "code": 0,
                    "retry_after": wait.as_secs_f64(), "global": true})),
                headers: Vec::new(),
            };
            r.headers.push(("x-ratelimit-global", "true".to_owned()));
            r.headers.push(("x-ratelimit-scope", "global".to_owned()));
            r.headers.push(("retry-after", ceil_secs(wait)));
            r.headers.push(("via", "1.1 google".to_owned()));
            return Some(r);
        }
        self.global_window = Some((start, count + 1));
        None
    }

    fn rate_limited(&self, hash: &str, retry_after: Duration) -> Reply {
        let secs = retry_after.as_secs_f64();
        let mut r = Reply {
            status: 429,
            body: Some(
                json!({"message": "You are being rate limited.", "code": 0, "retry_after": secs, "global": false}),
            ),
            headers: Vec::new(),
        };
        r.headers.push(("x-ratelimit-bucket", hash.to_owned()));
        r.headers
            .push(("x-ratelimit-limit", self.config.bucket_limit.to_string()));
        r.headers.push(("x-ratelimit-remaining", "0".to_owned()));
        r.headers.push((
            "x-ratelimit-reset",
            format!("{:.3}", epoch_secs_f64() + secs),
        ));
        r.headers
            .push(("x-ratelimit-reset-after", format!("{secs:.3}")));
        r.headers.push(("x-ratelimit-scope", "user".to_owned()));
        r.headers.push(("retry-after", ceil_secs(retry_after)));
        // Discord's own 429s come through its proxy (`Via`); a 429 without it would be a
        // Cloudflare ban.
        r.headers.push(("via", "1.1 google".to_owned()));
        r
    }

    fn bucket_headers(&self, hash: &str, major: &str, reply: &mut Reply) {
        let limit = self.config.bucket_limit;
        let window = self.config.bucket_window;
        let (remaining, reset_after) = self
            .buckets
            .get(&(hash.to_owned(), major.to_owned()))
            .map_or((limit, window), |b| {
                (
                    limit.saturating_sub(b.count),
                    window.saturating_sub(b.window_start.elapsed()),
                )
            });
        let after = reset_after.as_secs_f64();
        reply.headers.push(("x-ratelimit-bucket", hash.to_owned()));
        reply.headers.push(("x-ratelimit-limit", limit.to_string()));
        reply
            .headers
            .push(("x-ratelimit-remaining", remaining.to_string()));
        reply.headers.push((
            "x-ratelimit-reset",
            format!("{:.3}", epoch_secs_f64() + after),
        ));
        reply
            .headers
            .push(("x-ratelimit-reset-after", format!("{after:.3}")));
        reply.headers.push(("x-ratelimit-scope", "user".to_owned()));
    }

    #[allow(
        clippy::too_many_lines,
        clippy::many_single_char_names,
        clippy::needless_pass_by_value
    )]
    fn route(&mut self, route: Route, query: Option<&str>, body: Body) -> Reply {
        let b = body.json.clone().unwrap_or(Value::Null);
        // The boolean query strings of these routes, read (and refused when malformed) as
        // Discord reads them; `with_counts` changes the guild answer.
        let flags: &[&str] = match route {
            Route::Guild(_) => &["with_counts"],
            Route::ExecuteWebhook(..) => &["wait", "with_components"],
            Route::UpdateWebhookMessage(..) => &["with_components"],
            Route::GetCommands(..) => &["with_localizations"],
            _ => &[],
        };
        let mut with_counts = false;
        for flag in flags {
            match query_bool(query, flag) {
                Ok(v) => with_counts |= *flag == "with_counts" && v == Some(true),
                Err(e) => return e,
            }
        }
        match route {
            Route::GatewayBot => Reply::ok(json!({
                "url": self.gateway_url,
                "shards": self.config.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000_u32.saturating_sub(self.identifies),
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            })),
            Route::Gateway => Reply::ok(json!({"url": self.gateway_url})),
            Route::CurrentUser => Reply::ok(self.current_user_value()),
            Route::User(u) => {
                if self.user_known(u) {
                    Reply::ok(self.user_value(u))
                } else {
                    Reply::error(404, 10013, "Unknown User")
                }
            }
            Route::CurrentApplication => Reply::ok(self.application_value()),
            Route::CreateDm => self.create_dm(&b),
            Route::GetChannel(c) => match self.channels.get(&c) {
                Some(ch) if !ch.deleted => Reply::ok(self.channel_value(ch)),
                _ => Reply::unknown_channel(),
            },
            Route::UpdateChannel(c) => self.update_channel(c, &b),
            Route::DeleteChannel(c) => self.delete_channel(c),
            Route::CreateMessage(c) => self.create_message(c, &b, &body.files),
            Route::ListMessages(c) => self.list_messages(c, query),
            Route::GetMessage(c, m) => match self.message(m) {
                Some(msg) if msg.channel_id == c && !msg.deleted => {
                    Reply::ok(self.message_value(msg))
                }
                _ => Reply::unknown_message(),
            },
            Route::UpdateMessage(c, m) => self.update_message(Some(c), m, &b),
            Route::DeleteMessage(c, m) => self.delete_message(Some(c), m),
            Route::React(c, m, emoji, add) => self.react(c, m, &emoji, add),
            Route::Typing(c) => {
                if self.live_channel(c).is_some() {
                    Reply::no_content()
                } else {
                    Reply::unknown_channel()
                }
            }
            Route::PutPermission(c, o) => self.put_permission(c, o, &b),
            Route::DeletePermission(c, o) => self.delete_permission(c, o),
            Route::CreateThread(c) => self.create_thread(c, None, &b),
            Route::CreateThreadFromMessage(c, m) => self.create_thread(c, Some(m), &b),
            Route::AddThreadMember(c, u) => self.thread_member(c, u, true),
            Route::RemoveThreadMember(c, u) => self.thread_member(c, u, false),
            Route::Guild(g) => {
                if g == self.config.guild_id {
                    let mut guild = self.guild_value();
                    if with_counts {
                        guild["approximate_member_count"] = json!(self.users.len());
                        guild["approximate_presence_count"] = json!(0);
                    }
                    Reply::ok(guild)
                } else {
                    Reply::error(404, 10004, "Unknown Guild")
                }
            }
            Route::GuildChannels(g) => {
                if g != self.config.guild_id {
                    return Reply::error(404, 10004, "Unknown Guild");
                }
                let list: Vec<Value> = self
                    .channels
                    .values()
                    .filter(|c| c.guild_id == Some(g) && !c.deleted && !matches!(c.kind, 10..=12))
                    .map(|c| self.channel_value(c))
                    .collect();
                Reply::ok(Value::Array(list))
            }
            Route::CreateGuildChannel(g) => self.create_guild_channel(g, &b),
            Route::GuildMember(g, u) => {
                if g != self.config.guild_id {
                    Reply::error(404, 10004, "Unknown Guild")
                } else if self.user_known(u) {
                    Reply::ok(self.full_member_value(u))
                } else {
                    Reply::error(404, 10007, "Unknown Member")
                }
            }
            Route::GuildRoles(g) => self.guild_roles(g),
            Route::CreateRole(g) => self.create_role(g, &b),
            Route::Crosspost(c, m) => self.crosspost(c, m),
            Route::InteractionCallback(i, t) => self.interaction_callback(i, &t, &b, query),
            Route::ExecuteWebhook(a, t) => self.followup(a, &t, &b, &body.files),
            Route::GetWebhookMessage(a, t, r) => match self.webhook_message(a, &t, r) {
                Ok(m) => match self.message(m) {
                    Some(msg) => Reply::ok(self.message_value(msg)),
                    None => Reply::unknown_message(),
                },
                Err(e) => e,
            },
            Route::UpdateWebhookMessage(a, t, r) => match self.webhook_message(a, &t, r) {
                Ok(m) => self.update_message(None, m, &b),
                Err(e) => e,
            },
            Route::DeleteWebhookMessage(a, t, r) => match self.webhook_message(a, &t, r) {
                Ok(m) => self.delete_message(None, m),
                Err(e) => e,
            },
            Route::SetCommands(a, g) => self.set_commands(a, g, &b),
            Route::GetCommands(a, g) => {
                if let Err(e) = self.check_app(a, g) {
                    return e;
                }
                Reply::ok(Value::Array(self.commands_mut(g).clone()))
            }
            Route::CreateCommand(a, g) => self.create_command(a, g, &b),
            Route::DeleteCommand(a, g, c) => {
                if let Err(e) = self.check_app(a, g) {
                    return e;
                }
                let list = self.commands_mut(g);
                let before = list.len();
                list.retain(|cmd| as_id(&cmd["id"]) != Some(c));
                if list.len() == before {
                    Reply::error(404, 10063, "Unknown application command")
                } else {
                    Reply::no_content()
                }
            }
        }
    }

    pub(super) fn live_channel(&self, id: u64) -> Option<&ChannelRec> {
        self.channels.get(&id).filter(|c| !c.deleted)
    }
}

fn ceil_secs(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_covers_the_bridge_routes() {
        let cases = [
            ("POST", "users/@me/channels", "POST users/@me/channels"),
            (
                "POST",
                "channels/1/messages",
                "POST channels/{channel_id}/messages",
            ),
            (
                "PATCH",
                "webhooks/2/tok/messages/@original",
                "PATCH webhooks/{webhook_id}/{token}/messages/{message_id}",
            ),
            (
                "POST",
                "interactions/3/tok/callback",
                "POST interactions/{interaction_id}/{token}/callback",
            ),
            (
                "PUT",
                "applications/4/guilds/5/commands",
                "PUT applications/{application_id}/guilds/{guild_id}/commands",
            ),
            (
                "PUT",
                "channels/6/thread-members/@me",
                "PUT channels/{channel_id}/thread-members/{user_id}",
            ),
        ];
        for (m, p, t) in cases {
            let method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET);
            let segs: Vec<&str> = p.split('/').collect();
            let got = classify(&method, &segs).map(|(_, t, _)| t);
            assert_eq!(got.as_deref(), Some(t), "{m} {p}");
        }
        let segs = ["channels", "abc", "messages"];
        assert!(classify(&Method::POST, &segs).is_none());
    }

    #[test]
    fn the_route_table_matches_classify() {
        for (m, template) in ROUTES {
            let path: Vec<String> = template
                .split('/')
                .map(|seg| match seg {
                    "{token}" => "tok".to_owned(),
                    "{emoji}" => "%E2%9C%85".to_owned(),
                    s if s.starts_with('{') => "42".to_owned(),
                    s => s.to_owned(),
                })
                .collect();
            let segs: Vec<&str> = path.iter().map(String::as_str).collect();
            let method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET);
            let got = classify(&method, &segs).map(|(_, t, _)| t);
            assert_eq!(got, Some(format!("{m} {template}")), "{m} {template}");
        }
    }

    #[test]
    fn unrouted_requests_get_discords_answers() {
        let status = |m: Method, p: &str| {
            let segs: Vec<&str> = p.split('/').collect();
            let r = unrouted(&m, &segs);
            (r.status, r.body.map(|b| b["code"].clone()))
        };
        assert_eq!(
            status(Method::PUT, "channels/1/messages"),
            (405, Some(json!(0)))
        );
        assert_eq!(
            status(Method::GET, "channels/abc/messages"),
            (400, Some(json!(50035)))
        );
        assert_eq!(status(Method::GET, "nowhere/1"), (404, Some(json!(0))));
        let segs = ["channels", "abc"];
        let body = unrouted(&Method::GET, &segs).body.unwrap_or_default();
        assert_eq!(
            body["errors"]["channel_id"]["_errors"][0]["code"],
            "NUMBER_TYPE_COERCE"
        );
    }

    #[test]
    fn boolean_query_strings_read_like_discord() {
        for (q, want) in [
            ("with_response=1", Some(true)),
            ("with_response=true", Some(true)),
            ("with_response=True", Some(true)),
            ("with_response=0", Some(false)),
            ("with_response=false", Some(false)),
            ("with_response=False", Some(false)),
            ("other=1", None),
        ] {
            assert_eq!(query_bool(Some(q), "with_response").ok(), Some(want), "{q}");
        }
        let refused = query_bool(Some("with_response=yes"), "with_response").err();
        assert_eq!(refused.map(|r| r.status), Some(400));
    }

    #[test]
    fn form_errors_nest_like_discords() {
        let r = Reply::max_length("embeds.0.fields", 25);
        let body = r.body.unwrap_or_default();
        assert_eq!(
            body["errors"]["embeds"]["0"]["fields"]["_errors"][0],
            json!({"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."})
        );
        let root = Reply::not_a_list("").body.unwrap_or_default();
        assert_eq!(root["errors"]["_errors"][0]["code"], "LIST_TYPE_CONVERT");
    }

    #[test]
    fn multipart_payload_json_and_files_are_read() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{\"content\":\"hi\"}\r\n--XX--\r\n";
        let parsed = parse_multipart("XX", body.as_bytes()).ok();
        let parsed = parsed.as_ref();
        assert_eq!(
            parsed.and_then(|b| b.json.clone()),
            Some(json!({"content": "hi"}))
        );
        assert_eq!(
            parsed.map(|b| b.files.clone()),
            Some(vec![Attachment {
                filename: "a.txt".to_owned(),
                content_type: "text/plain".to_owned(),
                data: b"hello".to_vec(),
            }])
        );
    }

    #[test]
    fn bucket_hashes_are_stable_and_distinct() {
        assert_eq!(bucket_hash("POST a"), bucket_hash("POST a"));
        assert_ne!(bucket_hash("POST a"), bucket_hash("POST b"));
        assert_eq!(bucket_hash("x").len(), 32);
    }

    #[test]
    fn message_limits_are_enforced() {
        let ok = json!({"content": "x", "embeds": [{"title": "t", "fields": [{"name": "n", "value": "v"}]}],
            "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "a", "label": "A"}]}]});
        assert!(MessageInput::from_body(&ok, "").is_ok());
        let long_title = json!({"embeds": [{"title": "t".repeat(257)}]});
        assert!(MessageInput::from_body(&long_title, "").is_err());
        let too_big = json!({"embeds": [{"description": "d".repeat(4000)}, {"description": "d".repeat(2001)}]});
        assert!(MessageInput::from_body(&too_big, "").is_err());
        let six_rows: Vec<Value> = (0..6)
            .map(|i| json!({"type": 1, "components": [{"type": 2, "style": 1, "custom_id": format!("b{i}")}]}))
            .collect();
        assert!(MessageInput::from_body(&json!({"components": six_rows}), "").is_err());
        let no_id = json!({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "x"}]}]});
        assert!(MessageInput::from_body(&no_id, "").is_err());
        let link = json!({"components": [{"type": 1, "components": [{"type": 2, "style": 5, "url": "https://x", "label": "x"}]}]});
        assert!(MessageInput::from_body(&link, "").is_ok());
    }

    #[test]
    fn retry_after_header_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(500)), "1");
        assert_eq!(ceil_secs(Duration::from_secs(2)), "2");
    }
}
