//! Store benchmark (issue 4): inserts 1,000,000 answers, then scans them decrypting and raw.
//!
//! "Answer" means one *item answer* (one question answered by one participant). The answer
//! store keeps one encrypted record per *response* (a participant's finished round, all item
//! answers together), so the benchmark runs three workloads of 1,000,000 item answers each:
//! responses shaped like `surveys/pilot-baseline.toml` (31 items), like `surveys/pulse.toml`
//! (6 items), and the worst case of one item answer per record (1,000,000 records).
//! Each prints the insert rate, the full decrypting scan (`Store::fold_answers`: all cores,
//! decrypt, decode into `AnswerView`s, sum every item answer) and two raw scans of the same
//! tree that read every value byte without decrypting: sled's `Tree::iter` on one thread
//! (the baseline of the "≤ 3× a raw sled scan") and the decrypting scan's own
//! parallel walk (same threads, same key ranges: the cost of decryption and decoding alone).
//! Wall times are medians of alternating runs; CPU times are printed too, since the cores
//! are shared with other builds.
//!
//! Run: `cargo run --release --manifest-path tools/store-bench/Cargo.toml` from the
//! repository (its `.cargo/config.toml` sets `--cfg poly1305_force_soft`, as for the bot).
//! `STORE_BENCH_PARTS=1` prints where the per-value time goes; `STORE_BENCH_PROFILE=pulse`
//! (or another workload name) runs one workload's scans on one thread for a profiler.
#![allow(dead_code, unused_imports)]

// The store's `crate::` paths (and its tests') resolve to the core's modules here.
pub use pulsebot_core::{conversation, lang, model, survey};
#[path = "../../../src/store/mod.rs"]
mod store;

use std::collections::BTreeMap;
use std::time::Instant;

use model::{AnswerRecord, AnswerUpdate, AnswerValue, Mode};
use store::records::Persisted;
use store::{AnswerValueRef, Passphrase, Store, StoreOptions};

/// Item answers per workload.
const ITEM_ANSWERS: usize = 1_000_000;
/// Responses (records) per `insert_answers` call, i.e. per transaction.
const BATCH: usize = 1_000;
/// Runs of each scan.
const RUNS: usize = 5;

/// CPU seconds used by this process so far (all threads): unlike wall time, it does not
/// grow when other engineers' builds take the cores.
fn cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The kind of an item, for generating plausible answers.
#[derive(Clone, Copy)]
enum Kind {
    /// Likert / choice with this many points.
    Choice(u8),
    /// 0–10 scale.
    Scale,
    /// Optional free text.
    Text,
}

struct Shape {
    name: &'static str,
    what: &'static str,
    items: Vec<(String, Kind)>,
}

fn block(id: &str, n: usize, k: Kind) -> Vec<(String, Kind)> {
    (1..=n).map(|i| (format!("{id}.{i}"), k)).collect()
}

fn shapes() -> Vec<Shape> {
    let pilot: Vec<_> = [
        block("sus_bm", 10, Kind::Choice(5)),
        block("sus_webex", 10, Kind::Choice(5)),
        block("ueq_bm", 8, Kind::Choice(7)),
        block("recommend_bm", 1, Kind::Scale),
        vec![
            ("obstacle".into(), Kind::Text),
            ("useful".into(), Kind::Text),
        ],
    ]
    .concat();
    let pulse: Vec<_> = [
        block("umux_bm", 2, Kind::Choice(7)),
        block("task_file", 1, Kind::Choice(7)),
        block("task_call", 1, Kind::Choice(7)),
        block("task_search", 1, Kind::Choice(7)),
        vec![("comment".into(), Kind::Text)],
    ]
    .concat();
    vec![
        Shape {
            name: "pilot-baseline",
            what: "responses shaped like surveys/pilot-baseline.toml: 2x SUS, UEQ-S, NPS, 2 optional texts",
            items: pilot,
        },
        Shape {
            name: "pulse",
            what: "responses shaped like surveys/pulse.toml: UMUX-Lite, 3 SEQ, 1 optional text",
            items: pulse,
        },
        Shape {
            name: "single-answer",
            what: "WORST CASE: every record holds a single item answer (not how the bot stores answers)",
            items: block("sus_bm", 1, Kind::Choice(5)),
        },
    ]
}

