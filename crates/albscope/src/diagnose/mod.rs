//! Diagnose layer: puts each paired request into a failure category of the taxonomy, with its
//! evidence, timeline, access-log view and fix, and gathers everything into an [`Analysis`]
//! that the report layer renders without re-analysing.
//!
//! [`Analyzer`] is the [`PathSink`] the ALB layer feeds: each [`RequestPath`] is diagnosed at
//! once into a [`Finding`]; failed ones are kept in full, ok ones counted (and kept only when
//! asked, `keep_ok`). Health checks are counted apart and never mixed with client requests.

mod classify;
mod clock;
mod coverage;
pub use coverage::{
    input_coverage, recording_coverage, recordings, CoverageGap, InputCoverage, RecordingCoverage,
    COVERAGE_REPORT_MIN,
};
mod intern;
pub use clock::{analyze_files, clock_offsets, CLOCK_REPORT_MIN};
pub mod evidence;
pub mod logjoin;
pub mod metrics;
pub mod model;
pub mod series;
pub mod tally;
mod timeline;
pub mod verdict;

pub use evidence::{
    AlbTimer, At, BadGatewayPhase, Cause, CitedConn, ClientStop, Close, CloseOrder, Evidence, Icmp,
    IdleUnseen, Inference, Note, Reuse, TellApart,
};
pub use model::{
    AccessLogView, AlbAddr, Direction, EventKind, LegKind, Party, RequestId, RequestSeen, Step,
    Text, TimelineEvent,
};

pub use classify::diagnose;

use crate::alb::{
    ClosedConn, HealthCheck, HealthOutcome, HealthProblem, Knowledge, NodeEvidence, NodeLink,
    PairingMethod, PathSink, RequestPath, TimerSource, Vantage,
};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::decode::MirrorSession;
use crate::flow::{ConnId, Endpoint};
use crate::pipeline::RunStats;
use crate::taxonomy::{Category, GeneratedBy};
use indexmap::IndexMap;
use std::net::IpAddr;
use std::sync::Arc;
use tally::Tally;

/// Most failed health checks kept in full.
const MAX_HEALTH_FAILURES: usize = 50;
/// Most targets given a row of their own in the per-target counts and metrics; the rest share
/// the row [`TargetRow::Others`].
pub const MAX_TARGET_ROWS: usize = 1_000;

/// A row of a per-target table.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetRow {
    /// One target.
    Target(Endpoint),
    /// Requests without a back-end attempt.
    NoTarget,
    /// The targets past [`MAX_TARGET_ROWS`], together.
    Others,
}

/// The row a request to `target` (`None`: no back-end attempt) counts in, in a per-target table
/// that may already hold `rows`.
pub fn target_row<V, S: std::hash::BuildHasher>(
    rows: &IndexMap<TargetRow, V, S>,
    target: Option<Endpoint>,
) -> TargetRow {
    let row = target.map_or(TargetRow::NoTarget, TargetRow::Target);
    if rows.len() < MAX_TARGET_ROWS || rows.contains_key(&row) {
        row
    } else {
        TargetRow::Others
    }
}

/// Sorts a per-target table: the other targets, no target, then each target in the order of
/// its `ip:port` text (the order reports have always listed them in).
pub fn sort_target_rows<V, S: std::hash::BuildHasher>(rows: &mut IndexMap<TargetRow, V, S>) {
    rows.sort_by_cached_key(|row, _| match row {
        TargetRow::Others => (0, String::new()),
        TargetRow::NoTarget => (1, String::new()),
        TargetRow::Target(ep) => (2, ep.to_string()),
    });
}

/// Default for [`Keep::max_requests`].
pub const DEFAULT_MAX_KEPT_REQUESTS: usize = 10_000;

/// Which requests an analysis keeps in full (with evidence, timeline and connections); every
/// request is counted either way.
#[derive(Copy, Clone, Debug)]
pub struct Keep {
    /// Keep ok requests too, not only failed ones (`--all`).
    pub ok: bool,
    /// Most requests kept in full (memory grows with them); later ones are only counted (in
    /// [`Analysis::requests_not_kept`]). 0 keeps none.
    pub max_requests: usize,
}

impl Keep {
    /// Failed requests, up to [`DEFAULT_MAX_KEPT_REQUESTS`]; ok ones too when `ok`.
    pub fn new(ok: bool) -> Self {
        Keep {
            ok,
            max_requests: DEFAULT_MAX_KEPT_REQUESTS,
        }
    }
}

/// Which legs of a request were read from decrypted TLS (`--tls-keylog`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DecryptedLegs {
    /// The client's connection to the ALB.
    pub front: bool,
    /// The ALB's connection to the target.
    pub back: bool,
}

impl DecryptedLegs {
    /// Either leg.
    pub fn any(self) -> bool {
        self.front || self.back
    }
}

