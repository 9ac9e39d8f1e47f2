//! `flexcord-cases`: the case API and agent pages served alone, and the agents and integration
//! tokens that may use them.
//!
//! ```text
//! FLEXCORD_CASES_TOKEN=... flexcord-cases [serve] --listen 127.0.0.1:8088 --db sqlite://cases.db [--web-prefix /cases]
//! FLEXCORD_CASES_PASSWORD=... flexcord-cases --db sqlite://cases.db agents add jane --name "Jane Doe"
//! flexcord-cases --db sqlite://cases.db agents list | agents remove jane
//! flexcord-cases --db sqlite://cases.db tokens add crm | tokens list | tokens remove crm
//! ```
//! `--db` takes a `sqlite:` or `postgres://` URL (default `sqlite://flexcord-cases.db`). Secrets
//! never come from the command line, so they never show in process listings: the default API
//! token from `FLEXCORD_CASES_TOKEN` (or the file `FLEXCORD_CASES_TOKEN_FILE` names, such as a
//! Docker or Kubernetes secret), a new agent's password from `FLEXCORD_CASES_PASSWORD` or,
//! when that is unset, the first line of standard input. `tokens add` prints the new token
//! once; only its digest is kept. Serving prints `listening on http://ADDR` once it accepts
//! connections (`--listen 127.0.0.1:0` picks a free port) and stops cleanly on Ctrl-C or
//! SIGTERM.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "flexcord-cases",
    version,
    about = "The flexcord case API and agent pages"
)]
struct Cli {
    /// The case database: a `sqlite:` or `postgres://` URL.
    #[arg(long, global = true, default_value = "sqlite://flexcord-cases.db")]
    db: String,
    /// Without a command: `serve` with these options.
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR")]
    listen: SocketAddr,
    /// Where the agent pages live.
    #[arg(long, default_value = "/cases", value_name = "PATH")]
    web_prefix: String,
    /// The public URL of this server (for the single sign-on callback), e.g.
    /// `https://cases.example.com`.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the REST API (`/api/v1`) and the agent pages (the default).
    Serve(ServeArgs),
    /// Agents who sign in to the case pages with a password.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Integrations allowed to use the REST API, one token each.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// Adds an agent, or sets a known agent's name and password (ending their sessions). The
    /// password comes from `FLEXCORD_CASES_PASSWORD` or the first line of standard input.
    Add {
        /// The login name.
        login: String,
        /// The name shown on notes, assignments and status changes.
        #[arg(long)]
        name: String,
    },
    /// Removes an agent and ends their sessions.
    Remove {
        /// The login name.
        login: String,
    },
    /// Lists the agents.
    List,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Adds an integration and prints its new token (shown once).
    Add {
        /// The integration's name, as the audit trail shows it (`api:<name>`).
        name: String,
    },
    /// Removes an integration's token.
    Remove {
        /// The integration's name.
        name: String,
    },
    /// Lists the integrations.
    List,
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

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

fn describe(err: &flexcord_cases::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => format!("{err}: {source}"),
        None => err.to_string(),
    }
}

