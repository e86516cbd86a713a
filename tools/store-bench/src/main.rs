//! Store benchmark: inserts 1,000,000 answers, then scans them decrypting and raw.
//! Prints answers/s, scan seconds and the decrypting/raw ratio.
#![allow(dead_code, unused_imports)]

#[path = "../../../src/lang.rs"]
mod lang;
#[path = "../../../src/store/mod.rs"]
mod store;

use std::collections::BTreeMap;
use std::time::Instant;

use store::{AnswerRecord, AnswerUpdate, AnswerValue, Mode, Passphrase, Store, StoreOptions};

const TOTAL: usize = 1_000_000;
const BATCH: usize = 1_000;

fn record(i: usize) -> AnswerRecord {
    let mut answers = BTreeMap::new();
    for q in 0..8 {
        answers.insert(format!("sus{q}"), AnswerValue::Choice(((i + q) % 5 + 1).to_string()));
    }
    answers.insert("nps".into(), AnswerValue::Number((i % 11) as i64));
    answers.insert("text".into(), AnswerValue::Text(format!("Übersichtlich, größere Schrift wäre gut {i}")));
    AnswerRecord { survey_id: "bm".into(), round: 1, complete: true, answers, pseudonym: None }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map(|m| m.len()).unwrap_or(0) })
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), store::StoreError> {
    if std::env::var("STORE_BENCH_PARTS").is_ok() {
        parts();
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let pass = Passphrase::new("benchmark passphrase")?;
    let opts = StoreOptions { sync_on_commit: false };
    let s = Store::open_with(tmp.path(), &pass, opts, true)?;
    let now = jiff::Timestamp::now();
    s.open_round("bm", 1, Mode::Anonymous, now)?;
    let plain = postcard::to_allocvec(&record(123_456)).map(|v| v.len()).unwrap_or(0);

    let t = Instant::now();
    let mut i = 0;
    while i < TOTAL {
        let batch: Vec<AnswerRecord> = (i..i + BATCH).map(record).collect();
        s.insert_answers(&batch)?;
        i += BATCH;
    }
    s.flush()?;
    let insert_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut items = 0usize;
    let n = s.for_each_answer(|r| items += r.answers.len())?;
    let scan_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let plain_bytes = s.decrypt_scan_for_bench()?;
    let decrypt_only_s = t.elapsed().as_secs_f64();

    let raw_db = sled_raw_scan(&s)?;
    println!("answers inserted          {TOTAL} (plaintext ~{plain} B each, batches of {BATCH} per transaction)");
    println!("insert                    {insert_s:.2} s = {:.0} answers/s (incl. final fsync)", TOTAL as f64 / insert_s);
    println!("decrypting full scan      {scan_s:.2} s ({n} answers, {items} items parsed)");
    println!("decrypt-only full scan    {decrypt_only_s:.2} s ({plain_bytes} plaintext bytes, not parsed)");
    println!("raw sled scan             {:.2} s ({} values, {} bytes)", raw_db.0, raw_db.1, raw_db.2);
    println!("ratio decrypt+parse/raw   {:.2}x", scan_s / raw_db.0);
    println!("ratio decrypt-only/raw    {:.2}x", decrypt_only_s / raw_db.0);
    println!("store size on disk        {:.0} MB", dir_size(tmp.path()) as f64 / 1e6);

    // The bot's real path: one record_answer transaction per answer event, the last one
    // finishing the participant's round (moves answers, unlinks) — without and with fsync.
    for (label, sync, participants) in [("no fsync", false, 20_000usize), ("fsync per commit", true, 500)] {
        let tmp = tempfile::tempdir()?;
        let s = Store::open_with(tmp.path(), &pass, StoreOptions { sync_on_commit: sync }, true)?;
        s.open_round("bm", 1, Mode::Anonymous, now)?;
        for p in 0..participants {
            s.update_participant(&format!("@p{p}:bench"), |e| e.consent = store::ConsentState::Yes)?;
        }
        let t = Instant::now();
        let mut events = 0usize;
        for p in 0..participants {
            let user = format!("@p{p}:bench");
            for q in 0..3 {
                let ev = format!("$e{p}-{q}");
                s.record_answer(&user, "bm", 1, &ev, move |st| {
                    st.answers.insert(format!("q{q}"), AnswerValue::Choice("3".into()));
                    AnswerUpdate { outbound: Vec::new(), finish: q == 2 }
                })?;
                events += 1;
            }
        }
        s.flush()?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "record_answer ({label:<16}) {events} events in {secs:.2} s = {:.0} events/s",
            events as f64 / secs
        );
    }
    Ok(())
}

/// Iterates the same answers tree with plain sled, touching every value byte.
fn sled_raw_scan(s: &Store) -> Result<(f64, usize, usize), store::StoreError> {
    let db = s.raw_tree_for_bench();
    let t = Instant::now();
    let (mut n, mut bytes, mut x) = (0usize, 0usize, 0u8);
    for kv in db.iter() {
        let (_, v) = kv?;
        n += 1;
        bytes += v.len();
        x ^= v.iter().fold(0u8, |a, b| a ^ b);
    }
    let secs = t.elapsed().as_secs_f64();
    std::hint::black_box(x);
    Ok((secs, n, bytes))
}

/// Where the per-value time goes (run with `STORE_BENCH_PARTS=1`).
pub fn parts() {
    use store::cipher::Crypt;
    let c = Crypt::new_random().expect("key");
    let plain = postcard::to_allocvec(&record(1)).expect("encode");
    let n = 200_000;
    let t = Instant::now();
    let sealed: Vec<Vec<u8>> = (0..n).map(|_| c.seal_bytes(plain.clone()).expect("seal")).collect();
    println!("seal_bytes            {:.2} µs/value", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = Instant::now();
    for v in &sealed {
        std::hint::black_box(c.open_bytes("answers", v).expect("open"));
    }
    println!("open_bytes            {:.2} µs/value", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = Instant::now();
    for v in &sealed {
        let ev: matrix_sdk_store_encryption::EncryptedValue = postcard::from_bytes(&v[1..]).expect("decode");
        std::hint::black_box(ev);
    }
    println!("envelope decode only  {:.2} µs/value", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(postcard::from_bytes::<AnswerRecord>(&plain).expect("parse"));
    }
    println!("plaintext parse only  {:.2} µs/value", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(c.hash("round", &[b"bm", &1u32.to_be_bytes()]));
    }
    println!("keyed hash            {:.2} µs/value", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
