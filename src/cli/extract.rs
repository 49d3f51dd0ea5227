//! `albscope extract`. (Placeholder: implemented by the report work item.)

use super::CliError;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope extract`.
#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// Input files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Runs `albscope extract`.
pub fn run(args: ExtractArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::Usage("extract: not implemented yet".into()))
}
