//! Joins ALB access-log entries to the requests of a capture, and says where the two disagree.
//!
//! A [`LogIndex`] is built from the whole log before the capture is analysed; the
//! [`super::Analyzer`] then asks it for each request as the request is finalised
//! ([`LogIndex::join`]) and gathers what was left over at the end ([`LogIndex::finish`]).
//!
//! Matching, in order:
//! 1. **trace id**: the `Root=` part of the request's `X-Amzn-Trace-Id` (as the ALB sent it to
//!    the target) equals the `Root=` part of the log's `trace_id`;
//! 2. **client + time**: the log's `client:port` is the request's client endpoint and its
//!    `request_creation_time` is within [`JoinOptions::time_tolerance`] of the request's first
//!    byte at the ALB; the closest unused entry wins. An entry carrying a different trace id than
//!    the request is never taken this way;
//! 3. **target + time**, only for a request whose client the capture does not show (back end
//!    only) and that has no trace id (a failed connect sends no request): the one unused entry
//!    for the same target (and client IP, when `X-Forwarded-For` named it) created within
//!    [`TARGET_TIME_WINDOW_MS`]; none when several qualify.
//!
//! Each log entry joins at most one request. Joins are made in the order requests are
//! finalised, so a request without trace id could take the log line of a neighbour on the same
//! client connection (within the tolerance) whose own request comes later and whose log line
//! is then counted as unjoined; the closest-in-time rule makes that rare.
//!
//! Memory: the index keeps every parsed entry (its fields, without the raw line text) plus three
//! hash maps of `u32` positions (by trace id Root, client endpoint, target endpoint): about
//! 1.5 KB an entry (estimated from the field layout), some 3-4 times the log's text size (an
//! entry is ~400 bytes of text). It grows with the log, not with the capture; a log covering the
//! capture's time span is small next to the capture (one line per request against the request's
//! packets), but 1 million entries cost about 1.5 GB: give `--access-log` the log files of the
//! capture's time span, not a month of them.

use super::{Category, Finding};
use crate::accesslog::{parse_rfc3339, HostPort, LogEntry};
use crate::capture::{Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

/// Window of the target + time join (milliseconds either side).
pub const TARGET_TIME_WINDOW_MS: i64 = 250;

/// Most requests without log entry, and log entries without request, listed in the summary.
pub const MAX_UNJOINED_LISTED: usize = 20;

/// How a log entry was matched to a captured request.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinMethod {
    /// Same `X-Amzn-Trace-Id` Root.
    TraceId,
    /// Same client `ip:port`, `request_creation_time` within the tolerance of the request's
    /// first byte.
    ClientTime,
    /// Only when the capture does not show the client (back end only, no trace id: a failed
    /// connect): the only unused entry for the same target whose `request_creation_time` is
    /// within [`TARGET_TIME_WINDOW_MS`] of the request's start.
    TargetTime,
}

impl JoinMethod {
    /// For display: `trace id` or `client ip:port + time`.
    pub fn describe(self) -> &'static str {
        match self {
            JoinMethod::TraceId => "trace id",
            JoinMethod::ClientTime => "client ip:port + time",
            JoinMethod::TargetTime => "target ip:port + time, the only candidate",
        }
    }
}

/// Default for [`JoinOptions::max_entries`].
pub const DEFAULT_MAX_LOG_ENTRIES: usize = 500_000;

/// How far outside the capture's span (beyond the time tolerance) an entry is still indexed
/// when the span is known beforehand: a trace-id join may cross a clock difference.
const SPAN_MARGIN: Duration = Duration(3_600_000_000_000);

