//! Per-connection protocol state: detects the application, feeds the HTTP or TLS parsers, pairs
//! requests with responses and reports exchanges and connections to the [`AppSink`].

use super::decrypt::{DecryptStatus, Decryptor, KeyLog, Plain};
use super::http::{match_literal, match_method, Match, ReqEvent, ReqKind, RequestParser};
use super::http::{Pending, RespEvent, ResponseParser, Seg};
use super::http2::{match_preface, H2Conn, H2Counters};
use super::tls::TlsConn;
use super::{
    escape_bytes, AppKind, AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange,
};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{BufferBudget, ConnId, Dir, FlowEvent, GapCause};
use std::collections::VecDeque;
use std::sync::Arc;
/// Looked up for every flow event: foldhash (seeded per process) is several times faster than
/// SipHash on these small keys.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// Parser limits.
#[derive(Clone, Debug)]
pub struct ProtocolConfig {
    /// A response header block larger than this is `HeaderTooLarge` (ALB: 32 KB).
    pub max_response_header_bytes: usize,
    /// A request header block larger than this stops parsing that stream (ALB: 64 KB).
    pub max_request_header_bytes: usize,
    /// Most headers kept per message.
    pub max_headers: usize,
    /// TLS session secrets (`--tls-keylog`): connections whose session is in it are decrypted.
    pub keys: Arc<KeyLog>,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            max_response_header_bytes: 32 * 1024,
            max_request_header_bytes: 64 * 1024,
            max_headers: 128,
            keys: Arc::default(),
        }
    }
}

/// Counters for the report.
#[derive(Clone, Debug, Default)]
pub struct ProtocolStats {
    /// HTTP requests parsed.
    pub requests: u64,
    /// HTTP responses parsed.
    pub responses: u64,
    /// Responses that could not be parsed.
    pub response_errors: u64,
    /// TLS connections.
    pub tls_connections: u64,
    /// Connections seen (Open events).
    pub connections: u64,
    /// HTTP connections.
    pub http_connections: u64,
    /// Connections whose payload was neither HTTP nor TLS.
    pub unknown_connections: u64,
    /// Exchanges reported as finished.
    pub exchanges: u64,
    /// Exchanges handed over unfinished at connection close.
    pub unfinished_exchanges: u64,
    /// Requests that could not be read (gap in the header block, invalid, too large).
    pub requests_dropped: u64,
    /// Responses that arrived with no outstanding request.
    pub orphan_responses: u64,
    /// Exchanges not tracked because too many were outstanding on one connection.
    pub queue_overflows: u64,
    /// TLS records or handshake messages that could not be read.
    pub tls_errors: u64,
    /// Connections first seen mid-stream that were recognised as HTTP at a later message.
    pub mid_stream_http: u64,
    /// Events for a connection never opened (ignored).
    pub events_without_open: u64,
    /// Continuations of evicted connections (Open events counted apart from `connections`).
    pub continuations: u64,
    /// Header blocks (requests and responses) skipped because a memory limit was reached
    /// (their exchanges carry [`HttpExchange::headers_skipped`]).
    pub headers_skipped: u64,
    /// Bytes of those header blocks that had been buffered when they were skipped.
    pub header_bytes_skipped: u64,
    /// Bytes of TLS records and handshake messages given up because the buffer budget was
    /// exhausted.
    pub tls_bytes_skipped: u64,
    /// TLS connections decrypted with the key log.
    pub tls_decrypted: u64,
    /// TLS connections left opaque because the key log has no line for their session.
    pub tls_keys_missing: u64,
    /// TLS connections left opaque because their hellos were not captured.
    pub tls_handshake_missing: u64,
    /// TLS connections whose handshake never chose a session (no ServerHello).
    pub tls_not_established: u64,
    /// TLS connections left opaque because their cipher suite is not decrypted (e.g. CBC).
    pub tls_unsupported_cipher: u64,
    /// TLS connections whose keys were found but opened no record.
    pub tls_decrypt_failed: u64,
    /// TLS records that did not authenticate with the keys found (wrong key, tag mismatch).
    pub tls_decrypt_failures: u64,
    /// TLS records lost in capture gaps on decrypted connections.
    pub tls_records_lost: u64,
    /// Record streams found again after a gap broke their framing.
    pub tls_resyncs: u64,
    /// Directions of decrypted connections whose records were not found again after a gap.
    pub tls_unsynced: u64,
    /// HTTP/2 connections: clear-text ones (client preface seen, also counted in
    /// `http_connections`) and decrypted TLS ones whose inner protocol is HTTP/2.
    pub h2_connections: u64,
    /// HTTP/2 frames read.
    pub h2_frames: u64,
    /// HTTP/2 frames whose payload was not kept (over the header-block cap, gap, memory).
    pub h2_frames_skipped: u64,
    /// HTTP/2 header blocks that could not be decoded (HPACK state lost or invalid).
    pub h2_undecodable_blocks: u64,
    /// HTTP/2 directions whose frame boundaries were lost (a gap between frames).
    pub h2_lost_directions: u64,
    /// HTTP/2 streams not followed because too many were open on one connection.
    pub h2_streams_over_cap: u64,
    /// HTTP/2 RST_STREAM frames.
    pub h2_resets: u64,
    /// HTTP/2 GOAWAY frames.
    pub h2_goaways: u64,
    /// HTTP/2 flow-control stalls.
    pub h2_stalls: u64,
}

