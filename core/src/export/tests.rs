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
        .join("../tests/snapshots")
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
        ("report.de.html", Format::Html, Lang::De),
        ("report.en.html", Format::Html, Lang::En),
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
    assert_eq!("HTML".parse::<Format>(), Ok(Format::Html));
    assert!("pdf".parse::<Format>().is_err());
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

/// A small JSON Schema interpreter for the keywords `docs/export-schema.json` uses
/// (`$ref`, `type`, `properties`, `required`, `additionalProperties: false`, `items`,
/// `enum`, `const`, `oneOf`): enough to keep the documented schema and the output in step
/// without a new dependency.
fn validate(
    schema: &serde_json::Value,
    root: &serde_json::Value,
    v: &serde_json::Value,
    path: &str,
) -> Result<(), String> {
    use serde_json::Value as J;
    if let Some(r) = schema.get("$ref").and_then(J::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(&root["$defs"][name], root, v, path);
    }
    if let Some(alts) = schema.get("oneOf").and_then(J::as_array) {
        let ok = alts
            .iter()
            .filter(|s| validate(s, root, v, path).is_ok())
            .count();
        return if ok == 1 {
            Ok(())
        } else {
            Err(format!("{path}: {ok} oneOf alternatives match"))
        };
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        return Err(format!("{path}: {v} is not {c}"));
    }
    if let Some(e) = schema.get("enum").and_then(J::as_array)
        && !e.contains(v)
    {
        return Err(format!("{path}: {v} not in enum"));
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            J::String(s) => vec![s.as_str()],
            J::Array(a) => a.iter().filter_map(J::as_str).collect(),
            _ => vec![],
        };
        let actual = match v {
            J::Null => "null",
            J::Bool(_) => "boolean",
            J::Number(n) if n.is_u64() || n.is_i64() => "integer",
            J::Number(_) => "number",
            J::String(_) => "string",
            J::Array(_) => "array",
            J::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{path}: {actual} is not {types:?}"));
        }
    }
    if let J::Object(m) = v {
        let props = schema.get("properties").and_then(J::as_object);
        for req in schema
            .get("required")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap_or("");
            if !m.contains_key(req) {
                return Err(format!("{path}: missing {req}"));
            }
        }
        for (k, x) in m {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, x, &format!("{path}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&J::Bool(false)) => {
                    return Err(format!("{path}: unexpected field {k}"));
                }
                None => {}
            }
        }
    }
    if let (J::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            validate(items, root, x, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn json_output_matches_the_documented_schema() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/export-schema.json");
    let schema: serde_json::Value = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| panic!("{path:?}: {e}"));
    for include_text in [false, true] {
        let out = json::to_string(&fixture_report(include_text)).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if let Err(e) = validate(&schema, &schema, &v, "$") {
            panic!("export does not match docs/export-schema.json: {e}");
        }
    }
    // The interpreter itself rejects what it should.
    let bad = serde_json::json!({"schema_version": 2});
    assert!(validate(&schema, &schema, &bad, "$").is_err());
}

/// The fixture with enough respondents that the 0–10 distribution has published cells.
fn large_report() -> Report {
    match build_report(
        &fixture::survey(),
        vec![fixture::round(1, 90, 0, 120), fixture::round(2, 4, 0, 120)],
        Policy::new(5),
        fixture::generated_at(),
    ) {
        Ok(r) => r,
        Err(e) => panic!("large report: {e}"),
    }
}

/// Every `<svg class="chart <variant>">…</svg>` of `html`, concatenated: each chart is drawn
/// wide and narrow, and the checks look at one variant at a time.
fn charts_of(html: &str, variant: &str) -> String {
    let open = format!("<svg class=\"chart {variant}\"");
    html.split(&open)
        .skip(1)
        .filter_map(|s| s.split("</svg>").next())
        .map(|s| format!("{open}{s}</svg>"))
        .collect()
}

#[test]
fn html_is_self_contained_escaped_and_draws_only_published_values() {
    let html = html::report(&fixture_report(true), Lang::De).unwrap_or_default();
    // Offline: nothing is fetched (the SVG namespace is an identifier, not a request).
    for needle in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
    ] {
        assert!(!html.contains(needle), "external resource `{needle}`");
    }
    assert_eq!(
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        html.matches("<svg").count()
    );
    // Participant text is data: the formula-like answer appears escaped, never as markup.
    assert!(
        html.contains("=HYPERLINK(&quot;x&quot;"),
        "free text is listed, escaped"
    );
    // Round 3 (3 responses): every SUS value is withheld with its reason, and no bar of it
    // is drawn; the rounds before draw one bar per system each.
    assert!(html.contains("unterdrückt: weniger als 5 Antworten"));
    let section = html.split("<h2 id=\"round-1\"").next().unwrap_or_default();
    // Bars in the systems' colours: BundesMessenger blue, Webex orange, rounds 1 and 2 only;
    // the same in the wide and the narrow drawing.
    for variant in ["wide", "narrow"] {
        let trend = charts_of(section, variant);
        assert_eq!(
            trend.matches("<rect").count(),
            1 + 3 + 4,
            "{variant}: background, 3 bands, 4 bars"
        );
        assert_eq!(trend.matches("fill=\"#005EA8\"").count(), 2, "{trend}");
        assert_eq!(trend.matches("fill=\"#E67800\"").count(), 2, "{trend}");
        assert!(trend.contains("74,2 · n = 21") && trend.contains("63,1 · n = 8"));
    }
    // The English report reads in English with decimal points.
    let en = html::report(&fixture_report(false), Lang::En).unwrap_or_default();
    assert!(en.contains("<html lang=\"en\">") && en.contains("74.2 · n = 21"));
    assert!(
        en.contains("is 10.6 points above Webex"),
        "plain-language comparison"
    );
}

