//! Full scans of the answer store on every core, and the borrowed view they hand out: the
//! store benchmark's machinery (`tools/store-bench`), compiled only for tests and for the
//! benchmarks (`cfg(pulsebot_bench)`, set by their build scripts), not into the bot.
//!
//! A full scan is dominated by the cipher (XChaCha20-Poly1305: ~0.5 µs for a small value,
//! ~1.3 µs for a 500-byte one on the dev host), by decoding (~40 ns per item answer, half of
//! it UTF-8 validation) and by sled's own iteration (~0.7 µs per value). So
//! [`Store::fold_answers`] splits the answers tree into many key ranges, lets one worker
//! thread per core pull ranges from a shared counter (each worker iterates sled itself, so
//! the iteration is parallel too), decrypts each value in place into one buffer per worker
//! (no allocation per value; zeroized after every callback), and hands the caller an
//! [`AnswerView`] that borrows its strings from that buffer instead of copying them into an
//! owned [`AnswerRecord`].
//!
//! Privacy: nothing changes on disk. Plaintext exists only in the worker's decrypted buffer
//! for the duration of one callback, exactly as with the sequential scan.
//!
//! The keys of the answer store are `H16_round ‖ 16 random bytes` (see `tables`), so the
//! values of one round are spread evenly over `H16_round ‖ 00..ff`; the split points are
//! taken from the rounds table (its keys start with the same 16 bytes), plus every first
//! byte, so that answers of rounds the rounds table does not know are still covered. The
//! ranges are contiguous and cover the whole key space whatever the split points are:
//! balance depends on them, completeness does not.

use std::ops::Bound;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::parallel::default_threads;
use super::tables::{ANSWERS, ROUNDS};
use super::{AnswerRecord, Store, StoreError};
use pulsebot_core::model::AnswerValue;

/// One item answer, borrowed from the decrypted buffer. Same variants, in the same order, as
/// [`AnswerValue`]: postcard encodes the variant index, so the two decode the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum AnswerValueRef<'a> {
    /// A single choice: the option id.
    Choice(&'a str),
    /// A multiple choice: the chosen option ids.
    #[serde(borrow)]
    Multi(Vec<&'a str>),
    /// A number.
    Number(i64),
    /// Free text.
    Text(&'a str),
    /// The participant skipped an optional item.
    Skipped,
}

impl AnswerValueRef<'_> {
    /// An owned copy.
    pub fn to_owned_value(&self) -> AnswerValue {
        match self {
            AnswerValueRef::Choice(s) => AnswerValue::Choice((*s).to_owned()),
            AnswerValueRef::Multi(v) => {
                AnswerValue::Multi(v.iter().map(|s| (*s).to_owned()).collect())
            }
            AnswerValueRef::Number(n) => AnswerValue::Number(*n),
            AnswerValueRef::Text(s) => AnswerValue::Text((*s).to_owned()),
            AnswerValueRef::Skipped => AnswerValue::Skipped,
        }
    }
}

/// A response of the answer store, decoded without copying its strings: the borrowed twin of
/// [`AnswerRecord`] (same fields, same order, so the same postcard bytes decode into both).
/// Items come in the stored order (sorted by item id), as in the record's `BTreeMap`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AnswerView<'a> {
    /// The survey.
    pub survey_id: &'a str,
    /// The round.
    pub round: u32,
    /// False if the round closed before the participant finished.
    pub complete: bool,
    /// Item id → answer, sorted by item id.
    #[serde(borrow, deserialize_with = "map_as_vec")]
    pub answers: Vec<(&'a str, AnswerValueRef<'a>)>,
    /// The per-survey pseudonym, only in pseudonymous rounds.
    pub pseudonym: Option<&'a str>,
}

impl AnswerView<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> AnswerRecord {
        AnswerRecord {
            survey_id: self.survey_id.to_owned(),
            round: self.round,
            complete: self.complete,
            answers: self
                .answers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_owned_value()))
                .collect(),
            pseudonym: self.pseudonym.map(str::to_owned),
        }
    }
}

