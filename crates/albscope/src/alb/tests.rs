use super::knowledge::MAX_NODE_SESSIONS;
use super::testutil::*;
use super::tracker::burst_exchanges;
use super::*;
use crate::capture::Duration;
use crate::decode::{Encap, MirrorSession};
use crate::flow::Dir::{ToClient, ToServer};
use crate::flow::TcpEventKind as K;
use crate::pipeline::Clock;
use crate::protocol::{AppKind, AppSink, TicketRun, TlsBurst, TlsInfo};
use std::net::IpAddr;

fn tracker() -> AlbTracker<Collect> {
    AlbTracker::new(AlbConfig::default(), Collect::default())
}

/// Paths with both legs.
fn paired(sink: &Collect) -> usize {
    sink.paths
        .iter()
        .filter(|p| p.front.is_some() && p.back.is_some())
        .count()
}

/// A tracker told the ALB node's address (`--alb-ip`).
fn tracker_naming_alb() -> AlbTracker<Collect> {
    AlbTracker::new(
        AlbConfig {
            alb_ips: vec![ALB.parse().unwrap()],
            ..AlbConfig::default()
        },
        Collect::default(),
    )
}

/// A front-end exchange (client port `cport`) that got `status` from `server`.
fn front(
    tr: &mut AlbTracker<Collect>,
    id: u64,
    cport: u16,
    req_ms: i64,
    resp_ms: i64,
    status: u16,
) {
    let c = Conn::new(id, ep(CLIENT, cport), ep(ALB, 80), req_ms - 2).handshake(req_ms - 2);
    let server = if status >= 500 {
        "awselb/2.0"
    } else {
        "Apache"
    };
    tr.exchange(
        &c.ctx(false),
        exch(
            0,
            None,
            Some(get(req_ms, "/x", front_headers())),
            Some(resp(resp_ms, status, server, 10)),
        ),
    );
}

#[test]
fn pairs_by_headers() {
    let mut tr = tracker();
    front(&mut tr, 1, 40000, 100, 130, 200);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(103, "/x", back_headers(CLIENT))),
            Some(resp(120, 200, "Apache", 10)),
        ),
    );
    let (sink, known) = tr.finish();
    assert_eq!(sink.paths.len(), 1);
    let path = &sink.paths[0];
    assert_eq!(path.pairing, PairingMethod::Headers);
    assert!(path.front.is_some() && path.back.is_some());
    assert!(path.notes.is_empty());
    assert!(known.is_alb(ALB.parse().unwrap()));
    assert_eq!(known.vantage(), Vantage::BothLegs);
}

/// A request whose path the ALB rewrote on the way (a listener rule's transform) is one
/// request: paired by its X-Forwarded-For client and time, never counted twice.
#[test]
fn a_rewritten_request_pairs_with_its_front_end() {
    let mut tr = tracker();
    front(&mut tr, 1, 40000, 100, 130, 503);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(103, "/rewritten/x", back_headers(CLIENT))),
            Some(resp(120, 503, "node", 10)),
        ),
    );
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 1, "{:?}", sink.paths);
    assert_eq!(paired(&sink), 1);
    assert_eq!(sink.paths[0].pairing, PairingMethod::TimeOrder);
}

#[test]
fn refused_attempt_pairs_by_time_order() {
    let mut tr = tracker();
    // The request that triggers the back-end attempt proves the node is an ALB.
    front(&mut tr, 1, 40000, 100, 104, 502);
    let b = Conn::new(2, ep(ALB, 50001), ep(TARGET, 80), 101)
        .ev(
            101,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(102, ToClient, K::Rst);
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    // An earlier health check names the ALB node.
    let h = Conn::new(3, ep(ALB, 50002), ep(TARGET, 80), 10).handshake(10);
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
    let (sink, known) = tr.finish();
    assert_eq!(sink.checks.len(), 1);
    assert_eq!(sink.checks[0].outcome, HealthOutcome::Passed);
    assert_eq!(sink.paths.len(), 1);
    let path = &sink.paths[0];
    assert_eq!(path.pairing, PairingMethod::TimeOrder);
    assert!(path.back.as_ref().unwrap().exchange.is_none());
    assert_eq!(known.health_checks, 1);
}

/// A refused connect leaves the ALB nothing to wait for: it answers at once (or after one more
/// connect attempt). A front-end request answered 20 s after a refused connect on its node
/// (here: a request in flight on a back-end connection the capture shows only from mid-way,
/// aborted by a deregistration) is not explained by it.
#[test]
fn refused_attempt_does_not_explain_an_answer_long_after_it() {
    let mut tr = tracker();
    front(&mut tr, 1, 40000, 100, 20_100, 502);
    let b = Conn::new(2, ep(ALB, 50001), ep(TARGET, 80), 800)
        .ev(
            800,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(801, ToClient, K::Rst);
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    let (sink, _) = tr.finish();
    assert!(
        sink.paths
            .iter()
            .all(|p| p.front.is_none() || p.back.is_none()),
        "{:?}",
        sink.paths
    );
}

#[test]
fn back_end_only_vantage_keeps_requests_with_note() {
    let mut tr = tracker();
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(103, "/x", back_headers(CLIENT))),
            Some(resp(120, 503, "Apache", 10)),
        ),
    );
    let (sink, known) = tr.finish();
    assert_eq!(known.vantage(), Vantage::BackEndOnly);
    assert_eq!(sink.paths.len(), 1);
    assert!(sink.paths[0].front.is_none());
    assert_eq!(sink.paths[0].notes[0], PairingNote::FrontEndNotCaptured);
}

#[test]
fn ambiguity_is_reported() {
    let mut tr = tracker();
    front(&mut tr, 1, 40000, 100, 130, 200);
    front(&mut tr, 3, 40001, 100, 131, 200);
    for (id, port, ms) in [(2u64, 50000u16, 103i64), (4, 50001, 104)] {
        let b = Conn::new(id, ep(ALB, port), ep(TARGET, 80), ms).handshake(ms);
        tr.exchange(
            &b.ctx(false),
            exch(
                0,
                None,
                Some(get(ms, "/x", back_headers(CLIENT))),
                Some(resp(120, 200, "Apache", 10)),
            ),
        );
    }
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 2);
    assert!(sink
        .paths
        .iter()
        .all(|p| p.back.is_some() && p.front.is_some()));
    assert!(matches!(
        sink.paths[0].notes[0],
        PairingNote::Ambiguous { .. }
    ));
}

