//! Privacy tests on a realistic workload: 1,000 participants, 3 rounds of an anonymous
//! survey (plus 3 rounds of a pseudonymous one for 200 of them), German free text.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::super::tables::{self, conversation_key, ledger_key};
use super::*;

const PARTICIPANTS: usize = 1000;
const PAIRED: usize = 200;

struct Workload {
    _dir: tempfile::TempDir,
    store: Store,
    /// Plain-text needles that must never appear in the files.
    needles: Vec<Vec<u8>>,
}

fn text(i: usize, survey: &str, r: u32) -> String {
    format!(
        "Größere Schrift wäre schön – Teilnehmerin {i} äußert in {survey} Runde {r}: übersichtlich"
    )
}

fn workload() -> &'static Workload {
    static W: OnceLock<Workload> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for i in 0..PARTICIPANTS {
            consent(&s, i);
            needles.push(user(i).into_bytes());
            needles.push(room(i).into_bytes());
        }
        for (survey, mode, n) in [
            ("bm", Mode::Anonymous, PARTICIPANTS),
            ("paar", Mode::Pseudonymous, PAIRED),
        ] {
            for r in 1..=3u32 {
                let opened = t0() + SignedDuration::from_hours(24 * 7 * i64::from(r));
                s.open_round(survey, r, mode, opened).expect("round");
                for i in 0..n {
                    let u = user(i);
                    s.start_round(&u, survey, r, &[msg(&room(i), "Neue Kurzumfrage")])
                        .expect("start");
                    // 10 % leave the round unfinished (partial at close, drafts in round 3).
                    let items = if i % 10 == 3 { 2 } else { 4 };
                    for item in 0..items {
                        let value = match item {
                            0 => AnswerValue::Choice(format!("{}", 1 + (i + item) % 5)),
                            1 => AnswerValue::Number(((i * 7 + r as usize) % 11) as i64),
                            2 => AnswerValue::Text(text(i, survey, r)),
                            _ => AnswerValue::Multi(vec!["a".into(), "c".into()]),
                        };
                        let ev = format!("$ev{i}x{survey}{r}i{item}Qz");
                        needles.push(ev.clone().into_bytes());
                        let step = answer_step(room(i), format!("q{item}"), value, item == 3);
                        s.record_answer(&u, survey, r, &ev, step).expect("record");
                    }
                    if i % 10 != 3 {
                        needles.push(text(i, survey, r).into_bytes());
                    }
                }
                if r < 3 {
                    s.close_round(survey, r, opened + SignedDuration::from_hours(48))
                        .expect("close");
                }
            }
        }
        // Drafts of round 3 (still open) hold texts too.
        for i in (3..PARTICIPANTS).step_by(10) {
            needles.push(text(i, "bm", 3).into_bytes());
        }
        for r in s.answers("paar", 1).expect("answers") {
            needles.push(r.pseudonym.expect("pseudonymous round").into_bytes());
        }
        s.opt_out(&user(5), t0(), &[]).expect("opt out");
        s.flush().expect("flush");
        Workload {
            _dir: dir,
            store: s,
            needles,
        }
    })
}

/// Finds any needle in `hay` (bucketed by the needles' first 4 bytes).
fn find_any<'a>(hay: &[u8], index: &HashMap<[u8; 4], Vec<&'a [u8]>>) -> Option<&'a [u8]> {
    // Cheap prefilter on the first two bytes (this runs unoptimized in debug tests).
    let mut first2 = vec![false; 1 << 16];
    for k in index.keys() {
        first2[usize::from(k[0]) << 8 | usize::from(k[1])] = true;
    }
    for pos in 0..hay.len().saturating_sub(3) {
        if !first2[usize::from(hay[pos]) << 8 | usize::from(hay[pos + 1])] {
            continue;
        }
        let w = [hay[pos], hay[pos + 1], hay[pos + 2], hay[pos + 3]];
        if let Some(cands) = index.get(&w) {
            for n in cands {
                if hay[pos..].starts_with(n) {
                    return Some(n);
                }
            }
        }
    }
    None
}

#[test]
fn no_identity_answer_or_pseudonym_in_the_raw_bytes() {
    let w = workload();
    let mut index: HashMap<[u8; 4], Vec<&[u8]>> = HashMap::new();
    let extra: Vec<&[u8]> = vec![
        b"stadt.example",
        b"teilnehmer",
        "Größere".as_bytes(),
        "äußert".as_bytes(),
    ];
    for n in w.needles.iter().map(|n| n.as_slice()).chain(extra) {
        index.entry([n[0], n[1], n[2], n[3]]).or_default().push(n);
    }
    let files = file_bytes(w.store.path());
    let total: usize = files.values().map(|b| b.len()).sum();
    assert!(total > 1_000_000, "the workload wrote data ({total} bytes)");
    for (path, bytes) in &files {
        if let Some(n) = find_any(bytes, &index) {
            panic!(
                "{} contains plain text ({} bytes long needle)",
                path.display(),
                n.len()
            );
        }
    }
    // The scanner itself works: it finds a needle planted in a buffer.
    let mut planted = vec![0u8; 100];
    planted.extend_from_slice(&w.needles[1]);
    assert!(find_any(&planted, &index).is_some());
}

