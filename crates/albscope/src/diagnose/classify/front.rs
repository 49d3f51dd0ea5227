//! The front end: the client giving up, and the verdict when only the front end is captured.

use super::{at, close_of, events, is_close, Ctx};
use crate::alb::{Leg, TimerSource, Vantage};
use crate::capture::Duration;
use crate::capture::Timestamp;
use crate::diagnose::evidence::{
    AlbTimer, BadGatewayPhase, Cause, ClientStop, Evidence, Inference, Note, TellApart,
};
use crate::diagnose::model::Party;
use crate::flow::{Dir, TcpEvent, TcpEventKind};
use crate::protocol::Known;
use crate::taxonomy::{Category, FixExtra};

/// The client's close toward the ALB after the request and before any answer (see
/// [`client_closed_at`]), when the answer started, and the request's time.
fn client_close_before_answer(front: &Leg) -> Option<(&TcpEvent, Option<Timestamp>, Timestamp)> {
    if front_http2_burst(front) {
        return None;
    }
    let ex = front.exchange.as_ref();
    // When the ALB's answer started: its response, or (HTTP/2) its RST_STREAM of the stream.
    let answer = ex
        .and_then(|e| {
            e.response
                .as_ref()
                .map(|r| r.first_byte)
                .or(e.response_error.as_ref().map(|r| r.first_byte))
                .or(e
                    .h2
                    .as_ref()
                    .and_then(|h| h.reset)
                    .filter(|r| r.dir == Dir::ToClient)
                    .map(|r| r.ts))
        })
        .or(front
            .burst
            .as_ref()
            .and_then(|b| b.response.as_ref())
            .map(|r| r.first));
    let t0 = front.time();
    let close = events(front).iter().find(|e| {
        e.dir == Dir::ToServer && is_close(e) && e.ts >= t0 && answer.map_or(true, |a| e.ts < a)
    })?;
    Some((close, answer, t0))
}

/// Bytes missing from the capture on the front end before `close`: from the ALB, the answer
/// may be there (also where they were missing before the request: a reader that lost its
/// place in the stream, an HTTP/2 connection above all, reads no answer after them); from the
/// client, a request the capture lacks frames the answers after it (a HEAD's answer has no
/// body), so an answer may have been read as part of another.
fn bytes_lost_before<'a>(front: &'a Leg, close: &TcpEvent) -> Option<&'a TcpEvent> {
    events(front).iter().find(|e| {
        matches!(
            e.kind,
            TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
        ) && e.ts <= close.ts
    })
}

/// Where the client closed before any answer but bytes it sent are missing from the capture
/// before its close ([`bytes_lost_before`]: the answers after a lost request may be framed
/// wrong): the gap, as evidence. (Lost bytes of the ALB's are its answer, or part of it: the
/// client got one, and the rest of the path decides.)
pub(super) fn client_close_unproved(front: &Leg) -> Option<Evidence> {
    let (close, _, _) = client_close_before_answer(front)?;
    let gap = bytes_lost_before(front, close).filter(|g| g.dir == Dir::ToServer)?;
    let bytes = match gap.kind {
        TcpEventKind::Gap { len, .. } | TcpEventKind::MemorySkipped { len, .. } => len,
        _ => 0,
    };
    Some(Evidence::BytesNotCaptured {
        from: match gap.dir {
            Dir::ToServer => Party::Client,
            Dir::ToClient => Party::Alb,
        },
        bytes,
        at: at(gap.ts, gap.pos),
    })
}

/// When the client closed (FIN or RST toward the ALB) before any answer on the front end.
/// Never for an encrypted exchange of a connection that may carry HTTP/2
/// ([`crate::alb::front_http2`]): its last client records before the close are its own
/// GOAWAY or acknowledgements, which need no answer, and its streams cannot be told apart.
pub(super) fn client_closed_at(front: &Leg) -> Option<Evidence> {
    let (close, answer, t0) = client_close_before_answer(front)?;
    if bytes_lost_before(front, close).is_some() {
        return None;
    }
    // The ALB closing first means the client did not give up first.
    let alb_first = events(front)
        .iter()
        .any(|e| e.dir == Dir::ToClient && is_close(e) && e.ts < close.ts);
    if alb_first {
        return None;
    }
    let late_answer = match answer {
        // A half-close (FIN) and then reading the answer is not giving up; a RST answering
        // the late answer is.
        Some(a) => {
            let rst = events(front).iter().find(|e| {
                e.dir == Dir::ToServer && matches!(e.kind, TcpEventKind::Rst) && e.ts >= a
            })?;
            Some((a.since(close.ts), rst.pos))
        }
        None => None,
    };
    Some(Evidence::ClientGaveUp {
        close: close_of(close),
        at: at(close.ts, close.pos),
        after: close.ts.since(t0),
        late_answer,
    })
}

