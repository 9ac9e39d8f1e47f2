//! The Twilio emulator: stateful Chat v2, Flex v1, Conversations v1, Studio v2 and the Media
//! Content Service on one loopback HTTP server, with signed webhooks, a Studio-like router, a
//! Flex agent driven from tests, and fault injection.
//!
//! Every product is served by path on the same server, so each of the client's per-product base
//! URLs can point at [`TwilioEmulator::base_url`]. Requests need HTTP Basic auth with the
//! configured Account SID and Auth Token (or an API key SID and secret).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use flexcord_testkit::twilio::{TwilioConfig, TwilioEmulator};
//!
//! let config = TwilioConfig::default().webhook_base_url("http://127.0.0.1:8080");
//! let twilio = TwilioEmulator::start(config).await?;
//! // ... point the app at twilio.base_url(), let it hand a conversation to Flex ...
//! let agent = twilio.agent("agent:alice");
//! let task = agent.accept_next(Duration::from_secs(5)).await?;
//! let conversation = task.conversation_sid.clone().unwrap_or_default();
//! agent.send(&conversation, "Hi, I am Alice. How can I help?")?;
//! agent.end_task(&task.sid, flexcord_testkit::twilio::TaskEnd::Completed)?;
//! # Ok(()) }
//! ```

mod api;
mod auto;
mod config;
mod control;
mod faults;
mod model;
mod render;
mod state;
mod util;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use auto::{AutoAgent, AutoAgentHandle};
pub use config::{ServiceWebhook, TwilioConfig};
pub use faults::{Fault, FaultEffect, WebhookFault, WebhookFaultEffect};
pub use model::{
    ApiCall, Attempt, ChatChannel, ChatMember, ChatMessage, ChatUser, ChatWebhook, Conversation,
    ConversationService, ConversationUser, ConversationWebhook, Delivery, DeliveryKind,
    DeliveryOutcome, Execution, FlexChannel, FlexFlow, Interaction, InteractionChannel, Media,
    MediaRef, Message, Participant, Route, RouterDecision, Task, TaskStatus,
};

use state::{Deferred, Origin, World};
use util::{ApiError, Params, now};

/// Shared state of a running emulator.
pub(crate) struct Inner {
    pub(crate) cfg: TwilioConfig,
    pub(crate) world: Mutex<World>,
    pub(crate) version: watch::Sender<u64>,
    pub(crate) outbox: mpsc::UnboundedSender<state::Outgoing>,
    pub(crate) http: reqwest::Client,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) addr: SocketAddr,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the world, then sends what it queued and wakes waiters.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut World) -> R) -> R {
        let (r, pending, deferred, changed) = {
            let mut w = self.lock();
            let r = f(&mut w);
            let pending = std::mem::take(&mut w.pending);
            let deferred = std::mem::take(&mut w.deferred);
            let changed = std::mem::replace(&mut w.changed, false);
            (r, pending, deferred, changed)
        };
        self.flush(pending, deferred, changed);
        r
    }

    fn flush(
        self: &Arc<Self>,
        pending: Vec<state::Outgoing>,
        deferred: Vec<Deferred>,
        changed: bool,
    ) {
        for out in pending {
            // The worker lives as long as the emulator; a closed channel only happens on shutdown.
            let _ = self.outbox.send(out);
        }
        for d in deferred {
            match d {
                Deferred::ActivateInteraction { sid, after } => {
                    let me = Arc::clone(self);
                    let handle = tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let (pending, deferred, changed) = {
                            let mut w = me.lock();
                            w.interaction_activate(&sid);
                            (
                                std::mem::take(&mut w.pending),
                                std::mem::take(&mut w.deferred),
                                std::mem::replace(&mut w.changed, false),
                            )
                        };
                        me.flush(pending, deferred, changed);
                    });
                    self.tasks
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(handle);
                }
            }
        }
        if changed {
            self.version.send_modify(|v| *v += 1);
        }
    }

    fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        f(&self.lock())
    }
}

/// A running Twilio emulator. Dropping it stops the server and the webhook worker.
pub struct TwilioEmulator {
    inner: Arc<Inner>,
    addr: SocketAddr,
    base_url: String,
    owner: bool,
}

impl std::fmt::Debug for TwilioEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioEmulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for TwilioEmulator {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        for t in self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}

