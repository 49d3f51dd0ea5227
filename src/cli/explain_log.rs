//! `albscope explain-log`: explains ALB access-log lines (4xx/5xx, or all with `--all`) from
//! their fields alone, then summarises by category and by target.
//!
//! # JSON output
//!
//! `--format json` writes one document:
//!
//! ```text
//! { "entries": [ ENTRY, ... ], "summary": SUMMARY }
//! ```
//!
//! `--format ndjson` writes one ENTRY object per line, each with `"record": "entry"`, then one
//! SUMMARY object with `"record": "summary"`.
//!
//! ENTRY fields: `file`, `line` (1-based), `time` and `request_creation_time` (RFC 3339, µs),
//! `elapsed_s` (seconds between them, or null), `type`, `client`, `target` (`ip:port` or null),
//! `request`, `user_agent`, `elb_status_code`, `target_status_code` (null for `-`),
//! `request_processing_time_s`, `target_processing_time_s`, `response_processing_time_s`
//! (seconds, null for `-1`), `trace_id`, `target_group_arn`, `error_reason`, `classification`,
//! `classification_reason`, then the explanation: `category` (DOMAIN.md taxonomy name),
//! `confidence` (`certain` | `likely` | `possible`), `generated_by` (`lb` | `target` | null),
//! `reasons` (strings), `also_possible` (category names), `fix` (string; null for `ok`).
//!
//! SUMMARY fields: `files`, `lines`, `entries`, `explained` (entries written), `malformed`,
//! `files_failed`, `by_category` (object name -> count, largest first), `by_target` (array of
//! `{ "target", "total", "by_category" }`, largest first; a `target` of null means none
//! was chosen, `(other)` pools targets past the first 10 000). Absent values are always null.
//!
//! Malformed lines go to stderr as `file:line: reason` and are skipped; a file whose first line
//! is not an access-log entry (a capture, a README) is named once, with what it looks like, and
//! skipped. Exit status: 0 done; 2 usage, or a missing or unreadable input; 3 nothing readable
//! (no input is a log, or no entry parsed and an input failed or only malformed lines); 4 an
//! input was not a log or broke off mid-way (the rest was explained).

use super::{CliError, EXIT_OK, EXIT_PARTIAL};
use albscope::accesslog::{
    explain_with, ExplainOptions, Explanation, LogEntry, LogReader, LogRecord, ReaderStats,
};
use albscope::capture::{looks_like, starts_like_access_log, Duration};
use albscope::taxonomy::GeneratedBy;
use clap::{Args, ValueEnum};
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Most malformed lines reported one by one on stderr; the rest are counted.
const MAX_MALFORMED_REPORTED: u64 = 100;
/// Most distinct targets tracked in the summary; further ones are pooled as `(other)`.
const MAX_TARGETS: usize = 10_000;

/// Output format of `explain-log`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable blocks and a summary.
    Text,
    /// One JSON document (see the module documentation).
    Json,
    /// One JSON object per line, then a summary object.
    Ndjson,
}

/// Arguments of `albscope explain-log`.
#[derive(Args, Debug)]
pub struct ExplainLogArgs {
    /// Access-log files (.log or .log.gz), folders (read recursively), or `-` for stdin.
    /// Without any, reads stdin (e.g. one pasted line).
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub format: LogFormat,
    /// Also list 2xx/3xx entries (category `ok`).
    #[arg(long)]
    pub all: bool,
    /// The load balancer's idle timeout in seconds (1-4000), to recognise idle timeouts.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=4000))]
    pub idle_timeout: u32,
}

#[derive(Serialize)]
struct EntryRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'static str>,
    file: &'a str,
    line: u64,
    time: String,
    request_creation_time: Option<String>,
    elapsed_s: Option<f64>,
    #[serde(rename = "type")]
    kind: &'a str,
    client: String,
    target: Option<String>,
    request: Option<&'a str>,
    user_agent: Option<&'a str>,
    elb_status_code: Option<u16>,
    target_status_code: Option<u16>,
    request_processing_time_s: Option<f64>,
    target_processing_time_s: Option<f64>,
    response_processing_time_s: Option<f64>,
    trace_id: Option<&'a str>,
    target_group_arn: Option<&'a str>,
    error_reason: Option<&'a str>,
    classification: Option<&'a str>,
    classification_reason: Option<&'a str>,
    #[serde(flatten)]
    explanation: &'a Explanation,
}

