//! Commands a participant can type in the direct chat, described as data and parsed into a
//! typed enum; the help is generated from the same table.
//!
//! Pure: this module only recognises words. What a command does (opt out, erase, …) is
//! decided in `route` and carried out by the Matrix layer and the bot's persistence. A message is a
//! command only if the *whole* message (trimmed, case- and whitespace-insensitive, trailing
//! `.`/`!` ignored) is one of the words below, so answers like "Nachrichten löschen geht
//! nicht" are never mistaken for one. A free-text answer that is exactly `stopp` is taken
//! as the command: stopping must always work.

use std::fmt::Write;

use crate::lang::Lang;

/// One participant command as data: the source of both parsing and help.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// What it is.
    pub kind: CommandKind,
    /// German spelling(s), first one shown in help.
    pub words_de: &'static [&'static str],
    /// English spelling(s), first one shown in help.
    pub words_en: &'static [&'static str],
    /// Argument synopsis shown in help (empty when none).
    pub args: &'static str,
    /// One line of help, German.
    pub help_de: &'static str,
    /// One line of help, English.
    pub help_en: &'static str,
}

/// The command families, without arguments (the key of [`COMMANDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `hilfe` / `help`.
    Help,
    /// `stopp` / `stop`.
    Stop,
    /// `start`.
    Start,
    /// `meine daten` / `my data`.
    MyData,
    /// `löschen` / `delete`.
    Delete,
    /// `sprache de|en` / `language de|en`.
    Language,
    /// `später` / `later`.
    Pause,
    /// `weitermachen` / `continue`.
    Resume,
}

/// Every participant command, in the order help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::Help,
        words_de: &["hilfe"],
        words_en: &["help"],
        args: "",
        help_de: "zeigt diese Übersicht",
        help_en: "shows this overview",
    },
    CommandSpec {
        kind: CommandKind::Stop,
        words_de: &["stopp", "stop"],
        words_en: &["stop"],
        args: "",
        help_de: "beendet Ihre Teilnahme sofort",
        help_en: "ends your participation at once",
    },
    CommandSpec {
        kind: CommandKind::Start,
        words_de: &["start"],
        words_en: &["start"],
        args: "",
        help_de: "Sie nehmen (wieder) teil",
        help_en: "take part (again)",
    },
    CommandSpec {
        kind: CommandKind::Pause,
        words_de: &["später", "spaeter", "pause"],
        words_en: &["later", "pause"],
        args: "",
        help_de: "unterbricht die laufende Umfrage; Ihre Antworten bleiben gespeichert",
        help_en: "pauses the running survey; your answers so far are kept",
    },
    CommandSpec {
        kind: CommandKind::Resume,
        words_de: &["weitermachen", "fortsetzen"],
        words_en: &["continue", "resume"],
        args: "",
        help_de: "zeigt die Frage, bei der Sie stehen geblieben sind",
        help_en: "shows the question where you left off",
    },
    CommandSpec {
        kind: CommandKind::MyData,
        words_de: &["meine daten"],
        words_en: &["my data"],
        args: "",
        help_de: "zeigt, was über Sie gespeichert ist",
        help_en: "shows what is stored about you",
    },
    CommandSpec {
        kind: CommandKind::Delete,
        words_de: &["löschen", "loeschen"],
        words_en: &["delete"],
        args: "",
        help_de: "löscht alles, was noch mit Ihnen verknüpft ist, und beendet die Teilnahme",
        help_en: "deletes everything still linked to you and ends your participation",
    },
    CommandSpec {
        kind: CommandKind::Language,
        words_de: &["sprache"],
        words_en: &["language"],
        args: "de|en",
        help_de: "ich schreibe Ihnen ab jetzt auf Englisch (zurück mit „language de“)",
        help_en: "I write to you in German from now on (back with “sprache en”)",
    },
];

/// A typed message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `hilfe` / `help`.
    Help,
    /// `stopp` / `stop`: opt out at once.
    Stop,
    /// `start`: opt in (again).
    Start,
    /// `meine daten` / `my data`.
    MyData,
    /// `löschen` / `delete`.
    Delete,
    /// `sprache de` / `language en`.
    Language(Lang),
    /// `sprache` followed by nothing or by one word that is not a language.
    LanguageUnknown,
    /// `später` / `later`: pause the running round.
    Pause,
    /// `weitermachen` / `continue`: the waiting question again.
    Resume,
    /// Not a command: an answer or other text. Carries nothing, so the body is never
    /// copied into anything that might be logged.
    NotACommand,
}

