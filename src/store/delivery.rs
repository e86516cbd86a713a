//! Participant operations that change the ledger and queue the messages that go with the
//! change in one transaction, so a crash never leaves a state change without its message
//! (or a message without its state change, which would be sent again on the next attempt).
//! Also the round bookkeeping the scheduler needs: audience, reminders, imports.

use jiff::Timestamp;

use super::audit::append_tx;
use super::conversation::{ConversationRecord, finish_tx};
use super::outbox::queue_tx;
use super::tables::{
    ANSWERS, CONVERSATIONS, LEDGER, ROUNDS, answer_key, ledger_key, round_key, round_prefix,
};
use super::{
    AnswerRecord, CloseReport, ConsentState, ConversationState, LedgerEntry, Mode, Outbound,
    RoundInfo, RoundStatus, Store, StoreError, abort,
};
use crate::lang::Lang;

impl Store {
    /// First contact: if the participant was never asked (no entry, or consent `Unknown`),
    /// records the DM room and language, sets consent `Asked` and queues `outbound` (the
    /// notice and the consent poll). Returns false, changing nothing, otherwise — so the
    /// notice goes out once per participant however often this is called.
    pub fn first_contact(
        &self,
        user_id: &str,
        dm_room: &str,
        lang: Lang,
        outbound: &[Outbound],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let mut entry = tx
                .get::<LedgerEntry>(LEDGER, &k)?
                .unwrap_or_else(|| LedgerEntry::new(user_id));
            if entry.erased || entry.consent != ConsentState::Unknown {
                return Ok(false);
            }
            entry.consent = ConsentState::Asked;
            entry.consent_at = Some(now);
            entry.lang = lang;
            entry.dm_room = Some(dm_room.to_owned());
            tx.put(LEDGER, &k, &entry)?;
            for m in outbound {
                queue_tx(tx, m)?;
            }
            append_tx(tx, now, "bot", "consent.asked", "")?;
            Ok(true)
        })
    }

    /// Changes a participant's entry and queues `outbound` in one transaction; `f` returns
    /// false to change and queue nothing. Erased entries are left alone (returns false).
    pub fn update_and_queue(
        &self,
        user_id: &str,
        f: impl Fn(&mut LedgerEntry) -> bool,
        outbound: &[Outbound],
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let mut entry = tx
                .get::<LedgerEntry>(LEDGER, &k)?
                .unwrap_or_else(|| LedgerEntry::new(user_id));
            if entry.erased || !f(&mut entry) {
                return Ok(false);
            }
            entry.user_id = user_id.to_owned();
            tx.put(LEDGER, &k, &entry)?;
            for m in outbound {
                queue_tx(tx, m)?;
            }
            Ok(true)
        })
    }

    /// Counts a reminder and queues it, if the participant is still in the round (invited
    /// or started) and got fewer than `max` reminders. Returns the new count, or `None` if
    /// nothing was sent.
    pub fn remind(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
        max: u32,
        outbound: &[Outbound],
    ) -> Result<Option<u32>, StoreError> {
        self.write(|tx| {
            let k = ledger_key(tx.crypt, user_id);
            let Some(mut entry) = tx.get::<LedgerEntry>(LEDGER, &k)? else {
                return Ok(None);
            };
            if entry.consent != ConsentState::Yes {
                return Ok(None);
            }
            let Some(rp) = entry.round(survey_id, round) else {
                return Ok(None);
            };
            if !matches!(rp.status, RoundStatus::Invited | RoundStatus::Started)
                || rp.reminders_sent >= max
            {
                return Ok(None);
            }
            let rp = entry.round_mut(survey_id, round);
            rp.reminders_sent += 1;
            let n = rp.reminders_sent;
            tx.put(LEDGER, &k, &entry)?;
            for m in outbound {
                queue_tx(tx, m)?;
            }
            Ok(Some(n))
        })
    }

    /// Records the round's audience size, keeping the largest seen while it ran (people
    /// who joined a pilot room later were asked too).
    pub fn note_audience(
        &self,
        survey_id: &str,
        round: u32,
        audience: u64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let rk = round_key(tx.crypt, survey_id, round);
            let Some(mut info) = tx.get::<RoundInfo>(ROUNDS, &rk)? else {
                return Ok(());
            };
            if info.audience.is_some_and(|a| a >= audience) {
                return Ok(());
            }
            info.audience = Some(audience);
            tx.put(ROUNDS, &rk, &info)
        })
    }

    /// Closes a round like [`Store::close_round`], and for every unfinished conversation
    /// queues what `farewell` returns (poll ends, a thank-you) in the same transaction
    /// that moves its answers — so a crash midway neither loses nor repeats them.
    pub fn close_round_with(
        &self,
        survey_id: &str,
        round: u32,
        now: Timestamp,
        farewell: impl Fn(&str, &ConversationState) -> Vec<Outbound>,
    ) -> Result<CloseReport, StoreError> {
        self.write(|tx| {
            let rk = round_key(tx.crypt, survey_id, round);
            let mut info: RoundInfo = tx.get(ROUNDS, &rk)?.ok_or_else(|| {
                abort(StoreError::UnknownRound {
                    survey_id: survey_id.to_owned(),
                    round,
                })
            })?;
            if info.closed_at.is_none() {
                info.closed_at = Some(now);
                tx.put(ROUNDS, &rk, &info)?;
                append_tx(
                    tx,
                    now,
                    "bot",
                    "round.close",
                    &format!("{survey_id} round {round}"),
                )?;
            }
            Ok(())
        })?;
        let mut report = CloseReport::default();
        let prefix = round_prefix(self.crypt(), survey_id, round);
        for kv in self.tree(CONVERSATIONS).scan_prefix(prefix) {
            let (k, _) = kv?;
            let moved = self.write(|tx| {
                // Re-read inside the transaction: the participant may have finished meanwhile.
                let Some(conv) = tx.get::<ConversationRecord>(CONVERSATIONS, &k)? else {
                    return Ok(None);
                };
                let lk = ledger_key(tx.crypt, &conv.user_id);
                let mut entry = tx.get::<LedgerEntry>(LEDGER, &lk)?;
                let consented = entry
                    .as_ref()
                    .is_some_and(|e| e.consent == ConsentState::Yes && !e.erased);
                if consented {
                    for m in farewell(&conv.user_id, &conv.state) {
                        queue_tx(tx, &m)?;
                    }
                }
                finish_tx(tx, &conv, entry.as_mut(), false).map(Some)
            })?;
            match moved {
                Some(true) => report.partial_moved += 1,
                Some(false) => report.empty_removed += 1,
                None => {}
            }
        }
        Ok(report)
    }

    /// Imports the responses of an earlier survey (e.g. a Webex baseline run elsewhere) as
    /// a new, closed round labelled `label`, all in one transaction: nothing is half
    /// imported. The round number follows the survey's highest; the records' `survey_id`
    /// and `round` are overwritten. A label imported before is refused.
    pub fn import_round(
        &self,
        survey_id: &str,
        label: &str,
        mode: Mode,
        records: &[AnswerRecord],
        now: Timestamp,
        actor: &str,
    ) -> Result<RoundInfo, StoreError> {
        let existing = self.rounds()?;
        if existing
            .iter()
            .any(|r| r.survey_id == survey_id && r.label.as_deref() == Some(label))
        {
            return Err(StoreError::DuplicateImport {
                survey_id: survey_id.to_owned(),
                label: label.to_owned(),
            });
        }
        let round = existing
            .iter()
            .filter(|r| r.survey_id == survey_id)
            .map(|r| r.round)
            .max()
            .unwrap_or(0)
            + 1;
        self.write(|tx| {
            let c = tx.crypt;
            let rk = round_key(c, survey_id, round);
            if tx.get::<RoundInfo>(ROUNDS, &rk)?.is_some() {
                // Another writer took the number meanwhile; the caller may try again.
                return Err(abort(StoreError::Backend(format!(
                    "round {round} of `{survey_id}` appeared during the import; try again"
                ))));
            }
            let info = RoundInfo {
                survey_id: survey_id.to_owned(),
                round,
                mode,
                opened_at: now,
                closed_at: Some(now),
                raw_deleted_at: None,
                responses: records.len() as u64,
                audience: None,
                label: Some(label.to_owned()),
                schedule: None,
            };
            tx.put(ROUNDS, &rk, &info)?;
            for r in records {
                let rec = AnswerRecord {
                    survey_id: survey_id.to_owned(),
                    round,
                    ..r.clone()
                };
                tx.put(ANSWERS, &answer_key(c, survey_id, round), &rec)?;
            }
            append_tx(
                tx,
                now,
                actor,
                "round.import",
                &format!(
                    "{survey_id} round {round} `{label}`: {} responses",
                    records.len()
                ),
            )?;
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(info)
        })
    }
}
