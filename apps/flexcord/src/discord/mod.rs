//! Discord: slash command definitions, modals, message rendering and interaction parsing.

pub mod commands;
pub mod gateway;
pub mod interactions;
pub mod modal;
pub mod render;

/// Text of the ephemeral answer given when Discord refuses to DM a user (error 50007).
pub const DMS_CLOSED_HELP: &str = "I could not send you a direct message: your privacy settings \
block DMs from this server. Open the server menu, choose **Privacy Settings**, turn on **Direct \
Messages**, then run `/helpme` again.";

/// Discord's JSON error code for "Cannot send messages to this user".
pub const CANNOT_DM_USER: u64 = 50007;
