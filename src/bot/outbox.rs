//! The sender: delivers queued messages in order per room, at most once.
//!
//! Every message was queued with its transaction id in the transaction that caused it; the
//! sender sends with that id, registers a question poll's event id with the participant's
//! conversation, and only then marks it sent. A crash anywhere in between resends with the
//! same id, and the homeserver returns the first event instead of posting again. Nothing
//! goes into a DM before the participant has joined it. Rooms are served concurrently.
//!
//! Refusals (issue 14): a message the homeserver refuses for good (forbidden, too large, not
//! in the room) is dropped and counted, and the room's next message goes on; a rate limit is
//! waited out a few times (the server's retry-after, at most 30 s) and then the message is
//! dropped; a transient failure (network, server error: an outage) keeps the message and
//! pauses only that room, with a growing pause up to [`MAX_ROOM_BACKOFF`]. A room the bot gave
//! up (someone else joined a DM, the bot was removed) has its queue dropped, and so has a DM
//! whose participant left more than [`LEFT_GRACE`] ago.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomId};
use tokio::sync::{Notify, Semaphore};
use tracing::{Instrument, debug, warn};

use super::port::{Refusal, refusal};
use super::{Bot, lock};
use crate::conversation::{self, Context, Outgoing};
use crate::model::RoundStatus;
use crate::store::OutboxMessage;

/// Rooms served at the same time. Each holds at most one request to the homeserver; the
/// limit only bounds a burst (after a restart, at a round's close), since in a running
/// round every participant waits for exactly one next message.
const PARALLEL_ROOMS: usize = 256;
/// How often sent entries are dropped from the outbox.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// Pause before looking again when nothing woke the sender (invites not yet accepted, a
/// failed send).
const IDLE: Duration = Duration::from_secs(2);
/// A message rate-limited this many times in a row is given up.
const MAX_RATE_LIMITED: u32 = 5;
/// Longest wait for one rate limit.
const MAX_RATE_WAIT: Duration = Duration::from_secs(30);
/// Longest pause of a room whose sends fail (network, server errors).
const MAX_ROOM_BACKOFF: Duration = Duration::from_secs(300);
/// What is queued for a DM its participant left is dropped after this long.
const LEFT_GRACE: Duration = Duration::from_secs(600);

/// How a room worker's pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// Nothing left to send.
    Empty,
    /// Messages left that cannot go yet (participant not joined, shutdown).
    Waiting,
    /// A send or the outbox read failed.
    Failed,
}

/// The sender's own state: which rooms a worker serves, how many may send at once, the
/// wake-up, and when the answer that causes a DM's next question arrived (for the metric).
pub(super) struct Sender {
    /// Rooms a worker is serving → whether more was queued since it last looked.
    serving: Mutex<HashMap<String, bool>>,
    /// Caps how many rooms are sent to at once.
    slots: Semaphore,
    /// Wakes the sender loop.
    wake: Notify,
    /// When the answer that will cause a DM's next question reached the bot.
    answer_started: Mutex<HashMap<OwnedRoomId, Instant>>,
    /// Rooms whose last send failed: how often in a row, and when to try again.
    paused: Mutex<HashMap<String, (u32, Instant)>>,
    /// Rooms with a question poll between its send and its registration: a vote for a poll
    /// the round does not know yet waits only while one is.
    polls_in_flight: Mutex<HashMap<OwnedRoomId, u32>>,
}

