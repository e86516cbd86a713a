//! Whole-report tests: hand-computed rounds through `build_report`, suppression end to end,
//! and the property that no published figure rests on fewer than k people.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::fixture::{self, sus_answers};
use super::suppress::derivable_small_group;
use super::*;
use crate::model::{AnswerRecord, AnswerValue, LedgerEntry, RoundStatus};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// A round whose respondents rated both systems with the given SUS scores (`None`: skipped
/// the block).
fn sus_round(round: u32, bm: &[f64], webex: &[Option<f64>], pseud: bool) -> RoundInput {
    let mut input = fixture::round(round, 0, 0, 40);
    input.responses = bm
        .iter()
        .zip(webex)
        .enumerate()
        .map(|(i, (b, w))| {
            let mut a = BTreeMap::new();
            sus_answers("sus_bm", *b, &mut a);
            if let Some(w) = w {
                sus_answers("sus_webex", *w, &mut a);
            }
            AnswerRecord {
                survey_id: "fixture".into(),
                round,
                complete: true,
                answers: a,
                pseudonym: pseud.then(|| format!("p{i}")),
            }
        })
        .collect();
    input.participation = Participation {
        audience: 40,
        consented: 30,
        finished: bm.len() as u64,
        partial: 0,
    };
    input
}

fn instrument<'a>(r: &'a RoundReport, block: &str) -> &'a InstrumentReport {
    r.instruments
        .iter()
        .find(|i| i.key.block == block && i.key.scale.is_none())
        .unwrap_or_else(|| panic!("no instrument {block}"))
}

#[test]
fn sus_helper_builds_the_intended_scores() {
    let s = fixture::survey();
    for score in [0.0, 50.0, 62.5, 70.0, 85.0, 100.0] {
        let mut a = BTreeMap::new();
        sus_answers("sus_bm", score, &mut a);
        let rec = AnswerRecord {
            survey_id: "fixture".into(),
            round: 1,
            complete: true,
            answers: a,
            pseudonym: None,
        };
        let people = dataset::respondents(&s, vec![rec]);
        let cols = instruments::score_columns(&s, &[people[0].answers.as_slice()]);
        assert_eq!(cols[0].values, vec![Some(score)], "{score}");
    }
}

#[test]
fn sus_paired_comparison_hand_computed() {
    // BM 80 75 90 60 85: mean 78, s = 11.510864, t(.975,4) = 2.776445,
    // CI 78 ± 14.292626 = [63.707374, 92.292626]; grade B+ (77.2–78.8), acceptable (> 70).
    // Webex 70 70 75 62.5 70: mean 69.5 → grade C (65.0–71.0), marginal (50–70).
    // Paired differences 10 5 15 −2.5 15 → 8.5, [−0.708427, 17.708427] (compare::tests).
    let input = sus_round(
        1,
        &[80.0, 75.0, 90.0, 60.0, 85.0],
        &[Some(70.0), Some(70.0), Some(75.0), Some(62.5), Some(70.0)],
        false,
    );
    let r = build_report(
        &fixture::survey(),
        vec![input],
        Policy::new(5),
        fixture::generated_at(),
    )
    .expect("consistent input");
    let round = &r.rounds[0];
    let bm = instrument(round, "sus_bm");
    let m = bm.score.value().copied().expect("published");
    assert_eq!(bm.n.value(), Some(&5));
    assert!(close(m.mean, 78.0, 1e-12));
    assert!(close(m.sd.unwrap_or(0.0), 11.510864, 1e-6));
    let ci = m.ci95.expect("ci");
    assert!(
        close(ci.low, 63.707374, 1e-5) && close(ci.high, 92.292626, 1e-5),
        "{ci:?}"
    );
    assert_eq!(
        bm.reading.value(),
        Some(&Reading::Sus {
            grade: crate::survey::scoring::SusGrade::BPlus,
            acceptability: crate::survey::scoring::Acceptability::Acceptable,
        })
    );
    let wx = instrument(round, "sus_webex");
    assert!(close(wx.score.value().map_or(0.0, |m| m.mean), 69.5, 1e-12));
    let cmp = &round.comparisons[0];
    assert_eq!(
        (cmp.a.subject.as_str(), cmp.b.subject.as_str()),
        ("BundesMessenger", "Webex")
    );
    let d = cmp.result.value().copied().expect("published");
    assert_eq!(d.method, compare::Method::Paired);
    assert!(close(d.diff, 8.5, 1e-12));
    assert!(close(d.ci95.low, -0.708427, 1e-5) && close(d.ci95.high, 17.708427, 1e-5));
    // SUS item 1 over the 5 complete blocks: contributions c1 = ⌈score/25⌉-ish — the figure
    // rests on the same 5 people as the score.
    let item1 = round
        .items
        .iter()
        .find(|i| i.id == "sus_bm.1")
        .expect("item");
    assert_eq!(item1.n.value(), Some(&5));
}

