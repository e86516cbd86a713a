//! Import of answers from an earlier survey (issue 6): a CSV export, e.g. from LimeSurvey
//! with question codes as headers, mapped onto a survey's items by a mapping file
//! (`docs/import.md`).
//!
//! Pure: text in, validated [`AnswerRecord`]s out; no disk, no persistence. The caller reads the two
//! files, calls [`parse`], and only if every row is valid writes all records in one
//! transaction (the bot's `import_round`), so nothing is ever half imported. Every problem is
//! reported with the CSV line and column (or the mapping entry), and all of them at once, so
//! a file can be fixed in one go. Answers never appear in errors beyond the offending cell's
//! code, and nothing here logs.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::Deserialize;
use thiserror::Error;

use crate::model::{AnswerRecord, AnswerValue};
use crate::survey::{Question, QuestionKind, Survey};

/// At most this many row problems are listed; the rest are counted.
const MAX_LISTED: usize = 50;

/// The mapping file (TOML), as documented in `docs/import.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    csv: CsvOptions,
    /// Named code tables: code in the CSV → option id or number.
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, Mapped>>,
    /// CSV columns that are known and deliberately not imported.
    #[serde(default)]
    ignore: Vec<String>,
    /// Column → item.
    columns: Vec<ColumnMap>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvOptions {
    #[serde(default = "default_delimiter")]
    delimiter: String,
    /// A column that is empty for unfinished responses (LimeSurvey: `submitdate`).
    #[serde(default)]
    complete_column: Option<String>,
    /// Cell values meaning "no answer" besides the empty cell.
    #[serde(default)]
    missing: Vec<String>,
    /// Cell values meaning "selected" in a multiple-choice option column.
    #[serde(default = "default_selected")]
    selected: Vec<String>,
    /// Cell values meaning "not selected" in a multiple-choice option column.
    #[serde(default = "default_unselected")]
    unselected: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: default_delimiter(),
            complete_column: None,
            missing: Vec::new(),
            selected: default_selected(),
            unselected: default_unselected(),
        }
    }
}

fn default_delimiter() -> String {
    ",".into()
}

fn default_selected() -> Vec<String> {
    vec!["Y".into()]
}

fn default_unselected() -> Vec<String> {
    vec!["N".into()]
}

/// A value in a code table: a number (likert points, 0–10) or an option id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Mapped {
    Int(i64),
    Text(String),
}

impl fmt::Display for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mapped::Int(i) => write!(f, "{i}"),
            Mapped::Text(s) => write!(f, "\"{s}\""),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnMap {
    column: String,
    item: String,
    /// Name of a code table in `[values]`.
    #[serde(default)]
    values: Option<String>,
    /// For a multiple-choice item: the option this column stands for.
    #[serde(default)]
    option: Option<String>,
}

/// One bad cell or row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line of the CSV file where the record starts.
    pub line: u64,
    /// The CSV column, if the problem is in one cell.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column `{c}`: {}", self.line, self.problem),
            None => write!(f, "line {}: {}", self.line, self.problem),
        }
    }
}

/// Why nothing was imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The mapping file is not valid TOML or does not fit the survey.
    #[error("mapping file: {}", .0.join("\n  "))]
    Mapping(Vec<String>),
    /// The CSV header does not fit the mapping.
    #[error("CSV header: {}", .0.join("\n  "))]
    Header(Vec<String>),
    /// Rows with problems (all of them, up to a limit); nothing was imported.
    #[error("{} problem(s) in the CSV file, nothing imported:\n  {}{}", .total, .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "), if *.total > .problems.len() { format!("\n  … and {} more", .total - .problems.len()) } else { String::new() })]
    Rows {
        /// The first problems found.
        problems: Vec<RowProblem>,
        /// How many there are in all.
        total: usize,
    },
    /// The file has no response rows.
    #[error("the CSV file has no responses")]
    Empty,
}

/// The validated content of an import, ready for the bot's `import_round`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// One record per response row (`round` 0: the bot's persistence assigns the number).
    pub records: Vec<AnswerRecord>,
    /// Rows skipped because none of their mapped cells had an answer.
    pub empty_rows: usize,
    /// CSV columns neither mapped nor listed in `ignore` (reported so nothing is dropped
    /// unnoticed).
    pub unmapped_columns: Vec<String>,
}

