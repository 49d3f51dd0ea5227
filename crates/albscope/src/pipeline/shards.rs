//! The flow and protocol layers split by connection into a fixed number of logical shards,
//! and the merge that hands their calls to the sink as one tracker would have made them.
//!
//! A shard is a [`FlowTracker`] and a [`ProtocolTracker`] of its own, with its share of the
//! limits (connections, buffer budget); a packet goes to the shard of its connection (a hash of
//! the 4-tuple, the same in both directions). The number of shards depends only on the
//! settings, never on the thread count, so every run splits the same way. What one tracker
//! would have shared across connections is rebuilt exactly:
//! - the capture clock: every shard's timers run at the packet that would have run them in one
//!   tracker ([`FlowTracker::advance`], [`FlowTracker::next_timer`]);
//! - connection ids: a shard numbers its connections itself; the merge renumbers them in the
//!   order they opened across shards (the packet order), which is the one tracker's numbering;
//! - the order of closes made at one time by several shards (timers, end of capture): by the
//!   one tracker's key (timer kind, deadline or last activity, id);
//! - what is in flight for the clock ticks ([`InFlight`]): merged over the shards; the peak of open
//!   connections: counted in merge order.
//!
//! Limits are per shard (a share of each), so a cap is met a little earlier or later than one
//! shared cap would be; it is the same for every thread count.

use super::handoff::Call;
use crate::decode::{Decoded, Transport};
use crate::flow::{
    BufferBudget, ConnId, Endpoint, FlowConfig, FlowEvent, FlowSink, FlowStats, FlowTracker,
};
use crate::protocol::{
    AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange, InFlight, ProtocolConfig,
    ProtocolStats, ProtocolTracker,
};

/// Logical shards when the connection cap allows (fewer for a cap below this: every shard
/// keeps at least one connection).
pub(super) const SHARDS: usize = 16;

/// How many logical shards a run with these limits uses (never depends on the thread count).
pub(super) fn shard_count(flow: &FlowConfig) -> usize {
    SHARDS.min(flow.max_connections.max(1))
}

/// The shard of a decoded packet's connection (`None`: no connection, only the clock).
pub(super) fn shard_of(decoded: &Decoded<'_>, shards: usize) -> Option<usize> {
    let (a, b) = match &decoded.transport {
        Transport::Tcp(seg) => (
            Endpoint {
                ip: decoded.src,
                port: seg.src_port,
            },
            Endpoint {
                ip: decoded.dst,
                port: seg.dst_port,
            },
        ),
        Transport::IcmpError(icmp) => (
            Endpoint {
                ip: icmp.quoted_src,
                port: icmp.quoted_src_port,
            },
            Endpoint {
                ip: icmp.quoted_dst,
                port: icmp.quoted_dst_port,
            },
        ),
        Transport::Other => return None,
    };
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    use std::hash::BuildHasher;
    // Fixed seed: the split must be the same in every run.
    let h = foldhash::fast::FixedState::with_seed(0x7368_6172_6473).hash_one((
        lo,
        hi,
        decoded.session.vni,
    ));
    Some((h % shards.max(1) as u64) as usize)
}

/// One logical shard: the flow and protocol state of its connections.
pub(super) struct Shard {
    pub(super) flow: FlowTracker,
    pub(super) protocol: ProtocolTracker,
}

impl Shard {
    /// Shard `index` of `count`, with its share of the limits.
    pub(super) fn new(flow: &FlowConfig, protocol: &ProtocolConfig, count: usize) -> Self {
        let count = count.max(1);
        let mut flow = flow.clone();
        flow.max_connections = (flow.max_connections / count).max(1);
        flow.max_evicted_remembered = flow.max_evicted_remembered.div_ceil(count);
        let budget = BufferBudget::new(flow.max_buffer_memory / count);
        flow.max_buffer_memory = budget.limit();
        Shard {
            flow: FlowTracker::with_budget(flow, budget.clone()),
            protocol: ProtocolTracker::with_budget(protocol.clone(), budget),
        }
    }
}

/// Where a shard's calls go: the sink calls plus when connections open and finish closing.
pub(super) trait Out: AppSink {
    /// The shard opened its connection `local`.
    fn opened(&mut self, local: u64);
    /// The shard's connection `local` is closed and everything its close reported was made.
    fn close_end(&mut self, local: u64);
}

