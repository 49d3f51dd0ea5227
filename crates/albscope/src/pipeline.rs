//! Drives a capture through the layers: capture -> decode -> flow -> protocol, handing the
//! results to a caller-supplied sink. Knows nothing of what the sink does with them.
//!
//! The flow and protocol layers always run as logical shards by connection (`shards`), merged
//! back into one tracker's call order. With [`PipelineConfig::threads`] 2, [`run_app`] reads,
//! decodes, tracks and parses on a worker thread and hands the sink's calls over in batches
//! (`handoff`); with 3 or more the shards run on worker threads (`parallel`). The sink runs on
//! the calling thread and sees exactly the calls, in exactly the order, of a one-thread run.

mod handoff;
mod owned;
mod parallel;
mod read_ahead;
mod shards;

use crate::capture::{CaptureReader, Duration, InputSummary, PacketRef, Timestamp};
use crate::decode::{DecodeConfig, DecodeStats, Decoded, Decoder};
use crate::flow::{FlowConfig, FlowSink, FlowStats, FlowTracker};
use crate::protocol::{AppSink, InFlight, KeyLog, KeyLogProblem, ProtocolConfig, ProtocolStats};
use shards::{Adapter, Merger, Recording, Shard};
use std::io::{IsTerminal, Write};

/// Settings of every layer the pipeline drives.
#[derive(Clone, Debug, Default)]
pub struct PipelineConfig {
    /// Decoder settings.
    pub decode: DecodeConfig,
    /// Flow tracker limits.
    pub flow: FlowConfig,
    /// Protocol parser limits.
    pub protocol: ProtocolConfig,
    /// Show progress on stderr (only takes effect when stderr is a terminal).
    pub progress: bool,
    /// Threads for [`run_app`]: 0 or 1 runs everything on the calling thread; 2 runs
    /// capture -> decode -> flow -> protocol on a worker thread and the sink on the calling
    /// thread; 3 or more run
    /// capture -> decode on one thread, flow -> protocol split by connection over N-2 (at most
    /// 16), the sink on the calling thread. [`run_flows`] with 2 or more reads and decodes on
    /// a second thread. The result is the same for every value.
    pub threads: usize,
}

/// What a run read and what each layer counted.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Per input file.
    pub inputs: Vec<InputSummary>,
    /// Frames read across inputs.
    pub packets: u64,
    /// Captured bytes read (sum of captured lengths).
    pub captured_bytes: u64,
    /// First packet time.
    pub first_ts: Option<Timestamp>,
    /// Last packet time.
    pub last_ts: Option<Timestamp>,
    /// The capture clock's disorder: the most a packet's time stepped back behind the latest
    /// time read before it (inputs merged; each input's own steps back are at most a second,
    /// see [`InputSummary::time_anomalies`]).
    pub clock_disorder: Duration,
    /// Decoder counters.
    pub decode: DecodeStats,
    /// Flow tracker counters.
    pub flow: FlowStats,
    /// Protocol counters (zero when only flows were tracked).
    pub protocol: ProtocolStats,
    /// Damage met in the inputs, one message per damaged file (file, packet, offset).
    pub problems: Vec<String>,
    /// Packets whose timestamp ran backwards by more than a second, was implausible or
    /// overflowed (see [`InputSummary::time_anomalies`]): kept out of durations. Absent when 0.
    pub time_anomalies: u64,
    /// TLS key logs read from pcapng Decryption Secrets Blocks.
    pub capture_key_logs: u64,
    /// Malformed lines of those key logs (file and line).
    pub key_log_problems: Vec<KeyLogProblem>,
}

/// Something that wants a callback every so often with the capture clock (to age out state).
pub trait Clock {
    /// Called with the timestamp of the latest packet, at most once per few thousand packets.
    fn tick(&mut self, now: Timestamp);

    /// [`Clock::tick`], also saying that everything still to come starts at or after
    /// `pending_since` (the oldest start of what is in flight; `None`: nothing is, so only
    /// what starts after `now`). A sink that waits for a time window may stop waiting there.
    fn tick_in_flight(&mut self, now: Timestamp, pending_since: Option<Timestamp>) {
        let _ = pending_since;
        self.tick(now);
    }

    /// [`Clock::tick_in_flight`] with what is in flight told apart: the requests whose line is
    /// known, which hold back only what could pair with them, and the rest (see
    /// [`InFlight`]). By default the oldest of them all is passed on.
    fn tick_with(&mut self, now: Timestamp, in_flight: InFlight) {
        self.tick_in_flight(now, in_flight.oldest());
    }
}

