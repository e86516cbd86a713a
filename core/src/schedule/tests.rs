//! Unit and property tests of the schedule arithmetic (Europe/Berlin, DST, restarts).

use super::*;
use jiff::civil::date;
use proptest::prelude::*;

impl History {
    /// What the bot's store records when `action` is carried out at `now` (the bot reads its
    /// history back with [`History::from_rounds`]); applying an action twice changes nothing.
    fn apply(&mut self, action: &Action, now: Timestamp) {
        match action {
            Action::Open {
                round,
                slot,
                closes_at,
            } => {
                if self.rounds.iter().all(|r| r.number != *round) {
                    self.rounds.push(RoundRecord {
                        number: *round,
                        slot: *slot,
                        opened_at: now,
                        closes_at: *closes_at,
                        closed_at: None,
                        reminders_done: 0,
                    });
                }
            }
            Action::Remind { round, reminder } => {
                if let Some(r) = self.rounds.iter_mut().find(|r| r.number == *round) {
                    r.reminders_done = r.reminders_done.max(reminder.saturating_add(1));
                }
            }
            Action::Close { round } => {
                if let Some(r) = self.rounds.iter_mut().find(|r| r.number == *round) {
                    r.closed_at.get_or_insert(now);
                }
            }
        }
    }
}

/// The history as the bot keeps it: one round record per round, with its schedule.
fn as_kept(h: &History) -> Vec<crate::model::RoundInfo> {
    h.rounds
        .iter()
        .map(|r| crate::model::RoundInfo {
            survey_id: "s".into(),
            round: r.number,
            mode: crate::model::Mode::Anonymous,
            opened_at: r.opened_at,
            closed_at: r.closed_at,
            raw_deleted_at: None,
            responses: 0,
            audience: None,
            label: None,
            schedule: Some(crate::model::RoundSchedule {
                slot: r.slot,
                closes_at: r.closes_at,
                reminders_done: r.reminders_done,
            }),
        })
        .collect()
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").expect("bundled tzdb has Europe/Berlin")
}

fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
    date(y, m, d)
        .at(h, min, 0, 0)
        .to_zoned(berlin())
        .expect("valid Berlin time")
        .timestamp()
}

fn local(t: Timestamp) -> DateTime {
    berlin().to_datetime(t)
}

fn dur(amount: u32, unit: Unit) -> CalDuration {
    CalDuration { amount, unit }
}

/// The shipped pulse schedule: every 2 weeks, Tuesday 10:00, open 3 days, reminders 1 and 2 days.
fn pulse() -> Schedule {
    Schedule {
        start: Start::Every {
            every: dur(2, Unit::Weeks),
            weekday: Some(Weekday::Tuesday),
            time: Time::constant(10, 0, 0, 0),
            start: date(2025, 3, 4),
            until: None,
            max_rounds: None,
        },
        reminders: vec![dur(1, Unit::Days), dur(2, Unit::Days)],
        ..Schedule::manual(berlin())
    }
}

/// Runs the scheduler over the given instants, applying every due action, and returns the
/// log of (instant, action) plus the final history. Checks idempotence at every step.
fn simulate(s: &Schedule, times: &[Timestamp]) -> (Vec<(Timestamp, Action)>, History) {
    let mut h = History::default();
    let mut log = Vec::new();
    for &now in times {
        let actions = due(s, &h, now);
        for a in &actions {
            h.apply(a, now);
            log.push((now, a.clone()));
        }
        assert!(
            due(s, &h, now).is_empty(),
            "recomputing after applying must yield nothing"
        );
    }
    (log, h)
}

#[test]
fn duration_parsing() {
    assert_eq!(CalDuration::parse("3 days"), Ok(dur(3, Unit::Days)));
    assert_eq!(CalDuration::parse("1 day"), Ok(dur(1, Unit::Days)));
    assert_eq!(CalDuration::parse("2 Wochen"), Ok(dur(2, Unit::Weeks)));
    assert_eq!(CalDuration::parse("12h"), Ok(dur(12, Unit::Hours)));
    assert_eq!(CalDuration::parse("90 minutes"), Ok(dur(90, Unit::Minutes)));
    assert_eq!(CalDuration::parse("3"), Err(DurationError::Syntax));
    assert_eq!(CalDuration::parse("days"), Err(DurationError::Syntax));
    assert_eq!(
        CalDuration::parse("3 dayz"),
        Err(DurationError::Unit("dayz".into()))
    );
    assert_eq!(dur(1, Unit::Days).to_string(), "1 day");
    assert_eq!(dur(3, Unit::Days).to_string(), "3 days");
}

