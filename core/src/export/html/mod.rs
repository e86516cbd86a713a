//! The HTML report: one self-contained file for the council, German by default.
//!
//! It renders the same suppressed [`Report`] as every other format: a withheld figure is
//! shown as withheld with its reason and never drawn. The file has no external resources
//! (styles inline, charts as inline SVG from [`chart`], the browser's own fonts), so it
//! opens offline and from an e-mail attachment. Every chart names its n and comes with a
//! short reading in plain language ([`reading`]); the tables below give the exact numbers.
//! All text from surveys and participants is HTML-escaped.

mod chart;
mod reading;

use std::fmt::Write as _;

use plotters::style::RGBColor;

use crate::lang::Lang;
use crate::stats::{
    Comparison, ComparisonKind, Gated, InstrumentReport, ItemKind, ItemReport, Reading, Reason,
    Report, RoundReport, ScoreKey, UeqScale,
};
use crate::survey::Instrument;

use super::ExportError;
use super::names;
use super::num::fixed;
use chart::{Axis, Band, Column, Group, RefLine, Row, RowValue};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            // "95 %" must not break between the number and the sign.
            ' ' if chars.peek() == Some(&'%') => out.push('\u{a0}'),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Bar colours by subject, in the order the report names them: the first system blue, the
/// second orange (distinguishable also with red-green colour blindness), then greys.
const SUBJECT_COLORS: [RGBColor; 4] = [
    RGBColor(0, 94, 168),
    RGBColor(230, 120, 0),
    RGBColor(110, 110, 110),
    RGBColor(160, 160, 160),
];

const BAND_BAD: RGBColor = RGBColor(250, 225, 225);
const BAND_MID: RGBColor = RGBColor(250, 243, 215);
const BAND_GOOD: RGBColor = RGBColor(222, 242, 225);
const BAND_NEUTRAL: RGBColor = RGBColor(236, 238, 240);
const DETRACTOR: RGBColor = RGBColor(200, 70, 60);
const PASSIVE: RGBColor = RGBColor(150, 150, 150);
const PROMOTER: RGBColor = RGBColor(40, 140, 80);
const PLAIN: RGBColor = RGBColor(0, 94, 168);

/// Rendering context: language, number format, subject colours.
pub(crate) struct Ctx {
    pub(crate) lang: Lang,
    k: u64,
    k_text: u64,
    subjects: Vec<String>,
}

impl Ctx {
    pub(crate) fn t<'a>(&self, de: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(de, en)
    }

    /// A number with `d` decimals, German with a decimal comma.
    pub(crate) fn num(&self, x: f64, d: usize) -> String {
        let s = fixed(x, d, self.lang == Lang::De);
        // A real minus sign reads better than a hyphen.
        match s.strip_prefix('-') {
            Some(rest) => format!("−{rest}"),
            None => s,
        }
    }

    /// A signed difference.
    pub(crate) fn signed(&self, x: f64, d: usize) -> String {
        let s = self.num(x, d);
        if x > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
            format!("+{s}")
        } else {
            s
        }
    }

    pub(crate) fn range(&self, lo: f64, hi: f64, d: usize) -> String {
        format!(
            "{} {} {}",
            self.num(lo, d),
            self.t("bis", "to"),
            self.num(hi, d)
        )
    }

    pub(crate) fn reason(&self, r: Reason) -> String {
        names::reason_label(r, self.k, self.k_text, self.lang)
    }

    /// "unterdrückt: <reason>".
    pub(crate) fn suppressed<T>(&self, g: &Gated<T>) -> String {
        format!(
            "{}: {}",
            self.t("unterdrückt", "suppressed"),
            self.reason(g.reason().unwrap_or(Reason::BelowMinGroupSize))
        )
    }

    fn color(&self, subject: &str) -> RGBColor {
        let i = self
            .subjects
            .iter()
            .position(|s| s == subject)
            .unwrap_or(SUBJECT_COLORS.len() - 1);
        SUBJECT_COLORS[i.min(SUBJECT_COLORS.len() - 1)]
    }

    fn date(&self, t: jiff::Timestamp) -> String {
        let z = t.to_zoned(jiff::tz::TimeZone::UTC);
        match self.lang {
            Lang::De => z.strftime("%d.%m.%Y").to_string(),
            Lang::En => z.strftime("%Y-%m-%d").to_string(),
        }
    }

    fn round_name(&self, r: u32) -> String {
        format!("{} {r}", self.t("Runde", "Round"))
    }
}

