//! The agent pages, driven over HTTP: sign-in with agent accounts (wrong password, lockout,
//! session expiry, sign-out), single sign-on against a mock provider, escaping, CSRF, the names
//! on the audit trail, and the live part of the case page.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use flexcord_cases::{
    Accounts, CaseKind, CaseStatus, CaseStore, CasesService, LoginLimits, MessageBatch, NewMessage,
    OidcConfig, SqliteCaseStore, TimelineEvent,
};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::common::{TOKEN, new_case, serve_service, sqlite};

/// The password every test agent has.
const PASSWORD: &str = "correct horse battery staple";

struct Agent {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn try_login(base: &str, login: &str, password: &str) -> reqwest::Response {
    http()
        .post(format!("{base}/cases/login"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .expect("login")
}

fn session_cookie(response: &reqwest::Response) -> String {
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("flexcord_cases_session="))
        .expect("a session cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/cases"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    set_cookie.split(';').next().expect("pair").to_owned()
}

async fn login(base: &str, login: &str) -> Agent {
    let response = try_login(base, login, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/cases/");
    Agent {
        http: http(),
        base: base.to_owned(),
        cookie: session_cookie(&response),
    }
}

impl Agent {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("get");
        (response.status(), response.text().await.expect("body"))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .expect("post")
    }

    async fn csrf(&self, path: &str) -> String {
        let (_, html) = self.get(path).await;
        let start = html.find("name=\"csrf\" value=\"").expect("csrf field")
            + "name=\"csrf\" value=\"".len();
        html[start..].split('"').next().expect("value").to_owned()
    }
}

/// A test clock: now, plus whatever the test adds.
#[derive(Clone, Default)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_secs()).expect("secs"), Ordering::SeqCst);
    }

    fn clock(&self) -> flexcord_cases::Clock {
        let offset = self.0.clone();
        Arc::new(move || {
            time::OffsetDateTime::now_utc() + time::Duration::seconds(offset.load(Ordering::SeqCst))
        })
    }
}

struct Site {
    base: String,
    store: Arc<dyn CaseStore>,
    accounts: Arc<dyn Accounts>,
    clock: TestClock,
    _dir: tempfile::TempDir,
}

/// The pages with two agents (`erin`: "Erin Example", `frank`: "Frank"), limited sign-ins
/// (3 per account, 6 per address) and a movable clock.
async fn site_with(configure: impl FnOnce(CasesService) -> CasesService) -> Site {
    let (store, dir) = sqlite().await;
    let store: Arc<SqliteCaseStore> = Arc::new(store);
    let accounts: Arc<dyn Accounts> = store.clone();
    accounts
        .set_agent("erin", "Erin Example", PASSWORD)
        .await
        .expect("erin");
    accounts
        .set_agent("frank", "Frank", PASSWORD)
        .await
        .expect("frank");
    let clock = TestClock::default();
    let service = CasesService::new(store.clone(), TOKEN)
        .accounts(accounts.clone())
        .web_prefix("/cases")
        .login_limits(LoginLimits {
            per_account: 3,
            per_address: 6,
            window: Duration::from_secs(900),
        })
        .clock(clock.clock());
    let base = serve_service(configure(service)).await;
    Site {
        base,
        store,
        accounts,
        clock,
        _dir: dir,
    }
}

async fn site() -> (String, Arc<dyn CaseStore>, Site) {
    let site = site_with(|s| s).await;
    (site.base.clone(), site.store.clone(), site)
}

#[tokio::test]
async fn pages_need_a_login() {
    let (base, _store, _site) = site().await;
    for path in ["/cases/", "/cases/CASE-000001"] {
        let response = http()
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()["location"], "/cases/login");
    }
    let forged = http()
        .get(format!("{base}/cases/"))
        .header(
            "cookie",
            "flexcord_cases_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::SEE_OTHER,
        "a cookie the server does not know is no session"
    );

