//! The sync loop: low latency, nothing skipped, position saved only after handling.
//!
//! `Client::sync` pauses about a second between requests; this loop calls `sync_once` back to
//! back instead (~60 ms from send to handler on loopback). It asks for a large timeline per room
//! and, when the server still marks a timeline `limited` (more events arrived than fit, e.g. while
//! the bot was down), pages back with `/messages` to the previous position so no event is missed.
//! The position is pulsebot's own: it is written only after every event before it was handled,
//! so a crash at any point replays events rather than losing them (handlers are idempotent).

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::ruma::{OwnedRoomId, UInt};
use matrix_sdk::{Client, Room};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, debug_span, info, warn};

/// At most this many `/messages` pages are fetched to fill one limited timeline.
const MAX_BACKFILL_PAGES: usize = 100;
/// Events per `/messages` page.
const BACKFILL_PAGE: u32 = 100;
/// Waiting between failed syncs grows up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the sync loop hands to the bot.
pub trait SyncHandler: Send + Sync {
    /// The events of one joined room, oldest first, gaps already filled.
    ///
    /// `Err` means "not handled, try again": the position is not saved and the same events
    /// come again after a pause. Handlers must therefore be idempotent.
    fn room_events(
        &self,
        room: Room,
        events: Vec<TimelineEvent>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// The bot was invited into a room.
    fn invited(&self, room: Room) -> impl Future<Output = ()> + Send;
    /// The bot left or was removed from a room.
    fn left(&self, room: Room) -> impl Future<Output = ()> + Send;
    /// One sync response was handled: how long the request and the handling took.
    fn batch_handled(&self, _timing: &BatchTiming) {}
}

/// Where one sync batch spent its time (for metrics and the round benchmark).
#[derive(Debug, Clone, Copy)]
pub struct BatchTiming {
    /// The `/sync` request, including the SDK's processing and decryption of the response.
    pub request: Duration,
    /// Handing the events to the handler and saving the position.
    pub handling: Duration,
    /// Timeline events handed over.
    pub events: usize,
}

/// Where the sync position is kept between runs (pulsebot's store, encrypted).
pub trait SyncPosition: Send + Sync {
    /// The saved position, if any.
    fn load(&self) -> impl Future<Output = anyhow::Result<Option<String>>> + Send;
    /// Saves the position durably; called only after everything before it was handled.
    fn save(&self, token: &str) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Tuning of the loop.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Timeline events per room per sync.
    pub timeline_limit: u32,
    /// Long-poll timeout.
    pub timeout: Duration,
    /// Least time between the starts of two requests.
    pub min_interval: Duration,
}

fn filter(limit: u32) -> Filter {
    let mut def = FilterDefinition::default();
    def.room.timeline.limit = Some(UInt::from(limit));
    // The bot reads no typing notices, receipts, per-room account data or presence. A
    // filter that blocks each of them entirely lets Synapse skip looking them up for all
    // joined rooms on every sync (it checks for exactly this); a bot is in hundreds.
    let all = vec!["*".to_owned()];
    def.room.ephemeral.not_types = all.clone();
    def.room.account_data.not_types = all.clone();
    def.presence.not_types = all;
    Filter::FilterDefinition(def)
}

/// Runs until `cancel` fires (returns `Ok`) or the session is no longer valid (returns `Err`).
pub async fn run<H: SyncHandler, P: SyncPosition>(
    client: &Client,
    opts: &SyncOptions,
    position: &P,
    handler: &H,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let mut token = position.load().await?;
    let mut backoff = Duration::from_millis(500);
    // The first request must not long-poll: after a restore it would otherwise wait up to
    // the full timeout before the bot handles what arrived while it was down.
    let mut timeout = Duration::ZERO;
    let mut last_request: Option<std::time::Instant> = None;
    loop {
        let mut settings = SyncSettings::default()
            .filter(filter(opts.timeline_limit))
            .timeout(timeout);
        if let Some(t) = &token {
            settings = settings.token(t.clone());
        }
        // While events flow, each response returns at once; spacing the requests lets one
        // request carry many events (the homeserver's cost per request barely depends on
        // how many it carries). Idle long-polls are not delayed.
        if let Some(last) = last_request
            && !opts.min_interval.is_zero()
        {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until((last + opts.min_interval).into()) => {}
            }
        }
        let requested = std::time::Instant::now();
        last_request = Some(requested);
        let result = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = client.sync_once(settings) => r,
        };
        let request = requested.elapsed();
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                if let Some(ErrorKind::UnknownToken(_)) = e.client_api_error_kind() {
                    return Err(e).context(
                        "the homeserver no longer accepts the bot's session (logged out?); \
                         delete session.json in the data directory to log in again",
                    );
                }
                warn!(error = %e, retry_in = ?backoff, "sync failed; retrying");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if backoff > Duration::from_millis(500) {
            info!("homeserver reachable again");
        }
        backoff = Duration::from_millis(500);
        timeout = opts.timeout;

