//! The one integration-test binary: real Synapse on 127.0.0.1, real end-to-end encryption.
//!
//! One homeserver serves the whole run (started on first use, stopped when this process ends);
//! every test registers its own users with random names.

mod cli;
mod foundation;
mod helpers;
mod history;
mod hostile;
mod install;
mod package;
mod report;
mod resilience;
mod round;
mod scheduled;
mod trust;