#[test]
fn weekly_slots_stay_at_ten_across_both_dst_changes() {
    let s = pulse();
    let slots = s.slots_until(at(2025, 12, 31, 23, 0));
    // 2025-03-04 … 2025-12-30, every 14 days: 22 Tuesdays.
    assert_eq!(slots.len(), 22);
    for t in &slots {
        let l = local(*t);
        assert_eq!(l.weekday(), Weekday::Tuesday);
        assert_eq!((l.hour(), l.minute()), (10, 0), "{l}");
    }
    // Around the spring change (Sun 2025-03-30) the UTC hour moves from 9 to 8.
    assert_eq!(slots[1], at(2025, 3, 18, 10, 0));
    assert_eq!(slots[2], at(2025, 4, 1, 10, 0));
    assert_eq!(slots[1].to_zoned(TimeZone::UTC).hour(), 9);
    assert_eq!(slots[2].to_zoned(TimeZone::UTC).hour(), 8);
    // A round opened on Friday before the autumn change (Sun 2025-10-26) open for 3 days
    // closes Monday 10:00 local, which is 25 hours + 2 days later.
    let fri = at(2025, 10, 24, 10, 0);
    let closes = dur(3, Unit::Days).add_to(fri, &berlin()).expect("in range");
    assert_eq!(local(closes), date(2025, 10, 27).at(10, 0, 0, 0));
    assert_eq!(closes.duration_since(fri).as_hours(), 73);
}

#[test]
fn start_times_in_the_spring_gap_move_forward_and_folds_take_the_earlier() {
    let s = Schedule {
        start: Start::At(vec![
            date(2025, 3, 30).at(2, 30, 0, 0),
            date(2025, 10, 26).at(2, 30, 0, 0),
        ]),
        ..Schedule::manual(berlin())
    };
    let slots = s.slots_until(at(2026, 1, 1, 0, 0));
    assert_eq!(local(slots[0]), date(2025, 3, 30).at(3, 30, 0, 0));
    // 02:30 happens twice on 2025-10-26; the first is still CEST (UTC+2) → 00:30 UTC.
    assert_eq!(slots[1].to_zoned(TimeZone::UTC).hour(), 0);
}

#[test]
fn pulse_round_opens_reminds_and_closes_on_time() {
    let s = pulse();
    // Poll every 15 minutes through the first round.
    let times: Vec<Timestamp> = (0..4 * 24 * 6)
        .map(|i| at(2025, 3, 4, 0, 0) + Span::new().minutes(15 * i))
        .collect();
    let (log, h) = simulate(&s, &times);
    assert_eq!(
        log,
        vec![
            (
                at(2025, 3, 4, 10, 0),
                Action::Open {
                    round: 1,
                    slot: at(2025, 3, 4, 10, 0),
                    closes_at: at(2025, 3, 7, 10, 0)
                }
            ),
            (
                at(2025, 3, 5, 10, 0),
                Action::Remind {
                    round: 1,
                    reminder: 0
                }
            ),
            (
                at(2025, 3, 6, 10, 0),
                Action::Remind {
                    round: 1,
                    reminder: 1
                }
            ),
            (at(2025, 3, 7, 10, 0), Action::Close { round: 1 }),
        ]
    );
    assert_eq!(h.rounds.len(), 1);
}

#[test]
fn a_year_of_pulse_rounds_keeps_local_times_across_dst() {
    // Poll every 30 minutes through 2025: 22 rounds from 4 March, each opening Tuesday 10:00,
    // reminding Wednesday and Thursday 10:00 and closing Friday 10:00 local time, before and
    // after the changes on 30 March and 26 October.
    let s = pulse();
    let times: Vec<Timestamp> = (0..365 * 48)
        .map(|i| at(2025, 1, 1, 0, 0) + Span::new().minutes(30 * i))
        .collect();
    let (log, h) = simulate(&s, &times);
    assert_eq!(h.rounds.len(), 22);
    assert_eq!(log.len(), 22 * 4);
    for (now, a) in &log {
        let l = local(*now);
        assert_eq!((l.hour(), l.minute()), (10, 0), "{a:?} at {l}");
        let expected = match a {
            Action::Open { .. } => Weekday::Tuesday,
            Action::Remind { reminder: 0, .. } => Weekday::Wednesday,
            Action::Remind { .. } => Weekday::Thursday,
            Action::Close { .. } => Weekday::Friday,
        };
        assert_eq!(l.weekday(), expected, "{a:?}");
    }
}

