//! An in-memory homeserver behind the bot's [`MatrixPort`], for the fast test tier: rooms with
//! members, what the bot sent (deduplicated by transaction id, as a homeserver does), and DMs
//! the participants join at once. No network, no encryption: what those prove stays in the
//! Synapse tier.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId};
use tokio::sync::Notify;

use super::port::{MatrixPort, Once, Redecrypted, Refusal, Refused, ReplyTo, Upload};
use crate::conversation::Outgoing;

/// What the bot put into a room.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Sent {
    /// A queued message (notice, poll, question, thanks, ...).
    Message(Outgoing),
    /// A text reply or a one-off text.
    Text(String),
    /// An uploaded file, by name.
    File(String),
}

/// One event the bot sent, with the id the fake homeserver gave it.
#[derive(Debug, Clone)]
pub(super) struct SentEvent {
    pub(super) event_id: OwnedEventId,
    pub(super) what: Sent,
}

#[derive(Debug, Default)]
struct FakeRoom {
    members: HashMap<OwnedUserId, MembershipState>,
    bot_joined: bool,
    /// False only for rooms made with [`FakePort::add_plain_room`].
    plain: bool,
    /// Set by [`FakePort::refuse`]: every send into the room is refused so, this many
    /// times (`u32::MAX`: always).
    refusing: Option<(Refusal, u32)>,
    timeline: Vec<SentEvent>,
    /// Transaction id → the event it made (a resend returns the first event).
    txns: HashMap<String, OwnedEventId>,
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<OwnedRoomId, FakeRoom>,
    dms: HashMap<OwnedUserId, OwnedRoomId>,
    /// Upgraded room → its successor.
    successors: HashMap<OwnedRoomId, OwnedRoomId>,
    next: u64,
}

/// The fake homeserver.
pub(super) struct FakePort {
    own: OwnedUserId,
    state: Mutex<State>,
    changed: Notify,
}

impl FakePort {
    /// A homeserver on which the bot is `@pulsebot:fake`.
    pub(super) fn new() -> FakePort {
        FakePort {
            own: "@pulsebot:fake".try_into().expect("a valid user id"),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A room the bot has joined, with `members` joined.
    pub(super) fn add_room(&self, id: &RoomId, members: &[&UserId]) {
        let mut st = self.state();
        let room = st.rooms.entry(id.to_owned()).or_default();
        room.bot_joined = true;
        for m in members {
            room.members.insert((*m).to_owned(), MembershipState::Join);
        }
    }

    /// A room the bot has joined that is not end-to-end encrypted, with `members` joined.
    pub(super) fn add_plain_room(&self, id: &RoomId, members: &[&UserId]) {
        self.add_room(id, members);
        if let Some(r) = self.state().rooms.get_mut(id) {
            r.plain = true;
        }
    }

    /// The next `times` sends into `room` are refused with `how` (the bot stays in it).
    pub(super) fn refuse(&self, room: &RoomId, how: Refusal, times: u32) {
        if let Some(r) = self.state().rooms.get_mut(room) {
            r.refusing = Some((how, times));
        }
    }

    /// `old` was upgraded to `new` (the bot is not in `new` until it joins).
    pub(super) fn upgrade(&self, old: &RoomId, new: &RoomId) {
        self.state()
            .successors
            .insert(old.to_owned(), new.to_owned());
    }

    /// `user` joins `room` (as a member the bot sees in its state).
    pub(super) fn join_as(&self, room: &RoomId, user: &UserId) {
        if let Some(r) = self.state().rooms.get_mut(room) {
            r.members.insert(user.to_owned(), MembershipState::Join);
        }
    }

    /// The DM the bot opened with `user`, if any.
    pub(super) fn dm_of(&self, user: &UserId) -> Option<OwnedRoomId> {
        self.state().dms.get(user).cloned()
    }

    /// Everything the bot sent into `room`, in order.
    pub(super) fn sent(&self, room: &RoomId) -> Vec<SentEvent> {
        self.state()
            .rooms
            .get(room)
            .map(|r| r.timeline.clone())
            .unwrap_or_default()
    }

    /// Waits until `room` holds an event that `pred` accepts after the first `skip` events;
    /// returns its index and the event. Panics after 10 s (a stalled bot).
    pub(super) async fn wait_for(
        &self,
        room: &RoomId,
        skip: usize,
        what: &str,
        pred: impl Fn(&SentEvent) -> bool,
    ) -> (usize, SentEvent) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if let Some(found) = self
                .sent(room)
                .into_iter()
                .enumerate()
                .skip(skip)
                .find(|(_, e)| pred(e))
            {
                return found;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "waited 10 s for {what} in {room}; the room holds: {:#?}",
                    self.sent(room)
                );
            }
        }
    }

    /// Waits until the DM with `user` exists.
    pub(super) async fn wait_for_dm(&self, user: &UserId) -> OwnedRoomId {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if let Some(dm) = self.dm_of(user) {
                return dm;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("waited 10 s for a DM with {user}");
            }
        }
    }

    fn post(&self, room: &RoomId, txn: Option<&str>, what: Sent) -> Result<OwnedEventId> {
        let mut st = self.state();
        st.next += 1;
        let id: OwnedEventId = format!("$fake{}", st.next).try_into()?;
        let refused = |kind, detail: &str| {
            anyhow::Error::new(Refused {
                kind,
                detail: detail.to_owned(),
            })
        };
        let room = st
            .rooms
            .get_mut(room)
            .filter(|r| r.bot_joined)
            .ok_or_else(|| refused(Refusal::Final, "M_FORBIDDEN: the bot is not in the room"))?;
        if let Some((how, times)) = room.refusing {
            room.refusing = (times > 1).then(|| (how, times.saturating_sub(1)));
            drop(st);
            return Err(refused(how, "refused by the fake homeserver"));
        }
        if let Some(txn) = txn {
            if let Some(first) = room.txns.get(txn) {
                return Ok(first.clone());
            }
            room.txns.insert(txn.to_owned(), id.clone());
        }
        room.timeline.push(SentEvent {
            event_id: id.clone(),
            what,
        });
        drop(st);
        self.changed.notify_waiters();
        Ok(id)
    }
}

