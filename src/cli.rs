//! The command line: parses arguments into a typed command and runs it.
//!
//! `main` only calls [`main`] and maps the error it returns to an exit code with [`exit_code`].

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::info;

use anyhow::Context;

use crate::clock::Clock as _;
use crate::config::{self, Config, ConfigError};
use crate::control::Request;
use crate::lang::Lang;
use crate::services::access::{Access, ask_bot, open_or_running};
use crate::services::export::{ExportRequest, Rounds};
use crate::survey::SurveyDefaults;

/// pulsebot — usability surveys inside a Matrix pilot.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: $PULSEBOT_CONFIG, else ./config.toml]
    #[arg(long, short, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot (until SIGINT/SIGTERM).
    Run,
    /// Surveys, rounds and counts from the store (counts only, never names); works while
    /// the bot runs, too.
    Status,
    /// Check the config and survey files without starting the bot (exit 1 on survey errors,
    /// 2 on config errors).
    Validate {
        /// Survey files or folders to check [default: the config's surveys.dir].
        paths: Vec<PathBuf>,
    },
    /// Print a questionnaire as a participant reads it in a client without poll support.
    Preview {
        /// A survey file, or the id of a survey in the config's surveys.dir.
        survey: String,
        /// Language of the preview.
        #[arg(long, value_enum, default_value_t = PreviewLang::De)]
        lang: PreviewLang,
    },
    /// Export aggregate statistics of a survey (suppressed below the minimum group size);
    /// every export is written to the audit log.
    Export {
        /// The survey id.
        #[arg(long)]
        survey: String,
        /// One round [default: the newest].
        #[arg(long, conflicts_with = "all")]
        round: Option<u32>,
        /// Every round, with trends.
        #[arg(long)]
        all: bool,
        /// json | csv | csv-de | md | html
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Include free-text answers (only where at least max(k, 10) people answered).
        #[arg(long)]
        include_text: bool,
        /// Language of Markdown and HTML output.
        #[arg(long, value_enum, default_value_t = PreviewLang::De)]
        lang: PreviewLang,
    },
    /// Import answers of an earlier survey (e.g. a LimeSurvey CSV export) as a new, closed
    /// round, mapped onto the survey's items by a mapping file (docs/import.md). Every row is
    /// checked first; nothing is imported unless all are valid.
    Import {
        /// The survey id.
        #[arg(long)]
        survey: String,
        /// A label for the imported round, e.g. `webex-2025-01` (each label once).
        #[arg(long = "round", value_name = "LABEL")]
        label: String,
        /// The CSV file.
        file: PathBuf,
        /// The column-to-item mapping (TOML).
        #[arg(long, value_name = "MAP.toml")]
        mapping: PathBuf,
    },
    /// Inspect and maintain the encrypted store.
    Store {
        /// What to do with the store.
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// After a lost data directory: log in as a new device on an empty data directory and
    /// restore the bot's verified identity and its room keys with the recovery key that the
    /// first start wrote (docs/operations.md, "Backup and restore").
    Recover {
        /// The file holding the recovery key.
        #[arg(long, value_name = "FILE")]
        recovery_key_file: PathBuf,
    },
}

/// Language choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PreviewLang {
    /// Deutsch.
    De,
    /// English.
    En,
}

impl From<PreviewLang> for Lang {
    fn from(l: PreviewLang) -> Lang {
        match l {
            PreviewLang::De => Lang::De,
            PreviewLang::En => Lang::En,
        }
    }
}

/// `pulsebot store ...`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Open the store, decrypt every value, verify the audit chain, print counts per table.
    Check,
    /// Write a consistent copy into DIR (new or empty), also while the bot runs.
    Backup {
        /// Target directory.
        dir: PathBuf,
    },
    /// Wrap the store key with a new passphrase (the bot must be stopped).
    Rekey {
        /// File with the new passphrase [else $PULSEBOT_NEW_STORE_PASSPHRASE].
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
}

/// Exit code for a config that cannot be used.
pub const EXIT_CONFIG: i32 = 2;

/// Runs `work` on a multi-threaded runtime; on an error, prints it with its causes and exits
/// with [`exit_code`]. The one entry of every binary (`pulsebot`, `pulsebot-sim`).
pub fn run_to_exit(work: impl std::future::Future<Output = anyhow::Result<()>>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(work) {
        let code = exit_code(&err);
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(code);
    }
}

/// The exit code for an error: 2 for config errors, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<ConfigError>()) {
        EXIT_CONFIG
    } else {
        1
    }
}

