//! Rounds and the conversation state of running rounds: recording one answer and finishing
//! a participant's round, each as one transaction.
//!
//! Privacy invariant: answers are stored next to an identity only here, in the conversation
//! state, and only while the round runs for that participant. Finishing (or the round
//! closing) moves them to the answer store and deletes the conversation state in the same
//! transaction, so no moment exists on disk where both the linked draft and the unlinked
//! response are visible, or neither.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::append_tx;
use super::cipher::pseudonym;
use super::outbox::queue_tx;
use super::records::Persisted;
use super::tables::{
    ANSWERS, CONVERSATIONS, LEDGER, ROUNDS, SURVEY_SECRETS, answer_key, conversation_key,
    ledger_key, round_key, survey_key,
};
use super::{
    AnswerRecord, AnswerUpdate, ConsentState, ConversationState, LedgerEntry, Mode, Outbound,
    RoundInfo, RoundSchedule, RoundStatus, Store, StoreError, Tx, TxResult, abort,
};

/// The conversation state as stored: the state plus whose it is (needed when the round
/// closes and the drafts are moved without the participant being present).
#[derive(Debug, Clone)]
pub(crate) struct ConversationRecord {
    pub(crate) user_id: String,
    pub(crate) survey_id: String,
    pub(crate) round: u32,
    pub(crate) state: ConversationState,
}

/// [`ConversationRecord`] on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConversationRec {
    user_id: String,
    survey_id: String,
    round: u32,
    state: <ConversationState as Persisted>::Record,
}

impl Persisted for ConversationRecord {
    type Record = ConversationRec;
    fn to_record(&self) -> ConversationRec {
        ConversationRec {
            user_id: self.user_id.clone(),
            survey_id: self.survey_id.clone(),
            round: self.round,
            state: self.state.to_record(),
        }
    }
    fn from_record(r: ConversationRec) -> Self {
        ConversationRecord {
            user_id: r.user_id,
            survey_id: r.survey_id,
            round: r.round,
            state: ConversationState::from_record(r.state),
        }
    }
}

/// Result of [`Store::record_answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored (see [`Store::record_answer`] on when it is on disk).
    Recorded {
        /// Outbox ids of the queued messages.
        queued: Vec<u64>,
        /// Whether the round was finished and the answers moved.
        finished: bool,
    },
    /// This event id was already counted: nothing changed.
    AlreadyCounted,
    /// The participant already finished this round (the answers are unlinked, so the store
    /// can no longer tell whether this exact event was counted): nothing changed.
    RoundFinished,
    /// The round is closed: late answers are not counted.
    RoundClosed,
    /// The participant has not consented (or opted out / erased): nothing is stored.
    NotConsented,
}

/// Result of [`Store::close_round`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseReport {
    /// Unfinished conversations whose answers were moved as partial responses.
    pub partial_moved: u64,
    /// Unfinished conversations without any answer (removed, nothing moved).
    pub empty_removed: u64,
}

fn round_info_tx(tx: &Tx<'_>, survey_id: &str, round: u32) -> TxResult<RoundInfo> {
    let rk = round_key(tx.crypt, survey_id, round);
    tx.get::<RoundInfo>(ROUNDS, &rk)?.ok_or_else(|| {
        abort(StoreError::UnknownRound {
            survey_id: survey_id.to_owned(),
            round,
        })
    })
}

