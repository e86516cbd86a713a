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
    CommandSpec {
        name: "start",
        args: "SURVEY",
        help_de: "öffnet jetzt eine Runde der Umfrage (Dauer und Erinnerungen laut Umfragedatei)",
        help_en: "opens a round of the survey now (duration and reminders as in the survey file)",
    },
    CommandSpec {
        name: "remind",
        args: "SURVEY",
        help_de: "erinnert alle, die die laufende Runde noch nicht beendet haben (nur in der Arbeitszeit)",
        help_en: "reminds everyone who has not finished the open round (working hours only)",
    },
    CommandSpec {
        name: "report",
        args: "SURVEY [html|md|json|csv|csv-de]",
        help_de: "lädt den Bericht aller Runden als verschlüsselte Datei hier hoch (Standard: html; kleine Gruppen unterdrückt, protokolliert)",
        help_en: "uploads the report of all rounds here as an encrypted file (default: html; small groups suppressed, audited)",
    },
    CommandSpec {
        name: "close",
        args: "SURVEY",
        help_de: "schließt die laufende Runde; begonnene Antworten zählen als unvollständig",
        help_en: "closes the open round; started answers count as partial",
    },
];

/// A parsed admin command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `!pulse help` or a bare `!pulse`.
    Help,
    /// `!pulse status`.
    Status,
    /// `!pulse start SURVEY`.
    Start(String),
    /// `!pulse remind SURVEY`.
    Remind(String),
    /// `!pulse close SURVEY`.
    Close(String),
    /// `!pulse report SURVEY [FORMAT]`.
    Report {
        /// The survey id.
        survey: String,
        /// The format as typed (checked by the bot), `None` for HTML.
        format: Option<String>,
    },
    /// A command that needs a survey id, without one.
    MissingSurvey(&'static str),
    /// Anything else after the prefix.
    Unknown(String),
}