/// Decodes a serialized map (how `BTreeMap` is written) into a `Vec` of borrowed pairs.
fn map_as_vec<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(&'de str, AnswerValueRef<'de>)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(&'de str, AnswerValueRef<'de>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of item ids to answers")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            // The hint comes from the (authenticated) plaintext; cap it anyway.
            let mut out = Vec::with_capacity(m.size_hint().unwrap_or(0).min(1024));
            while let Some(pair) = m.next_entry()? {
                out.push(pair);
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// What a parallel scan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ScanStats {
    /// Responses decrypted and decoded.
    pub responses: u64,
    /// Worker threads used.
    pub threads: usize,
    /// Key ranges the tree was split into.
    pub ranges: usize,
}

impl Store {
    /// Decrypts and decodes every response in the answer store on all cores, folding each into
    /// a per-thread accumulator made by `init`; returns the accumulators (one per worker, in no
    /// particular order) for the caller to merge. Responses come in no particular order.
    ///
    /// The first error (a value that does not decrypt or decode, or a sled error) stops the
    /// scan and is returned.
    pub fn fold_answers<A: Send>(
        &self,
        init: impl Fn() -> A + Sync,
        fold: impl Fn(&mut A, &AnswerView<'_>) + Sync,
    ) -> Result<(Vec<A>, ScanStats), StoreError> {
        self.fold_answers_with(default_threads(), init, fold)
    }

    /// [`Store::fold_answers`] with an explicit number of worker threads (at least one).
    pub fn fold_answers_with<A: Send>(
        &self,
        threads: usize,
        init: impl Fn() -> A + Sync,
        fold: impl Fn(&mut A, &AnswerView<'_>) + Sync,
    ) -> Result<(Vec<A>, ScanStats), StoreError> {
        let crypt = self.crypt();
        let (states, stats) = self.par_answer_values(
            threads,
            // One plaintext buffer per worker, reused for every value (no allocation per
            // value), zeroized after each callback and on drop.
            || (init(), Zeroizing::new(Vec::new())),
            |(acc, plain), v| {
                crypt.open_into(ANSWERS.name, v, plain)?;
                let parsed =
                    postcard::from_bytes::<AnswerView<'_>>(plain).map(|view| fold(acc, &view));
                plain.as_mut_slice().zeroize();
                parsed.map_err(|e| StoreError::Corrupt {
                    table: ANSWERS.name,
                    reason: format!("does not parse: {e}"),
                })
            },
        )?;
        Ok((states.into_iter().map(|(acc, _)| acc).collect(), stats))
    }

    /// The benchmark's baseline: the same parallel walk over the same key ranges as
    /// [`Store::fold_answers_with`], reading every byte of every (encrypted) value, without
    /// decrypting or decoding. Returns the number of bytes read.
    #[doc(hidden)]
    pub fn raw_par_scan_for_bench(&self, threads: usize) -> Result<(u64, ScanStats), StoreError> {
        let (states, stats) = self.par_answer_values(
            threads,
            || (0u64, 0u8),
            |(bytes, x), v| {
                *bytes += v.len() as u64;
                *x ^= v.iter().fold(0u8, |a, b| a ^ b);
                Ok(())
            },
        )?;
        std::hint::black_box(states.iter().fold(0u8, |a, s| a ^ s.1));
        Ok((states.iter().map(|s| s.0).sum(), stats))
    }

    /// Calls `each` for every value of the answers tree on `threads` workers (at least one),
    /// each with its own state made by `init`; the states come back in no particular order.
    /// The first error stops every worker and is returned.
    fn par_answer_values<S: Send>(
        &self,
        threads: usize,
        init: impl Fn() -> S + Sync,
        each: impl Fn(&mut S, &[u8]) -> Result<(), StoreError> + Sync,
    ) -> Result<(Vec<S>, ScanStats), StoreError> {
        let threads = threads.max(1);
        let ranges = self.answer_ranges()?;
        let tree = self.tree(ANSWERS);
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let first_err: Mutex<Option<StoreError>> = Mutex::new(None);

        let work = || -> (S, u64) {
            let mut state = init();
            let mut n = 0u64;
            let run = |state: &mut S, n: &mut u64| -> Result<(), StoreError> {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(range) = ranges.get(i) else {
                        return Ok(());
                    };
                    for kv in tree.range::<&[u8], _>((as_ref(&range.0), as_ref(&range.1))) {
                        let (_, v) = kv?;
                        each(state, &v)?;
                        *n += 1;
                    }
                }
            };
            if let Err(e) = run(&mut state, &mut n) {
                stop.store(true, Ordering::Relaxed);
                // A poisoned lock only means another worker panicked; keep the first error.
                let mut slot = first_err.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(e);
            }
            (state, n)
        };

        let results: Vec<(S, u64)> = if threads == 1 {
            vec![work()]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let responses = results.iter().map(|(_, n)| n).sum();
        Ok((
            results.into_iter().map(|(s, _)| s).collect(),
            ScanStats {
                responses,
                threads,
                ranges: ranges.len(),
            },
        ))
    }

    /// Contiguous key ranges covering the whole answers tree (see the module docs).
    fn answer_ranges(&self) -> Result<Vec<KeyRange>, StoreError> {
        let mut points: Vec<Vec<u8>> = (1..=255u8).map(|b| vec![b]).collect();
        for kv in self.tree(ROUNDS).iter().keys() {
            let k = kv?;
            let Some(prefix) = k.get(..16) else { continue };
            for j in (4..=252u8).step_by(4) {
                let mut p = prefix.to_vec();
                p.push(j);
                points.push(p);
            }
        }
        points.sort_unstable();
        points.dedup();
        let mut ranges = Vec::with_capacity(points.len() + 1);
        let mut lo = Bound::Unbounded;
        for p in points {
            ranges.push((lo, Bound::Excluded(p.clone())));
            lo = Bound::Included(p);
        }
        ranges.push((lo, Bound::Unbounded));
        Ok(ranges)
    }
}

/// A range of keys of the answers tree.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
