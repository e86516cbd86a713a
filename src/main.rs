//! The `pulsebot` binary: parse the command line, set up logging, run, map errors to exit codes.

use clap::Parser;
use pulsebot::cli::{self, Cli, Command};

fn main() {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run) {
        // A command whose output is piped into `head` ends quietly when the pipe closes, as
        // other tools do, instead of panicking on the failed write. `run` keeps Rust's
        // default (SIGPIPE ignored, writes fail with EPIPE), so a closed socket never
        // kills the bot.
        // SAFETY: setting a signal's disposition to its default before any thread starts has
        // no memory-safety preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    cli::init_tracing(cli.log_format);
    cli::run_to_exit(cli::main(cli));
}
