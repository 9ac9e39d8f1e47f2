//! The subcommands behind the binary.

use std::process::ExitCode;

use std::sync::Arc;

use crate::cli::{CasesCommand, Cli, Command, KbCommand, OutboxCommand};
use crate::config::CasesBackend;
use crate::config::Config;
use crate::discord::commands;
use crate::discord::gateway::{http_client, run_shards};
use crate::discord::interactions::InteractionHandler;
use crate::server::{Readiness, ServerState};

/// Exit code for a configuration that does not validate.
pub const EXIT_CONFIG: u8 = 2;

/// Runs one parsed command line and returns the process exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig => check_config(&cli),
        Command::RegisterCommands { print: true } => print_commands(),
        Command::RegisterCommands { print: false } => register_commands(&cli).await,
        Command::Run => run(&cli).await,
        #[cfg(feature = "demo")]
        Command::Demo {
            ref db,
            interactive,
        } => crate::demo::run(db.clone(), interactive).await,
        Command::Cases { ref command } => cases(&cli, command).await,
        Command::Outbox { ref command } => outbox(&cli, command).await,
        Command::Kb {
            command: KbCommand::Search { ref query, limit },
        } => kb_search(&cli, &query.join(" "), limit),
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => {
            eprintln!("error: this build has no demo (build with the `demo` feature)");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration named on the command line (or by `FLEXCORD_CONFIG`) plus the
/// environment.
///
/// # Errors
/// Every problem found, as [`crate::config::ConfigError`].
pub fn load_config(cli: &Cli) -> Result<Config, crate::config::ConfigError> {
    Config::from_file_and_env(cli.config.as_deref())
}

fn check_config(cli: &Cli) -> ExitCode {
    match load_config(cli) {
        Ok(config) => {
            println!("configuration OK");
            print!("{}", config.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn print_commands() -> ExitCode {
    match serde_json::to_string_pretty(&commands::all()) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot serialize the commands: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn cases(cli: &Cli, command: &CasesCommand) -> ExitCode {
    let config = match load_config(cli) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match crate::cases::open(&config.cases).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open the case store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        CasesCommand::List { status, limit } => {
            crate::cases::list(store.as_ref(), status.as_deref(), *limit).await
        }
        CasesCommand::Show { number } => crate::cases::show(store.as_ref(), number).await,
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `store.url` alone (the environment wins over the file, as for `flexcord run`), so an
/// operator can look at the outbox without the rest of the configuration.
fn store_url(cli: &Cli) -> Result<String, String> {
    if let Some(url) = std::env::var("FLEXCORD_STORE__URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Ok(url);
    }
    let from_file = match cli.config.as_deref() {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
            table
                .get("store")
                .and_then(|s| s.get("url"))
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        }
        None => None,
    };
    Ok(from_file.unwrap_or_else(|| {
        crate::config::KEYS
            .iter()
            .find(|(s, k, _)| *s == "store" && *k == "url")
            .and_then(|(_, _, d)| *d)
            .unwrap_or("sqlite://flexcord.db")
            .to_owned()
    }))
}

async fn outbox(cli: &Cli, command: &OutboxCommand) -> ExitCode {
    let url = match store_url(cli) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match flexcord_store::Store::connect(&url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: cannot open the store {}: {e}",
                crate::config::redact_url(&url)
            );
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        OutboxCommand::Dead { limit } => crate::outbox::dead(&store, *limit).await,
        OutboxCommand::Stats => crate::outbox::stats(&store).await,
    };
    store.close().await;
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config_or_exit(cli: &Cli) -> Result<Config, ExitCode> {
    load_config(cli).map_err(|e| {
        eprint!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

async fn register_commands(cli: &Cli) -> ExitCode {
    let config = match config_or_exit(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let http = http_client(&config.discord);
    let Some(app) = twilight_model::id::Id::new_checked(config.discord.application_id) else {
        eprintln!("error: discord.application_id must not be 0");
        return ExitCode::from(EXIT_CONFIG);
    };
    let commands = commands::all();
    let client = http.interaction(app);
    let result = match config
        .discord
        .guild_id
        .and_then(twilight_model::id::Id::new_checked)
    {
        Some(guild) => client.set_guild_commands(guild, &commands).await,
        None => client.set_global_commands(&commands).await,
    };
    match result {
        Ok(_) => {
            let scope = config
                .discord
                .guild_id
                .map_or_else(|| "globally".to_owned(), |g| format!("in guild {g}"));
            println!("registered {} commands {scope}", commands.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: Discord refused the commands: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The Twilio executor for the configured mode: chat mode needs the Chat service and the Flex
/// Flow (the configuration check makes sure both are set).
fn twilio_executor(
    twilio: flexcord_twilio::Client,
    config: &Config,
) -> crate::deliver_twilio::TwilioExecutor {
    let executor = crate::deliver_twilio::TwilioExecutor::new(
        twilio,
        &config.server.public_url,
        config.twilio.studio_flow_sid,
        config.twilio.workspace_sid,
        config.twilio.workflow_sid,
    );
    match (
        config.twilio.mode,
        config.twilio.chat_service_sid,
        config.twilio.flex_flow_sid,
    ) {
        (crate::config::TwilioMode::Chat, Some(service), Some(flex_flow)) => {
            executor.with_chat(crate::deliver_chat::ChatTarget { service, flex_flow })
        }
        _ => executor,
    }
    .with_files(
        crate::media::Downloader::new(config.discord.max_upload_bytes),
        config.twilio.conversations_service_sid,
    )
}

/// The Discord executor's source of the files agents send: Twilio's media, from the service the
/// webhook names, else the configured one of the mode.
fn twilio_media(twilio: &flexcord_twilio::Client, config: &Config) -> crate::deliver::TwilioMedia {
    let service = match config.twilio.mode {
        crate::config::TwilioMode::Chat => config.twilio.chat_service_sid,
        crate::config::TwilioMode::Conversations => config.twilio.conversations_service_sid,
    };
    crate::deliver::TwilioMedia {
        client: twilio.clone(),
        service,
    }
}

/// `flexcord run`: the HTTP server (webhooks, health, readiness, metrics, and the cases API and
/// agent pages when cases are embedded), the routing engine with its outbox worker and timers,
/// and this process's Discord shards, until Ctrl-C or
/// SIGTERM; then readiness drops, and the server and shards drain within
/// `server.shutdown_grace`.
async fn run(cli: &Cli) -> ExitCode {
    let config = match config_or_exit(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    serve(config, crate::shutdown::on_signal()).await
}

/// Runs the whole bridge on `config` until `shutdown` is cancelled (what `flexcord run` does
/// after loading the configuration; tests and the demo call it directly).
#[allow(clippy::too_many_lines)] // every part, assembled in start-up order
pub async fn serve(config: Config, shutdown: tokio_util::sync::CancellationToken) -> ExitCode {
    let cases = match crate::cases::open(&config.cases).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot open the case store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let http = Arc::new(http_client(&config.discord));
    let Some(handler) = InteractionHandler::new(
        http.clone(),
        config.discord.application_id,
        cases.clone(),
        config.discord.bug_channel_id,
        config.discord.feature_channel_id,
    ) else {
        eprintln!("error: discord.application_id must not be 0");
        return ExitCode::from(EXIT_CONFIG);
    };
    let store = match flexcord_store::Store::connect(&config.store.url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: cannot open the store {}: {e}",
                crate::config::redact_url(&config.store.url)
            );
            return ExitCode::FAILURE;
        }
    };
    let router_config = match crate::bridge::router_config(&config, flexcord_store::now()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: support.timezone: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let engine = Arc::new(flexcord_store::Engine::new(
        store.clone(),
        flexcord_routing::Router::new(router_config),
    ));
    let twilio = match crate::bridge::twilio_client(&config.twilio) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot build the Twilio client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let kb = match open_kb(config.kb.path.as_deref()) {
        Ok(kb) => kb,
        Err(e) => {
            eprintln!("error: cannot open the knowledge base: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mode = match flexcord_kb::AgentMode::from_config(
        match config.bot.mode {
            crate::config::BotMode::Embedded => "embedded",
            crate::config::BotMode::Rasa => "rasa",
        },
        config.bot.rasa_url.as_ref().map(url::Url::as_str),
    ) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: bad bot configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let agent = match flexcord_kb::build_agent(&flexcord_kb::AgentConfig::new(mode), kb) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot start the virtual agent: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(app_id) = twilight_model::id::Id::new_checked(config.discord.application_id) else {
        eprintln!("error: discord.application_id must not be 0");
        return ExitCode::from(EXIT_CONFIG);
    };
    let upstreams = crate::bridge::Upstreams {
        discord: crate::deliver::Executor::new(
            http,
            app_id,
            cases.clone(),
            config.bot.identity.clone(),
        )
        .with_files(
            crate::media::Downloader::new(config.discord.max_upload_bytes),
            Some(twilio_media(&twilio, &config)),
        ),
        twilio: Some(twilio_executor(twilio, &config)),
        bot: crate::deliver_bot::BotExecutor::new(agent),
    };
    let handler = handler.with_engine(engine.clone());
    let readiness = Readiness::default();
    let state = ServerState::new(
        &config.twilio.auth_token,
        &config.server.public_url,
        config.bot.webhook_secret.clone(),
        Some(Arc::new(crate::bridge::EngineSink::new(engine.clone()))),
        readiness.clone(),
    )
    .with_metrics_refresh({
        let store = store.clone();
        Arc::new(move || {
            let store = store.clone();
            Box::pin(async move { crate::bridge::publish_outbox_metrics(&store).await })
        })
    });
    let mut app = crate::server::router(Arc::new(state), config.server.max_body_bytes);
    match (&config.cases.backend, &config.cases.token) {
        (CasesBackend::Embedded, Some(token)) => {
            let service = flexcord_cases::CasesService::new(cases.clone(), token.expose())
                .max_body_bytes(config.server.max_body_bytes)
                .secure_cookies(config.server.public_url.scheme() == "https");
            app = app.merge(service.router());
        }
        (CasesBackend::Embedded, None) => {
            tracing::warn!("cases.token is unset: the cases API and agent pages are not served");
        }
        (CasesBackend::Remote, _) => {}
    }
    let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", config.server.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %config.server.listen, public_url = %config.server.public_url, "HTTP server up");
    let grace = config.server.shutdown_grace;
    let server_stop = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(server_stop.cancelled_owned())
            .await
    });
    let worker =
        flexcord_store::Worker::new(store.clone(), upstreams).config(worker_config(&config));
    let worker_engine = engine.clone();
    let worker_stop = shutdown.clone();
    let outbox = tokio::spawn(async move {
        // Boxed: the worker's future holds the deliveries' futures and is large.
        if let Err(e) =
            Box::pin(worker.run(worker_engine.as_ref(), worker_stop.cancelled_owned())).await
        {
            tracing::error!(error = %e, "the outbox worker stopped");
        }
    });
    let outbox_metrics = tokio::spawn(crate::bridge::run_outbox_metrics(
        store.clone(),
        std::time::Duration::from_secs(10),
        shutdown.clone(),
    ));
    let timers = tokio::spawn(crate::bridge::run_timers(
        engine.clone(),
        std::time::Duration::from_secs(1),
        shutdown.clone(),
    ));
    let discord = config.discord.clone();
    let shard_stop = shutdown.clone();
    let shard_engine = engine.clone();
    let shards = tokio::spawn(async move {
        run_shards(
            &discord,
            Arc::new(handler),
            Some(shard_engine),
            shard_stop,
            grace,
        )
        .await;
    });
    readiness.set(true);
    shutdown.cancelled().await;
    readiness.set(false);
    let server_ok = crate::shutdown::drain("http server", grace, server).await;
    let shards_ok = crate::shutdown::drain("discord shards", grace, shards).await;
    let outbox_ok = crate::shutdown::drain("outbox", grace, outbox).await;
    let _ = crate::shutdown::drain("timers", grace, timers).await;
    let _ = crate::shutdown::drain("metrics", grace, outbox_metrics).await;
    store.close().await;
    if server_ok && shards_ok && outbox_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The outbox worker's settings from `[outbox]` (its owner name stays unique per process).
fn worker_config(config: &Config) -> flexcord_store::WorkerConfig {
    flexcord_store::WorkerConfig {
        lease: config.outbox.lease,
        max_attempts: config.outbox.max_attempts,
        base_backoff: config.outbox.base_backoff,
        max_backoff: config.outbox.max_backoff,
        ..flexcord_store::WorkerConfig::default()
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

fn kb_search(cli: &Cli, query: &str, limit: usize) -> ExitCode {
    // Only `kb.path` matters here: read it without demanding the rest of the configuration.
    let path = std::env::var("FLEXCORD_KB__PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let text = std::fs::read_to_string(cli.config.as_deref()?).ok()?;
            let table: toml::Table = text.parse().ok()?;
            table
                .get("kb")?
                .get("path")?
                .as_str()
                .map(std::path::PathBuf::from)
        });
    let kb = match open_kb(path.as_deref()) {
        Ok(kb) => kb,
        Err(e) => {
            eprintln!("error: cannot open the knowledge base: {e}");
            return ExitCode::FAILURE;
        }
    };
    match kb.search(query, limit.clamp(1, 50)) {
        Ok(hits) if hits.is_empty() => {
            println!("no article matches");
            ExitCode::SUCCESS
        }
        Ok(hits) => {
            for (i, hit) in hits.iter().enumerate() {
                println!(
                    "{}. {} ({:.0}%)\n   {}\n   {}",
                    i + 1,
                    hit.title,
                    hit.confidence * 100.0,
                    hit.url,
                    hit.snippet
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: search failed: {e}");
            ExitCode::FAILURE
        }
    }
}
