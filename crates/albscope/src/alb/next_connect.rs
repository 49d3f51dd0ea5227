//! What became of the connects to a target after it reset a request: a bounded record of
//! connect outcomes, kept only where a question will be asked.
//!
//! A target's RST at a request on a kept-alive connection (no FIN before it, its keep-alive
//! timer unknown) is an idle close crossing the request (a keep-alive race: the target lives
//! and accepts the next connection) or the target resetting the request (a firewall reject, a
//! process gone: then it refuses new connections too). The next connect attempts of any opener
//! to that target tell them apart. A watch is set at each such reset (when its connection's
//! record comes) and keeps the first attempt after it, the first accepted one and the first
//! refusal at least [`STOPPED_FOR`] later, each within [`HORIZON`]: a fixed size per watch, at
//! most [`MAX_PER_TARGET`] per target and [`MAX_WATCHES`] in all.

use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{ConnKey, Dir, Endpoint, TcpEventKind};
use crate::protocol::ConnectionRecord;
use std::collections::VecDeque;
use std::net::IpAddr;

/// Most watches kept; past it a reset gets none (counted in [`NextConnects::over_limit`]) and
/// its verdict is the one it had without.
pub const MAX_WATCHES: usize = 10_000;
/// Most watches per target (a reset storm on one target), so that a connect to it updates a
/// bounded number; past it a reset gets none, counted like [`MAX_WATCHES`].
pub const MAX_PER_TARGET: usize = 256;
/// How long after a reset its watch takes connects in: the first one counts only within
/// the diagnosis's few seconds anyway (`AfterReset::stopped_accepting`), and a target refusing for a second
/// shows it by then.
pub const HORIZON: Duration = Duration(60_000_000_000);
/// Recent connect attempts remembered for a watch set after them (a refused connect's record
/// can come before the record of the reset it follows).
const RECENT: usize = 16;
/// How long after the reset the target must go on refusing connects, with none accepted, for
/// the refusals to show it stopped accepting rather than a blip (a process restarting within a
/// second closes its idle connections itself, the shape of a race).
pub const STOPPED_FOR: Duration = Duration(1_000_000_000);

/// What a connect attempt got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// SYN-ACK: the target accepted it.
    Accepted,
    /// The SYN was answered by RST (nothing listening, or a reject).
    Refused,
    /// Neither (no answer, an ICMP error).
    Other,
}

/// One connect attempt to a target.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConnectAttempt {
    /// Its opener's address.
    pub opener: IpAddr,
    /// When its SYN was sent.
    pub at: Timestamp,
    /// Its SYN.
    pub syn: PacketPos,
    /// The target's answer (SYN-ACK or RST), when there was one.
    pub answer: Option<PacketPos>,
    /// What it got.
    pub outcome: ConnectOutcome,
    /// Its connection (mirror session, opener and target), for finding it again.
    pub key: ConnKey,
    /// Its last packet and when it was seen.
    pub last: (Timestamp, PacketPos),
}

/// What the capture shows of the connects to a target after a reset.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct AfterReset {
    /// The first connect attempt after it.
    pub first: Option<ConnectAttempt>,
    /// The first accepted one.
    pub first_accepted: Option<ConnectAttempt>,
    /// The first refused one at least [`STOPPED_FOR`] after the reset.
    pub later_refusal: Option<ConnectAttempt>,
}

impl AfterReset {
    fn see(&mut self, from: Timestamp, a: ConnectAttempt) {
        let earlier = |slot: &Option<ConnectAttempt>| slot.map_or(true, |s| a.at < s.at);
        if earlier(&self.first) {
            self.first = Some(a);
        }
        match a.outcome {
            ConnectOutcome::Accepted if earlier(&self.first_accepted) => {
                self.first_accepted = Some(a)
            }
            ConnectOutcome::Refused
                if a.at.since(from).0 >= STOPPED_FOR.0 && earlier(&self.later_refusal) =>
            {
                self.later_refusal = Some(a)
            }
            _ => {}
        }
    }

    /// The first attempt after the reset when it was refused within `window` and the target
    /// went on refusing: a refusal [`STOPPED_FOR`] after the reset with none accepted before
    /// it. With the later refusal.
    pub fn stopped_accepting(
        &self,
        from: Timestamp,
        window: Duration,
    ) -> Option<(ConnectAttempt, ConnectAttempt)> {
        let first = self.first?;
        let later = self.later_refusal?;
        let refused_soon =
            first.outcome == ConnectOutcome::Refused && first.at.since(from).0 <= window.0;
        let none_accepted = self.first_accepted.map_or(true, |a| a.at > later.at);
        (refused_soon && none_accepted).then_some((first, later))
    }
}

