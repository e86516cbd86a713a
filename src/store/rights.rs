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
    AnswerRecord, ConsentState, ConversationState, LedgerEntry, Mode, Outbound, RoundInfo,
    RoundStatus, Store, StoreError,
};
use crate::lang::Lang;

/// Everything the store can still link to one participant.
#[derive(Debug, Clone, PartialEq)]
pub struct MyData {
    /// The ledger entry (consent, language, DM room, rounds), if any.
    pub ledger: Option<LedgerEntry>,
    /// Answers of running rounds: (survey, round, state).
    pub drafts: Vec<(String, u32, ConversationState)>,
    /// Responses under the participant's pseudonym in pseudonymous surveys.
    pub pseudonymous_responses: Vec<AnswerRecord>,
    /// Messages to the participant not yet sent.
    pub pending_messages: usize,
}

impl MyData {
    /// A readable rendering in the participant's language, including why anonymous
    /// responses are not listed.
    pub fn render(&self, lang: Lang) -> String {
        let mut s = String::new();
        let yes_no =
            |b: bool| lang.pick(if b { "ja" } else { "nein" }, if b { "yes" } else { "no" });
        match &self.ledger {
            None => s.push_str(lang.pick(
                "Über Sie ist nichts gespeichert.\n",
                "Nothing is stored about you.\n",
            )),
            Some(e) => {
                s.push_str(&format!(
                    "{}: {}\n",
                    lang.pick("Matrix-ID", "Matrix ID"),
                    e.user_id
                ));
                s.push_str(&format!(
                    "{}: {:?}",
                    lang.pick("Einwilligung", "Consent"),
                    e.consent
                ));
                if let Some(at) = e.consent_at {
                    s.push_str(&format!(" ({at})"));
                }
                s.push('\n');
                s.push_str(&format!(
                    "{}: {}\n",
                    lang.pick("Sprache", "Language"),
                    e.lang
                ));
                s.push_str(&format!(
                    "{}: {}\n",
                    lang.pick("Direktchat", "Direct chat"),
                    yes_no(e.dm_room.is_some())
                ));
                for r in &e.rounds {
                    s.push_str(&format!(
                        "- {} {} {}: {:?}, {}: {}\n",
                        r.survey_id,
                        lang.pick("Runde", "round"),
                        r.round,
                        r.status,
                        lang.pick("Erinnerungen", "reminders"),
                        r.reminders_sent
                    ));
                }
            }
        }
        for (survey, round, st) in &self.drafts {
            s.push_str(&format!(
                "{} ({survey} {} {round}):\n",
                lang.pick(
                    "Antworten der laufenden Runde",
                    "Answers of the running round"
                ),
                lang.pick("Runde", "round")
            ));
            for (item, v) in &st.answers {
                s.push_str(&format!("  {item}: {v:?}\n"));
            }
        }
        for r in &self.pseudonymous_responses {
            s.push_str(&format!(
                "{} ({} {} {}):\n",
                lang.pick("Pseudonyme Antworten", "Pseudonymous answers"),
                r.survey_id,
                lang.pick("Runde", "round"),
                r.round
            ));
            for (item, v) in &r.answers {
                s.push_str(&format!("  {item}: {v:?}\n"));
            }
        }
        s.push_str(lang.pick(
            "Anonyme Antworten abgeschlossener Runden sind von Ihrer Person getrennt gespeichert und enthalten nichts, was auf Sie verweist. Sie können daher nicht gefunden, angezeigt oder einzeln gelöscht werden.\n",
            "Anonymous answers of finished rounds are stored apart from you and hold nothing that points back to you. They therefore cannot be found, shown or deleted individually.\n",
        ));
        s
    }
}

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
        let ledger = self.participant(user_id)?.filter(|e| !e.erased);
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