/// The tally's key for entries without a target (`-` in the log; null in JSON).
const NO_TARGET: &str = "-";

#[derive(Serialize)]
struct TargetSummary {
    target: Option<String>,
    total: u64,
    by_category: IndexMap<&'static str, u64>,
}

#[derive(Serialize)]
struct SummaryRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'static str>,
    files: u64,
    lines: u64,
    entries: u64,
    explained: u64,
    malformed: u64,
    files_failed: u64,
    by_category: IndexMap<&'static str, u64>,
    by_target: Vec<TargetSummary>,
}

#[derive(Default)]
struct Tally {
    explained: u64,
    by_category: BTreeMap<&'static str, u64>,
    by_target: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl Tally {
    fn add(&mut self, entry: &LogEntry, x: &Explanation) {
        self.explained += 1;
        *self.by_category.entry(x.category.name()).or_default() += 1;
        let mut key = entry
            .target
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| NO_TARGET.to_string());
        if !self.by_target.contains_key(&key) && self.by_target.len() >= MAX_TARGETS {
            key = "(other)".to_string();
        }
        *self
            .by_target
            .entry(key)
            .or_default()
            .entry(x.category.name())
            .or_default() += 1;
    }

    fn summary(&self, stats: &ReaderStats, record: Option<&'static str>) -> SummaryRecord {
        let sorted = |m: &BTreeMap<&'static str, u64>| {
            let mut v: Vec<_> = m.iter().map(|(k, n)| (*k, *n)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            v.into_iter().collect::<IndexMap<_, _>>()
        };
        let mut targets: Vec<(&String, u64, &BTreeMap<&'static str, u64>)> = self
            .by_target
            .iter()
            .map(|(t, m)| (t, m.values().sum(), m))
            .collect();
        targets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let by_target = targets
            .into_iter()
            .map(|(t, total, m)| TargetSummary {
                target: (t != NO_TARGET).then(|| t.clone()),
                total,
                by_category: sorted(m),
            })
            .collect();
        SummaryRecord {
            record,
            files: stats.files_opened,
            lines: stats.lines,
            entries: stats.entries,
            explained: self.explained,
            malformed: stats.malformed,
            files_failed: stats.files_failed,
            by_category: sorted(&self.by_category),
            by_target,
        }
    }
}

fn secs_f64(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e6)
}

fn opt_secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.3}", d.as_secs_f64()))
        .unwrap_or_else(|| "-1".to_string())
}

/// Escapes control characters (log text is untrusted: no terminal escapes reach the screen).
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        std::borrow::Cow::Owned(
            s.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn write_text(
    out: &mut impl Write,
    file: &str,
    line: u64,
    e: &LogEntry,
    x: &Explanation,
) -> io::Result<()> {
    let status = |s: Option<u16>| s.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
    writeln!(out, "{}  {}:{line}", e.time.to_rfc3339(), printable(file))?;
    write!(
        out,
        "  {} {} -> {}  status {} (target {})",
        e.kind,
        e.client,
        e.target
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into()),
        status(e.elb_status_code),
        status(e.target_status_code)
    )?;
    if let Some(el) = e.elapsed() {
        write!(out, "  held {el}")?;
    }
    writeln!(out)?;
    if let Some(r) = &e.request {
        writeln!(out, "  \"{}\"", r.escape_debug())?;
    }
    writeln!(
        out,
        "  times: request {}  target {}  response {}",
        opt_secs(e.request_processing_time),
        opt_secs(e.target_processing_time),
        opt_secs(e.response_processing_time)
    )?;
    let by = match x.generated_by {
        Some(GeneratedBy::Lb) => ", generated by the ALB",
        Some(GeneratedBy::Target) => ", generated by the target",
        None => "",
    };
    writeln!(out, "  => {} ({}{by})", x.category, x.confidence)?;
    for r in &x.reasons {
        writeln!(out, "     - {}", printable(r))?;
    }
    if !x.also_possible.is_empty() {
        let names: Vec<&str> = x.also_possible.iter().map(|c| c.name()).collect();
        writeln!(out, "     also possible: {}", names.join(", "))?;
    }
    if !x.fix.is_empty() {
        writeln!(out, "     fix: {}", printable(&x.fix))?;
    }
    writeln!(out)
}

