//! ALB access-log reading: parses the documented space-separated format and explains each error
//! line from its fields alone.
//!
//! - [`parse_line`] turns one line into a [`LogEntry`] (or a [`LogParseError`] naming the field);
//! - [`LogReader`] streams many files (plain or gzip, folders, stdin) line by line, skipping and
//!   counting malformed lines, never holding a whole file in memory;
//! - [`explain`] / [`explain_with`] give the failure category of a 4xx/5xx line, with the
//!   reasoning of the field article (`seeds/000_...`): who generated the error, how sure the
//!   fields alone can be, and the fix.
//!
//! The field list follows the AWS page "Access log entries" (Elastic Load Balancing, Application
//! Load Balancer): 30 named fields through `conn_trace_id`, then whatever AWS appended later
//! (`transformed_host`, `transformed_uri`, `request_transform_status`, ...) kept in
//! [`LogEntry::extra`]. Older logs with fewer trailing fields are accepted.

mod explain;
mod parse;
mod reader;

pub use explain::{explain, explain_with, ExplainOptions, Explanation};
pub use parse::{parse_line, parse_rfc3339, EXTRA_FIELD_NAMES, FIELD_NAMES, MIN_FIELDS};
pub use reader::{LinePos, LogReader, LogRecord, MalformedLine, ReaderStats, MAX_LINE_BYTES};

use crate::capture::{Duration, Timestamp};
use serde::Serialize;
use std::fmt;

/// An IP address and port as the log writes them (`10.0.0.1:80`, `[2001:db8::1]:443`, or an
/// unbracketed IPv6 address whose last `:` group is the port).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct HostPort {
    /// The address, without brackets.
    pub ip: String,
    /// The port, when the field had one.
    pub port: Option<u16>,
}

impl HostPort {
    /// Parses `ip:port`, `[ipv6]:port` or a bare `ip`.
    pub fn parse(s: &str) -> Result<HostPort, String> {
        if let Some(bad) = s.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '%' | '-' | '_' | '[' | ']'))
        }) {
            return Err(format!("{s:?}: character {bad:?} in an address"));
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: '[' without ']'"))?;
            let port = match after {
                "" => None,
                p => Some(parse_port(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("{s:?}: text after ']'"))?,
                    s,
                )?),
            };
            return Ok(HostPort {
                ip: ip.to_string(),
                port,
            });
        }
        match s.rsplit_once(':') {
            Some((ip, port)) if !ip.is_empty() => Ok(HostPort {
                ip: ip.to_string(),
                port: Some(parse_port(port, s)?),
            }),
            Some(_) => Err(format!("{s:?} has no address before the port")),
            None if !s.is_empty() => Ok(HostPort {
                ip: s.to_string(),
                port: None,
            }),
            None => Err("empty address".to_string()),
        }
    }
}

fn parse_port(p: &str, whole: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .map_err(|_| format!("{whole:?}: port {p:?} is not a number 0-65535"))
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip.contains(':'), self.port) {
            (true, Some(p)) => write!(f, "[{}]:{p}", self.ip),
            (false, Some(p)) => write!(f, "{}:{p}", self.ip),
            (_, None) => f.write_str(&self.ip),
        }
    }
}

