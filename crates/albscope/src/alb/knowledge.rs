//! [`Knowledge`]: what the ALB layer has learned so far — node detection (strong and weak
//! evidence), connection classification (front end, back end, health check), targets and timers.

use super::cadence::{health_check_shaped, HealthCadence};
use super::candidates::{NodeCandidate, TlsPeers};
use super::coverage::{Coverage, InputSet};
use super::linking::Linking;
use super::next_connect::NextConnects;
use super::round_trip::RoundTrips;
use super::taught::{Lesson, Taught};
use super::types::{
    median, AlbConfig, BurstExchange, ConnRole, Leg, NodeEvidence, NodeInfo, RequestPath,
    TargetInfo, TimerSource, Vantage, DEFAULT_IDLE_TIMEOUT, HEALTH_CHECK_AGENT, MAX_TARGETS,
};
use crate::capture::{Duration, Timestamp};
use crate::decode::{Encap, MirrorSession};
use crate::flow::{ConnId, ConnKey, ConnSummary, Dir, Endpoint, TcpEventKind};
use crate::protocol::{ConnectionRecord, HttpExchange, Known};
use indexmap::IndexMap;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Shortest gap between a connection's last exchange and a close that is taken for an idle
/// (keep-alive) timer: no server's keep-alive timeout is shorter, and a close sooner than
/// this after an answer is the server ending that answer, or cutting it.
pub const SHORTEST_IDLE_CLOSE: Duration = Duration(500_000_000);
/// Most idle-close samples kept per target and for the ALB.
const MAX_SAMPLES: usize = 64;
/// Most addresses remembered for weak node detection.
const MAX_ADDRESSES: usize = 100_000;
/// No new weak node candidates past this many nodes, and connections of further nodes are not
/// counted per node.
pub(super) const MAX_WEAK_NODES: usize = 10_000;
/// Most mirror sessions listed per node.
pub(super) const MAX_NODE_SESSIONS: usize = 64;
/// Most mirror sessions remembered as belonging to a strong node.
const MAX_SESSION_NODES: usize = 100_000;
/// Most pieces of evidence kept per detected node.
const MAX_NODE_EVIDENCE: usize = 4;
/// Most sites (Host, listener port) remembered per address that answers clients.
const MAX_SITES_PER_ADDRESS: usize = 8;

/// Connections accepted by one address, counted while its role was not known.
#[derive(Clone, Debug, Default)]
struct ServerConns {
    connections: u64,
    ports: BTreeSet<u16>,
}

/// Connections one private opener made to one server through one mirror session, counted while
/// its role was not known.
#[derive(Clone, Debug)]
struct OpenedConns {
    server: Endpoint,
    session: MirrorSession,
    connections: u64,
    /// The inputs they came through.
    inputs: InputSet,
}

/// Most (server, session) pairs remembered per opener in [`OpenedConns`].
const MAX_OPENED_PER_ADDRESS: usize = 64;

/// Private server addresses one private opener must connect to on one port to be a (weak) ALB
/// candidate ([`NodeEvidence::OpensToSeveralTargets`]).
pub(super) const SEVERAL_TARGETS: usize = 3;

/// Public client addresses that must open TLS connections to one private address and port for
/// it to be a (weak) ALB candidate ([`NodeEvidence::AcceptsPublicTlsClients`]): one client is
/// one browser or script talking to one server; two different public addresses are a service
/// for the internet.
pub(super) const SEVERAL_PUBLIC_CLIENTS: usize = 2;
/// Most entries in [`Knowledge::learned_conns`] before it is cleared.
const MAX_LEARNED_CONNS: usize = 65_536;

/// Most ports remembered per address in [`ServerConns`].
const MAX_SERVER_PORTS: usize = 16;

/// The ALB checks each registered target from each node at most this far apart: its longest
/// health-check interval (300 s) and a margin for the 2 % a cadence's steps may drift.
pub const HEALTH_CHECK_WINDOW: Duration = Duration(310_000_000_000);
/// A health check's connection ends within this (the 10 s connect and TLS handshake
/// timeouts, the check's own timeout of at most 120 s, and a margin).
const CHECK_CLOSES_WITHIN: Duration = Duration(130_000_000_000);

/// Why a failed connect seen from the back end alone is not a health check.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NotACheck {
    /// The capture shows its node's checks of its target on a steady cadence, and it is off
    /// that cadence.
    OffCadence,
    /// The capture covers `window` on both sides of it and shows no other connection from its
    /// node to its target that could be a health check.
    NoneNearby {
        /// How far on each side.
        window: Duration,
    },
}

/// The hasher of the maps looked up per request (deterministic, no per-process seed; an
/// [`IndexMap`]'s order does not depend on it).
pub type FastHash = foldhash::fast::FixedState;

