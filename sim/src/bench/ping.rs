//! A plain user's message latency beside the bot (issue 17): two ordinary clients in an
//! encrypted room of their own, one sending, the other receiving, so the benchmark can show
//! what a staff member chatting on the pilot's homeserver notices while a round starts.
//!
//! Edges: only the simulated clients; the caller decides when the bot is idle or busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use matrix_sdk::ruma::OwnedRoomId;

use super::WAIT;
use crate::sim::{Homeserver, SimUser};

/// Time between two pings: a lively chat, not a load test of its own.
const SPACING: Duration = Duration::from_millis(100);

/// The two clients and their room.
pub struct Pingers {
    sender: SimUser,
    receiver: SimUser,
    room: OwnedRoomId,
    sent: std::sync::atomic::AtomicUsize,
}

impl Pingers {
    /// Registers two users and opens an encrypted room between them.
    pub async fn start(hs: &Homeserver) -> anyhow::Result<Pingers> {
        let sender = SimUser::register(hs, "plain").await?;
        let receiver = SimUser::register(hs, "plain").await?;
        receiver.accept_invites();
        let room = sender
            .create_encrypted_room("chat", &[&receiver.user_id])
            .await?;
        sender
            .wait_for_join(room.room_id(), &receiver.user_id, WAIT)
            .await?;
        let pingers = Pingers {
            sender,
            receiver,
            room: room.room_id().to_owned(),
            sent: Default::default(),
        };
        // The first message carries the room key: not a latency anyone waits for twice.
        pingers.ping().await.context("the first plain message")?;
        Ok(pingers)
    }

    /// One message, send to receive.
    async fn ping(&self) -> anyhow::Result<Duration> {
        let i = self.sent.fetch_add(1, Ordering::Relaxed);
        let body = format!("Nachricht {i}");
        let t = Instant::now();
        self.sender.send_text(&self.room, &body).await?;
        let got = self
            .receiver
            .wait_for(WAIT, |m| m.room_id == self.room && m.body == body)
            .await
            .with_context(|| format!("plain message {i} never arrived"))?;
        Ok(got.at.saturating_duration_since(t))
    }

    /// `count` messages, one every [`SPACING`]; sorted latencies.
    pub async fn run(&self, count: usize) -> anyhow::Result<Vec<Duration>> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(self.ping().await?);
            tokio::time::sleep(SPACING).await;
        }
        out.sort();
        Ok(out)
    }

    /// Messages until `done` is set (at least one, at most `cap`); sorted latencies.
    pub async fn run_until(
        &self,
        done: Arc<AtomicBool>,
        cap: usize,
    ) -> anyhow::Result<Vec<Duration>> {
        let mut out = Vec::new();
        while out.len() < cap && (out.is_empty() || !done.load(Ordering::Relaxed)) {
            out.push(self.ping().await?);
            tokio::time::sleep(SPACING).await;
        }
        out.sort();
        Ok(out)
    }
}
