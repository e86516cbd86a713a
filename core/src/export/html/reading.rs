//! Plain-language readings of the figures, German and English, for council members.
//!
//! Each reading is built from published numbers only: where a figure is withheld the
//! sentence says so and why, so no reading can reveal what a chart does not show.

use crate::stats::{
    Comparison, ComparisonKind, Completion, Gated, InstrumentReport, ItemReport, Reading, Report,
};
use crate::survey::Instrument;

use super::super::names;
use super::{Ctx, decimals, score_label};
use crate::lang::Lang;

/// What a difference's interval says, in words.
fn established(cx: &Ctx, lo: f64, hi: f64) -> &'static str {
    if lo > 0.0 || hi < 0.0 {
        cx.lang.pick(
            "Das Intervall schließt 0 aus: der Unterschied ist statistisch gesichert.",
            "The interval excludes 0: the difference is statistically established.",
        )
    } else {
        cx.lang.pick(
            "Das Intervall schließt 0 ein: der Unterschied ist statistisch nicht gesichert.",
            "The interval includes 0: the difference is not statistically established.",
        )
    }
}

/// The SUS trend: the latest published score per system and its change.
pub(super) fn sus_trend(cx: &Ctx, report: &Report) -> Vec<String> {
    let mut out = vec![
        cx.t(
            "Der SUS misst die Gebrauchstauglichkeit von 0 bis 100. Der Durchschnitt vieler Studien liegt bei etwa 68; über 70 gilt als akzeptabel, unter 50 als nicht akzeptabel.",
            "The SUS measures usability from 0 to 100. The average of many studies is about 68; above 70 counts as acceptable, below 50 as not acceptable.",
        )
        .to_owned(),
    ];
    for subject in &cx.subjects {
        let latest = report.rounds.iter().rev().find_map(|r| {
            r.instruments
                .iter()
                .find(|i| i.key.instrument == Instrument::Sus && &i.key.subject == subject)
                .and_then(|i| Some((r.round, i.score.value()?, i.n.value()?, i.reading.value())))
        });
        let had_sus = report.rounds.iter().any(|r| {
            r.instruments
                .iter()
                .any(|i| i.key.instrument == Instrument::Sus && &i.key.subject == subject)
        });
        if !had_sus {
            continue;
        }
        let Some((round, m, n, rd)) = latest else {
            out.push(match cx.lang {
                Lang::De => format!(
                    "{subject}: in keiner Runde genug Antworten für einen SUS-Wert (unterdrückt)."
                ),
                Lang::En => {
                    format!("{subject}: no round has enough answers for a SUS score (suppressed).")
                }
            });
            continue;
        };
        let ci = m
            .ci95
            .map(|c| {
                format!(
                    ", {} {}",
                    cx.t("95 %-KI", "95 % CI"),
                    cx.range(c.low, c.high, 1)
                )
            })
            .unwrap_or_default();
        let grade = match rd {
            Some(Reading::Sus {
                grade,
                acceptability,
            }) => format!(
                "; {} {grade}, {}",
                cx.t("Note", "grade"),
                names::acceptability_label(*acceptability, cx.lang)
            ),
            _ => String::new(),
        };
        let mut line = match cx.lang {
            Lang::De => format!(
                "{subject}: {} Punkte in Runde {round} (n = {n}{ci}){grade}.",
                cx.num(m.mean, 1)
            ),
            Lang::En => format!(
                "{subject}: {} points in round {round} (n = {n}{ci}){grade}.",
                cx.num(m.mean, 1)
            ),
        };
        let trend = report.trends.iter().find(|t| {
            t.a.instrument == Instrument::Sus && &t.a.subject == subject && t.round_a == round
        });
        if let Some(t) = trend {
            match t.result.value() {
                Some(d) => {
                    line.push(' ');
                    line.push_str(&match cx.lang {
                        Lang::De => format!(
                            "Gegenüber Runde {}: {} Punkte (95 %-KI {}). {}",
                            t.round_b,
                            cx.signed(d.diff, 1),
                            cx.range(d.ci95.low, d.ci95.high, 1),
                            established(cx, d.ci95.low, d.ci95.high)
                        ),
                        Lang::En => format!(
                            "Compared with round {}: {} points (95 % CI {}). {}",
                            t.round_b,
                            cx.signed(d.diff, 1),
                            cx.range(d.ci95.low, d.ci95.high, 1),
                            established(cx, d.ci95.low, d.ci95.high)
                        ),
                    });
                }
                None => {
                    line.push(' ');
                    line.push_str(&format!(
                        "{} {}",
                        cx.t(
                            "Die Veränderung zur Vorrunde ist",
                            "The change from the previous round is"
                        ),
                        cx.suppressed(&t.result)
                    ));
                    line.push('.');
                }
            }
        }
        out.push(line);
    }
    // Rounds whose SUS is withheld are named, so nobody reads a gap as "no change".
    for r in &report.rounds {
        for i in r
            .instruments
            .iter()
            .filter(|i| i.key.instrument == Instrument::Sus && i.score.is_suppressed())
        {
            out.push(format!(
                "{} {}, {}: {}.",
                cx.round_name(r.round),
                i.key.subject,
                "SUS",
                cx.suppressed(&i.score)
            ));
        }
    }
    out
}