#[test]
fn old_legs_are_flushed_by_the_clock() {
    let config = AlbConfig {
        alb_ips: vec![ALB.parse().unwrap()],
        ..AlbConfig::default()
    };
    let mut tr = AlbTracker::new(config, Collect::default());
    for i in 0..50u64 {
        let ms = i as i64 * 10_000;
        front(
            &mut tr,
            i * 2 + 1,
            40000 + i as u16,
            ms + 100,
            ms + 130,
            200,
        );
        tr.tick(t(ms + 200));
    }
    // Window is 10 + 60 + 30 s = 100 s: only about ten 10-second-spaced requests stay pending.
    assert!(tr.pending_len() <= 12, "pending {}", tr.pending_len());
    assert!(tr.sink.paths.len() >= 38);
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 50);
}

#[test]
fn target_keepalive_is_inferred_from_idle_closes() {
    let mut tr = tracker();
    front(&mut tr, 1, 40000, 100, 130, 200);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101)
        .handshake(101)
        .ev(5_120, ToClient, K::Fin)
        .ev(5_121, ToServer, K::Fin);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(103, "/x", back_headers(CLIENT))),
            Some(resp(120, 200, "Apache", 10)),
        ),
    );
    tr.closed(b.record(AppKind::Http, vec![], 1, Some(120)));
    let known = tr.knowledge();
    let ka = known.target_keepalive(&ep(TARGET, 80)).unwrap();
    assert_eq!(ka, Duration::from_millis(5_000));
    assert_eq!(
        known
            .targets
            .get(&ep(TARGET, 80))
            .unwrap()
            .server
            .as_deref(),
        Some("Apache")
    );
}

/// A WebSocket session the target ends (FIN after its last frame) is the application's close,
/// not the target's keep-alive timer.
#[test]
fn a_tunnel_close_is_not_a_keepalive_timer() {
    let mut tr = tracker();
    front(&mut tr, 1, 40000, 100, 130, 101);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101)
        .handshake(101)
        .ev(6_400, ToClient, K::Fin)
        .ev(6_401, ToServer, K::Fin);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(103, "/ws", back_headers(CLIENT))),
            Some(resp(120, 101, "ws-app", 0)),
        ),
    );
    let mut rec = b.record(AppKind::Http, vec![], 1, Some(120));
    rec.tunnel_since = Some(t(120));
    tr.closed(rec);
    assert_eq!(tr.knowledge().target_keepalive(&ep(TARGET, 80)), None);
}

fn burst(dir: crate::flow::Dir, ms: i64, bytes: u64) -> TlsBurst {
    TlsBurst {
        dir,
        first: t(ms),
        first_pos: p(ms as u64),
        last: t(ms),
        tail_us: 0,
        tail_bytes: 0,
        bytes,
        tickets: 0,
    }
}

#[test]
fn tls_bursts_make_exchanges_without_close_notify() {
    let b = burst_exchanges(
        &[
            burst(ToClient, 1, 500),
            burst(ToServer, 10, 96),
            burst(ToClient, 12, 120),
            burst(ToServer, 20, 19),
            burst(ToClient, 21, 19),
        ],
        19,
        TicketRun::default(),
    );
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].request.bytes, 96);
    assert_eq!(b[0].response.as_ref().unwrap().bytes, 120);
}

/// A target that closes after a request with only its close_notify (a 19-byte TLS 1.3
/// record) did not answer it; an 8-byte-tag suite (CCM_8) keeps the rule off.
#[test]
fn a_lone_close_notify_after_a_request_is_no_answer() {
    let bursts = [
        burst(ToServer, 10, 96),
        burst(ToClient, 12, 120),
        burst(ToServer, 1000, 240),
        burst(ToClient, 1001, 19),
    ];
    let b = burst_exchanges(&bursts, 19, TicketRun::default());
    assert_eq!(b.len(), 2);
    assert!(b[0].response.is_some());
    assert!(b[1].response.is_none(), "the close_notify is no answer");
    let b = burst_exchanges(&bursts, 0, TicketRun::default());
    assert!(b[1].response.is_some());
}

/// TLS 1.3 session tickets that follow the request a new connection's Finished went out
/// with (nginx `return 444`: two tickets of 266 bytes, then its close) answer nothing; with
/// the answer after them in the same burst, the request was answered.
#[test]
fn session_tickets_after_a_request_are_no_answer() {
    let tickets = TicketRun {
        record: 266,
        count: 2,
    };
    let mut only = burst(ToClient, 12, 532);
    only.tickets = 2;
    let b = burst_exchanges(&[burst(ToServer, 10, 238), only], 19, tickets);
    assert_eq!(b.len(), 1);
    assert!(b[0].response.is_none(), "tickets are no answer");
    let mut answered = burst(ToClient, 12, 692);
    answered.tickets = 2;
    let b = burst_exchanges(&[burst(ToServer, 10, 118), answered], 19, tickets);
    assert!(b[0].response.is_some());
}

#[test]
fn opaque_front_end_pairs_by_time_order() {
    let mut tr = tracker_naming_alb();
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 443), 90).handshake(90);
    let mut rec = c.record(AppKind::Tls, vec![], 0, None);
    rec.tls = Some(TlsInfo {
        bursts: vec![burst(ToServer, 100, 300), burst(ToClient, 130, 900)],
        ..TlsInfo::default()
    });
    tr.closed(rec);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(102, "/x", back_headers(CLIENT))),
            Some(resp(125, 200, "Apache", 10)),
        ),
    );
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 1);
    assert_eq!(sink.paths[0].pairing, PairingMethod::TimeOrder);
    assert!(sink.paths[0].front.as_ref().unwrap().burst.is_some());
}

#[test]
fn idle_timeout_is_inferred_only_from_agreeing_closes() {
    let mut k = Knowledge::new(AlbConfig::default());
    k.alb_idle_closes = vec![30.02];
    assert_eq!(k.idle_timeout().1, TimerSource::Default);
    k.alb_idle_closes = vec![30.02, 29.99];
    assert_eq!(
        k.idle_timeout(),
        (Duration::from_millis(30_000), TimerSource::Inferred)
    );
    k.config.idle_timeout = Some(Duration::from_millis(45_000));
    assert_eq!(k.idle_timeout().1, TimerSource::Config);
}

