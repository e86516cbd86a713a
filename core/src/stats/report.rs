//! The published figures of a survey: what every exporter renders.
//!
//! A [`Report`] is built only by [`crate::stats::build_report`], after suppression; every
//! figure that depends on respondents is a [`Gated`] value, so a renderer cannot reach a
//! suppressed number and must say *why* it is missing. The model is format-neutral (JSON,
//! CSV, Markdown today; an HTML renderer with charts can walk the same tree) and carries
//! both languages' texts; [`Report::figures`] flattens it for row-based formats and tests.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::survey::scoring::{Acceptability, SusGrade, UeqBand};
use crate::survey::{Instrument, Text};

use super::compare::Difference;
use super::describe::{Interval, Proportion};
use super::suppress::{Gated, Policy, Reason};

/// Version of the export format (JSON `schema_version`, documented in
/// `docs/export-schema.md`). Bump on any incompatible change of field names or meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything published about one survey: one or more rounds and their trends.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The survey's id.
    pub survey: String,
    /// The survey's title.
    pub title: Text,
    /// When the report was made (passed in: statistics are pure).
    pub generated_at: Timestamp,
    /// The suppression rules applied.
    pub policy: Policy,
    /// The rounds, in ascending order.
    pub rounds: Vec<RoundReport>,
    /// Each instrument score compared with the previous round in the report.
    pub trends: Vec<Comparison>,
}

/// One round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    /// Round number.
    pub round: u32,
    /// The label of an imported round (`pulsebot import`); its dates are those of the
    /// import, not of the original survey.
    pub label: Option<String>,
    /// When it opened.
    pub opened_at: Timestamp,
    /// When it closed (`None`: still open, figures are provisional).
    pub closed_at: Option<Timestamp>,
    /// Who was asked and who answered.
    pub completion: Completion,
    /// Every question, in survey order.
    pub items: Vec<ItemReport>,
    /// Every instrument score (UEQ-S: three scales per block), in survey order.
    pub instruments: Vec<InstrumentReport>,
    /// The same instrument about different subjects in this round.
    pub comparisons: Vec<Comparison>,
}

/// Completion counts and rates of a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// People in the survey's audience.
    pub audience: Gated<u64>,
    /// Consented and invited to this round.
    pub consented: Gated<u64>,
    /// Finished the round.
    pub finished: Gated<u64>,
    /// Answered part of it before it closed.
    pub partial: Gated<u64>,
    /// consented / audience.
    pub consent_rate: Gated<Proportion>,
    /// finished / consented.
    pub finish_rate: Gated<Proportion>,
    /// partial / consented.
    pub partial_rate: Gated<Proportion>,
}

/// The answer type of an item, as in survey files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// One option (likert, single choice, instrument item).
    Choice,
    /// Several options.
    Multi,
    /// 0–10.
    Scale,
    /// Free text.
    Text,
}

impl ItemKind {
    /// The stable name used in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Choice => "choice",
            ItemKind::Multi => "multi",
            ItemKind::Scale => "scale",
            ItemKind::Text => "text",
        }
    }
}

/// One question's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReport {
    /// Question id (`sus_bm.3`, `usage`).
    pub id: String,
    /// The block it belongs to.
    pub block: String,
    /// Answer type.
    pub kind: ItemKind,
    /// The question text.
    pub text: Text,
    /// The instrument, for instrument items.
    pub instrument: Option<Instrument>,
    /// Respondents who answered it (for instrument items: who completed the block).
    pub n: Gated<u64>,
    /// Counts per option (choice, multi) or per value (scale), in option order; empty for
    /// text.
    pub counts: Vec<Cell>,
    /// Mean, SD, median, CI — for items with numeric values.
    pub numeric: Option<Gated<Moments>>,
    /// The answers to a free-text question.
    pub texts: Option<Gated<Vec<String>>>,
}

/// One distribution cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Option id ("1".."7", "daily", or the number of a 0–10 scale).
    pub option: String,
    /// The option's label.
    pub label: Text,
    /// Respondents who chose it.
    pub count: Gated<u64>,
}

