//! The chat history's decisions in the fast tier (issue 15, item 1): which DM carries a
//! retention policy, which events get redacted when, `löschen` at once, and a redaction queue
//! that survives a restart without redacting anything twice.

use super::*;
use crate::bot::port::HistoryKind;

/// One question, so a round is finished with one vote.
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
text = { de = "Wie oft?", en = "How often?" }
options = [
  { id = "daily", de = "Täglich", en = "Daily" },
  { id = "rarely", de = "Selten", en = "Rarely" },
]
"#;

const T0: &str = "2030-01-07T09:00:00Z";

async fn harness(members: &[&str], extra: &str) -> Harness {
    Harness::with_config(&[SHORT], members, at(T0), extra).await
}

/// Moves the test's clock on, so events of different steps have different times.
fn later(h: &Harness, secs: i64) {
    h.clock.advance(jiff::SignedDuration::from_secs(secs));
}

/// The round's question poll in `dm`.
async fn the_question(h: &Harness, dm: &RoomId, from: usize) -> SentEvent {
    h.asked(dm, from, "usage").await.1
}

fn redacted(h: &Harness) -> Vec<OwnedEventId> {
    h.port.redactions().into_iter().map(|(_, e)| e).collect()
}

fn no_repeats(h: &Harness) {
    let all = redacted(h);
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "an event was redacted twice: {all:?}"
    );
}

/// Whether every message `who` sent in `dm` is redacted.
fn all_redacted(p: &FakePort, dm: &RoomId, who: &UserId) -> bool {
    p.history(dm)
        .iter()
        .all(|e| e.sender != who || matches!(e.kind, HistoryKind::State | HistoryKind::Redacted))
}

