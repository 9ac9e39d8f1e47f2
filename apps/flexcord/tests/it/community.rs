//! The community side end to end: `setup-guild` against the Discord emulator (the plan, its
//! idempotence read from the request log, the overwrites it makes, guilds with and without
//! `COMMUNITY`, a missing permission), `/setup` and `/announce` through the app as
//! `flexcord run` builds it, and the feed relay against a local server of RSS, Atom and JSON
//! Feed fixtures (first poll, 304s, edits, duplicates, a broken feed, restarts, two instances).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flexcord::app::{App, RunError};
use flexcord::community::setup::{self, Change, SetupError};
use flexcord::config::{Config, GuildNames};
use flexcord_testkit::Emulators;
use flexcord_testkit::discord::{
    ChannelKind, ChannelSpec, DiscordConfig, ModalSubmit, RoleSpec, SlashCommand, StoredMessage,
    UserSpec,
};
use flexcord_testkit::twilio::TwilioConfig;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use tokio_util::sync::CancellationToken;

use crate::bridge::{WAIT, app_env, free_port};
use crate::support::eventually;

/// The bot's role in these guilds: what setting a guild up needs.
const BOT_ROLE: u64 = 1_200_000_000_000_000_030;
/// A role whose members are the staff.
const STAFF_ROLE: u64 = 1_200_000_000_000_000_031;
/// An administrators' role.
const ADMIN_ROLE: u64 = 1_200_000_000_000_000_020;
const ALICE: u64 = 1_200_000_000_000_000_100;
const BOB: u64 = 1_200_000_000_000_000_101;
const CAROL: u64 = 1_200_000_000_000_000_102;

/// Manage Channels, Manage Roles, View Channels, Send Messages, Embed Links, Read Message
/// History.
const SETUP_PERMISSIONS: u64 = (1 << 4) | (1 << 28) | (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16);

/// The emulator's guild for these tests: alice is staff, carol an administrator, bob neither;
/// the bot may set the guild up unless `bot_permissions` is false.
fn guild(community: bool, bot_permissions: bool) -> DiscordConfig {
    let mut config = DiscordConfig::default()
        .heartbeat_interval(Duration::from_secs(5))
        .role(RoleSpec {
            id: BOT_ROLE,
            name: "Support Bot".into(),
            permissions: SETUP_PERMISSIONS,
        })
        .role(RoleSpec {
            id: STAFF_ROLE,
            name: "Moderators".into(),
            permissions: 0,
        });
    if community {
        config = config.feature("COMMUNITY");
    }
    if bot_permissions {
        config.bot.roles = vec![BOT_ROLE];
    }
    for user in &mut config.users {
        if user.id == ALICE {
            user.roles = vec![STAFF_ROLE];
        }
    }
    let mut carol = UserSpec::new(CAROL, "carol");
    carol.roles = vec![ADMIN_ROLE];
    config.user(carol)
}

async fn start_emulators(discord: DiscordConfig) -> Emulators {
    flexcord::install_crypto_provider();
    let public = format!("http://127.0.0.1:{}", free_port());
    Emulators::start(discord, TwilioConfig::default().webhook_base_url(&public))
        .await
        .expect("the emulators start")
}

