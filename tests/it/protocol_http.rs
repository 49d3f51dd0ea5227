//! HTTP/1.x behaviour of the protocol layer, driven by transcripts of flow events.

use albscope::capture::Duration;
use albscope::flow::Dir;
use albscope::protocol::{header, AppKind, ProtocolConfig, ResponseErrorKind};
use albscope_testkit::protocol_events::*;
use proptest::prelude::*;

const GET: &str = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn simple_get_200() {
    let out = run(&transcript(
        r">>> 10 GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n
         <<< 25 HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\n\r\nhello",
    ));
    assert_eq!(out.exchanges.len(), 1);
    let ex = &out.exchanges[0];
    assert_eq!(ex.index, 0);
    assert!(ex.idle_before.is_none());
    let req = ex.request.as_ref().unwrap();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.target(), "/index.html?q=1");
    assert_eq!(req.version, 1);
    assert_eq!(header(&req.headers, "host"), Some("example.com"));
    assert_eq!(req.first_byte, ts(10));
    assert_eq!(req.complete, Some(ts(10)));
    let resp = ex.response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.reason(), "OK");
    assert_eq!(resp.content_length, Some(5));
    assert_eq!(resp.body_bytes, 5);
    assert_eq!(resp.first_byte, ts(25));
    assert_eq!(resp.headers_done, ts(25));
    assert_eq!(resp.complete, Some(ts(25)));
    assert_eq!(header(&resp.headers, "server"), Some("nginx"));
    assert!(!out.contexts[0].tls);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Http);
    assert!(rec.unfinished.is_empty());
    assert_eq!(rec.finished_exchanges, 1);
    assert_eq!(rec.last_exchange_end, Some(ts(25)));
}

