//! Turns timeline events into the few typed inputs pulsebot acts on.
//!
//! Edits (`m.replace`), quote-replies and thread messages, and redactions get variants of
//! their own, so that none of them is ever mistaken for an answer or a command (issue 14;
//! what each does is decided in the conversation). Everything else (reactions, unknown
//! relations, state it does not track, events it cannot parse) becomes `None` here: a malformed event is logged at debug level without its content and skipped,
//! never a panic.

use matrix_sdk::deserialized_responses::{TimelineEvent, TimelineEventKind};
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::MessageType;
use matrix_sdk::ruma::events::room::message::Relation;
use matrix_sdk::ruma::events::room::redaction::SyncRoomRedactionEvent;
use matrix_sdk::ruma::events::{
    AnySyncMessageLikeEvent, AnySyncStateEvent, AnySyncTimelineEvent, SyncMessageLikeEvent,
    SyncStateEvent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
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
    /// A quote-reply (`m.in_reply_to`) or a thread message: never an answer; a command in
    /// it is still a command.
    Aside {
        /// The event.
        event_id: OwnedEventId,
        /// Who wrote it.
        sender: OwnedUserId,
        /// The plain-text body, without a reply fallback.
        body: String,
    },
    /// An edit (`m.replace`) of an earlier text message: its new text. Never a command.
    Edit {
        /// The edit event.
        event_id: OwnedEventId,
        /// Who wrote it (only the author's own edits count; see the bot).
        sender: OwnedUserId,
        /// The edited event.
        target: OwnedEventId,
        /// The new plain-text body.
        body: String,
    },
    /// A redaction of an earlier event.
    Redaction {
        /// The redaction event.
        event_id: OwnedEventId,
        /// Who redacted.
        sender: OwnedUserId,
        /// The redacted event.
        target: OwnedEventId,
    },
    /// The room was upgraded: its successor.
    Tombstone {
        /// The tombstone event.
        event_id: OwnedEventId,
        /// The room that replaces this one.
        replacement: OwnedRoomId,
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
            | Inbound::Aside { event_id, .. }
            | Inbound::Edit { event_id, .. }
            | Inbound::Redaction { event_id, .. }
            | Inbound::Tombstone { event_id, .. }
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
        AnySyncTimelineEvent::State(AnySyncStateEvent::RoomTombstone(
            SyncStateEvent::Original(t),
        )) => Some(Inbound::Tombstone {
            event_id: t.event_id,
            replacement: t.content.replacement_room,
        }),
        AnySyncTimelineEvent::MessageLike(msg) => {
            if msg.sender() == own {
                return None;
            }
            match msg {
                AnySyncMessageLikeEvent::RoomMessage(SyncMessageLikeEvent::Original(m)) => {
                    let (event_id, sender) = (m.event_id, m.sender);
                    match m.content.relates_to {
                        Some(Relation::Replacement(r)) => match r.new_content.msgtype {
                            MessageType::Text(t) => Some(Inbound::Edit {
                                event_id,
                                sender,
                                target: r.event_id,
                                body: t.body,
                            }),
                            _ => None,
                        },
                        Some(Relation::Reply { .. } | Relation::Thread(_)) => {
                            match m.content.msgtype {
                                MessageType::Text(t) => Some(Inbound::Aside {
                                    event_id,
                                    sender,
                                    body: strip_reply_fallback(&t.body).to_owned(),
                                }),
                                _ => None,
                            }
                        }
                        // Unknown relations (annotations sent as messages, custom ones):
                        // nothing pulsebot reads.
                        Some(_) => None,
                        None => match m.content.msgtype {
                            MessageType::Text(t) => Some(Inbound::Text {
                                event_id,
                                sender,
                                body: t.body,
                            }),
                            _ => None,
                        },
                    }
                }
                AnySyncMessageLikeEvent::RoomRedaction(SyncRoomRedactionEvent::Original(r)) => {
                    let target = r.redacts.or(r.content.redacts)?;
                    Some(Inbound::Redaction {
                        event_id: r.event_id,
                        sender: r.sender,
                        target,
                    })
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

/// The body of a reply without the quoted fallback (`> ` lines and the blank line after
/// them) that older clients put before it.
fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    let mut rest = body;
    while let Some(line_end) = rest.find('\n') {
        if rest.starts_with("> ") || rest.starts_with(">\n") {
            rest = &rest[line_end + 1..];
        } else {
            break;
        }
    }
    rest.strip_prefix('\n').unwrap_or(rest)
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

/// The event-content part of the bad-input corpus (issue 14): each event with what the bot
/// makes of it. The rest of the corpus (survey files, config, chat answers, import,
/// control socket) lives in `core/tests/bad_input.rs`, `src/config_corpus.rs` and
/// `src/control_corpus.rs`.
#[cfg(test)]
mod corpus {
    use super::*;
    use matrix_sdk::ruma::serde::Raw;
    use matrix_sdk::ruma::user_id;
    use serde_json::json;

    /// What a case must classify as.
    #[derive(Debug, PartialEq)]
    enum Want {
        Skip,
        Text(&'static str),
        Aside(&'static str),
        Edit(&'static str, &'static str),
        Redaction(&'static str),
        Vote(&'static str, usize),
        Member,
        Tombstone,
    }

    fn kind(i: Option<Inbound>) -> String {
        match i {
            None => "Skip".into(),
            Some(Inbound::Text { body, .. }) => format!("Text({body})"),
            Some(Inbound::Aside { body, .. }) => format!("Aside({body})"),
            Some(Inbound::Edit { target, body, .. }) => format!("Edit({target},{body})"),
            Some(Inbound::Redaction { target, .. }) => format!("Redaction({target})"),
            Some(Inbound::PollResponse {
                poll_id, answers, ..
            }) => format!("Vote({poll_id},{})", answers.len()),
            Some(Inbound::Membership { .. }) => "Member".into(),
            Some(Inbound::Tombstone { .. }) => "Tombstone".into(),
            Some(Inbound::Undecryptable { .. }) => "Undecryptable".into(),
        }
    }

    fn want(w: &Want) -> String {
        match w {
            Want::Skip => "Skip".into(),
            Want::Text(b) => format!("Text({b})"),
            Want::Aside(b) => format!("Aside({b})"),
            Want::Edit(t, b) => format!("Edit({t},{b})"),
            Want::Redaction(t) => format!("Redaction({t})"),
            Want::Vote(p, n) => format!("Vote({p},{n})"),
            Want::Member => "Member".into(),
            Want::Tombstone => "Tombstone".into(),
        }
    }

    fn ev(ty: &str, content: serde_json::Value) -> serde_json::Value {
        json!({"type": ty, "event_id": "$e", "sender": "@p:x", "origin_server_ts": 1,
               "content": content})
    }

    #[test]
    fn event_contents_corpus() {
        let huge = "x".repeat(70_000);
        let text = |b: &str| json!({"msgtype": "m.text", "body": b});
        let cases: Vec<(&str, serde_json::Value, Want)> = vec![
            (
                "plain text",
                ev("m.room.message", text("4")),
                Want::Text("4"),
            ),
            ("empty body", ev("m.room.message", text("")), Want::Text("")),
            (
                "huge body (the conversation answers with a hint)",
                ev("m.room.message", text(&huge)),
                Want::Text(""),
            ),
            (
                "notice",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.notice", "body": "4"}),
                ),
                Want::Skip,
            ),
            (
                "emote",
                ev("m.room.message", json!({"msgtype": "m.emote", "body": "4"})),
                Want::Skip,
            ),
            (
                "image",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.image", "body": "a.png", "url": "mxc://x/y"}),
                ),
                Want::Skip,
            ),
            (
                "body is a number",
                ev("m.room.message", json!({"msgtype": "m.text", "body": 4})),
                Want::Skip,
            ),
            (
                "no msgtype",
                ev("m.room.message", json!({"body": "4"})),
                Want::Skip,
            ),
            (
                "content is a list",
                ev("m.room.message", json!([1, 2])),
                Want::Skip,
            ),
            (
                "no content",
                json!({"type": "m.room.message", "event_id": "$e", "sender": "@p:x", "origin_server_ts": 1}),
                Want::Skip,
            ),
            (
                "sender not a user id",
                json!({"type": "m.room.message", "event_id": "$e", "sender": "p", "origin_server_ts": 1, "content": text("4")}),
                Want::Skip,
            ),
            (
                "no event id",
                json!({"type": "m.room.message", "sender": "@p:x", "origin_server_ts": 1, "content": text("4")}),
                Want::Skip,
            ),
            (
                "the bot's own message",
                json!({"type": "m.room.message", "event_id": "$e", "sender": "@bot:x", "origin_server_ts": 1, "content": text("4")}),
                Want::Skip,
            ),
            (
                "quote-reply",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "4", "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}}),
                ),
                Want::Aside("4"),
            ),
            (
                "quote-reply with fallback",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "> <@bot:x> Frage 1\n> more\n\nstopp", "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}}),
                ),
                Want::Aside("stopp"),
            ),
            (
                "thread message",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "4", "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true, "m.in_reply_to": {"event_id": "$root"}}}),
                ),
                Want::Aside("4"),
            ),
            (
                "edit",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "* 5", "m.new_content": {"msgtype": "m.text", "body": "5"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}}),
                ),
                Want::Edit("$old", "5"),
            ),
            (
                "edit carrying a command",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "* !pulse close x", "m.new_content": {"msgtype": "m.text", "body": "!pulse close x"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}}),
                ),
                Want::Edit("$old", "!pulse close x"),
            ),
            (
                "edit into an image",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "* x", "m.new_content": {"msgtype": "m.image", "body": "a", "url": "mxc://x/y"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}}),
                ),
                Want::Skip,
            ),
            (
                "edit without new content",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "* 5", "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"}}),
                ),
                Want::Skip,
            ),
            (
                "annotation relation on a message",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "4", "m.relates_to": {"rel_type": "m.annotation", "event_id": "$q", "key": "👍"}}),
                ),
                Want::Skip,
            ),
            (
                "unknown relation",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "4", "m.relates_to": {"rel_type": "org.example.custom", "event_id": "$q"}}),
                ),
                Want::Skip,
            ),
            (
                "relation to a bad event id",
                ev(
                    "m.room.message",
                    json!({"msgtype": "m.text", "body": "4", "m.relates_to": {"rel_type": "m.replace", "event_id": 7}}),
                ),
                Want::Skip,
            ),
            (
                "reaction",
                ev(
                    "m.reaction",
                    json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$q", "key": "👍"}}),
                ),
                Want::Skip,
            ),
            (
                "redaction (v11 content)",
                ev("m.room.redaction", json!({"redacts": "$old"})),
                Want::Redaction("$old"),
            ),
            (
                "redaction (top-level redacts)",
                json!({"type": "m.room.redaction", "event_id": "$e", "sender": "@p:x", "origin_server_ts": 1, "redacts": "$old", "content": {}}),
                Want::Redaction("$old"),
            ),
            (
                "redaction of nothing",
                ev("m.room.redaction", json!({})),
                Want::Skip,
            ),
            (
                "unstable vote",
                ev(
                    "org.matrix.msc3381.poll.response",
                    json!({"org.matrix.msc3381.poll.response": {"answers": ["a"]}, "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
                ),
                Want::Vote("$poll", 1),
            ),
            (
                "stable vote",
                ev(
                    "m.poll.response",
                    json!({"m.selections": ["a", "b"], "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
                ),
                Want::Vote("$poll", 2),
            ),
            (
                "withdrawn vote",
                ev(
                    "m.poll.response",
                    json!({"m.selections": [], "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
                ),
                Want::Vote("$poll", 0),
            ),
            (
                "vote for another room's poll id",
                ev(
                    "m.poll.response",
                    json!({"m.selections": ["a"], "m.relates_to": {"rel_type": "m.reference", "event_id": "$elsewhere"}}),
                ),
                Want::Vote("$elsewhere", 1),
            ),
            (
                "vote without a relation",
                ev("m.poll.response", json!({"m.selections": ["a"]})),
                Want::Skip,
            ),
            (
                "vote with answers as a string",
                ev(
                    "org.matrix.msc3381.poll.response",
                    json!({"org.matrix.msc3381.poll.response": {"answers": "a"}, "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
                ),
                Want::Skip,
            ),
            (
                "poll start from a participant",
                ev(
                    "org.matrix.msc3381.poll.start",
                    json!({"org.matrix.msc3381.poll.start": {"question": {"org.matrix.msc1767.text": "?"}, "answers": []}}),
                ),
                Want::Skip,
            ),
            (
                "poll end from a participant",
                ev(
                    "m.poll.end",
                    json!({"m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"}}),
                ),
                Want::Skip,
            ),
            (
                "membership",
                json!({"type": "m.room.member", "event_id": "$e", "sender": "@p:x", "state_key": "@p:x", "origin_server_ts": 1, "content": {"membership": "join"}}),
                Want::Member,
            ),
            (
                "membership of a bad user id",
                json!({"type": "m.room.member", "event_id": "$e", "sender": "@p:x", "state_key": "nobody", "origin_server_ts": 1, "content": {"membership": "join"}}),
                Want::Skip,
            ),
            (
                "tombstone",
                json!({"type": "m.room.tombstone", "event_id": "$e", "sender": "@p:x", "state_key": "", "origin_server_ts": 1, "content": {"body": "upgraded", "replacement_room": "!new:x"}}),
                Want::Tombstone,
            ),
            (
                "tombstone without a room",
                json!({"type": "m.room.tombstone", "event_id": "$e", "sender": "@p:x", "state_key": "", "origin_server_ts": 1, "content": {"body": "upgraded"}}),
                Want::Skip,
            ),
            (
                "unknown event type",
                ev("org.example.junk", json!({"body": "4"})),
                Want::Skip,
            ),
            (
                "power levels",
                json!({"type": "m.room.power_levels", "event_id": "$e", "sender": "@p:x", "state_key": "", "origin_server_ts": 1, "content": {"users": {"@p:x": 100}}}),
                Want::Skip,
            ),
            ("not an object", json!("m.room.message"), Want::Skip),
            ("null", serde_json::Value::Null, Want::Skip),
        ];
        let own = user_id!("@bot:x");
        for (name, value, expected) in &cases {
            let raw: Raw<AnySyncTimelineEvent> = Raw::new(value).expect("json").cast_unchecked();
            let got = kind(classify(&TimelineEvent::from_plaintext(raw), own));
            let expected = match expected {
                Want::Text("") if name.starts_with("huge") => format!("Text({huge})"),
                w => want(w),
            };
            assert_eq!(got, expected, "case: {name}");
        }
        println!("corpus: event contents: {} cases", cases.len());
        assert!(cases.len() >= 40);
    }
}
