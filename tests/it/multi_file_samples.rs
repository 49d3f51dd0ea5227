//! The samples recorded as several files (`samples/<name>/`, `scenarios::multi_file`): the
//! committed files are the builder's, the files analysed together match the ground truth (the
//! node linked across its two addresses, the clock offset between the files estimated and
//! applied), each file alone is never confidently wrong, and the reports match their goldens
//! (`samples/<name>/expected.txt`, `.json`; `ALBSCOPE_BLESS=1` rewrites files and goldens).

use albscope::accesslog::LogReader;
use albscope::alb::{AlbConfig, FileOffset, OffsetSource, Vantage};
use albscope::diagnose::logjoin::{JoinOptions, LogIndex};
use albscope::diagnose::{analyze_files, Analysis, Finding, Keep};
use albscope::pipeline::PipelineConfig;
use albscope::report::expected_report;
use albscope::taxonomy::Category;
use albscope_synth::alb::Expected;
use albscope_synth::scenarios::{multi_file, MultiFileScenario};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of the real recording in `dir` (relative to the repository root) analysed together
/// in this order, as the CLI does with `--idle-timeout 5` (the recordings' proxy timeout).
pub(crate) fn analyze_recording(dir: &str, files: &[&str]) -> Analysis {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let named: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| (format!("{dir}/{f}"), root.join(f)))
        .collect();
    let alb = AlbConfig {
        idle_timeout: Some(albscope::capture::Duration::from_millis(5_000)),
        ..AlbConfig::default()
    };
    analyze_files(
        &named,
        true,
        &PipelineConfig::default(),
        alb,
        || Keep::new(true),
        None,
    )
    .expect("analyse recording")
}

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// Whether `ALBSCOPE_BLESS=1` asks the golden-file tests to rewrite their goldens.
pub(crate) fn bless() -> bool {
    std::env::var_os("ALBSCOPE_BLESS").is_some_and(|v| v == "1")
}

/// Asserts that `golden` holds exactly `text`; with `ALBSCOPE_BLESS=1` writes it instead.
pub(crate) fn matches_golden(golden: &std::path::Path, text: &str) {
    if bless() {
        std::fs::write(golden, text).expect("write golden");
    } else {
        assert_eq!(
            std::fs::read_to_string(golden).ok().as_deref(),
            Some(text),
            "{} differs (ALBSCOPE_BLESS=1 rewrites it)",
            golden.display()
        );
    }
}

/// The files of `name` (by their names in the scenario) analysed together, as given.
fn analyze(name: &str, files: &[&str], keep_ok: bool) -> Analysis {
    let named: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| (format!("samples/{name}/{f}"), dir(name).join(f)))
        .collect();
    let keep = || Keep::new(keep_ok);
    analyze_files(
        &named,
        true,
        &PipelineConfig::default(),
        AlbConfig::default(),
        keep,
        None,
    )
    .expect("analyse sample files")
}

/// The capture files of scenario `s` in `dir` that differ from what the builder makes now
/// (with `ALBSCOPE_BLESS=1` they are written instead); each under 1 MB.
pub(crate) fn stale_built_files(s: &MultiFileScenario, dir: &Path) -> Vec<String> {
    let mut stale = Vec::new();
    for (file, bytes) in s.build_files() {
        let path = dir.join(file);
        if bless() {
            std::fs::create_dir_all(dir).expect("sample directory");
            std::fs::write(&path, &bytes).expect("write sample");
            continue;
        }
        assert!(bytes.len() < 1 << 20, "{file} over 1 MB");
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            stale.push(path.display().to_string());
        }
    }
    stale
}

#[test]
fn committed_files_match_builder() {
    let mut stale = Vec::new();
    for s in multi_file() {
        stale.extend(stale_built_files(&s, &dir(s.name)));
        let log = dir(s.name).join("access.log");
        if bless() {
            std::fs::write(&log, s.access_log()).expect("write access log");
        } else if std::fs::read_to_string(&log).ok() != Some(s.access_log()) {
            stale.push(log.display().to_string());
        }
    }
    assert!(stale.is_empty(), "rerun with ALBSCOPE_BLESS=1: {stale:?}");
}

