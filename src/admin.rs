//! Admin commands (`!pulse ...`): described as data, parsed into a typed enum, help generated.
//!
//! Pure: parsing and rendering only. Who may run a command and where is decided by the bot.

use std::fmt::Write;
use std::time::Duration;

use crate::lang::Lang;

/// The prefix every admin command starts with.
pub const PREFIX: &str = "!pulse";

/// One admin command as data: the source of both parsing and `help`.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// The word after the prefix.
    pub name: &'static str,
    /// Argument synopsis, empty when none.
    pub args: &'static str,
    /// One line of help, German.
    pub help_de: &'static str,
    /// One line of help, English.
    pub help_en: &'static str,
}

/// Every admin command, in the order `help` lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        args: "",
        help_de: "zeigt diese Übersicht",
        help_en: "shows this overview",
    },
    CommandSpec {
        name: "status",
        args: "",
        help_de: "Version, Laufzeit, Pilot-Räume und Mitgliederzahlen (nur Zahlen, keine Namen)",
        help_en: "version, uptime, pilot rooms and member counts (counts only, never names)",
    },
];

/// A parsed admin command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `!pulse help` or a bare `!pulse`.
    Help,
    /// `!pulse status`.
    Status,
    /// Anything else after the prefix.
    Unknown(String),
}

impl AdminCommand {
    /// The command's name, for logs.
    pub fn name(&self) -> &str {
        match self {
            AdminCommand::Help => "help",
            AdminCommand::Status => "status",
            AdminCommand::Unknown(_) => "unknown",
        }
    }
}

/// Parses a message body; `None` when it is not addressed to pulsebot at all.
pub fn parse(body: &str) -> Option<AdminCommand> {
    let mut words = body.split_whitespace();
    let first = words.next()?;
    if !first.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let cmd = match words.next().map(str::to_lowercase) {
        None => AdminCommand::Help,
        Some(w) if w == "help" || w == "hilfe" => AdminCommand::Help,
        Some(w) if w == "status" => AdminCommand::Status,
        Some(w) => AdminCommand::Unknown(w),
    };
    Some(cmd)
}

/// The generated help text.
pub fn help(lang: Lang) -> String {
    let mut s = String::from(lang.pick("pulsebot-Befehle:\n", "pulsebot commands:\n"));
    for c in COMMANDS {
        let args = if c.args.is_empty() {
            String::new()
        } else {
            format!(" {}", c.args)
        };
        let _ = writeln!(
            s,
            "{PREFIX} {}{args} — {}",
            c.name,
            lang.pick(c.help_de, c.help_en)
        );
    }
    s.truncate(s.trim_end().len());
    s
}

/// The reply to an unknown command.
pub fn unknown(word: &str, lang: Lang) -> String {
    match lang {
        Lang::De => format!("Unbekannter Befehl `{word}`. `{PREFIX} help` zeigt alle Befehle."),
        Lang::En => format!("Unknown command `{word}`. `{PREFIX} help` lists all commands."),
    }
}

/// The reply to someone who is not an admin.
pub fn refusal(lang: Lang) -> &'static str {
    lang.pick(
        "Diese Befehle sind der Administration von pulsebot vorbehalten.",
        "These commands are reserved for pulsebot's administrators.",
    )
}

/// The reply to an admin writing in a room where commands are not taken.
pub fn wrong_room(lang: Lang) -> &'static str {
    lang.pick(
        "Befehle nehme ich nur im Admin-Raum oder im Direktchat mit mir an.",
        "I take commands only in the admin room or in a direct chat with me.",
    )
}

/// One pilot room as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    /// The room as configured (alias or id).
    pub name: String,
    /// Whether the bot is in it.
    pub joined: bool,
    /// Members seen (joined), not counting the bot.
    pub members: u64,
}

/// What `status` reports: counts only, never names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The crate version.
    pub version: &'static str,
    /// Time since start.
    pub uptime: Duration,
    /// The configured pilot rooms.
    pub pilot_rooms: Vec<RoomStatus>,
    /// Events the bot could not decrypt since start.
    pub undecryptable: u64,
    /// Ids of the loaded surveys.
    pub surveys: Vec<String>,
}

