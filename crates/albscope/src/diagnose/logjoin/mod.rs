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
//! Times are compared on one clock: the log's offset against the capture's, measured on the
//! trace-id joins ([`clock`]), is taken off the log's times first.
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

pub mod clock;
mod index;
mod join;
mod summary;
#[cfg(test)]
mod tests;

pub use index::LogIndex;

use super::{RequestId, RequestSeen};
use crate::accesslog::HostPort;
use crate::capture::{Duration, Timestamp};
use crate::flow::Endpoint;
use crate::taxonomy::Category;

/// Window of the target + time join (milliseconds either side).
pub const TARGET_TIME_WINDOW_MS: i64 = 250;

/// Most requests without log entry, and log entries without request, listed in the summary.
pub const MAX_UNJOINED_LISTED: usize = 20;

/// How a log entry was matched to a captured request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
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

/// Default for [`JoinOptions::max_entries`].
pub const DEFAULT_MAX_LOG_ENTRIES: usize = 500_000;

/// How far outside the capture's span (beyond the time tolerance) an entry is still indexed
/// when the span is known beforehand: a trace-id join may cross a clock difference.
pub(super) const SPAN_MARGIN: Duration = Duration(3_600_000_000_000);

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
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedEntry {
    /// `file:line` of the log entry.
    pub source: String,
    /// How it was joined.
    pub joined_by: JoinMethod,
    /// The log's `time` (when the ALB answered).
    pub time: Timestamp,
    /// The log's `request_creation_time`.
    pub request_creation_time: Option<Timestamp>,
    /// The log's `client:port`.
    pub client: HostPort,
    /// The log's `target:port` (`None` for `-`).
    pub target: Option<HostPort>,
    /// `request_processing_time` (`None`: -1 as logged).
    pub request_processing_time: Option<Duration>,
    /// `target_processing_time` (`None`: -1 as logged).
    pub target_processing_time: Option<Duration>,
    /// `response_processing_time` (`None`: -1 as logged).
    pub response_processing_time: Option<Duration>,
    /// `elb_status_code` (`None` for `-`).
    pub elb_status_code: Option<u16>,
    /// `target_status_code` (`None` for `-`).
    pub target_status_code: Option<u16>,
    /// The log's `"request"` field.
    pub request: Option<String>,
    /// The log's `trace_id`.
    pub trace_id: Option<String>,
    /// The log's `error_reason`.
    pub error_reason: Option<String>,
    /// Each way the log line and the capture disagree (empty: they agree).
    pub disagreements: Vec<Disagreement>,
}

/// One of the three processing times of an access-log line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProcessingTime {
    /// `request_processing_time`.
    Request,
    /// `target_processing_time`.
    Target,
    /// `response_processing_time`.
    Response,
}

/// What the capture shows that explains a `target_status_code` the log disagrees on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TargetStatusReading {
    /// Nothing particular: the two simply differ.
    Differs,
    /// The log has a status but the target sent no response within the idle timeout (a late
    /// reply is answered by the ALB's RST, never relayed): the target's own log would say so.
    LateReplyNotRelayed,
    /// The log has none but the target answered after the client had gone (the ALB logged the
    /// request when the client closed).
    AnsweredAfterClientLeft,
}

/// One field on which a joined log line and the capture's view of the request disagree: the
/// field, the log's value and the capture's.
#[derive(Clone, Debug, PartialEq)]
pub enum Disagreement {
    /// `elb_status_code`.
    ElbStatus {
        /// The log's (`None` for `-`).
        log: Option<u16>,
        /// The capture's.
        capture: u16,
    },
    /// `target_status_code`.
    TargetStatus {
        /// The log's (`None` for `-`).
        log: Option<u16>,
        /// The capture's (`None` for `-`).
        capture: Option<u16>,
        /// What the capture shows about it.
        reading: TargetStatusReading,
    },
    /// A processing time: one side says the step never happened, or they are further apart
    /// than the tolerance.
    Processing {
        /// Which time.
        field: ProcessingTime,
        /// The log's (`None`: -1, the step never happened).
        log: Option<Duration>,
        /// The capture's, in seconds as its `access_log` view has it (-1: never happened).
        capture_s: f64,
        /// The tolerance it was compared with (seconds).
        tolerance_s: f64,
    },
    /// `request_creation_time` (trace-id joins only): the log's is this far after (negative:
    /// before) the capture's first byte, beyond the time tolerance.
    CreationTime {
        /// Log minus capture.
        log_minus_capture: Duration,
    },
    /// `target`: the log names another target than the capture.
    Target {
        /// The log's.
        log: HostPort,
        /// The capture's.
        capture: Endpoint,
    },
}

/// A captured request that no log entry joined.
#[derive(Clone, Debug, PartialEq)]
pub struct UnloggedRequest {
    /// The request's id.
    pub id: RequestId,
    /// Its start time (as the request's `time`).
    pub time: Timestamp,
    /// The client, when the front end was captured.
    pub client: Option<Endpoint>,
    /// What the request was, as far as the capture shows.
    pub request: RequestSeen,
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
    /// `request_creation_time` (or `time` when absent).
    pub time: Timestamp,
    /// `client:port`.
    pub client: HostPort,
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
    pub disagreeing_requests: Vec<RequestId>,
    /// Captured requests with no log entry.
    pub requests_without_entry: u64,
    /// Entries within the capture's time span that joined no captured request.
    pub entries_without_request: u64,
    /// Entries outside the capture's time span (not expected to join).
    pub entries_outside_capture: u64,
    /// Entries read past [`JoinOptions::max_entries`] (`--max-log-entries`) and not indexed:
    /// requests they would have explained show as without entry.
    pub entries_not_indexed: u64,
    /// How far the log's clock is ahead of the capture's, measured on trace-id joins, when it
    /// was far enough to be taken off the log's times before they were compared with the
    /// capture's ([`clock::LOG_CLOCK_MIN`]).
    pub log_clock: Option<clock::LogClockOffset>,
    /// The first captured requests without entry (at most [`MAX_UNJOINED_LISTED`]).
    pub unlogged_requests: Vec<UnloggedRequest>,
    /// The first entries without captured request, in log order (at most
    /// [`MAX_UNJOINED_LISTED`]).
    pub uncaptured_entries: Vec<UncapturedEntry>,
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

/// A logged processing time in seconds rounded to milliseconds, -1 for `None` (as logged).
pub fn secs_or_minus1(d: Option<Duration>) -> f64 {
    d.map_or(-1.0, |d| super::round3(d.as_secs_f64()))
}
