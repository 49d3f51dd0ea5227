//! One test per category, with hand-built exchanges and connection records.

use super::*;
use crate::alb::testutil::*;
use crate::alb::{AlbConfig, AlbTracker};
use crate::flow::Dir;
use crate::flow::Dir::{ToClient, ToServer};
use crate::flow::TcpEventKind as K;
use crate::protocol::{
    AppKind, AppSink, ClientHelloInfo, ResponseError, ResponseErrorKind, TlsAlertInfo, TlsInfo,
};
use crate::taxonomy::{Category, GeneratedBy};

type Tr = AlbTracker<Collect>;

fn tracker() -> Tr {
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        ..AlbConfig::default()
    };
    AlbTracker::new(config, Collect::default())
}

/// Runs the pairing and diagnoses every path.
fn diagnose_all(tr: Tr) -> Vec<Finding> {
    let (sink, known) = tr.finish();
    sink.paths.iter().map(|p| diagnose(p, &known)).collect()
}

/// The headline as the reports write it.
fn headline(f: &Finding) -> String {
    crate::report::words::headline(f)
}

/// The evidence as the reports write it.
fn ev(f: &Finding) -> Vec<String> {
    let files = ["t.pcap".to_string()];
    f.evidence
        .iter()
        .map(|e| crate::report::words::evidence(&files, e))
        .collect()
}

/// A response error whose first bytes are `raw`.
fn resp_error(
    kind: ResponseErrorKind,
    at_ms: i64,
    pos: u64,
    bytes: u64,
    raw: &[u8],
) -> ResponseError {
    let mut e = ResponseError {
        kind,
        first_byte: t(at_ms),
        first_pos: p(pos),
        offset: 0,
        bytes,
        excerpt: Vec::new(),
        reason: crate::protocol::ResponseErrorReason::NotHttp,
        status: None,
        server_at: None,
    };
    e.set_excerpt(raw.to_vec());
    e
}

fn one(tr: Tr) -> Finding {
    let mut all = diagnose_all(tr);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

/// A front-end connection with a GET at `req` answered `status` by `server` at `resp`.
fn front_answered(tr: &mut Tr, req: i64, resp_ms: i64, status: u16, server: &str) {
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), req - 2).handshake(req - 2);
    tr.exchange(
        &c.ctx(false),
        exch(
            0,
            None,
            Some(get(req, "/x", front_headers())),
            Some(resp(resp_ms, status, server, 10)),
        ),
    );
}

fn back_conn(id: u64, ms: i64) -> Conn {
    Conn::new(id, ep(ALB, 50000 + id as u16), ep(TARGET, 80), ms)
}

fn back_req(ms: i64) -> Option<crate::protocol::HttpRequest> {
    Some(get(ms, "/x", back_headers(CLIENT)))
}

fn check(f: &Finding, cat: Category, status: Option<u16>, by: Option<GeneratedBy>) {
    assert_eq!(f.category, cat, "{f:#?}");
    assert_eq!(f.status, status, "{f:#?}");
    assert_eq!(f.generated_by, by, "{f:#?}");
}

#[test]
fn connect_refused() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 104, 502, "awselb/2.0");
    let b = back_conn(2, 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(102, ToClient, K::Rst);
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let f = one(tr);
    check(
        &f,
        Category::TargetConnectRefused,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(
        headline(&f).starts_with("502 from the ALB"),
        "{}",
        headline(&f)
    );
    assert_eq!(f.access_log.request_processing_time, super::Step::Never);
    assert_eq!(f.access_log.target_status_code, None);
    assert!(f
        .timeline
        .iter()
        .any(|e| crate::report::words::event(&e.kind) == "RST from target"));
    assert!(f.fix.as_deref().unwrap().contains("port 80"));
    assert!(ev(&f).iter().any(|e| e.contains("#")), "{:?}", f.evidence);
}

/// A target holding an old connection of the same ports (TIME_WAIT) answers the SYN with a
/// bare ACK of that old connection (RFC 5961's challenge ACK); the ALB resets it and its SYN
/// retransmission gets the RST of a closed port: refused, not a connect whose SYN-ACK the
/// capture lost (seen on real HAProxy traffic: ../shared/perf).
#[test]
fn challenge_ack_before_a_refusal_is_still_refused() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 112, 502, "awselb/2.0");
    let syn = |retransmission| K::Syn { retransmission };
    let mut b = back_conn(2, 101)
        .ev(101, ToServer, syn(false))
        .ev(102, ToServer, K::Rst)
        .ev(110, ToServer, syn(true))
        .ev(111, ToClient, K::Rst);
    // the challenge ACK: a packet of the target's without bytes, FIN or RST
    b.s.dirs[ToServer.index()].packets = 3;
    b.s.dirs[ToClient.index()].packets = 2;
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    check(
        &one(tr),
        Category::TargetConnectRefused,
        Some(502),
        Some(GeneratedBy::Lb),
    );
}

#[test]
fn unreachable_icmp() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 105, 502, "awselb/2.0");
    let b = back_conn(2, 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(
            102,
            ToClient,
            icmp_host_unreachable(ep(ALB, 50002), ep(TARGET, 80)),
        );
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let f = one(tr);
    check(
        &f,
        Category::TargetUnreachableIcmp,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(headline(&f).contains("type 3 code 1"), "{}", headline(&f));
    assert!(
        f.timeline
            .iter()
            .any(|e| crate::report::words::event(&e.kind)
                .contains("host unreachable (type 3 code 1)"))
    );
}

#[test]
fn closed_before_response_new_connection() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 111, 502, "awselb/2.0");
    let b = back_conn(2, 101).handshake(101).ev(110, ToClient, K::Rst);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), None)],
        0,
        None,
    ));
    let f = one(tr);
    check(
        &f,
        Category::TargetClosedBeforeResponse,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(headline(&f).contains("reset"), "{}", headline(&f));
    assert_eq!(f.access_log.target_processing_time, super::Step::Never);
    assert!(f.access_log.trace_id.is_some());
}

#[test]
fn keepalive_race_on_reused_connection() {
    let mut tr = tracker();
    // Another connection shows the target closing after 5 s idle.
    let other =
        back_conn(5, 0)
            .handshake(0)
            .ev(5_020, ToClient, K::Fin)
            .ev(5_021, ToServer, K::Fin);
    tr.closed(other.record(AppKind::Http, vec![], 1, Some(20)));
    front_answered(&mut tr, 10_000, 10_003, 502, "awselb/2.0");
    let b = back_conn(2, 1_000)
        .handshake(1_000)
        .ev(10_001, ToClient, K::Fin)
        .ev(10_002, ToClient, K::Rst);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(1, Some(5_000), back_req(10_001), None)],
        1,
        Some(5_001),
    ));
    let f = one(tr);
    check(
        &f,
        Category::KeepaliveRace,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(
        ev(&f).iter().any(|e| e.contains("idle 5 s")),
        "{:?}",
        f.evidence
    );
    assert!(
        ev(&f).iter().any(|e| e.contains("after 5 s")),
        "{:?}",
        f.evidence
    );
    assert!(f.fix.as_deref().unwrap().contains("60 s"));
}

#[test]
fn malformed_and_header_too_large() {
    for (kind, cat) in [
        (ResponseErrorKind::Malformed, Category::MalformedResponse),
        (
            ResponseErrorKind::HeaderTooLarge,
            Category::ResponseHeaderTooLarge,
        ),
    ] {
        let mut tr = tracker();
        front_answered(&mut tr, 100, 120, 502, "awselb/2.0");
        let mut ex = exch(0, None, back_req(103), None);
        ex.response_error = Some(resp_error(kind, 110, 7, 40_000, b"GARBAGE\x00\r\n"));
        let b = back_conn(2, 101).handshake(101).ev(115, ToServer, K::Fin);
        tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
        let f = one(tr);
        check(&f, cat, Some(502), Some(GeneratedBy::Lb));
        if cat == Category::MalformedResponse {
            assert!(ev(&f).iter().any(|e| e.contains("GARBAGE\\x00")));
        }
    }
}