/// One diagnosed client request (values only: the report layer writes its sentences and its
/// JSON object, `report::json`).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Stable id: `f<front conn>.<index>` or `b<back conn>.<index>`.
    pub id: RequestId,
    /// When the request started.
    pub time: Timestamp,
    /// Client endpoint (none when the front end was not captured).
    pub client: Option<Endpoint>,
    /// Client address, also when only the back end was captured (last X-Forwarded-For entry).
    pub client_ip: Option<IpAddr>,
    /// ALB endpoint the client connected to (from the back end only: the node's address and
    /// the listener port named in X-Forwarded-Port).
    pub alb: Option<AlbAddr>,
    /// Target endpoint, none when no back-end attempt was seen.
    pub target: Option<Endpoint>,
    /// The ALB node's end of the back-end connection (its address and ephemeral port), none
    /// when no back-end attempt was seen; with `target`, the back connection's 4-tuple.
    pub back_alb: Option<Endpoint>,
    /// HTTP method (null when opaque).
    pub method: Option<Text>,
    /// Request target (null when opaque).
    pub path: Option<Text>,
    /// Host header.
    pub host: Option<Text>,
    /// The request as captured, or why it cannot be shown (encrypted, never sent, not
    /// readable).
    pub request: RequestSeen,
    /// Status the client got (or inferred, see `status_inferred`); null when none.
    pub status: Option<u16>,
    /// True when `status` was inferred from the back end because the front end was not seen
    /// (not captured, encrypted, or its answer missing from the capture).
    pub status_inferred: bool,
    /// True when the client's request was TLS (opaque) on the front end.
    pub front_encrypted: bool,
    /// Which legs' requests and responses were read from decrypted TLS records.
    pub decrypted: DecryptedLegs,
    /// Who produced the status.
    pub generated_by: Option<GeneratedBy>,
    /// Failure category.
    pub category: Category,
    /// Still waiting for its answer when the capture (or a damaged file) ended: counted apart
    /// (`Summary::in_flight_at_end`), never as failed.
    pub in_flight_at_end: bool,
    /// Encrypted front end alone: the answer's status is encrypted and the back end is not in
    /// the capture, and nothing the front end shows suggests a failure; or the target's answer
    /// is encrypted and no answer to the client is readable (cause
    /// [`Cause::AnsweredStatusNotVisible`]). Counted apart
    /// (`Summary::outcome_not_visible`), never as failed nor as ok.
    pub outcome_not_visible: bool,
    /// The front-end connection may carry HTTP/2: its TLS handshake or records show it, or
    /// its client offered it with the selection hidden (see [`crate::alb::front_http2`]):
    /// its encrypted exchanges are not requests.
    pub front_http2: bool,
    /// When `category` is `undetermined` because the capture cannot tell: the categories it may
    /// be, most likely first (empty when the category is proved or nothing suggests one).
    pub candidates: Vec<Category>,
    /// What happened (the headline's clause).
    pub cause: Cause,
    /// X-Amzn-Trace-Id.
    pub trace_id: Option<Text>,
    /// What the ALB access log would show.
    pub access_log: AccessLogView,
    /// Events of both legs on one clock.
    pub timeline: Vec<TimelineEvent>,
    /// Facts naming packets, timers and bytes.
    pub evidence: Vec<Evidence>,
    /// One-line fix.
    pub fix: Option<Text>,
    /// Ambiguities, missing legs.
    pub notes: Vec<Note>,
    /// How the legs were matched.
    pub pairing: PairingMethod,
    /// Server header of the target, when known.
    pub target_server: Option<Text>,
    /// HTTP/2 front end: the `RST_STREAM` the ALB ended the client's stream with instead of a
    /// status (e.g. `REFUSED_STREAM`: refused unprocessed, safe to retry).
    pub client_stream_reset: Option<ClientStreamReset>,
    /// For a gRPC request, the gRPC status the client sees (from the answer it got, or, when
    /// the ALB answered with an HTTP error, the status gRPC clients derive from it).
    pub grpc: Option<crate::protocol::GrpcOutcome>,
    /// The access-log entry joined to this request (only with `--access-log`).
    pub logged: Option<Box<logjoin::LoggedEntry>>,
}

/// The `RST_STREAM` an HTTP/2 client got from the ALB instead of a status.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientStreamReset {
    /// Its error code (see [`crate::protocol::H2ErrorCode`]).
    pub code: u32,
    /// `Some(true)`: the back end shows the target received the request and did not refuse it
    /// unprocessed (no `GOAWAY` or `REFUSED_STREAM` of its own for it): a retry repeats it
    /// there, whatever the code says. `Some(false)`: the back end was captured and shows no
    /// such request. `None`: the node's back end is not in the capture then.
    pub target_received: Option<bool>,
}

/// Counts for one category.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CategoryCount {
    /// Requests.
    pub count: u64,
    /// Of which the ALB generated the status.
    pub generated_by_lb: u64,
    /// Of which the target generated the status.
    pub generated_by_target: u64,
    /// Statuses seen (`None`: no status), in the order first seen.
    pub statuses: IndexMap<Option<u16>, u64>,
}

/// Counts for one target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetCount {
    /// Client requests sent to it.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Failed, by category.
    pub by_category: IndexMap<Category, u64>,
}

/// The summary counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Client requests.
    pub requests: u64,
    /// Ok ones.
    pub ok: u64,
    /// Failed ones.
    pub failed: u64,
    /// Still waiting for their answer when the capture ended (neither ok nor failed).
    pub in_flight_at_end: u64,
    /// Responses whose request was sent before the capture started (in flight at its start):
    /// not among `requests`.
    pub answered_before_capture: u64,
    /// Requests seen only as TLS application data (inferred from TLS records, no readable
    /// request on any leg).
    pub inferred_from_tls: u64,
    /// Requests (among `requests`) whose outcome is not visible: an encrypted front end alone,
    /// nothing proving a failure. Neither ok nor failed.
    pub outcome_not_visible: u64,
    /// Of `outcome_not_visible`, the target's answers seen over TLS whose status the capture
    /// cannot read (front end not captured or not readable, no keys): answered, status not
    /// visible.
    pub answered_not_visible: u64,
    /// The encrypted front-end exchanges whose outcome is not visible, by connection.
    pub encrypted_front: EncryptedFront,
    /// Client TLS handshakes with the ALB that failed (no request was made; CloudWatch
    /// `ClientTLSNegotiationErrorCount`).
    pub client_tls_failures: u64,
    /// The first [`MAX_CLIENT_TLS_FAILURES`] of them by time.
    pub client_tls_failure_list: Vec<crate::alb::ClientTlsFailure>,
    /// Client connects whose SYN to the listener got no answer (no request was made; the ALB
    /// logged nothing; the capture cannot tell why: see [`crate::alb::ListenerSilent`]).
    pub listener_silent: u64,
    /// The first [`MAX_CLIENT_TLS_FAILURES`] of them by time.
    pub listener_silent_list: Vec<crate::alb::ListenerSilent>,
    /// By category (in [`Category::ALL`] order).
    pub by_category: IndexMap<Category, CategoryCount>,
    /// By target (sorted by [`sort_target_rows`]).
    pub by_target: IndexMap<TargetRow, TargetCount>,
}

/// Most failed client TLS handshakes kept in full (the rest are counted).
pub const MAX_CLIENT_TLS_FAILURES: usize = 10;

