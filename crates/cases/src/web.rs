//! The agent web pages: server-rendered HTML (maud escapes every value), a token login kept in an
//! `HttpOnly`, `SameSite=Strict` cookie, and a per-session CSRF token in every form.
//!
//! The session cookie is `v2.<issued>.<nonce>.<name>.<mac>` where `issued` is the login time
//! (Unix seconds) and `mac` is an HMAC-SHA256 (keyed from the API token) over the issue time, the
//! nonce and the agent's name; the CSRF token is another HMAC of the nonce. A session ends
//! [`SESSION_SECONDS`] after login on the server too, not only in the browser, so a copied cookie
//! stops working. Nothing is kept on the server, so any instance can check any session, and
//! changing the token ends every session.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::api::ListParams;
use crate::error::{Error, ErrorKind};
use crate::model::{
    Assignment, Case, CaseKind, CaseNumber, CaseStatus, NewNote, StatusChange, TimelineEntry,
    TimelineEvent,
};
use crate::service::Shared;

const COOKIE: &str = "flexcord_cases_session";
/// How long a session lasts after login, in the browser and on the server.
const SESSION_SECONDS: u32 = 12 * 60 * 60;

struct Session {
    name: String,
    csrf: String,
}

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn csrf_for(key: &[u8; 32], nonce: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, &[b"csrf", nonce]))
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A session cookie value for `name`, issued at `issued` (Unix seconds).
fn new_cookie_value(key: &[u8; 32], name: &str, issued: i64) -> Result<String, Error> {
    let mut nonce = [0u8; 18];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::new(ErrorKind::Database).with_source(e.to_string()))?;
    let tag = mac(
        key,
        &[b"session", &issued.to_be_bytes(), &nonce, name.as_bytes()],
    );
    Ok(format!(
        "v2.{issued}.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(name.as_bytes()),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

fn session(shared: &Shared, headers: &HeaderMap) -> Option<Session> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)?;
    parse_session(&shared.web_key, value, unix_now())
}

