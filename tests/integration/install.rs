//! The unit and the CLI that fit (issue 18, item 3): the systemd unit checked by
//! `systemd-analyze verify`, and an operator in the data directory's group using the running
//! bot's control socket without root (and everybody else refused). No homeserver is needed.
//!
//! What needs root (another user for the CLI) or a tool that may be missing
//! (`systemd-analyze`) is skipped with the reason printed. Starting the unit under a real
//! systemd is not tried: the test machine's PID 1 is not systemd.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use crate::helpers::bin;

pub(crate) fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub(crate) fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !have("systemd-analyze") {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // verify insists that the ExecStart binaries exist: the built binary stands in for
    // /usr/bin/pulsebot (the package test verifies the installed unit with the real path).
    let unit = std::fs::read_to_string(repo("contrib/pulsebot.service")).expect("unit");
    assert!(unit.contains("ExecStart=/usr/bin/pulsebot "), "{unit}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pulsebot.service");
    std::fs::write(&path, unit.replace("/usr/bin/pulsebot", bin())).expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    // Unknown keys and bad values are only warnings on stderr, with exit 0: none is allowed.
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{}", text(&out));
}

/// Runs the binary copied to `exe` as `uid`/`gid` with the supplementary `groups`.
fn as_user(exe: &Path, config: &Path, args: &[&str], uid: u32, gid: u32, groups: &[u32]) -> Output {
    let groups = groups.to_vec();
    let mut cmd = Command::new(exe);
    cmd.arg("--config").arg(config).args(args).env_clear();
    // SAFETY: only async-signal-safe system calls run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("pulsebot runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_in_the_group_uses_the_running_bot_and_others_are_refused() {
    use pulsebot::store::{AsyncStore, Passphrase, Store};
    if !is_root() {
        eprintln!("skipped: running the CLI as another user needs root");
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().expect("tempdir");
    // The operator may pass through the test folder and read the config (never the store).
    chmod(dir.path(), 0o711);
    let exe = dir.path().join("pulsebot");
    std::fs::copy(bin(), &exe).expect("copy binary");
    chmod(&exe, 0o755);
    let pass = dir.path().join("pp");
    std::fs::write(&pass, "a long passphrase").expect("write");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[matrix]\nhomeserver = \"http://127.0.0.1:1\"\nuser = \"@bot:localhost\"\n\n\
         [bot]\nadmins = [\"@admin:localhost\"]\n\n[store]\npath = \"store\"\npassphrase_file = \"pp\"\n",
    )
    .expect("write");
    chmod(&config, 0o644);
    let store_dir = dir.path().join("store");
    let data = store_dir.join("data");
    std::fs::create_dir(&store_dir).expect("mkdir");
    chmod(&store_dir, 0o700);
    let passphrase = Passphrase::new("a long passphrase").expect("passphrase");
    drop(Store::open(&data, &passphrase).expect("create store"));
    chmod(&data, 0o700);
    let group = std::fs::metadata(&store_dir).expect("stat").gid();
    let group_name = if group == 0 {
        "root".to_string()
    } else {
        group.to_string()
    };
    // The passphrase as packaged: 0640, owner root, the service's group. Someone outside the
    // group cannot read it, so the stranger below brings a passphrase file of their own (the
    // refusal under test is the socket's, not the file's).
    chmod(&pass, 0o640);
    std::os::unix::fs::chown(&pass, Some(0), Some(group)).expect("chown");
    let stranger_pass = dir.path().join("pp-stranger");
    std::fs::write(&stranger_pass, "a long passphrase").expect("write");
    chmod(&stranger_pass, 0o600);
    std::os::unix::fs::chown(&stranger_pass, Some(NOBODY), Some(NOBODY)).expect("chown");
    let stranger_config = dir.path().join("stranger.toml");
    std::fs::write(
        &stranger_config,
        std::fs::read_to_string(&config).expect("config").replace(
            "passphrase_file = \"pp\"",
            "passphrase_file = \"pp-stranger\"",
        ),
    )
    .expect("write");
    chmod(&stranger_config, 0o644);

    // The running bot: its store held open, its control socket served.
    let store = AsyncStore::open(data.clone(), passphrase)
        .await
        .expect("open store");
    let cancel = tokio_util::sync::CancellationToken::new();
    let serve = tokio::spawn({
        let (store_dir, cancel) = (store_dir.clone(), cancel.clone());
        async move {
            pulsebot::control::serve(
                &store_dir,
                store,
                pulsebot::survey::SurveyDefaults::default(),
                Arc::new(pulsebot::clock::SystemClock),
                cancel,
            )
            .await
        }
    });
    let socket = pulsebot::control::socket_path(&store_dir);
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.mode() & 0o7777).unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while mode(&socket) != 0o660 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(mode(&socket), 0o660, "socket shared with the group");
    assert_eq!(mode(&store_dir), 0o710, "the group passes, nothing more");

    let run = |args: Vec<String>, groups: Vec<u32>| {
        let config = if groups.is_empty() {
            stranger_config.clone()
        } else {
            config.clone()
        };
        let exe = exe.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                as_user(&exe, &config, &args, NOBODY, NOBODY, &groups)
            })
            .await
            .expect("joined")
        }
    };

    // A member of the group: status and backup through the running bot, without root.
    let out = run(vec!["status".into()], vec![group]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    let target = backups.join("b1");
    let out = run(
        vec![
            "store".into(),
            "backup".into(),
            target.display().to_string(),
        ],
        vec![group],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("backup written to"), "{}", text(&out));
    assert_eq!(mode(&target), 0o700, "the bot's backup, for the bot's user");
    let out = run(vec!["store".into(), "check".into()], vec![group]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("store OK"), "{}", text(&out));

    // Not in the group: the kernel refuses the socket, the CLI names the group and the fix.
    let out = run(vec!["status".into()], vec![]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("members of group `{group_name}`")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("adduser USER"), "{}", text(&out));

    // A socket someone opened to all: the bot itself refuses the stranger, naming the group.
    chmod(&socket, 0o666);
    chmod(&store_dir, 0o711);
    let out = run(vec!["status".into()], vec![]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("refused"), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("group `{group_name}`")),
        "{}",
        text(&out)
    );

    // The bot stopped: offline work on the service's store is for its user, and says so.
    cancel.cancel();
    serve.await.expect("joined").expect("served");
    let out = run(vec!["status".into()], vec![group]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("belongs to user `root`") && text(&out).contains("sudo -u root"),
        "{}",
        text(&out)
    );
}
