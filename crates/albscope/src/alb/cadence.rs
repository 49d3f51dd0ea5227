//! Health checks recognised by behaviour. An ALB node checks each target on a steady interval
//! with a short connection: one small request and its answer, then a close (or a connect that
//! fails: refused, unreachable, TLS handshake refused or unanswered). Where no request can be
//! read (HTTPS target groups, failed connects) such a connection is taken for a health check
//! when it lies on a chain of at least [`MIN_CHAIN`] such connections from the same node to the
//! same target, one interval apart ([`HealthCadence::on_cadence`]).

use super::tracker::{alert_only_max, burst_exchanges};
use crate::capture::{Duration, Timestamp};
use crate::flow::{ConnSummary, Endpoint, TcpEventKind};
use crate::protocol::TlsInfo;
use std::collections::VecDeque;
use std::net::IpAddr;

/// Health-check-shaped connection starts kept per (node, target).
const MAX_STARTS: usize = 256;
/// Most (node, target) pairs tracked.
const MAX_PAIRS: usize = 4096;
/// Connections on one interval that make a cadence.
pub(super) const MIN_CHAIN: usize = 4;
/// Shortest interval taken for a health-check cadence.
const MIN_INTERVAL: f64 = 0.5;
/// Longest interval (the ALB's longest health-check interval is 300 s).
const MAX_INTERVAL: f64 = 310.0;
/// Largest request (TLS application data, bytes) of a health check.
const MAX_REQUEST: u64 = 2048;
/// A health check's connection closes this soon after its answer.
const CLOSE_AFTER: Duration = Duration(2_000_000_000);
/// A health check's connection lives at most this long (the 10 s connect and TLS handshake
/// timeouts, plus a margin).
const MAX_LIFETIME: Duration = Duration(15_000_000_000);
/// Neighbours on each side whose distance is tried as the interval.
const NEIGHBOURS: usize = 3;

/// True when a connection has the shape of a health check that carried no readable request:
/// opened by a SYN, no clear-text HTTP exchange (`http_exchanges`), closed within
/// [`MAX_LIFETIME`]; and either it never got going (refused, unreachable, SYN unanswered, no
/// TLS session) or it carried one small TLS request whose answer was followed by a close within
/// [`CLOSE_AFTER`].
pub fn health_check_shaped(
    tcp: &ConnSummary,
    tls: Option<&TlsInfo>,
    http_exchanges: usize,
) -> bool {
    if !tcp.saw_syn || http_exchanges > 0 || tcp.end.since(tcp.start) > MAX_LIFETIME {
        return false;
    }
    let closes = |after: Timestamp| {
        tcp.events.iter().find(|e| {
            (e.kind.is_close() || matches!(e.kind, TcpEventKind::Icmp(_))) && e.ts >= after
        })
    };
    let established = tls.and_then(|t| t.established).is_some();
    // Request/answer pairs of TLS application data (a final close_notify is not one).
    let exchanges = tls
        .map(|t| burst_exchanges(&t.bursts, alert_only_max(t), t.tickets))
        .unwrap_or_default();
    if !established || exchanges.is_empty() {
        // Never got going: it must have ended (a close, an ICMP error, or an unanswered SYN).
        let syn_only = !tcp
            .events
            .iter()
            .any(|e| matches!(e.kind, TcpEventKind::SynAck { .. }));
        return syn_only || closes(tcp.start).is_some();
    }
    let [only] = exchanges.as_slice() else {
        return false;
    };
    let Some(answer) = &only.response else {
        return false;
    };
    only.request.bytes <= MAX_REQUEST
        && closes(answer.last).is_some_and(|c| c.ts.since(answer.last) <= CLOSE_AFTER)
}

/// Starts of health-check-shaped connections per (node, target), and the chains they form.
#[derive(Clone, Debug, Default)]
pub struct HealthCadence {
    starts: foldhash::HashMap<(IpAddr, Endpoint), Starts>,
    /// Connections not remembered because [`MAX_PAIRS`] pairs were tracked.
    pub pairs_over_limit: u64,
}

