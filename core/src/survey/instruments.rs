//! The standard instruments, compiled in with their published wording, order and scales.
//!
//! Source of every text here: `facts/instruments.md` (SUS: Brooke, German by B. Rummel/SAP;
//! UMUX-Lite: Lewis, Utesch & Maher 2013; UEQ-S: Schrepp, Hinderks & Thomaschewski 2017, the
//! UEQ was built in German; NPS; SEQ: Sauro & Dumas 2009). A survey file can only *name* an
//! instrument and its subject; the parser refuses any attempt to change an item, because a
//! changed or dropped item invalidates the published norms. The German versions of
//! UMUX-Lite, NPS and SEQ are our own careful translations and are NOT validated
//! (documented in `surveys/README.md`).
//!
//! Scoring lives in `survey::scoring`; this module only builds the questions.

use super::model::{ChoiceOption, Instrument, Question, QuestionKind, Source, Text};

/// SUS items (Brooke), German by B. Rummel (SAP). "the system" stays as published; the block
/// announcement tells the participant which system is meant.
pub const SUS_ITEMS: [(&str, &str); 10] = [
    (
        "Ich denke, dass ich das System gerne häufig benutzen würde.",
        "I think that I would like to use this system frequently.",
    ),
    (
        "Ich fand das System unnötig komplex.",
        "I found the system unnecessarily complex.",
    ),
    (
        "Ich fand das System einfach zu benutzen.",
        "I thought the system was easy to use.",
    ),
    (
        "Ich glaube, ich würde die Hilfe einer technisch versierten Person benötigen, um das System benutzen zu können.",
        "I think that I would need the support of a technical person to be able to use this system.",
    ),
    (
        "Ich fand, die verschiedenen Funktionen in diesem System waren gut integriert.",
        "I found the various functions in this system were well integrated.",
    ),
    (
        "Ich denke, das System enthielt zu viele Inkonsistenzen.",
        "I thought there was too much inconsistency in this system.",
    ),
    (
        "Ich kann mir vorstellen, dass die meisten Menschen den Umgang mit diesem System sehr schnell lernen.",
        "I would imagine that most people would learn to use this system very quickly.",
    ),
    (
        "Ich fand das System sehr umständlich zu nutzen.",
        "I found the system very cumbersome to use.",
    ),
    (
        "Ich fühlte mich bei der Benutzung des Systems sehr sicher.",
        "I felt very confident using the system.",
    ),
    (
        "Ich musste eine Menge lernen, bevor ich anfangen konnte das System zu verwenden.",
        "I needed to learn a lot of things before I could get going with this system.",
    ),
];

/// UMUX-Lite items (Lewis et al. 2013). "[This system]" kept generic like SUS's "the system";
/// the German is our translation, not validated.
pub const UMUX_LITE_ITEMS: [(&str, &str); 2] = [
    (
        "Die Funktionen dieses Systems erfüllen meine Anforderungen.",
        "This system's capabilities meet my requirements.",
    ),
    (
        "Dieses System ist einfach zu benutzen.",
        "This system is easy to use.",
    ),
];

/// A semantic-differential pair: (negative pole, positive pole).
pub type WordPair = (&'static str, &'static str);

/// UEQ-S word pairs (negative pole, positive pole), German first as the UEQ was built in German.
/// Items 1–4 form the pragmatic scale, 5–8 the hedonic scale.
pub const UEQ_S_ITEMS: [(WordPair, WordPair); 8] = [
    (
        ("behindernd", "unterstützend"),
        ("obstructive", "supportive"),
    ),
    (("kompliziert", "einfach"), ("complicated", "easy")),
    (("ineffizient", "effizient"), ("inefficient", "efficient")),
    (("verwirrend", "übersichtlich"), ("confusing", "clear")),
    (("langweilig", "spannend"), ("boring", "exciting")),
    (
        ("uninteressant", "interessant"),
        ("not interesting", "interesting"),
    ),
    (
        ("konventionell", "originell"),
        ("conventional", "inventive"),
    ),
    (("herkömmlich", "neuartig"), ("usual", "leading edge")),
];

