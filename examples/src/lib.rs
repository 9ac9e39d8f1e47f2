//! Runnable examples of flexcord's crates. Each example says at its top how to run it; none needs
//! network access or credentials.
//!
//! - `twilio_client`: the Twilio client end to end against a small local mock of Twilio's
//!   Conversations and Flex APIs (`cargo run -p flexcord-examples --example twilio_client`).
