//! The parallel full scan, the borrowed view and the bulk insert (issue 4 benchmark paths).

use std::collections::BTreeMap;

use super::super::parallel::par_map;
use super::super::records::Persisted;
use super::super::scan::{AnswerValueRef, AnswerView};
use super::super::tables;
use super::super::*;
use super::{pass, t0};
use crate::model::AnswerValue;

fn fast() -> StoreOptions {
    StoreOptions {
        sync_on_commit: false,
    }
}

/// Response `i` of round `round`: every kind of item answer, German text, a unique marker.
fn record(survey: &str, round: u32, i: usize) -> AnswerRecord {
    let mut answers = BTreeMap::new();
    answers.insert(
        "a.choice".into(),
        AnswerValue::Choice(format!("{}", i % 5 + 1)),
    );
    answers.insert(
        "b.multi".into(),
        AnswerValue::Multi(vec!["o1".into(), format!("o{}", i % 4 + 2)]),
    );
    answers.insert("c.number".into(), AnswerValue::Number(i as i64 - 3));
    answers.insert(
        "d.text".into(),
        AnswerValue::Text(format!("Größere Schrift wäre schön, Nr. {i}")),
    );
    answers.insert("e.skipped".into(), AnswerValue::Skipped);
    AnswerRecord {
        survey_id: survey.into(),
        round,
        complete: !i.is_multiple_of(7),
        answers,
        pseudonym: i.is_multiple_of(2).then(|| format!("{i:032x}")),
    }
}

#[test]
fn view_decodes_the_same_bytes_as_the_record() {
    for i in 0..20 {
        let r = record("pilot", 3, i);
        let bytes = postcard::to_allocvec(&r.to_record()).expect("encode");
        let view: AnswerView<'_> = postcard::from_bytes(&bytes).expect("decode view");
        assert_eq!(view.to_record(), r);
        assert_eq!(view.answers.len(), r.answers.len());
        // Stored order is the BTreeMap's: sorted by item id.
        assert!(view.answers.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(matches!(view.answers[4].1, AnswerValueRef::Skipped));
    }
    let empty = AnswerRecord {
        survey_id: "s".into(),
        round: 0,
        complete: false,
        answers: BTreeMap::new(),
        pseudonym: None,
    };
    let bytes = postcard::to_allocvec(&empty.to_record()).expect("encode");
    let view: AnswerView<'_> = postcard::from_bytes(&bytes).expect("decode view");
    assert_eq!(view.to_record(), empty);
}

#[test]
fn fold_answers_sees_every_response_exactly_once_with_any_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    let mut expected = Vec::new();
    for (survey, round, n) in [("pilot", 1, 700), ("pilot", 2, 5), ("pulse", 1, 300)] {
        s.open_round(survey, round, Mode::Anonymous, t0())
            .expect("round");
        let recs: Vec<_> = (0..n).map(|i| record(survey, round, i)).collect();
        for chunk in recs.chunks(256) {
            s.insert_answers(chunk).expect("insert");
        }
        expected.extend(recs);
    }
    let key = |r: &AnswerRecord| postcard::to_allocvec(&r.to_record()).expect("encode");
    let mut want: Vec<Vec<u8>> = expected.iter().map(key).collect();
    want.sort();
    for threads in [1, 2, 3, 8] {
        let (accs, stats) = s
            .fold_answers_with(threads, Vec::new, |acc, v| acc.push(v.to_record()))
            .expect("scan");
        assert_eq!(stats.threads, threads);
        assert_eq!(stats.responses, expected.len() as u64);
        assert_eq!(accs.len(), threads);
        let mut got: Vec<Vec<u8>> = accs.iter().flatten().map(key).collect();
        got.sort();
        assert_eq!(got, want, "{threads} threads");
    }
    // The sequential scan agrees.
    let mut seq = Vec::new();
    s.for_each_answer(|r| seq.push(key(&r))).expect("scan");
    seq.sort();
    assert_eq!(seq, want);
    // The counters were bumped per round.
    let counts: BTreeMap<_, _> = s
        .rounds()
        .expect("rounds")
        .into_iter()
        .map(|r| ((r.survey_id, r.round), r.responses))
        .collect();
    assert_eq!(counts[&("pilot".to_owned(), 1)], 700);
    assert_eq!(counts[&("pilot".to_owned(), 2)], 5);
    assert_eq!(counts[&("pulse".to_owned(), 1)], 300);
    s.check().expect("check passes");
}

