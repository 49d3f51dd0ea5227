//! Fuzz entry points, shared by the cargo-fuzz targets in `fuzz/fuzz_targets/` and by
//! `tests/robust_fuzz_corpus.rs` (which replays the committed corpora with plain `cargo test`).
//!
//! It sits above every layer (it drives them all) and is `#[doc(hidden)]`: not part of the API.
//!
//! Each function takes arbitrary bytes, drives one layer (or the whole pipeline) with them and
//! asserts the invariants that must hold on *any* input. A panic here is a bug: either in the
//! layer (no input may make it panic) or in the invariant.

use albscope::accesslog::{explain, parse_line, LogReader, LogRecord};
use albscope::alb::AlbConfig;
use albscope::capture::{CaptureReader, LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{
    supported_link_types, Decoded, Decoder, MirrorSession, TcpFlags, TcpSegment, Transport,
};
use albscope::diagnose::{analyze_capture_with_log, Keep};
use albscope::flow::{
    ConnId, ConnKey, Dir, Endpoint, FlowConfig, FlowEvent, FlowSink, FlowTracker,
};
use albscope::pipeline::{run_app, Clock, PipelineConfig};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange, ProtocolTracker};
use albscope::report::{write_json, write_ndjson, write_text, TextOptions};
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// Largest captured frame the capture layer may hand out (its buffer cap).
const MAX_FRAME: usize = 16 << 20;

/// Feeds arbitrary bytes (plain or gzip, pcap or pcapng or anything) through the capture reader
/// and drains every packet: packets are numbered 1, 2, 3 ..., never longer than on the wire nor
/// than the buffer cap, and the summary agrees with what was yielded.
pub fn capture_reader(data: &[u8]) {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut reader) = CaptureReader::from_reader("fuzz", input) else {
        return;
    };
    let mut last_number = 0;
    while let Some(packet) = reader.next_packet() {
        assert!(packet.orig_len as usize >= packet.data.len());
        assert!(packet.data.len() <= MAX_FRAME);
        assert_eq!(packet.pos.number, last_number + 1);
        last_number = packet.pos.number;
    }
    let summaries = reader.summaries();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].packets, last_number);
    assert!(reader.problems().len() <= 1);
    assert_eq!(summaries[0].damage.is_some(), !reader.problems().is_empty());
}

/// Decodes arbitrary bytes under an arbitrary link type: the first byte picks the link type (one
/// of the supported ones, or an unsupported one), the second how much the capture "cut".
pub fn decode_packet(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, frame)) = rest.split_first() else {
        return;
    };
    let links = supported_link_types();
    let link = links
        .get(usize::from(pick) % (links.len() + 1))
        .map_or(u32::from(pick) + 1000, |(n, _)| *n);
    let mut decoder = Decoder::default();
    let packet = PacketRef {
        pos: PacketPos::default(),
        ts: Timestamp::default(),
        link: LinkType(link),
        orig_len: u32::try_from(frame.len())
            .unwrap_or(u32::MAX)
            .saturating_add(u32::from(cut)),
        data: frame,
    };
    // Feed it twice so a fragment can meet itself in the reassembly table.
    for _ in 0..2 {
        let _ = decoder.decode(&packet);
    }
}

/// Feeds arbitrary bytes, split into both directions (with gaps, FIN and RST), to the protocol
/// tracker after an HTTP request start (or, when the first byte is odd, from nothing: detection
/// and the mid-stream search for HTTP).
pub fn http_stream(data: &[u8]) {
    match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => drive_protocol(b"", rest),
        _ => drive_protocol(b"GET / HTTP/1.1\r\n", data),
    }
}

/// The HTTP/2 client connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Feeds arbitrary bytes to the HTTP/2 parser of the protocol tracker, after the client
/// preface. First byte odd: the rest is cut into both directions (with gaps, FIN and RST);
/// even: the rest is the client's frames whole, then the same bytes as the server's (so that
/// frames and HPACK blocks the fuzzer builds reach both sides' decoders unsplit).
pub fn http2_frames(data: &[u8]) {
    match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => drive_protocol(H2_PREFACE, rest),
        Some((_, rest)) => {
            let mut script = Vec::with_capacity(rest.len() * 2 + 64);
            for (dir, chunk) in [(0u8, rest), (1u8, rest)] {
                for piece in chunk.chunks(32) {
                    // Control byte: a data piece of `piece.len()` bytes in direction `dir`.
                    script.push(dir | (((piece.len() - 1) as u8) << 3));
                    script.extend_from_slice(piece);
                }
            }
            drive_protocol(H2_PREFACE, &script);
        }
        None => {}
    }
}

/// Feeds arbitrary bytes, split into both directions (with gaps, FIN and RST), to the protocol
/// tracker after a TLS handshake record header, so the TLS reader sees them.
pub fn tls_stream(data: &[u8]) {
    drive_protocol(&[0x16, 0x03, 0x01], data);
}

