//! When rounds open, remind and close: a pure function of schedule, history and time (issue 3).
//!
//! Two halves:
//! - **Parsing** the `[schedule]` section of a survey file into a validated [`Schedule`]
//!   (called by `survey::parse_str`; every problem becomes a positioned diagnostic).
//! - **Deciding** what is due: [`due`]`(schedule, history, now)` returns the [`Action`]s
//!   (open, remind, close) the scheduler should carry out at `now`. It reads no clock and no
//!   disk, so it is tested with arbitrary instants, and after a restart the same history and
//!   the same instant give the same answer.
//!
//! Edges: this module does not send anything or keep anything. The caller (the bot's
//! scheduler) records what an action changes about a round together with carrying it out
//! (the open with its due and close times in one transaction, reminders before they go out)
//! and reads the [`History`] back from its rounds with [`History::from_rounds`], which is what
//! makes the whole thing idempotent: an action that was recorded is never due again.
//!
//! Time semantics, chosen so that DST changes never move a round:
//! - Start times are *civil* times in the schedule's time zone ("Tuesday 10:00
//!   Europe/Berlin"), converted to instants per occurrence; a time that does not exist
//!   (spring-forward gap) is moved forward, an ambiguous one (fall-back) takes the earlier.
//! - `every`, `open_for`, reminder offsets and `min_gap` in days/weeks are calendar days in
//!   that zone (10:00 + 3 days is 10:00 three days later even across a DST change); hours and
//!   minutes are exact durations.
//! - No participant message (open, reminder) goes out in quiet hours or on a non-working day.
//!   An overdue open waits for the next allowed instant (while the round window lasts); a
//!   reminder moves to the next allowed instant and is dropped if that is not before close.
//!   Closing sends nothing to participants, so it happens on time.

#![warn(missing_docs)]

use std::fmt;
use std::ops::Range;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::RoundInfo;
use crate::survey::diagnostics::Sink;
use crate::survey::parse::{check_keys, get_int, str_of, table_of};
use crate::survey::tree::{Entry, Kind, Node, Table};

/// Unit of a [`CalDuration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Exact minutes.
    Minutes,
    /// Exact hours.
    Hours,
    /// Calendar days in the schedule's time zone.
    Days,
    /// Calendar weeks (7 calendar days).
    Weeks,
}

/// A duration as written in a survey file: "3 days", "12 hours", "2 weeks".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalDuration {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: Unit,
}

/// Why a duration string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    /// Not `<number> <unit>`.
    #[error("expected a number and a unit")]
    Syntax,
    /// The unit is not minutes/hours/days/weeks.
    #[error("unknown unit `{0}`")]
    Unit(String),
}

impl CalDuration {
    /// Parses "3 days", "1 day", "2 weeks", "12 hours", "90 minutes" (also "3d", "2w", "12h",
    /// "90min" and the German "3 Tage", "2 Wochen", "12 Stunden", "90 Minuten").
    pub fn parse(s: &str) -> Result<CalDuration, DurationError> {
        let s = s.trim().to_lowercase();
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(DurationError::Syntax)?;
        let (num, unit) = s.split_at(split);
        let amount: u32 = num.parse().map_err(|_| DurationError::Syntax)?;
        let unit = match unit.trim() {
            "m" | "min" | "mins" | "minute" | "minutes" | "minuten" => Unit::Minutes,
            "h" | "hour" | "hours" | "stunde" | "stunden" => Unit::Hours,
            "d" | "day" | "days" | "tag" | "tage" | "tagen" => Unit::Days,
            "w" | "week" | "weeks" | "woche" | "wochen" => Unit::Weeks,
            "" => return Err(DurationError::Syntax),
            other => return Err(DurationError::Unit(other.to_owned())),
        };
        Ok(CalDuration { amount, unit })
    }

    /// Nominal length in minutes (a day counted as 1440), for comparing durations.
    pub fn nominal_minutes(&self) -> i64 {
        let a = i64::from(self.amount);
        match self.unit {
            Unit::Minutes => a,
            Unit::Hours => a * 60,
            Unit::Days => a * 1440,
            Unit::Weeks => a * 7 * 1440,
        }
    }

    /// The jiff span (days/weeks as calendar units).
    pub fn span(&self) -> Span {
        let a = i64::from(self.amount);
        match self.unit {
            Unit::Minutes => Span::new().minutes(a),
            Unit::Hours => Span::new().hours(a),
            Unit::Days => Span::new().days(a),
            Unit::Weeks => Span::new().weeks(a),
        }
    }

