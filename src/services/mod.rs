//! Application services: the work behind both a CLI command and a chat command, written once.
//!
//! Edge: they read and write the store and take the time from the caller's clock; they never
//! talk to the homeserver (the bot uploads what they return) and never parse user input (the
//! CLI and the admin commands do).
//!
//! # Layout
//! - [`access`]: the store opened here, or the running bot asked over the control socket.
//! - [`export`]: a report of the store's rounds in any format, audited.
//! - [`import`]: an earlier survey's answers written as a new, closed round, audited.
//! - [`rekey`]: a new passphrase for the session and the store, both or neither.

pub mod access;
pub mod export;
pub mod import;
pub mod rekey;
