//! Sentences, written once: every text the formats show for a finding's typed values (timeline
//! events, directions, the request, the path line, access-log steps, evidence, notes and the
//! headline). Each renderer lays these out; none writes them itself.

mod cause;
mod evidence;
mod verdict;

pub use cause::{cause, headline, note, notes, pairing_note};
pub use evidence::{at, close, evidence, response_error_reason};
pub use verdict::{spans, verdict, Piece, Rich};

use crate::capture::{Duration, PacketPos, Timestamp};
use crate::diagnose::model::{
    AccessLogView, Direction, EventKind, Party, RequestSeen, Step, TimelineEvent,
};
use crate::diagnose::{packet_ref, round3, Finding};

/// A duration for people: `60 s` when whole, `12.3 ms` under a second, else `5.002 s`.
pub fn secs(d: Duration) -> String {
    if d.0 % 1_000_000_000 == 0 {
        format!("{} s", d.0 / 1_000_000_000)
    } else if d.0.unsigned_abs() < 1_000_000_000 {
        ms(d)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// A duration in milliseconds, one decimal: `12.3 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// An offset on a timeline in its largest fitting unit, signed, rounded to the microsecond:
/// `+60.000 s` (a second or more), `+12.345 ms` (a millisecond or more), `+150 µs`.
pub fn rel(d: Duration) -> String {
    let sign = if d.0 < 0 { '-' } else { '+' };
    let us = (d.0.unsigned_abs() + 500) / 1000;
    if us >= 1_000_000 {
        let ms = (us + 500) / 1000;
        format!("{sign}{}.{:03} s", ms / 1000, ms % 1000)
    } else if us >= 1000 {
        format!("{sign}{}.{:03} ms", us / 1000, us % 1000)
    } else {
        format!("{sign}{us} µs")
    }
}

/// A time as RFC 3339 UTC with microseconds.
pub fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// The time of day of an RFC 3339 time (`16:42:57.298415Z`), for timeline tables.
pub fn time_of_day(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    s.get(11..).map(str::to_string).unwrap_or(s)
}

/// Milliseconds from `start` to `t`, rounded to the microsecond (timeline `rel_ms`).
pub fn rel_ms(t: Timestamp, start: Timestamp) -> f64 {
    round3(t.since(start).as_secs_f64() * 1000.0)
}

/// Where a packet is: `#12`, or `file.pcap#12` when there are several inputs.
pub fn packet(files: &[String], pos: PacketPos) -> String {
    packet_ref(files, pos)
}

/// Appends [`packet`]'s text to `out`.
pub fn push_packet(out: &mut String, files: &[String], pos: PacketPos) {
    if files.len() > 1 {
        out.push_str(&packet_ref(files, pos));
    } else {
        out.push('#');
        push_u64(out, pos.number);
    }
}

/// Appends `v` in decimal (the text of `v.to_string()`, without the formatting machinery: a
/// report writes many numbers per kept finding).
pub fn push_u64(out: &mut String, v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = v;
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in digits.get(at..).unwrap_or(&[]) {
        out.push(char::from(d));
    }
}

/// The direction as in JSON: `client->alb`, `alb->client`, `alb->target`, `target->alb`.
pub fn direction(d: Direction) -> &'static str {
    match d {
        Direction::ClientToAlb => "client->alb",
        Direction::AlbToClient => "alb->client",
        Direction::AlbToTarget => "alb->target",
        Direction::TargetToAlb => "target->alb",
    }
}

/// The direction for people, with `arrow` between the ends: `client -> ALB`.
pub fn direction_label(d: Direction, arrow: &str) -> String {
    let (a, b) = match d {
        Direction::ClientToAlb => ("client", "ALB"),
        Direction::AlbToClient => ("ALB", "client"),
        Direction::AlbToTarget => ("ALB", "target"),
        Direction::TargetToAlb => ("target", "ALB"),
    };
    format!("{a}{arrow}{b}")
}

/// Who sent something, as an event names it: `client`, `ALB`, `target`.
pub fn party(p: Party) -> &'static str {
    match p {
        Party::Client => "client",
        Party::Alb => "ALB",
        Party::Target => "target",
    }
}

