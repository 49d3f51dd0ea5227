//! Tests of the HTTP/2 connection state on hand-built frames.

use super::frame::PREFACE;
use super::*;
use crate::capture::Timestamp;
use crate::protocol::http::Seg;
use crate::protocol::{grpc_outcome, HttpExchange, ResponseErrorKind};

/// A frame with header and payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A header block encoded with HPACK (dynamic table in use).
fn block(enc: &mut loona_hpack::Encoder<'_>, headers: &[(&str, &str)]) -> Vec<u8> {
    enc.encode(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
}

struct Wire {
    conn: H2Conn,
    t: i64,
    off: [u64; 2],
    done: Vec<HttpExchange>,
}

impl Wire {
    fn new() -> Self {
        Wire {
            conn: H2Conn::new(64 * 1024, 32 * 1024, 128),
            t: 0,
            off: [0, 0],
            done: Vec::new(),
        }
    }
    /// Sends `bytes` in `dir`, one byte per segment when `split`.
    fn send(&mut self, dir: Dir, bytes: &[u8], split: bool) {
        self.t += 1_000_000;
        let pieces: Vec<&[u8]> = if split {
            bytes.chunks(1).collect()
        } else {
            vec![bytes]
        };
        for p in pieces {
            let d = dir.index();
            let seg = Seg {
                ts: Timestamp(self.t),
                pos: Default::default(),
                offset: self.off[d],
                bytes: p,
            };
            self.off[d] += p.len() as u64;
            self.conn.feed(dir, seg);
        }
        self.done.extend(self.conn.take_finished());
    }
}

fn exchange_run(split: bool) -> (Vec<HttpExchange>, Vec<HttpExchange>) {
    let mut w = Wire::new();
    let mut cenc = loona_hpack::Encoder::new();
    let mut senc = loona_hpack::Encoder::new();
    let mut c = PREFACE.to_vec();
    c.extend(frame(4, 0, 0, &[0, 4, 0, 0, 0xff, 0xff]));
    for id in [1u32, 3, 5] {
        let b = block(
            &mut cenc,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "api.example"),
                (":path", &format!("/s{id}")),
                ("x-amzn-trace-id", "Root=1-abc"),
            ],
        );
        c.extend(frame(1, 0x5, id, &b));
    }
    w.send(Dir::ToServer, &c, split);
    let mut s = frame(4, 0, 0, &[]);
    // Stream 3: 200 with a body and trailers.
    let b = block(
        &mut senc,
        &[(":status", "200"), ("content-type", "text/plain")],
    );
    s.extend(frame(1, 0x4, 3, &b));
    s.extend(frame(0, 0, 3, b"hello"));
    let t = block(&mut senc, &[("x-checksum", "1")]);
    s.extend(frame(1, 0x5, 3, &t));
    // Stream 1: reset by the server.
    s.extend(frame(3, 0, 1, &2u32.to_be_bytes()));
    // GOAWAY: last stream 3 (stream 5 refused).
    let mut g = 3u32.to_be_bytes().to_vec();
    g.extend(0u32.to_be_bytes());
    s.extend(frame(7, 0, 0, &g));
    w.send(Dir::ToClient, &s, split);
    let open = w.conn.take_unfinished();
    (w.done, open)
}

#[test]
fn streams_become_exchanges_whatever_the_segmentation() {
    let (done, open) = exchange_run(false);
    let (done2, open2) = exchange_run(true);
    assert_eq!(format!("{done:?}").len(), format!("{done2:?}").len());
    assert_eq!(open.len(), open2.len());
    assert_eq!(done.len(), 2);
    let ok = done
        .iter()
        .find(|e| e.h2.as_ref().unwrap().id == 3)
        .unwrap();
    let req = ok.request.as_ref().unwrap();
    assert_eq!((req.method(), req.target()), ("GET", "/s3"));
    assert_eq!(
        crate::protocol::header(&req.headers, "host"),
        Some("api.example")
    );
    let resp = ok.response.as_ref().unwrap();
    assert_eq!((resp.status, resp.body_bytes), (200, 5));
    assert!(resp.complete.is_some());
    assert_eq!(ok.h2.as_ref().unwrap().trailers[0].0, "x-checksum");
    let reset = done
        .iter()
        .find(|e| e.h2.as_ref().unwrap().id == 1)
        .unwrap();
    let r = reset.h2.as_ref().unwrap().reset.unwrap();
    assert_eq!(
        (r.dir, r.code.name()),
        (Dir::ToClient, Some("INTERNAL_ERROR"))
    );
    assert!(reset.response.is_none());
    assert_eq!(open.len(), 1);
    let refused = open[0].h2.as_ref().unwrap();
    assert_eq!(refused.id, 5);
    assert_eq!(refused.refused_by.unwrap().last_stream_id, 3);
}

