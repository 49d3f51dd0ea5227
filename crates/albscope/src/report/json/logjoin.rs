//! The `access_log_join` block of the JSON document.

use super::document::display;
use crate::accesslog::HostPort;
use crate::diagnose::logjoin::{LogJoinSummary, UncapturedEntry, UnloggedRequest};
use serde::Serialize;

/// `access_log_join`.
#[derive(Serialize)]
pub(super) struct LogJoinOut<'a> {
    files: &'a [String],
    entries: u64,
    malformed_lines: u64,
    requests: u64,
    joined: u64,
    joined_by_trace_id: u64,
    joined_by_client_time: u64,
    joined_by_target_time: u64,
    with_disagreements: u64,
    disagreeing_requests: Vec<String>,
    requests_without_entry: u64,
    entries_without_request: u64,
    entries_outside_capture: u64,
    entries_not_indexed: u64,
    /// Only when the log's clock was corrected.
    #[serde(skip_serializing_if = "Option::is_none")]
    log_clock: Option<LogClockOut>,
    unlogged_requests: Vec<UnloggedOut>,
    uncaptured_entries: Vec<UncapturedOut<'a>>,
}

impl<'a> LogJoinOut<'a> {
    pub(super) fn new(s: &'a LogJoinSummary) -> Self {
        LogJoinOut {
            files: &s.files,
            entries: s.entries,
            malformed_lines: s.malformed_lines,
            requests: s.requests,
            joined: s.joined,
            joined_by_trace_id: s.joined_by_trace_id,
            joined_by_client_time: s.joined_by_client_time,
            joined_by_target_time: s.joined_by_target_time,
            with_disagreements: s.with_disagreements,
            disagreeing_requests: s
                .disagreeing_requests
                .iter()
                .map(|id| id.to_string())
                .collect(),
            requests_without_entry: s.requests_without_entry,
            entries_without_request: s.entries_without_request,
            entries_outside_capture: s.entries_outside_capture,
            entries_not_indexed: s.entries_not_indexed,
            log_clock: s.log_clock.map(|c| LogClockOut {
                ahead_s: crate::diagnose::round3(c.ahead.0 as f64 / 1e9),
                requests: c.requests,
            }),
            unlogged_requests: s.unlogged_requests.iter().map(UnloggedOut::new).collect(),
            uncaptured_entries: s
                .uncaptured_entries
                .iter()
                .map(UncapturedOut::new)
                .collect(),
        }
    }
}

/// `access_log_join.log_clock`: the log's clock against the capture's.
#[derive(Serialize)]
struct LogClockOut {
    ahead_s: f64,
    requests: usize,
}

/// One of `access_log_join.unlogged_requests`.
#[derive(Serialize)]
struct UnloggedOut {
    id: String,
    time: String,
    client: Option<String>,
    request: String,
    status: Option<u16>,
    category: &'static str,
}

impl UnloggedOut {
    fn new(u: &UnloggedRequest) -> Self {
        UnloggedOut {
            id: u.id.to_string(),
            time: u.time.to_rfc3339(),
            client: u.client.map(|c| c.to_string()),
            request: crate::report::words::request_seen(&u.request),
            status: u.status,
            category: u.category.name(),
        }
    }
}

/// One of `access_log_join.uncaptured_entries`.
#[derive(Serialize)]
struct UncapturedOut<'a> {
    source: &'a str,
    time: String,
    #[serde(serialize_with = "display")]
    client: &'a HostPort,
    request: Option<&'a str>,
    elb_status_code: Option<u16>,
    trace_id: Option<&'a str>,
}

impl<'a> UncapturedOut<'a> {
    fn new(u: &'a UncapturedEntry) -> Self {
        UncapturedOut {
            source: &u.source,
            time: u.time.to_rfc3339(),
            client: &u.client,
            request: u.request.as_deref(),
            elb_status_code: u.elb_status_code,
            trace_id: u.trace_id.as_deref(),
        }
    }
}