impl ProtocolStats {
    /// Adds what an HTTP/2 connection counted.
    fn add_h2(&mut self, c: &H2Counters) {
        self.h2_frames += c.frames;
        self.h2_frames_skipped += c.frames_skipped;
        self.h2_undecodable_blocks += c.undecodable_blocks;
        self.h2_lost_directions += c.lost_directions;
        self.h2_streams_over_cap += c.streams_over_cap;
        self.h2_resets += c.resets;
        self.h2_goaways += c.goaways;
        self.h2_stalls += c.stalls;
        self.headers_skipped += c.blocks_skipped_memory;
        self.header_bytes_skipped += c.bytes_released;
    }
}

/// Bytes held per direction before the application is known.
const DETECT_BYTES: usize = 24;
/// Escaped excerpt length for unknown payload.
const EXCERPT_LEN: usize = 64;
/// Bytes searched for an HTTP message start on a connection that did not begin with one.
const MAX_PROBE_BYTES: u64 = 256 * 1024;
/// Events held per connection before the application is known.
const MAX_HELD: usize = 64;
/// Server bytes held while waiting for the client's preface after an HTTP/2 SETTINGS frame.
const MAX_SETTINGS_WAIT: usize = 4096;
/// Outstanding exchanges tracked per connection.
const MAX_QUEUE: usize = 256;

/// Something that arrived before the application was known.
#[derive(Debug)]
enum Held {
    Data {
        dir: Dir,
        ts: Timestamp,
        pos: PacketPos,
        offset: u64,
        bytes: Vec<u8>,
    },
    Gap {
        dir: Dir,
        ts: Timestamp,
        offset: u64,
        len: u64,
    },
}

/// An exchange waiting for (the end of) its response: built in its box when its request
/// head is read, handed to the sink in it.
#[derive(Debug)]
struct Slot {
    ex: ExchangeBox,
    /// A response (or an error) was assigned to it.
    claimed: bool,
    /// What its request's method says of its response (read once, not at every packet of
    /// the answer).
    kind: ReqKind,
}

/// The requests of a connection's queue still to be answered, as the response parser asks
/// for them (only when it reads a final response head).
struct Unclaimed<'q>(&'q VecDeque<Slot>);

impl Pending for Unclaimed<'_> {
    fn kind(&self, n: usize) -> ReqKind {
        self.0
            .iter()
            .filter(|s| !s.claimed)
            .nth(n)
            .map_or(ReqKind::Other, |s| s.kind)
    }
}

impl Slot {
    /// A slot for `ex`, its request's kind read from its method.
    fn new(ex: ExchangeBox, claimed: bool) -> Self {
        let kind = match ex.request.as_ref().map(|r| r.method()) {
            Some(m) if m.eq_ignore_ascii_case("HEAD") => ReqKind::Head,
            Some(m) if m.eq_ignore_ascii_case("CONNECT") => ReqKind::Connect,
            _ => ReqKind::Other,
        };
        Slot { ex, claimed, kind }
    }
}

/// HTTP state of one connection.
#[derive(Debug)]
struct HttpConn {
    req: RequestParser,
    resp: ResponseParser,
    queue: VecDeque<Slot>,
    next_index: u32,
    finished: u32,
    last_end: Option<Timestamp>,
    /// The last finished exchange's response ended the connection by its own headers.
    last_closes: bool,
    /// When the connection stopped being HTTP (a `101 Switching Protocols`, a CONNECT
    /// answered 2xx): from then on it carries the tunnel's bytes.
    tunnel_since: Option<Timestamp>,
    req_current: Option<u32>,
    resp_slot: Option<u32>,
}

impl HttpConn {
    fn new(req: RequestParser, resp: ResponseParser) -> Self {
        HttpConn {
            req,
            resp,
            queue: VecDeque::new(),
            next_index: 0,
            finished: 0,
            last_end: None,
            last_closes: false,
            tunnel_since: None,
            req_current: None,
            resp_slot: None,
        }
    }

    /// Idle time before a request that becomes exchange `index`: from the end of the previous
    /// exchange, when that one has ended (it is no longer waiting in the queue).
    fn idle_before(&self, index: u32, first_byte: Timestamp) -> Option<Duration> {
        let prev_open = self
            .queue
            .back()
            .is_some_and(|s| s.ex.index.saturating_add(1) == index);
        if index == 0 || prev_open {
            None
        } else {
            self.last_end.map(|e| first_byte.since(e))
        }
    }

    fn slot(&mut self, index: Option<u32>) -> Option<&mut Slot> {
        let index = index?;
        self.queue.iter_mut().find(|s| s.ex.index == index)
    }
}

/// When an exchange starts, as the ALB layer orders legs: its request, else its response.
fn exchange_start(ex: &HttpExchange) -> Option<Timestamp> {
    ex.request
        .as_ref()
        .map(|r| r.first_byte)
        .or(ex.request_lost_at)
        .or(ex.response.as_ref().map(|r| r.first_byte))
        .or(ex.response_error.as_ref().map(|e| e.first_byte))
}

/// Queues an exchange; the first takes one slot, not the four a `VecDeque` grows to at once:
/// most connections have one exchange outstanding at a time. The slot is kept for the
/// connection's next exchanges (no allocation per exchange on a keep-alive connection).
#[inline]
fn push_slot(queue: &mut VecDeque<Slot>, slot: Slot) {
    if queue.capacity() == 0 {
        queue.reserve_exact(1);
    }
    queue.push_back(slot);
}

