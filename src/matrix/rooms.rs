//! Room management the bot needs for participants: who is in a room, one encrypted direct
//! chat per participant (with the retention policy `[privacy] chat_history` asks for), and a
//! room's history as the homeserver has it. Only this module (with `send` and `sync`) talks
//! to the homeserver about rooms.

use anyhow::Context;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room, RoomMemberships, RoomState};

/// The joined members of a room (from the member list the SDK keeps current from sync).
pub async fn joined_members(room: &Room) -> anyhow::Result<Vec<OwnedUserId>> {
    let members = room
        .members(RoomMemberships::JOIN)
        .await
        .with_context(|| format!("cannot list the members of {}", room.room_id()))?;
    Ok(members.iter().map(|m| m.user_id().to_owned()).collect())
}

/// A user's membership in a room, as far as the bot's state knows.
pub async fn membership(room: &Room, user: &UserId) -> Option<MembershipState> {
    room.get_member_no_sync(user)
        .await
        .ok()
        .flatten()
        .map(|m| m.membership().clone())
}

/// Whether `room_id` is still usable as `user`'s direct chat: the bot is in it, the user is
/// joined or still invited (a DM they left is not reused), and nobody else is joined or
/// invited (a DM someone else joined is never used again: issue 14).
pub async fn usable_dm(client: &Client, room_id: &RoomId, user: &UserId) -> Option<Room> {
    let room = client.get_room(room_id)?;
    if room.state() != RoomState::Joined {
        return None;
    }
    match membership(&room, user).await {
        Some(MembershipState::Join | MembershipState::Invite) => {}
        _ => return None,
    }
    let own = client.user_id()?;
    let members = room
        .members_no_sync(RoomMemberships::JOIN | RoomMemberships::INVITE)
        .await
        .ok()?;
    members
        .iter()
        .all(|m| m.user_id() == user || m.user_id() == own)
        .then_some(room)
}

/// The name and topic a new DM gets, so participants recognise it among their chats.
#[derive(Debug, Clone, Default)]
pub struct DmLook {
    /// The room name ("Pilot-Umfrage"); none if empty.
    pub name: String,
    /// The room topic; none if empty.
    pub topic: String,
}

/// The participant's direct chat: `known` (from the ledger) if still usable, else a DM the
/// account data (`m.direct`) names, else a new encrypted DM with `look`'s name and topic
/// (recorded in `m.direct` by the SDK). The second step finds the room again if the bot
/// crashed after creating it.
///
/// With `retention` (ms), a new DM carries `m.room.retention` from its creation request and a
/// reused one gets it set once if it lacks it (or has another lifetime).
pub async fn ensure_dm(
    client: &Client,
    user: &UserId,
    known: Option<&RoomId>,
    look: &DmLook,
    retention: Option<RetentionSet<'_>>,
) -> anyhow::Result<Room> {
    let mut found = None;
    if let Some(id) = known {
        found = usable_dm(client, id, user).await;
    }
    if found.is_none() {
        for room in client.get_dm_rooms(user) {
            if let Some(room) = usable_dm(client, room.room_id(), user).await {
                found = Some(room);
                break;
            }
        }
    }
    if let Some(room) = found {
        if let Some(r) = retention
            && let Err(e) = ensure_retention(&room, r).await
        {
            // The DM is usable all the same; the next contact tries again.
            tracing::debug!(error = %format!("{e:#}"), "retention policy not set");
            tracing::warn!(
                "a direct chat's retention policy could not be set; tried again at the next contact"
            );
        }
        return Ok(room);
    }
    let room = create_dm(client, user, look, retention.map(|r| r.max_lifetime_ms))
        .await
        .context("cannot create a direct chat")?;
    if let Some(r) = retention {
        r.noted(room.room_id());
    }
    Ok(room)
}

/// The state event type of MSC1763's retention policy.
pub const RETENTION_EVENT: &str = "m.room.retention";

/// The retention lifetime a DM must carry, and the rooms this process already gave it (so
/// a reused DM gets the state event once, even before the sync has brought it back).
#[derive(Clone, Copy)]
pub struct RetentionSet<'a> {
    /// `max_lifetime` in milliseconds.
    pub max_lifetime_ms: u64,
    /// Rooms known to carry it.
    pub done: &'a std::sync::Mutex<std::collections::HashSet<matrix_sdk::ruma::OwnedRoomId>>,
}

impl RetentionSet<'_> {
    fn is_done(&self, room: &RoomId) -> bool {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(room)
    }

    fn noted(&self, room: &RoomId) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(room.to_owned());
    }
}

