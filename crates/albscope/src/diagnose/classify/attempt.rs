//! The back-end verdict of a connection that carried no request: connect and TLS failures.

use super::{at, back_bytes_not_captured, close_of, events, is_close, BackVerdict, Ctx, FixFacts};
use crate::alb::{Leg, TLS_HANDSHAKE_TIMEOUT};
use crate::diagnose::evidence::{Cause, Evidence, Icmp};
use crate::diagnose::model::Party;
use crate::flow::{CloseReason, Dir, TcpEvent, TcpEventKind};
use crate::protocol::AppKind;
use crate::taxonomy::{Category, FixExtra};

/// A back-end connection that carried no request: connect and TLS failures.
pub(super) fn analyze_attempt(b: &Leg, ctx: &Ctx, mut detail: FixFacts) -> BackVerdict {
    let evs = events(b);
    let target = b.conn.key.server;
    let mut ev = Vec::new();
    let v = |category, what, ev, expected, detail| BackVerdict {
        category,
        evidence: ev,
        target_status: None,
        expected_status: expected,
        what,
        detail,
        candidates: Vec::new(),
        tell_apart: None,
    };
    // Bytes missing from the capture decide the outcome: undetermined among `candidates`.
    let bytes_lost = |ev, detail, candidates| BackVerdict {
        candidates,
        ..v(
            Category::Undetermined,
            Cause::BytesNotCaptured,
            ev,
            None,
            detail,
        )
    };
    let syns: Vec<&TcpEvent> = evs
        .iter()
        .filter(|e| e.dir == Dir::ToServer && matches!(e.kind, TcpEventKind::Syn { .. }))
        .collect();
    let first_synack = evs
        .iter()
        .find(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::SynAck { .. }));
    if let Some(s) = syns.first() {
        ev.push(Evidence::Connect {
            target,
            at: at(s.ts, s.pos),
        });
    }
    if let Some((e, icmp)) = evs.iter().find_map(|e| match &e.kind {
        TcpEventKind::Icmp(i) => Some((e, i)),
        _ => None,
    }) {
        let icmp = Icmp {
            description: icmp.description.clone(),
            icmp_type: icmp.icmp_type,
            code: icmp.code,
        };
        ev.push(Evidence::IcmpAnswer {
            icmp: icmp.clone(),
            at: at(e.ts, e.pos),
        });
        detail.extra = Some(FixExtra::Icmp {
            description: icmp.description.clone(),
            icmp_type: icmp.icmp_type,
            code: icmp.code,
        });
        return v(
            Category::TargetUnreachableIcmp,
            Cause::Unreachable { icmp },
            ev,
            Some(502),
            detail,
        );
    }
    let target_rst = evs
        .iter()
        .find(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Rst));
    // Opened before the capture started: a close is no answer to a connect, and the request
    // may have gone out before the first packet captured.
    let before_capture = syns.is_empty() && first_synack.is_none();
    if before_capture {
        ev.push(Evidence::OpenedBeforeCapture);
        if let Some(c) = evs.iter().find(|e| is_close(e)) {
            ev.push(Evidence::NoRequestClosed {
                by: if c.dir == Dir::ToServer {
                    Party::Alb
                } else {
                    Party::Target
                },
                close: close_of(c),
                at: at(c.ts, c.pos),
            });
        }
        return v(
            Category::Undetermined,
            Cause::NoRequestOnConnection,
            ev,
            None,
            detail,
        );
    }
    if first_synack.is_none() && !synack_not_captured(b, evs) {
        if let Some(r) = target_rst {
            ev.push(Evidence::Refused {
                at: at(r.ts, r.pos),
                after_syn: syns.first().map(|s| r.ts.since(s.ts)),
                port: target.port,
            });
            return v(
                Category::TargetConnectRefused,
                Cause::Refused,
                ev,
                Some(502),
                detail,
            );
        }
        if let (Some(first), Some(last)) = (syns.first(), syns.last()) {
            let retx = syns.len().saturating_sub(1);
            let end = b.record.as_ref().map(|r| r.tcp.end).unwrap_or(last.ts);
            ev.push(Evidence::SynRetransmissions {
                count: retx,
                last: at(last.ts, last.pos),
                span: last.ts.since(first.ts),
            });
            // The capture ended before the connect timeout ran out: still connecting, in
            // flight. The SYN or a later retransmission may yet be answered (a retransmission
            // goes out shortly before the timeout too), and the ALB gives up only at the
            // timeout: no failure is proved yet.
            let open_at_end = b
                .record
                .as_ref()
                .is_some_and(|r| r.tcp.close_reason == CloseReason::EndOfCapture);
            let timeout = ctx.known.config.connect_timeout;
            let captured = ctx.known.seen_until.max(end).since(first.ts);
            if open_at_end && captured.0 < timeout.0 {
                ev.push(Evidence::NoResponse { until: Some(end) });
                return v(
                    Category::Undetermined,
                    Cause::NoResponseInCapture,
                    ev,
                    None,
                    detail,
                );
            }
            ev.push(Evidence::ConnectTimeout {
                timeout: ctx.known.config.connect_timeout,
                seen: end.since(first.ts),
            });
            return v(
                Category::TargetConnectTimeout,
                Cause::ConnectTimeout {
                    timeout: ctx.known.config.connect_timeout,
                },
                ev,
                Some(504),
                detail,
            );
        }
    }
    if let Some(sa) = first_synack {
        let retx_after = syns.iter().filter(|s| s.ts > sa.ts).count();
        if retx_after > 0 {
            ev.push(Evidence::SynAckLost {
                at: at(sa.ts, sa.pos),
                retransmissions: retx_after,
            });
            detail.return_path_blocked = true;
            return v(
                Category::TargetConnectTimeout,
                Cause::ReturnPathBlocked,
                ev,
                Some(504),
                detail,
            );
        }
    }
    let tls = b.record.as_ref().and_then(|r| r.tls.as_ref());
    if b.conn.tls || tls.is_some() {
        if let Some(ch) = tls.and_then(|t| t.client_hello.as_ref()) {
            let versions = if ch.supported_versions.is_empty() {
                vec![ch.legacy_version.clone()]
            } else {
                ch.supported_versions.clone()
            };
            ev.push(Evidence::ClientHelloOffer {
                at: at(ch.ts, ch.pos),
                versions,
                ciphers: ch.ciphers.iter().take(6).cloned().collect(),
                more_ciphers: ch.ciphers.len().saturating_sub(6),
            });
        }
        detail.extra = tls.and_then(|t| t.client_hello.as_ref()).map(|ch| {
            let versions = if ch.supported_versions.is_empty() {
                ch.legacy_version.clone()
            } else {
                ch.supported_versions.join(", ")
            };
            FixExtra::TlsOffer {
                versions,
                ciphers: ch.ciphers.len(),
            }
        });
        let established = tls.is_some_and(|t| t.established.is_some());
        if !established {
            let start = tls
                .and_then(|t| t.client_hello.as_ref())
                .map(|c| c.ts)
                .unwrap_or(b.conn.opened);
            if let Some(a) = tls.and_then(|t| t.alerts.iter().find(|a| a.dir == Dir::ToClient)) {
                ev.push(Evidence::TlsAlert {
                    level: a.level.clone(),
                    description: a.description.clone(),
                    at: at(a.ts, a.pos),
                });
                return v(
                    Category::TargetTlsHandshakeFailed,
                    Cause::TlsFailed {
                        alert: Some(a.description.clone()),
                    },
                    ev,
                    Some(502),
                    detail,
                );
            }
            // Handshake bytes missing from the capture: the handshake may have completed in
            // them (a lost ServerHello or Finished), and what followed is not readable.
            if let Some(gap) = back_bytes_not_captured(b, None, b.conn.opened) {
                ev.push(gap);
                let candidates = vec![
                    Category::TargetTlsHandshakeFailed,
                    Category::TargetClosedBeforeResponse,
                ];
                return bytes_lost(ev, detail, candidates);
            }
            let tclose = evs
                .iter()
                .find(|e| e.dir == Dir::ToClient && is_close(e) && e.ts >= start);
            let aclose = evs
                .iter()
                .find(|e| e.dir == Dir::ToServer && is_close(e) && e.ts >= start);
            match (tclose, aclose) {
                (Some(t), a) if a.map_or(true, |a| t.ts <= a.ts) => {
                    ev.push(Evidence::HandshakeRefused {
                        close: close_of(t),
                        at: at(t.ts, t.pos),
                        after: t.ts.since(start),
                    });
                    return v(
                        Category::TargetTlsHandshakeFailed,
                        Cause::TlsFailed { alert: None },
                        ev,
                        Some(502),
                        detail,
                    );
                }
                (_, Some(a)) => {
                    let el = a.ts.since(start);
                    ev.push(Evidence::HandshakeAbandoned {
                        close: close_of(a),
                        at: at(a.ts, a.pos),
                        after: el,
                        timeout: TLS_HANDSHAKE_TIMEOUT,
                    });
                    let near = el.as_secs_f64() >= TLS_HANDSHAKE_TIMEOUT.as_secs_f64() - 1.0;
                    return v(
                        if near {
                            Category::TargetTlsHandshakeTimeout
                        } else {
                            Category::TargetTlsHandshakeFailed
                        },
                        if near {
                            Cause::TlsTimeout
                        } else {
                            Cause::TlsFailed { alert: None }
                        },
                        ev,
                        Some(if near { 504 } else { 502 }),
                        detail,
                    );
                }
                _ => {}
            }
        }
    }
    let sent = b
        .record
        .as_ref()
        .and_then(|r| r.tcp.dirs.first())
        .map_or(0, |d| d.payload_bytes.saturating_add(d.gap_bytes));
    let target_close = evs.iter().find(|e| e.dir == Dir::ToClient && is_close(e));
    // What the target sent back on a clear-text connection whose request was not readable,
    // when this request is the only one it carried, so that every byte back answers it (TLS
    // sends handshake bytes either way: its outcome is read above and from its records).
    let answered = b
        .record
        .as_ref()
        .filter(|r| r.app != AppKind::Tls && r.finished_exchanges == 0 && b.index() == 0)
        .and_then(|r| r.tcp.dirs.get(Dir::ToClient.index()))
        .map_or(0, |d| d.payload_bytes);
    if let (true, Some(c)) = (sent > 0, target_close) {
        ev.push(Evidence::OpaqueRequestSent {
            bytes: sent,
            target,
        });
        if answered > 0 {
            // Bytes came back before the close, none of them an answer the capture reads: an
            // answer the ALB could not read either (HTTP/1.1 to its HTTP/2, garbage) or a
            // protocol's own close (an HTTP/2 GOAWAY): not "closed before any response byte".
            ev.push(Evidence::TargetSentUnreadable {
                bytes: answered,
                close: close_of(c),
                at: at(c.ts, c.pos),
            });
            let mut verdict = v(
                Category::Undetermined,
                Cause::TargetSentUnreadable,
                ev,
                Some(502),
                detail,
            );
            verdict.candidates = vec![
                Category::MalformedResponse,
                Category::TargetClosedBeforeResponse,
            ];
            return verdict;
        }
        // Bytes missing from the capture before the target's close: from the target, its
        // answer may have been in them (where nothing else of its came back in the clear);
        // from the ALB, what it sent on a first exchange not read as HTTP is not known: a
        // request or a TLS ClientHello.
        let lost = |dir| {
            back_bytes_not_captured(b, Some(dir), b.conn.opened)
                .filter(|g| matches!(g, Evidence::BytesNotCaptured { at, .. } if at.time <= c.ts))
        };
        let app = b.record.as_ref().map(|r| r.app);
        let clear_back = b
            .record
            .as_ref()
            .map_or(0, |r| r.tcp.dirs[Dir::ToClient.index()].payload_bytes);
        let answer_lost =
            lost(Dir::ToClient).filter(|_| app == Some(AppKind::Tls) || clear_back == 0);
        // (On a reused connection the request's content decides nothing here: the
        // close's timing, read without it, is what the keep-alive race rules need.)
        let alternative = (b.index() == 0 && app != Some(AppKind::Http))
            .then_some(Category::TargetTlsHandshakeFailed);
        let sent_lost = lost(Dir::ToServer).filter(|_| alternative.is_some());
        if answer_lost.is_some() || sent_lost.is_some() {
            let candidates = if answer_lost.is_some() {
                vec![
                    Category::TargetClosedBeforeResponse,
                    Category::MalformedResponse,
                    Category::Ok,
                ]
            } else {
                std::iter::once(Category::TargetClosedBeforeResponse)
                    .chain(alternative)
                    .collect()
            };
            ev.extend(answer_lost.or(sent_lost));
            return bytes_lost(ev, detail, candidates);
        }
        ev.push(Evidence::TargetClosedFirst {
            close: close_of(c),
            at: at(c.ts, c.pos),
        });
        return v(
            Category::TargetClosedBeforeResponse,
            Cause::TargetClosedBeforeAnswer {
                reset: matches!(c.kind, TcpEventKind::Rst),
            },
            ev,
            Some(502),
            detail,
        );
    }
    if let Some(c) = evs.iter().find(|e| is_close(e)) {
        let by = if c.dir == Dir::ToServer {
            Party::Alb
        } else {
            Party::Target
        };
        ev.push(Evidence::NoRequestClosed {
            by,
            close: close_of(c),
            at: at(c.ts, c.pos),
        });
        if c.dir == Dir::ToClient {
            return v(
                Category::TargetClosedBeforeResponse,
                Cause::ClosedNewConnection,
                ev,
                Some(502),
                detail,
            );
        }
    } else {
        ev.push(Evidence::NoRequest);
    }
    v(
        Category::Undetermined,
        Cause::NoRequestOnConnection,
        ev,
        None,
        detail,
    )
}