/// Most connections [`EncryptedFront::connections`] lists (the rest are counted).
pub const MAX_OPAQUE_CONNECTIONS: usize = 1000;

/// The encrypted front end seen without keys and without the back end: what can be counted.
/// HTTP/1.1 over TLS carries one request per exchange (each also a request of the summary);
/// HTTP/2 carries many concurrent requests per connection, so its exchanges are not requests
/// and are counted here only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncryptedFront {
    /// Connections with an exchange whose outcome is not visible.
    pub connections: u64,
    /// Of which offering HTTP/2 or showing it (requests cannot be counted from their TLS
    /// records).
    pub http2_connections: u64,
    /// Exchanges (a client burst and the ALB's answer) whose outcome is not visible.
    pub exchanges: u64,
    /// Of which on connections offering HTTP/2 (not counted as requests).
    pub http2_exchanges: u64,
    /// The first [`MAX_OPAQUE_CONNECTIONS`] of those connections, in the order first seen.
    pub list: Vec<OpaqueConnection>,
}

/// One encrypted front-end connection with exchanges whose outcome is not visible.
#[derive(Clone, Debug, PartialEq)]
pub struct OpaqueConnection {
    /// The client.
    pub client: Endpoint,
    /// The ALB's end (node address as the client saw it, listener port).
    pub alb: Endpoint,
    /// HTTP/2 offered, or shown by the handshake or records ([`Finding::front_http2`]).
    pub http2: bool,
    /// Its exchanges whose outcome is not visible.
    pub exchanges: u64,
    /// The first such exchange's start.
    pub first: Timestamp,
    /// The last such exchange's start.
    pub last: Timestamp,
}

/// Health-check counts for one target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthTarget {
    /// Checks.
    pub checks: u64,
    /// Failed checks.
    pub failed: u64,
    /// Checks the target answered with an encrypted status (TLS without keys): neither passed
    /// nor failed, and not in `statuses`.
    pub not_visible: u64,
    /// Readable status codes answered (`None`: no answer), in the order first seen.
    pub statuses: IndexMap<Option<u16>, u64>,
}

/// A failed health check.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthFailure {
    /// When.
    pub time: Timestamp,
    /// ALB node.
    pub node: IpAddr,
    /// Target.
    pub target: Endpoint,
    /// Path checked.
    pub path: Option<String>,
    /// What went wrong (`None`: failed for no recorded reason).
    pub problem: Option<HealthProblem>,
    /// Where it starts.
    pub packet: Option<PacketPos>,
}

/// Health checks, reported apart from client requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthSummary {
    /// Checks seen.
    pub checks: u64,
    /// Of which failed.
    pub failed: u64,
    /// Of which answered with the status not visible (encrypted): neither passed nor failed.
    pub not_visible: u64,
    /// Per target (sorted by [`sort_target_rows`]).
    pub by_target: IndexMap<TargetRow, HealthTarget>,
    /// The first failures in full.
    pub failures: Vec<HealthFailure>,
}

/// A detected ALB node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeReport {
    /// Private address.
    pub ip: IpAddr,
    /// Why it is believed to be one.
    pub evidence: Vec<NodeEvidence>,
    /// Listener ports.
    pub listener_ports: Vec<u16>,
    /// Front-end connections.
    pub front_connections: u64,
    /// Back-end connections.
    pub back_connections: u64,
    /// Health checks sent.
    pub health_checks: u64,
    /// Mirror sessions, in the order of their text (`vxlan vni 1001 from 10.0.1.25`).
    pub sessions: Vec<MirrorSession>,
    /// Other addresses its clients reach it at (a public address, a proxy's client-facing
    /// interface), linked to it from the traffic.
    pub front_addresses: Vec<LinkedAddress>,
}

/// An address clients reach a node at, linked to the node by its back-end requests'
/// `X-Forwarded-For` (client), `X-Forwarded-Port` (listener), method, URI and Host, each
/// shortly after a front-end request to that address.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkedAddress {
    /// The address.
    pub ip: IpAddr,
    /// Back-end requests that agree with a front-end request to it.
    pub requests: usize,
    /// True when the front end is TLS without keys: each back-end request (`X-Forwarded-Proto:
    /// https`) agreed in timing with a client application-data burst on a TLS connection of
    /// its client to that address and listener port.
    pub tls_timing: bool,
}

/// One input file's clock against another's, as estimated or given.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockOffset {
    /// The file.
    pub file: String,
    /// How far its clock is ahead (negative: behind) of the reference.
    pub ahead: Duration,
    /// The file it is measured against (`None` when given with `--time-offset`).
    pub reference: Option<String>,
    /// Linked requests the estimate rests on (0 when given).
    pub requests: usize,
    /// True when the file's timestamps were corrected by `ahead` before the analysis.
    pub applied: bool,
    /// What the linked requests still show after the correction (0 when nothing is left).
    pub residual: Duration,
}

/// A target and what is known of it.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetReport {
    /// Its address.
    pub target: Endpoint,
    /// Its Server header.
    pub server: Option<String>,
    /// Its X-Powered-By header.
    pub powered_by: Option<String>,
    /// Its keep-alive timeout, read from its own idle closes.
    pub keepalive_timeout: Option<Duration>,
    /// The keep-alive timeout it announces on its responses (`Keep-Alive: timeout=N`).
    pub announced_keepalive: Option<Duration>,
}

/// The ALB timers used.
#[derive(Clone, Debug, PartialEq)]
pub struct Timers {
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Where the idle timeout came from.
    pub idle_timeout_source: TimerSource,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

/// Capture span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaptureSpan {
    /// First packet.
    pub first: Option<Timestamp>,
    /// Last packet.
    pub last: Option<Timestamp>,
    /// Time between them (zero without packets).
    pub duration: Duration,
}

