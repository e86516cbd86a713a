//! Turning what a participant typed into a validated answer.
//!
//! Pure: `parse_answer(question, text)` either yields an [`Answer`] (what the bot's persistence keeps) or
//! an [`AnswerError`] whose [`AnswerError::message`] the bot sends back in the participant's
//! language. Poll votes arrive as option ids and bypass the typing rules; they are checked
//! with [`answer_from_poll`]. Accepted spellings for a choice: the option number (`4`,
//! `4/5`, `4.`), the option label (`stimme zu`, with or without the `5 – ` prefix), and for
//! optional questions a skip word (`-`, `überspringen`, `skip`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::lang::Lang;

use super::model::{ChoiceOption, Question, QuestionKind};

/// A participant's answer to one question, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Answer {
    /// An optional question left out on purpose.
    Skipped,
    /// The id of the chosen option.
    Choice(String),
    /// The ids of the chosen options, in option order, without duplicates.
    Multi(Vec<String>),
    /// A number on a 0–10 scale.
    Scale(u8),
    /// Free text, trimmed, at most the question's `max_length` characters.
    Text(String),
}

/// Why typed text is not an answer to the question. Callers branch on it (e.g. re-ask).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// Nothing but whitespace.
    #[error("empty answer")]
    Empty,
    /// A skip word for a question that must be answered.
    #[error("question cannot be skipped")]
    NotOptional,
    /// Neither an option number nor an option label.
    #[error("not one of the options 1–{count}")]
    UnknownOption {
        /// How many options there are.
        count: usize,
    },
    /// A number outside the scale.
    #[error("not a number from {min} to {max}")]
    OutOfRange {
        /// Lowest allowed.
        min: u8,
        /// Highest allowed.
        max: u8,
    },
    /// More options chosen than allowed.
    #[error("at most {max} options may be chosen")]
    TooManySelections {
        /// The question's `max_selections`.
        max: u8,
    },
    /// Free text over the length limit.
    #[error("answer has {len} characters, at most {max} allowed")]
    TooLong {
        /// Characters given.
        len: usize,
        /// The question's `max_length`.
        max: u32,
    },
}

impl AnswerError {
    /// The reply to the participant, in their language.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (AnswerError::Empty, Lang::De) => "Bitte geben Sie eine Antwort ein.".into(),
            (AnswerError::Empty, Lang::En) => "Please type an answer.".into(),
            (AnswerError::NotOptional, Lang::De) => {
                "Diese Frage kann nicht übersprungen werden. Bitte wählen Sie eine Antwort.".into()
            }
            (AnswerError::NotOptional, Lang::En) => {
                "This question cannot be skipped. Please choose an answer.".into()
            }
            (AnswerError::UnknownOption { count }, Lang::De) => {
                format!("Bitte antworten Sie mit einer Zahl von 1 bis {count}.")
            }
            (AnswerError::UnknownOption { count }, Lang::En) => {
                format!("Please answer with a number from 1 to {count}.")
            }
            (AnswerError::OutOfRange { min, max }, Lang::De) => {
                format!("Bitte antworten Sie mit einer Zahl von {min} bis {max}.")
            }
            (AnswerError::OutOfRange { min, max }, Lang::En) => {
                format!("Please answer with a number from {min} to {max}.")
            }
            (AnswerError::TooManySelections { max }, Lang::De) => {
                format!("Bitte wählen Sie höchstens {max} Antworten.")
            }
            (AnswerError::TooManySelections { max }, Lang::En) => {
                format!("Please choose at most {max} answers.")
            }
            (AnswerError::TooLong { len, max }, Lang::De) => format!(
                "Ihre Antwort hat {len} Zeichen; bitte kürzen Sie sie auf höchstens {max} Zeichen."
            ),
            (AnswerError::TooLong { len, max }, Lang::En) => format!(
                "Your answer has {len} characters; please shorten it to at most {max} characters."
            ),
        }
    }
}

