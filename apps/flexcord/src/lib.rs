//! flexcord: customer service inside Discord, wired to Twilio Flex.
//!
//! This crate is the binary's library half: configuration ([`config`]), the command line
//! ([`cli`]), the Discord side ([`discord`]: slash commands, modals, rendering), the HTTP
//! server ([`server`]: Twilio webhooks, health, metrics), logging and metrics ([`telemetry`])
//! and graceful shutdown ([`shutdown`]). See `docs/architecture.md` for how the crates fit.

pub mod app;
pub mod bridge;
pub mod cases;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod deliver_bot;
pub mod deliver_chat;
pub mod deliver_twilio;
#[cfg(feature = "demo")]
pub mod demo;
pub mod discord;
pub mod inbound;
pub mod media;
pub mod outbox;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod trace;

/// Installs the process-wide rustls crypto provider (ring). twilight compiles rustls without
/// one and panics when a client is built without it; calling this twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
