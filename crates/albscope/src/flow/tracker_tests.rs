//! Tracker tests: packets built by hand, events recorded by a test sink.

use super::*;
use crate::capture::{LinkType, PacketPos};
use crate::decode::{Encap, TcpFlags};
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

/// An owned copy of a flow event.
#[derive(Debug, Clone)]
enum Ev {
    Open(ConnKey),
    Data {
        dir: Dir,
        offset: u64,
        bytes: Vec<u8>,
    },
    Gap {
        dir: Dir,
        offset: u64,
        len: u64,
    },
    Fin(Dir),
    Rst(Dir),
    Close(Box<ConnSummary>),
}

#[derive(Default)]
struct Rec {
    events: Vec<(ConnId, Ev)>,
}

impl FlowSink for Rec {
    fn on_flow_event(&mut self, conn: ConnId, event: FlowEvent<'_>) {
        let ev = match event {
            FlowEvent::Open { key, .. } => Ev::Open(key),
            FlowEvent::Data {
                dir, offset, bytes, ..
            } => Ev::Data {
                dir,
                offset,
                bytes: bytes.to_vec(),
            },
            FlowEvent::Gap {
                dir, offset, len, ..
            } => Ev::Gap { dir, offset, len },
            FlowEvent::Fin { dir, .. } => Ev::Fin(dir),
            FlowEvent::Rst { dir, .. } => Ev::Rst(dir),
            FlowEvent::Close(s) => Ev::Close(s),
        };
        self.events.push((conn, ev));
    }
}

impl Rec {
    /// The stream of `dir` of connection `id`: data bytes, gaps as `None`, checking contiguity.
    fn stream(&self, id: u64, dir: Dir) -> Vec<Option<u8>> {
        let mut s: Vec<Option<u8>> = Vec::new();
        for (c, e) in &self.events {
            if c.0 != id {
                continue;
            }
            match e {
                Ev::Data {
                    dir: d,
                    offset,
                    bytes,
                } if *d == dir => {
                    assert_eq!(*offset, s.len() as u64, "data contiguous");
                    s.extend(bytes.iter().map(|b| Some(*b)));
                }
                Ev::Gap {
                    dir: d,
                    offset,
                    len,
                } if *d == dir => {
                    assert_eq!(*offset, s.len() as u64, "gap contiguous");
                    s.extend(std::iter::repeat(None).take(*len as usize));
                }
                _ => {}
            }
        }
        s
    }
    /// Like `stream`, without materializing gaps: checks contiguity, returns the length.
    fn extent(&self, id: u64, dir: Dir) -> u64 {
        let mut end = 0u64;
        for (c, e) in &self.events {
            let (offset, len) = match e {
                Ev::Data {
                    dir: d,
                    offset,
                    bytes,
                } if *d == dir => (*offset, bytes.len() as u64),
                Ev::Gap {
                    dir: d,
                    offset,
                    len,
                } if *d == dir => (*offset, *len),
                _ => continue,
            };
            if c.0 == id {
                assert_eq!(offset, end, "contiguous");
                assert!(len > 0);
                end += len;
            }
        }
        end
    }
    fn text(&self, id: u64, dir: Dir) -> Vec<u8> {
        self.stream(id, dir).into_iter().flatten().collect()
    }
    fn closes(&self) -> Vec<&ConnSummary> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Ev::Close(s) => Some(&**s),
                _ => None,
            })
            .collect()
    }
    fn close_of(&self, id: u64) -> &ConnSummary {
        self.closes()
            .into_iter()
            .find(|s| s.id.0 == id)
            .expect("connection closed")
    }
    fn gaps(&self, id: u64) -> Vec<(Dir, u64, u64)> {
        self.events
            .iter()
            .filter_map(|(c, e)| match e {
                Ev::Gap { dir, offset, len } if c.0 == id => Some((*dir, *offset, *len)),
                _ => None,
            })
            .collect()
    }
    fn count(&self, pred: impl Fn(&Ev) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| pred(e)).count()
    }
}

const CLIENT: (u8, u16) = (1, 40000);
const SERVER: (u8, u16) = (2, 80);

/// Builds packets of one 4-tuple; the IP id goes up by one per packet unless set.
struct Net {
    tracker: FlowTracker,
    rec: Rec,
    number: u64,
    ip_id: u16,
    session: MirrorSession,
    client: (u8, u16),
    server: (u8, u16),
    /// Every segment goes the full way (no in-order path), to compare both.
    full_path_only: bool,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

struct P<'a> {
    from_client: bool,
    flags: &'a str,
    seq: u32,
    ack: u32,
    data: &'a [u8],
    missing: u32,
    ms: i64,
    /// Extra microseconds after `ms`.
    us: i64,
    ip_id: Option<u16>,
}

fn p<'a>(from_client: bool, flags: &'a str, seq: u32, ack: u32, data: &'a [u8], ms: i64) -> P<'a> {
    P {
        from_client,
        flags,
        seq,
        ack,
        data,
        missing: 0,
        ms,
        us: 0,
        ip_id: None,
    }
}

impl Net {
    fn new(config: FlowConfig) -> Self {
        Net {
            tracker: FlowTracker::new(config),
            rec: Rec::default(),
            number: 0,
            ip_id: 100,
            session: MirrorSession {
                encap: Encap::Vxlan,
                vni: Some(7),
                outer_src: Some(ip(99)),
            },
            client: CLIENT,
            server: SERVER,
            full_path_only: false,
        }
    }

    fn send(&mut self, pk: P<'_>) {
        let flags = TcpFlags {
            syn: pk.flags.contains('S'),
            ack: pk.flags.contains('A'),
            fin: pk.flags.contains('F'),
            rst: pk.flags.contains('R'),
            psh: pk.flags.contains('P'),
        };
        let (s, d) = if pk.from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        self.number += 1;
        let id = pk.ip_id.unwrap_or_else(|| {
            self.ip_id = self.ip_id.wrapping_add(1);
            self.ip_id
        });
        let frame = vec![0u8; 16];
        let packet = PacketRef {
            pos: PacketPos {
                file: 0,
                number: self.number,
                offset: self.number * 100,
            },
            ts: Timestamp(1_700_000_000_000_000_000 + pk.ms * 1_000_000 + pk.us * 1_000),
            link: LinkType::ETHERNET,
            orig_len: 100 + pk.data.len() as u32 + pk.missing,
            data: &frame,
        };
        let decoded = Decoded {
            session: self.session,
            src: ip(s.0),
            dst: ip(d.0),
            ip_id: Some(id),
            ip_len: 40 + pk.data.len() as u32 + pk.missing,
            transport: Transport::Tcp(TcpSegment {
                src_port: s.1,
                dst_port: d.1,
                seq: pk.seq,
                ack: pk.ack,
                flags,
                window: 1000,
                payload: Cow::Borrowed(pk.data),
                missing_payload: pk.missing,
                checksum_ok: None,
            }),
        };
        crate::flow::segment::tests_switch::FULL_PATH_ONLY.with(|f| f.set(self.full_path_only));
        self.tracker.process(&packet, &decoded, &mut self.rec);
        crate::flow::segment::tests_switch::FULL_PATH_ONLY.with(|f| f.set(false));
    }

