//! The bot's [`MatrixPort`] over a matrix-sdk [`Client`]: the one implementation that talks to
//! a real homeserver. Each method is a thin call into `rooms` and `send`.

use anyhow::{Context, Result};
use async_trait::async_trait;
use matrix_sdk::deserialized_responses::TimelineEventKind;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{
    EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId,
};
use matrix_sdk::{Client, Room, RoomMemberships, RoomState};

use super::trust::{self, DeviceTrust};
use super::{events, rooms, send};
use crate::bot::port::{
    HistoryPage, MatrixPort, Once, Redecrypted, Refusal, Refused, ReplyTo, Upload,
};
use crate::conversation::Outgoing;

/// The port over a logged-in client.
#[derive(Clone)]
pub struct ClientPort {
    client: Client,
    own: OwnedUserId,
    trust: DeviceTrust,
    look: rooms::DmLook,
    /// DMs this process gave their retention policy (see [`rooms::RetentionSet`]).
    retention_done: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<OwnedRoomId>>>,
}

impl ClientPort {
    /// The port of a logged-in client that trusts the devices `trust` names.
    pub fn new(client: Client, trust: DeviceTrust) -> Result<ClientPort> {
        let own = client
            .user_id()
            .ok_or_else(|| anyhow::anyhow!("the client is not logged in"))?
            .to_owned();
        Ok(ClientPort {
            client,
            own,
            trust,
            look: rooms::DmLook::default(),
            retention_done: Default::default(),
        })
    }

    /// New DMs get this name and topic.
    pub fn with_dm_look(mut self, look: rooms::DmLook) -> ClientPort {
        self.look = look;
        self
    }

    /// The room, or a final refusal if the client does not know it (never joined, or left
    /// and forgotten): nothing can be sent there.
    fn room(&self, id: &RoomId) -> Result<Room> {
        self.client.get_room(id).ok_or_else(|| {
            anyhow::Error::new(Refused {
                kind: Refusal::Final,
                detail: "room not known to the client".into(),
            })
        })
    }

    /// The room, with untrusted devices of its members blacklisted so the room key of the
    /// message about to be sent reaches only trusted ones (see `matrix::trust`). A failure
    /// fails the send (it is retried) rather than sharing the key with a device unjudged.
    async fn sending_room(&self, id: &RoomId) -> Result<Room> {
        let room = self.room(id)?;
        trust::withhold_keys(&room, self.trust)
            .await
            .context("cannot apply matrix.device_trust before sending")?;
        Ok(room)
    }
}

#[async_trait]
impl MatrixPort for ClientPort {
    fn own_user(&self) -> OwnedUserId {
        self.own.clone()
    }

    async fn send(&self, room: &RoomId, msg: &Outgoing, txn: &str) -> Result<OwnedEventId> {
        send::send_queued(&self.sending_room(room).await?, msg, txn).await
    }

    async fn reply_text(&self, room: &RoomId, to: ReplyTo<'_>, text: &str) -> Result<()> {
        let room = self.sending_room(room).await?;
        send::reply_text(&room, to.event, to.sender, to.purpose, text).await?;
        Ok(())
    }

    async fn send_text_once(&self, room: &RoomId, text: &str, once: Once<'_>) -> Result<()> {
        send::send_text_once(
            &self.sending_room(room).await?,
            text,
            once.purpose,
            once.cause,
        )
        .await
    }

    async fn upload(&self, room: &RoomId, file: Upload) -> Result<()> {
        send::send_file(
            &self.sending_room(room).await?,
            &file.name,
            file.mime,
            file.bytes,
        )
        .await
    }

    async fn is_encrypted(&self, room: &RoomId) -> bool {
        let Some(room) = self.client.get_room(room) else {
            return false;
        };
        // Unknown counts as not encrypted: nothing is uploaded on a guess.
        room.latest_encryption_state()
            .await
            .is_ok_and(|s| s.is_encrypted())
    }

