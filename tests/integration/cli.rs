//! The command line as an operator uses it: validate, preview, store maintenance.

use std::path::Path;
use std::process::{Command, Output};

use pulsebot_sim::sim::SimUser;

use crate::helpers::{BotSetup, WAIT, bin, hs, room_with_bot};

fn pulsebot(args: &[&str], config: Option<&Path>) -> Output {
    let mut cmd = Command::new(bin());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(args)
        .env_remove("PULSEBOT_PASSWORD")
        .env_remove("PULSEBOT_STORE_PASSPHRASE")
        .env_remove("PULSEBOT_CONFIG")
        .output()
        .expect("pulsebot runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

/// A config beside which `surveys/` holds the given files.
fn config_with_surveys(files: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("surveys")).expect("mkdir");
    for (name, content) in files {
        std::fs::write(dir.path().join("surveys").join(name), content).expect("write");
    }
    std::fs::write(dir.path().join("pp"), "a long passphrase").expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("pp"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
    }
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[matrix]\nhomeserver = \"http://127.0.0.1:1\"\nuser = \"@bot:localhost\"\n\n\
         [bot]\nadmins = [\"@admin:localhost\"]\n\n[store]\npassphrase_file = \"pp\"\n",
    )
    .expect("write");
    (dir, config)
}