/// Drives the TLS decryptor with a whole session of real protected records (suite, record
/// size and the response's length chosen by the first bytes), cut into segments, gaps and
/// flipped bytes as the rest of the bytes say. Undamaged, the exchange must come out decrypted.
pub fn tls_decrypt(data: &[u8]) {
    use crate::tls_sessions::{drive, tls_streams, Cut, SUITES};
    let (head, script) = data.split_at(data.len().min(3));
    let pick = |i: usize| head.get(i).copied().unwrap_or(0);
    let suite = SUITES[usize::from(pick(0)) % SUITES.len()];
    let record = 16 + usize::from(pick(1)) * 8;
    let body = usize::from(pick(2)) * 7;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n{}",
        "b".repeat(body)
    );
    let exchanges = [(
        b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        response.into_bytes(),
    )];
    let Some(streams) = tls_streams(suite, pick(0), &exchanges, record) else {
        return;
    };
    let cuts: Vec<Cut> = script
        .iter()
        .map(|b| match b & 3 {
            0 | 1 => Cut::Segments(usize::from(b >> 2) * 11 + 1),
            2 => Cut::Gap(usize::from(b >> 2) * 9 + 1),
            _ => Cut::Flip,
        })
        .collect();
    let driven = drive(&streams, &streams.keys, &cuts);
    let record = driven.record.as_ref();
    assert!(record.is_some(), "the connection closed");
    let damaged = cuts.iter().any(|c| !matches!(c, Cut::Segments(_)));
    if !damaged {
        assert_eq!(driven.statuses, vec![200], "{suite:#06x}");
        assert_eq!(driven.decrypted_exchanges, 1);
    }
}

/// Fuzzes the access-log parser, the explanation, and the streaming reader (gzip detection and
/// line splitting included) with arbitrary bytes.
pub fn access_log(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(entry) = parse_line(&text) {
        let _ = explain(&entry);
    }
    let reader = LogReader::from_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())));
    for rec in reader {
        if let LogRecord::Entry { entry, .. } = rec {
            let _ = explain(&entry);
        }
    }
}

/// Turns the bytes into a sequence of synthetic TCP segments on a few connections (overlapping,
/// out of order, conflicting, with SYN/FIN/RST, truncated payloads and time jumps) and feeds
/// them to a [`FlowTracker`] with small limits. Checks, per connection and direction: every
/// `Data`/`Gap` starts where the previous one ended (contiguous offsets from 0), a connection
/// opens once before any event and closes once after all of them, and at the close delivered
/// plus gap bytes equal the span of the stream the summary reports.
pub fn tcp_reassembly(data: &[u8]) {
    let Some((&cfg, mut rest)) = data.split_first() else {
        return;
    };
    let config = FlowConfig {
        max_connections: 1 + usize::from(cfg & 3),
        max_buffered_bytes: 64 << (cfg >> 2 & 3),
        max_events: 8,
        conflict_window: 32 << (cfg >> 4 & 3),
        ..FlowConfig::default()
    };
    let mut tracker = FlowTracker::new(config);
    let mut check = StreamChecker::default();
    let mut now: i64 = 1_000_000_000;
    let mut number = 0u64;
    // Each segment: [ctl, seq_lo, len, ...payload]; ctl bits: 0 dir, 1-2 conn, 3 SYN, 4 FIN,
    // 5 RST, 6 ACK (ack = peer's seq so far), 7 time jump.
    let mut acked = [[0u32; 2]; 4];
    while let [ctl, seq_lo, len, tail @ ..] = rest {
        let (ctl, seq_lo, len) = (*ctl, *seq_lo, *len);
        let n = usize::from(len & 0x3f).min(tail.len());
        let (payload, after) = tail.split_at(n);
        rest = after;
        number += 1;
        now += if ctl & 0x80 != 0 {
            i64::from(len) * 30_000_000_000
        } else {
            1_000_000
        };
        let conn = usize::from(ctl >> 1 & 3);
        let to_server = ctl & 1 == 0;
        let client = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port: 40_000 + conn as u16,
        };
        let server = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            port: 80,
        };
        let (src, dst) = if to_server {
            (client, server)
        } else {
            (server, client)
        };
        // Sequence numbers near the wrap so unwrapping is exercised.
        let isn = if to_server {
            0xffff_ff00u32
        } else {
            0x7fff_fff0
        };
        let seq = isn.wrapping_add(u32::from(seq_lo));
        let side = usize::from(!to_server);
        let peer_seq = acked
            .get(conn)
            .and_then(|a| a.get(1 - side))
            .copied()
            .unwrap_or(0);
        let flags = TcpFlags {
            syn: ctl & 0x08 != 0,
            ack: ctl & 0x40 != 0,
            fin: ctl & 0x10 != 0,
            rst: ctl & 0x20 != 0,
            psh: n > 0,
        };
        if let Some(a) = acked.get_mut(conn).and_then(|a| a.get_mut(side)) {
            *a = (*a).max(seq.wrapping_add(n as u32));
        }
        let missing = if len & 0x40 != 0 {
            u32::from(len >> 4)
        } else {
            0
        };
        let segment = TcpSegment {
            src_port: src.port,
            dst_port: dst.port,
            seq,
            ack: peer_seq,
            flags,
            window: 1024,
            payload: Cow::Borrowed(payload),
            missing_payload: missing,
            checksum_ok: None,
        };
        let decoded = Decoded {
            session: MirrorSession::DIRECT,
            src: src.ip,
            dst: dst.ip,
            ip_id: Some(seq_lo.into()),
            ip_len: 40 + n as u32 + missing,
            transport: Transport::Tcp(segment),
        };
        let frame = [0u8; 0];
        let packet = PacketRef {
            pos: PacketPos {
                file: 0,
                number,
                offset: number * 100,
            },
            ts: Timestamp(now),
            link: LinkType::RAW,
            orig_len: 54 + n as u32,
            data: &frame,
        };
        tracker.process(&packet, &decoded, &mut check);
    }
    tracker.finish(&mut check);
    assert_eq!(tracker.open_connections(), 0);
    assert!(check.open.is_empty(), "connections never closed");
    let stats = tracker.stats();
    // An evicted connection seen again is closed once more as a continuation, counted once.
    assert_eq!(stats.connections + stats.continuations, check.closed);
}

