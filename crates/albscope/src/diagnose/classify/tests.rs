//! Keep-alive rules: a close at the request whose idle period the capture does not show, a
//! target closing as its own `Connection: close` said, and a `Keep-Alive: timeout=N` it
//! announces; the ALB's 504 seen from the front end alone after a slow connect.

use super::diagnose;
use crate::alb::testutil::*;
use crate::alb::{AlbConfig, AlbTracker};
use crate::diagnose::{Cause, CloseOrder, Evidence, Finding, IdleUnseen, Note, TellApart};
use crate::flow::Dir::{ToClient, ToServer};
use crate::flow::TcpEventKind as K;
use crate::protocol::{AppKind, AppSink};
use crate::taxonomy::{Category, GeneratedBy};

type Tr = AlbTracker<Collect>;

fn tracker() -> Tr {
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        ..AlbConfig::default()
    };
    AlbTracker::new(config, Collect::default())
}

/// The finding of the last request (the earlier exchanges only set the scene).
fn failed(tr: Tr) -> Finding {
    let (sink, known) = tr.finish();
    let all: Vec<Finding> = sink.paths.iter().map(|p| diagnose(p, &known)).collect();
    let last = all.iter().map(|f| f.time).max();
    let mut found: Vec<Finding> = all.into_iter().filter(|f| Some(f.time) == last).collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

/// A front-end connection with a GET at `req` answered 502 by the ALB 3 ms later.
fn front_502(tr: &mut Tr, id: u64, port: u16, req: i64) {
    let c = Conn::new(id, ep(CLIENT, port), ep(ALB, 80), req - 2).handshake(req - 2);
    tr.exchange(
        &c.ctx(false),
        exch(
            0,
            None,
            Some(get(req, "/x", front_headers())),
            Some(resp(req + 3, 502, "awselb/2.0", 10)),
        ),
    );
}

fn back_conn(id: u64, ms: i64) -> Conn {
    Conn::new(id, ep(ALB, 50000 + id as u16), ep(TARGET, 80), ms)
}

fn back_req(ms: i64) -> Option<crate::protocol::HttpRequest> {
    Some(get(ms, "/x", back_headers(CLIENT)))
}

/// Closes back-end connection `b`, whose requests (at `requests`, in order) got no answer.
fn close_unanswered(tr: &mut Tr, b: Conn, requests: &[i64]) {
    let exchanges = (0u32..)
        .zip(requests)
        .map(|(i, &ms)| exch(i, None, back_req(ms), None))
        .collect();
    tr.closed(b.record(AppKind::Http, exchanges, 0, None));
}

/// A back-end connection opened before the capture (no SYN in it) whose target resets it
/// 1 ms after a request at `ms`.
fn reset_before_capture_opened(ms: i64) -> Conn {
    let mut b = back_conn(2, ms).ev(ms + 1, ToClient, K::Rst);
    b.s.saw_syn = false;
    b
}

fn undetermined_race(f: &Finding, why: IdleUnseen) {
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert_eq!(
        f.candidates,
        vec![
            Category::KeepaliveRace,
            Category::TargetClosedBeforeResponse
        ]
    );
    assert!(f
        .notes
        .contains(&Note::TellApart(TellApart::IdleBeforeRequest)));
    assert!(
        f.evidence.contains(&Evidence::IdleNotVisible { why }),
        "{:?}",
        f.evidence
    );
}

#[test]
fn a_close_at_a_reused_request_after_a_lost_response_is_undetermined() {
    let mut tr = tracker();
    front_502(&mut tr, 1, 40000, 10_000);
    // Exchange 0's response was lost (a gap on the target's side); exchange 1 is reset at once.
    let b = back_conn(2, 1_000)
        .handshake(1_000)
        .ev(
            1_010,
            ToClient,
            K::Gap {
                offset: 0,
                len: 123,
            },
        )
        .ev(10_001, ToClient, K::Rst);
    close_unanswered(&mut tr, b, &[1_002, 10_001]);
    let f = failed(tr);
    undetermined_race(&f, IdleUnseen::PreviousResponseLost);
    assert_eq!(f.status, Some(502));
    assert_eq!(f.generated_by, Some(GeneratedBy::Lb));
    let words = crate::report::words::headline(&f);
    assert!(words.contains("cannot be told"), "{words}");
}

#[test]
fn a_close_at_the_first_request_of_a_connection_opened_before_the_capture_is_undetermined() {
    let mut tr = tracker();
    front_502(&mut tr, 1, 40000, 10_000);
    close_unanswered(&mut tr, reset_before_capture_opened(10_001), &[10_001]);
    undetermined_race(&failed(tr), IdleUnseen::OpenedBeforeCapture);
}

#[test]
fn an_undetermined_race_seen_from_the_back_end_alone_is_still_the_albs_502() {
    // No front end: both candidates are the ALB's own 502, so who generated it is known.
    let mut tr = tracker();
    close_unanswered(&mut tr, reset_before_capture_opened(10_001), &[10_001]);
    let f = failed(tr);
    undetermined_race(&f, IdleUnseen::OpenedBeforeCapture);
    assert_eq!((f.status, f.status_inferred), (Some(502), true));
    assert_eq!(f.generated_by, Some(GeneratedBy::Lb));
}

#[test]
fn undetermined_candidates_that_disagree_leave_the_generator_unknown() {
    // Seen from the back end alone, the ALB closing a silent target early is the client
    // leaving (no status) or the deregistration delay (the ALB's 502): not known.
    let mut tr = tracker();
    let b = back_conn(2, 1_000)
        .handshake(1_000)
        .ev(3_000, ToServer, K::Fin);
    close_unanswered(&mut tr, b, &[1_002]);
    let f = failed(tr);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert!(f.candidates.contains(&Category::ClientClosed), "{f:#?}");
    assert_eq!(f.generated_by, None);
}

#[test]
fn a_close_at_a_fresh_or_visibly_busy_connection_stays_target_closed() {
    // A fresh connection (SYN seen): the target closed before answering.
    let mut tr = tracker();
    front_502(&mut tr, 1, 40000, 10_000);
    let b = back_conn(2, 10_000)
        .handshake(10_000)
        .ev(10_002, ToClient, K::Rst);
    close_unanswered(&mut tr, b, &[10_001]);
    assert_eq!(failed(tr).category, Category::TargetClosedBeforeResponse);
    // A lost response, but the target closed a second after the request: not a race.
    let mut tr = tracker();
    front_502(&mut tr, 1, 40000, 10_000);
    let b = back_conn(2, 1_000)
        .handshake(1_000)
        .ev(
            1_010,
            ToClient,
            K::Gap {
                offset: 0,
                len: 123,
            },
        )
        .ev(11_001, ToClient, K::Fin)
        .ev(11_002, ToServer, K::Fin);
    close_unanswered(&mut tr, b, &[1_002, 10_001]);
    assert_eq!(failed(tr).category, Category::TargetClosedBeforeResponse);
}

/// A back-end connection (id `id`) whose one exchange at `ms` the target answered with
/// `headers` (a finished exchange: what the target says of its connections is learned).
fn back_answered(tr: &mut Tr, id: u64, ms: i64, headers: &[(&str, &str)]) -> Conn {
    let c = back_conn(id, ms - 2).handshake(ms - 2);
    let mut r = resp(ms + 1, 200, "Express", 10);
    r.headers = hdrs(headers);
    tr.exchange(&c.ctx(false), exch(0, None, back_req(ms), Some(r)));
    c
}

#[test]
fn a_target_closing_after_its_own_connection_close_has_no_keepalive_timer() {
    let mut tr = tracker();
    let c = back_answered(&mut tr, 3, 100, &[("Connection", "close")]);
    // The target closes 1.5 s after its answer: it honours its Connection: close (a slow
    // close), no idle keep-alive timer.
    let mut rec = c
        .ev(1_601, ToClient, K::Fin)
        .ev(1_602, ToServer, K::Fin)
        .record(AppKind::Http, vec![], 1, Some(101));
    rec.last_response_closes = true;
    tr.closed(rec);
    let (_, known) = tr.finish();
    assert_eq!(known.target_keepalive(&ep(TARGET, 80)), None);
    assert!(known.alb_idle_closes.is_empty());
}

#[test]
fn a_race_at_the_keepalive_timeout_the_target_announces_says_so() {
    let mut tr = tracker();
    let c = back_answered(&mut tr, 3, 100, &[("Keep-Alive", "timeout=5")]);
    tr.closed(c.record(AppKind::Http, vec![], 1, Some(101)));
    front_502(&mut tr, 1, 40000, 10_000);
    // The raced connection: its first answer ended at 5_001, the request 5 s later.
    let b = back_conn(2, 4_990)
        .handshake(4_990)
        .ev(10_001, ToClient, K::Fin)
        .ev(10_002, ToClient, K::Rst);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(1, Some(5_000), back_req(10_001), None)],
        1,
        Some(5_001),
    ));
    let f = failed(tr);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
    assert!(
        f.evidence.contains(&Evidence::KeepaliveAnnounced {
            timeout: crate::capture::Duration::from_secs_f64(5.0),
            idle_matches: true,
        }),
        "{:?}",
        f.evidence
    );
    let fix = f.fix.unwrap_or_default();
    assert!(
        fix.contains("(60 s; the target announces `Keep-Alive: timeout=5`, below it)"),
        "{fix}"
    );
}

