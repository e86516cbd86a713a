//! Store tests: behaviour, privacy (raw-byte scan, join attempt), crash safety (SIGKILL),
//! error cases, migration from the schema-1 fixture.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use super::cipher::{self, Crypt};
use super::tables;
use super::*;
use crate::lang::Lang;
use crate::model::{
    AnswerRecord, AnswerValue, ConsentState, ConversationState, LedgerEntry, Mode, Outbound,
    PollRef, RoundInfo, RoundStatus,
};

pub(super) fn pass() -> Passphrase {
    Passphrase::new("korrekt Pferd Batterie Heftklammer").expect("non-empty")
}

pub(super) fn t0() -> Timestamp {
    "2025-03-03T09:00:00Z".parse().expect("valid timestamp")
}

fn fast() -> StoreOptions {
    StoreOptions {
        sync_on_commit: false,
    }
}

pub(super) fn user(i: usize) -> String {
    format!("@teilnehmer{i:04}:stadt.example")
}

pub(super) fn room(i: usize) -> String {
    format!("!dmraum{i:04}xq:stadt.example")
}

fn msg(room: &str, text: &str) -> Outbound {
    Outbound {
        txn_id: None,
        room_id: room.to_owned(),
        content: format!("{{\"body\":\"{text}\"}}"),
        context: None,
    }
}

/// Consents participant `i` with a DM room.
fn consent(s: &Store, i: usize) {
    s.update_participant(&user(i), |e| {
        e.dm_room = Some(room(i));
    })
    .expect("ledger write");
    assert!(
        s.set_consent(&user(i), ConsentState::Yes, t0())
            .expect("consent")
    );
}

/// The pure "conversation step" used by tests: store the answer, advance, queue one message.
fn answer_step(
    room: String,
    item: String,
    value: AnswerValue,
    finish: bool,
) -> impl Fn(&mut ConversationState) -> AnswerUpdate {
    move |st| {
        st.answers.insert(item.clone(), value.clone());
        st.current += 1;
        AnswerUpdate {
            outbound: vec![msg(&room, &format!("next after {item}"))],
            finish,
            answered: None,
        }
    }
}

#[test]
fn answer_lifecycle_is_idempotent_and_unlinks_on_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
    let u = user(1);
    // Before consent nothing is stored.
    let r = s.record_answer(
        &u,
        "bm",
        1,
        "$e0",
        answer_step(room(1), "q1".into(), AnswerValue::Number(3), false),
    );
    assert_eq!(r.expect("record"), RecordOutcome::NotConsented);
    consent(&s, 1);
    assert!(
        s.start_round(&u, "bm", 1, &[msg(&room(1), "Frage 1/2")])
            .expect("start")
            .is_some()
    );
    let step = || answer_step(room(1), "q1".into(), AnswerValue::Choice("4".into()), false);
    let r = s.record_answer(&u, "bm", 1, "$e1", step()).expect("record");
    assert!(matches!(
        r,
        RecordOutcome::Recorded {
            finished: false,
            ..
        }
    ));
    assert_eq!(
        s.record_answer(&u, "bm", 1, "$e1", step()).expect("replay"),
        RecordOutcome::AlreadyCounted
    );
    let st = s
        .conversation(&u, "bm", 1)
        .expect("read")
        .expect("conversation exists");
    assert_eq!(st.answers.len(), 1);
    assert!(st.counted.contains("$e1"));
    // Two queued: the first question and the one after q1; the replay queued nothing.
    assert_eq!(s.pending().expect("pending").len(), 2);
    let text = AnswerValue::Text("Übersichtlich, aber Größe der Schrift".into());
    let r = s.record_answer(
        &u,
        "bm",
        1,
        "$e2",
        answer_step(room(1), "q2".into(), text.clone(), true),
    );
    assert!(matches!(
        r.expect("finish"),
        RecordOutcome::Recorded { finished: true, .. }
    ));
    assert_eq!(
        s.conversation(&u, "bm", 1).expect("read"),
        None,
        "link removed"
    );
    let answers = s.answers("bm", 1).expect("answers");
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].answers.get("q2"), Some(&text));
    assert_eq!(answers[0].pseudonym, None);
    assert!(answers[0].complete);
    let entry = s.participant(&u).expect("ledger").expect("entry");
    assert_eq!(
        entry.round("bm", 1).map(|r| r.status),
        Some(RoundStatus::Finished)
    );
    assert_eq!(
        s.record_answer(&u, "bm", 1, "$e2", step()).expect("replay"),
        RecordOutcome::RoundFinished
    );
    s.close_round("bm", 1, t0()).expect("close");
    assert_eq!(
        s.record_answer(&u, "bm", 1, "$e9", step()).expect("late"),
        RecordOutcome::RoundClosed
    );
    assert!(s.check().expect("check").is_ok());
}

