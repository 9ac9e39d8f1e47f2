#![doc = include_str!("../README.md")]

#[macro_use]
mod macros;
mod apply;
mod checkpoint;
mod engine;
mod error;
mod feeds;
mod housekeeping;
mod outbox;
mod park;
mod stmt;
mod store;
pub mod trace;
mod worker;
mod writer;

pub use engine::{DEFAULT_PARK_TTL, Engine, Swept};
pub use error::{Error, ErrorKind};
pub use feeds::FeedState;
pub use housekeeping::{PRUNE_BATCH, Pruned, Retried, RetryRefused};
pub use outbox::{Claimed, DeadLetter, STALE_MS, STATES};
pub use park::Parked;
pub use store::{Applied, Store};
pub use trace::TraceId;
pub use worker::{
    Deliver, EventSink, Failure, Outcome, Point, Receipt, Settle, Worker, WorkerConfig, backoff,
    unique_owner,
};

/// The system clock as a [`flexcord_routing::Timestamp`] (unix milliseconds).
pub fn now() -> flexcord_routing::Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    flexcord_routing::Timestamp(millis)
}
