//! Builds an export from the store: the one path shared by the CLI and the running bot.
//!
//! Every export is written to the audit log (who, what, when) in the same call, so there is
//! no way to produce figures without leaving a trace.

use jiff::Timestamp;

use super::{Format, audit_detail, render};
use crate::lang::Lang;
use crate::stats::{self, Participation, Policy, RoundInput};
use crate::store::Store;
use crate::survey::Survey;

/// Which rounds to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Rounds {
    /// The newest round.
    Latest,
    /// One round by number.
    One(u32),
    /// Every round (trends).
    All,
}

/// What an export asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportRequest {
    /// The survey id.
    pub survey: String,
    /// Which rounds.
    pub rounds: Rounds,
    /// The output format.
    pub format: Format,
    /// Free text, only where n ≥ max(k, 10).
    pub include_text: bool,
    /// Language of Markdown output.
    pub lang: Lang,
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    /// The survey has no round (yet), or not the one asked for.
    #[error("survey `{survey}` has {what}")]
    NoRound {
        /// The survey id.
        survey: String,
        /// What is missing.
        what: String,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The statistics could not be computed.
    #[error(transparent)]
    Stats(#[from] crate::stats::StatsError),
    /// The format could not be written.
    #[error(transparent)]
    Export(#[from] super::ExportError),
}

/// A rendered export ready to upload: what `!pulse report` sends into the admin room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// File name for the upload, e.g. `pulse-runde-3-2025-04-01.html`.
    pub file_name: String,
    /// MIME type of the upload.
    pub mime: &'static str,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// Computes and renders an export, and records it in the audit log under `actor`.
pub fn export(
    store: &Store,
    survey: &Survey,
    req: &ExportRequest,
    actor: &str,
) -> Result<Vec<u8>, ExportFailure> {
    export_file(store, survey, req, actor).map(|f| f.bytes)
}

/// The one call for the bot and the CLI: the export of `req` as a file (name, MIME type,
/// bytes), audited under `actor`.
pub fn export_file(
    store: &Store,
    survey: &Survey,
    req: &ExportRequest,
    actor: &str,
) -> Result<ExportFile, ExportFailure> {
    let report = build(store, survey, req.rounds, req.include_text)?;
    let bytes = render(&report, req.format, req.lang)?;
    store.audit(
        Timestamp::now(),
        actor,
        "export",
        &audit_detail(&report, req.format),
    )?;
    Ok(ExportFile {
        file_name: file_name(&report, req),
        mime: req.format.mime(),
        bytes,
    })
}

/// The short chat summary of one round (for the pilot rooms after close), audited as
/// `summary` under `actor`: suppressed below the survey's minimum group size like any export.
pub fn round_summary(
    store: &Store,
    survey: &Survey,
    round: u32,
    lang: Lang,
    actor: &str,
) -> Result<String, ExportFailure> {
    let report = build(store, survey, Rounds::One(round), false)?;
    let text = super::markdown::summary(&report, lang);
    store.audit(
        Timestamp::now(),
        actor,
        "summary",
        &audit_detail(&report, Format::Markdown),
    )?;
    Ok(text)
}

/// Keeps the round's suppressed aggregate report (JSON) in the store's aggregates table,
/// computed when the round closes, so the figures outlive the raw answers that retention
/// deletes later. Not an export (nothing leaves the store), so not audited.
pub fn keep_aggregate(store: &Store, survey: &Survey, round: u32) -> Result<(), ExportFailure> {
    let report = build(store, survey, Rounds::One(round), false)?;
    let bytes = render(&report, Format::Json, Lang::De)?;
    store.put_aggregate(&survey.id, round, &bytes)?;
    Ok(())
}

/// The suppressed report of the chosen rounds.
fn build(
    store: &Store,
    survey: &Survey,
    which: Rounds,
    include_text: bool,
) -> Result<crate::stats::Report, ExportFailure> {
    let mut rounds: Vec<_> = store
        .rounds()?
        .into_iter()
        .filter(|r| r.survey_id == survey.id)
        .collect();
    rounds.sort_by_key(|r| r.round);
    let chosen: Vec<_> = match which {
        Rounds::All => rounds,
        Rounds::Latest => rounds.pop().into_iter().collect(),
        Rounds::One(n) => rounds.into_iter().filter(|r| r.round == n).collect(),
    };
    if chosen.is_empty() {
        let what = match which {
            Rounds::One(n) => format!("no round {n}"),
            _ => "no rounds yet".to_string(),
        };
        return Err(ExportFailure::NoRound {
            survey: survey.id.clone(),
            what,
        });
    }
    let ledger = store.participants()?;
    let mut inputs = Vec::with_capacity(chosen.len());
    for info in &chosen {
        let answers = store.answers(&survey.id, info.round)?;
        let part = if info.label.is_some() {
            // An imported round has no ledger: all that is known is who answered.
            let finished = answers.iter().filter(|a| a.complete).count() as u64;
            let partial = answers.len() as u64 - finished;
            Participation {
                audience: info.audience.unwrap_or(0).max(finished + partial),
                consented: finished + partial,
                finished,
                partial,
            }
        } else {
            // The bot records the audience (pilot-room members minus bot, admins and ignored
            // users) when the round opens and raises it while the round runs.
            Participation::from_ledger(&ledger, &survey.id, info.round, info.audience.unwrap_or(0))
        };
        inputs.push(RoundInput::new(info, part, answers));
    }
    let policy = Policy::new(survey.min_group_size).with_text(include_text);
    Ok(stats::build_report(
        survey,
        inputs,
        policy,
        Timestamp::now(),
    )?)
}

/// `<survey>-<round>-<date>.<ext>`: the rounds by their numbers (`runde-3`, `runden-1-3`) in
/// the report's language, the date of the export. Survey ids are validated identifiers, so
/// the name needs no further escaping.
pub fn file_name(report: &crate::stats::Report, req: &ExportRequest) -> String {
    let word = |one: bool| match (req.lang, one) {
        (Lang::De, true) => "runde",
        (Lang::De, false) => "runden",
        (Lang::En, true) => "round",
        (Lang::En, false) => "rounds",
    };
    let rounds = match (report.rounds.first(), report.rounds.last()) {
        (Some(a), Some(b)) if a.round == b.round => format!("{}-{}", word(true), a.round),
        (Some(a), Some(b)) => format!("{}-{}-{}", word(false), a.round, b.round),
        _ => word(false).to_owned(),
    };
    let date = report
        .generated_at
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d");
    format!(
        "{}-{rounds}-{date}.{}",
        report.survey,
        req.format.extension()
    )
}
