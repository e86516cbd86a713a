//! A simulated respondent: seeded, plausible answers to any questionnaire, and the loop that
//! answers a round in a direct chat the way a person on a phone does (tapping the poll, or
//! typing the number, sometimes writing a comment).
//!
//! Attitudes differ per respondent and per system (BundesMessenger is rated better than Webex
//! on average, with spread), so the demo's report shows real, varied figures.

use std::collections::BTreeMap;
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
    /// Uses Webex at work (says so where a survey asks before its Webex block).
    uses_webex: bool,
    /// What it answered so far in this round (item id → option id or number), so that it
    /// skips the questions the bot skips by `show_if`.
    given: BTreeMap<String, String>,
}

/// How a round went for one respondent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// Questions it answered.
    pub count: usize,
    /// Whether it got the thanks for a finished round.
    pub finished: bool,
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
            uses_webex: true,
            given: BTreeMap::new(),
        }
    }

    /// The same respondent, but one who does not use Webex at work.
    pub fn without_webex(mut self) -> Self {
        self.uses_webex = false;
        self
    }

    /// Whether it uses the system `subject` (everybody in the pilot uses BundesMessenger).
    fn uses(&self, subject: &str) -> bool {
        self.uses_webex || !subject.to_lowercase().contains("webex")
    }

    /// The subject of the instrument block that question `index` belongs to, if any.
    fn subject_of(survey: &Survey, index: usize) -> Option<String> {
        survey
            .blocks
            .iter()
            .find(|b| (b.first_question..b.first_question + b.question_count).contains(&index))
            .and_then(|b| match &b.kind {
                BlockKind::Instrument { subject, .. } => Some(subject.clone()),
                BlockKind::Custom => None,
            })
    }

    /// For a screening question (a later instrument block is shown only for some of its
    /// answers): the option saying whether it uses that block's system.
    fn screening_answer(&self, survey: &Survey, index: usize) -> Option<(usize, String)> {
        let qs = survey.questions();
        let q = qs.get(index)?;
        let QuestionKind::Choice { options } = &q.kind else {
            return None;
        };
        let (later, cond) = qs.iter().enumerate().skip(index + 1).find_map(|(i, l)| {
            l.show_if
                .as_ref()
                .filter(|c| c.item == q.id)
                .map(|c| (i, c))
        })?;
        let uses = Self::subject_of(survey, later).is_none_or(|s| self.uses(&s));
        options
            .iter()
            .enumerate()
            .find(|(_, o)| cond.values.contains(&o.id) == uses)
            .map(|(k, o)| (k, o.id.clone()))
    }

    /// The next question the bot asks after `after` (survey order), given what this
    /// respondent answered: the first one whose `show_if`, if any, its answers meet.
    pub fn next_question(&self, survey: &Survey, after: Option<usize>) -> Option<usize> {
        let from = after.map_or(0, |a| a + 1);
        survey
            .questions()
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, q)| match &q.show_if {
                None => true,
                Some(c) => self
                    .given
                    .get(&c.item)
                    .is_some_and(|v| c.values.contains(v)),
            })
            .map(|(i, _)| i)
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
        if let Some((k, id)) = self.screening_answer(survey, index) {
            self.given.insert(q.id.clone(), id.clone());
            return Some(if self.types {
                Reply::Type((k + 1).to_string())
            } else {
                Reply::Vote(id)
            });
        }
        let subject = Self::subject_of(survey, index).unwrap_or_default();
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
                let id = options.get((k - 1) as usize)?.id.clone();
                self.given.insert(q.id.clone(), id.clone());
                // Typed: the option's number; tapped: the option's id.
                return Some(if self.types {
                    Reply::Type(k.to_string())
                } else {
                    Reply::Vote(id)
                });
            }
        };
        self.given.insert(q.id.clone(), value.to_string());
        Some(if self.types {
            Reply::Type(value.to_string())
        } else {
            Reply::Vote(value.to_string())
        })
    }

    /// Answers the round in `dm` until the thanks (or stops as `behaviour` says), counting
    /// only the bot's messages since `since` (an instant before the round was started, so
    /// that an earlier round's questions in the same chat are not taken for this one's).
    /// Skips what the bot skips by `show_if`.
    #[allow(clippy::too_many_arguments)]
    pub async fn answer_round(
        &mut self,
        user: &SimUser,
        bot: &OwnedUserId,
        dm: &OwnedRoomId,
        survey: &Survey,
        behaviour: Behaviour,
        since: Instant,
        timeout: Duration,
    ) -> anyhow::Result<Answered> {
        self.given.clear();
        let mut count = 0;
        let mut next = self.next_question(survey, None);
        while let Some(index) = next {
            if behaviour == Behaviour::StopsAfter(count) {
                user.send_text(dm, "stopp").await?;
                return Ok(Answered {
                    count,
                    finished: false,
                });
            }
            let needle = format!("Frage {}/", count + 1);
            let q = user
                .wait_for(timeout, |m| {
                    m.sender == *bot
                        && m.room_id == *dm
                        && m.at >= since
                        && m.body.contains(&needle)
                })
                .await
                .with_context(|| format!("question {} never came", count + 1))?;
            match self.reply(survey, index) {
                Some(Reply::Vote(id)) if q.poll.is_some() => {
                    user.vote(dm, &q.event_id, &[&id]).await?;
                }
                Some(Reply::Vote(text) | Reply::Type(text)) => {
                    user.send_text(dm, &text).await?;
                }
                None => anyhow::bail!("the survey has no question {}", index + 1),
            }
            count += 1;
            next = self.next_question(survey, Some(index));
        }
        user.wait_for(timeout, |m| {
            m.sender == *bot && m.room_id == *dm && m.at >= since && m.body.contains("Danke")
        })
        .await
        .context("no thanks after the last answer")?;
        Ok(Answered {
            count,
            finished: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison() -> Survey {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../surveys/webex-comparison.toml"
        );
        pulsebot::survey::load_file(std::path::Path::new(path), &Default::default())
            .expect("the shipped survey loads")
    }

    /// Walks a round the way `answer_round` does, without a homeserver.
    fn walk(who: &mut Respondent, survey: &Survey) -> Vec<String> {
        let mut asked = Vec::new();
        let mut next = who.next_question(survey, None);
        while let Some(i) = next {
            asked.push(survey.questions()[i].id.clone());
            who.reply(survey, i).expect("a reply");
            next = who.next_question(survey, Some(i));
        }
        asked
    }

    #[test]
    fn who_does_not_use_webex_says_so_and_skips_the_webex_block() {
        let survey = comparison();
        for seed in 0..20 {
            let asked = walk(&mut Respondent::new(seed).without_webex(), &survey);
            assert_eq!(asked.len(), 11, "seed {seed}: {asked:?}");
            assert_eq!(asked.last().map(String::as_str), Some("uses_webex"));
            let asked = walk(&mut Respondent::new(seed), &survey);
            assert_eq!(asked.len(), 21, "seed {seed}: {asked:?}");
        }
    }
}
