//! The packet decoder: link layer -> (mirror tunnels, recursively) -> IP -> TCP / ICMP error.

use super::checksum::tcp_checksum;
use super::defrag::{FragKey, FragOutcome, Reassembler};
use super::link::{self, Link, NetInput};
use super::{icmp, tunnel};
use super::{Decoded, Encap, MirrorSession, TcpFlags, TcpSegment, Transport};
use crate::capture::{Duration, LinkType, PacketRef};
use etherparse::{
    ether_type, ip_number, EtherType, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice,
    TransportSlice,
};
use std::borrow::Cow;
use std::net::IpAddr;

/// Most VLAN tags peeled from one Ethernet frame.
const MAX_VLAN_TAGS: usize = 8;
/// Most distinct unsupported link types remembered for the report.
const MAX_UNKNOWN_LINK_TYPES: usize = 16;

/// Decoder settings.
#[derive(Clone, Debug)]
pub struct DecodeConfig {
    /// UDP destination ports treated as VXLAN (4789 by default, plus user-named ports).
    pub vxlan_ports: Vec<u16>,
    /// UDP destination ports treated as GENEVE (6081 by default).
    pub geneve_ports: Vec<u16>,
    /// Verify TCP checksums of completely captured segments (costs throughput; default on).
    pub verify_checksums: bool,
    /// Most nested mirror tunnels peeled from one frame (default 4).
    pub max_tunnel_depth: u8,
    /// Most IP datagrams reassembled at once (default 1024); the oldest is dropped beyond.
    pub max_fragment_datagrams: usize,
    /// Most bytes buffered for IP reassembly (default 16 MiB); the oldest is dropped beyond.
    pub max_fragment_bytes: usize,
    /// A datagram still incomplete this long (capture time) after its first fragment is
    /// dropped (default 30 s, as Linux's `ipfrag_time`).
    pub fragment_timeout: Duration,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            vxlan_ports: vec![4789],
            geneve_ports: vec![6081],
            verify_checksums: true,
            max_tunnel_depth: 4,
            max_fragment_datagrams: 1024,
            max_fragment_bytes: 16 << 20,
            fragment_timeout: Duration::from_millis(30_000),
        }
    }
}

/// Counters of what the decoder saw and skipped, for the report.
///
/// Every frame lands in exactly one of `tcp`, `icmp_errors`, `other`, `malformed`,
/// `unknown_link`, or (for a fragment still waiting for the rest of its datagram) `other`.
#[derive(Clone, Debug, Default)]
pub struct DecodeStats {
    /// Frames handed to the decoder.
    pub frames: u64,
    /// Inner TCP segments produced.
    pub tcp: u64,
    /// ICMP errors quoting TCP.
    pub icmp_errors: u64,
    /// Frames that were neither (UDP, ARP, other protocols).
    pub other: u64,
    /// Frames whose headers were cut or malformed, so nothing could be decoded.
    pub malformed: u64,
    /// Of `malformed`, the frames cut short by the snap length or the mirror session's packet
    /// length inside their own headers (the snap length is too small to read anything).
    pub header_cut: u64,
    /// Frames of a link type the decoder does not know.
    pub unknown_link: u64,
    /// Frames truncated by the capture (caplen < wire length) or by the mirror session (inner
    /// IP length larger than what was carried).
    pub truncated: u64,
    /// TCP segments whose checksum was checked and wrong (never dropped).
    pub bad_checksum: u64,
    /// IPv4/IPv6 fragments seen.
    pub ip_fragments: u64,
    /// Fragmented datagrams reassembled.
    pub ip_reassembled: u64,
    /// Frames carried in VXLAN.
    pub vxlan: u64,
    /// Frames carried in GENEVE.
    pub geneve: u64,
    /// Distinct unsupported link types seen (at most 16), for "link type N is not supported".
    pub unknown_link_types: Vec<u32>,
    /// UDP datagrams to a VXLAN/GENEVE port whose tunnel header was invalid, or tunnels nested
    /// deeper than the cap (counted as `other`).
    pub bad_tunnel: u64,
    /// Fragments dropped: truncated by the capture, or conflicting with earlier fragments.
    pub fragments_dropped: u64,
    /// Pending datagrams dropped because the reassembly caps were reached.
    pub reassembly_evicted: u64,
    /// Pending datagrams dropped because they were still incomplete after
    /// [`DecodeConfig::fragment_timeout`].
    pub reassembly_expired: u64,
}

/// Decodes frames; holds IP fragment reassembly state and counters.
pub struct Decoder {
    config: DecodeConfig,
    stats: DecodeStats,
    defrag: Reassembler,
    /// Set while decoding a frame when some payload was cut off.
    frame_truncated: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecodeConfig::default())
    }
}