/// Runs capture -> decode -> flow, handing flow events to `sink`. With `config.threads` above 1
/// capture -> decode runs on a second thread; `sink` sees the same events in the same order.
pub fn run_flows(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut dyn FlowSink,
) -> RunStats {
    if config.threads > 1 {
        if let Some(stats) = read_ahead::run_flows_read_ahead(reader, config, sink) {
            return stats;
        }
    }
    let mut decoder = Decoder::new(config.decode.clone());
    let mut tracker = FlowTracker::new(config.flow.clone());
    let mut stats = RunStats::default();
    let mut progress = Progress::new(config.progress, reader.total_bytes());
    while let Some(packet) = reader.next_packet() {
        note_packet(&mut stats, packet.ts, packet.data.len());
        if let Some(decoded) = &decoder.decode(&packet) {
            tracker.process(&packet, decoded, sink);
        }
        progress.update(stats.packets, || reader.bytes_consumed());
    }
    tracker.finish(sink);
    progress.done();
    stats.decode = decoder.stats().clone();
    stats.flow = tracker.stats().clone();
    finish_stats(&mut stats, reader);
    stats
}

/// Runs capture -> decode -> flow -> protocol, handing exchanges and closed connections to
/// `sink` and the capture clock to `clock`. With `config.threads` above 1 the layers run on a
/// second thread while `sink` runs on this one; `sink` sees the same calls in the same order.
pub fn run_app<S: AppSink + Clock>(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut S,
) -> RunStats {
    if config.threads > 2 {
        if let Some(stats) = parallel::run_app_sharded(reader, config, sink, config.threads) {
            return stats;
        }
        drive_app(reader, config, sink)
    } else if config.threads == 2 {
        handoff::run_app_handed_off(reader, config, sink)
    } else {
        drive_app(reader, config, sink)
    }
}

/// [`run_app`] on the calling thread: the connections split into logical shards (`shards`),
/// their calls merged into the one order a single tracker would make them in.
fn drive_app<S: AppSink + Clock>(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut S,
) -> RunStats {
    drive_app_split(reader, config, sink, shards::shard_count(&config.flow))
}

/// [`drive_app`] with `count` logical shards.
fn drive_app_split<S: AppSink + Clock>(
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut S,
    count: usize,
) -> RunStats {
    let mut decoder = Decoder::new(config.decode.clone());
    let mut layers = Layers::new(config, count);
    let mut stats = RunStats::default();
    let mut progress = Progress::new(config.progress, reader.total_bytes());
    loop {
        // Keys a pcapng file carries (Decryption Secrets Blocks), before the packets after them.
        read_key_logs(reader, &mut stats, |log| layers.add_keys(&log));
        let Some(packet) = reader.next_packet() else {
            break;
        };
        note_packet(&mut stats, packet.ts, packet.data.len());
        if let Some(decoded) = &decoder.decode(&packet) {
            let shard = shards::shard_of(decoded, layers.count);
            layers.packet(&packet, decoded, shard, sink);
        }
        if stats.packets % TICK_PACKETS == 0 {
            layers.tick(packet.ts, stats.clock_disorder, sink);
        }
        progress.update(stats.packets, || reader.bytes_consumed());
    }
    layers.finish(sink, &mut stats);
    progress.done();
    stats.decode = decoder.stats().clone();
    finish_stats(&mut stats, reader);
    stats
}

/// Packets between two clock ticks ([`Clock::tick_in_flight`]), counted over every packet read.
const TICK_PACKETS: u64 = 4096;

/// Hands `each` the key logs the capture carried since the last call (pcapng Decryption
/// Secrets Blocks), parsed; their problems and count go into `stats`.
#[inline]
fn read_key_logs(reader: &mut CaptureReader, stats: &mut RunStats, each: impl FnMut(KeyLog)) {
    if reader.has_tls_key_logs() {
        parse_key_logs(reader, stats, each);
    }
}

#[cold]
fn parse_key_logs(reader: &mut CaptureReader, stats: &mut RunStats, mut each: impl FnMut(KeyLog)) {
    for (name, text) in reader.take_tls_key_logs() {
        let mut log = KeyLog::default();
        stats
            .key_log_problems
            .extend(log.add_text(&format!("{name} (decryption secrets)"), &text));
        stats.capture_key_logs += 1;
        each(log);
    }
}

/// Flow -> protocol of a run, split into logical shards, fed one decoded packet at a time; its
/// calls go to the sink in one tracker's order.
struct Layers {
    run: Shards,
    count: usize,
    /// The capture clock of every shard together (latest decoded packet's time).
    now: i64,
    /// When the next timer of any shard is due.
    next_timer: i64,
}

