//! The validated questionnaire: what a survey file becomes after parsing.
//!
//! Everything here is plain data. A [`Survey`] is built only by the parser
//! (`survey::parse_str`), so holding one means the file was valid: ids are unique, every text
//! exists in German and English, `show_if` points backwards at a choice-like item, and the
//! standard instruments carry their published wording. The question types ([`Question`],
//! [`QuestionKind`], [`ChoiceOption`], [`ShowIf`], [`Text`]) derive serde because the
//! conversation layer persists them alongside a round; their field names are part of that
//! stored format, so rename with a migration only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lang::Lang;
use crate::schedule::Schedule;

use super::answer::Answer;

/// A text in both participant languages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Text {
    /// German.
    pub de: String,
    /// English.
    pub en: String,
}

impl Text {
    /// A text from its German and English versions.
    pub fn new(de: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            de: de.into(),
            en: en.into(),
        }
    }

    /// The version for `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.de, &self.en)
    }
}

/// How answers are linked across rounds (see DESIGN.md, privacy model): the model's mode,
/// which a survey names and its rounds carry.
pub use crate::model::Mode;

/// A standard usability instrument with fixed wording and scoring (facts/instruments.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Instrument {
    /// System Usability Scale, 10 items, 5 points.
    #[serde(rename = "sus")]
    Sus,
    /// UMUX-Lite, 2 items, 7 points.
    #[serde(rename = "umux-lite")]
    UmuxLite,
    /// UEQ-S, 8 semantic-differential items, 7 steps.
    #[serde(rename = "ueq-s")]
    UeqS,
    /// Net Promoter Score, 1 item, 0–10.
    #[serde(rename = "nps")]
    Nps,
    /// Single Ease Question, 1 item about a task, 7 points.
    #[serde(rename = "seq")]
    Seq,
}

impl Instrument {
    /// Every instrument, in the order the docs list them.
    pub const ALL: [Instrument; 5] = [
        Instrument::Sus,
        Instrument::UmuxLite,
        Instrument::UeqS,
        Instrument::Nps,
        Instrument::Seq,
    ];

    /// The name used in survey files (`type = "umux-lite"`).
    pub fn name(self) -> &'static str {
        match self {
            Instrument::Sus => "sus",
            Instrument::UmuxLite => "umux-lite",
            Instrument::UeqS => "ueq-s",
            Instrument::Nps => "nps",
            Instrument::Seq => "seq",
        }
    }

    /// The instrument for a survey-file name.
    pub fn from_name(name: &str) -> Option<Instrument> {
        Instrument::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChoiceOption {
    /// Stable short id, stored as the answer (instrument and likert options: "1".."7").
    pub id: String,
    /// What the participant reads.
    pub label: Text,
    /// The number this option scores as (likert and instrument points), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i32>,
}

/// What kind of answer a question takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// Exactly one of the options (likert, single choice, instrument items).
    Choice {
        /// The options in display order (numbered from 1).
        options: Vec<ChoiceOption>,
    },
    /// One or more of the options, at most `max_selections`.
    Multi {
        /// The options in display order (numbered from 1).
        options: Vec<ChoiceOption>,
        /// Upper bound on the number of selected options (≥ 1, ≤ options).
        max_selections: u8,
    },
    /// A whole number from `min` to `max` (0–10), with labels for the two ends.
    Scale {
        /// Lowest value (0).
        min: u8,
        /// Highest value (10).
        max: u8,
        /// Label of the lowest value.
        low: Text,
        /// Label of the highest value.
        high: Text,
    },
    /// Free text of at most `max_length` characters.
    Text {
        /// Maximum number of characters (Unicode scalar values).
        max_length: u32,
    },
}

/// Where a question comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// A custom item written in the survey file.
    Custom,
    /// Item `item` (1-based, published order) of a standard instrument.
    Instrument {
        /// Which instrument.
        instrument: Instrument,
        /// 1-based item number in the published order.
        item: u8,
    },
}

/// Ask a question only when an earlier one was answered with one of `values`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShowIf {
    /// Id of the earlier question.
    pub item: String,
    /// Option ids (choice, multi) or numbers as text (scale) that make this question shown.
    pub values: Vec<String>,
}

impl ShowIf {
    /// Whether the condition holds for the earlier question's answer (none or skipped: no).
    pub fn is_met(&self, answer: Option<&Answer>) -> bool {
        match answer {
            Some(Answer::Choice(id)) => self.values.iter().any(|v| v == id),
            Some(Answer::Multi(ids)) => ids.iter().any(|id| self.values.contains(id)),
            Some(Answer::Scale(n)) => self.values.iter().any(|v| *v == n.to_string()),
            Some(Answer::Text(_)) | Some(Answer::Skipped) | None => false,
        }
    }
}

