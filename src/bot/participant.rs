//! Inbound events in participants' direct chats: typed into a conversation [`Input`],
//! decided by the pure [`conversation::decide`], carried out with the store.
//!
//! Exactly once: answers are counted by event id inside `Store::record_answer`; every other
//! message caused by an event gets a transaction id derived from that event, so handling a
//! replayed event again is deduplicated by the homeserver. Logs name the room and what was
//! done, never the participant or the text.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use tracing::{Instrument, debug, info, warn};

use super::port::Redecrypted;
use super::{Bot, lock};
use crate::conversation::{self, Action, Input, Participant, Round};
use crate::matrix::events::Inbound;
use crate::matrix::send::caused_txn;
use crate::model::{ConsentState, LedgerEntry, Outbound, RoundStatus};
use crate::store::RecordOutcome;

/// How long a poll vote waits for its poll's registration (the vote can arrive in the sync
/// right after the send, before the sender wrote the poll id).
const REGISTRATION_WAIT: Duration = Duration::from_secs(3);

/// An undecryptable event waiting for its room key.
pub(super) struct PendingUtd {
    pub(super) room_id: OwnedRoomId,
    pub(super) event_id: OwnedEventId,
    pub(super) sender: OwnedUserId,
    pub(super) raw: Raw<AnySyncTimelineEvent>,
    pub(super) give_up_at: Instant,
}

/// Sets transaction ids derived from the causing event on messages that have none.
fn with_txn(mut out: Vec<Outbound>, event_id: &str) -> Vec<Outbound> {
    for (i, m) in out.iter_mut().enumerate() {
        m.txn_id.get_or_insert_with(|| caused_txn(event_id, i));
    }
    out
}

impl Bot {
    /// The open round `entry` takes part in (invited or answering), if any.
    pub(super) async fn active_round(
        &self,
        entry: &LedgerEntry,
    ) -> anyhow::Result<Option<(String, u32)>> {
        let candidates: Vec<(String, u32)> = entry
            .rounds
            .iter()
            .filter(|r| matches!(r.status, RoundStatus::Invited | RoundStatus::Started))
            .map(|r| (r.survey_id.clone(), r.round))
            .collect();
        for (survey, n) in candidates {
            let (s, n2) = (survey.clone(), n);
            let info = self
                .inner
                .store
                .run(move |st| st.round_info(&s, n2))
                .await?;
            if info.is_some_and(|i| i.closed_at.is_none()) {
                return Ok(Some((survey, n)));
            }
        }
        Ok(None)
    }

    /// Handles one event in a room that is not a configured room: a participant's DM.
    pub(super) async fn participant_event(&self, room: &RoomId, ev: Inbound) -> anyhow::Result<()> {
        let (event_id, sender, input) = match ev {
            Inbound::Text {
                event_id,
                sender,
                body,
            } => (event_id, sender, Input::Text(body)),
            Inbound::PollResponse {
                event_id,
                sender,
                poll_id,
                answers,
            } => (
                event_id,
                sender,
                Input::PollVote {
                    poll_event_id: poll_id.to_string(),
                    answer_ids: answers,
                },
            ),
            Inbound::Undecryptable {
                event_id, sender, ..
            } => (event_id, sender, Input::Undecryptable),
            Inbound::Aside {
                event_id,
                sender,
                body,
            } => (event_id, sender, Input::Aside(body)),
            Inbound::Edit {
                event_id,
                sender,
                target,
                body,
            } => (
                event_id,
                sender,
                Input::Edit {
                    target: target.to_string(),
                    body,
                },
            ),
            Inbound::Redaction {
                event_id,
                sender,
                target,
            } => (
                event_id,
                sender,
                Input::Withdraw {
                    target: target.to_string(),
                },
            ),
            // A DM upgraded by the participant is not followed: the next contact opens a
            // fresh DM (see `rooms::usable_dm`).
            Inbound::Tombstone { .. } => return Ok(()),
            Inbound::Membership {
                user, membership, ..
            } => {
                if self.dm_user(room).as_deref() == Some(user.as_ref()) {
                    use matrix_sdk::ruma::events::room::member::MembershipState as M;
                    let joined = membership == M::Join;
                    self.set_dm_joined(room, joined);
                    // A participant who left gets a fresh DM at the next contact; what was
                    // queued for the old one is dropped after a grace time (see the sender).
                    self.directory()
                        .note_left(room, matches!(membership, M::Leave | M::Ban));
                    if joined {
                        // The participant joined their DM: queued messages may go now.
                        self.inner.sender.wake();
                    }
                }
                return Ok(());
            }
        };
        self.participant_input(room, &event_id, &sender, input)
            .await
    }

