//! The report's lead, shared by the Markdown and HTML renderers so both open with the same
//! words: the answer to the pilot's question in one sentence (the systems compared, with the
//! interval and n), the caveats that matter at the report's size, the method (who was asked,
//! when, how many answered, self-selection, which translations are not validated) and a
//! legend for SUS grades.
//!
//! Plain text only, built from the suppressed report: a withheld figure stays withheld here
//! too (the sentence then says why), and the caller escapes for its format.

use crate::lang::Lang;
use crate::stats::compare::Method;
use crate::stats::{Comparison, ComparisonKind, Distributions, Reason, Report, RoundReport};
use crate::survey::Instrument;

use super::names;
use super::num::fixed;

/// The lead of one report in one language.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lead {
    /// The answer: one sentence on the comparison (or why there is none), then whether the
    /// difference is established.
    pub summary: Vec<String>,
    /// What limits the answer at this size.
    pub caveats: Vec<String>,
    /// Who was asked, when, how many answered, and how to read the figures.
    pub method: Vec<String>,
    /// The SUS grade and acceptability legend (empty when the report has no SUS reading).
    pub legend: Vec<String>,
}

struct W {
    lang: Lang,
    k: u64,
}

impl W {
    fn t<'a>(&self, de: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(de, en)
    }

    fn num(&self, x: f64, d: usize) -> String {
        let s = fixed(x, d, self.lang == Lang::De);
        match s.strip_prefix('-') {
            Some(rest) => format!("−{rest}"),
            None => s,
        }
    }

    fn pct(&self, x: u64, n: u64) -> String {
        let p = if n == 0 {
            0.0
        } else {
            100.0 * x as f64 / n as f64
        };
        format!("{}\u{a0}%", fixed(p, 0, self.lang == Lang::De))
    }

    fn reason(&self, r: Reason) -> String {
        names::reason_label(r, self.k, self.k, self.lang)
    }

    fn date(&self, t: jiff::Timestamp) -> String {
        let z = t.to_zoned(jiff::tz::TimeZone::UTC);
        match self.lang {
            Lang::De => z.strftime("%d.%m.%Y").to_string(),
            Lang::En => z.strftime("%Y-%m-%d").to_string(),
        }
    }

    fn period(&self, r: &RoundReport) -> String {
        match (&r.label, r.closed_at) {
            (Some(label), _) => format!(
                "{} „{label}“, {} {}",
                self.t("Import", "import"),
                self.t("eingelesen am", "imported on"),
                self.date(r.opened_at)
            ),
            (None, Some(c)) => format!("{} – {}", self.date(r.opened_at), self.date(c)),
            (None, None) => format!(
                "{} {}, {}",
                self.t("seit", "since"),
                self.date(r.opened_at),
                self.t("noch offen", "still open")
            ),
        }
    }
}

fn decimals(i: Instrument) -> usize {
    match i {
        Instrument::Sus | Instrument::UmuxLite | Instrument::Nps => 1,
        Instrument::UeqS | Instrument::Seq => 2,
    }
}

/// The measure's name with its scale, as the summary sentence uses it.
fn measure(w: &W, c: &Comparison) -> String {
    let name = names::instrument_label(c.a.instrument, w.lang);
    match c.a.instrument {
        Instrument::Sus => format!("{name} (0–100)"),
        Instrument::UmuxLite => format!("{name} (0–100)"),
        Instrument::Nps => format!("{name} (−100 {} +100)", w.t("bis", "to")),
        Instrument::UeqS => format!("{name} (−3 {} +3)", w.t("bis", "to")),
        Instrument::Seq => format!("{name} (1–7)"),
    }
}

/// How much a comparison answers the pilot's question: SUS first, then the shorter scores.
fn rank(i: Instrument) -> u8 {
    match i {
        Instrument::Sus => 0,
        Instrument::UmuxLite => 1,
        Instrument::UeqS => 2,
        Instrument::Nps => 3,
        Instrument::Seq => 4,
    }
}

