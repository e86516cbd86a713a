//! Statistics over survey rounds: from stored responses to a [`Report`] of published
//! figures, with the minimum group size applied (issue 6).
//!
//! Pure: no disk, no network, no clock, no logging of answers. The caller (CLI `export`,
//! the admin `!pulse report` command, the post-round summary) reads the round records,
//! responses and ledger counts from the bot, calls [`build_report`], and hands the report to
//! `export`. The report only exists after suppression, so every consumer gets the same
//! protection (see [`suppress`] for the rules).
//!
//! # Layout
//! - [`describe`]: n, mean, SD, median, t-interval; adjusted-Wald proportions and NPS.
//! - [`compare`]: paired t and Welch differences.
//! - [`suppress`]: the minimum-group-size rules and the [`Gated`] wrapper.
//! - `instruments`: instrument scores over a round, grades and bands.
//! - `dataset`: a round's responses in, a [`RoundReport`] out.
//! - [`report`]: the published model every exporter renders.

#![warn(missing_docs)]

pub mod compare;
mod dataset;
pub mod describe;
mod figures;
pub(crate) mod instruments;
pub mod report;
pub mod suppress;

// The fixed data set of the snapshot tests, public (hidden) so that the integration tests
// can render the same report in a browser.
#[doc(hidden)]
pub mod fixture;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use jiff::Timestamp;
use thiserror::Error;

use crate::survey::Survey;

pub use dataset::{Participation, RoundInput};
pub use report::{
    Cell, Comparison, ComparisonKind, Completion, Figure, InstrumentReport, ItemKind, ItemReport,
    Moments, NpsCategories, Reading, Report, RoundReport, SCHEMA_VERSION, ScoreKey, UeqScale,
    Value,
};
pub use suppress::{Distributions, Gated, Policy, Reason};

use compare::{Difference, paired, welch};
use instruments::ScoreColumn;

/// Why a report could not be built. The caller passed inconsistent input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatsError {
    /// A response belongs to another survey or round than the one it was passed with.
    #[error(
        "a response of survey `{found_survey}` round {found_round} was passed as round {round} of `{survey}`"
    )]
    ForeignResponse {
        /// The survey being reported.
        survey: String,
        /// The round it was passed with.
        round: u32,
        /// The response's survey.
        found_survey: String,
        /// The response's round.
        found_round: u32,
    },
    /// The same round was passed twice.
    #[error("round {0} was passed twice")]
    DuplicateRound(u32),
}

/// Builds the published figures of `rounds` of `survey` under `policy`. Rounds are sorted;
/// trends compare each round with the previous one in the report.
pub fn build_report(
    survey: &Survey,
    mut rounds: Vec<RoundInput>,
    policy: Policy,
    generated_at: Timestamp,
) -> Result<Report, StatsError> {
    rounds.sort_by_key(|r| r.round);
    let mut seen = BTreeSet::new();
    for r in &rounds {
        if !seen.insert(r.round) {
            return Err(StatsError::DuplicateRound(r.round));
        }
        if let Some(bad) = r
            .responses
            .iter()
            .find(|a| a.survey_id != survey.id || a.round != r.round)
        {
            return Err(StatsError::ForeignResponse {
                survey: survey.id.clone(),
                round: r.round,
                found_survey: bad.survey_id.clone(),
                found_round: bad.round,
            });
        }
    }
    // No answer-derived figure of an open round leaves the bot (issue 15): an export after
    // each new finisher would otherwise reveal that person's answers by subtraction. Open
    // rounds show participation only; their figures come once, after the close, and never
    // change again (late answers are refused).
    for r in rounds
        .iter_mut()
        .filter(|r| r.closed_at.is_none() && r.label.is_none())
    {
        r.responses.clear();
    }
    let computed = per_round(survey, &mut rounds, &policy);
    let mut out: Vec<RoundReport> = Vec::with_capacity(computed.len());
    let mut trends = Vec::new();
    // The previous round's columns and respondents' pseudonyms, for trends.
    let mut prev: Option<(u32, Vec<ScoreColumn>, Vec<Option<String>>)> = None;
    for (input, (cols, pseudonyms, rr)) in rounds.iter().zip(computed) {
        if let Some((pr, pcols, ppseud)) = &prev {
            let prev_report: &RoundReport = out.last().unwrap_or(&rr);
            trends.extend(round_trends(
                (*pr, pcols, ppseud, prev_report),
                (input.round, &cols, &pseudonyms, &rr),
                &policy,
            ));
        }
        prev = Some((input.round, cols, pseudonyms));
        out.push(rr);
    }
    Ok(Report {
        survey: survey.id.clone(),
        title: survey.title.clone(),
        generated_at,
        policy,
        rounds: out,
        trends,
    })
}

