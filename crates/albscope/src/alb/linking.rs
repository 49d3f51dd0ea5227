//! Linking the two addresses of one ALB node (or proxy) from the traffic itself, and the clock
//! offsets between input files that the linked requests reveal.
//!
//! The front end and the back end of one node can appear under different addresses: a
//! client-side capture reaches an internet-facing ALB at its public address (translated by the
//! internet gateway) while a mirror of the targets' ENIs shows the node's private address; a
//! proxy has a client-facing and a target-facing interface. A back-end request names its
//! front-end request: its last `X-Forwarded-For` entry is the client, `X-Forwarded-Port` and
//! `X-Forwarded-Proto` the listener, and method, URI and Host are the client's. [`Linking`]
//! matches such requests across addresses (up to [`MAX_SKEW`] apart, since files recorded on
//! different machines disagree on time), and links a front-end address to a node once at least
//! [`MIN_LINK_REQUESTS`] back-end requests agree on one time difference (within [`AGREE`]), or
//! on one *exact* match with no competing candidate (see [`exact`]): the last `X-Forwarded-For`
//! entry is the client, `X-Forwarded-Port` the front connection's server port, method, URI and
//! Host agree, and the back-end request left at most [`EXACT_DELAY`] after the front-end one,
//! while no other front-end address has a request matching that back-end request (a dual-stack
//! node reached at an IPv6 address with one or two requests in the capture).
//! Pairing then treats the linked front-end address as the node's (see
//! [`Knowledge::classify`](super::Knowledge::classify) and
//! [`Knowledge::node_of`](super::Knowledge::node_of)).
//!
//! An HTTPS front end without keys shows no request, only application-data bursts: a back-end
//! request with `X-Forwarded-Proto: https` whose `X-Forwarded-Port` is a TLS connection's
//! server port is matched, by timing alone, with the client bursts on that client's TLS
//! connections ([`Linking::observe_tls_front`]); the same agreement rule then decides.
//!
//! When the two legs of linked requests come from different files, the agreed time difference
//! is that pair of files' clock offset (NTP-style: the mean of the request's and the response's
//! differences, so the ALB's forwarding delays cancel; the request's difference alone when a
//! leg has no response). A node with one address on both legs links nothing, but its requests
//! matched across two files (a client host's capture and a target host's) measure their clocks
//! the same way.

use crate::capture::{Duration, Timestamp};
use crate::flow::ConnKey;
use crate::protocol::{HttpExchange, Known};
use indexmap::IndexMap;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

/// Fewest back-end requests that must agree before two addresses are linked.
pub const MIN_LINK_REQUESTS: usize = 3;
/// How far apart (either way) the legs of one request may appear when linking: files recorded
/// on different machines disagree on time by milliseconds to seconds.
pub const MAX_SKEW: Duration = Duration(30_000_000_000);
/// Time differences of linked requests within this of each other agree.
pub const AGREE: Duration = Duration(5_000_000);
/// Longest delay between a front-end request and its back-end request (same clock) for an
/// exact match: the ALB forwards a request within milliseconds of reading its head.
pub const EXACT_DELAY: Duration = Duration(50_000_000);
/// Most recent front-end and back-end requests remembered for matching (each).
const MAX_RECENT: usize = 2048;
/// Most candidate front-end requests remembered per back-end request.
const MAX_CANDIDATES: usize = 8;
/// Most back-end requests remembered per link candidate.
const MAX_SAMPLES: usize = 256;
/// Most link candidates (address and file combinations) remembered.
const MAX_KEYS: usize = 1024;

/// A request as a client sent it to an address that is not a known node.
#[derive(Clone, Debug)]
struct FrontSeen {
    server: IpAddr,
    port: u16,
    client: IpAddr,
    request: RequestId,
    file: u16,
    times: Times,
}

/// A request a node sent to a target, with the ALB's headers.
#[derive(Clone, Debug)]
struct BackSeen {
    id: u64,
    node: IpAddr,
    client: IpAddr,
    forwarded_port: Option<u16>,
    request: RequestId,
    file: u16,
    times: Times,
}

/// What identifies a request on both legs: method, URI and Host (lower case), as a 128-bit
/// fingerprint (two independent 64-bit hashes: no copy of the strings is kept, and two
/// different requests share one with a probability of about 2^-128).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct RequestId(u64, u64);

impl RequestId {
    /// The identity of every TLS client burst: the request inside is not readable, so bursts
    /// are matched by client, listener port and timing alone (a clear-text request's
    /// fingerprint has its lowest bit set; this one has not).
    fn opaque() -> Self {
        RequestId(0, 0)
    }

    /// The fingerprint of a clear-text request.
    fn of(method: &str, target: &str, host: Option<&str>) -> Self {
        const SEEDS: (u64, u64) = (0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344);
        // The common short request: its fields laid out once in a stack buffer and hashed in
        // one piece per seed (a longer one field by field).
        let mut buf = [0u8; 256];
        if let Some(len) = request_text(&mut buf, method, target, host) {
            let text = buf.get(..len).unwrap_or(&[]);
            let hash = |seed: u64| {
                let mut h = foldhash::quality::FixedState::with_seed(seed).build_hasher();
                h.write(text);
                h.finish()
            };
            return RequestId(hash(SEEDS.0) | 1, hash(SEEDS.1));
        }
        let one = fingerprint(SEEDS.0, method, target, host);
        let two = fingerprint(SEEDS.1, method, target, host);
        RequestId(one | 1, two)
    }
}