/// `(client, category, status)` of every request, sorted.
fn rows(a: &Analysis) -> Vec<(String, Category, Option<u16>)> {
    let mut v: Vec<_> = a
        .requests
        .iter()
        .map(|r| {
            (
                r.client.map_or("-".into(), |c| c.to_string()),
                r.category,
                r.status,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn files_together_match_the_ground_truth_once_each() {
    for s in multi_file() {
        let files: Vec<&str> = s.files.iter().map(|f| f.0).collect();
        let a = analyze(s.name, &files, true);
        let mut want: Vec<_> = s
            .expected()
            .iter()
            .map(|e| (e.client.clone(), e.category, e.status))
            .collect();
        want.sort();
        assert_eq!(rows(&a), want, "{}", s.name);
        // The node is linked across its two addresses, the clocks corrected.
        let node = a.alb_nodes.first().expect("a node");
        assert_eq!(a.alb_nodes.len(), 1, "{}: one node", s.name);
        assert!(
            node.front_addresses
                .first()
                .is_some_and(|l| l.requests >= 3),
            "{}: front address linked",
            s.name
        );
        let (_, _, ahead) = s.files.iter().find(|f| f.2 != 0).expect("a skewed file");
        let c = a.clock_offsets.first().expect("a clock offset");
        assert!(c.applied, "{}: offset applied", s.name);
        assert!(
            (c.ahead.0 - ahead).abs() < 2_000_000,
            "{}: estimated {:?}, true {ahead}",
            s.name,
            c.ahead
        );
    }
}

#[test]
fn each_file_alone_is_never_confidently_wrong() {
    for s in multi_file() {
        let truth = s.expected();
        for (file, _, _) in s.files {
            let a = analyze(s.name, &[file], true);
            // A client-side file of TLS to an unnamed address shows no ALB: honest (it says
            // to name the ALB), never a wrong count.
            if a.vantage == Vantage::Unknown {
                assert!(a.requests.is_empty(), "{}/{file}: requests", s.name);
                continue;
            }
            assert_eq!(a.requests.len(), truth.len(), "{}/{file}: count", s.name);
            for r in &a.requests {
                let client = r.client.map(|c| c.to_string());
                let fits = fits_truth(r, &truth);
                assert!(
                    fits,
                    "{}/{file}: {:?} {:?} {:?} fits no truth",
                    s.name, client, r.category, r.status
                );
            }
        }
    }
}

/// Whether finding `r` fits a row of `truth`: matched by client (front end) or by status and
/// category (back end); an undetermined one may leave the status unsaid (a failed connect that
/// may be a health check, seen from the back end alone) and must hold the truth among its
/// candidates.
pub(crate) fn fits_truth(r: &Finding, truth: &[Expected]) -> bool {
    let client = r.client.map(|c| c.to_string());
    truth.iter().any(|e| {
        client.as_ref().map_or(true, |c| *c == e.client)
            && (e.status == r.status
                || (r.category == Category::Undetermined && r.status.is_none()))
            && (e.category == r.category
                || (r.category == Category::Undetermined && r.candidates.contains(&e.category)))
    })
}

#[test]
fn reports_match_golden_files() {
    let mut problems = Vec::new();
    for s in multi_file() {
        let files: Vec<&str> = s.files.iter().map(|f| f.0).collect();
        let a = analyze(s.name, &files, false);
        for (ext, json) in [("expected.txt", false), ("expected.json", true)] {
            let body = expected_report(&a, json).expect("report");
            let path = dir(s.name).join(ext);
            if bless() {
                std::fs::write(&path, &body).expect("write golden");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(&body[..]) {
                problems.push(path.display().to_string());
            }
        }
    }
    assert!(problems.is_empty(), "differ from golden: {problems:?}");
}

/// The files of `name` analysed together in the order `files`, with the offsets `given`
/// (`--time-offset`), joined to the sample's access log (on the world's clock, as AWS's).
fn analyze_with_log(name: &str, files: &[&str], given: &[(u16, i64)]) -> Analysis {
    let named: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| (format!("samples/{name}/{f}"), dir(name).join(f)))
        .collect();
    let log = LogIndex::from_reader(
        LogReader::new(&[dir(name).join("access.log")]),
        JoinOptions::default(),
    )
    .expect("log reads");
    let alb = AlbConfig {
        clock_offsets: given
            .iter()
            .map(|(file, ns)| FileOffset {
                file: *file,
                ahead: albscope::capture::Duration(*ns),
                source: OffsetSource::Given,
            })
            .collect(),
        ..AlbConfig::default()
    };
    analyze_files(
        &named,
        true,
        &PipelineConfig::default(),
        alb,
        || Keep::new(true),
        Some(log),
    )
    .expect("analyse sample files")
}

/// Files in order, offsets given (file, ns ahead), the log's clock against the first file's.
type Run<'a> = (&'a [&'a str], &'a [(u16, i64)], i64);

#[test]
fn the_access_log_is_joined_on_the_capture_clock_whatever_file_comes_first() {
    // The analysis runs on the first file's clock. With the skewed target-side file first, the
    // client-side file and the log (both on the true clock) are 1.35 s ahead of it: the log's
    // times must be moved onto the capture's clock before the time-window joins (the refused
    // connect has no trace id: it joins by client + time, 1 s tolerance), whether the file
    // offset is estimated or given.
    for s in multi_file() {
        let (skewed, _, ahead) = *s.files.iter().find(|f| f.2 != 0).expect("a skewed file");
        let (other, _, _) = *s.files.iter().find(|f| f.2 == 0).expect("a true file");
        let runs: [Run; 4] = [
            (&[other, skewed], &[], 0),
            (&[skewed, other], &[], -ahead),
            (&[other, skewed], &[(1, ahead)], 0),
            (&[skewed, other], &[(1, -ahead)], -ahead),
        ];
        for (files, given, log_ahead) in runs {
            let a = analyze_with_log(s.name, files, given);
            let j = a.access_log_join.as_ref().expect("joined");
            let what = format!("{} {files:?} {given:?}", s.name);
            assert_eq!(j.requests, s.expected().len() as u64, "{what}");
            assert_eq!(j.joined, j.requests, "{what}: every request joined");
            assert_eq!(
                j.with_disagreements, 0,
                "{what}: {:?}",
                j.disagreeing_requests
            );
            assert_eq!(j.entries_without_request, 0, "{what}");
            match j.log_clock {
                None => assert_eq!(log_ahead, 0, "{what}: log clock not measured"),
                Some(c) => assert!(
                    (c.ahead.0 - log_ahead).abs() < 5_000_000,
                    "{what}: log clock {:?}, true {log_ahead}",
                    c.ahead
                ),
            }
        }
    }
}

#[test]
fn time_offset_errors_name_the_file() {
    let d = dir("split-addrs");
    let run = |spec: &str| {
        Command::new(env!("CARGO_BIN_EXE_albscope"))
            .args(["analyze", "--time-offset", spec])
            .arg(d.join("client-side.pcap"))
            .arg(d.join("target-side.pcap"))
            .output()
            .expect("run albscope")
    };
    let out = run("nosuch.pcap=1.5");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nosuch.pcap is not one of the input files"),
        "{err}"
    );
    let out = run("target-side.pcap=abc");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the offset of target-side.pcap must be a number"),
        "{err}"
    );
    let out = run("target-side.pcap=-1.35");
    assert!(out.status.success() || out.status.code() == Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "target-side.pcap is 1.350 s behind the other inputs (given with --time-offset"
        ),
        "{text}"
    );
}

/// `samples/real/two_interfaces/` (tools/realcap/record_addrs.sh): HAProxy with a client-facing
/// (10.98.2.1) and a target-facing (10.98.1.1) address, recorded by a tcpdump on the client and
/// one on the target, the target file's clock 0.85 s behind: every request once, right, with
/// its client port; each file alone never confidently wrong; the Markdown report as recorded in
/// `expected.md`.
#[test]
fn real_two_interfaces_recording() {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/real/two_interfaces");
    if !d.exists() {
        return;
    }
    let files = ["client-side.pcap", "target-side.pcap"];
    let run = |files: &[&str]| analyze_recording("samples/real/two_interfaces", files);
    let a = run(&files);
    let got: Vec<(u16, Category, Option<u16>)> = a
        .requests
        .iter()
        .map(|r| (r.client.map_or(0, |c| c.port), r.category, r.status))
        .collect();
    let want = vec![
        (41001, Category::Ok, Some(200)),
        (41001, Category::Ok, Some(200)),
        (41001, Category::Ok, Some(200)),
        (41002, Category::Ok, Some(200)),
        (41003, Category::TargetConnectRefused, Some(502)),
        (41004, Category::TargetGeneratedError, Some(500)),
        (41005, Category::TargetClosedBeforeResponse, Some(502)),
        (41006, Category::Ok, Some(200)),
    ];
    assert_eq!(got, want);
    let c = a.clock_offsets.first().expect("clock offset");
    assert!((c.ahead.0 + 850_000_000).abs() < 5_000_000, "{c:?}");
    for f in files {
        let one = run(&[f]);
        assert_eq!(one.requests.len(), want.len(), "{f}");
        for r in &one.requests {
            let fits = want.iter().any(|(port, cat, status)| {
                r.client.map_or(true, |c| c.port == *port)
                    && (r.status == *status
                        || (r.category == Category::Undetermined && r.status.is_none()))
                    && (r.category == *cat
                        || (r.category == Category::Undetermined && r.candidates.contains(cat)))
            });
            assert!(fits, "{f}: {:?} {:?} {:?}", r.client, r.category, r.status);
        }
    }
    let mut out = Vec::new();
    albscope::report::write_markdown(&a.failures_only(), &mut out).expect("markdown");
    let md = String::from_utf8(out).expect("utf-8");
    let golden = d.join("expected.md");
    matches_golden(&golden, &md);
}