#[test]
fn restart_after_downtime_sends_one_reminder_not_a_burst() {
    let s = pulse();
    let mut h = History::default();
    let open = at(2025, 3, 4, 10, 0);
    for a in due(&s, &h, open) {
        h.apply(&a, open);
    }
    // Down from Tuesday 10:00 until Thursday 11:00: both reminders are overdue.
    let back = at(2025, 3, 6, 11, 0);
    assert_eq!(
        due(&s, &h, back),
        vec![Action::Remind {
            round: 1,
            reminder: 1
        }]
    );
    // Down until after the window: the round closes, nothing else.
    assert_eq!(
        due(&s, &h, at(2025, 3, 10, 9, 0)),
        vec![Action::Close { round: 1 }]
    );
}

#[test]
fn missed_window_is_not_caught_up_and_late_open_waits_for_working_hours() {
    let s = pulse();
    // The bot was down during the whole first round: nothing opens for it later.
    assert!(due(&s, &History::default(), at(2025, 3, 10, 9, 0)).is_empty());
    // Back on Tuesday 19:00 (quiet): wait; Wednesday 08:00 opens with the original close.
    let h = History::default();
    assert!(due(&s, &h, at(2025, 3, 4, 19, 0)).is_empty());
    assert_eq!(
        due(&s, &h, at(2025, 3, 5, 8, 0)),
        vec![Action::Open {
            round: 1,
            slot: at(2025, 3, 4, 10, 0),
            closes_at: at(2025, 3, 7, 10, 0)
        }]
    );
}

#[test]
fn reminder_in_quiet_hours_shifts_and_past_close_is_dropped() {
    // Opens Friday 16:00, open 3 days (→ Monday 16:00); reminders at +3 h (Fri 19:00, quiet
    // → Monday 08:00) and +70 h (Mon 14:00).
    let s = Schedule {
        start: Start::At(vec![date(2025, 3, 7).at(16, 0, 0, 0)]),
        reminders: vec![dur(3, Unit::Hours), dur(70, Unit::Hours)],
        ..Schedule::manual(berlin())
    };
    let times: Vec<Timestamp> = (0..5 * 24 * 4)
        .map(|i| at(2025, 3, 7, 0, 0) + Span::new().minutes(15 * i))
        .collect();
    let (log, _) = simulate(&s, &times);
    let reminders: Vec<_> = log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Remind { .. }))
        .collect();
    assert_eq!(
        reminders,
        vec![
            &(
                at(2025, 3, 10, 8, 0),
                Action::Remind {
                    round: 1,
                    reminder: 0
                }
            ),
            &(
                at(2025, 3, 10, 14, 0),
                Action::Remind {
                    round: 1,
                    reminder: 1
                }
            ),
        ]
    );
    // Same but open only until Monday 07:00: the shifted reminder would be after close.
    let s = Schedule {
        open_for: dur(63, Unit::Hours),
        reminders: vec![dur(3, Unit::Hours)],
        ..s
    };
    let (log, _) = simulate(&s, &times);
    assert!(!log.iter().any(|(_, a)| matches!(a, Action::Remind { .. })));
}

#[test]
fn manual_start_and_min_gap() {
    let s = Schedule::manual(berlin());
    let mut h = History::default();
    let now = at(2025, 5, 5, 9, 0);
    assert!(
        due(&s, &h, now).is_empty(),
        "manual schedules never open by themselves"
    );
    let open = start_manually(&s, &h, now).expect("no round open");
    h.apply(&open, now);
    assert_eq!(
        start_manually(&s, &h, now + Span::new().hours(1)),
        Err(StartError::RoundOpen(1))
    );
    assert_eq!(
        due(&s, &h, at(2025, 5, 8, 9, 0)),
        vec![Action::Close { round: 1 }]
    );
    // min_gap 7 days: another survey's round on May 1 blocks May 5, not May 8.
    let other = Some(at(2025, 5, 1, 10, 0));
    assert!(!s.participant_may_join(other, at(2025, 5, 5, 10, 0)));
    assert!(s.participant_may_join(other, at(2025, 5, 8, 10, 0)));
    assert!(s.participant_may_join(None, now));
}

