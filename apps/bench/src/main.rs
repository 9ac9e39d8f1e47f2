//! `flexcord-bench`: load figures of the real `flexcord` binary.
//!
//! Each scenario starts the local Discord and Twilio emulators in this process, a fresh
//! database, and the release binary as a child process configured for them (exactly like
//! `flexcord run`), sets conversations up through the real flow (a DM, "Talk to a live agent",
//! an agent accepting the task), then loads it from this process: agent messages as webhooks
//! signed like Twilio's (`POST /twilio/outbound`), or users' DMs through the gateway. Lost and
//! doubled messages are counted from what the emulators recorded, queued ones from the app's
//! outbox. Run it with `cargo run --release -p flexcord-bench`; `docs/benchmarks.md` has the
//! figures and how to read them.

mod load;
mod report;
mod rig;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::load::Load;

/// Load scenarios against the flexcord binary and its emulators.
#[derive(Debug, Parser)]
#[command(name = "flexcord-bench", about)]
struct Args {
    /// The flexcord binary (default: `flexcord` next to this binary).
    #[arg(long, value_name = "PATH")]
    flexcord: Option<PathBuf>,
    /// Scenarios to run, by name (default: every scenario that needs no Postgres; see --list).
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Messages per scenario.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Postgres server for the two-instance scenarios (a fresh database is made per run).
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    postgres: Option<String>,
    /// Print one JSON object per scenario instead of the table.
    #[arg(long)]
    json: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// Where the app keeps its state in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Storage {
    /// One instance on a `SQLite` file (the shipped default).
    Sqlite,
    /// Two instances on one Postgres database, shards split, webhooks to each in turn.
    Postgres,
}

/// One scenario.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) about: &'static str,
    pub(crate) load: Load,
    /// Extra latency of every call to the upstream the load goes to (Discord for outbound,
    /// Twilio for inbound).
    pub(crate) latency: Duration,
    /// The Discord emulator enforces Discord's documented limits (50 requests/s globally,
    /// route buckets of 5 per 5 s) instead of wide-open ones.
    pub(crate) discord_limits: bool,
    pub(crate) storage: Storage,
    /// Finished outbox rows in the database before the run (a busy month not yet pruned).
    pub(crate) backlog: usize,
}

#[allow(clippy::too_many_lines)] // the list, one entry each
fn scenarios() -> Vec<Scenario> {
    let base = |name, about, load| Scenario {
        name,
        about,
        load,
        latency: Duration::ZERO,
        discord_limits: false,
        storage: Storage::Sqlite,
        backlog: 0,
    };
    let out = |senders, conversations| Load::Outbound {
        senders,
        conversations,
    };
    let lat = Duration::from_millis(50);
    vec![
        base(
            "ceiling-1c",
            "a plain client posting to one DM channel, one request after the other (the emulator's own ceiling)",
            Load::Ceiling,
        ),
        Scenario {
            latency: lat,
            ..base(
                "ceiling-1c-lat50",
                "the same with 50 ms per Discord call",
                Load::Ceiling,
            )
        },
        base(
            "out-1s-1c",
            "agent messages, 1 sender, one conversation",
            out(1, 1),
        ),
        base(
            "out-32s-1c",
            "agent messages, 32 senders, one conversation",
            out(32, 1),
        ),
        base(
            "out-32s-32c",
            "agent messages, 32 senders, 32 conversations",
            out(32, 32),
        ),
        base(
            "out-1s-32c",
            "agent messages, 1 sender, 32 conversations",
            out(1, 32),
        ),
        Scenario {
            latency: lat,
            ..base(
                "out-32s-32c-lat50",
                "32 senders, 32 conversations, 50 ms per Discord call",
                out(32, 32),
            )
        },
        Scenario {
            latency: lat,
            ..base(
                "out-32s-1c-lat50",
                "32 senders, one conversation, 50 ms per Discord call",
                out(32, 1),
            )
        },
        Scenario {
            backlog: 300_000,
            ..base(
                "out-32s-32c-backlog",
                "32 senders, 32 conversations, 300,000 finished outbox rows already in the table",
                out(32, 32),
            )
        },
        base(
            "in-10u",
            "a burst of DMs from 10 users with a live agent",
            Load::Inbound { users: 10 },
        ),
        base(
            "in-500u",
            "a burst of DMs from 500 users with a live agent",
            Load::Inbound { users: 500 },
        ),
        Scenario {
            latency: lat,
            ..base(
                "in-500u-lat50",
                "a burst of DMs from 500 users, 50 ms per Twilio call",
                Load::Inbound { users: 500 },
            )
        },
        Scenario {
            discord_limits: true,
            ..base(
                "out-limits-500c",
                "agent replies to 500 users, Discord's limits enforced (50/s global)",
                out(32, 500),
            )
        },
        Scenario {
            storage: Storage::Postgres,
            ..base(
                "pg2-out-32s-32c",
                "two instances on Postgres: agent messages, 32 senders, 32 conversations",
                out(32, 32),
            )
        },
        Scenario {
            storage: Storage::Postgres,
            ..base(
                "pg2-in-500u",
                "two instances on Postgres: a burst of DMs from 500 users",
                Load::Inbound { users: 500 },
            )
        },
    ]
}

fn main() -> ExitCode {
    let args = Args::parse();
    let all = scenarios();
    if args.list {
        for s in &all {
            println!("{:<22} {}", s.name, s.about);
        }
        return ExitCode::SUCCESS;
    }
    let chosen: Vec<Scenario> = if args.scenarios.is_empty() {
        all.into_iter()
            .filter(|s| s.storage == Storage::Sqlite)
            .collect()
    } else {
        let mut chosen = Vec::new();
        for name in &args.scenarios {
            let Some(s) = all.iter().find(|s| s.name == name) else {
                eprintln!("error: no scenario {name:?} (see --list)");
                return ExitCode::from(2);
            };
            chosen.push(s.clone());
        }
        chosen
    };
    let Some(binary) = args.flexcord.clone().or_else(rig::sibling_binary) else {
        eprintln!(
            "error: no flexcord binary next to this one; build it (cargo build --release -p flexcord) or pass --flexcord"
        );
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    if !args.json {
        report::header();
    }
    for scenario in &chosen {
        let result = runtime.block_on(load::run(scenario, &binary, &args));
        match result {
            Ok(figures) => {
                if args.json {
                    println!("{}", figures.json());
                } else {
                    figures.row();
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("{}: {e}", scenario.name);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
