//! `--threads N` never changes a result: every sample (synthetic, recorded, the multi-file
//! ones, damaged and cap-hitting runs) analysed in process with 1, 2, 3, 4 and 8 threads gives
//! byte-identical JSON and text reports (ok requests included, every counter, warning and
//! limit hit), and the sink of `run_app` sees the same calls in the same order. `flows`
//! likewise: its NDJSON and the flow events of `run_flows` do not depend on `--threads`.

use albscope::alb::AlbConfig;
use albscope::capture::{CaptureReader, Duration, Timestamp};
use albscope::diagnose::{analyze_capture, analyze_files, Analysis, Keep};
use albscope::flow::{ConnId, FlowEvent, FlowSink};
use albscope::pipeline::{run_app, run_flows, Clock, PipelineConfig};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange};
use albscope::report::{write_json, write_text, TextOptions};
use albscope_synth::scenarios::multi_file;
use std::path::{Path, PathBuf};

const THREADS: [usize; 5] = [1, 2, 3, 4, 8];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `samples/*.pcap` and `samples/real/*.pcap`, sorted.
pub(crate) fn samples() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["samples", "samples/real"] {
        let Ok(rd) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        v.extend(
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap")),
        );
    }
    v.sort();
    assert!(v.len() >= 20, "samples missing: {v:?}");
    v
}

/// The options a sample is analysed with: recorded samples with `--idle-timeout 5` (their
/// README), synthetic ones with the defaults.
pub(crate) fn alb_for(path: &Path) -> AlbConfig {
    if path.parent().is_some_and(|d| d.ends_with("real")) {
        AlbConfig {
            idle_timeout: Some(Duration::from_millis(5_000)),
            ..AlbConfig::default()
        }
    } else {
        AlbConfig::default()
    }
}

fn with_threads(base: &PipelineConfig, threads: usize) -> PipelineConfig {
    PipelineConfig {
        threads,
        ..base.clone()
    }
}

/// The JSON and the text report, ok requests included (`--all`).
pub(crate) fn rendered(a: &Analysis) -> (Vec<u8>, Vec<u8>) {
    let (mut json, mut text) = (Vec::new(), Vec::new());
    write_json(a, &mut json).expect("json");
    write_text(a, &TextOptions::default(), &mut text).expect("text");
    (json, text)
}

/// Analyses `path` with every thread count, reports the ones whose output differs and returns
/// the one-thread analysis.
fn check_file(path: &Path, base: &PipelineConfig, problems: &mut Vec<String>) -> Analysis {
    let run = |threads: usize| {
        let mut reader = CaptureReader::open(&[path]).expect("open sample");
        let a = analyze_capture(
            &mut reader,
            &with_threads(base, threads),
            alb_for(path),
            true,
        );
        (rendered(&a), a)
    };
    let (one, analysis) = run(1);
    for n in &THREADS[1..] {
        let got = run(*n).0;
        if got.0 != one.0 {
            problems.push(format!("{} JSON, --threads {n}", path.display()));
        }
        if got.1 != one.1 {
            problems.push(format!("{} text, --threads {n}", path.display()));
        }
    }
    analysis
}

#[test]
fn every_sample_is_identical_for_every_thread_count() {
    let mut problems = Vec::new();
    for p in samples() {
        check_file(&p, &PipelineConfig::default(), &mut problems);
    }
    assert!(
        problems.is_empty(),
        "output depends on --threads: {problems:?}"
    );
}