/// Writes method, URI and Host (lower case) into `buf`, each closed by a byte no UTF-8 text
/// contains, the absence of a Host marked apart from an empty one; the length written, or
/// `None` when they do not fit.
fn request_text(buf: &mut [u8], method: &str, target: &str, host: Option<&str>) -> Option<usize> {
    let mut at = put_field(buf, 0, method.as_bytes(), 0xff)?;
    at = put_field(buf, at, target.as_bytes(), 0xff)?;
    match host {
        None => put_field(buf, at, &[], 0xfe),
        Some(h) => {
            let end = put_field(buf, at, h.as_bytes(), 0xff)?;
            buf.get_mut(at..end - 1)?.make_ascii_lowercase();
            Some(end)
        }
    }
}

/// Copies `bytes` and then `end` into `buf` at `at`; where the next field starts, or `None`
/// when they do not fit.
fn put_field(buf: &mut [u8], at: usize, bytes: &[u8], end: u8) -> Option<usize> {
    let next = at + bytes.len() + 1;
    let dst = buf.get_mut(at..next)?;
    let (text, close) = dst.split_at_mut(bytes.len());
    text.copy_from_slice(bytes);
    *close.first_mut()? = end;
    Some(next)
}

impl RequestId {}

/// One 64-bit hash of method, URI and Host (lower case), each field closed by a byte no
/// UTF-8 text contains, the absence of a Host marked apart from an empty one.
fn fingerprint(seed: u64, method: &str, target: &str, host: Option<&str>) -> u64 {
    let mut h = foldhash::quality::FixedState::with_seed(seed).build_hasher();
    h.write(method.as_bytes());
    h.write_u8(0xff);
    h.write(target.as_bytes());
    h.write_u8(0xff);
    match host {
        None => h.write_u8(0xfe),
        Some(host) => {
            // Lower case without allocating: in chunks through a small buffer.
            let mut buf = [0u8; 64];
            for chunk in host.as_bytes().chunks(buf.len()) {
                if let Some(dst) = buf.get_mut(..chunk.len()) {
                    dst.copy_from_slice(chunk);
                    dst.make_ascii_lowercase();
                    h.write(dst);
                }
            }
            h.write_u8(0xff);
        }
    }
    h.finish()
}

/// When a leg's request started and its response's first byte came.
#[derive(Copy, Clone, Debug)]
struct Times {
    request: Timestamp,
    response: Option<Timestamp>,
}

/// A candidate link: the front-end address, the node, and the files of the front and back legs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct LinkKey {
    front: IpAddr,
    node: IpAddr,
    front_file: u16,
    back_file: u16,
    /// Evidence from TLS client bursts (timing alone), not clear-text requests.
    tls: bool,
}

/// A front-end address linked to a node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeLink {
    /// The address clients reached (public address, client-facing interface).
    pub front: IpAddr,
    /// The node's address as its targets see it.
    pub node: IpAddr,
    /// Back-end requests whose headers and timing agree with a front-end request on `front`.
    pub requests: usize,
    /// Listener ports named by `X-Forwarded-Port` on the linked requests.
    pub listener_ports: BTreeSet<u16>,
    /// True when the link rests on TLS client bursts (HTTPS front end without keys: matched
    /// by client, listener port and timing), not on clear-text requests.
    pub tls_timing: bool,
}

/// The clock offset of one input file against another, read from linked requests.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockEstimate {
    /// The file whose clock is off (index into the input files).
    pub file: u16,
    /// The file it is measured against.
    pub reference: u16,
    /// How far `file`'s clock is ahead of `reference`'s (negative: behind).
    pub ahead: Duration,
    /// Linked requests the estimate rests on.
    pub requests: usize,
}

/// An offset applied to one input file's timestamps before the files were merged.
#[derive(Clone, Debug, PartialEq)]
pub struct FileOffset {
    /// The input file (index into the input files).
    pub file: u16,
    /// How far the file's clock was ahead (subtracted from its timestamps; negative: behind).
    pub ahead: Duration,
    /// Where the value came from.
    pub source: OffsetSource,
}

/// Where a file's clock offset came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OffsetSource {
    /// Given with `--time-offset`.
    Given,
    /// Estimated from linked requests against another file.
    Estimated {
        /// The file it was measured against.
        reference: u16,
        /// Linked requests the estimate rests on.
        requests: usize,
    },
}

