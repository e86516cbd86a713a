//! The sender: delivers queued messages in order per room, at most once.
//!
//! Every message was queued with its transaction id in the transaction that caused it; the
//! sender sends with that id, registers a question poll's event id with the participant's
//! conversation, and only then marks it sent. A crash anywhere in between resends with the
//! same id, and the homeserver returns the first event instead of posting again. Nothing
//! goes into a DM before the participant has joined it. Rooms are served concurrently.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use tracing::{debug, warn};

use super::Bot;
use crate::conversation::{self, Context, Outgoing};
use crate::matrix::{rooms, send};
use crate::store::{OutboxMessage, RoundStatus};

/// Rooms served at the same time.
pub(super) const PARALLEL_ROOMS: usize = 64;
/// How often sent entries are dropped from the outbox.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// Pause before looking again when nothing woke the sender (invites not yet accepted, a
/// failed send).
const IDLE: Duration = Duration::from_secs(2);

impl Bot {
    /// Runs until shutdown: whenever woken (and every [`IDLE`]), starts a worker for each
    /// room with pending messages that has none, and now and then drops sent entries.
    pub(super) async fn sender_loop(&self) {
        let mut last_prune = Instant::now();
        loop {
            match self.inner.store.pending().await {
                Ok(pending) => {
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
                _ = self.inner.send_now.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }

    /// Serves one room until its queue is empty (or waits on the participant), unless a
    /// worker serves it already: rooms never wait for each other, a room's messages stay
    /// in order.
    fn spawn_room_worker(&self, room_id: String) {
        {
            let mut busy = self.inner.sending.lock().unwrap_or_else(|p| p.into_inner());
            if !busy.insert(room_id.clone()) {
                return;
            }
        }
        let bot = self.clone();
        self.inner.tasks.spawn(async move {
            let _permit = bot.inner.send_slots.acquire().await;
            let mut sent_any = false;
            // Stops between messages at shutdown; what is left goes out after the restart
            // with the same transaction ids.
            while !bot.inner.cancel.is_cancelled() {
                let msgs: Vec<OutboxMessage> = match bot.inner.store.pending().await {
                    Ok(p) => p
                        .into_iter()
                        .filter(|m| m.message.room_id == room_id)
                        .collect(),
                    Err(e) => {
                        warn!(error = %format!("{e:#}"), "reading the outbox failed");
                        break;
                    }
                };
                if msgs.is_empty() {
                    break;
                }
                match bot.send_room(&room_id, msgs).await {
                    Ok(0) => break,
                    Ok(_) => sent_any = true,
                    Err(e) => {
                        bot.inner.metrics.send_failures.fetch_add(1, Ordering::Relaxed);
                        warn!(room = %room_id, error = %format!("{e:#}"), "send failed; retried later");
                        break;
                    }
                }
            }
            bot.inner
                .sending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&room_id);
            if sent_any {
                // Something may have been queued for this room while the worker finished.
                bot.inner.send_now.notify_one();
            }
        });
    }

    /// Sends one room's messages in queue order; stops at the first failure (order matters).
    /// Returns how many went out (0 while the participant has not joined).
    async fn send_room(&self, room_id: &str, msgs: Vec<OutboxMessage>) -> anyhow::Result<usize> {
        let Ok(id) = OwnedRoomId::try_from(room_id) else {
            warn!("queued message for an invalid room id; dropped");
            for m in &msgs {
                self.inner.store.mark_sent(m.id).await?;
            }
            return Ok(msgs.len());
        };
        let Some(room) = self.inner.client.get_room(&id) else {
            debug!(room = room_id, "room not known yet; waiting");
            return Ok(0);
        };
        let participant = self.dm_user(&id);
        if let Some(user) = &participant
            && rooms::membership(&room, user).await != Some(MembershipState::Join)
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
                    self.inner.store.mark_sent(m.id).await?;
                    sent += 1;
                    continue;
                }
            };
            if matches!(out.context(), Context::Question(_)) {
                let started = self
                    .inner
                    .answer_started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                if let Some(t0) = started {
                    self.inner.metrics.record_handling(t0.elapsed());
                }
            }
            let event_id = send::send_queued(&room, &out, &m.txn_id).await?;
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
            self.inner.store.mark_sent(m.id).await?;
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