fn config(emulators: &Emulators, db: &str, extra: &[(&str, String)]) -> Config {
    let env: Vec<(String, String)> = app_env(emulators, &format!("127.0.0.1:{}", free_port()), db)
        .into_iter()
        .chain(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
        .collect();
    Config::load("", env).expect("config")
}

/// The REST calls that change something (every method but GET).
fn writes(emulators: &Emulators) -> Vec<String> {
    emulators
        .discord
        .rest_calls()
        .into_iter()
        .filter(|c| c.method != "GET")
        .map(|c| c.route)
        .collect()
}

fn channel(emulators: &Emulators, id: u64) -> Value {
    emulators
        .discord
        .state(|s| s.channel_json(id))
        .expect("the channel exists")
}

/// The overwrite of `id` on a channel, as `(type, allow, deny)`.
fn overwrite(channel: &Value, id: u64) -> Option<(u64, u64, u64)> {
    channel["permission_overwrites"]
        .as_array()?
        .iter()
        .find(|o| o["id"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(id))
        .map(|o| {
            let bits = |k: &str| o[k].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            (o["type"].as_u64().unwrap_or(9), bits("allow"), bits("deny"))
        })
}

const SEND_MESSAGES: u64 = 1 << 11;
const VIEW_CHANNEL: u64 = 1 << 10;

#[tokio::test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn setup_guild_plans_then_lays_out_a_guild_once() {
    let emulators = start_emulators(guild(false, true)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let config = config(&emulators, &db, &[]);
    let http = flexcord::discord::gateway::http_client(&config.discord);
    let guild_id = emulators.discord.guild_id();
    let names = GuildNames::default();

    // The dry run plans and changes nothing.
    let (plan, outcome) = setup::run(&http, guild_id, &names, None, true)
        .await
        .unwrap();
    assert!(outcome.is_none());
    assert!(writes(&emulators).is_empty(), "{:?}", writes(&emulators));
    assert!(plan.missing.is_empty());
    assert!(!plan.announcement_channel, "no COMMUNITY feature");
    let text = plan.describe();
    assert!(text.contains("create the staff role \"Staff\""), "{text}");
    assert!(text.contains("create the category \"Community\""), "{text}");
    assert!(
        text.contains("create the text channel #customer-service"),
        "{text}"
    );
    assert!(
        text.contains("#announcements: move it into the category"),
        "{text}"
    );
    assert!(text.contains("no COMMUNITY feature"), "{text}");

    // Applied: the role, the category, the new channel, the existing ones moved and completed.
    let (_, outcome) = setup::run(&http, guild_id, &names, None, false)
        .await
        .unwrap();
    let outcome = outcome.expect("applied");
    assert!(!outcome.changes.is_empty());
    let roles = http
        .roles(twilight_model::id::Id::new(guild_id))
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let staff = roles
        .iter()
        .find(|r| r.name == "Staff")
        .expect("the staff role was created");
    assert_eq!(staff.id.get(), outcome.staff_role);
    let category = channel(&emulators, outcome.category);
    assert_eq!(
        (category["type"].as_u64(), category["name"].as_str()),
        (Some(4), Some("Community"))
    );
    let [announcements, customer_service, bug, feature] = outcome.channels;
    assert_eq!(
        Some(announcements),
        emulators.discord.channel_id("announcements")
    );
    assert_eq!(Some(bug), emulators.discord.channel_id("bug-report"));
    for (id, name) in [
        (announcements, "announcements"),
        (customer_service, "customer-service"),
        (bug, "bug-report"),
        (feature, "feature-request"),
    ] {
        let c = channel(&emulators, id);
        assert_eq!(c["name"], name);
        assert_eq!(c["type"], 0, "{name} is a text channel");
        assert_eq!(
            c["parent_id"],
            outcome.category.to_string(),
            "{name} in the category"
        );
        let (kind, allow, _) =
            overwrite(&c, emulators.discord.bot_id()).expect("the bot's overwrite");
        assert_eq!(kind, 1, "a member overwrite");
        assert_eq!(
            allow & (SEND_MESSAGES | VIEW_CHANNEL),
            SEND_MESSAGES | VIEW_CHANNEL
        );
    }
    // #announcements: everyone reads, only the staff role and the bot post.
    let a = channel(&emulators, announcements);
    let (kind, allow, deny) = overwrite(&a, guild_id).expect("@everyone's overwrite");
    assert_eq!(kind, 0);
    assert_ne!(allow & VIEW_CHANNEL, 0);
    assert_ne!(deny & SEND_MESSAGES, 0);
    let (_, allow, deny) = overwrite(&a, outcome.staff_role).expect("the staff's overwrite");
    assert_ne!(allow & SEND_MESSAGES, 0);
    assert_eq!(deny, 0);
    let snippet = outcome.config_snippet();
    assert!(
        snippet.contains(&format!("announcements_channel_id = \"{announcements}\"")),
        "{snippet}"
    );
    assert!(
        snippet.contains(&format!("staff_role_id = \"{}\"", outcome.staff_role)),
        "{snippet}"
    );
    assert!(
        snippet.contains(&format!("bug_channel_id = \"{bug}\"")),
        "{snippet}"
    );
    // The snippet is configuration: it loads.
    let loaded = Config::load(
        &snippet,
        app_env(&emulators, "127.0.0.1:0", &db)
            .into_iter()
            .filter(|(k, _)| {
                !k.contains("BUG_CHANNEL")
                    && !k.contains("FEATURE_CHANNEL")
                    && !k.contains("GUILD_ID")
            }),
    )
    .expect("the printed ids load");
    assert_eq!(
        loaded.community.announcements_channel_id,
        Some(announcements)
    );

    // A second run plans nothing and makes no REST write.
    emulators.discord.clear_rest_calls();
    let (plan, again) = setup::run(&http, guild_id, &names, None, false)
        .await
        .unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert!(writes(&emulators).is_empty(), "{:?}", writes(&emulators));
    let again = again.unwrap();
    assert_eq!(again.channels, outcome.channels);
    assert_eq!(again.staff_role, outcome.staff_role);
    assert!(plan.describe().contains("already fits"));
}

#[tokio::test]
async fn a_community_guild_gets_an_announcement_channel_and_the_configured_staff_role() {
    let emulators = start_emulators(guild(true, true)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let config = config(&emulators, &db, &[]);
    let http = flexcord::discord::gateway::http_client(&config.discord);
    let guild_id = emulators.discord.guild_id();
    let names = GuildNames::default();
    let (plan, outcome) = setup::run(&http, guild_id, &names, Some(STAFF_ROLE), false)
        .await
        .unwrap();
    assert!(plan.announcement_channel);
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| matches!(c, Change::CreateRole { .. })),
        "the configured role is used"
    );
    let outcome = outcome.unwrap();
    assert_eq!(outcome.staff_role, STAFF_ROLE);
    let a = channel(&emulators, outcome.channels[0]);
    assert_eq!(a["type"], 5, "converted to an announcement channel");
    let (_, allow, _) = overwrite(&a, STAFF_ROLE).expect("the staff's overwrite");
    assert_ne!(allow & SEND_MESSAGES, 0);
    emulators.discord.clear_rest_calls();
    let (plan, _) = setup::run(&http, guild_id, &names, Some(STAFF_ROLE), false)
        .await
        .unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert!(writes(&emulators).is_empty());
    // A role that is not the guild's is named.
    let err = setup::run(&http, guild_id, &names, Some(42), true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SetupError::UnknownStaffRole { role: 42, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_bot_permission_is_named_and_nothing_is_changed() {
    let emulators = start_emulators(guild(false, false)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let config = config(&emulators, &db, &[]);
    let http = flexcord::discord::gateway::http_client(&config.discord);
    let guild_id = emulators.discord.guild_id();
    let (plan, _) = setup::run(&http, guild_id, &GuildNames::default(), None, true)
        .await
        .unwrap();
    assert!(
        plan.describe()
            .contains("The bot lacks: Manage Channels, Manage Roles"),
        "{}",
        plan.describe()
    );
    let err = setup::run(&http, guild_id, &GuildNames::default(), None, false)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Manage Channels") && text.contains("Manage Roles"),
        "{text}"
    );
    assert!(
        !text.contains("Send Messages"),
        "the @everyone role has it: {text}"
    );
    assert!(writes(&emulators).is_empty(), "{:?}", writes(&emulators));
}

/// One app as `flexcord run` builds it, running until stopped.
struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), RunError>>,
}

impl Running {
    async fn start(config: Config) -> Self {
        let app = App::build(config).await.expect("the app starts");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run(shutdown.clone()));
        Self { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let drained = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("stops in time")
            .expect("no panic");
        assert!(drained.is_ok(), "{drained:?}");
    }
}

async fn answer(emulators: &Emulators, interaction: u64) -> String {
    emulators
        .discord
        .wait_for_value(
            |s| {
                let record = s.interaction(interaction)?;
                let m = s.message(record.original_message?)?;
                (!m.content.is_empty()).then(|| m.content.clone())
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|_| panic!("interaction {interaction} was never answered"))
}

async fn first_response(emulators: &Emulators, interaction: u64) -> u8 {
    emulators
        .discord
        .wait_for_interaction_response(interaction, WAIT)
        .await
        .expect("acknowledged in time")
        .responses[0]
        .kind
}

#[tokio::test]
async fn announce_is_for_the_staff_and_setup_for_administrators() {
    let emulators = start_emulators(guild(true, true)).await;
    let announcements = emulators.discord.channel_id("announcements").unwrap();
    let general = emulators.discord.channel_id("general").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let app = Running::start(config(
        &emulators,
        &db,
        &[
            ("FLEXCORD_COMMUNITY__STAFF_ROLE_ID", STAFF_ROLE.to_string()),
            (
                "FLEXCORD_COMMUNITY__ANNOUNCEMENTS_CHANNEL_ID",
                announcements.to_string(),
            ),
        ],
    ))
    .await;
    let discord = &emulators.discord;
    discord
        .wait_for(|s| s.shard_connected(0), WAIT)
        .await
        .expect("shard 0");
    let in_general = |name: &str| {
        let mut c = SlashCommand::new(name);
        c.channel = Some(general);
        c
    };

    // /setup: bob is refused, carol (an administrator) sets the guild up.
    let refused = discord.inject_slash(BOB, &in_general("setup")).unwrap();
    assert!(
        answer(&emulators, refused.id)
            .await
            .contains("Only administrators")
    );
    let setup = discord.inject_slash(CAROL, &in_general("setup")).unwrap();
    let text = answer(&emulators, setup.id).await;
    assert!(
        text.contains("Put these ids in the configuration"),
        "{text}"
    );
    assert!(
        text.contains(&format!("staff_role_id = \"{STAFF_ROLE}\"")),
        "{text}"
    );
    assert!(discord.channel_id("customer-service").is_some());
    assert_eq!(channel(&emulators, announcements)["type"], 5);
    // Bob is not staff: an ephemeral refusal, no form.
    let refused = discord.inject_slash(BOB, &in_general("announce")).unwrap();
    assert_eq!(first_response(&emulators, refused.id).await, 5, "deferred");
    assert!(
        answer(&emulators, refused.id)
            .await
            .contains("Only the staff")
    );
    let record = discord.interaction(refused.id).unwrap();
    assert_eq!(
        record.responses[0].data.as_ref().unwrap()["flags"],
        64,
        "ephemeral"
    );

    // Alice is: the form, then the post in #announcements, published, and her answer.
    let cmd = discord
        .inject_slash(ALICE, &in_general("announce"))
        .unwrap();
    assert_eq!(first_response(&emulators, cmd.id).await, 9, "the form");
    let submit = ModalSubmit::new("fc:announce")
        .field("title", "Version 2.0 is out")
        .field("body", "Dark mode, faster search. @everyone should update.")
        .field("link", "https://example.com/blog/v2")
        .field("image", "");
    let submitted = discord.inject_modal_submit(ALICE, &submit).unwrap();
    assert!(answer(&emulators, submitted.id).await.contains("published"));
    let posted: StoredMessage = discord
        .wait_for_value(
            |s| {
                s.bot_messages_in(announcements)
                    .first()
                    .map(|m| (*m).clone())
            },
            WAIT,
        )
        .await
        .expect("the announcement is posted");
    assert_eq!(posted.embeds[0]["title"], "Version 2.0 is out");
    assert_eq!(posted.embeds[0]["url"], "https://example.com/blog/v2");
    assert_eq!(posted.embeds[0]["author"]["name"], "Alice");
    assert_eq!(posted.flags & 1, 1, "published (crossposted)");
    let body = posted.request_body.clone().unwrap();
    assert_eq!(
        body["allowed_mentions"]["parse"],
        serde_json::json!([]),
        "pings nobody"
    );
    assert!(body["nonce"].is_string());

    app.stop().await;
    emulators.shutdown();
}

/// A local feed server: documents by path, each with an `ETag`; answers `304` to a matching
/// `If-None-Match`, `500` for `/broken`. Counts the answers per path.
#[derive(Default)]
struct Feeds {
    docs: Mutex<HashMap<String, (&'static str, String)>>,
    answers: Mutex<Vec<(String, u16)>>,
}

impl Feeds {
    fn set(&self, path: &str, content_type: &'static str, body: String) {
        self.docs
            .lock()
            .unwrap()
            .insert(path.to_owned(), (content_type, body));
    }

    fn count(&self, path: &str, status: u16) -> usize {
        self.answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, s)| p == path && *s == status)
            .count()
    }
}

async fn serve_feed(
    State(feeds): State<Arc<Feeds>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let doc = feeds.docs.lock().unwrap().get(&path).cloned();
    let (status, response) = match doc {
        _ if path == "broken" => (500, StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        None => (404, StatusCode::NOT_FOUND.into_response()),
        // The status page validates with Last-Modified, the others with an ETag.
        Some((content_type, body)) if path == "status" => {
            let modified = format!("Mon, 07 Dec 2026 {:02}:00:00 GMT", fnv(&body) % 24);
            let since = headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok());
            if since == Some(modified.as_str()) {
                (304, StatusCode::NOT_MODIFIED.into_response())
            } else {
                let headers = [
                    (header::CONTENT_TYPE, content_type),
                    (header::LAST_MODIFIED, modified.as_str()),
                ];
                (200, (headers, body).into_response())
            }
        }
        Some((content_type, body)) => {
            let etag = format!("\"{:x}\"", fnv(&body));
            let matched = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag.as_str());
            if matched {
                (304, StatusCode::NOT_MODIFIED.into_response())
            } else {
                let headers = [
                    (header::CONTENT_TYPE, content_type),
                    (header::ETAG, etag.as_str()),
                ];
                (200, (headers, body).into_response())
            }
        }
    };
    feeds.answers.lock().unwrap().push((path, status));
    response
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn start_feeds() -> (Arc<Feeds>, String) {
    let feeds = Arc::new(Feeds::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/{path}", axum::routing::get(serve_feed))
        .with_state(feeds.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (feeds, base)
}

fn ago(hours: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::hours(hours)
}

/// An RSS 2.0 feed of `(guid, title, hours ago)` items, newest first as feeds are.
fn rss(items: &[(&str, &str, i64)]) -> String {
    let items = items
        .iter()
        .map(|(guid, title, hours)| {
            format!(
                "<item><title>{title}</title><link>https://example.com/blog/{guid}</link>\
                 <guid isPermaLink=\"false\">{guid}</guid><pubDate>{}</pubDate>\
                 <description>&lt;p&gt;About {title}&lt;/p&gt;</description></item>",
                ago(*hours).format(&Rfc2822).unwrap()
            )
        })
        .collect::<Vec<String>>()
        .concat();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Example blog</title>\
         <link>https://example.com/blog</link><description>News</description>{items}</channel></rss>"
    )
}

/// An Atom feed (a status page's), one entry without a summary.
fn atom(entries: &[(&str, &str, i64)]) -> String {
    let entries = entries
        .iter()
        .map(|(id, title, hours)| {
            format!(
                "<entry><id>urn:status:{id}</id><title>{title}</title>\
                 <link href=\"https://status.example.com/incidents/{id}\"/>\
                 <updated>{}</updated></entry>",
                ago(*hours).format(&Rfc3339).unwrap()
            )
        })
        .collect::<Vec<String>>()
        .concat();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>Example status</title><id>urn:status</id><updated>{}</updated>{entries}</feed>",
        ago(0).format(&Rfc3339).unwrap()
    )
}

/// A JSON Feed (a video channel's), with an image attachment.
fn json_feed(items: &[(&str, &str, i64)]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, title, hours)| {
            serde_json::json!({
                "id": id,
                "url": format!("https://videos.example.com/{id}"),
                "title": title,
                "content_text": format!("Watch {title}"),
                "date_published": ago(*hours).format(&Rfc3339).unwrap(),
                "attachments": [{"url": format!("https://videos.example.com/{id}.jpg"), "mime_type": "image/jpeg"}],
            })
        })
        .collect();
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Example videos",
        "items": items,
    })
    .to_string()
}