/// [`TwilioEmulator::wait_for`] ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the condition was not met within {0:?}")]
pub struct WaitTimeout(pub Duration);

/// A control action could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No such conversation, channel, task or message.
    #[error("not found: {0}")]
    NotFound(String),
    /// The action does not apply in the current state.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Waiting timed out.
    #[error(transparent)]
    Timeout(#[from] WaitTimeout),
}

/// How [`Agent::end_task`] ends a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// Close the interaction channel and complete the task (`Routing={"status":"closed"}`).
    Completed,
    /// Close the interaction channel; the task goes to wrap-up.
    Wrapup,
}

impl TwilioEmulator {
    /// Starts the emulator on `config.bind`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(config: TwilioConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let (tx, rx) = mpsc::unbounded_channel();
        let http = reqwest::Client::builder()
            .build()
            .map_err(std::io::Error::other)?;
        let inner = Arc::new(Inner {
            world: Mutex::new(World::new(config.clone(), base_url.clone())),
            cfg: config,
            version: watch::Sender::new(0),
            outbox: tx,
            http,
            tasks: Mutex::new(Vec::new()),
            addr,
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            // The server runs until the emulator is dropped (the task is aborted then).
            let _ = axum::serve(listener, app).await;
        });
        let worker = tokio::spawn(webhooks::worker(Arc::clone(&inner), rx));
        inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend([server, worker]);
        tracing::info!(%addr, "Twilio emulator listening");
        Ok(Self {
            inner,
            addr,
            base_url,
            owner: true,
        })
    }

    /// A handle on a running emulator that does not stop it when dropped.
    pub(crate) fn view(inner: Arc<Inner>) -> Self {
        let addr = inner.addr;
        Self {
            inner,
            addr,
            base_url: format!("http://{addr}"),
            owner: false,
        }
    }

    /// Another handle on this emulator, for a task of its own; dropping it does not stop the
    /// emulator (the first handle does).
    #[must_use]
    pub fn handle(&self) -> Self {
        Self::view(self.inner.clone())
    }

    /// `http://127.0.0.1:<port>`: the base URL for every product (Chat, Flex, Conversations,
    /// Studio, Media).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with (with the generated SIDs).
    pub fn config(&self) -> &TwilioConfig {
        &self.inner.cfg
    }

    /// Account SID.
    pub fn account_sid(&self) -> &str {
        &self.inner.cfg.account_sid
    }

    /// Auth Token (the webhook signing key).
    pub fn auth_token(&self) -> &str {
        &self.inner.cfg.auth_token
    }

    /// The Chat / Conversations / Flex chat service SID.
    pub fn chat_service_sid(&self) -> &str {
        &self.inner.cfg.chat_service_sid
    }

    /// The Flex Flow that exists from the start.
    pub fn flex_flow_sid(&self) -> &str {
        &self.inner.cfg.flex_flow_sid
    }

    /// The Studio flow behind that Flex Flow.
    pub fn studio_flow_sid(&self) -> &str {
        &self.inner.cfg.studio_flow_sid
    }

    // ------------------------------------------------------------------ inspection

    /// Every conversation, oldest first.
    pub fn conversations(&self) -> Vec<Conversation> {
        self.inner.read(|w| w.conversations.clone())
    }

    /// Conversations services, the default one first.
    pub fn conversations_services(&self) -> Vec<ConversationService> {
        self.inner.read(|w| w.conv_services.clone())
    }

    /// Adds a Conversations service (as `POST /v1/Services` does) and returns its SID; its
    /// conversations are reachable under `/v1/Services/{sid}/Conversations` only.
    pub fn add_conversations_service(&self, friendly_name: &str) -> String {
        self.inner.with(|w| w.conv_service_create(friendly_name))
    }

    /// Conversations users of every service, oldest first.
    pub fn conversation_users(&self) -> Vec<ConversationUser> {
        self.inner.read(|w| w.conv_users.clone())
    }

    /// One conversation by SID or unique name.
    pub fn conversation(&self, sid_or_unique_name: &str) -> Option<Conversation> {
        self.inner.read(|w| {
            w.conv_index(sid_or_unique_name)
                .map(|i| w.conversations[i].clone())
        })
    }

    /// The participants of a conversation.
    pub fn participants(&self, conversation_sid: &str) -> Vec<Participant> {
        self.inner.read(|w| {
            w.participants
                .iter()
                .filter(|p| p.conversation_sid == conversation_sid)
                .cloned()
                .collect()
        })
    }

    /// Conversations messages of every conversation added after the first `from` ones, in the
    /// order they were added (cheap to poll: only the new ones are copied). Deleted messages
    /// leave the list, so offsets are only stable while nothing is deleted.
    pub fn messages_since(&self, from: usize) -> Vec<Message> {
        self.inner.read(|w| {
            w.messages
                .get(from..)
                .map(<[Message]>::to_vec)
                .unwrap_or_default()
        })
    }

    /// The messages of a conversation, by index.
    pub fn messages(&self, conversation_sid: &str) -> Vec<Message> {
        self.inner.read(|w| {
            w.messages
                .iter()
                .filter(|m| m.conversation_sid == conversation_sid)
                .cloned()
                .collect()
        })
    }

    /// The scoped webhooks of a conversation.
    pub fn conversation_webhooks(&self, conversation_sid: &str) -> Vec<ConversationWebhook> {
        self.inner.read(|w| {
            w.conv_webhooks
                .iter()
                .filter(|x| x.conversation_sid == conversation_sid)
                .cloned()
                .collect()
        })
    }

    /// Every chat user.
    pub fn chat_users(&self) -> Vec<ChatUser> {
        self.inner.read(|w| w.chat_users.clone())
    }

    /// Every chat channel.
    pub fn chat_channels(&self) -> Vec<ChatChannel> {
        self.inner.read(|w| w.chat_channels.clone())
    }

    /// One chat channel by SID or unique name.
    pub fn chat_channel(&self, sid_or_unique_name: &str) -> Option<ChatChannel> {
        self.inner.read(|w| {
            w.chat_channel_index(sid_or_unique_name)
                .map(|i| w.chat_channels[i].clone())
        })
    }

    /// The members of a chat channel.
    pub fn chat_members(&self, channel_sid: &str) -> Vec<ChatMember> {
        self.inner.read(|w| {
            w.chat_members
                .iter()
                .filter(|m| m.channel_sid == channel_sid)
                .cloned()
                .collect()
        })
    }

    /// The messages of a chat channel.
    pub fn chat_messages(&self, channel_sid: &str) -> Vec<ChatMessage> {
        self.inner.read(|w| {
            w.chat_messages
                .iter()
                .filter(|m| m.channel_sid == channel_sid)
                .cloned()
                .collect()
        })
    }

    /// The webhooks of a chat channel.
    pub fn chat_webhooks(&self, channel_sid: &str) -> Vec<ChatWebhook> {
        self.inner.read(|w| {
            w.chat_webhooks
                .iter()
                .filter(|m| m.channel_sid == channel_sid)
                .cloned()
                .collect()
        })
    }

    /// Flex chat channels created through `POST /v1/Channels`.
    pub fn flex_channels(&self) -> Vec<FlexChannel> {
        self.inner.read(|w| w.flex_channels.clone())
    }

    /// Flex interactions.
    pub fn interactions(&self) -> Vec<Interaction> {
        self.inner.read(|w| w.interactions.clone())
    }

    /// Flex interaction channels.
    pub fn interaction_channels(&self) -> Vec<InteractionChannel> {
        self.inner.read(|w| w.interaction_channels.clone())
    }

    /// Every task, oldest first.
    pub fn tasks(&self) -> Vec<Task> {
        self.inner.read(|w| w.tasks.clone())
    }

    /// Studio executions.
    pub fn executions(&self) -> Vec<Execution> {
        self.inner.read(|w| w.executions.clone())
    }

    /// Media items.
    pub fn media(&self) -> Vec<Media> {
        self.inner.read(|w| w.media.clone())
    }

    /// What the Studio-like router did with each user message.
    pub fn router_decisions(&self) -> Vec<RouterDecision> {
        self.inner.read(|w| w.decisions.clone())
    }

    /// Every webhook and bot request, in the order they were queued.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.read(|w| w.deliveries.clone())
    }

    /// Deliveries of one `EventType`.
    pub fn events(&self, event_type: &str) -> Vec<Delivery> {
        self.inner.read(|w| {
            w.deliveries
                .iter()
                .filter(|d| d.event_type.as_deref() == Some(event_type))
                .cloned()
                .collect()
        })
    }

    /// Requests the router sent to the bot URL.
    pub fn bot_requests(&self) -> Vec<Delivery> {
        self.inner.read(|w| {
            w.deliveries
                .iter()
                .filter(|d| d.kind == DeliveryKind::Bot)
                .cloned()
                .collect()
        })
    }

    /// Every REST request answered, with the JSON answered.
    pub fn api_calls(&self) -> Vec<ApiCall> {
        self.inner.read(|w| w.calls.clone())
    }

    // ------------------------------------------------------------------ configuration at run time

    /// Sets (or removes) the service-level Conversations webhook.
    pub fn set_conversations_webhook(&self, hook: Option<ServiceWebhook>) {
        self.inner.with(|w| w.cfg.conversations_webhook = hook);
    }

    /// Sets (or removes) the service-level Chat webhook.
    pub fn set_chat_webhook(&self, hook: Option<ServiceWebhook>) {
        self.inner.with(|w| w.cfg.chat_webhook = hook);
    }

    /// Sets the bot URL the router posts to.
    pub fn set_bot_url(&self, url: Option<String>) {
        self.inner.with(|w| w.cfg.bot_url = url);
    }

    /// Lets every conversation timer run out now, as if its time had passed: `Timers.Inactive`
    /// makes an active conversation `inactive`, `Timers.Closed` closes it; each change fires
    /// `onConversationStateUpdated` with `Reason` `TIMER`. Returns how many conversations changed.
    pub fn expire_timers(&self) -> usize {
        self.inner.with(World::expire_timers)
    }

    // ------------------------------------------------------------------ faults

    /// Adds a REST fault; rules are tried in the order added.
    pub fn inject(&self, fault: Fault) {
        self.inner.with(|w| w.faults.push(fault));
    }

    /// Adds a webhook fault.
    pub fn inject_webhook(&self, fault: WebhookFault) {
        self.inner.with(|w| w.webhook_faults.push(fault));
    }

    /// How many REST answers a [`Fault::hold`] is holding right now.
    pub fn held(&self) -> usize {
        self.inner.read(|w| w.held)
    }

    /// Sends every answer held by a [`Fault::hold`]; returns how many were held.
    pub fn release_held(&self) -> usize {
        self.inner.with(|w| {
            w.releases += 1;
            w.changed = true;
            w.held
        })
    }

    /// Removes every fault (answers already held stay held until [`Self::release_held`]).
    pub fn clear_faults(&self) {
        self.inner.with(|w| {
            w.faults.clear();
            w.webhook_faults.clear();
        });
    }

    // ------------------------------------------------------------------ waiting

    /// Waits until `check` returns `Some`, re-checking after every change of state.
    ///
    /// # Errors
    /// [`WaitTimeout`] when `timeout` passes first.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        let mut rx = self.inner.version.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(t) = check(self) {
                return Ok(t);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(WaitTimeout(timeout)),
            }
        }
    }

    /// Waits for a finished delivery (delivered, failed or dropped) matching `pred`.
    ///
    /// # Errors
    /// [`WaitTimeout`] when `timeout` passes first.
    pub async fn wait_for_delivery(
        &self,
        timeout: Duration,
        pred: impl Fn(&Delivery) -> bool,
    ) -> Result<Delivery, WaitTimeout> {
        self.wait_for(timeout, |e| {
            e.deliveries()
                .into_iter()
                .find(|d| d.outcome != DeliveryOutcome::Pending && pred(d))
        })
        .await
    }

    /// Waits for a finished delivery of this `EventType`.
    ///
    /// # Errors
    /// [`WaitTimeout`] when `timeout` passes first.
    pub async fn wait_for_event(
        &self,
        timeout: Duration,
        event_type: &str,
    ) -> Result<Delivery, WaitTimeout> {
        self.wait_for_delivery(timeout, |d| d.event_type.as_deref() == Some(event_type))
            .await
    }

    /// Waits for a pending task.
    ///
    /// # Errors
    /// [`WaitTimeout`] when `timeout` passes first.
    pub async fn wait_for_task(&self, timeout: Duration) -> Result<Task, WaitTimeout> {
        self.wait_for(timeout, |e| {
            e.tasks()
                .into_iter()
                .find(|t| t.status == TaskStatus::Pending)
        })
        .await
    }

    // ------------------------------------------------------------------ the Flex agent

    /// A Flex agent with this identity (for example `agent:alice`).
    pub fn agent(&self, identity: &str) -> Agent<'_> {
        Agent {
            emulator: self,
            identity: identity.to_owned(),
        }
    }
}