/// Everything learned about the ALB so far: nodes, targets, timers, counts.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    /// The latest capture time the ALB layer was told of (at the end: the capture's end).
    pub seen_until: Timestamp,
    /// The configuration.
    pub config: AlbConfig,
    /// ALB nodes (strong and weak candidates).
    pub nodes: IndexMap<IpAddr, NodeInfo, FastHash>,
    /// Targets (looked up for every exchange and request: a fast hasher; the order stays
    /// the order of insertion).
    pub targets: IndexMap<Endpoint, TargetInfo, FastHash>,
    /// Idle times (seconds) after which the ALB closed idle connections itself.
    pub alb_idle_closes: Vec<f64>,
    /// Mirror sessions (VXLAN/GENEVE) through which a strong node's traffic was seen, and that
    /// node: lets an address of the same ALB ENI (e.g. its IPv6 address) be attributed to it.
    session_nodes: foldhash::HashMap<MirrorSession, IpAddr>,
    /// Addresses seen accepting connections (for weak node detection).
    servers_seen: BTreeSet<IpAddr>,
    /// Addresses seen opening connections to a server in `servers_seen` ... and vice versa.
    clients_seen: BTreeSet<IpAddr>,
    /// Per private opener and server port, the private server addresses it opened connections
    /// to (at most [`SEVERAL_TARGETS`] each): an opener of several is a (weak) ALB candidate.
    opened_to: foldhash::HashMap<(IpAddr, u16), BTreeSet<IpAddr>>,
    /// Per private server address and port, the public client addresses that opened TLS
    /// connections to it (at most [`SEVERAL_PUBLIC_CLIENTS`] each).
    tls_clients: foldhash::HashMap<(IpAddr, u16), BTreeSet<IpAddr>>,
    /// (client, server, server port) of connections [`Knowledge::learn_conn`] has learned
    /// from: learning from one again changes nothing (cleared past [`MAX_LEARNED_CONNS`]).
    learned_conns: foldhash::HashSet<(IpAddr, IpAddr, u16)>,
    /// The sites (Host without port, lower case; server port) each address answered client
    /// requests for (requests without the headers an ALB adds): an address serving a site a
    /// strongly recognised node serves is another node of the same load balancer.
    sites: foldhash::HashMap<IpAddr, Vec<(String, u16)>>,
    /// Legs classified as front end.
    pub front_legs: u64,
    /// Legs classified as back end.
    pub back_legs: u64,
    /// Connections that were neither front nor back end when they were classified (some may
    /// belong to a front-end address linked later: see [`Knowledge::unlinked_other_connections`]).
    pub other_connections: u64,
    /// Connections classified as neither front nor back end, per server address: those to an
    /// address linked to a node later (its front end seen under another address) count as the
    /// node's front-end connections once it is linked ([`Knowledge::front_connections`]).
    unclassified: foldhash::HashMap<IpAddr, ServerConns>,
    /// Connections between private addresses classified as neither front nor back end, per
    /// opener: credited to the opener as back-end connections when it is recognised as a node
    /// later ([`Knowledge::credit_earlier_back_end`]).
    opened_unclassified: foldhash::HashMap<IpAddr, Vec<OpenedConns>>,
    /// Health checks seen.
    pub health_checks: u64,
    /// The span each input covers (see [`Knowledge::coverage`]).
    coverage: Coverage,
    /// The inputs that showed a front-end (client) connection (see
    /// [`Knowledge::front_captured_at`]).
    pub(super) front_inputs: InputSet,
    /// Bumped whenever a node's [`NodeInfo::back_inputs`] gains an input (front-end requests
    /// held for their node's back end are looked at again only then).
    pub(super) back_epoch: u64,
    /// Failed front-end requests decided as "back end not captured" before the end because too
    /// many waited for their node's back end, on a node whose back end the capture showed at
    /// their time after all: their verdict may have missed that no back-end attempt was made.
    pub front_legs_decided_early: u64,
    /// Legs paired before their window closed because the held legs went over
    /// [`AlbConfig::max_pending_bytes`]: their partner may have come later and been missed.
    pub legs_paired_early: u64,
    /// Unpaired back-end legs given up before [`LATE_HORIZON`](super::tracker::LATE_HORIZON)
    /// because more than [`MAX_LATE`](super::tracker::MAX_LATE) were waiting for a late (TLS)
    /// front end.
    pub late_legs_dropped: u64,
    /// Responses left unpaired whose request was sent before the capture started (no request
    /// on their connection and none lost): no request of this capture, counted apart.
    pub answered_before_capture: u64,
    /// Most bytes (estimated) held for pairing at any time.
    pub peak_pending_bytes: u64,
    /// Connections not counted per node because [`MAX_WEAK_NODES`] nodes were known.
    pub nodes_over_limit: u64,
    /// Connections to targets not tracked individually because [`MAX_TARGETS`] were known.
    pub targets_over_limit: u64,
    /// Connections through mirror sessions not listed for a node past [`MAX_NODE_SESSIONS`],
    /// or sessions not remembered past [`MAX_SESSION_NODES`].
    pub sessions_over_limit: u64,
    /// Ports of the tracked targets (classification asks for them per connection).
    target_ports: BTreeSet<u16>,
    /// Health-check-shaped connections without a readable request, per (node, target).
    pub cadence: HealthCadence,
    /// Every connection to a server that is no ALB node that may be a health check: those
    /// without a readable request (encrypted, failed, silent), readable health checks, and
    /// requests without the X-Forwarded-For every client request through the ALB carries
    /// ([`Knowledge::not_a_health_check`]).
    pub check_like: HealthCadence,
    /// The earliest connection start the ALB layer was told of (about the capture's start).
    pub seen_from: Option<Timestamp>,
    /// Handshake round trips per (opener, server): the fallback of a connection opened before
    /// the capture ([`RoundTrips::between`]).
    pub round_trips: RoundTrips,
    /// The connects to a target after it reset a request ([`NextConnects::after`]): whether
    /// it went on accepting.
    pub next_connects: NextConnects,
    /// Front-end addresses linked to nodes seen under another address, and the clock offsets
    /// between files that the linked requests show.
    pub links: Linking,
    /// The TLS connections seen, per server: the likely nodes named when none is recognised
    /// ([`Knowledge::node_candidates`]).
    pub tls_peers: TlsPeers,
    /// The plain-HTTP connections carrying requests, per server: likely nodes too
    /// ([`TlsPeers::plain_http`]).
    pub http_peers: TlsPeers,
    /// The ends of the last [`MAX_ANSWERS`] answers below 500 per server (at most
    /// [`MAX_ANSWERING`] servers): [`Knowledge::last_answer_before`].
    answers: foldhash::HashMap<IpAddr, std::collections::VecDeque<Timestamp>>,
    /// What each connection's earlier exchanges taught for good (skipped for its later ones).
    taught: Taught,
}

/// Most servers whose recent answers are remembered.
const MAX_ANSWERING: usize = 1_024;
/// Most recent answers remembered per server.
const MAX_ANSWERS: usize = 32;

impl Knowledge {
    /// Knowledge seeded from the configuration.
    pub fn new(config: AlbConfig) -> Self {
        let mut k = Knowledge {
            config: config.clone(),
            http_peers: TlsPeers::plain_http(),
            ..Knowledge::default()
        };
        for ip in &config.alb_ips {
            let n = k.node_mut(*ip);
            n.configured = true;
            n.strong = true;
            push_evidence(n, NodeEvidence::Configured);
        }
        k
    }

    /// The tracked target `ep`, added when fewer than [`MAX_TARGETS`] are tracked (`None`
    /// past that).
    pub(super) fn target_mut(&mut self, ep: Endpoint) -> Option<&mut TargetInfo> {
        if !self.targets.contains_key(&ep) {
            if self.targets.len() >= MAX_TARGETS {
                return None;
            }
            self.target_ports.insert(ep.port);
        }
        Some(self.targets.entry(ep).or_default())
    }

    /// Lists `session` for node `n` (at most [`MAX_NODE_SESSIONS`], the rest counted).
    pub(super) fn add_session(n: &mut NodeInfo, session: &MirrorSession, over: &mut u64) {
        if n.sessions.len() < MAX_NODE_SESSIONS {
            n.sessions.insert(*session);
        } else if !n.sessions.contains(session) {
            *over += 1;
        }
    }

    pub(super) fn node_mut(&mut self, ip: IpAddr) -> &mut NodeInfo {
        self.nodes.entry(ip).or_insert_with(|| NodeInfo {
            ip: Some(ip),
            ..NodeInfo::default()
        })
    }

    /// True when `ip` is an ALB node (strong evidence, or weak evidence and no strong node).
    pub fn is_alb(&self, ip: IpAddr) -> bool {
        match self.nodes.get(&ip) {
            Some(n) if n.strong => true,
            Some(_) => !self.nodes.values().any(|n| n.strong),
            None => false,
        }
    }

    /// Whether the capture has shown front-end and back-end traffic of node `node` (the
    /// front end also under the addresses linked to it): a missing leg of one of its requests
    /// is only missing from the ALB's traffic when that node's side of it is captured.
    pub fn legs_seen(&self, node: IpAddr) -> (bool, bool) {
        (self.front_seen(node), self.back_seen(node))
    }

    /// The front-end half of [`Knowledge::legs_seen`]: [`Knowledge::front_connections`]
    /// counts some (without collecting their ports).
    pub fn front_seen(&self, node: IpAddr) -> bool {
        let own = self.nodes.get(&node).map_or(0, |n| n.front_connections);
        own > 0
            || self.links.links().filter(|l| l.node == node).any(|l| {
                self.nodes.get(&l.front).map_or(0, |f| f.front_connections) > 0
                    || self.unclassified.get(&l.front).map_or(0, |u| u.connections) > 0
            })
    }

    /// The span each input covers, on the common clock (starts told before the run, each end
    /// as the reader finds it).
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// The span each input covers, to set before the run.
    pub(super) fn coverage_mut(&mut self) -> &mut Coverage {
        &mut self.coverage
    }

    /// The inputs that showed front-end (client) connections (at most
    /// [`MAX_SET_INPUTS`](super::MAX_SET_INPUTS)).
    pub fn front_inputs(&self) -> &InputSet {
        &self.front_inputs
    }

    /// The inputs that showed any node's back-end traffic.
    pub fn back_inputs(&self) -> BTreeSet<u16> {
        self.nodes
            .values()
            .flat_map(|n| n.back_inputs.iter())
            .collect()
    }

