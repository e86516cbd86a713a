//! The answer store (read side), the computed aggregates, and the bot-state table.
//!
//! The answer store is written only by the finishing transaction in `conversation`; here it
//! is read for the statistics layer. Aggregates are opaque encrypted blobs per (survey,
//! round) that the statistics layer computes at close: retention keeps them.

use super::tables::{AGGREGATES, ANSWERS, BOT_STATE, bot_state_key, round_key, round_prefix};
use super::{AnswerRecord, Store, StoreError};

impl Store {
    /// All responses of one round (order is random, not finishing order).
    pub fn answers(&self, survey_id: &str, round: u32) -> Result<Vec<AnswerRecord>, StoreError> {
        let prefix = round_prefix(self.crypt(), survey_id, round);
        Ok(self
            .scan::<AnswerRecord>(ANSWERS, &prefix)?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }

    #[cfg(any(test, pulsebot_bench))]
    /// Calls `f` for every response in the store, decrypting one at a time (for full scans
    /// without holding everything in memory).
    pub fn for_each_answer(&self, mut f: impl FnMut(AnswerRecord)) -> Result<u64, StoreError> {
        let mut n = 0;
        for kv in self.tree(ANSWERS).iter() {
            let (_, v) = kv?;
            f(self.crypt().open_model(ANSWERS.name, &v)?);
            n += 1;
        }
        Ok(n)
    }

    /// Writes responses directly into the answer store and bumps the rounds' response
    /// counters, all in one transaction (over the answers and rounds tables only): either
    /// every record of the call is stored and counted, or none. For imports and benchmarks;
    /// the bot's own path is [`Store::record_answer`] / [`Store::finish_round`]. Every round
    /// must be open.
    ///
    /// The records are encrypted on all cores before the transaction starts (sealing is the
    /// expensive part, and a transaction retried after a conflict reuses the sealed values:
    /// each value still gets its own random nonce, it is merely written once).
    pub fn insert_answers(&self, records: &[AnswerRecord]) -> Result<(), StoreError> {
        use super::abort;
        use super::parallel::{default_threads, par_map};
        use super::tables::{ROUNDS, answer_key};
        use super::{RoundInfo, TxResult};
        use sled::Transactional;
        use std::collections::BTreeMap;

        let crypt = self.crypt();
        let sealed = par_map(records, default_threads(), |r| {
            Ok::<_, StoreError>((
                answer_key(crypt, &r.survey_id, r.round),
                crypt.seal_model(r)?,
            ))
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        let mut counts: BTreeMap<(&str, u32), u64> = BTreeMap::new();
        for r in records {
            *counts.entry((&r.survey_id, r.round)).or_default() += 1;
        }
        let mut batch = sled::Batch::default();
        for (k, v) in sealed {
            batch.insert(k, v);
        }

        // A poisoned gate only means another writer panicked; the data is sled's, not ours.
        let _g = self.inner.gate.read().unwrap_or_else(|e| e.into_inner());
        (self.tree(ANSWERS), self.tree(ROUNDS)).transaction(
            |(answers, rounds)| -> TxResult<()> {
                answers.apply_batch(&batch)?;
                for (&(survey_id, round), n) in &counts {
                    let rk = round_key(crypt, survey_id, round);
                    let raw = rounds.get(rk.as_slice())?.ok_or_else(|| {
                        abort(StoreError::UnknownRound {
                            survey_id: survey_id.to_owned(),
                            round,
                        })
                    })?;
                    let mut info: RoundInfo = crypt.open_model(ROUNDS.name, &raw).map_err(abort)?;
                    info.responses += n;
                    rounds.insert(rk.as_slice(), crypt.seal_model(&info).map_err(abort)?)?;
                }
                Ok(())
            },
        )?;
        if self.inner.opts.sync_on_commit {
            self.inner.db.flush()?;
        }
        Ok(())
    }

    /// Stores the aggregate blob of a round (replacing any earlier one).
    pub fn put_aggregate(
        &self,
        survey_id: &str,
        round: u32,
        blob: &[u8],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.put(
                AGGREGATES,
                &round_key(tx.crypt, survey_id, round),
                &blob.to_vec(),
            )
        })
    }

    /// The aggregate blob of a round, if computed.
    pub fn aggregate(&self, survey_id: &str, round: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(AGGREGATES, &round_key(self.crypt(), survey_id, round))
    }

    /// Stores a bot-state value (e.g. the sync token under `"sync_token"`).
    pub fn set_bot_state(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| tx.put(BOT_STATE, &bot_state_key(tx.crypt, name), &value.to_vec()))
    }

    /// Stores a bot-state value without waiting for the disk (for the sync position: losing
    /// it in a crash only replays events, which are handled idempotently).
    pub fn set_bot_state_relaxed(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write_relaxed(|tx| tx.put(BOT_STATE, &bot_state_key(tx.crypt, name), &value.to_vec()))
    }

    /// Reads a bot-state value.
    pub fn bot_state(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(BOT_STATE, &bot_state_key(self.crypt(), name))
    }
}

impl Store {
    #[cfg(any(test, pulsebot_bench))]
    /// The raw (encrypted) answers tree, for the benchmark's raw-scan baseline only.
    #[doc(hidden)]
    pub fn raw_tree_for_bench(&self) -> &sled::Tree {
        self.tree(ANSWERS)
    }
}

impl Store {
    #[cfg(any(test, pulsebot_bench))]
    /// Decrypts every answer without parsing it (benchmark only: isolates the cipher cost).
    #[doc(hidden)]
    pub fn decrypt_scan_for_bench(&self) -> Result<usize, StoreError> {
        let mut bytes = 0;
        for kv in self.tree(ANSWERS).iter() {
            let (_, v) = kv?;
            bytes += self.crypt().open_bytes(ANSWERS.name, &v)?.len();
        }
        Ok(bytes)
    }
}
