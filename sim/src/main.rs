//! The `pulsebot-sim` binary: the local demo and the round benchmark.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pulsebot::cli::{self, LogFormat};

/// pulsebot-sim — the local demo and the round benchmark against a local Synapse.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// What to run.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Local demo: starts a homeserver, the bot and a scripted admin, and shows them talking.
    Demo {
        /// Working folder for the demo's homeserver, store and config.
        #[arg(long, default_value = ".demo")]
        dir: PathBuf,
    },
    /// Benchmark of a survey round against a local homeserver (build with --release).
    BenchRound {
        /// Participants answering the throughput round.
        #[arg(long, default_value_t = 200)]
        participants: usize,
        /// Questions per round.
        #[arg(long, default_value_t = 10)]
        questions: usize,
        /// Participants in the latency round.
        #[arg(long, default_value_t = 20)]
        latency_participants: usize,
        /// Milliseconds participants take per question in the second latency round.
        #[arg(long, default_value_t = 2000)]
        think_ms: u64,
        /// The bot's `sync.batch_ms` (default: the bot's default).
        #[arg(long)]
        sync_batch_ms: Option<u64>,
        /// The bot's `matrix.max_send_rate` (events per second; default: the bot's, 10).
        #[arg(long)]
        max_send_rate: Option<f64>,
        /// Also measure the bot with this many more direct chats (set up cheaply, unencrypted).
        #[arg(long)]
        rooms: Option<usize>,
        /// Working folder (emptied first).
        #[arg(long, default_value = ".bench")]
        dir: PathBuf,
    },
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { dir } => pulsebot_sim::demo::run(&dir).await,
        Command::BenchRound {
            participants,
            questions,
            latency_participants,
            think_ms,
            sync_batch_ms,
            max_send_rate,
            rooms,
            dir,
        } => {
            let opts = pulsebot_sim::bench::BenchOptions {
                participants,
                questions,
                latency_participants: latency_participants.min(participants),
                think_ms,
                sync_batch_ms,
                max_send_rate,
                rooms,
            };
            pulsebot_sim::bench::run(&dir, &opts).await
        }
    }
}

fn main() {
    let cli = Cli::parse();
    match &cli.command {
        // The demo's screen shows the pilot as people see it; the log goes to a file.
        Command::Demo { dir } => {
            let log = dir.join("demo.log");
            if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|()| cli::init_tracing_to_file(&log))
            {
                eprintln!("cannot write the log {}: {e}", log.display());
                cli::init_tracing(LogFormat::Text);
            }
        }
        Command::BenchRound { .. } => cli::init_tracing(LogFormat::Text),
    }
    cli::run_to_exit(run(cli));
}
