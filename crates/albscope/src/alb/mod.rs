//! ALB layer: finds the ALB nodes, classifies connections as front end (client -> ALB) or back
//! end (ALB -> target), recognises health checks, and pairs each front-end request with the
//! back-end attempt that served it.
//!
//! [`AlbTracker`] is the [`AppSink`] (and [`Clock`]) the pipeline feeds. It keeps only a time
//! window of not-yet-paired request legs (see [`AlbConfig::window`]): when the capture clock has
//! moved past a leg by more than the window, the leg is paired (or declared unpaired, with a note)
//! and handed to a [`PathSink`] as a [`RequestPath`]. Memory therefore grows with the number of
//! requests in flight inside that window, not with the length of the capture.

mod pairing;
pub(crate) use pairing::health_check;
mod size;

use crate::capture::{Duration, PacketPos, Timestamp};
use crate::decode::{Encap, MirrorSession};
use crate::flow::{ConnId, ConnKey, ConnSummary, Dir, Endpoint, TcpEventKind};
use crate::pipeline::Clock;
use crate::protocol::{
    header, AppKind, AppSink, ConnContext, ConnectionRecord, HttpExchange, TlsBurst, TlsInfo,
};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Default ALB idle timeout (the ALB attribute `idle_timeout.timeout_seconds`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration(60_000_000_000);
/// The ALB's back-end TCP connect timeout (fixed by AWS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration(10_000_000_000);
/// The ALB's back-end TLS handshake timeout (fixed by AWS).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration(10_000_000_000);
/// The `User-Agent` of ALB health checks.
pub const HEALTH_CHECK_AGENT: &str = "ELB-HealthChecker";

/// Most idle-close samples kept per target and for the ALB.
const MAX_SAMPLES: usize = 64;
/// How long an unpaired back-end leg waits for a late (TLS) front end: the ALB's default client
/// keep-alive duration (3600 s) plus a margin.
const LATE_HORIZON: Duration = Duration(3_700_000_000_000);
/// Most back-end legs waiting for a late front end.
const MAX_LATE: usize = 20_000;
/// Default budget for held legs and connection records ([`AlbConfig::max_pending_bytes`]).
pub const DEFAULT_MAX_PENDING_BYTES: usize = 256 << 20;
/// Most addresses remembered for weak node detection.
const MAX_ADDRESSES: usize = 100_000;
/// No new weak node candidates past this many nodes, and connections of further nodes are not
/// counted per node.
const MAX_WEAK_NODES: usize = 10_000;
/// Most targets tracked individually (server banner, keep-alive samples, health checks).
pub const MAX_TARGETS: usize = 10_000;
/// Most mirror sessions listed per node.
const MAX_NODE_SESSIONS: usize = 64;
/// Most mirror sessions remembered as belonging to a strong node.
const MAX_SESSION_NODES: usize = 100_000;
/// Most pieces of evidence kept per detected node.
const MAX_NODE_EVIDENCE: usize = 4;

/// What the user told us about the ALB, and its timers.
#[derive(Clone, Debug)]
pub struct AlbConfig {
    /// ALB node private addresses given by the user (added to the detected ones).
    pub alb_ips: Vec<IpAddr>,
    /// Listener ports (client -> ALB) given by the user.
    pub listener_ports: Vec<u16>,
    /// Target ports (ALB -> target) given by the user.
    pub target_ports: Vec<u16>,
    /// ALB idle timeout when set by the user; `None` infers it from the capture (default 60 s).
    pub idle_timeout: Option<Duration>,
    /// Back-end connect timeout (10 s on AWS).
    pub connect_timeout: Duration,
    /// Most bytes (estimated) that legs waiting to be paired, and the connection records they
    /// need, may hold. Past it the oldest legs are paired before their window closes (counted in
    /// [`Knowledge::legs_paired_early`]).
    pub max_pending_bytes: usize,
}

impl Default for AlbConfig {
    fn default() -> Self {
        AlbConfig {
            alb_ips: Vec::new(),
            listener_ports: Vec::new(),
            target_ports: Vec::new(),
            idle_timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
        }
    }
}

impl AlbConfig {
    /// How long an unpaired leg is held: connect timeout + idle timeout + 30 s margin.
    pub fn window(&self) -> Duration {
        let idle = self.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT);
        Duration(
            self.connect_timeout
                .0
                .saturating_add(idle.0)
                .saturating_add(30_000_000_000),
        )
    }
}

/// What a connection is, seen from the ALB.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnRole {
    /// Client -> ALB.
    FrontEnd,
    /// ALB -> target, carrying client requests.
    BackEnd,
    /// ALB -> target, carrying health checks.
    HealthCheck,
    /// Neither.
    Other,
}