/// State of one connection.
#[derive(Debug)]
struct Conn {
    ctx: ConnContext,
    app: Option<AppKind>,
    held: Vec<Held>,
    held_bytes: [usize; 2],
    first_dir: Option<Dir>,
    unknown: Vec<u8>,
    /// Bytes searched for HTTP on an unknown connection.
    probed: u64,
    http: Option<Box<HttpConn>>,
    /// HTTP/2 state, when the client stream began with the preface, or the decrypted stream of
    /// a TLS connection is HTTP/2 (then `http` is `None`).
    h2: Option<Box<H2Conn>>,
    tls: Option<Box<TlsConn>>,
    /// Bytes charged against the buffer budget for this connection's buffers.
    charged: usize,
    /// The rest of a connection evicted earlier: not counted again in the connection counters.
    continuation: bool,
    /// Decryption state, on a TLS connection when a key log was given.
    decrypt: Option<Box<Decryptor>>,
    /// Plaintext bytes handed to the parsers so far, per direction (their stream offsets).
    plain_offset: [u64; 2],
    /// The protocol inside decrypted TLS, once its first bytes were seen.
    inner: Option<plaintext::Inner>,
    /// Decrypted pieces held until the inner protocol is known.
    undecided: Vec<Plain>,
}

impl Conn {
    /// The earliest start time of an exchange or attempt this connection may still report:
    /// the connection's opening while it has finished no exchange (its first request, a TLS
    /// burst or the bare attempt are reported later, from that time on), else the oldest
    /// exchange waiting for its response and the messages being read. `None`: nothing pending
    /// (a later request starts after the packets already seen).
    fn pending_since(&self) -> Option<Timestamp> {
        match &self.http {
            Some(h) if h.finished > 0 => {
                let queued = h.queue.iter().filter_map(|s| exchange_start(&s.ex)).min();
                [
                    queued,
                    h.req.in_progress_since(),
                    h.resp.in_progress_since(),
                ]
                .into_iter()
                .flatten()
                .min()
            }
            _ => Some(self.ctx.opened),
        }
    }

    /// [`Conn::pending_since`] split by what is known of it: requests in flight whose head
    /// was read go to `keyed` (their request line's [`request_line_hash`] and start); the
    /// earliest start of anything else this connection may still report is returned (its
    /// opening while it has reported nothing and queued no request, a request head being read,
    /// an answer to no queued request, a queued exchange without a request).
    fn in_flight(&self, keyed: &mut Vec<(u64, Timestamp)>) -> Option<Timestamp> {
        let h = match &self.http {
            Some(h) if h.finished > 0 || h.queue.iter().any(|s| s.ex.request.is_some()) => h,
            _ => return Some(self.ctx.opened),
        };
        let from = keyed.len();
        let mut other: Option<Timestamp> = None;
        for s in &h.queue {
            match (&s.ex.request, exchange_start(&s.ex)) {
                (Some(r), Some(t)) => keyed.push((request_line_hash(r.method(), r.target()), t)),
                (_, t) => other = other.into_iter().chain(t).min(),
            }
        }
        let mine = keyed.get(from..).unwrap_or(&[]);
        // A request being read whose head is queued already (its body) is that request.
        if let Some(t) = h.req.in_progress_since() {
            if !mine.iter().any(|&(_, k)| k == t) {
                other = other.into_iter().chain([t]).min();
            }
        }
        // A response being read answers a queued request that started before it.
        if let Some(t) = h.resp.in_progress_since() {
            if !mine.iter().any(|&(_, k)| k <= t) {
                other = other.into_iter().chain([t]).min();
            }
        }
        other
    }

    /// True when the connection has carried no payload (nor a gap) yet: all it may still report
    /// starts after the packets seen, but the bare connection leg (see [`InFlight::quiet`]).
    fn quiet(&self) -> bool {
        self.app.is_none() && self.first_dir.is_none() && self.held.is_empty()
    }

    /// Heap held by this connection's buffers (header blocks, held bytes, TLS records):
    /// asked after every data event, so read inline.
    #[inline]
    fn memory(&self) -> usize {
        // A clear-text HTTP/1.x connection (nearly all): its two header buffers, the rest
        // being empty (the sum below would add nothing else).
        if let (Some(h), None, None, None) = (&self.http, &self.tls, &self.decrypt, &self.h2) {
            if self.held_bytes == [0, 0] && self.undecided.is_empty() {
                return h.req.memory().saturating_add(h.resp.memory());
            }
        }
        let held = self.held_bytes[0].saturating_add(self.held_bytes[1]);
        let http = self
            .http
            .as_ref()
            .map_or(0, |h| h.req.memory().saturating_add(h.resp.memory()));
        let tls = self.tls.as_ref().map_or(0, |t| t.memory());
        let dec = self.decrypt.as_ref().map_or(0, |d| d.memory());
        let h2 = self.h2.as_ref().map_or(0, |h| h.memory());
        let undecided = self.undecided_bytes();
        held.saturating_add(http)
            .saturating_add(undecided)
            .saturating_add(tls)
            .saturating_add(dec)
            .saturating_add(h2)
    }
}

/// A hash of a request's method and target (deterministic, no allocation): the one key of a
/// request line for [`InFlight::requests`], the ALB layer's queued legs and its pairing
/// indexes. foldhash over each text in one piece (a request is hashed once per leg queued and
/// per pairing batch that looks at it: a byte at a time was most of queuing a leg).
pub fn request_line_hash(method: &str, target: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x5851_f42d_4c95_7f2d).build_hasher();
    h.write(method.as_bytes());
    h.write_u8(0xff);
    h.write(target.as_bytes());
    h.finish()
}

