//! Exit statuses of `albscope flows` on inputs that are damaged or not captures at all
//! (0 ok, 1 findings, 2 usage, 3 unreadable, 4 partial), and what it says about them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = crate::scratch::dir("robust-exit");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn flows(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .arg("flows")
        .arg("--no-progress")
        .args(args)
        .output()
        .expect("run albscope")
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
    .expect("sample")
}

#[test]
fn cut_file_is_partial_and_names_file_packet_offset() {
    let full = sample("healthy.pcap");
    // Cut inside the 11th record: find its start by walking the pcap record headers.
    let mut off = 24usize;
    for _ in 0..10 {
        let incl = u32::from_le_bytes(full[off + 8..off + 12].try_into().expect("4 bytes"));
        off += 16 + incl as usize;
    }
    let path = scratch("cut.pcap");
    std::fs::write(&path, &full[..off + 20]).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let out = flows(&["--format", "json", p]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(p), "{err}");
    assert!(
        err.contains(&format!("packet 11 at byte offset {off}")),
        "{err}"
    );
    // What came before the damage is still listed.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert!(!v.as_array().expect("array").is_empty());
}

#[test]
fn a_text_file_is_unreadable_and_says_what_it_looks_like() {
    let path = scratch("notes.txt");
    std::fs::write(
        &path,
        "these are my notes about the outage\nnothing to see\n",
    )
    .expect("write");
    let out = flows(&[path.to_str().expect("utf-8 path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("looks like"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_empty_file_is_unreadable() {
    let path = scratch("empty.pcap");
    std::fs::write(&path, b"").expect("write");
    let out = flows(&[path.to_str().expect("utf-8 path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("empty.pcap"), "{err}");
}

#[test]
fn a_missing_file_and_a_bad_option_are_usage_errors() {
    // A missing file is a usage error naming the OS error (issue 14), not "unreadable".
    let out = flows(&[scratch("does-not-exist.pcap").to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file or directory"));
    let out = flows(&["--format", "yaml", "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn one_good_and_one_damaged_input_is_partial() {
    let good = scratch("good.pcap");
    std::fs::write(&good, sample("healthy.pcap")).expect("write");
    let bad = scratch("bad.txt");
    std::fs::write(&bad, "not a capture").expect("write");
    let out = flows(&[good.to_str().expect("utf-8"), bad.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("bad.txt"), "{err}");
}

#[test]
fn analyze_on_a_cut_file_is_partial_and_reports_the_damage() {
    let full = sample("healthy.pcap");
    let path = scratch("cut-analyze.pcap");
    // Cut in the middle of the file: somewhere inside a record (or, rarely, right at one).
    std::fs::write(&path, &full[..full.len() / 2 + 3]).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(["analyze", p])
        .output()
        .expect("run albscope");
    let err = String::from_utf8_lossy(&out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(p) && err.contains("at byte offset"), "{err}");
    assert!(text.contains("damage:"), "{text}");
}