/// Participation in words.
pub(super) fn completion(cx: &Ctx, c: &Completion) -> Vec<String> {
    let mut out = Vec::new();
    out.push(match c.audience.value() {
        Some(a) => match cx.lang {
            Lang::De => format!("Zielgruppe: {a} Personen."),
            Lang::En => format!("Audience: {a} people."),
        },
        None => format!(
            "{}: {}.",
            cx.t("Zielgruppe", "Audience"),
            cx.suppressed(&c.audience)
        ),
    });
    for (what, rate, of) in [
        (
            cx.t("Eingewilligt", "Consented"),
            &c.consent_rate,
            cx.t("der Zielgruppe", "of the audience"),
        ),
        (
            cx.t("Abgeschlossen", "Finished"),
            &c.finish_rate,
            cx.t("der Eingewilligten", "of those who consented"),
        ),
        (
            cx.t("Teilweise beantwortet", "Partly answered"),
            &c.partial_rate,
            cx.t("der Eingewilligten", "of those who consented"),
        ),
    ] {
        out.push(match rate.value() {
            Some(p) => format!(
                "{what}: {} {} {} ({} % {of}; 95 %-{} {} % {} {} %).",
                p.x,
                cx.t("von", "of"),
                p.n,
                cx.num(100.0 * p.p, 0),
                cx.t("KI", "CI"),
                cx.num(100.0 * p.ci95.low, 0),
                cx.t("bis", "to"),
                cx.num(100.0 * p.ci95.high, 0),
            ),
            None => format!("{what}: {}.", cx.suppressed(rate)),
        });
    }
    out
}

/// What the scale of an instrument means.
pub(super) fn scale_hint(cx: &Ctx, i: Instrument) -> String {
    match i {
        Instrument::Sus => cx.t(
            "SUS 0–100, höher ist besser; Durchschnitt vieler Studien ≈ 68.",
            "SUS 0–100, higher is better; average of many studies ≈ 68.",
        ),
        Instrument::UmuxLite => cx.t(
            "UMUX-Lite 0–100, höher ist besser (deutsche Fassung nicht validiert).",
            "UMUX-Lite 0–100, higher is better.",
        ),
        Instrument::UeqS => cx.t(
            "UEQ-S −3 bis +3; über +0,8 positiv, unter −0,8 negativ.",
            "UEQ-S −3 to +3; above +0.8 positive, below −0.8 negative.",
        ),
        Instrument::Nps => cx.t(
            "Weiterempfehlung (NPS) −100 bis +100: Anteil Promotoren minus Anteil Kritiker.",
            "Recommendation (NPS) −100 to +100: share of promoters minus share of detractors.",
        ),
        Instrument::Seq => cx.t(
            "SEQ 1 (sehr schwer) bis 7 (sehr leicht); typisch sind etwa 5,5.",
            "SEQ 1 (very difficult) to 7 (very easy); about 5.5 is typical.",
        ),
    }
    .to_owned()
}

/// One system-against-system difference in words.
pub(super) fn comparison(cx: &Ctx, c: &Comparison) -> String {
    let label = score_label(&c.a, cx);
    let Some(d) = c.result.value() else {
        return format!(
            "{label}, {} – {}: {} {}.",
            c.a.subject,
            c.b.subject,
            cx.t("Vergleich", "comparison"),
            cx.suppressed(&c.result)
        );
    };
    let dd = decimals(c.a.instrument);
    let (higher, lower) = if d.diff >= 0.0 {
        (&c.a.subject, &c.b.subject)
    } else {
        (&c.b.subject, &c.a.subject)
    };
    let method = match (d.method, c.kind) {
        (crate::stats::compare::Method::Paired, _) => cx.t(
            "gepaart: dieselben Personen bewerteten beide Systeme",
            "paired: the same people rated both systems",
        ),
        (crate::stats::compare::Method::Welch, ComparisonKind::Subjects) => cx.t(
            "Welch-Test, unabhängige Gruppen",
            "Welch test, independent groups",
        ),
        (crate::stats::compare::Method::Welch, ComparisonKind::Rounds) => "Welch",
    };
    let size = cx.num(d.diff.abs(), dd);
    let main = match cx.lang {
        Lang::De => format!(
            "{label}: {higher} liegt {size} Punkte über {lower} (Differenz {} − {} = {}, 95 %-KI {}; {method}; n = {} / {}).",
            c.a.subject,
            c.b.subject,
            cx.signed(d.diff, dd),
            cx.range(d.ci95.low, d.ci95.high, dd),
            d.n_a,
            d.n_b
        ),
        Lang::En => format!(
            "{label}: {higher} is {size} points above {lower} (difference {} − {} = {}, 95 % CI {}; {method}; n = {} / {}).",
            c.a.subject,
            c.b.subject,
            cx.signed(d.diff, dd),
            cx.range(d.ci95.low, d.ci95.high, dd),
            d.n_a,
            d.n_b
        ),
    };
    format!("{main} {}", established(cx, d.ci95.low, d.ci95.high))
}

