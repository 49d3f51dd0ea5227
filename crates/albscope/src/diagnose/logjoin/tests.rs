//! Tests of the access-log join.

use super::*;
use crate::accesslog::parse_line;
use crate::accesslog::parse_rfc3339;
use crate::alb::PairingMethod;
use crate::diagnose::{AccessLogView, AlbAddr, Finding, LegKind, RequestId, RequestSeen, Step};

const LINE: &str = "http 2025-12-11T16:43:58.020850Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:40007 10.0.2.15:80 0.000 -1 -1 504 - 180 277 \"GET http://h:80/delay.php HTTP/1.1\" \"curl/8.11.1\" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 \"Root=1-693af492-4b991651684c4e2c5a1036e6\" \"-\" \"-\" 0 2025-12-11T16:42:58.020000Z \"forward\" \"-\" \"-\" \"10.0.2.15:80\" \"-\" \"-\" \"-\" TID_0123456789abcdef0123456789abcdef \"-\" \"-\" \"-\"";

fn ts(s: &str) -> Timestamp {
    parse_rfc3339(s).expect("time")
}

fn ep(s: &str) -> Endpoint {
    let (ip, port) = s.rsplit_once(':').expect("ip:port");
    Endpoint {
        ip: ip.parse().expect("ip"),
        port: port.parse().expect("port"),
    }
}

fn finding(trace: Option<&str>) -> Finding {
    Finding {
        id: RequestId {
            leg: Some(LegKind::Front),
            conn: 2,
            index: 0,
        },
        time: ts("2025-12-11T16:42:58.020700Z"),
        client: Some(ep("13.239.55.82:40007")),
        client_ip: "13.239.55.82".parse().ok(),
        alb: Some(AlbAddr::Endpoint(ep("10.0.1.25:80"))),
        target: Some(ep("10.0.2.15:80")),
        back_alb: Some(ep("10.0.1.25:31000")),
        method: Some("GET".into()),
        path: Some("/delay.php".into()),
        host: None,
        request: RequestSeen::Http {
            method: "GET".into(),
            target: "/delay.php".into(),
            host: None,
        },
        status: Some(504),
        status_inferred: false,
        front_encrypted: false,
        decrypted: Default::default(),
        generated_by: Some(crate::taxonomy::GeneratedBy::Lb),
        category: Category::TargetIdleTimeout,
        in_flight_at_end: false,
        outcome_not_visible: false,
        front_http2: false,
        candidates: Vec::new(),
        cause: crate::diagnose::Cause::IdleTimeout {
            idle: Duration::from_millis(60_000),
        },
        trace_id: trace.map(Into::into),
        access_log: AccessLogView {
            request_creation_time: Some(ts("2025-12-11T16:42:58.020700Z")),
            request_processing_time: Step::Took(Duration(0)),
            target_processing_time: Step::Never,
            response_processing_time: Step::Never,
            elb_status_code: Some(504),
            target_status_code: None,
            status_not_visible: false,
            trace_id: trace.map(Into::into),
        },
        timeline: Vec::new(),
        evidence: Vec::new(),
        fix: None,
        notes: Vec::new(),
        pairing: PairingMethod::Headers,
        target_server: None,
        grpc: None,
        client_stream_reset: None,
        logged: None,
    }
}

fn index(line: &str) -> LogIndex {
    let mut idx = LogIndex::new(JoinOptions::default(), vec!["x.log".into()]);
    idx.add("x.log:1".into(), parse_line(line).expect("line parses"));
    idx
}

#[test]
fn trace_root_takes_the_root_part() {
    assert_eq!(
        trace_root("Self=1-a-b;Root=1-693af492-4b99;Sampled=1").as_deref(),
        Some("1-693af492-4b99")
    );
    assert_eq!(trace_root("Root=1-x").as_deref(), Some("1-x"));
    assert_eq!(trace_root("-"), None);
}

#[test]
fn joins_by_trace_id_and_agrees() {
    let mut idx = index(LINE);
    let f = finding(Some("Root=1-693af492-4b991651684c4e2c5a1036e6"));
    let l = idx.join(&f).expect("joined");
    assert_eq!(l.joined_by, JoinMethod::TraceId);
    assert!(l.disagreements.is_empty(), "{:?}", l.disagreements);
    // The entry is used: the same request again finds nothing.
    assert!(idx.join(&f).is_none());
    let s = idx.finish(None, None);
    assert_eq!((s.joined, s.requests_without_entry), (1, 1));
}

#[test]
fn falls_back_to_client_and_time_within_tolerance() {
    let mut idx = index(LINE);
    let l = idx.join(&finding(None)).expect("joined");
    assert_eq!(l.joined_by, JoinMethod::ClientTime);
    let mut idx = index(LINE);
    let mut far = finding(None);
    far.access_log.request_creation_time = Some(ts("2025-12-11T16:43:00.100000Z"));
    assert!(idx.join(&far).is_none());
    // A different trace id is another request even from the same client at the same time.
    let mut idx = index(LINE);
    assert!(idx
        .join(&finding(Some("Root=1-693af492-000000000000000000000000")))
        .is_none());
}