fn write_text_summary(out: &mut impl Write, s: &SummaryRecord) -> io::Result<()> {
    writeln!(
        out,
        "Summary: {} explained of {} entries ({} lines, {} malformed skipped) in {} file(s){}",
        s.explained,
        s.entries,
        s.lines,
        s.malformed,
        s.files,
        if s.files_failed > 0 {
            format!(", {} file(s) unreadable", s.files_failed)
        } else {
            String::new()
        }
    )?;
    if s.by_category.is_empty() {
        return Ok(());
    }
    writeln!(out, "By category:")?;
    for (cat, n) in &s.by_category {
        writeln!(out, "  {cat:<32} {n:>8}")?;
    }
    writeln!(out, "By target:")?;
    for t in &s.by_target {
        let parts: Vec<String> = t
            .by_category
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        writeln!(
            out,
            "  {:<32} {:>8}  {}",
            t.target.as_deref().unwrap_or(NO_TARGET),
            t.total,
            parts.join(", ")
        )?;
    }
    Ok(())
}

/// What stdin looks like when its first bytes are binary and not an access log (a capture,
/// compressed data other than gzip), judged as a file's are: the bytes are only peeked at (left
/// in stdin's buffer for the log reader). Text that is not a log (a pasted line gone wrong) is
/// left to the reader, which names each malformed line.
fn stdin_not_a_log() -> Option<String> {
    let mut lock = io::stdin().lock();
    let prefix = io::BufRead::fill_buf(&mut lock).ok()?;
    let binary =
        prefix.contains(&0) || std::str::from_utf8(prefix).is_err_and(|e| e.error_len().is_some());
    (binary && !starts_like_access_log(prefix)).then(|| looks_like(prefix))
}

