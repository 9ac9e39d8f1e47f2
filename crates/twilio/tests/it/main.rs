//! Integration tests for flexcord-twilio: one binary, one module per area.

mod chat;
mod client;
mod common;
mod conversations;
mod flex_studio_media;
mod props;
mod registry;
mod webhook;