/// Checks a session cookie value at time `now` (Unix seconds): its MAC, and that it was issued at
/// most [`SESSION_SECONDS`] ago (and not in the future, beyond a minute of clock skew).
fn parse_session(key: &[u8; 32], value: &str, now: i64) -> Option<Session> {
    let mut parts = value.split('.');
    let (Some("v2"), Some(issued), Some(nonce), Some(name), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let issued: i64 = issued.parse().ok()?;
    let nonce = URL_SAFE_NO_PAD.decode(nonce).ok()?;
    let name = URL_SAFE_NO_PAD.decode(name).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let expected = mac(key, &[b"session", &issued.to_be_bytes(), &nonce, &name]);
    if !bool::from(expected.ct_eq(&tag)) {
        return None;
    }
    let age = now.checked_sub(issued)?;
    if !(-60..=i64::from(SESSION_SECONDS)).contains(&age) {
        return None;
    }
    Some(Session {
        name: String::from_utf8(name).ok()?,
        csrf: csrf_for(key, &nonce),
    })
}

fn cookie_header(shared: &Shared, value: &str, max_age: u32) -> HeaderValue {
    let path = if shared.web_prefix.is_empty() {
        "/"
    } else {
        shared.web_prefix.as_str()
    };
    let secure = if shared.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn page(shared: &Shared, title: &str, who: Option<&Session>, body: &Markup) -> Html<String> {
    let prefix = &shared.web_prefix;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · flexcord cases" }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href={ (prefix) "/" } { "flexcord cases" }
                    @if let Some(session) = who {
                        span.who { "Signed in as " strong { (session.name) } }
                        form.inline method="post" action={ (prefix) "/logout" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

const CSS: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2230;background:#f5f6fa}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.5rem;background:#2b2d42;color:#fff}
header a.brand{color:#fff;font-weight:600;text-decoration:none;margin-right:auto}
header button{background:none;border:1px solid #aab;color:#fff;border-radius:4px;padding:.2rem .6rem;cursor:pointer}
main{max-width:1100px;margin:1.5rem auto;padding:0 1.5rem}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e3e5ee;vertical-align:top}
th{background:#eceef5;font-weight:600}
a{color:#3a47c4}
form.filters,form.action{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.6rem 0}
form.inline{display:inline}
label{display:flex;flex-direction:column;font-size:.85rem;color:#555}
input,select,textarea,button{font:inherit;padding:.3rem .45rem;border:1px solid #c5c8d6;border-radius:4px}
button{background:#3a47c4;color:#fff;border-color:#3a47c4;cursor:pointer}
textarea{width:100%;box-sizing:border-box;min-height:4rem}
.grid{display:grid;grid-template-columns:2fr 1fr;gap:1.5rem}
.card{background:#fff;border:1px solid #e3e5ee;border-radius:6px;padding:1rem;margin-bottom:1rem}
.card>:first-child{margin-top:0}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:10px;font-size:.8rem;background:#e3e5ee}
.s-new{background:#ffe8a3}.s-open{background:#c9e7ff}.s-pending{background:#eadcff}.s-resolved{background:#cdeccd}.s-closed{background:#ddd}
.msg{border-left:3px solid #c5c8d6;padding:.3rem .6rem;margin:.4rem 0;white-space:pre-wrap}
.msg.user{border-color:#3a47c4}
.meta{color:#667;font-size:.82rem}
.pre{white-space:pre-wrap}
.error{background:#fde2e2;border:1px solid #e99;padding:.6rem;border-radius:4px}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .8rem;margin:0}
dt{color:#667}
";

fn fmt_time(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| t.to_string())
}

fn status_badge(status: CaseStatus) -> Markup {
    html! { span class={ "badge s-" (status.as_str()) } { (status.as_str()) } }
}

fn error_page(
    shared: &Shared,
    who: Option<&Session>,
    status: StatusCode,
    message: &str,
    back: &str,
) -> Response {
    let body = html! {
        h1 { "Something went wrong" }
        p.error { (message) }
        p { a href=(back) { "Back" } }
    };
    (status, page(shared, "Error", who, &body)).into_response()
}

fn store_error(shared: &Shared, who: &Session, err: &Error, back: &str) -> Response {
    let status = match err.kind() {
        ErrorKind::NotFound { .. } => StatusCode::NOT_FOUND,
        ErrorKind::IllegalTransition { .. } => StatusCode::CONFLICT,
        ErrorKind::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => {
            tracing::error!(error = %err, "case page request failed");
            return error_page(
                shared,
                Some(who),
                StatusCode::INTERNAL_SERVER_ERROR,
                "The case store failed; try again later.",
                back,
            );
        }
    };
    error_page(shared, Some(who), status, &err.to_string(), back)
}

fn to_login(shared: &Shared) -> Response {
    Redirect::to(&format!("{}/login", shared.web_prefix)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
}

fn login_page(shared: &Shared, error: Option<&str>) -> Html<String> {
    let prefix = &shared.web_prefix;
    let body = html! {
        div.card style="max-width:26rem;margin:3rem auto" {
            h1 { "Sign in" }
            @if let Some(error) = error { p.error { (error) } }
            form.action method="post" action={ (prefix) "/login" } style="flex-direction:column;align-items:stretch" {
                label { "Your name (shown on notes and changes)" input name="name" required maxlength="100" autocomplete="name"; }
                label { "Case API token" input name="token" type="password" required autocomplete="current-password"; }
                button type="submit" { "Sign in" }
            }
        }
    };
    page(shared, "Sign in", None, &body)
}

async fn login_form(State(shared): State<Arc<Shared>>) -> Html<String> {
    login_page(&shared, None)
}

async fn login(State(shared): State<Arc<Shared>>, Form(form): Form<LoginForm>) -> Response {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.contains('\0') {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            login_page(&shared, Some("Enter your name (at most 100 characters).")),
        )
            .into_response();
    }
    if !shared.token_matches(form.token.trim()) {
        return (
            StatusCode::UNAUTHORIZED,
            login_page(&shared, Some("That token is not the case API token.")),
        )
            .into_response();
    }
    match new_cookie_value(&shared.web_key, name, unix_now()) {
        Ok(value) => {
            let mut response = Redirect::to(&format!("{}/", shared.web_prefix)).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie_header(&shared, &value, SESSION_SECONDS),
            );
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "no randomness for a session");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                login_page(&shared, Some("Could not start a session.")),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

fn csrf_ok(session: &Session, presented: &str) -> bool {
    bool::from(session.csrf.as_bytes().ct_eq(presented.as_bytes()))
}

fn csrf_refused(shared: &Shared, who: &Session) -> Response {
    error_page(
        shared,
        Some(who),
        StatusCode::FORBIDDEN,
        "This form did not come from this site or has expired; reload the page and try again.",
        &format!("{}/", shared.web_prefix),
    )
}

async fn logout(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let Some(who) = session(&shared, &headers) else {
        return to_login(&shared);
    };
    if !csrf_ok(&who, &form.csrf) {
        return csrf_refused(&shared, &who);
    }
    let mut response = to_login(&shared);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header(&shared, "", 0));
    response
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let Some(who) = session(&shared, &headers) else {
        return to_login(&shared);
    };
    let prefix = shared.web_prefix.clone();
    let params = match query {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return error_page(
                &shared,
                Some(&who),
                StatusCode::UNPROCESSABLE_ENTITY,
                &rejection.body_text(),
                &format!("{prefix}/"),
            );
        }
    };
    let form_status = params.status.clone().unwrap_or_default();
    let form_kind = params.kind;
    let form_q = params.q.clone().unwrap_or_default();
    let form_requester = params.requester.clone().unwrap_or_default();
    let form_assignee = params.assignee.clone().unwrap_or_default();
    let result = match params.into_query() {
        Ok((filter, page_request)) => shared.store.list(&filter, &page_request).await,
        Err(err) => Err(err),
    };
    let cases = match result {
        Ok(cases) => cases,
        Err(err) => return store_error(&shared, &who, &err, &format!("{prefix}/")),
    };
    let next = cases.next_cursor.as_ref().map(|cursor| {
        let next = ListParams {
            status: Some(form_status.clone()).filter(|s| !s.is_empty()),
            kind: form_kind,
            requester: Some(form_requester.clone()).filter(|s| !s.is_empty()),
            assignee: Some(form_assignee.clone()).filter(|s| !s.is_empty()),
            q: Some(form_q.clone()).filter(|s| !s.is_empty()),
            cursor: Some(cursor.clone()),
            limit: None,
        };
        format!(
            "{prefix}/?{}",
            serde_urlencoded::to_string(&next).unwrap_or_default()
        )
    });
    let status_choices = [
        ("", "any status"),
        ("new,open,pending", "needs work"),
        ("new", "new"),
        ("open", "open"),
        ("pending", "pending"),
        ("resolved", "resolved"),
        ("closed", "closed"),
    ];
    let body = html! {
        h1 { "Cases" }
        form.filters method="get" action={ (prefix) "/" } {
            label { "Status" select name="status" {
                @for (value, text) in status_choices {
                    option value=(value) selected[form_status == value] { (text) }
                }
            } }
            label { "Kind" select name="kind" {
                option value="" { "any kind" }
                @for kind in CaseKind::ALL {
                    option value=(kind.as_str()) selected[form_kind == Some(*kind)] { (kind.as_str()) }
                }
            } }
            label { "Requester (Discord id)" input name="requester" value=(form_requester); }
            label { "Assignee" input name="assignee" value=(form_assignee); }
            label { "Search" input name="q" type="search" value=(form_q) placeholder="words in subject or description"; }
            button type="submit" { "Filter" }
        }
        @if cases.cases.is_empty() {
            p { "No cases match." }
        } @else {
            table {
                thead { tr { th { "Case" } th { "Subject" } th { "Kind" } th { "Status" } th { "Priority" } th { "Requester" } th { "Assignee" } th { "Updated" } } }
                tbody {
                    @for case in &cases.cases {
                        tr {
                            td { a href={ (prefix) "/" (case.number) } { (case.number) } }
                            td { (case.subject) }
                            td { (case.kind.as_str()) }
                            td { (status_badge(case.status)) }
                            td { (case.priority.as_str()) }
                            td { (case.requester.name) br; span.meta { (case.requester.discord_id) } }
                            td { (case.assignee.as_deref().unwrap_or("—")) }
                            td.meta { (fmt_time(case.updated_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next { p { a href=(next) { "Older cases →" } } }
    };
    page(&shared, "Cases", Some(&who), &body).into_response()
}

fn entry_text(entry: &TimelineEntry) -> Markup {
    match &entry.event {
        TimelineEvent::Created { kind, subject } => {
            html! { "opened a " (kind.as_str()) " case: " em { (subject) } }
        }
        TimelineEvent::StatusChanged { from, to, reason } => html! {
            "changed status " (status_badge(*from)) " → " (status_badge(*to))
            @if let Some(reason) = reason { " (" (reason) ")" }
        },
        TimelineEvent::Assigned {
            assignee: Some(who),
        } => html! { "assigned it to " strong { (who) } },
        TimelineEvent::Assigned { assignee: None } => html! { "unassigned it" },
        TimelineEvent::PriorityChanged { from, to } => {
            html! { "changed priority " (from.as_str()) " → " (to.as_str()) }
        }
        TimelineEvent::Note { text } => html! { "noted: " div.pre { (text) } },
        TimelineEvent::Message { text } => html! { "wrote: " div.pre { (text) } },
        TimelineEvent::Linked { url, title } => html! {
            "linked "
            @if url.starts_with("https://") || url.starts_with("http://") {
                a href=(url) rel="noopener noreferrer" { (title.as_deref().unwrap_or(url)) }
            } @else {
                code { (url) } @if let Some(title) = title { " (" (title) ")" }
            }
        },
        TimelineEvent::Rated { score, comment } => html! {
            "rated it " strong { (score) "/5" }
            @if let Some(comment) = comment { ": " em { (comment) } }
        },
    }
}

async fn case_page(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let Some(who) = session(&shared, &headers) else {
        return to_login(&shared);
    };
    let prefix = shared.web_prefix.clone();
    let back = format!("{prefix}/");
    let number: CaseNumber = match raw.parse() {
        Ok(n) => n,
        Err(err) => {
            return error_page(
                &shared,
                Some(&who),
                StatusCode::NOT_FOUND,
                &err.to_string(),
                &back,
            );
        }
    };
    let (case, timeline) =
        match tokio::try_join!(shared.store.get(number), shared.store.timeline(number)) {
            Ok(found) => found,
            Err(err) => return store_error(&shared, &who, &err, &back),
        };
    let body = case_body(&prefix, &who, &case, &timeline);
    page(&shared, &case.number.to_string(), Some(&who), &body).into_response()
}

fn case_body(prefix: &str, who: &Session, case: &Case, timeline: &[TimelineEntry]) -> Markup {
    let base = format!("{prefix}/{}", case.number);
    let requester_actor = format!("discord:{}", case.requester.discord_id);
    let next_statuses: Vec<CaseStatus> = CaseStatus::ALL
        .iter()
        .copied()
        .filter(|s| case.status.can_become(*s))
        .collect();
    html! {
        p.meta { a href={ (prefix) "/" } { "← All cases" } }
        h1 { (case.number) " · " (case.subject) }
        div.grid {
            div {
                div.card {
                    h2 { "Description" }
                    @if case.description.is_empty() { p.meta { "No description." } } @else { div.pre { (case.description) } }
                }
                div.card {
                    h2 { "Transcript" }
                    @let messages: Vec<&TimelineEntry> = timeline.iter().filter(|e| matches!(e.event, TimelineEvent::Message { .. })).collect();
                    @if messages.is_empty() { p.meta { "No messages yet." } }
                    @for entry in messages {
                        @if let TimelineEvent::Message { text } = &entry.event {
                            div class={ "msg" @if entry.actor == requester_actor { " user" } } {
                                div.meta { strong { (entry.actor) } " · " (fmt_time(entry.at)) }
                                (text)
                            }
                        }
                    }
                }
                div.card {
                    h2 { "Timeline" }
                    table {
                        tbody {
                            @for entry in timeline {
                                tr {
                                    td.meta style="white-space:nowrap" { (fmt_time(entry.at)) }
                                    td { strong { (entry.actor) } " " (entry_text(entry)) }
                                }
                            }
                        }
                    }
                }
            }
            div {
                div.card {
                    dl {
                        dt { "Status" } dd { (status_badge(case.status)) }
                        dt { "Kind" } dd { (case.kind.as_str()) }
                        dt { "Priority" } dd { (case.priority.as_str()) }
                        dt { "Requester" } dd { (case.requester.name) " " span.meta { "(" (case.requester.discord_id) ")" } }
                        dt { "Assignee" } dd { (case.assignee.as_deref().unwrap_or("—")) }
                        @if !case.tags.is_empty() { dt { "Tags" } dd { (case.tags.join(", ")) } }
                        @if let Some(sid) = &case.source.twilio_sid { dt { "Twilio" } dd { code { (sid) } } }
                        @if let Some(channel) = &case.source.channel_id { dt { "Channel" } dd { code { (channel) } } }
                        @if let Some(rating) = &case.rating {
                            dt { "Rating" } dd { (rating.score) "/5" @if let Some(c) = &rating.comment { " — " (c) } }
                        }
                        dt { "Created" } dd { (fmt_time(case.created_at)) }
                        dt { "Updated" } dd { (fmt_time(case.updated_at)) }
                        @if let Some(resolved) = case.resolved_at { dt { "Resolved" } dd { (fmt_time(resolved)) } }
                    }
                }
                div.card {
                    h3 { "Change status" }
                    @if next_statuses.is_empty() {
                        p.meta { "Closed cases are final." }
                    } @else {
                        form.action method="post" action={ (base) "/status" } {
                            input type="hidden" name="csrf" value=(who.csrf);
                            label { "New status" select name="status" {
                                @for s in &next_statuses { option value=(s.as_str()) { (s.as_str()) } }
                            } }
                            label { "Reason (optional)" input name="reason" maxlength="500"; }
                            button type="submit" { "Change" }
                        }
                    }
                    h3 { "Assign" }
                    form.action method="post" action={ (base) "/assign" } {
                        input type="hidden" name="csrf" value=(who.csrf);
                        label { "Assignee (empty to unassign)" input name="assignee" value=(case.assignee.as_deref().unwrap_or("")) maxlength="200"; }
                        button type="submit" { "Assign" }
                    }
                    h3 { "Add a note" }
                    form method="post" action={ (base) "/note" } {
                        input type="hidden" name="csrf" value=(who.csrf);
                        textarea name="text" required maxlength="10000" {}
                        button type="submit" { "Add note" }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    assignee: String,
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// Checks the session and CSRF token, runs `act`, then sends the agent back to the case page.
async fn form_action<F, Fut>(
    shared: &Shared,
    headers: &HeaderMap,
    raw: &str,
    csrf: &str,
    act: F,
) -> Response
where
    F: FnOnce(CaseNumber, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let Some(who) = session(shared, headers) else {
        return to_login(shared);
    };
    if !csrf_ok(&who, csrf) {
        return csrf_refused(shared, &who);
    }
    let back = format!("{}/", shared.web_prefix);
    let number: CaseNumber = match raw.parse() {
        Ok(n) => n,
        Err(err) => {
            return error_page(
                shared,
                Some(&who),
                StatusCode::NOT_FOUND,
                &err.to_string(),
                &back,
            );
        }
    };
    let case_url = format!("{}/{number}", shared.web_prefix);
    match act(number, who.name.clone()).await {
        Ok(()) => Redirect::to(&case_url).into_response(),
        Err(err) => store_error(shared, &who, &err, &case_url),
    }
}

async fn post_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    let store = shared.store.clone();
    form_action(
        &shared,
        &headers,
        &raw,
        &form.csrf,
        |number, name| async move {
            let status: CaseStatus = form.status.parse()?;
            let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
            store
                .transition(
                    number,
                    StatusChange {
                        status,
                        actor: name,
                        reason,
                    },
                )
                .await
                .map(drop)
        },
    )
    .await
}

async fn post_assign(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<AssignForm>,
) -> Response {
    let store = shared.store.clone();
    form_action(
        &shared,
        &headers,
        &raw,
        &form.csrf,
        |number, name| async move {
            let assignee = Some(form.assignee.trim().to_owned()).filter(|a| !a.is_empty());
            store
                .assign(
                    number,
                    Assignment {
                        assignee,
                        actor: name,
                    },
                )
                .await
                .map(drop)
        },
    )
    .await
}

async fn post_note(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    let store = shared.store.clone();
    form_action(
        &shared,
        &headers,
        &raw,
        &form.csrf,
        |number, name| async move {
            store
                .add_note(
                    number,
                    NewNote {
                        author: name,
                        text: form.text,
                    },
                )
                .await
                .map(drop)
        },
    )
    .await
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let p = shared.web_prefix.clone();
    let mut router = Router::new()
        .route(&format!("{p}/"), get(list))
        .route(&format!("{p}/login"), get(login_form).post(login))
        .route(&format!("{p}/logout"), post(logout))
        .route(&format!("{p}/{{number}}"), get(case_page))
        .route(&format!("{p}/{{number}}/status"), post(post_status))
        .route(&format!("{p}/{{number}}/assign"), post(post_assign))
        .route(&format!("{p}/{{number}}/note"), post(post_note));
    if !p.is_empty() {
        let to = format!("{p}/");
        router = router.route(&p, get(move || async move { Redirect::permanent(&to) }));
    }
    router
        .layer(axum::extract::DefaultBodyLimit::max(shared.max_body_bytes))
        .layer(axum::middleware::map_response(protective_headers))
        .with_state(shared)
}

/// No scripts, no framing (clickjacking), forms only to this site, nothing cached.
async fn protective_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::{SESSION_SECONDS, new_cookie_value, parse_session};

    const KEY: [u8; 32] = [7; 32];
    const T0: i64 = 1_790_000_000;

    #[test]
    fn sessions_expire_on_the_server() {
        let value = new_cookie_value(&KEY, "Ann", T0).expect("cookie");
        let fresh = parse_session(&KEY, &value, T0 + 5).expect("fresh session");
        assert_eq!(fresh.name, "Ann");
        let last = T0 + i64::from(SESSION_SECONDS);
        assert!(
            parse_session(&KEY, &value, last).is_some(),
            "valid to the end"
        );
        assert!(
            parse_session(&KEY, &value, last + 1).is_none(),
            "an expired cookie is no session"
        );
        assert!(
            parse_session(&KEY, &value, T0 - 3_600).is_none(),
            "a cookie from the future is no session"
        );
    }

    #[test]
    fn the_issue_time_cannot_be_changed() {
        let value = new_cookie_value(&KEY, "Ann", T0).expect("cookie");
        let later = T0 + i64::from(SESSION_SECONDS);
        let forged = value.replacen(&format!("v2.{T0}."), &format!("v2.{later}."), 1);
        assert_ne!(forged, value);
        assert!(parse_session(&KEY, &forged, later + 10).is_none());
        assert!(parse_session(&[8; 32], &value, T0).is_none(), "other key");
    }
}