#[test]
fn close_round_moves_drafts_as_partial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    s.open_round("bm", 2, Mode::Pseudonymous, t0())
        .expect("round");
    for i in 0..3 {
        consent(&s, i);
        s.start_round(&user(i), "bm", 2, &[]).expect("start");
    }
    s.record_answer(
        &user(0),
        "bm",
        2,
        "$a",
        answer_step(room(0), "q1".into(), AnswerValue::Skipped, false),
    )
    .expect("record");
    let report = s.close_round("bm", 2, t0()).expect("close");
    assert_eq!(
        report,
        CloseReport {
            partial_moved: 1,
            empty_removed: 2
        }
    );
    let answers = s.answers("bm", 2).expect("answers");
    assert_eq!(answers.len(), 1);
    assert!(!answers[0].complete);
    assert!(answers[0].pseudonym.as_ref().is_some_and(|p| p.len() == 32));
    let e0 = s.participant(&user(0)).expect("read").expect("entry");
    assert_eq!(
        e0.round("bm", 2).map(|r| r.status),
        Some(RoundStatus::Partial)
    );
    let e1 = s.participant(&user(1)).expect("read").expect("entry");
    assert_eq!(
        e1.round("bm", 2).map(|r| r.status),
        Some(RoundStatus::Invited)
    );
    assert!(s.check().expect("check").is_ok());
}

#[test]
fn pending_in_room_keeps_one_rooms_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    let ids = s
        .queue(&[
            msg("!a:x", "eins"),
            msg("!b:x", "zwei"),
            msg("!a:x", "drei"),
        ])
        .expect("queue");
    assert!(s.mark_sent("!a:x", ids[0]).expect("mark"));
    let a = s.pending_in_room("!a:x").expect("room a");
    assert_eq!(a.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[2]]);
    let b = s.pending_in_room("!b:x").expect("room b");
    assert_eq!(b.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[1]]);
    assert!(s.pending_in_room("!c:x").expect("room c").is_empty());
}

#[test]
fn outbox_keeps_transaction_ids_across_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = {
        let s = Store::open(dir.path(), &pass()).expect("open");
        s.queue(&[msg("!r:x", "eins"), msg("!r:x", "zwei")])
            .expect("queue")
    };
    let s = Store::open(dir.path(), &pass()).expect("reopen");
    let pending = s.pending().expect("pending");
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    let txn = pending[0].txn_id.clone();
    drop(s);
    let s = Store::open(dir.path(), &pass()).expect("reopen");
    assert_eq!(
        s.pending().expect("pending")[0].txn_id,
        txn,
        "resend uses the same txn id"
    );
    assert!(s.mark_sent("!r:x", ids[0]).expect("mark"));
    assert_eq!(s.pending().expect("pending").len(), 1);
    assert_eq!(s.prune_sent().expect("prune"), 1);
    let later = s.queue(&[msg("!r:x", "drei")]).expect("queue");
    assert!(later[0] > ids[1], "queue order survives restarts");
}

#[test]
fn bot_state_and_aggregates_roundtrip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    s.set_bot_state("sync_token", b"s72594_4483_1934")
        .expect("set");
    assert_eq!(
        s.bot_state("sync_token").expect("get").as_deref(),
        Some(&b"s72594_4483_1934"[..])
    );
    assert_eq!(s.bot_state("other").expect("get"), None);
    s.open_round("bm", 1, Mode::Anonymous, t0()).expect("round");
    s.put_aggregate("bm", 1, b"{\"n\":12}").expect("agg");
    assert_eq!(
        s.aggregate("bm", 1).expect("agg").as_deref(),
        Some(&b"{\"n\":12}"[..])
    );
}

