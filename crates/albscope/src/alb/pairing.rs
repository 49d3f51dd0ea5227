//! Pairing of front-end and back-end legs within one ALB node (DOMAIN.md "Pairing").

use super::coverage::InputSet;
use super::multiplex;
use super::{
    AlbConfig, ConnRole, HealthCheck, HealthOutcome, HealthProblem, Knowledge, Leg, LegBox,
    NoAnswer, PairingBasis, PairingMethod, PairingNote, RequestPath,
};
use crate::capture::{Duration, Timestamp};
use crate::flow::Endpoint;
use crate::flow::{Dir, TcpEventKind};
use crate::protocol::{request_line_hash, Known};
use foldhash::{HashMap, HashSet};
use std::net::IpAddr;

/// How far a back-end request may appear to precede its front-end request (capture jitter).
pub(super) const TOLERANCE: Duration = Duration(5_000_000);
/// How far two legs' events may appear out of their true order when one clock at one point
/// of capture stamped both: one input file, one mirror session (or none). A proxy handles a
/// request in causal order (the client's request arrives, then the back-end attempt, then
/// the answer to the client), and such a capture keeps that order up to the reordering of
/// the mirror path, well under a millisecond; legs of different files (clocks only estimated
/// against each other) or sessions (different paths to the capture) get [`TOLERANCE`].
const ONE_CLOCK: Duration = Duration(1_000_000);
/// Most candidates gathered for one back-end request (enough to report an ambiguity).
const MAX_AMBIGUOUS: usize = 8;
/// How long after the front-end request the ALB may open or reuse a back-end connection when
/// pairing by time order.
const TIME_ORDER_MAX: Duration = Duration(2_000_000_000);

/// How long after a front-end request a back-end request may start and still be paired with it
/// by headers: the connect timeout plus a margin.
fn header_reach(config: &AlbConfig) -> Duration {
    Duration(config.connect_timeout.0.saturating_add(5_000_000_000))
}

/// How long after a front-end request a back-end leg may start and still be paired with it, by
/// any method: a front-end leg left unpaired may find its partner among back-end legs that start
/// up to this long after it.
pub(super) fn back_end_reach(config: &AlbConfig) -> Duration {
    Duration(
        header_reach(config)
            .0
            .max(TIME_ORDER_MAX.0)
            .saturating_add(TOLERANCE.0),
    )
}

/// Front-end indexes of one request key, in time order, and how many leading ones are known
/// to be used (pairing mostly consumes them in order, so lookups start past them).
#[derive(Default)]
struct Candidates {
    /// Where the indexes lie in the list shared by all keys ([`Candidates::list`]): every key's
    /// in one allocation, not one list per key.
    start: usize,
    len: usize,
    head: usize,
    /// Positions of `list` seen used, skipped from then on (built for long lists only).
    skip: Option<NextUnused>,
}

/// Lists shorter than this are scanned without a skip forest.
const SKIP_FROM: usize = 16;

impl Candidates {
    /// This key's front-end indexes in `all`, the list shared by all keys.
    fn list<'a>(&self, all: &'a [usize]) -> &'a [usize] {
        all.get(self.start..self.start + self.len).unwrap_or(&[])
    }

    /// Advances past the leading used fronts; the position of the first one that may be free.
    fn unused_head(&mut self, all: &[usize], fronts: &[ClassifiedLeg]) -> usize {
        let list = self.list(all);
        while list
            .get(self.head)
            .and_then(|i| fronts.get(*i))
            .is_some_and(|f| f.used)
        {
            self.head += 1;
        }
        self.head
    }

    /// The first position at or after `p` whose front is not used; the used ones passed are
    /// skipped from then on in a long list (a front once used stays used).
    fn next_free(&mut self, all: &[usize], fronts: &[ClassifiedLeg], mut p: usize) -> usize {
        let used = |list: &[usize], p: usize| {
            list.get(p)
                .and_then(|i| fronts.get(*i))
                .is_some_and(|f| f.used)
        };
        let list = self.list(all);
        let len = list.len();
        if len < SKIP_FROM {
            while used(list, p) {
                p += 1;
            }
            return p;
        }
        let skip = self.skip.get_or_insert_with(|| NextUnused::new(len));
        loop {
            p = skip.find(p);
            if !used(list, p) {
                return p;
            }
            skip.take(p);
            p += 1;
        }
    }
}

/// For each index, the next index at or after it not yet taken (a disjoint-set forest with path
/// halving): skipping taken entries costs amortised almost nothing.
#[derive(Clone)]
struct NextUnused {
    next: Vec<usize>,
}

impl NextUnused {
    fn new(len: usize) -> Self {
        NextUnused {
            next: (0..=len).collect(),
        }
    }

    /// Marks `i` taken.
    fn take(&mut self, i: usize) {
        if let Some(n) = self.next.get_mut(i) {
            *n = i + 1;
        }
    }

    /// The first index at or after `i` not taken (the length when none).
    fn find(&mut self, mut i: usize) -> usize {
        let last = self.next.len().saturating_sub(1);
        i = i.min(last);
        loop {
            let n = self.next[i];
            if n == i {
                return i;
            }
            let nn = self.next[n];
            self.next[i] = nn;
            i = nn;
        }
    }
}

/// A request path as pairing decided it, its legs boxed (they move as pointers, also in the
/// [`RequestPath`] of [`Planned::into_path`]).
pub(super) struct Planned {
    pub node: Option<IpAddr>,
    pub front: Option<LegBox>,
    pub back: Option<LegBox>,
    pub pairing: PairingMethod,
    pub notes: Vec<PairingNote>,
}

impl Planned {
    /// The path of a chosen pair: front leg `fi` and back leg `bi` taken out of their lists
    /// (either may be gone: a one-legged path), on the node of either.
    fn take(
        fronts: &mut [Option<ClassifiedLeg>],
        fi: usize,
        backs: &mut [Option<ClassifiedLeg>],
        bi: usize,
        pairing: PairingMethod,
        notes: Vec<PairingNote>,
    ) -> Self {
        let f = fronts.get_mut(fi).and_then(Option::take);
        let b = backs.get_mut(bi).and_then(Option::take);
        Planned {
            node: f.as_ref().map(|s| s.node).or(b.as_ref().map(|s| s.node)),
            front: f.map(|s| s.leg),
            back: b.map(|s| s.leg),
            pairing,
            notes,
        }
    }

    /// The request path, its legs in their boxes.
    pub fn into_path(self) -> RequestPath {
        RequestPath {
            node: self.node,
            front: self.front,
            back: self.back,
            pairing: self.pairing,
            notes: self.notes,
        }
    }
}

/// What one pairing pass produced.
#[derive(Default)]
pub(super) struct PairOutput {
    /// In time order (of the front-end leg, else the back-end leg).
    pub paths: Vec<Planned>,
    pub health_checks: Vec<HealthCheck>,
    /// Back-end legs not decided yet (see [`pair`]'s `settled`): to be paired again with the
    /// next batch.
    pub deferred: Vec<LegBox>,
    pub front_legs: u64,
    pub back_legs: u64,
    /// Unpaired legs that carry only a response: their request was sent before the capture
    /// started (or was never sent), so they are no request of this capture.
    pub answered_before_capture: u64,
    /// Client connections whose TLS handshake with the ALB failed (no request).
    pub client_tls_failures: Vec<super::ClientTlsFailure>,
    /// Client connects whose SYN the listener never answered.
    pub listener_silent: Vec<super::ListenerSilent>,
    /// [`pair_by_headers`]: the legs it did not pair, untouched.
    pub rest: Vec<LegBox>,
    /// [`pair_by_headers`]: where in `rest` the front-end legs with a request are.
    pub rest_fronts: std::ops::Range<usize>,
    /// [`pair_by_headers`]: where each leg of `rest` was in the legs given (every other leg
    /// given is in `paths`).
    pub rest_pos: Vec<usize>,
}

/// A leg classified as front or back end, with the ALB node it went through, its time, and
/// whether pairing has used it.
struct ClassifiedLeg {
    /// Boxed: sorting and moving a classified leg moves a pointer.
    leg: LegBox,
    node: IpAddr,
    time: Timestamp,
    used: bool,
    /// A bare connection attempt on a health-check cadence: a health check unless a client
    /// request needs it (a client's failed attempt can fall on the cadence too).
    cadence_check: bool,
    /// A back-end request's last `X-Forwarded-For` entry, read once (absent for other legs).
    forwarded: Forwarded,
    /// [`request_line_hash`] of its request line, when it carries a readable request.
    line: Option<u64>,
    /// Where the leg was in the batch given (see [`PairOutput::rest_pos`]).
    pos: usize,
}

/// The last `X-Forwarded-For` entry of a back-end request, read once per leg rather than for
/// every front end it is compared with.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
enum Forwarded {
    /// No request, or no `X-Forwarded-For`.
    #[default]
    Absent,
    /// The header, its last entry empty.
    Empty,
    /// The last entry: the address it parses to, and whether its text is that address as
    /// displayed (see [`is_written_as`]).
    Entry { ip: Option<IpAddr>, displayed: bool },
}

impl Forwarded {
    fn of(leg: &Leg) -> Self {
        let Some(xff) = leg.request_known(Known::XForwardedFor) else {
            return Forwarded::Absent;
        };
        let last = super::linking::last_forwarded(xff);
        if last.is_empty() {
            return Forwarded::Empty;
        }
        // An IPv4 address as displayed (what an ALB writes) is read once, by hand.
        if let Some(octets) = super::linking::displayed_v4(last) {
            return Forwarded::Entry {
                ip: Some(IpAddr::from(octets)),
                displayed: true,
            };
        }
        let ip = last.parse::<IpAddr>().ok();
        Forwarded::Entry {
            ip,
            displayed: ip.is_some_and(|ip| is_written_as(ip, last)),
        }
    }

    /// The client the entry names, when it is an address.
    fn client(self) -> Option<IpAddr> {
        match self {
            Forwarded::Entry { ip, .. } => ip,
            _ => None,
        }
    }

    /// True when the entry's text names `ip` (what [`is_written_as`] decides on the text: an
    /// IPv4 address only as displayed, an IPv6 address in any spelling).
    fn names(self, ip: IpAddr) -> bool {
        match self {
            Forwarded::Entry {
                ip: Some(e),
                displayed,
            } => e == ip && (displayed || ip.is_ipv6()),
            _ => false,
        }
    }
}