    /// `t + self` in `tz` (calendar arithmetic for days/weeks); `None` beyond jiff's range.
    pub fn add_to(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        t.to_zoned(tz.clone())
            .checked_add(self.span())
            .ok()
            .map(|z: Zoned| z.timestamp())
    }
}

impl fmt::Display for CalDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (one, many) = match self.unit {
            Unit::Minutes => ("minute", "minutes"),
            Unit::Hours => ("hour", "hours"),
            Unit::Days => ("day", "days"),
            Unit::Weeks => ("week", "weeks"),
        };
        let unit = if self.amount == 1 { one } else { many };
        write!(f, "{} {unit}", self.amount)
    }
}

/// Hours of the day in which no participant message is sent; `from` > `to` wraps midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start of the quiet period (inclusive).
    pub from: Time,
    /// End of the quiet period (exclusive).
    pub to: Time,
}

impl QuietHours {
    /// Whether the civil time `t` is quiet.
    pub fn contains(&self, t: Time) -> bool {
        if self.from < self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }
}

/// How rounds start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Only when an admin starts a round.
    Manual,
    /// At these civil times (sorted, distinct).
    At(Vec<DateTime>),
    /// A recurrence.
    Every {
        /// Period in days or weeks.
        every: CalDuration,
        /// Weekday of the rounds (the first round is on the first such day on/after `start`).
        weekday: Option<Weekday>,
        /// Time of day.
        time: Time,
        /// Date of the first possible round.
        start: Date,
        /// Last possible date (inclusive).
        until: Option<Date>,
        /// At most this many rounds.
        max_rounds: Option<u32>,
    },
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The zone in which civil times, days and quiet hours are meant.
    pub timezone: TimeZone,
    /// When rounds start.
    pub start: Start,
    /// How long a round stays open (default 3 days).
    pub open_for: CalDuration,
    /// Reminder offsets after opening (at most 3, increasing, each before close).
    pub reminders: Vec<CalDuration>,
    /// No messages in these hours (default 18:00–08:00).
    pub quiet_hours: Option<QuietHours>,
    /// Days on which messages may be sent (default Monday–Friday).
    pub working_days: Vec<Weekday>,
    /// Minimum time between a participant's rounds of different surveys (default 7 days).
    pub min_gap: CalDuration,
}

/// Most rounds a schedule is expanded to; bounds the work for schedules without an end.
const MAX_SLOTS: u32 = 100_000;

impl Schedule {
    /// A manual schedule with the defaults, in `tz`.
    pub fn manual(tz: TimeZone) -> Schedule {
        Schedule {
            timezone: tz,
            start: Start::Manual,
            open_for: CalDuration {
                amount: 3,
                unit: Unit::Days,
            },
            reminders: Vec::new(),
            quiet_hours: Some(QuietHours {
                from: Time::constant(18, 0, 0, 0),
                to: Time::constant(8, 0, 0, 0),
            }),
            working_days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            min_gap: CalDuration {
                amount: 7,
                unit: Unit::Days,
            },
        }
    }

    fn to_instant(&self, dt: DateTime) -> Option<Timestamp> {
        // `compatible`: a gap time moves forward, a folded time takes the earlier instant.
        self.timezone.to_ambiguous_timestamp(dt).compatible().ok()
    }

    /// Whether a participant message may be sent at `t` (working day, not in quiet hours).
    pub fn allowed(&self, t: Timestamp) -> bool {
        let dt = self.timezone.to_datetime(t);
        self.working_days.contains(&dt.weekday())
            && !self.quiet_hours.is_some_and(|q| q.contains(dt.time()))
    }

    /// The first instant ≥ `t` at which messages may be sent (`None` if none within 3 weeks,
    /// which only happens without working days).
    pub fn next_allowed(&self, t: Timestamp) -> Option<Timestamp> {
        if self.allowed(t) {
            return Some(t);
        }
        // Allowed stretches of a day begin at midnight or at the end of the quiet hours, so
        // those are the only candidates after `t` that need checking.
        let start = self.timezone.to_datetime(t).date();
        for d in 0..21 {
            let date = start.checked_add(Span::new().days(d)).ok()?;
            let mut cands = vec![date.to_datetime(Time::midnight())];
            if let Some(q) = self.quiet_hours {
                cands.push(date.to_datetime(q.to));
            }
            let mut instants: Vec<Timestamp> = cands
                .into_iter()
                .filter_map(|c| self.to_instant(c))
                .collect();
            instants.sort();
            if let Some(c) = instants.into_iter().find(|c| *c > t && self.allowed(*c)) {
                return Some(c);
            }
        }
        None
    }

