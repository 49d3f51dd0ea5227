//! `albscope analyze`: explain every failed request of one or more captures.

use super::io::{Inputs, Sink};
use super::{CliError, EXIT_FINDINGS, EXIT_OK, EXIT_PARTIAL};
use albscope::accesslog::LogReader;
use albscope::alb::{AlbConfig, FileOffset, OffsetSource};
use albscope::capture::{CaptureReader, Duration, Timestamp};
use albscope::diagnose::logjoin::{JoinOptions, LogIndex, DEFAULT_MAX_LOG_ENTRIES};
use albscope::diagnose::{analyze_files, Analysis, Keep, DEFAULT_MAX_KEPT_REQUESTS};
use albscope::pipeline::PipelineConfig;
use albscope::protocol::{KeyLog, KeyLogProblem};
use albscope::report::markdown::DEFAULT_MAX_BYTES;
use albscope::report::{
    render, write_json_on, write_markdown_with, Format, MarkdownOptions, TextOptions,
};
use albscope::taxonomy::Category;
use clap::{Args, ColorChoice, ValueEnum};
use std::io::IsTerminal;
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

/// How every command that reads captures is told what to read: the same options everywhere.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Capture files (pcap or pcapng; plain, gzip or zstd); `-` reads stdin. Several are merged.
    #[arg(value_name = "CAPTURE", required_unless_present = "read")]
    pub captures: Vec<PathBuf>,
    /// Read this capture file, as with tcpdump -r and tshark -r (repeatable; the same as a
    /// CAPTURE argument).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,
    /// Also decode this UDP port as VXLAN (repeatable; 4789 always is).
    #[arg(long = "vxlan-port", value_name = "PORT")]
    pub vxlan_port: Vec<u16>,
    /// Also decode this UDP port as GENEVE (repeatable; 6081 always is).
    #[arg(long = "geneve-port", value_name = "PORT")]
    pub geneve_port: Vec<u16>,
    /// Do not show a progress line on stderr.
    #[arg(long = "no-progress")]
    pub no_progress: bool,
    /// Decrypt TLS with this key log (NSS key log format, as SSLKEYLOGFILE writes it;
    /// repeatable). Keys in a pcapng Decryption Secrets Block are read without it.
    #[arg(long = "tls-keylog", value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,
}

impl InputArgs {
    /// Every capture to read: the CAPTURE arguments, then the `-r` ones.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.captures.iter().chain(&self.read).cloned().collect()
    }

    /// The TLS key logs given with `--tls-keylog`, and their malformed lines.
    pub fn key_log(&self) -> Result<(KeyLog, Vec<KeyLogProblem>), CliError> {
        let mut log = KeyLog::default();
        let mut problems = Vec::new();
        for path in &self.tls_keylog {
            let text = std::fs::read(path).map_err(|e| {
                CliError::Unreadable(format!("--tls-keylog {}: {e}", path.display()))
            })?;
            problems.extend(log.add_text(&path.display().to_string(), &text));
        }
        Ok((log, problems))
    }

    /// Reads the key logs and warns on stderr about their malformed lines (once per command).
    pub fn warn_key_log(&self) -> Result<(), CliError> {
        let (_, problems) = self.key_log()?;
        warn_key_log_problems(&problems);
        Ok(())
    }

    /// The pipeline configuration for these inputs (ports, progress, TLS keys).
    pub fn pipeline_config(&self) -> Result<PipelineConfig, CliError> {
        let mut p = PipelineConfig {
            progress: !self.no_progress,
            ..PipelineConfig::default()
        };
        p.protocol.keys = std::sync::Arc::new(self.key_log()?.0);
        for port in &self.vxlan_port {
            if !p.decode.vxlan_ports.contains(port) {
                p.decode.vxlan_ports.push(*port);
            }
        }
        for port in &self.geneve_port {
            if !p.decode.geneve_ports.contains(port) {
                p.decode.geneve_ports.push(*port);
            }
        }
        Ok(p)
    }
}

/// Writes malformed key log lines (file:line) to stderr as warnings.
pub fn warn_key_log_problems(problems: &[KeyLogProblem]) {
    for p in problems {
        eprintln!("albscope: warning: {p}");
    }
}

/// ALB access logs to join, for the commands that join them (`analyze`, `check`).
#[derive(Args, Debug, Clone)]
pub struct AccessLogArgs {
    /// ALB access logs to join to the captured requests (files, .gz, folders; repeatable):
    /// each request shows its log line beside the capture's view, and where they disagree.
    #[arg(long = "access-log", value_name = "FILE", num_args = 1..)]
    pub access_log: Vec<PathBuf>,
    /// With --access-log: most log entries indexed for the join (about 2 KB each); entries
    /// more than an hour outside the capture's span are skipped before they count.
    #[arg(long = "max-log-entries", value_name = "N", default_value_t = DEFAULT_MAX_LOG_ENTRIES)]
    pub max_log_entries: usize,
}