/// The watches over connects to targets after their resets (see the module's text).
#[derive(Clone, Debug, Default)]
pub struct NextConnects {
    /// Per target: (the reset's time, what came after it).
    watches: foldhash::HashMap<Endpoint, Vec<(Timestamp, AfterReset)>>,
    count: usize,
    /// The last connect attempts (any target).
    recent: VecDeque<(Endpoint, ConnectAttempt)>,
    /// Resets not watched because [`MAX_WATCHES`] were.
    pub over_limit: u64,
}

/// The connect attempt a record shows, when it opened in the capture.
fn attempt_of(rec: &ConnectionRecord) -> Option<ConnectAttempt> {
    if !rec.tcp.saw_syn {
        return None;
    }
    let ev = &rec.tcp.events;
    let synack = ev
        .iter()
        .find(|e| matches!(e.kind, TcpEventKind::SynAck { .. }));
    let reset = ev
        .iter()
        .find(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Rst));
    let (outcome, answer) = match (synack, reset) {
        (Some(s), _) => (ConnectOutcome::Accepted, Some(s.pos)),
        (None, Some(r)) => (ConnectOutcome::Refused, Some(r.pos)),
        (None, None) => (ConnectOutcome::Other, None),
    };
    Some(ConnectAttempt {
        opener: rec.tcp.key.client.ip,
        at: rec.tcp.start,
        syn: rec.tcp.first_pos,
        answer,
        outcome,
        key: rec.tcp.key,
        last: (rec.tcp.end, rec.tcp.last_pos),
    })
}

/// The time of the target's RST on a connection that carried a request, before any answer
/// to its last one: a reset at a request.
fn reset_at_request(rec: &ConnectionRecord) -> Option<Timestamp> {
    let unanswered = rec
        .unfinished
        .iter()
        .any(|e| e.request.is_some() && e.response.is_none());
    if !unanswered {
        return None;
    }
    rec.tcp
        .events
        .iter()
        .find(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Rst))
        .map(|e| e.ts)
}

impl NextConnects {
    /// Learns from a closed connection: a connect attempt to a watched target, and a reset at
    /// a request that sets a watch.
    pub fn learn(&mut self, rec: &ConnectionRecord) {
        let target = rec.tcp.key.server;
        if let Some(a) = attempt_of(rec) {
            if let Some(list) = self.watches.get_mut(&target) {
                for (from, after) in list.iter_mut() {
                    if a.at > *from && a.at.since(*from).0 <= HORIZON.0 {
                        after.see(*from, a);
                    }
                }
            }
            if self.recent.len() >= RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((target, a));
        }
        let Some(from) = reset_at_request(rec) else {
            return;
        };
        let full = self
            .watches
            .get(&target)
            .is_some_and(|l| l.len() >= MAX_PER_TARGET);
        if self.count >= MAX_WATCHES || full {
            self.over_limit += 1;
            return;
        }
        let mut after = AfterReset::default();
        for (t, a) in &self.recent {
            if *t == target && a.at > from && a.at.since(from).0 <= HORIZON.0 {
                after.see(from, *a);
            }
        }
        self.watches.entry(target).or_default().push((from, after));
        self.count += 1;
    }

