//! What to do with one inbound DM event, before any round logic: commands, first contact
//! and consent, and whether the event belongs to the running round.
//!
//! Pure: [`decide`] looks at the participant's ledger view and the input and returns an
//! [`Action`] — data the Matrix layer carries out with the bot's persistence (`set_consent`,
//! `opt_out`, `erase_participant`, `opt_in_again`, `update_participant`, `my_data`,
//! `record_answer`). Nothing here reads or writes anything.
//!
//! Rules, in order:
//! 1. A typed command always wins, in every consent state (stopping must always work).
//! 2. A vote on the consent poll (recognised by its answer ids, which no survey option can
//!    have: survey ids never contain `.`) is a consent answer; "no" after "yes" withdraws
//!    consent like `stopp`.
//! 3. Otherwise by consent: never asked → first contact; asked → typed `ja`/`nein`/`1`/`2`
//!    or a hint; declined/stopped → silence (never contacted again; only commands are
//!    answered, and a "yes" vote gets one line saying to send `start`); consented → the
//!    running round, or a short "no survey running" / "this survey has closed".

use serde::{Deserialize, Serialize};

use crate::lang::Lang;
use std::collections::BTreeMap;

use crate::model::{AnswerValue, ConsentState, LedgerEntry};

use super::command::{Command, help};
use super::flow::Input;
use super::outgoing::{Context, Outgoing, PollAnswer, PollStart};
use super::texts;

/// Answer id of "Ja, teilnehmen" in the consent poll.
pub const CONSENT_YES_ID: &str = "consent.yes";
/// Answer id of "Nein danke" in the consent poll.
pub const CONSENT_NO_ID: &str = "consent.no";

/// The data-protection notice (from the config): who is responsible, purpose, voluntary,
/// what is stored, how long, rights, contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// German text.
    pub de: String,
    /// English text.
    pub en: String,
}

impl Notice {
    /// The text for `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.de, &self.en)
    }
}

/// What [`decide`] needs to know about the participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participant {
    /// Consent as the ledger has it (`Unknown` when there is no entry; `No` when erased).
    pub consent: ConsentState,
    /// The language to answer in.
    pub lang: Lang,
    /// Whether a round is running for them (ledger round `Invited` or `Started` of an open
    /// round).
    pub in_round: bool,
}

impl Participant {
    /// The view of a ledger entry (or of its absence: consent unknown, `default_lang`).
    pub fn from_ledger(entry: Option<&LedgerEntry>, in_round: bool, default_lang: Lang) -> Self {
        match entry {
            None => Participant {
                consent: ConsentState::Unknown,
                lang: default_lang,
                in_round: false,
            },
            Some(e) => Participant {
                consent: if e.erased {
                    ConsentState::No
                } else {
                    e.consent
                },
                lang: e.lang,
                in_round: in_round && !e.erased,
            },
        }
    }
}

/// A consent answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChoice {
    /// "Ja, teilnehmen".
    Yes,
    /// "Nein danke".
    No,
}

/// What the Matrix layer does with one inbound event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send nothing, store nothing.
    Ignore,
    /// Queue these messages; nothing else changes.
    Reply(Vec<Outgoing>),
    /// Someone not yet asked wrote: if they are in the audience, send these (notice and
    /// consent poll) and set consent `Asked`.
    FirstContact(Vec<Outgoing>),
    /// Set consent (the bot's `set_consent`) and queue `reply`; with `Yes`, start any open
    /// round for them afterwards.
    SetConsent {
        /// The new state (`Yes` or `No`).
        state: ConsentState,
        /// The confirmation.
        reply: Vec<Outgoing>,
    },
    /// `start`: the bot's `opt_in_again`, queue `reply`, then start any open round for them.
    OptIn {
        /// The confirmation.
        reply: Vec<Outgoing>,
    },
    /// `stopp` (or a "no" vote after "yes"): the bot's `opt_out` with this confirmation,
    /// which is the last message they get.
    OptOut {
        /// The confirmation, queued in the same transaction.
        confirmation: Vec<Outgoing>,
    },
    /// `löschen`: the bot's `erase_participant` with this confirmation.
    Erase {
        /// The confirmation, queued in the same transaction.
        confirmation: Vec<Outgoing>,
    },
    /// `sprache …`: set the ledger language (the bot's `update_participant`) and queue
    /// `reply` (already in the new language).
    SetLanguage {
        /// The new language.
        lang: Lang,
        /// The confirmation.
        reply: Vec<Outgoing>,
    },
    /// `weitermachen`: send the waiting question of the running round again
    /// ([`crate::conversation::resume`]), e.g. after a pause, when the poll is far up the chat.
    Resume,
    /// `meine daten`: fetch the bot's `my_data` and send [`my_data_reply`].
    ShowMyData,
    /// An input for the running round: call the bot's `record_answer` with
    /// `conversation::apply`.
    Round,
}

