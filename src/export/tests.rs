//! Snapshot tests of every format from one fixed data set (`stats::fixture`), plus the
//! format-level guarantees: suppressed figures are marked, free text needs the flag, CSV
//! cells cannot become formulas.
//!
//! Expected files live in `tests/snapshots/`; after an intended change, rewrite them with
//! `PULSEBOT_BLESS=1 cargo test --lib export` and review the diff.

use std::path::PathBuf;

use super::*;
use crate::stats::{Policy, build_report, fixture};

fn fixture_report(include_text: bool) -> Report {
    match build_report(
        &fixture::survey(),
        fixture::rounds(),
        Policy::new(5).with_text(include_text),
        fixture::generated_at(),
    ) {
        Ok(r) => r,
        Err(e) => panic!("fixture report: {e}"),
    }
}

/// Compares with (or, with `PULSEBOT_BLESS=1`, rewrites) `tests/snapshots/<name>`.
fn snapshot(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var("PULSEBOT_BLESS").is_ok_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        }
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path:?}: {e} (create it with PULSEBOT_BLESS=1 cargo test --lib export)")
    });
    if expected != actual {
        let (e, a) = (
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        );
        let line = e
            .lines()
            .zip(a.lines())
            .position(|(x, y)| x != y)
            .unwrap_or_else(|| e.lines().count().min(a.lines().count()));
        panic!(
            "{name} differs from the snapshot at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             (rewrite with PULSEBOT_BLESS=1 if the change is intended)",
            line + 1,
            e.lines().nth(line),
            a.lines().nth(line)
        );
    }
}

#[test]
fn snapshot_every_format() {
    let r = fixture_report(true);
    for (name, format, lang) in [
        ("report.json", Format::Json, Lang::De),
        ("report.csv", Format::Csv, Lang::De),
        ("report-de.csv", Format::CsvDe, Lang::De),
        ("report.de.md", Format::Markdown, Lang::De),
        ("report.en.md", Format::Markdown, Lang::En),
    ] {
        match render(&r, format, lang) {
            Ok(bytes) => snapshot(name, &bytes),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    snapshot("summary.de.md", markdown::summary(&r, Lang::De).as_bytes());
    snapshot("summary.en.md", markdown::summary(&r, Lang::En).as_bytes());
}

#[test]
fn json_is_versioned_and_marks_suppression() {
    let r = fixture_report(false);
    let j: serde_json::Value = match json::to_string(&r).map(|s| serde_json::from_str(&s)) {
        Ok(Ok(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(j["schema_version"], crate::stats::SCHEMA_VERSION);
    // Round 3 has 3 responses (< k = 5): every item and instrument is null and marked.
    let r3 = &j["rounds"][2];
    assert_eq!(r3["round"], 3);
    for item in r3["items"].as_array().into_iter().flatten() {
        assert_eq!(item["n"], serde_json::Value::Null, "{item}");
        assert_eq!(item["suppressed"], true, "{item}");
        assert!(item["reason"].is_string(), "{item}");
    }
    for inst in r3["instruments"].as_array().into_iter().flatten() {
        assert_eq!(inst["mean"], serde_json::Value::Null);
        assert_eq!(inst["reason"], "below_min_group_size");
    }
    // Free text without the flag: withheld with its reason even where n ≥ 10.
    let comment = j["rounds"][0]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["id"] == "comment")
        .cloned()
        .unwrap_or_default();
    assert_eq!(comment["texts"]["answers"], serde_json::Value::Null);
    assert_eq!(comment["texts"]["reason"], "text_not_requested");
    // Every suppressed flag comes with a reason, and every reason with a suppressed flag.
    fn walk(v: &serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(s) = m.get("suppressed") {
                    assert_eq!(
                        s == true,
                        m.get("reason").is_some_and(|r| r.is_string()),
                        "{v}"
                    );
                }
                m.values().for_each(walk);
            }
            serde_json::Value::Array(a) => a.iter().for_each(walk),
            _ => {}
        }
    }
    walk(&j);
}

#[test]
fn csv_de_uses_semicolons_decimal_commas_and_a_bom() {
    let r = fixture_report(true);
    let de = render(&r, Format::CsvDe, Lang::De).unwrap_or_default();
    let text = String::from_utf8(de).unwrap_or_default();
    assert!(text.starts_with('\u{feff}'));
    let header = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    assert_eq!(header, HEADER_DE);
    // A mean with decimals is written with a comma, and no field uses a decimal point.
    assert!(
        text.contains(";mean;78,") || text.contains(";mean;7"),
        "no mean row?"
    );
    for line in text.lines().skip(1) {
        let value = line.split(';').nth(7).unwrap_or("");
        if value.parse::<f64>().is_ok() {
            assert!(!value.contains('.'), "decimal point in {line}");
        }
    }
}

const HEADER_DE: &str = "survey;round;section;id;subject;detail;figure;value;suppressed;reason";

#[test]
fn csv_never_lets_a_spreadsheet_run_free_text() {
    let r = fixture_report(true);
    let csv = String::from_utf8(render(&r, Format::Csv, Lang::De).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        csv.contains("'=HYPERLINK"),
        "formula-like free text must be quoted"
    );
    assert!(!csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"));
}

#[test]
fn suppressed_figures_have_an_empty_value_and_a_reason_in_csv() {
    let r = fixture_report(false);
    let csv = String::from_utf8(render(&r, Format::Csv, Lang::En).unwrap_or_default())
        .unwrap_or_default();
    let mut rdr = ::csv::Reader::from_reader(csv.as_bytes());
    let mut suppressed = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap_or_default();
        let (value, flag, reason) = (&rec[7], &rec[8], &rec[9]);
        match flag {
            "true" => {
                suppressed += 1;
                assert!(value.is_empty() && !reason.is_empty(), "{rec:?}");
            }
            "false" => assert!(!value.is_empty() && reason.is_empty(), "{rec:?}"),
            other => panic!("bad flag {other}"),
        }
    }
    assert!(suppressed > 0);
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>(), Ok(f));
    }
    assert_eq!("markdown".parse::<Format>(), Ok(Format::Markdown));
    assert!("html".parse::<Format>().is_err());
    let r = fixture_report(false);
    assert_eq!(
        audit_detail(&r, Format::CsvDe),
        "survey=fixture rounds=1,2,3 format=csv-de k=5 include_text=false"
    );
}

#[test]
fn markdown_renders_free_text_inert() {
    assert_eq!(
        markdown::escape_for_test("<img src=x> [a](http://x) *b*\nzwei"),
        "&lt;img src=x&gt; \\[a\\]\\(http://x\\) \\*b\\* zwei"
    );
}