/// Info for pulsebot, warnings from libraries; the crypto crate warns about a missing key
/// backup on every message, which the bot does not use by design.
pub const DEFAULT_LOG_FILTER: &str = "warn,pulsebot=info,matrix_sdk_crypto::backups=error";

/// Sets up logging into the file `path` (plain text; `RUST_LOG` as for [`init_tracing`]): the
/// demo keeps its screen for what a person wants to watch and names the file.
pub fn init_tracing_to_file(path: &Path) -> std::io::Result<()> {
    use tracing_subscriber::Layer;
    let file = std::fs::File::create(path)?;
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file));
    let _ = tracing_subscriber::util::SubscriberInitExt::try_init(
        tracing_subscriber::layer::SubscriberExt::with(
            tracing_subscriber::registry(),
            layer.with_filter(log_filter()),
        ),
    );
    Ok(())
}

/// Sets up logging: `RUST_LOG` if set, else info for pulsebot and warnings from libraries.
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Colours only on a terminal: a log file or the journal gets plain text.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(layer.with_filter(log_filter()))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().with_filter(log_filter()))
            .try_init(),
    };
}

/// `RUST_LOG` if set (then everything it selects shows); else [`DEFAULT_LOG_FILTER`] without
/// the SDK's known-harmless lines ([`crate::log_noise`]).
fn log_filter<S>() -> Box<dyn tracing_subscriber::layer::Filter<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::filter::FilterExt;
    match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(filter) => Box::new(filter),
        Err(_) => Box::new(
            tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)
                .and(crate::log_noise::HarmlessSdkNoise),
        ),
    }
}

/// Runs a parsed command line.
pub async fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run => {
            // Everything the bot creates is its own alone (also outside the unit's UMask=0077):
            // the control socket is shared with the data directory's group only while every
            // entry there is private (src/control_peer.rs).
            // SAFETY: umask has no preconditions.
            unsafe { libc::umask(0o077) };
            let config = load(cli.config.as_deref())?;
            let cancel = CancellationToken::new();
            spawn_signal_handler(cancel.clone());
            crate::bot::run(config, cancel).await
        }
        Command::Validate { paths } => validate(cli.config.as_deref(), paths),
        Command::Preview { survey, lang } => {
            let (defaults, dir) = match load(cli.config.as_deref()) {
                Ok(c) => (c.survey_defaults(), Some(c.surveys.dir)),
                // A preview of a file needs no bot config; an id does (to find the folder).
                Err(_) if Path::new(&survey).is_file() => (SurveyDefaults::default(), None),
                Err(e) => return Err(e),
            };
            let s = find_survey(&survey, dir.as_deref(), &defaults)?;
            print!("{}", crate::survey::render::preview(&s, lang.into()));
            Ok(())
        }
        Command::Store { command } => store_command(cli.config.as_deref(), command),
        Command::Export {
            survey,
            round,
            all,
            format,
            out,
            include_text,
            lang,
        } => {
            let rounds = match (round, all) {
                (Some(n), _) => Rounds::One(n),
                (None, true) => Rounds::All,
                (None, false) => Rounds::Latest,
            };
            let format: crate::export::Format = format.parse()?;
            let request = ExportRequest {
                survey,
                rounds,
                format,
                include_text,
                lang: lang.into(),
                distributions: Default::default(),
            };
            export_command(cli.config.as_deref(), request, out.as_deref())
        }
        Command::Import {
            survey,
            label,
            file,
            mapping,
        } => import_command(cli.config.as_deref(), &survey, &label, &file, &mapping),
        Command::Status => status_command(cli.config.as_deref()),
        Command::Recover { recovery_key_file } => {
            recover_command(cli.config.as_deref(), &recovery_key_file).await
        }
    }
}

async fn recover_command(flag: Option<&Path>, key_file: &Path) -> anyhow::Result<()> {
    let config = load(flag)?;
    let key = std::fs::read_to_string(key_file)
        .with_context(|| format!("cannot read the recovery key file {}", key_file.display()))?;
    let _lock = crate::matrix::session::DataDirLock::acquire(&config.store.path)?;
    let found = crate::matrix::session::recover(&config, &key).await?;
    println!(
        "Identity restored: the new device {} is verified with the bot's own cross-signing keys.",
        found.device
    );
    println!(
        "Room keys restored from the key backup: {} of {} encrypted rooms have recent messages \
         that decrypt ({} older messages still do not).",
        found.rooms_decrypting, found.rooms, found.undecryptable
    );
    println!(
        "Next: restore the survey store from a backup if you have one (docs/operations.md), \
         then start the bot. The old device stays listed in the account: remove it in Element \
         (Settings → Sessions) or with the homeserver's admin tools."
    );
    Ok(())
}

