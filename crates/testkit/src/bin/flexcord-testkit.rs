//! `flexcord-testkit`: runs the Discord and Twilio emulators on loopback ports so the app can be
//! run against them by hand. See `docs/testing.md`.
//!
//! ```text
//! flexcord-testkit [--discord-port 9001] [--twilio-port 9002] [--app-url http://127.0.0.1:8080]
//!                  [--discord-token T] [--twilio-account-sid AC...] [--twilio-auth-token T]
//!                  [--bot-secret S] [--heartbeat-ms 41250] [--auto-agent agent:alice]
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use flexcord_testkit::Emulators;
use flexcord_testkit::discord::DiscordConfig;
use flexcord_testkit::twilio::{AutoAgent, TwilioConfig};

const USAGE: &str = "\
flexcord-testkit: local Discord and Twilio emulators for running flexcord by hand

USAGE:
    flexcord-testkit [OPTIONS]

OPTIONS:
    --discord-port <PORT>         Discord gateway + REST + control API port [default: 9001]
    --twilio-port <PORT>          Twilio REST + control API port [default: 9002]
    --host <IP>                   Address to bind (keep it loopback) [default: 127.0.0.1]
    --app-url <URL>               The app's public base URL; Twilio webhooks and the Studio-like
                                  router call it [default: http://127.0.0.1:8080]
    --discord-token <TOKEN>       Bot token the Discord emulator accepts [default: a Discord-shaped
                                  token for the default bot, DEFAULT_TOKEN in flexcord-testkit]
    --twilio-account-sid <SID>    Account SID [default: AC00000000000000000000000000000000]
    --twilio-auth-token <TOKEN>   Auth token (signs webhooks) [default: 00000000000000000000000000000000]
    --bot-secret <SECRET>         Sent as X-Flexcord-Secret on bot requests
    --auto-agent <IDENTITY>       Run a Flex agent that accepts, greets, answers and ends tasks
                                  by itself (e.g. agent:alice) [default: none]
    --heartbeat-ms <MS>           Gateway heartbeat interval [default: 41250]
    -h, --help                    Print this help
";

struct Args {
    host: IpAddr,
    discord_port: u16,
    twilio_port: u16,
    app_url: String,
    discord_token: String,
    account_sid: String,
    auth_token: String,
    bot_secret: Option<String>,
    auto_agent: Option<String>,
    heartbeat_ms: u64,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        discord_port: 9001,
        twilio_port: 9002,
        app_url: "http://127.0.0.1:8080".to_owned(),
        discord_token: flexcord_testkit::discord::DEFAULT_TOKEN.to_owned(),
        account_sid: "AC00000000000000000000000000000000".to_owned(),
        auth_token: "00000000000000000000000000000000".to_owned(),
        bot_secret: None,
        auto_agent: None,
        heartbeat_ms: 41_250,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let port = |v: String| {
            v.parse::<u16>()
                .map_err(|_| format!("{name}: `{v}` is not a port number"))
        };
        match name.as_str() {
            "--discord-port" => args.discord_port = port(value()?)?,
            "--twilio-port" => args.twilio_port = port(value()?)?,
            "--host" => {
                let v = value()?;
                args.host = v
                    .parse()
                    .map_err(|_| format!("--host: `{v}` is not an IP address"))?;
            }
            "--app-url" => value()?.trim_end_matches('/').clone_into(&mut args.app_url),
            "--discord-token" => args.discord_token = value()?,
            "--twilio-account-sid" => args.account_sid = value()?,
            "--twilio-auth-token" => args.auth_token = value()?,
            "--bot-secret" => args.bot_secret = Some(value()?),
            "--auto-agent" => args.auto_agent = Some(value()?),
            "--heartbeat-ms" => {
                let v = value()?;
                args.heartbeat_ms = v
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("--heartbeat-ms: `{v}` is not a positive number"))?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(Some(args))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !args.host.is_loopback() {
        eprintln!(
            "warning: binding {}: the control APIs have no authentication",
            args.host
        );
    }

    let discord_config = DiscordConfig::default()
        .bind(SocketAddr::new(args.host, args.discord_port))
        .token(args.discord_token.clone())
        .heartbeat_interval(Duration::from_millis(args.heartbeat_ms));
    let mut twilio_config = TwilioConfig::stable(args.account_sid.clone(), args.auth_token.clone())
        .webhook_base_url(args.app_url.clone());
    twilio_config.bind = SocketAddr::new(args.host, args.twilio_port);
    twilio_config.bot_secret.clone_from(&args.bot_secret);
    let emulators = match Emulators::start(discord_config, twilio_config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let twilio = &emulators.twilio;
    let _auto_agent = args
        .auto_agent
        .as_ref()
        .map(|identity| twilio.start_auto_agent(AutoAgent::new(identity.clone())));
    print_summary(&args, &emulators);
    shutdown_signal().await;
    emulators.shutdown();
    drop(emulators);
    println!("stopped");
    ExitCode::SUCCESS
}

fn print_summary(args: &Args, emulators: &Emulators) {
    let (discord, twilio) = (&emulators.discord, &emulators.twilio);
    let cfg = discord.config();
    println!("flexcord-testkit is running (Ctrl-C to stop)\n");
    println!("Discord  gateway  {}", discord.gateway_url());
    println!("         REST     {}/api/v10", discord.api_url());
    println!("         control  {}/__testkit/discord/", discord.api_url());
    println!(
        "         guild {} | bot/application {} | users: {}",
        cfg.guild_id,
        cfg.application_id,
        cfg.users
            .iter()
            .map(|u| format!("{} ({})", u.username, u.id))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "         channels: {}",
        cfg.channels
            .iter()
            .map(|c| format!("#{} ({})", c.name, c.id))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Twilio   REST     {}", twilio.base_url());
    println!("         control  {}/__testkit/twilio/", twilio.base_url());
    println!(
        "         webhooks and the Studio-like router call {}",
        args.app_url
    );
    println!("\nEnvironment for the app:\n");
    for (key, value) in emulators.app_env() {
        println!("export {key}={value}");
    }
    println!();
}
