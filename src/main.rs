//! The `pulsebot` binary: parse the command line, set up logging, run, map errors to exit codes.

use clap::Parser;
use pulsebot::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    cli::init_tracing(cli.log_format);
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
    if let Err(err) = runtime.block_on(cli::main(cli)) {
        let code = cli::exit_code(&err);
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(code);
    }
}
