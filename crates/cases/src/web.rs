//! The agent web pages: server-rendered HTML (maud escapes every value), agents signed in with
//! their own account (or through single sign-on), sessions kept on the server, and a
//! per-session CSRF token in every form.
//!
//! The session cookie is a random value; the server keeps its SHA-256 digest with the agent,
//! the CSRF token and the end of the session ([`crate::Accounts`]), so signing out ends the
//! session everywhere and a session ends on the server when it expires, whatever the browser
//! keeps. Failed sign-ins are limited per account and per address ([`crate::LoginLimits`]).
//!
//! The case page refreshes its transcript and timeline by itself: a small script asks
//! `…/{number}/live` every few seconds with `If-None-Match`, and replaces only that part of the
//! page, so a note being written is never lost. Without scripts the page works as before.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::accounts::Session;
use crate::api::ListParams;
use crate::error::{Error, ErrorKind};
use crate::limit::{Attempt, describe_wait};
use crate::model::{
    Assignment, Case, CaseKind, CaseNumber, CaseStatus, NewNote, StatusChange, TimelineEntry,
    TimelineEvent,
};
use crate::service::Shared;

const COOKIE: &str = "flexcord_cases_session";
const OIDC_COOKIE: &str = "flexcord_cases_oidc";
/// How often the case page asks for changes, in milliseconds.
const LIVE_EVERY_MS: u32 = 5_000;

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The signed-in agent's session, if the cookie names one that has not ended.
async fn session(shared: &Shared, headers: &HeaderMap) -> Option<Session> {
    let cookie = cookie_value(headers, COOKIE)?;
    let accounts = shared.accounts.as_ref()?;
    match accounts.session(cookie, shared.now()).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(error = %err, "session lookup failed");
            None
        }
    }
}

fn cookie_path(shared: &Shared) -> &str {
    if shared.web_prefix.is_empty() {
        "/"
    } else {
        shared.web_prefix.as_str()
    }
}

fn cookie_header(
    shared: &Shared,
    name: &str,
    value: &str,
    max_age: u64,
    same_site: &str,
) -> HeaderValue {
    let secure = if shared.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}",
        cookie_path(shared)
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A form post from another site (its `Origin` names another host) is refused, sign-in
/// included; forms of a session also carry its CSRF token.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// The client's address: the last entry of the configured proxy header, else the peer.
fn client_address(shared: &Shared, request: &Request) -> String {
    if let Some(name) = &shared.client_ip_header
        && let Some(value) = request
            .headers()
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
        && let Some(last) = value
            .rsplit(',')
            .next()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return last.chars().take(64).collect();
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(a)| a.ip().to_string())
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
                        span.who { "Signed in as " strong title=(session.agent_id) { (session.agent_name) } }
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