    fn icmp(&mut self, quoted_from_client: bool, ms: i64, session: MirrorSession) {
        let (s, d) = if quoted_from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        self.number += 1;
        let frame = vec![0u8; 16];
        let packet = PacketRef {
            pos: PacketPos {
                file: 0,
                number: self.number,
                offset: 0,
            },
            ts: Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000),
            link: LinkType::ETHERNET,
            orig_len: 70,
            data: &frame,
        };
        let decoded = Decoded {
            session,
            src: ip(50),
            dst: ip(s.0),
            ip_id: Some(1),
            ip_len: 56,
            transport: Transport::IcmpError(IcmpError {
                v6: false,
                icmp_type: 3,
                code: 1,
                description: "destination unreachable: host unreachable".into(),
                quoted_src: ip(s.0),
                quoted_dst: ip(d.0),
                quoted_src_port: s.1,
                quoted_dst_port: d.1,
                quoted_seq: Some(1000),
            }),
        };
        self.tracker.process(&packet, &decoded, &mut self.rec);
    }

    fn finish(&mut self) {
        self.tracker.finish(&mut self.rec);
    }

    /// SYN (ISN 1000), SYN-ACK (ISN 5000), ACK at time `ms`.
    fn handshake(&mut self, ms: i64) {
        self.send(p(true, "S", 1000, 0, b"", ms));
        self.send(p(false, "SA", 5000, 1001, b"", ms + 1));
        self.send(p(true, "A", 1001, 5001, b"", ms + 2));
    }
}

fn net() -> Net {
    Net::new(FlowConfig::default())
}

#[test]
fn sf_full_connection() {
    let mut n = net();
    n.handshake(0);
    n.send(p(true, "PA", 1001, 5001, b"GET / HTTP/1.1\r\n\r\n", 3));
    n.send(p(false, "A", 5001, 1019, b"", 4));
    n.send(p(false, "PA", 5001, 1019, b"HTTP/1.1 200 OK\r\n\r\n", 5));
    n.send(p(true, "FA", 1019, 5020, b"", 6));
    n.send(p(false, "FA", 5020, 1020, b"", 7));
    n.send(p(true, "A", 1020, 5021, b"", 8));
    // The summary waits for the close grace; a packet of another connection later closes it.
    assert!(n.rec.closes().is_empty());
    n.client = (3, 40001);
    n.send(p(true, "S", 1, 0, b"", 5000));
    let s = n.rec.close_of(0).clone();
    assert_eq!(s.state, "SF");
    assert_eq!(s.history, "ShADadFf");
    assert_eq!(s.close_reason, CloseReason::Closed);
    assert!(s.saw_syn);
    assert_eq!(s.key.client.port, 40000);
    assert_eq!(s.dirs[0].packets, 5);
    assert_eq!(s.dirs[1].packets, 4);
    assert_eq!(s.dirs[0].payload_bytes, 18);
    assert_eq!(s.dirs[0].wire_bytes, 5 * 40 + 18);
    assert_eq!(s.dirs[0].frame_bytes, 5 * 100 + 18);
    assert_eq!(n.rec.text(0, Dir::ToServer), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(n.rec.text(0, Dir::ToClient), b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(n.rec.count(|e| matches!(e, Ev::Fin(_))), 2);
    // Order for connection 0: Open first, Close last, FINs after the data.
    let evs: Vec<&Ev> = n
        .rec
        .events
        .iter()
        .filter(|(c, _)| c.0 == 0)
        .map(|(_, e)| e)
        .collect();
    assert!(
        matches!(evs.first(), Some(Ev::Open(k)) if k.client.port == 40000 && k.server.port == 80)
    );
    assert!(matches!(evs.last(), Some(Ev::Close(_))));
    let fin_server = evs.iter().position(|e| matches!(e, Ev::Fin(Dir::ToClient)));
    let last_data = evs.iter().rposition(|e| {
        matches!(
            e,
            Ev::Data {
                dir: Dir::ToClient,
                ..
            }
        )
    });
    assert!(fin_server > last_data);
    assert_eq!(n.tracker.stats().closed, 1);
}

#[test]
fn s0_with_syn_retransmissions_then_half_open_expiry() {
    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    n.send(p(true, "S", 1000, 0, b"", 1000));
    n.send(p(true, "S", 1000, 0, b"", 3000));
    assert_eq!(n.tracker.open_connections(), 1);
    // Another connection 119 s after the last SYN: not yet expired (120 s).
    n.client = (3, 40001);
    n.handshake(122_000);
    assert!(n.rec.closes().is_empty());
    n.send(p(true, "A", 1001, 5001, b"", 124_000));
    let s = n.rec.close_of(0);
    assert_eq!(s.close_reason, CloseReason::Expired);
    assert_eq!(s.state, "S0");
    assert_eq!(s.history, "S");
    let syns: Vec<bool> = s
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TcpEventKind::Syn { retransmission } => Some(retransmission),
            _ => None,
        })
        .collect();
    assert_eq!(syns, vec![false, true, true]);
    assert_eq!(s.dirs[0].packets, 3);
    assert_eq!(
        s.dirs[0].retransmissions, 0,
        "SYN retransmissions are not data ones"
    );
    assert_eq!(n.tracker.stats().expired, 1);
    // The established connection is not half-open: it outlives the half-open expiry.
    n.send(p(true, "A", 1001, 5001, b"", 300_000));
    assert_eq!(n.rec.closes().len(), 1);
}

#[test]
fn rej_syn_answered_by_rst() {
    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    n.send(p(false, "RA", 0, 1001, b"", 1));
    assert_eq!(n.rec.count(|e| matches!(e, Ev::Rst(Dir::ToClient))), 1);
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!(s.state, "REJ");
    assert_eq!(s.history, "Sr");
    assert_eq!(s.close_reason, CloseReason::Closed);
}

