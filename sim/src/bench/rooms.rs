//! The bot with many direct chats (issue 17, item 3): `bench-round --rooms N` adds N rooms
//! to the bot's account while it is stopped and measures what the room count costs it —
//! time from start to the first sync handled, time per incremental sync, memory.
//!
//! The rooms are set up cheaply, as the issue allows: created by a second device of the bot's
//! account over the client API, unencrypted, each a DM invitation to a user of its own who
//! never joins. For the bot each is a joined room its syncs carry like a participant's DM.
//!
//! Edges: the homeserver's HTTP API and the bot's metrics endpoint; the caller owns the bot.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::ruma::{OwnedUserId, RoomId};

use super::{BotChild, bounded, metric};
use crate::sim::{Homeserver, SimUser, random_suffix};

/// Messages the sync probe sends; each wakes the bot's sync once or a few times.
const PROBES: usize = 30;

/// What the room count did to the bot.
pub struct RoomFigures {
    /// Rooms the bot had joined before (pilot, admin and DM rooms of the round benchmark).
    pub before: usize,
    /// Rooms added.
    pub added: usize,
    /// Handling time per incremental sync with `before` rooms.
    pub per_sync_before: Duration,
    /// Start to the first sync handled, the first start that sees the added rooms.
    pub first_start: Duration,
    /// Start to the first sync handled, a restart with all rooms known.
    pub restart: Duration,
    /// Handling time per incremental sync with `before + added` rooms.
    pub per_sync_after: Duration,
    /// RSS after the restart and the probe, KiB.
    pub rss_kib: Option<u64>,
    /// Peak RSS of the first start with the added rooms, KiB.
    pub peak_first_kib: Option<u64>,
}

/// Handling time per sync while `admin` sends [`PROBES`] messages into `room`, a room the bot
/// is in but does not answer in (a pilot room).
async fn sync_probe(bot: &BotChild, admin: &SimUser, room: &RoomId) -> anyhow::Result<Duration> {
    let before = bot.scrape().await?;
    for i in 0..PROBES {
        admin.send_text(room, &format!("Probe {i}")).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = bot.scrape().await?;
    let delta = |name: &str| Some(metric(&after, name)? - metric(&before, name)?);
    let syncs = delta("pulsebot_syncs_total ").unwrap_or(0.0);
    let secs = delta("pulsebot_sync_handling_seconds_total ").unwrap_or(0.0);
    if syncs < 1.0 {
        bail!("the bot handled no sync during the probe");
    }
    Ok(Duration::from_secs_f64(secs / syncs))
}

/// Adds `added` DM rooms to the bot's account (bot stopped) through a second device of it.
async fn add_rooms(hs: &Homeserver, bot_password: &str, added: usize) -> anyhow::Result<()> {
    let suffix = random_suffix();
    let users: Vec<OwnedUserId> = bounded(
        (0..added).map(|i| {
            let localpart = format!("dm{i}-{suffix}");
            async move { hs.register(&localpart, "benchmark user", false).await }
        }),
        8,
    )
    .await?;
    let token = hs
        .access_token("pulsebot", bot_password, "BENCHSETUP")
        .await?;
    let http = matrix_sdk::reqwest::Client::new();
    let url = hs.url.join("_matrix/client/v3/createRoom")?;
    bounded(
        users.iter().map(|user| {
            let (http, url, token) = (&http, url.clone(), &token);
            async move {
                let body = serde_json::json!({
                    "preset": "trusted_private_chat",
                    "is_direct": true,
                    "invite": [user],
                });
                let resp = http
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&body)?)
                    .send()
                    .await?;
                let status = resp.status();
                if !status.is_success() {
                    bail!(
                        "createRoom: {status} {}",
                        resp.text().await.unwrap_or_default()
                    );
                }
                Ok(())
            }
        }),
        8,
    )
    .await?;
    Ok(())
}

/// Who sends the probe messages whose handling time is measured, and where.
#[derive(Clone, Copy)]
pub struct Probe<'a> {
    /// The sender (an admin of the pilot, so the bot reads the room).
    pub admin: &'a SimUser,
    /// The room the probe messages go into.
    pub room: &'a RoomId,
}

/// Measures the bot with `before` rooms, stops it, adds `added` rooms, starts it twice.
/// `spawn` starts a bot on the same data directory; returns the last bot started.
pub async fn measure(
    hs: &Homeserver,
    bot: BotChild,
    spawn: impl Fn() -> anyhow::Result<BotChild>,
    probe: Probe<'_>,
    bot_password: &str,
    before: usize,
    added: usize,
) -> anyhow::Result<(RoomFigures, BotChild)> {
    let Probe {
        admin,
        room: probe_room,
    } = probe;
    bot.wait_idle().await?;
    let per_sync_before = sync_probe(&bot, admin, probe_room).await?;
    drop(bot);
    let t = Instant::now();
    add_rooms(hs, bot_password, added)
        .await
        .context("setting up the rooms")?;
    println!(
        "    {added} rooms added in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut bot = spawn()?;
    let first_start = bot.wait_healthy().await?;
    bot.wait_idle().await?;
    let peak_first_kib = bot.peak_rss_kib();
    drop(bot);
    let mut bot = spawn()?;
    let restart = bot.wait_healthy().await?;
    bot.wait_idle().await?;
    let per_sync_after = sync_probe(&bot, admin, probe_room).await?;
    let rss_kib = bot.rss_kib();
    Ok((
        RoomFigures {
            before,
            added,
            per_sync_before,
            first_start,
            restart,
            per_sync_after,
            rss_kib,
            peak_first_kib,
        },
        bot,
    ))
}
