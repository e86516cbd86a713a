//! The store's own types: outbox entries and audit-log entries. Unlike the domain model
//! (`pulsebot_core::model`, persisted through `records.rs`) these exist only in the store.
//! Field order is part of the on-disk format (postcard is positional): add fields only
//! together with a schema migration.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use pulsebot_core::model::Outbound;

use super::records::{OutboundRec, Persisted};

/// Delivery state of an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxState {
    /// Recorded, not yet confirmed sent: resend with the same transaction id.
    Pending,
    /// The homeserver accepted it.
    Sent,
}

/// A queued outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Position in the queue (send in ascending order).
    pub id: u64,
    /// The Matrix transaction id, recorded before the first send attempt so a resend
    /// after a crash is deduplicated by the homeserver.
    pub txn_id: String,
    /// Pending or sent.
    pub state: OutboxState,
    /// The message.
    pub message: Outbound,
}

/// [`OutboxMessage`] on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OutboxRec {
    id: u64,
    txn_id: String,
    state: OutboxState,
    message: OutboundRec,
}

impl Persisted for OutboxMessage {
    type Record = OutboxRec;
    fn to_record(&self) -> OutboxRec {
        OutboxRec {
            id: self.id,
            txn_id: self.txn_id.clone(),
            state: self.state,
            message: (&self.message).into(),
        }
    }
    fn from_record(r: OutboxRec) -> Self {
        OutboxMessage {
            id: r.id,
            txn_id: r.txn_id,
            state: r.state,
            message: r.message.into(),
        }
    }
}

/// One audit-log entry. `hash` = SHA-256 over the previous entry's hash and this entry's
/// fields, so changing, removing or inserting an entry breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number, from 0, without gaps.
    pub seq: u64,
    /// When.
    pub at: Timestamp,
    /// Who: an admin's Matrix id, `cli`, `bot`, or `participant` (never which participant).
    pub actor: String,
    /// What, e.g. `round.close`, `export`, `retention.delete`.
    pub action: String,
    /// Details (never answers or participant ids).
    pub detail: String,
    /// Hash of the previous entry (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

super::records::persisted_as_is!(AuditEntry);
