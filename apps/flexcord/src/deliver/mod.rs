//! Running the routing core's actions: the outbox worker hands every action to [`Upstreams`],
//! which picks its executor by the action's kind, once:
//!
//! | actions | executor |
//! |---|---|
//! | `OpenDm`, `SendDm`, `EditDm`, `DeleteDm`, `Respond`, `PostAnnouncement`, `SetupGuild` | [`discord::DiscordExecutor`] |
//! | `OpenCase`, `UpdateCase`, `AnnotateCase`, and the interaction answers `FileReport`, `CaseStatus`, `CloseCase` | [`cases::CaseExecutor`] |
//! | `AskBot` | [`bot::BotExecutor`] |
//! | `CreateTwilioConversation`, `PostToTwilio`, `UpdateTwilioAttributes`, `CreateInteraction`, `CloseTwilio`, `LookupAgentName` | [`twilio::TwilioExecutor`] (Conversations or chat mode) |
//!
//! Every executor returns `Result<Receipt, Failure>`: the upstream's id for what it created (or
//! the result event itself, for the bot), or why it failed, whether for good, and how long the
//! upstream asked to wait (a 429's `Retry-After`, honoured by the outbox's backoff). Every
//! delivery is safe to repeat; each executor says how.

pub mod bot;
pub mod cases;
pub mod discord;
pub mod twilio;

use std::time::Instant;

use flexcord_routing::{Action, ActionKind};
use flexcord_store::{Deliver, Failure, Receipt};

use crate::telemetry;

/// Every upstream the outbox delivers to.
pub struct Upstreams {
    /// Discord messages and interaction answers.
    pub discord: discord::DiscordExecutor,
    /// The case store.
    pub cases: cases::CaseExecutor,
    /// The virtual agent.
    pub bot: bot::BotExecutor,
    /// Twilio (absent when the process has no Twilio client, e.g. a bot-only test).
    pub twilio: Option<twilio::TwilioExecutor>,
}

/// Which upstream runs an action (the `upstream` label of the latency metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// Discord.
    Discord,
    /// The case store (and the interaction answers composed around it).
    Cases,
    /// The virtual agent.
    Bot,
    /// Twilio.
    Twilio,
}

impl Upstream {
    /// The upstream of `kind`.
    pub fn of(kind: &ActionKind) -> Self {
        match kind {
            ActionKind::OpenDm { .. }
            | ActionKind::SendDm { .. }
            | ActionKind::EditDm { .. }
            | ActionKind::DeleteDm { .. }
            | ActionKind::Respond { .. }
            | ActionKind::PostAnnouncement { .. }
            | ActionKind::SetupGuild { .. } => Self::Discord,
            ActionKind::OpenCase { .. }
            | ActionKind::UpdateCase { .. }
            | ActionKind::AnnotateCase { .. }
            | ActionKind::FileReport { .. }
            | ActionKind::CaseStatus { .. }
            | ActionKind::CloseCase { .. } => Self::Cases,
            ActionKind::AskBot { .. } => Self::Bot,
            ActionKind::CreateTwilioConversation { .. }
            | ActionKind::PostToTwilio { .. }
            | ActionKind::UpdateTwilioAttributes { .. }
            | ActionKind::CreateInteraction { .. }
            | ActionKind::CloseTwilio { .. }
            | ActionKind::LookupAgentName { .. }
            | ActionKind::CatchUpTwilio { .. } => Self::Twilio,
        }
    }

    /// The metric label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discord => "discord",
            Self::Cases => "cases",
            Self::Bot => "bot",
            Self::Twilio => "twilio",
        }
    }
}

impl Deliver for Upstreams {
    async fn deliver(&self, action: &Action) -> Result<Receipt, Failure> {
        self.deliver_attempt(action, 1).await
    }

    async fn deliver_attempt(&self, action: &Action, attempt: u32) -> Result<Receipt, Failure> {
        let upstream = Upstream::of(&action.kind);
        let started = Instant::now();
        // Boxed: downloads and uploads make some deliveries' futures large.
        let result = match upstream {
            Upstream::Discord => Box::pin(self.discord.run(action)).await,
            Upstream::Cases => Box::pin(self.cases.run(action, &self.discord)).await,
            Upstream::Bot => self.bot.run(action).await,
            Upstream::Twilio => match &self.twilio {
                Some(twilio) => Box::pin(twilio.run(action, attempt)).await,
                None => Err(Failure::permanent(format!(
                    "no Twilio client for {} in this configuration",
                    action.kind.name()
                ))),
            },
        };
        metrics::histogram!(telemetry::UPSTREAM_LATENCY, "upstream" => upstream.name())
            .record(started.elapsed().as_secs_f64());
        if let Err(f) = &result {
            tracing::warn!(action = %action.id.as_str(), kind = action.kind.name(),
                upstream = upstream.name(), permanent = f.permanent, reason = %f.reason,
                "delivery failed");
            if !f.permanent {
                metrics::counter!(telemetry::OUTBOX_RETRIES, "action" => action.kind.name())
                    .increment(1);
            }
        }
        result
    }
}