#[test]
fn rsto_and_rstr() {
    for (from_client, want, hist) in [(true, "RSTO", "ShADR"), (false, "RSTR", "ShADr")] {
        let mut n = net();
        n.handshake(0);
        n.send(p(true, "PA", 1001, 5001, b"abc", 3));
        let (seq, ack) = if from_client {
            (1004, 5001)
        } else {
            (5001, 1004)
        };
        n.send(p(from_client, "RA", seq, ack, b"", 4));
        n.finish();
        let s = n.rec.close_of(0);
        assert_eq!(s.state, want);
        assert_eq!(s.history, hist);
        assert!(s.first_event(|e| e.kind == TcpEventKind::Rst).is_some());
    }
}

#[test]
fn rstos0_and_sh() {
    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    n.send(p(true, "R", 1001, 0, b"", 1));
    n.finish();
    assert_eq!(n.rec.close_of(0).state, "RSTOS0");

    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    n.send(p(true, "F", 1001, 0, b"", 1));
    n.finish();
    assert_eq!(n.rec.close_of(0).state, "SH");
}

#[test]
fn dropped_segment_acked_later_becomes_gap() {
    let mut n = net();
    n.handshake(0);
    n.send(p(false, "PA", 5001, 1001, b"aaaa", 3));
    // 5005..5009 "bbbb" was not captured.
    n.send(p(false, "PA", 5009, 1001, b"cccc", 5));
    assert_eq!(n.rec.text(0, Dir::ToClient), b"aaaa", "waits for the hole");
    n.send(p(true, "A", 1001, 5013, b"", 6));
    assert!(n.rec.gaps(0).is_empty(), "held for the reorder window");
    // Past the window (10 ms after the ACK) the hole is a gap; data after it keeps flowing.
    n.send(p(false, "PA", 5013, 1001, b"dd", 17));
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 4, 4)]);
    assert_eq!(n.rec.stream(0, Dir::ToClient).len(), 14);
    assert_eq!(n.rec.text(0, Dir::ToClient), b"aaaaccccdd");
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!(s.dirs[1].gaps, 1);
    assert_eq!(s.dirs[1].gap_bytes, 4);
    assert_eq!(s.dirs[1].payload_bytes, 10);
    assert!(s.history.contains('g'));
    assert!(s
        .events
        .iter()
        .any(|e| e.kind == TcpEventKind::Gap { offset: 4, len: 4 } && e.dir == Dir::ToClient));
}

#[test]
fn fin_after_hole_declares_gap_then_fin() {
    let mut n = net();
    n.handshake(0);
    n.send(p(false, "PA", 5001, 1001, b"aaaa", 3));
    // "bbbb" (5005..5009) was not captured; the FIN at 5009 says it was sent.
    n.send(p(false, "FA", 5009, 1001, b"", 4));
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 4, 4)]);
    let evs: Vec<&Ev> = n.rec.events.iter().map(|(_, e)| e).collect();
    let gap = evs.iter().position(|e| matches!(e, Ev::Gap { .. }));
    let fin = evs.iter().position(|e| matches!(e, Ev::Fin(Dir::ToClient)));
    assert!(gap.is_some() && fin > gap, "gap, then FIN");
    // The ACK of the FIN changes nothing.
    n.send(p(true, "A", 1001, 5010, b"", 5));
    assert_eq!(n.rec.gaps(0).len(), 1);
    assert_eq!(n.rec.count(|e| matches!(e, Ev::Fin(_))), 1);
}

#[test]
fn tail_loss_without_fin_is_declared_when_acked() {
    let mut n = net();
    n.handshake(0);
    n.send(p(false, "PA", 5001, 1001, b"aaaa", 3));
    // "bbbb" lost at the tail: only the client's ACK tells.
    n.send(p(true, "A", 1001, 5009, b"", 4));
    assert!(n.rec.gaps(0).is_empty(), "held for the reorder window");
    n.send(p(false, "PA", 5009, 1001, b"cc", 15));
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 4, 4)]);
    assert_eq!(n.rec.text(0, Dir::ToClient), b"aaaacc");
}

#[test]
fn an_ack_one_past_the_data_is_a_lost_fin_not_a_lost_byte() {
    let mut n = net();
    n.handshake(0);
    n.send(p(false, "PA", 5001, 1001, b"aaaa", 3));
    // The server's FIN (sequence 5005) was not mirrored; the client ACKs it.
    n.send(p(true, "A", 1001, 5006, b"", 4));
    assert!(n.rec.gaps(0).is_empty(), "a FIN is no byte of the stream");
    n.send(p(true, "FA", 1001, 5006, b"", 5));
    n.finish();
    assert!(n.rec.gaps(0).is_empty());
    assert_eq!(n.rec.text(0, Dir::ToClient), b"aaaa");
    // Were it a lost byte, the data after it still shows the hole.
    let mut n = net();
    n.handshake(0);
    n.send(p(false, "PA", 5001, 1001, b"aaaa", 3));
    n.send(p(true, "A", 1001, 5006, b"", 4));
    n.send(p(false, "PA", 5006, 1001, b"cc", 5));
    n.send(p(true, "A", 1001, 5008, b"", 6));
    n.finish();
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 4, 1)]);
    assert_eq!(n.rec.text(0, Dir::ToClient), b"aaaacc");
}

#[test]
fn a_lost_syn_ack_is_read_from_the_handshake_ack() {
    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    // The SYN-ACK (ISN 5000) was not captured; the client's ACK of it was.
    n.send(p(true, "A", 1001, 5001, b"", 1));
    n.send(p(true, "PA", 1001, 5001, b"GET", 2));
    // The server's answer (5001..5005) was not captured either: the client's FIN ACKs it.
    n.send(p(true, "FA", 1004, 5005, b"", 4));
    n.send(p(false, "FA", 5005, 1005, b"", 5));
    n.finish();
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 0, 4)]);
}

/// The sequence numbers the sender and its peer start at, and the sender's direction.
fn sender(from_client: bool) -> (u32, u32, Dir) {
    if from_client {
        (1001, 5001, Dir::ToServer)
    } else {
        (5001, 1001, Dir::ToClient)
    }
}

