//! The sentences of a finding's evidence.

use super::{ms, packet, party, secs, time};
use crate::capture::Duration;
use crate::diagnose::{
    AlbTimer, At, BadGatewayPhase, ClientStop, Close, CloseOrder, Evidence, IdleUnseen, Inference,
    LegKind,
};
use crate::protocol::{escape_bytes, ResponseErrorReason};

/// `FIN` or `RST`.
pub fn close(c: Close) -> &'static str {
    match c {
        Close::Fin => "FIN",
        Close::Rst => "RST",
    }
}

/// `packet #12 at 2025-12-11T16:42:57.298415Z`.
pub fn at(files: &[String], a: At) -> String {
    let mut s = String::with_capacity(48);
    s.push_str("packet ");
    super::push_packet(&mut s, files, a.packet);
    s.push_str(" at ");
    a.time.push_rfc3339(&mut s);
    s
}

/// Why a response could not be read, as the parser says it.
pub fn response_error_reason(r: &ResponseErrorReason) -> String {
    match r {
        ResponseErrorReason::NotHttp => "response does not start with \"HTTP/\"".to_string(),
        ResponseErrorReason::HeaderBlockTooLarge { limit } => {
            format!("response header block larger than {limit} bytes")
        }
        ResponseErrorReason::IncompleteHead => "incomplete header block".to_string(),
        ResponseErrorReason::InvalidHead { parser } => format!("invalid HTTP response: {parser}"),
        ResponseErrorReason::EndedInHead => {
            "the connection ended inside the response header block".to_string()
        }
        ResponseErrorReason::BadFraming { what } => what.to_string(),
        ResponseErrorReason::HeadBytesMissing { len } => {
            format!("{len} bytes of the response header block are missing from the capture")
        }
        ResponseErrorReason::HeadSkipped { held } => format!(
            "the response header block was skipped after {held} bytes: memory limit reached"
        ),
        ResponseErrorReason::ChunkedFramingLost { len } => {
            format!("{len} bytes of the chunked body are missing; its framing was lost")
        }
    }
}

/// The caveat every front-end-only inference starts with.
const CAVEAT: &str = "inferred from the front end only (the back end is not in this capture)";

fn inference(i: &Inference) -> String {
    match i {
        Inference::GatewayTimeoutAmbiguous { elapsed, connect } => format!(
            "{CAVEAT}: a 504 {} after the request falls where the {:.0} s connect timeout, a \
             TLS handshake timeout (up to {:.0} s more) and an idle timeout of that length (or \
             a shorter one started after a slow connect) all end; the front end cannot tell \
             them apart",
            secs(*elapsed),
            connect.as_secs_f64(),
            connect.as_secs_f64()
        ),
        Inference::BadGatewayAmbiguous {
            elapsed,
            phase,
            connect,
        } => bad_gateway(
            &format!("a 502 {} after the request", secs(*elapsed)),
            *phase,
            *connect,
        ),
        Inference::StreamResetAmbiguous {
            elapsed,
            phase,
            connect,
            idle,
        } => {
            let what = format!(
                "a stream the ALB ended without a status {} after the request (where an ALB \
                 answers 502 or 504)",
                secs(*elapsed)
            );
            let mut s = bad_gateway(&what, *phase, *connect);
            if let Some(idle) = idle {
                s.push_str(&format!(
                    "; it also falls where an idle timeout of {} ends (target_idle_timeout)",
                    secs(*idle)
                ));
            }
            s
        }
        Inference::NoHealthyTarget => {
            format!("{CAVEAT}: the ALB's 503 means it had no healthy target to send the request to")
        }
        Inference::EncryptedAnswerAtTimer {
            elapsed,
            timer,
            length,
        } => {
            let what = match timer {
                AlbTimer::Idle => "the ALB idle timeout",
                AlbTimer::ConnectOrHandshake => {
                    "the ALB's connect timeout (or a TLS handshake timeout after a connect)"
                }
            };
            format!(
                "{CAVEAT}: the encrypted answer came {} after the request, where {what} ({}) \
                 ends: possibly the ALB's 504; a target that answered just then looks the same",
                secs(*elapsed),
                secs(*length)
            )
        }
        Inference::ShortAnswerThenClose { bytes } => format!(
            "{CAVEAT}: a short encrypted answer ({bytes} bytes) and then the ALB's close is what \
             an ALB error page looks like (a 502 or 504); a short normal answer on a connection \
             the ALB closes looks the same"
        ),
    }
}

