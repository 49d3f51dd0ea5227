//! The `albscope analyze` and `albscope check` commands, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

use albscope::taxonomy::Category;

fn albscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(args)
        .output()
        .expect("run albscope")
}

fn tmp(name: &str) -> PathBuf {
    let dir = crate::scratch::dir("cli");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn fail_on_sets_exit_status() {
    let out = albscope(&[
        "analyze",
        "samples/keepalive_race.pcap",
        "--fail-on",
        "lb-5xx",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(keepalive_race)"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour when not a terminal");

    let out = albscope(&[
        "analyze",
        "samples/keepalive_race.pcap",
        "--fail-on",
        "any-5xx",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = albscope(&[
        "analyze",
        "samples/keepalive_race.pcap",
        "--fail-on",
        "target_connect_refused,target_idle_timeout",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = albscope(&["analyze", "samples/healthy.pcap", "--fail-on", "any-5xx"]);
    assert_eq!(out.status.code(), Some(0));
    let out = albscope(&["analyze", "samples/healthy.pcap", "--fail-on", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ndjson_is_one_request_per_line_then_a_summary() {
    let out = albscope(&[
        "analyze",
        "--format",
        "ndjson",
        "--all",
        "samples/target_connect_refused.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let (last, reqs) = lines.split_last().expect("lines");
    assert_eq!(last["record"], "summary");
    assert_eq!(
        last["summary"]["requests"].as_u64(),
        Some(reqs.len() as u64)
    );
    assert!(reqs.iter().all(|r| r["record"] == "request"));
    assert!(reqs.iter().any(
        |r| r["category"] == Category::TargetConnectRefused.name() && r["generated_by"] == "lb"
    ));
}

#[test]
fn output_file_and_options() {
    let o = tmp("refused.json");
    let out = albscope(&[
        "analyze",
        "samples/target_idle_timeout.pcap",
        "--format",
        "json",
        "--idle-timeout",
        "60",
        "--alb-ip",
        "10.0.1.25",
        "-o",
        o.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&o).expect("read")).expect("json");
    assert_eq!(v["timers"]["idle_timeout_source"], "config");
    assert_eq!(
        v["requests"][0]["category"],
        Category::TargetIdleTimeout.name()
    );
    let out = albscope(&["analyze", "samples/healthy.pcap", "--idle-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreadable_and_damaged_inputs() {
    let junk = tmp("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").expect("write");
    let out = albscope(&["analyze", junk.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    let bytes = std::fs::read("samples/keepalive_race.pcap").expect("sample");
    let cut = tmp("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).expect("write");
    let out = albscope(&["analyze", cut.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("damage:"));
}

#[test]
fn check_compares_with_expected_and_blesses() {
    let out = albscope(&[
        "check",
        "samples/keepalive_race.pcap",
        "--expected",
        "samples/keepalive_race.expected.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let exp = tmp("race.expected.json");
    let e = exp.to_str().expect("path");
    let out = albscope(&[
        "check",
        "samples/keepalive_race.pcap",
        "--expected",
        e,
        "--bless",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exp).expect("read")).expect("json");
    v["requests"][0]["category"] = "target_closed_before_response".into();
    std::fs::write(&exp, serde_json::to_string(&v).expect("json")).expect("write");
    let out = albscope(&["check", "samples/keepalive_race.pcap", "--expected", e]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("category: \"target_closed_before_response\" -> \"keepalive_race\""),
        "{text}"
    );

    let out = albscope(&[
        "check",
        "samples/keepalive_race.pcap",
        "--expected",
        "samples/keepalive_race.expected.txt",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn limits_cap_the_listed_requests_but_not_the_counts() {
    // mixed.pcap has five failed requests, the last of them a keepalive_race.
    let out = albscope(&[
        "analyze",
        "samples/mixed.pcap",
        "--format",
        "json",
        "--max-requests",
        "1",
        "--fail-on",
        "keepalive_race",
    ]);
    // --fail-on reads the counts, so a request past the limit still fails the run.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["requests"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["requests_not_kept"], 4);
    assert_eq!(doc["summary"]["failed"], 5);
    assert_eq!(doc["alb_limits"]["pairing_budget_bytes"], 256u64 << 20);

    let out = albscope(&["analyze", "samples/mixed.pcap", "--max-requests", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "note:      3 more requests are counted above but not listed (--max-requests)"
        ),
        "{text}"
    );

    // The pairing budget is set in MiB, at least 1 (0 would pair every leg alone).
    let out = albscope(&[
        "analyze",
        "samples/mixed.pcap",
        "--format",
        "json",
        "--pairing-memory",
        "8",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["alb_limits"]["pairing_budget_bytes"], 8u64 << 20);
    assert_eq!(doc["alb_limits"]["legs_paired_early"], 0);
    let out = albscope(&["analyze", "samples/mixed.pcap", "--pairing-memory", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let out = albscope(&["analyze", "samples/mixed.pcap", "--max-connections", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-connections"));
}
