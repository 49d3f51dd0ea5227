//! Eager pairing: requests in flight whose head was read hold back only their own request
//! line. Whatever the tick points and whichever requests hang, the result is that of one
//! pairing batch at the end, and the ok traffic after a hanging request is not held.

use super::testutil::*;
use super::*;
use crate::capture::Duration;
use crate::flow::{Dir, TcpEventKind};
use crate::pipeline::Clock;
use crate::protocol::{request_line_hash, AppKind, AppSink, InFlight};
use proptest::prelude::*;

const TARGETS: [&str; 3] = ["/a", "/b", "/c"];
const CLIENTS: [&str; 2] = [CLIENT, "198.51.100.7"];

/// One client request of the test traffic.
#[derive(Clone, Debug)]
struct Req {
    start: i64,
    target: usize,
    client: usize,
    /// The ALB answered it itself (503), no back-end leg.
    front_only: bool,
    /// It hangs this long before both legs are answered (a long poll), else 30 ms.
    hang: Option<i64>,
    /// The ALB's connect to the target was refused first (a bare back-end attempt at
    /// `start + 1`, reset at `start + 2`, reported with the request's legs).
    refused: bool,
}

impl Req {
    /// A request at `start` (ms) from the first client to the first target, answered in 30 ms
    /// (by the ALB itself when `front_only`).
    fn to_first(start: i64, front_only: bool) -> Req {
        Req {
            start,
            target: 0,
            client: 0,
            front_only,
            hang: None,
            refused: false,
        }
    }

    fn done(&self) -> i64 {
        self.start + self.hang.unwrap_or(30)
    }
}

/// The back end's input, when not the front end's: from when (ms) and until when it records.
#[derive(Clone, Copy, Debug, Default)]
struct BackSpan {
    from: Option<i64>,
    until: Option<i64>,
}

impl BackSpan {
    /// The back end is in an input of its own.
    fn apart(self) -> bool {
        self.from.is_some() || self.until.is_some()
    }
}

/// Delivers request `i`'s legs (connection ids `2i`, `2i + 1`). With `back`, the back end is in
/// a second input that started and stopped then: back-end legs not wholly inside it are not in
/// the capture.
fn deliver(tr: &mut AlbTracker<Collect>, i: usize, r: &Req, back: BackSpan) {
    let back_captured =
        back.from.map_or(true, |s| r.start + 1 >= s) && back.until.map_or(true, |u| r.done() <= u);
    let back_file = u16::from(back.apart());
    let id = i as u64 * 2;
    let target = TARGETS[r.target];
    let client = CLIENTS[r.client];
    let f = Conn::new(id, ep(client, 10_000 + i as u16), ep(ALB, 80), r.start - 2)
        .handshake(r.start - 2);
    if r.refused && back_captured {
        let mut attempt = Conn::new(
            1_000_000 + id,
            ep(ALB, 40_000 + i as u16),
            ep(TARGET, 80),
            r.start + 1,
        )
        .ev(
            r.start + 1,
            Dir::ToServer,
            TcpEventKind::Syn {
                retransmission: false,
            },
        )
        .ev(r.start + 2, Dir::ToClient, TcpEventKind::Rst);
        attempt.s.first_pos.file = back_file;
        tr.closed(attempt.record(AppKind::Empty, vec![], 0, None));
    }
    let (status, server) = if r.front_only {
        (503, "awselb/2.0")
    } else {
        (200, "Apache")
    };
    tr.exchange(
        &f.ctx(false),
        exch(
            0,
            None,
            Some(get(r.start, target, front_headers())),
            Some(resp(r.done(), status, server, 10)),
        ),
    );
    if r.front_only || !back_captured {
        return;
    }
    let mut b = Conn::new(
        id + 1,
        ep(ALB, 20_000 + i as u16),
        ep(TARGET, 80),
        r.start + 1,
    )
    .handshake(r.start + 1);
    b.s.first_pos.file = back_file;
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(r.start + 2, target, back_headers(client))),
            Some(resp(r.done() - 1, 200, "Apache", 10)),
        ),
    );
}

/// What pairing decided, comparable between runs: each path's legs (connection ids), method
/// and notes.
fn decided(sink: &Collect) -> Vec<String> {
    let mut out: Vec<String> = sink
        .paths
        .iter()
        .map(|p| {
            format!(
                "{:?} {:?} {:?} {:?}",
                p.front.as_ref().map(|l| l.conn.id),
                p.back.as_ref().map(|l| l.conn.id),
                p.pairing,
                p.notes
            )
        })
        .collect();
    out.sort();
    out
}

