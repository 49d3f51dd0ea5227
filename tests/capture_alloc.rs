//! The capture reader and the decoder must not allocate per packet in the steady state, and the
//! protocol layer not per exchange either: this test binary counts heap allocations
//! with a wrapping global allocator while draining a large in-memory capture, while decoding
//! mirrored (VXLAN) TCP frames, and while parsing keep-alive HTTP exchanges. Allocations are
//! counted per thread: the harness runs the tests in parallel, and one test's setup must not
//! count in another's measurement.

use albscope::capture::{CaptureReader, LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{Decoder, Transport};
use albscope::flow::{ConnId, Dir, FlowEvent};
use albscope::protocol::{
    AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange, ProtocolConfig,
    ProtocolTracker,
};
use albscope_testkit::protocol_events::{key, ts};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;

struct Counting;

thread_local! {
    /// Allocations (and reallocations) made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation of the calling thread.
fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// The calling thread's allocations so far.
fn allocations() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn pcap(packets: u32, nanos: bool) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut out = Vec::new();
    for v in [magic, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend(v.to_le_bytes());
    }
    for i in 0..packets {
        let len = 60 + (i % 1400);
        for v in [1_700_000_000 + i / 1000, i % 1000, len, len] {
            out.extend(v.to_le_bytes());
        }
        out.extend(std::iter::repeat((i % 251) as u8).take(len as usize));
    }
    out
}

fn pcapng(packets: u32) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, t: u32, body: &[u8]) {
        let len = (12 + body.len()) as u32;
        out.extend(t.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(body);
        out.extend(len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1A2B_3C4Du32.to_le_bytes());
    shb.extend([1, 0, 0, 0]);
    shb.extend([0xff; 8]);
    block(&mut out, 0x0A0D_0D0A, &shb);
    block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 0, 0]);
    for i in 0..packets {
        let len = 64 + 4 * (i % 350);
        let mut body = Vec::new();
        for v in [0, 0, i * 10, len, len] {
            body.extend(v.to_le_bytes());
        }
        body.extend(std::iter::repeat(7u8).take(len as usize));
        block(&mut out, 6, &body);
    }
    out
}

fn allocations_while_draining(bytes: Vec<u8>, expected: u64) -> u64 {
    let mut reader = CaptureReader::from_reader("mem", Box::new(Cursor::new(bytes))).unwrap();
    // Warm up: the first packets may size buffers.
    for _ in 0..10 {
        reader.next_packet().unwrap();
    }
    let before = allocations();
    let mut n = 10;
    let mut sum = 0u64;
    while let Some(p) = reader.next_packet() {
        n += 1;
        sum += p.data.len() as u64;
    }
    let after = allocations();
    assert_eq!(n, expected);
    assert!(sum > 0);
    assert!(reader.problems().is_empty());
    after - before
}

#[test]
fn no_allocation_per_packet() {
    let pcap_allocs = allocations_while_draining(pcap(20_000, false), 20_000);
    let ng_allocs = allocations_while_draining(pcapng(20_000), 20_000);
    // A handful are allowed (closing the file at the end), never one per packet.
    assert!(
        pcap_allocs < 20,
        "pcap: {pcap_allocs} allocations for 20000 packets"
    );
    assert!(
        ng_allocs < 20,
        "pcapng: {ng_allocs} allocations for 20000 packets"
    );
}

