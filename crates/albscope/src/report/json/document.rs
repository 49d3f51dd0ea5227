//! The JSON document's output types, borrowed from the [`Analysis`]: the schema written in
//! [`super`] is theirs, so renaming a field of the model cannot change the JSON.

use super::stats::RunStatsOut;
use crate::accesslog::HostPort;
use crate::alb::Vantage;
use crate::capture::Timestamp;
use crate::diagnose::logjoin::{LogJoinSummary, UncapturedEntry, UnloggedRequest};
use crate::diagnose::metrics::{CloudWatch, GroupStats, Latency, Metrics, TargetStats};
use crate::diagnose::packet_ref;
use crate::diagnose::{
    AlbLimits, Analysis, CaptureSpan, Category, CategoryCount, Finding, HealthFailure,
    HealthSummary, HealthTarget, NodeReport, Summary, TargetCount, TargetReport, Timers,
};
use crate::flow::Endpoint;
use crate::report::header::{health_problem_text, node_evidence_text, timer_source_name};
use crate::report::views::{
    latency_secs, reuse_name, secs, status_name, target_row_name, LATENCY_METHOD,
};
use indexmap::IndexMap;
use serde::{Serialize, Serializer};
use std::fmt::Display;
use std::net::IpAddr;

/// Writes a value by its `Display` form (`ip:port`, an address).
pub(super) fn display<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// The whole document (`--format json`; NDJSON's summary line without `requests`).
#[derive(Serialize)]
pub(super) struct DocumentOut<'a> {
    schema_version: u32,
    inputs: &'a [String],
    vantage: &'static str,
    alb_nodes: Vec<NodeOut<'a>>,
    targets: Vec<TargetOut<'a>>,
    timers: TimersOut,
    capture: CaptureOut,
    summary: SummaryOut,
    health_checks: HealthOut<'a>,
    requests: &'a [Finding],
    includes_ok: bool,
    requests_not_kept: u64,
    alb_limits: AlbLimitsOut,
    other_connections: u64,
    stats: RunStatsOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_log_join: Option<LogJoinOut<'a>>,
    metrics: MetricsOut,
}

impl<'a> DocumentOut<'a> {
    /// The document of `a`.
    pub(super) fn new(a: &'a Analysis) -> Self {
        DocumentOut {
            schema_version: super::SCHEMA_VERSION,
            inputs: &a.inputs,
            vantage: vantage_name(a.vantage),
            alb_nodes: a.alb_nodes.iter().map(NodeOut::new).collect(),
            targets: a.targets.iter().map(TargetOut::new).collect(),
            timers: TimersOut::new(&a.timers),
            capture: CaptureOut::new(&a.capture),
            summary: SummaryOut::new(&a.summary),
            health_checks: HealthOut::new(&a.health_checks, &a.inputs),
            requests: &a.requests,
            includes_ok: a.includes_ok,
            requests_not_kept: a.requests_not_kept,
            alb_limits: AlbLimitsOut::new(&a.alb_limits),
            other_connections: a.other_connections,
            stats: RunStatsOut::new(&a.stats),
            access_log_join: a.access_log_join.as_ref().map(LogJoinOut::new),
            metrics: MetricsOut::new(&a.metrics),
        }
    }
}

/// `vantage` as the schema names it.
fn vantage_name(v: Vantage) -> &'static str {
    match v {
        Vantage::BothLegs => "both_legs",
        Vantage::BackEndOnly => "back_end_only",
        Vantage::FrontEndOnly => "front_end_only",
        Vantage::Unknown => "unknown",
    }
}

/// One of `alb_nodes`.
#[derive(Serialize)]
struct NodeOut<'a> {
    #[serde(serialize_with = "display")]
    ip: IpAddr,
    evidence: Vec<&'static str>,
    listener_ports: &'a [u16],
    front_connections: u64,
    back_connections: u64,
    health_checks: u64,
    sessions: Vec<String>,
}

impl<'a> NodeOut<'a> {
    fn new(n: &'a NodeReport) -> Self {
        NodeOut {
            ip: n.ip,
            evidence: n.evidence.iter().map(|e| node_evidence_text(*e)).collect(),
            listener_ports: &n.listener_ports,
            front_connections: n.front_connections,
            back_connections: n.back_connections,
            health_checks: n.health_checks,
            sessions: n.sessions.iter().map(ToString::to_string).collect(),
        }
    }
}