#[test]
fn an_earlier_answered_request_is_not_paired_with_a_later_back_end_request() {
    let mut tr = tracker();
    // Same client, same GET /x: the first got the ALB's own 503, the second went to a target.
    front(&mut tr, 1, 40000, 100, 101, 503);
    front(&mut tr, 3, 40001, 3_000, 3_030, 200);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 3_001).handshake(3_001);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(3_002, "/x", back_headers(CLIENT))),
            Some(resp(3_020, 200, "Apache", 10)),
        ),
    );
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 2);
    let paired = sink.paths.iter().find(|p| p.back.is_some()).unwrap();
    assert_eq!(paired.front.as_ref().unwrap().conn.key.client.port, 40001);
    assert!(paired.notes.is_empty(), "{:?}", paired.notes);
}

#[test]
fn back_end_legs_wait_for_a_long_lived_tls_front_end() {
    let mut tr = tracker_naming_alb();
    // Some clear-text traffic shows the capture holds front ends.
    front(&mut tr, 9, 39000, 50, 60, 200);
    let b = Conn::new(9_2, ep(ALB, 50009), ep(TARGET, 80), 51).handshake(51);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(52, "/x", back_headers(CLIENT))),
            Some(resp(58, 200, "Apache", 1)),
        ),
    );
    // A request over a TLS client connection that stays open for 900 s.
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(102, "/x", back_headers(CLIENT))),
            Some(resp(125, 200, "Apache", 10)),
        ),
    );
    tr.tick(t(300_000));
    assert_eq!(tr.sink.paths.len(), 1, "the clear-text request is out");
    assert_eq!(tr.pending_len(), 1, "the TLS request's back end waits");
    let c = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 443), 90)
        .handshake(90)
        .ev(900_000, ToServer, K::Fin);
    let mut rec = c.record(AppKind::Tls, vec![], 0, None);
    rec.tls = Some(TlsInfo {
        bursts: vec![burst(ToServer, 100, 300), burst(ToClient, 130, 900)],
        ..TlsInfo::default()
    });
    tr.closed(rec);
    tr.tick(t(1_200_000));
    assert_eq!(tr.pending_len(), 0);
    let sink = &tr.sink;
    assert_eq!(sink.paths.len(), 2);
    let p = &sink.paths[1];
    assert_eq!(p.pairing, PairingMethod::TimeOrder);
    assert!(p.front.is_some() && p.back.is_some());
}

#[test]
fn held_back_end_legs_expire_unpaired() {
    let mut tr = tracker();
    front(&mut tr, 9, 39000, 50, 60, 503);
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(102, "/y", back_headers(CLIENT))),
            Some(resp(125, 200, "Apache", 10)),
        ),
    );
    tr.tick(t(300_000));
    assert_eq!(tr.pending_len(), 1);
    tr.tick(t(5_000_000));
    assert_eq!(tr.pending_len(), 0);
    assert_eq!(tr.sink.paths.len(), 2);
    assert!(tr.sink.paths.iter().any(|p| p.front.is_none()));
}

/// A front-end exchange and its back-end exchange for request `i` (1 ms apart).
fn front_and_back(tr: &mut AlbTracker<Collect>, i: u64) {
    let ms = 1_000 + i as i64 * 2;
    let port = 10_000 + i as u16;
    front(tr, i * 2, port, ms, ms + 1, 200);
    let b = Conn::new(i * 2 + 1, ep(ALB, port), ep(TARGET, 80), ms).handshake(ms);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(ms, "/x", back_headers(CLIENT))),
            Some(resp(ms + 1, 200, "Apache", 10)),
        ),
    );
}

#[test]
fn legs_over_the_memory_budget_are_paired_early_and_counted() {
    let config = AlbConfig {
        max_pending_bytes: 64 << 10,
        ..AlbConfig::default()
    };
    let mut tr = AlbTracker::new(config, Collect::default());
    let mut peak_held = 0;
    for i in 0..400 {
        front_and_back(&mut tr, i);
        tr.tick(t(1_000 + i as i64 * 2));
        peak_held = peak_held.max(tr.held_bytes());
    }
    // The budget holds after every tick.
    assert!(peak_held <= 64 << 10, "held {peak_held} bytes");
    let (sink, known) = tr.finish();
    assert!(known.legs_paired_early > 0);
    assert!(known.peak_pending_bytes >= 64 << 10);
    // Early batches are large enough that nearly every pair still finds its partner.
    assert_eq!(
        sink.paths.len(),
        400 + sink.paths.iter().filter(|p| p.front.is_none()).count()
    );
    let paired = paired(&sink);
    assert!(paired >= 390, "only {paired} of 400 paired");
}

#[test]
fn within_budget_nothing_is_paired_early_and_all_is_released() {
    let mut tr = tracker();
    for i in 0..50 {
        front_and_back(&mut tr, i);
    }
    assert!(tr.held_bytes() > 0);
    // A minute past the window: everything is paired and nothing stays held.
    tr.tick(t(1_000
        + AlbConfig::default().window().0 / 1_000_000
        + 60_000));
    assert_eq!(tr.pending_len(), 0);
    assert_eq!(tr.held_bytes(), 0);
    let (sink, known) = tr.finish();
    assert_eq!(known.legs_paired_early, 0);
    assert!(sink
        .paths
        .iter()
        .all(|p| p.front.is_some() && p.back.is_some()));
}

#[test]
fn targets_and_sessions_past_their_limits_are_counted_not_kept() {
    let mut tr = tracker_naming_alb();
    let extra = 5;
    for i in 0..(MAX_TARGETS + extra) as u64 {
        let target = std::net::Ipv4Addr::from(0x0a02_0000 + i as u32).to_string();
        let mut c = Conn::new(i, ep(ALB, 1024 + (i % 60_000) as u16), ep(&target, 80), 100).ev(
            100,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        );
        c.s.key.session = MirrorSession {
            encap: Encap::Vxlan,
            vni: Some(i as u32),
            outer_src: None,
        };
        tr.closed(c.record(AppKind::Empty, vec![], 0, None));
    }
    let known = tr.knowledge();
    assert_eq!(known.targets.len(), MAX_TARGETS);
    assert_eq!(known.targets_over_limit, extra as u64);
    let node = &known.nodes[&ALB.parse::<IpAddr>().unwrap()];
    assert_eq!(node.sessions.len(), MAX_NODE_SESSIONS);
    assert_eq!(node.back_connections, (MAX_TARGETS + extra) as u64);
    assert_eq!(
        known.sessions_over_limit,
        (MAX_TARGETS + extra - MAX_NODE_SESSIONS) as u64
    );
    let (sink, _) = tr.finish();
    assert_eq!(
        sink.paths.len(),
        MAX_TARGETS + extra,
        "every attempt still reported"
    );
}

