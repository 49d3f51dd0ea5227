//! [`AlbTracker`]: the [`AppSink`] and [`Clock`] the pipeline feeds. It holds not-yet-paired
//! legs in a time-ordered queue, pairs them once the capture clock has moved past their window
//! (or the held bytes go over budget) and hands the results to a [`PathSink`].

use super::knowledge::{unanswered, Knowledge, MAX_WEAK_NODES};
use super::queue::TimeQueue;
use super::types::{
    AlbConfig, BurstExchange, ClosedConn, ConnInfo, ConnRole, Leg, PairingNote, PathSink,
    RequestPath,
};
use super::LegBox;
use super::{pairing, size};
use crate::capture::{Duration, Timestamp};
use crate::decode::MirrorSession;
use crate::flow::{ConnId, ConnKey, ConnSummary, Dir, Endpoint, TcpEventKind};
use crate::pipeline::Clock;
use crate::protocol::{
    AppKind, AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange, InFlight, Known,
    TicketAnswer, TicketRun, TlsBurst, TlsInfo,
};
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

/// How long an unpaired back-end leg waits for a late (TLS) front end: the ALB's default client
/// keep-alive duration (3600 s) plus a margin.
pub(super) const LATE_HORIZON: Duration = Duration(3_700_000_000_000);
/// Most back-end legs waiting for a late front end.
pub(super) const MAX_LATE: usize = 20_000;

/// A leg waiting for its partner.
#[derive(Debug)]
pub(super) struct Pending {
    /// When the leg's request started (the queue's order).
    time: Timestamp,
    /// Arrival order (ties between equal times); its top bit ([`OFFERED`]) is set on a leg an
    /// eager batch offered and left unpaired (never on a leg in the queue itself).
    seq: u64,
    /// Estimated heap bytes the leg holds (at most `u32::MAX`: a held leg is far smaller).
    bytes: u32,
    /// The leg's request line ([`line_of`]), read once when it is queued (while its request is
    /// in the cache): every eager batch that looks at the leg reads this, not the request's
    /// text behind two pointers. (With `bytes`, 8 bytes: the entry stays at 32.)
    line: Line,
    /// Boxed: legs are large and move through the queue.
    leg: LegBox,
}

/// [`Pending::seq`]'s flag: an eager batch offered the leg (with the knowledge at
/// [`AlbTracker::eager_epoch`]) and left it unpaired, its start settled (see
/// [`AlbTracker::flush_eager`]). Kept in `seq` so that a held leg costs no more.
const OFFERED: u64 = 1 << 63;
/// [`Pending::seq`]'s flag besides [`OFFERED`]: the leg was a front-end leg answered long
/// enough before that batch that no back-end leg to come can pair with it by headers.
const FRONT_DONE: u64 = 1 << 62;

impl Pending {
    /// See [`OFFERED`].
    fn offered(&self) -> bool {
        self.seq & OFFERED != 0
    }

