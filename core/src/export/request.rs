//! What an export asks for (survey, rounds, format, language) and the file name it gets:
//! shared by the CLI, the control socket and the chat command, so that they cannot drift.

use crate::lang::Lang;
use crate::stats::{Distributions, Report};

use super::Format;

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
    /// The distribution rule (`[privacy] distributions`); absent in requests of older
    /// versions, which then get the default.
    #[serde(default)]
    pub distributions: Distributions,
}

/// `<survey>-<round>-<date>.<ext>`: the rounds by their numbers (`runde-3`, `runden-1-3`) in
/// the report's language, the date of the export. Survey ids are validated identifiers, so
/// the name needs no further escaping.
pub fn file_name(report: &Report, req: &ExportRequest) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Policy, build_report, fixture};

    #[test]
    fn export_file_names_carry_survey_rounds_date_and_extension() {
        let r = match build_report(
            &fixture::survey(),
            fixture::rounds(),
            Policy::new(5),
            fixture::generated_at(),
        ) {
            Ok(r) => r,
            Err(e) => panic!("fixture report: {e}"),
        };
        let req = |format, lang| ExportRequest {
            survey: "fixture".into(),
            rounds: Rounds::All,
            format,
            include_text: false,
            lang,
            distributions: Distributions::Group,
        };
        assert_eq!(
            file_name(&r, &req(Format::Html, Lang::De)),
            "fixture-runden-1-3-2025-04-01.html"
        );
        assert_eq!(
            file_name(&r, &req(Format::CsvDe, Lang::En)),
            "fixture-rounds-1-3-2025-04-01.csv"
        );
        let mut one = r.clone();
        one.rounds.truncate(1);
        assert_eq!(
            file_name(&one, &req(Format::Json, Lang::De)),
            "fixture-runde-1-2025-04-01.json"
        );
        assert_eq!(Format::Html.mime(), "text/html; charset=utf-8");
    }
}
