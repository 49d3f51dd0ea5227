//! Decode layer: turns a captured frame into a view of its inner IP packet and TCP segment (or
//! ICMP error), peeling link layers (Ethernet, VLAN/QinQ, Linux SLL/SLL2, raw IP, BSD loopback)
//! and mirror encapsulation (VXLAN, GENEVE). Malformed packets are counted, never fatal.

mod checksum;
mod decoder;
mod defrag;
mod icmp;
mod ipv6;
mod link;
mod tunnel;

pub use decoder::{DecodeConfig, DecodeStats, Decoder};
pub use icmp::describe_icmp_error;
pub use link::{describe_unsupported_link, supported_link_types};

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// Which mirror encapsulation carried a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encap {
    /// Captured directly on a host (no tunnel).
    None,
    /// VPC Traffic Mirroring (VXLAN, UDP 4789 or a user-named port).
    Vxlan,
    /// Gateway Load Balancer style GENEVE (UDP 6081).
    Geneve,
}

/// The mirror session an inner packet came from: encapsulation, outer source (the mirrored ENI)
/// and virtual network id. Two packets of one TCP connection seen through different sessions are
/// tracked apart (they are different vantage points or duplicates).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MirrorSession {
    /// Encapsulation kind.
    pub encap: Encap,
    /// VXLAN/GENEVE virtual network id.
    pub vni: Option<u32>,
    /// Outer IP source address (the mirrored ENI).
    pub outer_src: Option<IpAddr>,
}

impl MirrorSession {
    /// Traffic captured directly, without a mirror tunnel.
    pub const DIRECT: MirrorSession = MirrorSession {
        encap: Encap::None,
        vni: None,
        outer_src: None,
    };
}

impl fmt::Display for MirrorSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.encap, self.vni, self.outer_src) {
            (Encap::None, _, _) => write!(f, "direct"),
            (e, vni, src) => {
                write!(f, "{}", if e == Encap::Vxlan { "vxlan" } else { "geneve" })?;
                if let Some(v) = vni {
                    write!(f, " vni {v}")?;
                }
                if let Some(s) = src {
                    write!(f, " from {s}")?;
                }
                Ok(())
            }
        }
    }
}

/// TCP flag bits.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
}

/// A TCP segment, viewing the captured bytes where possible.
#[derive(Clone, Debug)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Advertised window (unscaled).
    pub window: u16,
    /// Payload bytes that were captured (owned only when IP fragments were reassembled).
    pub payload: Cow<'a, [u8]>,
    /// Payload bytes the segment carried on the wire but the capture cut off (snaplen / mirror
    /// truncation). The flow layer records them as a gap.
    pub missing_payload: u32,
    /// `Some(false)` when a checksum could be checked and was wrong; `None` when it could not be
    /// checked (truncated, or not computed). Never a reason to drop the packet.
    pub checksum_ok: Option<bool>,
}

/// The transport-layer content of an inner IP packet.
#[derive(Clone, Debug)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// An ICMP or ICMPv6 error quoting the start of a TCP packet.
    IcmpError(IcmpError),
    /// Anything else (UDP that is not a tunnel, other ICMP, other protocols).
    Other,
}

/// An ICMP/ICMPv6 error message and the TCP header it quotes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IcmpError {
    /// True for ICMPv6.
    pub v6: bool,
    /// ICMP type (3 = destination unreachable, 11 = time exceeded; ICMPv6 1 = unreachable ...).
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// Human description, e.g. "destination unreachable: host unreachable".
    pub description: String,
    /// Source address of the quoted packet (the sender of the packet that failed).
    pub quoted_src: IpAddr,
    /// Destination address of the quoted packet.
    pub quoted_dst: IpAddr,
    /// Source port of the quoted TCP header.
    pub quoted_src_port: u16,
    /// Destination port of the quoted TCP header.
    pub quoted_dst_port: u16,
    /// Sequence number of the quoted TCP header, when the quote is long enough.
    pub quoted_seq: Option<u32>,
}

/// A decoded inner packet.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    /// Mirror session it arrived through.
    pub session: MirrorSession,
    /// Inner IP source.
    pub src: IpAddr,
    /// Inner IP destination.
    pub dst: IpAddr,
    /// IPv4 identification field (`None` for IPv6); tells a duplicated packet (same id) from a
    /// retransmission (new id).
    pub ip_id: Option<u16>,
    /// Inner IP packet length on the wire (IPv4 total length, or IPv6 payload length + 40).
    pub ip_len: u32,
    /// Transport content.
    pub transport: Transport<'a>,
}