/// Words (lower-case) that skip an optional question.
pub const SKIP_WORDS: [&str; 5] = ["-", "überspringen", "ueberspringen", "skip", "weiter"];

fn is_skip(s: &str) -> bool {
    SKIP_WORDS.contains(&s)
}

/// Lower-case, trimmed, inner whitespace collapsed; strips trailing `.`/`!` so "Ja." matches.
fn normalize(s: &str) -> String {
    let s = s
        .trim()
        .trim_end_matches(['.', '!'])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    s.to_lowercase()
}

/// Parses "4", "4/5", "4." → 4 (the part before `/` is the answer, `/5` repeats the maximum).
fn parse_number(s: &str) -> Option<i64> {
    let head = s.split('/').next().unwrap_or(s).trim();
    head.parse::<i64>().ok()
}

/// Finds an option by number (1-based), by id, or by label (de or en, with or without the
/// `N – ` prefix of end labels).
fn find_option<'a>(options: &'a [ChoiceOption], token: &str) -> Option<&'a ChoiceOption> {
    if let Some(n) = parse_number(token) {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        return options.get(idx);
    }
    options.iter().find(|o| {
        let labels = [normalize(&o.label.de), normalize(&o.label.en)];
        labels.iter().any(|l| {
            l == token
                || l.split_once(" – ")
                    .is_some_and(|(_, rest)| rest.trim() == token)
        }) || normalize(&o.id) == token
    })
}

/// Turns typed text into an answer for `question`.
pub fn parse_answer(question: &Question, input: &str) -> Result<Answer, AnswerError> {
    let norm = normalize(input);
    if norm.is_empty() && !matches!(question.kind, QuestionKind::Text { .. }) {
        return Err(AnswerError::Empty);
    }
    if is_skip(&norm) {
        return if question.optional {
            Ok(Answer::Skipped)
        } else {
            Err(AnswerError::NotOptional)
        };
    }
    match &question.kind {
        QuestionKind::Choice { options } => find_option(options, &norm)
            .map(|o| Answer::Choice(o.id.clone()))
            .ok_or(AnswerError::UnknownOption {
                count: options.len(),
            }),
        QuestionKind::Multi {
            options,
            max_selections,
        } => {
            // A whole label may contain commas or spaces; try it as one option first.
            let tokens: Vec<String> = match find_option(options, &norm) {
                Some(_) => vec![norm.clone()],
                None => norm
                    .split([',', ';', ' '])
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && !matches!(*t, "und" | "and" | "&"))
                    .map(str::to_owned)
                    .collect(),
            };
            let mut chosen = vec![false; options.len()];
            for t in &tokens {
                let o = find_option(options, t).ok_or(AnswerError::UnknownOption {
                    count: options.len(),
                })?;
                if let Some(i) = options.iter().position(|x| x.id == o.id) {
                    chosen[i] = true;
                }
            }
            let ids: Vec<String> = options
                .iter()
                .zip(&chosen)
                .filter(|(_, c)| **c)
                .map(|(o, _)| o.id.clone())
                .collect();
            if ids.is_empty() {
                return Err(AnswerError::Empty);
            }
            if ids.len() > usize::from(*max_selections) {
                return Err(AnswerError::TooManySelections {
                    max: *max_selections,
                });
            }
            Ok(Answer::Multi(ids))
        }
        QuestionKind::Scale {
            min,
            max,
            low,
            high,
        } => {
            let n = match parse_number(&norm) {
                Some(n) => n,
                // Also accept the end labels ("äußerst wahrscheinlich").
                None if [normalize(&low.de), normalize(&low.en)].contains(&norm) => i64::from(*min),
                None if [normalize(&high.de), normalize(&high.en)].contains(&norm) => {
                    i64::from(*max)
                }
                None => {
                    return Err(AnswerError::OutOfRange {
                        min: *min,
                        max: *max,
                    });
                }
            };
            u8::try_from(n)
                .ok()
                .filter(|v| (*min..=*max).contains(v))
                .map(Answer::Scale)
                .ok_or(AnswerError::OutOfRange {
                    min: *min,
                    max: *max,
                })
        }
        QuestionKind::Text { max_length } => {
            let text = input.trim();
            if text.is_empty() {
                return Err(AnswerError::Empty);
            }
            let len = text.chars().count();
            if len > *max_length as usize {
                return Err(AnswerError::TooLong {
                    len,
                    max: *max_length,
                });
            }
            Ok(Answer::Text(text.to_owned()))
        }
    }
}

