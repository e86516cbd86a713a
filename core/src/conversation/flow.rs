//! The state machine of one participant's round: pure `(state, input) -> (state, effects)`.
//!
//! The state is the persisted [`ConversationState`]; this module gives its fields their
//! meaning (persistence treats them as opaque apart from `counted`):
//! - `answers`: item id → answer so far, always consistent with `show_if` (answers of
//!   questions that a changed vote made unnecessary are dropped at once, so what a round
//!   close moves as a partial response never contains an answer to a question that was not
//!   to be asked).
//! - `polls`: poll event id → item, registered by [`register_sent`] after sending.
//! - `current`: how many questions were sent *before* the one waiting for an answer, i.e.
//!   the waiting question is shown as "Frage `current + 1`/…". It only ever grows, so the
//!   progress the participant sees never goes backwards. (A fresh state from
//!   the bot's `start_round` has 0, matching the first question of [`start`].)
//!
//! # Which question is waiting
//! Not stored: it is always the first question, in survey order, that is not answered and
//! not hidden by `show_if`. The invariant every step keeps is "the waiting question is the
//! one most recently sent", so a typed answer applies to what the participant last saw.
//! A step that changes which question is waiting sends the new one (or the thanks).
//!
//! # Changed votes and `show_if`
//! A vote on an earlier poll of the round replaces that answer (latest counts), silently.
//! If it hides later questions, their answers are dropped; if the waiting question gets
//! hidden, the next one is sent. If it reveals a question that was skipped by `show_if`,
//! that question becomes the waiting one and is sent at once, before anything else; the
//! question the participant was looking at comes again afterwards unless they vote on its
//! poll meanwhile. A vote on a poll whose question is now hidden gets a short note and
//! changes nothing.
//!
//! # Progress
//! "Frage i/N": `i` counts questions sent in this round (monotone, see `current`); `N` is
//! `i` plus the questions that may still come (unanswered and not hidden, including those
//! whose condition is not decided yet). So at the start N is every question of the survey
//! (what the intro announces); N shrinks when a condition turns out false and grows only
//! when a changed vote reveals a question. Always `1 ≤ i ≤ N`. The last question shown may
//! read "9/10" when the answer to it hides the 10th: the thanks follows directly.
//!
//! # Ending polls (issue 17: light on the homeserver)
//! Every event is work for the homeserver the pilot's staff chat on, so a round costs at most
//! one event per question plus the intro and the thanks (a question's context line travels
//! in its own event, see [`ask`]). A poll the participant answered gets no `poll.end`: in
//! Element it keeps showing their vote. Finishing sends only the thanks, the closing message;
//! a vote after it is refused with the "survey closed" line (the bot's `RoundFinished`). A
//! round closed before the participant finished ends only the poll(s) of the question still
//! waiting (one, or two after a reminder), so that question reads "ended" and nothing else
//! invites a late vote; such a vote is refused with the same polite line. Until then a vote
//! on an earlier poll of the open round still changes its answer.
//!
//! # Answers as stored
//! [`to_value`]/[`from_value`] map `survey::Answer` ↔ `model::AnswerValue`:
//! `Choice(id)` ↔ `Choice(id)`, `Multi(ids)` ↔ `Multi(ids)`, `Scale(u8)` ↔ `Number(i64)`,
//! `Text(s)` ↔ `Text(s)`, `Skipped` ↔ `Skipped`. A stored `Number` outside 0–255 has no
//! `Answer` (it cannot come from this module) and counts as "no answer" for `show_if`.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::lang::Lang;
use crate::model::{AnswerUpdate, AnswerValue, ConversationState, PollRef};
use crate::survey::render::{self, Progress};
use crate::survey::{
    Answer, AnswerError, Question, QuestionKind, Survey, answer_from_poll, parse_answer,
};

use super::outgoing::{Context, Outgoing, PollAnswer, PollStart, to_outbounds};
use super::texts;

/// Marker kept in `ConversationState::counted` once a question was asked again after an
/// undecryptable message (so it is asked again only once). Event ids start with `$`, so a
/// marker can never be mistaken for a counted event. See the report: a dedicated field
/// needs a migration of what the bot persisted.
const REASK_MARKER: &str = "pulsebot:reask:";

