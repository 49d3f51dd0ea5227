//! The connection tracker: finds the connection of each TCP segment, follows its handshake and
//! teardown, feeds each direction's [`Reassembler`], and hands events to the sink.
//!
//! Lifetime of a connection:
//! - created by its first packet (SYN sender = originator; else SYN-ACK receiver; else a guess:
//!   the lower/well-known port is the responder, and `saw_syn` is false);
//! - *closing* once a RST or both FINs were seen: [`FlowEvent::Fin`]/[`FlowEvent::Rst`] go out at
//!   once, but the summary ([`FlowEvent::Close`]) waits a short grace
//!   ([`FlowConfig::close_grace`], capture time) so that the last ACK, a repeated RST or data in
//!   flight still count for this connection instead of opening a bogus new one;
//! - closed and freed at the end of the grace, on port reuse (a SYN with a new ISN), when expired
//!   (idle, or half-open for [`FlowConfig::half_open_expiry`]), when evicted (table full), or at
//!   [`FlowTracker::finish`].
//!
//! All timers run on packet timestamps, never the wall clock.

use super::reassembly::{Chunk, Reassembler};
use super::{
    CloseReason, ConnId, ConnKey, ConnSummary, Dir, DirStats, Endpoint, FlowEvent, FlowSink,
    TcpEvent, TcpEventKind,
};
use crate::capture::{Duration, PacketPos, PacketRef, Timestamp};
use crate::decode::{Decoded, IcmpError, MirrorSession, TcpSegment, Transport};
use serde::Serialize;
use std::collections::BTreeSet;
/// The connection table is looked up for every packet: foldhash (seeded per process, so crafted
/// tuples cannot aim at one bucket) hashes the key several times faster than SipHash.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// Tracker limits and timers.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Most connections tracked at once; past it the least recently active one is closed out
    /// (counted in [`FlowStats::evicted`], its summary marked [`CloseReason::Evicted`]).
    ///
    /// Memory bound: a tracked connection costs at most about 2.5 KiB of flow + protocol state
    /// while it buffers no payload (measured: 2.1 KiB per half-open connection in a SYN scan,
    /// `cargo bench --bench adversarial syn_scan`), plus at most `2 x max_buffered_bytes` of
    /// out-of-order data and `2 x conflict_window` of history. The default, 400 000, bounds a
    /// SYN scan or any flood of connections to about 1 GiB.
    pub max_connections: usize,
    /// A connection with no packet for this long is closed out.
    pub idle_expiry: Duration,
    /// Most out-of-order bytes buffered per direction before the hole is declared a gap.
    pub max_buffered_bytes: usize,
    /// Most TCP events recorded per connection.
    pub max_events: usize,
    /// A connection whose handshake never completed (SYN and retransmissions, maybe a SYN-ACK,
    /// but no ACK of it) is closed out after this long without a packet. Longer than the ALB's
    /// 10 s connect timeout with its SYN retransmissions.
    pub half_open_expiry: Duration,
    /// After a RST or the second FIN, packets within this long still belong to the connection
    /// (last ACK, repeated RST, data in flight); then its summary is handed downstream.
    pub close_grace: Duration,
    /// Two IPv4 packets of one direction with the same seq, length, flags and IP id within this
    /// long are one packet mirrored twice (a duplicate), not a retransmission.
    pub duplicate_window: Duration,
    /// The same without a usable IP id (IPv6, or id 0 as Linux sends SYN-ACKs): ack and window
    /// must match too, within this much shorter window. A real SYN-ACK retransmission can follow
    /// the first within 100 µs (timer and retransmitted SYN crossing), a copy of one packet seen
    /// twice by the capture follows within a few µs.
    pub duplicate_window_no_id: Duration,
    /// Delivered bytes kept per direction (until the peer ACKs them) to notice retransmissions
    /// carrying different bytes (conflicts).
    pub conflict_window: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_connections: 400_000,
            idle_expiry: Duration::from_millis(4_100_000),
            max_buffered_bytes: 4 << 20,
            max_events: 256,
            half_open_expiry: Duration::from_millis(120_000),
            close_grace: Duration::from_millis(2_000),
            duplicate_window: Duration::from_millis(50),
            duplicate_window_no_id: Duration(20_000),
            conflict_window: 16 << 10,
        }
    }
}

/// Tracker counters for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FlowStats {
    /// Connections seen.
    pub connections: u64,
    /// Most connections open at once.
    pub peak_open: u64,
    /// Connections closed out because the table was full.
    pub evicted: u64,
    /// Connections closed out for inactivity.
    pub expired: u64,
    /// Duplicate packets ignored.
    pub duplicates: u64,
    /// ICMP errors that matched no tracked connection.
    pub unmatched_icmp: u64,
    /// ICMP errors matched to a connection.
    pub matched_icmp: u64,
    /// TCP segments processed (duplicates included).
    pub segments: u64,
    /// Gaps declared (all connections, both directions).
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub gap_bytes: u64,
    /// Retransmitted bytes that differed from the bytes first seen.
    pub conflicts: u64,
    /// Data segments whose bytes had all been seen before.
    pub retransmissions: u64,
    /// Segments the capture truncated (part of their payload missing).
    pub truncated_segments: u64,
    /// Connections closed because a new SYN reused their 4-tuple.
    pub port_reused: u64,
    /// Connections closed by RST or FIN from both sides.
    pub closed: u64,
    /// Connections still open when the capture ended.
    pub open_at_end: u64,
}