/// The first-contact messages: the notice (with a hint how to switch language) and the
/// consent poll.
pub fn first_contact(notice: &Notice, lang: Lang) -> Vec<Outgoing> {
    let notice_text = format!(
        "{}\n\n{}",
        notice.get(lang).trim_end(),
        texts::notice_language_hint(lang)
    );
    vec![
        Outgoing::text(Context::Notice, notice_text),
        consent_poll(lang),
    ]
}

/// The consent poll: *Ja, teilnehmen* / *Nein danke*, with a numbered fallback.
pub fn consent_poll(lang: Lang) -> Outgoing {
    let question = texts::consent_question(lang);
    let (yes, no) = (texts::consent_yes(lang), texts::consent_no(lang));
    Outgoing::Poll {
        context: Context::Consent,
        poll: PollStart {
            question: question.to_owned(),
            answers: vec![
                PollAnswer {
                    id: CONSENT_YES_ID.to_owned(),
                    text: yes.to_owned(),
                },
                PollAnswer {
                    id: CONSENT_NO_ID.to_owned(),
                    text: no.to_owned(),
                },
            ],
            max_selections: 1,
            disclosed: true,
            fallback: format!(
                "{question}\n\n1. {yes}\n2. {no}\n\n{}",
                texts::consent_how_to(lang)
            ),
        },
    }
}

/// Everything the bot's persistence can still link to one participant: what `meine daten`
/// shows. The persistence gathers it; [`my_data_reply`] says it in words.
#[derive(Debug, Clone, PartialEq)]
pub struct MyData {
    /// The ledger entry (consent, language, DM room, rounds), if any and not erased.
    pub ledger: Option<LedgerEntry>,
    /// True if the participant erased their data (only "never contact again" is kept).
    pub erased: bool,
    /// Answers of running rounds: (survey, round, state).
    pub drafts: Vec<(String, u32, crate::model::ConversationState)>,
    /// Responses under the participant's pseudonym in pseudonymous surveys.
    pub pseudonymous_responses: Vec<crate::model::AnswerRecord>,
    /// Messages to the participant not yet sent.
    pub pending_messages: usize,
}

/// Longest question text shown in `meine daten` before it is cut at a word.
const MY_DATA_QUESTION_CHARS: usize = 60;

/// The reply to `meine daten`: in full sentences and the participant's language, what is
/// stored about them (consent and when, language, each round and where they stand, the
/// answers still linked to them with the questions' texts and the options' labels) and
/// what is not. Dates in `tz`. Surveys not in `surveys` (a removed file) show ids.
pub fn my_data_reply(
    data: &MyData,
    surveys: &[&crate::survey::Survey],
    tz: &jiff::tz::TimeZone,
    lang: Lang,
) -> Vec<Outgoing> {
    vec![Outgoing::text(
        Context::Reply,
        render_my_data(data, surveys, tz, lang),
    )]
}