/// A Flex agent driven from tests: accepts tasks, writes, edits, attaches files, ends tasks.
#[derive(Debug)]
pub struct Agent<'a> {
    emulator: &'a TwilioEmulator,
    identity: String,
}

impl Agent<'_> {
    /// The agent's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Accepts a pending task: the agent joins the conversation (`onParticipantAdded`) or the chat
    /// channel (`onMemberAdded`). Returns the participant or member SID.
    ///
    /// # Errors
    /// When the task does not exist or is not pending.
    pub fn accept(&self, task_sid: &str) -> Result<String, ControlError> {
        self.emulator
            .inner
            .with(|w| w.task_accept(task_sid, &self.identity))
            .map_err(ControlError::Invalid)
    }

    /// Waits for the next pending task and accepts it.
    ///
    /// # Errors
    /// When no task arrives in time.
    pub async fn accept_next(&self, timeout: Duration) -> Result<Task, ControlError> {
        let task = self.emulator.wait_for_task(timeout).await?;
        self.accept(&task.sid)?;
        self.emulator
            .inner
            .read(|w| w.tasks.iter().find(|t| t.sid == task.sid).cloned())
            .ok_or_else(|| ControlError::NotFound(task.sid.clone()))
    }

    /// Sends a message as the agent (Source `SDK`) into a conversation or chat channel; returns
    /// the message SID.
    ///
    /// # Errors
    /// When the target does not exist or is closed.
    pub fn send(&self, target: &str, body: &str) -> Result<String, ControlError> {
        self.post(target, Some(body.to_owned()), None)
            .map(|(sid, _)| sid)
    }

    /// Like [`send`](Self::send), returning the message SID and its position (`Index`) in the
    /// conversation or channel: what a load driver that posts the webhook itself needs.
    ///
    /// # Errors
    /// When the target does not exist or is closed.
    pub fn send_indexed(&self, target: &str, body: &str) -> Result<(String, u64), ControlError> {
        self.post(target, Some(body.to_owned()), None)
    }

    /// Sends a file (and an optional caption) as the agent; the media is stored in the Media
    /// Content Service and the message carries it (`onMessageAdded` with `Media`, or Chat's
    /// `onMediaMessageSent`). Returns the message SID.
    ///
    /// # Errors
    /// When the target does not exist or is closed.
    pub fn send_media(
        &self,
        target: &str,
        filename: &str,
        content_type: &str,
        content: impl Into<Bytes>,
        caption: Option<&str>,
    ) -> Result<String, ControlError> {
        let content = content.into();
        let media = self.emulator.inner.with(|w| {
            let m = Media {
                sid: util::sid("ME"),
                service_sid: w.cfg.chat_service_sid.clone(),
                filename: filename.to_owned(),
                content_type: content_type.to_owned(),
                content,
                author: Some(self.identity.clone()),
                message_sid: None,
                channel_sid: None,
                date_created: now(),
            };
            let r = MediaRef {
                sid: m.sid.clone(),
                filename: m.filename.clone(),
                content_type: m.content_type.clone(),
                size: m.content.len() as u64,
            };
            w.media.push(m);
            r
        });
        self.post(target, caption.map(str::to_owned), Some(media))
            .map(|(sid, _)| sid)
    }

    fn post(
        &self,
        target: &str,
        body: Option<String>,
        media: Option<MediaRef>,
    ) -> Result<(String, u64), ControlError> {
        let origin = Origin::sdk(&self.identity);
        self.emulator.inner.with(|w| {
            if let Some(c) = w.conv_index(target) {
                if w.conversations[c].state == "closed" {
                    return Err(ControlError::Invalid(format!(
                        "conversation {target} is closed"
                    )));
                }
                let i = w.push_message(
                    c,
                    self.identity.clone(),
                    body,
                    "{}".to_owned(),
                    media.into_iter().collect(),
                    now(),
                    now(),
                    &origin,
                );
                return Ok((w.messages[i].sid.clone(), w.messages[i].index));
            }
            if let Some(c) = w.chat_channel_index(target) {
                let i = w.push_chat_message(
                    c,
                    self.identity.clone(),
                    body,
                    "{}".to_owned(),
                    media,
                    now(),
                    now(),
                    &origin,
                );
                return Ok((w.chat_messages[i].sid.clone(), w.chat_messages[i].index));
            }
            Err(ControlError::NotFound(target.to_owned()))
        })
    }

    /// Edits one of the messages (`onMessageUpdated`).
    ///
    /// # Errors
    /// When the target or message does not exist.
    pub fn edit(&self, target: &str, message_sid: &str, body: &str) -> Result<(), ControlError> {
        let origin = Origin::sdk(&self.identity);
        let p = Params(vec![("Body".to_owned(), body.to_owned())]);
        self.emulator.inner.with(|w| {
            if let Some(c) = w.conv_index(target) {
                let sid = w.conversations[c].sid.clone();
                let i = w
                    .message_index(&sid, message_sid)
                    .ok_or_else(|| ControlError::NotFound(message_sid.to_owned()))?;
                return w
                    .message_update(c, i, &p, &origin)
                    .map_err(|e| ControlError::Invalid(e.message));
            }
            if let Some(c) = w.chat_channel_index(target) {
                let sid = w.chat_channels[c].sid.clone();
                let i = w
                    .chat_messages
                    .iter()
                    .position(|m| m.channel_sid == sid && m.sid == message_sid)
                    .ok_or_else(|| ControlError::NotFound(message_sid.to_owned()))?;
                return w
                    .chat_message_update(c, i, &p, &origin)
                    .map_err(|e| ControlError::Invalid(e.message));
            }
            Err(ControlError::NotFound(target.to_owned()))
        })
    }

    /// Closes a conversation (`onConversationStateUpdated` to `closed`), or on the Chat path sets
    /// the channel's `status` attribute to `INACTIVE` (`onChannelUpdated`).
    ///
    /// # Errors
    /// When the target does not exist.
    pub fn close_conversation(&self, target: &str) -> Result<(), ControlError> {
        self.emulator.inner.with(|w| {
            if let Some(c) = w.conv_index(target) {
                w.conv_set_state(c, "closed");
                return Ok(());
            }
            if let Some(c) = w.chat_channel_index(target) {
                let mut attrs: Value = serde_json::from_str(&w.chat_channels[c].attributes)
                    .unwrap_or_else(|_| serde_json::json!({}));
                if let Some(o) = attrs.as_object_mut() {
                    o.insert("status".to_owned(), Value::from("INACTIVE"));
                }
                let p = Params(vec![("Attributes".to_owned(), attrs.to_string())]);
                return w
                    .chat_channel_update(c, &p, &Origin::flex())
                    .map_err(|e| ControlError::Invalid(e.message));
            }
            Err(ControlError::NotFound(target.to_owned()))
        })
    }

    /// Ends a task as Flex's "end chat" does: the interaction channel is closed and the
    /// conversation with it; on the Chat path the channel becomes `INACTIVE`.
    ///
    /// # Errors
    /// When the task does not exist.
    pub fn end_task(&self, task_sid: &str, how: TaskEnd) -> Result<(), ControlError> {
        self.emulator
            .inner
            .with(|w| w.task_end(task_sid, how == TaskEnd::Wrapup))
            .map_err(ControlError::NotFound)
    }
}