/// What [`Decoder::fast_ipv4`] sliced: the IP facts and the transport.
struct FastIpv4<'a> {
    info: IpInfo,
    transport: FastTransport<'a>,
}

/// The transport of a packet on the fast path.
enum FastTransport<'a> {
    /// A TCP header (and payload) that parsed.
    Tcp(TcpSlice<'a>),
    /// A UDP datagram: destination port and payload.
    Udp {
        /// Destination port.
        dst_port: u16,
        /// Payload (as far as the UDP length and the captured bytes go).
        payload: &'a [u8],
    },
}

/// IP-level facts of one (inner) packet.
struct IpInfo {
    src: IpAddr,
    dst: IpAddr,
    ip_id: Option<u16>,
    ip_len: u32,
    /// Bytes from the start of the IP header to the transport header.
    header_len: usize,
    /// Transport length the IP header declares, when it declares one.
    l4_declared: Option<usize>,
}

impl Decoder {
    /// A decoder with the given settings.
    pub fn new(config: DecodeConfig) -> Self {
        let defrag = Reassembler::new(
            config.max_fragment_datagrams,
            config.max_fragment_bytes,
            config.fragment_timeout.0,
        );
        Decoder {
            config,
            stats: DecodeStats::default(),
            defrag,
            frame_truncated: false,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// IP reassembly state: (datagrams waiting for fragments, bytes buffered for them).
    pub fn reassembly_usage(&self) -> (usize, usize) {
        (self.defrag.pending(), self.defrag.buffered_bytes())
    }

    /// Decodes one frame; `None` when it carries nothing the later layers use (no IP, unknown
    /// link type, malformed headers).
    pub fn decode<'a>(&mut self, packet: &PacketRef<'a>) -> Option<Decoded<'a>> {
        self.stats.frames += 1;
        self.defrag.set_now(packet.ts.0);
        let cut = usize::try_from(packet.orig_len)
            .unwrap_or(usize::MAX)
            .saturating_sub(packet.data.len());
        self.frame_truncated = cut > 0;
        let malformed_before = self.stats.malformed;
        let fixed = if packet.link == LinkType::ETHERNET {
            self.vxlan_fixed(packet.data, cut)
        } else {
            None
        };
        let result = match fixed {
            Some(d) => Some(d),
            None => self.decode_link(packet, cut),
        };
        if self.frame_truncated {
            self.stats.truncated += 1;
            if self.stats.malformed > malformed_before {
                self.stats.header_cut += 1;
            }
        }
        self.stats.reassembly_evicted = self.defrag.evicted;
        self.stats.reassembly_expired = self.defrag.expired;
        result
    }

