//! [`super::run_app`] on three or more threads: the logical shards (`shards`) spread over
//! worker threads.
//!
//! - A reader thread runs capture -> decode, gives each decoded packet its global number and
//!   its shard, and sends every worker a chunk of [`CHUNK_PACKETS`] packets: the capture clock
//!   of every packet of the chunk (shared) and its own shards' packets (owned copies).
//! - Each worker runs flow -> protocol for its shards. It runs a shard's timers at the packet
//!   where one tracker would have run them (it has the whole chunk's clock), and records the
//!   sink calls in groups labelled with their place in one tracker's order: (packet, timers
//!   before the packet's own work, then the packet), timer closes with their order key.
//! - The calling thread merges the workers' groups of each chunk in that order (renumbering
//!   connections as they open), replays them into the sink, and ticks the clock with the
//!   merged [`InFlight`] of the workers at the end of each chunk (the ticks fall every
//!   [`CHUNK_PACKETS`] packets, as in one thread).
//!
//! The split into shards is the same for every thread count (see `shards`), so the sink gets
//! exactly the calls of a one-thread run.

use super::owned::OwnedPacket;
use super::shards::{self, Adapter, Item, Merger, Out, Shard};
use super::{finish_stats, note_packet, Clock, PipelineConfig, Progress, RunStats};
use crate::capture::{CaptureReader, Duration, PacketRef, Timestamp};
use crate::decode::{Decoded, Decoder};
use crate::flow::FlowStats;
use crate::protocol::{
    AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange, InFlight, KeyLog,
    ProtocolStats,
};
use std::ops::Range;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// Packets per chunk: the interval of the clock ticks (`tick_in_flight`), so that every tick
/// falls at the end of a chunk.
pub(super) const CHUNK_PACKETS: u64 = super::TICK_PACKETS;

/// Chunks a queue holds before its sender waits.
const QUEUE_CHUNKS: usize = 2;

/// No decoded packet at this place (the flow layer never saw it).
const NOT_DECODED: i64 = i64::MIN;

/// A decoded packet for a worker, its payload in the chunk's byte buffer.
struct ShardPacket {
    /// Place in the chunk.
    offset: u32,
    /// Logical shard.
    shard: u16,
    /// The packet, its TCP payload in the chunk's bytes.
    packet: OwnedPacket,
}

/// What one worker gets of a chunk.
struct WorkChunk {
    /// Capture clock (latest packet time so far) after each packet of the chunk, or
    /// [`NOT_DECODED`]; shared by every worker.
    clock: Arc<Vec<i64>>,
    /// Global number (0-based) of the chunk's first packet.
    first: u64,
    /// The worker's packets.
    packets: Vec<ShardPacket>,
    bytes: Vec<u8>,
    /// Key logs to add before the packet at this place (or after the chunk's last).
    keys: Vec<(u32, Arc<KeyLog>)>,
    /// Tick the clock with this time after the chunk (and the capture clock's disorder so far).
    tick: Option<(Timestamp, Duration)>,
}

/// A run of recorded calls and where it goes in one tracker's order.
struct Group {
    /// Global packet number (`u64::MAX`: end of capture).
    pos: u64,
    /// 0: closes made by timers (or at the end), ordered by key; 1: the packet's own work.
    phase: u8,
    /// Timer kind and time (see [`crate::flow::FlowTracker::timer_closes`]).
    kind: u8,
    t: i64,
    /// The shard's number of the closed connection.
    local: u64,
    shard: u16,
    items: Range<usize>,
}

/// What a worker made of a chunk.
#[derive(Default)]
struct ChunkOut {
    items: Vec<Option<Item>>,
    groups: Vec<Group>,
    /// What its shards have in flight when the chunk ends in a tick.
    pending: InFlight,
    tick: Option<(Timestamp, Duration)>,
    /// The worker's last output (end of capture).
    last: bool,
}

/// Records a worker's calls into its chunk output.
struct Rec<'a>(&'a mut Vec<Option<Item>>);

impl AppSink for Rec<'_> {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.exchange_boxed(conn, ExchangeBox::new(exchange));
    }
    fn exchange_boxed(&mut self, conn: &ConnContext, exchange: ExchangeBox) {
        self.0.push(Some(Item::Call(super::handoff::Call::Exchange(
            conn.clone(),
            exchange,
        ))));
    }
    fn closed(&mut self, record: ConnectionRecord) {
        self.0
            .push(Some(Item::Call(super::handoff::Call::Closed(record))));
    }
    // Every sink method must be recorded here (see `handoff::Recorder`).
    fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
        self.0.push(Some(Item::Call(
            super::handoff::Call::ForwardedHeadCutShort(conn.clone()),
        )));
    }
}

