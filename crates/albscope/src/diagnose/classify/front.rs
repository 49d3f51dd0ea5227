//! The front end: the client giving up, and the verdict when only the front end is captured.

use super::{at, close_of, events, is_close, Ctx};
use crate::alb::{Leg, Vantage};
use crate::capture::Duration;
use crate::diagnose::evidence::{Cause, Evidence, Inference};
use crate::diagnose::model::Party;
use crate::flow::{Dir, TcpEventKind};
use crate::protocol::header;
use crate::taxonomy::Category;

/// When the client closed (FIN or RST toward the ALB) before any answer on the front end.
pub(super) fn client_closed_at(front: &Leg) -> Option<Evidence> {
    let ex = front.exchange.as_ref();
    // When the ALB's answer started.
    let answer = ex
        .and_then(|e| {
            e.response
                .as_ref()
                .map(|r| r.first_byte)
                .or(e.response_error.as_ref().map(|r| r.first_byte))
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
            && matches!(e.kind, TcpEventKind::Gap { .. })
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

/// The verdict when the back end of this request is not in the capture.
pub(super) fn analyze_front_only(
    f: &Leg,
    ctx: &Ctx,
    status: Option<u16>,
    is_lb: bool,
) -> (Category, Cause, Vec<Evidence>) {
    let back_visible = matches!(
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
            server: header(&r.headers, "server").map(str::to_string),
        });
    }
    match status {
        Some(s) if s < 500 => (Category::Ok, Cause::AnsweredNormally, ev),
        Some(_) if !is_lb && resp.is_some_and(|r| header(&r.headers, "server").is_some()) => {
            ev.push(Evidence::ServerNotAlb);
            (
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
            (Category::NoTargetAttempt, Cause::NoTargetAttempt, ev)
        }
        Some(s) if is_lb => front_only_inference(f, ctx, s, ev),
        Some(_) => {
            ev.push(Evidence::BackEndNotCaptured);
            (
                Category::Undetermined,
                Cause::AlbErrorBackEndNotCaptured,
                ev,
            )
        }
        None if f.burst.as_ref().is_some_and(|b| b.response.is_some()) => {
            let bytes = f
                .burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map_or(0, |r| r.bytes);
            ev.push(Evidence::EncryptedAnswer { bytes });
            (Category::Undetermined, Cause::EncryptedAnswerUnmatched, ev)
        }
        None => {
            ev.push(Evidence::NoResponseCaptured);
            (Category::Undetermined, Cause::NoAnswerCaptured, ev)
        }
    }
}

/// True when ALB -> client bytes after the request are missing from the capture (the answer
/// may have been in them).
pub(super) fn front_answer_missing(f: &Leg) -> bool {
    let t0 = f.time();
    events(f)
        .iter()
        .any(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Gap { .. }) && e.ts >= t0)
}

/// Time from the ALB receiving the request to its answer, on a front-end leg.
pub(super) fn front_elapsed(f: &Leg) -> Option<Duration> {
    let req = f.exchange.as_ref()?.request.as_ref()?;
    let resp = f.exchange.as_ref()?.response.as_ref()?;
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    Some(resp.first_byte.since(received))
}

/// The ALB's own 5xx seen from the front end only: the most likely category from its timing.
/// Says in the evidence that it is an inference.
fn front_only_inference(
    f: &Leg,
    ctx: &Ctx,
    status: u16,
    mut ev: Vec<Evidence>,
) -> (Category, Cause, Vec<Evidence>) {
    let req = f.exchange.as_ref().and_then(|e| e.request.as_ref());
    let resp = f.exchange.as_ref().and_then(|e| e.response.as_ref());
    let (Some(req), Some(resp)) = (req, resp) else {
        ev.push(Evidence::BackEndNotCaptured);
        return (
            Category::Undetermined,
            Cause::AlbErrorBackEndNotCaptured,
            ev,
        );
    };
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    let elapsed = resp.first_byte.since(received);
    let el = elapsed.as_secs_f64();
    let connect = ctx.known.config.connect_timeout;
    ev.push(Evidence::AnsweredAfter { elapsed });
    match status {
        504 if (el - connect.as_secs_f64()).abs() <= 0.5 => {
            ev.push(Evidence::Inferred(Inference::ConnectTimeout { connect }));
            (
                Category::TargetConnectTimeout,
                Cause::InferredConnectTimeout { connect },
                ev,
            )
        }
        504 => {
            ev.push(Evidence::Inferred(Inference::IdleTimeout { elapsed }));
            (
                Category::TargetIdleTimeout,
                Cause::InferredIdleTimeout { elapsed },
                ev,
            )
        }
        502 if el < 1.0 => {
            ev.push(Evidence::Inferred(Inference::Refused));
            (Category::TargetConnectRefused, Cause::InferredRefused, ev)
        }
        502 => {
            ev.push(Evidence::Inferred(Inference::Closed { elapsed }));
            (
                Category::TargetClosedBeforeResponse,
                Cause::InferredClosed,
                ev,
            )
        }
        503 => {
            ev.push(Evidence::Inferred(Inference::NoHealthyTarget));
            (
                Category::NoTargetAttempt,
                Cause::InferredNoHealthyTarget,
                ev,
            )
        }
        _ => {
            ev.push(Evidence::BackEndNotCaptured);
            (
                Category::Undetermined,
                Cause::AlbErrorBackEndNotCaptured,
                ev,
            )
        }
    }
}
