//! Pairing follows how a proxy handles a request: a back-end leg starts after its client's
//! request arrived, an ALB error answer follows the failed attempt, a target's answer relayed
//! to the client comes from a leg that carried one. Two requests of one client with the same
//! request line a few milliseconds apart, one refused and one answered on a reused connection,
//! are told apart by that order, not by which came first.

use super::testutil::*;
use super::*;
use crate::flow::Dir::{ToClient, ToServer};
use crate::flow::TcpEventKind as K;
use crate::protocol::{AppKind, AppSink};

fn tracker() -> AlbTracker<Collect> {
    AlbTracker::new(AlbConfig::default(), Collect::default())
}

const PATH: &str = "/static/p600.json";
/// The kept-alive target that answers.
const UP: &str = "172.31.6.52";
/// The stopped target that refuses connects.
const DOWN: &str = "172.31.6.53";

/// A client request on its own connection (client port `cport`) answered at `resp_ms` with
/// `status` by `server`.
fn front(tr: &mut AlbTracker<Collect>, id: u64, cport: u16, req_ms: i64, answer: (i64, u16, &str)) {
    let c = Conn::new(id, ep(CLIENT, cport), ep(ALB, 80), req_ms - 5).handshake(req_ms - 5);
    let (resp_ms, status, server) = answer;
    tr.exchange(
        &c.ctx(false),
        exch(
            0,
            None,
            Some(get(req_ms, PATH, front_headers())),
            Some(resp(resp_ms, status, server, 600)),
        ),
    );
}

/// A connect to the stopped target at `ms`, refused 1 ms later.
fn refused(tr: &mut AlbTracker<Collect>, id: u64, ms: i64) {
    let b = Conn::new(id, ep(ALB, 50_000 + id as u16), ep(DOWN, 80), ms)
        .ev(
            ms,
            ToServer,
            K::Syn {
                retransmission: false,
            },
        )
        .ev(ms + 1, ToClient, K::Rst);
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
}

/// The client's request forwarded at `ms` on a connection kept alive since 0 ms (request #2
/// on it), answered 200 by nginx at `resp_ms`.
fn forwarded(tr: &mut AlbTracker<Collect>, id: u64, ms: i64, resp_ms: i64) {
    let b = Conn::new(id, ep(ALB, 50_000 + id as u16), ep(UP, 80), 0).handshake(0);
    tr.exchange(
        &b.ctx(false),
        exch(
            1,
            Some(ms - 10),
            Some(get(ms, PATH, back_headers(CLIENT))),
            Some(resp(resp_ms, 200, "nginx/1.22.1", 600)),
        ),
    );
}

/// The client port of the path whose back end went to `target`.
fn client_of(sink: &Collect, target: &str) -> Option<u16> {
    let target: std::net::IpAddr = target.parse().ok()?;
    sink.paths
        .iter()
        .find(|p| {
            p.back
                .as_ref()
                .is_some_and(|b| b.conn.key.server.ip == target)
        })
        .and_then(|p| p.front.as_ref())
        .map(|f| f.conn.key.client.port)
}

/// The real-traffic case: the first request's connect is refused at 101 ms and the ALB
/// answers 502 at 102 ms; the second request arrives at 104 ms, goes out on the kept-alive
/// connection at 105 ms and its 200 is relayed at 106 ms. The forwarded request matches both
/// by headers, but the first's 502 left 3 ms before it: it is the second's; the refused
/// connect is the first's (the second got a target's answer, which a refused connect never
/// brings).
#[test]
fn an_error_sent_before_a_back_end_request_is_not_its_answer() {
    let mut tr = tracker();
    front(&mut tr, 1, 40_001, 100, (102, 502, "awselb/2.0"));
    front(&mut tr, 2, 40_002, 104, (106, 200, "nginx/1.22.1"));
    refused(&mut tr, 3, 101);
    forwarded(&mut tr, 4, 105, 105);
    let (sink, _) = tr.finish();
    assert_eq!(client_of(&sink, UP), Some(40_002), "{:#?}", sink.paths);
    assert_eq!(client_of(&sink, DOWN), Some(40_001), "{:#?}", sink.paths);
}