/// A 4-tuple in one session, endpoints sorted so both directions find it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct TupleKey {
    session: MirrorSession,
    lo: Endpoint,
    hi: Endpoint,
}

impl std::hash::Hash for TupleKey {
    /// Feeds the hasher one buffer (one `write` instead of a dozen small ones: the table lookup
    /// is on every packet's path).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 64];
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            if let Some(dst) = buf.get_mut(n..n + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            n += bytes.len();
        };
        for ep in [self.lo, self.hi] {
            match ep.ip {
                std::net::IpAddr::V4(a) => put(&a.octets()),
                std::net::IpAddr::V6(a) => put(&a.octets()),
            }
            put(&ep.port.to_be_bytes());
        }
        put(&self.session.vni.unwrap_or(u32::MAX).to_le_bytes());
        put(&[self.session.encap as u8]);
        state.write(buf.get(..n.min(buf.len())).unwrap_or(&buf));
        // The mirror's outer source rarely differs between sessions of one 4-tuple; `Eq`
        // still compares it.
    }
}

impl TupleKey {
    fn new(session: MirrorSession, a: Endpoint, b: Endpoint) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        TupleKey { session, lo, hi }
    }
}

/// Zeek's per-endpoint TCP state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum EpState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// Signature of a recent packet, for duplicate detection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Sig {
    seq: u32,
    ack: u32,
    len: u32,
    flags: u8,
    window: u16,
    ip_id: Option<u16>,
}

const RECENT: usize = 4;

/// One direction of a connection.
struct Side {
    stats: DirStats,
    /// Sequence number of stream offset 0 (ISN + 1, or the first seq seen without a SYN).
    base: Option<u32>,
    /// ISN of the SYN (or SYN-ACK) this side sent.
    syn_isn: Option<u32>,
    reasm: Reassembler,
    /// FIN seen at this stream offset (with its time and packet), delivered or not.
    fin: Option<(u64, Timestamp, PacketPos)>,
    fin_delivered: bool,
    state: EpState,
    recent: [(Sig, Timestamp); RECENT],
    recent_len: usize,
    recent_next: usize,
    /// Last sequence number recorded in history for the s/h, f and r letters.
    last_letter_seq: [Option<u32>; 3],
    /// Counts for the exponentially recorded letters C, G, T, W.
    counts: [u64; 4],
    /// Once-only letters already recorded: A, D, I, Q.
    once: [bool; 4],
}

impl Side {
    fn new(history_cap: usize) -> Self {
        let empty = Sig {
            seq: 0,
            ack: 0,
            len: 0,
            flags: 0,
            window: 0,
            ip_id: None,
        };
        Side {
            stats: DirStats::default(),
            base: None,
            syn_isn: None,
            reasm: Reassembler::new(history_cap),
            fin: None,
            fin_delivered: false,
            state: EpState::Inactive,
            recent: [(empty, Timestamp(0)); RECENT],
            recent_len: 0,
            recent_next: 0,
            last_letter_seq: [None; 3],
            counts: [0; 4],
            once: [false; 4],
        }
    }

    /// Stream offset of sequence number `seq` (`None` before the base is known). Unwraps
    /// around `next` so sequence wraparound is seamless; may be negative (before the stream).
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let next = self.reasm.next();
        let rel = seq.wrapping_sub(base);
        let delta = rel.wrapping_sub(next as u32) as i32 as i64;
        Some(next as i64 + delta)
    }

    /// Highest offset worth flushing to at close: seen bytes and the FIN.
    fn flush_limit(&self) -> u64 {
        let fin = self.fin.map(|(o, _, _)| o).unwrap_or(0);
        self.reasm.high().max(fin)
    }
}

/// A tracked connection.
struct Conn {
    id: ConnId,
    key: ConnKey,
    start: Timestamp,
    end: Timestamp,
    first_pos: PacketPos,
    last_pos: PacketPos,
    saw_syn: bool,
    sides: [Side; 2],
    history: String,
    events: Vec<TcpEvent>,
    events_dropped: u32,
    /// Key of this connection in the timer sets: its last activity, refreshed only when it is
    /// [`LRU_GRANULARITY_NS`] behind `end` (sweeps check `end` before closing anything).
    activity: i64,
    /// In the half-open set (handshake not completed).
    half_open: bool,
    /// Deadline of the close grace, once a RST or both FINs were seen.
    closing: Option<i64>,
    rst_seen: bool,
}

