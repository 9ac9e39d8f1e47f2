//! Integration tests for flexcord-twilio: one binary, one module per area.

mod common;
mod webhook;
