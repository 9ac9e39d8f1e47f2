#![doc = include_str!("../README.md")]

pub mod discord;
pub mod twilio;