    /// What came after the reset of `target` at `from` (`None` when it was not watched).
    pub fn after(&self, target: Endpoint, from: Timestamp) -> Option<&AfterReset> {
        self.watches
            .get(&target)?
            .iter()
            .find(|(t, _)| *t == from)
            .map(|(_, a)| a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(at_ms: i64, outcome: ConnectOutcome) -> ConnectAttempt {
        ConnectAttempt {
            opener: IpAddr::from([10, 0, 0, 1]),
            at: Timestamp(at_ms * 1_000_000),
            syn: PacketPos::default(),
            answer: None,
            outcome,
            key: ConnKey {
                session: crate::decode::MirrorSession::DIRECT,
                client: Endpoint {
                    ip: IpAddr::from([10, 0, 0, 1]),
                    port: 40000,
                },
                server: Endpoint {
                    ip: IpAddr::from([10, 0, 1, 5]),
                    port: 8080,
                },
            },
            last: (Timestamp(at_ms * 1_000_000), PacketPos::default()),
        }
    }

    const WINDOW: Duration = Duration(5_000_000_000);

    #[test]
    fn refusals_for_a_second_with_none_accepted_stop_it() {
        let from = Timestamp(0);
        let mut a = AfterReset::default();
        // Out of order, as records close.
        a.see(from, attempt(2_500, ConnectOutcome::Refused));
        a.see(from, attempt(520, ConnectOutcome::Refused));
        a.see(from, attempt(1_050, ConnectOutcome::Refused));
        let (first, later) = a.stopped_accepting(from, WINDOW).expect("stopped");
        assert_eq!(first.at, Timestamp(520_000_000));
        assert_eq!(later.at, Timestamp(1_050_000_000));
    }

    #[test]
    fn a_blip_an_acceptance_or_a_late_refusal_does_not() {
        let from = Timestamp(0);
        let mut blip = AfterReset::default();
        blip.see(from, attempt(300, ConnectOutcome::Refused));
        blip.see(from, attempt(800, ConnectOutcome::Accepted));
        blip.see(from, attempt(3_000, ConnectOutcome::Refused));
        assert_eq!(blip.stopped_accepting(from, WINDOW), None);
        let mut accepted_first = AfterReset::default();
        accepted_first.see(from, attempt(100, ConnectOutcome::Accepted));
        accepted_first.see(from, attempt(1_500, ConnectOutcome::Refused));
        assert_eq!(accepted_first.stopped_accepting(from, WINDOW), None);
        let mut late = AfterReset::default();
        late.see(from, attempt(6_000, ConnectOutcome::Refused));
        late.see(from, attempt(8_000, ConnectOutcome::Refused));
        assert_eq!(late.stopped_accepting(from, WINDOW), None);
        let mut once = AfterReset::default();
        once.see(from, attempt(300, ConnectOutcome::Refused));
        assert_eq!(once.stopped_accepting(from, WINDOW), None);
    }

    use crate::alb::testutil::{ep, exch, get, hdrs, t, Conn};
    use crate::protocol::AppKind;

    /// A kept-alive connection from port `port` whose second request, at `ms`, the target
    /// resets 1 ms later.
    fn reset_conn(id: u64, port: u16, ms: i64) -> ConnectionRecord {
        Conn::new(id, ep("10.0.0.1", port), ep("10.0.1.5", 8080), ms - 2_000)
            .handshake(ms - 2_000)
            .ev(ms + 1, Dir::ToClient, TcpEventKind::Rst)
            .record(
                AppKind::Http,
                vec![exch(1, Some(1_000), Some(get(ms, "/x", hdrs(&[]))), None)],
                1,
                Some(ms - 1_000),
            )
    }

    /// A connect from port `port` at `ms`, refused (RST) or accepted (SYN-ACK, then closed).
    fn connect(id: u64, port: u16, ms: i64, refused: bool) -> ConnectionRecord {
        let c = Conn::new(id, ep("10.0.0.1", port), ep("10.0.1.5", 8080), ms);
        let c = if refused {
            c.ev(
                ms,
                Dir::ToServer,
                TcpEventKind::Syn {
                    retransmission: false,
                },
            )
            .ev(ms, Dir::ToClient, TcpEventKind::Rst)
        } else {
            c.handshake(ms).ev(ms + 2, Dir::ToServer, TcpEventKind::Fin)
        };
        c.record(AppKind::Empty, Vec::new(), 0, None)
    }

    #[test]
    fn a_watch_sees_the_connects_after_its_reset_in_any_record_order() {
        let mut n = NextConnects::default();
        // The first refusal's record comes before the reset's (close order), the rest after.
        n.learn(&connect(2, 40002, 10_500, true));
        n.learn(&reset_conn(1, 40001, 10_000));
        n.learn(&connect(3, 40003, 11_200, true));
        let after = n.after(ep("10.0.1.5", 8080), t(10_001)).expect("watched");
        let (first, later) = after.stopped_accepting(t(10_001), WINDOW).expect("stopped");
        assert_eq!(first.at, t(10_500));
        assert_eq!(later.at, t(11_200));
        // An earlier accepted connect, whose record comes last, undoes it.
        n.learn(&connect(4, 40004, 10_800, false));
        let after = n.after(ep("10.0.1.5", 8080), t(10_001));
        assert_eq!(
            after.and_then(|a| a.stopped_accepting(t(10_001), WINDOW)),
            None
        );
    }

    #[test]
    fn watches_are_bounded_and_counted() {
        let mut n = NextConnects::default();
        for i in 0..MAX_PER_TARGET as u64 + 3 {
            n.learn(&reset_conn(i, 40000, 10_000 + i as i64 * 10));
        }
        assert_eq!(n.count, MAX_PER_TARGET);
        assert_eq!(n.over_limit, 3);
        let last = 10_000 + (MAX_PER_TARGET as i64 + 2) * 10 + 1;
        assert!(n.after(ep("10.0.1.5", 8080), t(last)).is_none());
        assert!(n.after(ep("10.0.1.5", 8080), t(10_001)).is_some());
        // Over every target: the total.
        n.count = MAX_WATCHES;
        let mut other = reset_conn(9_999, 40000, 50_000);
        other.tcp.key.server = ep("10.0.1.6", 8080);
        n.learn(&other);
        assert_eq!(n.over_limit, 4);
    }
}
