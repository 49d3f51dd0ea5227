//! `albscope flows` end to end on a capture built by hand: formats, states, exit codes.

use albscope_testkit::flow_capture::build_capture;
use std::path::PathBuf;
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = crate::scratch::dir("flow-cli");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn flows(args: &[&str], capture: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .arg("flows")
        .args(args)
        .arg("--no-progress")
        .arg(capture)
        .output()
        .expect("run albscope")
}

#[test]
fn json_lists_connections_in_start_order_with_states() {
    let cap = scratch("json.pcap");
    build_capture(&cap);
    let out = flows(&["--format", "json"], &cap);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let flows = v.as_array().expect("array");
    let states: Vec<&str> = flows
        .iter()
        .map(|f| f["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["SF", "RSTO", "REJ", "S0", "OTH"]);
    assert_eq!(flows[0]["close_reason"], "port_reused");
    assert_eq!(flows[1]["close_reason"], "closed");
    let starts: Vec<i64> = flows
        .iter()
        .map(|f| f["start_ns"].as_i64().unwrap_or(0))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    let sf = &flows[0];
    assert_eq!(sf["originator"], "10.0.1.10:41000");
    assert_eq!(sf["responder"], "10.0.2.20:8080");
    assert_eq!(sf["session"], "vxlan vni 7 from 10.9.0.5");
    assert_eq!(sf["history"], "ShADdFf");
    assert_eq!(sf["orig"]["duplicates"], 1);
    assert_eq!(sf["orig"]["frames"], 6);
    assert_eq!(sf["orig"]["packets"], 5);
    assert_eq!(sf["orig"]["payload_bytes"], 27);
    assert_eq!(sf["resp"]["payload_bytes"], 38);
    assert!(sf["start"].as_str().unwrap_or("").ends_with('Z'));
    assert_eq!(flows[4]["saw_syn"], false);
    assert_eq!(flows[4]["responder"], "10.0.1.10:443");
    let s0_syns = flows[3]["events"]
        .as_array()
        .map(|e| e.iter().filter(|x| x["kind"] == "syn").count());
    assert_eq!(s0_syns, Some(3));
}

#[test]
fn ndjson_streams_the_same_connections() {
    let cap = scratch("ndjson.pcap");
    build_capture(&cap);
    let out = flows(&["--format", "ndjson"], &cap);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ids: Vec<u64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one object per line");
            v["id"].as_u64().expect("id")
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
}

#[test]
fn table_has_header_rows_and_footer() {
    let cap = scratch("table.pcap");
    build_capture(&cap);
    let out = flows(&[], &cap);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 5 + 2, "{text}");
    assert!(lines[0].starts_with("start (UTC)") && lines[0].contains("history"));
    assert!(lines[1].contains("10.0.1.10:41000") && lines[1].contains(" 6/3 "));
    assert!(lines[1].contains("SF"));
    assert!(
        lines[5].contains("10.0.3.30:52000?"),
        "guessed roles marked: {}",
        lines[5]
    );
    assert!(lines[6].starts_with("5 connections"));
    assert_eq!(
        lines.get(7).copied(),
        Some("1 duplicate frames, 1 ports reused")
    );
}

#[test]
fn damaged_capture_exits_partial_and_says_why() {
    let cap = scratch("full.pcap");
    build_capture(&cap);
    let bytes = std::fs::read(&cap).expect("read");
    let cut = scratch("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).expect("write");
    let out = flows(&["--format", "json"], &cut);
    assert_eq!(out.status.code(), Some(4));
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v.as_array().map(|a| a.len()), Some(5));

    let text = scratch("not.pcap");
    std::fs::write(&text, "hello\n").expect("write");
    assert_eq!(flows(&[], &text).status.code(), Some(3));
}
