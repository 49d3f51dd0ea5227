//! The front end: the client giving up, and the verdict when only the front end is captured.

use super::{at, close_of, events, is_close, Ctx};
use crate::alb::{Leg, TimerSource, Vantage};
use crate::capture::Duration;
use crate::diagnose::evidence::{Cause, Evidence, Inference, Note, TellApart};
use crate::diagnose::model::Party;
use crate::flow::{Dir, TcpEventKind};
use crate::protocol::Known;
use crate::taxonomy::{Category, FixExtra};

/// When the client closed (FIN or RST toward the ALB) before any answer on the front end.
pub(super) fn client_closed_at(front: &Leg) -> Option<Evidence> {
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
    // Bytes from the ALB missing from the capture before the close: the answer may be there.
    if events(front).iter().any(|e| {
        e.dir == Dir::ToClient
            && matches!(
                e.kind,
                TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
            )
            && e.ts >= t0
            && e.ts <= close.ts
    }) {
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
            reason: r.reason.clone(),
            at: at(r.first_byte, r.first_pos),
            server: r.headers.known(Known::Server).map(str::to_string),
        });
    }
    if let Some(v) = front_incomplete_body(f, ev.clone()) {
        return v;
    }
    // gRPC: a server-error grpc-status relayed under HTTP 200 is the target's (the ALB's own
    // answers are HTTP errors from awselb).
    let grpc = f
        .exchange
        .as_ref()
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
        Some(s) if s < 500 => FrontVerdict::of(Category::Ok, Cause::AnsweredNormally, ev),
        Some(_) if !is_lb && resp.is_some_and(|r| r.headers.known(Known::Server).is_some()) => {
            ev.push(Evidence::ServerNotAlb);
            FrontVerdict::of(
                Category::TargetGeneratedError,
                Cause::TargetOwnError { server: None },
                ev,
            )
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
        None if f.burst.as_ref().is_some_and(|b| b.response.is_some()) => {
            let bytes = f
                .burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map_or(0, |r| r.bytes);
            ev.push(Evidence::EncryptedAnswer { bytes });
            FrontVerdict::of(Category::Undetermined, Cause::EncryptedAnswerUnmatched, ev)
        }
        None => {
            ev.push(Evidence::NoResponseCaptured);
            FrontVerdict::of(Category::Undetermined, Cause::NoAnswerCaptured, ev)
        }
    }
}

/// The response headers and part of the body reached the client, then the ALB closed the
/// connection (a bare FIN or RST) before the Content-Length was reached, with no bytes missing
/// from the capture: what the client sees of an `incomplete_body`.
pub(super) fn front_incomplete_body(f: &Leg, mut ev: Vec<Evidence>) -> Option<FrontVerdict> {
    let r = f.exchange.as_ref()?.response.as_ref()?;
    // A Content-Length not reached, or a chunked body without its last chunk.
    let declared = match r.content_length {
        Some(cl) if cl > r.body_bytes => Some(cl),
        Some(_) => return None,
        None if r.chunked => None,
        None => return None,
    };
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

/// True when ALB -> client bytes after the request are missing from the capture (the answer
/// may have been in them).
pub(super) fn front_answer_missing(f: &Leg) -> bool {
    let t0 = f.time();
    events(f).iter().any(|e| {
        e.dir == Dir::ToClient
            && matches!(
                e.kind,
                TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
            )
            && e.ts >= t0
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
    let resp = f.exchange.as_ref().and_then(|e| e.response.as_ref());
    let (Some(req), Some(resp)) = (req, resp) else {
        ev.push(Evidence::BackEndNotCaptured);
        return FrontVerdict::of(
            Category::Undetermined,
            Cause::AlbErrorBackEndNotCaptured,
            ev,
        );
    };
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    let elapsed = resp.first_byte.since(received);
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
        }
    };
    match status {
        504 => {
            let (idle, source) = ctx.known.idle_timeout();
            let known_idle = source != TimerSource::Default;
            let (lo, hi) = timeout_window(connect);
            let in_window = elapsed >= lo && elapsed < hi;
            if !in_window {
                ev.push(Evidence::IdleTimeoutByTiming { elapsed, connect });
                return FrontVerdict::of(
                    Category::TargetIdleTimeout,
                    Cause::IdleTimeout {
                        idle: whole_secs(elapsed),
                    },
                    ev,
                );
            }
            // Inside the window: the connect timeout ends at `connect`, a TLS handshake
            // timeout up to `connect` later; an idle timeout of that length (unknown unless
            // told or seen) gives the same.
            let near_connect = elapsed.0 <= connect.0 + HALF_SECOND.0;
            let idle_fits = !known_idle || near(elapsed, idle);
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
            // Immediate: a refused or reset connect, a race on a reused connection, a failed
            // TLS handshake, a bad response; later: a target closing while it works, the
            // deregistration delay running out, ICMP after the target's ARP timed out.
            let candidates = if elapsed.as_secs_f64() < 1.0 {
                vec![
                    Category::TargetConnectRefused,
                    Category::TargetClosedBeforeResponse,
                    Category::KeepaliveRace,
                    Category::TargetTlsHandshakeFailed,
                    Category::MalformedResponse,
                    Category::ResponseHeaderTooLarge,
                    Category::TargetUnreachableIcmp,
                ]
            } else {
                vec![
                    Category::TargetClosedBeforeResponse,
                    Category::DeregistrationAbort,
                    Category::TargetUnreachableIcmp,
                    Category::MalformedResponse,
                    Category::ResponseHeaderTooLarge,
                    Category::TargetTlsHandshakeFailed,
                ]
            };
            undetermined(
                ev,
                Inference::BadGatewayAmbiguous { elapsed },
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
