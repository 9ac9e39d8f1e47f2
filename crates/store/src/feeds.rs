//! What the store remembers of the feeds relayed into #announcements: per feed, the validators
//! of its last answer (`ETag`, `Last-Modified`) and whether its first poll was done. Which
//! entries were seen is not kept here: each entry is applied as [`flexcord_routing::Event::FeedEntry`],
//! whose dedupe key the store records (and never prunes), in the transaction that queues its
//! post, so two instances polling the same feed post each entry once.

use flexcord_routing::Timestamp;
use sqlx::Row;

use crate::error::Error;
use crate::store::{Backend, Store};

/// The remembered state of one feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// The `ETag` of the last full answer, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The `Last-Modified` of the last full answer, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// When the first poll's entries were all recorded (`None`: the next poll is the first).
    pub primed_at: Option<Timestamp>,
}

impl Store {
    /// The remembered state of feed `name` (the default when it was never polled).
    ///
    /// # Errors
    /// `Database`.
    pub async fn feed_state(&self, name: &str) -> Result<FeedState, Error> {
        let row = on_pool!(self, pool => {
            sqlx::query("SELECT etag, last_modified, primed_at FROM feeds WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
                .map(|r| -> Result<FeedState, sqlx::Error> {
                    Ok(FeedState {
                        etag: r.try_get(0)?,
                        last_modified: r.try_get(1)?,
                        primed_at: r.try_get::<Option<i64>, _>(2)?.map(Timestamp),
                    })
                })
                .transpose()?
        });
        Ok(row.unwrap_or_default())
    }

    /// Records feed `name`'s state after a poll at `now`. A feed primed once stays primed (an
    /// instance that still thought the feed new cannot unprime it).
    ///
    /// # Errors
    /// `Database`.
    pub async fn save_feed_state(
        &self,
        name: &str,
        state: &FeedState,
        now: Timestamp,
    ) -> Result<(), Error> {
        let name = name.to_owned();
        let state = state.clone();
        write_op!(self, |conn| {
            sqlx::query(
                "INSERT INTO feeds (name, etag, last_modified, primed_at, polled_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (name) DO UPDATE SET etag = excluded.etag, \
                 last_modified = excluded.last_modified, \
                 primed_at = COALESCE(feeds.primed_at, excluded.primed_at), \
                 polled_at = excluded.polled_at",
            )
            .bind(&name)
            .bind(state.etag.as_deref())
            .bind(state.last_modified.as_deref())
            .bind(state.primed_at.map(|t| t.0))
            .bind(now.0)
            .execute(&mut *conn)
            .await?;
            Ok::<(), Error>(())
        })
    }
}