/// One round's score columns, pseudonyms and report (with its subject comparisons).
type RoundStats = (Vec<ScoreColumn>, Vec<Option<String>>, RoundReport);

/// The statistics of one round; consumes the round's responses.
fn round_stats(
    survey: &Survey,
    input: &RoundInput,
    responses: Vec<crate::model::AnswerRecord>,
    policy: &Policy,
) -> RoundStats {
    let people = dataset::respondents(survey, responses);
    // Borrowed, not cloned: a round of the pilot holds ~250,000 answers.
    let cols = instruments::score_columns(
        survey,
        &people
            .iter()
            .map(|p| p.answers.as_slice())
            .collect::<Vec<_>>(),
    );
    let mut rr = dataset::round_report(input, survey, &people, &cols, policy);
    rr.comparisons = subject_comparisons(input.round, &cols, &rr, policy);
    let pseudonyms = people.into_iter().map(|p| p.pseudonym).collect();
    (cols, pseudonyms, rr)
}

/// Every round's statistics, in round order. Rounds are independent until the trends, so
/// they are computed on up to one thread per core (the export of a million answers spends
/// most of its time here); each round's responses are moved into its computation.
fn per_round(survey: &Survey, rounds: &mut [RoundInput], policy: &Policy) -> Vec<RoundStats> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let work: Vec<Mutex<Vec<crate::model::AnswerRecord>>> = rounds
        .iter_mut()
        .map(|r| Mutex::new(std::mem::take(&mut r.responses)))
        .collect();
    let rounds: &[RoundInput] = rounds;
    let results: Vec<Mutex<Option<RoundStats>>> = rounds.iter().map(|_| Mutex::new(None)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rounds.len());
    let next = AtomicUsize::new(0);
    let run = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = rounds.get(i) else { break };
            // A poisoned lock only means another round's computation panicked; the panic
            // is re-raised when the scope joins.
            let responses = std::mem::take(&mut *work[i].lock().unwrap_or_else(|p| p.into_inner()));
            let r = round_stats(survey, input, responses, policy);
            *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        }
    };
    if threads <= 1 {
        run();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(run);
            }
        });
    }
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                // Every index below rounds.len() was taken by exactly one worker, and a
                // worker that panicked re-raised its panic when the scope ended.
                .expect("every round computed")
        })
        .collect()
}

/// Why the instrument figure for `key` is withheld in `round` (`None`: published). A figure
/// the round does not report at all counts as below k.
fn withheld(round: &RoundReport, key: &report::ScoreKey) -> Option<Reason> {
    match round.instruments.iter().find(|i| &i.key == key) {
        Some(i) => i.score.reason(),
        None => Some(Reason::BelowMinGroupSize),
    }
}

/// Rule 5: a difference is shown when both sides are, and otherwise withheld for the reason
/// its first withheld side has (usually fewer than k answers), so the report names the real
/// cause rather than "subtraction".
fn gate_difference(d: Difference, a: Option<Reason>, b: Option<Reason>) -> Gated<Difference> {
    match a.or(b) {
        None => Gated::shown(d),
        Some(r) => Gated::suppressed(r),
    }
}

