//! [`super::run_app`] on two threads: a worker thread reads, decodes, tracks connections and
//! parses their protocol (capture -> decode -> flow -> protocol, as one thread would) and
//! records every call it makes to the sink (exchanges, closed connections, clock ticks) into
//! batches; the calling thread replays the batches, in order, into the real sink (the ALB layer
//! and the diagnosis). Two threads for two cores: the capture's bytes are read into the cache
//! of the core that parses them and cross to the other core only as the exchanges and
//! connection records made of them (a separate reader thread copied every payload over and
//! made three threads share two cores).
//!
//! One queue in one order: the sink sees exactly the calls of a one-thread run in exactly
//! their order, so every result, counter, warning and cap hit is the same for any thread count
//! and any timing. The queue is bounded ([`QUEUE_BATCHES`] batches of [`BATCH_CALLS`] calls), so
//! memory stays flat when either side is the slower one; emptied batches go back to the worker
//! for reuse.

use super::{drive_app, Clock, PipelineConfig, RunStats};
use crate::capture::{CaptureReader, Timestamp};
use crate::protocol::{
    AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange, InFlight,
};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Duration;

/// Sink calls per batch handed over (one channel send, and at most one wake-up, per batch).
pub(super) const BATCH_CALLS: usize = 128;

/// Batches the queue holds before the worker waits for the sink: more than a clock tick of
/// calls, so the worker runs on while the sink pairs a tick's batch (a call is ~800 bytes:
/// deeper queues cost peak memory).
pub(super) const QUEUE_BATCHES: usize = 8;

/// How long the sink's thread waits for a batch before it calls `between` anyway (it reads
/// the capture ahead there: the worker must not run dry while this thread idles).
const IDLE_TOP_UP: Duration = Duration::from_micros(200);

/// One recorded call to the sink.
// Unboxed: the batches are reused vectors, a box would cost an allocation per closed
// connection (an exchange is a box already).
#[allow(clippy::large_enum_variant)]
pub(super) enum Call {
    /// [`AppSink::exchange_boxed`].
    Exchange(ConnContext, ExchangeBox),
    /// [`AppSink::closed`].
    Closed(ConnectionRecord),
    /// [`AppSink::forwarded_head_cut_short`].
    ForwardedHeadCutShort(ConnContext),
    /// [`Clock::tick`].
    Tick(Timestamp),
    /// [`Clock::tick_in_flight`].
    TickInFlight(Timestamp, Option<Timestamp>),
    /// [`Clock::tick_with`].
    TickWith(Timestamp, InFlight),
}

impl Call {
    /// Makes this call on `sink`.
    pub(super) fn replay<S: AppSink + Clock>(self, sink: &mut S) {
        match self {
            Call::Exchange(conn, exchange) => sink.exchange_boxed(&conn, exchange),
            Call::Closed(record) => sink.closed(record),
            Call::ForwardedHeadCutShort(conn) => sink.forwarded_head_cut_short(&conn),
            Call::Tick(now) => sink.tick(now),
            Call::TickInFlight(now, pending) => sink.tick_in_flight(now, pending),
            Call::TickWith(now, in_flight) => sink.tick_with(now, in_flight),
        }
    }
}

/// Runs the layers on a worker thread and the sink on this one; falls back to one thread when
/// no thread can be started. The file reads (with their kernel copy) of classic pcap inputs
/// run on this thread too, between batches ([`CaptureReader::hand_over_reading`]): the worker
/// parses the records in place in the blocks read (it reads a block itself when none is
/// waiting).
pub(super) fn run_app_handed_off<S: AppSink + Clock>(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut S,
) -> RunStats {
    let read_ahead = reader.hand_over_reading();
    let reader_ref = &mut *reader;
    let between = || {
        if let Some(read_ahead) = &read_ahead {
            read_ahead.top_up();
        }
    };
    let handed_off = hand_off(sink, BATCH_CALLS, QUEUE_BATCHES, between, move |recorder| {
        drive_app(reader_ref, config, recorder)
    });
    match handed_off {
        Some(stats) => stats,
        None => drive_app(reader, config, sink),
    }
}

/// Runs `produce` on a new thread with a [`Recorder`] as its sink (batches of `batch_calls`
/// calls, at most `queue_batches` waiting) while this thread replays the calls into `sink`,
/// calling `between` after each batch and while it waits; returns what `produce` returned, or `None` (and
/// `produce` never ran) when no thread could be started. A panic on either side is passed on.
pub(super) fn hand_off<S, R, F>(
    sink: &mut S,
    batch_calls: usize,
    queue_batches: usize,
    between: impl FnMut(),
    produce: F,
) -> Option<R>
where
    S: AppSink + Clock,
    R: Send,
    F: FnOnce(&mut Recorder) -> R + Send,
{
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<Vec<Call>>(queue_batches);
        let (spare_tx, spare_rx) = channel::<Vec<Call>>();
        let worker = std::thread::Builder::new()
            .name("albscope-layers".into())
            .spawn_scoped(scope, move || {
                let mut recorder = Recorder::new(full_tx, spare_rx, batch_calls);
                let out = produce(&mut recorder);
                recorder.send();
                out
            })
            .ok()?;
        replay_all(&full_rx, &spare_tx, sink, between);
        Some(match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    })
}

