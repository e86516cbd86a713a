//! The participation ledger: who was invited, consented, finished, got reminders, their DM
//! room and language — what delivery needs, and nothing about answers. Keyed by a keyed
//! hash of the Matrix id.

use jiff::Timestamp;

use super::audit::append_tx;
use super::tables::{LEDGER, ledger_key};
use super::{ConsentState, LedgerEntry, Store, StoreError};

impl Store {
    /// The ledger entry of a participant, if any.
    pub fn participant(&self, user_id: &str) -> Result<Option<LedgerEntry>, StoreError> {
        self.read(LEDGER, &ledger_key(self.crypt(), user_id))
    }

    /// Every ledger entry (for reminders and status). Erased entries are included (they
    /// carry no Matrix id) so callers can count opt-outs.
    pub fn participants(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self
            .scan::<LedgerEntry>(LEDGER, b"")?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// Creates or changes a participant's entry in one transaction (`f` may run more than
    /// once). Erased entries are not revived: `f` is not called and `None` is returned.
    pub fn update_participant(
        &self,
        user_id: &str,
        f: impl Fn(&mut LedgerEntry),
    ) -> Result<Option<LedgerEntry>, StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let mut entry = tx
                .get::<LedgerEntry>(LEDGER, &k)?
                .unwrap_or_else(|| LedgerEntry::new(user_id));
            if entry.erased {
                return Ok(None);
            }
            f(&mut entry);
            entry.user_id = user_id.to_owned();
            tx.put(LEDGER, &k, &entry)?;
            Ok(Some(entry))
        })
    }

    /// Sets the consent state (creating the entry if needed) and audits the change without
    /// naming the participant. `Yes` after an erasure is refused (returns false): opting in
    /// again after "delete" goes through [`Store::opt_in_again`].
    pub fn set_consent(
        &self,
        user_id: &str,
        state: ConsentState,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let mut entry = tx
                .get::<LedgerEntry>(LEDGER, &k)?
                .unwrap_or_else(|| LedgerEntry::new(user_id));
            if entry.erased {
                return Ok(false);
            }
            entry.consent = state;
            entry.consent_at = Some(now);
            tx.put(LEDGER, &k, &entry)?;
            append_tx(tx, now, "participant", "consent", &format!("{state:?}"))?;
            Ok(true)
        })
    }

    /// An erased or opted-out participant says `start`: a fresh entry with consent `Yes`.
    pub fn opt_in_again(
        &self,
        user_id: &str,
        dm_room: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let mut entry = match tx.get::<LedgerEntry>(LEDGER, &k)? {
                Some(e) if !e.erased => e,
                _ => LedgerEntry::new(user_id),
            };
            entry.consent = ConsentState::Yes;
            entry.consent_at = Some(now);
            if let Some(room) = dm_room {
                entry.dm_room = Some(room.to_owned());
            }
            tx.put(LEDGER, &k, &entry)?;
            append_tx(tx, now, "participant", "consent", "Yes (opt-in again)")?;
            Ok(())
        })
    }

    /// Counts one reminder sent in a round. Returns the new count (0 if no entry/round).
    pub fn record_reminder(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
    ) -> Result<u32, StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let Some(mut entry) = tx.get::<LedgerEntry>(LEDGER, &k)? else {
                return Ok(0);
            };
            if entry.round(survey_id, round).is_none() {
                return Ok(0);
            }
            let rp = entry.round_mut(survey_id, round);
            rp.reminders_sent += 1;
            let n = rp.reminders_sent;
            tx.put(LEDGER, &k, &entry)?;
            Ok(n)
        })
    }
}