#[test]
fn pairing_is_dropped_when_a_few_rated_only_one_side() {
    // Six rated BM, five of them Webex too: the paired mean over five next to the published
    // BM mean over six would reveal the sixth person's score, so Welch over everybody.
    let input = sus_round(
        1,
        &[80.0, 75.0, 90.0, 60.0, 85.0, 70.0],
        &[
            Some(70.0),
            Some(70.0),
            Some(75.0),
            Some(62.5),
            Some(70.0),
            None,
        ],
        false,
    );
    let r = build_report(
        &fixture::survey(),
        vec![input],
        Policy::new(5),
        fixture::generated_at(),
    )
    .expect("consistent input");
    let d = r.rounds[0].comparisons[0]
        .result
        .value()
        .copied()
        .expect("published");
    assert_eq!(d.method, compare::Method::Welch);
    assert_eq!((d.n_a, d.n_b), (6, 5));
    // BM mean (80+75+90+60+85+70)/6 = 76.6667; Webex 69.5 → 7.1667.
    assert!(close(d.diff, 460.0 / 6.0 - 69.5, 1e-9));
}

#[test]
fn one_side_below_k_suppresses_the_comparison() {
    // Webex rated by 4 of 5: its score is suppressed (n < 5), and so is the difference,
    // which next to the published BM mean would reveal the Webex mean.
    let input = sus_round(
        1,
        &[80.0, 75.0, 90.0, 60.0, 85.0],
        &[Some(70.0), Some(70.0), Some(75.0), Some(62.5), None],
        false,
    );
    let r = build_report(
        &fixture::survey(),
        vec![input],
        Policy::new(5),
        fixture::generated_at(),
    )
    .expect("consistent input");
    let round = &r.rounds[0];
    assert!(!instrument(round, "sus_bm").score.is_suppressed());
    assert_eq!(
        instrument(round, "sus_webex").score.reason(),
        Some(Reason::BelowMinGroupSize)
    );
    assert_eq!(round.comparisons.len(), 1);
    // Withheld for the reason of its withheld side: fewer than k answers, not "subtraction".
    assert_eq!(
        round.comparisons[0].result.reason(),
        Some(Reason::BelowMinGroupSize)
    );
}

/// `[privacy] distributions` end to end, with groups just below, at and above k = 5: an
/// item's distribution is shown whole under the group rule once n ≥ k, while the cell rule
/// withholds it for its cells of 1..4 people; below k both withhold it as fewer than k
/// answers. The score (mean, n) and participation follow k the same way under both rules,
/// except that the cell rule also holds participation counts to rule 4.
#[test]
fn distribution_rules_on_groups_just_above_and_below_k() {
    let scores = [80.0, 75.0, 90.0, 60.0, 85.0, 70.0];
    for n in [4usize, 5, 6] {
        for rule in [Distributions::Group, Distributions::Cell] {
            let input = sus_round(1, &scores[..n], &vec![None; n], false);
            let policy = Policy::new(5).with_distributions(rule);
            let r = build_report(
                &fixture::survey(),
                vec![input],
                policy,
                fixture::generated_at(),
            )
            .expect("consistent input");
            let round = &r.rounds[0];
            let item = round
                .items
                .iter()
                .find(|i| i.id == "sus_bm.1")
                .expect("item sus_bm.1");
            let reasons: Vec<Option<Reason>> =
                item.counts.iter().map(|c| c.count.reason()).collect();
            let label = format!("n = {n}, {rule:?}");
            match (n >= 5, rule) {
                (false, _) => {
                    assert!(
                        reasons
                            .iter()
                            .all(|r| *r == Some(Reason::BelowMinGroupSize)),
                        "{label}: {reasons:?}"
                    );
                    assert_eq!(item.n.reason(), Some(Reason::BelowMinGroupSize), "{label}");
                }
                (true, Distributions::Group) => {
                    assert!(reasons.iter().all(Option::is_none), "{label}: {reasons:?}");
                    let shown: u64 = item.counts.iter().filter_map(|c| c.count.value()).sum();
                    assert_eq!(shown, n as u64, "{label}: a group is shown whole");
                }
                (true, Distributions::Cell) => {
                    // Five or six people over five options: some cell has 1..4 people.
                    assert!(
                        reasons.contains(&Some(Reason::SmallCell)),
                        "{label}: {reasons:?}"
                    );
                    assert!(
                        reasons.iter().all(Option::is_some),
                        "{label}: all or nothing"
                    );
                }
            }
            let sus = instrument(round, "sus_bm");
            assert_eq!(
                sus.score.is_suppressed(),
                n < 5,
                "{label}: the score follows k"
            );
            // The audience of 40 is ≥ k: the group rule shows every participation count.
            if rule == Distributions::Group {
                let c = &round.completion;
                assert_eq!(
                    (c.audience.value(), c.consented.value(), c.finished.value()),
                    (Some(&40), Some(&30), Some(&(n as u64))),
                    "{label}"
                );
            }
        }
    }
}

