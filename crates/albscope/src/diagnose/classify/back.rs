//! The back-end verdict of a request that was sent: what came back, or who closed first.

use super::attempt::analyze_attempt;
use super::{
    at, back_bytes_not_captured, back_times, close_of, events, is_close, BackVerdict, Ctx,
    FixFacts, RACE_LOOKBACK, RACE_SLACK, RACE_WINDOW,
};
use crate::alb::{AfterReset, ConnectAttempt, ConnectOutcome, Leg};
use crate::capture::{Duration, Timestamp};
use crate::diagnose::evidence::{
    Cause, CitedConn, CloseOrder, Evidence, IdleUnseen, Reuse, TellApart,
};
use crate::diagnose::model::Party;
use crate::diagnose::round3;
use crate::flow::{Dir, TcpEvent, TcpEventKind};
use crate::protocol::{HttpResponse, Known, ResponseErrorKind};
use crate::taxonomy::{Category, FixExtra};

/// Applies the back-end rules of the taxonomy.
pub(super) fn analyze_back(b: &Leg, ctx: &Ctx) -> BackVerdict {
    let verdict = analyze_back_read(b, ctx);
    unanswered_with_bytes_lost(b, verdict)
}

/// A verdict that rests on the target sending nothing before a close (it closed first, it
/// raced the request, the ALB gave up on it) is not proved where bytes from the target are
/// missing from the capture between the request and that close (mirror or capture loss): its
/// answer may have been in them. (Bytes lost before the request may also hide it, where the
/// reader lost its place in the stream; not handled: a snap length cuts every earlier answer
/// so.) Nor is a malformed answer where the ALB's
/// bytes are missing before it: the framing of an answer depends on its request (a HEAD's
/// answer has no body). Such a verdict becomes undetermined between itself and the outcomes
/// the lost bytes leave, the gap its evidence.
fn unanswered_with_bytes_lost(b: &Leg, mut verdict: BackVerdict) -> BackVerdict {
    let (req_t, resp) = back_times(b);
    if verdict.category == Category::MalformedResponse {
        let until = resp.map_or(Timestamp(i64::MAX), |r| r.0);
        let lost = back_bytes_not_captured(b, Some(Dir::ToServer), b.conn.opened)
            .filter(|g| matches!(g, Evidence::BytesNotCaptured { at, .. } if at.time <= until));
        if let Some(gap) = lost {
            verdict.evidence.push(gap);
            verdict.candidates = vec![Category::MalformedResponse, Category::Ok];
            verdict.category = Category::Undetermined;
            verdict.what = Cause::BytesNotCaptured;
            verdict.expected_status = None;
            verdict.tell_apart = None;
        }
        return verdict;
    }
    let silent = matches!(
        verdict.category,
        Category::TargetClosedBeforeResponse
            | Category::KeepaliveRace
            | Category::DeregistrationAbort
            | Category::TargetIdleTimeout
    );
    // A response that is only bytes missing from the capture (a gap where its head was due,
    // no status read) is no answer the capture shows: it may be in them, whatever else came.
    let answer_not_captured = b.exchange.as_ref().is_some_and(|e| {
        e.response.is_none()
            && e.response_error
                .as_ref()
                .is_some_and(|r| r.kind == ResponseErrorKind::Gap && r.status.is_none())
    });
    // (A request not readable is an attempt's: `analyze_attempt` reads its lost bytes.)
    let Some(from) = req_t.filter(|_| silent && (resp.is_none() || answer_not_captured)) else {
        return verdict;
    };
    let Some(close) = events(b).iter().find(|e| is_close(e) && e.ts >= from) else {
        return verdict;
    };
    let Some(gap) = back_bytes_not_captured(b, Some(Dir::ToClient), from) else {
        return verdict;
    };
    if !matches!(&gap, Evidence::BytesNotCaptured { at, .. } if at.time <= close.ts) {
        return verdict;
    }
    let mut candidates = vec![verdict.category];
    if close.dir == Dir::ToClient {
        candidates.push(Category::IncompleteBody);
    }
    candidates.push(Category::Ok);
    verdict.evidence.push(gap);
    verdict.category = Category::Undetermined;
    verdict.candidates = candidates;
    verdict.what = Cause::BytesNotCaptured;
    verdict.expected_status = None;
    verdict.tell_apart = None;
    verdict
}

