//! The headline of a finding (its cause, status and category) and its notes.

use super::secs;
use crate::alb::{CaptureWindow, Http2Evidence, PairingBasis, PairingNote};
use crate::diagnose::{Cause, Finding, Note, TellApart};
use crate::taxonomy::{Category, GeneratedBy};

/// What happened, as the headline's clause.
pub fn cause(c: &Cause) -> String {
    let server = |s: &Option<String>| {
        s.as_ref()
            .map(|s| format!(" (Server: {s})"))
            .unwrap_or_default()
    };
    match c {
        Cause::ClientClosedFirst => {
            "the client closed its connection before the ALB answered".into()
        }
        Cause::NothingCaptured => "nothing captured".into(),
        Cause::HeadersSkipped => {
            "a header block was not read (memory limit): the capture cannot be judged".into()
        }
        Cause::AlbErrorAfterTargetAnswer { target_status } => format!(
            "the target answered {} but the ALB sent its own error",
            target_status.map_or("?".to_string(), |s| s.to_string())
        ),
        Cause::IdleTimeoutByStatus { idle } => format!(
            "the target did not answer before the ALB idle timeout ({})",
            secs(*idle)
        ),
        Cause::IdleTimeout { idle } => format!(
            "the target did not answer within the ALB idle timeout ({})",
            secs(*idle)
        ),
        Cause::DeregistrationAbort => "the ALB aborted the request while the target was still \
                                       working (deregistration delay ran out)"
            .into(),
        Cause::AnsweredNormally => "answered normally".into(),
        Cause::ClientStoppedAnswer => "relayed; the client stopped the answer while its body was \
                                       still arriving (the client's doing, not an error)"
            .into(),
        Cause::TargetOwnError { server: s } => {
            format!("the target's own error, relayed by the ALB{}", server(s))
        }
        Cause::NoTargetAttempt => "the ALB answered without any back-end attempt (no healthy \
                                   target, or a listener rule's fixed response)"
            .into(),
        Cause::AlbErrorBackEndNotCaptured => {
            "the ALB's error; capture the back end (target ENIs) to see why".into()
        }
        Cause::EncryptedAnswerUnmatched => {
            "an encrypted answer without a matching back-end request".into()
        }
        Cause::NoAnswerCaptured => "no answer to the client in the capture".into(),
        Cause::OutcomeNotVisible => "outcome not visible: the answer is encrypted and the back \
                                     end is not in the capture (neither ok nor failed)"
            .into(),
        Cause::AnsweredStatusNotVisible => "answered, status not visible: the target's answer \
                                            is encrypted and the front end is not in the capture \
                                            (neither ok nor failed)"
            .into(),
        Cause::TicketOrAnswer => "the target's only record after the request may be a TLS \
                                  1.3 session ticket (then it never answered) or a small \
                                  encrypted answer; its size cannot tell"
            .into(),
        Cause::TlsAnswerThenClose => "the target closed its connection soon after its \
                                       encrypted answer, neither with the answer nor at a \
                                       keep-alive timer: the answer may have been cut"
            .into(),
        Cause::EncryptedMaybeAlbError => "an encrypted answer that may be the ALB's own error; \
                                          the front end alone cannot tell"
            .into(),
        Cause::InFlightAtEnd => {
            "still in flight when the capture ended (no complete answer and no close yet): not a \
             failure"
                .into()
        }
        Cause::NoServerHeader { status } => format!(
            "a {status} without a Server header; the front end alone cannot prove who generated it"
        ),
        Cause::FrontEndCannotTell { status } => format!(
            "the ALB's own {status}; the front end alone cannot tell which back-end failure"
        ),
        Cause::AlbResetStream { code } => format!(
            "the ALB ended the HTTP/2 stream with RST_STREAM {} instead of a status; the front \
             end alone cannot tell which back-end failure",
            super::h2_code(code.0)
        ),
        Cause::InferredNoHealthyTarget => "the ALB had no healthy target (503)".into(),
        Cause::KeepaliveRace => "keep-alive race: the target closed the idle reused connection \
                                 just as the ALB sent the request on it"
            .into(),
        Cause::StreamReset { code } => format!(
            "the target reset the HTTP/2 stream (RST_STREAM {}) before answering",
            super::h2_code(code.0)
        ),
        Cause::GoawayRace => "HTTP/2 keep-alive race: the target's GOAWAY refused the stream the \
                              ALB had just opened on the reused connection"
            .into(),
        Cause::ClosedAtRequestIdleUnseen { reset } => format!(
            "the target {} the connection as the request arrived; the capture does not show \
             how long the connection was idle before, so a keep-alive race cannot be told from \
             a close before answering",
            if *reset { "reset" } else { "closed" }
        ),
        Cause::ClosedNearRequestUnordered { reset } => format!(
            "the target {} the kept-alive connection just after the request, after an idle gap \
             that matches its keep-alive timeout; the capture cannot order the close and the \
             request's arrival, so a keep-alive race cannot be told from a close before \
             answering",
            if *reset { "reset" } else { "closed" }
        ),
        Cause::ResetAtRequestTimerUnknown { idle } => format!(
            "the target reset the kept-alive connection as the request arrived, after {} idle, \
             without closing it before (no FIN); its keep-alive timeout is not known, so an idle \
             connection closed abortively as the request crossed it (a keep-alive race) cannot \
             be told from the target resetting the request (a reject, or a process gone)",
            secs(*idle)
        ),
        Cause::ClosedAtRequestTimerUnknown { idle } => format!(
            "the target closed the kept-alive connection as the request arrived, after {} \
             idle; its keep-alive timeout is not known, so an idle close crossing the request \
             (a keep-alive race) cannot be told from the target closing at the request it had \
             read (a handler that failed, a connection closed by the application)",
            secs(*idle)
        ),
        Cause::ResetThenRefused { idle } => format!(
            "the target reset the kept-alive connection as the request arrived, {}, \
             without closing it before (no FIN), and refused the connections opened to it after \
             (SYN answered by RST): it had stopped accepting (a reject, or a process gone), \
             so it reset the request rather than an idle close crossing it (inferred)",
            idle.map_or_else(
                || "its idle time not in the capture".to_string(),
                |i| format!("after {} idle", secs(i))
            )
        ),
        Cause::ClosedAtRequestOffTimer {
            reset,
            idle,
            shortest,
            median,
        } => format!(
            "the target {} the kept-alive connection as the request arrived, after {} idle: \
             not at its usual keep-alive close ({} idle, the median of its own idle closes) \
             but no shorter than its shortest one ({}), so its timer had run out; a server that \
             checks idle connections on a periodic sweep (the JDK's HttpServer every 10 s, for \
             one) closes anywhere after its timeout, so a keep-alive race cannot be told from \
             a close before answering",
            if *reset { "reset" } else { "closed" },
            secs(*idle),
            secs(*median),
            secs(*shortest)
        ),
        Cause::TargetClosedBeforeAnswer { reset } => format!(
            "the target {} the connection before answering",
            if *reset { "reset" } else { "closed" }
        ),
        Cause::TargetSentUnreadable => "the target answered bytes that do not read as an \
                                        answer to the request, then closed the connection"
            .into(),
        Cause::NotHttp => "the target's response is not valid HTTP".into(),
        Cause::HeadersTooLarge => "the target's response headers exceed 32 KB".into(),
        Cause::RelayedNormally => "relayed normally".into(),
        Cause::ResponseNotCaptured => "the response is not fully in the capture".into(),
        Cause::BytesNotCaptured => "bytes of the connection are missing from the capture \
                                    (mirror or capture loss): what they held decides the \
                                    outcome"
            .into(),
        Cause::TlsAnswer => "the target answered (TLS: status not visible)".into(),
        Cause::NoResponseInCapture => "the request got no response within the capture".into(),
        Cause::AlbClosedBeforeAnswer => "the ALB closed the back-end connection before any \
                                         answer and before the idle timeout in force: the \
                                         client went away, or the deregistration delay ran out"
            .into(),
        Cause::AlbClosedAtIdleTimeout { idle } => format!(
            "the ALB closed the back-end connection at the idle timeout ({}) before any \
             answer: the target too slow (504), or a client that had already left (460) while \
             the ALB waited",
            secs(*idle)
        ),
        Cause::IncompleteBody {
            body,
            declared: Some(declared),
        } => format!(
            "the target's response body stopped short of its Content-Length ({body} of \
             {declared} bytes)"
        ),
        Cause::IncompleteBody {
            body,
            declared: None,
        } => format!(
            "the target's chunked response body was cut off before its last chunk ({body} \
             bytes)"
        ),
        Cause::Unreachable { icmp } => format!(
            "the target was unreachable: ICMP {} (type {} code {})",
            icmp.description, icmp.icmp_type, icmp.code
        ),
        Cause::Refused => "the target refused the connection (SYN answered by RST)".into(),
        Cause::ConnectTimeout { timeout } => format!(
            "the ALB could not connect to the target within {}",
            secs(*timeout)
        ),
        Cause::ReturnPathBlocked => "the ALB could not complete the connection: the target's \
                                     SYN-ACKs do not get back to it"
            .into(),
        Cause::TlsFailed { alert } => format!(
            "the TLS handshake with the target failed{}",
            alert
                .as_ref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        ),
        Cause::TlsTimeout => {
            "the TLS handshake with the target did not complete within 10 s".into()
        }
        Cause::ClosedNewConnection => {
            "the target closed the new connection before the request could be sent".into()
        }
        Cause::NoRequestOnConnection => "the back-end connection carried no request".into(),
        Cause::PairingContradicted(inner) => format!(
            "{}, if the legs are paired right: several client requests match this back-end \
             leg, and the answer this client got is not what it gives",
            cause(inner)
        ),
        Cause::AttemptOrHealthCheck(inner) => format!(
            "{}: a client request's attempt, or a failed health check (the back end alone \
             cannot tell)",
            cause(inner)
        ),
    }
}