    /// See [`FRONT_DONE`].
    fn front_done(&self) -> bool {
        self.seq & FRONT_DONE != 0
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    /// Reversed: the oldest leg is the greatest, so it is the first out of a [`TimeQueue`].
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A closed connection's record, kept while legs of its finished exchanges wait to be paired.
struct ClosedEntry {
    end: Timestamp,
    record: Arc<ClosedConn>,
    bytes: usize,
}

/// Classifies connections, pairs legs and hands [`RequestPath`]s to a [`PathSink`].
pub struct AlbTracker<S: PathSink> {
    known: Knowledge,
    /// Legs waiting for their window to pass, oldest first.
    pending: TimeQueue<Pending>,
    /// Back-end legs left unpaired while the capture shows front ends: held longer (up to
    /// [`LATE_HORIZON`], at most [`MAX_LATE`]) because a long-lived TLS client connection
    /// reports its requests (bursts) only when it closes.
    late: Vec<Pending>,
    /// Front-end legs a batch left unpaired while a back-end leg that could pair with them
    /// (one starting up to [`pairing::back_end_reach`] after them) may not have been through
    /// pairing yet: they join the next batches until that reach is behind
    /// [`AlbTracker::paired_through`]. Without this, a batch boundary falling between a
    /// request's front-end leg and its back-end leg would report one request twice.
    waiting: Vec<Pending>,
    /// Estimated bytes held in `waiting` (at most a quarter of the budget).
    waiting_bytes: usize,
    /// Legs an eager batch took from `pending` and left for the batches at the window's (or
    /// the global in-flight) cutoff: the legs of request lines with a request in flight, and
    /// what the eager batch did not pair by headers. They stay legs of the queue: `flush`
    /// takes them when they are due.
    parked: Vec<Pending>,
    /// Failed front-end requests a batch left without a back end while no input that shows
    /// their node's back end had started by their time as far as known
    /// ([`PairingNote::BackEndNotCaptured`]): held, oldest first, until one does (they lack a
    /// back-end attempt then: [`PairingNote::NoBackEndAttempt`]), the capture ends, or more
    /// than [`MAX_UNSEEN`] wait (the oldest go as they are, see [`AlbTracker::forced`]). A
    /// single pairing batch at the end decides the same.
    unseen: VecDeque<Unseen>,
    /// Estimated bytes held in `unseen`.
    unseen_bytes: usize,
    /// [`Knowledge::back_epoch`] when `unseen` was last looked at.
    unseen_epoch: u64,
    /// Per node, the requests that left `unseen` over its limit, and the latest one's time
    /// (counted in [`Knowledge::front_legs_decided_early`] at the end when the node's back
    /// end was captured by then after all).
    forced: foldhash::HashMap<IpAddr, (u64, Timestamp)>,
    /// The next eager batch waits for a cutoff at or past this.
    next_eager: Timestamp,
    /// No eager batch until the global cutoff reaches this (too many legs were parked).
    eager_blocked_until: Timestamp,
    /// What pairing by headers read of the knowledge at the last eager batch that paired
    /// ([`Knowledge::pairing_epoch`]): the legs marked `offered` were offered under it.
    eager_epoch: Option<u64>,
    /// Every queued leg that started before this time has been through pairing.
    paired_through: Timestamp,
    /// A back-end connection has been seen (front-end legs wait for a partner only then).
    back_end_seen: bool,
    /// Records of closed connections whose finished exchanges may still be pending (the legs
    /// of finished exchanges are handed over before the connection closes).
    closed: foldhash::HashMap<ConnId, ClosedEntry>,
    /// Estimated bytes held in `pending`, `late`, `waiting` and `closed`.
    held_bytes: usize,
    /// The mirror session of the first leg held, and whether a leg of another one was held
    /// since: until then every batch came through one session (not asked of each leg).
    first_session: Option<MirrorSession>,
    many_sessions: bool,
    next_seq: u64,
    now: Timestamp,
    /// The next pairing batch waits for a cutoff at or past this (or enough legs: see
    /// [`AlbTracker::batch_full`]).
    next_flush: Timestamp,
    /// The capture clock's disorder as the pipeline measured it at the last tick (`None`: not
    /// told; [`WINDOW_SLACK`] is assumed then). See [`AlbTracker::slack`].
    disorder: Option<Duration>,
    /// Connections counted lately, by 4-tuple: when each opened and in which mirror session,
    /// so that one connection mirrored on two ENIs is counted once.
    counted: foldhash::HashMap<(Endpoint, Endpoint), (Timestamp, MirrorSession)>,
    /// The vectors of the last eager batch, emptied, for the next one.
    spare: EagerSpares,
    pub(super) sink: S,
}

/// Emptied vectors an eager batch ([`AlbTracker::flush_eager`]) leaves for the next one, so
/// that batches after the first allocate none of them again (each grew to a batch's size).
#[derive(Default)]
struct EagerSpares {
    /// The batch's legs, where each came from and its request line.
    batch: Vec<(Pending, Origin, Option<Line>)>,
    /// Per leg given to pairing: where it came from and its queue entry's fields.
    taken: Vec<(Origin, Timestamp, u64, u32, Line, bool)>,
    /// Stand-ins for `parked`, `waiting` and `late` while their legs are sorted into the
    /// batch or back.
    parked: Vec<Pending>,
    waiting: Vec<Pending>,
    late: Vec<Pending>,
}

/// Two connections of one 4-tuple in two mirror sessions opened this close are one.
const TWIN_WINDOW: Duration = Duration(1_000_000_000);
/// Connections remembered in [`AlbTracker::counted`] before the old ones are forgotten.
const MAX_COUNTED: usize = 8192;

/// Where a leg of an eager batch came from (and goes back to when it is not paired there).
#[derive(Clone, Copy)]
enum Origin {
    /// `pending` or `parked`.
    Queue,
    /// `waiting`.
    Waiting,
    /// `late`.
    Late,
}

/// A failed front-end request held in [`AlbTracker::unseen`].
struct Unseen {
    node: IpAddr,
    /// When its request started.
    time: Timestamp,
    /// When the ALB answered it (its start when unanswered).
    until: Timestamp,
    /// Estimated heap bytes it holds.
    bytes: usize,
    path: RequestPath,
}

/// Most requests held in [`AlbTracker::unseen`] (also at most a sixteenth of the pairing
/// budget in bytes).
const MAX_UNSEEN: usize = 4096;

/// Most legs parked before eager batches stop until the global cutoff catches up (each eager
/// batch looks at them again).
const MAX_PARKED: usize = 16_384;

/// Least capture time between two pairing batches.
const EAGER_STEP: Duration = Duration(1_000_000_000);

/// How far past its window a leg waits when the capture clock's disorder is not known (it
/// absorbs the ordering slack of the capture clock: each input steps back at most 1 s, see
/// `capture::TimeGuard`, and a tick's packet may itself be up to that far behind the latest).
const WINDOW_SLACK: Duration = Duration(2_000_000_000);

/// The least slack with a measured disorder (a margin for what the flow layer holds back for
/// reordering, a few milliseconds, and for disorder still to come that is a bit larger than
/// the one seen so far).
const SLACK_FLOOR: Duration = Duration(100_000_000);

/// A pairing batch is due before its time step when this many legs (plus four times the held
/// legs every batch looks at again) are queued and the oldest is due: held memory then follows
/// the rate times the slack and the tick spacing, not the rate times [`EAGER_STEP`]. (Tests
/// use a handful, so that their small traffic goes through such batches too.)
const BATCH_LEGS: usize = if cfg!(test) { 6 } else { 2048 };

impl<S: PathSink> AlbTracker<S> {
    /// A tracker with the given settings, feeding `sink`.
    pub fn new(config: AlbConfig, sink: S) -> Self {
        AlbTracker {
            known: Knowledge::new(config),
            pending: TimeQueue::default(),
            late: Vec::new(),
            waiting: Vec::new(),
            waiting_bytes: 0,
            parked: Vec::new(),
            unseen: VecDeque::new(),
            unseen_bytes: 0,
            unseen_epoch: 0,
            forced: foldhash::HashMap::default(),
            next_eager: Timestamp::default(),
            eager_blocked_until: Timestamp::default(),
            eager_epoch: None,
            paired_through: Timestamp::default(),
            back_end_seen: false,
            closed: foldhash::HashMap::default(),
            held_bytes: 0,
            first_session: None,
            many_sessions: false,
            next_seq: 0,
            now: Timestamp::default(),
            next_flush: Timestamp::default(),
            disorder: None,
            counted: foldhash::HashMap::default(),
            spare: EagerSpares::default(),
            sink,
        }
    }

    /// What is known so far.
    pub fn knowledge(&self) -> &Knowledge {
        &self.known
    }

    /// Legs currently waiting to be paired (for memory tests).
    pub fn pending_len(&self) -> usize {
        self.pending.len() + self.late.len() + self.waiting.len() + self.parked.len()
    }

    /// Estimated bytes currently held for pairing (for memory tests).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Pairs and emits everything still pending; returns the sink and what was learned.
    pub fn finish(mut self) -> (S, Knowledge) {
        self.flush(None);
        self.release_unseen(true);
        for (node, (count, latest)) in std::mem::take(&mut self.forced) {
            if self.known.back_captured_at(node, latest) {
                self.known.front_legs_decided_early += count;
            }
        }
        (self.sink, self.known)
    }

    /// Tells when each input's first packet was (by file index, see
    /// [`CaptureReader::input_starts`](crate::capture::CaptureReader::input_starts)): a node's
    /// back end is in the capture over the spans of the inputs that show it. Not told, or with
    /// one input, the capture shows a node's back end for its whole span or not at all.
    pub fn set_input_starts(&mut self, starts: Vec<Option<Timestamp>>) {
        self.known.coverage_mut().set_starts(starts);
    }

    /// Gives the handle the reader tells each input's end through
    /// ([`CaptureReader::input_ends`](crate::capture::CaptureReader::input_ends)): a vantage
    /// an input shows is in the capture only until that input's last packet.
    pub fn set_input_ends(&mut self, ends: crate::capture::InputEnds) {
        self.known.coverage_mut().set_ends(ends);
    }

    /// Holds `path`, a failed front-end request whose node's back end is not known to be
    /// captured at its time, in [`AlbTracker::unseen`] (the oldest go on past its limits).
    fn hold_unseen(&mut self, node: IpAddr, path: RequestPath) {
        let Some(front) = path.front.as_deref() else {
            self.sink.path(path, &self.known);
            return;
        };
        let (time, until) = front.span();
        let record = front.record.as_deref().map_or(0, size::closed_conn);
        let bytes = size::leg(front).saturating_add(record);
        self.hold(bytes);
        self.unseen_bytes += bytes;
        self.unseen.push_back(Unseen {
            node,
            time,
            until,
            bytes,
            path,
        });
        let budget = self.known.config.max_pending_bytes / 16;
        while self.unseen.len() > MAX_UNSEEN || self.unseen_bytes > budget {
            let Some(u) = self.unseen.pop_front() else {
                break;
            };
            self.release(u.bytes);
            self.unseen_bytes = self.unseen_bytes.saturating_sub(u.bytes);
            let f = self.forced.entry(u.node).or_insert((0, u.time));
            f.0 += 1;
            f.1 = f.1.max(u.time);
            self.sink.path(u.path, &self.known);
        }
    }

    /// Hands over the requests of [`AlbTracker::unseen`] whose node's back end is now known to
    /// be captured at their time (no back-end attempt, as pairing notes with that knowledge),
    /// and at the `end` all of them.
    fn release_unseen(&mut self, end: bool) {
        if self.unseen.is_empty() || (!end && self.unseen_epoch == self.known.back_epoch) {
            return;
        }
        let back_seen = self.known.back_legs + self.known.health_checks > 0;
        if !end && !back_seen {
            return;
        }
        self.unseen_epoch = self.known.back_epoch;
        for mut u in std::mem::take(&mut self.unseen) {
            let captured = back_seen && self.known.back_captured_over(u.node, u.time, u.until);
            if !captured && !end {
                self.unseen.push_back(u);
                continue;
            }
            self.release(u.bytes);
            self.unseen_bytes = self.unseen_bytes.saturating_sub(u.bytes);
            if captured {
                for n in &mut u.path.notes {
                    if *n == PairingNote::BackEndNotCaptured {
                        *n = PairingNote::NoBackEndAttempt;
                    }
                }
            }
            self.sink.path(u.path, &self.known);
        }
    }

    /// Queues `leg`; `extra_bytes` is what it holds beyond itself (a record it brings).
    fn add(&mut self, leg: Leg, extra_bytes: usize) {
        self.add_boxed(LegBox::new(leg), extra_bytes);
    }

    /// [`Self::add`] for a leg built in its box (an exchange's leg is large: moved once).
    fn add_boxed(&mut self, leg: LegBox, extra_bytes: usize) {
        let entry = self.held(leg, extra_bytes);
        self.pending.push(entry);
        self.shed_over_budget();
    }

    /// `leg` as a queue entry, its bytes (plus `extra_bytes` it brings) counted as held.
    fn held(&mut self, mut leg: LegBox, extra_bytes: usize) -> Pending {
        let bytes = u32::try_from(size::leg(&leg).saturating_add(extra_bytes)).unwrap_or(u32::MAX);
        self.hold(bytes as usize);
        let session = leg.conn.key.session;
        self.many_sessions |= *self.first_session.get_or_insert(session) != session;
        self.next_seq += 1;
        Pending {
            time: leg.time(),
            seq: self.next_seq,
            bytes,
            line: line_of(&mut leg),
            leg,
        }
    }

    fn hold(&mut self, bytes: usize) {
        self.held_bytes = self.held_bytes.saturating_add(bytes);
        self.known.peak_pending_bytes = self.known.peak_pending_bytes.max(self.held_bytes as u64);
    }

    fn release(&mut self, bytes: usize) {
        self.held_bytes = self.held_bytes.saturating_sub(bytes);
    }

    /// Over budget: moves the oldest legs to `ready`, down to 7/8 of the budget so that they
    /// go in batches (a leg's partner is most often in the same batch).
    fn take_oldest_over_budget(&mut self, ready: &mut Vec<LegBox>) {
        let budget = self.known.config.max_pending_bytes;
        let target = budget - budget / 8;
        if self.held_bytes > target {
            // Parked legs are queued legs (older than most of `pending`): they go first.
            for p in std::mem::take(&mut self.parked) {
                ready.push(self.hand_out(p));
                self.known.legs_paired_early += 1;
            }
        }
        while self.held_bytes > target {
            let Some(leg) = self.pop_pending() else { break };
            ready.push(leg);
            self.known.legs_paired_early += 1;
        }
    }

    /// Pairs the oldest legs now when the held ones are over budget (between clock ticks, e.g.
    /// when every connection still open closes at the end of the capture).
    fn shed_over_budget(&mut self) {
        if self.held_bytes <= self.known.config.max_pending_bytes
            || (self.pending.is_empty() && self.parked.is_empty())
        {
            return;
        }
        let mut ready = Vec::new();
        self.take_oldest_over_budget(&mut ready);
        let cutoff = Timestamp(self.now.0.saturating_sub(self.known.config.window().0));
        let pulled = self.take_late(&ready, false, Some(cutoff), false);
        self.pair_and_emit(ready, pulled, true);
        self.prune_closed();
    }

    fn pop_pending(&mut self) -> Option<LegBox> {
        // The queue is in time order: every leg that started before this one is out of it.
        let p = self.pending.pop()?;
        Some(self.hand_out(p))
    }

    /// Takes a held leg out for pairing: its bytes leave the budget and pairing has gone
    /// through its start.
    fn hand_out(&mut self, p: Pending) -> LegBox {
        self.release(p.bytes as usize);
        self.paired_through = self.paired_through.max(p.time);
        p.leg
    }

    /// True when a waiting front-end leg that started at `time` can no longer meet a back-end
    /// leg that has not been through pairing.
    fn front_expired(&self, time: Timestamp) -> bool {
        time.plus(pairing::back_end_reach(&self.known.config)) < self.paired_through
    }

    /// How far before a cutoff a leg must start to be paired there: the capture clock's
    /// measured disorder twice plus [`SLACK_FLOOR`], at most [`WINDOW_SLACK`] (also when the
    /// disorder is not known). Everything still to come starts after the cutoff less this.
    fn slack(&self) -> Duration {
        self.disorder.map_or(WINDOW_SLACK, |d| {
            WINDOW_SLACK.min(Duration(
                d.0.saturating_mul(2).saturating_add(SLACK_FLOOR.0),
            ))
        })
    }

    /// True when enough legs are queued for a batch at `cutoff` before its time step: the
    /// oldest is due and there are [`BATCH_LEGS`] plus four times the held legs each batch
    /// looks at again (so that the work of a batch stays proportional to what it pairs).
    fn batch_full(&self, cutoff: Timestamp) -> bool {
        let again = self.waiting.len() + self.late.len() + self.parked.len();
        let settled = Timestamp(cutoff.0.saturating_sub(self.slack().0));
        self.pending.len() >= BATCH_LEGS + 4 * again
            && self.pending.peek().is_some_and(|p| p.time < settled)
    }

    /// Pairs and emits legs older than the window (all of them when `cutoff` is `None`), and
    /// the oldest ones beyond the memory budget.
    fn flush(&mut self, cutoff: Option<Timestamp>) {
        let budget = self.known.config.max_pending_bytes;
        let slack = self.slack();
        let popped = |p: &Pending| cutoff.map_or(true, |c| p.time.plus(slack) < c);
        // A bare connection leg waits the full slack: whether it is a health check by cadence
        // is asked of what is known at its batch (see `Knowledge::health_check_by_cadence`).
        let due = |p: &Pending| {
            popped(p) && (!bare(&p.leg) || cutoff.map_or(true, |c| p.time.plus(WINDOW_SLACK) < c))
        };
        let nothing_due = !self.pending.peek().is_some_and(due) && !self.parked.iter().any(due);
        if nothing_due
            && self.late.is_empty()
            && self.waiting.is_empty()
            && self.held_bytes <= budget
        {
            return;
        }
        let mut ready: Vec<LegBox> = Vec::new();
        while self.pending.peek().is_some_and(popped) {
            if let Some(p) = self.pending.pop() {
                if due(&p) {
                    ready.push(self.hand_out(p));
                } else {
                    self.parked.push(p);
                }
            }
        }
        if self.parked.iter().any(due) {
            for p in std::mem::take(&mut self.parked) {
                if due(&p) {
                    ready.push(self.hand_out(p));
                } else {
                    self.parked.push(p);
                }
            }
        }
        if let Some(c) = cutoff {
            // Every leg due at this cutoff has been popped, even when none was.
            let due_before = Timestamp(c.0.saturating_sub(slack.0));
            self.paired_through = self.paired_through.max(due_before);
            // Bare legs left parked have not been through pairing.
            let bare_left = self
                .parked
                .iter()
                .filter(|p| bare(&p.leg))
                .map(|p| p.time)
                .min();
            if let Some(t) = bare_left {
                self.paired_through = self.paired_through.min(t);
            }
        }
        if self.held_bytes > budget {
            self.take_oldest_over_budget(&mut ready);
        }

        let waiting_due = self
            .waiting
            .iter()
            .any(|p| cutoff.is_none() || self.front_expired(p.time));
        let pulled = self.take_late(&ready, waiting_due, cutoff, cutoff.is_none());
        // Waiting front-end legs join every batch (`pair_and_emit` takes them); without one,
        // they are paired on their own once they can meet no new back-end leg.
        if !ready.is_empty() || !pulled.is_empty() || waiting_due {
            self.pair_and_emit(ready, pulled, cutoff.is_some());
        }
        self.release_unseen(false);
        self.prune_closed();
    }

    /// An eager batch at `cutoff` (the start of everything in flight but the `requests` whose
    /// head was read): pairs by their headers the due legs of every other request line and
    /// hands those pairs over; every other leg it took waits where it was (parked: see
    /// [`AlbTracker::parked`]) for the batch at the global cutoff.
    ///
    /// Why this gives the result of the later batch: pairing by headers (phase 1 and 1a of
    /// [`pairing::pair`]) matches a back-end request only with front-end requests of its own
    /// method and target, in time order, and what it decides is final (the later phases take
    /// only legs it left unused). A request in flight (or a leg of its line) can therefore
    /// change only pairs of its own line, whose legs this batch leaves out; every other leg
    /// that could be a candidate of a back-end leg in this batch started before the cutoff
    /// (or after: the back-end leg is deferred, `settled`), so it is in this batch, or was
    /// paired by headers before (a connection that carried nothing yet can only give a bare
    /// leg, without a request line, dated before the cutoff). Legs of no request line
    /// (connection attempts, TLS, lost
    /// requests), legs this phase leaves unpaired and legs seen through several mirror sessions
    /// are never decided here.
    fn flush_eager(&mut self, cutoff: Timestamp, requests: &[(u64, Timestamp)]) {
        let settled = Timestamp(cutoff.0.saturating_sub(self.slack().0));
        let held: foldhash::HashSet<Line> = requests.iter().map(|&(line, _)| fold(line)).collect();
        // A leg's request line (hashed when it was queued), and whether it is held.
        let line_of = |p: &Pending| {
            let line = (p.line != NO_LINE).then_some(p.line);
            (line, line.is_some_and(|l| held.contains(&l)))
        };
        // The legs of the batch, in order: where each came from, and its request line.
        // (Its vectors are the last batch's, emptied: no allocation per batch.)
        let mut batch = std::mem::take(&mut self.spare.batch);
        let mut parked =
            std::mem::replace(&mut self.parked, std::mem::take(&mut self.spare.parked));
        while self.pending.peek().is_some_and(|p| p.time < settled) {
            if let Some(p) = self.pending.pop() {
                match line_of(&p) {
                    (_, true) => parked.push(p),
                    (line, false) => batch.push((p, Origin::Queue, line)),
                }
            }
        }
        for p in parked.drain(..) {
            match line_of(&p) {
                (_, true) => self.parked.push(p),
                (line, false) => batch.push((p, Origin::Queue, line)),
            }
        }
        self.spare.parked = parked;
        if batch.is_empty() {
            self.spare.batch = batch;
            return;
        }
        let mut waiting =
            std::mem::replace(&mut self.waiting, std::mem::take(&mut self.spare.waiting));
        for p in waiting.drain(..) {
            match line_of(&p) {
                (_, true) => self.waiting.push(p),
                (line, false) => {
                    self.waiting_bytes = self.waiting_bytes.saturating_sub(p.bytes as usize);
                    batch.push((p, Origin::Waiting, line));
                }
            }
        }
        self.spare.waiting = waiting;
        // Held back-end legs that overlap the batch (as `take_late` pulls them).
        let (first, last) = batch.iter().fold(
            (Timestamp(i64::MAX), Timestamp(i64::MIN)),
            |(a, b), (p, _, _)| (a.min(p.time), b.max(p.time)),
        );
        let mut late = std::mem::replace(&mut self.late, std::mem::take(&mut self.spare.late));
        for p in late.drain(..) {
            let in_span = p.time.plus(Duration::from_millis(15_000)) >= first
                && p.time <= last.plus(Duration::from_millis(5_000));
            match line_of(&p) {
                (line, false) if in_span => batch.push((p, Origin::Late, line)),
                _ => self.late.push(p),
            }
        }
        self.spare.late = late;
        self.known.refresh_links();
        // Pairing by headers pairs nothing when the legs came through several mirror sessions
        // (see `pairing::pair_by_headers`): the batch then offers every leg and marks none.
        // (Every leg held came through one session until `many_sessions`.)
        let one_session = batch.first().is_some_and(|(f, _, _)| {
            !self.many_sessions
                || batch
                    .iter()
                    .all(|(p, _, _)| p.leg.conn.key.session == f.leg.conn.key.session)
        });
        if one_session {
            let epoch = self.known.pairing_epoch();
            if self.eager_epoch != Some(epoch) {
                // What decides roles and nodes changed: no leg was offered under it.
                self.eager_epoch = Some(epoch);
                for p in self.parked.iter_mut().chain(self.waiting.iter_mut()) {
                    p.seq &= !(OFFERED | FRONT_DONE);
                }
                for (p, _, _) in &mut batch {
                    p.seq &= !(OFFERED | FRONT_DONE);
                }
            }
        }
        // Which legs the batch leaves where they are, unoffered, because pairing by headers
        // (phases 1 and 1a of `pairing::pair`, which match request lines) could pair none of
        // them: offering them would give the same pairs.
        // - A leg without a readable request (a connection attempt, TLS, a lost request) is
        //   never paired by headers: offering it only counts it as a front-end or back-end
        //   leg, and those counts are read only as "some" (`Knowledge::front_legs`,
        //   `back_legs`), so it is left once both are.
        // - A line whose legs were all `offered` before (under the same knowledge: see
        //   `eager_epoch`), each settled then: the last batch that offered any of them offered
        //   the whole line (only an `offered` leg is ever left, and only with its whole line),
        //   so all of them, and paired none; the same knowledge pairs none of the same legs
        //   less those paired. A leg new to a batch (from the queue, or back in `waiting` or
        //   `late`) is not `offered`: its line is offered whole.
        // - A front-end leg offered before whose answer came more than twice the tolerance
        //   before that batch's settled time ([`FRONT_DONE`]): every back-end request it can
        //   pair with started by its answer (`pairing::consistent`), so was in that batch
        //   (it started before the settled time, or was deferred there, and a deferred one is
        //   no older than the settled time less the tolerance) and did not pair with it, or
        //   is a held back-end leg (`late`, whose lines are always offered whole).
        let counted = self.known.front_legs > 0 && self.known.back_legs > 0;
        let mut live: foldhash::HashSet<Line> = foldhash::HashSet::default();
        let mut late_lines: foldhash::HashSet<Line> = foldhash::HashSet::default();
        if one_session && batch.iter().any(|(p, _, _)| p.offered()) {
            for (p, origin, line) in &batch {
                let Some(line) = *line else { continue };
                if matches!(origin, Origin::Late) {
                    late_lines.insert(line);
                    live.insert(line);
                } else if !p.offered() {
                    live.insert(line);
                }
            }
        }
        // (Held back-end legs are always offered: their order in `late` decides which go
        // first past [`MAX_LATE`], and offering moves them to its end.)
        let offer = |p: &Pending, origin: Origin, line: Option<Line>| {
            if !one_session || matches!(origin, Origin::Late) {
                return true;
            }
            if !p.offered() {
                return line.is_some() || !counted;
            }
            line.is_some_and(|l| late_lines.contains(&l) || (live.contains(&l) && !p.front_done()))
        };
        // Where each leg of the batch came from, by its position in `legs`, and whether it was
        // lent its connection's record for the batch (a leg left over gets it again in its
        // next batch).
        let mut taken = std::mem::take(&mut self.spare.taken);
        let mut legs: Vec<LegBox> = Vec::with_capacity(batch.len());
        for (mut p, origin, line) in batch.drain(..) {
            if !offer(&p, origin, line) {
                match origin {
                    Origin::Waiting => {
                        self.waiting_bytes += p.bytes as usize;
                        self.waiting.push(p);
                    }
                    _ => self.parked.push(p),
                }
                continue;
            }
            let mut lent = false;
            if p.leg.record.is_none() {
                if let Some(e) = self.closed.get(&p.leg.conn.id) {
                    p.leg.record = Some(e.record.clone());
                    lent = true;
                }
            }
            taken.push((origin, p.time, p.seq, p.bytes, p.line, lent));
            legs.push(p.leg);
        }
        self.spare.batch = batch;
        let out = pairing::pair_by_headers(legs, &self.known, settled);
        self.known.front_legs += out.front_legs;
        self.known.back_legs += out.back_legs;
        // Every leg given that is not left in `rest` is in a path.
        let offered: usize = taken.iter().map(|t| t.3 as usize).sum();
        let left: usize = out
            .rest_pos
            .iter()
            .filter_map(|&i| taken.get(i))
            .map(|t| t.3 as usize)
            .sum();
        self.release(offered.saturating_sub(left));
        for path in out.paths {
            self.sink.path(path.into_path(), &self.known);
        }
        let fronts = out.rest_fronts;
        for (i, (mut leg, pos)) in out.rest.into_iter().zip(out.rest_pos).enumerate() {
            let Some(&(origin, time, seq, bytes, line, lent)) = taken.get(pos) else {
                // Not one of the batch's legs: cannot happen; kept as a queued leg.
                let entry = self.held(leg, 0);
                self.parked.push(entry);
                continue;
            };
            if lent {
                leg.record = None;
            }
            let margin = pairing::TOLERANCE.0.saturating_mul(2);
            let offered = one_session && time.plus(pairing::TOLERANCE) < settled;
            let done = offered
                && fronts.contains(&i)
                && leg
                    .exchange
                    .as_ref()
                    .and_then(|e| e.response.as_ref())
                    .is_some_and(|r| r.first_byte.plus(Duration(margin)) < settled);
            let flags = if done {
                OFFERED | FRONT_DONE
            } else if offered {
                OFFERED
            } else {
                0
            };
            let entry = Pending {
                time,
                seq: (seq & !(OFFERED | FRONT_DONE)) | flags,
                bytes,
                line,
                leg,
            };
            match origin {
                Origin::Queue => self.parked.push(entry),
                Origin::Waiting => {
                    self.waiting_bytes += bytes as usize;
                    self.waiting.push(entry);
                }
                Origin::Late => self.late.push(entry),
            }
        }
        taken.clear();
        self.spare.taken = taken;
        if self.parked.len() > MAX_PARKED {
            // Too many legs left over: no eager batch until the global cutoff catches up.
            self.eager_blocked_until = cutoff;
        }
    }

    /// Takes the held back-end legs that get another chance with a batch of `ready` legs (and
    /// the waiting front-end legs, `with_waiting`): those overlapping them in time, or all of
    /// them when `all`. The ones expired at `cutoff` are emitted unpaired.
    fn take_late(
        &mut self,
        ready: &[LegBox],
        with_waiting: bool,
        cutoff: Option<Timestamp>,
        all: bool,
    ) -> Vec<LegBox> {
        let mut expired: Vec<LegBox> = Vec::new();
        let mut pulled: Vec<LegBox> = Vec::new();
        if self.late.is_empty() {
            return pulled;
        }
        let held = std::mem::take(&mut self.late);
        let waiting = self
            .waiting
            .iter()
            .map(|p| p.time)
            .filter(|_| with_waiting || !ready.is_empty());
        let span = ready.iter().map(|l| l.time()).chain(waiting).fold(
            None,
            |acc: Option<(Timestamp, Timestamp)>, t| match acc {
                None => Some((t, t)),
                Some((a, b)) => Some((a.min(t), b.max(t))),
            },
        );
        let horizon = cutoff.map(|c| Timestamp(c.0.saturating_sub(LATE_HORIZON.0)));
        let overflow = held.len().saturating_sub(MAX_LATE);
        for (i, p) in held.into_iter().enumerate() {
            let in_span = span.is_some_and(|(a, b)| {
                p.time.plus(Duration::from_millis(15_000)) >= a
                    && p.time <= b.plus(Duration::from_millis(5_000))
            });
            if all || in_span {
                self.release(p.bytes as usize);
                pulled.push(p.leg);
            } else if i < overflow || horizon.is_some_and(|h| p.time < h) {
                if i < overflow && horizon.is_some_and(|h| p.time >= h) {
                    self.known.late_legs_dropped += 1;
                }
                self.release(p.bytes as usize);
                expired.push(p.leg);
            } else {
                self.late.push(p);
            }
        }
        if !expired.is_empty() {
            self.known.refresh_links();
            let out = pairing::pair(expired, &self.known, None);
            for f in out.client_tls_failures {
                self.sink.client_tls_failure(f);
            }
            for s in out.listener_silent {
                self.sink.listener_silent(s);
            }
            for path in out.paths {
                self.sink.path(path.into_path(), &self.known);
            }
        }
        pulled
    }

    /// Drops the records no pending leg can need: a record is needed only by pending legs of
    /// its connection, which started before it ended.
    fn prune_closed(&mut self) {
        let oldest = self.pending.peek().map(|p| p.time);
        // A parked leg needs only its own connection's record (a hanging request's legs may
        // stay parked long: they must not keep every record closed since).
        let parked: foldhash::HashSet<ConnId> = self.parked.iter().map(|p| p.leg.conn.id).collect();
        let mut released = 0;
        self.closed.retain(|id, e| {
            let keep = oldest.is_some_and(|t| e.end >= t) || parked.contains(id);
            if !keep {
                released += e.bytes;
            }
            keep
        });
        self.release(released);
    }

    /// Pairs `ready` legs (with `pulled` held back-end legs and the waiting front-end legs) and
    /// emits the paths and health checks; with `hold`, unpaired back-end legs wait in `late` for
    /// a late front end, and unpaired front-end legs in `waiting` for a back-end leg that may be
    /// in the next batch.
    fn pair_and_emit(&mut self, ready: Vec<LegBox>, pulled: Vec<LegBox>, hold: bool) {
        let mut legs = ready;
        legs.extend(pulled);
        let waiting = std::mem::take(&mut self.waiting);
        self.release(self.waiting_bytes);
        self.waiting_bytes = 0;
        legs.extend(waiting.into_iter().map(|p| p.leg));
        for leg in &mut legs {
            if leg.record.is_none() {
                if let Some(e) = self.closed.get(&leg.conn.id) {
                    leg.record = Some(e.record.clone());
                }
            }
        }
        let settled = hold.then_some(self.paired_through);
        self.known.refresh_links();
        let out = pairing::pair(legs, &self.known, settled);
        for hc in out.health_checks {
            if let Some(t) = self.known.target_mut(hc.target) {
                t.health_checks += 1;
                if hc.outcome.failed() {
                    t.health_check_failures += 1;
                }
            }
            let file = hc.pos.map_or(0, |p| p.file);
            if let Some(n) = self.known.nodes.get_mut(&hc.node) {
                n.health_checks += 1;
                Knowledge::back_end_in(n, file, &mut self.known.back_epoch);
            }
            self.known.health_checks += 1;
            self.sink.health_check(hc, &self.known);
        }
        for f in out.client_tls_failures {
            self.sink.client_tls_failure(f);
        }
        for s in out.listener_silent {
            self.sink.listener_silent(s);
        }
        self.known.front_legs += out.front_legs;
        self.known.back_legs += out.back_legs;
        self.known.answered_before_capture += out.answered_before_capture;
        for leg in out.deferred {
            let record = leg.record.as_deref().map_or(0, size::closed_conn);
            let entry = self.held(leg, record);
            self.late.push(entry);
        }
        let hold_backs = hold && self.known.front_legs > 0;
        let hold_fronts = hold && (self.back_end_seen || self.known.back_legs > 0);
        let waiting_budget = self.known.config.max_pending_bytes / 4;
        for path in out.paths {
            if path.front.is_none() && hold_backs {
                if let Some(leg) = path.back {
                    let record = leg.record.as_deref().map_or(0, size::closed_conn);
                    let entry = self.held(leg, record);
                    self.late.push(entry);
                    continue;
                }
            }
            if path.back.is_none() && hold_fronts {
                if let Some(leg) = path
                    .front
                    .as_ref()
                    .filter(|f| !self.front_expired(f.time()))
                {
                    let record = leg.record.as_deref().map_or(0, size::closed_conn);
                    let bytes = size::leg(leg).saturating_add(record);
                    if self.waiting_bytes.saturating_add(bytes) <= waiting_budget {
                        if let Some(leg) = path.front {
                            let entry = self.held(leg, record);
                            self.waiting_bytes += entry.bytes as usize;
                            self.waiting.push(entry);
                        }
                        continue;
                    }
                }
            }
            if let Some(node) = path
                .node
                .filter(|_| hold && pairing::waits_for_back_end(&path))
            {
                self.hold_unseen(node, path.into_path());
                continue;
            }
            self.sink.path(path.into_path(), &self.known);
        }
    }
}

impl<S: PathSink> AppSink for AlbTracker<S> {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.exchange_boxed(conn, ExchangeBox::new(exchange));
    }

    #[inline]
    fn exchange_boxed(&mut self, conn: &ConnContext, exchange: ExchangeBox) {
        self.known.learn_conn_once(conn.id, &conn.key);
        self.known.learn_request(conn.id, &conn.key, &exchange);
        self.known.learn_response(conn.id, &conn.key, &exchange);
        if conn.saw_syn {
            self.known
                .learn_check_request(&conn.key, conn.opened, &exchange);
        }
        if exchange.index == 0 {
            let agent = exchange
                .request
                .as_ref()
                .and_then(|r| r.headers.known(Known::UserAgent));
            self.count_connection(&conn.key, conn.opened, agent, false, conn.opened_pos.file);
        }
        let leg = LegBox::new(Leg {
            conn: ConnInfo {
                id: conn.id,
                key: conn.key,
                opened: conn.opened,
                opened_pos: conn.opened_pos,
                tls: conn.tls,
                decrypted: conn.decrypted,
                saw_syn: conn.saw_syn,
            },
            exchange: Some(exchange),
            burst: None,
            record: None,
            finished: true,
        });
        self.add_boxed(leg, 0);
    }

    fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
        self.known.learn_conn(&conn.key);
        self.known.learn_forwarded_cut_short(&conn.key);
    }

