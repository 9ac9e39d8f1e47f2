//! Parked events: Twilio webhooks that arrived before their conversation's SID was recorded.
//!
//! The outbox worker creates a Twilio conversation (or chat channel) and only then feeds
//! [`Event::TwilioConversationCreated`], which records the SID on the conversation. A webhook
//! for that SID can arrive in between (an agent joining, Studio's first bot request). Such an
//! event is parked by [`Store::apply`] and replayed by [`crate::Engine`] once the SID is
//! recorded; what nobody claims within the parking bound is dropped and reported.

use flexcord_routing::{Event, Timestamp, TwilioSid};
use sqlx::Row;

use crate::error::Error;
use crate::store::{Backend, Store};
use crate::trace::TraceId;

/// A parked event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// Its row id (parked events of one SID are replayed in id order).
    pub id: i64,
    /// The Twilio conversation or channel SID it waits for.
    pub sid: TwilioSid,
    /// The event (`None` when its stored JSON does not decode).
    pub event: Option<Event>,
    /// Its [`Event::dedupe_key`].
    pub dedupe_key: Option<String>,
    /// When it was parked.
    pub parked_at: Timestamp,
    /// The trace of the webhook that brought it (its replay continues it).
    pub trace: Option<TraceId>,
}

impl Parked {
    /// The event's name for logs and metrics (`undecodable` when it does not decode).
    pub fn event_name(&self) -> &'static str {
        self.event.as_ref().map_or("undecodable", Event::name)
    }
}

/// The SQL that says whether a SID is known: recorded on a conversation, or recorded by the
/// worker as the result of a conversation's creation that is not applied yet.
const SID_KNOWN: &str = "EXISTS (SELECT 1 FROM conversations c WHERE c.twilio_sid = {SID}) \
    OR EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'create_twilio_conversation' \
               AND o.upstream_id = {SID} AND o.state IN ('delivered', 'done'))";

type RawParked = (i64, String, String, Option<String>, i64, Option<String>);

fn decode(rows: Vec<RawParked>) -> Vec<Parked> {
    rows.into_iter()
        .map(|(id, sid, event, dedupe_key, parked_at, trace)| Parked {
            id,
            sid: TwilioSid(sid),
            event: serde_json::from_str(&event).ok(),
            dedupe_key,
            parked_at: Timestamp(parked_at),
            trace: trace.as_deref().and_then(TraceId::parse),
        })
        .collect()
}

impl Store {
    /// The events parked for `sid`, oldest first.
    ///
    /// # Errors
    /// `Database`.
    pub async fn parked(&self, sid: &TwilioSid) -> Result<Vec<Parked>, Error> {
        let rows: Vec<RawParked> = on_pool!(self, pool => {
            sqlx::query(
                "SELECT id, sid, event, dedupe_key, parked_at, trace FROM parked_events \
                 WHERE sid = $1 ORDER BY id",
            )
            .bind(sid.as_str())
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((
                r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?,
            )))
            .collect::<Result<_, _>>()?
        });
        Ok(decode(rows))
    }

    /// How many events are parked.
    ///
    /// # Errors
    /// `Database`.
    pub async fn parked_count(&self) -> Result<i64, Error> {
        Ok(on_pool!(self, pool => {
            sqlx::query("SELECT COUNT(*) FROM parked_events")
                .fetch_one(pool)
                .await?
                .try_get::<i64, _>(0)?
        }))
    }

    /// Whether `sid` is known: recorded on a conversation, or recorded by the outbox worker as
    /// a created conversation whose result is not applied yet.
    ///
    /// # Errors
    /// `Database`.
    pub async fn twilio_sid_known(&self, sid: &TwilioSid) -> Result<bool, Error> {
        let sql = format!(
            "SELECT CASE WHEN {} THEN 1 ELSE 0 END",
            SID_KNOWN.replace("{SID}", "$1")
        );
        Ok(on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(sid.as_str())
                .fetch_one(pool)
                .await?
                .try_get::<i32, _>(0)?
        }) == 1)
    }

    /// SIDs that have parked events and are known now (at most `limit`): their events are due
    /// for replay (the instance that recorded the SID died before replaying them).
    ///
    /// # Errors
    /// `Database`.
    pub async fn parked_known_sids(&self, limit: i64) -> Result<Vec<TwilioSid>, Error> {
        let sql = format!(
            "SELECT DISTINCT p.sid FROM parked_events p WHERE {} LIMIT $1",
            SID_KNOWN.replace("{SID}", "p.sid")
        );
        let sids: Vec<String> = on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(limit)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?
        });
        Ok(sids.into_iter().map(TwilioSid).collect())
    }

    /// Deletes and returns the events parked before `before` (nobody recorded their SID in
    /// time), oldest first.
    ///
    /// # Errors
    /// `Database`.
    pub async fn expire_parked(&self, before: Timestamp) -> Result<Vec<Parked>, Error> {
        let mut rows: Vec<RawParked> = on_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM parked_events WHERE parked_at < $1 \
                 RETURNING id, sid, event, dedupe_key, parked_at, trace",
            )
            .bind(before.0)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((
                r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?,
            )))
            .collect::<Result<_, _>>()?
        });
        rows.sort_by_key(|r| r.0);
        Ok(decode(rows))
    }

    /// Deletes one parked event (e.g. one whose JSON does not decode); whether it was there.
    ///
    /// # Errors
    /// `Database`.
    pub async fn discard_parked(&self, id: i64) -> Result<bool, Error> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM parked_events WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }
}
