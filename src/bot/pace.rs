//! Paced sends (issue 17, item 2): the bot shares its homeserver with the messenger the pilot
//! evaluates, so it sends at most `[matrix] max_send_rate` events per second, whoever sends.
//!
//! [`Pacer`] is a token bucket (burst: one second's worth, at least one event) whose waiters
//! are served by [`Class`] first and in arrival order within a class. Arrival order is what
//! makes it fair across rooms: a room's worker sends one message at a time and queues again
//! behind the others for the next, so no room takes two turns while another waits in its
//! class. The classes put a participant in the middle of a round before a new invitation,
//! and redactions of the chat history after everything else.
//!
//! [`PacedPort`] wraps the port the bot reaches Matrix through, so every request that puts an
//! event into a room waits for its turn: queued messages, replies, one-off texts, uploads,
//! redactions, a new DM (`ensure_dm` without a known one). Reads, joins and leaves are not
//! paced. A 429 the homeserver still
//! answers is waited out by the caller with the server's retry-after (`outbox::send_one`,
//! `history::redact_one`) and the retry waits for a turn again.
//!
//! Edges: no I/O of its own; tokio's clock, so tests run with paused time.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
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
use tokio::time::Instant;

use super::lock;
use super::port::{HistoryPage, MatrixPort, Once, Redecrypted, ReplyTo, Upload};
use crate::conversation::{Context, Outgoing};

/// Whose send goes first when several wait for a turn (lower first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// A participant in the middle of a round (their next question, a hint, the thanks), a
    /// reply to a command: someone is waiting for it.
    Round,
    /// What the bot starts on its own: a notice, a consent poll, an intro and the first
    /// question after it, reminders, close messages, summaries, a new DM.
    Outreach,
    /// Redactions of the chat history (`bot::history`).
    Cleanup,
}

/// A token bucket with waiters served by class, then in arrival order.
pub struct Pacer {
    /// Time one event costs (1 / rate).
    interval: Duration,
    /// How far ahead of now the bucket's clock may run: `burst - 1` intervals.
    slack: Duration,
    state: Mutex<State>,
    /// Rings whenever the waiters or the bucket changed.
    changed: Notify,
}

struct State {
    /// When the bucket will have taken back every event sent so far (GCRA's theoretical
    /// arrival time): a send may go while this is at most `slack` ahead of now.
    busy_until: Instant,
    /// Waiting sends by class and arrival.
    waiting: BTreeSet<(Class, u64)>,
    next_ticket: u64,
}

impl Pacer {
    /// A pacer for `rate` events per second (validated by the config: 0.1 to 1,000).
    pub fn new(rate: f64) -> Pacer {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            crate::config::DEFAULT_MAX_SEND_RATE
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let burst = rate.floor().max(1.0) as u32;
        Pacer {
            interval,
            slack: interval.saturating_mul(burst - 1),
            state: Mutex::new(State {
                busy_until: Instant::now(),
                waiting: BTreeSet::new(),
                next_ticket: 0,
            }),
            changed: Notify::new(),
        }
    }

    /// Waits until a send of `class` may go, and takes its turn. Dropping the future gives
    /// up the place in the queue.
    pub async fn turn(&self, class: Class) {
        let key = {
            let mut st = lock(&self.state);
            st.next_ticket += 1;
            let key = (class, st.next_ticket);
            st.waiting.insert(key);
            key
        };
        let _leave = Leave { pacer: self, key };
        loop {
            // Registered before the state is read, so a change in between is not missed.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut st = lock(&self.state);
                if st.waiting.first() == Some(&key) {
                    let now = Instant::now();
                    let ahead = st.busy_until.saturating_duration_since(now);
                    if ahead <= self.slack {
                        st.busy_until = st.busy_until.max(now) + self.interval;
                        st.waiting.remove(&key);
                        return;
                    }
                    Some(ahead - self.slack)
                } else {
                    None
                }
            };
            match wait {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// Leaves the queue (taken turn or given up) and lets the next waiter look.
struct Leave<'a> {
    pacer: &'a Pacer,
    key: (Class, u64),
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        lock(&self.pacer.state).waiting.remove(&self.key);
        self.pacer.changed.notify_waiters();
    }
}

/// The bot's port with every send paced by one [`Pacer`].
pub struct PacedPort {
    inner: Arc<dyn MatrixPort>,
    pacer: Pacer,
    /// Rooms whose last paced message was an intro or a reminder: the question after it is
    /// still the bot's outreach, not a participant's next step.
    opening: Mutex<HashSet<OwnedRoomId>>,
}

impl PacedPort {
    /// `inner` paced to `rate` events per second.
    pub fn new(inner: Arc<dyn MatrixPort>, rate: f64) -> PacedPort {
        PacedPort {
            inner,
            pacer: Pacer::new(rate),
            opening: Mutex::new(HashSet::new()),
        }
    }