/// One (node, target)'s remembered starts: in arrival order (the oldest is forgotten first),
/// and as distinct seconds in ascending order (where chains are looked for), kept sorted as
/// starts come and go rather than sorted again for every question.
#[derive(Clone, Debug, Default)]
struct Starts {
    /// Start and the node's source port of each connection.
    order: VecDeque<(Timestamp, u16)>,
    /// The same connections sorted by source port and start (then arrival), each with its
    /// arrival number ([`Starts::first`] is the oldest's): a second copy of a connection
    /// ([`Starts::twin_of`]) is looked for among the starts from its port within [`TWIN`] of
    /// it, not in every remembered one (a refused target's list is dense: [`MAX_STARTS`]
    /// starts looked at for every question).
    by_port: Vec<(u16, Timestamp, u16)>,
    /// The arrival number of the front of `order` (wrapping: the numbers of the starts
    /// remembered at once, at most [`MAX_STARTS`], are told apart by their distance from it).
    first: u16,
    /// The distinct values of `order` in seconds, ascending.
    secs: Vec<f64>,
    /// How many starts of `order` have each value of `secs`.
    counts: Vec<u32>,
    /// The latest start forgotten for [`MAX_STARTS`]: before it, the list is not whole.
    forgotten_until: Option<Timestamp>,
}

impl Starts {
    /// Remembers the connection from `port` at `start`, unless it is a remembered one seen
    /// again ([`is_twin`]).
    fn push(&mut self, start: Timestamp, port: u16) {
        if self.twin_of(start, port).is_some() {
            return;
        }
        self.remember(start, port);
    }

    /// Remembers the connection from `port` at `start` (the oldest forgotten past
    /// [`MAX_STARTS`]).
    fn remember(&mut self, start: Timestamp, port: u16) {
        if self.order.len() >= MAX_STARTS {
            if let Some((old, old_port)) = self.order.pop_front() {
                self.forget(old.as_secs_f64());
                self.forgotten_until = Some(self.forgotten_until.map_or(old, |f| f.max(old)));
                let oldest = self.first;
                let at = self
                    .by_port
                    .partition_point(|e| (e.0, e.1) < (old_port, old));
                if let Some(i) = self
                    .by_port
                    .iter()
                    .skip(at)
                    .take_while(|e| (e.0, e.1) == (old_port, old))
                    .position(|e| e.2 == oldest)
                {
                    self.by_port.remove(at + i);
                }
                self.first = self.first.wrapping_add(1);
            }
        }
        // Its arrival number is the greatest: after every remembered start of its port and time.
        let arrival = self.first.wrapping_add(self.order.len() as u16);
        let at = self
            .by_port
            .partition_point(|e| (e.0, e.1) <= (port, start));
        self.by_port.insert(at, (port, start, arrival));
        self.order.push_back((start, port));
        let x = start.as_secs_f64();
        let i = self.secs.partition_point(|v| *v < x);
        match self.counts.get_mut(i) {
            Some(c) if self.secs.get(i) == Some(&x) => *c += 1,
            _ => {
                self.secs.insert(i, x);
                self.counts.insert(i, 1);
            }
        }
    }

    /// The start of the remembered connection that the one from `port` at `start` is a second
    /// copy of.
    fn twin_of(&self, start: Timestamp, port: u16) -> Option<Timestamp> {
        // The first in arrival order of the copies within TWIN of `start` (the one a scan of
        // `order` finds).
        let from = Timestamp(start.0.saturating_sub(TWIN.0));
        let at = self.by_port.partition_point(|e| (e.0, e.1) < (port, from));
        self.by_port
            .iter()
            .skip(at)
            .take_while(|e| e.0 == port && e.1 <= start.plus(TWIN))
            .filter(|&&(p, t, _)| is_twin(t, p, start, port))
            .min_by_key(|e| e.2.wrapping_sub(self.first))
            .map(|e| e.1)
    }

    fn forget(&mut self, x: f64) {
        let i = self.secs.partition_point(|v| *v < x);
        if self.secs.get(i) != Some(&x) {
            return;
        }
        if let Some(c) = self.counts.get_mut(i) {
            *c -= 1;
            if *c == 0 {
                self.secs.remove(i);
                self.counts.remove(i);
            }
        }
    }
}

impl HealthCadence {
    /// Remembers a health-check-shaped connection from `node` (source `port`) to `target`
    /// opened at `start`. The same connection seen again (mirrored on two ENIs, or in two
    /// merged captures: same ports, within [`TWIN`]) is remembered once.
    pub fn record(&mut self, node: IpAddr, port: u16, target: Endpoint, start: Timestamp) {
        if !self.starts.contains_key(&(node, target)) && self.starts.len() >= MAX_PAIRS {
            self.pairs_over_limit += 1;
            return;
        }
        self.starts
            .entry((node, target))
            .or_default()
            .push(start, port);
    }

