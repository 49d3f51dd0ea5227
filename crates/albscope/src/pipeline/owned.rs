//! A decoded packet detached from the capture's buffer, to hand to another thread: its TCP
//! payload is copied into a shared byte buffer (a batch's or a chunk's) and found again there.

use crate::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use crate::decode::{Decoded, TcpSegment, Transport};
use std::borrow::Cow;
use std::ops::Range;

/// A decoded packet handed over, its TCP payload in a byte buffer kept beside it.
pub(super) struct OwnedPacket {
    pos: PacketPos,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    /// The decoded packet, its TCP payload empty (it is `payload` of the buffer).
    decoded: Decoded<'static>,
    payload: Range<usize>,
}

impl OwnedPacket {
    /// Detaches `d` (of `packet`), appending its TCP payload to `bytes`.
    pub(super) fn copy(packet: &PacketRef<'_>, d: &Decoded<'_>, bytes: &mut Vec<u8>) -> Self {
        let start = bytes.len();
        let transport = match &d.transport {
            Transport::Tcp(seg) => {
                bytes.extend_from_slice(&seg.payload);
                Transport::Tcp(TcpSegment {
                    src_port: seg.src_port,
                    dst_port: seg.dst_port,
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags,
                    window: seg.window,
                    payload: Cow::Borrowed(&[]),
                    missing_payload: seg.missing_payload,
                    checksum_ok: seg.checksum_ok,
                })
            }
            Transport::IcmpError(icmp) => Transport::IcmpError(icmp.clone()),
            Transport::Other => Transport::Other,
        };
        OwnedPacket {
            pos: packet.pos,
            ts: packet.ts,
            link: packet.link,
            orig_len: packet.orig_len,
            decoded: Decoded {
                session: d.session,
                src: d.src,
                dst: d.dst,
                ip_id: d.ip_id,
                ip_len: d.ip_len,
                transport,
            },
            payload: start..bytes.len(),
        }
    }

    /// The packet again, its TCP payload read from `bytes` (the buffer `copy` appended to).
    pub(super) fn view<'a>(&self, bytes: &'a [u8]) -> (PacketRef<'a>, Decoded<'a>) {
        let mut decoded: Decoded<'a> = self.decoded.clone();
        if let Transport::Tcp(seg) = &mut decoded.transport {
            seg.payload = Cow::Borrowed(bytes.get(self.payload.clone()).unwrap_or(&[]));
        }
        let packet = PacketRef {
            pos: self.pos,
            ts: self.ts,
            link: self.link,
            orig_len: self.orig_len,
            data: &[],
        };
        (packet, decoded)
    }
}
