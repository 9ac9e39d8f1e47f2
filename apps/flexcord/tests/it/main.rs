//! The app end to end: the bridge as `flexcord run` builds it (`flexcord::app::App`) against
//! the Discord and Twilio emulators over real sockets, and the built binary's commands.

mod agents;
mod bridge;
mod chat_mode;
mod cli;
mod commands;
mod community;
mod crash;
mod crash_points;
mod deliver;
mod deploy;
mod faults;
mod health;
mod journey;
mod layout;
mod media;
mod observability;
mod process;
mod scale;
mod studio_flows;
mod support;
mod sweeps;
mod twilio;