/// Tolerances and limits of the join.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct JoinOptions {
    /// Largest gap between the log's `request_creation_time` and the request's first byte for a
    /// client + time join (and beyond which a trace-id join notes a clock difference).
    pub time_tolerance: Duration,
    /// Largest difference of a processing time (seconds) before it is flagged.
    pub processing_tolerance_s: f64,
    /// Most entries indexed (each costs about 2 KB: 1929 bytes measured by `cargo bench --bench
    /// accesslog`); later ones are counted in
    /// [`LogJoinSummary::entries_not_indexed`].
    pub max_entries: usize,
    /// The capture's first and last packet times, when known before the logs are read:
    /// entries more than an hour outside are only counted (as outside the capture).
    pub capture_span: Option<(Timestamp, Timestamp)>,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            time_tolerance: Duration::from_millis(1000),
            processing_tolerance_s: 0.1,
            max_entries: DEFAULT_MAX_LOG_ENTRIES,
            capture_span: None,
        }
    }
}

/// The access-log line joined to a request: its key fields, how it was joined, and where it
/// disagrees with what the capture shows (the request's `access_log` view).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedEntry {
    /// `file:line` of the log entry.
    pub source: String,
    /// How it was joined.
    pub joined_by: JoinMethod,
    /// The log's `time` (when the ALB answered), RFC 3339.
    pub time: String,
    /// The log's `request_creation_time`, RFC 3339.
    pub request_creation_time: Option<String>,
    /// The log's `client:port`.
    pub client: String,
    /// The log's `target:port` (null for `-`).
    pub target: Option<String>,
    /// `request_processing_time` in seconds, -1 as logged.
    pub request_processing_time: f64,
    /// `target_processing_time` in seconds, -1 as logged.
    pub target_processing_time: f64,
    /// `response_processing_time` in seconds, -1 as logged.
    pub response_processing_time: f64,
    /// `elb_status_code` (null for `-`).
    pub elb_status_code: Option<u16>,
    /// `target_status_code`, `-` when none.
    pub target_status_code: String,
    /// The log's `"request"` field.
    pub request: Option<String>,
    /// The log's `trace_id`.
    pub trace_id: Option<String>,
    /// The log's `error_reason`.
    pub error_reason: Option<String>,
    /// Each way the log line and the capture disagree, one sentence each (empty: they agree).
    pub disagreements: Vec<String>,
}

/// A captured request that no log entry joined.
#[derive(Clone, Debug, PartialEq)]
pub struct UnloggedRequest {
    /// The request's id.
    pub id: String,
    /// Its start time.
    pub time: String,
    /// Client `ip:port`.
    pub client: Option<String>,
    /// The request for display.
    pub request: String,
    /// Status the client got.
    pub status: Option<u16>,
    /// Its category.
    pub category: Category,
}

/// A log entry that joined no captured request.
#[derive(Clone, Debug, PartialEq)]
pub struct UncapturedEntry {
    /// `file:line`.
    pub source: String,
    /// `request_creation_time` (or `time` when absent), RFC 3339.
    pub time: String,
    /// `client:port`.
    pub client: String,
    /// `"request"`.
    pub request: Option<String>,
    /// `elb_status_code`.
    pub elb_status_code: Option<u16>,
    /// `trace_id`.
    pub trace_id: Option<String>,
}

/// The summary of the join (the `access_log_join` block of the analysis).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogJoinSummary {
    /// Log files read.
    pub files: Vec<String>,
    /// Entries read.
    pub entries: u64,
    /// Lines that were not access-log entries (skipped).
    pub malformed_lines: u64,
    /// Captured requests (health checks excluded) offered to the join.
    pub requests: u64,
    /// Requests joined to an entry.
    pub joined: u64,
    /// Of which by trace id.
    pub joined_by_trace_id: u64,
    /// Of which by client ip:port + time.
    pub joined_by_client_time: u64,
    /// Of which by target ip:port + time (back end only, no trace id).
    pub joined_by_target_time: u64,
    /// Joined requests whose log line disagrees with the capture.
    pub with_disagreements: u64,
    /// Ids of the first of them (at most [`MAX_UNJOINED_LISTED`]), ok requests included.
    pub disagreeing_requests: Vec<String>,
    /// Captured requests with no log entry.
    pub requests_without_entry: u64,
    /// Entries within the capture's time span that joined no captured request.
    pub entries_without_request: u64,
    /// Entries outside the capture's time span (not expected to join).
    pub entries_outside_capture: u64,
    /// Entries read past [`JoinOptions::max_entries`] (`--max-log-entries`) and not indexed:
    /// requests they would have explained show as without entry.
    pub entries_not_indexed: u64,
    /// The first captured requests without entry (at most [`MAX_UNJOINED_LISTED`]).
    pub unlogged_requests: Vec<UnloggedRequest>,
    /// The first entries without captured request, in log order (at most
    /// [`MAX_UNJOINED_LISTED`]).
    pub uncaptured_entries: Vec<UncapturedEntry>,
}

