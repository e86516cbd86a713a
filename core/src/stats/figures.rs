//! [`Report::figures`]: the report flattened into one row per number, for CSV and for the
//! property test that nothing below k escapes unmarked.

use super::report::{
    Comparison, ComparisonKind, Figure, InstrumentReport, ItemReport, Reading, Report, RoundReport,
    Value,
};
use super::suppress::{Gated, Reason};

/// Collects figures with a shared location.
struct Sink<'a> {
    out: &'a mut Vec<Figure>,
    round: u32,
    section: &'static str,
    id: String,
    subject: String,
    detail: String,
}

impl Sink<'_> {
    fn push(&mut self, name: &'static str, value: Result<Value, Reason>, basis: Option<u64>) {
        self.out.push(Figure {
            round: self.round,
            section: self.section,
            id: self.id.clone(),
            subject: self.subject.clone(),
            detail: self.detail.clone(),
            name,
            basis: if value.is_ok() { basis } else { None },
            value,
        });
    }

    /// A gated figure that may expand to several values (all suppressed together).
    fn gated<T>(
        &mut self,
        g: &Gated<T>,
        basis: Option<u64>,
        names: &[&'static str],
        values: impl FnOnce(&T) -> Vec<Option<Value>>,
    ) {
        match g.value() {
            Some(v) => {
                for (name, value) in names.iter().zip(values(v)) {
                    if let Some(value) = value {
                        self.push(name, Ok(value), basis);
                    }
                }
            }
            None => {
                let r = g.reason().unwrap_or(Reason::BelowMinGroupSize);
                for name in names {
                    self.push(name, Err(r), None);
                }
            }
        }
    }
}

fn num(x: f64) -> Option<Value> {
    Some(Value::Num(x))
}

fn int(x: u64) -> Option<Value> {
    Some(Value::Int(x))
}

fn text(s: impl Into<String>) -> Option<Value> {
    Some(Value::Text(s.into()))
}

impl Report {
    /// Every figure of the report, in report order: completion, items, instruments,
    /// comparisons per round, then trends.
    pub fn figures(&self) -> Vec<Figure> {
        let mut out = Vec::new();
        for r in &self.rounds {
            round_figures(&mut out, r);
        }
        for t in &self.trends {
            comparison_figures(&mut out, t);
        }
        out
    }
}

fn round_figures(out: &mut Vec<Figure>, r: &RoundReport) {
    let mut s = Sink {
        out,
        round: r.round,
        section: "completion",
        id: String::new(),
        subject: String::new(),
        detail: String::new(),
    };
    let c = &r.completion;
    for (name, g) in [
        ("audience", &c.audience),
        ("consented", &c.consented),
        ("finished", &c.finished),
        ("partial", &c.partial),
    ] {
        let basis = g.value().copied();
        s.gated(g, basis, &[name], |v| vec![int(*v)]);
    }
    for (names, g) in [
        (
            [
                "consent_rate",
                "consent_rate_ci95_low",
                "consent_rate_ci95_high",
            ],
            &c.consent_rate,
        ),
        (
            [
                "finish_rate",
                "finish_rate_ci95_low",
                "finish_rate_ci95_high",
            ],
            &c.finish_rate,
        ),
        (
            [
                "partial_rate",
                "partial_rate_ci95_low",
                "partial_rate_ci95_high",
            ],
            &c.partial_rate,
        ),
    ] {
        // The numerator is published (and checked) as its own count; the rate rests on the
        // denominator.
        let basis = g.value().map(|p| p.n);
        s.gated(g, basis, &names, |p| {
            vec![num(p.p), num(p.ci95.low), num(p.ci95.high)]
        });
    }
    for item in &r.items {
        item_figures(s.out, r.round, item);
    }
    for inst in &r.instruments {
        instrument_figures(s.out, r.round, inst);
    }
    for cmp in &r.comparisons {
        comparison_figures(s.out, cmp);
    }
}

fn item_figures(out: &mut Vec<Figure>, round: u32, item: &ItemReport) {
    let n = item.n.value().copied();
    let mut s = Sink {
        out,
        round,
        section: "item",
        id: item.id.clone(),
        subject: String::new(),
        detail: String::new(),
    };
    s.gated(&item.n, n, &["n"], |v| vec![int(*v)]);
    for cell in &item.counts {
        s.detail = cell.option.clone();
        s.gated(&cell.count, cell.count.value().copied(), &["count"], |v| {
            vec![int(*v)]
        });
    }
    s.detail.clear();
    if let Some(m) = &item.numeric {
        s.gated(
            m,
            n,
            &["mean", "sd", "median", "ci95_low", "ci95_high"],
            |m| {
                vec![
                    num(m.mean),
                    m.sd.and_then(num),
                    m.median.and_then(num),
                    m.ci95.and_then(|c| num(c.low)),
                    m.ci95.and_then(|c| num(c.high)),
                ]
            },
        );
    }
    if let Some(t) = &item.texts {
        match t.value() {
            Some(texts) => {
                let basis = Some(texts.len() as u64);
                for t in texts {
                    s.push("text", Ok(Value::Text(t.clone())), basis);
                }
            }
            None => s.push(
                "text",
                Err(t.reason().unwrap_or(Reason::TextNotRequested)),
                None,
            ),
        }
    }
}

