//! The connection tracker: finds the connection of each TCP segment, follows its handshake and
//! teardown, feeds each direction's reassembler, and hands events to the sink.
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
//!
//! This file holds the connection table and its timers (eviction, expiry, close grace, port
//! reuse); how one segment changes a connection is in `segment.rs`, the Zeek-style state and
//! history in `zeek.rs`.

use super::budget::BufferBudget;
use super::segment::{apply_segment, dir_of, drain, push_event, settle_held, Conn};
use super::zeek::conn_state;
use super::{
    CloseReason, ConnId, ConnKey, ConnSummary, Dir, Endpoint, FlowEvent, FlowSink, TcpEvent,
    TcpEventKind,
};
use crate::capture::{Duration, PacketRef, Timestamp};
use crate::decode::{Decoded, Encap, IcmpError, MirrorSession, TcpSegment, Transport};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The connection table is looked up for every packet: foldhash (seeded per process, so crafted
/// tuples cannot aim at one bucket) hashes the key several times faster than SipHash.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// Tracker limits and timers.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Most connections tracked at once; past it the least recently active one is closed out
    /// (counted in [`FlowStats::evicted`], its summary marked [`CloseReason::Evicted`]).
    ///
    /// Memory bound: a tracked connection costs at most about 3 KiB of flow + protocol state
    /// while it buffers no payload (measured with `cargo bench --bench adversarial`: 2.1 KiB
    /// per half-open connection in a SYN scan, 2.5 KiB per idle keep-alive connection, 3.1 KiB
    /// with an unanswered request queued); its buffers (out-of-order data, history, header
    /// blocks) come on top, all connections' together within `max_buffer_memory`. The default,
    /// 400 000, bounds a SYN scan or any flood of connections to about 1.2 GiB.
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
    /// Global buffer budget: most bytes held in buffers by all connections together (flow:
    /// out-of-order data and history; protocol: header blocks, bytes held before the
    /// application is known, TLS records). Past it, the connection whose buffer would grow
    /// gives it up, counted as skipped (memory limit); see [`BufferBudget`].
    pub max_buffer_memory: usize,
    /// Most evicted connections remembered so that one seen again mid-stream is counted once
    /// (as a continuation, [`crate::flow::ConnSummary::continuation`]); 8 bytes each.
    pub max_evicted_remembered: usize,
    /// A hole below an ACK (bytes acknowledged but not captured) waits this long of capture
    /// time for its data before it is declared a gap: mirror paths reorder packets, so an ACK
    /// can arrive before the data it acknowledges.
    pub reorder_window: Duration,
    /// ... or this many further packets of the connection, whichever comes first.
    pub reorder_packets: u8,
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
            max_buffer_memory: BufferBudget::DEFAULT_LIMIT,
            max_evicted_remembered: 1 << 20,
            reorder_window: Duration::from_millis(10),
            reorder_packets: 4,
        }
    }
}

/// Tracker counters for the report.
#[derive(Clone, Debug, Default)]
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
    /// Gaps declared because a memory limit was reached (not in `gaps`).
    pub memory_skipped_gaps: u64,
    /// Bytes skipped in those gaps: they may be in the capture (not in `gap_bytes`).
    pub memory_skipped_bytes: u64,
    /// Connections that had bytes skipped because of a memory limit.
    pub memory_limited_connections: u64,
    /// Evicted connections seen again mid-stream, followed on as continuations (not counted
    /// again in `connections` nor `evicted`).
    pub continuations: u64,
}

/// A 4-tuple in one session, endpoints sorted so both directions find it, packed into
/// integers: the table is looked up for every packet, and comparing or hashing a few integers
/// costs a fraction of walking the `IpAddr` enums of two endpoints and a session.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct TupleKey {
    /// The lower endpoint's address (an IPv4 address in the low 32 bits, see `tags`).
    lo_ip: u128,
    /// The higher endpoint's address.
    hi_ip: u128,
    /// The mirror's outer source address (0 when none, see `tags`).
    outer: u128,
    /// Lower port << 48 | higher port << 32 | VNI (0 when none, see `tags`).
    ports_vni: u64,
    /// Bit 0: `lo_ip` is IPv6; 1: `hi_ip` is IPv6; 2-3: the encapsulation; 4: a VNI; 5: an
    /// outer source; 6: it is IPv6.
    tags: u8,
}

