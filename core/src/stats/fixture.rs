//! Test fixture shared by the statistics and export tests: one survey with every item type
//! and instrument, and deterministic responses (no randomness, so snapshots are stable).

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::model::{AnswerRecord, AnswerValue};
use crate::survey::{Survey, SurveyDefaults, parse_str};

use super::{Participation, RoundInput};

/// Every block type once, and the two SUS blocks and SEQ tasks the pilot compares.
pub const SURVEY: &str = r#"
id = "fixture"
title = { de = "Testumfrage", en = "Test survey" }
intro = { de = "Einleitung", en = "Intro" }

[schedule]
manual = true

[[blocks]]
type = "sus"
id = "sus_bm"
subject = "BundesMessenger"

[[blocks]]
type = "sus"
id = "sus_webex"
subject = "Webex"

[[blocks]]
type = "umux-lite"
id = "umux_bm"
subject = "BundesMessenger"

[[blocks]]
type = "ueq-s"
id = "ueq_bm"
subject = "BundesMessenger"

[[blocks]]
type = "nps"
id = "nps_bm"
subject = "BundesMessenger"

[[blocks]]
type = "seq"
id = "seq_bm"
subject = "BundesMessenger"
task = { de = "Eine Datei senden", en = "Sending a file" }

[[blocks]]
type = "seq"
id = "seq_webex"
subject = "Webex"
task = { de = "Eine Datei senden", en = "Sending a file" }

[[blocks]]
type = "single"
id = "usage"
text = { de = "Wie oft nutzen Sie BundesMessenger?", en = "How often do you use BundesMessenger?" }
options = [
  { id = "daily", de = "Täglich", en = "Daily" },
  { id = "weekly", de = "Wöchentlich", en = "Weekly" },
  { id = "rarely", de = "Selten", en = "Rarely" },
]

[[blocks]]
type = "multi"
id = "features"
text = { de = "Welche Funktionen nutzen Sie?", en = "Which features do you use?" }
options = [
  { id = "chat", de = "Chat", en = "Chat" },
  { id = "files", de = "Dateien", en = "Files" },
  { id = "calls", de = "Anrufe", en = "Calls" },
]

[[blocks]]
type = "likert"
id = "notify"
text = { de = "Die Benachrichtigungen sind hilfreich.", en = "The notifications are helpful." }

[[blocks]]
type = "scale"
id = "overall"
text = { de = "Wie zufrieden sind Sie insgesamt?", en = "How satisfied are you overall?" }
low = { de = "überhaupt nicht", en = "not at all" }
high = { de = "voll und ganz", en = "completely" }

[[blocks]]
type = "text"
id = "comment"
optional = true
text = { de = "Möchten Sie uns noch etwas mitteilen?", en = "Anything else?" }
"#;

/// The parsed fixture survey (k = 5).
pub fn survey() -> Survey {
    match parse_str("fixture.toml", SURVEY, &SurveyDefaults::default()) {
        Ok(s) => s,
        Err(d) => panic!("fixture survey invalid: {d:?}"),
    }
}

/// SUS answers (odd items r, even items r) whose score is `score` (a multiple of 2.5):
/// contributions c (odd: r − 1, even: 5 − r) spread as evenly as possible.
pub fn sus_answers(block: &str, score: f64, a: &mut BTreeMap<String, AnswerValue>) {
    let total = (score / 2.5).round() as u32;
    for item in 1..=10u32 {
        // Items 1..=total%10 get one more point than the others.
        let c = total / 10 + u32::from(item <= total % 10);
        let r = if item % 2 == 1 { c + 1 } else { 5 - c };
        a.insert(
            format!("{block}.{item}"),
            AnswerValue::Choice(r.to_string()),
        );
    }
}

fn choice(a: &mut BTreeMap<String, AnswerValue>, id: &str, v: u64) {
    a.insert(id.to_owned(), AnswerValue::Choice(v.to_string()));
}

