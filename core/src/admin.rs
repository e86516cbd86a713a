//! Admin commands (`!pulse ...`): described as data, parsed into a typed enum, help generated.
//!
//! Pure: parsing and rendering only. Who may run a command and where is decided by the bot.

use std::fmt::Write;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::conversation::texts::{date_time, weekday_date_time};
use crate::lang::Lang;
use crate::schedule::{History, Schedule, Start};

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
    /// The next scheduled round of each loaded survey.
    pub next_rounds: Vec<NextRound>,
    /// Participants who consented (overall).
    pub consented: u64,
    /// The rounds, newest first (at most a few).
    pub rounds: Vec<RoundCounts>,
    /// The zone dates are shown in (`bot.timezone`).
    pub timezone: TimeZone,
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
    /// When an open round closes by itself (from its schedule); `None` for a round opened
    /// without one, which an admin closes.
    pub closes_at: Option<Timestamp>,
    /// When a closed round was closed.
    pub closed_at: Option<Timestamp>,
    /// Audience when it opened (or the largest seen while it ran).
    pub audience: u64,
    /// Consented participants invited to the round (sent its first message).
    pub invited: u64,
    /// Of those, finished.
    pub finished: u64,
    /// Of those, answered some questions and are still answering (open round).
    pub started: u64,
    /// Of those, answered some questions before the round closed.
    pub partial: u64,
    /// Of those, opted out during the round.
    pub opted_out: u64,
    /// Reminders sent in the round.
    pub reminders: u64,
}

/// When a survey's next round opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRound {
    /// The survey.
    pub survey: String,
    /// When.
    pub next: Next,
}

/// When the next round of a survey opens, as its schedule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// At this instant (the first moment messages may be sent at or after the slot).
    At(Timestamp),
    /// Rounds of this survey start only when an admin starts them.
    Manual,
    /// The schedule has no further round.
    None,
}

/// How far ahead [`next_round`] looks for a slot of a recurring schedule.
const NEXT_ROUND_HORIZON_DAYS: i64 = 800;

/// The next round of `survey_id` under `schedule`, given the bot's record of its rounds:
/// the first scheduled slot after the latest one a round was opened for whose window has not
/// ended at `now`, moved to the first moment messages may be sent (a slot in the quiet hours
/// or on a weekend opens when sending is allowed again).
pub fn next_round(
    schedule: &Schedule,
    survey_id: &str,
    rounds: &[crate::model::RoundInfo],
    now: Timestamp,
) -> Next {
    if schedule.start == Start::Manual {
        return Next::Manual;
    }
    let history = History::from_rounds(survey_id, rounds);
    let latest = history.rounds.iter().map(|r| r.slot).max();
    let horizon = now
        .checked_add(jiff::SignedDuration::from_hours(
            24 * NEXT_ROUND_HORIZON_DAYS,
        ))
        .unwrap_or(Timestamp::MAX);
    let slot = schedule.slots_until(horizon).into_iter().find(|s| {
        latest.is_none_or(|l| *s > l)
            && schedule
                .open_for
                .add_to(*s, &schedule.timezone)
                .is_some_and(|closes| closes > now)
    });
    match slot {
        Some(s) => Next::At(schedule.next_allowed(s.max(now)).unwrap_or(s)),
        None => Next::None,
    }
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
                closes_at: r.schedule.map(|s| s.closes_at),
                closed_at: r.closed_at,
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
                    RoundStatus::Started => c.started += 1,
                    RoundStatus::Partial => c.partial += 1,
                    RoundStatus::OptedOut => c.opted_out += 1,
                    RoundStatus::Invited => {}
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
    next_rounds: &[NextRound],
    consented: u64,
    rounds: &[RoundCounts],
    tz: &TimeZone,
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
    render_rounds(&mut out, consented, rounds, tz, lang);
    render_next_rounds(&mut out, next_rounds, tz, lang);
    out.truncate(out.trim_end().len());
    out
}