/// The whole analysis: what every renderer shows (its JSON document is written by the report
/// layer).
#[derive(Clone, Debug)]
pub struct Analysis {
    /// Input files.
    pub inputs: Vec<String>,
    /// Which legs the capture holds.
    pub vantage: Vantage,
    /// ALB nodes.
    pub alb_nodes: Vec<NodeReport>,
    /// When no node is recognised: the addresses that may be one, most likely first, with the
    /// flags that would name them (never treated as nodes).
    pub alb_candidates: Vec<crate::alb::NodeCandidate>,
    /// Targets.
    pub targets: Vec<TargetReport>,
    /// Timers in force.
    pub timers: Timers,
    /// Capture span.
    pub capture: CaptureSpan,
    /// Input files whose clocks disagree with another's (several files only).
    pub clock_offsets: Vec<ClockOffset>,
    /// Each input's span and the vantages it showed (several files only).
    pub input_coverage: Vec<InputCoverage>,
    /// Each recording's span, vantages and gaps: one machine's files cut by rotation taken
    /// together (several files only).
    pub recordings: Vec<RecordingCoverage>,
    /// Counts.
    pub summary: Summary,
    /// Health checks.
    pub health_checks: HealthSummary,
    /// Failed requests (and ok ones when kept), in time order.
    pub requests: Vec<Finding>,
    /// True when ok requests are included in `requests`.
    pub includes_ok: bool,
    /// Requests that would have been listed in `requests` but were only counted, because
    /// [`Keep::max_requests`] were already kept.
    pub requests_not_kept: u64,
    /// The ALB layer against its limits.
    pub alb_limits: AlbLimits,
    /// Connections that were neither front nor back end.
    pub other_connections: u64,
    /// What each layer counted, and input damage.
    pub stats: RunStats,
    /// The access-log join (only with `--access-log`).
    pub access_log_join: Option<logjoin::LogJoinSummary>,
    /// CloudWatch counterparts, per-target and connection-reuse views (over all requests).
    pub metrics: metrics::Metrics,
    /// Connections of each kept request, by request id (for `extract` and diagrams).
    pub connections: IndexMap<RequestId, metrics::RequestConns>,
    /// Command-line options (as argument words) that another run over the same inputs must
    /// repeat to find the same requests under the same ids (e.g. for the `extract` command a
    /// report suggests); set by the caller, empty when the defaults were used.
    pub rerun_options: Vec<String>,
}

/// How the ALB layer fared against its limits (pairing memory, nodes, targets, sessions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlbLimits {
    /// The budget for legs waiting to be paired (`AlbConfig::max_pending_bytes`).
    pub pairing_budget_bytes: u64,
    /// Most bytes (estimated) held at once.
    pub pairing_peak_bytes: u64,
    /// Legs paired before their window closed because the budget was reached (their partner
    /// may have been missed: such requests can show a missing leg).
    pub legs_paired_early: u64,
    /// Unpaired back-end legs given up early because too many waited for a late front end.
    pub late_legs_dropped: u64,
    /// Failed front-end requests decided as "back end not captured" before their node's back
    /// end showed (too many waited for it), on a node whose back end was captured at their
    /// time after all (see [`Knowledge::front_legs_decided_early`]).
    pub front_legs_decided_early: u64,
    /// Connections not counted per ALB node because too many nodes were known.
    pub nodes_over_limit: u64,
    /// Connections to targets not tracked one by one because too many targets were known.
    pub targets_over_limit: u64,
    /// Connections (and strong-node sightings) through mirror sessions not listed for their
    /// node (over 64 per node) or not remembered (over 100 000).
    pub sessions_over_limit: u64,
    /// Target resets at a request diagnosed without the connects to their target after them
    /// (more than 256 resets on one target, 10 000 in all, watched or held): their verdicts stay undetermined.
    pub resets_not_followed: u64,
}

/// The [`PathSink`] that diagnoses requests as they come and builds the [`Analysis`].
pub struct Analyzer {
    files: Vec<String>,
    keep_ok: bool,
    max_kept: usize,
    not_kept: u64,
    requests: Vec<Finding>,
    summary: Summary,
    health: HealthSummary,
    log: Option<logjoin::LogIndex>,
    /// Measures the access log's clock (a pass before the join).
    log_probe: Option<logjoin::clock::LogClockProbe>,
    metrics: metrics::Collector,
    /// Idle timeouts (whole seconds) that requests showed the ALB giving up after.
    idle_seen: Vec<Duration>,
    /// Back-end connections without a front end that carried no readable request (bare
    /// connection attempts, single TLS exchanges): health checks when the ALB layer finds them
    /// on a health-check cadence, decided at the end of the capture (see
    /// [`Knowledge::may_be_cadence_check`]); and requests whose target reset them, decided
    /// once the connects after the reset are known ([`Knowledge::awaits_next_connect`]).
    held: std::collections::VecDeque<RequestPath>,
    /// Held resets at a request diagnosed before the end for [`MAX_HELD`].
    resets_released_early: u64,
    /// Kept findings whose timeline waits for a connection record (a leg paired before its
    /// connection closed), by entry number: the path, and the finding's index in `requests`.
    /// An entry is removed once its timeline is written (a kept finding holds its path only
    /// while a connection of it is open).
    /// (Boxed: a path is ~2 KB, and the map's nodes hold room for 11 entries.)
    awaiting: std::collections::BTreeMap<usize, (Box<RequestPath>, usize)>,
    /// The next entry number of `awaiting`.
    next_awaiting: usize,
    /// Connection id -> entries of `awaiting` with a leg on that connection.
    awaiting_by_conn: foldhash::HashMap<ConnId, Vec<usize>>,
    /// Where each (category, status) counts in [`Summary::by_category`] (its index, and its
    /// status's index in that category's `statuses`): found there once, then by a fast hash.
    count_slots: foldhash::HashMap<CountKey, (usize, usize)>,
    /// The (category, status) counted last and its slot in `count_slots`.
    last_count_slot: Option<(CountKey, (usize, usize))>,
    /// Where each row counts in [`Summary::by_target`], the same way.
    target_slots: foldhash::HashMap<TargetRow, usize>,
    /// The text the kept findings quote, one copy of each value.
    texts: intern::Interner,
}

/// What a request counts under in [`Summary::by_category`]: its category and status.
type CountKey = (Category, Option<u16>);