/// The new agent's password: the environment, else the first line of standard input.
fn password() -> Option<String> {
    if let Ok(password) = std::env::var("FLEXCORD_CASES_PASSWORD") {
        return Some(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    (!line.is_empty()).then_some(line)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (store, accounts) = match flexcord_cases::open_with_accounts(&cli.db).await {
        Ok(opened) => opened,
        Err(err) => return fail(format!("cannot open {}: {}", cli.db, describe(&err))),
    };
    match cli.command {
        Some(Command::Agents { command }) => agents(accounts.as_ref(), command).await,
        Some(Command::Tokens { command }) => tokens(accounts.as_ref(), command).await,
        Some(Command::Serve(args)) => serve(&args, store, accounts).await,
        None => serve(&cli.serve, store, accounts).await,
    }
}

async fn agents(accounts: &dyn flexcord_cases::Accounts, command: AgentsCommand) -> ExitCode {
    match command {
        AgentsCommand::Add { login, name } => {
            let Some(password) = password() else {
                eprintln!(
                    "give the password in FLEXCORD_CASES_PASSWORD or on standard input (at least {} characters)",
                    flexcord_cases::MIN_PASSWORD_CHARS
                );
                return ExitCode::from(2);
            };
            match accounts.set_agent(&login, &name, &password).await {
                Ok(agent) => {
                    println!("agent {} ({}) can sign in", agent.login, agent.display_name);
                    ExitCode::SUCCESS
                }
                Err(err) => fail(describe(&err)),
            }
        }
        AgentsCommand::Remove { login } => match accounts.remove_agent(&login).await {
            Ok(true) => {
                println!("agent {login} removed");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(format!("no agent {login}")),
            Err(err) => fail(describe(&err)),
        },
        AgentsCommand::List => match accounts.agents().await {
            Ok(agents) if agents.is_empty() => {
                println!("no agents");
                ExitCode::SUCCESS
            }
            Ok(agents) => {
                for agent in agents {
                    println!("{}\t{}", agent.login, agent.display_name);
                }
                ExitCode::SUCCESS
            }
            Err(err) => fail(describe(&err)),
        },
    }
}

async fn tokens(accounts: &dyn flexcord_cases::Accounts, command: TokensCommand) -> ExitCode {
    match command {
        TokensCommand::Add { name } => match accounts.add_token(&name).await {
            Ok(token) => {
                eprintln!("the token of {name} (shown once; keep it secret):");
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(err) => fail(describe(&err)),
        },
        TokensCommand::Remove { name } => match accounts.remove_token(&name).await {
            Ok(true) => {
                println!("token of {name} removed");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(format!("no integration {name}")),
            Err(err) => fail(describe(&err)),
        },
        TokensCommand::List => match accounts.tokens().await {
            Ok(tokens) if tokens.is_empty() => {
                println!("no integrations");
                ExitCode::SUCCESS
            }
            Ok(tokens) => {
                for token in tokens {
                    println!("{}", token.name);
                }
                ExitCode::SUCCESS
            }
            Err(err) => fail(describe(&err)),
        },
    }
}

/// The API token from `FLEXCORD_CASES_TOKEN` or the file `FLEXCORD_CASES_TOKEN_FILE` names;
/// empty when neither is set.
fn token() -> Result<String, String> {
    let set = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let token = match (
        set("FLEXCORD_CASES_TOKEN"),
        set("FLEXCORD_CASES_TOKEN_FILE"),
    ) {
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
    Ok(token.trim().to_owned())
}

async fn serve(
    cli: &ServeArgs,
    store: std::sync::Arc<dyn flexcord_cases::CaseStore>,
    accounts: std::sync::Arc<dyn flexcord_cases::Accounts>,
) -> ExitCode {
    let token = match token() {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let has_tokens = accounts.tokens().await.is_ok_and(|t| !t.is_empty());
    if token.len() < 16 && !has_tokens {
        eprintln!(
            "set FLEXCORD_CASES_TOKEN (or FLEXCORD_CASES_TOKEN_FILE) to the API token (at least 16 characters), or add an integration with `flexcord-cases tokens add <name>`"
        );
        return ExitCode::from(2);
    }
    let token = if token.len() >= 16 {
        token
    } else {
        String::new()
    };
    let mut service = flexcord_cases::CasesService::new(store, token)
        .accounts(accounts)
        .web_prefix(&cli.web_prefix);
    if let Some(public) = &cli.public_url {
        service = service.secure_cookies(public.starts_with("https://"));
        if let (Ok(issuer), Ok(client_id), Ok(client_secret)) = (
            std::env::var("FLEXCORD_CASES_OIDC_ISSUER"),
            std::env::var("FLEXCORD_CASES_OIDC_CLIENT_ID"),
            std::env::var("FLEXCORD_CASES_OIDC_CLIENT_SECRET"),
        ) {
            service = service.oidc(flexcord_cases::OidcConfig {
                issuer,
                client_id,
                client_secret,
                redirect_url: format!(
                    "{}{}/oidc/callback",
                    public.trim_end_matches('/'),
                    cli.web_prefix.trim_end_matches('/')
                ),
            });
        }
    }
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(listener) => listener,
        Err(err) => return fail(format!("cannot listen on {}: {err}", cli.listen)),
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(err) => return fail(format!("no local address: {err}")),
    }
    let app = service
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        return fail(format!("server failed: {err}"));
    }
    ExitCode::SUCCESS
}
