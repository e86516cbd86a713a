//! Export benchmark (issue 6): `export` as JSON and as HTML over 1,000,000 stored item answers,
//! end to end — open the store, decrypt and scan every response, compute the statistics of
//! every round with trends, render — timed per format, with the peak memory of the process.
//!
//! The store is filled once with responses shaped like `surveys/pilot-baseline.toml` (31 items:
//! 2× SUS, UEQ-S, NPS, 2 optional texts): 32,259 responses in 4 rounds ≈ 1,000,029 item
//! answers. Each export then runs in a fresh child process (this binary with `export` as its
//! first argument), so every figure includes opening the store and its peak RSS is the
//! export's own, not the fill's.
//!
//! Measured on the dev host (2 cores shared with two other builders), 33,616 responses,
//! 1,000,096 item answers, 5 runs: at load average ≈ 2.7 JSON median 1.23 s, HTML 1.17 s
//! (CPU 1.55 s / 1.46 s over both cores); at load average ≈ 6 JSON 1.91 s, HTML 1.76 s. Peak
//! RSS 224 MiB. Most of the time is the statistics (rounds in parallel) and decrypting the
//! scan; rendering takes milliseconds.
//!
//! Run: `cargo run --release --manifest-path tools/export-bench/Cargo.toml`
//! (`EXPORT_BENCH_RUNS=n` runs each format n times, default 3; `EXPORT_BENCH_PHASES=1` also
//! prints scan / statistics / render times; `fill DIR` then `export DIR json` for profiling).
#![allow(dead_code, unused_imports)]

// The store's and the export service's `crate::` paths resolve to the core's modules here.
pub use pulsebot_core::{clock, conversation, export, lang, model, stats, survey};
#[path = "../../../src/store/mod.rs"]
mod store;
#[path = "../../../src/services/export.rs"]
mod export_service;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use export::Format;
use export_service::{ExportRequest, Rounds, export_file};
use model::{AnswerRecord, AnswerValue, Mode};
use store::{Passphrase, Store};

/// The pilot survey, as shipped.
const SURVEY: &str = include_str!("../../../surveys/pilot-baseline.toml");
/// Item answers to store (at least).
const ITEM_ANSWERS: usize = 1_000_000;
/// Items per response of the pilot baseline.
const ITEMS: usize = 31;
const ROUNDS: u32 = 4;
/// Responses per insert call (one transaction).
const BATCH: usize = 1_000;
const TARGET_S: f64 = 2.0;
const PASSPHRASE: &str = "benchmark passphrase";

fn survey() -> survey::Survey {
    match survey::parse_str(
        "pilot-baseline.toml",
        SURVEY,
        &survey::SurveyDefaults::default(),
    ) {
        Ok(s) => s,
        Err(d) => panic!("the shipped survey does not parse: {d:?}"),
    }
}

