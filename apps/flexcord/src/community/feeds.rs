//! The official feeds relayed into #announcements: RSS 2.0, Atom and JSON Feed (parsed with
//! `feed-rs`), each polled on its own loop so one broken feed never holds up the others.
//!
//! A poll is a conditional request (`If-None-Match` / `If-Modified-Since` with the validators
//! of the last full answer, kept in the store so a restart keeps them); `304 Not Modified`
//! ends it. Each entry of a full answer becomes a routing event
//! ([`flexcord_routing::Event::FeedEntry`]) applied through the engine like every other event:
//! the store records its key `feed:<feed>:<entry>` in the transaction that queues its post in
//! the outbox, so an entry is posted once whatever the restarts, edits (same key) and instances
//! polling the same feed. A feed's first poll posts only entries published within
//! `community.feed_max_age`; the rest of its history is remembered without being posted. A
//! failing feed (unreachable, an error status, a body that is no feed) is polled again after a
//! doubling wait, up to `community.feed_max_backoff`.

use std::sync::Arc;
use std::time::Duration;

use flexcord_routing::community::Announcement;
use flexcord_routing::{Event, Timestamp};
use flexcord_store::{Engine, FeedState, TraceId};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use tokio_util::sync::CancellationToken;

use crate::config::{CommunityConfig, FeedSettings};

/// The largest feed document read (a feed of many full articles stays far below).
pub const MAX_FEED_BYTES: usize = 5 * 1024 * 1024;

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The feed could not be fetched (connection, time limit).
    #[error("cannot fetch the feed: {0}")]
    Fetch(#[source] reqwest::Error),
    /// The server answered with an error status.
    #[error("the feed's server answered {0}")]
    Status(StatusCode),
    /// The document is larger than [`MAX_FEED_BYTES`].
    #[error("the feed is larger than {MAX_FEED_BYTES} bytes")]
    TooLarge,
    /// The document is not RSS, Atom or JSON Feed.
    #[error("the document is not a feed: {0}")]
    Parse(String),
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[from] flexcord_store::Error),
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// The server answered `304 Not Modified`.
    pub not_modified: bool,
    /// Entries queued for posting.
    pub posted: usize,
    /// New entries remembered without posting (history at the first poll, filtered out).
    pub remembered: usize,
    /// Entries seen before (most of every poll).
    pub known: usize,
}

/// The wait before the next poll after `failures` failures in a row: the interval, doubled at
/// each failure, at most `max`.
pub fn backoff(interval: Duration, failures: u32, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(20));
    interval.saturating_mul(factor).min(max.max(interval))
}

/// The entry key feed-rs gives an entry without an id: its first link, else its title, else
/// nothing (such an entry cannot be told apart from the next one and is skipped). Unlike
/// feed-rs's own default it does not hash the title with the link, so an edited title keeps
/// the key.
#[allow(clippy::ref_option)] // the signature of feed-rs's id generators
fn entry_key(
    links: &[feed_rs::model::Link],
    title: &Option<feed_rs::model::Text>,
    _base: Option<&str>,
) -> String {
    if let Some(link) = links.first() {
        return link.href.clone();
    }
    title
        .as_ref()
        .map(|t| t.content.trim())
        .filter(|t| !t.is_empty())
        .map_or_else(String::new, |t| format!("title:{t}"))
}

/// The page of an entry: its first link to a page (`alternate`, or no relation, and not an
/// image), else its first link.
fn page_of(entry: &feed_rs::model::Entry) -> Option<String> {
    let page = entry.links.iter().find(|l| {
        l.rel.as_deref().is_none_or(|r| r == "alternate")
            && !l
                .media_type
                .as_deref()
                .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("image/"))
    });
    page.or(entry.links.first()).map(|l| l.href.clone())
}