    /// True when the shaped connection opened at `start` from `node` (source `port`) to
    /// `target` is one of at least [`MIN_CHAIN`] remembered ones spaced by one steady interval.
    pub fn on_cadence(&self, node: IpAddr, port: u16, target: Endpoint, start: Timestamp) -> bool {
        let Some(list) = self.starts.get(&(node, target)) else {
            return false;
        };
        if list.order.len() < MIN_CHAIN {
            return false;
        }
        // A second copy of a remembered connection stands where the first one does.
        let start = list.twin_of(start, port).unwrap_or(start);
        let s = list.secs.as_slice();
        let t = start.as_secs_f64();
        let at = s.partition_point(|x| *x < t);
        let lo = at.saturating_sub(NEIGHBOURS);
        let hi = (at + NEIGHBOURS + 1).min(s.len());
        s.get(lo..hi)
            .unwrap_or(&[])
            .iter()
            .map(|x| (x - t).abs())
            .filter(|d| (MIN_INTERVAL..=MAX_INTERVAL).contains(d))
            .any(|d| {
                let (n, prev, next) = chain(s, t, d);
                n >= MIN_CHAIN && !closer_one(s, t, d, prev, next)
            })
    }

    /// Whether no other remembered connection from `node` to `target` than the one from
    /// `port` at `start` (and its second copies) opened within `window` of it: `Some(true)`
    /// when none did, `None` when the list is not whole there (starts forgotten for
    /// [`MAX_STARTS`], or the pair not tracked for [`MAX_PAIRS`]).
    pub fn alone_within(
        &self,
        node: IpAddr,
        port: u16,
        target: Endpoint,
        start: Timestamp,
        window: Duration,
    ) -> Option<bool> {
        let Some(list) = self.starts.get(&(node, target)) else {
            return (self.pairs_over_limit == 0).then_some(true);
        };
        let from = Timestamp(start.0.saturating_sub(window.0));
        if list.forgotten_until.is_some_and(|f| f >= from) {
            return None;
        }
        let start = list.twin_of(start, port).unwrap_or(start);
        Some(!list.order.iter().any(|&(t, p)| {
            !is_twin(t, p, start, port)
                && t.since(start).0.unsigned_abs() <= window.0.unsigned_abs()
        }))
    }

    /// True when some remembered connection from `node` to `target` is on a health-check
    /// cadence ([`HealthCadence::on_cadence`]): the capture shows where that pair's checks
    /// fall.
    pub fn has_cadence(&self, node: IpAddr, target: Endpoint) -> bool {
        let Some(list) = self.starts.get(&(node, target)) else {
            return false;
        };
        list.order.len() >= MIN_CHAIN
            && list
                .order
                .iter()
                .any(|&(t, port)| self.on_cadence(node, port, target, t))
    }
}

/// Two starts of one 4-tuple this close are one connection seen twice (a TCP port is not
/// reused that fast: TIME_WAIT lasts longer).
const TWIN: Duration = Duration(1_000_000_000);

/// True when the connection from `port` at `t` is the one from `q` at `u`, seen again.
fn is_twin(t: Timestamp, port: u16, u: Timestamp, q: u16) -> bool {
    port == q && t.since(u).0.unsigned_abs() <= TWIN.0.unsigned_abs()
}

/// Steps of a chain may be off by this much: 2 % of the interval, at least 20 ms.
fn tolerance(d: f64) -> f64 {
    (0.02 * d).max(0.02)
}

/// True when another start lies nearer than `t` to where the chain (through `t`'s neighbours
/// `prev` and `next` on it) puts the connection: two connections at one point of the grid, and
/// the other one is the health check (e.g. a client request's failed TLS handshake close to a
/// check).
fn closer_one(starts: &[f64], t: f64, d: f64, prev: Option<f64>, next: Option<f64>) -> bool {
    let expected = match (prev, next) {
        (Some(p), Some(n)) => (p + n) / 2.0,
        (Some(p), None) => p + d,
        (None, Some(n)) => n - d,
        (None, None) => t,
    };
    let off = (t - expected).abs();
    starts
        .iter()
        .any(|u| *u != t && (u - t).abs() <= tolerance(d) && (u - expected).abs() < off)
}