fn import_command(
    flag: Option<&Path>,
    survey_id: &str,
    label: &str,
    file: &Path,
    mapping: &Path,
) -> anyhow::Result<()> {
    use crate::store::{Passphrase, Store, StoreError};
    let config = load(flag)?;
    let survey = find_survey(
        survey_id,
        Some(&config.surveys.dir),
        &config.survey_defaults(),
    )?;
    let map = std::fs::read_to_string(mapping)
        .with_context(|| format!("cannot read {}", mapping.display()))?;
    let csv = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    // Every row is validated before the store is opened: a bad file writes nothing.
    let parsed = crate::import::parse(&survey, &map, &csv)
        .with_context(|| format!("{} with {}", file.display(), mapping.display()))?;
    crate::services::access::ensure_own_store(&config)?;
    let pass = Passphrase::new(config.store.passphrase.expose())?;
    let store = match Store::open_existing(&config.store.data_dir(), &pass) {
        Ok(s) => s,
        Err(StoreError::InUse(_)) => {
            anyhow::bail!(
                "the running bot holds the store: stop it for the import, then start it again"
            )
        }
        Err(e) => return Err(e.into()),
    };
    let now = crate::clock::SystemClock.now();
    let info = crate::services::import::import_round(&store, &survey, label, &parsed, now, "cli")?;
    println!(
        "imported {} responses ({} complete) into survey `{}` as round {} `{label}`",
        parsed.records.len(),
        parsed.complete(),
        survey.id,
        info.round
    );
    if parsed.empty_rows > 0 {
        println!("skipped {} rows without any answer", parsed.empty_rows);
    }
    if !parsed.unmapped_columns.is_empty() {
        println!(
            "not imported (neither mapped nor listed in `ignore`): {}",
            parsed.unmapped_columns.join(", ")
        );
    }
    Ok(())
}

/// A validation that found problems in survey files (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SurveyProblems(String);

fn validate(flag: Option<&Path>, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let path = config::resolve_path(flag);
    let config = Config::load(&path)?;
    println!("{}: config OK", path.display());
    for w in &config.warnings {
        println!("warning: {w}");
    }
    println!(
        "  bot {} on {}, {} admin(s), {} pilot room(s), store {}",
        config.matrix.user,
        config.matrix.homeserver,
        config.bot.admins.len(),
        config.bot.pilot_rooms.len(),
        config.store.path.display()
    );
    let paths = if !paths.is_empty() {
        paths
    } else if config.surveys.dir.is_dir() {
        vec![config.surveys.dir.clone()]
    } else {
        // The same as `run`: without surveys the bot still takes admin commands.
        println!(
            "warning: the surveys folder {} does not exist; the bot would take admin commands only",
            config.surveys.dir.display()
        );
        return Ok(());
    };
    let report = crate::survey::validate_paths(&paths, &config.survey_defaults());
    if report.diagnostics.is_empty() {
        for w in config.chat_history_warnings(&report.surveys) {
            println!("warning: {w}");
        }
        for s in &report.surveys {
            println!(
                "{}: survey `{}` OK ({} questions)",
                s.file,
                s.id,
                s.questions().len()
            );
        }
        print!("{report}");
        Ok(())
    } else {
        Err(SurveyProblems(report.to_string().trim_end().to_string()).into())
    }
}