// ---------------------------------------------------------------------- HTTP

fn authorized(cfg: &TwilioConfig, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = text.split_once(':') else {
        return false;
    };
    (user == cfg.account_sid && pass == cfg.auth_token)
        || cfg.api_keys.iter().any(|(k, s)| k == user && s == pass)
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let body = axum::body::to_bytes(body, 32 * 1024 * 1024)
        .await
        .unwrap_or_default();

    if let Some(rest) = path.strip_prefix("/__media/") {
        return temporary_media(&inner, rest, raw_query.as_deref());
    }
    if path.starts_with("/__testkit/") {
        return control::handle(&inner, &method, &path, &body);
    }

    // Injected latency first, then auth, then injected errors; a held answer waits last.
    let (delay, fault, hold) = inner.with(|w| {
        let mut delay = Duration::ZERO;
        let mut fault = None;
        let mut hold = false;
        let mut i = 0;
        while i < w.faults.len() {
            if w.faults[i].matches(&method, &path) {
                let f = w.faults[i].clone();
                match f.effect {
                    FaultEffect::Latency(d) => delay += d,
                    FaultEffect::Hold => hold = true,
                    _ if fault.is_none() => fault = Some(f.effect),
                    _ => {
                        i += 1;
                        continue;
                    }
                }
                if let Some(n) = &mut w.faults[i].remaining {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        w.faults.remove(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
        (delay, fault, hold)
    });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let answer: Result<Response, ApiError> = if authorized(&inner.cfg, &parts.headers) {
        match fault {
            Some(FaultEffect::TooManyRequests(after)) => {
                let mut e =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
                e.retry_after = Some(after.as_secs() + u64::from(after.subsec_nanos() > 0));
                Err(e)
            }
            Some(FaultEffect::ServerError) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            )),
            Some(FaultEffect::Unavailable) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                20503,
                "Service Unavailable",
            )),
            _ => serve(
                &inner,
                &method,
                &path,
                raw_query.as_deref(),
                &parts.headers,
                body,
            ),
        }
    } else {
        Err(ApiError::unauthorized())
    };
    let response = answer.unwrap_or_else(IntoResponse::into_response);
    if hold {
        hold_until_released(&inner).await;
    }
    tracing::debug!(%method, %path, status = response.status().as_u16(), "twilio emulator request");
    log_call(&inner, method, path, raw_query, response).await
}