#[async_trait]
impl MatrixPort for FakePort {
    fn own_user(&self) -> OwnedUserId {
        self.own.clone()
    }

    async fn send(&self, room: &RoomId, msg: &Outgoing, txn: &str) -> Result<OwnedEventId> {
        self.post(room, Some(txn), Sent::Message(msg.clone()))
    }

    async fn reply_text(&self, room: &RoomId, to: ReplyTo<'_>, text: &str) -> Result<()> {
        let txn = format!("{}/{}", to.purpose, to.event);
        self.post(room, Some(&txn), Sent::Text(text.to_owned()))?;
        Ok(())
    }

    async fn send_text_once(&self, room: &RoomId, text: &str, once: Once<'_>) -> Result<()> {
        let txn = format!("{}/{}", once.purpose, once.cause);
        self.post(room, Some(&txn), Sent::Text(text.to_owned()))?;
        Ok(())
    }

    async fn upload(&self, room: &RoomId, file: Upload) -> Result<()> {
        self.post(room, None, Sent::File(file.name))?;
        Ok(())
    }

    async fn is_encrypted(&self, room: &RoomId) -> bool {
        self.state().rooms.get(room).is_some_and(|r| !r.plain)
    }

    fn is_joined(&self, room: &RoomId) -> bool {
        self.state().rooms.get(room).is_some_and(|r| r.bot_joined)
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> Option<MembershipState> {
        self.state().rooms.get(room)?.members.get(user).cloned()
    }

    async fn joined_members(&self, room: &RoomId) -> Result<Vec<OwnedUserId>> {
        Ok(self.known_joined_members(room).await)
    }

    async fn known_joined_members(&self, room: &RoomId) -> Vec<OwnedUserId> {
        let st = self.state();
        let Some(r) = st.rooms.get(room) else {
            return Vec::new();
        };
        let mut out: Vec<OwnedUserId> = r
            .members
            .iter()
            .filter(|(_, m)| **m == MembershipState::Join)
            .map(|(u, _)| u.clone())
            .collect();
        if r.bot_joined {
            out.push(self.own.clone());
        }
        out.sort();
        out
    }

    async fn ensure_dm(&self, user: &UserId, known: Option<&RoomId>) -> Result<OwnedRoomId> {
        let mut st = self.state();
        // Usable: the bot is in it and nobody but the participant is (as `rooms::usable_dm`).
        let usable = |st: &State, id: &RoomId| {
            st.rooms.get(id).is_some_and(|r| {
                r.bot_joined
                    && r.members.iter().all(|(u, m)| {
                        u == user || !matches!(m, MembershipState::Join | MembershipState::Invite)
                    })
            })
        };
        if let Some(id) = known
            && usable(&st, id)
        {
            return Ok(id.to_owned());
        }
        if let Some(id) = st.dms.get(user).cloned()
            && usable(&st, &id)
        {
            return Ok(id);
        }
        st.next += 1;
        let id: OwnedRoomId = format!("!dm{}:fake", st.next).try_into()?;
        let room = st.rooms.entry(id.clone()).or_default();
        room.bot_joined = true;
        // Participants accept the DM at once.
        room.members.insert(user.to_owned(), MembershipState::Join);
        st.dms.insert(user.to_owned(), id.clone());
        drop(st);
        self.changed.notify_waiters();
        Ok(id)
    }

    async fn resolve_alias(&self, alias: &RoomAliasId) -> Result<OwnedRoomId> {
        anyhow::bail!("M_NOT_FOUND: no alias {alias} on the fake homeserver")
    }

    async fn join(&self, room: &RoomId) -> Result<()> {
        self.state()
            .rooms
            .entry(room.to_owned())
            .or_default()
            .bot_joined = true;
        Ok(())
    }

    async fn leave(&self, room: &RoomId) -> Result<()> {
        if let Some(r) = self.state().rooms.get_mut(room) {
            r.bot_joined = false;
        }
        Ok(())
    }

    async fn forget(&self, _room: &RoomId) -> Result<()> {
        Ok(())
    }

    async fn inviter(&self, _room: &RoomId) -> Option<OwnedUserId> {
        None
    }

    fn canonical_alias(&self, _room: &RoomId) -> Option<String> {
        None
    }

    fn invited_rooms(&self) -> Vec<OwnedRoomId> {
        Vec::new()
    }

    fn successor(&self, room: &RoomId) -> Option<OwnedRoomId> {
        self.state().successors.get(room).cloned()
    }

    async fn redecrypt(&self, _room: &RoomId, _raw: &Raw<AnySyncTimelineEvent>) -> Redecrypted {
        Redecrypted::StillUndecryptable
    }
}
