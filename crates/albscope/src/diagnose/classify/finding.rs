//! Reconciling the front and back verdicts, and building the [`Finding`].

use super::access_log::access_log;
use super::back::analyze_back;
use super::front::whole_secs;
use super::front::{
    analyze_front_only, client_close_unproved, client_closed_at, client_stopped_answer,
    front_answer_missing, front_body_still_arriving, front_elapsed, front_incomplete_body,
};
use super::{Ctx, FixFacts};
use crate::alb::{Knowledge, NotACheck, PairingNote, RequestPath, TimerSource};
use crate::diagnose::evidence::{Cause, Evidence, Note, TellApart};
use crate::diagnose::metrics::conn_reuse;
use crate::diagnose::model::{AlbAddr, LegKind, Party, RequestId, RequestSeen};
use crate::diagnose::tally::{back_end_error, Tally};
use crate::diagnose::timeline::build_timeline;
use crate::diagnose::{ClientStreamReset, DecryptedLegs, Finding, TimelineEvent};
use crate::flow::Dir;
use crate::protocol::{H2ErrorCode, Known};
use crate::taxonomy::fix_text;
use crate::taxonomy::{Category, GeneratedBy};

/// Diagnoses one request path.
pub fn diagnose(path: &RequestPath, known: &Knowledge) -> Finding {
    let mut finding = diagnose_untimed(path, known);
    finding.timeline = timeline(path);
    finding
}

/// The events of both legs of a request on one clock (the [`Finding::timeline`]).
pub(in crate::diagnose) fn timeline(path: &RequestPath) -> Vec<TimelineEvent> {
    build_timeline(path)
}

/// [`diagnose`] without the timeline, the costliest part to write: a request that is only
/// counted does not need it.
fn diagnose_untimed(path: &RequestPath, known: &Knowledge) -> Finding {
    verdict_with(path, known, true)
}

/// The verdict first, the words later: category, status, who generated it, timings and
/// evidence for every request, and only when `wants_words(category)` says the finding is kept
/// the values a report quotes (request line, Host, trace id, target server, fix). A finding
/// built without them is fit for counting only (summary, metrics), not for a report.
///
/// The verdict is built once without the words (no text copied out of the legs); a finding
/// that wants them is built again with them (the words never change the verdict). A plain ok
/// request that is only counted does not come here: [`plain_ok_tally`] counts it.
pub(in crate::diagnose) fn diagnose_verdict(
    path: &RequestPath,
    known: &Knowledge,
    wants_words: impl FnOnce(Category) -> bool,
) -> Finding {
    let lean = verdict_with(path, known, false);
    if wants_words(lean.category) {
        verdict_with(path, known, true)
    } else {
        lean
    }
}

/// The verdict with the words, for a finding that is kept whatever its category.
pub(in crate::diagnose) fn diagnose_words(path: &RequestPath, known: &Knowledge) -> Finding {
    verdict_with(path, known, true)
}

