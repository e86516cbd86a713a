//! Turns the conversation's [`Outgoing`] messages into Matrix event content.
//!
//! Polls go out in the unstable MSC3381 layout, which Element and BundesMessenger send and
//! render (`org.matrix.msc3381.poll.start`), with the numbered plain-text fallback as the
//! event's text for clients without poll support.

use matrix_sdk::ruma::events::AnyMessageLikeEventContent;
use matrix_sdk::ruma::events::poll::start::PollKind;
use matrix_sdk::ruma::events::poll::unstable_end::UnstablePollEndEventContent;
use matrix_sdk::ruma::events::poll::unstable_start::{
    NewUnstablePollStartEventContent, UnstablePollAnswer, UnstablePollAnswers,
    UnstablePollStartContentBlock, UnstablePollStartEventContent,
};
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::{OwnedEventId, UInt};

use crate::conversation::Outgoing;

/// Why an outgoing message cannot be sent as it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    /// Matrix polls take 1–20 answers.
    #[error("a poll needs 1 to 20 answers, this one has {0}")]
    PollAnswers(usize),
    /// The poll end refers to something that is not an event id.
    #[error("`{0}` is not an event id")]
    EventId(String),
}

/// The event content for one outgoing message.
pub fn to_content(out: &Outgoing) -> Result<AnyMessageLikeEventContent, ContentError> {
    Ok(match out {
        Outgoing::Text { text, .. } => {
            AnyMessageLikeEventContent::RoomMessage(RoomMessageEventContent::text_plain(text))
        }
        Outgoing::Poll { poll, .. } => {
            let answers: Vec<UnstablePollAnswer> = poll
                .answers
                .iter()
                .map(|a| UnstablePollAnswer::new(a.id.clone(), a.text.clone()))
                .collect();
            let n = answers.len();
            let answers =
                UnstablePollAnswers::try_from(answers).map_err(|_| ContentError::PollAnswers(n))?;
            let mut block = UnstablePollStartContentBlock::new(poll.question.clone(), answers);
            block.kind = if poll.disclosed {
                PollKind::Disclosed
            } else {
                PollKind::Undisclosed
            };
            block.max_selections = UInt::from(poll.max_selections.max(1));
            AnyMessageLikeEventContent::UnstablePollStart(UnstablePollStartEventContent::New(
                NewUnstablePollStartEventContent::plain_text(poll.fallback.clone(), block),
            ))
        }
        Outgoing::PollEnd {
            poll_event_id,
            text,
            ..
        } => {
            let id = OwnedEventId::try_from(poll_event_id.as_str())
                .map_err(|_| ContentError::EventId(poll_event_id.clone()))?;
            AnyMessageLikeEventContent::UnstablePollEnd(UnstablePollEndEventContent::new(
                text.clone(),
                id,
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Context, PollAnswer, PollStart};

    fn poll(n: usize) -> Outgoing {
        Outgoing::Poll {
            context: Context::Consent,
            poll: PollStart {
                question: "Frage 1/2: Wie einfach?".into(),
                answers: (1..=n)
                    .map(|i| PollAnswer {
                        id: format!("o{i}"),
                        text: format!("{i}"),
                    })
                    .collect(),
                max_selections: 1,
                disclosed: true,
                fallback: "Frage 1/2: Wie einfach?\n1\n2".into(),
            },
        }
    }

    #[test]
    fn polls_use_the_unstable_layout_with_fallback() {
        let content = to_content(&poll(7)).expect("valid poll");
        let json = serde_json::to_value(&content).expect("serializes");
        let start = &json["org.matrix.msc3381.poll.start"];
        assert_eq!(start["kind"], "org.matrix.msc3381.poll.disclosed");
        assert_eq!(start["max_selections"], 1);
        assert_eq!(start["answers"].as_array().map(Vec::len), Some(7));
        assert_eq!(start["answers"][0]["id"], "o1");
        assert_eq!(
            json["org.matrix.msc1767.text"],
            "Frage 1/2: Wie einfach?\n1\n2"
        );
    }

    #[test]
    fn bad_polls_are_errors_not_panics() {
        assert_eq!(
            to_content(&poll(0)).err(),
            Some(ContentError::PollAnswers(0))
        );
        assert_eq!(
            to_content(&poll(21)).err(),
            Some(ContentError::PollAnswers(21))
        );
        let end = Outgoing::PollEnd {
            context: Context::Consent,
            poll_event_id: "not an id".into(),
            text: "Ende".into(),
        };
        assert!(matches!(to_content(&end), Err(ContentError::EventId(_))));
    }
}
