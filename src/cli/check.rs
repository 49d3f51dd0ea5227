//! `albscope check`. (Placeholder: implemented by the diagnosis work item.)

use super::CliError;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Input files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Runs `albscope check`.
pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::Usage("check: not implemented yet".into()))
}
