//! The chat history (issue 15, item 1): no answer stays beside the person in their direct
//! chat. `[privacy] chat_history` chooses how:
//!
//! - `"retention"` (default): every DM the bot creates carries `m.room.retention`
//!   (`max_lifetime` = `chat_history_lifetime`) in its creation request, and a DM it reuses
//!   gets the policy once if it lacks it (`rooms::ensure_dm`). A homeserver with retention
//!   enabled then hides each message from clients once it is older than that and purges it in
//!   its next purge job (`docs/operations.md`, "Chat history"). The bot sends nothing else.
//! - `"redact"`: when a participant finishes a round, and for everyone in the round when it
//!   closes, the bot redacts that participant's messages of the round in their DM.
//! - `"keep"`: neither.
//! - In every mode `löschen` redacts all of the participant's messages in their DM at once.
//!
//! **What is redacted.** A job names a DM, its participant and a time window (the round's
//! opening to the finish or the close; for `löschen` everything up to that moment). It pages
//! back through the DM's history as the homeserver has it and redacts, inside the window,
//! every event the participant sent (answers, votes, edits, commands, reactions; not state
//! events or redactions) and the bot's own text messages (a `meine daten` reply lists a
//! running round's answers; the intro, hints and thanks go with them). The bot's polls stay:
//! a poll carries only the question and its options, and once the participant's responses
//! are redacted it shows no vote. Events already redacted are skipped, which is what makes a
//! job idempotent.
//!
//! **Why paging and not a list of event ids.** Keeping the ids of a participant's answer
//! events would put a pointer to each answer beside the person in the ledger. A job holds
//! only the DM, the participant and two times: nothing about what they answered. The cost is
//! one history page per job (a round is ~10–30 events) and a redaction per message.
//!
//! **Crash and restart.** Jobs are written to the store (one encrypted bot-state value)
//! before the step that makes them due: the finish, the close, the erasure. A job is dropped
//! only after its scan found nothing left to redact; after a crash it runs again from the
//! top, skipping what is redacted already, and each redaction's transaction id is derived from
//! its target, so a resent request is deduplicated by the homeserver. A finish job lost in a
//! crash is covered by the close job, which every participant of the round gets.
//!
//! **Pace.** One task works the queue, one request at a time: `löschen` jobs first and
//! quickly ([`URGENT_PACE`]), the others at the lowest priority: only while the sender's
//! outbox is empty (waiting at most [`OUTBOX_YIELD`] per request, since a message for a DM
//! whose invite was never accepted stays pending) and [`BACKGROUND_PACE`] apart, so a
//! participant's next question does not wait behind a redaction. [`Bot::redaction_turn`] is
//! that one gate; each redaction then also waits for a turn in the paced port's lowest class
//! (`bot::pace`, `Class::Cleanup`), behind every message that is waiting to go.
//!
//! Clocks: the window compares the bot's clock with the homeserver's `origin_server_ts`;
//! both must be set by NTP (a difference of more than a few seconds could leave the
//! finishing answer outside the window, or take in the next round's first answer).
//!
//! Edges: Matrix only through the port (`history_page`, `redact`), the disk only through the
//! store. Logs name no room, no participant and no event.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::Bot;
use super::port::{HistoryEvent, HistoryKind, Refusal, refusal};

/// The bot-state key of the redaction queue.
const JOBS: &str = "history/redactions";
/// Events per history page.
const PAGE: u32 = 100;
/// Pages one job reads at most (50,000 events: far more than a DM holds).
const MAX_PAGES: u32 = 500;
/// Least time between two requests of a background job.
pub(super) const BACKGROUND_PACE: Duration = Duration::from_millis(250);
/// Least time between two requests of a `löschen` job.
pub(super) const URGENT_PACE: Duration = Duration::from_millis(50);
/// How often a background job looks whether the outbox has emptied.
const OUTBOX_POLL: Duration = Duration::from_millis(200);
/// Longest a background request waits for the outbox to empty.
const OUTBOX_YIELD: Duration = Duration::from_secs(10);
/// The queue's progress is written at most this often (a lost write only repeats a job).
const PERSIST_EVERY: Duration = Duration::from_secs(5);
/// Longest pause after a failed job.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A rate-limited redaction is retried this often before the job pauses.
const MAX_RATE_LIMITED: u32 = 5;

