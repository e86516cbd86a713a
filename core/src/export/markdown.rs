//! Markdown for wikis and chat: the full report ([`report`]) and a short post-round summary
//! ([`summary`]), German by default, English on request.
//!
//! Written for council members, not statisticians: every table names n, intervals are
//! "95 %-KI" ranges, grades and bands are spelled out, and a withheld figure shows `–` with
//! a numbered note saying why (never an empty cell). German text uses decimal commas.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::lang::Lang;
use crate::stats::describe::Interval;
use crate::stats::{
    Comparison, ComparisonKind, Gated, InstrumentReport, ItemKind, ItemReport, Moments, Reading,
    Reason, Report, RoundReport, ScoreKey,
};
use crate::survey::Instrument;

use super::names;
use super::num::fixed;

/// Collects the reasons used, so each gets one numbered note.
struct Notes {
    lang: Lang,
    k: u64,
    k_text: u64,
    used: BTreeMap<Reason, usize>,
}

impl Notes {
    fn mark(&mut self, r: Reason) -> String {
        let next = self.used.len() + 1;
        let i = *self.used.entry(r).or_insert(next);
        format!("–<sup>{i}</sup>")
    }

    fn render(&self) -> String {
        let mut by_num: Vec<(usize, Reason)> = self.used.iter().map(|(r, i)| (*i, *r)).collect();
        by_num.sort();
        let mut s = String::new();
        for (i, r) in by_num {
            let _ = writeln!(
                s,
                "<sup>{i}</sup> {}: {}.  ",
                self.lang.pick("unterdrückt", "suppressed"),
                names::reason_label(r, self.k, self.k_text, self.lang)
            );
        }
        s
    }
}

struct Md {
    lang: Lang,
    comma: bool,
    notes: Notes,
}

impl Md {
    fn t<'a>(&self, de: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(de, en)
    }

    fn num(&self, x: f64, decimals: usize) -> String {
        fixed(x, decimals, self.comma)
    }

    fn ci(&self, ci: Option<Interval>, decimals: usize) -> String {
        ci.map_or_else(
            || "–".to_owned(),
            |c| {
                format!(
                    "{} – {}",
                    self.num(c.low, decimals),
                    self.num(c.high, decimals)
                )
            },
        )
    }

    fn pct(&self, p: f64) -> String {
        format!("{} %", fixed(100.0 * p, 0, self.comma))
    }

    /// A gated value, or the dash with its note.
    fn gated<T>(&mut self, g: &Gated<T>, f: impl FnOnce(&Self, &T) -> String) -> String {
        match g.value() {
            Some(v) => f(self, v),
            None => self
                .notes
                .mark(g.reason().unwrap_or(Reason::BelowMinGroupSize)),
        }
    }

    fn date(&self, t: jiff::Timestamp) -> String {
        let z = t.to_zoned(jiff::tz::TimeZone::UTC);
        match self.lang {
            Lang::De => z.strftime("%d.%m.%Y").to_string(),
            Lang::En => z.strftime("%Y-%m-%d").to_string(),
        }
    }
}

/// Participant text as inert Markdown: line breaks flattened, HTML and Markdown syntax
/// characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
pub(crate) fn escape_for_test(text: &str) -> String {
    escape(text)
}

/// Decimals for a score: 0–100 scales get one, short scales two.
fn decimals(i: Instrument) -> usize {
    match i {
        Instrument::Sus | Instrument::UmuxLite | Instrument::Nps => 1,
        Instrument::UeqS | Instrument::Seq => 2,
    }
}

fn score_label(key: &ScoreKey, md: &Md) -> String {
    let mut s = names::instrument_label(key.instrument, md.lang).to_owned();
    if let Some(scale) = key.scale {
        let name = match scale {
            crate::stats::UeqScale::Pragmatic => md.t("pragmatisch", "pragmatic"),
            crate::stats::UeqScale::Hedonic => md.t("hedonisch", "hedonic"),
            crate::stats::UeqScale::Overall => md.t("gesamt", "overall"),
        };
        let _ = write!(s, " {name}");
    }
    if let Some(task) = &key.task {
        let _ = write!(s, " „{}“", task.get(md.lang));
    }
    s
}