/// A back-end connection answered at 5_001 (handshake at 4_990, acked 1 ms later: the
/// capture sits on the ALB's side, 1 ms of round trip from the target), no keep-alive timer
/// announced or shown, reused at 10_001 (idle 5 s) and closed by the target with `close` at
/// `close_at`.
fn unknown_timer_close(close_at: i64, close: K) -> Finding {
    let mut tr = tracker();
    front_502(&mut tr, 1, 40000, 10_000);
    let mut b = back_conn(2, 4_990)
        .handshake(4_990)
        .ev(close_at, ToClient, close);
    b.s.handshake_ack = Some(t(4_991));
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(1, Some(5_000), back_req(10_001), None)],
        1,
        Some(5_001),
    ));
    failed(tr)
}

#[test]
fn an_idle_fin_crossing_the_request_is_a_race_without_a_known_timer() {
    let f = unknown_timer_close(10_001, K::Fin);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
}

#[test]
fn a_reset_as_the_request_arrives_without_a_known_timer_is_undetermined() {
    // An RST, no FIN before it, 1 ms after the request: as long as the request's round trip,
    // so it may answer the request (a reject, a process gone) as well as close the idle
    // connection abortively.
    let f = unknown_timer_close(10_002, K::Rst);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert_eq!(
        f.candidates,
        vec![
            Category::KeepaliveRace,
            Category::TargetClosedBeforeResponse
        ]
    );
    assert!(f
        .notes
        .contains(&Note::TellApart(TellApart::KeepaliveSetting)));
    assert_eq!(f.generated_by, Some(GeneratedBy::Lb));
    // Captured before the request, the RST left the target before it arrived: the target
    // closed the idle connection, a race.
    let f = unknown_timer_close(10_000, K::Rst);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
}

