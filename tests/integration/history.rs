//! The chat history against the real Synapse (issue 15, item 1), whose test config enables
//! retention (`scripts/synapse.sh`): in each `[privacy] chat_history` mode, what the
//! participant's client finds of its own answers when it fetches the DM's history from the
//! server (`/messages`, not its cache) after the round; `löschen` at once.

use std::time::{Duration, Instant};

use matrix_sdk::deserialized_responses::TimelineEventKind;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomId};
use pulsebot_sim::sim::SimUser;

use crate::helpers::{BotProcess, BotSetup, Pilot, WAIT, hs, pilot_bot, room_with_bot};
use crate::round::{answer, consent_poll, participant, pilot_room, question, said};

/// One question: a round is finished with one vote.
const SHORT: &str = r#"
id = "short"
title = { de = "Kurz", en = "Short" }
intro = { de = "Eine Frage.", en = "One question." }

[schedule]
quiet_hours = false
working_days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

[[blocks]]
type = "single"
id = "usage"
text = { de = "Wie oft nutzen Sie BundesMessenger?", en = "How often do you use BundesMessenger?" }
options = [
  { id = "daily", de = "Täglich", en = "Daily" },
  { id = "rarely", de = "Selten", en = "Rarely" },
]
"#;

/// The participant's own messages in `dm` whose content the homeserver still hands out,
/// fetched with `/messages` (not from the client's cache): their event types.
async fn readable_own_messages(p: &SimUser, dm: &RoomId) -> Vec<String> {
    let room = p.client.get_room(dm).expect("the DM is known");
    let mut options = MessagesOptions::backward();
    options.limit = 500u32.into();
    let messages = room.messages(options).await.expect("/messages");
    messages
        .chunk
        .iter()
        .filter_map(|ev| {
            let raw = ev.raw();
            let sender: OwnedUserId = raw.get_field("sender").ok()??;
            let state = raw
                .get_field::<serde_json::Value>("state_key")
                .ok()
                .flatten()
                .is_some();
            let ty: String = raw.get_field("type").ok()??;
            let redacted = raw
                .get_field::<serde_json::Value>("unsigned")
                .ok()
                .flatten()
                .is_some_and(|u| u.get("redacted_because").is_some());
            if sender != p.user_id || state || redacted || ty == "m.room.redaction" {
                return None;
            }
            Some(match &ev.kind {
                TimelineEventKind::UnableToDecrypt { .. } => format!("undecryptable {ty}"),
                _ => ty,
            })
        })
        .collect()
}

