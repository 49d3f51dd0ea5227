//! Command-line arguments and dispatch to one module per subcommand.

mod analyze;
mod check;
mod explain_log;
mod extract;
mod flows;
mod flows_ndjson;
mod io;

use clap::{Parser, Subcommand};
use std::fmt;
use std::process::ExitCode;

/// Exit status: the run finished and found nothing the user asked to fail on.
pub const EXIT_OK: u8 = 0;
/// Exit status: `--fail-on` matched at least one request, or `check` found a difference.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: the command line was wrong (also a missing input or an output that is one).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: no input could be read as a capture.
pub const EXIT_UNREADABLE: u8 = 3;
/// Exit status: some input was damaged; everything before the damage was analysed.
pub const EXIT_PARTIAL: u8 = 4;

const AFTER_HELP: &str = "\
Exit status:
  0  done, nothing matched --fail-on (failed requests alone never change the exit status;
     requests whose outcome is not visible, e.g. an encrypted front end captured without
     keys or back end, or a TLS back end without keys or front end (answered, status not
     visible), and requests in flight at the end are not failures and match no --fail-on
     condition)
  1  findings: --fail-on matched a request, or `check` found a difference
  2  usage error (also: a missing or unreadable input, an output that is an input)
  3  no input could be read as a capture (explain-log: as an access log)
  4  partial: an input was damaged; everything before the damage was analysed

A closed stdout (`albscope ... | head`) ends any command quietly with exit 0. `-` is stdin for
inputs and stdout for -o/-w. Outputs are written to a temporary file and renamed into place.

Examples:
  albscope analyze capture.pcap                 explain every failed request
  albscope analyze --all --format json a.pcap   every request, as JSON
  albscope flows -r capture.pcapng.zst          list TCP connections like a network engineer
  albscope analyze --format html -o report.html a.pcap   one self-contained file for a ticket
  albscope extract a.pcap --failed -d slices/   one small pcap per failed request
";

/// albscope explains AWS Application Load Balancer 502 and 504 errors from packet captures
/// (VPC Traffic Mirroring VXLAN, GENEVE, or plain tcpdump): who generated each error, why, with
/// the evidence and a per-request timeline.
#[derive(Parser, Debug)]
#[command(name = "albscope", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Explain every failed request: who generated the error, the category, evidence, timeline.
    Analyze(analyze::AnalyzeArgs),
    /// Compare the analysis of a capture with its expected report; exit 1 on a difference.
    Check(check::CheckArgs),
    /// Explain ALB access-log lines (4xx/5xx) from their fields alone.
    ExplainLog(explain_log::ExplainLogArgs),
    /// Write the packets of one request (or of every failed request) to a small pcap.
    Extract(extract::ExtractArgs),
    /// List TCP connections: endpoints, packets and bytes each way, gaps, Zeek-style state.
    Flows(flows::FlowsArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Check(args) => check::run(args),
        Command::ExplainLog(args) => explain_log::run(args),
        Command::Extract(args) => extract::run(args),
        Command::Flows(args) => flows::run(args),
    }
}

/// An error that ends the command, with the exit status it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments or option values.
    Usage(String),
    /// No input could be read.
    Unreadable(String),
    /// Writing output failed.
    Output(std::io::Error),
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Unreadable(_) => EXIT_UNREADABLE,
            CliError::Output(_) => EXIT_USAGE,
        }
    }
    /// True when output went to a closed pipe (`albscope ... | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Unreadable(m) => f.write_str(m),
            CliError::Output(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}