fn tls_attempt(tr: &mut Tr, close: Option<(i64, crate::flow::Dir)>, alert: bool) {
    let mut b = back_conn(2, 101).handshake(101);
    if let Some((ms, dir)) = close {
        b = b.ev(ms, dir, if dir == ToClient { K::Rst } else { K::Fin });
    }
    let mut rec = b.record(AppKind::Tls, vec![], 0, None);
    rec.tls = Some(TlsInfo {
        client_hello: Some(ClientHelloInfo {
            ts: t(103),
            pos: p(5),
            legacy_version: "TLSv1.2".into(),
            supported_versions: vec!["TLSv1.3".into(), "TLSv1.2".into()],
            ciphers: vec!["TLS_AES_128_GCM_SHA256".into()],
            sni: None,
            alpn: vec![],
        }),
        alerts: if alert {
            vec![TlsAlertInfo {
                ts: t(104),
                pos: p(6),
                dir: ToClient,
                level: "fatal".into(),
                description: "handshake_failure".into(),
            }]
        } else {
            vec![]
        },
        ..TlsInfo::default()
    });
    tr.closed(rec);
}

#[test]
fn tls_handshake_failed_and_timeout() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 106, 502, "awselb/2.0");
    tls_attempt(&mut tr, Some((105, ToClient)), false);
    let f = one(tr);
    check(
        &f,
        Category::TargetTlsHandshakeFailed,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(
        f.fix.as_deref().unwrap().contains("TLSv1.3, TLSv1.2"),
        "{:?}",
        f.fix
    );

    let mut tr = tracker();
    front_answered(&mut tr, 100, 106, 502, "awselb/2.0");
    tls_attempt(&mut tr, None, true);
    let f = one(tr);
    check(
        &f,
        Category::TargetTlsHandshakeFailed,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(headline(&f).contains("handshake_failure"));

    let mut tr = tracker();
    front_answered(&mut tr, 100, 10_104, 504, "awselb/2.0");
    tls_attempt(&mut tr, Some((10_103, ToServer)), false);
    let f = one(tr);
    check(
        &f,
        Category::TargetTlsHandshakeTimeout,
        Some(504),
        Some(GeneratedBy::Lb),
    );
}

#[test]
fn connect_timeout_and_blocked_return_path() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 10_101, 504, "awselb/2.0");
    let b = back_conn(2, 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(
            1_101,
            ToServer,
            K::Syn {
                retransmission: true,
            },
        )
        .ev(
            3_101,
            ToServer,
            K::Syn {
                retransmission: true,
            },
        )
        .ev(
            7_101,
            ToServer,
            K::Syn {
                retransmission: true,
            },
        );
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let f = one(tr);
    check(
        &f,
        Category::TargetConnectTimeout,
        Some(504),
        Some(GeneratedBy::Lb),
    );
    assert!(f
        .timeline
        .iter()
        .any(|e| crate::report::words::event(&e.kind) == "SYN retransmission #3"));

    // Back end only, seen from the target: SYN-ACKs sent, SYN retransmitted.
    let mut tr = tracker();
    let b = back_conn(2, 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(
            102,
            ToClient,
            K::SynAck {
                retransmission: false,
            },
        )
        .ev(
            1_101,
            ToServer,
            K::Syn {
                retransmission: true,
            },
        )
        .ev(
            1_102,
            ToClient,
            K::SynAck {
                retransmission: true,
            },
        );
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let f = one(tr);
    // A failed health check looks the same from the target's side, and no cadence shows one.
    check(&f, Category::Undetermined, None, None);
    assert_eq!(f.candidates, vec![Category::TargetConnectTimeout]);
    assert!(!f.status_inferred);
    assert!(f.fix.as_deref().unwrap().contains("return path"));
}

#[test]
fn idle_timeout_with_late_reply() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 60_104, 504, "awselb/2.0");
    let b = back_conn(2, 101)
        .handshake(101)
        .ev(60_103, ToServer, K::Fin)
        .ev(70_103, ToServer, K::Rst);
    let ex = exch(0, None, back_req(103), Some(resp(70_102, 200, "Apache", 5)));
    tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
    let f = one(tr);
    check(
        &f,
        Category::TargetIdleTimeout,
        Some(504),
        Some(GeneratedBy::Lb),
    );
    assert_eq!(f.access_log.target_status_code, None);
    assert_eq!(f.access_log.target_processing_time, super::Step::Never);
    assert!(
        ev(&f).iter().any(|e| e.contains("late reply")),
        "{:?}",
        f.evidence
    );
}

/// Issue 12: from the back end alone, the ALB closing a silent request at the idle timeout is
/// the idle timeout (504) or a client that left earlier while the ALB kept waiting (460: a
/// proxy may wait for the target after its client has gone): undetermined, the idle timeout
/// first, with what to capture; the same whether the timer is the default or given.
#[test]
fn idle_close_back_end_only_is_undetermined() {
    for (idle, close_ms) in [(None, 60_103), (Some(5_000), 5_103)] {
        let config = AlbConfig {
            alb_ips: vec![ALB.parse().unwrap()],
            idle_timeout: idle.map(crate::capture::Duration::from_millis),
            ..AlbConfig::default()
        };
        let mut tr = AlbTracker::new(config, Collect::default());
        let b = back_conn(2, 101)
            .handshake(101)
            .ev(close_ms, ToServer, K::Fin);
        tr.closed(b.record(
            AppKind::Http,
            vec![exch(0, None, back_req(103), None)],
            0,
            None,
        ));
        let f = one(tr);
        check(&f, Category::Undetermined, None, None);
        assert_eq!(
            f.candidates,
            vec![Category::TargetIdleTimeout, Category::ClientClosed],
            "{idle:?}"
        );
        assert!(!f.status_inferred);
        assert!(f.client.is_none());
        assert!(matches!(f.cause, Cause::AlbClosedAtIdleTimeout { .. }));
        assert!(f
            .notes
            .iter()
            .any(|n| matches!(n, Note::TellApart(TellApart::IdleOrClientClosed))));
    }
}

/// Issue 12: from the back end alone, the ALB closing before any answer and before the idle
/// timeout is the client leaving as much as the deregistration delay: undetermined, with what
/// to capture; a close a whole number of seconds after the request may be a shorter idle
/// timeout when the timeout is not known.
#[test]
fn alb_close_back_end_only_is_undetermined() {
    for (close_ms, idle_candidate) in [(26_103, true), (2_603, false)] {
        let mut tr = tracker();
        let b = back_conn(2, 101)
            .handshake(101)
            .ev(close_ms, ToServer, K::Fin);
        tr.closed(b.record(
            AppKind::Http,
            vec![exch(0, None, back_req(103), None)],
            0,
            None,
        ));
        let f = one(tr);
        check(&f, Category::Undetermined, None, None);
        let mut want = vec![Category::ClientClosed, Category::DeregistrationAbort];
        if idle_candidate {
            want.insert(0, Category::TargetIdleTimeout);
        }
        assert_eq!(f.candidates, want, "{close_ms}");
        assert!(f
            .notes
            .iter()
            .any(|n| matches!(n, Note::TellApart(TellApart::ClientOrAlbClose))));
    }
}

#[test]
fn deregistration_abort() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 26_104, 502, "awselb/2.0");
    let b = back_conn(2, 101)
        .handshake(101)
        .ev(26_103, ToServer, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), None)],
        0,
        None,
    ));
    let f = one(tr);
    check(
        &f,
        Category::DeregistrationAbort,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert_eq!(f.access_log.request_processing_time.secs(), Some(0.003));
}

#[test]
fn incomplete_body() {
    let mut tr = tracker();
    // The ALB relays the target's 200 headers to the client, then waits.
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
        .handshake(98)
        .ev(60_200, ToClient, K::Fin);
    let mut fr = resp(120, 200, "Apache", 1000);
    fr.complete = None;
    fr.body_bytes = 500;
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/x", front_headers())),
            Some(fr.clone()),
        )],
        0,
        None,
    ));
    let b = back_conn(2, 101)
        .handshake(101)
        .ev(60_150, ToServer, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), Some(fr))],
        0,
        None,
    ));
    let f = one(tr);
    check(&f, Category::IncompleteBody, None, Some(GeneratedBy::Lb));
    assert!(f
        .fix
        .as_deref()
        .unwrap()
        .contains("Content-Length: 1000 but sent only 500 body bytes"));
}