/// Most requests [`InFlight::requests`] lists; past it they are folded into
/// [`InFlight::since`].
pub const MAX_IN_FLIGHT_LINES: usize = 1024;

/// What open connections may still report, as of a clock tick: everything still to come starts
/// at or after [`InFlight::since`], except the listed requests, which are in flight with their
/// head read (waiting for their response): their legs start when they started, and their
/// request line is known. A request that is never answered therefore holds back only what could
/// pair with a request of its line (see the ALB layer's tracker), not everything after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// The earliest start of anything in flight that is not listed in `requests`; `None`:
    /// nothing (only what starts after the packets seen).
    pub since: Option<Timestamp>,
    /// Requests in flight that started before `since`: their request line's
    /// [`request_line_hash`] and their start; sorted, at most [`MAX_IN_FLIGHT_LINES`].
    pub requests: Vec<(u64, Timestamp)>,
    /// The earliest opening of the connections that have carried no payload yet (not in
    /// `since`): what they report later starts after the packets already seen, except the
    /// bare connection leg a connection that closes without carrying anything gives, dated
    /// at its opening, which has no request line.
    pub quiet: Option<Timestamp>,
    /// The capture clock's disorder so far: the most a packet's time stepped back behind an
    /// earlier packet's (what is still to come starts at most this long before the latest time
    /// read). `None`: not measured (the ALB layer then assumes its fixed slack). The pipeline
    /// sets it; the protocol layer does not know it.
    pub disorder: Option<Duration>,
}

impl InFlight {
    /// The earliest start of anything in flight (what [`ProtocolTracker::pending_since`] says).
    pub fn oldest(&self) -> Option<Timestamp> {
        self.since
            .into_iter()
            .chain(self.quiet)
            .chain(self.requests.iter().map(|&(_, t)| t))
            .min()
    }

    /// Adds another shard's.
    pub fn merge(&mut self, other: InFlight) {
        self.since = self.since.into_iter().chain(other.since).min();
        self.quiet = self.quiet.into_iter().chain(other.quiet).min();
        self.disorder = self.disorder.into_iter().chain(other.disorder).max();
        self.requests.extend(other.requests);
        self.settle();
    }

    /// Keeps only the requests older than `since` (the others change nothing), sorted; too many
    /// are folded into `since`.
    fn settle(&mut self) {
        if let Some(since) = self.since {
            self.requests.retain(|&(_, t)| t < since);
        }
        if self.requests.len() > MAX_IN_FLIGHT_LINES {
            self.since = self
                .requests
                .iter()
                .map(|&(_, t)| t)
                .chain(self.since)
                .min();
            self.requests.clear();
        }
        self.requests.sort_unstable();
        self.requests.dedup();
    }
}

/// Owns the HTTP/TLS parser state of every open connection.
#[derive(Default)]
pub struct ProtocolTracker {
    /// Boxed: a table of a million half-open connections then holds pointers, not 184-byte
    /// entries doubled by the hash table's growth.
    conns: HashMap<ConnId, Box<Conn>>,
    /// Everything else: apart from the table, so that an event's connection (borrowed from
    /// the table) and this state can be borrowed at once.
    work: Work,
}

/// The tracker's state beside its connection table: limits, counters, the parsers' scratch
/// event lists, the buffer budget.
#[derive(Default)]
struct Work {
    config: ProtocolConfig,
    stats: ProtocolStats,
    req_events: Vec<ReqEvent>,
    resp_events: Vec<RespEvent>,
    /// Buffered bytes of every connection, shared with the flow layer of the run.
    budget: BufferBudget,
    /// Decrypted pieces of the event being handled.
    plain: Vec<Plain>,
}

/// TLS record header at the start of a client stream?
/// A handshake record normally; any record type (ChangeCipherSpec, alert, handshake,
/// application data) when the capture began mid-connection or the first bytes were lost.
fn match_tls(p: &[u8]) -> Match {
    let record_type = |t: &u8| (0x14..=0x17).contains(t);
    match p {
        [] => Match::Maybe,
        [t] | [t, 0x03] if record_type(t) => Match::Maybe,
        [t, 0x03, minor, ..] if record_type(t) && *minor <= 4 => Match::Yes,
        _ => Match::No,
    }
}

impl ProtocolTracker {
    /// A tracker with the given limits.
    pub fn new(config: ProtocolConfig) -> Self {
        ProtocolTracker::with_budget(config, BufferBudget::default())
    }

    /// A tracker charging its buffers to `budget` (the one the flow layer of the run uses).
    pub fn with_budget(config: ProtocolConfig, budget: BufferBudget) -> Self {
        ProtocolTracker {
            conns: HashMap::default(),
            work: Work {
                config,
                budget,
                ..Work::default()
            },
        }
    }

    /// Adds TLS session secrets (e.g. from a pcapng Decryption Secrets Block met in the
    /// capture): connections whose hellos come later can use them.
    pub fn add_keys(&mut self, keys: &KeyLog) {
        Arc::make_mut(&mut self.work.config.keys).merge(keys);
    }

    /// Counters so far.
    pub fn stats(&self) -> &ProtocolStats {
        &self.work.stats
    }

    /// Connections currently tracked.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// The earliest start time of anything an open connection may still report (an exchange
    /// in flight, a request or response being read, a connection that has reported nothing
    /// yet); `None` when nothing is pending. Every exchange reported later starts at or after
    /// it (or after the packets already seen): the ALB layer pairs up to it without waiting
    /// for its time window.
    pub fn pending_since(&self) -> Option<Timestamp> {
        self.conns.values().filter_map(|c| c.pending_since()).min()
    }

