//! The case pages on a phone, in headless Chromium (Debian's `chromium`): at 390 px the sidebar
//! lies below the main column and no element is wider than the viewport, measured from the
//! elements' boxes.
//!
//! Chromium is driven over the DevTools protocol with `tokio-tungstenite` (already a workspace
//! dependency): three protocol calls do not justify a generated protocol crate's build time on
//! this machine, nor a WebDriver server beside the browser. Without Chromium the test says so
//! and skips, except under `FLEXCORD_CI=1`, where it fails.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use flexcord_cases::{
    Accounts, CaseKind, CaseStore, CasesService, MessageBatch, NewMessage, SqliteCaseStore,
};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{TOKEN, new_case, serve_service, sqlite};

/// The browser, or `None` (after saying why) when it is absent and skipping is allowed.
fn chromium() -> Option<std::path::PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
            "chromium is not installed but FLEXCORD_CI=1: the phone layout test must run in CI (apt-get install -y chromium)"
        );
        eprintln!(
            "skipped: chromium is not installed (apt-get install -y chromium), so the phone layout is not measured"
        );
    }
    found
}

/// One DevTools connection with request ids.
struct Cdp {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u64,
}

impl Cdp {
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            request["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(request.to_string()))
            .await
            .expect("send to chromium");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("chromium answers within 30 s")
                .expect("the connection stays open")
                .expect("a frame");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("JSON from chromium");
            if value["id"] == id {
                assert!(value["error"].is_null(), "{method}: {value}");
                return value["result"].clone();
            }
        }
    }
}

/// What the page measures of itself.
const MEASURE: &str = r"(() => {
  const vw = document.documentElement.clientWidth;
  const grid = document.querySelector('.grid');
  const cols = grid ? Array.from(grid.children).map(c => c.getBoundingClientRect()) : [];
  let widest = null, right = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > right) { right = r.right; widest = el.tagName + '.' + el.className; }
  }
  return JSON.stringify({
    vw, inner: window.innerWidth, scroll: document.documentElement.scrollWidth, right, widest,
    cols: cols.map(r => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width})),
    ready: document.readyState, title: document.title
  });
})()";

#[tokio::test]
async fn the_case_page_is_one_column_on_a_phone() {
    let Some(browser) = chromium() else {
        return;
    };
    // A case with long words, a long transcript line and a full timeline.
    let (store, _dir) = sqlite().await;
    let store: Arc<SqliteCaseStore> = Arc::new(store);
    let accounts: Arc<dyn Accounts> = store.clone();
    accounts
        .set_agent("erin", "Erin Example", "correct horse battery staple")
        .await
        .expect("agent");
    let case = store
        .create(
            new_case(CaseKind::Bug, "The checkout button does nothing on Android").description(
                format!(
                    "Steps: https://example.com/{}",
                    "very-long-path-".repeat(12)
                ),
            ),
        )
        .await
        .expect("case");
    store
        .append_messages(
            case.number,
            MessageBatch::new(vec![
                NewMessage::new(
                    "discord:1001",
                    "I tapped it ten times",
                    time::OffsetDateTime::now_utc(),
                ),
                NewMessage::new(
                    "agent.jane@brand.example",
                    format!("Try this link {}", "x".repeat(120)),
                    time::OffsetDateTime::now_utc(),
                )
                .author_name("Jane Doe"),
            ]),
        )
        .await
        .expect("messages");
    let (cookie, _) = accounts
        .start_session(
            "agent:erin",
            "Erin Example",
            time::OffsetDateTime::now_utc() + time::Duration::HOUR,
        )
        .await
        .expect("session");
    let base = serve_service(
        CasesService::new(store.clone() as Arc<dyn CaseStore>, TOKEN)
            .accounts(accounts)
            .web_prefix("/cases"),
    )
    .await;

    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            "about:blank",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let ws = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stderr line") {
            if let Some(url) = line.split("DevTools listening on ").nth(1) {
                return url.trim().to_owned();
            }
        }
        panic!("chromium exited without a DevTools address");
    })
    .await
    .expect("chromium is listening within 60 s");
    // Keep reading its stderr so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (socket, _) = tokio_tungstenite::connect_async(ws.as_str())
        .await
        .expect("DevTools connects");
    let mut cdp = Cdp { socket, next: 0 };
    let target = cdp
        .call(None, "Target.createTarget", json!({"url": "about:blank"}))
        .await;
    let attached = cdp
        .call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        )
        .await;
    let session = attached["sessionId"].as_str().expect("session").to_owned();
    let s = Some(session.as_str());
    cdp.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": true}),
    )
    .await;
    cdp.call(
        s,
        "Network.setCookie",
        json!({"name": "flexcord_cases_session", "value": cookie, "url": format!("{base}/cases/")}),
    )
    .await;

    let mut measured = Vec::new();
    for path in [format!("/cases/{}", case.number), "/cases/".to_owned()] {
        cdp.call(s, "Page.navigate", json!({"url": format!("{base}{path}")}))
            .await;
        let mut boxes = Value::Null;
        for _ in 0..100 {
            let result = cdp
                .call(
                    s,
                    "Runtime.evaluate",
                    json!({"expression": MEASURE, "returnByValue": true}),
                )
                .await;
            boxes = result["result"]["value"]
                .as_str()
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or(Value::Null);
            if boxes["ready"] == "complete"
                && boxes["title"].as_str().is_some_and(|t| !t.is_empty())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        measured.push((path, boxes));
    }
    child.kill().await.expect("chromium stops");

    for (path, boxes) in &measured {
        println!("{path}: {boxes}");
        assert_eq!(boxes["ready"], "complete", "{path} loaded: {boxes}");
        assert!(
            !boxes["title"].as_str().unwrap_or("").contains("Sign in"),
            "{path}: signed in"
        );
        let vw = boxes["vw"].as_f64().expect("viewport width");
        assert!(
            (380.0..=390.0).contains(&vw),
            "{path}: a phone's width: {boxes}"
        );
        assert!(
            boxes["scroll"].as_f64().expect("scroll width") <= vw,
            "{path}: the page does not scroll sideways: {boxes}"
        );
        assert!(
            boxes["right"].as_f64().expect("right edge") <= vw + 0.5,
            "{path}: nothing is wider than the viewport (widest: {}): {boxes}",
            boxes["widest"]
        );
    }
    let (_, case_page) = &measured[0];
    let cols = case_page["cols"].as_array().expect("columns");
    assert_eq!(cols.len(), 2, "main column and sidebar: {case_page}");
    let (main, side) = (&cols[0], &cols[1]);
    let f = |v: &Value, k: &str| v[k].as_f64().expect(k);
    assert!(
        f(side, "top") >= f(main, "bottom") - 0.5,
        "the sidebar lies below the main column: {case_page}"
    );
    assert!(
        (f(side, "left") - f(main, "left")).abs() < 0.5
            && (f(side, "width") - f(main, "width")).abs() < 0.5,
        "one column: same left edge and width: {case_page}"
    );
}
