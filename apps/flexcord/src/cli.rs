//! The command line (`flexcord --help`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
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
}

/// `flexcord outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List dead letters (deliveries given up), newest first, with their reasons.
    Dead {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Count the outbox rows per state.
    Stats,
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
    },
    /// Show one case with its timeline.
    Show {
        /// The case number, e.g. CASE-000123.
        number: String,
    },
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
            Command::Cases { command: CasesCommand::List { status: Some(ref s), limit: 20 } } if s == "open"
        ));
        let dead = parse(&["outbox", "dead", "--limit", "5"]).unwrap();
        assert!(matches!(
            dead.command,
            Command::Outbox {
                command: OutboxCommand::Dead { limit: 5 }
            }
        ));
        assert!(matches!(
            parse(&["outbox", "stats"]).unwrap().command,
            Command::Outbox {
                command: OutboxCommand::Stats
            }
        ));
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
    }
}