/// `n` TLS front-end requests (each its own connection) and their clear-text back-end
/// requests, one every `gap_us` µs: all pair by time order.
fn tls_fronts_and_http_backs(tr: &mut AlbTracker<Collect>, n: u64, gap_us: i64) {
    for i in 0..n {
        let us = 100_000 + i as i64 * gap_us;
        let ms = us / 1000;
        let port = 1024 + (i % 60_000) as u16;
        let c = Conn::new(i * 2, ep(CLIENT, port), ep(ALB, 443), ms).handshake(ms);
        let mut rec = c.record(AppKind::Tls, vec![], 0, None);
        let mut req = burst(ToServer, ms, 300);
        req.first = t(0).plus(Duration(us * 1000));
        req.last = req.first;
        let mut answer = burst(ToClient, ms + 30, 900);
        answer.first = t(0).plus(Duration((us + 30_000) * 1000));
        answer.last = answer.first;
        rec.tls = Some(TlsInfo {
            bursts: vec![req, answer],
            ..TlsInfo::default()
        });
        tr.closed(rec);
        let b = Conn::new(i * 2 + 1, ep(ALB, port), ep(TARGET, 80), ms).handshake(ms);
        let mut r = get(ms, "/x", back_headers(CLIENT));
        r.first_byte = t(0).plus(Duration((us + 1_000) * 1000));
        tr.exchange(
            &b.ctx(false),
            exch(0, None, Some(r), Some(resp(ms + 25, 200, "Apache", 10))),
        );
        if i % 4096 == 0 {
            tr.tick(t(ms));
        }
    }
}

/// Pairing skips the fronts already used instead of rescanning them for every back-end leg
/// (this took 13 s in a debug build, 44 s at twice the requests, before it did).
#[test]
fn time_order_pairing_stays_linear_at_high_request_rates() {
    // 20 000 TLS requests 20 µs apart, all inside one 2 s time-order window.
    let mut tr = tracker_naming_alb();
    let n = 20_000;
    tls_fronts_and_http_backs(&mut tr, n, 20);
    let (sink, _) = tr.finish();
    let paired = paired(&sink);
    assert_eq!(paired as u64, n);
}

#[test]
fn header_pairing_stays_linear_when_every_request_looks_the_same() {
    // 20 000 identical GET /x from one client, 20 µs apart, each on its own connections.
    let mut tr = tracker();
    let n = 20_000u64;
    for i in 0..n {
        let at = |us: i64| t(0).plus(Duration((100_000 + i as i64 * 20 + us) * 1000));
        let ms = (100_000 + i as i64 * 20) / 1000;
        let port = 1024 + (i % 60_000) as u16;
        let c = Conn::new(i * 2, ep(CLIENT, port), ep(ALB, 80), ms).handshake(ms);
        let mut req = get(ms, "/x", front_headers());
        req.first_byte = at(0);
        let mut answer = resp(ms, 200, "Apache", 10);
        answer.first_byte = at(30_000);
        tr.exchange(&c.ctx(false), exch(0, None, Some(req), Some(answer)));
        let b = Conn::new(i * 2 + 1, ep(ALB, port), ep(TARGET, 80), ms).handshake(ms);
        let mut r = get(ms, "/x", back_headers(CLIENT));
        r.first_byte = at(1_000);
        let mut answer = resp(ms, 200, "Apache", 10);
        answer.first_byte = at(25_000);
        tr.exchange(&b.ctx(false), exch(0, None, Some(r), Some(answer)));
    }
    let (sink, _) = tr.finish();
    let paired = paired(&sink);
    assert_eq!(paired as u64, n);
}

/// A front-end exchange at `req_ms` on node `alb` relayed as a back-end exchange 3 ms later
/// (connection ids `id` and `id + 1`).
fn relayed(tr: &mut AlbTracker<Collect>, alb: &str, client: &str, id: u64, req_ms: i64) {
    let f = Conn::new(id, ep(client, 40000), ep(alb, 80), req_ms - 2).handshake(req_ms - 2);
    tr.exchange(
        &f.ctx(false),
        exch(
            0,
            None,
            Some(get(req_ms, "/api/flaky", front_headers())),
            Some(resp(req_ms + 30, 200, "Apache", 10)),
        ),
    );
    let b = Conn::new(id + 1, ep(alb, 50000), ep(TARGET, 80), req_ms + 1).handshake(req_ms + 1);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(req_ms + 3, "/api/flaky", back_headers(client))),
            Some(resp(req_ms + 20, 200, "Apache", 10)),
        ),
    );
}

/// The window flush that a clock tick triggers pairs the legs that started more than the
/// window (100 s) plus 2 s of slack before it: this tick's cut falls between the front-end leg
/// (at `req_ms`) and its back-end leg (3 ms later).
fn tick_between_legs(tr: &mut AlbTracker<Collect>, req_ms: i64) {
    tr.tick(t(req_ms + 102_001));
}

#[test]
fn a_flush_between_front_and_back_leg_still_pairs_them() {
    // Regression (scale invariance, issue 11): the front-end leg was paired alone and reported
    // as `no_target_attempt`, its back-end leg in the next batch as a second request.
    let mut tr = tracker();
    relayed(&mut tr, ALB, CLIENT, 1, 1_000);
    tick_between_legs(&mut tr, 1_000);
    assert!(
        tr.sink.paths.is_empty(),
        "the front-end leg waits for its partner"
    );
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 1, "{:#?}", sink.paths);
    assert_eq!(paired(&sink), 1);
    assert_eq!(sink.paths[0].pairing, PairingMethod::Headers);
}