#[test]
fn until_and_max_rounds_end_the_recurrence() {
    let mut s = pulse();
    if let Start::Every {
        until, max_rounds, ..
    } = &mut s.start
    {
        *until = Some(date(2025, 4, 15));
        *max_rounds = Some(10);
    }
    assert_eq!(s.slots_until(at(2026, 1, 1, 0, 0)).len(), 4); // 3/4, 3/18, 4/1, 4/15
    if let Start::Every {
        until, max_rounds, ..
    } = &mut s.start
    {
        *until = None;
        *max_rounds = Some(2);
    }
    assert_eq!(s.slots_until(at(2026, 1, 1, 0, 0)).len(), 2);
}

// ---------------------------------------------------------------------------------------
// Property tests.

/// Day offsets from 2025-01-01 of the Berlin DST changes (last Sundays of March and October
/// 2025 and 2026): 2025-03-30, 2025-10-26, 2026-03-29, 2026-10-25.
const DST_DAYS: [i64; 4] = [88, 298, 452, 662];

prop_compose! {
    /// A random valid recurring schedule in Berlin whose first round is usually less than
    /// three weeks before a DST change (so rounds, reminders and closes straddle it), with up
    /// to three reminders before close.
    fn schedule()(
        weeks in 1u32..=3,
        weekday in 0i8..5,
        hour in 8i8..18,
        minute in prop::sample::select(vec![0i8, 15, 30, 45]),
        start_day in prop_oneof![
            3 => (prop::sample::select(DST_DAYS.to_vec()), 0i64..21).prop_map(|(d, o)| d - o),
            1 => 0i64..700,
        ],
        open_days in 1u32..=6,
        reminder_percent in prop::collection::vec(1u32..100, 0..=3),
    ) -> Schedule {
        let open_for = dur(open_days.min(weeks * 7 - 1), Unit::Days);
        // Reminder offsets as a share of the open time, so they mostly fall before close
        // (and some, after shifting out of quiet hours, after it).
        let open_hours = open_for.amount * 24;
        let mut reminders: Vec<u32> = reminder_percent
            .into_iter()
            .map(|p| (p * open_hours / 100).max(1))
            .collect();
        reminders.sort_unstable();
        reminders.dedup();
        Schedule {
            start: Start::Every {
                every: dur(weeks, Unit::Weeks),
                weekday: Some(Weekday::from_monday_zero_offset(weekday).unwrap_or(Weekday::Monday)),
                time: Time::constant(hour, minute, 0, 0),
                start: date(2025, 1, 1) + Span::new().days(start_day),
                until: None,
                max_rounds: None,
            },
            open_for,
            reminders: reminders.into_iter().map(|h| dur(h, Unit::Hours)).collect(),
            ..Schedule::manual(berlin())
        }
    }
}

/// Minutes between polls: mostly short, now and then downtime of up to two days.
fn poll_steps() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(
        prop_oneof![150 => 1i64..90, 1 => 90i64..(2 * 24 * 60)],
        50..1500,
    )
}