    /// The class of a queued message in `room`.
    fn class_of(&self, room: &RoomId, msg: &Outgoing) -> Class {
        let mut opening = lock(&self.opening);
        match msg.context() {
            Context::Intro | Context::Reminder => {
                opening.insert(room.to_owned());
                Class::Outreach
            }
            Context::Notice | Context::Consent | Context::Closed | Context::PollEnd(_) => {
                Class::Outreach
            }
            // A context line of an old outbox comes between the intro and its question.
            Context::Info(_) if opening.contains(room) => Class::Outreach,
            Context::Question(_) if opening.remove(room) => Class::Outreach,
            Context::Question(_)
            | Context::Info(_)
            | Context::Hint
            | Context::Thanks
            | Context::Reply => Class::Round,
        }
    }
}

#[async_trait]
impl MatrixPort for PacedPort {
    fn own_user(&self) -> OwnedUserId {
        self.inner.own_user()
    }

    async fn send(&self, room: &RoomId, msg: &Outgoing, txn: &str) -> Result<OwnedEventId> {
        self.pacer.turn(self.class_of(room, msg)).await;
        self.inner.send(room, msg, txn).await
    }

    async fn reply_text(&self, room: &RoomId, to: ReplyTo<'_>, text: &str) -> Result<()> {
        self.pacer.turn(Class::Round).await;
        self.inner.reply_text(room, to, text).await
    }

    async fn send_text_once(&self, room: &RoomId, text: &str, once: Once<'_>) -> Result<()> {
        self.pacer.turn(Class::Outreach).await;
        self.inner.send_text_once(room, text, once).await
    }

    async fn upload(&self, room: &RoomId, file: Upload) -> Result<()> {
        // An admin asked for the report and waits for it.
        self.pacer.turn(Class::Round).await;
        self.inner.upload(room, file).await
    }

    async fn is_encrypted(&self, room: &RoomId) -> bool {
        self.inner.is_encrypted(room).await
    }