#[test]
fn wrong_and_missing_passphrase_are_clear_and_touch_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = Store::open(dir.path(), &pass()).expect("open");
        consent(&s, 7);
    }
    let before = logical_dump(dir.path());
    let files_before = file_bytes(dir.path());
    let wrong = Passphrase::new("falsch").expect("non-empty");
    let err = Store::open(dir.path(), &wrong).expect_err("wrong passphrase must fail");
    assert!(matches!(err, StoreError::WrongPassphrase), "{err}");
    assert!(err.to_string().contains("wrong store passphrase"));
    assert_eq!(file_bytes(dir.path()), files_before, "no file changed");
    assert_eq!(logical_dump(dir.path()), before);
    assert!(matches!(
        Passphrase::new("  "),
        Err(StoreError::MissingPassphrase)
    ));
    let unset = Passphrase::from_file_or_env(None, "PULSEBOT_TEST_SURELY_UNSET_VAR");
    assert!(matches!(unset, Err(StoreError::MissingPassphrase)));
    let missing = tempfile::tempdir().expect("tempdir");
    let err = check(&missing.path().join("nope"), &pass()).expect_err("no store");
    assert!(matches!(err, StoreError::NotFound(_)));
    assert!(
        !missing.path().join("nope").exists(),
        "check does not create a store"
    );
    let s = Store::open(dir.path(), &pass()).expect("right passphrase still works");
    assert!(s.participant(&user(7)).expect("read").is_some());
}

#[test]
fn corrupted_value_is_reported_with_its_table_and_others_survive() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = Store::open(dir.path(), &pass()).expect("open");
        consent(&s, 1);
        consent(&s, 2);
    }
    let victim = {
        // The store's own opener: sled's flusher may hold the file lock a moment longer.
        let db = super::open_sled(dir.path()).expect("raw open");
        let t = db.open_tree(tables::LEDGER.name).expect("tree");
        let (k, v) = t.iter().next().expect("an entry").expect("readable");
        let mut v = v.to_vec();
        let last = v.len() - 1;
        v[last] ^= 0x40;
        t.insert(&k, v).expect("write");
        db.flush().expect("flush");
        k
    };
    let s = Store::open(dir.path(), &pass()).expect("open still works");
    let results: Vec<_> = [1, 2].iter().map(|&i| s.participant(&user(i))).collect();
    let errs = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(errs, 1, "exactly the damaged entry fails");
    for r in results {
        match r {
            Ok(e) => assert!(e.is_some()),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        StoreError::Corrupt {
                            table: "ledger",
                            ..
                        }
                    ),
                    "{e}"
                );
                assert!(!e.to_string().contains("teilnehmer"));
            }
        }
    }
    assert!(matches!(
        s.check(),
        Err(StoreError::Corrupt {
            table: "ledger",
            ..
        })
    ));
    let _ = victim;
}

#[test]
fn audit_chain_detects_changed_and_removed_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), &pass()).expect("open");
    for i in 0..4 {
        s.audit(t0(), "cli", "export", &format!("report {i}"))
            .expect("audit");
    }
    assert_eq!(s.verify_audit_chain().expect("intact"), 5); // + store.create
    let audit = s.tree(tables::AUDIT);
    let key = 2u64.to_be_bytes();
    let mut e: AuditEntry = s.read(tables::AUDIT, &key).expect("read").expect("entry");
    e.detail = "report X".into();
    let original = audit.get(key).expect("get").expect("present");
    audit
        .insert(key, s.crypt().seal(&e).expect("seal"))
        .expect("write");
    assert!(matches!(
        s.verify_audit_chain(),
        Err(StoreError::AuditChainBroken { seq: 2, .. })
    ));
    audit.insert(key, original).expect("restore");
    assert!(s.verify_audit_chain().is_ok());
    audit.remove(4u64.to_be_bytes()).expect("remove");
    assert!(matches!(
        s.verify_audit_chain(),
        Err(StoreError::AuditChainBroken { seq: 4, .. })
    ));
}

