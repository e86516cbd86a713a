//! The messages the conversation wants sent, as plain serde data.
//!
//! The bot's persistence keeps an outgoing message as an opaque JSON string in [`Outbound::content`]
//! until the Matrix layer has sent it; this module defines that JSON and converts both ways.
//! No Matrix or ruma types here on purpose: the Matrix layer turns an [`Outgoing`] into ruma
//! content (`RoomMessageEventContent::text_plain`, `NewUnstablePollStartEventContent`,
//! `UnstablePollEndEventContent`), so the conversation stays testable without a homeserver.
//!
//! Every message carries a [`Context`] tag, also copied into [`Outbound::context`], so the
//! sender can tell after sending what it was: a poll tagged `q:<item id>` must be registered
//! with [`crate::conversation::register_sent`] under the event id the homeserver returned.
//!
//! The JSON is stored in the outbox: changing field names needs a migration of pending
//! messages (a snapshot test guards it).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::Outbound;

/// What a message is for; stored as a short string (`"q:sus_bm.3"`, `"consent"`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Context {
    /// The data-protection notice (`notice`).
    Notice,
    /// The consent poll (`consent`); its answer ids identify it, no registration needed.
    Consent,
    /// The round's intro (`intro`).
    Intro,
    /// A subject announcement or task shown before a question (`info:<item id>`). No longer
    /// queued (issue 17: the line now leads the question's own event); still read back from
    /// outboxes written before.
    Info(String),
    /// A question (`q:<item id>`): a poll to register after sending, or a text question.
    Question(String),
    /// A short hint after an invalid answer (`hint`).
    Hint,
    /// The thanks after the last question (`thanks`).
    Thanks,
    /// "This survey has closed" (`closed`).
    Closed,
    /// The reply to a DM command or consent answer (`reply`).
    Reply,
    /// A reminder line (`reminder`).
    Reminder,
    /// The end of a poll (`end:<item id>`).
    PollEnd(String),
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Context::Notice => f.write_str("notice"),
            Context::Consent => f.write_str("consent"),
            Context::Intro => f.write_str("intro"),
            Context::Info(item) => write!(f, "info:{item}"),
            Context::Question(item) => write!(f, "q:{item}"),
            Context::Hint => f.write_str("hint"),
            Context::Thanks => f.write_str("thanks"),
            Context::Closed => f.write_str("closed"),
            Context::Reply => f.write_str("reply"),
            Context::Reminder => f.write_str("reminder"),
            Context::PollEnd(item) => write!(f, "end:{item}"),
        }
    }
}

/// Why a stored message could not be read back.
#[derive(Debug, Error)]
pub enum OutgoingError {
    /// The context tag is not one this version writes.
    #[error("unknown message context tag")]
    UnknownContext,
    /// The content is not an [`Outgoing`] in JSON.
    #[error("stored message content is not valid: {0}")]
    Json(#[from] serde_json::Error),
}

impl FromStr for Context {
    type Err = OutgoingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "notice" => Context::Notice,
            "consent" => Context::Consent,
            "intro" => Context::Intro,
            "hint" => Context::Hint,
            "thanks" => Context::Thanks,
            "closed" => Context::Closed,
            "reply" => Context::Reply,
            "reminder" => Context::Reminder,
            _ => match s.split_once(':') {
                Some(("q", item)) => Context::Question(item.to_owned()),
                Some(("info", item)) => Context::Info(item.to_owned()),
                Some(("end", item)) => Context::PollEnd(item.to_owned()),
                _ => return Err(OutgoingError::UnknownContext),
            },
        })
    }
}

impl From<Context> for String {
    fn from(c: Context) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for Context {
    type Error = OutgoingError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// One answer of a poll: the id the client sends back in a response, and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollAnswer {
    /// The answer id (MSC3381 `id`); for survey polls the option id.
    pub id: String,
    /// What the participant sees.
    pub text: String,
}

/// A poll in the unstable MSC3381 layout (`org.matrix.msc3381.poll.start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollStart {
    /// The question, with progress ("Frage 3/10: …").
    pub question: String,
    /// 1–20 answers in display order.
    pub answers: Vec<PollAnswer>,
    /// How many answers may be chosen (1 for single choice).
    pub max_selections: u8,
    /// Results visible while the poll runs (`org.matrix.msc3381.poll.disclosed`); in a
    /// DM the participant sees only their own vote.
    pub disclosed: bool,
    /// Plain text with numbered options for clients without poll support; typing a number
    /// from it answers too.
    pub fallback: String,
}

