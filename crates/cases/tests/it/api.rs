//! The HTTP API: auth, JSON errors, body limit, OpenAPI, and the client's error mapping.

use std::sync::Arc;

use flexcord_cases::{CaseClient, CaseKind, CaseStore, ErrorKind};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TOKEN, new_case, serve, sqlite};

async fn server() -> (String, Arc<dyn CaseStore>, tempfile::TempDir) {
    let (store, dir) = sqlite().await;
    let store: Arc<dyn CaseStore> = Arc::new(store);
    (serve(store.clone()).await, store, dir)
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.expect("body");
    assert!(
        content_type.starts_with("application/json"),
        "{status} {content_type}: {body}"
    );
    (status, serde_json::from_str(&body).expect("JSON body"))
}

#[tokio::test]
async fn token_is_required() {
    let (base, _store, _dir) = server().await;
    let http = reqwest::Client::new();
    for request in [
        http.get(format!("{base}/api/v1/cases")),
        http.get(format!("{base}/api/v1/cases"))
            .bearer_auth("wrong"),
        http.get(format!("{base}/api/v1/cases"))
            .header("authorization", format!("Basic {TOKEN}")),
        http.post(format!("{base}/api/v1/cases")).json(&json!({})),
    ] {
        let response = request.send().await.expect("send");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"Bearer"[..])
        );
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "unauthorized");
    }
    let wrong = CaseClient::new(&base, "wrong").expect("client");
    let err = wrong.open_cases_for("1").await.expect_err("wrong token");
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let (base, store, _dir) = server().await;
    let case = store
        .create(new_case(CaseKind::Support, "Help"))
        .await
        .expect("create");
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{base}/api/v1{path}");

    let (status, body) = json_of(
        http.get(url("/cases/CASE-000099"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert_eq!(body["number"], "CASE-000099");

    let (status, body) = json_of(
        http.get(url("/cases/banana"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("banana"),
        "{body}"
    );

    let status_url = url(&format!("/cases/{}/status", case.number));
    let (status, body) = json_of(
        http.post(&status_url)
            .bearer_auth(TOKEN)
            .json(&json!({"status": "closed", "actor": "agent"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"code": "illegal_transition", "message": "CASE-000001 cannot go from new to closed", "number": "CASE-000001", "from": "new", "to": "closed"})
    );

    let (status, body) = json_of(
        http.post(&status_url)
            .bearer_auth(TOKEN)
            .json(&json!({"status": "exploded", "actor": "agent"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );

    let (status, _) = json_of(
        http.post(&status_url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, body) = json_of(
        http.post(&status_url)
            .bearer_auth(TOKEN)
            .body("status=open")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    let (status, body) = json_of(
        http.put(url(&format!("/cases/{}/rating", case.number)))
            .bearer_auth(TOKEN)
            .json(&json!({"score": 9}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("score"),
        "{body}"
    );

    let (status, _) = json_of(
        http.get(url("/cases?limit=0"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = json_of(
        http.get(url("/cases?status=open,nope"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(
        store.get(case.number).await.unwrap(),
        case,
        "refused requests changed nothing"
    );
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let (base, store, _dir) = server().await;
    let case = store
        .create(new_case(CaseKind::Support, "Help"))
        .await
        .expect("create");
    let text = "x".repeat(70 * 1024);
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/cases/{}/notes", case.number))
        .bearer_auth(TOKEN)
        .json(&json!({"author": "agent", "text": text}))
        .send()
        .await
        .expect("send");
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    assert_eq!(store.timeline(case.number).await.unwrap().len(), 1);
}

#[tokio::test]
async fn create_answers_201_with_the_case() {
    let (base, _store, _dir) = server().await;
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/cases"))
        .bearer_auth(TOKEN)
        .json(&json!({"kind": "bug", "subject": "Crash", "requester": {"discord_id": "42", "name": "Ann"}}))
        .send()
        .await
        .expect("send");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["number"], "CASE-000001");
    assert_eq!(body["status"], "new");
    assert_eq!(body["priority"], "normal");
    assert_eq!(
        body["source"],
        json!({"guild_id": null, "channel_id": null, "message_id": null, "twilio_sid": null})
    );
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let (base, _store, _dir) = server().await;
    let (status, doc) = json_of(
        reqwest::get(format!("{base}/api/v1/openapi.json"))
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/{number}/status",
        "/api/v1/cases/{number}/messages",
        "/api/v1/similar",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/api/v1/cases/{number}/status"]["post"]["responses"]["409"].is_object());
    assert_eq!(flexcord_cases::openapi().paths.paths.len(), paths.len());
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let (base, store, _dir) = server().await;
    let case = store
        .create(new_case(CaseKind::Support, "Help"))
        .await
        .expect("create");
    let http = reqwest::Client::new();
    for path in [
        "/api/v1".to_owned(),
        "/api/v1/nope".to_owned(),
        format!("/api/v1/cases/{}/bogus", case.number),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send");
        let (status, body) = json_of(response).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(&path),
            "{path}: {body}"
        );
    }
    let response = http
        .delete(format!("{base}/api/v1/cases/{}", case.number))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send");
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{body}"
    );
    assert!(allow.contains("GET"), "Allow: {allow}");
    assert_eq!(
        store.get(case.number).await.unwrap(),
        case,
        "refused requests changed nothing"
    );
}

#[tokio::test]
async fn client_splits_a_batch_too_large_for_the_service() {
    let (store, _dir) = sqlite().await;
    let store: Arc<dyn CaseStore> = Arc::new(store);
    let app = flexcord_cases::CasesService::new(store.clone(), TOKEN)
        .max_body_bytes(8 * 1024)
        .api_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let client = CaseClient::new(&base, TOKEN).expect("client");
    let case = client
        .create(new_case(CaseKind::Support, "Long chat"))
        .await
        .expect("create");
    let at = time::OffsetDateTime::now_utc();
    let message = |i: usize| {
        flexcord_cases::NewMessage::new("discord:1001", format!("{i:03} {}", "y".repeat(300)), at)
    };

    // About 40 KiB of JSON against an 8 KiB limit: without external ids it is refused whole.
    let plain: Vec<_> = (0..120).map(message).collect();
    let err = client
        .append_messages(case.number, flexcord_cases::MessageBatch::new(plain))
        .await
        .expect_err("too large");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Remote {
                status: Some(413),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.timeline(case.number).await.unwrap().len(), 1);

    // With external ids it goes in parts, in order, and a repeat adds nothing.
    let keyed: Vec<_> = (0..120)
        .map(|i| message(i).external_id(format!("t:{i}")))
        .collect();
    let batch = flexcord_cases::MessageBatch::new(keyed);
    let added = client
        .append_messages(case.number, batch.clone())
        .await
        .expect("appended in parts");
    assert_eq!(added.len(), 120);
    let texts: Vec<String> = store
        .timeline(case.number)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            flexcord_cases::TimelineEvent::Message { text } => Some(text[..3].to_owned()),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..120).map(|i| format!("{i:03}")).collect();
    assert_eq!(texts, expected);
    let again = client
        .append_messages(case.number, batch)
        .await
        .expect("repeat");
    assert!(again.is_empty(), "{again:?}");

    // Over 500 messages is still refused as a whole, before anything is sent.
    let many: Vec<_> = (0..501)
        .map(|i| message(i).external_id(format!("m:{i}")))
        .collect();
    let err = client
        .append_messages(case.number, flexcord_cases::MessageBatch::new(many))
        .await
        .expect_err("too many");
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err:?}");
    assert_eq!(store.timeline(case.number).await.unwrap().len(), 121);
}

#[tokio::test]
async fn times_out_of_range_in_utc_are_refused_not_a_panic() {
    let (base, store, _dir) = server().await;
    let case = store
        .create(new_case(CaseKind::Support, "Help"))
        .await
        .expect("create");
    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/cases/{}/messages", case.number);
    // Year 9999 where it was sent, year 10000 in UTC; and year 1 locally, year 0 in UTC.
    for sent_at in ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+17:00"] {
        let response = http
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&json!({"messages": [{"author": "a", "text": "t", "sent_at": sent_at}]}))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        let (status, body) = json_of(response).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid")),
            "{sent_at}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains("sent_at"),
            "{body}"
        );
    }
    let (status, _) = json_of(
        http.post(&url)
            .bearer_auth(TOKEN)
            .json(&json!({"messages": [{"author": "a", "text": "t", "sent_at": "9999-12-31T23:00:00+05:00"}]}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "still year 9999 in UTC");
    assert_eq!(store.timeline(case.number).await.unwrap().len(), 2);
}