/// One DM's messages to redact: the participant's in `[since, until]`, the bot's own text
/// messages in `[since, until)` (its reply to the event at `until` is newer than it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Job {
    /// The DM.
    pub(super) room: String,
    /// Its participant.
    pub(super) user: String,
    /// From (ms since the epoch).
    pub(super) since_ms: i64,
    /// Up to (ms since the epoch).
    pub(super) until_ms: i64,
    /// `löschen`: ahead of everything else.
    pub(super) urgent: bool,
}

impl Job {
    /// A round's job: from its opening to `until` (the finish or the close).
    pub(super) fn round(room: &str, user: &str, opened: Timestamp, until: Timestamp) -> Job {
        Job {
            room: room.to_owned(),
            user: user.to_owned(),
            since_ms: opened.as_millisecond(),
            until_ms: until.as_millisecond(),
            urgent: false,
        }
    }

    /// `löschen`: everything up to `now`, at once.
    pub(super) fn erase(room: &str, user: &str, now: Timestamp) -> Job {
        Job {
            room: room.to_owned(),
            user: user.to_owned(),
            since_ms: i64::MIN,
            until_ms: now.as_millisecond(),
            urgent: true,
        }
    }
}

/// Whether the job redacts `ev` (the pure rule of the module docs).
pub(super) fn to_redact(ev: &HistoryEvent, job: &Job, participant: &UserId, own: &UserId) -> bool {
    if matches!(
        ev.kind,
        HistoryKind::State | HistoryKind::Redaction | HistoryKind::Redacted
    ) || ev.ts_ms < job.since_ms
    {
        return false;
    }
    if ev.sender == participant {
        return ev.ts_ms <= job.until_ms;
    }
    ev.sender == own
        && ev.ts_ms < job.until_ms
        && matches!(ev.kind, HistoryKind::Text | HistoryKind::Other)
}

/// Adds `new` to `jobs`: a job for the same DM and window start widens the one queued.
fn merge(jobs: &mut Vec<Job>, new: Job) {
    match jobs
        .iter_mut()
        .find(|j| j.room == new.room && j.since_ms == new.since_ms)
    {
        Some(j) => {
            j.until_ms = j.until_ms.max(new.until_ms);
            j.urgent |= new.urgent;
        }
        None => jobs.push(new),
    }
}

/// The redaction queue's state in memory (the store holds the same list).
#[derive(Default)]
pub(super) struct Redactor {
    /// The queue, `None` until read from the store.
    jobs: tokio::sync::Mutex<Option<Vec<Job>>>,
    /// Wakes the worker.
    wake: tokio::sync::Notify,
    /// When the queue was last written.
    persisted: std::sync::Mutex<Option<Instant>>,
}

/// How a job ended.
enum JobEnd {
    /// Nothing left to redact.
    Done { redacted: u32 },
    /// The DM cannot be read or written any more (the bot left it): dropped.
    Gone,
}

