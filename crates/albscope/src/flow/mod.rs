//! Flow layer: TCP connection tracking and per-direction stream reassembly.
//!
//! The [`FlowTracker`] takes decoded packets in capture order and hands a [`FlowSink`] the
//! in-order byte stream of each direction ([`FlowEvent::Data`]), the holes it could not fill
//! ([`FlowEvent::Gap`], never a stall), FIN/RST, and finally a [`ConnSummary`] with the TCP-level
//! timeline of the connection ([`FlowEvent::Close`]). Closed connections are freed at once.

mod budget;
mod community_id;
mod history;
mod reassembly;
mod reorder;
mod segment;
mod tracker;
mod zeek;

pub use budget::BufferBudget;
pub use community_id::{community_id, community_id_seeded};
pub use tracker::{FlowConfig, FlowStats, FlowTracker};

use crate::capture::{Duration, PacketPos, Timestamp};
use crate::decode::{IcmpError, MirrorSession};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// An IP address and port.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    /// `10.0.0.1:80` or `[fd00::1]:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(a) => f.write_str(v4_endpoint(a, self.port).as_str()),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// `a.b.c.d:port` written digit by digit into a stack buffer (the same text as
/// `write!(f, "{a}:{port}")`; reports and flow records write one per connection or event).
fn v4_endpoint(a: std::net::Ipv4Addr, port: u16) -> DigitBuf {
    let mut out = DigitBuf::default();
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.number(u32::from(octet));
    }
    out.push(b':');
    out.number(u32::from(port));
    out
}

/// A short ASCII text built on the stack (at most 21 bytes: `255.255.255.255:65535`).
#[derive(Default)]
struct DigitBuf {
    bytes: [u8; 21],
    len: usize,
}

impl DigitBuf {
    fn push(&mut self, c: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }

    /// `v` in decimal, without leading zeros.
    fn number(&mut self, v: u32) {
        let mut digits = [0u8; 10];
        let mut n = 0;
        let mut v = v;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (v % 10) as u8;
            }
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            self.push(digits.get(i).copied().unwrap_or(b'0'));
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

/// Identifies one TCP connection: the mirror session it was seen through, the originator
/// (`client`, the SYN sender, or the best guess when the SYN was not captured) and the responder.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    /// Mirror session.
    pub session: MirrorSession,
    /// Originator.
    pub client: Endpoint,
    /// Responder.
    pub server: Endpoint,
}

/// A unique number for a connection within one analysis run, in order of first packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnId(pub u64);

/// Direction of a packet or byte stream within a connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// Originator to responder (client to server).
    ToServer,
    /// Responder to originator.
    ToClient,
}

impl Dir {
    /// Index 0 for `ToServer`, 1 for `ToClient`, for per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
    /// The other direction.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}

impl TcpEventKind {
    /// A FIN, captured or proved by the peer's acknowledgement.
    pub fn is_fin(&self) -> bool {
        matches!(self, TcpEventKind::Fin | TcpEventKind::FinNotCaptured)
    }

    /// A close: a FIN (captured or proved) or a RST.
    pub fn is_close(&self) -> bool {
        self.is_fin() || matches!(self, TcpEventKind::Rst)
    }
}

/// What happened to a connection at the TCP level, one entry per event, in time order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TcpEventKind {
    /// A SYN (`retransmission` when the same SYN was seen before).
    Syn {
        /// Repeats an earlier SYN.
        retransmission: bool,
    },
    /// A SYN-ACK (`retransmission` when repeated).
    SynAck {
        /// Repeats an earlier SYN-ACK.
        retransmission: bool,
    },
    /// A FIN.
    Fin,
    /// A FIN the capture lacks (lost by the mirror or the capture) that the peer acknowledged:
    /// its ACK is one past the sender's last byte. Dated just before that ACK's packet (`pos`).
    FinNotCaptured,
    /// A RST.
    Rst,
    /// An ICMP error quoting this connection.
    Icmp(IcmpError),
    /// A data segment whose bytes had all been seen before.
    Retransmission {
        /// Payload length.
        len: u32,
    },
    /// Bytes missing from the stream (capture loss or truncation).
    Gap {
        /// Stream offset where the hole starts.
        offset: u64,
        /// Hole size in bytes.
        len: u64,
    },
    /// Bytes skipped because a memory limit was reached: the out-of-order data waiting behind
    /// the hole hit the per-direction cap or the global buffer budget. They may be in the
    /// capture (unlike a [`TcpEventKind::Gap`]).
    MemorySkipped {
        /// Stream offset where the skipped bytes start.
        offset: u64,
        /// Bytes skipped.
        len: u64,
    },
    /// A retransmitted segment carried bytes that differ from those first seen (first kept).
    Conflict {
        /// Stream offset of the first differing byte.
        offset: u64,
    },
}

