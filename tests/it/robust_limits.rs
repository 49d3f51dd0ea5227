//! Limits and damage inside the traffic are counted and reported, never silent: conflicting
//! retransmissions keep the first bytes and are flagged, bad checksums are counted and the packets
//! kept, mirror truncation shows as gaps (not errors), and table/header caps reach `RunStats`.

use albscope::capture::{CaptureReader, Timestamp};
use albscope::flow::{ConnId, ConnSummary, Dir, FlowEvent, FlowSink, TcpEventKind};
use albscope::pipeline::{run_app, run_flows, Clock, PipelineConfig, RunStats};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange, ResponseErrorKind};
use albscope_synth::frame::{ethernet, ip_tcp, mac_for, sa4, TcpFlags, TcpSegment};
use albscope_synth::pcap::PcapWriter;
use std::net::SocketAddr;
use std::path::PathBuf;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(format!("{name}.pcap"))
}

/// Collects the stream bytes of each direction and the closed summaries.
#[derive(Default)]
struct Streams {
    bytes: [Vec<u8>; 2],
    closed: Vec<ConnSummary>,
}

impl FlowSink for Streams {
    fn on_flow_event(&mut self, _: ConnId, event: FlowEvent<'_>) {
        match event {
            FlowEvent::Data { dir, bytes, .. } => self.bytes[dir.index()].extend_from_slice(bytes),
            FlowEvent::Close(s) => self.closed.push(*s),
            _ => {}
        }
    }
}

#[derive(Default)]
struct Apps {
    exchanges: Vec<HttpExchange>,
    records: Vec<ConnectionRecord>,
}

impl AppSink for Apps {
    fn exchange(&mut self, _: &ConnContext, e: HttpExchange) {
        self.exchanges.push(e);
    }
    fn closed(&mut self, r: ConnectionRecord) {
        self.records.push(r);
    }
}

impl Clock for Apps {
    fn tick(&mut self, _: Timestamp) {}
}

fn flows_of(data: Vec<u8>, config: &PipelineConfig) -> (Streams, RunStats) {
    let mut reader = CaptureReader::from_reader("mem", Box::new(std::io::Cursor::new(data)))
        .expect("capture opens");
    let mut sink = Streams::default();
    let stats = run_flows(&mut reader, config, &mut sink);
    (sink, stats)
}

fn app_of(path: &PathBuf, config: &PipelineConfig) -> (Apps, RunStats) {
    let mut reader = CaptureReader::open(&[path]).expect("sample opens");
    let mut sink = Apps::default();
    let stats = run_app(&mut reader, config, &mut sink);
    (sink, stats)
}

/// A hand-built direct (no tunnel) connection: each entry is (dir, seq offset, flags, payload).
fn capture(segments: &[(usize, u32, TcpFlags, &[u8])], corrupt: Option<usize>) -> Vec<u8> {
    let c: SocketAddr = sa4([10, 0, 0, 1], 40000);
    let s: SocketAddr = sa4([10, 0, 0, 2], 80);
    let isn = [1000u32, 9000];
    let mut w = PcapWriter::ethernet(Vec::new()).expect("pcap writer");
    for (i, (dir, off, flags, payload)) in segments.iter().enumerate() {
        let (src, dst) = if *dir == 0 { (c, s) } else { (s, c) };
        let seq = isn[*dir].wrapping_add(*off);
        let ack = isn[1 - *dir].wrapping_add(1);
        let mut ip = ip_tcp(&TcpSegment {
            src,
            dst,
            seq,
            ack,
            flags: *flags,
            window: 1000,
            ip_id: i as u16 + 1,
            ttl: 64,
            payload,
            mss: None,
        });
        if corrupt == Some(i) {
            // Change a payload byte without fixing the TCP checksum.
            let last = ip.len() - 1;
            ip[last] ^= 0x20;
        }
        let frame = ethernet(mac_for(src.ip()), mac_for(dst.ip()), &ip);
        w.write_packet(1_000_000_000 + i as u64 * 1_000_000, &frame, frame.len())
            .expect("write");
    }
    w.into_inner().expect("pcap bytes")
}

const SYN: TcpFlags = TcpFlags {
    syn: true,
    ack: false,
    fin: false,
    rst: false,
    psh: false,
};
const SYNACK: TcpFlags = TcpFlags {
    syn: true,
    ack: true,
    fin: false,
    rst: false,
    psh: false,
};
const ACK: TcpFlags = TcpFlags {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
    psh: false,
};
const PSH: TcpFlags = TcpFlags {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
    psh: true,
};

