//! Catch-up sweeps: what no webhook or gateway event brought is found and routed once.
//!
//! - **Twilio.** Every open conversation with a Twilio side gets [`Event::CatchUp`] at start
//!   and every `twilio.sweep_interval`: the routing core asks for the messages after the last
//!   position it accounted for ([`flexcord_routing::ActionKind::CatchUpTwilio`], through the
//!   outbox like any Twilio call) and routes what it finds in position order. A gap seen by a
//!   webhook asks the same at once, so the periodic sweep matters for the last messages of a
//!   conversation, which no later webhook reveals. Both Twilio modes are swept; the messages
//!   found are counted by the core's [`Note::Recovered`] ([`count_recovered`]).
//! - **Discord.** When the shard that receives DMs starts a new gateway session (at start, or
//!   when a session cannot be resumed), [`crate::discord::catch_up::discord_sweep`] reads each open conversation's DM
//!   history after the last DM routed and routes the user's messages, oldest first. Each is a
//!   [`Event::DirectMessage`] with its own dedup key, so one that did arrive is dropped.
//!
//! Both walk the open conversations `twilio.sweep_rate` per second, well inside Twilio's and
//! Discord's rate limits. Neither depends on processed-event keys older than the conversation's
//! own position (the Twilio index, the last DM id), so pruning those keys never makes a sweep
//! route a message twice.

use std::sync::Arc;
use std::time::Duration;

use flexcord_routing::{Conversation, Event, Note};
use flexcord_store::Engine;
use tokio_util::sync::CancellationToken;

use crate::telemetry;

/// Conversations read from the store per page.
const PAGE: usize = 100;

/// Counts the messages a Twilio catch-up recovered; give it to [`Engine::observe`].
pub fn count_recovered(event: &Event, note: &Note) {
    if let Note::Recovered { source, count } = note {
        tracing::info!(
            event = event.name(),
            source = source.as_str(),
            count,
            "catch-up recovered messages no webhook brought"
        );
        metrics::counter!(telemetry::SWEEP_RECOVERED, "source" => source.clone())
            .increment(u64::from(*count));
    }
}

/// The open conversations, a page at a time, paced at `rate` per second.
pub(crate) struct Walk<'a> {
    engine: &'a Engine,
    pause: Duration,
    after: Option<flexcord_routing::ConversationId>,
    page: std::vec::IntoIter<Conversation>,
    done: bool,
    /// A conversation was returned: the next one waits its turn.
    started: bool,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(engine: &'a Engine, rate: u32) -> Self {
        Self {
            engine,
            pause: Duration::from_secs(1) / rate.max(1),
            after: None,
            page: Vec::new().into_iter(),
            done: false,
            started: false,
        }
    }

    /// The next open conversation `wanted` accepts, after a pause (none before the first of a
    /// walk); `None` when all were seen, the store failed or `shutdown` came. Conversations not
    /// wanted cost no pause.
    pub(crate) async fn next(
        &mut self,
        wanted: impl Fn(&Conversation) -> bool,
        shutdown: &CancellationToken,
    ) -> Option<Conversation> {
        loop {
            for conv in self.page.by_ref() {
                if !wanted(&conv) {
                    continue;
                }
                if self.started {
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(self.pause) => {}
                    }
                }
                self.started = true;
                return Some(conv);
            }
            if self.done || shutdown.is_cancelled() {
                return None;
            }
            let page = match self
                .engine
                .store()
                .open_conversations(self.after.as_ref(), PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "the catch-up sweep cannot list open conversations");
                    return None;
                }
            };
            self.done = page.len() < PAGE;
            self.after = page.last().map(|c| c.id.clone());
            self.page = page.into_iter();
        }
    }
}

/// One Twilio sweep: [`Event::CatchUp`] for every open conversation with a Twilio side.
/// Returns how many were asked.
pub async fn twilio_sweep(engine: &Engine, rate: u32, shutdown: &CancellationToken) -> usize {
    let mut asked = 0;
    let mut walk = Walk::new(engine, rate);
    while let Some(conv) = walk.next(|c| c.twilio.is_some(), shutdown).await {
        asked += 1;
        metrics::counter!(telemetry::SWEEP_CHECKED, "source" => "twilio").increment(1);
        let event = Event::CatchUp {
            conversation: conv.id.clone(),
        };
        if let Err(e) = engine.handle(event).await {
            tracing::warn!(conversation = conv.id.as_str(), error = %e, "catch-up not recorded; the next sweep asks again");
        }
    }
    asked
}

/// Runs [`twilio_sweep`] at start and every `interval` until `shutdown`.
pub async fn run_twilio_sweeps(
    engine: Arc<Engine>,
    interval: Duration,
    rate: u32,
    shutdown: CancellationToken,
) {
    loop {
        let asked = twilio_sweep(&engine, rate, &shutdown).await;
        tracing::debug!(conversations = asked, "Twilio catch-up sweep done");
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