/// Poll instants from midnight of the schedule's start date on.
fn poll_times(s: &Schedule, steps: &[i64]) -> Vec<Timestamp> {
    let start = match &s.start {
        Start::Every { start, .. } => *start,
        _ => date(2025, 1, 1),
    };
    let mut t = start.to_zoned(berlin()).expect("valid date").timestamp();
    steps
        .iter()
        .map(|m| {
            t += Span::new().minutes(*m);
            t
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_slot_opens_twice_and_messages_only_when_allowed(s in schedule(), steps in poll_steps()) {
        let times = poll_times(&s, &steps);
        let (log, h) = simulate(&s, &times);
        let mut slots: Vec<Timestamp> = Vec::new();
        for (now, a) in &log {
            match a {
                Action::Open { slot, closes_at, round } => {
                    prop_assert!(!slots.contains(slot), "slot {slot} opened twice");
                    slots.push(*slot);
                    prop_assert!(s.allowed(*now), "open at {} not allowed", local(*now));
                    prop_assert!(*now < *closes_at);
                    prop_assert_eq!(*round as usize, slots.len());
                    // DST: the scheduled slot is always at the civil start time.
                    if let Start::Every { time, weekday, .. } = &s.start {
                        let l = local(*slot);
                        prop_assert_eq!(l.time(), *time);
                        prop_assert_eq!(Some(l.weekday()), *weekday);
                    }
                }
                Action::Remind { round, .. } => {
                    let r = h.rounds.iter().find(|r| r.number == *round);
                    prop_assert!(r.is_some());
                    let r = r.expect("checked");
                    prop_assert!(s.allowed(*now), "reminder at {} in quiet time", local(*now));
                    let wd = local(*now).weekday();
                    prop_assert!(s.working_days.contains(&wd));
                    prop_assert!(*now < r.closes_at, "reminder after close");
                    prop_assert!(r.closed_at.is_none_or(|c| *now < c));
                    prop_assert!(*now > r.opened_at);
                }
                Action::Close { .. } => {}
            }
        }
        for r in &h.rounds {
            prop_assert!(usize::from(r.reminders_done) <= s.reminders.len());
        }
    }

    #[test]
    fn restart_at_any_instant_gives_the_same_actions(
        s in schedule(),
        steps in poll_steps(),
        crash in 0usize..1500,
    ) {
        let times = poll_times(&s, &steps);
        // Run A never stops. Run B "restarts" before step `crash`: its history goes through
        // what the bot keeps (its rounds) and comes back. Both must act identically.
        let (log_a, h_a) = simulate(&s, &times);
        let mut h = History::default();
        let mut log_b = Vec::new();
        for (i, &now) in times.iter().enumerate() {
            if i == crash {
                h = History::from_rounds("s", &as_kept(&h));
            }
            // A due computation that was cut short by the crash (nothing applied) is simply
            // repeated: purity means it must match.
            prop_assert_eq!(due(&s, &h, now), due(&s, &h.clone(), now));
            for a in due(&s, &h, now) {
                h.apply(&a, now);
                log_b.push((now, a));
            }
        }
        prop_assert_eq!(log_a, log_b);
        prop_assert_eq!(h_a, h);
    }

    #[test]
    fn next_allowed_is_allowed_and_minimal(s in schedule(), minutes in 0i64..(60 * 24 * 800)) {
        let t = at(2025, 1, 1, 0, 0) + Span::new().minutes(minutes);
        let n = s.next_allowed(t);
        prop_assert!(n.is_some());
        let n = n.expect("checked");
        prop_assert!(n >= t);
        prop_assert!(s.allowed(n));
        // Nothing allowed strictly between t and n (checked at 15-minute granularity, the
        // step of all candidate boundaries here).
        let mut c = t;
        while c + Span::new().minutes(15) < n {
            prop_assert!(!s.allowed(c), "{} allowed before {}", local(c), local(n));
            c += Span::new().minutes(15);
        }
    }
}

#[test]
fn history_from_the_rounds_counts_imports_and_keeps_unscheduled_rounds_open() {
    use crate::model::{Mode, RoundSchedule};
    use jiff::SignedDuration;
    let t = at(2025, 3, 3, 10, 0);
    let info = |round: u32, closed: Option<Timestamp>, label: Option<&str>, schedule| RoundInfo {
        survey_id: if round == 9 {
            "other".into()
        } else {
            "s".into()
        },
        round,
        mode: Mode::Anonymous,
        opened_at: t,
        closed_at: closed,
        raw_deleted_at: None,
        responses: 0,
        audience: None,
        label: label.map(str::to_owned),
        schedule,
    };
    let sched = RoundSchedule {
        slot: t,
        closes_at: t + SignedDuration::from_hours(48),
        reminders_done: 1,
    };
    let rounds = [
        info(3, None, None, Some(sched)),
        info(1, Some(t), Some("webex-2024"), None),
        info(2, None, None, None),
        info(9, None, None, Some(sched)),
    ];
    let h = History::from_rounds("s", &rounds);
    let numbers: Vec<u32> = h.rounds.iter().map(|r| r.number).collect();
    assert_eq!(
        numbers,
        [1, 2, 3],
        "this survey's rounds, in order, the import included"
    );
    assert_eq!(h.next_number(), 4);
    assert_eq!(
        h.rounds[0].closes_at, t,
        "an import is closed when it was made"
    );
    assert_eq!(
        h.rounds[1].closes_at,
        Timestamp::MAX,
        "no schedule: never closes by itself"
    );
    assert_eq!(
        (
            h.rounds[2].slot,
            h.rounds[2].closes_at,
            h.rounds[2].reminders_done
        ),
        (t, sched.closes_at, 1)
    );
}
