//! `pulsebot-sim bench-round`: the participant's round under load, measured against the
//! homeserver it runs on (issue 5's benchmark). Build with `--release`.
//!
//! On this kind of machine the homeserver, not the bot, is the bottleneck, so the bot's
//! throughput is printed next to what plain clients get out of the same Synapse in the same
//! run. The bot runs as its own process (its peak RSS is its own); its time per answer comes
//! from its metrics endpoint. Figures are printed, never asserted.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};

use crate::sim::{Homeserver, SimUser};

mod ping;
mod rooms;

const WAIT: Duration = Duration::from_secs(300);

/// Messages of the plain user with the bot idle.
const PINGS: usize = 100;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Participants in the throughput round.
    pub participants: usize,
    /// Questions per round.
    pub questions: usize,
    /// Participants in the latency round.
    pub latency_participants: usize,
    /// How long participants take per question in the second latency round.
    pub think_ms: u64,
    /// The bot's `sync.batch_ms`, if not its default.
    pub sync_batch_ms: Option<u64>,
    /// The bot's `matrix.max_send_rate`, if not its default.
    pub max_send_rate: Option<f64>,
    /// Direct chats to add for the many-rooms figures (none: skipped).
    pub rooms: Option<usize>,
}

fn step(msg: &str) {
    println!("==> {msg}");
}

fn likert_survey(id: &str, audience: &str, n: usize) -> String {
    let mut s = format!(
        "id = \"{id}\"\ntitle = {{ de = \"Benchmark\", en = \"Benchmark\" }}\n\
         intro = {{ de = \"Benchmark.\", en = \"Benchmark.\" }}\naudience = [\"{audience}\"]\n\n\
         [schedule]\nmin_gap = \"0 days\"\nquiet_hours = false\nworking_days = [\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\", \"saturday\", \"sunday\"]\n"
    );
    for i in 1..=n {
        s.push_str(&format!(
            "\n[[blocks]]\ntype = \"likert\"\nid = \"q{i}\"\ntext = {{ de = \"Aussage {i}.\", en = \"Statement {i}.\" }}\n"
        ));
    }
    s
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn bounded<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    futures: impl IntoIterator<Item = F>,
    limit: usize,
) -> anyhow::Result<Vec<T>> {
    use futures_util::StreamExt;
    futures_util::stream::iter(futures)
        .buffered(limit)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

async fn pilot_room(
    admin: &SimUser,
    alias: &str,
    bot: &OwnedUserId,
    members: &[Arc<SimUser>],
) -> anyhow::Result<OwnedRoomId> {
    let mut request = create_room::v3::Request::new();
    request.room_alias_name = Some(alias.to_owned());
    request.invite = std::iter::once(bot.clone())
        .chain(members.iter().map(|m| m.user_id.clone()))
        .collect();
    request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    let room = admin.client.create_room(request).await?;
    for m in members {
        admin
            .wait_for_join(room.room_id(), &m.user_id, WAIT)
            .await?;
    }
    Ok(room.room_id().to_owned())
}

/// The bot as a child process.
struct BotChild {
    child: Child,
    metrics: String,
    /// When the process was started.
    started: Instant,
    /// Its log (for errors).
    log: std::path::PathBuf,
}

/// How the benchmark starts the bot (again, on the same data directory).
struct BotLauncher {
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    password: String,
    metrics: String,
}

impl BotLauncher {
    fn spawn(&self) -> anyhow::Result<BotChild> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(bot_binary()?)
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("PULSEBOT_PASSWORD", &self.password)
            .env(
                "PULSEBOT_STORE_PASSPHRASE",
                "benchmark passphrase, not secret",
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start the bot")?;
        Ok(BotChild {
            child,
            metrics: self.metrics.clone(),
            started: Instant::now(),
            log: self.log.clone(),
        })
    }
}

impl BotChild {
    /// A `/proc/PID/status` field in KiB.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// Waits until `/health` answers 200 (the bot handled its first sync); the time since
    /// the process started.
    async fn wait_healthy(&mut self) -> anyhow::Result<Duration> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(resp) =
                matrix_sdk::reqwest::get(format!("http://{}/health", self.metrics)).await
                && resp.status().is_success()
            {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the bot exited ({status}); its log is {}",
                    self.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("the bot did not sync within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the bot has nothing left to send (after a close, the polls still waiting
    /// get their end): an empty outbox and no message sent for a few seconds.
    async fn wait_idle(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let a = self.scrape().await?;
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let b = self.scrape().await?;
            let sent = |t: &str| metric(t, "pulsebot_messages_sent_total ");
            if metric(&b, "pulsebot_outbox_pending ") == Some(0.0) && sent(&a) == sent(&b) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the bot's outbox did not empty");
            }
        }
    }

    async fn scrape(&self) -> anyhow::Result<String> {
        Ok(
            matrix_sdk::reqwest::get(format!("http://{}/metrics", self.metrics))
                .await?
                .text()
                .await?,
        )
    }
}

impl Drop for BotChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) a process has used so far, from `/proc` (Linux's
/// `USER_HZ` is 100 on every architecture this runs on).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are space-separated.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU used by the homeserver, the bot and the simulated clients (this process).
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    synapse: f64,
    bot: f64,
    clients: f64,
}

