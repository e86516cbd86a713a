//! Instrument scores over a round: per-respondent scores from `survey::scoring`, aggregated
//! into published [`InstrumentReport`]s with grades and bands.
//!
//! Scoring rules are not repeated here: [`score_blocks`] says what one respondent scores.
//! This module decides which respondents count (those with a complete block — the same set
//! for the block's items and all its scales, so no figure differs from another by a few
//! people), and turns the scores into means, intervals and readings.

use crate::survey::scoring::{
    BlockScore, NpsCategory, score_blocks, sus_acceptability, sus_grade, ueq_band,
    umux_lite_sus_equivalent,
};
use crate::survey::{Answer, BlockKind, Instrument, Survey};

use super::describe::{nps, summarize};
use super::report::{InstrumentReport, Moments, NpsCategories, Reading, ScoreKey, UeqScale};
use super::suppress::{Gated, Policy, Reason};

/// One score of one block for every respondent of a round (`None`: block incomplete).
#[derive(Debug, Clone)]
pub(crate) struct ScoreColumn {
    pub(crate) key: ScoreKey,
    /// Per respondent, in the round's respondent order. NPS: +100 promoter, 0 passive,
    /// −100 detractor, so the mean of the column is the NPS itself (used for differences).
    pub(crate) values: Vec<Option<f64>>,
    /// NPS only: the category per respondent.
    pub(crate) nps: Option<Vec<Option<NpsCategory>>>,
}

impl ScoreColumn {
    /// The present values.
    pub(crate) fn present(&self) -> Vec<f64> {
        self.values.iter().flatten().copied().collect()
    }
}

/// Scores every instrument block for every respondent (answers looked up by item id).
pub(crate) fn score_columns(
    survey: &Survey,
    respondents: &[&[Option<Answer>]],
) -> Vec<ScoreColumn> {
    let mut cols: Vec<ScoreColumn> = Vec::new();
    let index = super::dataset::question_index(survey);
    let per_respondent: Vec<Vec<BlockScore>> = respondents
        .iter()
        .map(|a| {
            score_blocks(survey, |id| {
                index
                    .get(id)
                    .and_then(|&i| a.get(i))
                    .and_then(Option::as_ref)
            })
        })
        .collect();
    let blocks = survey.blocks.iter().filter_map(|b| match &b.kind {
        BlockKind::Instrument {
            instrument,
            subject,
            task,
        } => Some((b.id.clone(), *instrument, subject.clone(), task.clone())),
        BlockKind::Custom => None,
    });
    // `score_blocks` returns one entry per instrument block, in block order.
    for (bi, (block, instrument, subject, task)) in blocks.enumerate() {
        let key = |scale| ScoreKey {
            block: block.clone(),
            instrument,
            subject: subject.clone(),
            scale,
            task: task.clone(),
        };
        let scores = per_respondent.iter().map(|r| r.get(bi));
        match instrument {
            Instrument::UeqS => {
                for scale in [UeqScale::Pragmatic, UeqScale::Hedonic, UeqScale::Overall] {
                    let values = scores
                        .clone()
                        .map(|s| match s {
                            // Only respondents with all eight items, so the three scales
                            // rest on the same people (no difference of a few).
                            Some(BlockScore::UeqS { scores, .. }) if scores.overall.is_some() => {
                                match scale {
                                    UeqScale::Pragmatic => scores.pragmatic,
                                    UeqScale::Hedonic => scores.hedonic,
                                    UeqScale::Overall => scores.overall,
                                }
                            }
                            _ => None,
                        })
                        .collect();
                    cols.push(ScoreColumn {
                        key: key(Some(scale)),
                        values,
                        nps: None,
                    });
                }
            }
            Instrument::Nps => {
                let cats: Vec<Option<NpsCategory>> = scores
                    .map(|s| match s {
                        Some(BlockScore::Nps { category, .. }) => *category,
                        _ => None,
                    })
                    .collect();
                let values = cats
                    .iter()
                    .map(|c| {
                        c.map(|c| match c {
                            NpsCategory::Promoter => 100.0,
                            NpsCategory::Passive => 0.0,
                            NpsCategory::Detractor => -100.0,
                        })
                    })
                    .collect();
                cols.push(ScoreColumn {
                    key: key(None),
                    values,
                    nps: Some(cats),
                });
            }
            _ => {
                let values = scores
                    .map(|s| match s {
                        Some(BlockScore::Sus { score, .. })
                        | Some(BlockScore::UmuxLite { score, .. })
                        | Some(BlockScore::Seq { score, .. }) => *score,
                        _ => None,
                    })
                    .collect();
                cols.push(ScoreColumn {
                    key: key(None),
                    values,
                    nps: None,
                });
            }
        }
    }
    cols
}

