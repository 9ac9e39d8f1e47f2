//! Integration tests: one behaviour suite run against every `CaseStore`, plus the HTTP API and
//! the agent web pages.

// Scenario tests read best as one function each.
#![allow(clippy::too_many_lines)]

mod api;
mod bin;
mod common;
mod phone;
mod postgres;
mod suite;
mod turns;
mod web;