/// The round a step runs in: the questionnaire and the participant's language.
#[derive(Debug, Clone)]
pub struct Round<'a> {
    /// The questionnaire of the round (must not change while the round runs).
    pub survey: &'a Survey,
    /// The participant's language (from the ledger).
    pub lang: Lang,
    /// When the round closes, as the participant reads it ("Freitag, 12. Dezember, 16 Uhr"),
    /// named in the intro and the reminders.
    pub deadline: Option<String>,
}

impl<'a> Round<'a> {
    /// A round of `survey` in `lang`.
    pub fn new(survey: &'a Survey, lang: Lang) -> Self {
        Round {
            survey,
            lang,
            deadline: None,
        }
    }

    /// The round closing at `closes_at` (named in the survey's timezone, the year only if it
    /// is not the year of `now`).
    pub fn closing_at(mut self, closes_at: jiff::Timestamp, now: jiff::Timestamp) -> Self {
        let tz = &self.survey.schedule.timezone;
        let this_year = now.to_zoned(tz.clone()).year();
        self.deadline = Some(crate::dates::deadline(
            &closes_at.to_zoned(tz.clone()),
            this_year,
            self.lang,
        ));
        self
    }
}

/// One inbound event of a running round, already decrypted and classified by the Matrix
/// layer (stable and unstable poll responses alike). Its `Debug` output leaves out the typed
/// text and the chosen answer ids (only their sizes), so logging an input never logs an
/// answer.
#[derive(Clone, PartialEq, Eq)]
pub enum Input {
    /// A typed message body (not a command: `route::decide` filters those first).
    Text(String),
    /// A poll response: the poll start's event id and the answer ids chosen.
    PollVote {
        /// Event id of the `poll.start` the response refers to (`m.reference`).
        poll_event_id: String,
        /// The answer ids in the response.
        answer_ids: Vec<String>,
    },
    /// A message that stayed undecryptable past the timeout.
    Undecryptable,
    /// An edit (`m.replace`) of an earlier message: its new text. It changes the answer the
    /// earlier message gave, never answers the waiting question, and is never a command.
    Edit {
        /// The edited event.
        target: String,
        /// The new text.
        body: String,
    },
    /// An earlier message or vote was redacted: its answer is withdrawn.
    Withdraw {
        /// The redacted event.
        target: String,
    },
    /// A quote-reply or a thread message: never an answer (a command in it still counts).
    Aside(String),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Text(body) => write!(f, "Text(<{} chars>)", body.chars().count()),
            Input::PollVote {
                poll_event_id,
                answer_ids,
            } => write!(
                f,
                "PollVote {{ poll_event_id: {poll_event_id:?}, answer_ids: <{}> }}",
                answer_ids.len()
            ),
            Input::Undecryptable => f.write_str("Undecryptable"),
            Input::Edit { target, body } => write!(
                f,
                "Edit {{ target: {target:?}, body: <{} chars> }}",
                body.chars().count()
            ),
            Input::Withdraw { target } => write!(f, "Withdraw {{ target: {target:?} }}"),
            Input::Aside(body) => write!(f, "Aside(<{} chars>)", body.chars().count()),
        }
    }
}

/// Why an input changed nothing. The participant got a short note (except `Complete`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// Not a valid answer to the question (out of range, unknown option, too many, empty,
    /// too long, skip of a required question).
    #[error("invalid answer: {0}")]
    Invalid(AnswerError),
    /// The poll is not one of this round's registered polls (an old round's poll, or a
    /// response processed before the poll was registered — see [`knows_poll`]).
    #[error("poll not known in this round")]
    UnknownPoll,
    /// The poll's question is no longer asked after a changed answer.
    #[error("question no longer shown")]
    NotShown,
    /// Every question is answered already.
    #[error("round already complete")]
    Complete,
    /// A quote-reply or thread message, which is never an answer.
    #[error("not an answer (a reply or thread message)")]
    NotAnAnswer,
}

