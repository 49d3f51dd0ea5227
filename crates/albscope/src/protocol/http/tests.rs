//! Unit tests of the HTTP parsers' parts.

use super::body::ChunkedDecoder;
use super::head::find_head_end;
use super::*;
use crate::protocol::{ResponseErrorKind, ResponseErrorReason};

fn seg(bytes: &[u8]) -> Seg<'_> {
    Seg {
        ts: Timestamp(7),
        pos: PacketPos::default(),
        offset: 0,
        bytes,
    }
}

#[test]
fn chunked_decoder_counts_data_and_reads_trailers() {
    let body =
        b"4\r\nWiki\r\n5;name=v\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    let mut d = ChunkedDecoder::new();
    let out = d.feed(body);
    assert!(out.done);
    assert_eq!(out.error, None);
    assert_eq!(out.data, 4 + 5 + 14);
    assert_eq!(&body[out.consumed..], b"NEXT");
}

#[test]
fn chunked_decoder_byte_by_byte_matches_whole() {
    let body = b"a\r\n0123456789\r\n0\r\n\r\n";
    let mut d = ChunkedDecoder::new();
    let mut data = 0;
    let mut done = false;
    for b in body.iter() {
        let o = d.feed(std::slice::from_ref(b));
        assert_eq!(o.consumed, 1);
        data += o.data;
        done = o.done;
    }
    assert!(done);
    assert_eq!(data, 10);
}

#[test]
fn chunked_decoder_rejects_bad_size_and_overflow() {
    assert!(ChunkedDecoder::new().feed(b"zz\r\n").error.is_some());
    assert!(ChunkedDecoder::new()
        .feed(b"fffffffffffffffff\r\n")
        .error
        .is_some());
    assert!(ChunkedDecoder::new().feed(b"2\r\nabX").error.is_some());
}

#[test]
fn chunked_gap_inside_data_only() {
    let mut d = ChunkedDecoder::new();
    d.feed(b"10\r\nab");
    assert!(d.gap(10));
    let o = d.feed(b"cdef\r\n0\r\n\r\n");
    assert!(o.done);
    assert_eq!(o.data, 4);
    let mut d = ChunkedDecoder::new();
    d.feed(b"2\r\nab");
    assert!(!d.gap(5));
}

#[test]
fn prefix_matchers() {
    assert_eq!(match_method(b"GET /"), Match::Yes);
    assert_eq!(match_method(b"GE"), Match::Maybe);
    assert_eq!(match_method(b"get /"), Match::No);
    assert_eq!(match_method(b" GET"), Match::No);
    assert_eq!(match_literal(b"HTT", b"HTTP/"), Match::Maybe);
    assert_eq!(match_literal(b"HTTP/1.1", b"HTTP/"), Match::Yes);
    assert_eq!(match_literal(b"HTTX", b"HTTP/"), Match::No);
}

#[test]
fn head_end_accepts_bare_lf() {
    assert_eq!(find_head_end(b"a\r\nb\r\n\r\nrest", 0), Some(8));
    assert_eq!(find_head_end(b"a\nb\n\nrest", 0), Some(5));
    assert_eq!(find_head_end(b"a\r\nb\r\n\r", 0), None);
    // The first empty line ends the block, whichever form it has.
    assert_eq!(find_head_end(b"a\r\nb\n\nc\r\n\r\n", 0), Some(6));
    assert_eq!(find_head_end(b"a\r\n\r\nb\n\n", 0), Some(5));
    assert_eq!(find_head_end(b"a\n\r\n", 0), Some(4));
    assert_eq!(find_head_end(b"a\r\nb\r\n\r\n", 4), Some(8));
    assert_eq!(find_head_end(b"a\r\nb\r\n\r\n", 7), None);
    assert_eq!(find_head_end(b"ab", 5), None);
}

#[test]
fn conflicting_content_length_is_malformed() {
    let mut p = ResponseParser::new(1024, 16);
    let mut out = Vec::new();
    p.feed(
        seg(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"),
        &[ReqKind::Other][..],
        &mut out,
    );
    p.finish(Timestamp(9), &mut out);
    assert!(matches!(out.first(), Some(RespEvent::Start)));
    match out.get(1) {
        Some(RespEvent::Error(e, None)) => {
            assert_eq!(e.kind, ResponseErrorKind::Malformed);
            assert!(
                matches!(e.reason, ResponseErrorReason::BadFraming { what } if what.contains("Content-Length")),
                "{:?}",
                e.reason
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn switching_protocols_stops_parsing() {
    let mut p = ResponseParser::new(1024, 16);
    let mut out = Vec::new();
    p.feed(
        seg(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
        &[ReqKind::Other][..],
        &mut out,
    );
    p.finish(Timestamp(9), &mut out);
    assert_eq!(out.len(), 2);
    assert!(
        matches!(&out[1], RespEvent::Complete(r) if r.response.as_ref().is_some_and(|r| r.status == 101))
    );
}

#[test]
fn request_header_cap_drops_and_stops() {
    let mut p = RequestParser::new(32, 16);
    let mut out = Vec::new();
    p.feed(
        seg(b"GET / HTTP/1.1\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
        &mut out,
    );
    assert!(matches!(out.as_slice(), [ReqEvent::Dropped]));
    out.clear();
    p.feed(seg(b"GET / HTTP/1.1\r\n\r\n"), &mut out);
    assert!(out.is_empty());
}

#[test]
fn headers_are_capped_but_parsed() {
    let mut block = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..50 {
        block.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
    }
    block.extend_from_slice(b"\r\n");
    let mut p = RequestParser::new(64 * 1024, 10);
    let mut out = Vec::new();
    p.feed(seg(&block), &mut out);
    match out.first() {
        Some(ReqEvent::Head(ex)) => {
            let r = ex.request.as_ref().expect("a request");
            assert_eq!(r.headers.len(), 10);
            assert_eq!(r.header_bytes, block.len());
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Issue 12: a request head cut short by missing bytes (a truncating mirror) is reported as
/// forwarded when its whole lines carry X-Forwarded-For, -Proto and -Port (the three an ALB
/// adds); a line cut in the middle does not count, nor do other headers, nor a head that is not
/// a request.
#[test]
fn cut_short_head_with_forwarding_headers_is_reported() {
    let cases: [(&[u8], bool); 6] = [
        (
            b"GET / HTTP/1.1\r\nX-Forwarded-For: 13.211.35.216\r\nX-Forwarded-Proto: http\r\nx-forwarded-port: 80\r\nHost: alb-de",
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nX-Forwarded-Port: 443\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n",
            true,
        ),
        // a proxy in front of the ALB (X-Forwarded-Port missing) is not taken for a node
        (
            b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: http\r\n",
            false,
        ),
        // the -Proto line is cut in the middle
        (b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Pro", false),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nUser-Ag", false),
        (b"hello there\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Port: 80\r\n", false),
    ];
    for (head, want) in cases {
        let mut p = RequestParser::new(65_536, 128);
        let mut out = Vec::new();
        p.feed(seg(head), &mut out);
        p.gap(Timestamp(8), 100, &mut out);
        let reported = out.iter().any(|e| matches!(e, ReqEvent::ForwardedCutShort));
        assert_eq!(reported, want, "{}", String::from_utf8_lossy(head));
        if want {
            // the lost request is still one, at its first byte's time
            assert!(matches!(
                out.as_slice(),
                [
                    ReqEvent::ForwardedCutShort,
                    ReqEvent::Dropped,
                    ReqEvent::Lost(_)
                ]
            ));
        }
    }
}
