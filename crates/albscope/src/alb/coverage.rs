//! What time each input covers: from its first packet to its last, on the common
//! (offset-corrected) clock; and the small sets of inputs that showed a vantage (a node's back
//! end, the front end), whose spans together say when that vantage is in the capture: one
//! machine's capture cut into consecutive files (tcpdump `-C`/`-G` rotation) covers the union of
//! their spans, joined across the rotation boundaries; a longer silence between two files is a
//! gap (a file missing, or the recording stopped) ([`Coverage::segments`]).

use crate::capture::{Duration, InputEnds, Timestamp};
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

    /// Whether the time between input `earlier`'s last packet and a later input's first,
    /// `silence` long, is a rotation boundary of one recording rather than a gap: no longer
    /// than [`JOIN_MAX`] nor than the longest silence between two packets inside `earlier`
    /// (a rotated file's next packet comes one packet interval after its predecessor's last;
    /// a missing file leaves out at least the time its packets took). Unknown before
    /// `earlier` ended.
    fn joins(&self, earlier: u16, silence: Duration) -> bool {
        let inside = self.ends.as_ref().and_then(|e| e.silence(earlier));
        silence <= JOIN_MAX && inside.is_some_and(|inside| silence <= inside)
    }

    /// The spans of `files` joined into the stretches of time they cover together, oldest
    /// first: spans that overlap or meet, or that follow each other across a rotation
    /// boundary (see [`JOIN_MAX`]), form one segment; the times between segments are gaps. An
    /// input without packets covers nothing; one not ended yet reaches the latest time.
    pub fn segments(&self, files: impl IntoIterator<Item = u16>) -> Vec<Segment> {
        let mut spans: Vec<(Timestamp, Timestamp, u16)> = files
            .into_iter()
            .filter(|f| {
                !self.several()
                    || self
                        .starts
                        .get(usize::from(*f))
                        .copied()
                        .flatten()
                        .is_some()
            })
            .map(|f| (self.start(f), self.end(f), f))
            .filter(|(start, end, _)| start <= end)
            .collect();
        spans.sort_unstable();
        let mut out: Vec<Segment> = Vec::new();
        // The file whose end is the current segment's end.
        let mut last_file = 0u16;
        for (start, end, file) in spans {
            if let Some(seg) = out.last_mut() {
                let after = start.since(seg.end);
                if start <= seg.end || self.joins(last_file, after) {
                    if end > seg.end {
                        seg.end = end;
                        last_file = file;
                    }
                    seg.files.push(file);
                    continue;
                }
            }
            out.push(Segment {
                start,
                end,
                files: vec![file],
            });
            last_file = file;
        }
        out
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

/// A stretch of time some inputs cover together (see [`Coverage::segments`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The first packet of its earliest input.
    pub start: Timestamp,
    /// The last packet of its latest input (the latest time while one has not ended).
    pub end: Timestamp,
    /// Its inputs (file indices), by start.
    pub files: Vec<u16>,
}

/// Where a vantage's recording stands against a time it did not cover (see
/// [`Coverage::window`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CaptureWindow {
    /// Its recording started at this time, after the time in question.
    StartedAfter(Timestamp),
    /// Its recording ended at this time, before the time in question was over.
    EndedBefore(Timestamp),
    /// Its recording has no packet from `from` to `to` (a file missing, or it paused).
    Gap {
        /// The last packet before the gap.
        from: Timestamp,
        /// The first packet after it.
        to: Timestamp,
    },
}