    fn closed(&mut self, record: ConnectionRecord) {
        let key = record.tcp.key;
        self.known.seen_until = self.known.seen_until.max(record.tcp.end);
        let start = record.tcp.start;
        self.known.seen_from = Some(self.known.seen_from.map_or(start, |f| f.min(start)));
        self.known.learn_conn(&key);
        for ex in &record.unfinished {
            self.known.learn_request(record.tcp.id, &key, ex);
            self.known.learn_response(record.tcp.id, &key, ex);
            if record.tcp.saw_syn {
                self.known.learn_check_request(&key, start, ex);
            }
        }
        self.known.learn_closed(&record);
        if record.app == AppKind::Tls || record.tls.is_some() {
            self.known.learn_tls_server(&key);
        }
        let (bursts, answered_before) = record
            .tls
            .as_ref()
            .map(|t| tls_exchanges(&record.tcp, t))
            .unwrap_or_default();
        self.known.answered_before_capture += answered_before;
        if record.app == AppKind::Tls || record.tls.is_some() {
            let named = record
                .tls
                .as_ref()
                .and_then(|t| t.client_hello.as_ref())
                // (an address given as the name names no server: the target's address)
                .map(|h| {
                    h.sni
                        .as_deref()
                        .is_some_and(|n| n.parse::<std::net::IpAddr>().is_err())
                });
            self.known.tls_peers.remember(
                &key,
                record.tcp.start,
                record.tcp.end,
                bursts.len() as u64,
                named,
            );
        }
        if record.app == AppKind::Http && record.tls.is_none() {
            let requests = u64::from(record.finished_exchanges)
                + record
                    .unfinished
                    .iter()
                    .filter(|e| e.request.is_some())
                    .count() as u64;
            if requests > 0 {
                self.known.http_peers.remember(
                    &key,
                    record.tcp.start,
                    record.tcp.end,
                    requests,
                    None,
                );
            }
        }
        if !bursts.is_empty() {
            self.known.learn_tls_front(&key, &bursts);
            self.known.refresh_links();
        }
        if record.finished_exchanges == 0 {
            let agent = record
                .unfinished
                .iter()
                .find_map(|e| e.request.as_ref())
                .and_then(|r| r.headers.known(Known::UserAgent))
                .map(str::to_string);
            self.count_connection(
                &key,
                record.tcp.start,
                agent.as_deref(),
                unanswered(&record.tcp),
                record.tcp.first_pos.file,
            );
        }
        let info = ConnInfo {
            id: record.tcp.id,
            key,
            opened: record.tcp.start,
            opened_pos: record.tcp.first_pos,
            tls: record.app == AppKind::Tls || record.tls.is_some(),
            decrypted: record
                .decryption
                .as_ref()
                .is_some_and(|d| d.plaintext_bytes > 0),
            saw_syn: record.tcp.saw_syn,
        };
        let ConnectionRecord {
            tcp,
            app,
            unfinished,
            finished_exchanges,
            last_exchange_end,
            tunnel_since: _,
            last_response_closes: _,
            tls,
            unknown_excerpt,
            decryption,
        } = record;
        let end = tcp.end;
        let shared = Arc::new(ClosedConn {
            tcp,
            app,
            tls,
            unknown_excerpt,
            last_exchange_end,
            finished_exchanges,
            decryption,
        });
        self.sink.closed(&shared);
        let no_exchanges = finished_exchanges == 0 && unfinished.is_empty();
        // The record's bytes are charged once: to the entry kept for the legs of finished
        // exchanges when there were some, else to the first leg that carries it.
        let mut record_bytes = size::closed_conn(&shared);
        // Kept only while a held leg may need it (the test `prune_closed` applies): with
        // eager pairing the legs of an idle keep-alive connection are long paired when it
        // closes, and a close storm (the end of the capture) would otherwise hold every
        // record, over the budget, until the next batch.
        // Legs held unpaired (`waiting`, `late`) may need it at the next batch too: then it is
        // kept until that batch, as before eager pairing.
        let needed = self.pending.peek().is_some_and(|p| p.time <= end)
            || !self.waiting.is_empty()
            || !self.late.is_empty()
            || self.parked.iter().any(|p| p.leg.conn.id == info.id);
        if finished_exchanges > 0 && needed {
            self.hold(record_bytes);
            if let Some(old) = self.closed.insert(
                info.id,
                ClosedEntry {
                    end,
                    record: shared.clone(),
                    bytes: record_bytes,
                },
            ) {
                self.release(old.bytes);
            }
            record_bytes = 0;
        }
        let mut legs: Vec<Leg> = Vec::new();
        for ex in unfinished {
            legs.push(Leg {
                conn: info.clone(),
                exchange: Some(ExchangeBox::new(ex)),
                burst: None,
                record: Some(shared.clone()),
                finished: false,
            });
        }
        if !bursts.is_empty() {
            for b in bursts {
                legs.push(Leg {
                    conn: info.clone(),
                    exchange: None,
                    burst: Some(b),
                    record: Some(shared.clone()),
                    finished: false,
                });
            }
        } else if no_exchanges {
            // A connection that carried no request: a failed attempt (refused, unreachable,
            // timed out, TLS failure) or an idle connection.
            legs.push(Leg {
                conn: info,
                exchange: None,
                burst: None,
                record: Some(shared),
                finished: false,
            });
        }
        for leg in legs {
            self.add(leg, std::mem::take(&mut record_bytes));
        }
    }
}

