//! Throughput benchmark: builds (once) a capture of at least 1 GB of VXLAN-mirrored HTTP traffic
//! with many concurrent keep-alive connections, then measures how fast `flows` (capture → decode →
//! flow) and `analyze` (the whole pipeline) read it, in MB/s of capture, and their peak memory.
//!
//! `cargo bench --bench throughput` (size with ALBSCOPE_BENCH_MB, default 1100; the capture is
//! kept in target/bench-data/ and rebuilt only when missing). ALBSCOPE_BENCH_STAGES picks stages
//! by name, comma-separated (`capture,decode,flows,analyze,analyze-n,compare`; default all;
//! `analyze-n` is `analyze` with as many threads as cores), e.g. to count one stage's
//! instructions under `perf stat`.
//!
//! The `compare` stage runs `benches/compare.sh` on the same capture: the release `albscope`
//! binary (`analyze` with 1 and N threads, `flows`) side by side with `tcpdump` and tshark's
//! `http,stat`, with peak RSS and the ratio to tcpdump. ALBSCOPE_BENCH_CAPTURE names a further
//! capture to compare on (the real-traffic one of `../shared/perf/`); with ALBSCOPE_BENCH_BASE
//! and ALBSCOPE_BENCH_COPIES (the base it was amplified from, and how many copies) the script
//! also checks that the copies analyse to exactly that many times the base's counts.

#[path = "support/rss.rs"]
mod rss;

use albscope::capture::CaptureReader;
use albscope::decode::{DecodeConfig, Decoder};
use albscope::flow::{ConnId, FlowEvent, FlowSink};
use albscope::pipeline::{run_flows, PipelineConfig};
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
    let path = bench_capture(megabytes, connections);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "capture: {} ({:.1} MB, {connections} concurrent connections)",
        path.display(),
        size as f64 / 1e6
    );

    let stages = std::env::var("ALBSCOPE_BENCH_STAGES").unwrap_or_default();
    let wanted = |stage: &str| stages.is_empty() || stages.split(',').any(|s| s.trim() == stage);
    let measure = |stage: &str, name: &str, work: &mut dyn FnMut() -> String| {
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
        format!("{packets} packets")
    });
    measure("decode", "capture+decode", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut decoder = Decoder::new(DecodeConfig::default());
        while let Some(packet) = reader.next_packet() {
            let _ = decoder.decode(&packet);
        }
        format!("{} TCP segments", decoder.stats().tcp)
    });
    measure("flows", "flows  (capture+decode+flow)", &mut || {
        let mut reader = CaptureReader::open(&[&path]).expect("bench capture opens");
        let mut sink = CountingSink::default();
        let stats = run_flows(&mut reader, &PipelineConfig::default(), &mut sink);
        format!(
            "{} packets, {} connections, {} payload bytes",
            stats.packets, sink.closed, sink.bytes
        )
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

/// The whole analysis of `path` with `threads` threads, summarised.
fn analyze_stage(path: &Path, threads: usize) -> String {
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
    format!(
        "{} requests, {} failed; pairing peak {:.1} MiB estimated of {} MiB, {} legs \
         paired early",
        analysis.summary.requests,
        analysis.summary.failed,
        analysis.alb_limits.pairing_peak_bytes as f64 / 1048576.0,
        analysis.alb_limits.pairing_budget_bytes >> 20,
        analysis.alb_limits.legs_paired_early
    )
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

/// Runs `work` once, printing wall time, MB/s of capture and the peak resident memory it reached.
fn measure(name: &str, capture_bytes: u64, work: &mut dyn FnMut() -> String) {
    rss::reset_peak();
    let before = rss::current_bytes() / 1024;
    let start = Instant::now();
    let detail = work();
    let secs = start.elapsed().as_secs_f64();
    let peak = rss::peak_bytes() / 1024;
    println!(
        "{name}: {secs:.2} s, {:.0} MB/s, peak RSS {:.1} MiB (baseline {:.1} MiB) — {detail}",
        capture_bytes as f64 / 1e6 / secs,
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