impl Cpu {
    fn now(synapse: Option<u32>, bot: Option<u32>) -> Cpu {
        Cpu {
            synapse: synapse.and_then(cpu_secs).unwrap_or(0.0),
            bot: bot.and_then(cpu_secs).unwrap_or(0.0),
            clients: cpu_secs(std::process::id()).unwrap_or(0.0),
        }
    }

    fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            synapse: self.synapse - earlier.synapse,
            bot: self.bot - earlier.bot,
            clients: self.clients - earlier.clients,
        }
    }

    fn line(self, wall: Duration, per: usize) -> String {
        let w = wall.as_secs_f64().max(1e-9);
        let k = 1000.0 / per.max(1) as f64;
        format!(
            "Synapse {:.0} % of a core ({:.1} s per 1000), bot {:.0} % ({:.1} s), clients {:.0} % ({:.1} s)",
            100.0 * self.synapse / w,
            self.synapse * k,
            100.0 * self.bot / w,
            self.bot * k,
            100.0 * self.clients / w,
            self.clients * k
        )
    }
}

/// "p50 … ms, p99 … ms (n `what`)" of sorted durations, with `decimals` places.
fn p50_p99(sorted: &[Duration], decimals: usize, what: &str) -> String {
    format!(
        "p50 {:.decimals$} ms, p99 {:.decimals$} ms ({} {what})",
        ms(percentile(sorted, 0.5)),
        ms(percentile(sorted, 0.99)),
        sorted.len()
    )
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
}

/// One participant answers a round: each question, after `think`, as soon as it arrived
/// (only messages from `since` on count: earlier rounds asked the same numbers). Returns
/// the time from each answer sent to the next question's arrival.
async fn answer_round(
    p: Arc<SimUser>,
    bot: OwnedUserId,
    dm: OwnedRoomId,
    questions: usize,
    since: Instant,
    think: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    let mut sent_at: Option<Instant> = None;
    for i in 1..=questions {
        let needle = format!("Frage {i}/{questions}");
        let q = p
            .wait_for(WAIT, |m| {
                m.sender == bot && m.room_id == dm && m.at >= since && m.body.contains(&needle)
            })
            .await
            .with_context(|| format!("question {i} never came"))?;
        if let Some(t) = sent_at {
            latencies.push(q.at.saturating_duration_since(t));
        }
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
        sent_at = Some(Instant::now());
        p.send_text(&dm, &((i % 5) + 1).to_string()).await?;
    }
    p.wait_for(WAIT, |m| {
        m.sender == bot && m.room_id == dm && m.at >= since && m.body.contains("Danke")
    })
    .await
    .context("no thanks")?;
    Ok(latencies)
}