impl<S: PathSink> AlbTracker<S> {
    /// True when this connection was counted already through another mirror session (the
    /// same 4-tuple opened within [`TWIN_WINDOW`]: mirrored on two ENIs, or two captures).
    fn counted_twice(&mut self, key: &ConnKey, opened: Timestamp) -> bool {
        let tuple = (key.client, key.server);
        if let Some((t, session)) = self.counted.get(&tuple) {
            if *session != key.session && t.since(opened).0.unsigned_abs() <= TWIN_WINDOW.0 as u64 {
                return true;
            }
        }
        if self.counted.len() >= MAX_COUNTED {
            let horizon = Timestamp(opened.0.saturating_sub(TWIN_WINDOW.0));
            self.counted.retain(|_, (t, _)| *t >= horizon);
            if self.counted.len() >= MAX_COUNTED {
                self.counted.clear();
            }
        }
        self.counted.insert(tuple, (opened, key.session));
        false
    }

    /// Counts a connection (through input `file`) for its node and target.
    fn count_connection(
        &mut self,
        key: &ConnKey,
        opened: Timestamp,
        agent: Option<&str>,
        unanswered: bool,
        file: u16,
    ) {
        if self.counted_twice(key, opened) {
            return;
        }
        let role = self.known.classify(key, agent, unanswered);
        let node = self.known.node_of(key, role);
        self.back_end_seen |= role == ConnRole::BackEnd;
        if role == ConnRole::Other {
            self.known.count_other(key, file);
            return;
        }
        if !self.known.nodes.contains_key(&node) && self.known.nodes.len() >= MAX_WEAK_NODES {
            self.known.nodes_over_limit += 1;
        } else {
            let mut over = 0;
            let mut epoch = self.known.back_epoch;
            let n = self.known.node_mut(node);
            let front = role == ConnRole::FrontEnd;
            if front {
                n.front_connections += 1;
                n.listener_ports.insert(key.server.port);
            } else {
                n.back_connections += 1;
                Knowledge::back_end_in(n, file, &mut epoch);
            }
            Knowledge::add_session(n, &key.session, &mut over);
            self.known.back_epoch = epoch;
            if front {
                self.known.front_inputs.insert(file);
            }
            self.known.sessions_over_limit += over;
        }
        if role != ConnRole::FrontEnd && self.known.target_mut(key.server).is_none() {
            self.known.targets_over_limit += 1;
        }
    }
}