/// One access-log line, field by field. `-` (and `-1` for the processing times) are `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// `type`: `http`, `https`, `h2`, `grpcs`, `ws`, `wss`.
    pub kind: String,
    /// `time`: when the ALB generated the response (for WebSockets: closed the connection).
    pub time: Timestamp,
    /// `elb`: the load balancer's resource id (`app/name/id`).
    pub elb: String,
    /// `client:port`.
    pub client: HostPort,
    /// `target:port`; `None` when no target was chosen (incomplete request, Lambda, WAF block).
    pub target: Option<HostPort>,
    /// `request_processing_time`: request received -> sent to the target; `None` for `-1`.
    pub request_processing_time: Option<Duration>,
    /// `target_processing_time`: sent to the target -> response headers began; `None` for `-1`.
    pub target_processing_time: Option<Duration>,
    /// `response_processing_time`: response headers received -> sent to the client.
    pub response_processing_time: Option<Duration>,
    /// `elb_status_code`: the status the client got.
    pub elb_status_code: Option<u16>,
    /// `target_status_code`: the target's status; `None` when the target sent no response.
    pub target_status_code: Option<u16>,
    /// `received_bytes` from the client.
    pub received_bytes: Option<u64>,
    /// `sent_bytes` to the client.
    pub sent_bytes: Option<u64>,
    /// `"request"`: `METHOD scheme://host:port/uri VERSION`, unescaped.
    pub request: Option<String>,
    /// `"user_agent"`, unescaped.
    pub user_agent: Option<String>,
    /// `ssl_cipher` of the client (front-end) connection.
    pub ssl_cipher: Option<String>,
    /// `ssl_protocol` of the client (front-end) connection.
    pub ssl_protocol: Option<String>,
    /// `target_group_arn`.
    pub target_group_arn: Option<String>,
    /// `"trace_id"`: the `X-Amzn-Trace-Id` header the ALB sent (`Root=1-...`).
    pub trace_id: Option<String>,
    /// `"domain_name"`: SNI of the client connection.
    pub domain_name: Option<String>,
    /// `"chosen_cert_arn"`.
    pub chosen_cert_arn: Option<String>,
    /// `matched_rule_priority`: 0 = default rule, -1 = error during rule evaluation (kept).
    pub matched_rule_priority: Option<i32>,
    /// `request_creation_time`: when the ALB received the request.
    pub request_creation_time: Option<Timestamp>,
    /// `"actions_executed"`: comma-separated (`forward`, `waf`, `authenticate`, ...).
    pub actions_executed: Option<String>,
    /// `"redirect_url"`.
    pub redirect_url: Option<String>,
    /// `"error_reason"`: `LambdaInvalidResponse`, `AuthTokenEpRequestTimeout`, `WAF...`, ...
    pub error_reason: Option<String>,
    /// `"target:port_list"` as written (space-separated when several).
    pub target_port_list: Option<String>,
    /// `"target_status_code_list"` as written.
    pub target_status_code_list: Option<String>,
    /// `"classification"` (desync mitigation): `Acceptable`, `Ambiguous`, `Severe`.
    pub classification: Option<String>,
    /// `"classification_reason"`: `BadContentLength`, `BothTeClPresent`, ...
    pub classification_reason: Option<String>,
    /// `conn_trace_id`: links the entry to the connection log.
    pub conn_trace_id: Option<String>,
    /// Fields after `conn_trace_id`, unescaped, `-` kept: currently `transformed_host`,
    /// `transformed_uri`, `request_transform_status` (see [`EXTRA_FIELD_NAMES`]).
    pub extra: Vec<String>,
    /// How many fields the line had (33 in current logs).
    pub field_count: usize,
    /// The line as read, without its line terminator.
    pub raw: String,
}

impl LogEntry {
    /// `request_creation_time` -> `time`: how long the ALB held the request before answering.
    pub fn elapsed(&self) -> Option<Duration> {
        self.request_creation_time.map(|c| self.time.since(c))
    }
    /// An appended field by name (`transformed_host`, ...), when present and not `-`.
    pub fn extra_field(&self, name: &str) -> Option<&str> {
        let i = EXTRA_FIELD_NAMES.iter().position(|n| *n == name)?;
        self.extra.get(i).map(String::as_str).filter(|v| *v != "-")
    }
    /// True for a 4xx or 5xx answer to the client (460 included: the ALB logs it, the client
    /// got nothing).
    pub fn is_error(&self) -> bool {
        self.elb_status_code.is_some_and(|s| s >= 400)
    }
}

/// Why a line is not an access-log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogParseError {
    /// Name of the offending field, when one field is to blame.
    pub field: Option<&'static str>,
    /// Its 1-based position in the line.
    pub field_index: Option<usize>,
    /// What is wrong, with the offending text.
    pub reason: String,
}

impl fmt::Display for LogParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.field, self.field_index) {
            (Some(name), Some(i)) => write!(f, "field {i} ({name}): {}", self.reason),
            (None, Some(i)) => write!(f, "field {i}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for LogParseError {}