/// What a timeline event says: `GET /x (Host: h)`, `SYN retransmission #2`, `FIN from ALB`.
pub fn event(k: &EventKind) -> String {
    match k {
        EventKind::Request {
            method,
            target,
            host,
            incomplete,
        } => {
            let mut text = String::with_capacity(
                method.len() + target.len() + host.as_ref().map_or(0, |h| h.len() + 9) + 1,
            );
            text.push_str(method);
            text.push(' ');
            text.push_str(target);
            if let Some(h) = host {
                text.push_str(" (Host: ");
                text.push_str(h);
                text.push(')');
            }
            if *incomplete {
                text.push_str(" [request incomplete]");
            }
            text
        }
        EventKind::Interim { status } => format!("{status} (interim)"),
        EventKind::Response {
            status,
            reason,
            server,
        } => {
            let mut text = String::with_capacity(
                reason.len() + server.as_ref().map_or(0, |s| s.len() + 11) + 6,
            );
            push_u64(&mut text, u64::from(*status));
            text.push(' ');
            text.push_str(reason);
            if let Some(s) = server {
                text.push_str(" (Server: ");
                text.push_str(s);
                text.push(')');
            }
            text
        }
        EventKind::BodyIncomplete {
            body_bytes,
            declared,
            open_at_end: true,
        } => format!(
            "(body still arriving when the capture ended: {body_bytes} bytes so far{})",
            declared
                .map(|c| format!(" of {c} declared"))
                .unwrap_or_default()
        ),
        EventKind::BodyIncomplete {
            body_bytes,
            declared,
            open_at_end: false,
        } => {
            let declared = declared
                .map(|c| format!(" of {c} declared"))
                .unwrap_or_default();
            format!("(body never completed: {body_bytes} bytes{declared})")
        }
        EventKind::MalformedResponse { excerpt } => {
            format!(
                "malformed response: \"{}\"",
                crate::protocol::escape_bytes(excerpt)
            )
        }
        EventKind::HeaderTooLarge { bytes } => {
            format!("response header block over the limit ({bytes} bytes)")
        }
        EventKind::ResponseMissing => "response bytes missing from the capture".to_string(),
        EventKind::TlsData { bytes } => format!("TLS application data, {bytes} bytes"),
        EventKind::ClientHello {
            versions,
            ciphers,
            sni,
        } => format!(
            "TLS ClientHello ({}, {ciphers} cipher suites{})",
            versions.join("/"),
            sni.as_ref()
                .map(|s| format!(", SNI {s}"))
                .unwrap_or_default()
        ),
        EventKind::ServerHello { version, cipher } => {
            format!("TLS ServerHello ({version}, {cipher})")
        }
        EventKind::TlsAlert { level, description } => format!("TLS alert {level} {description}"),
        EventKind::Syn { retransmission } => match retransmission {
            Some(n) => format!("SYN retransmission #{n}"),
            None => "SYN".to_string(),
        },
        EventKind::SynAck { retransmission } => match retransmission {
            Some(n) => format!("SYN-ACK retransmission #{n}"),
            None => "SYN-ACK".to_string(),
        },
        EventKind::Fin { from } => format!("FIN from {}", party(*from)),
        EventKind::FinNotCaptured { from } => format!(
            "FIN from {} (not captured; acknowledged in this packet)",
            party(*from)
        ),
        EventKind::Rst { from } => format!("RST from {}", party(*from)),
        EventKind::Icmp {
            description,
            icmp_type,
            code,
        } => format!("ICMP {description} (type {icmp_type} code {code})"),
        EventKind::Retransmission { from, len } => {
            format!("retransmission from {} ({len} bytes)", party(*from))
        }
        EventKind::Gap { len } => format!("gap {len} bytes (missing from the capture)"),
        EventKind::MemorySkipped { len } => format!("{len} bytes skipped (memory limit)"),
        EventKind::Conflict { offset } => {
            format!("retransmission with different bytes at offset {offset}")
        }
        EventKind::MoreEvents { count } => format!("... {count} more events not shown"),
        EventKind::StreamReset { code } => format!("HTTP/2 RST_STREAM {}", h2_code(*code)),
        EventKind::GoAway {
            last_stream_id,
            code,
        } => format!(
            "HTTP/2 GOAWAY (last stream {last_stream_id}, {}): this stream refused",
            h2_code(*code)
        ),
        EventKind::FlowStall {
            connection,
            resumed_after,
        } => format!(
            "HTTP/2 flow-control stall: {} window exhausted with data pending{}",
            if *connection { "connection" } else { "stream" },
            match resumed_after {
                Some(d) => format!(", reopened {} later", ms(*d)),
                None => ", never reopened".to_string(),
            }
        ),
        EventKind::Grpc {
            status,
            message,
            from_http,
        } => grpc_status_text(*status, message.as_deref(), *from_http),
    }
}

