//! Outbound messages. A message is recorded with its Matrix transaction id before it is
//! sent (in the same transaction as whatever caused it), so after a crash it is resent
//! with the same transaction id and the homeserver deduplicates: at most once delivered.

use super::tables::{OUTBOX, outbox_key, outbox_prefix};
use super::{Outbound, OutboxMessage, OutboxState, Store, StoreError, Tx, TxResult};

/// Queues a message inside a running transaction; returns its outbox id.
pub(crate) fn queue_tx(tx: &Tx<'_>, message: &Outbound) -> TxResult<u64> {
    // generate_id is monotonic across restarts (sled persists the counter ahead of use),
    // so the big-endian id orders the queue.
    let id = tx.tree(OUTBOX).generate_id()?;
    let txn_id = message
        .txn_id
        .clone()
        .unwrap_or_else(|| format!("pb{}", hex::encode(rand::random::<[u8; 12]>())));
    let msg = OutboxMessage {
        id,
        txn_id,
        state: OutboxState::Pending,
        message: message.clone(),
    };
    tx.put(OUTBOX, &outbox_key(tx.crypt, &message.room_id, id), &msg)?;
    Ok(id)
}

impl Store {
    /// Queues messages in one transaction; returns their ids.
    pub fn queue(&self, messages: &[Outbound]) -> Result<Vec<u64>, StoreError> {
        self.write(|tx| messages.iter().map(|m| queue_tx(tx, m)).collect())
    }

    /// Messages not yet confirmed sent, in queue order.
    pub fn pending(&self) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut out: Vec<OutboxMessage> = self
            .scan::<OutboxMessage>(OUTBOX, b"")?
            .into_iter()
            .map(|(_, m)| m)
            .filter(|m| m.state == OutboxState::Pending)
            .collect();
        // Keys group the queue by room; ids are the global queue order.
        out.sort_unstable_by_key(|m| m.id);
        Ok(out)
    }

    /// Marks message `id` to `room_id` sent. Its content is dropped (no longer needed, and
    /// it may quote the participant's answer); the entry stays until [`Store::prune_sent`].
    pub fn mark_sent(&self, room_id: &str, id: u64) -> Result<bool, StoreError> {
        // Not fsynced: if a crash loses it, the message is sent again with the same
        // transaction id and the homeserver returns the first event.
        self.write_relaxed(|tx| {
            let key = outbox_key(tx.crypt, room_id, id);
            let Some(mut m) = tx.get::<OutboxMessage>(OUTBOX, &key)? else {
                return Ok(false);
            };
            m.state = OutboxState::Sent;
            m.message.content.clear();
            m.message.context = None;
            tx.put(OUTBOX, &key, &m)?;
            Ok(true)
        })
    }

    /// Deletes sent messages; returns how many.
    pub fn prune_sent(&self) -> Result<u64, StoreError> {
        let sent: Vec<sled::IVec> = self
            .scan::<OutboxMessage>(OUTBOX, b"")?
            .into_iter()
            .filter(|(_, m)| m.state == OutboxState::Sent)
            .map(|(k, _)| k)
            .collect();
        self.write(|tx| {
            for k in &sent {
                tx.del(OUTBOX, k)?;
            }
            Ok(sent.len() as u64)
        })
    }

    /// Messages to `room_id` not yet confirmed sent, in queue order. Only the room's key
    /// range is read.
    pub fn pending_in_room(&self, room_id: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .scan::<OutboxMessage>(OUTBOX, &outbox_prefix(self.crypt(), room_id))?
            .into_iter()
            .map(|(_, m)| m)
            .filter(|m| m.state == OutboxState::Pending)
            .collect())
    }

    /// Ids of pending messages to `room_id` (used when a participant opts out).
    pub(crate) fn pending_for_room(&self, room_id: &str) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .pending_in_room(room_id)?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }
}
