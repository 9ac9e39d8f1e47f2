//! Integration tests of the routing core: scenarios, the rules the reference design got wrong,
//! and property tests over random event sequences.

// Test drivers are long, table-like functions.
#![allow(
    clippy::many_single_char_names,
    clippy::too_many_lines,
    clippy::unused_self
)]

mod catchup;
mod edits;
mod names;
mod props;
mod rules;
mod scenarios;
mod world;
