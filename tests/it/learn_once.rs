//! The ALB layer learns what a connection's requests teach once per connection where that is
//! provably the same as learning per request (`alb/taught.rs`): every sample analysed both
//! ways gives byte-identical JSON and text reports (ok requests included: nodes, targets,
//! pairing, every counter). `ALBSCOPE_LEARN_CHECK=FILE[:FILE...]` adds captures (e.g. the
//! benchmark's slice) with the default options.

use crate::threads::{alb_for, rendered, samples};
use albscope::alb::learning_per_request;
use albscope::capture::CaptureReader;
use albscope::diagnose::analyze_capture;
use albscope::pipeline::PipelineConfig;
use std::path::{Path, PathBuf};

/// The samples (`threads::samples`) and the files named in `ALBSCOPE_LEARN_CHECK`.
fn captures() -> Vec<PathBuf> {
    let mut v = samples();
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

/// The JSON and the text report of `path`, ok requests included (`--all`), one thread.
fn reports(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut reader = CaptureReader::open(&[path]).expect("open capture");
    let a = analyze_capture(
        &mut reader,
        &PipelineConfig {
            threads: 1,
            ..PipelineConfig::default()
        },
        alb_for(path),
        true,
    );
    rendered(&a)
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
