//! A local Synapse and simulated Matrix users with real end-to-end encryption.
//!
//! Used by `pulsebot-sim demo` and by the integration tests: the homeserver is started by the
//! project's own `scripts/synapse.sh` on 127.0.0.1 and stops when its owner process ends;
//! users are registered through the shared-secret admin API with random names, so many tests
//! can share one server without colliding.

mod homeserver;
mod respondent;
mod user;

pub use homeserver::Homeserver;
pub use respondent::{Answered, Behaviour, Reply, Respondent};
pub use user::{Received, SimUser, random_suffix};