struct Indexed {
    source: String,
    entry: LogEntry,
    used: bool,
}

/// The access log, indexed by trace id Root and by client endpoint, with the join state.
pub struct LogIndex {
    opts: JoinOptions,
    files: Vec<String>,
    malformed: u64,
    entries: Vec<Indexed>,
    by_trace: HashMap<String, Vec<u32>>,
    by_client: HashMap<(IpAddr, u16), Vec<u32>>,
    by_target: HashMap<(IpAddr, u16), Vec<u32>>,
    /// Entries skipped because they lie far outside the known capture span.
    skipped_outside: u64,
    /// Entries skipped past `max_entries`.
    not_indexed: u64,
    summary: LogJoinSummary,
}

/// The `Root=` value of an `X-Amzn-Trace-Id` (the whole trimmed value when it has no `Root=`).
pub fn trace_root(v: &str) -> Option<String> {
    let v = v.trim();
    let root = v
        .split(';')
        .map(str::trim)
        .find_map(|p| {
            p.get(..5)
                .filter(|k| k.eq_ignore_ascii_case("root="))
                .and_then(|_| p.get(5..))
        })
        .unwrap_or(v);
    (!root.is_empty() && root != "-").then(|| root.to_string())
}

fn endpoint_key(s: &str) -> Option<(IpAddr, u16)> {
    let hp = HostPort::parse(s).ok()?;
    Some((hp.ip.parse().ok()?, hp.port?))
}

fn secs_or_minus1(d: Option<Duration>) -> f64 {
    d.map_or(-1.0, |d| super::round3(d.as_secs_f64()))
}

impl LogIndex {
    /// An empty index with these tolerances; `files` names the log inputs.
    pub fn new(opts: JoinOptions, files: Vec<String>) -> LogIndex {
        LogIndex {
            opts,
            files,
            malformed: 0,
            entries: Vec::new(),
            by_trace: HashMap::new(),
            by_client: HashMap::new(),
            by_target: HashMap::new(),
            skipped_outside: 0,
            not_indexed: 0,
            summary: LogJoinSummary::default(),
        }
    }

    /// Reads a whole [`crate::accesslog::LogReader`] stream into an index. Malformed lines are
    /// counted; an input that cannot be read is returned as the error (with its file name).
    pub fn from_reader(
        mut reader: crate::accesslog::LogReader,
        opts: JoinOptions,
    ) -> Result<LogIndex, String> {
        use crate::accesslog::LogRecord;
        let mut idx = LogIndex::new(opts, Vec::new());
        while let Some(rec) = reader.next() {
            match rec {
                LogRecord::Entry { pos, entry } => {
                    let src = format!("{}:{}", reader.file_name(pos.file), pos.line);
                    idx.add(src, *entry);
                }
                LogRecord::Malformed(_) => idx.malformed += 1,
                LogRecord::InputError { file, line, error } => {
                    return Err(if line == 0 {
                        format!("{file}: {error}")
                    } else {
                        format!("{file}:{line}: {error}")
                    })
                }
            }
        }
        idx.files = reader.file_names().to_vec();
        Ok(idx)
    }