impl Sender {
    /// A sender with no room served and [`PARALLEL_ROOMS`] slots.
    pub(super) fn new() -> Sender {
        Sender {
            serving: Mutex::new(HashMap::new()),
            slots: Semaphore::new(PARALLEL_ROOMS),
            wake: Notify::new(),
            answer_started: Mutex::new(HashMap::new()),
            paused: Mutex::new(HashMap::new()),
            polls_in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a question poll is being sent into `room` and not registered yet.
    pub(super) fn poll_in_flight(&self, room: &RoomId) -> bool {
        lock(&self.polls_in_flight)
            .get(room)
            .is_some_and(|n| *n > 0)
    }

    fn poll_sending(&self, room: &RoomId, sending: bool) {
        let mut map = lock(&self.polls_in_flight);
        let n = map.entry(room.to_owned()).or_insert(0);
        if sending {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(room);
            }
        }
    }

    /// Whether `room` is paused after failed sends.
    fn is_paused(&self, room: &str, now: Instant) -> bool {
        lock(&self.paused)
            .get(room)
            .is_some_and(|(_, until)| *until > now)
    }

    /// A send to `room` failed: pause it, twice as long as last time (from 2 s).
    fn failed(&self, room: &str, now: Instant) -> Duration {
        let mut map = lock(&self.paused);
        let n = map.get(room).map_or(0, |(n, _)| *n).saturating_add(1);
        let pause = IDLE
            .saturating_mul(1 << n.min(10).saturating_sub(1))
            .min(MAX_ROOM_BACKOFF);
        map.insert(room.to_owned(), (n, now + pause));
        pause
    }

    /// A send to `room` went through.
    fn succeeded(&self, room: &str) {
        lock(&self.paused).remove(room);
    }

    /// Wakes the sender loop: something was queued for a room no worker serves yet.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Notes when the answer that will cause `room`'s next question arrived (`None` forgets).
    pub(super) fn answer_started(&self, room: &RoomId, at: Option<Instant>) {
        let mut map = lock(&self.answer_started);
        match at {
            Some(t) => map.insert(room.to_owned(), t),
            None => map.remove(room),
        };
    }

    /// When the answer that caused `room`'s next question arrived, forgotten once read.
    fn take_answer_started(&self, room: &RoomId) -> Option<Instant> {
        lock(&self.answer_started).remove(room)
    }

    /// Marks the room as served; false if a worker serves it already, which is then told
    /// to look once more before it stops (the message may have been queued after its
    /// last read).
    fn claim_room(&self, room_id: &str) -> bool {
        let mut busy = lock(&self.serving);
        match busy.get_mut(room_id) {
            Some(look_again) => {
                *look_again = true;
                false
            }
            None => {
                busy.insert(room_id.to_owned(), false);
                true
            }
        }
    }

    /// Ends a worker's pass: true (the claim kept) if it may go on and was asked to look
    /// again, else the claim is released.
    fn finish_pass(&self, room_id: &str, may_go_on: bool) -> bool {
        let mut busy = lock(&self.serving);
        if may_go_on
            && let Some(look_again) = busy.get_mut(room_id)
            && *look_again
        {
            *look_again = false;
            return true;
        }
        busy.remove(room_id);
        false
    }
}

impl Bot {
    /// Runs until shutdown: whenever woken (and every [`IDLE`]), starts a worker for each
    /// room with pending messages that has none, and now and then drops sent entries.
    pub(super) async fn sender_loop(&self) {
        let mut last_prune = Instant::now();
        loop {
            match self.inner.store.pending().await {
                Ok(pending) => {
                    self.inner
                        .metrics
                        .outbox_pending
                        .store(pending.len() as u64, Ordering::Relaxed);
                    let rooms: BTreeSet<String> =
                        pending.into_iter().map(|m| m.message.room_id).collect();
                    for room in rooms {
                        self.spawn_room_worker(room);
                    }
                }
                Err(e) => warn!(error = %format!("{e:#}"), "reading the outbox failed; retrying"),
            }
            if last_prune.elapsed() > PRUNE_EVERY {
                last_prune = Instant::now();
                // Sent entries hold no content; dropping them keeps every outbox read short.
                if let Err(e) = self.inner.store.run(|s| s.prune_sent()).await {
                    warn!(error = %format!("{e:#}"), "pruning the outbox failed");
                }
            }
            tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                _ = self.inner.sender.wake.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }

    /// Serves one room until its queue is empty (or waits on the participant), unless a
    /// worker serves it already: rooms never wait for each other, a room's messages stay
    /// in order. Called by the sender loop and, right after an answer is stored, by the
    /// handler itself, so the next question does not wait for the loop.
    pub(super) fn spawn_room_worker(&self, room_id: String) {
        if self.inner.sender.is_paused(&room_id, Instant::now())
            || !self.inner.sender.claim_room(&room_id)
        {
            return;
        }
        let bot = self.clone();
        self.inner.tasks.spawn(
            async move {
                let _permit = bot.inner.sender.slots.acquire().await;
                loop {
                    let emptied = bot.drain_room(&room_id).await == Drained::Empty;
                    // Waiting and failed rooms are taken up again by the sender loop's next pass.
                    let go_on = emptied && !bot.inner.cancel.is_cancelled();
                    if !bot.inner.sender.finish_pass(&room_id, go_on) {
                        break;
                    }
                }
            }
            .in_current_span(),
        );
    }

    /// Sends what is queued for the room until nothing is left or it cannot go on.
    async fn drain_room(&self, room_id: &str) -> Drained {
        // Stops between messages at shutdown; what is left goes out after the restart
        // with the same transaction ids.
        while !self.inner.cancel.is_cancelled() {
            let room = room_id.to_owned();
            let msgs: Vec<OutboxMessage> = match self
                .inner
                .store
                .run(move |s| s.pending_in_room(&room))
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "reading the outbox failed");
                    return Drained::Failed;
                }
            };
            if msgs.is_empty() {
                return Drained::Empty;
            }
            match self.send_room(room_id, msgs).await {
                Ok(0) => return Drained::Waiting,
                Ok(_) => self.inner.sender.succeeded(room_id),
                Err(e) => {
                    self.inner
                        .metrics
                        .send_failures
                        .fetch_add(1, Ordering::Relaxed);
                    let pause = self.inner.sender.failed(room_id, Instant::now());
                    debug!(error = %format!("{e:#}"), "send error");
                    warn!(retry_in = ?pause, "send failed; this room is retried later, the others go on");
                    return Drained::Failed;
                }
            }
        }
        Drained::Waiting
    }

    /// Sends one room's messages in queue order; stops at the first failure (order matters).
    /// Returns how many went out (0 while the participant has not joined).
    async fn send_room(&self, room_id: &str, msgs: Vec<OutboxMessage>) -> anyhow::Result<usize> {
        let Ok(id) = OwnedRoomId::try_from(room_id) else {
            warn!("queued message for an invalid room id; dropped");
            for m in &msgs {
                self.inner.store.mark_sent(m).await?;
            }
            return Ok(msgs.len());
        };
        if self.directory().is_abandoned(&id) {
            self.drop_queued(&id).await?;
            return Ok(msgs.len());
        }
        if !self.port().is_joined(&id) {
            debug!("room not known yet; waiting");
            return Ok(0);
        }
        let participant = self.dm_user(&id);
        if let Some(user) = &participant
            && !self.dm_joined(&id, user).await
        {
            use matrix_sdk::ruma::events::room::member::MembershipState as M;
            if matches!(
                self.port().membership(&id, user).await,
                Some(M::Leave | M::Ban)
            ) {
                self.directory().note_left(&id, true);
            }
            if self
                .directory()
                .left_since(&id)
                .is_some_and(|t| t.elapsed() > LEFT_GRACE)
            {
                // They left for good: the next contact opens a fresh DM.
                self.drop_queued(&id).await?;
                return Ok(msgs.len());
            }
            debug!("participant has not joined the DM yet; waiting");
            return Ok(0);
        }
        let mut sent = 0;
        for m in msgs {
            if self.inner.cancel.is_cancelled() {
                break;
            }
            let out = match Outgoing::from_outbound(&m.message) {
                Ok(out) => out,
                Err(e) => {
                    warn!(error = %e, "queued message unreadable; dropped");
                    self.inner.store.mark_sent(&m).await?;
                    sent += 1;
                    continue;
                }
            };
            if matches!(out.context(), Context::Question(_)) {
                let started = self.inner.sender.take_answer_started(&id);
                if let Some(t0) = started {
                    self.inner.metrics.record_handling(t0.elapsed());
                }
            }
            let is_question_poll = matches!(
                &out,
                Outgoing::Poll {
                    context: Context::Question(_),
                    ..
                }
            );
            if is_question_poll {
                self.inner.sender.poll_sending(&id, true);
            }
            let sent_and_registered = self
                .send_and_register(&id, participant.as_ref(), &out, &m)
                .await;
            if is_question_poll {
                self.inner.sender.poll_sending(&id, false);
            }
            if !sent_and_registered? {
                self.inner
                    .metrics
                    .messages_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
            self.inner.store.mark_sent(&m).await?;
            self.inner.metrics.sent.fetch_add(1, Ordering::Relaxed);
            sent += 1;
        }
        Ok(sent)
    }

    /// Sends one queued message and registers a question poll; false if the homeserver
    /// refused it for good (dropped).
    async fn send_and_register(
        &self,
        id: &RoomId,
        participant: Option<&OwnedUserId>,
        out: &Outgoing,
        m: &OutboxMessage,
    ) -> anyhow::Result<bool> {
        {
            let event_id = match self.send_one(id, out, &m.txn_id).await? {
                Some(event_id) => event_id,
                // Refused for good: dropped, and the room's next message goes on.
                None => return Ok(false),
            };
            if let (
                Some(user),
                Outgoing::Poll {
                    context: Context::Question(item),
                    ..
                },
            ) = (participant, out)
            {
                self.register_poll(user, item, event_id.as_str(), out)
                    .await?;
            }
            Ok(true)
        }
    }

    /// Sends one message: its event id, `None` if the homeserver refused it for good (or
    /// rate-limited it [`MAX_RATE_LIMITED`] times in a row), an error for a failure to retry.
    async fn send_one(
        &self,
        room: &RoomId,
        out: &Outgoing,
        txn: &str,
    ) -> anyhow::Result<Option<matrix_sdk::ruma::OwnedEventId>> {
        let mut limited = 0;
        loop {
            let e = match self.port().send(room, out, txn).await {
                Ok(id) => return Ok(Some(id)),
                Err(e) => e,
            };
            match refusal(&e) {
                Some(Refusal::Final) => {
                    debug!(error = %format!("{e:#}"), "refusal");
                    warn!(kind = %out.context(), "the homeserver refused a message; dropped");
                    return Ok(None);
                }
                Some(Refusal::RateLimited(after)) if limited + 1 < MAX_RATE_LIMITED => {
                    limited += 1;
                    let wait = after.unwrap_or(Duration::from_secs(1)).min(MAX_RATE_WAIT);
                    debug!(?wait, "rate-limited; waiting as the homeserver asks");
                    tokio::select! {
                        _ = self.inner.cancel.cancelled() => return Err(e),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                Some(Refusal::RateLimited(_)) => {
                    warn!(kind = %out.context(), "a message was rate-limited too often; dropped");
                    return Ok(None);
                }
                None => return Err(e),
            }
        }
    }

    /// Records a sent question poll in the conversation that asks `item`.
    async fn register_poll(
        &self,
        user: &OwnedUserId,
        item: &str,
        event_id: &str,
        out: &Outgoing,
    ) -> anyhow::Result<()> {
        let u = user.to_string();
        let Some(entry) = self.inner.store.run(move |s| s.participant(&u)).await? else {
            return Ok(());
        };
        for r in entry
            .rounds
            .iter()
            .filter(|r| matches!(r.status, RoundStatus::Invited | RoundStatus::Started))
        {
            let asks = self
                .survey(&r.survey_id)
                .is_some_and(|s| s.question(item).is_some());
            if !asks {
                continue;
            }
            let (u, sid, n, ev, o) = (
                user.to_string(),
                r.survey_id.clone(),
                r.round,
                event_id.to_owned(),
                out.clone(),
            );
            self.inner
                .store
                .run(move |s| {
                    s.update_conversation(&u, &sid, n, |st| {
                        conversation::register_sent(st, &ev, &o);
                    })
                })
                .await?;
            return Ok(());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_per_room_which_looks_again_when_asked() {
        let s = Sender::new();
        assert!(s.claim_room("!a:x"), "the first claim wins");
        assert!(!s.claim_room("!a:x"), "a second worker is not started...");
        assert!(
            s.finish_pass("!a:x", true),
            "...but the first one looks again"
        );
        assert!(
            !s.finish_pass("!a:x", true),
            "nothing new: the claim is released"
        );
        assert!(s.claim_room("!a:x"));
        assert!(!s.claim_room("!a:x"));
        assert!(
            !s.finish_pass("!a:x", false),
            "a waiting room is released even if asked"
        );
        assert!(
            s.claim_room("!b:x") && s.claim_room("!a:x"),
            "rooms do not wait for each other"
        );
    }
}