/// Replays every batch into `sink` until the worker hangs up, handing emptied batches back
/// and calling `between` after each (and every [`IDLE_TOP_UP`] while none comes).
fn replay_all<S: AppSink + Clock>(
    full: &Receiver<Vec<Call>>,
    spare: &Sender<Vec<Call>>,
    sink: &mut S,
    mut between: impl FnMut(),
) {
    loop {
        let mut batch = match full.recv_timeout(IDLE_TOP_UP) {
            Ok(batch) => batch,
            Err(RecvTimeoutError::Timeout) => {
                between();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        for call in batch.drain(..) {
            call.replay(sink);
        }
        // The worker may have finished already: then the batch is simply dropped.
        let _ = spare.send(batch);
        between();
    }
}

/// The worker's sink: records calls into the current batch and sends full batches.
pub(super) struct Recorder {
    batch: Vec<Call>,
    batch_calls: usize,
    full: SyncSender<Vec<Call>>,
    spare: Receiver<Vec<Call>>,
    hung_up: bool,
}

impl Recorder {
    /// A recorder sending batches of `batch_calls` calls on `full` and reusing batches from
    /// `spare`.
    pub(super) fn new(
        full: SyncSender<Vec<Call>>,
        spare: Receiver<Vec<Call>>,
        batch_calls: usize,
    ) -> Self {
        let batch_calls = batch_calls.max(1);
        Recorder {
            batch: Vec::with_capacity(batch_calls),
            batch_calls,
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
        if self.batch.len() >= self.batch_calls {
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
            .unwrap_or_else(|_| Vec::with_capacity(self.batch_calls));
        let full = std::mem::replace(&mut self.batch, next);
        // The receiving side only goes away when the sink panicked: stop recording then.
        self.hung_up = self.full.send(full).is_err();
    }
}

impl AppSink for Recorder {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.record(Call::Exchange(conn.clone(), ExchangeBox::new(exchange)));
    }

    fn exchange_boxed(&mut self, conn: &ConnContext, exchange: ExchangeBox) {
        self.record(Call::Exchange(conn.clone(), exchange));
    }

    fn closed(&mut self, record: ConnectionRecord) {
        self.record(Call::Closed(record));
    }

    // Every sink method must be recorded here: one left to its default body would run on the
    // worker and never reach the real sink.
    fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
        self.record(Call::ForwardedHeadCutShort(conn.clone()));
    }
}

impl Clock for Recorder {
    fn tick(&mut self, now: Timestamp) {
        self.record(Call::Tick(now));
    }

    fn tick_in_flight(&mut self, now: Timestamp, pending_since: Option<Timestamp>) {
        self.record(Call::TickInFlight(now, pending_since));
    }

    fn tick_with(&mut self, now: Timestamp, in_flight: InFlight) {
        self.record(Call::TickWith(now, in_flight));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Writes down the clock calls it gets (the kinds a synthetic producer can make).
    #[derive(Default)]
    struct Seen(Vec<(i64, Option<i64>, bool)>);

    impl AppSink for Seen {
        fn exchange(&mut self, _: &ConnContext, _: HttpExchange) {}
        fn closed(&mut self, _: ConnectionRecord) {}
    }

    impl Clock for Seen {
        fn tick(&mut self, now: Timestamp) {
            self.0.push((now.0, None, false));
        }
        fn tick_in_flight(&mut self, now: Timestamp, pending: Option<Timestamp>) {
            self.0.push((now.0, pending.map(|p| p.0), true));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever the batch size, queue length and which side runs ahead (yields on either
        /// side at random points), the sink gets every call once, in the producer's order.
        #[test]
        fn replay_order_is_independent_of_timing(
            calls in proptest::collection::vec((any::<i64>(), any::<Option<i64>>(), any::<bool>()), 0..300),
            batch_calls in 1usize..40,
            queue_batches in 0usize..4,
            producer_yields in proptest::collection::vec(any::<bool>(), 1..64),
            sink_yields in proptest::collection::vec(any::<bool>(), 1..64),
        ) {
            struct Slow<'a> { inner: Seen, yields: &'a [bool], n: usize }
            impl AppSink for Slow<'_> {
                fn exchange(&mut self, _: &ConnContext, _: HttpExchange) {}
                fn closed(&mut self, _: ConnectionRecord) {}
            }
            impl Clock for Slow<'_> {
                fn tick(&mut self, now: Timestamp) {
                    self.pause();
                    self.inner.tick(now);
                }
                fn tick_in_flight(&mut self, now: Timestamp, pending: Option<Timestamp>) {
                    self.pause();
                    self.inner.tick_in_flight(now, pending);
                }
            }
            impl Slow<'_> {
                fn pause(&mut self) {
                    self.n += 1;
                    if self.yields[self.n % self.yields.len()] {
                        std::thread::yield_now();
                    }
                }
            }
            let mut sink = Slow { inner: Seen::default(), yields: &sink_yields, n: 0 };
            let sent = calls.clone();
            let count = hand_off(&mut sink, batch_calls, queue_batches, || {}, |recorder| {
                for (i, (now, pending, in_flight)) in sent.iter().enumerate() {
                    if producer_yields[i % producer_yields.len()] {
                        std::thread::yield_now();
                    }
                    if *in_flight {
                        recorder.tick_in_flight(Timestamp(*now), pending.map(Timestamp));
                    } else {
                        recorder.tick(Timestamp(*now));
                    }
                }
                sent.len()
            });
            prop_assert_eq!(count, Some(calls.len()));
            let want: Vec<(i64, Option<i64>, bool)> = calls
                .iter()
                .map(|(now, pending, in_flight)| (*now, if *in_flight { *pending } else { None }, *in_flight))
                .collect();
            prop_assert_eq!(sink.inner.0, want);
        }
    }
}