/// One sentence for a human: `502 from the ALB: the target refused ... (category)`.
pub fn headline(f: &Finding) -> String {
    let who = match f.generated_by {
        Some(GeneratedBy::Lb) => " from the ALB",
        Some(GeneratedBy::Target) => " from the target",
        None => "",
    };
    let what = cause(&f.cause);
    let mut cat = String::from(f.category.name());
    if !f.candidates.is_empty() {
        cat.push_str(": may be ");
        for (i, c) in f.candidates.iter().enumerate() {
            if i > 0 {
                cat.push_str(", ");
            }
            cat.push_str(c.name());
        }
    }
    match f.status {
        Some(s) => {
            let inf = if f.status_inferred { " (inferred)" } else { "" };
            // `{s}{inf}{who}: {what} ({cat})`, without the formatting machinery.
            let mut out = String::with_capacity(8 + inf.len() + who.len() + what.len() + cat.len());
            super::push_u64(&mut out, u64::from(s));
            out.push_str(inf);
            out.push_str(who);
            out.push_str(": ");
            out.push_str(&what);
            out.push_str(" (");
            out.push_str(&cat);
            out.push(')');
            out
        }
        None if f.outcome_not_visible => what,
        None if f.category == Category::ClientClosed => {
            format!("no response (ALB logs 460): {what} ({cat})")
        }
        None if f.category == Category::IncompleteBody => {
            format!("response cut off{who}: {what} ({cat})")
        }
        None => format!("no status seen: {what} ({cat})"),
    }
}

