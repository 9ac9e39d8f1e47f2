//! The agent pages, driven over HTTP: login, escaping, CSRF, and forms that change the case.

use std::sync::Arc;

use flexcord_cases::{CaseKind, CaseStatus, CaseStore, MessageBatch, NewMessage, TimelineEvent};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::common::{TOKEN, new_case, serve, sqlite};

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

async fn login(base: &str, name: &str) -> Agent {
    let response = http()
        .post(format!("{base}/cases/login"))
        .form(&[("token", TOKEN), ("name", name)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/cases/");
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/cases"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    Agent {
        http: http(),
        base: base.to_owned(),
        cookie,
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

async fn site() -> (String, Arc<dyn CaseStore>, tempfile::TempDir) {
    let (store, dir) = sqlite().await;
    let store: Arc<dyn CaseStore> = Arc::new(store);
    (serve(store.clone()).await, store, dir)
}

#[tokio::test]
async fn pages_need_a_login() {
    let (base, _store, _dir) = site().await;
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
        .header("cookie", "flexcord_cases_session=v1.AAAA.QW5u.AAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::SEE_OTHER,
        "a cookie with a wrong MAC is no session"
    );

    let response = http()
        .post(format!("{base}/cases/login"))
        .form(&[("token", "nope"), ("name", "Eve")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("not the case API token")
    );

    let page = http()
        .get(format!("{base}/cases/login"))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");

    let (status, html) = login(&base, "Alice").await.get("/cases/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Signed in as <strong>Alice</strong>"),
        "{html}"
    );
}

#[tokio::test]
async fn user_text_is_escaped() {
    let (base, store, _dir) = site().await;
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
                messages: vec![NewMessage {
                    external_id: None,
                    author: "discord:1001".into(),
                    text: "\"><b>hi</b>".into(),
                    sent_at: time::OffsetDateTime::now_utc(),
                }],
            },
        )
        .await
        .expect("append");
    let agent = login(&base, "<i>Mallory</i>").await;
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
    let (base, store, _dir) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Refund please"))
        .await
        .expect("create");
    store
        .append_messages(
            case.number,
            MessageBatch {
                messages: vec![
                    NewMessage {
                        external_id: None,
                        author: "discord:1001".into(),
                        text: "I was charged twice".into(),
                        sent_at: time::OffsetDateTime::now_utc(),
                    },
                    NewMessage {
                        external_id: None,
                        author: "agent:dana".into(),
                        text: "Refund issued".into(),
                        sent_at: time::OffsetDateTime::now_utc(),
                    },
                ],
            },
        )
        .await
        .expect("append");
    let agent = login(&base, "Dana").await;
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
    let (base, store, _dir) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Locked out"))
        .await
        .expect("create");
    let agent = login(&base, "Erin").await;
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
    assert_eq!(last.actor, "Erin");
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
    let (base, store, _dir) = site().await;
    let case = store
        .create(new_case(CaseKind::Support, "Locked out"))
        .await
        .expect("create");
    let agent = login(&base, "Erin").await;
    let other = login(&base, "Frank").await;
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
    let (base, store, _dir) = site().await;
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
    let agent = login(&base, "Gus").await;
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
        let app = flexcord_cases::CasesService::new(store.clone(), token).router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        for presented in ["", " ", token] {
            let response = http()
                .post(format!("{base}/cases/login"))
                .form(&[("token", presented), ("name", "Eve")])
                .send()
                .await
                .expect("login");
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
