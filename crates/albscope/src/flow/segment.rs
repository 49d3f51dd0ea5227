//! A tracked connection's state, and how one TCP segment updates it: duplicates, the handshake,
//! sequence numbers and payload (handed to the direction's [`Reassembler`]), ACKs that reveal
//! holes, FIN and RST; then the table's timer sets are brought in step with the connection.
//! The connection table that owns these states, and its timers, is in `tracker.rs`.

use super::budget::BufferBudget;
use super::reassembly::{Chunk, Reassembler};
use super::reorder::HeldHoles;
use super::tracker::{Timers, TupleKey, TupleKeyOrd, LRU_GRANULARITY_NS};
use super::zeek::{EpState, HistoryLetter, HistoryMarks};
use super::{
    ConnId, ConnKey, Dir, DirStats, Endpoint, FlowConfig, FlowEvent, FlowSink, FlowStats, GapCause,
    TcpEvent, TcpEventKind,
};
use crate::capture::{PacketPos, PacketRef, Timestamp};
use crate::decode::{Decoded, TcpSegment};

/// Signature of a recent packet, for duplicate detection, apart from its sequence number
/// (kept in [`DirState::recent_seq`], the one part compared for every packet).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Sig {
    ack: u32,
    len: u32,
    flags: u8,
    window: u16,
    ip_id: Option<u16>,
}

/// Recent packets remembered per direction for duplicate detection.
const RECENT: usize = 4;

/// The state of one direction of a connection (the packets one endpoint sends).
///
/// `repr(C)`, hot fields first: what every packet of an established connection reads or writes
/// (sequence numbers of recent packets, base, FIN offset, state; the reassembler's counters;
/// the byte counters; whether holes are held) comes first, in about four cache lines; what
/// unusual packets need (the rest of the recent packets' signatures, history marks, the FIN's
/// time and packet, the held holes themselves) after it. (Not aligned to a cache line: the
/// padding cost more memory than the lines it saves.)
#[repr(C)]
pub(super) struct DirState {
    /// Sequence numbers of the recent packets (the rest of their signatures in `recent`).
    recent_seq: [u32; RECENT],
    /// Sequence number of stream offset 0 (ISN + 1, or the first seq seen without a SYN).
    pub(super) base: Option<u32>,
    /// ISN of the SYN (or SYN-ACK) this side sent.
    pub(super) syn_isn: Option<u32>,
    /// FIN seen at this stream offset (its time and packet in `fin_at`), delivered or not.
    fin_off: Option<u64>,
    /// Signatures kept in `recent`, and the slot the next one goes to (both at most [`RECENT`]:
    /// one byte each keeps the state of a connection small).
    recent_len: u8,
    recent_next: u8,
    /// Zeek's state of the sending endpoint.
    pub(super) state: EpState,
    fin_delivered: bool,
    pub(super) reasm: Reassembler,
    pub(super) stats: DirStats,
    /// Holes below an ACK of the peer, held for the reorder window before they are gaps.
    held: HeldHoles,
    /// Which history letters this direction already recorded.
    pub(super) marks: HistoryMarks,
    /// The recent packets' signatures (but their sequence numbers) and times.
    recent: [(Sig, Timestamp); RECENT],
    /// Time and packet of the FIN at `fin_off`.
    fin_at: (Timestamp, PacketPos),
}