/// Decimals for a score: 0–100 scales get one, short scales two.
pub(crate) fn decimals(i: Instrument) -> usize {
    match i {
        Instrument::Sus | Instrument::UmuxLite | Instrument::Nps => 1,
        Instrument::UeqS | Instrument::Seq => 2,
    }
}

/// "SUS", "UEQ-S pragmatisch", "SEQ „Eine Datei senden“".
pub(crate) fn score_label(key: &ScoreKey, cx: &Ctx) -> String {
    let mut s = names::instrument_label(key.instrument, cx.lang).to_owned();
    if let Some(scale) = key.scale {
        let _ = write!(s, " {}", scale_label(scale, cx));
    }
    if let Some(task) = &key.task {
        let _ = write!(
            s,
            " {}{}{}",
            cx.t("„", "“"),
            task.get(cx.lang),
            cx.t("“", "”")
        );
    }
    s
}

fn scale_label(scale: UeqScale, cx: &Ctx) -> &'static str {
    match scale {
        UeqScale::Pragmatic => cx.lang.pick("pragmatisch", "pragmatic"),
        UeqScale::Hedonic => cx.lang.pick("hedonisch", "hedonic"),
        UeqScale::Overall => cx.lang.pick("gesamt", "overall"),
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','DejaVu Sans',sans-serif;\
color:#212529;background:#fff;max-width:60rem;margin:0 auto;padding:1.5rem 1.25rem 3rem;line-height:1.5}\
h1{font-size:1.8rem;margin:.2rem 0 .4rem}h2{font-size:1.45rem;margin:2.5rem 0 .6rem;\
border-bottom:2px solid #005ea8;padding-bottom:.2rem}h3{font-size:1.15rem;margin:1.8rem 0 .4rem}\
h4{font-size:1rem;margin:1.2rem 0 .3rem}\
.meta{color:#5f6368}.note{background:#f1f3f5;border-left:4px solid #005ea8;padding:.6rem .9rem}\
figure{margin:1rem 0 1.6rem;padding:0}figcaption{margin:.3rem 0 0}\
svg.chart{display:block;width:100%;max-width:56rem;height:auto}svg.narrow{display:none;max-width:30rem}\
.reading{margin:.4rem 0}.reading li{margin:.2rem 0}\
.suppressed{border:1px dashed #adb5bd;background:#f8f9fa;color:#495057;padding:.8rem 1rem;font-style:italic}\
table{border-collapse:collapse;width:100%;margin:.6rem 0 1rem;font-size:.95rem}\
th,td{border-bottom:1px solid #dee2e6;padding:.3rem .5rem;text-align:left;vertical-align:top}\
td.n{text-align:right;white-space:nowrap}td.sup{color:#6c757d;font-style:italic}\
.answer{font-size:1.1rem;font-weight:600}.legend{font-size:.95rem;color:#3c4043}\
details{margin:1rem 0}summary{cursor:pointer;font-weight:600}\
@media print{h2{break-before:page}figure{break-inside:avoid}}\
@media (max-width:52rem){svg.wide{display:none}svg.narrow{display:block}}\
@media (max-width:40rem){body{padding:1rem .75rem 2rem}h1{font-size:1.45rem}h2{font-size:1.25rem}\
table{font-size:.85rem}th,td{padding:.25rem .3rem;overflow-wrap:anywhere}td.n{white-space:normal}}";

// The phone rules come last so that they override the rules above (same specificity).

/// The full report as one HTML document.
pub fn report(report: &Report, lang: Lang) -> Result<String, ExportError> {
    let mut subjects: Vec<String> = Vec::new();
    for r in &report.rounds {
        for i in &r.instruments {
            if !subjects.contains(&i.key.subject) {
                subjects.push(i.key.subject.clone());
            }
        }
    }
    let cx = Ctx {
        lang,
        k: report.policy.k(),
        k_text: report.policy.text_threshold(),
        subjects,
    };
    let title = format!(
        "{}: {}",
        cx.t("Auswertung", "Results"),
        report.title.get(lang)
    );
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        lang.code(),
        esc(&title)
    );
    let _ = writeln!(s, "<h1>{}</h1>", esc(&title));
    let rounds: Vec<String> = report.rounds.iter().map(|r| r.round.to_string()).collect();
    let _ = writeln!(
        s,
        "<p class=\"meta\">{} <code>{}</code> · {} {} · {} {} · {} k = {}</p>",
        cx.t("Umfrage", "Survey"),
        esc(&report.survey),
        cx.t(
            if rounds.len() == 1 { "Runde" } else { "Runden" },
            if rounds.len() == 1 { "round" } else { "rounds" }
        ),
        rounds.join(", "),
        cx.t("erstellt am", "generated on"),
        cx.date(report.generated_at),
        cx.t("Mindestgruppengröße", "minimum group size"),
        cx.k
    );
    lead_sections(&mut s, &cx, report);
    let _ = writeln!(
        s,
        "<p class=\"note\">{}</p>",
        esc(cx.t(
            "Alle Angaben beruhen auf freiwilligen, anonymen Antworten. Balken zeigen Mittelwerte, \
             schwarze Striche das 95 %-Konfidenzintervall: den Bereich, in dem der wahre Wert mit \
             hoher Wahrscheinlichkeit liegt. n ist die Zahl der Antworten. Werte, die auf weniger \
             als k Personen beruhen oder sich auf eine so kleine Gruppe zurückrechnen ließen, \
             werden nicht gezeigt; an ihrer Stelle steht „unterdrückt“ mit dem Grund.",
            "All figures rest on voluntary, anonymous answers. Bars show means, black whiskers the \
             95 % confidence interval: the range in which the true value lies with high \
             probability. n is the number of answers. Figures resting on fewer than k people, or \
             from which such a small group could be worked out, are not shown; they read \
             \"suppressed\" with the reason."
        ))
    );
    sus_trend(&mut s, &cx, report)?;
    for r in &report.rounds {
        round_section(&mut s, &cx, r)?;
    }
    trend_table(&mut s, &cx, &report.trends);
    s.push_str("</body>\n</html>\n");
    Ok(s)
}