#[test]
fn fold_answers_covers_answers_of_rounds_the_rounds_table_does_not_know() {
    // The split points come from the rounds table; answers under other prefixes must still
    // be scanned (completeness never depends on the split points).
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    s.open_round("pilot", 1, Mode::Anonymous, t0())
        .expect("round");
    s.insert_answers(&(0..50).map(|i| record("pilot", 1, i)).collect::<Vec<_>>())
        .expect("insert");
    let raw = s.raw_tree_for_bench();
    let mut k = vec![0u8; 32];
    for b in [0x00u8, 0x7f, 0xff] {
        k[0] = b;
        k[31] = b;
        raw.insert(
            &k,
            s.crypt()
                .seal_model(&record("orphan", 9, b.into()))
                .expect("seal"),
        )
        .expect("insert");
    }
    let (accs, stats) = s
        .fold_answers_with(
            2,
            || 0usize,
            |n, v| *n += usize::from(v.survey_id == "orphan"),
        )
        .expect("scan");
    assert_eq!(stats.responses, 53);
    assert_eq!(accs.iter().sum::<usize>(), 3);
}

#[test]
fn fold_answers_reports_a_corrupted_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    s.open_round("pilot", 1, Mode::Anonymous, t0())
        .expect("round");
    s.insert_answers(&(0..300).map(|i| record("pilot", 1, i)).collect::<Vec<_>>())
        .expect("insert");
    let raw = s.raw_tree_for_bench();
    let (k, v) = raw.iter().nth(150).expect("an entry").expect("readable");
    let mut v = v.to_vec();
    let last = v.len() - 1;
    v[last] ^= 0x40;
    raw.insert(&k, v).expect("write");
    for threads in [1, 2] {
        let r = s.fold_answers_with(threads, || (), |_, _| ());
        assert!(
            matches!(
                r,
                Err(StoreError::Corrupt {
                    table: "answers",
                    ..
                })
            ),
            "{r:?}"
        );
    }
}

#[test]
fn insert_answers_is_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open_with(dir.path(), &pass(), fast(), true).expect("open");
    s.open_round("pilot", 1, Mode::Anonymous, t0())
        .expect("round");
    // 200 good records and one for a round that was never opened: nothing is written.
    let mut recs: Vec<_> = (0..200).map(|i| record("pilot", 1, i)).collect();
    recs.push(record("pilot", 2, 0));
    assert!(matches!(
        s.insert_answers(&recs),
        Err(StoreError::UnknownRound { round: 2, .. })
    ));
    assert_eq!(s.tree(tables::ANSWERS).len(), 0);
    assert_eq!(s.rounds().expect("rounds")[0].responses, 0);
    recs.pop();
    s.insert_answers(&recs).expect("insert");
    assert_eq!(s.answers("pilot", 1).expect("answers").len(), 200);
    assert_eq!(s.rounds().expect("rounds")[0].responses, 200);
    s.check().expect("check passes");
}

#[test]
fn par_map_keeps_order_and_handles_small_inputs() {
    let xs: Vec<u32> = (0..1000).collect();
    for threads in [0, 1, 2, 3, 16] {
        assert_eq!(
            par_map(&xs, threads, |x| x * 2),
            xs.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
    }
    assert!(par_map(&[] as &[u32], 2, |x| *x).is_empty());
    assert_eq!(par_map(&[5u32], 2, |x| *x), vec![5]);
}