#[test]
fn target_generated_error_names_server() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 121, 503, "Apache/2.4.58 (Ubuntu)");
    let b = back_conn(2, 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            back_req(103),
            Some(resp(120, 503, "Apache/2.4.58 (Ubuntu)", 10)),
        ),
    );
    let f = one(tr);
    check(
        &f,
        Category::TargetGeneratedError,
        Some(503),
        Some(GeneratedBy::Target),
    );
    assert!(headline(&f).contains("Apache/2.4.58"));
    assert_eq!(f.access_log.target_status_code, Some(503));
    assert_eq!(f.access_log.target_processing_time.secs(), Some(0.017));
    assert_eq!(f.access_log.response_processing_time.secs(), Some(0.001));
}

#[test]
fn client_closed_before_answer() {
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
        .handshake(98)
        .ev(5_100, ToServer, K::Fin);
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(0, None, Some(get(100, "/x", front_headers())), None)],
        0,
        None,
    ));
    let b = back_conn(2, 101).handshake(101).ev(5_101, ToServer, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), None)],
        0,
        None,
    ));
    let f = one(tr);
    check(&f, Category::ClientClosed, None, None);
    assert_eq!(f.access_log.elb_status_code, Some(460));
}

#[test]
fn no_target_attempt_and_ok() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 101, 503, "awselb/2.0");
    // A health check elsewhere shows the back end is in the capture.
    let h = back_conn(3, 10).handshake(10);
    tr.exchange(
        &h.ctx(false),
        exch(
            0,
            None,
            Some(get(
                12,
                "/health",
                hdrs(&[("User-Agent", "ELB-HealthChecker/2.0")]),
            )),
            Some(resp(13, 200, "Apache", 2)),
        ),
    );
    let f = one(tr);
    check(
        &f,
        Category::NoTargetAttempt,
        Some(503),
        Some(GeneratedBy::Lb),
    );

    let mut tr = tracker();
    front_answered(&mut tr, 100, 121, 200, "Apache");
    let b = back_conn(2, 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(0, None, back_req(103), Some(resp(120, 200, "Apache", 10))),
    );
    let f = one(tr);
    check(&f, Category::Ok, Some(200), Some(GeneratedBy::Target));
    assert!(f.fix.is_none());
}

#[test]
fn header_block_skipped_for_memory_is_undetermined() {
    let mut tr = tracker();
    let b = back_conn(2, 101).handshake(101);
    let mut ex = exch(0, None, back_req(103), Some(resp(120, 200, "Apache", 10)));
    ex.headers_skipped = Some(crate::flow::Dir::ToClient);
    tr.exchange(&b.ctx(false), ex);
    let f = one(tr);
    assert_eq!(f.category, Category::Undetermined, "{}", headline(&f));
    assert!(
        ev(&f)
            .iter()
            .any(|e| e.contains("response header block on the back end was skipped")),
        "{:?}",
        ev(&f)
    );
}

#[test]
fn analyzer_counts_and_keeps_failures_only() {
    let mut a = Analyzer::new(vec!["t.pcap".into()], Keep::new(false));
    let mut tr = tracker();
    front_answered(&mut tr, 100, 104, 502, "awselb/2.0");
    let b = back_conn(2, 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(102, ToClient, K::Rst);
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let (sink, known) = tr.finish();
    for p in sink.paths {
        crate::alb::PathSink::path(&mut a, p, &known);
    }
    let analysis = a.finish(&known, crate::pipeline::RunStats::default());
    assert_eq!(analysis.summary.failed, 1);
    assert_eq!(analysis.requests.len(), 1);
    let c = &analysis.summary.by_category[&Category::TargetConnectRefused];
    assert_eq!((c.count, c.generated_by_lb), (1, 1));
    let mut buf = Vec::new();
    crate::report::write_json(&analysis, &mut buf).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(
        json["requests"][0]["category"],
        Category::TargetConnectRefused.name()
    );
    assert_eq!(json["schema_version"], 2);
}

#[test]
fn fin_on_a_reused_connection_without_matching_idle_is_not_a_race() {
    let mut tr = tracker();
    let other =
        back_conn(5, 0)
            .handshake(0)
            .ev(5_020, ToClient, K::Fin)
            .ev(5_021, ToServer, K::Fin);
    tr.closed(other.record(AppKind::Http, vec![], 1, Some(20)));
    front_answered(&mut tr, 10_000, 10_040, 502, "awselb/2.0");
    let b = back_conn(2, 9_000)
        .handshake(9_000)
        .ev(10_036, ToClient, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(1, Some(200), back_req(10_001), None)],
        1,
        Some(9_801),
    ));
    let f = one(tr);
    check(
        &f,
        Category::TargetClosedBeforeResponse,
        Some(502),
        Some(GeneratedBy::Lb),
    );
}

#[test]
fn client_that_left_before_a_late_answer_is_client_closed() {
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
        .handshake(98)
        .ev(1_500, ToServer, K::Fin)
        .ev(4_010, ToServer, K::Rst);
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/x", front_headers())),
            Some(resp(4_005, 200, "Apache", 2)),
        )],
        0,
        None,
    ));
    let b = back_conn(2, 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(0, None, back_req(103), Some(resp(4_000, 200, "Apache", 2))),
    );
    let f = one(tr);
    check(&f, Category::ClientClosed, None, None);
    assert!(ev(&f)[0].contains("refused with RST"), "{:?}", f.evidence);
}

/// Issue 12: from the front end alone, say what timing proves and list the candidates where
/// several back-end failures give the same answer.
#[test]
fn front_end_only_says_what_it_cannot_tell() {
    use Category::*;
    for (answer_ms, status, cat, candidates) in [
        (
            101,
            502,
            Undetermined,
            vec![
                TargetConnectRefused,
                TargetClosedBeforeResponse,
                KeepaliveRace,
                TargetTlsHandshakeFailed,
                MalformedResponse,
                ResponseHeaderTooLarge,
                TargetUnreachableIcmp,
                DeregistrationAbort,
            ],
        ),
        (
            3_100,
            502,
            Undetermined,
            vec![
                TargetClosedBeforeResponse,
                DeregistrationAbort,
                TargetUnreachableIcmp,
                MalformedResponse,
                ResponseHeaderTooLarge,
                TargetTlsHandshakeFailed,
                TargetConnectRefused,
            ],
        ),
        // at the connect timeout: the TLS handshake timeout (a documented 502), a connect
        // timeout a proxy answers 502, or what a target does with a request
        (
            10_150,
            502,
            Undetermined,
            vec![
                TargetTlsHandshakeTimeout,
                TargetConnectTimeout,
                TargetClosedBeforeResponse,
                DeregistrationAbort,
                MalformedResponse,
                ResponseHeaderTooLarge,
                TargetTlsHandshakeFailed,
            ],
        ),
        // past it, no connect failure; past twice it, no TLS one
        (
            12_600,
            502,
            Undetermined,
            vec![
                TargetClosedBeforeResponse,
                DeregistrationAbort,
                TargetTlsHandshakeTimeout,
                MalformedResponse,
                ResponseHeaderTooLarge,
                TargetTlsHandshakeFailed,
            ],
        ),
        (
            21_100,
            502,
            Undetermined,
            vec![
                TargetClosedBeforeResponse,
                DeregistrationAbort,
                MalformedResponse,
                ResponseHeaderTooLarge,
            ],
        ),
        (
            10_100,
            504,
            Undetermined,
            vec![
                TargetConnectTimeout,
                TargetTlsHandshakeTimeout,
                TargetIdleTimeout,
            ],
        ),
        (
            15_100,
            504,
            Undetermined,
            vec![TargetTlsHandshakeTimeout, TargetIdleTimeout],
        ),
        (20_100, 504, TargetIdleTimeout, vec![]),
        (5_100, 504, TargetIdleTimeout, vec![]),
        (101, 503, NoTargetAttempt, vec![]),
    ] {
        let mut tr = tracker();
        front_answered(&mut tr, 100, answer_ms, status, "awselb/2.0");
        let f = one(tr);
        check(&f, cat, Some(status), Some(GeneratedBy::Lb));
        assert_eq!(f.candidates, candidates, "{answer_ms} ms {status}");
        let said_inferred = ev(&f)
            .iter()
            .any(|e| e.contains("inferred from the front end only"));
        // What the timing proves is not said to be inferred.
        assert_eq!(said_inferred, cat != TargetIdleTimeout, "{:?}", ev(&f));
        if cat == Undetermined {
            let h = headline(&f);
            assert!(h.contains("may be target_"), "{h}");
            assert!(
                f.notes.iter().any(|n| matches!(n, Note::TellApart(_))),
                "{:?}",
                f.notes
            );
        }
        if cat == TargetIdleTimeout {
            // One number: the headline, the evidence and the fix agree.
            let secs = format!("({} s)", (answer_ms - 100) / 1000);
            assert!(headline(&f).contains(&secs), "{}", headline(&f));
            assert!(f.fix.as_deref().unwrap().contains(&secs), "{:?}", f.fix);
        }
    }
}