#[test]
fn retention_deletes_raw_answers_keeps_aggregates_and_audits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    for r in [1, 2] {
        s.open_round("bm", r, Mode::Anonymous, t0()).expect("round");
    }
    for i in 0..5 {
        consent(&s, i);
        for r in [1, 2] {
            let ev = format!("$e{i}r{r}");
            s.record_answer(
                &user(i),
                "bm",
                r,
                &ev,
                answer_step(room(i), "q".into(), AnswerValue::Number(i as i64), true),
            )
            .expect("record");
        }
    }
    s.close_round("bm", 1, t0()).expect("close");
    s.put_aggregate("bm", 1, b"agg").expect("agg");
    s.close_round("bm", 2, t0() + SignedDuration::from_hours(24 * 20))
        .expect("close");
    let now = t0() + SignedDuration::from_hours(24 * 31);
    let report = s.apply_retention(now, 30).expect("retention");
    assert_eq!(report.rounds, vec![("bm".to_owned(), 1, 5)]);
    assert!(s.answers("bm", 1).expect("read").is_empty());
    assert_eq!(
        s.answers("bm", 2).expect("read").len(),
        5,
        "round closed 11 days ago stays"
    );
    assert_eq!(
        s.aggregate("bm", 1).expect("agg").as_deref(),
        Some(&b"agg"[..])
    );
    assert!(
        s.audit_log()
            .expect("log")
            .iter()
            .any(|e| e.action == "retention.delete")
    );
    assert!(
        s.apply_retention(now, 30).expect("rerun").rounds.is_empty(),
        "idempotent"
    );
    assert!(s.check().expect("check").is_ok());
}

#[test]
fn my_data_and_erase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    s.open_round("anon", 1, Mode::Anonymous, t0())
        .expect("round");
    s.open_round("pseudo", 1, Mode::Pseudonymous, t0())
        .expect("round");
    s.open_round("pseudo", 2, Mode::Pseudonymous, t0())
        .expect("round");
    for i in 0..2 {
        consent(&s, i);
        for (sv, r, fin) in [("anon", 1, true), ("pseudo", 1, true), ("pseudo", 2, false)] {
            let ev = format!("$e{i}{sv}{r}");
            let v = AnswerValue::Text(format!("Antwort {i} {sv} {r} äöü"));
            s.record_answer(
                &user(i),
                sv,
                r,
                &ev,
                answer_step(room(i), "t".into(), v, fin),
            )
            .expect("record");
        }
    }
    let mine = s.my_data(&user(0), t0()).expect("my data");
    assert_eq!(
        mine.ledger.as_ref().map(|e| e.user_id.as_str()),
        Some(user(0).as_str())
    );
    assert_eq!(mine.drafts.len(), 1, "running round draft");
    assert_eq!(
        mine.pseudonymous_responses.len(),
        1,
        "pseudonymous finished response"
    );
    assert_eq!(mine.pending_messages, 3);
    let tz = jiff::tz::TimeZone::UTC;
    let reply = crate::conversation::my_data_reply(&mine, &[], &tz, Lang::De);
    let text = reply[0].body();
    assert!(
        text.contains("Antwort 0 pseudo 2") && text.contains("ohne jeden Bezug zu Ihnen"),
        "{text}"
    );
    assert!(
        !text.contains("Antwort 0 anon"),
        "anonymous answers are not findable"
    );
    assert!(!text.contains(&user(1)));

    s.erase_participant(&user(0), t0(), &[msg(&room(0), "gelöscht")])
        .expect("erase");
    let e = s
        .participant(&user(0))
        .expect("read")
        .expect("marker stays");
    assert!(
        e.erased && e.user_id.is_empty() && e.dm_room.is_none() && e.consent == ConsentState::No
    );
    assert!(
        !s.set_consent(&user(0), ConsentState::Yes, t0())
            .expect("consent"),
        "no silent revival"
    );
    let after = s.my_data(&user(0), t0()).expect("my data");
    assert!(
        after.ledger.is_none()
            && after.erased
            && after.drafts.is_empty()
            && after.pseudonymous_responses.is_empty()
    );
    assert_eq!(
        s.answers("pseudo", 1).expect("read").len(),
        1,
        "only the other participant's"
    );
    assert_eq!(
        s.answers("anon", 1).expect("read").len(),
        2,
        "anonymous answers cannot be found"
    );
    let pending = s.pending().expect("pending");
    assert_eq!(
        pending
            .iter()
            .filter(|m| m.message.room_id == room(0))
            .count(),
        1,
        "only the confirmation"
    );
    assert_eq!(
        s.record_answer(
            &user(0),
            "pseudo",
            2,
            "$new",
            answer_step(room(0), "x".into(), AnswerValue::Skipped, false)
        )
        .expect("record"),
        RecordOutcome::NotConsented
    );
    s.opt_out(&user(1), t0(), &[]).expect("opt out");
    let e1 = s.participant(&user(1)).expect("read").expect("entry");
    assert_eq!(
        e1.round("pseudo", 2).map(|r| r.status),
        Some(RoundStatus::OptedOut)
    );
    assert_eq!(s.conversation(&user(1), "pseudo", 2).expect("read"), None);
    let log = s.audit_log().expect("log");
    assert!(log.iter().any(|e| e.action == "rights.erase"));
    for e in &log {
        assert!(!e.detail.contains("teilnehmer") && !e.actor.contains("teilnehmer"));
    }
    assert!(s.check().expect("check").is_ok());
}