/// Respondent `i` of a round with `bias` (later rounds a little better). Deterministic.
fn respondent(i: u64, bias: u64, complete: bool) -> BTreeMap<String, AnswerValue> {
    let mut a = BTreeMap::new();
    let bm = [62.5, 70.0, 75.0, 80.0, 85.0, 90.0, 57.5, 72.5][(i % 8) as usize] + 2.5 * bias as f64;
    sus_answers("sus_bm", bm.min(100.0), &mut a);
    if !complete {
        // A partial response: the round closed after the first block.
        return a;
    }
    let webex = [55.0, 60.0, 67.5, 70.0, 50.0, 65.0, 72.5][(i % 7) as usize];
    // Every fifth respondent skipped the Webex block (never used Webex).
    if i % 5 != 4 {
        sus_answers("sus_webex", webex, &mut a);
    }
    choice(&mut a, "umux_bm.1", 4 + (i + bias) % 4);
    choice(&mut a, "umux_bm.2", 3 + (i * 3 + bias) % 5);
    for item in 1..=8u64 {
        choice(&mut a, &format!("ueq_bm.{item}"), 1 + (i * item + bias) % 7);
    }
    a.insert(
        "nps_bm.1".into(),
        AnswerValue::Number(((i * 7 + 3 + bias) % 11) as i64),
    );
    choice(&mut a, "seq_bm.1", 4 + (i + bias) % 4);
    choice(&mut a, "seq_webex.1", 2 + (i * 2) % 5);
    let usage = [
        "daily", "daily", "weekly", "daily", "rarely", "weekly", "daily",
    ][(i % 7) as usize];
    a.insert("usage".into(), AnswerValue::Choice(usage.into()));
    let features: Vec<String> = match i % 4 {
        0 => vec!["chat".into()],
        1 => vec!["chat".into(), "files".into()],
        2 => vec!["chat".into(), "files".into(), "calls".into()],
        _ => vec!["files".into()],
    };
    a.insert("features".into(), AnswerValue::Multi(features));
    choice(&mut a, "notify", 2 + (i % 4));
    a.insert("overall".into(), AnswerValue::Number((5 + i % 6) as i64));
    let comment = match i % 3 {
        0 => AnswerValue::Skipped,
        1 => AnswerValue::Text(format!("Antwort Nummer {i}")),
        // A formula-like answer: the CSV must not let a spreadsheet run it.
        _ => AnswerValue::Text(format!("=HYPERLINK(\"x\";\"{i}\")")),
    };
    a.insert("comment".into(), comment);
    a
}

/// A round with `finished` complete and `partial` partial responses.
pub fn round(round: u32, finished: u64, partial: u64, audience: u64) -> RoundInput {
    let opened: Timestamp = format!("2025-03-{:02}T09:00:00Z", 3 + 14 * (round - 1))
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let closed = opened
        .checked_add(jiff::SignedDuration::from_hours(72))
        .unwrap_or(opened);
    let responses = (0..finished + partial)
        .map(|i| AnswerRecord {
            survey_id: "fixture".into(),
            round,
            complete: i < finished,
            answers: respondent(i, u64::from(round) - 1, i < finished),
            pseudonym: None,
        })
        .collect();
    RoundInput {
        round,
        opened_at: opened,
        closed_at: Some(closed),
        label: None,
        participation: Participation {
            audience,
            consented: finished + partial + 3,
            finished,
            partial,
        },
        responses,
    }
}

/// The fixed data set of the snapshots: three rounds of 21, 9 and 3 responses.
pub fn rounds() -> Vec<RoundInput> {
    vec![round(1, 19, 2, 40), round(2, 9, 0, 40), round(3, 3, 0, 40)]
}

/// The fixture's report of every round (k = 5), as the snapshots render it.
pub fn report(include_text: bool) -> Result<super::Report, super::StatsError> {
    super::build_report(
        &survey(),
        rounds(),
        super::Policy::new(5).with_text(include_text),
        generated_at(),
    )
}

/// A fixed report time.
pub fn generated_at() -> Timestamp {
    "2025-04-01T12:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}