/// Waits for the next [`TwilioEmulator::release_held`], counted in [`TwilioEmulator::held`]
/// meanwhile.
async fn hold_until_released(inner: &Arc<Inner>) {
    let mut rx = inner.version.subscribe();
    let generation = inner.with(|w| {
        w.held += 1;
        w.changed = true;
        w.releases
    });
    while inner.read(|w| w.releases) == generation {
        if rx.changed().await.is_err() {
            break; // the emulator is shutting down
        }
    }
    inner.with(|w| {
        w.held = w.held.saturating_sub(1);
        w.changed = true;
    });
}

fn serve(
    inner: &Arc<Inner>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    // Media content, with auth.
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let ["v1", "Services", _, "Media", sid, "Content"] = segs.as_slice() {
        return inner
            .read(|w| w.media.iter().find(|m| m.sid == *sid).cloned())
            .map(|m| media_response(&m))
            .ok_or_else(|| ApiError::not_found(path));
    }
    let req = api::Req {
        method: method.to_owned(),
        path: path.to_owned(),
        query: Params::parse(query.unwrap_or("").as_bytes()),
        form: if is_form || (method == "POST" && content_type.is_none()) {
            Params::parse(&body)
        } else {
            Params::default()
        },
        webhook_header: headers
            .get("X-Twilio-Webhook-Enabled")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        raw_body: body,
        content_type,
    };
    let (status, value) = inner.with(|w| api::dispatch(w, &req))?;
    if status == StatusCode::NO_CONTENT {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((status, axum::Json(value)).into_response())
}

fn media_response(m: &Media) -> Response {
    let mut res = Response::new(Body::from(m.content.clone()));
    if let Ok(v) = header::HeaderValue::from_str(&m.content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res
}

fn temporary_media(inner: &Arc<Inner>, sid: &str, query: Option<&str>) -> Response {
    let q = Params::parse(query.unwrap_or("").as_bytes());
    let expires = q.get("Expires").and_then(|e| e.parse::<i64>().ok());
    let found = inner.read(|w| {
        let m = w.media.iter().find(|m| m.sid == sid)?.clone();
        let exp = expires?;
        (q.get("Signature") == Some(api::link_signature(w, sid, exp).as_str())).then_some((m, exp))
    });
    match found {
        Some((m, exp)) if exp >= time::OffsetDateTime::now_utc().unix_timestamp() => {
            media_response(&m)
        }
        Some(_) => (StatusCode::FORBIDDEN, "the link has expired").into_response(),
        None => (StatusCode::FORBIDDEN, "invalid media link").into_response(),
    }
}

async fn log_call(
    inner: &Arc<Inner>,
    method: String,
    path: String,
    query: Option<String>,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 32 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let status = parts.status.as_u16();
    inner.with(|w| {
        w.calls.push(ApiCall {
            method,
            path,
            query,
            status,
            response: json,
        });
        w.changed = true;
    });
    Response::from_parts(parts, Body::from(bytes))
}