/// Drops the spare capacity of a kept finding's lists and strings: it is held to the end of
/// the run, and its lists were grown by pushing (a timeline of 5 events holds room for 8).
fn shrink_kept(f: &mut Finding) {
    f.timeline.shrink_to_fit();
    f.evidence.shrink_to_fit();
    f.notes.shrink_to_fit();
    f.candidates.shrink_to_fit();
}

/// How many more kept findings a full list makes room for, holding `len` with at most `max`
/// kept: a quarter more (at least 64), never past `max` (at least 1).
pub(crate) fn kept_growth(len: usize, max: usize) -> usize {
    (len / 4).max(64).min(max.saturating_sub(len)).max(1)
}

/// The health check a held back-end connection was: a bare attempt failed; a TLS exchange
/// that got an answer was answered, its status not visible (encrypted: not a proved pass).
fn held_health_check(b: &crate::alb::Leg) -> HealthCheck {
    let mut check = crate::alb::health_check(b, true);
    if check.status.is_none() && b.burst.as_ref().is_some_and(|x| x.response.is_some()) {
        check.outcome = HealthOutcome::AnsweredStatusNotVisible;
        check.problem = None;
    }
    check
}

/// True when `path`'s verdict waits for the connects to its target after the target reset
/// it: a reset at a request on a kept-alive connection, its keep-alive timer unknown
/// ([`Cause::ResetAtRequestTimerUnknown`]), decided at the end of the capture.
fn awaits_next_connect(path: &RequestPath, known: &Knowledge) -> bool {
    Knowledge::awaits_next_connect(path)
        && matches!(
            classify::diagnose_verdict(path, known, |_| false).cause,
            Cause::ResetAtRequestTimerUnknown { .. }
        )
}

/// Most back-end attempts held for the health-check cadence test; past it the oldest is
/// diagnosed as a client request at once.
const MAX_HELD: usize = 10_000;

/// Counts an exchange whose outcome is not visible with its connection.
fn count_opaque(e: &mut EncryptedFront, f: &Finding) {
    e.exchanges += 1;
    if f.front_http2 {
        e.http2_exchanges += 1;
    }
    let (Some(client), Some(AlbAddr::Endpoint(alb))) = (f.client, f.alb) else {
        return;
    };
    if let Some(c) = e
        .list
        .iter_mut()
        .find(|c| c.client == client && c.alb == alb)
    {
        c.exchanges += 1;
        c.first = c.first.min(f.time);
        c.last = c.last.max(f.time);
        return;
    }
    // Past the list's limit a connection is counted at its first exchange.
    if e.list.len() >= MAX_OPAQUE_CONNECTIONS && f.id.index > 0 {
        return;
    }
    e.connections += 1;
    if f.front_http2 {
        e.http2_connections += 1;
    }
    if e.list.len() < MAX_OPAQUE_CONNECTIONS {
        e.list.push(OpaqueConnection {
            client,
            alb,
            http2: f.front_http2,
            exchanges: 1,
            first: f.time,
            last: f.time,
        });
    }
}

impl Analyzer {
    /// An analyzer; `files` names the inputs (for packet references), `keep` says which
    /// requests are kept in full.
    pub fn new(files: Vec<String>, keep: Keep) -> Self {
        Analyzer {
            files,
            keep_ok: keep.ok,
            max_kept: keep.max_requests,
            not_kept: 0,
            requests: Vec::new(),
            summary: Summary::default(),
            health: HealthSummary::default(),
            log: None,
            log_probe: None,
            metrics: metrics::Collector::default().with_kept_limit(keep.max_requests),
            idle_seen: Vec::new(),
            held: std::collections::VecDeque::new(),
            resets_released_early: 0,
            awaiting: std::collections::BTreeMap::new(),
            next_awaiting: 0,
            awaiting_by_conn: foldhash::HashMap::default(),
            count_slots: foldhash::HashMap::default(),
            last_count_slot: None,
            target_slots: foldhash::HashMap::default(),
            texts: intern::Interner::default(),
        }
    }

    /// Joins each request to its entry in this access log as it is diagnosed.
    pub fn with_access_log(mut self, index: logjoin::LogIndex) -> Self {
        self.log = Some(index);
        self
    }

    /// Counts one diagnosed request in the summary (an exchange whose outcome is not visible
    /// was counted with its connection before, [`count_opaque`]).
    fn count(&mut self, f: &Tally) {
        if let Some(idle) = f.idle_seen {
            if self.idle_seen.len() < 1000 {
                self.idle_seen.push(idle);
            }
        }
        let s = &mut self.summary;
        let answered = f.answered_not_visible;
        let target = f.target;
        if f.outcome_not_visible && !answered && f.front_http2 {
            // An HTTP/2 exchange is not a request: counted with its connection only.
            return;
        }
        s.requests += 1;
        if f.from_tls {
            s.inferred_from_tls += 1;
        }
        if f.outcome_not_visible {
            s.outcome_not_visible += 1;
            if answered {
                // The target did get the request and answer it: its row counts it (not failed).
                s.answered_not_visible += 1;
                let row = target_row(&s.by_target, target);
                s.by_target.entry(row).or_default().requests += 1;
            }
            return;
        }
        if f.in_flight_at_end {
            s.in_flight_at_end += 1;
            if target.is_some() {
                // The target got the request (its answer may be on its way): its row counts
                // it, not failed, as the per-target metrics do.
                let row = target_row(&s.by_target, target);
                s.by_target.entry(row).or_default().requests += 1;
            }
            return;
        }
        if f.category.is_failure() {
            s.failed += 1;
        } else {
            s.ok += 1;
        }
        // The summary's maps are found through the slots (their order is the order first seen,
        // as with `entry`).
        // Most requests count where the one before did (ok, 200): that slot is tried first.
        let key = (f.category, f.status);
        let (ci, si) = match self.last_count_slot {
            Some((k, slot)) if k == key => slot,
            _ => {
                let slot = *self.count_slots.entry(key).or_insert_with(|| {
                    let c = s.by_category.entry(f.category);
                    let ci = c.index();
                    let c = c.or_default();
                    let si = c.statuses.entry(f.status).index();
                    c.statuses.entry(f.status).or_default();
                    (ci, si)
                });
                self.last_count_slot = Some((key, slot));
                slot
            }
        };
        if let Some((_, c)) = s.by_category.get_index_mut(ci) {
            c.count += 1;
            match f.generated_by {
                Some(GeneratedBy::Lb) => c.generated_by_lb += 1,
                Some(GeneratedBy::Target) => c.generated_by_target += 1,
                None => {}
            }
            if let Some((_, n)) = c.statuses.get_index_mut(si) {
                *n += 1;
            }
        }
        let row = target_row(&s.by_target, target);
        let ti = *self.target_slots.entry(row).or_insert_with(|| {
            let t = s.by_target.entry(row);
            let ti = t.index();
            t.or_default();
            ti
        });
        let Some((_, t)) = s.by_target.get_index_mut(ti) else {
            return;
        };
        t.requests += 1;
        if f.category.is_failure() {
            t.failed += 1;
            *t.by_category.entry(f.category).or_default() += 1;
        }
    }