/// Tracks TCP connections and reassembles their streams.
#[derive(Default)]
pub struct FlowTracker {
    config: FlowConfig,
    stats: FlowStats,
    /// Boxed (a [`Conn`] is about 1 KB): the table's spare capacity then costs a pointer per
    /// slot, not a whole connection.
    conns: HashMap<TupleKey, Box<Conn>>,
    /// (last activity, id) -> connection, for eviction and idle expiry.
    lru: BTreeSet<(i64, u64, TupleKeyOrd)>,
    /// (last activity, id) of half-open connections.
    half_open: BTreeSet<(i64, u64, TupleKeyOrd)>,
    /// (grace deadline, id) of closing connections.
    closing: BTreeSet<(i64, u64, TupleKeyOrd)>,
    next_id: u64,
    now: i64,
    last_sweep: i64,
}

/// [`TupleKey`] with an order, for the timer sets.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TupleKeyOrd(MirrorSession, Endpoint, Endpoint);

impl From<TupleKey> for TupleKeyOrd {
    fn from(k: TupleKey) -> Self {
        TupleKeyOrd(k.session, k.lo, k.hi)
    }
}

impl From<TupleKeyOrd> for TupleKey {
    fn from(k: TupleKeyOrd) -> Self {
        TupleKey {
            session: k.0,
            lo: k.1,
            hi: k.2,
        }
    }
}

/// The timer sets are re-keyed at most this often per connection (capture time), so a bulk
/// transfer does not pay two tree updates per packet.
const LRU_GRANULARITY_NS: i64 = 100_000_000;

/// Largest hole inferred from an ACK or a FIN beyond the bytes seen (a TCP window's worth);
/// a leap further than this is taken as a bogus number and ignored.
const MAX_INFERRED_GAP: u64 = 1 << 26;

/// How often (capture time) idle and half-open connections are looked for.
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

fn flag_bits(seg: &TcpSegment<'_>) -> u8 {
    let f = seg.flags;
    (f.syn as u8)
        | (f.ack as u8) << 1
        | (f.fin as u8) << 2
        | (f.rst as u8) << 3
        | (f.psh as u8) << 4
}

