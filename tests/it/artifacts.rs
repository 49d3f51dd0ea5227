//! Capture artifacts that real mirroring setups carry: packets the mirror dropped, every packet
//! mirrored twice, a snap length that cuts payload or headers, a capture that starts or ends
//! mid-connection. The captures in `samples/artifacts/` are derived from the real recordings in
//! `samples/real/` by `tools/artifacts/derive.sh` (small deterministic edits, listed in
//! `samples/artifacts/README.md`); analysed with `--idle-timeout 5` like their sources. Each
//! must give its source's answer where the capture still shows it, and say undetermined or in
//! flight where it does not: never a request counted twice, never a confident wrong category.
//! Golden Markdown reports sit beside them (`ALBSCOPE_BLESS=1` rewrites them).

use albscope::alb::AlbConfig;
use albscope::capture::{CaptureReader, Duration};
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::write_markdown;
use albscope::taxonomy::Category;
use std::path::Path;

use crate::report_samples::check_golden;

const DIR: &str = "samples/artifacts";

fn analyze(file: &str) -> Analysis {
    let path = Path::new(DIR).join(file);
    let mut reader = CaptureReader::open(&[&path]).expect("open sample");
    let config = AlbConfig {
        idle_timeout: Some(Duration::from_millis(5_000)),
        ..AlbConfig::default()
    };
    analyze_capture(&mut reader, &PipelineConfig::default(), config, true)
}

/// One request: the client port (0 when the front end is not captured), the category, and
/// (for `undetermined`) a category its candidates must include.
type Want = (u16, Category, Option<Category>);

