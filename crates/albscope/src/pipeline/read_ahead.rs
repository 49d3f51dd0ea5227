//! Reading ahead: a reader thread runs capture -> decode and hands the decoded packets over in
//! batches; [`super::run_flows`] on two threads runs the one flow tracker and the sink on the
//! calling thread.
//!
//! The tracker sees exactly the packets, in exactly the order, of a one-thread run, so the
//! sink gets the same calls. Memory stays bounded: at most [`QUEUE_BATCHES`] batches wait in
//! the channel, one is being filled and one is being tracked, each at most [`BATCH_PACKETS`]
//! packets and (past its first packet) [`BATCH_BYTES`] of payload; emptied batches go back to
//! the reader, so their buffers are reused.

use super::owned::OwnedPacket;
use super::{finish_stats, note_packet, PipelineConfig, Progress, RunStats};
use crate::capture::{CaptureReader, PacketRef};
use crate::decode::{Decoded, Decoder};
use crate::flow::{FlowSink, FlowTracker};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// Most packets in one batch.
const BATCH_PACKETS: usize = 1024;

/// A batch is sent once its payload bytes reach this (its buffer stays small enough for the
/// cache of the core that tracks it).
const BATCH_BYTES: usize = 512 * 1024;

/// Batches the channel holds before the reader waits.
const QUEUE_BATCHES: usize = 4;

/// Decoded packets in capture order and the payload bytes they point into.
#[derive(Default)]
struct Batch {
    packets: Vec<OwnedPacket>,
    bytes: Vec<u8>,
}

impl Batch {
    /// Copies a decoded packet into the batch.
    fn push(&mut self, packet: &PacketRef<'_>, d: &Decoded<'_>) {
        self.packets
            .push(OwnedPacket::copy(packet, d, &mut self.bytes));
    }

    fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.bytes.len() >= BATCH_BYTES
    }

    /// Hands every packet to `tracker` in order, then empties the batch (capacity kept).
    fn track(&mut self, tracker: &mut FlowTracker, sink: &mut dyn FlowSink) {
        // Read in place (moving each packet out of the batch first was a copy per packet).
        for p in &self.packets {
            let (packet, decoded) = p.view(&self.bytes);
            tracker.process(&packet, &decoded, sink);
        }
        self.packets.clear();
        self.bytes.clear();
    }
}

/// Runs capture -> decode on a reader thread and the flow tracker here; `None` when the
/// thread could not be started (nothing was read then).
pub(super) fn run_flows_read_ahead(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut dyn FlowSink,
) -> Option<RunStats> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<Batch>(QUEUE_BATCHES);
        let (spare_tx, spare_rx) = channel::<Batch>();
        let reader_ref = &mut *reader;
        let read = std::thread::Builder::new()
            .name("albscope-read".into())
            .spawn_scoped(scope, move || read(reader_ref, config, &full_tx, &spare_rx))
            .ok()?;
        let mut tracker = FlowTracker::new(config.flow.clone());
        track(&mut tracker, &full_rx, &spare_tx, sink);
        drop(full_rx);
        let mut stats = match read.join() {
            Ok(stats) => stats,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        tracker.finish(sink);
        stats.flow = tracker.stats().clone();
        Some(stats)
    })
}

/// The calling thread: every batch through the tracker, the emptied batch back to the reader.
fn track(
    tracker: &mut FlowTracker,
    full: &Receiver<Batch>,
    spare: &Sender<Batch>,
    sink: &mut dyn FlowSink,
) {
    for mut batch in full.iter() {
        batch.track(tracker, sink);
        // The reader may be done already: then the batch is simply dropped.
        let _ = spare.send(batch);
    }
}

/// The reader thread: capture -> decode, batches to the tracker. Returns the run's counters
/// except the flow ones.
fn read(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    full: &SyncSender<Batch>,
    spare: &Receiver<Batch>,
) -> RunStats {
    let mut decoder = Decoder::new(config.decode.clone());
    let mut stats = RunStats::default();
    let mut progress = Progress::new(config.progress, reader.total_bytes());
    let mut batch = Batch::default();
    while let Some(packet) = reader.next_packet() {
        note_packet(&mut stats, packet.ts, packet.data.len());
        if let Some(decoded) = &decoder.decode(&packet) {
            batch.push(&packet, decoded);
            if batch.is_full() {
                let next = spare.try_recv().unwrap_or_default();
                // The tracker only goes away when it panicked: stop reading then.
                if full.send(std::mem::replace(&mut batch, next)).is_err() {
                    break;
                }
            }
        }
        progress.update(stats.packets, || reader.bytes_consumed());
    }
    if !batch.packets.is_empty() {
        let _ = full.send(batch);
    }
    progress.done();
    stats.decode = decoder.stats().clone();
    finish_stats(&mut stats, reader);
    stats
}
