//! What time each input covers: from its first packet to its last, on the common
//! (offset-corrected) clock; and the small sets of inputs that showed a vantage (a node's back
//! end, the front end), whose spans say when that vantage is in the capture.

use crate::capture::{InputEnds, Timestamp};
use serde::Serialize;

/// The span one input covers: its first and last packet (clock-corrected). `end` is `None`
/// while the input is still being read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InputSpan {
    /// Its first packet, `None` when it had none.
    pub start: Option<Timestamp>,
    /// Its last packet (or the earliest time for an input without packets), `None` while it
    /// has not ended.
    pub end: Option<Timestamp>,
}

/// Each input's span, by file index ([`crate::capture::PacketPos::file`]). With one input (or
/// none told) every time is covered: one capture file shows what it shows for its whole span,
/// and nothing happens outside it.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    starts: Vec<Option<Timestamp>>,
    ends: Option<InputEnds>,
}

impl Coverage {
    /// Sets each input's first packet time, by file index.
    pub fn set_starts(&mut self, starts: Vec<Option<Timestamp>>) {
        self.starts = starts;
    }

    /// Sets the handle the reader tells each input's end through (read at each question: an
    /// input not ended yet still had packets at the latest time the caller has seen).
    pub fn set_ends(&mut self, ends: InputEnds) {
        self.ends = Some(ends);
    }

    /// True when inputs can cover different times (more than one was told).
    fn several(&self) -> bool {
        self.starts.len() > 1
    }

    /// When input `file` started: what it shows is captured from then on (the earliest time
    /// with one input, none told, or an input without packets).
    pub fn start(&self, file: u16) -> Timestamp {
        if !self.several() {
            return Timestamp(i64::MIN);
        }
        self.starts
            .get(usize::from(file))
            .copied()
            .flatten()
            .unwrap_or(Timestamp(i64::MIN))
    }

    /// When input `file` ended (its last packet); the latest time while it has not, or with
    /// one input.
    pub fn end(&self, file: u16) -> Timestamp {
        if !self.several() {
            return Timestamp(i64::MAX);
        }
        self.ends
            .as_ref()
            .and_then(|e| e.end(file))
            .unwrap_or(Timestamp(i64::MAX))
    }

    /// Whether input `file` was recording over all of `from ..= to`.
    pub fn covers(&self, file: u16, from: Timestamp, to: Timestamp) -> bool {
        self.start(file) <= from && to <= self.end(file)
    }

    /// Every input's span as known now, by file index (empty with one input).
    pub fn spans(&self) -> Vec<InputSpan> {
        if !self.several() {
            return Vec::new();
        }
        (0..self.starts.len())
            .map(|i| {
                let file = u16::try_from(i).unwrap_or(u16::MAX);
                InputSpan {
                    start: self.starts.get(i).copied().flatten(),
                    end: self.ends.as_ref().and_then(|e| e.end(file)),
                }
            })
            .collect()
    }
}

/// Most inputs remembered in one [`InputSet`] (past it, later ones are not: their spans do not
/// count as covering, the cautious side). Enough for a day of hourly rotated files from each
/// of dozens of machines; two bytes each.
pub const MAX_SET_INPUTS: usize = 1024;

/// The inputs (file indices) that showed something, e.g. a node's back-end traffic: small,
/// sorted, without repeats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSet(Vec<u16>);

impl InputSet {
    /// Adds `file`; true when it was not in the set (and fitted).
    pub fn insert(&mut self, file: u16) -> bool {
        match self.0.binary_search(&file) {
            Ok(_) => false,
            Err(_) if self.0.len() >= MAX_SET_INPUTS => false,
            Err(at) => {
                self.0.insert(at, file);
                true
            }
        }
    }

    /// True when no input is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The inputs, in file order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().copied()
    }

    /// Whether one of these inputs was recording over all of `from ..= to`.
    pub fn covers(&self, coverage: &Coverage, from: Timestamp, to: Timestamp) -> bool {
        self.0.iter().any(|f| coverage.covers(*f, from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp(s * 1_000_000_000)
    }

    #[test]
    fn one_input_covers_every_time() {
        let mut c = Coverage::default();
        c.set_starts(vec![Some(t(10))]);
        let ends = InputEnds::new(1);
        c.set_ends(ends);
        assert!(c.covers(0, t(0), t(99)));
        assert!(c.spans().is_empty());
    }

    #[test]
    fn an_input_covers_from_its_start_to_its_end_once_told() {
        let mut c = Coverage::default();
        c.set_starts(vec![Some(t(0)), Some(t(10))]);
        let ends = InputEnds::new(2);
        c.set_ends(ends.clone());
        assert!(!c.covers(1, t(5), t(6)), "before its start");
        assert!(c.covers(1, t(30), t(31)), "not ended yet: still recording");
        let mut set = InputSet::default();
        assert!(set.insert(1));
        assert!(!set.insert(1));
        assert_eq!(c.spans()[1].end, None);
        // The reader finds input 1 ended with a packet at 20 s.
        ends.set(1, Some(t(20)));
        assert!(set.covers(&c, t(12), t(20)));
        assert!(!set.covers(&c, t(19), t(21)), "answer after its end");
        assert!(!set.covers(&c, t(25), t(25)));
        assert_eq!(
            c.spans()[1],
            InputSpan {
                start: Some(t(10)),
                end: Some(t(20))
            }
        );
    }
}