/// A front-end-only 502 (or a stream the ALB ended in its place), `answer` with its time
/// after the request: what that time leaves open and what it rules out.
fn bad_gateway(answer: &str, phase: BadGatewayPhase, connect: Duration) -> String {
    let c = connect.as_secs_f64();
    let what = match phase {
        BadGatewayPhase::Immediate => {
            "is what a refused connect, an ICMP unreachable, a target closing \
             or resetting the connection (also a keep-alive race), a failed TLS handshake, a \
             malformed or too-large response and a deregistration abort all look like from \
             here"
                .to_string()
        }
        BadGatewayPhase::DuringConnect => format!(
            "is too late for a keep-alive race (it fails at once) and for a refusal of the first \
             SYN; a target closing or resetting while it worked, the deregistration delay \
             ending, a malformed or too-large response after processing, a failed TLS \
             handshake, or ICMP or a refusal answering a retransmitted SYN (a connect lasts \
             less than the {c:.0} s connect timeout) all fit"
        ),
        BadGatewayPhase::AtConnectTimeout => format!(
            "falls where the {c:.0} s back-end timers end: a TLS handshake timeout after an \
             immediate connect (AWS documents it as a 502), or the connect timeout (an ALB \
             answers that 504; a proxy in its place may answer 502); a target closing, a bad \
             answer or the deregistration delay ending just then look the same"
        ),
        BadGatewayPhase::DuringHandshake => format!(
            "is later than any connect failure (the connect timeout is {c:.0} s): a TLS \
             handshake timeout after a slow connect, a failed TLS handshake, a target closing \
             or resetting while it worked, a malformed or too-large response or the \
             deregistration delay ending all fit"
        ),
        BadGatewayPhase::AfterHandshake => format!(
            "is later than any connect or TLS handshake failure ({c:.0} s each at most): the \
             target closing or resetting while it worked, a malformed or too-large response \
             after processing, or the deregistration delay ending"
        ),
    };
    format!("{CAVEAT}: {answer} {what}; the front end cannot tell them apart")
}

fn with_server(server: &Option<String>) -> String {
    server
        .as_ref()
        .map(|s| format!(" with Server: {s}"))
        .unwrap_or_default()
}

