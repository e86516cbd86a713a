//! The running bot: takes the data-directory lock, connects, syncs, routes what arrives.
//!
//! One [`CancellationToken`] stops everything: the sync loop ends cooperatively, join tasks
//! are tracked and given a bounded time to finish, then the store is released.
//!
//! Edge: the bot reaches Matrix only through its [`port::MatrixPort`] (implemented over a
//! matrix-sdk client in `matrix/port.rs`, and by an in-memory fake in the fast tests), and the
//! disk only through the store.
//!
//! # Layout
//! - this file: start-up, rooms the config names, invites, admin commands, routing.
//! - `port`: what the bot asks of the homeserver (send, DMs, members, upload, ...).
//! - `directory`: the room directory: configured rooms, DMs, joins under way.
//! - `participant`: events in participants' direct chats → the conversation → the store.
//! - `rounds`: audience, opening/reminding/closing rounds, the scheduler tick, status counts.
//! - `outbox`: the sender that delivers queued messages at most once.
//! - `pace`: every send waits its turn at `[matrix] max_send_rate`, fair across rooms.
//! - `history`: the chat history: redacting answers in the DMs (`[privacy] chat_history`).
//! - `fake` (tests only): the in-memory port, and the fast tier's tests in `tests`.

mod directory;
#[cfg(test)]
mod fake;
mod history;
mod outbox;
mod pace;
mod participant;
pub mod port;
mod report;
mod rounds;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use matrix_sdk::Room;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::{
    EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, RoomOrAliasId, UserId,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, debug_span, info, info_span, warn};

use crate::admin::{self, AdminCommand};
use crate::config::Config;
use crate::matrix::events::{Inbound, classify};
use crate::matrix::port::ClientPort;
use crate::matrix::session::{self, DataDirLock};
use crate::matrix::sync::{self, SyncHandler, SyncOptions, SyncPosition};
use crate::store::{AsyncStore, Passphrase};
use crate::survey::{self, Survey};

/// A poisoned lock only means another task panicked mid-update of plain maps; the data is
/// still consistent enough to use.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The name under which the sync position is kept in the store's bot state.
const SYNC_POSITION: &str = "sync_position";

/// How long joins may take to finish after shutdown was requested.
const DRAIN: Duration = Duration::from_secs(2);
/// Joins are retried this many times, with doubling pauses up to [`MAX_JOIN_BACKOFF`].
const JOIN_ATTEMPTS: u32 = 8;
const MAX_JOIN_BACKOFF: Duration = Duration::from_secs(60);

struct Inner {
    config: Config,
    port: Arc<dyn port::MatrixPort>,
    started: Instant,
    metrics: Arc<crate::metrics::Metrics>,
    /// Wakes the scheduler tick (a round opened, someone joined a pilot room).
    contact_now: tokio::sync::Notify,
    /// Undecryptable DM events waiting for their keys (at most [`MAX_UTD`]).
    utd: Mutex<Vec<participant::PendingUtd>>,
    /// Replies per participant (hints, `meine daten`, "closed") and per room (refusals).
    replies: Mutex<crate::throttle::Throttle>,
    /// Admin command events already taken up by this process, newest last (a replayed
    /// batch runs no command twice).
    commands_seen: Mutex<std::collections::VecDeque<OwnedEventId>>,
    /// The sender's workers, slots and wake-up.
    sender: outbox::Sender,
    /// The queue of DMs whose messages are to be redacted.
    history: history::Redactor,
    /// Set while a tick runs, so ticks never overlap.
    ticking: AtomicBool,
    options: RunOptions,
    /// Configured rooms, DMs and joins under way.
    directory: directory::Directory,
    tasks: TaskTracker,
    cancel: CancellationToken,
    store: AsyncStore,
    surveys: Vec<Arc<Survey>>,
}

/// A cheap-clone handle on the running bot.
#[derive(Clone)]
pub struct Bot {
    inner: Arc<Inner>,
}

/// How the bot runs besides its config: the clock and how often the scheduler looks at it.
#[derive(Clone)]
pub struct RunOptions {
    /// Where the time comes from.
    pub clock: Arc<dyn crate::clock::Clock>,
    /// How often the scheduler looks at the clock when nothing woke it.
    pub tick: Duration,
    /// The counters the bot fills (shared with the metrics endpoint and benchmarks).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            clock: Arc::new(crate::clock::SystemClock),
            tick: TICK,
            metrics: Arc::default(),
        }
    }
}

/// Runs the bot until `cancel` fires.
pub async fn run(config: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    run_with(config, cancel, RunOptions::default()).await
}

