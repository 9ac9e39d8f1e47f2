//! A Flex agent that works by itself, for demos and end-to-end runs: it accepts every task,
//! greets the customer, answers each customer message and ends the task on a farewell.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Inner, TaskEnd, TaskStatus, TwilioEmulator};

type Reply = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What an automatic agent does; start it with [`TwilioEmulator::start_auto_agent`].
///
/// ```no_run
/// # async fn run(twilio: flexcord_testkit::twilio::TwilioEmulator) {
/// use flexcord_testkit::twilio::AutoAgent;
/// let agent = twilio.start_auto_agent(
///     AutoAgent::new("agent:alice")
///         .greeting("Hi, Alice here. How can I help?")
///         .reply_with(|text| Some(format!("Noted: {text}")))
///         .end_words(&["bye", "thanks"]),
/// );
/// // ... the agent runs until `agent` is dropped or stopped ...
/// agent.stop();
/// # }
/// ```
#[derive(Clone)]
pub struct AutoAgent {
    identity: String,
    greeting: Option<String>,
    reply: Reply,
    end_words: Vec<String>,
    delay: Duration,
}

impl fmt::Debug for AutoAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoAgent")
            .field("identity", &self.identity)
            .field("greeting", &self.greeting)
            .field("end_words", &self.end_words)
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl AutoAgent {
    /// An agent with this identity: greets with `Hi, this is {identity}. How can I help?`,
    /// answers `Thanks, I am looking into it: {message}`, ends the task on `bye`.
    pub fn new(identity: impl Into<String>) -> Self {
        let identity = identity.into();
        Self {
            greeting: Some(format!("Hi, this is {identity}. How can I help?")),
            identity,
            reply: Arc::new(|text| Some(format!("Thanks, I am looking into it: {text}"))),
            end_words: vec!["bye".to_owned()],
            delay: Duration::ZERO,
        }
    }

    /// The first message after accepting a task.
    #[must_use]
    pub fn greeting(mut self, greeting: impl Into<String>) -> Self {
        self.greeting = Some(greeting.into());
        self
    }

    /// No greeting.
    #[must_use]
    pub fn no_greeting(mut self) -> Self {
        self.greeting = None;
        self
    }

    /// The answer to a customer message (`None`: stay silent).
    #[must_use]
    pub fn reply_with(
        mut self,
        reply: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.reply = Arc::new(reply);
        self
    }

    /// A customer message containing one of these words (case-insensitive) ends the task.
    #[must_use]
    pub fn end_words(mut self, words: &[&str]) -> Self {
        self.end_words = words.iter().map(|w| w.to_lowercase()).collect();
        self
    }

    /// A pause before each action, so a demo reads naturally.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A running [`AutoAgent`]; it stops when this handle is dropped or [`stop`](Self::stop)ped.
#[derive(Debug)]
pub struct AutoAgentHandle {
    task: JoinHandle<()>,
}

impl AutoAgentHandle {
    /// Stops the agent.
    pub fn stop(self) {}
}

impl Drop for AutoAgentHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TwilioEmulator {
    /// Starts an agent that works by itself (see [`AutoAgent`]).
    pub fn start_auto_agent(&self, agent: AutoAgent) -> AutoAgentHandle {
        AutoAgentHandle {
            task: tokio::spawn(run(Arc::clone(&self.inner), agent)),
        }
    }
}

/// The customer messages of a conversation or chat channel at or after `from`: (index, text).
fn customer_messages(
    emu: &TwilioEmulator,
    target: &str,
    me: &str,
    from: u64,
) -> Vec<(u64, String)> {
    let bot = emu.config().bot_identity.clone();
    let agents = emu.inner.read(|w| w.agents.clone());
    let others = |author: &str| {
        author != me && author != bot && author != "system" && !agents.iter().any(|a| a == author)
    };
    let conv: Vec<(u64, String)> = emu
        .messages(target)
        .into_iter()
        .filter(|m| m.index >= from && others(&m.author))
        .map(|m| (m.index, m.body.unwrap_or_default()))
        .collect();
    if !conv.is_empty() {
        return conv;
    }
    emu.chat_messages(target)
        .into_iter()
        .filter(|m| m.index >= from && others(&m.from))
        .map(|m| (m.index, m.body.unwrap_or_default()))
        .collect()
}

fn next_index(emu: &TwilioEmulator, target: &str) -> u64 {
    let conv = emu.messages(target).iter().map(|m| m.index + 1).max();
    let chat = emu.chat_messages(target).iter().map(|m| m.index + 1).max();
    conv.or(chat).unwrap_or(0)
}

pub(crate) async fn run(inner: Arc<Inner>, agent: AutoAgent) {
    let emu = TwilioEmulator::view(Arc::clone(&inner));
    let me = emu.agent(&agent.identity);
    let mut changes = inner.version.subscribe();
    let mut seen: HashMap<String, u64> = HashMap::new();
    loop {
        changes.borrow_and_update();
        for task in emu.tasks() {
            let Some(target) = task
                .conversation_sid
                .clone()
                .or_else(|| task.chat_channel_sid.clone())
            else {
                continue;
            };
            match task.status {
                TaskStatus::Pending => {
                    tokio::time::sleep(agent.delay).await;
                    if me.accept(&task.sid).is_err() {
                        continue; // another agent was faster
                    }
                    seen.insert(target.clone(), next_index(&emu, &target));
                    if let Some(greeting) = &agent.greeting {
                        let _ = me.send(&target, greeting);
                    }
                }
                TaskStatus::Assigned if task.worker.as_deref() == Some(agent.identity.as_str()) => {
                    let from = *seen.entry(target.clone()).or_insert(0);
                    for (index, text) in customer_messages(&emu, &target, &agent.identity, from) {
                        seen.insert(target.clone(), index + 1);
                        let lower = text.to_lowercase();
                        tokio::time::sleep(agent.delay).await;
                        if agent.end_words.iter().any(|w| lower.contains(w.as_str())) {
                            let _ = me.end_task(&task.sid, TaskEnd::Completed);
                            break;
                        }
                        if let Some(answer) = (agent.reply)(&text) {
                            let _ = me.send(&target, &answer);
                        }
                    }
                }
                _ => {}
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}
