//! Frame construction with correct checksums: TCP over IPv4/IPv6 (etherparse's `PacketBuilder`),
//! ICMP/ICMPv6 destination unreachable quoting a packet, link-layer framings (Ethernet, VLAN,
//! Linux SLL/SLL2, raw IP, BSD NULL) and tunnel wrappings (VXLAN, GENEVE).

use etherparse::{
    IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv6Extensions, Ipv6Header, PacketBuilder,
    TcpHeader, TcpOptionElement,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::pcap::LinkType;

/// TCP control flags of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK (the acknowledgment number is valid).
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
}

/// Everything needed to build one TCP/IP packet.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Advertised window.
    pub window: u16,
    /// IPv4 identification (ignored for IPv6).
    pub ip_id: u16,
    /// TTL / hop limit.
    pub ttl: u8,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// MSS option to put on SYN / SYN-ACK segments (with SACK-permitted and window scale).
    pub mss: Option<u16>,
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

fn ip_headers(src: IpAddr, dst: IpAddr, proto: IpNumber, ttl: u8, ip_id: u16) -> IpHeaders {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = Ipv4Header::new(0, ttl, proto, s.octets(), d.octets()).unwrap_or_default();
            h.identification = ip_id;
            h.dont_fragment = true;
            IpHeaders::Ipv4(h, Ipv4Extensions::default())
        }
        _ => IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: 0,
                next_header: proto,
                hop_limit: ttl,
                source: v6(src),
                destination: v6(dst),
            },
            Ipv6Extensions::default(),
        ),
    }
}

/// Builds a TCP segment as an IP packet (no link header), with valid IP and TCP checksums.
pub fn ip_tcp(seg: &TcpSegment<'_>) -> Vec<u8> {
    let mut tcp = TcpHeader::new(seg.src.port(), seg.dst.port(), seg.seq, seg.window);
    tcp.syn = seg.flags.syn;
    tcp.fin = seg.flags.fin;
    tcp.rst = seg.flags.rst;
    tcp.psh = seg.flags.psh;
    tcp.ack = seg.flags.ack;
    if seg.flags.ack {
        tcp.acknowledgment_number = seg.ack;
    }
    if let Some(mss) = seg.mss {
        let _ = tcp.set_options(&[
            TcpOptionElement::MaximumSegmentSize(mss),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
        ]);
    }
    let ip = ip_headers(
        seg.src.ip(),
        seg.dst.ip(),
        IpNumber::TCP,
        seg.ttl,
        seg.ip_id,
    );
    let builder = PacketBuilder::ip(ip).tcp_header(tcp);
    let mut out = Vec::with_capacity(builder.size(seg.payload.len()));
    if builder.write(&mut out, seg.payload).is_err() {
        out.clear();
    }
    out
}

/// Builds an ICMP (IPv4: type 3) or ICMPv6 (type 1) destination-unreachable packet sent by
/// `from` to the source of `quoted` (an IP packet), quoting it (up to 548 bytes) with `code`.
pub fn icmp_unreachable(from: IpAddr, quoted: &[u8], code: u8, ip_id: u16) -> Vec<u8> {
    let quote = quoted.get(..quoted.len().min(548)).unwrap_or(quoted);
    let mut out = Vec::new();
    match (from, quoted.first().map(|b| b >> 4)) {
        (IpAddr::V4(f), Some(4)) if quoted.len() >= 20 => {
            let mut dst = [0u8; 4];
            dst.copy_from_slice(quoted.get(12..16).unwrap_or(&[0; 4]));
            let mut h = Ipv4Header::new(0, 64, IpNumber::ICMP, f.octets(), dst).unwrap_or_default();
            h.identification = ip_id;
            let b = PacketBuilder::ip(IpHeaders::Ipv4(h, Ipv4Extensions::default()))
                .icmpv4_raw(3, code, [0; 4]);
            if b.write(&mut out, quote).is_err() {
                out.clear();
            }
        }
        (_, Some(6)) if quoted.len() >= 40 => {
            let mut dst = [0u8; 16];
            dst.copy_from_slice(quoted.get(8..24).unwrap_or(&[0; 16]));
            let ip = IpHeaders::Ipv6(
                Ipv6Header {
                    traffic_class: 0,
                    flow_label: Default::default(),
                    payload_length: 0,
                    next_header: IpNumber::IPV6_ICMP,
                    hop_limit: 64,
                    source: v6(from),
                    destination: dst,
                },
                Ipv6Extensions::default(),
            );
            let b = PacketBuilder::ip(ip).icmpv6_raw(1, code, [0; 4]);
            if b.write(&mut out, quote).is_err() {
                out.clear();
            }
        }
        _ => {}
    }
    out
}