fn tracker() -> AlbTracker<Collect> {
    AlbTracker::new(
        AlbConfig {
            alb_ips: vec![ALB.parse().unwrap()],
            ..AlbConfig::default()
        },
        Collect::default(),
    )
}

/// Runs the traffic, delivering each request's legs when it is done, with a clock tick (what
/// is in flight as the protocol layer tells it, and the capture clock's `disorder` when told)
/// after the deliveries where `ticks` says; returns the decisions and the most legs held after
/// a tick.
fn run(
    reqs: &[Req],
    ticks: &[bool],
    disorder: Option<i64>,
    back: BackSpan,
) -> (Vec<String>, usize) {
    let mut tr = tracker();
    let ends = crate::capture::InputEnds::new(2);
    if back.apart() {
        tr.set_input_starts(vec![Some(t(0)), Some(t(back.from.unwrap_or(0)))]);
        tr.set_input_ends(ends.clone());
    }
    let mut order: Vec<usize> = (0..reqs.len()).collect();
    order.sort_by_key(|&i| (reqs[i].done(), i));
    let mut delivered = vec![false; reqs.len()];
    let mut peak = 0;
    for (k, &i) in order.iter().enumerate() {
        // The reader tells an input's end before anything later.
        if let Some(until) = back.until.filter(|u| reqs[i].done() > *u) {
            ends.set(1, Some(t(until)));
        }
        deliver(&mut tr, i, &reqs[i], back);
        delivered[i] = true;
        if !ticks.get(k).copied().unwrap_or(false) {
            continue;
        }
        let now = reqs[i].done();
        // Requests sent by now and not delivered: the hanging ones with their line, the
        // others (answered within 30 ms) as the oldest start of the rest.
        let mut in_flight = InFlight {
            disorder: disorder.map(|ms| Duration(ms * 1_000_000)),
            ..InFlight::default()
        };
        for (j, r) in reqs.iter().enumerate() {
            if delivered[j] || r.start > now {
                continue;
            }
            // A refused attempt not reported yet: a connection that carried nothing.
            if r.refused && r.start < now {
                in_flight.quiet = in_flight.quiet.into_iter().chain([t(r.start + 1)]).min();
            }
            if r.hang.is_some() {
                let line = request_line_hash("GET", TARGETS[r.target]);
                in_flight.requests.push((line, t(r.start)));
            } else {
                in_flight.since = in_flight.since.into_iter().chain([t(r.start)]).min();
            }
        }
        if let Some(since) = in_flight.since {
            in_flight.requests.retain(|&(_, s)| s < since);
        }
        in_flight.requests.sort_unstable();
        tr.tick_with(t(now), in_flight);
        peak = peak.max(tr.pending_len());
    }
    let (sink, known) = tr.finish();
    assert_eq!(known.legs_paired_early, 0);
    (decided(&sink), peak)
}