/// What the front end alone shows about a request.
pub(super) struct FrontVerdict {
    /// The category (`undetermined` when the front end cannot tell).
    pub category: Category,
    /// The headline clause.
    pub what: Cause,
    /// The facts.
    pub evidence: Vec<Evidence>,
    /// With `undetermined`: what it may be, most likely first.
    pub candidates: Vec<Category>,
    /// What to capture to tell the candidates apart.
    pub notes: Vec<Note>,
    /// For the fix line (`FixFacts::extra`).
    pub extra: Option<FixExtra>,
    /// Encrypted front end alone and nothing suggests a failure: the outcome is not visible.
    pub not_visible: bool,
}

impl FrontVerdict {
    fn of(category: Category, what: Cause, evidence: Vec<Evidence>) -> Self {
        FrontVerdict {
            category,
            what,
            evidence,
            candidates: Vec::new(),
            notes: Vec::new(),
            extra: None,
            not_visible: false,
        }
    }
}

/// The verdict when the back end of this request is not in the capture. `node_back_seen` is
/// false when pairing found the back end of this request's node not captured (its node seen
/// under an address no back-end traffic was linked to).
pub(super) fn analyze_front_only(
    f: &Leg,
    ctx: &Ctx,
    status: Option<u16>,
    is_lb: bool,
    node_back_seen: bool,
) -> FrontVerdict {
    let back_visible = node_back_seen
        && matches!(
            ctx.known.vantage(),
            Vantage::BothLegs | Vantage::BackEndOnly
        );
    let mut ev = Vec::new();
    let resp = f.exchange.as_ref().and_then(|e| e.response.as_ref());
    if let Some(r) = resp {
        ev.push(Evidence::Answered {
            by: Party::Alb,
            status: r.status,
            reason: r.reason().to_string(),
            at: at(r.first_byte, r.first_pos),
            server: r.headers.known(Known::Server).map(str::to_string),
        });
    }
    if let Some(v) = front_incomplete_body(f, ev.clone()) {
        return v;
    }
    if let Some(v) = front_body_still_arriving(f, ev.clone()) {
        return v;
    }
    // gRPC: a server-error grpc-status relayed under HTTP 200 is the target's (the ALB's own
    // answers are HTTP errors from awselb).
    let grpc = f
        .exchange
        .as_deref()
        .and_then(crate::protocol::grpc_outcome)
        .filter(|g| g.from_http.is_none())
        .and_then(|g| Some((g.status?, g.message)));
    if let Some((code, message)) = grpc {
        if !is_lb && status.is_some_and(|s| s < 500) && matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
            ev.push(Evidence::TargetGrpcError {
                status: code,
                message,
            });
            return FrontVerdict::of(
                Category::TargetGeneratedError,
                Cause::TargetOwnError { server: None },
                ev,
            );
        }
    }
    match status {
        Some(s) if s < 500 => match client_stopped_answer(f) {
            Some(stopped) => {
                ev.push(stopped);
                FrontVerdict::of(Category::Ok, Cause::ClientStoppedAnswer, ev)
            }
            None => FrontVerdict::of(Category::Ok, Cause::AnsweredNormally, ev),
        },
        Some(_) if !is_lb && resp.is_some_and(|r| r.headers.known(Known::Server).is_some()) => {
            ev.push(Evidence::ServerNotAlb);
            FrontVerdict::of(
                Category::TargetGeneratedError,
                Cause::TargetOwnError { server: None },
                ev,
            )
        }
        Some(_) if !is_lb && resp.and_then(|r| relayed_header(&r.headers)).is_some() => {
            let name = resp
                .and_then(|r| relayed_header(&r.headers))
                .unwrap_or_default();
            ev.push(Evidence::RelayedHeader { name });
            FrontVerdict::of(
                Category::TargetGeneratedError,
                Cause::TargetOwnError { server: None },
                ev,
            )
        }
        // A 502 or 504 the ALB generated comes only after it tried a target: with this node's
        // back end in the capture and no attempt found, the mirror lost it (dropped or
        // truncated packets, an unmirrored ENI). What the front end shows still holds.
        Some(s) if back_visible && is_lb && matches!(s, 502 | 504) => {
            let mut v = front_only_inference(f, ctx, s, ev);
            let missing = Evidence::NoBackEndAttempt {
                node: f.conn.key.server.ip,
                time: f.time(),
            };
            v.evidence.retain(|e| *e != Evidence::BackEndNotCaptured);
            v.evidence.insert(v.evidence.len().min(1), missing);
            if v.category == Category::Undetermined {
                v.candidates.push(Category::NoTargetAttempt);
            }
            v.notes = vec![Note::TellApart(TellApart::AttemptNotCaptured)];
            v
        }
        Some(_) if back_visible => {
            ev.push(Evidence::NoBackEndAttempt {
                node: f.conn.key.server.ip,
                time: f.time(),
            });
            FrontVerdict::of(Category::NoTargetAttempt, Cause::NoTargetAttempt, ev)
        }
        Some(s) if is_lb => front_only_inference(f, ctx, s, ev),
        Some(s) => {
            // No Server header at all: most likely the target's own error (the ALB's carry
            // awselb/2.0), but the front end cannot prove it.
            ev.push(Evidence::BackEndNotCaptured);
            let mut v = FrontVerdict::of(
                Category::Undetermined,
                Cause::AlbErrorBackEndNotCaptured,
                ev,
            );
            if resp.is_some() {
                v.what = Cause::NoServerHeader { status: s };
                v.candidates = vec![Category::TargetGeneratedError];
                v.candidates.extend(match s {
                    503 => vec![Category::NoTargetAttempt],
                    504 => vec![
                        Category::TargetIdleTimeout,
                        Category::TargetConnectTimeout,
                        Category::TargetTlsHandshakeTimeout,
                    ],
                    502 => vec![
                        Category::TargetConnectRefused,
                        Category::TargetClosedBeforeResponse,
                        Category::KeepaliveRace,
                        Category::TargetTlsHandshakeFailed,
                        Category::MalformedResponse,
                        Category::ResponseHeaderTooLarge,
                        Category::TargetUnreachableIcmp,
                        Category::DeregistrationAbort,
                    ],
                    _ => vec![],
                });
                v.notes = vec![Note::TellApart(TellApart::WhoAnswered)];
            }
            v
        }
        // The ALB ended the HTTP/2 stream itself, without a status.
        None if alb_stream_reset(f).is_some() => front_stream_reset(f, ctx, back_visible, ev),
        // With the back end in the capture, an answered exchange no back-end request matched
        // on a connection that may carry HTTP/2 (see `crate::alb::front_http2`) is an HTTP/2
        // control exchange or a request the ALB answered itself: its outcome is not visible.
        None if (!back_visible || front_http2_burst(f))
            && f.burst.as_ref().is_some_and(|b| b.response.is_some()) =>
        {
            encrypted_front_only(f, ctx, ev)
        }
        None if f.burst.as_ref().is_some_and(|b| b.response.is_some()) => {
            let bytes = f
                .burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map_or(0, |r| r.bytes);
            ev.push(Evidence::EncryptedAnswer { bytes });
            FrontVerdict::of(Category::Undetermined, Cause::EncryptedAnswerUnmatched, ev)
        }
        // An unanswered client burst of a connection that may carry HTTP/2: a GOAWAY, an
        // acknowledgement, or a stream answered in a later burst; its outcome is not visible.
        None if front_http2_burst(f) => {
            ev.push(Evidence::NoResponseCaptured);
            let mut v = FrontVerdict::of(Category::Undetermined, Cause::OutcomeNotVisible, ev);
            v.notes = vec![Note::TellApart(TellApart::EncryptedFront)];
            v.not_visible = true;
            v
        }
        None => {
            ev.push(Evidence::NoResponseCaptured);
            FrontVerdict::of(Category::Undetermined, Cause::NoAnswerCaptured, ev)
        }
    }
}

