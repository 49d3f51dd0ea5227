//! When each input ended: its last packet's time (clock-corrected), told by the reader the
//! moment it finds the input has no more packets, before it hands out any later packet.

use super::{Duration, Timestamp};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Not ended yet (or never told).
const OPEN: i64 = i64::MAX;

/// Each input's end, by file index ([`super::PacketPos::file`]), shared between the reader
/// and whoever reads behind it (possibly on another thread). An input's end is set once, when
/// the reader finds it has no more packets (end of file or damage): before the reader hands
/// out any packet later than that end. So a reader of this handle that has seen a packet of
/// time `t` knows every input that ended before `t`; an input not ended yet still had packets
/// at `t` or later. Beside its end, each input's longest silence (the longest time between two
/// of its consecutive packets), told just before its end: how long that recording went without
/// a packet while it was recording.
#[derive(Clone, Debug, Default)]
pub struct InputEnds {
    ends: Arc<[AtomicI64]>,
    silences: Arc<[AtomicI64]>,
}

impl InputEnds {
    /// A handle for `count` inputs, none ended.
    pub fn new(count: usize) -> Self {
        InputEnds {
            ends: (0..count).map(|_| AtomicI64::new(OPEN)).collect(),
            silences: (0..count).map(|_| AtomicI64::new(-1)).collect(),
        }
    }

    /// Records input `file`'s longest silence (the reader calls it just before
    /// [`InputEnds::set`]).
    pub fn set_silence(&self, file: usize, longest: Duration) {
        if let Some(s) = self.silences.get(file) {
            s.store(longest.0.max(0), Ordering::Release);
        }
    }

    /// Input `file`'s longest silence between two of its packets, once it ended (`None`
    /// before, or for an unknown file).
    pub fn silence(&self, file: u16) -> Option<Duration> {
        let s = self
            .silences
            .get(usize::from(file))?
            .load(Ordering::Acquire);
        (s >= 0).then_some(Duration(s))
    }

    /// Records that input `file` ended with its last packet at `last` (`None`: it had none);
    /// the reader calls it when it finds the input has no more packets.
    pub fn set(&self, file: usize, last: Option<Timestamp>) {
        if let Some(e) = self.ends.get(file) {
            e.store(
                last.map_or(i64::MIN, |t| t.0.min(OPEN - 1)),
                Ordering::Release,
            );
        }
    }

    /// When input `file` ended (its last packet), `None` while it has not (or for an unknown
    /// file). An input without packets ended at the earliest time.
    pub fn end(&self, file: u16) -> Option<Timestamp> {
        let e = self.ends.get(usize::from(file))?.load(Ordering::Acquire);
        (e != OPEN).then_some(Timestamp(e))
    }

    /// How many inputs this handle covers.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when it covers no input.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_is_unknown_until_set() {
        let ends = InputEnds::new(2);
        assert_eq!(ends.end(0), None);
        let seen = ends.clone();
        ends.set(1, Some(Timestamp(5)));
        ends.set(0, None);
        assert_eq!(seen.end(1), Some(Timestamp(5)));
        assert_eq!(seen.end(0), Some(Timestamp(i64::MIN)));
        assert_eq!(seen.end(7), None);
        assert_eq!(seen.silence(1), None);
        ends.set_silence(1, Duration(3));
        assert_eq!(seen.silence(1), Some(Duration(3)));
    }
}