#[test]
fn backup_while_open_and_rekey() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let s = Store::open(&path, &pass()).expect("open");
    consent(&s, 3);
    s.set_bot_state("sync_token", b"abc").expect("set");
    let target = dir.path().join("backup");
    let counts = backup(&s, &target).expect("backup");
    assert_eq!(counts.get("ledger"), Some(&1));
    {
        // For the service account alone (issue 18: backups came out world-readable).
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o700);
        for e in std::fs::read_dir(&target).expect("read") {
            let p = e.expect("entry").path();
            if p.is_file() {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
            }
        }
    }
    assert!(matches!(
        backup(&s, &target),
        Err(StoreError::BackupTargetNotEmpty(_))
    ));
    drop(s);
    let b = Store::open_existing(&target, &pass()).expect("backup opens with the same passphrase");
    assert!(b.participant(&user(3)).expect("read").is_some());
    assert!(b.check().expect("check").is_ok());
    drop(b);
    let new = Passphrase::new("neues langes Passwort").expect("non-empty");
    rekey(&path, &pass(), &new).expect("rekey");
    assert!(matches!(
        Store::open_existing(&path, &pass()),
        Err(StoreError::WrongPassphrase)
    ));
    let s = Store::open_existing(&path, &new).expect("new passphrase");
    assert_eq!(
        s.bot_state("sync_token").expect("get").as_deref(),
        Some(&b"abc"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_store_runs_off_the_worker_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = AsyncStore::open(dir.path().to_owned(), pass())
        .await
        .expect("open");
    s.run(|st| {
        st.open_round("bm", 1, Mode::Anonymous, t0())?;
        consent(st, 1);
        Ok(())
    })
    .await
    .expect("setup");
    let out = s
        .record_answer(
            user(1),
            "bm".into(),
            1,
            "$x".into(),
            answer_step(room(1), "q".into(), AnswerValue::Number(1), false),
        )
        .await
        .expect("record");
    assert!(matches!(out, RecordOutcome::Recorded { .. }));
    s.set_bot_state("sync_token".into(), b"t1".to_vec())
        .await
        .expect("set");
    assert_eq!(
        s.bot_state("sync_token".into()).await.expect("get"),
        Some(b"t1".to_vec())
    );
    assert_eq!(s.pending().await.expect("pending").len(), 1);
}

// ---------------------------------------------------------------------------------------
// Helpers for byte-level comparisons.

/// Every file under `dir` with its bytes.
fn file_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read file"));
            }
        }
    }
    out
}

/// All (tree, key, raw value) of a closed store, read with plain sled.
fn logical_dump(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let db = super::open_sled(dir).expect("raw open");
    let mut out = Vec::new();
    for name in db.tree_names() {
        let t = db.open_tree(&name).expect("tree");
        for kv in t.iter() {
            let (k, v) = kv.expect("read");
            out.push((name.to_vec(), k.to_vec(), v.to_vec()));
        }
    }
    out
}

mod conversation;
mod crash;
mod delivery;
mod fixture;
mod privacy;
mod scan;
