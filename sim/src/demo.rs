//! `pulsebot-sim demo`: two rounds of the pilot against a local Synapse, in a few minutes.
//!
//! A fresh homeserver, the bot, an admin and twelve simulated participants (real matrix-sdk
//! clients with end-to-end encryption) in a pilot room. The admin starts a round of the
//! shipped `pilot-baseline` survey; the participants answer with seeded, varied answers —
//! one declines consent, one stops halfway — and the admin closes it. Then a round of
//! `webex-comparison` rates both systems; three participants do not use Webex, say so and
//! skip its block. The demo prints the progress, one participant's chat as they saw it, the
//! status and the summaries, and writes both HTML reports. Every run starts from scratch in
//! its folder, so a second run behaves like the first. It fails unless the reports hold real
//! (not suppressed) scores and a comparison of the two systems.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use tokio_util::sync::CancellationToken;

use crate::sim::{Answered, Behaviour, Homeserver, Respondent, SimUser};
use pulsebot::config::{Config, SecretOverrides};
use pulsebot::export::Format;
use pulsebot::lang::Lang;
use pulsebot::services::export::{ExportRequest, Rounds, export_file, round_summary};
use pulsebot::store::{Passphrase, Store};
use pulsebot::survey::Survey;

const PARTICIPANTS: usize = 12;
const BASELINE: &str = "pilot-baseline";
const COMPARISON: &str = "webex-comparison";
/// The participant whose chat the demo prints.
const SHOWN: usize = 2;
/// Participants who do not use Webex (they say so in the comparison round).
const NO_WEBEX: [usize; 3] = [4, 7, 10];
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
    for id in [BASELINE, COMPARISON] {
        let file = format!("{id}.toml");
        std::fs::copy(shipped_surveys().join(&file), surveys.join(&file))
            .with_context(|| format!("cannot copy surveys/{file}"))?;
    }
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
    let load = |id: &str| {
        pulsebot::survey::load_file(
            &surveys.join(format!("{id}.toml")),
            &config.survey_defaults(),
        )
        .map_err(|d| {
            anyhow::anyhow!(
                "{}",
                d.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    };
    let (baseline, comparison) = (load(BASELINE)?, load(COMPARISON)?);
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

    // Round 1: the baseline. Everybody gets the notice first; 0 declines, 1 stops halfway.
    let questions = baseline.questions().len();
    let since = Instant::now();
    step(&format!(
        "the admin starts a round: `!pulse start {BASELINE}`"
    ));
    command(format!("!pulse start {BASELINE}")).await?;
    step(&format!(
        "{PARTICIPANTS} participants get the notice in a direct chat; 11 consent, 1 declines; \
         they answer {questions} questions each (one stops halfway)"
    ));
    let plans = (0..PARTICIPANTS)
        .map(|i| Plan {
            member: i,
            consents: Some(i != 0),
            behaviour: if i == 1 {
                Behaviour::StopsAfter(questions / 2)
            } else {
                Behaviour::Complete
            },
            uses_webex: true,
        })
        .collect();
    let round1 = play(&members, &bot_id, &baseline, plans, since, started).await?;
    let second = Instant::now();
    if let Some(dm) = dm_of(&round1, SHOWN) {
        step("the chat of one participant, as they saw it (taps on a poll are not messages)");
        print_chat(&members[SHOWN], &bot_id, &dm, since, second);
    }
    step("the admin checks the status and closes the round");
    print_status(&command("!pulse status".into()).await?.body);
    command(format!("!pulse close {BASELINE}")).await?;

    // Round 2: BundesMessenger and Webex side by side, for those still taking part. Three
    // of them do not use Webex: they say so and are asked only about BundesMessenger.
    let since = Instant::now();
    step(&format!(
        "a second round compares the two systems: `!pulse start {COMPARISON}`"
    ));
    command(format!("!pulse start {COMPARISON}")).await?;
    let staying: Vec<_> = round1.iter().filter(|r| r.answered.finished).collect();
    let without = staying
        .iter()
        .filter(|r| NO_WEBEX.contains(&r.member))
        .count();
    step(&format!(
        "{} participants answer it; {without} of them do not use Webex and skip its ten questions",
        staying.len()
    ));
    let plans = staying
        .iter()
        .map(|r| Plan {
            member: r.member,
            consents: None,
            behaviour: Behaviour::Complete,
            uses_webex: !NO_WEBEX.contains(&r.member),
        })
        .collect();
    let round2 = play(&members, &bot_id, &comparison, plans, since, started).await?;
    if let Some(dm) = dm_of(&round2, NO_WEBEX[0]) {
        step("the same chat in the second round, for a participant who does not use Webex");
        print_chat(&members[NO_WEBEX[0]], &bot_id, &dm, since, Instant::now());
    }
    step("the admin checks the status and closes the round");
    print_status(&command("!pulse status".into()).await?.body);
    command(format!("!pulse close {COMPARISON}")).await?;

    step("stopping the bot, writing the reports");
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
    let now = jiff::Timestamp::now();
    let mut published = 0;
    let mut compared = 0;
    let mut reports = Vec::new();
    for survey in [&baseline, &comparison] {
        let request = |format| ExportRequest {
            survey: survey.id.clone(),
            rounds: Rounds::All,
            format,
            include_text: false,
            lang: Lang::De,
            distributions,
        };
        let html = export_file(&store, survey, &request(Format::Html), "demo", now)?;
        let html_path = report_dir.join(&html.file_name);
        std::fs::write(&html_path, &html.bytes)?;
        let json = export_file(&store, survey, &request(Format::Json), "demo", now)?;
        let summary = round_summary(&store, survey, 1, Lang::De, distributions, "demo", now)?;
        println!();
        for line in summary.lines() {
            println!("    {line}");
        }
        println!();
        println!("    report: {}", html_path.display());
        reports.push(html_path);
        // Real numbers: scores and the comparison were published, not suppressed.
        let parsed: serde_json::Value = serde_json::from_slice(&json.bytes)?;
        let rounds = || parsed["rounds"].as_array().into_iter().flatten();
        let open = |v: &serde_json::Value| v["suppressed"] == serde_json::Value::Bool(false);
        published += rounds()
            .flat_map(|r| r["instruments"].as_array().into_iter().flatten())
            .filter(|i| open(i) && i["mean"].is_number())
            .count();
        compared += rounds()
            .flat_map(|r| r["comparisons"].as_array().into_iter().flatten())
            .filter(|c| open(c) && c["diff"].is_number())
            .count();
    }
    drop(members);
    drop(admin);
    hs.stop();
    let finished = |r: &[Outcome]| r.iter().filter(|o| o.answered.finished).count();
    if published == 0 || compared == 0 {
        bail!(
            "the reports hold {published} published scores and {compared} comparisons; see {}",
            report_dir.display()
        );
    }
    println!(
        "demo finished in {:.0} s: {published} instrument scores and {compared} comparisons \
         published, {} + {} complete responses.",
        started.elapsed().as_secs_f64(),
        finished(&round1[..]),
        finished(&round2[..]),
    );
    println!(
        "the bot's and the clients' log: {}",
        dir.join("demo.log").display()
    );
    Ok(())
}

/// What one participant does in a round.
struct Plan {
    /// Index into the members.
    member: usize,
    /// Their vote on the notice, or `None` when they gave it in an earlier round.
    consents: Option<bool>,
    behaviour: Behaviour,
    uses_webex: bool,
}

/// How a round went for one participant.
struct Outcome {
    member: usize,
    dm: Option<OwnedRoomId>,
    answered: Answered,
}

fn dm_of(outcomes: &[Outcome], member: usize) -> Option<OwnedRoomId> {
    outcomes
        .iter()
        .find(|o| o.member == member)
        .and_then(|o| o.dm.clone())
}

/// Plays one round: every planned participant answers in their direct chat at once, while
/// the progress is printed every five seconds. `since` is an instant before the round started.
async fn play(
    members: &[Arc<SimUser>],
    bot_id: &OwnedUserId,
    survey: &Survey,
    plans: Vec<Plan>,
    since: Instant,
    started: Instant,
) -> anyhow::Result<Vec<Outcome>> {
    let survey = Arc::new(survey.clone());
    let expected = plans
        .iter()
        .filter(|p| p.consents != Some(false) && p.behaviour == Behaviour::Complete)
        .count();
    let who: Vec<usize> = plans.iter().map(|p| p.member).collect();
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let (m, bot, survey) = (members[plan.member].clone(), bot_id.clone(), survey.clone());
            tokio::spawn(async move {
                let unanswered = Answered {
                    count: 0,
                    finished: false,
                };
                let first = match plan.consents {
                    Some(_) => m.wait_for_consent_poll(&bot, WAIT).await,
                    None => {
                        m.wait_for(WAIT, |r| {
                            r.sender == bot && r.at >= since && r.body.contains("Frage 1/")
                        })
                        .await
                    }
                }
                .context("the round never reached the participant")?;
                let dm = first.room_id.clone();
                match plan.consents {
                    Some(false) => {
                        m.send_text(&dm, "nein").await?;
                        return anyhow::Ok(Outcome {
                            member: plan.member,
                            dm: Some(dm),
                            answered: unanswered,
                        });
                    }
                    Some(true) => {
                        m.vote(&dm, &first.event_id, &["consent.yes"]).await?;
                    }
                    None => {}
                }
                let mut who = Respondent::new(plan.member as u64);
                if !plan.uses_webex {
                    who = who.without_webex();
                }
                let answered = who
                    .answer_round(&m, &bot, &dm, &survey, plan.behaviour, since, WAIT)
                    .await?;
                anyhow::Ok(Outcome {
                    member: plan.member,
                    dm: Some(dm),
                    answered,
                })
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
                for &i in &who {
                    let inbox = members[i].inbox();
                    let from_bot = || inbox.iter().filter(|r| r.sender == *bot_id && r.at >= since);
                    asked += from_bot().filter(|r| r.body.contains("Frage ")).count();
                    done += usize::from(from_bot().any(|r| r.body.contains("Danke")));
                }
                println!(
                    "    … {asked} questions delivered, {done} of {expected} participants finished ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    };
    let mut outcomes = Vec::new();
    for r in results {
        outcomes.push(r.context("participant task")??);
    }
    let finished = outcomes.iter().filter(|o| o.answered.finished).count();
    let answers: usize = outcomes.iter().map(|o| o.answered.count).sum();
    println!("    {finished} finished, {answers} answers in all");
    Ok(outcomes)
}

/// The admin's `!pulse status` reply, below its first line (already printed).
fn print_status(body: &str) {
    for line in body.lines().skip(1) {
        println!("    | {line}");
    }
}

/// One participant's direct chat between `from` and `to` as they saw it on their phone:
/// polls as their question and choices (the taps on a poll are not messages, so they do not
/// show).
fn print_chat(m: &SimUser, bot_id: &OwnedUserId, dm: &OwnedRoomId, from: Instant, to: Instant) {
    let inbox = m.inbox();
    for r in inbox
        .iter()
        .filter(|r| r.room_id == *dm && r.at >= from && r.at <= to)
    {
        let who = if r.sender == *bot_id { "Bot" } else { "Sie" };
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
