//! The Matrix layer: the only code that talks to the homeserver.
//!
//! `session` logs in once and restores the same device on every start; `sync` runs the
//! low-latency sync loop and hands typed events to the bot; `events` classifies timeline events;
//! `trust` decides which devices count (answers, commands, room keys);
//! `send` sends messages with transaction ids chosen so that a retry never duplicates a message;
//! `port` is the bot's [`MatrixPort`](crate::bot::port::MatrixPort) over a client.

pub mod content;
pub mod events;
pub mod port;
pub mod rooms;
pub mod send;
pub mod session;
pub mod sync;
pub mod trust;
