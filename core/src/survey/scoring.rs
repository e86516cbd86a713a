//! Per-respondent scores of the standard instruments, and the published interpretation bands.
//!
//! Pure functions over raw item answers (1-based points as the participant chose them;
//! `None` = missing). Rules from `facts/instruments.md`. Aggregation over respondents (means,
//! confidence intervals, NPS as a percentage difference) belongs to `stats`; this module only
//! says what one respondent scores and how a score is read.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::answer::Answer;
use super::model::{BlockKind, Instrument, Survey};

/// SUS 0–100 (Brooke): odd items contribute r − 1, even items 5 − r; sum × 2.5.
/// Any missing or out-of-range item (not 1–5) → no score: a partial SUS has no norm.
pub fn sus(items: &[Option<u8>; 10]) -> Option<f64> {
    let mut sum = 0u32;
    for (i, r) in items.iter().enumerate() {
        let r = u32::from((*r).filter(|r| (1..=5).contains(r))?);
        // Item i is 0-based here: index 0 is item 1 (odd, positively worded).
        sum += if i % 2 == 0 { r - 1 } else { 5 - r };
    }
    Some(f64::from(sum) * 2.5)
}

/// UMUX-Lite 0–100: ((i1 − 1) + (i2 − 1)) / 12 × 100; both items 1–7 required.
pub fn umux_lite(i1: Option<u8>, i2: Option<u8>) -> Option<f64> {
    let ok = |r: Option<u8>| r.filter(|r| (1..=7).contains(r)).map(f64::from);
    Some(((ok(i1)? - 1.0) + (ok(i2)? - 1.0)) / 12.0 * 100.0)
}

/// The SUS equivalent of a UMUX-Lite score (Lewis et al. regression, 7-point only):
/// 0.65 × UMUX-Lite + 22.9.
pub fn umux_lite_sus_equivalent(umux_lite: f64) -> f64 {
    0.65 * umux_lite + 22.9
}

/// UEQ-S scale means on −3..+3 for one respondent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UeqS {
    /// Mean of items 1–4 (v = r − 4), if all four were answered.
    pub pragmatic: Option<f64>,
    /// Mean of items 5–8, if all four were answered.
    pub hedonic: Option<f64>,
    /// Mean of all eight, if all were answered.
    pub overall: Option<f64>,
}

/// UEQ-S for one respondent: v = r − 4 (r in 1–7); a scale whose items are not all present
/// gets no value, so partial answers never distort a scale mean.
pub fn ueq_s(items: &[Option<u8>; 8]) -> UeqS {
    let v: Vec<Option<f64>> = items
        .iter()
        .map(|r| {
            r.filter(|r| (1..=7).contains(r))
                .map(|r| f64::from(r) - 4.0)
        })
        .collect();
    let mean = |s: &[Option<f64>]| -> Option<f64> {
        let vals: Option<Vec<f64>> = s.iter().copied().collect();
        let vals = vals?;
        Some(vals.iter().sum::<f64>() / vals.len() as f64)
    };
    UeqS {
        pragmatic: mean(&v[0..4]),
        hedonic: mean(&v[4..8]),
        overall: mean(&v[..]),
    }
}

/// SEQ score: the answer itself, 1 (very difficult) … 7 (very easy).
pub fn seq(answer: Option<u8>) -> Option<f64> {
    answer.filter(|r| (1..=7).contains(r)).map(f64::from)
}

/// Net Promoter category of one 0–10 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NpsCategory {
    /// 9–10.
    Promoter,
    /// 7–8.
    Passive,
    /// 0–6.
    Detractor,
}

/// The NPS category of an answer (None if above 10).
pub fn nps_category(answer: u8) -> Option<NpsCategory> {
    match answer {
        0..=6 => Some(NpsCategory::Detractor),
        7..=8 => Some(NpsCategory::Passive),
        9..=10 => Some(NpsCategory::Promoter),
        _ => None,
    }
}