impl Command {
    /// Classifies a message body. Never fails: anything unrecognised is
    /// [`Command::NotACommand`].
    pub fn parse(body: &str) -> Command {
        let norm = normalize(body);
        let (head, rest) = match norm.split_once(' ') {
            Some((h, r)) => (h, r.trim()),
            None => (norm.as_str(), ""),
        };
        for spec in COMMANDS {
            let words = spec.words_de.iter().chain(spec.words_en);
            if spec.kind == CommandKind::Language {
                // "sprache ist gut" (several words after it) is a sentence, not a command.
                if words.clone().any(|w| *w == head) && !rest.contains(' ') {
                    return match Lang::parse(rest) {
                        Some(l) => Command::Language(l),
                        None => Command::LanguageUnknown,
                    };
                }
                continue;
            }
            if words.clone().any(|w| *w == norm) {
                return match spec.kind {
                    CommandKind::Help => Command::Help,
                    CommandKind::Stop => Command::Stop,
                    CommandKind::Start => Command::Start,
                    CommandKind::MyData => Command::MyData,
                    CommandKind::Delete => Command::Delete,
                    CommandKind::Pause => Command::Pause,
                    CommandKind::Resume => Command::Resume,
                    // Handled above; listed for exhaustiveness.
                    CommandKind::Language => Command::LanguageUnknown,
                };
            }
        }
        Command::NotACommand
    }

    /// The command's name, for logs (never the message body).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::Stop => "stop",
            Command::Start => "start",
            Command::MyData => "my_data",
            Command::Delete => "delete",
            Command::Language(_) => "language",
            Command::LanguageUnknown => "language_unknown",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::NotACommand => "none",
        }
    }
}

/// Lower-case, trimmed, inner whitespace collapsed, trailing `.`/`!` removed.
fn normalize(s: &str) -> String {
    s.trim()
        .trim_end_matches(['.', '!'])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The generated help text in `lang`.
pub fn help(lang: Lang) -> String {
    let mut s = String::from(super::texts::help_heading(lang));
    s.push('\n');
    for c in COMMANDS {
        let words = match lang {
            Lang::De => c.words_de,
            Lang::En => c.words_en,
        };
        let word = words.first().copied().unwrap_or_default();
        // The one argument a participant would type, not a notation like `de|en`: the
        // other language ("sprache en" in German, "language de" in English).
        let args = if c.args.is_empty() {
            String::new()
        } else if c.kind == CommandKind::Language {
            format!(" {}", lang.pick("en", "de"))
        } else {
            format!(" {}", c.args)
        };
        let _ = writeln!(s, "• {word}{args} – {}", lang.pick(c.help_de, c.help_en));
    }
    s.push_str(super::texts::help_footer(lang));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_and_english_words_case_and_space_insensitive() {
        let cases = [
            ("hilfe", Command::Help),
            ("  HELP ", Command::Help),
            ("Stopp!", Command::Stop),
            ("stop", Command::Stop),
            ("Start", Command::Start),
            ("meine   Daten", Command::MyData),
            ("My Data.", Command::MyData),
            ("Löschen", Command::Delete),
            ("loeschen", Command::Delete),
            ("DELETE", Command::Delete),
            ("sprache en", Command::Language(Lang::En)),
            ("Language  DE", Command::Language(Lang::De)),
            ("sprache englisch", Command::Language(Lang::En)),
            ("sprache", Command::LanguageUnknown),
            ("sprache fr", Command::LanguageUnknown),
        ];
        for (input, want) in cases {
            assert_eq!(Command::parse(input), want, "{input:?}");
        }
    }

    #[test]
    fn answers_and_sentences_are_not_commands() {
        for input in [
            "4",
            "-",
            "ja",
            "Nachrichten löschen geht nicht",
            "stop the bot please",
            "helpful",
            "",
            "   ",
            "🙂",
            "meine",
            "Sprache ist oft unklar",
        ] {
            assert_eq!(Command::parse(input), Command::NotACommand, "{input:?}");
        }
    }

    #[test]
    fn help_lists_every_command_in_each_language() {
        let de = help(Lang::De);
        let en = help(Lang::En);
        for c in COMMANDS {
            assert!(de.contains(c.words_de[0]) && de.contains(c.help_de), "{de}");
            assert!(en.contains(c.words_en[0]) && en.contains(c.help_en), "{en}");
        }
        // Every word listed in help parses to its command.
        for c in COMMANDS {
            for w in c.words_de.iter().chain(c.words_en) {
                let input = if c.kind == CommandKind::Language {
                    format!("{w} en")
                } else {
                    (*w).to_owned()
                };
                assert_ne!(Command::parse(&input), Command::NotACommand, "{input}");
            }
        }
    }
}