/// An HTTP/2 error code: `INTERNAL_ERROR (0x2)`.
pub fn h2_code(code: u32) -> String {
    match crate::protocol::H2ErrorCode(code).name() {
        Some(n) => format!("{n} (0x{code:x})"),
        None => format!("error code 0x{code:x}"),
    }
}

/// What a client got when the ALB reset its HTTP/2 stream instead of answering with a status:
/// a `REFUSED_STREAM` is an answer (the stream was refused before any processing, so HTTP/2
/// clients retry it; unless the back end shows the target got the request); another code ended
/// the stream without one.
pub fn client_stream_reset(r: &crate::diagnose::ClientStreamReset) -> String {
    let code = h2_code(r.code);
    if crate::protocol::H2ErrorCode(r.code) != crate::protocol::H2ErrorCode::REFUSED_STREAM {
        return format!(
            "none - the ALB reset the HTTP/2 stream (RST_STREAM {code}) without a response"
        );
    }
    let retry = match r.target_received {
        Some(false) => "which clients may retry safely",
        Some(true) => {
            "which clients may retry safely (but the target had received the request: a retry \
             repeats it there)"
        }
        None => {
            "which clients retry (the back end, not in the capture, would show whether a target \
             had received the request already: a retry repeats it there)"
        }
    };
    format!(
        "none - the ALB refused the HTTP/2 stream (RST_STREAM {code}): an answer saying it was \
         not processed, {retry}"
    )
}

/// A gRPC call's outcome for a failure's `grpc` line: its status in words, or that the capture
/// holds no gRPC status.
pub fn grpc_line(g: &crate::protocol::GrpcOutcome) -> String {
    match g.status {
        Some(s) => grpc_status_text(s, g.message.as_deref(), g.from_http),
        None => "gRPC call, no gRPC status in the capture".to_string(),
    }
}

/// A gRPC status as the client sees it: `gRPC status 14 UNAVAILABLE: "..."`, and, when derived
/// from an HTTP error, which one.
pub fn grpc_status_text(status: u32, message: Option<&str>, from_http: Option<u16>) -> String {
    let name = crate::protocol::grpc_code_name(status).unwrap_or("unregistered");
    let message = message
        .map(|m| format!(": \"{}\"", m.escape_debug()))
        .unwrap_or_default();
    match from_http {
        Some(h) => format!(
            "gRPC status {status} {name} (no grpc-status: the client maps HTTP {h} to it){message}"
        ),
        None => format!("gRPC status {status} {name}{message}"),
    }
}

/// An event's text without the request's Host header (for short arrow labels): `GET /x`.
pub fn event_without_host(k: &EventKind) -> String {
    match k {
        EventKind::Request {
            method,
            target,
            host: Some(_),
            ..
        } => format!("{method} {target}"),
        _ => event(k),
    }
}