/// Sauro–Lewis curved grading scale for SUS scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SusGrade {
    /// 84.1–100.
    #[serde(rename = "A+")]
    APlus,
    /// 80.8–84.0.
    #[serde(rename = "A")]
    A,
    /// 78.9–80.7.
    #[serde(rename = "A-")]
    AMinus,
    /// 77.2–78.8.
    #[serde(rename = "B+")]
    BPlus,
    /// 74.1–77.1.
    #[serde(rename = "B")]
    B,
    /// 72.6–74.0.
    #[serde(rename = "B-")]
    BMinus,
    /// 71.1–72.5.
    #[serde(rename = "C+")]
    CPlus,
    /// 65.0–71.0.
    #[serde(rename = "C")]
    C,
    /// 62.7–64.9.
    #[serde(rename = "C-")]
    CMinus,
    /// 51.7–62.6.
    #[serde(rename = "D")]
    D,
    /// 0–51.6.
    #[serde(rename = "F")]
    F,
}

impl fmt::Display for SusGrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SusGrade::APlus => "A+",
            SusGrade::A => "A",
            SusGrade::AMinus => "A−",
            SusGrade::BPlus => "B+",
            SusGrade::B => "B",
            SusGrade::BMinus => "B−",
            SusGrade::CPlus => "C+",
            SusGrade::C => "C",
            SusGrade::CMinus => "C−",
            SusGrade::D => "D",
            SusGrade::F => "F",
        })
    }
}

/// The grade of a SUS score (typically a mean). The published table lists one-decimal ranges
/// with gaps (84.0 | 84.1); we use the lower bounds as thresholds, so 84.05 is still an A.
pub fn sus_grade(score: f64) -> SusGrade {
    const TABLE: [(f64, SusGrade); 10] = [
        (84.1, SusGrade::APlus),
        (80.8, SusGrade::A),
        (78.9, SusGrade::AMinus),
        (77.2, SusGrade::BPlus),
        (74.1, SusGrade::B),
        (72.6, SusGrade::BMinus),
        (71.1, SusGrade::CPlus),
        (65.0, SusGrade::C),
        (62.7, SusGrade::CMinus),
        (51.7, SusGrade::D),
    ];
    TABLE
        .iter()
        .find(|(lower, _)| score >= *lower)
        .map_or(SusGrade::F, |(_, g)| *g)
}

/// Acceptability of a SUS score (Bangor et al.).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acceptability {
    /// Below 50.
    NotAcceptable,
    /// 50 to 70.
    Marginal,
    /// Above 70.
    Acceptable,
}

/// Acceptability band: < 50 not acceptable, 50–70 marginal, > 70 acceptable.
pub fn sus_acceptability(score: f64) -> Acceptability {
    if score < 50.0 {
        Acceptability::NotAcceptable
    } else if score <= 70.0 {
        Acceptability::Marginal
    } else {
        Acceptability::Acceptable
    }
}

/// Reading of a UEQ-S scale mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UeqBand {
    /// Below −0.8.
    Negative,
    /// −0.8 to +0.8.
    Neutral,
    /// Above +0.8.
    Positive,
}

/// UEQ band: between −0.8 and +0.8 neutral, above positive, below negative.
pub fn ueq_band(mean: f64) -> UeqBand {
    if mean > 0.8 {
        UeqBand::Positive
    } else if mean < -0.8 {
        UeqBand::Negative
    } else {
        UeqBand::Neutral
    }
}

/// One respondent's score for one instrument block of a survey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "instrument", rename_all = "kebab-case")]
pub enum BlockScore {
    /// SUS 0–100; `None` if any item is missing.
    Sus {
        /// Block id.
        block: String,
        /// The score.
        score: Option<f64>,
    },
    /// UMUX-Lite 0–100 and its SUS equivalent.
    UmuxLite {
        /// Block id.
        block: String,
        /// The score.
        score: Option<f64>,
        /// 0.65 × score + 22.9.
        sus_equivalent: Option<f64>,
    },
    /// UEQ-S scale means.
    UeqS {
        /// Block id.
        block: String,
        /// Pragmatic, hedonic, overall.
        scores: UeqS,
    },
    /// NPS category of the answer.
    Nps {
        /// Block id.
        block: String,
        /// Promoter, passive or detractor; `None` if unanswered.
        category: Option<NpsCategory>,
    },
    /// SEQ 1–7.
    Seq {
        /// Block id.
        block: String,
        /// The answer.
        score: Option<f64>,
    },
}