    let response = try_login(&base, "erin", "not her password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Wrong login or password.")
    );
    let response = try_login(&base, "nobody", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "unknown logins look the same"
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Wrong login or password.")
    );

    let page = http()
        .get(format!("{base}/cases/login"))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let form = page.text().await.unwrap();
    assert!(
        !form.contains("name=\"name\""),
        "no name field: the name comes from the account"
    );
    assert!(
        !form.contains("single sign-on"),
        "no SSO button without a provider"
    );

    let (status, html) = login(&base, "erin").await.get("/cases/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Signed in as <strong title=\"agent:erin\">Erin Example</strong>"),
        "{html}"
    );
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_and_the_address() {
    let (base, _store, _site) = site().await;
    for _ in 0..3 {
        let response = try_login(&base, "erin", "guess guess guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked now: even the right password is refused, with a clear message and Retry-After.
    let response = try_login(&base, "erin", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("set-cookie").is_none());
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let text = response.text().await.unwrap();
    assert!(
        text.contains("Too many failed sign-ins for this account or from this address. Try again in 15 minutes."),
        "{text}"
    );
    // Another account from the same address still signs in (3 failures < 6 per address)...
    login(&base, "frank").await;
    // ...until the address has had its 6 failures.
    for _ in 0..3 {
        let response = try_login(&base, "frank", "guess guess guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = try_login(&base, "someone-else", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sessions_end_on_the_server_at_expiry_and_at_sign_out() {
    let site = site_with(|s| s.session_ttl(Duration::from_secs(3600))).await;
    let base = &site.base;
    let agent = login(base, "erin").await;
    assert_eq!(agent.get("/cases/").await.0, StatusCode::OK);
    site.clock.advance(Duration::from_secs(3599));
    assert_eq!(
        agent.get("/cases/").await.0,
        StatusCode::OK,
        "valid to the end"
    );
    site.clock.advance(Duration::from_secs(2));
    assert_eq!(
        agent.get("/cases/").await.0,
        StatusCode::SEE_OTHER,
        "an expired session is no session, whatever the browser keeps"
    );
    assert_eq!(
        site.accounts
            .purge_sessions(site.clock.clock()())
            .await
            .unwrap(),
        1,
        "the ended session is purged (here, or at the next sign-in)"
    );

    let agent = login(base, "erin").await;
    let csrf = agent.csrf("/cases/").await;
    let response = agent.post("/cases/logout", &[("csrf", "forged")]).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "sign-out needs the CSRF token too"
    );
    let response = agent.post("/cases/logout", &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        agent.get("/cases/").await.0,
        StatusCode::SEE_OTHER,
        "the old cookie no longer works: the session is gone on the server"
    );
    // Removing an agent ends their sessions.
    let frank = login(base, "frank").await;
    assert!(site.accounts.remove_agent("frank").await.unwrap());
    assert_eq!(frank.get("/cases/").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_audit_trail_names_the_signed_in_agent_and_the_integration() {
    let (base, store, site) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Locked out"))
        .await
        .expect("create");
    let agent = login(&base, "erin").await;
    let csrf = agent.csrf("/cases/CASE-000001").await;
    // A `name` field is ignored: the name comes from the session.
    let response = agent
        .post(
            "/cases/CASE-000001/note",
            &[
                ("csrf", &csrf),
                ("text", "Reset the password"),
                ("name", "Mallory"),
                ("author", "Mallory"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = agent
        .post(
            "/cases/CASE-000001/assign",
            &[("csrf", &csrf), ("assignee", "agent:erin")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = agent
        .post(
            "/cases/CASE-000001/status",
            &[("csrf", &csrf), ("status", "open")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // An integration with its own token, and the configured default one.
    let crm = site.accounts.add_token("crm").await.expect("token");
    assert!(crm.starts_with("fct_") && crm.len() > 40);
    for (token, text) in [(crm.as_str(), "from the CRM"), (TOKEN, "from the bridge")] {
        let response = reqwest::Client::new()
            .post(format!("{base}/api/v1/cases/CASE-000001/notes"))
            .bearer_auth(token)
            .json(&serde_json::json!({"author": "crm-bot", "text": text, "via": "forged"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert!(site.accounts.remove_token("crm").await.unwrap());
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/cases"))
        .bearer_auth(&crm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a removed token is refused"
    );

    let stored = store.get(case.number).await.expect("get");
    assert_eq!(stored.status, CaseStatus::Open);
    assert_eq!(stored.assignee.as_deref(), Some("agent:erin"));
    assert_eq!(stored.assignee_name.as_deref(), Some("Erin Example"));
    let timeline = store.timeline(case.number).await.expect("timeline");
    let who: Vec<(&str, Option<&str>, Option<&str>)> = timeline
        .iter()
        .map(|e| (e.actor.as_str(), e.actor_name.as_deref(), e.via.as_deref()))
        .collect();
    assert_eq!(
        who,
        [
            ("discord:1001", Some("user 1001"), None),
            ("agent:erin", Some("Erin Example"), Some("web")),
            ("agent:erin", Some("Erin Example"), Some("web")),
            ("agent:erin", Some("Erin Example"), Some("web")),
            ("crm-bot", None, Some("api:crm")),
            ("crm-bot", None, Some("api:default")),
        ]
    );
    assert_eq!(
        timeline[1].event,
        TimelineEvent::Note {
            text: "Reset the password".into()
        }
    );
    // The page shows display names, with the ids in tooltips.
    let (_, html) = agent.get("/cases/CASE-000001").await;
    assert!(
        html.contains("<span class=\"person\" title=\"agent:erin\">Erin Example</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"person\" title=\"discord:1001\">user 1001</span>"),
        "{html}"
    );
    assert!(html.contains("(api:crm)") && html.contains("(web)"));
    assert!(!html.contains("Mallory"));
}

#[tokio::test]
async fn the_case_page_refreshes_its_timeline_with_if_none_match() {
    let (base, store, _site) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Refund please"))
        .await
        .expect("create");
    let agent = login(&base, "frank").await;
    let (_, html) = agent.get("/cases/CASE-000001").await;
    assert!(
        html.contains("<script src=\"/cases/assets/live.js\" defer>"),
        "{html}"
    );
    assert!(html.contains("data-src=\"/cases/CASE-000001/live\""));
    // The note form lies outside the part that is replaced.
    let live_at = html.find("id=\"live\"").expect("live part");
    let note_at = html.find("id=\"note\"").expect("note form");
    let live_end = html[live_at..]
        .find("<h3>")
        .map(|i| i + live_at)
        .expect("sidebar");
    assert!(
        note_at > live_end,
        "the note form is not inside the live part"
    );

    let live = |etag: Option<String>| {
        let mut request = agent
            .http
            .get(format!("{base}/cases/CASE-000001/live"))
            .header("cookie", &agent.cookie);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = live(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        html.contains(&format!("data-etag=\"{}\"", etag.replace('"', "&quot;"))),
        "the page knows its version"
    );
    let unchanged = live(Some(etag.clone())).await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    store
        .append_messages(
            case.number,
            MessageBatch::new(vec![
                NewMessage::new(
                    "agent.jane@brand.example",
                    "Refund issued",
                    time::OffsetDateTime::now_utc(),
                )
                .author_name("Jane"),
            ]),
        )
        .await
        .expect("append");
    let changed = live(Some(etag.clone())).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let fragment = changed.text().await.unwrap();
    assert!(fragment.contains("Refund issued"));
    assert!(
        fragment.contains("title=\"agent.jane@brand.example\">Jane</span>"),
        "{fragment}"
    );
    let anonymous = http()
        .get(format!("{base}/cases/CASE-000001/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let script = http()
        .get(format!("{base}/cases/assets/live.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.text().await.unwrap().contains("If-None-Match"));
}

#[tokio::test]
async fn user_text_is_escaped() {
    let (base, store, site) = site().await;
    let case = store
        .create(
            new_case(CaseKind::Bug, "<script>alert(1)</script>")
                .description("<img src=x onerror=alert(2)>"),
        )
        .await
        .expect("create");
    store
        .append_messages(
            case.number,
            MessageBatch {
                via: None,
                messages: vec![NewMessage {
                    external_id: None,
                    author: "discord:1001".into(),
                    text: "\"><b>hi</b>".into(),
                    sent_at: time::OffsetDateTime::now_utc(),
                    author_name: None,
                }],
            },
        )
        .await
        .expect("append");
    site.accounts
        .set_agent("mallory", "<i>Mallory</i>", PASSWORD)
        .await
        .expect("mallory");
    let agent = login(&base, "mallory").await;
    let (_, list) = agent.get("/cases/").await;
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{list}"
    );
    assert!(!list.contains("<script>alert(1)"));
    assert!(
        list.contains("&lt;i&gt;Mallory&lt;/i&gt;"),
        "the agent's own name is escaped too"
    );
    let (status, page) = agent.get("/cases/CASE-000001").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{page}"
    );
    assert!(page.contains("&quot;&gt;&lt;b&gt;hi&lt;/b&gt;"), "{page}");
    assert!(!page.contains("<img src=x") && !page.contains("<b>hi</b>"));
}

#[tokio::test]
async fn case_page_shows_transcript_and_timeline() {
    let (base, store, _site) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Refund please"))
        .await
        .expect("create");
    store
        .append_messages(
            case.number,
            MessageBatch {
                via: None,
                messages: vec![
                    NewMessage {
                        external_id: None,
                        author: "discord:1001".into(),
                        text: "I was charged twice".into(),
                        sent_at: time::OffsetDateTime::now_utc(),
                        author_name: None,
                    },
                    NewMessage {
                        external_id: None,
                        author: "agent:dana".into(),
                        text: "Refund issued".into(),
                        sent_at: time::OffsetDateTime::now_utc(),
                        author_name: None,
                    },
                ],
            },
        )
        .await
        .expect("append");
    let agent = login(&base, "erin").await;
    let (status, html) = agent.get("/cases/CASE-000001").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "CASE-000001 · Refund please",
        "Transcript",
        "I was charged twice",
        "Refund issued",
        "opened a support case",
        "user 1001",
    ] {
        assert!(html.contains(text), "missing {text:?}");
    }
    let (status, _) = agent.get("/cases/CASE-000077").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, filtered) = agent.get("/cases/?status=resolved").await;
    assert!(filtered.contains("No cases match."));
    let (_, found) = agent.get("/cases/?q=refund&kind=support").await;
    assert!(found.contains("href=\"/cases/CASE-000001\""));
    // The filter form as a browser submits it with "any status" and "any kind" chosen.
    let (status, all) = agent
        .get("/cases/?status=&kind=&requester=&assignee=&q=")
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(all.contains("href=\"/cases/CASE-000001\""));
    let (status, _) = agent.get("/cases/?kind=gadget").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn forms_change_the_case() {
    let (base, store, _site) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Locked out"))
        .await
        .expect("create");
    let agent = login(&base, "erin").await;
    let csrf = agent.csrf("/cases/CASE-000001").await;

    let response = agent
        .post(
            "/cases/CASE-000001/status",
            &[("csrf", &csrf), ("status", "open"), ("reason", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/cases/CASE-000001");
    let response = agent
        .post(
            "/cases/CASE-000001/assign",
            &[("csrf", &csrf), ("assignee", "agent:erin")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = agent
        .post(
            "/cases/CASE-000001/note",
            &[("csrf", &csrf), ("text", "Reset the password")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let stored = store.get(case.number).await.expect("get");
    assert_eq!(stored.status, CaseStatus::Open);
    assert_eq!(stored.assignee.as_deref(), Some("agent:erin"));
    let timeline = store.timeline(case.number).await.expect("timeline");
    let last = timeline.last().expect("entries");
    assert_eq!(last.actor, "agent:erin");
    assert_eq!(last.actor_name.as_deref(), Some("Erin Example"));
    assert_eq!(
        last.event,
        TimelineEvent::Note {
            text: "Reset the password".into()
        }
    );

    let response = agent
        .post(
            "/cases/CASE-000001/status",
            &[("csrf", &csrf), ("status", "closed")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("cannot go from open to closed")
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let (base, store, _site) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Locked out"))
        .await
        .expect("create");
    let agent = login(&base, "erin").await;
    let other = login(&base, "frank").await;
    let others_token = other.csrf("/cases/CASE-000001").await;
    for csrf in ["", "forged", others_token.as_str()] {
        let response = agent
            .post(
                "/cases/CASE-000001/status",
                &[("csrf", csrf), ("status", "open")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
        let response = agent
            .post(
                "/cases/CASE-000001/note",
                &[("csrf", csrf), ("text", "sneaky")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let response = http()
        .post(format!("{base}/cases/CASE-000001/status"))
        .form(&[("csrf", others_token.as_str()), ("status", "open")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "no cookie: sent to the login page"
    );
    assert_eq!(
        store.get(case.number).await.unwrap(),
        case,
        "nothing changed"
    );
    assert_eq!(store.timeline(case.number).await.unwrap().len(), 1);
}

#[tokio::test]
async fn list_pages_keep_their_filters() {
    let (base, store, _site) = site().await;
    for i in 0..52 {
        let kind = if i % 2 == 0 {
            CaseKind::Bug
        } else {
            CaseKind::Support
        };
        store
            .create(new_case(kind, &format!("Case number {i}")))
            .await
            .expect("create");
    }
    let agent = login(&base, "frank").await;
    let (_, first) = agent.get("/cases/?kind=bug").await;
    assert_eq!(
        first.matches("<tr><td><a href=\"/cases/CASE-").count(),
        26,
        "one page holds every bug"
    );
    assert!(!first.contains("Older cases"));
    let (_, all) = agent.get("/cases/").await;
    assert_eq!(all.matches("<tr><td><a href=\"/cases/CASE-").count(), 50);
    let start = all.find("<a href=\"/cases/?").expect("older link") + "<a href=\"".len();
    let next = all[start..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&");
    assert_eq!(next, "/cases/?cursor=CASE-000003");
    let (_, older) = agent.get(&next).await;
    assert!(
        older.contains("href=\"/cases/CASE-000002\"")
            && older.contains("href=\"/cases/CASE-000001\"")
    );
    assert_eq!(older.matches("<tr><td><a href=\"/cases/CASE-").count(), 2);
    let (status, bad) = agent.get("/cases/?limit=banana").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("Something went wrong"));
}

#[tokio::test]
async fn a_blank_token_lets_nobody_in() {
    let (store, _dir) = sqlite().await;
    let store: Arc<dyn CaseStore> = Arc::new(store);
    for token in ["", "  "] {
        let base = serve_service(CasesService::new(store.clone(), token)).await;
        for presented in ["", " ", token] {
            let response = try_login(&base, "erin", PASSWORD).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
            assert!(response.headers().get("set-cookie").is_none());
            let response = http()
                .get(format!("{base}/api/v1/cases"))
                .header("authorization", format!("Bearer {presented}"))
                .send()
                .await
                .expect("api");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        }
    }
}

/// A mock OpenID Connect provider on wiremock: discovery, keys, and a token endpoint that
/// answers an ID token for `nonce` (signed with the fixture key).
mod provider {
    use openidconnect::core::{
        CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
        CoreProviderMetadata, CoreResponseType, CoreRsaPrivateSigningKey,
        CoreSubjectIdentifierType,
    };
    use openidconnect::{
        Audience, AuthUrl, EmptyAdditionalClaims, EmptyAdditionalProviderMetadata, EndUserName,
        IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, LocalizedClaim, Nonce, PrivateSigningKey,
        ResponseTypes, StandardClaims, SubjectIdentifier, TokenUrl,
    };
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    pub(crate) const CLIENT_ID: &str = "cases-pages";

    fn key() -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(
            include_str!("../fixtures/oidc-test-key.pem"),
            Some(JsonWebKeyId::new("test-key".into())),
        )
        .expect("fixture key")
    }

    pub(crate) async fn start() -> MockServer {
        let server = MockServer::start().await;
        let issuer = server.uri();
        let metadata = CoreProviderMetadata::new(
            IssuerUrl::new(issuer.clone()).unwrap(),
            AuthUrl::new(format!("{issuer}/authorize")).unwrap(),
            JsonWebKeySetUrl::new(format!("{issuer}/jwks")).unwrap(),
            vec![ResponseTypes::new(vec![CoreResponseType::Code])],
            vec![CoreSubjectIdentifierType::Public],
            vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
            EmptyAdditionalProviderMetadata {},
        )
        .set_token_endpoint(Some(TokenUrl::new(format!("{issuer}/token")).unwrap()));
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&metadata))
            .mount(&server)
            .await;
        let jwks = CoreJsonWebKeySet::new(vec![key().as_verification_key()]);
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&jwks))
            .mount(&server)
            .await;
        server
    }

    /// The token endpoint answers once, for this code, with an ID token carrying `nonce` for
    /// `audience`; the PKCE verifier and the client's credentials must come with the code.
    pub(crate) async fn answer_code(server: &MockServer, code: &str, nonce: &str, audience: &str) {
        let issuer = server.uri();
        let now = chrono::Utc::now();
        let mut name = LocalizedClaim::new();
        name.insert(None, EndUserName::new("Jane Doe".into()));
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(issuer).unwrap(),
            vec![Audience::new(audience.into())],
            now + chrono::Duration::minutes(5),
            now,
            StandardClaims::new(SubjectIdentifier::new("sub-4821".into())).set_name(Some(name)),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new(nonce.into())));
        let id_token = CoreIdToken::new(
            claims,
            &key(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .expect("signed");
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(format!("code={code}")))
            .and(body_string_contains("code_verifier="))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "at-1",
                "token_type": "bearer",
                "expires_in": 300,
                "id_token": id_token,
            })))
            .expect(1)
            .mount(server)
            .await;
    }
}

fn query_value(url: &str, key: &str) -> String {
    let parsed = url::Url::parse(url).expect("url");
    parsed
        .query_pairs()
        .find(|(k, _)| k == key)
        .map_or_else(|| panic!("{key} in {url}"), |(_, v)| v.into_owned())
}

#[tokio::test]
async fn single_sign_on_against_a_mock_provider() {
    let provider = provider::start().await;
    let issuer = provider.uri();
    // The redirect URL is only compared by the provider; the test follows it by hand.
    let site = site_with(|s| {
        s.oidc(OidcConfig {
            issuer: issuer.clone(),
            client_id: provider::CLIENT_ID.into(),
            client_secret: "pages-secret".into(),
            redirect_url: "http://cases.test/cases/oidc/callback".into(),
        })
    })
    .await;
    let base = &site.base;
    let page = http()
        .get(format!("{base}/cases/login"))
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Sign in with single sign-on")
    );

    let start = |()| async {
        let response = http()
            .get(format!("{base}/cases/oidc/login"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cookie.contains("SameSite=Lax") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        (location, cookie.split(';').next().unwrap().to_owned())
    };
    let (location, cookie) = start(()).await;
    assert!(
        location.starts_with(&format!("{issuer}/authorize?")),
        "{location}"
    );
    assert_eq!(query_value(&location, "client_id"), provider::CLIENT_ID);
    assert_eq!(query_value(&location, "code_challenge_method"), "S256");
    let state = query_value(&location, "state");
    let nonce = query_value(&location, "nonce");

    // A callback whose state is not the one this browser started with is refused.
    let forged = http()
        .get(format!("{base}/cases/oidc/callback?code=c-1&state=forged"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert!(forged.headers().get("set-cookie").is_none());
    let without_cookie = http()
        .get(format!("{base}/cases/oidc/callback?code=c-1&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(without_cookie.status(), StatusCode::BAD_REQUEST);

    provider::answer_code(&provider, "c-1", &nonce, provider::CLIENT_ID).await;
    let done = http()
        .get(format!("{base}/cases/oidc/callback?code=c-1&state={state}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let session = session_cookie(&done);
    assert!(done.text().await.unwrap().contains("url=/cases/"));
    let agent = Agent {
        http: http(),
        base: base.clone(),
        cookie: session,
    };
    let (status, html) = agent.get("/cases/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Signed in as <strong title=\"oidc:sub-4821\">Jane Doe</strong>"),
        "{html}"
    );

    // An ID token for another client (wrong audience) signs nobody in.
    let (location, cookie) = start(()).await;
    let state = query_value(&location, "state");
    let nonce = query_value(&location, "nonce");
    provider::answer_code(&provider, "c-2", &nonce, "another-client").await;
    let refused = http()
        .get(format!("{base}/cases/oidc/callback?code=c-2&state={state}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Single sign-on failed")
    );
}
