//! Issue 14 against the real Synapse with real end-to-end encryption: a room where the bot
//! may not speak, a junk flood, edits/redactions/replies in a DM, a DM someone else joins,
//! an upgraded pilot room. The behaviour itself is unit-tested in src/bot/tests.rs (the
//! tests after "Hostile rooms and careless participants (issue 14)").

use std::time::{Duration, Instant};

use matrix_sdk::RoomMemberships;
use matrix_sdk::ruma::api::client::room::{create_room, upgrade_room};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, RoomVersionId};
use pulsebot::conversation::texts;
use pulsebot::lang::Lang;
use pulsebot_sim::sim::{Received, SimUser};
use serde_json::json;

use crate::helpers::{BotProcess, Pilot, WAIT, hs, pilot_bot, room_with_bot};
use crate::round::{
    FLOW_SURVEY, answer, consent_poll, custom_pilot_room, participant, pilot_room, question, said,
    stored_responses,
};

/// Starts the round `flow` from the admin's room; returns that room.
async fn start_flow(admin: &SimUser, bot: &crate::helpers::BotSetup) -> matrix_sdk::Room {
    let control = room_with_bot(admin, bot).await;
    let cmd = admin
        .send_text(control.room_id(), "!pulse start flow")
        .await
        .expect("send");
    let reply = admin.wait_for_reply(&cmd, WAIT).await.expect("start reply");
    assert!(reply.body.contains("Runde 1"), "{}", reply.body);
    control
}

/// `!pulse status` in `room`, answered.
async fn status(admin: &SimUser, room: &RoomId, p: &BotProcess) -> String {
    let ev = admin.send_text(room, "!pulse status").await.expect("send");
    admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", p.log()))
        .body
}

/// Consents by poll and waits for question 1; returns the DM and question 1.
async fn consent_and_first(p: &SimUser, bot: &OwnedUserId) -> (OwnedRoomId, Received) {
    let consent = consent_poll(p, bot).await;
    let dm = consent.room_id.clone();
    p.vote(&dm, &consent.event_id, &["consent.yes"])
        .await
        .expect("vote");
    let q = question(p, bot, &dm, 1).await;
    (dm, q)
}

/// A bot message in `room` after `after` whose body contains `text`.
async fn said_after(
    p: &SimUser,
    bot: &OwnedUserId,
    room: &RoomId,
    after: Instant,
    text: &str,
) -> Received {
    p.wait_for(WAIT, |m| {
        m.sender == *bot && m.room_id == room && m.at > after && m.body.contains(text)
    })
    .await
    .unwrap_or_else(|e| panic!("the bot never said {text:?}: {e}"))
}

/// A poll from the bot in `room` after `after` whose text contains `text`.
async fn poll_after(
    p: &SimUser,
    bot: &OwnedUserId,
    room: &RoomId,
    after: Instant,
    text: &str,
) -> Received {
    p.wait_for(WAIT, |m| {
        m.sender == *bot
            && m.room_id == room
            && m.at > after
            && m.poll.is_some()
            && m.body.contains(text)
    })
    .await
    .unwrap_or_else(|e| {
        let seen: Vec<String> = p
            .inbox()
            .into_iter()
            .filter(|m| m.sender == *bot && m.room_id == room)
            .map(|m| m.body)
            .collect();
        panic!("the bot never asked {text:?}: {e}; it said {seen:#?}")
    })
}

