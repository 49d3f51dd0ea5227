//! Capture slices: re-reads a capture and writes exactly the packets of chosen requests' front-
//! and back-end connections (matched by mirror session + 4-tuple + the connection's time span,
//! ICMP errors quoting them included), keeping the original frames, encapsulation and link type.
//!
//! Output is classic pcap with nanosecond timestamps when a slice's packets share one link
//! type, and pcapng (one interface per link type, nanosecond resolution) when they do not:
//! classic pcap has a single link type per file. A slice asked for as pcapng is always pcapng,
//! with the packet comments it was given (albscope's evidence) on their packets. Packets are buffered per slice only while the
//! capture clock is inside that slice's connections; a slice is written and freed as soon as the
//! clock has passed its last connection, so memory grows with the requests in flight, not with
//! the capture.

use crate::capture::{CaptureReader, LinkType, PacketPos, Timestamp};
use crate::decode::{DecodeConfig, Decoder, Transport};
use crate::diagnose::metrics::{ConnRef, RequestConns};
use crate::flow::Endpoint;
use crate::report::pcapng::{write_pcapng, NgPacket};
use std::io::{self, Write};
use std::path::PathBuf;

/// How long after a connection's last packet an ICMP error or straggler still belongs to it.
const TAIL_NS: i64 = 2_000_000_000;
/// Most packets kept in one slice (a safety cap; the slice says when it was reached).
const MAX_PACKETS: usize = 2_000_000;

/// One slice to write: the connections whose packets it holds, and where.
#[derive(Clone, Debug)]
pub struct SliceSpec {
    /// Output file.
    pub path: PathBuf,
    /// Connections (front and back end of one request, usually).
    pub conns: Vec<ConnRef>,
    /// Write pcapng even when one link type would allow classic pcap.
    pub pcapng: bool,
    /// Packet comments for pcapng, by the packet's position in the input.
    pub comments: Vec<(PacketPos, String)>,
}

impl SliceSpec {
    /// The slice of one request's connections, and of those its evidence cites.
    pub fn of_request(path: PathBuf, conns: &RequestConns) -> SliceSpec {
        SliceSpec {
            path,
            conns: conns
                .front
                .iter()
                .chain(conns.back.iter())
                .chain(conns.cited.iter())
                .cloned()
                .collect(),
            pcapng: false,
            comments: Vec::new(),
        }
    }

    /// The same slice as pcapng with these packet comments.
    pub fn as_pcapng(mut self, comments: Vec<(PacketPos, String)>) -> SliceSpec {
        self.pcapng = true;
        self.comments = comments;
        self
    }

    fn end(&self) -> Option<Timestamp> {
        let mut end = Timestamp(i64::MIN);
        for c in &self.conns {
            end = end.max(c.end?);
        }
        Some(Timestamp(end.0.saturating_add(TAIL_NS)))
    }
}

/// What was written for one slice.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceResult {
    /// Output file.
    pub path: PathBuf,
    /// Packets written.
    pub packets: u64,
    /// `pcap` or `pcapng`.
    pub format: &'static str,
    /// True when [`MAX_PACKETS`] cut the slice short.
    pub capped: bool,
    /// Where each packet written was in the input, in order.
    pub positions: Vec<PacketPos>,
}

