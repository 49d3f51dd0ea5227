//! The JSON document's output types, borrowed from the [`Analysis`]: the schema written in
//! [`super`] is theirs, so renaming a field of the model cannot change the JSON.

use super::logjoin::LogJoinOut;
use super::metrics::MetricsOut;
use super::stats::RunStatsOut;
use crate::alb::Vantage;
use crate::capture::Timestamp;
use crate::diagnose::packet_ref;
use crate::diagnose::{
    AlbLimits, Analysis, CaptureSpan, CategoryCount, HealthFailure, HealthSummary, HealthTarget,
    NodeReport, Summary, TargetCount, TargetReport, Timers,
};
use crate::flow::Endpoint;
use crate::report::header::{health_problem_text, node_evidence_text, timer_source_name};
use crate::report::views::{secs, status_name, target_row_name};
use crate::taxonomy::Category;
use indexmap::IndexMap;
use serde::{Serialize, Serializer};
use std::fmt::Display;
use std::net::IpAddr;

/// Writes a value by its `Display` form (`ip:port`, an address).
pub(super) fn display<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// The whole document but its `requests` array (`--format json` writes that one between
/// [`DocumentOut::head`] and [`DocumentOut::tail`]; NDJSON's summary line is the two
/// together).
#[derive(Serialize)]
pub(super) struct DocumentOut<'a> {
    /// The members before `requests`.
    #[serde(flatten)]
    pub head: HeadOut<'a>,
    /// The members after `requests`.
    #[serde(flatten)]
    pub tail: TailOut<'a>,
}

/// The document's members before `requests`, in schema order.
#[derive(Serialize)]
pub(super) struct HeadOut<'a> {
    schema_version: u32,
    inputs: &'a [String],
    vantage: &'static str,
    verdict: super::verdict::VerdictOut,
    alb_nodes: Vec<NodeOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alb_candidates: Vec<CandidateOut>,
    targets: Vec<TargetOut<'a>>,
    timers: TimersOut,
    capture: CaptureOut,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    clock_offsets: Vec<ClockOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    input_coverage: Vec<CoverageOut<'a>>,
    summary: SummaryOut,
    health_checks: HealthOut<'a>,
}