/// Feeds a shard's flow events to its protocol tracker, its calls to `out`.
pub(super) struct Adapter<'a, O: Out> {
    pub(super) protocol: &'a mut ProtocolTracker,
    pub(super) out: &'a mut O,
}

impl<O: Out> FlowSink for Adapter<'_, O> {
    fn on_flow_event(&mut self, conn: ConnId, event: FlowEvent<'_>) {
        let close = matches!(event, FlowEvent::Close(_));
        if matches!(event, FlowEvent::Open { .. }) {
            self.out.opened(conn.0);
        }
        self.protocol.handle(conn, event, self.out);
        if close {
            self.out.close_end(conn.0);
        }
    }
}

/// A shard's calls kept for the merge.
// Unboxed like `Call`: the recordings are reused vectors, a box would cost an allocation per call.
#[allow(clippy::large_enum_variant)]
pub(super) enum Item {
    /// A sink call (connection ids still the shard's).
    Call(Call),
    /// [`Out::opened`].
    Opened(u64),
    /// [`Out::close_end`].
    CloseEnd(u64),
}

/// Keeps a shard's calls in order (each taken out as it is replayed, in any order of groups).
#[derive(Default)]
pub(super) struct Recording(pub(super) Vec<Option<Item>>);

impl AppSink for Recording {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.exchange_boxed(conn, ExchangeBox::new(exchange));
    }
    fn exchange_boxed(&mut self, conn: &ConnContext, exchange: ExchangeBox) {
        self.0
            .push(Some(Item::Call(Call::Exchange(conn.clone(), exchange))));
    }
    fn closed(&mut self, record: ConnectionRecord) {
        self.0.push(Some(Item::Call(Call::Closed(record))));
    }
    // Every sink method must be recorded here (see `handoff::Recorder`).
    fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
        self.0
            .push(Some(Item::Call(Call::ForwardedHeadCutShort(conn.clone()))));
    }
}

impl Out for Recording {
    fn opened(&mut self, local: u64) {
        self.0.push(Some(Item::Opened(local)));
    }
    fn close_end(&mut self, local: u64) {
        self.0.push(Some(Item::CloseEnd(local)));
    }
}

/// The merge's state: the one tracker's connection ids and open count.
#[derive(Default)]
pub(super) struct Merger {
    /// Per shard: its connection id -> the merged id (open connections only).
    ids: Vec<foldhash::HashMap<u64, u64>>,
    next_id: u64,
    open: u64,
    /// Most connections open at once, as one tracker counts it.
    pub(super) peak_open: u64,
}

impl Merger {
    pub(super) fn new(shards: usize) -> Self {
        Merger {
            ids: (0..shards).map(|_| Default::default()).collect(),
            ..Merger::default()
        }
    }

    fn id(&self, shard: usize, local: ConnId) -> ConnId {
        // A connection is always opened before anything is reported of it; keep the shard's
        // number otherwise (cannot happen).
        ConnId(
            self.ids
                .get(shard)
                .and_then(|m| m.get(&local.0))
                .copied()
                .unwrap_or(local.0),
        )
    }

    /// The merged id of shard `shard`'s open connection `local`.
    pub(super) fn merged_id(&self, shard: usize, local: u64) -> u64 {
        self.id(shard, ConnId(local)).0
    }

    /// A sink for shard `shard`'s calls that renumbers connections and passes them to `sink`.
    pub(super) fn to<'a, S: AppSink>(&'a mut self, shard: usize, sink: &'a mut S) -> Direct<'a, S> {
        Direct {
            merger: self,
            shard,
            sink,
        }
    }
}

/// Passes a shard's calls on to the sink with the merged connection ids.
pub(super) struct Direct<'a, S: AppSink> {
    merger: &'a mut Merger,
    shard: usize,
    sink: &'a mut S,
}