impl<S: PathSink> Clock for AlbTracker<S> {
    fn tick(&mut self, now: Timestamp) {
        self.tick_in_flight(now, Some(Timestamp::default()));
    }

    /// [`Clock::tick_in_flight`] at the oldest start of everything in flight, then an eager
    /// batch ([`AlbTracker::flush_eager`]) up to the oldest start of what is in flight apart
    /// from the requests waiting for their response (those hold back only their own request
    /// lines) and the connections that carried nothing yet ([`InFlight::quiet`]: all they can
    /// still give dated before the packets seen is a bare leg, which has no request line).
    /// The capture clock's measured disorder sets the slack ([`AlbTracker::slack`]).
    fn tick_with(&mut self, now: Timestamp, in_flight: InFlight) {
        if in_flight.disorder.is_some() {
            self.disorder = self.disorder.max(in_flight.disorder);
        }
        self.tick_in_flight(now, in_flight.oldest());
        if in_flight.requests.is_empty() && in_flight.quiet.is_none() {
            return;
        }
        let window = self.known.config.window();
        let windowed = Timestamp(self.now.0.saturating_sub(window.0));
        let cutoff_at =
            |p: Option<Timestamp>| windowed.max(p.map_or(self.now, |p| p.min(self.now)));
        let global = cutoff_at(in_flight.oldest());
        let cutoff = cutoff_at(in_flight.since);
        // An eager batch gains over the batches at the global cutoff when the requests in
        // flight hold back more than a step, or (enough legs queued) more than the slack.
        let stepped = cutoff > global.plus(EAGER_STEP) && cutoff >= self.next_eager;
        let full = cutoff > global.plus(self.slack()) && self.batch_full(cutoff);
        if !(stepped || full) || global < self.eager_blocked_until {
            return;
        }
        self.next_eager = cutoff.plus(EAGER_STEP);
        // A request that started after the batch's legs holds nothing back: its legs come
        // after them, as every leg still to come when the cutoff is the oldest start.
        let settled = Timestamp(cutoff.0.saturating_sub(self.slack().0));
        let mut held = in_flight.requests;
        held.retain(|&(_, start)| start < settled);
        self.flush_eager(cutoff, &held);
        self.shed_over_budget();
    }

