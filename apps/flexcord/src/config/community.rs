//! `[community]` and `[feeds.<name>]`: the guild's layout (`flexcord setup-guild`, `/setup`),
//! #announcements and the staff role (`/announce`), and the feeds relayed into #announcements.

use std::time::Duration;

use regex::Regex;

use super::reader::{Reader, parse_duration, snowflake, url_with};

/// The keys of one feed, `feeds.<name>.<key>`, with their defaults.
pub const FEED_KEYS: &[(&str, Option<&str>)] = &[("url", None), ("filter", None)];

/// Whether `name` may name a feed (`[feeds.<name>]`): 1 to 32 of `a-z`, `0-9`, `_`, `-`.
pub fn is_feed_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Whether `key` (as `<name>.<key>`) is a key of the `feeds` section.
pub(super) fn is_feed_key(key: &str) -> bool {
    key.split_once('.')
        .is_some_and(|(name, k)| is_feed_name(name) && FEED_KEYS.iter().any(|(f, _)| *f == k))
}

/// `[community]`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CommunityConfig {
    /// #announcements: where feed entries and `/announce` posts go.
    pub announcements_channel_id: Option<u64>,
    /// #customer-service, where members run `/helpme` (set by `setup-guild`'s output).
    pub customer_service_channel_id: Option<u64>,
    /// The staff role: only its members may `/announce`; `setup-guild` creates one named
    /// `staff_role_name` when unset.
    pub staff_role_id: Option<u64>,
    /// The names `setup-guild` and `/setup` give the category, channels and role.
    pub names: GuildNames,
    /// How often each feed is polled.
    pub feed_interval: Duration,
    /// A feed's first poll posts only entries published within this age (the rest is
    /// remembered as history, never posted).
    pub feed_max_age: Duration,
    /// The longest wait between polls of a feed that keeps failing (the wait doubles from
    /// `feed_interval` at each failure).
    pub feed_max_backoff: Duration,
    /// How long one feed request may take.
    pub feed_timeout: Duration,
    /// The feeds, in name order.
    pub feeds: Vec<FeedSettings>,
}

/// The names of what `setup-guild` lays out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuildNames {
    /// The category holding the channels.
    pub category: String,
    /// #announcements.
    pub announcements: String,
    /// #customer-service.
    pub customer_service: String,
    /// #bug-report.
    pub bug_report: String,
    /// #feature-request.
    pub feature_request: String,
    /// The staff role created when `community.staff_role_id` is unset.
    pub staff_role: String,
}

impl Default for GuildNames {
    fn default() -> Self {
        Self {
            category: "Community".into(),
            announcements: "announcements".into(),
            customer_service: "customer-service".into(),
            bug_report: "bug-report".into(),
            feature_request: "feature-request".into(),
            staff_role: "Staff".into(),
        }
    }
}

/// One `[feeds.<name>]` table.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FeedSettings {
    /// The feed's name (the table's), shown as the posts' author line and keying what the store
    /// remembers of it: renaming a feed makes it new.
    pub name: String,
    /// Its URL (RSS 2.0, Atom or JSON Feed).
    pub url: url::Url,
    /// Only entries whose title or summary matches this pattern are posted.
    pub filter: Option<Regex>,
}

/// A Discord channel name as Discord stores it: lower case, no spaces, 1 to 100 characters.
fn channel_name(s: &str) -> Result<String, String> {
    let ok = (1..=100).contains(&s.chars().count())
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_uppercase() && c != '#');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a channel name (1 to 100 characters, lower case, no spaces or #)"
        ))
    }
}

fn display_name(s: &str) -> Result<String, String> {
    if (1..=100).contains(&s.trim().chars().count()) {
        Ok(s.trim().to_owned())
    } else {
        Err(format!("{s:?} must be 1 to 100 characters"))
    }
}

/// Reads `[community]` and the feeds, naming every problem.
pub(super) fn read(r: &mut Reader) -> Option<CommunityConfig> {
    let announcements_channel_id = r.optional("community", "announcements_channel_id", snowflake);
    let customer_service_channel_id =
        r.optional("community", "customer_service_channel_id", snowflake);
    let staff_role_id = r.optional("community", "staff_role_id", snowflake);
    let mut name =
        |key: &str, parse: fn(&str) -> Result<String, String>| r.required("community", key, parse);
    let category = name("category_name", display_name);
    let announcements = name("announcements_name", channel_name);
    let customer_service = name("customer_service_name", channel_name);
    let bug_report = name("bug_report_name", channel_name);
    let feature_request = name("feature_request_name", channel_name);
    let staff_role = name("staff_role_name", display_name);
    let at_least = |min: Duration| {
        move |s: &str| match parse_duration(s)? {
            d if d < min => Err(format!(
                "{s:?} must be at least {}",
                super::format_duration(min)
            )),
            d => Ok(d),
        }
    };
    let feed_interval = r.required(
        "community",
        "feed_interval",
        at_least(Duration::from_secs(1)),
    );
    let feed_max_age = r.required("community", "feed_max_age", parse_duration);
    let feed_max_backoff = r.required(
        "community",
        "feed_max_backoff",
        at_least(Duration::from_secs(1)),
    );
    let feed_timeout = r.required(
        "community",
        "feed_timeout",
        at_least(Duration::from_secs(1)),
    );
    let (feeds, any_feed) = read_feeds(r);
    if any_feed && r.text("community", "announcements_channel_id").is_none() {
        r.problem(
            "community",
            "announcements_channel_id",
            "missing (required when feeds are configured: their entries are posted there)",
        );
    }
    Some(CommunityConfig {
        announcements_channel_id,
        customer_service_channel_id,
        staff_role_id,
        names: GuildNames {
            category: category?,
            announcements: announcements?,
            customer_service: customer_service?,
            bug_report: bug_report?,
            feature_request: feature_request?,
            staff_role: staff_role?,
        },
        feed_interval: feed_interval?,
        feed_max_age: feed_max_age?,
        feed_max_backoff: feed_max_backoff?,
        feed_timeout: feed_timeout?,
        feeds,
    })
}

/// The feeds, and whether any is configured (even one with problems).
fn read_feeds(r: &mut Reader) -> (Vec<FeedSettings>, bool) {
    let names: std::collections::BTreeSet<String> = r
        .raw
        .values
        .keys()
        .filter(|(s, _)| s == "feeds")
        .filter_map(|(_, k)| k.split_once('.').map(|(n, _)| n.to_owned()))
        .collect();
    let any = !names.is_empty();
    let mut feeds = Vec::new();
    for name in names {
        let url = r.required(
            "feeds",
            &format!("{name}.url"),
            url_with(&["https", "http"]),
        );
        let filter = r.optional("feeds", &format!("{name}.filter"), |s| {
            Regex::new(&format!("(?i){s}")).map_err(|e| format!("{s:?} is not a pattern: {e}"))
        });
        if let Some(url) = url {
            feeds.push(FeedSettings { name, url, filter });
        }
    }
    (feeds, any)
}