    /// When input `file` started: what it shows is captured from then on. With one input (or
    /// none told, or an input without packets) the earliest time: one capture file (one
    /// mirrored set of interfaces) shows what it shows for its whole span.
    pub fn input_start(&self, file: u16) -> Timestamp {
        self.coverage.start(file)
    }

    /// Records that input `file` showed node `n`'s back-end traffic.
    pub(super) fn back_end_in(n: &mut NodeInfo, file: u16, epoch: &mut u64) {
        if n.back_inputs.insert(file) {
            *epoch += 1;
        }
    }

    /// Whether node `node`'s back end is in the capture over `from ..= to` (a request's arrival
    /// to the ALB's answer, when a back-end attempt for it would be made): an input that showed
    /// its back-end traffic was recording over all of it. (One capture file shows a node's
    /// back end for its whole span or not at all; of several files, e.g. front and back end
    /// captured apart on two machines, started and stopped at different times, only one
    /// recording then can show an attempt made then.)
    pub fn back_captured_over(&self, node: IpAddr, from: Timestamp, to: Timestamp) -> bool {
        self.nodes
            .get(&node)
            .is_some_and(|n| n.back_inputs.covers(&self.coverage, from, to))
    }

    /// Why node `node`'s back end is not in the capture over `from ..= to`, when inputs show
    /// it at other times: their recording started after `from`, ended before `to`, or leaves
    /// a gap there. `None` when it is captured then, or never.
    pub fn back_window(
        &self,
        node: IpAddr,
        from: Timestamp,
        to: Timestamp,
    ) -> Option<super::CaptureWindow> {
        self.nodes
            .get(&node)?
            .back_inputs
            .window(&self.coverage, from, to)
    }

    /// [`Knowledge::back_captured_over`] at one time `t`.
    pub fn back_captured_at(&self, node: IpAddr, t: Timestamp) -> bool {
        self.back_captured_over(node, t, t)
    }

    /// Whether the front end is in the capture at time `t`, as far as inputs go: an input that
    /// showed front-end connections was recording then (with one input, or none counted
    /// apart, always). Which nodes' front ends it shows is [`Knowledge::front_seen`]'s.
    pub fn front_captured_at(&self, t: Timestamp) -> bool {
        self.front_inputs.is_empty() || self.front_inputs.covers(&self.coverage, t, t)
    }

    /// The back-end half of [`Knowledge::legs_seen`] (without counting the front end's
    /// connections).
    pub fn back_seen(&self, node: IpAddr) -> bool {
        self.nodes
            .get(&node)
            .is_some_and(|n| n.back_connections > 0 || n.health_checks > 0)
    }

    /// Node `node`'s front-end connections and listener ports, its linked front-end addresses'
    /// included: also the connections to such an address counted before the link was decided
    /// (as another node's, or as neither front nor back end), so the count is what a capture
    /// of the same traffic under one address gives.
    pub fn front_connections(&self, node: IpAddr) -> (u64, BTreeSet<u16>) {
        let (mut count, mut ports) = self
            .nodes
            .get(&node)
            .map(|n| (n.front_connections, n.listener_ports.clone()))
            .unwrap_or_default();
        for l in self.links.links().filter(|l| l.node == node) {
            if let Some(f) = self.nodes.get(&l.front) {
                count += f.front_connections;
                ports.extend(f.listener_ports.iter().copied());
            }
            if let Some(u) = self.unclassified.get(&l.front) {
                count += u.connections;
                ports.extend(u.ports.iter().copied());
            }
            ports.extend(l.listener_ports.iter().copied());
        }
        (count, ports)
    }

    /// Connections that are neither front nor back end, without those to an address linked
    /// to a node since they were counted (they are that node's front-end connections).
    pub fn unlinked_other_connections(&self) -> u64 {
        let linked: u64 = self
            .links
            .links()
            .filter_map(|l| self.unclassified.get(&l.front))
            .map(|u| u.connections)
            .sum();
        self.other_connections.saturating_sub(linked)
    }

    /// Counts a connection classified as neither front nor back end, under its server address.
    /// `file`: the input it came through.
    pub(super) fn count_other(&mut self, key: &ConnKey, file: u16) {
        self.other_connections += 1;
        if !self.unclassified.contains_key(&key.server.ip)
            && self.unclassified.len() >= MAX_ADDRESSES
        {
            return;
        }
        let u = self.unclassified.entry(key.server.ip).or_default();
        u.connections += 1;
        if u.ports.len() < MAX_SERVER_PORTS {
            u.ports.insert(key.server.port);
        }
        self.remember_opened(key, file);
    }

    /// Remembers an unclassified connection between private addresses under its opener (see
    /// [`Knowledge::credit_earlier_back_end`]).
    fn remember_opened(&mut self, key: &ConnKey, file: u16) {
        if !is_private(key.client.ip) || !is_private(key.server.ip) {
            return;
        }
        let ip = key.client.ip;
        if !self.opened_unclassified.contains_key(&ip)
            && self.opened_unclassified.len() >= MAX_ADDRESSES
        {
            return;
        }
        let list = self.opened_unclassified.entry(ip).or_default();
        if let Some(o) = list
            .iter_mut()
            .find(|o| o.server == key.server && o.session == key.session)
        {
            o.connections += 1;
            o.inputs.insert(file);
        } else if list.len() < MAX_OPENED_PER_ADDRESS {
            let mut inputs = InputSet::default();
            inputs.insert(file);
            list.push(OpenedConns {
                server: key.server,
                session: key.session,
                connections: 1,
                inputs,
            });
        }
    }

    /// Credits to `node`, just recognised as a node from the connections it opens, the
    /// connections it opened before (counted as neither front nor back end then): they are its
    /// back-end connections, and their servers its targets, as they would have been had it been
    /// recognised from the start (like [`Knowledge::front_connections`] for a front-end address
    /// linked late). Nothing when it does not count as an ALB node (strong evidence elsewhere).
    fn credit_earlier_back_end(&mut self, node: IpAddr) {
        if !self.is_alb(node) {
            return;
        }
        let Some(opened) = self.opened_unclassified.remove(&node) else {
            return;
        };
        for o in opened {
            if self.is_alb(o.server.ip) {
                continue;
            }
            let mut over = 0;
            let mut epoch = self.back_epoch;
            let n = self.node_mut(node);
            n.back_connections += o.connections;
            for f in o.inputs.iter() {
                Self::back_end_in(n, f, &mut epoch);
            }
            Self::add_session(n, &o.session, &mut over);
            self.back_epoch = epoch;
            self.sessions_over_limit += over;
            if self.target_mut(o.server).is_none() {
                self.targets_over_limit += o.connections;
            }
            self.other_connections = self.other_connections.saturating_sub(o.connections);
            if let Some(u) = self.unclassified.get_mut(&o.server.ip) {
                u.connections = u.connections.saturating_sub(o.connections);
            }
        }
    }

    /// Decides the links between front-end and back-end addresses from what was seen so far
    /// (see [`Linking::refresh`]).
    pub(super) fn refresh_links(&mut self) {
        let nodes = &self.nodes;
        self.links
            .refresh(|ip| nodes.get(&ip).is_some_and(sends_back_end_traffic));
    }

