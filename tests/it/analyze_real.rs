//! The real recordings in `samples/real/` (HAProxy standing in for an ALB node, real targets),
//! analysed with `--idle-timeout 5` as their README says, against the ground truth written in
//! `samples/real/README.md` by the engineer who recorded them: per client request, its client
//! port (front end captured) and category.

use albscope::alb::AlbConfig;
use albscope::capture::{CaptureReader, Duration};
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::taxonomy::{Category, GeneratedBy};
use std::path::Path;

fn analyze(file: &str) -> Option<Analysis> {
    let path = Path::new("samples/real").join(file);
    if !path.exists() {
        return None;
    }
    let mut reader = CaptureReader::open(&[&path]).ok()?;
    let config = AlbConfig {
        idle_timeout: Some(Duration::from_millis(5_000)),
        ..AlbConfig::default()
    };
    Some(analyze_capture(
        &mut reader,
        &PipelineConfig::default(),
        config,
        true,
    ))
}

/// `(client port or 0 when the front end is not captured, category, status, generated_by)`.
type Want = (u16, Category, Option<u16>, Option<GeneratedBy>);

const LB: Option<GeneratedBy> = Some(GeneratedBy::Lb);
const TG: Option<GeneratedBy> = Some(GeneratedBy::Target);

fn truth() -> Vec<(&'static str, Vec<Want>)> {
    vec![
        (
            // tools/realcap/record_addrs.sh: HTTP/2 over TLS 1.3 (ALPN h2 hidden), concurrent
            // streams on two client connections; the client port is the connection's.
            "http2_frontend.pcap",
            vec![
                (41101, Category::TargetConnectRefused, Some(502), LB),
                (41101, Category::Ok, Some(200), TG),
                (41101, Category::Ok, Some(200), TG),
                (41101, Category::TargetGeneratedError, Some(500), TG),
                (41101, Category::TargetClosedBeforeResponse, Some(502), LB),
                (41101, Category::Ok, Some(200), TG),
                (41102, Category::Ok, Some(200), TG),
                (41102, Category::Ok, Some(200), TG),
                (41102, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ok_keepalive.pcap",
            vec![
                (40001, Category::Ok, Some(200), TG),
                (40001, Category::Ok, Some(200), TG),
                (40002, Category::Ok, Some(200), TG),
                (40003, Category::Ok, Some(200), TG),
                (40004, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ok_keepalive.target.pcap",
            vec![(0, Category::Ok, Some(200), TG); 5],
        ),
        (
            "keepalive_race.pcap",
            vec![
                (40011, Category::Ok, Some(200), TG),
                (40012, Category::KeepaliveRace, Some(502), LB),
                (40013, Category::Ok, Some(200), TG),
                (40014, Category::Ok, Some(200), TG),
                (40015, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "keepalive_race.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::KeepaliveRace, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "closed_fin.pcap",
            vec![
                (40021, Category::Ok, Some(200), TG),
                (40022, Category::TargetClosedBeforeResponse, Some(502), LB),
            ],
        ),
        (
            "closed_rst.pcap",
            vec![
                (40031, Category::Ok, Some(200), TG),
                (40032, Category::TargetClosedBeforeResponse, Some(502), LB),
            ],
        ),
        (
            "malformed_response.pcap",
            vec![
                (40041, Category::Ok, Some(200), TG),
                (40042, Category::MalformedResponse, Some(502), LB),
            ],
        ),
        (
            "header_too_large.pcap",
            vec![(40051, Category::ResponseHeaderTooLarge, Some(502), LB)],
        ),
        (
            "idle_timeout.pcap",
            vec![
                (40061, Category::Ok, Some(200), TG),
                (40062, Category::TargetIdleTimeout, Some(504), LB),
            ],
        ),
        (
            "idle_timeout.target.pcap",
            // From the back end alone the ALB's close at the idle timeout is the idle timeout
            // or a client that left while the ALB waited: undetermined (idle timeout first).
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, None, None),
            ],
        ),
        (
            "incomplete_body.pcap",
            vec![(40071, Category::IncompleteBody, None, LB)],
        ),
        (
            "target_5xx.pcap",
            vec![
                (40081, Category::TargetGeneratedError, Some(500), TG),
                (40082, Category::TargetGeneratedError, Some(502), TG),
                (40083, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "connect_refused.pcap",
            vec![
                (40091, Category::TargetConnectRefused, Some(502), LB),
                (40092, Category::TargetConnectRefused, Some(502), LB),
            ],
        ),
        (
            "unreachable_icmp.pcap",
            vec![
                (40101, Category::TargetUnreachableIcmp, Some(502), LB),
                (40102, Category::TargetUnreachableIcmp, Some(502), LB),
            ],
        ),
        (
            "connect_timeout.pcap",
            vec![(40111, Category::TargetConnectTimeout, Some(504), LB)],
        ),
        (
            "connect_timeout_return_path.pcap",
            vec![(40121, Category::TargetConnectTimeout, Some(504), LB)],
        ),
        (
            "connect_timeout_return_path.target.pcap",
            // no health-check cadence in it: the failed connect may be a failed health check
            vec![(0, Category::Undetermined, None, None)],
        ),
        (
            "tls_handshake_failed.pcap",
            vec![
                (40131, Category::TargetTlsHandshakeFailed, Some(502), LB),
                (40132, Category::TargetTlsHandshakeFailed, Some(502), LB),
            ],
        ),
        (
            "tls_handshake_timeout.pcap",
            vec![(40141, Category::TargetTlsHandshakeTimeout, Some(504), LB)],
        ),
        (
            "no_target_attempt.pcap",
            vec![
                (40161, Category::NoTargetAttempt, Some(503), LB),
                (40162, Category::NoTargetAttempt, Some(503), LB),
            ],
        ),
        (
            "client_closed.pcap",
            vec![(40171, Category::ClientClosed, None, None)],
        ),
        (
            "deregistration_abort.pcap",
            vec![(40181, Category::DeregistrationAbort, Some(502), LB)],
        ),
        (
            // tools/realcap/record_front.sh: a client that gives up on a slow target; the
            // node answers the target's late 200 after the client's half-close
            "frl_gave_up.pcap",
            vec![(40601, Category::ClientClosed, None, None)],
        ),
        (
            // the same on the client's own interface, the capture stopped half a second
            // after the client gave up: one plain-HTTP request nothing answered, no node
            // recognised (its server is named as the likely node: see
            // client_side_recordings_narrow_or_name_the_node)
            "frl_gave_up.client.pcap",
            vec![],
        ),
        (
            // targets that hold the request and close: 502 at 12.5 s and 21 s
            "frl_late_502.pcap",
            vec![
                (40611, Category::Ok, Some(200), TG),
                (40612, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40613, Category::TargetClosedBeforeResponse, Some(502), LB),
            ],
        ),
        (
            // the same on the client's interface: the ALB's 502s, undetermined with the
            // candidates their timing leaves open
            "frl_late_502.client.pcap",
            vec![
                (40611, Category::Ok, Some(200), TG),
                (40612, Category::Undetermined, Some(502), LB),
                (40613, Category::Undetermined, Some(502), LB),
            ],
        ),
        (
            "tls_backend.pcap",
            vec![
                (40301, Category::Ok, Some(200), TG),
                (40302, Category::Ok, Some(200), TG),
                (40303, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40304, Category::Ok, Some(200), TG),
                (40305, Category::TargetIdleTimeout, Some(504), LB),
                (40306, Category::ClientClosed, None, None),
                (40307, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // TLS only: statuses are not visible, so the target's answers are never ok but
            // answered, status not visible (undetermined, no status); 40306 (client gone)
            // reads as the idle timeout because HAProxy closes the back end only at its
            // timeout (README).
            "tls_backend.target.pcap",
            vec![
                (0, Category::Undetermined, None, None),
                (0, Category::Undetermined, None, None),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::Undetermined, None, None),
                // 40305 (idle timeout) and 40306 (the client left, HAProxy waited): the same
                // close at the idle timeout on the back end, both undetermined
                (0, Category::Undetermined, None, None),
                (0, Category::Undetermined, None, None),
                (0, Category::Undetermined, None, None),
            ],
        ),
        (
            "tls_backend_alert.pcap",
            vec![
                (40311, Category::TargetTlsHandshakeFailed, Some(502), LB),
                (40312, Category::TargetTlsHandshakeFailed, Some(502), LB),
            ],
        ),
        (
            "tls_backend_alert.target.pcap",
            vec![(0, Category::TargetTlsHandshakeFailed, Some(502), LB); 2],
        ),
        (
            "tls_backend_silent.pcap",
            vec![(40321, Category::TargetTlsHandshakeTimeout, Some(504), LB)],
        ),
        (
            "tls_backend_silent.target.pcap",
            // no health-check cadence in it: the failed handshake may be a failed health check
            vec![(0, Category::Undetermined, None, None)],
        ),
        (
            "hc_refused.pcap",
            vec![
                (40331, Category::Ok, Some(200), TG),
                (40332, Category::Ok, Some(200), TG),
            ],
        ),
        // The target's side holds only refused health checks: no client request.
        ("hc_refused.target.pcap", vec![]),
        (
            "hc_port_lone_refused.pcap",
            vec![(40391, Category::TargetConnectRefused, Some(502), LB)],
        ),
        // The refused connect is the node's only connection to 10.99.1.11:8080 within 310 s on
        // both sides (its checks go to 8082): no health check, the client's attempt.
        (
            "hc_port_lone_refused.target.pcap",
            vec![(0, Category::TargetConnectRefused, Some(502), LB)],
        ),
        // The target starts answering every segment to 8080 with RST (a reject): the first
        // request, on a connection idle 1.07 s, is reset as it arrives, no FIN before, and the
        // target's keep-alive timeout is not known (an abortive idle close crossing the request
        // would look the same), but the next connect to it 0.52 s later (a health check) is
        // refused and it goes on refusing: it stopped accepting, target_closed_before_response
        // (was: keepalive_race, wrong; then undetermined). The second is refused at its SYN.
        (
            "hc_cadence_refused.pcap",
            vec![
                (40392, Category::Ok, Some(200), TG),
                (40393, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40394, Category::TargetConnectRefused, Some(502), LB),
            ],
        ),
        (
            "hc_cadence_refused.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetConnectRefused, Some(502), LB),
            ],
        ),
        // The target rejects for 0.5 s only: the reset request's next connect is refused, but
        // the one after is accepted 0.56 s after the reset: not shown to have stopped accepting.
        (
            "hc_refused_blip.pcap",
            vec![
                (40401, Category::Ok, Some(200), TG),
                (40402, Category::Undetermined, Some(502), LB),
                (40403, Category::TargetConnectRefused, Some(502), LB),
                (40404, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "hc_refused_blip.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, Some(502), LB),
                (0, Category::TargetConnectRefused, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        // A keep-alive race whose FIN never reaches the capture: the RST at the request alone,
        // the next connect accepted: undetermined.
        (
            "ka_race_rst.pcap",
            vec![
                (40411, Category::Ok, Some(200), TG),
                (40412, Category::Undetermined, Some(502), LB),
                (40413, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ka_race_rst.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "mixed_two_nodes.pcap",
            vec![
                (40201, Category::Ok, Some(200), TG),
                (40241, Category::Ok, Some(200), TG),
                (40241, Category::TargetGeneratedError, Some(500), TG),
                (40241, Category::Ok, Some(200), TG),
                (40202, Category::TargetGeneratedError, Some(500), TG),
                (40203, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40242, Category::Ok, Some(200), TG),
                (40204, Category::Ok, Some(200), TG),
                (40205, Category::MalformedResponse, Some(502), LB),
                (40206, Category::TargetIdleTimeout, Some(504), LB),
                (40243, Category::Ok, Some(200), TG),
                (40207, Category::Ok, Some(200), TG),
                (40221, Category::Ok, Some(200), TG),
                (40222, Category::Ok, Some(200), TG),
                (40223, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40224, Category::ResponseHeaderTooLarge, Some(502), LB),
                (40225, Category::IncompleteBody, None, LB),
                (40226, Category::Ok, Some(200), TG),
                (40227, Category::Ok, Some(200), TG),
            ],
        ),
        // HTTP/2 back end (h2c): HAProxy answers the client's stream with RST_STREAM
        // (REFUSED_STREAM) where an ALB sends 502, so the front end shows no status.
        (
            "h2c_streams.pcap",
            vec![
                (40301, Category::Ok, Some(200), TG),
                (40301, Category::Ok, Some(200), TG),
                (40301, Category::Ok, Some(200), TG),
                (40301, Category::Ok, Some(200), TG),
                (40304, Category::Ok, Some(200), TG),
                (40302, Category::TargetClosedBeforeResponse, None, None),
                (40303, Category::KeepaliveRace, None, None),
            ],
        ),
        (
            "h2c_streams.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::KeepaliveRace, Some(502), LB),
            ],
        ),
        (
            "grpc_status.pcap",
            vec![
                (60880, Category::Ok, Some(200), TG),
                (60880, Category::Ok, Some(200), TG),
                (60880, Category::TargetGeneratedError, Some(200), TG),
                (60880, Category::TargetConnectRefused, Some(502), LB),
            ],
        ),
        // tools/realcap/record_shapes.sh: the less common HTTP shapes.
        (
            // 40502: a WebSocket the target ends after 6 s (its close is not a keep-alive
            // timer); 40504: one still open when the capture ends.
            "ws_upgrade.pcap",
            vec![
                (40501, Category::Ok, Some(200), TG),
                (40502, Category::Ok, Some(101), TG),
                (40503, Category::Ok, Some(200), TG),
                (40504, Category::Ok, Some(101), TG),
            ],
        ),
        (
            "ws_upgrade.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(101), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(101), TG),
            ],
        ),
        (
            // a silent WebSocket the proxy closes at its idle timeout: the 101 was the answer
            "ws_idle.pcap",
            vec![
                (40581, Category::Ok, Some(101), TG),
                (40582, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ws_idle.target.pcap",
            vec![
                (0, Category::Ok, Some(101), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // Expect: 100-continue uploads: the 100 is interim, the 201 final
            "expect_upload.pcap",
            vec![
                (40521, Category::Ok, Some(201), TG),
                (40522, Category::Ok, Some(201), TG),
                (40523, Category::Ok, Some(201), TG),
                (40524, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "expect_upload.target.pcap",
            vec![
                (0, Category::Ok, Some(201), TG),
                (0, Category::Ok, Some(201), TG),
                (0, Category::Ok, Some(201), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // the target FINs in the middle of a chunked body: the client got a cut body
            "chunked_cut.pcap",
            vec![
                (40591, Category::Ok, Some(200), TG),
                (40592, Category::IncompleteBody, None, LB),
                (40593, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "chunked_cut.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::IncompleteBody, None, LB),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // one chunk, then the target stalls past the idle timeout: the proxy cuts the body
            "chunked_stall.pcap",
            vec![
                (40611, Category::Ok, Some(200), TG),
                (40612, Category::IncompleteBody, None, LB),
                (40613, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // the target's side alone cannot tell the proxy's cut from a client leaving
            "chunked_stall.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // HTTP/1.0 clients, close-delimited bodies (the FIN ends them), Connection: close
            "http10_close.pcap",
            vec![
                (40511, Category::Ok, Some(200), TG),
                (40512, Category::Ok, Some(200), TG),
                (40513, Category::Ok, Some(200), TG),
                (40514, Category::Ok, Some(200), TG),
                (40515, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "http10_close.target.pcap",
            vec![(0, Category::Ok, Some(200), TG); 5],
        ),
        (
            // HEAD, 204, 304 with Content-Length, chunked with trailers, 200 on one connection
            "bodyless.pcap",
            vec![
                (40531, Category::Ok, Some(200), TG),
                (40531, Category::Ok, Some(204), TG),
                (40531, Category::Ok, Some(304), TG),
                (40531, Category::Ok, Some(200), TG),
                (40531, Category::Ok, Some(200), TG),
                (40532, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "bodyless.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(204), TG),
                (0, Category::Ok, Some(304), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // 40552: an event stream still open when the capture ends: its 200 reached the
            // client, but the chunked body has no last chunk yet, so it may still complete or
            // be cut (in flight: undetermined, not failed)
            "sse_stream.pcap",
            vec![
                (40551, Category::Ok, Some(200), TG),
                (40552, Category::Undetermined, Some(200), None),
                (40553, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "sse_stream.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, None, None),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // a plain Node.js http server raced after about 6 s idle
            "node_race.pcap",
            vec![
                (40601, Category::Ok, Some(200), TG),
                (40602, Category::KeepaliveRace, Some(502), LB),
                (40603, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "node_race.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::KeepaliveRace, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // nginx's own 502/503/504 pages and a Node.js 503 (its path rewritten by the
            // proxy) against the proxy's 502 (refused) and 504 (idle timeout)
            "target_errors.pcap",
            vec![
                (40571, Category::TargetGeneratedError, Some(502), TG),
                (40572, Category::TargetGeneratedError, Some(503), TG),
                (40573, Category::TargetGeneratedError, Some(504), TG),
                (40574, Category::TargetGeneratedError, Some(503), TG),
                (40575, Category::TargetConnectRefused, Some(502), LB),
                (40576, Category::TargetIdleTimeout, Some(504), LB),
                (40577, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // target 10.99.1.11 (nginx) only: the Node.js target is not on it
            "target_errors.target.pcap",
            vec![
                (0, Category::TargetGeneratedError, Some(502), TG),
                (0, Category::TargetGeneratedError, Some(503), TG),
                (0, Category::TargetGeneratedError, Some(504), TG),
                // a failed connect seen from the back end alone with no health-check cadence
                // of its node to that target in the capture: a client's attempt or a failed
                // health check (undetermined, no client status inferred)
                (0, Category::Undetermined, None, None),
                // the ALB's close at the idle timeout, seen from the back end alone: the idle
                // timeout or a client that left while the ALB waited (undetermined)
                (0, Category::Undetermined, None, None),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // the target (keep-alive 3 s) reads a request sent after 2.9 s idle, holds it 1.5 s
            // and closes: the idle gap matches its timer, but the close came well after the
            // request arrived, so it did not race
            "ka_late_close.pcap",
            vec![
                (40701, Category::Ok, Some(200), TG),
                (40702, Category::Ok, Some(200), TG),
                (40703, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40704, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ka_late_close.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // real Apache httpd (KeepAliveTimeout 5): the last reuse, after 5.05 s idle, meets
            // its lingering close (FIN)
            "ka_apache.pcap",
            races(40711..=40720, &[40720], false),
        ),
        (
            "ka_apache.target.pcap",
            races(40711..=40720, &[40720], true),
        ),
        (
            // real gunicorn (gthread worker, --keep-alive 2): 40734 reuses after 2.13 s idle
            "ka_gunicorn.pcap",
            races(40731..=40740, &[40734], false),
        ),
        (
            "ka_gunicorn.target.pcap",
            races(40731..=40740, &[40734], true),
        ),
        (
            // real nginx (keepalive_timeout 3s 3s, announced): three reuses at 3.1-3.2 s race
            "ka_nginx.pcap",
            races(40751..=40758, &[40754, 40756, 40758], false),
        ),
        (
            "ka_nginx.target.pcap",
            races(40751..=40758, &[40754, 40756, 40758], true),
        ),
        // tools/realcap/record_nodesw.sh: Node.js `http` with its defaults (keepAliveTimeout
        // 5 s announced, idle closes at about 6.1 s) and the ways it fails a request
        ("nw_node.pcap", nw_node(false)),
        ("nw_node.target.pcap", nw_node(true)),
        // Node.js with `server.keepAliveTimeout = 0`: no idle close at all, reuses after 7 s
        // and 12 s idle are fine; `Connection: close` ends one connection cleanly
        ("nw_node_ka0.pcap", races(43051..=43056, &[], false)),
        ("nw_node_ka0.target.pcap", races(43051..=43056, &[], true)),
        // the JDK's HttpServer (idleInterval 2 s on a 1 s clock tick: idle closes at 2.3-2.9 s)
        ("nw_java.pcap", nw_java(false)),
        ("nw_java.target.pcap", nw_java(true)),
        // Puma 5 (persistent_timeout 2 s: idle closes at about 2.2 s): reuses after 2.23 and
        // 2.22 s idle race it; the app's exception is Puma's own 500; a hijacked socket closed
        // without an answer; an answer after 8 s
        ("nw_puma.pcap", nw_puma(false)),
        ("nw_puma.target.pcap", nw_puma(true)),
        // Node.js reset as a 96 KB upload arrives (the process exits, or the socket is
        // destroyed, with body bytes unread: RST), before any response byte
        ("nw_node_upload.pcap", nw_node_upload(false)),
        ("nw_node_upload.target.pcap", nw_node_upload(true)),
        // tools/realcap/record_gosrv.sh: a Go net/http target (Go 1.19, standard library).
        // IdleTimeout 2 s: reuses after 2.0 and 2.1 s idle race its idle close (RST: the
        // request met a closed socket), the other reuses of the sweep are fine
        ("gs_go_ka.pcap", gs_go_ka(false)),
        ("gs_go_ka.target.pcap", gs_go_ka(true)),
        // WriteTimeout 3 s: a recovered handler panic, a hijacked connection closed (FIN) and
        // reset (RST), WriteTimeout cutting a response before its first byte and after its
        // first chunk, a body short of its Content-Length (by a return and by
        // http.ErrAbortHandler), Go's own 500, a TimeoutHandler's 503, an answer after 8 s
        ("gs_go_fail.pcap", gs_go_fail(false)),
        ("gs_go_fail.target.pcap", gs_go_fail(true)),
        // ReadTimeout 3 s and no IdleTimeout (Go then closes idle connections after
        // ReadTimeout): the reuse after 3.0 s idle races it; a slow upload cut by ReadTimeout
        // is answered 400 by the handler (the target's own 4xx, relayed)
        // An HTTPS target group of protocol version HTTP1 to Go's TLS server (TLS 1.3, no
        // keys given), health checks over TLS every 5 s: an RST after 100 of 1000 body bytes,
        // a close (close_notify and FIN) and a reset before any answer, Go's own 500, an
        // answer after 8 s; from the target alone the node is recognised by its health
        // checks' cadence and the answers' statuses are not visible
        ("gs_go_tls_hc.pcap", gs_go_tls_hc(false)),
        ("gs_go_tls_hc.target.pcap", gs_go_tls_hc(true)),
        ("gs_go_rt.pcap", gs_go_rt(false)),
        ("gs_go_rt.target.pcap", gs_go_rt(true)),
        // tools/realcap/record_tlsleft.sh: HTTPS target groups (health checks over TLS every
        // 5 s) to nginx with TLS 1.3 only and TLS 1.2 only, and to Apache httpd mod_ssl (TLS
        // 1.3); each relays 100 of 1000 body bytes and then closes (its upstream reset), closes
        // before an answer (nginx `return 444`; Apache after its upstream's reset), relays a
        // 500, answers its own 502, and answers after the proxy's idle timeout
        ("tl_nginx_tls13.pcap", tl_tls(46000, false)),
        ("tl_nginx_tls13.target.pcap", tl_tls(46000, true)),
        ("tl_nginx_tls12.pcap", tl_tls(46100, false)),
        ("tl_nginx_tls12.target.pcap", tl_tls(46100, true)),
        ("tl_apache_tls.pcap", tl_tls(46200, false)),
        ("tl_apache_tls.target.pcap", tl_tls(46200, true)),
        // tools/realcap/record_tlsclose.sh: targets that close right after the TLS handshake
        // and the request, without answering; under TLS 1.3 the server's session tickets
        // follow the request on a new connection and are no answer
        ("tlc_nginx13.pcap", tlc_nginx(47000, false)),
        ("tlc_nginx13.target.pcap", tlc_nginx(47000, true)),
        ("tlc_nginx13_nt.pcap", tlc_nginx(47100, false)),
        ("tlc_nginx13_nt.target.pcap", tlc_nginx(47100, true)),
        ("tlc_nginx12.pcap", tlc_nginx(47200, false)),
        ("tlc_nginx12.target.pcap", tlc_nginx(47200, true)),
        ("tlc_py_close.pcap", tlc_py(47301, false)),
        ("tlc_py_close.target.pcap", tlc_py(47301, true)),
        // one ticket per handshake: from the target alone, the close after one ticket-sized
        // record after the request (47401, 47402: a ticket or a whole answer by its size) is
        // undetermined; its first two health checks, before the cadence shows, are taken
        // for requests (answered, status not visible) on both
        (
            "tlc_py_one.pcap",
            tlc_py(47401, false)
                .into_iter()
                .chain([(0, Category::Undetermined, None, None); 2])
                .collect(),
        ),
        (
            "tlc_py_one.target.pcap",
            [(0, Category::TargetClosedBeforeResponse, Some(502), LB); 2]
                .into_iter()
                .chain([(0, Category::Undetermined, None, None); 7])
                .collect(),
        ),
        // HTTP/2 with prior knowledge from the stand-in (a target group of protocol version
        // HTTP2 or gRPC) to Go's HTTP/1-only server: Go answers the preface `PRI *` with an
        // HTTP/1.1 404 and `Connection: close`; the proxy answers 502. Truth:
        // malformed_response (an HTTP/1.1 answer to HTTP/2); stated undetermined
        // [malformed_response, target_closed_before_response], as albscope reads neither
        // side's bytes there (main before this said target_closed_before_response, "before any
        // response byte", which was false). A known gap: from the target alone nothing is
        // found (the stand-in never sent its HEADERS, so nothing names its requests).
        (
            "gs_go_h2c_mismatch.pcap",
            vec![
                (44301, Category::Undetermined, Some(502), LB),
                (44302, Category::Undetermined, Some(502), LB),
                (44303, Category::Undetermined, Some(502), LB),
            ],
        ),
        ("gs_go_h2c_mismatch.target.pcap", vec![]),
        // tools/realcap/record_tomcat.sh: embedded Apache Tomcat 10.1 (Spring Boot's default
        // server; keepAliveTimeout 2 s: idle closes at about 2.2 s, its poller checking about
        // once a second) and the ways a servlet fails a request
        ("tc_tomcat.pcap", tc_tomcat(false)),
        ("tc_tomcat.target.pcap", tc_tomcat(true)),
        // Tomcat with maxKeepAliveRequests 5: every 5th request of a connection is answered
        // with `Connection: close` and Tomcat closes it (so does its own 500): never a race
        ("tc_tomcat_max.pcap", tc_tomcat_max(false)),
        ("tc_tomcat_max.target.pcap", tc_tomcat_max(true)),
        // Tomcat exhausted (maxThreads 1, maxConnections 1, acceptCount 1): requests on
        // connections the kernel completed but Tomcat never accepted wait out the idle timeout
        // like a slow answer; SYNs dropped while the accept queue is full, then accepted
        ("tc_tomcat_busy.pcap", tc_tomcat_busy(false)),
        ("tc_tomcat_busy.target.pcap", tc_tomcat_busy(true)),
        // the same, exhausted past the connect timeout: SYNs dropped for 10 s (seen from the
        // target alone, a failed connect may be a health check: undetermined)
        ("tc_tomcat_full.pcap", tc_tomcat_full(false)),
        ("tc_tomcat_full.target.pcap", tc_tomcat_full(true)),
        // Tomcat answering 413 before reading an upload (maxSwallowSize 4 KB): a 2 KB body is
        // swallowed, a 96 KB one makes it close the connection after the answer: relayed 413s
        ("tc_tomcat_upload.pcap", tc_tomcat_upload(false)),
        ("tc_tomcat_upload.target.pcap", tc_tomcat_upload(true)),
        // Tomcat sending `Server: Apache-Coyote/1.1` (every Tomcat up to 8.0): four reuses
        // after 2.0-2.15 s idle race its 2 s keepAliveTimeout; the fix names Tomcat's setting
        ("tc_tomcat_coyote.pcap", tc_tomcat_coyote(false)),
        ("tc_tomcat_coyote.target.pcap", tc_tomcat_coyote(true)),
        (
            "grpc_status.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetGeneratedError, Some(200), TG),
                // a failed connect seen from the back end alone with no health-check cadence
                // of its node to that target in the capture: a client's attempt or a failed
                // health check (undetermined, no client status inferred)
                (0, Category::Undetermined, None, None),
            ],
        ),
        // tools/realcap/record_nginx.sh: nginx as the ALB node; the truth is each client's
        // result (client port, status) and nginx's access log (for the target's own files:
        // the requests it sent to 10.99.1.11). Seen from the target alone, the ALB's close at
        // the idle timeout and a client that left are undetermined.
        (
            "ngx_apache_ka.pcap",
            vec![
                (40701, Category::Ok, Some(200), TG),
                (40702, Category::Ok, Some(200), TG),
                (40703, Category::KeepaliveRace, Some(502), LB),
                (40704, Category::TargetGeneratedError, Some(503), TG),
                (40705, Category::Ok, Some(200), TG),
                (40705, Category::Ok, Some(410), TG),
                (40706, Category::Ok, Some(200), TG),
            ],
        ),
        // an HTTPS target group (Apache mod_ssl): the back end carries only TLS; the front
        // end (HTTP) shows each status, Apache's 503 and 410 included
        (
            "ngx_apache_tls.pcap",
            vec![
                (40791, Category::Ok, Some(200), TG),
                (40792, Category::Ok, Some(200), TG),
                (40793, Category::Ok, Some(200), TG),
                (40794, Category::TargetGeneratedError, Some(503), TG),
                (40795, Category::Ok, Some(410), TG),
                (40795, Category::Ok, Some(200), TG),
                (40796, Category::Ok, Some(200), TG),
            ],
        ),
        // its target's side alone: TLS only, nothing names the node (see
        // `https_target_group_alone_states_answers_whose_status_is_not_visible` for it told)
        ("ngx_apache_tls.target.pcap", vec![]),
        (
            "ngx_gunicorn_timing.pcap",
            vec![
                (40711, Category::Ok, Some(200), TG),
                (40712, Category::Ok, Some(200), TG),
                (40713, Category::TargetIdleTimeout, Some(504), LB),
                (40714, Category::TargetGeneratedError, Some(500), TG),
                (40715, Category::ClientClosed, None, None),
                (40716, Category::Ok, Some(201), TG),
                (40717, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ngx_connect_fail.pcap",
            vec![
                (40751, Category::Ok, Some(200), TG),
                (40752, Category::TargetConnectRefused, Some(502), LB),
                (40753, Category::TargetConnectTimeout, Some(504), LB),
                (40754, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ngx_burst.pcap",
            vec![
                (40720, Category::Ok, Some(200), TG),
                (40721, Category::Ok, Some(200), TG),
                (40722, Category::Ok, Some(200), TG),
                (40723, Category::Ok, Some(200), TG),
                (40724, Category::Ok, Some(200), TG),
                (40725, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40726, Category::Ok, Some(200), TG),
                (40727, Category::Ok, Some(200), TG),
                (40728, Category::Ok, Some(200), TG),
                (40729, Category::Ok, Some(200), TG),
                (40730, Category::TargetGeneratedError, Some(503), TG),
                (40731, Category::Ok, Some(200), TG),
                (40732, Category::Ok, Some(200), TG),
                (40733, Category::Ok, Some(200), TG),
                (40734, Category::Ok, Some(200), TG),
                (40735, Category::Ok, Some(200), TG),
                (40736, Category::Ok, Some(200), TG),
                (40737, Category::Ok, Some(200), TG),
                (40738, Category::TargetGeneratedError, Some(500), TG),
                (40739, Category::Ok, Some(200), TG),
                (40740, Category::Ok, Some(200), TG),
                (40741, Category::TargetIdleTimeout, Some(504), LB),
                (40742, Category::Ok, Some(200), TG),
                (40743, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40744, Category::Ok, Some(200), TG),
                (40745, Category::Ok, Some(200), TG),
                (40770, Category::Ok, Some(200), TG),
                (40771, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ngx_burst_tls.pcap",
            vec![
                (40820, Category::Ok, Some(200), TG),
                (40821, Category::Ok, Some(200), TG),
                (40822, Category::Ok, Some(200), TG),
                (40823, Category::Ok, Some(200), TG),
                (40824, Category::Ok, Some(200), TG),
                (40825, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40826, Category::Ok, Some(200), TG),
                (40827, Category::Ok, Some(200), TG),
                (40828, Category::Ok, Some(200), TG),
                (40829, Category::Ok, Some(200), TG),
                (40830, Category::TargetGeneratedError, Some(503), TG),
                (40831, Category::Ok, Some(200), TG),
                (40832, Category::Ok, Some(200), TG),
                (40833, Category::Ok, Some(200), TG),
                (40834, Category::Ok, Some(200), TG),
                (40835, Category::Ok, Some(200), TG),
                (40836, Category::Ok, Some(200), TG),
                (40837, Category::Ok, Some(200), TG),
                (40838, Category::TargetGeneratedError, Some(500), TG),
                (40839, Category::Ok, Some(200), TG),
                (40840, Category::Ok, Some(200), TG),
                (40841, Category::TargetIdleTimeout, Some(504), LB),
                (40842, Category::Ok, Some(200), TG),
                (40843, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40844, Category::Ok, Some(200), TG),
                (40845, Category::Ok, Some(200), TG),
                (40870, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ngx_tls_out_of_order.pcap",
            vec![
                (40880, Category::Ok, Some(200), TG),
                (40881, Category::Ok, Some(200), TG),
                (40882, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40883, Category::Ok, Some(200), TG),
                (40884, Category::Ok, Some(200), TG),
                (40885, Category::Ok, Some(200), TG),
                (40886, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40887, Category::Ok, Some(200), TG),
                (40888, Category::Ok, Some(200), TG),
                (40889, Category::Ok, Some(200), TG),
                (40890, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40891, Category::Ok, Some(200), TG),
                (40892, Category::Ok, Some(200), TG),
                (40893, Category::Ok, Some(200), TG),
                (40894, Category::TargetClosedBeforeResponse, Some(502), LB),
                (40895, Category::Ok, Some(200), TG),
                (40896, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ngx_apache_ka.target.pcap",
            vec![
                (0, Category::KeepaliveRace, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(410), TG),
                (0, Category::TargetGeneratedError, Some(503), TG),
            ],
        ),
        (
            "ngx_gunicorn_timing.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(201), TG),
                (0, Category::TargetGeneratedError, Some(500), TG),
                (0, Category::Undetermined, None, None),
                (0, Category::Undetermined, None, None),
            ],
        ),
        (
            "ngx_connect_fail.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                // refused, seen from the back end alone with no health-check cadence (nginx
                // sends none): a client's attempt or a failed health check, undetermined
                (0, Category::Undetermined, None, None),
            ],
        ),
        (
            "ngx_burst.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
            ],
        ),
        (
            "ngx_burst_tls.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetGeneratedError, Some(503), TG),
                (0, Category::Undetermined, None, None),
            ],
        ),
        (
            "ngx_tls_out_of_order.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
            ],
        ),
        (
            "ngx_uvicorn.pcap",
            vec![
                (40761, Category::Ok, Some(200), TG),
                // a keep-alive race by the recording (uvicorn --timeout-keep-alive 2, its FIN
                // dropped before the capture point), but the capture shows only the target's
                // RST at the request after 2.15 s idle and no idle close of its own: a reset
                // of the request looks the same (the next connect, 0.38 s later, is accepted:
                // no sign the target stopped accepting)
                (40762, Category::Undetermined, Some(502), LB),
                (40763, Category::Ok, Some(200), TG),
                // headers, then the body stalled past the idle timeout: nginx closed (curl exit 18)
                (40764, Category::IncompleteBody, None, LB),
                (40765, Category::Ok, Some(200), TG),
                (40766, Category::TargetIdleTimeout, Some(504), LB),
            ],
        ),
        (
            "ngx_apache_upload.pcap",
            vec![
                (40781, Category::Ok, Some(200), TG),
                (40782, Category::Ok, Some(413), TG),
                (40783, Category::Ok, Some(413), TG),
                (40784, Category::Ok, Some(200), TG),
                (40785, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "ngx_uvicorn.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                // the stalled body cut by the ALB's close: its idle timeout or a client that left
                (0, Category::Undetermined, Some(200), TG),
                (0, Category::Undetermined, None, None),
                // the reset at the request, as on the mirror side
                (0, Category::Undetermined, Some(502), LB),
            ],
        ),
        (
            "ngx_apache_upload.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(413), TG),
                (0, Category::Ok, Some(413), TG),
            ],
        ),
        (
            // tools/realcap/record_caddy.sh: Caddy as the node, plain HTTP/1.1 front end,
            // concurrent client connections, Node.js target (samples/real/README.md).
            "cdy_h1_mixed.pcap",
            vec![
                (41401, Category::Ok, Some(200), TG),
                (41410, Category::Ok, Some(200), TG),
                (41410, Category::TargetClosedBeforeResponse, Some(502), LB),
                (41411, Category::TargetGeneratedError, Some(503), TG),
                (41412, Category::Ok, Some(200), TG),
                (41413, Category::TargetConnectRefused, Some(502), LB),
                (41414, Category::Ok, Some(200), TG),
                (41420, Category::TargetIdleTimeout, Some(504), LB),
                (41420, Category::Ok, Some(200), TG),
                (41421, Category::TargetGeneratedError, Some(500), TG),
                (41422, Category::TargetClosedBeforeResponse, Some(502), LB),
                // Caddy answers a dial timeout with 502 (an ALB: 504); the wire says 502
                (41431, Category::TargetConnectTimeout, Some(502), LB),
                (41432, Category::Ok, Some(200), TG),
                // Caddy (Go's transport) sent the reset GET /reset/s2 again on a new
                // connection, reset too: a back-end attempt no client request stands for
                // (an ALB does not retry)
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
            ],
        ),
        (
            // the same from the target's side: the refused connect (port 8081 of the same
            // host) and the request the node gave up on at 5 s cannot be told apart from the
            // back end alone (as in ngx_connect_fail.target and idle_timeout.target)
            "cdy_h1_mixed.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::Undetermined, None, None),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetGeneratedError, Some(503), TG),
                (0, Category::Undetermined, None, None),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetGeneratedError, Some(500), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // tools/realcap/record_caddy.sh cdy_h2_single: one request per client connection,
            // HTTP/2 over TLS 1.3 (ALPN hidden) and 1.2 from curl (offers h2 and http/1.1)
            // and Node.js (offers h2 only), HTTP/1.1 over TLS for contrast; no key log: the
            // HTTP/2 ones are read from their handshake and record sizes
            // (`alb::multiplex`), each back-end request one stream of its client connection.
            "cdy_h2_single.pcap",
            cdy_h2_single(false),
        ),
        ("cdy_h2_single.target.pcap", cdy_h2_single(true)),
        (
            // the same node speaking HTTP/1.1 only over TLS 1.3 to clients that offer h2 and
            // http/1.1 (the selection hidden): no record shows HTTP/2 and each burst is a
            // request; the POST whose 12-byte body went after an interim `100 Continue` is
            // not taken for HTTP/2 (the closest look-alike, see `alb::multiplex`). The reset
            // GET: Caddy's retry gives the connection more back-end requests than bursts,
            // which reads as HTTP/2 streams (an ALB does not retry).
            "cdy_h1_tls13.pcap",
            vec![
                (41601, Category::Ok, Some(200), TG),
                (41602, Category::TargetClosedBeforeResponse, Some(502), LB),
                (41602, Category::TargetClosedBeforeResponse, Some(502), LB),
                (41603, Category::TargetGeneratedError, Some(503), TG),
                (41604, Category::TargetConnectRefused, Some(502), LB),
                (41605, Category::Ok, Some(200), TG),
                (41605, Category::Ok, Some(200), TG),
                (41606, Category::Ok, Some(200), TG),
            ],
        ),
        (
            "cdy_h1_tls13.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::TargetGeneratedError, Some(503), TG),
                (0, Category::Undetermined, None, None),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
        (
            // Caddy's HTTP/2 over TLS front end (TLS 1.3: ALPN hidden) seen from the target:
            // the same targets and failures, no retry
            "cdy_h2_mixed.target.pcap",
            vec![
                (0, Category::Ok, Some(200), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, None, None),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetGeneratedError, Some(503), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::Undetermined, None, None),
                (0, Category::TargetGeneratedError, Some(500), TG),
                (0, Category::Ok, Some(200), TG),
                (0, Category::TargetClosedBeforeResponse, Some(502), LB),
                (0, Category::Ok, Some(200), TG),
            ],
        ),
    ]
}

/// `cdy_h2_single` (client ports, with 0 on the target's side). Caddy resent each reset GET
/// once on a new connection (Go's transport retries an idempotent request whose reused
/// connection failed; an ALB does not retry): two back-end attempts for one client request.
/// Without keys both stand for a stream of the client's connection; decrypted (or on an
/// HTTP/1.1 front end) the second matches no front-end request. From the target alone the
/// refused connects (port 8081) carry no request and stay undetermined.
fn cdy_h2_single(target_side: bool) -> Vec<Want> {
    let p = |port: u16| if target_side { 0 } else { port };
    let mut out = vec![
        (p(41501), Category::Ok, Some(200), TG),
        (p(41503), Category::TargetGeneratedError, Some(503), TG),
        (p(41511), Category::Ok, Some(200), TG),
        (p(41521), Category::Ok, Some(200), TG),
        (p(41522), Category::TargetGeneratedError, Some(500), TG),
        (p(41531), Category::Ok, Some(200), TG),
        (p(41533), Category::TargetGeneratedError, Some(503), TG),
    ];
    for port in [41504, 41534] {
        out.push(if target_side {
            (0, Category::Undetermined, None, None)
        } else {
            (port, Category::TargetConnectRefused, Some(502), LB)
        });
    }
    for port in [41502, 41512, 41523, 41532] {
        out.push((p(port), Category::TargetClosedBeforeResponse, Some(502), LB));
        // the retry: an HTTP/1.1 front end shows its one request
        let retry = if port == 41532 { 0 } else { p(port) };
        out.push((retry, Category::TargetClosedBeforeResponse, Some(502), LB));
    }
    out
}

/// The requests of client ports `ports`, `ok` but the `raced` ones (`keepalive_race`, the
/// ALB's 502); with client port 0 on the target's side.
fn races(ports: std::ops::RangeInclusive<u16>, raced: &[u16], target_side: bool) -> Vec<Want> {
    ports
        .map(|p| {
            let port = if target_side { 0 } else { p };
            if raced.contains(&p) {
                (port, Category::KeepaliveRace, Some(502), LB)
            } else {
                (port, Category::Ok, Some(200), TG)
            }
        })
        .collect()
}

/// Client ports `ports` answered `ok` 200 by the target but those in `failed` (their truth;
/// `failed_target_side` overrides it seen from the target alone), client port 0 on the
/// target's side.
fn outcomes(
    ports: impl Iterator<Item = u16>,
    failed: &[Want],
    failed_target_side: &[Want],
    target_side: bool,
) -> Vec<Want> {
    ports
        .map(|p| {
            let find = |l: &[Want]| l.iter().find(|w| w.0 == p).copied();
            let want = (target_side.then(|| find(failed_target_side)).flatten())
                .or_else(|| find(failed))
                .unwrap_or((p, Category::Ok, Some(200), TG));
            (if target_side { 0 } else { p }, want.1, want.2, want.3)
        })
        .collect()
}

/// `nw_node`: two reuses at Node's idle close (6.0 and 6.1 s after the previous request) race
/// it; a socket destroyed (FIN) or reset without an answer and a process that exits before
/// any response byte are closes before the answer; one that exits after 100 of 1000 body bytes
/// cuts the body; bytes that are no HTTP response; an answer after 8 s (the proxy's idle
/// timeout is 5 s: seen from the target alone, a client that left looks the same).
fn nw_node(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        43001..=43023,
        &[
            (43008, KeepaliveRace, Some(502), LB),
            (43010, KeepaliveRace, Some(502), LB),
            (43012, TargetClosedBeforeResponse, Some(502), LB),
            (43014, TargetClosedBeforeResponse, Some(502), LB),
            (43016, TargetClosedBeforeResponse, Some(502), LB),
            (43018, IncompleteBody, None, LB),
            (43020, MalformedResponse, Some(502), LB),
            (43021, TargetIdleTimeout, Some(504), LB),
        ],
        &[(43021, Undetermined, None, None)],
        target_side,
    )
}

/// `nw_java`: of the sweep over the JDK's idle-close window, three reuses race its timer
/// (43146 after 2.76 s idle, 43154 after 2.39 s: its usual closes; 43152 after 3.02 s, later
/// than any idle close it showed, reset: the capture cannot tell it from a reset of the
/// request, so undetermined); a handler that throws (closed, no answer); a body cut short by
/// the exchange's close and by the JVM halting; its own 500; an answer after 8 s.
fn nw_java(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        [43101, 43102]
            .into_iter()
            .chain(43131..=43162)
            .chain(43121..=43129),
        &[
            (43146, KeepaliveRace, Some(502), LB),
            (43152, Undetermined, Some(502), LB),
            (43154, KeepaliveRace, Some(502), LB),
            (43122, TargetClosedBeforeResponse, Some(502), LB),
            (43124, IncompleteBody, None, LB),
            (43125, TargetGeneratedError, Some(500), TG),
            (43126, TargetIdleTimeout, Some(504), LB),
            (43128, IncompleteBody, None, LB),
        ],
        &[(43126, Undetermined, None, None)],
        target_side,
    )
}

/// `tc_tomcat`: of the sweep over Tomcat's idle-close window, the reuses after 2.03 and 2.14 s
/// idle meet its close (its FIN, retransmitted, 15 µs after the request: the JDK closes a
/// selector-registered socket by shutting its output first, so the request is acknowledged,
/// not reset); a servlet that throws (Tomcat's own 500 page, `Connection: close`); one that
/// throws after committing 100 of 1000 body bytes (Tomcat closes the connection); the
/// servlet's own 503; an answer after 8 s; the JVM halting before any response byte.
fn tc_tomcat(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        [44001, 44002]
            .into_iter()
            .chain(44031..=44062)
            .chain(44011..=44020),
        &[
            (44032, KeepaliveRace, Some(502), LB),
            (44034, KeepaliveRace, Some(502), LB),
            (44012, TargetGeneratedError, Some(500), TG),
            (44014, IncompleteBody, None, LB),
            (44015, TargetGeneratedError, Some(503), TG),
            (44017, TargetIdleTimeout, Some(504), LB),
            (44019, TargetClosedBeforeResponse, Some(502), LB),
        ],
        &[(44017, Undetermined, None, None)],
        target_side,
    )
}

/// `tc_tomcat_max`: see its truth rows.
fn tc_tomcat_max(target_side: bool) -> Vec<Want> {
    outcomes(
        44101..=44118,
        &[(44113, Category::TargetGeneratedError, Some(500), TG)],
        &[],
        target_side,
    )
}

/// `tc_tomcat_busy`: see its truth rows; seen from the target alone, the proxy's reset at the
/// idle timeout looks like a client that left (undetermined).
fn tc_tomcat_busy(target_side: bool) -> Vec<Want> {
    use Category::*;
    let idle = |p| (p, TargetIdleTimeout, Some(504), LB);
    let undetermined = |p| (p, Undetermined, None, None);
    outcomes(
        44201..=44207,
        &[idle(44202), idle(44203), idle(44204), idle(44206)],
        &[
            undetermined(44202),
            undetermined(44203),
            undetermined(44204),
            undetermined(44206),
        ],
        target_side,
    )
}

/// `tc_tomcat_full`: see its truth rows.
fn tc_tomcat_full(target_side: bool) -> Vec<Want> {
    use Category::*;
    let idle = |p| (p, TargetIdleTimeout, Some(504), LB);
    let undetermined = |p| (p, Undetermined, None, None);
    outcomes(
        44301..=44306,
        &[
            idle(44302),
            idle(44303),
            idle(44304),
            (44305, TargetConnectTimeout, Some(504), LB),
        ],
        &[
            undetermined(44302),
            undetermined(44303),
            undetermined(44304),
            undetermined(44305),
        ],
        target_side,
    )
}

/// `tc_tomcat_upload`: see its truth rows.
fn tc_tomcat_upload(target_side: bool) -> Vec<Want> {
    let refused = |p| (p, Category::Ok, Some(413), TG);
    outcomes(
        44401..=44406,
        &[refused(44402), refused(44404)],
        &[],
        target_side,
    )
}

/// `tc_tomcat_coyote`: see its truth rows.
fn tc_tomcat_coyote(target_side: bool) -> Vec<Want> {
    let race = |p| (p, Category::KeepaliveRace, Some(502), LB);
    outcomes(
        [44501, 44502]
            .into_iter()
            .chain(44511..=44518)
            .chain([44521]),
        &[race(44512), race(44514), race(44516), race(44518)],
        &[],
        target_side,
    )
}

/// `nw_node_upload`: see its truth rows.
fn nw_node_upload(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        43301..=43305,
        &[
            (43302, TargetClosedBeforeResponse, Some(502), LB),
            (43304, TargetClosedBeforeResponse, Some(502), LB),
        ],
        &[],
        target_side,
    )
}

/// `gs_go_ka`: see its truth rows.
fn gs_go_ka(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        [44001, 44002]
            .into_iter()
            .chain(44011..=44026)
            .chain([44041, 44042]),
        &[
            (44018, KeepaliveRace, Some(502), LB),
            (44020, KeepaliveRace, Some(502), LB),
        ],
        &[],
        target_side,
    )
}

/// `gs_go_fail`: see its truth rows.
fn gs_go_fail(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        44101..=44119,
        &[
            (44102, TargetClosedBeforeResponse, Some(502), LB),
            (44104, IncompleteBody, None, LB),
            (44106, TargetClosedBeforeResponse, Some(502), LB),
            (44108, TargetClosedBeforeResponse, Some(502), LB),
            (44110, IncompleteBody, None, LB),
            (44112, TargetClosedBeforeResponse, Some(502), LB),
            (44114, IncompleteBody, None, LB),
            (44116, TargetGeneratedError, Some(500), TG),
            (44117, TargetGeneratedError, Some(503), TG),
            (44118, TargetIdleTimeout, Some(504), LB),
        ],
        &[(44118, Undetermined, None, None)],
        target_side,
    )
}

/// `gs_go_tls_hc`: see its truth rows. From the target alone (TLS only) the closes before an
/// answer are read from the TLS records (a close_notify is no answer); every answered request
/// is answered, status not visible (undetermined, no status), the cut body and the 500
/// included, and the answer after the idle timeout is undetermined.
fn gs_go_tls_hc(target_side: bool) -> Vec<Want> {
    use Category::*;
    // 44505's close came 0.3 ms after its request, after 1.2 s idle, and Go's keep-alive
    // timer (30 s) shows nowhere: a keep-alive race cannot be ruled out (undetermined, the
    // ALB's 502 either way); 44507's reset came 11.9 ms after it, past the round trip
    let raced = (Undetermined, Some(502), LB);
    let closed = (TargetClosedBeforeResponse, Some(502), LB);
    if target_side {
        return (44501..=44510)
            .map(|p| match p {
                44505 => (0, raced.0, raced.1, raced.2),
                44507 => (0, closed.0, closed.1, closed.2),
                _ => (0, Undetermined, None, None),
            })
            .collect();
    }
    outcomes(
        44501..=44510,
        &[
            (44503, IncompleteBody, None, LB),
            (44505, raced.0, raced.1, raced.2),
            (44507, closed.0, closed.1, closed.2),
            (44508, TargetGeneratedError, Some(500), TG),
            (44509, TargetIdleTimeout, Some(504), LB),
        ],
        &[],
        false,
    )
}

/// `tl_nginx_tls13`, `tl_nginx_tls12`, `tl_apache_tls` (client ports from `base`): see their
/// truth rows. From the target alone without keys every answer is encrypted: the close before
/// an answer is read from the records, the cut answer is undetermined (the target's close
/// 0.2 s after its last record: see [`tls_answers_cut_by_the_target_are_undetermined`]), the
/// others answered, status not visible, and the close at the idle timeout undetermined.
fn tl_tls(base: u16, target_side: bool) -> Vec<Want> {
    use Category::*;
    let closed = (base + 5, TargetClosedBeforeResponse, Some(502), LB);
    if target_side {
        return (base + 1..=base + 8)
            .chain(base + 10..=base + 23)
            .chain([base + 30])
            .map(|p| {
                let want = if p == closed.0 {
                    closed
                } else {
                    (p, Undetermined, None, None)
                };
                (0, want.1, want.2, want.3)
            })
            .collect();
    }
    outcomes(
        (base + 1..=base + 8)
            .chain(base + 10..=base + 23)
            .chain([base + 30]),
        &[
            (base + 3, IncompleteBody, None, LB),
            closed,
            (base + 6, TargetGeneratedError, Some(500), TG),
            (base + 7, TargetGeneratedError, Some(502), TG),
            (base + 8, TargetIdleTimeout, Some(504), LB),
        ],
        &[],
        false,
    )
}

/// `tlc_nginx13`, `tlc_nginx13_nt`, `tlc_nginx12` (client ports from `base`): nginx's
/// `return 444` on new connections (`base` + 1, 2) and on reused ones (+ 5, 7), answers
/// otherwise (204 for + 6, 8). From the target alone the answers are encrypted: answered,
/// status not visible.
fn tlc_nginx(base: u16, target_side: bool) -> Vec<Want> {
    use Category::*;
    let closed = [base + 1, base + 2, base + 5, base + 7];
    (base + 1..=base + 9)
        .map(|p| {
            let port = if target_side { 0 } else { p };
            if closed.contains(&p) {
                (port, TargetClosedBeforeResponse, Some(502), LB)
            } else if target_side {
                (port, Undetermined, None, None)
            } else if p == base + 6 || p == base + 8 {
                (port, Ok, Some(204), TG)
            } else {
                (port, Ok, Some(200), TG)
            }
        })
        .collect()
}

/// `tlc_py_close`, `tlc_py_one` (client ports from `first`): Python `ssl` (TLS 1.3) reading
/// the request and closing (FIN: `first`, + 3) or resetting (+ 1, + 5), on new and on reused
/// connections; answers otherwise.
fn tlc_py(first: u16, target_side: bool) -> Vec<Want> {
    use Category::*;
    (first..=first + 6)
        .map(|p| {
            let port = if target_side { 0 } else { p };
            if [first, first + 1, first + 3, first + 5].contains(&p) {
                (port, TargetClosedBeforeResponse, Some(502), LB)
            } else if target_side {
                (port, Undetermined, None, None)
            } else {
                (port, Ok, Some(200), TG)
            }
        })
        .collect()
}

/// `gs_go_rt`: see its truth rows.
fn gs_go_rt(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        [44201, 44202]
            .into_iter()
            .chain(44211..=44220)
            .chain(44231..=44233),
        &[
            (44216, KeepaliveRace, Some(502), LB),
            (44232, Ok, Some(400), TG),
        ],
        &[],
        target_side,
    )
}

/// `nw_puma`: see its truth rows.
fn nw_puma(target_side: bool) -> Vec<Want> {
    use Category::*;
    outcomes(
        [43201, 43202]
            .into_iter()
            .chain(43211..=43222)
            .chain(43231..=43236),
        &[
            (43220, KeepaliveRace, Some(502), LB),
            (43222, KeepaliveRace, Some(502), LB),
            (43232, TargetGeneratedError, Some(500), TG),
            (43233, TargetClosedBeforeResponse, Some(502), LB),
            (43235, TargetIdleTimeout, Some(504), LB),
        ],
        &[(43235, Undetermined, None, None)],
        target_side,
    )
}

#[test]
fn real_recordings_match_their_ground_truth() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, want) in truth() {
        let Some(a) = analyze(file) else {
            failures.push(format!("{file}: missing"));
            continue;
        };
        checked += 1;
        let mut want = want;
        let mut got: Vec<Want> = a
            .requests
            .iter()
            .map(|r| {
                let port = r.client.map_or(0, |c| c.port);
                (port, r.category, r.status, r.generated_by)
            })
            .collect();
        want.sort();
        got.sort();
        if want != got {
            failures.push(format!("{file}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The client-side recordings of tools/realcap/record_front.sh: a 502 12.5 s after the request
/// keeps only what can fail that late (no keep-alive race, refusal or ICMP: a connect ends
/// before the 10 s connect timeout; a TLS handshake may still time out after a slow connect),
/// one 21 s after it drops the TLS failures too; a client that gave up on a plain-HTTP request
/// nothing answered names no node, so its server is named as the likely one, with the flags
/// that, passed, explain the request (client_closed).
#[test]
fn client_side_recordings_narrow_or_name_the_node() {
    let Some(a) = analyze("frl_late_502.client.pcap") else {
        panic!("samples/real/frl_late_502.client.pcap missing");
    };
    let cands = |port: u16| -> Vec<Category> {
        a.requests
            .iter()
            .find(|r| r.client.is_some_and(|c| c.port == port))
            .map(|r| r.candidates.clone())
            .unwrap_or_default()
    };
    let at_12 = cands(40612);
    assert_eq!(at_12.first(), Some(&Category::TargetClosedBeforeResponse));
    assert!(at_12.contains(&Category::TargetTlsHandshakeTimeout));
    for ruled_out in [
        Category::KeepaliveRace,
        Category::TargetConnectRefused,
        Category::TargetUnreachableIcmp,
        Category::TargetConnectTimeout,
    ] {
        assert!(!at_12.contains(&ruled_out), "{ruled_out:?} in {at_12:?}");
    }
    assert_eq!(
        cands(40613),
        vec![
            Category::TargetClosedBeforeResponse,
            Category::DeregistrationAbort,
            Category::MalformedResponse,
            Category::ResponseHeaderTooLarge,
        ]
    );

    let json = cli_json("samples/real/frl_gave_up.client.pcap", &[]);
    assert_eq!(json["vantage"], "unknown");
    let first = &json["alb_candidates"][0];
    assert_eq!(first["reading"], "http_listener");
    assert_eq!(first["flags"], "--alb-ip 10.99.0.1 --listener-port 80");
    assert_eq!(first["exchanges"], 1);
    let told = cli_json(
        "samples/real/frl_gave_up.client.pcap",
        &["--alb-ip", "10.99.0.1", "--listener-port", "80"],
    );
    assert_eq!(told["requests"][0]["category"], "client_closed");
    assert!(told["alb_candidates"]
        .as_array()
        .is_none_or(|c| c.is_empty()));
}

/// An HTTPS target group seen from its target's side alone, told the ALB node: every answer
/// is TLS and no front end is captured, so none is claimed ok (Apache's 503 among them): 7
/// answered, status not visible, in no status code count, each saying what to capture.
#[test]
fn https_target_group_alone_states_answers_whose_status_is_not_visible() {
    let path = Path::new("samples/real/ngx_apache_tls.target.pcap");
    if !path.exists() {
        panic!("samples/real/ngx_apache_tls.target.pcap missing");
    }
    let mut reader = CaptureReader::open(&[&path]).expect("open");
    let config = AlbConfig {
        idle_timeout: Some(Duration::from_millis(5_000)),
        alb_ips: vec!["10.99.0.1".parse().expect("ip")],
        ..AlbConfig::default()
    };
    let a = analyze_capture(&mut reader, &PipelineConfig::default(), config, true);
    let s = &a.summary;
    assert_eq!(
        (
            s.requests,
            s.ok,
            s.failed,
            s.outcome_not_visible,
            s.answered_not_visible
        ),
        (7, 0, 0, 7, 7)
    );
    let m = &a.metrics.cloudwatch.counts;
    assert_eq!(
        (m.target_2xx, m.target_4xx, m.target_5xx, m.elb_5xx),
        (0, 0, 0, 0),
        "no status is counted that the capture cannot read"
    );
    for r in &a.requests {
        assert!(r.outcome_not_visible && !r.is_failure(), "{r:#?}");
        assert_eq!((r.status, r.generated_by), (None, None), "{r:#?}");
        let said = albscope::report::views::status_sentence(r);
        assert!(said.contains("front end"), "{said}");
    }
    let mut out = Vec::new();
    albscope::report::markdown::write_markdown(&a, &mut out).expect("markdown");
    let md = String::from_utf8(out).expect("utf-8");
    assert!(
        md.contains("7 answered, status not visible") && md.contains("--tls-keylog"),
        "{md}"
    );
}

/// `tlc_py_one.target.pcap` (one TLS 1.3 session ticket per handshake): the closes on new
/// connections whose only server record after the request is one 250-byte record (the size
/// of the target's ticket, and of a small answer) are undetermined, the truth
/// (`target_closed_before_response`) first among their candidates, with the record cited; the
/// closes on reused connections are read as closes.
#[test]
fn one_ticket_sized_record_before_a_target_close_is_undetermined() {
    let Some(a) = analyze("tlc_py_one.target.pcap") else {
        panic!("samples/real/tlc_py_one.target.pcap missing");
    };
    let lone: Vec<_> = a
        .requests
        .iter()
        .filter(|r| r.category == Category::Undetermined && !r.outcome_not_visible)
        .collect();
    assert_eq!(lone.len(), 2, "{:#?}", a.requests);
    for r in lone {
        assert_eq!(
            r.candidates,
            [
                Category::TargetClosedBeforeResponse,
                Category::Ok,
                Category::TargetGeneratedError
            ]
        );
        assert_eq!((r.status, r.generated_by), (None, None));
        assert!(
            r.evidence.iter().any(|e| matches!(
                e,
                albscope::diagnose::evidence::Evidence::TicketOrAnswer { bytes: 250, .. }
            )),
            "{r:#?}"
        );
    }
}

/// Health checks seen from the targets' side are never client requests: over TLS (answered,
/// or failing with an alert) and refused connects, told apart by their steady interval. An
/// answered check over TLS is not a proved pass: its status is encrypted ("answered, status
/// not visible", neither passed nor failed); an alert or a refused connect fails visibly.
#[test]
fn health_checks_from_the_targets_side_are_counted_apart() {
    for (file, checks, failed, not_visible) in [
        ("tls_backend.target.pcap", 7, 0, 7),
        ("tls_backend_alert.target.pcap", 4, 4, 0),
        ("hc_refused.target.pcap", 8, 8, 0),
    ] {
        let Some(a) = analyze(file) else {
            panic!("samples/real/{file} missing");
        };
        let h = &a.health_checks;
        assert_eq!(
            (h.checks, h.failed, h.not_visible),
            (checks, failed, not_visible),
            "{file}"
        );
        for t in h.by_target.values() {
            assert!(
                !t.statuses.contains_key(&None) || t.failed > 0,
                "an answered check is not shown as unanswered: {file} {t:?}"
            );
        }
    }
}

#[test]
fn mixed_two_nodes_shows_both_nodes_and_health_checks_apart() {
    let Some(a) = analyze("mixed_two_nodes.pcap") else {
        panic!("samples/real/mixed_two_nodes.pcap missing");
    };
    let mut nodes: Vec<String> = a.alb_nodes.iter().map(|n| n.ip.to_string()).collect();
    nodes.sort();
    assert_eq!(nodes, ["10.99.0.1", "10.99.0.2"]);
    assert!(a.health_checks.checks > 0);
    assert_eq!(
        a.summary.requests, 19,
        "health checks are not client requests"
    );
    // The target that closes idle connections after 2 s is recognised from those closes.
    let t2 = a
        .targets
        .iter()
        .find(|t| t.target.to_string() == "10.99.1.12:8080")
        .expect("target t2");
    let ka = t2
        .keepalive_timeout
        .expect("keep-alive read from idle closes")
        .as_secs_f64();
    assert!((ka - 2.0).abs() < 0.3, "{ka}");
}

/// The JSON verdict names the gRPC errors of a group as the text, Markdown and HTML verdicts
/// do (`grpc_status.pcap`: the target's INTERNAL (13) under HTTP 200); groups without gRPC
/// errors have no `grpc` field.
#[test]
fn json_verdict_names_grpc_errors_per_group() {
    for file in ["grpc_status.pcap", "grpc_status.target.pcap"] {
        let Some(a) = analyze(file) else { continue };
        let mut out = Vec::new();
        albscope::report::write_json(&a.failures_only(), &mut out).expect("json");
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("parse");
        assert_eq!(doc["schema_version"], 2);
        let groups = doc["verdict"]["groups"].as_array().expect("groups");
        for g in groups {
            if g["category"] == "target_generated_error" {
                assert_eq!(
                    g["grpc"],
                    serde_json::json!({"errors": [{"code": 13, "name": "INTERNAL"}], "only": true}),
                    "{file}"
                );
            } else {
                assert!(g.get("grpc").is_none(), "{file}: {g}");
            }
        }
        assert!(
            groups
                .iter()
                .any(|g| g["category"] == "target_generated_error"),
            "{file}"
        );
    }
}

/// HAProxy (as the ALB) answers a client's HTTP/2 stream it cannot serve with RST_STREAM
/// REFUSED_STREAM: that is an answer (the stream refused unprocessed, safe to retry), worded
/// from the typed error code, never "nobody answered"; where the back end shows the target got
/// the request (it reset its own stream with INTERNAL_ERROR), the retry caveat says so, and
/// not where the target's GOAWAY refused the stream unprocessed.
#[test]
fn a_refused_http2_stream_is_an_answer() {
    let Some(a) = analyze("h2c_streams.pcap") else {
        return;
    };
    let failed: Vec<_> = a.requests.iter().filter(|f| f.is_failure()).collect();
    assert_eq!(failed.len(), 2);
    for f in &failed {
        let r = f.client_stream_reset.expect("a stream reset to the client");
        assert_eq!(r.code, 7, "REFUSED_STREAM");
        let s = albscope::report::views::status_sentence(f);
        assert!(!s.contains("nobody answered"), "{s}");
        assert!(s.contains("refused the HTTP/2 stream"), "{s}");
        assert!(s.contains("REFUSED_STREAM (0x7)"), "{s}");
        let caveat = s.contains("the target had received the request");
        match f.category {
            Category::TargetClosedBeforeResponse => {
                assert!(r.target_received == Some(true) && caveat, "{s}")
            }
            Category::KeepaliveRace => {
                assert!(r.target_received == Some(false) && !caveat, "{s}")
            }
            c => panic!("unexpected {c}"),
        }
    }
    let mut out = Vec::new();
    albscope::report::write_json(&a.failures_only(), &mut out).expect("json");
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("parse");
    let resets: Vec<&serde_json::Value> = doc["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| &r["client_stream_reset"]["name"])
        .collect();
    assert_eq!(resets, vec!["REFUSED_STREAM", "REFUSED_STREAM"]);
}

/// `albscope analyze --format json --idle-timeout 5 --all FILE ARGS` from the repository root.
pub(crate) fn cli_json(file: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_albscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "analyze",
            file,
            "--format",
            "json",
            "--idle-timeout",
            "5",
            "--all",
        ])
        .args(args)
        .output()
        .expect("run albscope");
    serde_json::from_slice(&out.stdout).expect("a JSON document")
}

/// A JSON report's requests as (client port, category, status), sorted (port 0: no client).
fn by_client_port(v: &serde_json::Value) -> Vec<(u64, String, Option<u64>)> {
    let mut out: Vec<_> = v["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            let port = r["client"]
                .as_str()
                .and_then(|c| c.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            (
                port,
                r["category"].as_str().unwrap_or("").to_string(),
                r["status"].as_u64(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Caddy's HTTP/2 over TLS front end (`cdy_h2_mixed`, TLS 1.3: the ALPN selection hidden; the
/// clients' key log recorded beside it). Decrypted, every client request (one per stream) is
/// right; without the keys every stream has the decrypted analysis's category (its status
/// inferred where the front end hides it).
/// The connections carrying one stream (41301, 41332) are told HTTP/2 by their record sizes
/// (`Http2Evidence::SettingsAck`); 41331's records do not show it (its client sent its
/// SETTINGS acknowledgement right behind its request, not after the server's data), so its
/// one burst no back-end request matched is an exchange whose outcome is not visible, never
/// a failure.
#[test]
fn caddy_http2_front_end_with_and_without_keys() {
    let file = "samples/real/cdy_h2_mixed.pcap";
    let keys = "samples/real/cdy_h2_mixed.keys";
    if !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(file)
        .exists()
    {
        panic!("{file} missing");
    }
    let truth = cli_json(file, &["--tls-keylog", keys]);
    let got = by_client_port(&truth);
    let mut want: Vec<(u64, String, Option<u64>)> = [
        (41301, "ok", 200),
        (41310, "ok", 200),
        (41310, "target_closed_before_response", 502),
        (41310, "target_generated_error", 503),
        (41310, "ok", 200),
        (41310, "target_connect_refused", 502),
        (41310, "ok", 200),
        (41320, "target_idle_timeout", 504),
        (41320, "ok", 200),
        (41320, "target_generated_error", 500),
        (41320, "target_closed_before_response", 502),
        // Caddy answers a dial timeout with 502 (an ALB: 504)
        (41331, "target_connect_timeout", 502),
        (41332, "ok", 200),
    ]
    .iter()
    .map(|(p, c, s)| (*p, c.to_string(), Some(*s)))
    .collect();
    want.sort();
    assert_eq!(want, got);
    // Without keys: each back-end request stands for its stream (paths are unique here), with
    // the category and status the decrypted analysis gives it; the rest are the extra bursts.
    let by_path = |v: &serde_json::Value| -> Vec<(String, String, Option<u64>)> {
        let mut out: Vec<_> = v["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().unwrap_or("").to_string(),
                    r["category"].as_str().unwrap_or("").to_string(),
                    r["status"].as_u64(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let seen = by_path(&cli_json(file, &[]));
    let want = by_path(&truth);
    let (bare, streams): (Vec<_>, Vec<_>) = seen.into_iter().partition(|r| r.0.is_empty());
    // a stream with a back-end request: the decrypted category, or undetermined (the 504 at
    // the idle timeout: its status is encrypted, the back end shows the node giving up)
    let mut undetermined = 0;
    for s in &streams {
        let w = want
            .iter()
            .find(|w| w.0 == s.0)
            .expect("a stream of the truth");
        if s.1 == "undetermined" {
            undetermined += 1;
        } else {
            assert_eq!((&w.1, w.2), (&s.1, s.2), "{}", s.0);
        }
    }
    assert_eq!((streams.len(), undetermined), (11, 1), "{streams:?}");
    // the two bare attempts (no request to show a path; the dial timeout's status inferred as
    // an ALB's 504), and nothing else
    let mut bare: Vec<(String, Option<u64>)> = bare.into_iter().map(|b| (b.1, b.2)).collect();
    bare.sort();
    let expected = vec![
        ("target_connect_refused".to_string(), Some(502)),
        ("target_connect_timeout".to_string(), Some(504)),
    ];
    assert_eq!(bare, expected);
    let keyless = cli_json(file, &[]);
    let s = &keyless["summary"];
    assert_eq!(
        (
            s["requests"].as_u64(),
            s["encrypted_front"]["exchanges"].as_u64(),
            s["encrypted_front"]["http2_exchanges"].as_u64()
        ),
        (Some(13), Some(1), Some(1)),
        "{s}"
    );
}

/// `cdy_h2_single`, decrypted with the clients' key log and without it: the same category and
/// status for every client connection (one request each), the TLS 1.2 and h2-only ones
/// through their handshake, the TLS 1.3 curl ones through their record sizes; the HTTP/1.1
/// ones as requests of their own; no exchange left over. And `cdy_h1_tls13` likewise.
#[test]
fn caddy_http2_single_stream_connections_with_and_without_keys() {
    let file = "samples/real/cdy_h2_single.pcap";
    let keys = "samples/real/cdy_h2_single.keys";
    let rows = |v: &serde_json::Value| {
        let mut out = by_client_port(v);
        out.dedup();
        out
    };
    let keyed = cli_json(file, &["--tls-keylog", keys]);
    let keyless = cli_json(file, &[]);
    // decrypted, Caddy's retries match no front-end request (port 0); without keys they stand
    // for a second stream of the same connection (dedup'd above)
    let mut want: Vec<_> = rows(&keyed).into_iter().filter(|r| r.0 != 0).collect();
    want.push((0, "target_closed_before_response".to_string(), Some(502)));
    want.sort();
    assert_eq!(rows(&keyless), want);
    assert_eq!(want.len(), 14, "{want:?}");
    assert!(
        keyless["summary"]["encrypted_front"].is_null(),
        "no exchange left over: {}",
        keyless["summary"]
    );
    // HTTP/1.1 over TLS 1.3 to clients that offered h2 (cdy_h1_tls13): the same categories
    // with keys and without (Caddy's retry of the reset GET: port 0 with keys, a second stream
    // of 41602 without); the body sent after the interim 100 Continue is the one exchange left
    // over, not visible and not a request
    let file = "samples/real/cdy_h1_tls13.pcap";
    let keyed = cli_json(file, &["--tls-keylog", "samples/real/cdy_h1_tls13.keys"]);
    let keyless = cli_json(file, &[]);
    let want: Vec<_> = rows(&keyed).into_iter().filter(|r| r.0 != 0).collect();
    assert_eq!(rows(&keyless), want);
    assert_eq!(want.len(), 6, "{want:?}");
    let s = &keyless["summary"];
    assert_eq!(
        (
            s["requests"].as_u64(),
            s["encrypted_front"]["exchanges"].as_u64()
        ),
        (Some(8), Some(1)),
        "{s}"
    );
}

/// The byte range of each record (16-byte header and frame) of a little-endian classic pcap,
/// in file order; a record cut short ends at the end of the bytes.
pub(crate) fn pcap_records(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut records = Vec::new();
    let mut end = 24;
    while let Some(len) = bytes.get(end + 8..end + 12) {
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let next = (end + 16 + len).min(bytes.len());
        records.push(end..next);
        end = next;
    }
    records
}

/// The first `n` packets of a classic pcap (`editcap -r FILE OUT 1-n`).
fn first_packets(bytes: &[u8], n: usize) -> Vec<u8> {
    let records = pcap_records(bytes);
    let end = n
        .checked_sub(1)
        .and_then(|last| records.get(last).or(records.last()))
        .map_or(24, |r| r.end);
    bytes[..end.min(bytes.len())].to_vec()
}

/// The category of a Caddy recording's request by its path (`record_caddy.sh`).
fn cdy_truth(path: &str) -> Category {
    if path.starts_with("/ok") || path.starts_with("/slow/0.6") {
        Category::Ok
    } else if path.starts_with("/reset") || path.starts_with("/slowreset") {
        Category::TargetClosedBeforeResponse
    } else if path.starts_with("/status") {
        Category::TargetGeneratedError
    } else if path.starts_with("/down") {
        Category::TargetConnectRefused
    } else if path.starts_with("/blackhole") {
        Category::TargetConnectTimeout
    } else {
        Category::TargetIdleTimeout
    }
}

/// Cuts `file` (a little-endian classic pcap) after each of its first `packets` packets and
/// analyses every cut without keys; returns each request whose category is neither
/// `undetermined` nor one `allowed(path, client port)` names (`None`: not checked).
fn cut_wrong_answers(
    file: &str,
    packets: usize,
    allowed: impl Fn(Option<&str>, u16) -> Option<Vec<Category>>,
) -> Vec<String> {
    let bytes = std::fs::read(file).expect(file);
    assert_eq!(
        bytes.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "little-endian pcap"
    );
    let name = Path::new(file)
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("cut");
    let dir = crate::scratch::dir(&format!("{name}-cuts"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cut = dir.join("cut.pcap");
    let mut wrong = Vec::new();
    for n in 1..=packets {
        std::fs::write(&cut, first_packets(&bytes, n)).expect("write cut");
        let mut reader = CaptureReader::open(&[&cut]).expect("open cut");
        let config = AlbConfig {
            idle_timeout: Some(Duration::from_millis(5_000)),
            ..AlbConfig::default()
        };
        let a = analyze_capture(&mut reader, &PipelineConfig::default(), config, true);
        for r in &a.requests {
            let port = r.client.map_or(0, |c| c.port);
            let Some(ok) = allowed(r.path.as_deref(), port) else {
                continue;
            };
            if r.category != Category::Undetermined && !ok.contains(&r.category) {
                wrong.push(format!(
                    "{name} cut {n}: {:?} :{port} {:?}",
                    r.path, r.category
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    wrong
}

/// `cdy_h1_mixed` (Caddy, concurrent HTTP/1.1 clients) cut after every packet: no cut states
/// a category its request does not have (undetermined aside). Cut after packets 60-80 the
/// refused connect to :8081 (a bare SYN, nothing to pair by headers) used to go by time to the
/// earliest of the waiting requests (`/status/503/s3`) instead of `/down/s5`.
#[test]
fn caddy_h1_cut_after_every_packet_is_never_wrong() {
    let wrong = cut_wrong_answers("samples/real/cdy_h1_mixed.pcap", 240, |path, _| {
        path.map(|p| vec![cdy_truth(p)])
    });
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Caddy's HTTP/2 over TLS front ends without keys (and its HTTP/1.1-only TLS 1.3 front end,
/// whose clients offered h2 too), cut after every packet: no request states
/// a category its client connection's requests do not have (a request read from the back end
/// by its path; an encrypted exchange, or a failed attempt paired with one, by its client
/// port), whether or not the cut leaves enough records to tell HTTP/2.
#[test]
fn caddy_h2_cut_after_every_packet_is_never_wrong() {
    use Category::*;
    let mixed = |port: u16| match port {
        41301 | 41332 => Some(vec![Ok]),
        41310 => Some(vec![
            Ok,
            TargetClosedBeforeResponse,
            TargetGeneratedError,
            TargetConnectRefused,
        ]),
        41320 => Some(vec![
            Ok,
            TargetIdleTimeout,
            TargetGeneratedError,
            TargetClosedBeforeResponse,
        ]),
        41331 => Some(vec![TargetConnectTimeout]),
        _ => None,
    };
    let mut wrong = cut_wrong_answers(
        "samples/real/cdy_h2_mixed.pcap",
        246,
        |path, port| match path {
            Some(p) if !p.is_empty() => Some(vec![cdy_truth(p)]),
            _ => mixed(port),
        },
    );
    let single = |port: u16| match port {
        41501 | 41511 | 41521 | 41531 => Some(vec![Ok]),
        41502 | 41512 | 41523 | 41532 => Some(vec![TargetClosedBeforeResponse]),
        41503 | 41522 | 41533 => Some(vec![TargetGeneratedError]),
        41504 | 41534 => Some(vec![TargetConnectRefused]),
        _ => None,
    };
    let h1 = |port: u16| match port {
        41601 | 41605 | 41606 => Some(vec![Ok]),
        41602 => Some(vec![TargetClosedBeforeResponse]),
        41603 => Some(vec![TargetGeneratedError]),
        41604 => Some(vec![TargetConnectRefused]),
        _ => None,
    };
    wrong.extend(cut_wrong_answers(
        "samples/real/cdy_h1_tls13.pcap",
        158,
        |path, port| match (path, h1(port)) {
            (_, Some(c)) => Some(c),
            (Some(p), None) if !p.is_empty() => Some(vec![cdy_truth(p)]),
            _ => None,
        },
    ));
    wrong.extend(cut_wrong_answers(
        "samples/real/cdy_h2_single.pcap",
        365,
        |path, port| match (path, single(port)) {
            (_, Some(c)) => Some(c),
            (Some(p), None) if !p.is_empty() => Some(vec![cdy_truth(p)]),
            _ => None,
        },
    ));
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The back-end recordings of Node.js, the JDK's HttpServer and Puma (`record_nodesw.sh`),
/// the vantage users mirror most, cut after every packet: no cut states a category its request
/// (read by its path) does not have. Cut between the JDK's reset and what follows, the reuse
/// after 3.02 s idle (later than any idle close the JDK showed, a race) used to be stated as
/// target_closed_before_response.
#[test]
fn node_java_puma_target_side_cut_after_every_packet_is_never_wrong() {
    use Category::*;
    // the reuses that raced, per file
    let truth = |race: &[&str], path: &str| -> Option<Vec<Category>> {
        Some(vec![match path {
            p if race.contains(&p) => KeepaliveRace,
            p if p.starts_with("/ok") || p.starts_with("/race") || p.starts_with("/close") => Ok,
            p if ["/destroy", "/reset", "/crash/head", "/throw", "/hijack"]
                .iter()
                .any(|s| p.starts_with(s)) =>
            {
                TargetClosedBeforeResponse
            }
            p if ["/crash/body", "/short", "/halt"]
                .iter()
                .any(|s| p.starts_with(s)) =>
            {
                IncompleteBody
            }
            p if p.starts_with("/garbage") => MalformedResponse,
            p if p.starts_with("/status") || p.starts_with("/raise") => TargetGeneratedError,
            p if p.starts_with("/slow") => TargetIdleTimeout,
            _ => return None,
        }])
    };
    let mut wrong = Vec::new();
    let files: [(&str, usize, &[&str]); 3] = [
        (
            "samples/real/nw_node.target.pcap",
            123,
            &["/race/after-6.0", "/race/after-6.1"],
        ),
        (
            "samples/real/nw_java.target.pcap",
            304,
            &["/race/after-2.7", "/race/after-3.0", "/race/after-2.35"],
        ),
        (
            "samples/real/nw_puma.target.pcap",
            88,
            &["/race/after-2.15", "/race/after-2.2"],
        ),
    ];
    for (file, packets, race) in files {
        wrong.extend(cut_wrong_answers(file, packets, |path, _| {
            path.and_then(|p| truth(race, p))
        }));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The recordings of embedded Tomcat (`record_tomcat.sh`), the back-end vantage and both legs,
/// cut after every packet: no cut states a category its request (read by its path) does not
/// have.
#[test]
fn tomcat_cut_after_every_packet_is_never_wrong() {
    use Category::*;
    // the reuses that raced, and the requests Tomcat never accepted in time
    let truth = |race: &[&str], path: &str| -> Option<Vec<Category>> {
        Some(vec![match path {
            p if race.contains(&p) => KeepaliveRace,
            "/ok/queued-1" | "/ok/queued-2" | "/ok/queued-4" => TargetIdleTimeout,
            "/ok/no-accept" => TargetConnectTimeout,
            p if p.starts_with("/reject") => Ok,
            p if p.starts_with("/ok") || p.starts_with("/race") => Ok,
            p if p.starts_with("/throw") || p.starts_with("/status") => TargetGeneratedError,
            p if p.starts_with("/abort") => IncompleteBody,
            p if p.starts_with("/halt") => TargetClosedBeforeResponse,
            p if p.starts_with("/slow") => TargetIdleTimeout,
            _ => return None,
        }])
    };
    let race: &[&str] = &[
        "/race/after-2.0",
        "/race/after-2.05",
        "/race/after-2.1",
        "/race/after-2.15",
    ];
    let mut wrong = Vec::new();
    for (file, packets) in [
        ("samples/real/tc_tomcat.target.pcap", 279),
        ("samples/real/tc_tomcat.pcap", 680),
        ("samples/real/tc_tomcat_max.target.pcap", 79),
        ("samples/real/tc_tomcat_busy.target.pcap", 50),
        ("samples/real/tc_tomcat_busy.pcap", 119),
        ("samples/real/tc_tomcat_full.target.pcap", 36),
        ("samples/real/tc_tomcat_full.pcap", 95),
        ("samples/real/tc_tomcat_upload.target.pcap", 198),
        ("samples/real/tc_tomcat_coyote.target.pcap", 63),
    ] {
        wrong.extend(cut_wrong_answers(file, packets, |path, _| {
            path.and_then(|p| truth(race, p))
        }));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A target sending `Server: Apache-Coyote/1.1` (Tomcat up to 8.0) is Tomcat, not Apache
/// httpd: its keep-alive races are fixed with Tomcat's own setting.
#[test]
fn a_coyote_server_header_gets_tomcats_keepalive_fix() {
    let Some(a) = analyze("tc_tomcat_coyote.target.pcap") else {
        return;
    };
    let fixes: Vec<&str> = a
        .requests
        .iter()
        .filter(|r| r.category == Category::KeepaliveRace)
        .filter_map(|r| r.fix.as_deref())
        .collect();
    assert_eq!(fixes.len(), 4);
    for f in fixes {
        assert!(
            f.contains("Apache Tomcat: keepAliveTimeout=\"10000\"") && !f.contains("httpd"),
            "{f}"
        );
    }
}

/// The Go net/http recordings from the target's side, cut after every packet: no cut states a
/// category its request (read by its path) does not have. Cut between the first chunk a
/// handler flushed and the close that `WriteTimeout` brought 4 s later, `/wt/body` used to be
/// stated `ok` (a chunked body without its last chunk is still arriving: in flight).
#[test]
fn go_target_side_cut_after_every_packet_is_never_wrong() {
    use Category::*;
    let truth = |race: &[&str], path: &str| -> Option<Vec<Category>> {
        Some(vec![match path {
            p if race.contains(&p) => KeepaliveRace,
            p if ["/ok", "/race", "/close", "/upload"]
                .iter()
                .any(|s| p.starts_with(s)) =>
            {
                Ok
            }
            p if ["/panic/head", "/hijack", "/wt/head"]
                .iter()
                .any(|s| p.starts_with(s)) =>
            {
                TargetClosedBeforeResponse
            }
            p if ["/panic/body", "/short", "/wt/body"]
                .iter()
                .any(|s| p.starts_with(s)) =>
            {
                IncompleteBody
            }
            p if p.starts_with("/status") || p.starts_with("/th") => TargetGeneratedError,
            p if p.starts_with("/slow") => TargetIdleTimeout,
            _ => return None,
        }])
    };
    let mut wrong = Vec::new();
    let files: [(&str, usize, &[&str]); 3] = [
        (
            "samples/real/gs_go_ka.target.pcap",
            89,
            &["/race/after-2.0", "/race/after-2.1"],
        ),
        ("samples/real/gs_go_fail.target.pcap", 106, &[]),
        (
            "samples/real/gs_go_rt.target.pcap",
            157,
            &["/race/after-3.0"],
        ),
    ];
    for (file, packets, race) in files {
        wrong.extend(cut_wrong_answers(file, packets, |path, _| {
            path.and_then(|p| truth(race, p))
        }));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `gs_go_tls_hc.target.pcap` (an HTTPS target group seen from its target, TLS 1.3, no keys)
/// cut after every packet: the only category a cut may state is target_closed_before_response,
/// and only for the two requests Go closed before answering (15:10:51.4625, 15:10:53.926);
/// everything else is undetermined (answered, status not visible; the close at the idle
/// timeout), never ok, never a keep-alive race.
#[test]
fn go_https_target_side_without_keys_cut_after_every_packet_is_never_wrong() {
    let file = "samples/real/gs_go_tls_hc.target.pcap";
    let bytes = std::fs::read(file).expect(file);
    let dir = crate::scratch::dir("gs_go_tls_hc-cuts");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cut = dir.join("cut.pcap");
    // 2026-12-07T15:10:51.4625Z and 15:10:53.925986Z: the closed and the reset request's
    // first records
    let closed_requests = [1_796_656_251_462_500_000_i64, 1_796_656_253_925_986_000];
    let mut wrong = Vec::new();
    for n in 1..=177 {
        std::fs::write(&cut, first_packets(&bytes, n)).expect("write cut");
        let mut reader = CaptureReader::open(&[&cut]).expect("open cut");
        let config = AlbConfig {
            idle_timeout: Some(Duration::from_millis(5_000)),
            ..AlbConfig::default()
        };
        let a = analyze_capture(&mut reader, &PipelineConfig::default(), config, true);
        for r in &a.requests {
            let near = closed_requests
                .iter()
                .any(|t| (r.time.0 - t).abs() < 1_000_000);
            let right = r.category == Category::Undetermined
                || (r.category == Category::TargetClosedBeforeResponse && near);
            if !right {
                wrong.push(format!("cut {n}: {} {:?}", r.time.0, r.category));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// HTTPS target groups seen from the target without keys (nginx with TLS 1.3 and 1.2, Apache
/// mod_ssl, Go): an answer its target cut (the upstream behind nginx or Apache reset after 100
/// of 1000 body bytes and the server closed 0.2 s later; Go reset the TCP connection right
/// after its record) is undetermined between a cut body and a close before a whole head,
/// never "answered, status not visible" nor a confident category. Checked against the same
/// file read with the target's key log (the truth): the requests found so are exactly those
/// the keys show cut (`incomplete_body`), no answered one besides.
#[test]
fn tls_answers_cut_by_the_target_are_undetermined() {
    let cut_pair = ["incomplete_body", "target_closed_before_response"];
    for name in [
        "tl_nginx_tls13",
        "tl_nginx_tls12",
        "tl_apache_tls",
        "gs_go_tls_hc",
    ] {
        let file = format!("samples/real/{name}.target.pcap");
        let keys = format!("samples/real/{name}.keys");
        let times = |v: &serde_json::Value, pick: &dyn Fn(&serde_json::Value) -> bool| {
            let mut t: Vec<String> = v["requests"]
                .as_array()
                .expect("requests")
                .iter()
                .filter(|r| pick(r))
                .map(|r| r["time"].as_str().unwrap_or("").to_string())
                .collect();
            t.sort();
            t
        };
        let keyed = cli_json(&file, &["--tls-keylog", &keys]);
        let truth = times(&keyed, &|r| r["category"] == "incomplete_body");
        assert_eq!(truth.len(), 1, "{name}: one cut answer in the truth");
        let bare = cli_json(&file, &[]);
        let found = times(&bare, &|r| {
            r["category"] == "undetermined" && r["candidates"] == serde_json::json!(cut_pair)
        });
        assert_eq!(found, truth, "{name}");
    }
}

/// `gs_go_tls_h2` (tools/realcap/record_gosrv.sh): an HTTPS target group of protocol version
/// HTTP2 to Go's standard library, which serves HTTP/2 on TLS by itself (IdleTimeout 2 s: it
/// ends idle connections with GOAWAY, so reuses near its idle gap do not race; WriteTimeout
/// 3 s). With the target's key log both files are read whole: a handler panic resets its
/// stream (RST_STREAM INTERNAL_ERROR), WriteTimeout resets the stream of a handler still
/// working at 3 s (so an answer due after 8 s is a 502 at 3 s, not the ALB's 504), and a
/// handler that declares Content-Length 1000 and writes 100 bytes ends its stream short of it
/// (END_STREAM: malformed, RFC 9113 8.1.1), which cuts the client's body. Without the keys,
/// both legs: no client request is stated with a wrong category (the cut body is read from
/// the front end; the 502s are undetermined), and the back-end bursts no request matched are
/// never failures.
#[test]
fn go_https_http2_target_with_and_without_keys() {
    let file = "samples/real/gs_go_tls_h2.pcap";
    let keys = "samples/real/gs_go_tls_h2.keys";
    let failed: [(u64, &str, Option<u64>); 5] = [
        (44432, "target_closed_before_response", Some(502)),
        (44433, "target_generated_error", Some(500)),
        (44434, "target_closed_before_response", Some(502)),
        (44435, "incomplete_body", None),
        (44436, "target_closed_before_response", Some(502)),
    ];
    let ports = [44401, 44402]
        .into_iter()
        .chain(44411..=44418)
        .chain(44431..=44437);
    let mut want: Vec<(u64, String, Option<u64>)> = ports
        .map(|p| {
            failed
                .iter()
                .find(|f| f.0 == p)
                .map_or((p, "ok".to_string(), Some(200)), |f| {
                    (p, f.1.to_string(), f.2)
                })
        })
        .collect();
    want.sort();
    assert_eq!(
        by_client_port(&cli_json(file, &["--tls-keylog", keys])),
        want
    );
    // the target's own capture, with its keys: the same, read from the back end alone
    let target = cli_json(
        "samples/real/gs_go_tls_h2.target.pcap",
        &["--tls-keylog", keys],
    );
    let mut seen: Vec<(String, Option<u64>)> = target["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["category"].as_str().unwrap_or("").to_string(),
                r["status"].as_u64(),
            )
        })
        .collect();
    let mut back: Vec<(String, Option<u64>)> = want.iter().map(|w| (w.1.clone(), w.2)).collect();
    seen.sort();
    back.sort();
    assert_eq!(seen, back);
    // without keys: never a wrong category for a client request, and nothing else failed
    let bare = cli_json(file, &[]);
    for r in bare["requests"].as_array().expect("requests") {
        let category = r["category"].as_str().unwrap_or("");
        let port = r["client"]
            .as_str()
            .and_then(|c| c.rsplit(':').next())
            .and_then(|p| p.parse::<u64>().ok());
        match port.and_then(|p| want.iter().find(|w| w.0 == p)) {
            // the 500 and the cut body are read on the front end
            Some(w) if [44433, 44435].contains(&w.0) => assert_eq!(category, w.1, "{r:#}"),
            Some(w) => assert!(category == w.1 || category == "undetermined", "{r:#}"),
            None => assert_eq!(category, "undetermined", "{r:#}"),
        }
    }
}

/// `h2-front-acks` (synthetic, TLS 1.3 front end without keys, h2 offered among others): an
/// HTTP/2 client that packs its SETTINGS acknowledgement with its first request is told
/// HTTP/2 by the ALB's own acknowledgement, alone in a record; an HTTP/1.1 client whose 9-byte
/// body follows the ALB's `100 Continue` is not taken for HTTP/2 (its 9-byte record is as much
/// that body as an acknowledgement): its requests are paired by time, each a request.
#[test]
fn packed_settings_ack_and_a_nine_byte_body_after_100_continue() {
    let v = cli_json("samples/h2-front-acks.pcap", &[]);
    let rows: Vec<(u64, String, String)> = v["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            let port = r["client"]
                .as_str()
                .and_then(|c| c.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            (
                port,
                r["category"].as_str().unwrap_or("").to_string(),
                r["pairing"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let of = |port: u64| -> Vec<(&str, &str)> {
        rows.iter()
            .filter(|r| r.0 == port)
            .map(|r| (r.1.as_str(), r.2.as_str()))
            .collect()
    };
    let h2 = "http2_connection";
    assert_eq!(
        of(40000),
        vec![
            ("ok", h2),
            ("target_closed_before_response", h2),
            ("ok", h2)
        ],
        "{rows:?}"
    );
    let h1 = of(40029);
    assert_eq!(h1.len(), 2, "{rows:?}");
    assert!(h1.iter().all(|r| r.1 != h2), "{rows:?}");
    assert_eq!(h1[0].0, "target_connect_refused", "{rows:?}");
    let cut = cut_wrong_answers("samples/h2-front-acks.pcap", 102, |path, port| {
        use Category::*;
        match (port, path) {
            (40000, _) => Some(vec![Ok, TargetClosedBeforeResponse]),
            (40029, _) => Some(vec![Ok, TargetConnectRefused]),
            (_, Some("/api/pay")) => Some(vec![TargetClosedBeforeResponse]),
            (_, Some(p)) if !p.is_empty() => Some(vec![Ok]),
            _ => None,
        }
    });
    assert!(cut.is_empty(), "{cut:#?}");
}

/// `bytes` (a little-endian classic pcap) without its first `skip` packets: a capture started
/// later.
fn from_packet(bytes: &[u8], skip: usize) -> Vec<u8> {
    let start = first_packets(bytes, skip).len();
    let mut out = bytes.get(..24).unwrap_or_default().to_vec();
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out
}

/// `hc_cadence_refused` (the target starts rejecting: a request on a kept-alive connection is
/// reset as it arrives, and the target refuses every connect after it) and `hc_refused_blip`
/// (it rejects for 0.5 s only) with the capture started later, after each packet in turn:
/// where the reset connection opened before the capture (its idle time unknown), the refusals
/// after the reset still show the target had stopped accepting (target_closed_before_response),
/// and the blip still does not; no start states a category the truth does not have.
#[test]
fn reset_then_refused_holds_when_the_connection_opened_before_the_capture() {
    use Category::*;
    let truth = |file: &str, port: u16| -> Option<Vec<Category>> {
        match (file, port) {
            (_, 40392 | 40401 | 40404) => Some(vec![Ok]),
            (_, 40393) => Some(vec![TargetClosedBeforeResponse]),
            (_, 40394 | 40403) => Some(vec![TargetConnectRefused]),
            (_, 40402) => Some(vec![]),
            _ => None,
        }
    };
    let mut wrong = Vec::new();
    let mut shown_unseen = 0;
    for file in [
        "samples/real/hc_cadence_refused.pcap",
        "samples/real/hc_refused_blip.pcap",
    ] {
        let bytes = std::fs::read(file).expect(file);
        let dir = crate::scratch::dir("start-cuts");
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cut = dir.join("cut.pcap");
        let mut skip = 1;
        loop {
            let b = from_packet(&bytes, skip);
            if b.len() <= 24 {
                break;
            }
            std::fs::write(&cut, &b).expect("write cut");
            let mut reader = CaptureReader::open(&[&cut]).expect("open cut");
            let config = AlbConfig {
                idle_timeout: Some(Duration::from_millis(5_000)),
                ..AlbConfig::default()
            };
            let a = analyze_capture(&mut reader, &PipelineConfig::default(), config, true);
            for r in &a.requests {
                let port = r.client.map_or(0, |c| c.port);
                let Some(ok) = truth(file, port) else {
                    continue;
                };
                if r.category != Undetermined && !ok.contains(&r.category) {
                    wrong.push(format!("{file} from {skip}: :{port} {:?}", r.category));
                }
                let opened_before = r
                    .evidence
                    .iter()
                    .any(|e| matches!(e, albscope::diagnose::Evidence::IdleNotVisible { .. }));
                if port == 40393 && opened_before {
                    if r.category == TargetClosedBeforeResponse {
                        shown_unseen += 1;
                    } else {
                        wrong.push(format!("{file} from {skip}: :40393 {:?}", r.category));
                    }
                }
            }
            skip += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(
        shown_unseen > 0,
        "no start left 40393's connection opened before it"
    );
}