impl Out for Rec<'_> {
    fn opened(&mut self, local: u64) {
        self.0.push(Some(Item::Opened(local)));
    }
    fn close_end(&mut self, local: u64) {
        self.0.push(Some(Item::CloseEnd(local)));
    }
}

/// Runs with `threads` threads (3 or more: a reader, `threads - 2` workers, this thread);
/// `None` when the threads could not be started (nothing was read then).
pub(super) fn run_app_sharded<S: AppSink + Clock>(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut S,
    threads: usize,
) -> Option<RunStats> {
    let count = shards::shard_count(&config.flow);
    let workers = threads.saturating_sub(2).clamp(1, count);
    std::thread::scope(|scope| {
        let mut to_workers = Vec::new();
        let mut spare = Vec::new();
        let mut from_workers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers {
            let (in_tx, in_rx) = sync_channel::<WorkChunk>(QUEUE_CHUNKS);
            let (spare_tx, spare_rx) = channel::<WorkChunk>();
            let (out_tx, out_rx) = sync_channel::<ChunkOut>(QUEUE_CHUNKS);
            let handle = std::thread::Builder::new()
                .name(format!("albscope-shards-{w}"))
                .spawn_scoped(scope, move || {
                    // Made here: a shard's buffer budget is not shared across threads.
                    let mine: Vec<(u16, Shard)> = (0..count)
                        .filter(|i| i % workers == w)
                        .map(|i| {
                            (
                                u16::try_from(i).unwrap_or(u16::MAX),
                                Shard::new(&config.flow, &config.protocol, count),
                            )
                        })
                        .collect();
                    work(mine, &in_rx, &out_tx, &spare_tx)
                })
                .ok()?;
            handles.push(handle);
            to_workers.push(in_tx);
            spare.push(spare_rx);
            from_workers.push(out_rx);
        }
        let reader_ref = &mut *reader;
        let read = std::thread::Builder::new()
            .name("albscope-read".into())
            .spawn_scoped(scope, move || {
                read(reader_ref, config, count, workers, to_workers, spare)
            })
            .ok()?;
        let peak_open = merge(&from_workers, count, sink);
        drop(from_workers);
        let mut stats = match read.join() {
            Ok(stats) => stats,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let mut per_shard = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(counters) => per_shard.extend(counters),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (flow, protocol) in &per_shard {
            shards::add_flow_stats(&mut stats.flow, flow);
            shards::add_protocol_stats(&mut stats.protocol, protocol);
        }
        stats.flow.peak_open = peak_open;
        Some(stats)
    })
}

/// The reader thread: capture -> decode, chunks to the workers. Returns the run's counters
/// except the flow and protocol ones.
fn read(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    count: usize,
    workers: usize,
    to_workers: Vec<SyncSender<WorkChunk>>,
    spare: Vec<Receiver<WorkChunk>>,
) -> RunStats {
    let mut decoder = Decoder::new(config.decode.clone());
    let mut stats = RunStats::default();
    let mut progress = Progress::new(config.progress, reader.total_bytes());
    let mut now = i64::MIN;
    // Chunks the workers are done with come back (their buffers' capacity kept).
    let new_chunks = |first: u64| -> (Vec<i64>, Vec<WorkChunk>) {
        let chunks = spare
            .iter()
            .map(|rx| {
                let mut chunk = rx.try_recv().unwrap_or_else(|_| WorkChunk {
                    clock: Arc::default(),
                    first,
                    packets: Vec::new(),
                    bytes: Vec::new(),
                    keys: Vec::new(),
                    tick: None,
                });
                chunk.first = first;
                chunk.tick = None;
                chunk
            })
            .collect();
        (Vec::with_capacity(CHUNK_PACKETS as usize), chunks)
    };
    let (mut clock, mut chunks) = new_chunks(0);
    let mut hung_up = false;
    let mut send = |clock: Vec<i64>, chunks: Vec<WorkChunk>| {
        let clock = Arc::new(clock);
        for (mut chunk, tx) in chunks.into_iter().zip(&to_workers) {
            chunk.clock = Arc::clone(&clock);
            // A worker only goes away when the merge stopped (a panic): stop reading then.
            hung_up |= tx.send(chunk).is_err();
        }
        hung_up
    };
    loop {
        super::read_key_logs(reader, &mut stats, |log| {
            let log = Arc::new(log);
            let at = u32::try_from(clock.len()).unwrap_or(u32::MAX);
            for chunk in &mut chunks {
                chunk.keys.push((at, Arc::clone(&log)));
            }
        });
        let Some(packet) = reader.next_packet() else {
            break;
        };
        note_packet(&mut stats, packet.ts, packet.data.len());
        let ts = packet.ts;
        let offset = u32::try_from(clock.len()).unwrap_or(u32::MAX);
        match decoder.decode(&packet) {
            Some(decoded) => {
                now = now.max(packet.ts.0);
                clock.push(now);
                if let Some(shard) = shards::shard_of(&decoded, count) {
                    if let Some(chunk) = chunks.get_mut(shard % workers) {
                        own(chunk, offset, shard, &packet, &decoded);
                    }
                }
            }
            None => clock.push(NOT_DECODED),
        }
        progress.update(stats.packets, || reader.bytes_consumed());
        if stats.packets % CHUNK_PACKETS == 0 {
            for chunk in &mut chunks {
                chunk.tick = Some((ts, stats.clock_disorder));
            }
            let (next_clock, next_chunks) = new_chunks(stats.packets);
            let full = std::mem::replace(&mut chunks, next_chunks);
            if send(std::mem::replace(&mut clock, next_clock), full) {
                break;
            }
        }
    }
    if !clock.is_empty() || chunks.iter().any(|c| !c.keys.is_empty()) {
        send(clock, chunks);
    }
    drop(to_workers);
    progress.done();
    stats.decode = decoder.stats().clone();
    finish_stats(&mut stats, reader);
    stats
}

/// Copies a decoded packet into a worker's chunk.
fn own(chunk: &mut WorkChunk, offset: u32, shard: usize, packet: &PacketRef<'_>, d: &Decoded<'_>) {
    let packet = OwnedPacket::copy(packet, d, &mut chunk.bytes);
    chunk.packets.push(ShardPacket {
        offset,
        shard: u16::try_from(shard).unwrap_or(u16::MAX),
        packet,
    });
}

/// A worker thread: its shards' flow -> protocol, chunk by chunk; returns their counters.
fn work(
    mut mine: Vec<(u16, Shard)>,
    input: &Receiver<WorkChunk>,
    output: &SyncSender<ChunkOut>,
    spare: &Sender<WorkChunk>,
) -> Vec<(FlowStats, ProtocolStats)> {
    // Shard number -> place in `mine`.
    let slot_of = |shard: u16, mine: &[(u16, Shard)]| mine.iter().position(|(s, _)| *s == shard);
    let mut next_timer = i64::MIN;
    for mut chunk in input.iter() {
        let mut out = ChunkOut {
            tick: chunk.tick,
            ..ChunkOut::default()
        };
        let mut keys = chunk.keys.iter().peekable();
        let mut packets = chunk.packets.iter().peekable();
        for (offset, &now) in chunk.clock.iter().enumerate() {
            let offset = u32::try_from(offset).unwrap_or(u32::MAX);
            while let Some((_, log)) = keys.next_if(|k| k.0 <= offset) {
                for (_, shard) in &mut mine {
                    shard.protocol.add_keys(log);
                }
            }
            if now == NOT_DECODED {
                continue;
            }
            let pos = chunk.first + u64::from(offset);
            if now >= next_timer {
                next_timer = run_timers(&mut mine, pos, Timestamp(now), &mut out);
            }
            let Some(p) = packets.next_if(|p| p.offset == offset) else {
                continue;
            };
            let Some((shard_no, shard)) = slot_of(p.shard, &mine).and_then(|i| mine.get_mut(i))
            else {
                continue;
            };
            let start = out.items.len();
            let (packet, decoded) = p.packet.view(&chunk.bytes);
            let mut rec = Rec(&mut out.items);
            let mut adapter = Adapter {
                protocol: &mut shard.protocol,
                out: &mut rec,
            };
            if packet.ts.0 < now {
                // The shard's clock to every packet's (its timers due now have run).
                shard.flow.advance(Timestamp(now), &mut adapter);
            }
            shard.flow.process(&packet, &decoded, &mut adapter);
            next_timer = next_timer.min(shard.flow.next_timer());
            if out.items.len() > start {
                out.groups.push(Group {
                    pos,
                    phase: 1,
                    kind: 0,
                    t: 0,
                    local: 0,
                    shard: *shard_no,
                    items: start..out.items.len(),
                });
            }
        }
        for (_, log) in keys {
            for (_, shard) in &mut mine {
                shard.protocol.add_keys(log);
            }
        }
        if out.tick.is_some() {
            for (_, s) in &mine {
                out.pending.merge(s.protocol.in_flight());
            }
        }
        if output.send(out).is_err() {
            break;
        }
        chunk.packets.clear();
        chunk.bytes.clear();
        chunk.keys.clear();
        // The reader may be done already: then the chunk is simply dropped.
        let _ = spare.send(chunk);
    }
    // End of capture: every shard closes what is open, in its id order.
    let mut out = ChunkOut::default();
    for (shard_no, shard) in &mut mine {
        let start = out.items.len();
        shard.flow.finish(&mut Adapter {
            protocol: &mut shard.protocol,
            out: &mut Rec(&mut out.items),
        });
        cut_closes(&mut out, start, u64::MAX, *shard_no, &[]);
    }
    let counters: Vec<(FlowStats, ProtocolStats)> = mine
        .iter()
        .map(|(_, s)| (s.flow.stats().clone(), s.protocol.stats().clone()))
        .collect();
    out.last = true;
    let _ = output.send(out);
    counters
}

/// Runs the timers of the worker's shards due at `now` (packet `pos`); returns when the next
/// is due.
fn run_timers(mine: &mut [(u16, Shard)], pos: u64, now: Timestamp, out: &mut ChunkOut) -> i64 {
    let mut next = i64::MAX;
    for (shard_no, shard) in mine.iter_mut() {
        if shard.flow.next_timer() <= now.0 {
            let start = out.items.len();
            shard.flow.advance(
                now,
                &mut Adapter {
                    protocol: &mut shard.protocol,
                    out: &mut Rec(&mut out.items),
                },
            );
            cut_closes(out, start, pos, *shard_no, shard.flow.timer_closes());
        }
        next = next.min(shard.flow.next_timer());
    }
    next
}

/// Cuts the calls recorded from `start` into one group per closed connection, labelled with
/// `keys` (the tracker's timer keys; none at the end of capture: id order).
fn cut_closes(out: &mut ChunkOut, start: usize, pos: u64, shard: u16, keys: &[(u8, i64)]) {
    let mut from = start;
    let mut n = 0;
    for i in start..out.items.len() {
        if let Some(Some(Item::CloseEnd(local))) = out.items.get(i) {
            let (kind, t) = keys.get(n).copied().unwrap_or((0, 0));
            out.groups.push(Group {
                pos,
                phase: 0,
                kind,
                t,
                local: *local,
                shard,
                items: from..i + 1,
            });
            from = i + 1;
            n += 1;
        }
    }
    if from < out.items.len() {
        // Calls after the last close (none expected): after every close.
        out.groups.push(Group {
            pos,
            phase: 0,
            kind: u8::MAX,
            t: i64::MAX,
            local: u64::MAX,
            shard,
            items: from..out.items.len(),
        });
    }
}

/// The calling thread: merges the workers' chunks into one tracker's order and replays them
/// into `sink`; returns the peak of open connections.
fn merge<S: AppSink + Clock>(from: &[Receiver<ChunkOut>], count: usize, sink: &mut S) -> u64 {
    let mut merger = Merger::new(count);
    let mut batch: Vec<((u8, i64, u64), usize, usize)> = Vec::new();
    'chunks: loop {
        let mut outs = Vec::with_capacity(from.len());
        for rx in from {
            match rx.recv() {
                Ok(out) => outs.push(out),
                // A worker stopped early (it panicked): the join passes that on.
                Err(_) => break 'chunks,
            }
        }
        let mut cur = vec![0usize; outs.len()];
        loop {
            let next = outs
                .iter()
                .zip(&cur)
                .filter_map(|(o, &c)| o.groups.get(c).map(|g| (g.pos, g.phase)))
                .min();
            let Some((pos, phase)) = next else {
                break;
            };
            batch.clear();
            for (w, out) in outs.iter().enumerate() {
                let Some(c) = cur.get_mut(w) else { continue };
                while let Some(g) = out
                    .groups
                    .get(*c)
                    .filter(|g| (g.pos, g.phase) == (pos, phase))
                {
                    let key = if phase == 0 {
                        (g.kind, g.t, merger.merged_id(usize::from(g.shard), g.local))
                    } else {
                        (0, 0, 0)
                    };
                    batch.push((key, w, *c));
                    *c += 1;
                }
            }
            batch.sort_by_key(|b| b.0);
            for &(_, w, g) in &batch {
                let Some(out) = outs.get_mut(w) else { continue };
                let Some(group) = out.groups.get(g) else {
                    continue;
                };
                let (shard, range) = (usize::from(group.shard), group.items.clone());
                let mut direct = merger.to(shard, sink);
                for slot in out.items.get_mut(range).into_iter().flatten() {
                    if let Some(item) = slot.take() {
                        direct.replay(item);
                    }
                }
            }
        }
        if let Some((ts, disorder)) = outs.first().and_then(|o| o.tick) {
            let mut in_flight = InFlight::default();
            for o in &mut outs {
                in_flight.merge(std::mem::take(&mut o.pending));
            }
            in_flight.disorder = Some(disorder);
            sink.tick_with(ts, in_flight);
        }
        if outs.iter().all(|o| o.last) {
            break;
        }
    }
    merger.peak_open
}
