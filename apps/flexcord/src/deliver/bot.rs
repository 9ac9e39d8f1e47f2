//! Running `AskBot` actions with the virtual agent (`flexcord-kb`). Asking again is harmless:
//! the agent keeps no state the core relies on.

use std::sync::Arc;

use flexcord_kb::{AgentRequest, Reply, VirtualAgent};
use flexcord_routing::{Action, ActionKind, BotReply, Confidence, Event};
use flexcord_store::{Failure, Receipt};

/// Asks the configured virtual agent.
pub struct BotExecutor {
    agent: Arc<dyn VirtualAgent>,
}

/// The core's view of an agent reply: the messages' texts, the suggested articles as
/// `[title](url)` lines, which the Discord side renders as linked embeds, and how sure the
/// agent is (the core offers "This solved it" only when an article may fit; the agent's own
/// live-agent button is the core's "Talk to a live agent").
pub fn to_bot_reply(reply: &Reply) -> BotReply {
    BotReply {
        messages: reply
            .messages
            .iter()
            .filter_map(|m| m.text.clone())
            .filter(|t| !t.trim().is_empty())
            .collect(),
        suggestions: reply
            .suggestions
            .iter()
            .map(|s| {
                if s.url.is_empty() {
                    s.title.clone()
                } else {
                    format!("[{}]({})", s.title.replace(']', ")"), s.url)
                }
            })
            .collect(),
        handoff: reply.handoff,
        confidence: match reply.confidence {
            flexcord_kb::Confidence::Sure => Confidence::Sure,
            flexcord_kb::Confidence::Unsure => Confidence::Unsure,
            flexcord_kb::Confidence::Unknown => Confidence::Unknown,
        },
    }
}

impl BotExecutor {
    /// An executor over `agent` (see `flexcord_kb::build_agent`).
    pub fn new(agent: Arc<dyn VirtualAgent>) -> Self {
        Self { agent }
    }

    /// Runs an `AskBot` action: its receipt carries the [`Event::BotReply`]. Any other action is
    /// refused as permanent.
    ///
    /// # Errors
    /// A transient [`Failure`] when the agent failed (a remote agent down or slow).
    pub async fn run(&self, action: &Action) -> Result<Receipt, Failure> {
        let ActionKind::AskBot { user, text } = &action.kind else {
            return Err(Failure::permanent(format!(
                "{} is not a bot action",
                action.kind.name()
            )));
        };
        let reply = self
            .agent
            .reply(&AgentRequest::new(format!("discord:{user}"), text.clone()))
            .await
            .map_err(|e| Failure::transient(format!("the virtual agent failed: {e}")))?;
        crate::telemetry::count_bot_reply(reply.handoff, reply.suggestions.len());
        Ok(Receipt::with_event(Event::BotReply {
            action_id: action.id.clone(),
            reply: to_bot_reply(&reply),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flexcord_kb::{AgentConfig, AgentMode, KnowledgeBase, build_agent};
    use flexcord_routing::{ActionId, UserId};

    fn exec() -> BotExecutor {
        let kb = KnowledgeBase::sample().expect("sample knowledge base");
        let agent = build_agent(&AgentConfig::new(AgentMode::Embedded), kb).expect("agent");
        BotExecutor::new(agent)
    }

    #[tokio::test]
    async fn a_question_gets_linked_suggestions() {
        let action = Action {
            id: ActionId::new("7-100", 1),
            kind: ActionKind::AskBot {
                user: UserId(500),
                text: "I forgot my password".into(),
            },
        };
        match exec().run(&action).await.map(|r| r.event) {
            Ok(Some(Event::BotReply { action_id, reply })) => {
                assert_eq!(action_id, action.id);
                assert!(!reply.messages.is_empty());
                assert!(!reply.suggestions.is_empty(), "{reply:?}");
                assert!(
                    reply.suggestions[0].starts_with('[')
                        && reply.suggestions[0].contains("](http"),
                    "{reply:?}"
                );
                assert!(!reply.handoff);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn asking_for_a_person_is_a_handoff() {
        let action = Action {
            id: ActionId::new("7-100", 2),
            kind: ActionKind::AskBot {
                user: UserId(500),
                text: "I want to talk to a human agent".into(),
            },
        };
        match exec().run(&action).await.map(|r| r.event) {
            Ok(Some(Event::BotReply { reply, .. })) => assert!(reply.handoff, "{reply:?}"),
            other => panic!("{other:?}"),
        }
        let other = Action {
            id: ActionId::new("7-100", 3),
            kind: ActionKind::OpenDm { user: UserId(1) },
        };
        assert!(exec().run(&other).await.unwrap_err().permanent);
    }
}
