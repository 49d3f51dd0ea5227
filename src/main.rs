//! The `albscope` command: parses arguments and hands each subcommand to its module in `cli/`.
//! Exit codes are documented in `--help` and README.md.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if err.is_broken_pipe() {
                return ExitCode::SUCCESS;
            }
            eprintln!("albscope: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