/// An ACK captured before the data it acknowledges (the mirror reordered them), in each
/// direction: the data arriving next is in-order data, no gap, no retransmission.
#[test]
fn ack_before_its_data_waits_for_the_data() {
    for from_client in [true, false] {
        let (mine, peer, dir) = sender(from_client);
        let mut n = net();
        n.handshake(0);
        n.send(p(from_client, "PA", mine, peer, b"aaaa", 3));
        // The peer's ACK of "bbbb" comes first, then "bbbb" 3 µs later, then the rest.
        n.send(p(!from_client, "A", peer, mine + 8, b"", 4));
        let mut data = p(from_client, "PA", mine + 4, peer, b"bbbb", 4);
        data.us = 3;
        n.send(data);
        n.send(p(from_client, "PA", mine + 8, peer, b"cc", 5));
        n.finish();
        assert!(n.rec.gaps(0).is_empty(), "from client {from_client}");
        assert_eq!(n.rec.text(0, dir), b"aaaabbbbcc");
        let s = n.rec.close_of(0);
        assert_eq!(s.dirs[dir.index()].retransmissions, 0);
        assert_eq!(s.dirs[dir.index()].gaps, 0);
    }
}

/// The same ACK whose data never comes: a gap once the window passed, by packets or by time,
/// or at the close; dated at the ACK either way.
#[test]
fn ack_before_data_that_never_comes_becomes_a_gap() {
    for from_client in [true, false] {
        let (mine, peer, dir) = sender(from_client);
        // By packets: four more packets of the connection (later data of the same sender).
        let mut n = net();
        n.handshake(0);
        n.send(p(from_client, "PA", mine, peer, b"aaaa", 3));
        n.send(p(!from_client, "A", peer, mine + 8, b"", 4));
        for i in 0..3u32 {
            n.send(p(from_client, "PA", mine + 8 + i, peer, b"c", 4));
            assert!(n.rec.gaps(0).is_empty(), "{i} packets: still held");
        }
        n.send(p(from_client, "PA", mine + 11, peer, b"c", 4));
        assert_eq!(
            n.rec.gaps(0),
            vec![(dir, 4, 4)],
            "from client {from_client}"
        );
        // The data after the window is old data (a retransmission), no second gap.
        n.send(p(from_client, "PA", mine + 4, peer, b"bbbb", 5));
        n.finish();
        assert_eq!(n.rec.gaps(0).len(), 1);
        assert_eq!(n.rec.text(0, dir), b"aaaacccc");
        let gap_ack = n.rec.close_of(0).events.iter().find_map(|e| match e.kind {
            TcpEventKind::Gap { .. } => Some(e.pos.number),
            _ => None,
        });
        assert_eq!(gap_ack, Some(5), "dated at the ACK (packet 5)");

        // At once when the ACK's sender sends data: it follows the bytes it acknowledged.
        let mut n = net();
        n.handshake(0);
        n.send(p(from_client, "PA", mine, peer, b"aaaa", 3));
        n.send(p(!from_client, "A", peer, mine + 8, b"", 4));
        n.send(p(!from_client, "PA", peer, mine + 8, b"x", 4));
        assert_eq!(n.rec.gaps(0), vec![(dir, 4, 4)]);

        // By time: the next packet comes 10 ms after the ACK.
        let mut n = net();
        n.handshake(0);
        n.send(p(from_client, "PA", mine, peer, b"aaaa", 3));
        n.send(p(!from_client, "A", peer, mine + 8, b"", 4));
        n.send(p(from_client, "PA", mine + 8, peer, b"cc", 14));
        assert_eq!(n.rec.gaps(0), vec![(dir, 4, 4)]);
        assert_eq!(n.rec.text(0, dir), b"aaaacc");

        // At the close: nothing else comes.
        let mut n = net();
        n.handshake(0);
        n.send(p(from_client, "PA", mine, peer, b"aaaa", 3));
        n.send(p(!from_client, "A", peer, mine + 8, b"", 4));
        assert!(n.rec.gaps(0).is_empty());
        n.finish();
        assert_eq!(n.rec.gaps(0), vec![(dir, 4, 4)]);
    }
}

#[test]
fn data_behind_a_hole_waits_and_is_flushed_at_close() {
    let mut n = net();
    n.handshake(0);
    n.send(p(true, "PA", 1005, 5001, b"xx", 3));
    assert!(
        n.rec.gaps(0).is_empty(),
        "no ACK, no FIN: wait for the hole"
    );
    n.finish();
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToServer, 0, 4)]);
    assert_eq!(n.rec.text(0, Dir::ToServer), b"xx");
    assert_eq!(n.rec.close_of(0).close_reason, CloseReason::EndOfCapture);
}

#[test]
fn truncated_segment_delivers_captured_part_and_gap_at_once() {
    let mut n = net();
    n.handshake(0);
    n.send(P {
        missing: 96,
        ..p(false, "PA", 5001, 1001, b"HTTP", 3)
    });
    assert_eq!(n.rec.text(0, Dir::ToClient), b"HTTP");
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 4, 96)]);
    n.send(p(false, "PA", 5101, 1001, b"next", 4));
    assert_eq!(n.rec.text(0, Dir::ToClient), b"HTTPnext");
    assert_eq!(n.tracker.stats().truncated_segments, 1);
}

#[test]
fn conflicting_retransmission_keeps_first_bytes() {
    let mut n = net();
    n.handshake(0);
    n.send(p(true, "PA", 1001, 5001, b"hello", 3));
    n.send(p(true, "PA", 1001, 5001, b"jello", 300));
    n.finish();
    assert_eq!(n.rec.text(0, Dir::ToServer), b"hello");
    let s = n.rec.close_of(0);
    assert!(s
        .events
        .iter()
        .any(|e| e.kind == TcpEventKind::Conflict { offset: 0 }));
    assert_eq!(s.dirs[0].retransmissions, 1);
    assert_eq!(n.tracker.stats().conflicts, 1);
}