    /// What is in flight, for [`Clock::tick_in_flight`](crate::pipeline::Clock::tick_in_flight):
    /// [`ProtocolTracker::pending_since`] split into the requests whose line is known and the
    /// rest (see [`InFlight`]).
    pub fn in_flight(&self) -> InFlight {
        let mut requests = Vec::new();
        let mut quiet: Option<Timestamp> = None;
        let since = self
            .conns
            .values()
            .filter_map(|c| {
                if c.quiet() {
                    quiet = quiet.into_iter().chain([c.ctx.opened]).min();
                    return None;
                }
                c.in_flight(&mut requests)
            })
            .min();
        let mut out = InFlight {
            since,
            requests,
            quiet,
            disorder: None,
        };
        out.settle();
        out
    }

    /// Handles one flow event, reporting finished exchanges and connections to `sink`.
    pub fn handle(&mut self, conn: ConnId, event: FlowEvent<'_>, sink: &mut dyn AppSink) {
        self.work.handle_in(&mut self.conns, conn, event, sink);
    }
}

impl Work {
    fn handle_in(
        &mut self,
        conns: &mut HashMap<ConnId, Box<Conn>>,
        conn: ConnId,
        event: FlowEvent<'_>,
        sink: &mut dyn AppSink,
    ) {
        match event {
            FlowEvent::Open {
                key,
                ts,
                pos,
                continuation,
                saw_syn,
            } => {
                if continuation {
                    self.stats.continuations += 1;
                } else {
                    self.stats.connections += 1;
                }
                conns.insert(
                    conn,
                    Box::new(Conn {
                        ctx: ConnContext {
                            id: conn,
                            key,
                            opened: ts,
                            opened_pos: pos,
                            tls: false,
                            decrypted: false,
                            saw_syn,
                        },
                        app: None,
                        held: Vec::new(),
                        held_bytes: [0, 0],
                        first_dir: None,
                        unknown: Vec::new(),
                        probed: 0,
                        http: None,
                        h2: None,
                        tls: None,
                        charged: 0,
                        continuation,
                        decrypt: None,
                        plain_offset: [0, 0],
                        inner: None,
                        undecided: Vec::new(),
                    }),
                );
            }
            FlowEvent::Data {
                dir,
                ts,
                pos,
                offset,
                bytes,
            } => {
                let Some(c) = conns.get_mut(&conn) else {
                    self.stats.events_without_open += 1;
                    return;
                };
                if bytes.is_empty() {
                    return;
                }
                let seg = Seg {
                    ts,
                    pos,
                    offset,
                    bytes,
                };
                if c.app.is_none() {
                    let other_spoke = c.first_dir.is_some_and(|f| f != dir);
                    c.first_dir.get_or_insert(dir);
                    let d = dir.index();
                    if let Some(h) = c.held_bytes.get_mut(d) {
                        *h += bytes.len();
                    }
                    c.held.push(Held::Data {
                        dir,
                        ts,
                        pos,
                        offset,
                        bytes: bytes.to_vec(),
                    });
                    let full = c.held_bytes.iter().any(|&h| h >= DETECT_BYTES);
                    self.detect(c, other_spoke || full, sink);
                } else if c.app == Some(AppKind::Http) && c.h2.is_none() && c.unknown.is_empty() {
                    // Clear-text HTTP/1.x (nearly every packet): what `data` and `feed` come
                    // to for it (no excerpt to extend, no probe limit, not HTTP/2).
                    self.feed_http(c, dir, seg, sink);
                } else {
                    self.data(c, dir, seg, sink);
                }
                if c.memory() != c.charged {
                    self.charge(c, ts, sink);
                }
            }
            FlowEvent::Gap {
                dir,
                ts,
                offset,
                len,
                cause,
            } => {
                let Some(c) = conns.get_mut(&conn) else {
                    self.stats.events_without_open += 1;
                    return;
                };
                if len == 0 {
                    return;
                }
                if c.app.is_none() {
                    // Kept for replay; consecutive gaps of a direction merge so that a stream of
                    // gaps alone (payload cut by the snap length) holds one entry.
                    let merged = match c.held.last_mut() {
                        Some(Held::Gap {
                            dir: d,
                            offset: o,
                            len: l,
                            ..
                        }) if *d == dir && o.saturating_add(*l) == offset => {
                            *l = l.saturating_add(len);
                            true
                        }
                        _ => false,
                    };
                    if !merged && c.held.len() < MAX_HELD {
                        c.held.push(Held::Gap {
                            dir,
                            ts,
                            offset,
                            len,
                        });
                    }
                    self.detect(c, true, sink);
                } else {
                    if cause == GapCause::MemoryLimit {
                        self.skip_heads(c, Some(dir), ts, sink);
                    }
                    self.gap(c, dir, ts, offset, len, sink);
                }
            }
            FlowEvent::Fin { dir, ts, .. } => {
                let Some(c) = conns.get_mut(&conn) else {
                    self.stats.events_without_open += 1;
                    return;
                };
                self.detect(c, true, sink);
                self.decide_inner(c, true, sink);
                if dir == Dir::ToClient {
                    self.finish_responses(c, ts, sink);
                }
            }
            FlowEvent::Rst { ts, .. } => {
                let Some(c) = conns.get_mut(&conn) else {
                    self.stats.events_without_open += 1;
                    return;
                };
                self.detect(c, true, sink);
                self.decide_inner(c, true, sink);
                self.finish_responses(c, ts, sink);
            }
            FlowEvent::Close(summary) => {
                let Some(mut c) = conns.remove(&conn) else {
                    self.stats.events_without_open += 1;
                    sink.closed(ConnectionRecord {
                        tcp: *summary,
                        app: AppKind::Empty,
                        unfinished: Vec::new(),
                        finished_exchanges: 0,
                        last_exchange_end: None,
                        last_response_closes: false,
                        tunnel_since: None,
                        tls: None,
                        unknown_excerpt: None,
                        decryption: None,
                    });
                    return;
                };
                self.budget.recharge(c.charged, 0);
                self.detect(&mut c, true, sink);
                self.decide_inner(&mut c, true, sink);
                self.finish_responses(&mut c, summary.end, sink);
                let app = c.app.unwrap_or(AppKind::Empty);
                let http = if app == AppKind::Http || c.ctx.decrypted {
                    c.http.take()
                } else {
                    None
                };
                let h2 = if app == AppKind::Http || c.ctx.decrypted {
                    c.h2.take()
                } else {
                    None
                };
                let (unfinished, finished, last_end, tunnel_since, last_response_closes) =
                    match (http, h2) {
                        (_, Some(mut h2)) => {
                            self.stats.add_h2(&h2.counters);
                            let unfinished = h2.take_unfinished();
                            (unfinished, h2.finished, h2.last_end, None, false)
                        }
                        (http, None) => match http {
                            Some(h) => {
                                let mut h = *h;
                                if let Some(req) = h.req.partial_request() {
                                    // A request cut short by the end of the connection.
                                    if h.queue.len() < MAX_QUEUE {
                                        let index = h.next_index;
                                        let idle_before = h.idle_before(index, req.first_byte);
                                        let mut ex = ExchangeBox::empty();
                                        ex.index = index;
                                        ex.idle_before = idle_before;
                                        ex.request = Some(req);
                                        push_slot(&mut h.queue, Slot::new(ex, false));
                                    }
                                }
                                let unfinished: Vec<HttpExchange> =
                                    h.queue.into_iter().map(|s| s.ex.into_inner()).collect();
                                (
                                    unfinished,
                                    h.finished,
                                    h.last_end,
                                    h.tunnel_since,
                                    h.last_closes,
                                )
                            }
                            None => (Vec::new(), 0, None, None, false),
                        },
                    };
                self.stats.unfinished_exchanges += unfinished.len() as u64;
                let decryption = c.decrypt.take().map(|d| {
                    let info = d.finish();
                    let st = &mut self.stats;
                    st.tls_decrypt_failures += info.failures;
                    st.tls_records_lost += info.lost_records;
                    st.tls_resyncs += info.resyncs;
                    st.tls_unsynced += info.unsynced.len() as u64;
                    *match info.status {
                        DecryptStatus::Decrypted => &mut st.tls_decrypted,
                        DecryptStatus::KeysMissing => &mut st.tls_keys_missing,
                        DecryptStatus::HandshakeMissing => &mut st.tls_handshake_missing,
                        DecryptStatus::NotEstablished => &mut st.tls_not_established,
                        DecryptStatus::UnsupportedCipher => &mut st.tls_unsupported_cipher,
                        DecryptStatus::Failed => &mut st.tls_decrypt_failed,
                    } += 1;
                    Box::new(info)
                });
                let tls = c.tls.take().map(|t| {
                    self.stats.tls_errors += t.errors;
                    let mut info = t.info;
                    if c.ctx.decrypted {
                        // The exchanges were read: the opaque bursts would count them twice.
                        info.bursts.clear();
                        info.bursts_dropped = 0;
                    }
                    info
                });
                let unknown_excerpt = (app == AppKind::Unknown || !c.unknown.is_empty())
                    .then(|| escape_bytes(&c.unknown));
                sink.closed(ConnectionRecord {
                    tcp: *summary,
                    app,
                    unfinished,
                    finished_exchanges: finished,
                    last_exchange_end: last_end,
                    last_response_closes,
                    tunnel_since,
                    tls,
                    unknown_excerpt,
                    decryption,
                });
            }
        }
    }

