//! Ledger changes with their messages, reminders, audience, close with farewells, imports,
//! and the schema 2 → 3 migration.

use super::super::records::ModeRec;
use super::super::tables::{self, ROUNDS};
use super::*;

#[test]
fn first_contact_happens_once_and_never_after_no() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    let u = user(1);
    let notice = [msg(&room(1), "notice"), msg(&room(1), "poll")];
    assert!(
        s.first_contact(&u, &room(1), Lang::En, &notice, t0())
            .expect("contact")
    );
    assert!(
        !s.first_contact(&u, &room(1), Lang::En, &notice, t0())
            .expect("contact")
    );
    assert_eq!(s.pending().expect("pending").len(), 2);
    let e = s.participant(&u).expect("read").expect("entry");
    assert_eq!(
        (e.consent, e.lang, e.dm_room.as_deref()),
        (ConsentState::Asked, Lang::En, Some(room(1).as_str()))
    );
    // Declined: never contacted again.
    s.set_consent(&u, ConsentState::No, t0()).expect("consent");
    assert!(
        !s.first_contact(&u, &room(1), Lang::De, &notice, t0())
            .expect("contact")
    );
    assert_eq!(s.pending().expect("pending").len(), 2);
}

#[test]
fn update_and_queue_is_one_step_and_skips_erased() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    let u = user(2);
    assert!(
        s.update_and_queue(
            &u,
            |e| {
                e.lang = Lang::En;
                true
            },
            &[msg(&room(2), "ok")]
        )
        .expect("update")
    );
    assert!(
        !s.update_and_queue(&u, |_| false, &[msg(&room(2), "no")])
            .expect("update")
    );
    assert_eq!(s.pending().expect("pending").len(), 1);
    s.erase_participant(&u, t0(), &[]).expect("erase");
    assert!(
        !s.update_and_queue(&u, |_| true, &[msg(&room(2), "x")])
            .expect("update")
    );
}

#[test]
fn reminders_stop_at_max_and_after_finishing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
    consent(&s, 3);
    let u = user(3);
    // Not in the round yet: nothing.
    assert_eq!(
        s.remind(&u, "bm", 1, 2, &[msg(&room(3), "r")])
            .expect("remind"),
        None
    );
    s.start_round(&u, "bm", 1, &[]).expect("start");
    assert_eq!(
        s.remind(&u, "bm", 1, 2, &[msg(&room(3), "r")])
            .expect("remind"),
        Some(1)
    );
    assert_eq!(
        s.remind(&u, "bm", 1, 2, &[msg(&room(3), "r")])
            .expect("remind"),
        Some(2)
    );
    assert_eq!(
        s.remind(&u, "bm", 1, 2, &[msg(&room(3), "r")])
            .expect("remind"),
        None
    );
    assert_eq!(s.pending().expect("pending").len(), 2);
}

#[test]
fn audience_keeps_the_largest_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
    s.note_audience("bm", 1, 12).expect("note");
    s.note_audience("bm", 1, 9).expect("note");
    let info = s.round_info("bm", 1).expect("read").expect("round");
    assert_eq!(info.audience, Some(12));
}

#[test]
fn close_with_farewell_queues_for_consented_unfinished_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
    for i in 0..3 {
        consent(&s, i);
        s.start_round(&user(i), "bm", 1, &[]).expect("start");
    }
    s.record_answer(
        &user(0),
        "bm",
        1,
        "$e0",
        answer_step(room(0), "q1".into(), AnswerValue::Number(3), false),
    )
    .expect("answer");
    let before = s.pending().expect("pending").len();
    let report = s
        .close_round_with("bm", 1, t0(), |u, st| {
            vec![msg(
                "!dm:x",
                &format!("bye {} {}", u.len(), st.answers.len()),
            )]
        })
        .expect("close");
    assert_eq!((report.partial_moved, report.empty_removed), (1, 2));
    assert_eq!(s.pending().expect("pending").len(), before + 3);
    // Closing again changes nothing and queues nothing.
    s.close_round_with("bm", 1, t0(), |_, _| vec![msg("!dm:x", "again")])
        .expect("close");
    assert_eq!(s.pending().expect("pending").len(), before + 3);
}

#[test]
fn import_is_whole_and_refuses_a_second_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
    let rec = |v: i64| AnswerRecord {
        survey_id: "ignored".into(),
        round: 99,
        complete: true,
        answers: [("nps".to_owned(), AnswerValue::Number(v))].into(),
        pseudonym: None,
    };
    let recs: Vec<_> = (0..7).map(rec).collect();
    let info = s
        .import_round("bm", "webex-2026", Mode::Anonymous, &recs, t0(), "cli")
        .expect("import");
    assert_eq!(
        (info.round, info.responses, info.label.as_deref()),
        (2, 7, Some("webex-2026"))
    );
    assert!(info.closed_at.is_some());
    let stored = s.answers("bm", 2).expect("answers");
    assert_eq!(stored.len(), 7);
    assert!(stored.iter().all(|r| r.survey_id == "bm" && r.round == 2));
    let again = s.import_round("bm", "webex-2026", Mode::Anonymous, &recs, t0(), "cli");
    assert!(
        matches!(again, Err(StoreError::DuplicateImport { .. })),
        "{again:?}"
    );
    assert!(
        s.audit_log()
            .expect("audit")
            .iter()
            .any(|e| e.action == "round.import")
    );
}