/// One timeline row's cells: rel ([`rel`]: `+1.500 ms`), time of day, direction (`arrow` between the
/// ends), event, packet.
pub fn timeline_row(
    e: &TimelineEvent,
    start: Timestamp,
    files: &[String],
    arrow: &str,
) -> [String; 5] {
    [
        rel(e.time.since(start)),
        time_of_day(e.time),
        direction_label(e.direction, arrow),
        event(&e.kind),
        e.packet.map(|p| packet(files, p)).unwrap_or_default(),
    ]
}

/// The request for display: `GET /x  (Host: h)`, or why it cannot be shown.
pub fn request_seen(r: &RequestSeen) -> String {
    match r {
        RequestSeen::Http {
            method,
            target,
            host,
        } => {
            // `{method} {target}  (Host: {host})`, without the formatting machinery.
            let mut s = String::with_capacity(
                method.len() + target.len() + host.as_ref().map_or(0, |h| h.len() + 10) + 1,
            );
            s.push_str(method);
            s.push(' ');
            s.push_str(target);
            if let Some(h) = host {
                s.push_str("  (Host: ");
                s.push_str(h);
                s.push(')');
            }
            s
        }
        RequestSeen::Encrypted { bytes } => format!("(encrypted: a TLS request of {bytes} bytes)"),
        RequestSeen::NoneSent => "(none sent: the back-end connection failed first)".to_string(),
        RequestSeen::NotReadable => "(not readable in the capture)".to_string(),
    }
}

/// Which legs were read from decrypted TLS, for the request's `decrypted:` line; `None` when
/// none was.
pub fn decrypted_legs(legs: crate::diagnose::DecryptedLegs) -> Option<&'static str> {
    match (legs.front, legs.back) {
        (true, true) => Some("both legs read from TLS decrypted with the key log"),
        (true, false) => Some("the client's leg read from TLS decrypted with the key log"),
        (false, true) => Some("the target's leg read from TLS decrypted with the key log"),
        (false, false) => None,
    }
}

/// The path line: `client C{arrow}ALB A{arrow}target T`. `xff` names a client known only from
/// X-Forwarded-For (the text report does; the others write `(not captured)`).
pub fn path_line(f: &Finding, arrow: &str, xff: bool) -> String {
    let client = match (&f.client, &f.client_ip) {
        (Some(c), _) => c.to_string(),
        (None, Some(ip)) if xff => {
            format!("{ip} (from X-Forwarded-For; front end not captured)")
        }
        _ => "(not captured)".to_string(),
    };
    format!(
        "client {client}{arrow}ALB {}{arrow}target {}",
        f.alb.map_or("?".to_string(), |a| a.to_string()),
        f.target.map_or_else(
            || {
                if f.access_log.status_not_visible {
                    "(not in the capture)".to_string()
                } else {
                    "(none)".to_string()
                }
            },
            |t| t.to_string()
        )
    )
}

/// A processing-time step as the log line writes it: `0.003`, `-1`, or `missing` when the leg
/// was not captured.
pub fn step(s: Step, missing: &str) -> String {
    match s {
        Step::NotCaptured => missing.to_string(),
        Step::Never => "-1".into(),
        Step::Took(_) => format!("{:.3}", s.secs().unwrap_or(0.0)),
    }
}

/// A status code, `-` when none.
pub fn status_or_dash(s: Option<u16>) -> String {
    s.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
}