impl<S: AppSink> Direct<'_, S> {
    /// Makes a recorded call.
    pub(super) fn replay(&mut self, item: Item) {
        match item {
            Item::Opened(local) => self.opened(local),
            Item::CloseEnd(local) => self.close_end(local),
            Item::Call(Call::Exchange(conn, exchange)) => self.exchange_boxed(&conn, exchange),
            Item::Call(Call::Closed(record)) => self.closed(record),
            Item::Call(Call::ForwardedHeadCutShort(conn)) => self.forwarded_head_cut_short(&conn),
            // Shards make no clock calls.
            Item::Call(Call::Tick(_) | Call::TickInFlight(..) | Call::TickWith(..)) => {}
        }
    }
}

impl<S: AppSink> AppSink for Direct<'_, S> {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        let mut conn = conn.clone();
        conn.id = self.merger.id(self.shard, conn.id);
        self.sink.exchange(&conn, exchange);
    }
    fn exchange_boxed(&mut self, conn: &ConnContext, exchange: ExchangeBox) {
        let mut conn = conn.clone();
        conn.id = self.merger.id(self.shard, conn.id);
        self.sink.exchange_boxed(&conn, exchange);
    }
    fn closed(&mut self, mut record: ConnectionRecord) {
        record.tcp.id = self.merger.id(self.shard, record.tcp.id);
        self.sink.closed(record);
    }
    fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
        let mut conn = conn.clone();
        conn.id = self.merger.id(self.shard, conn.id);
        self.sink.forwarded_head_cut_short(&conn);
    }
}

impl<S: AppSink> Out for Direct<'_, S> {
    fn opened(&mut self, local: u64) {
        let m = &mut *self.merger;
        if let Some(ids) = m.ids.get_mut(self.shard) {
            ids.insert(local, m.next_id);
        }
        m.next_id += 1;
        m.open += 1;
        m.peak_open = m.peak_open.max(m.open);
    }
    fn close_end(&mut self, local: u64) {
        let m = &mut *self.merger;
        if let Some(ids) = m.ids.get_mut(self.shard) {
            ids.remove(&local);
        }
        m.open = m.open.saturating_sub(1);
    }
}

/// A run of one shard's recorded calls (indices) to replay at its order key.
pub(super) type Group = ((u8, i64, u64), usize, std::ops::Range<usize>);

/// A shard's recorded closes cut into one group per closed connection, each with its order
/// key `(kind, time, merged id)`; `keys` are the tracker's (`timer_closes`, or none at the end
/// of capture, when connections close in id order).
pub(super) fn close_groups(
    merger: &Merger,
    shard: usize,
    items: &[Option<Item>],
    keys: &[(u8, i64)],
    out: &mut Vec<Group>,
) {
    let mut start = 0;
    let mut n = 0;
    for (i, item) in items.iter().enumerate() {
        if let Some(Item::CloseEnd(local)) = item {
            let (kind, t) = keys.get(n).copied().unwrap_or((0, 0));
            out.push((
                (kind, t, merger.merged_id(shard, *local)),
                shard,
                start..i + 1,
            ));
            start = i + 1;
            n += 1;
        }
    }
    if start < items.len() {
        // Calls after the last close (none expected): after every close.
        out.push(((u8::MAX, i64::MAX, u64::MAX), shard, start..items.len()));
    }
}

/// Replays the groups of several shards' recordings in key order.
pub(super) fn replay_groups<S: AppSink>(
    merger: &mut Merger,
    recordings: &mut [Recording],
    groups: &mut Vec<Group>,
    sink: &mut S,
) {
    groups.sort_by_key(|g| g.0);
    for (_, shard, range) in groups.drain(..) {
        let Some(rec) = recordings.get_mut(shard) else {
            continue;
        };
        let mut direct = merger.to(shard, sink);
        for slot in rec.0.get_mut(range).into_iter().flatten() {
            if let Some(item) = slot.take() {
                direct.replay(item);
            }
        }
    }
    for rec in recordings {
        rec.0.clear();
    }
}