/// Which legs of the ALB's traffic the capture holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Vantage {
    /// Front end and back end (captured on the ALB node's ENIs).
    BothLegs,
    /// Back end only (captured on the targets' ENIs): client statuses are inferred.
    BackEndOnly,
    /// Front end only (captured on the clients' ENIs).
    FrontEndOnly,
    /// No ALB traffic recognised.
    Unknown,
}

impl Vantage {
    /// A sentence for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Vantage::BothLegs => "both legs (front end client->ALB and back end ALB->target)",
            Vantage::BackEndOnly => "back end only (ALB->target); what the client got is inferred",
            Vantage::FrontEndOnly => {
                "front end only (client->ALB); the back end is not in the capture"
            }
            Vantage::Unknown => {
                "unknown: no ALB traffic recognised (no awselb answer, ALB-added headers or \
                 health checks); name the ALB with --alb-ip and --listener-port"
            }
        }
    }
}

/// Connection-level facts of a closed connection, shared by the legs that came from it.
#[derive(Clone, Debug)]
pub struct ClosedConn {
    /// TCP summary with its event timeline.
    pub tcp: ConnSummary,
    /// What it carried.
    pub app: AppKind,
    /// TLS facts when TLS.
    pub tls: Option<TlsInfo>,
    /// Start of the stream when it was neither HTTP nor TLS.
    pub unknown_excerpt: Option<String>,
    /// End of its last finished exchange.
    pub last_exchange_end: Option<Timestamp>,
    /// Exchanges reported as finished before the close.
    pub finished_exchanges: u32,
}

/// Which connection a leg ran on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// Connection number.
    pub id: ConnId,
    /// Who and where (client = the side that opened it).
    pub key: ConnKey,
    /// Its first packet.
    pub opened: Timestamp,
    /// Whether it is TLS.
    pub tls: bool,
}

/// One request/response exchange seen only as TLS application-data bursts.
#[derive(Clone, Debug)]
pub struct BurstExchange {
    /// 0-based position of this client burst on its connection.
    pub index: u32,
    /// The opener's burst (the request).
    pub request: TlsBurst,
    /// The answering burst, when one came before the next request.
    pub response: Option<TlsBurst>,
}

/// One side (front end or back end) of one request.
#[derive(Clone, Debug)]
pub struct Leg {
    /// The connection.
    pub conn: ConnInfo,
    /// The HTTP exchange, when the connection is clear-text HTTP and a request was sent.
    pub exchange: Option<HttpExchange>,
    /// The opaque TLS exchange, when the connection is TLS and application data flowed.
    pub burst: Option<BurstExchange>,
    /// Connection-level facts, when the connection closed within the pairing window.
    pub record: Option<Arc<ClosedConn>>,
    /// True when the exchange finished normally (response complete) before the close.
    pub finished: bool,
}

impl Leg {
    /// When this leg's request started: the request's first byte, the client burst, or (for a
    /// connection attempt without a request) the connection's first packet.
    pub fn time(&self) -> Timestamp {
        if let Some(ex) = &self.exchange {
            if let Some(r) = &ex.request {
                return r.first_byte;
            }
            if let Some(r) = &ex.response {
                return r.first_byte;
            }
            if let Some(e) = &ex.response_error {
                return e.first_byte;
            }
        }
        if let Some(b) = &self.burst {
            return b.request.first;
        }
        self.conn.opened
    }

    /// The packet where this leg's request starts, when known.
    pub fn first_pos(&self) -> Option<PacketPos> {
        if let Some(r) = self.exchange.as_ref().and_then(|e| e.request.as_ref()) {
            return Some(r.first_pos);
        }
        if let Some(b) = &self.burst {
            return Some(b.request.first_pos);
        }
        self.record.as_ref().map(|r| r.tcp.first_pos)
    }

    /// Position of this exchange on its connection (0 for the first, or a bare attempt).
    pub fn index(&self) -> u32 {
        self.exchange
            .as_ref()
            .map(|e| e.index)
            .or(self.burst.as_ref().map(|b| b.index))
            .unwrap_or(0)
    }

    /// A request header, when the leg carries a parsed request.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        let req = self.exchange.as_ref()?.request.as_ref()?;
        header(&req.headers, name)
    }

    /// A response header, when the leg carries a parsed response.
    pub fn response_header(&self, name: &str) -> Option<&str> {
        let resp = self.exchange.as_ref()?.response.as_ref()?;
        header(&resp.headers, name)
    }
}