/// A note from pairing the legs.
pub fn pairing_note(n: &PairingNote) -> String {
    match n {
        PairingNote::Ambiguous {
            count,
            at_least,
            by,
            candidates,
        } => {
            use std::fmt::Write;
            let how = match by {
                PairingBasis::Headers => "method, path, Host and X-Forwarded-For",
                PairingBasis::TimeOrder => "time order",
            };
            // Written in one string (no string per candidate): a kept finding may have one.
            let mut s = String::with_capacity(128 + 56 * candidates.len());
            s.push_str("ambiguous pairing: ");
            if *at_least {
                s.push_str("at least ");
            }
            super::push_u64(&mut s, *count as u64);
            s.push_str(" front-end requests match by ");
            s.push_str(how);
            s.push_str(" (");
            for (i, (c, t)) in candidates.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                // Writing to a `String` cannot fail.
                let _ = write!(s, "{c}");
                s.push_str(" at ");
                t.push_rfc3339(&mut s);
            }
            s.push_str("); paired with the first");
            s
        }
        PairingNote::NoBackEndAttempt => {
            "no back-end attempt for this request was found in the capture".into()
        }
        PairingNote::BackEndNotCaptured => "the back end is not in the capture".into(),
        PairingNote::NoFrontEndMatch => {
            "no front-end request matched (method, path, Host, X-Forwarded-For, time)".into()
        }
        PairingNote::FrontEndNotCaptured => {
            "the front end is not in the capture; what the client got is inferred".into()
        }
        PairingNote::Http2Stream {
            client, evidence, ..
        } => {
            let how = match evidence {
                Http2Evidence::Selected => "its ServerHello selected h2",
                Http2Evidence::OnlyOffered => "its ClientHello offered h2 only",
                Http2Evidence::Concurrent => {
                    "its ClientHello offered h2 and the back end shows its requests in flight \
                     at once"
                }
                Http2Evidence::SettingsAck => {
                    "its ClientHello offered h2, and its TLS 1.3 records have HTTP/2's sizes: a \
                     first record with room for the connection preface, then a 9-byte one (a \
                     SETTINGS acknowledgement) where no HTTP/1 message fits"
                }
            };
            format!(
                "one stream of the HTTP/2 connection from client {client} ({how}); its streams \
                 are encrypted, so this request is the back end's (its last X-Forwarded-For \
                 entry and X-Forwarded-Port name that connection, open at the time) and what \
                 the client got is inferred"
            )
        }
    }
}

