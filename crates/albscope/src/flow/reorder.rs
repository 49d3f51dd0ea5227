//! Holes inferred from an ACK, held for a short reorder window before they are declared lost.
//!
//! Mirror paths reorder packets: an ACK can be captured before the data it acknowledges. A hole
//! below an ACK is therefore only a gap once the window has passed (a few packets of the
//! connection or a few milliseconds of capture time, whichever first) without the data
//! arriving; data arriving inside the window fills the hole as in-order data. At most
//! [`HELD_PER_DIRECTION`] markers are held per direction (no allocation).

use crate::capture::{Duration, PacketPos, Timestamp};

/// Most holes held per direction; a further ACK extends the newest one.
pub(super) const HELD_PER_DIRECTION: usize = 2;

/// One hole inferred from an ACK: the stream offset acknowledged, and the ACK's time and packet
/// (the gap, once declared, is dated there).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct HeldHole {
    /// Every byte below this offset was acknowledged.
    pub(super) limit: u64,
    /// When the ACK was captured.
    pub(super) ts: Timestamp,
    /// The ACK's packet.
    pub(super) pos: PacketPos,
    /// Packets of the connection captured since the ACK.
    seen: u8,
}

/// The holes held for one direction of a connection, oldest (lowest offset) first.
///
/// `repr(C)` with the count first: every packet asks both directions [`HeldHoles::is_empty`],
/// so the count sits in the connection's hot cache lines (see `segment::DirState`) and the
/// holes after it are read only when one is held.
#[derive(Clone, Debug, Default)]
#[repr(C)]
pub(super) struct HeldHoles {
    len: u8,
    holes: [HeldHole; HELD_PER_DIRECTION],
}

impl HeldHoles {
    /// Whether no hole is held (the per-packet fast path).
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Highest offset held (0 when none).
    pub(super) fn high(&self) -> u64 {
        self.last().map_or(0, |h| h.limit)
    }

    fn last(&self) -> Option<&HeldHole> {
        self.holes.get(usize::from(self.len).checked_sub(1)?)
    }

    /// Holds the bytes below `limit` (acknowledged by the ACK at `ts`, `pos`). An ACK at or
    /// below a held offset adds nothing; past the last marker a new one is held, or, when all
    /// are in use, the newest is extended (keeping its deadline: at worst declared early).
    pub(super) fn hold(&mut self, limit: u64, ts: Timestamp, pos: PacketPos) {
        if self.high() >= limit {
            return;
        }
        let len = usize::from(self.len);
        if len < HELD_PER_DIRECTION {
            if let Some(slot) = self.holes.get_mut(len) {
                *slot = HeldHole {
                    limit,
                    ts,
                    pos,
                    seen: 0,
                };
                self.len += 1;
            }
        } else if let Some(last) = self.holes.get_mut(len - 1) {
            last.limit = limit;
        }
    }

    /// Counts one more packet of the connection against every held hole.
    pub(super) fn count_packet(&mut self) {
        for h in self.holes.iter_mut().take(usize::from(self.len)) {
            h.seen = h.seen.saturating_add(1);
        }
    }

    /// The oldest hole to settle now, removed: one already filled (`limit <= next`), or one
    /// whose window passed by `now` (`max_packets` packets or `window` of capture time since
    /// its ACK), or any when `force`. The caller declares a gap up to its limit when data is
    /// still missing below it.
    pub(super) fn take_due(
        &mut self,
        next: u64,
        now: Timestamp,
        window: Duration,
        max_packets: u8,
        force: bool,
    ) -> Option<HeldHole> {
        let first = *self.holes.first().filter(|_| self.len > 0)?;
        let expired = now.0.saturating_sub(first.ts.0) >= window.0 || first.seen >= max_packets;
        if !(force || expired || first.limit <= next) {
            return None;
        }
        self.holes.copy_within(1.., 0);
        self.len -= 1;
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(n: u64) -> PacketPos {
        PacketPos {
            file: 0,
            number: n,
            offset: 0,
        }
    }

    #[test]
    fn holds_at_most_two_and_extends_the_newest() {
        let mut h = HeldHoles::default();
        h.hold(10, Timestamp(1), pos(1));
        h.hold(5, Timestamp(2), pos(2));
        h.hold(20, Timestamp(3), pos(3));
        h.hold(30, Timestamp(4), pos(4));
        assert_eq!(h.high(), 30);
        let w = Duration(1_000);
        assert_eq!(h.take_due(0, Timestamp(2), w, 4, false), None);
        let first = h.take_due(10, Timestamp(2), w, 4, false);
        assert_eq!(first.map(|x| x.limit), Some(10));
        let second = h.take_due(0, Timestamp(1_003), w, 4, false);
        assert_eq!(second.map(|x| (x.limit, x.pos.number)), Some((30, 3)));
        assert!(h.is_empty());
    }

    #[test]
    fn expires_after_packets() {
        let mut h = HeldHoles::default();
        h.hold(10, Timestamp(0), pos(1));
        for _ in 0..3 {
            h.count_packet();
        }
        assert_eq!(h.take_due(0, Timestamp(0), Duration(1_000), 4, false), None);
        h.count_packet();
        assert!(h
            .take_due(0, Timestamp(0), Duration(1_000), 4, false)
            .is_some());
    }
}
