//! The application: [`App::build`] assembles every part from a [`Config`], [`App::run`] runs
//! them until shutdown. `flexcord run`, `flexcord demo` and the end-to-end tests all go through
//! it, so what the tests prove is what production runs.
//!
//! The parts, in start-up order: the case store, the conversation store and its routing engine,
//! the Twilio client, the knowledge base and the virtual agent, the Discord REST client, the
//! outbox's upstreams, the interaction handler, and the HTTP server (Twilio webhooks, health,
//! metrics, and the cases API and agent pages when cases are embedded), bound before
//! [`App::build`] returns so its address is known. With `server.admin_listen` set, a second
//! listener serves `/metrics`, `/healthz` and `/readyz`, and the public one no `/metrics`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use flexcord_cases::CaseStore;
use flexcord_store::{Engine, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

use crate::config::{BotMode, CasesBackend, Config, TwilioMode};
use crate::deliver::Upstreams;
use crate::deliver::bot::BotExecutor;
use crate::deliver::cases::CaseExecutor;
use crate::deliver::discord::{DiscordExecutor, TwilioMedia};
use crate::deliver::twilio::{ChatTarget, ConversationsTarget, TwilioExecutor};
use crate::discord::gateway::{ShardFailed, http_client, run_shards};
use crate::discord::interactions::InteractionHandler;
use crate::driver;
use crate::health::Health;
use crate::media::Downloader;
use crate::server::{Readiness, ServerState};

/// The exit code of a configuration that cannot run (`EX_CONFIG` of sysexits.h), distinct from
/// a usage error of the command line (2) and from other failures (1): a service manager should
/// not restart the process until the configuration is fixed.
pub const EXIT_CONFIG: u8 = 78;

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot run (exit code [`EXIT_CONFIG`]).
    #[error("configuration: {0}")]
    Config(String),
    /// The conversation store cannot be opened or migrated.
    #[error("cannot open the store {url}: {source}")]
    Store {
        /// The store URL, password redacted.
        url: String,
        /// The store's error.
        source: flexcord_store::Error,
    },
    /// The case store cannot be opened.
    #[error("cannot open the case store: {0}")]
    Cases(#[source] flexcord_cases::Error),
    /// The Twilio client cannot be built.
    #[error("cannot build the Twilio client: {0}")]
    Twilio(#[source] flexcord_twilio::Error),
    /// The knowledge base cannot be read.
    #[error("cannot open the knowledge base: {0}")]
    Kb(#[source] flexcord_kb::Error),
    /// The HTTP server cannot listen.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl StartError {
    /// The process exit code for this failure: [`EXIT_CONFIG`] for a configuration problem, 1
    /// otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config(_) => ExitCode::from(EXIT_CONFIG),
            _ => ExitCode::FAILURE,
        }
    }
}

/// The parts that did not stop within `server.shutdown_grace`.
#[derive(Debug, thiserror::Error)]
#[error("did not drain in time: {}", .0.join(", "))]
pub struct NotDrained(pub Vec<&'static str>);

/// The whole bridge, assembled and listening, not yet running.
pub struct App {
    config: Config,
    store: Store,
    engine: Arc<Engine>,
    cases: Arc<dyn CaseStore>,
    accounts: Option<Arc<dyn flexcord_cases::Accounts>>,
    upstreams: Upstreams,
    interactions: Arc<InteractionHandler>,
    router: axum::Router,
    listener: TcpListener,
    /// The admin listener and its routes, when `server.admin_listen` is set.
    admin: Option<(TcpListener, axum::Router)>,
    readiness: Readiness,
    /// The knowledge base the embedded agent answers from (reloaded on SIGHUP and when its
    /// folder changes).
    kb: flexcord_kb::KnowledgeBase,
    /// What `/readyz` checks, kept up to date by the parts.
    health: Arc<Health>,
}

impl App {
    /// Assembles every part from `config` and binds the HTTP listener.
    ///
    /// # Errors
    /// [`StartError`] naming the part that could not start.
    pub async fn build(config: Config) -> Result<App, StartError> {
        let store =
            Store::connect(&config.store.url)
                .await
                .map_err(|source| StartError::Store {
                    url: crate::config::redact_url(&config.store.url),
                    source,
                })?;
        let turns = crate::cases::shared_turns(&config.cases, &config.store.url, &store);
        let (cases, accounts) = crate::cases::open(&config.cases, turns)
            .await
            .map_err(StartError::Cases)?;
        let router_config = driver::router_config(&config, flexcord_store::now())
            .map_err(|e| StartError::Config(format!("support.timezone: {e}")))?;
        let engine = Arc::new(
            Engine::new(store.clone(), flexcord_routing::Router::new(router_config))
                .observe(crate::sweep::count_recovered),
        );
        let twilio = twilio_client(&config.twilio).map_err(StartError::Twilio)?;
        let kb = open_kb_with(&config.kb).map_err(StartError::Kb)?;
        let agent_mode = flexcord_kb::AgentMode::from_config(
            match config.bot.mode {
                BotMode::Embedded => "embedded",
                BotMode::Rasa => "rasa",
            },
            config.bot.rasa_url.as_ref().map(url::Url::as_str),
        )
        .map_err(|e| StartError::Config(format!("bot: {e}")))?;
        let agent =
            flexcord_kb::build_agent(&flexcord_kb::AgentConfig::new(agent_mode), kb.clone())
                .map_err(StartError::Kb)?;
        let app_id = Id::new_checked(config.discord.application_id)
            .ok_or_else(|| StartError::Config("discord.application_id must not be 0".into()))?;
        let http = Arc::new(http_client(&config.discord));
        let downloader = Downloader::new(config.discord.max_upload_bytes);
        let upstreams = Upstreams {
            discord: DiscordExecutor::new(http.clone(), app_id)
                .with_files(downloader.clone(), Some(twilio_media(&twilio, &config)))
                .with_community(crate::deliver::discord::CommunitySetup {
                    names: config.community.names.clone(),
                    staff_role: config.community.staff_role_id,
                }),
            cases: CaseExecutor::new(cases.clone(), config.bot.identity.clone()),
            bot: BotExecutor::new(agent),
            twilio: Some(
                twilio_executor(twilio, &config)?
                    .with_downloader(downloader)
                    .with_in_flight(config.outbox.twilio_in_flight),
            ),
        };
        let interactions = Arc::new(
            InteractionHandler::new(http, app_id, engine.clone())
                .with_staff_role(config.community.staff_role_id),
        );
        let health = Arc::new(Health::new(
            config.discord.shards.ids(),
            config.discord.ready_grace,
            store.clone(),
        ));
        let readiness = Readiness::default().with_checks(health.clone());
        let state = ServerState::new(
            &config.twilio.auth_token,
            &config.server.public_url,
            config.bot.webhook_secret.clone(),
            Some(Arc::new(driver::EngineSink::new(engine.clone()))),
            readiness.clone(),
        )
        .with_metrics_refresh(metrics_refresh(&store));
        let (router, admin_router) = routes(Arc::new(state), &config, &cases, accounts.clone());
        let listener = TcpListener::bind(config.server.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.server.listen,
                source,
            })?;
        let admin = match (config.server.admin_listen, admin_router) {
            (Some(addr), Some(router)) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Listen { addr, source })?;
                Some((listener, router))
            }
            _ => None,
        };
        Ok(App {
            config,
            store,
            engine,
            cases,
            accounts,
            upstreams,
            interactions,
            router,
            listener,
            admin,
            readiness,
            kb,
            health,
        })
    }

    /// The HTTP routes the app serves (webhooks, health, readiness, metrics, and the cases API
    /// and agent pages when cases are embedded).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Where the HTTP server listens (the port is known even when `server.listen` asked for 0).
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the admin listener (`/metrics`, `/healthz`, `/readyz`) listens, when
    /// `server.admin_listen` is set.
    ///
    /// # Errors
    /// The socket's error.
    pub fn admin_addr(&self) -> std::io::Result<Option<SocketAddr>> {
        self.admin
            .as_ref()
            .map(|(listener, _)| listener.local_addr())
            .transpose()
    }

    /// The case store the app writes to.
    pub fn cases(&self) -> Arc<dyn CaseStore> {
        self.cases.clone()
    }

    /// The agent accounts, sessions and integration tokens of the embedded case store (`None`
    /// with a remote one).
    pub fn accounts(&self) -> Option<Arc<dyn flexcord_cases::Accounts>> {
        self.accounts.clone()
    }

    /// The conversation store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration the app runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs the HTTP server, the outbox worker, the timers, housekeeping and this process's
    /// Discord shards until `shutdown` is cancelled, or until Discord closes a shard for good;
    /// then readiness drops and every part drains within one deadline, `server.shutdown_grace`
    /// from then.
    ///
    /// # Errors
    /// [`RunError::Shard`] when Discord closed a shard for good (the configuration must change:
    /// [`RunError::exit_code`] is [`EXIT_CONFIG`]); [`RunError::NotDrained`] naming the parts
    /// still busy at the deadline (they are stopped anyway).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RunError> {
        let App {
            config,
            store,
            engine,
            cases,
            upstreams,
            interactions,
            router,
            listener,
            admin,
            readiness,
            kb,
            health,
            ..
        } = self;
        // A shard closed for good stops every part as a shutdown does; the caller's token is
        // left as it is.
        let shutdown = shutdown.child_token();
        let grace = config.server.shutdown_grace;
        let mut tasks = spawn_servers(&config, router, listener, admin, &shutdown);
        tasks.push((
            "outbox",
            spawn_outbox(&config, &store, upstreams, &engine, &health, &shutdown),
        ));
        tasks.push((
            "timers",
            tokio::spawn(driver::run_timers(
                engine.clone(),
                std::time::Duration::from_secs(1),
                health.timers.clone(),
                shutdown.clone(),
            )),
        ));
        tasks.extend(spawn_background(
            &config, &store, &cases, &engine, kb, &shutdown,
        ));
        let (fatal_tx, fatal_rx) = tokio::sync::oneshot::channel();
        let discord = config.discord.clone();
        let shard_stop = shutdown.clone();
        let shard_health = health.clone();
        let sweep_rate = config.twilio.sweep_rate;
        tasks.push((
            "discord shards",
            tokio::spawn(async move {
                let ran = run_shards(
                    &discord,
                    interactions,
                    engine,
                    &shard_health,
                    shard_stop,
                    grace,
                    sweep_rate,
                );
                if let Err(failed) = ran.await {
                    let _ = fatal_tx.send(failed);
                }
            }),
        ));
        readiness.set(true);
        let fatal = tokio::select! {
            () = shutdown.cancelled() => None,
            Ok(failed) = fatal_rx => Some(failed),
        };
        if let Some(failed) = &fatal {
            tracing::error!(error = %failed, exit_code = EXIT_CONFIG, "a Discord shard cannot run with this configuration; stopping");
            shutdown.cancel();
        }
        readiness.set(false);
        let late = drain(tasks, grace).await;
        store.close().await;
        match fatal {
            Some(failed) => Err(RunError::Shard(failed)),
            None if late.is_empty() => Ok(()),
            None => Err(RunError::NotDrained(NotDrained(late))),
        }
    }
}