fn reading(md: &Md, r: &Reading) -> String {
    match r {
        Reading::Sus {
            grade,
            acceptability,
        } => format!(
            "{} {grade}, {}",
            md.t("Note", "grade"),
            names::acceptability_label(*acceptability, md.lang)
        ),
        Reading::UmuxLite {
            sus_equivalent,
            grade,
            ..
        } => format!(
            "{} {} ({} {grade})",
            md.t("SUS-Äquivalent", "SUS equivalent"),
            md.num(*sus_equivalent, 1),
            md.t("Note", "grade"),
        ),
        Reading::Ueq { band } => names::band_label(*band, md.lang).to_owned(),
        Reading::Nps => md.t("Skala −100 bis +100", "scale −100 to +100").to_owned(),
        Reading::Seq => md
            .t(
                "1 = sehr schwer … 7 = sehr leicht",
                "1 = very difficult … 7 = very easy",
            )
            .to_owned(),
    }
}

fn instruments_table(s: &mut String, md: &mut Md, list: &[InstrumentReport]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### {}\n",
        md.t("Standardfragebögen", "Standard questionnaires")
    );
    let _ = writeln!(
        s,
        "| {} | {} | n | {} | SD | {} | {} |",
        md.t("Fragebogen", "Questionnaire"),
        md.t("System", "System"),
        // Not "mean": the NPS is a difference of shares, and SUS a scaled sum per person.
        md.t("Wert", "Score"),
        md.t("95 %-KI", "95 % CI"),
        md.t("Einordnung", "Reading"),
    );
    s.push_str("|---|---|--:|--:|--:|---|---|\n");
    for i in list {
        let d = decimals(i.key.instrument);
        let label = score_label(&i.key, md);
        let n = md.gated(&i.n, |_, n| n.to_string());
        let mean = md.gated(&i.score, |md, m| {
            let v = md.num(m.mean, d);
            if i.key.instrument == Instrument::Nps {
                format!("NPS {v}")
            } else {
                v
            }
        });
        let sd = md.gated(&i.score, |md, m| {
            m.sd.map_or("–".into(), |x| md.num(x, d))
        });
        let ci = md.gated(&i.score, |md, m| md.ci(m.ci95, d));
        let mut rd = md.gated(&i.reading, reading);
        if let Some(cats) = &i.nps_categories {
            let c = md.gated(cats, |md, c| {
                format!(
                    "{} {} · {} {} · {} {}",
                    c.promoters,
                    md.t("Promotoren", "promoters"),
                    c.passives,
                    md.t("Passive", "passives"),
                    c.detractors,
                    md.t("Kritiker", "detractors"),
                )
            });
            rd = format!("{rd}; {c}");
        }
        let _ = writeln!(
            s,
            "| {label} | {} | {n} | {mean} | {sd} | {ci} | {rd} |",
            i.key.subject
        );
    }
    s.push('\n');
}

fn comparisons_table(s: &mut String, md: &mut Md, title: &str, list: &[Comparison]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(s, "### {title}\n");
    let _ = writeln!(
        s,
        "| {} | A − B | n (A / B) | {} | {} | {} |",
        md.t("Fragebogen", "Questionnaire"),
        md.t("Differenz", "Difference"),
        md.t("95 %-KI", "95 % CI"),
        md.t("Methode", "Method"),
    );
    s.push_str("|---|---|--:|--:|---|---|\n");
    for c in list {
        let d = decimals(c.a.instrument);
        let label = score_label(&c.a, md);
        let sides = match c.kind {
            ComparisonKind::Subjects => format!("{} − {}", c.a.subject, c.b.subject),
            ComparisonKind::Rounds => format!(
                "{}: {} {} − {} {}",
                c.a.subject,
                md.t("Runde", "round"),
                c.round_a,
                md.t("Runde", "round"),
                c.round_b
            ),
        };
        let n = md.gated(&c.result, |_, d| format!("{} / {}", d.n_a, d.n_b));
        let diff = md.gated(&c.result, |md, x| {
            let v = md.num(x.diff, d);
            if x.diff > 0.0 { format!("+{v}") } else { v }
        });
        let ci = md.gated(&c.result, |md, x| md.ci(Some(x.ci95), d));
        let method = md.gated(&c.result, |md, x| match x.method {
            crate::stats::compare::Method::Paired => md.t("gepaart (t)", "paired (t)").to_owned(),
            crate::stats::compare::Method::Welch => "Welch (t)".to_owned(),
        });
        let _ = writeln!(s, "| {label} | {sides} | {n} | {diff} | {ci} | {method} |");
    }
    let _ = writeln!(
        s,
        "\n{}\n",
        md.t(
            "Enthält das 95 %-KI der Differenz die 0, ist der Unterschied statistisch nicht gesichert.",
            "If the 95 % CI of a difference contains 0, the difference is not statistically established."
        )
    );
}

