//! A simulated respondent: seeded, plausible answers to any questionnaire, and the loop that
//! answers a round in a direct chat the way a person on a phone does (tapping the poll, or
//! typing the number, sometimes writing a comment).
//!
//! Attitudes differ per respondent and per system (BundesMessenger is rated better than Webex
//! on average, with spread), so the demo's report shows real, varied figures.

use std::time::{Duration, Instant};

use anyhow::Context;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::SimUser;
use pulsebot::survey::{BlockKind, Instrument, QuestionKind, Source, Survey};

/// How a respondent behaves in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers every question.
    Complete,
    /// Writes `stopp` after this many answers.
    StopsAfter(usize),
}

/// What a respondent does with one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Votes for this poll answer id.
    Vote(String),
    /// Types this text.
    Type(String),
}

/// A seeded respondent.
#[derive(Debug)]
pub struct Respondent {
    rng: StdRng,
    /// Attitude towards BundesMessenger, 0 (bad) to 1 (good).
    bm: f64,
    /// Attitude towards Webex.
    webex: f64,
    /// Types numbers instead of tapping polls.
    types: bool,
}

const COMMENTS: &[&str] = &[
    "Die Benachrichtigungen auf dem Handy kommen manchmal verspätet.",
    "Dateien bis 100 MB wären schön – Pläne vom Bauamt sind größer.",
    "Läuft gut, die Suche könnte besser sein.",
    "Videoanrufe mit mehr als acht Personen ruckeln.",
    "Endlich keine Einwahl-PIN mehr 👍",
    "Die Übersicht über Räume ist anfangs verwirrend.",
];

impl Respondent {
    /// Respondent number `seed`: the same seed gives the same answers.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let bm = rng.gen_range(0.55..0.92);
        let webex = rng.gen_range(0.3..0.75);
        let types = rng.gen_bool(0.3);
        Respondent {
            rng,
            bm,
            webex,
            types,
        }
    }

    fn attitude(&self, subject: &str) -> f64 {
        if subject.to_lowercase().contains("webex") {
            self.webex
        } else {
            self.bm
        }
    }

    /// A point on `lo..=hi` around `lo + a·(hi − lo)`, with a little noise.
    fn point(&mut self, a: f64, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo) as f64;
        let noisy = a * span + self.rng.gen_range(-0.9..0.9);
        lo + (noisy.round() as i64).clamp(0, hi - lo)
    }

    /// The reply to question `index` (0-based, survey order) of `survey`.
    pub fn reply(&mut self, survey: &Survey, index: usize) -> Option<Reply> {
        let q = survey.questions().get(index)?;
        let subject = survey
            .blocks
            .iter()
            .find(|b| (b.first_question..b.first_question + b.question_count).contains(&index))
            .and_then(|b| match &b.kind {
                BlockKind::Instrument { subject, .. } => Some(subject.clone()),
                BlockKind::Custom => None,
            })
            .unwrap_or_default();
        let a = self.attitude(&subject);
        let value: i64 = match (&q.source, &q.kind) {
            (_, QuestionKind::Text { .. }) => {
                let text = if self.rng.gen_bool(0.6) {
                    COMMENTS[self.rng.gen_range(0..COMMENTS.len())].to_owned()
                } else {
                    "-".to_owned()
                };
                return Some(Reply::Type(text));
            }
            (
                Source::Instrument {
                    instrument: Instrument::Sus,
                    item,
                },
                _,
            ) => {
                // Odd SUS items are positive statements, even ones negative.
                if item % 2 == 1 {
                    self.point(a, 1, 5)
                } else {
                    self.point(1.0 - a, 1, 5)
                }
            }
            (_, QuestionKind::Scale { min, max, .. }) => {
                self.point(a, i64::from(*min), i64::from(*max))
            }
            (_, QuestionKind::Choice { options } | QuestionKind::Multi { options, .. }) => {
                let n = options.len().max(1) as i64;
                let k = self.point(a, 1, n);
                // Typed: the option's number; tapped: the option's id.
                return Some(if self.types {
                    Reply::Type(k.to_string())
                } else {
                    Reply::Vote(options[(k - 1) as usize].id.clone())
                });
            }
        };
        Some(if self.types {
            Reply::Type(value.to_string())
        } else {
            Reply::Vote(value.to_string())
        })
    }

    /// Answers the round in `dm` until the thanks (or stops as `behaviour` says). Returns
    /// how many questions it answered.
    pub async fn answer_round(
        &mut self,
        user: &SimUser,
        bot: &OwnedUserId,
        dm: &OwnedRoomId,
        survey: &Survey,
        behaviour: Behaviour,
        timeout: Duration,
    ) -> anyhow::Result<usize> {
        let since = Instant::now();
        let total = survey.questions().len();
        for i in 1..=total {
            if behaviour == Behaviour::StopsAfter(i - 1) {
                user.send_text(dm, "stopp").await?;
                return Ok(i - 1);
            }
            let needle = format!("Frage {i}/");
            let q = user
                .wait_for(timeout, |m| {
                    m.sender == *bot
                        && m.room_id == *dm
                        && m.at >= since
                        && m.body.contains(&needle)
                })
                .await
                .with_context(|| format!("question {i} never came"))?;
            match self.reply(survey, i - 1) {
                Some(Reply::Vote(id)) if q.poll.is_some() => {
                    user.vote(dm, &q.event_id, &[&id]).await?;
                }
                Some(Reply::Vote(text) | Reply::Type(text)) => {
                    user.send_text(dm, &text).await?;
                }
                None => anyhow::bail!("the survey has no question {i}"),
            }
        }
        user.wait_for(timeout, |m| {
            m.sender == *bot && m.room_id == *dm && m.at >= since && m.body.contains("Danke")
        })
        .await
        .context("no thanks after the last answer")?;
        Ok(total)
    }
}