/// The same two requests where the clock cannot order them that finely (the 502 only 1 ms
/// before the forwarded request is within one capture's reordering): the answers decide. The
/// second client's 200 names the server that answered the forwarded request; the first's is
/// the ALB's own: the forwarded request is the second's, the refused connect the first's.
#[test]
fn the_relayed_answer_pairs_with_the_leg_that_carried_it() {
    let mut tr = tracker();
    front(&mut tr, 1, 40_001, 100, (103, 502, "awselb/2.0"));
    front(&mut tr, 2, 40_002, 101, (106, 200, "nginx/1.22.1"));
    refused(&mut tr, 3, 101);
    forwarded(&mut tr, 4, 104, 105);
    let (sink, _) = tr.finish();
    assert_eq!(client_of(&sink, UP), Some(40_002), "{:#?}", sink.paths);
    assert_eq!(client_of(&sink, DOWN), Some(40_001), "{:#?}", sink.paths);
}

/// A client that got a target's answer is no candidate for a refused connect, however well
/// it fits by time: left alone with it, the refused connect pairs with no client request.
#[test]
fn a_refused_connect_does_not_take_a_relayed_answer() {
    let mut tr = tracker();
    front(&mut tr, 1, 40_001, 100, (103, 200, "nginx/1.22.1"));
    refused(&mut tr, 3, 101);
    let (sink, _) = tr.finish();
    assert!(
        sink.paths
            .iter()
            .all(|p| p.front.is_none() || p.back.is_none()),
        "{:#?}",
        sink.paths
    );
}

/// A refused connect that two client requests fit by time: the one the ALB answered with its
/// own 502 is its client, not the earlier one whose 200 names no server (a refused connect
/// brings the ALB nothing to relay).
#[test]
fn a_refused_connect_prefers_the_albs_own_answer() {
    let mut tr = tracker();
    front(&mut tr, 1, 40_001, 100, (104, 200, ""));
    front(&mut tr, 2, 40_002, 101, (103, 502, "awselb/2.0"));
    refused(&mut tr, 3, 101);
    let (sink, _) = tr.finish();
    assert_eq!(client_of(&sink, DOWN), Some(40_002), "{:#?}", sink.paths);
}

/// Busy traffic: many clients send the same request line through back-end connections that
/// go to one target (`UP`), so headers name several candidates and the answers' timing decides.
/// A back-end leg on its own connection to `UP`: `GET PATH` at `req_ms`, answered (`answer`)
/// or not, then the TCP events `events`.
fn leg_to_up(
    tr: &mut AlbTracker<Collect>,
    id: u64,
    req_ms: i64,
    answer: Option<(i64, u16, &str)>,
    events: &[(i64, crate::flow::Dir, K)],
) {
    let mut b =
        Conn::new(id, ep(ALB, 50_000 + id as u16), ep(UP, 80), req_ms - 2).handshake(req_ms - 2);
    for (ms, dir, kind) in events {
        b = b.ev(*ms, *dir, kind.clone());
    }
    let ex = exch(
        0,
        None,
        Some(get(req_ms, PATH, back_headers(CLIENT))),
        answer.map(|(ms, status, server)| resp(ms, status, server, 600)),
    );
    tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
}

/// A client request (client port `cport`) on its own connection the capture saw closed:
/// answered (`answer`) or not, then the TCP events `events` (e.g. the ALB's FIN).
fn front_closed(
    tr: &mut AlbTracker<Collect>,
    id: u64,
    cport: u16,
    req_ms: i64,
    answer: Option<(i64, u16, &str)>,
    events: &[(i64, crate::flow::Dir, K)],
) {
    let mut c = Conn::new(id, ep(CLIENT, cport), ep(ALB, 80), req_ms - 5).handshake(req_ms - 5);
    for (ms, dir, kind) in events {
        c = c.ev(*ms, *dir, kind.clone());
    }
    let ex = exch(
        0,
        None,
        Some(get(req_ms, PATH, front_headers())),
        answer.map(|(ms, status, server)| resp(ms, status, server, 600)),
    );
    tr.closed(c.record(AppKind::Http, vec![ex], 0, None));
}

/// Both cases end the same way: leg 50003 with client 40002, leg 50004 with client 40001
/// (the opposite of arrival order, which a greedy pairing would choose).
fn assert_crossed_pairs(sink: &Collect) {
    assert_eq!(client_of_leg(sink, 50_003), Some(40002), "{:?}", sink.paths);
    assert_eq!(client_of_leg(sink, 50_004), Some(40001), "{:?}", sink.paths);
}