/// The access-log fields as the log line would show them (`?` for a leg not captured):
/// `0.000 -1 -1 502 -`.
pub fn access_log_line(al: &AccessLogView) -> String {
    let code = |s: Option<u16>| {
        if al.status_not_visible {
            "?".to_string()
        } else {
            status_or_dash(s)
        }
    };
    format!(
        "{} {} {} {} {}",
        step(al.request_processing_time, "?"),
        step(al.target_processing_time, "?"),
        step(al.response_processing_time, "?"),
        code(al.elb_status_code),
        code(al.target_status_code)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Duration;

    #[test]
    fn a_stream_reset_to_the_client_is_worded_from_its_code() {
        use crate::diagnose::ClientStreamReset;
        let refused = |target_received| ClientStreamReset {
            code: 7,
            target_received,
        };
        let s = client_stream_reset(&refused(Some(false)));
        assert!(
            s.starts_with("none - the ALB refused the HTTP/2 stream"),
            "{s}"
        );
        assert!(
            s.contains("retry safely") && !s.contains("target had"),
            "{s}"
        );
        assert!(client_stream_reset(&refused(Some(true))).contains("the target had received"));
        let unknown = client_stream_reset(&refused(None));
        assert!(
            !unknown.contains("safely") && unknown.contains("not in the capture"),
            "{unknown}"
        );
        let cancel = client_stream_reset(&ClientStreamReset {
            code: 8,
            target_received: Some(true),
        });
        assert_eq!(
            cancel,
            "none - the ALB reset the HTTP/2 stream (RST_STREAM CANCEL (0x8)) without a response"
        );
    }

    #[test]
    fn events_read_as_before() {
        let k = EventKind::Request {
            method: "GET".into(),
            target: "/x".into(),
            host: Some("h".into()),
            incomplete: true,
        };
        assert_eq!(event(&k), "GET /x (Host: h) [request incomplete]");
        assert_eq!(event_without_host(&k), "GET /x");
        assert_eq!(
            event(&EventKind::Syn {
                retransmission: Some(2)
            }),
            "SYN retransmission #2"
        );
        assert_eq!(event(&EventKind::Fin { from: Party::Alb }), "FIN from ALB");
        assert_eq!(
            event(&EventKind::MalformedResponse {
                excerpt: b"GARBAGE\x00\r\n".to_vec()
            }),
            "malformed response: \"GARBAGE\\x00\\r\\n\""
        );
        assert_eq!(
            direction_label(Direction::TargetToAlb, " -> "),
            "target -> ALB"
        );
        assert_eq!(direction(Direction::AlbToClient), "alb->client");
    }

    #[test]
    fn steps_and_durations() {
        let al = AccessLogView {
            request_creation_time: None,
            request_processing_time: Step::Took(Duration(1_500_000)),
            target_processing_time: Step::Never,
            response_processing_time: Step::NotCaptured,
            elb_status_code: Some(502),
            target_status_code: None,
            status_not_visible: false,
            trace_id: None,
        };
        assert_eq!(access_log_line(&al), "0.002 -1 ? 502 -");
        assert_eq!(
            step(Step::NotCaptured, "? (leg not captured)"),
            "? (leg not captured)"
        );
        assert_eq!(secs(Duration(60_000_000_000)), "60 s");
        assert_eq!(secs(Duration(12_340_000)), "12.3 ms");
        assert_eq!(rel(Duration(60_000_150_000)), "+60.000 s");
        assert_eq!(rel(Duration(59_999_600_000)), "+60.000 s");
        assert_eq!(rel(Duration(12_345_000)), "+12.345 ms");
        assert_eq!(rel(Duration(999_999_600)), "+1.000 s");
        assert_eq!(rel(Duration(150_000)), "+150 µs");
        assert_eq!(rel(Duration(999_600)), "+1.000 ms");
        assert_eq!(rel(Duration(0)), "+0 µs");
        assert_eq!(rel(Duration(-2_500_000)), "-2.500 ms");
        assert_eq!(secs(Duration(5_002_000_000)), "5.002 s");
    }

    #[test]
    fn request_ids_read_back_and_order_by_value() {
        let f: crate::diagnose::RequestId = "f3.0".parse().unwrap();
        assert_eq!(f.to_string(), "f3.0");
        let b: crate::diagnose::RequestId = "b12.1".parse().unwrap();
        assert!(b < f, "back-end ids first");
        assert!(f < "f10.0".parse::<crate::diagnose::RequestId>().unwrap());
        assert!("x".parse::<crate::diagnose::RequestId>().is_err());
        assert!("f3".parse::<crate::diagnose::RequestId>().is_err());
    }
}
