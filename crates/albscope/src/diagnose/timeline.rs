//! The per-request timeline: events of both legs on one clock.

use super::{packet_ref, round3, Side, TimelineEvent};
use crate::alb::{Leg, RequestPath};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{Dir, TcpEventKind};
use crate::protocol::header;

/// Most events shown per leg.
const MAX_EVENTS_PER_LEG: usize = 40;
/// How long after a leg's last HTTP event its TCP events are still shown.
const TAIL: Duration = Duration(15_000_000_000);

struct Raw {
    ts: Timestamp,
    side: Side,
    dir: Dir,
    text: String,
    pos: Option<PacketPos>,
}

/// Time order; at equal times packet order, events without a packet of their own after.
fn order(r: &Raw) -> (Timestamp, u16, u64) {
    match r.pos {
        Some(p) => (r.ts, p.file, p.number),
        None => (r.ts, u16::MAX, u64::MAX),
    }
}

fn direction(side: Side, dir: Dir) -> &'static str {
    match (side, dir) {
        (Side::Front, Dir::ToServer) => "client->alb",
        (Side::Front, Dir::ToClient) => "alb->client",
        (Side::Back, Dir::ToServer) => "alb->target",
        (Side::Back, Dir::ToClient) => "target->alb",
    }
}

fn sender(side: Side, dir: Dir) -> &'static str {
    match (side, dir) {
        (Side::Front, Dir::ToServer) => "client",
        (Side::Back, Dir::ToClient) => "target",
        _ => "ALB",
    }
}

/// Builds the merged timeline of a request; `start` is time zero.
pub(super) fn build_timeline(
    path: &RequestPath,
    files: &[String],
    start: Timestamp,
) -> Vec<TimelineEvent> {
    let mut raw = Vec::new();
    if let Some(f) = &path.front {
        leg_events(f, Side::Front, &mut raw);
    }
    if let Some(b) = &path.back {
        leg_events(b, Side::Back, &mut raw);
    }
    raw.sort_by_key(order);
    raw.into_iter()
        .map(|r| TimelineEvent {
            time: r.ts.to_rfc3339(),
            rel_ms: round3(r.ts.since(start).as_secs_f64() * 1000.0),
            side: r.side,
            direction: direction(r.side, r.dir).to_string(),
            event: r.text,
            packet: r.pos.map(|p| packet_ref(files, p)),
        })
        .collect()
}