impl FlowTracker {
    /// A tracker with the given limits.
    pub fn new(config: FlowConfig) -> Self {
        FlowTracker {
            config,
            ..FlowTracker::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Connections currently tracked (including those in their close grace).
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Feeds one decoded packet.
    pub fn process(
        &mut self,
        packet: &PacketRef<'_>,
        decoded: &Decoded<'_>,
        sink: &mut dyn FlowSink,
    ) {
        if packet.ts.0 > self.now {
            self.now = packet.ts.0;
        }
        self.run_timers(sink);
        match &decoded.transport {
            Transport::Tcp(seg) => self.process_tcp(packet, decoded, seg, sink),
            Transport::IcmpError(icmp) => self.process_icmp(packet, decoded.session, icmp),
            Transport::Other => {}
        }
    }

    /// Closes every open connection (end of input).
    pub fn finish(&mut self, sink: &mut dyn FlowSink) {
        let mut all: Vec<(i64, u64, TupleKeyOrd)> = self.lru.iter().copied().collect();
        all.sort_by_key(|(_, id, _)| *id);
        for (_, _, k) in all {
            let key = TupleKey::from(k);
            let closing = self.conns.get(&key).is_some_and(|c| c.closing.is_some());
            let reason = if closing {
                self.stats.closed += 1;
                CloseReason::Closed
            } else {
                self.stats.open_at_end += 1;
                CloseReason::EndOfCapture
            };
            self.close(key, reason, sink);
        }
    }

    /// Closes connections whose grace ended, and (every second of capture time) idle and
    /// half-open ones.
    fn run_timers(&mut self, sink: &mut dyn FlowSink) {
        while let Some(&(deadline, _, k)) = self.closing.first() {
            if deadline > self.now {
                break;
            }
            self.stats.closed += 1;
            self.close(k.into(), CloseReason::Closed, sink);
        }
        if self.now.saturating_sub(self.last_sweep) < SWEEP_INTERVAL_NS {
            return;
        }
        self.last_sweep = self.now;
        let idle_before = self.now.saturating_sub(self.config.idle_expiry.0);
        while let Some(&(t, _, k)) = self.lru.first() {
            if t >= idle_before {
                break;
            }
            if !self.refresh(k.into(), idle_before) {
                self.stats.expired += 1;
                self.close(k.into(), CloseReason::Expired, sink);
            }
        }
        let half_before = self.now.saturating_sub(self.config.half_open_expiry.0);
        while let Some(&(t, _, k)) = self.half_open.first() {
            if t >= half_before {
                break;
            }
            if !self.refresh(k.into(), half_before) {
                self.stats.expired += 1;
                self.close(k.into(), CloseReason::Expired, sink);
            }
        }
    }

    /// Re-keys a connection in the timer sets with its true last activity when that is at or
    /// after `cutoff` (its key lagged behind); false when it really is idle since before.
    fn refresh(&mut self, tkey: TupleKey, cutoff: i64) -> bool {
        let Some(conn) = self.conns.get_mut(&tkey) else {
            return false;
        };
        if conn.end.0 < cutoff || conn.end.0 == conn.activity {
            return false;
        }
        let ord: TupleKeyOrd = tkey.into();
        let (old, new) = (conn.activity, conn.end.0);
        conn.activity = new;
        self.lru.remove(&(old, conn.id.0, ord));
        self.lru.insert((new, conn.id.0, ord));
        if conn.half_open {
            self.half_open.remove(&(old, conn.id.0, ord));
            self.half_open.insert((new, conn.id.0, ord));
        }
        true
    }

    fn process_icmp(&mut self, packet: &PacketRef<'_>, session: MirrorSession, icmp: &IcmpError) {
        let src = Endpoint {
            ip: icmp.quoted_src,
            port: icmp.quoted_src_port,
        };
        let dst = Endpoint {
            ip: icmp.quoted_dst,
            port: icmp.quoted_dst_port,
        };
        let max_events = self.config.max_events;
        let Some(conn) = self.conns.get_mut(&TupleKey::new(session, src, dst)) else {
            self.stats.unmatched_icmp += 1;
            return;
        };
        self.stats.matched_icmp += 1;
        let dir = if src == conn.key.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        push_event(
            conn,
            max_events,
            TcpEvent {
                ts: packet.ts,
                pos: packet.pos,
                dir,
                kind: TcpEventKind::Icmp(icmp.clone()),
            },
        );
    }

    fn process_tcp(
        &mut self,
        packet: &PacketRef<'_>,
        decoded: &Decoded<'_>,
        seg: &TcpSegment<'_>,
        sink: &mut dyn FlowSink,
    ) {
        self.stats.segments += 1;
        let src = Endpoint {
            ip: decoded.src,
            port: seg.src_port,
        };
        let dst = Endpoint {
            ip: decoded.dst,
            port: seg.dst_port,
        };
        let tkey = TupleKey::new(decoded.session, src, dst);
        let pure_syn = seg.flags.syn && !seg.flags.ack;

        // Fast path (one hash lookup): a known connection, and not a SYN reusing its 4-tuple.
        if let Some(conn) = self.conns.get_mut(&tkey) {
            if !(pure_syn && is_port_reuse(conn, src, seg.seq)) {
                let timers = Timers {
                    lru: &mut self.lru,
                    half_open: &mut self.half_open,
                    closing: &mut self.closing,
                };
                apply_segment(
                    conn,
                    tkey,
                    timers,
                    &self.config,
                    &mut self.stats,
                    packet,
                    decoded,
                    seg,
                    sink,
                );
                return;
            }
            // Port reuse: a SYN with a new ISN from an endpoint that already sent packets here.
            self.stats.port_reused += 1;
            self.close(tkey, CloseReason::PortReused, sink);
        }

        if self.conns.len() >= self.config.max_connections.max(1) {
            // The least recently active: re-key lagging entries until the first is exact.
            while let Some(&(_, _, k)) = self.lru.first() {
                if !self.refresh(k.into(), i64::MIN) {
                    self.stats.evicted += 1;
                    self.close(k.into(), CloseReason::Evicted, sink);
                    break;
                }
            }
        }
        let (client, server, saw_syn) = if pure_syn {
            (src, dst, true)
        } else if seg.flags.syn || is_server_port(src.port, dst.port) {
            // A SYN-ACK's sender is the responder; else the well-known/lower port is.
            (dst, src, false)
        } else {
            (src, dst, false)
        };
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let key = ConnKey {
            session: decoded.session,
            client,
            server,
        };
        let cap = self
            .config
            .conflict_window
            .min(self.config.max_buffered_bytes);
        let conn = Conn {
            id,
            key,
            start: packet.ts,
            end: packet.ts,
            first_pos: packet.pos,
            last_pos: packet.pos,
            saw_syn,
            sides: [Side::new(cap), Side::new(cap)],
            history: String::new(),
            events: Vec::new(),
            events_dropped: 0,
            activity: packet.ts.0,
            half_open: false,
            closing: None,
            rst_seen: false,
        };
        self.lru.insert((conn.activity, id.0, tkey.into()));
        self.stats.connections += 1;
        sink.on_flow_event(
            id,
            FlowEvent::Open {
                key,
                ts: packet.ts,
                pos: packet.pos,
            },
        );
        self.conns.insert(tkey, Box::new(conn));
        let Some(conn) = self.conns.get_mut(&tkey) else {
            return;
        };
        let timers = Timers {
            lru: &mut self.lru,
            half_open: &mut self.half_open,
            closing: &mut self.closing,
        };
        apply_segment(
            conn,
            tkey,
            timers,
            &self.config,
            &mut self.stats,
            packet,
            decoded,
            seg,
            sink,
        );
        self.stats.peak_open = self.stats.peak_open.max(self.conns.len() as u64);
    }

    /// Flushes and hands a connection's summary downstream, then forgets it.
    fn close(&mut self, tkey: TupleKey, reason: CloseReason, sink: &mut dyn FlowSink) {
        let Some(conn) = self.conns.remove(&tkey) else {
            return;
        };
        let mut conn = *conn;
        let ord: TupleKeyOrd = tkey.into();
        self.lru.remove(&(conn.activity, conn.id.0, ord));
        if conn.half_open {
            self.half_open.remove(&(conn.activity, conn.id.0, ord));
        }
        if let Some(d) = conn.closing {
            self.closing.remove(&(d, conn.id.0, ord));
        }
        let (ts, pos) = (Timestamp(self.now.max(conn.end.0)), conn.last_pos);
        for dir in [Dir::ToServer, Dir::ToClient] {
            let limit = conn.sides[dir.index()].flush_limit();
            drain(
                &mut conn,
                &self.config,
                &mut self.stats,
                dir,
                limit,
                ts,
                pos,
                sink,
            );
        }
        let summary = ConnSummary {
            id: conn.id,
            key: conn.key,
            start: conn.start,
            end: conn.end,
            first_pos: conn.first_pos,
            saw_syn: conn.saw_syn,
            dirs: [conn.sides[0].stats, conn.sides[1].stats],
            state: conn_state(&conn).to_string(),
            history: conn.history,
            events: conn.events,
            events_dropped: conn.events_dropped,
            close_reason: reason,
        };
        sink.on_flow_event(summary.id, FlowEvent::Close(Box::new(summary)));
    }
}

/// The tracker's timer sets, borrowed apart from the connection table.
struct Timers<'a> {
    lru: &'a mut BTreeSet<(i64, u64, TupleKeyOrd)>,
    half_open: &'a mut BTreeSet<(i64, u64, TupleKeyOrd)>,
    closing: &'a mut BTreeSet<(i64, u64, TupleKeyOrd)>,
}

/// Is a pure SYN from `src` with sequence number `seq` a new connection on this 4-tuple (a new
/// ISN from an endpoint that already sent packets here)?
fn is_port_reuse(conn: &Conn, src: Endpoint, seq: u32) -> bool {
    let side = &conn.sides[dir_of(conn, src).index()];
    match (side.syn_isn, side.base) {
        (Some(isn), _) => isn != seq,
        (None, Some(base)) => base != seq.wrapping_add(1),
        (None, None) => false,
    }
}

/// Applies a segment to its connection and keeps the timer sets in step.
#[allow(clippy::too_many_arguments)]
fn apply_segment(
    conn: &mut Conn,
    tkey: TupleKey,
    timers: Timers<'_>,
    config: &FlowConfig,
    stats: &mut FlowStats,
    packet: &PacketRef<'_>,
    decoded: &Decoded<'_>,
    seg: &TcpSegment<'_>,
    sink: &mut dyn FlowSink,
) {
    let ord: TupleKeyOrd = tkey.into();
    let old_activity = conn.activity;
    let was_half_open = conn.half_open;
    let was_closing = conn.closing;

    update_conn(conn, config, stats, packet, decoded, seg, sink);

    if conn.end.0.saturating_sub(old_activity) >= LRU_GRANULARITY_NS {
        conn.activity = conn.end.0;
        timers.lru.remove(&(old_activity, conn.id.0, ord));
        timers.lru.insert((conn.activity, conn.id.0, ord));
    }
    if was_half_open && (!conn.half_open || conn.activity != old_activity) {
        timers.half_open.remove(&(old_activity, conn.id.0, ord));
    }
    if conn.half_open && (!was_half_open || conn.activity != old_activity) {
        timers.half_open.insert((conn.activity, conn.id.0, ord));
    }
    if was_closing.is_none() {
        if let Some(deadline) = conn.closing {
            timers.closing.insert((deadline, conn.id.0, ord));
        }
    }
}

/// Which direction a packet from `src` travels in.
fn dir_of(conn: &Conn, src: Endpoint) -> Dir {
    if src == conn.key.client {
        Dir::ToServer
    } else {
        Dir::ToClient
    }
}

/// Guess for a mid-stream connection: is `src_port` the responder's port?
fn is_server_port(src_port: u16, dst_port: u16) -> bool {
    let src_known = src_port < 1024;
    let dst_known = dst_port < 1024;
    if src_known != dst_known {
        return src_known;
    }
    src_port < dst_port
}

fn push_event(conn: &mut Conn, max_events: usize, event: TcpEvent) {
    let len = conn.events.len();
    if len < max_events {
        if len == conn.events.capacity() {
            // Grow 2, 4, 8 ... (not from 4): most connections record one or two events, and a
            // SYN scan is a million connections of one event each.
            conn.events.reserve_exact(len.max(2).min(max_events - len));
        }
        conn.events.push(event);
    } else {
        conn.events_dropped = conn.events_dropped.saturating_add(1);
    }
}

/// Letter in the connection's direction: upper case for the originator.
fn letter(dir: Dir, c: char) -> char {
    match dir {
        Dir::ToServer => c.to_ascii_uppercase(),
        Dir::ToClient => c.to_ascii_lowercase(),
    }
}

/// Records a letter that Zeek records once per direction (a, d, i, q).
fn letter_once(conn: &mut Conn, dir: Dir, slot: usize, c: char) {
    let side = &mut conn.sides[dir.index()];
    if let Some(done) = side.once.get_mut(slot) {
        if !*done {
            *done = true;
            conn.history.push(letter(dir, c));
        }
    }
}

/// Records a letter Zeek records again each time its count reaches a power of 10 (c, g, t, w).
fn letter_counted(conn: &mut Conn, dir: Dir, slot: usize, c: char) {
    let side = &mut conn.sides[dir.index()];
    if let Some(n) = side.counts.get_mut(slot) {
        *n += 1;
        let mut p = 1u64;
        while p < *n {
            p = p.saturating_mul(10);
        }
        if p == *n {
            conn.history.push(letter(dir, c));
        }
    }
}

/// Records a letter Zeek repeats only for a new sequence number (s/h, f, r).
fn letter_seq(conn: &mut Conn, dir: Dir, slot: usize, c: char, seq: u32) {
    let side = &mut conn.sides[dir.index()];
    if let Some(last) = side.last_letter_seq.get_mut(slot) {
        if *last != Some(seq) {
            *last = Some(seq);
            conn.history.push(letter(dir, c));
        }
    }
}

/// Applies one segment to its connection.
fn update_conn(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    packet: &PacketRef<'_>,
    decoded: &Decoded<'_>,
    seg: &TcpSegment<'_>,
    sink: &mut dyn FlowSink,
) {
    let src = Endpoint {
        ip: decoded.src,
        port: seg.src_port,
    };
    let dir = dir_of(conn, src);
    let di = dir.index();
    let ts = packet.ts;
    let pos = packet.pos;
    let payload: &[u8] = &seg.payload;
    let wire_len = (payload.len() as u64).saturating_add(seg.missing_payload as u64);

    // Duplicate: the same packet mirrored twice.
    let sig = Sig {
        seq: seg.seq,
        ack: seg.ack,
        len: wire_len.min(u32::MAX as u64) as u32,
        flags: flag_bits(seg),
        window: seg.window,
        ip_id: decoded.ip_id.filter(|id| *id != 0),
    };
    {
        let side = &mut conn.sides[di];
        let window = if sig.ip_id.is_some() {
            config.duplicate_window.0
        } else {
            config.duplicate_window_no_id.0
        };
        let is_dup = side.recent.iter().take(side.recent_len).any(|(s, t)| {
            let close_in_time = ts.0.saturating_sub(t.0).abs() <= window;
            close_in_time
                && s.seq == sig.seq
                && s.len == sig.len
                && s.flags == sig.flags
                && match (s.ip_id, sig.ip_id) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => s.ack == sig.ack && s.window == sig.window,
                    _ => false,
                }
        });
        side.stats.frame_bytes += packet.orig_len as u64;
        if is_dup {
            side.stats.duplicates = side.stats.duplicates.saturating_add(1);
            stats.duplicates += 1;
            conn.end = conn.end.max(ts);
            conn.last_pos = pos;
            return;
        }
        if let Some(slot) = side.recent.get_mut(side.recent_next) {
            *slot = (sig, ts);
        }
        side.recent_next = (side.recent_next + 1) % RECENT;
        side.recent_len = (side.recent_len + 1).min(RECENT);
        side.stats.packets += 1;
        side.stats.wire_bytes += decoded.ip_len as u64;
    }
    conn.end = conn.end.max(ts);
    conn.last_pos = pos;

