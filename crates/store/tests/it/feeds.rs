//! Feed entries: each posted once, however many instances apply it at once; their keys
//! survive pruning; the feed's remembered state.

use flexcord_routing::community::{Announcement, CommunityConfig};
use flexcord_routing::{ChannelId, Event, Router, RouterConfig, Timestamp};
use flexcord_store::{Engine, FeedState, Store};

use crate::common::T0;

fn engine(store: &Store) -> Engine {
    Engine::new(
        store.clone(),
        Router::new(RouterConfig {
            community: CommunityConfig {
                announcements: Some(ChannelId(500)),
                staff_role: None,
            },
            ..RouterConfig::default()
        }),
    )
    .clock(|| Timestamp(T0))
}

fn entry(n: u32, post: bool) -> Event {
    Event::FeedEntry {
        feed: "blog".into(),
        entry: format!("https://example.com/posts/{n}"),
        post: post.then(|| Announcement {
            title: format!("Post {n}"),
            url: Some(format!("https://example.com/posts/{n}")),
            text: "Summary".into(),
            image: None,
            source: Some("blog".into()),
        }),
    }
}

async fn pending(store: &Store) -> i64 {
    store
        .outbox_counts()
        .await
        .expect("counts")
        .into_iter()
        .find(|(s, _)| *s == "pending")
        .map_or(0, |(_, n)| n)
}

/// Two instances (two pools on one database) apply the same five entries at once, each
/// several times: five posts are queued, no more.
async fn two_instances_queue_each_entry_once(a: Store, b: Store) {
    let (ea, eb) = (engine(&a), engine(&b));
    let mut tasks = Vec::new();
    for round in 0..4 {
        for n in 0..5 {
            let e = if round % 2 == 0 {
                ea.clone()
            } else {
                eb.clone()
            };
            tasks.push(tokio::spawn(async move { e.handle(entry(n, true)).await }));
        }
    }
    let mut fresh = 0;
    for t in tasks {
        let applied = t.await.expect("no panic").expect("applies");
        if !applied.duplicate {
            fresh += 1;
            assert_eq!(applied.step.actions.len(), 1);
        }
    }
    assert_eq!(fresh, 5, "each entry applied once");
    assert_eq!(pending(&a).await, 5);
    assert_eq!(pending(&b).await, 5);
    // A remembered entry (first poll's history) is never posted later either.
    assert!(!ea.handle(entry(9, false)).await.unwrap().duplicate);
    let again = eb.handle(entry(9, true)).await.unwrap();
    assert!(again.duplicate && again.step.actions.is_empty());
    // Pruning processed events keeps the feed entries' keys.
    a.prune_processed(Timestamp(T0 + 1)).await.expect("prunes");
    assert!(
        a.is_processed("feed:blog:https://example.com/posts/3")
            .await
            .unwrap()
    );
    assert!(ea.handle(entry(3, true)).await.unwrap().duplicate);
}

async fn feed_state_round_trips_and_stays_primed(a: Store, b: Store) {
    assert_eq!(a.feed_state("blog").await.unwrap(), FeedState::default());
    let primed = FeedState {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Mon, 07 Dec 2026 05:00:00 GMT".into()),
        primed_at: Some(Timestamp(T0)),
    };
    a.save_feed_state("blog", &primed, Timestamp(T0))
        .await
        .unwrap();
    assert_eq!(b.feed_state("blog").await.unwrap(), primed);
    // An instance that still thought the feed new does not unprime it.
    let late = FeedState {
        etag: Some("\"v2\"".into()),
        last_modified: None,
        primed_at: None,
    };
    b.save_feed_state("blog", &late, Timestamp(T0 + 5))
        .await
        .unwrap();
    let now = a.feed_state("blog").await.unwrap();
    assert_eq!(now.etag.as_deref(), Some("\"v2\""));
    assert_eq!(now.last_modified, None);
    assert_eq!(now.primed_at, Some(Timestamp(T0)));
    assert_eq!(a.feed_state("status").await.unwrap(), FeedState::default());
}

crate::common::two_instances!(
    two_instances_queue_each_entry_once,
    feed_state_round_trips_and_stays_primed,
);