/// Options shared by `analyze`, `check` and `extract`: what to read and what the ALB looks like.
#[derive(Args, Debug, Clone)]
pub struct AnalysisOptions {
    /// What to read.
    #[command(flatten)]
    pub input: InputArgs,
    /// An ALB node's private IP (repeatable); nodes are otherwise detected automatically.
    #[arg(long = "alb-ip", value_name = "IP")]
    pub alb_ip: Vec<IpAddr>,
    /// A listener port clients connect to (repeatable).
    #[arg(long = "listener-port", value_name = "P")]
    pub listener_port: Vec<u16>,
    /// A target port the ALB connects to (repeatable).
    #[arg(long = "target-port", value_name = "P")]
    pub target_port: Vec<u16>,
    /// The ALB idle timeout in whole seconds, 1-4000 as AWS configures it (default: inferred
    /// from the capture, else 60).
    #[arg(long = "idle-timeout", value_name = "SECS",
          value_parser = clap::value_parser!(u32).range(1..=4000))]
    pub idle_timeout: Option<u32>,
    /// The ALB's back-end connect timeout in seconds.
    #[arg(long = "connect-timeout", value_name = "SECS", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// The clock of input FILE is SECONDS ahead of the others' (negative: behind); its
    /// timestamps are corrected before the files are merged (repeatable, one per file). Without
    /// it, offsets between several files are estimated from requests seen on both legs.
    #[arg(long = "time-offset", value_name = "FILE=SECONDS")]
    pub time_offset: Vec<String>,
    /// Threads to analyse with (default: all cores): with 2, reading, decoding, connection
    /// tracking and parsing run on one thread, pairing and diagnosis on the other; with 3 or
    /// more, reading on one,
    /// parsing split by connection over N-2 (at most 16), pairing and diagnosis on one. Any
    /// number gives the same report.
    #[arg(long = "threads", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// State limits (each one hit is counted and shown in the report's notes).
    #[command(flatten)]
    pub limits: LimitOptions,
}

/// State limits that bound memory on hostile or huge captures.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Limits (memory bounds; hitting one is reported)")]
pub struct LimitOptions {
    /// Most TCP connections tracked at once (about 3 KiB each), shared evenly by 16 groups of
    /// connections (by 4-tuple); past its group's share the group's least recently active one
    /// is closed out and counted as evicted (once, also when it is seen again).
    #[arg(long = "max-connections", value_name = "N", default_value_t = 400_000)]
    pub max_connections: usize,
    /// Memory (MiB) for bytes all connections buffer together (out-of-order data, header
    /// blocks being read, TLS records), shared evenly by the 16 groups of connections; past
    /// its group's share the connection whose buffer would grow gives it up, counted as
    /// skipped (memory limit), and its request is undetermined.
    #[arg(long = "max-buffer-memory", value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub max_buffer_memory_mib: u64,
    /// Memory (MiB, estimated) for requests waiting to be paired with their other leg; past
    /// it the oldest are paired early and counted. Measured: a request in flight holds about
    /// 1.6 KiB of heap per leg waiting (two legs for a request captured on both sides).
    /// An open idle connection holds about 5.4 KiB (flow, protocol and ALB state).
    #[arg(long = "pairing-memory", value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub pairing_memory_mib: u64,
    /// Most requests reported in full (evidence, timeline; about 1.9 KiB of memory each,
    /// measured); later ones are counted in the summary only. 0 lists none.
    #[arg(long = "max-requests", value_name = "N", default_value_t = DEFAULT_MAX_KEPT_REQUESTS)]
    pub max_requests: usize,
}

