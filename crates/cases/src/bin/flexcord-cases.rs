//! `flexcord-cases`: the case API and agent pages served alone.
//!
//! ```text
//! FLEXCORD_CASES_TOKEN=... flexcord-cases --listen 127.0.0.1:8088 --db sqlite://cases.db [--web-prefix /cases]
//! ```
//! `--db` takes a `sqlite:` or `postgres://` URL (default `sqlite://flexcord-cases.db`). The token
//! comes from the environment only, so it never shows in process listings. Prints
//! `listening on http://ADDR` once it accepts connections (`--listen 127.0.0.1:0` picks a free port)
//! and stops cleanly on Ctrl-C or SIGTERM.

use std::process::ExitCode;

const USAGE: &str = "usage: FLEXCORD_CASES_TOKEN=<token> flexcord-cases [--listen ADDR] [--db URL] [--web-prefix PATH]";

struct Args {
    listen: String,
    db: String,
    web_prefix: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:8088".into(),
        db: "sqlite://flexcord-cases.db".into(),
        web_prefix: "/cases".into(),
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let slot = match flag.as_str() {
            "--listen" => &mut args.listen,
            "--db" => &mut args.db,
            "--web-prefix" => &mut args.web_prefix,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        };
        *slot = iter
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
    }
    Ok(args)
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
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let token = match std::env::var("FLEXCORD_CASES_TOKEN") {
        Ok(token) if token.trim().len() >= 16 => token.trim().to_owned(),
        _ => {
            eprintln!(
                "set FLEXCORD_CASES_TOKEN to the API token (at least 16 characters)\n{USAGE}"
            );
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