    /// Decides the application from the held bytes (when possible, or `force`d) and replays them.
    fn detect(&mut self, c: &mut Conn, force: bool, sink: &mut dyn AppSink) {
        if c.app.is_some() {
            return;
        }
        let Some(first) = c.first_dir else {
            return;
        };
        let mut prefix: Vec<u8> = Vec::with_capacity(DETECT_BYTES);
        for h in &c.held {
            match h {
                Held::Data { dir, bytes, .. } if *dir == first => {
                    let room = DETECT_BYTES.saturating_sub(prefix.len());
                    prefix.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
                }
                // A gap before the first bytes: detect from what follows it (mid-stream).
                Held::Gap { dir, .. } if *dir == first && !prefix.is_empty() => break,
                _ => {}
            }
        }
        // The HTTP/2 client preface, whichever direction spoke first.
        let client = client_prefix(&c.held);
        let h2 = match match_preface(&client) {
            Match::Yes => true,
            Match::Maybe if !client.is_empty() && !force => return,
            // Cut short by a gap or the end: "PRI " is no HTTP/1.x method.
            Match::Maybe => client.len() >= 4,
            Match::No => false,
        };
        // A server that sent its SETTINGS before the client's preface arrived (gRPC servers
        // do, at once on accept): wait for the client's bytes, for a while.
        let server_held = c
            .held_bytes
            .get(Dir::ToClient.index())
            .copied()
            .unwrap_or(0);
        if client.is_empty()
            && first == Dir::ToClient
            && looks_like_settings(&prefix)
            && server_held < MAX_SETTINGS_WAIT
            && c.held.len() < MAX_HELD
            && !c.held.iter().any(|h| matches!(h, Held::Gap { .. }))
        {
            return;
        }
        let app = match first {
            _ if h2 => Some(AppKind::Http),
            Dir::ToServer => match (match_tls(&prefix), match_method(&prefix)) {
                (Match::Yes, _) => Some(AppKind::Tls),
                (_, Match::Yes) => Some(AppKind::Http),
                (Match::No, Match::No) => Some(AppKind::Unknown),
                (Match::Maybe, _) if force => Some(AppKind::Tls),
                (_, Match::Maybe) if force => Some(AppKind::Http),
                _ => None,
            },
            Dir::ToClient => match (match_tls(&prefix), match_literal(&prefix, b"HTTP/")) {
                (_, Match::Yes) => Some(AppKind::Http),
                (Match::Yes, _) => Some(AppKind::Tls),
                (Match::No, Match::No) => Some(AppKind::Unknown),
                (_, Match::Maybe) if force => Some(AppKind::Http),
                (Match::Maybe, _) if force => Some(AppKind::Tls),
                _ => None,
            },
        };
        let Some(app) = app else {
            return;
        };
        c.app = Some(app);
        match app {
            AppKind::Http if h2 => {
                if !c.continuation {
                    self.stats.http_connections += 1;
                    self.stats.h2_connections += 1;
                }
                c.h2 = Some(Box::new(H2Conn::new(
                    self.config.max_request_header_bytes,
                    self.config.max_response_header_bytes,
                    self.config.max_headers,
                )));
            }
            AppKind::Http => {
                if !c.continuation {
                    self.stats.http_connections += 1;
                }
                c.http = Some(Box::new(HttpConn::new(
                    RequestParser::new(
                        self.config.max_request_header_bytes,
                        self.config.max_headers,
                    ),
                    ResponseParser::new(
                        self.config.max_response_header_bytes,
                        self.config.max_headers,
                    ),
                )));
            }
            AppKind::Tls => {
                if !c.continuation {
                    self.stats.tls_connections += 1;
                }
                c.ctx.tls = true;
                c.tls = Some(Box::default());
                if !self.config.keys.is_empty() {
                    c.decrypt = Some(Box::default());
                }
            }
            AppKind::Unknown => {
                if !c.continuation {
                    self.stats.unknown_connections += 1;
                }
                // The capture may have begun inside an HTTP message: keep looking for the next
                // request line / status line for a while (see `settle`).
                c.http = Some(Box::new(HttpConn::new(
                    RequestParser::resyncing(
                        self.config.max_request_header_bytes,
                        self.config.max_headers,
                        first == Dir::ToServer,
                    ),
                    ResponseParser::resyncing(
                        self.config.max_response_header_bytes,
                        self.config.max_headers,
                    ),
                )));
            }
            AppKind::Empty => {}
        }
        for h in std::mem::take(&mut c.held) {
            match h {
                Held::Data {
                    dir,
                    ts,
                    pos,
                    offset,
                    bytes,
                } => {
                    let seg = Seg {
                        ts,
                        pos,
                        offset,
                        bytes: &bytes,
                    };
                    self.data(c, dir, seg, sink);
                }
                Held::Gap {
                    dir,
                    ts,
                    offset,
                    len,
                } => self.gap(c, dir, ts, offset, len, sink),
            }
        }
        c.held_bytes = [0, 0];
    }