/// Response number `i` of a survey shaped like `items`; a third of the optional free texts
/// are answered (German, with umlauts), the rest skipped.
fn response(items: &[(String, Kind)], i: usize) -> AnswerRecord {
    let mut answers = BTreeMap::new();
    for (q, (id, kind)) in items.iter().enumerate() {
        let v = match *kind {
            Kind::Choice(n) => AnswerValue::Choice(((i + q) % n as usize + 1).to_string()),
            Kind::Scale => AnswerValue::Number(((i + q) % 11) as i64),
            Kind::Text if (i + q).is_multiple_of(3) => AnswerValue::Text(format!(
                "Übersichtlich, aber größere Schrift wäre gut; Suche findet ältere Nachrichten nicht ({i})"
            )),
            Kind::Text => AnswerValue::Skipped,
        };
        answers.insert(id.clone(), v);
    }
    AnswerRecord {
        survey_id: "bm".into(),
        round: 1,
        complete: true,
        answers,
        pseudonym: None,
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

/// Per-thread accumulator of the decrypting scan: touches every decoded item answer.
#[derive(Default)]
struct Acc {
    responses: u64,
    items: u64,
    number_sum: i64,
    choice_points: u64,
    text_bytes: u64,
    skipped: u64,
}

impl Acc {
    /// What the decrypting scan does with each response: counts and sums every item answer,
    /// roughly what the statistics layer needs.
    fn add(&mut self, r: &store::AnswerView<'_>) {
        self.responses += 1;
        for (_, v) in &r.answers {
            self.items += 1;
            match v {
                AnswerValueRef::Choice(c) => self.choice_points += c.parse::<u64>().unwrap_or(0),
                AnswerValueRef::Multi(m) => self.choice_points += m.len() as u64,
                AnswerValueRef::Number(n) => self.number_sum += n,
                AnswerValueRef::Text(t) => self.text_bytes += t.len() as u64,
                AnswerValueRef::Skipped => self.skipped += 1,
            }
        }
    }
}

fn main() -> Result<(), store::StoreError> {
    if std::env::var("STORE_BENCH_PARTS").is_ok() {
        parts();
        return Ok(());
    }
    if let Ok(n) = std::env::var("STORE_BENCH_SCAN") {
        return scan_modes(n.parse().unwrap_or(300_000));
    }
    if std::env::var("STORE_BENCH_SLED").is_ok() {
        return sled_modes();
    }
    if let Ok(name) = std::env::var("STORE_BENCH_PROFILE") {
        return profile(&name);
    }
    let pass = Passphrase::new("benchmark passphrase")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = store::default_threads();
    println!("store-bench: 1 answer = 1 item answer; {ITEM_ANSWERS} item answers per workload");
    println!(
        "machine: {cores} cores available, scan threads {threads}, load average at start {} (cores shared with other engineers)",
        loadavg()
    );
    println!(
        "targets: insert >= 50,000 answers/s; full decrypting scan <= 2 s and <= 3x a raw sled scan of the same values"
    );
    println!(
        "build: poly1305 backend {} (store::POLY1305_PORTABLE = {})",
        if store::POLY1305_PORTABLE {
            "portable (--cfg poly1305_force_soft, from .cargo/config.toml)"
        } else {
            "auto-detected (AVX2 here): RUSTFLAGS replaced .cargo/config.toml; scans are slower"
        },
        store::POLY1305_PORTABLE
    );
    for shape in shapes() {
        workload(&pass, &shape, threads)?;
    }
    record_answer_paths(&pass)?;
    println!("load average at end {}", loadavg());
    Ok(())
}

fn workload(pass: &Passphrase, shape: &Shape, threads: usize) -> Result<(), store::StoreError> {
    let per = shape.items.len();
    let n_resp = ITEM_ANSWERS.div_ceil(per);
    let n_items = n_resp * per;
    let tmp = tempfile::tempdir()?;
    let opts = StoreOptions {
        sync_on_commit: false,
    };
    let s = Store::open_with(tmp.path(), pass, opts, true)?;
    s.open_round("bm", 1, Mode::Anonymous, jiff::Timestamp::now())?;
    let plain = postcard::to_allocvec(&response(&shape.items, 0).to_record())
        .map(|v| v.len())
        .unwrap_or(0);

    let t = Instant::now();
    let c = cpu_s();
    let mut i = 0;
    while i < n_resp {
        let batch: Vec<AnswerRecord> = (i..(i + BATCH).min(n_resp))
            .map(|j| response(&shape.items, j))
            .collect();
        s.insert_answers(&batch)?;
        i += BATCH;
    }
    s.flush()?;
    let insert_s = t.elapsed().as_secs_f64();
    let insert_cpu = cpu_s() - c;
    let ins_rate = n_items as f64 / insert_s;

    // Each scan runs RUNS times, raw and decrypting alternately (the cores are shared, so
    // single runs are noisy); every run is printed, the verdicts use the medians.
    let mut raws = Vec::new();
    let mut pars = Vec::new();
    let mut scans = Vec::new();
    let mut raw_cpu = Vec::new();
    let mut par_cpu = Vec::new();
    let mut scan_cpu = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let c = cpu_s();
        raws.push(sled_raw_scan(&s)?);
        raw_cpu.push(cpu_s() - c);
        let c = cpu_s();
        let t = Instant::now();
        let (par_bytes, _) = s.raw_par_scan_for_bench(threads)?;
        pars.push(t.elapsed().as_secs_f64());
        par_cpu.push(cpu_s() - c);
        assert_eq!(
            par_bytes as usize, raws[0].2,
            "both raw scans read every value"
        );
        let c = cpu_s();
        let t = Instant::now();
        let r = s.fold_answers_with(threads, Acc::default, Acc::add)?;
        scans.push(t.elapsed().as_secs_f64());
        scan_cpu.push(cpu_s() - c);
        last = Some(r);
    }
    let (accs, stats) = last.expect("RUNS > 0");
    let raw = raws[0];
    let raw_s = median(raws.iter().map(|r| r.0).collect());
    let par_s = median(pars.clone());
    let scan_s = median(scans.clone());
    let items: u64 = accs.iter().map(|a| a.items).sum();
    let resp: u64 = accs.iter().map(|a| a.responses).sum();
    std::hint::black_box(
        accs.iter()
            .map(|a| a.number_sum as u64 + a.choice_points + a.text_bytes + a.skipped)
            .sum::<u64>(),
    );
    let runs = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let raw_runs = runs(&raws.iter().map(|r| r.0).collect::<Vec<_>>());
    let par_runs = runs(&pars);
    let scan_runs = runs(&scans);
    let ratio_runs = runs(
        &scans
            .iter()
            .zip(&raws)
            .map(|(a, b)| a / b.0)
            .collect::<Vec<_>>(),
    );

    let t = Instant::now();
    let mut seq_items = 0usize;
    let seq_n = s.for_each_answer(|r| seq_items += r.answers.len())?;
    let seq_s = t.elapsed().as_secs_f64();

    let ratio = scan_s / raw_s;
    let w = shape.name;
    println!();
    println!("[{w}] {}", shape.what);
    println!(
        "[{w}]   {per} item answers per stored record; {n_resp} records = {n_items} item answers; plaintext ~{plain} B per record"
    );
    println!(
        "[{w}]   insert               {insert_s:.2} s = {ins_rate:.0} answers/s ({:.0} records/s; batches of {BATCH} records per transaction, incl. final fsync)",
        n_resp as f64 / insert_s
    );
    println!(
        "[{w}]   decrypting full scan {scan_s:.2} s median of {scan_runs} s ({resp} records decrypted, {items} item answers decoded each run; {} threads, {} key ranges)",
        stats.threads, stats.ranges
    );
    println!(
        "[{w}]   raw sled scan        {raw_s:.2} s median of {raw_runs} s ({} values, {} bytes; sled Tree::iter over the same tree, 1 thread, reading every value byte, no decryption)",
        raw.1, raw.2
    );
    println!(
        "[{w}]   raw parallel scan    {par_s:.2} s median of {par_runs} s (the decrypting scan's own walk: same {} threads, same key ranges, reading every value byte, no decryption)",
        stats.threads
    );
    println!(
        "[{w}]   ratio decrypting/raw {ratio:.2}x (medians; per run {ratio_runs}) -- the issue's target, against the 1-thread raw scan"
    );
    println!(
        "[{w}]   ratio decrypting/raw parallel {:.2}x (medians; the cost of decrypting and decoding alone, same parallelism on both sides)",
        scan_s / par_s
    );
    let (rc, pc, sc) = (median(raw_cpu), median(par_cpu), median(scan_cpu));
    println!(
        "[{w}]   CPU time (all threads, medians): insert {insert_cpu:.2} s (incl. generating the records); decrypting scan {sc:.2} s; raw scan {rc:.2} s; raw parallel scan {pc:.2} s; CPU ratio decrypting/raw {:.2}x",
        sc / rc
    );
    println!(
        "[{w}]   sequential scan      {seq_s:.2} s (for_each_answer: 1 thread, owned AnswerRecord; {seq_n} records, {seq_items} items; for comparison)"
    );
    println!(
        "[{w}]   store size on disk   {:.0} MB",
        dir_size(tmp.path()) as f64 / 1e6
    );
    println!(
        "[{w}]   targets: insert >= 50k answers/s {}; scan <= 2 s {}; ratio <= 3x {}",
        verdict(ins_rate >= 50_000.0),
        verdict(scan_s <= 2.0),
        verdict(ratio <= 3.0)
    );
    Ok(())
}

/// The bot's real path: one `record_answer` transaction per answer event, the last one
/// finishing the participant's round (moves answers, unlinks) — without and with fsync.
fn record_answer_paths(pass: &Passphrase) -> Result<(), store::StoreError> {
    println!();
    let now = jiff::Timestamp::now();
    for (label, sync, participants) in [
        ("no fsync", false, 20_000usize),
        ("fsync per commit", true, 500),
    ] {
        let tmp = tempfile::tempdir()?;
        let s = Store::open_with(
            tmp.path(),
            pass,
            StoreOptions {
                sync_on_commit: sync,
            },
            true,
        )?;
        s.open_round("bm", 1, Mode::Anonymous, now)?;
        for p in 0..participants {
            s.update_participant(&format!("@p{p}:bench"), |e| {
                e.consent = model::ConsentState::Yes
            })?;
        }
        let t = Instant::now();
        let mut events = 0usize;
        for p in 0..participants {
            let user = format!("@p{p}:bench");
            for q in 0..3 {
                let ev = format!("$e{p}-{q}");
                s.record_answer(&user, "bm", 1, &ev, move |st| {
                    st.answers
                        .insert(format!("q{q}"), AnswerValue::Choice("3".into()));
                    AnswerUpdate {
                        outbound: Vec::new(),
                        finish: q == 2,
                        answered: None,
                    }
                })?;
                events += 1;
            }
        }
        s.flush()?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "record_answer ({label:<16}) {events} events in {secs:.2} s = {:.0} events/s (1 event = 1 item answer, one transaction each)",
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
    let pilot = &shapes()[0].items;
    let plain = postcard::to_allocvec(&response(pilot, 1).to_record()).expect("encode");
    let n = 200_000;
    println!(
        "plaintext             {} B (a pilot-baseline response)",
        plain.len()
    );
    for size in [16usize, 64, 256, 1024] {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(c.seal_bytes(vec![7u8; size]).expect("seal"));
        }
        println!(
            "seal_bytes {size:>5} B    {:.2} µs/value",
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
    let t = Instant::now();
    let sealed: Vec<Vec<u8>> = (0..n)
        .map(|_| c.seal_bytes(plain.clone()).expect("seal"))
        .collect();
    println!(
        "seal_bytes            {:.2} µs/value",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for v in &sealed {
        std::hint::black_box(c.open_bytes("answers", v).expect("open"));
    }
    println!(
        "open_bytes            {:.2} µs/value",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for v in &sealed {
        let ev: matrix_sdk_store_encryption::EncryptedValue =
            postcard::from_bytes(&v[1..]).expect("decode");
        std::hint::black_box(ev);
    }
    println!(
        "envelope decode only  {:.2} µs/value",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(postcard::from_bytes::<<AnswerRecord as Persisted>::Record>(&plain).expect("parse"));
    }
    println!(
        "plaintext parse only  {:.2} µs/value (owned AnswerRecord)",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(postcard::from_bytes::<store::AnswerView<'_>>(&plain).expect("parse"));
    }
    println!(
        "plaintext parse only  {:.2} µs/value (borrowed AnswerView)",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(c.hash("round", &[b"bm", &1u32.to_be_bytes()]));
    }
    println!(
        "keyed hash            {:.2} µs/value",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

/// Plain sled write paths for 200,000 random 32-byte keys with 62-byte values, batches of
/// 1,000 (run with `STORE_BENCH_SLED=1`): where does insert time go without the store?
fn sled_modes() -> Result<(), store::StoreError> {
    use sled::Transactional;
    let n = 200_000usize;
    let kv: Vec<([u8; 32], Vec<u8>)> = (0..n).map(|_| (rand::random(), vec![9u8; 62])).collect();
    for mode in ["insert", "apply_batch", "tx2 apply_batch", "tx10 inserts"] {
        let tmp = tempfile::tempdir()?;
        let db = sled::Config::new().path(tmp.path()).open()?;
        let trees: Vec<sled::Tree> = (0..10)
            .map(|i| db.open_tree(format!("t{i}")))
            .collect::<Result<_, _>>()?;
        let t = Instant::now();
        for chunk in kv.chunks(1000) {
            match mode {
                "insert" => {
                    for (k, v) in chunk {
                        trees[3].insert(k, v.as_slice())?;
                    }
                }
                "apply_batch" => {
                    let mut b = sled::Batch::default();
                    for (k, v) in chunk {
                        b.insert(k, v.as_slice());
                    }
                    trees[3].apply_batch(b)?;
                }
                "tx2 apply_batch" => {
                    let mut b = sled::Batch::default();
                    for (k, v) in chunk {
                        b.insert(k, v.as_slice());
                    }
                    (&trees[3], &trees[4])
                        .transaction(|(a, r)| {
                            a.apply_batch(&b)?;
                            r.insert(b"count", b"1")?;
                            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                        })
                        .map_err(|_| store::StoreError::Crypto("tx".into()))?;
                }
                _ => {
                    trees
                        .as_slice()
                        .transaction(|v| {
                            for (k, val) in chunk {
                                v[3].insert(k, val.as_slice())?;
                            }
                            v[4].insert(b"count", b"1")?;
                            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                        })
                        .map_err(|_| store::StoreError::Crypto("tx".into()))?;
                }
            }
        }
        db.flush()?;
        let secs = t.elapsed().as_secs_f64();
        println!("sled {mode:<16} {:.0} values/s", n as f64 / secs);
    }
    Ok(())
}

/// Scan variants over `n` single-answer records (run with `STORE_BENCH_SCAN=n`).
fn scan_modes(n: usize) -> Result<(), store::StoreError> {
    let pass = Passphrase::new("benchmark passphrase")?;
    let tmp = tempfile::tempdir()?;
    let s = Store::open_with(
        tmp.path(),
        &pass,
        StoreOptions {
            sync_on_commit: false,
        },
        true,
    )?;
    s.open_round("bm", 1, Mode::Anonymous, jiff::Timestamp::now())?;
    let items = block("sus_bm", 1, Kind::Choice(5));
    let mut i = 0;
    while i < n {
        let batch: Vec<AnswerRecord> = (i..(i + BATCH).min(n))
            .map(|j| response(&items, j))
            .collect();
        s.insert_answers(&batch)?;
        i += BATCH;
    }
    s.flush()?;
    for _ in 0..2 {
        println!("load {}", loadavg());
        let r = sled_raw_scan(&s)?;
        println!("raw iter 1 thread        {:.2} s", r.0);
        for th in [1usize, 2] {
            let t = Instant::now();
            let (a, _) = s.fold_answers_with(th, || 0u64, |a, r| *a += r.answers.len() as u64)?;
            println!(
                "fold_answers {th} threads   {:.2} s ({})",
                t.elapsed().as_secs_f64(),
                a.iter().sum::<u64>()
            );
        }
        let t = Instant::now();
        let n = s.for_each_answer(|_| ())?;
        println!(
            "for_each_answer         {:.2} s ({n})",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// One workload's scans on one thread, for a profiler (run with
/// `STORE_BENCH_PROFILE=pulse`, or `pilot-baseline`, `single-answer`), e.g.
/// `valgrind --tool=callgrind --toggle-collect='*scan_once*' target/release/pulsebot-store-bench`.
fn profile(name: &str) -> Result<(), store::StoreError> {
    let shape = shapes()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no workload named {name}"));
    let pass = Passphrase::new("benchmark passphrase")?;
    let tmp = tempfile::tempdir()?;
    let opts = StoreOptions {
        sync_on_commit: false,
    };
    let s = Store::open_with(tmp.path(), &pass, opts, true)?;
    s.open_round("bm", 1, Mode::Anonymous, jiff::Timestamp::now())?;
    let n_resp = ITEM_ANSWERS.div_ceil(shape.items.len());
    let mut i = 0;
    while i < n_resp {
        let batch: Vec<AnswerRecord> = (i..(i + BATCH).min(n_resp))
            .map(|j| response(&shape.items, j))
            .collect();
        s.insert_answers(&batch)?;
        i += BATCH;
    }
    s.flush()?;
    #[inline(never)]
    fn raw_scan_once(s: &Store) -> Result<(f64, usize, usize), store::StoreError> {
        sled_raw_scan(s)
    }
    #[inline(never)]
    fn decrypting_scan_once(s: &Store) -> Result<f64, store::StoreError> {
        let t = Instant::now();
        let (accs, _) = s.fold_answers_with(1, Acc::default, Acc::add)?;
        std::hint::black_box(accs.iter().map(|a| a.items).sum::<u64>());
        Ok(t.elapsed().as_secs_f64())
    }
    for _ in 0..2 {
        let c = cpu_s();
        let raw = raw_scan_once(&s)?;
        let raw_cpu = cpu_s() - c;
        let c = cpu_s();
        let dec = decrypting_scan_once(&s)?;
        let dec_cpu = cpu_s() - c;
        println!(
            "[{name}] 1 thread: raw {:.3} s (cpu {raw_cpu:.3}), decrypting {dec:.3} s (cpu {dec_cpu:.3}), ratio {:.2}x, {:.2} us/record raw, {:.2} us/record decrypting",
            raw.0,
            dec / raw.0,
            raw_cpu * 1e6 / n_resp as f64,
            dec_cpu * 1e6 / n_resp as f64
        );
    }
    Ok(())
}