/// One of `targets`.
#[derive(Serialize)]
struct TargetOut<'a> {
    #[serde(serialize_with = "display")]
    target: Endpoint,
    server: Option<&'a str>,
    powered_by: Option<&'a str>,
    keepalive_timeout_s: Option<f64>,
}

impl<'a> TargetOut<'a> {
    fn new(t: &'a TargetReport) -> Self {
        TargetOut {
            target: t.target,
            server: t.server.as_deref(),
            powered_by: t.powered_by.as_deref(),
            keepalive_timeout_s: t.keepalive_timeout.map(secs),
        }
    }
}

/// `timers`.
#[derive(Serialize)]
struct TimersOut {
    idle_timeout_s: f64,
    idle_timeout_source: &'static str,
    connect_timeout_s: f64,
}

impl TimersOut {
    fn new(t: &Timers) -> Self {
        TimersOut {
            idle_timeout_s: secs(t.idle_timeout),
            idle_timeout_source: timer_source_name(t.idle_timeout_source),
            connect_timeout_s: secs(t.connect_timeout),
        }
    }
}

/// `capture`.
#[derive(Serialize)]
struct CaptureOut {
    first: Option<String>,
    last: Option<String>,
    duration_s: f64,
}

impl CaptureOut {
    fn new(c: &CaptureSpan) -> Self {
        CaptureOut {
            first: c.first.map(Timestamp::to_rfc3339),
            last: c.last.map(Timestamp::to_rfc3339),
            duration_s: secs(c.duration),
        }
    }
}

/// `summary`.
#[derive(Serialize)]
struct SummaryOut {
    requests: u64,
    ok: u64,
    failed: u64,
    by_category: IndexMap<&'static str, CategoryCountOut>,
    by_target: IndexMap<String, TargetCountOut>,
}

impl SummaryOut {
    fn new(s: &Summary) -> Self {
        SummaryOut {
            requests: s.requests,
            ok: s.ok,
            failed: s.failed,
            by_category: s
                .by_category
                .iter()
                .map(|(k, c)| (k.name(), CategoryCountOut::new(c)))
                .collect(),
            by_target: s
                .by_target
                .iter()
                .map(|(k, t)| (target_row_name(k), TargetCountOut::new(t)))
                .collect(),
        }
    }
}

/// One of `summary.by_category`.
#[derive(Serialize)]
struct CategoryCountOut {
    count: u64,
    generated_by_lb: u64,
    generated_by_target: u64,
    statuses: IndexMap<String, u64>,
}

impl CategoryCountOut {
    fn new(c: &CategoryCount) -> Self {
        CategoryCountOut {
            count: c.count,
            generated_by_lb: c.generated_by_lb,
            generated_by_target: c.generated_by_target,
            statuses: statuses(&c.statuses),
        }
    }
}

/// Statuses and their counts, keyed `"502"` or `"-"`.
fn statuses(s: &IndexMap<Option<u16>, u64>) -> IndexMap<String, u64> {
    s.iter().map(|(k, n)| (status_name(*k), *n)).collect()
}

/// Counts by category name.
fn by_category(c: &IndexMap<Category, u64>) -> IndexMap<&'static str, u64> {
    c.iter().map(|(k, n)| (k.name(), *n)).collect()
}

/// One of `summary.by_target`.
#[derive(Serialize)]
struct TargetCountOut {
    requests: u64,
    failed: u64,
    by_category: IndexMap<&'static str, u64>,
}

impl TargetCountOut {
    fn new(t: &TargetCount) -> Self {
        TargetCountOut {
            requests: t.requests,
            failed: t.failed,
            by_category: by_category(&t.by_category),
        }
    }
}

/// `health_checks`.
#[derive(Serialize)]
struct HealthOut<'a> {
    checks: u64,
    failed: u64,
    by_target: IndexMap<String, HealthTargetOut>,
    failures: Vec<HealthFailureOut<'a>>,
}