/// Checks the flow-event invariants of [`tcp_reassembly`].
#[derive(Default)]
struct StreamChecker {
    /// Next expected stream offset per direction and bytes delivered/declared missing.
    open: HashMap<ConnId, [StreamCount; 2]>,
    closed: u64,
}

#[derive(Copy, Clone, Default)]
struct StreamCount {
    next: u64,
    data: u64,
    gaps: u64,
}

impl FlowSink for StreamChecker {
    fn on_flow_event(&mut self, conn: ConnId, event: FlowEvent<'_>) {
        match event {
            FlowEvent::Open { .. } => {
                assert!(self.open.insert(conn, Default::default()).is_none());
            }
            FlowEvent::Data {
                dir, offset, bytes, ..
            } => {
                let s = self.side(conn, dir);
                assert_eq!(offset, s.next, "data not contiguous");
                assert!(!bytes.is_empty(), "empty data event");
                s.next += bytes.len() as u64;
                s.data += bytes.len() as u64;
            }
            FlowEvent::Gap {
                dir, offset, len, ..
            } => {
                let s = self.side(conn, dir);
                assert_eq!(offset, s.next, "gap not contiguous");
                s.next += len;
                s.gaps += len;
            }
            FlowEvent::Fin { dir, .. } | FlowEvent::Rst { dir, .. } => {
                let _ = self.side(conn, dir);
            }
            FlowEvent::Close(summary) => {
                let sides = self
                    .open
                    .remove(&conn)
                    .expect("close of a connection not open");
                self.closed += 1;
                for (s, d) in sides.iter().zip(summary.dirs.iter()) {
                    assert_eq!(s.data, d.payload_bytes, "delivered bytes vs summary");
                    assert_eq!(s.gaps, d.gap_bytes, "gap bytes vs summary");
                    assert_eq!(s.data + s.gaps, s.next, "data + gaps != span");
                }
            }
        }
    }
}

impl StreamChecker {
    fn side(&mut self, conn: ConnId, dir: Dir) -> &mut StreamCount {
        let sides = self
            .open
            .get_mut(&conn)
            .expect("event for a connection not open");
        &mut sides[dir.index()]
    }
}