/// Moves a conversation's answers into the answer store and deletes the conversation, in
/// the caller's transaction. Returns whether a response was written.
pub(crate) fn finish_tx(
    tx: &Tx<'_>,
    conv: &ConversationRecord,
    ledger: Option<&mut LedgerEntry>,
    complete: bool,
) -> TxResult<bool> {
    let c = tx.crypt;
    let rk = round_key(c, &conv.survey_id, conv.round);
    let mut info: RoundInfo = round_info_tx(tx, &conv.survey_id, conv.round)?;
    let wrote = !conv.state.answers.is_empty();
    if wrote {
        let pseudonym = match info.mode {
            Mode::Anonymous => None,
            Mode::Pseudonymous => {
                let secret: [u8; 32] = tx
                    .get(SURVEY_SECRETS, &survey_key(c, &conv.survey_id))?
                    .ok_or_else(|| {
                        abort(StoreError::Corrupt {
                            table: SURVEY_SECRETS.name,
                            reason: "pseudonymous round without survey secret".into(),
                        })
                    })?;
                Some(pseudonym(&secret, &conv.user_id))
            }
        };
        let record = AnswerRecord {
            survey_id: conv.survey_id.clone(),
            round: conv.round,
            complete,
            answers: conv.state.answers.clone(),
            pseudonym,
        };
        // Random key: the key order of the answer store says nothing about who finished when.
        tx.put(
            ANSWERS,
            &answer_key(c, &conv.survey_id, conv.round),
            &record,
        )?;
        info.responses += 1;
        tx.put(ROUNDS, &rk, &info)?;
    }
    tx.del(
        CONVERSATIONS,
        &conversation_key(c, &conv.user_id, &conv.survey_id, conv.round),
    )?;
    // A participant who never answered stays `Invited` when the round closes.
    if let Some(entry) = ledger.filter(|_| complete || wrote) {
        let rp = entry.round_mut(&conv.survey_id, conv.round);
        rp.status = if complete {
            RoundStatus::Finished
        } else {
            RoundStatus::Partial
        };
        tx.put(LEDGER, &ledger_key(c, &conv.user_id), entry)?;
    }
    Ok(wrote)
}

impl Store {
    /// Registers a round as open without a schedule (idempotent: reopening an open round
    /// changes nothing). In pseudonymous mode a random per-survey secret is created on first
    /// use.
    pub fn open_round(
        &self,
        survey_id: &str,
        round: u32,
        mode: Mode,
        now: Timestamp,
    ) -> Result<RoundInfo, StoreError> {
        self.open_round_scheduled(survey_id, round, mode, now, None)
    }

    /// [`Store::open_round`] for a round the scheduler opens: its schedule (due time, close
    /// time, reminders used) is written in the same transaction, so the store is the one
    /// record of the survey's rounds.
    pub fn open_round_scheduled(
        &self,
        survey_id: &str,
        round: u32,
        mode: Mode,
        now: Timestamp,
        schedule: Option<RoundSchedule>,
    ) -> Result<RoundInfo, StoreError> {
        self.write(|tx| {
            let c = tx.crypt;
            let rk = round_key(c, survey_id, round);
            if let Some(info) = tx.get::<RoundInfo>(ROUNDS, &rk)? {
                return Ok(info);
            }
            if mode == Mode::Pseudonymous {
                let sk = survey_key(c, survey_id);
                if tx.get::<[u8; 32]>(SURVEY_SECRETS, &sk)?.is_none() {
                    tx.put(SURVEY_SECRETS, &sk, &rand::random::<[u8; 32]>())?;
                }
            }
            let info = RoundInfo {
                survey_id: survey_id.to_owned(),
                round,
                mode,
                opened_at: now,
                closed_at: None,
                raw_deleted_at: None,
                responses: 0,
                audience: None,
                label: None,
                schedule,
            };
            tx.put(ROUNDS, &rk, &info)?;
            append_tx(
                tx,
                now,
                "bot",
                "round.open",
                &format!("{survey_id} round {round} ({mode:?})"),
            )?;
            Ok(info)
        })
    }

    /// Records that the reminders of an open round up to `done` (a count of reminder offsets)
    /// are used up, before they are sent: a crash then skips a reminder rather than sending it
    /// twice. Never lowers the count; a round without a schedule is left alone.
    pub fn note_reminders(&self, survey_id: &str, round: u32, done: u8) -> Result<(), StoreError> {
        self.write(|tx| {
            let rk = round_key(tx.crypt, survey_id, round);
            let Some(mut info) = tx.get::<RoundInfo>(ROUNDS, &rk)? else {
                return Ok(());
            };
            if let Some(s) = info.schedule.as_mut()
                && s.reminders_done < done
            {
                s.reminders_done = done;
                tx.put(ROUNDS, &rk, &info)?;
            }
            Ok(())
        })
    }

