//! `flexcord-testkit`: runs the Discord and Twilio emulators on loopback ports so the app can be
//! run against them by hand. See `docs/testing.md`.
//!
//! ```text
//! flexcord-testkit [--discord-port 9001] [--twilio-port 9002] [--app-url http://127.0.0.1:8080]
//!                  [--discord-token T] [--twilio-account-sid AC...] [--twilio-auth-token T]
//!                  [--bot-secret S] [--heartbeat-ms 41250] [--auto-agent agent:alice]
//! ```
//! `--help` lists the options with their defaults.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use flexcord_testkit::Emulators;
use flexcord_testkit::discord::DiscordConfig;
use flexcord_testkit::twilio::{AutoAgent, TwilioConfig};

use clap::Parser;

/// Local Discord and Twilio emulators for running flexcord by hand.
#[derive(Debug, Parser)]
#[command(name = "flexcord-testkit", version, about)]
struct Args {
    /// Discord gateway + REST + control API port.
    #[arg(long, default_value_t = 9001, value_name = "PORT")]
    discord_port: u16,
    /// Twilio REST + control API port.
    #[arg(long, default_value_t = 9002, value_name = "PORT")]
    twilio_port: u16,
    /// Address to bind (keep it loopback: the control APIs have no authentication).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST), value_name = "IP")]
    host: IpAddr,
    /// The app's public base URL; Twilio webhooks and the Studio-like router call it.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
    app_url: String,
    /// Bot token the Discord emulator accepts [default: a Discord-shaped token for the default
    /// bot, `DEFAULT_TOKEN` in flexcord-testkit].
    #[arg(long, value_name = "TOKEN")]
    discord_token: Option<String>,
    /// Account SID.
    #[arg(
        long = "twilio-account-sid",
        default_value = "AC00000000000000000000000000000000",
        value_name = "SID"
    )]
    account_sid: String,
    /// Auth token (signs webhooks).
    #[arg(
        long = "twilio-auth-token",
        default_value = "00000000000000000000000000000000",
        value_name = "TOKEN"
    )]
    auth_token: String,
    /// Sent as `X-Flexcord-Secret` on bot requests.
    #[arg(long, value_name = "SECRET")]
    bot_secret: Option<String>,
    /// Run a Flex agent that accepts, greets, answers and ends tasks by itself (e.g.
    /// `agent:alice`).
    #[arg(long, value_name = "IDENTITY")]
    auto_agent: Option<String>,
    /// Gateway heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 41_250, value_parser = clap::value_parser!(u64).range(1..), value_name = "MS")]
    heartbeat_ms: u64,
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
    let mut args = Args::parse();
    args.app_url = args.app_url.trim_end_matches('/').to_owned();
    if !args.host.is_loopback() {
        eprintln!(
            "warning: binding {}: the control APIs have no authentication",
            args.host
        );
    }

    let discord_config = DiscordConfig::default()
        .bind(SocketAddr::new(args.host, args.discord_port))
        .token(
            args.discord_token
                .clone()
                .unwrap_or_else(|| flexcord_testkit::discord::DEFAULT_TOKEN.to_owned()),
        )
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