/// How the two legs of a request were matched.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingMethod {
    /// Same method, target and Host, client IP = last X-Forwarded-For entry.
    Headers,
    /// By time order on the ALB node (TLS front end, or no back-end request sent).
    TimeOrder,
    /// Only one leg is present.
    Unpaired,
}

/// One client request as the ALB handled it: its front-end leg, its back-end leg, or both.
#[derive(Clone, Debug)]
pub struct RequestPath {
    /// The ALB node address.
    pub node: Option<IpAddr>,
    /// Client -> ALB leg.
    pub front: Option<Leg>,
    /// ALB -> target leg.
    pub back: Option<Leg>,
    /// How the legs were matched.
    pub pairing: PairingMethod,
    /// Ambiguities and reasons a leg is missing.
    pub notes: Vec<PairingNote>,
}

/// What the legs were matched by, when several front ends matched a back end.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PairingBasis {
    /// Method, path, Host and X-Forwarded-For.
    Headers,
    /// Time order.
    TimeOrder,
}

/// Why a request's pairing is uncertain, or why a leg is missing.
#[derive(Clone, Debug, PartialEq)]
pub enum PairingNote {
    /// Several front-end requests matched; paired with the first.
    Ambiguous {
        /// How many matched.
        count: usize,
        /// `count` is the most looked at: at least that many matched.
        at_least: bool,
        /// What they matched by.
        by: PairingBasis,
        /// The first few: client and request time.
        candidates: Vec<(Endpoint, Timestamp)>,
    },
    /// A front end without a back-end attempt, the back end being captured.
    NoBackEndAttempt,
    /// A front end, the back end not being captured.
    BackEndNotCaptured,
    /// A back end no front-end request matched, the front end being captured.
    NoFrontEndMatch,
    /// A back end, the front end not being captured (what the client got is inferred).
    FrontEndNotCaptured,
}

/// How a connection that carried no answer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// Its connection record is not in the capture.
    Unknown,
    /// An ICMP error came back.
    Icmp(crate::decode::IcmpError),
    /// The SYN was answered by RST (connection refused).
    Refused,
    /// The SYN was never answered (connection timed out).
    SynUnanswered,
    /// The TLS handshake did not complete.
    TlsIncomplete,
    /// The connection closed without a response.
    Closed,
}

/// Why a health check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthProblem {
    /// The target answered a status that is not 2xx or 3xx.
    Status(u16),
    /// No answer came; `unmatched_attempt` when it was a bare connection attempt that matched
    /// no client request (and was therefore taken for a health check).
    NoAnswer {
        /// How the connection ended.
        how: NoAnswer,
        /// True for a bare connection attempt matching no client request.
        unmatched_attempt: bool,
    },
}

/// One health check (or a failed health-check connection) from an ALB node to a target.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    /// ALB node.
    pub node: IpAddr,
    /// Target checked.
    pub target: Endpoint,
    /// When.
    pub time: Timestamp,
    /// Request path, when a request was sent.
    pub path: Option<String>,
    /// Status answered.
    pub status: Option<u16>,
    /// Whether it succeeded (a 2xx/3xx answer).
    pub ok: bool,
    /// What went wrong, when it failed.
    pub problem: Option<HealthProblem>,
    /// The packet where it starts.
    pub pos: Option<PacketPos>,
}

/// Why an address is believed to be an ALB node.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeEvidence {
    /// Given with `--alb-ip`.
    Configured,
    /// It sends health checks (User-Agent: ELB-HealthChecker).
    SendsHealthChecks,
    /// It sends requests carrying X-Amzn-Trace-Id and X-Forwarded-For.
    SendsAlbHeaders,
    /// It answers clients with `Server: awselb/2.0`.
    AnswersAsAwselb,
    /// It accepts connections and opens connections to others (weak).
    AcceptsAndOpens,
    /// It opened a connection that never got going, and nothing else in the capture is
    /// recognised as an ALB node (weak).
    OpenedFailedConnect,
    /// It answers HTTP requests that carry none of the headers an ALB adds, and nothing else
    /// in the capture is recognised as an ALB node (weak: the front end seen from the clients).
    AnswersClients,
}

/// A detected ALB node.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    /// Its private address.
    pub ip: Option<IpAddr>,
    /// Why it is believed to be an ALB node (at most four reasons, in the order found).
    pub evidence: Vec<NodeEvidence>,
    /// Listener ports clients connected to.
    pub listener_ports: BTreeSet<u16>,
    /// Front-end connections seen.
    pub front_connections: u64,
    /// Back-end connections seen.
    pub back_connections: u64,
    /// Health checks sent.
    pub health_checks: u64,
    /// Mirror sessions its traffic came through.
    pub sessions: BTreeSet<MirrorSession>,
    /// True when given on the command line.
    pub configured: bool,
    /// True when the evidence is strong (headers, health checks or configuration).
    pub strong: bool,
}