impl AnalysisOptions {
    /// The options, as argument words, that another run over the same inputs must repeat to
    /// find the same requests under the same ids (those not at their defaults).
    pub fn rerun_args(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let mut put = |flag: &str, value: String| {
            v.push(flag.to_string());
            v.push(value);
        };
        for p in &self.input.vxlan_port {
            put("--vxlan-port", p.to_string());
        }
        for p in &self.input.geneve_port {
            put("--geneve-port", p.to_string());
        }
        for ip in &self.alb_ip {
            put("--alb-ip", ip.to_string());
        }
        for p in &self.listener_port {
            put("--listener-port", p.to_string());
        }
        for p in &self.target_port {
            put("--target-port", p.to_string());
        }
        if let Some(s) = self.idle_timeout {
            put("--idle-timeout", s.to_string());
        }
        if self.connect_timeout != 10.0 {
            put("--connect-timeout", self.connect_timeout.to_string());
        }
        let l = &self.limits;
        if l.max_connections != 400_000 {
            put("--max-connections", l.max_connections.to_string());
        }
        if l.max_buffer_memory_mib != 256 {
            put("--max-buffer-memory", l.max_buffer_memory_mib.to_string());
        }
        if l.pairing_memory_mib != 256 {
            put("--pairing-memory", l.pairing_memory_mib.to_string());
        }
        if l.max_requests != DEFAULT_MAX_KEPT_REQUESTS {
            put("--max-requests", l.max_requests.to_string());
        }
        v
    }

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
                .map(|v| Duration(i64::from(v) * 1_000_000_000)),
            connect_timeout: secs("connect-timeout", self.connect_timeout, 600.0)?,
            max_pending_bytes: usize::try_from(self.limits.pairing_memory_mib << 20)
                .unwrap_or(usize::MAX),
            clock_offsets: Vec::new(),
        })
    }

    /// The `--time-offset` values against the input files `names` (as given): each FILE must
    /// name one input, by its path as given or by a file name only one input has.
    pub fn time_offsets(&self, names: &[String]) -> Result<Vec<FileOffset>, CliError> {
        let mut out: Vec<FileOffset> = Vec::new();
        for spec in &self.time_offset {
            let Some((file, secs)) = spec.rsplit_once('=') else {
                return Err(CliError::Usage(format!(
                    "--time-offset {spec}: expected FILE=SECONDS"
                )));
            };
            let secs: f64 = match secs.trim().parse() {
                Ok(v) if f64::is_finite(v) && f64::abs(v) <= 86_400.0 => v,
                _ => {
                    return Err(CliError::Usage(format!(
                        "--time-offset {spec}: the offset of {file} must be a number of seconds \
                         between -86400 and 86400"
                    )))
                }
            };
            let exact: Vec<usize> = (0..names.len()).filter(|i| names[*i] == file).collect();
            let by_name: Vec<usize> = (0..names.len())
                .filter(|i| {
                    std::path::Path::new(&names[*i])
                        .file_name()
                        .is_some_and(|n| n == file)
                })
                .collect();
            let index = match (exact.as_slice(), by_name.as_slice()) {
                ([i, ..], _) | ([], [i]) => *i,
                ([], []) => {
                    return Err(CliError::Usage(format!(
                        "--time-offset {spec}: {file} is not one of the input files ({})",
                        names.join(", ")
                    )))
                }
                ([], _) => {
                    return Err(CliError::Usage(format!(
                        "--time-offset {spec}: several input files are called {file}; give its \
                         path as on the command line"
                    )))
                }
            };
            let file = u16::try_from(index).unwrap_or(u16::MAX);
            if out.iter().any(|o| o.file == file) {
                return Err(CliError::Usage(format!(
                    "--time-offset {spec}: {} has an offset already",
                    names[index]
                )));
            }
            out.push(FileOffset {
                file,
                ahead: Duration::from_secs_f64(secs),
                source: OffsetSource::Given,
            });
        }
        Ok(out)
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
        let mut p = self.input.pipeline_config()?;
        p.flow.max_connections = self.limits.max_connections;
        p.flow.max_buffer_memory =
            usize::try_from(self.limits.max_buffer_memory_mib << 20).unwrap_or(usize::MAX);
        p.threads = match self.threads {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Ok(p)
    }
}

/// Arguments of `albscope analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Include ok requests in full, not only failed ones.
    #[arg(long)]
    pub all: bool,
    /// Exit 1 when a request matches: category names (comma-separated), `lb-5xx` (a 5xx the
    /// ALB generated) or `any-5xx`. Requests still in flight at the end of the capture and
    /// those whose outcome is not visible (an encrypted front end without keys or back end,
    /// or a TLS back end without keys or front end) are neither ok nor failed and match
    /// nothing, `undetermined` included.
    #[arg(
        long = "fail-on",
        value_name = "CATS|lb-5xx|any-5xx",
        value_delimiter = ','
    )]
    pub fail_on: Vec<String>,
    /// Write the report to FILE instead of stdout (`-`: stdout). The file is written beside
    /// FILE and renamed into place when complete; it may not be an input.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Colour the text report: auto (when stdout is a terminal and NO_COLOR is unset, or
    /// CLICOLOR_FORCE is set), always or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Markdown only: keep the report under N bytes (default 60000, under a GitHub comment's
    /// 65,536 characters) by listing the first failed requests of each category in full and
    /// counting the rest, which the report says; 0: no limit. The other formats are never
    /// cut (--max-requests bounds them); giving --max-bytes with another format is an error.
    #[arg(long = "max-bytes", value_name = "N")]
    pub max_bytes: Option<usize>,
    /// Access logs to join.
    #[command(flatten)]
    pub log: AccessLogArgs,
    /// ALB and capture options.
    #[command(flatten)]
    pub options: AnalysisOptions,
}