/// True for an encrypted exchange (TLS records) of a front-end connection that may carry
/// HTTP/2 ([`crate::alb::front_http2`]).
fn front_http2_burst(f: &Leg) -> bool {
    f.burst.is_some() && f.record.as_deref().is_some_and(crate::alb::front_http2)
}

/// Headers an ALB may write on an answer it generates itself: the five of its error pages
/// (Server, Date, Content-Type, Content-Length, Connection), the keep-alive and framing ones,
/// and the response headers its header modification can add (security and CORS headers);
/// the Server header may also be turned off.
const ALB_OWN_HEADERS: &[&str] = &[
    "server",
    "date",
    "content-type",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
];

/// The first header of an answer that an ALB never writes on its own answers (see
/// [`ALB_OWN_HEADERS`]): present, it proves the answer came from a target.
fn relayed_header(headers: &crate::protocol::Headers) -> Option<String> {
    headers
        .iter()
        .map(|(name, _)| name)
        .find(|name| {
            !ALB_OWN_HEADERS
                .iter()
                .any(|own| own.eq_ignore_ascii_case(name.trim()))
        })
        .map(|name| name.trim().to_string())
}

/// A body short of its end: `Some(Some(length))` for a Content-Length not reached,
/// `Some(None)` for a chunked body without its last chunk, `None` otherwise.
fn body_unfinished(r: &crate::protocol::HttpResponse) -> Option<Option<u64>> {
    match r.content_length {
        Some(cl) if cl > r.body_bytes => Some(Some(cl)),
        Some(_) => None,
        None if r.chunked => Some(None),
        None => None,
    }
}

/// The response headers and part of the body reached the client, then the ALB closed the
/// connection (a bare FIN or RST) before the Content-Length was reached, with no bytes missing
/// from the capture: what the client sees of an `incomplete_body`.
pub(super) fn front_incomplete_body(f: &Leg, mut ev: Vec<Evidence>) -> Option<FrontVerdict> {
    let r = f.exchange.as_ref()?.response.as_ref()?;
    let declared = body_unfinished(r)?;
    if r.complete.is_some() || front_answer_missing(f) {
        return None;
    }
    let close = events(f)
        .iter()
        .find(|e| is_close(e) && e.ts >= r.headers_done)?;
    // The client closing first is the client giving up, not the ALB cutting the body off.
    if close.dir != Dir::ToClient {
        return None;
    }
    ev.push(Evidence::ShortBody {
        declared,
        body: r.body_bytes,
    });
    ev.push(Evidence::ClosedAfterHeaders {
        by: Party::Alb,
        close: close_of(close),
        at: at(close.ts, close.pos),
        after: close.ts.since(r.headers_done),
    });
    let mut v = FrontVerdict::of(
        Category::IncompleteBody,
        Cause::IncompleteBody {
            body: r.body_bytes,
            declared,
        },
        ev,
    );
    v.extra = Some(FixExtra::BodyShort {
        declared,
        sent: r.body_bytes,
    });
    Some(v)
}