async fn send_raw(p: &SimUser, room: &RoomId, content: serde_json::Value) -> OwnedEventId {
    let r = p.client.get_room(room).expect("room known");
    r.send_raw("m.room.message", content)
        .await
        .expect("sent")
        .response
        .event_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_muted_room_does_not_stall_the_bot() {
    let t0 = Instant::now();
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let talker = participant("talker").await;
    let other = participant("other").await;
    // Only the admin (the creator) and the talker may post in the pilot room; the bot (level
    // 0) may not.
    let pl = json!({
        "events_default": 50,
        "users": { talker.user_id.as_str(): 50 },
    });
    let pilot = custom_pilot_room(
        &admin,
        &bot.user_id,
        &alias,
        &[&talker, &other],
        create_room::v3::RoomPreset::PrivateChat,
        Some(pl),
    )
    .await;
    let process = bot.start();
    admin
        .wait_for_join(&pilot, &bot.user_id, WAIT)
        .await
        .expect("bot joins the pilot room");
    let control = start_flow(&admin, &bot).await;
    let b = &bot.user_id;

    // People type commands where the bot may not answer.
    for _ in 0..20 {
        talker
            .send_text(&pilot, "!pulse status")
            .await
            .expect("send");
        admin
            .send_text(&pilot, "!pulse status")
            .await
            .expect("send");
    }
    // The admin room still works, and another participant's round goes on.
    let s = status(&admin, control.room_id(), &process).await;
    assert!(s.contains("Zielgruppe 2"), "{s}");
    let (dm, q) = consent_and_first(&other, b).await;
    other
        .vote(&dm, &q.event_id, &[&answer(&q, 0)])
        .await
        .expect("vote");
    question(&other, b, &dm, 2).await;
    // Nothing from the bot reached the pilot room.
    assert!(
        talker
            .inbox()
            .iter()
            .all(|m| m.room_id != pilot || m.sender != *b),
        "the muted bot posted in the pilot room"
    );
    let s = status(&admin, control.room_id(), &process).await;
    assert!(s.contains("Zielgruppe 2"), "{s}");
    let log = process.log();
    let refused: Vec<&str> = log.lines().filter(|l| l.contains("refused")).collect();
    println!(
        "muted room: {:?}; {} lines about refused sends in the bot's log, e.g. {:?}",
        t0.elapsed(),
        refused.len(),
        refused.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_junk_flood_delays_nobody() {
    let t_start = Instant::now();
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let a = participant("flooder").await;
    let bp = participant("other").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&a, &bp]).await;
    let _process = bot.start();
    start_flow(&admin, &bot).await;
    let b = &bot.user_id;
    let ((dm_a, _), (dm_b, usage_b)) =
        futures_util::join!(consent_and_first(&a, b), consent_and_first(&bp, b));

    // Baseline: B answers question 1 with no flood going on.
    let t0 = Instant::now();
    bp.vote(&dm_b, &usage_b.event_id, &["daily"])
        .await
        .expect("vote");
    let features = question(&bp, b, &dm_b, 2).await;
    let baseline = t0.elapsed();

    // A floods: 500 junk texts and 50 votes on a poll that does not exist, 8 at a time.
    let flood_start = Instant::now();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flood = {
        let sent = sent.clone();
        let client = a.client.clone();
        let dm_a = dm_a.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let room = client.get_room(&dm_a).expect("room");
            // Synapse refuses relations to unknown events: votes "on a poll" that is really
            // a plain message of A's.
            let fake = room
                .send(
                    matrix_sdk::ruma::events::room::message::RoomMessageEventContent::text_plain(
                        "not a poll",
                    ),
                )
                .await
                .expect("sent")
                .response
                .event_id;
            futures_util::stream::iter(0..550usize)
                .map(|k| {
                    let (room, fake, sent) = (room.clone(), fake.clone(), sent.clone());
                    async move {
                        // matrix-sdk 0.18 asserts (panics) when the room key rotates between
                        // sharing it and encrypting with it, which concurrent sends of one
                        // client can hit every 100 messages: that is the flooder's client
                        // failing, not the bot, so the flooder sends that message again.
                        let mut r = Err("never sent".to_owned());
                        for _attempt in 0..3 {
                            let (room, fake) = (room.clone(), fake.clone());
                            let send = tokio::spawn(async move {
                                if k % 11 == 10 {
                                    room.send(
                                        matrix_sdk::ruma::events::poll::unstable_response::UnstablePollResponseEventContent::new(
                                            vec!["x".into()],
                                            fake,
                                        ),
                                    )
                                    .await
                                    .map(|_| ())
                                } else {
                                    room.send(
                                        matrix_sdk::ruma::events::room::message::RoomMessageEventContent::text_plain(
                                            format!("junk {k}"),
                                        ),
                                    )
                                    .await
                                    .map(|_| ())
                                }
                            });
                            match send.await {
                                Ok(sent) => {
                                    r = sent.map_err(|e| e.to_string());
                                    break;
                                }
                                Err(e) if e.is_panic() => r = Err("the SDK panicked".into()),
                                Err(e) => {
                                    r = Err(e.to_string());
                                    break;
                                }
                            }
                        }
                        r.expect("junk sent");
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                })
                .buffer_unordered(8)
                .collect::<Vec<()>>()
                .await;
        })
    };
    // B answers once the flood is well under way.
    while sent.load(std::sync::atomic::Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t1 = Instant::now();
    bp.vote(&dm_b, &features.event_id, &[&answer(&features, 0)])
        .await
        .expect("vote");
    question(&bp, b, &dm_b, 3).await;
    let during = t1.elapsed();
    let sent_when_answered = sent.load(std::sync::atomic::Ordering::Relaxed);
    flood.await.expect("flood");
    let flood_time = flood_start.elapsed();
    println!(
        "junk flood: other participant's next question after {} ms (baseline {} ms without \
         flood); {sent_when_answered}/550 junk events sent when it came; flood of 550 sent in {} ms",
        during.as_millis(),
        baseline.as_millis(),
        flood_time.as_millis()
    );
    // A gets a handful of hints, not hundreds: give the bot time to work through the flood.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = a
        .inbox()
        .iter()
        .filter(|m| m.sender == *b && m.room_id == dm_a && m.at > flood_start)
        .count();
    println!("junk flood: the flooder got {s} replies from the bot");
    assert!(s <= 8, "{s} replies to a flood");
    // B can go on.
    let notify = question(&bp, b, &dm_b, 3).await;
    bp.vote(&dm_b, &notify.event_id, &[&answer(&notify, 0)])
        .await
        .expect("vote");
    question(&bp, b, &dm_b, 4).await;
    println!("junk flood test: {:?}", t_start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_redactions_and_replies_in_a_real_dm() {
    let t_start = Instant::now();
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let p = participant("p").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    let control = start_flow(&admin, &bot).await;
    let b = &bot.user_id;
    let (dm, _usage) = consent_and_first(&p, b).await;

    // A typed answer: "1" = daily.
    let typed = p.send_text(&dm, "1").await.expect("send");
    let features = question(&p, b, &dm, 2).await;
    // A quote-reply is no answer: the hint, nothing counted.
    let t = Instant::now();
    send_raw(
        &p,
        &dm,
        json!({
            "msgtype": "m.text",
            "body": "1",
            "m.relates_to": { "m.in_reply_to": { "event_id": features.event_id } },
        }),
    )
    .await;
    said_after(&p, b, &dm, t, "nicht gezählt").await;
    // The edit turns "daily" into "weekly" (features still applies); `stopp` in an edit is
    // no command.
    for body in ["2", "stopp"] {
        send_raw(
            &p,
            &dm,
            json!({
                "msgtype": "m.text",
                "body": format!("* {body}"),
                "m.new_content": { "msgtype": "m.text", "body": body },
                "m.relates_to": { "rel_type": "m.replace", "event_id": typed },
            }),
        )
        .await;
    }
    p.vote(&dm, &features.event_id, &[&answer(&features, 0)])
        .await
        .expect("vote");
    let notify = question(&p, b, &dm, 3).await;
    let vote = p
        .vote(&dm, &notify.event_id, &[&answer(&notify, 2)])
        .await
        .expect("vote");
    question(&p, b, &dm, 4).await;
    // Redacting the vote withdraws it: the question comes again.
    let t = Instant::now();
    p.client
        .get_room(&dm)
        .expect("room")
        .redact(&vote, None, None)
        .await
        .expect("redacted");
    said_after(&p, b, &dm, t, "gelöscht").await;
    let notify2 = poll_after(&p, b, &dm, t, "Benachrichtigungen").await;
    let t = Instant::now();
    p.vote(&dm, &notify2.event_id, &[&answer(&notify2, 3)])
        .await
        .expect("vote");
    // Questions are numbered as asked: the ones after come with higher numbers now.
    let overall = poll_after(&p, b, &dm, t, "zufrieden").await;
    let t = Instant::now();
    p.vote(&dm, &overall.event_id, &[&answer(&overall, 7)])
        .await
        .expect("vote");
    let task = poll_after(&p, b, &dm, t, "Aufgabe zu erledigen").await;
    let t = Instant::now();
    p.vote(&dm, &task.event_id, &[&answer(&task, 5)])
        .await
        .expect("vote");
    said_after(&p, b, &dm, t, "wissen").await;
    p.send_text(&dm, "überspringen").await.expect("send");
    said(&p, b, &dm, "Danke").await;
    let s = status(&admin, control.room_id(), &process).await;
    assert!(s.contains("fertig 1"), "{s}");
    let (st, _) = process.stop().await;
    assert!(st.success());
    let stored = stored_responses(&bot, "flow", 1);
    let r = stored.iter().next().expect("one response");
    assert_eq!(r.get("usage").map(String::as_str), Some("weekly"), "{r:?}");
    assert_eq!(r.get("features").map(String::as_str), Some("chat"), "{r:?}");
    assert_eq!(r.get("notify").map(String::as_str), Some("4"), "{r:?}");
    println!("edits test: {:?}", t_start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dm_someone_else_joins_is_left() {
    let t_start = Instant::now();
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let p = participant("p").await;
    let colleague = participant("colleague").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    start_flow(&admin, &bot).await;
    let b = &bot.user_id;
    let (dm, _) = consent_and_first(&p, b).await;

    // The participant invites a colleague into the DM; the colleague joins.
    p.client
        .get_room(&dm)
        .expect("room")
        .invite_user_by_id(&colleague.user_id)
        .await
        .expect("invited");
    p.wait_for_join(&dm, &colleague.user_id, WAIT)
        .await
        .expect("the colleague joins");

    // The bot leaves the old DM ...
    let deadline = Instant::now() + WAIT;
    loop {
        let room = p.client.get_room(&dm).expect("room");
        let members = room
            .members_no_sync(RoomMemberships::JOIN)
            .await
            .expect("members");
        if members.iter().all(|m| m.user_id() != b) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bot stayed in the DM:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ... and goes on in a fresh one: the explanation first, then the waiting question.
    let q = p
        .wait_for(WAIT, |m| {
            m.sender == *b && m.room_id != dm && m.body.contains("Frage 1/")
        })
        .await
        .unwrap_or_else(|e| panic!("no question in a fresh DM: {e}\n{}", process.log()));
    let fresh = q.room_id.clone();
    let first = p
        .inbox()
        .into_iter()
        .find(|m| m.sender == *b && m.room_id == fresh)
        .expect("a message");
    assert_eq!(first.body, texts::dm_moved(Lang::De));
    assert!(first.encrypted && q.encrypted);
    // The round goes on there; the colleague sees nothing of it.
    p.vote(&fresh, &q.event_id, &[&answer(&q, 0)])
        .await
        .expect("vote");
    question(&p, b, &fresh, 2).await;
    assert!(
        colleague.inbox().iter().all(|m| m.sender != *b),
        "the colleague got a message from the bot"
    );
    println!("dm joined test: {:?}", t_start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upgraded_pilot_room_is_followed() {
    let t_start = Instant::now();
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let p = participant("p").await;
    let newcomer = participant("newcomer").await;
    // A public room: the new room is joinable without an invite, so only the bot's following
    // of the tombstone brings it there.
    let old = custom_pilot_room(
        &admin,
        &bot.user_id,
        &alias,
        &[&p],
        create_room::v3::RoomPreset::PublicChat,
        None,
    )
    .await;
    let process = bot.start();
    admin
        .wait_for_join(&old, &bot.user_id, WAIT)
        .await
        .expect("bot joins the pilot room");
    let control = room_with_bot(&admin, &bot).await;
    // Let the bot settle on the old room before it is upgraded.
    status(&admin, control.room_id(), &process).await;

    let response = admin
        .client
        .send(upgrade_room::v3::Request::new(
            old.clone(),
            RoomVersionId::V11,
        ))
        .await
        .expect("upgraded");
    let new = response.replacement_room;
    admin
        .wait_for_join(&new, &bot.user_id, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    // A newcomer joins only the new room and is asked when the round starts.
    newcomer.client.join_room_by_id(&new).await.expect("joined");
    admin
        .wait_for_join(&new, &newcomer.user_id, WAIT)
        .await
        .expect("newcomer joined");
    let cmd = admin
        .send_text(control.room_id(), "!pulse start flow")
        .await
        .expect("send");
    let reply = admin.wait_for_reply(&cmd, WAIT).await.expect("start reply");
    assert!(reply.body.contains("Runde 1"), "{}", reply.body);
    newcomer
        .wait_for_consent_poll(&bot.user_id, WAIT)
        .await
        .unwrap_or_else(|e| panic!("the newcomer was not asked: {e}\n{}", process.log()));
    p.wait_for_consent_poll(&bot.user_id, WAIT)
        .await
        .expect("the old room's member is asked too");
    let s = status(&admin, control.room_id(), &process).await;
    assert!(s.contains("Zielgruppe 2"), "{s}");
    println!("upgrade test: {:?}", t_start.elapsed());
}