    fn is_joined(&self, room: &RoomId) -> bool {
        self.inner.is_joined(room)
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> Option<MembershipState> {
        self.inner.membership(room, user).await
    }

    async fn joined_members(&self, room: &RoomId) -> Result<Vec<OwnedUserId>> {
        self.inner.joined_members(room).await
    }

    async fn known_joined_members(&self, room: &RoomId) -> Vec<OwnedUserId> {
        self.inner.known_joined_members(room).await
    }

    async fn ensure_dm(
        &self,
        user: &UserId,
        known: Option<&RoomId>,
        retention: Option<Duration>,
    ) -> Result<OwnedRoomId> {
        // Without a known DM this creates one (a request whose state events come with it):
        // one turn. Checking a known DM sends nothing, so a consented participant's round
        // start does not wait for a turn here.
        if known.is_none() {
            self.pacer.turn(Class::Outreach).await;
        }
        self.inner.ensure_dm(user, known, retention).await
    }

    async fn history_page(
        &self,
        room: &RoomId,
        from: Option<&str>,
        limit: u32,
    ) -> Result<HistoryPage> {
        self.inner.history_page(room, from, limit).await
    }

    async fn redact(&self, room: &RoomId, event: &EventId) -> Result<()> {
        self.pacer.turn(Class::Cleanup).await;
        self.inner.redact(room, event).await
    }

    async fn resolve_alias(&self, alias: &RoomAliasId) -> Result<OwnedRoomId> {
        self.inner.resolve_alias(alias).await
    }

    async fn join(&self, room: &RoomId) -> Result<()> {
        self.inner.join(room).await
    }

    async fn leave(&self, room: &RoomId) -> Result<()> {
        self.inner.leave(room).await
    }

    async fn forget(&self, room: &RoomId) -> Result<()> {
        self.inner.forget(room).await
    }

    async fn inviter(&self, room: &RoomId) -> Option<OwnedUserId> {
        self.inner.inviter(room).await
    }

    fn canonical_alias(&self, room: &RoomId) -> Option<String> {
        self.inner.canonical_alias(room)
    }

    fn invited_rooms(&self) -> Vec<OwnedRoomId> {
        self.inner.invited_rooms()
    }

    fn successor(&self, room: &RoomId) -> Option<OwnedRoomId> {
        self.inner.successor(room)
    }

    async fn redecrypt(&self, room: &RoomId, raw: &Raw<AnySyncTimelineEvent>) -> Redecrypted {
        self.inner.redecrypt(room, raw).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Runs `n` turns of `class` one after another (as a room's worker does) and records
    /// (label, when) of each.
    fn worker(
        pacer: &Arc<Pacer>,
        log: &Arc<Mutex<Vec<(&'static str, Instant)>>>,
        class: Class,
        label: &'static str,
        n: usize,
    ) -> tokio::task::JoinHandle<()> {
        let (pacer, log) = (pacer.clone(), log.clone());
        tokio::spawn(async move {
            for _ in 0..n {
                pacer.turn(class).await;
                lock(&log).push((label, Instant::now()));
                // The send itself takes a moment.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_is_respected_after_one_seconds_burst() {
        let pacer = Arc::new(Pacer::new(10.0));
        let log = Arc::default();
        let t0 = Instant::now();
        let rooms: Vec<_> = (0..5)
            .map(|_| worker(&pacer, &log, Class::Outreach, "r", 20))
            .collect();
        for r in rooms {
            r.await.expect("worker");
        }
        let times: Vec<Duration> = lock(&log).iter().map(|(_, t)| *t - t0).collect();
        assert_eq!(times.len(), 100);
        // 10 at once, then one per 100 ms: the 100th at 9 s.
        assert!(times[9] < Duration::from_millis(50), "{times:?}");
        let last = *times.last().expect("sends");
        assert!(
            last >= Duration::from_millis(9_000) && last < Duration::from_millis(9_200),
            "{last:?}"
        );
        // No second, however placed, holds more than rate + burst sends.
        for (i, t) in times.iter().enumerate() {
            let within = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(1))
                .count();
            assert!(within <= 20, "{within} sends in the second from {t:?}");
        }
        // After the burst, never two sends closer than the interval.
        for w in times[10..].windows(2) {
            assert!(w[1] - w[0] >= Duration::from_millis(99), "{times:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rooms_of_one_class_take_turns() {
        let pacer = Arc::new(Pacer::new(2.0));
        let log = Arc::default();
        let a = worker(&pacer, &log, Class::Outreach, "a", 6);
        let b = worker(&pacer, &log, Class::Outreach, "b", 6);
        a.await.expect("a");
        b.await.expect("b");
        let order: String = lock(&log).iter().map(|(l, _)| *l).collect();
        // After the burst, strictly alternating: neither room waits for the other to finish.
        assert!(!order.contains("aaa") && !order.contains("bbb"), "{order}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_participant_mid_round_goes_before_new_invitations() {
        let pacer = Arc::new(Pacer::new(10.0));
        let log = Arc::default();
        // A round start: 50 rooms, each a notice and a consent poll.
        let invitations: Vec<_> = (0..50)
            .map(|_| worker(&pacer, &log, Class::Outreach, "invite", 2))
            .collect();
        // Two seconds in, a participant answers and waits for the next question, three
        // times, while 70 invitation messages still wait.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let asked_at = Instant::now();
        let mid = worker(&pacer, &log, Class::Round, "next question", 3);
        mid.await.expect("mid-round participant");
        let waited = Instant::now() - asked_at;
        // Three turns at 100 ms each, not behind 70 others (7 s).
        assert!(waited < Duration::from_millis(400), "{waited:?}");
        for i in invitations {
            i.await.expect("invitation");
        }
        let log = lock(&log);
        let questions: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, (l, _))| *l == "next question")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(questions.len(), 3);
        assert!(
            questions.iter().all(|i| *i < 40),
            "the participant waited behind invitations: {questions:?}"
        );
        assert_eq!(log.len(), 103);
    }

    #[tokio::test(start_paused = true)]
    async fn redactions_wait_for_every_message() {
        let pacer = Arc::new(Pacer::new(5.0));
        // The bucket emptied by earlier sends; the cleaner is the first to queue.
        for _ in 0..5 {
            pacer.turn(Class::Round).await;
        }
        let log = Arc::default();
        let cleanup = worker(&pacer, &log, Class::Cleanup, "redact", 5);
        tokio::task::yield_now().await;
        let round = worker(&pacer, &log, Class::Round, "round", 10);
        let outreach = worker(&pacer, &log, Class::Outreach, "outreach", 10);
        cleanup.await.expect("cleanup");
        round.await.expect("round");
        outreach.await.expect("outreach");
        let log = lock(&log);
        let last_message = log
            .iter()
            .rposition(|(l, _)| *l != "redact")
            .expect("messages");
        let redactions_after: usize = log[..last_message]
            .iter()
            .filter(|(l, _)| *l == "redact")
            .count();
        assert_eq!(redactions_after, 0, "{log:?}");
        assert_eq!(log.len(), 25);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_given_up_lets_the_next_go() {
        let pacer = Arc::new(Pacer::new(1.0));
        pacer.turn(Class::Outreach).await;
        // The bucket is empty: this turn waits ~1 s, and is given up after 100 ms.
        let gave_up =
            tokio::time::timeout(Duration::from_millis(100), pacer.turn(Class::Round)).await;
        assert!(gave_up.is_err());
        let t = Instant::now();
        pacer.turn(Class::Outreach).await;
        assert!(Instant::now() - t <= Duration::from_secs(1));
        assert!(lock(&pacer.state).waiting.is_empty());
    }
}
