//! `albscope analyze --access-log`, run as a user would.

use std::process::{Command, Output};

use albscope::taxonomy::Category;

fn albscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run albscope")
}

#[test]
fn text_report_shows_the_logged_line_beside_the_capture_view() {
    let out = albscope(&[
        "analyze",
        "samples/mixed.pcap",
        "--access-log",
        "samples/access-logs/mixed.log",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Access log: 110 entries from 1 file; 108 of 109 captured requests joined"),
        "{text}"
    );
    assert!(
        text.contains("captured requests with no log entry: 1"),
        "{text}"
    );
    assert!(
        text.contains("log entries with no captured request: 2"),
        "{text}"
    );
    // Every failed request has its log line right under the capture's view.
    let views = text.matches("\n    access log: ").count();
    let logged = text.matches("\n    logged:     ").count();
    assert_eq!(views, 5, "{text}");
    assert_eq!(logged, views, "{text}");
    assert!(
        text.contains("      disagrees: target_status_code: the log says -"),
        "{text}"
    );
    assert!(text.contains("joined by trace id"), "{text}");
    assert!(text.contains("joined by client ip:port + time"), "{text}");
}

#[test]
fn json_and_ndjson_carry_the_join() {
    let out = albscope(&[
        "analyze",
        "samples/client_closed.pcap",
        "--format",
        "json",
        "--access-log",
        "samples/access-logs",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let j = &v["access_log_join"];
    // The whole folder is read: the other samples' lines are outside this capture's span or
    // belong to nobody here.
    assert!(j["entries"].as_u64().unwrap_or(0) > 100, "{j}");
    assert_eq!(j["joined"], 3, "{j}");
    let r = &v["requests"][0];
    assert_eq!(r["category"], Category::ClientClosed.name());
    assert_eq!(r["logged"]["joined_by"], "trace_id");
    assert_eq!(r["logged"]["elb_status_code"], 460);
    assert_eq!(
        r["logged"]["disagreements"].as_array().map(Vec::len),
        Some(2)
    );

    let out = albscope(&[
        "analyze",
        "samples/client_closed.pcap",
        "--format",
        "ndjson",
        "--access-log",
        "samples/access-logs/client_closed.log",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson line"))
        .collect();
    assert_eq!(
        lines.first().map(|l| &l["logged"]["source"]),
        Some(&serde_json::json!(
            "samples/access-logs/client_closed.log:2"
        ))
    );
    assert_eq!(
        lines.last().map(|l| &l["access_log_join"]["joined"]),
        Some(&serde_json::json!(3))
    );
}

#[test]
fn without_access_log_the_output_is_unchanged_and_a_missing_log_is_an_error() {
    let out = albscope(&["analyze", "samples/keepalive_race.pcap", "--format", "json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("access_log_join") && !text.contains("\"logged\""));
    let out = albscope(&[
        "analyze",
        "samples/keepalive_race.pcap",
        "--access-log",
        "samples/access-logs/no-such.log",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such.log"), "{err}");
}

#[test]
fn check_takes_access_logs_too() {
    let dir = crate::scratch::dir("logcheck");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let expected = dir.join("mixed.txt");
    let expected = expected.to_str().expect("utf-8 path");
    let with_log = [
        "check",
        "samples/mixed.pcap",
        "--access-log",
        "samples/access-logs/mixed.log",
        "--expected",
        expected,
    ];
    let mut bless = with_log.to_vec();
    bless.push("--bless");
    assert_eq!(albscope(&bless).status.code(), Some(0));
    let text = std::fs::read_to_string(expected).expect("blessed");
    assert!(text.contains("Access log: 110 entries"), "{text}");
    assert_eq!(albscope(&with_log).status.code(), Some(0));
    // Without the log the text report lacks the join: a difference.
    let out = albscope(&["check", "samples/mixed.pcap", "--expected", expected]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn a_full_log_index_is_reported() {
    let out = albscope(&[
        "analyze",
        "samples/mixed.pcap",
        "--access-log",
        "samples/access-logs/mixed.log",
        "--max-log-entries",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "100 log entries were read after the index was full (--max-log-entries) and not joined"
        ),
        "{text}"
    );
    assert!(text.contains("Access log: 110 entries"), "{text}");
}
