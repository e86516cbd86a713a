//! Import parsing against the shipped pilot survey and the statistics fixture survey, with
//! the LimeSurvey-style fixtures in `tests/fixtures/import/`.

use super::*;
use crate::survey::{SurveyDefaults, parse_str};

const BASELINE: &str = include_str!("../../../tests/fixtures/surveys/baseline-2025.toml");
const GOOD_CSV: &[u8] = include_bytes!("../../../tests/fixtures/import/limesurvey-webex.csv");
const BAD_CSV: &[u8] = include_bytes!("../../../tests/fixtures/import/malformed.csv");
const MAPPING: &str = include_str!("../../../tests/fixtures/import/limesurvey-webex.toml");

fn baseline() -> Survey {
    match parse_str("pilot-baseline.toml", BASELINE, &SurveyDefaults::default()) {
        Ok(s) => s,
        Err(d) => panic!("{d:?}"),
    }
}

fn rows_err(r: Result<Parsed, ImportError>) -> (Vec<RowProblem>, usize) {
    match r {
        Err(ImportError::Rows { problems, total }) => (problems, total),
        other => panic!("expected row problems, got {other:?}"),
    }
}

#[test]
fn limesurvey_fixture_maps_codes_to_points_and_marks_partial_responses() {
    let p = match parse(&baseline(), MAPPING, GOOD_CSV) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    // 12 rows: 10 submitted, 1 left after three statements, 1 opened and left empty.
    assert_eq!(p.records.len(), 11);
    assert_eq!(p.complete(), 10);
    assert_eq!(p.empty_rows, 1);
    assert!(p.unmapped_columns.is_empty(), "{:?}", p.unmapped_columns);
    // Row 1 (line 2): "A4","A3","A3","A2","A5","A1","A4","A3","A3","A2", no comment.
    let first = &p.records[0];
    let points: Vec<String> = (1..=10)
        .map(|i| match first.answers.get(&format!("sus_webex.{i}")) {
            Some(AnswerValue::Choice(c)) => c.clone(),
            other => panic!("sus_webex.{i}: {other:?}"),
        })
        .collect();
    assert_eq!(points, ["4", "3", "3", "2", "5", "1", "4", "3", "3", "2"]);
    assert!(first.complete && first.survey_id == "pilot-baseline" && first.pseudonym.is_none());
    assert!(
        !first.answers.contains_key("obstacle"),
        "empty cell = missing"
    );
    assert!(!first.answers.keys().any(|k| k.starts_with("sus_bm")));
    // Quoted commas, doubled quotes and a line break inside a cell survive.
    let texts: Vec<&str> = p
        .records
        .iter()
        .filter_map(|r| match r.answers.get("obstacle") {
            Some(AnswerValue::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Zu viele Klicks bis zur Videokonferenz",
            "Ton bricht ab, \"Echo\" im Raum",
            "Anmeldung dauert, zwei Faktoren\nund VPN"
        ]
    );
    let partial = &p.records[10];
    assert!(!partial.complete);
    assert_eq!(partial.answers.len(), 3);
}

#[test]
fn malformed_fixture_names_every_bad_line_and_column() {
    let (problems, total) = rows_err(parse(&baseline(), MAPPING, BAD_CSV));
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(total, 4, "{shown:#?}");
    assert!(
        shown[0]
            .starts_with("line 4, column `SUSW[SQ003]`: `A7` is not in code table [values.agree5]"),
        "{shown:#?}"
    );
    assert!(
        shown[1].starts_with("line 6, column `SUSW[SQ010]`: `5` is not in code table"),
        "{shown:#?}"
    );
    assert_eq!(shown[2], "line 7: 16 fields, the header has 17");
    // Record 9 starts on line 11: record 7 holds a line break inside a quoted cell.
    assert!(
        shown[3].starts_with("line 11, column `SUSW[SQ001]`: `A0`"),
        "{shown:#?}"
    );
}

#[test]
fn header_problems_are_named() {
    let csv = b"id,submitdate,SUSW[SQ001],SUSW[SQ001]\n1,x,A1,A2\n";
    match parse(&baseline(), MAPPING, csv) {
        Err(ImportError::Header(e)) => {
            assert!(
                e.contains(&"column `SUSW[SQ001]` appears twice".to_owned()),
                "{e:?}"
            );
            assert!(
                e.contains(&"mapped column `SUSW[SQ002]` is not in the file".to_owned()),
                "{e:?}"
            );
            assert!(
                e.contains(&"mapped column `Hindernis` is not in the file".to_owned()),
                "{e:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mapping_is_checked_against_the_survey() {
    let m = r#"
        [values.agree5]
        A1 = 1
        A9 = 9
        [values.words]
        yes = "ja"
        [[columns]]
        column = "a"
        item = "sus_webex.1"
        values = "agree5"
        [[columns]]
        column = "b"
        item = "nosuch.1"
        [[columns]]
        column = "a"
        item = "sus_webex.2"
        values = "missing_table"
        [[columns]]
        column = "c"
        item = "recommend_bm.1"
        values = "words"
        [[columns]]
        column = "d"
        item = "obstacle"
        option = "x"
    "#;
    match parse(&baseline(), m, b"a,b,c,d\n") {
        Err(ImportError::Mapping(e)) => {
            let all = e.join("\n");
            for needle in [
                "[values.agree5] A9 = 9: `9` is not an answer of `sus_webex.1`",
                "columns[2] (column `b`): survey `pilot-baseline` has no item `nosuch.1`",
                "columns[3] (column `a`): column mapped twice (also columns[1])",
                "columns[3] (column `a`): no code table [values.missing_table]",
                "`ja` is not a number for a 0–10 item",
                "columns[5] (column `d`): `option` is only for multiple-choice items",
            ] {
                assert!(all.contains(needle), "missing `{needle}` in:\n{all}");
            }
        }
        other => panic!("{other:?}"),
    }
    // Not TOML at all: the parser's message with its position.
    match parse(&baseline(), "[[columns]\n", b"a\n") {
        Err(ImportError::Mapping(e)) => assert!(e[0].contains("line 1"), "{e:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn scale_choice_multi_and_missing_codes_on_every_item_type() {
    let survey = crate::stats::fixture::survey();
    let m = r#"
        [csv]
        delimiter = ";"
        missing = ["N/A"]
        [values.usage]
        A1 = "daily"
        A2 = "weekly"
        A3 = "rarely"
        [[columns]]
        column = "NPS"
        item = "nps_bm.1"
        [[columns]]
        column = "Nutzung"
        item = "usage"
        values = "usage"
        [[columns]]
        column = "F_chat"
        item = "features"
        option = "chat"
        [[columns]]
        column = "F_files"
        item = "features"
        option = "files"
        [[columns]]
        column = "Note"
        item = "notify"
    "#;
    let csv = "NPS;Nutzung;F_chat;F_files;Note;Extra\n\
               9;A1;Y;;4;x\n\
               7.0;N/A;N;N;;x\n\
               ;A3;;;;x\n";
    let p = match parse(&survey, m, csv.as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(p.unmapped_columns, ["Extra"]);
    let a = &p.records[0].answers;
    assert_eq!(a.get("nps_bm.1"), Some(&AnswerValue::Number(9)));
    assert_eq!(a.get("usage"), Some(&AnswerValue::Choice("daily".into())));
    assert_eq!(
        a.get("features"),
        Some(&AnswerValue::Multi(vec!["chat".into()]))
    );
    assert_eq!(a.get("notify"), Some(&AnswerValue::Choice("4".into())));
    let b = &p.records[1].answers;
    assert_eq!(b.get("nps_bm.1"), Some(&AnswerValue::Number(7)));
    assert_eq!(b.get("usage"), None, "N/A is missing");
    // Only "not selected" marks: no answer, as in the bot's data (at least one option).
    assert_eq!(b.get("features"), None);
    let c = &p.records[2].answers;
    assert_eq!(c.len(), 1, "only usage: {c:?}");
    assert!(
        p.records.iter().all(|r| r.complete),
        "no complete_column: all complete"
    );

    let bad = "NPS;Nutzung;F_chat;F_files;Note;Extra\n\
               11;A4;ja;;9;x\n";
    let (problems, total) = rows_err(parse(&survey, m, bad.as_bytes()));
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(total, 4, "{shown:#?}");
    assert!(
        shown.contains(&"line 2, column `NPS`: 11 is outside 0–10".to_owned()),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s
                .starts_with("line 2, column `Nutzung`: `A4` is not in code table [values.usage]")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("line 2, column `F_chat`: `ja` is neither")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("line 2, column `Note`: `9` is not an answer of `notify`")),
        "{shown:#?}"
    );
}

#[test]
fn a_file_without_answers_is_refused() {
    let csv = "\u{feff}id,submitdate,lastpage,startlanguage,seed,SUSW[SQ001],SUSW[SQ002],SUSW[SQ003],SUSW[SQ004],SUSW[SQ005],SUSW[SQ006],SUSW[SQ007],SUSW[SQ008],SUSW[SQ009],SUSW[SQ010],NPSW,Hindernis\n";
    assert!(matches!(
        parse(&baseline(), MAPPING, csv.as_bytes()),
        Err(ImportError::Empty)
    ));
}