    /// The round's record, if it was opened.
    pub fn round_info(&self, survey_id: &str, round: u32) -> Result<Option<RoundInfo>, StoreError> {
        self.read(ROUNDS, &round_key(self.crypt(), survey_id, round))
    }

    /// Every round the store knows.
    pub fn rounds(&self) -> Result<Vec<RoundInfo>, StoreError> {
        Ok(self
            .scan::<RoundInfo>(ROUNDS, b"")?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Starts a round for a consented participant: creates the (empty) conversation state,
    /// marks the ledger round `Invited` and queues the first messages, in one transaction.
    /// Returns the queued outbox ids, or `None` if the participant has not consented, the
    /// round is closed, or the participant already has this round.
    pub fn start_round(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
        outbound: &[Outbound],
    ) -> Result<Option<Vec<u64>>, StoreError> {
        self.write(|tx| {
            let c = tx.crypt;
            let info = round_info_tx(tx, survey_id, round)?;
            if info.closed_at.is_some() {
                return Ok(None);
            }
            let lk = ledger_key(c, user_id);
            let Some(mut entry) = tx.get::<LedgerEntry>(LEDGER, &lk)? else {
                return Ok(None);
            };
            if entry.consent != ConsentState::Yes || entry.round(survey_id, round).is_some() {
                return Ok(None);
            }
            entry.round_mut(survey_id, round);
            tx.put(LEDGER, &lk, &entry)?;
            let rec = ConversationRecord {
                user_id: user_id.to_owned(),
                survey_id: survey_id.to_owned(),
                round,
                state: ConversationState::default(),
            };
            tx.put(
                CONVERSATIONS,
                &conversation_key(c, user_id, survey_id, round),
                &rec,
            )?;
            let ids = outbound
                .iter()
                .map(|m| queue_tx(tx, m))
                .collect::<TxResult<Vec<_>>>()?;
            Ok(Some(ids))
        })
    }

    /// The conversation state of a participant in a running round.
    pub fn conversation(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
    ) -> Result<Option<ConversationState>, StoreError> {
        let k = conversation_key(self.crypt(), user_id, survey_id, round);
        Ok(self
            .read::<ConversationRecord>(CONVERSATIONS, &k)?
            .map(|r| r.state))
    }

    /// Records one inbound answer event as one transaction: the round must be open and the
    /// participant consented; `apply` (the pure conversation step; it may run more than
    /// once) updates the state and says what to send; the event id is recorded as counted;
    /// the ledger round becomes `Started`; the messages are queued; with `finish` the answers
    /// move to the answer store. A replayed event id changes nothing.
    ///
    /// Durability: when every message in the update carries a transaction id from the
    /// caller (derived from the answer's event), the call does not wait for the disk. An
    /// answer lost in a crash is then read again from the homeserver, because the sync
    /// position is saved after it and sled recovers its log in order (a later write never
    /// survives an earlier one), and counting it again queues the same messages with the same
    /// transaction ids, which the homeserver deduplicates. So the next question goes out
    /// without waiting behind an fsync. A message without a transaction id would get a
    /// random one that a replay cannot reproduce, so then the write waits for the disk.
    pub fn record_answer(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
        event_id: &str,
        apply: impl Fn(&mut ConversationState) -> AnswerUpdate,
    ) -> Result<RecordOutcome, StoreError> {
        let replayable = std::sync::atomic::AtomicBool::new(true);
        let outcome = self.write_relaxed(|tx| {
            let c = tx.crypt;
            let info = round_info_tx(tx, survey_id, round)?;
            if info.closed_at.is_some() {
                return Ok(RecordOutcome::RoundClosed);
            }
            let lk = ledger_key(c, user_id);
            let Some(mut entry) = tx.get::<LedgerEntry>(LEDGER, &lk)? else {
                return Ok(RecordOutcome::NotConsented);
            };
            if entry.consent != ConsentState::Yes {
                return Ok(RecordOutcome::NotConsented);
            }
            match entry.round(survey_id, round).map(|r| r.status) {
                Some(RoundStatus::Finished | RoundStatus::Partial) => {
                    return Ok(RecordOutcome::RoundFinished);
                }
                Some(RoundStatus::OptedOut) => return Ok(RecordOutcome::NotConsented),
                _ => {}
            }
            let ck = conversation_key(c, user_id, survey_id, round);
            let mut conv =
                tx.get::<ConversationRecord>(CONVERSATIONS, &ck)?
                    .unwrap_or(ConversationRecord {
                        user_id: user_id.to_owned(),
                        survey_id: survey_id.to_owned(),
                        round,
                        state: ConversationState::default(),
                    });
            if conv.state.counted.contains(event_id) {
                return Ok(RecordOutcome::AlreadyCounted);
            }
            let update = apply(&mut conv.state);
            replayable.store(
                update.outbound.iter().all(|m| m.txn_id.is_some()),
                std::sync::atomic::Ordering::Relaxed,
            );
            conv.state
                .counted
                .insert(event_id, update.answered.as_deref());
            entry.round_mut(survey_id, round).status = RoundStatus::Started;
            let queued = update
                .outbound
                .iter()
                .map(|m| queue_tx(tx, m))
                .collect::<TxResult<Vec<_>>>()?;
            if update.finish {
                finish_tx(tx, &conv, Some(&mut entry), true)?;
            } else {
                tx.put(CONVERSATIONS, &ck, &conv)?;
                tx.put(LEDGER, &lk, &entry)?;
            }
            Ok(RecordOutcome::Recorded {
                queued,
                finished: update.finish,
            })
        })?;
        if !replayable.load(std::sync::atomic::Ordering::Relaxed) {
            self.sync_if_configured()?;
        }
        Ok(outcome)
    }

    /// Changes a running conversation without an inbound event (e.g. registering a poll's
    /// event id after it was sent). Returns false if there is no such conversation.
    pub fn update_conversation(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
        f: impl Fn(&mut ConversationState),
    ) -> Result<bool, StoreError> {
        // Not fsynced: its callers repeat it idempotently after a crash (a poll resent with
        // its transaction id gets the same event id and is registered again).
        self.write_relaxed(|tx| {
            let ck = conversation_key(tx.crypt, user_id, survey_id, round);
            let Some(mut conv) = tx.get::<ConversationRecord>(CONVERSATIONS, &ck)? else {
                return Ok(false);
            };
            f(&mut conv.state);
            tx.put(CONVERSATIONS, &ck, &conv)?;
            Ok(true)
        })
    }

    /// Finishes a participant's round: answers move to the answer store, the link is
    /// removed and the ledger says `Finished`, with `outbound` queued — one transaction.
    /// Returns false if there was no running conversation.
    pub fn finish_round(
        &self,
        user_id: &str,
        survey_id: &str,
        round: u32,
        outbound: &[Outbound],
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let c = tx.crypt;
            let ck = conversation_key(c, user_id, survey_id, round);
            let Some(conv) = tx.get::<ConversationRecord>(CONVERSATIONS, &ck)? else {
                return Ok(false);
            };
            let lk = ledger_key(c, user_id);
            let mut entry = tx.get::<LedgerEntry>(LEDGER, &lk)?;
            finish_tx(tx, &conv, entry.as_mut(), true)?;
            for m in outbound {
                queue_tx(tx, m)?;
            }
            Ok(true)
        })
    }

    /// Closes a round: from this transaction on, answers are refused; then every unfinished
    /// conversation of the round is moved as a partial response (each in its own
    /// transaction, so a crash midway is finished by calling `close_round` again).
    pub fn close_round(
        &self,
        survey_id: &str,
        round: u32,
        now: Timestamp,
    ) -> Result<CloseReport, StoreError> {
        self.close_round_with(survey_id, round, now, |_, _| Vec::new())
    }
}
