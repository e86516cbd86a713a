//! The sender: delivers queued messages in order per room, at most once.
//!
//! Every message was queued with its transaction id in the transaction that caused it; the
//! sender sends with that id, registers a question poll's event id with the participant's
//! conversation, and only then marks it sent. A crash anywhere in between resends with the
//! same id, and the homeserver returns the first event instead of posting again. Nothing
//! goes into a DM before the participant has joined it. Rooms are served concurrently.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomId};
use tokio::sync::{Notify, Semaphore};
use tracing::{debug, warn};

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
}

impl Sender {
    /// A sender with no room served and [`PARALLEL_ROOMS`] slots.
    pub(super) fn new() -> Sender {
        Sender {
            serving: Mutex::new(HashMap::new()),
            slots: Semaphore::new(PARALLEL_ROOMS),
            wake: Notify::new(),
            answer_started: Mutex::new(HashMap::new()),
        }
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
        if !self.inner.sender.claim_room(&room_id) {
            return;
        }
        let bot = self.clone();
        self.inner.tasks.spawn(async move {
            let _permit = bot.inner.sender.slots.acquire().await;
            loop {
                let emptied = bot.drain_room(&room_id).await == Drained::Empty;
                // Waiting and failed rooms are taken up again by the sender loop's next pass.
                let go_on = emptied && !bot.inner.cancel.is_cancelled();
                if !bot.inner.sender.finish_pass(&room_id, go_on) {
                    break;
                }
            }
        });
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
                Ok(_) => {}
                Err(e) => {
                    self.inner
                        .metrics
                        .send_failures
                        .fetch_add(1, Ordering::Relaxed);
                    warn!(room = %room_id, error = %format!("{e:#}"), "send failed; retried later");
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
        if !self.port().is_joined(&id) {
            debug!(room = room_id, "room not known yet; waiting");
            return Ok(0);
        }
        let participant = self.dm_user(&id);
        if let Some(user) = &participant
            && !self.dm_joined(&id, user).await
        {
            debug!(
                room = room_id,
                "participant has not joined the DM yet; waiting"
            );
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
            let event_id = self.port().send(&id, &out, &m.txn_id).await?;
            if let (
                Some(user),
                Outgoing::Poll {
                    context: Context::Question(item),
                    ..
                },
            ) = (&participant, &out)
            {
                self.register_poll(user, item, event_id.as_str(), &out)
                    .await?;
            }
            self.inner.store.mark_sent(&m).await?;
            self.inner.metrics.sent.fetch_add(1, Ordering::Relaxed);
            sent += 1;
        }
        Ok(sent)
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