#[test]
fn flags_status_and_minus_one_disagreements() {
    let bad = LINE.replace("0.000 -1 -1 504 -", "0.000 70.000 0.000 200 200");
    let mut idx = index(&bad);
    let l = idx
        .join(&finding(Some("Root=1-693af492-4b991651684c4e2c5a1036e6")))
        .expect("joined");
    let d = &l.disagreements;
    assert!(
        d.contains(&Disagreement::ElbStatus {
            log: Some(200),
            capture: 504
        }),
        "{d:?}"
    );
    assert!(
        d.contains(&Disagreement::TargetStatus {
            log: Some(200),
            capture: None,
            reading: TargetStatusReading::LateReplyNotRelayed
        }),
        "{d:?}"
    );
    assert!(
        d.contains(&Disagreement::Processing {
            field: ProcessingTime::Target,
            log: Some(Duration::from_millis(70_000)),
            capture_s: -1.0,
            tolerance_s: 0.1
        }),
        "{d:?}"
    );
    let mut idx = index(&LINE.replace("0.000 -1 -1 504 -", "-1 -1 -1 504 -"));
    let l = idx.join(&finding(None)).expect("joined");
    assert_eq!(
        l.disagreements,
        [Disagreement::Processing {
            field: ProcessingTime::Request,
            log: None,
            capture_s: 0.0,
            tolerance_s: 0.1
        }]
    );
}

#[test]
fn target_and_time_only_without_client_and_only_when_unique() {
    let mut f = finding(None);
    f.client = None;
    let mut idx = index(LINE);
    let mut other_ip = f.clone();
    other_ip.client_ip = "10.9.9.9".parse().ok();
    assert!(
        idx.join(&other_ip).is_none(),
        "X-Forwarded-For names another client"
    );
    let l = idx.join(&f).expect("joined");
    assert_eq!(l.joined_by, JoinMethod::TargetTime);
    assert_eq!(l.client.to_string(), "13.239.55.82:40007");
    // Two entries for the target in the window: ambiguous, no join.
    let mut idx = index(LINE);
    let other = LINE.replace("13.239.55.82:40007", "13.239.55.82:40008");
    idx.add("x.log:2".into(), parse_line(&other).expect("parses"));
    assert!(idx.join(&f).is_none());
    // With the client known, the target is never used to join.
    let mut idx = index(&LINE.replace("13.239.55.82:40007", "10.1.1.1:1"));
    assert!(idx.join(&finding(None)).is_none());
}

#[test]
fn unjoined_entries_inside_and_outside_the_capture() {
    let idx = index(LINE);
    let first = parse_rfc3339("2025-12-11T16:42:00Z").ok();
    let last = parse_rfc3339("2025-12-11T16:44:00Z").ok();
    let s = idx.finish(first, last);
    assert_eq!(
        (s.entries_without_request, s.entries_outside_capture),
        (1, 0)
    );
    assert_eq!(s.uncaptured_entries.len(), 1);
    let idx = index(LINE);
    let s = idx.finish(
        parse_rfc3339("2025-12-11T17:00:00Z").ok(),
        parse_rfc3339("2025-12-11T17:01:00Z").ok(),
    );
    assert_eq!(
        (s.entries_without_request, s.entries_outside_capture),
        (0, 1)
    );
}

#[test]
fn entries_past_the_limit_or_far_from_the_capture_are_counted_not_indexed() {
    let entry = || parse_line(LINE).expect("line parses");
    let opts = JoinOptions {
        max_entries: 2,
        ..JoinOptions::default()
    };
    let mut idx = LogIndex::new(opts, vec!["x.log".into()]);
    for i in 0..5 {
        idx.add(format!("x.log:{i}"), entry());
    }
    assert_eq!(idx.len(), 2);
    let s = idx.finish(None, None);
    assert_eq!((s.entries, s.entries_not_indexed), (5, 3));

    // The capture a day later: the entry is skipped and counted outside the capture.
    let day = Duration(86_400_000_000_000);
    let created = entry().request_creation_time.expect("logged");
    let span = (
        created.plus(day),
        created.plus(day).plus(Duration::from_millis(60_000)),
    );
    let opts = JoinOptions {
        capture_span: Some(span),
        ..JoinOptions::default()
    };
    let mut idx = LogIndex::new(opts, vec!["x.log".into()]);
    idx.add("x.log:1".into(), entry());
    assert!(idx.is_empty());
    let s = idx.finish(Some(span.0), Some(span.1));
    assert_eq!((s.entries, s.entries_outside_capture), (1, 1));

    // Half an hour later: still indexed (a trace-id join may cross a clock difference).
    let half_hour = Duration(1_800_000_000_000);
    let opts = JoinOptions {
        capture_span: Some((created.plus(half_hour), created.plus(half_hour))),
        ..JoinOptions::default()
    };
    let mut idx = LogIndex::new(opts, vec!["x.log".into()]);
    idx.add("x.log:1".into(), entry());
    assert_eq!(idx.len(), 1);
}