fn render_my_data(
    data: &MyData,
    surveys: &[&crate::survey::Survey],
    tz: &jiff::tz::TimeZone,
    lang: Lang,
) -> String {
    use std::fmt::Write;
    let survey = |id: &str| surveys.iter().copied().find(|s| s.id == id);
    let title = |id: &str| survey(id).map_or(id.to_owned(), |s| s.title.get(lang).to_owned());
    let Some(e) = &data.ledger else {
        return if data.erased {
            texts::my_data_erased(lang).to_owned()
        } else {
            texts::my_data_nothing(lang).to_owned()
        };
    };
    let mut out = format!("{}\n\n", texts::my_data_heading(lang));
    let _ = writeln!(out, "{}", texts::my_data_account(lang, &e.user_id));
    let when = e.consent_at.map(|t| texts::date_time(t, tz, lang));
    let _ = writeln!(
        out,
        "{}",
        texts::my_data_consent(lang, e.consent, when.as_deref())
    );
    let _ = writeln!(out, "{}", texts::my_data_language(e.lang));
    if data.pending_messages > 0 {
        let _ = writeln!(
            out,
            "{}",
            texts::my_data_pending(lang, data.pending_messages)
        );
    }
    if !e.rounds.is_empty() {
        let _ = writeln!(out, "\n{}", texts::my_data_rounds_heading(lang));
        for r in &e.rounds {
            let status = texts::round_status_words(lang, r.status);
            let reminders = texts::my_data_reminders(lang, r.reminders_sent);
            let _ = write!(
                out,
                "• {}, {} {}: {status}",
                title(&r.survey_id),
                lang.pick("Runde", "round"),
                r.round
            );
            if !reminders.is_empty() {
                let _ = write!(out, ", {reminders}");
            }
            out.push('\n');
        }
    }
    let answers = |out: &mut String, survey_id: &str, answers: &BTreeMap<String, AnswerValue>| {
        let s = survey(survey_id);
        // In the order asked, then anything the survey no longer has.
        let mut ids: Vec<&String> = answers.keys().collect();
        if let Some(s) = s {
            let pos = |id: &str| s.questions().iter().position(|q| q.id == id);
            ids.sort_by_key(|id| pos(id).unwrap_or(usize::MAX));
        }
        for id in ids {
            let q = s.and_then(|s| s.question(id));
            let question = q.map_or(id.clone(), |q| shorten(q.text.get(lang)));
            let answer = answer_words(&answers[id], q, lang);
            let _ = writeln!(
                out,
                "• {}{question}{} – {answer}",
                lang.pick("„", "“"),
                lang.pick("“", "”")
            );
        }
    };
    for (survey_id, round, st) in &data.drafts {
        let _ = writeln!(
            out,
            "\n{}",
            texts::my_data_draft_heading(lang, &title(survey_id), *round)
        );
        answers(&mut out, survey_id, &st.answers);
        let _ = writeln!(out, "{}", texts::my_data_draft_footer(lang));
    }
    for r in &data.pseudonymous_responses {
        let _ = writeln!(
            out,
            "\n{}",
            texts::my_data_pseudonymous_heading(lang, &title(&r.survey_id), r.round)
        );
        answers(&mut out, &r.survey_id, &r.answers);
    }
    let _ = write!(
        out,
        "\n{}",
        texts::my_data_not_stored(lang, !data.pseudonymous_responses.is_empty())
    );
    out
}