fn render_rounds(
    out: &mut String,
    consented: u64,
    rounds: &[RoundCounts],
    tz: &TimeZone,
    lang: Lang,
) {
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
        let state = match (r.open, r.closes_at, r.closed_at) {
            (true, Some(at), _) => format!(
                "{} {}",
                lang.pick("offen bis", "open until"),
                weekday_date_time(at, tz, lang)
            ),
            (true, None, _) => match lang {
                Lang::De => format!(
                    "offen, ohne festes Ende (schließen mit „{PREFIX} close {}“)",
                    r.survey
                ),
                Lang::En => format!(
                    "open, no fixed end (close with “{PREFIX} close {}”)",
                    r.survey
                ),
            },
            (false, _, Some(at)) => format!(
                "{} {}",
                lang.pick("geschlossen am", "closed on"),
                date_time(at, tz, lang)
            ),
            (false, _, None) => lang.pick("geschlossen", "closed").to_owned(),
        };
        // Started (still answering) exists only while a round is open; at close it becomes
        // partial. Counted by the word that fits the round's state.
        let answering = r.started + r.partial;
        let not_begun = r
            .invited
            .saturating_sub(r.finished + answering + r.opted_out);
        let (answering_word, not_begun_word) = if r.open {
            (
                lang.pick("begonnen", "started"),
                lang.pick("noch nicht begonnen", "not started yet"),
            )
        } else {
            (
                lang.pick("teilweise", "partly"),
                lang.pick("nicht begonnen", "never started"),
            )
        };
        let _ = writeln!(
            out,
            "• {} {} {} – {state}: {} {}, {} {}, {} {} {}, {answering_word} {answering}, {not_begun_word} {not_begun}, {} {}; {} {}",
            r.survey,
            lang.pick("Runde", "round"),
            r.round,
            lang.pick("Zielgruppe", "audience"),
            r.audience,
            lang.pick("eingeladen", "invited"),
            r.invited,
            lang.pick("davon", "of them"),
            lang.pick("fertig", "finished"),
            r.finished,
            lang.pick("abgemeldet", "opted out"),
            r.opted_out,
            lang.pick("Erinnerungen", "reminders"),
            r.reminders,
        );
    }
}