/// The least any bot costs the homeserver: a bare matrix-sdk client that answers every
/// message in its rooms at once with the next "question" as plain text, keeping nothing.
/// Returns the rooms it opened with `participants`, in their order.
async fn start_echo(
    echo: &SimUser,
    participants: &[Arc<SimUser>],
    questions: usize,
    sent: Sent,
) -> anyhow::Result<Vec<OwnedRoomId>> {
    use matrix_sdk::Room;
    use matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent;
    use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
    let rooms: Vec<OwnedRoomId> = bounded(
        participants.iter().map(|p| async move {
            let room = echo.create_encrypted_room("echo", &[&p.user_id]).await?;
            echo.wait_for_join(room.room_id(), &p.user_id, WAIT).await?;
            Ok(room.room_id().to_owned())
        }),
        8,
    )
    .await?;
    // Content is never read, so a message the echo cannot decrypt yet (its key still on the
    // way) is answered like any other: the echo costs the homeserver what a bot must, no more.
    let asked: Asked = Arc::default();
    let own = echo.user_id.clone();
    echo.client.add_event_handler({
        let (asked, own, sent) = (asked.clone(), own.clone(), sent.clone());
        move |ev: OriginalSyncRoomMessageEvent, room: Room| {
            echo_reply(
                asked.clone(),
                own.clone(),
                ev.sender,
                room,
                questions,
                sent.clone(),
            )
        }
    });
    echo.client
        .add_event_handler(move |ev: OriginalSyncRoomEncryptedEvent, room: Room| {
            echo_reply(
                asked.clone(),
                own.clone(),
                ev.sender,
                room,
                questions,
                sent.clone(),
            )
        });
    Ok(rooms)
}

