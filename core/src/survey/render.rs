//! How a survey reads in chat: intro, subject announcements, questions, closing thanks.
//!
//! Pure text building in German or English. [`question_text`] is the numbered plain-text form
//! (also the fallback body of a poll event, so typing `4` works in any client); [`poll`] is
//! the same question as poll data (MSC3381) for clients that render polls; [`preview`] is the
//! whole questionnaire as a participant without poll support reads it (`pulsebot preview`).
//! Sending is `matrix/`'s job; this module only builds strings.

use crate::lang::Lang;

use super::model::{ChoiceOption, Question, QuestionKind, Survey};

/// Position of a question in the round, shown as "Frage 3/10".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// 1-based position.
    pub index: usize,
    /// Number of questions.
    pub total: usize,
}

/// A question as poll data (MSC3381 `org.matrix.msc3381.poll.start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    /// Subject announcement or task to send just before the poll, if any.
    pub context: Option<String>,
    /// The poll question, with progress ("Frage 3/10: …").
    pub question: String,
    /// Answers in order; `id` is the option id stored as the answer.
    pub answers: Vec<PollAnswer>,
    /// 1 for single choice; up to `max_selections` for multi.
    pub max_selections: u8,
    /// Plain-text fallback for clients without poll support ([`question_text`]).
    pub fallback: String,
}

/// One answer of a [`Poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollAnswer {
    /// Option id ("1".."7" for scales and instruments, the author's id for custom options).
    pub id: String,
    /// What the participant sees.
    pub text: String,
}

/// The answers of a 0–10 scale as options ("0 – …", "1", …, "10 – …").
fn scale_options(q: &Question) -> Vec<ChoiceOption> {
    match &q.kind {
        QuestionKind::Scale {
            min,
            max,
            low,
            high,
        } => (*min..=*max)
            .map(|n| {
                let label = if n == *min {
                    super::Text::new(format!("{n} – {}", low.de), format!("{n} – {}", low.en))
                } else if n == *max {
                    super::Text::new(format!("{n} – {}", high.de), format!("{n} – {}", high.en))
                } else {
                    super::Text::new(n.to_string(), n.to_string())
                };
                ChoiceOption {
                    id: n.to_string(),
                    label,
                    value: Some(i32::from(n)),
                }
            })
            .collect(),
        _ => q.options().to_vec(),
    }
}

/// A line for option number `n`: point options already start with their number
/// ("5 – Stimme voll zu", "3"), others get one ("2. Wöchentlich").
fn option_line(n: usize, o: &ChoiceOption, lang: Lang) -> String {
    let label = o.label.get(lang);
    let num = n.to_string();
    if label == num || label.starts_with(&format!("{num} – ")) {
        label.to_owned()
    } else {
        format!("{num}. {label}")
    }
}

/// How to answer, e.g. "Antworten Sie mit der Nummer (1–5)."
fn how_to_answer(q: &Question, lang: Lang) -> String {
    let mut s = match &q.kind {
        QuestionKind::Choice { options } => lang
            .pick(
                "Antworten Sie mit der Nummer (1–{n}).",
                "Reply with the number (1–{n}).",
            )
            .replace("{n}", &options.len().to_string()),
        QuestionKind::Multi {
            options,
            max_selections,
        } => lang
            .pick(
                "Antworten Sie mit einer oder mehreren Nummern, z. B. „1, 3“ (höchstens {m} von 1–{n}).",
                "Reply with one or more numbers, e.g. “1, 3” (at most {m} of 1–{n}).",
            )
            .replace("{m}", &max_selections.to_string())
            .replace("{n}", &options.len().to_string()),
        QuestionKind::Scale { min, max, .. } => lang
            .pick(
                "Antworten Sie mit einer Zahl von {a} bis {b}.",
                "Reply with a number from {a} to {b}.",
            )
            .replace("{a}", &min.to_string())
            .replace("{b}", &max.to_string()),
        QuestionKind::Text { max_length } => lang
            .pick(
                "Antworten Sie mit einer Nachricht (höchstens {m} Zeichen).",
                "Reply with a message (at most {m} characters).",
            )
            .replace("{m}", &max_length.to_string()),
    };
    if q.optional {
        s.push(' ');
        s.push_str(lang.pick(
            "Diese Frage ist freiwillig – zum Überspringen „weiter“ senden.",
            "This question is optional – send “skip” to skip it.",
        ));
    }
    s
}