    /// Stream bytes of a connection whose application is known.
    fn data(&mut self, c: &mut Conn, dir: Dir, seg: Seg<'_>, sink: &mut dyn AppSink) {
        // The excerpt of an unknown start goes on after a switch to HTTP, so that it does not
        // depend on where the segments were cut.
        if (c.app == Some(AppKind::Unknown) || !c.unknown.is_empty()) && c.first_dir == Some(dir) {
            let room = EXCERPT_LEN.saturating_sub(c.unknown.len());
            c.unknown
                .extend_from_slice(seg.bytes.get(..room.min(seg.bytes.len())).unwrap_or(&[]));
        }
        if c.app == Some(AppKind::Unknown) {
            // Search at most MAX_PROBE_BYTES (cut exactly there, whatever the segmentation).
            let allowed = MAX_PROBE_BYTES.saturating_sub(c.probed);
            c.probed = c.probed.saturating_add(seg.bytes.len() as u64);
            if (seg.bytes.len() as u64) > allowed {
                let cut = Seg {
                    bytes: seg.bytes.get(..allowed as usize).unwrap_or(&[]),
                    ..seg
                };
                if !cut.bytes.is_empty() {
                    self.feed(c, dir, cut, sink);
                }
                if c.app == Some(AppKind::Unknown) {
                    c.http = None;
                    return;
                }
                // Became HTTP within the allowed part: go on with the rest.
                let rest = Seg {
                    bytes: seg.bytes.get(allowed as usize..).unwrap_or(&[]),
                    offset: seg.offset.saturating_add(allowed),
                    ..seg
                };
                self.feed(c, dir, rest, sink);
                return;
            }
        }
        self.feed(c, dir, seg, sink);
    }