/// The comparison the summary leads with: the latest round that compares two systems, its
/// highest-ranked measure (a UEQ-S comparison on its overall scale).
/// A published one if any round has one, else the latest withheld one (to say why).
fn headline(report: &Report) -> Option<(&RoundReport, &Comparison)> {
    let best = |published: bool| {
        report.rounds.iter().rev().find_map(|r| {
            r.comparisons
                .iter()
                .filter(|c| c.kind == ComparisonKind::Subjects)
                .filter(|c| !published || c.result.value().is_some())
                .filter(|c| {
                    c.a.scale.is_none() || c.a.scale == Some(crate::stats::UeqScale::Overall)
                })
                .min_by_key(|c| rank(c.a.instrument))
                .map(|c| (r, c))
        })
    };
    best(true).or_else(|| best(false))
}

/// Later rounds than `after` that compare the systems but had to withhold it, with why.
fn later_withheld(report: &Report, after: u32) -> Vec<(u32, Reason)> {
    report
        .rounds
        .iter()
        .filter(|r| r.round > after)
        .filter_map(|r| {
            r.comparisons
                .iter()
                .filter(|c| c.kind == ComparisonKind::Subjects)
                .find_map(|c| c.result.reason())
                .map(|why| (r.round, why))
        })
        .collect()
}

/// The round's finished responses and audience, if both are published.
fn response_counts(r: &RoundReport) -> Option<(u64, u64)> {
    Some((
        *r.completion.finished.value()?,
        *r.completion.audience.value()?,
    ))
}

/// The round's response rate as text ("19 von 40 (48 %)"), if both counts are published.
fn response(w: &W, r: &RoundReport) -> Option<String> {
    let (f, a) = response_counts(r)?;
    Some(format!("{f} {} {a} ({})", w.t("von", "of"), w.pct(f, a)))
}