/// One TCP-level event with its time, direction and packet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TcpEvent {
    /// When.
    pub ts: Timestamp,
    /// Which packet carried it.
    pub pos: PacketPos,
    /// Sender's direction.
    pub dir: Dir,
    /// What.
    #[serde(flatten)]
    pub kind: TcpEventKind,
}

/// Why the tracker stopped following a connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Both FINs (and their ACKs) or a RST were seen.
    Closed,
    /// No packet for longer than the configured expiry.
    Expired,
    /// The connection table was full and this was the oldest idle entry.
    Evicted,
    /// The capture ended while it was open.
    EndOfCapture,
    /// A new SYN reused the 4-tuple after this connection was done.
    PortReused,
}

/// Per-direction counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Packets sent in this direction (duplicates counted once).
    pub packets: u64,
    /// Bytes on the wire of those packets (IP total length).
    pub wire_bytes: u64,
    /// Payload bytes delivered in order to the stream.
    pub payload_bytes: u64,
    /// Payload bytes missing (gaps; those skipped because of a memory limit included: the
    /// [`TcpEventKind::MemorySkipped`] events tell them apart).
    pub gap_bytes: u64,
    /// Number of separate gaps (including those skipped because of a memory limit).
    pub gaps: u32,
    /// Retransmitted data segments.
    pub retransmissions: u32,
    /// Duplicated packets (the same segment mirrored twice) ignored.
    pub duplicates: u32,
    /// Bytes of the captured frames of this direction on their link (sum of the frames' original
    /// lengths, outer encapsulation included, duplicates included), as `tshark -z conv,tcp`
    /// counts them. Frames = `packets + duplicates`.
    pub frame_bytes: u64,
}

/// Everything the flow layer knows about a finished connection.
#[derive(Clone, Debug)]
pub struct ConnSummary {
    /// Connection number.
    pub id: ConnId,
    /// Who and where.
    pub key: ConnKey,
    /// First packet time.
    pub start: Timestamp,
    /// Last packet time.
    pub end: Timestamp,
    /// First packet's position.
    pub first_pos: PacketPos,
    /// Last packet's position: its last TCP segment or, when later, the last ICMP error matched
    /// to it (for naming the connection's packets, e.g. in a display filter).
    pub last_pos: PacketPos,
    /// Whether the originator's SYN was captured (when not, `client`/`server` are a guess).
    pub saw_syn: bool,
    /// When the originator's ACK of the server's SYN-ACK (the handshake's last packet) was
    /// seen; `None` when the handshake is not in the capture.
    pub handshake_ack: Option<Timestamp>,
    /// Counters, indexed by [`Dir::index`].
    pub dirs: [DirStats; 2],
    /// Zeek-style state: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH.
    pub state: String,
    /// Zeek-style history letters (originator upper case, responder lower case).
    pub history: String,
    /// TCP-level events in time order (capped; see `events_dropped`).
    pub events: Vec<TcpEvent>,
    /// Events not recorded because the cap was reached.
    pub events_dropped: u32,
    /// Why tracking stopped.
    pub close_reason: CloseReason,
    /// The connection was closed out early (evicted) before and this is the rest of it, seen
    /// again mid-stream; it is not counted again in [`FlowStats::connections`].
    pub continuation: bool,
}

/// Why bytes of a stream will never be delivered.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapCause {
    /// The bytes are not in the capture (loss, truncation, ACKed but never seen).
    NotCaptured,
    /// The bytes may be in the capture but were skipped: the data buffered behind the hole hit
    /// the per-direction cap ([`FlowConfig::max_buffered_bytes`]) or the global buffer budget
    /// ([`FlowConfig::max_buffer_memory`]).
    MemoryLimit,
}

