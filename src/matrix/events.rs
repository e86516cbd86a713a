//! Turns timeline events into the few typed inputs pulsebot acts on.
//!
//! Everything else (reactions, edits, state it does not track, events it cannot parse) becomes
//! `None` here: a malformed event is logged at debug level without its content and skipped,
//! never a panic.

use matrix_sdk::deserialized_responses::{TimelineEvent, TimelineEventKind};
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::MessageType;
use matrix_sdk::ruma::events::{
    AnySyncMessageLikeEvent, AnySyncStateEvent, AnySyncTimelineEvent, SyncMessageLikeEvent,
    SyncStateEvent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedUserId, UserId};
use tracing::debug;

/// What one timeline event means to pulsebot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A text message (also `m.notice`/`m.emote` bodies are ignored; only `m.text`).
    Text {
        /// The event.
        event_id: OwnedEventId,
        /// Who wrote it.
        sender: OwnedUserId,
        /// The plain-text body.
        body: String,
    },
    /// A vote on a poll (unstable MSC3381 or stable type).
    PollResponse {
        /// The response event.
        event_id: OwnedEventId,
        /// Who voted.
        sender: OwnedUserId,
        /// The poll's start event.
        poll_id: OwnedEventId,
        /// The chosen answer ids (empty means the vote was withdrawn).
        answers: Vec<String>,
    },
    /// A membership change.
    Membership {
        /// The member event.
        event_id: OwnedEventId,
        /// Whose membership changed.
        user: OwnedUserId,
        /// Joined, left, invited, ...
        membership: MembershipState,
    },
    /// An encrypted event whose keys the bot does not have.
    Undecryptable {
        /// The encrypted event.
        event_id: OwnedEventId,
        /// Who sent it.
        sender: OwnedUserId,
        /// The sending device, when the event names it.
        device_id: Option<String>,
    },
}

impl Inbound {
    /// The event id of the input.
    pub fn event_id(&self) -> &OwnedEventId {
        match self {
            Inbound::Text { event_id, .. }
            | Inbound::PollResponse { event_id, .. }
            | Inbound::Membership { event_id, .. }
            | Inbound::Undecryptable { event_id, .. } => event_id,
        }
    }
}

/// Classifies one timeline event; `own` is the bot, whose own messages are ignored.
pub fn classify(event: &TimelineEvent, own: &UserId) -> Option<Inbound> {
    if let TimelineEventKind::UnableToDecrypt { event: raw, .. } = &event.kind {
        let event_id = event.event_id()?;
        let sender: OwnedUserId = raw.get_field("sender").ok().flatten()?;
        if sender == own {
            return None;
        }
        let device_id = raw
            .get_field::<serde_json::Value>("content")
            .ok()
            .flatten()
            .and_then(|c| {
                c.get("device_id")
                    .and_then(|d| d.as_str())
                    .map(str::to_owned)
            });
        return Some(Inbound::Undecryptable {
            event_id,
            sender,
            device_id,
        });
    }
    let parsed = match event.raw().deserialize() {
        Ok(ev) => ev,
        Err(e) => {
            debug!(event_id = ?event.event_id(), error = %e, "skipping an event that does not parse");
            return None;
        }
    };
    classify_parsed(parsed, own)
}