/// [`analyze_back`] as the capture reads, bytes lost or not.
fn analyze_back_read(b: &Leg, ctx: &Ctx) -> BackVerdict {
    let target_ep = b.conn.key.server;
    // One lookup (what `Knowledge::target_keepalive` and `target_announced_keepalive` read).
    let tinfo = ctx.known.targets.get(&target_ep);
    let announced = tinfo.and_then(|t| t.announced_keepalive);
    // The texts only for a finding with words (the verdict never reads them).
    let text = |header: Known, known: fn(&crate::alb::TargetInfo) -> &Option<String>| {
        if !ctx.words {
            return None;
        }
        b.response_known(header)
            .map(str::to_string)
            .or_else(|| tinfo.and_then(|t| known(t).clone()))
    };
    let mut detail = FixFacts {
        // `target` (its text) is filled in only for the findings kept, see `diagnose_verdict`.
        port: Some(target_ep.port),
        server: text(Known::Server, |t| &t.server),
        powered_by: text(Known::XPoweredBy, |t| &t.powered_by),
        idle_s: ctx.idle.as_secs_f64(),
        keepalive_s: tinfo
            .and_then(|t| t.keepalive_timeout())
            .map(|d| round3(d.as_secs_f64())),
        announced_keepalive_s: announced.map(|d| round3(d.as_secs_f64())),
        ..FixFacts::default()
    };
    let mut ev: Vec<Evidence> = Vec::new();
    let evs = events(b);
    let (req_t, resp) = back_times(b);
    let v = |category, what, ev, target_status, expected, detail| BackVerdict {
        category,
        evidence: ev,
        target_status,
        expected_status: expected,
        what,
        detail,
        candidates: Vec::new(),
        tell_apart: None,
    };

    // A response to a request whose bytes are not readable in the capture (truncation, loss):
    // the request went out just before it.
    let unreadable_request = req_t.is_none()
        && b.exchange
            .as_ref()
            .is_some_and(|e| e.response.is_some() || e.response_error.is_some());
    let req_t = if unreadable_request {
        Some(b.time())
    } else {
        req_t
    };
    let Some(req_t) = req_t else {
        return analyze_attempt(b, ctx, detail);
    };
    if unreadable_request {
        ev.push(Evidence::RequestNotReadable { target: target_ep });
    }
    let req_pos = if unreadable_request {
        None
    } else {
        b.first_pos()
    };
    // Counting reads no evidence of an answered request: written for the findings kept.
    if let Some(p) = req_pos.filter(|_| ctx.words) {
        let request = b
            .exchange
            .as_ref()
            .and_then(|e| e.request.as_ref())
            .filter(|_| ctx.words)
            .map(|r| (r.method().into(), r.target().into()));
        let reuse = (b.index() > 0).then(|| Reuse {
            number: b.index() + 1,
            idle_before: b.exchange.as_ref().and_then(|e| e.idle_before),
        });
        ev.push(Evidence::RequestSent {
            request,
            target: target_ep,
            at: at(req_t, p),
            reuse,
        });
    }
    // HTTP/2: the target reset the stream, or refused it with GOAWAY, before any response.
    let h2 = b
        .exchange
        .as_ref()
        .filter(|e| e.response.is_none() && e.response_error.is_none())
        .and_then(|e| e.h2.as_deref());
    if let Some(h2) = h2 {
        if let Some(r) = h2.reset.filter(|r| r.dir == Dir::ToClient) {
            ev.push(Evidence::StreamReset {
                code: r.code,
                at: at(r.ts, r.pos),
                since_request: r.ts.since(req_t),
            });
            return v(
                Category::TargetClosedBeforeResponse,
                Cause::StreamReset { code: r.code },
                ev,
                None,
                Some(502),
                detail,
            );
        }
        if let Some(g) = h2.refused_by.filter(|g| g.dir == Dir::ToClient) {
            ev.push(Evidence::GoawayRefusedStream {
                stream: h2.id,
                last_stream_id: g.last_stream_id,
                code: g.code,
                at: at(g.ts, g.pos),
                since_request: g.ts.since(req_t),
            });
            if let Some(s) = &detail.server {
                ev.push(Evidence::TargetServer { server: s.clone() });
            }
            return v(
                Category::KeepaliveRace,
                Cause::GoawayRace,
                ev,
                None,
                Some(502),
                detail,
            );
        }
    }
    // (TLS 1.3 without keys: one record after the request that may be the server's session
    // ticket is no proof of an answer; the verdict is the one without it, which the finding
    // then leaves undetermined unless the front end shows what the client got.)
    let ticket_or_answer = super::tls_close::ticket_or_answer(b).is_some();
    let resp = resp.filter(|_| !ticket_or_answer);
    let resp_t = resp.map(|r| r.0);
    let before_resp = |e: &&TcpEvent| resp_t.map_or(true, |r| e.ts <= r);
    let lookback = Timestamp(req_t.0.saturating_sub(RACE_LOOKBACK.0)).max(b.conn.opened);
    let target_close = evs
        .iter()
        .filter(|e| e.dir == Dir::ToClient && is_close(e) && e.ts >= lookback)
        .find(before_resp);
    let alb_close = evs
        .iter()
        .filter(|e| e.dir == Dir::ToServer && is_close(e) && e.ts >= req_t)
        .find(before_resp);

    // The target closed before answering (or raced the request).
    if let Some(tc) = target_close {
        if alb_close.map_or(true, |ac| tc.ts <= ac.ts) {
            ev.push(Evidence::TargetClosedNearRequest {
                close: close_of(tc),
                at: at(tc.ts, tc.pos),
                since_request: tc.ts.since(req_t),
            });
            // (A TLS leg without keys: the quiet time before its request burst.)
            let idle_before = b
                .exchange
                .as_ref()
                .and_then(|e| e.idle_before)
                .or_else(|| b.burst.as_ref().and_then(|x| x.idle_before()));
            // The idle gap before the request equals the target's keep-alive timeout (read
            // from its other idle closes, else the one it announces with `Keep-Alive:
            // timeout=N`), or, when neither is known, the close met the request after a real
            // idle period.
            let announced_match = idle_before
                .zip(announced)
                .map(|(i, n)| same_timer(i.as_secs_f64(), n.as_secs_f64()));
            let timer_known = detail.keepalive_s.is_some() || announced_match == Some(true);
            let ka_match = match (idle_before, detail.keepalive_s) {
                (Some(i), Some(k)) => same_timer(i.as_secs_f64(), k),
                (Some(i), None) => i.as_secs_f64() >= 1.0 || announced_match == Some(true),
                _ => false,
            };
            // A keep-alive timer never closes before its timeout, but one checked on a periodic
            // sweep (the JDK's HttpServer: every 10 s by default) closes anywhere after it, so
            // the target's own idle closes spread: an idle gap off their median yet no shorter
            // than the shortest of them had outlived the timer, which may have fired then.
            let shortest = tinfo.and_then(|t| t.idle_closes.iter().copied().min_by(f64::total_cmp));
            let off_timer = match (idle_before, detail.keepalive_s, shortest) {
                (Some(i), Some(_), Some(lo)) if !ka_match => {
                    i.as_secs_f64() >= lo - (0.05 * lo).max(0.25)
                }
                _ => false,
            };
            // A race also needs the timer's close to cross the request: it left the target
            // before the request reached it, or within about a round trip of its arrival. A
            // target that held the request and closed later did not race.
            let since_request = tc.ts.since(req_t);
            // The connection's own handshake, else (opened before the capture) the round
            // trip its node and target show on their other connections' handshakes.
            let own = b.record.as_ref().and_then(|r| r.tcp.handshake_split());
            let measured = own
                .is_none()
                .then(|| {
                    let key = b.conn.key;
                    ctx.known.round_trips.between(key.client.ip, key.server)
                })
                .flatten();
            let split = own.or(measured.map(|m| m.split));
            let order = close_order(since_request, split);
            if b.index() > 0 && ka_match {
                let order_ev = Evidence::CloseOrder {
                    order,
                    since_request,
                    round_trip: split.map(|(a, c)| Duration(a.0.saturating_add(c.0))),
                    from_other_connections: measured.map(|m| m.connections),
                };
                // With the target's keep-alive timer unknown, an RST that did not leave before
                // the request arrived (and no FIN before it) is an abortive idle close crossing
                // the request or the target resetting the request (a reject, a process gone):
                // the idle gap alone cannot tell them apart.
                let close_unproved =
                    !timer_known && !left_before_arrival(tc.ts, req_t, since_request, split);
                let reset_unproved = matches!(tc.kind, TcpEventKind::Rst) && close_unproved;
                // The same holds for a FIN: with the timer unknown, an idle close crossing
                // the request looks like a target closing at the request it had read (a
                // handler that failed, a hijacked connection closed) within a round trip.
                let fin_unproved = tc.kind.is_fin() && close_unproved;
                match order {
                    CloseOrder::Crossed if fin_unproved => {
                        if split.is_some() {
                            ev.push(order_ev);
                        }
                        timer_evidence(&mut ev, announced.zip(announced_match), &detail);
                        let idle = idle_before.unwrap_or(Duration(0));
                        let what = Cause::ClosedAtRequestTimerUnknown { idle };
                        return race_or_closed(ev, what, TellApart::KeepaliveSetting, detail);
                    }
                    CloseOrder::Crossed if reset_unproved => {
                        if split.is_some() {
                            ev.push(order_ev);
                        }
                        timer_evidence(&mut ev, announced.zip(announced_match), &detail);
                        let idle = idle_before.unwrap_or(Duration(0));
                        let after = ctx.known.next_connects.after(target_ep, tc.ts);
                        if let Some(stopped) =
                            after.and_then(|a| a.stopped_accepting(tc.ts, REFUSED_WITHIN))
                        {
                            ev.push(refused_after(tc.ts, stopped));
                            if let Some(s) = &detail.server {
                                ev.push(Evidence::TargetServer { server: s.clone() });
                            }
                            return v(
                                Category::TargetClosedBeforeResponse,
                                Cause::ResetThenRefused { idle: Some(idle) },
                                ev,
                                None,
                                Some(502),
                                detail,
                            );
                        }
                        if let Some(e) = after.and_then(|a| next_connect(tc.ts, a)) {
                            ev.push(e);
                        }
                        let what = Cause::ResetAtRequestTimerUnknown { idle };
                        return race_or_closed(ev, what, TellApart::KeepaliveSetting, detail);
                    }
                    CloseOrder::Crossed => {
                        if split.is_some() {
                            ev.push(order_ev);
                        }
                        timer_evidence(&mut ev, announced.zip(announced_match), &detail);
                        if detail.keepalive_s.is_none() {
                            detail.keepalive_s = idle_before.map(|i| round3(i.as_secs_f64()));
                        }
                        if let Some(s) = &detail.server {
                            ev.push(Evidence::TargetServer { server: s.clone() });
                        }
                        return v(
                            Category::KeepaliveRace,
                            Cause::KeepaliveRace,
                            ev,
                            None,
                            Some(502),
                            detail,
                        );
                    }
                    CloseOrder::Unordered => {
                        ev.push(order_ev);
                        timer_evidence(&mut ev, announced.zip(announced_match), &detail);
                        let what = Cause::ClosedNearRequestUnordered {
                            reset: matches!(tc.kind, TcpEventKind::Rst),
                        };
                        return race_or_closed(ev, what, TellApart::RoundTrip, detail);
                    }
                    // Only a known keep-alive timer makes the late close worth explaining.
                    CloseOrder::AfterArrival if timer_known => ev.push(order_ev),
                    CloseOrder::AfterArrival => {}
                }
            } else if b.index() > 0 && off_timer && order != CloseOrder::AfterArrival {
                if split.is_some() || order == CloseOrder::Unordered {
                    ev.push(Evidence::CloseOrder {
                        order,
                        since_request,
                        round_trip: split.map(|(a, c)| Duration(a.0.saturating_add(c.0))),
                        from_other_connections: measured.map(|m| m.connections),
                    });
                }
                if let Some((timeout, idle_matches)) = announced.zip(announced_match) {
                    ev.push(Evidence::KeepaliveAnnounced {
                        timeout,
                        idle_matches,
                    });
                }
                let what = Cause::ClosedAtRequestOffTimer {
                    reset: matches!(tc.kind, TcpEventKind::Rst),
                    idle: idle_before.unwrap_or(Duration(0)),
                    shortest: Duration::from_secs_f64(shortest.unwrap_or(0.0)),
                    median: Duration::from_secs_f64(detail.keepalive_s.unwrap_or(0.0)),
                };
                return race_or_closed(ev, what, TellApart::TimerSweep, detail);
            }
            // A close at the request on a connection whose idle period the capture does not
            // show (its previous response lost, or opened before the capture): a keep-alive
            // timer firing there looks the same as a close before answering.
            let at_request = tc.ts.since(req_t).0 <= RACE_WINDOW.0;
            if let Some(why) = idle_unseen(b, tc).filter(|_| at_request) {
                ev.push(Evidence::IdleNotVisible { why });
                if let Some(timeout) = announced {
                    ev.push(Evidence::KeepaliveAnnounced {
                        timeout,
                        idle_matches: false,
                    });
                }
                // The connects to the target after its reset tell a target that stopped
                // accepting whatever the idle time before the request: the reset at a request
                // and the refusals after it are the target's, and a keep-alive timer closes
                // idle connections of a server that goes on accepting new ones.
                let reset = matches!(tc.kind, TcpEventKind::Rst);
                let stopped = ctx
                    .known
                    .next_connects
                    .after(target_ep, tc.ts)
                    .filter(|_| reset)
                    .and_then(|a| a.stopped_accepting(tc.ts, REFUSED_WITHIN));
                if let Some(stopped) = stopped {
                    ev.push(refused_after(tc.ts, stopped));
                    if let Some(s) = &detail.server {
                        ev.push(Evidence::TargetServer { server: s.clone() });
                    }
                    return v(
                        Category::TargetClosedBeforeResponse,
                        Cause::ResetThenRefused { idle: None },
                        ev,
                        None,
                        Some(502),
                        detail,
                    );
                }
                let what = Cause::ClosedAtRequestIdleUnseen { reset };
                return race_or_closed(ev, what, TellApart::IdleBeforeRequest, detail);
            }
            return v(
                Category::TargetClosedBeforeResponse,
                Cause::TargetClosedBeforeAnswer {
                    reset: matches!(tc.kind, TcpEventKind::Rst),
                },
                ev,
                None,
                Some(502),
                detail,
            );
        }
    }

    // The ALB gave up first: idle timeout, or deregistration delay.
    if let Some(ac) = alb_close {
        let elapsed = ac.ts.since(req_t);
        ev.push(Evidence::AlbClosedSilentTarget {
            close: close_of(ac),
            at: at(ac.ts, ac.pos),
            elapsed,
        });
        if let Some((rt, rp)) = resp {
            let status = b
                .exchange
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .map(|r| (r.status, r.reason().to_string()));
            let alb_rst = evs
                .iter()
                .find(|e| {
                    e.dir == Dir::ToServer && matches!(e.kind, TcpEventKind::Rst) && e.ts >= rt
                })
                .map(|e| e.pos);
            ev.push(Evidence::LateReply {
                status,
                after: rt.since(req_t),
                packet: rp,
                alb_rst,
            });
        }
        let idle = ctx.idle;
        let near_idle = (elapsed.as_secs_f64() - idle.as_secs_f64()).abs()
            <= (0.02 * idle.as_secs_f64()).max(1.0);
        if near_idle || elapsed > idle {
            ev.push(Evidence::MatchesIdleTimeout { elapsed, idle });
            return v(
                Category::TargetIdleTimeout,
                Cause::IdleTimeout { idle },
                ev,
                None,
                Some(504),
                detail,
            );
        }
        ev.push(Evidence::ShorterThanIdleTimeout { elapsed, idle });
        return v(
            Category::DeregistrationAbort,
            Cause::DeregistrationAbort,
            ev,
            None,
            Some(502),
            detail,
        );
    }

    // Bytes came back that are not a usable response.
    if let Some(err) = b.exchange.as_ref().and_then(|e| e.response_error.as_ref()) {
        match err.kind {
            ResponseErrorKind::Malformed => {
                ev.push(Evidence::NotHttp {
                    at: at(err.first_byte, err.first_pos),
                    excerpt: err.excerpt.clone(),
                    reason: err.reason.clone(),
                });
                return v(
                    Category::MalformedResponse,
                    Cause::NotHttp,
                    ev,
                    None,
                    Some(502),
                    detail,
                );
            }
            ResponseErrorKind::HeaderTooLarge => {
                ev.push(Evidence::HeaderBlockTooLarge {
                    at: at(err.first_byte, err.first_pos),
                    bytes: err.bytes,
                });
                return v(
                    Category::ResponseHeaderTooLarge,
                    Cause::HeadersTooLarge,
                    ev,
                    None,
                    Some(502),
                    detail,
                );
            }
            ResponseErrorKind::Gap => {
                let Some(status) = err.status else {
                    ev.push(Evidence::ResponseUnreadable {
                        packet: err.first_pos,
                    });
                    return v(
                        Category::Undetermined,
                        Cause::ResponseNotCaptured,
                        ev,
                        None,
                        None,
                        detail,
                    );
                };
                let server = err.server();
                ev.push(Evidence::PartialAnswer {
                    status,
                    at: at(err.first_byte, err.first_pos),
                    server: server.clone(),
                });
                if status >= 500 {
                    return v(
                        Category::TargetGeneratedError,
                        Cause::TargetOwnError { server },
                        ev,
                        Some(status),
                        Some(status),
                        detail,
                    );
                }
                return v(
                    Category::Ok,
                    Cause::RelayedNormally,
                    ev,
                    Some(status),
                    Some(status),
                    detail,
                );
            }
        }
    }

    if let Some(r) = b.exchange.as_ref().and_then(|e| e.response.as_ref()) {
        return analyze_response(b, r, ev, detail, ctx.words);
    }
    if let Some(bx) = b.burst.as_ref().filter(|_| !ticket_or_answer) {
        if let Some(r) = &bx.response {
            ev.push(Evidence::TlsAnswer {
                bytes: r.data_bytes(),
                at: at(r.first, r.first_pos),
            });
            return v(Category::Ok, Cause::TlsAnswer, ev, None, None, detail);
        }
    }
    ev.push(Evidence::NoResponse {
        until: b.record.as_ref().map(|r| r.tcp.end),
    });
    v(
        Category::Undetermined,
        Cause::NoResponseInCapture,
        ev,
        None,
        None,
        detail,
    )
}