/// What the aggregates count of a plain ok request ([`Tally::of`] of its [`verdict_with`]),
/// found by a cheap test and filled straight from the legs without building a [`Finding`];
/// `None` for every other request (then [`verdict_with`] decides).
///
/// A plain ok request: both legs are HTTP exchanges (no TLS burst, no header block skipped),
/// the target's complete response (not a gRPC one, and not short of the content-length it
/// declared: an HTTP/2 stream can end there, a malformed response) has a status below 500, the client's
/// response is not the ALB's own (`Server: awselb...`), no FIN or RST on the back-end
/// connection crosses the request (the target's from [`RACE_LOOKBACK`] before it, the ALB's
/// from the request on, up to the response), and the client did not close first
/// ([`client_closed_at`]). Why [`verdict_with`] decides exactly this for such a request:
/// - [`analyze_back`]: the request is readable (no `RequestNotReadable`) and answered, so no
///   HTTP/2 reset or GOAWAY branch runs; with no close crossing it neither the target's nor
///   the ALB's close branch runs; there is no response error; [`analyze_response`] sees a
///   complete response (neither short, cut, nor still arriving), no gRPC outcome and a status
///   below 500: `ok`, `RelayedNormally`, the target's status relayed and expected, and (no
///   words) no evidence, no candidates, no server text.
/// - Then in [`verdict_with`]: every later rule asks for a category other than `ok` (an
///   undetermined, idle-timeout, deregistration or incomplete-body verdict), a front end
///   missing, a client that closed first, the ALB's own answer (`awselb`), a TLS answer or a
///   skipped header block, so none applies: the status is the client's (not inferred), the
///   target generated it, the request is neither in flight at the end nor of unseen outcome,
///   and its request is not only TLS records (no `Encrypted` request).
/// - The access-log view ([`access_log`], which reads the knowledge only for a path without a
///   back end) of an `ok` request with both legs' exchanges: the target's status relayed, and
///   its processing time from the back-end request's first byte to the end of the target's
///   response headers (never negative).
/// - An `ok` request adds to no back-end error count and shows no idle timeout.
///
/// Debug builds check it against [`Tally::of`] of [`verdict_with`] for every request it takes
/// (so every test that analyses a capture does), release builds trust it.
///
/// [`analyze_back`]: super::back::analyze_back
/// [`analyze_response`]: super::back
/// [`RACE_LOOKBACK`]: super::RACE_LOOKBACK
pub(in crate::diagnose) fn plain_ok_tally(path: &RequestPath, known: &Knowledge) -> Option<Tally> {
    let (f, b) = (path.front.as_deref()?, path.back.as_deref()?);
    if f.burst.is_some() || b.burst.is_some() {
        return None;
    }
    let (fe, be) = (f.exchange.as_ref()?, b.exchange.as_ref()?);
    let (fresp, bresp) = (fe.response.as_ref()?, be.response.as_ref()?);
    let breq = be.request.as_ref()?;
    let plain = fe.request.is_some()
        && fe.headers_skipped.is_none()
        && be.headers_skipped.is_none()
        && be.response_error.is_none()
        && bresp.complete.is_some()
        && !bresp.content_length.is_some_and(|cl| cl > bresp.body_bytes)
        && bresp.status < 500
        && !fresp
            .headers
            .known(Known::Server)
            .is_some_and(|s| s.starts_with("awselb"));
    if !plain {
        return None;
    }
    let (req_t, resp_t) = (breq.first_byte, bresp.first_byte);
    let lookback = crate::capture::Timestamp(req_t.0.saturating_sub(super::RACE_LOOKBACK.0))
        .max(b.conn.opened);
    let crossed = super::events(b).iter().any(|e| {
        super::is_close(e)
            && e.ts <= resp_t
            && match e.dir {
                Dir::ToClient => e.ts >= lookback,
                Dir::ToServer => e.ts >= req_t,
            }
    });
    if crossed || crate::protocol::grpc_outcome(be).is_some() || client_closed_at(f).is_some() {
        return None;
    }
    let tally = Tally {
        time: f.time(),
        category: Category::Ok,
        status: Some(fresp.status),
        generated_by: Some(GeneratedBy::Target),
        status_inferred: false,
        target_status: Some(bresp.status),
        response_time: Some(crate::capture::Duration(
            bresp.headers_done.since(req_t).0.max(0),
        )),
        back_end_error: back_end_error(Category::Ok, Some(GeneratedBy::Target), &[]),
        in_flight_at_end: false,
        outcome_not_visible: false,
        answered_not_visible: false,
        front_http2: false,
        from_tls: false,
        idle_seen: None,
        target: Some(b.conn.key.server),
        reuse: conn_reuse(b),
    };
    debug_assert_eq!(
        tally,
        Tally::of(&verdict_with(path, known, false), path),
        "the ok fast path counted otherwise than the full verdict"
    );
    Some(tally)
}

/// For tests: [`plain_ok_tally`]'s record (when it takes the request) and [`verdict_with`]'s
/// finding, without the words.
#[cfg(test)]
pub(in crate::diagnose) fn both_verdicts(
    path: &RequestPath,
    known: &Knowledge,
) -> (Option<Tally>, Finding) {
    (
        plain_ok_tally(path, known),
        verdict_with(path, known, false),
    )
}

