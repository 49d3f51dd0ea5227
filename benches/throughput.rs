//! Throughput benchmark: builds (once) a capture of at least 1 GB of VXLAN-mirrored HTTP traffic
//! with many concurrent keep-alive connections, then measures how fast each stage of the pipeline
//! reads it, in MB/s of capture and packets/s, and its peak memory.
//!
//! `cargo bench --bench throughput` (size with ALBSCOPE_BENCH_MB, default 1100; the capture is
//! kept in target/bench-data/ and rebuilt only when missing). ALBSCOPE_BENCH_FILE names a capture
//! to measure instead (e.g. the real-traffic one of `../shared/perf/`; nothing is built then).
//! ALBSCOPE_BENCH_STAGES picks stages by name, comma-separated (default all), e.g. to count one
//! stage's instructions under `perf stat` or callgrind. The stages, a ladder from least to most
//! work:
//!
//! - `capture`: read the records;
//! - `decode`: capture + decode;
//! - `flows`: capture + decode + flow (`run_flows`, a sink that counts bytes);
//! - `skeleton`: `flows` with a sink that finds and parses every HTTP/1 head with `httparse`
//!   (`support/skeleton.rs`): the least a design that parses every head must add to `flows`;
//!   `skeleton-scan`: the same reading only what the framing needs from each head (its end,
//!   first line, Content-Length and Transfer-Encoding lines);
//! - `protocol`: capture + decode + flow + protocol (`run_app`, a sink that counts exchanges and
//!   closed connections and drops them);
//! - `alb`: `protocol` with the ALB layer (`AlbTracker`: nodes, roles, pairing) feeding a sink
//!   that counts request paths and health checks (no diagnosis);
//! - `analyze`: the whole pipeline and diagnosis, one thread; `analyze-n`: with as many threads
//!   as cores (`--threads`).
//!
//! The `compare` stage runs `benches/compare.sh` on the same capture: the release `albscope`
//! binary (`analyze` with 1 and N threads, `flows`) side by side with `tcpdump` and tshark's
//! `http,stat`, with peak RSS and the ratio to tcpdump. ALBSCOPE_BENCH_CAPTURE names a further
//! capture to compare on (the real-traffic one of `../shared/perf/`); with ALBSCOPE_BENCH_BASE
//! and ALBSCOPE_BENCH_COPIES (the base it was amplified from, and how many copies) the script
//! also checks that the copies analyse to exactly that many times the base's counts.

#[path = "support/rss.rs"]
mod rss;
#[path = "support/skeleton.rs"]
mod skeleton;