/// The SEQ question (Sauro & Dumas 2009); German is our translation, not validated.
pub const SEQ_TEXT: (&str, &str) = (
    "Wie schwierig oder einfach war es insgesamt, die Aufgabe zu erledigen?",
    "Overall, how difficult or easy was the task to complete?",
);

/// The NPS question with the subject inserted; German is our translation, not validated.
pub fn nps_text(subject: &str) -> Text {
    Text::new(
        format!(
            "Wie wahrscheinlich ist es, dass Sie {subject} einer Kollegin oder einem Kollegen empfehlen würden?"
        ),
        format!("How likely is it that you would recommend {subject} to a colleague?"),
    )
}

/// End labels of the agreement scales (SUS 5-point, UMUX-Lite 7-point, default likert).
pub fn agreement_ends() -> (Text, Text) {
    (
        Text::new("Stimme überhaupt nicht zu", "Strongly disagree"),
        Text::new("Stimme voll zu", "Strongly agree"),
    )
}

/// Options `1..=points` with ids "1".."n", values 1..n, and the end labels on the two ends
/// ("1 – Stimme überhaupt nicht zu", "2", …, "5 – Stimme voll zu").
pub fn point_options(points: u8, low: &Text, high: &Text) -> Vec<ChoiceOption> {
    (1..=points)
        .map(|p| {
            let label = if p == 1 {
                Text::new(format!("1 – {}", low.de), format!("1 – {}", low.en))
            } else if p == points {
                Text::new(format!("{p} – {}", high.de), format!("{p} – {}", high.en))
            } else {
                Text::new(p.to_string(), p.to_string())
            };
            ChoiceOption {
                id: p.to_string(),
                label,
                value: Some(i32::from(p)),
            }
        })
        .collect()
}

/// The subject announcement shown before a block about `subject`.
pub fn announcement(instrument: Instrument, subject: &str, task: Option<&Text>) -> Text {
    match instrument {
        Instrument::Sus | Instrument::UmuxLite => Text::new(
            format!("Die folgenden Aussagen beziehen sich auf: {subject}"),
            format!("The following statements refer to: {subject}"),
        ),
        Instrument::UeqS => Text::new(
            format!(
                "Die folgenden Begriffspaare beziehen sich auf: {subject}. Wählen Sie jeweils die Stufe von 1 (linker Begriff) bis 7 (rechter Begriff), die Ihren Eindruck am besten beschreibt."
            ),
            format!(
                "The following word pairs refer to: {subject}. For each pair choose the step from 1 (left word) to 7 (right word) that best describes your impression."
            ),
        ),
        Instrument::Nps => Text::new(
            format!("Die folgende Frage bezieht sich auf: {subject}"),
            format!("The following question refers to: {subject}"),
        ),
        Instrument::Seq => {
            let (tde, ten) = task.map_or(("", ""), |t| (t.de.as_str(), t.en.as_str()));
            Text::new(
                format!("Die folgende Frage bezieht sich auf: {subject} – Aufgabe: {tde}"),
                format!("The following question refers to: {subject} – task: {ten}"),
            )
        }
    }
}