fn classify_parsed(ev: AnySyncTimelineEvent, own: &UserId) -> Option<Inbound> {
    match ev {
        AnySyncTimelineEvent::State(AnySyncStateEvent::RoomMember(SyncStateEvent::Original(m))) => {
            let user = OwnedUserId::try_from(m.state_key.as_str()).ok()?;
            Some(Inbound::Membership {
                event_id: m.event_id,
                user,
                membership: m.content.membership,
            })
        }
        AnySyncTimelineEvent::MessageLike(msg) => {
            if msg.sender() == own {
                return None;
            }
            match msg {
                AnySyncMessageLikeEvent::RoomMessage(SyncMessageLikeEvent::Original(m)) => {
                    match m.content.msgtype {
                        MessageType::Text(t) => Some(Inbound::Text {
                            event_id: m.event_id,
                            sender: m.sender,
                            body: t.body,
                        }),
                        _ => None,
                    }
                }
                AnySyncMessageLikeEvent::UnstablePollResponse(SyncMessageLikeEvent::Original(
                    r,
                )) => Some(Inbound::PollResponse {
                    event_id: r.event_id,
                    sender: r.sender,
                    poll_id: r.content.relates_to.event_id,
                    answers: r.content.poll_response.answers,
                }),
                AnySyncMessageLikeEvent::PollResponse(SyncMessageLikeEvent::Original(r)) => {
                    Some(Inbound::PollResponse {
                        event_id: r.event_id,
                        sender: r.sender,
                        poll_id: r.content.relates_to.event_id,
                        answers: r.content.selections.to_vec(),
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrix_sdk::ruma::serde::Raw;
    use matrix_sdk::ruma::user_id;
    use serde_json::json;

    fn event(v: serde_json::Value) -> TimelineEvent {
        let raw: Raw<AnySyncTimelineEvent> = Raw::new(&v).expect("json").cast_unchecked();
        TimelineEvent::from_plaintext(raw)
    }

    const BOT: &str = "@bot:localhost";

    #[test]
    fn text_message_is_classified() {
        let ev = event(json!({
            "type": "m.room.message", "event_id": "$1", "sender": "@a:localhost",
            "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "!pulse status"}
        }));
        let got = classify(&ev, user_id!("@bot:localhost"));
        assert!(matches!(got, Some(Inbound::Text { ref body, .. }) if body == "!pulse status"));
    }

    #[test]
    fn own_messages_are_ignored() {
        let ev = event(json!({
            "type": "m.room.message", "event_id": "$1", "sender": BOT,
            "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "hi"}
        }));
        assert_eq!(classify(&ev, user_id!("@bot:localhost")), None);
    }

    #[test]
    fn unstable_and_stable_poll_responses_are_classified() {
        for (ty, content) in [
            (
                "org.matrix.msc3381.poll.response",
                json!({"org.matrix.msc3381.poll.response": {"answers": ["a3"]},
                       "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
            ),
            (
                "m.poll.response",
                json!({"m.selections": ["a3"],
                       "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
            ),
        ] {
            let ev = event(json!({
                "type": ty, "event_id": "$2", "sender": "@a:localhost",
                "origin_server_ts": 1, "content": content
            }));
            match classify(&ev, user_id!("@bot:localhost")) {
                Some(Inbound::PollResponse {
                    poll_id, answers, ..
                }) => {
                    assert_eq!(poll_id.as_str(), "$poll");
                    assert_eq!(answers, vec!["a3".to_string()]);
                }
                other => panic!("{ty}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_events_are_skipped() {
        for v in [
            json!({"type": "m.room.message", "event_id": "$1"}),
            json!({"type": "m.room.message", "event_id": "$1", "sender": "nope",
                   "origin_server_ts": 1, "content": {"msgtype": "m.text"}}),
            json!({"type": "org.matrix.msc3381.poll.response", "event_id": "$1",
                   "sender": "@a:localhost", "origin_server_ts": 1, "content": {"answers": 5}}),
            json!([1, 2, 3]),
        ] {
            assert_eq!(classify(&event(v), user_id!("@bot:localhost")), None);
        }
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
            Just(json!("$poll")),
            Just(json!("m.reference")),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("answers".to_owned()),
                        Just("m.relates_to".to_owned()),
                        Just("event_id".to_owned()),
                        Just("rel_type".to_owned()),
                        Just("org.matrix.msc3381.poll.response".to_owned()),
                        Just("m.selections".to_owned()),
                        Just("body".to_owned()),
                        Just("msgtype".to_owned()),
                        "[a-z.]{1,8}",
                    ],
                    inner,
                    0..4,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Arbitrary content under the types pulsebot reads: classified or skipped, never a
        /// panic, and a poll response is only produced with a poll id.
        #[test]
        fn arbitrary_content_never_panics(
            content in arb_json(),
            ty in proptest::prop_oneof![
                proptest::strategy::Just("org.matrix.msc3381.poll.response"),
                proptest::strategy::Just("m.poll.response"),
                proptest::strategy::Just("m.room.message"),
                proptest::strategy::Just("m.room.member"),
            ],
        ) {
            let ev = event(json!({
                "type": ty, "event_id": "$x", "sender": "@a:localhost", "state_key": "@a:localhost",
                "origin_server_ts": 1, "content": content
            }));
            if let Some(Inbound::PollResponse { poll_id, .. }) = classify(&ev, user_id!("@bot:localhost")) {
                proptest::prop_assert!(poll_id.as_str().starts_with('$'));
            }
        }
    }
}