/// Whether `path` is a front-end request left without a back end because its node's back end
/// is not known to be captured at its time, and its verdict reads that: a request answered
/// under 500 is ok whatever its back end shows.
pub(super) fn waits_for_back_end(path: &Planned) -> bool {
    path.back.is_none()
        && path.notes.contains(&PairingNote::BackEndNotCaptured)
        && path.front.as_ref().is_some_and(|f| {
            !f.exchange
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .is_some_and(|r| r.status < 500)
        })
}

/// Per node, the inputs its `(node, file)` legs came through (a run of one node's legs
/// through one input is looked at once).
fn inputs_by_node(legs: impl Iterator<Item = (IpAddr, u16)>) -> HashMap<IpAddr, InputSet> {
    let mut map: HashMap<IpAddr, InputSet> = HashMap::default();
    let mut last = None;
    for (node, file) in legs {
        if last == Some((node, file)) {
            continue;
        }
        last = Some((node, file));
        map.entry(node).or_default().insert(file);
    }
    map
}

/// The distinct addresses of `nodes` (a run of one address hashed once).
fn distinct_runs(nodes: impl Iterator<Item = IpAddr>) -> HashSet<IpAddr> {
    let mut set = HashSet::default();
    let mut last = None;
    for n in nodes {
        if last != Some(n) {
            set.insert(n);
            last = Some(n);
        }
    }
    set
}

/// Classifies and pairs a batch of legs. `settled` is `None` for a final pass; otherwise every
/// leg that started before it is in this batch or was in an earlier one, and legs that start
/// later may follow in the next batch: a back-end leg that could take a clear-text front-end
/// request by time order while a later back-end request may still claim it by its headers is
/// then `deferred`, so that header pairing goes first as in a single pass.
pub(super) fn pair(legs: Vec<LegBox>, known: &Knowledge, settled: Option<Timestamp>) -> PairOutput {
    pair_in(legs, known, settled, false)
}

/// [`pair`]'s first phase only, for a batch that lacks the legs of some request lines (see the
/// tracker's eager batches): the front-end and back-end requests paired by their headers
/// (phase 1, and 1a: one request under two addresses), which are decided by the legs of their
/// own request line alone, in `paths`; every other leg untouched in `rest`, to be paired with
/// the whole batch later. Legs that came through several mirror sessions all go to `rest`
/// (removing twins looks across request lines).
pub(super) fn pair_by_headers(
    legs: Vec<LegBox>,
    known: &Knowledge,
    settled: Timestamp,
) -> PairOutput {
    pair_in(legs, known, Some(settled), true)
}

/// What a batch reads of a leg in its passes besides the few candidates it compares, read
/// from the leg in one pass (the leg, its exchange and its request's text are behind
/// pointers, apart in memory: a batch larger than the cache missed them again in each pass).
struct Facts {
    time: Timestamp,
    role: ConnRole,
    cadence_check: bool,
    /// Neither an exchange nor a TLS burst: a connection attempt or an idle connection.
    bare: bool,
    /// The ALB node it went through (as its role says).
    node: IpAddr,
    /// [`request_line_hash`] of its request line, when it carries a readable request.
    line: Option<u64>,
    /// A back-end leg's last `X-Forwarded-For` entry.
    forwarded: Forwarded,
}

/// What pairing read of a leg and decided from it, kept in the leg's box ([`LegBox`]) for the
/// next batch that offers it again (a leg waits through 1.8 batches on average): what the
/// leg itself says (read once), and its class and node under the knowledge of one
/// [`Knowledge::roles_epoch`] (worked out again when that changed, or the leg got its
/// connection's record since, which [`Knowledge::classify`] reads).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LegMemo {
    /// [`request_line_hash`] of its request line (inner `None`: no readable request).
    line: Option<Option<u64>>,
    /// Its last `X-Forwarded-For` entry.
    forwarded: Option<Forwarded>,
    /// Its class ([`class_of`]) and node as the knowledge decided them.
    class: Option<MemoClass>,
}

/// [`LegMemo::class`]: a leg's class and node, and what they were decided under.
#[derive(Clone, Copy, Debug)]
struct MemoClass {
    /// [`Knowledge::roles_epoch`] then.
    epoch: u64,
    /// Whether the leg had its connection's record then.
    with_record: bool,
    class: ConnRole,
    node: IpAddr,
}

impl LegMemo {
    /// Nothing read or decided yet.
    pub(crate) const NONE: LegMemo = LegMemo {
        line: None,
        forwarded: None,
        class: None,
    };
}

/// The node role a leg of class `class` is attributed by ([`Knowledge::node_of`]).
fn node_role(class: ConnRole) -> ConnRole {
    match class {
        ConnRole::FrontEnd => ConnRole::FrontEnd,
        _ => ConnRole::BackEnd,
    }
}

/// [`request_line_hash`] of a leg's request line, when it carries a readable request.
pub(super) fn line_hash(leg: &Leg) -> Option<u64> {
    leg.exchange
        .as_ref()
        .and_then(|e| e.request.as_ref())
        .map(|r| request_line_hash(r.method(), r.target()))
}

impl LegMemo {
    /// [`line_hash`] of `leg`, read once.
    pub(super) fn line(leg: &mut LegBox) -> Option<u64> {
        let (leg, memo) = leg.with_memo();
        if let Some(line) = memo.line {
            debug_assert_eq!(line, line_hash(leg));
            return line;
        }
        let line = line_hash(leg);
        memo.line = Some(line);
        line
    }

    /// [`Forwarded::of`] `leg`, read once.
    fn forwarded(leg: &mut LegBox) -> Forwarded {
        let (leg, memo) = leg.with_memo();
        if let Some(f) = memo.forwarded {
            debug_assert_eq!(f, Forwarded::of(leg));
            return f;
        }
        let f = Forwarded::of(leg);
        memo.forwarded = Some(f);
        f
    }

    /// `leg`'s class and node under `known` (whose [`Knowledge::roles_epoch`] is `epoch`),
    /// worked out again only when that epoch, or whether the leg has its record, changed.
    fn class(leg: &mut LegBox, known: &Knowledge, epoch: u64) -> (ConnRole, IpAddr) {
        let (leg, memo) = leg.with_memo();
        let with_record = leg.record.is_some();
        if let Some(m) = memo.class {
            if m.epoch == epoch && m.with_record == with_record {
                debug_assert_eq!(
                    (m.class, m.node),
                    {
                        let class = class_of(leg, known);
                        (class, known.node_of(&leg.conn.key, node_role(class)))
                    },
                    "a leg's remembered class and node differ from the knowledge's at the same epoch"
                );
                return (m.class, m.node);
            }
        }
        let class = class_of(leg, known);
        let node = known.node_of(&leg.conn.key, node_role(class));
        memo.class = Some(MemoClass {
            epoch,
            with_record,
            class,
            node,
        });
        (class, node)
    }
}

impl Facts {
    /// The leg's facts; `cadence`: whether to test a back-end leg's health-check cadence (see
    /// [`role_of`]); `epoch`: `known`'s [`Knowledge::roles_epoch`].
    fn of(leg: &mut LegBox, known: &Knowledge, cadence: bool, epoch: u64) -> Facts {
        let bare = leg.exchange.is_none() && leg.burst.is_none();
        let (class, node) = LegMemo::class(leg, known, epoch);
        let (role, cadence_check) = role_of(leg, class, known, cadence || !bare);
        Facts {
            time: leg.time(),
            role,
            cadence_check,
            bare,
            node,
            line: LegMemo::line(leg),
            forwarded: match role {
                ConnRole::BackEnd => LegMemo::forwarded(leg),
                _ => Forwarded::Absent,
            },
        }
    }
}

