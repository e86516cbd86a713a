//! An in-memory homeserver behind the bot's [`MatrixPort`], for the fast test tier: rooms with
//! members, what the bot sent (deduplicated by transaction id, as a homeserver does), and DMs
//! the participants join at once, and each room's history (the bot's events and the
//! participants' events the tests note, stamped with the test's clock) with redactions and
//! retention policies. No network, no encryption: what those prove stays in the Synapse tier.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{
    EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId,
};
use tokio::sync::Notify;

use super::port::{
    HistoryEvent, HistoryKind, HistoryPage, MatrixPort, Once, Redecrypted, Refusal, Refused,
    ReplyTo, Upload,
};
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
    /// Every event of the room, the bot's and the participants', oldest first.
    history: Vec<HistoryEvent>,
    /// The room's `m.room.retention` lifetime, and whether it came with the creation.
    retention: Option<(Duration, bool)>,
    /// Retention state events sent after the room was created.
    retention_events: u32,
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<OwnedRoomId, FakeRoom>,
    dms: HashMap<OwnedUserId, OwnedRoomId>,
    /// Upgraded room → its successor.
    successors: HashMap<OwnedRoomId, OwnedRoomId>,
    next: u64,
    /// Every redaction request, in order (a repeated one shows up twice).
    redactions: Vec<(OwnedRoomId, OwnedEventId)>,
    /// The next this many redaction requests fail as a network error would.
    failing_redactions: u32,
    /// History pages served.
    pages: u32,
}

/// The fake homeserver.
pub(super) struct FakePort {
    own: OwnedUserId,
    state: Mutex<State>,
    changed: Notify,
    /// Stamps the history's events (the epoch until a test sets it).
    clock: Mutex<Option<std::sync::Arc<dyn crate::clock::Clock>>>,
}

impl FakePort {
    /// A homeserver on which the bot is `@pulsebot:fake`.
    pub(super) fn new() -> FakePort {
        FakePort {
            own: "@pulsebot:fake".try_into().expect("a valid user id"),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            clock: Mutex::new(None),
        }
    }