use albscope::alb::{AlbTracker, ClientTlsFailure, HealthCheck, Knowledge, PathSink, RequestPath};
use albscope::capture::CaptureReader;
use albscope::capture::Timestamp;
use albscope::decode::{DecodeConfig, Decoder};
use albscope::flow::{ConnId, FlowEvent, FlowSink};
use albscope::pipeline::{run_app, run_flows, Clock, PipelineConfig};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, ExchangeBox, HttpExchange};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() {
    let megabytes: u64 = std::env::var("ALBSCOPE_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1100);
    let connections: usize = std::env::var("ALBSCOPE_BENCH_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let given = std::env::var_os("ALBSCOPE_BENCH_FILE").map(PathBuf::from);
    let path = given
        .clone()
        .unwrap_or_else(|| bench_capture(megabytes, connections));
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let shape = if given.is_some() {
        "given by ALBSCOPE_BENCH_FILE".to_string()
    } else {
        format!("{connections} concurrent connections")
    };
    println!(
        "capture: {} ({:.1} MB, {shape})",
        path.display(),
        size as f64 / 1e6
    );

    let stages = std::env::var("ALBSCOPE_BENCH_STAGES").unwrap_or_default();
    let wanted = |stage: &str| stages.is_empty() || stages.split(',').any(|s| s.trim() == stage);
    let measure = |stage: &str, name: &str, work: &mut dyn FnMut() -> (u64, String)| {
        if wanted(stage) {
            measure(name, size, work);
        }
    };
    measure("capture", "capture (read records)", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut packets = 0u64;
        while reader.next_packet().is_some() {
            packets += 1;
        }
        (packets, format!("{packets} packets"))
    });
    measure("decode", "capture+decode", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut decoder = Decoder::new(DecodeConfig::default());
        let mut packets = 0u64;
        while let Some(packet) = reader.next_packet() {
            packets += 1;
            let _ = decoder.decode(&packet);
        }
        (packets, format!("{} TCP segments", decoder.stats().tcp))
    });
    measure("flows", "flows  (capture+decode+flow)", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut sink = CountingSink::default();
        let stats = run_flows(&mut reader, &PipelineConfig::default(), &mut sink);
        let detail = format!(
            "{} packets, {} connections, {} payload bytes",
            stats.packets, sink.closed, sink.bytes
        );
        (stats.packets, detail)
    });
    measure(
        "skeleton",
        "skeleton (flows + every HTTP/1 head parsed)",
        &mut || skeleton_stage(&path, skeleton::HeadReader::Httparse),
    );
    measure(
        "skeleton-scan",
        "skeleton-scan (flows + every HTTP/1 head's framing scanned)",
        &mut || skeleton_stage(&path, skeleton::HeadReader::Scan),
    );
    measure("protocol", "protocol (flows + HTTP exchanges)", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut sink = CountingApp::default();
        let stats = run_app(&mut reader, &PipelineConfig::default(), &mut sink);
        let detail = format!(
            "{} exchanges, {} connections; protocol layer: {} requests, {} responses",
            sink.exchanges, sink.closed, stats.protocol.requests, stats.protocol.responses
        );
        (stats.packets, detail)
    });
    measure("alb", "alb (protocol + ALB pairing)", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut tracker = AlbTracker::new(
            albscope::alb::AlbConfig::default(),
            CountingPaths::default(),
        );
        tracker.set_input_starts(reader.input_starts());
        let stats = run_app(&mut reader, &PipelineConfig::default(), &mut tracker);
        let (paths, _known) = tracker.finish();
        let detail = format!(
            "{} request paths, {} health checks, {} client TLS failures",
            paths.paths, paths.health_checks, paths.tls_failures
        );
        (stats.packets, detail)
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    measure(
        "analyze",
        "analyze (whole pipeline + diagnosis)",
        &mut || analyze_stage(&path, 1),
    );
    let name = format!("analyze, {threads} threads (--threads)");
    measure("analyze-n", &name, &mut || analyze_stage(&path, threads));
    if wanted("compare") {
        let mut ok = compare(&path, None);
        if let Ok(real) = std::env::var("ALBSCOPE_BENCH_CAPTURE") {
            let base = std::env::var("ALBSCOPE_BENCH_BASE").ok();
            let copies = std::env::var("ALBSCOPE_BENCH_COPIES").ok();
            ok &= compare(Path::new(&real), base.as_deref().zip(copies.as_deref()));
        }
        if !ok {
            // e.g. the scale-invariance check failed: the results changed, not only the speed
            eprintln!("benches/compare.sh failed (see above)");
            std::process::exit(1);
        }
    }
}

/// `flows` with every HTTP/1 head read by `reader` (`support/skeleton.rs`): packets read, and
/// the heads counted.
fn skeleton_stage(path: &Path, reader: skeleton::HeadReader) -> (u64, String) {
    let mut capture = CaptureReader::open(&[path]).expect("bench capture opens");
    let mut sink = skeleton::Skeleton::new(reader);
    let stats = run_flows(&mut capture, &PipelineConfig::default(), &mut sink);
    let c = &sink.counts;
    let detail = format!(
        "{} request heads, {} response heads, {} resyncs, {} directions ignored, {} connections",
        c.requests, c.responses, c.resyncs, c.ignored, c.closed
    );
    (stats.packets, detail)
}

/// The whole analysis of `path` with `threads` threads: packets read, and a summary.
fn analyze_stage(path: &Path, threads: usize) -> (u64, String) {
    let mut reader = CaptureReader::open(&[path]).expect("bench capture opens");
    let config = PipelineConfig {
        threads,
        ..PipelineConfig::default()
    };
    let analysis = albscope::diagnose::analyze_capture(
        &mut reader,
        &config,
        albscope::alb::AlbConfig::default(),
        false,
    );
    let detail = format!(
        "{} requests, {} failed; pairing peak {:.1} MiB estimated of {} MiB, {} legs \
         paired early",
        analysis.summary.requests,
        analysis.summary.failed,
        analysis.alb_limits.pairing_peak_bytes as f64 / 1048576.0,
        analysis.alb_limits.pairing_budget_bytes >> 20,
        analysis.alb_limits.legs_paired_early
    );
    (analysis.stats.packets, detail)
}