/// One echo round: a fresh echo client `name` opens a room with each participant, asks
/// the first "question" and answers every answer at once; the participants answer after
/// `think`. Returns the time from the first question to the last participant's thanks, each
/// participant's latencies, and the events the echo sent per finished response.
async fn echo_round(
    hs: &Homeserver,
    name: &str,
    users: &[Arc<SimUser>],
    q: usize,
    think: Duration,
) -> anyhow::Result<(Duration, Vec<Vec<Duration>>, f64)> {
    let echo = SimUser::register(hs, name).await?;
    let sent: Sent = Arc::default();
    let rooms = start_echo(&echo, users, q, sent.clone()).await?;
    let since = Instant::now();
    let t = Instant::now();
    let kick_off = rooms.iter().map(|room| {
        let echo = &echo;
        let sent = sent.clone();
        async move {
            echo.send_text(room, &format!("Frage 1/{q}")).await?;
            sent.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    });
    let answering = bounded(
        users.iter().zip(&rooms).map(|(u, room)| {
            answer_round(
                u.clone(),
                echo.user_id.clone(),
                room.clone(),
                q,
                since,
                think,
            )
        }),
        users.len(),
    );
    let (kicked, answered) = tokio::join!(bounded(kick_off, users.len()), answering);
    kicked?;
    let latencies = answered?;
    let elapsed = t.elapsed();
    // Replies still under way (none should be: the thanks is the last) have a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_response = sent.load(Ordering::Relaxed) as f64 / users.len().max(1) as f64;
    Ok((elapsed, latencies, per_response))
}

/// Events the echo client sent (successful sends).
type Sent = Arc<std::sync::atomic::AtomicUsize>;

/// Questions the echo has asked per room.
type Asked = Arc<std::sync::Mutex<std::collections::HashMap<OwnedRoomId, usize>>>;

/// The echo's answer to one event from `sender`: the next question, or thanks after the last.
async fn echo_reply(
    asked: Asked,
    own: OwnedUserId,
    sender: OwnedUserId,
    room: matrix_sdk::Room,
    questions: usize,
    sent: Sent,
) {
    use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
    if sender == own {
        return;
    }
    let next = {
        let mut asked = asked.lock().unwrap_or_else(|p| p.into_inner());
        let n = asked.entry(room.room_id().to_owned()).or_insert(1);
        *n += 1;
        *n
    };
    let text = if next > questions {
        "Danke".to_owned()
    } else {
        format!("Frage {next}/{questions}")
    };
    // Retried with one transaction id, as a bot would: under load a send can time out.
    let txn = matrix_sdk::ruma::TransactionId::new();
    tokio::spawn(async move {
        for _ in 0..10 {
            let content = RoomMessageEventContent::text_plain(text.clone());
            if room
                .send(content)
                .with_transaction_id(txn.clone())
                .await
                .is_ok()
            {
                sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// The bot's sample counts (handling, stored) at the start of a phase.
async fn bot_counts(bot: &BotChild) -> anyhow::Result<(u64, u64)> {
    Ok((
        samples_since(bot, "/handling", 0).await?.0,
        samples_since(bot, "/stored", 0).await?.0,
    ))
}

/// The bot's samples (handling, stored) since the counts taken by [`bot_counts`].
async fn bot_samples(
    bot: &BotChild,
    (handling, stored): (u64, u64),
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    Ok((
        samples_since(bot, "/handling", handling).await?.1,
        samples_since(bot, "/stored", stored).await?.1,
    ))
}

/// Samples the bot recorded since `count_before` at `path` (`/handling`: answer in to next
/// question out; `/stored`: answer in to answer stored).
async fn samples_since(
    bot: &BotChild,
    path: &str,
    count_before: u64,
) -> anyhow::Result<(u64, Vec<Duration>)> {
    let text = matrix_sdk::reqwest::get(format!("http://{}{path}", bot.metrics))
        .await?
        .text()
        .await?;
    let mut lines = text.lines();
    let count: u64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .with_context(|| format!("no sample count from {path}"))?;
    let samples: Vec<u64> = lines.filter_map(|l| l.trim().parse().ok()).collect();
    let new = usize::try_from(count.saturating_sub(count_before))
        .unwrap_or(usize::MAX)
        .min(samples.len());
    let mut out: Vec<Duration> = samples[samples.len() - new..]
        .iter()
        .map(|us| Duration::from_micros(*us))
        .collect();
    out.sort();
    Ok((count, out))
}

/// Runs the benchmark in `dir` (emptied first).
pub async fn run(dir: &Path, opts: &BenchOptions) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir.join("surveys"))?;
    let dir = dir.canonicalize()?;
    step("starting a local Synapse on 127.0.0.1");
    let hs = Homeserver::start(&dir.join("synapse"))?;
    let synapse_pid: Option<u32> = std::fs::read_to_string(dir.join("synapse/server.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let bot_password = format!("bot-{}", crate::sim::random_suffix());
    let bot_id = hs.register("pulsebot", &bot_password, false).await?;
    let admin = SimUser::register(&hs, "admin").await?;
    let total = opts.participants.max(opts.latency_participants);
    step(&format!(
        "registering {total} participants (real e2ee clients)"
    ));
    let t = Instant::now();
    let hs_ref = &hs;
    let users: Vec<Arc<SimUser>> = bounded(
        (0..total).map(|_| async move {
            let u = SimUser::register(hs_ref, "p").await?;
            u.accept_invites();
            Ok(Arc::new(u))
        }),
        8,
    )
    .await?;
    println!("    {:.1} s", t.elapsed().as_secs_f64());

    // Baseline: the same clients send the same number of events, each into an encrypted
    // room of its own, as fast as the homeserver takes them.
    let events = opts.participants * opts.questions;
    step(&format!(
        "baseline: {} plain clients send {events} encrypted messages",
        opts.participants
    ));
    let rooms: Vec<OwnedRoomId> = bounded(
        users.iter().take(opts.participants).map(|u| async move {
            let mut request = create_room::v3::Request::new();
            request.initial_state = vec![
                InitialStateEvent::with_empty_state_key(
                    RoomEncryptionEventContent::with_recommended_defaults(),
                )
                .to_raw_any(),
            ];
            Ok(u.client.create_room(request).await?.room_id().to_owned())
        }),
        8,
    )
    .await?;
    let t = Instant::now();
    let cpu0 = Cpu::now(synapse_pid, None);
    let q = opts.questions;
    bounded(
        users.iter().zip(rooms).map(|(u, room)| async move {
            for i in 0..q {
                u.send_text(&room, &format!("{}", i % 5 + 1)).await?;
            }
            Ok(())
        }),
        opts.participants,
    )
    .await?;
    let baseline = events as f64 / t.elapsed().as_secs_f64();
    let baseline_cpu = Cpu::now(synapse_pid, None)
        .since(cpu0)
        .line(t.elapsed(), events);
    println!("    {baseline:.1} events/s");

    step("pilot rooms and the bot");
    let bench_room = pilot_room(&admin, "bench", &bot_id, &users[..opts.participants]).await?;
    pilot_room(
        &admin,
        "bench-small",
        &bot_id,
        &users[..opts.latency_participants],
    )
    .await?;
    std::fs::write(
        dir.join("surveys/warmup.toml"),
        likert_survey("warmup", "#bench:localhost", 1),
    )?;
    std::fs::write(
        dir.join("surveys/round.toml"),
        likert_survey("round", "#bench:localhost", opts.questions),
    )?;
    for id in ["latency", "latency-think"] {
        std::fs::write(
            dir.join(format!("surveys/{id}.toml")),
            likert_survey(id, "#bench-small:localhost", opts.questions),
        )?;
    }
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[matrix]\nhomeserver = \"{}\"\nuser = \"{bot_id}\"\n{}\n[bot]\nadmins = [\"{}\"]\n\
             pilot_rooms = [\"#bench:localhost\", \"#bench-small:localhost\"]\n\n[store]\npath = \"store\"\n\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n[notice]\nde = \"Benchmark.\"\nen = \"Benchmark.\"\n{}",
            hs.url,
            opts.max_send_rate
                .map(|r| format!("max_send_rate = {r:?}\n"))
                .unwrap_or_default(),
            admin.user_id,
            opts.sync_batch_ms
                .map(|ms| format!("\n[sync]\nbatch_ms = {ms}\n"))
                .unwrap_or_default()
        ),
    )?;
    let launcher = BotLauncher {
        config: dir.join("config.toml"),
        log: dir.join("bot.log"),
        password: bot_password.clone(),
        metrics: format!("127.0.0.1:{metrics_port}"),
    };
    let mut bot = launcher.spawn()?;
    let control = admin.create_encrypted_room("admin", &[&bot_id]).await?;
    let deadline = Instant::now() + WAIT;
    while admin
        .wait_for_join(control.room_id(), &bot_id, Duration::from_secs(1))
        .await
        .is_err()
    {
        if let Some(status) = bot.child.try_wait()? {
            bail!(
                "the bot exited ({status}); its log is {}",
                dir.join("bot.log").display()
            );
        }
        if Instant::now() > deadline {
            bail!("the bot did not join the admin room");
        }
    }
    let command = |text: String| {
        let (admin, room) = (&admin, control.room_id().to_owned());
        async move {
            let ev = admin.send_text(&room, &text).await?;
            admin.wait_for_reply(&ev, WAIT).await
        }
    };

    step("warm-up round: DMs, notices and consent for everyone");
    let t = Instant::now();
    command("!pulse start warmup".into()).await?;
    let dms: Vec<OwnedRoomId> = bounded(
        users[..opts.participants].iter().map(|u| {
            let (u, bot) = (u.clone(), bot_id.clone());
            async move {
                let since = Instant::now();
                let poll = u.wait_for_consent_poll(&bot, WAIT).await?;
                u.send_text(&poll.room_id, "ja").await?;
                answer_round(u, bot, poll.room_id.clone(), 1, since, Duration::ZERO).await?;
                Ok(poll.room_id)
            }
        }),
        opts.participants,
    )
    .await?;
    command("!pulse close warmup".into()).await?;
    bot.wait_idle().await?;
    println!("    {:.1} s", t.elapsed().as_secs_f64());
    let bot_pid = Some(bot.child.id());

    step(&format!(
        "echo: a bare client answers the same {} participants, {} questions each",
        opts.participants, opts.questions
    ));
    let cpu0 = Cpu::now(synapse_pid, bot_pid);
    let (echo_elapsed, _, echo_events) =
        echo_round(&hs, "echo", &users[..opts.participants], q, Duration::ZERO).await?;
    let echo_cpu_used = Cpu::now(synapse_pid, bot_pid).since(cpu0);
    let echo_cpu = echo_cpu_used.line(echo_elapsed, events);
    let echo_rate = events as f64 / echo_elapsed.as_secs_f64();
    println!("    {echo_rate:.1} answers/s");
    // The same latency rounds as the bot's below, held by the echo: what the homeserver
    // alone makes a participant wait.
    let mut echo_latency = Vec::new();
    for think in [Duration::ZERO, Duration::from_millis(opts.think_ms)] {
        step(&format!(
            "echo latency: {} participants, answering {} ms after each message",
            opts.latency_participants,
            think.as_millis()
        ));
        let name = format!("echo-lat{}", think.as_millis());
        let (_, lat, _) =
            echo_round(&hs, &name, &users[..opts.latency_participants], q, think).await?;
        let mut lat: Vec<Duration> = lat.into_iter().flatten().collect();
        lat.sort();
        echo_latency.push(lat);
    }

    step("a plain user's messages in a room of their own, the bot idle");
    let pingers = ping::Pingers::start(&hs).await?;
    bot.wait_idle().await?;
    let ping_idle = pingers.run(PINGS).await?;

    step(&format!(
        "throughput: {} participants answer a {}-question round as fast as questions arrive, \
         while the plain user chats on",
        opts.participants, opts.questions
    ));
    let before = bot.scrape().await?;
    let counts0 = bot_counts(&bot).await?;
    let since = Instant::now();
    let t = Instant::now();
    let cpu0 = Cpu::now(synapse_pid, bot_pid);
    // The plain user chats from the start command until every participant has their first
    // question: the round's start, when the bot sends the most at once.
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let all_started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let round = async {
        command("!pulse start round".into()).await?;
        bounded(
            users[..opts.participants].iter().zip(&dms).map(|(u, dm)| {
                let (started, all_started) = (started.clone(), all_started.clone());
                let (u, bot_id, dm) = (u.clone(), bot_id.clone(), dm.clone());
                let participants = opts.participants;
                async move {
                    u.wait_for(WAIT, |m| {
                        m.sender == bot_id
                            && m.room_id == dm
                            && m.at >= since
                            && m.body.contains("Frage 1/")
                    })
                    .await
                    .context("the first question never came")?;
                    if started.fetch_add(1, Ordering::Relaxed) + 1 == participants {
                        all_started.store(true, Ordering::Relaxed);
                    }
                    answer_round(u, bot_id, dm, q, since, Duration::ZERO).await
                }
            }),
            opts.participants,
        )
        .await
    };
    let (answered, ping_busy) =
        tokio::join!(round, pingers.run_until(all_started.clone(), 10 * PINGS));
    all_started.store(true, Ordering::Relaxed);
    answered?;
    let ping_busy = ping_busy?;
    let elapsed = t.elapsed();
    let round_cpu_used = Cpu::now(synapse_pid, bot_pid).since(cpu0);
    let round_cpu = round_cpu_used.line(elapsed, events);
    let throughput = events as f64 / elapsed.as_secs_f64();
    let scraped = bot.scrape().await?;
    let (round_handling, round_stored) = bot_samples(&bot, counts0).await?;
    let delta = |name: &str| Some(metric(&scraped, name)? - metric(&before, name)?);
    let syncs = delta("pulsebot_syncs_total ").unwrap_or(0.0);
    let sync_events = delta("pulsebot_sync_events_total ").unwrap_or(0.0);
    let sync_request = delta("pulsebot_sync_request_seconds_total ").unwrap_or(0.0);
    let sync_handling = delta("pulsebot_sync_handling_seconds_total ").unwrap_or(0.0);
    // Events per finished response (issue 17): what the bot sent in this round, its second
    // for every participant (the notice and consent went out in the warm-up), once nothing
    // more is on its way (a poll end after the thanks would count), per participant; every
    // one of them finished.
    bot.wait_idle().await?;
    let idle = bot.scrape().await?;
    let round_events = metric(&idle, "pulsebot_messages_sent_total ").unwrap_or(0.0)
        - metric(&before, "pulsebot_messages_sent_total ").unwrap_or(0.0);
    let events_per_response = round_events / opts.participants.max(1) as f64;
    command("!pulse close round".into()).await?;
    // Closing ends the polls still waiting (none here: everyone finished) and may post a
    // summary: let those go out before measuring.
    bot.wait_idle().await?;

    let mut latency = Vec::new();
    for (survey, think) in [
        ("latency", Duration::ZERO),
        ("latency-think", Duration::from_millis(opts.think_ms)),
    ] {
        step(&format!(
            "latency: {} participants, a {}-question round, answering {} ms after each question",
            opts.latency_participants,
            opts.questions,
            think.as_millis()
        ));
        let counts0 = bot_counts(&bot).await?;
        let since = Instant::now();
        command(format!("!pulse start {survey}")).await?;
        let lat: Vec<Vec<Duration>> = bounded(
            users[..opts.latency_participants]
                .iter()
                .zip(&dms)
                .map(|(u, dm)| {
                    answer_round(u.clone(), bot_id.clone(), dm.clone(), q, since, think)
                }),
            opts.latency_participants,
        )
        .await?;
        let (handling, stored) = bot_samples(&bot, counts0).await?;
        command(format!("!pulse close {survey}")).await?;
        bot.wait_idle().await?;
        let mut lat: Vec<Duration> = lat.into_iter().flatten().collect();
        lat.sort();
        latency.push((think, lat, handling, stored));
    }
    let rss = bot.peak_rss_kib();
    let room_figures = match opts.rooms {
        Some(added) => {
            step(&format!(
                "{added} more direct chats: the bot stopped, rooms added, started twice"
            ));
            // Pilot rooms, the admin room and a DM per participant.
            let before = 3 + opts.participants;
            let (figures, last) = rooms::measure(
                &hs,
                bot,
                || launcher.spawn(),
                rooms::Probe {
                    admin: &admin,
                    room: &bench_room,
                },
                &bot_password,
                before,
                added,
            )
            .await?;
            bot = last;
            Some(figures)
        }
        None => None,
    };
    drop(bot);
    drop(pingers);
    // The clients stop syncing before their homeserver goes away.
    drop(users);
    drop(admin);
    hs.stop();

    println!();
    println!(
        "pulsebot round benchmark ({} participants, {} questions, bot max_send_rate {}; Synapse on 127.0.0.1)",
        opts.participants,
        opts.questions,
        opts.max_send_rate
            .map_or_else(|| "10 (default)".to_owned(), |r| r.to_string())
    );
    println!(
        "  plain clients, same Synapse:       {baseline:.1} events/s ({events} encrypted messages, one per request)"
    );
    println!(
        "  echo client, same conversation:    {echo_rate:.1} answers/s (a bare client answering each message at once)"
    );
    println!(
        "  events per finished response: {events_per_response:.1} (bot events sent in a round after the participant's first, {q} questions; target <= {}); echo client: {echo_events:.1}",
        q + 3
    );
    println!(
        "  round throughput:                  {throughput:.1} answers/s ({events} answers in {:.1} s) = {:.2} of plain, {:.2} of echo (target >= 0.9 of echo)",
        elapsed.as_secs_f64(),
        throughput / baseline,
        throughput / echo_rate
    );
    let per_response = |c: Cpu| c.synapse / opts.participants.max(1) as f64;
    println!(
        "  homeserver CPU per finished response: {:.3} s; echo client: {:.3} s = {:.2} of echo (target <= 1.2)",
        per_response(round_cpu_used),
        per_response(echo_cpu_used),
        per_response(round_cpu_used) / per_response(echo_cpu_used).max(1e-9)
    );
    let seen = |v: &[Duration]| p50_p99(v, 0, "messages");
    println!(
        "  plain user's message latency, bot idle:          {}",
        seen(&ping_idle)
    );
    println!(
        "  plain user's message latency, round starting:    {} = {:.2} of idle at p99 (target <= 1.5; {} participants getting their first question)",
        seen(&ping_busy),
        ms(percentile(&ping_busy, 0.99)) / ms(percentile(&ping_idle, 0.99)).max(1e-9),
        opts.participants
    );
    println!("  CPU, plain clients:                {baseline_cpu}");
    println!("  CPU, echo:                         {echo_cpu}");
    println!("  CPU, round:                        {round_cpu}");
    println!(
        "  bot syncs in the round:            {syncs:.0} ({:.1} events each; {:.1} s in sync requests including long-poll waits, {:.1} s handling, of {:.1} s)",
        sync_events / syncs.max(1.0),
        sync_request,
        sync_handling,
        elapsed.as_secs_f64()
    );
    let quantiles = |v: &[Duration]| p50_p99(v, 2, "answers");
    println!(
        "  bot time per answer (event in -> next question out), throughput round: {} (target p99 <= 20 ms)",
        quantiles(&round_handling)
    );
    println!(
        "    of which storing the answer (counted, next question queued; one transaction): {}",
        quantiles(&round_stored)
    );
    for ((think, lat, handling, stored), echo_lat) in latency.iter().zip(&echo_latency) {
        println!(
            "  latency round, {} participants answering {} ms after each question:",
            opts.latency_participants,
            think.as_millis()
        );
        let seen = |v: &[Duration]| p50_p99(v, 0, "samples");
        println!(
            "    participant latency, answer -> next question: {}",
            seen(lat)
        );
        println!(
            "    the same with the echo client:                {} -> p99 {:.2} of echo (target <= 1.2)",
            seen(echo_lat),
            ms(percentile(lat, 0.99)) / ms(percentile(echo_lat, 0.99)).max(1e-9)
        );
        println!("    bot time per answer: {}", quantiles(handling));
        println!("      of which storing the answer: {}", quantiles(stored));
    }
    match rss {
        Some(kib) => println!(
            "  bot peak RSS: {:.1} MiB (target <= 200 MiB)",
            kib as f64 / 1024.0
        ),
        None => println!("  bot peak RSS: unavailable (no /proc)"),
    }
    if let Some(f) = room_figures {
        let mib = |k: Option<u64>| {
            k.map_or_else(
                || "unavailable".to_owned(),
                |k| format!("{:.1} MiB", k as f64 / 1024.0),
            )
        };
        println!(
            "  with {} more direct chats ({} rooms in all):",
            f.added,
            f.added + f.before
        );
        println!(
            "    start to the first sync handled: {:.2} s the first time it sees them, {:.2} s on a restart (target <= 5 s)",
            f.first_start.as_secs_f64(),
            f.restart.as_secs_f64()
        );
        println!(
            "    time per incremental sync: {:.2} ms with {} rooms, {:.2} ms with {} = {:.2}x (target <= 2x)",
            ms(f.per_sync_before),
            f.before,
            ms(f.per_sync_after),
            f.added + f.before,
            ms(f.per_sync_after) / ms(f.per_sync_before).max(1e-9)
        );
        println!(
            "    bot RSS after the restart: {}; peak of the first start: {} (target <= 200 MiB)",
            mib(f.rss_kib),
            mib(f.peak_first_kib)
        );
    }
    if latency.iter().any(|(_, lat, _, _)| lat.is_empty()) {
        bail!("no latency samples");
    }
    Ok(())
}

/// The `pulsebot` binary the benchmark runs: `$PULSEBOT_BIN`, else the one built beside this
/// executable (`cargo build --release --workspace` puts both in `target/release/`).
fn bot_binary() -> anyhow::Result<std::path::PathBuf> {
    if let Some(bin) = std::env::var_os("PULSEBOT_BIN") {
        return Ok(bin.into());
    }
    let here = std::env::current_exe()?;
    let bin = here.with_file_name("pulsebot");
    anyhow::ensure!(
        bin.is_file(),
        "no pulsebot binary at {}: build it with `cargo build --release --workspace` or set PULSEBOT_BIN",
        bin.display()
    );
    Ok(bin)
}