/// Renders the status reply.
pub fn render_status(s: &Status, lang: Lang) -> String {
    let joined = s.pilot_rooms.iter().filter(|r| r.joined).count();
    let mut out = format!(
        "pulsebot {} — {} {}\n",
        s.version,
        lang.pick("läuft seit", "up for"),
        human_duration(s.uptime, lang)
    );
    let _ = writeln!(
        out,
        "{}: {joined}/{}",
        lang.pick("Pilot-Räume beigetreten", "Pilot rooms joined"),
        s.pilot_rooms.len()
    );
    for r in &s.pilot_rooms {
        if r.joined {
            let _ = writeln!(
                out,
                "• {}: {} {}",
                r.name,
                r.members,
                lang.pick("Mitglieder", "members")
            );
        } else {
            let _ = writeln!(
                out,
                "• {}: {}",
                r.name,
                lang.pick(
                    "nicht beigetreten (Einladung fehlt?)",
                    "not joined (no invite yet?)"
                )
            );
        }
    }
    let _ = writeln!(
        out,
        "{}: {}",
        lang.pick("Umfragen", "Surveys"),
        if s.surveys.is_empty() {
            "—".to_string()
        } else {
            s.surveys.join(", ")
        }
    );
    let _ = write!(
        out,
        "{}: {}",
        lang.pick(
            "Nicht entschlüsselbare Nachrichten",
            "Undecryptable messages"
        ),
        s.undecryptable
    );
    out
}

fn human_duration(d: Duration, lang: Lang) -> String {
    let secs = d.as_secs();
    let (days, hours, mins, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, lang) {
        (0, _) => format!("{hours:02}:{mins:02}:{s:02}"),
        (1, Lang::De) => format!("1 Tag {hours:02}:{mins:02}:{s:02}"),
        (n, Lang::De) => format!("{n} Tagen {hours:02}:{mins:02}:{s:02}"),
        (1, Lang::En) => format!("1 day {hours:02}:{mins:02}:{s:02}"),
        (n, Lang::En) => format!("{n} days {hours:02}:{mins:02}:{s:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("!pulse status"), Some(AdminCommand::Status));
        assert_eq!(parse("  !PULSE   Status  "), Some(AdminCommand::Status));
        assert_eq!(parse("!pulse"), Some(AdminCommand::Help));
        assert_eq!(parse("!pulse hilfe"), Some(AdminCommand::Help));
        assert_eq!(
            parse("!pulse frobnicate x"),
            Some(AdminCommand::Unknown("frobnicate".into()))
        );
        assert_eq!(parse("hello !pulse status"), None);
        assert_eq!(parse("!pulsebot status"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn help_lists_every_command_in_both_languages() {
        for lang in [Lang::De, Lang::En] {
            let h = help(lang);
            for c in COMMANDS {
                assert!(h.contains(&format!("{PREFIX} {}", c.name)), "{h}");
                assert!(h.contains(lang.pick(c.help_de, c.help_en)));
            }
        }
    }

    #[test]
    fn status_shows_counts_only() {
        let s = Status {
            version: "0.1.0",
            uptime: Duration::from_secs(90_061),
            pilot_rooms: vec![
                RoomStatus {
                    name: "#pilot:localhost".into(),
                    joined: true,
                    members: 12,
                },
                RoomStatus {
                    name: "#other:localhost".into(),
                    joined: false,
                    members: 0,
                },
            ],
            undecryptable: 2,
            surveys: vec!["pulse".into()],
        };
        let de = render_status(&s, Lang::De);
        assert!(de.contains("läuft seit 1 Tag 01:01:01"), "{de}");
        assert!(de.contains("Pilot-Räume beigetreten: 1/2"), "{de}");
        assert!(de.contains("#pilot:localhost: 12 Mitglieder"), "{de}");
        assert!(de.contains("Nicht entschlüsselbare Nachrichten: 2"), "{de}");
        assert!(de.contains("Umfragen: pulse"), "{de}");
        let en = render_status(&s, Lang::En);
        assert!(en.contains("up for 1 day 01:01:01"), "{en}");
    }
}
