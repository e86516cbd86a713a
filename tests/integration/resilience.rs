//! Exactly once under failure: the bot killed mid-round, the homeserver restarted mid-round,
//! a backlog of answers while the bot is down, undecryptable and malformed events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use pulsebot_sim::sim::{Homeserver, SimUser};

use crate::helpers::{Pilot, WAIT, hs, pilot_bot, room_with_bot};
use crate::round::{consent_poll, participant, pilot_room, question, said, stored_responses};

/// `n` likert questions `q1`..`qn`.
fn likert_survey(id: &str, n: usize) -> String {
    let mut s = format!(
        "id = \"{id}\"\ntitle = {{ de = \"Test\", en = \"Test\" }}\nintro = {{ de = \"Test.\", en = \"Test.\" }}\n\n\
         [schedule]\nquiet_hours = false\nworking_days = [\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\", \"saturday\", \"sunday\"]\n"
    );
    for i in 1..=n {
        s.push_str(&format!(
            "\n[[blocks]]\ntype = \"likert\"\nid = \"q{i}\"\ntext = {{ de = \"Aussage Nummer {i}.\", en = \"Statement number {i}.\" }}\n"
        ));
    }
    s
}

/// What participant `k` answers to question `i`.
fn choice(k: usize, i: usize) -> usize {
    (k + i) % 5 + 1
}

fn expected(participants: usize, n: usize) -> BTreeSet<BTreeMap<String, String>> {
    (0..participants)
        .map(|k| {
            (1..=n)
                .map(|i| (format!("q{i}"), choice(k, i).to_string()))
                .collect()
        })
        .collect()
}

