//! Builds an export from the store: the one path shared by the CLI, the control socket and
//! the running bot.
//!
//! Edge: reads the store and writes the audit log; the statistics and the rendering are the
//! core's. Every export is written to the audit log (who, what, when) in the same call, so
//! there is no way to produce figures without leaving a trace. The time comes from the
//! caller's [`Clock`](crate::clock::Clock), never from the wall clock here.

use jiff::Timestamp;

pub use crate::export::request::{ExportRequest, Rounds, file_name};
use crate::export::{Format, audit_detail, render};
use crate::lang::Lang;
use crate::stats::{self, Distributions, Participation, Policy, RoundInput};
use crate::store::Store;
use crate::survey::Survey;

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
    Export(#[from] crate::export::ExportError),
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
    now: Timestamp,
) -> Result<Vec<u8>, ExportFailure> {
    export_file(store, survey, req, actor, now).map(|f| f.bytes)
}

/// The one call for the bot and the CLI: the export of `req` as a file (name, MIME type,
/// bytes), audited under `actor`.
pub fn export_file(
    store: &Store,
    survey: &Survey,
    req: &ExportRequest,
    actor: &str,
    now: Timestamp,
) -> Result<ExportFile, ExportFailure> {
    let report = build(
        store,
        survey,
        req.rounds,
        req.include_text,
        req.distributions,
        now,
    )?;
    let bytes = render(&report, req.format, req.lang)?;
    store.audit(now, actor, "export", &audit_detail(&report, req.format))?;
    Ok(ExportFile {
        file_name: file_name(&report, req),
        mime: req.format.mime(),
        bytes,
    })
}

/// The short chat summary of one round (for the pilot rooms after close), audited as
/// `summary` under `actor`: suppressed below the survey's minimum group size like any export,
/// with the configured distribution rule.
pub fn round_summary(
    store: &Store,
    survey: &Survey,
    round: u32,
    lang: Lang,
    distributions: Distributions,
    actor: &str,
    now: Timestamp,
) -> Result<String, ExportFailure> {
    let report = build(store, survey, Rounds::One(round), false, distributions, now)?;
    let text = crate::export::markdown::summary(&report, lang);
    store.audit(
        now,
        actor,
        "summary",
        &audit_detail(&report, Format::Markdown),
    )?;
    Ok(text)
}

/// Keeps the round's suppressed aggregate report (JSON) in the store's aggregates table,
/// computed when the round closes, so the figures outlive the raw answers that retention
/// deletes later. Not an export (nothing leaves the store), so not audited.
pub fn keep_aggregate(
    store: &Store,
    survey: &Survey,
    round: u32,
    distributions: Distributions,
    now: Timestamp,
) -> Result<(), ExportFailure> {
    let report = build(store, survey, Rounds::One(round), false, distributions, now)?;
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
    distributions: Distributions,
    now: Timestamp,
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
    let policy = Policy::new(survey.min_group_size)
        .with_text(include_text)
        .with_distributions(distributions);
    Ok(stats::build_report(survey, inputs, policy, now)?)
}
