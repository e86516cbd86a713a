//! The command line: parses arguments into a typed command and runs it.
//!
//! `main` only calls [`main`] and maps the error it returns to an exit code with [`exit_code`].

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::{self, Config, ConfigError};

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
    /// Check the config (and survey files) without starting the bot.
    Validate {
        /// Survey files or folders to check besides the config.
        paths: Vec<PathBuf>,
    },
    /// Local demo: starts a homeserver, the bot and a scripted admin, and shows them talking.
    Demo {
        /// Working folder for the demo's homeserver, store and config.
        #[arg(long, default_value = ".demo")]
        dir: PathBuf,
    },
}

/// Exit code for a config that cannot be used.
pub const EXIT_CONFIG: i32 = 2;

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

/// Sets up logging: `RUST_LOG` if set, else info for pulsebot and warnings from libraries.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs a parsed command line.
pub async fn main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run => {
            let config = load(cli.config.as_deref())?;
            let cancel = CancellationToken::new();
            spawn_signal_handler(cancel.clone());
            crate::bot::run(config, cancel).await
        }
        Command::Validate { paths } => {
            let path = config::resolve_path(cli.config.as_deref());
            let config = Config::load(&path)?;
            let _ = paths;
            println!("{}: config OK", path.display());
            println!(
                "  bot {} on {}, {} admin(s), {} pilot room(s), store {}",
                config.matrix.user,
                config.matrix.homeserver,
                config.bot.admins.len(),
                config.bot.pilot_rooms.len(),
                config.store.path.display()
            );
            Ok(())
        }
        Command::Demo { dir } => crate::demo::run(&dir).await,
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
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        for n in 0.. {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            if n == 0 {
                info!("shutting down");
                cancel.cancel();
            } else {
                std::process::exit(130);
            }
        }
    });
}