/// Sends `text`, retrying while the homeserver is away.
async fn send_retrying(p: &SimUser, room: &OwnedRoomId, text: &str) {
    let deadline = Instant::now() + WAIT * 2;
    // One transaction id for every attempt, as a real client retries: when the homeserver
    // went down after storing the message but before answering, the retry must not post the
    // answer a second time (the bot would rightly count it as the next question's answer).
    let txn = matrix_sdk::ruma::TransactionId::new();
    loop {
        match p.send_text_as(room, text, &txn).await {
            Ok(_) => return,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot send: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

/// Consents by typing and answers all `n` questions by typing as they come.
async fn answer_all(p: &SimUser, bot: &OwnedUserId, k: usize, n: usize) -> OwnedRoomId {
    let dm = consent_poll(p, bot).await.room_id;
    send_retrying(p, &dm, "ja").await;
    for i in 1..=n {
        p.wait_for(WAIT * 3, |m| {
            m.sender == *bot && m.room_id == dm && m.body.contains(&format!("Frage {i}/"))
        })
        .await
        .unwrap_or_else(|e| panic!("participant {k}: question {i} never came: {e}"));
        send_retrying(p, &dm, &choice(k, i).to_string()).await;
    }
    p.wait_for(WAIT * 3, |m| {
        m.sender == *bot && m.room_id == dm && m.body.contains("Danke")
    })
    .await
    .expect("thanks");
    dm
}

/// Every question arrived exactly once in the participant's DM.
fn assert_each_question_once(p: &SimUser, bot: &OwnedUserId, dm: &OwnedRoomId, n: usize) {
    let inbox = p.inbox();
    for i in 1..=n {
        let needle = format!("Frage {i}/");
        let count = inbox
            .iter()
            .filter(|m| m.sender == *bot && m.room_id == *dm && m.body.contains(&needle))
            .count();
        assert_eq!(count, 1, "question {i} arrived {count} times");
    }
    let thanks = inbox
        .iter()
        .filter(|m| m.sender == *bot && m.room_id == *dm && m.body.contains("Danke"))
        .count();
    assert_eq!(thanks, 1, "one thank-you");
}

/// Starts survey `id` from the admin's DM with the bot.
async fn start_round(admin: &SimUser, control: &matrix_sdk::Room, id: &str) {
    let cmd = admin
        .send_text(control.room_id(), &format!("!pulse start {id}"))
        .await
        .expect("send");
    let reply = admin.wait_for_reply(&cmd, WAIT).await.expect("start reply");
    assert!(reply.body.contains("Runde 1"), "{}", reply.body);
}

/// The highest question number any participant has seen.
fn progress(ps: &[SimUser], bot: &OwnedUserId, n: usize) -> usize {
    ps.iter()
        .map(|p| {
            let inbox = p.inbox();
            (1..=n)
                .rev()
                .find(|i| {
                    inbox
                        .iter()
                        .any(|m| m.sender == *bot && m.body.contains(&format!("Frage {i}/")))
                })
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

async fn wait_progress(ps: &[SimUser], bot: &OwnedUserId, n: usize, at_least: usize) {
    let deadline = Instant::now() + WAIT * 2;
    while progress(ps, bot, n) < at_least {
        assert!(Instant::now() < deadline, "the round made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_round_counts_every_answer_once() {
    const N: usize = 8;
    let Pilot { admin, alias, bot } = pilot_bot(hs(), "", "kill", &likert_survey("kill", N)).await;
    let names: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
    let ps = futures_util::future::join_all(names.iter().map(|n| participant(n))).await;
    let refs: Vec<&SimUser> = ps.iter().collect();
    pilot_room(&admin, &bot.user_id, &alias, &refs).await;
    let mut process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    start_round(&admin, &control, "kill").await;
    let b = &bot.user_id;
    let answering =
        futures_util::future::join_all(ps.iter().enumerate().map(|(k, p)| answer_all(p, b, k, N)));
    let crashing = async {
        // Two crashes while participants keep answering; the second right after a restart.
        for at in [3, 6] {
            wait_progress(&ps, b, N, at).await;
            tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 400)).await;
            process.kill();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            process = bot.start();
        }
        process
    };
    let (dms, process) = tokio::join!(answering, crashing);
    for (p, dm) in ps.iter().zip(&dms) {
        assert_each_question_once(p, b, dm, N);
    }
    let (status, _) = process.stop().await;
    assert!(status.success());
    assert_eq!(stored_responses(&bot, "kill", 1), expected(5, N));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn homeserver_restart_mid_round_completes_the_round() {
    const N: usize = 5;
    // An own homeserver: restarting the run's shared one would disturb other tests.
    let dir = tempfile::tempdir().expect("tempdir");
    let own = Homeserver::start(&dir.path().join("synapse")).expect("second Synapse starts");
    let Pilot { admin, alias, bot } =
        pilot_bot(&own, "", "outage", &likert_survey("outage", N)).await;
    let mut ps = Vec::new();
    for i in 0..3 {
        let p = SimUser::register(&own, &format!("o{i}"))
            .await
            .expect("participant");
        p.accept_invites();
        ps.push(p);
    }
    let refs: Vec<&SimUser> = ps.iter().collect();
    pilot_room(&admin, &bot.user_id, &alias, &refs).await;
    let process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    start_round(&admin, &control, "outage").await;
    let b = &bot.user_id;
    let answering =
        futures_util::future::join_all(ps.iter().enumerate().map(|(k, p)| answer_all(p, b, k, N)));
    let outage = async {
        wait_progress(&ps, b, N, 2).await;
        own.stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        own.restart().expect("Synapse restarts");
    };
    let (dms, ()) = tokio::join!(answering, outage);
    for (p, dm) in ps.iter().zip(&dms) {
        assert_each_question_once(p, b, dm, N);
    }
    let (status, _) = process.stop().await;
    assert!(status.success());
    assert_eq!(stored_responses(&bot, "outage", 1), expected(3, N));
    own.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_answers_sent_while_the_bot_is_down_are_all_handled() {
    const N: usize = 31;
    // A small timeline limit forces the limited-timeline path (back-pagination).
    let Pilot { admin, alias, bot } = pilot_bot(
        hs(),
        "\n[sync]\ntimeline_limit = 5\n",
        "backlog",
        &likert_survey("backlog", N),
    )
    .await;
    let p = participant("backlog").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    start_round(&admin, &control, "backlog").await;
    let b = &bot.user_id;
    let dm = consent_poll(&p, b).await.room_id;
    p.send_text(&dm, "ja").await.expect("send");
    question(&p, b, &dm, 1).await;
    p.send_text(&dm, &choice(0, 1).to_string())
        .await
        .expect("send");
    question(&p, b, &dm, 2).await;
    let (status, _) = process.stop().await;
    assert!(status.success());
    // 30 typed answers while the bot is away: each applies to the question after the last.
    for i in 2..=N {
        p.send_text(&dm, &choice(0, i).to_string())
            .await
            .expect("send");
    }
    let process = bot.start();
    said(&p, b, &dm, "Danke").await;
    let (status, _) = process.stop().await;
    assert!(status.success());
    assert_eq!(stored_responses(&bot, "backlog", 1), expected(1, N));
}

/// Sends an `m.room.encrypted` event nobody can decrypt, bypassing the client's encryption.
async fn send_undecryptable(p: &SimUser, room: &OwnedRoomId) {
    use matrix_sdk::ruma::api::client::message::send_message_event;
    use matrix_sdk::ruma::events::MessageLikeEventType;
    let content = serde_json::json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnAcBogus",
        "sender_key": "c2VuZGVyIGtleSB0aGF0IGRvZXMgbm90IGV4aXN0",
        "session_id": format!("c2Vzc2lvbi{}", pulsebot_sim::sim::random_suffix()),
        "device_id": "FAKEDEVICE",
    });
    let raw = matrix_sdk::ruma::serde::Raw::new(&content)
        .expect("json")
        .cast_unchecked();
    let request = send_message_event::v3::Request::new_raw(
        room.clone(),
        matrix_sdk::ruma::TransactionId::new(),
        MessageLikeEventType::RoomEncrypted,
        raw,
    );
    p.client.send(request).await.expect("raw event sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn undecryptable_and_malformed_answers_change_nothing() {
    const N: usize = 2;
    let Pilot { admin, alias, bot } = pilot_bot(
        hs(),
        "\n[sync]\nundecryptable_timeout_secs = 2\n",
        "utd",
        &likert_survey("utd", N),
    )
    .await;
    let p = participant("utd").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    start_round(&admin, &control, "utd").await;
    let b = &bot.user_id;
    let dm = consent_poll(&p, b).await.room_id;
    let ja = p.send_text(&dm, "ja").await.expect("send");
    let q1 = question(&p, b, &dm, 1).await;

    // Undecryptable: after the timeout the participant is asked once to answer again.
    send_undecryptable(&p, &dm).await;
    said(&p, b, &dm, "nicht lesen").await;
    send_undecryptable(&p, &dm).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let asked_again = p
        .inbox()
        .iter()
        .filter(|m| m.sender == *b && m.body.contains("nicht lesen"))
        .count();
    assert_eq!(asked_again, 1, "asked again only once per question");

    // Malformed and invalid votes: hints at most, nothing stored.
    let room = p.client.get_room(&dm).expect("dm");
    for content in [
        serde_json::json!({"org.matrix.msc3381.poll.response": {"answers": "x"}}),
        serde_json::json!({"m.relates_to": {"rel_type": "m.reference", "event_id": ja}}),
        // A vote "on" a message that is no poll of the round.
        serde_json::json!({"org.matrix.msc3381.poll.response": {"answers": ["1"]},
                           "m.relates_to": {"rel_type": "m.reference", "event_id": ja}}),
    ] {
        room.send_raw("org.matrix.msc3381.poll.response", content)
            .await
            .expect("sent");
    }
    p.vote(&dm, &q1.event_id, &["9"]).await.expect("vote");
    p.vote(&dm, &q1.event_id, &["1", "2"]).await.expect("vote");
    p.send_text(&dm, "").await.expect("send");
    p.send_text(&dm, "vielleicht").await.expect("send");
    // Then the real answers.
    p.send_text(&dm, "2").await.expect("send");
    question(&p, b, &dm, 2).await;
    p.send_text(&dm, "3").await.expect("send");
    said(&p, b, &dm, "Danke").await;
    let log = process.log();
    let (status, _) = process.stop().await;
    assert!(status.success());
    assert!(!log.contains("panicked"), "{log}");
    let got = stored_responses(&bot, "utd", 1);
    let want: BTreeSet<BTreeMap<String, String>> = [[("q1", "2"), ("q2", "3")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()]
    .into_iter()
    .collect();
    assert_eq!(got, want);
}