/// The client stopped the answer after its headers reached it and before its body ended: the
/// first end of the answer after its headers is the client's (HTTP/2: its `RST_STREAM` of the
/// stream, e.g. a browser's `CANCEL`; either protocol: its FIN or RST on the connection), with
/// no ALB -> client bytes missing from the capture. The ALB relayed the answer; stopping it was
/// the client's doing (an ALB that cuts an answer ends it itself first: `RST_STREAM` or a close
/// toward the client, [`front_incomplete_body`]). An HTTP/1 body without a declared length or
/// chunking ends only with the ALB's close, so it is never unfinished here.
pub(super) fn client_stopped_answer(f: &Leg) -> Option<Evidence> {
    let ex = f.exchange.as_ref()?;
    let r = ex.response.as_ref()?;
    if r.complete.is_some() || front_answer_missing(f) {
        return None;
    }
    let h2 = ex.h2.as_ref();
    if h2.is_none() && body_unfinished(r).is_none() {
        return None;
    }
    let close = events(f)
        .iter()
        .find(|e| is_close(e) && e.ts >= r.headers_done);
    let reset = h2.and_then(|h| h.reset).filter(|x| x.ts >= r.headers_done);
    let (stop, ts, pos) = match (reset, close) {
        (Some(x), c) if c.map_or(true, |c| x.ts <= c.ts) => {
            if x.dir != Dir::ToServer {
                return None;
            }
            (ClientStop::StreamReset(x.code), x.ts, x.pos)
        }
        (_, Some(c)) => {
            if c.dir != Dir::ToServer {
                return None;
            }
            (ClientStop::Close(close_of(c)), c.ts, c.pos)
        }
        (_, None) => return None,
    };
    Some(Evidence::ClientStoppedAnswer {
        stop,
        at: at(ts, pos),
        after: ts.since(r.headers_done),
        body: r.body_bytes,
    })
}

/// The response headers reached the client and its body was still arriving when the capture
/// ended: a Content-Length not reached, or a chunked body without its last chunk (HTTP/1.1 ends
/// one only with its zero-length chunk, RFC 9112 7.1), and no close after the headers (bytes
/// missing from the capture leave it as open: the rest may be in them, or not). The answer may still complete or be cut off (`incomplete_body`):
/// in flight, not proven either way (the back end's counterpart is in `back.rs`).
pub(super) fn front_body_still_arriving(f: &Leg, mut ev: Vec<Evidence>) -> Option<FrontVerdict> {
    let r = f.exchange.as_ref()?.response.as_ref()?;
    let declared = body_unfinished(r)?;
    let closed_after_headers = events(f)
        .iter()
        .any(|e| is_close(e) && e.ts >= r.headers_done);
    if r.complete.is_some() || closed_after_headers {
        return None;
    }
    ev.push(Evidence::BodyStillArriving {
        declared,
        body: r.body_bytes,
    });
    Some(FrontVerdict::of(
        Category::Undetermined,
        Cause::NoResponseInCapture,
        ev,
    ))
}

/// True when ALB -> client bytes of the request's connection are missing from the capture:
/// the answer may have been in them, or after them where the reader lost its place in the
/// stream (an HTTP/2 connection reads no frame after a gap).
pub(super) fn front_answer_missing(f: &Leg) -> bool {
    events(f).iter().any(|e| {
        e.dir == Dir::ToClient
            && matches!(
                e.kind,
                TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
            )
    })
}

/// Time from the ALB receiving the request to its answer, on a front-end leg.
pub(super) fn front_elapsed(f: &Leg) -> Option<Duration> {
    let req = f.exchange.as_ref()?.request.as_ref()?;
    let resp = f.exchange.as_ref()?.response.as_ref()?;
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    Some(resp.first_byte.since(received))
}