/// [`diagnose_verdict`] with the words (`words`) or without them.
fn verdict_with(path: &RequestPath, known: &Knowledge, words: bool) -> Finding {
    let (idle, _) = known.idle_timeout();
    let ctx = Ctx { known, idle, words };
    let front = path.front.as_deref();
    let back = path.back.as_deref();
    // Counting reads no notes: the pairing's copied for the findings kept.
    let mut notes: Vec<Note> = if words {
        path.notes.iter().cloned().map(Note::Pairing).collect()
    } else {
        Vec::new()
    };

    let back_verdict = back.map(|b| analyze_back(b, &ctx));
    let front_resp = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.response.as_ref());
    // A response that could not be parsed whole may still start with a readable status line.
    let front_partial = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.response_error.as_ref())
        .filter(|e| e.status.is_some());
    let front_status = front_resp
        .map(|r| r.status)
        .or(front_partial.and_then(|p| p.status));
    let partial_server = front_partial.and_then(|p| p.server());
    let front_server = front_resp
        .and_then(|r| r.headers.known(Known::Server))
        .or(partial_server.as_deref());
    let front_is_lb = front_server.is_some_and(|s| s.starts_with("awselb"));
    let client_closed = front.and_then(client_closed_at);

    // Where the back leg's input stopped before the ALB answered the client (files from two
    // machines), the back leg cannot tell what happened after it: the front end's answer is
    // read as where the back end is not captured, after the back leg's own evidence.
    let front_answered = front_resp
        .map(|r| (r.first_byte, r.first_pos))
        .or(front_partial.map(|p| (p.first_byte, p.first_pos)));
    let back_ended_first = match (back, &back_verdict, front_answered) {
        (Some(b), Some(v), Some((t, pos))) => {
            v.category == Category::Undetermined
                && matches!(v.what, Cause::NoResponseInCapture)
                && back_capture_ended_before(b, t, pos.file)
        }
        _ => false,
    };

    let mut evidence: Vec<Evidence> = Vec::new();
    let mut candidates = Vec::new();
    let mut not_visible = false;
    let (mut category, what, mut detail, target_status, expected) = match (back_verdict, front) {
        (Some(v), Some(f)) if back_ended_first => {
            evidence = v.evidence;
            let f = analyze_front_only(f, &ctx, front_status, front_is_lb, false);
            evidence.extend(f.evidence);
            candidates = f.candidates;
            notes.extend(f.notes);
            let seen_idle = (f.category == Category::TargetIdleTimeout)
                .then(|| front.and_then(front_elapsed))
                .flatten();
            let detail = FixFacts {
                idle_s: seen_idle.unwrap_or(idle).as_secs_f64().round(),
                extra: f.extra,
                ..v.detail
            };
            (f.category, f.what, detail, None, None)
        }
        (Some(v), _) => {
            evidence = v.evidence;
            candidates = v.candidates;
            notes.extend(v.tell_apart.map(Note::TellApart));
            (
                v.category,
                v.what,
                v.detail,
                v.target_status,
                v.expected_status,
            )
        }
        (None, Some(f)) => {
            let node_back_seen = !path.notes.contains(&PairingNote::BackEndNotCaptured);
            let v = analyze_front_only(f, &ctx, front_status, front_is_lb, node_back_seen);
            evidence.extend(v.evidence);
            candidates = v.candidates;
            notes.extend(v.notes);
            if words && !node_back_seen {
                let (from, to) = f.span();
                let window = path.node.and_then(|n| known.back_window(n, from, to));
                notes.extend(window.map(Note::BackEndCapture));
            }
            not_visible = v.not_visible;
            let seen_idle = (v.category == Category::TargetIdleTimeout)
                .then(|| front_elapsed(f))
                .flatten();
            let detail = FixFacts {
                idle_s: seen_idle.unwrap_or(idle).as_secs_f64().round(),
                extra: v.extra,
                ..FixFacts::default()
            };
            (v.category, v.what, detail, None, None)
        }
        (None, None) => (
            Category::Undetermined,
            Cause::NothingCaptured,
            FixFacts::default(),
            None,
            None,
        ),
    };
    let mut what = what;
    let mut expected = expected;

    // Seen from the back end alone, the ALB closing the connection before any answer and before
    // the idle timeout is the client going away (460) as much as the deregistration delay
    // running out: only the front end tells them apart.
    if front.is_none() && category == Category::DeregistrationAbort {
        category = Category::Undetermined;
        candidates = vec![Category::ClientClosed, Category::DeregistrationAbort];
        // With the idle timeout not known (AWS default assumed), a close a whole number of
        // seconds after the request may be a shorter idle timeout (1 to 4000 s).
        let elapsed = evidence.iter().find_map(|e| match e {
            Evidence::AlbClosedSilentTarget { elapsed, .. } => Some(elapsed.as_secs_f64()),
            _ => None,
        });
        let whole = elapsed.is_some_and(|e| e >= 0.98 && (e - e.round()).abs() <= 0.05);
        if whole && known.idle_timeout().1 == TimerSource::Default {
            candidates.insert(0, Category::TargetIdleTimeout);
        }
        what = Cause::AlbClosedBeforeAnswer;
        notes.push(Note::TellApart(TellApart::ClientOrAlbClose));
        expected = None;
    }

    // A body (chunked, or short of its Content-Length) the ALB itself cut on the back end (its
    // idle timeout while the target stalled mid-body) looks the same as the ALB closing because
    // the client left: proved only where the front end shows the ALB closing the client's
    // connection first.
    let alb_cut_body = category == Category::IncompleteBody
        && matches!(what, Cause::IncompleteBody { .. })
        && evidence.iter().find_map(|e| match e {
            Evidence::ClosedAfterHeaders { by, .. } => Some(*by == Party::Alb),
            _ => None,
        }) == Some(true);
    // The front end showing the client stopping the answer first (a stream it cancelled, a
    // connection it closed) proves the other reading: the ALB relayed the answer and closed the
    // target's connection because the client had gone. The client got the status.
    let stopped = front
        .filter(|_| alb_cut_body)
        .and_then(client_stopped_answer);
    let cut_unproved = alb_cut_body
        && stopped.is_none()
        && front.map_or(true, |f| front_incomplete_body(f, Vec::new()).is_none());
    if let Some(ev) = stopped {
        category = Category::Ok;
        candidates.clear();
        what = Cause::ClientStoppedAnswer;
        evidence.push(ev);
    }
    if cut_unproved {
        category = Category::Undetermined;
        // the client gone before the headers reached it (460), or stopping the answer after
        // them (a cancelled HTTP/2 stream, an abandoned download: the 200 relayed, `ok`)
        candidates = vec![
            Category::IncompleteBody,
            Category::ClientClosed,
            Category::Ok,
        ];
        notes.push(Note::TellApart(TellApart::CutOrClientLeft));
    }

    // Seen from the back end alone, the ALB giving up at the idle timeout is also what a
    // request looks like whose client left earlier: a proxy may keep waiting for the target
    // after its client has gone (HAProxy does, until its server timeout), and the back end
    // carries nothing of the client. Whether the timer was given or read from the capture,
    // the close at it proves the timer, not that the client was still waiting.
    if front.is_none() && category == Category::TargetIdleTimeout {
        category = Category::Undetermined;
        candidates = vec![Category::TargetIdleTimeout, Category::ClientClosed];
        what = Cause::AlbClosedAtIdleTimeout { idle };
        notes.push(Note::TellApart(TellApart::IdleOrClientClosed));
        expected = None;
    }

    // Seen from the back end alone, a connect that failed before any request was sent is also
    // what a failed health check looks like: the node checks each target from the same
    // address, and a failing target fails its checks the same way. Held connects on a
    // health-check cadence were taken for checks before this (`Knowledge::health_check_by_
    // cadence`). Where the capture shows that node's checks of the target on a cadence, one
    // off it is a client's attempt; where it shows none (too few in the capture), only the
    // front end proves a client's attempt. (An attempt attributed to an encrypted HTTP/2 client connection open
    // at the time keeps its category: that front end is in the capture.)
    // Where the capture covers the longest health-check interval on both sides and shows no
    // other connection of that node to the target that could be a check, it is none either.
    let front_not_captured = path.notes.contains(&PairingNote::FrontEndNotCaptured);
    let lone_attempt = back.filter(|b| {
        front.is_none() && front_not_captured && bare_attempt(b) && failed_connect(&what)
    });
    if let Some(b) = lone_attempt {
        if known.may_be_unseen_health_check(b) {
            candidates = vec![category];
            category = Category::Undetermined;
            what = Cause::AttemptOrHealthCheck(Box::new(what));
            notes.push(Note::TellApart(TellApart::HealthCheckOrRequest));
            expected = None;
        } else if let Some(NotACheck::NoneNearby { window }) = known.not_a_health_check(b) {
            evidence.push(Evidence::NoHealthCheckNearby { window });
        }
    }

    // The client closing first overrides what the back end shows: the ALB never answered.
    let mut front_status = front_status;
    if let Some(ev) = client_closed {
        category = Category::ClientClosed;
        candidates.clear();
        what = Cause::ClientClosedFirst;
        evidence.insert(0, ev);
        front_status = None;
    } else if let Some(gap) = front.and_then(client_close_unproved) {
        // The client closed before any answer the capture shows, but bytes are missing before
        // its close: the answer may be in them, so neither reading is proved.
        if category != Category::Undetermined {
            candidates = vec![Category::ClientClosed, category];
            category = Category::Undetermined;
            what = Cause::BytesNotCaptured;
            expected = None;
        }
        evidence.push(gap);
    }

    // The only server record after the request may be a TLS 1.3 session ticket (the back-end
    // verdict took it for none) or a whole answer, and no status the client got is readable:
    // undetermined between the back end's reading and an answer relayed. (Not a client that
    // closed first: that holds whatever the target sent.)
    let ticket = back
        .filter(|_| front_status.is_none())
        .filter(|_| !matches!(category, Category::Undetermined | Category::ClientClosed))
        .and_then(super::tls_close::ticket_or_answer);
    if let Some(t) = ticket {
        candidates = vec![category, Category::Ok, Category::TargetGeneratedError];
        category = Category::Undetermined;
        what = Cause::TicketOrAnswer;
        expected = None;
        evidence.push(Evidence::TicketOrAnswer {
            bytes: t.data_bytes(),
            at: super::at(t.first, t.first_pos),
        });
        notes.push(Note::TellApart(TellApart::TicketOrAnswer));
    }

    // The status the client got: what the front end shows, else inferred from the back end.
    let (status, status_inferred) = match (front_status, front, category) {
        (Some(s), _, _) => (Some(s), false),
        (None, _, Category::ClientClosed) => (None, false),
        // The client's answer is not in the capture although the client did not leave: what
        // the back end shows is what it got.
        (None, Some(f), _) if f.exchange.is_some() && !front_answer_missing(f) => (None, false),
        (None, _, _) => (expected, expected.is_some()),
    };

    // The target answered normally but the client got the ALB's own error: the capture does
    // not show why (say so rather than call it ok).
    if category == Category::Ok && front_is_lb && front_status.is_some_and(|s| s >= 500) {
        category = Category::Undetermined;
        what = Cause::AlbErrorAfterTargetAnswer { target_status };
        evidence.push(Evidence::AlbReplacedResponse);
    }

    // The target answered over TLS (its status not visible on the back end) and the client got
    // a 5xx that is not the ALB's own: the target's error, relayed (an HTTPS target group's
    // 503, seen in the clear on the front end).
    if category == Category::Ok
        && what == Cause::TlsAnswer
        && !front_is_lb
        && front_status.is_some_and(|s| s >= 500)
    {
        category = Category::TargetGeneratedError;
        what = Cause::TargetOwnError {
            server: front_server.map(str::to_string),
        };
    }

    // The target answered over TLS (its bytes not readable) and the front end shows the ALB
    // cutting that answer's body (headers and part of the body, then the ALB's close): the
    // client got a cut body, whatever the encrypted answer held (an HTTP/2 stream ended short
    // of its content-length, a target that stalled).
    let mut tls_answer_cut = false;
    if category == Category::Ok && what == Cause::TlsAnswer {
        if let Some(v) = front.and_then(|f| front_incomplete_body(f, Vec::new())) {
            tls_answer_cut = true;
            category = v.category;
            what = v.what;
            evidence.extend(v.evidence);
            if v.extra.is_some() {
                detail.extra = v.extra;
            }
        } else if let Some(v) = front.and_then(|f| front_body_still_arriving(f, Vec::new())) {
            // the relayed body still arriving on the front end when the capture ended: in
            // flight, not proven whole
            category = v.category;
            what = v.what;
            evidence.extend(v.evidence);
        }
    }

    // The target answered over TLS and no status the client got is readable (the front end
    // not captured, encrypted too, or its answer missing): the answer is seen but its status
    // is not, so it is not proved ok. Counted apart (answered, status not visible), never as
    // ok nor as failed; the front end, or the TLS keys, would show the status.
    let mut answered_not_visible =
        category == Category::Ok && what == Cause::TlsAnswer && front_status.is_none();
    // Unless the target closed soon after that answer, neither with it nor at a keep-alive
    // timer (`tls_close`): then the answer may have been cut, and the request is undetermined
    // between a cut body (the head went out) and a close before a whole head (the ALB's 502).
    let cut = back
        .filter(|_| answered_not_visible)
        .and_then(super::tls_close::close_after_answer);
    if let Some(c) = cut {
        answered_not_visible = false;
        category = Category::Undetermined;
        what = Cause::TlsAnswerThenClose;
        candidates = vec![
            Category::IncompleteBody,
            Category::TargetClosedBeforeResponse,
        ];
        evidence.push(Evidence::TargetClosedAfterTlsAnswer {
            close: c.close,
            at: c.at,
            after: c.after,
        });
        notes.push(Note::TellApart(TellApart::AnswerCutOrWhole));
    } else if answered_not_visible {
        category = Category::Undetermined;
        what = Cause::AnsweredStatusNotVisible;
        not_visible = true;
    }

    // A header block skipped for the buffer memory limit was in the capture but not read: no
    // category can be proved from what was read.
    let skipped = [(front, LegKind::Front), (back, LegKind::Back)]
        .into_iter()
        .find_map(|(leg, kind)| Some((leg?.exchange.as_ref()?.headers_skipped?, kind)));
    if let Some((dir, leg)) = skipped {
        category = Category::Undetermined;
        what = Cause::HeadersSkipped;
        evidence.push(Evidence::HeadersSkipped {
            response: dir == Dir::ToClient,
            leg,
        });
    }

    // Idle timeout vs deregistration: the ALB's own answer decides when it was captured.
    if let Some(s) = front_status {
        if category == Category::DeregistrationAbort && s == 504 {
            category = Category::TargetIdleTimeout;
            // The ALB's own close shows the idle timeout in force: unless the user gave it,
            // the headline, the evidence and the fix all quote that one.
            let seen = evidence.iter().find_map(|e| match e {
                Evidence::AlbClosedSilentTarget { elapsed, .. } => Some(*elapsed),
                _ => None,
            });
            let idle = match seen {
                Some(elapsed) if known.idle_timeout().1 != TimerSource::Config => {
                    let idle = whole_secs(elapsed);
                    for e in evidence.iter_mut() {
                        if matches!(e, Evidence::ShorterThanIdleTimeout { .. }) {
                            *e = Evidence::MatchesIdleTimeout { elapsed, idle };
                        }
                    }
                    detail.idle_s = idle.as_secs_f64();
                    detail.extra = None;
                    idle
                }
                _ => idle,
            };
            what = Cause::IdleTimeoutByStatus { idle };
        } else if category == Category::TargetIdleTimeout && s == 502 {
            category = Category::DeregistrationAbort;
            what = Cause::DeregistrationAbort;
        }
    }
    let expected = match category {
        Category::TargetIdleTimeout => Some(504),
        Category::DeregistrationAbort => Some(502),
        _ => expected,
    };
    // Several client requests matched this back-end leg and the one it was paired with got
    // an answer this category does not give (a 200 beside a refused connect): another
    // pairing may be the true one, so no category is proved; the one this pairing gives is
    // the candidate.
    let ambiguous = path
        .notes
        .iter()
        .any(|n| matches!(n, PairingNote::Ambiguous { .. }));
    let contradicted = matches!((front_status, expected), (Some(s), Some(e)) if s != e);
    if ambiguous
        && contradicted
        && back.is_some()
        && !matches!(
            category,
            Category::Ok
                | Category::TargetGeneratedError
                | Category::Undetermined
                | Category::ClientClosed
        )
    {
        candidates = vec![category];
        category = Category::Undetermined;
        what = Cause::PairingContradicted(Box::new(what));
    }
    if let (Some(s), Some(e)) = (front_status, expected) {
        if s != e && category != Category::Ok && category != Category::TargetGeneratedError {
            notes.push(Note::UnusualStatus { got: s, usual: e });
        }
    }

    let (status, status_inferred) = if category == Category::IncompleteBody {
        if let Some(s) = front_status.or(expected) {
            evidence.push(Evidence::ClientGotPartialBody { status: s });
        }
        (None, false)
    } else {
        (status, status_inferred)
    };
    let generated_by = match category {
        Category::IncompleteBody => Some(GeneratedBy::Lb),
        Category::ClientClosed => None,
        Category::Ok | Category::TargetGeneratedError => {
            if front_is_lb {
                Some(GeneratedBy::Lb)
            } else if status.is_some() || target_status.is_some() {
                Some(GeneratedBy::Target)
            } else {
                None
            }
        }
        Category::Undetermined => match (status, front_is_lb) {
            (Some(_), true) => Some(GeneratedBy::Lb),
            // the target's headers went out before the body was cut
            (Some(_), false) if cut_unproved => Some(GeneratedBy::Target),
            // Every candidate is the ALB's own answer with this status, and no front-end
            // Server header says otherwise: the ALB generated it, whichever candidate it is.
            (Some(s), false) if front_server.is_none() => Category::common_answer(&candidates)
                .filter(|&(_, common)| common == s)
                .map(|(by, _)| by),
            _ => None,
        },
        _ => status.map(|_| GeneratedBy::Lb),
    };

    let trace_id = words
        .then(|| {
            back.and_then(|b| b.request_known(Known::XAmznTraceId))
                .or_else(|| front.and_then(|f| f.request_known(Known::XAmznTraceId)))
        })
        .flatten()
        .map(crate::diagnose::Text::from);
    detail.trace_id = trace_id.as_deref().map(str::to_string);
    if words && detail.server.is_none() {
        detail.server = back
            .and_then(|b| b.response_known(Known::Server))
            .or(if front_is_lb { None } else { front_server })
            .map(str::to_string);
    }
    // No answer and no close on any captured leg when the capture ended: in flight, not failed.
    let in_flight_at_end = category == Category::Undetermined
        && matches!(what, Cause::NoResponseInCapture | Cause::NoAnswerCaptured)
        && [front, back]
            .into_iter()
            .flatten()
            .all(|l| l.record.as_ref().is_some_and(open_at_end));
    if in_flight_at_end {
        what = Cause::InFlightAtEnd;
    }
    // Encrypted front end alone, and nothing above proved or suggested an outcome.
    let outcome_not_visible = not_visible
        && !in_flight_at_end
        && category == Category::Undetermined
        && matches!(
            what,
            Cause::OutcomeNotVisible | Cause::AnsweredStatusNotVisible
        );
    let front_http2 = back.is_none()
        && front.is_some_and(|f| {
            f.burst.is_some() && f.record.as_deref().is_some_and(crate::alb::front_http2)
        });
    // An encrypted (TLS) answer from the target that the ALB relayed: the status the client
    // got is the target's (the ALB relays it unchanged).
    let target_status = match (target_status, &what, status, front_is_lb) {
        (None, Cause::TlsAnswer, Some(s), false) if !status_inferred => Some(s),
        // the relayed headers of an encrypted answer the ALB then cut: the target's status
        (None, _, _, false) if tls_answer_cut => front_status,
        _ => target_status,
    };
    let access_log = access_log(
        path,
        &ctx,
        (category, answered_not_visible, cut.is_some()),
        status,
        target_status,
        &trace_id,
    );
    let req = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.request.as_ref())
        .or(back
            .and_then(|b| b.exchange.as_ref())
            .and_then(|e| e.request.as_ref()));
    let first = front.or(back);
    let start = first.map(|l| l.time()).unwrap_or_default();
    let fix = if words {
        // The target's name for the fix line, written only for the findings kept.
        detail.target = back.map(|b| b.conn.key.server.to_string());
        // A failed connect that may be a health check fails the same way either way: its
        // one candidate's fix holds.
        let fixed = match (&what, candidates.as_slice()) {
            (Cause::AttemptOrHealthCheck(_), [only]) => *only,
            _ => category,
        };
        fix_text(fixed, &detail).map(Into::into)
    } else {
        None
    };
    let request_seen = match req {
        // The request line is text: written only for findings kept in full (the summary
        // counts encrypted and absent requests of every finding, so those stay typed).
        Some(_) if !words => RequestSeen::NotReadable,
        Some(r) => RequestSeen::Http {
            method: r.method().into(),
            target: r.target().into(),
            host: r.headers.known(Known::Host).map(Into::into),
        },
        None if front.or(back).is_some_and(|l| l.burst.is_some()) => RequestSeen::Encrypted {
            bytes: front
                .or(back)
                .and_then(|l| l.burst.as_ref())
                .map_or(0, |b| b.request.bytes),
        },
        None if back.is_some_and(|b| b.exchange.is_none() && b.burst.is_none()) => {
            RequestSeen::NoneSent
        }
        None => RequestSeen::NotReadable,
    };
    let id = match (front, back) {
        (Some(f), _) => RequestId {
            leg: Some(LegKind::Front),
            conn: f.conn.id.0,
            index: f.index(),
        },
        (None, Some(b)) => RequestId {
            leg: Some(LegKind::Back),
            conn: b.conn.id.0,
            index: b.index(),
        },
        (None, None) => RequestId {
            leg: None,
            conn: 0,
            index: 0,
        },
    };
    // Seen only from the back end: the node and the listener port it names in
    // X-Forwarded-Port, the client from the last X-Forwarded-For entry.
    let http2 = path.notes.iter().find_map(|n| match n {
        PairingNote::Http2Stream { client, alb, .. } => Some((*client, *alb)),
        _ => None,
    });
    let http2_client = http2.map(|(c, _)| c);
    let alb = front
        .map(|f| AlbAddr::Endpoint(f.conn.key.server))
        .or(http2.map(|(_, alb)| AlbAddr::Endpoint(alb)))
        .or_else(|| {
            let b = back?;
            let node = path.node.unwrap_or(b.conn.key.client.ip);
            match b
                .request_known(Known::XForwardedPort)
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                Some(port) => Some(AlbAddr::Endpoint(crate::flow::Endpoint { ip: node, port })),
                None => Some(AlbAddr::Node(node)),
            }
        });
    let client_ip = front.map(|f| f.conn.key.client.ip).or_else(|| {
        back.and_then(|b| b.request_known(Known::XForwardedFor))
            .and_then(|x| x.rsplit(',').next())
            .and_then(|c| c.trim().parse().ok())
    });
    // Read only from the findings kept (the verdict and the counts never read it).
    let grpc = if words {
        grpc_seen(front, back, status, generated_by)
    } else {
        None
    };
    // The client's answer was its stream reset by the ALB, not a status.
    let client_stream_reset = front
        .filter(|_| status.is_none())
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.h2.as_ref())
        .and_then(|h| h.reset)
        .filter(|r| r.dir == Dir::ToClient)
        .map(|r| ClientStreamReset {
            code: r.code.0,
            target_received: match back {
                Some(b) => Some(target_received(b)),
                None if !path.notes.contains(&PairingNote::BackEndNotCaptured) => Some(false),
                None => None,
            },
        });
    Finding {
        id,
        time: start,
        // A stream of an HTTP/2 front-end connection: that connection's client.
        client: front.map(|f| f.conn.key.client).or(http2_client),
        client_ip,
        alb,
        target: back.map(|b| b.conn.key.server),
        back_alb: back.map(|b| b.conn.key.client),
        method: req.filter(|_| words).map(|r| r.method().into()),
        path: req.filter(|_| words).map(|r| r.target().into()),
        host: req
            .filter(|_| words)
            .and_then(|r| r.headers.known(Known::Host))
            .map(Into::into),
        request: request_seen,
        status,
        status_inferred,
        front_encrypted: front
            .is_some_and(|f| f.burst.is_some() || (f.conn.tls && !f.conn.decrypted))
            || http2_client.is_some(),
        decrypted: DecryptedLegs {
            front: front.is_some_and(|f| f.conn.decrypted),
            back: back.is_some_and(|b| b.conn.decrypted),
        },
        generated_by,
        category,
        in_flight_at_end,
        outcome_not_visible,
        front_http2,
        candidates,
        cause: what,
        trace_id,
        access_log,
        timeline: Vec::new(),
        evidence,
        fix,
        notes,
        pairing: path.pairing,
        logged: None,
        target_server: detail.server.as_deref().map(Into::into),
        grpc,
        client_stream_reset,
    }
}