    /// Pairs what has all arrived: the legs older than the window, and (eager pairing) those
    /// that started before everything still in flight, where every leg that can still come
    /// starts later ([`ProtocolTracker::pending_since`](crate::protocol::ProtocolTracker::pending_since)).
    /// Pairing batches never change the result, so pairing earlier only frees the legs sooner.
    fn tick_in_flight(&mut self, now: Timestamp, pending_since: Option<Timestamp>) {
        if now > self.now {
            self.now = now;
            self.known.seen_until = now;
        }
        let window = self.known.config.window();
        let windowed = Timestamp(self.now.0.saturating_sub(window.0));
        let arrived = pending_since.map_or(self.now, |p| p.min(self.now));
        let cutoff = windowed.max(arrived);
        // Batches at least EAGER_STEP apart: legs left unpaired (waiting front ends, held back
        // ends) join every batch, so batches much smaller than their reach repeat that work.
        if cutoff < self.next_flush && !self.batch_full(cutoff) {
            return;
        }
        self.next_flush = cutoff.plus(EAGER_STEP);
        self.flush(Some(cutoff));
    }
}

/// A request line as eager batches tell lines apart: [`request_line_hash`](crate::protocol::request_line_hash) of its method and
/// target folded to 32 bits (never [`NO_LINE`]). Lines whose folds collide are one line to an
/// eager batch: it then holds back, or offers again, the legs of both, which pairing by
/// headers (exact method and target) decides as it would apart.
type Line = u32;