/// The keep-alive timer facts behind a race: the timeout the target announces (and whether
/// the idle gap matches it), and the one its idle closes show.
fn timer_evidence(ev: &mut Vec<Evidence>, announced: Option<(Duration, bool)>, detail: &FixFacts) {
    if let Some((timeout, idle_matches)) = announced {
        ev.push(Evidence::KeepaliveAnnounced {
            timeout,
            idle_matches,
        });
    }
    if let Some(k) = detail.keepalive_s {
        ev.push(Evidence::KeepaliveMatches {
            keepalive: Duration::from_secs_f64(k),
        });
    }
}

/// A target's close that the capture cannot tell between a keep-alive race and a close before
/// answering: `what` says why, `tell_apart` what to capture; the ALB's 502 either way.
/// How soon after a target's reset at a request the next connect to it must be refused to show
/// it stopped accepting: the shortest health-check interval (5 s), so that a node's checks
/// alone can show it.
const REFUSED_WITHIN: Duration = Duration(5_000_000_000);

/// The evidence of a target that stopped accepting after its reset at `reset`: its first
/// refused connect and a later one.
fn refused_after(reset: Timestamp, (first, later): (ConnectAttempt, ConnectAttempt)) -> Evidence {
    let answer = |a: &ConnectAttempt| at(a.at, a.answer.unwrap_or(a.syn));
    let conn = |a: &ConnectAttempt| CitedConn {
        key: a.key,
        first: (a.at, a.syn),
        last: a.last,
    };
    Evidence::RefusedAfterReset {
        opener: first.opener,
        at: answer(&first),
        since_reset: first.at.since(reset),
        still: answer(&later),
        still_since: later.at.since(reset),
        conns: Box::new([conn(&first), conn(&later)]),
    }
}