fn moments_cells(md: &mut Md, g: &Gated<Moments>) -> [String; 4] {
    [
        md.gated(g, |md, m| md.num(m.mean, 2)),
        md.gated(g, |md, m| m.sd.map_or("–".into(), |x| md.num(x, 2))),
        md.gated(g, |md, m| m.median.map_or("–".into(), |x| md.num(x, 1))),
        md.gated(g, |md, m| md.ci(m.ci95, 2)),
    ]
}

fn items_table(s: &mut String, md: &mut Md, items: &[ItemReport]) {
    let rows: Vec<&ItemReport> = items.iter().filter(|i| i.kind != ItemKind::Text).collect();
    if !rows.is_empty() {
        let _ = writeln!(s, "### {}\n", md.t("Einzelfragen", "Questions"));
        let _ = writeln!(
            s,
            "| {} | {} | n | {} | SD | Median | {} | {} |",
            md.t("Nr.", "Id"),
            md.t("Frage", "Question"),
            md.t("Mittelwert", "Mean"),
            md.t("95 %-KI", "95 % CI"),
            md.t("Verteilung", "Distribution"),
        );
        s.push_str("|---|---|--:|--:|--:|--:|---|---|\n");
        for i in rows {
            let n = md.gated(&i.n, |_, n| n.to_string());
            let [mean, sd, median, ci] = match &i.numeric {
                Some(g) => moments_cells(md, g),
                None => ["".into(), "".into(), "".into(), "".into()],
            };
            let dist: Vec<String> = i
                .counts
                .iter()
                .map(|c| {
                    let v = md.gated(&c.count, |_, v| v.to_string());
                    // Option ids of likert and instrument items are the points; name
                    // custom options by label.
                    let name = if c.option.chars().all(|ch| ch.is_ascii_digit()) {
                        c.option.clone()
                    } else {
                        c.label.get(md.lang).to_owned()
                    };
                    format!("{name}: {v}")
                })
                .collect();
            let text = i.text.get(md.lang).replace('|', "\\|");
            let _ = writeln!(
                s,
                "| {} | {text} | {n} | {mean} | {sd} | {median} | {ci} | {} |",
                i.id,
                dist.join(" · ")
            );
        }
        s.push('\n');
    }
    for i in items.iter().filter(|i| i.kind == ItemKind::Text) {
        let Some(t) = &i.texts else { continue };
        let n = md.gated(&i.n, |_, n| n.to_string());
        let _ = writeln!(s, "#### {} (n = {n})\n", i.text.get(md.lang));
        match t.value() {
            Some(texts) => {
                for line in texts {
                    // One bullet per answer, rendered as plain text: a participant's answer
                    // must not become a link, an image or HTML in the wiki.
                    let _ = writeln!(s, "- {}", escape(line));
                }
            }
            None => {
                let m = md
                    .notes
                    .mark(t.reason().unwrap_or(Reason::TextNotRequested));
                let _ = writeln!(
                    s,
                    "{m} {}",
                    md.t("Freitexte nicht enthalten.", "Free text not included.")
                );
            }
        }
        s.push('\n');
    }
}