    /// The scheduled start instants, in order, that are ≤ `until` (all for a finite list).
    pub fn slots_until(&self, until: Timestamp) -> Vec<Timestamp> {
        let mut out = Vec::new();
        match &self.start {
            Start::Manual => {}
            Start::At(list) => {
                out.extend(list.iter().filter_map(|dt| self.to_instant(*dt)));
                out.retain(|t| *t <= until);
            }
            Start::Every {
                every,
                weekday,
                time,
                start,
                until: last_date,
                max_rounds,
            } => {
                let first = match weekday {
                    Some(w) => {
                        let ahead = (w.to_monday_zero_offset()
                            - start.weekday().to_monday_zero_offset())
                        .rem_euclid(7);
                        start.checked_add(Span::new().days(i64::from(ahead))).ok()
                    }
                    None => Some(*start),
                };
                let Some(first) = first else { return out };
                let limit = max_rounds.unwrap_or(MAX_SLOTS).min(MAX_SLOTS);
                for k in 0..limit {
                    let step = CalDuration {
                        amount: every.amount.saturating_mul(k),
                        unit: every.unit,
                    };
                    let Ok(date) = first.checked_add(step.span()) else {
                        break;
                    };
                    if last_date.is_some_and(|u| date > u) {
                        break;
                    }
                    let Some(t) = self.to_instant(date.to_datetime(*time)) else {
                        break;
                    };
                    if t > until {
                        break;
                    }
                    out.push(t);
                }
            }
        }
        out
    }

    /// Whether a participant whose last round of *another* survey opened at `last_other` may
    /// be invited to a round of this survey opening at `round_opened` (the `min_gap` rule).
    /// A participant who may not is simply not invited to that round.
    pub fn participant_may_join(
        &self,
        last_other: Option<Timestamp>,
        round_opened: Timestamp,
    ) -> bool {
        match last_other {
            None => true,
            Some(last) => self
                .min_gap
                .add_to(last, &self.timezone)
                .is_none_or(|earliest| earliest <= round_opened),
        }
    }
}

/// One round as the scheduler sees it (built from the bot's record of its rounds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    /// 1-based, consecutive per survey.
    pub number: u32,
    /// The scheduled start (for a manual round: when the admin started it).
    pub slot: Timestamp,
    /// When it was actually opened.
    pub opened_at: Timestamp,
    /// When it closes: `slot + open_for`, fixed at opening so restarts cannot move it.
    pub closes_at: Timestamp,
    /// When it was closed (by schedule or admin); `None` while open.
    pub closed_at: Option<Timestamp>,
    /// How many reminder offsets are used up (sent or skipped as overdue).
    pub reminders_done: u8,
}

/// The rounds of one survey so far, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Every round ever opened, by number.
    pub rounds: Vec<RoundRecord>,
}

/// Something the scheduler should do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Close a round whose time is up.
    Close {
        /// Round number.
        round: u32,
    },
    /// Open a new round and send the first question.
    Open {
        /// The new round's number.
        round: u32,
        /// Its scheduled start.
        slot: Timestamp,
        /// When it will close.
        closes_at: Timestamp,
    },
    /// Remind those who have not finished.
    Remind {
        /// Round number.
        round: u32,
        /// 0-based index into `reminders`; later overdue reminders replace earlier ones, so
        /// after downtime a participant gets one reminder, not a burst.
        reminder: u8,
    },
}

/// Why an admin cannot start a round now.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StartError {
    /// A round is still open.
    #[error("round {0} is still open; close it first")]
    RoundOpen(u32),
    /// The close time would be out of range.
    #[error("the round's close time is out of range")]
    OutOfRange,
}

impl History {
    /// The history of survey `survey_id` as the rounds record it (the bot's one record of
    /// them). An imported round counts as closed; an open round without a schedule (opened by
    /// an older version) never closes by itself: an admin closes it.
    pub fn from_rounds(survey_id: &str, rounds: &[RoundInfo]) -> History {
        let mut rounds: Vec<RoundRecord> = rounds
            .iter()
            .filter(|i| i.survey_id == survey_id)
            .map(|i| RoundRecord {
                number: i.round,
                slot: i.schedule.map_or(i.opened_at, |s| s.slot),
                opened_at: i.opened_at,
                closes_at: match (i.schedule, i.closed_at) {
                    (Some(s), _) => s.closes_at,
                    (None, Some(closed)) => closed,
                    (None, None) => Timestamp::MAX,
                },
                closed_at: i.closed_at,
                reminders_done: i.schedule.map_or(0, |s| s.reminders_done),
            })
            .collect();
        rounds.sort_by_key(|r| r.number);
        History { rounds }
    }