#[test]
fn duplicate_versus_retransmission() {
    let mut n = net();
    n.handshake(0);
    // The same packet mirrored twice: same IP id, microseconds apart.
    n.send(P {
        ip_id: Some(7),
        ..p(true, "PA", 1001, 5001, b"hello", 3)
    });
    n.send(P {
        ip_id: Some(7),
        ..p(true, "PA", 1001, 5001, b"hello", 3)
    });
    // A real retransmission: new IP id, 200 ms later.
    n.send(P {
        ip_id: Some(8),
        ..p(true, "PA", 1001, 5001, b"hello", 203)
    });
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!(s.dirs[0].duplicates, 1);
    assert_eq!(s.dirs[0].retransmissions, 1);
    assert_eq!(s.dirs[0].packets, 4, "duplicate counted once");
    assert_eq!(
        s.dirs[0].frame_bytes,
        5 * 100 + 15,
        "frames include the duplicate"
    );
    assert_eq!(n.rec.text(0, Dir::ToServer), b"hello");
    assert!(s.history.contains('T'));
    assert_eq!(n.tracker.stats().duplicates, 1);
    // The same IP id much later is a retransmission, not a duplicate.
    let mut n = net();
    n.handshake(0);
    for ms in [3, 1003] {
        n.send(P {
            ip_id: Some(7),
            ..p(true, "PA", 1001, 5001, b"hello", ms)
        });
    }
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!((s.dirs[0].duplicates, s.dirs[0].retransmissions), (0, 1));
}

#[test]
fn port_reuse_opens_new_connection() {
    let mut n = net();
    n.handshake(0);
    n.send(p(true, "FA", 1001, 5001, b"", 3));
    // Half-closed; a retransmitted old SYN (same ISN) does not split the connection.
    n.send(p(true, "S", 1000, 0, b"", 4));
    assert_eq!(n.tracker.stats().connections, 1);
    // A SYN with a new ISN does.
    n.send(p(true, "S", 777_000, 0, b"", 10));
    n.send(p(false, "SA", 9000, 777_001, b"", 11));
    assert_eq!(n.tracker.stats().connections, 2);
    assert_eq!(n.tracker.stats().port_reused, 1);
    let old = n.rec.close_of(0);
    assert_eq!(old.close_reason, CloseReason::PortReused);
    assert_eq!(old.state, "S2");
    n.finish();
    let new = n.rec.close_of(1);
    assert_eq!(new.state, "S1");
    assert_eq!(new.history, "Sh");
    assert_eq!(new.dirs[0].packets, 1);
}

#[test]
fn icmp_error_is_associated() {
    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    let session = n.session;
    n.icmp(true, 1, session);
    // Another session (vantage point) does not match.
    let other = MirrorSession {
        vni: Some(8),
        ..session
    };
    n.icmp(true, 2, other);
    n.finish();
    let s = n.rec.close_of(0);
    let icmp = s
        .events
        .iter()
        .find(|e| matches!(e.kind, TcpEventKind::Icmp(_)))
        .expect("icmp event");
    assert_eq!(icmp.dir, Dir::ToServer);
    assert_eq!(n.tracker.stats().unmatched_icmp, 1);
    assert_eq!(n.tracker.stats().matched_icmp, 1);
}

#[test]
fn eviction_closes_least_recently_active() {
    let mut n = Net::new(FlowConfig {
        max_connections: 2,
        ..FlowConfig::default()
    });
    for (i, ms) in [(0u16, 0i64), (1, 10), (2, 20)] {
        n.client = (1, 40000 + i);
        if i == 2 {
            // Connection 0 is touched again, so connection 1 is the least recently active.
            n.client = (1, 40000);
            n.send(p(true, "S", 1000, 0, b"", 15));
            n.client = (1, 40002);
        }
        n.send(p(true, "S", 1000, 0, b"", ms));
    }
    assert_eq!(n.tracker.open_connections(), 2);
    assert_eq!(n.tracker.stats().evicted, 1);
    let s = n.rec.close_of(1);
    assert_eq!(s.close_reason, CloseReason::Evicted);
    n.finish();
    assert_eq!(n.rec.closes().len(), 3);
}

#[test]
fn idle_expiry_uses_packet_time() {
    let mut n = Net::new(FlowConfig {
        idle_expiry: Duration::from_millis(10_000),
        ..FlowConfig::default()
    });
    n.handshake(0);
    n.send(p(true, "PA", 1001, 5001, b"x", 5_000));
    n.client = (3, 40001);
    n.send(p(true, "S", 1, 0, b"", 14_000));
    assert!(n.rec.closes().is_empty());
    n.send(p(true, "S", 1, 0, b"", 16_000));
    let s = n.rec.close_of(0);
    assert_eq!(s.close_reason, CloseReason::Expired);
    assert_eq!(s.state, "S1");
    assert_eq!(n.tracker.open_connections(), 1);
}

#[test]
fn sequence_wraparound() {
    let mut n = net();
    let isn = u32::MAX - 5;
    n.send(p(true, "S", isn, 0, b"", 0));
    n.send(p(false, "SA", 5000, isn.wrapping_add(1), b"", 1));
    n.send(p(true, "A", isn.wrapping_add(1), 5001, b"", 2));
    // Out of order across the wrap: the second half first.
    n.send(p(true, "PA", isn.wrapping_add(5), 5001, b"efghij", 3));
    n.send(p(true, "PA", isn.wrapping_add(1), 5001, b"abcd", 4));
    n.send(p(false, "A", 5001, isn.wrapping_add(11), b"", 5));
    n.send(p(true, "PA", isn.wrapping_add(11), 5001, b"kl", 6));
    n.finish();
    assert_eq!(n.rec.text(0, Dir::ToServer), b"abcdefghijkl");
    assert!(n.rec.gaps(0).is_empty());
}

#[test]
fn midstream_guesses_roles_and_counts_from_first_seq() {
    let mut n = net();
    n.send(p(false, "PA", 70_000, 9_000, b"response", 0));
    n.send(p(true, "A", 9_000, 70_008, b"", 1));
    n.send(p(true, "PA", 9_000, 70_008, b"req", 2));
    n.finish();
    let s = n.rec.close_of(0);
    assert!(!s.saw_syn);
    assert_eq!(s.key.server.port, 80);
    assert_eq!(s.state, "OTH");
    assert_eq!(s.history, "dAD");
    assert_eq!(n.rec.text(0, Dir::ToClient), b"response");
    assert_eq!(n.rec.text(0, Dir::ToServer), b"req");
}

#[test]
fn synack_without_syn_sets_roles() {
    let mut n = net();
    n.send(p(false, "SA", 5000, 1001, b"", 0));
    n.send(p(true, "A", 1001, 5001, b"", 1));
    n.finish();
    let s = n.rec.close_of(0);
    assert!(!s.saw_syn);
    assert_eq!(s.key.client.port, 40000);
    assert_eq!(s.history, "hA");
}