/// What a step did, for metrics and tests (carries item ids, never answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The waiting question was answered.
    Answered {
        /// Its item id.
        item: String,
    },
    /// An earlier answer was replaced by a new vote.
    Changed {
        /// Its item id.
        item: String,
    },
    /// Nothing changed; a hint was sent.
    Rejected(Rejection),
    /// The waiting question was sent again after an undecryptable message.
    Reasked {
        /// Its item id.
        item: String,
    },
    /// An answer was withdrawn (its event redacted); the question is waiting again if it
    /// came before the one that was waiting.
    Withdrawn {
        /// Its item id.
        item: String,
    },
    /// Nothing to do (a second undecryptable message for the same question, an edit or
    /// redaction of something that was no answer).
    Ignored,
}

/// The result of one step: the new state and the effects. Its `Debug` output holds
/// answers and message texts: for tests only, never log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The state after the step (equal to the old one when rejected).
    pub state: ConversationState,
    /// Messages to send, in order.
    pub outgoing: Vec<Outgoing>,
    /// The last question was answered: move the answers and unlink them.
    pub finish: bool,
    /// What happened.
    pub outcome: Outcome,
}

impl Step {
    /// The effects as the bot persists them, with messages addressed to `room_id`.
    pub fn update(&self, room_id: &str) -> AnswerUpdate {
        AnswerUpdate {
            outbound: to_outbounds(&self.outgoing, room_id),
            finish: self.finish,
            answered: match &self.outcome {
                Outcome::Answered { item } | Outcome::Changed { item } => Some(item.clone()),
                _ => None,
            },
        }
    }
}

/// `survey::Answer` → the persisted value (see the module docs for the table).
pub fn to_value(answer: &Answer) -> AnswerValue {
    match answer {
        Answer::Skipped => AnswerValue::Skipped,
        Answer::Choice(id) => AnswerValue::Choice(id.clone()),
        Answer::Multi(ids) => AnswerValue::Multi(ids.clone()),
        Answer::Scale(n) => AnswerValue::Number(i64::from(*n)),
        Answer::Text(t) => AnswerValue::Text(t.clone()),
    }
}

/// The persisted value → `survey::Answer`; `None` for a number outside 0–255.
pub fn from_value(value: &AnswerValue) -> Option<Answer> {
    Some(match value {
        AnswerValue::Skipped => Answer::Skipped,
        AnswerValue::Choice(id) => Answer::Choice(id.clone()),
        AnswerValue::Multi(ids) => Answer::Multi(ids.clone()),
        AnswerValue::Number(n) => Answer::Scale(u8::try_from(*n).ok()?),
        AnswerValue::Text(t) => Answer::Text(t.clone()),
    })
}

/// Whether a question is asked, given the answers so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vis {
    /// Asked (no condition, or the condition holds).
    Shown,
    /// Not asked (the condition fails, or its item is itself not asked).
    Hidden,
    /// Not decided yet: the condition's item is still to be answered.
    Open,
}

/// Visibility of every question, in survey order. Conditions point backwards (the parser
/// guarantees it), so one pass in order sees every condition's item decided first; an item
/// that is itself hidden hides its dependents whatever answer it still has.
fn visibility(survey: &Survey, answers: &BTreeMap<String, AnswerValue>) -> Vec<Vis> {
    let qs = survey.questions();
    let mut vis: Vec<Vis> = Vec::with_capacity(qs.len());
    for q in qs {
        let v = match &q.show_if {
            None => Vis::Shown,
            Some(cond) => {
                let item_vis = qs[..vis.len()]
                    .iter()
                    .position(|x| x.id == cond.item)
                    .and_then(|i| vis.get(i).copied());
                match item_vis {
                    // Unknown item or a forward reference: never valid, never asked.
                    None | Some(Vis::Hidden) => Vis::Hidden,
                    Some(_) => match answers.get(&cond.item) {
                        None => Vis::Open,
                        Some(val) if cond.is_met(from_value(val).as_ref()) => Vis::Shown,
                        Some(_) => Vis::Hidden,
                    },
                }
            }
        };
        vis.push(v);
    }
    vis
}