/// Front end alone: an immediate 502 after the node was quiet for a target's usual keep-alive
/// timeout (its previous answer ended 3 s before) ranks keepalive_race first and says why;
/// the candidates stay the same. After 0.3 s of quiet the order is the usual one.
#[test]
fn front_end_only_quiet_node_ranks_a_race_first() {
    for (gap_ms, race_first) in [(3_000, true), (300, false)] {
        let mut tr = tracker();
        let ok = Conn::new(3, ep(CLIENT, 39000), ep(ALB, 80), 8).handshake(8);
        tr.exchange(
            &ok.ctx(false),
            exch(
                0,
                None,
                Some(get(10, "/before", front_headers())),
                Some(resp(20, 200, "gunicorn", 10)),
            ),
        );
        let t = 20 + gap_ms;
        front_answered(&mut tr, t, t + 1, 502, "awselb/2.0");
        let all = diagnose_all(tr);
        let f = all.iter().find(|f| f.status == Some(502)).expect("the 502");
        assert_eq!(f.category, Category::Undetermined);
        assert_eq!(
            f.candidates.first() == Some(&Category::KeepaliveRace),
            race_first,
            "{gap_ms} ms: {:?}",
            f.candidates
        );
        assert_eq!(f.candidates.len(), 8, "{:?}", f.candidates);
        let said = ev(f)
            .iter()
            .any(|e| e.contains("keep-alive race is the likelier"));
        assert_eq!(said, race_first, "{:?}", ev(f));
    }
}

/// A body cut short by the ALB's FIN, seen from the front end only, is `incomplete_body`
/// (proved: the client got the headers, part of the body and a bare FIN).
#[test]
fn front_end_only_incomplete_body() {
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
        .handshake(98)
        .ev(60_200, ToClient, K::Fin);
    let mut fr = resp(120, 200, "Apache", 1000);
    fr.complete = None;
    fr.body_bytes = 100;
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/x", front_headers())),
            Some(fr),
        )],
        0,
        None,
    ));
    let f = one(tr);
    check(&f, Category::IncompleteBody, None, Some(GeneratedBy::Lb));
    assert!(f.candidates.is_empty());
    assert!(f
        .fix
        .as_deref()
        .unwrap()
        .contains("Content-Length: 1000 but sent only 100 body bytes"));
}

/// The back end shows the ALB giving up after 5 s and the client got a 504: without
/// `--idle-timeout` the headline, the evidence and the fix all say 5 s.
#[test]
fn idle_timeout_quoted_once() {
    let mut tr = tracker();
    front_answered(&mut tr, 100, 5_104, 504, "awselb/2.0");
    let b = back_conn(2, 101).handshake(101).ev(5_103, ToServer, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(102), None)],
        0,
        None,
    ));
    let f = one(tr);
    check(
        &f,
        Category::TargetIdleTimeout,
        Some(504),
        Some(GeneratedBy::Lb),
    );
    assert!(headline(&f).contains("(5 s)"), "{}", headline(&f));
    assert!(f.fix.as_deref().unwrap().contains("(5 s)"), "{:?}", f.fix);
    assert!(
        ev(&f)
            .iter()
            .any(|e| e.contains("matches the ALB idle timeout (5 s)")),
        "{:?}",
        ev(&f)
    );
}

#[test]
fn truncated_responses_still_give_their_status() {
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
    let mut ex = exch(0, None, Some(get(100, "/x", front_headers())), None);
    ex.response_error = Some(resp_error(
        ResponseErrorKind::Gap,
        110,
        9,
        146,
        b"HTTP/1.1 200 OK\r\nServer: Apache\r\nDate: Thu, 11 De",
    ));
    tr.closed(c.record(AppKind::Http, vec![ex], 0, None));
    let b = back_conn(2, 101).handshake(101);
    let mut bx = exch(0, None, None, None);
    bx.response_error = Some(resp_error(
        ResponseErrorKind::Gap,
        109,
        8,
        146,
        b"HTTP/1.1 200 OK\r\nServer: Apache\r\nDate: Thu, 11 De",
    ));
    tr.closed(b.record(AppKind::Http, vec![bx], 0, None));
    let f = one(tr);
    check(&f, Category::Ok, Some(200), Some(GeneratedBy::Target));
    assert_eq!(f.pairing, crate::alb::PairingMethod::TimeOrder);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn kind(k: u8) -> K {
        match k % 7 {
            0 => K::Syn {
                retransmission: k > 100,
            },
            1 => K::SynAck {
                retransmission: k > 100,
            },
            2 => K::Fin,
            3 => K::Rst,
            4 => icmp_host_unreachable(ep(ALB, 1), ep(TARGET, 80)),
            5 => K::Gap {
                offset: u64::from(k),
                len: 10,
            },
            _ => K::Retransmission { len: 5 },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Any mix of events, times (including absurd ones) and statuses is diagnosed without
        /// panicking, and every request is counted once.
        #[test]
        fn never_panics(
            evs in proptest::collection::vec((any::<i64>(), any::<bool>(), any::<u8>()), 0..12),
            times in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 4),
            status in 100u16..1000,
            idle in proptest::option::of(any::<i64>()),
            index in 0u32..3,
            excerpt in "[ -~]{0,70}",
        ) {
            let mut tr = tracker();
            let mut b = back_conn(2, times[0]);
            for (ms, to_server, k) in &evs {
                let ms = ms / 1_000_000_000;
                b = b.ev(ms, if *to_server { ToServer } else { ToClient }, kind(*k));
            }
            let mut ex = exch(index, idle.map(|i| i / 1_000_000), back_req(times[1]), None);
            if status % 3 == 0 {
                ex.response = Some(resp(times[2], status, "x", u64::from(status)));
            } else if status % 3 == 1 {
                ex.response_error = Some(resp_error(
                    ResponseErrorKind::Gap,
                    times[2],
                    3,
                    1,
                    excerpt.as_bytes(),
                ));
            }
            tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
            front_answered(&mut tr, times[3], times[3].saturating_add(5), status, "awselb/2.0");
            let (sink, known) = tr.finish();
            let mut a = Analyzer::new(vec!["t.pcap".into()], Keep::new(true));
            let n = sink.paths.len();
            for path in sink.paths {
                crate::alb::PathSink::path(&mut a, path, &known);
            }
            let analysis = a.finish(&known, crate::pipeline::RunStats::default());
            prop_assert_eq!(analysis.requests.len(), n);
            let mut out = Vec::new();
            crate::report::write_text(&analysis, &crate::report::TextOptions::default(), &mut out)
                .unwrap();
        }
    }
}