/// Runs the bot with explicit [`RunOptions`] (tests of scheduled rounds move the clock).
pub async fn run_with(
    config: Config,
    cancel: CancellationToken,
    options: RunOptions,
) -> anyhow::Result<()> {
    // Every line of this run carries a random tag: operators tell runs apart and follow one
    // run's lines without the log naming a room or a person.
    let tag = format!("{:06x}", rand::random::<u32>() & 0x00ff_ffff);
    run_tagged(config, cancel, options)
        .instrument(info_span!("run", tag = %tag))
        .await
}

async fn run_tagged(
    config: Config,
    cancel: CancellationToken,
    options: RunOptions,
) -> anyhow::Result<()> {
    let surveys = load_surveys(&config)?;
    for w in config
        .warnings
        .iter()
        .cloned()
        .chain(config.chat_history_warnings(&surveys))
    {
        warn!("{w}");
    }
    let lock = DataDirLock::acquire(&config.store.path)?;
    info!(lock = %lock.path().display(), "data directory locked");
    // The store opens before the Matrix session: a wrong passphrase stops here, untouched.
    let passphrase = Passphrase::new(config.store.passphrase.expose())?;
    let store = AsyncStore::open(config.store.data_dir(), passphrase)
        .await
        .with_context(|| {
            format!(
                "cannot open the store in {}",
                config.store.data_dir().display()
            )
        })?;
    let rounds = store.run(|s| s.rounds()).await?;
    check_open_rounds(&rounds, &surveys, &config.surveys.dir)?;
    audit_config_changes(&store, &config, options.clock.now()).await?;
    let (client, first_start) = session::connect(&config).await?;
    let control = tokio::spawn({
        let (dir, store, cancel) = (config.store.path.clone(), store.clone(), cancel.clone());
        let defaults = config.survey_defaults();
        let clock = options.clock.clone();
        async move {
            if let Err(e) = crate::control::serve(&dir, store, defaults, clock, cancel).await {
                warn!(error = %format!("{e:#}"), "control socket unavailable; store check/backup need the bot stopped");
            }
        }
        .in_current_span()
    });

    if (first_start || config.matrix.password.is_some())
        && let Err(e) = session::bootstrap_cross_signing(&client, &config).await
    {
        warn!(error = %format!("{e:#}"), "cross-signing not set up; clients will show the bot's device as unverified");
    }
    if config.matrix.recovery {
        match session::ensure_recovery(&client, &config.store.path).await {
            Ok(session::RecoveryOutcome::Created(path)) => warn!(
                file = %path.display(),
                "recovery set up: the recovery key was written to this file; move it to safe \
                 keeping now (it restores the bot's identity with `pulsebot recover`, and \
                 whoever holds it with the account can read what the bot can)"
            ),
            Ok(session::RecoveryOutcome::ForeignSecretStorage) => info!(
                "the account's secret storage was set up by another client; the bot leaves it \
                 alone (no recovery key of its own)"
            ),
            Ok(session::RecoveryOutcome::Present) => {}
            Err(e) => {
                warn!(error = %format!("{e:#}"), "recovery not set up; a lost data directory would mean a new identity")
            }
        }
        let key = config.store.path.join(session::RECOVERY_KEY_FILE);
        if key.exists() {
            warn!(file = %key.display(), "the recovery key is still in the data directory: move it to safe keeping");
        }
    }

    let sync_opts = SyncOptions {
        timeline_limit: config.sync.timeline_limit,
        timeout: Duration::from_secs(config.sync.timeout_secs),
        min_interval: Duration::from_millis(config.sync.batch_ms),
    };
    let position = StorePosition(store.clone(), options.metrics.clone());
    if let Some(addr) = config.metrics.listen {
        let (metrics, cancel) = (options.metrics.clone(), cancel.clone());
        // Healthy while syncs come at least every long-poll timeout plus a margin.
        let healthy = Duration::from_secs(config.sync.timeout_secs * 2 + 30);
        tokio::spawn(
            async move {
                if let Err(e) = crate::metrics::serve(addr, metrics, healthy, cancel).await {
                    warn!(error = %format!("{e:#}"), "metrics endpoint unavailable");
                }
            }
            .in_current_span(),
        );
    }
    if let Err(e) = profile(&client, &store, &config).await {
        warn!(error = %format!("{e:#}"), "the bot's display name or avatar could not be set");
    }
    let look = crate::matrix::rooms::DmLook {
        name: config.bot.dm_name.clone(),
        topic: config.bot.dm_topic.clone(),
    };
    let port =
        Arc::new(ClientPort::new(client.clone(), config.matrix.device_trust)?.with_dm_look(look));
    let bot = Bot::new(config, port, store, surveys, options, cancel.clone());
    bot.resolve_aliases().await;
    bot.follow_known_upgrades();
    // Invites that arrived before a crash were already consumed by a saved sync position.
    for room in bot.port().invited_rooms() {
        bot.invited_room(&room).await;
    }
    if !bot.inner.config.notice_configured {
        warn!(
            "the data-protection notice names no responsible office or contact (a placeholder, or the example's Musterstadt): set [notice] controller and contact"
        );
    }
    bot.load_dm_rooms().await?;
    bot.spawn_background();
    info!("pulsebot running");
    let result = sync::run(&client, &sync_opts, &position, &bot, &cancel).await;
    cancel.cancel();
    bot.inner.tasks.close();
    if tokio::time::timeout(DRAIN, bot.inner.tasks.wait())
        .await
        .is_err()
    {
        warn!("some joins were still running at shutdown; they are retried on the next start");
    }
    let _ = control.await;
    bot.inner.store.run(|s| s.flush()).await?;
    drop(lock);
    info!("pulsebot stopped");
    result
}