    /// Decodes a frame by its link type (the general path of [`Decoder::decode`]).
    fn decode_link<'a>(&mut self, packet: &PacketRef<'a>, cut: usize) -> Option<Decoded<'a>> {
        match link::peel(packet.link, packet.data) {
            Link::Net(input) => self.decode_net(input, MirrorSession::DIRECT, 0, cut),
            Link::NotIp => {
                self.stats.other += 1;
                None
            }
            Link::Malformed => {
                self.stats.malformed += 1;
                None
            }
            Link::Unsupported => {
                self.stats.unknown_link += 1;
                let types = &mut self.stats.unknown_link_types;
                if !types.contains(&packet.link.0) && types.len() < MAX_UNKNOWN_LINK_TYPES {
                    types.push(packet.link.0);
                    types.sort_unstable();
                }
                None
            }
        }
    }

    /// Runs etherparse on `input`, continuing past its 3-tag VLAN limit up to [`MAX_VLAN_TAGS`].
    fn slice(input: NetInput<'_>) -> Option<LaxSlicedPacket<'_>> {
        let mut sliced = match input {
            NetInput::Ethernet(b) => LaxSlicedPacket::from_ethernet(b).ok()?,
            NetInput::EtherType(et, b) => LaxSlicedPacket::from_ether_type(et, b),
            NetInput::Ip(b) => LaxSlicedPacket::from_ip(b).ok()?,
        };
        let mut tags = sliced.link_exts.len();
        while sliced.net.is_none() && sliced.stop_err.is_none() && sliced.link_exts.is_full() {
            let next = match sliced.link_exts.last() {
                Some(LaxLinkExtSlice::Vlan(v)) => v.payload(),
                _ => break,
            };
            let is_vlan = matches!(
                next.ether_type,
                ether_type::VLAN_TAGGED_FRAME
                    | ether_type::PROVIDER_BRIDGING
                    | ether_type::VLAN_DOUBLE_TAGGED_FRAME
            );
            if !is_vlan || tags >= MAX_VLAN_TAGS {
                break;
            }
            sliced = LaxSlicedPacket::from_ether_type(next.ether_type, next.payload);
            tags += sliced.link_exts.len();
        }
        Some(sliced)
    }

    /// The common case without etherparse's slicing: an IPv4 packet, plain or in an Ethernet
    /// frame without VLAN tags, not fragmented, carrying TCP (whose header parses) or UDP (at
    /// least a UDP header). The IPv4 and UDP lengths are read as etherparse's lax slicing reads
    /// them (`LaxIpSlice::from_slice`, `UdpSlice::from_slice_lax`: a total length below the
    /// header or beyond the captured bytes falls back to the captured bytes), and TCP is
    /// etherparse's `TcpSlice::from_slice`, so the result is the same; anything else (`None`)
    /// goes through [`Decoder::slice`].
    #[inline(always)]
    fn fast_ipv4(input: NetInput<'_>) -> Option<FastIpv4<'_>> {
        let ip = match input {
            NetInput::Ethernet([_, _, _, _, _, _, _, _, _, _, _, _, 0x08, 0x00, rest @ ..]) => rest,
            NetInput::EtherType(et, b) if et == ether_type::IPV4 => b,
            NetInput::Ip(b) => b,
            _ => return None,
        };
        let fixed: &[u8; 20] = ip.get(..20)?.try_into().ok()?;
        if fixed[0] >> 4 != 4 {
            return None;
        }
        let header_len = usize::from(fixed[0] & 0x0f) * 4;
        // More fragments, or a fragment offset: reassembly, on the slow path.
        if header_len < 20 || ip.len() < header_len || fixed[6] & 0x3f != 0 || fixed[7] != 0 {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        let declared = total >= header_len;
        let end = if declared && total <= ip.len() {
            total
        } else {
            ip.len()
        };
        let payload = ip.get(header_len..end)?;
        let transport = match fixed[9] {
            6 => FastTransport::Tcp(TcpSlice::from_slice(payload).ok()?),
            17 => {
                let udp: &[u8; 8] = payload.get(..8)?.try_into().ok()?;
                let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
                let datagram = if len < 8 || len > payload.len() {
                    payload
                } else {
                    payload.get(..len)?
                };
                FastTransport::Udp {
                    dst_port: u16::from_be_bytes([udp[2], udp[3]]),
                    payload: datagram.get(8..)?,
                }
            }
            _ => return None,
        };
        let src: [u8; 4] = fixed[12..16].try_into().ok()?;
        let dst: [u8; 4] = fixed[16..20].try_into().ok()?;
        Some(FastIpv4 {
            info: IpInfo {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
                ip_id: Some(u16::from_be_bytes([fixed[4], fixed[5]])),
                ip_len: if declared {
                    total as u32
                } else {
                    (header_len + payload.len()) as u32
                },
                header_len,
                l4_declared: declared.then(|| total - header_len),
            },
            transport,
        })
    }

    /// Decodes what [`Decoder::fast_ipv4`] sliced (the same steps as [`Decoder::decode_net`]
    /// for an unfragmented IPv4 packet carrying TCP or UDP).
    fn decode_fast<'a>(
        &mut self,
        fast: FastIpv4<'a>,
        session: MirrorSession,
        depth: u8,
        cut: usize,
    ) -> Option<Decoded<'a>> {
        let info = fast.info;
        let transport = match fast.transport {
            FastTransport::Tcp(tcp) => {
                let seg = self.tcp_segment(&tcp, &info, cut, false, Cow::Borrowed(tcp.payload()));
                self.stats.tcp += 1;
                Transport::Tcp(seg)
            }
            FastTransport::Udp { dst_port, payload } => {
                if depth == 0 {
                    if let Some(inner) = self.vxlan_tcp(dst_port, payload, info.src, cut) {
                        return Some(inner);
                    }
                }
                if let Some(inner) = self.tunnel(dst_port, payload, info.src, session, depth, cut) {
                    return inner;
                }
                self.stats.other += 1;
                Transport::Other
            }
        };
        Some(Decoded {
            session,
            src: info.src,
            dst: info.dst,
            ip_id: info.ip_id,
            ip_len: info.ip_len,
            transport,
        })
    }

    /// The mirror's common case in one step: a VXLAN datagram (at the first tunnel level)
    /// carrying an unfragmented IPv4 TCP segment in an Ethernet frame, decoded as
    /// [`Decoder::tunnel`] and [`Decoder::decode_net`] would (same result, same counters) but
    /// without the general recursion. `None`, having changed nothing, for anything else.
    fn vxlan_tcp<'a>(
        &mut self,
        port: u16,
        payload: &'a [u8],
        outer_src: IpAddr,
        cut: usize,
    ) -> Option<Decoded<'a>> {
        // The default port first: `contains` is a call per packet.
        let ports = &self.config.vxlan_ports;
        let vxlan = ports.first() == Some(&port) || ports.contains(&port);
        if self.config.max_tunnel_depth == 0 || !vxlan {
            return None;
        }
        let t = tunnel::vxlan(payload)?;
        let inner = Self::fast_ipv4(t.inner)?;
        let FastTransport::Tcp(tcp) = inner.transport else {
            return None;
        };
        self.stats.vxlan += 1;
        let info = inner.info;
        let seg = self.tcp_segment(&tcp, &info, cut, false, Cow::Borrowed(tcp.payload()));
        self.stats.tcp += 1;
        Some(Decoded {
            session: MirrorSession {
                encap: Encap::Vxlan,
                vni: Some(t.vni),
                outer_src: Some(outer_src),
            },
            src: info.src,
            dst: info.dst,
            ip_id: info.ip_id,
            ip_len: info.ip_len,
            transport: Transport::Tcp(seg),
        })
    }

    /// The mirror's common frame read at fixed offsets: Ethernet without VLAN tags, IPv4
    /// without options, not fragmented, UDP to a VXLAN port, VXLAN, Ethernet, IPv4 (not
    /// fragmented) carrying TCP whose header parses and whose bytes are all captured. The same
    /// result and counters as [`Decoder::decode_net`] through [`Decoder::fast_ipv4`] and
    /// [`Decoder::vxlan_tcp`] (the lengths read as they read them), without building the outer
    /// packet's facts nor the steps between; `None`, having changed nothing, for any other
    /// frame (then the general path decodes it).
    #[inline(always)]
    fn vxlan_fixed<'a>(&mut self, data: &'a [u8], cut: usize) -> Option<Decoded<'a>> {
        // Outer Ethernet (14) + IPv4 (20) + UDP (8).
        let (head, _) = data.split_first_chunk::<42>()?;
        let ip = data.get(14..)?;
        if head[12..14] != [0x08, 0x00]
            || head[14] != 0x45
            || head[20] & 0x3f != 0
            || head[21] != 0
            || head[23] != 17
            || self.config.max_tunnel_depth == 0
        {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([head[16], head[17]]));
        let end = if total >= 20 && total <= ip.len() {
            total
        } else {
            ip.len()
        };
        // The UDP header is `head[34..42]` when the IP payload holds it.
        let udp = ip.get(20..end)?;
        let udp_len = usize::from(u16::from_be_bytes([head[38], head[39]]));
        if udp.len() < 8 {
            return None;
        }
        let datagram = if udp_len < 8 || udp_len > udp.len() {
            udp
        } else {
            udp.get(..udp_len)?
        };
        let vx = datagram.get(8..)?;
        let port = u16::from_be_bytes([head[36], head[37]]);
        let ports = &self.config.vxlan_ports;
        if !(ports.first() == Some(&port) || ports.contains(&port)) {
            return None;
        }
        // VXLAN (8, the I flag set) + inner Ethernet (14) + inner IPv4 (20 fixed bytes).
        let (inner, _) = vx.split_first_chunk::<42>()?;
        if inner[0] & 0x08 == 0 || inner[20..22] != [0x08, 0x00] || inner[22] >> 4 != 4 {
            return None;
        }
        let vni = u32::from_be_bytes([0, inner[4], inner[5], inner[6]]);
        let fixed = &inner[22..42];
        let inner_ip = vx.get(22..)?;
        let header_len = usize::from(fixed[0] & 0x0f) * 4;
        if header_len < 20 || inner_ip.len() < header_len || fixed[6] & 0x3f != 0 || fixed[7] != 0 {
            return None;
        }
        if fixed[9] != 6 {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        let declared = total >= header_len;
        let end = if declared && total <= inner_ip.len() {
            total
        } else {
            inner_ip.len()
        };
        let l4 = inner_ip.get(header_len..end)?;
        let tcp = TcpSlice::from_slice(l4).ok()?;
        let src = IpAddr::from([fixed[12], fixed[13], fixed[14], fixed[15]]);
        let dst = IpAddr::from([fixed[16], fixed[17], fixed[18], fixed[19]]);
        let info = IpInfo {
            src,
            dst,
            ip_id: Some(u16::from_be_bytes([fixed[4], fixed[5]])),
            ip_len: if declared {
                total as u32
            } else {
                (header_len + l4.len()) as u32
            },
            header_len,
            l4_declared: declared.then(|| total - header_len),
        };
        self.stats.vxlan += 1;
        let seg = self.tcp_segment(&tcp, &info, cut, false, Cow::Borrowed(tcp.payload()));
        self.stats.tcp += 1;
        Some(Decoded {
            session: MirrorSession {
                encap: Encap::Vxlan,
                vni: Some(vni),
                outer_src: Some(IpAddr::from([head[26], head[27], head[28], head[29]])),
            },
            src,
            dst,
            ip_id: info.ip_id,
            ip_len: info.ip_len,
            transport: Transport::Tcp(seg),
        })
    }

    /// A UDP datagram to a VXLAN or GENEVE port: the inner packet decoded (`Some`, whatever
    /// its outcome); `None` when the port is no tunnel's or the tunnel header is invalid
    /// (counted in `bad_tunnel`) or nested too deep.
    fn tunnel<'a>(
        &mut self,
        port: u16,
        payload: &'a [u8],
        outer_src: IpAddr,
        session: MirrorSession,
        depth: u8,
        cut: usize,
    ) -> Option<Option<Decoded<'a>>> {
        let encap = if self.config.vxlan_ports.contains(&port) {
            Encap::Vxlan
        } else if self.config.geneve_ports.contains(&port) {
            Encap::Geneve
        } else {
            return None;
        };
        let parsed = if depth >= self.config.max_tunnel_depth {
            None
        } else if encap == Encap::Vxlan {
            tunnel::vxlan(payload)
        } else {
            tunnel::geneve(payload)
        };
        let Some(t) = parsed else {
            self.stats.bad_tunnel += 1;
            return None;
        };
        if encap == Encap::Vxlan {
            self.stats.vxlan += 1;
        } else {
            self.stats.geneve += 1;
        }
        let inner_session = if session.encap == Encap::None {
            MirrorSession {
                encap,
                vni: Some(t.vni),
                outer_src: Some(outer_src),
            }
        } else {
            session
        };
        Some(self.decode_net(t.inner, inner_session, depth + 1, cut))
    }

    /// Decodes what follows the link layer; counts the frame's class.
    fn decode_net<'a>(
        &mut self,
        input: NetInput<'a>,
        session: MirrorSession,
        depth: u8,
        cut: usize,
    ) -> Option<Decoded<'a>> {
        if let Some(fast) = Self::fast_ipv4(input) {
            return self.decode_fast(fast, session, depth, cut);
        }
        let Some(sliced) = Self::slice(input) else {
            self.stats.malformed += 1;
            return None;
        };
        if sliced.net.is_none() {
            self.count_not_ip(&sliced);
            return None;
        }
        let (net, transport) = (sliced.net, sliced.transport);
        let (info, payload) = match &net {
            Some(LaxNetSlice::Ipv4(ip)) => {
                let h = ip.header();
                let hdr = h.slice();
                let payload = ip.payload();
                let header_len = offset_in(hdr, payload.payload).unwrap_or(hdr.len());
                let total = usize::from(h.total_len());
                let declared = total >= hdr.len();
                let info = IpInfo {
                    src: IpAddr::from(h.source_addr()),
                    dst: IpAddr::from(h.destination_addr()),
                    ip_id: Some(h.identification()),
                    ip_len: if declared {
                        total as u32
                    } else {
                        (header_len + payload.payload.len()) as u32
                    },
                    header_len,
                    l4_declared: if declared {
                        total.checked_sub(header_len)
                    } else {
                        None
                    },
                };
                (info, payload)
            }
            Some(LaxNetSlice::Ipv6(ip)) => {
                let h = ip.header();
                let payload = ip.payload();
                let header_len = offset_in(h.slice(), payload.payload).unwrap_or(40);
                let plen = usize::from(h.payload_length());
                let info = IpInfo {
                    src: IpAddr::from(h.source_addr()),
                    dst: IpAddr::from(h.destination_addr()),
                    ip_id: None,
                    ip_len: if plen > 0 {
                        (plen + 40) as u32
                    } else {
                        (header_len + payload.payload.len()) as u32
                    },
                    header_len,
                    l4_declared: if plen > 0 {
                        (plen + 40).checked_sub(header_len)
                    } else {
                        None
                    },
                };
                (info, payload)
            }
            Some(LaxNetSlice::Arp(_)) => {
                self.stats.other += 1;
                return None;
            }
            None => return None,
        };
        let base = |transport| Decoded {
            session,
            src: info.src,
            dst: info.dst,
            ip_id: info.ip_id,
            ip_len: info.ip_len,
            transport,
        };

        if payload.fragmented {
            let (transport, whole_len) = self.fragment(&net, &info, session, payload.incomplete);
            let mut d = base(transport);
            if let Some(len) = whole_len {
                d.ip_len = len;
            }
            return Some(d);
        }

        let transport = match &transport {
            Some(TransportSlice::Tcp(tcp)) => {
                let seg = self.tcp_segment(tcp, &info, cut, false, Cow::Borrowed(tcp.payload()));
                Transport::Tcp(seg)
            }
            Some(TransportSlice::Udp(udp)) => {
                let (port, payload) = (udp.destination_port(), udp.payload());
                if let Some(inner) = self.tunnel(port, payload, info.src, session, depth, cut) {
                    return inner;
                }
                Transport::Other
            }
            Some(TransportSlice::Icmpv4(icmp)) => {
                icmp::quoted_tcp(false, icmp.type_u8(), icmp.code_u8(), icmp.payload())
                    .map_or(Transport::Other, Transport::IcmpError)
            }
            Some(TransportSlice::Icmpv6(icmp)) => {
                icmp::quoted_tcp(true, icmp.type_u8(), icmp.code_u8(), icmp.payload())
                    .map_or(Transport::Other, Transport::IcmpError)
            }
            _ => Transport::Other,
        };
        match &transport {
            Transport::Tcp(_) => self.stats.tcp += 1,
            Transport::IcmpError(_) => self.stats.icmp_errors += 1,
            Transport::Other => {
                if payload.ip_number == ip_number::TCP {
                    // TCP whose header was cut or invalid.
                    self.stats.malformed += 1;
                    self.frame_truncated |= payload.incomplete;
                } else {
                    self.stats.other += 1;
                }
            }
        }
        Some(base(transport))
    }

    /// Counts a frame whose slicing found no IP: a non-IP ether type, or an IP header that did
    /// not parse.
    fn count_not_ip(&mut self, sliced: &LaxSlicedPacket<'_>) {
        let ip_expected = sliced.stop_err.is_some()
            || matches!(
                sliced.link_exts.last().map(|e| match e {
                    LaxLinkExtSlice::Vlan(v) => v.payload().ether_type,
                    LaxLinkExtSlice::Macsec(_) => EtherType(0),
                }),
                Some(ether_type::IPV4 | ether_type::IPV6)
            );
        if ip_expected {
            self.stats.malformed += 1;
        } else {
            self.stats.other += 1;
        }
    }

    /// Builds a [`TcpSegment`]; `reassembled` segments are complete by construction.
    fn tcp_segment<'a>(
        &mut self,
        tcp: &TcpSlice<'_>,
        info: &IpInfo,
        cut: usize,
        reassembled: bool,
        payload: Cow<'a, [u8]>,
    ) -> TcpSegment<'a> {
        let captured = tcp.slice().len();
        let missing = match info.l4_declared {
            Some(declared) if !reassembled => declared.saturating_sub(captured),
            Some(_) => 0,
            // The IP header declares no length (TSO capture, jumbogram): only the capture's own
            // cut tells.
            None => cut,
        };
        if missing > 0 {
            self.frame_truncated = true;
        }
        let complete = missing == 0 && (info.l4_declared.is_some() || reassembled);
        let checksum_ok = if self.config.verify_checksums && complete {
            tcp_checksum(info.src, info.dst, tcp.slice())
                .map(|c| checksum_matches(c, tcp.checksum()))
        } else {
            None
        };
        if checksum_ok == Some(false) {
            self.stats.bad_checksum += 1;
        }
        TcpSegment {
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: TcpFlags {
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                psh: tcp.psh(),
            },
            window: tcp.window_size(),
            payload,
            missing_payload: u32::try_from(missing).unwrap_or(u32::MAX),
            checksum_ok,
        }
    }

    /// Feeds an IP fragment to reassembly; a completed TCP datagram comes back as a segment
    /// with an owned payload, with the reassembled datagram's IP length. Counts the frame's
    /// class.
    fn fragment<'a>(
        &mut self,
        net: &Option<LaxNetSlice<'_>>,
        info: &IpInfo,
        session: MirrorSession,
        incomplete: bool,
    ) -> (Transport<'a>, Option<u32>) {
        self.stats.ip_fragments += 1;
        let frag = match net {
            Some(LaxNetSlice::Ipv4(ip)) => {
                let h = ip.header();
                Some((
                    u32::from(h.identification()),
                    h.fragments_offset(),
                    h.more_fragments(),
                    ip.payload().ip_number,
                    ip.payload().payload,
                ))
            }
            Some(LaxNetSlice::Ipv6(ip)) => super::ipv6::fragment_header(ip.extensions()).map(|f| {
                (
                    f.identification(),
                    f.fragment_offset(),
                    f.more_fragments(),
                    ip.payload().ip_number,
                    ip.payload().payload,
                )
            }),
            _ => None,
        };
        let Some((id, offset, more, protocol, data)) = frag else {
            self.stats.other += 1;
            return (Transport::Other, None);
        };
        if incomplete {
            // A fragment cut by the capture cannot be reassembled.
            self.stats.fragments_dropped += 1;
            self.stats.other += 1;
            self.frame_truncated = true;
            return (Transport::Other, None);
        }
        let key = FragKey {
            session,
            src: info.src,
            dst: info.dst,
            id,
            protocol: protocol.0,
        };
        let whole = match self.defrag.add(key, offset, more, data) {
            FragOutcome::Complete(v) => v,
            FragOutcome::Pending => {
                self.stats.other += 1;
                return (Transport::Other, None);
            }
            FragOutcome::Invalid => {
                self.stats.fragments_dropped += 1;
                self.stats.other += 1;
                return (Transport::Other, None);
            }
        };
        self.stats.ip_reassembled += 1;
        if protocol != ip_number::TCP {
            self.stats.other += 1;
            return (Transport::Other, None);
        }
        let reassembled_info = IpInfo {
            src: info.src,
            dst: info.dst,
            ip_id: info.ip_id,
            ip_len: (info.header_len + whole.len()) as u32,
            header_len: info.header_len,
            l4_declared: Some(whole.len()),
        };
        let (seg, header_len) = match TcpSlice::from_slice(&whole) {
            Ok(tcp) => {
                let seg = self.tcp_segment(&tcp, &reassembled_info, 0, true, Cow::Borrowed(&[]));
                (seg, tcp.header_len())
            }
            Err(_) => {
                self.stats.malformed += 1;
                return (Transport::Other, None);
            }
        };
        let mut payload = whole;
        payload.drain(..header_len.min(payload.len()));
        self.stats.tcp += 1;
        let ip_len = reassembled_info.ip_len;
        (
            Transport::Tcp(TcpSegment {
                payload: Cow::Owned(payload),
                ..seg
            }),
            Some(ip_len),
        )
    }
}