/// Drops answers of hidden questions (after a changed vote).
fn prune(survey: &Survey, answers: &mut BTreeMap<String, AnswerValue>) {
    let vis = visibility(survey, answers);
    for (q, v) in survey.questions().iter().zip(vis) {
        if v == Vis::Hidden {
            answers.remove(&q.id);
        }
    }
}

/// Index of the waiting question: the first one not answered and not hidden.
fn waiting_index(survey: &Survey, answers: &BTreeMap<String, AnswerValue>) -> Option<usize> {
    let vis = visibility(survey, answers);
    survey
        .questions()
        .iter()
        .zip(&vis)
        .position(|(q, v)| *v != Vis::Hidden && !answers.contains_key(&q.id))
}

/// The question waiting for an answer, if any.
pub fn waiting<'s>(state: &ConversationState, survey: &'s Survey) -> Option<&'s Question> {
    waiting_index(survey, &state.answers).and_then(|i| survey.questions().get(i))
}

/// Progress of the question at `index` when it is (or was) sent with `sent_before`
/// questions before it.
fn progress_at(
    survey: &Survey,
    answers: &BTreeMap<String, AnswerValue>,
    index: usize,
    sent_before: u32,
) -> Progress {
    let vis = visibility(survey, answers);
    let still_to_come = survey
        .questions()
        .iter()
        .zip(&vis)
        .enumerate()
        .filter(|(i, (q, v))| *i != index && **v != Vis::Hidden && !answers.contains_key(&q.id))
        .count();
    let n = usize::try_from(sent_before)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    Progress {
        index: n,
        total: n.saturating_add(still_to_come),
    }
}

/// Progress of the waiting question ("Frage i/N"), if any.
pub fn progress(state: &ConversationState, survey: &Survey) -> Option<Progress> {
    waiting_index(survey, &state.answers)
        .map(|i| progress_at(survey, &state.answers, i, state.current))
}

/// The message that asks `q`: one event, the poll or, for free text, the plain question.
/// A context line (instrument subject, task) goes in front of the question's text in the
/// same event rather than in a message of its own: one event per question (see "Ending
/// polls").
fn ask(q: &Question, progress: Progress, lang: Lang) -> Vec<Outgoing> {
    let context = Context::Question(q.id.clone());
    let lead = q.context.as_ref().map(|c| with_stop(c.get(lang)));
    let led = |text: String| match &lead {
        Some(l) => format!("{l}\n\n{text}"),
        None => text,
    };
    let out = match render::poll(q, progress, lang) {
        Some(p) => Outgoing::Poll {
            context,
            poll: PollStart {
                question: led(p.question),
                answers: p
                    .answers
                    .into_iter()
                    .map(|a| PollAnswer {
                        id: a.id,
                        text: a.text,
                    })
                    .collect(),
                max_selections: p.max_selections,
                disclosed: true,
                fallback: led(p.fallback),
            },
        },
        None => Outgoing::text(context, led(render::question_text(q, progress, lang))),
    };
    vec![out]
}

/// A context line as the first sentence of a question: Element shows a poll's question as
/// one heading, line breaks collapsed, so the line must end like a sentence.
fn with_stop(line: &str) -> String {
    let line = line.trim_end();
    if line.ends_with(['.', '!', '?', ':']) {
        line.to_owned()
    } else {
        format!("{line}.")
    }
}

/// Poll ends for the polls of the question still waiting (the one asked last, and the
/// same question asked again by a reminder), none for answered ones: see "Ending polls".
fn poll_ends(state: &ConversationState, survey: &Survey, lang: Lang) -> Vec<Outgoing> {
    let Some(waiting) = waiting(state, survey) else {
        return Vec::new();
    };
    state
        .polls
        .iter()
        .filter(|(_, p)| p.item_id == waiting.id)
        .map(|(event_id, p)| Outgoing::PollEnd {
            context: Context::PollEnd(p.item_id.clone()),
            poll_event_id: event_id.clone(),
            text: texts::poll_ended(lang).to_owned(),
        })
        .collect()
}