/// [`pair`], or with `headers_only` [`pair_by_headers`].
fn pair_in(
    legs: Vec<LegBox>,
    known: &Knowledge,
    settled: Option<Timestamp>,
    headers_only: bool,
) -> PairOutput {
    let mut out = PairOutput::default();
    // Every leg's facts, in the order given (roles first, so that the front and back lists are
    // allocated once at their size).
    // A bare connection leg is a back-end leg whether or not it is on a health-check cadence;
    // pairing by headers reads the cadence only to count it (`back_legs`, read only as "some"),
    // so it skips that costly test once back-end legs were counted.
    let cadence = !headers_only || known.back_legs == 0;
    let first_session = legs.first().map(|l| l.conn.key.session);
    // The key each leg is sorted by, read first in a light pass: its loads (the leg, its
    // exchange, its request) do not wait on each other from one leg to the next, so the
    // memory they miss in arrives together, and the heavier pass below finds it cached.
    let mut order: Vec<(Timestamp, crate::flow::ConnId, u32, usize)> = legs
        .iter()
        .enumerate()
        .map(|(pos, l)| (l.time(), l.conn.id, l.index(), pos))
        .collect();
    let one_session = first_session.is_some()
        && legs
            .iter()
            .all(|l| Some(l.conn.key.session) == first_session);
    if headers_only && !one_session {
        // Pairing by headers pairs nothing when the legs came through several mirror sessions
        // (removing twins looks across request lines): every leg is left, untouched.
        out.rest_pos = (0..legs.len()).collect();
        out.rest = legs;
        return out;
    }
    // Per leg (in the order given): its facts and the leg.
    let epoch = known.roles_epoch();
    let mut items: Vec<Option<(Facts, LegBox)>> = legs
        .into_iter()
        .map(|mut leg| Some((Facts::of(&mut leg, known, cadence, epoch), leg)))
        .collect();
    if headers_only {
        // Most of a batch paired by headers only is left (at their size: no regrowing).
        out.rest.reserve(items.len());
        out.rest_pos.reserve(items.len());
    }
    // By (time, connection, exchange index), equal keys in the order given (the position ends
    // the key: as a stable sort of the legs, without reading them at every comparison). The
    // keys are distinct, so any sort gives this order; the stable one merges the runs a batch
    // comes in (the queue's legs in time order, then the parked and held ones), where the
    // unstable one partitioned the whole batch again.
    order.sort();
    let count = |wanted: ConnRole| {
        items
            .iter()
            .flatten()
            .filter(|(f, _)| f.role == wanted)
            .count()
    };
    let mut fronts: Vec<ClassifiedLeg> = Vec::with_capacity(count(ConnRole::FrontEnd));
    let mut backs: Vec<ClassifiedLeg> = Vec::with_capacity(count(ConnRole::BackEnd));
    let mut checks: Vec<ClassifiedLeg> = Vec::with_capacity(count(ConnRole::HealthCheck));
    for &(_, _, _, pos) in &order {
        let Some((facts, leg)) = items.get_mut(pos).and_then(Option::take) else {
            continue;
        };
        let (role, cadence_check) = (facts.role, facts.cadence_check);
        match role {
            _ if headers_only && !matches!(role, ConnRole::FrontEnd | ConnRole::BackEnd) => {
                out.rest.push(leg);
                out.rest_pos.push(pos);
            }
            ConnRole::FrontEnd if headers_only && facts.bare => {
                out.rest.push(leg);
                out.rest_pos.push(pos);
            }
            ConnRole::FrontEnd => {
                if facts.bare {
                    // a client connection that carried no request: a failed TLS handshake is
                    // reported apart
                    out.client_tls_failures.extend(client_tls_failure(&leg));
                    out.listener_silent.extend(listener_silent(&leg));
                    continue;
                }
                out.front_legs += 1;
                fronts.push(ClassifiedLeg {
                    node: facts.node,
                    time: facts.time,
                    line: facts.line,
                    pos,
                    leg,
                    used: false,
                    cadence_check: false,
                    forwarded: Forwarded::Absent,
                });
            }
            ConnRole::BackEnd => {
                out.back_legs += u64::from(!cadence_check);
                backs.push(ClassifiedLeg {
                    node: facts.node,
                    time: facts.time,
                    line: facts.line,
                    pos,
                    forwarded: facts.forwarded,
                    leg,
                    used: false,
                    cadence_check,
                });
            }
            ConnRole::HealthCheck => checks.push(ClassifiedLeg {
                node: facts.node,
                time: facts.time,
                line: facts.line,
                pos,
                leg,
                used: false,
                cadence_check: false,
                forwarded: Forwarded::Absent,
            }),
            ConnRole::Other => {}
        }
    }
    // A twin comes through another mirror session: none when every leg came through one.
    if !one_session {
        dedupe(&mut fronts);
        dedupe(&mut backs);
        // A health check mirrored on two ENIs is one check.
        dedupe(&mut checks);
    }
    let fronts = fronts;
    out.health_checks
        .extend(checks.iter().map(|c| health_check(&c.leg, false)));
    let front_seen = known.front_legs + out.front_legs > 0;
    let back_seen =
        known.back_legs + out.back_legs + known.health_checks > 0 || !out.health_checks.is_empty();
    // At most one pair per back-end leg.
    let mut pairs: Vec<(usize, usize, PairingMethod, Vec<PairingNote>)> =
        Vec::with_capacity(backs.len());

    let mut fronts = fronts;
    fronts.sort_by_key(|f| f.time);
    // Indexes of clear-text front-end requests, in time order: by (node, method, target,
    // client address), and by (node, method, target) for back-end requests without a usable
    // X-Forwarded-For.
    // Keyed by a hash of method and target (no copies of them): requests whose hashes collide
    // share a list, and every candidate is checked by `header_match` (method, target) and its
    // node.
    type ByRequest = HashMap<(IpAddr, u64), Candidates>;
    type ByClient = HashMap<(IpAddr, u64, IpAddr), Candidates>;
    let mut by_request: ByRequest =
        ByRequest::with_capacity_and_hasher(fronts.len(), <_>::default());
    let mut by_client: ByClient = ByClient::with_capacity_and_hasher(fronts.len(), <_>::default());
    // Each key's fronts counted, then laid out in time order in one list per map.
    let lines: Vec<Option<u64>> = fronts.iter().map(|f| f.line).collect();
    let client_key = |f: &ClassifiedLeg, line: u64| (f.node, line, f.leg.conn.key.client.ip);
    for (f, line) in fronts.iter().zip(&lines) {
        if let Some(line) = *line {
            by_request.entry((f.node, line)).or_default().len += 1;
            by_client.entry(client_key(f, line)).or_default().len += 1;
        }
    }
    let lay_out = |c: &mut Candidates, next: &mut usize| {
        c.start = *next;
        *next += c.len;
        c.len = 0;
    };
    let (mut request_total, mut client_total) = (0, 0);
    by_request
        .values_mut()
        .for_each(|c| lay_out(c, &mut request_total));
    by_client
        .values_mut()
        .for_each(|c| lay_out(c, &mut client_total));
    let mut request_list = vec![0usize; request_total];
    let mut client_list = vec![0usize; client_total];
    let place = |c: Option<&mut Candidates>, list: &mut [usize], i: usize| {
        if let Some(c) = c {
            if let Some(slot) = list.get_mut(c.start + c.len) {
                *slot = i;
            }
            c.len += 1;
        }
    };
    for (i, (f, line)) in fronts.iter().zip(&lines).enumerate() {
        if let Some(line) = *line {
            place(by_request.get_mut(&(f.node, line)), &mut request_list, i);
            place(by_client.get_mut(&client_key(f, line)), &mut client_list, i);
        }
    }
    let max = header_reach(&known.config);
    let mut deferred = vec![false; backs.len()];
    let mut pool: Vec<usize> = Vec::new();

    // Phase 1: clear-text back-end requests by their headers.
    for bi in 0..backs.len() {
        let Some(b) = backs.get(bi) else { continue };
        let Some(line) = b.line else {
            continue;
        };
        if settled.is_some_and(|s| b.time.plus(TOLERANCE) >= s) {
            // A front end starting up to TOLERANCE after it may be in the next batch: its
            // candidates (and the ambiguity they make) are known only there.
            if let Some(d) = deferred.get_mut(bi) {
                *d = true;
            }
            continue;
        }
        let client: Option<IpAddr> = b.forwarded.client();
        let (candidates, all) = match client {
            Some(c) => (
                by_client.get_mut(&(b.node, line, c)),
                client_list.as_slice(),
            ),
            None => (by_request.get_mut(&(b.node, line)), request_list.as_slice()),
        };
        let Some(candidates) = candidates else {
            continue;
        };
        let head = candidates.unused_head(all, &fronts);
        let list = candidates.list(all);
        let earliest = Timestamp(b.time.0.saturating_sub(max.0.saturating_add(TOLERANCE.0)));
        let start = list
            .partition_point(|i| fronts.get(*i).is_some_and(|f| f.time < earliest))
            .max(head);
        // The matching unused fronts in time order, up to the back end's start (the list is in
        // time order: used ones skipped, the rest filtered).
        pool.clear();
        let mut p = candidates.next_free(all, &fronts, start);
        while let Some(f) = list.get(p).and_then(|i| fronts.get(*i)) {
            if f.time > b.time.plus(TOLERANCE) {
                break;
            }
            if f.node == b.node
                && in_range(f.time, b.time, max, slack(&f.leg, &b.leg))
                && header_match(&f.leg, &b.leg, b.forwarded)
                && consistent(&f.leg, &b.leg)
            {
                pool.extend(list.get(p).copied());
                if pool.len() >= MAX_AMBIGUOUS {
                    break;
                }
            }
            p = candidates.next_free(all, &fronts, p + 1);
        }
        prefer_relayed(&mut pool, &fronts, &b.leg);
        let Some(&fi) = pool.first() else { continue };
        let mut notes = Vec::new();
        if pool.len() > 1 {
            notes.push(ambiguity(&fronts, &pool, PairingBasis::Headers));
        }
        if let Some(f) = fronts.get_mut(fi) {
            f.used = true;
        }
        if let Some(b) = backs.get_mut(bi) {
            b.used = true;
        }
        pairs.push((fi, bi, PairingMethod::Headers, notes));
    }

    // Phase 1a: one request seen under two addresses, whatever the link count (see
    // `exact_pairs`).
    for (fi, bi) in exact_pairs(&fronts, &backs, &deferred, known) {
        if let Some(f) = fronts.get_mut(fi) {
            f.used = true;
            // The request went through the back end's node.
            if let Some(b) = backs.get(bi) {
                f.node = b.node;
            }
        }
        if let Some(b) = backs.get_mut(bi) {
            b.used = true;
        }
        pairs.push((fi, bi, PairingMethod::Headers, Vec::new()));
    }

    if headers_only {
        return headers_only_output(out, fronts, backs, pairs);
    }

    let mut unused_skip: Vec<usize> = Vec::new();
    // Phase 1b: back-end requests of HTTP/2 front-end connections (see `multiplex`).
    let mux = multiplex::Http2Fronts::new(fronts.iter().map(|f| (&*f.leg, f.node)));
    let mut mux_pairs: Vec<(usize, usize)> = Vec::new();
    let mut attributed: Vec<multiplex::Attribution> = Vec::new();
    if !mux.is_empty() {
        for (bi, b) in backs.iter().enumerate() {
            if b.used
                || b.leg
                    .exchange
                    .as_ref()
                    .and_then(|e| e.request.as_ref())
                    .is_none()
            {
                continue;
            }
            if let Some(ci) = mux.choose(&b.leg, b.node) {
                mux_pairs.push((ci, bi));
                attributed.push(multiplex::Attribution {
                    conn: ci,
                    start: b.time,
                    end: outcome_time(&b.leg),
                });
            }
        }
    }
    let h2 = mux.decide(&attributed);
    let mut h2_conns: HashMap<crate::flow::ConnId, multiplex::Http2Evidence> = HashMap::default();
    let mut h2_paths: Vec<(usize, PairingNote)> = Vec::new();
    for (ci, bi) in mux_pairs {
        let (Some(e), Some((conn, client, alb))) = (h2.get(&ci), mux.conn(ci)) else {
            continue;
        };
        h2_conns.insert(conn, *e);
        if let Some(b) = backs.get_mut(bi) {
            b.used = true;
        }
        let evidence = *e;
        h2_paths.push((
            bi,
            PairingNote::Http2Stream {
                client,
                alb,
                evidence,
            },
        ));
    }
    // A bare back-end attempt while one HTTP/2 connection of its node is open, to a target no
    // health check is seen to: a client request of that connection.
    if !h2.is_empty() {
        for (bi, b) in backs.iter_mut().enumerate() {
            let bare = b.leg.exchange.is_none() && b.leg.burst.is_none();
            let checked = known
                .targets
                .get(&b.leg.conn.key.server)
                .is_some_and(|t| t.health_checks > 0);
            if b.used || !bare || checked {
                continue;
            }
            let Some(ci) = mux.only_open(&h2, b.node, b.time) else {
                continue;
            };
            let (Some(e), Some((conn, client, alb))) = (h2.get(&ci), mux.conn(ci)) else {
                continue;
            };
            h2_conns.insert(conn, *e);
            b.used = true;
            let evidence = *e;
            h2_paths.push((
                bi,
                PairingNote::Http2Stream {
                    client,
                    alb,
                    evidence,
                },
            ));
        }
    }
    // The bursts of an HTTP/2 connection are not requests: its back-end requests stand for them.
    for (i, f) in fronts.iter_mut().enumerate() {
        if f.leg.burst.is_some() && h2_conns.contains_key(&f.leg.conn.id) {
            f.used = true;
            unused_skip.push(i);
        }
    }

    // Phase 2: time order for attempts without a request, opaque TLS, or opaque front ends.
    // Used fronts are skipped through `unused` (next unused index at or after each one), so
    // that a busy window is not scanned again for every back-end leg.
    // A clear-text front-end request that a back-end request starting at or after `settled`
    // could still claim by headers.
    let claimable = |f: &ClassifiedLeg| {
        settled.is_some_and(|s| {
            f.leg.exchange.as_ref().is_some_and(|e| e.request.is_some())
                && f.time.plus(max).plus(TOLERANCE) >= s
        })
    };
    // Front ends whose request the capture lost, in time order: their time is when the loss
    // showed (often the ALB's ACK or answer), up to [`LOST_REACH`] after the back-end request.
    let lost_fronts: Vec<usize> = (0..fronts.len())
        .filter(|&i| fronts.get(i).is_some_and(|f| lost_request(&f.leg)))
        .collect();
    let mut unused = NextUnused::new(fronts.len());
    for i in unused_skip {
        unused.take(i);
    }
    for (i, f) in fronts.iter().enumerate() {
        if f.used {
            unused.take(i);
        }
    }
    // Connection attempts on a health-check cadence go last, so that they take only a client
    // request no other back-end leg explains.
    // Within each of the two sequences, a front end answered before every back-end leg still to
    // come in it started is no candidate for any of them: it is skipped from then on (`skip`
    // takes it, besides the used ones).
    let sequences: [Vec<usize>; 2] = [
        (0..backs.len())
            .filter(|&i| backs.get(i).is_some_and(|b| !b.cadence_check))
            .collect(),
        (0..backs.len())
            .filter(|&i| backs.get(i).is_some_and(|b| b.cadence_check))
            .collect(),
    ];
    // Front ends paired by time order below: front index -> index in `pairs`.
    let mut time_paired: HashMap<usize, usize> = HashMap::default();
    for order in sequences {
        // The earliest start among the back-end legs from each position of the sequence on.
        let mut floors: Vec<Timestamp> = order
            .iter()
            .rev()
            .scan(None, |min: &mut Option<Timestamp>, &bi| {
                let t = backs.get(bi).map(|b| b.time);
                *min = match (*min, t) {
                    (Some(m), Some(t)) => Some(m.min(t)),
                    (m, t) => m.or(t),
                };
                Some(min.unwrap_or_default())
            })
            .collect();
        floors.reverse();
        let mut skip = unused.clone();
        for (k, &bi) in order.iter().enumerate() {
            let Some(b) = backs.get(bi) else { continue };
            if b.used || deferred.get(bi).copied().unwrap_or(false) {
                continue;
            }
            let floor = floors.get(k).copied().unwrap_or_default();
            let facts = BackFacts::of(b, &known.config);
            let b_outcome = facts.outcome;
            let b_answer_by = facts.answer_by;
            let earliest = facts.earliest;
            let first = fronts.partition_point(|f| f.time < earliest);
            pool.clear();
            let mut i = skip.find(first);
            while let Some(f) = fronts.get(i) {
                if f.time > b.time.plus(TOLERANCE) || pool.len() >= MAX_AMBIGUOUS {
                    break;
                }
                let candidate = !f.used && fits_in_time(f, b, &facts, max);
                if candidate {
                    pool.push(i);
                } else if answer_time(&f.leg).is_some_and(|a| a.plus(TOLERANCE) < floor) {
                    skip.take(i);
                }
                i = skip.find(i + 1);
            }
            if pool.is_empty() {
                let from = lost_fronts
                    .partition_point(|&i| fronts.get(i).is_some_and(|f| f.time < earliest));
                pool.extend(
                    lost_fronts
                        .iter()
                        .skip(from)
                        .copied()
                        .take_while(|&i| {
                            fronts
                                .get(i)
                                .is_some_and(|f| f.time <= b.time.plus(LOST_REACH))
                        })
                        .filter(|&i| {
                            fronts.get(i).is_some_and(|f| {
                                !f.used
                                    && f.node == b.node
                                    && answer_time(&f.leg).map_or(true, |a| {
                                        a.plus(TOLERANCE) >= b.time
                                            && b_outcome.map_or(true, |o| a.plus(TOLERANCE) >= o)
                                            && b_answer_by
                                                .map_or(true, |by| a <= by.plus(TOLERANCE))
                                    })
                            })
                        })
                        .take(MAX_AMBIGUOUS),
                );
            }
            // (Not for an attempt on a health-check cadence: it takes only a client request
            // that no other back-end leg explains.)
            if pool.is_empty() && !b.cadence_check {
                // The only fronts that fit may have gone to an earlier back-end leg that has
                // another one: the two change places.
                if let Some((k, fi, f2)) = swap_partner(
                    &fronts,
                    &backs,
                    &pairs,
                    &time_paired,
                    bi,
                    max,
                    &known.config,
                )
                .filter(|&(_, _, f2)| !fronts.get(f2).is_some_and(&claimable))
                {
                    if let Some(pair) = pairs.get_mut(k) {
                        pair.0 = f2;
                        pair.3 = vec![ambiguity(&fronts, &[f2, fi], PairingBasis::TimeOrder)];
                    }
                    time_paired.remove(&fi);
                    time_paired.insert(f2, k);
                    if let Some(f) = fronts.get_mut(f2) {
                        f.used = true;
                    }
                    unused.take(f2);
                    skip.take(f2);
                    if let Some(b) = backs.get_mut(bi) {
                        b.used = true;
                    }
                    time_paired.insert(fi, pairs.len());
                    pairs.push((fi, bi, PairingMethod::TimeOrder, Vec::new()));
                    continue;
                }
            }
            if !prefer_answered(&mut pool, &fronts) {
                continue;
            }
            if facts.bare {
                prefer_alb_answer(&mut pool, &fronts);
            }
            let Some(&fi) = pool.first() else { continue };
            if fronts.get(fi).is_some_and(&claimable) {
                // The earliest candidate may still go to a later back-end request by headers.
                if let Some(d) = deferred.get_mut(bi) {
                    *d = true;
                }
                continue;
            }
            let mut notes = Vec::new();
            if pool.len() > 1 {
                notes.push(ambiguity(&fronts, &pool, PairingBasis::TimeOrder));
            }
            if let Some(f) = fronts.get_mut(fi) {
                f.used = true;
            }
            unused.take(fi);
            skip.take(fi);
            if let Some(b) = backs.get_mut(bi) {
                b.used = true;
            }
            time_paired.insert(fi, pairs.len());
            pairs.push((fi, bi, PairingMethod::TimeOrder, notes));
        }
    }

    // Emit pairs, then the unpaired legs with the reason.
    let mut fronts: Vec<Option<ClassifiedLeg>> = fronts
        .into_iter()
        .map(|f| (!(f.leg.burst.is_some() && h2_conns.contains_key(&f.leg.conn.id))).then_some(f))
        .collect();
    let mut backs: Vec<Option<ClassifiedLeg>> = backs.into_iter().map(Some).collect();
    out.paths.reserve(fronts.len() + backs.len());
    for (bi, note) in h2_paths {
        let Some(b) = backs.get_mut(bi).and_then(Option::take) else {
            continue;
        };
        out.paths.push(Planned {
            node: Some(b.node),
            front: None,
            back: Some(b.leg),
            pairing: PairingMethod::Http2Connection,
            notes: vec![note],
        });
    }
    for (fi, bi, method, notes) in pairs {
        out.paths.push(Planned::take(
            &mut fronts,
            fi,
            &mut backs,
            bi,
            method,
            notes,
        ));
    }
    // A node whose back end the capture does not show at a request's time (e.g. seen under
    // another address that could not be linked, or captured in another input that started
    // later or had stopped): its front-end requests are not known to lack a back-end attempt,
    // and its back-end legs are not known to lack a front end.
    // A batch holds few nodes: a run of one node's legs (through one input) is looked at once.
    let batch_back = inputs_by_node(
        out.paths
            .iter()
            .filter_map(|p| Some((p.node?, p.back.as_ref()?.conn.opened_pos.file)))
            .chain(
                backs
                    .iter()
                    .flatten()
                    .map(|b| (b.node, b.leg.conn.opened_pos.file)),
            ),
    );
    // Recording from the request's arrival to the ALB's answer: an attempt for it would be
    // made in between.
    let node_back_seen = |node: IpAddr, (from, to): (Timestamp, Timestamp)| {
        known.back_captured_over(node, from, to)
            || batch_back
                .get(&node)
                .is_some_and(|s| s.covers(known.coverage(), from, to))
    };
    for f in fronts.into_iter().flatten() {
        if answered_before_capture(&f.leg) {
            out.answered_before_capture += 1;
            continue;
        }
        let note = if back_seen && node_back_seen(f.node, f.leg.span()) {
            PairingNote::NoBackEndAttempt
        } else {
            PairingNote::BackEndNotCaptured
        };
        out.paths.push(Planned {
            node: Some(f.node),
            front: Some(f.leg),
            back: None,
            pairing: PairingMethod::Unpaired,
            notes: vec![note],
        });
    }
    // The inputs of this batch's front-end legs (a back-end leg is known to lack its front end
    // only where an input that shows front ends was recording).
    let mut batch_front = InputSet::default();
    let mut last_file = None;
    for f in out.paths.iter().filter_map(|p| p.front.as_ref()) {
        let file = f.conn.opened_pos.file;
        if last_file != Some(file) {
            batch_front.insert(file);
            last_file = Some(file);
        }
    }
    // Nodes with a front-end leg in this batch (paired or not).
    let front_nodes: HashSet<IpAddr> = distinct_runs(
        out.paths
            .iter()
            .filter(|p| p.front.is_some())
            .filter_map(|p| p.node),
    );
    for (b, deferred) in backs.into_iter().zip(deferred) {
        let Some(b) = b else { continue };
        if deferred {
            out.deferred.push(b.leg);
            continue;
        }
        if b.cadence_check {
            out.health_checks.push(health_check(&b.leg, false));
            continue;
        }
        if answered_before_capture(&b.leg) {
            // Neither a client request nor a health check of this capture: its request (on
            // this leg and, unpaired, on the other) is not in it.
            out.answered_before_capture += 1;
            continue;
        }
        // A request the capture lost (mirror loss or truncation) is no evidence of a client.
        let has_request =
            b.leg.exchange.as_ref().is_some_and(|e| e.request.is_some()) || b.leg.burst.is_some();
        let front_seen = front_seen
            && (known.front_seen(b.node) || front_nodes.contains(&b.node))
            && (known.front_captured_at(b.time)
                || batch_front.covers(known.coverage(), b.time, b.time));
        if front_seen && !has_request && opened_before_capture(&b.leg) {
            // Its start (SYN, handshake) is not in the capture and nothing readable followed:
            // no evidence of a health check, failed or not, nor of a client request.
            continue;
        }
        if front_seen && !has_request {
            // Clients' requests have a front end in this capture; a bare connection attempt,
            // or an exchange whose request is not readable, that matches none of them was made
            // for a health check.
            out.health_checks.push(health_check(&b.leg, true));
            continue;
        }
        let note = if front_seen {
            PairingNote::NoFrontEndMatch
        } else {
            PairingNote::FrontEndNotCaptured
        };
        out.paths.push(Planned {
            node: Some(b.node),
            front: None,
            back: Some(b.leg),
            pairing: PairingMethod::Unpaired,
            notes: vec![note],
        });
    }
    // Stable, as runs: the pairs, then the unpaired legs in time order.
    out.paths
        .sort_by_cached_key(|p| p.front.as_ref().or(p.back.as_ref()).map(|l| l.time()));
    out
}

