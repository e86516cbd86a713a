//! The domain model: answers, consent, rounds and where a participant stands in them, the
//! conversation state of a running round, and the effects the core asks the bot to carry out
//! (messages to send, answer updates).
//!
//! Edge: plain data with plain strings for Matrix ids, room ids, survey and item ids, so the
//! core depends neither on ruma nor on any storage. How these are kept on disk is the persisted
//! business (its own versioned records, converted from and to these types): a field added
//! here is not a schema change until the bot's persistence decides to persist it.

use std::collections::BTreeMap;

use jiff::Timestamp;

pub use crate::counted::Counted;
use crate::lang::Lang;

/// One answer to one item, as the participant gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerValue {
    /// A single choice: the option id (for likert items the scale point, e.g. `"4"`).
    Choice(String),
    /// A multiple choice: the chosen option ids.
    Multi(Vec<String>),
    /// A number (0–10 scales and the like).
    Number(i64),
    /// Free text.
    Text(String),
    /// The participant skipped an optional item.
    Skipped,
}

/// Whether responses of a round carry a per-survey pseudonym.
// Serialized only where a survey names its mode (the survey file, the JSON export); the bot's persistence
// keeps its own record of it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Default: nothing links a response to anybody once it is in the answer store.
    #[default]
    Anonymous,
    /// Responses carry a per-survey pseudonym for wave-to-wave paired analysis.
    Pseudonymous,
}

/// A participant's consent to take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentState {
    /// Never asked.
    #[default]
    Unknown,
    /// The notice and the consent poll were sent; no answer yet.
    Asked,
    /// Agreed to take part.
    Yes,
    /// Declined, opted out or erased their data: never contacted again.
    No,
}

/// Where a participant stands in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundStatus {
    /// The round's first message was queued.
    Invited,
    /// At least one answer was recorded.
    Started,
    /// All questions answered; the response is in the answer store.
    Finished,
    /// The round closed before the participant finished; what they answered was kept.
    Partial,
    /// The participant opted out during the round; drafts were discarded.
    OptedOut,
}

/// A participant's status in one round of one survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundParticipation {
    /// The survey.
    pub survey_id: String,
    /// The round number.
    pub round: u32,
    /// Where the participant stands.
    pub status: RoundStatus,
    /// Reminders sent in this round.
    pub reminders_sent: u32,
}

/// The participation ledger entry of one participant: what is needed to deliver questions
/// and reminders, and nothing about answers. Stored under a keyed hash of the Matrix id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The Matrix id (encrypted at rest; empty once erased).
    pub user_id: String,
    /// Consent state.
    pub consent: ConsentState,
    /// When the consent state last changed.
    pub consent_at: Option<Timestamp>,
    /// The language the participant is addressed in.
    pub lang: Lang,
    /// The encrypted direct-message room with the bot.
    pub dm_room: Option<String>,
    /// Status per round.
    pub rounds: Vec<RoundParticipation>,
    /// True once the participant erased their data: only the opt-out itself is kept, so
    /// that "no" keeps meaning "never contacted again".
    pub erased: bool,
}

impl LedgerEntry {
    /// A fresh entry for `user_id`: consent unknown, German, no DM room yet.
    pub fn new(user_id: &str) -> Self {
        LedgerEntry {
            user_id: user_id.to_owned(),
            consent: ConsentState::Unknown,
            consent_at: None,
            lang: Lang::De,
            dm_room: None,
            rounds: Vec::new(),
            erased: false,
        }
    }

    /// The participation in one round, if any.
    pub fn round(&self, survey_id: &str, round: u32) -> Option<&RoundParticipation> {
        self.rounds
            .iter()
            .find(|r| r.survey_id == survey_id && r.round == round)
    }

    /// The participation in one round, created as `Invited` if missing.
    pub fn round_mut(&mut self, survey_id: &str, round: u32) -> &mut RoundParticipation {
        let i = match self
            .rounds
            .iter()
            .position(|r| r.survey_id == survey_id && r.round == round)
        {
            Some(i) => i,
            None => {
                self.rounds.push(RoundParticipation {
                    survey_id: survey_id.to_owned(),
                    round,
                    status: RoundStatus::Invited,
                    reminders_sent: 0,
                });
                self.rounds.len() - 1
            }
        };
        &mut self.rounds[i]
    }
}