/// The next connect after a target's reset at `reset`, when the capture shows one.
fn next_connect(reset: Timestamp, after: &AfterReset) -> Option<Evidence> {
    let first = after.first?;
    let accepted = first.outcome == ConnectOutcome::Accepted;
    Some(Evidence::NextConnectAfterReset {
        opener: first.opener,
        at: at(first.at, first.answer.unwrap_or(first.syn)),
        since_reset: first.at.since(reset),
        accepted,
        refused: first.outcome == ConnectOutcome::Refused,
        accepted_at: after
            .first_accepted
            .filter(|_| !accepted)
            .map(|a| at(a.at, a.answer.unwrap_or(a.syn))),
    })
}

fn race_or_closed(
    mut ev: Vec<Evidence>,
    what: Cause,
    tell_apart: TellApart,
    detail: FixFacts,
) -> BackVerdict {
    if let Some(s) = &detail.server {
        ev.push(Evidence::TargetServer { server: s.clone() });
    }
    BackVerdict {
        category: Category::Undetermined,
        evidence: ev,
        target_status: None,
        expected_status: Some(502),
        what,
        detail,
        candidates: vec![
            Category::KeepaliveRace,
            Category::TargetClosedBeforeResponse,
        ],
        tell_apart: Some(tell_apart),
    }
}