    /// Carries out what the conversation decides for one input.
    pub(super) async fn participant_input(
        &self,
        room: &RoomId,
        event_id: &OwnedEventId,
        sender: &OwnedUserId,
        input: Input,
    ) -> anyhow::Result<()> {
        let received = Instant::now();
        let user = sender.to_string();
        let room_id = room.to_string();
        let u = user.clone();
        let entry = self.inner.store.run(move |s| s.participant(&u)).await?;
        let Some(entry) = entry else {
            debug!("message in a room that is no participant's DM; ignored");
            return Ok(());
        };
        let own_dm = entry.dm_room.as_deref() == Some(room_id.as_str());
        // After "delete" the entry keeps no room; such a participant may still say `start`.
        if !(own_dm || entry.erased && self.is_one_to_one(room, sender).await) {
            debug!("message from a participant outside their DM; ignored");
            return Ok(());
        }
        let active = if entry.erased {
            None
        } else {
            self.active_round(&entry).await?
        };
        let p = Participant::from_ledger(Some(&entry), active.is_some(), self.lang());
        let action = conversation::decide(&p, &input, &self.inner.config.notice);
        let now = self.now();
        let ev = event_id.to_string();
        let out = |msgs: &[conversation::Outgoing]| {
            with_txn(conversation::to_outbounds(msgs, &room_id), &ev)
        };
        let store = &self.inner.store;
        match action {
            Action::Ignore => {}
            Action::Reply(msgs) => {
                if !self.may_reply(&user) {
                    return Ok(());
                }
                let o = out(&msgs);
                store.run(move |s| s.queue(&o)).await?;
            }
            Action::FirstContact(msgs) => {
                let (o, u, r, lang) = (out(&msgs), user.clone(), room_id.clone(), p.lang);
                store
                    .run(move |s| s.first_contact(&u, &r, lang, &o, now))
                    .await?;
            }
            Action::SetConsent { state, reply } => {
                let (o, u) = (out(&reply), user.clone());
                store
                    .run(move |s| {
                        s.update_and_queue(
                            &u,
                            |e| {
                                e.consent = state;
                                e.consent_at = Some(now);
                                true
                            },
                            &o,
                        )?;
                        s.audit(now, "participant", "consent", &format!("{state:?}"))
                    })
                    .await?;
                debug!(consent = ?state, "consent answered");
                if state == ConsentState::Yes {
                    self.start_open_rounds_for(sender).await?;
                }
            }
            Action::OptIn { reply } => {
                let (o, u, r) = (out(&reply), user.clone(), room_id.clone());
                store
                    .run(move |s| {
                        s.opt_in_again(&u, Some(&r), now)?;
                        s.queue(&o)
                    })
                    .await?;
                self.remember_dm(room.to_owned(), sender.clone());
                debug!("participant opted in again");
                self.start_open_rounds_for(sender).await?;
            }
            Action::OptOut { confirmation } => {
                let (o, u) = (out(&confirmation), user.clone());
                store.run(move |s| s.opt_out(&u, now, &o)).await?;
                debug!("participant stopped");
            }
            Action::Erase { confirmation } => {
                // Queued before the erasure drops the DM from the ledger: a crash between
                // the two replays `löschen`, which queues the same job again.
                if let Some(dm) = entry.dm_room.as_deref() {
                    self.queue_redactions(vec![super::history::Job::erase(dm, &user, now)])
                        .await?;
                }
                let (o, u) = (out(&confirmation), user.clone());
                store.run(move |s| s.erase_participant(&u, now, &o)).await?;
                debug!("participant's data erased on request");
            }
            Action::SetLanguage { lang, reply } => {
                let (o, u) = (out(&reply), user.clone());
                store
                    .run(move |s| {
                        s.update_and_queue(
                            &u,
                            |e| {
                                e.lang = lang;
                                true
                            },
                            &o,
                        )
                    })
                    .await?;
            }
            Action::Resume => {
                let Some((survey_id, n)) = active else {
                    return Ok(());
                };
                if !self.may_reply(&user) {
                    return Ok(());
                }
                let Some(survey) = self.survey(&survey_id) else {
                    return Ok(());
                };
                let (u, sid) = (user.clone(), survey_id.clone());
                let state = store
                    .run(move |s| s.conversation(&u, &sid, n))
                    .await?
                    .unwrap_or_default();
                let round = self.round_view(&survey, n, p.lang).await?;
                let o = out(&conversation::resume(&state, &round));
                store.run(move |s| s.queue(&o)).await?;
            }
            Action::ShowMyData => {
                if !self.may_reply(&user) {
                    return Ok(());
                }
                let u = user.clone();
                let data = store.run(move |s| s.my_data(&u, now)).await?;
                let surveys: Vec<&crate::survey::Survey> =
                    self.inner.surveys.iter().map(|s| &**s).collect();
                let tz = &self.inner.config.bot.timezone;
                let o = out(&conversation::my_data_reply(&data, &surveys, tz, p.lang));
                store.run(move |s| s.queue(&o)).await?;
            }
            Action::Round => {
                let Some((survey_id, n)) = active else {
                    return Ok(());
                };
                // Noted before the answer is stored: the sender may pick the next question
                // up the moment the transaction commits.
                let started = |insert: bool| {
                    let at = insert.then_some(received);
                    self.inner.sender.answer_started(room, at);
                };
                started(true);
                let goes_on = self
                    .round_answer(&entry, &survey_id, n, &room_id, event_id, &input)
                    .await;
                if matches!(goes_on, Ok(true)) {
                    self.inner.metrics.record_stored(received.elapsed());
                }
                if !matches!(goes_on, Ok(true)) {
                    started(false);
                }
                goes_on?;
            }
        }
        // Everything decided here was queued for this room (rounds started in other rooms
        // wake the sender loop themselves), so it goes out from here: no outbox scan by the
        // sender loop per answer.
        self.spawn_room_worker(room_id);
        Ok(())
    }

