//! `albscope analyze`: explain every failed request of one or more captures.

use super::{CliError, EXIT_FINDINGS, EXIT_OK, EXIT_PARTIAL};
use albscope::accesslog::LogReader;
use albscope::alb::AlbConfig;
use albscope::capture::{CaptureReader, Duration, Timestamp};
use albscope::diagnose::logjoin::{JoinOptions, LogIndex, DEFAULT_MAX_LOG_ENTRIES};
use albscope::diagnose::{analyze_capture_with_log, Analysis, Keep, DEFAULT_MAX_KEPT_REQUESTS};
use albscope::pipeline::PipelineConfig;
use albscope::report::{render, Format, TextOptions};
use albscope::taxonomy::Category;
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats on the command line.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Human-readable report.
    Text,
    /// One JSON document.
    Json,
    /// One JSON request per line, then a summary line.
    Ndjson,
    /// Markdown for a ticket (GitHub, GitLab, Jira).
    Markdown,
    /// One self-contained HTML file with a sequence diagram per failure (use with -o).
    Html,
}

/// Options shared by `analyze` and `check`: what the ALB looks like and how to read captures.
#[derive(Args, Debug, Clone)]
pub struct AnalysisOptions {
    /// An ALB node's private IP (repeatable); nodes are otherwise detected automatically.
    #[arg(long = "alb-ip", value_name = "IP")]
    pub alb_ip: Vec<IpAddr>,
    /// A listener port clients connect to (repeatable).
    #[arg(long = "listener-port", value_name = "P")]
    pub listener_port: Vec<u16>,
    /// A target port the ALB connects to (repeatable).
    #[arg(long = "target-port", value_name = "P")]
    pub target_port: Vec<u16>,
    /// The ALB idle timeout in seconds (default: inferred from the capture, else 60).
    #[arg(long = "idle-timeout", value_name = "SECS")]
    pub idle_timeout: Option<f64>,
    /// The ALB's back-end connect timeout in seconds.
    #[arg(long = "connect-timeout", value_name = "SECS", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// An extra UDP port carrying VXLAN (besides 4789; repeatable).
    #[arg(long = "vxlan-port", value_name = "P")]
    pub vxlan_port: Vec<u16>,
    /// State limits (each one hit is counted and shown in the report's notes).
    #[command(flatten)]
    pub limits: LimitOptions,
}

/// State limits that bound memory on hostile or huge captures.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Limits (memory bounds; hitting one is reported)")]
pub struct LimitOptions {
    /// Most TCP connections tracked at once (about 2.5 KiB each); past it the least recently
    /// active one is closed out and counted as evicted.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 400_000)]
    pub max_connections: usize,
    /// Memory (MiB, estimated) for requests waiting to be paired with their other leg; past
    /// it the oldest are paired early and counted.
    #[arg(long = "pairing-memory", value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub pairing_memory_mib: u64,
    /// Most requests reported in full (evidence, timeline); later ones are counted in the
    /// summary only. 0 lists none.
    #[arg(long = "max-requests", value_name = "N", default_value_t = DEFAULT_MAX_KEPT_REQUESTS)]
    pub max_requests: usize,
    /// With --access-log: most log entries indexed for the join (about 2 KB each); entries
    /// more than an hour outside the capture's span are skipped before they count.
    #[arg(long = "max-log-entries", value_name = "N", default_value_t = DEFAULT_MAX_LOG_ENTRIES)]
    pub max_log_entries: usize,
}

impl AnalysisOptions {
    /// The ALB configuration these options describe.
    pub fn alb_config(&self) -> Result<AlbConfig, CliError> {
        let secs = |name: &str, v: f64, max: f64| {
            if v.is_finite() && v > 0.0 && v <= max {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(CliError::Usage(format!(
                    "--{name} must be a number of seconds between 0 and {max}"
                )))
            }
        };
        Ok(AlbConfig {
            alb_ips: self.alb_ip.clone(),
            listener_ports: self.listener_port.clone(),
            target_ports: self.target_port.clone(),
            idle_timeout: self
                .idle_timeout
                .map(|v| secs("idle-timeout", v, 4000.0))
                .transpose()?,
            connect_timeout: secs("connect-timeout", self.connect_timeout, 600.0)?,
            max_pending_bytes: usize::try_from(self.limits.pairing_memory_mib << 20)
                .unwrap_or(usize::MAX),
        })
    }

    /// Which requests to keep in full (`keep_ok`: ok ones too).
    pub fn keep(&self, keep_ok: bool) -> Keep {
        Keep {
            ok: keep_ok,
            max_requests: self.limits.max_requests,
        }
    }

    /// The pipeline configuration these options describe.
    pub fn pipeline_config(&self) -> Result<PipelineConfig, CliError> {
        if self.limits.max_connections == 0 {
            return Err(CliError::Usage(
                "--max-connections must be at least 1".into(),
            ));
        }
        let mut p = PipelineConfig {
            progress: true,
            ..PipelineConfig::default()
        };
        p.flow.max_connections = self.limits.max_connections;
        for port in &self.vxlan_port {
            if !p.decode.vxlan_ports.contains(port) {
                p.decode.vxlan_ports.push(*port);
            }
        }
        Ok(p)
    }
}

/// Arguments of `albscope analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally .gz); `-` reads stdin. Several are merged.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Include ok requests in full, not only failed ones.
    #[arg(long)]
    pub all: bool,
    /// Exit 1 when a request matches: category names (comma-separated), `lb-5xx` (a 5xx the
    /// ALB generated) or `any-5xx`.
    #[arg(
        long = "fail-on",
        value_name = "CATS|lb-5xx|any-5xx",
        value_delimiter = ','
    )]
    pub fail_on: Vec<String>,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// ALB access logs to join to the captured requests (files, .gz, folders; repeatable):
    /// each request shows its log line beside the capture's view, and where they disagree.
    #[arg(long = "access-log", value_name = "FILE", num_args = 1..)]
    pub access_log: Vec<PathBuf>,
    /// ALB and capture options.
    #[command(flatten)]
    pub options: AnalysisOptions,
}