    /// Diagnoses one request path: counts it, and keeps it in full when wanted.
    fn request(&mut self, path: RequestPath, known: &Knowledge) {
        // The timeline is written only for the requests kept (counting, the metrics and the
        // access-log join do not read it).
        // The verdict first; the words a report quotes only for the findings kept in full
        // (or all of them when an access log is joined or its clock measured: both read them).
        let room = self.requests.len() < self.max_kept;
        let all_words = self.log.is_some() || self.log_probe.is_some();
        let keep_ok = self.keep_ok;
        // Every finding wants its words (joined to a log, or kept whatever its category).
        let words_always = all_words || (room && keep_ok);
        if !words_always {
            if let Some(tally) = classify::plain_ok_tally(&path, known) {
                // A plain ok request that is not kept (ok ones not wanted, or no room left):
                // counted only, as below (`wanted` is `keep_ok`, `keep` false).
                if keep_ok {
                    self.not_kept += 1;
                }
                self.count(&tally);
                self.metrics.observe(&tally);
                return;
            }
        }
        let mut finding = if words_always {
            classify::diagnose_words(&path, known)
        } else {
            classify::diagnose_verdict(&path, known, |c| room && c.is_failure())
        };
        // An HTTP/2 exchange whose outcome is not visible is not a request: counted with its
        // connection, never listed.
        let exchange_only = finding.outcome_not_visible && finding.front_http2;
        let wanted = !exchange_only && (finding.category.is_failure() || self.keep_ok);
        let wanted = wanted && (finding.is_failure() || finding.in_flight_at_end || self.keep_ok);
        let keep = wanted && self.requests.len() < self.max_kept;
        if wanted && !keep {
            self.not_kept += 1;
        }
        let lacks_record = |p: &RequestPath| {
            [&p.front, &p.back]
                .into_iter()
                .flatten()
                .any(|l| l.record.is_none())
        };
        let awaits = keep && lacks_record(&path);
        if keep && !awaits {
            finding.timeline = classify::timeline(&path);
        }
        // Not a request: it must not take a request's log entry (nor count as one offered).
        if let Some(log) = self.log.as_mut().filter(|_| !exchange_only) {
            finding.logged = log.join(&finding).map(Box::new);
        }
        if let Some(probe) = &mut self.log_probe {
            let trace = finding
                .trace_id
                .as_deref()
                .or(finding.access_log.trace_id.as_deref());
            let start = finding
                .access_log
                .request_creation_time
                .unwrap_or(finding.time);
            // The file of the leg the start was read from (the front end when captured).
            let file = path
                .front
                .as_deref()
                .or(path.back.as_deref())
                .and_then(crate::alb::Leg::first_pos);
            if let (Some(trace), Some(pos)) = (trace, file) {
                probe.observe(trace, start, pos.file);
            }
        }
        let tally = Tally::of(&finding, &path);
        if finding.outcome_not_visible && !tally.answered_not_visible {
            count_opaque(&mut self.summary.encrypted_front, &finding);
        }
        self.count(&tally);
        if !exchange_only {
            self.metrics.observe(&tally);
            if keep {
                self.metrics.keep_conns(&path, &finding);
            }
        }
        if keep {
            if awaits {
                let entry = self.next_awaiting;
                self.next_awaiting += 1;
                for leg in [&path.front, &path.back].into_iter().flatten() {
                    if leg.record.is_none() {
                        let list = self.awaiting_by_conn.entry(leg.conn.id).or_default();
                        if !list.contains(&entry) {
                            list.push(entry);
                        }
                    }
                }
                self.awaiting
                    .insert(entry, (Box::new(path), self.requests.len()));
            }
            // Kept findings are large (~0.6 KB before their heap parts): grow by a quarter
            // rather than doubling, so the list holds at most a quarter unused, and never
            // past the most kept.
            shrink_kept(&mut finding);
            self.texts.finding(&mut finding);
            if self.requests.len() == self.requests.capacity() {
                self.requests
                    .reserve_exact(kept_growth(self.requests.len(), self.max_kept));
            }
            self.requests.push(finding);
        }
    }

    /// Writes the timeline of an awaiting kept finding (with the records that came) and
    /// refreshes its connections in the metrics.
    fn write_timeline(&mut self, entry: usize) {
        let Some((path, index)) = self.awaiting.remove(&entry) else {
            return;
        };
        if let Some(f) = self.requests.get_mut(index) {
            f.timeline = classify::timeline(&path);
            f.timeline.shrink_to_fit();
            self.texts.timeline(&mut f.timeline);
            self.metrics.refresh_conns(&path, f.id);
        }
    }

    /// The connection of `record` closed: the kept findings waiting for it get it, and their
    /// timelines once no leg lacks one.
    fn connection_closed(&mut self, record: &Arc<ClosedConn>) {
        let Some(entries) = self.awaiting_by_conn.remove(&record.tcp.id) else {
            return;
        };
        for entry in entries {
            let Some((path, _)) = self.awaiting.get_mut(&entry) else {
                continue;
            };
            let mut complete = true;
            for leg in [&mut path.front, &mut path.back].into_iter().flatten() {
                if leg.record.is_none() && leg.conn.id == record.tcp.id {
                    leg.record = Some(record.clone());
                }
                complete &= leg.record.is_some();
            }
            if complete {
                self.write_timeline(entry);
            }
        }
    }

