//! The `pulsebot` binary: parse the command line, set up logging, run, map errors to exit codes.

use clap::Parser;
use pulsebot::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    cli::init_tracing(cli.log_format);
    cli::run_to_exit(cli::main(cli));
}
