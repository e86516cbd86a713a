//! The participant's round against the real Synapse with real end-to-end encryption:
//! consent, every question kind by poll and by typing, changed votes, invalid answers,
//! `stopp`, close and late answers; what the store holds afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use pulsebot::model::AnswerValue;
use pulsebot::store::{Passphrase, Store};
use pulsebot_sim::sim::{Received, SimUser};

use crate::helpers::{BotSetup, Pilot, WAIT, hs, pilot_bot, room_with_bot};

/// One question of every kind; `features` only after `usage` = daily/weekly.
pub const FLOW_SURVEY: &str = include_str!("../fixtures/surveys/flow.toml");

/// A pilot room (by alias) with the bot and `members` invited; waits for their joins.
pub async fn pilot_room(
    admin: &SimUser,
    bot: &OwnedUserId,
    alias: &str,
    members: &[&SimUser],
) -> OwnedRoomId {
    custom_pilot_room(
        admin,
        bot,
        alias,
        members,
        create_room::v3::RoomPreset::PrivateChat,
        None,
    )
    .await
}

/// An encrypted pilot room (by alias) with the bot and `members` invited, created with
/// `preset` and `power_levels` (a `power_level_content_override`, if any); waits for the
/// members' joins.
pub async fn custom_pilot_room(
    admin: &SimUser,
    bot: &OwnedUserId,
    alias: &str,
    members: &[&SimUser],
    preset: create_room::v3::RoomPreset,
    power_levels: Option<serde_json::Value>,
) -> OwnedRoomId {
    let mut request = create_room::v3::Request::new();
    request.name = Some("Pilot".into());
    request.room_alias_name = Some(alias.to_owned());
    request.invite = std::iter::once(bot.clone())
        .chain(members.iter().map(|m| m.user_id.clone()))
        .collect();
    request.preset = Some(preset);
    request.initial_state = vec![
        InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any(),
    ];
    if let Some(pl) = power_levels {
        request.power_level_content_override = Some(Raw::from_json(
            serde_json::value::to_raw_value(&pl).expect("json"),
        ));
    }
    let room = admin
        .client
        .create_room(request)
        .await
        .expect("pilot room created");
    for m in members {
        admin
            .wait_for_join(room.room_id(), &m.user_id, WAIT)
            .await
            .expect("member joins the pilot room");
    }
    room.room_id().to_owned()
}

/// A participant: a simulated user who accepts the bot's DM invite.
pub async fn participant(prefix: &str) -> SimUser {
    let p = SimUser::register(hs(), prefix)
        .await
        .expect("participant registered");
    p.accept_invites();
    p
}

/// The consent poll in the participant's DM with the bot.
pub async fn consent_poll(p: &SimUser, bot: &OwnedUserId) -> Received {
    p.wait_for_consent_poll(bot, WAIT * 2)
        .await
        .expect("the notice and consent poll arrive in a DM")
}

/// The `i`-th question of the round in `room`.
pub async fn question(p: &SimUser, bot: &OwnedUserId, room: &OwnedRoomId, i: usize) -> Received {
    let needle = format!("Frage {i}/");
    p.wait_for(WAIT, |m| {
        m.sender == *bot && m.room_id == *room && m.body.contains(&needle)
    })
    .await
    .unwrap_or_else(|e| panic!("question {i} never came: {e}"))
}

/// A message from the bot in `room` containing `text`.
pub async fn said(p: &SimUser, bot: &OwnedUserId, room: &OwnedRoomId, text: &str) -> Received {
    p.wait_for(WAIT, |m| {
        m.sender == *bot && m.room_id == *room && m.body.contains(text)
    })
    .await
    .unwrap_or_else(|e| panic!("the bot never said {text:?}: {e}"))
}

/// The answer id of a poll's `n`-th answer (0-based).
pub fn answer(poll: &Received, n: usize) -> String {
    poll.poll.as_ref().expect("a poll")[n].0.clone()
}

fn flat(v: &AnswerValue) -> String {
    match v {
        AnswerValue::Choice(c) => c.clone(),
        AnswerValue::Multi(m) => m.join(","),
        AnswerValue::Number(n) => n.to_string(),
        AnswerValue::Text(t) => t.clone(),
        AnswerValue::Skipped => "-".into(),
    }
}

