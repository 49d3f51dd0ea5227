//! [`super::run_app`] on two threads: a worker thread reads, decodes, tracks connections and
//! parses their protocol (capture -> decode -> flow -> protocol) and records every call it
//! makes to the sink (exchanges, closed connections, clock ticks) into batches; the calling
//! thread replays the batches, in order, into the real sink (the ALB layer and the diagnosis).
//!
//! One queue in one order: the sink sees exactly the calls of a one-thread run in exactly
//! their order, so every result, counter, warning and cap hit is the same for any thread count
//! and any timing. The queue is bounded ([`QUEUE_BATCHES`] batches of [`BATCH_CALLS`] calls), so
//! memory stays flat when either side is the slower one; emptied batches go back to the worker
//! for reuse.

use super::{drive_app, Clock, PipelineConfig, RunStats};
use crate::capture::{CaptureReader, Timestamp};
use crate::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// Sink calls per batch handed over (one channel send per batch, not per call).
pub(super) const BATCH_CALLS: usize = 256;

/// Batches the queue holds before the worker waits for the sink.
pub(super) const QUEUE_BATCHES: usize = 8;

/// One recorded call to the sink.
pub(super) enum Call {
    /// [`AppSink::exchange`].
    Exchange(ConnContext, HttpExchange),
    /// [`AppSink::closed`].
    Closed(ConnectionRecord),
    /// [`Clock::tick`].
    Tick(Timestamp),
    /// [`Clock::tick_in_flight`].
    TickInFlight(Timestamp, Option<Timestamp>),
}

impl Call {
    /// Makes this call on `sink`.
    pub(super) fn replay<S: AppSink + Clock>(self, sink: &mut S) {
        match self {
            Call::Exchange(conn, exchange) => sink.exchange(&conn, exchange),
            Call::Closed(record) => sink.closed(record),
            Call::Tick(now) => sink.tick(now),
            Call::TickInFlight(now, pending) => sink.tick_in_flight(now, pending),
        }
    }
}

/// Runs the layers on a worker thread and the sink on this one; falls back to one thread when
/// no thread can be started.
pub(super) fn run_app_handed_off<S: AppSink + Clock>(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut S,
) -> RunStats {
    let handed_off = std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<Vec<Call>>(QUEUE_BATCHES);
        let (spare_tx, spare_rx) = channel::<Vec<Call>>();
        let reader_ref = &mut *reader;
        let worker = std::thread::Builder::new()
            .name("albscope-layers".into())
            .spawn_scoped(scope, move || {
                let mut recorder = Recorder::new(full_tx, spare_rx);
                let stats = drive_app(reader_ref, config, &mut recorder);
                recorder.send();
                stats
            });
        let Ok(worker) = worker else {
            return None;
        };
        replay_all(&full_rx, &spare_tx, sink);
        Some(match worker.join() {
            Ok(stats) => stats,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    });
    match handed_off {
        Some(stats) => stats,
        None => drive_app(reader, config, sink),
    }
}

/// Replays every batch into `sink` until the worker hangs up, handing emptied batches back.
pub(super) fn replay_all<S: AppSink + Clock>(
    full: &Receiver<Vec<Call>>,
    spare: &Sender<Vec<Call>>,
    sink: &mut S,
) {
    for mut batch in full.iter() {
        for call in batch.drain(..) {
            call.replay(sink);
        }
        // The worker may have finished already: then the batch is simply dropped.
        let _ = spare.send(batch);
    }
}

/// The worker's sink: records calls into the current batch and sends full batches.
pub(super) struct Recorder {
    batch: Vec<Call>,
    full: SyncSender<Vec<Call>>,
    spare: Receiver<Vec<Call>>,
    hung_up: bool,
}

impl Recorder {
    /// A recorder sending on `full` and reusing batches from `spare`.
    pub(super) fn new(full: SyncSender<Vec<Call>>, spare: Receiver<Vec<Call>>) -> Self {
        Recorder {
            batch: Vec::with_capacity(BATCH_CALLS),
            full,
            spare,
            hung_up: false,
        }
    }

    fn record(&mut self, call: Call) {
        if self.hung_up {
            return;
        }
        self.batch.push(call);
        if self.batch.len() >= BATCH_CALLS {
            self.send();
        }
    }

    /// Sends the current batch (if any) and starts a new one.
    pub(super) fn send(&mut self) {
        if self.batch.is_empty() || self.hung_up {
            return;
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_CALLS));
        let full = std::mem::replace(&mut self.batch, next);
        // The receiving side only goes away when the sink panicked: stop recording then.
        self.hung_up = self.full.send(full).is_err();
    }
}

impl AppSink for Recorder {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.record(Call::Exchange(conn.clone(), exchange));
    }

    fn closed(&mut self, record: ConnectionRecord) {
        self.record(Call::Closed(record));
    }
}

impl Clock for Recorder {
    fn tick(&mut self, now: Timestamp) {
        self.record(Call::Tick(now));
    }

    fn tick_in_flight(&mut self, now: Timestamp, pending_since: Option<Timestamp>) {
        self.record(Call::TickInFlight(now, pending_since));
    }
}