/// "Frage 14/31" and, for an instrument item, its system: "Frage 14/31 · Webex".
fn progress_label(q: &Question, p: Progress, lang: Lang) -> String {
    let label = format!("{} {}/{}", lang.pick("Frage", "Question"), p.index, p.total);
    match &q.subject {
        Some(subject) => format!("{label} · {subject}"),
        None => label,
    }
}

/// The numbered plain-text form of one question (without its context line):
/// progress, text, numbered options, how to answer.
pub fn question_text(q: &Question, progress: Progress, lang: Lang) -> String {
    let mut out = format!(
        "{}: {}\n",
        progress_label(q, progress, lang),
        q.text.get(lang)
    );
    let options = scale_options(q);
    if !options.is_empty() {
        out.push('\n');
        for (i, o) in options.iter().enumerate() {
            // Scales are typed as their value (0–10), others as their position (1–n).
            let n = if matches!(q.kind, QuestionKind::Scale { .. }) {
                i
            } else {
                i + 1
            };
            out.push_str(&option_line(n, o, lang));
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(&how_to_answer(q, lang));
    out
}

/// One question as poll data; `None` for free-text questions (they are plain messages).
pub fn poll(q: &Question, progress: Progress, lang: Lang) -> Option<Poll> {
    let max_selections = match &q.kind {
        QuestionKind::Text { .. } => return None,
        QuestionKind::Multi { max_selections, .. } => *max_selections,
        QuestionKind::Choice { .. } | QuestionKind::Scale { .. } => 1,
    };
    Some(Poll {
        context: q.context.as_ref().map(|c| c.get(lang).to_owned()),
        question: format!(
            "{}: {}",
            progress_label(q, progress, lang),
            q.text.get(lang)
        ),
        answers: scale_options(q)
            .into_iter()
            .map(|o| PollAnswer {
                text: o.label.get(lang).to_owned(),
                id: o.id,
            })
            .collect(),
        max_selections,
        fallback: question_text(q, progress, lang),
    })
}

/// The message that opens a round: "Neue Umfrage: N Fragen, ca. M Minuten", the
/// deadline ("bis Freitag, 12. Dezember, 16 Uhr") when the round has one, title, intro, that
/// one may pause, and the voluntariness note the BfDI wants in the questionnaire itself.
pub fn intro(survey: &Survey, lang: Lang, deadline: Option<&str>) -> String {
    let n = survey.questions().len();
    let m = survey.estimated_minutes();
    // With conditional questions (e.g. a block skipped by those who do not use a system)
    // the count is an upper bound, and the intro says so.
    let up_to = survey.questions().iter().any(|q| q.show_if.is_some());
    let head = match lang {
        Lang::De => format!(
            "Neue Umfrage: {}{n} {}, ca. {m} {}",
            if up_to { "bis zu " } else { "" },
            if n == 1 { "Frage" } else { "Fragen" },
            if m == 1 { "Minute" } else { "Minuten" }
        ),
        Lang::En => format!(
            "New survey: {}{n} {}, about {m} {}",
            if up_to { "up to " } else { "" },
            if n == 1 { "question" } else { "questions" },
            if m == 1 { "minute" } else { "minutes" }
        ),
    };
    let head = match deadline {
        Some(d) => format!("{head}, {} {d}", lang.pick("bis", "until")),
        None => head,
    };
    format!(
        "{head}\n\n{}\n{}\n\n{}\n{}",
        survey.title.get(lang),
        survey.intro.get(lang),
        lang.pick(
            "Sie können jederzeit unterbrechen („später“) und an derselben Stelle weitermachen („weitermachen“).",
            "You can pause at any time (“later”) and continue where you left off (“continue”).",
        ),
        lang.pick(
            "Die Teilnahme ist freiwillig. Mit „stopp“ beenden Sie sie jederzeit, mit „hilfe“ sehen Sie alle Befehle.",
            "Participation is voluntary. Send “stop” to end it at any time, “help” to see all commands.",
        )
    )
}

/// The closing message after the last question.
pub fn thanks(lang: Lang) -> String {
    lang.pick(
        "Danke! Ihre Antworten sind gespeichert. Die Ergebnisse gibt es nach dem Ende der Umfrage nur als Gesamtzahlen.",
        "Thank you! Your answers have been saved. Results come after the survey has ended, as totals only.",
    )
    .to_owned()
}

/// The whole questionnaire as a participant without poll support reads it: intro, subject
/// announcements, every question with progress and numbered options, how to answer, thanks.
/// Conditional questions carry a note saying when they are asked.
pub fn preview(survey: &Survey, lang: Lang) -> String {
    let qs = survey.questions();
    let total = qs.len();
    let mut out = intro(survey, lang, None);
    for (i, q) in qs.iter().enumerate() {
        out.push_str("\n\n――――――――\n");
        if let Some(c) = &q.context {
            out.push_str(c.get(lang));
            out.push_str("\n\n");
        }
        // A block's condition is the same on each of its items: say it once, before the
        // block's first item.
        let same_as_before = i > 0 && qs[i - 1].show_if == q.show_if;
        if let Some(cond) = q.show_if.as_ref().filter(|_| !same_as_before) {
            let pos = qs
                .iter()
                .position(|x| x.id == cond.item)
                .map_or(0, |p| p + 1);
            let note = lang
                .pick(
                    "(Nur wenn Frage {p} mit {v} beantwortet wurde.)",
                    "(Only if question {p} was answered with {v}.)",
                )
                .replace("{p}", &pos.to_string())
                .replace(
                    "{v}",
                    &show_if_values(survey, &cond.item, &cond.values, lang),
                );
            out.push_str(&note);
            out.push('\n');
        }
        out.push_str(&question_text(
            q,
            Progress {
                index: i + 1,
                total,
            },
            lang,
        ));
    }
    out.push_str("\n\n――――――――\n");
    out.push_str(&thanks(lang));
    out.push('\n');
    out
}

/// The answers a condition accepts, as the participant saw them ("„Ja“ oder „Teilweise“").
fn show_if_values(survey: &Survey, item: &str, values: &[String], lang: Lang) -> String {
    let labels: Vec<String> = values
        .iter()
        .map(|v| {
            let label = survey
                .question(item)
                .and_then(|q| q.options().iter().find(|o| &o.id == v))
                .map_or(v.as_str(), |o| o.label.get(lang));
            lang.pick("„{l}“", "“{l}”").replace("{l}", label)
        })
        .collect();
    labels.join(lang.pick(" oder ", " or "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::instruments;
    use crate::survey::model::{Instrument, Source, Text};

    #[test]
    fn sus_item_plain_text() {
        let q =
            instruments::questions(Instrument::Sus, "sus_bm", "BundesMessenger", None).remove(2);
        let s = question_text(
            &q,
            Progress {
                index: 3,
                total: 10,
            },
            Lang::De,
        );
        assert_eq!(
            s,
            "Frage 3/10 · BundesMessenger: Ich fand das System einfach zu benutzen.\n\n\
             1 – Stimme überhaupt nicht zu\n2\n3\n4\n5 – Stimme voll zu\n\n\
             Antworten Sie mit der Nummer (1–5)."
        );
    }

    #[test]
    fn scale_poll_has_eleven_answers_and_optional_text_has_none() {
        let q = instruments::questions(Instrument::Nps, "rec", "BundesMessenger", None).remove(0);
        let p = poll(&q, Progress { index: 1, total: 1 }, Lang::En).expect("scale is a poll");
        assert_eq!(p.answers.len(), 11);
        assert_eq!(p.answers[0].text, "0 – Not at all likely");
        assert_eq!(p.answers[10].id, "10");
        assert_eq!(
            p.context.as_deref(),
            Some("The following question refers to: BundesMessenger")
        );
        assert!(p.fallback.contains("\n0 – Not at all likely\n1\n"));
        let t = Question {
            id: "t".into(),
            text: Text::new("Was fehlt?", "What is missing?"),
            context: None,
            kind: QuestionKind::Text { max_length: 500 },
            optional: true,
            show_if: None,
            source: Source::Custom,
            subject: None,
        };
        assert!(poll(&t, Progress { index: 1, total: 1 }, Lang::De).is_none());
        let s = question_text(&t, Progress { index: 1, total: 1 }, Lang::De);
        assert!(s.contains("zum Überspringen „weiter“ senden"), "{s}");
    }

    #[test]
    fn custom_options_are_numbered() {
        let o = ChoiceOption {
            id: "w".into(),
            label: Text::new("Wöchentlich", "Weekly"),
            value: None,
        };
        assert_eq!(option_line(2, &o, Lang::De), "2. Wöchentlich");
    }
}