    /// Stamps the history's events with `clock` from now on.
    pub(super) fn set_clock(&self, clock: std::sync::Arc<dyn crate::clock::Clock>) {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner()) = Some(clock);
    }

    fn now_ms(&self) -> i64 {
        self.clock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |c| c.now().as_millisecond())
    }

    /// `sender`'s event `event_id` of `kind` is in `room`'s history now (what the tests'
    /// participants send; the bot sees it through `route`).
    pub(super) fn note_incoming(
        &self,
        room: &RoomId,
        sender: &UserId,
        event_id: &EventId,
        kind: HistoryKind,
    ) {
        let ts_ms = self.now_ms();
        if let Some(r) = self.state().rooms.get_mut(room)
            && !r.history.iter().any(|e| e.event_id == *event_id)
        {
            r.history.push(HistoryEvent {
                event_id: event_id.to_owned(),
                sender: sender.to_owned(),
                ts_ms,
                kind,
            });
        }
    }

    /// `room`'s history, oldest first.
    pub(super) fn history(&self, room: &RoomId) -> Vec<HistoryEvent> {
        self.state()
            .rooms
            .get(room)
            .map(|r| r.history.clone())
            .unwrap_or_default()
    }

    /// Every redaction request so far.
    pub(super) fn redactions(&self) -> Vec<(OwnedRoomId, OwnedEventId)> {
        self.state().redactions.clone()
    }

    /// How many history pages the bot has read.
    pub(super) fn pages_read(&self) -> u32 {
        self.state().pages
    }

    /// The next `n` redaction requests fail (a network error: the bot tries again later).
    pub(super) fn fail_redactions(&self, n: u32) {
        self.state().failing_redactions = n;
    }

    /// `room`'s retention lifetime, whether it came with the creation request, and how many
    /// retention events were sent later.
    pub(super) fn retention(&self, room: &RoomId) -> (Option<(Duration, bool)>, u32) {
        self.state()
            .rooms
            .get(room)
            .map_or((None, 0), |r| (r.retention, r.retention_events))
    }

    /// Waits until `pred` holds for the fake homeserver; panics after 10 s.
    pub(super) async fn wait_until(&self, what: &str, pred: impl Fn(&FakePort) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if pred(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() && !pred(self) {
                panic!(
                    "waited 10 s for {what}; redactions: {:#?}",
                    self.redactions()
                );
            }
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
        let ts_ms = self.now_ms();
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
        let kind = match &what {
            Sent::Message(Outgoing::Poll { .. } | Outgoing::PollEnd { .. }) => HistoryKind::Poll,
            Sent::Message(Outgoing::Text { .. }) | Sent::Text(_) => HistoryKind::Text,
            Sent::File(_) => HistoryKind::Other,
        };
        room.history.push(HistoryEvent {
            event_id: id.clone(),
            sender: self.own.clone(),
            ts_ms,
            kind,
        });
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

    async fn ensure_dm(
        &self,
        user: &UserId,
        known: Option<&RoomId>,
        retention: Option<Duration>,
    ) -> Result<OwnedRoomId> {
        let mut st = self.state();
        // A reused DM gets the policy set once if it lacks it (as `rooms::ensure_dm`).
        let set_retention = |st: &mut State, id: &RoomId| {
            if let (Some(d), Some(r)) = (retention, st.rooms.get_mut(id))
                && r.retention.map(|(have, _)| have) != Some(d)
            {
                r.retention = Some((d, false));
                r.retention_events += 1;
            }
        };
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
            set_retention(&mut st, id);
            return Ok(id.to_owned());
        }
        if let Some(id) = st.dms.get(user).cloned()
            && usable(&st, &id)
        {
            set_retention(&mut st, &id);
            return Ok(id);
        }
        st.next += 1;
        let id: OwnedRoomId = format!("!dm{}:fake", st.next).try_into()?;
        let room = st.rooms.entry(id.clone()).or_default();
        room.bot_joined = true;
        room.retention = retention.map(|d| (d, true));
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

    async fn history_page(
        &self,
        room: &RoomId,
        from: Option<&str>,
        limit: u32,
    ) -> Result<HistoryPage> {
        let mut st = self.state();
        st.pages += 1;
        let Some(r) = st.rooms.get(room).filter(|r| r.bot_joined) else {
            return Err(anyhow::Error::new(Refused {
                kind: Refusal::Final,
                detail: "M_FORBIDDEN: the bot is not in the room".into(),
            }));
        };
        // The token is how many of the newest events were handed out already.
        let skip: usize = from.map_or(Ok(0), str::parse)?;
        let events: Vec<HistoryEvent> = r
            .history
            .iter()
            .rev()
            .skip(skip)
            .take(limit as usize)
            .cloned()
            .collect();
        let next = (!events.is_empty()).then(|| (skip + events.len()).to_string());
        Ok(HistoryPage { events, next })
    }

    async fn redact(&self, room: &RoomId, event: &EventId) -> Result<()> {
        let mut st = self.state();
        if st.failing_redactions > 0 {
            st.failing_redactions -= 1;
            anyhow::bail!("connection reset (the fake homeserver is unreachable)");
        }
        st.redactions.push((room.to_owned(), event.to_owned()));
        let own = self.own.clone();
        let ts_ms = self.now_ms();
        let Some(r) = st.rooms.get_mut(room) else {
            return Err(anyhow::Error::new(Refused {
                kind: Refusal::Final,
                detail: "M_NOT_FOUND".into(),
            }));
        };
        if let Some(e) = r.history.iter_mut().find(|e| e.event_id == *event) {
            e.kind = HistoryKind::Redacted;
        }
        st.next += 1;
        let id: OwnedEventId = format!("$redaction{}", st.next).try_into()?;
        if let Some(r) = st.rooms.get_mut(room) {
            r.history.push(HistoryEvent {
                event_id: id,
                sender: own,
                ts_ms,
                kind: HistoryKind::Redaction,
            });
        }
        drop(st);
        self.changed.notify_waiters();
        Ok(())
    }

    async fn redecrypt(&self, _room: &RoomId, _raw: &Raw<AnySyncTimelineEvent>) -> Redecrypted {
        Redecrypted::StillUndecryptable
    }
}