/// What is known about one target (address:port).
#[derive(Clone, Debug, Default)]
pub struct TargetInfo {
    /// Last `Server` header it sent.
    pub server: Option<String>,
    /// Last `X-Powered-By` header it sent.
    pub powered_by: Option<String>,
    /// Idle times (seconds) after which it closed kept-alive connections itself.
    pub idle_closes: Vec<f64>,
    /// Health checks received.
    pub health_checks: u64,
    /// Health checks that failed.
    pub health_check_failures: u64,
}

impl TargetInfo {
    /// The target's keep-alive timeout, read from the idle closes (their median).
    pub fn keepalive_timeout(&self) -> Option<Duration> {
        median(&self.idle_closes).map(Duration::from_secs_f64)
    }
}

/// Where a timer value came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimerSource {
    /// The AWS default.
    Default,
    /// Given by the user.
    Config,
    /// Read from the ALB's own idle closes in the capture.
    Inferred,
}

/// Everything learned about the ALB so far: nodes, targets, timers, counts.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    /// The configuration.
    pub config: AlbConfig,
    /// ALB nodes (strong and weak candidates).
    pub nodes: IndexMap<IpAddr, NodeInfo>,
    /// Targets.
    pub targets: IndexMap<Endpoint, TargetInfo>,
    /// Idle times (seconds) after which the ALB closed idle connections itself.
    pub alb_idle_closes: Vec<f64>,
    /// Mirror sessions (VXLAN/GENEVE) through which a strong node's traffic was seen, and that
    /// node: lets an address of the same ALB ENI (e.g. its IPv6 address) be attributed to it.
    session_nodes: HashMap<MirrorSession, IpAddr>,
    /// Addresses seen accepting connections (for weak node detection).
    servers_seen: BTreeSet<IpAddr>,
    /// Addresses seen opening connections to a server in `servers_seen` ... and vice versa.
    clients_seen: BTreeSet<IpAddr>,
    /// Legs classified as front end.
    pub front_legs: u64,
    /// Legs classified as back end.
    pub back_legs: u64,
    /// Connections that were neither front nor back end.
    pub other_connections: u64,
    /// Health checks seen.
    pub health_checks: u64,
    /// Legs paired before their window closed because the held legs went over
    /// [`AlbConfig::max_pending_bytes`]: their partner may have come later and been missed.
    pub legs_paired_early: u64,
    /// Unpaired back-end legs given up before [`LATE_HORIZON`] because more than [`MAX_LATE`]
    /// were waiting for a late (TLS) front end.
    pub late_legs_dropped: u64,
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
}

