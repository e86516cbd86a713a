//! Library side of `pulsebot store check | backup DIR | rekey`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use jiff::Timestamp;

use super::audit::AuditHead;
use super::conversation::ConversationRecord;
use super::tables::{
    AGGREGATES, ALL, ANSWERS, AUDIT, BOT_STATE, CONVERSATIONS, LEDGER, META, META_AUDIT_HEAD,
    META_CIPHER, OUTBOX, ROUNDS, SURVEY_SECRETS, conversation_key, ledger_key, outbox_key,
    round_key, round_prefix,
};
use super::{
    AnswerRecord, LedgerEntry, OutboxMessage, Passphrase, RoundInfo, RoundStatus, SCHEMA_VERSION,
    Store, StoreError, read_schema,
};

/// Result of [`check`]: counts per table, the audit chain, and consistency problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Schema version after opening (migrations run on open).
    pub schema_version: u32,
    /// Values per table; every one of them decrypted and parsed.
    pub counts: BTreeMap<&'static str, u64>,
    /// Audit entries; the hash chain verified from the first entry to the recorded head.
    pub audit_entries: u64,
    /// Cross-table invariants that do not hold (empty when consistent). Never contains ids.
    pub problems: Vec<String>,
    /// States that are legal but unfinished (e.g. a round close interrupted by a crash,
    /// finished by the next `close_round`).
    pub notes: Vec<String>,
}

impl CheckReport {
    /// True when every value decrypted, the audit chain holds and no invariant is violated.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "schema version {}", self.schema_version)?;
        for (table, n) in &self.counts {
            writeln!(f, "{table:<15} {n:>10}")?;
        }
        writeln!(f, "audit chain     intact ({} entries)", self.audit_entries)?;
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        for p in &self.problems {
            writeln!(f, "PROBLEM: {p}")?;
        }
        write!(
            f,
            "{}",
            if self.is_ok() {
                "store OK"
            } else {
                "store has problems"
            }
        )
    }
}

/// `pulsebot store check`: opens the store (running pending migrations), decrypts and parses
/// every value, verifies the audit chain and cross-table invariants.
pub fn check(path: &Path, passphrase: &Passphrase) -> Result<CheckReport, StoreError> {
    Store::open_existing(path, passphrase)?.check()
}

/// `pulsebot store backup DIR`: a consistent copy of the store into `dir` (new or empty)
/// while the bot runs. Writers wait for the copy; values are copied still encrypted, so
/// the backup opens with the same passphrase.
pub fn backup(store: &Store, dir: &Path) -> Result<BTreeMap<&'static str, u64>, StoreError> {
    let _g = store.inner.gate.write().unwrap_or_else(|e| e.into_inner());
    store.inner.db.flush()?;
    copy_db(&store.inner.db, dir)
}

