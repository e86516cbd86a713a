//! A scheduled round on a clock the test moves: opens on time, reminds inside working hours
//! only, closes at its deadline. The bot runs in this process so the clock can be shared.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pulsebot::clock::ManualClock;
use pulsebot::store::{Passphrase, Store};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Pilot, hs, pilot_bot};
use crate::round::{consent_poll, participant, pilot_room, question, said};

const SURVEY: &str = include_str!("../fixtures/surveys/sched.toml");

fn at(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp")
}

/// Gives the bot's 100 ms scheduler a few rounds to act on the clock.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduled_round_opens_reminds_in_working_hours_and_closes() {
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "sched", SURVEY).await;
    let p = participant("sched").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;

    // Monday 2030-01-07, 09:00 in Berlin (UTC+1): an hour before the round.
    let clock = Arc::new(ManualClock::new(at("2030-01-07T08:00:00Z")));
    let config = pulsebot::config::Config::load(&bot.config).expect("config");
    let cancel = CancellationToken::new();
    let options = pulsebot::bot::RunOptions {
        clock: clock.clone(),
        tick: Duration::from_millis(100),
        metrics: Arc::default(),
    };
    let running = tokio::spawn(pulsebot::bot::run_with(config, cancel.clone(), options));
    let b = &bot.user_id;
    settle().await;
    settle().await;
    assert!(
        p.inbox().iter().all(|m| m.sender != *b),
        "nothing before the round opens"
    );

    // 10:00:30: the round opens; the participant consents and gets the first question.
    clock.set(at("2030-01-07T09:00:30Z"));
    let dm = consent_poll(&p, b).await.room_id;
    p.send_text(&dm, "ja").await.expect("send");
    question(&p, b, &dm, 1).await;

    // The reminder is due 8 hours after opening, 18:00 — the start of the quiet hours.
    let reminders = || {
        p.inbox()
            .iter()
            .filter(|m| m.sender == *b && m.body.contains("Erinnerung"))
            .count()
    };
    clock.set(at("2030-01-07T17:30:00Z"));
    settle().await;
    assert_eq!(reminders(), 0, "no reminder at 18:30 (quiet hours)");
    clock.set(at("2030-01-08T06:59:00Z"));
    settle().await;
    assert_eq!(reminders(), 0, "no reminder at 07:59 (quiet hours)");
    clock.set(at("2030-01-08T07:01:00Z"));
    said(&p, b, &dm, "Erinnerung").await;
    settle().await;
    assert_eq!(reminders(), 1, "one reminder, at 08:01");

    // Wednesday 10:00:30: the round is over.
    clock.set(at("2030-01-09T09:00:30Z"));
    settle().await;
    cancel.cancel();
    running.await.expect("bot task").expect("bot stops cleanly");
    let store = Store::open_existing(
        &bot.store().join("data"),
        &Passphrase::new(bot.passphrase.clone()).expect("passphrase"),
    )
    .expect("store");
    let info = store
        .round_info("sched", 1)
        .expect("read")
        .expect("round 1 exists");
    assert_eq!(info.opened_at, at("2030-01-07T09:00:30Z"));
    assert_eq!(info.closed_at, Some(at("2030-01-09T09:00:30Z")));
    assert_eq!(info.audience, Some(1));
}