async fn close(h: &Harness) {
    h.admin("!pulse close short").await;
    h.in_admin_room(
        "the close reply",
        |e| matches!(&e.what, Sent::Text(t) if t.contains("geschlossen")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_mode_puts_the_policy_into_each_new_dm_and_once_into_a_reused_one() {
    let alice = user("@alice:fake");
    // First with "keep": the DM is made without a policy.
    let mut h = harness(&[alice.as_str()], "[privacy]\nchat_history = \"keep\"\n").await;
    h.admin("!pulse start short").await;
    let (dm, from) = consent(&h, &alice).await;
    assert_eq!(h.port.retention(&dm), (None, 0), "keep sets no policy");
    let q = the_question(&h, &dm, from).await;
    h.vote(&dm, &alice, &q, &["daily"]).await;
    close(&h).await;
    // The operator switches to retention: the reused DM gets the policy once.
    h.extra = "[privacy]\nchat_history_lifetime = \"4 days\"\n".into();
    h.restart().await;
    later(&h, 60);
    let n = h.port.sent(&dm).len();
    h.admin("!pulse start short").await;
    let four_days = Duration::from_secs(4 * 86_400);
    h.port
        .wait_until("the reused DM's policy", |p| {
            p.retention(&dm) == (Some((four_days, false)), 1)
        })
        .await;
    // Another round later: no second policy event.
    let q = the_question(&h, &dm, n).await;
    h.vote(&dm, &alice, &q, &["rarely"]).await;
    close(&h).await;
    h.restart().await;
    h.admin("!pulse start short").await;
    let m = h.port.sent(&dm).len();
    h.port
        .wait_for(
            &dm,
            m,
            "the third round's question",
            is_poll(&question("usage")),
        )
        .await;
    assert_eq!(h.port.retention(&dm), (Some((four_days, false)), 1));
    // A new participant's DM carries it from its creation request.
    let bob = user("@bob:fake");
    h.port.join_as(&room(PILOT), &bob);
    let dm_b = h.port.wait_for_dm(&bob).await;
    assert_eq!(h.port.retention(&dm_b), (Some((four_days, true)), 0));
    // Retention redacts nothing: the homeserver purges.
    assert!(redacted(&h).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redact_mode_removes_a_finishers_messages_at_once_and_the_rest_at_close() {
    let (alice, bob) = (user("@alice:fake"), user("@bob:fake"));
    let h = harness(
        &[alice.as_str(), bob.as_str()],
        "[privacy]\nchat_history = \"redact\"\n",
    )
    .await;
    h.admin("!pulse start short").await;
    let (dm_a, from_a) = consent(&h, &alice).await;
    let (dm_b, from_b) = consent(&h, &bob).await;
    assert_eq!(h.port.retention(&dm_a), (None, 0), "redact sets no policy");
    let q_a = the_question(&h, &dm_a, from_a).await;
    the_question(&h, &dm_b, from_b).await;
    later(&h, 5);
    // Bob asks for his data (a text of his and a reply of the bot's), Alice finishes.
    h.say(&dm_b, &bob, "meine daten").await;
    h.port
        .wait_for(&dm_b, from_b, "the data reply", is_context(&Context::Reply))
        .await;
    later(&h, 5);
    let vote = h.vote(&dm_a, &alice, &q_a, &["daily"]).await;
    h.port
        .wait_for(&dm_a, from_a, "thanks", is_context(&Context::Thanks))
        .await;
    h.port
        .wait_until("alice's messages redacted", |p| {
            all_redacted(p, &dm_a, &alice)
        })
        .await;
    assert!(redacted(&h).contains(&vote));
    // The question poll stays; the bot's texts of the round went, its thanks (newer than
    // the finishing vote) stays.
    assert!(
        !redacted(&h).contains(&q_a.event_id),
        "a question was redacted"
    );
    // Nothing of Bob's before the close: he has not finished.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        h.port.redactions().iter().all(|(r, _)| *r != dm_b),
        "bob's DM touched before the close"
    );
    later(&h, 60);
    close(&h).await;
    h.port
        .wait_until("bob's messages redacted at close", |p| {
            p.history(&dm_b).iter().all(|e| {
                e.sender != bob || matches!(e.kind, HistoryKind::State | HistoryKind::Redacted)
            }) && p
                .history(&dm_b)
                .iter()
                .any(|e| e.kind == HistoryKind::Redacted)
        })
        .await;
    // His `meine daten` reply (it lists a running round's answers) went too.
    let reply = h
        .port
        .wait_for(&dm_b, from_b, "the data reply", is_context(&Context::Reply))
        .await
        .1;
    h.port
        .wait_until("the data reply redacted", |p| {
            p.redactions().iter().any(|(_, e)| *e == reply.event_id)
        })
        .await;
    // The close job covers Alice again: her DM is read again, nothing redacted twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    no_repeats(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_mode_redacts_nothing_and_loeschen_redacts_at_once_in_every_mode() {
    for mode in ["keep", "retention", "redact"] {
        let alice = user("@alice:fake");
        let h = harness(
            &[alice.as_str()],
            &format!("[privacy]\nchat_history = \"{mode}\"\n"),
        )
        .await;
        h.admin("!pulse start short").await;
        let (dm, from) = consent(&h, &alice).await;
        let q = the_question(&h, &dm, from).await;
        let vote = h.vote(&dm, &alice, &q, &["daily"]).await;
        h.port
            .wait_for(&dm, from, "thanks", is_context(&Context::Thanks))
            .await;
        if mode == "keep" {
            close(&h).await;
            tokio::time::sleep(Duration::from_millis(800)).await;
            assert!(redacted(&h).is_empty(), "keep redacted {:?}", redacted(&h));
        }
        later(&h, 60);
        let n = h.port.sent(&dm).len();
        h.say(&dm, &alice, "löschen").await;
        let confirmation = h
            .port
            .wait_for(&dm, n, "the confirmation", is_context(&Context::Reply))
            .await
            .1;
        assert!(
            matches!(&confirmation.what, Sent::Message(Outgoing::Text { text, .. }) if text.contains("Ihre Nachrichten in diesem Chat entfernt der Bot jetzt.")),
            "{confirmation:?}"
        );
        h.port
            .wait_until("everything of alice's redacted", |p| {
                p.history(&dm).iter().all(|e| {
                    e.sender != alice
                        || matches!(e.kind, HistoryKind::State | HistoryKind::Redacted)
                })
            })
            .await;
        let all = redacted(&h);
        assert!(all.contains(&vote), "{mode}: the vote stays");
        assert!(!all.contains(&q.event_id), "{mode}: the question poll went");
        assert!(
            !all.contains(&confirmation.event_id),
            "{mode}: the confirmation went"
        );
        no_repeats(&h);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redaction_queue_survives_a_restart_and_redacts_nothing_twice() {
    let alice = user("@alice:fake");
    let mut h = harness(&[alice.as_str()], "[privacy]\nchat_history = \"redact\"\n").await;
    h.admin("!pulse start short").await;
    let (dm, from) = consent(&h, &alice).await;
    let q = the_question(&h, &dm, from).await;
    // The homeserver is unreachable for redactions: the job stays queued.
    h.port.fail_redactions(u32::MAX);
    let vote = h.vote(&dm, &alice, &q, &["daily"]).await;
    h.port
        .wait_for(&dm, from, "thanks", is_context(&Context::Thanks))
        .await;
    h.port
        .wait_until("a failed attempt", |p| p.pages_read() > 0)
        .await;
    let stored = h
        .store()
        .bot_state("history/redactions".into())
        .await
        .expect("read")
        .expect("the job is in the store");
    let text = String::from_utf8_lossy(&stored);
    assert!(!text.contains("daily"), "the queue holds an answer: {text}");
    // A crash and a restart, the homeserver back: the job runs from the store.
    h.restart().await;
    h.port.fail_redactions(0);
    h.port
        .wait_until("her messages redacted after the restart", |p| {
            all_redacted(p, &dm, &alice)
        })
        .await;
    assert!(redacted(&h).contains(&vote));
    let done = redacted(&h).len();
    // Once more after another restart and the close (whose job covers her again): the
    // DM is read again, nothing is redacted twice.
    h.restart().await;
    let pages = h.port.pages_read();
    close(&h).await;
    h.port
        .wait_until("the close job's scan", |p| p.pages_read() > pages)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(redacted(&h).len(), done, "{:?}", redacted(&h));
    no_repeats(&h);
}