/// The connect completed although the capture lacks its SYN-ACK (lost by the mirror or the
/// capture): the target sent bytes or a FIN (it sends neither before it accepts), or the ALB
/// sent something besides SYNs and RSTs (an ACK, bytes or a FIN follow only a SYN-ACK it
/// received). Such a connection was neither refused nor left unanswered. A bare ACK from the
/// target proves nothing: a target holding an old connection of the same ports (TIME_WAIT)
/// answers a new SYN with an ACK of the old one (RFC 5961's challenge ACK), which the ALB
/// resets before it tries again.
fn synack_not_captured(b: &Leg, evs: &[TcpEvent]) -> bool {
    let Some(rec) = b.record.as_ref() else {
        return false;
    };
    let [to_server, to_client] = &rec.tcp.dirs;
    let count = |dir: Dir, pick: fn(&TcpEventKind) -> bool| {
        evs.iter().filter(|e| e.dir == dir && pick(&e.kind)).count() as u64
    };
    let syn_or_rst = |k: &TcpEventKind| matches!(k, TcpEventKind::Syn { .. } | TcpEventKind::Rst);
    let target_sent = to_client.payload_bytes > 0
        || evs
            .iter()
            .any(|e| e.dir == Dir::ToClient && e.kind.is_fin());
    // (with events left out by their cap, the counts prove nothing)
    let counted = rec.tcp.events_dropped == 0;
    target_sent || (counted && to_server.packets > count(Dir::ToServer, syn_or_rst))
}
