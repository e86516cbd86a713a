//! A round's stored responses in, its published figures out.
//!
//! Input is what the bot's persistence hands over ([`AnswerRecord`]s without identities, the round's
//! [`RoundInfo`] times, and completion counts from the ledger); output is a
//! [`RoundReport`] with every figure gated. The persisted answer values are mapped onto the
//! survey's [`Answer`] type here, so scoring in `survey::scoring` is reused unchanged;
//! answers that no longer fit the survey (an unknown option id after an edit) count as
//! missing rather than failing the export.

use jiff::Timestamp;

use crate::model::{AnswerRecord, AnswerValue, LedgerEntry, RoundInfo, RoundStatus};
use crate::survey::{Answer, Block, BlockKind, Question, QuestionKind, Survey, Text};

use super::describe::{adjusted_wald, summarize};
use super::instruments::{ScoreColumn, complete_mask};
use super::report::{Cell, Completion, ItemKind, ItemReport, Moments, RoundReport};
use super::suppress::{Gated, Policy, Reason};

/// Who was asked and who answered in one round (from the participation ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Participation {
    /// People in the survey's audience when the round ran (pilot-room members).
    pub audience: u64,
    /// Of those, consented and invited to the round.
    pub consented: u64,
    /// Finished the round.
    pub finished: u64,
    /// Answered part of it before it closed.
    pub partial: u64,
}

impl Participation {
    /// Counts the ledger: consented = entries invited to the round (the bot invites only
    /// consented participants), finished / partial by their round status. `audience` comes
    /// from room membership, which the ledger does not know; it is raised to at least
    /// `consented` so the counts stay consistent.
    pub fn from_ledger(
        entries: &[LedgerEntry],
        survey_id: &str,
        round: u32,
        audience: u64,
    ) -> Self {
        let mut p = Participation::default();
        for e in entries {
            if let Some(r) = e.round(survey_id, round) {
                p.consented += 1;
                match r.status {
                    RoundStatus::Finished => p.finished += 1,
                    RoundStatus::Partial => p.partial += 1,
                    RoundStatus::Invited | RoundStatus::Started | RoundStatus::OptedOut => {}
                }
            }
        }
        p.audience = audience.max(p.consented);
        p
    }
}

/// One round's input to [`super::build_report`].
#[derive(Debug, Clone)]
pub struct RoundInput {
    /// Round number.
    pub round: u32,
    /// When it opened.
    pub opened_at: Timestamp,
    /// When it closed, if it did.
    pub closed_at: Option<Timestamp>,
    /// The label of an imported round (its dates are those of the import).
    pub label: Option<String>,
    /// Completion counts.
    pub participation: Participation,
    /// The round's responses (finished and partial), in any order.
    pub responses: Vec<AnswerRecord>,
}

impl RoundInput {
    /// From the persisted round record, the ledger counts and the round's responses.
    pub fn new(
        info: &RoundInfo,
        participation: Participation,
        responses: Vec<AnswerRecord>,
    ) -> Self {
        RoundInput {
            round: info.round,
            opened_at: info.opened_at,
            closed_at: info.closed_at,
            label: info.label.clone(),
            participation,
            responses,
        }
    }
}

/// One respondent's answers in the survey's types.
#[derive(Debug, Clone)]
pub(crate) struct Respondent {
    /// Per question, in survey order (`None`: not answered, or the stored value does not
    /// fit). Indexed rather than keyed by id: the statistics look every answer up several
    /// times, and string-keyed lookups were most of the time of a large export.
    pub(crate) answers: Vec<Option<Answer>>,
    pub(crate) pseudonym: Option<String>,
}

impl Respondent {
    /// The answer to the question at `index` of the survey.
    pub(crate) fn get(&self, index: usize) -> Option<&Answer> {
        self.answers.get(index).and_then(Option::as_ref)
    }
}

/// Question id → position in the survey.
pub(crate) fn question_index(survey: &Survey) -> std::collections::HashMap<&str, usize> {
    survey
        .questions()
        .iter()
        .enumerate()
        .map(|(i, q)| (q.id.as_str(), i))
        .collect()
}

