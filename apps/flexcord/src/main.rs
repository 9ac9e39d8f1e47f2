//! The `flexcord` binary: parses the command line and runs the chosen command.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = flexcord::cli::Cli::parse();
    let default_filter = if matches!(cli.command, flexcord::cli::Command::Demo { .. }) {
        "warn"
    } else {
        "info"
    };
    flexcord::telemetry::init_tracing_with_default(cli.log_format, default_filter);
    flexcord::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(flexcord::cli::execute(cli))
}