    let flags = seg.flags;
    if seg.checksum_ok == Some(false) {
        letter_counted(conn, dir, 0, 'c');
    }
    if flags.syn && (flags.fin || flags.rst) {
        letter_once(conn, dir, 3, 'q');
    }
    if flags.fin && flags.rst {
        letter_once(conn, dir, 2, 'i');
    }

    // Handshake.
    if flags.syn {
        let side = &mut conn.sides[di];
        let retransmission = side.syn_isn == Some(seg.seq);
        if side.syn_isn.is_none() {
            side.syn_isn = Some(seg.seq);
        }
        if side.base.is_none() {
            side.base = Some(seg.seq.wrapping_add(1));
        }
        let kind = if flags.ack {
            TcpEventKind::SynAck { retransmission }
        } else {
            TcpEventKind::Syn { retransmission }
        };
        push_event(conn, config.max_events, TcpEvent { ts, pos, dir, kind });
        letter_seq(conn, dir, 0, if flags.ack { 'h' } else { 's' }, seg.seq);
        let (me, peer) = states(conn, dir);
        if !flags.ack {
            if *me == EpState::Inactive {
                *me = EpState::SynSent;
            }
        } else if matches!(
            *me,
            EpState::Inactive | EpState::Partial | EpState::SynAckSent
        ) {
            if matches!(
                *peer,
                EpState::SynSent | EpState::SynAckSent | EpState::Established
            ) {
                *me = EpState::Established;
                *peer = EpState::Established;
            } else {
                *me = EpState::SynAckSent;
            }
        }
        if !flags.rst && !flags.fin && conn.closing.is_none() {
            conn.half_open = true;
        }
    } else if !flags.rst {
        let side = &mut conn.sides[di];
        if side.base.is_none() {
            side.base = Some(seg.seq);
        }
        let (me, peer) = states(conn, dir);
        if *me == EpState::Inactive {
            *me = EpState::Partial;
        }
        if flags.ack && *me == EpState::SynSent && *peer == EpState::Established {
            *me = EpState::Established;
        }
        // The originator ACKs the SYN-ACK (or any non-SYN packet follows a SYN-ACK): done.
        if flags.ack && (dir == Dir::ToServer || conn.sides[0].syn_isn.is_none()) {
            conn.half_open = false;
        }
        if !conn.saw_syn && conn.sides[0].syn_isn.is_none() && conn.sides[1].syn_isn.is_none() {
            conn.half_open = false;
        }
    }