/// The `max_lifetime` of the room's retention policy, from the state the bot holds.
pub async fn retention_of(room: &Room) -> Option<u64> {
    use matrix_sdk::deserialized_responses::RawAnySyncOrStrippedState as S;
    use matrix_sdk::ruma::events::StateEventType;
    let raw = room
        .get_state_event(StateEventType::from(RETENTION_EVENT), "")
        .await
        .ok()??;
    let content: serde_json::Value = match raw {
        S::Sync(r) => r.get_field("content").ok()??,
        S::Stripped(r) => r.get_field("content").ok()??,
    };
    content.get("max_lifetime")?.as_u64()
}

/// Sets the retention policy on a reused DM unless it has it already.
async fn ensure_retention(room: &Room, r: RetentionSet<'_>) -> anyhow::Result<()> {
    if r.is_done(room.room_id()) {
        return Ok(());
    }
    if retention_of(room).await != Some(r.max_lifetime_ms) {
        room.send_state_event_raw(
            RETENTION_EVENT,
            "",
            serde_json::json!({ "max_lifetime": r.max_lifetime_ms }),
        )
        .await?;
    }
    r.noted(room.room_id());
    Ok(())
}

/// `Client::create_dm` with a name, a topic and the retention policy in the same request (no
/// extra events).
async fn create_dm(
    client: &Client,
    user: &UserId,
    look: &DmLook,
    retention_ms: Option<u64>,
) -> matrix_sdk::Result<Room> {
    use matrix_sdk::ruma::api::client::room::create_room::v3::{Request, RoomPreset};
    use matrix_sdk::ruma::events::InitialStateEvent;
    use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
    let mut request = Request::new();
    request.invite = vec![user.to_owned()];
    request.is_direct = true;
    request.preset = Some(RoomPreset::TrustedPrivateChat);
    request.initial_state = vec![
        InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any(),
    ];
    if let Some(ms) = retention_ms {
        let event = serde_json::json!({
            "type": RETENTION_EVENT,
            "state_key": "",
            "content": { "max_lifetime": ms },
        });
        let raw = serde_json::value::to_raw_value(&event).map_err(matrix_sdk::Error::from)?;
        request.initial_state.push(Raw::from_json(raw));
    }
    if !look.name.is_empty() {
        request.name = Some(look.name.clone());
    }
    if !look.topic.is_empty() {
        request.topic = Some(look.topic.clone());
    }
    client.create_room(request).await
}

/// One page of the room's history from the homeserver (`/messages`, backwards from `from`),
/// each event reduced to what the chat-history cleaner needs: id, sender, time and kind.
pub async fn history_page(
    room: &Room,
    from: Option<&str>,
    limit: u32,
) -> anyhow::Result<crate::bot::port::HistoryPage> {
    use crate::bot::port::{HistoryEvent, HistoryKind, HistoryPage};
    use matrix_sdk::deserialized_responses::TimelineEventKind;
    let mut options = matrix_sdk::room::MessagesOptions::backward().from(from);
    options.limit = limit.into();
    let messages = room
        .messages(options)
        .await
        .context("cannot read the room's history")?;
    let mut events = Vec::with_capacity(messages.chunk.len());
    for ev in &messages.chunk {
        let raw = ev.raw();
        let (Ok(Some(event_id)), Ok(Some(sender))) = (
            raw.get_field::<matrix_sdk::ruma::OwnedEventId>("event_id"),
            raw.get_field::<OwnedUserId>("sender"),
        ) else {
            continue;
        };
        let ts_ms = raw
            .get_field::<i64>("origin_server_ts")
            .ok()
            .flatten()
            .unwrap_or(0);
        let ty = raw
            .get_field::<String>("type")
            .ok()
            .flatten()
            .unwrap_or_default();
        let is_state = raw
            .get_field::<serde_json::Value>("state_key")
            .ok()
            .flatten()
            .is_some();
        let redacted = raw
            .get_field::<serde_json::Value>("unsigned")
            .ok()
            .flatten()
            .is_some_and(|u| u.get("redacted_because").is_some());
        let kind = if is_state {
            HistoryKind::State
        } else if redacted {
            HistoryKind::Redacted
        } else if ty == "m.room.redaction" {
            HistoryKind::Redaction
        } else if matches!(ev.kind, TimelineEventKind::UnableToDecrypt { .. }) {
            HistoryKind::Other
        } else {
            match ty.as_str() {
                "m.room.message" => HistoryKind::Text,
                "org.matrix.msc3381.poll.start"
                | "org.matrix.msc3381.poll.end"
                | "m.poll.start"
                | "m.poll.end" => HistoryKind::Poll,
                _ => HistoryKind::Other,
            }
        };
        events.push(HistoryEvent {
            event_id,
            sender,
            ts_ms,
            kind,
        });
    }
    // An empty chunk ends the history even if the server hands out another token.
    let next = messages.end.filter(|_| !messages.chunk.is_empty());
    Ok(HistoryPage { events, next })
}