#[test]
fn flow_control_stall_and_resume() {
    let mut w = Wire::new();
    let mut cenc = loona_hpack::Encoder::new();
    let mut senc = loona_hpack::Encoder::new();
    let mut c = PREFACE.to_vec();
    // Client's initial window: 10 bytes.
    c.extend(frame(4, 0, 0, &[0, 4, 0, 0, 0, 10]));
    let b = block(&mut cenc, &[(":method", "GET"), (":path", "/big")]);
    c.extend(frame(1, 0x5, 1, &b));
    w.send(Dir::ToServer, &c, false);
    let mut s = frame(1, 0x4, 1, &block(&mut senc, &[(":status", "200")]));
    s.extend(frame(0, 0, 1, &[b'x'; 10]));
    w.send(Dir::ToClient, &s, false);
    w.send(Dir::ToServer, &frame(8, 0, 1, &100u32.to_be_bytes()), false);
    w.send(Dir::ToClient, &frame(0, 1, 1, &[b'y'; 20]), false);
    assert_eq!(w.done.len(), 1);
    let h2 = w.done[0].h2.as_ref().unwrap();
    assert_eq!(h2.stalls.len(), 1);
    assert_eq!(h2.stalls[0].scope, WindowScope::Stream);
    assert!(h2.stalls[0].resumed.is_some());
    assert_eq!(w.done[0].response.as_ref().unwrap().body_bytes, 30);
}

#[test]
fn grpc_status_from_trailers_and_http_mapping() {
    let mut w = Wire::new();
    let mut cenc = loona_hpack::Encoder::new();
    let mut senc = loona_hpack::Encoder::new();
    let mut c = PREFACE.to_vec();
    for id in [1u32, 3] {
        let b = block(
            &mut cenc,
            &[
                (":method", "POST"),
                (":path", "/pkg.Svc/Call"),
                ("content-type", "application/grpc"),
            ],
        );
        c.extend(frame(1, 0x4, id, &b));
        c.extend(frame(0, 1, id, &[0, 0, 0, 0, 0]));
    }
    w.send(Dir::ToServer, &c, false);
    // Stream 1: trailers-only NOT_FOUND; stream 3: a 503 without grpc-status.
    let b = block(
        &mut senc,
        &[
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "5"),
            ("grpc-message", "no%20such%20thing"),
        ],
    );
    let mut s = frame(1, 0x5, 1, &b);
    s.extend(frame(1, 0x5, 3, &block(&mut senc, &[(":status", "503")])));
    w.send(Dir::ToClient, &s, false);
    let g1 = grpc_outcome(&w.done[0]).unwrap();
    assert_eq!(g1.status, Some(5));
    assert_eq!(g1.message.as_deref(), Some("no such thing"));
    let g3 = grpc_outcome(&w.done[1]).unwrap();
    assert_eq!((g3.status, g3.from_http), (Some(14), Some(503)));
    assert_eq!(grpc_code_name(14), Some("UNAVAILABLE"));
}

#[test]
fn oversized_response_block_is_header_too_large() {
    let mut w = Wire::new();
    let mut cenc = loona_hpack::Encoder::new();
    let mut c = PREFACE.to_vec();
    c.extend(frame(
        1,
        0x5,
        1,
        &block(&mut cenc, &[(":method", "GET"), (":path", "/")]),
    ));
    w.send(Dir::ToServer, &c, false);
    // 40 KB of header block over HEADERS + CONTINUATION.
    w.send(Dir::ToClient, &frame(1, 0x1, 1, &[0u8; 20_000]), false);
    w.send(Dir::ToClient, &frame(9, 0x4, 1, &[0u8; 20_000]), false);
    assert_eq!(w.done.len(), 1);
    let err = w.done[0].response_error.as_ref().unwrap();
    assert_eq!(err.kind, ResponseErrorKind::HeaderTooLarge);
}

#[test]
fn hostile_bytes_do_not_panic() {
    let mut seed = 7u64;
    for _ in 0..300 {
        let mut w = Wire::new();
        let mut bytes = PREFACE.to_vec();
        for _ in 0..200 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            bytes.push((seed >> 33) as u8);
        }
        w.send(Dir::ToServer, &bytes, false);
        w.send(Dir::ToClient, &bytes[24..], true);
        let _ = w.conn.take_unfinished();
    }
}