/// The image of an entry: a media item or thumbnail, or a link, of an image type.
fn image_of(entry: &feed_rs::model::Entry) -> Option<String> {
    let is_image = |t: &str| t.trim().to_ascii_lowercase().starts_with("image/");
    for media in &entry.media {
        for content in &media.content {
            if let (Some(url), Some(t)) = (&content.url, &content.content_type)
                && is_image(t.as_ref())
            {
                return Some(url.to_string());
            }
        }
        if let Some(thumb) = media.thumbnails.first() {
            return Some(thumb.image.uri.clone());
        }
    }
    entry
        .links
        .iter()
        .find(|l| l.media_type.as_deref().is_some_and(is_image))
        .map(|l| l.href.clone())
}

/// The events of a feed document: one per entry with a key, oldest first. On the `first` poll
/// only entries published (or updated) within `max_age` of `now` carry a post; so does no
/// entry the feed's filter leaves out.
///
/// # Errors
/// [`FeedError::Parse`] when the document is not a feed.
pub fn entries(
    feed: &FeedSettings,
    body: &[u8],
    now: Timestamp,
    first: bool,
    max_age: Duration,
) -> Result<Vec<Event>, FeedError> {
    let parser = feed_rs::parser::Builder::new()
        .id_generator(entry_key)
        .sanitize_content(false)
        .build();
    let parsed = parser
        .parse(body)
        .map_err(|e| FeedError::Parse(e.to_string()))?;
    let max_age = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let mut dated: Vec<(Option<i64>, Event)> = Vec::new();
    for entry in parsed.entries {
        let key = entry.id.trim().to_owned();
        if key.is_empty() {
            tracing::debug!(feed = %feed.name, "a feed entry without id, link or title is skipped");
            continue;
        }
        let at = entry
            .published
            .or(entry.updated)
            .map(|d| d.timestamp_millis());
        let title = entry
            .title
            .as_ref()
            .map(|t| crate::community::plain_text(&t.content))
            .unwrap_or_default();
        let summary = entry
            .summary
            .as_ref()
            .map(|t| t.content.clone())
            .or_else(|| entry.content.as_ref().and_then(|c| c.body.clone()))
            .map(|s| crate::community::plain_text(&s))
            .unwrap_or_default();
        let fresh = at.is_some_and(|at| now.0.saturating_sub(at) <= max_age);
        let wanted = feed
            .filter
            .as_ref()
            .is_none_or(|f| f.is_match(&title) || f.is_match(&summary));
        let post = ((!first || fresh) && wanted).then(|| Announcement {
            title: if title.is_empty() {
                feed.name.clone()
            } else {
                title
            },
            url: page_of(&entry),
            text: cut_summary(&summary),
            image: image_of(&entry),
            source: Some(
                parsed
                    .title
                    .as_ref()
                    .map(|t| crate::community::plain_text(&t.content))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| feed.name.clone()),
            ),
        });
        dated.push((
            at,
            Event::FeedEntry {
                feed: feed.name.clone(),
                entry: key,
                post,
            },
        ));
    }
    // Feeds list the newest first; post in the order things happened (undated ones last, in
    // the feed's order reversed).
    dated.reverse();
    dated.sort_by_key(|(at, _)| at.unwrap_or(i64::MAX));
    Ok(dated.into_iter().map(|(_, e)| e).collect())
}