#[test]
fn two_time_shifted_copies_count_twice_one_copy() {
    // Two copies of one node's traffic (the second on its own node and client addresses, later
    // in time, as amplify.py makes them): the clock ticks fall at different places within each
    // copy, and each must still count exactly one request per exchange.
    let mut tr = tracker();
    relayed(&mut tr, ALB, CLIENT, 1, 1_000);
    relayed(&mut tr, ALB, CLIENT, 3, 1_500);
    tr.tick(t(60_000));
    let copy = 100_000;
    relayed(&mut tr, "172.32.1.158", "13.240.55.82", 5, copy + 1_000);
    // A tick during the second copy cuts through the first one.
    tick_between_legs(&mut tr, 1_000);
    relayed(&mut tr, "172.32.1.158", "13.240.55.82", 7, copy + 1_500);
    tick_between_legs(&mut tr, copy + 1_500);
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 4, "{:#?}", sink.paths);
    assert_eq!(paired(&sink), 4);
}

#[test]
fn a_front_end_leg_without_partner_is_reported_once_its_reach_has_passed() {
    let mut tr = tracker();
    relayed(&mut tr, ALB, CLIENT, 1, 1_000);
    let lone = Conn::new(3, ep(CLIENT, 40001), ep(ALB, 80), 1_998).handshake(1_998);
    tr.exchange(
        &lone.ctx(false),
        exch(
            0,
            None,
            Some(get(2_000, "/lone", front_headers())),
            Some(resp(2_010, 503, "awselb/2.0", 10)),
        ),
    );
    tr.tick(t(110_000));
    // Both legs of the first request and the lone front end are due; the lone one waits while
    // a back-end leg starting up to 15 s after it may still be queued.
    assert_eq!(tr.sink.paths.len(), 1);
    assert_eq!(tr.pending_len(), 1);
    tr.tick(t(2_000 + 102_000 + 15_006));
    assert_eq!(
        tr.sink.paths.len(),
        2,
        "reported before the end of the capture"
    );
    assert_eq!(tr.pending_len(), 0);
    assert_eq!(tr.held_bytes(), 0);
    let (sink, _) = tr.finish();
    let lone = &sink.paths[1];
    assert!(lone.back.is_none());
    assert_eq!(lone.notes, vec![PairingNote::NoBackEndAttempt]);
}

#[test]
fn a_flush_between_legs_leaves_header_pairing_first() {
    // A refused attempt (a health check or another request's), then a request whose back-end
    // request the flush cuts off: the request pairs by headers as in one pass, and the attempt
    // is not paired with it by time order.
    let mut tr = tracker();
    let refused = Conn::new(9, ep(ALB, 50001), ep(TARGET, 80), 1_000)
        .ev(
            1_000,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(1_000, ToClient, K::Rst);
    tr.closed(refused.record(AppKind::Empty, vec![], 0, None));
    relayed(&mut tr, ALB, CLIENT, 1, 1_001);
    tick_between_legs(&mut tr, 1_001);
    let (sink, _) = tr.finish();
    assert_eq!(sink.paths.len(), 1, "{:#?}", sink.paths);
    assert_eq!(sink.paths[0].pairing, PairingMethod::Headers);
    assert_eq!(paired(&sink), 1);
    assert_eq!(sink.checks.len(), 1);
    assert_eq!(sink.checks[0].outcome, HealthOutcome::Failed);
}

#[test]
fn eager_pairing_pairs_what_has_arrived_without_waiting_for_the_window() {
    // Nothing is in flight 3 s after the request: the tick pairs it (no 100 s wait), and the
    // connections' records, when they close later, are not held for legs long paired.
    let mut tr = tracker();
    relayed(&mut tr, ALB, CLIENT, 1, 1_000);
    tr.tick_in_flight(t(4_000), None);
    assert_eq!(tr.sink.paths.len(), 1, "paired at the tick");
    assert_eq!(paired(&tr.sink), 1);
    assert_eq!(tr.pending_len(), 0);
    let f = Conn::new(1, ep(CLIENT, 40000), ep(ALB, 80), 998).handshake(998);
    tr.closed(f.record(AppKind::Http, Vec::new(), 1, Some(1_030)));
    assert_eq!(tr.held_bytes(), 0, "no record held for paired legs");
    // Something still in flight since before the request holds it back.
    let mut tr = tracker();
    relayed(&mut tr, ALB, CLIENT, 1, 1_000);
    tr.tick_in_flight(t(4_000), Some(t(500)));
    assert!(
        tr.sink.paths.is_empty(),
        "a leg starting at 500 ms may still come"
    );
    let (sink, _) = tr.finish();
    assert_eq!(paired(&sink), 1);
}

/// A health check from the ALB node at `ms` (names the node strongly).
fn health_check(tr: &mut AlbTracker<Collect>, id: u64, ms: i64) {
    let h = Conn::new(id, ep(ALB, 50002), ep(TARGET, 80), ms).handshake(ms);
    tr.exchange(
        &h.ctx(false),
        exch(
            0,
            None,
            Some(get(
                ms + 2,
                "/health",
                hdrs(&[("User-Agent", "ELB-HealthChecker/2.0")]),
            )),
            Some(resp(ms + 3, 200, "Apache", 2)),
        ),
    );
}

#[test]
fn connections_to_a_front_address_before_its_link_count_for_the_node() {
    // The node (known from a health check) is reached by its clients at another address; the
    // link is decided only after three agreeing requests, by then every front-end connection
    // has been classified: each must still count as the node's, as under one address.
    const PUBLIC: &str = "52.94.133.131";
    let mut tr = tracker();
    health_check(&mut tr, 1, 10);
    for i in 0..4u16 {
        let ms = 1_000 * i64::from(i) + 100;
        let id = 10 + 2 * u64::from(i);
        let path = format!("/p{i}");
        let f = Conn::new(id, ep(CLIENT, 40000 + i), ep(PUBLIC, 80), ms - 2).handshake(ms - 2);
        tr.exchange(
            &f.ctx(false),
            exch(
                0,
                None,
                Some(get(ms, &path, front_headers())),
                Some(resp(ms + 30, 200, "Apache", 10)),
            ),
        );
        let b = Conn::new(id + 1, ep(ALB, 50000 + i), ep(TARGET, 80), ms + 1).handshake(ms + 1);
        tr.exchange(
            &b.ctx(false),
            exch(
                0,
                None,
                Some(get(ms + 3, &path, back_headers(CLIENT))),
                Some(resp(ms + 20, 200, "Apache", 10)),
            ),
        );
    }
    let (sink, known) = tr.finish();
    let node: IpAddr = ALB.parse().unwrap();
    assert_eq!(known.links.node_for(PUBLIC.parse().unwrap()), Some(node));
    assert_eq!(paired(&sink), 4, "{:#?}", sink.paths);
    let (front, ports) = known.front_connections(node);
    assert_eq!(front, 4);
    assert_eq!(ports.into_iter().collect::<Vec<_>>(), vec![80]);
    assert_eq!(known.unlinked_other_connections(), 0);
    assert_eq!(known.legs_seen(node), (true, true));
}

#[test]
fn an_exact_match_pairs_across_addresses_even_when_contested() {
    // The client asked two addresses for the same path 100 ms apart; the node's one back-end
    // request matches both by client, method, URI and Host (no link: contested, and fewer than
    // three requests), but exactly (X-Forwarded-Port, 1 ms after) only the second: one request
    // with both legs, never counted twice. Both addresses are named with --alb-ip.
    const V6_A: &str = "fd00::99:1";
    const V6_B: &str = "fd00::99:2";
    const V6_CLIENT: &str = "fd00::2:10";
    let mut tr = AlbTracker::new(
        AlbConfig {
            alb_ips: [ALB, V6_A, V6_B]
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            ..AlbConfig::default()
        },
        Collect::default(),
    );
    health_check(&mut tr, 1, 10);
    for (id, server, ms) in [(10u64, V6_B, 900i64), (11, V6_A, 1_000)] {
        let f = Conn::new(id, ep(V6_CLIENT, 40000 + id as u16), ep(server, 80), ms - 2)
            .handshake(ms - 2);
        tr.exchange(
            &f.ctx(false),
            exch(
                0,
                None,
                Some(get(ms, "/p", front_headers())),
                Some(resp(ms + 30, 200, "Apache", 10)),
            ),
        );
    }
    let b = Conn::new(20, ep(ALB, 50000), ep(TARGET, 80), 1_000).handshake(1_000);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(1_001, "/p", back_headers(V6_CLIENT))),
            Some(resp(1_020, 200, "Apache", 10)),
        ),
    );
    let (sink, known) = tr.finish();
    assert_eq!(known.links.node_for(V6_A.parse().unwrap()), None);
    assert_eq!(sink.paths.len(), 2, "{:#?}", sink.paths);
    assert_eq!(paired(&sink), 1);
    let both = sink
        .paths
        .iter()
        .find(|p| p.front.is_some() && p.back.is_some())
        .and_then(|p| p.front.as_ref())
        .map(|f| f.conn.key.server.ip);
    assert_eq!(both, V6_A.parse().ok());
}