/// Refused connects from the node to a target at `secs` (back end only), the capture clock
/// ticking after each so that the early ones are paired before the cadence shows: the
/// analysis of them.
fn refused_attempts(secs: &[f64]) -> Analysis {
    let analyzer = Analyzer::new(vec!["t.pcap".into()], Keep::new(true));
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        ..AlbConfig::default()
    };
    let mut tr = AlbTracker::new(config, analyzer);
    for (i, s) in secs.iter().enumerate() {
        let ms = (s * 1000.0) as i64;
        let id = i as u64 + 1;
        let b = Conn::new(id, ep(ALB, 50000 + i as u16), ep(TARGET, 80), ms)
            .ev(
                ms,
                ToServer,
                K::Syn {
                    retransmission: false,
                },
            )
            .ev(ms + 1, ToClient, K::Rst);
        tr.closed(b.record(AppKind::Empty, vec![], 0, None));
        crate::pipeline::Clock::tick_in_flight(&mut tr, t(ms + 1), None);
    }
    let (analyzer, known) = tr.finish();
    analyzer.finish(&known, crate::pipeline::RunStats::default())
}

/// Health checks over TLS every 5 s, seen from the targets' side: each a fresh connection, one
/// small request, then (`answered`) an answer and a close, or (not `answered`) a handshake the
/// target ends with an RST.
fn tls_checks(answered: bool) -> Analysis {
    let analyzer = Analyzer::new(vec!["t.pcap".into()], Keep::new(true));
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        ..AlbConfig::default()
    };
    let mut tr = AlbTracker::new(config, analyzer);
    let burst = |dir, ms: i64, bytes| crate::protocol::TlsBurst {
        dir,
        first: t(ms),
        first_pos: p(ms as u64),
        last: t(ms),
        tail_us: 0,
        tail_bytes: 0,
        tickets: 0,
        bytes,
    };
    for i in 0..6u16 {
        let ms = i64::from(i) * 5_000;
        let id = u64::from(i) + 1;
        let c = Conn::new(id, ep(ALB, 50000 + i), ep(TARGET, 443), ms).handshake(ms);
        let (c, tls) = if answered {
            let c = c
                .ev(ms + 20, ToServer, K::Fin)
                .ev(ms + 21, ToClient, K::Fin);
            let tls = TlsInfo {
                established: Some(t(ms + 5)),
                bursts: vec![burst(ToServer, ms + 10, 118), burst(ToClient, ms + 12, 135)],
                ..TlsInfo::default()
            };
            (c, tls)
        } else {
            (c.ev(ms + 3, ToClient, K::Rst), TlsInfo::default())
        };
        let mut rec = c.record(AppKind::Tls, vec![], 0, None);
        rec.tls = Some(tls);
        tr.closed(rec);
        crate::pipeline::Clock::tick_in_flight(&mut tr, t(ms + 21), None);
    }
    let (analyzer, known) = tr.finish();
    analyzer.finish(&known, crate::pipeline::RunStats::default())
}

/// A health check over TLS that got an answer proves only that the target answered: its status
/// is encrypted, so it is "answered, status not visible", neither passed nor failed; one whose
/// handshake the target ended fails visibly.
#[test]
fn an_answered_tls_health_check_is_not_a_proved_pass() {
    let a = tls_checks(true);
    let h = &a.health_checks;
    assert_eq!((h.checks, h.failed, h.not_visible), (6, 0, 6), "{h:?}");
    assert!(h.failures.is_empty());
    let t = h.by_target.values().next().expect("one target");
    assert!(t.statuses.is_empty(), "no status is shown: {t:?}");
    assert!(a.requests.is_empty(), "{:?}", a.requests);
    let a = tls_checks(false);
    let h = &a.health_checks;
    assert_eq!((h.checks, h.failed, h.not_visible), (6, 6, 0), "{h:?}");
}

/// Health checks seen from the targets' side are recognised by one rule (the ALB layer's
/// cadence), also for the attempts paired before the cadence showed: a chain is never split
/// into client requests and health checks; irregular attempts are client requests.
#[test]
fn a_health_check_cadence_is_one_rule_for_the_whole_chain() {
    // A 1 s interval: the attempts paired after the fourth were health checks at pairing time,
    // the first ones (held to the end) were judged by a second rule (4-310 s) as requests.
    let a = refused_attempts(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(a.health_checks.checks, 6, "{:?}", a.requests);
    assert!(a.requests.is_empty());
    // A steady 10 s cadence with a client's attempt in between: only that one is a request.
    let a = refused_attempts(&[0.0, 10.0, 20.0, 23.0, 30.0, 40.1]);
    assert_eq!(a.health_checks.checks, 5);
    assert_eq!(a.requests.len(), 1);
    assert_eq!(a.requests[0].time, t(23_000));
    assert_eq!(a.requests[0].category, Category::TargetConnectRefused);
    // Irregular, or too few: no cadence shows where this node's checks of the target fall,
    // so each is a client's refused attempt or a failed health check: undetermined, listed
    // (never dropped) with what to capture.
    for secs in [
        &[0.0, 7.0, 30.0, 31.0, 90.0][..],
        &[0.0, 10.0][..],
        &[0.0, 5.0][..],
    ] {
        let a = refused_attempts(secs);
        assert_eq!(a.health_checks.checks, 0, "{secs:?}");
        assert_eq!(a.requests.len(), secs.len(), "{secs:?}");
        for f in &a.requests {
            assert_eq!(f.category, Category::Undetermined, "{secs:?}");
            assert_eq!(f.candidates, vec![Category::TargetConnectRefused]);
            assert_eq!(f.status, None, "no client status is inferred");
            assert!(f
                .notes
                .contains(&Note::TellApart(TellApart::HealthCheckOrRequest)));
            assert!(
                headline(f).contains("failed health check"),
                "{}",
                headline(f)
            );
        }
    }
}

/// From the front end only, a 5xx without a Server header is most likely the target's, but not
/// proved: `undetermined`, target_generated_error first among the candidates.
#[test]
fn front_end_only_5xx_without_server_header() {
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
    let mut r = resp(110, 503, "x", 10);
    r.headers.retain(|k, _| !k.eq_ignore_ascii_case("server"));
    tr.exchange(
        &c.ctx(false),
        exch(0, None, Some(get(100, "/x", front_headers())), Some(r)),
    );
    let f = one(tr);
    assert_eq!(f.category, Category::Undetermined);
    assert_eq!(
        f.candidates,
        vec![Category::TargetGeneratedError, Category::NoTargetAttempt]
    );
    assert!(
        headline(&f).contains("without a Server header"),
        "{}",
        headline(&f)
    );
}

/// An HTTPS front end captured alone (`--alb-ip`, `--listener-port 443`): one TLS connection
/// whose ClientHello offers `alpn`, with one exchange: the client's 120-byte record at 100 ms,
/// the ALB's `answer` bytes `after` ms later; `close` the first FIN (time, direction).
fn encrypted_front(alpn: &[&str], answer: u64, after: i64, close: (i64, Dir)) -> Finding {
    use crate::protocol::{ServerHelloInfo, TlsBurst};
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        listener_ports: vec![443],
        ..AlbConfig::default()
    };
    let mut tr: Tr = AlbTracker::new(config, Collect::default());
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 443), 90)
        .handshake(90)
        .ev(close.0, close.1, K::Fin)
        .ev(close.0 + 1, close.1.reverse(), K::Fin);
    let mut rec = c.record(AppKind::Tls, vec![], 0, None);
    let burst = |dir, ms: i64, bytes| TlsBurst {
        dir,
        first: t(ms),
        first_pos: p(ms as u64),
        last: t(ms),
        tail_us: 0,
        tail_bytes: 0,
        tickets: 0,
        bytes,
    };
    rec.tls = Some(TlsInfo {
        client_hello: Some(ClientHelloInfo {
            ts: t(92),
            pos: p(3),
            legacy_version: "TLSv1.2".into(),
            supported_versions: vec!["TLSv1.3".into()],
            ciphers: vec!["TLS_AES_128_GCM_SHA256".into()],
            sni: None,
            alpn: alpn.iter().map(|a| a.to_string()).collect(),
        }),
        server_hello: Some(ServerHelloInfo {
            ts: t(93),
            pos: p(4),
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_128_GCM_SHA256".into(),
            alpn: None,
        }),
        established: Some(t(95)),
        bursts: vec![
            burst(ToServer, 100, 120),
            burst(ToClient, 100 + after, answer),
        ],
        ..TlsInfo::default()
    });
    tr.closed(rec);
    one(tr)
}