#[test]
fn multi_file_samples_are_identical_for_every_thread_count() {
    let mut sets: Vec<(Vec<(String, PathBuf)>, AlbConfig)> = multi_file()
        .iter()
        .map(|s| {
            let files = s
                .files
                .iter()
                .map(|f| {
                    let rel = format!("samples/{}/{}", s.name, f.0);
                    (rel.clone(), root().join(rel))
                })
                .collect();
            (files, AlbConfig::default())
        })
        .collect();
    let two = root().join("samples/real/two_interfaces");
    if two.exists() {
        let files = ["client-side.pcap", "target-side.pcap"]
            .iter()
            .map(|f| (format!("samples/real/two_interfaces/{f}"), two.join(f)))
            .collect();
        sets.push((files, alb_for(&two.join("x"))));
    }
    let mut problems = Vec::new();
    for (files, alb) in &sets {
        let run = |threads: usize| {
            let a = analyze_files(
                files,
                true,
                &with_threads(&PipelineConfig::default(), threads),
                alb.clone(),
                || Keep::new(true),
                None,
            )
            .expect("analyse sample files");
            rendered(&a)
        };
        let one = run(1);
        for n in &THREADS[1..] {
            if run(*n) != one {
                problems.push(format!("{:?} --threads {n}", files[0].0));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "output depends on --threads: {problems:?}"
    );
}

/// Two damaged copies of samples/mixed.pcap in a fresh temporary folder named after `tag`: the
/// first two thirds of the file (cut), and the file with 64 bytes in its middle garbled.
fn damaged_copies(tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = crate::scratch::dir(tag);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mixed = std::fs::read(root().join("samples/mixed.pcap")).expect("mixed sample");
    let cut = dir.join("mixed-cut.pcap");
    std::fs::write(&cut, &mixed[..mixed.len() * 2 / 3]).expect("write cut");
    let mut garbled = mixed;
    let mid = garbled.len() / 2;
    garbled[mid..mid + 64].fill(0xff);
    let bad = dir.join("mixed-garbled.pcap");
    std::fs::write(&bad, &garbled).expect("write garbled");
    (dir, cut, bad)
}

/// Damaged files (their warnings) and runs that hit the connection, buffer and pairing caps
/// report the same, in the same order, with any thread count.
#[test]
fn damage_and_cap_hits_are_identical_for_every_thread_count() {
    let (dir, cut, bad) = damaged_copies("albscope-threads");

    let mut problems = Vec::new();
    let a = check_file(&cut, &PipelineConfig::default(), &mut problems);
    assert!(
        !a.stats.problems.is_empty(),
        "the cut file's damage not seen"
    );
    // Garbage inside packets: malformed traffic, counted by the layers.
    check_file(&bad, &PipelineConfig::default(), &mut problems);
    let mut tight = PipelineConfig::default();
    tight.flow.max_connections = 3;
    tight.flow.max_buffer_memory = 2048;
    for p in ["samples/mixed.pcap", "samples/real/mixed_two_nodes.pcap"] {
        let a = check_file(&root().join(p), &tight, &mut problems);
        assert!(a.stats.flow.evicted > 0, "{p}: no connection evicted");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        problems.is_empty(),
        "output depends on --threads: {problems:?}"
    );
}

/// A sink that writes down every call it gets.
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
        self.0.push(format!("forwarded head cut short {conn:?}"));
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

#[test]
fn the_sink_sees_the_same_calls_in_the_same_order() {
    for p in [
        "samples/mixed.pcap",
        "samples/real/keepalive_race.pcap",
        "samples/mirror-truncated.pcap",
    ] {
        let path = root().join(p);
        let run = |threads: usize| {
            let mut reader = CaptureReader::open(&[&path]).expect("open sample");
            let mut calls = Calls::default();
            let stats = run_app(
                &mut reader,
                &with_threads(&PipelineConfig::default(), threads),
                &mut calls,
            );
            (calls.0, format!("{stats:?}"))
        };
        let one = run(1);
        assert!(one.0.len() > 10, "{p}: too few calls to compare");
        for n in &THREADS[1..] {
            assert!(run(*n) == one, "{p}: calls differ with {n} threads");
        }
    }
}

/// A flow sink that writes down every event it gets.
#[derive(Default)]
struct FlowEvents(Vec<String>);

impl FlowSink for FlowEvents {
    fn on_flow_event(&mut self, conn: ConnId, event: FlowEvent<'_>) {
        self.0.push(format!("{conn:?} {event:?}"));
    }
}

/// The flow events and counters of `run_flows` over `path` with `threads` threads.
fn flow_events(path: &Path, base: &PipelineConfig, threads: usize) -> (Vec<String>, String) {
    let mut reader = CaptureReader::open(&[path]).expect("open sample");
    let mut events = FlowEvents::default();
    let stats = run_flows(&mut reader, &with_threads(base, threads), &mut events);
    (events.0, format!("{stats:?}"))
}

/// `run_flows` (reading and decoding on a second thread from 2 threads on) hands the sink the
/// same events, bytes included, and counts the same, on every sample, a cut and a garbled
/// file and runs that hit the connection and buffer caps.
#[test]
fn flow_events_are_identical_for_every_thread_count() {
    let (dir, cut, bad) = damaged_copies("albscope-flow-threads");
    let mut tight = PipelineConfig::default();
    tight.flow.max_connections = 3;
    tight.flow.max_buffer_memory = 2048;
    let mut runs: Vec<(PathBuf, PipelineConfig)> = samples()
        .into_iter()
        .chain([cut, bad])
        .map(|p| (p, PipelineConfig::default()))
        .collect();
    for p in ["samples/mixed.pcap", "samples/real/mixed_two_nodes.pcap"] {
        runs.push((root().join(p), tight.clone()));
    }
    let mut problems = Vec::new();
    for (path, config) in &runs {
        let one = flow_events(path, config, 1);
        assert!(!one.0.is_empty(), "{}: no flow events", path.display());
        for n in [2, 4] {
            if flow_events(path, config, n) != one {
                problems.push(format!("{} --threads {n}", path.display()));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        problems.is_empty(),
        "flow events depend on --threads: {problems:?}"
    );
}

/// `albscope flows --format ndjson` writes the same bytes with 1, 2 and 4 threads on every
/// sample.
#[test]
fn flows_ndjson_is_identical_for_every_thread_count() {
    let run = |path: &Path, threads: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_albscope"))
            .args([
                "flows",
                "--format",
                "ndjson",
                "--no-progress",
                "--threads",
                threads,
            ])
            .arg(path)
            .output()
            .expect("run albscope");
        (out.status.code(), out.stdout, out.stderr)
    };
    let mut problems = Vec::new();
    for path in samples() {
        let one = run(&path, "1");
        assert!(!one.1.is_empty(), "{}: no flows", path.display());
        for n in ["2", "4"] {
            if run(&path, n) != one {
                problems.push(format!("{} --threads {n}", path.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "flows NDJSON depends on --threads: {problems:?}"
    );
}