impl std::hash::Hash for TupleKey {
    /// Two words for IPv4 (addresses; ports and VNI), the wider addresses folded in for IPv6.
    /// The outer source and the tags are left out (they rarely differ between sessions of one
    /// 4-tuple; `Eq` still compares them).
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if self.tags & 0b11 == 0 {
            state.write_u64((self.lo_ip as u64) << 32 | self.hi_ip as u64);
        } else {
            state.write_u128(self.lo_ip);
            state.write_u128(self.hi_ip);
        }
        state.write_u64(self.ports_vni);
    }
}

/// An address as an integer, and whether it is IPv6.
fn packed_ip(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u128::from(a.to_bits()), false),
        IpAddr::V6(a) => (a.to_bits(), true),
    }
}

/// Which end of a [`TupleKey`] an endpoint is: the lower, the higher, or both (the two
/// endpoints are one, as in a packet sent to itself).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum KeyEnd {
    Lo,
    Hi,
    Both,
}

impl KeyEnd {
    /// The other end.
    fn other(self) -> KeyEnd {
        match self {
            KeyEnd::Lo => KeyEnd::Hi,
            KeyEnd::Hi => KeyEnd::Lo,
            KeyEnd::Both => KeyEnd::Both,
        }
    }
}

/// A connection table entry: the connection, and which end of its key the client is, so that a
/// packet's direction (`src == key.client`) is known from the entry alone. Reading `key`, in
/// the connection's cold lines, put a second cache miss behind the first on every packet.
pub(super) struct Slot {
    conn: Box<Conn>,
    client: KeyEnd,
}

impl Slot {
    /// The direction of a packet whose source is the key's `src` end.
    #[inline]
    fn dir(&self, src: KeyEnd) -> Dir {
        if self.client == KeyEnd::Both || self.client == src {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }
}

impl std::ops::Deref for Slot {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Slot {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl TupleKey {
    #[inline]
    fn new(session: MirrorSession, a: Endpoint, b: Endpoint) -> Self {
        TupleKey::with_end(session, a, b).0
    }

