//! Rounds: who is asked (the audience), opening, reminding and closing — from the schedule
//! or an admin — and bringing every audience member to where the open round wants them.
//!
//! One source of round truth: the store's rounds. A round opens with its schedule (due time,
//! close time) in one transaction, closes in one transaction, and the reminders it used are
//! recorded before they go out; the scheduler's [`History`] is read from the store, never kept
//! beside it. Every step is idempotent in the store (`open_round_scheduled`, `first_contact`,
//! `start_round`, `remind`, `close_round_with`), so [`Bot::tick`] simply runs the same steps
//! again after a restart. Contacting the audience runs in the tick, not in the command
//! handler, so a large audience never stalls the sync loop.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use tracing::{debug, info, warn};

use super::Bot;
use crate::admin::RoundCounts;
use crate::conversation::{self, Round};
use crate::model::{ConsentState, RoundSchedule, RoundStatus};
use crate::schedule::{self, Action, History};
use crate::survey::Survey;

/// What [`Bot::start_for`] did for one audience member.
pub(super) enum Contacted {
    /// Nothing (already contacted, declined, in another round).
    No,
    /// The notice and the consent question were queued.
    FirstContact,
    /// The round's first question was queued.
    Started,
}

/// How many reminders an admin may send by hand in one round, on top of none scheduled.
const MAX_MANUAL_REMINDERS: u32 = 5;

impl Bot {
    /// The loaded survey with this id.
    pub(super) fn survey(&self, id: &str) -> Option<Arc<Survey>> {
        self.inner.surveys.iter().find(|s| s.id == id).cloned()
    }