/// A finding's note as a sentence.
pub fn note(n: &Note) -> String {
    match n {
        Note::Pairing(p) => pairing_note(p),
        Note::UnusualStatus { got, usual } => {
            format!("the client got {got} where this category usually gives {usual}")
        }
        Note::TellApart(t) => tell_apart(*t).into(),
        Note::BackEndCapture(w) => format!(
            "the back end is not in the capture at this time: {}",
            back_capture(*w)
        ),
    }
}

/// Where the back-end capture stood against a request it missed.
fn back_capture(w: CaptureWindow) -> String {
    match w {
        CaptureWindow::StartedAfter(t) => format!(
            "the target-side capture started at {}, after this request arrived",
            t.to_rfc3339()
        ),
        CaptureWindow::EndedBefore(t) => format!(
            "the target-side capture ended at {}, before the ALB answered",
            t.to_rfc3339()
        ),
        CaptureWindow::Gap { from, to } => format!(
            "the target-side capture has no packet from {} to {} (a rotated file missing, or \
             the recording paused)",
            from.to_rfc3339(),
            to.to_rfc3339()
        ),
    }
}

/// What [`tell_apart`] asks for where the back end is not in the capture at all.
const CAPTURE_TARGETS: &str = "capture the targets' ENIs (back end)";

/// A finding's notes as sentences, in order. Where the node's back end is in the capture at
/// other times ([`Note::BackEndCapture`]), that says why the back end is missing (not "the back
/// end is not in the capture") and what to capture asks for a longer (earlier, gapless)
/// target-side capture rather than the targets' ENIs.
pub fn notes(list: &[Note]) -> Vec<String> {
    let window = list.iter().find_map(|n| match n {
        Note::BackEndCapture(w) => Some(*w),
        _ => None,
    });
    list.iter()
        .filter(|n| window.is_none() || !matches!(n, Note::BackEndCapture(_)))
        .map(|n| match (n, window) {
            // Said where the pairing says the back end is missing.
            (Note::Pairing(PairingNote::BackEndNotCaptured), Some(w)) => {
                note(&Note::BackEndCapture(w))
            }
            (Note::TellApart(t), Some(w)) => {
                let instead = match w {
                    CaptureWindow::StartedAfter(at) => format!(
                        "start the target-side capture earlier (it started at {})",
                        at.to_rfc3339()
                    ),
                    CaptureWindow::EndedBefore(at) => format!(
                        "capture longer on the target side (its capture ended at {})",
                        at.to_rfc3339()
                    ),
                    CaptureWindow::Gap { .. } => {
                        "capture the target side without a gap (keep every rotated file)".into()
                    }
                };
                tell_apart(*t).replacen(CAPTURE_TARGETS, &instead, 1)
            }
            _ => note(n),
        })
        .collect()
}