/// Which respondents completed each instrument block (every score present).
pub(crate) fn complete_mask(cols: &[ScoreColumn], block: &str, respondents: usize) -> Vec<bool> {
    let mut mask = vec![false; respondents];
    if let Some(col) = cols.iter().find(|c| c.key.block == block) {
        for (m, v) in mask.iter_mut().zip(&col.values) {
            *m = v.is_some();
        }
    }
    mask
}

/// The reading of a published mean.
fn reading(key: &ScoreKey, m: &Moments) -> Reading {
    match key.instrument {
        Instrument::Sus => Reading::Sus {
            grade: sus_grade(m.mean),
            acceptability: sus_acceptability(m.mean),
        },
        Instrument::UmuxLite => {
            let eq = umux_lite_sus_equivalent(m.mean);
            Reading::UmuxLite {
                sus_equivalent: eq,
                // The equivalent is 0.65·x + 22.9, increasing: the interval maps directly.
                sus_equivalent_ci95: m.ci95.map(|ci| ci.map_affine(0.65, 22.9)),
                grade: sus_grade(eq),
            }
        }
        Instrument::UeqS => Reading::Ueq {
            band: ueq_band(m.mean),
        },
        Instrument::Nps => Reading::Nps,
        Instrument::Seq => Reading::Seq,
    }
}

