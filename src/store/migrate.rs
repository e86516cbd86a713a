//! Schema versions and ordered migrations. Each migration runs after a full backup of the
//! store next to it (`<store>.backup-schema<N>-<unix time>`), because migrations rewrite
//! values in place.
//!
//! History:
//! - **1**: the first layout. Values written with `StoreCipher::encrypt_value` (a JSON
//!   envelope around JSON plaintext); no `aggregates` and `bot_state` tables.
//! - **2**: values in the compact envelope `[0x02] ‖ postcard(EncryptedValue)` around
//!   postcard plaintext (about a third of the size, several times faster to scan);
//!   `aggregates` and `bot_state` added (created empty).
//! - **3**: `RoundInfo` gains `audience` and `label` (appended; `None` for older rounds).
//! - **4**: outbox keys become room prefix ‖ queue position (were the position alone), so
//!   a room's sender reads only its room's range.
//! - **5**: `RoundInfo` gains `schedule` (due time, close time, reminders used; appended),
//!   taken from the scheduler's history, which was a JSON blob in `bot_state` under
//!   `schedule/<survey>` outside this chain; the blobs are deleted. The store is now the one
//!   record of a survey's rounds. A round the history knew but the store did not (a crash
//!   between the two writes) is not carried over: the scheduler opens it again when due.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::admin::copy_db;
use super::audit::AuditHead;
use super::cipher::{Crypt, ENVELOPE_V2};
use super::conversation::ConversationRecord;
use super::records::{ModeRec, Persisted, RoundRec, RoundScheduleRec};
use super::tables::{
    ANSWERS, AUDIT, BOT_STATE, CONVERSATIONS, LEDGER, META, META_AUDIT_HEAD, META_SCHEMA, OUTBOX,
    OUTBOX_KEY_LEN, ROUNDS, SURVEY_SECRETS, Table, bot_state_key, outbox_key,
};
use super::{
    AnswerRecord, AuditEntry, LedgerEntry, OutboxMessage, RoundInfo, SCHEMA_VERSION, StoreError,
};

/// Backs the store up, then runs every migration from `from` up to [`SCHEMA_VERSION`],
/// bumping the stored version after each step.
pub(crate) fn run(db: &sled::Db, path: &Path, crypt: &Crypt, from: u32) -> Result<(), StoreError> {
    let stamp = jiff::Timestamp::now().as_second();
    let name = format!(
        "{}.backup-schema{from}-{stamp}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into())
    );
    let backup: PathBuf = path.with_file_name(name);
    db.flush()?;
    copy_db(db, &backup)?;
    let meta = db.open_tree(META.name)?;
    for version in from..SCHEMA_VERSION {
        let step = match version {
            1 => v1_to_v2(db, crypt),
            2 => v2_to_v3(db, crypt),
            3 => v3_to_v4(db, crypt),
            4 => v4_to_v5(db, crypt),
            other => Err(StoreError::Backend(format!(
                "no migration from schema {other}"
            ))),
        };
        step.map_err(|e| StoreError::Migration {
            from: version,
            reason: e.to_string(),
            backup: backup.clone(),
        })?;
        meta.insert(META_SCHEMA, &(version + 1).to_be_bytes())?;
        db.flush()?;
    }
    Ok(())
}

/// A schema-1 value re-encoded: the persisted record of `T` (schema 1 wrote the same fields
/// as JSON), sealed in the v2 envelope.
fn reencode<T: Persisted>(crypt: &Crypt, t: Table, raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let v: T::Record = crypt.open_v1(t.name, raw)?;
    crypt.seal(&v)
}