/// The responses of `survey` round `n` as item → flattened value, sorted.
pub fn stored_responses(
    bot: &BotSetup,
    survey: &str,
    n: u32,
) -> BTreeSet<BTreeMap<String, String>> {
    let store = Store::open_existing(
        &bot.store().join("data"),
        &Passphrase::new(bot.passphrase.clone()).expect("passphrase"),
    )
    .expect("store opens after the bot stopped");
    store
        .answers(survey, n)
        .expect("answers")
        .into_iter()
        .map(|r| {
            assert!(r.complete, "every finished response is complete");
            r.answers
                .iter()
                .map(|(k, v)| (k.clone(), flat(v)))
                .collect()
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_round_counts_what_participants_sent() {
    let Pilot { admin, alias, bot } = pilot_bot(
        hs(),
        "\n[sync]\nundecryptable_timeout_secs = 20\n",
        "flow",
        FLOW_SURVEY,
    )
    .await;
    let names: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    let ps = futures_util::future::join_all(names.iter().map(|n| participant(n))).await;
    let refs: Vec<&SimUser> = ps.iter().collect();
    let pilot = pilot_room(&admin, &bot.user_id, &alias, &refs).await;
    // Logged as in production: the log of a whole round is checked for ids below.
    let process = bot.start_with_default_log();
    let control = room_with_bot(&admin, &bot).await;
    let cmd = admin
        .send_text(control.room_id(), "!pulse start flow")
        .await
        .expect("send");
    let reply = admin.wait_for_reply(&cmd, WAIT).await.expect("start reply");
    assert!(reply.body.contains("Runde 1"), "{}", reply.body);
    let b = &bot.user_id;

    let run = |i: usize| {
        let p = &ps[i];
        async move {
            let consent = consent_poll(p, b).await;
            let dm = consent.room_id.clone();
            assert!(
                consent.encrypted,
                "the consent poll is end-to-end encrypted"
            );
            let notice = said(p, b, &dm, "Datenschutz").await;
            assert!(notice.encrypted);
            match i {
                // Everything by poll, a text answer with umlauts and emoji.
                0 => {
                    p.vote(&dm, &consent.event_id, &["consent.yes"])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 1).await;
                    assert!(q.encrypted);
                    p.vote(&dm, &q.event_id, &[&answer(&q, 0)])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 2).await;
                    p.vote(&dm, &q.event_id, &[&answer(&q, 0), &answer(&q, 1)])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 3).await;
                    p.vote(&dm, &q.event_id, &[&answer(&q, 3)])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 4).await;
                    p.vote(&dm, &q.event_id, &[&answer(&q, 7)])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 5).await;
                    p.vote(&dm, &q.event_id, &[&answer(&q, 5)])
                        .await
                        .expect("vote");
                    question(p, b, &dm, 6).await;
                    p.send_text(&dm, "Läuft gut 👍 – Grüße aus Köln, Übergänge prima")
                        .await
                        .expect("send");
                    said(p, b, &dm, "Danke").await;
                }
                // Everything typed; the optional comment skipped.
                1 => {
                    p.send_text(&dm, "ja").await.expect("send");
                    question(p, b, &dm, 1).await;
                    p.send_text(&dm, "2").await.expect("send");
                    question(p, b, &dm, 2).await;
                    p.send_text(&dm, "1 3").await.expect("send");
                    question(p, b, &dm, 3).await;
                    p.send_text(&dm, "4/5").await.expect("send");
                    question(p, b, &dm, 4).await;
                    p.send_text(&dm, "8").await.expect("send");
                    question(p, b, &dm, 5).await;
                    p.send_text(&dm, "5").await.expect("send");
                    question(p, b, &dm, 6).await;
                    p.send_text(&dm, "überspringen").await.expect("send");
                    said(p, b, &dm, "Danke").await;
                }
                // An invalid answer, a hidden question, a changed vote.
                2 => {
                    p.vote(&dm, &consent.event_id, &["consent.yes"])
                        .await
                        .expect("vote");
                    question(p, b, &dm, 1).await;
                    let before = p.inbox().len();
                    p.send_text(&dm, "12").await.expect("send");
                    let hint = p
                        .wait_for(WAIT, |m| {
                            m.sender == *b && m.room_id == dm && m.body.contains("1 bis 3")
                        })
                        .await
                        .expect("a hint for an out-of-range answer");
                    assert!(!hint.body.contains("Frage 2/"), "{}", hint.body);
                    assert!(p.inbox().len() > before);
                    p.send_text(&dm, "3").await.expect("send");
                    let notify = question(p, b, &dm, 2).await;
                    assert!(
                        notify.body.contains("Benachrichtigungen"),
                        "usage=rarely hides features: {}",
                        notify.body
                    );
                    p.vote(&dm, &notify.event_id, &[&answer(&notify, 1)])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 3).await;
                    // Changing the earlier vote: the latest counts.
                    p.vote(&dm, &notify.event_id, &[&answer(&notify, 4)])
                        .await
                        .expect("vote");
                    p.vote(&dm, &q.event_id, &[&answer(&q, 10)])
                        .await
                        .expect("vote");
                    question(p, b, &dm, 4).await;
                    p.send_text(&dm, "7").await.expect("send");
                    question(p, b, &dm, 5).await;
                    p.send_text(&dm, "Schwierig: Dateien > 100 MB 😕")
                        .await
                        .expect("send");
                    said(p, b, &dm, "Danke").await;
                }
                // Stops in the middle: nothing after the confirmation.
                3 => {
                    p.vote(&dm, &consent.event_id, &["consent.yes"])
                        .await
                        .expect("vote");
                    let q = question(p, b, &dm, 1).await;
                    p.vote(&dm, &q.event_id, &[&answer(&q, 1)])
                        .await
                        .expect("vote");
                    question(p, b, &dm, 2).await;
                    p.send_text(&dm, "stopp").await.expect("send");
                    let bye = said(p, b, &dm, "abgemeldet").await;
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    let later: Vec<_> = p
                        .inbox()
                        .into_iter()
                        .filter(|m| m.sender == *b && m.room_id == dm && m.at > bye.at)
                        .collect();
                    assert!(later.is_empty(), "messages after stopp: {later:?}");
                }
                // Declines; an admin command from a participant is refused.
                _ => {
                    p.send_text(&dm, "nein").await.expect("send");
                    said(p, b, &dm, "nicht teil").await;
                    let cmd = p.send_text(&dm, "!pulse start flow").await.expect("send");
                    let refusal = p.wait_for_reply(&cmd, WAIT).await.expect("refusal");
                    assert!(refusal.body.contains("vorbehalten"), "{}", refusal.body);
                }
            }
            dm
        }
    };
    let dms = futures_util::future::join_all((0..5).map(run)).await;

    let cmd = admin
        .send_text(control.room_id(), "!pulse status")
        .await
        .expect("send");
    let status = admin.wait_for_reply(&cmd, WAIT).await.expect("status");
    assert!(status.body.contains("fertig 3"), "{}", status.body);
    assert!(status.body.contains("Zielgruppe 5"), "{}", status.body);
    assert!(
        !status.body.contains(ps[0].user_id.as_str()),
        "status names nobody"
    );

    let cmd = admin
        .send_text(control.room_id(), "!pulse close flow")
        .await
        .expect("send");
    let closed = admin.wait_for_reply(&cmd, WAIT).await.expect("close reply");
    assert!(closed.body.contains("geschlossen"), "{}", closed.body);

    // The summary in the pilot room: 3 respondents < k = 5, so every figure is withheld.
    let summary = ps[4]
        .wait_for(WAIT, |m| {
            m.sender == *b && m.room_id == pilot && m.body.contains("Testrunde")
        })
        .await
        .expect("a summary in the pilot room");
    assert!(summary.encrypted);
    assert!(
        !summary.body.contains("Läuft gut"),
        "no free text in the summary"
    );

    // Not into a room without end-to-end encryption, even a 1:1 chat with the admin.
    let mut request = create_room::v3::Request::new();
    request.invite = vec![bot.user_id.clone()];
    request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    let plain = admin.client.create_room(request).await.expect("plain room");
    admin
        .wait_for_join(plain.room_id(), &bot.user_id, WAIT)
        .await
        .expect("bot joins the plain room");
    let ev = admin
        .send_text(plain.room_id(), "!pulse report flow md")
        .await
        .expect("send");
    let refusal = admin.wait_for_reply(&ev, WAIT).await.expect("a refusal");
    assert!(
        refusal.body.contains("verschlüsselte Räume"),
        "{}",
        refusal.body
    );
    assert!(
        admin
            .inbox()
            .iter()
            .all(|m| m.room_id != plain.room_id() || m.file.is_none()),
        "a report in an unencrypted room"
    );

    // The report as an encrypted file in the admin's room, and the export audited.
    let cmd = admin
        .send_text(control.room_id(), "!pulse report flow md")
        .await
        .expect("send");
    let file = admin
        .wait_for(WAIT, |m| m.room_id == control.room_id() && m.file.is_some())
        .await
        .unwrap_or_else(|e| panic!("no report file after {cmd}: {e}"));
    assert!(file.encrypted, "the report is end-to-end encrypted");
    assert!(
        file.body.starts_with("flow-runde") && file.body.ends_with(".md"),
        "{}",
        file.body
    );
    let bytes = admin
        .download(file.file.as_ref().expect("a file"))
        .await
        .expect("download");
    let md = String::from_utf8(bytes).expect("utf-8");
    assert!(md.contains("Testrunde"), "{md}");
    assert!(!md.contains("Köln"), "free text only with --include-text");

    // A late vote after close: told so, not counted.
    let first_poll: OwnedEventId = question(&ps[0], b, &dms[0], 1).await.event_id;
    ps[0]
        .vote(&dms[0], &first_poll, &["rarely"])
        .await
        .expect("vote");
    said(&ps[0], b, &dms[0], "beendet").await;

    // The metrics endpoint counts, and names nobody.
    let log = process.log();
    let addr = log
        .split("metrics endpoint listening")
        .nth(1)
        .and_then(|rest| rest.split("addr=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
        .to_owned();
    let metrics = matrix_sdk::reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("body");
    let counted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("pulsebot_answers_counted_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    // 6 + 6 + 5 answers, 1 changed vote, 1 answer before `stopp`, 1 invalid answer (counted
    // as handled event, rejected by the conversation).
    assert!(counted >= 17, "{metrics}");
    assert!(
        metrics.contains("pulsebot_answer_handling_recent_seconds{quantile=\"0.99\"}")
            && metrics.contains("pulsebot_answer_handling_seconds_bucket{le="),
        "{metrics}"
    );
    for p in &ps {
        assert!(
            !metrics.contains(p.user_id.localpart()),
            "metrics name nobody"
        );
    }
    let health = matrix_sdk::reqwest::get(format!("http://{addr}/health"))
        .await
        .expect("health answers");
    assert_eq!(health.status().as_u16(), 200);

    let process_log = process.log();
    let (status, _) = process.stop().await;
    assert!(status.success(), "bot exits cleanly");
    // A whole round's log at the default level names no participant, no DM and no
    // participant's device; the per-process tag is on every line of the run (issue 15).
    let log = process_log;
    for p in &ps {
        assert!(
            !log.contains(p.user_id.as_str()) && !log.contains(p.user_id.localpart()),
            "the log names a participant:\n{log}"
        );
        if let Some(device) = p.client.device_id() {
            assert!(
                !log.contains(device.as_str()),
                "the log names a device:\n{log}"
            );
        }
    }
    for dm in &dms {
        assert!(!log.contains(dm.as_str()), "the log names a DM:\n{log}");
    }
    // Each DM carries its name and topic from creation, so participants recognise it.
    let room = ps[0].client.get_room(&dms[0]).expect("the DM is known");
    assert_eq!(room.name().as_deref(), Some("Pilot-Umfrage"));
    assert!(
        room.topic().is_some_and(|t| t.contains("hilfe")),
        "{:?}",
        room.topic()
    );
    assert!(log.contains("run{tag="), "no run tag:\n{log}");
    let stored = stored_responses(&bot, "flow", 1);
    let audit = Store::open_existing(
        &bot.store().join("data"),
        &Passphrase::new(bot.passphrase.clone()).expect("passphrase"),
    )
    .expect("store")
    .audit_log()
    .expect("audit log");
    let admin_id = admin.user_id.to_string();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "export" && e.actor == admin_id),
        "the chat export is audited with its admin"
    );
    assert!(audit.iter().any(|e| e.action == "summary"));
    assert!(
        audit
            .iter()
            .any(|e| e.action == "admin.command" && e.detail == "start flow")
    );
    for e in &audit {
        for p in &ps {
            assert!(!e.detail.contains(p.user_id.as_str()) && e.actor != p.user_id.as_str());
        }
    }
    let expected: BTreeSet<_> = [
        map(&[
            ("usage", "daily"),
            ("features", "chat,files"),
            ("notify", "4"),
            ("overall", "7"),
            ("task.1", "6"),
            ("comment", "Läuft gut 👍 – Grüße aus Köln, Übergänge prima"),
        ]),
        map(&[
            ("usage", "weekly"),
            ("features", "chat,calls"),
            ("notify", "4"),
            ("overall", "8"),
            ("task.1", "5"),
            ("comment", "-"),
        ]),
        map(&[
            ("usage", "rarely"),
            ("notify", "5"),
            ("overall", "10"),
            ("task.1", "7"),
            ("comment", "Schwierig: Dateien > 100 MB 😕"),
        ]),
    ]
    .into_iter()
    .collect();
    assert_eq!(stored, expected);
}

