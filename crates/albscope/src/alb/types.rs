//! The ALB layer's data: configuration and timers, connection roles, request legs and paired
//! request paths, health checks, what is known about nodes and targets, and the [`PathSink`]
//! that receives paired requests.

use super::coverage::InputSet;
use super::knowledge::Knowledge;
use super::leg_box::LegBox;
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::decode::MirrorSession;
use crate::flow::{ConnId, ConnKey, ConnSummary, Endpoint};
use crate::protocol::{header, AppKind, DecryptInfo, ExchangeBox, Known, TlsBurst, TlsInfo};
use serde::Serialize;
use std::collections::BTreeSet;
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
/// Default budget for held legs and connection records ([`AlbConfig::max_pending_bytes`]).
pub const DEFAULT_MAX_PENDING_BYTES: usize = 256 << 20;
/// Most targets tracked individually (server banner, keep-alive samples, health checks).
pub const MAX_TARGETS: usize = 10_000;

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
    /// Offsets already applied to input files' timestamps by the capture reader (given with
    /// `--time-offset`, or estimated in an earlier pass); the report states them.
    pub clock_offsets: Vec<super::FileOffset>,
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
            clock_offsets: Vec::new(),
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
    /// What decryption did (TLS, with a key log).
    pub decryption: Option<Box<DecryptInfo>>,
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
    /// Its first packet's position.
    pub opened_pos: PacketPos,
    /// Whether it is TLS.
    pub tls: bool,
    /// Whether its exchanges came from decrypted TLS records.
    pub decrypted: bool,
    /// Whether its opening (the originator's SYN) is in the capture: when not, whether its
    /// first request seen was its first at all is not known.
    pub saw_syn: bool,
}

/// A client's TLS handshake with the ALB that failed: an alert from either side, or the ALB
/// closing or resetting the connection before the handshake completed. No request was made
/// (CloudWatch counts it in `ClientTLSNegotiationErrorCount`, the access log has no line).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientTlsFailure {
    /// The ClientHello.
    pub time: Timestamp,
    /// Where it starts (the ClientHello's packet).
    pub pos: PacketPos,
    /// The client.
    pub client: Endpoint,
    /// The ALB's end (listener).
    pub alb: Endpoint,
    /// The first alert: sent by the ALB (else the client), its description.
    pub alert: Option<(bool, String)>,
    /// The versions the client offered (supported_versions, else the legacy version).
    pub offered: Vec<String>,
    /// The version the ALB selected, when its ServerHello came.
    pub selected: Option<String>,
}

/// A client's connection to the listener whose SYN the capture shows unanswered through at
/// least one retransmission (the client waited a retransmission timeout): no request was
/// made, and the ALB, which never answered, logged nothing. The capture cannot tell why: the
/// SYN dropped before the node (a security group or network ACL: inbound drops are never
/// mirrored on the node's ENI), an address that is no node any more (a scale-in, a client
/// using a cached DNS answer), or a port with no listener.
#[derive(Clone, Debug, PartialEq)]
pub struct ListenerSilent {
    /// The first SYN.
    pub time: Timestamp,
    /// Where it is.
    pub pos: PacketPos,
    /// The client.
    pub client: Endpoint,
    /// The address and port it connected to.
    pub alb: Endpoint,
    /// SYNs sent (the first and its retransmissions).
    pub syns: u32,
    /// The last SYN.
    pub last: Timestamp,
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
    /// How long (milliseconds, saturating) the connection was quiet before this request: from
    /// the last record of the exchange before it (its answer, else its request) to this
    /// request's first record; 0 for the first (see [`BurstExchange::idle_before`]). 32 bits
    /// fill the room the index leaves, so a leg does not grow.
    pub idle_before_ms: u32,
}

impl BurstExchange {
    /// How long the connection was quiet before this request (`None` for the first request
    /// burst on its connection).
    pub fn idle_before(&self) -> Option<Duration> {
        (self.index > 0).then(|| Duration::from_millis(i64::from(self.idle_before_ms)))
    }
}