/// Link evidence gathered while the capture is read, and the links and clock offsets decided
/// from it.
#[derive(Clone, Debug, Default)]
pub struct Linking {
    fronts: Recent<FrontSeen>,
    backs: Recent<BackSeen>,
    /// Client application-data bursts on TLS connections (request [`RequestId::opaque`]).
    tls_fronts: Recent<FrontSeen>,
    /// Back-end requests forwarded from an HTTPS listener (request [`RequestId::opaque`]).
    https_backs: Recent<BackSeen>,
    next_id: u64,
    /// Per candidate link, per back-end request: the time differences of its candidate
    /// front-end requests (nanoseconds).
    samples: foldhash::HashMap<LinkKey, IndexMap<u64, Vec<i64>>>,
    /// Per candidate link: the back-end requests with an exact match (see [`exact`]).
    exact: foldhash::HashMap<LinkKey, BTreeSet<u64>>,
    /// Listener ports named on matched back-end requests, per (front, node).
    ports: foldhash::HashMap<(IpAddr, IpAddr), BTreeSet<u16>>,
    /// New evidence since the last [`Linking::refresh`].
    dirty: bool,
    /// Decided links, by front-end address.
    links: IndexMap<IpAddr, NodeLink>,
    /// Decided clock estimates (one per file off the reference).
    clocks: Vec<ClockEstimate>,
}

impl Linking {
    /// The node linked to front-end address `ip`, when linked.
    pub fn node_for(&self, ip: IpAddr) -> Option<IpAddr> {
        self.links.get(&ip).map(|l| l.node)
    }

    /// Every decided link, in the order decided.
    pub fn links(&self) -> impl Iterator<Item = &NodeLink> {
        self.links.values()
    }

    /// The clock estimates decided so far (files whose clocks disagree with another's).
    pub fn clocks(&self) -> &[ClockEstimate] {
        &self.clocks
    }

    /// Notes a request a client sent to `key.server`, an address not known as a node.
    pub(super) fn observe_front(&mut self, key: &ConnKey, ex: &HttpExchange) {
        let Some((request, times, file)) = request_of(ex) else {
            return;
        };
        let seen = FrontSeen {
            server: key.server.ip,
            port: key.server.port,
            client: key.client.ip,
            request,
            file,
            times,
        };
        let index = (seen.client, seen.request);
        let matches: Vec<(u64, LinkKey, i64, Option<u16>, bool)> = self
            .backs
            .get(&index)
            .filter_map(|b| {
                matched(&seen, b).map(|(k, d)| (b.id, k, d, b.forwarded_port, exact(&seen, b)))
            })
            .collect();
        for (id, k, d, port, is_exact) in matches {
            self.add_sample(k, id, d, port, is_exact);
        }
        self.fronts.push(index, seen);
    }

    /// Notes a request node `key.client` sent to a target with the ALB's headers.
    pub(super) fn observe_back(&mut self, key: &ConnKey, ex: &HttpExchange) {
        let Some(req) = &ex.request else { return };
        let Some(client) = req
            .headers
            .known(Known::XForwardedFor)
            .and_then(|x| parse_ip(last_forwarded(x)))
        else {
            return;
        };
        let Some((request, times, file)) = request_of(ex) else {
            return;
        };
        self.next_id += 1;
        let seen = BackSeen {
            id: self.next_id,
            node: key.client.ip,
            client,
            forwarded_port: req
                .headers
                .known(Known::XForwardedPort)
                .and_then(|p| p.trim().parse().ok()),
            request,
            file,
            times,
        };
        let index = (seen.client, seen.request);
        let mut matches: Vec<(LinkKey, i64, bool)> = self
            .fronts
            .get(&index)
            .filter_map(|f| matched(f, &seen).map(|(k, d)| (k, d, exact(f, &seen))))
            .collect();
        let https = req
            .headers
            .known(Known::XForwardedProto)
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        if https && seen.forwarded_port.is_some() {
            let opaque = (seen.client, RequestId::opaque());
            matches.extend(
                self.tls_fronts
                    .get(&opaque)
                    .filter_map(|f| matched_tls(f, &seen).map(|(k, d)| (k, d, false))),
            );
            self.https_backs.push(opaque, seen.clone());
        }
        for (k, d, is_exact) in matches {
            self.add_sample(k, seen.id, d, seen.forwarded_port, is_exact);
        }
        self.backs.push(index, seen);
    }

    /// Notes the client application-data bursts of a TLS connection `key` to an address not
    /// known as a node: each burst's start, its answer's start (if any) and its input file.
    /// Called when the connection's bursts are known (at its close).
    pub(super) fn observe_tls_front(
        &mut self,
        key: &ConnKey,
        bursts: impl Iterator<Item = (Timestamp, Option<Timestamp>, u16)>,
    ) {
        let index = (key.client.ip, RequestId::opaque());
        for (request, response, file) in bursts {
            let seen = FrontSeen {
                server: key.server.ip,
                port: key.server.port,
                client: key.client.ip,
                request: index.1,
                file,
                times: Times { request, response },
            };
            let matches: Vec<(u64, LinkKey, i64, Option<u16>)> = self
                .https_backs
                .get(&index)
                .filter_map(|b| matched_tls(&seen, b).map(|(k, d)| (b.id, k, d, b.forwarded_port)))
                .collect();
            for (id, k, d, port) in matches {
                self.add_sample(k, id, d, port, false);
            }
            self.tls_fronts.push(index, seen);
        }
    }

