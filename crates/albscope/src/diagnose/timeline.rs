//! The per-request timeline: events of both legs on one clock.

use super::model::{Direction, EventKind, LegKind, Party, TimelineEvent};
use crate::alb::{Leg, RequestPath};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{CloseReason, Dir, TcpEventKind};
use crate::protocol::Known;

/// Most events shown per leg.
const MAX_EVENTS_PER_LEG: usize = 40;
/// How long after a leg's last HTTP event its TCP events are still shown.
const TAIL: Duration = Duration(15_000_000_000);

struct Raw {
    ts: Timestamp,
    side: LegKind,
    dir: Dir,
    kind: EventKind,
    pos: Option<PacketPos>,
}

/// Time order; at equal times packet order, events without a packet of their own after.
fn order(r: &Raw) -> (Timestamp, u16, u64) {
    match r.pos {
        Some(p) => (r.ts, p.file, p.number),
        None => (r.ts, u16::MAX, u64::MAX),
    }
}

fn direction(side: LegKind, dir: Dir) -> Direction {
    match (side, dir) {
        (LegKind::Front, Dir::ToServer) => Direction::ClientToAlb,
        (LegKind::Front, Dir::ToClient) => Direction::AlbToClient,
        (LegKind::Back, Dir::ToServer) => Direction::AlbToTarget,
        (LegKind::Back, Dir::ToClient) => Direction::TargetToAlb,
    }
}

fn sender(side: LegKind, dir: Dir) -> Party {
    match (side, dir) {
        (LegKind::Front, Dir::ToServer) => Party::Client,
        (LegKind::Back, Dir::ToClient) => Party::Target,
        _ => Party::Alb,
    }
}

/// Builds the merged timeline of a request.
pub(super) fn build_timeline(path: &RequestPath) -> Vec<TimelineEvent> {
    let mut raw = Vec::new();
    if let Some(f) = &path.front {
        leg_events(f, LegKind::Front, &mut raw);
    }
    if let Some(b) = &path.back {
        leg_events(b, LegKind::Back, &mut raw);
    }
    raw.sort_by_key(order);
    raw.into_iter()
        .map(|r| TimelineEvent {
            time: r.ts,
            side: r.side,
            direction: direction(r.side, r.dir),
            kind: r.kind,
            packet: r.pos,
        })
        .collect()
}

/// The HTTP/2 events of a stream: its reset, the GOAWAY that refused it, flow-control stalls.
fn h2_events(
    h2: &crate::protocol::H2Stream,
    push: &mut dyn FnMut(Timestamp, Dir, EventKind, Option<PacketPos>),
) {
    if let Some(r) = &h2.reset {
        push(
            r.ts,
            r.dir,
            EventKind::StreamReset { code: r.code.0 },
            Some(r.pos),
        );
    }
    if let Some(g) = &h2.refused_by {
        let kind = EventKind::GoAway {
            last_stream_id: g.last_stream_id,
            code: g.code.0,
        };
        push(g.ts, g.dir, kind, Some(g.pos));
    }
    for st in &h2.stalls {
        let kind = EventKind::FlowStall {
            connection: st.scope == crate::protocol::WindowScope::Connection,
            resumed_after: st.resumed.map(|r| r.since(st.ts)),
        };
        push(st.ts, st.dir, kind, Some(st.pos));
    }
}

