//! Retention: raw answers of rounds closed more than `retention_days` ago are deleted; the
//! aggregates computed at close stay; the audit log records each deletion (round and count,
//! nothing else).

use jiff::{SignedDuration, Timestamp};

use super::audit::append_tx;
use super::tables::{ANSWERS, ROUNDS, round_key, round_prefix};
use super::{RoundInfo, Store, StoreError};

/// What a retention run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// (survey id, round, responses deleted) per round purged in this run.
    pub rounds: Vec<(String, u32, u64)>,
}

/// Deletes in chunks of this many keys per transaction: a round of a pilot has at most a
/// few thousand responses, but one transaction per chunk keeps memory bounded anyway.
const CHUNK: usize = 1000;

impl Store {
    /// Deletes the raw answers of every round closed more than `retention_days` days before
    /// `now`. Crash-safe and idempotent: the round is marked purged (with the audit entry)
    /// only after its last chunk is deleted, and a rerun continues where it stopped.
    pub fn apply_retention(
        &self,
        now: Timestamp,
        retention_days: u32,
    ) -> Result<RetentionReport, StoreError> {
        let cutoff = now - SignedDuration::from_hours(24 * i64::from(retention_days));
        let mut report = RetentionReport::default();
        for info in self.rounds()? {
            let due =
                matches!(info.closed_at, Some(c) if c < cutoff) && info.raw_deleted_at.is_none();
            if !due {
                continue;
            }
            let prefix = round_prefix(self.crypt(), &info.survey_id, info.round);
            let mut deleted = 0u64;
            loop {
                let keys: Vec<sled::IVec> = self
                    .tree(ANSWERS)
                    .scan_prefix(prefix)
                    .keys()
                    .take(CHUNK)
                    .collect::<Result<_, _>>()?;
                if keys.is_empty() {
                    break;
                }
                self.write(|tx| {
                    for k in &keys {
                        tx.del(ANSWERS, k)?;
                    }
                    Ok(())
                })?;
                deleted += keys.len() as u64;
            }
            let (survey_id, round) = (info.survey_id.clone(), info.round);
            self.write(|tx| {
                let rk = round_key(tx.crypt, &survey_id, round);
                let mut info: RoundInfo = tx.get(ROUNDS, &rk)?.unwrap_or_else(|| info.clone());
                info.raw_deleted_at = Some(now);
                tx.put(ROUNDS, &rk, &info)?;
                append_tx(
                    tx,
                    now,
                    "bot",
                    "retention.delete",
                    &format!(
                        "{survey_id} round {round}: raw answers deleted ({} responses), aggregates kept",
                        info.responses
                    ),
                )?;
                Ok(())
            })?;
            report.rounds.push((survey_id, round, deleted));
        }
        Ok(report)
    }
}