    fn add_sample(
        &mut self,
        key: LinkKey,
        back: u64,
        delta: i64,
        port: Option<u16>,
        is_exact: bool,
    ) {
        if !self.samples.contains_key(&key) && self.samples.len() >= MAX_KEYS {
            return;
        }
        let per_back = self.samples.entry(key).or_default();
        if !per_back.contains_key(&back) && per_back.len() >= MAX_SAMPLES {
            return;
        }
        let deltas = per_back.entry(back).or_default();
        if deltas.len() < MAX_CANDIDATES {
            deltas.push(delta);
        }
        if is_exact {
            self.exact.entry(key).or_default().insert(back);
        }
        if let Some(p) = port {
            self.ports
                .entry((key.front, key.node))
                .or_default()
                .insert(p);
        }
        self.dirty = true;
    }

    /// Decides links and clock offsets from the evidence gathered so far (cheap when nothing
    /// new came). `own_back_end` is true for an address seen sending back-end traffic itself
    /// (a node in its own right, e.g. another ALB node a client also used): never linked as
    /// another node's front-end address.
    pub(super) fn refresh(&mut self, own_back_end: impl Fn(IpAddr) -> bool) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        // Per (front, node): the best-supported agreement over its file combinations.
        let mut best: IndexMap<(IpAddr, IpAddr), (usize, bool)> = IndexMap::new();
        let mut offsets: Vec<(LinkKey, Agreement)> = Vec::new();
        let mut keys: Vec<&LinkKey> = self.samples.keys().collect();
        keys.sort_by_key(|k| (k.front, k.node, k.tls, k.front_file, k.back_file));
        for key in keys {
            let Some(per_back) = self.samples.get(key) else {
                continue;
            };
            let Some(a) = agreement(per_back) else {
                continue;
            };
            // Enough requests (or one exact match no other address competes for), and most of
            // the requests that had a candidate agree (chance agreements among many unrelated
            // requests are a small share).
            let enough = a.support >= MIN_LINK_REQUESTS || self.uncontested_exact(key);
            // A node's own address on both legs (files from two machines) is no link to
            // refuse: it only measures the clocks.
            let other_node = key.front != key.node && own_back_end(key.front);
            if !enough || a.support.saturating_mul(2) < per_back.len() || other_node {
                continue;
            }
            // Clear-text evidence (sorted first) wins ties: it names the request.
            let e = best.entry((key.front, key.node)).or_default();
            if a.support > e.0 {
                *e = (a.support, key.tls);
            }
            // A clock offset rests on several requests, never on one exact match.
            if key.front_file != key.back_file && a.support >= MIN_LINK_REQUESTS {
                offsets.push((*key, a));
            }
        }
        // A front-end address goes to the node with the most agreeing requests.
        let mut links: IndexMap<IpAddr, NodeLink> = IndexMap::new();
        for ((front, node), (support, tls_timing)) in best {
            if front == node {
                continue;
            }
            let better = links.get(&front).map_or(true, |l| support > l.requests);
            if better {
                links.insert(
                    front,
                    NodeLink {
                        front,
                        node,
                        requests: support,
                        listener_ports: self.ports.get(&(front, node)).cloned().unwrap_or_default(),
                        tls_timing,
                    },
                );
            }
        }
        self.links = links;
        self.clocks = clock_estimates(&offsets);
    }
}

impl Linking {
    /// True when a back-end request of `key` matched a front-end request on `key.front`
    /// exactly (see [`exact`]) and no other front-end address has a request matching it.
    fn uncontested_exact(&self, key: &LinkKey) -> bool {
        let Some(ids) = self.exact.get(key) else {
            return false;
        };
        ids.iter().any(|id| {
            !self
                .samples
                .iter()
                .any(|(k, per_back)| k.front != key.front && per_back.contains_key(id))
        })
    }
}

/// The last entry of an `X-Forwarded-For` value, trimmed (the text of
/// `xff.rsplit(',').next().trim()`, found with one backwards byte search).
pub(crate) fn last_forwarded(xff: &str) -> &str {
    let tail = match memchr::memrchr(b',', xff.as_bytes()) {
        Some(i) => xff.get(i + 1..).unwrap_or(""),
        None => xff,
    };
    tail.trim()
}

/// `text` parsed as an address, as `text.parse::<IpAddr>().ok()` does; an IPv4 address in
/// its displayed form (four decimal octets without leading zeros, what an ALB writes) is read
/// by hand, any other text by the standard parser.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    match displayed_v4(text) {
        Some(octets) => Some(IpAddr::from(octets)),
        None => text.parse().ok(),
    }
}

