//! Shared helpers: the run's homeserver, a bot process per test, config files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pulsebot_sim::sim::{Homeserver, SimUser};

/// Generous bound for anything that crosses the homeserver.
pub const WAIT: Duration = Duration::from_secs(45);

static HS: OnceLock<Homeserver> = OnceLock::new();

/// The homeserver of this test run, started on first use.
pub fn hs() -> &'static Homeserver {
    HS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pulsebot-it-{}", std::process::id()));
        Homeserver::start(&dir.join("synapse")).expect("the local Synapse starts")
    })
}

/// The pulsebot binary built for this test run.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pulsebot")
}

/// A bot account with its own data directory and config.
pub struct BotSetup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub user_id: matrix_sdk::ruma::OwnedUserId,
    pub password: String,
    pub passphrase: String,
}

impl BotSetup {
    /// Registers a bot account and writes a config naming `admins`; `extra` is appended.
    pub async fn new(admins: &[&SimUser], extra: &str) -> BotSetup {
        Self::new_on(hs(), admins, extra).await
    }

    /// As [`BotSetup::new`], on another homeserver than the run's.
    pub async fn new_on(hs: &Homeserver, admins: &[&SimUser], extra: &str) -> BotSetup {
        let localpart = format!("bot-{}", pulsebot_sim::sim::random_suffix());
        let password = format!("bot-password-{}", pulsebot_sim::sim::random_suffix());
        let passphrase = format!("store-passphrase-{}", pulsebot_sim::sim::random_suffix());
        let user_id = hs
            .register(&localpart, &password, false)
            .await
            .expect("bot registered");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("password"), &password).expect("write");
        std::fs::write(dir.path().join("passphrase"), &passphrase).expect("write");
        for secret in ["password", "passphrase"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join(secret),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod");
        }
        let admins: Vec<String> = admins
            .iter()
            .map(|a| format!("\"{}\"", a.user_id))
            .collect();
        let config = dir.path().join("config.toml");
        let text = format!(
            "[matrix]\nhomeserver = \"{}\"\nuser = \"{user_id}\"\npassword_file = \"password\"\n\n\
             [bot]\nadmins = [{}]\n{extra}\n\n[store]\npath = \"store\"\npassphrase_file = \"passphrase\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
            hs.url,
            admins.join(", "),
        );
        std::fs::write(&config, text).expect("write config");
        BotSetup {
            dir,
            config,
            user_id,
            password,
            passphrase,
        }
    }

    /// The bot's data directory.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Starts `pulsebot run` on this setup.
    pub fn start(&self) -> BotProcess {
        BotProcess::start(&self.config, self.dir.path())
    }

    /// Starts `pulsebot run` logging as it does in production (no `RUST_LOG`: pulsebot at
    /// info, libraries at warn), to check what an operator's log holds.
    pub fn start_with_default_log(&self) -> BotProcess {
        BotProcess::start_logging(&self.config, self.dir.path(), None)
    }
}

/// A `pulsebot run` child process; killed when dropped.
pub struct BotProcess {
    child: Child,
    log: PathBuf,
}

static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl BotProcess {
    /// Starts the bot with `config`, logging into a file under `dir`.
    pub fn start(config: &Path, dir: &Path) -> BotProcess {
        BotProcess::start_logging(config, dir, Some("warn,pulsebot=debug"))
    }

    /// Starts the bot with `RUST_LOG` set to `filter` (unset for `None`: the bot's default).
    pub fn start_logging(config: &Path, dir: &Path, filter: Option<&str>) -> BotProcess {
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = dir.join(format!("bot-{n}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(bin());
        match filter {
            Some(f) => command.env("RUST_LOG", f),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command
            .arg("--config")
            .arg(config)
            .arg("run")
            .env_remove("PULSEBOT_PASSWORD")
            .env_remove("PULSEBOT_STORE_PASSPHRASE")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("pulsebot starts");
        BotProcess { child, log }
    }

    /// The bot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "bot never logged {needle:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub async fn stop(mut self) -> (ExitStatus, Duration) {
        let t0 = Instant::now();
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, t0.elapsed());
            }
            assert!(t0.elapsed() < WAIT, "bot did not stop:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the bot with SIGKILL (a crash) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(mut self) -> (ExitStatus, String) {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, self.log());
            }
            assert!(t0.elapsed() < WAIT, "bot did not exit:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `haystack` contains `needle` as bytes.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Creates an encrypted room, invites the bot and waits for it to join.
pub async fn room_with_bot(admin: &SimUser, bot: &BotSetup) -> matrix_sdk::Room {
    let room = admin
        .create_encrypted_room("admin", &[&bot.user_id])
        .await
        .expect("room created");
    admin
        .wait_for_join(room.room_id(), &bot.user_id, WAIT)
        .await
        .expect("bot joins");
    room
}

/// An admin, a pilot room's alias (the room itself is made by the test) and a bot whose
/// config names that room and whose surveys folder holds `survey` as `<id>.toml`.
pub struct Pilot {
    pub admin: SimUser,
    pub alias: String,
    pub bot: BotSetup,
}

/// Sets up a [`Pilot`] on `hs`; `extra` is appended to the config's `[bot]` table (so it
/// may open further tables).
pub async fn pilot_bot(hs: &Homeserver, extra: &str, id: &str, survey: &str) -> Pilot {
    let admin = SimUser::register(hs, "admin").await.expect("admin");
    let alias = format!("pilot-{}", pulsebot_sim::sim::random_suffix());
    let bot = BotSetup::new_on(
        hs,
        &[&admin],
        &format!("pilot_rooms = [\"#{alias}:localhost\"]\n{extra}"),
    )
    .await;
    std::fs::create_dir_all(bot.dir.path().join("surveys")).expect("mkdir");
    std::fs::write(bot.dir.path().join(format!("surveys/{id}.toml")), survey).expect("survey");
    Pilot { admin, alias, bot }
}