    /// The key, and which end of it `a` is.
    #[inline]
    fn with_end(session: MirrorSession, a: Endpoint, b: Endpoint) -> (Self, KeyEnd) {
        let (a_ip, a_v6) = packed_ip(a.ip);
        let (b_ip, b_v6) = packed_ip(b.ip);
        // Any order that is the same for both directions will do.
        let (a_t, b_t) = ((a_ip, a.port, a_v6), (b_ip, b.port, b_v6));
        let (lo, hi, a_end) = if a_t < b_t {
            (a_t, b_t, KeyEnd::Lo)
        } else if a_t == b_t {
            (a_t, b_t, KeyEnd::Both)
        } else {
            (b_t, a_t, KeyEnd::Hi)
        };
        let (outer, outer_v6) = session.outer_src.map_or((0, false), packed_ip);
        let encap = match session.encap {
            Encap::None => 0u8,
            Encap::Vxlan => 1,
            Encap::Geneve => 2,
        };
        let key = TupleKey {
            lo_ip: lo.0,
            hi_ip: hi.0,
            outer,
            ports_vni: u64::from(lo.1) << 48
                | u64::from(hi.1) << 32
                | u64::from(session.vni.unwrap_or(0)),
            tags: u8::from(lo.2)
                | u8::from(hi.2) << 1
                | encap << 2
                | u8::from(session.vni.is_some()) << 4
                | u8::from(session.outer_src.is_some()) << 5
                | u8::from(outer_v6) << 6,
        };
        (key, a_end)
    }
}
/// Tracks TCP connections and reassembles their streams.
#[derive(Default)]
pub struct FlowTracker {
    config: FlowConfig,
    stats: FlowStats,
    /// Boxed (a [`Conn`] is about 1 KB): the table's spare capacity then costs a pointer per
    /// slot, not a whole connection.
    conns: HashMap<TupleKey, Slot>,
    /// (last activity, id) -> connection, for eviction and idle expiry; re-keyed lazily (an
    /// entry's key is the connection's `lru_key`, at or before its `activity`).
    lru: BTreeSet<(i64, u64, TupleKeyOrd)>,
    /// (last activity, id) of half-open connections.
    half_open: BTreeSet<(i64, u64, TupleKeyOrd)>,
    /// (grace deadline, id) of closing connections.
    closing: BTreeSet<(i64, u64, TupleKeyOrd)>,
    next_id: u64,
    now: i64,
    last_sweep: i64,
    /// Buffered bytes of every connection, shared with the protocol layer of the run.
    budget: BufferBudget,
    /// Hashes of the 4-tuples of evicted connections (see
    /// [`FlowConfig::max_evicted_remembered`]).
    evicted_keys: foldhash::HashSet<u64>,
    /// Order keys of the connections the latest timer run closed (see
    /// [`FlowTracker::timer_closes`]).
    timer_closes: Vec<(u8, i64)>,
    /// At or before the earliest close-grace deadline in `closing` (a packet before it and
    /// before the next sweep runs no timer).
    closing_due: i64,
}

/// [`TupleKey`] in the timer sets (ordered; ties never matter there, the connection id
/// comes first).
pub(super) type TupleKeyOrd = TupleKey;

/// The timer sets are re-keyed at most this often per connection (capture time), so a bulk
/// transfer does not pay two tree updates per packet.
pub(super) const LRU_GRANULARITY_NS: i64 = 100_000_000;

/// How often (capture time) idle and half-open connections are looked for.
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

impl FlowTracker {
    /// A tracker with the given limits.
    pub fn new(config: FlowConfig) -> Self {
        let budget = BufferBudget::new(config.max_buffer_memory);
        FlowTracker::with_budget(config, budget)
    }

    /// A tracker charging its buffers to `budget` (shared with the protocol layer);
    /// `config.max_buffer_memory` is not used.
    pub fn with_budget(config: FlowConfig, budget: BufferBudget) -> Self {
        FlowTracker {
            config,
            budget,
            ..FlowTracker::default()
        }
    }

    /// The buffer budget this tracker charges.
    pub fn budget(&self) -> &BufferBudget {
        &self.budget
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
        if self.now >= self.closing_due
            || self.now.saturating_sub(self.last_sweep) >= SWEEP_INTERVAL_NS
        {
            self.run_timers(sink);
        } else {
            // What `run_timers` would find: nothing due.
            self.timer_closes.clear();
        }
        match &decoded.transport {
            Transport::Tcp(seg) => self.process_tcp(packet, decoded, seg, sink),
            Transport::IcmpError(icmp) => self.process_icmp(packet, decoded.session, icmp),
            Transport::Other => {}
        }
    }

    /// Moves the capture clock to `now` (never back) and runs the timers as a packet at that
    /// time would, without a packet: for a caller that shows this tracker only some packets
    /// (one shard of the connections) but the clock of all of them.
    pub fn advance(&mut self, now: Timestamp, sink: &mut dyn FlowSink) {
        if now.0 > self.now {
            self.now = now.0;
        }
        self.run_timers(sink);
    }

    /// The earliest capture time at which a timer runs (a close grace ends, or the next sweep
    /// for idle and half-open connections is due): [`FlowTracker::advance`] to an earlier time
    /// does nothing.
    pub fn next_timer(&self) -> i64 {
        let sweep = self.last_sweep.saturating_add(SWEEP_INTERVAL_NS);
        self.closing
            .first()
            .map_or(sweep, |(d, _, _)| (*d).min(sweep))
    }

    /// One key per connection the latest timer run closed, in the order it closed them:
    /// (0 = close grace ended, 1 = idle, 2 = half-open; then the deadline or last activity).
    /// With the connection ids this orders the closes of several trackers (shards) run at one
    /// time as one tracker would have made them.
    pub fn timer_closes(&self) -> &[(u8, i64)] {
        &self.timer_closes
    }

