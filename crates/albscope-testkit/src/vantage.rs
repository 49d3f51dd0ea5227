//! Cuts a capture that holds both legs of an ALB (client <-> ALB and ALB <-> target) into the
//! captures one would have recorded from a single vantage point:
//!
//! - **back-end-only**: every packet of a TCP connection where an ALB node or a target is one
//!   end and it is not a connection to a node's listener port (ALB -> target requests, health
//!   checks), and every ICMP error quoting such a packet;
//! - **front-end-only**: every packet of a TCP connection to an ALB node's listener port, and
//!   every ICMP error quoting such a packet.
//!
//! Packets are copied byte for byte: same file format (classic pcap or pcapng, same byte order
//! and time resolution), same link type, same mirror encapsulation (VXLAN, GENEVE or none). A
//! packet is recognised with the library's own decoder ([`albscope::decode::Decoder`]), so a cut
//! sees exactly the inner packets the analysis sees. Caveat: the outer headers are kept too, so
//! a cut of an ALB-mirrored capture still names the node as the mirror session's source (`vxlan
//! vni 1001 from 10.0.1.25`), which a real client-side or target-side mirror would not.
//!
//! Everything else is noise and goes into **both** copies: non-IP frames, UDP, ICMP that quotes
//! no TCP, TCP where neither end is an ALB node or a target, frames the decoder cannot
//! read. (A real capture from either side would see such noise too.) IP fragments other than
//! the last of a datagram count as noise as well: the decoder only names the datagram when it
//! completes. No sample has fragments.
//!
//! The ALB nodes, their listener ports and the targets come from the both-legs analysis' JSON
//! `alb_nodes` and `targets` ([`AlbEndpoints::from_analysis_json`]).

use albscope::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{DecodeConfig, Decoder, Transport};
use pcap_parser::pcapng::Block;
use serde_json::Value;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One ALB node: its private address and the ports clients connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlbNode {
    /// The node's private address (one address for both legs, like an ALB ENI).
    pub ip: IpAddr,
    /// Listener ports (client -> ALB).
    pub listener_ports: Vec<u16>,
}