/// One question as the participant is asked it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Question {
    /// Unique in the survey; instrument items are `<block id>.<item number>`, e.g. `sus_bm.3`.
    pub id: String,
    /// The question or statement.
    pub text: Text,
    /// Shown just before this question: the subject announcement of an instrument block
    /// ("Die folgenden Aussagen beziehen sich auf: Webex") or a SEQ task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Text>,
    /// The answer it takes.
    pub kind: QuestionKind,
    /// Whether the participant may skip it (`-`, `überspringen`, `skip`).
    pub optional: bool,
    /// Asked only if this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<ShowIf>,
    /// Custom item or instrument item.
    pub source: Source,
    /// The system an instrument item is about ("Webex"), shown beside every item's progress
    /// so that item 14 does not read like item 4 about another system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Question {
    /// The options of a choice or multi question; empty for scale and text.
    pub fn options(&self) -> &[ChoiceOption] {
        match &self.kind {
            QuestionKind::Choice { options } | QuestionKind::Multi { options, .. } => options,
            QuestionKind::Scale { .. } | QuestionKind::Text { .. } => &[],
        }
    }

    /// The number an answer scores as: the option's value for a choice, the number for a
    /// scale; `None` for skipped, text, multi, or options without a value.
    pub fn numeric_value(&self, answer: &Answer) -> Option<f64> {
        match (answer, &self.kind) {
            (Answer::Choice(id), QuestionKind::Choice { options }) => options
                .iter()
                .find(|o| &o.id == id)
                .and_then(|o| o.value)
                .map(f64::from),
            (Answer::Scale(n), QuestionKind::Scale { .. }) => Some(f64::from(*n)),
            _ => None,
        }
    }
}

/// What a block of the survey file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    /// A standard instrument about `subject`.
    Instrument {
        /// Which instrument.
        instrument: Instrument,
        /// The system it is about ("BundesMessenger", "Webex").
        subject: String,
        /// The task (SEQ only).
        task: Option<Text>,
    },
    /// One custom item.
    Custom,
}

/// One `[[blocks]]` entry: an instrument (several questions) or a custom item (one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block id (for custom items, the item id).
    pub id: String,
    /// Instrument or custom.
    pub kind: BlockKind,
    /// Index of the block's first question in [`Survey::questions`].
    pub first_question: usize,
    /// Number of questions of the block.
    pub question_count: usize,
}

/// A validated survey.
#[derive(Debug, Clone)]
pub struct Survey {
    /// Unique across the survey directory (`[a-z0-9_-]`).
    pub id: String,
    /// The file label it was parsed from (for messages).
    pub file: String,
    /// Title, shown in admin views and the intro.
    pub title: Text,
    /// Intro text shown when a round opens.
    pub intro: Text,
    /// Pilot rooms whose members are asked (default: all of `bot.pilot_rooms`).
    pub audience: Vec<String>,
    /// Anonymous or pseudonymous.
    pub mode: Mode,
    /// Aggregates with fewer respondents are suppressed.
    pub min_group_size: u32,
    /// After a round closes, post a short aggregate summary in the pilot rooms (figures
    /// with n ≥ `min_group_size` only).
    pub post_summary: bool,
    /// Language for participants who have not chosen one.
    pub default_lang: Lang,
    /// When rounds open, remind and close.
    pub schedule: Schedule,
    /// The blocks in file order.
    pub blocks: Vec<Block>,
    pub(crate) questions: Vec<Question>,
}

impl Survey {
    /// Every question in the order asked, instrument blocks expanded.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The question with this id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// The questions of one block.
    pub fn block_questions(&self, block: &Block) -> &[Question] {
        let end = (block.first_question + block.question_count).min(self.questions.len());
        self.questions.get(block.first_question..end).unwrap_or(&[])
    }

    /// Whether `question` is asked, given the answers so far (`show_if` of an earlier item).
    pub fn is_shown<'a>(
        &self,
        question: &Question,
        answer_of: impl Fn(&str) -> Option<&'a Answer>,
    ) -> bool {
        match &question.show_if {
            None => true,
            Some(cond) => cond.is_met(answer_of(&cond.item)),
        }
    }

    /// A rough answering time in whole minutes (at least 1): about 12 s per choice question
    /// and 40 s per free-text question, which matches "10 Fragen, ca. 2 Minuten".
    pub fn estimated_minutes(&self) -> u32 {
        let seconds: u32 = self
            .questions
            .iter()
            .map(|q| match q.kind {
                QuestionKind::Text { .. } => 40,
                _ => 12,
            })
            .sum();
        seconds.div_ceil(60).max(1)
    }
}
