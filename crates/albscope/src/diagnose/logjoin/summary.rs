//! The summary of the join: counts, and the entries left unjoined.

use super::{LogIndex, LogJoinSummary, UncapturedEntry, MAX_UNJOINED_LISTED};
use crate::capture::{Duration, Timestamp};

impl LogIndex {
    /// The summary: counts, and the entries left unjoined. Entries whose
    /// `request_creation_time` (or `time`) falls outside `[first, last]` of the capture
    /// (widened by the time tolerance) are counted apart: the capture could not hold them.
    pub fn finish(mut self, first: Option<Timestamp>, last: Option<Timestamp>) -> LogJoinSummary {
        let tol = self.opts.time_tolerance;
        let correction = self.clock.correction();
        let on_capture_clock = |t: Timestamp| Timestamp(t.0.saturating_sub(correction.0));
        let mut s = std::mem::take(&mut self.summary);
        s.files = self.files;
        s.entries = self.entries.len() as u64 + self.skipped_outside + self.not_indexed;
        s.entries_outside_capture = self.skipped_outside;
        s.entries_not_indexed = self.not_indexed;
        s.malformed_lines = self.malformed;
        s.log_clock = self.clock.offset().filter(|_| correction.0 != 0);
        for ix in self.entries.iter().filter(|e| !e.used) {
            let e = &ix.entry;
            let t = on_capture_clock(e.request_creation_time.unwrap_or(e.time));
            let logged = on_capture_clock(e.time);
            let inside = match (first, last) {
                (Some(a), Some(b)) => {
                    t >= a.plus(Duration(tol.0.saturating_neg())) && t <= b.plus(tol)
                        || logged >= a && logged <= b
                }
                _ => false,
            };
            if !inside {
                s.entries_outside_capture += 1;
                continue;
            }
            s.entries_without_request += 1;
            if s.uncaptured_entries.len() < MAX_UNJOINED_LISTED {
                s.uncaptured_entries.push(UncapturedEntry {
                    source: ix.source.clone(),
                    time: e.request_creation_time.unwrap_or(e.time),
                    client: e.client.clone(),
                    request: e.request.clone(),
                    elb_status_code: e.elb_status_code,
                    trace_id: e.trace_id.clone(),
                });
            }
        }
        s
    }
}