/// What each sample must give: its requests, health checks, requests in flight at the end.
fn truth() -> Vec<(&'static str, Vec<Want>, u64, u64)> {
    use Category::*;
    vec![
        (
            // keepalive_race.pcap with five packets not mirrored: two front-end requests (they
            // still pair by time with their back-end requests), the back-end request of the
            // race (the 502 is the ALB's, so a target was tried: undetermined, not
            // no_target_attempt), and two FINs (their ACKs are no lost bytes).
            "mirror_loss.pcap",
            vec![
                (40011, Ok, None),
                (40012, Undetermined, Some(KeepaliveRace)),
                (40013, Ok, None),
                (40014, Ok, None),
                (40015, Ok, None),
            ],
            0,
            0,
        ),
        (
            // closed_rst.pcap without a health check's request segment: an unmatched back-end
            // exchange whose request was lost is a health check, not a client request.
            "hc_request_lost.pcap",
            vec![(40031, Ok, None), (40032, TargetClosedBeforeResponse, None)],
            1,
            0,
        ),
        (
            // tls_backend.pcap with the targets' ENIs mirrored too: every back-end packet
            // twice; TLS health checks stay on their cadence, no request counted twice.
            "double_mirror_tls.pcap",
            vec![
                (40301, Ok, None),
                (40302, Ok, None),
                (40303, TargetClosedBeforeResponse, None),
                (40304, Ok, None),
                (40305, TargetIdleTimeout, None),
                (40306, ClientClosed, None),
                (40307, Ok, None),
            ],
            7,
            0,
        ),
        (
            // closed_fin.pcap at snap length 128: 12 payload bytes of each inner segment.
            "snaplen128.pcap",
            vec![(40021, Ok, None), (40022, TargetClosedBeforeResponse, None)],
            1,
            0,
        ),
        // closed_rst.pcap at snap length 96: cut inside the inner TCP header, nothing to read
        // (the report says so and what snap length to use).
        ("snaplen96.pcap", vec![], 0, 0),
        (
            // keepalive_race.pcap cut 0.3 ms into the first request, the ALB's SYN just sent.
            "ends_mid_connect.pcap",
            vec![(40011, Undetermined, None)],
            0,
            1,
        ),
        (
            // connect_timeout.pcap cut 7.1 s after the ALB's first SYN: still connecting (the
            // ALB gives up at 10 s), in flight, not a timeout.
            "ends_before_connect_timeout.pcap",
            vec![(40111, Undetermined, None)],
            0,
            1,
        ),
        (
            // keepalive_race.pcap from the target's RST of the race on: that back-end
            // connection was opened before the capture, its request not captured.
            "starts_mid_connection.pcap",
            vec![
                (40012, Undetermined, None),
                (40013, Ok, None),
                (40014, Ok, None),
                (40015, Ok, None),
            ],
            0,
            0,
        ),
        (
            // keepalive_race.pcap without the target's response to the first request on the
            // back-end connection the race happens on: the idle gap before the raced request is
            // not in the capture, so a keep-alive race cannot be told from a close before
            // answering (the first request, its back-end answer lost, stays undetermined).
            "race_response_lost.pcap",
            vec![
                (40011, Undetermined, None),
                (40012, Undetermined, Some(KeepaliveRace)),
                (40013, Ok, None),
                (40014, Ok, None),
                (40015, Ok, None),
            ],
            0,
            0,
        ),
        (
            // keepalive_race.pcap from the raced request on: its back-end connection was open
            // before the capture, so whether it was idle before is not known.
            "race_starts_mid_connection.pcap",
            vec![
                (40012, Undetermined, Some(TargetClosedBeforeResponse)),
                (40013, Ok, None),
                (40014, Ok, None),
                (40015, Ok, None),
            ],
            0,
            0,
        ),
        (
            // http2_frontend.pcap from inside its HTTP/2-over-TLS client connection (neither
            // handshake captured): the ALB's answer to streams sent before the capture is no
            // request, and the client's close_notify is no request the client left (it read
            // as a confident client_closed, a request counted twice); the streams' back-end
            // requests are each one request, and the target's close at `/m/close_rst/pay` is
            // undetermined [keepalive_race, target_closed_before_response]: its back-end
            // connection opened before the capture, so its idle time is not in it.
            "h2_tls_starts_mid_stream.pcap",
            vec![
                (0, Ok, None),
                (0, Undetermined, Some(TargetClosedBeforeResponse)),
                (41102, Ok, None),
                (41102, Ok, None),
                (41102, Ok, None),
            ],
            0,
            0,
        ),
        (
            // the synthetic tls-backend.pcap from inside the TLS handshake of the back-end
            // connection that carries /long-poll (a deregistration abort 20 s later): a refused
            // health check 0.7 s after the request does not explain a 502 19.3 s after it (the
            // ALB answers a refused connect at once). The back-end connection entered
            // mid-handshake (its start not in the capture) is no failed health check.
            "dereg_starts_mid_handshake.pcap",
            vec![(40053, Undetermined, Some(DeregistrationAbort))],
            13,
            0,
        ),
        (
            // malformed_response.pcap with the ALB's ACK of the target's first response
            // captured before the response: the response is in-order data, not lost bytes.
            "ack_before_data.pcap",
            vec![(40041, Ok, None), (40042, MalformedResponse, None)],
            2,
            0,
        ),
        (
            // closed_rst.pcap's back end only, from a health check's response on: that
            // response's request was sent before the capture started (not a request).
            "hc_starts_mid_response.pcap",
            vec![(0, Ok, None), (0, TargetClosedBeforeResponse, None)],
            0,
            0,
        ),
        (
            // idle_timeout.pcap with an IPv6 front end (client fd00::2:10 -> node fd00::99:1),
            // IPv4 back end, X-Forwarded-For the client's IPv6 address: two requests, fewer than
            // an agreement needs, linked on their exact matches (each counted once).
            "dualstack_two.pcap",
            vec![(40061, Ok, None), (40062, TargetIdleTimeout, None)],
            4,
            0,
        ),
        (
            // The same, its first request alone.
            "dualstack_one.pcap",
            vec![(40061, Ok, None)],
            1,
            0,
        ),
        (
            // samples/tls/https_backend.pcap's back end alone (TLS, no keys: nothing readable)
            // copied to three targets of one group: the node is named by the connections it
            // opens to three private servers on one port, and each target's reset after the
            // fourth request is a failure inferred from the TLS records; the other answers are
            // TLS with no front end: answered, status not visible (undetermined, never ok).
            "tls_target_group.pcap",
            vec![
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, Undetermined, None),
                (0, TargetClosedBeforeResponse, None),
                (0, TargetClosedBeforeResponse, None),
                (0, TargetClosedBeforeResponse, None),
            ],
            0,
            0,
        ),
        (
            // An HTTPS front end seen from one private client alone, no keys: no node is
            // recognised (either end may be one), nothing is counted as a request; the likely
            // nodes are named (a_capture_without_a_node_names_its_likely_nodes).
            "tls_one_client_front.pcap",
            vec![],
            0,
            0,
        ),
        (
            // hc_refused's target side, its first two refused health-check connects only
            // (fewer than a cadence needs): from the back end alone each is a failed health
            // check or a client's refused attempt, so undetermined, never an inferred
            // target_connect_refused.
            "hc_refused_too_few.pcap",
            vec![
                (0, Undetermined, Some(TargetConnectRefused)),
                (0, Undetermined, Some(TargetConnectRefused)),
            ],
            0,
            0,
        ),
        (
            // ka_nginx's target side without the handshake of the first raced connection, its
            // RST moved 40 ms after the request, the connection's handshake dropped: the
            // round trip comes from the node's other connections to the target (36 µs, at the
            // target's own interface), so the close left the target 40 ms after the request
            // reached it: no race (was: undetermined; before that, keepalive_race). The other
            // two races keep their handshakes.
            "race_close_unordered.pcap",
            vec![
                (0, Ok, None),
                (0, Ok, None),
                (0, Ok, None),
                (0, TargetClosedBeforeResponse, None),
                (0, Ok, None),
                (0, KeepaliveRace, None),
                (0, Ok, None),
                (0, KeepaliveRace, None),
            ],
            0,
            0,
        ),
        (
            // The same without any handshake: no round trip at all, so the capture cannot say
            // whether the close left before the request arrived; the other two races' closes
            // came at once (within the slack), crossing whatever the round trip.
            "race_no_round_trip.pcap",
            vec![
                (0, Ok, None),
                (0, Ok, None),
                (0, Ok, None),
                (0, Undetermined, Some(KeepaliveRace)),
                (0, Ok, None),
                (0, KeepaliveRace, None),
                (0, Ok, None),
                (0, KeepaliveRace, None),
            ],
            0,
            0,
        ),
        (
            // ka_gunicorn ending between the target's header and body segments: the body was
            // still coming, not cut short (was: incomplete_body).
            "body_in_flight_at_end.pcap",
            vec![(40731, Undetermined, None)],
            0,
            1,
        ),
    ]
}