/// Runs `albscope explain-log`.
pub fn run(args: ExplainLogArgs) -> Result<ExitCode, CliError> {
    let mut inputs = args.inputs.clone();
    if inputs.is_empty() {
        if io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "explain-log: give access-log files or folders, or pipe lines on stdin".into(),
            ));
        }
        inputs.push(PathBuf::from("-"));
    }
    // Missing or unreadable inputs are usage errors; files that are not access logs (a
    // capture, a README) are named once, with what they look like, instead of line by line.
    super::io::check_inputs(&inputs, true)?;
    let mut not_logs = 0u64;
    let mut kept = Vec::with_capacity(inputs.len());
    for p in inputs {
        let not_log = if p.as_os_str() == "-" {
            stdin_not_a_log()
        } else if p.is_file() {
            let mut prefix = Vec::new();
            let read = std::fs::File::open(&p)
                .and_then(|f| io::Read::read_to_end(&mut io::Read::take(f, 4096), &mut prefix));
            (read.is_ok() && !starts_like_access_log(&prefix)).then(|| looks_like(&prefix))
        } else {
            None
        };
        if let Some(looks) = not_log {
            let name = if p.as_os_str() == "-" {
                "stdin".to_string()
            } else {
                p.display().to_string()
            };
            eprintln!("albscope: {name}: not an ALB access log (it looks like {looks})");
            not_logs += 1;
            continue;
        }
        kept.push(p);
    }
    if kept.is_empty() {
        return Err(CliError::Unreadable(
            "explain-log: no input is an ALB access log".into(),
        ));
    }
    let inputs = kept;
    let opts = ExplainOptions {
        idle_timeout: Duration(i64::from(args.idle_timeout) * 1_000_000_000),
    };
    let mut reader = LogReader::new(&inputs);
    let mut out = super::io::stdout();
    let mut tally = Tally::default();
    let mut malformed_reported = 0u64;
    let mut first_json = true;
    if args.format == LogFormat::Json {
        out.write_all(b"{\"entries\":[")?;
    }
    while let Some(rec) = reader.next() {
        match rec {
            LogRecord::Entry { pos, entry } => {
                if !args.all && !entry.is_error() {
                    continue;
                }
                let x = explain_with(&entry, &opts);
                tally.add(&entry, &x);
                let file = reader.file_name(pos.file);
                match args.format {
                    LogFormat::Text => write_text(&mut out, file, pos.line, &entry, &x)?,
                    LogFormat::Json | LogFormat::Ndjson => {
                        let ndjson = args.format == LogFormat::Ndjson;
                        let r = EntryRecord {
                            record: ndjson.then_some("entry"),
                            file,
                            line: pos.line,
                            time: entry.time.to_rfc3339(),
                            request_creation_time: entry
                                .request_creation_time
                                .map(|t| t.to_rfc3339()),
                            elapsed_s: secs_f64(entry.elapsed()),
                            kind: &entry.kind,
                            client: entry.client.to_string(),
                            target: entry.target.as_ref().map(|t| t.to_string()),
                            request: entry.request.as_deref(),
                            user_agent: entry.user_agent.as_deref(),
                            elb_status_code: entry.elb_status_code,
                            target_status_code: entry.target_status_code,
                            request_processing_time_s: secs_f64(entry.request_processing_time),
                            target_processing_time_s: secs_f64(entry.target_processing_time),
                            response_processing_time_s: secs_f64(entry.response_processing_time),
                            trace_id: entry.trace_id.as_deref(),
                            target_group_arn: entry.target_group_arn.as_deref(),
                            error_reason: entry.error_reason.as_deref(),
                            classification: entry.classification.as_deref(),
                            classification_reason: entry.classification_reason.as_deref(),
                            explanation: &x,
                        };
                        if !ndjson && !first_json {
                            out.write_all(b",")?;
                        }
                        first_json = false;
                        serde_json::to_writer(&mut out, &r).map_err(io::Error::from)?;
                        if ndjson {
                            out.write_all(b"\n")?;
                        }
                    }
                }
            }
            LogRecord::Malformed(m) => {
                malformed_reported += 1;
                if malformed_reported <= MAX_MALFORMED_REPORTED {
                    eprintln!("albscope: skipped {m}");
                }
            }
            LogRecord::InputError { file, line, error } => {
                if line == 0 {
                    eprintln!("albscope: {file}: {error}");
                } else {
                    eprintln!("albscope: {file}:{line}: {error} (lines before were read)");
                }
            }
        }
    }
    if malformed_reported > MAX_MALFORMED_REPORTED {
        eprintln!(
            "albscope: ... {} more malformed lines skipped",
            malformed_reported - MAX_MALFORMED_REPORTED
        );
    }
    let stats = reader.stats().clone();
    match args.format {
        LogFormat::Text => write_text_summary(&mut out, &tally.summary(&stats, None))?,
        LogFormat::Json => {
            out.write_all(b"],\"summary\":")?;
            serde_json::to_writer(&mut out, &tally.summary(&stats, None))
                .map_err(io::Error::from)?;
            out.write_all(b"}\n")?;
        }
        LogFormat::Ndjson => {
            serde_json::to_writer(&mut out, &tally.summary(&stats, Some("summary")))
                .map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    if stats.entries == 0 && (stats.files_failed > 0 || stats.malformed > 0) {
        return Err(CliError::Unreadable(
            "explain-log: no input line could be read as an ALB access-log entry".into(),
        ));
    }
    if stats.files_failed > 0 || not_logs > 0 {
        return Ok(ExitCode::from(EXIT_PARTIAL));
    }
    Ok(ExitCode::from(EXIT_OK))
}