/// [`Pending::line`] of a leg without a readable request.
const NO_LINE: Line = 0;

/// [`Line`] of a [`request_line_hash`](crate::protocol::request_line_hash).
fn fold(hash: u64) -> Line {
    ((hash >> 32) as u32 ^ hash as u32) | 1
}

/// A leg's request line ([`Line`]), [`NO_LINE`] when it carries no readable request (its
/// hash kept with the leg for pairing: [`pairing::LegMemo::line`]).
fn line_of(leg: &mut LegBox) -> Line {
    pairing::LegMemo::line(leg).map_or(NO_LINE, fold)
}

/// True for a connection's bare leg (no exchange, no TLS burst): a connection attempt or an
/// idle connection.
fn bare(leg: &Leg) -> bool {
    leg.exchange.is_none() && leg.burst.is_none()
}

/// A client burst answered by nothing or by another burst of at most this many bytes, last on
/// its connection, is a close_notify exchange (TLS 1.3 encrypts alerts as application data).
const CLOSE_NOTIFY_MAX: u64 = 40;

/// True when `e` is a close_notify exchange (see [`CLOSE_NOTIFY_MAX`]) when it is the last.
fn close_notify(e: &BurstExchange) -> bool {
    e.request.bytes <= CLOSE_NOTIFY_MAX
        && e.response
            .as_ref()
            .map_or(true, |r| r.bytes <= CLOSE_NOTIFY_MAX)
}