/// A FIN 1 ms after the request, as long as the request's round trip: the target may have
/// read the request and closed (a handler that failed, a hijacked connection closed) as well
/// as closed the idle connection as it arrived; with the timer unknown, undetermined, as for
/// an RST (gs_go_tls_hc: Go closing a hijacked connection 0.3 ms after the request, 1.2 s
/// idle, was stated keepalive_race).
#[test]
fn a_fin_as_the_request_arrives_without_a_known_timer_is_undetermined() {
    let f = unknown_timer_close(10_002, K::Fin);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert_eq!(
        f.candidates,
        vec![
            Category::KeepaliveRace,
            Category::TargetClosedBeforeResponse
        ]
    );
    assert!(matches!(f.cause, Cause::ClosedAtRequestTimerUnknown { .. }));
    assert_eq!(f.generated_by, Some(GeneratedBy::Lb));
}

#[test]
fn no_keepalive_timeout_is_invented_where_none_is_announced() {
    let f = unknown_timer_close(10_001, K::Fin);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
    assert!(!f
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::KeepaliveAnnounced { .. })));
    assert!(!f.fix.unwrap_or_default().contains("announces"));
}

/// A back-end connection (handshake at 4_990, its round trip `rtt_ms` seen from the ALB's
/// side when `acked`) whose answer ended at 5_001 after Keep-Alive: timeout=5; the ALB reuses
/// it at 10_001 (idle 5 s: the announced timer) and the target closes `close_after` ms later.
fn announced_race(acked: bool, close_after: i64) -> Finding {
    let mut tr = tracker();
    let c = back_answered(&mut tr, 3, 100, &[("Keep-Alive", "timeout=5")]);
    tr.closed(c.record(AppKind::Http, vec![], 1, Some(101)));
    front_502(&mut tr, 1, 40000, 10_000);
    let mut b = back_conn(2, 4_990)
        .handshake(4_990)
        .ev(10_001 + close_after, ToClient, K::Fin)
        .ev(10_002 + close_after, ToServer, K::Fin);
    if acked {
        b.s.handshake_ack = Some(t(4_991));
    }
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(1, Some(5_000), back_req(10_001), None)],
        1,
        Some(5_001),
    ));
    failed(tr)
}