impl Layers {
    /// `count` shards (at least one) with the run's limits.
    fn new(config: &PipelineConfig, count: usize) -> Self {
        let count = count.max(1);
        Layers {
            run: Shards {
                shards: (0..count)
                    .map(|_| Shard::new(&config.flow, &config.protocol, count))
                    .collect(),
                merger: Merger::new(count),
                recordings: (0..count).map(|_| Recording::default()).collect(),
                groups: Vec::new(),
            },
            count,
            now: i64::MIN,
            next_timer: i64::MIN,
        }
    }

    /// TLS secrets for every shard.
    fn add_keys(&mut self, log: &KeyLog) {
        for shard in &mut self.run.shards {
            shard.protocol.add_keys(log);
        }
    }

    /// One decoded packet, of logical shard `shard` ([`shards::shard_of`]; `None`: it only
    /// moves the clock).
    fn packet<S: AppSink>(
        &mut self,
        packet: &PacketRef<'_>,
        decoded: &Decoded<'_>,
        shard: Option<usize>,
        sink: &mut S,
    ) {
        self.now = self.now.max(packet.ts.0);
        let now = self.now;
        if now >= self.next_timer {
            self.next_timer = self.run.run_timers(Timestamp(now), sink);
        }
        let run = &mut self.run;
        let Some((i, shard)) = shard.and_then(|i| Some((i, run.shards.get_mut(i)?))) else {
            return;
        };
        let mut out = run.merger.to(i, sink);
        let mut adapter = Adapter {
            protocol: &mut shard.protocol,
            out: &mut out,
        };
        if packet.ts.0 < now {
            // The shard's clock to every packet's (its timers due now have run); `process`
            // moves it to the packet's own time.
            shard.flow.advance(Timestamp(now), &mut adapter);
        }
        shard.flow.process(packet, decoded, &mut adapter);
        self.next_timer = self.next_timer.min(shard.flow.next_timer());
    }

    /// The clock tick after every [`TICK_PACKETS`]th packet read (`ts`: that packet's time;
    /// `disorder`: [`RunStats::clock_disorder`] so far).
    fn tick<S: AppSink + Clock>(&mut self, ts: Timestamp, disorder: Duration, sink: &mut S) {
        let mut in_flight = shards::in_flight(&self.run.shards);
        in_flight.disorder = Some(disorder);
        sink.tick_with(ts, in_flight);
    }

    /// End of input: closes every open connection; the flow and protocol counters into `stats`.
    fn finish<S: AppSink>(mut self, sink: &mut S, stats: &mut RunStats) {
        self.run.finish(sink);
        for shard in &self.run.shards {
            shards::add_flow_stats(&mut stats.flow, shard.flow.stats());
            shards::add_protocol_stats(&mut stats.protocol, shard.protocol.stats());
        }
        stats.flow.peak_open = self.run.merger.peak_open;
    }
}

/// Every shard of a run and the merge of their calls.
struct Shards {
    shards: Vec<Shard>,
    merger: Merger,
    recordings: Vec<Recording>,
    groups: Vec<shards::Group>,
}

impl Shards {
    /// Runs the timers due at `now` in every shard, their closes merged into one tracker's
    /// order; returns when the next timer of any shard is due.
    fn run_timers<S: AppSink>(&mut self, now: Timestamp, sink: &mut S) -> i64 {
        let mut next = i64::MAX;
        for (i, (shard, rec)) in self
            .shards
            .iter_mut()
            .zip(self.recordings.iter_mut())
            .enumerate()
        {
            if shard.flow.next_timer() <= now.0 {
                let mut adapter = Adapter {
                    protocol: &mut shard.protocol,
                    out: rec,
                };
                shard.flow.advance(now, &mut adapter);
                shards::close_groups(
                    &self.merger,
                    i,
                    &rec.0,
                    shard.flow.timer_closes(),
                    &mut self.groups,
                );
            }
            next = next.min(shard.flow.next_timer());
        }
        if !self.groups.is_empty() {
            shards::replay_groups(
                &mut self.merger,
                &mut self.recordings,
                &mut self.groups,
                sink,
            );
        }
        next
    }

    /// Closes every shard's open connections (end of input), in id order across shards.
    fn finish<S: AppSink>(&mut self, sink: &mut S) {
        for (i, (shard, rec)) in self
            .shards
            .iter_mut()
            .zip(self.recordings.iter_mut())
            .enumerate()
        {
            let mut adapter = Adapter {
                protocol: &mut shard.protocol,
                out: rec,
            };
            shard.flow.finish(&mut adapter);
            shards::close_groups(&self.merger, i, &rec.0, &[], &mut self.groups);
        }
        shards::replay_groups(
            &mut self.merger,
            &mut self.recordings,
            &mut self.groups,
            sink,
        );
    }
}

