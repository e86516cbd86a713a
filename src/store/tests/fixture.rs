//! The schema-1 snapshot under `tests/fixtures/store-v1/` and the migration test.
//!
//! The fixture was written by `write_v1_fixture` below (run it with
//! `PULSEBOT_WRITE_FIXTURE=1 cargo test --lib store::tests::fixture::write_v1_fixture -- --ignored`)
//! using the schema-1 encoding (`StoreCipher::encrypt_value`, JSON) and the tables schema 1
//! had. Its passphrase is the test passphrase in `tests.rs`.

use super::super::audit::{AuditHead, entry_hash};
use super::super::conversation::ConversationRecord;
use super::super::records::Persisted;
use super::super::tables::{
    self, ANSWERS, AUDIT, CONVERSATIONS, LEDGER, META, OUTBOX, ROUNDS, SURVEY_SECRETS,
};
use super::*;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1")
}

const ALICE: &str = "@alice:stadt.example";
const BOB: &str = "@bob:stadt.example";

fn write_v1(dir: &Path) {
    let db = sled::open(dir).expect("open");
    let c = Crypt::new_random().expect("key");
    let put = |t: tables::Table, k: &[u8], v: Vec<u8>| {
        db.open_tree(t.name)
            .expect("tree")
            .insert(k, v)
            .expect("insert");
    };
    let meta = db.open_tree(META.name).expect("meta");
    meta.insert(tables::META_CIPHER, c.export(&pass()).expect("export"))
        .expect("insert");
    meta.insert(tables::META_SCHEMA, &1u32.to_be_bytes())
        .expect("insert");

    let round = |r: u32, mode, closed| RoundInfo {
        survey_id: "bm".into(),
        round: r,
        mode,
        opened_at: t0(),
        closed_at: closed,
        raw_deleted_at: None,
        responses: 1,
        audience: None,
        label: None,
        schedule: None,
    };
    put(
        ROUNDS,
        &tables::round_key(&c, "bm", 1),
        c.seal_v1(&round(1, Mode::Anonymous, Some(t0())).to_record())
            .expect("seal"),
    );
    let mut r2 = round(2, Mode::Pseudonymous, None);
    r2.responses = 0;
    put(
        ROUNDS,
        &tables::round_key(&c, "bm", 2),
        c.seal_v1(&r2.to_record()).expect("seal"),
    );
    put(
        SURVEY_SECRETS,
        &tables::survey_key(&c, "bm"),
        c.seal_v1(&[7u8; 32]).expect("seal"),
    );

    let mut alice = LedgerEntry::new(ALICE);
    alice.consent = ConsentState::Yes;
    alice.consent_at = Some(t0());
    alice.dm_room = Some("!alice-dm:stadt.example".into());
    alice.round_mut("bm", 1).status = RoundStatus::Finished;
    alice.round_mut("bm", 2).status = RoundStatus::Started;
    put(
        LEDGER,
        &tables::ledger_key(&c, ALICE),
        c.seal_v1(&alice.to_record()).expect("seal"),
    );
    let mut bob = LedgerEntry::new(BOB);
    bob.consent = ConsentState::No;
    bob.lang = Lang::En;
    put(
        LEDGER,
        &tables::ledger_key(&c, BOB),
        c.seal_v1(&bob.to_record()).expect("seal"),
    );

    let mut state = ConversationState {
        current: 1,
        ..Default::default()
    };
    state
        .answers
        .insert("sus1".into(), AnswerValue::Choice("4".into()));
    state.counted.insert("$draft-event", None);
    state.polls.insert(
        "$poll-event".into(),
        PollRef {
            item_id: "sus1".into(),
            answer_ids: [("a1".to_owned(), "1".to_owned())].into(),
        },
    );
    let conv = ConversationRecord {
        user_id: ALICE.into(),
        survey_id: "bm".into(),
        round: 2,
        state,
    };
    put(
        CONVERSATIONS,
        &tables::conversation_key(&c, ALICE, "bm", 2),
        c.seal_v1(&conv.to_record()).expect("seal"),
    );

    let rec = AnswerRecord {
        survey_id: "bm".into(),
        round: 1,
        complete: true,
        answers: [
            ("sus1".to_owned(), AnswerValue::Choice("5".into())),
            (
                "text".to_owned(),
                AnswerValue::Text("Schöne Übersicht".into()),
            ),
            ("nps".to_owned(), AnswerValue::Number(9)),
            ("multi".to_owned(), AnswerValue::Multi(vec!["a".into()])),
            ("opt".to_owned(), AnswerValue::Skipped),
        ]
        .into(),
        pseudonym: None,
    };
    let mut ak = tables::round_prefix(&c, "bm", 1).to_vec();
    ak.extend_from_slice(&[0x5a; 16]);
    put(ANSWERS, &ak, c.seal_v1(&rec.to_record()).expect("seal"));

    let out = OutboxMessage {
        id: 1,
        txn_id: "pbfixture".into(),
        state: OutboxState::Pending,
        message: Outbound {
            txn_id: None,
            room_id: "!alice-dm:stadt.example".into(),
            content: "{}".into(),
            context: Some("sus2".into()),
        },
    };
    put(
        OUTBOX,
        &1u64.to_be_bytes(),
        c.seal_v1(&out.to_record()).expect("seal"),
    );

    let mut prev = [0u8; 32];
    for (seq, (action, detail)) in [
        ("store.create", ""),
        ("round.open", "bm round 1"),
        ("round.close", "bm round 1"),
    ]
    .into_iter()
    .enumerate()
    {
        let seq = seq as u64;
        let hash = entry_hash(&prev, seq, &t0(), "bot", action, detail);
        let e = AuditEntry {
            seq,
            at: t0(),
            actor: "bot".into(),
            action: action.into(),
            detail: detail.into(),
            prev_hash: prev,
            hash,
        };
        put(
            AUDIT,
            &seq.to_be_bytes(),
            c.seal_v1(&e.to_record()).expect("seal"),
        );
        prev = hash;
    }
    meta.insert(
        tables::META_AUDIT_HEAD,
        c.seal_v1(&AuditHead {
            next_seq: 3,
            last_hash: prev,
        })
        .expect("seal"),
    )
    .expect("insert");
    db.flush().expect("flush");
}