fn close_order(f: &Finding) -> Option<CloseOrder> {
    f.evidence.iter().find_map(|e| match e {
        Evidence::CloseOrder { order, .. } => Some(*order),
        _ => None,
    })
}

#[test]
fn a_close_well_after_a_request_at_the_keepalive_gap_is_no_race() {
    // The idle gap matches the announced timer, but the target held the request 2 s (its
    // round trip is 1 ms) and closed then: it did not race.
    let f = announced_race(true, 2_000);
    assert_eq!(f.category, Category::TargetClosedBeforeResponse, "{f:#?}");
    assert_eq!(close_order(&f), Some(CloseOrder::AfterArrival));
    // 20 ms is still well past one round trip (1 ms) and the slack.
    let f = announced_race(true, 20);
    assert_eq!(f.category, Category::TargetClosedBeforeResponse, "{f:#?}");
}

#[test]
fn a_close_within_a_round_trip_of_the_request_is_a_race() {
    // Captured at the ALB's side: 1 ms of round trip each way of the target and back, plus
    // the slack, is a crossing.
    let f = announced_race(true, 11);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
    assert_eq!(close_order(&f), Some(CloseOrder::Crossed));
    // Without the handshake's ACK the round trip is unknown: a close at once still crossed.
    let f = announced_race(false, 0);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
}

#[test]
fn a_close_soon_after_the_request_without_a_round_trip_is_undetermined() {
    let f = announced_race(false, 50);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert_eq!(
        f.candidates,
        vec![
            Category::KeepaliveRace,
            Category::TargetClosedBeforeResponse
        ]
    );
    assert!(f.notes.contains(&Note::TellApart(TellApart::RoundTrip)));
    assert_eq!(close_order(&f), Some(CloseOrder::Unordered));
    assert_eq!(f.generated_by, Some(GeneratedBy::Lb));
    // Past the longest round trip a back end plausibly has, it did not race.
    let f = announced_race(false, 500);
    assert_eq!(f.category, Category::TargetClosedBeforeResponse, "{f:#?}");
}

#[test]
fn a_body_short_of_its_content_length_on_an_open_connection_is_in_flight() {
    // The capture ends after the target's headers, before its body and before any close:
    // the rest was still coming, nothing was cut short.
    let headers_only = |b: Conn| {
        let mut tr = tracker();
        let mut r = resp(1_003, 200, "gunicorn", 20);
        r.complete = None;
        r.body_bytes = 0;
        let ex = exch(0, None, back_req(1_002), Some(r));
        tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
        failed(tr)
    };
    let mut b = back_conn(2, 1_000).handshake(1_000);
    b.s.close_reason = crate::flow::CloseReason::EndOfCapture;
    let f = headers_only(b);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert!(f.in_flight_at_end, "{f:#?}");
    // Closed by the ALB after the headers, seen from the back end alone: cut short, or its
    // client left (the front end tells them apart), never in flight.
    let b = back_conn(2, 1_000)
        .handshake(1_000)
        .ev(61_003, ToServer, K::Fin);
    let f = headers_only(b);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert!(!f.in_flight_at_end, "{f:#?}");
    assert!(f.candidates.contains(&Category::IncompleteBody), "{f:#?}");
}

/// A target that closed idle connections on its own after `closes_ms` of idle (one connection
/// each), then a back-end connection answered at 5_001, reused after `idle_ms` and closed by
/// the target (FIN) as that request arrived.
fn close_after_spread_timer(closes_ms: &[i64], idle_ms: i64) -> Finding {
    let mut tr = tracker();
    for (i, idle) in (0u64..).zip(closes_ms) {
        let ms = 100 + i as i64 * 10;
        let c = back_answered(&mut tr, 10 + i, ms, &[]);
        tr.closed(
            c.ev(ms + 1 + idle, ToClient, K::Fin)
                .ev(ms + 2 + idle, ToServer, K::Fin)
                .record(AppKind::Http, vec![], 1, Some(ms + 1)),
        );
    }
    let req = 5_001 + idle_ms;
    front_502(&mut tr, 1, 40000, req - 1);
    let mut b = back_conn(2, 4_990)
        .handshake(4_990)
        .ev(req, ToClient, K::Fin)
        .ev(req + 1, ToServer, K::Fin);
    b.s.handshake_ack = Some(t(4_991));
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(1, Some(idle_ms), back_req(req), None)],
        1,
        Some(5_001),
    ));
    failed(tr)
}