    /// The held back-end attempts, now that every connection is known: those the ALB layer
    /// finds on a health-check cadence ([`Knowledge::health_check_by_cadence`]) are health
    /// checks (a refused or failed health-check connect, a health check over TLS), the others
    /// client requests.
    fn release_held(&mut self, known: &Knowledge) {
        let mut held: Vec<RequestPath> = std::mem::take(&mut self.held).into();
        held.sort_by_key(|p| p.back.as_ref().map(|b| b.time()));
        for p in held {
            match p.back.as_ref() {
                Some(b) if known.health_check_by_cadence(b) => {
                    let check = held_health_check(b);
                    self.health_check(check, known);
                }
                _ => self.request(p, known),
            }
        }
    }

    /// Builds the analysis from what was gathered, what the ALB layer learned and run stats.
    pub fn finish(mut self, known: &Knowledge, stats: RunStats) -> Analysis {
        self.release_held(known);
        // Connections still open at the end of the capture were closed (with their records)
        // before this; whatever still waits has its timeline from what came.
        while let Some((&entry, _)) = self.awaiting.first_key_value() {
            self.write_timeline(entry);
        }
        self.requests
            .sort_by(|a, b| a.time.cmp(&b.time).then(a.id.cmp(&b.id)));
        let order = |c: &Category| Category::ALL.iter().position(|x| x == c);
        self.summary
            .by_category
            .sort_by(|a, _, b, _| order(a).cmp(&order(b)));
        sort_target_rows(&mut self.summary.by_target);
        for t in self.summary.by_target.values_mut() {
            t.by_category.sort_by(|a, _, b, _| order(a).cmp(&order(b)));
        }
        sort_target_rows(&mut self.health.by_target);
        sort_health_failures(&mut self.health.failures);
        let (mut idle, mut src) = known.idle_timeout();
        // Not given and not seen in idle closes: the one the requests show, when they agree,
        // so that the header quotes the number the findings do.
        if src == TimerSource::Default {
            if let Some(first) = self.idle_seen.first() {
                if self.idle_seen.iter().all(|d| d == first) {
                    idle = *first;
                    src = TimerSource::Inferred;
                }
            }
        }
        let linked: Vec<&NodeLink> = known.links.links().collect();
        let alb_nodes = known
            .alb_nodes()
            .into_iter()
            .filter(|n| !n.ip.is_some_and(|ip| known.links.node_for(ip).is_some()))
            .filter_map(|n| {
                let ip = n.ip?;
                let fronts: Vec<&NodeLink> =
                    linked.iter().copied().filter(|l| l.node == ip).collect();
                // Connections counted under a front-end address before it was linked too.
                let (front_connections, listener_ports) = known.front_connections(ip);
                Some(NodeReport {
                    ip,
                    front_addresses: fronts
                        .iter()
                        .map(|l| LinkedAddress {
                            ip: l.front,
                            requests: l.requests,
                            tls_timing: l.tls_timing,
                        })
                        .collect(),
                    evidence: n.evidence.clone(),
                    listener_ports: listener_ports.into_iter().collect(),
                    front_connections,
                    back_connections: n.back_connections,
                    health_checks: n.health_checks,
                    sessions: {
                        let mut s: Vec<MirrorSession> = n.sessions.iter().copied().collect();
                        s.sort_by_cached_key(MirrorSession::to_string);
                        s
                    },
                })
            })
            .collect();
        let mut targets: Vec<TargetReport> = known
            .targets
            .iter()
            .map(|(ep, t)| TargetReport {
                target: *ep,
                server: t.server.clone(),
                powered_by: t.powered_by.clone(),
                keepalive_timeout: t.keepalive_timeout(),
                announced_keepalive: t.announced_keepalive,
            })
            .collect();
        // In the order of their `ip:port` text, as reports have always listed them.
        targets.sort_by_cached_key(|t| t.target.to_string());
        let capture = CaptureSpan {
            first: stats.first_ts,
            last: stats.last_ts,
            duration: match (stats.first_ts, stats.last_ts) {
                (Some(a), Some(b)) => b.since(a),
                _ => Duration(0),
            },
        };
        let clock_offsets = clock_offsets(known, &self.files);
        let input_coverage = input_coverage(known, &self.files);
        let recordings = recording_coverage(known, &input_coverage);
        let access_log_join = self.log.map(|l| l.finish(stats.first_ts, stats.last_ts));
        let (metrics, connections) = self.metrics.finish();
        self.summary.answered_before_capture = known.answered_before_capture;
        Analysis {
            access_log_join,
            inputs: self.files,
            vantage: known.vantage(),
            alb_nodes,
            alb_candidates: known.node_candidates(),
            targets,
            timers: Timers {
                idle_timeout: idle,
                idle_timeout_source: src,
                connect_timeout: known.config.connect_timeout,
            },
            capture,
            clock_offsets,
            input_coverage,
            recordings,
            summary: self.summary,
            health_checks: self.health,
            requests: self.requests,
            includes_ok: self.keep_ok,
            requests_not_kept: self.not_kept,
            alb_limits: AlbLimits {
                pairing_budget_bytes: known.config.max_pending_bytes as u64,
                pairing_peak_bytes: known.peak_pending_bytes,
                legs_paired_early: known.legs_paired_early,
                late_legs_dropped: known.late_legs_dropped,
                front_legs_decided_early: known.front_legs_decided_early,
                nodes_over_limit: known.nodes_over_limit,
                targets_over_limit: known.targets_over_limit,
                sessions_over_limit: known.sessions_over_limit,
                resets_not_followed: self.resets_released_early + known.next_connects.over_limit,
            },
            other_connections: known.unlinked_other_connections(),
            stats,
            metrics,
            connections,
            rerun_options: Vec::new(),
        }
    }
}

