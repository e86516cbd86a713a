//! Room management the bot needs for participants: who is in a room, and one encrypted
//! direct chat per participant. Only this module (with `send` and `sync`) talks to the
//! homeserver about rooms.

use anyhow::Context;
use matrix_sdk::ruma::events::room::member::MembershipState;
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
pub async fn ensure_dm(
    client: &Client,
    user: &UserId,
    known: Option<&RoomId>,
    look: &DmLook,
) -> anyhow::Result<Room> {
    if let Some(id) = known
        && let Some(room) = usable_dm(client, id, user).await
    {
        return Ok(room);
    }
    for room in client.get_dm_rooms(user) {
        if let Some(room) = usable_dm(client, room.room_id(), user).await {
            return Ok(room);
        }
    }
    create_dm(client, user, look)
        .await
        .context("cannot create a direct chat")
}

/// `Client::create_dm` with a name and topic in the same request (no extra events).
async fn create_dm(client: &Client, user: &UserId, look: &DmLook) -> matrix_sdk::Result<Room> {
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
    if !look.name.is_empty() {
        request.name = Some(look.name.clone());
    }
    if !look.topic.is_empty() {
        request.topic = Some(look.topic.clone());
    }
    client.create_room(request).await
}
