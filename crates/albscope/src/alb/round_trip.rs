//! Round trips between ALB nodes and targets measured from the handshakes of the capture's
//! connections, per (opener, server): the fallback for a connection whose own handshake is
//! not in the capture (opened before it), where ordering a target's close against a
//! request's arrival needs the round trip. The capture's vantage is the same for every
//! connection of one (opener, server) pair, so their handshakes split the round trip the same
//! way; the median of the last few is taken.

use crate::capture::Duration;
use crate::flow::Endpoint;
use std::collections::VecDeque;
use std::net::IpAddr;

/// Handshakes remembered per (opener, server): the last ones.
const MAX_SAMPLES: usize = 15;
/// Most (opener, server) pairs tracked.
const MAX_PAIRS: usize = 4096;

/// A round trip measured from other connections' handshakes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MeasuredRoundTrip {
    /// The handshake's split as [`ConnSummary::handshake_split`](crate::flow::ConnSummary::handshake_split)
    /// gives it (SYN → SYN-ACK, SYN-ACK → ACK as captured): the median of each part.
    pub split: (Duration, Duration),
    /// How many other connections' handshakes it comes from.
    pub connections: usize,
}

/// The handshake splits seen per (opener address, server endpoint).
#[derive(Clone, Debug, Default)]
pub struct RoundTrips {
    pairs: foldhash::HashMap<(IpAddr, Endpoint), VecDeque<(Duration, Duration)>>,
}

impl RoundTrips {
    /// Remembers the handshake `split` of a connection from `opener` to `server`.
    pub fn record(&mut self, opener: IpAddr, server: Endpoint, split: (Duration, Duration)) {
        if !self.pairs.contains_key(&(opener, server)) && self.pairs.len() >= MAX_PAIRS {
            return;
        }
        let list = self.pairs.entry((opener, server)).or_default();
        if list.len() >= MAX_SAMPLES {
            list.pop_front();
        }
        list.push_back(split);
    }

    /// The round trip between `opener` and `server` that the handshakes of their other
    /// connections show (`None` when the capture holds none).
    pub fn between(&self, opener: IpAddr, server: Endpoint) -> Option<MeasuredRoundTrip> {
        let list = self.pairs.get(&(opener, server))?;
        let median = |part: fn(&(Duration, Duration)) -> i64| {
            let mut v: Vec<i64> = list.iter().map(part).collect();
            v.sort_unstable();
            v.get(v.len() / 2).copied().map(Duration)
        };
        Some(MeasuredRoundTrip {
            split: (median(|s| s.0 .0)?, median(|s| s.1 .0)?),
            connections: list.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Endpoint {
        Endpoint {
            ip: IpAddr::from([10, 0, 2, 15]),
            port: 8080,
        }
    }

    #[test]
    fn the_median_of_the_pairs_handshakes() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut r = RoundTrips::default();
        assert_eq!(r.between(node, ep()), None);
        for (a, c) in [(100, 900), (300, 700), (200, 5_000)] {
            r.record(node, ep(), (Duration(a), Duration(c)));
        }
        let m = r.between(node, ep()).expect("measured");
        assert_eq!(m.split, (Duration(200), Duration(900)));
        assert_eq!(m.connections, 3);
        // another node's connections are not this pair's
        assert_eq!(r.between(IpAddr::from([10, 0, 1, 26]), ep()), None);
    }

    #[test]
    fn only_the_last_handshakes_are_kept() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut r = RoundTrips::default();
        for i in 0..(MAX_SAMPLES as i64 * 2) {
            r.record(node, ep(), (Duration(i), Duration(i)));
        }
        let m = r.between(node, ep()).expect("measured");
        assert_eq!(m.connections, MAX_SAMPLES);
        assert_eq!(
            m.split.0,
            Duration(MAX_SAMPLES as i64 + MAX_SAMPLES as i64 / 2)
        );
    }
}
