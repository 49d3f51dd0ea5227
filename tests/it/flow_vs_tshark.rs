//! Compares `albscope flows --format json` with `tshark -z conv,tcp` on a VXLAN capture built
//! here (handshakes, data, a duplicate frame, a refused connect, SYN retransmissions, port reuse,
//! a mid-stream connection) and on the sample captures: every `samples/*.pcap(ng)` and
//! `samples/*/*.pcap(ng)` outside `samples/real/`, and every fourth real recording in name order
//! (each tshark start costs about half a CPU second; `ALBSCOPE_TSHARK_ALL=1` compares all of
//! them, as after a change to the capture, decode or flow layers).
//! Checks the connection count and, per connection, the frames and frame bytes each way.
//! Skipped when tshark is not installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tshark_present() -> bool {
    Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

use albscope_testkit::flow_capture::build_capture;

/// Per connection (endpoints as "ip:port" sorted pair, occurrence index): frames and bytes from
/// the lower endpoint to the higher and back.
type Table = BTreeMap<(String, String, usize), [(u64, u64); 2]>;

/// Like [`Table`], with the unit tshark printed each byte count in (1 = exact bytes, 1000 = kB).
type TsharkTable = BTreeMap<(String, String, usize), [(u64, u64, u64); 2]>;

fn key_of(a: &str, b: &str) -> (String, String, bool) {
    if a <= b {
        (a.to_string(), b.to_string(), false)
    } else {
        (b.to_string(), a.to_string(), true)
    }
}

/// Parses a byte count as tshark prints it ("918 bytes", "1,234 bytes", "12 kB"): the number
/// and its unit in bytes.
fn parse_bytes(num: &str, unit: &str) -> Option<(u64, u64)> {
    let n: u64 = num.replace(',', "").parse().ok()?;
    let mult = match unit {
        "bytes" | "B" => 1,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    Some((n, mult))
}

/// Runs tshark and parses its TCP conversation table.
fn tshark_conversations(capture: &Path) -> TsharkTable {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-d", "udp.port==4789,vxlan", "-q", "-z", "conv,tcp"])
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut table = TsharkTable::new();
    for line in text.lines() {
        let tok: Vec<&str> = line.split_whitespace().collect();
        if tok.len() < 9 || tok.get(1) != Some(&"<->") {
            continue;
        }
        // A <-> B  frames(B->A) bytes unit  frames(A->B) bytes unit  total ...
        let (fa, ba, ua) = (tok[3], tok[4], tok[5]);
        let (fb, bb, ub) = (tok[6], tok[7], tok[8]);
        let (Some((bytes_ba, mult_ba)), Some((bytes_ab, mult_ab))) =
            (parse_bytes(ba, ua), parse_bytes(bb, ub))
        else {
            panic!("unexpected tshark line: {line}");
        };
        let frames_ba: u64 = fa.replace(',', "").parse().expect("frames");
        let frames_ab: u64 = fb.replace(',', "").parse().expect("frames");
        let (lo, hi, swapped) = key_of(tok[0], tok[2]);
        let ab = (frames_ab, bytes_ab, mult_ab);
        let ba = (frames_ba, bytes_ba, mult_ba);
        let (lo_hi, hi_lo) = if swapped { (ba, ab) } else { (ab, ba) };
        let mut n = 0;
        while table.contains_key(&(lo.clone(), hi.clone(), n)) {
            n += 1;
        }
        table.insert((lo, hi, n), [lo_hi, hi_lo]);
    }
    table
}

fn albscope_conversations(capture: &Path) -> Table {
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(["flows", "--format", "json", "--no-progress"])
        .arg(capture)
        .output()
        .expect("run albscope");
    assert!(
        out.status.code() == Some(0),
        "albscope flows failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    let mut table = Table::new();
    let mut per_session: std::collections::HashMap<(String, String, String), usize> =
        std::collections::HashMap::new();
    for f in flows.as_array().expect("array") {
        // tshark writes IPv6 endpoints without brackets.
        let unbracket = |s: &str| s.replace(['[', ']'], "");
        let o = unbracket(f["originator"].as_str().expect("originator"));
        let r = unbracket(f["responder"].as_str().expect("responder"));
        let dir = |d: &str| {
            (
                f[d]["frames"].as_u64().expect("frames"),
                f[d]["frame_bytes"].as_u64().expect("frame_bytes"),
            )
        };
        let (lo, hi, swapped) = key_of(&o, &r);
        let pair = if swapped {
            [dir("resp"), dir("orig")]
        } else {
            [dir("orig"), dir("resp")]
        };
        // tshark counts one connection mirrored in two sessions (two ENIs) as one
        // conversation; albscope keeps one per session: the n-th of a 4-tuple in each session
        // add up.
        let session = f["session"].as_str().unwrap_or("").to_string();
        let n = per_session
            .entry((lo.clone(), hi.clone(), session))
            .or_insert(0);
        let key = (lo, hi, *n);
        *n += 1;
        let entry = table.entry(key).or_insert([(0, 0); 2]);
        for (e, p) in entry.iter_mut().zip(pair) {
            e.0 += p.0;
            e.1 += p.1;
        }
    }
    table
}

fn compare(capture: &Path) {
    let want = tshark_conversations(capture);
    let got = albscope_conversations(capture);
    let name = capture.display();
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: connection count (albscope {got:?}, tshark {want:?})"
    );
    for (k, w) in &want {
        let g = got
            .get(k)
            .unwrap_or_else(|| panic!("{name}: tshark conversation {k:?} missing"));
        for d in 0..2 {
            let (frames, bytes, unit) = w[d];
            assert_eq!(g[d].0, frames, "{name}: {k:?} frames, direction {d}");
            // tshark prints large counts in kB/MB, cut to whole units.
            assert!(
                g[d].1 / unit == bytes,
                "{name}: {k:?} bytes, direction {d}: albscope {} vs tshark {bytes} x {unit}",
                g[d].1
            );
        }
    }
}

#[test]
fn flows_match_tshark_conversations() {
    if !tshark_present() {
        eprintln!("skipped: tshark not installed");
        return;
    }
    let dir = crate::scratch::dir("flow-vs-tshark");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let built = dir.join("built.pcap");
    build_capture(&built);
    compare(&built);
    let _ = std::fs::remove_dir_all(&dir);

    // samples/*.pcap and one level below (samples/real/*.pcap).
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![samples.clone()];
    if let Ok(rd) = std::fs::read_dir(&samples) {
        dirs.extend(
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir()),
        );
    }
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(&d) {
            files.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng")),
            );
        }
    }
    files.sort();
    let all = std::env::var_os("ALBSCOPE_TSHARK_ALL").is_some();
    let real = samples.join("real");
    let mut nth_real = 0usize;
    let mut compared = 1usize;
    for f in &files {
        if !all && f.starts_with(&real) {
            nth_real += 1;
            if nth_real % REAL_STRIDE != 1 {
                continue;
            }
        }
        compare(f);
        compared += 1;
    }
    eprintln!(
        "compared {compared} of {} captures with tshark{}",
        files.len() + 1,
        if all {
            ""
        } else {
            " (ALBSCOPE_TSHARK_ALL=1 for all)"
        }
    );
}

/// Without `ALBSCOPE_TSHARK_ALL`, one real recording in this many is compared (the first, then
/// every this-many-th in name order).
const REAL_STRIDE: usize = 4;