    // Payload.
    if wire_len > 0 {
        letter_once(conn, dir, 1, 'd');
        let off = conn.sides[di].offset_of(seg.seq.wrapping_add(flags.syn as u32));
        if let Some(off) = off {
            // Bytes before the stream start are dropped.
            let skip = if off < 0 { off.unsigned_abs() } else { 0 };
            let start = off.max(0) as u64;
            let data = payload
                .get(skip.min(payload.len() as u64) as usize..)
                .unwrap_or(&[]);
            let missing = (seg.missing_payload as u64)
                .saturating_sub(skip.saturating_sub(payload.len() as u64));
            if seg.missing_payload > 0 {
                stats.truncated_segments += 1;
            }
            let ins = conn.sides[di].reasm.insert(start, data, missing);
            if ins.new_bytes == 0 && ins.old_bytes > 0 && missing == 0 {
                conn.sides[di].stats.retransmissions =
                    conn.sides[di].stats.retransmissions.saturating_add(1);
                stats.retransmissions += 1;
                letter_counted(conn, dir, 2, 't');
                push_event(
                    conn,
                    config.max_events,
                    TcpEvent {
                        ts,
                        pos,
                        dir,
                        kind: TcpEventKind::Retransmission {
                            len: data.len() as u32,
                        },
                    },
                );
            }
            if let Some(offset) = ins.conflict {
                stats.conflicts += 1;
                push_event(
                    conn,
                    config.max_events,
                    TcpEvent {
                        ts,
                        pos,
                        dir,
                        kind: TcpEventKind::Conflict { offset },
                    },
                );
            }
            if let Some(range) = ins.direct.clone() {
                if let Some(bytes) = data.get(range) {
                    conn.sides[di].stats.payload_bytes += bytes.len() as u64;
                    sink.on_flow_event(
                        conn.id,
                        FlowEvent::Data {
                            dir,
                            ts,
                            pos,
                            offset: ins.direct_offset,
                            bytes,
                        },
                    );
                }
            }
            let next = conn.sides[di].reasm.next();
            drain(conn, config, stats, dir, next, ts, pos, sink);
            // Buffer cap: give up on the first hole until under the cap.
            while conn.sides[di].reasm.buffered() > config.max_buffered_bytes {
                let limit = conn.sides[di].reasm.first_pending().unwrap_or(next);
                drain(conn, config, stats, dir, limit, ts, pos, sink);
            }
        }
    } else if flags.ack && !flags.syn && !flags.fin && !flags.rst {
        letter_once(conn, dir, 0, 'a');
    }
    if seg.window == 0 && !flags.rst && !flags.syn {
        letter_counted(conn, dir, 3, 'w');
    }