/// A client-side capture of two ALB nodes (DNS round robin): one answers an error as
/// `awselb/2.0` (strong), the other only relays targets' answers. Node recognition is per
/// address: the second serves the same Host on the same listener port, so it is a node of the
/// same load balancer; a server of another site, or a target the Host was forwarded to, is not.
#[test]
fn second_node_is_recognised_by_the_site_it_serves() {
    const NODE2: &str = "10.0.3.140";
    const OTHER: &str = "10.0.9.9";
    let served = |tr: &mut AlbTracker<Collect>, id: u64, server: &str, host: &str, status: u16| {
        let c = Conn::new(
            id,
            ep(CLIENT, 40000 + id as u16),
            ep(server, 80),
            100 * id as i64,
        )
        .handshake(100 * id as i64);
        let answer = if status >= 500 && server == ALB {
            "awselb/2.0"
        } else {
            "Apache"
        };
        tr.exchange(
            &c.ctx(false),
            exch(
                0,
                None,
                Some(get(100 * id as i64 + 2, "/x", hdrs(&[("Host", host)]))),
                Some(resp(100 * id as i64 + 5, status, answer, 10)),
            ),
        );
    };
    for first_node2 in [true, false] {
        let mut tr = tracker();
        // the order of learning does not matter
        if first_node2 {
            served(&mut tr, 1, NODE2, "Shop.Example.com:80", 503);
        }
        served(&mut tr, 2, ALB, "shop.example.com", 502);
        if !first_node2 {
            served(&mut tr, 1, NODE2, "shop.example.com", 503);
        }
        served(&mut tr, 3, OTHER, "intranet.example.com", 200);
        let (sink, known) = tr.finish();
        assert!(known.is_alb(ALB.parse().unwrap()));
        assert!(known.is_alb(NODE2.parse().unwrap()), "{first_node2}");
        assert_eq!(
            known.nodes[&NODE2.parse::<IpAddr>().unwrap()].evidence,
            vec![NodeEvidence::ServesSameSite]
        );
        assert!(!known.is_alb(OTHER.parse().unwrap()));
        // both nodes' requests are client requests, the other site's is not
        assert_eq!(sink.paths.len(), 2, "{first_node2}");
    }
    // A target receives the client's Host from the ALB: never taken for a node by it.
    let mut tr = tracker();
    served(&mut tr, 2, ALB, "shop.example.com", 502);
    let b = Conn::new(5, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(103, "/x", back_headers(CLIENT))),
            Some(resp(120, 200, "Apache", 10)),
        ),
    );
    served(&mut tr, 6, TARGET, "shop.example.com", 200);
    let (_, known) = tr.finish();
    assert!(!known.is_alb(TARGET.parse().unwrap()));
}

