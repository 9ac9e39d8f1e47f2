//! The command line (`flexcord --help`) and the subcommands behind it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{App, EXIT_CONFIG};
use crate::config::Config;
use crate::discord::commands;
use crate::discord::gateway::http_client;
pub use crate::telemetry::LogFormat;

/// Customer service inside Discord, wired to Twilio Flex.
#[derive(Debug, Parser)]
#[command(name = "flexcord", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Keys can also be set as `FLEXCORD_<SECTION>__<KEY>`.
    #[arg(
        long,
        short,
        global = true,
        env = "FLEXCORD_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "FLEXCORD_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge: Discord shards, the webhook server and the outbox.
    Run,
    /// Play a whole customer journey against built-in emulators (no tokens, no network).
    Demo {
        /// `SQLite` file to keep (default: a temporary file).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// Keep running: stdin lines are the customer's DMs, lines starting with /agent the agent's.
        #[arg(long)]
        interactive: bool,
    },
    /// Validate the configuration and name every problem at once.
    CheckConfig,
    /// Register the slash commands with Discord (globally, or in `discord.guild_id`).
    RegisterCommands {
        /// Print the commands as JSON instead of registering them.
        #[arg(long)]
        print: bool,
    },
    /// Create or update the guild's support and community channels and the staff role
    /// (idempotent), then print their ids in configuration form.
    SetupGuild {
        /// The guild (default: `discord.guild_id`).
        #[arg(long, value_name = "ID")]
        guild: Option<u64>,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Query the knowledge base.
    Kb {
        /// What to do with the knowledge base.
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Look at cases.
    Cases {
        /// What to do with cases.
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Look at the outbox (every delivery to Discord, Twilio, the bot and cases). Needs only
    /// `store.url`.
    Outbox {
        /// What to show.
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Probe a running instance: exit 0 when `URL` answers 2xx, 1 otherwise (the container
    /// image's `HEALTHCHECK`, which has no curl).
    Healthcheck {
        /// What to ask; the admin listener's `/healthz` when `server.admin_listen` is set.
        #[arg(
            long,
            default_value = "http://127.0.0.1:8080/healthz",
            value_name = "URL"
        )]
        url: url::Url,
        /// How long to wait for the answer (`500ms`, `5s`, ...).
        #[arg(long, default_value = "5s", value_parser = crate::config::parse_duration, value_name = "DURATION")]
        timeout: std::time::Duration,
    },
}

/// `flexcord outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List dead letters (deliveries given up), newest first, with their reasons.
    Dead {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-queue dead letters, once their cause is fixed, whose conversation is still open (the
    /// running app delivers them before the conversation's later actions; the case gets a
    /// timeline entry); for the others, say why not. Exit 1 when a dead letter named by id is
    /// not re-queued.
    Retry {
        /// The action id of a dead letter, as `flexcord outbox dead` lists it (e.g. `7-100/3`).
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<String>,
        /// Every dead letter.
        #[arg(long)]
        all_dead: bool,
    },
    /// Count the outbox rows per state.
    Stats {
        /// One JSON object (state to count) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `flexcord kb ...`.
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Search articles.
    Search {
        /// The question or keywords.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// How many results.
        #[arg(long, default_value_t = 5)]
        limit: usize,
    },
    /// Convert an existing help center into a folder of Markdown articles (`kb.path`).
    Import {
        /// Where the articles come from.
        #[command(subcommand)]
        source: ImportSource,
    },
}

/// `flexcord kb import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A Zendesk Help Center articles export (the list-articles JSON): drafts skipped, locales
    /// mapped to `en`/`vi`, bodies from HTML to Markdown. Importing again updates the same
    /// files (`zendesk-<id>.md`, `zendesk-<id>-vi.md`) and never duplicates them.
    Zendesk {
        /// The export (JSON).
        export: PathBuf,
        /// The articles folder to write (created if missing).
        articles: PathBuf,
    },
}

/// `flexcord cases ...`.
#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// List cases, newest first.
    List {
        /// Only cases with this status (new, open, pending, resolved, closed).
        #[arg(long)]
        status: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON array of cases (as the REST API shows them) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its timeline.
    Show {
        /// The case number, e.g. CASE-000123.
        number: String,
    },
}

/// Runs one parsed command line and returns the process exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig => check_config(&cli),
        Command::RegisterCommands { print: true } => print_commands(),
        Command::RegisterCommands { print: false } => register_commands(&cli).await,
        Command::SetupGuild { guild, dry_run } => setup_guild(&cli, guild, dry_run).await,
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
        Command::Kb {
            command:
                KbCommand::Import {
                    source:
                        ImportSource::Zendesk {
                            ref export,
                            ref articles,
                        },
                },
        } => kb_import_zendesk(export, articles),
        Command::Healthcheck { ref url, timeout } => healthcheck(url, timeout).await,
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

/// `flexcord check-config`: the effective configuration, or every problem (exit code
/// [`EXIT_CONFIG`]).
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
    let store = match crate::cases::open(&config.cases, None).await {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("error: cannot open the case store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        CasesCommand::List {
            status,
            limit,
            json,
        } => crate::cases::list(store.as_ref(), status.as_deref(), *limit, *json).await,
        CasesCommand::Show { number } => crate::cases::show(store.as_ref(), number).await,
    };
    print_report(result)
}

/// Prints a command's report, or its error (exit code 1).
fn print_report(result: Result<String, String>) -> ExitCode {
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
        OutboxCommand::Dead { limit, json } => crate::outbox::dead(&store, *limit, *json).await,
        OutboxCommand::Stats { json } => crate::outbox::stats(&store, *json).await,
        OutboxCommand::Retry { id, all_dead } => {
            let retried = crate::outbox::retry(&store, id.as_deref().filter(|_| !*all_dead)).await;
            store.close().await;
            return match retried {
                Ok(report) => {
                    print!("{}", report.text);
                    if report.refused_named {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    store.close().await;
    print_report(result)
}

/// The configuration of a command that needs all of it; its problems are printed.
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

/// `flexcord setup-guild`: plans the guild's layout, prints the plan, and unless `--dry-run`
/// applies it and prints the ids in configuration form. A missing bot permission is named
/// (exit 1); a configuration without a guild exits [`EXIT_CONFIG`].
async fn setup_guild(cli: &Cli, guild: Option<u64>, dry_run: bool) -> ExitCode {
    let config = match config_or_exit(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(guild) = guild.or(config.discord.guild_id) else {
        eprintln!("error: name the guild with --guild or discord.guild_id");
        return ExitCode::from(EXIT_CONFIG);
    };
    let http = http_client(&config.discord);
    let c = &config.community;
    match crate::community::setup::run(&http, guild, &c.names, c.staff_role_id, dry_run).await {
        Ok((plan, outcome)) => {
            print!("{}", plan.describe());
            if let Some(outcome) = outcome {
                if !outcome.changes.is_empty() {
                    println!("Done.");
                }
                println!("\n# the guild's ids, for the configuration file");
                print!("{}", outcome.config_snippet());
            } else {
                println!("(dry run: nothing was changed)");
            }
            if plan.missing.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `flexcord run`: builds the app from the configuration and runs it until Ctrl-C or SIGTERM.
/// Start-up failures are logged (JSON with `--log-format json`); a configuration that cannot
/// run exits with [`EXIT_CONFIG`], and so does a Discord shard closed for good (a bad token,
/// refused intents).
async fn run(cli: &Cli) -> ExitCode {
    let config = match load_config(cli) {
        Ok(c) => c,
        Err(e) => {
            for problem in e.problems() {
                tracing::error!(problem = %problem, "configuration problem");
            }
            tracing::error!(
                problems = e.problems().len(),
                "the configuration cannot run; `flexcord check-config` lists the problems"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "flexcord cannot start");
            return e.exit_code();
        }
    };
    match app.run(crate::shutdown::on_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ crate::app::RunError::Shard(_)) => {
            tracing::error!(error = %e, "flexcord stopped: the configuration must change");
            e.exit_code()
        }
        Err(e) => {
            tracing::warn!(error = %e, "stopped before every part drained");
            e.exit_code()
        }
    }
}

/// `flexcord healthcheck`: 0 when `url` answers 2xx within `timeout`, 1 otherwise (with why
/// on stderr).
async fn healthcheck(url: &url::Url, timeout: std::time::Duration) -> ExitCode {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot build an HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(url.as_str()).send().await {
        Ok(res) if res.status().is_success() => ExitCode::SUCCESS,
        Ok(res) => {
            eprintln!("unhealthy: {url} answered {}", res.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn kb_import_zendesk(export: &std::path::Path, articles: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(export) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", export.display());
            return ExitCode::FAILURE;
        }
    };
    match flexcord_kb::import_zendesk(&text, articles) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            eprintln!(
                "error: {e}{}",
                cause.map(|c| format!(": {c}")).unwrap_or_default()
            );
            ExitCode::FAILURE
        }
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
    let kb = match crate::app::open_kb(path.as_deref()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("flexcord").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_kb_import() {
        let import = parse(&["kb", "import", "zendesk", "export.json", "kb"]).unwrap();
        match import.command {
            Command::Kb {
                command:
                    KbCommand::Import {
                        source: ImportSource::Zendesk { export, articles },
                    },
            } => {
                assert_eq!(export, std::path::Path::new("export.json"));
                assert_eq!(articles, std::path::Path::new("kb"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["kb", "import", "zendesk", "export.json"]).is_err());
    }

    #[test]
    fn parses_every_subcommand() {
        assert!(matches!(parse(&["run"]).unwrap().command, Command::Run));
        assert!(matches!(
            parse(&["check-config"]).unwrap().command,
            Command::CheckConfig
        ));
        let demo = parse(&["demo", "--db", "x.db", "--interactive"]).unwrap();
        match demo.command {
            Command::Demo { db, interactive } => {
                assert_eq!(db.as_deref(), Some(std::path::Path::new("x.db")));
                assert!(interactive);
            }
            other => panic!("{other:?}"),
        }
        let kb = parse(&["kb", "search", "reset", "my", "password", "--limit", "3"]).unwrap();
        match kb.command {
            Command::Kb {
                command: KbCommand::Search { query, limit },
            } => {
                assert_eq!(query.join(" "), "reset my password");
                assert_eq!(limit, 3);
            }
            other => panic!("{other:?}"),
        }
        let show = parse(&["--config", "f.toml", "cases", "show", "CASE-000001"]).unwrap();
        assert_eq!(show.config.as_deref(), Some(std::path::Path::new("f.toml")));
        assert!(matches!(
            show.command,
            Command::Cases { command: CasesCommand::Show { ref number } } if number == "CASE-000001"
        ));
        let list = parse(&["cases", "list", "--status", "open"]).unwrap();
        assert!(matches!(
            list.command,
            Command::Cases { command: CasesCommand::List { status: Some(ref s), limit: 20, json: false } } if s == "open"
        ));
        assert!(matches!(
            parse(&["cases", "list", "--json"]).unwrap().command,
            Command::Cases {
                command: CasesCommand::List { json: true, .. }
            }
        ));
        let dead = parse(&["outbox", "dead", "--limit", "5", "--json"]).unwrap();
        assert!(matches!(
            dead.command,
            Command::Outbox {
                command: OutboxCommand::Dead {
                    limit: 5,
                    json: true
                }
            }
        ));
        assert!(matches!(
            parse(&["outbox", "stats"]).unwrap().command,
            Command::Outbox {
                command: OutboxCommand::Stats { json: false }
            }
        ));
        assert!(matches!(
            parse(&["outbox", "stats", "--json"]).unwrap().command,
            Command::Outbox {
                command: OutboxCommand::Stats { json: true }
            }
        ));
        match parse(&["healthcheck"]).unwrap().command {
            Command::Healthcheck { url, timeout } => {
                assert_eq!(url.as_str(), "http://127.0.0.1:8080/healthz");
                assert_eq!(timeout, std::time::Duration::from_secs(5));
            }
            other => panic!("{other:?}"),
        }
        match parse(&[
            "healthcheck",
            "--url",
            "http://127.0.0.1:9090/healthz",
            "--timeout",
            "1s 500ms",
        ])
        .unwrap()
        .command
        {
            Command::Healthcheck { url, timeout } => {
                assert_eq!(url.port(), Some(9090));
                assert_eq!(timeout, std::time::Duration::from_millis(1_500));
            }
            other => panic!("{other:?}"),
        }
        let reg = parse(&["register-commands", "--print", "--log-format", "json"]).unwrap();
        assert_eq!(reg.log_format, LogFormat::Json);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["kb", "search"]).is_err());
        assert!(parse(&["cases", "show"]).is_err());
        assert!(parse(&["outbox"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["healthcheck", "--timeout", "soon"]).is_err());
        assert!(parse(&["healthcheck", "--url", "not a url"]).is_err());
    }
}