/// Opens the round for a participant: the state (what the bot's `start_round` creates) and the
/// messages to queue with it: intro ("Neue Umfrage: N Fragen, ca. M Minuten") and the
/// first question.
pub fn start(round: &Round<'_>) -> (ConversationState, Vec<Outgoing>) {
    let state = ConversationState::default();
    let mut out = vec![Outgoing::text(
        Context::Intro,
        render::intro(round.survey, round.lang, round.deadline.as_deref()),
    )];
    if let Some(i) = waiting_index(round.survey, &state.answers)
        && let Some(q) = round.survey.questions().get(i)
    {
        out.extend(ask(
            q,
            progress_at(round.survey, &state.answers, i, state.current),
            round.lang,
        ));
    }
    (state, out)
}

fn rejected(state: &ConversationState, why: Rejection, context: Context, text: String) -> Step {
    Step {
        state: state.clone(),
        outgoing: vec![Outgoing::text(context, text)],
        finish: false,
        outcome: Outcome::Rejected(why),
    }
}

/// The error for a poll answer id the poll does not have.
fn unknown_option(q: &Question) -> AnswerError {
    match &q.kind {
        QuestionKind::Scale { min, max, .. } => AnswerError::OutOfRange {
            min: *min,
            max: *max,
        },
        _ => AnswerError::UnknownOption {
            count: q.options().len(),
        },
    }
}

/// One step of the round: applies `input` to `state`. Pure and deterministic, so it may run
/// more than once inside the bot's transaction. Invalid input returns the state unchanged and
/// a hint in the participant's language.
pub fn step(state: &ConversationState, round: &Round<'_>, input: &Input) -> Step {
    let survey = round.survey;
    let lang = round.lang;
    let qs = survey.questions();
    let before = waiting_index(survey, &state.answers);
    match input {
        Input::Undecryptable => {
            let Some((i, q)) = before.and_then(|i| qs.get(i).map(|q| (i, q))) else {
                return unchanged(state, Outcome::Ignored);
            };
            let marker = format!("{REASK_MARKER}{}", q.id);
            if state.counted.contains(&marker) {
                return unchanged(state, Outcome::Ignored);
            }
            let mut next = state.clone();
            next.counted.insert(&marker, None);
            let mut outgoing = vec![Outgoing::text(Context::Hint, texts::reask(lang))];
            // Same question, same number: nothing new was sent.
            outgoing.extend(ask(
                q,
                progress_at(survey, &state.answers, i, state.current),
                lang,
            ));
            Step {
                state: next,
                outgoing,
                finish: false,
                outcome: Outcome::Reasked { item: q.id.clone() },
            }
        }
        Input::Text(body) => {
            let Some(q) = before.and_then(|i| qs.get(i)) else {
                return rejected(
                    state,
                    Rejection::Complete,
                    Context::Closed,
                    texts::survey_closed(lang).to_owned(),
                );
            };
            match parse_answer(q, body) {
                Ok(answer) => accept(state, round, before, q, answer),
                Err(e) => {
                    let text = e.message(lang);
                    rejected(state, Rejection::Invalid(e), Context::Hint, text)
                }
            }
        }
        Input::Aside(_) => rejected(
            state,
            Rejection::NotAnAnswer,
            Context::Hint,
            texts::not_an_answer(lang).to_owned(),
        ),
        Input::Edit { target, body } => {
            let Some(q) = state
                .counted
                .answered_item(target)
                .and_then(|item| qs.iter().find(|q| q.id == item))
            else {
                return unchanged(state, Outcome::Ignored);
            };
            let qi = qs.iter().position(|x| x.id == q.id);
            if before.is_none() {
                return unchanged(state, Outcome::Ignored);
            }
            if qi.and_then(|i| visibility(survey, &state.answers).get(i).copied())
                == Some(Vis::Hidden)
            {
                return rejected(
                    state,
                    Rejection::NotShown,
                    Context::Hint,
                    texts::question_not_needed(lang).to_owned(),
                );
            }
            match parse_answer(q, body) {
                Ok(answer) => accept(state, round, before, q, answer),
                Err(e) => {
                    let text = e.message(lang);
                    rejected(state, Rejection::Invalid(e), Context::Hint, text)
                }
            }
        }
        Input::Withdraw { target } => {
            let Some(item) = state.counted.answered_item(target).map(str::to_owned) else {
                return unchanged(state, Outcome::Ignored);
            };
            let mut next = state.clone();
            next.counted.forget_answer(&item);
            if next.answers.remove(&item).is_none() {
                return Step {
                    state: next,
                    outgoing: Vec::new(),
                    finish: false,
                    outcome: Outcome::Ignored,
                };
            }
            prune(survey, &mut next.answers);
            let after = waiting_index(survey, &next.answers);
            let mut outgoing = Vec::new();
            if after != before
                && let Some((j, nq)) = after.and_then(|j| qs.get(j).map(|nq| (j, nq)))
            {
                next.current = next.current.saturating_add(1);
                outgoing.push(Outgoing::text(Context::Hint, texts::answer_withdrawn(lang)));
                outgoing.extend(ask(
                    nq,
                    progress_at(survey, &next.answers, j, next.current),
                    lang,
                ));
            }
            Step {
                state: next,
                outgoing,
                finish: false,
                outcome: Outcome::Withdrawn { item },
            }
        }
        Input::PollVote {
            poll_event_id,
            answer_ids,
        } => {
            let closed = || {
                rejected(
                    state,
                    Rejection::UnknownPoll,
                    Context::Closed,
                    texts::survey_closed(lang).to_owned(),
                )
            };
            let Some(poll) = state.polls.get(poll_event_id) else {
                return closed();
            };
            let Some((qi, q)) = qs.iter().enumerate().find(|(_, q)| q.id == poll.item_id) else {
                return closed();
            };
            if before.is_none() {
                return rejected(
                    state,
                    Rejection::Complete,
                    Context::Closed,
                    texts::survey_closed(lang).to_owned(),
                );
            }
            // Map poll answer ids to option ids; duplicates in a response count once.
            let mut option_ids: Vec<String> = Vec::with_capacity(answer_ids.len());
            for id in answer_ids {
                let Some(option) = poll.answer_ids.get(id) else {
                    let e = unknown_option(q);
                    let text = e.message(lang);
                    return rejected(state, Rejection::Invalid(e), Context::Hint, text);
                };
                if !option_ids.contains(option) {
                    option_ids.push(option.clone());
                }
            }
            if visibility(survey, &state.answers).get(qi) == Some(&Vis::Hidden) {
                return rejected(
                    state,
                    Rejection::NotShown,
                    Context::Hint,
                    texts::question_not_needed(lang).to_owned(),
                );
            }
            match answer_from_poll(q, &option_ids) {
                Ok(answer) => accept(state, round, before, q, answer),
                Err(e) => {
                    let text = e.message(lang);
                    rejected(state, Rejection::Invalid(e), Context::Hint, text)
                }
            }
        }
    }
}