impl<'a> HealthOut<'a> {
    fn new(h: &'a HealthSummary, inputs: &[String]) -> Self {
        HealthOut {
            checks: h.checks,
            failed: h.failed,
            by_target: h
                .by_target
                .iter()
                .map(|(k, t)| (target_row_name(k), HealthTargetOut::new(t)))
                .collect(),
            failures: h
                .failures
                .iter()
                .map(|f| HealthFailureOut::new(f, inputs))
                .collect(),
        }
    }
}

/// One of `health_checks.by_target`.
#[derive(Serialize)]
struct HealthTargetOut {
    checks: u64,
    failed: u64,
    statuses: IndexMap<String, u64>,
}

impl HealthTargetOut {
    fn new(t: &HealthTarget) -> Self {
        HealthTargetOut {
            checks: t.checks,
            failed: t.failed,
            statuses: statuses(&t.statuses),
        }
    }
}

/// One of `health_checks.failures`.
#[derive(Serialize)]
struct HealthFailureOut<'a> {
    time: String,
    #[serde(serialize_with = "display")]
    node: IpAddr,
    #[serde(serialize_with = "display")]
    target: Endpoint,
    path: Option<&'a str>,
    problem: String,
    packet: Option<String>,
}

impl<'a> HealthFailureOut<'a> {
    fn new(f: &'a HealthFailure, inputs: &[String]) -> Self {
        HealthFailureOut {
            time: f.time.to_rfc3339(),
            node: f.node,
            target: f.target,
            path: f.path.as_deref(),
            problem: health_problem_text(f.problem.as_ref()),
            packet: f.packet.map(|p| packet_ref(inputs, p)),
        }
    }
}

/// `alb_limits`.
#[derive(Serialize)]
struct AlbLimitsOut {
    pairing_budget_bytes: u64,
    pairing_peak_bytes: u64,
    legs_paired_early: u64,
    late_legs_dropped: u64,
    nodes_over_limit: u64,
    targets_over_limit: u64,
    sessions_over_limit: u64,
}

impl AlbLimitsOut {
    fn new(l: &AlbLimits) -> Self {
        AlbLimitsOut {
            pairing_budget_bytes: l.pairing_budget_bytes,
            pairing_peak_bytes: l.pairing_peak_bytes,
            legs_paired_early: l.legs_paired_early,
            late_legs_dropped: l.late_legs_dropped,
            nodes_over_limit: l.nodes_over_limit,
            targets_over_limit: l.targets_over_limit,
            sessions_over_limit: l.sessions_over_limit,
        }
    }
}

/// `metrics`.
#[derive(Serialize)]
struct MetricsOut {
    method: &'static str,
    cloudwatch: CloudWatchOut,
    by_target: IndexMap<String, TargetStatsOut>,
    by_connection: IndexMap<&'static str, GroupOut>,
}

impl MetricsOut {
    fn new(m: &Metrics) -> Self {
        MetricsOut {
            method: LATENCY_METHOD,
            cloudwatch: CloudWatchOut::new(&m.cloudwatch),
            by_target: m
                .by_target
                .iter()
                .map(|(k, t)| (target_row_name(k), TargetStatsOut::new(t)))
                .collect(),
            by_connection: m
                .by_connection
                .iter()
                .map(|(k, g)| (reuse_name(*k), GroupOut::new(g)))
                .collect(),
        }
    }
}

/// `metrics.cloudwatch`: CloudWatch's metric names.
#[derive(Serialize)]
struct CloudWatchOut {
    #[serde(rename = "RequestCount")]
    request_count: u64,
    #[serde(rename = "HTTPCode_ELB_502_Count")]
    elb_502: u64,
    #[serde(rename = "HTTPCode_ELB_504_Count")]
    elb_504: u64,
    #[serde(rename = "HTTPCode_ELB_5XX_Count")]
    elb_5xx: u64,
    #[serde(rename = "HTTPCode_Target_2XX_Count")]
    target_2xx: u64,
    #[serde(rename = "HTTPCode_Target_3XX_Count")]
    target_3xx: u64,
    #[serde(rename = "HTTPCode_Target_4XX_Count")]
    target_4xx: u64,
    #[serde(rename = "HTTPCode_Target_5XX_Count")]
    target_5xx: u64,
    #[serde(rename = "TargetConnectionErrorCount")]
    target_connection_errors: u64,
    #[serde(rename = "TargetTLSNegotiationErrorCount")]
    target_tls_errors: u64,
    #[serde(rename = "TargetResponseTime")]
    target_response_time: LatencyOut,
    elb_codes_inferred: u64,
}

