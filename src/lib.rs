//! pulsebot: a Matrix bot that runs usability surveys inside a software pilot.
//!
//! This package is the bot: everything that does I/O. What it decides comes from the pure
//! core, [`pulsebot_core`], re-exported here under its module names so that callers write
//! `pulsebot::survey` whichever crate a module lives in.
//!
//! # Layout
//! - [`config`]: the one configuration struct, loaded and checked.
//! - [`cli`]: the command line (`run`, `validate`, `export`, ...); `main.rs` only calls it.
//! - [`matrix`]: the only code that talks to the homeserver (session, sync, sending).
//! - [`bot`]: the running bot: lock, connect, sync, route events.
//! - [`services`]: export, report, import and store maintenance, shared by the CLI, the
//!   control socket and the chat commands.
//! - [`store`]: the encrypted sled store, the only code that touches pulsebot's data on disk;
//!   its own versioned records, converted from and to the core's model.
//! - [`control`]: the local control socket (CLI commands served by the running bot).
//! - [`metrics`]: the health and Prometheus endpoint.
//! - [`log_noise`]: the SDK's known-harmless log lines, kept out of the default log.
//! - from the core: [`model`], [`lang`], [`clock`], [`survey`], [`schedule`],
//!   [`conversation`], [`admin`], [`stats`], [`export`], [`import`].
//!
//! The local Synapse, the simulated participants, the demo and the round benchmark live in
//! the `pulsebot-sim` package (`sim/`): the released binary carries none of them.
#![recursion_limit = "256"]

pub mod bot;
pub mod cli;
pub mod config;
pub mod control;
pub mod log_noise;
pub mod matrix;
pub mod metrics;
pub mod services;
pub mod store;

pub use pulsebot_core::{
    admin, clock, conversation, counted, dates, export, import, lang, model, schedule, stats,
    survey, throttle,
};