/// A poll the bot sent: which item it asks and its answer-id → option-id map
/// (poll responses carry answer ids, not texts).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PollRef {
    /// The item the poll asks.
    pub item_id: String,
    /// Poll answer id → option id.
    pub answer_ids: BTreeMap<String, String>,
}

/// The conversation state of one participant in one running round. This is the only place
/// where answers sit next to an identity, and only until the participant finishes or the
/// round closes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationState {
    /// Index of the current question.
    pub current: u32,
    /// Answers so far, item id → answer (latest response wins).
    pub answers: BTreeMap<String, AnswerValue>,
    /// Poll event id → the poll it is.
    pub polls: BTreeMap<String, PollRef>,
    /// Event ids already counted (idempotency), bounded, with the question each answered;
    /// maintained by the bot's persistence.
    pub counted: Counted,
}

/// A completed (or, at round close, partial) response in the answer store. It holds no
/// Matrix id, no event id and no time: at most the round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    /// The survey.
    pub survey_id: String,
    /// The round.
    pub round: u32,
    /// False if the round closed before the participant finished.
    pub complete: bool,
    /// Item id → answer.
    pub answers: BTreeMap<String, AnswerValue>,
    /// The per-survey pseudonym, only in [`Mode::Pseudonymous`] rounds.
    pub pseudonym: Option<String>,
}

/// What the bot's persistence knows about a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundInfo {
    /// The survey.
    pub survey_id: String,
    /// The round.
    pub round: u32,
    /// Anonymous or pseudonymous.
    pub mode: Mode,
    /// When the round opened.
    pub opened_at: Timestamp,
    /// When it closed; answers arriving later are not counted.
    pub closed_at: Option<Timestamp>,
    /// When retention deleted its raw answers.
    pub raw_deleted_at: Option<Timestamp>,
    /// Responses moved into the answer store (minus those erased on request).
    pub responses: u64,
    /// How many participants the round was meant for: the survey's audience when it opened,
    /// raised when the audience grew while it ran (schema 3; `None` for older rounds).
    pub audience: Option<u64>,
    /// The label of an imported round (e.g. `webex-2026`); `None` for rounds the bot ran
    /// (schema 3).
    pub label: Option<String>,
    /// The schedule the bot opened the round under: the one record of when it was due, when
    /// it closes and which reminders are used up (`None` for imported rounds).
    pub schedule: Option<RoundSchedule>,
}

/// When a round the bot opened was due and when it closes, and how many of its reminders
/// are used up (sent, or skipped as overdue). Fixed when the round opens, so a restart cannot
/// move the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundSchedule {
    /// The scheduled start (for a manual round: when the admin started it).
    pub slot: Timestamp,
    /// When the round closes.
    pub closes_at: Timestamp,
    /// How many reminder offsets are used up.
    pub reminders_done: u8,
}

/// A message to queue for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The Matrix transaction id to use, when the caller derives it from the event that
    /// caused the message (so handling a replayed event twice is deduplicated by the
    /// homeserver). The persisted outbox records the id in use.
    pub txn_id: Option<String>,
    /// The room to send to.
    pub room_id: String,
    /// The event content as JSON (opaque to the bot's persistence).
    pub content: String,
    /// Opaque caller data returned with the pending message (e.g. which item a poll asks).
    pub context: Option<String>,
}

/// What the conversation decided after applying one answer: the effects to carry out in the
/// same transaction as the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerUpdate {
    /// Messages to queue (next question, acknowledgement), in the same transaction.
    pub outbound: Vec<Outbound>,
    /// The participant answered the last question: move the answers to the answer store
    /// and unlink them, in the same transaction.
    pub finish: bool,
    /// The question the event answered (or changed), remembered with its counted id so an
    /// edit or redaction of the event can find it.
    pub answered: Option<String>,
}