    /// One input of a running round, counted exactly once. True if it was counted and the
    /// round goes on (a next question is on its way).
    async fn round_answer(
        &self,
        entry: &LedgerEntry,
        survey_id: &str,
        n: u32,
        room_id: &str,
        event_id: &OwnedEventId,
        input: &Input,
    ) -> anyhow::Result<bool> {
        let Some(survey) = self.survey(survey_id) else {
            warn!(
                survey = survey_id,
                "answer for a survey that is no longer loaded; ignored"
            );
            return Ok(false);
        };
        let user = entry.user_id.clone();
        if let Input::PollVote { poll_event_id, .. } = input
            && let Ok(room) = OwnedRoomId::try_from(room_id)
        {
            self.wait_for_registration(&room, &user, survey_id, n, poll_event_id)
                .await?;
        }
        let lang = entry.lang;
        let (u, sid, r, ev, inp) = (
            user.clone(),
            survey_id.to_owned(),
            room_id.to_owned(),
            event_id.to_string(),
            input.clone(),
        );
        // A rejected input's hint is a reply like any other: only while the participant's
        // reply rate allows (the input is still counted, so a replay changes nothing).
        let may_hint = self.reply_allowed(&user);
        // What became of a rejection's hint: 0 none, 1 queued, 2 withheld.
        let hint = Arc::new(AtomicU8::new(0));
        let hint_in = hint.clone();
        let outcome = self
            .inner
            .store
            .run(move |s| {
                let round = Round::new(&survey, lang);
                s.record_answer(&u, &sid, n, &ev, |state| {
                    let step = conversation::step(state, &round, &inp);
                    let rejected = matches!(step.outcome, conversation::Outcome::Rejected(_));
                    let mut update = step.update(&r);
                    *state = step.state;
                    let verdict = match (rejected, may_hint) {
                        (false, _) => 0,
                        (true, true) => 1,
                        (true, false) => {
                            update.outbound.clear();
                            2
                        }
                    };
                    hint_in.store(verdict, AtomicOrdering::Relaxed);
                    update.outbound = with_txn(std::mem::take(&mut update.outbound), &ev);
                    update
                })
            })
            .await?;
        match hint.load(AtomicOrdering::Relaxed) {
            1 => {
                self.may_reply(&user);
            }
            2 => {
                lock(&self.inner.replies).refuse(&user, Instant::now());
                self.inner
                    .metrics
                    .replies_throttled
                    .fetch_add(1, AtomicOrdering::Relaxed);
            }
            _ => {}
        }
        match outcome {
            RecordOutcome::Recorded { finished, .. } => {
                self.inner
                    .metrics
                    .answers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if finished {
                    // When one person finished is theirs: debug only; counts are in metrics
                    // and `!pulse status`.
                    debug!(
                        survey = survey_id,
                        round = n,
                        "participant finished the round"
                    );
                    // Their answers are final now: out of the DM (`"redact"` mode).
                    self.redact_after_finish(room_id, &user, survey_id, n)
                        .await?;
                }
                return Ok(!finished);
            }
            RecordOutcome::AlreadyCounted => debug!("event already counted"),
            RecordOutcome::RoundClosed | RecordOutcome::RoundFinished => {
                if !self.may_reply(&user) {
                    return Ok(false);
                }
                let o = with_txn(
                    conversation::to_outbounds(&conversation::closed_reply(lang), room_id),
                    event_id.as_str(),
                );
                self.inner.store.run(move |s| s.queue(&o)).await?;
            }
            RecordOutcome::NotConsented => {}
        }
        Ok(false)
    }

