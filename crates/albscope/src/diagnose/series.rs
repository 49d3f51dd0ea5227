//! Requests and failures over time, for the report's time strip: counts per time bin, the bins
//! aligned to wall-clock multiples of their width (so a 60 s bin is a CloudWatch minute). The
//! bin width starts at 100 ms and grows along [`WIDTHS_NS`] (each a multiple of the one before)
//! whenever more than [`MAX_BINS`] bins would be held, so memory stays bounded whatever the
//! capture's length; the report regroups the bins for display.

use crate::capture::Timestamp;
use crate::taxonomy::Category;
use std::collections::BTreeMap;

/// Bin widths, in nanoseconds; each divides the next, so bins can always be merged.
pub const WIDTHS_NS: [i64; 15] = [
    100_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
    300_000_000_000,
    600_000_000_000,
    1_800_000_000_000,
    3_600_000_000_000,
    21_600_000_000_000,
    86_400_000_000_000,
    604_800_000_000_000,
    2_419_200_000_000_000,
];

/// Most bins held before the width grows.
pub const MAX_BINS: usize = 2_048;

/// The counts of one bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bin {
    /// Client requests that started in the bin.
    pub requests: u64,
    /// Failed ones, by category (few per bin; in the order first seen).
    pub failed: Vec<(Category, u64)>,
}

impl Bin {
    fn add_failure(&mut self, c: Category, n: u64) {
        match self.failed.iter_mut().find(|(k, _)| *k == c) {
            Some((_, v)) => *v += n,
            None => self.failed.push((c, n)),
        }
    }

    fn merge(&mut self, other: &Bin) {
        self.requests += other.requests;
        for &(c, n) in &other.failed {
            self.add_failure(c, n);
        }
    }

    /// Failed requests in the bin.
    pub fn failures(&self) -> u64 {
        self.failed.iter().map(|(_, n)| n).sum()
    }
}

/// Requests and failures per time bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// Index into [`WIDTHS_NS`] of the current bin width.
    width: usize,
    /// Bin start (ns since the epoch, a multiple of the width) -> counts.
    bins: BTreeMap<i64, Bin>,
}

impl TimeSeries {
    /// The bin width in nanoseconds.
    pub fn width_ns(&self) -> i64 {
        WIDTHS_NS.get(self.width).copied().unwrap_or(i64::MAX)
    }

    /// Counts one request starting at `t` (`category` is `ok` or a failure).
    pub fn record(&mut self, t: Timestamp, category: Category) {
        let start = t.0.div_euclid(self.width_ns()) * self.width_ns();
        let count = |bin: &mut Bin| {
            bin.requests += 1;
            if category.is_failure() {
                bin.add_failure(category, 1);
            }
        };
        // Requests come nearly in time order: most fall in the last bin (no search, one walk
        // to it).
        let in_last = match self.bins.last_entry() {
            Some(mut last) if *last.key() == start => {
                count(last.get_mut());
                true
            }
            _ => false,
        };
        if !in_last {
            count(self.bins.entry(start).or_default());
        }
        while self.bins.len() > MAX_BINS && self.width + 1 < WIDTHS_NS.len() {
            self.width += 1;
            self.bins = regroup(&self.bins, self.width_ns());
        }
    }

    /// The bins (start, counts), oldest first; only bins with requests.
    pub fn bins(&self) -> impl Iterator<Item = (Timestamp, &Bin)> {
        self.bins.iter().map(|(&s, b)| (Timestamp(s), b))
    }

    /// The bins regrouped to `width_ns` (a multiple of [`Self::width_ns`], e.g. another entry
    /// of [`WIDTHS_NS`] at or after the current one).
    pub fn regrouped(&self, width_ns: i64) -> BTreeMap<i64, Bin> {
        regroup(&self.bins, width_ns.max(self.width_ns()))
    }
}

fn regroup(bins: &BTreeMap<i64, Bin>, width: i64) -> BTreeMap<i64, Bin> {
    let mut out: BTreeMap<i64, Bin> = BTreeMap::new();
    for (&s, b) in bins {
        out.entry(s.div_euclid(width) * width).or_default().merge(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_divide_each_other() {
        for w in WIDTHS_NS.windows(2) {
            assert_eq!(w[1] % w[0], 0, "{} does not divide {}", w[0], w[1]);
        }
    }

    #[test]
    fn bins_align_and_grow_when_full() {
        let mut s = TimeSeries::default();
        s.record(Timestamp(1_050_000_000), Category::Ok);
        s.record(Timestamp(1_099_000_000), Category::KeepaliveRace);
        let bins: Vec<_> = s.bins().collect();
        assert_eq!(bins.len(), 1);
        assert_eq!(bins[0].0, Timestamp(1_000_000_000));
        assert_eq!(bins[0].1.requests, 2);
        assert_eq!(bins[0].1.failures(), 1);
        // One request every 100 ms for 1000 s: 10,000 fine bins would be too many.
        for i in 0..10_000i64 {
            s.record(Timestamp(i * 100_000_000), Category::Ok);
        }
        assert!(s.bins().count() <= MAX_BINS);
        assert_eq!(s.width_ns(), 500_000_000);
        let total: u64 = s.bins().map(|(_, b)| b.requests).sum();
        assert_eq!(total, 10_002);
        let minutes = s.regrouped(60_000_000_000);
        assert_eq!(minutes.len(), 17);
        assert_eq!(minutes.values().map(Bin::failures).sum::<u64>(), 1);
    }
}