/// The request/response exchanges of a TLS connection's application-data bursts
/// ([`burst_exchanges`]), and how many answers in it went to requests sent before the capture
/// started (0 or 1). On a connection established before the capture started (neither its TCP
/// nor its TLS handshake captured: its records start mid-stream), exchanges went over it before the capture,
/// so a last small exchange is the close_notify that ends it even when it is the only one in
/// the capture; and a first burst from the server answers a request that is not in the
/// capture, like a response without a request on an HTTP/1 connection: no exchange, counted.
/// With the handshake captured, a first server burst is the server's own (a TLS 1.3 session
/// ticket) and is not counted.
pub(super) fn tls_exchanges(tcp: &ConnSummary, tls: &TlsInfo) -> (Vec<BurstExchange>, u64) {
    let mut out = burst_exchanges(&tls.bursts, alert_only_max(tls), tls.tickets);
    let handshake_seen = tcp.saw_syn
        || tcp
            .events
            .iter()
            .any(|e| matches!(e.kind, TcpEventKind::SynAck { .. }))
        || tls.client_hello.is_some()
        || tls.server_hello.is_some();
    if handshake_seen {
        return (out, 0);
    }
    if out.len() == 1 && out.last().is_some_and(close_notify) {
        out.clear();
    }
    let answered_first = tls.bursts.first().is_some_and(|b| b.dir == Dir::ToClient);
    (out, u64::from(answered_first))
}

/// Largest application-data record (bytes after its 5-byte header) that holds no byte of an
/// HTTP message: 19 bytes are a TLS 1.3 alert (2 bytes, the inner content type and a 16-byte
/// AEAD tag: a close_notify, which TLS 1.3 encrypts like application data), or at most 3
/// bytes of a TLS 1.2 record; the smallest HTTP/2 frame is 9 bytes, an HTTP/1 status line
/// 12. Not with an 8-byte tag (the `CCM_8` suites, see [`alert_only_max`]).
const ALERT_RECORD_MAX: u64 = 19;

/// The largest server burst of `tls` that is no answer ([`ALERT_RECORD_MAX`]; 0 when its
/// chosen cipher suite has an 8-byte tag, where 19 bytes can hold a 10-byte HTTP/2 frame).
pub(super) fn alert_only_max(tls: &TlsInfo) -> u64 {
    let short_tag = tls.server_hello.as_ref().is_some_and(|h| {
        let c = h.cipher.to_ascii_uppercase();
        c.contains("CCM_8") || c.contains("CCM8")
    });
    if short_tag {
        0
    } else {
        ALERT_RECORD_MAX
    }
}

/// Splits TLS application-data bursts into client-burst/server-burst exchanges (a server burst
/// before any client burst is none of them). A server burst of at most `alert_max` bytes
/// ([`alert_only_max`]) answers nothing: it is the server's alert (a close_notify before its
/// close), and the request before it got no response byte. Nor does one that holds only the
/// TLS 1.3 session tickets of `tickets` ([`TicketAnswer::TicketsOnly`]): the server sent them
/// after the client's Finished, before it read the request that went out with it.
pub(super) fn burst_exchanges(
    bursts: &[TlsBurst],
    alert_max: u64,
    tickets: TicketRun,
) -> Vec<BurstExchange> {
    let mut out: Vec<BurstExchange> = Vec::new();
    for b in bursts {
        match b.dir {
            Dir::ToServer => {
                let index = u32::try_from(out.len()).unwrap_or(u32::MAX);
                let idle_before_ms = out.last().map_or(0, |prev| {
                    let end = prev.response.as_ref().unwrap_or(&prev.request).last;
                    let ms = b.first.since(end).0 / 1_000_000;
                    u32::try_from(ms).unwrap_or(u32::MAX)
                });
                out.push(BurstExchange {
                    index,
                    request: b.clone(),
                    response: None,
                    idle_before_ms,
                });
            }
            Dir::ToClient if b.bytes <= alert_max => {}
            Dir::ToClient if tickets.answer(b) == TicketAnswer::TicketsOnly => {}
            Dir::ToClient => {
                if let Some(last) = out.last_mut() {
                    if last.response.is_none() {
                        last.response = Some(b.clone());
                    }
                }
            }
        }
    }
    if out.len() > 1 && out.last().is_some_and(close_notify) {
        out.pop();
    }
    out
}
