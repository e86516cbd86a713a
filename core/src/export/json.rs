//! The JSON export: a versioned, documented format (`docs/export-schema.md`, JSON Schema in
//! `docs/export-schema.json`).
//!
//! The field names here are a public contract (spreadsheets, dashboards and the council's
//! archive read them): rename only together with [`SCHEMA_VERSION`] and the docs. The
//! structs below mirror the schema one to one; they are built from the gated report, so a
//! suppressed figure is `null` with `suppressed: true` and a `reason`, never a number.

use serde::Serialize;

use crate::stats::compare::Method;
use crate::stats::describe::{Interval, Proportion};
use crate::stats::{
    Comparison, ComparisonKind, Gated, InstrumentReport, ItemReport, Reading, Reason, Report,
    RoundReport, SCHEMA_VERSION,
};
use crate::survey::Text;

use super::ExportError;
use super::names;
use super::num::r4;

#[derive(Serialize)]
struct JReport<'a> {
    schema_version: u32,
    survey: &'a str,
    title: &'a Text,
    generated_at: String,
    min_group_size: u32,
    text_min: u32,
    include_text: bool,
    distributions: &'static str,
    rounds: Vec<JRound<'a>>,
    trends: Vec<JComparison<'a>>,
}

#[derive(Serialize)]
struct JRound<'a> {
    survey: &'a str,
    round: u32,
    /// Only for imported rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    opened_at: String,
    closed_at: Option<String>,
    audience: Option<u64>,
    consented: Option<u64>,
    finished: Option<u64>,
    partial: Option<u64>,
    /// Field name → reason, for each withheld completion count.
    suppressed_counts: std::collections::BTreeMap<&'static str, &'static str>,
    rates: JRates,
    items: Vec<JItem<'a>>,
    instruments: Vec<JInstrument<'a>>,
    comparisons: Vec<JComparison<'a>>,
}

#[derive(Serialize)]
struct JRates {
    consent: JRate,
    finish: JRate,
    partial: JRate,
}

#[derive(Serialize)]
struct JRate {
    x: Option<u64>,
    n: Option<u64>,
    p: Option<f64>,
    ci95: Option<[f64; 2]>,
    suppressed: bool,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct JItem<'a> {
    id: &'a str,
    block: &'a str,
    kind: &'static str,
    instrument: Option<&'static str>,
    text: &'a Text,
    n: Option<u64>,
    counts: Vec<JCell<'a>>,
    mean: Option<f64>,
    sd: Option<f64>,
    median: Option<f64>,
    ci95: Option<[f64; 2]>,
    suppressed: bool,
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    texts: Option<JTexts<'a>>,
}

#[derive(Serialize)]
struct JCell<'a> {
    option: &'a str,
    label: &'a Text,
    count: Option<u64>,
    suppressed: bool,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct JTexts<'a> {
    answers: Option<&'a [String]>,
    suppressed: bool,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct JInstrument<'a> {
    block: &'a str,
    instrument: &'static str,
    subject: &'a str,
    scale: Option<&'static str>,
    task: Option<&'a Text>,
    n: Option<u64>,
    mean: Option<f64>,
    sd: Option<f64>,
    median: Option<f64>,
    ci95: Option<[f64; 2]>,
    grade: Option<String>,
    acceptability: Option<&'static str>,
    band: Option<&'static str>,
    sus_equivalent: Option<f64>,
    sus_equivalent_ci95: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    categories: Option<JCategories>,
    suppressed: bool,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct JCategories {
    promoters: Option<u64>,
    passives: Option<u64>,
    detractors: Option<u64>,
    suppressed: bool,
    reason: Option<&'static str>,
}

#[derive(Serialize)]
struct JComparison<'a> {
    kind: &'static str,
    instrument: &'static str,
    scale: Option<&'static str>,
    task: Option<&'a Text>,
    block_a: &'a str,
    subject_a: &'a str,
    round_a: u32,
    block_b: &'a str,
    subject_b: &'a str,
    round_b: u32,
    method: Option<&'static str>,
    n_a: Option<u64>,
    n_b: Option<u64>,
    mean_a: Option<f64>,
    mean_b: Option<f64>,
    diff: Option<f64>,
    df: Option<f64>,
    ci95: Option<[f64; 2]>,
    suppressed: bool,
    reason: Option<&'static str>,
}

fn ci(i: Option<Interval>) -> Option<[f64; 2]> {
    i.map(|i| [r4(i.low), r4(i.high)])
}

fn reason<T>(g: &Gated<T>) -> Option<&'static str> {
    g.reason().map(Reason::name)
}

fn rate(g: &Gated<Proportion>) -> JRate {
    JRate {
        x: g.value().map(|p| p.x),
        n: g.value().map(|p| p.n),
        p: g.value().map(|p| r4(p.p)),
        ci95: g.value().and_then(|p| ci(Some(p.ci95))),
        suppressed: g.is_suppressed(),
        reason: reason(g),
    }
}

fn item(i: &ItemReport) -> JItem<'_> {
    let m = i.numeric.as_ref().and_then(|g| g.value());
    // The item's main figures are n and the moments: suppressed if either is.
    let main_reason =
        i.n.reason()
            .or_else(|| i.numeric.as_ref().and_then(Gated::reason));
    JItem {
        id: &i.id,
        block: &i.block,
        kind: i.kind.name(),
        instrument: i.instrument.map(|x| x.name()),
        text: &i.text,
        n: i.n.value().copied(),
        counts: i
            .counts
            .iter()
            .map(|c| JCell {
                option: &c.option,
                label: &c.label,
                count: c.count.value().copied(),
                suppressed: c.count.is_suppressed(),
                reason: reason(&c.count),
            })
            .collect(),
        mean: m.map(|m| r4(m.mean)),
        sd: m.and_then(|m| m.sd).map(r4),
        median: m.and_then(|m| m.median).map(r4),
        ci95: m.and_then(|m| ci(m.ci95)),
        suppressed: main_reason.is_some(),
        reason: main_reason.map(Reason::name),
        texts: i.texts.as_ref().map(|t| JTexts {
            answers: t.value().map(Vec::as_slice),
            suppressed: t.is_suppressed(),
            reason: reason(t),
        }),
    }
}