    // ACK: bytes the peer acknowledges were sent; a hole below them will never fill.
    if flags.ack {
        let peer = dir.reverse();
        let ps = &conn.sides[peer.index()];
        if let Some(acked) = ps.offset_of(seg.ack) {
            let next = ps.reasm.next() as i64;
            // A FIN takes one sequence number: do not count it as a byte.
            let fin_cap = ps.fin.map(|(o, _, _)| o as i64).unwrap_or(i64::MAX);
            let limit = acked.min(fin_cap);
            if limit > next && limit - next <= MAX_INFERRED_GAP as i64 {
                conn.sides[peer.index()].reasm.acknowledge(limit as u64);
                drain(conn, config, stats, peer, limit as u64, ts, pos, sink);
            } else if acked > 0 {
                conn.sides[peer.index()]
                    .reasm
                    .acknowledge(acked.min(next).max(0) as u64);
            }
        }
    }

    // FIN.
    if flags.fin {
        letter_seq(conn, dir, 1, 'f', seg.seq);
        push_event(
            conn,
            config.max_events,
            TcpEvent {
                ts,
                pos,
                dir,
                kind: TcpEventKind::Fin,
            },
        );
        let seq = seg.seq.wrapping_add(flags.syn as u32);
        let fin_off = conn.sides[di]
            .offset_of(seq)
            .map(|o| (o.max(0) as u64).saturating_add(wire_len));
        let side = &mut conn.sides[di];
        if side.fin.is_none() {
            side.fin = Some((fin_off.unwrap_or(0), ts, pos));
        }
        if side.state != EpState::Reset {
            side.state = EpState::Closed;
        }
        // Every byte before the FIN was sent: a hole before it is a gap now (data reordered
        // behind its own FIN is rare; waiting for the peer's ACK could hold the FIN for ever).
        let next = side.reasm.next();
        let limit = match side.fin {
            Some((o, _, _)) if o > next && o - next <= MAX_INFERRED_GAP => o,
            _ => next,
        };
        drain(conn, config, stats, dir, limit, ts, pos, sink);
    }