/// Copies every table of `src` into a new sled database at `dir`.
pub(crate) fn copy_db(
    src: &sled::Db,
    dir: &Path,
) -> Result<BTreeMap<&'static str, u64>, StoreError> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(StoreError::BackupTargetNotEmpty(dir.to_owned()));
    }
    let dst = sled::Config::new().path(dir).open()?;
    let mut counts = BTreeMap::new();
    for t in ALL {
        let from = src.open_tree(t.name)?;
        let to = dst.open_tree(t.name)?;
        let mut n = 0u64;
        let mut batch = sled::Batch::default();
        for kv in from.iter() {
            let (k, v) = kv?;
            batch.insert(k, v);
            n += 1;
            if n.is_multiple_of(10_000) {
                to.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        to.apply_batch(batch)?;
        counts.insert(t.name, n);
    }
    dst.flush()?;
    drop(dst);
    owner_only(dir)?;
    Ok(counts)
}

/// A copy of the store is for the service account alone, like the store itself: directories
/// 0700, files 0600 (sled writes them with the process umask, typically world-readable).
fn owner_only(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            owner_only(&entry.path())?;
        } else {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// `pulsebot store rekey`: wraps the data key with a new passphrase. Values are not
/// re-encrypted (the data key stays), so this is fast and cannot lose data; note that the
/// old wrapped key may survive in sled's log until its segment is rewritten.
pub fn rekey(path: &Path, old: &Passphrase, new: &Passphrase) -> Result<(), StoreError> {
    let store = Store::open_existing(path, old)?;
    let wrapped = store.crypt().export(new)?;
    store.write(|tx| {
        tx.tree(META).insert(META_CIPHER, wrapped.clone())?;
        super::audit::append_tx(tx, Timestamp::now(), "cli", "store.rekey", "")?;
        Ok(())
    })?;
    store.flush()
}

impl Store {
    /// The body of [`check`] on an open store.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let c = self.crypt();
        let mut counts = BTreeMap::new();
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        let schema_version = read_schema(self.tree(META))?;
        if schema_version != SCHEMA_VERSION {
            problems.push(format!(
                "schema version {schema_version}, expected {SCHEMA_VERSION}"
            ));
        }
        let _: Option<AuditHead> = self.read(META, META_AUDIT_HEAD)?;

        let mut ledger = BTreeMap::new();
        for (k, e) in self.scan::<LedgerEntry>(LEDGER, b"")? {
            if !e.erased && k.as_ref() != ledger_key(c, &e.user_id) {
                problems.push("ledger entry stored under a key that is not its id's hash".into());
            }
            ledger.insert(k.to_vec(), e);
        }
        counts.insert(LEDGER.name, ledger.len() as u64);

        let mut rounds = BTreeMap::new();
        for (k, r) in self.scan::<RoundInfo>(ROUNDS, b"")? {
            if k.as_ref() != round_key(c, &r.survey_id, r.round) {
                problems.push(format!(
                    "round {} of {} under a wrong key",
                    r.round, r.survey_id
                ));
            }
            rounds.insert(round_prefix(c, &r.survey_id, r.round), (r, 0u64));
        }
        counts.insert(ROUNDS.name, rounds.len() as u64);

        let convs = self.scan::<ConversationRecord>(CONVERSATIONS, b"")?;
        for (k, conv) in &convs {
            if k.as_ref()
                != conversation_key(c, &conv.user_id, &conv.survey_id, conv.round).as_slice()
            {
                problems.push("conversation stored under a wrong key".into());
            }
            match rounds.get(&round_prefix(c, &conv.survey_id, conv.round)) {
                None => problems.push(format!(
                    "conversation in unknown round {} of {}",
                    conv.round, conv.survey_id
                )),
                Some((r, _)) if r.closed_at.is_some() => notes.push(format!(
                    "round {} of {} closed with unmoved drafts: run close_round again",
                    r.round, r.survey_id
                )),
                _ => {}
            }
            let status = ledger
                .get(ledger_key(c, &conv.user_id).as_slice())
                .and_then(|e| e.round(&conv.survey_id, conv.round))
                .map(|r| r.status);
            // Half-applied finish would show as a draft whose ledger round is finished.
            if !matches!(status, Some(RoundStatus::Invited | RoundStatus::Started)) {
                problems.push(format!(
                    "conversation whose ledger round status is {status:?}"
                ));
            }
        }
        counts.insert(CONVERSATIONS.name, convs.len() as u64);

        let mut n_answers = 0u64;
        for kv in self.tree(ANSWERS).iter() {
            let (k, v) = kv?;
            let a: AnswerRecord = c.open_model(ANSWERS.name, &v)?;
            let prefix = round_prefix(c, &a.survey_id, a.round);
            if k.len() != 32 || k[..16] != prefix {
                problems.push("answer stored under a key of another round".into());
            }
            match rounds.get_mut(&prefix) {
                Some((_, n)) => *n += 1,
                None => problems.push(format!(
                    "answer of unknown round {} of {}",
                    a.round, a.survey_id
                )),
            }
            n_answers += 1;
        }
        counts.insert(ANSWERS.name, n_answers);
        for (r, n) in rounds.values() {
            if r.raw_deleted_at.is_none() && r.responses != *n {
                problems.push(format!(
                    "round {} of {}: {} responses recorded, {} in the answer store",
                    r.round, r.survey_id, r.responses, n
                ));
            }
            if r.raw_deleted_at.is_some() && *n != 0 {
                problems.push(format!(
                    "round {} of {}: answers left after retention",
                    r.round, r.survey_id
                ));
            }
        }

        let outbox = self.scan::<OutboxMessage>(OUTBOX, b"")?;
        for (k, m) in &outbox {
            if k.as_ref() != outbox_key(c, &m.message.room_id, m.id) {
                problems.push("outbox message under a wrong key".into());
            }
        }
        counts.insert(OUTBOX.name, outbox.len() as u64);
        counts.insert(
            AGGREGATES.name,
            self.scan::<Vec<u8>>(AGGREGATES, b"")?.len() as u64,
        );
        counts.insert(
            SURVEY_SECRETS.name,
            self.scan::<[u8; 32]>(SURVEY_SECRETS, b"")?.len() as u64,
        );
        counts.insert(
            BOT_STATE.name,
            self.scan::<Vec<u8>>(BOT_STATE, b"")?.len() as u64,
        );
        let audit_entries = self.verify_audit_chain()?;
        counts.insert(AUDIT.name, audit_entries);
        Ok(CheckReport {
            schema_version,
            counts,
            audit_entries,
            problems,
            notes,
        })
    }
}
