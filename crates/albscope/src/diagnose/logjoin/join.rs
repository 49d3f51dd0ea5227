//! Joining one request to its log entry, and what the two disagree on.

use super::{
    secs_or_minus1, trace_root, Disagreement, JoinMethod, JoinOptions, LogIndex, LoggedEntry,
    ProcessingTime, TargetStatusReading, UnloggedRequest, MAX_UNJOINED_LISTED,
    TARGET_TIME_WINDOW_MS,
};
use crate::accesslog::LogEntry;
use crate::capture::{Duration, Timestamp};
use crate::diagnose::{Finding, Step};
use crate::taxonomy::Category;
use std::net::IpAddr;

impl LogIndex {
    /// Finds, marks used and describes the log entry of `f`; counts the request either way.
    pub fn join(&mut self, f: &Finding) -> Option<LoggedEntry> {
        self.summary.requests += 1;
        // At the microsecond, as access logs write times.
        let start = f
            .access_log
            .request_creation_time
            .or(Some(f.time))
            .map(|t| Timestamp(t.0 - t.0.rem_euclid(1_000)));
        let root = f
            .trace_id
            .as_deref()
            .or(f.access_log.trace_id.as_deref())
            .and_then(trace_root);
        // Log times moved onto the capture's clock.
        let correction = self.clock.correction();
        let gap = |idx: &LogIndex, i: u32| -> i64 {
            match (idx.created(i), start) {
                (Some(c), Some(s)) => c.since(s).0.saturating_sub(correction.0).saturating_abs(),
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
            if let (Some(key), Some(_)) = (f.client.map(|c| (c.ip, c.port)), start) {
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
            if let (Some(key), Some(_)) = (f.target.map(|t| (t.ip, t.port)), start) {
                let win = Duration::from_millis(TARGET_TIME_WINDOW_MS).0;
                if let Some(list) = self.by_target.get(&key) {
                    let ip = f.client_ip;
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
                    id: f.id,
                    time: f.time,
                    client: f.client,
                    request: f.request.clone(),
                    status: f.status,
                    category: f.category,
                });
            }
            return None;
        };
        if method == JoinMethod::TraceId {
            if let (Some(c), Some(s)) = (self.created(i), start) {
                self.clock.observe(c.since(s));
            }
        }
        let opts = self.opts;
        let correction = self.clock.correction();
        let ix = self.entries.get_mut(i as usize)?;
        ix.used = true;
        let e = &ix.entry;
        let disagreements = disagreements(f, e, method, start, correction, &opts);
        self.summary.joined += 1;
        match method {
            JoinMethod::TraceId => self.summary.joined_by_trace_id += 1,
            JoinMethod::ClientTime => self.summary.joined_by_client_time += 1,
            JoinMethod::TargetTime => self.summary.joined_by_target_time += 1,
        }
        if !disagreements.is_empty() {
            self.summary.with_disagreements += 1;
            if self.summary.disagreeing_requests.len() < MAX_UNJOINED_LISTED {
                self.summary.disagreeing_requests.push(f.id);
            }
        }
        Some(LoggedEntry {
            source: ix.source.clone(),
            joined_by: method,
            time: e.time,
            request_creation_time: e.request_creation_time,
            client: e.client.clone(),
            target: e.target.clone(),
            request_processing_time: e.request_processing_time,
            target_processing_time: e.target_processing_time,
            response_processing_time: e.response_processing_time,
            elb_status_code: e.elb_status_code,
            target_status_code: e.target_status_code,
            request: e.request.clone(),
            trace_id: e.trace_id.clone(),
            error_reason: e.error_reason.clone(),
            disagreements,
        })
    }
}

/// The ways log entry `e` and the capture's view of `f` disagree (`correction`: the log's
/// clock offset, taken off its times).
fn disagreements(
    f: &Finding,
    e: &LogEntry,
    method: JoinMethod,
    start: Option<Timestamp>,
    correction: Duration,
    opts: &JoinOptions,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let al = &f.access_log;
    if let (Some(capture), log) = (al.elb_status_code, e.elb_status_code) {
        if log != Some(capture) {
            out.push(Disagreement::ElbStatus { log, capture });
        }
    }
    let cap_target: Option<u16> = al.target_status_code;
    let log_target = e.target_status_code;
    if cap_target != log_target && (cap_target.is_some() || f.target.is_some()) {
        let reading = match (log_target, cap_target, f.category) {
            (Some(_), None, Category::TargetIdleTimeout) => {
                TargetStatusReading::LateReplyNotRelayed
            }
            (None, Some(_), Category::ClientClosed) => TargetStatusReading::AnsweredAfterClientLeft,
            _ => TargetStatusReading::Differs,
        };
        out.push(Disagreement::TargetStatus {
            log: log_target,
            capture: cap_target,
            reading,
        });
    }
    let times = [
        (
            ProcessingTime::Request,
            e.request_processing_time,
            al.request_processing_time,
        ),
        (
            ProcessingTime::Target,
            e.target_processing_time,
            al.target_processing_time,
        ),
        (
            ProcessingTime::Response,
            e.response_processing_time,
            al.response_processing_time,
        ),
    ];
    for (field, log_time, cap) in times {
        // -1: the step never happened (as the log writes it).
        let cap = match cap {
            Step::NotCaptured => continue,
            Step::Never => -1.0,
            Step::Took(d) => crate::diagnose::round3(d.as_secs_f64()),
        };
        if cap < 0.0 && (f.target.is_none() || cap_target.is_some()) {
            // No back end in the capture, or a target answer whose request or timing the
            // capture lost (truncated mirror): its -1 only says nothing was seen there.
            continue;
        }
        let log = secs_or_minus1(log_time);
        let differs = match (log < 0.0, cap < 0.0) {
            (true, false) | (false, true) => true,
            (false, false) => (log - cap).abs() > opts.processing_tolerance_s,
            (true, true) => false,
        };
        if differs {
            out.push(Disagreement::Processing {
                field,
                log: log_time,
                capture_s: cap,
                tolerance_s: opts.processing_tolerance_s,
            });
        }
    }
    if method == JoinMethod::TraceId {
        if let (Some(c), Some(s)) = (e.request_creation_time, start) {
            // Beyond the log's clock offset (reported once in the summary).
            let d = Duration(c.since(s).0.saturating_sub(correction.0));
            if d.0.saturating_abs() > opts.time_tolerance.0.saturating_abs() {
                out.push(Disagreement::CreationTime {
                    log_minus_capture: d,
                });
            }
        }
    }
    if let (Some(ft), Some(lt)) = (f.target, e.target.as_ref()) {
        if lt.ip.parse::<IpAddr>().ok() != Some(ft.ip) || lt.port.is_some_and(|p| p != ft.port) {
            out.push(Disagreement::Target {
                log: lt.clone(),
                capture: ft,
            });
        }
    }
    out
}