/// Issue 12: a back-end capture from a truncating mirror: the node's request heads are cut
/// before X-Amzn-Trace-Id, but their whole X-Forwarded-* lines name it a (weak) node; strong
/// evidence elsewhere overrides the guess.
#[test]
fn forwarded_heads_cut_short_name_a_weak_node() {
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 101).handshake(101);
    let mut tr = tracker();
    tr.forwarded_head_cut_short(&b.ctx(false));
    let (_, known) = tr.finish();
    let alb: IpAddr = ALB.parse().unwrap();
    assert!(known.is_alb(alb));
    assert_eq!(
        known.nodes[&alb].evidence,
        vec![NodeEvidence::ForwardsCutShort]
    );
    assert!(!known.nodes[&alb].strong);
    // a node proved by its health checks elsewhere wins
    let mut tr = tracker();
    tr.forwarded_head_cut_short(&b.ctx(false));
    let hc = Conn::new(3, ep("10.0.1.77", 50001), ep(TARGET, 80), 200).handshake(200);
    tr.exchange(
        &hc.ctx(false),
        exch(
            0,
            None,
            Some(get(
                202,
                "/health",
                hdrs(&[("User-Agent", "ELB-HealthChecker/2.0")]),
            )),
            Some(resp(205, 200, "Apache", 2)),
        ),
    );
    let (_, known) = tr.finish();
    assert!(!known.is_alb(alb));
    assert!(known.is_alb("10.0.1.77".parse().unwrap()));
}

/// A direct (unmirrored) connection from `client`:40000 to `server`:`port`.
fn key(client: &str, server: &str, port: u16) -> crate::flow::ConnKey {
    crate::flow::ConnKey {
        session: MirrorSession::DIRECT,
        client: ep(client, 40000),
        server: ep(server, port),
    }
}

/// Issue 12: a private address opening connections to several private servers on one port
/// (a node spreading requests over a target group, e.g. a TLS-only back end without keys) is a
/// weak node; one or two servers, a public server, or strong evidence elsewhere are not.
#[test]
fn an_opener_of_several_private_targets_is_a_weak_node() {
    let opener: IpAddr = "10.0.1.25".parse().unwrap();
    let mut k = Knowledge::new(AlbConfig::default());
    // one HTTPS server, connected to again and again: any HTTPS client does that
    for _ in 0..5 {
        k.learn_conn(&key("10.0.1.25", "10.0.2.15", 443));
    }
    k.learn_conn(&key("10.0.1.25", "10.0.2.16", 443));
    // a third server, but on another port, and a public one
    k.learn_conn(&key("10.0.1.25", "10.0.2.17", 8443));
    k.learn_conn(&key("10.0.1.25", "203.0.113.9", 443));
    assert!(!k.is_alb(opener));
    // a third private server on the same port
    k.learn_conn(&key("10.0.1.25", "10.0.2.17", 443));
    assert!(k.is_alb(opener));
    assert_eq!(
        k.nodes[&opener].evidence,
        vec![NodeEvidence::OpensToSeveralTargets]
    );
    assert!(!k.nodes[&opener].strong);
    // a public client browsing several servers is not a node
    let mut k = Knowledge::new(AlbConfig::default());
    for s in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        k.learn_conn(&key("198.51.100.200", s, 443));
    }
    assert!(k.nodes.is_empty());
    // a node given with --alb-ip wins
    let mut k = Knowledge::new(AlbConfig {
        alb_ips: vec!["10.0.1.99".parse().unwrap()],
        ..AlbConfig::default()
    });
    for s in ["10.0.2.15", "10.0.2.16", "10.0.2.17"] {
        k.learn_conn(&key("10.0.1.25", s, 443));
    }
    assert!(!k.is_alb(opener));
}

/// Issue 12: a node recognised only when its third target appears is credited the back-end
/// connections it opened before (they were counted as neither front nor back end then), and
/// their servers are its targets, as if it had been recognised from the start.
#[test]
fn connections_before_a_weak_opener_is_recognised_are_its_back_end() {
    let mut tr = tracker();
    let targets = ["172.31.6.52", "172.31.6.52", "172.31.6.53", "172.31.6.54"];
    for (i, target) in targets.iter().enumerate() {
        let ms = 100 + 1000 * i as i64;
        let c = Conn::new(i as u64, ep(ALB, 40000 + i as u16), ep(target, 443), ms)
            .handshake(ms)
            .ev(ms + 50, ToServer, K::Fin);
        tr.closed(c.record(AppKind::Tls, vec![], 0, None));
    }
    let known = tr.knowledge();
    let alb: IpAddr = ALB.parse().unwrap();
    assert!(known.is_alb(alb));
    assert_eq!(known.nodes[&alb].back_connections, 4);
    assert_eq!(known.targets.len(), 3);
    assert_eq!(known.other_connections, 0);
    // strong evidence elsewhere: the opener is no node, its connections stay unclassified
    let mut tr = tracker_naming_alb();
    let other = "172.31.9.9";
    for (i, target) in targets.iter().enumerate() {
        let ms = 100 + 1000 * i as i64;
        let c = Conn::new(i as u64, ep(other, 40000 + i as u16), ep(target, 443), ms)
            .handshake(ms)
            .ev(ms + 50, ToServer, K::Fin);
        tr.closed(c.record(AppKind::Tls, vec![], 0, None));
    }
    let known = tr.knowledge();
    assert!(!known.is_alb(other.parse().unwrap()));
    assert_eq!(known.other_connections, 4);
    assert!(known.targets.is_empty());
}

/// Issue 12: a client's TLS connection established before the capture started (no TCP or TLS
/// handshake captured, records from mid-stream): its first burst, from the ALB, answers a
/// request sent before the capture (counted, like a response without a request on HTTP/1),
/// and its last small burst is the client's close_notify, not a request the client left
/// (it read as a confident `client_closed`). With the handshakes captured, the same bursts
/// are left as they were.
#[test]
fn a_tls_connection_from_before_the_capture_answers_no_request_of_it() {
    let run = |opened_before: bool| {
        let mut tr = tracker_naming_alb();
        let mut c = Conn::new(1, ep(CLIENT, 41101), ep(ALB, 443), 100);
        if !opened_before {
            c = c.handshake(90);
        }
        c.s.saw_syn = !opened_before;
        let c = c.ev(131, ToServer, K::Fin);
        let mut rec = c.record(AppKind::Tls, vec![], 0, None);
        rec.tls = Some(TlsInfo {
            bursts: vec![
                burst(ToClient, 100, 189),
                burst(ToServer, 130, 30),
                burst(ToClient, 132, 19),
            ],
            ..TlsInfo::default()
        });
        tr.closed(rec);
        // the back end's answer to the request sent before the capture
        let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 95).handshake(95);
        tr.exchange(
            &b.ctx(false),
            exch(
                0,
                None,
                Some(get(96, "/x", back_headers(CLIENT))),
                Some(resp(99, 500, "nginx", 10)),
            ),
        );
        tr.finish()
    };
    let (sink, known) = run(true);
    assert_eq!(known.answered_before_capture, 1);
    assert!(
        sink.paths
            .iter()
            .all(|p| p.front.as_ref().map_or(true, |f| f.burst.is_none())),
        "{:?}",
        sink.paths
    );
    let (sink, known) = run(false);
    assert_eq!(known.answered_before_capture, 0);
    assert!(sink
        .paths
        .iter()
        .any(|p| p.front.as_ref().is_some_and(|f| f.burst.is_some())));
}