impl AdminCommand {
    /// The command's name, for logs.
    pub fn name(&self) -> &str {
        match self {
            AdminCommand::Help => "help",
            AdminCommand::Status => "status",
            AdminCommand::Start(_) => "start",
            AdminCommand::Remind(_) => "remind",
            AdminCommand::Close(_) => "close",
            AdminCommand::Report { .. } => "report",
            AdminCommand::MissingSurvey(name) => name,
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
        Some(w) if w == "report" => match words.next() {
            None => AdminCommand::MissingSurvey("report"),
            Some(id) => AdminCommand::Report {
                survey: id.to_owned(),
                format: words.next().map(str::to_lowercase),
            },
        },
        Some(w) if w == "start" || w == "remind" || w == "close" => {
            let name = COMMANDS
                .iter()
                .find(|c| c.name == w)
                .map_or("start", |c| c.name);
            match words.next() {
                None => AdminCommand::MissingSurvey(name),
                Some(id) => {
                    let id = id.to_owned();
                    match name {
                        "start" => AdminCommand::Start(id),
                        "remind" => AdminCommand::Remind(id),
                        _ => AdminCommand::Close(id),
                    }
                }
            }
        }
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

/// The reply to a command that needs a survey id.
pub fn missing_survey(name: &str, surveys: &[String], lang: Lang) -> String {
    let list = if surveys.is_empty() {
        "—".to_owned()
    } else {
        surveys.join(", ")
    };
    match lang {
        Lang::De => {
            format!("Bitte die Umfrage angeben: `{PREFIX} {name} UMFRAGE`. Umfragen: {list}")
        }
        Lang::En => format!("Please name the survey: `{PREFIX} {name} SURVEY`. Surveys: {list}"),
    }
}

/// The reply to a survey id that is not loaded.
pub fn unknown_survey(id: &str, surveys: &[String], lang: Lang) -> String {
    let list = if surveys.is_empty() {
        "—".to_owned()
    } else {
        surveys.join(", ")
    };
    match lang {
        Lang::De => format!("Unbekannte Umfrage `{id}`. Umfragen: {list}"),
        Lang::En => format!("Unknown survey `{id}`. Surveys: {list}"),
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

/// The reply to `!pulse report` in a room that is not end-to-end encrypted.
pub fn unencrypted_room(lang: Lang) -> &'static str {
    lang.pick(
        "Berichte lade ich nur in Ende-zu-Ende-verschlüsselte Räume hoch. Bitte im Admin-Raum oder in einem verschlüsselten Direktchat mit mir fragen.",
        "I upload reports into end-to-end encrypted rooms only. Please ask in the admin room or in an encrypted direct chat with me.",
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
    /// Participants who consented (overall).
    pub consented: u64,
    /// The rounds, newest first (at most a few).
    pub rounds: Vec<RoundCounts>,
}

/// Counts of one round: never names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoundCounts {
    /// The survey.
    pub survey: String,
    /// The round number.
    pub round: u32,
    /// Still open.
    pub open: bool,
    /// Audience when it opened (or the largest seen while it ran).
    pub audience: u64,
    /// Consented participants the round was started for.
    pub invited: u64,
    /// Of those, finished.
    pub finished: u64,
    /// Of those, with a partial response (round closed before they finished) or still
    /// answering.
    pub partial: u64,
    /// Reminders sent in the round.
    pub reminders: u64,
}

/// Counts per round from the ledger and the rounds (newest and open first, at most six),
/// and how many participants consent. Imported rounds have no ledger and are left out.
pub fn round_counts(
    participants: &[crate::model::LedgerEntry],
    rounds: &[crate::model::RoundInfo],
) -> (u64, Vec<RoundCounts>) {
    use crate::model::{ConsentState, RoundStatus};
    let consented = participants
        .iter()
        .filter(|e| e.consent == ConsentState::Yes && !e.erased)
        .count() as u64;
    let mut out: Vec<RoundCounts> = rounds
        .iter()
        .filter(|r| r.label.is_none())
        .map(|r| {
            let mut c = RoundCounts {
                survey: r.survey_id.clone(),
                round: r.round,
                open: r.closed_at.is_none(),
                audience: r.audience.unwrap_or(0),
                ..RoundCounts::default()
            };
            for p in participants
                .iter()
                .filter_map(|e| e.round(&r.survey_id, r.round))
            {
                c.invited += 1;
                c.reminders += u64::from(p.reminders_sent);
                match p.status {
                    RoundStatus::Finished => c.finished += 1,
                    RoundStatus::Partial | RoundStatus::Started => c.partial += 1,
                    RoundStatus::Invited | RoundStatus::OptedOut => {}
                }
            }
            c
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse((c.open, c.round)));
    out.truncate(6);
    (consented, out)
}

/// The persisted part of the status, for `pulsebot status` (no Matrix connection needed).
pub fn render_offline_status(
    surveys: &[String],
    consented: u64,
    rounds: &[RoundCounts],
    lang: Lang,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        lang.pick("Umfragen", "Surveys"),
        if surveys.is_empty() {
            "—".to_string()
        } else {
            surveys.join(", ")
        }
    );
    render_rounds(&mut out, consented, rounds, lang);
    out.truncate(out.trim_end().len());
    out
}

fn render_rounds(out: &mut String, consented: u64, rounds: &[RoundCounts], lang: Lang) {
    let _ = writeln!(
        out,
        "{}: {}",
        lang.pick("Einwilligungen", "Consented participants"),
        consented
    );
    if rounds.is_empty() {
        let _ = writeln!(out, "{}", lang.pick("Noch keine Runde.", "No round yet."));
    }
    for r in rounds {
        let state = if r.open {
            lang.pick("offen", "open")
        } else {
            lang.pick("geschlossen", "closed")
        };
        let _ = writeln!(
            out,
            "• {} {} {} ({state}): {} {}, {} {}, {} {}, {} {}, {} {}",
            r.survey,
            lang.pick("Runde", "round"),
            r.round,
            lang.pick("Zielgruppe", "audience"),
            r.audience,
            lang.pick("gestartet", "started for"),
            r.invited,
            lang.pick("fertig", "finished"),
            r.finished,
            lang.pick("unvollständig", "partial"),
            r.partial,
            lang.pick("Erinnerungen", "reminders"),
            r.reminders,
        );
    }
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
    render_rounds(&mut out, s.consented, &s.rounds, lang);
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
        assert_eq!(
            parse("!pulse start pulse"),
            Some(AdminCommand::Start("pulse".into()))
        );
        assert_eq!(
            parse("!pulse close pulse"),
            Some(AdminCommand::Close("pulse".into()))
        );
        assert_eq!(
            parse("!pulse remind pulse"),
            Some(AdminCommand::Remind("pulse".into()))
        );
        assert_eq!(
            parse("!pulse start"),
            Some(AdminCommand::MissingSurvey("start"))
        );
        assert_eq!(
            parse("!pulse report pulse MD"),
            Some(AdminCommand::Report {
                survey: "pulse".into(),
                format: Some("md".into())
            })
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
            consented: 9,
            rounds: vec![RoundCounts {
                survey: "pulse".into(),
                round: 2,
                open: true,
                audience: 12,
                invited: 9,
                finished: 6,
                partial: 2,
                reminders: 3,
            }],
        };
        let de = render_status(&s, Lang::De);
        assert!(de.contains("läuft seit 1 Tag 01:01:01"), "{de}");
        assert!(de.contains("Pilot-Räume beigetreten: 1/2"), "{de}");
        assert!(de.contains("#pilot:localhost: 12 Mitglieder"), "{de}");
        assert!(de.contains("Nicht entschlüsselbare Nachrichten: 2"), "{de}");
        assert!(de.contains("Umfragen: pulse"), "{de}");
        assert!(
            de.contains("pulse Runde 2 (offen): Zielgruppe 12, gestartet 9, fertig 6, unvollständig 2, Erinnerungen 3"),
            "{de}"
        );
        let en = render_status(&s, Lang::En);
        assert!(en.contains("up for 1 day 01:01:01"), "{en}");
    }
}