fn find_survey(
    arg: &str,
    dir: Option<&Path>,
    defaults: &SurveyDefaults,
) -> anyhow::Result<crate::survey::Survey> {
    let as_path = Path::new(arg);
    let problems = |ds: Vec<crate::survey::Diagnostic>| {
        SurveyProblems(
            ds.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    if as_path.is_file() {
        return crate::survey::load_file(as_path, defaults).map_err(|ds| problems(ds).into());
    }
    let dir = dir.context("no such survey file")?;
    let (surveys, diags) = crate::survey::load_dir(dir, defaults);
    match surveys.into_iter().find(|s| s.id == arg) {
        Some(s) => Ok(s),
        None if !diags.is_empty() => Err(problems(diags).into()),
        None => anyhow::bail!(
            "no survey with id `{arg}` in {} (and no such file)",
            dir.display()
        ),
    }
}

fn export_command(
    flag: Option<&Path>,
    mut request: ExportRequest,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let config = load(flag)?;
    request.distributions = config.privacy.distributions;
    let survey = find_survey(
        &request.survey,
        Some(&config.surveys.dir),
        &config.survey_defaults(),
    )?;
    let bytes = match open_or_running(&config)? {
        Access::Local(store) => {
            let now = crate::clock::SystemClock.now();
            crate::services::export::export(&store, &survey, &request, "cli", now)?
        }
        Access::Running => {
            let req = Request::Export {
                request,
                survey_file: std::path::absolute(&survey.file)?,
            };
            ask_bot(&config.store.path, &req)?.into_bytes()
        }
    };
    match out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "export written to {} (recorded in the audit log)",
                path.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

fn status_command(flag: Option<&Path>) -> anyhow::Result<()> {
    let config = load(flag)?;
    let surveys = if config.surveys.dir.is_dir() {
        crate::survey::load_dir(&config.surveys.dir, &config.survey_defaults()).0
    } else {
        Vec::new()
    };
    let ids: Vec<String> = surveys.iter().map(|s| s.id.clone()).collect();
    match open_or_running(&config)? {
        Access::Local(store) => {
            let (participants, rounds) = (store.participants()?, store.rounds()?);
            let (consented, counts) = crate::admin::round_counts(&participants, &rounds);
            let now = jiff::Timestamp::now();
            let next: Vec<crate::admin::NextRound> = surveys
                .iter()
                .map(|s| crate::admin::NextRound {
                    survey: s.id.clone(),
                    next: crate::admin::next_round(&s.schedule, &s.id, &rounds, now),
                })
                .collect();
            println!(
                "{}",
                crate::admin::render_offline_status(
                    &ids,
                    &next,
                    consented,
                    &counts,
                    &config.bot.timezone,
                    config.bot.default_language
                )
            );
            Ok(())
        }
        Access::Running => {
            println!("{}", ask_bot(&config.store.path, &Request::Status)?);
            Ok(())
        }
    }
}

fn store_command(flag: Option<&Path>, command: StoreCommand) -> anyhow::Result<()> {
    use crate::store::{self, Passphrase, StoreError};
    let config = load(flag)?;
    let data = config.store.data_dir();
    let pass = Passphrase::new(config.store.passphrase.expose())?;
    // While the bot runs it holds the store; then the request goes to it over the control
    // socket instead.
    let via_bot = |req: Request| -> anyhow::Result<()> {
        println!("{}", ask_bot(&config.store.path, &req)?);
        Ok(())
    };
    match command {
        StoreCommand::Check if crate::services::access::running_elsewhere(&config)? => {
            via_bot(Request::Check)
        }
        StoreCommand::Check => match store::check(&data, &pass) {
            Ok(report) => {
                println!("{report}");
                if report.is_ok() {
                    Ok(())
                } else {
                    anyhow::bail!("store check found problems")
                }
            }
            Err(StoreError::InUse(_)) => via_bot(Request::Check),
            Err(e) => Err(e.into()),
        },
        StoreCommand::Backup { dir } => {
            let dir = std::path::absolute(&dir)?;
            match open_or_running(&config)? {
                Access::Local(s) => {
                    let counts = store::backup(&s, &dir)?;
                    s.audit(jiff::Timestamp::now(), "cli", "store.backup", "")?;
                    println!("{}", crate::control::backup_summary(&counts, &dir));
                    Ok(())
                }
                Access::Running => via_bot(Request::Backup { dir }),
            }
        }
        StoreCommand::Rekey {
            new_passphrase_file,
        } => {
            let new = Passphrase::from_file_or_env(
                new_passphrase_file.as_deref(),
                "PULSEBOT_NEW_STORE_PASSPHRASE",
            )?;
            crate::services::access::ensure_own_store(&config)?;
            crate::services::rekey::rekey(&config, &new)?;
            println!(
                "passphrase changed for the session and the store; put the new \
                 passphrase into store.passphrase_file before the next start"
            );
            Ok(())
        }
    }
}

fn load(flag: Option<&Path>) -> anyhow::Result<Config> {
    let path = config::resolve_path(flag);
    Config::load(&path).map_err(anyhow::Error::from)
}

/// First SIGINT/SIGTERM: cancel (clean shutdown). A second one: exit at once.
fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        let mut n = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
                _ = hup.recv() => {
                    // A reload would change questionnaires under running rounds; the files
                    // are read once, at start, after `pulsebot validate` passed.
                    tracing::warn!("SIGHUP: config and survey files are read at start only; restart pulsebot to load changes (check them first with `pulsebot validate`)");
                    continue;
                }
            }
            n += 1;
            if n == 1 {
                info!("shutting down");
                cancel.cancel();
            } else {
                std::process::exit(130);
            }
        }
    });
}