/// [`pair_by_headers`]'s output: the `pairs` found so far as paths, every other leg in `rest`.
fn headers_only_output(
    mut out: PairOutput,
    fronts: Vec<ClassifiedLeg>,
    backs: Vec<ClassifiedLeg>,
    pairs: Vec<(usize, usize, PairingMethod, Vec<PairingNote>)>,
) -> PairOutput {
    let mut fronts: Vec<Option<ClassifiedLeg>> = fronts.into_iter().map(Some).collect();
    let mut backs: Vec<Option<ClassifiedLeg>> = backs.into_iter().map(Some).collect();
    for (fi, bi, method, notes) in pairs {
        let planned = Planned::take(&mut fronts, fi, &mut backs, bi, method, notes);
        out.front_legs += u64::from(planned.front.is_some());
        out.back_legs += u64::from(planned.back.is_some());
        out.paths.push(planned);
    }
    let from = out.rest.len();
    let fronts_left = fronts.iter().flatten().count();
    for s in fronts.into_iter().chain(backs).flatten() {
        out.rest.push(s.leg);
        out.rest_pos.push(s.pos);
    }
    out.rest_fronts = from..from + fronts_left;
    out
}

/// The failed TLS handshake of a client connection that carried no request: an alert, or the
/// ALB closing (FIN or RST) before the handshake completed; `None` when it completed, the
/// client left without an alert, or the capture ended first.
fn client_tls_failure(leg: &Leg) -> Option<super::ClientTlsFailure> {
    let rec = leg.record.as_deref()?;
    let tls = rec.tls.as_ref()?;
    let hello = tls.client_hello.as_ref()?;
    if tls.established.is_some() || !tls.bursts.is_empty() {
        return None;
    }
    let alert = tls
        .alerts
        .iter()
        .find(|a| a.level != "warning")
        .map(|a| (a.dir == Dir::ToClient, a.description.clone()));
    let alb_closed = rec
        .tcp
        .events
        .iter()
        .find(|e| e.kind.is_close() && e.ts >= hello.ts);
    let alb_closed = alb_closed.is_some_and(|e| e.dir == Dir::ToClient);
    if alert.is_none() && !alb_closed {
        return None;
    }
    let offered = if hello.supported_versions.is_empty() {
        vec![hello.legacy_version.clone()]
    } else {
        hello.supported_versions.clone()
    };
    Some(super::ClientTlsFailure {
        time: hello.ts,
        pos: hello.pos,
        client: leg.conn.key.client,
        alb: leg.conn.key.server,
        alert,
        offered,
        selected: tls.server_hello.as_ref().map(|s| s.version.clone()),
    })
}

