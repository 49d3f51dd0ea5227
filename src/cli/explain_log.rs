//! `albscope explain-log`. (Placeholder: implemented by the access-log work item.)

use super::CliError;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope explain-log`.
#[derive(Args, Debug)]
pub struct ExplainLogArgs {
    /// Input files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Runs `albscope explain-log`.
pub fn run(args: ExplainLogArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::Usage("explain-log: not implemented yet".into()))
}
