//! `albscope flows`: the connection list. (Placeholder: implemented by the flow work item.)

use super::CliError;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope flows`.
#[derive(Args, Debug)]
pub struct FlowsArgs {
    /// Capture files (pcap, pcapng, optionally .gz); `-` reads stdin.
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
}

/// Runs `albscope flows`.
pub fn run(args: FlowsArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(CliError::Usage("flows: not implemented yet".into()))
}