/// A message the conversation wants sent. Its texts may hold personal data (a "my data"
/// reply holds the participant's answers and Matrix id): log the [`Context`], never the
/// message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// A plain text message (`m.text`).
    Text {
        /// What it is for.
        context: Context,
        /// The body.
        text: String,
    },
    /// A poll.
    Poll {
        /// What it is for (`q:<item>` or `consent`).
        context: Context,
        /// The poll.
        poll: PollStart,
    },
    /// The end of a poll the bot sent (`org.matrix.msc3381.poll.end`, relating to it).
    PollEnd {
        /// What it is for (`end:<item>`).
        context: Context,
        /// The event id of the poll start.
        poll_event_id: String,
        /// Fallback text.
        text: String,
    },
}

impl Outgoing {
    /// A text message.
    pub fn text(context: Context, text: impl Into<String>) -> Outgoing {
        Outgoing::Text {
            context,
            text: text.into(),
        }
    }

    /// What the message is for.
    pub fn context(&self) -> &Context {
        match self {
            Outgoing::Text { context, .. }
            | Outgoing::Poll { context, .. }
            | Outgoing::PollEnd { context, .. } => context,
        }
    }

    /// The text a participant reads (the fallback for polls); for tests and previews.
    pub fn body(&self) -> &str {
        match self {
            Outgoing::Text { text, .. } | Outgoing::PollEnd { text, .. } => text,
            Outgoing::Poll { poll, .. } => &poll.fallback,
        }
    }

    /// The JSON stored in [`Outbound::content`].
    pub fn to_json(&self) -> String {
        // Plain structs with string keys only: serde_json cannot fail on them.
        serde_json::to_string(self).expect("Outgoing serializes: no maps, no non-string keys")
    }

    /// Reads a message back from its JSON.
    pub fn from_json(json: &str) -> Result<Outgoing, OutgoingError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The persisted outbox record for sending this into `room_id`.
    pub fn to_outbound(&self, room_id: &str) -> Outbound {
        Outbound {
            txn_id: None,
            room_id: room_id.to_owned(),
            content: self.to_json(),
            context: Some(self.context().to_string()),
        }
    }

    /// Reads a message back from an outbox record.
    pub fn from_outbound(outbound: &Outbound) -> Result<Outgoing, OutgoingError> {
        Outgoing::from_json(&outbound.content)
    }
}

/// Turns a list of messages into outbox records for one room.
pub fn to_outbounds(messages: &[Outgoing], room_id: &str) -> Vec<Outbound> {
    messages.iter().map(|m| m.to_outbound(room_id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_tags_round_trip() {
        for c in [
            Context::Notice,
            Context::Consent,
            Context::Intro,
            Context::Info("sus_bm.1".into()),
            Context::Question("sus_bm.3".into()),
            Context::Hint,
            Context::Thanks,
            Context::Closed,
            Context::Reply,
            Context::Reminder,
            Context::PollEnd("q:x".into()),
        ] {
            let s = c.to_string();
            assert_eq!(s.parse::<Context>().ok(), Some(c.clone()), "{s}");
        }
        assert_eq!(
            Context::Question("sus_bm.3".into()).to_string(),
            "q:sus_bm.3"
        );
        assert!("bogus".parse::<Context>().is_err());
    }

    #[test]
    fn stored_json_is_stable() {
        let m = Outgoing::Poll {
            context: Context::Question("q1".into()),
            poll: PollStart {
                question: "Frage 1/2: Wie oft?".into(),
                answers: vec![PollAnswer {
                    id: "daily".into(),
                    text: "Täglich".into(),
                }],
                max_selections: 1,
                disclosed: true,
                fallback: "1. Täglich".into(),
            },
        };
        let json = m.to_json();
        assert_eq!(
            json,
            r#"{"type":"poll","context":"q:q1","poll":{"question":"Frage 1/2: Wie oft?","answers":[{"id":"daily","text":"Täglich"}],"max_selections":1,"disclosed":true,"fallback":"1. Täglich"}}"#
        );
        let end = Outgoing::PollEnd {
            context: Context::PollEnd("q1".into()),
            poll_event_id: "$p".into(),
            text: "Ende".into(),
        };
        assert_eq!(
            end.to_json(),
            r#"{"type":"poll_end","context":"end:q1","poll_event_id":"$p","text":"Ende"}"#
        );
        let ob = m.to_outbound("!room:localhost");
        assert_eq!(ob.context.as_deref(), Some("q:q1"));
        assert_eq!(Outgoing::from_outbound(&ob).ok(), Some(m));
        assert_eq!(Outgoing::from_json(&end.to_json()).ok(), Some(end));
        assert!(Outgoing::from_json("{}").is_err());
        assert!(Outgoing::from_json(r#"{"type":"text","context":"zzz","text":""}"#).is_err());
    }
}
