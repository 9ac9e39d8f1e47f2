//! `flexcord-cases`: the case API and agent pages served alone.
//!
//! ```text
//! FLEXCORD_CASES_TOKEN=... flexcord-cases [serve] --listen 127.0.0.1:8088 --db sqlite://cases.db [--web-prefix /cases]
//! ```
//! `--db` takes a `sqlite:` or `postgres://` URL (default `sqlite://flexcord-cases.db`). The token
//! comes from the environment only (`FLEXCORD_CASES_TOKEN`, or `FLEXCORD_CASES_TOKEN_FILE`), so it
//! never shows in process listings. `--help` lists the options. Prints
//! `listening on http://ADDR` once it accepts connections (`--listen 127.0.0.1:0` picks a free port)
//! and stops cleanly on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The case API and agent pages served alone. The API token comes from the environment only
/// (`FLEXCORD_CASES_TOKEN`, or `FLEXCORD_CASES_TOKEN_FILE` naming a file that holds it), so it
/// never shows in process listings.
#[derive(Debug, Parser)]
#[command(
    name = "flexcord-cases",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Without a command: `serve` with these options.
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API (`/api/v1`) and the agent pages (the default).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR")]
    listen: String,
    /// Database: a `sqlite:` or `postgres://` URL.
    #[arg(long, default_value = "sqlite://flexcord-cases.db", value_name = "URL")]
    db: String,
    /// Where the agent pages are served.
    #[arg(long, default_value = "/cases", value_name = "PATH")]
    web_prefix: String,
}

/// The API token from `FLEXCORD_CASES_TOKEN` or the file `FLEXCORD_CASES_TOKEN_FILE` names.
fn token() -> Result<String, String> {
    let direct = std::env::var("FLEXCORD_CASES_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty());
    let file = std::env::var("FLEXCORD_CASES_TOKEN_FILE")
        .ok()
        .filter(|t| !t.trim().is_empty());
    let token = match (direct, file) {
        (Some(_), Some(_)) => {
            return Err(
                "FLEXCORD_CASES_TOKEN and FLEXCORD_CASES_TOKEN_FILE are both set; set one of them"
                    .into(),
            );
        }
        (Some(token), None) => token,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("FLEXCORD_CASES_TOKEN_FILE: cannot read {path}: {e}"))?,
        (None, None) => String::new(),
    };
    let token = token.trim();
    if token.len() < 16 {
        return Err(
            "set FLEXCORD_CASES_TOKEN (or FLEXCORD_CASES_TOKEN_FILE) to the API token (at least 16 characters)"
                .into(),
        );
    }
    Ok(token.to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    let token = match token() {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let store = match flexcord_cases::open(&args.db).await {
        Ok(store) => store,
        Err(err) => {
            let source = std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default();
            eprintln!("cannot open {}: {err} {source}", args.db);
            return ExitCode::FAILURE;
        }
    };
    let app = flexcord_cases::CasesService::new(store, token)
        .web_prefix(&args.web_prefix)
        .router();
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(err) => {
            eprintln!("no local address: {err}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("server failed: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