/// The octets of `text` when it is an IPv4 address as displayed (`Ipv4Addr`'s `Display`:
/// four octets of at most 255 in decimal without leading zeros, joined by dots).
pub(crate) fn displayed_v4(text: &str) -> Option<[u8; 4]> {
    let bytes = text.as_bytes();
    if !(7..=15).contains(&bytes.len()) {
        return None;
    }
    let mut octets = [0u8; 4];
    // The octet being read: its index, value and digits so far.
    let (mut k, mut v, mut n) = (0usize, 0u32, 0u32);
    for &c in bytes {
        if c == b'.' {
            if n == 0 {
                return None;
            }
            *octets.get_mut(k)? = u8::try_from(v).ok()?;
            k += 1;
            (v, n) = (0, 0);
        } else if c.is_ascii_digit() {
            // At most three digits, and no leading zero.
            if n == 3 || (n == 1 && v == 0) {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            n += 1;
        } else {
            return None;
        }
    }
    if k != 3 || n == 0 {
        return None;
    }
    *octets.get_mut(3)? = u8::try_from(v).ok()?;
    Some(octets)
}

/// The method, URI, Host, times and file of an exchange's request.
fn request_of(ex: &HttpExchange) -> Option<(RequestId, Times, u16)> {
    let req = ex.request.as_ref()?;
    let id = RequestId::of(req.method(), req.target(), req.headers.known(Known::Host));
    let times = Times {
        request: req.first_byte,
        response: ex.response.as_ref().map(|r| r.first_byte),
    };
    Some((id, times, req.first_pos.file))
}

/// A client and a request: the index of [`Recent`].
type RecentKey = (IpAddr, RequestId);

/// One remembered request, and the sequence number of the next one of its key.
#[derive(Clone, Debug)]
struct Slot<T> {
    key: RecentKey,
    next: Option<u64>,
    item: T,
}

/// The most recent requests (at most [`MAX_RECENT`]), indexed by client and request: a ring
/// of the requests in arrival order, each linked to the next one of its key, and per key the
/// sequence numbers of its oldest and newest (no allocation per request once full).
#[derive(Clone, Debug)]
struct Recent<T> {
    by: foldhash::HashMap<RecentKey, (u64, u64)>,
    ring: VecDeque<Slot<T>>,
    /// The sequence number of the next request pushed.
    next_seq: u64,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            by: foldhash::HashMap::default(),
            ring: VecDeque::new(),
            next_seq: 0,
        }
    }
}

impl<T> Recent<T> {
    /// The slot of sequence number `seq`, when still remembered.
    fn slot(&self, seq: u64) -> Option<&Slot<T>> {
        let first = self.next_seq - self.ring.len() as u64;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.ring.get(i)
    }

    /// The requests of `index`, oldest first.
    fn get(&self, index: &RecentKey) -> impl Iterator<Item = &T> {
        let mut seq = self.by.get(index).map(|(head, _)| *head);
        std::iter::from_fn(move || {
            let slot = self.slot(seq?)?;
            seq = slot.next;
            Some(&slot.item)
        })
    }

    fn push(&mut self, index: RecentKey, x: T) {
        if self.ring.len() >= MAX_RECENT {
            if let Some(old) = self.ring.pop_front() {
                // The oldest request overall is the oldest of its key.
                match old.next {
                    Some(next) => {
                        if let Some(e) = self.by.get_mut(&old.key) {
                            e.0 = next;
                        }
                    }
                    None => {
                        self.by.remove(&old.key);
                    }
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let first = seq - self.ring.len() as u64;
        // One lookup of the key (its entry), not a search and then an insert.
        match self.by.entry(index) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                if let Some(last) =
                    e.1.checked_sub(first)
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| self.ring.get_mut(i))
                {
                    last.next = Some(seq);
                }
                e.1 = seq;
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((seq, seq));
            }
        }
        self.ring.push_back(Slot {
            key: index,
            next: None,
            item: x,
        });
    }
}

/// When the back-end request `b` may be the front-end request `f` forwarded: the link it
/// supports and the time difference (the back file's clock minus the front file's).
fn matched(f: &FrontSeen, b: &BackSeen) -> Option<(LinkKey, i64)> {
    if f.request != b.request {
        return None;
    }
    timing(f, b, false)
}

/// True when the back-end request `b` is exactly the front-end request `f` forwarded: same
/// client (the last `X-Forwarded-For` entry), `X-Forwarded-Port` the front connection's server
/// port, same method, URI and Host, and `b` left at most [`EXACT_DELAY`] after `f` (no later
/// than its answer, when the front end was answered).
fn exact(f: &FrontSeen, b: &BackSeen) -> bool {
    let delay = b.times.request.since(f.times.request).0;
    f.request == b.request
        && f.client == b.client
        && f.server != b.node
        && b.forwarded_port == Some(f.port)
        && (0..=EXACT_DELAY.0).contains(&delay)
        && f.times.response.map_or(true, |r| b.times.request <= r)
}

/// When the HTTPS back-end request `b` may be the request inside the TLS client burst `f`:
/// same client, and the listener port it names is the TLS connection's server port (the
/// request is not readable, so timing decides).
fn matched_tls(f: &FrontSeen, b: &BackSeen) -> Option<(LinkKey, i64)> {
    if b.forwarded_port != Some(f.port) {
        return None;
    }
    timing(f, b, true)
}

