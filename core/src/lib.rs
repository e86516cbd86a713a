//! pulsebot-core: the pure part of pulsebot. It owns the domain model and decides; it never
//! does I/O beyond reading the survey files it is handed.
//!
//! Edge: no matrix-sdk, no sled, no tokio. The bot (the root package) carries out what the
//! core decides: `matrix/` talks to the homeserver, the bot's persistence keeps the model in its own
//! versioned records. Everything here is tested with `cargo test -p pulsebot-core` in a few
//! minutes from an empty build.
//!
//! # Layout
//! - [`model`]: answers, consent, rounds and their status, mode, conversation state, ledger
//!   entries, answer records, and the effects the core asks for (messages, answer updates).
//! - [`counted`]: the bounded log of counted event ids that makes each answer count once.
//! - [`dates`]: deadlines as participants read them, in German and English.
//! - [`lang`]: the two languages participants are addressed in.
//! - [`clock`]: where the time comes from (system or a clock tests move).
//! - [`survey`]: questionnaires: model, parser (schedules too), instruments, rendering, scoring.
//! - [`schedule`]: when rounds open, remind and close (pure `due`).
//! - [`conversation`]: one participant's DM conversation: commands, consent, one question at a
//!   time; `(state, input, now) -> (state, effects)`.
//! - [`admin`]: `!pulse` admin commands, parsed and rendered.
//! - [`stats`]: statistics over rounds, with the minimum group size applied.
//! - [`export`]: the published report rendered as JSON, CSV (also German Excel), Markdown, HTML.
//! - [`throttle`]: how many replies one participant may cause (a token bucket per key).
//! - [`import`]: answers of an earlier survey (a LimeSurvey CSV export) parsed and mapped onto a
//!   survey (the bot writes them).
#![recursion_limit = "256"]

pub mod admin;
pub mod clock;
pub mod conversation;
pub mod counted;
pub mod dates;
pub mod export;
pub mod import;
pub mod lang;
pub mod model;
pub mod schedule;
pub mod stats;
pub mod survey;
pub mod throttle;