/// The invalid survey files, named with every problem; the bot refuses to start with them.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid survey file(s) in {dir}; fix them or move them out (check with `pulsebot validate`):\n{report}"
)]
pub struct InvalidSurveys {
    /// The surveys folder.
    pub dir: String,
    /// Every problem, one per line.
    pub report: String,
}

/// The bot-state key of the hash of the avatar file last uploaded.
const AVATAR_SHA: &str = "profile/avatar_sha256";

/// Sets the bot's display name and avatar from `[bot]` when they differ from what the
/// homeserver has: a profile change is a member event in every room the bot is in, so it
/// is never repeated for nothing.
async fn profile(
    client: &matrix_sdk::Client,
    store: &AsyncStore,
    config: &Config,
) -> anyhow::Result<()> {
    let account = client.account();
    if let Some(name) = &config.bot.display_name
        && account.get_display_name().await?.as_deref() != Some(name.as_str())
    {
        account.set_display_name(Some(name)).await?;
        info!("display name set");
    }
    if let Some(path) = &config.bot.avatar {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the avatar {}", path.display()))?;
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let last = store
            .bot_state(AVATAR_SHA.to_string())
            .await?
            .and_then(|b| String::from_utf8(b).ok());
        if last.as_deref() != Some(sha.as_str()) {
            let png = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png"));
            let mime = if png {
                mime::IMAGE_PNG
            } else {
                mime::IMAGE_JPEG
            };
            account.upload_avatar(&mime, bytes).await?;
            store
                .set_bot_state(AVATAR_SHA.to_string(), sha.into_bytes())
                .await?;
            info!("avatar set");
        }
    }
    Ok(())
}

/// The bot-state key of the last minimum group size the bot ran with.
const LAST_MIN_GROUP_SIZE: &str = "config/min_group_size";

