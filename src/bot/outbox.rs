//! The sender: delivers queued messages in order per room, at most once.
//!
//! Every message was queued with its transaction id in the transaction that caused it; the
//! sender sends with that id, registers a question poll's event id with the participant's
//! conversation, and only then marks it sent. A crash anywhere in between resends with the
//! same id, and the homeserver returns the first event instead of posting again. Nothing
//! goes into a DM before the participant has joined it. Rooms are served concurrently.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use tracing::{debug, warn};

use super::Bot;
use crate::conversation::{self, Context, Outgoing};
use crate::matrix::{rooms, send};
use crate::store::{OutboxMessage, RoundStatus};

/// Rooms served at the same time.
const PARALLEL_ROOMS: usize = 16;
/// Pause before looking again when nothing woke the sender (invites not yet accepted, a
/// failed send).
const IDLE: Duration = Duration::from_secs(2);

impl Bot {
    /// Runs until shutdown: sends whatever is pending whenever woken, and every [`IDLE`].
    pub(super) async fn sender_loop(&self) {
        loop {
            if let Err(e) = self.send_pending().await {
                warn!(error = %format!("{e:#}"), "sending queued messages failed; retrying");
            }
            tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                _ = self.inner.send_now.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }

    async fn send_pending(&self) -> anyhow::Result<()> {
        let pending = self.inner.store.pending().await?;
        if pending.is_empty() {
            return Ok(());
        }
        let mut by_room: BTreeMap<String, Vec<OutboxMessage>> = BTreeMap::new();
        for m in pending {
            by_room
                .entry(m.message.room_id.clone())
                .or_default()
                .push(m);
        }
        futures_util::stream::iter(by_room)
            .for_each_concurrent(PARALLEL_ROOMS, |(room_id, msgs)| async move {
                if let Err(e) = self.send_room(&room_id, msgs).await {
                    self.inner
                        .metrics
                        .send_failures
                        .fetch_add(1, Ordering::Relaxed);
                    warn!(room = %room_id, error = %format!("{e:#}"), "send failed; retried later");
                }
            })
            .await;
        Ok(())
    }

    /// Sends one room's messages in queue order; stops at the first failure (order matters).
    async fn send_room(&self, room_id: &str, msgs: Vec<OutboxMessage>) -> anyhow::Result<()> {
        let Ok(id) = OwnedRoomId::try_from(room_id) else {
            warn!("queued message for an invalid room id; dropped");
            for m in msgs {
                self.inner.store.mark_sent(m.id).await?;
            }
            return Ok(());
        };
        let Some(room) = self.inner.client.get_room(&id) else {
            debug!(room = room_id, "room not known yet; waiting");
            return Ok(());
        };
        let participant = self.dm_user(&id);
        if let Some(user) = &participant
            && rooms::membership(&room, user).await != Some(MembershipState::Join)
        {
            debug!(
                room = room_id,
                "participant has not joined the DM yet; waiting"
            );
            return Ok(());
        }
        for m in msgs {
            let out = match Outgoing::from_outbound(&m.message) {
                Ok(out) => out,
                Err(e) => {
                    warn!(error = %e, "queued message unreadable; dropped");
                    self.inner.store.mark_sent(m.id).await?;
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
        }
        Ok(())
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
