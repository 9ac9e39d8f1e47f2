//! Discord: slash command definitions, modals, message rendering, turning what Discord sends
//! into routing events ([`inbound`]), acknowledging interactions ([`interactions`]) and this
//! process's gateway shards ([`gateway`]).

pub mod catch_up;
pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod interactions;
pub mod modal;
pub mod render;