#[test]
fn encrypted_front_alone_outcome_not_visible() {
    // An ordinary answer, the client closing later: not visible, neither ok nor failed.
    let f = encrypted_front(&["http/1.1"], 620, 5, (3_000, ToServer));
    assert!(
        f.outcome_not_visible && !f.is_failure() && !f.front_http2,
        "{f:#?}"
    );
    assert_eq!(f.category, Category::Undetermined);
    assert!(
        headline(&f).starts_with("outcome not visible"),
        "{}",
        headline(&f)
    );
    // The clients offer h2: an ALB selects it, the exchange is not a request.
    let f = encrypted_front(&["h2", "http/1.1"], 620, 5, (3_000, ToServer));
    assert!(f.outcome_not_visible && f.front_http2, "{f:#?}");
}

#[test]
fn encrypted_front_alone_keeps_what_it_suggests() {
    // An answer at the idle timeout (60 s): possibly the ALB's 504.
    let f = encrypted_front(&["http/1.1"], 300, 60_000, (62_000, ToServer));
    assert!(!f.outcome_not_visible && f.is_failure(), "{f:#?}");
    assert_eq!(f.candidates, vec![Category::TargetIdleTimeout]);
    // A short answer, then the ALB's FIN within a second: possibly its error page.
    let f = encrypted_front(&["http/1.1"], 300, 2, (400, ToClient));
    assert!(!f.outcome_not_visible && f.is_failure(), "{f:#?}");
    assert_eq!(f.candidates.first(), Some(&Category::TargetConnectRefused));
    // A long answer before the ALB's close is not suggested as an error.
    let f = encrypted_front(&["http/1.1"], 9_000, 2, (400, ToClient));
    assert!(f.outcome_not_visible, "{f:#?}");
    // On HTTP/2 the timing of one exchange says nothing of a request.
    let f = encrypted_front(&["h2"], 300, 60_000, (62_000, ToServer));
    assert!(f.outcome_not_visible && f.front_http2, "{f:#?}");
}

/// Issue 12: a front-end capture whose answers a truncating mirror cut short: the readable
/// status lines and Server headers still recognise the node (`awselb/2.0`) and time the ALB's
/// 502 (undetermined with its candidates, not "back end not captured" alone).
#[test]
fn truncated_front_end_answers_still_recognise_the_node() {
    let mut tr = AlbTracker::new(AlbConfig::default(), Collect::default());
    for (id, port, status_line) in [
        (
            1,
            40000,
            &b"HTTP/1.1 200 OK\r\nServer: Apache\r\nContent-Length: 4000\r\nCon"[..],
        ),
        (
            2,
            40001,
            &b"HTTP/1.1 502 Bad Gateway\r\nServer: awselb/2.0\r\nDate: Thu, 11 D"[..],
        ),
    ] {
        let at = 1_000 * id as i64;
        let c = Conn::new(id, ep(CLIENT, port), ep(ALB, 80), at - 2).handshake(at - 2);
        let mut ex = exch(0, None, Some(get(at, "/x", front_headers())), None);
        ex.response_error = Some(resp_error(
            ResponseErrorKind::Gap,
            at + 20,
            id * 10,
            4_000,
            status_line,
        ));
        tr.exchange(&c.ctx(false), ex);
    }
    let (sink, known) = tr.finish();
    assert!(known.is_alb(ALB.parse().unwrap()));
    assert_eq!(known.vantage(), crate::alb::Vantage::FrontEndOnly);
    let all: Vec<Finding> = sink.paths.iter().map(|p| diagnose(p, &known)).collect();
    assert_eq!(all.len(), 2);
    let bad = all.iter().find(|f| f.status == Some(502)).expect("the 502");
    check(
        bad,
        Category::Undetermined,
        Some(502),
        Some(GeneratedBy::Lb),
    );
    assert!(bad.candidates.contains(&Category::TargetConnectRefused));
}

/// Issue 12, front end only: a 5xx without a Server header that carries a header the ALB never
/// writes on its own answers (X-Powered-By, Set-Cookie, ...) was relayed from a target
/// (proved); one carrying only what an ALB's own answer may carry (incl. the security headers
/// its header modification adds, with its Server header turned off) stays undetermined.
#[test]
fn front_only_relayed_header_proves_the_target() {
    for (extra, want) in [
        (
            Some(("X-Powered-By", "Express")),
            Category::TargetGeneratedError,
        ),
        (Some(("set-cookie", "a=b")), Category::TargetGeneratedError),
        (
            Some(("Strict-Transport-Security", "max-age=3600")),
            Category::Undetermined,
        ),
        (None, Category::Undetermined),
    ] {
        let mut tr = AlbTracker::new(AlbConfig::default(), Collect::default());
        let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
        let mut r = resp(130, 503, "x", 10);
        let mut list = vec![
            ("Date", "Thu, 11 Dec 2025 16:42:58 GMT"),
            ("Content-Type", "text/html"),
            ("Content-Length", "10"),
        ];
        list.extend(extra);
        r.headers = hdrs(&list);
        // a second client's answer from the ALB itself names the node
        tr.exchange(
            &c.ctx(false),
            exch(0, None, Some(get(100, "/x", front_headers())), Some(r)),
        );
        let c2 = Conn::new(2, ep(CLIENT, 40001), ep(ALB, 80), 298).handshake(298);
        tr.exchange(
            &c2.ctx(false),
            exch(
                0,
                None,
                Some(get(300, "/y", front_headers())),
                Some(resp(330, 200, "Apache", 10)),
            ),
        );
        let all = diagnose_all(tr);
        let f = all.iter().find(|f| f.status == Some(503)).expect("the 503");
        assert_eq!(f.category, want, "{extra:?}");
        if want == Category::TargetGeneratedError {
            assert_eq!(f.generated_by, Some(GeneratedBy::Target));
        }
    }
}

/// A chunked response (no Content-Length) that the target's FIN ends before its last chunk:
/// the client got a body cut short, `incomplete_body`, from both legs and from the front end.
#[test]
fn chunked_body_cut_by_the_target_is_incomplete_body() {
    let cut = |ms| {
        let mut r = resp(ms, 200, "app", 0);
        r.content_length = None;
        r.chunked = true;
        r.complete = None;
        r.body_bytes = 47;
        r
    };
    // The client's connection: part of the body relayed, then the ALB's bare FIN.
    let front = |tr: &mut Tr| {
        let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
            .handshake(98)
            .ev(260, ToClient, K::Fin);
        tr.closed(c.record(
            AppKind::Http,
            vec![exch(
                0,
                None,
                Some(get(100, "/x", front_headers())),
                Some(cut(122)),
            )],
            0,
            None,
        ));
    };
    let mut tr = tracker();
    front(&mut tr);
    let b = back_conn(2, 101).handshake(101).ev(250, ToClient, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), Some(cut(120)))],
        0,
        None,
    ));
    let f = one(tr);
    check(&f, Category::IncompleteBody, None, Some(GeneratedBy::Lb));
    assert!(f.fix.as_deref().unwrap().contains("chunked"), "{:?}", f.fix);

    // the front end alone proves it too (the ALB's bare FIN after part of the body)
    let mut tr = tracker();
    front(&mut tr);
    let f = one(tr);
    check(&f, Category::IncompleteBody, None, Some(GeneratedBy::Lb));
}

/// An event stream still open when the capture ends (no close after its headers) is not a
/// body cut short.
#[test]
fn chunked_stream_open_at_the_end_of_the_capture_is_not_cut() {
    let mut tr = tracker();
    let open = |ms| {
        let mut r = resp(ms, 200, "app", 0);
        r.content_length = None;
        r.chunked = true;
        r.complete = None;
        r.body_bytes = 441;
        r
    };
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/sse", front_headers())),
            Some(open(122)),
        )],
        0,
        None,
    ));
    let b = back_conn(2, 101).handshake(101);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), Some(open(120)))],
        0,
        None,
    ));
    let f = one(tr);
    assert_ne!(f.category, Category::IncompleteBody);
}