#[test]
fn validate_accepts_the_shipped_surveys_and_names_errors_with_positions() {
    let baseline = std::fs::read_to_string(repo("surveys/pilot-baseline.toml")).expect("shipped");
    let (_dir, config) = config_with_surveys(&[("pilot-baseline.toml", &baseline)]);
    let out = pulsebot(&["validate"], Some(&config));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("survey `pilot-baseline` OK"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("warning: store.passphrase_file"),
        "{}",
        text(&out)
    );
    // A secret file others may read is refused, with the fix (issue 18); group read (the
    // packaged layout's 0640) is allowed.
    {
        use std::os::unix::fs::PermissionsExt;
        let pp = _dir.path().join("pp");
        std::fs::set_permissions(&pp, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = pulsebot(&["validate"], Some(&config));
        assert_ne!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("store.passphrase_file")
                && text(&out).contains("may be read or changed by other users (mode 0644)")
                && text(&out).contains("chmod 600"),
            "{}",
            text(&out)
        );
        std::fs::set_permissions(&pp, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let out = pulsebot(&["validate"], Some(&config));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        std::fs::set_permissions(&pp, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    let out = pulsebot(&["validate", &repo("surveys")], Some(&config));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let broken = baseline.replacen(
        "id = \"pilot-baseline\"",
        "id = \"pilot-baseline\"\ncolour = 1",
        1,
    );
    let (_dir, config) = config_with_surveys(&[("broken.toml", &broken)]);
    let out = pulsebot(&["validate"], Some(&config));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("broken.toml:"), "{}", text(&out));
    assert!(text(&out).contains("colour"), "{}", text(&out));
}

/// `pulsebot validate | head -1` (issue 18): a closed pipe ends the command quietly, with no
/// panic (it exited 101 with "failed printing to stdout").
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let baseline = std::fs::read_to_string(repo("surveys/pilot-baseline.toml")).expect("shipped");
    let (_dir, config) = config_with_surveys(&[("pilot-baseline.toml", &baseline)]);
    let mut child = Command::new(bin())
        .arg("--config")
        .arg(&config)
        .args(["preview", "pilot-baseline"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pulsebot runs");
    // The reader goes away before the first line is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.signal() == Some(libc::SIGPIPE) || out.status.code() == Some(0),
        "{:?} {stderr}",
        out.status
    );
}

#[test]
fn run_refuses_to_start_with_an_invalid_survey_and_names_it() {
    let (_dir, config) = config_with_surveys(&[("bad.toml", "id = \"x\"\n[[block]\n")]);
    let out = pulsebot(&["run"], Some(&config));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("invalid survey file(s)"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("bad.toml:2:"), "{}", text(&out));
}

#[test]
fn preview_prints_the_questionnaire_in_both_languages() {
    let de = pulsebot(&["preview", &repo("surveys/pulse.toml")], None);
    assert_eq!(de.status.code(), Some(0), "{}", text(&de));
    let de = text(&de);
    assert!(de.contains("Frage 1/"), "{de}");
    let en = pulsebot(
        &["preview", &repo("surveys/pulse.toml"), "--lang", "en"],
        None,
    );
    let en = text(&en);
    assert!(en.contains("Question 1/"), "{en}");
    assert_ne!(de, en);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_check_backup_and_rekey_while_running_and_stopped() {
    let admin = SimUser::register(hs(), "admin").await.expect("admin");
    let bot = BotSetup::new(&[&admin], "").await;
    let process = bot.start();
    process.wait_for_log("pulsebot running").await;

    // While the bot runs, check and backup go through its control socket.
    let out = pulsebot(&["store", "check"], Some(&bot.config));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("store OK"), "{}", text(&out));
    let backup = bot.dir.path().join("backup-running");
    let out = pulsebot(
        &["store", "backup", backup.to_str().expect("utf8")],
        Some(&bot.config),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("backup written to"), "{}", text(&out));
    assert!(
        backup.join("db").exists() || backup.join("conf").exists(),
        "backup has sled files"
    );

    // Rekey needs the bot stopped.
    let new_pass = bot.dir.path().join("new-passphrase");
    std::fs::write(&new_pass, "an entirely new passphrase").expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&new_pass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let out = pulsebot(
        &[
            "store",
            "rekey",
            "--new-passphrase-file",
            new_pass.to_str().expect("utf8"),
        ],
        Some(&bot.config),
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "rekey while running must fail: {}",
        text(&out)
    );
    let (status, _) = process.stop().await;
    assert!(status.success());

    let out = pulsebot(&["store", "check"], Some(&bot.config));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = pulsebot(
        &[
            "store",
            "rekey",
            "--new-passphrase-file",
            new_pass.to_str().expect("utf8"),
        ],
        Some(&bot.config),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The old passphrase no longer opens anything: a clear error, nothing changed.
    let out = pulsebot(&["store", "check"], Some(&bot.config));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).to_lowercase().contains("passphrase"),
        "{}",
        text(&out)
    );
    let old_run = bot.start();
    let (status, log) = old_run.wait_exit().await;
    assert!(!status.success());
    assert!(log.to_lowercase().contains("passphrase"), "{log}");

    // With the new one the bot starts with the same session and answers.
    std::fs::copy(&new_pass, bot.dir.path().join("passphrase")).expect("copy");
    let process = bot.start();
    let room = room_with_bot(&admin, &bot).await;
    let ev = admin
        .send_text(room.room_id(), "!pulse status")
        .await
        .expect("sent");
    admin
        .wait_for_reply(&ev, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", process.log()));
    assert!(
        process.log().contains("session restored"),
        "{}",
        process.log()
    );
}

#[test]
fn export_reads_the_store_suppresses_small_groups_and_is_audited() {
    use pulsebot::model::{AnswerRecord, AnswerValue, Mode};
    use pulsebot::store::{Passphrase, Store};
    use std::collections::BTreeMap;

    let pulse = std::fs::read_to_string(repo("surveys/pulse.toml")).expect("shipped");
    let (dir, config) = config_with_surveys(&[("pulse.toml", &pulse)]);
    let data = dir.path().join("store/data");
    {
        let store = Store::open(&data, &Passphrase::new("a long passphrase").expect("pass"))
            .expect("store");
        let now = jiff::Timestamp::now();
        store
            .open_round("pulse", 1, Mode::Anonymous, now)
            .expect("open");
        // Six complete responses to the UMUX-Lite block, and the SEQ tasks answered by two only.
        let records: Vec<AnswerRecord> = (0..6)
            .map(|i| {
                let mut answers = BTreeMap::new();
                answers.insert(
                    "umux_bm.1".to_string(),
                    AnswerValue::Choice(format!("{}", 4 + i % 4)),
                );
                answers.insert(
                    "umux_bm.2".to_string(),
                    AnswerValue::Choice(format!("{}", 3 + i % 5)),
                );
                AnswerRecord {
                    survey_id: "pulse".into(),
                    round: 1,
                    complete: true,
                    answers,
                    pseudonym: None,
                }
            })
            .collect();
        store.insert_answers(&records).expect("insert");
    }
    // While the round is open, an export shows participation only: no item or instrument
    // figure that a later export could be subtracted from (issue 15).
    let open = pulsebot(
        &["export", "--survey", "pulse", "--format", "json"],
        Some(&config),
    );
    assert_eq!(open.status.code(), Some(0), "{}", text(&open));
    let json: serde_json::Value = serde_json::from_slice(&open.stdout).expect("json export");
    let round = &json["rounds"][0];
    assert!(round["closed_at"].is_null(), "{round}");
    for i in round["instruments"].as_array().expect("instruments") {
        assert!(i["mean"].is_null() && i["suppressed"] == true, "{i}");
    }
    for item in round["items"].as_array().expect("items") {
        assert!(item["mean"].is_null(), "{item}");
        for c in item["counts"].as_array().into_iter().flatten() {
            assert!(c["count"].is_null() || c["count"] == 0, "{item}");
        }
    }
    {
        let store = Store::open(&data, &Passphrase::new("a long passphrase").expect("pass"))
            .expect("store");
        store
            .close_round("pulse", 1, jiff::Timestamp::now())
            .expect("close");
    }
    let out = pulsebot(
        &["export", "--survey", "pulse", "--format", "json"],
        Some(&config),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json export");
    let instruments = json["rounds"][0]["instruments"]
        .as_array()
        .expect("instruments");
    let umux = instruments
        .iter()
        .find(|i| i["instrument"] == "umux-lite")
        .expect("umux-lite");
    assert_eq!(umux["n"], 6, "{umux}");
    assert_eq!(umux["suppressed"], false, "{umux}");
    assert!(umux["mean"].is_number(), "{umux}");
    let seq: Vec<_> = instruments
        .iter()
        .filter(|i| i["instrument"] == "seq")
        .collect();
    assert!(
        !seq.is_empty()
            && seq
                .iter()
                .all(|i| i["suppressed"] == true && i["mean"].is_null()),
        "SEQ answered by nobody is suppressed, with no figure: {seq:?}"
    );
    let csv = pulsebot(
        &["export", "--survey", "pulse", "--format", "csv-de"],
        Some(&config),
    );
    assert_eq!(csv.status.code(), Some(0), "{}", text(&csv));
    assert!(String::from_utf8_lossy(&csv.stdout).contains(';'));
    let report = dir.path().join("bericht.html");
    let html = pulsebot(
        &[
            "export",
            "--survey",
            "pulse",
            "--format",
            "html",
            "--out",
            report.to_str().expect("utf8"),
        ],
        Some(&config),
    );
    assert_eq!(html.status.code(), Some(0), "{}", text(&html));
    let page = std::fs::read_to_string(&report).expect("report written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<html lang=\"de\">"));
    // UMUX-Lite of six is listed with its n (pulse.toml rates one system, so there is no
    // side-by-side chart); the SEQ tasks nobody answered are withheld with their reason.
    assert!(page.contains("UMUX-Lite") && page.contains(">6<"), "{page}");
    assert!(page.contains("unterdrückt: weniger als"), "{page}");
    let missing = pulsebot(
        &["export", "--survey", "pulse", "--round", "7"],
        Some(&config),
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("no round 7"), "{}", text(&missing));

    let store =
        Store::open(&data, &Passphrase::new("a long passphrase").expect("pass")).expect("store");
    let exports = store
        .audit_log()
        .expect("audit")
        .iter()
        .filter(|e| e.action == "export")
        .count();
    assert_eq!(
        exports, 4,
        "each export (one while open, three after close) is in the audit log"
    );
}

#[test]
fn import_maps_a_limesurvey_export_and_a_bad_file_writes_nothing() {
    use pulsebot::store::{Passphrase, Store};

    // The baseline as shipped before issue 16, which the LimeSurvey fixtures map onto.
    let baseline = std::fs::read_to_string(repo("tests/fixtures/surveys/baseline-2025.toml"))
        .expect("fixture");
    let (dir, config) = config_with_surveys(&[("pilot-baseline.toml", &baseline)]);
    let data = dir.path().join("store/data");
    let pass = || Passphrase::new("a long passphrase").expect("pass");
    drop(Store::open(&data, &pass()).expect("store"));
    let fixture = |f: &str| repo(&format!("tests/fixtures/import/{f}"));
    let import = |csv: &str, label: &str| {
        pulsebot(
            &[
                "import",
                "--survey",
                "pilot-baseline",
                "--round",
                label,
                &fixture(csv),
                "--mapping",
                &fixture("limesurvey-webex.toml"),
            ],
            Some(&config),
        )
    };

    // The malformed file: every bad line named, exit 1, nothing in the store.
    let bad = import("malformed.csv", "webex-2025-01");
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    for needle in [
        "4 problem(s) in the CSV file, nothing imported",
        "line 4, column `SUSW[SQ003]`: `A7`",
        "line 6, column `SUSW[SQ010]`: `5`",
        "line 7: 16 fields, the header has 17",
        "line 11, column `SUSW[SQ001]`: `A0`",
    ] {
        assert!(text(&bad).contains(needle), "`{needle}` in {}", text(&bad));
    }
    {
        let store = Store::open(&data, &pass()).expect("store");
        assert!(
            store.rounds().expect("rounds").is_empty(),
            "nothing imported"
        );
    }

    // The good file: a closed round with its label, 11 responses (10 complete).
    let good = import("limesurvey-webex.csv", "webex-2025-01");
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert!(
        text(&good).contains("imported 11 responses (10 complete) into survey `pilot-baseline` as round 1 `webex-2025-01`"),
        "{}",
        text(&good)
    );
    {
        let store = Store::open(&data, &pass()).expect("store");
        let rounds = store.rounds().expect("rounds");
        assert_eq!(rounds.len(), 1);
        assert_eq!(rounds[0].label.as_deref(), Some("webex-2025-01"));
        assert!(rounds[0].closed_at.is_some());
        assert_eq!(
            store.answers("pilot-baseline", 1).expect("answers").len(),
            11
        );
        assert!(
            store
                .audit_log()
                .expect("audit")
                .iter()
                .any(|e| e.action == "round.import"),
            "the import is audited"
        );
    }
    // The same label again is refused; the export shows the baseline's Webex SUS.
    let again = import("limesurvey-webex.csv", "webex-2025-01");
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("already has an imported round"),
        "{}",
        text(&again)
    );
    let out = pulsebot(
        &["export", "--survey", "pilot-baseline", "--format", "json"],
        Some(&config),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sus_webex = json["rounds"][0]["instruments"]
        .as_array()
        .expect("instruments")
        .iter()
        .find(|i| i["block"] == "sus_webex")
        .cloned()
        .expect("sus_webex");
    assert_eq!(sus_webex["n"], 10, "{sus_webex}");
    assert_eq!(sus_webex["suppressed"], false, "{sus_webex}");
    assert_eq!(json["rounds"][0]["label"], "webex-2025-01");
    // The council's report names the import instead of showing its date as a survey period.
    let out = pulsebot(
        &["export", "--survey", "pilot-baseline", "--format", "html"],
        Some(&config),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains("Runde 1 (Import „webex-2025-01“, eingelesen am"),
        "{page}"
    );
    // The baseline's Webex SUS bar is drawn with its n.
    assert!(page.contains(" · n = 10\n</text>"), "{page}");
    // A missing mapping file is a clear error naming it.
    let out = pulsebot(
        &[
            "import",
            "--survey",
            "pilot-baseline",
            "--round",
            "x",
            &fixture("limesurvey-webex.csv"),
            "--mapping",
            "/nonexistent/map.toml",
        ],
        Some(&config),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("/nonexistent/map.toml"),
        "{}",
        text(&out)
    );
}