/// A client connection whose SYN the capture shows unanswered through at least one
/// retransmission (see [`super::ListenerSilent`]).
fn listener_silent(leg: &Leg) -> Option<super::ListenerSilent> {
    if tcp_outcome(leg) != NoAnswer::SynUnanswered {
        return None;
    }
    let rec = leg.record.as_deref()?;
    let mut syns = rec
        .tcp
        .events
        .iter()
        .filter(|e| e.dir == Dir::ToServer && matches!(e.kind, TcpEventKind::Syn { .. }));
    let first = syns.next()?;
    let (count, last) = syns.fold((1u32, first.ts), |(n, _), e| (n.saturating_add(1), e.ts));
    (count >= 2).then_some(super::ListenerSilent {
        time: first.ts,
        pos: first.pos,
        client: leg.conn.key.client,
        alb: leg.conn.key.server,
        syns: count,
        last,
    })
}

/// How long after a back-end request a front-end leg whose request the capture lost may show
/// that loss: the ALB's (delayed) ACK of the lost bytes, or its answer.
const LOST_REACH: Duration = Duration(500_000_000);

/// A leg whose exchange is only a response (or unreadable response bytes): no request on the
/// connection, and none lost by the capture (a request whose bytes are missing is
/// `request_lost_at`). Its request was sent before the capture started, or never (a server's
/// unsolicited answer, e.g. a 408 on an idle connection).
fn answered_before_capture(leg: &Leg) -> bool {
    leg.exchange.as_ref().is_some_and(|e| {
        e.request.is_none()
            && e.request_lost_at.is_none()
            && e.h2.is_none()
            && (e.response.is_some() || e.response_error.is_some())
    })
}

/// True when a leg's connection was open before the capture started: its record shows no SYN
/// (the capture entered it mid-handshake or later).
fn opened_before_capture(leg: &Leg) -> bool {
    leg.record.as_ref().is_some_and(|r| !r.tcp.saw_syn)
}

/// A front-end leg whose request bytes the capture lost (mirror loss or truncation).
fn lost_request(leg: &Leg) -> bool {
    leg.exchange
        .as_ref()
        .is_some_and(|e| e.request.is_none() && e.request_lost_at.is_some())
}

/// Drops a leg seen a second time through another mirror session (the same connection mirrored
/// on two ENIs, or two captures of one exchange merged): same endpoints, same exchange index,
/// within a second. Keeps the copy that shows more.
///
/// In place: a kept leg stays where it is (a richer twin takes its place), the dropped ones are
/// removed at the end, so no leg moves unless a twin was found.
fn dedupe(sides: &mut Vec<ClassifiedLeg>) {
    let richness = |l: &Leg| {
        let ex = l.exchange.as_ref();
        u8::from(ex.is_some_and(|e| e.response.is_some())) * 4
            + u8::from(l.record.is_some()) * 2
            + u8::from(ex.is_some_and(|e| e.request.is_some()))
    };
    // A twin comes through another mirror session: none when every leg came through one.
    let one_session = sides.first().is_some_and(|f| {
        sides
            .iter()
            .all(|s| s.leg.conn.key.session == f.leg.conn.key.session)
    });
    if one_session {
        return;
    }
    // Per key, the kept legs' positions in the order kept: the first one inline (nearly every
    // key has one), the others beside it.
    let mut seen: HashMap<(Endpoint, Endpoint, u32), (usize, Vec<usize>)> =
        HashMap::with_capacity_and_hasher(sides.len(), <_>::default());
    let mut dropped = vec![false; sides.len()];
    for si in 0..sides.len() {
        let Some(s) = sides.get(si) else { break };
        let key = (s.leg.conn.key.client, s.leg.conn.key.server, s.leg.index());
        let twin = seen.get(&key).and_then(|(first, more)| {
            std::iter::once(first).chain(more).copied().find(|i| {
                sides.get(*i).is_some_and(|o| {
                    o.leg.conn.key.session != s.leg.conn.key.session
                        && o.time.since(s.time).0.unsigned_abs() <= 1_000_000_000
                })
            })
        });
        match twin {
            Some(i) => {
                let richer = sides
                    .get(i)
                    .is_some_and(|o| richness(&s.leg) > richness(&o.leg));
                if richer {
                    sides.swap(i, si);
                }
                if let Some(d) = dropped.get_mut(si) {
                    *d = true;
                }
            }
            None => match seen.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().1.push(si),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert((si, Vec::new()));
                }
            },
        }
    }
    if dropped.contains(&true) {
        let mut flags = dropped.into_iter();
        sides.retain(|_| !flags.next().unwrap_or(false));
    }
}

/// A leg's class: the role [`Knowledge::classify`] gives its connection, before the
/// health-check cadence ([`role_of`]).
fn class_of(leg: &Leg, known: &Knowledge) -> ConnRole {
    let unanswered = || {
        leg.record
            .as_ref()
            .is_some_and(|r| super::unanswered(&r.tcp))
    };
    known.classify_lazy(
        &leg.conn.key,
        || leg.request_known(Known::UserAgent),
        unanswered,
    )
}

/// A leg's role in pairing from its `class` ([`class_of`]), and whether it is a bare
/// connection attempt on a health-check cadence (paired last, after every other back-end
/// leg; a health check if unused). Without `cadence` the cadence is not tested (a leg on it
/// is taken for a client's back-end leg).
fn role_of(leg: &Leg, class: ConnRole, known: &Knowledge, cadence: bool) -> (ConnRole, bool) {
    let bare = leg.exchange.is_none() && leg.burst.is_none();
    match class {
        ConnRole::BackEnd if cadence && known.health_check_by_cadence(leg) => {
            if bare {
                (ConnRole::BackEnd, true)
            } else {
                (ConnRole::HealthCheck, false)
            }
        }
        role => (role, false),
    }
}