fn completion(s: &mut String, md: &mut Md, r: &RoundReport) {
    let c = &r.completion;
    let _ = writeln!(s, "### {}\n", md.t("Beteiligung", "Participation"));
    let _ = writeln!(
        s,
        "| | {} | {} | {} |",
        md.t("Anzahl", "Count"),
        md.t("Quote", "Rate"),
        md.t("95 %-KI", "95 % CI")
    );
    s.push_str("|---|--:|--:|---|\n");
    let audience = md.gated(&c.audience, |_, v| v.to_string());
    let _ = writeln!(s, "| {} | {audience} | | |", md.t("Zielgruppe", "Audience"));
    for (label, count, rate) in [
        (
            md.t("Eingewilligt", "Consented"),
            &c.consented,
            &c.consent_rate,
        ),
        (
            md.t("Abgeschlossen", "Finished"),
            &c.finished,
            &c.finish_rate,
        ),
        (
            md.t("Teilweise beantwortet", "Partially answered"),
            &c.partial,
            &c.partial_rate,
        ),
    ] {
        let count = md.gated(count, |_, v| v.to_string());
        let p = md.gated(rate, |md, p| md.pct(p.p));
        let ci = md.gated(rate, |md, p| {
            format!("{} – {}", md.pct(p.ci95.low), md.pct(p.ci95.high))
        });
        let _ = writeln!(s, "| {label} | {count} | {p} | {ci} |");
    }
    let _ = writeln!(
        s,
        "\n{}\n",
        md.t(
            "Quoten: Einwilligung bezogen auf die Zielgruppe, Abschluss bezogen auf die Eingewilligten.",
            "Rates: consent relative to the audience, completion relative to those who consented."
        )
    );
}

fn new_md(report: &Report, lang: Lang) -> Md {
    Md {
        lang,
        comma: lang == Lang::De,
        notes: Notes {
            lang,
            k: report.policy.k(),
            k_text: report.policy.text_threshold(),
            used: BTreeMap::new(),
        },
    }
}