/// The summary (the answer and its caveats) and the method, before any detail.
fn lead_sections(s: &mut String, cx: &Ctx, report: &Report) {
    let lead = super::lead::lead(report, cx.lang);
    let _ = writeln!(
        s,
        "<section id=\"summary\">\n<h2>{}</h2>",
        cx.t("Zusammenfassung", "Summary")
    );
    let _ = writeln!(
        s,
        "<p class=\"answer\">{}</p>",
        esc(&lead.summary.join(" "))
    );
    if !lead.caveats.is_empty() {
        let _ = writeln!(
            s,
            "<p><strong>{}</strong></p>\n<ul>",
            cx.t("Was das Ergebnis einschränkt:", "What limits the result:")
        );
        for c in &lead.caveats {
            let _ = writeln!(s, "<li>{}</li>", esc(c));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</section>\n");
    let _ = writeln!(
        s,
        "<section id=\"method\">\n<h2>{}</h2>\n<ul>",
        cx.t("Methode", "Method")
    );
    for m in &lead.method {
        let _ = writeln!(s, "<li>{}</li>", esc(m));
    }
    s.push_str("</ul>\n");
    if !lead.legend.is_empty() {
        let _ = writeln!(s, "<p class=\"legend\">{}</p>", esc(&lead.legend.join(" ")));
    }
    s.push_str("</section>\n");
}

/// A figure: heading, chart (or the suppression notice), reading.
fn figure(s: &mut String, heading: &str, svg: Option<String>, notice: &str, reading: &[String]) {
    figure_at(s, 3, heading, svg, notice, reading);
}

/// A figure with its heading at `level` (4 under a section heading of its own).
fn figure_at(
    s: &mut String,
    level: u8,
    heading: &str,
    svg: Option<String>,
    notice: &str,
    reading: &[String],
) {
    let _ = writeln!(s, "<figure>\n<h{level}>{}</h{level}>", esc(heading));
    match svg {
        Some(svg) => s.push_str(&svg),
        None => {
            let _ = writeln!(s, "<p class=\"suppressed\">{}</p>", esc(notice));
        }
    }
    s.push_str("<figcaption><ul class=\"reading\">\n");
    for line in reading {
        let _ = writeln!(s, "<li>{}</li>", esc(line));
    }
    s.push_str("</ul></figcaption>\n</figure>\n");
}

/// The notice shown instead of a chart whose every value is withheld.
fn whole_figure_suppressed(cx: &Ctx, reasons: &[String]) -> String {
    // The rows say "suppressed: <reason>"; the notice lists the reasons once.
    let prefix = format!("{}: ", cx.t("unterdrückt", "suppressed"));
    let mut rs: Vec<&str> = reasons
        .iter()
        .map(|r| r.strip_prefix(&prefix).unwrap_or(r))
        .collect();
    rs.sort_unstable();
    rs.dedup();
    format!(
        "{} {}: {}.",
        cx.t(
            "Abbildung unterdrückt: kein Wert darf gezeigt werden.",
            "Figure suppressed: no value may be shown."
        ),
        cx.t(
            if rs.len() == 1 { "Grund" } else { "Gründe" },
            if rs.len() == 1 { "Reason" } else { "Reasons" }
        ),
        rs.join("; ")
    )
}

fn suppressed_reasons(groups: &[Group]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in groups.iter().flat_map(|g| &g.rows) {
        if let RowValue::Suppressed(why) = &r.value
            && !out.contains(why)
        {
            out.push(why.clone());
        }
    }
    out
}

/// The value axis of an instrument's scores.
fn axis_for(instrument: Instrument, cx: &Ctx) -> Axis {
    let ticks = |vals: &[f64]| vals.iter().map(|v| (*v, cx.num(*v, 0))).collect();
    match instrument {
        Instrument::Sus | Instrument::UmuxLite => Axis {
            min: 0.0,
            max: 100.0,
            base: 0.0,
            ticks: ticks(&[0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
            bands: vec![
                Band {
                    lo: 0.0,
                    hi: 50.0,
                    color: BAND_BAD,
                    label: names::acceptability_label(
                        crate::survey::scoring::Acceptability::NotAcceptable,
                        cx.lang,
                    )
                    .to_owned(),
                },
                Band {
                    lo: 50.0,
                    hi: 70.0,
                    color: BAND_MID,
                    label: names::acceptability_label(
                        crate::survey::scoring::Acceptability::Marginal,
                        cx.lang,
                    )
                    .to_owned(),
                },
                Band {
                    lo: 70.0,
                    hi: 100.0,
                    color: BAND_GOOD,
                    label: names::acceptability_label(
                        crate::survey::scoring::Acceptability::Acceptable,
                        cx.lang,
                    )
                    .to_owned(),
                },
            ],
            refs: if instrument == Instrument::Sus {
                vec![RefLine {
                    x: 68.0,
                    label: cx.t("Ø Studien 68", "avg. of studies 68").to_owned(),
                }]
            } else {
                vec![]
            },
        },
        Instrument::UeqS => Axis {
            min: -3.0,
            max: 3.0,
            base: 0.0,
            ticks: ticks(&[-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]),
            bands: vec![
                Band {
                    lo: -3.0,
                    hi: -0.8,
                    color: BAND_BAD,
                    label: names::band_label(crate::survey::scoring::UeqBand::Negative, cx.lang)
                        .to_owned(),
                },
                Band {
                    lo: -0.8,
                    hi: 0.8,
                    color: BAND_NEUTRAL,
                    label: names::band_label(crate::survey::scoring::UeqBand::Neutral, cx.lang)
                        .to_owned(),
                },
                Band {
                    lo: 0.8,
                    hi: 3.0,
                    color: BAND_GOOD,
                    label: names::band_label(crate::survey::scoring::UeqBand::Positive, cx.lang)
                        .to_owned(),
                },
            ],
            refs: vec![],
        },
        Instrument::Nps => Axis {
            min: -100.0,
            max: 100.0,
            base: 0.0,
            ticks: ticks(&[-100.0, -50.0, 0.0, 50.0, 100.0]),
            bands: vec![],
            refs: vec![],
        },
        Instrument::Seq => Axis {
            min: 1.0,
            max: 7.0,
            base: 1.0,
            ticks: ticks(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            bands: vec![],
            refs: vec![RefLine {
                x: 5.5,
                label: cx.t("typisch 5,5", "typical 5.5").to_owned(),
            }],
        },
    }
}

/// A row for an instrument score.
fn score_row(cx: &Ctx, label: String, i: &InstrumentReport) -> Row {
    let d = decimals(i.key.instrument);
    let value = match (i.score.value(), i.n.value()) {
        (Some(m), Some(n)) => RowValue::Shown {
            value: m.mean,
            ci: m.ci95.map(|c| (c.low, c.high)),
            text: format!("{} · n = {n}", cx.num(m.mean, d)),
        },
        _ => RowValue::Suppressed(cx.suppressed(&i.score)),
    };
    Row {
        label,
        value,
        color: cx.color(&i.key.subject),
    }
}

/// SUS per round and system, with intervals and the acceptability bands.
fn sus_trend(s: &mut String, cx: &Ctx, report: &Report) -> Result<(), ExportError> {
    let groups: Vec<Group> = report
        .rounds
        .iter()
        .filter(|r| {
            r.instruments
                .iter()
                .any(|i| i.key.instrument == Instrument::Sus)
        })
        .map(|r| Group {
            title: Some(match &r.label {
                Some(label) => format!("{} ({label})", cx.round_name(r.round)),
                None => format!("{} ({})", cx.round_name(r.round), cx.date(r.opened_at)),
            }),
            rows: r
                .instruments
                .iter()
                .filter(|i| i.key.instrument == Instrument::Sus)
                .map(|i| score_row(cx, i.key.subject.clone(), i))
                .collect(),
        })
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    let _ = writeln!(
        s,
        "<h2>{}</h2>",
        cx.t("Gebrauchstauglichkeit im Verlauf", "Usability over time")
    );
    let heading = cx.t(
        "SUS-Wert je Runde und System (0–100)",
        "SUS score per round and system (0–100)",
    );
    let svg = if chart::any_shown(&groups) {
        Some(chart::rows(
            &groups,
            &axis_for(Instrument::Sus, cx),
            heading,
        )?)
    } else {
        None
    };
    let notice = whole_figure_suppressed(cx, &suppressed_reasons(&groups));
    figure(s, heading, svg, &notice, &reading::sus_trend(cx, report));
    Ok(())
}

fn round_section(s: &mut String, cx: &Ctx, r: &RoundReport) -> Result<(), ExportError> {
    let period = match (&r.label, r.closed_at) {
        // An imported round's dates are the import's, not the original survey's.
        (Some(label), _) => format!(
            "{} {}{label}{}, {} {}",
            cx.t("Import", "import"),
            cx.t("„", "“"),
            cx.t("“", "”"),
            cx.t("eingelesen am", "imported on"),
            cx.date(r.opened_at)
        ),
        (None, Some(c)) => format!("{} – {}", cx.date(r.opened_at), cx.date(c)),
        (None, None) => format!(
            "{} {}, {}",
            cx.t("seit", "since"),
            cx.date(r.opened_at),
            cx.t("noch offen", "still open")
        ),
    };
    let _ = writeln!(
        s,
        "<h2 id=\"round-{}\">{} ({})</h2>",
        r.round,
        esc(&cx.round_name(r.round)),
        esc(&period)
    );
    completion(s, cx, r)?;
    if r.closed_at.is_none() && r.label.is_none() {
        let _ = writeln!(
            s,
            "<p class=\"note\">{}</p>",
            esc(cx.t(
                "Ergebnisse gibt es erst nach dem Ende der Runde: Zwischenstände ließen sich mit dem Endstand vergleichen und verrieten so einzelne Antworten.",
                "Results come only after the round has closed: interim figures could be compared with the final ones and so reveal single answers."
            ))
        );
    }
    side_by_side(s, cx, r)?;
    ueq(s, cx, r)?;
    distributions(s, cx, r)?;
    choices(s, cx, r);
    scores_table(s, cx, r);
    items_table(s, cx, r);
    free_text(s, cx, r);
    Ok(())
}

fn completion(s: &mut String, cx: &Ctx, r: &RoundReport) -> Result<(), ExportError> {
    let c = &r.completion;
    let rows = [
        (cx.t("Eingewilligt", "Consented"), &c.consent_rate),
        (cx.t("Abgeschlossen", "Finished"), &c.finish_rate),
        (
            cx.t("Teilweise beantwortet", "Partly answered"),
            &c.partial_rate,
        ),
    ]
    .into_iter()
    .map(|(label, rate)| Row {
        label: label.to_owned(),
        value: match rate.value() {
            Some(p) => RowValue::Shown {
                value: 100.0 * p.p,
                ci: Some((100.0 * p.ci95.low, 100.0 * p.ci95.high)),
                text: format!(
                    "{} {} {} · {} %",
                    p.x,
                    cx.t("von", "of"),
                    p.n,
                    cx.num(100.0 * p.p, 0)
                ),
            },
            None => RowValue::Suppressed(cx.suppressed(rate)),
        },
        color: PLAIN,
    })
    .collect();
    let groups = vec![Group { title: None, rows }];
    let heading = cx.t("Beteiligung (Anteil in %)", "Participation (share in %)");
    let axis = Axis {
        min: 0.0,
        max: 100.0,
        base: 0.0,
        ticks: [0.0, 25.0, 50.0, 75.0, 100.0]
            .iter()
            .map(|v| (*v, format!("{} %", cx.num(*v, 0))))
            .collect(),
        bands: vec![],
        refs: vec![],
    };
    let svg = if chart::any_shown(&groups) {
        Some(chart::rows(&groups, &axis, heading)?)
    } else {
        None
    };
    let notice = whole_figure_suppressed(cx, &suppressed_reasons(&groups));
    figure(s, heading, svg, &notice, &reading::completion(cx, c));
    Ok(())
}

/// The identity of a score without its subject: what a side-by-side compares.
fn same_measure(a: &ScoreKey, b: &ScoreKey) -> bool {
    a.instrument == b.instrument && a.scale == b.scale && a.task == b.task
}

/// The systems side by side: every score that more than one system got in this round.
fn side_by_side(s: &mut String, cx: &Ctx, r: &RoundReport) -> Result<(), ExportError> {
    let mut measures: Vec<&ScoreKey> = Vec::new();
    for i in &r.instruments {
        let others = r
            .instruments
            .iter()
            .filter(|j| same_measure(&i.key, &j.key) && j.key.subject != i.key.subject)
            .count();
        if others > 0 && !measures.iter().any(|m| same_measure(m, &i.key)) {
            measures.push(&i.key);
        }
    }
    if measures.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = cx.subjects.iter().map(String::as_str).collect();
    let heading = format!(
        "{}: {}",
        cx.t("Systeme im Vergleich", "Systems side by side"),
        names.join(cx.t(" und ", " and "))
    );
    let _ = writeln!(s, "<h3>{}</h3>", esc(&heading));
    for m in measures {
        let label = score_label(m, cx);
        let rows: Vec<Row> = r
            .instruments
            .iter()
            .filter(|i| same_measure(&i.key, m))
            .map(|i| score_row(cx, i.key.subject.clone(), i))
            .collect();
        let groups = vec![Group { title: None, rows }];
        let comparisons: Vec<&Comparison> = r
            .comparisons
            .iter()
            .filter(|c| c.kind == ComparisonKind::Subjects && same_measure(&c.a, m))
            .collect();
        let svg = if chart::any_shown(&groups) {
            Some(chart::rows(&groups, &axis_for(m.instrument, cx), &label)?)
        } else {
            None
        };
        let notice = whole_figure_suppressed(cx, &suppressed_reasons(&groups));
        let mut lines = vec![reading::scale_hint(cx, m.instrument)];
        lines.extend(comparisons.iter().map(|c| reading::comparison(cx, c)));
        figure_at(s, 4, &label, svg, &notice, &lines);
    }
    Ok(())
}

fn ueq(s: &mut String, cx: &Ctx, r: &RoundReport) -> Result<(), ExportError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut blocks: Vec<&str> = Vec::new();
    for i in r
        .instruments
        .iter()
        .filter(|i| i.key.instrument == Instrument::UeqS)
    {
        if !blocks.contains(&i.key.block.as_str()) {
            blocks.push(&i.key.block);
            groups.push(Group {
                title: Some(i.key.subject.clone()),
                rows: Vec::new(),
            });
        }
        if let (Some(g), Some(scale)) = (groups.last_mut(), i.key.scale) {
            g.rows
                .push(score_row(cx, scale_label(scale, cx).to_owned(), i));
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    let heading = cx.t(
        "UEQ-S: Nutzererlebnis (−3 bis +3) mit Bewertungsbereichen",
        "UEQ-S: user experience (−3 to +3) against the interpretation bands",
    );
    let svg = if chart::any_shown(&groups) {
        Some(chart::rows(
            &groups,
            &axis_for(Instrument::UeqS, cx),
            heading,
        )?)
    } else {
        None
    };
    let notice = whole_figure_suppressed(cx, &suppressed_reasons(&groups));
    let ueqs: Vec<&InstrumentReport> = r
        .instruments
        .iter()
        .filter(|i| i.key.instrument == Instrument::UeqS)
        .collect();
    figure(s, heading, svg, &notice, &reading::ueq(cx, &ueqs));
    Ok(())
}

/// The 0–10 questions: the recommendation question and custom 0–10 scales.
fn distributions(s: &mut String, cx: &Ctx, r: &RoundReport) -> Result<(), ExportError> {
    for item in r.items.iter().filter(|i| i.kind == ItemKind::Scale) {
        let nps = item.instrument == Some(Instrument::Nps);
        let cols: Vec<Column> = item
            .counts
            .iter()
            .map(|c| {
                let v: i64 = c.option.parse().unwrap_or(-1);
                Column {
                    label: c.option.clone(),
                    count: c.count.value().copied(),
                    color: match (nps, v) {
                        (false, _) => PLAIN,
                        (true, 9..) => PROMOTER,
                        (true, 7..=8) => PASSIVE,
                        (true, _) => DETRACTOR,
                    },
                }
            })
            .collect();
        let heading = format!(
            "{}: {}",
            cx.t("Verteilung 0–10", "Distribution 0–10"),
            item.text.get(cx.lang)
        );
        let inst = r
            .instruments
            .iter()
            .find(|i| i.key.instrument == Instrument::Nps && i.key.block == item.block);
        let svg = if cols.iter().any(|c| c.count.is_some()) {
            let n = item
                .n
                .value()
                .map_or_else(String::new, |n| format!("n = {n}"));
            Some(chart::columns(
                &cols,
                cx.t("Anzahl Antworten", "Number of answers"),
                &n,
                &heading,
            )?)
        } else {
            None
        };
        let mut reasons: Vec<String> = item
            .counts
            .iter()
            .filter(|c| c.count.is_suppressed())
            .map(|c| cx.suppressed(&c.count))
            .collect();
        reasons.sort();
        let notice = whole_figure_suppressed(cx, &reasons);
        let drawn = svg.is_some();
        figure(
            s,
            &heading,
            svg,
            &notice,
            &reading::distribution(cx, item, inst, nps && drawn),
        );
    }
    Ok(())
}

/// Choice questions without a scale (single and multiple choice): a table of counts and
/// shares per option, as the Markdown report lists them.
fn choices(s: &mut String, cx: &Ctx, r: &RoundReport) {
    let items: Vec<&ItemReport> = r
        .items
        .iter()
        .filter(|i| {
            i.instrument.is_none()
                && i.numeric.is_none()
                && matches!(i.kind, ItemKind::Choice | ItemKind::Multi)
        })
        .collect();
    for i in items {
        let n = i.n.value().copied();
        let _ = writeln!(
            s,
            "<h3>{}</h3>\n<table class=\"choice\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
            esc(&format!(
                "{} ({})",
                i.text.get(cx.lang),
                n.map_or_else(|| cx.suppressed(&i.n), |n| format!("n = {n}"))
            )),
            cx.t("Antwort", "Answer"),
            cx.t("Anzahl", "Count"),
            cx.t("Anteil", "Share"),
        );
        for c in &i.counts {
            let share = match (c.count.value(), n) {
                (Some(v), Some(n)) if n > 0 => format!(
                    "<td class=\"n\">{}\u{a0}%</td>",
                    cx.num(100.0 * *v as f64 / n as f64, 0)
                ),
                (Some(_), _) => "<td></td>".to_owned(),
                (None, _) => format!("<td class=\"sup\">{}</td>", esc(&cx.suppressed(&c.count))),
            };
            let _ = writeln!(
                s,
                "<tr><td>{}</td>{}{share}</tr>",
                esc(c.label.get(cx.lang)),
                gated_cell(cx, &c.count, |v| v.to_string()),
            );
        }
        s.push_str("</tbody>\n</table>\n");
        if i.kind == ItemKind::Multi {
            let _ = writeln!(
                s,
                "<p class=\"meta\">{}</p>",
                cx.t(
                    "Mehrfachauswahl: die Anteile ergeben zusammen mehr als 100 %.",
                    "Multiple choice: the shares add up to more than 100 %."
                )
            );
        }
    }
}

fn gated_cell<T>(cx: &Ctx, g: &Gated<T>, f: impl FnOnce(&T) -> String) -> String {
    match g.value() {
        Some(v) => format!("<td class=\"n\">{}</td>", esc(&f(v))),
        None => format!("<td class=\"sup\">{}</td>", esc(&cx.suppressed(g))),
    }
}

fn reading_text(cx: &Ctx, r: &Reading) -> String {
    match r {
        Reading::Sus {
            grade,
            acceptability,
        } => format!(
            "{} {grade}, {}",
            cx.t("Note", "grade"),
            names::acceptability_label(*acceptability, cx.lang)
        ),
        Reading::UmuxLite {
            sus_equivalent,
            grade,
            ..
        } => format!(
            "{} {} ({} {grade})",
            cx.t("SUS-Äquivalent", "SUS equivalent"),
            cx.num(*sus_equivalent, 1),
            cx.t("Note", "grade")
        ),
        Reading::Ueq { band } => names::band_label(*band, cx.lang).to_owned(),
        Reading::Nps => cx.t("Skala −100 bis +100", "scale −100 to +100").to_owned(),
        Reading::Seq => cx
            .t(
                "1 = sehr schwer … 7 = sehr leicht",
                "1 = very difficult … 7 = very easy",
            )
            .to_owned(),
    }
}

fn scores_table(s: &mut String, cx: &Ctx, r: &RoundReport) {
    if r.instruments.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<h3>{}</h3>\n<table>\n<thead><tr><th>{}</th><th>{}</th><th>n</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
        cx.t(
            "Alle Werte der Standardfragebögen",
            "All standard questionnaire scores"
        ),
        cx.t("Fragebogen", "Questionnaire"),
        cx.t("System", "System"),
        // Not "mean": the NPS is a difference of shares, and SUS a scaled sum per person.
        cx.t("Wert", "Score"),
        cx.t("95 %-KI", "95 % CI"),
        cx.t("Einordnung", "Reading"),
    );
    for i in &r.instruments {
        let d = decimals(i.key.instrument);
        let nps = i.key.instrument == Instrument::Nps;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td>{}{}{}{}</tr>",
            esc(&score_label(&i.key, cx)),
            esc(&i.key.subject),
            gated_cell(cx, &i.n, |n| n.to_string()),
            gated_cell(cx, &i.score, |m| if nps {
                format!("NPS {}", cx.signed(m.mean, d))
            } else {
                cx.num(m.mean, d)
            }),
            gated_cell(cx, &i.score, |m| m
                .ci95
                .map_or("–".into(), |c| cx.range(c.low, c.high, d))),
            gated_cell(cx, &i.reading, |rd| reading_text(cx, rd)),
        );
    }
    s.push_str("</tbody>\n</table>\n");
}

fn items_table(s: &mut String, cx: &Ctx, r: &RoundReport) {
    let rows: Vec<&ItemReport> = r
        .items
        .iter()
        .filter(|i| i.kind != ItemKind::Text)
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<details>\n<summary>{}</summary>\n<table>\n<thead><tr><th>{}</th><th>{}</th><th>n</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
        cx.t("Einzelfragen (Tabelle)", "Individual questions (table)"),
        cx.t("Nr.", "Id"),
        cx.t("Frage", "Question"),
        cx.t("Mittelwert", "Mean"),
        cx.t("95 %-KI", "95 % CI"),
    );
    for i in rows {
        let (mean, ci) = match &i.numeric {
            Some(g) => (
                gated_cell(cx, g, |m| cx.num(m.mean, 2)),
                gated_cell(cx, g, |m| {
                    m.ci95.map_or("–".into(), |c| cx.range(c.low, c.high, 2))
                }),
            ),
            None => ("<td></td>".to_owned(), "<td></td>".to_owned()),
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td>{}{mean}{ci}</tr>",
            esc(&i.id),
            esc(i.text.get(cx.lang)),
            gated_cell(cx, &i.n, |n| n.to_string()),
        );
    }
    s.push_str("</tbody>\n</table>\n</details>\n");
}

fn free_text(s: &mut String, cx: &Ctx, r: &RoundReport) {
    for i in r.items.iter().filter(|i| i.kind == ItemKind::Text) {
        let Some(t) = &i.texts else { continue };
        let _ = writeln!(s, "<h3>{}</h3>", esc(i.text.get(cx.lang)));
        match t.value() {
            Some(texts) => {
                s.push_str("<ul>\n");
                for line in texts {
                    // Participant text is data, never markup.
                    let _ = writeln!(s, "<li>{}</li>", esc(line));
                }
                s.push_str("</ul>\n");
            }
            None => {
                let _ = writeln!(
                    s,
                    "<p class=\"suppressed\">{}</p>",
                    esc(&format!(
                        "{} ({})",
                        cx.t("Freitexte nicht enthalten", "Free text not included"),
                        cx.reason(t.reason().unwrap_or(Reason::TextNotRequested))
                    ))
                );
            }
        }
    }
}

fn trend_table(s: &mut String, cx: &Ctx, trends: &[Comparison]) {
    if trends.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<h2>{}</h2>\n<p>{}</p>\n<table>\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>n</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>",
        cx.t(
            "Veränderung gegenüber der Vorrunde",
            "Change from the previous round"
        ),
        esc(cx.t(
            "Enthält das 95 %-KI einer Veränderung die 0, ist sie statistisch nicht gesichert.",
            "If the 95 % CI of a change contains 0, the change is not statistically established."
        )),
        cx.t("Fragebogen", "Questionnaire"),
        cx.t("System", "System"),
        cx.t("Runden", "Rounds"),
        cx.t("Veränderung", "Change"),
        cx.t("95 %-KI", "95 % CI"),
    );
    for c in trends {
        let d = decimals(c.a.instrument);
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td>{}{}{}</tr>",
            esc(&score_label(&c.a, cx)),
            esc(&c.a.subject),
            c.round_b,
            c.round_a,
            gated_cell(cx, &c.result, |x| format!("{} / {}", x.n_b, x.n_a)),
            gated_cell(cx, &c.result, |x| cx.signed(x.diff, d)),
            gated_cell(cx, &c.result, |x| cx.range(x.ci95.low, x.ci95.high, d)),
        );
    }
    s.push_str("</tbody>\n</table>\n");
}