/// One stylesheet: two columns on a desk, one under 700 px (the sidebar goes below the main
/// column, tables become stacked cards, long words wrap).
const CSS: &str = "
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2230;background:#f5f6fa;overflow-wrap:anywhere}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1.5rem;background:#2b2d42;color:#fff}
header a.brand{color:#fff;font-weight:600;text-decoration:none;margin-right:auto}
header button{background:none;border:1px solid #aab;color:#fff;border-radius:4px;padding:.2rem .6rem;cursor:pointer}
main{max-width:1100px;margin:1.5rem auto;padding:0 1.5rem}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e3e5ee;vertical-align:top}
th{background:#eceef5;font-weight:600}
a{color:#3a47c4}
form.filters,form.action{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.6rem 0}
form.inline{display:inline}
label{display:flex;flex-direction:column;font-size:.85rem;color:#555;max-width:100%}
input,select,textarea,button{font:inherit;padding:.3rem .45rem;border:1px solid #c5c8d6;border-radius:4px;max-width:100%}
button{background:#3a47c4;color:#fff;border-color:#3a47c4;cursor:pointer}
button.secondary{background:#fff;color:#3a47c4}
textarea{width:100%;min-height:4rem}
.grid{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:1.5rem}
.card{background:#fff;border:1px solid #e3e5ee;border-radius:6px;padding:1rem;margin-bottom:1rem}
.card>:first-child{margin-top:0}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:10px;font-size:.8rem;background:#e3e5ee}
.s-new{background:#ffe8a3}.s-open{background:#c9e7ff}.s-pending{background:#eadcff}.s-resolved{background:#cdeccd}.s-closed{background:#ddd}
.msg{border-left:3px solid #c5c8d6;padding:.3rem .6rem;margin:.4rem 0;white-space:pre-wrap}
.msg.user{border-color:#3a47c4}
.meta{color:#667;font-size:.82rem}
.pre{white-space:pre-wrap}
.error{background:#fde2e2;border:1px solid #e99;padding:.6rem;border-radius:4px}
.or{text-align:center;color:#667;margin:1rem 0}
dl{display:grid;grid-template-columns:auto minmax(0,1fr);gap:.2rem .8rem;margin:0}
dt{color:#667}
dd{margin:0}
@media (max-width:700px){
main{margin:1rem auto;padding:0 .75rem}
header{padding:.6rem .75rem}
.grid{grid-template-columns:minmax(0,1fr);gap:0}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
table.stack thead{display:none}
table.stack tr{border-bottom:2px solid #e3e5ee;padding:.3rem 0}
table.stack td{border:0;padding:.15rem .6rem}
table.stack td[data-label]::before{content:attr(data-label) ': ';color:#667;font-size:.82rem}
form.filters label,form.filters input,form.filters select{width:100%}
}
";

/// Replaces the case page's live part when the server has something new.
const LIVE_JS: &str = r#"(function () {
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var src = live.getAttribute("data-src");
  var etag = live.getAttribute("data-etag") || "";
  var every = parseInt(live.getAttribute("data-every"), 10) || 5000;
  function poll() {
    if (document.hidden) { return setTimeout(poll, every); }
    fetch(src, { headers: { "If-None-Match": etag }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 200) {
          etag = r.headers.get("ETag") || "";
          return r.text().then(function (html) { live.innerHTML = html; live.setAttribute("data-etag", etag); setTimeout(poll, every); });
        }
        if (r.status === 304) { setTimeout(poll, every); }
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
"#;

async fn live_js() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        LIVE_JS,
    )
        .into_response()
}

fn fmt_time(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| t.to_string())
}

fn status_badge(status: CaseStatus) -> Markup {
    html! { span class={ "badge s-" (status.as_str()) } { (status.as_str()) } }
}

/// A person's display name with their id in a tooltip.
fn person(name: &str, id: &str) -> Markup {
    html! { span.person title=(id) { (name) } }
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
                StatusCode::SERVICE_UNAVAILABLE,
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
    login: String,
    #[serde(default)]
    password: String,
}

fn login_page(shared: &Shared, error: Option<&str>) -> Html<String> {
    let prefix = &shared.web_prefix;
    let passwords = shared.accounts.is_some();
    let sso = shared.oidc.is_some() && passwords;
    let body = html! {
        div.card style="max-width:26rem;margin:3rem auto" {
            h1 { "Sign in" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if sso {
                p { a href={ (prefix) "/oidc/login" } { button.secondary type="button" { "Sign in with single sign-on" } } }
                p.or { "or with your case account" }
            }
            @if passwords {
                form.action method="post" action={ (prefix) "/login" } style="flex-direction:column;align-items:stretch" {
                    label { "Login" input name="login" required maxlength="64" autocomplete="username" autocapitalize="none"; }
                    label { "Password" input name="password" type="password" required autocomplete="current-password"; }
                    button type="submit" { "Sign in" }
                }
            } @else {
                p.error { "Sign-in is not set up: the case service has no agent accounts." }
            }
        }
    };
    page(shared, "Sign in", None, &body)
}

async fn login_form(State(shared): State<Arc<Shared>>) -> Html<String> {
    login_page(&shared, None)
}

/// Starts a session for an agent and sends them to the case list.
async fn signed_in(
    shared: &Shared,
    agent_id: &str,
    agent_name: &str,
    meta_refresh: bool,
) -> Response {
    let Some(accounts) = &shared.accounts else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            login_page(shared, Some("Sign-in is not set up.")),
        )
            .into_response();
    };
    let now = shared.now();
    if let Err(err) = accounts.purge_sessions(now).await {
        tracing::warn!(error = %err, "could not purge ended sessions");
    }
    let ttl = time::Duration::try_from(shared.session_ttl).unwrap_or(time::Duration::HOUR);
    match accounts
        .start_session(agent_id, agent_name, now + ttl)
        .await
    {
        Ok((cookie, _)) => {
            let home = format!("{}/", shared.web_prefix);
            let mut response = if meta_refresh {
                // After the provider's redirect a `SameSite=Strict` cookie is not sent on the
                // same redirect chain: continue from a page of this site.
                let body = html! {
                    (DOCTYPE)
                    html { head { meta http-equiv="refresh" content={ "0;url=" (home) }; title { "Signed in" } }
                        body { p { "Signed in. " a href=(home) { "Continue" } } } }
                };
                Html(body.into_string()).into_response()
            } else {
                Redirect::to(&home).into_response()
            };
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                cookie_header(
                    shared,
                    COOKIE,
                    &cookie,
                    shared.session_ttl.as_secs(),
                    "Strict",
                ),
            );
            if meta_refresh {
                headers.append(
                    header::SET_COOKIE,
                    cookie_header(shared, OIDC_COOKIE, "", 0, "Lax"),
                );
            }
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "could not start a session");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                login_page(shared, Some("Could not start a session; try again.")),
            )
                .into_response()
        }
    }
}

async fn login(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if foreign_origin(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            login_page(&shared, Some("This form did not come from this site.")),
        )
            .into_response();
    }
    let address = client_address(&shared, &request);
    let Form(form) = match Form::<LoginForm>::from_request(request, &()).await {
        Ok(form) => form,
        Err(rejection) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                login_page(&shared, Some(&rejection.body_text())),
            )
                .into_response();
        }
    };
    let Some(accounts) = shared.accounts.clone() else {
        return (
            StatusCode::UNAUTHORIZED,
            login_page(
                &shared,
                Some("Sign-in is not set up: the case service has no agent accounts."),
            ),
        )
            .into_response();
    };
    let login = form.login.trim();
    if login.is_empty()
        || login.len() > 64
        || form.password.is_empty()
        || form.password.len() > 1024
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            login_page(&shared, Some("Enter your login and password.")),
        )
            .into_response();
    }
    let attempt = Attempt {
        account: login,
        address: &address,
    };
    if let Some(wait) = shared.limiter.blocked(&attempt, Instant::now()) {
        let message = format!(
            "Too many failed sign-ins for this account or from this address. Try again in {}.",
            describe_wait(wait)
        );
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            login_page(&shared, Some(&message)),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    match accounts.check_password(login, &form.password).await {
        Ok(Some(agent)) => {
            shared.limiter.succeeded(&attempt);
            tracing::info!(agent = %agent.actor_id(), "agent signed in");
            signed_in(&shared, &agent.actor_id(), &agent.display_name, false).await
        }
        Ok(None) => {
            shared.limiter.failed(&attempt, Instant::now());
            tracing::info!(login, address = %address, "failed sign-in");
            (
                StatusCode::UNAUTHORIZED,
                login_page(&shared, Some("Wrong login or password.")),
            )
                .into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "sign-in failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                login_page(&shared, Some("The case store failed; try again later.")),
            )
                .into_response()
        }
    }
}

async fn oidc_login(State(shared): State<Arc<Shared>>) -> Response {
    let (Some(oidc), Some(_)) = (&shared.oidc, &shared.accounts) else {
        return (
            StatusCode::NOT_FOUND,
            login_page(&shared, Some("Single sign-on is not set up.")),
        )
            .into_response();
    };
    match oidc.start().await {
        Ok(started) => {
            let mut response = Redirect::to(&started.url).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                cookie_header(&shared, OIDC_COOKIE, &started.cookie, 600, "Lax"),
            );
            response
        }
        Err(why) => {
            tracing::error!(error = %why, "single sign-on could not start");
            (
                StatusCode::BAD_GATEWAY,
                login_page(
                    &shared,
                    Some("The single sign-on provider cannot be reached; try again later."),
                ),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct CallbackParams {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
}

async fn oidc_callback(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    let Some(oidc) = &shared.oidc else {
        return (
            StatusCode::NOT_FOUND,
            login_page(&shared, Some("Single sign-on is not set up.")),
        )
            .into_response();
    };
    let refused = |status: StatusCode, message: &str| {
        (status, login_page(&shared, Some(message))).into_response()
    };
    let Ok(Query(params)) = query else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The single sign-on answer was malformed.",
        );
    };
    if let Some(error) = params.error {
        tracing::info!(error = %error, "the provider refused the sign-in");
        return refused(
            StatusCode::UNAUTHORIZED,
            "The single sign-on provider did not sign you in.",
        );
    }
    let Some(cookie) = cookie_value(&headers, OIDC_COOKIE) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The sign-in was not started here or has expired; start again.",
        );
    };
    match oidc.finish(cookie, &params.state, &params.code).await {
        Ok(agent) => {
            tracing::info!(agent = %agent.id, "agent signed in through single sign-on");
            signed_in(&shared, &agent.id, &agent.name, true).await
        }
        Err(why) => {
            tracing::warn!(error = %why, "single sign-on failed");
            refused(
                StatusCode::UNAUTHORIZED,
                &format!("Single sign-on failed: {why}."),
            )
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
    let Some(who) = session(&shared, &headers).await else {
        return to_login(&shared);
    };
    if foreign_origin(&headers) || !csrf_ok(&who, &form.csrf) {
        return csrf_refused(&shared, &who);
    }
    if let (Some(accounts), Some(cookie)) = (&shared.accounts, cookie_value(&headers, COOKIE))
        && let Err(err) = accounts.end_session(cookie).await
    {
        tracing::error!(error = %err, "could not end a session");
        return error_page(
            &shared,
            Some(&who),
            StatusCode::SERVICE_UNAVAILABLE,
            "Could not sign you out; try again.",
            &format!("{}/", shared.web_prefix),
        );
    }
    let mut response = to_login(&shared);
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie_header(&shared, COOKIE, "", 0, "Strict"),
    );
    response
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let Some(who) = session(&shared, &headers).await else {
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
            table.stack {
                thead { tr { th { "Case" } th { "Subject" } th { "Kind" } th { "Status" } th { "Priority" } th { "Requester" } th { "Assignee" } th { "Updated" } } }
                tbody {
                    @for case in &cases.cases {
                        tr {
                            td { a href={ (prefix) "/" (case.number) } { (case.number) } }
                            td data-label="Subject" { (case.subject) }
                            td data-label="Kind" { (case.kind.as_str()) }
                            td data-label="Status" { (status_badge(case.status)) }
                            td data-label="Priority" { (case.priority.as_str()) }
                            td data-label="Requester" { (person(&case.requester.name, &format!("discord:{}", case.requester.discord_id))) }
                            td data-label="Assignee" { (assignee(case)) }
                            td.meta data-label="Updated" { (fmt_time(case.updated_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next { p { a href=(next) { "Older cases →" } } }
    };
    page(&shared, "Cases", Some(&who), &body).into_response()
}

/// The case's assignee: display name with the identity in a tooltip, or a dash.
fn assignee(case: &Case) -> Markup {
    match (&case.assignee, &case.assignee_name) {
        (Some(id), Some(name)) => person(name, id),
        (Some(id), None) => person(id, id),
        (None, _) => html! { "—" },
    }
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
            assignee_name,
        } => {
            html! { "assigned it to " strong { (person(assignee_name.as_deref().unwrap_or(who), who)) } }
        }
        TimelineEvent::Assigned { assignee: None, .. } => html! { "unassigned it" },
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
    let Some(who) = session(&shared, &headers).await else {
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

/// The live part of the case page (transcript and timeline), for the page's script: 304 when
/// it has not changed since the `ETag` the script holds, 401 without a session.
async fn case_live(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    if session(&shared, &headers).await.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(number) = raw.parse::<CaseNumber>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (case, timeline) =
        match tokio::try_join!(shared.store.get(number), shared.store.timeline(number)) {
            Ok(found) => found,
            Err(err) if matches!(err.kind(), ErrorKind::NotFound { .. }) => {
                return StatusCode::NOT_FOUND.into_response();
            }
            Err(err) => {
                tracing::error!(error = %err, "case live update failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
    let fragment = live_part(&case, &timeline).into_string();
    let etag = etag_of(&fragment);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let etag_header =
        HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_header)]).into_response();
    }
    (
        [
            (header::ETAG, etag_header),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
        ],
        fragment,
    )
        .into_response()
}

/// A strong `ETag` of a rendered fragment.
fn etag_of(fragment: &str) -> String {
    let digest = Sha256::digest(fragment.as_bytes());
    let hex = digest.iter().take(12).fold(String::new(), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    });
    format!("\"{hex}\"")
}

/// Transcript and timeline: what changes while an agent looks at a case.
fn live_part(case: &Case, timeline: &[TimelineEntry]) -> Markup {
    let requester_actor = format!("discord:{}", case.requester.discord_id);
    html! {
        div.card {
            h2 { "Transcript" }
            @let messages: Vec<&TimelineEntry> = timeline.iter().filter(|e| matches!(e.event, TimelineEvent::Message { .. })).collect();
            @if messages.is_empty() { p.meta { "No messages yet." } }
            @for entry in messages {
                @if let TimelineEvent::Message { text } = &entry.event {
                    div class={ "msg" @if entry.actor == requester_actor { " user" } } {
                        div.meta { strong { (person(entry.display_actor(case), &entry.actor)) } " · " (fmt_time(entry.at)) }
                        (text)
                    }
                }
            }
        }
        div.card {
            h2 { "Timeline" }
            table.stack.timeline {
                tbody {
                    @for entry in timeline {
                        tr {
                            td.meta style="white-space:nowrap" { (fmt_time(entry.at)) }
                            td {
                                strong { (person(entry.display_actor(case), &entry.actor)) } " " (entry_text(entry))
                                @if let Some(via) = &entry.via { " " span.meta { "(" (via) ")" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn case_body(prefix: &str, who: &Session, case: &Case, timeline: &[TimelineEntry]) -> Markup {
    let base = format!("{prefix}/{}", case.number);
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
                @let fragment = live_part(case, timeline);
                div #live data-src={ (base) "/live" } data-etag=(etag_of(&fragment.0)) data-every=(LIVE_EVERY_MS) {
                    (fragment)
                }
            }
            div {
                div.card {
                    dl {
                        dt { "Status" } dd { (status_badge(case.status)) }
                        dt { "Kind" } dd { (case.kind.as_str()) }
                        dt { "Priority" } dd { (case.priority.as_str()) }
                        dt { "Requester" } dd { (person(&case.requester.name, &format!("discord:{}", case.requester.discord_id))) }
                        dt { "Assignee" } dd { (assignee(case)) }
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
                    @if case.assignee.as_deref() != Some(who.agent_id.as_str()) {
                        form.action method="post" action={ (base) "/assign" } {
                            input type="hidden" name="csrf" value=(who.csrf);
                            input type="hidden" name="assignee" value=(who.agent_id);
                            button type="submit" { "Assign to me" }
                        }
                    }
                    form.action method="post" action={ (base) "/assign" } {
                        input type="hidden" name="csrf" value=(who.csrf);
                        label { "Assignee id (empty to unassign)" input name="assignee" value=(case.assignee.as_deref().unwrap_or("")) maxlength="200"; }
                        button type="submit" { "Assign" }
                    }
                    h3 { "Add a note" }
                    form #note method="post" action={ (base) "/note" } {
                        input type="hidden" name="csrf" value=(who.csrf);
                        textarea name="text" required maxlength="10000" {}
                        button type="submit" { "Add note" }
                    }
                }
            }
        }
        script src={ (prefix) "/assets/live.js" } defer {}
    }
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
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

/// Checks the session, the form's origin and CSRF token, runs `act` with the signed-in agent,
/// then sends the agent back to the case page.
async fn form_action<F, Fut>(
    shared: &Shared,
    headers: &HeaderMap,
    raw: &str,
    csrf: &str,
    act: F,
) -> Response
where
    F: FnOnce(CaseNumber, Session) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let Some(who) = session(shared, headers).await else {
        return to_login(shared);
    };
    if foreign_origin(headers) || !csrf_ok(&who, csrf) {
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
    match act(number, who.clone()).await {
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
        |number, who| async move {
            let status: CaseStatus = form.status.parse()?;
            let mut change = StatusChange::new(status, who.agent_id).actor_name(who.agent_name);
            change.reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
            change.via = Some("web".to_owned());
            store.transition(number, change).await.map(drop)
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
        |number, who| async move {
            let assignee = Some(form.assignee.trim().to_owned()).filter(|a| !a.is_empty());
            let mut assignment = Assignment::new(assignee.clone(), who.agent_id.clone());
            // Assigning oneself names oneself; another id keeps the name it had.
            assignment.assignee_name = (assignee.as_deref() == Some(who.agent_id.as_str()))
                .then(|| who.agent_name.clone());
            assignment.actor_name = Some(who.agent_name);
            assignment.via = Some("web".to_owned());
            store.assign(number, assignment).await.map(drop)
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
        |number, who| async move {
            let mut note = NewNote::new(who.agent_id, form.text);
            note.author_name = Some(who.agent_name);
            note.via = Some("web".to_owned());
            store.add_note(number, note).await.map(drop)
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
        .route(&format!("{p}/oidc/login"), get(oidc_login))
        .route(&format!("{p}/oidc/callback"), get(oidc_callback))
        .route(&format!("{p}/assets/live.js"), get(live_js))
        .route(&format!("{p}/{{number}}"), get(case_page))
        .route(&format!("{p}/{{number}}/live"), get(case_live))
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

/// Scripts only from this site (the live refresh), no framing (clickjacking), forms only to
/// this site, nothing cached.
async fn protective_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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
    use super::{HeaderMap, foreign_origin};
    use axum::http::HeaderValue;

    #[test]
    fn forms_from_other_sites_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("cases.example:8080"));
        assert!(
            !foreign_origin(&headers),
            "no Origin: a same-site form or a tool"
        );
        headers.insert(
            "origin",
            HeaderValue::from_static("https://cases.example:8080"),
        );
        assert!(!foreign_origin(&headers));
        headers.insert("origin", HeaderValue::from_static("https://evil.example"));
        assert!(foreign_origin(&headers));
        headers.insert("origin", HeaderValue::from_static("null"));
        assert!(foreign_origin(&headers));
    }
}