impl ConnSummary {
    /// Time of the first event matching `pred`.
    pub fn first_event(&self, pred: impl Fn(&TcpEvent) -> bool) -> Option<&TcpEvent> {
        self.events.iter().find(|e| pred(e))
    }

    /// The handshake's round trip as the capture point splits it: from the (last) SYN to the
    /// SYN-ACK (the way to the server and back, seen from the capture point), and from the
    /// SYN-ACK to the originator's ACK (the way to the originator and back). Their sum is the
    /// connection's round trip wherever it was captured; the first part says where: near the
    /// originator it is the whole round trip, near the server about zero. `None` without the
    /// whole handshake.
    pub fn handshake_split(&self) -> Option<(Duration, Duration)> {
        let ack = self.handshake_ack?;
        let syn_ack = self
            .events
            .iter()
            .find(|e| matches!(e.kind, TcpEventKind::SynAck { .. }))?;
        let syn = self
            .events
            .iter()
            .take_while(|e| e.ts <= syn_ack.ts)
            .filter(|e| matches!(e.kind, TcpEventKind::Syn { .. }))
            .last()?;
        let to_server = syn_ack.ts.since(syn.ts);
        let to_client = ack.since(syn_ack.ts);
        (to_server.0 >= 0 && to_client.0 >= 0).then_some((to_server, to_client))
    }
}

/// What the tracker hands downstream.
#[derive(Debug)]
pub enum FlowEvent<'a> {
    /// A connection's first packet was seen.
    Open {
        /// Who and where.
        key: ConnKey,
        /// When.
        ts: Timestamp,
        /// Which packet.
        pos: PacketPos,
        /// The rest of a connection evicted earlier (see [`ConnSummary::continuation`]).
        continuation: bool,
        /// Whether the originator's SYN was captured (see [`ConnSummary::saw_syn`]): when not,
        /// the connection was opened before the capture (or before an eviction).
        saw_syn: bool,
    },
    /// In-order stream bytes starting at stream offset `offset` (0 = first byte after the SYN).
    Data {
        /// Direction.
        dir: Dir,
        /// Time of the packet that made these bytes available.
        ts: Timestamp,
        /// That packet.
        pos: PacketPos,
        /// Stream offset of `bytes[0]`.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// `len` bytes at `offset` will never be delivered; the stream continues after them.
    Gap {
        /// Direction.
        dir: Dir,
        /// When the tracker gave up waiting.
        ts: Timestamp,
        /// Stream offset of the hole.
        offset: u64,
        /// Hole size.
        len: u64,
        /// Never captured, or skipped by a memory limit.
        cause: GapCause,
    },
    /// A FIN, delivered after all the bytes before it.
    Fin {
        /// Sender's direction.
        dir: Dir,
        /// When.
        ts: Timestamp,
        /// Which packet.
        pos: PacketPos,
    },
    /// A RST.
    Rst {
        /// Sender's direction.
        dir: Dir,
        /// When.
        ts: Timestamp,
        /// Which packet.
        pos: PacketPos,
    },
    /// The connection is finished; no more events for this id.
    Close(Box<ConnSummary>),
}

/// Receives flow events.
pub trait FlowSink {
    /// Called for every event of connection `conn`, in capture order.
    fn on_flow_event(&mut self, conn: ConnId, event: FlowEvent<'_>);
}

#[cfg(test)]
mod display_tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// The hand-written IPv4 endpoint text is `write!("{a}:{port}")`'s.
    #[test]
    fn v4_endpoint_matches_format() {
        for (a, port) in [
            ([0, 0, 0, 0], 0),
            ([255, 255, 255, 255], 65535),
            ([10, 0, 1, 10], 80),
            ([198, 51, 100, 7], 4789),
            ([1, 20, 100, 9], 10000),
        ] {
            let ip = Ipv4Addr::from(a);
            let e = Endpoint {
                ip: IpAddr::V4(ip),
                port,
            };
            assert_eq!(e.to_string(), format!("{ip}:{port}"));
        }
        for x in (0..=u32::MAX).step_by(9_999_991) {
            let ip = Ipv4Addr::from(x);
            let port = (x % 65_536) as u16;
            let e = Endpoint {
                ip: IpAddr::V4(ip),
                port,
            };
            assert_eq!(e.to_string(), format!("{ip}:{port}"));
        }
    }
}