struct Packet {
    pos: PacketPos,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

struct Active {
    spec: usize,
    end: Option<Timestamp>,
    packets: Vec<Packet>,
    capped: bool,
}

fn same_pair(a: (Endpoint, Endpoint), c: &ConnRef) -> bool {
    (a.0 == c.client && a.1 == c.server) || (a.0 == c.server && a.1 == c.client)
}

fn in_span(ts: Timestamp, c: &ConnRef, tail: i64) -> bool {
    ts >= c.start && c.end.is_none_or_after(ts, tail)
}

trait EndCheck {
    fn is_none_or_after(&self, ts: Timestamp, tail: i64) -> bool;
}

impl EndCheck for Option<Timestamp> {
    fn is_none_or_after(&self, ts: Timestamp, tail: i64) -> bool {
        match self {
            None => true,
            Some(e) => ts.0 <= e.0.saturating_add(tail),
        }
    }
}

/// Reads `reader` to the end and writes every slice; returns what each got, in `specs` order.
pub fn write_slices(
    reader: &mut CaptureReader,
    decode: &DecodeConfig,
    specs: &[SliceSpec],
) -> io::Result<Vec<SliceResult>> {
    let mut decoder = Decoder::new(decode.clone());
    let mut results: Vec<Option<SliceResult>> = vec![None; specs.len()];
    // Slices in order of their first connection start, opened as the clock reaches them.
    let mut order: Vec<usize> = (0..specs.len()).collect();
    let start_of = |i: usize| {
        specs
            .get(i)
            .and_then(|s| s.conns.iter().map(|c| c.start).min())
            .unwrap_or(Timestamp(i64::MAX))
    };
    order.sort_by_key(|&i| start_of(i));
    let mut next = 0usize;
    let mut active: Vec<Active> = Vec::new();
    while let Some(p) = reader.next_packet() {
        let ts = p.ts;
        while let Some(&i) = order.get(next) {
            if start_of(i) > ts {
                break;
            }
            let end = specs.get(i).and_then(SliceSpec::end);
            active.push(Active {
                spec: i,
                end,
                packets: Vec::new(),
                capped: false,
            });
            next += 1;
        }
        // Write slices the clock has passed.
        let mut k = 0;
        while k < active.len() {
            let done = active.get(k).and_then(|a| a.end).is_some_and(|e| ts > e);
            if done {
                let a = active.swap_remove(k);
                finish(specs, a, &mut results)?;
            } else {
                k += 1;
            }
        }
        if active.is_empty() {
            continue;
        }
        let Some(d) = decoder.decode(&p) else {
            continue;
        };
        let (pair, tail) = match &d.transport {
            Transport::Tcp(t) => (
                (
                    Endpoint {
                        ip: d.src,
                        port: t.src_port,
                    },
                    Endpoint {
                        ip: d.dst,
                        port: t.dst_port,
                    },
                ),
                0,
            ),
            Transport::IcmpError(e) => (
                (
                    Endpoint {
                        ip: e.quoted_src,
                        port: e.quoted_src_port,
                    },
                    Endpoint {
                        ip: e.quoted_dst,
                        port: e.quoted_dst_port,
                    },
                ),
                TAIL_NS,
            ),
            Transport::Other => continue,
        };
        for a in &mut active {
            let Some(spec) = specs.get(a.spec) else {
                continue;
            };
            let hit = spec
                .conns
                .iter()
                .any(|c| c.session == d.session && same_pair(pair, c) && in_span(ts, c, tail));
            if hit {
                if a.packets.len() >= MAX_PACKETS {
                    a.capped = true;
                    continue;
                }
                a.packets.push(Packet {
                    pos: p.pos,
                    ts,
                    link: p.link,
                    orig_len: p.orig_len,
                    data: p.data.to_vec(),
                });
            }
        }
    }
    for a in active {
        finish(specs, a, &mut results)?;
    }
    // Slices whose connections start after the last packet: empty files.
    while let Some(&i) = order.get(next) {
        finish(
            specs,
            Active {
                spec: i,
                end: None,
                packets: Vec::new(),
                capped: false,
            },
            &mut results,
        )?;
        next += 1;
    }
    Ok(results.into_iter().flatten().collect())
}

fn finish(specs: &[SliceSpec], a: Active, results: &mut [Option<SliceResult>]) -> io::Result<()> {
    let Some(spec) = specs.get(a.spec) else {
        return Ok(());
    };
    let file = std::fs::File::create(&spec.path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", spec.path.display()),
        )
    })?;
    let mut w = io::BufWriter::new(file);
    let format = if spec.pcapng {
        write_commented(&mut w, &a.packets, &spec.comments)?
    } else {
        write_capture(&mut w, &a.packets)?
    };
    w.flush()?;
    if let Some(r) = results.get_mut(a.spec) {
        *r = Some(SliceResult {
            path: spec.path.clone(),
            packets: a.packets.len() as u64,
            format,
            capped: a.capped,
            positions: a.packets.iter().map(|p| p.pos).collect(),
        });
    }
    Ok(())
}

fn snaplen(packets: &[Packet]) -> u32 {
    let max = packets.iter().map(|p| p.data.len()).max().unwrap_or(0);
    u32::try_from(max).unwrap_or(u32::MAX).max(262_144)
}

fn split_ts(ts: Timestamp) -> (u32, u32) {
    let secs = ts.0.div_euclid(1_000_000_000);
    let nanos = ts.0.rem_euclid(1_000_000_000);
    (
        u32::try_from(secs).unwrap_or(0),
        u32::try_from(nanos).unwrap_or(0),
    )
}

fn caplen(p: &Packet) -> u32 {
    u32::try_from(p.data.len()).unwrap_or(u32::MAX)
}

/// Writes `packets` as classic pcap (ns) when they share one link type, else as pcapng.
fn write_capture(w: &mut dyn Write, packets: &[Packet]) -> io::Result<&'static str> {
    let mut links: Vec<LinkType> = Vec::new();
    for p in packets {
        if !links.contains(&p.link) {
            links.push(p.link);
        }
    }
    let snap = snaplen(packets);
    if links.len() <= 1 {
        let link = links.first().copied().unwrap_or(LinkType::ETHERNET);
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snap.to_le_bytes());
        h.extend_from_slice(&link.0.to_le_bytes());
        w.write_all(&h)?;
        for p in packets {
            let (s, ns) = split_ts(p.ts);
            let cap = caplen(p);
            let mut r = Vec::with_capacity(16);
            r.extend_from_slice(&s.to_le_bytes());
            r.extend_from_slice(&ns.to_le_bytes());
            r.extend_from_slice(&cap.to_le_bytes());
            r.extend_from_slice(&p.orig_len.max(cap).to_le_bytes());
            w.write_all(&r)?;
            w.write_all(&p.data)?;
        }
        return Ok("pcap");
    }
    write_commented(w, packets, &[])
}