/// Waits until the server hands out none of the participant's messages in `dm`.
async fn until_none_readable(p: &SimUser, dm: &RoomId, bound: Duration, process: &BotProcess) {
    let deadline = Instant::now() + bound;
    loop {
        let left = readable_own_messages(p, dm).await;
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {bound:?} the server still hands out {left:?}\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A bot with `privacy` as its `[privacy]` table, one participant in the pilot room, the
/// round `short` started; the participant consents and answers its one question. Returns the
/// admin, the admin room, the participant, the DM and the running bot.
async fn answered(
    privacy: &str,
) -> (
    SimUser,
    matrix_sdk::Room,
    SimUser,
    OwnedRoomId,
    BotSetup,
    BotProcess,
) {
    let Pilot { admin, alias, bot } =
        pilot_bot(hs(), &format!("\n[privacy]\n{privacy}\n"), "short", SHORT).await;
    let p = participant("p").await;
    pilot_room(&admin, &bot.user_id, &alias, &[&p]).await;
    let process = bot.start();
    let control = room_with_bot(&admin, &bot).await;
    let cmd = admin
        .send_text(control.room_id(), "!pulse start short")
        .await
        .expect("send");
    let reply = admin.wait_for_reply(&cmd, WAIT).await.expect("start reply");
    assert!(reply.body.contains("Runde 1"), "{}", reply.body);
    let b = bot.user_id.clone();
    let consent = consent_poll(&p, &b).await;
    let dm = consent.room_id.clone();
    p.vote(&dm, &consent.event_id, &["consent.yes"])
        .await
        .expect("vote");
    let q = question(&p, &b, &dm, 1).await;
    p.vote(&dm, &q.event_id, &[&answer(&q, 1)])
        .await
        .expect("vote");
    said(&p, &b, &dm, "Danke").await;
    (admin, control, p, dm, bot, process)
}

async fn close(admin: &SimUser, control: &matrix_sdk::Room) {
    let cmd = admin
        .send_text(control.room_id(), "!pulse close short")
        .await
        .expect("send");
    let reply = admin.wait_for_reply(&cmd, WAIT).await.expect("close reply");
    assert!(reply.body.contains("geschlossen"), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_mode_the_server_hands_out_no_answer_once_the_lifetime_passed() {
    let t0 = Instant::now();
    let life = Duration::from_secs(12);
    let (admin, control, p, dm, bot, process) =
        answered("chat_history = \"retention\"\nchat_history_lifetime = \"12 seconds\"").await;
    let answered_at = Instant::now();
    let before = readable_own_messages(&p, &dm).await;
    assert!(
        before.iter().any(|t| t.contains("poll.response")),
        "the answer is on the server at first: {before:?}"
    );
    // The DM carries the policy from its creation.
    let state = p
        .client
        .get_room(&dm)
        .expect("dm")
        .get_state_event(
            matrix_sdk::ruma::events::StateEventType::from("m.room.retention"),
            "",
        )
        .await
        .expect("state store")
        .expect("the DM has a retention policy");
    let json = match state {
        matrix_sdk::deserialized_responses::RawAnySyncOrStrippedState::Sync(r) => {
            r.json().get().to_owned()
        }
        matrix_sdk::deserialized_responses::RawAnySyncOrStrippedState::Stripped(r) => {
            r.json().get().to_owned()
        }
    };
    assert!(json.contains("\"max_lifetime\":12000"), "{json}");
    close(&admin, &control).await;
    // The lifetime of the last answer passes: nothing of the participant's is handed out.
    tokio::time::sleep(life.saturating_sub(answered_at.elapsed())).await;
    until_none_readable(&p, &dm, Duration::from_secs(10), &process).await;
    assert!(
        !process.log().contains("retention policy could not be set"),
        "{}",
        process.log()
    );
    drop(bot);
    eprintln!("retention test took {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redact_mode_the_server_hands_out_no_answer_after_the_finish() {
    let (admin, control, p, dm, _bot, process) = answered("chat_history = \"redact\"").await;
    // Finished: the bot redacts at once (at the lowest priority; seconds).
    until_none_readable(&p, &dm, WAIT, &process).await;
    close(&admin, &control).await;
    // The close job reads the DM again and finds nothing more to do; the bot's questions stay.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(readable_own_messages(&p, &dm).await.is_empty());
    let room = p.client.get_room(&dm).expect("dm");
    let mut options = MessagesOptions::backward();
    options.limit = 500u32.into();
    let polls = room
        .messages(options)
        .await
        .expect("/messages")
        .chunk
        .iter()
        .filter(|e| {
            e.raw()
                .get_field::<String>("type")
                .ok()
                .flatten()
                .as_deref()
                == Some("org.matrix.msc3381.poll.start")
        })
        .count();
    assert!(polls >= 2, "the consent and question polls stay: {polls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keep_mode_keeps_the_answers_and_loeschen_removes_them_at_once() {
    let (admin, control, p, dm, bot, process) = answered("chat_history = \"keep\"").await;
    close(&admin, &control).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = readable_own_messages(&p, &dm).await;
    assert!(
        kept.iter()
            .filter(|t| t.as_str() == "org.matrix.msc3381.poll.response")
            .count()
            >= 2,
        "keep keeps the consent vote and the answer: {kept:?}"
    );
    let t = Instant::now();
    p.send_text(&dm, "löschen").await.expect("send");
    said(
        &p,
        &bot.user_id,
        &dm,
        "Ihre Nachrichten in diesem Chat entfernt der Bot jetzt",
    )
    .await;
    until_none_readable(&p, &dm, Duration::from_secs(15), &process).await;
    eprintln!("löschen: nothing readable after {:?}", t.elapsed());
}