/// Mean, SD, median and 95 % t-interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Mean.
    pub mean: f64,
    /// SD (`None` for n < 2).
    pub sd: Option<f64>,
    /// Median (`None` for NPS, whose score is not a mean of answers).
    pub median: Option<f64>,
    /// 95 % interval of the mean (`None` for n < 2).
    pub ci95: Option<Interval>,
}

/// A UEQ-S scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UeqScale {
    /// Items 1–4.
    Pragmatic,
    /// Items 5–8.
    Hedonic,
    /// All eight.
    Overall,
}

impl UeqScale {
    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            UeqScale::Pragmatic => "pragmatic",
            UeqScale::Hedonic => "hedonic",
            UeqScale::Overall => "overall",
        }
    }
}

/// Which score of which block: the identity of an instrument figure across rounds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScoreKey {
    /// Block id.
    pub block: String,
    /// Instrument.
    pub instrument: Instrument,
    /// The system rated.
    pub subject: String,
    /// UEQ-S scale, if any.
    pub scale: Option<UeqScale>,
    /// SEQ task, if any.
    pub task: Option<Text>,
}

/// How a score reads against published norms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reading {
    /// SUS: Sauro–Lewis grade and Bangor acceptability of the mean.
    Sus {
        /// Grade of the mean.
        grade: SusGrade,
        /// Acceptability of the mean.
        acceptability: Acceptability,
    },
    /// UMUX-Lite: the SUS equivalent (0.65 × score + 22.9) and its grade.
    UmuxLite {
        /// SUS equivalent of the mean.
        sus_equivalent: f64,
        /// The interval mapped the same way.
        sus_equivalent_ci95: Option<Interval>,
        /// Grade of the SUS equivalent.
        grade: SusGrade,
    },
    /// UEQ-S: interpretation band of the mean.
    Ueq {
        /// Negative, neutral, positive.
        band: UeqBand,
    },
    /// NPS: category counts are in [`InstrumentReport::nps_categories`].
    Nps,
    /// SEQ: no published bands (typical mean ≈ 5.5).
    Seq,
}

/// One instrument score in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentReport {
    /// Which score.
    pub key: ScoreKey,
    /// Respondents with a complete block.
    pub n: Gated<u64>,
    /// Mean (NPS: the score −100..100), SD, median, CI (NPS: adjusted Wald).
    pub score: Gated<Moments>,
    /// Grade, band or SUS equivalent.
    pub reading: Gated<Reading>,
    /// NPS only: promoters, passives, detractors (all or nothing, rule 3).
    pub nps_categories: Option<Gated<NpsCategories>>,
}

/// NPS category counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpsCategories {
    /// 9–10.
    pub promoters: u64,
    /// 7–8.
    pub passives: u64,
    /// 0–6.
    pub detractors: u64,
}

/// What a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonKind {
    /// Two subjects (e.g. BundesMessenger vs Webex) in one round.
    Subjects,
    /// The same score in two rounds (b is the earlier round).
    Rounds,
}

/// A difference a − b between two published scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Subjects or rounds.
    pub kind: ComparisonKind,
    /// The a side.
    pub a: ScoreKey,
    /// The b side.
    pub b: ScoreKey,
    /// Round of a.
    pub round_a: u32,
    /// Round of b.
    pub round_b: u32,
    /// The difference with its interval (paired or Welch).
    pub result: Gated<Difference>,
}

/// One published (or suppressed) number, flattened: the unit of the CSV formats and of the
/// property tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Round (trends: the later round).
    pub round: u32,
    /// `completion`, `item`, `instrument`, `comparison`, `trend`.
    pub section: &'static str,
    /// Item id or block id (comparisons: `a_block-b_block`).
    pub id: String,
    /// Subject(s), for instruments and comparisons.
    pub subject: String,
    /// UEQ-S scale or the option id of a count.
    pub detail: String,
    /// What the number is: `n`, `count`, `mean`, `sd`, `median`, `ci95_low`, ...
    pub name: &'static str,
    /// The value, or why it is withheld.
    pub value: Result<Value, Reason>,
    /// For a published figure, the number of respondents it rests on (a count: the count
    /// itself; a difference: the smaller side). `None` when suppressed.
    pub basis: Option<u64>,
}

/// A figure's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A count.
    Int(u64),
    /// A statistic.
    Num(f64),
    /// A label (grade, band, method, free text).
    Text(String),
}
