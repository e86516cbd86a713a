//! `pulsebot bench-round`: the participant's round under load, measured against the
//! homeserver it runs on (issue 5's benchmark). Build with `--release`.
//!
//! On this kind of machine the homeserver, not the bot, is the bottleneck, so the bot's
//! throughput is printed next to what plain clients get out of the same Synapse in the same
//! run. The bot runs as its own process (its peak RSS is its own); its time per answer comes
//! from its metrics endpoint. Figures are printed, never asserted.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};

use crate::sim::{Homeserver, SimUser};

const WAIT: Duration = Duration::from_secs(300);

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Participants in the throughput round.
    pub participants: usize,
    /// Questions per round.
    pub questions: usize,
    /// Participants in the latency round.
    pub latency_participants: usize,
}

fn step(msg: &str) {
    println!("==> {msg}");
}

fn likert_survey(id: &str, audience: &str, n: usize) -> String {
    let mut s = format!(
        "id = \"{id}\"\ntitle = {{ de = \"Benchmark\", en = \"Benchmark\" }}\n\
         intro = {{ de = \"Benchmark.\", en = \"Benchmark.\" }}\naudience = [\"{audience}\"]\n\n\
         [schedule]\nquiet_hours = false\nworking_days = [\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\", \"saturday\", \"sunday\"]\n"
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
}

impl BotChild {
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
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

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
}

/// Everyone consents and answers each question as soon as it arrives; returns the time
/// from each answer sent to the next question's arrival.
async fn answer_round(
    p: Arc<SimUser>,
    bot: OwnedUserId,
    dm: OwnedRoomId,
    questions: usize,
) -> anyhow::Result<Vec<Duration>> {
    // Earlier rounds asked the same numbers: only what arrives from now on counts.
    let since = Instant::now();
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

/// Runs the benchmark in `dir` (emptied first).
pub async fn run(dir: &Path, opts: &BenchOptions) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir.join("surveys"))?;
    let dir = dir.canonicalize()?;
    step("starting a local Synapse on 127.0.0.1");
    let hs = Homeserver::start(&dir.join("synapse"))?;
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
    println!("    {baseline:.1} events/s");

    step("pilot rooms and the bot");
    pilot_room(&admin, "bench", &bot_id, &users[..opts.participants]).await?;
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
    std::fs::write(
        dir.join("surveys/latency.toml"),
        likert_survey("latency", "#bench-small:localhost", opts.questions),
    )?;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[matrix]\nhomeserver = \"{}\"\nuser = \"{bot_id}\"\n\n[bot]\nadmins = [\"{}\"]\n\
             pilot_rooms = [\"#bench:localhost\", \"#bench-small:localhost\"]\n\n[store]\npath = \"store\"\n\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n[notice]\nde = \"Benchmark.\"\nen = \"Benchmark.\"\n",
            hs.url, admin.user_id
        ),
    )?;
    let log = std::fs::File::create(dir.join("bot.log"))?;
    let child = Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("run")
        .env("PULSEBOT_PASSWORD", &bot_password)
        .env(
            "PULSEBOT_STORE_PASSPHRASE",
            "benchmark passphrase, not secret",
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("cannot start the bot")?;
    let mut bot = BotChild {
        child,
        metrics: format!("127.0.0.1:{metrics_port}"),
    };
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
    let command = |text: &'static str| {
        let (admin, room) = (&admin, control.room_id().to_owned());
        async move {
            let ev = admin.send_text(&room, text).await?;
            admin.wait_for_reply(&ev, WAIT).await
        }
    };

    step("warm-up round: DMs, notices and consent for everyone");
    let t = Instant::now();
    command("!pulse start warmup").await?;
    let dms: Vec<OwnedRoomId> = bounded(
        users[..opts.participants].iter().map(|u| {
            let (u, bot) = (u.clone(), bot_id.clone());
            async move {
                let poll = u
                    .wait_for(WAIT, |m| {
                        m.sender == bot
                            && m.poll
                                .as_ref()
                                .is_some_and(|a| a.iter().any(|(id, _)| id == "consent.yes"))
                    })
                    .await?;
                u.send_text(&poll.room_id, "ja").await?;
                answer_round(u, bot, poll.room_id.clone(), 1).await?;
                Ok(poll.room_id)
            }
        }),
        opts.participants,
    )
    .await?;
    command("!pulse close warmup").await?;
    println!("    {:.1} s", t.elapsed().as_secs_f64());

    step(&format!(
        "throughput: {} participants answer a {}-question round as fast as questions arrive",
        opts.participants, opts.questions
    ));
    let t = Instant::now();
    command("!pulse start round").await?;
    bounded(
        users[..opts.participants]
            .iter()
            .zip(&dms)
            .map(|(u, dm)| answer_round(u.clone(), bot_id.clone(), dm.clone(), q)),
        opts.participants,
    )
    .await?;
    let elapsed = t.elapsed();
    let throughput = events as f64 / elapsed.as_secs_f64();
    command("!pulse close round").await?;
    let scraped = bot.scrape().await?;
    let p50 = metric(
        &scraped,
        "pulsebot_answer_handling_seconds{quantile=\"0.5\"} ",
    );
    let p99 = metric(
        &scraped,
        "pulsebot_answer_handling_seconds{quantile=\"0.99\"} ",
    );

    step(&format!(
        "latency: {} participants, a {}-question round",
        opts.latency_participants, opts.questions
    ));
    command("!pulse start latency").await?;
    let lat: Vec<Vec<Duration>> = bounded(
        users[..opts.latency_participants]
            .iter()
            .zip(&dms)
            .map(|(u, dm)| answer_round(u.clone(), bot_id.clone(), dm.clone(), q)),
        opts.latency_participants,
    )
    .await?;
    command("!pulse close latency").await?;
    let mut lat: Vec<Duration> = lat.into_iter().flatten().collect();
    lat.sort();
    let rss = bot.peak_rss_kib();
    drop(bot);
    // The clients stop syncing before their homeserver goes away.
    drop(users);
    drop(admin);
    hs.stop();

    println!();
    println!(
        "pulsebot round benchmark ({} participants, {} questions; Synapse on 127.0.0.1)",
        opts.participants, opts.questions
    );
    println!(
        "  plain clients, same Synapse:       {baseline:.1} events/s ({events} encrypted messages)"
    );
    println!(
        "  round throughput:                  {throughput:.1} answers/s ({events} answers in {:.1} s) = {:.2} of plain (target >= 0.7)",
        elapsed.as_secs_f64(),
        throughput / baseline
    );
    match (p50, p99) {
        (Some(a), Some(b)) => println!(
            "  bot time per answer (event in -> next question out): p50 {:.2} ms, p99 {:.2} ms (target p99 <= 20 ms)",
            a * 1000.0,
            b * 1000.0
        ),
        _ => println!("  bot time per answer: not reported by the metrics endpoint"),
    }
    println!(
        "  participant latency, answer -> next question ({} participants, {} samples): p50 {:.0} ms, p99 {:.0} ms (target p99 <= 1000 ms)",
        opts.latency_participants,
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    match rss {
        Some(kib) => println!(
            "  bot peak RSS: {:.1} MiB (target <= 200 MiB)",
            kib as f64 / 1024.0
        ),
        None => println!("  bot peak RSS: unavailable (no /proc)"),
    }
    if lat.is_empty() {
        bail!("no latency samples");
    }
    Ok(())
}