/// The questions of an instrument block, ids `<block_id>.<n>` in published order; the first
/// carries the subject announcement. Instrument items are never optional: a missing item
/// voids the respondent's score (SUS), so the conversation insists on an answer.
pub fn questions(
    instrument: Instrument,
    block_id: &str,
    subject: &str,
    task: Option<&Text>,
) -> Vec<Question> {
    let (agree_low, agree_high) = agreement_ends();
    let mk = |n: usize, text: Text, kind: QuestionKind| Question {
        id: format!("{block_id}.{n}"),
        text,
        context: None,
        kind,
        optional: false,
        show_if: None,
        subject: Some(subject.to_owned()),
        source: Source::Instrument {
            instrument,
            // Instruments have at most 10 items, so this cannot truncate.
            item: u8::try_from(n).unwrap_or(u8::MAX),
        },
    };
    let mut qs: Vec<Question> = match instrument {
        Instrument::Sus => SUS_ITEMS
            .iter()
            .enumerate()
            .map(|(i, (de, en))| {
                mk(
                    i + 1,
                    Text::new(*de, *en),
                    QuestionKind::Choice {
                        options: point_options(5, &agree_low, &agree_high),
                    },
                )
            })
            .collect(),
        Instrument::UmuxLite => UMUX_LITE_ITEMS
            .iter()
            .enumerate()
            .map(|(i, (de, en))| {
                mk(
                    i + 1,
                    Text::new(*de, *en),
                    QuestionKind::Choice {
                        options: point_options(7, &agree_low, &agree_high),
                    },
                )
            })
            .collect(),
        Instrument::UeqS => UEQ_S_ITEMS
            .iter()
            .enumerate()
            .map(|(i, ((dl, dr), (el, er)))| {
                let low = Text::new(*dl, *el);
                let high = Text::new(*dr, *er);
                mk(
                    i + 1,
                    Text::new(format!("{dl} – {dr}"), format!("{el} – {er}")),
                    QuestionKind::Choice {
                        options: point_options(7, &low, &high),
                    },
                )
            })
            .collect(),
        Instrument::Nps => vec![mk(
            1,
            nps_text(subject),
            QuestionKind::Scale {
                min: 0,
                max: 10,
                low: Text::new("Überhaupt nicht wahrscheinlich", "Not at all likely"),
                high: Text::new("Äußerst wahrscheinlich", "Extremely likely"),
            },
        )],
        Instrument::Seq => vec![mk(
            1,
            Text::new(SEQ_TEXT.0, SEQ_TEXT.1),
            QuestionKind::Choice {
                options: point_options(
                    7,
                    &Text::new("Sehr schwierig", "Very difficult"),
                    &Text::new("Sehr einfach", "Very easy"),
                ),
            },
        )],
    };
    if let Some(first) = qs.first_mut() {
        first.context = Some(announcement(instrument, subject, task));
    }
    qs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_counts_and_ids_follow_the_published_order() {
        let sus = questions(Instrument::Sus, "sus_bm", "BundesMessenger", None);
        assert_eq!(sus.len(), 10);
        assert_eq!(sus[2].id, "sus_bm.3");
        assert_eq!(sus[2].text.en, "I thought the system was easy to use.");
        assert_eq!(sus[0].options().len(), 5);
        assert_eq!(sus[0].options()[4].label.de, "5 – Stimme voll zu");
        assert_eq!(
            sus[0].context.as_ref().map(|t| t.de.as_str()),
            Some("Die folgenden Aussagen beziehen sich auf: BundesMessenger")
        );
        assert!(sus[1].context.is_none());
        assert_eq!(questions(Instrument::UmuxLite, "u", "X", None).len(), 2);
        let ueq = questions(Instrument::UeqS, "u", "X", None);
        assert_eq!(ueq.len(), 8);
        assert_eq!(ueq[7].text.de, "herkömmlich – neuartig");
        assert_eq!(ueq[7].options()[6].label.en, "7 – leading edge");
        let nps = questions(Instrument::Nps, "rec", "BundesMessenger", None);
        assert!(matches!(
            nps[0].kind,
            QuestionKind::Scale {
                min: 0,
                max: 10,
                ..
            }
        ));
        let task = Text::new("eine Datei senden", "send a file");
        let seq = questions(Instrument::Seq, "t1", "BundesMessenger", Some(&task));
        assert!(
            seq[0]
                .context
                .as_ref()
                .is_some_and(|c| c.en.ends_with("task: send a file"))
        );
    }
}