/// An IPv4 header (no options) of `total` bytes carrying `proto`, checksum left zero (the
/// decoder does not check IP header checksums).
fn ipv4(total: usize, proto: u8, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend((total as u16).to_be_bytes());
    h.extend([0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend(src);
    h.extend(dst);
    h
}

/// Ethernet / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv4 / TCP with `payload`.
fn vxlan_tcp(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend(40_000u16.to_be_bytes());
    tcp.extend(80u16.to_be_bytes());
    tcp.extend(seq.to_be_bytes());
    tcp.extend(1u32.to_be_bytes());
    tcp.extend([0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend(payload);
    let mut inner = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    inner.extend(ipv4(20 + tcp.len(), 6, [10, 0, 0, 1], [10, 0, 0, 2]));
    inner.extend(tcp);
    let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
    vxlan.extend(inner);
    let mut udp = Vec::new();
    udp.extend(50_000u16.to_be_bytes());
    udp.extend(4789u16.to_be_bytes());
    udp.extend(((8 + vxlan.len()) as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(vxlan);
    let mut frame = vec![2, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 4, 0x08, 0x00];
    frame.extend(ipv4(20 + udp.len(), 17, [10, 9, 0, 1], [10, 9, 0, 2]));
    frame.extend(udp);
    frame
}

#[test]
fn no_allocation_per_decoded_packet() {
    let frames: Vec<Vec<u8>> = (0..2_000u32)
        .map(|i| vxlan_tcp(i * 100, &vec![b'x'; (i % 1400) as usize]))
        .collect();
    let mut decoder = Decoder::default();
    let mut tcp = 0u64;
    let mut decode_all = |decoder: &mut Decoder| {
        for (i, data) in frames.iter().enumerate() {
            let packet = PacketRef {
                pos: PacketPos {
                    file: 0,
                    number: i as u64 + 1,
                    offset: 0,
                },
                ts: Timestamp(1_700_000_000_000_000_000 + i as i64),
                link: LinkType(1),
                orig_len: data.len() as u32,
                data,
            };
            if let Some(d) = decoder.decode(&packet) {
                if let Transport::Tcp(seg) = &d.transport {
                    tcp += 1;
                    assert_eq!(seg.payload.len(), i % 1400);
                }
            }
        }
    };
    decode_all(&mut decoder);
    let before = allocations();
    for _ in 0..10 {
        decode_all(&mut decoder);
    }
    let allocs = allocations() - before;
    assert_eq!(tcp, 11 * 2_000);
    assert_eq!(decoder.stats().vxlan, 11 * 2_000);
    assert!(
        allocs < 5,
        "{allocs} allocations decoding 20000 VXLAN TCP frames"
    );
}

/// Counts what the protocol layer reports, keeping nothing: takes each exchange out of its box
/// (the default [`AppSink::exchange_boxed`]), or, `boxed`, drops the box as the ALB layer does
/// when it is done with a leg.
#[derive(Default)]
struct CountingSink {
    ok: u64,
    header_lines: usize,
    boxed: bool,
}

impl CountingSink {
    fn count(&mut self, ex: &HttpExchange) {
        if let (Some(req), Some(resp)) = (&ex.request, &ex.response) {
            if resp.status == 200 && req.method() == "GET" && resp.reason() == "OK" {
                self.ok += 1;
                self.header_lines += req.headers.len() + resp.headers.len();
            }
        }
    }
}

impl AppSink for CountingSink {
    fn exchange(&mut self, _conn: &ConnContext, ex: HttpExchange) {
        self.count(&ex);
    }
    fn exchange_boxed(&mut self, conn: &ConnContext, ex: ExchangeBox) {
        if self.boxed {
            self.count(&ex);
        } else {
            self.exchange(conn, ex.into_inner());
        }
    }
    fn closed(&mut self, _record: ConnectionRecord) {}
}

/// The protocol layer allocates nothing per ok exchange: the header block's buffer becomes the
/// message's header text (its lines read again from it when iterated), and when the exchange
/// is dropped that buffer goes back to the parsers (`protocol/recycle.rs`); the exchange's box
/// goes back too, whether the sink takes the exchange out of it or drops the box
/// (`protocol/exchange_box.rs`). A list of header spans, a `String` per header, per method or
/// per reason phrase, a box per message or exchange not given back, a queue slot per exchange
/// or a header buffer not given back would each break it.
#[test]
fn protocol_layer_allocates_nothing_per_exchange() {
    for boxed in [false, true] {
        allocations_per_exchange(boxed);
    }
}

fn allocations_per_exchange(boxed: bool) {
    const REQ: &[u8] = b"GET /api/items?page=2 HTTP/1.1\r\nHost: alb.example.com\r\nX-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Amzn-Trace-Id: Root=1-693af491-5a6814f5635754d41bcc7a78\r\nUser-Agent: curl/8.11.1\r\nAccept: */*\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 07 Dec 2026 03:00:00 GMT\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}";
    let mut tracker = ProtocolTracker::new(ProtocolConfig::default());
    let mut sink = CountingSink {
        boxed,
        ..CountingSink::default()
    };
    let conn = ConnId(1);
    tracker.handle(
        conn,
        FlowEvent::Open {
            key: key(),
            ts: ts(0),
            pos: PacketPos::default(),
            continuation: false,
            saw_syn: true,
        },
        &mut sink,
    );
    let mut offsets = [0u64; 2];
    let mut exchange = |tracker: &mut ProtocolTracker, sink: &mut CountingSink, i: u64| {
        for (dir, bytes) in [(Dir::ToServer, REQ), (Dir::ToClient, RESP)] {
            let d = dir.index();
            tracker.handle(
                conn,
                FlowEvent::Data {
                    dir,
                    ts: ts(i as i64 * 10 + d as i64),
                    pos: PacketPos {
                        file: 0,
                        number: 2 * i + d as u64 + 1,
                        offset: 0,
                    },
                    offset: offsets[d],
                    bytes,
                },
                sink,
            );
            offsets[d] += bytes.len() as u64;
        }
    };
    // Warm up: detection, the connection's state and scratch buffers.
    for i in 0..10 {
        exchange(&mut tracker, &mut sink, i);
    }
    const N: u64 = 1_000;
    let before = allocations();
    for i in 10..10 + N {
        exchange(&mut tracker, &mut sink, i);
    }
    let allocs = allocations() - before;
    assert_eq!(sink.ok, 10 + N);
    assert_eq!(sink.header_lines as u64, (10 + N) * 12);
    // A handful are allowed (a scratch vector growing once), never one per exchange.
    assert!(
        allocs <= 4,
        "{allocs} allocations for {N} keep-alive exchanges (none each is allowed; boxed sink: {boxed})"
    );
}

/// A capture of `requests` plain ok requests over 15 s through one ALB node (both legs
/// mirrored), spread evenly over four keep-alive client connections opened at the start and
/// their back-end connections (one per client connection in flight, reused): the connections
/// and the capture's length are the same whatever the number of requests, so two captures
/// differ only by requests.
fn ok_requests_capture(requests: u64) -> Vec<u8> {
    use albscope_synth::alb::{Outcome, Req, Resp, Target, World, WorldCfg, EPOCH};
    use albscope_synth::http::ServerKind;
    use albscope_synth::tcp::{MS, SEC};
    const LENGTH: u64 = 15 * SEC;
    let mut w = World::new(WorldCfg::default());
    let node = w.add_node([10, 0, 1, 25], 1001);
    let target = w.add_target(Target::new(
        "10.0.2.15:80".parse().expect("addr"),
        ServerKind::Nginx,
    ));
    let fronts: Vec<usize> = (0..4u8)
        .map(|i| w.open(std::net::IpAddr::from([198, 51, 100, 7 + i]), node, EPOCH))
        .collect();
    let body = vec![b'x'; 300];
    for i in 0..requests {
        let f = fronts[(i % 4) as usize];
        let t = EPOCH + 10 * MS + i * LENGTH / requests;
        let path = ["/", "/api/items?page=2", "/static/app.js"][(i % 3) as usize];
        w.request(
            f,
            t,
            &Req::get(path),
            target,
            Outcome::Respond(Resp::new(200, &body)),
        );
    }
    w.finish(EPOCH + LENGTH + 200 * MS);
    w.to_pcap()
}

/// Allocations of analysing `capture` on this thread (one thread: every layer runs here), and
/// the number of ok requests it found.
fn allocations_analysing(capture: Vec<u8>) -> (u64, u64) {
    use albscope::alb::AlbConfig;
    use albscope::diagnose::analyze_capture;
    use albscope::pipeline::PipelineConfig;
    let mut reader = CaptureReader::from_reader("ok.pcap", Box::new(Cursor::new(capture))).unwrap();
    let before = allocations();
    let a = analyze_capture(
        &mut reader,
        &PipelineConfig::default(),
        AlbConfig::default(),
        false,
    );
    let allocs = allocations() - before;
    (allocs, a.summary.ok)
}

/// From the protocol layer's exchange to the diagnosis' tally, a plain ok request allocates no
/// box or buffer of its own in the steady state: its legs' boxes (`alb::LegBox`) and its
/// exchanges' boxes and header buffers are recycled. Two captures of the same connections and
/// length (so the same pairing batches) differ by 1,500 requests: their analyses' allocations
/// may differ by a fraction of that (vectors and maps growing once more; about 0.17 a request
/// when this test was written), never by one or more a request: a leg box not recycled adds
/// two. (A first analysis of the busier capture warms the thread's recycled boxes and buffers
/// up to its requests in flight.)
#[test]
fn analysis_allocates_nothing_per_ok_request() {
    const FEW: u64 = 1_500;
    const MANY: u64 = 3_000;
    let many = ok_requests_capture(MANY);
    allocations_analysing(many.clone());
    let (few_allocs, few_ok) = allocations_analysing(ok_requests_capture(FEW));
    let (many_allocs, many_ok) = allocations_analysing(many);
    assert_eq!((few_ok, many_ok), (FEW, MANY));
    let extra = many_allocs.saturating_sub(few_allocs);
    let per_request = extra as f64 / (MANY - FEW) as f64;
    eprintln!(
        "analysis: {few_allocs} allocations for {FEW} ok requests, {many_allocs} for {MANY}: \
         {per_request:.3} a request"
    );
    assert!(
        per_request < 0.5,
        "{extra} more allocations for {} more ok requests ({per_request:.3} a request; none is \
         allowed)",
        MANY - FEW
    );
}