fn leg_events(leg: &Leg, side: Side, out: &mut Vec<Raw>) {
    let mut evs: Vec<Raw> = Vec::new();
    let t0 = leg.time();
    let mut last = t0;
    let push = |evs: &mut Vec<Raw>, ts: Timestamp, dir: Dir, text: String, pos| {
        evs.push(Raw {
            ts,
            side,
            dir,
            text,
            pos,
        });
    };
    if let Some(ex) = &leg.exchange {
        if let Some(r) = &ex.request {
            let mut text = format!("{} {}", r.method, r.target);
            if let Some(h) = header(&r.headers, "host") {
                text.push_str(&format!(" (Host: {h})"));
            }
            if r.complete.is_none() {
                text.push_str(" [request incomplete]");
            }
            push(
                &mut evs,
                r.first_byte,
                Dir::ToServer,
                text,
                Some(r.first_pos),
            );
            last = last.max(r.complete.unwrap_or(r.first_byte));
        }
        if let Some(r) = &ex.response {
            for s in &r.interim {
                push(
                    &mut evs,
                    r.first_byte,
                    Dir::ToClient,
                    format!("{s} (interim)"),
                    None,
                );
            }
            let mut text = format!("{} {}", r.status, r.reason);
            if let Some(s) = header(&r.headers, "server") {
                text.push_str(&format!(" (Server: {s})"));
            }
            push(
                &mut evs,
                r.first_byte,
                Dir::ToClient,
                text,
                Some(r.first_pos),
            );
            match r.complete {
                Some(c) => last = last.max(c),
                None => {
                    last = last.max(r.headers_done);
                    let declared = r
                        .content_length
                        .map(|c| format!(" of {c} declared"))
                        .unwrap_or_default();
                    push(
                        &mut evs,
                        r.headers_done,
                        Dir::ToClient,
                        format!("(body never completed: {} bytes{declared})", r.body_bytes),
                        None,
                    );
                }
            }
        }
        if let Some(e) = &ex.response_error {
            let text = match e.kind {
                crate::protocol::ResponseErrorKind::Malformed => {
                    format!("malformed response: \"{}\"", e.excerpt)
                }
                crate::protocol::ResponseErrorKind::HeaderTooLarge => {
                    format!("response header block over the limit ({} bytes)", e.bytes)
                }
                crate::protocol::ResponseErrorKind::Gap => {
                    "response bytes missing from the capture".to_string()
                }
            };
            push(
                &mut evs,
                e.first_byte,
                Dir::ToClient,
                text,
                Some(e.first_pos),
            );
            last = last.max(e.first_byte);
        }
    }
    if let Some(b) = &leg.burst {
        push(
            &mut evs,
            b.request.first,
            Dir::ToServer,
            format!("TLS application data, {} bytes", b.request.bytes),
            Some(b.request.first_pos),
        );
        last = last.max(b.request.last);
        if let Some(r) = &b.response {
            push(
                &mut evs,
                r.first,
                Dir::ToClient,
                format!("TLS application data, {} bytes", r.bytes),
                Some(r.first_pos),
            );
            last = last.max(r.last);
        }
    }
    if let Some(rec) = &leg.record {
        let from = if leg.index() == 0 {
            rec.tcp.start
        } else {
            // From the end of the previous exchange (at most 1 s back).
            let back = leg
                .exchange
                .as_ref()
                .and_then(|e| e.idle_before)
                .map_or(1_000_000_000, |d| d.0.clamp(0, 1_000_000_000));
            Timestamp(t0.0.saturating_sub(back))
        };
        let to = if leg.finished {
            last.plus(Duration::from_millis(1_000))
        } else {
            rec.tcp.end.max(last.plus(TAIL))
        };
        if leg.index() == 0 {
            if let Some(tls) = &rec.tls {
                if let Some(ch) = &tls.client_hello {
                    let versions = if ch.supported_versions.is_empty() {
                        ch.legacy_version.clone()
                    } else {
                        ch.supported_versions.join("/")
                    };
                    push(
                        &mut evs,
                        ch.ts,
                        Dir::ToServer,
                        format!(
                            "TLS ClientHello ({versions}, {} cipher suites{})",
                            ch.ciphers.len(),
                            ch.sni
                                .as_ref()
                                .map(|s| format!(", SNI {s}"))
                                .unwrap_or_default()
                        ),
                        Some(ch.pos),
                    );
                }
                if let Some(sh) = &tls.server_hello {
                    push(
                        &mut evs,
                        sh.ts,
                        Dir::ToClient,
                        format!("TLS ServerHello ({}, {})", sh.version, sh.cipher),
                        Some(sh.pos),
                    );
                }
                for a in &tls.alerts {
                    push(
                        &mut evs,
                        a.ts,
                        a.dir,
                        format!("TLS alert {} {}", a.level, a.description),
                        Some(a.pos),
                    );
                }
            }
        }
        let mut syn = 0u32;
        let mut synack = 0u32;
        for e in &rec.tcp.events {
            if e.ts < from || e.ts > to {
                continue;
            }
            let who = sender(side, e.dir);
            let text = match &e.kind {
                TcpEventKind::Syn { retransmission } => {
                    if *retransmission {
                        syn += 1;
                        format!("SYN retransmission #{syn}")
                    } else {
                        "SYN".to_string()
                    }
                }
                TcpEventKind::SynAck { retransmission } => {
                    if *retransmission {
                        synack += 1;
                        format!("SYN-ACK retransmission #{synack}")
                    } else {
                        "SYN-ACK".to_string()
                    }
                }
                TcpEventKind::Fin => format!("FIN from {who}"),
                TcpEventKind::Rst => format!("RST from {who}"),
                TcpEventKind::Icmp(i) => format!(
                    "ICMP {} (type {} code {})",
                    i.description, i.icmp_type, i.code
                ),
                TcpEventKind::Retransmission { len } => {
                    format!("retransmission from {who} ({len} bytes)")
                }
                TcpEventKind::Gap { len, .. } => {
                    format!("gap {len} bytes (missing from the capture)")
                }
                TcpEventKind::MemorySkipped { len, .. } => {
                    format!("{len} bytes skipped (memory limit)")
                }
                TcpEventKind::Conflict { offset } => {
                    format!("retransmission with different bytes at offset {offset}")
                }
            };
            push(&mut evs, e.ts, e.dir, text, Some(e.pos));
        }
    }
    evs.sort_by_key(order);
    let total = evs.len();
    evs.truncate(MAX_EVENTS_PER_LEG);
    if total > MAX_EVENTS_PER_LEG {
        if let Some(l) = evs.last() {
            let (ts, dir) = (l.ts, l.dir);
            push(
                &mut evs,
                ts,
                dir,
                format!("... {} more events not shown", total - MAX_EVENTS_PER_LEG),
                None,
            );
        }
    }
    out.extend(evs);
}