/// Whether to colour output going to a terminal (`to_terminal`) under `choice`, `NO_COLOR` and
/// `CLICOLOR_FORCE`.
pub fn use_color(choice: ColorChoice, to_terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if set("CLICOLOR_FORCE") {
                true
            } else {
                to_terminal && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty())
            }
        }
    }
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
            FailOn::Lb5xx => a.metrics.cloudwatch.counts.elb_5xx > 0,
            FailOn::Any5xx => by_category
                .values()
                .flat_map(|c| c.statuses.iter())
                .any(|(status, n)| *n > 0 && status.is_some_and(|s| (500..600).contains(&s))),
        }
    }
}

/// Opens the inputs and runs the analysis.
pub fn run_analysis(
    inputs: &Inputs,
    options: &AnalysisOptions,
    keep_ok: bool,
) -> Result<Analysis, CliError> {
    run_analysis_with_log(inputs, options, keep_ok, None)
}

/// [`run_analysis`], joining the requests to `log` when given.
pub fn run_analysis_with_log(
    inputs: &Inputs,
    options: &AnalysisOptions,
    keep_ok: bool,
    log: Option<LogIndex>,
) -> Result<Analysis, CliError> {
    let mut alb = options.alb_config()?;
    let pipeline = options.pipeline_config()?;
    let names: Vec<String> = inputs.named.iter().map(|(n, _)| n.clone()).collect();
    alb.clock_offsets = options.time_offsets(&names)?;
    // Several files may disagree on time: see `analyze_files` (a stream among them that was
    // not copied to a file cannot be read twice: its offset is then reported, not applied).
    let mut analysis = analyze_files(
        &inputs.named,
        inputs.rereadable,
        &pipeline,
        alb,
        || options.keep(keep_ok),
        log,
    )
    .map_err(|e| CliError::Unreadable(e.to_string()))?;
    analysis.rerun_options = options.rerun_args();
    Ok(analysis)
}

/// The index of the access logs for the join of `inputs` ([`read_access_logs`]), `None`
/// without logs.
pub fn access_log_index(
    log: &AccessLogArgs,
    inputs: &Inputs,
) -> Result<Option<LogIndex>, CliError> {
    if log.access_log.is_empty() {
        return Ok(None);
    }
    read_access_logs(log, inputs).map(Some)
}

/// Reads the access logs into an index for the join of `inputs` (whose time span is read
/// first so that only entries near it are indexed).
fn read_access_logs(log: &AccessLogArgs, inputs: &Inputs) -> Result<LogIndex, CliError> {
    super::io::check_inputs(&log.access_log, true)?;
    let opts = JoinOptions {
        max_entries: log.max_log_entries,
        capture_span: capture_span(inputs),
        ..JoinOptions::default()
    };
    LogIndex::from_reader(LogReader::new(&log.access_log), opts)
        .map_err(|e| CliError::Unreadable(format!("access log {e}")))
}

/// First and last packet times of the captures (a quick pass through the capture layer only);
/// `None` for unreadable inputs or no packets.
fn capture_span(inputs: &Inputs) -> Option<(Timestamp, Timestamp)> {
    let mut reader = CaptureReader::open_named(&inputs.named).ok()?;
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
    // Everything that can fail on the command line fails before the analysis.
    if args.max_bytes.is_some() && !matches!(args.format, FormatArg::Markdown) {
        return Err(CliError::Usage(
            "--max-bytes applies to --format markdown only".into(),
        ));
    }
    args.options.alb_config()?;
    args.options.pipeline_config()?;
    args.options.input.warn_key_log()?;
    let paths = args.options.input.paths();
    let given: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.options.time_offsets(&given)?;
    let mut read = paths.clone();
    read.extend(args.log.access_log.iter().cloned());
    let sink = Sink::open(args.output.as_deref(), &read, "-o")?;
    let inputs = Inputs::prepare(&paths, !args.log.access_log.is_empty())?;
    let log = access_log_index(&args.log, &inputs)?;
    let analysis = run_analysis_with_log(&inputs, &args.options, args.all, log)?;
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Html => Format::Html,
    };
    let to_terminal = sink.is_stdout() && std::io::stdout().is_terminal();
    let text = TextOptions {
        color: use_color(args.color, to_terminal),
    };
    let markdown = MarkdownOptions {
        max_bytes: Some(args.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)),
    };
    let threads = args.options.pipeline_config()?.threads;
    sink.write_with(|w| match format {
        Format::Markdown => write_markdown_with(&analysis, &markdown, w),
        Format::Json => write_json_on(&analysis, w, threads),
        _ => render(&analysis, format, &text, w),
    })?;
    let matched = fail_on.iter().any(|c| c.matches(&analysis));
    warn_key_log_problems(&analysis.stats.key_log_problems);
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