    /// Hands bytes to the parsers of the connection's application.
    fn feed(&mut self, c: &mut Conn, dir: Dir, seg: Seg<'_>, sink: &mut dyn AppSink) {
        // On TLS, `h2` parses the decrypted bytes (see `plaintext`), not these.
        if let (Some(h2), false) = (c.h2.as_mut(), c.app == Some(AppKind::Tls)) {
            h2.feed(dir, seg);
            Self::hand_over_h2(c, &mut self.stats, sink);
            return;
        }
        match c.app {
            Some(AppKind::Http) | Some(AppKind::Unknown) => self.feed_http(c, dir, seg, sink),
            Some(AppKind::Tls) => {
                if let Some(t) = c.tls.as_mut() {
                    t.feed(dir, seg);
                }
                if let Some(d) = c.decrypt.as_mut() {
                    d.feed(
                        dir,
                        seg.ts,
                        seg.pos,
                        seg.bytes,
                        &self.config.keys,
                        &mut self.plain,
                    );
                    self.plaintext(c, sink);
                }
            }
            Some(AppKind::Empty) | None => {}
        }
    }

    /// Hands bytes of an HTTP/1.x stream (clear text, or decrypted) to the HTTP parsers.
    fn feed_http(&mut self, c: &mut Conn, dir: Dir, seg: Seg<'_>, sink: &mut dyn AppSink) {
        let Some(h) = c.http.as_mut() else { return };
        if h.tunnel_since.is_some() {
            // Tunnel bytes (WebSocket frames ...) keep the connection busy: its idle time
            // before a close runs from the last of them, not from the upgrade's response.
            h.last_end = Some(seg.ts);
            return;
        }
        match dir {
            Dir::ToServer => {
                h.req.feed(seg, &mut self.req_events);
                self.settle(c, sink);
            }
            Dir::ToClient => {
                let h = &mut **h;
                h.resp
                    .feed(seg, &Unclaimed(&h.queue), &mut self.resp_events);
                self.settle(c, sink);
            }
        }
    }

    fn gap(
        &mut self,
        c: &mut Conn,
        dir: Dir,
        ts: Timestamp,
        offset: u64,
        len: u64,
        sink: &mut dyn AppSink,
    ) {
        if let (Some(h2), false) = (c.h2.as_mut(), c.app == Some(AppKind::Tls)) {
            h2.gap(dir, ts, len);
            Self::hand_over_h2(c, &mut self.stats, sink);
            return;
        }
        match c.app {
            Some(AppKind::Http) | Some(AppKind::Unknown) => {
                self.gap_http(c, dir, ts, offset, len, sink)
            }
            Some(AppKind::Tls) => {
                if let Some(t) = c.tls.as_mut() {
                    t.gap(dir, len);
                }
                if let Some(d) = c.decrypt.as_mut() {
                    d.gap(dir, ts, len, &mut self.plain);
                    self.plaintext(c, sink);
                }
            }
            _ => {}
        }
    }

    /// Missing bytes of an HTTP/1.x stream (clear text, or decrypted).
    fn gap_http(
        &mut self,
        c: &mut Conn,
        dir: Dir,
        ts: Timestamp,
        offset: u64,
        len: u64,
        sink: &mut dyn AppSink,
    ) {
        let Some(h) = c.http.as_mut() else { return };
        match dir {
            Dir::ToServer => h.req.gap(ts, len, &mut self.req_events),
            Dir::ToClient => h.resp.gap(ts, offset, len, &mut self.resp_events),
        }
        self.settle(c, sink);
    }

    /// Brings the connection's charge against the buffer budget up to date; when its buffers
    /// grew by more than the budget has room for, it gives them up (header blocks skipped,
    /// TLS records given up), counted.
    fn charge(&mut self, c: &mut Conn, ts: Timestamp, sink: &mut dyn AppSink) {
        let mut mem = c.memory();
        if mem > c.charged && !self.budget.fits(mem - c.charged) {
            self.skip_heads(c, None, ts, sink);
            if let Some(t) = c.tls.as_mut() {
                self.stats.tls_bytes_skipped += t.release() as u64;
            }
            if let Some(d) = c.decrypt.as_mut() {
                self.stats.tls_bytes_skipped += d.release() as u64;
            }
            if let Some(h2) = c.h2.as_mut() {
                h2.release();
                Self::hand_over_h2(c, &mut self.stats, sink);
            }
            mem = c.memory();
        }
        c.charged = self.budget.recharge(c.charged, mem);
    }
}

/// Does a server stream start with an HTTP/2 SETTINGS frame header (stream 0, no flags or ACK)?
fn looks_like_settings(p: &[u8]) -> bool {
    matches!(p, [_, _, _, 4, 0 | 1, 0, 0, 0, 0, ..])
}

/// The first bytes the client sent (up to [`DETECT_BYTES`]), from the held data.
fn client_prefix(held: &[Held]) -> Vec<u8> {
    let mut prefix: Vec<u8> = Vec::with_capacity(DETECT_BYTES);
    for h in held {
        match h {
            Held::Data { dir, bytes, .. } if *dir == Dir::ToServer => {
                let room = DETECT_BYTES.saturating_sub(prefix.len());
                prefix.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
            }
            Held::Gap { dir, .. } if *dir == Dir::ToServer => break,
            _ => {}
        }
    }
    prefix
}

impl Work {
    /// Reports the HTTP/2 exchanges that finished.
    fn hand_over_h2(c: &mut Conn, stats: &mut ProtocolStats, sink: &mut dyn AppSink) {
        let Some(h2) = c.h2.as_mut() else { return };
        for ex in h2.take_finished() {
            if ex.request.is_some() {
                stats.requests += 1;
            }
            if ex.response.is_some() {
                stats.responses += 1;
            }
            stats.exchanges += 1;
            sink.exchange(&c.ctx, ex);
        }
    }
}

mod exchanges;
mod plaintext;
#[cfg(test)]
mod tests;