    /// A fingerprint of what pairing by headers reads of this knowledge besides the legs: the
    /// nodes (strong or not, listener ports, sending back-end traffic: [`Knowledge::classify`],
    /// [`Knowledge::node_of`], [`Knowledge::sends_back_end`]), the links, the mirror sessions
    /// of nodes and the target ports (sets that only grow: their sizes say when they changed).
    /// Equal fingerprints at two batches give every leg the same role and node at both.
    pub(super) fn pairing_epoch(&self) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::fast::FixedState::with_seed(0x2545_f491_4f6c_dd1d).build_hasher();
        self.nodes.len().hash(&mut h);
        for (ip, n) in &self.nodes {
            (
                ip,
                n.strong,
                n.listener_ports.len(),
                sends_back_end_traffic(n),
            )
                .hash(&mut h);
        }
        // In any order (the links are rebuilt at every refresh).
        let seed = foldhash::fast::FixedState::with_seed(0x9e37_79b9_7f4a_7c15);
        let links = self.links.links().fold(0u64, |acc, l| {
            acc.wrapping_add(seed.hash_one((l.front, l.node)))
        });
        links.hash(&mut h);
        (self.session_nodes.len(), self.target_ports.len()).hash(&mut h);
        h.finish()
    }

    /// A fingerprint of what [`Knowledge::classify`] and [`Knowledge::node_of`] read of this
    /// knowledge besides the connection: the nodes (strong or not, listener ports), the links,
    /// the mirror sessions of nodes and the target ports (sets that only grow: their sizes say
    /// when they changed; the configuration never changes). Equal fingerprints give every
    /// connection the same class and node (pairing keeps a leg's between batches on it:
    /// `pairing::LegMemo`).
    pub(super) fn roles_epoch(&self) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::fast::FixedState::with_seed(0x5851_f42d_4c95_7f2d).build_hasher();
        self.nodes.len().hash(&mut h);
        for (ip, n) in &self.nodes {
            (ip, n.strong, n.listener_ports.len()).hash(&mut h);
        }
        // In any order (the links are rebuilt at every refresh).
        let seed = foldhash::fast::FixedState::with_seed(0x9e37_79b9_7f4a_7c15);
        let links = self.links.links().fold(0u64, |acc, l| {
            acc.wrapping_add(seed.hash_one((l.front, l.node)))
        });
        (links, self.links.links().count()).hash(&mut h);
        (self.session_nodes.len(), self.target_ports.len()).hash(&mut h);
        h.finish()
    }

    /// True when `ip` is a node seen sending back-end traffic itself (requests with the ALB's
    /// headers, health checks, back-end connections): a node in its own right, never another
    /// node's front-end address.
    pub(super) fn sends_back_end(&self, ip: IpAddr) -> bool {
        self.nodes.get(&ip).is_some_and(sends_back_end_traffic)
    }

    /// The ALB idle timeout in force and where it came from.
    pub fn idle_timeout(&self) -> (Duration, TimerSource) {
        if let Some(d) = self.config.idle_timeout {
            return (d, TimerSource::Config);
        }
        if let Some(m) = median(&self.alb_idle_closes) {
            let rounded = m.round();
            // At least two closes that agree with each other.
            let agreeing = self
                .alb_idle_closes
                .iter()
                .filter(|x| (*x - m).abs() <= 0.05 * m)
                .count();
            if agreeing >= 2 && (1.0..=4000.0).contains(&rounded) && (m - rounded).abs() < 0.5 {
                return (Duration::from_secs_f64(rounded), TimerSource::Inferred);
            }
        }
        (DEFAULT_IDLE_TIMEOUT, TimerSource::Default)
    }

    /// The keep-alive timeout of a target, when the capture shows it closing idle connections.
    pub fn target_keepalive(&self, target: &Endpoint) -> Option<Duration> {
        self.targets.get(target).and_then(|t| t.keepalive_timeout())
    }

    /// The keep-alive timeout `target` announces on its responses (`Keep-Alive: timeout=N`).
    pub fn target_announced_keepalive(&self, target: &Endpoint) -> Option<Duration> {
        self.targets.get(target).and_then(|t| t.announced_keepalive)
    }

    /// Which legs the capture holds.
    pub fn vantage(&self) -> Vantage {
        match (
            self.front_legs > 0,
            self.back_legs > 0 || self.health_checks > 0,
        ) {
            (true, true) => Vantage::BothLegs,
            (false, true) => Vantage::BackEndOnly,
            (true, false) => Vantage::FrontEndOnly,
            (false, false) => Vantage::Unknown,
        }
    }

    /// The likely ALB nodes when the capture recognised none ([`Vantage::Unknown`]): the
    /// addresses of its TLS connections, and the servers of its plain-HTTP requests, that could
    /// be one, most likely first, never treated as nodes (see [`TlsPeers::candidates`]); empty
    /// when a node is recognised.
    pub fn node_candidates(&self) -> Vec<NodeCandidate> {
        if self.vantage() != Vantage::Unknown || !self.alb_nodes().is_empty() {
            return Vec::new();
        }
        let opens = |ip| self.clients_seen.contains(&ip);
        let accepts = |ip| self.servers_seen.contains(&ip);
        let mut out = self.tls_peers.candidates(opens, accepts);
        out.extend(self.http_peers.candidates(opens, accepts));
        super::candidates::rank(&mut out);
        out
    }

    /// The nodes that count as ALB nodes (see [`Knowledge::is_alb`]).
    pub fn alb_nodes(&self) -> Vec<&NodeInfo> {
        self.nodes
            .iter()
            .filter(|(ip, _)| self.is_alb(**ip))
            .map(|(_, n)| n)
            .collect()
    }

    /// Classifies a connection with what is known now. `request_agent` is the User-Agent of a
    /// request on it, if any; `unanswered` is true when the opener's SYN got no SYN-ACK (only
    /// the ALB's own connections to targets fail that way).
    pub fn classify(
        &self,
        key: &ConnKey,
        request_agent: Option<&str>,
        unanswered: bool,
    ) -> ConnRole {
        self.classify_lazy(key, || request_agent, || unanswered)
    }

    /// [`Knowledge::classify`] with the User-Agent and `unanswered` read only where they
    /// decide (pairing reads them from a leg's exchange and record, behind pointers).
    pub(super) fn classify_lazy<'a>(
        &self,
        key: &ConnKey,
        request_agent: impl Fn() -> Option<&'a str>,
        unanswered: impl Fn() -> bool,
    ) -> ConnRole {
        let cfg = &self.config;
        // Read only where it decides (a front-end connection never asks).
        let hc = || request_agent().is_some_and(health_check_agent);
        if self.is_alb(key.client.ip) && !self.is_alb(key.server.ip) {
            return if hc() {
                ConnRole::HealthCheck
            } else {
                ConnRole::BackEnd
            };
        }
        if self.is_alb(key.server.ip) && !self.is_alb(key.client.ip) {
            return ConnRole::FrontEnd;
        }
        // The address clients reach a node at, linked to it by the back end's headers.
        if self.links.node_for(key.server.ip).is_some() && !self.is_alb(key.client.ip) {
            return ConnRole::FrontEnd;
        }
        if hc() {
            return ConnRole::HealthCheck;
        }
        // Another address of a known node's ENI (same mirror session), e.g. its IPv6 address.
        if let Some(node) = self.session_nodes.get(&key.session) {
            let neither = !self.is_alb(key.client.ip) && !self.is_alb(key.server.ip);
            let target_port = self.target_ports.contains(&key.server.port);
            let listener = self
                .nodes
                .get(node)
                .is_some_and(|n| n.listener_ports.contains(&key.server.port));
            if neither && target_port && (!listener || unanswered()) {
                return ConnRole::BackEnd;
            }
            if neither && listener {
                return ConnRole::FrontEnd;
            }
        }
        if cfg.listener_ports.contains(&key.server.port) {
            return ConnRole::FrontEnd;
        }
        if cfg.target_ports.contains(&key.server.port) {
            return ConnRole::BackEnd;
        }
        ConnRole::Other
    }

    /// Learns from a request sent on connection `id` (`key`): ALB-inserted headers and health
    /// checks name the sender as an ALB node.
    ///
    /// What a request teaches, and whether a later request on the same connection can teach
    /// it anew:
    /// - its node (the client) sends the ALB's headers or health checks ([`Self::strong_node`]):
    ///   once the node is strong with that evidence and this connection's session, a later
    ///   request with the same headers adds nothing (strong nodes stay strong, their evidence
    ///   and sessions only grow): skipped per connection ([`Lesson::AlbHeaders`],
    ///   [`Lesson::HealthChecks`]). A later request with the other kind of headers is learned.
    /// - the link evidence (client, request and times, [`Linking`]): new with every request,
    ///   never skipped.
    /// - the site its Host names ([`Self::learn_site`]): a later request may name another:
    ///   never skipped.
    /// - an answered client request makes its server a (weak) node
    ///   ([`NodeEvidence::AnswersClients`]) unless it is one already: once the server is a
    ///   node (nodes are never removed) skipped per connection ([`Lesson::ServerIsNode`]).
    ///
    /// `learning_per_request` (a test) turns the skipping off: results must not change.
    pub(super) fn learn_request(&mut self, id: ConnId, key: &ConnKey, ex: &HttpExchange) {
        let Some(req) = &ex.request else { return };
        let reason = if req
            .headers
            .known(Known::UserAgent)
            .is_some_and(health_check_agent)
        {
            Some(NodeEvidence::SendsHealthChecks)
        } else if req.headers.known(Known::XAmznTraceId).is_some()
            && req.headers.known(Known::XForwardedFor).is_some()
        {
            Some(NodeEvidence::SendsAlbHeaders)
        } else {
            None
        };
        if reason == Some(NodeEvidence::SendsAlbHeaders) {
            self.links.observe_back(key, ex);
        } else if reason.is_none() && req.headers.known(Known::XAmznTraceId).is_none() {
            self.links.observe_front(key, ex);
        }
        // An answer whose status line is readable counts, even when the rest of it is not
        // (a truncating mirror cuts it short).
        let answered = ex.response.is_some()
            || ex
                .response_error
                .as_ref()
                .is_some_and(|e| e.status.is_some());
        if let Some(reason) = reason {
            let lesson = if reason == NodeEvidence::SendsHealthChecks {
                Lesson::HealthChecks
            } else {
                Lesson::AlbHeaders
            };
            self.strong_node_once(id, key, key.client.ip, reason, lesson);
        } else if answered {
            if let Some(host) = req.headers.known(Known::Host) {
                self.learn_site(key, host);
            }
            // A client's own request, answered: its server is the ALB when the capture holds
            // the front end only (weak: any strong node elsewhere overrides it).
            if !self.taught.has(id, key, Lesson::ServerIsNode) {
                let ip = key.server.ip;
                if !self.nodes.contains_key(&ip) && self.nodes.len() < MAX_WEAK_NODES {
                    let n = self.node_mut(ip);
                    push_evidence(n, NodeEvidence::AnswersClients);
                }
                if self.nodes.contains_key(&ip) {
                    self.taught.set(id, key, Lesson::ServerIsNode);
                }
            }
        }
    }

    /// [`Self::learn_conn`] once per connection `id` ([`Lesson::Conn`]: it is idempotent).
    #[inline]
    pub(super) fn learn_conn_once(&mut self, id: ConnId, key: &ConnKey) {
        if !self.taught.has(id, key, Lesson::Conn) {
            self.learn_conn(key);
            self.taught.set(id, key, Lesson::Conn);
        }
    }

    /// [`Self::strong_node`], skipped when connection `id` taught it for good already
    /// (`lesson`); noted as taught once it holds.
    #[inline]
    fn strong_node_once(
        &mut self,
        id: ConnId,
        key: &ConnKey,
        ip: IpAddr,
        evidence: NodeEvidence,
        lesson: Lesson,
    ) {
        if self.taught.has(id, key, lesson) {
            return;
        }
        self.strong_node(key, ip, evidence);
        if self.knows_strong(key, ip, evidence) {
            self.taught.set(id, key, lesson);
        }
    }

    /// Learns from a request head cut short after the forwarding headers an ALB adds: its
    /// sender is a (weak) ALB node candidate ([`NodeEvidence::ForwardsCutShort`]).
    pub(super) fn learn_forwarded_cut_short(&mut self, key: &ConnKey) {
        let ip = key.client.ip;
        // Sent to an address taken for a node: a proxy in front of the ALB, not a node.
        let to_node = self.nodes.contains_key(&key.server.ip);
        if to_node || (!self.nodes.contains_key(&ip) && self.nodes.len() >= MAX_WEAK_NODES) {
            return;
        }
        let n = self.node_mut(ip);
        if !n.strong {
            push_evidence(n, NodeEvidence::ForwardsCutShort);
        }
    }

    /// Remembers that `key.server` answered a client's request for `host`; when that makes it
    /// share a site with a strongly recognised node, it is another node of that load balancer
    /// (and when it is such a node, so are the addresses sharing its sites).
    fn learn_site(&mut self, key: &ConnKey, host: &str) {
        let host = host.trim();
        // The last ':' found by `memrchr` (an ASCII byte: a character boundary).
        let colon = memchr::memrchr(b':', host.as_bytes());
        let name = match colon.and_then(|i| Some((host.get(..i)?, host.get(i + 1..)?))) {
            // `name:port` (an IPv6 literal keeps its brackets)
            Some((n, p)) if !n.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        };
        let port = key.server.port;
        let ip = key.server.ip;
        if name.is_empty() || (!self.sites.contains_key(&ip) && self.sites.len() >= MAX_ADDRESSES) {
            return;
        }
        let known = self.sites.entry(ip).or_default();
        // Compared without the lower-case copy: a site once known costs no allocation.
        let seen = known
            .iter()
            .any(|(n, p)| *p == port && n.eq_ignore_ascii_case(name));
        if seen || known.len() >= MAX_SITES_PER_ADDRESS {
            return;
        }
        known.push((name.to_ascii_lowercase(), port));
        self.link_same_site(ip);
    }

    /// True when addresses `a` and `b` answered clients for a common site.
    fn share_site(&self, a: IpAddr, b: IpAddr) -> bool {
        match (self.sites.get(&a), self.sites.get(&b)) {
            (Some(x), Some(y)) => x.iter().any(|s| y.contains(s)),
            _ => false,
        }
    }

    /// Makes the addresses that share a site with a strongly recognised node strong nodes
    /// ([`NodeEvidence::ServesSameSite`]): `ip` itself when it shares one with a strong node,
    /// and, when `ip` is strong, every weak candidate sharing one with it. Never a known target
    /// (the ALB forwards the client's Host to it).
    fn link_same_site(&mut self, ip: IpAddr) {
        let is_target = |k: &Self, a: IpAddr| k.targets.keys().any(|t| t.ip == a);
        let strong = |k: &Self, a: IpAddr| k.nodes.get(&a).is_some_and(|n| n.strong);
        let mut promote: Vec<IpAddr> = Vec::new();
        if strong(self, ip) {
            promote.extend(
                self.sites
                    .keys()
                    .copied()
                    .filter(|a| *a != ip && !strong(self, *a) && self.share_site(ip, *a)),
            );
        } else if self
            .nodes
            .iter()
            .any(|(a, n)| n.strong && self.share_site(ip, *a))
        {
            promote.push(ip);
        }
        for a in promote {
            if is_target(self, a)
                || (!self.nodes.contains_key(&a) && self.nodes.len() >= MAX_WEAK_NODES)
            {
                continue;
            }
            let n = self.node_mut(a);
            n.evidence.clear();
            n.strong = true;
            push_evidence(n, NodeEvidence::ServesSameSite);
        }
    }

    /// True when `ip` is a strong node with `evidence`, listed with `key`'s session (and the
    /// session mapped to a node): [`Self::strong_node`] has nothing to add then, and every
    /// part of it stays true for the rest of the run.
    fn knows_strong(&self, key: &ConnKey, ip: IpAddr, evidence: NodeEvidence) -> bool {
        self.nodes.get(&ip).is_some_and(|n| {
            n.strong && n.evidence.contains(&evidence) && n.sessions.contains(&key.session)
        }) && (key.session.encap == Encap::None || self.session_nodes.contains_key(&key.session))
    }

    fn strong_node(&mut self, key: &ConnKey, ip: IpAddr, evidence: NodeEvidence) {
        // Nearly every request of a node says what is known already: nothing to add.
        if self.knows_strong(key, ip, evidence) {
            return;
        }
        let mut over = 0;
        let n = self.node_mut(ip);
        let newly = !n.strong;
        if !n.strong {
            // Weak guesses are moot once there is real evidence.
            n.evidence.clear();
        }
        n.strong = true;
        Self::add_session(n, &key.session, &mut over);
        push_evidence(n, evidence);
        self.sessions_over_limit += over;
        if newly {
            self.link_same_site(ip);
        }
        if key.session.encap != Encap::None && !self.session_nodes.contains_key(&key.session) {
            if self.session_nodes.len() < MAX_SESSION_NODES {
                self.session_nodes.insert(key.session, ip);
            } else {
                self.sessions_over_limit += 1;
            }
        }
    }

    /// The ALB node a connection belongs to in `role`: the ALB-side address, or the node whose
    /// mirror session it came through when that address is another one of the node's.
    pub fn node_of(&self, key: &ConnKey, role: ConnRole) -> IpAddr {
        let ip = match role {
            ConnRole::FrontEnd => key.server.ip,
            _ => key.client.ip,
        };
        if role == ConnRole::FrontEnd {
            if let Some(node) = self.links.node_for(ip) {
                return node;
            }
        }
        if self.is_alb(ip) {
            return ip;
        }
        self.session_nodes.get(&key.session).copied().unwrap_or(ip)
    }

    /// Learns from the client application-data bursts of a TLS connection (known at its
    /// close): evidence for linking its server address to a node (see
    /// [`Linking::observe_tls_front`]). Connections a node opened are back-end ones: skipped.
    pub(super) fn learn_tls_front(&mut self, key: &ConnKey, bursts: &[BurstExchange]) {
        if bursts.is_empty() || self.is_alb(key.client.ip) {
            return;
        }
        self.links.observe_tls_front(
            key,
            bursts.iter().map(|b| {
                (
                    b.request.first,
                    b.response.as_ref().map(|r| r.first),
                    b.request.first_pos.file,
                )
            }),
        );
    }

    /// Learns from a connection's existence: an address that both accepts connections and opens
    /// connections to others is a (weak) ALB candidate.
    pub(super) fn learn_conn(&mut self, key: &ConnKey) {
        // Idempotent: the sets only grow, and an address becoming both a server and a client
        // is looked at by the call that completes it.
        let conn = (key.client.ip, key.server.ip, key.server.port);
        if self.learned_conns.contains(&conn) {
            return;
        }
        if self.learned_conns.len() >= MAX_LEARNED_CONNS {
            self.learned_conns.clear();
        }
        self.learned_conns.insert(conn);
        if self.servers_seen.len() < MAX_ADDRESSES {
            self.servers_seen.insert(key.server.ip);
        }
        if self.clients_seen.len() < MAX_ADDRESSES {
            self.clients_seen.insert(key.client.ip);
        }
        self.learn_opener(key);
        for ip in [key.server.ip, key.client.ip] {
            if self.servers_seen.contains(&ip)
                && self.clients_seen.contains(&ip)
                && !self.nodes.contains_key(&ip)
                && self.nodes.len() < MAX_WEAK_NODES
            {
                let n = self.node_mut(ip);
                push_evidence(n, NodeEvidence::AcceptsAndOpens);
            }
        }
    }

    /// Learns from who opens connections to whom: a private address that opens connections to
    /// [`SEVERAL_TARGETS`] private servers on the same port is a (weak) ALB candidate (a node
    /// spreading requests over a target group, e.g. a TLS-only back end without keys). One
    /// client talking to one or two servers is not: any HTTPS client does that.
    fn learn_opener(&mut self, key: &ConnKey) {
        if !is_private(key.client.ip) || !is_private(key.server.ip) {
            return;
        }
        let slot = (key.client.ip, key.server.port);
        if !self.opened_to.contains_key(&slot) && self.opened_to.len() >= MAX_ADDRESSES {
            return;
        }
        let servers = self.opened_to.entry(slot).or_default();
        if servers.len() >= SEVERAL_TARGETS || !servers.insert(key.server.ip) {
            return;
        }
        if servers.len() == SEVERAL_TARGETS
            && !self.nodes.contains_key(&key.client.ip)
            && self.nodes.len() < MAX_WEAK_NODES
        {
            let n = self.node_mut(key.client.ip);
            push_evidence(n, NodeEvidence::OpensToSeveralTargets);
            self.credit_earlier_back_end(key.client.ip);
        }
    }

    /// Learns from a TLS connection (known at its close): a private address accepting TLS
    /// connections on one port from [`SEVERAL_PUBLIC_CLIENTS`] public clients is a (weak) ALB
    /// candidate, the front end of an internet-facing node seen from the clients (no keys:
    /// nothing of the requests is readable). The targets' side never looks like that: there
    /// the openers are the ALB's private addresses. Its connections counted before are credited
    /// to it as front-end connections.
    pub(super) fn learn_tls_server(&mut self, key: &ConnKey) {
        if is_private(key.client.ip) || !is_private(key.server.ip) {
            return;
        }
        let slot = (key.server.ip, key.server.port);
        if !self.tls_clients.contains_key(&slot) && self.tls_clients.len() >= MAX_ADDRESSES {
            return;
        }
        let clients = self.tls_clients.entry(slot).or_default();
        if clients.len() >= SEVERAL_PUBLIC_CLIENTS || !clients.insert(key.client.ip) {
            return;
        }
        let ip = key.server.ip;
        if clients.len() < SEVERAL_PUBLIC_CLIENTS
            || self.nodes.contains_key(&ip)
            || self.nodes.len() >= MAX_WEAK_NODES
        {
            return;
        }
        let n = self.node_mut(ip);
        push_evidence(n, NodeEvidence::AcceptsPublicTlsClients);
        self.credit_earlier_front_end(ip);
    }

    /// Credits to `node`, just recognised as a node from the connections it accepts, the
    /// connections to it counted before as neither front nor back end: they are its front-end
    /// connections (nothing when it does not count as an ALB node).
    fn credit_earlier_front_end(&mut self, node: IpAddr) {
        if !self.is_alb(node) {
            return;
        }
        let Some(u) = self.unclassified.remove(&node) else {
            return;
        };
        self.other_connections = self.other_connections.saturating_sub(u.connections);
        let n = self.node_mut(node);
        n.front_connections += u.connections;
        n.listener_ports.extend(u.ports);
    }

    /// Learns timers and server facts from a closed connection.
    pub(super) fn learn_closed(&mut self, rec: &ConnectionRecord) {
        let key = rec.tcp.key;
        self.learn_failed_connect(rec);
        self.learn_cadence(rec);
        self.next_connects.learn(rec);
        // Any connection opened in the capture without a readable request may be a health
        // check (its requests, when readable, were seen by `learn_check_request`).
        let requests = rec.finished_exchanges as usize + rec.unfinished.len();
        if rec.tcp.saw_syn && requests == 0 && !self.is_alb(key.server.ip) {
            self.check_like
                .record(key.client.ip, key.client.port, key.server, rec.tcp.start);
        }
        if let Some(split) = rec.tcp.handshake_split() {
            self.round_trips.record(key.client.ip, key.server, split);
        }
        if !rec.unfinished.is_empty() {
            return;
        }
        let Some(last_end) = rec.last_exchange_end else {
            return;
        };
        // The last response said the connection ends after it (`Connection: close`, HTTP/1.0
        // without keep-alive): whoever closes it then honours that, whenever; no idle timer.
        if rec.last_response_closes {
            return;
        }
        let first_fin =
            rec.tcp.events.iter().find(|e| {
                matches!(e.kind, TcpEventKind::Fin | TcpEventKind::Rst) && e.ts >= last_end
            });
        let Some(fin) = first_fin else { return };
        let idle = fin.ts.since(last_end).as_secs_f64();
        if idle < SHORTEST_IDLE_CLOSE.as_secs_f64() {
            return;
        }
        let alb_client = self.is_alb(key.client.ip);
        let alb_server = self.is_alb(key.server.ip);
        match (fin.dir, alb_client, alb_server) {
            // The target (server of a back-end connection) closed it after idling. A tunnel's
            // close (a WebSocket session ending) is the application's, not a keep-alive timer.
            (Dir::ToClient, true, false)
                if matches!(fin.kind, TcpEventKind::Fin) && rec.tunnel_since.is_none() =>
            {
                if let Some(t) = self.target_mut(key.server) {
                    push_sample(&mut t.idle_closes, idle);
                }
            }
            // The ALB closed an idle connection (back end as client, or front end as server).
            (Dir::ToServer, true, false) | (Dir::ToClient, false, true) => {
                push_sample(&mut self.alb_idle_closes, idle);
            }
            _ => {}
        }
    }

    /// Remembers a health-check-shaped connection that carried no readable request; once it is
    /// on a steady interval, its opener is a (weak) ALB node candidate.
    fn learn_cadence(&mut self, rec: &ConnectionRecord) {
        let exchanges = rec.finished_exchanges as usize + rec.unfinished.len();
        if !health_check_shaped(&rec.tcp, rec.tls.as_ref(), exchanges) {
            return;
        }
        let key = rec.tcp.key;
        self.cadence
            .record(key.client.ip, key.client.port, key.server, rec.tcp.start);
        if !self.nodes.contains_key(&key.client.ip)
            && self.nodes.len() < MAX_WEAK_NODES
            && self
                .cadence
                .on_cadence(key.client.ip, key.client.port, key.server, rec.tcp.start)
        {
            let n = self.node_mut(key.client.ip);
            push_evidence(n, NodeEvidence::HealthCheckCadence);
        }
    }

    /// True when a back-end leg that carries no readable request is a health check by its
    /// behaviour: a health-check-shaped connection on a steady interval from its node to its
    /// target (HTTPS target groups, failed or refused health-check connects). The one rule for
    /// health checks by cadence: pairing asks it with what is known so far, and once the capture
    /// has ended (every connection recorded) it decides the back-end-only legs held for it
    /// ([`Knowledge::may_be_cadence_check`]).
    pub fn health_check_by_cadence(&self, leg: &Leg) -> bool {
        if leg.exchange.is_some() {
            return false;
        }
        let Some(rec) = &leg.record else {
            return false;
        };
        let key = leg.conn.key;
        health_check_shaped(&rec.tcp, rec.tls.as_ref(), rec.finished_exchanges as usize)
            && self
                .cadence
                .on_cadence(key.client.ip, key.client.port, key.server, rec.tcp.start)
    }

    /// Learns from an exchange a node sent on a connection opened in the capture (`opened`,
    /// its SYN seen): a readable health check is one start of its node's checks of the
    /// target (the cadence), and a request without X-Forwarded-For (which every client
    /// request through the ALB carries), or not readable, may be one
    /// ([`Knowledge::check_like`]).
    pub(super) fn learn_check_request(
        &mut self,
        key: &ConnKey,
        opened: Timestamp,
        ex: &HttpExchange,
    ) {
        if !self.is_alb(key.client.ip) || self.is_alb(key.server.ip) {
            return;
        }
        let (node, port, target) = (key.client.ip, key.client.port, key.server);
        let headers = ex.request.as_ref().map(|r| &r.headers);
        let check = headers
            .and_then(|h| h.known(Known::UserAgent))
            .is_some_and(health_check_agent);
        if check {
            self.cadence.record(node, port, target, opened);
        }
        // A request not readable (lost) may be a check as well.
        if headers
            .and_then(|h| h.known(Known::XForwardedFor))
            .is_none()
        {
            self.check_like.record(node, port, target, opened);
        }
    }

    /// True when a back-end leg that carried no readable request may be a health check that
    /// the capture cannot show as one: not on a cadence
    /// ([`Knowledge::health_check_by_cadence`]), and not shown to be no check
    /// ([`Knowledge::not_a_health_check`]).
    pub fn may_be_unseen_health_check(&self, leg: &Leg) -> bool {
        !self.health_check_by_cadence(leg) && self.not_a_health_check(leg).is_none()
    }

    /// Why a back-end leg that carried no readable request and is on no cadence is not a
    /// health check, when the capture shows it: its node's checks of its target show a cadence
    /// elsewhere (fewer than the chain needs: none), and one check per interval leaves none
    /// off it; or the capture covers [`HEALTH_CHECK_WINDOW`] on both sides of it and shows no
    /// other connection from its node to its target that could be a check, where the ALB
    /// checks each registered target from each node at most 300 s apart, healthy or not.
    pub fn not_a_health_check(&self, leg: &Leg) -> Option<NotACheck> {
        let key = leg.conn.key;
        let (node, target) = (key.client.ip, key.server);
        if self.cadence.has_cadence(node, target) {
            return Some(NotACheck::OffCadence);
        }
        let rec = leg.record.as_ref()?;
        if !rec.tcp.saw_syn {
            return None;
        }
        let start = rec.tcp.start;
        let w = HEALTH_CHECK_WINDOW;
        let before = self.seen_from.is_some_and(|f| start.since(f).0 >= w.0);
        // The next check's connection must have closed (and been recorded) in the capture
        // too: a check ends within the connect or TLS timeout.
        let after = self.seen_until.since(start).0 >= w.0.saturating_add(CHECK_CLOSES_WITHIN.0);
        let alone = self
            .check_like
            .alone_within(node, key.client.port, target, start, w);
        (before && after && alone == Some(true)).then_some(NotACheck::NoneNearby { window: w })
    }

    /// True when a path paired without a front end may still turn out a health check by
    /// cadence once more of the capture is known: a back-end leg without a readable request,
    /// either a bare connection attempt or one TLS exchange on a connection of its own (health
    /// checks over TLS). Such paths wait for the end of the capture, where
    /// [`Knowledge::health_check_by_cadence`] decides them.
    pub fn may_be_cadence_check(path: &RequestPath) -> bool {
        let Some(b) = path.back.as_ref() else {
            return false;
        };
        if path.front.is_some() || b.exchange.is_some() {
            return false;
        }
        match &b.burst {
            None => true,
            Some(_) => {
                b.index() == 0
                    && b.record
                        .as_ref()
                        .and_then(|r| r.tls.as_ref())
                        .is_some_and(|t| t.bursts.len() <= 2 && t.bursts_dropped == 0)
            }
        }
    }

    /// True when `path`'s back-end request on a reused connection (or one opened before the
    /// capture) got no answer and its target reset the connection: its verdict may rest on the
    /// connects to that target after the reset ([`NextConnects::after`]), so the diagnosis
    /// waits for the end of the capture.
    pub fn awaits_next_connect(path: &RequestPath) -> bool {
        let Some(b) = path.back.as_ref() else {
            return false;
        };
        let unanswered = b
            .exchange
            .as_ref()
            .is_some_and(|e| e.request.is_some() && e.response.is_none());
        unanswered
            && b.record.as_ref().is_some_and(|r| {
                (b.index() > 0 || !r.tcp.saw_syn)
                    && r.tcp
                        .events
                        .iter()
                        .any(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Rst))
            })
    }

    /// With no ALB traffic recognised otherwise (e.g. a target-ENI capture holding only a
    /// failing connect or TLS handshake), the opener of a connection that never got going is
    /// taken for an ALB node, weakly: strong evidence anywhere else overrides it.
    fn learn_failed_connect(&mut self, rec: &ConnectionRecord) {
        if rec.finished_exchanges > 0 || !rec.unfinished.is_empty() || !rec.tcp.saw_syn {
            return;
        }
        let ev = &rec.tcp.events;
        let first_synack = ev
            .iter()
            .find(|e| matches!(e.kind, TcpEventKind::SynAck { .. }))
            .map(|e| e.ts);
        let syn_after_synack = first_synack.is_some_and(|sa| {
            ev.iter()
                .any(|e| matches!(e.kind, TcpEventKind::Syn { .. }) && e.ts > sa)
        });
        let refused = first_synack.is_none()
            && ev.iter().any(|e| {
                e.dir == Dir::ToClient
                    && matches!(e.kind, TcpEventKind::Rst | TcpEventKind::Icmp(_))
            });
        let retried = first_synack.is_none()
            && ev.iter().any(|e| {
                matches!(
                    e.kind,
                    TcpEventKind::Syn {
                        retransmission: true
                    }
                )
            });
        // The opener's TLS ClientHello got no session (alert, close, reset or no answer).
        let tls_failed = rec
            .tls
            .as_ref()
            .is_some_and(|t| t.client_hello.is_some() && t.established.is_none());
        // A connection to a known node's listener is a client's, whatever became of it.
        let server = rec.tcp.key.server;
        let node = self.nodes.get(&server.ip);
        let to_listener = (self.config.alb_ips.contains(&server.ip) || node.is_some())
            && (self.config.listener_ports.contains(&server.port)
                || node.is_some_and(|n| n.listener_ports.contains(&server.port)));
        if !(syn_after_synack || refused || retried || tls_failed)
            || to_listener
            || self.nodes.contains_key(&rec.tcp.key.client.ip)
            || self.nodes.len() >= MAX_WEAK_NODES
        {
            return;
        }
        let n = self.node_mut(rec.tcp.key.client.ip);
        push_evidence(n, NodeEvidence::OpenedFailedConnect);
    }

    /// When the last answer below 500 that `server` sent before `t` ended, as far as the
    /// capture shows; `None` when it shows none, or when the answers remembered all end
    /// after `t` (older ones forgotten: not known).
    pub fn last_answer_before(&self, server: IpAddr, t: Timestamp) -> Option<Timestamp> {
        let ends = self.answers.get(&server)?;
        let before = ends.iter().copied().filter(|e| *e < t).max();
        if before.is_none() && ends.len() >= MAX_ANSWERS {
            return None;
        }
        before
    }

    /// Remembers when an answer below 500 from `server` ended.
    fn remember_answer(&mut self, server: IpAddr, end: Timestamp) {
        if !self.answers.contains_key(&server) && self.answers.len() >= MAX_ANSWERING {
            return;
        }
        let ends = self.answers.entry(server).or_default();
        if ends.len() >= MAX_ANSWERS {
            ends.pop_front();
        }
        ends.push_back(end);
    }

    /// Learns from the response of an exchange on connection `id` (`key`): an `awselb` answer
    /// names its server a node (once per connection, as in [`Self::learn_request`]); answer
    /// times and the target's banner, announced keep-alive and the like (per response: a
    /// later one may differ).
    pub(super) fn learn_response(&mut self, id: ConnId, key: &ConnKey, ex: &HttpExchange) {
        const AWSELB: NodeEvidence = NodeEvidence::AnswersAsAwselb;
        // The Server header of an answer cut short still names it when its line is whole.
        let partial_awselb = ex
            .response_error
            .as_ref()
            .and_then(|e| e.server())
            .is_some_and(|s| s.starts_with("awselb"));
        let Some(resp) = &ex.response else {
            if partial_awselb {
                self.strong_node_once(id, key, key.server.ip, AWSELB, Lesson::Awselb);
            }
            return;
        };
        if resp
            .headers
            .known(Known::Server)
            .is_some_and(|s| s.starts_with("awselb"))
        {
            self.strong_node_once(id, key, key.server.ip, AWSELB, Lesson::Awselb);
        }
        if resp.status < 500 {
            let end = resp.complete.unwrap_or(resp.headers_done);
            self.remember_answer(key.server.ip, end);
        }
        if !self.is_alb(key.client.ip) {
            return;
        }
        let Some(t) = self.target_mut(key.server) else {
            return;
        };
        // Compared first: a target answers with the same banner every time (no copy then).
        if let Some(s) = resp.headers.known(Known::Server) {
            if t.server.as_deref() != Some(s) {
                t.server = Some(s.to_string());
            }
        }
        if let Some(s) = resp.headers.known(Known::XPoweredBy) {
            if t.powered_by.as_deref() != Some(s) {
                t.powered_by = Some(s.to_string());
            }
        }
        if let Some(k) = resp.announced_keepalive() {
            t.announced_keepalive = Some(k);
        }
    }
}