/// Builds the lead of `report` in `lang`.
pub(crate) fn lead(report: &Report, lang: Lang) -> Lead {
    let w = W {
        lang,
        k: report.policy.k(),
    };
    let mut summary = Vec::new();
    let mut caveats = Vec::new();
    let published_rounds = report
        .rounds
        .iter()
        .filter(|r| r.closed_at.is_some() || r.label.is_some())
        .count();
    match headline(report) {
        Some((r, c)) => match c.result.value() {
            Some(d) => {
                let dd = decimals(c.a.instrument);
                let (a, b) = (&c.a.subject, &c.b.subject);
                let dir = if d.diff >= 0.0 {
                    w.t("über", "above")
                } else {
                    w.t("unter", "below")
                };
                let n = match d.method {
                    Method::Paired => match lang {
                        Lang::De => format!("n = {} Personen, die beide bewertet haben", d.n_a),
                        Lang::En => format!("n = {} people who rated both", d.n_a),
                    },
                    Method::Welch => format!("n = {} {} {}", d.n_a, w.t("und", "and"), d.n_b),
                };
                // A paired difference rests on the pairs only, so its means can differ from
                // the systems' scores in the tables; the sentence says whose means they are.
                let who = match (d.method, lang) {
                    (Method::Paired, Lang::De) => " bei denen, die beide bewertet haben",
                    (Method::Paired, Lang::En) => " among those who rated both",
                    (Method::Welch, _) => "",
                };
                summary.push(match lang {
                    Lang::De => format!(
                        "{}, {}: {a} erreicht {}{who}, {b} {}; {a} liegt {} Punkte {dir} {b} (95\u{a0}%-KI der Differenz {} bis {}; {n}).",
                        names::round_label(r.round, lang),
                        measure(&w, c),
                        w.num(d.mean_a, dd),
                        w.num(d.mean_b, dd),
                        w.num(d.diff.abs(), dd),
                        w.num(d.ci95.low, dd),
                        w.num(d.ci95.high, dd),
                    ),
                    Lang::En => format!(
                        "{}, {}: {a} scores {}{who}, {b} {}; {a} is {} points {dir} {b} (95\u{a0}% CI of the difference {} to {}; {n}).",
                        names::round_label(r.round, lang),
                        measure(&w, c),
                        w.num(d.mean_a, dd),
                        w.num(d.mean_b, dd),
                        w.num(d.diff.abs(), dd),
                        w.num(d.ci95.low, dd),
                        w.num(d.ci95.high, dd),
                    ),
                });
                let established = d.ci95.low > 0.0 || d.ci95.high < 0.0;
                summary.push(
                    if established {
                        w.t(
                            "Das Intervall schließt 0 aus: der Unterschied ist statistisch gesichert.",
                            "The interval excludes 0: the difference is statistically established.",
                        )
                    } else {
                        w.t(
                            "Das Intervall schließt 0 ein: ein Unterschied ist nicht gesichert.",
                            "The interval includes 0: a difference is not established.",
                        )
                    }
                    .to_owned(),
                );
                for (round, why) in later_withheld(report, r.round) {
                    summary.push(match lang {
                        Lang::De => format!(
                            "{}: kein Vergleich möglich ({}).",
                            names::round_label(round, lang),
                            w.reason(why)
                        ),
                        Lang::En => format!(
                            "{}: no comparison ({}).",
                            names::round_label(round, lang),
                            w.reason(why)
                        ),
                    });
                }
                let half = (d.ci95.high - d.ci95.low) / 2.0;
                caveats.push(match lang {
                    Lang::De => format!(
                        "Wenige Antworten, breite Intervalle: die Differenz ist nur auf ±{} Punkte genau.",
                        w.num(half, dd)
                    ),
                    Lang::En => format!(
                        "Few answers, wide intervals: the difference is precise to ±{} points only.",
                        w.num(half, dd)
                    ),
                });
                if d.method == Method::Welch && d.n_a != d.n_b {
                    caveats.push(match lang {
                        Lang::De => format!(
                            "{a} bewerteten {} Personen, {b} {}: nicht alle haben beide Systeme bewertet, die Gruppen sind nicht dieselben.",
                            d.n_a, d.n_b
                        ),
                        Lang::En => format!(
                            "{} people rated {a}, {} rated {b}: not everyone rated both, so the groups are not the same.",
                            d.n_a, d.n_b
                        ),
                    });
                }
            }
            None => {
                let reason = w.reason(c.result.reason().unwrap_or(Reason::BelowMinGroupSize));
                summary.push(match lang {
                    Lang::De => format!(
                        "{}: kein Vergleich von {} und {} im {} möglich ({reason}).",
                        names::round_label(r.round, lang),
                        c.a.subject,
                        c.b.subject,
                        names::instrument_label(c.a.instrument, lang)
                    ),
                    Lang::En => format!(
                        "{}: no comparison of {} and {} on the {} ({reason}).",
                        names::round_label(r.round, lang),
                        c.a.subject,
                        c.b.subject,
                        names::instrument_label(c.a.instrument, lang)
                    ),
                });
            }
        },
        None if published_rounds == 0 => summary.push(
            w.t(
                "Noch keine Runde ist abgeschlossen: der Bericht zeigt nur die Beteiligung.",
                "No round has closed yet: the report shows participation only.",
            )
            .to_owned(),
        ),
        None => {
            summary.push(
                w.t(
                    "Kein Vergleich zweier Systeme: in keiner Runde wurden zwei Systeme mit demselben Fragebogen bewertet.",
                    "No comparison of two systems: no round rated two systems with the same questionnaire.",
                )
                .to_owned(),
            );
            // The latest published SUS (or first published score) per system instead.
            if let Some(r) = report.rounds.iter().rev().find(|r| {
                r.instruments
                    .iter()
                    .any(|i| i.key.scale.is_none() && !i.score.is_suppressed())
            }) {
                for i in r
                    .instruments
                    .iter()
                    .filter(|i| i.key.scale.is_none() && i.key.instrument == Instrument::Sus)
                {
                    if let (Some(m), Some(n)) = (i.score.value(), i.n.value()) {
                        let ci = m.ci95.map_or_else(String::new, |c| {
                            format!(
                                "; 95\u{a0}%-{} {} {} {}",
                                w.t("KI", "CI"),
                                w.num(c.low, 1),
                                w.t("bis", "to"),
                                w.num(c.high, 1)
                            )
                        });
                        summary.push(format!(
                            "{}, SUS {}: {} (n = {n}{ci}).",
                            names::round_label(r.round, lang),
                            i.key.subject,
                            w.num(m.mean, 1)
                        ));
                    }
                }
            }
        }
    }
    // Self-selection, with the response rate of the round the answer rests on.
    let basis = headline(report).map(|(r, _)| r).or_else(|| {
        report
            .rounds
            .iter()
            .rev()
            .find(|r| r.closed_at.is_some() || r.label.is_some())
    });
    if let Some(r) = basis {
        caveats.push(match (response_counts(r), lang) {
            (Some((f, a)), Lang::De) => format!(
                "Freiwillige Teilnahme: in {} haben {f} der {a} Befragten geantwortet ({}). Wer antwortet, wählt sich selbst aus; die Werte gelten für die Antwortenden, nicht für alle Beschäftigten.",
                names::round_label(r.round, lang),
                w.pct(f, a)
            ),
            (Some((f, a)), Lang::En) => format!(
                "Voluntary: in {}, {f} of the {a} people asked answered ({}). Respondents select themselves; the figures describe them, not all staff.",
                names::round_label(r.round, lang).to_lowercase(),
                w.pct(f, a)
            ),
            (None, _) => w
                .t(
                    "Freiwillige Teilnahme: wer antwortet, wählt sich selbst aus; die Werte gelten für die Antwortenden, nicht für alle Beschäftigten.",
                    "Voluntary: respondents select themselves; the figures describe them, not all staff.",
                )
                .to_owned(),
        });
    }
    let has = |i: Instrument| {
        report
            .rounds
            .iter()
            .any(|r| r.instruments.iter().any(|x| x.key.instrument == i))
    };
    if has(Instrument::UmuxLite) {
        caveats.push(
            w.t(
                "UMUX-Lite: die deutsche Übersetzung ist nicht validiert, und sein SUS-Äquivalent ist nur eine Schätzung.",
                "UMUX-Lite: the German translation is not validated, and its SUS equivalent is only an estimate.",
            )
            .to_owned(),
        );
    }
    if let Some(open) = report
        .rounds
        .iter()
        .find(|r| r.closed_at.is_none() && r.label.is_none())
    {
        caveats.push(match lang {
            Lang::De => format!(
                "{} läuft noch: sie zeigt nur die Beteiligung, Ergebnisse folgen nach dem Ende.",
                names::round_label(open.round, lang)
            ),
            Lang::En => format!(
                "{} is still open: it shows participation only; results follow after it closes.",
                names::round_label(open.round, lang)
            ),
        });
    }

    let mut method = Vec::new();
    method.push(
        w.t(
            "Befragt wurden die Mitglieder der Pilot-Räume, jede Person einzeln im verschlüsselten Chat mit dem Bot und nur nach ihrer Einwilligung. Die Antworten sind anonym gespeichert.",
            "Those asked were the members of the pilot rooms, each person on their own in an encrypted chat with the bot and only after they consented. Answers are stored anonymously.",
        )
        .to_owned(),
    );
    let imported: Vec<&str> = report
        .rounds
        .iter()
        .filter_map(|r| r.label.as_deref())
        .collect();
    if !imported.is_empty() {
        method.push(match lang {
            Lang::De => format!(
                "Importierte Runden („{}“) wurden mit einem anderen Werkzeug erhoben und eingelesen; ihre Daten sind die des Imports.",
                imported.join("“, „")
            ),
            Lang::En => format!(
                "Imported rounds (\"{}\") were collected with another tool and read in; their dates are those of the import.",
                imported.join("\", \"")
            ),
        });
    }
    for r in &report.rounds {
        let c = &r.completion;
        let count = |g: &crate::stats::Gated<u64>| match g.value() {
            Some(v) => v.to_string(),
            None => format!(
                "{} ({})",
                w.t("unterdrückt", "suppressed"),
                w.reason(g.reason().unwrap_or(Reason::BelowMinGroupSize))
            ),
        };
        let rate = response(&w, r)
            .map(|x| format!("; {} {x}", w.t("Rücklauf", "response rate")))
            .unwrap_or_default();
        method.push(match lang {
            Lang::De => format!(
                "{} ({}): Zielgruppe {}, eingewilligt {}, abgeschlossen {}, teilweise beantwortet {}{rate}.",
                names::round_label(r.round, lang),
                w.period(r),
                count(&c.audience),
                count(&c.consented),
                count(&c.finished),
                count(&c.partial),
            ),
            Lang::En => format!(
                "{} ({}): audience {}, consented {}, finished {}, partly answered {}{rate}.",
                names::round_label(r.round, lang),
                w.period(r),
                count(&c.audience),
                count(&c.consented),
                count(&c.finished),
                count(&c.partial),
            ),
        });
    }
    method.push(
        w.t(
            "Selbstauswahl: wer teilnimmt, entscheidet selbst; Interessierte und Betroffene antworten eher. Die Ergebnisse sind nicht repräsentativ für alle Beschäftigten.",
            "Self-selection: people decide themselves whether to take part; the interested and the affected answer more often. The results do not represent all staff.",
        )
        .to_owned(),
    );
    let rule = match report.policy.distributions {
        Distributions::Group => match lang {
            Lang::De => format!(
                "eine Verteilung erscheint, wenn mindestens {} Personen die Frage beantwortet haben",
                w.k
            ),
            Lang::En => format!(
                "a distribution is shown when at least {} people answered the question",
                w.k
            ),
        },
        Distributions::Cell => match lang {
            Lang::De => format!(
                "eine Verteilung erscheint nur, wenn jede Antwortmöglichkeit von 0 oder mindestens {} Personen gewählt wurde",
                w.k
            ),
            Lang::En => format!(
                "a distribution is shown only when each option was chosen by 0 or at least {} people",
                w.k
            ),
        },
    };
    method.push(match lang {
        Lang::De => format!(
            "Datenschutz: Werte aus weniger als {} Antworten sind unterdrückt, mit dem Grund an ihrer Stelle; {rule}. „95\u{a0}%-KI“ ist das 95\u{a0}%-Konfidenzintervall: der Bereich, in dem der wahre Wert mit hoher Wahrscheinlichkeit liegt.",
            w.k
        ),
        Lang::En => format!(
            "Privacy: figures from fewer than {} answers are suppressed, with the reason in their place; {rule}. \"95\u{a0}% CI\" is the 95\u{a0}% confidence interval: the range in which the true value lies with high probability.",
            w.k
        ),
    });
    let mut translations = Vec::new();
    if has(Instrument::UmuxLite) {
        translations.push(umux_caveat(&w));
    }
    if has(Instrument::Sus) {
        translations.push(
            w.t(
                "SUS: deutsche Fassung von B. Rummel (SAP); Noten und Durchschnitt (≈\u{a0}68) stammen aus veröffentlichten Studien.",
                "SUS: German version by B. Rummel (SAP); grades and the average (≈\u{a0}68) come from published studies.",
            )
            .to_owned(),
        );
    }
    if has(Instrument::UeqS) {
        translations.push(
            w.t(
                "UEQ-S: im Original deutsch.",
                "UEQ-S: constructed in German.",
            )
            .to_owned(),
        );
    }
    if !translations.is_empty() {
        method.push(format!(
            "{} {}",
            w.t("Übersetzungen:", "Translations:"),
            translations.join(" ")
        ));
    }

    let mut legend = Vec::new();
    if has(Instrument::Sus) || has(Instrument::UmuxLite) {
        let d = |x: f64| w.num(x, 1);
        let grades = [
            ("A+", 84.1, 100.0),
            ("A", 80.8, 84.0),
            ("A−", 78.9, 80.7),
            ("B+", 77.2, 78.8),
            ("B", 74.1, 77.1),
            ("B−", 72.6, 74.0),
            ("C+", 71.1, 72.5),
            ("C", 65.0, 71.0),
            ("C−", 62.7, 64.9),
            ("D", 51.7, 62.6),
            ("F", 0.0, 51.6),
        ]
        .iter()
        .map(|(g, lo, hi)| format!("{g} {}–{}", d(*lo), d(*hi)))
        .collect::<Vec<_>>()
        .join(" · ");
        legend.push(format!(
            "{}: {grades}.",
            w.t(
                "SUS-Noten (Sauro & Lewis, nach dem SUS-Wert)",
                "SUS grades (Sauro & Lewis, by SUS score)"
            )
        ));
        legend.push(
            w.t(
                "Akzeptanz (Bangor u. a.): unter 50 nicht akzeptabel, 50–70 grenzwertig, über 70 akzeptabel. Der Durchschnitt vieler Studien liegt bei etwa 68 (Note C).",
                "Acceptability (Bangor et al.): below 50 not acceptable, 50–70 marginal, above 70 acceptable. The average of many studies is about 68 (grade C).",
            )
            .to_owned(),
        );
    }
    Lead {
        summary,
        caveats,
        method,
        legend,
    }
}