    /// Round `n` of `survey` as a participant in `lang` sees it: with its deadline, which
    /// the intro and the reminders name.
    pub(super) async fn round_view<'s>(
        &self,
        survey: &'s Survey,
        n: u32,
        lang: crate::lang::Lang,
    ) -> anyhow::Result<Round<'s>> {
        let id = survey.id.clone();
        let info = self.inner.store.run(move |s| s.round_info(&id, n)).await?;
        let round = Round::new(survey, lang);
        Ok(
            match info.and_then(|i| i.schedule).map(|sch| sch.closes_at) {
                Some(closes_at) => round.closing_at(closes_at, self.now()),
                None => round,
            },
        )
    }

    /// The survey's audience: joined members of its pilot rooms, minus the bot, the admins
    /// and `ignore_users`. Read from the member lists the SDK keeps current from sync.
    pub(super) async fn audience(&self, survey: &Survey) -> Vec<OwnedUserId> {
        let own = self.port().own_user();
        let rooms = self.pilot_room_ids(survey);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for id in rooms {
            if !self.port().is_joined(&id) {
                continue;
            }
            match self.port().joined_members(&id).await {
                Ok(members) => {
                    for m in members {
                        let excluded = m == own
                            || self.is_admin(&m)
                            || self.inner.config.bot.ignore_users.contains(&m);
                        if !excluded && seen.insert(m.clone()) {
                            out.push(m);
                        }
                    }
                }
                Err(e) => warn!(room = %id, error = %format!("{e:#}"), "members unknown"),
            }
        }
        out
    }

    /// The ids of the survey's pilot rooms, as far as they are resolved.
    fn pilot_room_ids(&self, survey: &Survey) -> Vec<OwnedRoomId> {
        self.directory().pilot_room_ids(survey)
    }

    /// The survey's rounds as the scheduler sees them, read from the store (the one record).
    async fn history(&self, survey_id: &str) -> anyhow::Result<History> {
        let rounds = self.inner.store.run(|s| s.rounds()).await?;
        Ok(History::from_rounds(survey_id, &rounds))
    }

    /// Carries out a scheduler action; what it changes about the round is written to the
    /// store with it (or, for reminders, before them).
    async fn act(
        &self,
        survey: &Arc<Survey>,
        action: Action,
        manual: bool,
    ) -> anyhow::Result<String> {
        let now = self.now();
        match action {
            Action::Open {
                round,
                slot,
                closes_at,
            } => {
                let (id, mode) = (survey.id.clone(), survey.mode);
                let schedule = RoundSchedule {
                    slot,
                    closes_at,
                    reminders_done: 0,
                };
                self.inner
                    .store
                    .run(move |s| s.open_round_scheduled(&id, round, mode, now, Some(schedule)))
                    .await?;
                info!(survey = %survey.id, round, "round opened");
                self.inner.contact_now.notify_one();
                Ok(format!("{} {round}", survey.id))
            }
            Action::Remind { round, reminder } => {
                // Recorded before they go out: a crash skips a reminder, never sends it twice.
                let (id, done) = (survey.id.clone(), reminder.saturating_add(1));
                self.inner
                    .store
                    .run(move |s| s.note_reminders(&id, round, done))
                    .await?;
                let max = if manual {
                    MAX_MANUAL_REMINDERS
                } else {
                    u32::from(reminder) + 1
                };
                let sent = self.remind_round(survey, round, max).await?;
                info!(survey = %survey.id, round, sent, "reminders queued");
                Ok(sent.to_string())
            }
            Action::Close { round } => {
                let report = self.close_round(survey, round).await?;
                Ok(report)
            }
        }
    }

    /// Closes a round: answers refused from now, drafts kept as partial responses, the polls
    /// of unfinished participants ended and a thank-you to those who answered anything.
    async fn close_round(&self, survey: &Arc<Survey>, round: u32) -> anyhow::Result<String> {
        let now = self.now();
        let participants = self.inner.store.run(|s| s.participants()).await?;
        // `"redact"` mode: everyone's job is written before the round closes.
        self.redact_at_close(&participants, &survey.id, round, now)
            .await?;
        let dms: BTreeMap<String, (String, crate::lang::Lang)> = participants
            .into_iter()
            .filter_map(|e| Some((e.user_id.clone(), (e.dm_room.clone()?, e.lang))))
            .collect();
        let (sv, id) = (survey.clone(), survey.id.clone());
        let report = self
            .inner
            .store
            .run(move |s| {
                s.close_round_with(&id, round, now, |user, state| {
                    let Some((room, lang)) = dms.get(user) else {
                        return Vec::new();
                    };
                    let r = Round::new(&sv, *lang);
                    let mut out = conversation::to_outbounds(&conversation::close(state, &r), room);
                    for (i, m) in out.iter_mut().enumerate() {
                        m.txn_id = Some(
                            crate::matrix::send::txn_id(
                                "close",
                                &format!("{}/{round}/{user}/{i}", sv.id),
                            )
                            .to_string(),
                        );
                    }
                    out
                })
            })
            .await?;
        info!(
            survey = %survey.id,
            round,
            partial = report.partial_moved,
            empty = report.empty_removed,
            "round closed"
        );
        self.inner.sender.wake();
        let (store, sv, now) = (
            self.inner.store.blocking_store().clone(),
            survey.clone(),
            self.now(),
        );
        let distributions = self.inner.config.privacy.distributions;
        let kept = tokio::task::spawn_blocking(move || {
            crate::services::export::keep_aggregate(&store, &sv, round, distributions, now)
        })
        .await?;
        if let Err(e) = kept {
            warn!(survey = %survey.id, round, error = %e, "aggregate not kept at close");
        }
        if survey.post_summary
            && let Err(e) = self.post_summary(survey, round).await
        {
            warn!(survey = %survey.id, round, error = %format!("{e:#}"), "summary not posted");
        }
        Ok(format!(
            "{} {round}: {} partial",
            survey.id, report.partial_moved
        ))
    }

    /// Posts the round's aggregate summary (suppressed below the minimum group size, audited)
    /// in the survey's pilot rooms, at most once per room and round.
    async fn post_summary(&self, survey: &Arc<Survey>, round: u32) -> anyhow::Result<()> {
        let (store, sv, lang, now) = (
            self.inner.store.blocking_store().clone(),
            survey.clone(),
            self.lang(),
            self.now(),
        );
        let distributions = self.inner.config.privacy.distributions;
        let text = tokio::task::spawn_blocking(move || {
            crate::services::export::round_summary(
                &store,
                &sv,
                round,
                lang,
                distributions,
                "bot",
                now,
            )
        })
        .await??;
        for id in self.pilot_room_ids(survey) {
            if !self.port().is_joined(&id) {
                continue;
            }
            let cause = format!("{}/{round}/{id}", survey.id);
            self.port()
                .send_text_once(
                    &id,
                    &text,
                    super::port::Once {
                        purpose: "summary",
                        cause: &cause,
                    },
                )
                .await?;
            info!(survey = %survey.id, round, room = %id, "summary posted");
        }
        Ok(())
    }

    /// Queues a reminder for everyone in the round who has not finished; returns how many.
    async fn remind_round(
        &self,
        survey: &Arc<Survey>,
        round: u32,
        max: u32,
    ) -> anyhow::Result<u64> {
        let participants = self.inner.store.run(|s| s.participants()).await?;
        let mut sent = 0;
        for e in participants {
            let waiting = e.consent == ConsentState::Yes
                && e.round(&survey.id, round).is_some_and(|r| {
                    matches!(r.status, RoundStatus::Invited | RoundStatus::Started)
                });
            let Some(room) = e.dm_room.clone().filter(|_| waiting) else {
                continue;
            };
            let (sv, u) = (survey.clone(), e.user_id.clone());
            let deadline = self.round_view(survey, round, e.lang).await?.deadline;
            let lang = e.lang;
            let done = self
                .inner
                .store
                .run(move |s| {
                    let Some(state) = s.conversation(&u, &sv.id, round)? else {
                        return Ok(None);
                    };
                    let mut r = Round::new(&sv, lang);
                    r.deadline = deadline.clone();
                    let msgs = conversation::remind(&state, &r);
                    if msgs.is_empty() {
                        return Ok(None);
                    }
                    s.remind(
                        &u,
                        &sv.id,
                        round,
                        max,
                        &conversation::to_outbounds(&msgs, &room),
                    )
                })
                .await?;
            if done.is_some() {
                sent += 1;
            }
        }
        self.inner.sender.wake();
        Ok(sent)
    }

    /// Brings one audience member to where the open round wants them: first contact if
    /// never asked, the round's first question if consented and not yet started.
    pub(super) async fn start_for(
        &self,
        survey: &Arc<Survey>,
        round: u32,
        user: &UserId,
    ) -> anyhow::Result<Contacted> {
        let u = user.to_string();
        let entry = self.inner.store.run(move |s| s.participant(&u)).await?;
        let consent = entry.as_ref().map_or(ConsentState::Unknown, |e| {
            if e.erased {
                ConsentState::No
            } else {
                e.consent
            }
        });
        match consent {
            ConsentState::No | ConsentState::Asked => Ok(Contacted::No),
            ConsentState::Unknown => {
                let known: Option<OwnedRoomId> = entry
                    .as_ref()
                    .and_then(|e| e.dm_room.as_deref())
                    .and_then(|r| OwnedRoomId::try_from(r).ok());
                let room = self
                    .port()
                    .ensure_dm(
                        user,
                        known.as_deref(),
                        self.inner.config.privacy.dm_retention(),
                    )
                    .await?;
                let lang = survey.default_lang;
                let msgs = conversation::first_contact(&self.inner.config.notice, lang);
                let room_id = room.to_string();
                let out = conversation::to_outbounds(&msgs, &room_id);
                let (u, now) = (user.to_string(), self.now());
                let first = self
                    .inner
                    .store
                    .run(move |s| s.first_contact(&u, &room_id, lang, &out, now))
                    .await?;
                self.remember_dm(room.clone(), user.to_owned());
                if first {
                    debug!(room = %room, "first contact queued");
                    self.inner.sender.wake();
                    return Ok(Contacted::FirstContact);
                }
                Ok(Contacted::No)
            }
            ConsentState::Yes => {
                let Some(entry) = entry else {
                    return Ok(Contacted::No);
                };
                if entry.round(&survey.id, round).is_some() {
                    return Ok(Contacted::No);
                }
                // One survey at a time per participant; the next starts when this one ends.
                if self.active_round(&entry).await?.is_some() {
                    return Ok(Contacted::No);
                }
                // `min_gap`: nobody is asked twice within it, across surveys; who may not
                // join this round is simply not invited to it.
                if !self.gap_allows(survey, round, &entry).await? {
                    return Ok(Contacted::No);
                }
                let known = entry
                    .dm_room
                    .as_deref()
                    .and_then(|r| OwnedRoomId::try_from(r).ok());
                let room = self
                    .port()
                    .ensure_dm(
                        user,
                        known.as_deref(),
                        self.inner.config.privacy.dm_retention(),
                    )
                    .await?;
                let room_id = room.to_string();
                let (_, msgs) =
                    conversation::start(&self.round_view(survey, round, entry.lang).await?);
                let out = conversation::to_outbounds(&msgs, &room_id);
                let (u, sid, r2) = (user.to_string(), survey.id.clone(), room_id.clone());
                let started = self
                    .inner
                    .store
                    .run(move |s| {
                        s.update_participant(&u, |e| e.dm_room = Some(r2.clone()))?;
                        s.start_round(&u, &sid, round, &out)
                    })
                    .await?;
                self.remember_dm(room, user.to_owned());
                if started.is_some() {
                    debug!(survey = %survey.id, round, room = %room_id, "round started for a participant");
                    self.inner.sender.wake();
                    return Ok(Contacted::Started);
                }
                Ok(Contacted::No)
            }
        }
    }

    /// Whether `entry` may be invited to `round` of `survey` under the survey's `min_gap`:
    /// the participant's latest round of another survey opened at least `min_gap` before
    /// this round did. Rounds they declined by `stopp` count too (they were asked).
    async fn gap_allows(
        &self,
        survey: &Survey,
        round: u32,
        entry: &crate::model::LedgerEntry,
    ) -> anyhow::Result<bool> {
        let rounds = self.inner.store.run(|s| s.rounds()).await?;
        let opened = |sid: &str, n: u32| {
            rounds
                .iter()
                .find(|r| r.survey_id == sid && r.round == n)
                .map(|r| r.opened_at)
        };
        let Some(this) = opened(&survey.id, round) else {
            return Ok(true);
        };
        let last_other = entry
            .rounds
            .iter()
            .filter(|r| r.survey_id != survey.id)
            .filter_map(|r| opened(&r.survey_id, r.round))
            .filter(|t| *t <= this)
            .max();
        Ok(survey.schedule.participant_may_join(last_other, this))
    }

    /// Contacts the whole audience of every open round (idempotent; see the module docs).
    pub(super) async fn reconcile(&self) -> anyhow::Result<()> {
        let rounds = self.inner.store.run(|s| s.rounds()).await?;
        // Kept current here (every tick), not only when someone asks for the status.
        self.inner.metrics.rounds_open.store(
            rounds.iter().filter(|r| r.closed_at.is_none()).count() as u64,
            Ordering::Relaxed,
        );
        for info in rounds
            .into_iter()
            .filter(|r| r.closed_at.is_none() && r.label.is_none())
        {
            let Some(survey) = self.survey(&info.survey_id) else {
                continue;
            };
            let audience = self.audience(&survey).await;
            let (id, n, count) = (survey.id.clone(), info.round, audience.len() as u64);
            self.inner
                .store
                .run(move |s| s.note_audience(&id, n, count))
                .await?;
            let (mut first, mut started, mut failed) = (0u64, 0u64, 0u64);
            for user in audience {
                if self.inner.cancel.is_cancelled() {
                    return Ok(());
                }
                match self.start_for(&survey, info.round, &user).await {
                    Ok(Contacted::FirstContact) => first += 1,
                    Ok(Contacted::Started) => started += 1,
                    Ok(Contacted::No) => {}
                    Err(e) => {
                        debug!(error = %format!("{e:#}"), "could not reach a participant");
                        failed += 1;
                    }
                }
            }
            // Counts, never who: the log says what a tick did without a per-person line.
            if first + started > 0 {
                info!(survey = %survey.id, round = info.round, first_contacts = first, rounds_started = started, "participants contacted");
            }
            if failed > 0 {
                warn!(survey = %survey.id, failed, "some participants could not be reached; retried on the next tick");
            }
        }
        Ok(())
    }

    /// One scheduler step: due opens, reminders and closes of every survey, then contacts.
    pub(super) async fn tick(&self) -> anyhow::Result<()> {
        let now = self.now();
        for survey in self.inner.surveys.clone() {
            let history = self.history(&survey.id).await?;
            for action in schedule::due(&survey.schedule, &history, now) {
                self.act(&survey, action, false).await?;
            }
        }
        // Raw answers of rounds closed longer ago than the retention period go; the
        // aggregates kept at close stay. Audited by the store.
        let days = self.inner.config.privacy.retention_days;
        let report = self
            .inner
            .store
            .run(move |s| s.apply_retention(now, days))
            .await?;
        if !report.rounds.is_empty() {
            info!(
                rounds = report.rounds.len(),
                "retention: raw answers of old rounds deleted"
            );
        }
        self.reconcile().await
    }

    /// `!pulse start|remind|close SURVEY`: the reply text.
    pub(super) async fn admin_round_command(
        &self,
        cmd: &crate::admin::AdminCommand,
    ) -> anyhow::Result<String> {
        use crate::admin::AdminCommand as C;
        let lang = self.lang();
        let (id, kind) = match cmd {
            C::Start(id) => (id, "start"),
            C::Remind(id) => (id, "remind"),
            C::Close(id) => (id, "close"),
            _ => return Ok(String::new()),
        };
        let ids: Vec<String> = self.inner.surveys.iter().map(|s| s.id.clone()).collect();
        let Some(survey) = self.survey(id) else {
            return Ok(crate::admin::unknown_survey(id, &ids, lang));
        };
        let history = self.history(&survey.id).await?;
        let now = self.now();
        let open = history
            .rounds
            .iter()
            .rev()
            .find(|r| r.closed_at.is_none())
            .map(|r| r.number);
        Ok(match (kind, open) {
            ("start", _) => match schedule::start_manually(&survey.schedule, &history, now) {
                Ok(action) => {
                    let Action::Open {
                        round, closes_at, ..
                    } = action
                    else {
                        return Ok(String::new());
                    };
                    self.act(&survey, action, true).await?;
                    let closes =
                        crate::dates::weekday_date_time(closes_at, &survey.schedule.timezone, lang);
                    lang.pick(
                        &format!("Runde {round} von `{}` ist offen bis {closes}. Die Teilnehmenden werden jetzt angeschrieben.", survey.id),
                        &format!("Round {round} of `{}` is open until {closes}. Participants are being contacted now.", survey.id),
                    ).to_owned()
                }
                Err(e) => lang
                    .pick(
                        &format!("Nicht gestartet: {e}"),
                        &format!("Not started: {e}"),
                    )
                    .to_owned(),
            },
            (_, None) => lang
                .pick(
                    &format!("`{}` hat keine offene Runde.", survey.id),
                    &format!("`{}` has no open round.", survey.id),
                )
                .to_owned(),
            ("remind", Some(round)) => {
                if !survey.schedule.allowed(now) {
                    return Ok(lang.pick(
                        "Erinnerungen gehen nur in der Arbeitszeit hinaus (siehe Umfragedatei); nichts gesendet.",
                        "Reminders go out in working hours only (see the survey file); nothing sent.",
                    ).to_owned());
                }
                let sent = self
                    .remind_round(&survey, round, MAX_MANUAL_REMINDERS)
                    .await?;
                lang.pick(
                    &format!(
                        "{sent} Erinnerung(en) für Runde {round} von `{}` verschickt.",
                        survey.id
                    ),
                    &format!(
                        "{sent} reminder(s) queued for round {round} of `{}`.",
                        survey.id
                    ),
                )
                .to_owned()
            }
            (_, Some(round)) => {
                self.act(&survey, Action::Close { round }, true).await?;
                lang.pick(
                    &format!("Runde {round} von `{}` ist geschlossen.", survey.id),
                    &format!("Round {round} of `{}` is closed.", survey.id),
                )
                .to_owned()
            }
        })
    }

    /// Per-round counts for `status` (never names).
    pub(super) async fn round_counts(
        &self,
    ) -> anyhow::Result<(u64, Vec<RoundCounts>, Vec<crate::admin::NextRound>)> {
        let (participants, rounds) = self
            .inner
            .store
            .run(|s| Ok((s.participants()?, s.rounds()?)))
            .await?;
        let now = self.now();
        let next = self
            .inner
            .surveys
            .iter()
            .map(|s| crate::admin::NextRound {
                survey: s.id.clone(),
                next: crate::admin::next_round(&s.schedule, &s.id, &rounds, now),
            })
            .collect();
        let (consented, counts) = crate::admin::round_counts(&participants, &rounds);
        Ok((consented, counts, next))
    }
}