/// Issue 12: a private address accepting TLS connections on one port from several public
/// clients (an internet-facing node's encrypted front end seen from the clients' side) is a
/// weak node, credited the connections counted before it was recognised; one public client,
/// private clients (the targets' side: the ALB is private) or a public server are not.
#[test]
fn a_private_tls_server_of_several_public_clients_is_a_weak_node() {
    let node: IpAddr = "10.0.1.25".parse().unwrap();
    let mut k = Knowledge::new(AlbConfig::default());
    // one public client, again and again; private clients; another port
    for _ in 0..3 {
        k.learn_tls_server(&key("198.51.100.7", "10.0.1.25", 443));
    }
    k.learn_tls_server(&key("10.0.2.15", "10.0.1.25", 443));
    k.learn_tls_server(&key("10.0.2.16", "10.0.1.25", 443));
    k.learn_tls_server(&key("203.0.113.9", "10.0.1.25", 8443));
    assert!(!k.is_alb(node));
    k.count_other(&key("198.51.100.7", "10.0.1.25", 443), 0);
    // a second public client on the same port
    k.learn_tls_server(&key("203.0.113.9", "10.0.1.25", 443));
    assert!(k.is_alb(node));
    assert_eq!(
        k.nodes[&node].evidence,
        vec![NodeEvidence::AcceptsPublicTlsClients]
    );
    assert!(!k.nodes[&node].strong);
    assert_eq!(k.nodes[&node].front_connections, 1);
    assert_eq!(k.other_connections, 0);
    // a public server of public clients is not
    let mut k = Knowledge::new(AlbConfig::default());
    for c in ["198.51.100.7", "203.0.113.9", "192.0.2.1"] {
        k.learn_tls_server(&key(c, "52.94.133.131", 443));
    }
    assert!(k.nodes.is_empty());
    // a node given with --alb-ip wins
    let mut k = Knowledge::new(AlbConfig {
        alb_ips: vec!["10.0.1.99".parse().unwrap()],
        ..AlbConfig::default()
    });
    for c in ["198.51.100.7", "203.0.113.9"] {
        k.learn_tls_server(&key(c, "10.0.1.25", 443));
    }
    assert!(!k.is_alb(node));
}

/// Two requests over encrypted front ends, answered out of order: the first back-end request
/// fits both clients, the second (reset after client B was answered) only client A. Greedy
/// time order gave A to the first and left the reset without a client (and A with the wrong
/// status); the two change places.
#[test]
fn time_order_pairing_gives_each_back_end_leg_a_client_that_fits() {
    let mut tr = tracker_naming_alb();
    // client A (40001): request at 100 ms, answered at 160 ms; client B (40002): request at
    // 101 ms, answered at 130 ms.
    for (id, port, req, answer) in [(1, 40001, 100, 160), (2, 40002, 101, 130)] {
        let c = Conn::new(id, ep(CLIENT, port), ep(ALB, 443), req - 5).handshake(req - 5);
        let mut rec = c.record(AppKind::Tls, vec![], 0, None);
        rec.tls = Some(TlsInfo {
            bursts: vec![burst(ToServer, req, 300), burst(ToClient, answer, 900)],
            ..TlsInfo::default()
        });
        tr.closed(rec);
    }
    // GET /ok at 110 ms, answered at 120 ms: both clients were answered after it.
    let b = Conn::new(3, ep(ALB, 50001), ep(TARGET, 80), 108).handshake(108);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(110, "/ok", back_headers(CLIENT))),
            Some(resp(120, 200, "Apache", 10)),
        ),
    );
    // GET /reset at 111 ms, reset by the target at 150 ms: only client A was answered after.
    let b = Conn::new(4, ep(ALB, 50002), ep(TARGET, 80), 109)
        .handshake(109)
        .ev(150, ToClient, K::Rst);
    let reset = exch(
        0,
        None,
        Some(get(111, "/reset", back_headers(CLIENT))),
        None,
    );
    tr.closed(b.record(AppKind::Http, vec![reset], 0, None));
    let (sink, _) = tr.finish();
    assert_eq!(paired(&sink), 2, "{:?}", sink.paths);
    let client_of = |target: &str| {
        sink.paths
            .iter()
            .find(|p| {
                p.back
                    .as_ref()
                    .and_then(|b| b.exchange.as_ref())
                    .and_then(|e| e.request.as_ref())
                    .is_some_and(|r| r.target() == target)
            })
            .and_then(|p| p.front.as_ref())
            .map(|f| f.conn.key.client.port)
    };
    assert_eq!(client_of("/reset"), Some(40001));
    assert_eq!(client_of("/ok"), Some(40002));
}

#[test]
fn readable_health_checks_on_a_steady_interval_are_their_nodes_cadence() {
    // Five checks 5 s apart (ELB-HealthChecker, readable): the node's checks of the target
    // show a cadence, so a failed connect off it is a client's attempt.
    let mut tr = tracker();
    for i in 0..5u64 {
        health_check(&mut tr, 1 + i, 1_000 + 5_000 * i as i64);
    }
    let (_, known) = tr.finish();
    assert!(known.cadence.has_cadence(ep(ALB, 0).ip, ep(TARGET, 80)));
    // and each is a connection that may be a check (the lone-connect rule's list)
    assert_eq!(
        known.check_like.alone_within(
            ep(ALB, 0).ip,
            1,
            ep(TARGET, 80),
            t(3_500),
            Duration(1_000_000_000)
        ),
        Some(true)
    );
    assert_eq!(
        known.check_like.alone_within(
            ep(ALB, 0).ip,
            1,
            ep(TARGET, 80),
            t(3_500),
            Duration(3_000_000_000)
        ),
        Some(false)
    );
}
