//! Exporters: a published [`Report`](crate::stats::Report) in, bytes out (issue 6).
//!
//! Pure rendering: no disk, no network, no statistics. Every format renders the same
//! suppressed model, so a figure the statistics layer withheld cannot reappear in any
//! format, and every withheld figure is marked with its reason. Writing the file, uploading
//! it to the admin room and the audit-log entry belong to the caller
//! ([`audit_detail`] gives the entry's text).
//!
//! # Layout
//! - [`json`]: the versioned JSON format (`docs/export-schema.md`, `docs/export-schema.json`).
//! - [`csv`](self::csv): one row per figure; [`Format::CsvDe`] uses `;` and decimal commas.
//! - [`markdown`]: a readable report (German or English) and a short chat summary.
//! - [`html`]: the council's report, one self-contained file with inline SVG charts.
//! - `lead`: the summary, caveats, method and legend both readable formats open with.
//! - [`names`]: stable names and localized labels shared by the formats.
//! - [`request`]: what an export asks for and the file name it gets.

#![warn(missing_docs)]

pub mod csv;
pub mod html;
pub mod json;
mod lead;
pub mod markdown;
pub mod names;
mod num;
pub mod request;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::lang::Lang;
use crate::stats::Report;

/// An export format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// Versioned JSON.
    Json,
    /// CSV with `,` and decimal points.
    Csv,
    /// CSV for German Excel and LibreOffice: `;`, decimal commas, UTF-8 BOM.
    CsvDe,
    /// Markdown for wikis and chat.
    Markdown,
    /// One self-contained HTML file with charts, for the council.
    Html,
}

impl Format {
    /// Every format, in `--help` order.
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Csv,
        Format::CsvDe,
        Format::Markdown,
        Format::Html,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::CsvDe => "csv-de",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// A file extension for uploads and `--out` defaults.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv | Format::CsvDe => "csv",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    /// The MIME type for an upload.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv | Format::CsvDe => "text/csv; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--format` value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown export format `{0}` (expected json, csv, csv-de, md or html)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "csv-de" | "csv_de" => Ok(Format::CsvDe),
            "md" | "markdown" => Ok(Format::Markdown),
            "html" | "htm" => Ok(Format::Html),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// Why rendering failed (in practice only a serializer bug; callers report it).
#[derive(Debug, Error)]
pub enum ExportError {
    /// JSON serialization failed.
    #[error("JSON export failed: {0}")]
    Json(#[from] serde_json::Error),
    /// CSV writing failed.
    #[error("CSV export failed: {0}")]
    Csv(#[from] ::csv::Error),
    /// Drawing a chart failed.
    #[error("chart drawing failed: {0}")]
    Chart(String),
}

/// Renders `report` in `format`; `lang` is used by Markdown and HTML (JSON and CSV carry
/// both languages or language-neutral names).
pub fn render(report: &Report, format: Format, lang: Lang) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Json => json::to_string(report).map(String::into_bytes),
        Format::Csv => csv::to_bytes(report, csv::Dialect::International),
        Format::CsvDe => csv::to_bytes(report, csv::Dialect::German),
        Format::Markdown => Ok(markdown::report(report, lang).into_bytes()),
        Format::Html => html::report(report, lang).map(String::into_bytes),
    }
}

/// The audit-log detail of an export: what was exported, never any figure or answer.
pub fn audit_detail(report: &Report, format: Format) -> String {
    let rounds: Vec<String> = report.rounds.iter().map(|r| r.round.to_string()).collect();
    format!(
        "survey={} rounds={} format={} k={} include_text={}",
        report.survey,
        rounds.join(","),
        format.name(),
        report.policy.min_group_size,
        report.policy.include_text
    )
}