fn unchanged(state: &ConversationState, outcome: Outcome) -> Step {
    Step {
        state: state.clone(),
        outgoing: Vec::new(),
        finish: false,
        outcome,
    }
}

/// Stores a valid answer to `q` and sends whatever the change makes due.
fn accept(
    state: &ConversationState,
    round: &Round<'_>,
    before: Option<usize>,
    q: &Question,
    answer: Answer,
) -> Step {
    let survey = round.survey;
    let was_waiting = before
        .and_then(|i| survey.questions().get(i))
        .is_some_and(|w| w.id == q.id);
    let mut next = state.clone();
    next.answers.insert(q.id.clone(), to_value(&answer));
    prune(survey, &mut next.answers);
    let after = waiting_index(survey, &next.answers);
    let mut outgoing = Vec::new();
    let mut finish = false;
    if after != before {
        match after.and_then(|j| survey.questions().get(j).map(|nq| (j, nq))) {
            Some((j, nq)) => {
                next.current = next.current.saturating_add(1);
                outgoing = ask(
                    nq,
                    progress_at(survey, &next.answers, j, next.current),
                    round.lang,
                );
            }
            None => {
                // The thanks is the one closing message: no poll is waiting, and answered
                // polls are not ended (see "Ending polls").
                outgoing.push(Outgoing::text(Context::Thanks, render::thanks(round.lang)));
                finish = true;
            }
        }
    }
    let item = q.id.clone();
    Step {
        state: next,
        outgoing,
        finish,
        outcome: if was_waiting {
            Outcome::Answered { item }
        } else {
            Outcome::Changed { item }
        },
    }
}