fn ethertype(ip: &[u8]) -> u16 {
    match ip.first().map(|b| b >> 4) {
        Some(6) => 0x86DD,
        _ => 0x0800,
    }
}

/// Wraps an IP packet in an Ethernet II header.
pub fn ethernet(src_mac: [u8; 6], dst_mac: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + ip.len());
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&ethertype(ip).to_be_bytes());
    out.extend_from_slice(ip);
    out
}

/// How a packet is framed in the capture file (its link type), for link-type variety in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Ethernet II.
    Ethernet,
    /// Ethernet II with one 802.1Q tag carrying this VLAN id.
    EthernetVlan(u16),
    /// Linux cooked capture v1.
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// Raw IP.
    RawIp,
    /// BSD loopback (little-endian address family).
    BsdNull,
}

impl Framing {
    /// The pcap link type of files holding frames of this framing.
    pub fn link_type(self) -> LinkType {
        match self {
            Framing::Ethernet | Framing::EthernetVlan(_) => LinkType::Ethernet,
            Framing::LinuxSll => LinkType::LinuxSll,
            Framing::LinuxSll2 => LinkType::LinuxSll2,
            Framing::RawIp => LinkType::Raw,
            Framing::BsdNull => LinkType::Null,
        }
    }

    /// Frames an IP packet. `outgoing` sets the SLL packet type (4 = sent by us, 0 = to us).
    pub fn frame(self, src_mac: [u8; 6], dst_mac: [u8; 6], outgoing: bool, ip: &[u8]) -> Vec<u8> {
        let et = ethertype(ip);
        let mut out = Vec::with_capacity(24 + ip.len());
        match self {
            Framing::Ethernet => return ethernet(src_mac, dst_mac, ip),
            Framing::EthernetVlan(vid) => {
                out.extend_from_slice(&dst_mac);
                out.extend_from_slice(&src_mac);
                out.extend_from_slice(&0x8100u16.to_be_bytes());
                out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
                out.extend_from_slice(&et.to_be_bytes());
            }
            Framing::LinuxSll => {
                out.extend_from_slice(&(if outgoing { 4u16 } else { 0 }).to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&6u16.to_be_bytes());
                out.extend_from_slice(&src_mac);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&et.to_be_bytes());
            }
            Framing::LinuxSll2 => {
                out.extend_from_slice(&et.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&2u32.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.push(if outgoing { 4 } else { 0 });
                out.push(6);
                out.extend_from_slice(&src_mac);
                out.extend_from_slice(&[0, 0]);
            }
            Framing::RawIp => {}
            Framing::BsdNull => {
                let af: u32 = if et == 0x86DD { 30 } else { 2 };
                out.extend_from_slice(&af.to_le_bytes());
            }
        }
        out.extend_from_slice(ip);
        out
    }
}

/// Deterministic outer UDP source port for a tunnelled flow (per-flow hash, 49152..65535).
pub fn flow_port(flow_hash: u64) -> u16 {
    49152 + (flow_hash % 16384) as u16
}

/// Outer addressing of a tunnel (mirror session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outer {
    /// Outer source MAC.
    pub src_mac: [u8; 6],
    /// Outer destination MAC.
    pub dst_mac: [u8; 6],
    /// Outer source IP (the mirrored ENI).
    pub src: Ipv4Addr,
    /// Outer destination IP (the mirror target).
    pub dst: Ipv4Addr,
    /// Virtual network id (24 bits).
    pub vni: u32,
    /// Outer UDP source port.
    pub src_port: u16,
    /// Outer IPv4 identification.
    pub ip_id: u16,
}

fn udp_wrap(o: &Outer, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut h =
        Ipv4Header::new(0, 64, IpNumber::UDP, o.src.octets(), o.dst.octets()).unwrap_or_default();
    h.identification = o.ip_id;
    let b = PacketBuilder::ethernet2(o.src_mac, o.dst_mac)
        .ip(IpHeaders::Ipv4(h, Ipv4Extensions::default()))
        .udp(o.src_port, dst_port);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    if b.write(&mut out, payload).is_err() {
        out.clear();
    }
    out
}

/// VXLAN (UDP 4789) encapsulation of an inner Ethernet frame, as VPC Traffic Mirroring sends it.
pub fn vxlan(o: &Outer, inner_eth: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + inner_eth.len());
    p.extend_from_slice(&[0x08, 0, 0, 0]);
    p.extend_from_slice(&((o.vni & 0x00ff_ffff) << 8).to_be_bytes());
    p.extend_from_slice(inner_eth);
    udp_wrap(o, 4789, &p)
}

