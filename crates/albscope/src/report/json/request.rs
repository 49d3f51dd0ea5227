//! The JSON request object (schema v2, see [`super::json`]): a borrowed view of a [`Finding`]
//! whose sentences come from [`super::words`].

use super::LoggedOut;
use crate::alb::PairingMethod;
use crate::diagnose::model::AlbAddr;
use crate::diagnose::{AccessLogView, Analysis, Finding, LegKind, Step, TimelineEvent};
use crate::flow::community_id;
use crate::report::wireshark;
use crate::report::words;
use crate::taxonomy::{Category, GeneratedBy};
use serde::{Serialize, Serializer};

/// One request object, fields in schema order.
#[derive(Serialize)]
pub struct RequestOut<'a> {
    id: String,
    time: String,
    client: Option<String>,
    client_ip: Option<String>,
    alb: Option<String>,
    target: Option<String>,
    community_id: Option<String>,
    back_community_id: Option<String>,
    method: &'a Option<String>,
    path: &'a Option<String>,
    host: &'a Option<String>,
    request: String,
    status: Option<u16>,
    status_inferred: bool,
    front_encrypted: bool,
    /// Only when true: the answer is encrypted and the back end is not in the capture, so
    /// whether it failed is not visible (neither ok nor failed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    outcome_not_visible: bool,
    /// The legs read from decrypted TLS ("front", "back"); absent when none was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    decrypted: Vec<&'static str>,
    generated_by: Option<GeneratedBy>,
    category: Category,
    candidates: &'a [Category],
    headline: String,
    trace_id: &'a Option<String>,
    access_log: AccessLogOut<'a>,
    timeline: Vec<EventOut>,
    evidence: Vec<String>,
    fix: &'a Option<String>,
    notes: Vec<String>,
    pairing: PairingMethod,
    target_server: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logged: Option<LoggedOut<'a>>,
    /// gRPC requests only: the status code the client sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_status: Option<u32>,
    /// Its name (`UNAVAILABLE`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_status_name: Option<&'static str>,
    /// `grpc-message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_message: Option<&'a str>,
    /// The HTTP status the gRPC status was derived from (no `grpc-status` was sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_status_from_http: Option<u16>,
    /// HTTP/2 front end: the `RST_STREAM` the client got from the ALB instead of a status.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_stream_reset: Option<StreamResetOut>,
    wireshark_filter: Option<String>,
    wireshark_filters: Vec<FileFilterOut>,
    extract_command: Option<String>,
}

/// `client_stream_reset`: the error code, its name, and whether the target had the request.
#[derive(Serialize)]
struct StreamResetOut {
    code: u32,
    name: Option<&'static str>,
    target_received: bool,
}

/// One entry of `wireshark_filters`.
#[derive(Serialize)]
struct FileFilterOut {
    file: String,
    filter: String,
}

/// The `access_log` object.
#[derive(Serialize)]
struct AccessLogOut<'a> {
    request_creation_time: Option<String>,
    request_processing_time: Option<f64>,
    target_processing_time: Option<f64>,
    response_processing_time: Option<f64>,
    elb_status_code: Option<u16>,
    target_status_code: Option<u16>,
    trace_id: &'a Option<String>,
}

/// A step in seconds: -1 when it never happened, null when not captured.
fn step_json(s: Step) -> Option<f64> {
    match s {
        Step::NotCaptured => None,
        Step::Never => Some(-1.0),
        Step::Took(_) => s.secs(),
    }
}

impl<'a> AccessLogOut<'a> {
    fn of(al: &'a AccessLogView) -> Self {
        AccessLogOut {
            request_creation_time: al.request_creation_time.map(words::time),
            request_processing_time: step_json(al.request_processing_time),
            target_processing_time: step_json(al.target_processing_time),
            response_processing_time: step_json(al.response_processing_time),
            elb_status_code: al.elb_status_code,
            target_status_code: al.target_status_code,
            trace_id: &al.trace_id,
        }
    }
}

/// One timeline event object.
#[derive(Serialize)]
struct EventOut {
    time: String,
    rel_ms: f64,
    side: LegKind,
    direction: &'static str,
    event: String,
    packet: Option<String>,
}