/// The document's members after `requests`, in schema order.
#[derive(Serialize)]
pub(super) struct TailOut<'a> {
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
    /// The document of `a` (without its requests).
    pub(super) fn new(a: &'a Analysis) -> Self {
        DocumentOut {
            head: HeadOut {
                schema_version: super::SCHEMA_VERSION,
                inputs: &a.inputs,
                vantage: vantage_name(a.vantage),
                verdict: super::verdict::VerdictOut::new(a),
                alb_nodes: a.alb_nodes.iter().map(NodeOut::new).collect(),
                alb_candidates: CandidateOut::all(a),
                targets: a.targets.iter().map(TargetOut::new).collect(),
                timers: TimersOut::new(&a.timers),
                capture: CaptureOut::new(&a.capture),
                clock_offsets: a.clock_offsets.iter().map(ClockOut::new).collect(),
                input_coverage: a.input_coverage.iter().map(CoverageOut::new).collect(),
                summary: SummaryOut::new(&a.summary),
                health_checks: HealthOut::new(&a.health_checks, &a.inputs),
            },
            tail: TailOut {
                includes_ok: a.includes_ok,
                requests_not_kept: a.requests_not_kept,
                alb_limits: AlbLimitsOut::new(&a.alb_limits),
                other_connections: a.other_connections,
                stats: RunStatsOut::new(&a.stats),
                access_log_join: a.access_log_join.as_ref().map(LogJoinOut::new),
                metrics: MetricsOut::new(&a.metrics, a.vantage),
            },
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

/// One of `alb_candidates`: a likely ALB node, not recognised (no node was).
#[derive(Serialize)]
struct CandidateOut {
    #[serde(serialize_with = "display")]
    ip: IpAddr,
    /// `listener` (it accepts TLS: the front end), `http_listener` (it received plain-HTTP
    /// requests it did not answer: the front end) or `opener` (it opens TLS to private
    /// servers: the back end).
    reading: &'static str,
    ports: Vec<u16>,
    peers: u64,
    connections: u64,
    exchanges: u64,
    plays_both: bool,
    /// True when the next candidate is as likely.
    ties_with_next: bool,
    flags: String,
    text: String,
    list: Vec<CandidateConnOut>,
}

/// One of a candidate's `list`.
#[derive(Serialize)]
struct CandidateConnOut {
    client: String,
    server: String,
    first: String,
    last: String,
    exchanges: u64,
}

impl CandidateOut {
    fn all(a: &Analysis) -> Vec<CandidateOut> {
        use crate::alb::CandidateReading;
        let c = &a.alb_candidates;
        c.iter()
            .enumerate()
            .map(|(i, x)| {
                let tie = c.get(i + 1).is_some_and(|n| x.ties_with(n));
                let (reading, ports) = match &x.reading {
                    CandidateReading::Listener { port } => ("listener", vec![*port]),
                    CandidateReading::HttpListener { port } => ("http_listener", vec![*port]),
                    CandidateReading::Opener { target_ports } => ("opener", target_ports.clone()),
                };
                CandidateOut {
                    ip: x.ip,
                    reading,
                    ports,
                    peers: x.peers,
                    connections: x.connections,
                    exchanges: x.exchanges,
                    plays_both: x.plays_both,
                    ties_with_next: tie,
                    flags: x.flags().join(" "),
                    text: crate::report::header::candidate_text(x, i, tie),
                    list: x
                        .connections_listed
                        .iter()
                        .map(|l| CandidateConnOut {
                            client: l.client.to_string(),
                            server: l.server.to_string(),
                            first: l.first.to_rfc3339(),
                            last: l.last.to_rfc3339(),
                            exchanges: l.exchanges,
                        })
                        .collect(),
                }
            })
            .collect()
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    front_addresses: Vec<LinkedOut>,
}

/// One of a node's `front_addresses`: another address its clients reach it at.
#[derive(Serialize)]
struct LinkedOut {
    #[serde(serialize_with = "display")]
    ip: IpAddr,
    linked_requests: usize,
    /// Only when true: linked by TLS burst timing (HTTPS front end without keys).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_timing: bool,
}

/// One of `input_coverage`: an input file's span and the vantages it showed.
#[derive(Serialize)]
struct CoverageOut<'a> {
    file: &'a str,
    start: Option<String>,
    end: Option<String>,
    front: bool,
    back: bool,
}

impl<'a> CoverageOut<'a> {
    fn new(c: &'a crate::diagnose::InputCoverage) -> Self {
        CoverageOut {
            file: &c.file,
            start: c.start.map(Timestamp::to_rfc3339),
            end: c.end.map(Timestamp::to_rfc3339),
            front: c.front,
            back: c.back,
        }
    }
}

/// One of `clock_offsets`: an input file's clock against another's.
#[derive(Serialize)]
struct ClockOut<'a> {
    file: &'a str,
    ahead_s: f64,
    reference: Option<&'a str>,
    linked_requests: usize,
    applied: bool,
    residual_s: f64,
}

impl<'a> ClockOut<'a> {
    fn new(c: &'a crate::diagnose::ClockOffset) -> Self {
        ClockOut {
            file: &c.file,
            ahead_s: crate::diagnose::round3(c.ahead.0 as f64 / 1e9),
            reference: c.reference.as_deref(),
            linked_requests: c.requests,
            applied: c.applied,
            residual_s: crate::diagnose::round3(c.residual.0 as f64 / 1e9),
        }
    }
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
            front_addresses: n
                .front_addresses
                .iter()
                .map(|l| LinkedOut {
                    ip: l.ip,
                    linked_requests: l.requests,
                    tls_timing: l.tls_timing,
                })
                .collect(),
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
    announced_keepalive_s: Option<f64>,
}

impl<'a> TargetOut<'a> {
    fn new(t: &'a TargetReport) -> Self {
        TargetOut {
            target: t.target,
            server: t.server.as_deref(),
            powered_by: t.powered_by.as_deref(),
            keepalive_timeout_s: t.keepalive_timeout.map(secs),
            announced_keepalive_s: t.announced_keepalive.map(secs),
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

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `summary.client_tls_failures`.
#[derive(Serialize)]
struct ClientTlsOut {
    count: u64,
    first: Vec<ClientTlsFailureOut>,
}

/// One of `summary.client_tls_failures.first`.
#[derive(Serialize)]
struct ClientTlsFailureOut {
    time: String,
    client: String,
    alb: String,
    alert: Option<String>,
    alert_from: Option<&'static str>,
    offered: Vec<String>,
    selected: Option<String>,
}

/// `summary.listener_silent`.
#[derive(Serialize)]
struct ListenerSilentOut {
    count: u64,
    /// `undetermined`: the capture cannot tell why (see `possible_causes`).
    category: &'static str,
    possible_causes: [&'static str; 3],
    first: Vec<ListenerSilentOneOut>,
}

/// One of `summary.listener_silent.first`.
#[derive(Serialize)]
struct ListenerSilentOneOut {
    time: String,
    client: String,
    alb: String,
    syns: u32,
    last_syn: String,
}

/// `summary.encrypted_front`.
#[derive(Serialize)]
struct EncryptedFrontOut {
    connections: u64,
    http2_connections: u64,
    exchanges: u64,
    http2_exchanges: u64,
    list: Vec<OpaqueConnectionOut>,
}

impl EncryptedFrontOut {
    fn new(e: &crate::diagnose::EncryptedFront) -> Self {
        EncryptedFrontOut {
            connections: e.connections,
            http2_connections: e.http2_connections,
            exchanges: e.exchanges,
            http2_exchanges: e.http2_exchanges,
            list: e
                .list
                .iter()
                .map(|c| OpaqueConnectionOut {
                    client: c.client.to_string(),
                    alb: c.alb.to_string(),
                    http2: c.http2,
                    exchanges: c.exchanges,
                    first: c.first.to_rfc3339(),
                    last: c.last.to_rfc3339(),
                })
                .collect(),
        }
    }
}

/// One of `summary.encrypted_front.list`.
#[derive(Serialize)]
struct OpaqueConnectionOut {
    client: String,
    alb: String,
    http2: bool,
    exchanges: u64,
    first: String,
    last: String,
}

/// `summary`.
#[derive(Serialize)]
struct SummaryOut {
    requests: u64,
    ok: u64,
    failed: u64,
    in_flight_at_end: u64,
    /// Only when some: responses whose request was sent before the capture started (not
    /// counted as requests).
    #[serde(skip_serializing_if = "is_zero")]
    answered_before_capture: u64,
    /// Only when some: requests whose outcome is not visible (encrypted front end alone, or
    /// the target's encrypted answer with no readable answer to the client).
    #[serde(skip_serializing_if = "is_zero")]
    outcome_not_visible: u64,
    /// Only when some: of them, the target's answers seen over TLS (answered, status not
    /// visible).
    #[serde(skip_serializing_if = "is_zero")]
    answered_status_not_visible: u64,
    /// Only when some exchange's outcome is not visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted_front: Option<EncryptedFrontOut>,
    /// Only when some: client TLS handshakes with the ALB that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_tls_failures: Option<ClientTlsOut>,
    /// Only when some: client SYNs to the listener that got no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_silent: Option<ListenerSilentOut>,
    by_category: IndexMap<&'static str, CategoryCountOut>,
    by_target: IndexMap<String, TargetCountOut>,
}

impl SummaryOut {
    fn new(s: &Summary) -> Self {
        SummaryOut {
            requests: s.requests,
            ok: s.ok,
            failed: s.failed,
            in_flight_at_end: s.in_flight_at_end,
            answered_before_capture: s.answered_before_capture,
            outcome_not_visible: s.outcome_not_visible,
            answered_status_not_visible: s.answered_not_visible,
            encrypted_front: (s.encrypted_front.exchanges > 0)
                .then(|| EncryptedFrontOut::new(&s.encrypted_front)),
            client_tls_failures: (s.client_tls_failures > 0).then(|| ClientTlsOut {
                count: s.client_tls_failures,
                first: s
                    .client_tls_failure_list
                    .iter()
                    .map(|f| ClientTlsFailureOut {
                        time: f.time.to_rfc3339(),
                        client: f.client.to_string(),
                        alb: f.alb.to_string(),
                        alert: f.alert.as_ref().map(|a| a.1.clone()),
                        alert_from: f.alert.as_ref().map(|a| if a.0 { "lb" } else { "client" }),
                        offered: f.offered.clone(),
                        selected: f.selected.clone(),
                    })
                    .collect(),
            }),
            listener_silent: (s.listener_silent > 0).then(|| ListenerSilentOut {
                count: s.listener_silent,
                category: Category::Undetermined.name(),
                possible_causes: [
                    "security_group_or_nacl_drop",
                    "node_address_gone",
                    "no_listener_on_port",
                ],
                first: s
                    .listener_silent_list
                    .iter()
                    .map(|f| ListenerSilentOneOut {
                        time: f.time.to_rfc3339(),
                        client: f.client.to_string(),
                        alb: f.alb.to_string(),
                        syns: f.syns,
                        last_syn: f.last.to_rfc3339(),
                    })
                    .collect(),
            }),
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

/// Statuses and their counts, keyed `"502"` or `"-"` (no status sent: a key cannot be null).
fn statuses(s: &IndexMap<Option<u16>, u64>) -> IndexMap<String, u64> {
    s.iter().map(|(k, n)| (status_name(*k), *n)).collect()
}

/// Counts by category name.
pub(super) fn by_category(c: &IndexMap<Category, u64>) -> IndexMap<&'static str, u64> {
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
    /// Only when some: checks answered with the status encrypted (neither passed nor failed).
    #[serde(skip_serializing_if = "is_zero")]
    answered_status_not_visible: u64,
    by_target: IndexMap<String, HealthTargetOut>,
    failures: Vec<HealthFailureOut<'a>>,
}

impl<'a> HealthOut<'a> {
    fn new(h: &'a HealthSummary, inputs: &[String]) -> Self {
        HealthOut {
            checks: h.checks,
            failed: h.failed,
            answered_status_not_visible: h.not_visible,
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
    /// Only when some: checks answered with the status encrypted (not in `statuses`).
    #[serde(skip_serializing_if = "is_zero")]
    answered_status_not_visible: u64,
    statuses: IndexMap<String, u64>,
}

impl HealthTargetOut {
    fn new(t: &HealthTarget) -> Self {
        HealthTargetOut {
            checks: t.checks,
            failed: t.failed,
            answered_status_not_visible: t.not_visible,
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
    #[serde(skip_serializing_if = "is_zero")]
    front_legs_decided_early: u64,
    nodes_over_limit: u64,
    targets_over_limit: u64,
    sessions_over_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    resets_not_followed: u64,
}

impl AlbLimitsOut {
    fn new(l: &AlbLimits) -> Self {
        AlbLimitsOut {
            pairing_budget_bytes: l.pairing_budget_bytes,
            pairing_peak_bytes: l.pairing_peak_bytes,
            legs_paired_early: l.legs_paired_early,
            late_legs_dropped: l.late_legs_dropped,
            front_legs_decided_early: l.front_legs_decided_early,
            nodes_over_limit: l.nodes_over_limit,
            targets_over_limit: l.targets_over_limit,
            sessions_over_limit: l.sessions_over_limit,
            resets_not_followed: l.resets_not_followed,
        }
    }
}
