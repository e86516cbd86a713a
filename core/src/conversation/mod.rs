//! The participant's conversation (issue 5): a pure state machine, tested without a
//! homeserver or a disk.
//!
//! Edges: the Matrix layer decrypts and classifies events into an [`Input`], asks
//! [`decide`] what to do, carries the resulting [`Action`] out with the bot's persistence, and for
//! answers in a running round calls [`apply`] inside the bot's `record_answer` (one
//! transaction: state, counted event id, queued messages, optional finish). What to send
//! is always [`Outgoing`] data, stored as JSON in the outbox and turned into ruma content
//! only by the Matrix layer. Nothing here does I/O, reads the clock or logs; no Matrix id,
//! message body or answer leaves this module except in the messages to the participant.
//!
//! # Layout
//! - `command`: DM commands (`hilfe`, `stopp`, `start`, `meine daten`, `löschen`,
//!   `sprache de|en`, and English), parsed into [`Command`]; help generated from a table.
//! - `route`: [`decide`]: commands, first contact, consent, or the round.
//! - `flow`: one round: [`start`], [`step`]/[`apply`], [`register_sent`], [`remind`],
//!   [`close`]; the meaning of the stored conversation state; `Answer` ↔ `AnswerValue`.
//! - `outgoing`: [`Outgoing`] messages and their stored JSON.
//! - `texts`: every sentence the conversation adds, in German and English.
//!
//! # Calling it from the Matrix layer
//! ```ignore
//! let p = Participant::from_ledger(entry.as_ref(), in_round, default_lang);
//! match conversation::decide(&p, &input, &notice) {
//!     Action::Round => {
//!         let round = Round::new(&survey, p.lang);
//!         match db.record_answer(user, &survey.id, n, &event_id, |s| {
//!             conversation::apply(s, &round, &input, &dm_room)
//!         })? {
//!             RecordOutcome::RoundClosed | RecordOutcome::RoundFinished =>
//!                 db.queue(&to_outbounds(&closed_reply(p.lang), &dm_room))?,
//!             _ => {}
//!         }
//!     }
//!     Action::OptOut { confirmation } =>
//!         db.opt_out(user, now, &to_outbounds(&confirmation, &dm_room))?,
//!     // ...
//! }
//! ```

#![warn(missing_docs)]

pub mod command;
pub mod flow;
pub mod outgoing;
pub mod route;
pub mod texts;

#[cfg(test)]
mod tests;

pub use command::{COMMANDS, Command, CommandKind, CommandSpec, help};
pub use flow::{
    Input, Outcome, Rejection, Round, Step, apply, close, from_value, knows_poll, progress,
    register_sent, remind, resume, start, step, to_value, waiting,
};
pub use outgoing::{Context, Outgoing, OutgoingError, PollAnswer, PollStart, to_outbounds};
pub use route::{
    Action, CONSENT_NO_ID, CONSENT_YES_ID, ConsentChoice, Notice, Participant, closed_reply,
    consent_poll, decide, first_contact, my_data_reply, parse_consent,
};
