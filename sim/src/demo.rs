//! `pulsebot-sim demo`: a whole pilot round against a local Synapse, in about a minute.
//!
//! A fresh homeserver, the bot, an admin and twelve simulated participants (real matrix-sdk
//! clients with end-to-end encryption) in a pilot room. The admin starts a round of the
//! shipped `pilot-baseline` survey; the participants answer with seeded, varied answers —
//! one declines consent, one stops halfway — the admin closes the round, and the demo writes
//! the HTML report and prints its path and a Markdown summary. Every run starts from scratch
//! in its folder, so a second run behaves like the first. It fails unless the report holds
//! real (not suppressed) scores.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use tokio_util::sync::CancellationToken;

use crate::sim::{Behaviour, Homeserver, Respondent, SimUser};
use pulsebot::config::{Config, SecretOverrides};
use pulsebot::export::Format;
use pulsebot::lang::Lang;
use pulsebot::services::export::{ExportRequest, Rounds, export_file, round_summary};
use pulsebot::store::{Passphrase, Store};

const PARTICIPANTS: usize = 12;
const SURVEY: &str = "pilot-baseline";
const WAIT: Duration = Duration::from_secs(90);

fn step(msg: &str) {
    println!("==> {msg}");
}

/// The shipped surveys folder (next to the binary's sources, or `./surveys`).
fn shipped_surveys() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../surveys");
    if here.is_dir() {
        here
    } else {
        PathBuf::from("surveys")
    }
}