/// True when back-end leg `b` sent its request and the target did not refuse it unprocessed
/// (a `GOAWAY` below its stream, or its own `REFUSED_STREAM`).
/// True when a back-end leg carried no request: a bare connection attempt.
fn bare_attempt(b: &crate::alb::Leg) -> bool {
    b.exchange.is_none() && b.burst.is_none()
}

/// True when a cause is a connect or TLS handshake that failed before any request could be
/// sent (what a failed health check shows too).
fn failed_connect(what: &Cause) -> bool {
    matches!(
        what,
        Cause::Refused
            | Cause::Unreachable { .. }
            | Cause::ConnectTimeout { .. }
            | Cause::ReturnPathBlocked
            | Cause::TlsFailed { .. }
            | Cause::TlsTimeout
            | Cause::ClosedNewConnection
    )
}

fn target_received(b: &crate::alb::Leg) -> bool {
    let Some(ex) = b.exchange.as_ref().filter(|e| e.request.is_some()) else {
        return false;
    };
    let Some(h2) = ex.h2.as_ref() else {
        return true;
    };
    let goaway = h2.refused_by.is_some_and(|g| g.dir == Dir::ToClient);
    let refused = h2
        .reset
        .is_some_and(|r| r.dir == Dir::ToClient && r.code == H2ErrorCode::REFUSED_STREAM);
    !(goaway || refused)
}

