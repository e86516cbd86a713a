//! pulsebot: a Matrix bot that runs usability surveys inside a software pilot.
//!
//! # Layout
//! - [`config`]: the one configuration struct, loaded and checked.
//! - [`cli`]: the command line (`run`, `validate`, `demo`, ...); `main.rs` only calls it.
//! - [`matrix`]: the only code that talks to the homeserver (session, sync, sending).
//! - [`bot`]: the running bot: lock, connect, sync, route events.
//! - [`admin`]: `!pulse` admin commands, parsed and rendered (pure).
//! - [`conversation`]: the participant's DM conversation: commands, consent, one question at
//!   a time (pure state machine).
//! - [`survey`], [`schedule`]: questionnaires and when rounds happen (pure).
//! - [`store`]: the encrypted sled store, the only code that touches pulsebot's data on disk.
//! - [`stats`]: pure statistics over rounds, with the minimum group size applied.
//! - [`export`]: the published report as JSON, CSV (also German Excel), Markdown and HTML.
//! - [`import`]: answers of an earlier survey (a LimeSurvey CSV export) mapped onto a survey
//!   (pure parsing and validation; the store writes them in one transaction).
//! - [`sim`]: a local Synapse and simulated Matrix users, for the demo and the tests.
#![recursion_limit = "256"]

pub mod admin;
pub mod bench;
pub mod bot;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod conversation;
pub mod demo;
pub mod export;
pub mod import;
pub mod lang;
pub mod matrix;
pub mod metrics;
pub mod schedule;
pub mod sim;
pub mod stats;
pub mod store;
pub mod survey;
