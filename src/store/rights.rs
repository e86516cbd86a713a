//! Participant rights: "my data" (everything still linked to the participant, readable),
//! "delete" (erase it and opt out), and "stop" (opt out at once).
//!
//! What can be found is exactly what is linked: the ledger entry, drafts of running rounds,
//! pending messages, and — in pseudonymous surveys — responses under the participant's
//! pseudonym (recomputable from the Matrix id and the survey secret). Anonymous responses
//! already in the answer store carry nothing that points back to anyone, so they are
//! explained, not searched for.

use jiff::Timestamp;

use super::audit::append_tx;
use super::cipher::pseudonym;
use super::conversation::ConversationRecord;
use super::outbox::queue_tx;
use super::tables::{
    ANSWERS, CONVERSATIONS, LEDGER, OUTBOX, ROUNDS, SURVEY_SECRETS, conversation_key, ledger_key,
    outbox_key, round_key, round_prefix, survey_key,
};
use super::{
    AnswerRecord, ConsentState, LedgerEntry, Mode, Outbound, RoundInfo, RoundStatus, Store,
    StoreError,
};

/// Everything the store can still link to one participant; the core says it in words
/// (`conversation::my_data_reply`).
pub use pulsebot_core::conversation::route::MyData;

impl Store {
    /// Pseudonymous responses of `entry`'s participant: (answer key, record).
    fn pseudonymous_responses(
        &self,
        entry: &LedgerEntry,
    ) -> Result<Vec<(sled::IVec, AnswerRecord)>, StoreError> {
        let mut out = Vec::new();
        for r in &entry.rounds {
            let Some(info) = self.round_info(&r.survey_id, r.round)? else {
                continue;
            };
            if info.mode != Mode::Pseudonymous {
                continue;
            }
            let Some(secret) =
                self.read::<[u8; 32]>(SURVEY_SECRETS, &survey_key(self.crypt(), &r.survey_id))?
            else {
                continue;
            };
            let mine = pseudonym(&secret, &entry.user_id);
            let prefix = round_prefix(self.crypt(), &r.survey_id, r.round);
            for (k, rec) in self.scan::<AnswerRecord>(ANSWERS, &prefix)? {
                if rec.pseudonym.as_deref() == Some(mine.as_str()) {
                    out.push((k, rec));
                }
            }
        }
        Ok(out)
    }

    /// "My data": everything still linked to `user_id`. Audited without naming anyone.
    pub fn my_data(&self, user_id: &str, now: Timestamp) -> Result<MyData, StoreError> {
        let entry = self.participant(user_id)?;
        let erased = entry.as_ref().is_some_and(|e| e.erased);
        let ledger = entry.filter(|e| !e.erased);
        let mut drafts = Vec::new();
        let mut pseudonymous_responses = Vec::new();
        let mut pending_messages = 0;
        if let Some(e) = &ledger {
            for r in &e.rounds {
                if let Some(st) = self.conversation(user_id, &r.survey_id, r.round)? {
                    drafts.push((r.survey_id.clone(), r.round, st));
                }
            }
            pseudonymous_responses = self
                .pseudonymous_responses(e)?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            if let Some(room) = &e.dm_room {
                pending_messages = self.pending_for_room(room)?.len();
            }
        }
        self.audit(now, "participant", "rights.export", "")?;
        Ok(MyData {
            ledger,
            erased,
            drafts,
            pseudonymous_responses,
            pending_messages,
        })
    }

    /// "stop": consent becomes `No`, running rounds `OptedOut`, drafts discarded, pending
    /// messages to the DM room dropped, `confirmation` queued — one transaction.
    pub fn opt_out(
        &self,
        user_id: &str,
        now: Timestamp,
        confirmation: &[Outbound],
    ) -> Result<(), StoreError> {
        self.withdraw(user_id, now, confirmation, false)
    }

    /// "delete": as [`Store::opt_out`], and additionally pseudonymous responses are deleted
    /// and the ledger entry is reduced to an erased marker (no Matrix id, no room, no
    /// rounds) that keeps "never contact again". One transaction.
    pub fn erase_participant(
        &self,
        user_id: &str,
        now: Timestamp,
        confirmation: &[Outbound],
    ) -> Result<(), StoreError> {
        self.withdraw(user_id, now, confirmation, true)
    }

    fn withdraw(
        &self,
        user_id: &str,
        now: Timestamp,
        confirmation: &[Outbound],
        erase: bool,
    ) -> Result<(), StoreError> {
        let entry = self
            .participant(user_id)?
            .unwrap_or_else(|| LedgerEntry::new(user_id));
        let pending = match &entry.dm_room {
            Some(room) => self.pending_for_room(room)?,
            None => Vec::new(),
        };
        let pseudo = if erase && !entry.erased {
            self.pseudonymous_responses(&entry)?
        } else {
            Vec::new()
        };
        self.write(|tx| {
            let c = tx.crypt;
            let lk = ledger_key(c, user_id);
            let mut e = tx
                .get::<LedgerEntry>(LEDGER, &lk)?
                .unwrap_or_else(|| LedgerEntry::new(user_id));
            let mut drafts = 0u32;
            for r in &e.rounds {
                let ck = conversation_key(c, user_id, &r.survey_id, r.round);
                if tx.get::<ConversationRecord>(CONVERSATIONS, &ck)?.is_some() {
                    tx.del(CONVERSATIONS, &ck)?;
                    drafts += 1;
                }
            }
            if let Some(room) = &entry.dm_room {
                for id in &pending {
                    tx.del(OUTBOX, &outbox_key(c, room, *id))?;
                }
            }
            let mut removed = 0u32;
            for (k, rec) in &pseudo {
                if tx.del(ANSWERS, k)? {
                    removed += 1;
                    let rk = round_key(c, &rec.survey_id, rec.round);
                    if let Some(mut info) = tx.get::<RoundInfo>(ROUNDS, &rk)? {
                        info.responses = info.responses.saturating_sub(1);
                        tx.put(ROUNDS, &rk, &info)?;
                    }
                }
            }
            if erase {
                e = LedgerEntry::new("");
                e.erased = true;
            } else {
                for r in &mut e.rounds {
                    if matches!(r.status, RoundStatus::Invited | RoundStatus::Started) {
                        r.status = RoundStatus::OptedOut;
                    }
                }
            }
            e.consent = ConsentState::No;
            e.consent_at = Some(now);
            tx.put(LEDGER, &lk, &e)?;
            for m in confirmation {
                queue_tx(tx, m)?;
            }
            let (action, detail) = if erase {
                (
                    "rights.erase",
                    format!("drafts {drafts}, pseudonymous responses {removed}"),
                )
            } else {
                ("rights.opt_out", format!("drafts {drafts}"))
            };
            append_tx(tx, now, "participant", action, &detail)?;
            Ok(())
        })
    }
}