fn render_next_rounds(out: &mut String, next_rounds: &[NextRound], tz: &TimeZone, lang: Lang) {
    if next_rounds.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}:",
        lang.pick("Nächste Runde je Umfrage", "Next round per survey")
    );
    for n in next_rounds {
        let when = match n.next {
            Next::At(t) => weekday_date_time(t, tz, lang),
            Next::Manual => match lang {
                Lang::De => format!("nur von Hand („{PREFIX} start {}“)", n.survey),
                Lang::En => format!("only by hand (“{PREFIX} start {}”)", n.survey),
            },
            Next::None => lang
                .pick("keine weitere geplant", "none planned")
                .to_owned(),
        };
        let _ = writeln!(out, "• {}: {when}", n.survey);
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
    render_rounds(&mut out, s.consented, &s.rounds, &s.timezone, lang);
    render_next_rounds(&mut out, &s.next_rounds, &s.timezone, lang);
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
    use crate::model::RoundInfo;

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

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("tz")
    }

    fn status() -> Status {
        Status {
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
            surveys: vec!["pulse".into(), "baseline".into(), "alt".into()],
            next_rounds: vec![
                NextRound {
                    survey: "pulse".into(),
                    next: Next::At(at("2026-12-07T08:00:00Z")),
                },
                NextRound {
                    survey: "baseline".into(),
                    next: Next::Manual,
                },
                NextRound {
                    survey: "alt".into(),
                    next: Next::None,
                },
            ],
            consented: 9,
            rounds: vec![
                RoundCounts {
                    survey: "pulse".into(),
                    round: 2,
                    open: true,
                    closes_at: Some(at("2026-12-04T15:00:00Z")),
                    closed_at: None,
                    audience: 12,
                    invited: 9,
                    finished: 5,
                    started: 2,
                    partial: 0,
                    opted_out: 1,
                    reminders: 3,
                },
                RoundCounts {
                    survey: "alt".into(),
                    round: 4,
                    open: true,
                    closes_at: None,
                    audience: 3,
                    invited: 3,
                    ..RoundCounts::default()
                },
                RoundCounts {
                    survey: "pulse".into(),
                    round: 1,
                    open: false,
                    closes_at: Some(at("2026-11-27T15:00:00Z")),
                    closed_at: Some(at("2026-11-27T15:00:00Z")),
                    audience: 11,
                    invited: 9,
                    finished: 7,
                    started: 0,
                    partial: 1,
                    opted_out: 0,
                    reminders: 5,
                },
            ],
            timezone: berlin(),
        }
    }

    #[test]
    fn status_shows_counts_deadlines_and_next_rounds_de() {
        assert_eq!(
            render_status(&status(), Lang::De),
            "pulsebot 0.1.0 — läuft seit 1 Tag 01:01:01
Pilot-Räume beigetreten: 1/2
• #pilot:localhost: 12 Mitglieder
• #other:localhost: nicht beigetreten (Einladung fehlt?)
Umfragen: pulse, baseline, alt
Einwilligungen: 9
• pulse Runde 2 – offen bis Freitag, 4. Dezember 2026, 16:00 Uhr: Zielgruppe 12, eingeladen 9, davon fertig 5, begonnen 2, noch nicht begonnen 1, abgemeldet 1; Erinnerungen 3
• alt Runde 4 – offen, ohne festes Ende (schließen mit „!pulse close alt“): Zielgruppe 3, eingeladen 3, davon fertig 0, begonnen 0, noch nicht begonnen 3, abgemeldet 0; Erinnerungen 0
• pulse Runde 1 – geschlossen am 27. November 2026, 16:00 Uhr: Zielgruppe 11, eingeladen 9, davon fertig 7, teilweise 1, nicht begonnen 1, abgemeldet 0; Erinnerungen 5
Nächste Runde je Umfrage:
• pulse: Montag, 7. Dezember 2026, 9:00 Uhr
• baseline: nur von Hand („!pulse start baseline“)
• alt: keine weitere geplant
Nicht entschlüsselbare Nachrichten: 2"
        );
    }

    #[test]
    fn status_shows_counts_deadlines_and_next_rounds_en() {
        assert_eq!(
            render_status(&status(), Lang::En),
            "pulsebot 0.1.0 — up for 1 day 01:01:01
Pilot rooms joined: 1/2
• #pilot:localhost: 12 members
• #other:localhost: not joined (no invite yet?)
Surveys: pulse, baseline, alt
Consented participants: 9
• pulse round 2 – open until Friday, 4 December 2026, 4:00 pm: audience 12, invited 9, of them finished 5, started 2, not started yet 1, opted out 1; reminders 3
• alt round 4 – open, no fixed end (close with “!pulse close alt”): audience 3, invited 3, of them finished 0, started 0, not started yet 3, opted out 0; reminders 0
• pulse round 1 – closed on 27 November 2026, 4:00 pm: audience 11, invited 9, of them finished 7, partly 1, never started 1, opted out 0; reminders 5
Next round per survey:
• pulse: Monday, 7 December 2026, 9:00 am
• baseline: only by hand (“!pulse start baseline”)
• alt: none planned
Undecryptable messages: 2"
        );
    }

    #[test]
    fn offline_status_without_rounds() {
        assert_eq!(
            render_offline_status(&[], &[], 0, &[], &berlin(), Lang::De),
            "Umfragen: —\nEinwilligungen: 0\nNoch keine Runde."
        );
    }

    fn round(survey: &str, n: u32, slot: &str, closes: &str, closed: bool) -> RoundInfo {
        RoundInfo {
            survey_id: survey.into(),
            round: n,
            mode: crate::model::Mode::Anonymous,
            opened_at: at(slot),
            closed_at: closed.then(|| at(closes)),
            raw_deleted_at: None,
            responses: 0,
            audience: None,
            label: None,
            schedule: Some(crate::model::RoundSchedule {
                slot: at(slot),
                closes_at: at(closes),
                reminders_done: 0,
            }),
        }
    }

    #[test]
    fn next_round_follows_the_schedule() {
        use crate::schedule::{CalDuration, Unit};
        use jiff::civil::{date, time};
        let mut weekly = Schedule::manual(berlin());
        assert_eq!(
            next_round(&weekly, "p", &[], at("2026-12-02T10:00:00Z")),
            Next::Manual
        );
        weekly.start = Start::Every {
            every: CalDuration {
                amount: 1,
                unit: Unit::Weeks,
            },
            weekday: Some(jiff::civil::Weekday::Monday),
            time: time(9, 0, 0, 0),
            start: date(2026, 11, 2),
            until: Some(date(2026, 12, 14)),
            max_rounds: None,
        };
        // Round of Monday 30 November still open on Wednesday: the next is 7 December.
        let open = [round(
            "p",
            5,
            "2026-11-30T08:00:00Z",
            "2026-12-03T08:00:00Z",
            false,
        )];
        let now = at("2026-12-02T10:00:00Z");
        assert_eq!(
            next_round(&weekly, "p", &open, now),
            Next::At(at("2026-12-07T08:00:00Z"))
        );
        // Rounds of other surveys do not count: for `q` the slot of 30 November is still
        // within its window, so it is due now.
        assert_eq!(next_round(&weekly, "q", &open, now), Next::At(now));
        // After the last slot (14 December) was opened: none.
        let last = [round(
            "p",
            7,
            "2026-12-14T08:00:00Z",
            "2026-12-17T08:00:00Z",
            true,
        )];
        assert_eq!(
            next_round(&weekly, "p", &last, at("2026-12-18T10:00:00Z")),
            Next::None
        );
        // A slot in the quiet hours opens when sending is allowed again.
        weekly.start = Start::At(vec![date(2026, 12, 5).at(10, 0, 0, 0)]);
        assert_eq!(
            next_round(&weekly, "p", &[], now),
            Next::At(at("2026-12-07T07:00:00Z")),
            "Saturday's slot opens on Monday at 8:00"
        );
    }
}