/// A question's text for a list: its first line, cut at a word after
/// [`MY_DATA_QUESTION_CHARS`] characters.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= MY_DATA_QUESTION_CHARS {
        return line.to_owned();
    }
    let mut cut = String::new();
    for word in line.split_whitespace() {
        if cut.chars().count() + word.chars().count() + 1 > MY_DATA_QUESTION_CHARS {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    format!("{cut} …")
}

/// An answer in words: the chosen options' labels, the number, the text in quotes.
fn answer_words(v: &AnswerValue, q: Option<&crate::survey::Question>, lang: Lang) -> String {
    let label = |id: &str| {
        q.and_then(|q| q.options().iter().find(|o| o.id == id))
            .map_or(id.to_owned(), |o| o.label.get(lang).to_owned())
    };
    match v {
        AnswerValue::Choice(id) => label(id),
        AnswerValue::Multi(ids) => ids.iter().map(|i| label(i)).collect::<Vec<_>>().join(", "),
        AnswerValue::Number(n) => n.to_string(),
        AnswerValue::Text(t) => format!("{}{t}{}", lang.pick("„", "“"), lang.pick("“", "”")),
        AnswerValue::Skipped => texts::my_data_skipped(lang).to_owned(),
    }
}

/// "This survey has closed." — for `RecordOutcome::RoundClosed` / `RoundFinished`.
pub fn closed_reply(lang: Lang) -> Vec<Outgoing> {
    vec![Outgoing::text(Context::Closed, texts::survey_closed(lang))]
}

/// A typed consent answer: `ja`/`yes`/`1`/the poll label, `nein`/`no`/`2`/the poll label.
pub fn parse_consent(body: &str) -> Option<ConsentChoice> {
    let norm = body
        .trim()
        .trim_end_matches(['.', '!'])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let label = |f: fn(Lang) -> &'static str| [f(Lang::De), f(Lang::En)].map(str::to_lowercase);
    if ["ja", "j", "yes", "y", "1"].contains(&norm.as_str())
        || label(texts::consent_yes).contains(&norm)
    {
        Some(ConsentChoice::Yes)
    } else if ["nein", "n", "no", "2"].contains(&norm.as_str())
        || label(texts::consent_no).contains(&norm)
    {
        Some(ConsentChoice::No)
    } else {
        None
    }
}

/// A vote on the consent poll, if the answer ids are the consent poll's. `Some(None)`: a
/// consent-poll vote that is not exactly one choice.
fn consent_vote(answer_ids: &[String]) -> Option<Option<ConsentChoice>> {
    let is_consent = |id: &String| id == CONSENT_YES_ID || id == CONSENT_NO_ID;
    if answer_ids.is_empty() || !answer_ids.iter().all(is_consent) {
        return None;
    }
    let yes = answer_ids.iter().any(|id| id == CONSENT_YES_ID);
    let no = answer_ids.iter().any(|id| id == CONSENT_NO_ID);
    Some(match (yes, no) {
        (true, false) => Some(ConsentChoice::Yes),
        (false, true) => Some(ConsentChoice::No),
        _ => None,
    })
}

fn reply(text: impl Into<String>) -> Vec<Outgoing> {
    vec![Outgoing::text(Context::Reply, text)]
}

/// What to do with a command.
fn command_action(cmd: Command, p: &Participant, notice: &Notice) -> Action {
    let lang = p.lang;
    match cmd {
        Command::Help => Action::Reply(reply(help(lang))),
        Command::Stop => match p.consent {
            ConsentState::No => Action::Reply(reply(texts::already_stopped(lang))),
            // Also from "never asked": stop means never contact.
            ConsentState::Yes | ConsentState::Asked | ConsentState::Unknown => Action::OptOut {
                confirmation: reply(texts::stopped(lang)),
            },
        },
        Command::Start => match p.consent {
            ConsentState::Yes => Action::Reply(reply(texts::already_participating(lang))),
            // Consent needs the notice first.
            ConsentState::Unknown => Action::FirstContact(first_contact(notice, lang)),
            ConsentState::Asked | ConsentState::No => Action::OptIn {
                reply: reply(texts::opted_in_again(lang)),
            },
        },
        Command::MyData => Action::ShowMyData,
        Command::Delete => Action::Erase {
            confirmation: reply(texts::deleted(lang)),
        },
        Command::Language(new) => Action::SetLanguage {
            lang: new,
            reply: reply(texts::language_set(new)),
        },
        Command::LanguageUnknown => Action::Reply(reply(texts::language_hint(lang))),
        Command::Pause if p.consent == ConsentState::Yes && p.in_round => {
            Action::Reply(reply(texts::paused(lang)))
        }
        Command::Resume if p.consent == ConsentState::Yes && p.in_round => Action::Resume,
        Command::Pause | Command::Resume => Action::Reply(reply(texts::no_survey_running(lang))),
        // Not reached: decide() handles non-commands itself.
        Command::NotACommand => Action::Ignore,
    }
}

/// What a consent answer does in the current consent state.
fn consent_action(choice: ConsentChoice, p: &Participant) -> Action {
    let lang = p.lang;
    match (p.consent, choice) {
        (ConsentState::Unknown | ConsentState::Asked, ConsentChoice::Yes) => Action::SetConsent {
            state: ConsentState::Yes,
            reply: reply(texts::consent_given(lang)),
        },
        (ConsentState::Unknown | ConsentState::Asked, ConsentChoice::No) => Action::SetConsent {
            state: ConsentState::No,
            reply: reply(texts::consent_declined(lang)),
        },
        (ConsentState::Yes, ConsentChoice::Yes) => Action::Ignore,
        // Withdrawing must be as easy as consenting: a changed vote is a `stopp`.
        (ConsentState::Yes, ConsentChoice::No) => Action::OptOut {
            confirmation: reply(texts::stopped(lang)),
        },
        // "No" is final until `start`; they actively voted, so say how.
        (ConsentState::No, ConsentChoice::Yes) => {
            Action::Reply(reply(texts::consent_after_no(lang)))
        }
        (ConsentState::No, ConsentChoice::No) => Action::Ignore,
    }
}

/// Longer messages (in bytes) are neither parsed as commands nor as answers: a hint instead.
/// Above any valid answer: a free-text answer is at most 5,000 characters (the survey
/// parser's limit), i.e. at most 20,000 bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 24 * 1024;

/// Decides what to do with one inbound DM event. Pure; see the module docs for the rules.
pub fn decide(p: &Participant, input: &Input, notice: &Notice) -> Action {
    let lang = p.lang;
    if let Input::Text(body) | Input::Aside(body) | Input::Edit { body, .. } = input
        && body.len() > MAX_MESSAGE_BYTES
    {
        // Read no further: neither a command nor an answer is this long.
        return Action::Reply(reply(texts::message_too_long(lang)));
    }
    if let Input::Text(body) | Input::Aside(body) = input {
        let cmd = Command::parse(body);
        if cmd != Command::NotACommand {
            return command_action(cmd, p, notice);
        }
    }
    // Not answers, and a command in an edit is no command: only a running round reads them.
    match input {
        Input::Aside(_) if p.consent == ConsentState::Yes && p.in_round => {
            return Action::Reply(reply(texts::not_an_answer(lang)));
        }
        Input::Aside(_) => return Action::Ignore,
        Input::Edit { .. } | Input::Withdraw { .. } => {
            return if p.consent == ConsentState::Yes && p.in_round {
                Action::Round
            } else {
                Action::Ignore
            };
        }
        _ => {}
    }
    if let Input::PollVote { answer_ids, .. } = input
        && let Some(vote) = consent_vote(answer_ids)
    {
        return match vote {
            Some(choice) => consent_action(choice, p),
            None if p.consent == ConsentState::Asked => {
                Action::Reply(reply(texts::consent_hint(lang)))
            }
            None => Action::Ignore,
        };
    }
    match p.consent {
        ConsentState::Unknown => match input {
            Input::Text(_) => Action::FirstContact(first_contact(notice, lang)),
            _ => Action::Ignore,
        },
        ConsentState::Asked => match input {
            Input::Text(body) => match parse_consent(body) {
                Some(choice) => consent_action(choice, p),
                None => Action::Reply(reply(texts::consent_hint(lang))),
            },
            // Possibly their consent vote: ask them to answer again.
            Input::Undecryptable => Action::Reply(reply(texts::consent_hint(lang))),
            _ => Action::Ignore,
        },
        ConsentState::No => Action::Ignore,
        ConsentState::Yes if p.in_round => Action::Round,
        ConsentState::Yes => match input {
            Input::Text(_) => Action::Reply(reply(texts::no_survey_running(lang))),
            Input::PollVote { .. } => Action::Reply(closed_reply(lang)),
            _ => Action::Ignore,
        },
    }
}
