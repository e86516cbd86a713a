//! The bot's narrow port to the homeserver: everything the router, sender, scheduler and room
//! directory ask of Matrix, and nothing else.
//!
//! Edge: implemented by [`crate::matrix::port::ClientPort`] over a matrix-sdk client (the only
//! network code) and, for the fast test tier, by an in-memory fake (`bot/fake.rs`). The bot's
//! logic therefore runs in tests without a homeserver; what only a real homeserver proves
//! (end-to-end encryption, sync gaps, restarts) stays in the Synapse tier.

use anyhow::Result;
use async_trait::async_trait;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{
    EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId,
};

use crate::conversation::Outgoing;
use crate::matrix::events::Inbound;

/// Whom a reply answers: the event, its sender, and what the reply is for (one reply per
/// purpose and event, however often the event is handled).
#[derive(Debug, Clone, Copy)]
pub struct ReplyTo<'a> {
    /// The event replied to.
    pub event: &'a EventId,
    /// Its sender.
    pub sender: &'a UserId,
    /// What the reply is for (part of its transaction id).
    pub purpose: &'a str,
}

/// A message sent at most once: its purpose and the cause it answers, from which its
/// transaction id is derived.
#[derive(Debug, Clone, Copy)]
pub struct Once<'a> {
    /// What the message is for.
    pub purpose: &'a str,
    /// What caused it (e.g. survey, round and room of a summary).
    pub cause: &'a str,
}

/// A file to upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name shown in the room.
    pub name: String,
    /// MIME type.
    pub mime: &'static str,
    /// Content.
    pub bytes: Vec<u8>,
}

/// How the homeserver refused a message, when the sender must treat it differently from
/// a failure it retries (a network error, a server error: an outage loses nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Final: forbidden (muted, removed), too large, not in the room, a bad request.
    /// Sending the same message again cannot help.
    Final,
    /// Rate-limited (after the client's own short retries); try again after this long.
    RateLimited(Option<std::time::Duration>),
}

/// A send the homeserver refused (see [`Refusal`]). Its text names no room or user.
#[derive(Debug, thiserror::Error)]
#[error("the homeserver refused the message ({kind:?}): {detail}")]
pub struct Refused {
    /// How.
    pub kind: Refusal,
    /// The homeserver's error code and text.
    pub detail: String,
}

/// How an error from a send was refused, if it was.
pub fn refusal(e: &anyhow::Error) -> Option<Refusal> {
    e.downcast_ref::<Refused>().map(|r| r.kind)
}

/// What a second decryption attempt of an undecryptable event gave.
#[derive(Debug)]
pub enum Redecrypted {
    /// The keys arrived: the event as the bot reads it (`None` if it is nothing the bot reads).
    Decrypted(Option<Inbound>),
    /// Still no keys (or the room is gone).
    StillUndecryptable,
}

/// What one event of a room's history is, as far as the chat-history cleaner needs to know
/// (`bot::history`): never its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    /// A state event (membership, name, encryption, ...): never redacted.
    State,
    /// A redaction.
    Redaction,
    /// An event already redacted (its content is gone).
    Redacted,
    /// A text message (`m.room.message`, decrypted).
    Text,
    /// A poll start or end (the bot's questions; they carry no answer).
    Poll,
    /// Anything else: poll responses, reactions, files, events that could not be decrypted.
    Other,
}

/// One event of a room's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Its id.
    pub event_id: OwnedEventId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// When the homeserver received it (ms since the epoch, `origin_server_ts`).
    pub ts_ms: i64,
    /// What it is.
    pub kind: HistoryKind,
}

/// A page of a room's history from the homeserver, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// The events, newest first.
    pub events: Vec<HistoryEvent>,
    /// Where the next (older) page starts; `None` at the room's beginning.
    pub next: Option<String>,
}

/// What the bot asks of the homeserver.
#[async_trait]
pub trait MatrixPort: Send + Sync + 'static {
    /// The bot's own user id.
    fn own_user(&self) -> OwnedUserId;

    /// Sends a queued message with the transaction id recorded for it; the event id back.
    async fn send(&self, room: &RoomId, msg: &Outgoing, txn: &str) -> Result<OwnedEventId>;

    /// Replies with plain text, once per purpose and event.
    async fn reply_text(&self, room: &RoomId, to: ReplyTo<'_>, text: &str) -> Result<()>;

    /// Sends plain text once per purpose and cause.
    async fn send_text_once(&self, room: &RoomId, text: &str, once: Once<'_>) -> Result<()>;

    /// Uploads a file into the room (encrypted where the room is).
    async fn upload(&self, room: &RoomId, file: Upload) -> Result<()>;

    /// Whether the room is end-to-end encrypted (asked of the homeserver if not known yet).
    async fn is_encrypted(&self, room: &RoomId) -> bool;

    /// Whether the bot has joined the room.
    fn is_joined(&self, room: &RoomId) -> bool;

    /// A user's membership in a room, from the state the bot holds.
    async fn membership(&self, room: &RoomId, user: &UserId) -> Option<MembershipState>;

    /// The joined members of a room, asked of the homeserver.
    async fn joined_members(&self, room: &RoomId) -> Result<Vec<OwnedUserId>>;

    /// The joined members of a room, from the state the bot holds (no request).
    async fn known_joined_members(&self, room: &RoomId) -> Vec<OwnedUserId>;

    /// A usable encrypted direct chat with `user`: `known` if it still is one, else an
    /// existing one, else a new one. With `retention`, a new DM carries that
    /// `m.room.retention` lifetime from its creation request (no extra event), and a reused
    /// DM gets it set once if it lacks it.
    async fn ensure_dm(
        &self,
        user: &UserId,
        known: Option<&RoomId>,
        retention: Option<std::time::Duration>,
    ) -> Result<OwnedRoomId>;

    /// One page of `room`'s history as the homeserver has it (not a local cache), newest
    /// first, starting at `from` (`None`: the newest event).
    async fn history_page(
        &self,
        room: &RoomId,
        from: Option<&str>,
        limit: u32,
    ) -> Result<HistoryPage>;

    /// Redacts `event` in `room`, at most once: the transaction id is derived from the event,
    /// so a redaction sent again after a crash is deduplicated by the homeserver. Errors are
    /// [`Refused`] where the homeserver refused.
    async fn redact(&self, room: &RoomId, event: &EventId) -> Result<()>;

    /// Resolves a room alias.
    async fn resolve_alias(&self, alias: &RoomAliasId) -> Result<OwnedRoomId>;

    /// Joins a room (one the bot was invited to, or a pilot room's successor).
    async fn join(&self, room: &RoomId) -> Result<()>;

    /// Leaves (or declines) a room.
    async fn leave(&self, room: &RoomId) -> Result<()>;

    /// Forgets a room the bot left.
    async fn forget(&self, room: &RoomId) -> Result<()>;

    /// Who invited the bot into `room`, if it is an invite.
    async fn inviter(&self, room: &RoomId) -> Option<OwnedUserId>;

    /// The room's canonical alias, if it has one.
    fn canonical_alias(&self, room: &RoomId) -> Option<String>;

    /// Rooms the bot is invited to.
    fn invited_rooms(&self) -> Vec<OwnedRoomId>;

    /// The room that replaced `room` (its tombstone), from the state the bot holds.
    fn successor(&self, room: &RoomId) -> Option<OwnedRoomId>;

    /// Tries once more to decrypt an event that was undecryptable.
    async fn redecrypt(&self, room: &RoomId, raw: &Raw<AnySyncTimelineEvent>) -> Redecrypted;
}
