//! Twilio messages in order, none missed: each message's position (`Index`) is accounted for.
//!
//! A webhook whose message is the next expected is routed at once. One that comes after a gap
//! (a webhook Twilio gave up on, or one still on its way) is held, and the core asks for the
//! messages after the last position it accounted for ([`ActionKind::CatchUpTwilio`]); the
//! answer fills the gap and everything is routed in position order. The bridge's own messages
//! (posted without webhooks: the back-fill, the bot's answers, notices) are recognised in the
//! answer by their attributes and only accounted for. Held messages wait at most
//! [`GAP_HOLD_MS`]; released past a gap, the missing positions are remembered so that a message
//! turning up later is still routed once. The periodic sweep ([`Event::CatchUp`]) asks the same
//! question for the messages after the last one, which no later webhook would reveal.
//!
//! [`Event::CatchUp`]: crate::Event::CatchUp

use super::{Ctx, Note, push_bounded};
use crate::action::ActionKind;
use crate::conversation::Pending;
use crate::event::SweptMessage;
use crate::ids::ActionId;

/// How long messages after a gap wait for it to be filled (milliseconds).
pub const GAP_HOLD_MS: i64 = 10_000;
/// At most this many messages are held; one more releases them all.
const HELD_MAX: usize = 64;
/// At most this many unfilled positions are remembered.
const MISSING_MAX: usize = 64;

impl Ctx<'_> {
    /// A Twilio message with its position, from a webhook.
    pub(super) fn on_indexed_message(&mut self, msg: SweptMessage) {
        let expected = self.conv.twilio_index.map_or(0, |last| last + 1);
        if msg.index < expected {
            if self.take_missing(msg.index) {
                self.route_swept(msg, false);
            } else {
                self.notes.push(Note::Duplicate);
            }
            return;
        }
        if msg.index == expected || !self.conv.is_open() || self.conv.twilio.is_none() {
            self.conv.twilio_index = Some(msg.index);
            self.route_swept(msg, false);
            self.release_held(false);
            return;
        }
        // A gap before it: hold it and fetch what is missing.
        if !self.conv.twilio_held.iter().any(|h| h.index == msg.index) {
            self.conv.twilio_held.push(msg);
            self.conv.twilio_held.sort_by_key(|h| h.index);
        }
        if self.conv.twilio_held.len() > HELD_MAX {
            self.release_held(true);
            return;
        }
        if self.conv.held_until.is_none() {
            self.conv.held_until = Some(self.now.plus_millis(GAP_HOLD_MS));
        }
        self.request_catch_up();
    }

    /// The periodic sweep: ask for the messages after the last one accounted for.
    pub(super) fn on_catch_up(&mut self) {
        if self.conv.is_open() && self.conv.twilio.is_some() {
            self.request_catch_up();
        } else {
            self.notes.push(Note::Dropped {
                reason: "nothing to catch up".into(),
            });
        }
    }

    /// [`ActionKind::CatchUpTwilio`]'s answer: every message after the position asked for.
    pub(super) fn on_caught_up(&mut self, action_id: &ActionId, mut messages: Vec<SweptMessage>) {
        self.conv.pending.remove(action_id);
        messages.sort_by_key(|m| m.index);
        let mut recovered = 0u32;
        for msg in messages {
            let expected = self.conv.twilio_index.map_or(0, |last| last + 1);
            // A webhook brought it: its copy (with its media's service) goes in its turn.
            let held = self
                .conv
                .twilio_held
                .iter()
                .position(|h| h.index == msg.index)
                .map(|i| self.conv.twilio_held.remove(i));
            let was_held = held.is_some();
            let msg = held.unwrap_or(msg);
            if msg.index >= expected {
                // Held messages positioned before it (the listing skipped them) go first.
                self.release_held_before(msg.index);
                self.conv.twilio_index = Some(msg.index);
                // A held message's key was recorded when its webhook came.
                if self.route_swept(msg, !was_held) && !was_held {
                    recovered += 1;
                }
            } else if self.take_missing(msg.index) && !msg.ours && self.route_swept(msg, true) {
                recovered += 1;
            }
        }
        // What is still held came after the listing: the listing is the truth up to there.
        self.release_held(false);
        if recovered > 0 {
            self.notes.push(Note::Recovered {
                source: "twilio".into(),
                count: recovered,
            });
        }
    }

    /// The catch-up failed for good: held messages go out now, their gap remembered.
    pub(super) fn on_catch_up_failed(&mut self) {
        self.release_held(true);
    }

    /// Held messages whose wait is over go out, in order.
    pub(super) fn release_overdue(&mut self) {
        if self.conv.held_until.is_some_and(|due| due <= self.now) {
            self.release_held(true);
        }
    }

    fn request_catch_up(&mut self) {
        let Some(sid) = self.conv.twilio.clone() else {
            return;
        };
        if self
            .conv
            .pending
            .values()
            .any(|p| matches!(p, Pending::CatchUp))
        {
            return;
        }
        // Unfilled positions before the last one are asked for again.
        let after = match self.conv.twilio_missing.iter().min() {
            Some(&first) => first.checked_sub(1),
            None => self.conv.twilio_index,
        };
        self.emit_pending(ActionKind::CatchUpTwilio { sid, after }, Pending::CatchUp);
    }

    /// Routes held messages that follow without a gap; with `past_gaps`, all of them, and the
    /// positions skipped are remembered as missing.
    fn release_held(&mut self, past_gaps: bool) {
        while let Some(first) = self.conv.twilio_held.first() {
            let expected = self.conv.twilio_index.map_or(0, |last| last + 1);
            if first.index > expected && !past_gaps {
                break;
            }
            let msg = self.conv.twilio_held.remove(0);
            if msg.index < expected {
                continue;
            }
            for gap in expected..msg.index {
                push_bounded(&mut self.conv.twilio_missing, gap, MISSING_MAX);
            }
            self.conv.twilio_index = Some(msg.index);
            self.route_swept(msg, false);
        }
        if self.conv.twilio_held.is_empty() {
            self.conv.held_until = None;
        }
    }

    /// Routes held messages positioned before `index` (the listing skipped their positions:
    /// deleted messages), in order.
    fn release_held_before(&mut self, index: u64) {
        while self
            .conv
            .twilio_held
            .first()
            .is_some_and(|h| h.index < index)
        {
            let msg = self.conv.twilio_held.remove(0);
            self.conv.twilio_index = Some(msg.index);
            self.route_swept(msg, false);
        }
    }

    fn take_missing(&mut self, index: u64) -> bool {
        match self.conv.twilio_missing.iter().position(|&m| m == index) {
            Some(i) => {
                self.conv.twilio_missing.remove(i);
                true
            }
            None => false,
        }
    }

    /// Routes one message unless it is the bridge's own or was routed before (by its key);
    /// whether it was routed.
    fn route_swept(&mut self, msg: SweptMessage, swept: bool) -> bool {
        if msg.ours {
            return false;
        }
        let key = format!("tw:msg:{}", msg.message);
        if swept {
            if self.conv.seen.contains(&key) {
                return false;
            }
            push_bounded(&mut self.conv.seen, key, super::SEEN_MAX);
        }
        let echo = msg.author == self.conv.identity() || msg.author == self.config.bot_identity;
        self.on_twilio_message(&msg.message, msg.author, &msg.body, &msg.attachments);
        !echo
    }
}