/// One fact of the evidence as a sentence; `files` name the packets.
pub fn evidence(files: &[String], e: &Evidence) -> String {
    let at = |a: &At| at(files, *a);
    match e {
        Evidence::RequestNotReadable { target } => {
            format!("the ALB's request to {target} is not readable in the capture (bytes missing)")
        }
        Evidence::RequestSent {
            request,
            target,
            at: a,
            reuse,
        } => {
            // `the ALB sent {what} to {target} ({at}){reuse}`, in one string: every kept
            // finding with a back end has this sentence.
            use std::fmt::Write;
            let mut s = String::with_capacity(160);
            s.push_str("the ALB sent ");
            match request {
                Some((m, t)) => {
                    s.push_str(m);
                    s.push(' ');
                    s.push_str(t);
                }
                None => s.push_str("the request (TLS application data)"),
            }
            // Writing to a `String` cannot fail.
            let _ = write!(s, " to {target} (");
            s.push_str(&at(a));
            s.push(')');
            if let Some(r) = reuse {
                s.push_str(" on a reused connection (request #");
                super::push_u64(&mut s, u64::from(r.number));
                s.push_str(" on it");
                if let Some(d) = r.idle_before {
                    s.push_str(", idle ");
                    s.push_str(&secs(d));
                    s.push_str(" before");
                }
                s.push(')');
            }
            s
        }
        Evidence::TargetClosedNearRequest {
            close: c,
            at: a,
            since_request,
        } => {
            let gap = if since_request.0 >= 0 {
                format!("{} after the request", ms(*since_request))
            } else {
                format!(
                    "{} before the request arrived",
                    ms(crate::capture::Duration(since_request.0.saturating_neg()))
                )
            };
            format!(
                "the target sent {} ({}), {gap}, before any response byte",
                close(*c),
                at(a)
            )
        }
        Evidence::StreamReset {
            code,
            at: a,
            since_request,
        } => format!(
            "the target reset the HTTP/2 stream with RST_STREAM {} ({}), {} after the request, \
             before any response",
            super::h2_code(code.0),
            at(a),
            ms(*since_request)
        ),
        Evidence::AlbResetStream {
            code,
            at: a,
            since_request,
        } => format!(
            "the ALB ended the HTTP/2 stream with RST_STREAM {} ({}), {} after the request, \
             without any status",
            super::h2_code(code.0),
            at(a),
            ms(*since_request)
        ),
        Evidence::GoawayRefusedStream {
            stream,
            last_stream_id,
            code,
            at: a,
            since_request,
        } => {
            let when = if since_request.0 >= 0 {
                format!("{} after the request", ms(*since_request))
            } else {
                format!(
                    "{} before the ALB opened the stream",
                    ms(crate::capture::Duration(since_request.0.saturating_neg()))
                )
            };
            format!(
                "the target sent GOAWAY ({}) with last stream {last_stream_id}, {when}: stream \
                 {stream} was refused unprocessed ({})",
                super::h2_code(code.0),
                at(a)
            )
        }
        Evidence::TargetGrpcError { status, message } => format!(
            "the target answered the gRPC call with {} (an error of the server, under HTTP \
             status 200)",
            super::grpc_status_text(*status, message.as_deref(), None)
        ),
        Evidence::KeepaliveMatches { keepalive } => format!(
            "the target closes idle keep-alive connections after {} (seen on its other \
             connections): the idle gap matches, so its keep-alive timer was due just as the ALB \
             reused the connection",
            secs(*keepalive)
        ),
        Evidence::KeepaliveAnnounced {
            timeout,
            idle_matches,
        } => format!(
            "the target announces Keep-Alive: timeout={} on its responses{}",
            timeout.as_secs_f64(),
            if *idle_matches {
                ": the idle gap before the request matches it, so its keep-alive timer was \
                 due just as the ALB reused the connection"
            } else {
                ""
            }
        ),
        Evidence::CloseOrder {
            order,
            since_request,
            round_trip,
            from_other_connections,
        } => {
            let when = if since_request.0 >= 0 {
                format!("{} after the request", fine(*since_request))
            } else {
                format!(
                    "{} before the request",
                    fine(crate::capture::Duration(since_request.0.saturating_neg()))
                )
            };
            let rtt = match (round_trip, from_other_connections) {
                (Some(r), None) => format!(" (the connection's round trip is {})", fine(*r)),
                (Some(r), Some(n)) => format!(
                    " (the connection's handshake is not in the capture; the round trip \
                     between this node and target is {}, from the handshakes of {n} other \
                     connection{})",
                    fine(*r),
                    if *n == 1 { "" } else { "s" }
                ),
                (None, _) => String::new(),
            };
            match order {
                CloseOrder::Crossed => format!(
                    "the close was captured {when}{rtt}: it left the target before the request \
                     reached it, or within about one round trip of its arrival"
                ),
                CloseOrder::AfterArrival => format!(
                    "the close was captured {when}{rtt}: well after the request reached the \
                     target, so the target held the request and then closed; its keep-alive \
                     timer did not race the request"
                ),
                CloseOrder::Unordered => format!(
                    "the close was captured {when}; the connection's handshake is not in the \
                     capture, so its round trip, and whether the close left the target before \
                     the request reached it, are not known"
                ),
            }
        }
        Evidence::IdleNotVisible { why } => match why {
            IdleUnseen::PreviousResponseLost => "the target's previous response on this \
                                                 connection is partly missing from the capture \
                                                 (lost or truncated packets): how long the \
                                                 connection was idle before the request is not \
                                                 known"
                .into(),
            IdleUnseen::OpenedBeforeCapture => "the connection was open before the capture \
                                                started (no SYN seen): whether it carried \
                                                earlier requests, and how long it was idle \
                                                before this one, is not known"
                .into(),
        },
        Evidence::TargetServer { server } => format!("the target identifies as Server: {server}"),
        Evidence::AlbClosedSilentTarget {
            close: c,
            at: a,
            elapsed,
        } => format!(
            "the target sent no response; the ALB closed the connection with {} ({}) {} after \
             sending the request",
            close(*c),
            at(a),
            secs(*elapsed)
        ),
        Evidence::LateReply {
            status,
            after,
            packet: p,
            alb_rst,
        } => format!(
            "the target's late reply{} came {} after the request ({}){}",
            status
                .as_ref()
                .map(|(s, r)| format!(" (HTTP {s} {r})"))
                .unwrap_or_default(),
            secs(*after),
            packet(files, *p),
            alb_rst
                .map(|r| format!(
                    " and drew a RST from the ALB ({}); the target may log it as a success",
                    packet(files, r)
                ))
                .unwrap_or_default()
        ),
        Evidence::MatchesIdleTimeout { elapsed, idle } => format!(
            "{} matches the ALB idle timeout ({})",
            secs(*elapsed),
            secs(*idle)
        ),
        Evidence::ShorterThanIdleTimeout { elapsed, idle } => format!(
            "{} is shorter than the ALB idle timeout ({}): the ALB aborted the request itself, \
             as when the target's deregistration delay runs out (if the ALB's idle timeout is \
             really {:.0} s, this is target_idle_timeout: say so with --idle-timeout)",
            secs(*elapsed),
            secs(*idle),
            elapsed.as_secs_f64()
        ),
        Evidence::NotHttp {
            at: a,
            excerpt,
            reason,
        } => format!(
            "the target's reply ({}) is not valid HTTP: \"{}\" ({})",
            at(a),
            escape_bytes(excerpt),
            response_error_reason(reason)
        ),
        Evidence::HeaderBlockTooLarge { at: a, bytes } => format!(
            "the target's response header block ({}) grew past {bytes} bytes without ending; \
             the ALB's limit is 32 KB",
            at(a)
        ),
        Evidence::PartialAnswer {
            status,
            at: a,
            server,
        } => format!(
            "the target answered {status} ({}){}; the rest of the response is missing from the \
             capture",
            at(a),
            with_server(server)
        ),
        Evidence::ResponseUnreadable { packet: p } => format!(
            "part of the target's response ({}) is missing from the capture, so it could not \
             be read",
            packet(files, *p)
        ),
        Evidence::TlsAnswer { bytes, at: a } => format!(
            "the target answered with {bytes} bytes of TLS application data ({})",
            at(a)
        ),
        Evidence::NoResponse { until } => match until {
            Some(e) => format!(
                "no response and no close by either side up to {} (the end of this connection \
                 in the capture)",
                time(*e)
            ),
            None => "no response in the capture and the connection did not close in it".into(),
        },
        Evidence::Answered {
            by,
            status,
            reason,
            at: a,
            server,
        } => format!(
            "the {} answered {status} {reason} ({}){}",
            party(*by),
            at(a),
            with_server(server)
        ),
        Evidence::ShortBody {
            declared: Some(declared),
            body,
        } => {
            format!("it declared Content-Length: {declared} but only {body} body bytes followed")
        }
        Evidence::ShortBody {
            declared: None,
            body,
        } => format!(
            "its chunked body ended without the last (zero-size) chunk, after {body} body bytes"
        ),
        Evidence::BodyStillArriving {
            declared: Some(declared),
            body,
        } => format!(
            "the capture ended {body} body bytes into it, before its Content-Length: {declared} \
             and with the connection open: the rest may still have come, or not"
        ),
        Evidence::BodyStillArriving {
            declared: None,
            body,
        } => format!(
            "the capture ended {body} bytes into its chunked body, before the last (zero-size) \
             chunk and with the connection open: the rest may still have come, or not"
        ),
        Evidence::ClosedAfterHeaders {
            by,
            close: c,
            at: a,
            after,
        } => format!(
            "the {} closed the connection with {} ({}) {} after the headers",
            party(*by),
            close(*c),
            at(a),
            secs(*after)
        ),
        Evidence::Connect { target, at: a } => {
            format!("the ALB opened a connection to {target}: SYN ({})", at(a))
        }
        Evidence::IcmpAnswer { icmp, at: a } => format!(
            "the SYN was answered by ICMP {} (type {} code {}) ({})",
            icmp.description,
            icmp.icmp_type,
            icmp.code,
            at(a)
        ),
        Evidence::Refused {
            at: a,
            after_syn,
            port,
        } => format!(
            "the target answered the SYN with RST ({}){}: nothing listens on port {port}, or \
             the target is refusing connections",
            at(a),
            after_syn
                .map(|d| format!(" {} after the SYN", ms(d)))
                .unwrap_or_default()
        ),
        Evidence::SynRetransmissions { count, last, span } => format!(
            "{count} SYN retransmission(s) up to {} ({}), {} after the first; no SYN-ACK, RST \
             or ICMP came back",
            time(last.time),
            packet(files, last.packet),
            secs(*span)
        ),
        Evidence::ConnectTimeout { timeout, seen } => format!(
            "the ALB gives up after its connect timeout ({}); attempt seen for {}",
            secs(*timeout),
            secs(*seen)
        ),
        Evidence::BytesNotCaptured { from, bytes, at: a } => format!(
            "{bytes} bytes from the {} are missing from the capture ({}): mirror or capture \
             loss",
            party(*from),
            at(a)
        ),
        Evidence::SynAckLost {
            at: a,
            retransmissions,
        } => format!(
            "the target answered SYN-ACK ({}) but the ALB retransmitted its SYN {retransmissions} \
             more time(s): the SYN-ACK never reached the ALB, so the return path is blocked",
            at(a)
        ),
        Evidence::ClientHelloOffer {
            at: a,
            versions,
            ciphers,
            more_ciphers,
        } => format!(
            "the ALB's TLS ClientHello ({}) offered {}; ciphers {}{}",
            at(a),
            versions.join(", "),
            ciphers.join(", "),
            if *more_ciphers > 0 {
                format!(" and {more_ciphers} more")
            } else {
                String::new()
            }
        ),
        Evidence::TlsAlert {
            level,
            description,
            at: a,
        } => format!(
            "the target answered with TLS alert {level} {description} ({})",
            at(a)
        ),
        Evidence::HandshakeRefused {
            close: c,
            at: a,
            after,
        } => format!(
            "the target answered with {} ({}) {} after the ClientHello, before the handshake \
             completed (typically no shared TLS version or cipher)",
            close(*c),
            at(a),
            ms(*after)
        ),
        Evidence::HandshakeAbandoned {
            close: c,
            at: a,
            after,
            timeout,
        } => format!(
            "the handshake did not complete; the ALB closed with {} ({}) {} after the \
             ClientHello (its TLS handshake timeout is {})",
            close(*c),
            at(a),
            secs(*after),
            secs(*timeout)
        ),
        Evidence::OpaqueRequestSent { bytes, target } => format!(
            "the ALB sent {bytes} bytes to {target} (the request; not readable in the capture)"
        ),
        Evidence::TargetClosedFirst { close: c, at: a } => format!(
            "the target sent {} ({}) before any response byte",
            close(*c),
            at(a)
        ),
        Evidence::TargetSentUnreadable {
            bytes,
            close: c,
            at: a,
        } => format!(
            "the target sent {bytes} bytes that do not read as an answer (an answer in \
             another protocol than the ALB spoke, or that protocol's own close), then {} ({})",
            close(*c),
            at(a)
        ),
        Evidence::NoRequestClosed {
            by,
            close: c,
            at: a,
        } => format!(
            "the connection carried no request; the {} closed it with {} ({})",
            party(*by),
            close(*c),
            at(a)
        ),
        Evidence::NoRequest => "the connection carried no request".into(),
        Evidence::NoHealthCheckNearby { window } => format!(
            "no health check: the capture shows no other connection from this node to the \
             target within {} on either side, and the ALB checks every registered target from \
             each node at least every 300 s, healthy or not (a client's request made this \
             attempt)",
            fine(*window)
        ),
        Evidence::OpenedBeforeCapture => "the connection was open before the capture started \
                                          (no SYN in it): what it carried before is not in the \
                                          capture"
            .into(),
        Evidence::ClientGaveUp {
            close: c,
            at: a,
            after,
            late_answer,
        } => {
            let mut text = format!(
                "the client sent {} ({}) {} after its request, before any answer from the ALB",
                close(*c),
                at(a),
                secs(*after)
            );
            if let Some((later, rst)) = late_answer {
                text.push_str(&format!(
                    "; the answer that came {} later was refused with RST ({})",
                    secs(*later),
                    packet(files, *rst)
                ));
            }
            text
        }
        Evidence::ClientStoppedAnswer {
            stop,
            at: a,
            after,
            body,
        } => {
            let how = match stop {
                ClientStop::StreamReset(code) => format!(
                    "reset the HTTP/2 stream with RST_STREAM {}",
                    super::h2_code(code.0)
                ),
                ClientStop::Close(c) => format!("sent {}", close(*c)),
            };
            format!(
                "the client {how} ({}) {} after the response headers, with {body} body bytes \
                 received: it stopped the answer before the ALB ended it",
                at(a),
                secs(*after)
            )
        }
        Evidence::ServerNotAlb => {
            "the Server header is not the ALB's (awselb/2.0): a target's error".into()
        }
        Evidence::RelayedHeader { name } => format!(
            "the answer carries {name}, a header the ALB's own answers never carry (they hold \
             only Server, Date, Content-Type, Content-Length, Connection and the security and \
             CORS headers an ALB can be set to add): a target's error, relayed"
        ),
        Evidence::NoBackEndAttempt { node, time: t } => format!(
            "no back-end connection attempt from ALB node {node} around {} is in the capture",
            time(*t)
        ),
        Evidence::BackEndNotCaptured => {
            "the back end is not in this capture, so the cause cannot be seen".into()
        }
        Evidence::EncryptedAnswer { bytes } => format!(
            "the ALB answered with {bytes} encrypted bytes; no back-end request matched this \
             one, so its status cannot be seen"
        ),
        Evidence::NoResponseCaptured => "no response to this request is in the capture".into(),
        Evidence::EncryptedOutcomeHidden { bytes, elapsed } => format!(
            "the ALB answered with {bytes} encrypted bytes {} after the request; its status is \
             encrypted and the back end is not in this capture",
            secs(*elapsed)
        ),
        Evidence::TicketOrAnswer { bytes, at: a } => format!(
            "the target's only data after the request is one TLS 1.3 record of {bytes} bytes \
             ({}), the first it sent after the handshake: the size of a session ticket as much \
             as of a small answer",
            at(a)
        ),
        Evidence::TargetClosedAfterTlsAnswer {
            close: c,
            at: a,
            after,
        } => match c {
            Close::Rst => format!(
                "the target reset the connection ({}) {} after the last record of its \
                 encrypted answer, with no request after it: an abortive close (a TLS server \
                 ending a connection on purpose sends its close_notify and a FIN)",
                at(a),
                secs(*after)
            ),
            Close::Fin => format!(
                "the target closed the connection ({}) {} after the last record of its \
                 encrypted answer, with no request after it: too late to come with the answer (as \
                 after Connection: close) and too soon for a keep-alive timer",
                at(a),
                secs(*after)
            ),
        },
        Evidence::AlbClosedAfterAnswer {
            close: c,
            at: a,
            after,
        } => format!(
            "the ALB closed the client's connection with {} ({}) {} after its answer",
            close(*c),
            at(a),
            secs(*after)
        ),
        Evidence::AnsweredAfter { elapsed } => format!(
            "the ALB answered {} after receiving the request",
            secs(*elapsed)
        ),
        Evidence::NodeQuietBefore { gap } => format!(
            "the node's last answer in the capture before this request ended {} earlier: a \
             back-end connection reused after that long idle meets the keep-alive timeouts \
             targets commonly close with (gunicorn 2 s; Node.js, Apache, uvicorn 5 s), so a \
             keep-alive race is the likelier cause (other clients' requests, not in the \
             capture, may have kept it busy)",
            secs(*gap)
        ),
        Evidence::Inferred(i) => inference(i),
        Evidence::IdleTimeoutByTiming {
            elapsed,
            connect,
            idle: None,
        } => format!(
            "a 504 {} after the request: the connect and TLS handshake timeouts ({:.0} s each) \
             give a 504 only {:.1} to {:.0} s after it, so this is the ALB idle timeout (about \
             {:.0} s)",
            secs(*elapsed),
            connect.as_secs_f64(),
            connect.as_secs_f64() - 0.5,
            2.0 * connect.as_secs_f64(),
            elapsed.as_secs_f64()
        ),
        Evidence::IdleTimeoutByTiming {
            elapsed,
            connect,
            idle: Some(idle),
        } => format!(
            "a 504 {} after the request: the connect and TLS handshake timeouts ({:.0} s each) \
             give a 504 only {:.1} to {:.0} s after it, so this is the ALB idle timeout ({}), \
             which runs from the request's dispatch to the target: the {} before it went to \
             a slow connect, TLS handshake or request upload",
            secs(*elapsed),
            connect.as_secs_f64(),
            connect.as_secs_f64() - 0.5,
            2.0 * connect.as_secs_f64(),
            secs(*idle),
            secs(Duration(elapsed.0.saturating_sub(idle.0)))
        ),
        Evidence::HeadersSkipped { response, leg } => format!(
            "the {} header block on the {} was skipped: the buffer memory limit \
             (--max-buffer-memory) was reached, so it was not read (it may be in the capture)",
            if *response { "response" } else { "request" },
            match leg {
                LegKind::Front => "front end",
                LegKind::Back => "back end",
            }
        ),
        Evidence::AlbReplacedResponse => {
            "the ALB replaced a normal target response with its own error; the capture does not \
             show why (a limit the parser did not see?)"
                .into()
        }
        Evidence::RefusedAfterReset {
            opener,
            at: a,
            since_reset,
            still,
            still_since,
            ..
        } => format!(
            "the next connection to the target after the reset ({opener}, {} later) was \
             refused: RST to its SYN ({}); it still refused one {} after the reset ({}), and \
             accepted none in between",
            ms(*since_reset),
            at(a),
            secs(*still_since),
            at(still)
        ),
        Evidence::NextConnectAfterReset {
            opener,
            at: a,
            since_reset,
            accepted,
            refused,
            accepted_at,
        } => {
            let mut s = format!(
                "the next connection to the target after the reset ({opener}, {} later) was {} ({})",
                ms(*since_reset),
                if *accepted {
                    "accepted"
                } else if *refused {
                    "refused (RST to its SYN)"
                } else {
                    "not answered"
                },
                at(a)
            );
            if let Some(acc) = accepted_at {
                s.push_str(&format!(
                    ", and one was accepted again ({}): the target did not stay down",
                    at(acc)
                ));
            } else if *accepted {
                s.push_str(": the target was still accepting connections");
            }
            s
        }
        Evidence::ClientGotPartialBody { status } => format!(
            "the client got the target's {status} headers and part of the body, then the \
             connection was closed: no complete response"
        ),
    }
}

/// A short duration to the microsecond: `50 µs`, `1.234 ms`, or [`secs`] from a second.
fn fine(d: crate::capture::Duration) -> String {
    let us = d.0.unsigned_abs().div_ceil(1000);
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{}.{:03} ms", us / 1000, us % 1000)
    } else {
        secs(d)
    }
}
