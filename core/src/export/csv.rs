//! CSV: one row per figure ([`Report::figures`]), in two dialects.
//!
//! Columns: `survey, round, section, id, subject, detail, figure, value, suppressed,
//! reason`. A suppressed figure keeps its row with an empty value, `suppressed = true` and
//! the reason, so filtering in a spreadsheet never hides that something was withheld.
//!
//! The German dialect (`csv-de`) is what German Excel and LibreOffice open with a double
//! click: `;` as separator, decimal commas, and a UTF-8 byte-order mark (without it Excel
//! reads UTF-8 as Windows-1252 and mangles umlauts). Free text from participants and any
//! other text cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'`, so a
//! spreadsheet never runs it as a formula (CSV injection).

use crate::stats::{Report, Value};

use super::ExportError;
use super::num::plain;

/// Separator and decimal mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `,` and decimal points.
    International,
    /// `;`, decimal commas and a BOM (German Excel, LibreOffice).
    German,
}

/// The header row.
pub const HEADER: [&str; 10] = [
    "survey",
    "round",
    "section",
    "id",
    "subject",
    "detail",
    "figure",
    "value",
    "suppressed",
    "reason",
];

/// Neutralizes text a spreadsheet would treat as a formula.
fn safe_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// Renders the report's figures.
pub fn to_bytes(report: &Report, dialect: Dialect) -> Result<Vec<u8>, ExportError> {
    let (delimiter, comma) = match dialect {
        Dialect::International => (b',', false),
        Dialect::German => (b';', true),
    };
    let mut out = Vec::new();
    if dialect == Dialect::German {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(::csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(HEADER)?;
    for f in report.figures() {
        let (value, suppressed, reason) = match &f.value {
            Ok(Value::Int(i)) => (i.to_string(), "false", ""),
            Ok(Value::Num(x)) => (plain(*x, comma), "false", ""),
            Ok(Value::Text(t)) => (safe_text(t), "false", ""),
            Err(r) => (String::new(), "true", r.name()),
        };
        w.write_record([
            safe_text(&report.survey).as_str(),
            &f.round.to_string(),
            f.section,
            &safe_text(&f.id),
            &safe_text(&f.subject),
            &safe_text(&f.detail),
            f.name,
            &value,
            suppressed,
            reason,
        ])?;
    }
    w.into_inner()
        .map_err(|e| ExportError::Csv(::csv::Error::from(e.into_error())))
}