/// The link a front-end and a back-end request of the same client support, and their time
/// difference, when their addresses, listener port and timing allow it.
fn timing(f: &FrontSeen, b: &BackSeen, tls: bool) -> Option<(LinkKey, i64)> {
    // The same address on both legs links nothing, but from two files (a client host's
    // capture and a target host's) it still measures their clocks.
    let same_address = f.server == b.node;
    if f.client != b.client
        || (same_address && f.file == b.file)
        || b.forwarded_port.is_some_and(|p| p != f.port)
    {
        return None;
    }
    let req = b.times.request.since(f.times.request).0;
    if req.unsigned_abs() > MAX_SKEW.0.unsigned_abs() {
        return None;
    }
    // NTP-style: the request goes front -> back, the response back -> front; the mean of the
    // two differences is the clock offset with the forwarding delays cancelled.
    let delta = match (b.times.response, f.times.response) {
        (Some(br), Some(fr)) => {
            let resp = br.since(fr).0;
            // The front end answered before the request reached the target: not this request
            // (or the front end's answer is the ALB's own, without the target's).
            if resp > req {
                return None;
            }
            req / 2 + resp / 2
        }
        _ => req,
    };
    Some((
        LinkKey {
            front: f.server,
            node: b.node,
            front_file: f.file,
            back_file: b.file,
            tls,
        },
        delta,
    ))
}

/// The largest set of back-end requests whose candidate time differences agree (within
/// [`AGREE`]), and their median difference.
#[derive(Copy, Clone, Debug)]
struct Agreement {
    support: usize,
    median: i64,
}

fn agreement(per_back: &IndexMap<u64, Vec<i64>>) -> Option<Agreement> {
    let mut all: Vec<(i64, u64)> = per_back
        .iter()
        .flat_map(|(id, ds)| ds.iter().map(move |d| (*d, *id)))
        .collect();
    all.sort_unstable();
    let width = AGREE.0.saturating_mul(2);
    let mut best: Option<(usize, u64, usize, usize)> = None; // support, |center|, start, end
    let mut end = 0;
    for start in 0..all.len() {
        let Some(&(lo, _)) = all.get(start) else {
            continue;
        };
        end = end.max(start);
        while all
            .get(end)
            .is_some_and(|(d, _)| d.saturating_sub(lo) <= width)
        {
            end += 1;
        }
        let Some(window) = all.get(start..end) else {
            continue;
        };
        let ids: BTreeSet<u64> = window.iter().map(|(_, id)| *id).collect();
        let center = lo.saturating_add(AGREE.0).unsigned_abs();
        let better = best.map_or(true, |(s, c, _, _)| {
            ids.len() > s || (ids.len() == s && center < c)
        });
        if better {
            best = Some((ids.len(), center, start, end));
        }
    }
    let (support, _, start, end) = best?;
    // One difference per back-end request (its first in the window), then their median.
    let mut chosen: Vec<i64> = Vec::new();
    let mut ids = BTreeSet::new();
    for (d, id) in all.get(start..end)? {
        if ids.insert(*id) {
            chosen.push(*d);
        }
    }
    chosen.sort_unstable();
    let median = *chosen.get(chosen.len() / 2)?;
    Some(Agreement { support, median })
}