fn instrument_figures(out: &mut Vec<Figure>, round: u32, inst: &InstrumentReport) {
    let n = inst.n.value().copied();
    let mut s = Sink {
        out,
        round,
        section: "instrument",
        id: inst.key.block.clone(),
        subject: inst.key.subject.clone(),
        detail: inst
            .key
            .scale
            .map(|s| s.name().to_owned())
            .unwrap_or_default(),
    };
    s.gated(&inst.n, n, &["n"], |v| vec![int(*v)]);
    s.gated(
        &inst.score,
        n,
        &["mean", "sd", "median", "ci95_low", "ci95_high"],
        |m| {
            vec![
                num(m.mean),
                m.sd.and_then(num),
                m.median.and_then(num),
                m.ci95.and_then(|c| num(c.low)),
                m.ci95.and_then(|c| num(c.high)),
            ]
        },
    );
    let names: &[&'static str] = match inst.key.instrument {
        crate::survey::Instrument::Sus => &["grade", "acceptability"],
        crate::survey::Instrument::UmuxLite => &[
            "sus_equivalent",
            "sus_equivalent_ci95_low",
            "sus_equivalent_ci95_high",
            "grade",
        ],
        crate::survey::Instrument::UeqS => &["band"],
        crate::survey::Instrument::Nps | crate::survey::Instrument::Seq => &[],
    };
    s.gated(&inst.reading, n, names, |r| match r {
        Reading::Sus {
            grade,
            acceptability,
        } => vec![
            text(grade.to_string()),
            text(crate::export::names::acceptability(*acceptability)),
        ],
        Reading::UmuxLite {
            sus_equivalent,
            sus_equivalent_ci95,
            grade,
        } => vec![
            num(*sus_equivalent),
            sus_equivalent_ci95.and_then(|c| num(c.low)),
            sus_equivalent_ci95.and_then(|c| num(c.high)),
            text(grade.to_string()),
        ],
        Reading::Ueq { band } => vec![text(crate::export::names::band(*band))],
        Reading::Nps | Reading::Seq => vec![],
    });
    if let Some(cats) = &inst.nps_categories {
        let basis = cats.value().map(|c| {
            [c.promoters, c.passives, c.detractors]
                .into_iter()
                .filter(|x| *x > 0)
                .min()
                .unwrap_or(0)
        });
        s.gated(cats, basis, &["promoters", "passives", "detractors"], |c| {
            vec![int(c.promoters), int(c.passives), int(c.detractors)]
        });
    }
}

fn comparison_figures(out: &mut Vec<Figure>, c: &Comparison) {
    let basis = c.result.value().map(|d| d.n_a.min(d.n_b));
    let mut s = Sink {
        out,
        round: c.round_a,
        section: match c.kind {
            ComparisonKind::Subjects => "comparison",
            ComparisonKind::Rounds => "trend",
        },
        id: if c.a.block == c.b.block {
            c.a.block.clone()
        } else {
            format!("{}-{}", c.a.block, c.b.block)
        },
        subject: if c.a.subject == c.b.subject {
            c.a.subject.clone()
        } else {
            format!("{}-{}", c.a.subject, c.b.subject)
        },
        detail: match c.kind {
            ComparisonKind::Subjects => c.a.scale.map(|s| s.name().to_owned()).unwrap_or_default(),
            ComparisonKind::Rounds => {
                let scale =
                    c.a.scale
                        .map(|s| format!("{} ", s.name()))
                        .unwrap_or_default();
                format!("{scale}round {} vs {}", c.round_a, c.round_b)
            }
        },
    };
    s.gated(
        &c.result,
        basis,
        &[
            "method",
            "n_a",
            "n_b",
            "mean_a",
            "mean_b",
            "diff",
            "ci95_low",
            "ci95_high",
        ],
        |d| {
            vec![
                text(match d.method {
                    super::compare::Method::Paired => "paired",
                    super::compare::Method::Welch => "welch",
                }),
                int(d.n_a),
                int(d.n_b),
                num(d.mean_a),
                num(d.mean_b),
                num(d.diff),
                num(d.ci95.low),
                num(d.ci95.high),
            ]
        },
    );
}
