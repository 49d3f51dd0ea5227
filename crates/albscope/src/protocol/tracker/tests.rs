//! Tests of the protocol tracker against the buffer budget.

use super::*;
use crate::capture::PacketPos;
use crate::decode::MirrorSession;
use crate::flow::{CloseReason, ConnKey, ConnSummary, Endpoint};
use crate::protocol::ConnectionRecord;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Default)]
struct Keep {
    exchanges: Vec<HttpExchange>,
    closed: Vec<ConnectionRecord>,
}

impl AppSink for Keep {
    fn exchange(&mut self, _: &ConnContext, ex: HttpExchange) {
        self.exchanges.push(ex);
    }
    fn closed(&mut self, record: ConnectionRecord) {
        self.closed.push(record);
    }
}

fn key(port: u16) -> ConnKey {
    let ep = |a: u8, port| Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, a)),
        port,
    };
    ConnKey {
        session: MirrorSession::DIRECT,
        client: ep(1, port),
        server: ep(2, 80),
    }
}

fn data(t: &mut ProtocolTracker, id: u64, dir: Dir, offset: u64, bytes: &[u8], k: &mut Keep) {
    let ev = FlowEvent::Data {
        dir,
        ts: Timestamp(offset as i64),
        pos: PacketPos::default(),
        offset,
        bytes,
    };
    t.handle(ConnId(id), ev, k);
}

fn close(t: &mut ProtocolTracker, id: u64, port: u16, k: &mut Keep) {
    let summary = ConnSummary {
        id: ConnId(id),
        key: key(port),
        start: Timestamp(0),
        end: Timestamp(1),
        first_pos: PacketPos::default(),
        last_pos: PacketPos::default(),
        saw_syn: true,
        handshake_ack: None,
        dirs: Default::default(),
        state: "S1".into(),
        history: String::new(),
        events: Vec::new(),
        events_dropped: 0,
        close_reason: CloseReason::EndOfCapture,
        continuation: false,
    };
    t.handle(ConnId(id), FlowEvent::Close(Box::new(summary)), k);
}

fn open(t: &mut ProtocolTracker, id: u64, port: u16, k: &mut Keep) {
    let ev = FlowEvent::Open {
        key: key(port),
        ts: Timestamp(0),
        pos: PacketPos::default(),
        continuation: false,
        saw_syn: true,
    };
    t.handle(ConnId(id), ev, k);
}

#[test]
fn request_header_past_the_budget_is_skipped_and_marked() {
    let budget = BufferBudget::new(4096);
    let mut t = ProtocolTracker::with_budget(ProtocolConfig::default(), budget.clone());
    let mut k = Keep::default();
    open(&mut t, 0, 40000, &mut k);
    open(&mut t, 1, 40001, &mut k);
    let line = b"GET /a HTTP/1.1\r\nX-Fill: ";
    data(&mut t, 0, Dir::ToServer, 0, line, &mut k);
    data(&mut t, 1, Dir::ToServer, 0, line, &mut k);
    let fill = [b'a'; 1500];
    let mut off = line.len() as u64;
    for _ in 0..4 {
        data(&mut t, 0, Dir::ToServer, off, &fill, &mut k);
        data(&mut t, 1, Dir::ToServer, off, &fill, &mut k);
        off += fill.len() as u64;
    }
    assert!(budget.used() <= budget.limit(), "{}", budget.used());
    assert!(t.stats().headers_skipped >= 1);
    assert!(t.stats().header_bytes_skipped > 0);
    // The rest of the skipped block, its end and a new request are read on.
    data(
        &mut t,
        0,
        Dir::ToServer,
        off,
        b"a\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
        &mut k,
    );
    close(&mut t, 0, 40000, &mut k);
    close(&mut t, 1, 40001, &mut k);
    assert_eq!(budget.used(), 0);
    let all: Vec<&HttpExchange> = k.closed.iter().flat_map(|c| c.unfinished.iter()).collect();
    let skipped: Vec<&&HttpExchange> = all
        .iter()
        .filter(|e| e.headers_skipped == Some(Dir::ToServer))
        .collect();
    assert!(!skipped.is_empty());
    for e in skipped {
        let r = e.request.as_ref().expect("request from its request line");
        assert_eq!((r.method(), r.target()), ("GET", "/a"));
        assert!(r.headers_done.is_none());
    }
}

#[test]
fn response_header_past_the_budget_is_skipped_and_marked() {
    let budget = BufferBudget::new(2048);
    let mut t = ProtocolTracker::with_budget(ProtocolConfig::default(), budget.clone());
    let mut k = Keep::default();
    open(&mut t, 0, 40000, &mut k);
    data(
        &mut t,
        0,
        Dir::ToServer,
        0,
        b"GET / HTTP/1.1\r\n\r\n",
        &mut k,
    );
    data(
        &mut t,
        0,
        Dir::ToClient,
        0,
        b"HTTP/1.1 200 OK\r\nX: ",
        &mut k,
    );
    data(&mut t, 0, Dir::ToClient, 20, &[b'b'; 3000], &mut k);
    assert_eq!(t.stats().headers_skipped, 1);
    close(&mut t, 0, 40000, &mut k);
    let ex = &k.closed[0].unfinished[0];
    assert_eq!(ex.headers_skipped, Some(Dir::ToClient));
    let err = ex.response_error.as_ref().expect("response error");
    assert_eq!(err.kind, crate::protocol::ResponseErrorKind::Gap);
    assert_eq!(budget.used(), 0);
}