impl Bot {
    /// Queues redaction jobs (written to the store before this returns) and wakes the worker.
    pub(super) async fn queue_redactions(&self, new: Vec<Job>) -> anyhow::Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        let mut guard = self.inner.history.jobs.lock().await;
        let mut jobs = match guard.take() {
            Some(j) => j,
            None => self.load_jobs().await?,
        };
        for job in new {
            merge(&mut jobs, job);
        }
        let result = self.store_jobs(&jobs).await;
        *guard = Some(jobs);
        drop(guard);
        self.inner.history.wake.notify_one();
        result
    }

    async fn load_jobs(&self) -> anyhow::Result<Vec<Job>> {
        let raw = self.inner.store.bot_state(JOBS.to_owned()).await?;
        Ok(match raw {
            None => Vec::new(),
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(error = %e, "the stored redaction queue is unreadable; it starts empty");
                Vec::new()
            }),
        })
    }

    async fn store_jobs(&self, jobs: &[Job]) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(jobs)?;
        self.inner
            .store
            .set_bot_state(JOBS.to_owned(), bytes)
            .await?;
        *super::lock(&self.inner.history.persisted) = Some(Instant::now());
        Ok(())
    }

    /// The next job: a `löschen` one first, else the oldest.
    async fn next_job(&self) -> anyhow::Result<Option<Job>> {
        let mut guard = self.inner.history.jobs.lock().await;
        if guard.is_none() {
            *guard = Some(self.load_jobs().await?);
        }
        let jobs = guard.as_ref().map(Vec::as_slice).unwrap_or_default();
        Ok(jobs
            .iter()
            .find(|j| j.urgent)
            .or_else(|| jobs.first())
            .cloned())
    }

    /// Removes a finished job; the queue is written now and then, and when it is empty.
    async fn job_done(&self, job: &Job) -> anyhow::Result<()> {
        let mut guard = self.inner.history.jobs.lock().await;
        let Some(jobs) = guard.as_mut() else {
            return Ok(());
        };
        // A job widened meanwhile (a close after a finish) stays, with its new end.
        jobs.retain(|j| j != job);
        let due =
            super::lock(&self.inner.history.persisted).is_none_or(|t| t.elapsed() >= PERSIST_EVERY);
        if jobs.is_empty() || due {
            let snapshot = jobs.clone();
            drop(guard);
            self.store_jobs(&snapshot).await?;
        }
        Ok(())
    }

    /// Moves a failing job behind the others, so one unreachable DM holds up nobody.
    async fn job_to_back(&self, job: &Job) {
        let mut guard = self.inner.history.jobs.lock().await;
        if let Some(jobs) = guard.as_mut()
            && let Some(i) = jobs.iter().position(|j| j == job)
        {
            let j = jobs.remove(i);
            jobs.push(j);
        }
    }

    /// The one gate every request of the history cleaner passes: `löschen` jobs at
    /// [`URGENT_PACE`]; the others at the lowest priority, only while nothing waits in the
    /// outbox and [`BACKGROUND_PACE`] apart. (The place to route them into a sender with
    /// priorities.)
    pub(super) async fn redaction_turn(&self, urgent: bool) {
        if !urgent {
            // Messages that cannot go (a DM invite never accepted) stay pending for long:
            // the cleaner yields to them for a while, not for ever.
            let give_way_until = Instant::now() + OUTBOX_YIELD;
            while self.inner.metrics.outbox_pending.load(Ordering::Relaxed) > 0
                && Instant::now() < give_way_until
                && !self.inner.cancel.is_cancelled()
            {
                tokio::time::sleep(OUTBOX_POLL).await;
            }
        }
        tokio::time::sleep(if urgent { URGENT_PACE } else { BACKGROUND_PACE }).await;
    }

    /// Works the queue until shutdown.
    pub(super) async fn redaction_loop(&self) {
        let mut backoff = Duration::from_secs(2);
        loop {
            if self.inner.cancel.is_cancelled() {
                return;
            }
            let woken = self.inner.history.wake.notified();
            let job = match self.next_job().await {
                Ok(job) => job,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "the redaction queue cannot be read; retrying");
                    None
                }
            };
            let Some(job) = job else {
                tokio::select! {
                    _ = self.inner.cancel.cancelled() => return,
                    _ = woken => {}
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
                continue;
            };
            let end = tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                end = self.run_job(&job) => end,
            };
            match end {
                Ok(end) => {
                    match end {
                        JobEnd::Done { redacted } => {
                            debug!(
                                redacted,
                                urgent = job.urgent,
                                "chat history: a direct chat's messages redacted"
                            );
                        }
                        JobEnd::Gone => {
                            debug!(
                                "chat history: a direct chat the bot cannot read any more; job dropped"
                            );
                        }
                    }
                    backoff = Duration::from_secs(2);
                    if let Err(e) = self.job_done(&job).await {
                        warn!(error = %format!("{e:#}"), "the redaction queue could not be written; the job may run again");
                    }
                }
                Err(e) => {
                    // The error may name the room: debug only.
                    debug!(error = %format!("{e:#}"), "redaction failed");
                    warn!(
                        pause_secs = backoff.as_secs(),
                        "chat history: a redaction failed; the job is tried again later"
                    );
                    self.job_to_back(&job).await;
                    tokio::select! {
                        _ = self.inner.cancel.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Pages back through the job's DM from its newest event and redacts what
    /// [`to_redact`] selects, until the window's start (or the room's beginning).
    async fn run_job(&self, job: &Job) -> anyhow::Result<JobEnd> {
        let (Ok(room), Ok(user)) = (
            OwnedRoomId::try_from(job.room.as_str()),
            OwnedUserId::try_from(job.user.as_str()),
        ) else {
            return Ok(JobEnd::Gone);
        };
        let own = self.port().own_user();
        let mut from: Option<String> = None;
        let mut redacted = 0u32;
        for _ in 0..MAX_PAGES {
            self.redaction_turn(job.urgent).await;
            let page = match self.port().history_page(&room, from.as_deref(), PAGE).await {
                Ok(p) => p,
                Err(e) if refusal(&e) == Some(Refusal::Final) => return Ok(JobEnd::Gone),
                Err(e) => return Err(e),
            };
            let older_than_window = page.events.iter().any(|e| e.ts_ms < job.since_ms);
            for ev in page
                .events
                .iter()
                .filter(|e| to_redact(e, job, &user, &own))
            {
                if self.redact_one(&room, ev, job.urgent).await? {
                    redacted += 1;
                }
            }
            match page.next {
                Some(next) if !older_than_window && !page.events.is_empty() => from = Some(next),
                _ => return Ok(JobEnd::Done { redacted }),
            }
        }
        Ok(JobEnd::Done { redacted })
    }

    /// Redacts one event; false if the homeserver refused it for good (it is skipped).
    async fn redact_one(
        &self,
        room: &matrix_sdk::ruma::RoomId,
        ev: &HistoryEvent,
        urgent: bool,
    ) -> anyhow::Result<bool> {
        let mut limited = 0;
        loop {
            self.redaction_turn(urgent).await;
            match self.port().redact(room, &ev.event_id).await {
                Ok(()) => return Ok(true),
                Err(e) => match refusal(&e) {
                    Some(Refusal::Final) => {
                        debug!(error = %format!("{e:#}"), "redaction refused; skipped");
                        return Ok(false);
                    }
                    Some(Refusal::RateLimited(after)) if limited < MAX_RATE_LIMITED => {
                        limited += 1;
                        let wait = after
                            .unwrap_or(Duration::from_secs(5))
                            .min(Duration::from_secs(60));
                        tokio::time::sleep(wait).await;
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// `"redact"` mode: the round's job for a participant who just finished it.
    pub(super) async fn redact_after_finish(
        &self,
        room: &str,
        user: &str,
        survey_id: &str,
        n: u32,
    ) -> anyhow::Result<()> {
        if self.inner.config.privacy.chat_history != crate::config::ChatHistory::Redact {
            return Ok(());
        }
        let sid = survey_id.to_owned();
        let info = self.inner.store.run(move |s| s.round_info(&sid, n)).await?;
        let Some(info) = info else {
            return Ok(());
        };
        self.queue_redactions(vec![Job::round(room, user, info.opened_at, self.now())])
            .await
    }

    /// `"redact"` mode: the jobs of everyone in a round about to close (written before the
    /// close, so a crash between the two loses none).
    pub(super) async fn redact_at_close(
        &self,
        participants: &[crate::model::LedgerEntry],
        survey_id: &str,
        n: u32,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        if self.inner.config.privacy.chat_history != crate::config::ChatHistory::Redact {
            return Ok(());
        }
        let sid = survey_id.to_owned();
        let info = self.inner.store.run(move |s| s.round_info(&sid, n)).await?;
        let Some(info) = info.filter(|i| i.closed_at.is_none()) else {
            return Ok(());
        };
        let jobs = participants
            .iter()
            .filter(|e| e.round(survey_id, n).is_some())
            .filter_map(|e| {
                Some(Job::round(
                    e.dm_room.as_deref()?,
                    &e.user_id,
                    info.opened_at,
                    now,
                ))
            })
            .collect();
        self.queue_redactions(jobs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(sender: &str, ts_ms: i64, kind: HistoryKind) -> HistoryEvent {
        HistoryEvent {
            event_id: "$e".try_into().expect("event id"),
            sender: sender.try_into().expect("user id"),
            ts_ms,
            kind,
        }
    }

    #[test]
    fn the_rule_takes_the_participants_events_and_the_bots_texts_in_the_window() {
        let (p, own) = (
            <&UserId>::try_from("@p:x").expect("id"),
            <&UserId>::try_from("@bot:x").expect("id"),
        );
        let job = Job {
            room: "!r:x".into(),
            user: p.to_string(),
            since_ms: 100,
            until_ms: 200,
            urgent: false,
        };
        let cases = [
            (ev("@p:x", 150, HistoryKind::Other), true, "a vote"),
            (ev("@p:x", 150, HistoryKind::Text), true, "a typed answer"),
            (
                ev("@p:x", 200, HistoryKind::Other),
                true,
                "the finishing answer",
            ),
            (
                ev("@p:x", 201, HistoryKind::Other),
                false,
                "after the window",
            ),
            (
                ev("@p:x", 99, HistoryKind::Other),
                false,
                "before the window",
            ),
            (ev("@p:x", 150, HistoryKind::State), false, "a membership"),
            (
                ev("@p:x", 150, HistoryKind::Redaction),
                false,
                "a redaction",
            ),
            (
                ev("@p:x", 150, HistoryKind::Redacted),
                false,
                "already redacted",
            ),
            (
                ev("@bot:x", 150, HistoryKind::Text),
                true,
                "a `meine daten` reply",
            ),
            (
                ev("@bot:x", 150, HistoryKind::Other),
                true,
                "an undecryptable own event",
            ),
            (
                ev("@bot:x", 150, HistoryKind::Poll),
                false,
                "a question poll",
            ),
            (
                ev("@bot:x", 200, HistoryKind::Text),
                false,
                "the reply to the last answer",
            ),
            (
                ev("@other:x", 150, HistoryKind::Text),
                false,
                "someone else",
            ),
        ];
        for (e, want, what) in cases {
            assert_eq!(to_redact(&e, &job, p, own), want, "{what}");
        }
        let erase = Job::erase(
            "!r:x",
            "@p:x",
            Timestamp::from_millisecond(500).expect("ts"),
        );
        assert!(to_redact(
            &ev("@p:x", 0, HistoryKind::Other),
            &erase,
            p,
            own
        ));
        assert!(erase.urgent);
    }

    #[test]
    fn a_job_for_the_same_window_is_widened_not_repeated() {
        let t = |ms| Timestamp::from_millisecond(ms).expect("ts");
        let mut jobs = Vec::new();
        merge(&mut jobs, Job::round("!r:x", "@p:x", t(100), t(200)));
        merge(&mut jobs, Job::round("!r:x", "@p:x", t(100), t(300)));
        merge(&mut jobs, Job::round("!s:x", "@q:x", t(100), t(300)));
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].until_ms, 300);
    }
}