fn cut_summary(summary: &str) -> String {
    let max = crate::community::SUMMARY_MAX;
    if summary.chars().count() <= max {
        return summary.to_owned();
    }
    let mut out: String = summary.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Polls every configured feed on its own loop and applies what they bring through the engine.
pub struct Poller {
    engine: Arc<Engine>,
    http: reqwest::Client,
    feeds: Vec<FeedSettings>,
    interval: Duration,
    max_age: Duration,
    max_backoff: Duration,
}

impl Poller {
    /// A poller of `config`'s feeds.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(engine: Arc<Engine>, config: &CommunityConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.feed_timeout)
            .user_agent(concat!(
                "flexcord/",
                env!("CARGO_PKG_VERSION"),
                " (feed relay)"
            ))
            .build()?;
        Ok(Self {
            engine,
            http,
            feeds: config.feeds.clone(),
            interval: config.feed_interval,
            max_age: config.feed_max_age,
            max_backoff: config.feed_max_backoff,
        })
    }

    /// Polls each feed every `community.feed_interval` (backing off while it fails) until
    /// `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut loops = tokio::task::JoinSet::new();
        for i in 0..this.feeds.len() {
            let this = this.clone();
            let shutdown = shutdown.clone();
            loops.spawn(async move { this.feed_loop(i, shutdown).await });
        }
        while loops.join_next().await.is_some() {}
    }

    async fn feed_loop(&self, i: usize, shutdown: CancellationToken) {
        let Some(feed) = self.feeds.get(i) else {
            return;
        };
        let mut failures = 0u32;
        loop {
            // A poll in progress is dropped at shutdown: each entry is applied in a transaction
            // of its own, so what was applied stays and the rest comes with the next poll.
            let polled = tokio::select! {
                () = shutdown.cancelled() => return,
                polled = self.poll(feed) => polled,
            };
            let wait = match polled {
                Ok(polled) => {
                    failures = 0;
                    let outcome = if polled.not_modified {
                        "not_modified"
                    } else {
                        "ok"
                    };
                    metrics::counter!(crate::telemetry::FEED_POLLS, "feed" => feed.name.clone(), "outcome" => outcome)
                        .increment(1);
                    if polled.posted > 0 || polled.remembered > 0 {
                        tracing::info!(feed = %feed.name, posted = polled.posted, remembered = polled.remembered, "feed polled");
                    }
                    self.interval
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(self.interval, failures, self.max_backoff);
                    metrics::counter!(crate::telemetry::FEED_POLLS, "feed" => feed.name.clone(), "outcome" => "failed")
                        .increment(1);
                    tracing::warn!(feed = %feed.name, url = %feed.url, error = %e, failures, next_in = ?wait, "feed poll failed");
                    wait
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Polls `feed` once.
    ///
    /// # Errors
    /// [`FeedError`]: the feed could not be fetched or read, or the store failed.
    pub async fn poll(&self, feed: &FeedSettings) -> Result<Polled, FeedError> {
        let store = self.engine.store();
        let state = store.feed_state(&feed.name).await?;
        let mut request = self.http.get(feed.url.clone());
        if let Some(etag) = &state.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &state.last_modified {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
        let mut response = request.send().await.map_err(FeedError::Fetch)?;
        let now = flexcord_store::now();
        if response.status() == StatusCode::NOT_MODIFIED {
            store.save_feed_state(&feed.name, &state, now).await?;
            return Ok(Polled {
                not_modified: true,
                ..Polled::default()
            });
        }
        if !response.status().is_success() {
            return Err(FeedError::Status(response.status()));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FeedError::Fetch)? {
            if body.len() + chunk.len() > MAX_FEED_BYTES {
                return Err(FeedError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let first = state.primed_at.is_none();
        let events = entries(feed, &body, now, first, self.max_age)?;
        let mut polled = Polled::default();
        for event in events {
            let posts = matches!(&event, Event::FeedEntry { post: Some(_), .. });
            let trace = match &event {
                Event::FeedEntry { entry, .. } => TraceId::derived(
                    "feed",
                    &flexcord_routing::community::feed_scope(&feed.name, entry),
                ),
                _ => None,
            };
            let applied = TraceId::scope_opt(trace, self.engine.handle(event)).await?;
            match (applied.duplicate, posts && !applied.step.actions.is_empty()) {
                (true, _) => polled.known += 1,
                (false, true) => polled.posted += 1,
                (false, false) => polled.remembered += 1,
            }
        }
        let saved = FeedState {
            etag,
            last_modified,
            primed_at: state.primed_at.or(first.then_some(now)),
        };
        store.save_feed_state(&feed.name, &saved, now).await?;
        Ok(polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(filter: Option<&str>) -> FeedSettings {
        FeedSettings {
            name: "blog".into(),
            url: url::Url::parse("https://example.com/feed").unwrap(),
            filter: filter.map(|f| regex::Regex::new(&format!("(?i){f}")).unwrap()),
        }
    }

    const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Our blog</title>
        <item><title>Newer</title><link>https://example.com/2</link><guid>post-2</guid>
          <pubDate>Mon, 07 Dec 2026 04:00:00 GMT</pubDate><description>&lt;p&gt;Two&lt;/p&gt;</description>
          <enclosure url="https://example.com/2.png" type="image/png" length="10"/></item>
        <item><title>Older</title><link>https://example.com/1</link>
          <pubDate>Mon, 30 Nov 2026 04:00:00 GMT</pubDate><description>One</description></item>
        <item><description>no title, no link</description></item>
        </channel></rss>"#;

    /// 2026-12-07 05:00 UTC.
    const NOW: Timestamp = Timestamp(1_796_619_600_000);

    #[test]
    fn the_first_poll_posts_only_fresh_entries_oldest_first() {
        let events = entries(
            &feed(None),
            RSS.as_bytes(),
            NOW,
            true,
            Duration::from_secs(2 * 86_400),
        )
        .unwrap();
        let summary: Vec<(String, Option<String>)> = events
            .iter()
            .map(|e| match e {
                Event::FeedEntry { entry, post, .. } => {
                    (entry.clone(), post.as_ref().map(|p| p.title.clone()))
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("https://example.com/1".to_owned(), None),
                ("post-2".to_owned(), Some("Newer".to_owned())),
            ]
        );
        let Event::FeedEntry { post: Some(p), .. } = &events[1] else {
            panic!()
        };
        assert_eq!(p.text, "Two");
        assert_eq!(p.image.as_deref(), Some("https://example.com/2.png"));
        assert_eq!(p.source.as_deref(), Some("Our blog"));
        // Later polls post whatever is new, old or not.
        let later = entries(
            &feed(None),
            RSS.as_bytes(),
            NOW,
            false,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(
            later
                .iter()
                .all(|e| matches!(e, Event::FeedEntry { post: Some(_), .. }))
        );
    }

    #[test]
    fn the_filter_leaves_entries_out_but_remembers_them() {
        let events = entries(
            &feed(Some("newer")),
            RSS.as_bytes(),
            NOW,
            false,
            Duration::ZERO,
        )
        .unwrap();
        let posted: Vec<bool> = events
            .iter()
            .map(|e| matches!(e, Event::FeedEntry { post: Some(_), .. }))
            .collect();
        assert_eq!(posted, [false, true]);
    }

    #[test]
    fn an_atom_entry_links_to_its_page_not_its_edit_link() {
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Status</title>
            <id>urn:s</id><updated>2026-12-07T04:00:00Z</updated>
            <entry><id>urn:s:1</id><title>Outage</title><updated>2026-12-07T04:00:00Z</updated>
              <link rel="edit" href="https://status.example.com/api/1"/>
              <link rel="alternate" href="https://status.example.com/incidents/1"/></entry></feed>"#;
        let events = entries(&feed(None), atom.as_bytes(), NOW, false, Duration::ZERO).unwrap();
        let [
            Event::FeedEntry {
                entry,
                post: Some(p),
                ..
            },
        ] = events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert_eq!(entry, "urn:s:1");
        assert_eq!(
            p.url.as_deref(),
            Some("https://status.example.com/incidents/1")
        );
        assert_eq!(p.text, "", "no summary");
        assert_eq!(p.source.as_deref(), Some("Status"));
    }

    #[test]
    fn what_is_no_feed_is_an_error() {
        assert!(matches!(
            entries(
                &feed(None),
                b"<html>nope</html>",
                NOW,
                false,
                Duration::ZERO
            ),
            Err(FeedError::Parse(_))
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_bound() {
        let m = Duration::from_secs(60);
        let h = Duration::from_secs(3600);
        assert_eq!(backoff(m, 0, h), m);
        assert_eq!(backoff(m, 1, h), 2 * m);
        assert_eq!(backoff(m, 3, h), 8 * m);
        assert_eq!(backoff(m, 30, h), h);
        assert_eq!(backoff(h, 2, m), h, "never shorter than the interval");
    }
}