/// Writes a change of `[privacy] min_group_size` since the last start to the audit log (the
/// staff council's agreement fixes it; a lowered value must not go unnoticed).
async fn audit_config_changes(
    store: &AsyncStore,
    config: &Config,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let k = config.privacy.min_group_size;
    let file = config.source.display().to_string();
    store
        .run(move |s| {
            let last = s
                .bot_state(LAST_MIN_GROUP_SIZE)?
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|v| v.parse::<u32>().ok());
            if last != Some(k) {
                let detail = match last {
                    Some(old) => format!("min_group_size {old} -> {k} ({file})"),
                    None => format!("min_group_size {k} ({file})"),
                };
                s.audit(now, "config", "config.min_group_size", &detail)?;
                s.set_bot_state(LAST_MIN_GROUP_SIZE, k.to_string().as_bytes())?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// Open rounds whose survey file is gone: the bot refuses to start (a renamed or moved
/// file would otherwise silently stall every participant of the round).
#[derive(Debug, thiserror::Error)]
#[error(
    "open round(s) whose survey file is missing from {dir}: {rounds}. Put the file back \
     (same survey id) and start the bot; close the round then with `!pulse close <survey>` \
     if it should end"
)]
pub struct OrphanRounds {
    /// The surveys folder.
    pub dir: String,
    /// `survey round N`, comma-separated.
    pub rounds: String,
}

fn check_open_rounds(
    rounds: &[crate::model::RoundInfo],
    surveys: &[Survey],
    dir: &std::path::Path,
) -> Result<(), OrphanRounds> {
    let orphans: Vec<String> = rounds
        .iter()
        .filter(|r| r.closed_at.is_none() && r.label.is_none())
        .filter(|r| !surveys.iter().any(|s| s.id == r.survey_id))
        .map(|r| format!("`{}` round {}", r.survey_id, r.round))
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    Err(OrphanRounds {
        dir: dir.display().to_string(),
        rounds: orphans.join(", "),
    })
}

fn load_surveys(config: &Config) -> anyhow::Result<Vec<Survey>> {
    let dir = &config.surveys.dir;
    if !dir.is_dir() {
        warn!(dir = %dir.display(), "no surveys folder; the bot takes admin commands only");
        return Ok(Vec::new());
    }
    let (surveys, problems) = survey::load_dir(dir, &config.survey_defaults());
    if !problems.is_empty() {
        let report = problems
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(InvalidSurveys {
            dir: dir.display().to_string(),
            report,
        }
        .into());
    }
    info!(count = surveys.len(), "surveys loaded");
    Ok(surveys)
}

/// The sync position, kept encrypted in pulsebot's store.
struct StorePosition(AsyncStore, Arc<crate::metrics::Metrics>);

impl SyncPosition for StorePosition {
    async fn load(&self) -> anyhow::Result<Option<String>> {
        let raw = self.0.bot_state(SYNC_POSITION.to_string()).await?;
        Ok(raw.and_then(|b| String::from_utf8(b).ok()))
    }

    async fn save(&self, token: &str) -> anyhow::Result<()> {
        // Not fsynced: a position lost in a crash only replays events, and replays are
        // handled idempotently (event ids, derived transaction ids).
        let token = token.as_bytes().to_vec();
        self.0
            .run(move |s| s.set_bot_state_relaxed(SYNC_POSITION, &token))
            .await?;
        self.1.synced();
        Ok(())
    }
}

/// How often the scheduler looks at the clock when nothing woke it.
const TICK: Duration = Duration::from_secs(30);
/// How often undecryptable events are tried again.
const UTD_RETRY: Duration = Duration::from_secs(3);
/// Undecryptable events kept for a retry, at most, in all rooms and in one room: a room
/// that sends junk the bot cannot decrypt fills its own share, not the bot's memory.
const MAX_UTD: usize = 2000;
const MAX_UTD_PER_ROOM: usize = 20;
/// An admin command (with its reply or upload) runs off the sync path within this time.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Admin command events remembered against replays.
const COMMANDS_SEEN: usize = 1024;

impl Bot {
    /// A bot over `port` and `store`, not yet running: [`Bot::spawn_background`] starts the
    /// sender, the scheduler and the undecryptable-event retry; events come in through
    /// [`Bot::route`] (the sync loop, or a test).
    fn new(
        config: Config,
        port: Arc<dyn port::MatrixPort>,
        store: AsyncStore,
        surveys: Vec<Survey>,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> Bot {
        let directory =
            directory::Directory::new(&config.bot.pilot_rooms, config.bot.admin_room.as_ref());
        Bot {
            inner: Arc::new(Inner {
                // Every send waits for its turn at the configured rate (issue 17).
                port: Arc::new(pace::PacedPort::new(port, config.matrix.max_send_rate)),
                config,
                started: Instant::now(),
                metrics: options.metrics.clone(),
                contact_now: tokio::sync::Notify::new(),
                utd: Mutex::new(Vec::new()),
                replies: Mutex::new(crate::throttle::Throttle::default().with_cooldown()),
                commands_seen: Mutex::new(std::collections::VecDeque::new()),
                ticking: AtomicBool::new(false),
                sender: outbox::Sender::new(),
                history: history::Redactor::default(),
                options,
                directory,
                store,
                surveys: surveys.into_iter().map(Arc::new).collect(),
                tasks: TaskTracker::new(),
                cancel,
            }),
        }
    }

    /// The port to the homeserver.
    fn port(&self) -> &dyn port::MatrixPort {
        self.inner.port.as_ref()
    }

    /// The room directory.
    fn directory(&self) -> &directory::Directory {
        &self.inner.directory
    }

    /// The participant whose DM `room` is.
    fn dm_user(&self, room: &RoomId) -> Option<OwnedUserId> {
        self.directory().dm_user(room)
    }

    /// Whether `user` has joined their DM `room`. A join seen once is remembered until a
    /// membership change in the room says otherwise, so a running round does not query the
    /// SDK's state store (SQLite) before every question.
    async fn dm_joined(&self, room: &RoomId, user: &UserId) -> bool {
        if self.directory().dm_seen_joined(room) {
            return true;
        }
        let joined = self.port().membership(room, user).await == Some(MembershipState::Join);
        if joined {
            self.set_dm_joined(room, true);
        }
        joined
    }

    /// Records a membership change of a DM's participant (or the bot leaving the room).
    fn set_dm_joined(&self, room: &RoomId, joined: bool) {
        self.directory().set_dm_joined(room, joined);
    }

    fn remember_dm(&self, room: OwnedRoomId, user: OwnedUserId) {
        self.directory().remember_dm(room, user);
    }

    /// Fills the DM map from the ledger.
    async fn load_dm_rooms(&self) -> anyhow::Result<()> {
        let entries = self.inner.store.run(|s| s.participants()).await?;
        for e in entries {
            if let (Some(room), Ok(user)) = (
                e.dm_room.as_deref(),
                OwnedUserId::try_from(e.user_id.as_str()),
            ) && let Ok(room) = OwnedRoomId::try_from(room)
            {
                self.remember_dm(room, user);
            }
        }
        Ok(())
    }

    /// The sender, the scheduler tick and the undecryptable-event retry, as tracked tasks.
    fn spawn_background(&self) {
        let bot = self.clone();
        self.inner
            .tasks
            .spawn(async move { bot.sender_loop().await }.instrument(info_span!("sender")));
        let bot = self.clone();
        self.inner.tasks.spawn(
            async move { bot.redaction_loop().await }.instrument(info_span!("chat_history")),
        );
        let bot = self.clone();
        self.inner.tasks.spawn(
            async move {
                loop {
                    if !bot.inner.ticking.swap(true, Ordering::AcqRel) {
                        if let Err(e) = bot.tick().await {
                            warn!(error = %format!("{e:#}"), "scheduler step failed; retried on the next tick");
                        }
                        bot.inner.ticking.store(false, Ordering::Release);
                    }
                    tokio::select! {
                        _ = bot.inner.cancel.cancelled() => return,
                        _ = bot.inner.contact_now.notified() => {}
                        _ = tokio::time::sleep(bot.inner.options.tick) => {}
                    }
                }
            }
            .instrument(info_span!("scheduler")),
        );
        let bot = self.clone();
        self.inner.tasks.spawn(
            async move {
                loop {
                    tokio::select! {
                        _ = bot.inner.cancel.cancelled() => return,
                        _ = tokio::time::sleep(UTD_RETRY) => {}
                    }
                    bot.retry_undecryptable().await;
                }
            }
            .instrument(info_span!("undecryptable")),
        );
    }

    fn lang(&self) -> crate::lang::Lang {
        self.inner.config.bot.default_language
    }

    fn is_admin(&self, user: &UserId) -> bool {
        self.inner.config.bot.admins.iter().any(|a| a == user)
    }

    /// Whether `room` is a 1:1 chat of `user` with the bot, read from the room's member list
    /// as the homeserver has it. (The sync's summary counts were used before; the bot's sync
    /// does not fill them, so every room looked like a 1:1 chat and an admin's `!pulse status`
    /// was answered in a team room.)
    async fn is_one_to_one(&self, room: &RoomId, user: &UserId) -> bool {
        match self.port().joined_members(room).await {
            Ok(members) => {
                let own = self.port().own_user();
                members.len() == 2 && members.iter().any(|m| m == user) && members.contains(&own)
            }
            Err(e) => {
                // The error names the room, which may be a participant's DM: debug only.
                debug!(error = %format!("{e:#}"), "member list unavailable");
                warn!("members unknown; not treated as a 1:1 chat");
                false
            }
        }
    }

    /// Resolves configured aliases to room ids; unresolved ones are tried again later.
    async fn resolve_aliases(&self) {
        for configured in self.directory().unresolved() {
            let Ok(alias) = <&RoomOrAliasId>::try_from(configured.as_str()) else {
                continue;
            };
            let Ok(alias) = matrix_sdk::ruma::OwnedRoomAliasId::try_from(alias.as_str()) else {
                continue;
            };
            match self.port().resolve_alias(&alias).await {
                Ok(room_id) => self.directory().resolved(&configured, &room_id),
                Err(e) => warn!(alias = %configured, error = %e, "room alias not resolved yet"),
            }
        }
    }

    fn is_configured_room(&self, id: &RoomId) -> bool {
        let alias = self.port().canonical_alias(id);
        self.directory().is_configured(id, alias.as_deref())
    }

    fn spawn_join(&self, id: OwnedRoomId) {
        if !self.directory().start_joining(&id) {
            return;
        }
        let bot = self.clone();
        let cancel = self.inner.cancel.clone();
        let room = id.clone();
        self.inner.tasks.spawn(
            async move {
                let mut pause = Duration::from_secs(1);
                for attempt in 1..=JOIN_ATTEMPTS {
                    match bot.port().join(&room).await {
                        Ok(()) => {
                            info!("joined");
                            break;
                        }
                        Err(e) if attempt < JOIN_ATTEMPTS => {
                            warn!(attempt, error = %e, "join failed; retrying");
                            tokio::select! {
                                _ = cancel.cancelled() => break,
                                _ = tokio::time::sleep(pause) => {}
                            }
                            pause = (pause * 2).min(MAX_JOIN_BACKOFF);
                        }
                        Err(e) => warn!(error = %e, "join failed; giving up until the next invite"),
                    }
                }
                bot.directory().done_joining(&room);
                bot.resolve_aliases().await;
            }
            .instrument(debug_span!("join", room = %id)),
        );
    }

    async fn handle(&self, room: &RoomId, ev: Inbound) -> anyhow::Result<()> {
        match ev {
            Inbound::Undecryptable { device_id, .. } => {
                self.inner
                    .metrics
                    .undecryptable
                    .fetch_add(1, Ordering::Relaxed);
                debug!(
                    device = device_id.as_deref().unwrap_or("?"),
                    "undecryptable event"
                );
                warn!("undecryptable event in a configured room");
                Ok(())
            }
            Inbound::Text {
                event_id,
                sender,
                body,
            }
            | Inbound::Aside {
                event_id,
                sender,
                body,
            } => {
                if let Some(cmd) = admin::parse(&body) {
                    self.spawn_admin_command(room, event_id, sender, cmd);
                }
                Ok(())
            }
            Inbound::Tombstone { replacement, .. } => {
                self.follow_upgrade(room, &replacement);
                Ok(())
            }
            Inbound::PollResponse { .. }
            | Inbound::Membership { .. }
            | Inbound::Edit { .. }
            | Inbound::Redaction { .. } => Ok(()),
        }
    }

    /// Follows a configured room's upgrade to its successor (joined, and a configured room
    /// from now on); the old room stays one too.
    fn follow_upgrade(&self, old: &RoomId, new: &RoomId) {
        if self.directory().follow(old, new) {
            info!("a configured room was upgraded; following it to the new room");
            if !self.port().is_joined(new) {
                self.spawn_join(new.to_owned());
            }
        }
    }

    /// Follows upgrades of the configured rooms that happened while the bot was away (the
    /// tombstone is in the state it holds; chains of upgrades are followed, up to ten).
    fn follow_known_upgrades(&self) {
        for id in self.directory().configured_ids() {
            let mut current = id;
            for _ in 0..10 {
                let Some(next) = self.port().successor(&current) else {
                    break;
                };
                self.follow_upgrade(&current, &next);
                current = next;
            }
        }
    }

    /// Runs an admin command off the sync path: a slow upload, a refused reply or a long
    /// round close never holds up the events behind it. Each command event runs once per
    /// process; a failure or timeout is logged without ids and counted.
    fn spawn_admin_command(
        &self,
        room: &RoomId,
        event_id: OwnedEventId,
        sender: OwnedUserId,
        cmd: AdminCommand,
    ) {
        {
            let mut seen = lock(&self.inner.commands_seen);
            if seen.contains(&event_id) {
                debug!("admin command seen before; not run again");
                return;
            }
            seen.push_back(event_id.clone());
            while seen.len() > COMMANDS_SEEN {
                seen.pop_front();
            }
        }
        let (bot, room) = (self.clone(), room.to_owned());
        let name = cmd.name().to_owned();
        self.inner.tasks.spawn(
            async move {
                let run = bot.admin_command(&room, &event_id, &sender, cmd);
                let failed = match tokio::time::timeout(COMMAND_TIMEOUT, run).await {
                    Ok(Ok(())) => false,
                    Ok(Err(e)) => {
                        // The error may name the room: debug only.
                        debug!(error = %format!("{e:#}"), "admin command error");
                        warn!(
                            command = name,
                            "admin command failed (its reply may be missing)"
                        );
                        true
                    }
                    Err(_) => {
                        warn!(command = name, "admin command ran out of time");
                        true
                    }
                };
                if failed {
                    bot.inner
                        .metrics
                        .command_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            .instrument(info_span!("command")),
        );
    }

    /// Whether a room may get another refusal or wrong-room pointer now (a careless room
    /// full of `!pulse` gets a few, not one per message).
    fn room_may_get_pointer(&self, room: &RoomId) -> bool {
        let ok = lock(&self.inner.replies).take(&format!("room {room}"), Instant::now());
        if !ok {
            self.inner
                .metrics
                .replies_throttled
                .fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    async fn admin_command(
        &self,
        room: &RoomId,
        event_id: &EventId,
        sender: &OwnedUserId,
        cmd: AdminCommand,
    ) -> anyhow::Result<()> {
        let lang = self.lang();
        let to = |purpose| port::ReplyTo {
            event: event_id,
            sender,
            purpose,
        };
        if !self.is_admin(sender) {
            warn!(
                command = cmd.name(),
                "admin command refused: sender is not an admin"
            );
            if self.room_may_get_pointer(room) {
                self.port()
                    .reply_text(room, to("refuse"), admin::refusal(lang))
                    .await?;
            }
            return Ok(());
        }
        let in_admin_room = self.directory().is_admin_room(room);
        let in_dm = !self.directory().is_pilot(room) && self.is_one_to_one(room, sender).await;
        if !in_admin_room && !in_dm {
            if self.room_may_get_pointer(room) {
                self.port()
                    .reply_text(room, to("wrong-room"), admin::wrong_room(lang))
                    .await?;
            }
            return Ok(());
        }
        info!(command = cmd.name(), "admin command");
        let text = match &cmd {
            AdminCommand::Help => admin::help(lang),
            AdminCommand::Status => admin::render_status(&self.status().await, lang),
            AdminCommand::Start(_) | AdminCommand::Remind(_) | AdminCommand::Close(_) => {
                let actor = sender.to_string();
                let detail = format!(
                    "{} {}",
                    cmd.name(),
                    match &cmd {
                        AdminCommand::Start(id)
                        | AdminCommand::Remind(id)
                        | AdminCommand::Close(id) => id.as_str(),
                        _ => "",
                    }
                );
                let now = self.now();
                self.inner
                    .store
                    .run(move |s| s.audit(now, &actor, "admin.command", &detail))
                    .await?;
                self.admin_round_command(&cmd).await?
            }
            AdminCommand::Report { survey, format } => {
                match self.report(room, sender, survey, format.as_deref()).await {
                    Ok(None) => return Ok(()),
                    Ok(Some(text)) => text,
                    Err(e) => {
                        warn!(error = %format!("{e:#}"), "report failed");
                        lang.pick(
                            &format!("Der Bericht konnte nicht erstellt werden: {e}"),
                            &format!("The report could not be made: {e}"),
                        )
                        .to_owned()
                    }
                }
            }
            AdminCommand::MissingSurvey(name) => {
                let ids: Vec<String> = self.inner.surveys.iter().map(|s| s.id.clone()).collect();
                admin::missing_survey(name, &ids, lang)
            }
            AdminCommand::Unknown(word) => admin::unknown(word, lang),
        };
        self.port()
            .reply_text(room, to("admin-reply"), &text)
            .await?;
        Ok(())
    }

    async fn status(&self) -> admin::Status {
        let pilot = self.directory().pilot_rooms();
        let own = self.port().own_user();
        let mut pilot_rooms = Vec::new();
        for r in pilot {
            let joined = r.id.as_ref().filter(|id| self.port().is_joined(id));
            // Counted from the member state the bot holds (the summary counts are only sent
            // with lazy-loading); the bot itself is not a participant.
            let members = match joined {
                Some(id) => self
                    .port()
                    .known_joined_members(id)
                    .await
                    .iter()
                    .filter(|m| **m != own)
                    .count() as u64,
                None => 0,
            };
            pilot_rooms.push(admin::RoomStatus {
                name: r.configured.clone(),
                joined: joined.is_some(),
                members,
            });
        }
        let (consented, rounds, next_rounds) = match self.round_counts().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "round counts unavailable");
                (0, Vec::new(), Vec::new())
            }
        };
        admin::Status {
            version: env!("CARGO_PKG_VERSION"),
            uptime: self.inner.started.elapsed(),
            pilot_rooms,
            undecryptable: self.inner.metrics.undecryptable.load(Ordering::Relaxed),
            surveys: self.inner.surveys.iter().map(|s| s.id.clone()).collect(),
            next_rounds,
            consented,
            rounds,
            timezone: self.inner.config.bot.timezone.clone(),
        }
    }
}

impl SyncHandler for Bot {
    fn batch_handled(&self, t: &crate::matrix::sync::BatchTiming) {
        self.inner
            .metrics
            .record_batch(t.request, t.handling, t.events);
    }

    async fn room_events(&self, room: Room, events: Vec<TimelineEvent>) -> anyhow::Result<()> {
        let own = self.port().own_user();
        for event in &events {
            let Some(ev) = classify(event, &own) else {
                continue;
            };
            // Answers and commands only from trusted devices (matrix.device_trust). Redactions
            // are never encrypted and carry no device; the homeserver lets only their sender
            // (or a moderator, which a DM does not have) redact, so they are not checked.
            if matches!(
                ev,
                Inbound::Text { .. }
                    | Inbound::Aside { .. }
                    | Inbound::Edit { .. }
                    | Inbound::PollResponse { .. }
            ) && !crate::matrix::trust::admit(
                &room,
                event,
                self.inner.config.matrix.device_trust,
            )
            .await
            {
                self.inner.metrics.untrusted.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.route(room.room_id(), ev, Some(event.raw())).await?;
        }
        Ok(())
    }

    async fn invited(&self, room: Room) {
        self.invited_room(room.room_id()).await
    }

    async fn left(&self, room: Room) {
        let span = info_span!("left");
        async {
            info!("no longer in the room; forgetting it");
            self.set_dm_joined(room.room_id(), false);
            if self.dm_user(room.room_id()).is_some() {
                // Removed from a DM: nothing can go there any more; the next contact
                // opens a fresh one.
                self.directory().abandon(room.room_id());
                if let Err(e) = self.drop_queued(room.room_id()).await {
                    warn!(error = %format!("{e:#}"), "could not drop the room's queue");
                }
            }
            if let Err(e) = self.port().forget(room.room_id()).await {
                warn!(error = %e, "could not forget the room");
            }
        }
        .instrument(span)
        .await
    }
}

impl Bot {
    /// The router: one inbound event of `room` to the admin commands, the scheduler's
    /// audience or a participant's conversation. `raw` is the encrypted event, kept for a
    /// later decryption attempt when the event is undecryptable.
    async fn route(
        &self,
        room: &RoomId,
        ev: Inbound,
        raw: Option<&matrix_sdk::ruma::serde::Raw<matrix_sdk::ruma::events::AnySyncTimelineEvent>>,
    ) -> anyhow::Result<()> {
        let pilot = self.directory().is_pilot(room);
        let configured = pilot || self.directory().is_admin_room(room);
        if configured {
            if let Inbound::Membership {
                membership: MembershipState::Join,
                ..
            } = &ev
                && pilot
            {
                // A new pilot member is contacted if a round is open.
                self.inner.contact_now.notify_one();
            }
            return self.handle(room, ev).await;
        }
        // Admin commands work in a DM with an admin too.
        if let Inbound::Text {
            body,
            event_id,
            sender,
        }
        | Inbound::Aside {
            body,
            event_id,
            sender,
        } = &ev
            && let Some(cmd) = admin::parse(body)
        {
            self.spawn_admin_command(room, event_id.clone(), sender.clone(), cmd);
            return Ok(());
        }
        // Someone besides the participant joined their DM: it is no longer private.
        if let Inbound::Membership {
            user,
            membership: MembershipState::Join | MembershipState::Invite,
            ..
        } = &ev
            && let Some(participant) = self.dm_user(room)
            && *user != participant
            && *user != self.port().own_user()
        {
            self.spawn_leave_dm(room, participant);
            return Ok(());
        }
        match ev {
            Inbound::Undecryptable {
                event_id,
                sender,
                device_id,
            } => {
                self.inner
                    .metrics
                    .undecryptable
                    .fetch_add(1, Ordering::Relaxed);
                // The sending device names a participant's phone: debug only.
                debug!(
                    device = device_id.as_deref().unwrap_or("?"),
                    "undecryptable"
                );
                warn!("undecryptable event in a direct chat; keys requested, retrying");
                let Some(raw) = raw else {
                    return Ok(());
                };
                let timeout =
                    Duration::from_secs(self.inner.config.sync.undecryptable_timeout_secs);
                let mut pending = lock(&self.inner.utd);
                let in_room = pending.iter().filter(|p| p.room_id == room).count();
                if pending.len() >= MAX_UTD || in_room >= MAX_UTD_PER_ROOM {
                    self.inner
                        .metrics
                        .events_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    warn!("too many undecryptable events waiting; this one is not retried");
                    return Ok(());
                }
                if !pending.iter().any(|p| p.event_id == event_id) {
                    pending.push(participant::PendingUtd {
                        room_id: room.to_owned(),
                        event_id,
                        sender,
                        raw: raw.clone(),
                        give_up_at: Instant::now() + timeout,
                    });
                }
                Ok(())
            }
            ev => self.participant_event(room, ev).await,
        }
    }

    /// An invite: joined if it is a configured room or came from an admin, declined else.
    async fn invited_room(&self, room: &RoomId) {
        // Anyone may invite the bot into any room: the id only at debug level.
        let span = debug_span!("invite", room = %room);
        async {
            let inviter = self.port().inviter(room).await;
            let by_admin = inviter.as_deref().is_some_and(|i| self.is_admin(i));
            if !self.is_configured_room(room) && !by_admin {
                // Unresolved aliases may name this room: try once more before declining.
                self.resolve_aliases().await;
            }
            if self.is_configured_room(room) || by_admin {
                self.spawn_join(room.to_owned());
            } else {
                info!("declining invite: not a configured room and not from an admin");
                if let Err(e) = self.port().leave(room).await {
                    warn!(error = %e, "could not decline the invite");
                }
            }
        }
        .instrument(span)
        .await
    }
}