/// One `--fail-on` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// A category.
    Category(Category),
    /// A 5xx generated by the ALB.
    Lb5xx,
    /// Any 5xx.
    Any5xx,
}

impl FailOn {
    fn parse(s: &str) -> Result<FailOn, CliError> {
        match s.trim() {
            "lb-5xx" => Ok(FailOn::Lb5xx),
            "any-5xx" => Ok(FailOn::Any5xx),
            other => Category::from_name(other)
                .map(FailOn::Category)
                .ok_or_else(|| {
                    let names: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
                    CliError::Usage(format!(
                    "--fail-on: unknown condition '{other}' (use lb-5xx, any-5xx or one of: {})",
                    names.join(", ")
                ))
                }),
        }
    }

    /// True when some request of `a` matches, read from the counts (which cover every
    /// request, also those past `--max-requests`).
    pub fn matches(&self, a: &Analysis) -> bool {
        let by_category = &a.summary.by_category;
        match self {
            FailOn::Category(c) => by_category.get(c).is_some_and(|n| n.count > 0),
            FailOn::Lb5xx => a.metrics.cloudwatch.elb_5xx > 0,
            FailOn::Any5xx => by_category
                .values()
                .flat_map(|c| c.statuses.iter())
                .any(|(status, n)| *n > 0 && status.is_some_and(|s| (500..600).contains(&s))),
        }
    }
}

/// Opens the inputs and runs the analysis.
pub fn run_analysis(
    inputs: &[PathBuf],
    options: &AnalysisOptions,
    keep_ok: bool,
) -> Result<Analysis, CliError> {
    run_analysis_with_log(inputs, options, keep_ok, None)
}

/// [`run_analysis`], joining the requests to `log` when given.
pub fn run_analysis_with_log(
    inputs: &[PathBuf],
    options: &AnalysisOptions,
    keep_ok: bool,
    log: Option<LogIndex>,
) -> Result<Analysis, CliError> {
    let alb = options.alb_config()?;
    let pipeline = options.pipeline_config()?;
    let mut reader =
        CaptureReader::open(inputs).map_err(|e| CliError::Unreadable(e.to_string()))?;
    Ok(analyze_capture_with_log(
        &mut reader,
        &pipeline,
        alb,
        options.keep(keep_ok),
        log,
    ))
}

/// The index of `files` for the join of `inputs` ([`read_access_logs`]), `None` without logs.
pub fn access_log_index(
    files: &[PathBuf],
    inputs: &[PathBuf],
    options: &AnalysisOptions,
) -> Result<Option<LogIndex>, CliError> {
    if files.is_empty() {
        return Ok(None);
    }
    read_access_logs(files, inputs, options).map(Some)
}

/// Reads the access logs into an index for the join of `inputs` (whose time span, when they
/// are files, is read first so that only entries near it are indexed).
fn read_access_logs(
    files: &[PathBuf],
    inputs: &[PathBuf],
    options: &AnalysisOptions,
) -> Result<LogIndex, CliError> {
    let opts = JoinOptions {
        max_entries: options.limits.max_log_entries,
        capture_span: capture_span(inputs),
        ..JoinOptions::default()
    };
    LogIndex::from_reader(LogReader::new(files), opts)
        .map_err(|e| CliError::Unreadable(format!("access log {e}")))
}

/// First and last packet times of capture files (a quick pass through the capture layer only);
/// `None` for stdin, unreadable inputs or no packets.
fn capture_span(inputs: &[PathBuf]) -> Option<(Timestamp, Timestamp)> {
    if inputs.iter().any(|p| p.as_os_str() == "-") {
        return None;
    }
    let mut reader = CaptureReader::open(inputs).ok()?;
    let mut span: Option<(Timestamp, Timestamp)> = None;
    while let Some(p) = reader.next_packet() {
        span = Some(match span {
            None => (p.ts, p.ts),
            Some((a, b)) => (a.min(p.ts), b.max(p.ts)),
        });
    }
    span
}

/// Runs `albscope analyze`.
pub fn run(args: AnalyzeArgs) -> Result<ExitCode, CliError> {
    let fail_on = args
        .fail_on
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| FailOn::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let log = access_log_index(&args.access_log, &args.inputs, &args.options)?;
    let analysis = run_analysis_with_log(&args.inputs, &args.options, args.all, log)?;
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Html => Format::Html,
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let text = TextOptions {
        color: to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
            let mut w = std::io::BufWriter::new(file);
            render(&analysis, format, &text, &mut w)?;
            w.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            render(&analysis, format, &text, &mut w)?;
            w.flush()?;
        }
    }
    let matched = fail_on.iter().any(|c| c.matches(&analysis));
    for p in &analysis.stats.problems {
        eprintln!("albscope: damaged input: {p}");
    }
    let code = if matched {
        EXIT_FINDINGS
    } else if !analysis.stats.problems.is_empty() {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    };
    Ok(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_parses_names_and_classes() {
        assert_eq!(FailOn::parse("lb-5xx").unwrap(), FailOn::Lb5xx);
        assert_eq!(
            FailOn::parse("keepalive_race").unwrap(),
            FailOn::Category(Category::KeepaliveRace)
        );
        assert!(FailOn::parse("nonsense").is_err());
    }
}
