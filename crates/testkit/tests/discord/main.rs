//! The Discord emulator driven by a real twilight 0.18 shard and HTTP client; every REST answer
//! it gives is checked against Discord's `OpenAPI` spec when the test's emulator is dropped.

mod binary;
mod community;
mod compression;
mod control;
mod gateway;
mod interactions;
mod rest;
mod spec;
mod strict;

use std::time::Duration;

use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator};
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{
    ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt as _,
};
use twilight_http::Client;

pub(crate) const TOKEN: &str = "emulator-token";
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) fn intents() -> Intents {
    Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES | Intents::MESSAGE_CONTENT
}

/// twilight needs a process-wide rustls provider even for ws:// and http://.
pub(crate) fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A test's emulator: when the test ends without a panic, every REST call it answered is
/// checked against Discord's spec ([`spec::check_call`]).
pub(crate) struct Checked(DiscordEmulator);

impl std::ops::Deref for Checked {
    type Target = DiscordEmulator;
    fn deref(&self) -> &DiscordEmulator {
        &self.0
    }
}

impl Drop for Checked {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        for call in self.0.rest_calls() {
            spec::check_call(&call);
        }
    }
}

pub(crate) async fn emulator() -> Checked {
    emulator_with(DiscordConfig::default()).await
}

pub(crate) async fn emulator_with(config: DiscordConfig) -> Checked {
    crypto();
    Checked(
        DiscordEmulator::start(config.token(TOKEN))
            .await
            .expect("emulator starts on a free loopback port"),
    )
}

pub(crate) fn shard(emu: &DiscordEmulator, id: ShardId, intents: Intents) -> Shard {
    crypto();
    let config = ConfigBuilder::new(TOKEN.to_owned(), intents)
        .proxy_url(emu.gateway_url())
        .queue(InMemoryQueue::new(0, 0, Duration::ZERO, 0))
        .build();
    Shard::with_config(id, config)
}

pub(crate) fn http(emu: &DiscordEmulator) -> Client {
    crypto();
    Client::builder()
        .token(TOKEN.to_owned())
        .proxy(emu.proxy_host(), true)
        .timeout(Duration::from_secs(10))
        .build()
}

/// The next event for which `f` returns `Some`, skipping others; panics after [`WAIT`].
pub(crate) async fn next_where<T>(shard: &mut Shard, mut f: impl FnMut(Event) -> Option<T>) -> T {
    let fut = async {
        loop {
            match shard.next_event(EventTypeFlags::all()).await {
                Some(Ok(event)) => {
                    if let Some(v) = f(event) {
                        return v;
                    }
                }
                Some(Err(e)) => panic!("gateway error: {e:?}"),
                None => panic!("shard closed fatally"),
            }
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("expected event within the timeout")
}

/// Connects and waits for READY; returns the shard.
pub(crate) async fn ready_shard(emu: &DiscordEmulator) -> Shard {
    let mut s = shard(emu, ShardId::ONE, intents());
    next_where(&mut s, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    s
}