/// True when a target's close at `close` provably left the target before the request seen at
/// `request` reached it: captured before the request, or (with the connection's handshake
/// `split`, capture `a` of round trip away from the target) seen in less than half of `a`
/// after it. An answer to the request needs the way there and back, about `a`; the half keeps
/// the proof clear of what `a` also holds (the target's SYN handling, jitter, uneven ways).
fn left_before_arrival(
    close: Timestamp,
    request: Timestamp,
    since_request: Duration,
    split: Option<(Duration, Duration)>,
) -> bool {
    close < request || split.is_some_and(|(a, _)| since_request.0.saturating_mul(2) < a.0)
}

/// Where a target's close `since_request` after the request (as captured) fell against the
/// request's arrival, given the connection's handshake `split` (see
/// [`ConnSummary::handshake_split`](crate::flow::ConnSummary::handshake_split)). With the
/// request seen at 0 and the capture `a` (the split's first part) of round trip away from the
/// target, the request arrives at `a/2` and the close left at `since_request - a/2`; crossing
/// allows it one round trip `a + c` (and [`RACE_SLACK`]) after the arrival: `since_request <=
/// 2a + c + slack`. Without the handshake only a close within the slack is proved to cross,
/// and one within [`RACE_WINDOW`] cannot be ordered.
fn close_order(since_request: Duration, split: Option<(Duration, Duration)>) -> CloseOrder {
    let limit = match split {
        Some((a, c)) => {
            a.0.saturating_mul(2)
                .saturating_add(c.0)
                .saturating_add(RACE_SLACK.0)
        }
        None => RACE_SLACK.0,
    };
    if since_request.0 <= limit {
        CloseOrder::Crossed
    } else if split.is_none() && since_request.0 <= RACE_WINDOW.0 {
        CloseOrder::Unordered
    } else {
        CloseOrder::AfterArrival
    }
}