/// The parts that run beside the servers, the worker and the shards: the outbox gauges,
/// housekeeping, knowledge-base reloads, the feeds and the Twilio catch-up sweeps.
fn spawn_background(
    config: &Config,
    store: &Store,
    cases: &Arc<dyn CaseStore>,
    engine: &Arc<Engine>,
    kb: flexcord_kb::KnowledgeBase,
    shutdown: &CancellationToken,
) -> Vec<(&'static str, tokio::task::JoinHandle<()>)> {
    let mut tasks = Vec::new();
    tasks.push((
        "metrics",
        tokio::spawn(driver::run_outbox_metrics(
            store.clone(),
            std::time::Duration::from_secs(10),
            shutdown.clone(),
        )),
    ));
    tasks.push((
        "housekeeping",
        tokio::spawn(housekeeping(config, store, cases).run(shutdown.clone())),
    ));
    tasks.push((
        "knowledge base reloads",
        crate::kb_reload::spawn(kb, &config.kb, shutdown),
    ));
    if let Some(poller) = feed_poller(config, engine) {
        tasks.push(("feeds", tokio::spawn(poller.run(shutdown.clone()))));
    }
    if let Some(every) = config.twilio.sweep_interval {
        tasks.push((
            "catch-up sweeps",
            tokio::spawn(crate::sweep::run_twilio_sweeps(
                engine.clone(),
                every,
                config.twilio.sweep_rate,
                shutdown.clone(),
            )),
        ));
    }
    tasks
}

