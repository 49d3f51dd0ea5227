//! The ALB layer learns what a connection's requests teach once per connection where that is
//! provably the same as learning per request (`alb/taught.rs`): every sample analysed both
//! ways gives byte-identical JSON and text reports (ok requests included: nodes, targets,
//! pairing, every counter). `ALBSCOPE_LEARN_CHECK=FILE[:FILE...]` adds captures (e.g. the
//! benchmark's slice) with the default options.

use albscope::alb::{learning_per_request, AlbConfig};
use albscope::capture::{CaptureReader, Duration};
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::{write_json, write_text, TextOptions};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `samples/*.pcap`, `samples/real/*.pcap` and the files named in `ALBSCOPE_LEARN_CHECK`.
fn captures() -> Vec<PathBuf> {
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
    if let Ok(extra) = std::env::var("ALBSCOPE_LEARN_CHECK") {
        v.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    v
}

/// Recorded samples with `--idle-timeout 5` (their README), the others with the defaults.
fn alb_for(path: &Path) -> AlbConfig {
    if path.parent().is_some_and(|d| d.ends_with("samples/real")) {
        AlbConfig {
            idle_timeout: Some(Duration::from_millis(5_000)),
            ..AlbConfig::default()
        }
    } else {
        AlbConfig::default()
    }
}

/// The JSON and the text report of `path`, ok requests included (`--all`), one thread.
fn reports(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut reader = CaptureReader::open(&[path]).expect("open capture");
    let a: Analysis = analyze_capture(
        &mut reader,
        &PipelineConfig {
            threads: 1,
            ..PipelineConfig::default()
        },
        alb_for(path),
        true,
    );
    let (mut json, mut text) = (Vec::new(), Vec::new());
    write_json(&a, &mut json).expect("json");
    write_text(&a, &TextOptions::default(), &mut text).expect("text");
    (json, text)
}

#[test]
fn learning_once_per_connection_changes_no_result() {
    let mut differ = Vec::new();
    for p in captures() {
        let once = reports(&p);
        let each = learning_per_request(|| reports(&p));
        if once.0 != each.0 {
            differ.push(format!("{} JSON", p.display()));
        }
        if once.1 != each.1 {
            differ.push(format!("{} text", p.display()));
        }
    }
    assert!(
        differ.is_empty(),
        "per-connection learning differs: {differ:?}"
    );
}
