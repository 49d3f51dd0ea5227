//! Replays every committed fuzz input (fuzz/corpus/<target>/*, crash reproducers included)
//! through the same `albscope_testkit::fuzzing` functions the cargo-fuzz targets call, plus every
//! samples/*.pcap and samples/real/*.pcap through the capture and pipeline targets (and the
//! access logs through the log target), so plain `cargo test` checks them.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files of `fuzz/corpus/<target>/` (sorted), failing when the directory is missing or empty.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// Files with extension `ext` in `samples/<sub>` for each `sub` (sorted).
fn files_in(subs: &[&str], ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = subs
        .iter()
        .flat_map(|sub| {
            std::fs::read_dir(root().join("samples").join(sub))
                .into_iter()
                .flatten()
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// samples/*.pcap (synthetic) and samples/real/*.pcap (recorded).
fn samples() -> Vec<PathBuf> {
    let files = files_in(&["", "real"], "pcap");
    assert!(files.len() >= 10, "samples/*.pcap missing");
    files
}

/// Runs `f` on each file, naming the file that panicked.
fn replay(files: &[PathBuf], f: fn(&[u8])) {
    for path in files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let result = std::panic::catch_unwind(|| f(&data));
        if result.is_err() {
            panic!("fuzz input {} panicked", shown(path));
        }
    }
}

fn shown(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn capture_reader_corpus_and_samples() {
    replay(
        &corpus("capture_reader"),
        albscope_testkit::fuzzing::capture_reader,
    );
    replay(&samples(), albscope_testkit::fuzzing::capture_reader);
}

#[test]
fn decode_packet_corpus() {
    replay(
        &corpus("decode_packet"),
        albscope_testkit::fuzzing::decode_packet,
    );
}

#[test]
fn http_stream_corpus() {
    replay(
        &corpus("http_stream"),
        albscope_testkit::fuzzing::http_stream,
    );
}

#[test]
fn http2_frames_corpus() {
    replay(
        &corpus("http2_frames"),
        albscope_testkit::fuzzing::http2_frames,
    );
}

#[test]
fn tls_stream_corpus() {
    replay(&corpus("tls_stream"), albscope_testkit::fuzzing::tls_stream);
}

#[test]
fn tls_decrypt_corpus() {
    replay(
        &corpus("tls_decrypt"),
        albscope_testkit::fuzzing::tls_decrypt,
    );
}

#[test]
fn access_log_corpus() {
    replay(&corpus("access_log"), albscope_testkit::fuzzing::access_log);
    replay(
        &files_in(&["access-logs", "real"], "log"),
        albscope_testkit::fuzzing::access_log,
    );
}

#[test]
fn tcp_reassembly_corpus() {
    replay(
        &corpus("tcp_reassembly"),
        albscope_testkit::fuzzing::tcp_reassembly,
    );
}

#[test]
fn pipeline_corpus_and_samples() {
    replay(&corpus("pipeline"), albscope_testkit::fuzzing::pipeline);
    replay(&samples(), albscope_testkit::fuzzing::pipeline);
}

/// The invariant checks of the TCP target are live: a few thousand pseudo-random segment
/// sequences (deterministic) go through it, so a broken invariant fails here too.
#[test]
fn tcp_reassembly_random_inputs() {
    let mut rng = albscope_synth::rng::SplitMix64::new(7);
    for _ in 0..3000 {
        let len = rng.range(0, 400) as usize;
        let mut buf = vec![0u8; len];
        rng.fill(&mut buf);
        albscope_testkit::fuzzing::tcp_reassembly(&buf);
    }
}