/// A body short of its Content-Length with no close after it: the capture ended while it was
/// still arriving (a capture cut right after the target's header segment), not a cut body.
#[test]
fn body_still_arriving_at_the_end_of_the_capture_is_not_cut() {
    let mut tr = tracker();
    // Both connections still open when the capture ends.
    let mut c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
    c.s.close_reason = crate::flow::CloseReason::EndOfCapture;
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(0, None, Some(get(100, "/x", front_headers())), None)],
        0,
        None,
    ));
    let mut arriving = resp(120, 200, "uvicorn", 29);
    arriving.complete = None;
    arriving.body_bytes = 0;
    let mut b = back_conn(2, 101).handshake(101);
    b.s.close_reason = crate::flow::CloseReason::EndOfCapture;
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), Some(arriving))],
        0,
        None,
    ));
    let f = one(tr);
    assert!(f.in_flight_at_end, "{f:#?}");
    assert_ne!(f.category, Category::IncompleteBody);
    assert!(!f.is_failure(), "{:?}", f.category);
}

/// A back-end connection whose request is not readable (an HTTP/2 preface a target does not
/// speak), answered with bytes that are no readable answer, then closed by the target: not
/// "closed before any response byte"; a malformed answer or the protocol's own close.
#[test]
fn unreadable_answer_before_the_targets_close_is_not_a_close_before_answering() {
    let closed = |answered: u64| {
        let mut tr = tracker();
        front_answered(&mut tr, 100, 106, 502, "awselb/2.0");
        let mut b = back_conn(2, 101)
            .handshake(101)
            .ev(104, ToClient, K::Fin)
            .ev(105, ToServer, K::Fin);
        b.s.dirs[ToServer.index()].payload_bytes = 57;
        b.s.dirs[ToClient.index()].payload_bytes = answered;
        tr.closed(b.record(AppKind::Http, vec![], 0, None));
        one(tr)
    };
    let f = closed(195);
    check(&f, Category::Undetermined, Some(502), Some(GeneratedBy::Lb));
    assert_eq!(
        f.candidates,
        vec![
            Category::MalformedResponse,
            Category::TargetClosedBeforeResponse
        ]
    );
    assert!(
        ev(&f)
            .iter()
            .all(|e| !e.contains("before any response byte")),
        "{:?}",
        ev(&f)
    );
    // Nothing came back before the FIN: closed before answering, as before.
    let f = closed(0);
    check(
        &f,
        Category::TargetClosedBeforeResponse,
        Some(502),
        Some(GeneratedBy::Lb),
    );
}

/// A chunked body without its last chunk and no close after it: the capture ended while it was
/// still arriving (a Go handler flushing a first chunk, an event stream), not a cut body and
/// not a whole one either: in flight.
#[test]
fn chunked_body_still_arriving_at_the_end_of_the_capture_is_in_flight() {
    let mut tr = tracker();
    let mut c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
    c.s.close_reason = crate::flow::CloseReason::EndOfCapture;
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(0, None, Some(get(100, "/x", front_headers())), None)],
        0,
        None,
    ));
    let mut arriving = resp(120, 200, "go", 0);
    arriving.complete = None;
    arriving.content_length = None;
    arriving.chunked = true;
    arriving.body_bytes = 100;
    let mut b = back_conn(2, 101).handshake(101);
    b.s.close_reason = crate::flow::CloseReason::EndOfCapture;
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), Some(arriving))],
        0,
        None,
    ));
    let f = one(tr);
    assert!(f.in_flight_at_end, "{f:#?}");
    assert_eq!(f.category, Category::Undetermined);
    assert!(!f.is_failure(), "{:?}", f.category);
}

/// A chunked body the ALB closed on the back end mid-stream: the ALB's idle timeout cutting a
/// stalled stream, or the ALB closing because its client left or stopped the answer. The front
/// end tells them apart (the ALB's bare FIN to the client proves the cut, the client's RST
/// first its stopping the answer); from the back end alone it is `undetermined` between them.
#[test]
fn chunked_body_closed_by_the_alb_needs_the_front_end() {
    let stalled = |ms| {
        let mut r = resp(ms, 200, "app", 0);
        r.content_length = None;
        r.chunked = true;
        r.complete = None;
        r.body_bytes = 18;
        r
    };
    let back = |tr: &mut Tr| {
        let b = back_conn(2, 101).handshake(101).ev(5_130, ToServer, K::Fin);
        tr.closed(b.record(
            AppKind::Http,
            vec![exch(0, None, back_req(103), Some(stalled(120)))],
            0,
            None,
        ));
    };
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
        .handshake(98)
        .ev(5_131, ToClient, K::Fin);
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/x", front_headers())),
            Some(stalled(122)),
        )],
        0,
        None,
    ));
    back(&mut tr);
    let f = one(tr);
    check(&f, Category::IncompleteBody, None, Some(GeneratedBy::Lb));

    // the client's RST after the headers, before the ALB's close of either connection: the
    // client stopped the relayed answer (the ALB then dropped the target's connection)
    let mut tr = tracker();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98)
        .handshake(98)
        .ev(5_100, ToServer, K::Rst);
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/x", front_headers())),
            Some(stalled(122)),
        )],
        0,
        None,
    ));
    back(&mut tr);
    let f = one(tr);
    assert_eq!((f.category, f.status), (Category::Ok, Some(200)), "{f:#?}");
    assert!(
        f.evidence
            .iter()
            .any(|e| matches!(e, Evidence::ClientStoppedAnswer { body: 18, .. })),
        "{:?}",
        f.evidence
    );

    let mut tr = tracker();
    back(&mut tr);
    let f = one(tr);
    assert_eq!(f.category, Category::Undetermined);
    assert_eq!(
        f.candidates,
        vec![
            Category::IncompleteBody,
            Category::ClientClosed,
            Category::Ok
        ]
    );
}

/// The same with a body short of its Content-Length (a target that stalled after its headers,
/// recorded behind nginx with uvicorn: samples/real/ngx_uvicorn): the ALB's close on the back
/// end alone is its idle timeout cutting the body or its client having left.
#[test]
fn short_body_closed_by_the_alb_needs_the_front_end() {
    let mut tr = tracker();
    let mut stalled = resp(120, 200, "uvicorn", 1000);
    stalled.complete = None;
    stalled.body_bytes = 100;
    let b = back_conn(2, 101).handshake(101).ev(5_130, ToServer, K::Fin);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(0, None, back_req(103), Some(stalled))],
        0,
        None,
    ));
    let f = one(tr);
    assert_eq!(f.category, Category::Undetermined);
    assert_eq!(
        f.candidates,
        vec![
            Category::IncompleteBody,
            Category::ClientClosed,
            Category::Ok
        ]
    );
}

/// An HTTPS target group seen with a clear front end (recorded behind nginx with Apache
/// mod_ssl): the back end shows only that the target answered over TLS, the front end that
/// the client got 503 with the target's Server header: the target's own error, relayed.
#[test]
fn target_5xx_over_a_tls_back_end_is_the_targets_error() {
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        ..AlbConfig::default()
    };
    let mut tr: Tr = AlbTracker::new(config, Collect::default());
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
    tr.closed(c.record(
        AppKind::Http,
        vec![exch(
            0,
            None,
            Some(get(100, "/maintenance", front_headers())),
            Some(resp(112, 503, "Apache/2.4.71 (Debian) OpenSSL/3.0.19", 339)),
        )],
        0,
        None,
    ));
    close_tls_back_answer(&mut tr);
    let f = one(tr);
    check(
        &f,
        Category::TargetGeneratedError,
        Some(503),
        Some(GeneratedBy::Target),
    );
}

/// Closes a TLS back-end connection of the node to the HTTPS target: established at 102 ms,
/// one request record burst at 103 ms and one answer burst at 110 ms, no keys.
fn close_tls_back_answer(tr: &mut Tr) {
    use crate::protocol::TlsBurst;
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 443), 101).handshake(101);
    let mut rec = b.record(AppKind::Tls, vec![], 0, None);
    let burst = |dir, ms: i64, bytes| TlsBurst {
        dir,
        first: t(ms),
        first_pos: p(ms as u64),
        last: t(ms),
        tail_us: 0,
        tail_bytes: 0,
        tickets: 0,
        bytes,
    };
    rec.tls = Some(TlsInfo {
        established: Some(t(102)),
        bursts: vec![burst(ToServer, 103, 243), burst(ToClient, 110, 568)],
        ..TlsInfo::default()
    });
    tr.closed(rec);
}