    fn is_joined(&self, room: &RoomId) -> bool {
        self.client
            .get_room(room)
            .is_some_and(|r| r.state() == RoomState::Joined)
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> Option<MembershipState> {
        rooms::membership(&self.client.get_room(room)?, user).await
    }

    async fn joined_members(&self, room: &RoomId) -> Result<Vec<OwnedUserId>> {
        rooms::joined_members(&self.room(room)?).await
    }

    async fn known_joined_members(&self, room: &RoomId) -> Vec<OwnedUserId> {
        let Some(room) = self.client.get_room(room) else {
            return Vec::new();
        };
        room.members_no_sync(RoomMemberships::JOIN)
            .await
            .map(|m| m.iter().map(|m| m.user_id().to_owned()).collect())
            .unwrap_or_default()
    }

    async fn ensure_dm(
        &self,
        user: &UserId,
        known: Option<&RoomId>,
        retention: Option<std::time::Duration>,
    ) -> Result<OwnedRoomId> {
        let retention = retention.map(|d| rooms::RetentionSet {
            max_lifetime_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            done: &self.retention_done,
        });
        Ok(
            rooms::ensure_dm(&self.client, user, known, &self.look, retention)
                .await?
                .room_id()
                .to_owned(),
        )
    }

    async fn history_page(
        &self,
        room: &RoomId,
        from: Option<&str>,
        limit: u32,
    ) -> Result<HistoryPage> {
        rooms::history_page(&self.room(room)?, from, limit).await
    }

    async fn redact(&self, room: &RoomId, event: &EventId) -> Result<()> {
        let room = self.room(room)?;
        room.redact(event, None, Some(send::txn_id("redact", event.as_str())))
            .await
            .map_err(|e| send::send_error(e.into()))?;
        Ok(())
    }

    async fn resolve_alias(&self, alias: &RoomAliasId) -> Result<OwnedRoomId> {
        Ok(self.client.resolve_room_alias(alias).await?.room_id)
    }

    async fn join(&self, room: &RoomId) -> Result<()> {
        match self.client.get_room(room) {
            Some(r) => r.join().await?,
            // A successor of an upgraded room is not known until joined.
            None => {
                self.client.join_room_by_id(room).await?;
            }
        }
        Ok(())
    }

    async fn leave(&self, room: &RoomId) -> Result<()> {
        Ok(self.room(room)?.leave().await?)
    }

    async fn forget(&self, room: &RoomId) -> Result<()> {
        Ok(self.room(room)?.forget().await?)
    }

    async fn inviter(&self, room: &RoomId) -> Option<OwnedUserId> {
        let room = self.client.get_room(room)?;
        room.invite_details().await.ok().map(|d| d.inviter_id)
    }

    fn canonical_alias(&self, room: &RoomId) -> Option<String> {
        self.client
            .get_room(room)?
            .canonical_alias()
            .map(|a| a.to_string())
    }

    fn invited_rooms(&self) -> Vec<OwnedRoomId> {
        self.client
            .invited_rooms()
            .iter()
            .map(|r| r.room_id().to_owned())
            .collect()
    }

    fn successor(&self, room: &RoomId) -> Option<OwnedRoomId> {
        Some(self.client.get_room(room)?.successor_room()?.room_id)
    }

    async fn redecrypt(&self, room: &RoomId, raw: &Raw<AnySyncTimelineEvent>) -> Redecrypted {
        let Some(room) = self.client.get_room(room) else {
            return Redecrypted::StillUndecryptable;
        };
        match room.decrypt_event(raw.cast_ref_unchecked(), None).await {
            Ok(ev) if !matches!(ev.kind, TimelineEventKind::UnableToDecrypt { .. }) => {
                // Late keys do not make an untrusted device trusted: its event is dropped.
                if !trust::admit(&room, &ev, self.trust).await {
                    return Redecrypted::Decrypted(None);
                }
                Redecrypted::Decrypted(events::classify(&ev, &self.own))
            }
            _ => Redecrypted::StillUndecryptable,
        }
    }
}