#[test]
fn html_distribution_draws_published_columns_and_marks_small_ones() {
    let r = large_report();
    let html = html::report(&r, Lang::De).unwrap_or_default();
    let round1 = html
        .split("<h2 id=\"round-1\"")
        .nth(1)
        .and_then(|s| s.split("<h2 id=\"round-2\"").next())
        .unwrap_or_default();
    let nps = round1
        .split_once("Verteilung 0–10: Wie wahrscheinlich")
        .and_then(|(_, s)| s.split("</figure>").next())
        .unwrap_or_default();
    assert!(nps.contains("<svg"), "published cells are drawn: {nps}");
    assert_eq!(
        charts_of(nps, "wide").matches("<rect").count(),
        charts_of(nps, "narrow").matches("<rect").count(),
        "both drawings show the same columns"
    );
    let nps = &charts_of(nps, "wide");
    assert!(
        nps.contains(">\nn = 90\n</text>"),
        "the chart names its n: {nps}"
    );
    let item = r.rounds[0]
        .items
        .iter()
        .find(|i| i.id == "nps_bm.1")
        .cloned();
    let Some(item) = item else {
        panic!("no NPS item")
    };
    let shown = item
        .counts
        .iter()
        .filter(|c| !c.count.is_suppressed())
        .count();
    let hidden = item.counts.len() - shown;
    assert!(shown > 0);
    // One bar per published cell (plus the background), a dash per withheld one.
    assert_eq!(nps.matches("<rect").count(), shown + 1, "{nps}");
    let dashes = nps.matches(">\n–\n</text>").count();
    assert_eq!(dashes, hidden, "{nps}");
    // Round 2 (4 responses): the whole figure is replaced by its notice.
    let round2 = html.split("<h2 id=\"round-2\"").nth(1).unwrap_or_default();
    assert!(round2.contains("Abbildung unterdrückt: kein Wert darf gezeigt werden."));
}

/// Issue 16: the readable formats lead with the summary and the method, show the choice
/// items (HTML as in Markdown), name the NPS as such, explain SUS grades, and carry the
/// UMUX-Lite translation caveat in both languages.
#[test]
fn readable_reports_lead_with_summary_and_method_and_show_every_item() {
    let r = fixture_report(false);
    for lang in [Lang::De, Lang::En] {
        let html = String::from_utf8(render(&r, Format::Html, lang).expect("html")).expect("utf-8");
        let md = String::from_utf8(render(&r, Format::Markdown, lang).expect("md")).expect("utf-8");
        let (summary, method, first_round) = match lang {
            Lang::De => ("Zusammenfassung", "Methode", "Runde 1 (03.03.2025"),
            Lang::En => ("Summary", "Method", "Round 1 (2025-03-03"),
        };
        for doc in [&html, &md] {
            let at = |needle: &str| {
                doc.find(needle)
                    .unwrap_or_else(|| panic!("{lang:?}: `{needle}` missing"))
            };
            // Summary, then method, then the details of the rounds.
            assert!(at(summary) < at(method), "{lang:?}");
            let details = doc
                .find("id=\"round-1\"")
                .or_else(|| doc.find(&format!("## {first_round}")))
                .unwrap_or_else(|| panic!("{lang:?}: no round heading"));
            assert!(at(method) < details, "{lang:?}");
            assert!(doc.contains("UMUX-Lite"), "{lang:?}");
            assert!(
                doc.contains(lang.pick("nicht validiert", "not validated")),
                "{lang:?}"
            );
            assert!(doc.contains("B 74"), "{lang:?}: SUS grade legend");
            assert!(
                doc.contains(lang.pick("NPS −42,1", "NPS −42.1"))
                    || doc.contains(lang.pick("NPS -42,1", "NPS -42.1")),
                "{lang:?}: NPS by its name"
            );
            // The choice item `usage` with its options.
            assert!(
                doc.contains(lang.pick("Täglich", "Daily")),
                "{lang:?}: usage missing"
            );
            assert!(doc.contains(lang.pick("Wöchentlich", "Weekly")), "{lang:?}");
        }
        assert!(
            !html.contains(lang.pick(
                "<th>Mittelwert</th><th>95 %-KI</th><th>Einordnung",
                "<th>Mean</th><th>95 % CI</th><th>Reading"
            )),
            "{lang:?}: scores under 'mean'"
        );
    }
}

/// The chat summary after a round opens with the same answer as the report, about that
/// round: here the comparison with its interval and n.
#[test]
fn the_chat_summary_leads_with_the_rounds_comparison() {
    let r = match build_report(
        &fixture::survey(),
        vec![fixture::round(1, 19, 2, 40)],
        Policy::new(5),
        fixture::generated_at(),
    ) {
        Ok(r) => r,
        Err(e) => panic!("fixture report: {e}"),
    };
    let text = markdown::summary(&r, Lang::De);
    let second = text.lines().nth(2).unwrap_or_default();
    assert!(
        second.starts_with("Runde 1, SUS (0–100): BundesMessenger erreicht 73,8 bei denen, die beide bewertet haben, Webex 63,1; BundesMessenger liegt 10,6 Punkte über Webex (95\u{a0}%-KI der Differenz 4,3 bis 16,9"),
        "{text}"
    );
    // Paired: n is the pairs.
    assert!(
        second.contains("n = 16 Personen, die beide bewertet haben"),
        "{text}"
    );
}
