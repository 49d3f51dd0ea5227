//! `albscope analyze`. (Placeholder: implemented by the diagnosis work item.)

use super::CliError;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Input files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Runs `albscope analyze`.
pub fn run(args: AnalyzeArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::Usage("analyze: not implemented yet".into()))
}