/// The ALB's own 5xx seen from the front end only. What its timing proves is said as proved
/// (a 504 outside the connect and TLS handshake timeouts' window is the idle timeout); where
/// several back-end failures give the same answer the category is `undetermined` with the
/// candidates, most likely first, and what to capture to tell them apart.
fn front_only_inference(f: &Leg, ctx: &Ctx, status: u16, mut ev: Vec<Evidence>) -> FrontVerdict {
    let req = f.exchange.as_ref().and_then(|e| e.request.as_ref());
    // When the answer started: its status line is enough (a truncating mirror may cut the
    // rest of it).
    let answered = f.exchange.as_ref().and_then(|e| {
        e.response.as_ref().map(|r| r.first_byte).or(e
            .response_error
            .as_ref()
            .filter(|r| r.status.is_some())
            .map(|r| r.first_byte))
    });
    let (Some(req), Some(answered)) = (req, answered) else {
        ev.push(Evidence::BackEndNotCaptured);
        return FrontVerdict::of(
            Category::Undetermined,
            Cause::AlbErrorBackEndNotCaptured,
            ev,
        );
    };
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    let elapsed = answered.since(received);
    let connect = ctx.known.config.connect_timeout;
    ev.push(Evidence::AnsweredAfter { elapsed });
    let undetermined = |mut ev: Vec<Evidence>, inf, candidates, tell| {
        ev.push(Evidence::Inferred(inf));
        FrontVerdict {
            category: Category::Undetermined,
            what: Cause::FrontEndCannotTell { status },
            evidence: ev,
            candidates,
            notes: vec![Note::TellApart(tell)],
            extra: None,
            not_visible: false,
        }
    };
    match status {
        504 => {
            let (idle, source) = ctx.known.idle_timeout();
            let known_idle = source != TimerSource::Default;
            let (lo, hi) = timeout_window(connect);
            let in_window = elapsed >= lo && elapsed < hi;
            // The idle timeout runs from the request's dispatch to the target, after a
            // connect that may take up to the connect timeout (SYNs retransmitted while, say,
            // a full listen queue drops them) and a TLS handshake: a known idle timeout
            // shorter than the answer's delay is the idle timeout started late, not a longer
            // one.
            let started_late = known_idle && elapsed.0 > idle.0 + HALF_SECOND.0;
            if !in_window {
                ev.push(Evidence::IdleTimeoutByTiming {
                    elapsed,
                    connect,
                    idle: started_late.then_some(idle),
                });
                let idle = if started_late {
                    idle
                } else {
                    whole_secs(elapsed)
                };
                return FrontVerdict::of(
                    Category::TargetIdleTimeout,
                    Cause::IdleTimeout { idle },
                    ev,
                );
            }
            // Inside the window: the connect timeout ends at `connect`, a TLS handshake
            // timeout up to `connect` later; an idle timeout of that length (unknown unless
            // told or seen), or a shorter one started late, gives the same.
            let near_connect = elapsed.0 <= connect.0 + HALF_SECOND.0;
            let idle_fits = !known_idle || near(elapsed, idle) || started_late;
            let mut candidates = Vec::new();
            if near_connect {
                candidates.push(Category::TargetConnectTimeout);
            }
            candidates.push(Category::TargetTlsHandshakeTimeout);
            if idle_fits {
                candidates.push(Category::TargetIdleTimeout);
            }
            undetermined(
                ev,
                Inference::GatewayTimeoutAmbiguous { elapsed, connect },
                candidates,
                TellApart::GatewayTimeout,
            )
        }
        502 => {
            let phase = bad_gateway_phase(elapsed, connect);
            let mut candidates = bad_gateway_candidates(phase);
            if phase == BadGatewayPhase::Immediate {
                if let Some(gap) = quiet_before(f, ctx, req.first_byte) {
                    ev.push(Evidence::NodeQuietBefore { gap });
                    candidates.retain(|c| *c != Category::KeepaliveRace);
                    candidates.insert(0, Category::KeepaliveRace);
                }
            }
            undetermined(
                ev,
                Inference::BadGatewayAmbiguous {
                    elapsed,
                    phase,
                    connect,
                },
                candidates,
                TellApart::BadGateway,
            )
        }
        503 => {
            ev.push(Evidence::Inferred(Inference::NoHealthyTarget));
            FrontVerdict::of(
                Category::NoTargetAttempt,
                Cause::InferredNoHealthyTarget,
                ev,
            )
        }
        _ => {
            ev.push(Evidence::BackEndNotCaptured);
            FrontVerdict::of(
                Category::Undetermined,
                Cause::AlbErrorBackEndNotCaptured,
                ev,
            )
        }
    }
}

/// The `RST_STREAM` the ALB ended the request's HTTP/2 stream with, before any status.
fn alb_stream_reset(f: &Leg) -> Option<crate::protocol::H2Reset> {
    let ex = f.exchange.as_ref()?;
    if ex.response.is_some() {
        return None;
    }
    ex.h2.as_ref()?.reset.filter(|r| r.dir == Dir::ToClient)
}