/// One side (front end or back end) of one request.
#[derive(Clone, Debug)]
pub struct Leg {
    /// The connection.
    pub conn: ConnInfo,
    /// The HTTP exchange, when the connection is clear-text HTTP and a request was sent (in
    /// the box the protocol layer built it in).
    pub exchange: Option<ExchangeBox>,
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
            if let Some(t) = ex.request_lost_at {
                return t;
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

    /// When this leg was answered: the response's (or the unreadable response's) first byte,
    /// or the answering TLS burst's; `None` when no answer is in the capture.
    pub fn answer_time(&self) -> Option<Timestamp> {
        if let Some(ex) = &self.exchange {
            if let Some(r) = &ex.response {
                return Some(r.first_byte);
            }
            if let Some(e) = &ex.response_error {
                return Some(e.first_byte);
            }
        }
        self.burst
            .as_ref()
            .and_then(|b| b.response.as_ref())
            .map(|r| r.first)
    }

    /// From this leg's request to its answer (its request alone when unanswered): when the
    /// other leg of its request would show.
    pub fn span(&self) -> (Timestamp, Timestamp) {
        let from = self.time();
        (from, self.answer_time().map_or(from, |a| a.max(from)))
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

    /// A known request header (an index, no name matching), when the leg carries a parsed
    /// request.
    pub fn request_known(&self, k: Known) -> Option<&str> {
        let req = self.exchange.as_ref()?.request.as_ref()?;
        req.headers.known(k)
    }

    /// A known response header (an index, no name matching), when the leg carries a parsed
    /// response.
    pub fn response_known(&self, k: Known) -> Option<&str> {
        let resp = self.exchange.as_ref()?.response.as_ref()?;
        resp.headers.known(k)
    }
}

/// How the two legs of a request were matched.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingMethod {
    /// Same method, target and Host, client IP = last X-Forwarded-For entry.
    Headers,
    /// By time order on the ALB node (TLS front end, or no back-end request sent).
    TimeOrder,
    /// To the HTTP/2 front-end connection of its X-Forwarded-For client open at the time
    /// (the front end's streams are opaque; see `alb::multiplex`).
    Http2Connection,
    /// Only one leg is present.
    Unpaired,
}

/// One client request as the ALB handled it: its front-end leg, its back-end leg, or both.
#[derive(Clone, Debug)]
pub struct RequestPath {
    /// The ALB node address.
    pub node: Option<IpAddr>,
    /// Client -> ALB leg (boxed as it was held: a path moves as pointers).
    pub front: Option<LegBox>,
    /// ALB -> target leg (boxed as it was held).
    pub back: Option<LegBox>,
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
    /// A back-end request sent for a stream of an HTTP/2 front-end connection (encrypted, its
    /// streams not visible): what the client got is inferred from the back end.
    Http2Stream {
        /// The client's end of that connection.
        client: Endpoint,
        /// The ALB's end of it (the address the client reached, the listener port).
        alb: Endpoint,
        /// How the connection is known to carry HTTP/2.
        evidence: super::Http2Evidence,
    },
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

/// What a health check proved, as far as the capture shows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HealthOutcome {
    /// The target answered a readable 2xx or 3xx status.
    Passed,
    /// It failed visibly: an unhealthy status, or no answer (refused, unreachable, timed out,
    /// reset, TLS handshake failed).
    Failed,
    /// The target answered, but the status is encrypted (a health check over TLS without
    /// keys): neither a proved pass nor a failure.
    AnsweredStatusNotVisible,
}

impl HealthOutcome {
    /// True for a visible failure.
    pub fn failed(self) -> bool {
        self == HealthOutcome::Failed
    }
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
    /// Status answered (readable only).
    pub status: Option<u16>,
    /// What it proved: passed, failed, or answered with its status not visible.
    pub outcome: HealthOutcome,
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
    /// It opens short connections to a target at a steady interval (a health-check cadence),
    /// and nothing else in the capture is recognised as an ALB node (weak).
    HealthCheckCadence,
    /// It answers HTTP requests that carry none of the headers an ALB adds, and nothing else
    /// in the capture is recognised as an ALB node (weak: the front end seen from the clients).
    AnswersClients,
    /// It answers clients' requests for the same Host on the same listener port as a node
    /// recognised by strong evidence: another node of the same load balancer (clients reach
    /// the nodes by DNS round robin).
    ServesSameSite,
    /// Its requests carry the forwarding headers an ALB adds (X-Forwarded-For, -Proto and
    /// -Port) in heads the capture cut short (a truncating mirror: the
    /// rest, X-Amzn-Trace-Id included, is missing), and nothing else in the capture is
    /// recognised as an ALB node (weak).
    ForwardsCutShort,
    /// It opens connections to several private servers on the same port, itself private (a
    /// node spreading requests over a target group), and nothing else in the capture is
    /// recognised as an ALB node (weak).
    OpensToSeveralTargets,
    /// Itself private, it accepts TLS connections on one port from several public clients
    /// (the front end of an internet-facing node seen from the clients' side, encrypted), and
    /// nothing else in the capture is recognised as an ALB node (weak).
    AcceptsPublicTlsClients,
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
    /// The inputs that showed its back-end traffic: its back end is in the capture over their
    /// spans (see [`Knowledge::back_captured_over`]).
    pub back_inputs: InputSet,
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
    /// The idle keep-alive timeout its last response announcing one gave (`Keep-Alive:
    /// timeout=N`).
    pub announced_keepalive: Option<Duration>,
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

/// Receives paired requests and health checks from the [`AlbTracker`](super::AlbTracker).
pub trait PathSink {
    /// A request whose legs are paired (or known to be missing).
    fn path(&mut self, path: RequestPath, known: &Knowledge);
    /// A client's TLS handshake with the ALB that failed (no request was made).
    fn client_tls_failure(&mut self, failure: ClientTlsFailure) {
        let _ = failure;
    }
    /// A client's SYN to the listener that got no answer (no request was made).
    fn listener_silent(&mut self, silent: ListenerSilent) {
        let _ = silent;
    }
    /// A health check.
    fn health_check(&mut self, check: HealthCheck, known: &Knowledge);
    /// A connection closed (its record, for paths handed over before it closed: a leg is
    /// paired as soon as its partner is settled, so it may come without its record).
    fn closed(&mut self, record: &Arc<ClosedConn>) {
        let _ = record;
    }
}

/// The median of `v` (the upper one of an even count), `None` when empty.
pub(super) fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.get(s.len() / 2).copied()
}