/// Front-end and back-end legs left unpaired on different nodes that are one request seen
/// under two addresses: the back-end request matches the front-end one exactly (see
/// [`exact_match`]) and the front end's address is not a node sending back-end traffic of its
/// own. Such a front-end address is usually linked to the node (then both legs are on one
/// node already); this pairs them when it is not (too few requests, or a competing address),
/// so that no request is counted twice. The latest exact front-end request before each
/// back-end request is taken.
fn exact_pairs(
    fronts: &[ClassifiedLeg],
    backs: &[ClassifiedLeg],
    deferred: &[bool],
    known: &Knowledge,
) -> Vec<(usize, usize)> {
    let wanted = |b: &ClassifiedLeg| {
        !b.used
            && b.leg
                .exchange
                .as_ref()
                .and_then(|e| e.request.as_ref())
                .is_some_and(|r| r.headers.known(Known::XForwardedPort).is_some())
    };
    let mut out = Vec::new();
    if !backs.iter().any(wanted) {
        return out;
    }
    // Unused clear-text front-end requests on addresses that are not back-end nodes, by client
    // and request line, in time order.
    let mut index: HashMap<(IpAddr, u64), Vec<usize>> = HashMap::default();
    for (i, f) in fronts.iter().enumerate() {
        if f.used || known.sends_back_end(f.node) {
            continue;
        }
        // (`line`: the hash of its request, read once per batch.)
        if let Some(line) = f.line {
            index
                .entry((f.leg.conn.key.client.ip, line))
                .or_default()
                .push(i);
        }
    }
    let mut taken: HashSet<usize> = HashSet::default();
    for (bi, b) in backs.iter().enumerate() {
        if deferred.get(bi).copied().unwrap_or(true) || !wanted(b) {
            continue;
        }
        let Some(line) = b.line else {
            continue;
        };
        let Some(client) = b.forwarded.client() else {
            continue;
        };
        let Some(list) = index.get(&(client, line)) else {
            continue;
        };
        let best = list.iter().rev().copied().find(|i| {
            !taken.contains(i)
                && fronts.get(*i).is_some_and(|f| {
                    f.node != b.node
                        && exact_match(&f.leg, &b.leg, b.forwarded)
                        && consistent(&f.leg, &b.leg)
                })
        });
        if let Some(fi) = best {
            taken.insert(fi);
            out.push((fi, bi));
        }
    }
    out
}

/// True when the back-end request is exactly the front-end request forwarded: method, URI,
/// Host and client (the last `X-Forwarded-For` entry) match, `X-Forwarded-Port` is the front
/// connection's server port, and the back-end request left at most
/// [`EXACT_DELAY`](super::linking::EXACT_DELAY) after the front-end one.
fn exact_match(front: &Leg, back: &Leg, forwarded: Forwarded) -> bool {
    let (Some(f), Some(b)) = (
        front.exchange.as_ref().and_then(|e| e.request.as_ref()),
        back.exchange.as_ref().and_then(|e| e.request.as_ref()),
    ) else {
        return false;
    };
    let port = b
        .headers
        .known(Known::XForwardedPort)
        .and_then(|p| p.trim().parse::<u16>().ok());
    let delay = b.first_byte.since(f.first_byte).0;
    !matches!(forwarded, Forwarded::Absent)
        && port == Some(front.conn.key.server.port)
        && (0..=super::linking::EXACT_DELAY.0).contains(&delay)
        && header_match(front, back, forwarded)
}

/// `front` starts no later than `back` (within `slack`, see [`slack`]) and at most `max`
/// before it.
fn in_range(front: Timestamp, back: Timestamp, max: Duration, slack: Duration) -> bool {
    front <= back.plus(slack) && back.since(front) <= Duration(max.0.saturating_add(TOLERANCE.0))
}

/// How far the events of legs `front` and `back` may appear out of their causal order:
/// [`ONE_CLOCK`] when one input file and one mirror session hold both and the front end is
/// readable HTTP, else [`TOLERANCE`]. (An encrypted front end's bursts only approximate its
/// request and answer: a TLS 1.3 server's session tickets, an interim `100 Continue`, go
/// out before the back-end attempt.)
fn slack(front: &Leg, back: &Leg) -> Duration {
    if front.exchange.is_some()
        && front.conn.opened_pos.file == back.conn.opened_pos.file
        && front.conn.key.session == back.conn.key.session
    {
        ONE_CLOCK
    } else {
        TOLERANCE
    }
}

/// A back-end request the front-end request became with its path or Host rewritten (ALB
/// listener rules can transform both): same method, the client is the last X-Forwarded-For
/// entry, sent within `max` after it, and the answers agree ([`consistent`]).
fn rewritten(front: &Leg, back: &Leg, forwarded: Forwarded, max: Duration) -> bool {
    let (Some(f), Some(b)) = (
        front.exchange.as_ref().and_then(|e| e.request.as_ref()),
        back.exchange.as_ref().and_then(|e| e.request.as_ref()),
    ) else {
        return false;
    };
    f.method() == b.method()
        && forwarded.names(front.conn.key.client.ip)
        && in_range(front.time(), back.time(), max, slack(front, back))
        && consistent(front, back)
}

/// Same method, target and Host; client IP is the last X-Forwarded-For entry (`forwarded`,
/// the back end's, read once).
fn header_match(front: &Leg, back: &Leg, forwarded: Forwarded) -> bool {
    let (Some(f), Some(b)) = (
        front.exchange.as_ref().and_then(|e| e.request.as_ref()),
        back.exchange.as_ref().and_then(|e| e.request.as_ref()),
    ) else {
        return false;
    };
    if f.method() != b.method() || f.target() != b.target() {
        return false;
    }
    let fh = f.headers.known(Known::Host).map(host_key);
    let bh = b.headers.known(Known::Host).map(host_key);
    if let (Some(fh), Some(bh)) = (fh, bh) {
        // Nearly always spelled alike: compared whole first, then letter by letter.
        if fh != bh && !fh.eq_ignore_ascii_case(bh) {
            return false;
        }
    }
    if matches!(forwarded, Forwarded::Entry { .. }) && !forwarded.names(front.conn.key.client.ip) {
        return false;
    }
    true
}

/// A Host value for comparison: without a default port (`:80`, `:443`), which HTTP/2 clients
/// often put in `:authority` and proxies drop (compare case-insensitively).
fn host_key(h: &str) -> &str {
    let h = h.trim();
    h.strip_suffix(":80")
        .or_else(|| h.strip_suffix(":443"))
        .unwrap_or(h)
}

/// True when `text` names `ip`: its canonical form (compared without allocating), or for IPv6
/// another spelling of the same address (capitals, not compressed).
fn is_written_as(ip: IpAddr, text: &str) -> bool {
    use std::fmt::Write;
    if let IpAddr::V4(v4) = ip {
        return v4_written_as(v4.octets(), text);
    }
    /// The longest IPv6 text is 45 bytes.
    struct Buf {
        bytes: [u8; 64],
        len: usize,
    }
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            let dst = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut buf = Buf {
        bytes: [0; 64],
        len: 0,
    };
    if write!(buf, "{ip}").is_err() {
        return ip.to_string() == text;
    }
    // Not the canonical text (an IPv6 address in capitals or not compressed): the same address.
    buf.bytes.get(..buf.len) == Some(text.as_bytes()) || text.parse::<IpAddr>() == Ok(ip)
}

/// `is_written_as` for IPv4 without the formatting machinery: `text` is the four octets in
/// decimal without leading zeros, joined by dots (as `Ipv4Addr` displays).
fn v4_written_as(octets: [u8; 4], text: &str) -> bool {
    let mut rest = text.as_bytes();
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            match rest.split_first() {
                Some((b'.', r)) => rest = r,
                _ => return false,
            }
        }
        let digits = [b'0' + o / 100, b'0' + o / 10 % 10, b'0' + o % 10];
        let skip = match o {
            100.. => 0,
            10..=99 => 1,
            _ => 2,
        };
        match rest.strip_prefix(digits.get(skip..).unwrap_or(&[])) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The front end's answer (if any) came after the back-end request went out (within
/// [`slack`]: an ALB's own error follows the failed attempt, it never precedes it), and when
/// both legs have responses, the front end's is the back end's relayed (same status, not
/// earlier) or the ALB's own.
fn consistent(front: &Leg, back: &Leg) -> bool {
    let slack = slack(front, back);
    if answer_time(front).is_some_and(|a| a.plus(slack) < back.time()) {
        return false;
    }
    if reaction_time(front).is_some_and(|a| !caused_by(a, back, slack)) {
        return false;
    }
    if silent_close(front)
        .zip(relayable_answer(back))
        .is_some_and(|(closed, answered)| answered.plus(slack) < closed)
    {
        return false;
    }
    let (Some(fr), Some(br)) = (
        front.exchange.as_ref().and_then(|e| e.response.as_ref()),
        back.exchange.as_ref().and_then(|e| e.response.as_ref()),
    ) else {
        return true;
    };
    (fr.status == br.status && fr.first_byte.plus(slack) >= br.first_byte) || alb_answer(front)
}

/// Whether the ALB's answer to a client at `a` can follow from back-end leg `back`: something
/// on that leg happened by then that the ALB answers on. The target's answer or close, or an
/// ICMP error, comes first (within the capture's `slack`); the ALB's own close of the leg (at
/// a timeout, a deregistration) may go out just after its answer ([`TOLERANCE`]). A leg that
/// shows neither yet (its outcome not in the capture), an HTTP/2 stream (its connection's
/// closes are not its outcome), an answer that did not parse or whose bytes the capture lost
/// do not say.
fn caused_by(a: Timestamp, back: &Leg, slack: Duration) -> bool {
    if back
        .exchange
        .as_ref()
        .is_some_and(|e| e.h2.is_some() || (e.response.is_none() && e.response_error.is_some()))
        || answer_lost(back)
    {
        return true;
    }
    let answered = back
        .exchange
        .as_ref()
        .and_then(|e| e.response.as_ref())
        .map(|r| r.first_byte)
        .or_else(|| {
            back.burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map(|r| r.first)
        });
    let events = back.record.as_ref().map(|r| r.tcp.events.as_slice());
    let from_target = events
        .into_iter()
        .flatten()
        .filter(|e| {
            matches!(e.kind, TcpEventKind::Icmp(_)) || (e.kind.is_close() && e.dir == Dir::ToClient)
        })
        .map(|e| e.ts)
        .next();
    let by_alb = events
        .into_iter()
        .flatten()
        .filter(|e| e.kind.is_close() && e.dir == Dir::ToServer)
        .map(|e| e.ts)
        .next();
    let target_side = match (answered, from_target) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    if target_side.is_none() && by_alb.is_none() {
        return true;
    }
    target_side.is_some_and(|t| a.plus(slack) >= t)
        || by_alb.is_some_and(|t| a.plus(TOLERANCE) >= t)
}

/// The front end's answer is the ALB's own (`Server: awselb...`).
fn alb_answer(front: &Leg) -> bool {
    front
        .exchange
        .as_ref()
        .and_then(|e| e.response.as_ref())
        .and_then(|r| r.headers.known(Known::Server))
        .is_some_and(|s| s.starts_with("awselb"))
}

