//! The subcommands behind the binary.

use std::process::ExitCode;

use crate::cli::{CasesCommand, Cli, Command};
use crate::config::Config;
use crate::discord::commands;

/// Exit code for a configuration that does not validate.
pub const EXIT_CONFIG: u8 = 2;

/// Runs one parsed command line and returns the process exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig => check_config(&cli),
        Command::RegisterCommands { print: true } => print_commands(),
        Command::Cases { ref command } => cases(&cli, command).await,
        other => {
            eprintln!(
                "error: `{}` is not available in this build yet",
                command_name(&other)
            );
            ExitCode::FAILURE
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Run => "run",
        Command::Demo { .. } => "demo",
        Command::CheckConfig => "check-config",
        Command::RegisterCommands { .. } => "register-commands",
        Command::Kb { .. } => "kb",
        Command::Cases { .. } => "cases",
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