#[test]
fn answers_cannot_be_joined_to_participants() {
    let w = workload();
    let s = &w.store;
    let c = s.crypt();
    // Everything identifying the linked side, as an attacker with the passphrase sees it.
    let mut linked: HashSet<Vec<u8>> = HashSet::new();
    let mut linked_strings: HashSet<String> = HashSet::new();
    for e in s.participants().expect("ledger") {
        linked_strings.insert(e.user_id.clone());
        linked_strings.extend(e.dm_room.clone());
    }
    for kv in s.tree(tables::LEDGER).iter() {
        let (k, _) = kv.expect("read");
        linked.insert(k.to_vec());
    }
    // A conversation key starts with its round's prefix, which the answers of that round
    // share by design (it names the round, not a person); the rest is the participant's.
    for kv in s.tree(tables::CONVERSATIONS).iter() {
        let (k, _) = kv.expect("read");
        linked.insert(k[16..].to_vec());
    }
    for (_, conv) in s
        .scan::<super::super::conversation::ConversationRecord>(tables::CONVERSATIONS, b"")
        .expect("conv")
    {
        linked_strings.extend(conv.state.counted.raw().map(str::to_owned));
    }
    for m in s.pending().expect("outbox") {
        linked_strings.insert(m.txn_id.clone());
    }
    // Every keyed hash an attacker can compute from a participant list.
    for i in 0..PARTICIPANTS {
        let u = user(i);
        linked.insert(ledger_key(c, &u).to_vec());
        for survey in ["bm", "paar"] {
            for r in 1..=3 {
                let ck = conversation_key(c, &u, survey, r);
                linked.insert(ck[16..].to_vec());
                for table in ["answers", "round", "ledger", "conversations"] {
                    linked.insert(c.hash(table, &[u.as_bytes()]).to_vec());
                    linked.insert(
                        c.hash(table, &[u.as_bytes(), survey.as_bytes(), &r.to_be_bytes()])
                            .to_vec(),
                    );
                }
            }
        }
    }
    // Every 16-byte window of every linked hash.
    let linked16: HashSet<&[u8]> = linked.iter().flat_map(|l| l.windows(16)).collect();
    let mut order_bm1 = Vec::new();
    for kv in s.tree(tables::ANSWERS).iter() {
        let (k, v) = kv.expect("read");
        // No hash of anything linked inside the answer key (prefix = round, suffix = random).
        for w in k.windows(16) {
            assert!(
                !linked16.contains(w),
                "answer key embeds a participant hash"
            );
        }
        let rec: AnswerRecord = c.open_model("answers", &v).expect("decrypts");
        let dbg = format!("{rec:?}");
        assert!(!dbg.contains("2025-"), "no timestamp in a response");
        assert!(
            !dbg.contains('$') && !dbg.contains('@') && !dbg.contains('!'),
            "no event, user or room id"
        );
        // Every string the response holds, checked against every linked identifier.
        let mut strings: Vec<&str> = vec![rec.survey_id.as_str()];
        strings.extend(rec.pseudonym.as_deref());
        for (item, v) in &rec.answers {
            strings.push(item);
            match v {
                AnswerValue::Choice(x) | AnswerValue::Text(x) => strings.push(x),
                AnswerValue::Multi(xs) => strings.extend(xs.iter().map(|x| x.as_str())),
                AnswerValue::Number(_) | AnswerValue::Skipped => {}
            }
        }
        for x in strings {
            assert!(
                !linked_strings.contains(x),
                "response contains a linked identifier"
            );
        }
        if rec.survey_id == "bm" {
            assert_eq!(rec.pseudonym, None, "anonymous mode has no pseudonym");
        }
        if let (true, Some(AnswerValue::Text(t))) = (
            rec.survey_id == "bm" && rec.round == 1,
            rec.answers.get("q2"),
        ) {
            let i: usize = t
                .split("Teilnehmerin ")
                .nth(1)
                .and_then(|x| x.split(' ').next())
                .and_then(|x| x.parse().ok())
                .expect("test text carries its index");
            order_bm1.push(i);
        }
    }
    // Insert order (= finishing order = participant index here) is not the key order.
    let n = order_bm1.len() as f64;
    assert!(n > 800.0);
    let mut ranks: Vec<(usize, usize)> = order_bm1.iter().copied().enumerate().collect();
    ranks.sort_by_key(|&(_, i)| i);
    let d2: f64 = ranks
        .iter()
        .enumerate()
        .map(|(rank_i, &(pos, _))| ((pos as f64) - (rank_i as f64)).powi(2))
        .sum();
    let rho = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
    assert!(
        rho.abs() < 0.1,
        "key order correlates with finishing order (rho = {rho:.3})"
    );
    // Finished texts live only in the answer store: no linked table repeats them.
    for (_, conv) in s
        .scan::<super::super::conversation::ConversationRecord>(tables::CONVERSATIONS, b"")
        .expect("conv")
    {
        assert_eq!(conv.round, 3, "closed rounds leave no drafts");
        for v in conv.state.answers.values() {
            if let AnswerValue::Text(t) = v {
                assert!(t.contains("Runde 3"));
            }
        }
    }
    let report = s.check().expect("check");
    assert!(report.is_ok(), "{report}");
}