fn reqs() -> impl Strategy<Value = Vec<Req>> {
    prop::collection::vec(
        (
            1i64..400,
            0..TARGETS.len(),
            0..CLIENTS.len(),
            prop::bool::weighted(0.1),
            prop::option::weighted(0.08, 500i64..20_000),
            prop::bool::weighted(0.1),
        ),
        10..60,
    )
    .prop_map(|v| {
        let mut start = 1_000;
        v.into_iter()
            .map(|(gap, target, client, front_only, hang, refused)| {
                start += gap;
                Req {
                    start,
                    target,
                    client,
                    front_only,
                    hang,
                    refused: refused && front_only,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Eager batches at random ticks (with the capture clock's disorder told or not, and
    /// batches that start when enough legs are queued), with random hanging requests and
    /// refused attempts not reported yet, and the back end in one input with the front end or
    /// in a second one started later or stopped earlier, decide what one batch at the end
    /// decides.
    #[test]
    fn eager_batches_decide_what_one_batch_at_the_end_decides(
        reqs in reqs(),
        ticks in prop::collection::vec(prop::bool::weighted(0.3), 60),
        disorder in prop::option::of(prop::sample::select(vec![0i64, 3, 40, 700])),
        back_from in prop::option::weighted(0.25, 1_000i64..10_000),
        back_until in prop::option::weighted(0.25, 2_000i64..20_000),
    ) {
        let back = BackSpan { from: back_from, until: back_until };
        let (eager, _) = run(&reqs, &ticks, disorder, back);
        let (once, _) = run(&reqs, &[], None, back);
        prop_assert_eq!(eager, once);
    }
}

#[test]
fn a_hanging_request_holds_only_its_own_request_line() {
    // A request to /c hangs for 60 s from 1 s on; ok requests to /a and /b every 100 ms.
    let mut reqs = vec![Req {
        start: 1_000,
        target: 2,
        client: 0,
        front_only: false,
        hang: Some(60_000),
        refused: false,
    }];
    for k in 0..500 {
        reqs.push(Req {
            start: 1_050 + k * 100,
            target: (k % 2) as usize,
            client: (k % 2) as usize,
            front_only: false,
            hang: None,
            refused: false,
        });
    }
    let ticks = vec![true; reqs.len()];
    let (eager, peak) = run(&reqs, &ticks, None, BackSpan::default());
    let (once, _) = run(&reqs, &[], None, BackSpan::default());
    assert_eq!(eager, once);
    // Disorder not told: about 3 s of traffic (the fixed slack and the batch step): 30
    // requests, 60 legs.
    assert!(peak < 100, "{peak} legs held");
    // Told (none): the legs of the measured slack (100 ms) and of a batch that is due when a
    // few legs are queued: what is in flight, not the rate times a fixed window.
    let (told, peak) = run(&reqs, &ticks, Some(0), BackSpan::default());
    assert_eq!(told, once);
    assert!(peak <= 12, "{peak} legs held");
}

#[test]
fn front_only_requests_before_the_first_back_end_leg_wait_for_it() {
    // Requests the ALB answered itself (503) at the very start, the node's first back-end leg
    // later, a pairing batch in between (as with proptest seed ab7210be): with one input the
    // node's back end is in the capture for its whole span, so they lack a back-end attempt,
    // in eager batches too.
    let req = Req::to_first;
    let mut reqs = vec![req(1_000, true), req(1_020, true), req(3_000, true)];
    reqs.extend((0..20).map(|k| req(4_000 + k * 50, false)));
    let ticks = vec![true; reqs.len()];
    let (eager, _) = run(&reqs, &ticks, Some(0), BackSpan::default());
    let (once, _) = run(&reqs, &[], None, BackSpan::default());
    assert_eq!(eager, once);
    let no_attempt = once.iter().filter(|d| d.contains("NoBackEndAttempt"));
    assert_eq!(no_attempt.count(), 3, "{once:?}");
    // The back end in a second input that started after them: not captured then.
    let from = BackSpan {
        from: Some(2_000),
        until: None,
    };
    let (eager, _) = run(&reqs, &ticks, Some(0), from);
    let (once, _) = run(&reqs, &[], None, from);
    assert_eq!(eager, once);
    let not_captured = once.iter().filter(|d| d.contains("BackEndNotCaptured"));
    assert_eq!(not_captured.count(), 2, "{once:?}");
    let no_attempt = once.iter().filter(|d| d.contains("NoBackEndAttempt"));
    assert_eq!(no_attempt.count(), 1, "{once:?}");
}

#[test]
fn front_only_requests_after_the_back_end_input_ended_lack_no_attempt_seen() {
    // Requests the ALB answered itself (503) while the back end's input records and after it
    // stopped (at 2 s, its last leg answered by then): only those inside its span lack a
    // back-end attempt; the others' back end is not in the capture, in eager batches too.
    let req = Req::to_first;
    let mut reqs: Vec<Req> = (0..10).map(|k| req(1_000 + k * 50, false)).collect();
    reqs.extend([req(1_600, true), req(2_500, true), req(3_000, true)]);
    reqs.extend((0..10).map(|k| req(3_500 + k * 50, false)));
    let ticks = vec![true; reqs.len()];
    let until = BackSpan {
        from: None,
        until: Some(2_000),
    };
    let (eager, _) = run(&reqs, &ticks, Some(0), until);
    let (once, _) = run(&reqs, &[], None, until);
    assert_eq!(eager, once);
    let not_captured = once.iter().filter(|d| d.contains("BackEndNotCaptured"));
    assert_eq!(not_captured.count(), 12, "{once:?}");
    let no_attempt = once.iter().filter(|d| d.contains("NoBackEndAttempt"));
    assert_eq!(no_attempt.count(), 1, "{once:?}");
}