/// The full report.
pub fn report(report: &Report, lang: Lang) -> String {
    let mut md = new_md(report, lang);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {}: {}\n",
        md.t("Auswertung", "Results"),
        report.title.get(lang)
    );
    let _ = writeln!(
        s,
        "{} `{}` · {} {} · {} k = {}.\n",
        md.t("Umfrage", "Survey"),
        report.survey,
        md.t("erstellt am", "generated on"),
        md.date(report.generated_at),
        md.t("Mindestgruppengröße", "minimum group size"),
        report.policy.k(),
    );
    let lead = super::lead::lead(report, lang);
    let _ = writeln!(s, "## {}\n", md.t("Zusammenfassung", "Summary"));
    let _ = writeln!(s, "{}\n", lead.summary.join(" "));
    if !lead.caveats.is_empty() {
        let _ = writeln!(
            s,
            "**{}**\n",
            md.t("Was das Ergebnis einschränkt:", "What limits the result:")
        );
        for c in &lead.caveats {
            let _ = writeln!(s, "- {c}");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## {}\n", md.t("Methode", "Method"));
    for m in &lead.method {
        let _ = writeln!(s, "- {m}");
    }
    s.push('\n');
    if !lead.legend.is_empty() {
        let _ = writeln!(s, "{}\n", lead.legend.join(" "));
    }
    let _ = writeln!(
        s,
        "{}\n",
        md.t(
            "Im Einzelnen folgen die Runden. Ein unterdrückter Wert steht als – mit einer Fußnote, die den Grund nennt.",
            "The rounds follow in detail. A suppressed figure reads – with a note giving the reason."
        )
    );
    for r in &report.rounds {
        let period = match (&r.label, r.closed_at) {
            (Some(label), _) => format!(
                "{} „{label}“, {} {}",
                md.t("Import", "import"),
                md.t("eingelesen am", "imported on"),
                md.date(r.opened_at)
            ),
            (None, Some(c)) => format!("{} – {}", md.date(r.opened_at), md.date(c)),
            (None, None) => format!(
                "{} {}, {}",
                md.t("seit", "since"),
                md.date(r.opened_at),
                md.t("noch offen", "still open")
            ),
        };
        let _ = writeln!(s, "## {} {} ({period})\n", md.t("Runde", "Round"), r.round);
        completion(&mut s, &mut md, r);
        if r.closed_at.is_none() && r.label.is_none() {
            let _ = writeln!(
                s,
                "{}\n",
                md.t(
                    "Ergebnisse gibt es erst nach dem Ende der Runde: Zwischenstände ließen sich mit dem Endstand vergleichen und verrieten so einzelne Antworten.",
                    "Results come only after the round has closed: interim figures could be compared with the final ones and so reveal single answers."
                )
            );
        }
        instruments_table(&mut s, &mut md, &r.instruments);
        let title = md.t("Vergleich der Systeme", "Systems compared").to_owned();
        comparisons_table(&mut s, &mut md, &title, &r.comparisons);
        items_table(&mut s, &mut md, &r.items);
    }
    if !report.trends.is_empty() {
        let _ = writeln!(s, "## {}\n", md.t("Entwicklung", "Trend"));
        let title = md
            .t(
                "Veränderung gegenüber der Vorrunde",
                "Change from the previous round",
            )
            .to_owned();
        comparisons_table(&mut s, &mut md, &title, &report.trends);
    }
    let notes = md.notes.render();
    if !notes.is_empty() {
        let _ = writeln!(s, "---\n\n{notes}");
    }
    s
}

/// A short summary of the latest round for a chat room: completion and one line per
/// instrument score. Suppressed scores say so; nothing below k is shown.
pub fn summary(report: &Report, lang: Lang) -> String {
    let md = new_md(report, lang);
    let Some(r) = report.rounds.last() else {
        return md.t("Keine Runde vorhanden.", "No round yet.").to_owned();
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "**{} – {} {}**\n",
        report.title.get(lang),
        md.t("Runde", "round"),
        r.round
    );
    // The answer first, as in the full report, about this round only.
    let this_round = Report {
        survey: report.survey.clone(),
        title: report.title.clone(),
        generated_at: report.generated_at,
        policy: report.policy,
        rounds: vec![r.clone()],
        trends: Vec::new(),
    };
    let _ = writeln!(
        s,
        "{}\n",
        super::lead::lead(&this_round, lang).summary.join(" ")
    );
    let k = report.policy.k();
    let finished = match r.completion.finished.value() {
        Some(f) => f.to_string(),
        None => md.t("unterdrückt", "suppressed").to_owned(),
    };
    let _ = writeln!(
        s,
        "{}: {finished}\n",
        md.t("Abgeschlossene Antworten", "Finished responses")
    );
    for i in &r.instruments {
        let label = score_label(&i.key, &md);
        let line = match (i.score.value(), i.n.value()) {
            (Some(m), Some(n)) => {
                let d = decimals(i.key.instrument);
                let rd = i
                    .reading
                    .value()
                    .map(|r| reading(&md, r))
                    .unwrap_or_default();
                format!(
                    "{} ({} {}; n = {n}; {rd})",
                    md.num(m.mean, d),
                    md.t("95 %-KI", "95 % CI"),
                    md.ci(m.ci95, d)
                )
            }
            _ => match lang {
                Lang::De => format!("zu wenige Antworten (weniger als {k})"),
                Lang::En => format!("too few responses (fewer than {k})"),
            },
        };
        let _ = writeln!(s, "- {label} · {}: {line}", i.key.subject);
    }
    // Comparisons between systems are the question the pilot asks: list the published ones.
    for c in &r.comparisons {
        if let Some(d) = c.result.value() {
            let dd = decimals(c.a.instrument);
            let diff = md.num(d.diff, dd);
            let _ = writeln!(
                s,
                "- {} {} − {}: {}{diff} ({} {})",
                score_label(&c.a, &md),
                c.a.subject,
                c.b.subject,
                if d.diff > 0.0 { "+" } else { "" },
                md.t("95 %-KI", "95 % CI"),
                md.ci(Some(d.ci95), dd)
            );
        }
    }
    s
}