impl CloudWatchOut {
    fn new(c: &CloudWatch) -> Self {
        CloudWatchOut {
            request_count: c.request_count,
            elb_502: c.elb_502,
            elb_504: c.elb_504,
            elb_5xx: c.elb_5xx,
            target_2xx: c.target_2xx,
            target_3xx: c.target_3xx,
            target_4xx: c.target_4xx,
            target_5xx: c.target_5xx,
            target_connection_errors: c.target_connection_errors,
            target_tls_errors: c.target_tls_errors,
            target_response_time: LatencyOut::new(&c.target_response_time),
            elb_codes_inferred: c.elb_codes_inferred,
        }
    }
}

/// A latency summary (seconds, null when nothing was measured).
#[derive(Serialize)]
struct LatencyOut {
    count: u64,
    p50_s: Option<f64>,
    p90_s: Option<f64>,
    p99_s: Option<f64>,
    max_s: Option<f64>,
    mean_s: Option<f64>,
}

impl LatencyOut {
    fn new(l: &Latency) -> Self {
        LatencyOut {
            count: l.count,
            p50_s: l.p50.map(latency_secs),
            p90_s: l.p90.map(latency_secs),
            p99_s: l.p99.map(latency_secs),
            max_s: l.max.map(latency_secs),
            mean_s: l.mean.map(latency_secs),
        }
    }
}

/// Requests, failures and latency of one group.
#[derive(Serialize)]
struct GroupOut {
    requests: u64,
    failed: u64,
    by_category: IndexMap<&'static str, u64>,
    latency: LatencyOut,
}

impl GroupOut {
    fn new(g: &GroupStats) -> Self {
        GroupOut {
            requests: g.requests,
            failed: g.failed,
            by_category: by_category(&g.by_category),
            latency: LatencyOut::new(&g.latency),
        }
    }
}

/// One of `metrics.by_target`: the target's group, then its fresh and reused ones.
#[derive(Serialize)]
struct TargetStatsOut {
    #[serde(flatten)]
    all: GroupOut,
    fresh: GroupOut,
    reused: GroupOut,
}

impl TargetStatsOut {
    fn new(t: &TargetStats) -> Self {
        TargetStatsOut {
            all: GroupOut::new(&t.all),
            fresh: GroupOut::new(&t.fresh),
            reused: GroupOut::new(&t.reused),
        }
    }
}

/// `access_log_join`.
#[derive(Serialize)]
struct LogJoinOut<'a> {
    files: &'a [String],
    entries: u64,
    malformed_lines: u64,
    requests: u64,
    joined: u64,
    joined_by_trace_id: u64,
    joined_by_client_time: u64,
    joined_by_target_time: u64,
    with_disagreements: u64,
    disagreeing_requests: &'a [String],
    requests_without_entry: u64,
    entries_without_request: u64,
    entries_outside_capture: u64,
    entries_not_indexed: u64,
    unlogged_requests: Vec<UnloggedOut<'a>>,
    uncaptured_entries: Vec<UncapturedOut<'a>>,
}

impl<'a> LogJoinOut<'a> {
    fn new(s: &'a LogJoinSummary) -> Self {
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
            disagreeing_requests: &s.disagreeing_requests,
            requests_without_entry: s.requests_without_entry,
            entries_without_request: s.entries_without_request,
            entries_outside_capture: s.entries_outside_capture,
            entries_not_indexed: s.entries_not_indexed,
            unlogged_requests: s.unlogged_requests.iter().map(UnloggedOut::new).collect(),
            uncaptured_entries: s
                .uncaptured_entries
                .iter()
                .map(UncapturedOut::new)
                .collect(),
        }
    }
}

/// One of `access_log_join.unlogged_requests`.
#[derive(Serialize)]
struct UnloggedOut<'a> {
    id: &'a str,
    time: &'a str,
    client: Option<&'a str>,
    request: &'a str,
    status: Option<u16>,
    category: &'static str,
}

impl<'a> UnloggedOut<'a> {
    fn new(u: &'a UnloggedRequest) -> Self {
        UnloggedOut {
            id: &u.id,
            time: &u.time,
            client: u.client.as_deref(),
            request: &u.request,
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