    fn open_round(&self) -> Option<&RoundRecord> {
        self.rounds.iter().rev().find(|r| r.closed_at.is_none())
    }

    fn next_number(&self) -> u32 {
        self.rounds.iter().map(|r| r.number).max().unwrap_or(0) + 1
    }
}

/// The open action for an admin's manual start at `now` (any schedule kind).
pub fn start_manually(
    schedule: &Schedule,
    history: &History,
    now: Timestamp,
) -> Result<Action, StartError> {
    if let Some(r) = history.open_round()
        && now < r.closes_at
    {
        return Err(StartError::RoundOpen(r.number));
    }
    let closes_at = schedule
        .open_for
        .add_to(now, &schedule.timezone)
        .ok_or(StartError::OutOfRange)?;
    Ok(Action::Open {
        round: history.next_number(),
        slot: now,
        closes_at,
    })
}

/// What is due at `now`: closes first, then an open, then at most one reminder.
///
/// Pure and deterministic; with `history` updated by what each returned action records,
/// calling again at the same `now` returns nothing. Guarantees (property-tested):
/// a scheduled slot opens at most once; opens and reminders only at allowed instants;
/// reminders only while the round is open.
pub fn due(schedule: &Schedule, history: &History, now: Timestamp) -> Vec<Action> {
    let mut actions = Vec::new();
    let tz = &schedule.timezone;

    // 1. Close every round whose time is up (normally at most one).
    let mut still_open: Option<&RoundRecord> = None;
    for r in history.rounds.iter().filter(|r| r.closed_at.is_none()) {
        if now >= r.closes_at {
            actions.push(Action::Close { round: r.number });
        } else {
            still_open = Some(r);
        }
    }

    // 2. Open the latest slot that has passed, if no round has been opened for it (or a
    //    later one) yet, its window has not ended, and messages may go out now. Earlier missed
    //    slots are not caught up: their windows ended while the bot was down.
    if still_open.is_none() && schedule.allowed(now) {
        let latest_opened = history.rounds.iter().map(|r| r.slot).max();
        if let Some(slot) = schedule.slots_until(now).last().copied() {
            let fresh = latest_opened.is_none_or(|l| l < slot);
            if let Some(closes_at) = schedule.open_for.add_to(slot, tz)
                && fresh
                && now < closes_at
            {
                actions.push(Action::Open {
                    round: history.next_number(),
                    slot,
                    closes_at,
                });
            }
        }
    }

    // 3. Remind for the round that stays open: the latest reminder whose (shifted) time has
    //    come, if it falls before close and now is an allowed instant.
    if let Some(r) = still_open
        && schedule.allowed(now)
    {
        let mut latest = None;
        for (i, after) in schedule.reminders.iter().enumerate() {
            let Ok(i) = u8::try_from(i) else { break };
            if i < r.reminders_done {
                continue;
            }
            let when = after
                .add_to(r.opened_at, tz)
                .and_then(|t| schedule.next_allowed(t));
            if let Some(when) = when
                && when < r.closes_at
                && when <= now
            {
                latest = Some(i);
            }
        }
        if let Some(i) = latest {
            actions.push(Action::Remind {
                round: r.number,
                reminder: i,
            });
        }
    }
    actions
}

// ---------------------------------------------------------------------------------------
// Parsing the [schedule] section.

const SCHEDULE_KEYS: &[&str] = &[
    "timezone",
    "manual",
    "at",
    "every",
    "weekday",
    "time",
    "start",
    "until",
    "max_rounds",
    "open_for",
    "reminders",
    "quiet_hours",
    "working_days",
    "min_gap",
];

const RECURRENCE_ONLY: &[&str] = &["weekday", "time", "start", "until", "max_rounds"];

/// Parses a weekday name: English or German, full or abbreviated, any case.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_lowercase().as_str() {
        "monday" | "mon" | "montag" | "mo" => Weekday::Monday,
        "tuesday" | "tue" | "tues" | "dienstag" | "di" => Weekday::Tuesday,
        "wednesday" | "wed" | "mittwoch" | "mi" => Weekday::Wednesday,
        "thursday" | "thu" | "thurs" | "donnerstag" | "do" => Weekday::Thursday,
        "friday" | "fri" | "freitag" | "fr" => Weekday::Friday,
        "saturday" | "sat" | "samstag" | "sonnabend" | "sa" => Weekday::Saturday,
        "sunday" | "sun" | "sonntag" | "so" => Weekday::Sunday,
        _ => return None,
    })
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