impl Knowledge {
    /// Knowledge seeded from the configuration.
    pub fn new(config: AlbConfig) -> Self {
        let mut k = Knowledge {
            config: config.clone(),
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
    fn target_mut(&mut self, ep: Endpoint) -> Option<&mut TargetInfo> {
        if !self.targets.contains_key(&ep) {
            if self.targets.len() >= MAX_TARGETS {
                return None;
            }
            self.target_ports.insert(ep.port);
        }
        Some(self.targets.entry(ep).or_default())
    }

    /// Lists `session` for node `n` (at most [`MAX_NODE_SESSIONS`], the rest counted).
    fn add_session(n: &mut NodeInfo, session: &MirrorSession, over: &mut u64) {
        if n.sessions.len() < MAX_NODE_SESSIONS {
            n.sessions.insert(*session);
        } else if !n.sessions.contains(session) {
            *over += 1;
        }
    }

    fn node_mut(&mut self, ip: IpAddr) -> &mut NodeInfo {
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
        let cfg = &self.config;
        let hc = request_agent.is_some_and(|ua| ua.contains(HEALTH_CHECK_AGENT));
        if self.is_alb(key.client.ip) && !self.is_alb(key.server.ip) {
            return if hc {
                ConnRole::HealthCheck
            } else {
                ConnRole::BackEnd
            };
        }
        if self.is_alb(key.server.ip) && !self.is_alb(key.client.ip) {
            return ConnRole::FrontEnd;
        }
        if hc {
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
            if neither && target_port && (!listener || unanswered) {
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

    /// Learns from a request sent on connection `key`: ALB-inserted headers and health checks
    /// name the sender as an ALB node.
    fn learn_request(&mut self, key: &ConnKey, ex: &HttpExchange) {
        let Some(req) = &ex.request else { return };
        let reason = if header(&req.headers, "user-agent")
            .is_some_and(|ua| ua.contains(HEALTH_CHECK_AGENT))
        {
            Some(NodeEvidence::SendsHealthChecks)
        } else if header(&req.headers, "x-amzn-trace-id").is_some()
            && header(&req.headers, "x-forwarded-for").is_some()
        {
            Some(NodeEvidence::SendsAlbHeaders)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.strong_node(key, key.client.ip, reason);
        } else if ex.response.is_some() {
            // A client's own request, answered: its server is the ALB when the capture holds
            // the front end only (weak: any strong node elsewhere overrides it).
            let ip = key.server.ip;
            if !self.nodes.contains_key(&ip) && self.nodes.len() < MAX_WEAK_NODES {
                let n = self.node_mut(ip);
                push_evidence(n, NodeEvidence::AnswersClients);
            }
        }
    }

    fn strong_node(&mut self, key: &ConnKey, ip: IpAddr, evidence: NodeEvidence) {
        let mut over = 0;
        let n = self.node_mut(ip);
        if !n.strong {
            // Weak guesses are moot once there is real evidence.
            n.evidence.clear();
        }
        n.strong = true;
        Self::add_session(n, &key.session, &mut over);
        push_evidence(n, evidence);
        self.sessions_over_limit += over;
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
        if self.is_alb(ip) {
            return ip;
        }
        self.session_nodes.get(&key.session).copied().unwrap_or(ip)
    }

    /// Learns from a connection's existence: an address that both accepts connections and opens
    /// connections to others is a (weak) ALB candidate.
    fn learn_conn(&mut self, key: &ConnKey) {
        if self.servers_seen.len() < MAX_ADDRESSES {
            self.servers_seen.insert(key.server.ip);
        }
        if self.clients_seen.len() < MAX_ADDRESSES {
            self.clients_seen.insert(key.client.ip);
        }
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

    /// Learns timers and server facts from a closed connection.
    fn learn_closed(&mut self, rec: &ConnectionRecord) {
        let key = rec.tcp.key;
        self.learn_failed_connect(rec);
        if !rec.unfinished.is_empty() {
            return;
        }
        let Some(last_end) = rec.last_exchange_end else {
            return;
        };
        let first_fin =
            rec.tcp.events.iter().find(|e| {
                matches!(e.kind, TcpEventKind::Fin | TcpEventKind::Rst) && e.ts >= last_end
            });
        let Some(fin) = first_fin else { return };
        let idle = fin.ts.since(last_end).as_secs_f64();
        if idle < 0.5 {
            return;
        }
        let alb_client = self.is_alb(key.client.ip);
        let alb_server = self.is_alb(key.server.ip);
        match (fin.dir, alb_client, alb_server) {
            // The target (server of a back-end connection) closed it after idling.
            (Dir::ToClient, true, false) => {
                if matches!(fin.kind, TcpEventKind::Fin) {
                    if let Some(t) = self.target_mut(key.server) {
                        push_sample(&mut t.idle_closes, idle);
                    }
                }
            }
            // The ALB closed an idle connection (back end as client, or front end as server).
            (Dir::ToServer, true, false) | (Dir::ToClient, false, true) => {
                push_sample(&mut self.alb_idle_closes, idle);
            }
            _ => {}
        }
    }

    /// With no ALB traffic recognised otherwise (e.g. a target-ENI capture holding only a
    /// failing connect), the opener of a connection that never got going is taken for an ALB
    /// node, weakly: strong evidence anywhere else overrides it.
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
        if !(syn_after_synack || refused || retried)
            || self.nodes.contains_key(&rec.tcp.key.client.ip)
            || self.nodes.len() >= MAX_WEAK_NODES
        {
            return;
        }
        let n = self.node_mut(rec.tcp.key.client.ip);
        push_evidence(n, NodeEvidence::OpenedFailedConnect);
    }

    fn learn_response(&mut self, key: &ConnKey, ex: &HttpExchange) {
        let Some(resp) = &ex.response else { return };
        if header(&resp.headers, "server").is_some_and(|s| s.starts_with("awselb")) {
            self.strong_node(key, key.server.ip, NodeEvidence::AnswersAsAwselb);
        }
        if !self.is_alb(key.client.ip) {
            return;
        }
        let Some(t) = self.target_mut(key.server) else {
            return;
        };
        if let Some(s) = header(&resp.headers, "server") {
            t.server = Some(s.to_string());
        }
        if let Some(s) = header(&resp.headers, "x-powered-by") {
            t.powered_by = Some(s.to_string());
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

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.get(s.len() / 2).copied()
}

/// Receives paired requests and health checks from the [`AlbTracker`].
pub trait PathSink {
    /// A request whose legs are paired (or known to be missing).
    fn path(&mut self, path: RequestPath, known: &Knowledge);
    /// A health check.
    fn health_check(&mut self, check: HealthCheck, known: &Knowledge);
}

/// A leg waiting for its partner.
#[derive(Debug)]
struct Pending {
    /// When the leg's request started (the queue's order).
    time: Timestamp,
    /// Arrival order (ties between equal times).
    seq: u64,
    /// Estimated heap bytes the leg holds.
    bytes: usize,
    /// Boxed: legs are large and move through the queue.
    leg: Box<Leg>,
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
    /// Reversed: the oldest leg is the greatest, so it is on top of a [`BinaryHeap`].
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
    /// Legs waiting for their window to pass, oldest on top.
    pending: BinaryHeap<Pending>,
    /// Back-end legs left unpaired while the capture shows front ends: held longer (up to
    /// [`LATE_HORIZON`], at most [`MAX_LATE`]) because a long-lived TLS client connection
    /// reports its requests (bursts) only when it closes.
    late: Vec<Pending>,
    /// Records of closed connections whose finished exchanges may still be pending (the legs
    /// of finished exchanges are handed over before the connection closes).
    closed: HashMap<ConnId, ClosedEntry>,
    /// Estimated bytes held in `pending`, `late` and `closed`.
    held_bytes: usize,
    next_seq: u64,
    now: Timestamp,
    sink: S,
}

/// How far past its window a leg waits (absorbs the ordering slack of the capture clock).
const WINDOW_SLACK: Duration = Duration(2_000_000_000);

impl<S: PathSink> AlbTracker<S> {
    /// A tracker with the given settings, feeding `sink`.
    pub fn new(config: AlbConfig, sink: S) -> Self {
        AlbTracker {
            known: Knowledge::new(config),
            pending: BinaryHeap::new(),
            late: Vec::new(),
            closed: HashMap::new(),
            held_bytes: 0,
            next_seq: 0,
            now: Timestamp::default(),
            sink,
        }
    }

    /// What is known so far.
    pub fn knowledge(&self) -> &Knowledge {
        &self.known
    }

    /// Legs currently waiting to be paired (for memory tests).
    pub fn pending_len(&self) -> usize {
        self.pending.len() + self.late.len()
    }

    /// Estimated bytes currently held for pairing (for memory tests).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Pairs and emits everything still pending; returns the sink and what was learned.
    pub fn finish(mut self) -> (S, Knowledge) {
        self.flush(None);
        (self.sink, self.known)
    }

    /// Queues `leg`; `extra_bytes` is what it holds beyond itself (a record it brings).
    fn add(&mut self, leg: Leg, extra_bytes: usize) {
        let entry = self.held(leg, extra_bytes);
        self.pending.push(entry);
        self.shed_over_budget();
    }

    /// `leg` as a queue entry, its bytes (plus `extra_bytes` it brings) counted as held.
    fn held(&mut self, leg: Leg, extra_bytes: usize) -> Pending {
        let bytes = size::leg(&leg) + extra_bytes;
        self.hold(bytes);
        self.next_seq += 1;
        Pending {
            time: leg.time(),
            seq: self.next_seq,
            bytes,
            leg: Box::new(leg),
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
    fn take_oldest_over_budget(&mut self, ready: &mut Vec<Leg>) {
        let budget = self.known.config.max_pending_bytes;
        let target = budget - budget / 8;
        while self.held_bytes > target {
            let Some(leg) = self.pop_pending() else { break };
            ready.push(leg);
            self.known.legs_paired_early += 1;
        }
    }

    /// Pairs the oldest legs now when the held ones are over budget (between clock ticks, e.g.
    /// when every connection still open closes at the end of the capture).
    fn shed_over_budget(&mut self) {
        if self.held_bytes <= self.known.config.max_pending_bytes || self.pending.is_empty() {
            return;
        }
        let mut ready = Vec::new();
        self.take_oldest_over_budget(&mut ready);
        self.pair_and_emit(ready, Vec::new(), true);
        self.prune_closed();
    }

    fn pop_pending(&mut self) -> Option<Leg> {
        let p = self.pending.pop()?;
        self.release(p.bytes);
        Some(*p.leg)
    }

    /// Pairs and emits legs older than the window (all of them when `cutoff` is `None`), and
    /// the oldest ones beyond the memory budget.
    fn flush(&mut self, cutoff: Option<Timestamp>) {
        let budget = self.known.config.max_pending_bytes;
        let due = |p: &Pending| cutoff.map_or(true, |c| p.time.plus(WINDOW_SLACK) < c);
        let nothing_due = !self.pending.peek().is_some_and(due);
        if nothing_due && self.late.is_empty() && self.held_bytes <= budget {
            return;
        }
        let mut ready: Vec<Leg> = Vec::new();
        while self.pending.peek().is_some_and(due) {
            if let Some(leg) = self.pop_pending() {
                ready.push(leg);
            }
        }
        if self.held_bytes > budget {
            self.take_oldest_over_budget(&mut ready);
        }

        // Held back-end legs: the expired ones are emitted unpaired; those overlapping the
        // ready legs in time get another chance (all of them at the end).
        let mut expired: Vec<Leg> = Vec::new();
        let mut pulled: Vec<Leg> = Vec::new();
        if !self.late.is_empty() {
            let held = std::mem::take(&mut self.late);
            let span =
                ready
                    .iter()
                    .map(Leg::time)
                    .fold(None, |acc: Option<(Timestamp, Timestamp)>, t| match acc {
                        None => Some((t, t)),
                        Some((a, b)) => Some((a.min(t), b.max(t))),
                    });
            let horizon = cutoff.map(|c| Timestamp(c.0.saturating_sub(LATE_HORIZON.0)));
            let overflow = held.len().saturating_sub(MAX_LATE);
            for (i, p) in held.into_iter().enumerate() {
                let in_span = span.is_some_and(|(a, b)| {
                    p.time.plus(Duration::from_millis(15_000)) >= a
                        && p.time <= b.plus(Duration::from_millis(5_000))
                });
                if cutoff.is_none() || in_span {
                    self.release(p.bytes);
                    pulled.push(*p.leg);
                } else if i < overflow || horizon.is_some_and(|h| p.time < h) {
                    if i < overflow && horizon.is_some_and(|h| p.time >= h) {
                        self.known.late_legs_dropped += 1;
                    }
                    self.release(p.bytes);
                    expired.push(*p.leg);
                } else {
                    self.late.push(p);
                }
            }
        }
        if !expired.is_empty() {
            let out = pairing::pair(expired, &self.known);
            for path in out.paths {
                self.sink.path(path, &self.known);
            }
        }
        if !ready.is_empty() || !pulled.is_empty() {
            self.pair_and_emit(ready, pulled, cutoff.is_some());
        }
        self.prune_closed();
    }

    /// Drops the records no pending leg can need: a record is needed only by pending legs of
    /// its connection, which started before it ended.
    fn prune_closed(&mut self) {
        let oldest = self.pending.peek().map(|p| p.time);
        let mut released = 0;
        self.closed.retain(|_, e| {
            let keep = oldest.is_some_and(|t| e.end >= t);
            if !keep {
                released += e.bytes;
            }
            keep
        });
        self.release(released);
    }

    /// Pairs `ready` legs (and `pulled` held back-end legs) and emits the paths and health
    /// checks; with `hold`, unpaired back-end legs wait in `late` for a late front end.
    fn pair_and_emit(&mut self, ready: Vec<Leg>, pulled: Vec<Leg>, hold: bool) {
        let mut legs = ready;
        legs.extend(pulled);
        for leg in &mut legs {
            if leg.record.is_none() {
                if let Some(e) = self.closed.get(&leg.conn.id) {
                    leg.record = Some(e.record.clone());
                }
            }
        }
        let out = pairing::pair(legs, &self.known);
        for hc in out.health_checks {
            if let Some(t) = self.known.target_mut(hc.target) {
                t.health_checks += 1;
                if !hc.ok {
                    t.health_check_failures += 1;
                }
            }
            if let Some(n) = self.known.nodes.get_mut(&hc.node) {
                n.health_checks += 1;
            }
            self.known.health_checks += 1;
            self.sink.health_check(hc, &self.known);
        }
        self.known.front_legs += out.front_legs;
        self.known.back_legs += out.back_legs;
        let hold = hold && self.known.front_legs > 0;
        for path in out.paths {
            match path {
                RequestPath {
                    front: None,
                    back: Some(leg),
                    ..
                } if hold => {
                    let record = leg.record.as_deref().map_or(0, size::closed_conn);
                    let entry = self.held(leg, record);
                    self.late.push(entry);
                }
                path => self.sink.path(path, &self.known),
            }
        }
    }
}

impl<S: PathSink> AppSink for AlbTracker<S> {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.known.learn_conn(&conn.key);
        self.known.learn_request(&conn.key, &exchange);
        self.known.learn_response(&conn.key, &exchange);
        if exchange.index == 0 {
            let agent = exchange
                .request
                .as_ref()
                .and_then(|r| header(&r.headers, "user-agent"))
                .map(str::to_string);
            self.count_connection(&conn.key, agent.as_deref(), false);
        }
        let leg = Leg {
            conn: ConnInfo {
                id: conn.id,
                key: conn.key,
                opened: conn.opened,
                tls: conn.tls,
            },
            exchange: Some(exchange),
            burst: None,
            record: None,
            finished: true,
        };
        self.add(leg, 0);
    }

    fn closed(&mut self, record: ConnectionRecord) {
        let key = record.tcp.key;
        self.known.learn_conn(&key);
        for ex in &record.unfinished {
            self.known.learn_request(&key, ex);
            self.known.learn_response(&key, ex);
        }
        self.known.learn_closed(&record);
        if record.finished_exchanges == 0 {
            let agent = record
                .unfinished
                .iter()
                .find_map(|e| e.request.as_ref())
                .and_then(|r| header(&r.headers, "user-agent"))
                .map(str::to_string);
            self.count_connection(&key, agent.as_deref(), unanswered(&record.tcp));
        }
        let info = ConnInfo {
            id: record.tcp.id,
            key,
            opened: record.tcp.start,
            tls: record.app == AppKind::Tls || record.tls.is_some(),
        };
        let ConnectionRecord {
            tcp,
            app,
            unfinished,
            finished_exchanges,
            last_exchange_end,
            tls,
            unknown_excerpt,
        } = record;
        let end = tcp.end;
        let bursts = tls
            .as_ref()
            .map(|t| burst_exchanges(&t.bursts))
            .unwrap_or_default();
        let shared = Arc::new(ClosedConn {
            tcp,
            app,
            tls,
            unknown_excerpt,
            last_exchange_end,
            finished_exchanges,
        });
        let no_exchanges = finished_exchanges == 0 && unfinished.is_empty();
        // The record's bytes are charged once: to the entry kept for the legs of finished
        // exchanges when there were some, else to the first leg that carries it.
        let mut record_bytes = size::closed_conn(&shared);
        if finished_exchanges > 0 {
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
                exchange: Some(ex),
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
    fn count_connection(&mut self, key: &ConnKey, agent: Option<&str>, unanswered: bool) {
        let role = self.known.classify(key, agent, unanswered);
        let node = self.known.node_of(key, role);
        if role == ConnRole::Other {
            self.known.other_connections += 1;
            return;
        }
        if !self.known.nodes.contains_key(&node) && self.known.nodes.len() >= MAX_WEAK_NODES {
            self.known.nodes_over_limit += 1;
        } else {
            let mut over = 0;
            let n = self.known.node_mut(node);
            if role == ConnRole::FrontEnd {
                n.front_connections += 1;
                n.listener_ports.insert(key.server.port);
            } else {
                n.back_connections += 1;
            }
            Knowledge::add_session(n, &key.session, &mut over);
            self.known.sessions_over_limit += over;
        }
        if role != ConnRole::FrontEnd && self.known.target_mut(key.server).is_none() {
            self.known.targets_over_limit += 1;
        }
    }
}

impl<S: PathSink> Clock for AlbTracker<S> {
    fn tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        let window = self.known.config.window();
        self.flush(Some(Timestamp(self.now.0.saturating_sub(window.0))));
    }
}

/// Splits TLS application-data bursts into client-burst/server-burst exchanges.
fn burst_exchanges(bursts: &[TlsBurst]) -> Vec<BurstExchange> {
    // A last small client burst answered by nothing or by another small burst is a
    // close_notify exchange (TLS 1.3 encrypts alerts as application data), not a request.
    const CLOSE_NOTIFY_MAX: u64 = 40;
    let mut out: Vec<BurstExchange> = Vec::new();
    for b in bursts {
        match b.dir {
            Dir::ToServer => {
                let index = u32::try_from(out.len()).unwrap_or(u32::MAX);
                out.push(BurstExchange {
                    index,
                    request: b.clone(),
                    response: None,
                });
            }
            Dir::ToClient => {
                if let Some(last) = out.last_mut() {
                    if last.response.is_none() {
                        last.response = Some(b.clone());
                    }
                }
            }
        }
    }
    if out.len() > 1
        && out.last().is_some_and(|l| {
            l.request.bytes <= CLOSE_NOTIFY_MAX
                && l.response
                    .as_ref()
                    .map_or(true, |r| r.bytes <= CLOSE_NOTIFY_MAX)
        })
    {
        out.pop();
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