/// Writes `packets` as pcapng, each with the comments given for its input position.
fn write_commented(
    w: &mut dyn Write,
    packets: &[Packet],
    comments: &[(PacketPos, String)],
) -> io::Result<&'static str> {
    let mut by_pos: std::collections::HashMap<PacketPos, Vec<String>> =
        std::collections::HashMap::new();
    for (pos, c) in comments {
        let list = by_pos.entry(*pos).or_default();
        if !list.contains(c) {
            list.push(c.clone());
        }
    }
    let ng: Vec<NgPacket<'_>> = packets
        .iter()
        .map(|p| NgPacket {
            ts: p.ts,
            link: p.link,
            orig_len: p.orig_len,
            data: &p.data,
            comments: by_pos.get(&p.pos).map_or(&[], Vec::as_slice),
        })
        .collect();
    write_pcapng(w, &ng, snaplen(packets))?;
    Ok("pcapng")
}

/// The ALB-side addresses of a request's connections (front-end server, back-end client): what
/// to name with `--alb-ip` when a slice lacks the traffic that identified the ALB node.
pub fn alb_addresses(conns: &RequestConns) -> Vec<std::net::IpAddr> {
    let mut v = Vec::new();
    for ip in conns
        .front
        .iter()
        .map(|c| c.server.ip)
        .chain(conns.back.iter().map(|c| c.client.ip))
    {
        if !v.contains(&ip) {
            v.push(ip);
        }
    }
    v
}

/// A file-name-safe version of a request id or category.
pub fn safe_name(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        format!("r{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::{PcapBlockOwned, PcapError};

    fn pk(ts: i64, link: u32, data: &[u8]) -> Packet {
        Packet {
            pos: PacketPos::default(),
            ts: Timestamp(ts),
            link: LinkType(link),
            orig_len: data.len() as u32 + 10,
            data: data.to_vec(),
        }
    }

    /// Reads a file back with pcap-parser: (link type, ts ns, caplen, origlen) per packet.
    fn read_back(bytes: &[u8]) -> Vec<(u32, i64, u32, u32)> {
        let mut r = pcap_parser::create_reader(65536, bytes).unwrap();
        let mut out = Vec::new();
        let mut ifaces: Vec<u32> = Vec::new();
        let mut legacy_link = 0u32;
        loop {
            match r.next() {
                Ok((off, block)) => {
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => legacy_link = h.network.0 as u32,
                        PcapBlockOwned::Legacy(b) => out.push((
                            legacy_link,
                            i64::from(b.ts_sec) * 1_000_000_000 + i64::from(b.ts_usec),
                            b.caplen,
                            b.origlen,
                        )),
                        PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(i)) => {
                            ifaces.push(i.linktype.0 as u32)
                        }
                        PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(e)) => out.push((
                            ifaces[e.if_id as usize],
                            ((u64::from(e.ts_high) << 32) | u64::from(e.ts_low)) as i64,
                            e.caplen,
                            e.origlen,
                        )),
                        _ => {}
                    }
                    r.consume(off);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        out
    }

    #[test]
    fn one_link_type_is_classic_pcap_with_nanoseconds() {
        let pkts = vec![
            pk(1_765_471_377_123_456_789, 1, &[1; 60]),
            pk(1_765_471_377_123_456_790, 1, &[2; 61]),
        ];
        let mut out = Vec::new();
        assert_eq!(write_capture(&mut out, &pkts).unwrap(), "pcap");
        assert_eq!(out.get(..4), Some(&0xa1b2_3c4du32.to_le_bytes()[..]));
        let back = read_back(&out);
        assert_eq!(
            back,
            vec![
                (1, 1_765_471_377_123_456_789, 60, 70),
                (1, 1_765_471_377_123_456_790, 61, 71)
            ]
        );
    }

    #[test]
    fn mixed_link_types_become_pcapng() {
        let pkts = vec![
            pk(5_000_000_001, 1, &[1; 60]),
            pk(5_000_000_002, 276, &[2; 63]),
        ];
        let mut out = Vec::new();
        assert_eq!(write_capture(&mut out, &pkts).unwrap(), "pcapng");
        let back = read_back(&out);
        assert_eq!(
            back,
            vec![(1, 5_000_000_001, 60, 70), (276, 5_000_000_002, 63, 73)]
        );
    }

    #[test]
    fn names_are_file_safe() {
        assert_eq!(safe_name("f12.0"), "f12.0");
        assert_eq!(safe_name("../x y"), "r.._x_y");
        assert_eq!(safe_name(""), "r");
    }
}
