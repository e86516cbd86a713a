//! pulsebot-sim: what runs pulsebot against a real homeserver on this machine, outside the
//! product: a local Synapse, simulated participants with real end-to-end encryption, the
//! local demo and the round benchmark.
//!
//! Edge: a development package. The released `pulsebot` binary contains none of it; the
//! integration tests (the root package's `tests/`) use [`sim`] as a dev-dependency.
//!
//! # Layout
//! - [`sim`]: the local Synapse (started by the project's `scripts/synapse.sh`) and simulated
//!   Matrix users.
//! - [`demo`]: the local demo (`pulsebot-sim demo`).
//! - [`bench`]: the round benchmark (`pulsebot-sim bench-round`).
#![recursion_limit = "256"]

pub mod bench;
pub mod demo;
pub mod sim;