/// True when the connection's opener sent a SYN and no SYN-ACK came back.
pub fn unanswered(tcp: &ConnSummary) -> bool {
    tcp.saw_syn
        && !tcp
            .events
            .iter()
            .any(|e| matches!(e.kind, TcpEventKind::SynAck { .. }))
}

fn push_evidence(n: &mut NodeInfo, e: NodeEvidence) {
    if n.evidence.len() < MAX_NODE_EVIDENCE && !n.evidence.contains(&e) {
        n.evidence.push(e);
    }
}

fn push_sample(v: &mut Vec<f64>, x: f64) {
    if v.len() >= MAX_SAMPLES {
        v.remove(0);
    }
    v.push(x);
}

/// True when the node was seen sending back-end traffic (see [`Knowledge::sends_back_end`]).
fn sends_back_end_traffic(n: &NodeInfo) -> bool {
    n.back_connections > 0
        || n.health_checks > 0
        || n.evidence.contains(&NodeEvidence::SendsAlbHeaders)
        || n.evidence.contains(&NodeEvidence::SendsHealthChecks)
}

/// True for an address a VPC hands out privately: IPv4 private ranges (RFC 1918) and IPv6
/// unique local addresses (fc00::/7). Global IPv6 VPC addresses cannot be told apart: false.
pub(super) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => v6.octets()[0] & 0xfe == 0xfc,
    }
}

/// True when a User-Agent names the ALB's health checker (contains [`HEALTH_CHECK_AGENT`]):
/// its first byte found with `memchr`, the rest compared there (no searcher built per call).
fn health_check_agent(ua: &str) -> bool {
    let (hay, needle) = (ua.as_bytes(), HEALTH_CHECK_AGENT.as_bytes());
    let Some((&first, _)) = needle.split_first() else {
        return true;
    };
    memchr::memchr_iter(first, hay).any(|i| hay.get(i..).is_some_and(|t| t.starts_with(needle)))
}