/// Runs `benches/compare.sh` on `capture` (with the scale-invariance check against `scale` =
/// (base capture, copies) when given), printing its table; false when the script failed.
fn compare(capture: &Path, scale: Option<(&str, &str)>) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/compare.sh");
    println!("\nside by side (benches/compare.sh {}):", capture.display());
    let mut command = Command::new("bash");
    command.arg(&script);
    if let Some((base, copies)) = scale {
        command.args(["--scale", base, copies]);
    }
    match command.arg(capture).status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            println!("benches/compare.sh: {status}");
            false
        }
        Err(error) => {
            println!("benches/compare.sh could not run: {error}");
            false
        }
    }
}

#[derive(Default)]
struct CountingSink {
    closed: u64,
    bytes: u64,
}

impl FlowSink for CountingSink {
    fn on_flow_event(&mut self, _conn: ConnId, event: FlowEvent<'_>) {
        match event {
            FlowEvent::Data { bytes, .. } => self.bytes += bytes.len() as u64,
            FlowEvent::Close(_) => self.closed += 1,
            _ => {}
        }
    }
}

/// Counts what the protocol layer hands over (exchanges, closed connections) and drops it.
#[derive(Default)]
struct CountingApp {
    exchanges: u64,
    closed: u64,
}

impl AppSink for CountingApp {
    fn exchange(&mut self, _conn: &ConnContext, _exchange: HttpExchange) {
        self.exchanges += 1;
    }
    /// Drops the exchange in its box, as the ALB layer's legs do in the end (the default would
    /// first copy it out of the box, a cost no real sink pays).
    fn exchange_boxed(&mut self, _conn: &ConnContext, _exchange: ExchangeBox) {
        self.exchanges += 1;
    }
    fn closed(&mut self, _record: ConnectionRecord) {
        self.closed += 1;
    }
}

impl Clock for CountingApp {
    fn tick(&mut self, _now: Timestamp) {}
}

/// Counts what the ALB layer hands over (paired request paths, health checks) and drops it.
#[derive(Default)]
struct CountingPaths {
    paths: u64,
    health_checks: u64,
    tls_failures: u64,
}

impl PathSink for CountingPaths {
    fn path(&mut self, _path: RequestPath, _known: &Knowledge) {
        self.paths += 1;
    }
    fn client_tls_failure(&mut self, _failure: ClientTlsFailure) {
        self.tls_failures += 1;
    }
    fn health_check(&mut self, _check: HealthCheck, _known: &Knowledge) {
        self.health_checks += 1;
    }
}

/// Runs `work` once, printing wall time, MB/s of capture, packets/s and the peak resident memory
/// it reached (`work` returns the packets it read and a summary).
fn measure(name: &str, capture_bytes: u64, work: &mut dyn FnMut() -> (u64, String)) {
    rss::reset_peak();
    let before = rss::current_bytes() / 1024;
    let start = Instant::now();
    let (packets, detail) = work();
    let secs = start.elapsed().as_secs_f64();
    let peak = rss::peak_bytes() / 1024;
    println!(
        "{name}: {secs:.2} s, {:.0} MB/s, {:.0} packets/s, peak RSS {:.1} MiB (baseline {:.1} \
         MiB) — {detail}",
        capture_bytes as f64 / 1e6 / secs,
        packets as f64 / secs,
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

fn bench_capture(megabytes: u64, connections: usize) -> PathBuf {
    let dir = Path::new(&std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("bench-data");
    std::fs::create_dir_all(&dir).expect("create bench-data dir");
    let path = dir.join(format!("load-{megabytes}mb-{connections}c.pcap"));
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        let file = std::fs::File::create(&tmp).expect("create bench capture");
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let start = Instant::now();
        albscope_synth::bulk::write_http_load(&mut w, megabytes * 1_000_000, connections, 42)
            .expect("write bench capture");
        std::io::Write::flush(&mut w).expect("flush bench capture");
        drop(w);
        std::fs::rename(&tmp, &path).expect("rename bench capture");
        println!(
            "built {} in {:.1} s",
            path.display(),
            start.elapsed().as_secs_f64()
        );
    }
    path
}