    /// Closes every open connection (end of input).
    pub fn finish(&mut self, sink: &mut dyn FlowSink) {
        let mut all: Vec<(i64, u64, TupleKeyOrd)> = self.lru.iter().copied().collect();
        all.sort_by_key(|(_, id, _)| *id);
        for (_, _, k) in all {
            let key = k;
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
        self.timer_closes.clear();
        while let Some(&(deadline, _, k)) = self.closing.first() {
            if deadline > self.now {
                break;
            }
            self.timer_closes.push((0, deadline));
            self.stats.closed += 1;
            self.close(k, CloseReason::Closed, sink);
        }
        self.closing_due = self.closing.first().map_or(i64::MAX, |(d, _, _)| *d);
        if self.now.saturating_sub(self.last_sweep) < SWEEP_INTERVAL_NS {
            return;
        }
        self.last_sweep = self.now;
        let idle_before = self.now.saturating_sub(self.config.idle_expiry.0);
        while let Some(&(t, _, k)) = self.lru.first() {
            if t >= idle_before {
                break;
            }
            if self.sync_lru(k) {
                continue;
            }
            if !self.refresh(k, idle_before) {
                self.timer_closes.push((1, t));
                self.stats.expired += 1;
                self.close(k, CloseReason::Expired, sink);
            }
        }
        let half_before = self.now.saturating_sub(self.config.half_open_expiry.0);
        while let Some(&(t, _, k)) = self.half_open.first() {
            if t >= half_before {
                break;
            }
            if !self.refresh(k, half_before) {
                self.timer_closes.push((2, t));
                self.stats.expired += 1;
                self.close(k, CloseReason::Expired, sink);
            }
        }
    }

    /// Brings a connection's LRU entry in step with its `activity` (packets move only the
    /// latter); true when the entry moved (it may no longer be the first).
    fn sync_lru(&mut self, tkey: TupleKey) -> bool {
        let Some(conn) = self.conns.get_mut(&tkey) else {
            return false;
        };
        if conn.lru_key == conn.activity {
            return false;
        }
        let ord: TupleKeyOrd = tkey;
        self.lru.remove(&(conn.lru_key, conn.id.0, ord));
        self.lru.insert((conn.activity, conn.id.0, ord));
        conn.lru_key = conn.activity;
        true
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
        let ord: TupleKeyOrd = tkey;
        let (old, new) = (conn.activity, conn.end.0);
        conn.activity = new;
        self.lru.remove(&(conn.lru_key, conn.id.0, ord));
        self.lru.insert((new, conn.id.0, ord));
        conn.lru_key = new;
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
        conn.last_icmp_pos = Some(packet.pos);
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
        let (tkey, src_end) = TupleKey::with_end(decoded.session, src, dst);
        let pure_syn = seg.flags.syn && !seg.flags.ack;

        // Fast path (one hash lookup): a known connection, and not a SYN reusing its 4-tuple.
        if let Some(conn) = self.conns.get_mut(&tkey) {
            if !(pure_syn && is_port_reuse(conn, src, seg.seq)) {
                let dir = conn.dir(src_end);
                let timers = Timers {
                    half_open: &mut self.half_open,
                    closing: &mut self.closing,
                    closing_due: &mut self.closing_due,
                };
                apply_segment(
                    conn,
                    tkey,
                    timers,
                    &self.config,
                    &mut self.stats,
                    &self.budget,
                    packet,
                    decoded,
                    seg,
                    dir,
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
                if self.sync_lru(k) {
                    continue;
                }
                if !self.refresh(k, i64::MIN) {
                    self.evict(k, sink);
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
        // The rest of a connection evicted earlier (not a new SYN): counted once.
        let continuation = !pure_syn
            && !self.evicted_keys.is_empty()
            && self.evicted_keys.remove(&hash_key(&tkey));
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
        let mut conn = Conn::new(id, key, packet, saw_syn, cap);
        conn.continuation = continuation;
        self.lru.insert((conn.activity, id.0, tkey));
        if continuation {
            self.stats.continuations += 1;
        } else {
            self.stats.connections += 1;
        }
        sink.on_flow_event(
            id,
            FlowEvent::Open {
                key,
                ts: packet.ts,
                pos: packet.pos,
                continuation,
                saw_syn,
            },
        );
        let client_end = if client == src {
            src_end
        } else {
            src_end.other()
        };
        let slot = Slot {
            conn: Box::new(conn),
            client: client_end,
        };
        let dir = slot.dir(src_end);
        self.conns.insert(tkey, slot);
        let Some(conn) = self.conns.get_mut(&tkey) else {
            return;
        };
        let timers = Timers {
            half_open: &mut self.half_open,
            closing: &mut self.closing,
            closing_due: &mut self.closing_due,
        };
        apply_segment(
            conn,
            tkey,
            timers,
            &self.config,
            &mut self.stats,
            &self.budget,
            packet,
            decoded,
            seg,
            dir,
            sink,
        );
        self.stats.peak_open = self.stats.peak_open.max(self.conns.len() as u64);
    }

    /// Closes out a connection because the table is full. It is counted once: its 4-tuple is
    /// remembered so that its next packet continues it rather than counting a new one.
    fn evict(&mut self, tkey: TupleKey, sink: &mut dyn FlowSink) {
        let continuation = self.conns.get(&tkey).is_some_and(|c| c.continuation);
        if !continuation {
            self.stats.evicted += 1;
        }
        if self.config.max_evicted_remembered > 0 {
            if self.evicted_keys.len() >= self.config.max_evicted_remembered {
                // Bounded: forget them all (later continuations count as new connections).
                self.evicted_keys = foldhash::HashSet::default();
            }
            self.evicted_keys.insert(hash_key(&tkey));
        }
        self.close(tkey, CloseReason::Evicted, sink);
    }

    /// Flushes and hands a connection's summary downstream, then forgets it.
    fn close(&mut self, tkey: TupleKey, reason: CloseReason, sink: &mut dyn FlowSink) {
        let Some(conn) = self.conns.remove(&tkey) else {
            return;
        };
        let mut conn = *conn.conn;
        let ord: TupleKeyOrd = tkey;
        self.lru.remove(&(conn.lru_key, conn.id.0, ord));
        if conn.half_open {
            self.half_open.remove(&(conn.activity, conn.id.0, ord));
        }
        if let Some(d) = conn.closing {
            self.closing.remove(&(d, conn.id.0, ord));
        }
        self.budget.recharge(conn.charged, 0);
        conn.charged = 0;
        let (ts, pos) = (Timestamp(self.now.max(conn.end.0)), conn.last_pos);
        settle_held(
            &mut conn,
            &self.config,
            &mut self.stats,
            ts,
            [true; 2],
            sink,
        );
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
            last_pos: match conn.last_icmp_pos {
                Some(icmp) if icmp > conn.last_pos => icmp,
                _ => conn.last_pos,
            },
            saw_syn: conn.saw_syn,
            handshake_ack: conn.handshake_ack,
            dirs: [conn.sides[0].stats, conn.sides[1].stats],
            state: conn_state(&conn).to_string(),
            history: conn.history,
            events: conn.events,
            events_dropped: conn.events_dropped,
            close_reason: reason,
            continuation: conn.continuation,
        };
        sink.on_flow_event(summary.id, FlowEvent::Close(Box::new(summary)));
    }
}

/// The tracker's timer sets, borrowed apart from the connection table.
pub(super) struct Timers<'a> {
    pub(super) half_open: &'a mut BTreeSet<(i64, u64, TupleKeyOrd)>,
    pub(super) closing: &'a mut BTreeSet<(i64, u64, TupleKeyOrd)>,
    /// [`FlowTracker`]'s `closing_due`, lowered to a deadline put into `closing`.
    pub(super) closing_due: &'a mut i64,
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

/// A 64-bit hash of a 4-tuple key, to remember evicted connections in 8 bytes each.
fn hash_key(tkey: &TupleKey) -> u64 {
    use std::hash::BuildHasher;
    // Fixed seed: the set is private to the run and only ever compared with itself.
    foldhash::fast::FixedState::with_seed(0x616c_6273).hash_one(tkey)
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

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