/// How many of the sorted `starts` lie on a chain through `t` with steps of `d` (each step
/// within [`tolerance`]), and `t`'s neighbours on it (before, after).
fn chain(starts: &[f64], t: f64, d: f64) -> (usize, Option<f64>, Option<f64>) {
    let tol = tolerance(d);
    let mut n = 1;
    let mut neighbours = [None, None];
    for (k, step) in [d, -d].into_iter().enumerate() {
        let mut cur = t;
        for _ in 0..starts.len() {
            let want = cur + step;
            let i = starts.partition_point(|x| *x < want);
            let best = [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .filter_map(|j| starts.get(j).copied())
                .min_by(|a, b| (a - want).abs().total_cmp(&(b - want).abs()));
            match best {
                Some(x) if (x - want).abs() <= tol && x != cur => {
                    if cur == t {
                        if let Some(slot) = neighbours.get_mut(k) {
                            *slot = Some(x);
                        }
                    }
                    n += 1;
                    cur = x;
                }
                _ => break,
            }
        }
    }
    let [after, before] = neighbours;
    (n, before, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Endpoint {
        Endpoint {
            ip: IpAddr::from([10, 0, 2, 15]),
            port: 443,
        }
    }

    fn ts(s: f64) -> Timestamp {
        Timestamp((s * 1e9) as i64)
    }

    /// A distinct source port per connection start.
    fn port(s: f64) -> u16 {
        1024 + ((s * 1000.0) as u64 % 60_000) as u16
    }

    #[test]
    fn a_connection_seen_twice_is_one_start_on_the_cadence() {
        // Mirrored on the node's ENI and on the target's: each check 40 µs apart under the
        // same ports.
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut c = HealthCadence::default();
        for s in [3.0, 6.0, 9.0, 12.0] {
            c.record(node, port(s), ep(), ts(s));
            c.record(node, port(s), ep(), ts(s + 0.000_04));
        }
        assert_eq!(c.starts.get(&(node, ep())).map(|s| s.order.len()), Some(4));
        for s in [3.0, 6.0, 9.0, 12.0] {
            assert!(c.on_cadence(node, port(s), ep(), ts(s)));
            assert!(c.on_cadence(node, port(s), ep(), ts(s + 0.000_04)));
        }
        // Another connection at the same moment is not a copy.
        assert!(!c.on_cadence(node, 9, ep(), ts(9.000_04)));
    }

    /// [`Starts::twin_of`] as a scan of every remembered start in arrival order.
    fn twin_by_scan(st: &Starts, start: Timestamp, port: u16) -> Option<Timestamp> {
        st.order
            .iter()
            .find(|&&(t, p)| is_twin(t, p, start, port))
            .map(|&(t, _)| t)
    }

    #[test]
    fn a_second_copy_is_found_as_a_scan_in_arrival_order_finds_it() {
        // Few ports and times on a coarse grid, out of order, past MAX_STARTS (the oldest
        // forgotten) and past the arrival numbers' wrap: many starts share a time, and a
        // question often has several copies within TWIN (the first to arrive is the answer).
        let mut st = Starts::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x >> 33
        };
        for i in 0..70_000u64 {
            let t = Timestamp(((i / 8) as i64 + (next() % 400) as i64) * 250_000_000);
            let port = (next() % 3) as u16;
            if i % 4 == 0 {
                // the usual path: a copy is not remembered again
                st.push(t, port);
            } else {
                // pushed whatever its copies (as with several copies remembered apart)
                st.remember(t, port);
            }
            for _ in 0..2 {
                let q = Timestamp(t.0 + (next() % 9) as i64 * 250_000_000 - 1_000_000_000);
                let qp = (next() % 3) as u16;
                assert_eq!(st.twin_of(q, qp), twin_by_scan(&st, q, qp), "after {i}");
            }
            assert_eq!(st.by_port.len(), st.order.len());
        }
    }

    #[test]
    fn kept_sorted_starts_equal_the_sorted_distinct_remembered_ones() {
        let mut st = Starts::default();
        // Out of order, repeats, and more than MAX_STARTS so the oldest are forgotten.
        for i in 0..(MAX_STARTS as i64 * 3) {
            // a port of its own each: repeated times are other connections, not copies
            st.push(Timestamp((i * 7919) % 1000 * 1_000_000), i as u16);
            let mut want: Vec<f64> = st.order.iter().map(|(t, _)| t.as_secs_f64()).collect();
            want.sort_by(f64::total_cmp);
            want.dedup();
            assert_eq!(st.secs, want, "after {i}");
            assert_eq!(st.counts.iter().sum::<u32>() as usize, st.order.len());
        }
    }

    #[test]
    fn a_steady_interval_is_a_cadence_and_stray_connections_are_not_on_it() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut c = HealthCadence::default();
        for s in [100.0, 105.002, 110.001, 115.003, 120.0, 107.3, 113.9] {
            c.record(node, port(s), ep(), ts(s));
        }
        assert!(c.on_cadence(node, port(110.001), ep(), ts(110.001)));
        assert!(c.on_cadence(node, port(100.0), ep(), ts(100.0)));
        assert!(!c.on_cadence(node, port(107.3), ep(), ts(107.3)));
        assert!(!c.on_cadence(node, port(113.9), ep(), ts(113.9)));
        let other = IpAddr::from([10, 0, 1, 26]);
        assert!(!c.on_cadence(other, port(110.001), ep(), ts(110.001)));
    }

    #[test]
    fn of_two_connections_at_one_point_of_the_grid_the_nearer_is_the_check() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut c = HealthCadence::default();
        for s in [10.0, 40.001, 70.002, 100.0, 69.7] {
            c.record(node, port(s), ep(), ts(s));
        }
        assert!(c.on_cadence(node, port(70.002), ep(), ts(70.002)));
        assert!(!c.on_cadence(node, port(69.7), ep(), ts(69.7)));
    }

    #[test]
    fn a_pair_has_a_cadence_only_with_a_chain() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut c = HealthCadence::default();
        for s in [10.0, 15.0, 27.3] {
            c.record(node, port(s), ep(), ts(s));
        }
        assert!(!c.has_cadence(node, ep()));
        for s in [20.0, 25.0] {
            c.record(node, port(s), ep(), ts(s));
        }
        assert!(c.has_cadence(node, ep()));
        // the stray one is off it, and another node has none
        assert!(!c.on_cadence(node, port(27.3), ep(), ts(27.3)));
        assert!(!c.has_cadence(IpAddr::from([10, 0, 1, 26]), ep()));
    }

    #[test]
    fn a_connection_alone_in_its_window_and_one_with_a_neighbour() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let window = Duration(310_000_000_000);
        let mut c = HealthCadence::default();
        // Never seen: nothing from that pair at all.
        assert_eq!(
            c.alone_within(node, 7, ep(), ts(1000.0), window),
            Some(true)
        );
        for s in [1000.0, 1400.0] {
            c.record(node, port(s), ep(), ts(s));
            // a second copy of each (mirrored twice) is the same connection
            c.record(node, port(s), ep(), ts(s + 0.000_04));
        }
        assert_eq!(
            c.alone_within(node, port(1000.0), ep(), ts(1000.0), window),
            Some(true)
        );
        c.record(node, port(1320.0), ep(), ts(1320.0));
        assert_eq!(
            c.alone_within(node, port(1000.0), ep(), ts(1000.0), window),
            Some(true)
        );
        assert_eq!(
            c.alone_within(node, port(1400.0), ep(), ts(1400.0), window),
            Some(false)
        );
        // A pair not tracked (over the limit) is not known to be alone.
        c.pairs_over_limit = 1;
        let other = IpAddr::from([10, 0, 1, 26]);
        assert_eq!(c.alone_within(other, 7, ep(), ts(1000.0), window), None);
    }

    #[test]
    fn a_window_reaching_forgotten_starts_is_not_known_alone() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut c = HealthCadence::default();
        for i in 0..(MAX_STARTS + 1) {
            let s = i as f64 * 10.0;
            c.record(node, port(s), ep(), ts(s));
        }
        // the first start (0 s) was forgotten: a window reaching back to it is not whole
        let last = MAX_STARTS as f64 * 10.0;
        let narrow = Duration(5_000_000_000);
        assert_eq!(
            c.alone_within(node, port(last), ep(), ts(last), narrow),
            Some(true)
        );
        assert_eq!(c.alone_within(node, 9, ep(), ts(5.0), narrow), None);
    }

    #[test]
    fn three_connections_are_not_enough() {
        let node = IpAddr::from([10, 0, 1, 25]);
        let mut c = HealthCadence::default();
        for s in [1.0, 2.0, 3.0] {
            c.record(node, port(s), ep(), ts(s));
        }
        assert!(!c.on_cadence(node, port(2.0), ep(), ts(2.0)));
    }
}