/// True when an idle gap of `idle` seconds is a keep-alive timer of `timer` seconds firing
/// (within 5 %, at least 0.25 s).
fn same_timer(idle: f64, timer: f64) -> bool {
    (idle - timer).abs() <= (0.05 * timer).max(0.25)
}

/// Why the capture cannot show how long HTTP/1 leg `b`'s connection was idle before its request,
/// which the target closed with `close` before any response byte: its previous response lost
/// (bytes missing from the target's side before the close), or the connection opened before
/// the capture (its first exchange seen, no SYN). `None` when the idle gap is known, or when
/// the connection was not idle (a request sent while an earlier one was still answered, an
/// HTTP/2 stream beside others).
fn idle_unseen(b: &Leg, close: &TcpEvent) -> Option<IdleUnseen> {
    let index = match (&b.exchange, &b.burst) {
        (Some(ex), _) => {
            if ex.h2.is_some() || ex.idle_before.is_some() || ex.request.is_none() {
                return None;
            }
            ex.index
        }
        // A TLS leg without keys: its idle gap is known past the first request burst.
        (None, Some(bx)) if bx.idle_before().is_none() => bx.index,
        _ => return None,
    };
    let tcp = &b.record.as_ref()?.tcp;
    if index == 0 {
        return (!tcp.saw_syn).then_some(IdleUnseen::OpenedBeforeCapture);
    }
    let lost = tcp.events.iter().any(|e| {
        e.dir == Dir::ToClient
            && e.ts <= close.ts
            && matches!(
                e.kind,
                TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
            )
    });
    lost.then_some(IdleUnseen::PreviousResponseLost)
}