/// An HTTP/2 stream the ALB ended with `RST_STREAM` and no status, the back end not captured
/// (or, `back_visible`, captured without an attempt for it). A proxy fails a stream that way
/// where it could not get the target's answer (HAProxy answers a target's reset with
/// `REFUSED_STREAM`; an ALB answers 502 or 504), so the candidates are those of an ALB's 502 at
/// that time after the request ([`bad_gateway_candidates`]), the idle timeout where the reset
/// falls where one ends, and the node refusing the stream itself without trying a target
/// (`REFUSED_STREAM` says the stream was not processed: its own stream limit, or closing the
/// connection), which fits only an immediate reset, or one with the back end captured and no
/// attempt in it. Never a category of its own: what the reset stood for is on the back end.
fn front_stream_reset(
    f: &Leg,
    ctx: &Ctx,
    back_visible: bool,
    mut ev: Vec<Evidence>,
) -> FrontVerdict {
    let Some(reset) = alb_stream_reset(f) else {
        ev.push(Evidence::NoResponseCaptured);
        return FrontVerdict::of(Category::Undetermined, Cause::NoAnswerCaptured, ev);
    };
    let received = f
        .exchange
        .as_ref()
        .and_then(|e| e.request.as_ref())
        .map_or(f.time(), |r| {
            r.complete.or(r.headers_done).unwrap_or(r.first_byte)
        });
    // A stream reset before the request's end came that long after its start.
    let elapsed = Duration(reset.ts.since(received).0.max(0));
    ev.push(Evidence::AlbResetStream {
        code: reset.code,
        at: at(reset.ts, reset.pos),
        since_request: elapsed,
    });
    let connect = ctx.known.config.connect_timeout;
    let phase = bad_gateway_phase(elapsed, connect);
    let mut candidates = bad_gateway_candidates(phase);
    if phase == BadGatewayPhase::Immediate {
        let req_start = f
            .exchange
            .as_ref()
            .and_then(|e| e.request.as_ref())
            .map_or(f.time(), |r| r.first_byte);
        if let Some(gap) = quiet_before(f, ctx, req_start) {
            ev.push(Evidence::NodeQuietBefore { gap });
            candidates.retain(|c| *c != Category::KeepaliveRace);
            candidates.insert(0, Category::KeepaliveRace);
        }
    }
    let (idle, source) = ctx.known.idle_timeout();
    let idle_fits = if elapsed.0 < IMMEDIATE.0 {
        None
    } else if source != TimerSource::Default {
        // at the idle timeout, or past it after a slow connect
        (elapsed.0 + HALF_SECOND.0 >= idle.0).then_some(idle)
    } else {
        let e = elapsed.as_secs_f64();
        ((e - e.round()).abs() <= 0.05).then(|| whole_secs(elapsed))
    };
    if let Some(idle) = idle_fits {
        if near(elapsed, idle) && source != TimerSource::Default {
            candidates.insert(0, Category::TargetIdleTimeout);
        } else {
            candidates.push(Category::TargetIdleTimeout);
        }
    }
    if back_visible {
        ev.push(Evidence::NoBackEndAttempt {
            node: f.conn.key.server.ip,
            time: f.time(),
        });
        candidates.insert(0, Category::NoTargetAttempt);
    } else {
        ev.push(Evidence::BackEndNotCaptured);
        if phase == BadGatewayPhase::Immediate
            && reset.code == crate::protocol::H2ErrorCode::REFUSED_STREAM
        {
            candidates.push(Category::NoTargetAttempt);
        }
    }
    ev.push(Evidence::Inferred(Inference::StreamResetAmbiguous {
        elapsed,
        phase,
        connect,
        idle: idle_fits,
    }));
    FrontVerdict {
        category: Category::Undetermined,
        what: Cause::AlbResetStream { code: reset.code },
        evidence: ev,
        candidates,
        notes: vec![Note::TellApart(TellApart::StreamReset)],
        extra: None,
        not_visible: false,
    }
}

/// Where a 502 `elapsed` after the request falls among the ALB's back-end steps: a connect
/// ends before the connect timeout (its SYN retransmitted until then: a refusal or an ICMP
/// error can still come half a second before it), a TLS handshake before the same again; a
/// keep-alive race fails at once.
fn bad_gateway_phase(elapsed: Duration, connect: Duration) -> BadGatewayPhase {
    let e = elapsed.0;
    if e < IMMEDIATE.0 {
        BadGatewayPhase::Immediate
    } else if e < connect.0 - HALF_SECOND.0 {
        BadGatewayPhase::DuringConnect
    } else if e < connect.0 + HALF_SECOND.0 {
        BadGatewayPhase::AtConnectTimeout
    } else if e < 2 * connect.0 + HALF_SECOND.0 {
        BadGatewayPhase::DuringHandshake
    } else {
        BadGatewayPhase::AfterHandshake
    }
}