fn leg_events(leg: &Leg, side: LegKind, out: &mut Vec<Raw>) {
    let mut evs: Vec<Raw> = Vec::new();
    let t0 = leg.time();
    let mut last = t0;
    let push = |evs: &mut Vec<Raw>, ts: Timestamp, dir: Dir, kind: EventKind, pos| {
        evs.push(Raw {
            ts,
            side,
            dir,
            kind,
            pos,
        });
    };
    if let Some(ex) = &leg.exchange {
        if let Some(r) = &ex.request {
            let kind = EventKind::Request {
                method: r.method().into(),
                target: r.target().into(),
                host: r.headers.known(Known::Host).map(Into::into),
                incomplete: r.complete.is_none(),
            };
            push(
                &mut evs,
                r.first_byte,
                Dir::ToServer,
                kind,
                Some(r.first_pos),
            );
            last = last.max(r.complete.unwrap_or(r.first_byte));
        }
        if let Some(r) = &ex.response {
            for i in &r.interim {
                push(
                    &mut evs,
                    i.at,
                    Dir::ToClient,
                    EventKind::Interim { status: i.status },
                    Some(i.pos),
                );
            }
            let kind = EventKind::Response {
                status: r.status,
                reason: r.reason().into(),
                server: r.headers.known(Known::Server).map(Into::into),
            };
            push(
                &mut evs,
                r.first_byte,
                Dir::ToClient,
                kind,
                Some(r.first_pos),
            );
            match r.complete {
                Some(c) => last = last.max(c),
                None => {
                    last = last.max(r.headers_done);
                    // Still open at the end of the capture, with no FIN or RST after the
                    // headers: the body was in flight, shown at the capture's last packet.
                    let open_end = leg.record.as_ref().and_then(|rec| {
                        let open = rec.tcp.close_reason == CloseReason::EndOfCapture
                            && !rec
                                .tcp
                                .events
                                .iter()
                                .any(|e| e.ts >= r.headers_done && e.kind.is_close());
                        open.then_some(rec.tcp.end.max(r.headers_done))
                    });
                    push(
                        &mut evs,
                        open_end.unwrap_or(r.headers_done),
                        Dir::ToClient,
                        EventKind::BodyIncomplete {
                            body_bytes: r.body_bytes,
                            declared: r.content_length,
                            open_at_end: open_end.is_some(),
                        },
                        None,
                    );
                }
            }
        }
        if let Some(e) = &ex.response_error {
            let kind = match e.kind {
                crate::protocol::ResponseErrorKind::Malformed => EventKind::MalformedResponse {
                    excerpt: e.excerpt.clone(),
                },
                crate::protocol::ResponseErrorKind::HeaderTooLarge => {
                    EventKind::HeaderTooLarge { bytes: e.bytes }
                }
                crate::protocol::ResponseErrorKind::Gap => EventKind::ResponseMissing,
            };
            push(
                &mut evs,
                e.first_byte,
                Dir::ToClient,
                kind,
                Some(e.first_pos),
            );
            last = last.max(e.first_byte);
        }
        if let Some(h2) = &ex.h2 {
            h2_events(h2, &mut |ts, dir, kind, pos| {
                last = last.max(ts);
                push(&mut evs, ts, dir, kind, pos);
            });
        }
        if let Some(g) = crate::protocol::grpc_outcome(ex) {
            if let (Some(status), Some(r)) = (g.status, &ex.response) {
                let ts = r.complete.unwrap_or(r.headers_done);
                let kind = EventKind::Grpc {
                    status,
                    message: g.message,
                    from_http: g.from_http,
                };
                push(&mut evs, ts, Dir::ToClient, kind, None);
            }
        }
    }
    if let Some(b) = &leg.burst {
        push(
            &mut evs,
            b.request.first,
            Dir::ToServer,
            EventKind::TlsData {
                bytes: b.request.data_bytes(),
            },
            Some(b.request.first_pos),
        );
        last = last.max(b.request.last);
        if let Some(r) = &b.response {
            push(
                &mut evs,
                r.first,
                Dir::ToClient,
                EventKind::TlsData {
                    bytes: r.data_bytes(),
                },
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
                        vec![ch.legacy_version.clone()]
                    } else {
                        ch.supported_versions.clone()
                    };
                    push(
                        &mut evs,
                        ch.ts,
                        Dir::ToServer,
                        EventKind::ClientHello {
                            versions,
                            ciphers: ch.ciphers.len(),
                            sni: ch.sni.clone(),
                        },
                        Some(ch.pos),
                    );
                }
                if let Some(sh) = &tls.server_hello {
                    push(
                        &mut evs,
                        sh.ts,
                        Dir::ToClient,
                        EventKind::ServerHello {
                            version: sh.version.clone(),
                            cipher: sh.cipher.clone(),
                        },
                        Some(sh.pos),
                    );
                }
                for a in &tls.alerts {
                    push(
                        &mut evs,
                        a.ts,
                        a.dir,
                        EventKind::TlsAlert {
                            level: a.level.clone(),
                            description: a.description.clone(),
                        },
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
            let from = sender(side, e.dir);
            let kind = match &e.kind {
                TcpEventKind::Syn { retransmission } => EventKind::Syn {
                    retransmission: retransmission.then(|| {
                        syn += 1;
                        syn
                    }),
                },
                TcpEventKind::SynAck { retransmission } => EventKind::SynAck {
                    retransmission: retransmission.then(|| {
                        synack += 1;
                        synack
                    }),
                },
                TcpEventKind::Fin => EventKind::Fin { from },
                TcpEventKind::FinNotCaptured => EventKind::FinNotCaptured { from },
                TcpEventKind::Rst => EventKind::Rst { from },
                TcpEventKind::Icmp(i) => EventKind::Icmp {
                    description: i.description.clone(),
                    icmp_type: i.icmp_type,
                    code: i.code,
                },
                TcpEventKind::Retransmission { len } => {
                    EventKind::Retransmission { from, len: *len }
                }
                TcpEventKind::Gap { len, .. } => EventKind::Gap { len: *len },
                TcpEventKind::MemorySkipped { len, .. } => EventKind::MemorySkipped { len: *len },
                TcpEventKind::Conflict { offset } => EventKind::Conflict { offset: *offset },
            };
            push(&mut evs, e.ts, e.dir, kind, Some(e.pos));
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
                EventKind::MoreEvents {
                    count: total - MAX_EVENTS_PER_LEG,
                },
                None,
            );
        }
    }
    out.extend(evs);
}