/// The front end's answer names a server that is not the ALB (`Server` present, not
/// `awselb`): a target's answer the ALB relayed, which only a back-end leg that carried an
/// answer can have brought.
fn relayed_answer(front: &Leg) -> bool {
    front
        .exchange
        .as_ref()
        .and_then(|e| e.response.as_ref())
        .and_then(|r| r.headers.known(Known::Server))
        .is_some_and(|s| !s.trim().is_empty() && !s.starts_with("awselb"))
}

/// How well a front end's answer fits back-end leg `back`'s answer, for ordering the
/// candidates of a header match (lower is better): 0 the back end's answer relayed (same
/// status and `Server`, not earlier), 1 no answer seen, 2 another answer (the ALB's own, or
/// another server's). `None` when the back end has no parsed answer to compare with.
fn answer_fit(front: &Leg, back: &Leg) -> Option<u8> {
    let br = back.exchange.as_ref()?.response.as_ref()?;
    if back
        .exchange
        .as_ref()
        .is_some_and(|e| e.response_error.is_some())
    {
        return None;
    }
    let Some(fr) = front.exchange.as_ref().and_then(|e| e.response.as_ref()) else {
        return Some(1);
    };
    let relays = !alb_answer(front)
        && fr.status == br.status
        && fr.headers.known(Known::Server) == br.headers.known(Known::Server)
        && fr.first_byte.plus(slack(front, back)) >= br.first_byte;
    Some(if relays { 0 } else { 2 })
}

/// Orders the header-match candidates `pool` (in time order) of back-end leg `back` by how
/// well their answers fit its answer ([`answer_fit`]), time order among equals: a client
/// whose answer is the one this leg carried is its client before one the ALB answered
/// itself, whose error a failed attempt of its own may explain. A leg the target closed
/// without answering ([`closed_without_answer`]) fits best a client the ALB reacted to at
/// that close (its error, or its close of the client's connection), worst one that got a
/// target's answer. Only where some candidate fits best; the first stays first otherwise.
fn prefer_relayed(pool: &mut [usize], fronts: &[ClassifiedLeg], back: &Leg) {
    let closed_at = closed_without_answer(back);
    let fit = |i: &usize| {
        fronts.get(*i).map_or(1, |f| match closed_at {
            // A leg the target closed without answering brought the ALB nothing to relay: a
            // client that got a target's answer got it from another leg. The ALB reacts to
            // the close at once (its own error, or a close of the client's connection); a
            // client it answered much later, or not at all, waited on another leg.
            Some(_) if relayed_answer(&f.leg) => 2,
            Some(at) => {
                let prompt = reaction_time(&f.leg)
                    .is_some_and(|r| r.plus(slack(&f.leg, back)) >= at && r <= at.plus(TOLERANCE));
                if prompt {
                    0
                } else {
                    1
                }
            }
            None => answer_fit(&f.leg, back).unwrap_or(1),
        })
    };
    if pool.len() > 1 && pool.iter().any(|i| fit(i) == 0) {
        pool.sort_by_key(fit);
    }
}

/// The capture lost bytes the server side of this leg's connection sent (the target's on a
/// back-end leg, the ALB's on a front-end leg: a gap, or bytes skipped over the memory
/// limit): an answer may be among them.
fn answer_lost(back: &Leg) -> bool {
    back.record.as_ref().is_some_and(|r| {
        r.tcp.events.iter().any(|e| {
            e.dir == Dir::ToClient
                && matches!(
                    e.kind,
                    TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
                )
        })
    })
}

/// When the target closed or reset the connection of a back-end leg that carried an HTTP
/// request and got no response byte (no response, no response error, nothing of the answer
/// lost); `None` for any other leg.
fn closed_without_answer(back: &Leg) -> Option<Timestamp> {
    let ex = back.exchange.as_ref()?;
    if ex.request.is_none()
        || ex.response.is_some()
        || ex.response_error.is_some()
        || ex.h2.is_some()
        || answer_lost(back)
    {
        return None;
    }
    back.record
        .as_ref()?
        .tcp
        .events
        .iter()
        .find(|e| e.kind.is_close() && e.dir == Dir::ToClient)
        .map(|e| e.ts)
}

/// What time-order pairing needs to know of a back-end leg, read once per leg.
struct BackFacts {
    /// The leg carries an HTTP request.
    http: bool,
    /// Neither an exchange nor a TLS burst: a connection attempt or a connection that carried
    /// nothing.
    bare: bool,
    /// When the attempt had its outcome (response or closing TCP event).
    outcome: Option<Timestamp>,
    /// A failed connect leaves the ALB nothing to wait for: it answers the client within one
    /// more connect attempt, not later.
    answer_by: Option<Timestamp>,
    /// The earliest front-end request time that may lead to this leg.
    earliest: Timestamp,
}

impl BackFacts {
    fn of(b: &ClassifiedLeg, config: &AlbConfig) -> BackFacts {
        BackFacts {
            http: b
                .leg
                .exchange
                .as_ref()
                .and_then(|e| e.request.as_ref())
                .is_some(),
            bare: b.leg.exchange.is_none() && b.leg.burst.is_none(),
            outcome: outcome_time(&b.leg),
            answer_by: failed_connect_at(&b.leg).map(|r| r.plus(config.connect_timeout)),
            earliest: Timestamp(b.time.0.saturating_sub(TIME_ORDER_MAX.0 + TOLERANCE.0)),
        }
    }
}

/// Whether front-end leg `f` may be the client request of back-end leg `b` by time order
/// (used or not): same node, within the window, the request not after the attempt and the
/// ALB's answer to the client not before it (within [`slack`]), nor before its outcome or
/// later than a failed connect allows, and not a target's answer relayed where the leg
/// carried none.
fn fits_in_time(f: &ClassifiedLeg, b: &ClassifiedLeg, facts: &BackFacts, max: Duration) -> bool {
    let slack = slack(&f.leg, &b.leg);
    f.time >= facts.earliest
        && f.time <= b.time.plus(slack)
        && f.node == b.node
        // A bare attempt (a failed connect, a connection that carried nothing) brought the
        // ALB no answer to relay: a client that got a target's answer got it elsewhere.
        && !(facts.bare && relayed_answer(&f.leg))
        // An HTTP back-end request that matched no HTTP front end can only belong to an
        // opaque (TLS) front-end request, to one whose request the capture lost (mirror loss
        // or truncation: an exchange without a readable request), or to one whose path or Host
        // the ALB rewrote (a rule's transform) on the way.
        && (!facts.http
            || f.leg.exchange.as_ref().map_or(true, |e| e.request.is_none())
            || rewritten(&f.leg, &b.leg, b.forwarded, max))
        // The ALB answers the client after the back-end outcome, not before the attempt. (The
        // outcome may be the ALB's own close at a timeout, which it may send just after its
        // answer: the capture's tolerance.)
        && answer_time(&f.leg).map_or(true, |a| {
            a.plus(slack) >= b.time
                && facts.outcome.map_or(true, |o| a.plus(TOLERANCE) >= o)
                && facts.answer_by.map_or(true, |by| a <= by.plus(TOLERANCE))
        })
}

/// How many front ends, latest first, are looked at when a back-end leg that no free front
/// end fits looks for one to take over.
const SWAP_SCAN: usize = 64;

/// For back-end leg `bi`, which no free front end fits: a front end `fi` that fits it but went,
/// by time order, to an earlier back-end leg (pair `k`) that another free front end `f2` fits
/// too. Then `k` takes `f2` and `bi` takes `fi`: both back-end legs are explained, where
/// greedy pairing left one without its client (concurrent requests over an encrypted front
/// end, answered out of order).
fn swap_partner(
    fronts: &[ClassifiedLeg],
    backs: &[ClassifiedLeg],
    pairs: &[(usize, usize, PairingMethod, Vec<PairingNote>)],
    time_paired: &HashMap<usize, usize>,
    bi: usize,
    max: Duration,
    config: &AlbConfig,
) -> Option<(usize, usize, usize)> {
    let b = backs.get(bi)?;
    let facts = BackFacts::of(b, config);
    let end = fronts.partition_point(|f| f.time <= b.time.plus(TOLERANCE));
    for fi in (0..end).rev().take(SWAP_SCAN) {
        let Some(&k) = time_paired.get(&fi) else {
            continue;
        };
        let Some(f) = fronts.get(fi) else { continue };
        if !fits_in_time(f, b, &facts, max) {
            continue;
        }
        let Some(other) = pairs.get(k).and_then(|p| backs.get(p.1)) else {
            continue;
        };
        let other_facts = BackFacts::of(other, config);
        let other_end = fronts.partition_point(|f| f.time <= other.time.plus(TOLERANCE));
        let alternative = (0..other_end).rev().take(SWAP_SCAN).find(|&f2| {
            f2 != fi
                && fronts
                    .get(f2)
                    .is_some_and(|g| !g.used && fits_in_time(g, other, &other_facts, max))
        });
        if let Some(f2) = alternative {
            return Some((k, fi, f2));
        }
    }
    None
}

/// When the ALB reacted on this front-end leg to its request's fate: its answer, or, where
/// none came, its close (FIN or RST) of the client's connection before the client closed it.
/// `None` when the capture shows neither (the client left first, or the capture ended), and
/// for an HTTP/2 stream without an answer (its connection's close is not about it).
fn reaction_time(front: &Leg) -> Option<Timestamp> {
    answer_time(front).or_else(|| {
        if front.exchange.as_ref().is_some_and(|e| e.h2.is_some()) {
            return None;
        }
        let first_close = front
            .record
            .as_ref()?
            .tcp
            .events
            .iter()
            .find(|e| e.kind.is_close())?;
        (first_close.dir == Dir::ToClient).then_some(first_close.ts)
    })
}

/// When the ALB closed (FIN or RST) the connection of a client whose HTTP/1 request it never
/// answered, before the client closed it; `None` where an answer came, its bytes are not in
/// the capture, the client left first, or the leg is an HTTP/2 stream or a TLS burst.
fn silent_close(front: &Leg) -> Option<Timestamp> {
    let ex = front.exchange.as_ref()?;
    if ex.response.is_some() || ex.response_error.is_some() || ex.h2.is_some() || answer_lost(front)
    {
        return None;
    }
    reaction_time(front)
}

/// When the target's parsed HTTP/1 answer on this back-end leg began: an answer the ALB relays
/// (a malformed one it does not, an HTTP/2 stream's or one whose bytes were lost is left out).
fn relayable_answer(back: &Leg) -> Option<Timestamp> {
    let ex = back.exchange.as_ref()?;
    if ex.h2.is_some() || answer_lost(back) {
        return None;
    }
    ex.response.as_ref().map(|r| r.first_byte)
}