fn instrument(i: &InstrumentReport) -> JInstrument<'_> {
    let m = i.score.value();
    let r = i.reading.value();
    JInstrument {
        block: &i.key.block,
        instrument: i.key.instrument.name(),
        subject: &i.key.subject,
        scale: i.key.scale.map(|s| s.name()),
        task: i.key.task.as_ref(),
        n: i.n.value().copied(),
        mean: m.map(|m| r4(m.mean)),
        sd: m.and_then(|m| m.sd).map(r4),
        median: m.and_then(|m| m.median).map(r4),
        ci95: m.and_then(|m| ci(m.ci95)),
        grade: match r {
            Some(Reading::Sus { grade, .. }) | Some(Reading::UmuxLite { grade, .. }) => {
                // Stable ASCII names ("A-"), as serde writes them.
                serde_json::to_value(grade)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            }
            _ => None,
        },
        acceptability: match r {
            Some(Reading::Sus { acceptability, .. }) => Some(names::acceptability(*acceptability)),
            _ => None,
        },
        band: match r {
            Some(Reading::Ueq { band }) => Some(names::band(*band)),
            _ => None,
        },
        sus_equivalent: match r {
            Some(Reading::UmuxLite { sus_equivalent, .. }) => Some(r4(*sus_equivalent)),
            _ => None,
        },
        sus_equivalent_ci95: match r {
            Some(Reading::UmuxLite {
                sus_equivalent_ci95,
                ..
            }) => ci(*sus_equivalent_ci95),
            _ => None,
        },
        categories: i.nps_categories.as_ref().map(|g| JCategories {
            promoters: g.value().map(|c| c.promoters),
            passives: g.value().map(|c| c.passives),
            detractors: g.value().map(|c| c.detractors),
            suppressed: g.is_suppressed(),
            reason: reason(g),
        }),
        suppressed: i.score.is_suppressed(),
        reason: reason(&i.score),
    }
}

fn comparison(c: &Comparison) -> JComparison<'_> {
    let d = c.result.value();
    JComparison {
        kind: match c.kind {
            ComparisonKind::Subjects => "subjects",
            ComparisonKind::Rounds => "rounds",
        },
        instrument: c.a.instrument.name(),
        scale: c.a.scale.map(|s| s.name()),
        task: c.a.task.as_ref(),
        block_a: &c.a.block,
        subject_a: &c.a.subject,
        round_a: c.round_a,
        block_b: &c.b.block,
        subject_b: &c.b.subject,
        round_b: c.round_b,
        method: d.map(|d| match d.method {
            Method::Paired => "paired",
            Method::Welch => "welch",
        }),
        n_a: d.map(|d| d.n_a),
        n_b: d.map(|d| d.n_b),
        mean_a: d.map(|d| r4(d.mean_a)),
        mean_b: d.map(|d| r4(d.mean_b)),
        diff: d.map(|d| r4(d.diff)),
        df: d.map(|d| r4(d.df)),
        ci95: d.and_then(|d| ci(Some(d.ci95))),
        suppressed: c.result.is_suppressed(),
        reason: reason(&c.result),
    }
}

fn round<'a>(survey: &'a str, r: &'a RoundReport) -> JRound<'a> {
    let c = &r.completion;
    let mut suppressed_counts = std::collections::BTreeMap::new();
    for (name, g) in [
        ("audience", &c.audience),
        ("consented", &c.consented),
        ("finished", &c.finished),
        ("partial", &c.partial),
    ] {
        if let Some(reason) = g.reason() {
            suppressed_counts.insert(name, reason.name());
        }
    }
    JRound {
        survey,
        round: r.round,
        label: r.label.as_deref(),
        opened_at: r.opened_at.to_string(),
        closed_at: r.closed_at.map(|t| t.to_string()),
        audience: c.audience.value().copied(),
        consented: c.consented.value().copied(),
        finished: c.finished.value().copied(),
        partial: c.partial.value().copied(),
        suppressed_counts,
        rates: JRates {
            consent: rate(&c.consent_rate),
            finish: rate(&c.finish_rate),
            partial: rate(&c.partial_rate),
        },
        items: r.items.iter().map(item).collect(),
        instruments: r.instruments.iter().map(instrument).collect(),
        comparisons: r.comparisons.iter().map(comparison).collect(),
    }
}

/// The report as pretty-printed JSON (with a trailing newline).
pub fn to_string(report: &Report) -> Result<String, ExportError> {
    let j = JReport {
        schema_version: SCHEMA_VERSION,
        survey: &report.survey,
        title: &report.title,
        generated_at: report.generated_at.to_string(),
        min_group_size: report.policy.min_group_size,
        text_min: report.policy.text_min,
        include_text: report.policy.include_text,
        distributions: report.policy.distributions.name(),
        rounds: report
            .rounds
            .iter()
            .map(|r| round(&report.survey, r))
            .collect(),
        trends: report.trends.iter().map(comparison).collect(),
    };
    let mut s = serde_json::to_string_pretty(&j)?;
    s.push('\n');
    Ok(s)
}
