//! The `logged` object of a request (the access-log line joined to it, `--access-log`).

use super::document::display;
use crate::accesslog::HostPort;
use crate::diagnose::logjoin::{secs_or_minus1, JoinMethod, LoggedEntry};
use crate::report::logjoin::disagreement_text;
use serde::Serialize;

/// `requests[].logged`.
#[derive(Serialize)]
pub struct LoggedOut<'a> {
    source: &'a str,
    joined_by: &'static str,
    time: String,
    request_creation_time: Option<String>,
    #[serde(serialize_with = "display")]
    client: &'a HostPort,
    target: Option<String>,
    request_processing_time: f64,
    target_processing_time: f64,
    response_processing_time: f64,
    elb_status_code: Option<u16>,
    target_status_code: Option<u16>,
    request: Option<&'a str>,
    trace_id: Option<&'a str>,
    error_reason: Option<&'a str>,
    disagreements: Vec<String>,
}

impl<'a> LoggedOut<'a> {
    /// The object of `l`.
    pub fn new(l: &'a LoggedEntry) -> Self {
        LoggedOut {
            source: &l.source,
            joined_by: join_method_name(l.joined_by),
            time: l.time.to_rfc3339(),
            request_creation_time: l.request_creation_time.map(|t| t.to_rfc3339()),
            client: &l.client,
            target: l.target.as_ref().map(HostPort::to_string),
            request_processing_time: secs_or_minus1(l.request_processing_time),
            target_processing_time: secs_or_minus1(l.target_processing_time),
            response_processing_time: secs_or_minus1(l.response_processing_time),
            elb_status_code: l.elb_status_code,
            target_status_code: l.target_status_code,
            request: l.request.as_deref(),
            trace_id: l.trace_id.as_deref(),
            error_reason: l.error_reason.as_deref(),
            disagreements: l.disagreements.iter().map(disagreement_text).collect(),
        }
    }
}

/// `joined_by` as the schema names it.
fn join_method_name(m: JoinMethod) -> &'static str {
    match m {
        JoinMethod::TraceId => "trace_id",
        JoinMethod::ClientTime => "client_time",
        JoinMethod::TargetTime => "target_time",
    }
}