/// An HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn http2_is_detected_by_the_preface_even_after_the_server_settings() {
    let mut t = ProtocolTracker::default();
    let mut k = Keep::default();
    open(&mut t, 0, 40000, &mut k);
    // The server's SETTINGS arrive first; the client's preface comes in two pieces.
    let settings = h2_frame(4, 0, 0, &[]);
    data(&mut t, 0, Dir::ToClient, 0, &settings, &mut k);
    let mut c = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // :method GET, :path /, :scheme http (static table), END_STREAM | END_HEADERS.
    c.extend(h2_frame(1, 0x5, 1, &[0x82, 0x84, 0x86]));
    data(&mut t, 0, Dir::ToServer, 0, &c[..10], &mut k);
    data(&mut t, 0, Dir::ToServer, 10, &c[10..], &mut k);
    // :status 200, END_STREAM | END_HEADERS.
    let s = h2_frame(1, 0x5, 1, &[0x88]);
    data(&mut t, 0, Dir::ToClient, settings.len() as u64, &s, &mut k);
    assert_eq!(t.stats().h2_connections, 1);
    assert_eq!(k.exchanges.len(), 1);
    let ex = &k.exchanges[0];
    assert_eq!(ex.request.as_ref().map(|r| r.method()), Some("GET"));
    assert_eq!(ex.response.as_ref().map(|r| r.status), Some(200));
    assert_eq!(ex.h2.as_ref().map(|h| h.id), Some(1));
    close(&mut t, 0, 40000, &mut k);
    assert_eq!(k.closed[0].finished_exchanges, 1);
    assert!(t.stats().h2_frames >= 3);
}

#[test]
fn http2_buffers_count_against_the_budget() {
    let budget = BufferBudget::new(4096);
    let mut t = ProtocolTracker::with_budget(ProtocolConfig::default(), budget.clone());
    let mut k = Keep::default();
    open(&mut t, 0, 40000, &mut k);
    let mut c = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // A HEADERS frame announcing 10 000 bytes, fed in pieces: its payload is buffered.
    c.extend(h2_frame(1, 0x5, 1, &[0u8; 10_000]));
    let mut off = 0u64;
    for piece in c.chunks(1000) {
        data(&mut t, 0, Dir::ToServer, off, piece, &mut k);
        off += piece.len() as u64;
        assert!(budget.used() <= budget.limit(), "{}", budget.used());
    }
    close(&mut t, 0, 40000, &mut k);
    assert_eq!(budget.used(), 0);
    assert!(t.stats().h2_frames_skipped >= 1 || t.stats().headers_skipped >= 1);
}

#[test]
fn the_inner_protocol_of_decrypted_tls_waits_for_the_clients_first_bytes() {
    use super::plaintext::{inner_protocol, Inner};
    use crate::protocol::decrypt::Alpn;
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let settings = h2_frame(4, 0, 0, &[]);
    // ALPN decides at once, whatever the bytes.
    assert_eq!(
        inner_protocol(Some(&Alpn::H2), b"GET /", b"", false),
        Some(Inner::Http2)
    );
    assert_eq!(
        inner_protocol(Some(&Alpn::Http1), preface, b"", false),
        Some(Inner::Http1)
    );
    // Without ALPN: the whole preface, or bytes that cannot start it.
    assert_eq!(
        inner_protocol(None, preface, b"", false),
        Some(Inner::Http2)
    );
    assert_eq!(
        inner_protocol(None, b"GET / HTTP/1.1", b"", false),
        Some(Inner::Http1)
    );
    // A preface split over small records: wait; forced (a gap, the end), "PRI " is HTTP/2.
    assert_eq!(inner_protocol(None, b"PRI *", b"", false), None);
    assert_eq!(
        inner_protocol(None, b"PRI *", b"", true),
        Some(Inner::Http2)
    );
    assert_eq!(inner_protocol(None, b"P", b"", true), Some(Inner::Http1));
    // The server spoke first: wait for the client; forced, its SETTINGS mean HTTP/2.
    assert_eq!(inner_protocol(None, b"", &settings, false), None);
    assert_eq!(
        inner_protocol(None, b"", &settings, true),
        Some(Inner::Http2)
    );
    assert_eq!(
        inner_protocol(None, b"", b"HTTP/1.1 200", true),
        Some(Inner::Http1)
    );
}

/// After `101 Switching Protocols` the connection is a tunnel: its frames are no requests or
/// responses, and its idle time before the close runs from the last of them.
#[test]
fn an_upgraded_connection_is_a_tunnel_up_to_its_last_bytes() {
    let mut t = ProtocolTracker::with_budget(ProtocolConfig::default(), BufferBudget::new(1 << 20));
    let mut k = Keep::default();
    open(&mut t, 0, 40000, &mut k);
    let req = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    data(&mut t, 0, Dir::ToServer, 0, req, &mut k);
    let resp =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    data(&mut t, 0, Dir::ToClient, 0, resp, &mut k);
    // a masked client frame and a server frame that happen to look like HTTP
    let off = req.len() as u64;
    data(
        &mut t,
        0,
        Dir::ToServer,
        off,
        b"\x81\x85abcdGET / HTTP/1.1\r\n\r\n",
        &mut k,
    );
    let soff = resp.len() as u64;
    data(
        &mut t,
        0,
        Dir::ToClient,
        soff + 500,
        b"HTTP/1.1 200 OK\r\n\r\n",
        &mut k,
    );
    close(&mut t, 0, 40000, &mut k);
    assert_eq!(k.exchanges.len(), 1);
    assert_eq!(
        k.exchanges[0].response.as_ref().map(|r| r.status),
        Some(101)
    );
    let rec = &k.closed[0];
    assert!(rec.unfinished.is_empty(), "{:?}", rec.unfinished);
    assert_eq!(rec.tunnel_since, Some(Timestamp(0)));
    assert_eq!(rec.last_exchange_end, Some(Timestamp(soff as i64 + 500)));
    assert_eq!(t.stats().response_errors, 0);
}
