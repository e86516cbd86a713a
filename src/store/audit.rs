//! The audit log: append-only, hash-chained. Every admin action, export, retention run and
//! exercised participant right is recorded — without naming the participant. The chain
//! head (next sequence number and last hash) lives encrypted in `meta`, so truncating the
//! log's tail is detected too.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tables::{AUDIT, META, META_AUDIT_HEAD};
use super::{AuditEntry, Store, StoreError, Tx, TxResult};

/// The chain head, stored in `meta`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct AuditHead {
    pub(crate) next_seq: u64,
    pub(crate) last_hash: [u8; 32],
}

super::records::persisted_as_is!(AuditHead);

/// The chained hash of an entry: independent of the storage encoding, so re-encoding
/// migrations keep the chain valid.
pub(crate) fn entry_hash(
    prev: &[u8; 32],
    seq: u64,
    at: &Timestamp,
    actor: &str,
    action: &str,
    detail: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    for part in [at.to_string().as_str(), actor, action, detail] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// Appends an entry inside a running transaction.
pub(crate) fn append_tx(
    tx: &Tx<'_>,
    at: Timestamp,
    actor: &str,
    action: &str,
    detail: &str,
) -> TxResult<u64> {
    let head: AuditHead = tx.get(META, META_AUDIT_HEAD)?.unwrap_or_default();
    let hash = entry_hash(&head.last_hash, head.next_seq, &at, actor, action, detail);
    let entry = AuditEntry {
        seq: head.next_seq,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        detail: detail.to_owned(),
        prev_hash: head.last_hash,
        hash,
    };
    tx.put(AUDIT, &head.next_seq.to_be_bytes(), &entry)?;
    tx.put(
        META,
        META_AUDIT_HEAD,
        &AuditHead {
            next_seq: head.next_seq + 1,
            last_hash: hash,
        },
    )?;
    Ok(head.next_seq)
}

impl Store {
    /// Appends an audit entry (one transaction) and returns its sequence number.
    /// `detail` must not contain answers or participant ids.
    pub fn audit(
        &self,
        at: Timestamp,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<u64, StoreError> {
        self.write(|tx| append_tx(tx, at, actor, action, detail))
    }

    /// All audit entries in order (decrypted).
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .scan::<AuditEntry>(AUDIT, b"")?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// Verifies the hash chain from the first entry to the head; returns the entry count.
    pub fn verify_audit_chain(&self) -> Result<u64, StoreError> {
        let head: AuditHead = self.read(META, META_AUDIT_HEAD)?.unwrap_or_default();
        let mut prev = [0u8; 32];
        let mut expect_seq = 0u64;
        for kv in self.tree(AUDIT).iter() {
            let (k, v) = kv?;
            let broken = |reason: &str| StoreError::AuditChainBroken {
                seq: expect_seq,
                reason: reason.into(),
            };
            let e: AuditEntry = self.crypt().open(AUDIT.name, &v)?;
            if k.as_ref() != expect_seq.to_be_bytes() || e.seq != expect_seq {
                return Err(broken("sequence gap or reordering"));
            }
            if e.prev_hash != prev {
                return Err(broken("previous-hash link does not match"));
            }
            if entry_hash(&prev, e.seq, &e.at, &e.actor, &e.action, &e.detail) != e.hash {
                return Err(broken("entry content does not match its hash"));
            }
            prev = e.hash;
            expect_seq += 1;
        }
        if head.next_seq != expect_seq || head.last_hash != prev {
            return Err(StoreError::AuditChainBroken {
                seq: expect_seq,
                reason: "log ends before the recorded head (entries removed)".into(),
            });
        }
        Ok(expect_seq)
    }
}
