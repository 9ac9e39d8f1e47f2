//! Integration tests of the Twilio emulator: REST products checked against Twilio's `OpenAPI`
//! specs, webhooks, the Studio-like router, the Flex agent and faults.

// Scenario tests walk through a whole exchange step by step.
#![allow(clippy::too_many_lines)]

mod agent;
mod client;
mod faults;
mod rest;
mod router;
mod services;
mod spec;
mod support;
mod webhooks;