/// Maps a stored value onto the question's answer type; `None` if it does not fit.
fn to_answer(q: &Question, v: AnswerValue) -> Option<Answer> {
    let known = |id: &str| q.options().iter().any(|o| o.id == id);
    match (&q.kind, v) {
        (_, AnswerValue::Skipped) => Some(Answer::Skipped),
        (QuestionKind::Choice { .. }, AnswerValue::Choice(id)) if known(&id) => {
            Some(Answer::Choice(id))
        }
        (QuestionKind::Multi { .. }, AnswerValue::Multi(ids)) => {
            // Option order, no duplicates, only known ids.
            let ids: Vec<String> = q
                .options()
                .iter()
                .filter(|o| ids.contains(&o.id))
                .map(|o| o.id.clone())
                .collect();
            (!ids.is_empty()).then_some(Answer::Multi(ids))
        }
        (QuestionKind::Scale { min, max, .. }, AnswerValue::Number(n)) => u8::try_from(n)
            .ok()
            .filter(|n| (*min..=*max).contains(n))
            .map(Answer::Scale),
        // A scale answered through its poll may have been stored as the option id "7".
        (QuestionKind::Scale { min, max, .. }, AnswerValue::Choice(s)) => s
            .parse::<u8>()
            .ok()
            .filter(|n| (*min..=*max).contains(n))
            .map(Answer::Scale),
        (QuestionKind::Text { .. }, AnswerValue::Text(t)) => Some(Answer::Text(t)),
        _ => None,
    }
}

/// Converts the stored responses, consuming them (their strings move over rather than being
/// copied); answers to unknown items or that do not fit are dropped.
pub(crate) fn respondents(survey: &Survey, records: Vec<AnswerRecord>) -> Vec<Respondent> {
    let index = question_index(survey);
    let questions = survey.questions();
    records
        .into_iter()
        .map(|r| {
            let mut answers: Vec<Option<Answer>> = vec![None; questions.len()];
            for (id, v) in r.answers {
                if let Some(&i) = index.get(id.as_str()) {
                    answers[i] = to_answer(&questions[i], v);
                }
            }
            drop_not_asked(questions, &index, &mut answers);
            Respondent {
                answers,
                pseudonym: r.pseudonym,
            }
        })
        .collect()
}

/// Answers that contradict their condition (`show_if` answered otherwise, e.g. Webex ratings
/// beside "I do not use Webex") count as missing, like the block the chat skipped: the chat
/// never asks them, but an imported file could still carry them. A condition whose item has
/// no answer at all keeps the answers: an import from an older questionnaire without the
/// screening question still counts its ratings.
fn drop_not_asked(
    questions: &[Question],
    index: &std::collections::HashMap<&str, usize>,
    answers: &mut [Option<Answer>],
) {
    for (i, q) in questions.iter().enumerate() {
        let Some(cond) = &q.show_if else { continue };
        let given = index
            .get(cond.item.as_str())
            .and_then(|&t| answers.get(t))
            .and_then(Option::as_ref);
        if given.is_some() && !cond.is_met(given) {
            answers[i] = None;
        }
    }
}

/// Completion counts and rates under the policy (rule 4 of `suppress`).
pub(crate) fn completion(p: &Participation, policy: &Policy) -> Completion {
    let g = policy.completion(p.audience, p.consented, p.finished, p.partial);
    // A rate rests on its denominator: under the group rule the counts of an audience of k
    // are shown, but a share of fewer than k consenting people is withheld all the same.
    let rate = |x: &Gated<u64>, n: &Gated<u64>| match (x.value(), n.value()) {
        (Some(_), Some(n)) if *n < policy.k() => Gated::suppressed(Reason::BelowMinGroupSize),
        (Some(x), Some(n)) => match adjusted_wald(*x, *n) {
            Some(p) => Gated::shown(p),
            None => Gated::suppressed(Reason::BelowMinGroupSize),
        },
        _ => Gated::suppressed(x.reason().or(n.reason()).unwrap_or(Reason::Complementary)),
    };
    Completion {
        consent_rate: rate(&g.consented, &g.audience),
        finish_rate: rate(&g.finished, &g.consented),
        partial_rate: rate(&g.partial, &g.consented),
        audience: g.audience,
        consented: g.consented,
        finished: g.finished,
        partial: g.partial,
    }
}

/// The block each question belongs to.
fn block_of(survey: &Survey, index: usize) -> Option<&Block> {
    survey
        .blocks
        .iter()
        .find(|b| (b.first_question..b.first_question + b.question_count).contains(&index))
}

/// (option id, label, count) of one distribution cell before suppression.
type OptionCount = (String, Text, u64);