/// The gRPC status the client sees: from the front end's answer when captured; else, for the
/// ALB's own HTTP error to a gRPC request, the status clients derive from it; else the target's.
fn grpc_seen(
    front: Option<&crate::alb::Leg>,
    back: Option<&crate::alb::Leg>,
    status: Option<u16>,
    generated_by: Option<GeneratedBy>,
) -> Option<crate::protocol::GrpcOutcome> {
    use crate::protocol::{grpc_outcome, grpc_status_for_http, GrpcOutcome};
    let front_ex = front.and_then(|f| f.exchange.as_deref());
    if let Some(g) = front_ex.and_then(grpc_outcome) {
        return Some(g);
    }
    let back_ex = back.and_then(|b| b.exchange.as_deref());
    let is_grpc = [front_ex, back_ex].into_iter().flatten().any(|e| {
        e.request
            .as_ref()
            .and_then(|r| r.headers.known(Known::ContentType))
            .is_some_and(|c| {
                c.trim()
                    .as_bytes()
                    .get(..16)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
            })
    });
    match (status, generated_by) {
        (Some(s), Some(GeneratedBy::Lb)) if is_grpc => Some(GrpcOutcome {
            status: Some(grpc_status_for_http(s)),
            message: None,
            from_http: Some(s),
        }),
        _ => back_ex.and_then(grpc_outcome),
    }
}

/// True when back leg `b` was captured in another input than the front end's answer (at `t`,
/// in input `front_file`), its connection open at the end with nothing closing it and its last
/// packet before `t`: that input had stopped (or lost the rest) before the ALB answered, as
/// the ALB closes or reuses a back-end connection it gave up on, never leaves it silent.
fn back_capture_ended_before(
    b: &crate::alb::Leg,
    t: crate::capture::Timestamp,
    front_file: u16,
) -> bool {
    b.conn.opened_pos.file != front_file
        && b.record
            .as_ref()
            .is_some_and(|r| open_at_end(r) && r.tcp.end < t)
}

/// The capture ended with this connection open and nothing closing it (no FIN, no RST).
fn open_at_end(rec: &std::sync::Arc<crate::alb::ClosedConn>) -> bool {
    rec.tcp.close_reason == crate::flow::CloseReason::EndOfCapture
        && !rec.tcp.events.iter().any(|e| e.kind.is_close())
}