/// The UEQ-S scales in words.
pub(super) fn ueq(cx: &Ctx, list: &[&InstrumentReport]) -> Vec<String> {
    let mut out = vec![
        cx.t(
            "Pragmatische Qualität: unterstützend, einfach, effizient, übersichtlich. Hedonische Qualität: spannend, interessant, originell, neuartig. Werte über +0,8 gelten als positiv, unter −0,8 als negativ, dazwischen als neutral.",
            "Pragmatic quality: supportive, easy, efficient, clear. Hedonic quality: exciting, interesting, inventive, leading edge. Values above +0.8 count as positive, below −0.8 as negative, in between as neutral.",
        )
        .to_owned(),
    ];
    let mut subjects: Vec<&str> = Vec::new();
    for i in list {
        if !subjects.contains(&i.key.subject.as_str()) {
            subjects.push(&i.key.subject);
        }
    }
    for subject in subjects {
        let parts: Vec<String> = list
            .iter()
            .filter(|i| i.key.subject == subject)
            .map(|i| {
                let scale = i
                    .key
                    .scale
                    .map(|s| super::scale_label(s, cx))
                    .unwrap_or_default();
                match (i.score.value(), i.n.value(), i.reading.value()) {
                    (Some(m), Some(n), Some(Reading::Ueq { band })) => format!(
                        "{scale} {} ({}, n = {n})",
                        cx.num(m.mean, 2),
                        names::band_label(*band, cx.lang)
                    ),
                    _ => format!("{scale} {}", cx.suppressed(&i.score)),
                }
            })
            .collect();
        out.push(format!("{subject}: {}.", parts.join("; ")));
    }
    out
}

fn count_or<T>(cx: &Ctx, g: &Gated<T>) -> Option<String> {
    g.is_suppressed().then(|| cx.suppressed(g))
}

/// A 0–10 distribution in words; `colour_key` when the chart is drawn with NPS colours.
pub(super) fn distribution(
    cx: &Ctx,
    item: &ItemReport,
    nps: Option<&InstrumentReport>,
    colour_key: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    match (
        item.n.value(),
        item.numeric.as_ref().and_then(|g| g.value()),
    ) {
        (Some(n), Some(m)) => out.push(match cx.lang {
            Lang::De => format!(
                "{n} Personen haben geantwortet; Mittelwert {} auf der Skala 0–10.",
                cx.num(m.mean, 1)
            ),
            Lang::En => format!(
                "{n} people answered; mean {} on the 0–10 scale.",
                cx.num(m.mean, 1)
            ),
        }),
        _ => out.push(format!("n: {}.", cx.suppressed(&item.n))),
    }
    let hidden: Vec<String> = {
        let mut v: Vec<String> = item
            .counts
            .iter()
            .filter_map(|c| count_or(cx, &c.count))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let shown = item.counts.iter().any(|c| !c.count.is_suppressed());
    if !hidden.is_empty() && shown {
        out.push(format!(
            "{} {}.",
            cx.t(
                "Spalten mit „–“ sind nicht gezeigt, weil sie eine kleine Gruppe erkennbar machen würden:",
                "Columns marked \"–\" are not shown because they would reveal a small group:"
            ),
            hidden.join("; ")
        ));
    }
    if colour_key {
        out.push(
            cx.t(
                "Farben: 9–10 Promotoren (grün), 7–8 Passive (grau), 0–6 Kritiker (rot).",
                "Colours: 9–10 promoters (green), 7–8 passives (grey), 0–6 detractors (red).",
            )
            .to_owned(),
        );
    }
    if let Some(i) = nps {
        match (i.score.value(), i.n.value()) {
            (Some(m), Some(n)) => {
                let ci = m
                    .ci95
                    .map(|c| {
                        format!(
                            " ({} {})",
                            cx.t("95 %-KI", "95 % CI"),
                            cx.range(c.low, c.high, 0)
                        )
                    })
                    .unwrap_or_default();
                out.push(match cx.lang {
                    Lang::De => format!(
                        "Weiterempfehlungswert (NPS): {}{ci}, n = {n}; Skala −100 bis +100.",
                        cx.num(m.mean, 0)
                    ),
                    Lang::En => format!(
                        "Net Promoter Score: {}{ci}, n = {n}; scale −100 to +100.",
                        cx.num(m.mean, 0)
                    ),
                });
            }
            _ => out.push(format!("NPS: {}.", cx.suppressed(&i.score))),
        }
        if let Some(cats) = &i.nps_categories {
            out.push(match cats.value() {
                Some(c) => match cx.lang {
                    Lang::De => format!(
                        "{} Promotoren, {} Passive, {} Kritiker.",
                        c.promoters, c.passives, c.detractors
                    ),
                    Lang::En => format!(
                        "{} promoters, {} passives, {} detractors.",
                        c.promoters, c.passives, c.detractors
                    ),
                },
                None => format!(
                    "{}: {}.",
                    cx.t(
                        "Aufteilung in Promotoren, Passive und Kritiker",
                        "Split into promoters, passives and detractors"
                    ),
                    cx.suppressed(cats)
                ),
            });
        }
    }
    out
}