fn titles(messages: &[StoredMessage]) -> Vec<String> {
    let mut t: Vec<String> = messages
        .iter()
        .filter_map(|m| m.embeds.first()?["title"].as_str().map(str::to_owned))
        .collect();
    t.sort();
    t
}

fn posted(emulators: &Emulators, channel: u64) -> Vec<StoredMessage> {
    emulators
        .discord
        .state(|s| s.bot_messages_in(channel).into_iter().cloned().collect())
}

fn feed_env(base: &str, announcements: u64) -> Vec<(&'static str, String)> {
    vec![
        (
            "FLEXCORD_COMMUNITY__ANNOUNCEMENTS_CHANNEL_ID",
            announcements.to_string(),
        ),
        ("FLEXCORD_COMMUNITY__FEED_INTERVAL", "1s".into()),
        ("FLEXCORD_COMMUNITY__FEED_MAX_BACKOFF", "4s".into()),
        ("FLEXCORD_COMMUNITY__FEED_MAX_AGE", "1d".into()),
        ("FLEXCORD_FEEDS__BLOG__URL", format!("{base}/blog")),
        ("FLEXCORD_FEEDS__STATUS__URL", format!("{base}/status")),
        ("FLEXCORD_FEEDS__STATUS__FILTER", "outage|resolved".into()),
        ("FLEXCORD_FEEDS__VIDEOS__URL", format!("{base}/videos")),
        ("FLEXCORD_FEEDS__BROKEN__URL", format!("{base}/broken")),
        ("FLEXCORD_FEEDS__GARBLED__URL", format!("{base}/garbled")),
    ]
}

