//! flexcord: customer service inside Discord, wired to Twilio Flex.
//!
//! This crate is the binary's library half. [`app::App`] assembles and runs the bridge from a
//! [`config::Config`]; [`cli`] is the command line. A message's way through the modules, both
//! ways, is the code map in `docs/architecture.md`:
//!
//! - in: [`discord`] (gateway shards, interactions, [`discord::inbound`]) and [`server`]
//!   (Twilio webhooks, [`webhook`]) turn what arrives into routing events for [`driver`], which
//!   applies them through the store's engine (`flexcord-store`, `flexcord-routing`);
//! - out: the outbox worker hands the actions to [`deliver`] (Discord, cases, the virtual
//!   agent, Twilio in either mode).

pub mod app;
pub mod cases;
pub mod cli;
pub mod community;
pub mod config;
pub mod deliver;
#[cfg(feature = "demo")]
pub mod demo;
pub mod discord;
pub mod driver;
pub mod health;
pub mod housekeeping;
pub mod kb_reload;
pub mod media;
pub mod outbox;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod sweep;
pub mod telemetry;
pub mod trace;
pub mod webhook;

/// Installs the process-wide rustls crypto provider (ring). twilight compiles rustls without
/// one and panics when a client is built without it; calling this twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