#[test]
fn a_response_to_a_request_before_the_capture_is_no_request() {
    let a = analyze("hc_starts_mid_response.pcap");
    assert_eq!(a.summary.answered_before_capture, 1);
    assert_eq!(a.summary.requests, 2);
}

/// The same for a TLS connection established before the capture: the ALB's answer on the
/// HTTP/2 client connection, and the 3 HTTP/1 back-end answers, went to requests sent before.
#[test]
fn a_tls_answer_to_a_request_before_the_capture_is_no_request() {
    let a = analyze("h2_tls_starts_mid_stream.pcap");
    assert_eq!(a.summary.answered_before_capture, 4);
    assert_eq!(a.summary.requests, 5);
}

/// The TCP connections tshark lists in `file` (`-z conv,tcp`), `None` without tshark.
fn tshark_tcp_conversations(file: &str) -> Option<usize> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(Path::new(DIR).join(file))
        .args(["-q", "-z", "conv,tcp"])
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("<->"))
            .count()
    })
}

/// Issue 12: the node recognised only once its third target appears is credited the
/// connections it opened before: all 3 back-end connections (one per target, what tshark
/// lists) and all 3 targets.
#[test]
fn a_node_recognised_late_is_credited_its_earlier_connections() {
    let a = analyze("tls_target_group.pcap");
    let [node] = a.alb_nodes.as_slice() else {
        panic!("one node: {:?}", a.alb_nodes);
    };
    assert_eq!(node.back_connections, 3);
    assert_eq!(a.targets.len(), 3);
    if let Some(n) = tshark_tcp_conversations("tls_target_group.pcap") {
        assert_eq!(node.back_connections, n as u64, "tshark -z conv,tcp");
    }
}

