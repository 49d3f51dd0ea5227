//! [`TimeGuard`]: keeps one capture file's packet timestamps usable (monotone within a second,
//! inside the plausible range, not overflowed), counting and describing the packets it fixed.

use super::Timestamp;

/// Latest timestamp after which a capture time is implausible: 2100-01-01T00:00:00Z.
const LATEST_PLAUSIBLE_NS: i64 = 4_102_444_800 * 1_000_000_000;
/// How far a packet may step back in time within one file before it is noted (1 s: capture
/// queues reorder a little, clocks do not step back hours).
const MAX_BACKSTEP_NS: i64 = 1_000_000_000;

/// Keeps one file's timestamps usable: a time that runs backwards by more than a second, lies
/// outside the plausible range (before 1970, after 2100) or overflowed is replaced by the
/// file's latest good time (before any, the packet keeps its own), counted, and the first such
/// packet is described. So no duration computed later is negative or spans decades.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimeGuard {
    /// The latest good timestamp of the file.
    pub(super) latest: Option<Timestamp>,
    /// Packets whose time was replaced or that were left out.
    pub(crate) count: u64,
    /// The first such packet: number and what was wrong.
    pub(crate) first: Option<String>,
}

/// Whether a nanosecond time lies in the plausible range (1970 to 2100).
pub(super) fn plausible(ns: i128) -> bool {
    (0..i128::from(LATEST_PLAUSIBLE_NS)).contains(&ns)
}

impl TimeGuard {
    /// Counts packet `number` as having an unusable time (`problem`), its time already fixed.
    pub(super) fn note(&mut self, number: u64, problem: String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(format!("packet {number}: {problem}"));
        }
    }

    /// The time to use for packet `number` read as `ts` (`overflow` when it did not fit).
    #[inline]
    pub(super) fn vet(&mut self, number: u64, ts: Timestamp, overflow: bool) -> Timestamp {
        // The common case inline: a plausible time, not far behind the latest.
        if !overflow && ts.0 >= 0 && ts.0 < LATEST_PLAUSIBLE_NS {
            match self.latest {
                Some(l) if l.0.saturating_sub(ts.0) > MAX_BACKSTEP_NS => {}
                Some(l) => {
                    self.latest = Some(l.max(ts));
                    return ts;
                }
                None => {
                    self.latest = Some(ts);
                    return ts;
                }
            }
        }
        self.vet_slow(number, ts, overflow)
    }

    /// [`TimeGuard::vet`] for every case (the rare ones are only reached through here).
    #[cold]
    fn vet_slow(&mut self, number: u64, ts: Timestamp, overflow: bool) -> Timestamp {
        let problem = if overflow || ts.0 == i64::MAX || ts.0 == i64::MIN {
            Some("its timestamp overflows".to_string())
        } else if ts.0 < 0 || ts.0 >= LATEST_PLAUSIBLE_NS {
            Some(format!(
                "its timestamp {} is outside any plausible capture time",
                ts.to_rfc3339()
            ))
        } else {
            match self.latest {
                Some(l) if l.0.saturating_sub(ts.0) > MAX_BACKSTEP_NS => Some(format!(
                    "its timestamp runs {} back from the packets before it",
                    l.since(ts)
                )),
                _ => None,
            }
        };
        let Some(problem) = problem else {
            self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
            return ts;
        };
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(match self.latest {
                Some(l) => format!(
                    "packet {number}: {problem}; the time {} was used",
                    l.to_rfc3339()
                ),
                None => format!("packet {number}: {problem}; kept (no earlier good time to use)"),
            });
        }
        // Before any good time there is nothing better: the packet keeps its own.
        self.latest.unwrap_or(ts)
    }
}

/// Clamps an i128 nanosecond count to a [`Timestamp`].
pub(super) fn clamp_ts(ns: i128) -> Timestamp {
    Timestamp(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_guard_keeps_times_monotone_beyond_a_second() {
        let mut g = TimeGuard::default();
        let s = |secs: i64| Timestamp(secs * 1_000_000_000);
        assert_eq!(g.vet(1, s(1_000), false), s(1_000));
        // Half a second back: normal reordering, kept.
        assert_eq!(
            g.vet(2, Timestamp(s(1_000).0 - 500_000_000), false).0,
            s(1_000).0 - 500_000_000
        );
        // Hours back, after 2100, overflowed: the latest good time.
        assert_eq!(g.vet(3, s(1_000 - 10_800), false), s(1_000));
        assert_eq!(g.vet(4, s(4_294_967_295), false), s(1_000));
        assert_eq!(g.vet(5, Timestamp(i64::MAX), true), s(1_000));
        assert_eq!(g.vet(6, s(1_001), false), s(1_001));
        assert_eq!(g.count, 3);
        assert!(g
            .first
            .as_deref()
            .is_some_and(|f| f.starts_with("packet 3: ")));
        // Before any good time a packet keeps its own.
        let mut g = TimeGuard::default();
        assert_eq!(g.vet(1, s(-5), false), s(-5));
        assert_eq!(g.count, 1);
    }
}
