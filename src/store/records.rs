//! The store's persisted records: the shapes values have on disk, converted from and to the
//! core's domain model ([`pulsebot_core::model`]).
//!
//! Edge: only these types are serialized into the store. Field order is part of the on-disk
//! format (postcard is positional): change a record only together with a schema migration
//! (`migrate.rs`). The model may change freely as long as the conversions here still map it;
//! that is the point of keeping the two apart.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use pulsebot_core::lang::Lang;
use pulsebot_core::model::{
    AnswerRecord, AnswerValue, ConsentState, ConversationState, LedgerEntry, Mode, Outbound,
    PollRef, RoundInfo, RoundParticipation, RoundSchedule, RoundStatus,
};

/// A value the store keeps: converted into its record on the way in and back on the way out.
pub(crate) trait Persisted: Sized {
    /// The on-disk shape.
    type Record: Serialize + DeserializeOwned;
    /// The record to write for this value.
    fn to_record(&self) -> Self::Record;
    /// The value a stored record stands for.
    fn from_record(r: Self::Record) -> Self;
}

/// Store-internal values that are their own record.
macro_rules! persisted_as_is {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::store::records::Persisted for $t {
            type Record = $t;
            fn to_record(&self) -> $t {
                self.clone()
            }
            fn from_record(r: $t) -> $t {
                r
            }
        }
    )*};
}

pub(crate) use persisted_as_is;

persisted_as_is!([u8; 32], Vec<u8>);

/// [`AnswerValue`] on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AnswerValueRec {
    Choice(String),
    Multi(Vec<String>),
    Number(i64),
    Text(String),
    Skipped,
}

impl From<&AnswerValue> for AnswerValueRec {
    fn from(v: &AnswerValue) -> Self {
        match v {
            AnswerValue::Choice(s) => AnswerValueRec::Choice(s.clone()),
            AnswerValue::Multi(v) => AnswerValueRec::Multi(v.clone()),
            AnswerValue::Number(n) => AnswerValueRec::Number(*n),
            AnswerValue::Text(s) => AnswerValueRec::Text(s.clone()),
            AnswerValue::Skipped => AnswerValueRec::Skipped,
        }
    }
}

impl From<AnswerValueRec> for AnswerValue {
    fn from(v: AnswerValueRec) -> Self {
        match v {
            AnswerValueRec::Choice(s) => AnswerValue::Choice(s),
            AnswerValueRec::Multi(v) => AnswerValue::Multi(v),
            AnswerValueRec::Number(n) => AnswerValue::Number(n),
            AnswerValueRec::Text(s) => AnswerValue::Text(s),
            AnswerValueRec::Skipped => AnswerValue::Skipped,
        }
    }
}

/// Maps the variants of a fieldless model enum to its record and back, one to one.
macro_rules! unit_enum_record {
    ($(#[$m:meta])* $rec:ident <=> $model:ty { $($v:ident),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        $(#[$m])*
        pub(crate) enum $rec { $($v),* }
        impl From<$model> for $rec {
            fn from(m: $model) -> Self {
                match m { $(<$model>::$v => $rec::$v),* }
            }
        }
        impl From<$rec> for $model {
            fn from(r: $rec) -> Self {
                match r { $($rec::$v => <$model>::$v),* }
            }
        }
    };
}

unit_enum_record!(ModeRec <=> Mode { Anonymous, Pseudonymous });
unit_enum_record!(ConsentRec <=> ConsentState { Unknown, Asked, Yes, No });
unit_enum_record!(RoundStatusRec <=> RoundStatus { Invited, Started, Finished, Partial, OptedOut });
unit_enum_record!(
    // Schema 1 stored JSON, where the language was written as `"de"`/`"en"`.
    #[serde(rename_all = "lowercase")]
    LangRec <=> Lang { De, En }
);

fn answers_rec(a: &BTreeMap<String, AnswerValue>) -> BTreeMap<String, AnswerValueRec> {
    a.iter().map(|(k, v)| (k.clone(), v.into())).collect()
}

fn answers_model(a: BTreeMap<String, AnswerValueRec>) -> BTreeMap<String, AnswerValue> {
    a.into_iter().map(|(k, v)| (k, v.into())).collect()
}

/// [`RoundParticipation`] on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ParticipationRec {
    survey_id: String,
    round: u32,
    status: RoundStatusRec,
    reminders_sent: u32,
}

/// [`LedgerEntry`] on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LedgerRec {
    user_id: String,
    consent: ConsentRec,
    consent_at: Option<Timestamp>,
    lang: LangRec,
    dm_room: Option<String>,
    rounds: Vec<ParticipationRec>,
    erased: bool,
}

impl Persisted for LedgerEntry {
    type Record = LedgerRec;
    fn to_record(&self) -> LedgerRec {
        LedgerRec {
            user_id: self.user_id.clone(),
            consent: self.consent.into(),
            consent_at: self.consent_at,
            lang: self.lang.into(),
            dm_room: self.dm_room.clone(),
            rounds: self
                .rounds
                .iter()
                .map(|r| ParticipationRec {
                    survey_id: r.survey_id.clone(),
                    round: r.round,
                    status: r.status.into(),
                    reminders_sent: r.reminders_sent,
                })
                .collect(),
            erased: self.erased,
        }
    }
    fn from_record(r: LedgerRec) -> Self {
        LedgerEntry {
            user_id: r.user_id,
            consent: r.consent.into(),
            consent_at: r.consent_at,
            lang: r.lang.into(),
            dm_room: r.dm_room,
            rounds: r
                .rounds
                .into_iter()
                .map(|p| RoundParticipation {
                    survey_id: p.survey_id,
                    round: p.round,
                    status: p.status.into(),
                    reminders_sent: p.reminders_sent,
                })
                .collect(),
            erased: r.erased,
        }
    }
}