#[test]
fn a_close_at_the_request_past_a_sweeping_timer_is_undetermined() {
    // The target's idle closes spread over 2.3-2.9 s (a timer checked on a periodic sweep,
    // like the JDK's HttpServer): their median 2.6 s is its usual close.
    let spread = [2_300, 2_600, 2_900];
    let f = close_after_spread_timer(&spread, 2_600);
    assert_eq!(f.category, Category::KeepaliveRace, "{f:#?}");
    // Off the median but no shorter than its shortest close: the timer had run out and may
    // have fired on a later sweep, or the target dropped the request: the capture cannot tell.
    for idle in [2_100, 3_000, 8_000] {
        let f = close_after_spread_timer(&spread, idle);
        assert_eq!(f.category, Category::Undetermined, "{idle}: {f:#?}");
        assert_eq!(
            f.candidates,
            vec![
                Category::KeepaliveRace,
                Category::TargetClosedBeforeResponse
            ]
        );
        assert!(f.notes.contains(&Note::TellApart(TellApart::TimerSweep)));
        assert_eq!(f.generated_by, Some(GeneratedBy::Lb));
    }
    // Shorter than any of its idle closes: its timer had not run out.
    let f = close_after_spread_timer(&spread, 1_500);
    assert_eq!(f.category, Category::TargetClosedBeforeResponse, "{f:#?}");
}

/// The front end alone, idle timeout told (5 s): the ALB's 504 `after_ms` after a GET.
fn front_504_after(after_ms: i64) -> Finding {
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        idle_timeout: Some(crate::capture::Duration::from_millis(5_000)),
        ..AlbConfig::default()
    };
    let mut tr = AlbTracker::new(config, Collect::default());
    let c = Conn::new(1, ep(CLIENT, 40001), ep(ALB, 80), 998).handshake(998);
    tr.exchange(
        &c.ctx(false),
        exch(
            0,
            None,
            Some(get(1_000, "/x", front_headers())),
            Some(resp(1_000 + after_ms, 504, "awselb/2.0", 10)),
        ),
    );
    failed(tr)
}

/// The idle timeout runs from the request's dispatch to the target: after a connect whose SYNs
/// a full listen queue dropped for 7 s, the ALB's 504 comes 12 s after the request. Inside
/// the connect and TLS handshake timeouts' window that is one of the candidates; past it, the
/// idle timeout stays the one told, started late.
#[test]
fn a_504_later_than_a_known_idle_timeout_is_that_timeout_started_late() {
    let f = front_504_after(12_100);
    assert_eq!(f.category, Category::Undetermined);
    assert!(
        f.candidates.contains(&Category::TargetIdleTimeout),
        "{:?}",
        f.candidates
    );
    let f = front_504_after(24_000);
    assert_eq!(f.category, Category::TargetIdleTimeout);
    let five = crate::capture::Duration::from_millis(5_000);
    assert_eq!(f.cause, crate::diagnose::Cause::IdleTimeout { idle: five });
    assert!(f
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::IdleTimeoutByTiming { idle: Some(i), .. } if *i == five)));
    // an answer at the idle timeout itself states it as before
    let f = front_504_after(5_002);
    assert_eq!(f.category, Category::TargetIdleTimeout);
    assert!(f
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::IdleTimeoutByTiming { idle: None, .. })));
}

#[test]
fn a_response_head_lost_with_the_targets_close_is_no_close_before_an_answer() {
    // The target's answer and its FIN: the answer's packet lost, the FIN shows the gap.
    use crate::protocol::{ResponseError, ResponseErrorKind, ResponseErrorReason};
    let mut tr = tracker();
    let b = back_conn(2, 10_000)
        .handshake(10_000)
        .ev(
            10_005,
            ToClient,
            K::Gap {
                offset: 0,
                len: 139,
            },
        )
        .ev(10_005, ToClient, K::Fin)
        .ev(10_006, ToServer, K::Fin);
    let mut ex = exch(0, None, back_req(10_001), None);
    ex.response_error = Some(ResponseError::new(
        ResponseErrorKind::Gap,
        t(10_005),
        p(7),
        0,
        139,
        ResponseErrorReason::HeadBytesMissing { len: 139 },
        Vec::new(),
    ));
    tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
    let f = failed(tr);
    assert_eq!(f.category, Category::Undetermined, "{f:#?}");
    assert!(f.candidates.contains(&Category::Ok), "{f:#?}");
}