/// Why [`App::run`] ended other than by a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Discord closed a shard for good.
    #[error(transparent)]
    Shard(#[from] ShardFailed),
    /// Parts did not stop within `server.shutdown_grace`.
    #[error(transparent)]
    NotDrained(#[from] NotDrained),
}

impl RunError {
    /// The process exit code: [`EXIT_CONFIG`] for a shard closed for good, 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Shard(_) => ExitCode::from(EXIT_CONFIG),
            Self::NotDrained(_) => ExitCode::FAILURE,
        }
    }
}

/// The HTTP server and, with `server.admin_listen`, the admin listener, until `shutdown`.
fn spawn_servers(
    config: &Config,
    router: axum::Router,
    listener: TcpListener,
    admin: Option<(TcpListener, axum::Router)>,
    shutdown: &CancellationToken,
) -> Vec<(&'static str, tokio::task::JoinHandle<()>)> {
    tracing::info!(listen = %config.server.listen, public_url = %config.server.public_url, "HTTP server up");
    let server_stop = shutdown.clone();
    let server = tokio::spawn(async move {
        // The peer address limits failed sign-ins on the case pages.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(server_stop.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    let mut tasks = vec![("http server", server)];
    if let Some((listener, router)) = admin {
        tracing::info!(admin_listen = ?listener.local_addr().ok(), "admin listener up (/metrics, /healthz, /readyz)");
        let stop = shutdown.clone();
        tasks.push((
            "admin server",
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                {
                    tracing::error!(error = %e, "the admin listener stopped");
                }
            }),
        ));
    }
    tasks
}