/// The choice of test: paired on the respondents present on both sides when there are at
/// least max(k, 2) of them, Welch on everybody otherwise.
///
/// A paired difference rests on the pairs only, while each side's published mean rests on
/// all its respondents: the difference of the two reveals the sum of the scores of those
/// who rated only one side. So pairing is used only when that group is empty or at least
/// k people on each side; otherwise Welch on everybody, which uses the published means.
fn difference(
    a: &[Option<f64>],
    b: &[Option<f64>],
    pairs: &[(f64, f64)],
    policy: &Policy,
) -> Option<Difference> {
    let k = policy.k();
    let np = pairs.len() as u64;
    let unpaired_ok = |side: &[Option<f64>]| {
        let only = side.iter().flatten().count() as u64 - np;
        only == 0 || only >= k
    };
    if np >= k.max(2)
        && unpaired_ok(a)
        && unpaired_ok(b)
        && let Some(d) = paired(pairs)
    {
        return Some(d);
    }
    let a: Vec<f64> = a.iter().flatten().copied().collect();
    let b: Vec<f64> = b.iter().flatten().copied().collect();
    welch(&a, &b)
}

/// Differences between blocks of the same instrument (and scale and task) about different
/// subjects in one round. Omitted when not computable (fewer than two values, or no
/// variance on either side); suppressed when either side is.
fn subject_comparisons(
    round: u32,
    cols: &[ScoreColumn],
    rr: &RoundReport,
    policy: &Policy,
) -> Vec<Comparison> {
    let mut out = Vec::new();
    for (i, a) in cols.iter().enumerate() {
        for b in &cols[i + 1..] {
            let same = a.key.instrument == b.key.instrument
                && a.key.scale == b.key.scale
                && a.key.task == b.key.task
                && a.key.subject != b.key.subject;
            if !same {
                continue;
            }
            // The same respondent index is the same person within a round.
            let pairs: Vec<(f64, f64)> = a
                .values
                .iter()
                .zip(&b.values)
                .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
                .collect();
            let Some(d) = difference(&a.values, &b.values, &pairs, policy) else {
                continue;
            };
            let result = gate_difference(d, withheld(rr, &a.key), withheld(rr, &b.key));
            out.push(Comparison {
                kind: ComparisonKind::Subjects,
                a: a.key.clone(),
                b: b.key.clone(),
                round_a: round,
                round_b: round,
                result,
            });
        }
    }
    out
}

type RoundSide<'a> = (
    u32,
    &'a [ScoreColumn],
    &'a [Option<String>],
    &'a RoundReport,
);

/// Each score of `cur` against the same block and scale in `prev` (a = current, b =
/// previous). Pseudonymous rounds pair respondents by pseudonym.
fn round_trends(prev: RoundSide<'_>, cur: RoundSide<'_>, policy: &Policy) -> Vec<Comparison> {
    let (pr, pcols, ppseud, prr) = prev;
    let (cr, ccols, cpseud, crr) = cur;
    let mut out = Vec::new();
    for c in ccols {
        let Some(p) = pcols
            .iter()
            .find(|p| p.key.block == c.key.block && p.key.scale == c.key.scale)
        else {
            continue;
        };
        let mut pairs = Vec::new();
        for (ci, cv) in c.values.iter().enumerate() {
            let (Some(cv), Some(Some(ps))) = (cv, cpseud.get(ci)) else {
                continue;
            };
            if let Some(pi) = ppseud
                .iter()
                .position(|x| x.as_deref() == Some(ps.as_str()))
                && let Some(Some(pv)) = p.values.get(pi)
            {
                pairs.push((*cv, *pv));
            }
        }
        let Some(d) = difference(&c.values, &p.values, &pairs, policy) else {
            continue;
        };
        let result = gate_difference(d, withheld(crr, &c.key), withheld(prr, &p.key));
        out.push(Comparison {
            kind: ComparisonKind::Rounds,
            a: c.key.clone(),
            b: p.key.clone(),
            round_a: cr,
            round_b: pr,
            result,
        });
    }
    out
}
