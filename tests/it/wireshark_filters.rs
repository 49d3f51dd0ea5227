//! Each failure's Wireshark display filter, run through tshark, selects exactly the packets
//! albscope attributes to the failure: the packets `extract` writes for it (its front- and
//! back-end connections, ICMP errors quoting them included).
//!
//! tshark's start-up dominates its run time, so one run checks every filter of every capture:
//! the captures are concatenated into one pcapng (by albscope's own pcapng writer; capture k's
//! frame n becomes frame `offset_k + n`), each failure's connections are shifted by the same
//! offset (typed packet positions, not the filter string) before its filter is built, and
//! `-z io,stat` counts the frames each expression matches: a filter F is exact when F matches
//! |E| frames and `(F) && E` matches |E| too, E being the expected frame numbers. Skipped when
//! tshark is not installed.

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::metrics::RequestConns;
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::pcapng::{write_pcapng, NgPacket};
use albscope::report::slice::{write_slices, SliceSpec};
use albscope::report::wireshark::display_filters;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Failures checked per capture (the first ones in time order; today every sample has fewer).
const MAX_PER_CAPTURE: usize = 50;

fn tshark_present() -> bool {
    Command::new("tshark")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    for dir in ["samples", "samples/real"] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        v.extend(
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap")),
        );
    }
    v.sort();
    v
}

fn analyze(path: &Path) -> Analysis {
    let mut r = CaptureReader::open(&[path]).expect("open capture");
    analyze_capture(
        &mut r,
        &PipelineConfig::default(),
        AlbConfig::default(),
        false,
    )
}

/// `frame.number` membership of a sorted set as ranges joined by `||` (io,stat filters cannot
/// hold commas, which Wireshark 4.0 needs between set elements).
fn membership(frames: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let start = frames[i];
        let mut end = start;
        while i + 1 < frames.len() && frames[i + 1] == end + 1 {
            i += 1;
            end = frames[i];
        }
        parts.push(if start == end {
            format!("frame.number=={start}")
        } else {
            format!("frame.number in {{{start}..{end}}}")
        });
        i += 1;
    }
    parts.join(" || ")
}

/// The longest `io,stat` argument one tshark run gets (Linux takes at most 128 KiB per
/// argument).
const IO_STAT_ARG_MAX: usize = 100_000;

/// Frames each expression matches, from one `tshark -z io,stat,0,...` run.
fn io_stat_counts(capture: &Path, exprs: &[String]) -> Vec<u64> {
    let arg = format!("io,stat,0,{}", exprs.join(","));
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-d", "udp.port==4789,vxlan", "-q", "-z", &arg])
        .stderr(Stdio::piped())
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: tshark failed: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // The one data row: "| 0.000 <> 18.432 | f1 | b1 | f2 | b2 | ...".
    let row = text
        .lines()
        .find(|l| l.contains("<>"))
        .unwrap_or_else(|| panic!("{}: no io,stat row in {text}", capture.display()));
    let cells: Vec<&str> = row
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    cells
        .iter()
        .skip(1)
        .step_by(2)
        .map(|c| c.parse().expect("frame count"))
        .collect()
}

/// The frames tshark selects with one filter (for the failure message).
fn selected(capture: &Path, filter: &str) -> Vec<u64> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-d", "udp.port==4789,vxlan", "-Y", filter])
        .args(["-T", "fields", "-e", "frame.number"])
        .stderr(Stdio::null())
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// One packet as read: time, link type, length on the wire, bytes.
type Raw = (
    albscope::capture::Timestamp,
    albscope::capture::LinkType,
    u32,
    Vec<u8>,
);

/// Every packet of `cap` in order; `None` when the reader's numbering has gaps (the
/// concatenation would shift frame numbers).
fn packets(cap: &Path) -> Option<Vec<Raw>> {
    let mut r = CaptureReader::open(&[cap]).ok()?;
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        if p.pos.number != v.len() as u64 + 1 {
            return None;
        }
        v.push((p.ts, p.link, p.orig_len, p.data.to_vec()));
    }
    Some(v)
}

/// `conns` with every packet number moved on by `offset`.
fn shifted(conns: &RequestConns, offset: u64) -> RequestConns {
    let mut c = conns.clone();
    for leg in c
        .front
        .iter_mut()
        .chain(c.back.iter_mut())
        .chain(c.cited.iter_mut())
    {
        leg.first_packet.number += offset;
        if let Some(l) = leg.last_packet.as_mut() {
            l.number += offset;
        }
    }
    c
}