#[test]
fn buffer_cap_declares_gap() {
    let mut n = Net::new(FlowConfig {
        // Two pieces (7 and 3 bytes) fit, a third (1 byte) does not: each costs 64 more.
        max_buffered_bytes: 7 + 3 + 2 * 64 + 60,
        ..FlowConfig::default()
    });
    n.handshake(0);
    n.send(p(false, "PA", 5011, 1001, b"0123456", 3));
    assert!(n.rec.gaps(0).is_empty());
    n.send(p(false, "PA", 5018, 1001, b"789", 4));
    assert_eq!(n.rec.gaps(0).len(), 0);
    n.send(p(false, "PA", 5021, 1001, b"X", 5));
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 0, 10)]);
    assert_eq!(n.rec.text(0, Dir::ToClient), b"0123456789X");
}

#[test]
fn events_are_capped() {
    let mut n = Net::new(FlowConfig {
        max_events: 2,
        ..FlowConfig::default()
    });
    for ms in 0..5 {
        n.send(p(true, "S", 1000, 0, b"", ms * 1000));
    }
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.events_dropped, 3);
}

#[test]
fn packets_after_rst_within_grace_stay_with_connection() {
    let mut n = net();
    n.handshake(0);
    n.send(p(true, "RA", 1001, 5001, b"", 3));
    // Data in flight from the server after the RST, and the RST it draws.
    n.send(p(false, "PA", 5001, 1001, b"late", 4));
    n.send(p(true, "R", 1001, 0, b"", 5));
    assert_eq!(n.tracker.stats().connections, 1);
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!(s.dirs[1].packets, 2);
    assert_eq!(n.rec.text(0, Dir::ToClient), b"late");
}

#[test]
fn buffered_memory_stays_under_cap_even_for_empty_truncated_pieces() {
    let cap = 1000;
    let mut n = Net::new(FlowConfig {
        max_buffered_bytes: cap,
        ..FlowConfig::default()
    });
    n.handshake(0);
    // A hole at offset 0, then many segments whose payload the capture cut off entirely.
    for i in 0..200u32 {
        n.send(P {
            missing: 100,
            ..p(false, "PA", 5101 + i * 100, 1001, b"", 3 + i as i64)
        });
        let held: usize = n
            .tracker
            .conns
            .values()
            .map(|c| c.sides[1].reasm.buffered())
            .sum();
        assert!(held <= cap, "buffered {held} > cap {cap}");
    }
    assert!(!n.rec.gaps(0).is_empty());
    n.finish();
    // Every offset up to the last segment's end is accounted for, as one or more gaps.
    assert_eq!(n.rec.stream(0, Dir::ToClient).len(), 100 + 200 * 100);
}

proptest::proptest! {
    /// A whole connection whose client stream is split at random, reordered, mirrored twice
    /// and retransmitted at random: the Data events rebuild the stream exactly, with no gap.
    #[test]
    fn random_segmentation_rebuilds_stream(
        stream in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..2000),
        cuts in proptest::collection::vec(0usize..2000, 0..30),
        order in proptest::collection::vec(0usize..1000, 0..30),
        twice in proptest::collection::vec(0u8..4, 30),
        isn in proptest::prelude::any::<u32>(),
    ) {
        let mut n = net();
        n.send(p(true, "S", isn, 0, b"", 0));
        n.send(p(false, "SA", 5000, isn.wrapping_add(1), b"", 1));
        n.send(p(true, "A", isn.wrapping_add(1), 5001, b"", 2));
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % stream.len()).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        cuts.dedup();
        let mut segs: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        for (i, o) in order.iter().enumerate() {
            let a = i % segs.len();
            let b = o % segs.len();
            segs.swap(a, b);
        }
        let mut ms = 3;
        for (i, (a, b)) in segs.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(*a as u32);
            let copies = match twice.get(i) { Some(0) => 2, _ => 1 };
            n.ip_id = n.ip_id.wrapping_add(1);
            let id = n.ip_id;
            for _ in 0..copies {
                n.send(P { ip_id: Some(id), ..p(true, "PA", seq, 5001, &stream[*a..*b], ms) });
            }
            if twice.get(i) == Some(&1) {
                // A retransmission, 300 ms later, with a new IP id.
                ms += 300;
                n.send(p(true, "PA", seq, 5001, &stream[*a..*b], ms));
            }
            ms += 1;
        }
        let end = isn.wrapping_add(1).wrapping_add(stream.len() as u32);
        n.send(p(false, "A", 5001, end, b"", ms));
        n.finish();
        proptest::prop_assert_eq!(n.rec.text(0, Dir::ToServer), stream.clone());
        proptest::prop_assert!(n.rec.gaps(0).is_empty());
        let s = n.rec.close_of(0);
        proptest::prop_assert_eq!(s.dirs[0].payload_bytes, stream.len() as u64);
        let dups = segs.iter().enumerate().filter(|(i, _)| twice.get(*i) == Some(&0)).count();
        proptest::prop_assert_eq!(s.dirs[0].duplicates as usize, dups);
    }
}

#[test]
fn expiry_checks_true_last_activity_not_the_coarse_timer_key() {
    let mut n = Net::new(FlowConfig {
        idle_expiry: Duration::from_millis(10_000),
        ..FlowConfig::default()
    });
    n.send(p(true, "PA", 1, 1, b"a", 0));
    n.send(p(true, "PA", 2, 1, b"b", 50)); // within the timer granularity: key stays at 0
    n.client = (3, 40001);
    n.send(p(true, "PA", 1, 1, b"x", 10_020));
    assert!(n.rec.closes().is_empty(), "idle only 9.97 s");
    n.send(p(true, "PA", 2, 1, b"y", 11_100));
    assert_eq!(n.rec.close_of(0).close_reason, CloseReason::Expired);
    assert_eq!(n.rec.text(0, Dir::ToServer), b"ab");
}

