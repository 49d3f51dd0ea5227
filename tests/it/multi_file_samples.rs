//! The samples recorded as several files (`samples/<name>/`, `scenarios::multi_file`): the
//! committed files are the builder's, the files analysed together match the ground truth (the
//! node linked across its two addresses, the clock offset between the files estimated and
//! applied), each file alone is never confidently wrong, and the reports match their goldens
//! (`samples/<name>/expected.txt`, `.json`; `ALBSCOPE_BLESS=1` rewrites files and goldens).

use albscope::alb::AlbConfig;
use albscope::diagnose::{analyze_files, Analysis, Keep};
use albscope::pipeline::PipelineConfig;
use albscope::report::expected_report;
use albscope::taxonomy::Category;
use albscope_synth::scenarios::multi_file;
use std::path::PathBuf;
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn bless() -> bool {
    std::env::var_os("ALBSCOPE_BLESS").is_some_and(|v| v == "1")
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
        &PipelineConfig::default(),
        AlbConfig::default(),
        keep,
        None,
    )
    .expect("analyse sample files")
}

#[test]
fn committed_files_match_builder() {
    let mut stale = Vec::new();
    for s in multi_file() {
        for (file, bytes) in s.build_files() {
            let path = dir(s.name).join(file);
            if bless() {
                std::fs::create_dir_all(dir(s.name)).expect("sample directory");
                std::fs::write(&path, &bytes).expect("write sample");
                continue;
            }
            assert!(bytes.len() < 1 << 20, "{file} over 1 MB");
            if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                stale.push(path.display().to_string());
            }
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
            assert_eq!(a.requests.len(), truth.len(), "{}/{file}: count", s.name);
            for r in &a.requests {
                let client = r.client.map(|c| c.to_string());
                // Matched by client (front end) or by status and category (back end).
                let fits = truth.iter().any(|e| {
                    client.as_ref().map_or(true, |c| *c == e.client)
                        && e.status == r.status
                        && (e.category == r.category
                            || (r.category == Category::Undetermined
                                && r.candidates.contains(&e.category)))
                });
                assert!(
                    fits,
                    "{}/{file}: {:?} {:?} {:?} fits no truth",
                    s.name, client, r.category, r.status
                );
            }
        }
    }
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
