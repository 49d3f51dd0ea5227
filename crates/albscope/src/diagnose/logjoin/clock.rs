//! The access log's clock against the capture's.
//!
//! The ALB writes its log on AWS's clock; the analysis runs on the clock of the capture's first
//! input file (the other files' clock offsets, given or estimated, are applied to their
//! packets before the merge). The two can disagree by seconds (a client-side tcpdump on a
//! machine whose clock is off, given first). A trace-id join names the request exactly, so the
//! trace-id joins measure the log's offset: `request_creation_time` minus the request's first
//! byte at the ALB. The time-window joins (client + time, target + time), the creation-time
//! disagreement and the "inside the capture" test then compare log times moved onto the
//! capture's clock.
//!
//! The offset is measured in the pass before the join where there is one
//! ([`LogClockProbe`]: every input file re-read with the estimated file offsets applied), so
//! that the first requests of the joining pass already use it; in a single pass it is measured
//! as the trace-id joins come ([`LogClock::observe`]) and used once [`MIN_SAMPLES`] agree.

use crate::capture::{Duration, Timestamp};
use std::collections::HashMap;

/// Fewest trace-id joins the log's clock offset rests on.
pub const MIN_SAMPLES: usize = 3;
/// Offsets smaller than this are not applied (the ALB's own receive-to-forward delay, the log's
/// microsecond rounding).
pub const LOG_CLOCK_MIN: Duration = Duration(10_000_000);
/// Most samples kept.
const MAX_SAMPLES: usize = 1024;
/// Most log entries a probe remembers by trace id.
const MAX_PROBE_ENTRIES: usize = 100_000;

/// How far the access log's clock is ahead of the capture's (negative: behind), and on how
/// many trace-id joins the figure rests.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LogClockOffset {
    /// Log time minus capture time.
    pub ahead: Duration,
    /// Trace-id joins measured.
    pub requests: usize,
}

/// The log's clock offset as a join goes: measured before (a probe pass) or from its own
/// trace-id joins.
#[derive(Clone, Debug, Default)]
pub struct LogClock {
    /// Measured in an earlier pass.
    prior: Option<LogClockOffset>,
    /// Log minus capture of this pass's trace-id joins (nanoseconds).
    samples: Vec<i64>,
}

impl LogClock {
    /// Uses an offset measured in an earlier pass (on this pass's clock).
    pub fn set_prior(&mut self, offset: LogClockOffset) {
        self.prior = Some(offset);
    }

    /// Notes a trace-id join: the log's `request_creation_time` minus the request's start.
    pub fn observe(&mut self, log_minus_capture: Duration) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(log_minus_capture.0);
        }
    }

    /// The offset measured so far (the earlier pass's, else this pass's median once
    /// [`MIN_SAMPLES`] trace-id joins came).
    pub fn offset(&self) -> Option<LogClockOffset> {
        self.prior.or_else(|| median_offset(&self.samples))
    }

    /// The offset to take off log times before comparing them with the capture's: the measured
    /// one when it is at least [`LOG_CLOCK_MIN`], else none.
    pub fn correction(&self) -> Duration {
        self.offset()
            .filter(|o| o.ahead.0.unsigned_abs() >= LOG_CLOCK_MIN.0.unsigned_abs())
            .map_or(Duration(0), |o| o.ahead)
    }
}

/// The median of `samples` when there are at least [`MIN_SAMPLES`].
fn median_offset(samples: &[i64]) -> Option<LogClockOffset> {
    if samples.len() < MIN_SAMPLES {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    Some(LogClockOffset {
        ahead: Duration(*s.get(s.len() / 2)?),
        requests: s.len(),
    })
}

/// The log's entries by trace id Root (their `request_creation_time`), for measuring its clock
/// in a pass before the join; samples are kept per input file (of the request's first byte)
/// so that offsets applied to a file only in the joining pass can be accounted for.
#[derive(Clone, Debug, Default)]
pub struct LogClockProbe {
    created: HashMap<String, Timestamp>,
    samples: Vec<(u16, i64)>,
}

impl LogClockProbe {
    /// A probe of the entries of `index` that carry a trace id (at most 100,000).
    pub fn new(index: &super::LogIndex) -> Self {
        let created = index
            .entries
            .iter()
            .filter_map(|e| {
                let root = e.entry.trace_id.as_deref().and_then(super::trace_root)?;
                Some((root, e.entry.request_creation_time?))
            })
            .take(MAX_PROBE_ENTRIES)
            .collect();
        LogClockProbe {
            created,
            samples: Vec::new(),
        }
    }

    /// Notes a request with trace id `trace` that started at `start` (read from input file
    /// `file`).
    pub fn observe(&mut self, trace: &str, start: Timestamp, file: u16) {
        let Some(root) = super::trace_root(trace) else {
            return;
        };
        if let Some(c) = self.created.get(&root) {
            if self.samples.len() < MAX_SAMPLES {
                self.samples.push((file, c.since(start).0));
            }
        }
    }

    /// The log's offset against the next pass's clock, where `later(file)` is how much more
    /// the next pass takes off that file's timestamps (an offset estimated in this pass).
    pub fn offset(&self, later: impl Fn(u16) -> Duration) -> Option<LogClockOffset> {
        let adjusted: Vec<i64> = self
            .samples
            .iter()
            .map(|(f, d)| d.saturating_add(later(*f).0))
            .collect();
        median_offset(&adjusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_the_median_once_enough_joins_agree() {
        let mut c = LogClock::default();
        c.observe(Duration::from_millis(1_350));
        c.observe(Duration::from_millis(1_351));
        assert_eq!(c.offset(), None);
        assert_eq!(c.correction(), Duration(0));
        c.observe(Duration::from_millis(1_349));
        assert_eq!(c.correction(), Duration::from_millis(1_350));
        // A few milliseconds are the ALB's own delay, not a clock: not applied.
        let mut c = LogClock::default();
        for ms in [1, 2, 3] {
            c.observe(Duration::from_millis(ms));
        }
        assert_eq!(c.correction(), Duration(0));
        // A measure from an earlier pass wins.
        c.set_prior(LogClockOffset {
            ahead: Duration::from_millis(-800),
            requests: 9,
        });
        assert_eq!(c.correction(), Duration::from_millis(-800));
    }

    #[test]
    fn probe_samples_follow_the_offsets_applied_later() {
        let mut p = LogClockProbe::default();
        p.created.insert("1-a".into(), Timestamp(10_000_000_000));
        p.created.insert("1-b".into(), Timestamp(20_000_000_000));
        p.created.insert("1-c".into(), Timestamp(30_000_000_000));
        // File 1 is 1.35 s behind on the probe pass; the next pass takes -1.35 s off it.
        p.observe("Root=1-a", Timestamp(8_650_000_000), 1);
        p.observe("Root=1-b", Timestamp(18_650_000_000), 1);
        p.observe("Root=1-c", Timestamp(28_650_000_000), 1);
        p.observe("Root=1-zzz", Timestamp(1), 1);
        let later = |f: u16| {
            if f == 1 {
                Duration::from_millis(-1_350)
            } else {
                Duration(0)
            }
        };
        assert_eq!(
            p.offset(later),
            Some(LogClockOffset {
                ahead: Duration(0),
                requests: 3
            })
        );
        assert_eq!(
            p.offset(|_| Duration(0)).map(|o| o.ahead),
            Some(Duration::from_millis(1_350))
        );
    }
}