impl PathSink for Analyzer {
    fn path(&mut self, path: RequestPath, known: &Knowledge) {
        if Knowledge::may_be_cadence_check(&path) || awaits_next_connect(&path, known) {
            if self.held.len() >= MAX_HELD {
                if let Some(oldest) = self.held.pop_front() {
                    if Knowledge::awaits_next_connect(&oldest) {
                        self.resets_released_early += 1;
                    }
                    self.request(oldest, known);
                }
            }
            self.held.push_back(path);
            return;
        }
        self.request(path, known);
    }

    fn closed(&mut self, record: &Arc<ClosedConn>) {
        self.connection_closed(record);
    }

    fn client_tls_failure(&mut self, failure: crate::alb::ClientTlsFailure) {
        let s = &mut self.summary;
        s.client_tls_failures += 1;
        let list = &mut s.client_tls_failure_list;
        let at = list.partition_point(|f| f.time <= failure.time);
        if at < MAX_CLIENT_TLS_FAILURES {
            list.insert(at, failure);
            list.truncate(MAX_CLIENT_TLS_FAILURES);
        }
    }

    fn listener_silent(&mut self, silent: crate::alb::ListenerSilent) {
        let s = &mut self.summary;
        s.listener_silent += 1;
        let list = &mut s.listener_silent_list;
        let at = list.partition_point(|f| f.time <= silent.time);
        if at < MAX_CLIENT_TLS_FAILURES {
            list.insert(at, silent);
            list.truncate(MAX_CLIENT_TLS_FAILURES);
        }
    }

    fn health_check(&mut self, check: HealthCheck, _known: &Knowledge) {
        let h = &mut self.health;
        h.checks += 1;
        let row = target_row(&h.by_target, Some(check.target));
        let t = h.by_target.entry(row).or_default();
        t.checks += 1;
        if check.outcome == HealthOutcome::AnsweredStatusNotVisible {
            h.not_visible += 1;
            t.not_visible += 1;
        } else {
            *t.statuses.entry(check.status).or_default() += 1;
        }
        if check.outcome.failed() {
            h.failed += 1;
            t.failed += 1;
            // The earliest failures by time (not by the order pairing hands them over, which
            // follows its batches): kept sorted, at most twice the limit between trims.
            h.failures.push(HealthFailure {
                time: check.time,
                node: check.node,
                target: check.target,
                path: check.path,
                problem: check.problem,
                packet: check.pos,
            });
            if h.failures.len() >= 2 * MAX_HEALTH_FAILURES {
                sort_health_failures(&mut h.failures);
            }
        }
    }
}

/// Sorts health-check failures by time (then packet, node, target) and keeps the first
/// [`MAX_HEALTH_FAILURES`].
fn sort_health_failures(list: &mut Vec<HealthFailure>) {
    list.sort_by(|a, b| {
        (a.time, a.packet, a.node, a.target).cmp(&(b.time, b.packet, b.node, b.target))
    });
    list.truncate(MAX_HEALTH_FAILURES);
}

/// `#12` for a single input, `name#12` when there are several.
pub fn packet_ref(files: &[String], pos: PacketPos) -> String {
    if files.len() > 1 {
        let name = files
            .get(usize::from(pos.file))
            .map(|f| {
                std::path::Path::new(f)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| f.clone())
            })
            .unwrap_or_else(|| format!("file{}", pos.file));
        format!("{name}#{}", pos.number)
    } else {
        format!("#{}", pos.number)
    }
}

/// Rounds to milliseconds (for stable JSON).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;

/// Runs the whole analysis of `reader`: pipeline -> ALB pairing -> diagnosis. `keep_ok` keeps
/// ok requests in full (`--all`).
pub fn analyze_capture(
    reader: &mut crate::capture::CaptureReader,
    pipeline: &crate::pipeline::PipelineConfig,
    alb: crate::alb::AlbConfig,
    keep_ok: bool,
) -> Analysis {
    analyze_capture_with_log(reader, pipeline, alb, Keep::new(keep_ok), None)
}

/// [`analyze_capture`] with a choice of requests kept, joining each request to its entry in
/// `log` when given.
pub fn analyze_capture_with_log(
    reader: &mut crate::capture::CaptureReader,
    pipeline: &crate::pipeline::PipelineConfig,
    alb: crate::alb::AlbConfig,
    keep: Keep,
    log: Option<logjoin::LogIndex>,
) -> Analysis {
    analyze_capture_probing(reader, pipeline, alb, keep, log, None).0
}

/// [`analyze_capture_with_log`] that also measures the access log's clock with `probe` (see
/// [`logjoin::clock`]), returned with its samples.
pub fn analyze_capture_probing(
    reader: &mut crate::capture::CaptureReader,
    pipeline: &crate::pipeline::PipelineConfig,
    alb: crate::alb::AlbConfig,
    keep: Keep,
    log: Option<logjoin::LogIndex>,
    probe: Option<logjoin::clock::LogClockProbe>,
) -> (Analysis, Option<logjoin::clock::LogClockProbe>) {
    let mut analyzer = Analyzer::new(reader.file_names(), keep);
    if let Some(log) = log {
        analyzer = analyzer.with_access_log(log);
    }
    analyzer.log_probe = probe;
    let mut tracker = crate::alb::AlbTracker::new(alb, analyzer);
    tracker.set_input_starts(reader.input_starts());
    tracker.set_input_ends(reader.input_ends());
    let stats = crate::pipeline::run_app(reader, pipeline, &mut tracker);
    let (mut analyzer, known) = tracker.finish();
    let probe = analyzer.log_probe.take();
    (analyzer.finish(&known, stats), probe)
}

impl Finding {
    /// A failed request: not `ok`, not merely still in flight when the capture ended, and not
    /// one whose outcome is not visible.
    pub fn is_failure(&self) -> bool {
        self.category.is_failure() && !self.in_flight_at_end && !self.outcome_not_visible
    }
}

impl Analysis {
    /// A copy without the ok requests (the default report when the analysis kept them).
    pub fn failures_only(&self) -> Analysis {
        let mut a = self.clone();
        a.requests.retain(|r| r.is_failure() || r.in_flight_at_end);
        a.includes_ok = false;
        a
    }
}