/// `RoundInfo` as schema 2 wrote it.
#[derive(serde::Serialize)]
struct RoundInfoV2 {
    survey_id: String,
    round: u32,
    mode: ModeRec,
    opened_at: Timestamp,
    closed_at: Option<Timestamp>,
    raw_deleted_at: Option<Timestamp>,
    responses: u64,
}

#[test]
fn schema_2_rounds_migrate_to_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    {
        let s = Store::open(&path, &pass()).expect("open");
        s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
        // Rewrite the round in the schema-2 layout and set the version back.
        let old = RoundInfoV2 {
            survey_id: "bm".into(),
            round: 1,
            mode: ModeRec::Anonymous,
            opened_at: t0(),
            closed_at: Some(t0()),
            raw_deleted_at: None,
            responses: 0,
        };
        let raw = s.crypt().seal(&old).expect("seal");
        s.tree(ROUNDS)
            .insert(tables::round_key(s.crypt(), "bm", 1), raw)
            .expect("insert");
        set_schema(&s, 2);
        s.flush().expect("flush");
    }
    let s = Store::open(&path, &pass()).expect("reopen migrates");
    let info = s.round_info("bm", 1).expect("read").expect("round");
    assert_eq!((info.responses, info.audience, info.label), (0, None, None));
    assert_eq!(info.closed_at, Some(t0()));
    let report = s.check().expect("check");
    assert!(report.is_ok(), "{report}");
}

/// `RoundInfo` as schemas 3 and 4 wrote it.
#[derive(serde::Serialize)]
struct RoundInfoV4 {
    survey_id: String,
    round: u32,
    mode: ModeRec,
    opened_at: Timestamp,
    closed_at: Option<Timestamp>,
    raw_deleted_at: Option<Timestamp>,
    responses: u64,
    audience: Option<u64>,
    label: Option<String>,
}

/// Schema 4 kept the scheduler's history as JSON in `bot_state`; schema 5 moves each round's
/// schedule into the round and deletes the blob.
#[test]
fn schema_4_schedule_history_moves_into_the_rounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let closes = t0() + jiff::SignedDuration::from_hours(48);
    {
        let s = Store::open(&path, &pass()).expect("open");
        s.open_round("bm", 1, Mode::Anonymous, t0())
            .expect("round 1");
        s.open_round("bm", 2, Mode::Anonymous, t0())
            .expect("round 2");
        for round in [1, 2] {
            let old = RoundInfoV4 {
                survey_id: "bm".into(),
                round,
                mode: ModeRec::Anonymous,
                opened_at: t0(),
                closed_at: (round == 1).then(t0),
                raw_deleted_at: None,
                responses: 0,
                audience: Some(3),
                label: None,
            };
            let raw = s.crypt().seal(&old).expect("seal");
            s.tree(ROUNDS)
                .insert(tables::round_key(s.crypt(), "bm", round), raw)
                .expect("insert");
        }
        // Round 2's entry in the history; round 1 has none (a history older than the round).
        let history = format!(
            r#"{{"rounds":[{{"number":2,"slot":"{t0}","opened_at":"{t0}","closes_at":"{closes}","closed_at":null,"reminders_done":1}}]}}"#,
            t0 = t0()
        );
        s.set_bot_state("schedule/bm", history.as_bytes())
            .expect("history");
        set_schema(&s, 4);
        s.flush().expect("flush");
    }
    let s = Store::open(&path, &pass()).expect("migrates");
    let one = s.round_info("bm", 1).expect("read").expect("round 1");
    assert_eq!(
        (one.closed_at, one.schedule, one.audience),
        (Some(t0()), None, Some(3))
    );
    let two = s.round_info("bm", 2).expect("read").expect("round 2");
    assert_eq!(
        two.schedule,
        Some(crate::model::RoundSchedule {
            slot: t0(),
            closes_at: closes,
            reminders_done: 1,
        })
    );
    assert_eq!(
        s.bot_state("schedule/bm").expect("read"),
        None,
        "the blob is gone"
    );
    // Reminders are recorded in the round from now on, never lowered.
    s.note_reminders("bm", 2, 2).expect("note");
    s.note_reminders("bm", 2, 1).expect("note");
    let two = s.round_info("bm", 2).expect("read").expect("round 2");
    assert_eq!(two.schedule.map(|s| s.reminders_done), Some(2));
    let report = s.check().expect("check");
    assert!(report.is_ok(), "{report}");
}

/// Sets the stored schema version back to `version` (the next open migrates from there).
fn set_schema(s: &Store, version: u32) {
    s.inner
        .db
        .open_tree(tables::META.name)
        .expect("meta")
        .insert(tables::META_SCHEMA, &version.to_be_bytes())
        .expect("write the version");
}