    /// Adds one entry read at `source` (`file:line`).
    pub fn add(&mut self, source: String, mut entry: LogEntry) {
        if let Some((first, last)) = self.opts.capture_span {
            let margin = Duration(self.opts.time_tolerance.0.saturating_add(SPAN_MARGIN.0));
            let t = entry.request_creation_time.unwrap_or(entry.time);
            let from = first.plus(Duration(margin.0.saturating_neg()));
            let to = last.plus(margin);
            let near = |t: Timestamp| t >= from && t <= to;
            if !near(t) && !near(entry.time) {
                self.skipped_outside += 1;
                return;
            }
        }
        let i = match u32::try_from(self.entries.len()) {
            Ok(i) if self.entries.len() < self.opts.max_entries => i,
            _ => {
                self.not_indexed += 1;
                return;
            }
        };
        entry.raw = String::new();
        if let Some(root) = entry.trace_id.as_deref().and_then(trace_root) {
            self.by_trace.entry(root).or_default().push(i);
        }
        if let Ok(ip) = entry.client.ip.parse::<IpAddr>() {
            if let Some(port) = entry.client.port {
                self.by_client.entry((ip, port)).or_default().push(i);
            }
        }
        if let Some(key) = entry
            .target
            .as_ref()
            .and_then(|t| Some((t.ip.parse::<IpAddr>().ok()?, t.port?)))
        {
            self.by_target.entry(key).or_default().push(i);
        }
        self.entries.push(Indexed {
            source,
            entry,
            used: false,
        });
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn created(&self, i: u32) -> Option<Timestamp> {
        self.entries
            .get(i as usize)
            .and_then(|e| e.entry.request_creation_time)
    }

    /// Finds, marks used and describes the log entry of `f`; counts the request either way.
    pub fn join(&mut self, f: &Finding) -> Option<LoggedEntry> {
        self.summary.requests += 1;
        let start = f
            .access_log
            .request_creation_time
            .as_deref()
            .or(Some(f.time.as_str()))
            .and_then(|t| parse_rfc3339(t).ok());
        let root = f
            .trace_id
            .as_deref()
            .or(f.access_log.trace_id.as_deref())
            .and_then(trace_root);
        let gap = |idx: &LogIndex, i: u32| -> i64 {
            match (idx.created(i), start) {
                (Some(c), Some(s)) => c.since(s).0.saturating_abs(),
                _ => i64::MAX,
            }
        };
        let mut found: Option<(u32, JoinMethod)> = None;
        if let Some(r) = &root {
            if let Some(list) = self.by_trace.get(r) {
                found = list
                    .iter()
                    .copied()
                    .filter(|i| self.entries.get(*i as usize).is_some_and(|e| !e.used))
                    .min_by_key(|i| gap(self, *i))
                    .map(|i| (i, JoinMethod::TraceId));
            }
        }
        if found.is_none() {
            if let (Some(key), Some(_)) = (f.client.as_deref().and_then(endpoint_key), start) {
                if let Some(list) = self.by_client.get(&key) {
                    let tol = self.opts.time_tolerance.0.saturating_abs();
                    found = list
                        .iter()
                        .copied()
                        .filter(|i| {
                            self.entries.get(*i as usize).is_some_and(|e| {
                                let other_trace = match (&root, e.entry.trace_id.as_deref()) {
                                    (Some(r), Some(t)) => trace_root(t).is_some_and(|t| &t != r),
                                    _ => false,
                                };
                                !e.used && !other_trace
                            })
                        })
                        .filter(|i| gap(self, *i) <= tol)
                        .min_by_key(|i| gap(self, *i))
                        .map(|i| (i, JoinMethod::ClientTime));
                }
            }
        }
        if found.is_none() && f.client.is_none() {
            if let (Some(key), Some(_)) = (f.target.as_deref().and_then(endpoint_key), start) {
                let win = Duration::from_millis(TARGET_TIME_WINDOW_MS).0;
                if let Some(list) = self.by_target.get(&key) {
                    let ip = f
                        .client_ip
                        .as_deref()
                        .and_then(|c| c.parse::<IpAddr>().ok());
                    let mut hits = list.iter().copied().filter(|i| {
                        self.entries.get(*i as usize).is_some_and(|e| {
                            !e.used
                                && ip.map_or(true, |ip| e.entry.client.ip.parse().ok() == Some(ip))
                        }) && gap(self, *i) <= win
                    });
                    if let (Some(i), None) = (hits.next(), hits.next()) {
                        found = Some((i, JoinMethod::TargetTime));
                    }
                }
            }
        }
        let Some((i, method)) = found else {
            self.summary.requests_without_entry += 1;
            if self.summary.unlogged_requests.len() < MAX_UNJOINED_LISTED {
                self.summary.unlogged_requests.push(UnloggedRequest {
                    id: f.id.clone(),
                    time: f.time.clone(),
                    client: f.client.clone(),
                    request: f.request.clone(),
                    status: f.status,
                    category: f.category,
                });
            }
            return None;
        };
        let opts = self.opts;
        let ix = self.entries.get_mut(i as usize)?;
        ix.used = true;
        let e = &ix.entry;
        let disagreements = disagreements(f, e, method, start, &opts);
        self.summary.joined += 1;
        match method {
            JoinMethod::TraceId => self.summary.joined_by_trace_id += 1,
            JoinMethod::ClientTime => self.summary.joined_by_client_time += 1,
            JoinMethod::TargetTime => self.summary.joined_by_target_time += 1,
        }
        if !disagreements.is_empty() {
            self.summary.with_disagreements += 1;
            if self.summary.disagreeing_requests.len() < MAX_UNJOINED_LISTED {
                self.summary.disagreeing_requests.push(f.id.clone());
            }
        }
        Some(LoggedEntry {
            source: ix.source.clone(),
            joined_by: method,
            time: e.time.to_rfc3339(),
            request_creation_time: e.request_creation_time.map(Timestamp::to_rfc3339),
            client: e.client.to_string(),
            target: e.target.as_ref().map(HostPort::to_string),
            request_processing_time: secs_or_minus1(e.request_processing_time),
            target_processing_time: secs_or_minus1(e.target_processing_time),
            response_processing_time: secs_or_minus1(e.response_processing_time),
            elb_status_code: e.elb_status_code,
            target_status_code: e
                .target_status_code
                .map_or_else(|| "-".to_string(), |s| s.to_string()),
            request: e.request.clone(),
            trace_id: e.trace_id.clone(),
            error_reason: e.error_reason.clone(),
            disagreements,
        })
    }

    /// The summary: counts, and the entries left unjoined. Entries whose
    /// `request_creation_time` (or `time`) falls outside `[first, last]` of the capture
    /// (widened by the time tolerance) are counted apart: the capture could not hold them.
    pub fn finish(mut self, first: Option<Timestamp>, last: Option<Timestamp>) -> LogJoinSummary {
        let tol = self.opts.time_tolerance;
        let mut s = std::mem::take(&mut self.summary);
        s.files = self.files;
        s.entries = self.entries.len() as u64 + self.skipped_outside + self.not_indexed;
        s.entries_outside_capture = self.skipped_outside;
        s.entries_not_indexed = self.not_indexed;
        s.malformed_lines = self.malformed;
        for ix in self.entries.iter().filter(|e| !e.used) {
            let e = &ix.entry;
            let t = e.request_creation_time.unwrap_or(e.time);
            let inside = match (first, last) {
                (Some(a), Some(b)) => {
                    t >= a.plus(Duration(tol.0.saturating_neg())) && t <= b.plus(tol)
                        || e.time >= a && e.time <= b
                }
                _ => false,
            };
            if !inside {
                s.entries_outside_capture += 1;
                continue;
            }
            s.entries_without_request += 1;
            if s.uncaptured_entries.len() < MAX_UNJOINED_LISTED {
                s.uncaptured_entries.push(UncapturedEntry {
                    source: ix.source.clone(),
                    time: t.to_rfc3339(),
                    client: e.client.to_string(),
                    request: e.request.clone(),
                    elb_status_code: e.elb_status_code,
                    trace_id: e.trace_id.clone(),
                });
            }
        }
        s
    }
}

fn fmt_secs(v: f64) -> String {
    if v < 0.0 {
        "-1".into()
    } else {
        format!("{v:.3}")
    }
}

/// The ways log entry `e` and the capture's view of `f` disagree.
fn disagreements(
    f: &Finding,
    e: &LogEntry,
    method: JoinMethod,
    start: Option<Timestamp>,
    opts: &JoinOptions,
) -> Vec<String> {
    let mut out = Vec::new();
    let al = &f.access_log;
    if let (Some(cap), log) = (al.elb_status_code, e.elb_status_code) {
        if log != Some(cap) {
            out.push(format!(
                "elb_status_code: the log says {}, the capture shows {cap}",
                log.map_or_else(|| "-".to_string(), |s| s.to_string())
            ));
        }
    }
    let cap_target: Option<u16> = al.target_status_code.parse().ok();
    let log_target = e.target_status_code;
    if cap_target != log_target && (al.target_status_code != "-" || f.target.is_some()) {
        let log_s = log_target.map_or_else(|| "-".to_string(), |s| s.to_string());
        let msg = match (log_target, cap_target, f.category) {
            (Some(s), None, Category::TargetIdleTimeout) => format!(
                "target_status_code: the log says {s}, but the capture shows the target sent no \
                 response within the idle timeout (a late reply is answered by the ALB's RST, \
                 never relayed): that {s} is what the target's own log would say"
            ),
            (None, Some(s), Category::ClientClosed) => format!(
                "target_status_code: the log says -, the capture shows the target answered {s} \
                 after the client had gone (the ALB logged the request when the client closed)"
            ),
            _ => format!(
                "target_status_code: the log says {log_s}, the capture shows {}",
                al.target_status_code
            ),
        };
        out.push(msg);
    }
    let times = [
        (
            "request_processing_time",
            e.request_processing_time,
            al.request_processing_time,
        ),
        (
            "target_processing_time",
            e.target_processing_time,
            al.target_processing_time,
        ),
        (
            "response_processing_time",
            e.response_processing_time,
            al.response_processing_time,
        ),
    ];
    for (name, log, cap) in times {
        let Some(cap) = cap else { continue };
        if cap < 0.0 && (f.target.is_none() || cap_target.is_some()) {
            // No back end in the capture, or a target answer whose request or timing the
            // capture lost (truncated mirror): its -1 only says nothing was seen there.
            continue;
        }
        let log = secs_or_minus1(log);
        match (log < 0.0, cap < 0.0) {
            (true, false) => out.push(format!(
                "{name}: the log says -1 (step never happened), the capture shows it took {} s",
                fmt_secs(cap)
            )),
            (false, true) => out.push(format!(
                "{name}: the log says {} s, the capture shows the step never happened",
                fmt_secs(log)
            )),
            (false, false) if (log - cap).abs() > opts.processing_tolerance_s => out.push(format!(
                "{name}: the log says {} s, the capture {} s (more than {} s apart)",
                fmt_secs(log),
                fmt_secs(cap),
                opts.processing_tolerance_s
            )),
            _ => {}
        }
    }
    if method == JoinMethod::TraceId {
        if let (Some(c), Some(s)) = (e.request_creation_time, start) {
            let d = c.since(s);
            if d.0.saturating_abs() > opts.time_tolerance.0.saturating_abs() {
                out.push(format!(
                    "request_creation_time: the log's is {} {} the capture's first byte (clocks \
                     apart, or the capture's timestamps are off)",
                    Duration(d.0.saturating_abs()),
                    if d.0 > 0 { "after" } else { "before" }
                ));
            }
        }
    }
    if let (Some(ft), Some(lt)) = (f.target.as_deref(), e.target.as_ref()) {
        if endpoint_key(ft).is_some_and(|k| {
            lt.ip.parse::<IpAddr>().ok() != Some(k.0) || lt.port.is_some_and(|p| p != k.1)
        }) {
            out.push(format!("target: the log says {lt}, the capture shows {ft}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accesslog::parse_line;
    use crate::alb::PairingMethod;
    use crate::diagnose::AccessLogView;

    const LINE: &str = "http 2025-12-11T16:43:58.020850Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:40007 10.0.2.15:80 0.000 -1 -1 504 - 180 277 \"GET http://h:80/delay.php HTTP/1.1\" \"curl/8.11.1\" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 \"Root=1-693af492-4b991651684c4e2c5a1036e6\" \"-\" \"-\" 0 2025-12-11T16:42:58.020000Z \"forward\" \"-\" \"-\" \"10.0.2.15:80\" \"-\" \"-\" \"-\" TID_0123456789abcdef0123456789abcdef \"-\" \"-\" \"-\"";

    fn finding(trace: Option<&str>) -> Finding {
        Finding {
            id: "f2.0".into(),
            time: "2025-12-11T16:42:58.020700Z".into(),
            client: Some("13.239.55.82:40007".into()),
            client_ip: Some("13.239.55.82".into()),
            alb: Some("10.0.1.25:80".into()),
            target: Some("10.0.2.15:80".into()),
            method: Some("GET".into()),
            path: Some("/delay.php".into()),
            host: None,
            request: "GET /delay.php".into(),
            status: Some(504),
            status_inferred: false,
            front_encrypted: false,
            generated_by: Some(super::super::GeneratedBy::Lb),
            category: Category::TargetIdleTimeout,
            headline: String::new(),
            trace_id: trace.map(str::to_string),
            access_log: AccessLogView {
                request_creation_time: Some("2025-12-11T16:42:58.020700Z".into()),
                request_processing_time: Some(0.0),
                target_processing_time: Some(-1.0),
                response_processing_time: Some(-1.0),
                elb_status_code: Some(504),
                target_status_code: "-".into(),
                trace_id: trace.map(str::to_string),
            },
            timeline: Vec::new(),
            evidence: Vec::new(),
            fix: None,
            notes: Vec::new(),
            pairing: PairingMethod::Headers,
            target_server: None,
            logged: None,
        }
    }

    fn index(line: &str) -> LogIndex {
        let mut idx = LogIndex::new(JoinOptions::default(), vec!["x.log".into()]);
        idx.add("x.log:1".into(), parse_line(line).expect("line parses"));
        idx
    }

    #[test]
    fn trace_root_takes_the_root_part() {
        assert_eq!(
            trace_root("Self=1-a-b;Root=1-693af492-4b99;Sampled=1").as_deref(),
            Some("1-693af492-4b99")
        );
        assert_eq!(trace_root("Root=1-x").as_deref(), Some("1-x"));
        assert_eq!(trace_root("-"), None);
    }

    #[test]
    fn joins_by_trace_id_and_agrees() {
        let mut idx = index(LINE);
        let f = finding(Some("Root=1-693af492-4b991651684c4e2c5a1036e6"));
        let l = idx.join(&f).expect("joined");
        assert_eq!(l.joined_by, JoinMethod::TraceId);
        assert!(l.disagreements.is_empty(), "{:?}", l.disagreements);
        // The entry is used: the same request again finds nothing.
        assert!(idx.join(&f).is_none());
        let s = idx.finish(None, None);
        assert_eq!((s.joined, s.requests_without_entry), (1, 1));
    }

    #[test]
    fn falls_back_to_client_and_time_within_tolerance() {
        let mut idx = index(LINE);
        let l = idx.join(&finding(None)).expect("joined");
        assert_eq!(l.joined_by, JoinMethod::ClientTime);
        let mut idx = index(LINE);
        let mut far = finding(None);
        far.access_log.request_creation_time = Some("2025-12-11T16:43:00.100000Z".into());
        assert!(idx.join(&far).is_none());
        // A different trace id is another request even from the same client at the same time.
        let mut idx = index(LINE);
        assert!(idx
            .join(&finding(Some("Root=1-693af492-000000000000000000000000")))
            .is_none());
    }

    #[test]
    fn flags_status_and_minus_one_disagreements() {
        let bad = LINE.replace("0.000 -1 -1 504 -", "0.000 70.000 0.000 200 200");
        let mut idx = index(&bad);
        let l = idx
            .join(&finding(Some("Root=1-693af492-4b991651684c4e2c5a1036e6")))
            .expect("joined");
        let d = l.disagreements.join("\n");
        assert!(
            d.contains("elb_status_code: the log says 200, the capture shows 504"),
            "{d}"
        );
        assert!(d.contains("idle timeout"), "{d}");
        assert!(d.contains("target_processing_time: the log says 70.000 s, the capture shows the step never happened"), "{d}");
        let mut idx = index(&LINE.replace("0.000 -1 -1 504 -", "-1 -1 -1 504 -"));
        let l = idx.join(&finding(None)).expect("joined");
        assert_eq!(l.disagreements.len(), 1, "{:?}", l.disagreements);
        assert!(l.disagreements[0].starts_with("request_processing_time: the log says -1"));
    }

    #[test]
    fn target_and_time_only_without_client_and_only_when_unique() {
        let mut f = finding(None);
        f.client = None;
        let mut idx = index(LINE);
        let mut other_ip = f.clone();
        other_ip.client_ip = Some("10.9.9.9".into());
        assert!(
            idx.join(&other_ip).is_none(),
            "X-Forwarded-For names another client"
        );
        let l = idx.join(&f).expect("joined");
        assert_eq!(l.joined_by, JoinMethod::TargetTime);
        assert_eq!(l.client, "13.239.55.82:40007");
        // Two entries for the target in the window: ambiguous, no join.
        let mut idx = index(LINE);
        let other = LINE.replace("13.239.55.82:40007", "13.239.55.82:40008");
        idx.add("x.log:2".into(), parse_line(&other).expect("parses"));
        assert!(idx.join(&f).is_none());
        // With the client known, the target is never used to join.
        let mut idx = index(&LINE.replace("13.239.55.82:40007", "10.1.1.1:1"));
        assert!(idx.join(&finding(None)).is_none());
    }

    #[test]
    fn unjoined_entries_inside_and_outside_the_capture() {
        let idx = index(LINE);
        let first = parse_rfc3339("2025-12-11T16:42:00Z").ok();
        let last = parse_rfc3339("2025-12-11T16:44:00Z").ok();
        let s = idx.finish(first, last);
        assert_eq!(
            (s.entries_without_request, s.entries_outside_capture),
            (1, 0)
        );
        assert_eq!(s.uncaptured_entries.len(), 1);
        let idx = index(LINE);
        let s = idx.finish(
            parse_rfc3339("2025-12-11T17:00:00Z").ok(),
            parse_rfc3339("2025-12-11T17:01:00Z").ok(),
        );
        assert_eq!(
            (s.entries_without_request, s.entries_outside_capture),
            (0, 1)
        );
    }

    #[test]
    fn entries_past_the_limit_or_far_from_the_capture_are_counted_not_indexed() {
        let entry = || parse_line(LINE).expect("line parses");
        let opts = JoinOptions {
            max_entries: 2,
            ..JoinOptions::default()
        };
        let mut idx = LogIndex::new(opts, vec!["x.log".into()]);
        for i in 0..5 {
            idx.add(format!("x.log:{i}"), entry());
        }
        assert_eq!(idx.len(), 2);
        let s = idx.finish(None, None);
        assert_eq!((s.entries, s.entries_not_indexed), (5, 3));

        // The capture a day later: the entry is skipped and counted outside the capture.
        let day = Duration(86_400_000_000_000);
        let created = entry().request_creation_time.expect("logged");
        let span = (
            created.plus(day),
            created.plus(day).plus(Duration::from_millis(60_000)),
        );
        let opts = JoinOptions {
            capture_span: Some(span),
            ..JoinOptions::default()
        };
        let mut idx = LogIndex::new(opts, vec!["x.log".into()]);
        idx.add("x.log:1".into(), entry());
        assert!(idx.is_empty());
        let s = idx.finish(Some(span.0), Some(span.1));
        assert_eq!((s.entries, s.entries_outside_capture), (1, 1));

        // Half an hour later: still indexed (a trace-id join may cross a clock difference).
        let half_hour = Duration(1_800_000_000_000);
        let opts = JoinOptions {
            capture_span: Some((created.plus(half_hour), created.plus(half_hour))),
            ..JoinOptions::default()
        };
        let mut idx = LogIndex::new(opts, vec!["x.log".into()]);
        idx.add("x.log:1".into(), entry());
        assert_eq!(idx.len(), 1);
    }
}
