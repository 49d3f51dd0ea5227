//! Builders for hand-made exchanges and connection records (unit tests of alb and diagnose).

use super::{HealthCheck, Knowledge, PathSink, RequestPath};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::decode::{IcmpError, MirrorSession};
use crate::flow::{CloseReason, ConnId, ConnKey, ConnSummary, DirStats, Endpoint, TcpEvent};
use crate::flow::{Dir, TcpEventKind};
use crate::protocol::{
    AppKind, ConnContext, ConnectionRecord, Headers, HttpExchange, HttpRequest, HttpResponse,
};

/// The client of the samples.
pub const CLIENT: &str = "13.239.55.82";
/// The ALB node.
pub const ALB: &str = "172.31.1.158";
/// The target.
pub const TARGET: &str = "172.31.6.52";
/// Epoch seconds of test time 0.
pub const BASE: i64 = 1_765_500_000;

/// Test time `ms` milliseconds after the base.
pub fn t(ms: i64) -> Timestamp {
    Timestamp((BASE * 1_000_000_000).saturating_add(ms.saturating_mul(1_000_000)))
}

/// Packet number `n` of file 0.
pub fn p(n: u64) -> PacketPos {
    PacketPos {
        file: 0,
        number: n,
        offset: n.wrapping_mul(100),
    }
}

/// `ip:port` endpoint.
pub fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        port,
    }
}

/// A connection summary builder.
pub struct Conn {
    /// The summary being built.
    pub s: ConnSummary,
    next_pos: u64,
}

impl Conn {
    /// Connection `id` from `client` to `server`, first packet at `ms`.
    pub fn new(id: u64, client: Endpoint, server: Endpoint, ms: i64) -> Self {
        Conn {
            s: ConnSummary {
                id: ConnId(id),
                key: ConnKey {
                    session: MirrorSession::DIRECT,
                    client,
                    server,
                },
                start: t(ms),
                end: t(ms),
                first_pos: p(id.wrapping_mul(1000)),
                last_pos: p(id.wrapping_mul(1000)),
                saw_syn: true,
                handshake_ack: None,
                dirs: [DirStats::default(); 2],
                state: "SF".into(),
                history: String::new(),
                events: Vec::new(),
                events_dropped: 0,
                close_reason: CloseReason::Closed,
                continuation: false,
            },
            next_pos: id.wrapping_mul(1000),
        }
    }

    /// Adds a TCP event at `ms`.
    pub fn ev(mut self, ms: i64, dir: Dir, kind: TcpEventKind) -> Self {
        self.next_pos = self.next_pos.wrapping_add(1);
        self.s.events.push(TcpEvent {
            ts: t(ms),
            pos: p(self.next_pos),
            dir,
            kind,
        });
        if t(ms) > self.s.end {
            self.s.end = t(ms);
        }
        self
    }

    /// SYN, SYN-ACK at `ms`, `ms`+1.
    pub fn handshake(self, ms: i64) -> Self {
        self.ev(
            ms,
            Dir::ToServer,
            TcpEventKind::Syn {
                retransmission: false,
            },
        )
        .ev(
            ms + 1,
            Dir::ToClient,
            TcpEventKind::SynAck {
                retransmission: false,
            },
        )
    }

    /// The connection context for exchanges.
    pub fn ctx(&self, tls: bool) -> ConnContext {
        ConnContext {
            id: self.s.id,
            key: self.s.key,
            opened: self.s.start,
            opened_pos: self.s.first_pos,
            tls,
            decrypted: false,
            saw_syn: self.s.saw_syn,
        }
    }

    /// Finishes into a record.
    pub fn record(
        self,
        app: AppKind,
        unfinished: Vec<HttpExchange>,
        finished: u32,
        last_end_ms: Option<i64>,
    ) -> ConnectionRecord {
        ConnectionRecord {
            tcp: self.s,
            app,
            unfinished,
            finished_exchanges: finished,
            last_exchange_end: last_end_ms.map(t),
            last_response_closes: false,
            tunnel_since: None,
            tls: None,
            unknown_excerpt: None,
            decryption: None,
        }
    }
}

/// An ICMP host-unreachable error.
pub fn icmp_host_unreachable(from: Endpoint, to: Endpoint) -> TcpEventKind {
    TcpEventKind::Icmp(IcmpError {
        v6: false,
        icmp_type: 3,
        code: 1,
        description: "destination unreachable: host unreachable".into(),
        quoted_src: from.ip,
        quoted_dst: to.ip,
        quoted_src_port: from.port,
        quoted_dst_port: to.port,
        quoted_seq: None,
    })
}

/// Headers from pairs.
pub fn hdrs(list: &[(&str, &str)]) -> Headers {
    Headers::from_pairs(list.iter().copied())
}

/// A GET request for `target` at `ms`, complete at once.
pub fn get(ms: i64, target: &str, mut headers: Headers) -> HttpRequest {
    headers.set_start_line("GET", target);
    HttpRequest {
        first_byte: t(ms),
        first_pos: p((ms as u64).wrapping_add(1)),
        headers_done: Some(t(ms)),
        complete: Some(t(ms)),
        version: 1,
        headers,
        header_bytes: 100,
        content_length: None,
        chunked: false,
        body_bytes: 0,
    }
}

/// Front-end request headers.
pub fn front_headers() -> Headers {
    hdrs(&[("Host", "alb.example.com"), ("User-Agent", "curl/8.11.1")])
}

/// Back-end request headers as the ALB sends them for `client`.
pub fn back_headers(client: &str) -> Headers {
    hdrs(&[
        ("Host", "alb.example.com"),
        ("X-Forwarded-For", client),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Port", "80"),
        (
            "X-Amzn-Trace-Id",
            "Root=1-693af491-5a6814f5635754d41bcc7a78",
        ),
        ("User-Agent", "curl/8.11.1"),
    ])
}

/// A complete response at `ms`.
pub fn resp(ms: i64, status: u16, server: &str, len: u64) -> HttpResponse {
    HttpResponse {
        first_byte: t(ms),
        first_pos: p((ms as u64).wrapping_add(2)),
        headers_done: t(ms),
        complete: Some(t(ms)),
        status,
        version: 1,
        headers: {
            let mut h = hdrs(&[("Server", server), ("Content-Length", &len.to_string())]);
            h.set_start_line(reason(status), "");
            h
        },
        header_bytes: 120,
        content_length: Some(len),
        chunked: false,
        body_bytes: len,
        interim: Vec::new(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Other",
    }
}

/// An exchange.
pub fn exch(
    index: u32,
    idle_ms: Option<i64>,
    req: Option<HttpRequest>,
    resp: Option<HttpResponse>,
) -> HttpExchange {
    HttpExchange {
        index,
        idle_before: idle_ms.map(Duration::from_millis),
        request: req,
        request_lost_at: None,
        response: resp,
        response_error: None,
        headers_skipped: None,
        h2: None,
    }
}

/// A sink that keeps everything.
#[derive(Default)]
pub struct Collect {
    /// Paths received.
    pub paths: Vec<RequestPath>,
    /// Health checks received.
    pub checks: Vec<HealthCheck>,
}

impl PathSink for Collect {
    fn path(&mut self, path: RequestPath, _known: &Knowledge) {
        self.paths.push(path);
    }
    fn health_check(&mut self, check: HealthCheck, _known: &Knowledge) {
        self.checks.push(check);
    }
}
