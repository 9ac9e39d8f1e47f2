//! What an operator watches: the admin listener, and every metric the shipped Grafana dashboard
//! and Prometheus alert rules name, exposed after a customer journey with a hand-off.

use std::collections::BTreeSet;

use flexcord_testkit::twilio::Fault;

use crate::bridge::{Bridge, WAIT};
use crate::support::{eventually, sample, scrape};

/// The files whose metric names must all be exposed, relative to the repository root.
const NAMING_FILES: &[&str] = &[
    "docs/grafana/flexcord-dashboard.json",
    "deploy/prometheus/alerts.yml",
];

fn repository_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every `flexcord_...` metric name in `text` (a dashboard's queries, alert expressions).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("flexcord_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        // `flexcord_` inside a longer word (a job or file name) is not a metric.
        let inside_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !inside_word {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// Whether the exposition has a sample of `name` (with or without labels).
fn exposed(text: &str, name: &str) -> bool {
    text.lines().filter(|l| !l.starts_with('#')).any(|l| {
        l.strip_prefix(name)
            .is_some_and(|r| r.starts_with(['{', ' ']))
    })
}

#[test]
fn metric_names_are_read_from_queries() {
    let names = metric_names(
        r#"{"expr": "sum(rate(flexcord_messages_routed_total{direction=\"to_twilio\"}[5m]))",
            "job": "flexcord_x", "file": "my-flexcord_y", "q": "histogram_quantile(0.95, flexcord_upstream_latency_seconds_bucket)"}"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "flexcord_messages_routed_total",
            "flexcord_upstream_latency_seconds_bucket",
            "flexcord_x"
        ]
    );
    assert!(exposed("a_total{x=\"1\"} 2\nb 1\n", "a_total"));
    assert!(exposed("a_total{x=\"1\"} 2\nb 1\n", "b"));
    assert!(!exposed("a_total_more 2\n# TYPE c counter\n", "a_total"));
    assert!(!exposed("# TYPE c counter\n", "c"));
}

#[tokio::test]
async fn every_metric_the_dashboard_and_alerts_name_is_exposed_after_a_hand_off() {
    let b = Bridge::start_with(&[
        ("FLEXCORD_SERVER__ADMIN_LISTEN", "127.0.0.1:0"),
        ("FLEXCORD_OUTBOX__BASE_BACKOFF", "100ms"),
        ("FLEXCORD_OUTBOX__MAX_BACKOFF", "400ms"),
    ])
    .await;
    let admin = b.admin.clone().expect("the admin listener is on");

    // The admin listener answers the probes and the metrics; the public one no metrics.
    let status =
        |url: String| async move { reqwest::get(url).await.expect("answers").status().as_u16() };
    assert_eq!(status(format!("{admin}/healthz")).await, 200);
    // Ready once every part has shown a sign of life (the worker's first heartbeat, the timer
    // loop's first round), a moment after the start.
    eventually("the admin listener's /readyz answers 200", WAIT, || async {
        (status(format!("{admin}/readyz")).await == 200).then_some(())
    })
    .await;
    assert_eq!(status(format!("{}/readyz", b.public)).await, 200);
    assert_eq!(status(format!("{}/metrics", b.public)).await, 404);
    assert_eq!(status(format!("{admin}/twilio/outbound")).await, 404);

    // The journey: a question the bot answers, a hand-off, the agent joins; one Twilio 500 on
    // the user's next message (a retry), then a message each way.
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    b.twilio.inject(
        Fault::on("POST", "/v1/Conversations/*/Messages")
            .server_error()
            .times(1),
    );
    b.discord
        .inject_dm(alice, "Thanks for taking this")
        .unwrap();
    let author = format!("discord:{alice}");
    eventually("the DM reaches Twilio after a retry", WAIT, || async {
        b.twilio
            .messages(&sid)
            .iter()
            .any(|m| m.author == author && m.body.as_deref() == Some("Thanks for taking this"))
            .then_some(())
    })
    .await;
    agent.send(&sid, "Happy to help").unwrap();
    b.dm_containing(alice, "Happy to help").await;

    let text = scrape(&admin).await;
    let mut named = BTreeSet::new();
    for file in NAMING_FILES {
        let in_file = metric_names(&repository_file(file));
        assert!(in_file.len() >= 5, "{file} names metrics: {in_file:?}");
        named.extend(in_file);
    }
    let missing: Vec<&String> = named.iter().filter(|n| !exposed(&text, n)).collect();
    assert!(missing.is_empty(), "not exposed: {missing:?}\n{text}");

    // What the journey did shows in them (the recorder is shared by this binary's tests: at
    // least ours are counted).
    for (series, at_least) in [
        ("flexcord_handoffs_total", 1.0),
        (r#"flexcord_bot_replies_total{outcome="answered"}"#, 1.0),
        (
            r#"flexcord_messages_routed_total{direction="to_twilio"}"#,
            2.0,
        ),
        (
            r#"flexcord_messages_routed_total{direction="to_discord"}"#,
            1.0,
        ),
        (
            r#"flexcord_outbox_retries_total{action="post_to_twilio"}"#,
            1.0,
        ),
        (
            r#"flexcord_webhooks_total{route="outbound",outcome="accepted"}"#,
            1.0,
        ),
        (
            r#"flexcord_upstream_latency_seconds_count{upstream="twilio"}"#,
            1.0,
        ),
        (
            r#"flexcord_webhook_duration_seconds_count{route="outbound"}"#,
            1.0,
        ),
    ] {
        let value = sample(&text, series).unwrap_or(0.0);
        assert!(value >= at_least, "{series} = {value}\n{text}");
    }
    assert!(
        text.contains(r#"flexcord_upstream_latency_seconds_bucket{upstream="twilio",le="30"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"flexcord_webhook_duration_seconds_bucket{route="outbound",le="15"}"#),
        "{text}"
    );

    // The container's health check is the binary itself.
    let probe = tokio::process::Command::new(env!("CARGO_BIN_EXE_flexcord"))
        .args(["healthcheck", "--url", &format!("{admin}/healthz")])
        .output()
        .await
        .expect("the binary runs");
    assert_eq!(
        probe.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    b.stop().await;
}
