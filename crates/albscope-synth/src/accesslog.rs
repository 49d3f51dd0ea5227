//! The access-log lines the modelled ALB writes for its client requests, in the documented
//! format (the 30 named fields through `conn_trace_id`, then `transformed_host`,
//! `transformed_uri`, `request_transform_status`), so that a sample capture has a matching
//! `samples/access-logs/<scenario>.log`.

use super::pcap::Nanos;
use super::tcp::SEC;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// The load balancer's resource id written in every line.
pub const ELB_NAME: &str = "app/alb-demo/1fa8b17e4c17e7c7";
/// The target group ARN written in every forwarded line.
pub const TARGET_GROUP_ARN: &str =
    "arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841";
/// The certificate ARN of the HTTPS listener.
pub const CERT_ARN: &str =
    "arn:aws:acm:ap-southeast-2:592752082067:certificate/56609dae-79ce-4b2b-b54a-55a73dca1485";

/// One access-log entry, with times in nanoseconds on the capture's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `http` or `https`.
    pub kind: &'static str,
    /// When the ALB answered the client (or noticed the client had gone).
    pub time: Nanos,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Target chosen (None: no target).
    pub target: Option<SocketAddr>,
    /// When the request was complete at the ALB.
    pub received: Nanos,
    /// When the ALB started sending it to the target.
    pub dispatched: Option<Nanos>,
    /// When the target's response (or unusable bytes) began.
    pub response: Option<Nanos>,
    /// When the ALB began relaying the target's response.
    pub relayed: Option<Nanos>,
    /// `elb_status_code`.
    pub elb_status: Option<u16>,
    /// `target_status_code`.
    pub target_status: Option<u16>,
    /// Bytes from the client.
    pub received_bytes: usize,
    /// Bytes to the client.
    pub sent_bytes: usize,
    /// `METHOD scheme://host:port/path HTTP/1.1`.
    pub request: String,
    /// User-Agent or `-`.
    pub user_agent: String,
    /// `Root=1-...`.
    pub trace_id: String,
    /// SNI of an HTTPS listener.
    pub domain: Option<String>,
    /// When the ALB received the request (its first byte).
    pub created: Nanos,
    /// `TID_...`.
    pub conn_trace_id: String,
}

fn rfc3339(t: Nanos, digits: usize) -> String {
    let ts = albscope::capture::Timestamp(i64::try_from(t).unwrap_or(i64::MAX)).to_rfc3339();
    // `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`: keep `digits` fraction digits, pad with zeros (the ALB
    // writes request_creation_time with millisecond precision).
    match ts.split_once('.') {
        Some((head, frac)) => {
            let frac = frac.trim_end_matches('Z');
            let kept: String = frac.chars().take(digits).collect();
            format!("{head}.{kept:0<6}Z")
        }
        None => ts,
    }
}

fn secs(from: Option<Nanos>, to: Option<Nanos>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => format!("{:.3}", b.saturating_sub(a) as f64 / SEC as f64),
        _ => "-1".into(),
    }
}

fn q(s: Option<&str>) -> String {
    format!("\"{}\"", s.unwrap_or("-"))
}

impl LogLine {
    /// The line as the ALB writes it (no line terminator).
    pub fn format(&self) -> String {
        let status = |s: Option<u16>| s.map_or_else(|| "-".to_string(), |s| s.to_string());
        let target = self.target.map(|t| t.to_string());
        let relayed = self.target_status.is_some();
        let mut s = String::new();
        let _ = write!(
            s,
            "{} {} {ELB_NAME} {} {} {} {} {} {} {} {} {} {} {}",
            self.kind,
            rfc3339(self.time, 6),
            self.client,
            target.as_deref().unwrap_or("-"),
            secs(Some(self.received), self.dispatched),
            secs(self.dispatched, self.response),
            if relayed {
                secs(self.response, self.relayed)
            } else {
                "-1".into()
            },
            status(self.elb_status),
            status(self.target_status),
            self.received_bytes,
            self.sent_bytes,
            q(Some(&self.request)),
            q(Some(&self.user_agent)),
        );
        let tls = self.kind == "https";
        let _ = write!(
            s,
            " {} {} {} {} {} {} 0 {} \"forward\" \"-\" \"-\" {} {} \"-\" \"-\" {} \"-\" \"-\" \"-\"",
            if tls { "TLS_AES_128_GCM_SHA256" } else { "-" },
            if tls { "TLSv1.3" } else { "-" },
            if self.target.is_some() {
                TARGET_GROUP_ARN
            } else {
                "-"
            },
            q(Some(&self.trace_id)),
            q(self.domain.as_deref()),
            q(if tls { Some(CERT_ARN) } else { None }),
            rfc3339(self.created, 3),
            q(target.as_deref()),
            q(self.target_status.map(|s| s.to_string()).as_deref()),
            self.conn_trace_id,
        );
        s
    }
}