/// Offset of `inner` (a sub-slice) from the start of `outer`, when it lies within 64 KiB.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let off = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (off <= 0x1_0000 + 40).then_some(off)
}

/// Compares a computed TCP checksum with the one sent (0x0000 and 0xFFFF are both zero in
/// one's complement).
fn checksum_matches(computed: u16, sent: u16) -> bool {
    computed == sent || (computed == 0xffff && sent == 0) || (computed == 0 && sent == 0xffff)
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    /// An IPv4 packet with the given header fields; the transport's length fields set.
    fn packet(ihl: u8, total: u16, frag: u16, proto: u8, body: &[u8], l4: u16) -> Vec<u8> {
        let mut p = vec![0x40 | ihl, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0x12, 0x34]);
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 192, 168, 7, 9]);
        p.resize(usize::from(ihl.max(5)) * 4, 1);
        let at = p.len();
        p.extend_from_slice(body);
        if proto == 6 && body.len() > 12 {
            p[at + 12] = (l4 as u8) << 4;
        }
        if proto == 17 && body.len() > 5 {
            p[at + 4..at + 6].copy_from_slice(&l4.to_be_bytes());
        }
        p
    }

    /// A VXLAN frame: outer Ethernet, IPv4 (`outer_ihl`, total `outer_total`), UDP (length
    /// `udp_len`, to `port`), VXLAN (`flags`), inner Ethernet (`ether`), then `inner` (an
    /// inner IP packet as [`packet`] builds it).
    fn vxlan_frame(
        outer_ihl: u8,
        outer_total: Option<u16>,
        udp_len: Option<u16>,
        port: u16,
        flags: u8,
        ether: [u8; 2],
        inner: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        let mut tunnel = vec![0x30, 0x39];
        tunnel.extend_from_slice(&port.to_be_bytes());
        let udp_total = (8 + 8 + 14 + inner.len()) as u16;
        tunnel.extend_from_slice(&udp_len.unwrap_or(udp_total).to_be_bytes());
        tunnel.extend_from_slice(&[0, 0, flags, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        tunnel.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 4]);
        tunnel.extend_from_slice(&ether);
        tunnel.extend_from_slice(inner);
        let ihl = usize::from(outer_ihl.max(5)) * 4;
        let total = outer_total.unwrap_or((ihl + tunnel.len()) as u16);
        let ip = packet(outer_ihl, total, 0, 17, &[], 0);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&tunnel);
        f
    }

    #[test]
    fn vxlan_fixed_takes_the_mirror_frame() {
        let mut tcp = vec![0u8; 30];
        tcp[12] = 5 << 4;
        let inner = packet(5, 50, 0x4000, 6, &tcp, 5);
        let frame = vxlan_frame(5, None, None, 4789, 0x08, [0x08, 0x00], &inner);
        let mut d = Decoder::default();
        let Some(decoded) = d.vxlan_fixed(&frame, 0) else {
            panic!("not taken");
        };
        assert_eq!(decoded.session.vni, Some(0x123456));
        assert_eq!(decoded.ip_len, 50);
        let Transport::Tcp(seg) = decoded.transport else {
            panic!("not TCP");
        };
        assert_eq!(seg.payload.len(), 10);
        assert_eq!((d.stats.vxlan, d.stats.tcp), (1, 1));
    }

    proptest! {
        /// The fixed-offset VXLAN path decodes (and counts) every frame as the general path.
        #[test]
        fn vxlan_fixed_decodes_as_general_path(
            outer_ihl in prop_oneof![Just(5u8), 5u8..=7],
            outer_total in prop_oneof![Just(None), any::<u16>().prop_map(Some)],
            udp_len in prop_oneof![Just(None), any::<u16>().prop_map(Some)],
            port in prop_oneof![Just(4789u16), Just(6081u16), any::<u16>()],
            flags in prop_oneof![Just(0x08u8), any::<u8>()],
            ether in prop_oneof![Just([0x08u8, 0x00]), any::<[u8; 2]>()],
            ihl in prop_oneof![Just(5u8), 0u8..=15],
            total in prop_oneof![0u16..120, any::<u16>()],
            frag in prop_oneof![Just(0u16), Just(0x4000u16), any::<u16>()],
            proto in prop_oneof![Just(6u8), Just(17u8), any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..100),
            l4 in prop_oneof![5u16..16, 0u16..120, any::<u16>()],
            cut in prop_oneof![Just(0u32), 0u32..200],
            keep in prop_oneof![Just(usize::MAX), 0usize..200],
        ) {
            let inner = packet(ihl, total, frag, proto, &body, l4);
            let mut frame =
                vxlan_frame(outer_ihl, outer_total, udp_len, port, flags, ether, &inner);
            frame.truncate(keep);
            let pkt = PacketRef {
                pos: crate::capture::PacketPos { file: 0, number: 1, offset: 0 },
                ts: crate::capture::Timestamp(1),
                link: LinkType::ETHERNET,
                orig_len: frame.len() as u32 + cut,
                data: &frame,
            };
            let mut fast = Decoder::default();
            let mut general = Decoder::default();
            let a = fast.decode(&pkt);
            general.stats.frames += 1;
            general.frame_truncated = cut > 0;
            let b = general.decode_link(&pkt, cut as usize);
            if general.frame_truncated {
                general.stats.truncated += 1;
                if general.stats.malformed > 0 {
                    general.stats.header_cut += 1;
                }
            }
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            prop_assert_eq!(format!("{:?}", fast.stats), format!("{:?}", general.stats));
        }

        /// Slices every packet it takes as etherparse's lax slicing does (the slow path).
        #[test]
        fn fast_ipv4_slices_as_etherparse(
            ihl in prop_oneof![Just(5u8), 0u8..=15],
            total in prop_oneof![0u16..120, any::<u16>()],
            frag in prop_oneof![Just(0u16), Just(0x4000u16), any::<u16>()],
            proto in prop_oneof![Just(6u8), Just(17u8), any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..100),
            l4 in prop_oneof![0u16..16, 0u16..120, any::<u16>()],
        ) {
            let p = packet(ihl, total, frag, proto, &body, l4);
            let Some(fast) = Decoder::fast_ipv4(NetInput::Ip(&p)) else {
                return Ok(());
            };
            let sliced = LaxSlicedPacket::from_ip(&p).expect("etherparse slices it too");
            prop_assert!(sliced.stop_err.is_none());
            let Some(LaxNetSlice::Ipv4(ip)) = &sliced.net else {
                panic!("not IPv4 for etherparse");
            };
            let h = ip.header();
            let payload = ip.payload();
            prop_assert!(!payload.fragmented);
            let header_len = h.slice().len();
            let total = usize::from(h.total_len());
            let declared = total >= header_len;
            let info = &fast.info;
            prop_assert_eq!(info.src, IpAddr::from(h.source_addr()));
            prop_assert_eq!(info.dst, IpAddr::from(h.destination_addr()));
            prop_assert_eq!(info.ip_id, Some(h.identification()));
            prop_assert_eq!(info.header_len, header_len);
            let ip_len = if declared { total } else { header_len + payload.payload.len() };
            prop_assert_eq!(info.ip_len as usize, ip_len);
            prop_assert_eq!(info.l4_declared, declared.then(|| total - header_len));
            match (&fast.transport, &sliced.transport) {
                (FastTransport::Tcp(a), Some(TransportSlice::Tcp(b))) => {
                    prop_assert_eq!(a.slice(), b.slice());
                }
                (FastTransport::Udp { dst_port, payload }, Some(TransportSlice::Udp(b))) => {
                    prop_assert_eq!(*dst_port, b.destination_port());
                    prop_assert_eq!(*payload, b.payload());
                }
                _ => panic!("transport differs"),
            }
        }
    }
}