/// The target's close of an HTTPS back-end connection after its (encrypted) answer, seen from
/// the back end alone: `close` = (ms after the answer's last record, sender, FIN or RST).
/// Between the answer and a keep-alive timer (0.5 s), or a reset at any time before that, the
/// answer may have been cut: undetermined [incomplete_body, target_closed_before_response];
/// a FIN that came with the answer (`Connection: close`), at a keep-alive timer, or the ALB
/// closing first leave it answered, status not visible.
#[test]
fn target_close_soon_after_a_tls_answer_may_have_cut_it() {
    use crate::protocol::TlsBurst;
    let run = |after: i64, by: Dir, kind: K| {
        let config = AlbConfig {
            alb_ips: vec![ALB.parse().unwrap()],
            ..AlbConfig::default()
        };
        let mut tr: Tr = AlbTracker::new(config, Collect::default());
        let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 443), 101)
            .handshake(101)
            .ev(110 + after, by, kind);
        let mut rec = b.record(AppKind::Tls, vec![], 0, None);
        let burst = |dir, ms: i64, bytes| TlsBurst {
            dir,
            first: t(ms),
            first_pos: p(ms as u64),
            last: t(ms),
            tail_us: 0,
            tail_bytes: 0,
            tickets: 0,
            bytes,
        };
        rec.tls = Some(TlsInfo {
            established: Some(t(102)),
            bursts: vec![burst(ToServer, 103, 243), burst(ToClient, 110, 568)],
            ..TlsInfo::default()
        });
        tr.closed(rec);
        one(tr)
    };
    let cut = [
        (200, ToClient, K::Fin),
        (20, ToClient, K::Fin),
        (1, ToClient, K::Rst),
        (400, ToClient, K::Rst),
    ];
    for (after, by, kind) in cut {
        let f = run(after, by, kind.clone());
        assert_eq!(f.category, Category::Undetermined, "{after} {kind:?}");
        assert_eq!(f.cause, Cause::TlsAnswerThenClose, "{after} {kind:?}");
        assert_eq!(
            f.candidates,
            vec![
                Category::IncompleteBody,
                Category::TargetClosedBeforeResponse
            ]
        );
        // a failure (undetermined), not an outcome counted apart; neither status nor whether
        // a whole head came is visible in its access-log line
        assert!(!f.outcome_not_visible && f.access_log.status_not_visible);
        assert_eq!(
            f.access_log.target_processing_time,
            crate::diagnose::Step::NotCaptured
        );
    }
    let whole = [
        (2, ToClient, K::Fin),
        (600, ToClient, K::Fin),
        (2000, ToClient, K::Rst),
        (200, ToServer, K::Fin),
    ];
    for (after, by, kind) in whole {
        let f = run(after, by, kind.clone());
        assert_eq!(f.cause, Cause::AnsweredStatusNotVisible, "{after} {kind:?}");
        assert!(f.candidates.is_empty() && f.outcome_not_visible);
    }
}

/// The same HTTPS target group's answer seen from the back end alone (or with a front end whose
/// answer carries status 200): from the back end alone the status is encrypted and the front end
/// not captured, so it is answered, status not visible (neither ok nor failed, no status, no
/// one named as its generator); with the front end's 200 it stays `ok`.
#[test]
fn target_answer_over_tls_alone_is_answered_status_not_visible() {
    let run = |front: Option<u16>| {
        let config = AlbConfig {
            alb_ips: vec![ALB.parse().unwrap()],
            ..AlbConfig::default()
        };
        let mut tr: Tr = AlbTracker::new(config, Collect::default());
        if let Some(status) = front {
            let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 98).handshake(98);
            tr.closed(c.record(
                AppKind::Http,
                vec![exch(
                    0,
                    None,
                    Some(get(100, "/ok", front_headers())),
                    Some(resp(112, status, "Apache/2.4.71 (Debian)", 18)),
                )],
                0,
                None,
            ));
        }
        close_tls_back_answer(&mut tr);
        one(tr)
    };
    let f = run(None);
    assert!(f.outcome_not_visible && !f.is_failure(), "{f:#?}");
    assert_eq!(f.category, Category::Undetermined);
    assert_eq!(f.cause, Cause::AnsweredStatusNotVisible);
    assert_eq!((f.status, f.generated_by), (None, None));
    assert!(f.access_log.status_not_visible, "{f:#?}");
    let f = run(Some(200));
    assert!(!f.outcome_not_visible, "{f:#?}");
    check(&f, Category::Ok, Some(200), Some(GeneratedBy::Target));
}

/// The ok fast path (`plain_ok_tally`) takes a plain ok pair and counts it as the full verdict
/// does (the same [`super::tally::Tally`]), and leaves to the full verdict the ALB's own answer, the target's 5xx and a client that
/// closed first (debug builds also check every request it takes, in every test that analyses
/// a capture).
#[test]
fn plain_ok_pairs_take_the_fast_path_and_decide_as_the_full_verdict() {
    let pair = |front_status: u16, front_server: &str, back_status: u16| {
        let mut tr = tracker();
        front_answered(&mut tr, 100, 121, front_status, front_server);
        let b = back_conn(2, 101).handshake(101);
        tr.exchange(
            &b.ctx(false),
            exch(
                0,
                None,
                back_req(103),
                Some(resp(120, back_status, "Apache", 10)),
            ),
        );
        let (sink, known) = tr.finish();
        assert_eq!(sink.paths.len(), 1);
        let (fast, full) = super::classify::both_verdicts(&sink.paths[0], &known);
        let counted = super::tally::Tally::of(&full, &sink.paths[0]);
        (fast.map(|t| (t, counted)), full)
    };
    let (fast, full) = pair(200, "Apache", 200);
    let (fast, counted) = fast.expect("the fast path takes a plain ok pair");
    assert_eq!(fast, counted);
    check(&full, Category::Ok, Some(200), Some(GeneratedBy::Target));
    let (fast, full) = pair(404, "Apache", 404);
    let (fast, counted) = fast.expect("the fast path takes a plain ok pair");
    assert_eq!(fast, counted);
    assert_eq!(full.category, Category::Ok);
    // The ALB's own 502 after the target's 200, and the target's own 500: the full verdict.
    let (fast, full) = pair(502, "awselb/2.0", 200);
    assert!(fast.is_none());
    assert_eq!(full.category, Category::Undetermined);
    let (fast, full) = pair(500, "Apache", 500);
    assert!(fast.is_none());
    assert_eq!(full.category, Category::TargetGeneratedError);
}

/// A refused connect that two client requests fit equally by time, both answered 200 with no
/// `Server` to say who answered: whichever it is paired with got an answer a refused connect
/// never gives, so the pairing may be wrong and the verdict is not a confident
/// target_connect_refused.
#[test]
fn an_ambiguous_pairing_the_answer_contradicts_is_undetermined() {
    let mut tr = tracker();
    for (id, port, req) in [(1u64, 40_001u16, 100i64), (3, 40_002, 100)] {
        let c = Conn::new(id, ep(CLIENT, port), ep(ALB, 80), req - 2).handshake(req - 2);
        tr.exchange(
            &c.ctx(false),
            exch(
                0,
                None,
                Some(get(req, "/x", front_headers())),
                Some(resp(104, 200, "", 10)),
            ),
        );
    }
    let b = back_conn(2, 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(102, ToClient, K::Rst);
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let all = diagnose_all(tr);
    let paired = all
        .iter()
        .find(|f| f.target.is_some())
        .expect("the refused connect is paired");
    assert_eq!(paired.category, Category::Undetermined, "{paired:#?}");
    assert_eq!(paired.candidates, vec![Category::TargetConnectRefused]);
    assert_eq!(paired.status, Some(200));
    assert!(all
        .iter()
        .all(|f| f.category != Category::TargetConnectRefused));
}