/// Runs the demo in `dir`.
pub async fn run(dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    for old in ["store", "surveys", "report"] {
        if dir.join(old).exists() {
            std::fs::remove_dir_all(dir.join(old))?;
        }
    }
    step("starting a local Synapse on 127.0.0.1 (installs it on the first run)");
    let hs = Homeserver::start(&dir.join("synapse"))?;

    step(&format!(
        "registering the bot, an admin and {PARTICIPANTS} simulated participants (real e2ee clients)"
    ));
    let bot_password = format!("bot-{}", crate::sim::random_suffix());
    let bot_id = hs.register("pulsebot", &bot_password, false).await?;
    let admin = SimUser::register(&hs, "it-admin").await?;
    let mut members = Vec::new();
    for _ in 0..PARTICIPANTS {
        let m = SimUser::register(&hs, "staff").await?;
        m.accept_invites();
        members.push(Arc::new(m));
    }

    step("the admin creates an encrypted admin room and the pilot room, and invites everyone");
    let admin_room = admin
        .create_encrypted_room("pulsebot admin", &[&bot_id])
        .await?;
    let alias_local = format!("pilot-{}", crate::sim::random_suffix());
    let pilot_alias = format!("#{alias_local}:localhost");
    let mut req = create_room::v3::Request::new();
    req.name = Some("BundesMessenger-Pilot".into());
    req.room_alias_name = Some(alias_local);
    req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    req.initial_state = vec![
        InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any(),
    ];
    req.invite = std::iter::once(bot_id.clone())
        .chain(members.iter().map(|m| m.user_id.clone()))
        .collect();
    let pilot = admin.client.create_room(req).await?;
    for m in &members {
        admin
            .wait_for_join(pilot.room_id(), &m.user_id, WAIT)
            .await?;
    }

    let surveys = dir.join("surveys");
    std::fs::create_dir_all(&surveys)?;
    let file = format!("{SURVEY}.toml");
    std::fs::copy(shipped_surveys().join(&file), surveys.join(&file))
        .with_context(|| format!("cannot copy surveys/{file}"))?;
    let config_path = dir.join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            "# Written by `pulsebot-sim demo`; secrets come from the demo process.\n\
             [matrix]\nhomeserver = \"{hs}\"\nuser = \"{bot_id}\"\n\n\
             [bot]\nadmins = [\"{admin}\"]\nadmin_room = \"{admin_room}\"\npilot_rooms = [\"{pilot_alias}\"]\n\n\
             [store]\npath = \"store\"\n\n[surveys]\ndir = \"surveys\"\n\n[metrics]\nlisten = \"off\"\n\n\
             [notice]\ncontroller = \"Demo-Stadt, Hauptamt, Am Markt 1\"\ncontact = \"Datenschutzbeauftragte der Demo-Stadt, datenschutz@demo-stadt.example\"\n",
            hs = hs.url,
            admin = admin.user_id,
            admin_room = admin_room.room_id(),
        ),
    )?;
    let passphrase = format!("demo-passphrase-{}", crate::sim::random_suffix());
    let secrets = SecretOverrides {
        password: Some(pulsebot::config::Secret::new(bot_password)),
        access_token: None,
        passphrase: Some(pulsebot::config::Secret::new(passphrase.clone())),
    };
    let config = Config::load_with(&config_path, &secrets)?;
    let survey = pulsebot::survey::load_file(&surveys.join(&file), &config.survey_defaults())
        .map_err(|d| {
            anyhow::anyhow!(
                "{}",
                d.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
    let data_dir = config.store.data_dir();
    let distributions = config.privacy.distributions;

    step("starting pulsebot");
    let cancel = CancellationToken::new();
    let bot = tokio::spawn(pulsebot::bot::run(config, cancel.clone()));
    admin
        .wait_for_join(admin_room.room_id(), &bot_id, WAIT)
        .await
        .context("the bot did not join the admin room")?;
    admin
        .wait_for_join(pilot.room_id(), &bot_id, WAIT)
        .await
        .context("the bot did not join the pilot room")?;

    let command = |text: String| {
        let (admin, room) = (&admin, admin_room.room_id().to_owned());
        async move {
            let ev = admin.send_text(&room, &text).await?;
            let reply = admin.wait_for_reply(&ev, WAIT).await?;
            println!("    bot: {}", reply.body.lines().next().unwrap_or(""));
            anyhow::Ok(reply)
        }
    };
    step(&format!(
        "the admin starts a round: `!pulse start {SURVEY}`"
    ));
    command(format!("!pulse start {SURVEY}")).await?;

    let questions = survey.questions().len();
    step(&format!(
        "{PARTICIPANTS} participants get the notice in a direct chat; 11 consent, 1 declines; \
         they answer {questions} questions each (one stops halfway)"
    ));
    let answered = Arc::new(AtomicUsize::new(0));
    let survey = Arc::new(survey);
    let tasks: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (m, bot, survey, answered) =
                (m.clone(), bot_id.clone(), survey.clone(), answered.clone());
            tokio::spawn(async move {
                let consent = m
                    .wait_for_consent_poll(&bot, WAIT)
                    .await
                    .context("no consent poll")?;
                let dm = consent.room_id.clone();
                if i == 0 {
                    m.send_text(&dm, "nein").await?;
                    return anyhow::Ok(0);
                }
                m.vote(&dm, &consent.event_id, &["consent.yes"]).await?;
                let behaviour = if i == 1 {
                    Behaviour::StopsAfter(questions / 2)
                } else {
                    Behaviour::Complete
                };
                let mut who = Respondent::new(i as u64);
                let n = who
                    .answer_round(&m, &bot, &dm, &survey, behaviour, WAIT)
                    .await?;
                answered.fetch_add(n, Ordering::Relaxed);
                anyhow::Ok(n)
            })
        })
        .collect();
    let all = futures_util::future::join_all(tasks);
    tokio::pin!(all);
    let results = loop {
        tokio::select! {
            r = &mut all => break r,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                let (mut asked, mut done) = (0, 0);
                for m in &members {
                    let inbox = m.inbox();
                    let from_bot = || inbox.iter().filter(|r| r.sender == bot_id);
                    asked += from_bot().filter(|r| r.body.starts_with("Frage ")).count();
                    done += usize::from(from_bot().any(|r| r.body.contains("Danke")));
                }
                println!(
                    "    … {asked} questions delivered, {done} of {} participants finished ({:.0} s)",
                    PARTICIPANTS - 2,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    };
    let mut finished = 0;
    for r in results {
        let n = r.context("participant task")??;
        if n == questions {
            finished += 1;
        }
    }
    println!(
        "    {finished} finished, {} answers in all",
        answered.load(Ordering::Relaxed)
    );

    // One participant's chat as they saw it on their phone (polls as their question and
    // choices; the taps on a poll are not messages, so they do not show).
    if let Some(m) = members.get(2) {
        step("the chat of one participant, as they saw it (taps on a poll are not messages)");
        let inbox = m.inbox();
        let dm = inbox
            .iter()
            .find(|r| r.sender == bot_id && r.poll.is_some())
            .map(|r| r.room_id.clone());
        for r in inbox.iter().filter(|r| Some(&r.room_id) == dm.as_ref()) {
            let who = if r.sender == bot_id { "Bot" } else { "Sie" };
            match &r.poll {
                Some(answers) => {
                    let question = r.body.lines().next().unwrap_or("");
                    let choices: Vec<&str> = answers.iter().map(|(_, t)| t.as_str()).collect();
                    println!("    {who}: [Auswahl] {question}");
                    println!("         ( {} )", choices.join(" | "));
                }
                None => {
                    for (i, line) in r.body.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                        let lead = if i == 0 {
                            format!("{who}:")
                        } else {
                            String::new()
                        };
                        println!("    {lead:<4} {line}");
                    }
                }
            }
        }
    }

    step("the admin checks the status and closes the round");
    let status = command("!pulse status".into()).await?;
    for line in status.body.lines().skip(1) {
        println!("    | {line}");
    }
    command(format!("!pulse close {SURVEY}")).await?;

    step("stopping the bot, writing the report");
    cancel.cancel();
    bot.await.context("bot task")??;
    let passphrase = Passphrase::new(passphrase)?;
    // Tasks still finishing a send may hold the store a moment after the bot returned.
    let deadline = Instant::now() + Duration::from_secs(15);
    let store = loop {
        match Store::open_existing(&data_dir, &passphrase) {
            Err(pulsebot::store::StoreError::InUse(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => break other?,
        }
    };
    let report_dir = dir.join("report");
    std::fs::create_dir_all(&report_dir)?;
    let request = |format| ExportRequest {
        survey: SURVEY.into(),
        rounds: Rounds::All,
        format,
        include_text: false,
        lang: Lang::De,
        distributions,
    };
    let now = jiff::Timestamp::now();
    let html = export_file(&store, &survey, &request(Format::Html), "demo", now)?;
    let html_path = report_dir.join(&html.file_name);
    std::fs::write(&html_path, &html.bytes)?;
    let json = export_file(&store, &survey, &request(Format::Json), "demo", now)?;
    let summary = round_summary(&store, &survey, 1, Lang::De, distributions, "demo", now)?;
    println!();
    for line in summary.lines() {
        println!("    {line}");
    }
    println!();
    println!("    report: {}", html_path.display());

    // Real numbers: the SUS score of BundesMessenger was published, not suppressed.
    let parsed: serde_json::Value = serde_json::from_slice(&json.bytes)?;
    let published = parsed["rounds"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["instruments"].as_array().into_iter().flatten())
        .filter(|i| i["suppressed"] == serde_json::Value::Bool(false) && i["mean"].is_number())
        .count();
    drop(members);
    drop(admin);
    hs.stop();
    if published == 0 {
        bail!(
            "the report holds no published score; see {}",
            html_path.display()
        );
    }
    println!(
        "demo finished in {:.0} s: {published} instrument scores published, {finished} complete responses.",
        started.elapsed().as_secs_f64()
    );
    println!(
        "the bot's and the clients' log: {}",
        dir.join("demo.log").display()
    );
    Ok(())
}