/// The back-end failures a 502 in `phase` may be, most likely first. Immediate: a refused
/// connect, the target closing or resetting (a keep-alive race among them), a failed TLS
/// handshake, a bad answer, ICMP, the deregistration delay ending just then. Later: the target
/// closing while it works, the deregistration delay, a bad answer after processing, and while
/// a connect can still go on ICMP (after ARP timed out) or a refusal answering a retransmitted
/// SYN. At the connect timeout: the TLS handshake timeout (AWS documents it as a 502) or a
/// connect timeout answered 502. Past it: a TLS handshake timeout or failure until twice the
/// connect timeout, then only what a target does with a request.
fn bad_gateway_candidates(phase: BadGatewayPhase) -> Vec<Category> {
    match phase {
        BadGatewayPhase::Immediate => vec![
            Category::TargetConnectRefused,
            Category::TargetClosedBeforeResponse,
            Category::KeepaliveRace,
            Category::TargetTlsHandshakeFailed,
            Category::MalformedResponse,
            Category::ResponseHeaderTooLarge,
            Category::TargetUnreachableIcmp,
            Category::DeregistrationAbort,
        ],
        BadGatewayPhase::DuringConnect => vec![
            Category::TargetClosedBeforeResponse,
            Category::DeregistrationAbort,
            Category::TargetUnreachableIcmp,
            Category::MalformedResponse,
            Category::ResponseHeaderTooLarge,
            Category::TargetTlsHandshakeFailed,
            Category::TargetConnectRefused,
        ],
        BadGatewayPhase::AtConnectTimeout => vec![
            Category::TargetTlsHandshakeTimeout,
            Category::TargetConnectTimeout,
            Category::TargetClosedBeforeResponse,
            Category::DeregistrationAbort,
            Category::MalformedResponse,
            Category::ResponseHeaderTooLarge,
            Category::TargetTlsHandshakeFailed,
        ],
        BadGatewayPhase::DuringHandshake => vec![
            Category::TargetClosedBeforeResponse,
            Category::DeregistrationAbort,
            Category::TargetTlsHandshakeTimeout,
            Category::MalformedResponse,
            Category::ResponseHeaderTooLarge,
            Category::TargetTlsHandshakeFailed,
        ],
        BadGatewayPhase::AfterHandshake => vec![
            Category::TargetClosedBeforeResponse,
            Category::DeregistrationAbort,
            Category::MalformedResponse,
            Category::ResponseHeaderTooLarge,
        ],
    }
}

/// The time from the node's last answer the capture shows before `t` to `t`, when it is long
/// enough for a target's keep-alive timeout to have closed a back-end connection idle since
/// (at least the shortest common default, gunicorn's 2 s, less half a second) and short
/// enough for the ALB to have kept that connection (its idle timeout): a keep-alive race is
/// then the likelier cause of an immediate 502. Only a ranking: traffic of other clients the
/// capture lacks may have kept the node busy, and the node has other connections.
fn quiet_before(f: &Leg, ctx: &Ctx, t: crate::capture::Timestamp) -> Option<Duration> {
    let last = ctx.known.last_answer_before(f.conn.key.server.ip, t)?;
    let gap = t.since(last);
    let shortest = crate::taxonomy::SERVER_KEEPALIVE
        .iter()
        .map(|s| s.default_keepalive)
        .min()?;
    let (idle, _) = ctx.known.idle_timeout();
    (gap.0 >= shortest.0 - HALF_SECOND.0 && gap.0 <= idle.0 + HALF_SECOND.0).then_some(gap)
}

/// How soon after the request a 502 counts as immediate: a connect, a TLS handshake and a
/// target's first bytes inside a VPC take milliseconds; a keep-alive race fails at once.
const IMMEDIATE: Duration = Duration(1_000_000_000);

/// Largest encrypted answer (bytes of TLS records) that may be an ALB error page: its 502 or
/// 504 page is about 300 bytes of HTTP/1.1 (headers and a 122-byte body) plus record overhead.
const SHORT_ANSWER: u64 = 512;
/// How soon after its answer the ALB's close must come to suggest an error page.
const CLOSE_AFTER_ANSWER: Duration = Duration(1_000_000_000);