/// Re-encodes every value. Values already in the v2 envelope are skipped, so a migration
/// interrupted by a crash simply runs again (the version is bumped only at the end).
fn v1_to_v2(db: &sled::Db, crypt: &Crypt) -> Result<(), StoreError> {
    type Conv = fn(&Crypt, Table, &[u8]) -> Result<Vec<u8>, StoreError>;
    let plan: [(Table, Conv); 8] = [
        (LEDGER, reencode::<LedgerEntry>),
        (CONVERSATIONS, reencode::<ConversationRecord>),
        (ANSWERS, reencode::<AnswerRecord>),
        (ROUNDS, reencode::<RoundInfo>),
        (OUTBOX, reencode::<OutboxMessage>),
        (AUDIT, reencode::<AuditEntry>),
        (SURVEY_SECRETS, reencode::<[u8; 32]>),
        (META, |c, t, raw| reencode::<AuditHead>(c, t, raw)),
    ];
    for (t, conv) in plan {
        let tree = db.open_tree(t.name)?;
        let mut batch = sled::Batch::default();
        for kv in tree.iter() {
            let (k, v) = kv?;
            // In meta only the audit head is an encrypted value.
            if t == META && k.as_ref() != META_AUDIT_HEAD {
                continue;
            }
            if v.first() == Some(&ENVELOPE_V2) {
                continue;
            }
            batch.insert(k, conv(crypt, t, &v)?);
        }
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    Ok(())
}

/// `RoundInfo` as schema 2 stored it.
#[derive(serde::Deserialize)]
struct RoundInfoV2 {
    survey_id: String,
    round: u32,
    mode: ModeRec,
    opened_at: jiff::Timestamp,
    closed_at: Option<jiff::Timestamp>,
    raw_deleted_at: Option<jiff::Timestamp>,
    responses: u64,
}

/// `RoundInfo` as schemas 3 and 4 stored it.
#[derive(serde::Serialize, serde::Deserialize)]
struct RoundInfoV4 {
    survey_id: String,
    round: u32,
    mode: ModeRec,
    opened_at: jiff::Timestamp,
    closed_at: Option<jiff::Timestamp>,
    raw_deleted_at: Option<jiff::Timestamp>,
    responses: u64,
    audience: Option<u64>,
    label: Option<String>,
}

/// Appends the new `RoundInfo` fields. A value that already decodes in a newer layout is
/// left alone (postcard fails on the missing trailing fields of an old one), so an
/// interrupted run simply runs again; the v1→v2 step already writes the newest layout.
fn v2_to_v3(db: &sled::Db, crypt: &Crypt) -> Result<(), StoreError> {
    let tree = db.open_tree(ROUNDS.name)?;
    let mut batch = sled::Batch::default();
    for kv in tree.iter() {
        let (k, v) = kv?;
        if crypt.open::<RoundInfoV4>(ROUNDS.name, &v).is_ok()
            || crypt.open_model::<RoundInfo>(ROUNDS.name, &v).is_ok()
        {
            continue;
        }
        let old: RoundInfoV2 = crypt.open(ROUNDS.name, &v)?;
        let new = RoundInfoV4 {
            survey_id: old.survey_id,
            round: old.round,
            mode: old.mode,
            opened_at: old.opened_at,
            closed_at: old.closed_at,
            raw_deleted_at: old.raw_deleted_at,
            responses: old.responses,
            audience: None,
            label: None,
        };
        batch.insert(k, crypt.seal(&new)?);
    }
    tree.apply_batch(batch)?;
    db.flush()?;
    Ok(())
}

/// Re-keys outbox entries under their room's prefix, in one batch. Keys already in the
/// new layout are left alone, so an interrupted run simply runs again.
fn v3_to_v4(db: &sled::Db, crypt: &Crypt) -> Result<(), StoreError> {
    let tree = db.open_tree(OUTBOX.name)?;
    let mut batch = sled::Batch::default();
    for kv in tree.iter() {
        let (k, v) = kv?;
        if k.len() == OUTBOX_KEY_LEN {
            continue;
        }
        let m: OutboxMessage = crypt.open_model(OUTBOX.name, &v)?;
        batch.remove(k);
        batch.insert(&outbox_key(crypt, &m.message.room_id, m.id)[..], v);
    }
    tree.apply_batch(batch)?;
    db.flush()?;
    Ok(())
}

/// One round in the scheduler's history blob (schema 4 and before).
#[derive(serde::Deserialize)]
struct HistoryRoundV4 {
    number: u32,
    slot: jiff::Timestamp,
    closes_at: jiff::Timestamp,
    reminders_done: u8,
}

/// The scheduler's history blob of one survey (schema 4 and before; JSON in `bot_state`).
#[derive(serde::Deserialize)]
struct HistoryV4 {
    rounds: Vec<HistoryRoundV4>,
}

/// Moves each round's schedule from the survey's history blob into its `RoundInfo`, then
/// deletes the blobs. Rounds already in the new layout are read as they are, so an
/// interrupted run simply runs again (the blobs go only after every round is written).
fn v4_to_v5(db: &sled::Db, crypt: &Crypt) -> Result<(), StoreError> {
    let rounds = db.open_tree(ROUNDS.name)?;
    let state = db.open_tree(BOT_STATE.name)?;
    let mut histories: BTreeMap<String, Option<HistoryV4>> = BTreeMap::new();
    let mut batch = sled::Batch::default();
    for kv in rounds.iter() {
        let (k, v) = kv?;
        let mut rec = match crypt.open::<RoundRec>(ROUNDS.name, &v) {
            Ok(rec) => rec,
            Err(_) => {
                // Schema 5 appends one `Option` (postcard is positional and writes `None` as
                // one zero byte): a schema-4 value plus that byte is the round in the new
                // layout.
                let mut plain = crypt.open_bytes(ROUNDS.name, &v)?;
                plain.push(0);
                postcard::from_bytes::<RoundRec>(&plain).map_err(|e| StoreError::Corrupt {
                    table: ROUNDS.name,
                    reason: format!("schema-4 round does not parse: {e}"),
                })?
            }
        };
        if rec.schedule.is_none() && rec.label.is_none() {
            if !histories.contains_key(&rec.survey_id) {
                let key = bot_state_key(crypt, &format!("schedule/{}", rec.survey_id));
                let history = match state.get(key)? {
                    Some(raw) => {
                        let bytes: Vec<u8> = crypt.open(BOT_STATE.name, &raw)?;
                        serde_json::from_slice::<HistoryV4>(&bytes).ok()
                    }
                    None => None,
                };
                histories.insert(rec.survey_id.clone(), history);
            }
            let found = histories
                .get(&rec.survey_id)
                .and_then(|h| h.as_ref())
                .and_then(|h| h.rounds.iter().find(|r| r.number == rec.round));
            rec.schedule = found.map(|r| RoundScheduleRec {
                slot: r.slot,
                closes_at: r.closes_at,
                reminders_done: r.reminders_done,
            });
        }
        batch.insert(k, crypt.seal(&rec)?);
    }
    rounds.apply_batch(batch)?;
    db.flush()?;
    for survey in histories.keys() {
        state.remove(bot_state_key(crypt, &format!("schedule/{survey}")))?;
    }
    db.flush()?;
    Ok(())
}