/// Figures of one question over the eligible respondents.
fn item(
    qi: usize,
    q: &Question,
    block: Option<&Block>,
    eligible: &[&Respondent],
    policy: &Policy,
) -> ItemReport {
    let k = policy.k();
    let answers: Vec<&Answer> = eligible
        .iter()
        .filter_map(|r| r.get(qi))
        .filter(|a| !matches!(a, Answer::Skipped))
        .collect();
    let n = answers.len() as u64;
    let instrument = match block.map(|b| &b.kind) {
        Some(BlockKind::Instrument { instrument, .. }) => Some(*instrument),
        _ => None,
    };
    let mut out = ItemReport {
        id: q.id.clone(),
        block: block.map_or_else(|| q.id.clone(), |b| b.id.clone()),
        kind: ItemKind::Text,
        text: q.text.clone(),
        instrument,
        n: policy.gate(n, n),
        counts: Vec::new(),
        numeric: None,
        texts: None,
    };
    // (option id, label, count) in display order, and the numeric values if any.
    let (kind, options, numeric): (ItemKind, Vec<OptionCount>, Option<Vec<f64>>) = match &q.kind {
        QuestionKind::Choice { options } => {
            // One pass: each answer's option found once, then its count and value (the
            // export of a million answers spent a third of its time comparing option ids).
            let mut counts = vec![0u64; options.len()];
            let mut values = Vec::with_capacity(answers.len());
            for a in &answers {
                if let Answer::Choice(id) = a
                    && let Some(i) = options.iter().position(|o| o.id == *id)
                {
                    counts[i] += 1;
                    if let Some(v) = options[i].value {
                        values.push(f64::from(v));
                    }
                }
            }
            let cells = options
                .iter()
                .zip(counts)
                .map(|(o, c)| (o.id.clone(), o.label.clone(), c))
                .collect();
            let has_values = options.iter().all(|o| o.value.is_some());
            (ItemKind::Choice, cells, has_values.then_some(values))
        }
        QuestionKind::Multi { options, .. } => {
            let cells = options
                .iter()
                .map(|o| {
                    let c = answers
                        .iter()
                        .filter(|a| matches!(a, Answer::Multi(ids) if ids.contains(&o.id)))
                        .count() as u64;
                    (o.id.clone(), o.label.clone(), c)
                })
                .collect();
            (ItemKind::Multi, cells, None)
        }
        QuestionKind::Scale {
            min,
            max,
            low,
            high,
        } => {
            let cells = (*min..=*max)
                .map(|v| {
                    let c = answers
                        .iter()
                        .filter(|a| matches!(a, Answer::Scale(x) if *x == v))
                        .count() as u64;
                    let label = if v == *min {
                        low.clone()
                    } else if v == *max {
                        high.clone()
                    } else {
                        Text::new(v.to_string(), v.to_string())
                    };
                    (v.to_string(), label, c)
                })
                .collect();
            let values = answers.iter().filter_map(|a| q.numeric_value(a)).collect();
            (ItemKind::Scale, cells, Some(values))
        }
        QuestionKind::Text { .. } => {
            let texts = answers
                .iter()
                .filter_map(|a| match a {
                    Answer::Text(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            out.texts = Some(policy.gate_texts(texts));
            return out;
        }
    };
    out.kind = kind;
    let counts: Vec<u64> = options.iter().map(|(_, _, c)| *c).collect();
    let reasons: Vec<Option<Reason>> = if n < k {
        vec![Some(Reason::BelowMinGroupSize); counts.len()]
    } else {
        match (kind, &numeric) {
            (ItemKind::Multi, _) => counts
                .iter()
                // Each option against "not chosen" is its own row.
                .map(|c| policy.nominal_row(&[*c], n)[0])
                .collect(),
            (_, Some(_)) => policy.distribution_with_mean(&counts),
            (_, None) => policy.nominal_row(&counts, n),
        }
    };
    out.counts = options
        .into_iter()
        .zip(reasons)
        .map(|((option, label, c), r)| Cell {
            option,
            label,
            count: match r {
                Some(r) => Gated::suppressed(r),
                None => Gated::shown(c),
            },
        })
        .collect();
    out.numeric = numeric.map(|values| match summarize(&values) {
        Some(s) => policy.gate(
            n,
            Moments {
                mean: s.mean,
                sd: s.sd,
                median: Some(s.median),
                ci95: s.ci95,
            },
        ),
        None => Gated::suppressed(Reason::BelowMinGroupSize),
    });
    out
}

/// Every question's figures. Items of an instrument block count only respondents who
/// completed the block, the same people as the block's score.
pub(crate) fn items(
    survey: &Survey,
    people: &[Respondent],
    cols: &[ScoreColumn],
    policy: &Policy,
) -> Vec<ItemReport> {
    survey
        .questions()
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let block = block_of(survey, i);
            let eligible: Vec<&Respondent> = match block.map(|b| (&b.kind, &b.id)) {
                Some((BlockKind::Instrument { .. }, id)) => {
                    let mask = complete_mask(cols, id, people.len());
                    people
                        .iter()
                        .zip(mask)
                        .filter(|(_, m)| *m)
                        .map(|(p, _)| p)
                        .collect()
                }
                _ => people.iter().collect(),
            };
            item(i, q, block, &eligible, policy)
        })
        .collect()
}

/// Assembles a round without its comparisons (added by the caller, who also needs the
/// score columns for trends).
pub(crate) fn round_report(
    input: &RoundInput,
    survey: &Survey,
    people: &[Respondent],
    cols: &[ScoreColumn],
    policy: &Policy,
) -> RoundReport {
    RoundReport {
        round: input.round,
        label: input.label.clone(),
        opened_at: input.opened_at,
        closed_at: input.closed_at,
        completion: completion(&input.participation, policy),
        items: items(survey, people, cols, policy),
        instruments: cols
            .iter()
            .map(|c| super::instruments::describe_column(c, policy))
            .collect(),
        comparisons: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::fixture::{generated_at, round, sus_answers};
    use super::super::{Policy, build_report};
    use crate::model::{AnswerRecord, AnswerValue};
    use crate::survey::{SurveyDefaults, parse_str};

    /// SUS about both systems, the Webex block behind "Do you use Webex?".
    const SCREENED: &str = r#"
id = "screened"
title = { de = "T", en = "T" }
intro = { de = "I", en = "I" }
[[blocks]]
type = "sus"
id = "sus_bm"
subject = "BundesMessenger"
[[blocks]]
type = "single"
id = "uses_webex"
text = { de = "Nutzen Sie Webex bei der Arbeit?", en = "Do you use Webex at work?" }
options = [ { id = "yes", de = "Ja", en = "Yes" }, { id = "no", de = "Nein", en = "No" } ]
[[blocks]]
type = "sus"
id = "sus_webex"
subject = "Webex"
show_if = { item = "uses_webex", values = ["yes"] }
"#;

    fn record(bm: f64, uses: Option<&str>, webex: Option<f64>) -> AnswerRecord {
        let mut a = BTreeMap::new();
        sus_answers("sus_bm", bm, &mut a);
        if let Some(u) = uses {
            a.insert("uses_webex".into(), AnswerValue::Choice(u.into()));
        }
        if let Some(w) = webex {
            sus_answers("sus_webex", w, &mut a);
        }
        AnswerRecord {
            survey_id: "screened".into(),
            round: 1,
            complete: true,
            answers: a,
            pseudonym: None,
        }
    }

    #[test]
    fn a_skipped_block_is_missing_not_a_low_rating() {
        let survey =
            parse_str("screened.toml", SCREENED, &SurveyDefaults::default()).expect("valid survey");
        let mut input = round(1, 0, 0, 20);
        input.responses = vec![
            // Five rated Webex: 50, 60, 70, 80, 90 → mean 70.
            record(80.0, Some("yes"), Some(50.0)),
            record(80.0, Some("yes"), Some(60.0)),
            record(80.0, Some("yes"), Some(70.0)),
            record(80.0, Some("yes"), Some(80.0)),
            record(80.0, Some("yes"), Some(90.0)),
            // Two never use Webex: the chat skipped the block, nothing is stored.
            record(80.0, Some("no"), None),
            record(80.0, Some("no"), None),
            // An imported row that says "no" and still carries ratings: they contradict
            // the screening and count as missing.
            record(80.0, Some("no"), Some(0.0)),
            // An import from a questionnaire without the screening question keeps them.
            record(80.0, None, Some(70.0)),
        ];
        let report =
            build_report(&survey, vec![input], Policy::new(5), generated_at()).expect("report");
        let r = &report.rounds[0];
        let sus = |block: &str| {
            r.instruments
                .iter()
                .find(|i| i.key.block == block)
                .unwrap_or_else(|| panic!("no {block}"))
        };
        assert_eq!(sus("sus_bm").n.value(), Some(&9));
        assert_eq!(sus("sus_webex").n.value(), Some(&6));
        let m = sus("sus_webex").score.value().expect("published");
        assert!((m.mean - 70.0).abs() < 1e-9, "{}", m.mean);
        // The items count the same six people; the screening item all nine.
        let item = |id: &str| r.items.iter().find(|i| i.id == id).expect("item");
        assert_eq!(item("sus_webex.1").n.value(), Some(&6));
        assert_eq!(item("uses_webex").n.value(), Some(&8));
    }
}