/// The verdict of a readable response from the target.
fn analyze_response(
    b: &Leg,
    r: &HttpResponse,
    mut ev: Vec<Evidence>,
    mut detail: FixFacts,
    words: bool,
) -> BackVerdict {
    let server = r.headers.known(Known::Server).filter(|_| words);
    // Counting reads no evidence of an answered request: written for the findings kept.
    if words {
        ev.push(Evidence::Answered {
            by: Party::Target,
            status: r.status,
            reason: r.reason().to_string(),
            at: at(r.first_byte, r.first_pos),
            server: server.map(str::to_string),
        });
    }
    // A body that a close ended before its Content-Length or its last chunk: cut short (a body
    // still arriving when the capture ends is not: the capture ended, not the response). The
    // target's close proves it; the ALB's may also be its client leaving (see `finding`).
    let closed_after_headers = events(b)
        .iter()
        .any(|e| is_close(e) && e.ts >= r.headers_done);
    // An HTTP/2 stream can also end (END_STREAM) short of the content-length its headers
    // declared: a malformed response (RFC 9113 8.1.1) whose body stopped short, cut off
    // whatever the connection does next (HTTP/1.x ends a Content-Length body only at its
    // length, so a complete one is never short).
    // A response to HEAD, a 204 or a 304 carries no body whatever its content-length says.
    let ex = b.exchange.as_ref();
    let bodyless = ex
        .and_then(|e| e.request.as_ref())
        .is_some_and(|q| q.method().eq_ignore_ascii_case("HEAD"))
        || matches!(r.status, 100..=199 | 204 | 304);
    // Bytes from the target missing from the capture after the headers may be the rest of it.
    let answer_missing = events(b).iter().any(|e| {
        e.dir == Dir::ToClient
            && e.ts >= r.headers_done
            && matches!(
                e.kind,
                TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
            )
    });
    let ended_short = ex.is_some_and(|e| e.h2.is_some())
        && !bodyless
        && !answer_missing
        && r.complete.is_some()
        && r.content_length.is_some_and(|cl| cl > r.body_bytes);
    let short = (r.complete.is_none()
        && r.content_length.is_some_and(|cl| cl > r.body_bytes)
        && closed_after_headers)
        || ended_short;
    let chunked_cut =
        r.complete.is_none() && r.chunked && r.content_length.is_none() && closed_after_headers;
    // A Content-Length not reached, or a chunked body without its last chunk, on a connection
    // nobody closed: the rest of the body was still coming when the capture ended (or its
    // close is not in it), not cut short and not proven whole either. HTTP/1.1 ends a chunked
    // body only with its zero-length last chunk (RFC 9112 7.1): before it, the response may
    // still complete or be cut (a Go handler's WriteTimeout cuts a flushed chunked response
    // seconds after its first chunk).
    let still_arriving = r.complete.is_none()
        && (r.content_length.is_some_and(|cl| cl > r.body_bytes)
            || (r.chunked && r.content_length.is_none()))
        && !closed_after_headers;
    if still_arriving {
        ev.push(Evidence::BodyStillArriving {
            declared: r.content_length,
            body: r.body_bytes,
        });
        return BackVerdict {
            category: Category::Undetermined,
            evidence: ev,
            target_status: Some(r.status),
            expected_status: None,
            what: Cause::NoResponseInCapture,
            detail,
            candidates: Vec::new(),
            tell_apart: None,
        };
    }
    if short || chunked_cut {
        let cl = r.content_length.filter(|_| short);
        ev.push(Evidence::ShortBody {
            declared: cl,
            body: r.body_bytes,
        });
        // A stream that ended short needs no close to be cut (a later close of its
        // connection is not what cut it).
        if let Some(c) = events(b)
            .iter()
            .find(|e| !ended_short && is_close(e) && e.ts >= r.headers_done)
        {
            let by = if c.dir == Dir::ToServer {
                Party::Alb
            } else {
                Party::Target
            };
            ev.push(Evidence::ClosedAfterHeaders {
                by,
                close: close_of(c),
                at: at(c.ts, c.pos),
                after: c.ts.since(r.headers_done),
            });
        }
        detail.extra = Some(FixExtra::BodyShort {
            declared: cl,
            sent: r.body_bytes,
        });
        return BackVerdict {
            category: Category::IncompleteBody,
            evidence: ev,
            target_status: Some(r.status),
            expected_status: Some(r.status),
            what: Cause::IncompleteBody {
                body: r.body_bytes,
                declared: cl,
            },
            detail,
            candidates: Vec::new(),
            tell_apart: None,
        };
    }
    // gRPC: a server-side error status (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
    // UNAVAILABLE, DATA_LOSS: the ones gRPC gateways map to 5xx) is the target's own error
    // even under HTTP 200.
    let grpc = b
        .exchange
        .as_deref()
        .and_then(crate::protocol::grpc_outcome)
        .filter(|g| g.from_http.is_none());
    if let Some((status, g)) = grpc.and_then(|g| Some((g.status?, g))) {
        if r.status < 500 && matches!(status, 2 | 4 | 12 | 13 | 14 | 15) {
            ev.push(Evidence::TargetGrpcError {
                status,
                message: g.message,
            });
            return BackVerdict {
                category: Category::TargetGeneratedError,
                evidence: ev,
                target_status: Some(r.status),
                expected_status: Some(r.status),
                what: Cause::TargetOwnError {
                    server: server.map(str::to_string),
                },
                detail,
                candidates: Vec::new(),
                tell_apart: None,
            };
        }
    }
    if r.status >= 500 {
        return BackVerdict {
            category: Category::TargetGeneratedError,
            evidence: ev,
            target_status: Some(r.status),
            expected_status: Some(r.status),
            what: Cause::TargetOwnError {
                server: server.map(str::to_string),
            },
            detail,
            candidates: Vec::new(),
            tell_apart: None,
        };
    }
    BackVerdict {
        category: Category::Ok,
        evidence: ev,
        target_status: Some(r.status),
        expected_status: Some(r.status),
        what: Cause::RelayedNormally,
        detail,
        candidates: Vec::new(),
        tell_apart: None,
    }
}