/// Sums the shards' flow counters (the peak of open connections is the merge's).
pub(super) fn add_flow_stats(total: &mut FlowStats, s: &FlowStats) {
    let FlowStats {
        connections,
        peak_open: _,
        evicted,
        expired,
        duplicates,
        unmatched_icmp,
        matched_icmp,
        segments,
        gaps,
        gap_bytes,
        conflicts,
        retransmissions,
        truncated_segments,
        port_reused,
        closed,
        open_at_end,
        memory_skipped_gaps,
        memory_skipped_bytes,
        memory_limited_connections,
        continuations,
    } = s;
    total.connections += connections;
    total.evicted += evicted;
    total.expired += expired;
    total.duplicates += duplicates;
    total.unmatched_icmp += unmatched_icmp;
    total.matched_icmp += matched_icmp;
    total.segments += segments;
    total.gaps += gaps;
    total.gap_bytes += gap_bytes;
    total.conflicts += conflicts;
    total.retransmissions += retransmissions;
    total.truncated_segments += truncated_segments;
    total.port_reused += port_reused;
    total.closed += closed;
    total.open_at_end += open_at_end;
    total.memory_skipped_gaps += memory_skipped_gaps;
    total.memory_skipped_bytes += memory_skipped_bytes;
    total.memory_limited_connections += memory_limited_connections;
    total.continuations += continuations;
}

/// What is in flight in every shard (for the clock ticks).
pub(super) fn in_flight(shards: &[Shard]) -> InFlight {
    let mut all = InFlight::default();
    for s in shards {
        all.merge(s.protocol.in_flight());
    }
    all
}

/// Sums the shards' protocol counters (every one is a count).
pub(super) fn add_protocol_stats(total: &mut ProtocolStats, s: &ProtocolStats) {
    // Destructured so that a new counter cannot be forgotten here.
    let ProtocolStats {
        requests,
        responses,
        response_errors,
        tls_connections,
        connections,
        http_connections,
        unknown_connections,
        exchanges,
        unfinished_exchanges,
        requests_dropped,
        orphan_responses,
        queue_overflows,
        tls_errors,
        mid_stream_http,
        events_without_open,
        continuations,
        headers_skipped,
        header_bytes_skipped,
        tls_bytes_skipped,
        tls_decrypted,
        tls_keys_missing,
        tls_handshake_missing,
        tls_not_established,
        tls_unsupported_cipher,
        tls_decrypt_failed,
        tls_decrypt_failures,
        tls_records_lost,
        tls_resyncs,
        tls_unsynced,
        h2_connections,
        h2_frames,
        h2_frames_skipped,
        h2_undecodable_blocks,
        h2_lost_directions,
        h2_streams_over_cap,
        h2_resets,
        h2_goaways,
        h2_stalls,
    } = s;
    total.requests += requests;
    total.responses += responses;
    total.response_errors += response_errors;
    total.tls_connections += tls_connections;
    total.connections += connections;
    total.http_connections += http_connections;
    total.unknown_connections += unknown_connections;
    total.exchanges += exchanges;
    total.unfinished_exchanges += unfinished_exchanges;
    total.requests_dropped += requests_dropped;
    total.orphan_responses += orphan_responses;
    total.queue_overflows += queue_overflows;
    total.tls_errors += tls_errors;
    total.mid_stream_http += mid_stream_http;
    total.events_without_open += events_without_open;
    total.continuations += continuations;
    total.headers_skipped += headers_skipped;
    total.header_bytes_skipped += header_bytes_skipped;
    total.tls_bytes_skipped += tls_bytes_skipped;
    total.tls_decrypted += tls_decrypted;
    total.tls_keys_missing += tls_keys_missing;
    total.tls_handshake_missing += tls_handshake_missing;
    total.tls_not_established += tls_not_established;
    total.tls_unsupported_cipher += tls_unsupported_cipher;
    total.tls_decrypt_failed += tls_decrypt_failed;
    total.tls_decrypt_failures += tls_decrypt_failures;
    total.tls_records_lost += tls_records_lost;
    total.tls_resyncs += tls_resyncs;
    total.tls_unsynced += tls_unsynced;
    total.h2_connections += h2_connections;
    total.h2_frames += h2_frames;
    total.h2_frames_skipped += h2_frames_skipped;
    total.h2_undecodable_blocks += h2_undecodable_blocks;
    total.h2_lost_directions += h2_lost_directions;
    total.h2_streams_over_cap += h2_streams_over_cap;
    total.h2_resets += h2_resets;
    total.h2_goaways += h2_goaways;
    total.h2_stalls += h2_stalls;
}