/// [`PollRef`] on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PollRec {
    item_id: String,
    answer_ids: BTreeMap<String, String>,
}

/// [`ConversationState`] on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConversationStateRec {
    current: u32,
    answers: BTreeMap<String, AnswerValueRec>,
    polls: BTreeMap<String, PollRec>,
    /// Oldest first (see `pulsebot_core::counted`); schema 5 wrote a sorted set of bare ids,
    /// which postcard encodes the same way.
    counted: Vec<String>,
}

impl Persisted for ConversationState {
    type Record = ConversationStateRec;
    fn to_record(&self) -> ConversationStateRec {
        ConversationStateRec {
            current: self.current,
            answers: answers_rec(&self.answers),
            polls: self
                .polls
                .iter()
                .map(|(k, p)| {
                    let rec = PollRec {
                        item_id: p.item_id.clone(),
                        answer_ids: p.answer_ids.clone(),
                    };
                    (k.clone(), rec)
                })
                .collect(),
            counted: self.counted.raw().map(str::to_owned).collect(),
        }
    }
    fn from_record(r: ConversationStateRec) -> Self {
        ConversationState {
            current: r.current,
            answers: answers_model(r.answers),
            polls: r
                .polls
                .into_iter()
                .map(|(k, p)| {
                    let poll = PollRef {
                        item_id: p.item_id,
                        answer_ids: p.answer_ids,
                    };
                    (k, poll)
                })
                .collect(),
            counted: crate::model::Counted::from_raw(r.counted),
        }
    }
}

/// [`AnswerRecord`] on disk (the layout `scan.rs` decodes into borrowed views).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AnswerRec {
    survey_id: String,
    round: u32,
    complete: bool,
    answers: BTreeMap<String, AnswerValueRec>,
    pseudonym: Option<String>,
}

impl Persisted for AnswerRecord {
    type Record = AnswerRec;
    fn to_record(&self) -> AnswerRec {
        AnswerRec {
            survey_id: self.survey_id.clone(),
            round: self.round,
            complete: self.complete,
            answers: answers_rec(&self.answers),
            pseudonym: self.pseudonym.clone(),
        }
    }
    fn from_record(r: AnswerRec) -> Self {
        AnswerRecord {
            survey_id: r.survey_id,
            round: r.round,
            complete: r.complete,
            answers: answers_model(r.answers),
            pseudonym: r.pseudonym,
        }
    }
}

/// [`RoundSchedule`] on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoundScheduleRec {
    pub(crate) slot: Timestamp,
    pub(crate) closes_at: Timestamp,
    pub(crate) reminders_done: u8,
}

/// [`RoundInfo`] on disk (schema 5 and later; `migrate.rs` keeps the older shapes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoundRec {
    pub(crate) survey_id: String,
    pub(crate) round: u32,
    pub(crate) mode: ModeRec,
    pub(crate) opened_at: Timestamp,
    pub(crate) closed_at: Option<Timestamp>,
    pub(crate) raw_deleted_at: Option<Timestamp>,
    pub(crate) responses: u64,
    pub(crate) audience: Option<u64>,
    pub(crate) label: Option<String>,
    /// Schema 5.
    pub(crate) schedule: Option<RoundScheduleRec>,
}

impl Persisted for RoundInfo {
    type Record = RoundRec;
    fn to_record(&self) -> RoundRec {
        RoundRec {
            survey_id: self.survey_id.clone(),
            round: self.round,
            mode: self.mode.into(),
            opened_at: self.opened_at,
            closed_at: self.closed_at,
            raw_deleted_at: self.raw_deleted_at,
            responses: self.responses,
            audience: self.audience,
            label: self.label.clone(),
            schedule: self.schedule.map(|s| RoundScheduleRec {
                slot: s.slot,
                closes_at: s.closes_at,
                reminders_done: s.reminders_done,
            }),
        }
    }
    fn from_record(r: RoundRec) -> Self {
        RoundInfo {
            survey_id: r.survey_id,
            round: r.round,
            mode: r.mode.into(),
            opened_at: r.opened_at,
            closed_at: r.closed_at,
            raw_deleted_at: r.raw_deleted_at,
            responses: r.responses,
            audience: r.audience,
            label: r.label,
            schedule: r.schedule.map(|s| RoundSchedule {
                slot: s.slot,
                closes_at: s.closes_at,
                reminders_done: s.reminders_done,
            }),
        }
    }
}

/// [`Outbound`] on disk; its transaction id lives in the outbox entry around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboundRec {
    room_id: String,
    content: String,
    context: Option<String>,
}

impl From<&Outbound> for OutboundRec {
    fn from(o: &Outbound) -> Self {
        OutboundRec {
            room_id: o.room_id.clone(),
            content: o.content.clone(),
            context: o.context.clone(),
        }
    }
}

impl From<OutboundRec> for Outbound {
    fn from(o: OutboundRec) -> Self {
        Outbound {
            txn_id: None,
            room_id: o.room_id,
            content: o.content,
            context: o.context,
        }
    }
}