#[test]
fn conflicting_retransmission_keeps_first_bytes_and_is_flagged() {
    let data = capture(
        &[
            (0, 0, SYN, b""),
            (1, 0, SYNACK, b""),
            (0, 1, ACK, b""),
            (0, 1, PSH, b"hello world"),
            // Retransmission of the same range, different bytes from offset 6 on.
            (0, 1, PSH, b"hello WORLD"),
            // Overlaps the end and extends it.
            (0, 9, PSH, b"LDXX!"),
        ],
        None,
    );
    let (streams, stats) = flows_of(data, &PipelineConfig::default());
    assert_eq!(streams.bytes[Dir::ToServer.index()], b"hello worldX!");
    assert!(stats.flow.conflicts >= 1, "{:?}", stats.flow);
    let conn = streams.closed.first().expect("one connection");
    let conflicts: Vec<u64> = conn
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TcpEventKind::Conflict { offset } => Some(offset),
            _ => None,
        })
        .collect();
    assert_eq!(conflicts.first(), Some(&6), "{:?}", conn.events);
    assert!(
        conflicts.contains(&8),
        "the second overlap differs at offset 8 ('r' vs 'L'): {conflicts:?}"
    );
}

#[test]
fn bad_checksum_is_counted_and_the_packet_kept() {
    let data = capture(
        &[
            (0, 0, SYN, b""),
            (1, 0, SYNACK, b""),
            (0, 1, ACK, b""),
            (0, 1, PSH, b"GET / HTTP/1.1\r\n\r\n"),
        ],
        Some(3),
    );
    let (streams, stats) = flows_of(data, &PipelineConfig::default());
    assert_eq!(stats.decode.bad_checksum, 1, "{:?}", stats.decode);
    assert_eq!(stats.decode.malformed, 0);
    // The corrupted byte is the last one ('\n' ^ 0x20 = '*'): kept as captured.
    assert_eq!(streams.bytes[0], b"GET / HTTP/1.1\r\n\r*");
}

#[test]
fn mirror_truncation_is_counted_as_gaps_not_errors() {
    let (apps, stats) = app_of(&sample("mirror-truncated"), &PipelineConfig::default());
    assert!(stats.problems.is_empty(), "{:?}", stats.problems);
    assert!(stats.decode.truncated > 0, "{:?}", stats.decode);
    assert_eq!(stats.decode.malformed, 0, "{:?}", stats.decode);
    assert_eq!(
        stats.decode.bad_checksum, 0,
        "truncated packets cannot be checked"
    );
    assert!(stats.flow.truncated_segments > 0, "{:?}", stats.flow);
    assert!(
        stats.flow.gaps > 0 && stats.flow.gap_bytes > 0,
        "{:?}",
        stats.flow
    );
    let gap_bytes: u64 = apps
        .records
        .iter()
        .flat_map(|r| r.tcp.dirs.iter())
        .map(|d| d.gap_bytes)
        .sum();
    assert_eq!(gap_bytes, stats.flow.gap_bytes);
    // The traffic is still read: requests parsed, responses found.
    assert!(stats.protocol.requests >= 7, "{:?}", stats.protocol);
}

#[test]
fn a_full_connection_table_evicts_and_says_so() {
    let mut config = PipelineConfig::default();
    config.flow.max_connections = 2;
    let (apps, stats) = app_of(&sample("mixed"), &config);
    let (_, full) = app_of(&sample("mixed"), &PipelineConfig::default());
    assert!(stats.flow.evicted > 0, "{:?}", stats.flow);
    assert!(stats.flow.peak_open <= 2, "{:?}", stats.flow);
    assert_eq!(full.flow.evicted, 0);
    // Every connection is still handed downstream, the evicted ones marked as such; one seen
    // again after its eviction is followed on as a continuation, not counted again.
    let continuations = apps.records.iter().filter(|r| r.tcp.continuation).count() as u64;
    assert_eq!(continuations, stats.flow.continuations);
    assert_eq!(stats.protocol.connections, stats.flow.connections);
    assert_eq!(stats.protocol.continuations, stats.flow.continuations);
    assert_eq!(
        apps.records.len() as u64,
        stats.flow.connections + stats.flow.continuations
    );
    assert!(stats.flow.connections <= full.flow.connections);
    let evicted = apps
        .records
        .iter()
        .filter(|r| r.tcp.close_reason == albscope::flow::CloseReason::Evicted)
        .filter(|r| !r.tcp.continuation)
        .count() as u64;
    assert_eq!(evicted, stats.flow.evicted);
}

#[test]
fn header_caps_are_reported() {
    let (apps, stats) = app_of(
        &sample("response_header_too_large"),
        &PipelineConfig::default(),
    );
    assert!(stats.protocol.response_errors > 0, "{:?}", stats.protocol);
    let too_large = apps
        .exchanges
        .iter()
        .chain(apps.records.iter().flat_map(|r| r.unfinished.iter()))
        .filter_map(|e| e.response_error.as_ref())
        .any(|e| e.kind == ResponseErrorKind::HeaderTooLarge);
    assert!(too_large, "no HeaderTooLarge response error");

    let mut small = PipelineConfig::default();
    small.protocol.max_request_header_bytes = 64;
    let (_, stats) = app_of(&sample("healthy"), &small);
    assert!(stats.protocol.requests_dropped > 0, "{:?}", stats.protocol);
}
