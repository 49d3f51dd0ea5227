//! The access-log view: the fields an ALB access-log line would carry for a request.

use super::{back_times, Ctx};
use crate::alb::{RequestPath, Vantage};
use crate::capture::{Duration, Timestamp};
use crate::diagnose::model::{AccessLogView, Step};
use crate::taxonomy::Category;

/// The access-log fields for a request; `category` with whether the target's answer was seen
/// over TLS with no status readable (answered, status not visible), and whether that answer
/// may have been cut before a whole head (then neither its status nor whether the target's
/// processing ended is visible).
pub(super) fn access_log(
    path: &RequestPath,
    ctx: &Ctx,
    (category, answered_not_visible, maybe_cut): (Category, bool, bool),
    status: Option<u16>,
    target_status: Option<u16>,
    trace_id: &Option<crate::diagnose::Text>,
) -> AccessLogView {
    let front = path.front.as_ref();
    let back = path.back.as_ref();
    let f_req = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.request.as_ref());
    let f_recv = f_req
        .map(|r| r.complete.or(r.headers_done).unwrap_or(r.first_byte))
        .or(front.and_then(|f| f.burst.as_ref()).map(|b| b.request.last));
    let f_resp = front.and_then(|f| {
        f.exchange
            .as_ref()
            .and_then(|e| e.response.as_ref())
            .map(|r| r.first_byte)
            .or(f
                .burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map(|r| r.first))
    });
    let (b_sent, b_resp) = match back {
        Some(b) => {
            let (req, _) = back_times(b);
            let hdrs = b
                .exchange
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .map(|r| r.headers_done)
                .or(b
                    .burst
                    .as_ref()
                    .and_then(|x| x.response.as_ref())
                    .map(|r| r.first));
            (req, hdrs)
        }
        None => (None, None),
    };
    let back_known = back.is_some() || ctx.known.vantage() == Vantage::BothLegs;
    let relayed = target_status.is_some();
    let secs_between = |a: Timestamp, b: Timestamp| Step::Took(Duration(b.since(a).0.max(0)));
    let request_processing_time = match (f_recv, b_sent) {
        (Some(f), Some(b)) => secs_between(f, b),
        (None, Some(_)) => Step::NotCaptured,
        (_, None) if back_known => Step::Never,
        _ => Step::NotCaptured,
    };
    // Bytes the ALB could not use still end the target's processing (the seed's malformed
    // response logs `0.000 11.083 -1 502 -`).
    let bad_reply = back
        .and_then(|b| b.exchange.as_ref())
        .and_then(|e| e.response_error.as_ref())
        .map(|e| e.first_byte)
        .filter(|_| {
            matches!(
                category,
                Category::MalformedResponse | Category::ResponseHeaderTooLarge
            )
        });
    let target_processing_time = match (b_sent, b_resp.or(bad_reply)) {
        (Some(_), Some(_)) if maybe_cut => Step::NotCaptured,
        (Some(s), Some(r))
            if relayed
                || bad_reply.is_some()
                || answered_not_visible
                || category == Category::Ok =>
        {
            secs_between(s, r)
        }
        (Some(_), _) => Step::Never,
        (None, _) if back_known => Step::Never,
        _ => Step::NotCaptured,
    };
    // An encrypted answer to the client, no back end: its status, and whether a target's
    // answer was relayed, are not visible (nothing says -1 or `-`).
    // Likewise the target's encrypted answer with no readable answer to the client.
    let status_not_visible = answered_not_visible
        || maybe_cut
        || status.is_none()
            && target_status.is_none()
            && back.is_none()
            && !back_known
            && category != Category::ClientClosed
            && front.is_some_and(|f| {
                f.exchange.is_none() && f.burst.as_ref().is_some_and(|b| b.response.is_some())
            });
    let response_processing_time = match (b_resp, f_resp) {
        _ if status_not_visible => Step::NotCaptured,
        (Some(r), Some(f)) if relayed || category == Category::Ok => secs_between(r, f),
        (Some(_), None) if relayed && front.is_none() => Step::NotCaptured,
        _ if back_known || front.is_some() => Step::Never,
        _ => Step::NotCaptured,
    };
    let elb_status_code = if category == Category::ClientClosed {
        Some(460)
    } else {
        status
    };
    AccessLogView {
        request_creation_time: front.map(|f| f.time()).or(back.map(|b| b.time())),
        request_processing_time,
        target_processing_time,
        response_processing_time,
        elb_status_code,
        target_status_code: target_status,
        status_not_visible,
        trace_id: trace_id.clone(),
    }
}
