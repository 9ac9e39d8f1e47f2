//! The Discord emulator: gateway (v10 JSON over `ws://`) and REST under `/api/v10`, on one
//! loopback port, with a Rust control API for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), flexcord_testkit::discord::EmulatorError> {
//! use std::time::Duration;
//! use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator, SlashCommand};
//!
//! let discord = DiscordEmulator::start(DiscordConfig::default()).await?;
//! // twilight: ConfigBuilder::proxy_url(discord.gateway_url()),
//! //           ClientBuilder::proxy(discord.proxy_host(), true)
//! discord.wait_for(|s| s.shard_connected(0), Duration::from_secs(5)).await?;
//! let alice = discord.user_id("alice").unwrap_or_default();
//! discord.inject_dm(alice, "hello")?;
//! discord.inject_slash(alice, &SlashCommand::new("case").subcommand("status", [("number", "CASE-000001")]))?;
//! let reply = discord
//!     .wait_for_value(|s| s.dms_to(alice).last().map(|m| m.content.clone()), Duration::from_secs(5))
//!     .await?;
//! # let _ = reply; Ok(()) }
//! ```
//!
//! Behaviour worth knowing:
//! - READY's `resume_gateway_url` is the emulator's own `ws://` URL.
//! - Dispatches are routed like Discord's: DMs to shard 0, guild events to
//!   `(guild_id >> 22) % num_shards`. An event injected before any session of its shard has
//!   identified is kept and delivered right after that shard's READY (so a test need not wait
//!   for the bot to connect before injecting).
//! - Messages the bot creates are also dispatched as `MESSAGE_CREATE`, as Discord does
//!   ([`DiscordConfig::echo_bot_messages`]).
//! - An interaction must be answered within [`DiscordConfig::interaction_ack_deadline`]; every
//!   REST answer carries `x-ratelimit-*` headers with `x-ratelimit-scope: user`.

mod config;
mod control;
mod gateway;
mod inject;
mod payload;
mod rest;
mod ser;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::{ChannelKind, ChannelSpec, DEFAULT_TOKEN, DiscordConfig, RoleSpec, UserSpec};
pub use inject::{CommandOption, Injected, ModalSubmit, OptionValue, SlashCommand};
pub use state::{
    Attachment, DiscordState, FaultKind, InteractionRecord, InteractionResponse, MessageOrigin,
    RestCall, SessionInfo, StoredMessage, UploadedFile,
};

use state::{RouteFault, pattern_segments};

/// Errors of the Discord emulator's control API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listener could not be bound.
    #[error("cannot bind the Discord emulator: {0}")]
    Bind(#[source] std::io::Error),
    /// No such user (or the bot itself).
    #[error("unknown user {0}")]
    UnknownUser(u64),
    /// No such channel, or not one the event can happen in.
    #[error("unknown or unsuitable channel {0}")]
    UnknownChannel(u64),
    /// No such message.
    #[error("unknown message {0}")]
    UnknownMessage(u64),
    /// No visible bot message has a component with this `custom_id`.
    #[error("no bot message shows a component with custom_id `{0}`")]
    ComponentNotFound(String),
    /// The bot never answered this user with a modal with this `custom_id`.
    #[error("the bot never showed a modal with custom_id `{0}` to this user")]
    ModalNotShown(String),
    /// The modal has no text input with this `custom_id`.
    #[error("the modal has no text input `{0}`")]
    UnknownModalField(String),
    /// A command line could not be turned into a slash command.
    #[error("cannot parse the command: {0}")]
    CommandParse(String),
    /// [`DiscordEmulator::wait_for`] ran out of time.
    #[error("condition not met within {0:?}")]
    Timeout(Duration),
}

/// State shared by the server tasks and the control API.
pub(crate) struct Shared {
    state: Mutex<DiscordState>,
    pub(crate) changed: watch::Sender<u64>,
}

impl Shared {
    /// Runs `f` under the lock and wakes waiters.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut DiscordState) -> R) -> R {
        let r = {
            let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        };
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        r
    }

    /// Runs `f` under the lock without waking waiters.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&DiscordState) -> R) -> R {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&guard)
    }
}