#[test]
fn state_is_bounded_by_concurrent_connections() {
    let mut n = net();
    // 5000 short connections, 0.5 ms apart: with a 2 s close grace at most ~4000 are tracked.
    for i in 0..5000u32 {
        n.client = (1, 1024 + (i % 60000) as u16);
        n.client.0 = 1 + (i / 60000) as u8;
        let t = i as i64 / 2;
        n.send(p(true, "S", 100, 0, b"", t));
        n.send(p(false, "SA", 900, 101, b"", t));
        n.send(p(true, "A", 101, 901, b"", t));
        n.send(p(true, "PA", 101, 901, b"GET /", t));
        n.send(p(false, "PA", 901, 106, &[b'x'; 3000], t));
        n.send(p(true, "FA", 106, 3901, b"", t));
        n.send(p(false, "FA", 3901, 107, b"", t));
        n.send(p(true, "A", 107, 3902, b"", t));
        let tr = &n.tracker;
        assert!(tr.conns.len() <= 4002, "tracked {}", tr.conns.len());
        assert_eq!(tr.lru.len(), tr.conns.len());
        assert_eq!(tr.closing.len(), tr.conns.len());
        assert!(tr.half_open.is_empty());
        n.rec.events.clear();
    }
    // Closing connections hold no stream buffers.
    let held: usize = n
        .tracker
        .conns
        .values()
        .map(|c| c.sides.iter().map(|s| s.reasm.buffered()).sum::<usize>())
        .sum();
    assert_eq!(held, 0);
    n.finish();
    assert_eq!(n.tracker.open_connections(), 0);
    assert_eq!(n.tracker.stats().connections, 5000);
}

#[test]
fn synack_retransmissions_without_ip_id_are_not_duplicates() {
    // Linux sends SYN-ACKs with IP id 0; a timer retransmission and the answer to a
    // retransmitted SYN can be 100 µs apart (seen in a real capture).
    let mut n = net();
    n.send(p(true, "S", 1000, 0, b"", 0));
    n.send(P {
        ip_id: Some(0),
        ..p(false, "SA", 5000, 1001, b"", 1)
    });
    n.send(P {
        ip_id: Some(0),
        ..p(false, "SA", 5000, 1001, b"", 1002)
    });
    // Answer to the retransmitted SYN, 98 µs after the timer's SYN-ACK: a retransmission.
    n.send(P {
        ip_id: Some(0),
        us: 98,
        ..p(false, "SA", 5000, 1001, b"", 1002)
    });
    // The same SYN-ACK seen twice by the capture, 3 µs apart: a duplicate.
    n.send(P {
        ip_id: Some(0),
        us: 101,
        ..p(false, "SA", 5000, 1001, b"", 1002)
    });
    n.finish();
    let s = n.rec.close_of(0);
    assert_eq!(s.dirs[1].duplicates, 1);
    assert_eq!(s.dirs[1].packets, 3);
    let retrans = s
        .events
        .iter()
        .filter(|e| {
            e.kind
                == TcpEventKind::SynAck {
                    retransmission: true,
                }
        })
        .count();
    assert_eq!(retrans, 2);
}

proptest::proptest! {
    /// Arbitrary segments (any flags, sequence and ack numbers, truncation, times) never panic,
    /// every stream handed out is contiguous, and every connection is closed exactly once.
    #[test]
    fn arbitrary_segments_keep_invariants(
        pkts in proptest::collection::vec(
            (
                proptest::prelude::any::<bool>(),
                0u8..32,
                proptest::prelude::any::<u32>(),
                proptest::prelude::any::<u32>(),
                0usize..40,
                0u32..3000,
                0i64..400_000,
                0u8..3,
            ),
            1..60,
        ),
    ) {
        let mut n = Net::new(FlowConfig {
            max_connections: 3,
            max_buffered_bytes: 300,
            ..FlowConfig::default()
        });
        let data = [7u8; 40];
        let mut ms = 0;
        for (from_client, f, seq, ack, len, missing, dt, port) in pkts {
            let mut flags = String::new();
            for (bit, c) in [(1, 'S'), (2, 'A'), (4, 'F'), (8, 'R'), (16, 'P')] {
                if f & bit != 0 {
                    flags.push(c);
                }
            }
            // Small sequence steps most of the time, so streams actually advance.
            let seq = if seq % 4 == 0 { seq } else { 1000 + (seq % 5000) };
            ms += dt % 3 * dt;
            n.client = (1, 40000 + port as u16);
            n.send(P { missing: if missing > 2500 { missing } else { 0 }, ..p(from_client, &flags, seq, ack, &data[..len], ms) });
        }
        n.finish();
        let opened = n.rec.count(|e| matches!(e, Ev::Open(_)));
        let closed = n.rec.closes().len();
        proptest::prop_assert_eq!(opened, closed);
        proptest::prop_assert_eq!(n.tracker.open_connections(), 0);
        let ids: std::collections::BTreeSet<u64> = n.rec.events.iter().map(|(c, _)| c.0).collect();
        for id in ids {
            for dir in [Dir::ToServer, Dir::ToClient] {
                let len = n.rec.extent(id, dir);
                let sum = n.rec.close_of(id).dirs[dir.index()];
                proptest::prop_assert_eq!(len, sum.payload_bytes + sum.gap_bytes);
            }
        }
    }
}

#[test]
fn buffer_cap_gap_is_counted_as_memory_skipped() {
    let mut n = Net::new(FlowConfig {
        max_buffered_bytes: 7 + 3 + 2 * 64 + 60,
        ..FlowConfig::default()
    });
    n.handshake(0);
    n.send(p(false, "PA", 5011, 1001, b"0123456", 3));
    n.send(p(false, "PA", 5018, 1001, b"789", 4));
    n.send(p(false, "PA", 5021, 1001, b"X", 5));
    n.finish();
    let st = n.tracker.stats();
    assert_eq!((st.gaps, st.gap_bytes), (0, 0), "not a gap never captured");
    assert_eq!((st.memory_skipped_gaps, st.memory_skipped_bytes), (1, 10));
    assert_eq!(st.memory_limited_connections, 1);
    let s = n.rec.close_of(0);
    assert_eq!(s.dirs[1].gap_bytes, 10, "per direction, every hole counts");
    assert!(s
        .events
        .iter()
        .any(|e| e.kind == TcpEventKind::MemorySkipped { offset: 0, len: 10 }));
    assert_eq!(n.tracker.budget().used(), 0, "nothing charged after close");
}

#[test]
fn budget_exhausted_skips_out_of_order_data_and_history() {
    let mut n = Net::new(FlowConfig {
        // One piece (7 bytes + 64) fits; a second one does not.
        max_buffer_memory: 100,
        conflict_window: 16,
        ..FlowConfig::default()
    });
    n.handshake(0);
    n.send(p(false, "PA", 5011, 1001, b"0123456", 3));
    assert!(n.rec.gaps(0).is_empty());
    assert_eq!(n.tracker.budget().used(), 7 + 64);
    n.send(p(false, "PA", 5018, 1001, b"789", 4));
    assert_eq!(n.rec.gaps(0), vec![(Dir::ToClient, 0, 10)]);
    assert_eq!(n.rec.text(0, Dir::ToClient), b"0123456789");
    assert_eq!(n.tracker.stats().memory_skipped_bytes, 10);
    assert_eq!(n.tracker.stats().gap_bytes, 0);
    // The history was given up too: nothing is charged for this connection any more.
    assert_eq!(n.tracker.budget().used(), 0);
    n.finish();
    assert_eq!(n.tracker.budget().used(), 0);
}