/// A bot message in `room` containing `text` that arrived after `since`.
async fn said_after(
    p: &SimUser,
    bot: &OwnedUserId,
    room: &OwnedRoomId,
    since: std::time::Instant,
    text: &str,
) -> Received {
    p.wait_for(WAIT, |m| {
        m.sender == *bot && m.room_id == *room && m.at > since && m.body.contains(text)
    })
    .await
    .unwrap_or_else(|e| panic!("the bot never said {text:?}: {e}"))
}

/// Answers a whole `flow` round in `dm` by typing (usage "weekly", so `features` is asked:
/// six questions), waiting for each question after `since`; the thanks.
async fn type_flow_round(
    p: &SimUser,
    bot: &OwnedUserId,
    dm: &OwnedRoomId,
    since: std::time::Instant,
) -> Received {
    let mut last = since;
    for (i, answer) in ["2", "1 3", "4/5", "8", "5", "überspringen"]
        .into_iter()
        .enumerate()
    {
        let q = said_after(p, bot, dm, since, &format!("Frage {}/", i + 1)).await;
        last = q.at;
        p.send_text(dm, answer).await.expect("send");
    }
    said_after(p, bot, dm, last, "Danke").await
}

/// Issue 17, counted by the real homeserver: in a round after the participant's first, the
/// bot's events in the DM from the intro on (the DM's history as Synapse returns it, every
/// event type, state events aside) are at most the questions plus 3, and none is a poll end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_round_costs_the_homeserver_at_most_questions_plus_three_events() {
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "flow", FLOW_SURVEY).await;
    let p = participant("again").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    let b = &bot.user_id;
    let command = |text: &'static str| {
        let (admin, room) = (&admin, control.room_id().to_owned());
        async move {
            let cmd = admin.send_text(&room, text).await.expect("send");
            admin.wait_for_reply(&cmd, WAIT).await.expect("reply")
        }
    };
    let t0 = std::time::Instant::now();
    command("!pulse start flow").await;
    let consent = consent_poll(&p, b).await;
    let dm = consent.room_id.clone();
    p.send_text(&dm, "ja").await.expect("send");
    type_flow_round(&p, b, &dm, t0).await;
    let closed = command("!pulse close flow").await;
    assert!(closed.body.contains("geschlossen"), "{}", closed.body);

    let second = std::time::Instant::now();
    command("!pulse start flow").await;
    let intro = said_after(&p, b, &dm, second, "Neue Umfrage").await;
    type_flow_round(&p, b, &dm, second).await;
    // Whatever the bot would still send for this response (poll ends, clean-up) has time
    // to arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let room = p.client.get_room(&dm).expect("the DM is known");
    let mut from = None;
    let mut kinds = Vec::new();
    'pages: loop {
        let mut options = matrix_sdk::room::MessagesOptions::backward();
        options.from = from.take();
        let page = room.messages(options).await.expect("the DM's history");
        for ev in &page.chunk {
            let v: serde_json::Value = ev.raw().deserialize_as().expect("an event");
            if v.get("state_key").is_some() || v["sender"] != b.as_str() {
                continue;
            }
            kinds.push(v["type"].as_str().unwrap_or_default().to_owned());
            if v["event_id"] == intro.event_id.as_str() {
                break 'pages;
            }
        }
        match page.end {
            Some(end) if !page.chunk.is_empty() => from = Some(end),
            _ => panic!("round 2's intro is not in the DM's history"),
        }
    }
    let questions = 6;
    assert!(
        kinds.len() <= questions + 3,
        "{} bot events for {questions} questions: {kinds:?}",
        kinds.len()
    );
    assert!(
        !kinds.iter().any(|k| k.contains("poll.end")),
        "a poll end in a finished round: {kinds:?}"
    );
    let (status, _) = process.stop().await;
    assert!(status.success(), "bot exits cleanly");
}