/// UMUX-Lite's translation caveat in full, for the method.
fn umux_caveat(w: &W) -> String {
    w.t(
        "UMUX-Lite: eine validierte deutsche Fassung ist nicht bekannt, die hier gestellte Übersetzung ist nicht validiert; sein SUS-Äquivalent (0,65 × UMUX-Lite + 22,9) ist eine Schätzung aus Studien mit der englischen 7-stufigen Fassung, keine gemessene SUS-Note.",
        "UMUX-Lite: no validated German version is known, so German answers use an unvalidated translation; its SUS equivalent (0.65 × UMUX-Lite + 22.9) is an estimate from studies of the English 7-point version, not a measured SUS grade.",
    )
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Policy, RoundInput, build_report, fixture};

    fn report_of(rounds: Vec<RoundInput>, policy: Policy) -> Report {
        build_report(&fixture::survey(), rounds, policy, fixture::generated_at())
            .unwrap_or_else(|e| panic!("fixture report: {e}"))
    }

    /// The fixture (rounds of 21, 9 and 3 responses, k = 5): the summary leads with the
    /// latest published comparison, with its interval and n, and says why round 3 has none.
    #[test]
    fn the_summary_leads_with_the_comparison_its_interval_and_n() {
        let r = report_of(fixture::rounds(), Policy::new(5));
        let de = lead(&r, Lang::De);
        assert_eq!(
            de.summary,
            [
                "Runde 2, SUS (0–100): BundesMessenger erreicht 75,3, Webex 63,1; BundesMessenger liegt 12,2 Punkte über Webex (95\u{a0}%-KI der Differenz 2,8 bis 21,5; n = 9 und 8).",
                "Das Intervall schließt 0 aus: der Unterschied ist statistisch gesichert.",
                "Runde 3: kein Vergleich möglich (weniger als 5 Antworten).",
            ]
        );
        let caveats = de.caveats.join("\n");
        for needle in [
            "±9,3 Punkte",
            "BundesMessenger bewerteten 9 Personen, Webex 8",
            "in Runde 2 haben 9 der 40 Befragten geantwortet (22\u{a0}%)",
            "UMUX-Lite: die deutsche Übersetzung ist nicht validiert",
        ] {
            assert!(caveats.contains(needle), "`{needle}` not in {caveats}");
        }
        let method = de.method.join("\n");
        for needle in [
            "Runde 1 (03.03.2025 – 06.03.2025): Zielgruppe 40, eingewilligt 24, abgeschlossen 19, teilweise beantwortet 2; Rücklauf 19 von 40 (48\u{a0}%).",
            "Selbstauswahl",
            "eine Verteilung erscheint, wenn mindestens 5 Personen die Frage beantwortet haben",
            "UMUX-Lite: eine validierte deutsche Fassung ist nicht bekannt",
            "SUS-Äquivalent (0,65 × UMUX-Lite + 22,9)",
        ] {
            assert!(method.contains(needle), "`{needle}` not in {method}");
        }
        assert!(de.legend[0].contains("B 74,1–77,1"), "{:?}", de.legend);
        // The caveats hold in English too (the German translation is what people answered).
        let en = lead(&r, Lang::En);
        assert!(en.summary[0].contains("BundesMessenger is 12.2 points above Webex"));
        assert!(
            en.caveats
                .iter()
                .any(|c| c.contains("German translation is not validated"))
        );
        assert!(
            en.method
                .iter()
                .any(|m| m.contains("its SUS equivalent (0.65 × UMUX-Lite + 22.9) is an estimate"))
        );
        assert!(en.legend[0].contains("B 74.1–77.1"));
    }

    /// A round of 3 responses (k = 5): the comparison is withheld, and the summary says why
    /// (fewer than k answers), never a number.
    #[test]
    fn a_withheld_comparison_is_named_with_its_reason() {
        let r = report_of(vec![fixture::round(1, 3, 0, 40)], Policy::new(5));
        let de = lead(&r, Lang::De);
        assert_eq!(
            de.summary,
            [
                "Runde 1: kein Vergleich von BundesMessenger und Webex im SUS möglich (weniger als 5 Antworten)."
            ]
        );
    }

    /// No round rated two systems: the summary says so and gives the SUS that exists.
    #[test]
    fn no_comparison_available_is_said_honestly() {
        let mut round = fixture::round(1, 19, 2, 40);
        for rec in &mut round.responses {
            rec.answers.retain(|k, _| !k.contains("webex"));
        }
        let r = report_of(vec![round], Policy::new(5));
        let de = lead(&r, Lang::De);
        assert!(
            de.summary[0].starts_with("Kein Vergleich zweier Systeme"),
            "{:?}",
            de.summary
        );
        assert!(
            de.summary[1].starts_with("Runde 1, SUS BundesMessenger: 74,2 (n = 21; 95\u{a0}%-KI"),
            "{:?}",
            de.summary
        );
        // Nothing closed yet: participation only.
        let mut open = fixture::round(1, 19, 2, 40);
        open.closed_at = None;
        let de = lead(&report_of(vec![open], Policy::new(5)), Lang::De);
        assert_eq!(
            de.summary,
            ["Noch keine Runde ist abgeschlossen: der Bericht zeigt nur die Beteiligung."]
        );
    }

    /// Participation in the method: an audience of k − 1 is withheld with its reason, an
    /// audience of k shows every count and the response rate (group rule); the cell rule
    /// is named as such.
    #[test]
    fn participation_in_the_method_just_below_and_at_k() {
        let below = lead(
            &report_of(vec![fixture::round(1, 3, 0, 4)], Policy::new(5)),
            Lang::En,
        );
        assert!(
            below.method[1].contains("audience suppressed (fewer than 5 responses)"),
            "{:?}",
            below.method
        );
        assert!(!below.method[1].contains("response rate"));
        let at = lead(
            &report_of(vec![fixture::round(1, 1, 0, 5)], Policy::new(5)),
            Lang::En,
        );
        assert!(
            at.method[1].contains("audience 5, consented 4, finished 1, partly answered 0; response rate 1 of 5 (20\u{a0}%)"),
            "{:?}",
            at.method
        );
        let cell = Policy::new(5).with_distributions(Distributions::Cell);
        let cell = lead(&report_of(vec![fixture::round(1, 1, 0, 5)], cell), Lang::En);
        assert!(
            cell.method
                .iter()
                .any(|m| m.contains("each option was chosen by 0 or at least 5 people")),
            "{:?}",
            cell.method
        );
    }
}