#[test]
fn evicted_connection_seen_again_is_counted_once() {
    let mut n = Net::new(FlowConfig {
        max_connections: 1,
        ..FlowConfig::default()
    });
    n.handshake(0);
    let mut ms = 10;
    for _ in 0..3 {
        for port in [40000u16, 40001] {
            n.client = (1, port);
            n.send(p(true, "PA", 1001 + ms as u32, 5001, b"x", ms));
            ms += 1;
        }
    }
    n.finish();
    let st = n.tracker.stats();
    assert_eq!(st.connections, 2, "two real connections");
    assert_eq!(st.evicted, 2, "each evicted connection counted once");
    assert_eq!(st.continuations, 4);
    let closes = n.rec.closes();
    assert_eq!(closes.len(), 6);
    assert_eq!(closes.iter().filter(|s| s.continuation).count(), 4);
}

/// One step of [`in_order_path_decides_as_the_full_path`]: the sender, what it sends, how far
/// its ACK lags behind what the peer sent, a payload length, a jump (seq or time).
type Step = (bool, u8, u32, u16, u32);

/// Plays `steps` on one connection (after a handshake when `handshake`) and returns every
/// event as text, the summaries included; `full_path_only` sends every segment the full way.
fn play(steps: &[Step], handshake: bool, isn: u32, full_path_only: bool) -> (Vec<String>, u64) {
    let mut n = net();
    n.full_path_only = full_path_only;
    let base = [isn.wrapping_add(1), 5001u32];
    if handshake {
        n.send(p(true, "S", isn, 0, b"", 0));
        n.send(p(false, "SA", 5000, base[0], b"", 1));
        n.send(p(true, "A", base[0], base[1], b"", 2));
    }
    let bytes = |from: u32, len: u16, salt: u8| -> Vec<u8> {
        (0..u32::from(len))
            .map(|i| (from.wrapping_add(i) as u8).wrapping_add(salt))
            .collect()
    };
    // Stream bytes each side has sent so far.
    let mut sent = [0u32; 2];
    let mut ms = 3i64;
    let before = crate::flow::segment::tests_switch::IN_ORDER_TAKEN.with(|c| c.get());
    for &(from_client, kind, lag, len, jump) in steps {
        let d = usize::from(!from_client);
        let ack = base[1 - d]
            .wrapping_add(sent[1 - d])
            .wrapping_sub(lag.min(sent[1 - d]) * u32::from(lag % 3 == 0));
        // A bare ACK of lost bytes (kind 11) is what holds a hole.
        let len = if kind == 11 { 0 } else { len % 120 };
        let next = sent[d];
        ms += i64::from(jump % 4) + if jump % 23 == 0 { 30 } else { 0 };
        let (flags, seq_off, salt, copies) = match kind {
            // In order (data or, with no length, a bare ACK): the common case.
            0..=6 => ("PA", next, 0, 1),
            // A retransmission of earlier bytes (the same or, salted, different ones).
            7 => ("PA", next.saturating_sub(jump % 300), 0, 1),
            8 => ("PA", next.saturating_sub(jump % 300), 9, 1),
            // A jump ahead: a hole (lost or reordered bytes).
            9 => ("PA", next.wrapping_add(1 + jump % 200), 0, 1),
            // Mirrored twice.
            10 => ("PA", next, 0, 2),
            // An ACK from beyond what the peer sent (its bytes lost).
            11 => ("A", next, 0, 1),
            12 => ("FA", next, 0, 1),
            13 if jump % 5 == 0 => ("R", next, 0, 1),
            13 => ("A", next, 0, 1),
            14 => ("P", next, 0, 1),
            _ => ("A", next, 0, 1),
        };
        let ack = if kind == 11 {
            ack.wrapping_add(1 + jump % 500)
        } else {
            ack
        };
        let data = bytes(seq_off, len, salt);
        let seq = base[d].wrapping_add(seq_off);
        n.ip_id = n.ip_id.wrapping_add(1);
        let id = n.ip_id;
        for _ in 0..copies {
            n.send(P {
                ip_id: Some(id),
                ..p(from_client, flags, seq, ack, &data, ms)
            });
        }
        let end = seq_off.wrapping_add(u32::from(len));
        // A segment ahead of a hole (kind 9) came early: the sender goes on from where it was.
        if kind != 9 && end > sent[d] && end - sent[d] < 1 << 20 {
            sent[d] = end;
        }
    }
    n.finish();
    let taken = crate::flow::segment::tests_switch::IN_ORDER_TAKEN.with(|c| c.get()) - before;
    let events = n.rec.events.iter().map(|e| format!("{e:?}")).collect();
    (events, taken)
}

proptest::proptest! {
    /// The in-order path (`segment::in_order`) decides as the full path: random segments of
    /// both directions (in order, retransmitted with the same or other bytes, ahead of a hole,
    /// mirrored twice, ACKs of lost bytes, FIN, RST, no ACK flag) give the same events and
    /// summaries either way.
    #[test]
    fn in_order_path_decides_as_the_full_path(
        steps in proptest::collection::vec(
            (
                proptest::prelude::any::<bool>(),
                0u8..16,
                0u32..400,
                0u16..400,
                proptest::prelude::any::<u32>(),
            ),
            1..60,
        ),
        handshake in proptest::prelude::any::<bool>(),
        isn in proptest::prelude::any::<u32>(),
    ) {
        let (fast, _) = play(&steps, handshake, isn, false);
        let (full, taken) = play(&steps, handshake, isn, true);
        proptest::prop_assert_eq!(taken, 0);
        proptest::prop_assert_eq!(fast, full);
    }
}

/// A plain exchange takes the in-order path (so the proptest above compares something).
#[test]
fn plain_exchange_takes_the_in_order_path() {
    let steps: Vec<Step> = (0..20).map(|i| (i % 2 == 0, 0, 0, 50, 1)).collect();
    let (fast, taken) = play(&steps, true, 77, false);
    assert!(taken >= 18, "in-order path taken {taken} times");
    assert_eq!(fast, play(&steps, true, 77, true).0);
}