impl DirState {
    fn new(history_cap: usize) -> Self {
        let empty = Sig {
            ack: 0,
            len: 0,
            flags: 0,
            window: 0,
            ip_id: None,
        };
        DirState {
            recent_seq: [0; RECENT],
            base: None,
            syn_isn: None,
            fin_off: None,
            recent_len: 0,
            recent_next: 0,
            state: EpState::Inactive,
            fin_delivered: false,
            reasm: Reassembler::new(history_cap),
            stats: DirStats::default(),
            held: HeldHoles::default(),
            marks: HistoryMarks::default(),
            recent: [(empty, Timestamp(0)); RECENT],
            fin_at: (Timestamp(0), PacketPos::default()),
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

    /// Whether [`drain`] up to `reasm.next()` could hand anything out: a buffered piece (one
    /// may start at `next`), or a FIN not yet delivered.
    fn drain_due(&self) -> bool {
        !self.reasm.nothing_pending() || (self.fin_off.is_some() && !self.fin_delivered)
    }

    /// Highest offset worth flushing to at close: seen bytes, the FIN and held holes.
    pub(super) fn flush_limit(&self) -> u64 {
        let fin = self.fin_off.unwrap_or(0);
        self.reasm.high().max(fin).max(self.held.high())
    }
}

/// A tracked connection.
///
/// `repr(C)`, hot fields first: what every packet reads or writes (times, last packet, timer
/// keys, the flags the timers look at) in the first 96 bytes, then the two directions
/// (each with its own hot lines first, see [`DirState`]), then what only the open and the close
/// need (key, start, history letters, events). The tracker finds the packet's direction from
/// its table entry, not from `key`, so an established connection's packet reads no cold line.
#[repr(C)]
pub(super) struct Conn {
    pub(super) id: ConnId,
    pub(super) end: Timestamp,
    /// Key of this connection in the timer sets: its last activity, refreshed only when it is
    /// `LRU_GRANULARITY_NS` behind `end` (sweeps check `end` before closing anything).
    pub(super) activity: i64,
    /// Bytes this connection's buffers are charged against the global [`BufferBudget`].
    pub(super) charged: usize,
    /// Deadline of the close grace, once a RST or both FINs were seen.
    pub(super) closing: Option<i64>,
    pub(super) last_pos: PacketPos,
    /// When the originator's ACK of the SYN-ACK was seen (see
    /// [`super::ConnSummary::handshake_ack`]).
    pub(super) handshake_ack: Option<Timestamp>,
    pub(super) saw_syn: bool,
    /// In the half-open set (handshake not completed).
    pub(super) half_open: bool,
    rst_seen: bool,
    /// Bytes were skipped on this connection because of a memory limit (counted once).
    memory_limited: bool,
    /// Rest of a connection evicted earlier (see [`super::ConnSummary::continuation`]).
    pub(super) continuation: bool,
    /// Per direction, indexed by [`Dir::index`].
    pub(super) sides: [DirState; 2],
    pub(super) key: ConnKey,
    pub(super) start: Timestamp,
    pub(super) first_pos: PacketPos,
    /// The last matched ICMP error's position, when one came.
    pub(super) last_icmp_pos: Option<PacketPos>,
    /// Zeek-style history letters.
    pub(super) history: String,
    pub(super) events: Vec<TcpEvent>,
    pub(super) events_dropped: u32,
    /// The key this connection's entry in the LRU set really has. The set is re-keyed lazily:
    /// a packet only moves `activity`, and the entry is brought in step when it comes first
    /// in the set (a sweep or an eviction), so busy connections cost no tree update per packet
    /// and the set is still visited in `(activity, id)` order.
    pub(super) lru_key: i64,
}

impl Conn {
    /// A connection opened by `packet`; `history_cap` bytes of delivered history are kept per
    /// direction for conflict detection.
    pub(super) fn new(
        id: ConnId,
        key: ConnKey,
        packet: &PacketRef<'_>,
        saw_syn: bool,
        history_cap: usize,
    ) -> Self {
        Conn {
            id,
            key,
            start: packet.ts,
            end: packet.ts,
            first_pos: packet.pos,
            last_pos: packet.pos,
            last_icmp_pos: None,
            saw_syn,
            handshake_ack: None,
            sides: [DirState::new(history_cap), DirState::new(history_cap)],
            history: String::new(),
            events: Vec::new(),
            events_dropped: 0,
            activity: packet.ts.0,
            lru_key: packet.ts.0,
            half_open: false,
            closing: None,
            rst_seen: false,
            charged: 0,
            memory_limited: false,
            continuation: false,
        }
    }

    /// Heap held by the buffers of both directions.
    pub(super) fn memory(&self) -> usize {
        self.sides[0]
            .reasm
            .memory()
            .saturating_add(self.sides[1].reasm.memory())
    }
}

/// Largest hole inferred from an ACK or a FIN beyond the bytes seen (a TCP window's worth);
/// a leap further than this is taken as a bogus number and ignored.
const MAX_INFERRED_GAP: u64 = 1 << 26;

fn flag_bits(seg: &TcpSegment<'_>) -> u8 {
    let f = seg.flags;
    (f.syn as u8)
        | (f.ack as u8) << 1
        | (f.fin as u8) << 2
        | (f.rst as u8) << 3
        | (f.psh as u8) << 4
}

/// Which direction a packet from `src` travels in.
pub(super) fn dir_of(conn: &Conn, src: Endpoint) -> Dir {
    if src == conn.key.client {
        Dir::ToServer
    } else {
        Dir::ToClient
    }
}

pub(super) fn push_event(conn: &mut Conn, max_events: usize, event: TcpEvent) {
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

/// Applies a segment to its connection and keeps the table's timer sets in step (here, not in
/// `tracker.rs`, so that `update_conn` is compiled into it: one call per packet, as before the
/// split).
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_segment(
    conn: &mut Conn,
    tkey: TupleKey,
    timers: Timers<'_>,
    config: &FlowConfig,
    stats: &mut FlowStats,
    budget: &BufferBudget,
    packet: &PacketRef<'_>,
    decoded: &Decoded<'_>,
    seg: &TcpSegment<'_>,
    dir: Dir,
    sink: &mut dyn FlowSink,
) {
    let ord: TupleKeyOrd = tkey;
    let old_activity = conn.activity;
    let was_half_open = conn.half_open;
    let was_closing = conn.closing;

    update_conn(conn, config, stats, packet, decoded, seg, dir, sink);
    if conn.memory() != conn.charged {
        charge_memory(conn, budget, config, stats, packet.ts, packet.pos, sink);
    }

    if conn.end.0.saturating_sub(old_activity) >= LRU_GRANULARITY_NS {
        // The LRU entry follows when it comes first (see `Conn::lru_key`).
        conn.activity = conn.end.0;
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
            *timers.closing_due = (*timers.closing_due).min(deadline);
        }
    }
}

/// Applies one segment, sent in direction `dir` (the tracker knows it from its table entry,
/// without reading the connection's key), to its connection.
#[allow(clippy::too_many_arguments)]
fn update_conn(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    packet: &PacketRef<'_>,
    decoded: &Decoded<'_>,
    seg: &TcpSegment<'_>,
    dir: Dir,
    sink: &mut dyn FlowSink,
) {
    let di = dir.index();
    let ts = packet.ts;
    let pos = packet.pos;
    let payload: &[u8] = &seg.payload;
    let wire_len = (payload.len() as u64).saturating_add(seg.missing_payload as u64);

    // Duplicate: the same packet mirrored twice.
    let seq = seg.seq;
    let sig = Sig {
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
        // Slices of the kept signatures (one bounds check, not an adapter per step).
        let kept = usize::from(side.recent_len);
        let seqs = side.recent_seq.get(..kept).unwrap_or(&[]);
        let rest = side.recent.get(..kept).unwrap_or(&[]);
        let is_dup = seqs.iter().zip(rest).any(|(s_seq, (s, t))| {
            // The sequence number first: it tells most packets apart at once (and is the only
            // part of a signature in the hot cache lines).
            *s_seq == seq
                && s.len == sig.len
                && s.flags == sig.flags
                && ts.0.saturating_sub(t.0).abs() <= window
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
        let slot = usize::from(side.recent_next);
        if let (Some(s_seq), Some(s)) = (side.recent_seq.get_mut(slot), side.recent.get_mut(slot)) {
            *s_seq = seq;
            *s = (sig, ts);
        }
        side.recent_next = (side.recent_next + 1) % RECENT as u8;
        side.recent_len = (side.recent_len + 1).min(RECENT as u8);
        side.stats.packets += 1;
        side.stats.wire_bytes += decoded.ip_len as u64;
    }
    conn.end = conn.end.max(ts);
    conn.last_pos = pos;
    if in_order(conn, seg, dir, wire_len, payload) {
        deliver_in_order(conn, config, seg, dir, ts, pos, payload, sink);
        return;
    }
    // Holes held past the reorder window are gaps before this packet counts.
    let mut held = false;
    for side in &mut conn.sides {
        if !side.held.is_empty() {
            side.held.count_packet();
            held = true;
        }
    }
    if held {
        // Data from the sender of the ACK follows the bytes it acknowledged (a response
        // follows its request): the holes below that ACK are due before this data.
        let mut force = [false; 2];
        if wire_len > 0 || seg.flags.fin || seg.flags.rst {
            force[dir.reverse().index()] = true;
        }
        settle_held(conn, config, stats, ts, force, sink);
    }

    let flags = seg.flags;
    if seg.checksum_ok == Some(false) {
        conn.record(dir, HistoryLetter::BadChecksum);
    }
    if flags.syn && (flags.fin || flags.rst) {
        conn.record(dir, HistoryLetter::MultiFlag);
    }
    if flags.fin && flags.rst {
        conn.record(dir, HistoryLetter::Inconsistent);
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
        let letter = if flags.ack {
            HistoryLetter::SynAck { seq: seg.seq }
        } else {
            HistoryLetter::Syn { seq: seg.seq }
        };
        conn.record(dir, letter);
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
        // The originator's first packet after its SYN acknowledges the SYN-ACK (an end still
        // connecting acknowledges nothing else): where the capture lacks the SYN-ACK, its ACK
        // number is the responder's ISN + 1, the start of the responder's stream, so that
        // bytes of the responder's the capture lacks from the start show as a gap.
        if flags.ack && dir == Dir::ToServer && !conn.sides[0].marks.past_syn() {
            let isn = conn.sides[0].syn_isn;
            let responder = &mut conn.sides[1];
            let first = isn.is_some_and(|i| seg.seq == i.wrapping_add(1));
            if first && responder.base.is_none() && responder.syn_isn.is_none() {
                responder.base = Some(seg.ack);
            }
        }
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
        // The handshake's last packet: the originator's first ACK after the SYN-ACK.
        if flags.ack
            && dir == Dir::ToServer
            && conn.handshake_ack.is_none()
            && conn.sides[1].syn_isn.is_some()
        {
            conn.handshake_ack = Some(ts);
        }
        if !conn.saw_syn && conn.sides[0].syn_isn.is_none() && conn.sides[1].syn_isn.is_none() {
            conn.half_open = false;
        }
    }

    // ACK first: it acknowledges bytes the peer sent before this segment. A hole below them is
    // held for the reorder window (the mirror may deliver the data after its ACK); data
    // arriving inside it fills the hole in order, otherwise the hole becomes a gap dated at
    // this ACK.
    if flags.ack {
        let peer = dir.reverse();
        let ps = &conn.sides[peer.index()];
        if let Some(acked) = ps.offset_of(seg.ack) {
            if acks_lost_fin(ps, acked) {
                fin_not_captured(conn, config, stats, peer, ts, pos, sink);
            }
            let ps = &conn.sides[peer.index()];
            let next = ps.reasm.next() as i64;
            // Only a bare ACK waits: data, a FIN or a RST of its sender follows the bytes it
            // acknowledges, so a hole below them is a gap before it.
            let bare = wire_len == 0 && !flags.fin && !flags.rst && !flags.syn;
            if let Some(limit) = ack_limit(ps, acked) {
                let side = &mut conn.sides[peer.index()];
                side.reasm.acknowledge(limit);
                if bare {
                    side.held.hold(limit, ts, pos);
                } else {
                    drain(conn, config, stats, peer, limit, ts, pos, sink);
                }
            } else if acked > 0 {
                conn.sides[peer.index()]
                    .reasm
                    .acknowledge(acked.min(next).max(0) as u64);
            }
        }
    }

    // Payload.
    if wire_len > 0 {
        conn.record(dir, HistoryLetter::Data);
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
                conn.record(dir, HistoryLetter::Retransmission);
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
            if conn.sides[di].drain_due() {
                drain(conn, config, stats, dir, next, ts, pos, sink);
            }
            // Buffer cap: give up on the first hole until under the cap.
            while conn.sides[di].reasm.buffered() > config.max_buffered_bytes {
                let limit = conn.sides[di].reasm.first_pending().unwrap_or(next);
                let cause = GapCause::MemoryLimit;
                drain_with(conn, config, stats, dir, limit, ts, pos, sink, cause);
            }
        }
    } else if flags.ack && !flags.syn && !flags.fin && !flags.rst {
        conn.record(dir, HistoryLetter::Ack);
    }
    if seg.window == 0 && !flags.rst && !flags.syn {
        conn.record(dir, HistoryLetter::ZeroWindow);
    }

    // FIN.
    if flags.fin {
        conn.record(dir, HistoryLetter::Fin { seq: seg.seq });
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
        if side.fin_off.is_none() {
            side.fin_off = Some(fin_off.unwrap_or(0));
            side.fin_at = (ts, pos);
        }
        if side.state != EpState::Reset {
            side.state = EpState::Closed;
        }
        // Every byte before the FIN was sent: a hole before it is a gap now (data reordered
        // behind its own FIN is rare; waiting for the peer's ACK could hold the FIN for ever).
        let next = side.reasm.next();
        let limit = match side.fin_off {
            Some(o) if o > next && o - next <= MAX_INFERRED_GAP => o,
            _ => next,
        };
        drain(conn, config, stats, dir, limit, ts, pos, sink);
    }

    // RST: flush both directions (holes become gaps), then report it.
    if flags.rst {
        conn.record(dir, HistoryLetter::Rst { seq: seg.seq });
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
        settle_held(conn, config, stats, ts, [true; 2], sink);
        for d in [dir, dir.reverse()] {
            let limit = conn.sides[d.index()].reasm.high();
            drain(conn, config, stats, d, limit, ts, pos, sink);
        }
        sink.on_flow_event(conn.id, FlowEvent::Rst { dir, ts, pos });
        conn.rst_seen = true;
    }

    // Holes this packet filled (or that are due) are settled.
    if !conn.sides[0].held.is_empty() || !conn.sides[1].held.is_empty() {
        settle_held(conn, config, stats, ts, [false; 2], sink);
    }

    close_when_done(conn, config, ts);
}

/// Starts the close grace once the connection is reset or both ends sent their FIN (its
/// retransmission history is no longer needed).
fn close_when_done(conn: &mut Conn, config: &FlowConfig, ts: Timestamp) {
    let both_fins = conn.sides[0].fin_off.is_some() && conn.sides[1].fin_off.is_some();
    if conn.closing.is_none() && (conn.rst_seen || both_fins) {
        conn.closing = Some(ts.0.saturating_add(config.close_grace.0));
        conn.half_open = false;
        for side in &mut conn.sides {
            side.reasm.release_history();
        }
    }
}

/// Whether a segment (not a duplicate) takes the in-order path, [`deliver_in_order`]: the
/// common packet of an established connection, an ACK with the next expected bytes or none.
/// It asks only what the full path ([`update_conn`] from its held holes on) would do with the
/// segment, changing nothing, and says yes only when the full path would do no more than
/// `deliver_in_order` does:
/// - no held holes in either direction, so none is counted, settled or forced;
/// - ACK set; SYN, FIN and RST not, the checksum not known bad and the window not zero: no
///   letter but `A` or `D`, no handshake or FIN/RST step, no event;
/// - the sender past its SYN (not inactive nor SYN-sent) with its base known, and the
///   connection not half-open and, for a packet to the server, its handshake ACK already
///   seen or impossible (no server SYN-ACK): no state, half-open or handshake change;
/// - the ACK either acknowledges nothing new beyond what the peer sent (then the full path
///   only trims the peer's history, as here) or cannot be placed (peer base unknown): no hole
///   to hold or drain;
/// - payload wholly captured (nothing missing), starting exactly at the next offset, with
///   nothing buffered and no FIN of the sender seen: `Reassembler::insert` would take its fast
///   path for all of it (nothing old, no conflict, nothing buffered) and nothing would drain.
///
/// A proptest (`in_order_path_decides_as_the_full_path`) feeds random segment orders through
/// both and compares every event and the summaries.
#[inline]
fn in_order(conn: &Conn, seg: &TcpSegment<'_>, dir: Dir, wire_len: u64, payload: &[u8]) -> bool {
    #[cfg(test)]
    if tests_switch::FULL_PATH_ONLY.with(|f| f.get()) {
        return false;
    }
    let yes = in_order_checks(conn, seg, dir, wire_len, payload);
    #[cfg(test)]
    if yes {
        tests_switch::IN_ORDER_TAKEN.with(|c| c.set(c.get() + 1));
    }
    yes
}

/// [`in_order`]'s checks.
#[inline]
fn in_order_checks(
    conn: &Conn,
    seg: &TcpSegment<'_>,
    dir: Dir,
    wire_len: u64,
    payload: &[u8],
) -> bool {
    let flags = seg.flags;
    if !flags.ack
        || flags.syn
        || flags.fin
        || flags.rst
        || seg.window == 0
        || seg.checksum_ok == Some(false)
        || seg.missing_payload != 0
        || conn.half_open
    {
        return false;
    }
    let [a, b] = &conn.sides;
    if !a.held.is_empty() || !b.held.is_empty() {
        return false;
    }
    let me = &conn.sides[dir.index()];
    if me.base.is_none() || matches!(me.state, EpState::Inactive | EpState::SynSent) {
        return false;
    }
    if dir == Dir::ToServer && conn.handshake_ack.is_none() && b.syn_isn.is_some() {
        return false;
    }
    let ps = &conn.sides[dir.reverse().index()];
    if let Some(acked) = ps.offset_of(seg.ack) {
        if ack_limit(ps, acked).is_some() || acks_lost_fin(ps, acked) {
            return false;
        }
    }
    if wire_len == 0 {
        return true;
    }
    let next = me.reasm.next();
    me.fin_off.is_none()
        && me.reasm.nothing_pending()
        && !payload.is_empty()
        && me.offset_of(seg.seq) == Some(next as i64)
}

/// The hole an ACK of `ps`'s bytes up to stream offset `acked` reveals: the offset the bytes
/// below it are due to (held or drained), when past the next offset and within reach.
fn ack_limit(ps: &DirState, acked: i64) -> Option<u64> {
    let next = ps.reasm.next() as i64;
    // A FIN takes one sequence number: do not count it as a byte. An ACK exactly one past the
    // last byte seen, from a peer whose FIN the capture lacks, acknowledges that FIN (lost by
    // the mirror), not a lost byte: were it a byte, the data after it leaves a hole that a
    // later ACK or the close still declares.
    let fin_cap = ps.fin_off.map(|o| o as i64).unwrap_or(i64::MAX);
    let limit = if acks_lost_fin(ps, acked) {
        next
    } else {
        acked.min(fin_cap)
    };
    (limit > next && limit - next <= MAX_INFERRED_GAP as i64).then_some(limit as u64)
}

/// True when an ACK of `ps`'s stream up to offset `acked` acknowledges a FIN the capture
/// lacks: exactly one past the last byte seen, nothing seen beyond it, no FIN seen. (A lost
/// one-byte segment would look the same; a FIN is what ends an HTTP connection.)
fn acks_lost_fin(ps: &DirState, acked: i64) -> bool {
    let next = ps.reasm.next() as i64;
    ps.fin_off.is_none() && acked == next + 1 && ps.reasm.high() == next as u64
}

/// Records the FIN of `dir`'s sender that the capture lacks (mirror or capture loss) but the
/// peer acknowledged ([`acks_lost_fin`]): a [`TcpEventKind::FinNotCaptured`] dated just before
/// the acknowledging packet at `ts`/`pos` (the FIN was sent before it), and the FIN handed
/// downstream like a captured one, so that the close is not lost with its packet.
#[allow(clippy::too_many_arguments)]
fn fin_not_captured(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    dir: Dir,
    ts: Timestamp,
    pos: PacketPos,
    sink: &mut dyn FlowSink,
) {
    let last = conn.events.last().map_or(i64::MIN, |e| e.ts.0);
    let at = Timestamp(ts.0.saturating_sub(1).max(last));
    let side = &mut conn.sides[dir.index()];
    side.fin_off = Some(side.reasm.next());
    side.fin_at = (at, pos);
    if side.state != EpState::Reset {
        side.state = EpState::Closed;
    }
    push_event(
        conn,
        config.max_events,
        TcpEvent {
            ts: at,
            pos,
            dir,
            kind: TcpEventKind::FinNotCaptured,
        },
    );
    let next = conn.sides[dir.index()].reasm.next();
    drain(conn, config, stats, dir, next, ts, pos, sink);
}

/// The in-order path (see [`in_order`] for when it is taken and why it decides as the full
/// path does): the ACK trims the peer's delivered-bytes history, the payload goes downstream
/// at once. The payload is still copied into the sender's history (a later retransmission
/// carrying different bytes is a conflict only that copy can show), but without
/// `Reassembler::insert`'s overlap and buffering walk.
#[allow(clippy::too_many_arguments)]
fn deliver_in_order(
    conn: &mut Conn,
    config: &FlowConfig,
    seg: &TcpSegment<'_>,
    dir: Dir,
    ts: Timestamp,
    pos: PacketPos,
    payload: &[u8],
    sink: &mut dyn FlowSink,
) {
    let peer = &mut conn.sides[dir.reverse().index()];
    if let Some(acked) = peer.offset_of(seg.ack) {
        if acked > 0 {
            let next = peer.reasm.next() as i64;
            peer.reasm.acknowledge(acked.min(next).max(0) as u64);
        }
    }
    if payload.is_empty() {
        conn.record(dir, HistoryLetter::Ack);
    } else {
        conn.record(dir, HistoryLetter::Data);
        let side = &mut conn.sides[dir.index()];
        let offset = side.reasm.deliver_in_order(payload);
        side.stats.payload_bytes += payload.len() as u64;
        sink.on_flow_event(
            conn.id,
            FlowEvent::Data {
                dir,
                ts,
                pos,
                offset,
                bytes: payload,
            },
        );
    }
    close_when_done(conn, config, ts);
}

/// A test switch sending every segment the full way, to compare both paths.
#[cfg(test)]
pub(super) mod tests_switch {
    use std::cell::Cell;

    thread_local! {
        /// When set, [`super::in_order`] says no.
        pub(in crate::flow) static FULL_PATH_ONLY: Cell<bool> = const { Cell::new(false) };
        /// Segments [`super::in_order`] sent the in-order way.
        pub(in crate::flow) static IN_ORDER_TAKEN: Cell<u64> = const { Cell::new(0) };
    }
}

/// Settles the held holes of both directions that are due at `now` (filled, or past the
/// reorder window; all of them in a direction `force`d, by [`Dir::index`]: at a RST, the
/// close, or the peer's next data): a hole still missing data becomes a gap dated at the ACK
/// that revealed it.
pub(super) fn settle_held(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    now: Timestamp,
    force: [bool; 2],
    sink: &mut dyn FlowSink,
) {
    for dir in [Dir::ToServer, Dir::ToClient] {
        let di = dir.index();
        let force = force[di];
        loop {
            let side = &mut conn.sides[di];
            if side.held.is_empty() {
                break;
            }
            let next = side.reasm.next();
            let window = config.reorder_window;
            let packets = config.reorder_packets;
            let Some(hole) = side.held.take_due(next, now, window, packets, force) else {
                break;
            };
            if hole.limit > next {
                drain(
                    conn, config, stats, dir, hole.limit, hole.ts, hole.pos, sink,
                );
            }
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

/// Brings the connection's charge against the global budget up to date. When its buffers grew
/// by more than the budget has room for, the connection gives them up: the delivered-bytes
/// history of both directions (no more conflict checks on it), then the holes in front of its
/// out-of-order data, declared gaps skipped by the memory limit (the data is delivered).
pub(super) fn charge_memory(
    conn: &mut Conn,
    budget: &BufferBudget,
    config: &FlowConfig,
    stats: &mut FlowStats,
    ts: Timestamp,
    pos: PacketPos,
    sink: &mut dyn FlowSink,
) {
    let mut mem = conn.memory();
    if mem > conn.charged && !budget.fits(mem - conn.charged) {
        for side in &mut conn.sides {
            side.reasm.disable_history();
        }
        for dir in [Dir::ToServer, Dir::ToClient] {
            let di = dir.index();
            while let Some(limit) = conn.sides[di].reasm.first_pending() {
                let before = conn.sides[di].reasm.next();
                let cause = GapCause::MemoryLimit;
                drain_with(conn, config, stats, dir, limit, ts, pos, sink, cause);
                if conn.sides[di].reasm.next() == before {
                    break;
                }
            }
        }
        mem = conn.memory();
    }
    conn.charged = budget.recharge(conn.charged, mem);
}

/// Hands out everything of `dir`'s stream below `limit` (data, and gaps for holes never
/// captured), then the FIN once every byte before it is out.
#[allow(clippy::too_many_arguments)]
pub(super) fn drain(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    dir: Dir,
    limit: u64,
    ts: Timestamp,
    pos: PacketPos,
    sink: &mut dyn FlowSink,
) {
    let cause = GapCause::NotCaptured;
    drain_with(conn, config, stats, dir, limit, ts, pos, sink, cause);
}

/// [`drain`], its holes declared gaps for `cause`.
#[allow(clippy::too_many_arguments)]
fn drain_with(
    conn: &mut Conn,
    config: &FlowConfig,
    stats: &mut FlowStats,
    dir: Dir,
    limit: u64,
    ts: Timestamp,
    pos: PacketPos,
    sink: &mut dyn FlowSink,
    cause: GapCause,
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
                let memory_limit = cause == GapCause::MemoryLimit;
                let side = &mut conn.sides[di];
                side.stats.gaps = side.stats.gaps.saturating_add(1);
                side.stats.gap_bytes += len;
                if memory_limit {
                    stats.memory_skipped_gaps += 1;
                    stats.memory_skipped_bytes += len;
                    if !conn.memory_limited {
                        conn.memory_limited = true;
                        stats.memory_limited_connections += 1;
                    }
                } else {
                    stats.gaps += 1;
                    stats.gap_bytes += len;
                }
                conn.record(dir, HistoryLetter::Gap);
                push_event(
                    conn,
                    config.max_events,
                    TcpEvent {
                        ts,
                        pos,
                        dir,
                        kind: if memory_limit {
                            TcpEventKind::MemorySkipped { offset, len }
                        } else {
                            TcpEventKind::Gap { offset, len }
                        },
                    },
                );
                sink.on_flow_event(
                    conn.id,
                    FlowEvent::Gap {
                        dir,
                        ts,
                        offset,
                        len,
                        cause,
                    },
                );
            }
        }
    }
    let side = &mut conn.sides[di];
    if let Some(fin_off) = side.fin_off {
        let (fin_ts, fin_pos) = side.fin_at;
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

#[cfg(test)]
mod layout_tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// What a packet of an established, in-order connection touches stays in the first cache
    /// lines of the connection and of each direction (see [`Conn`] and [`DirState`]).
    #[test]
    fn hot_fields_come_first() {
        // The connection's own hot fields: 96 bytes.
        assert!(offset_of!(Conn, continuation) < 96, "conn hot part");
        assert_eq!(offset_of!(Conn, sides), 96);
        // A direction: recent sequence numbers, base, FIN offset and state in its first 56
        // bytes; the reassembler's counters, the byte counters and the held-holes count up to
        // about 216 bytes.
        assert!(offset_of!(DirState, fin_delivered) < 56);
        assert!(offset_of!(DirState, reasm) <= 56);
        assert!(offset_of!(DirState, stats) + size_of::<DirStats>() <= 216);
        assert!(offset_of!(DirState, held) <= 216, "held count");
        eprintln!(
            "Conn {} bytes (sides at {}), DirState {} bytes (reasm {}, stats {}, held {}, marks {}, recent {}), Reassembler {}",
            size_of::<Conn>(),
            offset_of!(Conn, sides),
            size_of::<DirState>(),
            offset_of!(DirState, reasm),
            offset_of!(DirState, stats),
            offset_of!(DirState, held),
            offset_of!(DirState, marks),
            offset_of!(DirState, recent),
            size_of::<Reassembler>(),
        );
    }
}