impl Parsed {
    /// Responses marked complete.
    pub fn complete(&self) -> usize {
        self.records.iter().filter(|r| r.complete).count()
    }
}

/// A mapping entry resolved against the survey.
struct Resolved<'a> {
    column: String,
    index: usize,
    question: &'a Question,
    table: Option<&'a BTreeMap<String, Mapped>>,
    table_name: Option<String>,
    option: Option<String>,
}

/// Parses and validates `csv` (bytes of the export) with `mapping` (TOML text) against
/// `survey`: every row is checked before anything is returned.
pub fn parse(survey: &Survey, mapping: &str, csv: &[u8]) -> Result<Parsed, ImportError> {
    let map: MappingFile =
        toml::from_str(mapping).map_err(|e| ImportError::Mapping(vec![e.to_string()]))?;
    check_mapping(survey, &map)?;
    let delimiter = single_byte(&map.csv.delimiter).ok_or_else(|| {
        ImportError::Mapping(vec!["csv.delimiter must be one ASCII character".into()])
    })?;
    // LimeSurvey and Excel write a UTF-8 byte-order mark; it is not part of the first name.
    let csv = csv.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(csv);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::Header(vec![e.to_string()]))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let (resolved, complete_idx, unmapped) = resolve(survey, &map, &header)?;

    let mut problems = Vec::new();
    let mut total = 0usize;
    let mut note = |p: RowProblem| {
        total += 1;
        if problems.len() < MAX_LISTED {
            problems.push(p);
        }
    };
    let mut records = Vec::new();
    let mut empty_rows = 0;
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(csv, p.byte()));
                note(RowProblem {
                    line,
                    column: None,
                    problem: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = row.position().map_or(0, |p| line_at(csv, p.byte()));
        if row.len() != header.len() {
            note(RowProblem {
                line,
                column: None,
                problem: format!("{} fields, the header has {}", row.len(), header.len()),
            });
            continue;
        }
        let missing = |v: &str| v.is_empty() || map.csv.missing.iter().any(|m| m == v);
        let mut answers: BTreeMap<String, AnswerValue> = BTreeMap::new();
        let mut multi: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for r in &resolved {
            let cell = row.get(r.index).unwrap_or("").trim();
            if let Some(option) = &r.option {
                // A multiple-choice option column: selected, not selected, or no answer.
                let entry = multi.entry(r.question.id.as_str()).or_default();
                if map.csv.selected.iter().any(|s| s == cell) {
                    entry.insert(option.clone());
                } else if !missing(cell) && !map.csv.unselected.iter().any(|s| s == cell) {
                    note(RowProblem {
                        line,
                        column: Some(r.column.clone()),
                        problem: format!(
                            "`{cell}` is neither a selected ({}) nor an unselected ({}) mark",
                            map.csv.selected.join(", "),
                            map.csv.unselected.join(", ")
                        ),
                    });
                }
                continue;
            }
            if missing(cell) {
                continue;
            }
            match value(r, cell) {
                Ok(v) => {
                    answers.insert(r.question.id.clone(), v);
                }
                Err(problem) => note(RowProblem {
                    line,
                    column: Some(r.column.clone()),
                    problem,
                }),
            }
        }
        for (item, chosen) in multi {
            // Nothing selected counts as no answer, as in the bot's own data (a multiple-choice
            // answer has at least one option) and in the statistics.
            if chosen.is_empty() {
                continue;
            }
            if let Some(q) = survey.questions().iter().find(|q| q.id == item)
                && let QuestionKind::Multi { max_selections, .. } = q.kind
                && chosen.len() > usize::from(max_selections)
            {
                note(RowProblem {
                    line,
                    column: None,
                    problem: format!(
                        "item `{item}`: {} options selected, at most {max_selections} allowed",
                        chosen.len()
                    ),
                });
                continue;
            }
            answers.insert(
                item.to_owned(),
                AnswerValue::Multi(chosen.into_iter().collect()),
            );
        }
        if answers.is_empty() {
            empty_rows += 1;
            continue;
        }
        let complete = complete_idx.is_none_or(|i| !missing(row.get(i).unwrap_or("").trim()));
        records.push(AnswerRecord {
            survey_id: survey.id.clone(),
            round: 0,
            complete,
            answers,
            pseudonym: None,
        });
    }
    if total > 0 {
        return Err(ImportError::Rows { problems, total });
    }
    if records.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(Parsed {
        records,
        empty_rows,
        unmapped_columns: unmapped,
    })
}

