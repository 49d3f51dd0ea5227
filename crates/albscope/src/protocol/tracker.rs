//! Per-connection protocol state: detects the application, feeds the HTTP or TLS parsers, pairs
//! requests with responses and reports exchanges and connections to the [`AppSink`].

use super::http::{match_literal, match_method, Match, ReqEvent, ReqKind, RequestParser};
use super::http::{RespEvent, ResponseParser, Seg};
use super::tls::TlsConn;
use super::{escape_bytes, AppKind, AppSink, ConnContext, ConnectionRecord, HttpExchange};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{BufferBudget, ConnId, Dir, FlowEvent, GapCause};
use std::collections::VecDeque;
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
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            max_response_header_bytes: 32 * 1024,
            max_request_header_bytes: 64 * 1024,
            max_headers: 128,
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
}

/// Bytes held per direction before the application is known.
const DETECT_BYTES: usize = 24;
/// Escaped excerpt length for unknown payload.
const EXCERPT_LEN: usize = 64;
/// Bytes searched for an HTTP message start on a connection that did not begin with one.
const MAX_PROBE_BYTES: u64 = 256 * 1024;
/// Events held per connection before the application is known.
const MAX_HELD: usize = 64;
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

/// An exchange waiting for (the end of) its response.
#[derive(Debug)]
struct Slot {
    ex: HttpExchange,
    /// A response (or an error) was assigned to it.
    claimed: bool,
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
        .or(ex.response.as_ref().map(|r| r.first_byte))
        .or(ex.response_error.as_ref().map(|e| e.first_byte))
}

/// Queues an exchange; the first takes one slot (about 480 bytes), not the four a `VecDeque`
/// grows to at once: most connections have one exchange outstanding at a time.
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
    tls: Option<Box<TlsConn>>,
    /// Bytes charged against the buffer budget for this connection's buffers.
    charged: usize,
    /// The rest of a connection evicted earlier: not counted again in the connection counters.
    continuation: bool,
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

    /// Heap held by this connection's buffers (header blocks, held bytes, TLS records).
    fn memory(&self) -> usize {
        let held = self.held_bytes[0].saturating_add(self.held_bytes[1]);
        let http = self
            .http
            .as_ref()
            .map_or(0, |h| h.req.memory().saturating_add(h.resp.memory()));
        let tls = self.tls.as_ref().map_or(0, |t| t.memory());
        held.saturating_add(http).saturating_add(tls)
    }
}

/// Owns the HTTP/TLS parser state of every open connection.
#[derive(Default)]
pub struct ProtocolTracker {
    config: ProtocolConfig,
    stats: ProtocolStats,
    /// Boxed: a table of a million half-open connections then holds pointers, not 184-byte
    /// entries doubled by the hash table's growth.
    conns: HashMap<ConnId, Box<Conn>>,
    req_events: Vec<ReqEvent>,
    resp_events: Vec<RespEvent>,
    kinds: Vec<ReqKind>,
    /// Buffered bytes of every connection, shared with the flow layer of the run.
    budget: BufferBudget,
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
            config,
            budget,
            ..ProtocolTracker::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ProtocolStats {
        &self.stats
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

    /// Handles one flow event, reporting finished exchanges and connections to `sink`.
    pub fn handle(&mut self, conn: ConnId, event: FlowEvent<'_>, sink: &mut dyn AppSink) {
        // The table is moved out while the event is handled so that the connection's state and
        // the tracker's scratch buffers can be borrowed at once (a move, not a copy).
        let mut conns = std::mem::take(&mut self.conns);
        self.handle_in(&mut conns, conn, event, sink);
        self.conns = conns;
    }

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
                continuation,
                ..
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
                            tls: false,
                        },
                        app: None,
                        held: Vec::new(),
                        held_bytes: [0, 0],
                        first_dir: None,
                        unknown: Vec::new(),
                        probed: 0,
                        http: None,
                        tls: None,
                        charged: 0,
                        continuation,
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
                        tls: None,
                        unknown_excerpt: None,
                    });
                    return;
                };
                self.budget.recharge(c.charged, 0);
                self.detect(&mut c, true, sink);
                self.finish_responses(&mut c, summary.end, sink);
                let app = c.app.unwrap_or(AppKind::Empty);
                let http = if app == AppKind::Http {
                    c.http.take()
                } else {
                    None
                };
                let (unfinished, finished, last_end) = match http {
                    Some(h) => {
                        let mut h = *h;
                        if let Some(req) = h.req.partial_request() {
                            // A request cut short by the end of the connection.
                            if h.queue.len() < MAX_QUEUE {
                                let index = h.next_index;
                                let idle_before = h.idle_before(index, req.first_byte);
                                push_slot(
                                    &mut h.queue,
                                    Slot {
                                        ex: HttpExchange {
                                            index,
                                            idle_before,
                                            request: Some(req),
                                            response: None,
                                            response_error: None,
                                            headers_skipped: None,
                                        },
                                        claimed: false,
                                    },
                                );
                            }
                        }
                        let unfinished: Vec<HttpExchange> =
                            h.queue.into_iter().map(|s| s.ex).collect();
                        (unfinished, h.finished, h.last_end)
                    }
                    None => (Vec::new(), 0, None),
                };
                self.stats.unfinished_exchanges += unfinished.len() as u64;
                let tls = c.tls.take().map(|t| {
                    self.stats.tls_errors += t.errors;
                    t.info
                });
                let unknown_excerpt = (app == AppKind::Unknown || !c.unknown.is_empty())
                    .then(|| escape_bytes(&c.unknown));
                sink.closed(ConnectionRecord {
                    tcp: *summary,
                    app,
                    unfinished,
                    finished_exchanges: finished,
                    last_exchange_end: last_end,
                    tls,
                    unknown_excerpt,
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
        let app = match first {
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
        match c.app {
            Some(AppKind::Http) | Some(AppKind::Unknown) => {
                let Some(h) = c.http.as_mut() else { return };
                match dir {
                    Dir::ToServer => {
                        h.req.feed(seg, &mut self.req_events);
                        self.settle(c, sink);
                    }
                    Dir::ToClient => {
                        self.kinds.clear();
                        self.kinds
                            .extend(h.queue.iter().filter(|s| !s.claimed).map(|s| {
                                match s.ex.request.as_ref().map(|r| r.method.as_str()) {
                                    Some(m) if m.eq_ignore_ascii_case("HEAD") => ReqKind::Head,
                                    Some(m) if m.eq_ignore_ascii_case("CONNECT") => {
                                        ReqKind::Connect
                                    }
                                    _ => ReqKind::Other,
                                }
                            }));
                        h.resp.feed(seg, &self.kinds, &mut self.resp_events);
                        self.settle(c, sink);
                    }
                }
            }
            Some(AppKind::Tls) => {
                if let Some(t) = c.tls.as_mut() {
                    t.feed(dir, seg);
                }
            }
            Some(AppKind::Empty) | None => {}
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
        match c.app {
            Some(AppKind::Http) | Some(AppKind::Unknown) => {
                let Some(h) = c.http.as_mut() else { return };
                match dir {
                    Dir::ToServer => h.req.gap(ts, len, &mut self.req_events),
                    Dir::ToClient => h.resp.gap(ts, offset, len, &mut self.resp_events),
                }
                self.settle(c, sink);
            }
            Some(AppKind::Tls) => {
                if let Some(t) = c.tls.as_mut() {
                    t.gap(dir, len);
                }
            }
            _ => {}
        }
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
            mem = c.memory();
        }
        c.charged = self.budget.recharge(c.charged, mem);
    }
}

mod exchanges;
#[cfg(test)]
mod tests;