#[test]
fn keep_alive_three_exchanges() {
    let out = run(&[
        c(0, GET),
        s(10, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        c(1010, GET),
        s(1020, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        c(6020, "GET /b HTTP/1.1\r\n"),
        c(6021, "Host: x\r\n\r\n"),
        s(6030, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 3);
    let idx: Vec<u32> = out.exchanges.iter().map(|e| e.index).collect();
    assert_eq!(idx, vec![0, 1, 2]);
    assert_eq!(out.exchanges[0].idle_before, None);
    assert_eq!(
        out.exchanges[1].idle_before,
        Some(Duration::from_millis(1000))
    );
    assert_eq!(
        out.exchanges[2].idle_before,
        Some(Duration::from_millis(5000))
    );
    let r2 = out.exchanges[2].request.as_ref().unwrap();
    assert_eq!(r2.first_byte, ts(6020));
    assert_eq!(r2.headers_done, Some(ts(6021)));
    assert_eq!(out.exchanges[2].response.as_ref().unwrap().status, 404);
    assert_eq!(out.record().finished_exchanges, 3);
    assert_eq!(out.record().last_exchange_end, Some(ts(6030)));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let out = run(&[
        c(0, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"),
        s(
            5,
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc",
        ),
    ]);
    assert_eq!(out.exchanges.len(), 3);
    let targets: Vec<&str> = out
        .exchanges
        .iter()
        .map(|e| e.request.as_ref().unwrap().target())
        .collect();
    assert_eq!(targets, vec!["/1", "/2", "/3"]);
    assert_eq!(out.exchanges[1].response.as_ref().unwrap().body_bytes, 0);
    assert_eq!(out.exchanges[2].response.as_ref().unwrap().status, 201);
    assert_eq!(out.exchanges[2].response.as_ref().unwrap().body_bytes, 3);
    // Pipelined: the previous exchange had not ended when the request was read.
    assert_eq!(out.exchanges[1].idle_before, None);
}

#[test]
fn post_with_body() {
    let out = run(&[
        c(
            0,
            "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
        ),
        c(3, "56789"),
        s(9, "HTTP/1.1 204 No Content\r\n\r\n"),
    ]);
    let req = out.exchanges[0].request.as_ref().unwrap();
    assert_eq!(req.content_length, Some(10));
    assert_eq!(req.body_bytes, 10);
    assert_eq!(req.headers_done, Some(ts(0)));
    assert_eq!(req.complete, Some(ts(3)));
}

#[test]
fn chunked_request_body() {
    let out = run(&[
        c(0, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n0\r\n\r\n"),
        c(1, GET),
        s(2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 2);
    let req = out.exchanges[0].request.as_ref().unwrap();
    assert!(req.chunked);
    assert_eq!(req.body_bytes, 4);
    assert_eq!(req.complete, Some(ts(0)));
}

#[test]
fn chunked_response_with_trailers() {
    let out = run(&[
        c(0, GET),
        s(
            5,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n",
        ),
        s(
            7,
            "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n",
        ),
        c(8, GET),
        s(9, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 2);
    let resp = out.exchanges[0].response.as_ref().unwrap();
    assert!(resp.chunked);
    assert_eq!(resp.body_bytes, 5 + 26);
    assert_eq!(resp.headers_done, ts(5));
    assert_eq!(resp.complete, Some(ts(7)));
}

#[test]
fn head_response_has_no_body() {
    let out = run(&[
        c(0, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"),
        s(5, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
        c(6, GET),
        s(7, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
    ]);
    assert_eq!(out.exchanges.len(), 2);
    let resp = out.exchanges[0].response.as_ref().unwrap();
    assert_eq!(resp.content_length, Some(1234));
    assert_eq!(resp.body_bytes, 0);
    assert_eq!(resp.complete, Some(ts(5)));
    assert!(out.record().unfinished.is_empty());
}

#[test]
fn status_204_and_304_have_no_body() {
    let out = run(&[
        c(0, GET),
        s(1, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"),
        c(2, GET),
        s(3, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        c(4, GET),
        s(5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let st: Vec<u16> = out
        .exchanges
        .iter()
        .map(|e| e.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(st, vec![204, 304, 200]);
    assert!(out.record().unfinished.is_empty());
}

#[test]
fn continue_then_200() {
    let out = run(&[
        c(
            0,
            "PUT /x HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        ),
        s(1, "HTTP/1.1 100 Continue\r\n\r\n"),
        c(2, "abc"),
        s(3, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    assert_eq!(out.exchanges.len(), 1);
    let resp = out.exchanges[0].response.as_ref().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.interim.iter().map(|i| i.status).collect::<Vec<_>>(),
        vec![100]
    );
    assert_eq!(resp.first_byte, ts(3));
    // the interim response keeps its own time (not the final response's)
    assert_eq!(resp.interim[0].at, ts(1));
    assert_eq!(
        out.exchanges[0].request.as_ref().unwrap().complete,
        Some(ts(2))
    );
}

#[test]
fn close_delimited_body_completes_at_fin() {
    let out = run(&[
        c(0, GET),
        s(5, "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nsome "),
        s(6, "body"),
        Step::Fin(9, Dir::ToClient),
    ]);
    assert_eq!(out.exchanges.len(), 1);
    let resp = out.exchanges[0].response.as_ref().unwrap();
    assert_eq!(resp.version, 0);
    assert_eq!(resp.content_length, None);
    assert_eq!(resp.body_bytes, 9);
    assert_eq!(resp.complete, Some(ts(9)));
    assert_eq!(header(&resp.headers, "connection"), Some("close"));
}

#[test]
fn response_without_request() {
    let out = run(&[s(
        5,
        "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n",
    )]);
    assert_eq!(out.exchanges.len(), 1);
    assert!(out.exchanges[0].request.is_none());
    assert_eq!(out.exchanges[0].response.as_ref().unwrap().status, 408);
    assert_eq!(out.record().app, AppKind::Http);
}

#[test]
fn content_length_longer_than_body_then_fin() {
    let out = run(&[
        c(0, GET),
        s(
            5,
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        ),
        Step::Fin(60_000, Dir::ToClient),
    ]);
    assert!(out.exchanges.is_empty());
    let rec = out.record();
    assert_eq!(rec.unfinished.len(), 1);
    let resp = rec.unfinished[0].response.as_ref().unwrap();
    assert_eq!(resp.content_length, Some(100));
    assert_eq!(resp.body_bytes, 10);
    assert_eq!(resp.complete, None);
    assert!(rec.unfinished[0].request.is_some());
}

#[test]
fn malformed_response_is_reported_with_escaped_excerpt() {
    let out = run(&[
        c(0, GET),
        s(5, b"\x00\x01garbage\r\nHTTP/1.1 200 OK\r\n\r\n"),
        Step::Fin(6, Dir::ToClient),
    ]);
    assert!(out.exchanges.is_empty());
    let rec = out.record();
    assert_eq!(rec.unfinished.len(), 1);
    let err = rec.unfinished[0].response_error.as_ref().unwrap();
    assert_eq!(err.kind, ResponseErrorKind::Malformed);
    assert_eq!(err.offset, 0);
    assert_eq!(err.first_byte, ts(5));
    assert!(
        err.excerpt.starts_with(b"\x00\x01garbage\r\nHTTP/1.1 200"),
        "{:?}",
        err.excerpt
    );
    assert_eq!(err.bytes, 30);
    assert_eq!(err.status, None, "not a status line at the start");
    assert!(rec.unfinished[0].request.is_some());
}

#[test]
fn invalid_status_line_is_malformed() {
    let out = run(&[
        c(0, GET),
        s(5, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        c(6, GET),
        s(7, "HTTP/1.1 2x0 Bad\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    assert_eq!(out.exchanges.len(), 1);
    let rec = out.record();
    let err = rec.unfinished[0].response_error.as_ref().unwrap();
    assert_eq!(err.kind, ResponseErrorKind::Malformed);
    assert_eq!(err.offset, 40);
    assert_eq!(rec.unfinished[0].index, 1);
}

#[test]
fn huge_header_block_is_too_large() {
    let mut resp = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..1000 {
        resp.extend_from_slice(format!("X-Filler-{i:04}: {}\r\n", "v".repeat(24)).as_bytes());
    }
    resp.extend_from_slice(b"\r\n");
    assert!(resp.len() > 40_000);
    let total = resp.len() as u64;
    let out = run(&[c(0, GET), s(5, &resp), Step::Fin(6, Dir::ToClient)]);
    let rec = out.record();
    let err = rec.unfinished[0].response_error.as_ref().unwrap();
    assert_eq!(err.kind, ResponseErrorKind::HeaderTooLarge);
    assert_eq!(err.bytes, total);
    assert!(err.excerpt.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(err.status, Some(200));
}

#[test]
fn request_then_rst_without_response() {
    let out = run(&[c(0, GET), Step::Rst(50, Dir::ToClient)]);
    assert!(out.exchanges.is_empty());
    let rec = out.record();
    assert_eq!(rec.unfinished.len(), 1);
    assert!(rec.unfinished[0].response.is_none());
    assert!(rec.unfinished[0].response_error.is_none());
    assert_eq!(rec.unfinished[0].request.as_ref().unwrap().target(), "/a");
}

#[test]
fn gap_in_response_body_is_counted() {
    let out = run(&[
        c(0, GET),
        s(
            5,
            "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n0123456789",
        ),
        Step::Gap(6, Dir::ToClient, 1000),
        s(7, "x".repeat(990)),
        c(8, GET),
        s(9, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 2);
    let r = out.exchanges[0].response.as_ref().unwrap();
    assert_eq!(r.body_bytes, 2000);
    assert_eq!(r.complete, Some(ts(7)));
}

#[test]
fn gap_in_response_headers_resynchronises() {
    let out = run(&[
        c(0, GET),
        s(5, "HTTP/1.1 200 OK\r\nServ"),
        Step::Gap(6, Dir::ToClient, 500),
        s(7, "more: junk\r\nContent-Length: 3\r\n\r\nabc"),
        c(8, GET),
        s(9, "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n"),
    ]);
    // The second response is found again and answers the second request.
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(out.exchanges[0].index, 1);
    assert_eq!(out.exchanges[0].response.as_ref().unwrap().status, 503);
    let rec = out.record();
    assert_eq!(rec.unfinished.len(), 1);
    let err = rec.unfinished[0].response_error.as_ref().unwrap();
    assert_eq!(err.kind, ResponseErrorKind::Gap);
    assert_eq!(err.offset, 21);
    assert!(err.excerpt.starts_with(b"HTTP/1.1 200 OK"));
}

#[test]
fn a_request_the_mirror_lost_is_answered_at_its_own_time() {
    // The second request's segment was not mirrored (a gap between requests), the third was
    // cut inside its header block by the snap length; each is answered before the next.
    let out = run(&[
        c(0, GET),
        s(1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        Step::Gap(3, Dir::ToServer, 80),
        s(4, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"),
        c(6, "GET /cut HT"),
        Step::Gap(6, Dir::ToServer, 60),
        s(7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 3);
    let lost = &out.exchanges[1];
    assert!(lost.request.is_none());
    assert_eq!(lost.request_lost_at, Some(ts(3)));
    assert_eq!(lost.response.as_ref().map(|r| r.status), Some(502));
    let cut = &out.exchanges[2];
    assert_eq!(cut.request_lost_at, Some(ts(6)));
    assert_eq!(cut.index, 2);
    assert!(out.record().unfinished.is_empty());
}

#[test]
fn gap_in_request_headers_drops_request() {
    let out = run(&[
        c(0, "GET /lost HTTP/1.1\r\nHo"),
        Step::Gap(1, Dir::ToServer, 100),
        c(2, "st: y\r\n\r\nGET /found HTTP/1.1\r\nHost: x\r\n\r\n"),
        s(3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(
        out.exchanges[0].request.as_ref().unwrap().target(),
        "/found"
    );
}

#[test]
fn gap_in_request_body_is_counted() {
    let out = run(&[
        c(0, "POST / HTTP/1.1\r\nContent-Length: 300\r\n\r\n"),
        Step::Gap(1, Dir::ToServer, 200),
        c(2, "y".repeat(100)),
        s(3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let req = out.exchanges[0].request.as_ref().unwrap();
    assert_eq!(req.body_bytes, 300);
    assert_eq!(req.complete, Some(ts(2)));
}

#[test]
fn unknown_payload_keeps_escaped_excerpt() {
    let out = run(&[c(0, b"\x05\x01\x00SOCKS-ish payload that is long enough")]);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Unknown);
    assert!(rec
        .unknown_excerpt
        .as_ref()
        .unwrap()
        .starts_with("\\x05\\x01\\x00SOCKS"));
}

#[test]
fn empty_connection() {
    let out = run(&[]);
    assert_eq!(out.record().app, AppKind::Empty);
}

#[test]
fn small_header_cap_from_config() {
    let cfg = ProtocolConfig {
        max_response_header_bytes: 64,
        ..ProtocolConfig::default()
    };
    let steps = [
        c(0, GET),
        s(
            1,
            format!("HTTP/1.1 200 OK\r\nX-Long: {}\r\n\r\n", "a".repeat(80)),
        ),
    ];
    let out = run_split(&steps, cfg, |n| vec![n]);
    let err = out.record().unfinished[0].response_error.clone().unwrap();
    assert_eq!(err.kind, ResponseErrorKind::HeaderTooLarge);
}

fn reference_transcript() -> Vec<Step> {
    vec![
        c(0, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n"),
        s(1, "HTTP/1.1 100 Continue\r\n\r\n"),
        c(2, "payload"),
        s(3, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n"),
        c(4, "HEAD / HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"),
        s(5, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n"),
        c(7, GET),
        s(8, "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nshort"),
        c(9, GET),
        s(10, "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"),
        s(11, b"\x00garbage\xff"),
        Step::Fin(12, Dir::ToClient),
    ]
}

fn split_at_every(boundary: usize) -> impl FnMut(usize) -> Vec<usize> {
    move |n| {
        if boundary == 0 || boundary >= n {
            vec![n]
        } else {
            let mut v = vec![boundary];
            let mut left = n - boundary;
            while left > 0 {
                let k = left.min(boundary);
                v.push(k);
                left -= k;
            }
            v
        }
    }
}

#[test]
fn splitting_at_every_boundary_gives_identical_results() {
    let steps = reference_transcript();
    let whole = fingerprint(&run(&steps));
    assert!(whole.contains("status: 304"));
    for b in 1..120 {
        let got = fingerprint(&run_split(
            &steps,
            ProtocolConfig::default(),
            split_at_every(b),
        ));
        assert_eq!(got, whole, "split every {b} bytes");
    }
    let bytes = |n: usize| vec![1; n];
    assert_eq!(
        fingerprint(&run_split(&steps, ProtocolConfig::default(), bytes)),
        whole
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_chunking_gives_identical_results(seed in proptest::collection::vec(1usize..40, 1..64)) {
        let steps = reference_transcript();
        let whole = fingerprint(&run(&steps));
        let mut k = 0;
        let got = fingerprint(&run_split(&steps, ProtocolConfig::default(), |n| {
            let mut v = Vec::new();
            let mut left = n;
            while left > 0 {
                let len = seed[k % seed.len()].min(left);
                k += 1;
                v.push(len);
                left -= len;
            }
            v
        }));
        prop_assert_eq!(got, whole);
    }
}

#[test]
fn interleaved_connections_keep_separate_state() {
    use albscope::capture::PacketPos;
    use albscope::flow::{ConnId, FlowEvent};
    use albscope::protocol::ProtocolTracker;
    let mut t = ProtocolTracker::default();
    let mut out = Collected::default();
    let pos = PacketPos::default();
    for id in [1, 2] {
        t.handle(
            ConnId(id),
            FlowEvent::Open {
                key: key(),
                ts: ts(0),
                pos,
                continuation: false,
                saw_syn: true,
            },
            &mut out,
        );
    }
    let data =
        |id: u64, dir: Dir, offset: u64, bytes: &'static [u8]| (ConnId(id), dir, offset, bytes);
    let events = [
        data(1, Dir::ToServer, 0, b"GET /one HT"),
        data(2, Dir::ToServer, 0, b"GET /two HTTP/1.1\r\n\r\n"),
        data(1, Dir::ToServer, 11, b"TP/1.1\r\n\r\n"),
        data(
            2,
            Dir::ToClient,
            0,
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",
        ),
        data(
            1,
            Dir::ToClient,
            0,
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
        ),
        data(2, Dir::ToClient, 40, b"c"),
    ];
    for (i, (id, dir, offset, bytes)) in events.into_iter().enumerate() {
        t.handle(
            id,
            FlowEvent::Data {
                dir,
                ts: ts(i as i64),
                pos,
                offset,
                bytes,
            },
            &mut out,
        );
    }
    assert_eq!(out.exchanges.len(), 2);
    assert_eq!(out.contexts[0].id, ConnId(1));
    assert_eq!(out.exchanges[0].request.as_ref().unwrap().target(), "/one");
    assert_eq!(out.exchanges[0].response.as_ref().unwrap().status, 502);
    assert_eq!(out.contexts[1].id, ConnId(2));
    assert_eq!(out.exchanges[1].request.as_ref().unwrap().target(), "/two");
    assert_eq!(out.exchanges[1].response.as_ref().unwrap().body_bytes, 3);
    assert_eq!(t.open_connections(), 2);
    assert_eq!(t.stats().requests, 2);
    assert_eq!(t.stats().responses, 2);
    assert_eq!(t.stats().http_connections, 2);
}

#[test]
fn upgrade_stops_http_parsing() {
    let out = run(&[
        c(
            0,
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        ),
        s(
            1,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi",
        ),
        c(2, b"\x81\x82garbage frames"),
        s(3, "more frames"),
        Step::Fin(4, Dir::ToClient),
    ]);
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(out.exchanges[0].response.as_ref().unwrap().status, 101);
    assert!(out.record().unfinished.is_empty());
}

#[test]
fn server_speaks_first_with_http() {
    let out = run(&transcript(
        r"<<< 0 HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n
          fin< 1",
    ));
    assert_eq!(out.record().app, AppKind::Http);
    assert_eq!(out.exchanges.len(), 1);
    assert!(out.exchanges[0].request.is_none());
}

#[test]
fn request_cut_short_is_reported_from_its_request_line() {
    let out = run(&[
        c(0, GET),
        s(1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        c(5001, "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Le"),
        Step::Fin(5002, Dir::ToServer),
    ]);
    let rec = out.record();
    assert_eq!(rec.unfinished.len(), 1);
    let ex = &rec.unfinished[0];
    assert_eq!(ex.index, 1);
    assert_eq!(ex.idle_before, Some(Duration::from_millis(5000)));
    let req = ex.request.as_ref().unwrap();
    assert_eq!(req.method(), "POST");
    assert_eq!(req.target(), "/submit");
    assert!(req.headers_done.is_none());
}

#[test]
fn leading_gap_then_request() {
    let out = run(&[
        Step::Gap(0, Dir::ToServer, 1448),
        c(1, GET),
        s(2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.record().app, AppKind::Http);
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(out.exchanges[0].request.as_ref().unwrap().target(), "/a");
}

#[test]
fn gap_then_body_bytes_then_next_request() {
    let out = run(&[
        c(0, "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"),
        Step::Gap(1, Dir::ToServer, 6000),
        c(2, "tail of something\r\nGET /next HTTP/1.1\r\n\r\n"),
        s(3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(out.exchanges.len(), 2);
    let first = out.exchanges[0].request.as_ref().unwrap();
    assert_eq!(first.body_bytes, 5000);
    assert_eq!(out.exchanges[1].request.as_ref().unwrap().target(), "/next");
}

#[test]
fn capture_starting_mid_message_finds_the_next_one() {
    let out = run(&[
        c(0, "ta\": 1}\r\n"),
        s(1, "e of a previous response body"),
        s(2, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"),
        c(3, "garbage line\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"),
        s(4, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Http);
    // The first 64 bytes of the stream that did not start with a message.
    assert!(rec
        .unknown_excerpt
        .as_deref()
        .unwrap()
        .starts_with("ta\": 1}\\r\\ngarbage line\\r\\n"));
    assert_eq!(out.exchanges.len(), 2);
    assert!(out.exchanges[0].request.is_none());
    assert_eq!(out.exchanges[0].response.as_ref().unwrap().status, 200);
    assert_eq!(out.exchanges[1].request.as_ref().unwrap().target(), "/next");
    assert_eq!(out.exchanges[1].response.as_ref().unwrap().status, 404);
}

#[test]
fn binary_stream_stays_unknown() {
    let mut blob = Vec::new();
    for i in 0..300_000u32 {
        blob.push((i.wrapping_mul(2654435761) >> 24) as u8 | 0x80);
    }
    // An HTTP-looking line after the search budget is not taken.
    blob.extend_from_slice(b"\r\nGET / HTTP/1.1\r\n\r\n");
    let out = run(&[Step::C(0, blob), s(1, "\x01\x02")]);
    assert_eq!(out.record().app, AppKind::Unknown);
    assert!(out.exchanges.is_empty());
    assert!(out.record().unfinished.is_empty());
}

#[test]
fn ten_thousand_exchanges_on_one_connection() {
    let mut steps = Vec::new();
    for i in 0..10_000i64 {
        steps.push(c(i * 10, format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n")));
        steps.push(s(
            i * 10 + 1,
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        ));
    }
    let out = run(&steps);
    assert_eq!(out.exchanges.len(), 10_000);
    assert_eq!(out.exchanges[9_999].index, 9_999);
    assert_eq!(
        out.exchanges[9_999].idle_before,
        Some(Duration::from_millis(9))
    );
    assert!(out.record().unfinished.is_empty());
    assert_eq!(out.record().finished_exchanges, 10_000);
}