/// Aggregates one column under the policy.
pub(crate) fn describe_column(col: &ScoreColumn, policy: &Policy) -> InstrumentReport {
    let k = policy.k();
    let values = col.present();
    let n = values.len() as u64;
    let moments: Option<Moments> = match &col.nps {
        Some(cats) => {
            let count = |c: NpsCategory| cats.iter().filter(|x| **x == Some(c)).count() as u64;
            nps(
                count(NpsCategory::Promoter),
                count(NpsCategory::Passive),
                count(NpsCategory::Detractor),
            )
            .map(|s| Moments {
                mean: s.score,
                sd: None,
                median: None,
                ci95: Some(s.ci95),
            })
        }
        None => summarize(&values).map(|s| Moments {
            mean: s.mean,
            sd: s.sd,
            median: Some(s.median),
            ci95: s.ci95,
        }),
    };
    let score = match moments {
        Some(m) => policy.gate(n, m),
        None => Gated::suppressed(Reason::BelowMinGroupSize),
    };
    let nps_categories = col.nps.as_ref().map(|cats| {
        let count = |c: NpsCategory| cats.iter().filter(|x| **x == Some(c)).count() as u64;
        let c = NpsCategories {
            promoters: count(NpsCategory::Promoter),
            passives: count(NpsCategory::Passive),
            detractors: count(NpsCategory::Detractor),
        };
        if n < k {
            Gated::suppressed(Reason::BelowMinGroupSize)
        } else {
            // The score is a linear function of the three counts: all or nothing (rule 3).
            let gates = policy.distribution_with_mean(&[c.promoters, c.passives, c.detractors]);
            if gates.contains(&Some(Reason::SmallCell)) {
                Gated::suppressed(Reason::SmallCell)
            } else {
                Gated::shown(c)
            }
        }
    });
    InstrumentReport {
        key: col.key.clone(),
        n: policy.gate(n, n),
        reading: score.map(|m| reading(&col.key, m)),
        score,
        nps_categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::scoring::{Acceptability, SusGrade, UeqBand};

    fn col(instrument: Instrument, values: &[f64]) -> ScoreColumn {
        ScoreColumn {
            key: ScoreKey {
                block: "b".into(),
                instrument,
                subject: "X".into(),
                scale: None,
                task: None,
            },
            values: values.iter().copied().map(Some).collect(),
            nps: None,
        }
    }

    #[test]
    fn sus_reading_of_the_mean() {
        // SUS 70 75 80 65 90: mean 76 (see describe::tests) → grade B (74.1–77.1),
        // acceptable (> 70).
        let r = describe_column(
            &col(Instrument::Sus, &[70.0, 75.0, 80.0, 65.0, 90.0]),
            &Policy::new(5),
        );
        assert_eq!(r.n.value(), Some(&5));
        assert_eq!(
            r.reading.value(),
            Some(&Reading::Sus {
                grade: SusGrade::B,
                acceptability: Acceptability::Acceptable
            })
        );
        // k = 6: all suppressed with the reason.
        let r = describe_column(
            &col(Instrument::Sus, &[70.0, 75.0, 80.0, 65.0, 90.0]),
            &Policy::new(6),
        );
        assert_eq!(r.score.reason(), Some(Reason::BelowMinGroupSize));
        assert_eq!(r.reading.reason(), Some(Reason::BelowMinGroupSize));
        assert_eq!(r.n.reason(), Some(Reason::BelowMinGroupSize));
    }

    #[test]
    fn umux_lite_equivalent_and_ueq_band() {
        // UMUX-Lite 75, 75, 75, 50, 100: mean 75 → SUS equivalent 0.65·75 + 22.9 = 71.65,
        // grade C+ (71.1–72.5).
        let r = describe_column(
            &col(Instrument::UmuxLite, &[75.0, 75.0, 75.0, 50.0, 100.0]),
            &Policy::new(5),
        );
        match r.reading.value() {
            Some(Reading::UmuxLite {
                sus_equivalent,
                grade,
                ..
            }) => {
                assert!((sus_equivalent - 71.65).abs() < 1e-9);
                assert_eq!(*grade, SusGrade::CPlus);
            }
            other => panic!("unexpected {other:?}"),
        }
        // UEQ-S means 1.0 … → mean 0.9 > 0.8 → positive.
        let r = describe_column(
            &col(Instrument::UeqS, &[1.0, 0.5, 1.25, 0.75, 1.0]),
            &Policy::new(5),
        );
        assert_eq!(
            r.reading.value(),
            Some(&Reading::Ueq {
                band: UeqBand::Positive
            })
        );
    }

    #[test]
    fn nps_column_uses_the_adjusted_wald_interval() {
        // 10 promoters, 6 passives, 4 detractors → +30, [−5.72, 57.90] (describe::tests).
        let cats: Vec<Option<NpsCategory>> = std::iter::repeat_n(NpsCategory::Promoter, 10)
            .chain(std::iter::repeat_n(NpsCategory::Passive, 6))
            .chain(std::iter::repeat_n(NpsCategory::Detractor, 4))
            .map(Some)
            .collect();
        let mut c = col(Instrument::Nps, &[]);
        c.values = cats
            .iter()
            .map(|c| {
                c.map(|c| match c {
                    NpsCategory::Promoter => 100.0,
                    NpsCategory::Passive => 0.0,
                    NpsCategory::Detractor => -100.0,
                })
            })
            .collect();
        c.nps = Some(cats);
        let cell = Policy::new(5).with_distributions(super::super::Distributions::Cell);
        let r = describe_column(&c, &cell);
        let m = r.score.value().copied().expect("published");
        assert!((m.mean - 30.0).abs() < 1e-9);
        let ci = m.ci95.expect("interval");
        assert!((ci.low + 5.7235).abs() < 1e-3 && (ci.high - 57.8974).abs() < 1e-3);
        // Cell rule: detractors = 4 < k = 5, so the categories are withheld as a whole; the
        // score stays.
        assert_eq!(
            r.nps_categories.as_ref().and_then(Gated::reason),
            Some(Reason::SmallCell)
        );
        let want = Some(NpsCategories {
            promoters: 10,
            passives: 6,
            detractors: 4,
        });
        // Group rule (default): 20 respondents ≥ k, so all three categories are shown.
        let r = describe_column(&c, &Policy::new(5));
        assert_eq!(
            r.nps_categories.as_ref().and_then(|g| g.value().copied()),
            want
        );
        let r = describe_column(
            &c,
            &Policy::new(4).with_distributions(super::super::Distributions::Cell),
        );
        assert_eq!(
            r.nps_categories.as_ref().and_then(|g| g.value().copied()),
            Some(NpsCategories {
                promoters: 10,
                passives: 6,
                detractors: 4
            })
        );
    }
}