/// What to capture to tell a front-end-only finding's candidates apart.
pub fn tell_apart(t: TellApart) -> &'static str {
    match t {
        TellApart::BadGateway => {
            "to tell the candidates apart, capture the targets' ENIs (back end): the connect \
             attempt shows a RST (refused), an ICMP error (unreachable), an unanswered SYN \
             (connect timeout), or a TLS alert, reset or unfinished handshake (TLS handshake \
             failed or timed out); the back-end connection shows the target's FIN or RST \
             (a keep-alive race when it meets a request sent on a reused connection after an \
             idle gap as long as the target's keep-alive timeout), its bytes (malformed or too \
             large) or the ALB's own close (deregistration delay)"
        }
        TellApart::StreamReset => {
            "to tell the candidates apart, capture the targets' ENIs (back end) at that time: \
             the node's connect attempt shows a RST (refused), an ICMP error (unreachable), an \
             unanswered SYN (connect timeout), or a TLS alert, reset or unfinished handshake \
             (TLS handshake failed or timed out); its request's connection shows the target's \
             FIN or RST (a keep-alive race when it meets a request sent on a reused connection \
             after an idle gap as long as the target's keep-alive timeout), its bytes \
             (malformed or too large), or the ALB's own close (deregistration delay or idle \
             timeout); no attempt at all is the node refusing the stream itself (its HTTP/2 \
             stream limit, or closing the connection); the ALB's access log line for the \
             request (elb_status_code, target_status_code, error_reason) says the same"
        }
        TellApart::WhoAnswered => {
            "the answer carries no Server header (the ALB's own errors carry Server: \
             awselb/2.0, so most likely the target's); capture the targets' ENIs (back end) to \
             see whether a target sent it"
        }
        TellApart::ClientOrAlbClose => {
            "to tell the candidates apart, capture the front end (the clients' or the ALB's \
             ENIs): a client FIN or RST before the ALB's close is client_closed (460), a 502 \
             from the ALB is deregistration_abort, a 504 the idle timeout (or give \
             --idle-timeout)"
        }
        TellApart::IdleOrClientClosed => {
            "seen from the back end alone: the ALB may keep waiting for the target after its \
             client has gone, so a client that gave up earlier (client_closed, 460: it got \
             nothing) looks the same here; capture the front end (the clients' or the ALB's \
             ENIs) to see whether the client closed before the ALB's 504"
        }
        TellApart::EncryptedFront => {
            "the front end is encrypted: capture the targets' side (the ALB's back-end \
             connections) or give the clients' TLS keys with --tls-keylog to see the status"
        }
        TellApart::AttemptNotCaptured => {
            "the ALB answers 502 or 504 only after trying a target, yet this node's back end, \
             in the capture for other requests, shows no attempt for this one: the mirror lost \
             it (dropped or truncated packets: see the capture notes), or its target's traffic \
             is not mirrored; the candidates follow from the front end's timing"
        }
        TellApart::TicketOrAnswer => {
            "seen from the back end without keys: a TLS 1.3 server sends its session tickets \
             right after the client's Finished, which the ALB sends together with its first \
             request, so one record after that request may be a ticket or a whole answer; \
             capture the front end (the clients' or the ALB's ENIs: the status the client got) \
             or give the target's TLS keys with --tls-keylog"
        }
        TellApart::AnswerCutOrWhole => {
            "seen from the back end without keys: the answer's bytes are encrypted, so whether \
             it was whole cannot be read; capture the front end (the clients' or the ALB's \
             ENIs: the status and the body the client got) or give the target's TLS keys with \
             --tls-keylog, and look in the target's log for an aborted response"
        }
        TellApart::CutOrClientLeft => {
            "seen from the back end alone (or with the front end encrypted): the ALB closes the \
             target's connection in the middle of a response body when its idle timeout cuts a \
             stalled stream (the client gets a body cut short: incomplete_body), also when the \
             client has gone before the answer reached it (client_closed), and when the client \
             stopped the answer after its headers (a cancelled HTTP/2 stream, an abandoned \
             download: ok); capture the front end (the clients' or the ALB's ENIs, with the \
             TLS keys of an HTTPS listener) to see who ended the answer first"
        }
        TellApart::IdleBeforeRequest => {
            "capture the connection whole (from its SYN, without loss): an idle gap before the \
             request equal to the target's keep-alive timeout (its idle closes on other \
             connections, a Keep-Alive: timeout=N it announces, or its setting) is \
             keepalive_race; a short gap, or a close later than the request, is \
             target_closed_before_response"
        }
        TellApart::HealthCheckOrRequest => {
            "seen from the back end alone, a health check that failed looks the same: the ALB \
             node checks each target from the same address, at the target group's interval \
             (5-300 s), and a connect that failed carries no request to tell them apart; \
             capture the front end (the clients' or the ALB's ENIs: a client request answered \
             502 or 504 within 10 s of the attempt is this one), or capture longer (at least 4 \
             health-check intervals) so that the checks show as a steady cadence"
        }
        TellApart::RoundTrip => {
            "capture the connection whole (from its SYN: the handshake gives its round trip), \
             or on the target's own ENI: a close that left the target before the request \
             reached it (or within about one round trip of its arrival) is keepalive_race; a \
             close well after the request arrived is target_closed_before_response"
        }
        TellApart::KeepaliveSetting => {
            "give the target's keep-alive timeout (its server setting, or a capture long enough \
             to show it closing idle connections on its own): an idle gap before the request \
             equal to it is keepalive_race; and check whether the target refused new \
             connections right after (SYNs answered by RST: a closed port or a firewall \
             reject), which makes the reset the target's answer to the request: \
             target_closed_before_response"
        }
        TellApart::TimerSweep => {
            "give the target's keep-alive timeout and how its server closes idle connections \
             (exactly at the timeout, or on a periodic sweep after it), or check its own log \
             for the request: a request the target never read, on a connection its timer \
             closed, is keepalive_race; a request it read and then dropped (an error, a \
             process gone) is target_closed_before_response"
        }
        TellApart::GatewayTimeout => {
            "to tell the candidates apart, capture the targets' ENIs (back end): an unanswered \
             SYN is a connect timeout, an unfinished TLS handshake a TLS handshake timeout, a \
             request without answer the idle timeout"
        }
    }
}