/// When the ALB answered the client on this front-end leg.
fn answer_time(front: &Leg) -> Option<Timestamp> {
    if let Some(ex) = &front.exchange {
        return ex.response.as_ref().map(|r| r.first_byte);
    }
    front
        .burst
        .as_ref()
        .and_then(|b| b.response.as_ref())
        .map(|r| r.first)
}

/// Among the client requests that fit one back-end leg by time, one the capture shows
/// answered (after that leg's outcome: [`fits_in_time`]) is a better fit than an earlier one
/// with no answer at all: the ALB answers the client right after the attempt's outcome, and a
/// request still unanswered when the capture ends has shown nothing of it (a capture ending
/// mid-burst holds many such requests, whose own back-end requests come after the end).
/// False when several readable requests fit and none is answered: which one the leg served is
/// a guess, so the leg is left unpaired rather than given to the earliest.
fn prefer_answered(pool: &mut [usize], fronts: &[ClassifiedLeg]) -> bool {
    let answered = |i: &usize| {
        fronts
            .get(*i)
            .is_some_and(|f| answer_time(&f.leg).is_some())
    };
    if pool.first().is_some_and(|i| !answered(i)) {
        if let Some(k) = pool.iter().position(answered) {
            pool[..=k].rotate_right(1);
        } else if pool.len() > 1
            && pool.iter().all(|i| {
                fronts
                    .get(*i)
                    .is_some_and(|f| f.leg.exchange.as_ref().is_some_and(|e| e.request.is_some()))
            })
        {
            return false;
        }
    }
    true
}

/// Among the client requests that fit a bare back-end attempt by time (a failed connect, a
/// connection that carried nothing), one the ALB answered with its own error (`awselb`) is
/// a better fit than one whose answer names no server: such an attempt brings the ALB nothing
/// to relay, so it answers the client itself. Time order among equals; the first stays first
/// when it is answered by the ALB or none is.
fn prefer_alb_answer(pool: &mut [usize], fronts: &[ClassifiedLeg]) {
    let by_alb = |i: &usize| fronts.get(*i).is_some_and(|f| alb_answer(&f.leg));
    if pool.first().is_some_and(|i| !by_alb(i)) {
        if let Some(k) = pool.iter().position(by_alb) {
            pool[..=k].rotate_right(1);
        }
    }
}

/// When the back-end attempt had its outcome: its response, or its last TCP event.
fn outcome_time(back: &Leg) -> Option<Timestamp> {
    if let Some(r) = back.exchange.as_ref().and_then(|e| e.response.as_ref()) {
        return Some(r.first_byte);
    }
    if let Some(r) = back.burst.as_ref().and_then(|b| b.response.as_ref()) {
        return Some(r.first);
    }
    let rec = back.record.as_ref()?;
    rec.tcp
        .events
        .iter()
        .filter(|e| e.kind.is_close() || matches!(e.kind, TcpEventKind::Icmp(_)))
        .map(|e| e.ts)
        .next()
}

/// When a bare connection attempt failed: the target's RST to the SYN (refused) or an ICMP
/// error (unreachable), with no SYN-ACK. `None` for any other leg.
fn failed_connect_at(leg: &Leg) -> Option<Timestamp> {
    if leg.exchange.is_some() || leg.burst.is_some() {
        return None;
    }
    let ev = &leg.record.as_ref()?.tcp.events;
    if ev
        .iter()
        .any(|e| matches!(e.kind, TcpEventKind::SynAck { .. }))
    {
        return None;
    }
    ev.iter()
        .find(|e| match e.kind {
            TcpEventKind::Icmp(_) => true,
            TcpEventKind::Rst => e.dir == Dir::ToClient,
            _ => false,
        })
        .map(|e| e.ts)
}

fn ambiguity(fronts: &[ClassifiedLeg], pool: &[usize], by: PairingBasis) -> PairingNote {
    let candidates = pool
        .iter()
        .take(4)
        .filter_map(|i| fronts.get(*i))
        .map(|f| (f.leg.conn.key.client, f.time))
        .collect();
    let at_least = pool.len() >= MAX_AMBIGUOUS;
    PairingNote::Ambiguous {
        count: if at_least { MAX_AMBIGUOUS } else { pool.len() },
        at_least,
        by,
        candidates,
    }
}

/// Builds a health-check record from a health-check leg (or, `unmatched_attempt`, a bare
/// connection attempt that matched no client request).
pub(crate) fn health_check(leg: &Leg, unmatched_attempt: bool) -> HealthCheck {
    let ex = leg.exchange.as_ref();
    let status = ex.and_then(|e| e.response.as_ref()).map(|r| r.status);
    let path = ex
        .and_then(|e| e.request.as_ref())
        .map(|r| r.target().to_string());
    // Over TLS the status is not visible: an answer to the check's request proves only that
    // the target answered (a failing target answers too), never a pass.
    let tls_answered = status.is_none()
        && ex.is_none()
        && leg.burst.as_ref().is_some_and(|b| b.response.is_some());
    let (outcome, problem) = match status {
        Some(s) if (200..400).contains(&s) => (HealthOutcome::Passed, None),
        Some(s) => (HealthOutcome::Failed, Some(HealthProblem::Status(s))),
        None if tls_answered => (HealthOutcome::AnsweredStatusNotVisible, None),
        None => (
            HealthOutcome::Failed,
            Some(HealthProblem::NoAnswer {
                how: tcp_outcome(leg),
                unmatched_attempt,
            }),
        ),
    };
    HealthCheck {
        node: leg.conn.key.client.ip,
        target: leg.conn.key.server,
        time: leg.time(),
        path,
        status,
        outcome,
        problem,
        pos: leg.first_pos(),
    }
}

/// How a connection without an answer ended.
fn tcp_outcome(leg: &Leg) -> NoAnswer {
    let Some(rec) = &leg.record else {
        return NoAnswer::Unknown;
    };
    let ev = &rec.tcp.events;
    if let Some(e) = ev.iter().find_map(|e| match &e.kind {
        TcpEventKind::Icmp(i) => Some(i),
        _ => None,
    }) {
        return NoAnswer::Icmp(e.clone());
    }
    let synack = ev
        .iter()
        .any(|e| matches!(e.kind, TcpEventKind::SynAck { .. }));
    let rst = ev
        .iter()
        .any(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Rst));
    if !synack && rst {
        return NoAnswer::Refused;
    }
    if !synack && !rec.tcp.saw_syn {
        // Opened before the capture started: no SYN in it to be unanswered.
        return NoAnswer::Unknown;
    }
    if !synack {
        return NoAnswer::SynUnanswered;
    }
    if leg.conn.tls {
        return NoAnswer::TlsIncomplete;
    }
    NoAnswer::Closed
}

#[cfg(test)]
mod written_as_tests {
    use super::is_written_as;
    use std::net::IpAddr;

    #[test]
    fn ipv4_text_matches_its_display_only() {
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "192.168.100.9",
            "255.255.255.255",
            "1.20.3.40",
        ] {
            let a: IpAddr = ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            assert!(is_written_as(a, &a.to_string()), "{ip}");
            for other in [
                "010.0.0.1",
                "10.0.0.1.",
                "10.0.0",
                "",
                " 10.0.0.1",
                "10.0.0.10",
            ] {
                assert_eq!(
                    is_written_as(a, other),
                    a.to_string() == other,
                    "{ip} {other}"
                );
            }
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap_or(IpAddr::from([0u16; 8]));
        assert!(is_written_as(v6, "2001:db8::1"));
        // another spelling of the same IPv6 address names it too; another address does not
        assert!(is_written_as(v6, "2001:DB8::1"));
        assert!(is_written_as(v6, "2001:0db8:0:0:0:0:0:1"));
        assert!(!is_written_as(v6, "2001:db8::2"));
    }
}

#[cfg(test)]
mod memo_tests {
    use super::super::testutil::{ep, exch, front_headers, get, Conn};
    use super::super::types::ConnInfo;
    use super::*;
    use crate::protocol::ExchangeBox;

    /// A client's request to 10.0.0.10:8081 (a port the configuration does not name), as a
    /// queued leg.
    fn client_leg() -> LegBox {
        let conn = Conn::new(1, ep("198.51.100.7", 40000), ep("10.0.0.10", 8081), 0);
        let ctx = conn.ctx(false);
        LegBox::new(Leg {
            conn: ConnInfo {
                id: ctx.id,
                key: ctx.key,
                opened: ctx.opened,
                opened_pos: ctx.opened_pos,
                tls: false,
                decrypted: false,
                saw_syn: true,
            },
            exchange: Some(ExchangeBox::new(exch(
                0,
                None,
                Some(get(1, "/a", front_headers())),
                None,
            ))),
            burst: None,
            record: None,
            finished: true,
        })
    }

    #[test]
    fn a_remembered_class_holds_only_under_the_knowledge_it_was_decided_by() {
        let unknown = Knowledge::new(AlbConfig::default());
        let node: IpAddr = [10, 0, 0, 10].into();
        let known = Knowledge::new(AlbConfig {
            alb_ips: vec![node],
            ..AlbConfig::default()
        });
        let (before, after) = (unknown.roles_epoch(), known.roles_epoch());
        assert_ne!(before, after);
        let mut leg = client_leg();
        // Nothing known of 10.0.0.10: no role.
        assert_eq!(
            LegMemo::class(&mut leg, &unknown, before).0,
            ConnRole::Other
        );
        // Once it is a node, the remembered class is not reused: worked out again.
        assert_eq!(
            LegMemo::class(&mut leg, &known, after),
            (ConnRole::FrontEnd, node)
        );
        // Remembered now (and, in debug builds, checked against a recomputation).
        assert_eq!(
            LegMemo::class(&mut leg, &known, after),
            (ConnRole::FrontEnd, node)
        );
        assert_eq!(
            leg.with_memo().1.class.map(|m| (m.epoch, m.class)),
            Some((after, ConnRole::FrontEnd))
        );
        // The request line and the facts of a whole pass agree with a fresh reading.
        let line = line_hash(&leg);
        assert!(line.is_some());
        assert_eq!(LegMemo::line(&mut leg), line);
        let facts = Facts::of(&mut leg, &known, true, after);
        assert_eq!(
            (facts.role, facts.node, facts.line),
            (ConnRole::FrontEnd, node, line)
        );
    }
}