/// CPU seconds of this process so far (all threads), and its peak RSS in MiB.
fn usage() -> (f64, f64) {
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_SELF is always supported.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return (f64::NAN, f64::NAN);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    (
        t(ru.ru_utime) + t(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
    )
}

/// A small deterministic generator (xorshift), so every run stores the same answers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One participant's baseline: a latent attitude per system drives the SUS items (odd items
/// positive, even negative), UEQ-S and NPS, as in real data where the items correlate.
fn response(rng: &mut Rng, round: u32, i: usize) -> AnswerRecord {
    let mut a = BTreeMap::new();
    let bm = 2 + rng.below(3) + u64::from(round > 2); // 2..=5
    let webex = 1 + rng.below(4); // 1..=4
    let jitter = |rng: &mut Rng, v: u64, max: u64| {
        (v as i64 + rng.below(3) as i64 - 1).clamp(1, max as i64) as u64
    };
    for (block, att) in [("sus_bm", bm), ("sus_webex", webex)] {
        // Every eighth person never used Webex and skips that block.
        if block == "sus_webex" && i % 8 == 7 {
            continue;
        }
        for item in 1..=10u64 {
            let v = if item % 2 == 1 { att } else { 6 - att };
            let v = jitter(rng, v, 5);
            a.insert(format!("{block}.{item}"), AnswerValue::Choice(v.to_string()));
        }
    }
    for item in 1..=8u64 {
        let base = bm + 1 + rng.below(2);
        let v = jitter(rng, base, 7);
        a.insert(format!("ueq_bm.{item}"), AnswerValue::Choice(v.to_string()));
    }
    let nps = (bm * 2 + rng.below(3)).min(10);
    a.insert("recommend_bm.1".into(), AnswerValue::Number(nps as i64));
    for (k, id) in ["obstacle", "useful"].iter().enumerate() {
        let v = if (i + k).is_multiple_of(4) {
            AnswerValue::Text(format!(
                "Suche findet ältere Nachrichten nicht, Benachrichtigungen kommen spät ({i})"
            ))
        } else {
            AnswerValue::Skipped
        };
        a.insert((*id).into(), v);
    }
    AnswerRecord {
        survey_id: "pilot-baseline".into(),
        round,
        // A few leave before the end (the round closed on them).
        complete: !i.is_multiple_of(29),
        answers: a,
        pseudonym: None,
    }
}

fn fill(dir: &Path) -> Result<(usize, usize), store::StoreError> {
    let pass = Passphrase::new(PASSPHRASE)?;
    let s = Store::open(dir, &pass)?;
    // Rounds of equal size in item answers until the total reaches ITEM_ANSWERS.
    let per_round_items = ITEM_ANSWERS.div_ceil(ROUNDS as usize);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut items = 0;
    let mut n = 0;
    let t0: jiff::Timestamp = "2025-03-03T09:00:00Z".parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    for round in 1..=ROUNDS {
        let opened = t0
            .checked_add(jiff::SignedDuration::from_hours(24 * 14 * i64::from(round - 1)))
            .unwrap_or(t0);
        s.open_round("pilot-baseline", round, Mode::Anonymous, opened)?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut round_items = 0;
        let mut i = 0;
        while round_items < per_round_items {
            let r = response(&mut rng, round, i);
            round_items += r.answers.len();
            batch.push(r);
            i += 1;
            if batch.len() == BATCH {
                s.insert_answers(&batch)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            s.insert_answers(&batch)?;
        }
        items += round_items;
        n += i;
        let closed = opened
            .checked_add(jiff::SignedDuration::from_hours(72))
            .unwrap_or(opened);
        s.close_round("pilot-baseline", round, closed)?;
    }
    s.flush()?;
    Ok((n, items))
}

/// The child: one export end to end; prints `seconds cpu_seconds peak_mib bytes`.
fn export_once(dir: &Path, format: Format) -> Result<(), String> {
    let survey = survey();
    let req = ExportRequest {
        survey: survey.id.clone(),
        rounds: Rounds::All,
        format,
        include_text: false,
        lang: lang::Lang::De,
        distributions: Default::default(),
    };
    let start = Instant::now();
    let pass = Passphrase::new(PASSPHRASE).map_err(|e| e.to_string())?;
    let s = Store::open_existing(dir, &pass).map_err(|e| e.to_string())?;
    let opened = start.elapsed().as_secs_f64();
    let file = export_file(&s, &survey, &req, "bench", jiff::Timestamp::now()).map_err(|e| e.to_string())?;
    if std::env::var("EXPORT_BENCH_PHASES").is_ok() {
        eprintln!("    open store {opened:.3} s");
    }
    let secs = start.elapsed().as_secs_f64();
    if std::env::var("EXPORT_BENCH_PHASES").is_ok() {
        phases(&s, &survey, format)?;
    }
    drop(s);
    let (cpu, rss) = usage();
    println!("{secs:.3} {cpu:.3} {rss:.1} {}", file.bytes.len());
    Ok(())
}

/// Where the time of one export goes (printed to stderr; not part of the figures).
fn phases(s: &Store, survey: &survey::Survey, format: Format) -> Result<(), String> {
    let t = Instant::now();
    let mut rounds: Vec<_> = s.rounds().map_err(|e| e.to_string())?;
    rounds.sort_by_key(|r| r.round);
    let mut inputs = Vec::new();
    for info in &rounds {
        let answers = s.answers(&survey.id, info.round).map_err(|e| e.to_string())?;
        let part = stats::Participation::from_ledger(&[], &survey.id, info.round, 0);
        inputs.push(stats::RoundInput::new(info, part, answers));
    }
    let scan = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = stats::build_report(survey, inputs, stats::Policy::new(5), jiff::Timestamp::now())
        .map_err(|e| e.to_string())?;
    let st = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let bytes = export::render(&report, format, lang::Lang::De).map_err(|e| e.to_string())?;
    eprintln!(
        "    phases {}: scan {scan:.3} s, statistics {st:.3} s, render {:.3} s ({} bytes)",
        format.name(),
        t.elapsed().as_secs_f64(),
        bytes.len()
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("export") {
        let (Some(dir), Some(format)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: export-bench export DIR FORMAT");
            std::process::exit(2);
        };
        let result = format
            .parse::<Format>()
            .map_err(|e| e.to_string())
            .and_then(|f| export_once(Path::new(dir), f));
        if let Err(e) = result {
            eprintln!("export failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("fill") {
        // For profiling: fill DIR and keep it (then `export DIR FORMAT` under a profiler).
        let Some(dir) = args.get(2) else {
            eprintln!("usage: export-bench fill DIR");
            std::process::exit(2);
        };
        match fill(Path::new(dir)) {
            Ok((n, items)) => println!("{n} responses, {items} item answers in {dir}"),
            Err(e) => {
                eprintln!("fill failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let runs: usize = std::env::var("EXPORT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("export-bench: 1 answer = 1 item answer (one question answered by one person)");
    println!(
        "machine: {cores} cores, load average at start {} (cores shared with other builds)",
        loadavg()
    );
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => panic!("tempdir: {e}"),
    };
    let dir = tmp.path().join("store");
    let t = Instant::now();
    let (responses, items) = match fill(&dir) {
        Ok(x) => x,
        Err(e) => panic!("fill: {e}"),
    };
    println!(
        "filled: {responses} responses shaped like surveys/pilot-baseline.toml in {ROUNDS} rounds, \
         {items} item answers, in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => panic!("current_exe: {e}"),
    };
    println!(
        "export --all (open store, decrypt and scan, statistics of {ROUNDS} rounds + trends, render), {runs} run(s) each, fresh process per run:"
    );
    for format in [Format::Json, Format::Html] {
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        let mut rss: f64 = 0.0;
        let mut bytes = 0;
        for _ in 0..runs {
            let out = match Command::new(&exe)
                .stderr(std::process::Stdio::inherit())
                .args(["export", &dir.display().to_string(), format.name()])
                .output()
            {
                Ok(o) => o,
                Err(e) => panic!("child: {e}"),
            };
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if !out.status.success() || f.len() != 4 {
                panic!(
                    "export {format} failed: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            wall.push(f[0]);
            cpu.push(f[1]);
            rss = rss.max(f[2]);
            bytes = f[3] as u64;
        }
        let m = median(wall.clone());
        println!(
            "  {:<5} median {m:.3} s (min {:.3}, max {:.3}), CPU {:.3} s, peak RSS {rss:.0} MiB, output {} KiB — target ≤ {TARGET_S} s: {}",
            format.name(),
            wall.iter().copied().fold(f64::INFINITY, f64::min),
            wall.iter().copied().fold(0.0, f64::max),
            median(cpu),
            bytes / 1024,
            if m <= TARGET_S { "MET" } else { "MISSED" }
        );
    }
}