        let handling = std::time::Instant::now();
        match handle_response(client, &response, token.as_deref(), handler).await {
            Ok(events) => {
                position.save(&response.next_batch).await?;
                token = Some(response.next_batch);
                handler.batch_handled(&BatchTiming {
                    request,
                    handling: handling.elapsed(),
                    events,
                });
            }
            Err(e) => {
                // Not saving the position means the same events come again: nothing is lost.
                warn!(error = %format!("{e:#}"), retry_in = ?backoff, "handling failed; will sync the same events again");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        if cancel.is_cancelled() {
            return Ok(());
        }
    }
}

async fn handle_response<H: SyncHandler>(
    client: &Client,
    response: &matrix_sdk::sync::SyncResponse,
    since: Option<&str>,
    handler: &H,
) -> anyhow::Result<usize> {
    for room_id in response.rooms.left.keys() {
        if let Some(room) = client.get_room(room_id) {
            handler.left(room).await;
        }
    }
    for room_id in response.rooms.invited.keys() {
        if let Some(room) = client.get_room(room_id) {
            handler.invited(room).await;
        }
    }
    // Rooms are independent, so they are handled concurrently; within a room, in order.
    let jobs = response.rooms.joined.iter().map(|(room_id, update)| {
        // The room id (maybe a participant's DM) only at debug level.
        let span = debug_span!("room", room = %room_id);
        async move {
            let Some(room) = client.get_room(room_id) else {
                return anyhow::Ok(0);
            };
            let mut events = Vec::new();
            if update.timeline.limited
                && let (Some(prev), Some(since)) = (&update.timeline.prev_batch, since)
            {
                events = backfill(&room, prev, since).await?;
            }
            events.extend(update.timeline.events.iter().cloned());
            let n = events.len();
            if n > 0 {
                handler.room_events(room, events).await?;
            }
            Ok(n)
        }
        .instrument(span)
    });
    let mut handled = 0;
    for result in futures_util::future::join_all(jobs).await {
        handled += result?;
    }
    Ok(handled)
}

/// Fetches the events between the previous sync position and the start of a limited timeline.
async fn backfill(
    room: &Room,
    prev_batch: &str,
    since: &str,
) -> anyhow::Result<Vec<TimelineEvent>> {
    let room_id: OwnedRoomId = room.room_id().to_owned();
    let mut from = prev_batch.to_string();
    let mut out = Vec::new();
    for page in 0..MAX_BACKFILL_PAGES {
        let mut opts = MessagesOptions::backward().from(from.as_str());
        opts.to = Some(since.to_string());
        opts.limit = UInt::from(BACKFILL_PAGE);
        let messages = room
            .messages(opts)
            .await
            .with_context(|| format!("cannot page back in {room_id}"))?;
        let n = messages.chunk.len();
        out.extend(messages.chunk);
        match messages.end {
            Some(end) if n > 0 => from = end,
            _ => break,
        }
        if page + 1 == MAX_BACKFILL_PAGES {
            warn!(
                fetched = out.len(),
                "gap too large; older events of this gap are skipped"
            );
        }
    }
    debug!(fetched = out.len(), "filled a limited timeline");
    out.reverse();
    Ok(out)
}