async fn wait_titles(emulators: &Emulators, channel: u64, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    let got = eventually("the posts", WAIT, || {
        let got = titles(&posted(emulators, channel));
        let want = want.clone();
        async move { (got.len() >= want.len()).then_some(got) }
    })
    .await;
    assert_eq!(got, want);
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn feeds_post_new_entries_once_across_polls_edits_and_restarts() {
    let emulators = start_emulators(guild(true, true).channel(ChannelSpec::new(
        1_200_000_000_000_000_050,
        "news",
        ChannelKind::Announcement,
    )))
    .await;
    let news = 1_200_000_000_000_000_050;
    let (feeds, base) = start_feeds().await;
    feeds.set(
        "blog",
        "application/rss+xml",
        rss(&[
            ("p3", "Fresh post", 2),
            ("p2", "Old post", 72),
            ("p1", "Older post", 200),
        ]),
    );
    feeds.set(
        "status",
        "application/atom+xml",
        atom(&[
            ("i2", "Outage resolved", 1),
            ("i1", "Scheduled maintenance", 3),
        ]),
    );
    feeds.set(
        "videos",
        "application/feed+json",
        json_feed(&[("v2", "New video", 5), ("v1", "Old video", 500)]),
    );
    feeds.set("garbled", "application/rss+xml", "<html>not a feed".into());
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let env = feed_env(&base, news);
    let app = Running::start(config(&emulators, &db, &env)).await;

    // The first poll posts only the recent entries, not the history; the status filter
    // leaves the maintenance out; the broken feeds hold nothing up.
    wait_titles(
        &emulators,
        news,
        &["Fresh post", "Outage resolved", "New video"],
    )
    .await;
    // Each post is published (crossposted) by a call of its own after it is posted.
    let first = eventually("every post published", WAIT, || {
        let first = posted(&emulators, news);
        async move { first.iter().all(|m| m.flags & 1 == 1).then_some(first) }
    })
    .await;
    let video = first
        .iter()
        .find(|m| m.embeds[0]["title"] == "New video")
        .unwrap();
    assert_eq!(
        video.embeds[0]["image"]["url"],
        "https://videos.example.com/v2.jpg"
    );
    assert_eq!(video.embeds[0]["author"]["name"], "Example videos");
    let blog = first
        .iter()
        .find(|m| m.embeds[0]["title"] == "Fresh post")
        .unwrap();
    assert_eq!(blog.embeds[0]["description"], "About Fresh post");
    assert_eq!(blog.embeds[0]["url"], "https://example.com/blog/p3");

    // Later polls are conditional (If-None-Match, If-Modified-Since): unchanged feeds answer
    // 304.
    eventually("conditional requests answered 304", WAIT, || async {
        (feeds.count("blog", 304) >= 1
            && feeds.count("videos", 304) >= 1
            && feeds.count("status", 304) >= 1)
            .then_some(())
    })
    .await;

    // A new entry, an edited one (same guid, new title), and a duplicate guid in one document.
    feeds.set(
        "blog",
        "application/rss+xml",
        rss(&[
            ("p4", "Newest post", 0),
            ("p4", "Newest post", 0),
            ("p3", "Fresh post (edited)", 2),
            ("p2", "Old post", 72),
        ]),
    );
    // An item without title, date or image (missing fields): posted under the feed's name.
    let mut videos: Value = serde_json::from_str(&json_feed(&[
        ("v2", "New video", 5),
        ("v1", "Old video", 500),
    ]))
    .unwrap();
    videos["items"].as_array_mut().unwrap().insert(
        0,
        serde_json::json!({"id": "v3", "url": "https://videos.example.com/v3", "content_text": "A short clip"}),
    );
    feeds.set("videos", "application/feed+json", videos.to_string());
    wait_titles(
        &emulators,
        news,
        &[
            "Fresh post",
            "Newest post",
            "Outage resolved",
            "New video",
            "videos",
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = posted(&emulators, news);
    assert_eq!(now.len(), 5, "nothing twice, no edit reposted");
    let clip = now
        .iter()
        .find(|m| m.embeds[0]["title"] == "videos")
        .unwrap();
    assert_eq!(clip.embeds[0]["description"], "A short clip");
    assert!(clip.embeds[0].get("image").is_none());
    // The broken feeds were tried, backing off, and never stopped the others.
    let broken = feeds.count("broken", 500);
    assert!(broken >= 1, "the broken feed was polled");
    let healthy = feeds.count("blog", 200) + feeds.count("blog", 304);
    assert!(
        broken < healthy,
        "the broken feed backs off: {broken} polls against {healthy}"
    );
    assert!(feeds.count("garbled", 200) >= 1);
    app.stop().await;

    // After a restart on the same store: a full answer (new ETag) brings nothing back.
    feeds.set(
        "videos",
        "application/feed+json",
        json_feed(&[("v2", "New video, retitled", 5), ("v1", "Old video", 500)]),
    );
    let app = Running::start(config(&emulators, &db, &env)).await;
    eventually("the restarted app polls the changed feed", WAIT, || async {
        (feeds.count("videos", 200) >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        posted(&emulators, news).len(),
        5,
        "no repost after a restart"
    );
    app.stop().await;
    emulators.shutdown();
}

/// Two instances poll the same feeds on one database: each entry is posted once.
async fn two_instances_post_each_entry_once(db: &str) {
    let emulators = start_emulators(guild(true, true)).await;
    let announcements = emulators.discord.channel_id("announcements").unwrap();
    let (feeds, base) = start_feeds().await;
    let items: Vec<(String, String, i64)> = (0..8)
        .map(|n| (format!("e{n}"), format!("Entry {n}"), 1))
        .collect();
    let refs: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), *c))
        .collect();
    feeds.set("blog", "application/rss+xml", rss(&refs));
    let env = vec![
        (
            "FLEXCORD_COMMUNITY__ANNOUNCEMENTS_CHANNEL_ID",
            announcements.to_string(),
        ),
        ("FLEXCORD_COMMUNITY__FEED_INTERVAL", "1s".into()),
        ("FLEXCORD_FEEDS__BLOG__URL", format!("{base}/blog")),
    ];
    let shards = |s: &str| {
        let mut e = env.clone();
        e.push(("FLEXCORD_DISCORD__SHARDS", s.to_owned()));
        e
    };
    let a = Running::start(config(&emulators, db, &shards("0..1 of 2"))).await;
    let b = Running::start(config(&emulators, db, &shards("1..2 of 2"))).await;
    let want: Vec<&str> = items.iter().map(|(_, t, _)| t.as_str()).collect();
    wait_titles(&emulators, announcements, &want).await;
    // A new entry while both poll.
    let mut more = refs.clone();
    more.insert(0, ("e9", "Entry 9", 0));
    feeds.set("blog", "application/rss+xml", rss(&more));
    let mut want = want.clone();
    want.push("Entry 9");
    wait_titles(&emulators, announcements, &want).await;
    eventually("both instances polled", WAIT, || async {
        (feeds.count("blog", 200) + feeds.count("blog", 304) >= 6).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        posted(&emulators, announcements).len(),
        9,
        "each entry once"
    );
    a.stop().await;
    b.stop().await;
    emulators.shutdown();
}

#[tokio::test]
async fn two_instances_on_one_sqlite_file_post_each_feed_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    two_instances_post_each_entry_once(&db).await;
}

#[tokio::test]
async fn two_instances_on_postgres_post_each_feed_entry_once() {
    let Ok(admin) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("FLEXCORD_CI").as_deref() != Ok("1"),
            "DATABASE_URL is unset but FLEXCORD_CI=1: the Postgres tests must run"
        );
        eprintln!("skipped: DATABASE_URL is unset, so this Postgres test does not run");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("flexcord_feeds_{}_{nanos}", std::process::id());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
        .expect("postgres reachable at DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("DATABASE_URL parses");
    url.set_path(&name);
    two_instances_post_each_entry_once(url.as_str()).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await
        .expect("drop database");
    pool.close().await;
}

/// `flexcord setup-guild` as an operator runs it: the plan with `--dry-run`, then the layout
/// and its ids in configuration form, then nothing to do.
#[tokio::test]
async fn the_setup_guild_command_prints_the_plan_then_the_ids() {
    let emulators = start_emulators(guild(true, true)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let env = app_env(&emulators, "127.0.0.1:0", &db);
    let run = |args: &'static [&'static str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flexcord"));
        cmd.current_dir(dir.path()).args(args).env_clear();
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        cmd.envs(env.clone());
        async move {
            let out = cmd.output().await.expect("the binary runs");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, stdout, stderr) = run(&["setup-guild", "--dry-run"]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("create the text channel #customer-service"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "#announcements: convert it to an announcement channel and move it into the category"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("(dry run: nothing was changed)"),
        "{stdout}"
    );
    assert!(writes(&emulators).is_empty(), "{:?}", writes(&emulators));

    let (code, stdout, stderr) = run(&["setup-guild"]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let announcements = emulators.discord.channel_id("announcements").unwrap();
    let customer_service = emulators.discord.channel_id("customer-service").unwrap();
    assert!(stdout.contains("Done."), "{stdout}");
    assert!(
        stdout.contains(&format!("announcements_channel_id = \"{announcements}\"")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "customer_service_channel_id = \"{customer_service}\""
        )),
        "{stdout}"
    );

    emulators.discord.clear_rest_calls();
    let (code, stdout, _) = run(&["setup-guild"]).await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("already fits"), "{stdout}");
    assert!(writes(&emulators).is_empty(), "{:?}", writes(&emulators));
    emulators.shutdown();
}