#[test]
fn each_failure_filter_selects_exactly_its_packets_in_tshark() {
    if !tshark_present() {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let dir = crate::scratch::dir("wsfilter");
    std::fs::create_dir_all(&dir).unwrap();
    let mut all_packets = Vec::new();
    let mut exprs = Vec::new();
    // (capture, id, filter, expected frames in the concatenation)
    let mut cases = Vec::new();
    let mut captures_checked = 0usize;
    for cap in captures() {
        let a = analyze(&cap);
        let chosen: Vec<_> = a
            .requests
            .iter()
            .filter(|f| f.category.is_failure())
            .filter_map(|f| a.connections.get(&f.id).map(|c| (f, c)))
            .take(MAX_PER_CAPTURE)
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let pk =
            packets(&cap).unwrap_or_else(|| panic!("{}: packet numbers with gaps", cap.display()));
        let offset = all_packets.len() as u64;
        let specs: Vec<SliceSpec> = chosen
            .iter()
            .enumerate()
            .map(|(i, (_, c))| SliceSpec::of_request(dir.join(format!("{i}.pcap")), c))
            .collect();
        let mut r = CaptureReader::open(&[&cap]).unwrap();
        let slices = write_slices(&mut r, &Default::default(), &specs).unwrap();
        for ((f, conns), slice) in chosen.iter().zip(&slices) {
            let filters = display_filters(&shifted(conns, offset));
            assert_eq!(
                filters.len(),
                1,
                "{}: {}: one input, one filter",
                cap.display(),
                f.id
            );
            let filter = filters[0].filter.clone();
            let mut want: Vec<u64> = slice.positions.iter().map(|p| p.number + offset).collect();
            want.sort_unstable();
            want.dedup();
            exprs.push(filter.clone());
            exprs.push(format!("({filter}) && ({})", membership(&want)));
            cases.push((cap.display().to_string(), f.id, filter, want));
        }
        all_packets.extend(pk);
        captures_checked += 1;
    }
    let merged = dir.join("all.pcapng");
    let ng: Vec<NgPacket<'_>> = all_packets
        .iter()
        .map(|(ts, link, orig_len, data)| NgPacket {
            ts: *ts,
            link: *link,
            orig_len: *orig_len,
            data,
            comments: &[],
        })
        .collect();
    let mut buf = Vec::new();
    write_pcapng(&mut buf, &ng, 262_144).unwrap();
    std::fs::write(&merged, &buf).unwrap();
    // One tshark run per batch of expressions: one argument may hold at most 128 KiB
    // (Linux MAX_ARG_STRLEN).
    let mut counts = Vec::new();
    let mut batch: Vec<String> = Vec::new();
    let mut batch_len = 0;
    for e in &exprs {
        if !batch.is_empty() && batch_len + e.len() + 1 > IO_STAT_ARG_MAX {
            counts.extend(io_stat_counts(&merged, &batch));
            batch.clear();
            batch_len = 0;
        }
        batch_len += e.len() + 1;
        batch.push(e.clone());
    }
    if !batch.is_empty() {
        counts.extend(io_stat_counts(&merged, &batch));
    }
    assert_eq!(counts.len(), exprs.len(), "io,stat columns");
    let mut wrong: Vec<String> = Vec::new();
    for (k, (cap, id, filter, want)) in cases.iter().enumerate() {
        let (all, inside) = (counts[2 * k], counts[2 * k + 1]);
        let n = want.len() as u64;
        if all != n || inside != n {
            let got = selected(&merged, filter);
            wrong.push(format!(
                "{cap} {id}: filter {filter}\n  selects {got:?}\n  expected {want:?}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{} failure filters checked with tshark on {captures_checked} captures",
        cases.len()
    );
    assert!(cases.len() >= 20, "only {} failures checked", cases.len());
    assert!(
        wrong.is_empty(),
        "{} filters not exact:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The `extract` command a report prints writes the failure's packets as pcapng whose
/// comments carry the evidence; the slice re-analyses to the same failure, and tshark reads it
/// with as many packets as the report's display filter selects in the original capture.
#[test]
fn the_reported_extract_command_writes_a_commented_pcapng() {
    let bin = env!("CARGO_BIN_EXE_albscope");
    let out = Command::new(bin)
        .args([
            "analyze",
            "samples/keepalive_race.pcap",
            "--format",
            "json",
            "--no-progress",
        ])
        .output()
        .expect("run albscope");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let req = &doc["requests"][0];
    assert_eq!(req["category"], "keepalive_race");
    let cmd = req["extract_command"].as_str().expect("extract_command");
    let filter = req["wireshark_filter"].as_str().expect("wireshark_filter");
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words.get(..2), Some(&["albscope", "extract"][..]), "{cmd}");
    let dest = crate::scratch::dir("ws").join("slice.pcapng");
    let mut args: Vec<String> = words[1..].iter().map(|w| w.to_string()).collect();
    let w = args.iter().position(|a| a == "-w").expect("-w");
    args[w + 1] = dest.display().to_string();
    let run = Command::new(bin)
        .args(&args)
        .arg("--no-progress")
        .output()
        .expect("run extract");
    assert!(run.status.success(), "{run:?}");
    let bytes = std::fs::read(&dest).expect("slice written");
    assert_eq!(
        bytes.get(..4),
        Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]),
        "pcapng"
    );
    // The slice re-analyses to the same failure.
    let again = Command::new(bin)
        .args(["analyze", "--format", "json", "--no-progress"])
        .arg(&dest)
        .output()
        .expect("re-analyse");
    let doc2: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(doc2["requests"][0]["category"], "keepalive_race");
    if tshark_present() {
        let fields = Command::new("tshark")
            .arg("-r")
            .arg(&dest)
            .args(["-T", "fields", "-e", "frame.comment"])
            .stderr(Stdio::null())
            .output()
            .expect("tshark");
        let text = String::from_utf8_lossy(&fields.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("keepalive_race") && l.contains("the target sent FIN")),
            "{text}"
        );
        let selected = selected(Path::new("samples/keepalive_race.pcap"), filter);
        assert_eq!(
            lines.len(),
            selected.len(),
            "slice = what the filter selects"
        );
    }
    let _ = std::fs::remove_file(&dest);
}