/// The outbox worker until `shutdown`, its heartbeats beating `health.outbox` (a worker that
/// ends, or panics, stops the pulse).
fn spawn_outbox(
    config: &Config,
    store: &Store,
    upstreams: Upstreams,
    engine: &Arc<Engine>,
    health: &Health,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let pulse = health.outbox.clone();
    let stopped = pulse.stop_on_drop();
    let worker = flexcord_store::Worker::new(store.clone(), upstreams)
        .config(worker_config(config))
        .on_heartbeat(move |_| pulse.beat());
    let engine = engine.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _stopped = stopped;
        // Boxed: the worker's future holds the deliveries' futures and is large.
        if let Err(e) = Box::pin(worker.run(engine.as_ref(), stop.cancelled_owned())).await {
            tracing::error!(error = %e, "the outbox worker stopped");
        }
    })
}

/// Housekeeping as configured: pruning after `store.retention`, and closing quiet cases after
/// `cases.close_after` when the case store is embedded.
fn housekeeping(
    config: &Config,
    store: &Store,
    cases: &Arc<dyn CaseStore>,
) -> crate::housekeeping::Housekeeping {
    crate::housekeeping::Housekeeping {
        store: store.clone(),
        cases: matches!(config.cases.backend, CasesBackend::Embedded).then(|| cases.clone()),
        retention: config.store.retention,
        close_after: config.cases.close_after,
        every: config.store.housekeeping_interval,
    }
}

/// Waits for each task until one deadline, `grace` from now; returns the names of those still
/// busy at the deadline (they are dropped, which stops them).
async fn drain(
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
    grace: std::time::Duration,
) -> Vec<&'static str> {
    let deadline = tokio::time::Instant::now() + grace;
    let mut late = Vec::new();
    for (name, task) in tasks {
        if tokio::time::timeout_at(deadline, task).await.is_ok() {
            tracing::info!(what = name, "drained");
        } else {
            tracing::warn!(
                what = name,
                ?grace,
                "did not drain in time; stopping anyway"
            );
            late.push(name);
        }
    }
    late
}

/// The public routes (webhooks, probes, the cases API and agent pages when embedded with a
/// token) and, with `server.admin_listen`, the admin routes; without it the public routes
/// carry `/metrics` too.
fn routes(
    state: Arc<ServerState>,
    config: &Config,
    cases: &Arc<dyn CaseStore>,
    accounts: Option<Arc<dyn flexcord_cases::Accounts>>,
) -> (axum::Router, Option<axum::Router>) {
    let max_body = config.server.max_body_bytes;
    let (mut router, admin) = match config.server.admin_listen {
        Some(_) => (
            crate::server::public_router(state.clone(), max_body),
            Some(crate::server::ops_router(state)),
        ),
        None => (crate::server::router(state, max_body), None),
    };
    if let (CasesBackend::Embedded, Some(accounts)) = (&config.cases.backend, accounts) {
        if config.cases.token.is_none() {
            tracing::warn!(
                "cases.token is unset: the cases API takes only the integrations' own tokens (flexcord-cases tokens add)"
            );
        }
        let service = crate::cases::service(
            &config.cases,
            cases.clone(),
            accounts,
            &config.server.public_url,
            max_body,
        );
        router = router.merge(service.router());
    }
    (router, admin)
}

/// The poller of the configured feeds, if any (a client that cannot be built is logged and the
/// relay left off).
fn feed_poller(config: &Config, engine: &Arc<Engine>) -> Option<crate::community::feeds::Poller> {
    if config.community.feeds.is_empty() {
        return None;
    }
    match crate::community::feeds::Poller::new(engine.clone(), &config.community) {
        Ok(poller) => {
            tracing::info!(feeds = config.community.feeds.len(), "feed relay up");
            Some(poller)
        }
        Err(e) => {
            tracing::error!(error = %e, "the feed relay cannot start");
            None
        }
    }
}

/// Publishes the store's gauges and counters before each `/metrics` answer.
fn metrics_refresh(store: &Store) -> crate::server::MetricsRefresh {
    let store = store.clone();
    Arc::new(move || {
        let store = store.clone();
        Box::pin(async move { driver::publish_outbox_metrics(&store).await })
    })
}