const DURATION_HINT: &str =
    "write a number and a unit in quotes, e.g. \"3 days\", \"12 hours\" or \"2 weeks\"";

/// Reads a duration value; reports and returns `None` when malformed or (unless
/// `zero_ok`) zero.
fn duration_of(node: &Node, what: &str, zero_ok: bool, sink: &mut Sink<'_>) -> Option<CalDuration> {
    let s = str_of(node, what, sink)?;
    match CalDuration::parse(s) {
        Ok(d) if d.amount == 0 && !zero_ok => {
            sink.error(
                &node.span,
                format!("{what} must be longer than zero"),
                DURATION_HINT,
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            sink.error(
                &node.span,
                format!("{what}: cannot read duration `{s}` ({e})"),
                DURATION_HINT,
            );
            None
        }
    }
}

fn time_of(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<Time> {
    let s = match &node.kind {
        Kind::Str(s) | Kind::Datetime(s) => s.as_str(),
        _ => {
            sink.error(
                &node.span,
                format!(
                    "{what} must be a time of day, found {}",
                    node.kind.type_name()
                ),
                "write it in quotes as HH:MM, e.g. \"10:00\"",
            );
            return None;
        }
    };
    match s.trim().parse::<Time>() {
        Ok(t) => Some(t),
        Err(_) => {
            sink.error(
                &node.span,
                format!("{what}: `{s}` is not a time of day"),
                "write it as HH:MM on a 24-hour clock, e.g. \"10:00\" or \"18:30\"",
            );
            None
        }
    }
}

fn date_of(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<Date> {
    let s = match &node.kind {
        Kind::Str(s) | Kind::Datetime(s) => s.as_str(),
        _ => {
            sink.error(
                &node.span,
                format!("{what} must be a date, found {}", node.kind.type_name()),
                "write it as YYYY-MM-DD, e.g. 2025-03-04",
            );
            return None;
        }
    };
    match s.trim().parse::<Date>() {
        Ok(d) if !s.contains(':') => Some(d),
        _ => {
            sink.error(
                &node.span,
                format!("{what}: `{s}` is not a date"),
                "write it as YYYY-MM-DD, e.g. 2025-03-04",
            );
            None
        }
    }
}

fn datetime_of(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<DateTime> {
    let s = match &node.kind {
        Kind::Str(s) | Kind::Datetime(s) => s.as_str(),
        _ => {
            sink.error(
                &node.span,
                format!(
                    "{what} must be a date and time, found {}",
                    node.kind.type_name()
                ),
                "write a local time like 2025-03-04T10:00 (the zone comes from `timezone`)",
            );
            return None;
        }
    };
    let t = s.trim();
    // An explicit offset or `Z` would contradict `timezone`; civil parsing rejects it.
    let has_offset = t.ends_with(['Z', 'z'])
        || t.get(10..).is_some_and(|r| r.contains(['+']))
        || t.get(11..).is_some_and(|r| r.contains('-'));
    match t.replacen(' ', "T", 1).parse::<DateTime>() {
        Ok(dt) if !has_offset && t.contains(':') => Some(dt),
        _ => {
            sink.error(
                &node.span,
                format!("{what}: `{s}` is not a local date and time"),
                "write a local time like 2025-03-04T10:00 without offset (the zone comes from `timezone`)",
            );
            None
        }
    }
}

/// Parses the `[schedule]` entry (or its absence: a manual schedule in `default_tz`).
pub(crate) fn parse_schedule(
    entry: Option<&Entry>,
    default_tz: &TimeZone,
    sink: &mut Sink<'_>,
) -> Option<Schedule> {
    let mut sched = Schedule::manual(default_tz.clone());
    let Some(entry) = entry else {
        return Some(sched);
    };
    let table = table_of(&entry.value, "`schedule`", sink)?;
    let errors_before = sink.count();
    check_keys(table, SCHEDULE_KEYS, "schedule", sink);

    if let Some(e) = table.get("timezone")
        && let Some(name) = str_of(&e.value, "schedule: `timezone`", sink)
    {
        match TimeZone::get(name) {
            Ok(tz) => sched.timezone = tz,
            Err(_) => sink.error(
                &e.value.span,
                format!("schedule: unknown time zone `{name}`"),
                "use an IANA time zone name such as \"Europe/Berlin\"",
            ),
        }
    }

    if let Some(e) = table.get("open_for")
        && let Some(d) = duration_of(&e.value, "schedule: `open_for`", false, sink)
    {
        sched.open_for = d;
    }
    if let Some(e) = table.get("min_gap")
        && let Some(d) = duration_of(&e.value, "schedule: `min_gap`", true, sink)
    {
        sched.min_gap = d;
    }
    if let Some(e) = table.get("working_days")
        && let Some(days) = parse_working_days(&e.value, sink)
    {
        sched.working_days = days;
    }
    if let Some(e) = table.get("quiet_hours") {
        parse_quiet_hours(e, &mut sched, sink);
    }
    if let Some(e) = table.get("reminders") {
        parse_reminders(e, &mut sched, sink);
    }

    // The start kind: exactly one of manual / at / every.
    let manual = table.get("manual");
    let at = table.get("at");
    let every = table.get("every");
    if let Some(m) = manual {
        match &m.value.kind {
            Kind::Bool(true) => {
                if let Some(other) = at.or(every) {
                    sink.error(
                        &other.key_span,
                        format!(
                            "schedule: `manual = true` and `{}` contradict each other",
                            other.key
                        ),
                        "keep either `manual = true` or the start times",
                    );
                }
            }
            Kind::Bool(false) if at.is_none() && every.is_none() => sink.error(
                &m.value.span,
                "schedule: `manual = false` but no start times".into(),
                "add `at = [...]` or `every = \"2 weeks\"`, or write `manual = true`",
            ),
            Kind::Bool(false) => {}
            other => sink.error(
                &m.value.span,
                format!(
                    "schedule: `manual` must be a boolean, found {}",
                    other.type_name()
                ),
                "write `manual = true` without quotes",
            ),
        }
    }
    if let (Some(_), Some(e)) = (at, every) {
        sink.error(
            &e.key_span,
            "schedule: both `at` and `every` are set".into(),
            "use either a list of start times (`at`) or a recurrence (`every`), not both",
        );
    } else if let Some(e) = at {
        if let Some(list) = parse_at(e, &sched, sink) {
            sched.start = Start::At(list);
        }
    } else if let Some(e) = every
        && let Some(start) = parse_every(e, table, &sched, sink)
    {
        sched.start = start;
    }
    if every.is_none() {
        for key in RECURRENCE_ONLY {
            if let Some(e) = table.get(key) {
                sink.error(
                    &e.key_span,
                    format!("schedule: `{key}` only applies to a recurring schedule"),
                    "add `every = \"2 weeks\"` (with `weekday`, `time`, `start`) or remove it",
                );
            }
        }
    }
    (sink.count() == errors_before).then_some(sched)
}

fn parse_working_days(node: &Node, sink: &mut Sink<'_>) -> Option<Vec<Weekday>> {
    let Kind::Array(items) = &node.kind else {
        sink.error(
            &node.span,
            format!(
                "schedule: `working_days` must be a list, found {}",
                node.kind.type_name()
            ),
            "write e.g. working_days = [\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\"]",
        );
        return None;
    };
    let mut days = Vec::new();
    let mut ok = true;
    for it in items {
        let Some(s) = str_of(it, "schedule: `working_days` entry", sink) else {
            ok = false;
            continue;
        };
        match parse_weekday(s) {
            Some(w) if days.contains(&w) => {
                ok = false;
                sink.error(
                    &it.span,
                    format!("schedule: `working_days` lists `{s}` twice"),
                    "list each day once",
                );
            }
            Some(w) => days.push(w),
            None => {
                ok = false;
                sink.error(
                    &it.span,
                    format!("schedule: `{s}` is not a weekday"),
                    "use monday, tuesday, wednesday, thursday, friday, saturday or sunday",
                );
            }
        }
    }
    if ok && days.is_empty() {
        sink.error(
            &node.span,
            "schedule: `working_days` is empty, so no message could ever be sent".into(),
            "list at least one day, e.g. [\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\"]",
        );
        return None;
    }
    ok.then_some(days)
}

fn parse_quiet_hours(e: &Entry, sched: &mut Schedule, sink: &mut Sink<'_>) {
    if let Kind::Bool(false) = e.value.kind {
        sched.quiet_hours = None;
        return;
    }
    let Some(t) = table_of(&e.value, "schedule: `quiet_hours`", sink) else {
        return;
    };
    check_keys(t, &["from", "to"], "schedule: `quiet_hours`", sink);
    let from = t.get("from");
    let to = t.get("to");
    let (Some(from), Some(to)) = (from, to) else {
        sink.error(
            &e.value.span,
            "schedule: `quiet_hours` needs both `from` and `to`".into(),
            "write e.g. quiet_hours = { from = \"18:00\", to = \"08:00\" }, or `quiet_hours = false`",
        );
        return;
    };
    let f = time_of(&from.value, "schedule: `quiet_hours.from`", sink);
    let t2 = time_of(&to.value, "schedule: `quiet_hours.to`", sink);
    if let (Some(f), Some(t2)) = (f, t2) {
        if f == t2 {
            sink.error(
                &to.value.span,
                "schedule: `quiet_hours` starts and ends at the same time".into(),
                "give a real interval such as from = \"18:00\", to = \"08:00\", or write `quiet_hours = false`",
            );
        } else {
            sched.quiet_hours = Some(QuietHours { from: f, to: t2 });
        }
    }
}

fn parse_reminders(e: &Entry, sched: &mut Schedule, sink: &mut Sink<'_>) {
    let Some(t) = table_of(&e.value, "schedule: `reminders`", sink) else {
        return;
    };
    check_keys(t, &["after"], "schedule: `reminders`", sink);
    let Some(after) = t.get("after") else {
        sink.error(
            &e.value.span,
            "schedule: `reminders` has no `after` list".into(),
            "write e.g. reminders = { after = [\"1 day\", \"2 days\"] }",
        );
        return;
    };
    let Kind::Array(items) = &after.value.kind else {
        sink.error(
            &after.value.span,
            format!(
                "schedule: `reminders.after` must be a list, found {}",
                after.value.kind.type_name()
            ),
            "write e.g. after = [\"1 day\", \"2 days\"]",
        );
        return;
    };
    if items.len() > 3 {
        sink.error(
            &items[3].span,
            format!("schedule: {} reminders, at most 3 are allowed", items.len()),
            "remove reminders; more than three feel like pressure and voluntariness must be real",
        );
        return;
    }
    let mut list: Vec<CalDuration> = Vec::new();
    for it in items {
        let Some(d) = duration_of(it, "schedule: reminder", false, sink) else {
            continue;
        };
        if let Some(prev) = list.last()
            && d.nominal_minutes() <= prev.nominal_minutes()
        {
            sink.error(
                &it.span,
                format!("schedule: reminder after {d} is not later than the one before ({prev})"),
                "list reminders in increasing order, each later than the previous",
            );
            continue;
        }
        if d.nominal_minutes() >= sched.open_for.nominal_minutes() {
            sink.error(
                &it.span,
                format!(
                    "schedule: reminder after {d} would come when the round is already closed (open_for = {})",
                    sched.open_for
                ),
                "make every reminder earlier than `open_for`, or lengthen `open_for`",
            );
            continue;
        }
        list.push(d);
    }
    sched.reminders = list;
}

/// Checks that a start instant can carry a message: working day, outside quiet hours.
fn check_start_allowed(
    sched: &Schedule,
    dt: DateTime,
    span: &Range<usize>,
    what: &str,
    sink: &mut Sink<'_>,
) {
    if !sched.working_days.contains(&dt.weekday()) {
        sink.error(
            span,
            format!(
                "schedule: {what} falls on a {}, which is not a working day",
                weekday_name(dt.weekday())
            ),
            "move it to a working day or add the day to `working_days`",
        );
    } else if sched.quiet_hours.is_some_and(|q| q.contains(dt.time())) {
        sink.error(
            span,
            format!(
                "schedule: {what} at {} is within the quiet hours",
                dt.time().strftime("%H:%M")
            ),
            "choose a time outside `quiet_hours` (default 18:00–08:00)",
        );
    }
}

fn parse_at(e: &Entry, sched: &Schedule, sink: &mut Sink<'_>) -> Option<Vec<DateTime>> {
    let Kind::Array(items) = &e.value.kind else {
        sink.error(
            &e.value.span,
            format!(
                "schedule: `at` must be a list, found {}",
                e.value.kind.type_name()
            ),
            "write e.g. at = [\"2025-03-04T10:00\", \"2025-04-01T10:00\"]",
        );
        return None;
    };
    if items.is_empty() {
        sink.error(
            &e.value.span,
            "schedule: `at` is empty".into(),
            "list at least one start time, or write `manual = true`",
        );
        return None;
    }
    let mut list: Vec<(DateTime, &Node)> = Vec::new();
    for it in items {
        if let Some(dt) = datetime_of(it, "schedule: `at` entry", sink) {
            check_start_allowed(sched, dt, &it.span, "start time", sink);
            list.push((dt, it));
        }
    }
    list.sort_by_key(|(dt, _)| *dt);
    for w in list.windows(2) {
        let (a, b) = (w[0].0, w[1].0);
        let a_close = sched
            .to_instant(a)
            .and_then(|t| sched.open_for.add_to(t, &sched.timezone));
        let b_start = sched.to_instant(b);
        if let (Some(ac), Some(bs)) = (a_close, b_start)
            && bs < ac
        {
            let what = if a == b {
                "appears twice"
            } else {
                "starts before the previous round closes"
            };
            sink.error(
                &w[1].1.span,
                format!(
                    "schedule: start time {b} {what} (open_for = {})",
                    sched.open_for
                ),
                "space start times at least `open_for` apart so rounds never overlap",
            );
        }
    }
    Some(list.into_iter().map(|(dt, _)| dt).collect())
}

fn parse_every(e: &Entry, table: &Table, sched: &Schedule, sink: &mut Sink<'_>) -> Option<Start> {
    let before = sink.count();
    let every = duration_of(&e.value, "schedule: `every`", false, sink);
    if let Some(d) = every {
        if !matches!(d.unit, Unit::Days | Unit::Weeks) {
            sink.error(
                &e.value.span,
                format!("schedule: `every = \"{d}\"` is too short for survey rounds"),
                "use days or weeks, e.g. every = \"2 weeks\"",
            );
        } else if d.nominal_minutes() <= sched.open_for.nominal_minutes() {
            sink.error(
                &e.value.span,
                format!(
                    "schedule: rounds every {d} would overlap, each stays open for {}",
                    sched.open_for
                ),
                "make `every` longer than `open_for`",
            );
        }
    }
    let weekday = table.get("weekday").and_then(|w| {
        let s = str_of(&w.value, "schedule: `weekday`", sink)?;
        let day = parse_weekday(s);
        if day.is_none() {
            sink.error(
                &w.value.span,
                format!("schedule: `{s}` is not a weekday"),
                "use monday, tuesday, wednesday, thursday, friday, saturday or sunday",
            );
        }
        if let (Some(day), Some(d)) = (day, every) {
            if d.unit == Unit::Days && d.amount % 7 != 0 {
                sink.error(
                    &w.key_span,
                    format!("schedule: `weekday` with `every = \"{d}\"` would not stay on a {s}"),
                    "use `every` in weeks, or remove `weekday`",
                );
            } else if !sched.working_days.contains(&day) {
                sink.error(
                    &w.value.span,
                    format!(
                        "schedule: rounds on a {} but that is not a working day",
                        weekday_name(day)
                    ),
                    "choose a working day or add it to `working_days`",
                );
            }
        }
        day.map(|d| (d, w))
    });
    let time = match table.get("time") {
        Some(t) => time_of(&t.value, "schedule: `time`", sink).map(|v| (v, t)),
        None => {
            sink.error(
                &e.key_span,
                "schedule: a recurring schedule needs `time`".into(),
                "add the time of day rounds open, e.g. time = \"10:00\"",
            );
            None
        }
    };
    if let Some((t, entry)) = &time
        && sched.quiet_hours.is_some_and(|q| q.contains(*t))
    {
        sink.error(
            &entry.value.span,
            format!(
                "schedule: rounds would open at {} within the quiet hours",
                t.strftime("%H:%M")
            ),
            "choose a time outside `quiet_hours` (default 18:00–08:00)",
        );
    }
    let start = match table.get("start") {
        Some(s) => date_of(&s.value, "schedule: `start`", sink),
        None => {
            sink.error(
                &e.key_span,
                "schedule: a recurring schedule needs `start`".into(),
                "add the date of the first possible round, e.g. start = \"2025-03-04\"",
            );
            None
        }
    };
    let until = table.get("until").and_then(|u| {
        let d = date_of(&u.value, "schedule: `until`", sink)?;
        if start.is_some_and(|s| d < s) {
            sink.error(
                &u.value.span,
                format!("schedule: `until` ({d}) is before `start`"),
                "set `until` on or after `start`",
            );
        }
        Some(d)
    });
    let max_rounds = table.get("max_rounds").and_then(|m| {
        let n = get_int(&m.value, "schedule: `max_rounds`", sink)?;
        match u32::try_from(n) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                sink.error(
                    &m.value.span,
                    format!("schedule: `max_rounds = {n}` is not a positive number"),
                    "write a whole number of at least 1, or remove `max_rounds`",
                );
                None
            }
        }
    });
    if sink.count() != before {
        return None;
    }
    let (every, (time, _), start) = (every?, time?, start?);
    Some(Start::Every {
        every,
        weekday: weekday.map(|(d, _)| d),
        time,
        start,
        until,
        max_rounds,
    })
}

#[cfg(test)]
mod tests;