    /// Waits (briefly) until the poll a vote refers to is registered, so the vote is mapped
    /// to its question rather than rejected as an unknown poll. Only while a question poll
    /// is being sent into the room: a vote for a poll that does not exist (an old round's,
    /// another room's, made up) is handled at once, so junk votes cost no waiting.
    async fn wait_for_registration(
        &self,
        room: &RoomId,
        user: &str,
        survey_id: &str,
        n: u32,
        poll_id: &str,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + REGISTRATION_WAIT;
        loop {
            let (u, s2, p) = (user.to_owned(), survey_id.to_owned(), poll_id.to_owned());
            let known = self
                .inner
                .store
                .run(move |s| {
                    Ok(s.conversation(&u, &s2, n)?
                        .is_none_or(|st| conversation::knows_poll(&st, &p)))
                })
                .await?;
            if known || Instant::now() >= deadline || !self.inner.sender.poll_in_flight(room) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts every open round the participant belongs to and has not had yet.
    pub(super) async fn start_open_rounds_for(&self, user: &UserId) -> anyhow::Result<()> {
        let rounds = self.inner.store.run(|s| s.rounds()).await?;
        for info in rounds
            .into_iter()
            .filter(|r| r.closed_at.is_none() && r.label.is_none())
        {
            let Some(survey) = self.survey(&info.survey_id) else {
                continue;
            };
            let audience = self.audience(&survey).await;
            if audience.iter().any(|a| a == user) {
                self.start_for(&survey, info.round, user).await?;
            }
        }
        Ok(())
    }

    /// Re-tries undecryptable DM events whose keys may have arrived; those still
    /// undecryptable past the timeout are handled as "ask again".
    pub(super) async fn retry_undecryptable(&self) {
        let due: Vec<PendingUtd> = {
            let mut pending = lock(&self.inner.utd);
            std::mem::take(&mut *pending)
        };
        let mut keep = Vec::new();
        for p in due {
            let decrypted = self.port().redecrypt(&p.room_id, &p.raw).await;
            let handled = match decrypted {
                Redecrypted::Decrypted(inbound) => {
                    debug!(room = %p.room_id, "an undecryptable event could be decrypted later");
                    if let Some(inbound) = inbound
                        && let Err(e) = self.participant_event(&p.room_id, inbound).await
                    {
                        warn!(error = %format!("{e:#}"), "handling a late-decrypted event failed");
                    }
                    true
                }
                _ if Instant::now() >= p.give_up_at => {
                    debug!(room = %p.room_id, "event stayed undecryptable; asking the participant again");
                    if let Err(e) = self
                        .participant_input(&p.room_id, &p.event_id, &p.sender, Input::Undecryptable)
                        .await
                    {
                        warn!(error = %format!("{e:#}"), "asking again failed");
                    }
                    true
                }
                _ => false,
            };
            if !handled {
                keep.push(p);
            }
        }
        let mut pending = lock(&self.inner.utd);
        pending.extend(keep);
    }

    /// Someone besides the participant joined (or was invited into) their DM: the bot stops
    /// using it at once (nothing more is sent there, what was queued is dropped) and moves
    /// the conversation to a fresh DM, off the sync path.
    pub(super) fn spawn_leave_dm(&self, room: &RoomId, user: OwnedUserId) {
        self.directory().abandon(room);
        warn!("someone else joined a participant's direct chat; moving to a fresh one");
        let (bot, old) = (self.clone(), room.to_owned());
        self.inner.tasks.spawn(
            async move {
                if let Err(e) = bot.move_dm(&old, &user).await {
                    debug!(error = %format!("{e:#}"), "moving a direct chat failed");
                    warn!("moving a direct chat failed; the next contact opens a fresh one");
                }
            }
            .in_current_span(),
        );
    }

    /// Carries out [`Bot::spawn_leave_dm`]: leave, fresh DM, one line of explanation and
    /// whatever the participant was at (the consent question or the waiting question).
    async fn move_dm(&self, old: &RoomId, user: &UserId) -> anyhow::Result<()> {
        self.drop_queued(old).await?;
        if let Err(e) = self.port().leave(old).await {
            debug!(error = %format!("{e:#}"), "could not leave the old direct chat");
        }
        let u = user.to_string();
        let Some(entry) = self.inner.store.run(move |s| s.participant(&u)).await? else {
            return Ok(());
        };
        if entry.erased || entry.dm_room.as_deref() != Some(old.as_str()) {
            return Ok(());
        }
        let new = self
            .port()
            .ensure_dm(user, None, self.inner.config.privacy.dm_retention())
            .await?;
        let (lang, new_id) = (entry.lang, new.to_string());
        let mut msgs = vec![conversation::Outgoing::text(
            conversation::Context::Hint,
            conversation::texts::dm_moved(lang),
        )];
        match entry.consent {
            ConsentState::Asked => {
                msgs.extend(conversation::first_contact(&self.inner.config.notice, lang))
            }
            ConsentState::Yes => {
                if let Some((survey_id, n)) = self.active_round(&entry).await?
                    && let Some(survey) = self.survey(&survey_id)
                {
                    let (u, sid) = (user.to_string(), survey_id.clone());
                    let state = self
                        .inner
                        .store
                        .run(move |s| s.conversation(&u, &sid, n))
                        .await?
                        .unwrap_or_default();
                    let round = self.round_view(&survey, n, lang).await?;
                    msgs.extend(conversation::resume(&state, &round));
                }
            }
            _ => {}
        }
        let cause = format!("moved/{old}");
        let out = with_txn(conversation::to_outbounds(&msgs, &new_id), &cause);
        let (u, r) = (user.to_string(), new_id.clone());
        // Known as the DM before anything is queued: the sender registers polls by it.
        self.remember_dm(new, user.to_owned());
        self.inner
            .store
            .run(move |s| {
                s.update_participant(&u, |e| e.dm_room = Some(r.clone()))?;
                s.queue(&out)
            })
            .await?;
        debug!("direct chat moved");
        self.inner.sender.wake();
        Ok(())
    }

    /// Drops what is queued for a room the bot gave up (counted as dropped).
    pub(super) async fn drop_queued(&self, room: &RoomId) -> anyhow::Result<usize> {
        let r = room.to_string();
        let dropped = self
            .inner
            .store
            .run(move |s| {
                let pending = s.pending_in_room(&r)?;
                for m in &pending {
                    s.mark_sent(&r, m.id)?;
                }
                Ok(pending.len())
            })
            .await?;
        self.inner
            .metrics
            .messages_dropped
            .fetch_add(dropped as u64, AtomicOrdering::Relaxed);
        if dropped > 0 {
            info!(
                dropped,
                "queued messages for a room the bot gave up were dropped"
            );
        }
        Ok(dropped)
    }

    /// Whether `user` may get a reply now (does not use one up).
    fn reply_allowed(&self, user: &str) -> bool {
        lock(&self.inner.replies).allows(user, Instant::now())
    }

    /// Uses up one reply of `user`; false (and counted) when their reply rate is used up.
    fn may_reply(&self, user: &str) -> bool {
        let ok = lock(&self.inner.replies).take(user, Instant::now());
        if !ok {
            self.inner
                .metrics
                .replies_throttled
                .fetch_add(1, AtomicOrdering::Relaxed);
            debug!("reply skipped: the participant's reply rate is used up");
        }
        ok
    }

    /// The current time, from the configured clock.
    pub(super) fn now(&self) -> Timestamp {
        self.inner.options.clock.now()
    }
}
