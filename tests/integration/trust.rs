//! Issue 14, item 5: trusted devices (`matrix.device_trust`).
//!
//! An admin who set up cross-signing on one device and then logged in on a second device
//! without verifying it; a second admin who never set up cross-signing and has one device.
//! Under `cross-signed` (the default) the unverified device's command or vote is ignored and
//! the bot's room key is withheld from it; under `any` it is served like the others.

use std::time::{Duration, Instant};

use matrix_sdk::deserialized_responses::{TimelineEventKind, UnableToDecryptReason, WithheldCode};
use matrix_sdk::ruma::{EventId, OwnedUserId, RoomId};
use pulsebot_sim::sim::SimUser;

use crate::helpers::{BotProcess, BotSetup, Pilot, WAIT, hs, pilot_bot, room_with_bot};
use crate::round::{FLOW_SURVEY, consent_poll, participant, pilot_room, question};

/// Sets `matrix.device_trust` in the bot's config (the helper writes none: the default).
fn set_device_trust(bot: &BotSetup, value: &str) {
    let text = std::fs::read_to_string(&bot.config).expect("config");
    let text = text.replacen("[bot]", &format!("device_trust = \"{value}\"\n\n[bot]"), 1);
    std::fs::write(&bot.config, text).expect("config");
}

/// An admin whose first device is cross-signed, plus a second, unverified device of the same
/// account, both in an encrypted room with the bot.
struct TwoDevices {
    verified: SimUser,
    unverified: SimUser,
    room: matrix_sdk::Room,
}

async fn two_devices(admin: SimUser, bot: &BotSetup) -> TwoDevices {
    admin
        .bootstrap_cross_signing()
        .await
        .expect("cross-signing set up");
    let room = room_with_bot(&admin, bot).await;
    let unverified = admin.another_device(hs()).await.expect("second login");
    let device = unverified.client.device_id().expect("device").to_owned();
    let own = admin
        .client
        .encryption()
        .get_device(&admin.user_id, &device)
        .await
        .expect("store");
    assert!(
        own.is_none_or(|d| !d.is_cross_signed_by_owner()),
        "the second device must not be cross-signed"
    );
    // The second device must know the room before it can send into it.
    wait_until(|| unverified.client.get_room(room.room_id()).is_some()).await;
    TwoDevices {
        verified: admin,
        unverified,
        room,
    }
}

async fn wait_until(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `device` of a user, fetching `event` from the homeserver, gets it withheld as
/// blacklisted (it never had the key) rather than decrypted.
async fn withheld_as_blacklisted(device: &SimUser, room: &RoomId, event: &EventId) -> bool {
    let Some(room) = device.client.get_room(room) else {
        return false;
    };
    match room.event(event, None).await.map(|e| e.kind) {
        Ok(TimelineEventKind::UnableToDecrypt { utd_info, .. }) => matches!(
            utd_info.reason,
            UnableToDecryptReason::MissingMegolmSession {
                withheld_code: Some(WithheldCode::Blacklisted)
            }
        ),
        _ => false,
    }
}

async fn status_reply(user: &SimUser, room: &RoomId, bot: &OwnedUserId, p: &BotProcess) -> String {
    let ev = user.send_text(room, "!pulse status").await.expect("sent");
    let reply = user
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", p.log()));
    assert_eq!(&reply.sender, bot);
    assert!(reply.encrypted);
    reply.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_signed_ignores_unverified_devices_and_withholds_keys_from_them() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let solo = SimUser::register(hs(), "solo").await.expect("solo");
    let bot = BotSetup::new(&[&admin, &solo], "").await;
    let process = bot.start();
    let TwoDevices {
        verified,
        unverified,
        room,
    } = two_devices(admin, &bot).await;
    let room_id = room.room_id();

    // (b) The unverified device's command first, then the verified device's: the bot handles a
    // room's events in order, so once the second is answered the first was judged.
    let ignored = unverified
        .send_text(room_id, "!pulse status")
        .await
        .expect("sent");
    let answered = verified
        .send_text(room_id, "!pulse status")
        .await
        .expect("sent");
    // (a) The cross-signed device is served.
    let reply = verified
        .wait_for_reply(&answered, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(reply.encrypted);
    assert!(
        verified
            .inbox()
            .iter()
            .all(|m| m.in_reply_to.as_ref() != Some(&ignored)),
        "a command from an unverified device was answered"
    );
    process
        .wait_for_log("event from an untrusted device ignored")
        .await;
    let log = process.log();
    // What the trust check itself writes (the sync loop's span before it is not its own).
    let line = log
        .lines()
        .find_map(|l| l.split_once("pulsebot::matrix::trust:"))
        .expect("logged")
        .1;
    assert!(
        !line.contains('@') && !line.contains('$') && !line.contains('!'),
        "the log line names a user, event or room: {line}"
    );

    // Keys: the reply's room key was withheld from the unverified device as blacklisted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !withheld_as_blacklisted(&unverified, room_id, &reply.event_id).await {
        assert!(
            Instant::now() < deadline,
            "the unverified device could read the bot's reply or got no withheld notice"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        unverified
            .inbox()
            .iter()
            .all(|m| m.sender != bot.user_id || m.room_id != room_id),
        "the unverified device decrypted a message of the bot"
    );

    // (c) A user without cross-signing and with one device is served, keys included (the
    // reply decrypted in their client).
    let solo_room = room_with_bot(&solo, &bot).await;
    status_reply(&solo, solo_room.room_id(), &bot.user_id, &process).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_serves_unverified_devices_too() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    set_device_trust(&bot, "any");
    let process = bot.start();
    let TwoDevices {
        verified,
        unverified,
        room,
    } = two_devices(admin, &bot).await;

    // The unverified device is answered, and can read the answer (it got the room key).
    status_reply(&unverified, room.room_id(), &bot.user_id, &process).await;
    status_reply(&verified, room.room_id(), &bot.user_id, &process).await;
    assert!(
        !process.log().contains("untrusted device"),
        "{}",
        process.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_signed_counts_no_answer_from_an_unverified_device() {
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let p = participant("p").await;
    p.bootstrap_cross_signing()
        .await
        .expect("cross-signing set up");
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    let cmd = admin
        .send_text(control.room_id(), "!pulse start flow")
        .await
        .expect("send");
    admin.wait_for_reply(&cmd, WAIT).await.expect("start reply");
    let b = &bot.user_id;
    let consent = consent_poll(&p, b).await;
    let dm = consent.room_id.clone();
    let second = p.another_device(hs()).await.expect("second login");
    wait_until(|| second.client.get_room(&dm).is_some()).await;

    // The unverified device agrees, then the verified one asks for help: once help is
    // answered the vote was judged, and no question followed it.
    second
        .vote(&dm, &consent.event_id, &["consent.yes"])
        .await
        .expect("vote");
    p.send_text(&dm, "hilfe").await.expect("sent");
    p.wait_for(WAIT, |m| {
        m.sender == *b && m.room_id == dm && m.body.contains("Das können Sie mir schreiben")
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(
        p.inbox()
            .iter()
            .all(|m| !(m.sender == *b && m.body.contains("Frage 1/"))),
        "a vote from an unverified device was counted as consent"
    );
    process
        .wait_for_log("event from an untrusted device ignored")
        .await;
    // The verified device's vote counts.
    p.vote(&dm, &consent.event_id, &["consent.yes"])
        .await
        .expect("vote");
    question(&p, b, &dm, 1).await;
}