/// The client port of the path whose back-end connection has local port `port`.
fn client_of_leg(sink: &Collect, port: u16) -> Option<u16> {
    sink.paths
        .iter()
        .find(|p| {
            p.back
                .as_ref()
                .is_some_and(|b| b.conn.key.client.port == port)
        })
        .and_then(|p| p.front.as_ref())
        .map(|f| f.conn.key.client.port)
}

#[test]
fn a_leg_the_target_reset_pairs_with_the_albs_error_not_with_a_relayed_answer() {
    let mut tr = tracker();
    // client 40001 got the target's 500 at 140 ms, client 40002 the ALB's 502 at 131 ms
    front_closed(&mut tr, 1, 40001, 100, Some((140, 500, "gunicorn")), &[]);
    front_closed(&mut tr, 2, 40002, 101, Some((131, 502, "awselb/2.0")), &[]);
    // the first leg was reset by the target at 130 ms without an answer; the second carried
    // the target's 500 at 135 ms
    leg_to_up(&mut tr, 3, 103, None, &[(130, ToClient, K::Rst)]);
    leg_to_up(&mut tr, 4, 104, Some((135, 500, "gunicorn")), &[]);
    let (sink, _) = tr.finish();
    assert_crossed_pairs(&sink);
}

#[test]
fn an_albs_answer_before_a_leg_showed_anything_is_not_that_legs() {
    let mut tr = tracker();
    // client 40001 got the ALB's 502 at 112 ms, client 40002 its 504 at 5103 ms
    front_closed(&mut tr, 1, 40001, 100, Some((112, 502, "awselb/2.0")), &[]);
    front_closed(
        &mut tr,
        2,
        40002,
        101,
        Some((5_103, 504, "awselb/2.0")),
        &[],
    );
    // the first leg (105 ms) got nothing until the ALB reset it at its idle timeout; the
    // second (106 ms) was reset by the target at 111 ms
    leg_to_up(&mut tr, 3, 105, None, &[(5_104, ToServer, K::Rst)]);
    leg_to_up(&mut tr, 4, 106, None, &[(111, ToClient, K::Rst)]);
    let (sink, _) = tr.finish();
    assert_crossed_pairs(&sink);
}

#[test]
fn a_client_connection_the_alb_closed_at_once_pairs_with_the_leg_the_target_closed() {
    let mut tr = tracker();
    // client 40001 got nothing and left at 2000 ms; the ALB closed client 40002's connection
    // without an answer at 112 ms (a proxy's silent close after a reused connection failed)
    front_closed(&mut tr, 1, 40001, 100, None, &[(2_000, ToServer, K::Fin)]);
    front_closed(
        &mut tr,
        2,
        40002,
        101,
        None,
        &[(112, ToClient, K::Fin), (113, ToServer, K::Fin)],
    );
    // the first leg (105 ms) was reset by the target at 111 ms; the second (106 ms) got
    // nothing until the ALB reset it at its idle timeout
    leg_to_up(&mut tr, 3, 105, None, &[(111, ToClient, K::Rst)]);
    leg_to_up(&mut tr, 4, 106, None, &[(5_106, ToServer, K::Rst)]);
    let (sink, _) = tr.finish();
    assert_crossed_pairs(&sink);
}

#[test]
fn a_client_the_alb_closed_unanswered_does_not_take_a_leg_that_carried_an_answer() {
    let mut tr = tracker();
    // The capture holds one client (a slice, or one of many clients): the ALB closed its
    // connection at 200 ms without an answer.
    front_closed(
        &mut tr,
        1,
        40001,
        100,
        None,
        &[(200, ToClient, K::Fin), (201, ToServer, K::Fin)],
    );
    // The first leg (103 ms) carried the target's 500 at 135 ms: the ALB would have relayed
    // it, so it served a client not in the capture. The second (104 ms) the target closed
    // without answering at 199 ms, and the ALB closed the client's connection at once.
    leg_to_up(&mut tr, 3, 103, Some((135, 500, "gunicorn")), &[]);
    leg_to_up(&mut tr, 4, 104, None, &[(199, ToClient, K::Fin)]);
    let (sink, _) = tr.finish();
    assert_eq!(
        client_of_leg(&sink, 50_004),
        Some(40001),
        "{:?}",
        sink.paths
    );
    assert_eq!(client_of_leg(&sink, 50_003), None, "{:?}", sink.paths);
}
