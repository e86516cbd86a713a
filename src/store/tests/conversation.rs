//! The conversation's closure shape inside the real store's `record_answer`, in a temp dir:
//! idempotent by event id, invalid input counted but changing nothing, finish unlinks.
//! (Moved here from the core's conversation tests: the core does not know the store.)

use crate::conversation::{
    Input, Outgoing, Round, apply, register_sent, start, to_outbounds, waiting,
};
use crate::lang::Lang;
use crate::model::{AnswerValue, ConsentState, Mode};
use crate::store::{Passphrase, RecordOutcome, Store, StoreOptions};
use crate::survey::{self, Survey, SurveyDefaults};

/// The shipped `pulse` survey, included by path so that the store benchmark's copy of these
/// tests (tools/store-bench) finds it too.
fn pulse() -> Survey {
    let text = include_str!("../../../surveys/pulse.toml");
    survey::parse_str("surveys/pulse.toml", text, &SurveyDefaults::default())
        .expect("the shipped survey parses")
}

fn text(s: &str) -> Input {
    Input::Text(s.to_owned())
}

#[test]
fn apply_inside_record_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pass = Passphrase::new("korrekt Pferd Batterie Heftklammer").expect("non-empty");
    let store = Store::open_with(
        dir.path(),
        &pass,
        StoreOptions {
            sync_on_commit: false,
        },
        true,
    )
    .expect("open store");
    let now: jiff::Timestamp = "2025-03-03T09:00:00Z".parse().expect("timestamp");
    let (user, room) = ("@teilnehmer:stadt.example", "!dm:stadt.example");
    let survey = pulse();
    store
        .open_round(&survey.id, 1, Mode::Anonymous, now)
        .expect("open round");
    store
        .set_consent(user, ConsentState::Yes, now)
        .expect("consent");
    let round = Round::new(&survey, Lang::De);
    let (_, first) = start(&round);
    store
        .start_round(user, &survey.id, 1, &to_outbounds(&first, room))
        .expect("start")
        .expect("started");
    // The Matrix layer sends the outbox and registers polls.
    let register = |store: &Store| {
        for m in store.pending().expect("pending") {
            let out = Outgoing::from_outbound(&m.message).expect("our JSON");
            let ev = format!("$sent{}", m.id);
            store
                .update_conversation(user, &survey.id, 1, |s| {
                    register_sent(s, &ev, &out);
                })
                .expect("register");
            store
                .mark_sent(&m.message.room_id, m.id)
                .expect("mark sent");
        }
    };
    register(&store);
    let record = |ev: &str, input: Input| {
        store
            .record_answer(user, &survey.id, 1, ev, |s| apply(s, &round, &input, room))
            .expect("record")
    };
    assert!(matches!(
        record("$a1", text("4")),
        RecordOutcome::Recorded {
            finished: false,
            ..
        }
    ));
    assert_eq!(record("$a1", text("5")), RecordOutcome::AlreadyCounted);
    let before = store
        .conversation(user, &survey.id, 1)
        .expect("read")
        .expect("running");
    assert!(matches!(
        record("$bad", text("99")),
        RecordOutcome::Recorded { .. }
    ));
    let after = store
        .conversation(user, &survey.id, 1)
        .expect("read")
        .expect("running");
    assert_eq!(before.answers, after.answers);
    assert_eq!(before.current, after.current);
    register(&store);
    let mut k = 0;
    let outcome = loop {
        let st = store
            .conversation(user, &survey.id, 1)
            .expect("read")
            .expect("running");
        let q = waiting(&st, &survey).expect("a question waits").clone();
        let poll = st
            .polls
            .iter()
            .rev()
            .find(|(_, p)| p.item_id == q.id)
            .map(|(e, _)| e.clone());
        let input = match (poll, &q.kind) {
            (Some(poll_event_id), _) => Input::PollVote {
                poll_event_id,
                answer_ids: vec!["3".into()],
            },
            (None, _) => text("Alles gut – danke! 🎉"),
        };
        k += 1;
        let o = record(&format!("$x{k}"), input);
        register(&store);
        if matches!(o, RecordOutcome::Recorded { finished: true, .. }) {
            break o;
        }
        assert!(k < 50, "round never finished");
    };
    assert!(matches!(
        outcome,
        RecordOutcome::Recorded { finished: true, .. }
    ));
    assert_eq!(store.conversation(user, &survey.id, 1).expect("read"), None);
    let stored = store.answers(&survey.id, 1).expect("answers");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].answers.len(), survey.questions().len());
    assert_eq!(
        stored[0].answers.get("umux_bm.1"),
        Some(&AnswerValue::Choice("4".into()))
    );
    assert_eq!(
        stored[0].answers.get("comment"),
        Some(&AnswerValue::Text("Alles gut – danke! 🎉".into()))
    );
    // A late vote: the store refuses without calling the step.
    assert_eq!(record("$late", text("1")), RecordOutcome::RoundFinished);
}