/// Longest time without a packet between one input's last packet and the next input's first
/// that still joins them as one recording cut in two (tcpdump rotation). A longer silence, or
/// one longer than any silence inside the earlier file, is a gap: a file may be missing (e.g.
/// overwritten by `-W`), and a request then is not known to lack a back-end attempt.
pub const JOIN_MAX: Duration = Duration(1_000_000_000);

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

    /// Why these inputs did not cover `from ..= to`: they started after `from`, ended before
    /// `to`, or leave a gap there; `None` when they covered it, or never recorded.
    pub fn window(
        &self,
        coverage: &Coverage,
        from: Timestamp,
        to: Timestamp,
    ) -> Option<CaptureWindow> {
        let segments = coverage.segments(self.iter());
        if segments.iter().any(|s| s.start <= from && to <= s.end) {
            return None;
        }
        let first = segments.first()?;
        if from < first.start {
            return Some(CaptureWindow::StartedAfter(first.start));
        }
        let at = segments.iter().rposition(|s| s.start <= from)?;
        let this = segments.get(at)?;
        // Not covered by `this`: it ended before `to`, then another started (a gap) or none.
        Some(match segments.get(at + 1) {
            Some(next) => CaptureWindow::Gap {
                from: this.end,
                to: next.start,
            },
            None => CaptureWindow::EndedBefore(this.end),
        })
    }

    /// Whether these inputs together were recording over all of `from ..= to`: one of them,
    /// or consecutive ones joined across rotation boundaries (see [`Coverage::segments`]).
    pub fn covers(&self, coverage: &Coverage, from: Timestamp, to: Timestamp) -> bool {
        self.0.iter().any(|f| coverage.covers(*f, from, to))
            || (self.0.len() > 1
                && coverage
                    .segments(self.iter())
                    .iter()
                    .any(|s| s.start <= from && to <= s.end))
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

    /// Three inputs of one recording cut by rotation (0-10 s, 10.2-20 s, 20.001-30 s) and a
    /// fourth after a gap (45-50 s); `silence` the longest silence inside each.
    fn rotated(silence: i64) -> (Coverage, InputSet) {
        let mut c = Coverage::default();
        c.set_starts(vec![
            Some(t(0)),
            Some(Timestamp(20_001_000_000)),
            Some(Timestamp(10_200_000_000)),
            Some(t(45)),
        ]);
        let ends = InputEnds::new(4);
        c.set_ends(ends.clone());
        for (file, end) in [(0, 10), (1, 30), (2, 20), (3, 50)] {
            ends.set_silence(file, Duration(silence * 1_000_000));
            ends.set(file, Some(t(end)));
        }
        let mut set = InputSet::default();
        for f in [3, 1, 0, 2] {
            set.insert(f);
        }
        (c, set)
    }

    #[test]
    fn rotated_inputs_cover_their_union_across_boundaries_but_not_a_gap() {
        let (c, set) = rotated(300);
        // A request arriving in one file and answered in the next (any order given).
        assert!(set.covers(&c, t(9), t(11)));
        assert!(set.covers(&c, t(19), t(21)));
        assert!(set.covers(&c, t(1), t(29)));
        // Between the third and the fourth: 15 s without a packet is a gap.
        assert!(!set.covers(&c, t(29), t(46)));
        assert!(!set.covers(&c, t(35), t(35)));
        assert!(set.covers(&c, t(46), t(47)));
        let segs = c.segments(set.iter());
        assert_eq!(segs.len(), 2);
        assert_eq!((segs[0].start, segs[0].end), (t(0), t(30)));
        assert_eq!(segs[0].files, vec![0, 2, 1]);
        assert_eq!(segs[1].files, vec![3]);
        assert_eq!(set.window(&c, t(9), t(11)), None);
        assert_eq!(
            set.window(&c, t(35), t(36)),
            Some(CaptureWindow::Gap {
                from: t(30),
                to: t(45)
            })
        );
        assert_eq!(
            set.window(&c, t(49), t(51)),
            Some(CaptureWindow::EndedBefore(t(50)))
        );
        assert_eq!(
            set.window(&c, t(-1), t(1)),
            Some(CaptureWindow::StartedAfter(t(0)))
        );
    }

    #[test]
    fn a_boundary_longer_than_the_silences_inside_the_file_is_a_gap() {
        // Busy files (at most 100 ms without a packet): 200 ms at the boundary is a missing
        // file's time, not one packet interval.
        let (c, set) = rotated(100);
        assert!(!set.covers(&c, t(9), t(11)));
        assert!(set.covers(&c, t(19), t(21)), "1 ms boundary");
        assert_eq!(c.segments(set.iter()).len(), 3);
    }
}