fn note_packet(stats: &mut RunStats, ts: Timestamp, len: usize) {
    stats.packets += 1;
    stats.captured_bytes += len as u64;
    if stats.first_ts.map_or(true, |f| ts < f) {
        stats.first_ts = Some(ts);
    }
    match stats.last_ts {
        Some(l) if ts <= l => {
            stats.clock_disorder = stats.clock_disorder.max(l.since(ts));
        }
        _ => stats.last_ts = Some(ts),
    }
}

fn finish_stats(stats: &mut RunStats, reader: &CaptureReader) {
    stats.inputs = reader.summaries();
    stats.time_anomalies = stats.inputs.iter().map(|i| i.time_anomalies).sum();
    stats.problems = reader.problems().iter().map(|p| p.to_string()).collect();
}

/// Progress line on stderr, redrawn at most a few times a second, only on a terminal.
struct Progress {
    enabled: bool,
    total: Option<u64>,
    started: std::time::Instant,
    last_draw: std::time::Instant,
}

impl Progress {
    fn new(wanted: bool, total: Option<u64>) -> Self {
        let now = std::time::Instant::now();
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            total,
            started: now,
            last_draw: now,
        }
    }

    /// Redraws the line when due; `bytes` (the input read so far) is only asked for then.
    #[inline]
    fn update(&mut self, packets: u64, bytes: impl FnOnce() -> u64) {
        if !self.enabled || packets % 8192 != 0 {
            return;
        }
        self.draw(packets, bytes());
    }

    /// [`Progress::update`] when a redraw may be due.
    #[cold]
    fn draw(&mut self, packets: u64, bytes: u64) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last_draw).as_millis() < 250 {
            return;
        }
        self.last_draw = now;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-9);
        let mb = bytes as f64 / 1e6;
        let pct = self
            .total
            .filter(|t| *t > 0)
            .map(|t| format!(" {:5.1}%", 100.0 * bytes as f64 / t as f64));
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\ralbscope: {packets} packets, {mb:.0} MB{} ({:.0} MB/s)   ",
            pct.unwrap_or_default(),
            mb / secs
        );
        let _ = err.flush();
    }

    fn done(&mut self) {
        if self.enabled && self.last_draw != self.started {
            let _ = write!(std::io::stderr().lock(), "\r{:70}\r", "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ConnContext, ConnectionRecord, HttpExchange};
    use proptest::prelude::*;

    /// Writes down every call it gets.
    #[derive(Default)]
    struct Calls(Vec<String>);

    impl AppSink for Calls {
        fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
            self.0.push(format!("exchange {conn:?} {exchange:?}"));
        }
        fn closed(&mut self, record: ConnectionRecord) {
            self.0.push(format!("closed {record:?}"));
        }
        fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
            self.0.push(format!("cut short {conn:?}"));
        }
    }

    impl Clock for Calls {
        fn tick(&mut self, now: Timestamp) {
            self.0.push(format!("tick {now:?}"));
        }
        fn tick_in_flight(&mut self, now: Timestamp, pending: Option<Timestamp>) {
            self.0.push(format!("tick {now:?} {pending:?}"));
        }
    }

    fn sample(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../samples")
            .join(name)
    }

    /// The calls and counters of a run over `name` split into `count` shards.
    fn calls(name: &str, count: usize) -> (Vec<String>, String) {
        let path = sample(name);
        let mut reader = CaptureReader::open(&[&path]).expect("open sample");
        let mut calls = Calls::default();
        let stats = drive_app_split(&mut reader, &PipelineConfig::default(), &mut calls, count);
        (calls.0, format!("{stats:?}"))
    }

    const SAMPLES: [&str; 4] = [
        "mixed.pcap",
        "real/keepalive_race.pcap",
        "mirror-truncated.pcap",
        "real/mixed_two_nodes.pcap",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Which shard a connection lands in does not matter while no limit is hit: any
        /// number of shards gives the sink the calls (and the run the counters) of one shard,
        /// i.e. of one tracker for every connection.
        #[test]
        fn the_split_into_shards_changes_nothing(count in 2usize..40, which in 0usize..4) {
            let name = SAMPLES[which];
            let one = calls(name, 1);
            prop_assert!(one.0.len() > 10, "{}: too few calls", name);
            let split = calls(name, count);
            prop_assert!(split == one, "{} differs with {} shards", name, count);
        }
    }
}