#[test]
#[ignore = "writes the committed fixture; run by hand only"]
fn write_v1_fixture() {
    if std::env::var("PULSEBOT_WRITE_FIXTURE").is_err() {
        return;
    }
    let dir = fixture_dir();
    assert!(!dir.exists(), "remove {} first", dir.display());
    write_v1(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

#[test]
fn migrates_the_schema_1_fixture() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("store");
    copy_dir(&fixture_dir(), &path);
    let s = Store::open_existing(&path, &pass()).expect("opens and migrates");
    let report = s.check().expect("check");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert_eq!(report.audit_entries, 3);
    let backups: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("store.backup-schema1-"))
        .collect();
    assert_eq!(backups.len(), 1, "a backup was made before migrating");
    // Every value is now in the v2 envelope.
    for t in tables::ALL {
        for kv in s.tree(t).iter() {
            let (k, v) = kv.expect("read");
            if t == META && k.as_ref() != tables::META_AUDIT_HEAD {
                continue;
            }
            assert_eq!(
                v.first(),
                Some(&cipher::ENVELOPE_V2),
                "table {} migrated",
                t.name
            );
        }
    }
    let alice = s.participant(ALICE).expect("read").expect("alice");
    assert_eq!(
        alice.round("bm", 1).map(|r| r.status),
        Some(RoundStatus::Finished)
    );
    assert_eq!(
        s.participant(BOB).expect("read").expect("bob").lang,
        Lang::En
    );
    let draft = s
        .conversation(ALICE, "bm", 2)
        .expect("read")
        .expect("draft");
    assert_eq!(draft.polls["$poll-event"].answer_ids["a1"], "1");
    let answers = s.answers("bm", 1).expect("answers");
    assert_eq!(
        answers[0].answers["text"],
        AnswerValue::Text("Schöne Übersicht".into())
    );
    assert_eq!(s.pending().expect("outbox")[0].txn_id, "pbfixture");
    // Schema 4 re-keyed the entry under its room.
    let in_room = s.pending_in_room("!alice-dm:stadt.example").expect("room");
    assert_eq!(in_room.len(), 1);
    assert!(
        s.mark_sent("!alice-dm:stadt.example", in_room[0].id)
            .expect("mark")
    );
    assert!(s.pending().expect("outbox").is_empty());
    // The migrated store works on: finishing Alice's draft uses the survey secret.
    assert!(s.finish_round(ALICE, "bm", 2, &[]).expect("finish"));
    assert!(s.answers("bm", 2).expect("answers")[0].pseudonym.is_some());
    s.set_bot_state("sync_token", b"x")
        .expect("new table works");
    assert!(s.check().expect("check").is_ok());
    drop(s);
    // Opening again does not migrate (or back up) again.
    Store::open_existing(&path, &pass()).expect("reopen");
    let n = std::fs::read_dir(tmp.path()).expect("ls").count();
    assert_eq!(n, 2, "store + one backup");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path(), &pass()).expect("create"));
    {
        let db = super::super::open_sled(dir.path()).expect("raw");
        db.open_tree(META.name)
            .expect("meta")
            .insert(tables::META_SCHEMA, &9u32.to_be_bytes())
            .expect("write");
        db.flush().expect("flush");
    }
    let err = Store::open(dir.path(), &pass()).expect_err("newer schema");
    assert!(
        matches!(
            err,
            StoreError::UnsupportedSchema {
                found: 9,
                supported: SCHEMA_VERSION
            }
        ),
        "{err}"
    );
}