/// Issue 16: a trend to a round of fewer than k responses names that reason (the report
/// said "would reveal a small group by subtraction").
#[test]
fn a_trend_to_a_small_round_names_fewer_than_k_answers() {
    let r = fixture::report(false).expect("fixture report");
    let t = r
        .trends
        .iter()
        .find(|t| t.a.block == "sus_bm" && t.round_a == 3)
        .expect("trend round 3 vs round 2");
    assert_eq!(t.result.reason(), Some(Reason::BelowMinGroupSize));
    let t = r
        .trends
        .iter()
        .find(|t| t.a.block == "sus_bm" && t.round_a == 2)
        .expect("trend round 2 vs round 1");
    assert!(t.result.value().is_some(), "both rounds have ≥ k answers");
}

#[test]
fn trend_between_rounds_welch_and_paired_by_pseudonym() {
    // Round 1 BM 80 85 90 75 70, round 2 BM 60 65 70 55 (k = 4): Welch, a = round 2:
    // −17.5, [−28.826101, −6.173899] (compare::tests::welch_hand_computed, sides swapped).
    let s = fixture::survey();
    let r1 = sus_round(1, &[80.0, 85.0, 90.0, 75.0, 70.0], &[None; 5], false);
    let r2 = sus_round(2, &[60.0, 65.0, 70.0, 55.0], &[None; 4], false);
    let r = build_report(&s, vec![r2, r1], Policy::new(4), fixture::generated_at())
        .expect("consistent input");
    assert_eq!(
        r.rounds.iter().map(|r| r.round).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let t = r
        .trends
        .iter()
        .find(|t| t.a.block == "sus_bm")
        .expect("trend");
    assert_eq!((t.round_a, t.round_b), (2, 1));
    let d = t.result.value().copied().expect("published");
    assert_eq!(d.method, compare::Method::Welch);
    assert!(close(d.diff, -17.5, 1e-12));
    assert!(close(d.ci95.low, -28.826101, 1e-4) && close(d.ci95.high, -6.173899, 1e-4));
    // Pseudonymous rounds with the same five people: paired on the pseudonyms.
    // Round 2 − round 1 per person: (70−80, 75−75, 75−90, 62.5−60, 70−85) = −10 0 −15 2.5 −15
    // → mean −37.5/5 = −7.5.
    let r1 = sus_round(1, &[80.0, 75.0, 90.0, 60.0, 85.0], &[None; 5], true);
    let r2 = sus_round(2, &[70.0, 75.0, 75.0, 62.5, 70.0], &[None; 5], true);
    let r = build_report(&s, vec![r1, r2], Policy::new(5), fixture::generated_at())
        .expect("consistent input");
    let d = r.trends[0].result.value().copied().expect("published");
    assert_eq!(d.method, compare::Method::Paired);
    assert!(close(d.diff, -7.5, 1e-12));
}

#[test]
fn whole_round_below_k_is_suppressed_everywhere() {
    let r = build_report(
        &fixture::survey(),
        vec![fixture::round(1, 3, 0, 40)],
        Policy::new(5).with_text(true),
        fixture::generated_at(),
    )
    .expect("consistent input");
    for f in r.figures() {
        if f.section == "completion" {
            continue; // audience 40 and consented 6 are ≥ k; checked by the property test
        }
        assert!(f.value.is_err(), "{f:?} should be suppressed");
    }
}

#[test]
fn inconsistent_input_is_an_error() {
    let s = fixture::survey();
    let mut r = fixture::round(1, 5, 0, 40);
    r.responses[0].round = 2;
    assert!(matches!(
        build_report(&s, vec![r], Policy::new(5), fixture::generated_at()),
        Err(StatsError::ForeignResponse { found_round: 2, .. })
    ));
    let dup = vec![fixture::round(1, 5, 0, 40), fixture::round(1, 5, 0, 40)];
    assert_eq!(
        build_report(&s, dup, Policy::new(5), fixture::generated_at()).err(),
        Some(StatsError::DuplicateRound(1))
    );
}

#[test]
fn answers_that_do_not_fit_count_as_missing() {
    let s = fixture::survey();
    let mut a = BTreeMap::new();
    a.insert("usage".to_owned(), AnswerValue::Choice("gone".into())); // unknown option
    a.insert("overall".to_owned(), AnswerValue::Choice("7".into())); // scale stored as poll id
    a.insert("nps_bm.1".to_owned(), AnswerValue::Number(11)); // out of range
    a.insert("nope".to_owned(), AnswerValue::Number(1)); // unknown item
    let rec = AnswerRecord {
        survey_id: "fixture".into(),
        round: 1,
        complete: true,
        answers: a,
        pseudonym: None,
    };
    let p = dataset::respondents(&s, vec![rec]);
    assert_eq!(p[0].answers.iter().flatten().count(), 1);
    let overall = s.questions().iter().position(|q| q.id == "overall");
    assert_eq!(
        overall.and_then(|i| p[0].get(i)),
        Some(&crate::survey::Answer::Scale(7))
    );
}

#[test]
fn participation_from_ledger() {
    let mut entries = Vec::new();
    for (i, status) in [
        RoundStatus::Finished,
        RoundStatus::Finished,
        RoundStatus::Partial,
        RoundStatus::Invited,
        RoundStatus::OptedOut,
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = LedgerEntry::new(&format!("@u{i}:x"));
        e.round_mut("fixture", 1).status = status;
        entries.push(e);
    }
    entries.push(LedgerEntry::new("@never:x")); // not invited to the round
    let p = Participation::from_ledger(&entries, "fixture", 1, 3);
    assert_eq!(
        p,
        Participation {
            audience: 5, // raised to the consented count
            consented: 5,
            finished: 2,
            partial: 1
        }
    );
}

/// Respondent answers from proptest: every item answered with an index (mod the options),
/// or skipped (`None`).
fn arb_round() -> impl Strategy<Value = (u32, Vec<Vec<Option<u8>>>, [u64; 4])> {
    let person = proptest::collection::vec(proptest::option::weighted(0.9, 0u8..11), 40);
    (
        2u32..9,
        proptest::collection::vec(person, 0..30),
        [0u64..60, 0u64..60, 0u64..60, 0u64..60],
    )
}

fn record(s: &crate::survey::Survey, answers: &[Option<u8>]) -> AnswerRecord {
    let mut a = BTreeMap::new();
    for (q, v) in s.questions().iter().zip(answers) {
        let Some(v) = v else { continue };
        let value = match &q.kind {
            crate::survey::QuestionKind::Choice { options } => {
                AnswerValue::Choice(options[usize::from(*v) % options.len()].id.clone())
            }
            crate::survey::QuestionKind::Multi { options, .. } => AnswerValue::Multi(
                options
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (v >> i) & 1 == 1)
                    .map(|(_, o)| o.id.clone())
                    .collect(),
            ),
            crate::survey::QuestionKind::Scale { .. } => AnswerValue::Number(i64::from(*v)),
            crate::survey::QuestionKind::Text { .. } => AnswerValue::Text(format!("t{v}")),
        };
        a.insert(q.id.clone(), value);
    }
    AnswerRecord {
        survey_id: "fixture".into(),
        round: 1,
        complete: true,
        answers: a,
        pseudonym: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// No published figure rests on 1..k−1 people, and no small group can be derived from an
    /// item's published n, cells and mean by adding and subtracting.
    #[test]
    fn nothing_below_k_escapes(
        (k, people, counts) in arb_round(),
        include_text in any::<bool>(),
    ) {
        let s = fixture::survey();
        let mut input = fixture::round(1, 0, 0, 0);
        input.responses = people.iter().map(|p| record(&s, p)).collect();
        let [a, c, f, p] = counts;
        input.participation = Participation { audience: a + c + f + p, consented: c + f + p, finished: f, partial: p };
        // The cell rule: no cell of 1..k−1 people, published or derivable.
        let policy = Policy::new(k).with_text(include_text).with_distributions(Distributions::Cell);
        let r = build_report(&s, vec![input], policy, fixture::generated_at())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let k = u64::from(k);
        for fig in r.figures() {
            if let (Ok(_), Some(b)) = (&fig.value, fig.basis) {
                let zero_count = b == 0 && matches!(fig.name, "count" | "partial" | "finished" | "consented" | "promoters" | "passives" | "detractors");
                prop_assert!(b >= k || zero_count, "{fig:?} published with basis {b} < k = {k}");
            }
        }
        let recs: Vec<AnswerRecord> = people.iter().map(|p| record(&s, p)).collect();
        for item in &r.rounds[0].items {
            let Some(n) = item.n.value() else { continue };
            let cells: Vec<u64> = item.counts.iter().map(|c| c.count.value().copied().unwrap_or(0)).collect();
            if item.kind == ItemKind::Multi || item.counts.is_empty() {
                continue; // multi rows are checked per option below
            }
            // Recompute the true cells to audit what a reader could derive. Instrument items
            // count only respondents who answered the whole block.
            let block_ids: Vec<&str> = r.rounds[0].items.iter()
                .filter(|i| i.block == item.block)
                .map(|i| i.id.as_str())
                .collect();
            let eligible: Vec<AnswerRecord> = recs.iter()
                .filter(|rec| item.instrument.is_none() || block_ids.iter().all(|id| rec.answers.contains_key(*id)))
                .cloned()
                .collect();
            let truth: Vec<u64> = item.counts.iter().map(|c| {
                let id = &c.option;
                eligible.iter().filter(|rec| match rec.answers.get(&item.id) {
                    Some(AnswerValue::Choice(x)) => x == id,
                    Some(AnswerValue::Number(x)) => &x.to_string() == id,
                    _ => false,
                }).count() as u64
            }).collect();
            let m = truth.len();
            let mut rows = vec![vec![1.0; m]];
            if item.numeric.as_ref().is_some_and(|g| !g.is_suppressed()) {
                // n·mean = Σ value·count; the option values are their positions for these items.
                let weights: Vec<f64> = item.counts.iter().enumerate().map(|(i, c)| c.option.parse::<f64>().unwrap_or(i as f64)).collect();
                rows.push(weights.clone());
                rows.push(weights.iter().map(|w| w * w).collect()); // SD gives Σ value²·count
            }
            for (i, c) in item.counts.iter().enumerate() {
                if c.count.value().is_some() {
                    let mut e = vec![0.0; m];
                    e[i] = 1.0;
                    rows.push(e);
                }
            }
            prop_assert_eq!(truth.iter().sum::<u64>(), *n);
            prop_assert!(cells.iter().zip(&truth).all(|(c, t)| *c == 0 || c == t));
            prop_assert_eq!(derivable_small_group(&truth, &rows, k), None, "item {}", item.id);
        }
        // Completion: the published counts never let a small group be derived.
        let comp = &r.rounds[0].completion;
        {
            let atoms = [a, f, p, c];
            let mut rows = Vec::new();
            if let Some(aud) = comp.audience.value() {
                prop_assert_eq!(*aud, a + c + f + p);
                rows.push(vec![1.0; 4]);
            }
            // finished + partial: every item's n reveals it once it reaches k.
            if f + p >= k { rows.push(vec![0.0, 1.0, 1.0, 0.0]); }
            if comp.consented.value().is_some() { rows.push(vec![0.0, 1.0, 1.0, 1.0]); }
            if comp.finished.value().is_some() { rows.push(vec![0.0, 1.0, 0.0, 0.0]); }
            if comp.partial.value().is_some() { rows.push(vec![0.0, 0.0, 1.0, 0.0]); }
            prop_assert_eq!(derivable_small_group(&atoms, &rows, k), None);
        }
    }
}

proptest! {
    /// The group rule (`[privacy] distributions = "group"`, the default): a distribution is
    /// published only when its group has at least k people (an item's n, an NPS block's n,
    /// a round's audience), and every other figure still rests on at least k people.
    #[test]
    fn the_group_rule_shows_distributions_only_of_groups_of_k(
        (k, people, counts) in arb_round(),
    ) {
        let s = fixture::survey();
        let mut input = fixture::round(1, 0, 0, 0);
        input.responses = people.iter().map(|p| record(&s, p)).collect();
        let [a, c, f, p] = counts;
        input.participation = Participation { audience: a + c + f + p, consented: c + f + p, finished: f, partial: p };
        let r = build_report(&s, vec![input], Policy::new(k), fixture::generated_at())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let k = u64::from(k);
        let round = &r.rounds[0];
        for item in &round.items {
            let published = item.counts.iter().any(|c| c.count.value().is_some());
            if published {
                prop_assert!(item.n.value().is_some_and(|n| *n >= k), "item {} counts with n < k", item.id);
                prop_assert!(item.counts.iter().all(|c| c.count.value().is_some()), "item {}: a group is shown whole", item.id);
            }
        }
        for inst in &round.instruments {
            if inst.nps_categories.as_ref().is_some_and(|g| g.value().is_some()) {
                prop_assert!(inst.n.value().is_some_and(|n| *n >= k));
            }
        }
        let comp = &round.completion;
        let shown = [&comp.consented, &comp.finished, &comp.partial].iter().any(|g| g.value().is_some());
        if shown {
            prop_assert!(a + c + f + p >= k, "participation shown for an audience below k");
        }
        if a + c + f + p >= k {
            prop_assert!(comp.audience.value().is_some() && comp.consented.value().is_some()
                && comp.finished.value().is_some() && comp.partial.value().is_some(),
                "an audience of at least k shows all participation counts");
        }
        for fig in r.figures() {
            let count = matches!(fig.name, "count" | "partial" | "finished" | "consented" | "promoters" | "passives" | "detractors");
            if let (Ok(_), Some(b), false) = (&fig.value, fig.basis, count) {
                prop_assert!(b >= k, "{fig:?} published with basis {b} < k = {k}");
            }
        }
    }
}

/// Issue 15: an export after each new finisher must not reveal that person's answers by
/// subtraction, so an open round publishes participation only; once closed, its figures.
#[test]
fn an_open_round_publishes_participation_but_no_answer_figure() {
    let s = fixture::survey();
    let mut open = fixture::round(1, 19, 2, 40);
    open.closed_at = None;
    let open = open;
    let report = build_report(
        &s,
        vec![open.clone()],
        Policy::new(5),
        fixture::generated_at(),
    )
    .expect("report");
    let r = &report.rounds[0];
    let mut closed = open.clone();
    closed.closed_at = Some(fixture::generated_at());
    let closed_report =
        build_report(&s, vec![closed], Policy::new(5), fixture::generated_at()).expect("report");
    assert_eq!(
        r.completion, closed_report.rounds[0].completion,
        "participation is shown as for a closed round"
    );
    assert!(
        r.instruments.iter().all(|i| i.score.is_suppressed()),
        "no instrument score of an open round"
    );
    assert!(
        r.items.iter().all(|i| i.n.value().is_none_or(|n| *n == 0)
            && i.counts
                .iter()
                .all(|c| c.count.value().is_none_or(|n| *n == 0))
            && i.numeric.as_ref().is_none_or(|m| m.is_suppressed())),
        "no item figure of an open round"
    );
    let md = crate::export::markdown::report(&report, crate::lang::Lang::De);
    assert!(
        md.contains("Ergebnisse gibt es erst nach dem Ende der Runde"),
        "{md}"
    );
    // Closed, the same round publishes its figures.
    assert!(
        closed_report.rounds[0]
            .instruments
            .iter()
            .any(|i| !i.score.is_suppressed())
    );
}