/// An HTTPS front end of one private client, no keys, no back end: not recognised (nothing
/// readable proves which end is the ALB), and both readings named with their flags; their
/// connections and encrypted exchanges counted, never as requests. The client reached the
/// listener by its address, so its ClientHellos name no server (no SNI), as an ALB node's to
/// its targets do: the opener reading comes first (a client using the listener's DNS name, as
/// real clients do, would put the listener first).
#[test]
fn a_capture_without_a_node_names_its_likely_nodes() {
    use albscope::alb::{CandidateReading, HelloNames, Vantage};
    let a = analyze("tls_one_client_front.pcap");
    assert_eq!(a.vantage, Vantage::Unknown);
    assert!(a.alb_nodes.is_empty());
    assert_eq!(a.summary.requests, 0);
    let [opener, listener] = a.alb_candidates.as_slice() else {
        panic!("two candidates: {:?}", a.alb_candidates);
    };
    assert_eq!(opener.hello_names, HelloNames::Unnamed);
    assert!(opener.names_favour() && !listener.ties_with(opener));
    assert_eq!(listener.reading, CandidateReading::Listener { port: 443 });
    assert_eq!(
        listener.flags().join(" "),
        "--alb-ip 10.98.0.1 --listener-port 443"
    );
    assert_eq!(
        opener.flags().join(" "),
        "--alb-ip 10.98.2.10 --target-port 443"
    );
    for c in [listener, opener] {
        assert_eq!((c.peers, c.connections, c.exchanges), (1, 3, 4));
        assert_eq!(c.connections_listed.len(), 3);
    }
    if let Some(n) = tshark_tcp_conversations("tls_one_client_front.pcap") {
        assert_eq!(listener.connections, n as u64, "tshark -z conv,tcp");
    }
}

#[test]
fn artifact_samples_keep_their_ground_truth() {
    let mut failures = Vec::new();
    for (file, want, checks, in_flight) in truth() {
        let a = analyze(file);
        let mut got: Vec<(u16, Category)> = a
            .requests
            .iter()
            .map(|r| (r.client.map_or(0, |c| c.port), r.category))
            .collect();
        let mut expected: Vec<(u16, Category)> = want.iter().map(|w| (w.0, w.1)).collect();
        got.sort();
        expected.sort();
        if got != expected {
            failures.push(format!("{file}:\n  want {expected:?}\n  got  {got:?}"));
        }
        for (port, _, candidate) in &want {
            let Some(c) = candidate else { continue };
            let has = a
                .requests
                .iter()
                .filter(|r| r.client.map_or(0, |e| e.port) == *port)
                .any(|r| r.candidates.contains(c));
            if !has {
                failures.push(format!("{file}: {port} lacks candidate {}", c.name()));
            }
        }
        if a.health_checks.checks != checks {
            failures.push(format!(
                "{file}: {} health checks, want {checks}",
                a.health_checks.checks
            ));
        }
        if a.summary.in_flight_at_end != in_flight {
            failures.push(format!(
                "{file}: {} in flight at end, want {in_flight}",
                a.summary.in_flight_at_end
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_snap_length_inside_the_headers_is_said() {
    let a = analyze("snaplen96.pcap");
    assert!(a.stats.decode.header_cut > 0);
    assert_eq!(a.stats.decode.header_cut, a.stats.decode.frames);
}

#[test]
fn artifact_markdown_reports_match_golden_files() {
    let bless = std::env::var_os("ALBSCOPE_BLESS").is_some();
    let mut diffs = Vec::new();
    for (file, ..) in truth() {
        let a = analyze(file);
        let mut out = Vec::new();
        write_markdown(&a, &mut out).expect("render");
        let md = String::from_utf8(out).expect("utf-8");
        let golden = Path::new(DIR).join(file).with_extension("expected.md");
        if bless {
            std::fs::write(&golden, &md).expect("write golden");
            continue;
        }
        check_golden(&golden, &md, &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "Markdown reports differ (ALBSCOPE_BLESS=1 rewrites them):\n{}",
        diffs.join("\n")
    );
}
