//! Eager pairing (issue 11): a request that is never answered holds only what could pair with
//! it. Steady ok traffic over many connections after it is paired and freed as it goes, so the
//! pairing memory follows what is in flight, nothing is paired early under a budget far below
//! "rate x window", and every request's result is that of a run with unlimited pairing memory.

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::{analyze_capture_with_log, Analysis, Keep};
use albscope::pipeline::PipelineConfig;
use albscope::report::write_json;
use albscope_synth::bulk::{write_hanging_load, HangingLoad};
use albscope_synth::tcp::SEC;

/// 15 s at 400 requests/s over 120 connections (the pipeline ticks the ALB layer's clock
/// every 4,096 packets: here about every 1.3 s); the requests sent at `hanging_at` are never
/// answered by the target (the ALB gives up after `gives_up_after`, else the capture ends
/// first).
fn capture(hanging_at: Vec<u64>, gives_up_after: Option<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    let load = HangingLoad {
        duration: 15 * SEC,
        rate: 400,
        connections: 120,
        hanging_at,
        gives_up_after,
        seed: 11,
    };
    write_hanging_load(&mut out, &load).expect("write");
    out
}

fn analyze(data: &[u8], max_pending_bytes: usize) -> Analysis {
    let mut reader = CaptureReader::from_reader(
        "hanging.pcap",
        Box::new(std::io::Cursor::new(data.to_vec())),
    )
    .expect("open");
    let alb = AlbConfig {
        max_pending_bytes,
        ..AlbConfig::default()
    };
    let keep = Keep {
        ok: true,
        max_requests: 1_000_000,
    };
    analyze_capture_with_log(&mut reader, &PipelineConfig::default(), alb, keep, None)
}

/// The JSON report without `alb_limits` (the budget and the peak it measured).
fn results(a: &Analysis) -> serde_json::Value {
    let mut json = Vec::new();
    write_json(a, &mut json).expect("json");
    let mut doc: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    if let Some(o) = doc.as_object_mut() {
        o.remove("alb_limits");
    }
    doc
}

/// Checks a hanging-request capture under a 6 MiB budget (the traffic after the hanging
/// request holds about 12 MB of legs): nothing paired early, the peak held far below the
/// traffic, the same results as with unlimited memory.
fn check(data: &[u8], requests: u64) {
    let budget = 6 << 20;
    let tight = analyze(data, budget);
    let unlimited = analyze(data, usize::MAX);
    eprintln!(
        "requests {} peak tight {} unlimited {} early {}",
        tight.summary.requests,
        tight.alb_limits.pairing_peak_bytes,
        unlimited.alb_limits.pairing_peak_bytes,
        tight.alb_limits.legs_paired_early
    );
    assert_eq!(tight.summary.requests, requests);
    assert_eq!(
        tight.alb_limits.legs_paired_early, 0,
        "legs paired early under a {budget}-byte budget"
    );
    // What eager pairing holds: what is in flight and the legs since the last clock tick (every
    // 4,096 packets, here about every second) and the slack of this capture's clock (ordered:
    // 100 ms), about 1.8 MB, not everything after the hanging request, nor the rate times a
    // fixed 2 s slack and 1 s batch step (5.5 MB before).
    let peak = unlimited.alb_limits.pairing_peak_bytes;
    assert!(peak <= 5 << 19, "peak held {peak} bytes");
    assert_eq!(results(&tight), results(&unlimited));
}

/// Requests the target never answers at 1 s, 6 s and 11 s: the ALB gives up (504) on the first
/// two after 5 s, the capture ends before it gives up on the third
/// (`hanging_load OUT 15 400 120 3 5 11` writes the same capture).
#[test]
fn an_unanswered_request_holds_only_what_could_pair_with_it() {
    let data = capture(vec![SEC, 6 * SEC, 11 * SEC], Some(5 * SEC));
    check(&data, 6_015);
}