impl AlbNode {
    /// The nodes listed in an analysis' JSON (`alb_nodes[].ip` and `.listener_ports`), and
    /// each node's `front_addresses` as nodes with its listener ports; addresses that do not
    /// parse are left out.
    pub fn from_analysis_json(analysis: &Value) -> Vec<AlbNode> {
        let Some(nodes) = analysis.get("alb_nodes").and_then(Value::as_array) else {
            return Vec::new();
        };
        nodes
            .iter()
            .flat_map(|n| {
                let listener_ports: Vec<u16> = n
                    .get("listener_ports")
                    .and_then(Value::as_array)
                    .map(|ports| {
                        ports
                            .iter()
                            .filter_map(Value::as_u64)
                            .filter_map(|p| u16::try_from(p).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                // The node's own address, then the addresses its clients reach it at
                // (`front_addresses`: a public address, a proxy's client-facing interface).
                let own = n.get("ip").into_iter();
                let fronts = n
                    .get("front_addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.get("ip"));
                own.chain(fronts)
                    .filter_map(|ip| ip.as_str()?.parse().ok())
                    .map(|ip| AlbNode {
                        ip,
                        listener_ports: listener_ports.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// What the cut needs to know about the ALB: its nodes and the targets it talks to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlbEndpoints {
    /// The ALB nodes (JSON `alb_nodes`).
    pub nodes: Vec<AlbNode>,
    /// The targets (JSON `targets[].target`): a connection to one of them is back end even when
    /// the ALB end is an address `alb_nodes` does not list (e.g. the node's IPv6 address).
    pub targets: Vec<SocketAddr>,
}

impl AlbEndpoints {
    /// Reads `alb_nodes` and `targets` of an analysis' JSON document.
    pub fn from_analysis_json(analysis: &Value) -> AlbEndpoints {
        let targets = analysis
            .get("targets")
            .and_then(Value::as_array)
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| t.get("target")?.as_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        AlbEndpoints {
            nodes: AlbNode::from_analysis_json(analysis),
            targets,
        }
    }

    /// The leg of a TCP packet (or of the TCP packet an ICMP error quotes) between
    /// `a`:`a_port` and `b`:`b_port`, in either direction: front end when one end is a node's
    /// listener, back end when one end is a node or a target, else noise.
    pub fn leg_of(&self, a: IpAddr, a_port: u16, b: IpAddr, b_port: u16) -> Leg {
        let listener = |ip: IpAddr, port: u16| {
            self.nodes
                .iter()
                .any(|n| n.ip == ip && n.listener_ports.contains(&port))
        };
        let node = |ip: IpAddr| self.nodes.iter().any(|n| n.ip == ip);
        let target = |ip: IpAddr, port: u16| self.targets.contains(&SocketAddr::new(ip, port));
        if listener(a, a_port) || listener(b, b_port) {
            Leg::Front
        } else if node(a) || node(b) || target(a, a_port) || target(b, b_port) {
            Leg::Back
        } else {
            Leg::Noise
        }
    }
}

/// Which copy a packet goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg {
    /// ALB <-> target (requests, health checks).
    Back,
    /// Client <-> ALB listener.
    Front,
    /// Neither leg: kept in both copies.
    Noise,
}

/// Packet counts of one cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CutStats {
    /// Packets (records) in the input.
    pub packets: u64,
    /// Packets copied to the back-end-only capture only.
    pub back: u64,
    /// Packets copied to the front-end-only capture only.
    pub front: u64,
    /// Packets copied to both (noise, see the module documentation).
    pub noise: u64,
    /// ICMP errors among `back` + `front` (sorted by the TCP packet they quote).
    pub icmp_errors: u64,
}

/// The two copies of a cut capture.
#[derive(Clone, Debug)]
pub struct Cut {
    /// The back-end-only capture (same format as the input).
    pub back_end: Vec<u8>,
    /// The front-end-only capture (same format as the input).
    pub front_end: Vec<u8>,
    /// What went where.
    pub stats: CutStats,
    /// The leg of every packet record of the input, in file order.
    pub legs: Vec<Leg>,
}

/// Why a capture could not be cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutError(pub String);

impl fmt::Display for CutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CutError {}

/// Writes records into the two copies, asking the library's decoder where each belongs.
struct Cutter<'n> {
    alb: &'n AlbEndpoints,
    decoder: Decoder,
    cut: Cut,
}

impl<'n> Cutter<'n> {
    fn new(alb: &'n AlbEndpoints) -> Self {
        Cutter {
            alb,
            decoder: Decoder::new(DecodeConfig {
                verify_checksums: false,
                ..DecodeConfig::default()
            }),
            cut: Cut {
                back_end: Vec::new(),
                front_end: Vec::new(),
                stats: CutStats::default(),
                legs: Vec::new(),
            },
        }
    }

    /// A record that is not a packet (file header, pcapng section/interface/statistics
    /// blocks): copied to both.
    fn both(&mut self, raw: &[u8]) {
        self.cut.back_end.extend_from_slice(raw);
        self.cut.front_end.extend_from_slice(raw);
    }

    /// A packet record `raw` whose captured frame is `data`.
    fn packet(&mut self, raw: &[u8], link: u32, data: &[u8], orig_len: u32) {
        self.cut.stats.packets += 1;
        let packet = PacketRef {
            pos: PacketPos {
                file: 0,
                number: self.cut.stats.packets,
                offset: 0,
            },
            ts: Timestamp::from_parts(0, 0),
            link: LinkType(link),
            orig_len,
            data,
        };
        let (leg, icmp) = match self.decoder.decode(&packet) {
            Some(d) => match d.transport {
                Transport::Tcp(seg) => (
                    self.alb.leg_of(d.src, seg.src_port, d.dst, seg.dst_port),
                    false,
                ),
                Transport::IcmpError(e) => (
                    self.alb.leg_of(
                        e.quoted_src,
                        e.quoted_src_port,
                        e.quoted_dst,
                        e.quoted_dst_port,
                    ),
                    true,
                ),
                Transport::Other => (Leg::Noise, false),
            },
            None => (Leg::Noise, false),
        };
        let cut = &mut self.cut;
        match leg {
            Leg::Back => {
                cut.stats.back += 1;
                cut.back_end.extend_from_slice(raw);
            }
            Leg::Front => {
                cut.stats.front += 1;
                cut.front_end.extend_from_slice(raw);
            }
            Leg::Noise => {
                cut.stats.noise += 1;
                cut.back_end.extend_from_slice(raw);
                cut.front_end.extend_from_slice(raw);
            }
        }
        cut.legs.push(leg);
        if icmp && leg != Leg::Noise {
            cut.stats.icmp_errors += 1;
        }
    }
}

/// Reads a u32 at `at` in the given byte order.
fn read_u32(data: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// pcapng Section Header Block type (the same in either byte order).
const SHB_MAGIC: u32 = 0x0A0D_0D0A;
/// pcapng's obsolete Packet Block type (pcap-parser hands it over as an unknown block).
const OBSOLETE_PACKET_BLOCK: u32 = 2;

/// Cuts `capture` (classic pcap or pcapng bytes, not gzip-compressed) into its back-end-only
/// and front-end-only copies, given the ALB nodes and targets of its both-legs analysis. A
/// damaged tail (a record cut short) ends the copies at the last whole record.
pub fn cut_capture(capture: &[u8], alb: &AlbEndpoints) -> Result<Cut, CutError> {
    let magic = read_u32(capture, 0, false).ok_or_else(|| CutError("empty input".into()))?;
    let mut cutter = Cutter::new(alb);
    if magic == SHB_MAGIC {
        cut_pcapng(capture, &mut cutter)?;
    } else {
        cut_legacy(capture, &mut cutter)?;
    }
    Ok(cutter.cut)
}

/// Classic pcap: a 24-byte header, then 16-byte record headers each followed by its frame.
fn cut_legacy(capture: &[u8], cutter: &mut Cutter<'_>) -> Result<(), CutError> {
    let (mut rest, header) = pcap_parser::pcap::parse_pcap_header(capture)
        .map_err(|e| CutError(format!("not a pcap or pcapng file: {e:?}")))?;
    if header.magic_number == 0xa1b2_cd34 || header.magic_number == 0x34cd_b2a1 {
        return Err(CutError(
            "modified (Kuznetzov) pcap is not supported".into(),
        ));
    }
    let head_len = capture.len() - rest.len();
    cutter.both(capture.get(..head_len).unwrap_or_default());
    let link = (header.network.0 as u32) & 0x0FFF_FFFF;
    let big_endian = header.is_bigendian();
    while !rest.is_empty() {
        let parsed = if big_endian {
            pcap_parser::pcap::parse_pcap_frame_be(rest)
        } else {
            pcap_parser::pcap::parse_pcap_frame(rest)
        };
        let Ok((next, frame)) = parsed else {
            break;
        };
        let raw = rest.get(..rest.len() - next.len()).unwrap_or_default();
        cutter.packet(raw, link, frame.data, frame.origlen);
        rest = next;
    }
    Ok(())
}

/// pcapng: blocks; section headers and interface descriptions go to both copies (so interface
/// numbers stay valid), packet blocks to their leg.
fn cut_pcapng(capture: &[u8], cutter: &mut Cutter<'_>) -> Result<(), CutError> {
    let mut rest = capture;
    let mut big_endian = false;
    let mut links: Vec<(u32, u32)> = Vec::new(); // (link type, snaplen) per interface
    while rest.len() >= 12 {
        let parsed = if read_u32(rest, 0, false) == Some(SHB_MAGIC) {
            pcap_parser::pcapng::parse_sectionheaderblock(rest).map(|(n, b)| {
                big_endian = b.big_endian();
                (n, Block::SectionHeader(b))
            })
        } else if big_endian {
            pcap_parser::pcapng::parse_block_be(rest)
        } else {
            pcap_parser::pcapng::parse_block_le(rest)
        };
        let (next, block) = match parsed {
            Ok(ok) => ok,
            Err(nom_err) => {
                if capture.len() == rest.len() {
                    return Err(CutError(format!("unreadable pcapng: {nom_err:?}")));
                }
                break;
            }
        };
        let raw = rest.get(..rest.len() - next.len()).unwrap_or_default();
        match block {
            Block::SectionHeader(_) => {
                links.clear();
                cutter.both(raw);
            }
            Block::InterfaceDescription(idb) => {
                links.push((idb.linktype.0 as u32, idb.snaplen));
                cutter.both(raw);
            }
            Block::EnhancedPacket(epb) => {
                let link = links.get(epb.if_id as usize).map_or(u32::MAX, |l| l.0);
                let len = (epb.caplen as usize).min(epb.data.len());
                let data = epb.data.get(..len).unwrap_or_default();
                cutter.packet(raw, link, data, epb.origlen);
            }
            Block::SimplePacket(spb) => {
                let (link, snap) = links.first().copied().unwrap_or((u32::MAX, 0));
                let mut len = (spb.origlen as usize).min(spb.data.len());
                if snap > 0 {
                    len = len.min(snap as usize);
                }
                let data = spb.data.get(..len).unwrap_or_default();
                cutter.packet(raw, link, data, spb.origlen);
            }
            Block::Unknown(ub)
                if block_type(ub.block_type, big_endian) == OBSOLETE_PACKET_BLOCK =>
            {
                // interface id u16, drops u16, ts high, ts low, caplen, origlen, data
                let d = ub.data;
                let if_id = read_u32(d, 0, big_endian).map_or(usize::MAX, |v| {
                    (if big_endian { v >> 16 } else { v & 0xffff }) as usize
                });
                let caplen = read_u32(d, 12, big_endian).unwrap_or(0) as usize;
                let origlen = read_u32(d, 16, big_endian).unwrap_or(0);
                let data = d.get(20..).unwrap_or_default();
                let data = data.get(..caplen.min(data.len())).unwrap_or_default();
                let link = links.get(if_id).map_or(u32::MAX, |l| l.0);
                cutter.packet(raw, link, data, origlen);
            }
            _ => cutter.both(raw),
        }
        rest = next;
    }
    Ok(())
}

/// pcap-parser reads unknown block types little-endian; this undoes that for big-endian sections.
fn block_type(read_le: u32, big_endian: bool) -> u32 {
    if big_endian {
        read_le.swap_bytes()
    } else {
        read_le
    }
}