/// Checks a poll vote (the option ids the client sent) against `question`.
pub fn answer_from_poll(question: &Question, option_ids: &[String]) -> Result<Answer, AnswerError> {
    let known = |id: &String| question.options().iter().any(|o| &o.id == id);
    match &question.kind {
        QuestionKind::Choice { options } => match option_ids {
            [one] if known(one) => Ok(Answer::Choice(one.clone())),
            [] => Err(AnswerError::Empty),
            _ => Err(AnswerError::UnknownOption {
                count: options.len(),
            }),
        },
        QuestionKind::Multi {
            options,
            max_selections,
        } => {
            if option_ids.is_empty() {
                return Err(AnswerError::Empty);
            }
            if !option_ids.iter().all(known) {
                return Err(AnswerError::UnknownOption {
                    count: options.len(),
                });
            }
            let ids: Vec<String> = options
                .iter()
                .filter(|o| option_ids.contains(&o.id))
                .map(|o| o.id.clone())
                .collect();
            if ids.len() > usize::from(*max_selections) {
                return Err(AnswerError::TooManySelections {
                    max: *max_selections,
                });
            }
            Ok(Answer::Multi(ids))
        }
        // A scale is offered as a poll with option ids "0".."10".
        QuestionKind::Scale { min, max, .. } => match option_ids {
            [one] => one
                .parse::<u8>()
                .ok()
                .filter(|v| (*min..=*max).contains(v))
                .map(Answer::Scale)
                .ok_or(AnswerError::OutOfRange {
                    min: *min,
                    max: *max,
                }),
            _ => Err(AnswerError::OutOfRange {
                min: *min,
                max: *max,
            }),
        },
        QuestionKind::Text { .. } => Err(AnswerError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::instruments;
    use crate::survey::model::{Instrument, Source, Text};

    fn sus1() -> Question {
        instruments::questions(Instrument::Sus, "sus", "X", None).remove(0)
    }

    fn custom(kind: QuestionKind, optional: bool) -> Question {
        Question {
            id: "q".into(),
            text: Text::new("F", "Q"),
            context: None,
            kind,
            optional,
            show_if: None,
            source: Source::Custom,
            subject: None,
        }
    }

    fn opts() -> Vec<ChoiceOption> {
        [
            "Täglich|Daily",
            "Wöchentlich|Weekly",
            "Selten, eher nie|Rarely, if ever",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (de, en) = l.split_once('|').unwrap_or((l, l));
            ChoiceOption {
                id: format!("o{}", i + 1),
                label: Text::new(de, en),
                value: None,
            }
        })
        .collect()
    }

    #[test]
    fn choice_by_number_fraction_and_label() {
        let q = sus1();
        assert_eq!(parse_answer(&q, "4"), Ok(Answer::Choice("4".into())));
        assert_eq!(parse_answer(&q, " 4/5 "), Ok(Answer::Choice("4".into())));
        assert_eq!(parse_answer(&q, "5."), Ok(Answer::Choice("5".into())));
        assert_eq!(
            parse_answer(&q, "Stimme voll zu"),
            Ok(Answer::Choice("5".into()))
        );
        assert_eq!(
            parse_answer(&q, "strongly DISAGREE"),
            Ok(Answer::Choice("1".into()))
        );
        assert_eq!(
            parse_answer(&q, "6"),
            Err(AnswerError::UnknownOption { count: 5 })
        );
        assert_eq!(
            parse_answer(&q, "0"),
            Err(AnswerError::UnknownOption { count: 5 })
        );
        assert_eq!(parse_answer(&q, "  "), Err(AnswerError::Empty));
        assert_eq!(parse_answer(&q, "skip"), Err(AnswerError::NotOptional));
    }

    #[test]
    fn skip_words_for_optional_items() {
        let q = custom(QuestionKind::Text { max_length: 5 }, true);
        for w in ["-", "überspringen", "Skip", "SKIP."] {
            assert_eq!(parse_answer(&q, w), Ok(Answer::Skipped), "{w}");
        }
        assert_eq!(
            parse_answer(&q, " hallo "),
            Ok(Answer::Text("hallo".into()))
        );
        assert_eq!(
            parse_answer(&q, "zu lang"),
            Err(AnswerError::TooLong { len: 7, max: 5 })
        );
        // Length counts characters: five umlauts are five, not ten.
        assert_eq!(parse_answer(&q, "äöüäö"), Ok(Answer::Text("äöüäö".into())));
    }

    #[test]
    fn multi_numbers_labels_and_limit() {
        let q = custom(
            QuestionKind::Multi {
                options: opts(),
                max_selections: 2,
            },
            false,
        );
        assert_eq!(
            parse_answer(&q, "3, 1"),
            Ok(Answer::Multi(vec!["o1".into(), "o3".into()]))
        );
        assert_eq!(
            parse_answer(&q, "1 und 1"),
            Ok(Answer::Multi(vec!["o1".into()]))
        );
        assert_eq!(
            parse_answer(&q, "selten, eher nie"),
            Ok(Answer::Multi(vec!["o3".into()]))
        );
        assert_eq!(
            parse_answer(&q, "1 2 3"),
            Err(AnswerError::TooManySelections { max: 2 })
        );
        assert_eq!(
            parse_answer(&q, "1, 9"),
            Err(AnswerError::UnknownOption { count: 3 })
        );
        assert_eq!(
            answer_from_poll(&q, &["o2".into(), "o1".into()]),
            Ok(Answer::Multi(vec!["o1".into(), "o2".into()]))
        );
    }

    #[test]
    fn scale_bounds() {
        let q = instruments::questions(Instrument::Nps, "nps", "X", None).remove(0);
        assert_eq!(parse_answer(&q, "0"), Ok(Answer::Scale(0)));
        assert_eq!(parse_answer(&q, "10/10"), Ok(Answer::Scale(10)));
        assert_eq!(
            parse_answer(&q, "Äußerst wahrscheinlich"),
            Ok(Answer::Scale(10))
        );
        assert_eq!(
            parse_answer(&q, "11"),
            Err(AnswerError::OutOfRange { min: 0, max: 10 })
        );
        assert_eq!(
            parse_answer(&q, "-3"),
            Err(AnswerError::OutOfRange { min: 0, max: 10 })
        );
        assert_eq!(answer_from_poll(&q, &["7".into()]), Ok(Answer::Scale(7)));
    }

    #[test]
    fn messages_exist_in_both_languages() {
        let errs = [
            AnswerError::Empty,
            AnswerError::NotOptional,
            AnswerError::UnknownOption { count: 5 },
            AnswerError::OutOfRange { min: 0, max: 10 },
            AnswerError::TooManySelections { max: 2 },
            AnswerError::TooLong { len: 600, max: 500 },
        ];
        for e in errs {
            let de = e.message(Lang::De);
            let en = e.message(Lang::En);
            assert!(!de.is_empty() && !en.is_empty() && de != en, "{e:?}");
        }
    }

    #[test]
    fn answer_serde_is_stable() {
        let json = serde_json::to_string(&Answer::Multi(vec!["a".into()])).unwrap_or_default();
        assert_eq!(json, r#"{"type":"multi","value":["a"]}"#);
        let back: Answer =
            serde_json::from_str(r#"{"type":"skipped"}"#).unwrap_or(Answer::Scale(0));
        assert_eq!(back, Answer::Skipped);
    }
}
