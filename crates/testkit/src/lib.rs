#![doc = include_str!("../README.md")]

pub mod discord;
pub mod env;
pub mod twilio;

pub use env::Emulators;