/// [`step`] in the shape the bot's `record_answer` wants: updates `state` in place and returns
/// the persisted effects with messages addressed to `room_id`.
///
/// ```ignore
/// let round = conversation::Round::new(&survey, entry.lang);
/// db.record_answer(user, &survey.id, n, &event_id, |state| {
///     conversation::apply(state, &round, &input, &dm_room)
/// })?;
/// ```
pub fn apply(
    state: &mut ConversationState,
    round: &Round<'_>,
    input: &Input,
    room_id: &str,
) -> AnswerUpdate {
    let s = step(state, round, input);
    let update = s.update(room_id);
    *state = s.state;
    update
}

/// Records the event id of a sent poll so responses to it can be mapped to its question.
/// Call it (via the bot's `update_conversation`) with the message read back from the outbox
/// and the event id the homeserver returned. Returns false for anything that is not a
/// question poll (text, consent poll, poll end), which needs no registration.
pub fn register_sent(state: &mut ConversationState, poll_event_id: &str, sent: &Outgoing) -> bool {
    let Outgoing::Poll {
        context: Context::Question(item),
        poll,
    } = sent
    else {
        return false;
    };
    state.polls.insert(
        poll_event_id.to_owned(),
        PollRef {
            item_id: item.clone(),
            answer_ids: poll
                .answers
                .iter()
                .map(|a| (a.id.clone(), a.id.clone()))
                .collect(),
        },
    );
    true
}

/// Whether a poll event id is registered in this round. A response to a poll the bot sent
/// moments ago may be handled before the poll's registration was written: check this on the
/// state read before `record_answer` and defer such a response until registration (or a
/// timeout), because `record_answer` counts the event id whatever the step decides.
pub fn knows_poll(state: &ConversationState, poll_event_id: &str) -> bool {
    state.polls.contains_key(poll_event_id)
}

/// A reminder: a reminder line and the waiting question again (same number; a new poll that
/// needs registering like any other). Empty when nothing is waiting.
pub fn remind(state: &ConversationState, round: &Round<'_>) -> Vec<Outgoing> {
    let Some(i) = waiting_index(round.survey, &state.answers) else {
        return Vec::new();
    };
    let Some(q) = round.survey.questions().get(i) else {
        return Vec::new();
    };
    let left = progress_at(round.survey, &state.answers, i, state.current);
    let left = left.total.saturating_sub(left.index).saturating_add(1);
    let mut out = vec![Outgoing::text(
        Context::Reminder,
        texts::reminder(round.lang, left, round.deadline.as_deref()),
    )];
    out.extend(ask(
        q,
        progress_at(round.survey, &state.answers, i, state.current),
        round.lang,
    ));
    out
}

/// The waiting question again, as it stands (same number; a new poll that needs
/// registering like any other), e.g. in a fresh DM. Empty when nothing is waiting.
pub fn resume(state: &ConversationState, round: &Round<'_>) -> Vec<Outgoing> {
    let Some(i) = waiting_index(round.survey, &state.answers) else {
        return Vec::new();
    };
    let Some(q) = round.survey.questions().get(i) else {
        return Vec::new();
    };
    ask(
        q,
        progress_at(round.survey, &state.answers, i, state.current),
        round.lang,
    )
}

/// Messages for a participant whose round is closed before they finished: the poll still
/// waiting for an answer ended (answered ones are not, see "Ending polls"), and a thank-you
/// if they had answered anything (their answers are kept as a partial response by the bot's
/// `close_round`). Read the state before closing the round.
pub fn close(state: &ConversationState, round: &Round<'_>) -> Vec<Outgoing> {
    let mut out = poll_ends(state, round.survey, round.lang);
    if !state.answers.is_empty() {
        out.push(Outgoing::text(
            Context::Closed,
            texts::closed_thanks(round.lang),
        ));
    }
    out
}