/// Clock estimates per file from agreements between files: each file is measured against the
/// lowest-numbered file it is connected to (directly or through one other file).
fn clock_estimates(pairs: &[(LinkKey, Agreement)]) -> Vec<ClockEstimate> {
    // Best agreement per unordered file pair: offset of `b` against `a` (a < b).
    let mut by_pair: IndexMap<(u16, u16), Agreement> = IndexMap::new();
    for (k, a) in pairs {
        let (pair, ag) = if k.front_file < k.back_file {
            ((k.front_file, k.back_file), *a)
        } else {
            (
                (k.back_file, k.front_file),
                Agreement {
                    support: a.support,
                    median: a.median.saturating_neg(),
                },
            )
        };
        let e = by_pair.entry(pair).or_insert(ag);
        if ag.support > e.support {
            *e = ag;
        }
    }
    let mut files: Vec<u16> = by_pair.keys().flat_map(|(a, b)| [*a, *b]).collect();
    files.sort_unstable();
    files.dedup();
    // Breadth-first from the lowest file of each component.
    let mut offset: HashMap<u16, (u16, i64, usize)> = HashMap::new();
    for root in files.iter().copied() {
        if offset.contains_key(&root) {
            continue;
        }
        offset.insert(root, (root, 0, usize::MAX));
        let mut queue = VecDeque::from([root]);
        while let Some(f) = queue.pop_front() {
            let Some(&(_, base, base_n)) = offset.get(&f) else {
                continue;
            };
            for ((a, b), ag) in &by_pair {
                let (next, d) = if *a == f {
                    (*b, ag.median)
                } else if *b == f {
                    (*a, ag.median.saturating_neg())
                } else {
                    continue;
                };
                if offset.contains_key(&next) {
                    continue;
                }
                offset.insert(next, (root, base.saturating_add(d), base_n.min(ag.support)));
                queue.push_back(next);
            }
        }
    }
    let mut out: Vec<ClockEstimate> = offset
        .into_iter()
        .filter(|(f, (root, _, _))| f != root)
        .map(|(file, (reference, ahead, requests))| ClockEstimate {
            file,
            reference,
            ahead: Duration(ahead),
            requests,
        })
        .collect();
    out.sort_by_key(|c| c.file);
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{exch, get, hdrs, resp, t, Conn, CLIENT};
    use super::*;
    use crate::flow::Endpoint;

    const PUBLIC: &str = "52.94.133.132";
    const NODE: &str = "10.0.1.25";

    fn ep(ip: &str, port: u16) -> Endpoint {
        super::super::testutil::ep(ip, port)
    }

    /// A back-end request from the node for `CLIENT` at `ms` (in file `file`), answered 5 ms
    /// later, forwarded from listener `port` with `proto`.
    fn back(l: &mut Linking, ms: i64, file: u16, port: &str, proto: &str) {
        let key = Conn::new(1, ep(NODE, 15300), ep("10.0.2.15", 80), 0).s.key;
        let h = hdrs(&[
            ("Host", "alb.example.com"),
            ("X-Forwarded-For", CLIENT),
            ("X-Forwarded-Proto", proto),
            ("X-Forwarded-Port", port),
            (
                "X-Amzn-Trace-Id",
                "Root=1-693af491-5a6814f5635754d41bcc7a78",
            ),
        ]);
        let mut req = get(ms, &format!("/p{ms}"), h);
        req.first_pos.file = file;
        let mut r = resp(ms + 5, 200, "Apache", 10);
        r.first_pos.file = file;
        l.observe_back(&key, &exch(0, None, Some(req), Some(r)));
    }

    /// The client's TLS connection to the public address: bursts at `ms` (answered 6 ms later).
    fn tls_front(l: &mut Linking, bursts: &[i64]) {
        let key = Conn::new(2, ep(CLIENT, 40000), ep(PUBLIC, 443), 0).s.key;
        l.observe_tls_front(&key, bursts.iter().map(|ms| (t(*ms), Some(t(ms + 6)), 0)));
    }

    fn public() -> IpAddr {
        PUBLIC.parse().unwrap()
    }

    #[test]
    fn https_back_end_requests_link_the_tls_front_address_by_timing() {
        let mut l = Linking::default();
        // The target-side file's clock is 800 ms behind: each back-end request appears 799 ms
        // before the burst it carries (1 ms forwarding delay).
        for ms in [1_000, 1_500, 2_300, 4_000] {
            back(&mut l, ms - 799, 1, "443", "https");
        }
        tls_front(&mut l, &[1_000, 1_500, 2_300, 4_000]);
        l.refresh(|_| false);
        let link = l.links().next().expect("linked");
        assert_eq!(link.node, NODE.parse::<IpAddr>().unwrap());
        assert_eq!(link.front, public());
        assert_eq!(link.requests, 4);
        assert!(link.tls_timing);
        assert_eq!(link.listener_ports, BTreeSet::from([443]));
        let c = l.clocks().first().expect("clock estimate");
        assert_eq!((c.file, c.reference, c.requests), (1, 0, 4));
        // NTP-style: the request's and the response's differences averaged (-799 and -800 ms).
        assert!(
            (c.ahead.0 + 800_000_000).abs() <= 1_000_000,
            "{:?}",
            c.ahead
        );
    }

    #[test]
    fn bursts_seen_after_the_back_end_requests_and_before_link_the_same() {
        let mut a = Linking::default();
        tls_front(&mut a, &[1_000, 1_500, 2_300]);
        for ms in [1_001, 1_501, 2_301] {
            back(&mut a, ms, 0, "443", "https");
        }
        a.refresh(|_| false);
        assert_eq!(a.node_for(public()), NODE.parse().ok());
        assert!(a.clocks().is_empty());
    }

    #[test]
    fn no_tls_link_without_https_on_the_listener_port() {
        for (port, proto) in [("443", "http"), ("8443", "https"), ("", "https")] {
            let mut l = Linking::default();
            for ms in [1_001, 1_501, 2_301] {
                back(&mut l, ms, 0, port, proto);
            }
            tls_front(&mut l, &[1_000, 1_500, 2_300]);
            l.refresh(|_| false);
            assert_eq!(l.node_for(public()), None, "{port} {proto}");
        }
    }

    #[test]
    fn no_tls_link_on_too_few_or_inconsistent_requests() {
        // Two agreeing requests are not enough.
        let mut l = Linking::default();
        tls_front(&mut l, &[1_000, 1_500]);
        for ms in [1_001, 1_501] {
            back(&mut l, ms, 0, "443", "https");
        }
        l.refresh(|_| false);
        assert_eq!(l.node_for(public()), None);
        // Back-end requests at no consistent time after any burst.
        let mut l = Linking::default();
        tls_front(&mut l, &[1_000, 9_000, 20_000]);
        for ms in [1_100, 9_450, 20_900, 30_700] {
            back(&mut l, ms, 0, "443", "https");
        }
        l.refresh(|_| false);
        assert_eq!(l.node_for(public()), None);
    }

    #[test]
    fn a_node_in_its_own_right_is_never_linked_by_tls_timing() {
        let mut l = Linking::default();
        tls_front(&mut l, &[1_000, 1_500, 2_300]);
        for ms in [1_001, 1_501, 2_301] {
            back(&mut l, ms, 0, "443", "https");
        }
        l.refresh(|ip| ip == public());
        assert_eq!(l.node_for(public()), None);
    }

    const V6_CLIENT: &str = "fd00::2:10";
    const V6_FRONT: &str = "fd00::99:1";

    /// A clear-text request `GET path` from `client` to `front:80` at `ms`, and (when `delay`)
    /// the node's back-end request for it `delay` ms later, with the ALB's headers
    /// (X-Forwarded-Port `xfp`).
    fn clear_pair(
        l: &mut Linking,
        client: &str,
        front: &str,
        ms: i64,
        path: &str,
        delay: Option<i64>,
        xfp: &str,
    ) {
        let fkey = Conn::new(3, ep(client, 40061), ep(front, 80), 0).s.key;
        let freq = get(ms, path, hdrs(&[("Host", "alb.example.com")]));
        l.observe_front(
            &fkey,
            &exch(0, None, Some(freq), Some(resp(ms + 2, 200, "", 10))),
        );
        let Some(d) = delay else { return };
        let bkey = Conn::new(4, ep(NODE, 49578), ep("10.0.2.15", 8080), 0)
            .s
            .key;
        let h = hdrs(&[
            ("Host", "alb.example.com"),
            ("X-Forwarded-For", client),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", xfp),
            (
                "X-Amzn-Trace-Id",
                "Root=1-693af491-5a6814f5635754d41bcc7a78",
            ),
        ]);
        let breq = get(ms + d, path, h);
        l.observe_back(
            &bkey,
            &exch(
                0,
                None,
                Some(breq),
                Some(resp(ms + d + 1, 200, "Apache", 10)),
            ),
        );
    }

    fn v6_front() -> IpAddr {
        V6_FRONT.parse().unwrap()
    }

    #[test]
    fn one_exact_uncontested_match_links_a_dual_stack_front_address() {
        // An IPv6 front end, an IPv4 back end: one request, forwarded 0.2 ms later.
        let mut l = Linking::default();
        clear_pair(&mut l, V6_CLIENT, V6_FRONT, 1_000, "/ok", Some(0), "80");
        l.refresh(|_| false);
        let link = l.links().next().expect("linked");
        assert_eq!((link.front, link.requests), (v6_front(), 1));
        assert_eq!(link.node, NODE.parse::<IpAddr>().unwrap());
        // One exact match is no clock estimate.
        assert!(l.clocks().is_empty());
        // The same for an IPv4 client and front address.
        let mut l = Linking::default();
        clear_pair(&mut l, CLIENT, PUBLIC, 1_000, "/ok", Some(1), "80");
        l.refresh(|_| false);
        assert_eq!(l.node_for(public()), NODE.parse().ok());
    }

    #[test]
    fn an_inexact_or_contested_match_needs_three_requests() {
        // Wrong X-Forwarded-Port, or forwarded long after: not exact, one request is not enough.
        for (delay, xfp) in [(0, "8080"), (0, ""), (400, "80")] {
            let mut l = Linking::default();
            clear_pair(&mut l, V6_CLIENT, V6_FRONT, 1_000, "/ok", Some(delay), xfp);
            l.refresh(|_| false);
            assert_eq!(l.node_for(v6_front()), None, "{delay} {xfp}");
        }
        // The same client asked two front-end addresses for the same path: ambiguous.
        let mut l = Linking::default();
        clear_pair(&mut l, V6_CLIENT, "fd00::99:2", 999, "/ok", None, "80");
        clear_pair(&mut l, V6_CLIENT, V6_FRONT, 1_000, "/ok", Some(1), "80");
        l.refresh(|_| false);
        assert_eq!(l.node_for(v6_front()), None);
        // A node in its own right is never linked.
        let mut l = Linking::default();
        clear_pair(&mut l, V6_CLIENT, V6_FRONT, 1_000, "/ok", Some(0), "80");
        l.refresh(|ip| ip == v6_front());
        assert_eq!(l.node_for(v6_front()), None);
    }

    fn ag(samples: &[&[i64]]) -> Option<Agreement> {
        let mut m = IndexMap::new();
        for (i, s) in samples.iter().enumerate() {
            m.insert(i as u64, s.to_vec());
        }
        agreement(&m)
    }

    #[test]
    fn agreement_finds_the_common_difference_despite_outliers() {
        let a = ag(&[
            &[1_500_000_000, 9_000_000_000],
            &[1_501_000_000],
            &[-4_000_000_000, 1_499_000_000],
            &[7_000_000_000],
        ])
        .unwrap();
        assert_eq!(a.support, 3);
        assert_eq!(a.median, 1_500_000_000);
    }

    #[test]
    fn clock_estimates_chain_through_files() {
        let k = |f, b| LinkKey {
            front: "1.1.1.1".parse().unwrap(),
            node: "10.0.0.1".parse().unwrap(),
            front_file: f,
            back_file: b,
            tls: false,
        };
        let a = |m| Agreement {
            support: 5,
            median: m,
        };
        let c = clock_estimates(&[(k(0, 1), a(100)), (k(2, 1), a(30))]);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].file, c[0].ahead), (1, Duration(100)));
        assert_eq!((c[1].file, c[1].ahead), (2, Duration(70)));
    }
}