    // RST: flush both directions (holes become gaps), then report it.
    if flags.rst {
        letter_seq(conn, dir, 2, 'r', seg.seq);
        push_event(
            conn,
            config.max_events,
            TcpEvent {
                ts,
                pos,
                dir,
                kind: TcpEventKind::Rst,
            },
        );
        conn.sides[di].state = EpState::Reset;
        for d in [dir, dir.reverse()] {
            let limit = conn.sides[d.index()].reasm.high();
            drain(conn, config, stats, d, limit, ts, pos, sink);
        }
        sink.on_flow_event(conn.id, FlowEvent::Rst { dir, ts, pos });
        conn.rst_seen = true;
    }

    let both_fins = conn.sides[0].fin.is_some() && conn.sides[1].fin.is_some();
    if conn.closing.is_none() && (conn.rst_seen || both_fins) {
        conn.closing = Some(ts.0.saturating_add(config.close_grace.0));
        conn.half_open = false;
        for side in &mut conn.sides {
            side.reasm.release_history();
        }
    }
}

/// The endpoint states of `dir`'s sender and of its peer.
fn states(conn: &mut Conn, dir: Dir) -> (&mut EpState, &mut EpState) {
    let [a, b] = &mut conn.sides;
    match dir {
        Dir::ToServer => (&mut a.state, &mut b.state),
        Dir::ToClient => (&mut b.state, &mut a.state),
    }
}

/// Hands out everything of `dir`'s stream below `limit` (data, and gaps for holes), then the
/// FIN once every byte before it is out.
#[allow(clippy::too_many_arguments)]
fn drain(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    dir: Dir,
    limit: u64,
    ts: Timestamp,
    pos: PacketPos,
    sink: &mut dyn FlowSink,
) {
    let di = dir.index();
    while let Some(chunk) = conn.sides[di].reasm.pop(limit) {
        match chunk {
            Chunk::Data { offset, bytes } => {
                conn.sides[di].stats.payload_bytes += bytes.len() as u64;
                sink.on_flow_event(
                    conn.id,
                    FlowEvent::Data {
                        dir,
                        ts,
                        pos,
                        offset,
                        bytes: &bytes,
                    },
                );
            }
            Chunk::Gap { offset, len } => {
                let side = &mut conn.sides[di];
                side.stats.gaps = side.stats.gaps.saturating_add(1);
                side.stats.gap_bytes += len;
                stats.gaps += 1;
                stats.gap_bytes += len;
                letter_counted(conn, dir, 1, 'g');
                push_event(
                    conn,
                    config.max_events,
                    TcpEvent {
                        ts,
                        pos,
                        dir,
                        kind: TcpEventKind::Gap { offset, len },
                    },
                );
                sink.on_flow_event(
                    conn.id,
                    FlowEvent::Gap {
                        dir,
                        ts,
                        offset,
                        len,
                    },
                );
            }
        }
    }
    let side = &mut conn.sides[di];
    if let Some((fin_off, fin_ts, fin_pos)) = side.fin {
        if !side.fin_delivered && side.reasm.next() >= fin_off {
            side.fin_delivered = true;
            sink.on_flow_event(
                conn.id,
                FlowEvent::Fin {
                    dir,
                    ts: fin_ts,
                    pos: fin_pos,
                },
            );
        }
    }
}

/// Zeek's `conn_state` from the two endpoint states (base/protocols/conn/main.zeek).
fn conn_state(conn: &Conn) -> &'static str {
    use EpState::*;
    let os = conn.sides[0].state;
    let rs = conn.sides[1].state;
    let o_inactive = matches!(os, Inactive | Partial);
    let r_inactive = matches!(rs, Inactive | Partial);
    let no_bytes = conn.sides[0].stats.payload_bytes == 0
        && conn.sides[0].stats.gap_bytes == 0
        && conn.sides[1].stats.payload_bytes == 0
        && conn.sides[1].stats.gap_bytes == 0;
    if rs == Reset {
        if matches!(os, SynSent | SynAckSent) || (os == Reset && no_bytes) {
            "REJ"
        } else if o_inactive {
            "RSTRH"
        } else {
            "RSTR"
        }
    } else if os == Reset {
        if r_inactive {
            if rstos0_history(&conn.history) {
                "RSTOS0"
            } else {
                "OTH"
            }
        } else {
            "RSTO"
        }
    } else if rs == Closed && os == Closed {
        "SF"
    } else if os == Closed {
        if r_inactive {
            "SH"
        } else {
            "S2"
        }
    } else if rs == Closed {
        if o_inactive {
            "SHR"
        } else {
            "S3"
        }
    } else if os == SynSent && rs == Inactive {
        "S0"
    } else if os == Established && rs == Established {
        "S1"
    } else {
        "OTH"
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` on the history.
fn rstos0_history(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        if c == 'R' {
            return true;
        }
        if "HAFGIQ".contains(c) {
            return false;
        }
    }
    false
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