/// The outbox worker's settings from `[outbox]` (its owner name stays unique per process).
fn worker_config(config: &Config) -> flexcord_store::WorkerConfig {
    flexcord_store::WorkerConfig {
        lease: config.outbox.lease,
        max_attempts: config.outbox.max_attempts,
        base_backoff: config.outbox.base_backoff,
        max_backoff: config.outbox.max_backoff,
        concurrency: config.outbox.concurrency,
        ..flexcord_store::WorkerConfig::default()
    }
}

/// The Twilio client for the configured account and product URLs.
///
/// # Errors
/// The client's error for an unusable configuration.
pub fn twilio_client(
    config: &crate::config::TwilioConfig,
) -> Result<flexcord_twilio::Client, flexcord_twilio::Error> {
    let mut builder = flexcord_twilio::Client::builder()
        .account(config.account_sid.as_str(), config.auth_token.expose())
        .chat_url(config.chat_url.as_str().trim_end_matches('/'))
        .flex_url(config.flex_url.as_str().trim_end_matches('/'))
        .conversations_url(config.conversations_url.as_str().trim_end_matches('/'))
        .studio_url(config.studio_url.as_str().trim_end_matches('/'))
        .media_url(config.media_url.as_str().trim_end_matches('/'))
        .user_agent_extension(concat!("flexcord/", env!("CARGO_PKG_VERSION")));
    if let Some((sid, secret)) = &config.api_key {
        builder = builder
            .account_sid(config.account_sid.as_str())
            .api_key(sid.as_str(), secret.expose());
    }
    builder.build()
}

/// The Twilio executor for the configured mode (the configuration check makes sure each mode
/// has what it needs).
fn twilio_executor(
    client: flexcord_twilio::Client,
    config: &Config,
) -> Result<TwilioExecutor, StartError> {
    let t = &config.twilio;
    let public = &config.server.public_url;
    Ok(match t.mode {
        TwilioMode::Conversations => TwilioExecutor::conversations(
            client,
            public,
            ConversationsTarget {
                studio_flow: t.studio_flow_sid,
                workspace: t.workspace_sid,
                workflow: t.workflow_sid,
                service: t.conversations_service_sid,
            },
        ),
        TwilioMode::Chat => {
            let (Some(service), Some(flex_flow)) = (t.chat_service_sid, t.flex_flow_sid) else {
                return Err(StartError::Config(
                    "chat mode needs twilio.chat_service_sid and twilio.flex_flow_sid".into(),
                ));
            };
            TwilioExecutor::chat(client, public, ChatTarget { service, flex_flow })
        }
    })
}

/// The Discord executor's source of the files agents send: Twilio's media, from the service the
/// webhook names, else the configured one of the mode.
fn twilio_media(twilio: &flexcord_twilio::Client, config: &Config) -> TwilioMedia {
    let service = match config.twilio.mode {
        TwilioMode::Chat => config.twilio.chat_service_sid,
        TwilioMode::Conversations => config.twilio.conversations_service_sid,
    };
    TwilioMedia {
        client: twilio.clone(),
        service,
    }
}

/// Opens the knowledge base of `[kb]` ([`open_kb`]) with its embeddings when
/// `kb.embeddings_url` is set (the articles are embedded once the app runs, see
/// [`crate::kb_reload`]).
///
/// # Errors
/// The knowledge base's error when the folder cannot be read or indexed, or the embeddings
/// settings are refused.
pub fn open_kb_with(
    config: &crate::config::KbConfig,
) -> Result<flexcord_kb::KnowledgeBase, flexcord_kb::Error> {
    let kb = open_kb(config.path.as_deref())?;
    match &config.embeddings {
        Some(embeddings) => kb.with_embeddings(crate::kb_reload::embeddings_config(embeddings)?),
        None => Ok(kb),
    }
}

/// Opens `kb.path`, or the sample built into the binary when it is unset. Problems with single
/// articles are logged and those articles skipped.
///
/// # Errors
/// The knowledge base's error when the folder cannot be read or indexed.
pub fn open_kb(
    path: Option<&std::path::Path>,
) -> Result<flexcord_kb::KnowledgeBase, flexcord_kb::Error> {
    match path {
        Some(dir) => {
            let (kb, report) = flexcord_kb::KnowledgeBase::open(dir)?;
            for problem in &report.problems {
                tracing::warn!(?problem, "knowledge base article skipped");
            }
            Ok(kb)
        }
        None => flexcord_kb::KnowledgeBase::sample(),
    }
}