/// Scores every instrument block of `survey` for one respondent, whose answers are looked up
/// by question id. Custom blocks have no score and are left out.
pub fn score_blocks<'a>(
    survey: &Survey,
    answer_of: impl Fn(&str) -> Option<&'a Answer>,
) -> Vec<BlockScore> {
    let mut out = Vec::new();
    for block in &survey.blocks {
        let BlockKind::Instrument { instrument, .. } = &block.kind else {
            continue;
        };
        // Raw points of the block's items in published order (answers are option ids "1".."7"
        // or scale numbers; `numeric_value` maps them).
        let points: Vec<Option<u8>> = survey
            .block_questions(block)
            .iter()
            .map(|q| {
                answer_of(&q.id)
                    .and_then(|a| q.numeric_value(a))
                    .and_then(|v| u8::try_from(v as i64).ok())
            })
            .collect();
        let block_id = block.id.clone();
        out.push(match instrument {
            Instrument::Sus => BlockScore::Sus {
                block: block_id,
                score: <[Option<u8>; 10]>::try_from(points.as_slice())
                    .ok()
                    .and_then(|a| sus(&a)),
            },
            Instrument::UmuxLite => {
                let score = umux_lite(
                    points.first().copied().flatten(),
                    points.get(1).copied().flatten(),
                );
                BlockScore::UmuxLite {
                    block: block_id,
                    score,
                    sus_equivalent: score.map(umux_lite_sus_equivalent),
                }
            }
            Instrument::UeqS => BlockScore::UeqS {
                block: block_id,
                scores: <[Option<u8>; 8]>::try_from(points.as_slice())
                    .map(|a| ueq_s(&a))
                    .unwrap_or(UeqS {
                        pragmatic: None,
                        hedonic: None,
                        overall: None,
                    }),
            },
            Instrument::Nps => BlockScore::Nps {
                block: block_id,
                category: points.first().copied().flatten().and_then(nps_category),
            },
            Instrument::Seq => BlockScore::Seq {
                block: block_id,
                score: seq(points.first().copied().flatten()),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn sus_hand_computed() {
        // Answers 4,2,5,1,4,2,5,1,4,2:
        // odd items (r−1): 3+4+3+4+3 = 17; even items (5−r): 3+4+3+4+3 = 17;
        // sum 34 × 2.5 = 85.0 → grade A+ (≥ 84.1), acceptable (> 70).
        let a = [4, 2, 5, 1, 4, 2, 5, 1, 4, 2].map(Some);
        assert_eq!(sus(&a), Some(85.0));
        assert_eq!(sus_grade(85.0), SusGrade::APlus);
        assert_eq!(sus_acceptability(85.0), Acceptability::Acceptable);
        // All 3s: each item contributes 2 → 20 × 2.5 = 50.0 → F (< 51.7), marginal (50–70).
        assert_eq!(sus(&[Some(3); 10]), Some(50.0));
        assert_eq!(sus_grade(50.0), SusGrade::F);
        assert_eq!(sus_acceptability(50.0), Acceptability::Marginal);
        // Best possible: odd 5, even 1 → 10 × 4 × 2.5 = 100; worst: odd 1, even 5 → 0.
        assert_eq!(sus(&[5, 1, 5, 1, 5, 1, 5, 1, 5, 1].map(Some)), Some(100.0));
        assert_eq!(sus(&[1, 5, 1, 5, 1, 5, 1, 5, 1, 5].map(Some)), Some(0.0));
    }

    #[test]
    fn sus_with_a_missing_item_has_no_score() {
        let mut a = [4, 2, 5, 1, 4, 2, 5, 1, 4, 2].map(Some);
        a[6] = None;
        assert_eq!(sus(&a), None);
        a[6] = Some(6); // out of range counts as missing
        assert_eq!(sus(&a), None);
    }

    #[test]
    fn sus_grade_boundaries() {
        assert_eq!(sus_grade(84.0), SusGrade::A);
        assert_eq!(sus_grade(84.1), SusGrade::APlus);
        assert_eq!(sus_grade(68.0), SusGrade::C);
        assert_eq!(sus_grade(64.9), SusGrade::CMinus);
        assert_eq!(sus_grade(51.7), SusGrade::D);
        assert_eq!(sus_grade(51.6), SusGrade::F);
        assert_eq!(sus_acceptability(49.9), Acceptability::NotAcceptable);
        assert_eq!(sus_acceptability(70.0), Acceptability::Marginal);
        assert_eq!(sus_acceptability(70.1), Acceptability::Acceptable);
        assert_eq!(SusGrade::AMinus.to_string(), "A−");
    }

    #[test]
    fn umux_lite_hand_computed() {
        // 6 and 5: (5 + 4) / 12 × 100 = 75.0; SUS equivalent 0.65 × 75 + 22.9 = 71.65.
        let s = umux_lite(Some(6), Some(5)).unwrap_or(f64::NAN);
        assert!(close(s, 75.0));
        assert!(close(umux_lite_sus_equivalent(s), 71.65));
        // 7 and 7: 12/12 → 100; 1 and 1 → 0.
        assert_eq!(umux_lite(Some(7), Some(7)), Some(100.0));
        assert_eq!(umux_lite(Some(1), Some(1)), Some(0.0));
        assert_eq!(umux_lite(Some(7), None), None);
    }

    #[test]
    fn ueq_s_negative_values() {
        // Answers 2,1,3,2 | 4,5,6,7 → v = −2,−3,−1,−2 | 0,1,2,3.
        // pragmatic = (−2−3−1−2)/4 = −2.0 (negative, < −0.8);
        // hedonic = (0+1+2+3)/4 = 1.5 (positive); overall = (−8 + 6)/8 = −0.25 (neutral).
        let r = ueq_s(&[2, 1, 3, 2, 4, 5, 6, 7].map(Some));
        assert_eq!(r.pragmatic, Some(-2.0));
        assert_eq!(r.hedonic, Some(1.5));
        assert_eq!(r.overall, Some(-0.25));
        assert_eq!(ueq_band(-2.0), UeqBand::Negative);
        assert_eq!(ueq_band(1.5), UeqBand::Positive);
        assert_eq!(ueq_band(-0.25), UeqBand::Neutral);
        assert_eq!(ueq_band(0.8), UeqBand::Neutral);
        assert_eq!(ueq_band(-0.8), UeqBand::Neutral);
        // A hedonic item missing: pragmatic still computed, hedonic and overall not.
        let r = ueq_s(&[
            Some(7),
            Some(7),
            Some(7),
            Some(7),
            None,
            Some(4),
            Some(4),
            Some(4),
        ]);
        assert_eq!(r.pragmatic, Some(3.0));
        assert_eq!(r.hedonic, None);
        assert_eq!(r.overall, None);
    }

    #[test]
    fn nps_boundaries() {
        assert_eq!(nps_category(0), Some(NpsCategory::Detractor));
        assert_eq!(nps_category(6), Some(NpsCategory::Detractor));
        assert_eq!(nps_category(7), Some(NpsCategory::Passive));
        assert_eq!(nps_category(8), Some(NpsCategory::Passive));
        assert_eq!(nps_category(9), Some(NpsCategory::Promoter));
        assert_eq!(nps_category(10), Some(NpsCategory::Promoter));
        assert_eq!(nps_category(11), None);
    }

    #[test]
    fn seq_passthrough() {
        assert_eq!(seq(Some(6)), Some(6.0));
        assert_eq!(seq(Some(0)), None);
        assert_eq!(seq(None), None);
    }
}
