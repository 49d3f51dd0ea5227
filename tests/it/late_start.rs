//! Samples recorded as several files started at different times (`samples/late-start/<name>/`,
//! `scenarios::late_start`): a node's back end is in the capture only from the start of the
//! first file that shows it, so a front-end-only failure before that start is "back end not
//! captured" (never "no back-end attempt"), one after it with nothing in the back end is "no
//! back-end attempt"; the front end likewise (a back-end leg before the client-side file
//! started is "front end not captured", never "no front-end match" nor a health check); whatever
//! the order the files are given in, each file alone is never confidently wrong, and the
//! reports match their goldens (`expected.txt`, `.json`; `ALBSCOPE_BLESS=1` rewrites files and
//! goldens).

use crate::multi_file_samples::bless;
use crate::multi_file_samples::{fits_truth, stale_built_files};
use albscope::alb::{AlbConfig, PairingNote};
use albscope::diagnose::{analyze_files, Analysis, Evidence, Finding, Keep, Note};
use albscope::pipeline::PipelineConfig;
use albscope::report::expected_report;
use albscope::taxonomy::Category;
use albscope_synth::alb::{Expected, Vantage};
use albscope_synth::scenarios::{late_start, MultiFileScenario};
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples/late-start")
        .join(name)
}

/// The files of `s` analysed together in the order `files`.
fn analyze(s: &MultiFileScenario, files: &[&str], keep_ok: bool) -> Analysis {
    let named: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| {
            (
                format!("samples/late-start/{}/{f}", s.name),
                dir(s.name).join(f),
            )
        })
        .collect();
    analyze_files(
        &named,
        true,
        &PipelineConfig::default(),
        AlbConfig::default(),
        || Keep::new(keep_ok),
        None,
    )
    .expect("analyse sample files")
}

#[test]
fn committed_files_match_builder() {
    let mut stale = Vec::new();
    for s in late_start() {
        stale.extend(stale_built_files(&s, &dir(s.name)));
    }
    assert!(stale.is_empty(), "rerun with ALBSCOPE_BLESS=1: {stale:?}");
}

/// The scenarios whose back-end (target-side) file starts late, and whose front-end
/// (client-side) file does.
fn late_side(s: &MultiFileScenario) -> (Vantage, u64) {
    s.files
        .iter()
        .zip(s.starts)
        .max_by_key(|(_, start)| **start)
        .map_or((Vantage::AlbNode, 0), |(f, start)| (f.1, *start))
}

/// Whether `r` is truth entry `e` (by client address when it is known, and category or
/// candidates).
fn fits(r: &Finding, e: &Expected) -> bool {
    let ip = r
        .client_ip
        .or(r.client.map(|c| c.ip))
        .map(|ip| ip.to_string());
    ip.map_or(true, |ip| e.client.starts_with(&format!("{ip}:")))
        && (r.category == e.category
            || (r.category == Category::Undetermined && r.candidates.contains(&e.category)))
}

#[test]
fn back_end_counts_as_captured_only_from_its_file_start() {
    for s in late_start() {
        let (late, start) = late_side(&s);
        if late != Vantage::Target {
            continue;
        }
        let truth = s.expected();
        let names: Vec<&str> = s.files.iter().map(|f| f.0).collect();
        let reversed: Vec<&str> = names.iter().rev().copied().collect();
        for files in [names.clone(), reversed] {
            let a = analyze(&s, &files, true);
            let what = format!("{} {files:?}", s.name);
            assert_eq!(a.requests.len(), truth.len(), "{what}: count");
            let first = a.capture.first.expect("capture start");
            for r in &a.requests {
                // Each client's requests differ in status.
                let e = truth
                    .iter()
                    .find(|e| {
                        r.client.map(|c| c.to_string()).as_ref() == Some(&e.client)
                            && r.status == e.status
                    })
                    .expect("a request of the truth");
                assert!(fits(r, e), "{what}: {} {:?}", e.client, r.category);
                if e.category == Category::Ok {
                    assert_eq!(r.category, Category::Ok, "{what}: {}", e.client);
                    continue;
                }
                let before = (r.time.0 - first.0) < start as i64;
                let not_captured = r
                    .notes
                    .contains(&Note::Pairing(PairingNote::BackEndNotCaptured));
                let no_attempt = r
                    .evidence
                    .iter()
                    .any(|ev| matches!(ev, Evidence::NoBackEndAttempt { .. }));
                if before {
                    // Only the front end was captured then: never "no back-end attempt".
                    assert!(not_captured, "{what}: {} {:?}", e.client, r.notes);
                    assert!(!no_attempt, "{what}: {} {:?}", e.client, r.evidence);
                } else {
                    assert_eq!(r.category, e.category, "{what}: {}", e.client);
                    assert!(!not_captured, "{what}: {} {:?}", e.client, r.notes);
                    if e.category == Category::NoTargetAttempt {
                        assert!(no_attempt, "{what}: {} {:?}", e.client, r.evidence);
                    }
                }
            }
        }
    }
}

#[test]
fn front_end_counts_as_captured_only_from_its_file_start() {
    for s in late_start() {
        let (late, start) = late_side(&s);
        if late != Vantage::Client {
            continue;
        }
        let truth = s.expected();
        let names: Vec<&str> = s.files.iter().map(|f| f.0).collect();
        let reversed: Vec<&str> = names.iter().rev().copied().collect();
        for files in [names.clone(), reversed] {
            let a = analyze(&s, &files, true);
            let what = format!("{} {files:?}", s.name);
            let first = a.capture.first.expect("capture start");
            let mut refused_before = false;
            for r in &a.requests {
                assert!(
                    truth.iter().any(|e| fits(r, e)),
                    "{what}: {:?} {:?} fits no truth",
                    r.client_ip,
                    r.category
                );
                let before = (r.time.0 - first.0) < start as i64;
                let no_match = r
                    .notes
                    .contains(&Note::Pairing(PairingNote::NoFrontEndMatch));
                assert!(!no_match, "{what}: {:?} {:?}", r.client_ip, r.notes);
                if before {
                    // Only the back end was captured then.
                    assert!(
                        r.notes
                            .contains(&Note::Pairing(PairingNote::FrontEndNotCaptured)),
                        "{what}: {:?} {:?}",
                        r.client_ip,
                        r.notes
                    );
                    refused_before |= r.category == Category::TargetConnectRefused
                        || r.candidates.contains(&Category::TargetConnectRefused);
                } else {
                    let e = truth.iter().find(|e| fits(r, e)).expect("fits");
                    assert_eq!(r.category, e.category, "{what}: {}", e.client);
                }
            }
            // The refused connect before the client-side file started is a request (seen from
            // the back end alone, maybe a failed health check), not a health check.
            assert!(
                refused_before,
                "{what}: the early refused connect is reported"
            );
        }
    }
}

#[test]
fn each_file_alone_is_never_confidently_wrong() {
    for s in late_start() {
        let truth = s.expected();
        for (file, _, _) in s.files {
            let a = analyze(&s, &[file], true);
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

#[test]
fn reports_match_golden_files() {
    let mut problems = Vec::new();
    for s in late_start() {
        let files: Vec<&str> = s.files.iter().map(|f| f.0).collect();
        let a = analyze(&s, &files, false);
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