impl EventOut {
    fn of(e: &TimelineEvent, f: &Finding, files: &[String]) -> Self {
        EventOut {
            time: words::time(e.time),
            rel_ms: words::rel_ms(e.time, f.time),
            side: e.side,
            direction: words::direction(e.direction),
            event: words::event(&e.kind),
            packet: e.packet.map(|p| words::packet(files, p)),
        }
    }
}

impl<'a> RequestOut<'a> {
    /// The request object of `f`, one of `a`'s requests (whose inputs its packet references
    /// name).
    pub fn new(f: &'a Finding, a: &Analysis) -> Self {
        let files = &a.inputs;
        let ws = wireshark::for_request(a, f);
        RequestOut {
            id: f.id.to_string(),
            time: words::time(f.time),
            client: f.client.map(|c| c.to_string()),
            client_ip: f.client_ip.map(|c| c.to_string()),
            alb: f.alb.map(|a| a.to_string()),
            target: f.target.map(|t| t.to_string()),
            community_id: front_community_id(f),
            back_community_id: f
                .back_alb
                .zip(f.target)
                .map(|(alb, target)| community_id(alb, target)),
            method: &f.method,
            path: &f.path,
            host: &f.host,
            request: words::request_seen(&f.request),
            status: f.status,
            status_inferred: f.status_inferred,
            front_encrypted: f.front_encrypted,
            outcome_not_visible: f.outcome_not_visible,
            decrypted: [(f.decrypted.front, "front"), (f.decrypted.back, "back")]
                .into_iter()
                .filter_map(|(on, leg)| on.then_some(leg))
                .collect(),
            generated_by: f.generated_by,
            category: f.category,
            candidates: &f.candidates,
            headline: words::headline(f),
            trace_id: &f.trace_id,
            access_log: AccessLogOut::of(&f.access_log),
            timeline: f
                .timeline
                .iter()
                .map(|e| EventOut::of(e, f, files))
                .collect(),
            evidence: f
                .evidence
                .iter()
                .map(|e| words::evidence(files, e))
                .collect(),
            fix: &f.fix,
            notes: f.notes.iter().map(words::note).collect(),
            pairing: f.pairing,
            target_server: &f.target_server,
            logged: f.logged.as_deref().map(LoggedOut::new),
            wireshark_filter: ws
                .as_ref()
                .filter(|w| w.filters.len() == 1)
                .and_then(|w| w.filters.first())
                .map(|x| x.filter.clone()),
            wireshark_filters: ws.as_ref().map_or_else(Vec::new, |w| {
                w.filters
                    .iter()
                    .map(|x| FileFilterOut {
                        file: wireshark::file_name(a, x.file).to_string(),
                        filter: x.filter.clone(),
                    })
                    .collect()
            }),
            extract_command: ws.map(|w| w.extract),
            grpc_status: f.grpc.as_ref().and_then(|g| g.status),
            grpc_status_name: f
                .grpc
                .as_ref()
                .and_then(|g| g.status)
                .and_then(crate::protocol::grpc_code_name),
            grpc_message: f.grpc.as_ref().and_then(|g| g.message.as_deref()),
            grpc_status_from_http: f.grpc.as_ref().and_then(|g| g.from_http),
            client_stream_reset: f.client_stream_reset.map(|r| StreamResetOut {
                code: r.code,
                name: crate::protocol::H2ErrorCode(r.code).name(),
                target_received: r.target_received,
            }),
        }
    }
}

/// The Community ID of the client's connection, when the front end was captured (only then
/// is `alb` the connection's own endpoint rather than the node and X-Forwarded-Port).
fn front_community_id(f: &Finding) -> Option<String> {
    match (f.client, f.alb) {
        (Some(client), Some(AlbAddr::Endpoint(alb))) => Some(community_id(client, alb)),
        _ => None,
    }
}

/// The document's `requests` array: the findings with the input names their packet
/// references need.
pub struct RequestsOut<'a> {
    /// The analysis whose requests these are.
    pub analysis: &'a Analysis,
}

impl Serialize for RequestsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.analysis
                .requests
                .iter()
                .map(|f| RequestOut::new(f, self.analysis)),
        )
    }
}