/// An encrypted exchange with an answer, seen from the front end alone (no keys, no back end):
/// the outcome is not visible, unless what the front end shows suggests the ALB's own error
/// (an HTTP/1.1 answer at an ALB timer, or a short answer right before the ALB closes the
/// connection): then `undetermined` with its candidates. On HTTP/2 the exchanges are streams
/// interleaved, so their timing says nothing of one request.
fn encrypted_front_only(f: &Leg, ctx: &Ctx, mut ev: Vec<Evidence>) -> FrontVerdict {
    let Some((req, resp)) = f
        .burst
        .as_ref()
        .and_then(|b| Some((&b.request, b.response.as_ref()?)))
    else {
        ev.push(Evidence::NoResponseCaptured);
        return FrontVerdict::of(Category::Undetermined, Cause::NoAnswerCaptured, ev);
    };
    let elapsed = resp.first.since(req.last);
    ev.push(Evidence::EncryptedOutcomeHidden {
        bytes: resp.bytes,
        elapsed,
    });
    let http2 = f.record.as_deref().is_some_and(crate::alb::front_http2);
    let maybe = |mut ev: Vec<Evidence>, inference, candidates| {
        ev.push(Evidence::Inferred(inference));
        FrontVerdict {
            category: Category::Undetermined,
            what: Cause::EncryptedMaybeAlbError,
            evidence: ev,
            candidates,
            notes: vec![Note::TellApart(TellApart::EncryptedFront)],
            extra: None,
            not_visible: false,
        }
    };
    if !http2 {
        let (idle, _) = ctx.known.idle_timeout();
        let connect = ctx.known.config.connect_timeout;
        if near(elapsed, idle) {
            return maybe(
                ev,
                Inference::EncryptedAnswerAtTimer {
                    elapsed,
                    timer: AlbTimer::Idle,
                    length: idle,
                },
                vec![Category::TargetIdleTimeout],
            );
        }
        if near(elapsed, connect) {
            return maybe(
                ev,
                Inference::EncryptedAnswerAtTimer {
                    elapsed,
                    timer: AlbTimer::ConnectOrHandshake,
                    length: connect,
                },
                vec![
                    Category::TargetConnectTimeout,
                    Category::TargetTlsHandshakeTimeout,
                ],
            );
        }
        // The ALB closing the connection right after a short answer, before the client
        // closes or sends more.
        let first_close = events(f).iter().find(|e| is_close(e) && e.ts >= resp.last);
        let client_spoke = |until: crate::capture::Timestamp| {
            f.record
                .as_ref()
                .and_then(|r| r.tls.as_ref())
                .is_some_and(|t| {
                    t.bursts
                        .iter()
                        .any(|b| b.dir == Dir::ToServer && b.first > resp.last && b.first <= until)
                })
        };
        let close = first_close.filter(|e| {
            e.dir == Dir::ToClient
                && e.ts.since(resp.last) <= CLOSE_AFTER_ANSWER
                && !client_spoke(e.ts)
        });
        if let (Some(c), true) = (close, resp.bytes <= SHORT_ANSWER) {
            ev.push(Evidence::AlbClosedAfterAnswer {
                close: close_of(c),
                at: at(c.ts, c.pos),
                after: c.ts.since(resp.last),
            });
            return maybe(
                ev,
                Inference::ShortAnswerThenClose { bytes: resp.bytes },
                bad_gateway_candidates(bad_gateway_phase(
                    elapsed,
                    ctx.known.config.connect_timeout,
                )),
            );
        }
    }
    let mut v = FrontVerdict::of(Category::Undetermined, Cause::OutcomeNotVisible, ev);
    v.notes = vec![Note::TellApart(TellApart::EncryptedFront)];
    v.not_visible = true;
    v
}

/// Half a second: how far an answer may be from a timer and still be that timer.
const HALF_SECOND: Duration = Duration(500_000_000);

/// When the connect timeout or a TLS handshake timeout can end after the request: from the
/// connect timeout (less half a second) to just before twice it (a connect that succeeded just
/// before its timeout, then a TLS handshake timeout); the end is exclusive, since a connect
/// that succeeds ends before its timeout does.
pub(super) fn timeout_window(connect: Duration) -> (Duration, Duration) {
    (Duration(connect.0 - HALF_SECOND.0), Duration(2 * connect.0))
}

fn near(a: Duration, b: Duration) -> bool {
    (a.as_secs_f64() - b.as_secs_f64()).abs() <= HALF_SECOND.as_secs_f64()
}

/// A timer read from an answer's timing, to the whole second (ALB timers are whole seconds).
pub(super) fn whole_secs(d: Duration) -> Duration {
    Duration::from_secs_f64(d.as_secs_f64().round())
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Duration = Duration(10_000_000_000);

    fn at(s: f64) -> Vec<Category> {
        bad_gateway_candidates(bad_gateway_phase(Duration::from_secs_f64(s), C))
    }

    #[test]
    fn a_keepalive_race_only_at_once() {
        assert!(at(0.001).contains(&Category::KeepaliveRace));
        for s in [1.5, 10.0, 12.5, 21.0] {
            assert!(!at(s).contains(&Category::KeepaliveRace), "{s}");
        }
    }

    #[test]
    fn connect_failures_only_before_the_connect_timeout() {
        for c in [
            Category::TargetConnectRefused,
            Category::TargetUnreachableIcmp,
        ] {
            assert!(at(0.001).contains(&c) && at(3.0).contains(&c), "{c:?}");
            assert!(!at(10.0).contains(&c) && !at(12.5).contains(&c), "{c:?}");
        }
        // at the connect timeout: the TLS handshake timeout (a documented 502) first, and a
        // connect timeout answered 502 by a proxy in the ALB's place
        assert_eq!(
            &at(10.002)[..2],
            &[
                Category::TargetTlsHandshakeTimeout,
                Category::TargetConnectTimeout
            ]
        );
    }

    #[test]
    fn tls_failures_only_before_twice_the_connect_timeout() {
        for c in [
            Category::TargetTlsHandshakeTimeout,
            Category::TargetTlsHandshakeFailed,
        ] {
            assert!(at(12.5).contains(&c) && at(20.0).contains(&c), "{c:?}");
            assert!(!at(21.0).contains(&c), "{c:?}");
        }
        // what a target does with a request fits at any time
        for s in [0.001, 3.0, 10.0, 12.5, 21.0, 300.0] {
            for c in [
                Category::TargetClosedBeforeResponse,
                Category::MalformedResponse,
                Category::DeregistrationAbort,
            ] {
                assert!(at(s).contains(&c), "{s} {c:?}");
            }
        }
    }
}