/// Reads the bytes as a capture file and runs the whole pipeline twice: capture -> decode ->
/// flow -> protocol with a sink that checks each connection is closed exactly once, then the
/// full analysis (ALB pairing and diagnosis) rendered as text, JSON and NDJSON.
pub fn pipeline(data: &[u8]) {
    let open = || CaptureReader::from_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())));
    let Ok(mut reader) = open() else {
        return;
    };
    let mut sink = CountingApp::default();
    let stats = run_app(&mut reader, &PipelineConfig::default(), &mut sink);
    assert_eq!(stats.protocol.connections, sink.closed);
    assert_eq!(stats.flow.connections, sink.closed);
    assert_eq!(stats.inputs.len(), 1);
    assert_eq!(stats.inputs[0].packets, stats.packets);
    assert!(stats.problems.len() <= 1);

    let Ok(mut reader) = open() else {
        panic!("the capture opened once but not twice");
    };
    // One input in three runs under tiny ALB-layer limits (decided by the length, so every
    // input keeps its meaning): legs are paired early and few requests are kept in full.
    let tight = data.len() % 3 == 0;
    let alb = AlbConfig {
        max_pending_bytes: if tight {
            4 << 10
        } else {
            AlbConfig::default().max_pending_bytes
        },
        ..AlbConfig::default()
    };
    let keep = Keep {
        ok: true,
        max_requests: if tight {
            2
        } else {
            Keep::new(true).max_requests
        },
    };
    let analysis =
        analyze_capture_with_log(&mut reader, &PipelineConfig::default(), alb, keep, None);
    assert_eq!(
        analysis.summary.requests,
        analysis.requests.len() as u64 + analysis.requests_not_kept,
        "every request is listed or counted as not kept"
    );
    assert!(analysis.alb_limits.pairing_peak_bytes > 0 || analysis.summary.requests == 0);
    assert_eq!(analysis.stats.packets, stats.packets);
    assert_eq!(analysis.stats.problems, stats.problems);
    let mut text = Vec::new();
    assert!(write_text(&analysis, &TextOptions::default(), &mut text).is_ok());
    let mut json = Vec::new();
    assert!(write_json(&analysis, &mut json).is_ok());
    assert!(
        serde_json::from_slice::<serde_json::Value>(&json).is_ok(),
        "invalid JSON report"
    );
    assert!(write_ndjson(&analysis, &mut std::io::sink()).is_ok());
}

/// An [`AppSink`] that counts what it is handed.
#[derive(Default)]
struct CountingApp {
    exchanges: u64,
    closed: u64,
}

impl AppSink for CountingApp {
    fn exchange(&mut self, _: &ConnContext, _: HttpExchange) {
        self.exchanges += 1;
    }
    fn closed(&mut self, _: ConnectionRecord) {
        self.closed += 1;
    }
}

impl Clock for CountingApp {
    fn tick(&mut self, _: Timestamp) {}
}

/// The protocol driver shared by [`http_stream`] and [`tls_stream`]: `prefix` starts the
/// client's stream, then each control byte of `data` picks a direction and one of: data (the
/// next bytes), a gap, FIN or RST.
fn drive_protocol(prefix: &[u8], data: &[u8]) {
    let ep = |o: u8, port| Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, o)),
        port,
    };
    let key = ConnKey {
        session: MirrorSession::DIRECT,
        client: ep(1, 40000),
        server: ep(2, 80),
    };
    let mut t = ProtocolTracker::default();
    let mut sink = CountingApp::default();
    let id = ConnId(1);
    let pos = PacketPos::default();
    t.handle(
        id,
        FlowEvent::Open {
            key,
            ts: Timestamp(0),
            pos,
            continuation: false,
            saw_syn: true,
        },
        &mut sink,
    );
    let mut off = [0u64; 2];
    if !prefix.is_empty() {
        t.handle(
            id,
            FlowEvent::Data {
                dir: Dir::ToServer,
                ts: Timestamp(1),
                pos,
                offset: 0,
                bytes: prefix,
            },
            &mut sink,
        );
    }
    off[0] = prefix.len() as u64;
    let mut rest = data;
    let mut now = 1;
    while let Some((&c, tail)) = rest.split_first() {
        rest = tail;
        now += 1;
        let dir = if c & 1 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let ts = Timestamp(now);
        match (c >> 1) & 3 {
            0 | 1 => {
                let n = (usize::from(c >> 3) + 1).min(rest.len());
                let (bytes, tail) = rest.split_at(n);
                rest = tail;
                let offset = off[dir.index()];
                t.handle(
                    id,
                    FlowEvent::Data {
                        dir,
                        ts,
                        pos,
                        offset,
                        bytes,
                    },
                    &mut sink,
                );
                off[dir.index()] += n as u64;
            }
            2 => {
                let len = u64::from(c >> 3) * 37 + 1;
                let offset = off[dir.index()];
                t.handle(
                    id,
                    FlowEvent::Gap {
                        dir,
                        ts,
                        offset,
                        len,
                        cause: albscope::flow::GapCause::NotCaptured,
                    },
                    &mut sink,
                );
                off[dir.index()] += len;
            }
            _ => {
                let ev = if c & 0x80 != 0 {
                    FlowEvent::Rst { dir, ts, pos }
                } else {
                    FlowEvent::Fin { dir, ts, pos }
                };
                t.handle(id, ev, &mut sink);
            }
        }
    }
    let summary = crate::tls_sessions::closed_summary(id, key, Timestamp(now + 1), pos);
    t.handle(id, FlowEvent::Close(Box::new(summary)), &mut sink);
    assert_eq!(t.open_connections(), 0);
    assert_eq!(sink.closed, 1);
    assert_eq!(t.stats().exchanges, sink.exchanges);
}
