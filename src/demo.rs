//! `pulsebot demo`: the whole bot against a local Synapse, with a scripted admin and members.
//!
//! Every run starts from scratch in its working folder (fresh homeserver, fresh store), so a
//! second run behaves like the first. It prints what happens and the measured latency of
//! `!pulse status`, and fails unless the bot answered every command in an encrypted room.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::ruma::api::client::room::create_room;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SecretOverrides};
use crate::sim::{Homeserver, SimUser};

const PARTICIPANTS: usize = 3;
const STATUS_ROUNDS: usize = 20;
const WAIT: Duration = Duration::from_secs(30);

fn step(msg: &str) {
    println!("==> {msg}");
}

/// Runs the demo in `dir`.
pub async fn run(dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    step("starting a local Synapse on 127.0.0.1 (installs it on the first run)");
    let hs = Homeserver::start(&dir.join("synapse"))?;

    step("registering the bot, an admin and simulated pilot participants");
    let bot_password = format!("bot-{}", crate::sim::random_suffix());
    let bot_id = hs.register("pulsebot", &bot_password, false).await?;
    let admin = SimUser::register(&hs, "it-admin").await?;
    let mut members = Vec::new();
    for _ in 0..PARTICIPANTS {
        members.push(SimUser::register(&hs, "staff").await?);
    }

    step("the admin creates an encrypted admin room and a pilot room, and invites the bot");
    let admin_room = admin
        .create_encrypted_room("pulsebot admin", &[&bot_id])
        .await?;
    let mut invite: Vec<_> = members.iter().map(|m| &*m.user_id).collect();
    invite.push(&bot_id);
    let alias_local = format!("pilot-{}", crate::sim::random_suffix());
    let pilot_alias = format!("#{alias_local}:localhost");
    let mut req = create_room::v3::Request::new();
    req.name = Some("BundesMessenger-Pilot".into());
    req.room_alias_name = Some(alias_local);
    req.invite = invite.iter().map(|u| (*u).to_owned()).collect();
    let pilot = admin.client.create_room(req).await?;
    for m in &members {
        m.client.join_room_by_id(pilot.room_id()).await?;
    }

    let store = dir.join("store");
    if store.exists() {
        std::fs::remove_dir_all(&store)?;
    }
    let config_path = dir.join("config.toml");
    let config_text = format!(
        r#"# Written by `pulsebot demo`; secrets come from the environment of the demo process.
[matrix]
homeserver = "{hs}"
user = "{bot_id}"

[bot]
admins = ["{admin}"]
admin_room = "{admin_room}"
pilot_rooms = ["{pilot}"]

[store]
path = "store"

[surveys]
dir = "{surveys}"
"#,
        surveys = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("surveys")
            .display(),
        hs = hs.url,
        admin = admin.user_id,
        admin_room = admin_room.room_id(),
        pilot = pilot_alias,
    );
    std::fs::write(&config_path, config_text)?;
    let secrets = SecretOverrides {
        password: Some(crate::config::Secret::new(bot_password)),
        passphrase: Some(crate::config::Secret::new(format!(
            "demo-passphrase-{}",
            crate::sim::random_suffix()
        ))),
    };
    let config = Config::load_with(&config_path, &secrets)?;

    step("starting pulsebot");
    let cancel = CancellationToken::new();
    let bot = tokio::spawn(crate::bot::run(config, cancel.clone()));
    admin
        .wait_for_join(admin_room.room_id(), &bot_id, WAIT)
        .await
        .context("the bot did not join the admin room")?;
    admin
        .wait_for_join(pilot.room_id(), &bot_id, WAIT)
        .await
        .context("the bot did not join the pilot room")?;
    println!("    bot joined the admin room and the pilot room ({pilot_alias})");

    step(&format!(
        "the admin sends `!pulse status` {STATUS_ROUNDS} times"
    ));
    let mut latencies = Vec::new();
    let mut last = None;
    for _ in 0..STATUS_ROUNDS {
        let t0 = Instant::now();
        let ev = admin
            .send_text(admin_room.room_id(), "!pulse status")
            .await?;
        let reply = admin.wait_for_reply(&ev, WAIT).await?;
        if !reply.encrypted {
            bail!("the bot's reply was not end-to-end encrypted");
        }
        latencies.push(reply.at.saturating_duration_since(t0));
        last = Some(reply);
    }
    let reply = last.context("no reply")?;
    println!("    the bot's (encrypted) reply:");
    for line in reply.body.lines() {
        println!("    | {line}");
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "    latency send → reply over {} commands: median {:.0} ms, max {:.0} ms",
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() - 1])
    );

    step("stopping");
    cancel.cancel();
    bot.await.context("bot task")??;
    drop(members);
    drop(admin);
    hs.stop();
    println!(
        "demo finished in {:.0} s: the bot answered every command, encrypted.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
