//! A decoded packet detached from the capture's buffer, to hand to another thread: its TCP
//! payload is copied into a shared byte buffer (a batch's or a chunk's) and found again there.

use crate::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use crate::decode::{Decoded, IcmpError, MirrorSession, TcpFlags, TcpSegment, Transport};
use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::Range;

/// A decoded packet handed over, its TCP payload in a byte buffer kept beside it.
pub(super) struct OwnedPacket {
    pos: PacketPos,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    session: MirrorSession,
    src: IpAddr,
    dst: IpAddr,
    ip_id: Option<u16>,
    ip_len: u32,
    transport: OwnedTransport,
}

/// [`Transport`] without its borrowed payload (kept small: it is moved through queues).
enum OwnedTransport {
    /// A TCP segment's header fields; its payload is `payload` of the buffer.
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        missing_payload: u32,
        checksum_ok: Option<bool>,
        payload: Range<usize>,
    },
    /// Rare: boxed so the common packet stays small.
    IcmpError(Box<IcmpError>),
    Other,
}

impl OwnedPacket {
    /// Detaches `d` (of `packet`), appending its TCP payload to `bytes`. Inlined: built in
    /// place where it goes (a returned packet was moved by a `memcpy` call).
    #[inline(always)]
    pub(super) fn copy(packet: &PacketRef<'_>, d: &Decoded<'_>, bytes: &mut Vec<u8>) -> Self {
        let transport = match &d.transport {
            Transport::Tcp(seg) => {
                let start = bytes.len();
                bytes.extend_from_slice(&seg.payload);
                OwnedTransport::Tcp {
                    src_port: seg.src_port,
                    dst_port: seg.dst_port,
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags,
                    window: seg.window,
                    missing_payload: seg.missing_payload,
                    checksum_ok: seg.checksum_ok,
                    payload: start..bytes.len(),
                }
            }
            Transport::IcmpError(icmp) => OwnedTransport::IcmpError(Box::new(icmp.clone())),
            Transport::Other => OwnedTransport::Other,
        };
        OwnedPacket {
            pos: packet.pos,
            ts: packet.ts,
            link: packet.link,
            orig_len: packet.orig_len,
            session: d.session,
            src: d.src,
            dst: d.dst,
            ip_id: d.ip_id,
            ip_len: d.ip_len,
            transport,
        }
    }

    /// The packet again, its TCP payload read from `bytes` (the buffer `copy` appended to).
    /// Inlined: built in place for the caller (a returned pair was moved by a `memcpy` call).
    #[inline(always)]
    pub(super) fn view<'a>(&self, bytes: &'a [u8]) -> (PacketRef<'a>, Decoded<'a>) {
        let transport = match &self.transport {
            OwnedTransport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                missing_payload,
                checksum_ok,
                payload,
            } => Transport::Tcp(TcpSegment {
                src_port: *src_port,
                dst_port: *dst_port,
                seq: *seq,
                ack: *ack,
                flags: *flags,
                window: *window,
                payload: Cow::Borrowed(bytes.get(payload.clone()).unwrap_or(&[])),
                missing_payload: *missing_payload,
                checksum_ok: *checksum_ok,
            }),
            OwnedTransport::IcmpError(icmp) => Transport::IcmpError((**icmp).clone()),
            OwnedTransport::Other => Transport::Other,
        };
        let packet = PacketRef {
            pos: self.pos,
            ts: self.ts,
            link: self.link,
            orig_len: self.orig_len,
            data: &[],
        };
        let decoded = Decoded {
            session: self.session,
            src: self.src,
            dst: self.dst,
            ip_id: self.ip_id,
            ip_len: self.ip_len,
            transport,
        };
        (packet, decoded)
    }
}
