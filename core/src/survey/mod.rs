//! Questionnaires: the survey file format, the standard instruments, rendering (issue 3).
//!
//! A survey file (`surveys/*.toml`, format in `surveys/README.md`) becomes a validated
//! [`Survey`] or a list of [`Diagnostic`]s with `file:line:column` and a remedy. Everything
//! here is pure except [`load_file`], [`load_dir`] and [`validate_paths`], which only *read*
//! survey files; nothing talks to the network or writes to disk.
//!
//! # Layout
//! - `tree`: TOML → a value tree that keeps byte spans (via `toml_edit`).
//! - `parse`: tree → [`Survey`], every problem reported ([`parse_str`]).
//! - `model`: the validated types; question and answer types are serde and get persisted.
//! - `instruments`: SUS, UMUX-Lite, UEQ-S, NPS, SEQ with their published wording.
//! - `answer`: typed text or poll votes → [`Answer`] or [`AnswerError`].
//! - `scoring`: per-respondent scores and interpretation bands.
//! - `render`: intro, questions (plain and poll), preview.
//! - `diagnostics`: [`Diagnostic`] and position arithmetic.
//!
//! The schedule section is parsed by `crate::schedule`, which also decides what is due.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use crate::lang::Lang;

pub mod answer;
pub mod diagnostics;
pub mod instruments;
pub mod model;
pub(crate) mod parse;
pub mod render;
pub mod scoring;
pub(crate) mod tree;

#[cfg(test)]
mod tests;

pub use answer::{Answer, AnswerError, answer_from_poll, parse_answer};
pub use diagnostics::Diagnostic;
pub use model::{
    Block, BlockKind, ChoiceOption, Instrument, Mode, Question, QuestionKind, ShowIf, Source,
    Survey, Text,
};
pub use parse::parse_str;

/// Global defaults from the bot config that a survey file may leave out.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyDefaults {
    /// Time zone of schedules without `timezone` (config: the bot's zone).
    pub timezone: TimeZone,
    /// Minimum group size k; a survey may raise it, never lower it.
    pub min_group_size: u32,
    /// `bot.pilot_rooms`: the default audience, and the rooms an `audience` may name
    /// (not checked when empty).
    pub pilot_rooms: Vec<String>,
    /// Language for participants who have not chosen one.
    pub language: Lang,
}

impl Default for SurveyDefaults {
    /// Europe/Berlin, k = 5, no pilot rooms (audience unchecked), German.
    fn default() -> Self {
        SurveyDefaults {
            // The bundled tzdb always has Europe/Berlin; fall back to UTC rather than panic.
            timezone: TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC),
            min_group_size: 5,
            pilot_rooms: Vec::new(),
            language: Lang::De,
        }
    }
}

/// Reads and validates one survey file. The file name as given labels the diagnostics.
pub fn load_file(path: &Path, defaults: &SurveyDefaults) -> Result<Survey, Vec<Diagnostic>> {
    let label = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&label, &text, defaults),
        Err(e) => Err(vec![Diagnostic::whole_file(
            &label,
            format!("cannot read the file: {e}"),
            "check the path and that the file is readable UTF-8 text",
        )]),
    }
}

/// Every `*.toml` file directly in `dir`, sorted by name (so reports are stable).
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        Diagnostic::whole_file(
            &dir.display().to_string(),
            format!("cannot read the directory: {e}"),
            "check the path",
        )
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every `*.toml` survey in `dir`: the valid surveys and all problems (including
/// survey ids used by two files). `pulsebot run` refuses to start if the list is not empty.
pub fn load_dir(dir: &Path, defaults: &SurveyDefaults) -> (Vec<Survey>, Vec<Diagnostic>) {
    let report = validate_paths(&[dir.to_path_buf()], defaults);
    (report.surveys, report.diagnostics)
}

/// The result of validating files and directories.
#[derive(Debug, Default)]
pub struct ValidationReport {
    /// Files looked at, in order.
    pub files: Vec<PathBuf>,
    /// Surveys that parsed without problems.
    pub surveys: Vec<Survey>,
    /// Every problem of every file.
    pub diagnostics: Vec<Diagnostic>,
}

impl ValidationReport {
    /// True when no problem was found (and at least one file was checked).
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty() && !self.files.is_empty()
    }
}

impl fmt::Display for ValidationReport {
    /// One diagnostic per line, then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        if self.files.is_empty() {
            writeln!(f, "no survey files found")
        } else if self.diagnostics.is_empty() {
            writeln!(f, "{} survey file(s) OK", self.files.len())
        } else {
            writeln!(
                f,
                "{} problem(s) in {} survey file(s)",
                self.diagnostics.len(),
                self.files.len()
            )
        }
    }
}

/// Validates files and directories (`*.toml` directly inside) — `pulsebot validate`.
/// Survey ids must be unique across everything checked together.
pub fn validate_paths(paths: &[PathBuf], defaults: &SurveyDefaults) -> ValidationReport {
    let mut report = ValidationReport::default();
    for p in paths {
        if p.is_dir() {
            match toml_files(p) {
                Ok(files) => report.files.extend(files),
                Err(d) => report.diagnostics.push(d),
            }
        } else {
            report.files.push(p.clone());
        }
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    for file in &report.files {
        match load_file(file, defaults) {
            Ok(s) => {
                if let Some(other) = seen.get(&s.id) {
                    report.diagnostics.push(Diagnostic::whole_file(
                        &s.file,
                        format!("survey id `{}` is also used by {other}", s.id),
                        "give every survey its own `id`",
                    ));
                } else {
                    seen.insert(s.id.clone(), s.file.clone());
                    report.surveys.push(s);
                }
            }
            Err(ds) => report.diagnostics.extend(ds),
        }
    }
    report
}
