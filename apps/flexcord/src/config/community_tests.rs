//! Tests of `[community]` and `[feeds.<name>]`.

use super::*;

/// The minimal valid configuration (as in `tests.rs`).
const GOOD: &str = r#"
[discord]
token = "discord-secret-token"
application_id = "100"

[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "twilio-secret-token"
workspace_sid = "WS0123456789abcdef0123456789abcdef"
workflow_sid = "WW0123456789abcdef0123456789abcdef"

[server]
public_url = "https://bridge.example.com"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    Config::load(text, env(vars))
        .expect_err("invalid")
        .problems()
        .to_vec()
}

#[test]
fn defaults_name_the_layout_and_relay_nothing() {
    let c = Config::load(GOOD, env(&[])).unwrap().community;
    assert_eq!(c.names, GuildNames::default());
    assert_eq!(c.names.category, "Community");
    assert_eq!(c.names.staff_role, "Staff");
    assert_eq!(c.staff_role_id, None);
    assert!(c.feeds.is_empty());
    assert_eq!(c.feed_interval, Duration::from_secs(300));
    assert_eq!(c.feed_max_age, Duration::from_secs(2 * 86_400));
    assert_eq!(c.feed_max_backoff, Duration::from_secs(3600));
}

#[test]
fn feeds_come_from_tables_and_the_environment() {
    let text = format!(
        "{GOOD}\n[community]\nannouncements_channel_id = \"500\"\nstaff_role_id = \"77\"\n\n\
         [feeds.blog]\nurl = \"https://example.com/feed.xml\"\nfilter = \"release\"\n"
    );
    let c = Config::load(
        &text,
        env(&[
            (
                "FLEXCORD_FEEDS__STATUS__URL",
                "https://status.example.com/history.atom",
            ),
            ("FLEXCORD_COMMUNITY__FEED_INTERVAL", "90s"),
        ]),
    )
    .unwrap()
    .community;
    assert_eq!(c.announcements_channel_id, Some(500));
    assert_eq!(c.staff_role_id, Some(77));
    assert_eq!(c.feed_interval, Duration::from_secs(90));
    let names: Vec<&str> = c.feeds.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["blog", "status"]);
    let blog = &c.feeds[0];
    assert!(blog.filter.as_ref().unwrap().is_match("New RELEASE today"));
    assert!(c.feeds[1].filter.is_none());
}

#[test]
fn every_feed_problem_is_named() {
    let text = format!(
        "{GOOD}\n[feeds.blog]\nfilter = \"(\"\n\n[feeds.Bad]\nurl = \"https://x\"\n\n\
         [feeds.news]\nurl = \"ftp://example.com/feed\"\ncolour = \"red\"\n"
    );
    let p = problems(&text, &[("FLEXCORD_FEEDS__OTHER__COLOR", "x")]);
    let has = |needle: &str| p.iter().any(|l| l.contains(needle));
    assert!(has("feeds.blog.url"), "{p:#?}");
    assert!(has("feeds.blog.filter"), "{p:#?}");
    assert!(has("feeds.Bad"), "{p:#?}");
    assert!(has("feeds.news.url"), "{p:#?}");
    assert!(has("feeds.news.colour"), "{p:#?}");
    assert!(has("FLEXCORD_FEEDS__OTHER__COLOR"), "{p:#?}");
    assert!(has("community.announcements_channel_id"), "{p:#?}");
}

#[test]
fn layout_names_and_durations_are_checked() {
    let p = problems(
        &format!(
            "{GOOD}\n[community]\nannouncements_name = \"Big News\"\nfeed_interval = \"0s\"\nstaff_role_id = \"x\"\n"
        ),
        &[],
    );
    let has = |needle: &str| p.iter().any(|l| l.contains(needle));
    assert!(has("community.announcements_name"), "{p:#?}");
    assert!(has("community.feed_interval"), "{p:#?}");
    assert!(has("community.staff_role_id"), "{p:#?}");
}