/// The 1-based line on which the record at `byte` starts. Computed here because the csv
/// crate's own line count lags by one after CRLF line ends (it takes a record's position
/// before consuming the `\n` of the previous line end), and LimeSurvey writes CRLF.
fn line_at(csv: &[u8], byte: u64) -> u64 {
    let mut b = usize::try_from(byte).unwrap_or(usize::MAX).min(csv.len());
    while b < csv.len() && matches!(csv[b], b'\r' | b'\n') {
        b += 1;
    }
    1 + csv[..b].iter().filter(|c| **c == b'\n').count() as u64
}

fn single_byte(s: &str) -> Option<u8> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Some(*b),
        _ if s == "\\t" => Some(b'\t'),
        _ => None,
    }
}

/// Checks the mapping against the survey: items exist, code tables exist and fit the
/// items' answer types, option columns only for multiple-choice items, nothing twice.
fn check_mapping(survey: &Survey, map: &MappingFile) -> Result<(), ImportError> {
    let mut errors = Vec::new();
    let mut columns = HashMap::new();
    let mut single_items = HashMap::new();
    let mut multi_options = BTreeSet::new();
    if map.columns.is_empty() {
        errors.push("no [[columns]]: nothing would be imported".into());
    }
    for (i, c) in map.columns.iter().enumerate() {
        let at = format!("columns[{}] (column `{}`)", i + 1, c.column);
        if let Some(prev) = columns.insert(c.column.as_str(), i + 1) {
            errors.push(format!("{at}: column mapped twice (also columns[{prev}])"));
        }
        if map.ignore.contains(&c.column) {
            errors.push(format!("{at}: column is both mapped and ignored"));
        }
        let Some(q) = survey.questions().iter().find(|q| q.id == c.item) else {
            errors.push(format!(
                "{at}: survey `{}` has no item `{}`",
                survey.id, c.item
            ));
            continue;
        };
        let table = match &c.values {
            Some(name) => match map.values.get(name) {
                Some(t) => Some(t),
                None => {
                    errors.push(format!("{at}: no code table [values.{name}]"));
                    continue;
                }
            },
            None => None,
        };
        match (&q.kind, &c.option) {
            (QuestionKind::Multi { options, .. }, Some(opt)) => {
                if !options.iter().any(|o| &o.id == opt) {
                    errors.push(format!(
                        "{at}: item `{}` has no option `{opt}` (options: {})",
                        q.id,
                        option_ids(q)
                    ));
                }
                if !multi_options.insert((q.id.clone(), opt.clone())) {
                    errors.push(format!("{at}: option `{opt}` of `{}` mapped twice", q.id));
                }
                if table.is_some() {
                    errors.push(format!(
                        "{at}: an option column takes selected/unselected marks, not a code table"
                    ));
                }
            }
            (QuestionKind::Multi { .. }, None) => errors.push(format!(
                "{at}: `{}` is a multiple-choice item: map one column per option with `option = \"…\"`",
                q.id
            )),
            (_, Some(_)) => errors.push(format!(
                "{at}: `option` is only for multiple-choice items; `{}` is not one",
                q.id
            )),
            (_, None) => {
                if let Some(prev) = single_items.insert(q.id.as_str(), i + 1) {
                    errors.push(format!(
                        "{at}: item `{}` is already filled by columns[{prev}]",
                        q.id
                    ));
                }
                if let (Some(t), Some(name)) = (table, &c.values) {
                    for (code, v) in t {
                        if let Err(e) = mapped_value(q, v) {
                            errors.push(format!("[values.{name}] {code} = {v}: {e} (for `{}`)", q.id));
                        }
                    }
                }
            }
        }
    }
    if let Some(cc) = &map.csv.complete_column
        && columns.contains_key(cc.as_str())
    {
        errors.push(format!(
            "csv.complete_column `{cc}` is also mapped to an item"
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.sort();
        errors.dedup();
        Err(ImportError::Mapping(errors))
    }
}

fn option_ids(q: &Question) -> String {
    q.options()
        .iter()
        .map(|o| o.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

type ResolvedHeader<'a> = (Vec<Resolved<'a>>, Option<usize>, Vec<String>);

/// Finds every mapped column in the header; names each problem.
fn resolve<'a>(
    survey: &'a Survey,
    map: &'a MappingFile,
    header: &[String],
) -> Result<ResolvedHeader<'a>, ImportError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for h in header {
        if h.is_empty() {
            errors.push("a column has no name".to_owned());
        } else if !seen.insert(h.as_str()) {
            errors.push(format!("column `{h}` appears twice"));
        }
    }
    let find = |name: &str| header.iter().position(|h| h == name);
    let mut resolved = Vec::new();
    for c in &map.columns {
        let Some(index) = find(&c.column) else {
            errors.push(format!("mapped column `{}` is not in the file", c.column));
            continue;
        };
        let Some(question) = survey.questions().iter().find(|q| q.id == c.item) else {
            continue; // reported by check_mapping
        };
        resolved.push(Resolved {
            column: c.column.clone(),
            index,
            question,
            table: c.values.as_ref().and_then(|n| map.values.get(n)),
            table_name: c.values.clone(),
            option: c.option.clone(),
        });
    }
    let complete = match &map.csv.complete_column {
        Some(cc) => match find(cc) {
            Some(i) => Some(i),
            None => {
                errors.push(format!("csv.complete_column `{cc}` is not in the file"));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(ImportError::Header(errors));
    }
    let unmapped = header
        .iter()
        .filter(|h| {
            !map.columns.iter().any(|c| &c.column == *h)
                && !map.ignore.contains(h)
                && map.csv.complete_column.as_ref() != Some(h)
        })
        .cloned()
        .collect();
    Ok((resolved, complete, unmapped))
}

/// The answer a code-table value stands for, checked against the question.
fn mapped_value(q: &Question, v: &Mapped) -> Result<AnswerValue, String> {
    match (&q.kind, v) {
        (QuestionKind::Choice { .. }, Mapped::Int(i)) => choice(q, &i.to_string()),
        (QuestionKind::Choice { .. }, Mapped::Text(s)) => choice(q, s),
        (QuestionKind::Scale { min, max, .. }, Mapped::Int(i)) => scale(*min, *max, *i),
        (QuestionKind::Scale { .. }, Mapped::Text(s)) => {
            Err(format!("`{s}` is not a number for a 0–10 item"))
        }
        (QuestionKind::Text { .. }, _) => {
            Err("free-text items take the cell as it is, not a code table".into())
        }
        (QuestionKind::Multi { .. }, _) => Err("multiple-choice items take option columns".into()),
    }
}

fn choice(q: &Question, id: &str) -> Result<AnswerValue, String> {
    if q.options().iter().any(|o| o.id == id) {
        Ok(AnswerValue::Choice(id.to_owned()))
    } else {
        Err(format!(
            "`{id}` is not an answer of `{}` (answers: {})",
            q.id,
            option_ids(q)
        ))
    }
}

fn scale(min: u8, max: u8, v: i64) -> Result<AnswerValue, String> {
    if (i64::from(min)..=i64::from(max)).contains(&v) {
        Ok(AnswerValue::Number(v))
    } else {
        Err(format!("{v} is outside {min}–{max}"))
    }
}

/// The answer in one (non-empty) cell.
fn value(r: &Resolved<'_>, cell: &str) -> Result<AnswerValue, String> {
    if let Some(t) = r.table {
        let Some(v) = t.get(cell) else {
            return Err(format!(
                "`{cell}` is not in code table [values.{}] (codes: {})",
                r.table_name.as_deref().unwrap_or(""),
                t.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ));
        };
        return mapped_value(r.question, v);
    }
    match &r.question.kind {
        QuestionKind::Choice { .. } => choice(r.question, cell),
        QuestionKind::Scale { min, max, .. } => {
            // Some exports write whole numbers as "7.0".
            let n = cell
                .parse::<i64>()
                .ok()
                .or_else(|| {
                    cell.replace(',', ".")
                        .parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 1e9)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| format!("`{cell}` is not a whole number"))?;
            scale(*min, *max, n)
        }
        QuestionKind::Text { max_length } => {
            let len = cell.chars().count();
            if len > *max_length as usize {
                Err(format!(
                    "{len} characters, the item takes at most {max_length}"
                ))
            } else {
                Ok(AnswerValue::Text(cell.to_owned()))
            }
        }
        QuestionKind::Multi { .. } => Err("multiple-choice items take option columns".into()),
    }
}