/// Serves the bytes of a stored attachment, as Discord's CDN does.
async fn serve_attachment(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    axum::extract::Path((_channel, id, _filename)): axum::extract::Path<(u64, u64, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match shared.read(|s| s.attachment(id).cloned()) {
        Some(file) => (
            [(axum::http::header::CONTENT_TYPE, file.content_type)],
            file.data,
        )
            .into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

struct ServerGuard(CancellationToken);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A running Discord emulator. Cheap to clone; the server stops when the last clone is dropped
/// (or on [`shutdown`](Self::shutdown)).
#[derive(Clone)]
pub struct DiscordEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    config: Arc<DiscordConfig>,
    guard: Arc<ServerGuard>,
}

impl std::fmt::Debug for DiscordEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DiscordEmulator {
    /// Binds `config.bind` (default `127.0.0.1:0`) and serves the gateway at `/` and REST under
    /// `/api/v10`.
    ///
    /// # Errors
    /// [`EmulatorError::Bind`] when the address cannot be bound.
    pub async fn start(config: DiscordConfig) -> Result<Self, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(EmulatorError::Bind)?;
        let addr = listener.local_addr().map_err(EmulatorError::Bind)?;
        let gateway_url = format!("ws://{addr}");
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(DiscordState::new(config.clone(), gateway_url)),
            changed,
        });
        let app = Router::new()
            .route("/", get(gateway::upgrade))
            .route("/api/v10/{*path}", any(rest::handle))
            .route("/__testkit/discord/{action}", any(control::handle))
            .route(
                "/attachments/{channel}/{id}/{filename}",
                get(serve_attachment),
            )
            // Room for ten files at the upload limit, so larger ones reach the 40005 check.
            .layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(config.upload_limit.saturating_mul(10))
                    .unwrap_or(usize::MAX)
                    .saturating_add(1 << 20),
            ))
            .with_state(Arc::clone(&shared));
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "Discord emulator server stopped");
            }
        });
        // Close every websocket when the emulator goes away, or graceful shutdown would wait.
        let weak = Arc::downgrade(&shared);
        let closing = cancel.clone();
        tokio::spawn(async move {
            closing.cancelled().await;
            if let Some(shared) = weak.upgrade() {
                shared.with(|s| s.drop_connections(None));
            }
        });
        tracing::info!(%addr, "Discord emulator listening");
        Ok(Self {
            shared,
            addr,
            config: Arc::new(config),
            guard: Arc::new(ServerGuard(cancel)),
        })
    }

    /// Stops the server and closes every connection.
    pub fn shutdown(&self) {
        self.guard.0.cancel();
    }

    /// The gateway URL, `ws://127.0.0.1:<port>` (twilight `ConfigBuilder::proxy_url`).
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The REST base URL, `http://127.0.0.1:<port>` (requests go to `/api/v10/...`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:<port>`, for twilight's `ClientBuilder::proxy(host, true)`.
    pub fn proxy_host(&self) -> String {
        self.addr.to_string()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration the emulator started with.
    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }

    /// The bot token the emulator accepts (`None`: any token), [`DEFAULT_TOKEN`] by default.
    pub fn token(&self) -> Option<&str> {
        self.config.token.as_deref()
    }

    /// The bot's user id.
    pub fn bot_id(&self) -> u64 {
        self.config.bot.id
    }

    /// The application id.
    pub fn application_id(&self) -> u64 {
        self.config.application_id
    }

    /// The guild id.
    pub fn guild_id(&self) -> u64 {
        self.config.guild_id
    }

    /// Id of a channel or thread by name (`bug-report` or `#bug-report`).
    pub fn channel_id(&self, name: &str) -> Option<u64> {
        self.shared.read(|s| s.channel_id(name))
    }

    /// Id of a user by username.
    pub fn user_id(&self, username: &str) -> Option<u64> {
        self.shared.read(|s| {
            s.users
                .values()
                .find(|u| u.username == username)
                .map(|u| u.id)
        })
    }

    /// Adds a user (a guild member) at run time.
    pub fn add_user(&self, user: UserSpec) {
        self.shared.with(|s| {
            s.users.insert(user.id, user);
        });
    }

    /// Every REST answer takes `latency` longer from now on (an upstream's latency).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.with(|s| s.config.latency = latency);
    }

    /// A user writes a DM to the bot: `MESSAGE_CREATE` on shard 0 (the DM channel is created on
    /// first use, as Discord does).
    ///
    /// # Errors
    /// [`EmulatorError::UnknownUser`].
    pub fn inject_dm(&self, user_id: u64, content: &str) -> Result<Injected, EmulatorError> {
        self.shared.with(|s| s.inject_dm(user_id, content, &[]))
    }

    /// A user writes a DM with files attached; each file is served by the emulator at its
    /// attachment `url` (`http://127.0.0.1:<port>/attachments/...`).
    ///
    /// # Errors
    /// [`EmulatorError::UnknownUser`].
    pub fn inject_dm_with_files(
        &self,
        user_id: u64,
        content: &str,
        files: &[Attachment],
    ) -> Result<Injected, EmulatorError> {
        self.shared.with(|s| s.inject_dm(user_id, content, files))
    }

    /// A user writes in a guild channel or thread.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownUser`], [`EmulatorError::UnknownChannel`].
    pub fn inject_guild_message(
        &self,
        channel_id: u64,
        user_id: u64,
        content: &str,
    ) -> Result<Injected, EmulatorError> {
        self.shared
            .with(|s| s.inject_guild_message(channel_id, user_id, content))
    }

    /// A user runs a slash command (`INTERACTION_CREATE` type 2). The command id is the
    /// registered one when the bot registered that command.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownUser`], [`EmulatorError::UnknownChannel`], or
    /// [`EmulatorError::CommandParse`] for a guild-only command run in a DM.
    pub fn inject_slash(
        &self,
        user_id: u64,
        command: &SlashCommand,
    ) -> Result<Injected, EmulatorError> {
        self.shared.with(|s| s.inject_slash(user_id, command))
    }

    /// A user types a command line such as `/case status CASE-000001` or
    /// `/bug title:"It crashes"`: words are matched to the registered command's sub-commands and
    /// options (positionally or as `name:value`) and typed accordingly. Runs in the user's DM,
    /// or in `channel_id`.
    ///
    /// # Errors
    /// [`EmulatorError::CommandParse`] when the line does not fit the registered command, plus
    /// those of [`inject_slash`](Self::inject_slash).
    pub fn inject_command_line(
        &self,
        user_id: u64,
        line: &str,
        channel_id: Option<u64>,
    ) -> Result<Injected, EmulatorError> {
        self.shared.with(|s| {
            let mut cmd = s.parse_command_line(line)?;
            cmd.channel = channel_id;
            s.inject_slash(user_id, &cmd)
        })
    }

    /// A user presses the button with this `custom_id` on the most recent bot message showing
    /// it (in the user's DM or a guild channel): `INTERACTION_CREATE` type 3 with `message`.
    ///
    /// # Errors
    /// [`EmulatorError::ComponentNotFound`] when no visible bot message has that button.
    pub fn inject_button(&self, user_id: u64, custom_id: &str) -> Result<Injected, EmulatorError> {
        self.shared
            .with(|s| s.inject_component(user_id, custom_id, None, None))
    }

    /// A user presses a button on a given message.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownMessage`], [`EmulatorError::ComponentNotFound`].
    pub fn inject_button_on(
        &self,
        user_id: u64,
        message_id: u64,
        custom_id: &str,
    ) -> Result<Injected, EmulatorError> {
        self.shared
            .with(|s| s.inject_component(user_id, custom_id, Some(message_id), None))
    }

    /// A user picks `values` in the select menu with this `custom_id`.
    ///
    /// # Errors
    /// [`EmulatorError::ComponentNotFound`].
    pub fn inject_select(
        &self,
        user_id: u64,
        custom_id: &str,
        values: &[&str],
    ) -> Result<Injected, EmulatorError> {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.shared
            .with(|s| s.inject_component(user_id, custom_id, None, Some(values)))
    }

    /// A user submits the modal the bot showed them (the latest type-9 response with this
    /// `custom_id`): `INTERACTION_CREATE` type 5 whose components mirror the modal's (Label or
    /// `ActionRow` around each text input), with the given values ("" for inputs left out).
    ///
    /// # Errors
    /// [`EmulatorError::ModalNotShown`], [`EmulatorError::UnknownModalField`].
    pub fn inject_modal_submit(
        &self,
        user_id: u64,
        submit: &ModalSubmit,
    ) -> Result<Injected, EmulatorError> {
        self.shared.with(|s| s.inject_modal(user_id, submit))
    }

    /// Runs `f` on the current state (for assertions).
    pub fn state<R>(&self, f: impl FnOnce(&DiscordState) -> R) -> R {
        self.shared.read(f)
    }

    /// Every REST call so far.
    pub fn rest_calls(&self) -> Vec<RestCall> {
        self.shared.read(|s| s.rest_calls().to_vec())
    }

    /// Every message in a channel, oldest first.
    pub fn messages_in(&self, channel_id: u64) -> Vec<StoredMessage> {
        self.shared
            .read(|s| s.messages_in(channel_id).into_iter().cloned().collect())
    }

    /// Messages the bot sent in the DM with this user (not deleted), oldest first.
    pub fn dms_to(&self, user_id: u64) -> Vec<StoredMessage> {
        self.shared
            .read(|s| s.dms_to(user_id).into_iter().cloned().collect())
    }

    /// Every message the bot sent, oldest first.
    pub fn bot_messages(&self) -> Vec<StoredMessage> {
        self.shared
            .read(|s| s.bot_messages().into_iter().cloned().collect())
    }

    /// An interaction and the bot's responses to it.
    pub fn interaction(&self, id: u64) -> Option<InteractionRecord> {
        self.shared.read(|s| s.interaction(id).cloned())
    }

    /// Waits until `condition` holds, re-checking after every change (REST call, gateway
    /// message, injection). The closure runs under the emulator's lock: read the
    /// [`DiscordState`] it is given, and do not call the emulator's own methods from it.
    ///
    /// # Errors
    /// [`EmulatorError::Timeout`].
    pub async fn wait_for(
        &self,
        mut condition: impl FnMut(&DiscordState) -> bool,
        timeout: Duration,
    ) -> Result<(), EmulatorError> {
        self.wait_for_value(|s| condition(s).then_some(()), timeout)
            .await
    }

    /// Waits until `f` returns `Some`, and returns that value.
    ///
    /// # Errors
    /// [`EmulatorError::Timeout`].
    pub async fn wait_for_value<T>(
        &self,
        mut f: impl FnMut(&DiscordState) -> Option<T>,
        timeout: Duration,
    ) -> Result<T, EmulatorError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.shared.changed.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(v) = self.shared.read(&mut f) {
                return Ok(v);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return self
                        .shared
                        .read(&mut f)
                        .ok_or(EmulatorError::Timeout(timeout));
                }
            }
        }
    }

    /// Waits for the first message in the DM with `user_id` that `matches`, and returns it.
    ///
    /// # Errors
    /// [`EmulatorError::Timeout`].
    pub async fn wait_for_dm_where(
        &self,
        user_id: u64,
        mut matches: impl FnMut(&StoredMessage) -> bool,
        timeout: Duration,
    ) -> Result<StoredMessage, EmulatorError> {
        self.wait_for_value(
            |s| s.dms_to(user_id).into_iter().find(|m| matches(m)).cloned(),
            timeout,
        )
        .await
    }

    /// Waits for the `n`-th (1-based) message the bot sends in the DM with `user_id`.
    ///
    /// # Errors
    /// [`EmulatorError::Timeout`].
    pub async fn wait_for_dm(
        &self,
        user_id: u64,
        n: usize,
        timeout: Duration,
    ) -> Result<StoredMessage, EmulatorError> {
        self.wait_for_value(
            |s| {
                s.dms_to(user_id)
                    .get(n.saturating_sub(1))
                    .map(|m| (*m).clone())
            },
            timeout,
        )
        .await
    }

    /// Waits for the `n`-th (1-based) message the bot sends in a channel or thread (deleted ones
    /// left out).
    ///
    /// # Errors
    /// [`EmulatorError::Timeout`].
    pub async fn wait_for_message(
        &self,
        channel_id: u64,
        n: usize,
        timeout: Duration,
    ) -> Result<StoredMessage, EmulatorError> {
        self.wait_for_value(
            |s| {
                s.bot_messages_in(channel_id)
                    .get(n.saturating_sub(1))
                    .map(|m| (*m).clone())
            },
            timeout,
        )
        .await
    }

    /// Forgets the REST calls logged so far (messages and interactions are kept).
    pub fn clear_rest_calls(&self) {
        self.shared.with(|s| s.rest_log.clear());
    }

    /// Waits until the interaction has a callback response and returns the record.
    ///
    /// # Errors
    /// [`EmulatorError::Timeout`].
    pub async fn wait_for_interaction_response(
        &self,
        interaction_id: u64,
        timeout: Duration,
    ) -> Result<InteractionRecord, EmulatorError> {
        self.wait_for_value(
            |s| {
                s.interaction(interaction_id)
                    .filter(|i| !i.responses.is_empty())
                    .cloned()
            },
            timeout,
        )
        .await
    }

    // ---- faults -------------------------------------------------------------------------

    /// The next `times` requests matching `method` and `pattern` (path after `/api/v10/`, `*` =
    /// one segment, trailing `**` = the rest; e.g. `channels/*/messages`) get 429 with
    /// `retry_after` (`x-ratelimit-scope: user`, `x-ratelimit-remaining: 0`,
    /// `x-ratelimit-reset-after`, `retry-after`).
    pub fn rate_limit_route(&self, method: &str, pattern: &str, times: u32, retry_after: Duration) {
        self.add_fault(
            method,
            pattern,
            times,
            FaultKind::RateLimited { retry_after },
        );
    }

    /// The next `times` requests (interaction routes excepted, as on Discord) get a global 429
    /// (`x-ratelimit-global: true`, body `"global": true`).
    pub fn rate_limit_global(&self, times: u32, retry_after: Duration) {
        self.shared
            .with(|s| s.global_429 = (times > 0).then_some((times, retry_after)));
    }

    /// The next `times` requests matching get this error (e.g. 500, or 404 / 10003).
    pub fn fail_route(
        &self,
        method: &str,
        pattern: &str,
        times: u32,
        status: u16,
        code: u64,
        message: &str,
    ) {
        let kind = FaultKind::Error {
            status,
            code,
            message: message.to_owned(),
        };
        self.add_fault(method, pattern, times, kind);
    }

    fn add_fault(&self, method: &str, pattern: &str, times: u32, kind: FaultKind) {
        let method = (method != "*" && !method.is_empty()).then(|| method.to_ascii_uppercase());
        let fault = RouteFault {
            method,
            pattern: pattern_segments(pattern),
            remaining: times,
            kind,
        };
        if times > 0 {
            self.shared.with(|s| s.route_faults.push(fault));
        }
    }

    /// Requests matching `method` and `pattern` (as for
    /// [`rate_limit_route`](Self::rate_limit_route)) are served at once, but their answers are
    /// held until [`release_held`](Self::release_held): the upstream has done the work, the
    /// client has not heard of it (a process killed meanwhile never will).
    pub fn hold_route(&self, method: &str, pattern: &str) {
        let method = (method != "*" && !method.is_empty()).then(|| method.to_ascii_uppercase());
        let fault = RouteFault {
            method,
            pattern: pattern_segments(pattern),
            remaining: u32::MAX,
            kind: FaultKind::Error {
                status: 0,
                code: 0,
                message: String::new(),
            },
        };
        self.shared.with(|s| s.hold_routes.push(fault));
    }

    /// How many answers [`hold_route`](Self::hold_route) is holding right now.
    pub fn held(&self) -> usize {
        self.shared.read(|s| s.held)
    }

    /// Stops holding (removes every [`hold_route`](Self::hold_route)) and sends the answers
    /// held so far; returns how many were held.
    pub fn release_held(&self) -> usize {
        self.shared.with(|s| {
            s.hold_routes.clear();
            s.releases += 1;
            s.held
        })
    }

    /// Messages to this user's DM channel fail with 403 / 50007 "Cannot send messages to this
    /// user" until [`unblock_dms`](Self::unblock_dms).
    pub fn block_dms(&self, user_id: u64) {
        self.shared.with(|s| s.blocked_dms.insert(user_id));
    }

    /// Lets the bot DM this user again.
    pub fn unblock_dms(&self, user_id: u64) {
        self.shared.with(|s| s.blocked_dms.remove(&user_id));
    }

    /// Removes every injected REST fault and DM block.
    pub fn clear_faults(&self) {
        self.shared.with(|s| {
            s.route_faults.clear();
            s.global_429 = None;
            s.blocked_dms.clear();
        });
    }

    /// Drops the TCP connections of `shard` (all when `None`) without a close frame; the
    /// sessions stay resumable. Returns how many were dropped.
    pub fn drop_connections(&self, shard: Option<u32>) -> usize {
        self.shared.with(|s| s.drop_connections(shard))
    }

    /// Closes connections with a close code (e.g. 4000 resumable, 4004 fatal).
    pub fn close_connections(&self, shard: Option<u32>, code: u16, reason: &str) -> usize {
        self.shared
            .with(|s| s.close_connections(shard, code, reason))
    }

    /// Sends op 7 RECONNECT.
    pub fn request_reconnect(&self, shard: Option<u32>) -> usize {
        self.shared.with(|s| s.request_reconnect(shard))
    }

    /// While `down`, the gateway refuses new connections (HTTP 503 to the upgrade); existing
    /// ones are left as they are (see [`drop_connections`](Self::drop_connections)). With
    /// [`invalidate_sessions`](Self::invalidate_sessions) it makes a session lost with the
    /// events sent while it had no connection.
    pub fn set_gateway_down(&self, down: bool) {
        self.shared.with(|s| s.gateway_down = down);
    }

    /// Sends op 9 `INVALID_SESSION` (`resumable = false` also discards the sessions).
    pub fn invalidate_sessions(&self, shard: Option<u32>, resumable: bool) -> usize {
        self.shared
            .with(|s| s.invalidate_sessions(shard, resumable))
    }
}