/// GENEVE (UDP 6081) encapsulation of an inner IP packet, as Gateway Load Balancer sends it.
pub fn geneve(o: &Outer, inner_ip: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + inner_ip.len());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&ethertype(inner_ip).to_be_bytes());
    p.extend_from_slice(&((o.vni & 0x00ff_ffff) << 8).to_be_bytes());
    p.extend_from_slice(inner_ip);
    udp_wrap(o, 6081, &p)
}

/// Deterministic locally administered MAC address for an IP address.
pub fn mac_for(ip: IpAddr) -> [u8; 6] {
    let o = v6(ip);
    [0x02, 0x4a, o[12], o[13], o[14], o[15]]
}

/// Convenience: an IPv4 socket address.
pub fn sa4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
}

/// Convenience: an IPv6 socket address.
pub fn sa6(a: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(a), port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn seg(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
        ip_tcp(&TcpSegment {
            src,
            dst,
            seq: 1000,
            ack: 2000,
            flags: TcpFlags {
                ack: true,
                psh: true,
                ..Default::default()
            },
            window: 501,
            ip_id: 0x1234,
            ttl: 64,
            payload,
            mss: None,
        })
    }

    #[test]
    fn tcp_v4_checksums_valid() {
        let ip = seg(
            sa4([10, 0, 1, 5], 40000),
            sa4([10, 0, 2, 9], 80),
            b"GET / HTTP/1.1\r\n\r\n",
        );
        let p = SlicedPacket::from_ip(&ip).expect("parse");
        let Some(NetSlice::Ipv4(v4)) = &p.net else {
            panic!("not v4")
        };
        assert_eq!(v4.header().identification(), 0x1234);
        assert_eq!(
            v4.header().to_header().calc_header_checksum(),
            v4.header().header_checksum()
        );
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!("not tcp")
        };
        let want = t
            .to_header()
            .calc_checksum_ipv4(&v4.header().to_header(), t.payload())
            .expect("sum");
        assert_eq!(want, t.checksum());
        assert_eq!(t.payload(), b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn icmp_quotes_packet() {
        let q = seg(sa4([10, 0, 1, 5], 40000), sa4([10, 0, 2, 9], 80), b"");
        let icmp = icmp_unreachable(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 9)), &q, 3, 7);
        assert_eq!(icmp.get(20), Some(&3));
        assert_eq!(icmp.get(21), Some(&3));
        assert_eq!(icmp.get(28..), Some(&q[..]));
        let q6 = seg(
            sa6("fd00::1".parse().expect("ip"), 40000),
            sa6("fd00::2".parse().expect("ip"), 80),
            b"",
        );
        let icmp6 = icmp_unreachable("fd00::2".parse().expect("ip"), &q6, 4, 0);
        assert_eq!(icmp6.get(40), Some(&1));
        assert_eq!(icmp6.get(41), Some(&4));
    }

    #[test]
    fn vxlan_layout() {
        let ip = seg(sa4([10, 0, 1, 5], 40000), sa4([10, 0, 2, 9], 80), b"x");
        let eth = ethernet([2; 6], [4; 6], &ip);
        let o = Outer {
            src_mac: [6; 6],
            dst_mac: [8; 6],
            src: Ipv4Addr::new(10, 0, 0, 10),
            dst: Ipv4Addr::new(10, 0, 200, 10),
            vni: 0x123456,
            src_port: flow_port(99),
            ip_id: 1,
        };
        let f = vxlan(&o, &eth);
        assert_eq!(f.get(36..38), Some(&4789u16.to_be_bytes()[..]));
        assert_eq!(f.get(42..50), Some(&[8, 0, 0, 0, 0x12, 0x34, 0x56, 0][..]));
        assert_eq!(f.get(50..), Some(&eth[..]));
        let g = geneve(&o, &ip);
        assert_eq!(g.get(36..38), Some(&6081u16.to_be_bytes()[..]));
        assert_eq!(g.get(50..), Some(&ip[..]));
    }

    #[test]
    fn framings_have_expected_header_sizes() {
        let ip = seg(sa4([10, 0, 1, 5], 1), sa4([10, 0, 2, 9], 2), b"");
        for (f, n) in [
            (Framing::Ethernet, 14),
            (Framing::EthernetVlan(5), 18),
            (Framing::LinuxSll, 16),
            (Framing::LinuxSll2, 20),
            (Framing::RawIp, 0),
            (Framing::BsdNull, 4),
        ] {
            assert_eq!(
                f.frame([1; 6], [2; 6], true, &ip).len(),
                ip.len() + n,
                "{f:?}"
            );
        }
    }
}
