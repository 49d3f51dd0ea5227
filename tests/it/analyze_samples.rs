//! End to end: every synthetic scenario analysed for real, checked against its ground truth,
//! and the text/JSON reports of the committed samples compared with golden files
//! (`samples/<name>.expected.txt` / `.expected.json`; `ALBSCOPE_BLESS=1 cargo test` rewrites them).

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::{expected_report, write_json, write_text, TextOptions};
use albscope::taxonomy::{Category, GeneratedBy};
use albscope_synth::scenarios;
use std::path::{Path, PathBuf};

fn analyze(path: &Path, keep_ok: bool) -> Analysis {
    let mut reader = CaptureReader::open(&[path]).expect("open sample");
    analyze_capture(
        &mut reader,
        &PipelineConfig::default(),
        AlbConfig::default(),
        keep_ok,
    )
}

fn tmp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("albscope-analyze-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(format!("{name}.pcap"));
    std::fs::write(&p, bytes).expect("write sample");
    p
}

/// (client, category, status, generated_by) with the client's port dropped when the front end
/// was not captured (the back end only knows the client's address).
type Row = (String, Category, String, Option<GeneratedBy>);

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

#[test]
fn every_scenario_matches_its_ground_truth() {
    let mut failures = Vec::new();
    for sc in scenarios::all() {
        let (bytes, truth) = sc.build_with_truth();
        let path = tmp_file(sc.name, &bytes);
        let a = analyze(&path, true);
        let front_seen = a.requests.iter().any(|r| r.client.is_some());
        let key = |client: &str| {
            if front_seen {
                client.to_string()
            } else {
                "*".to_string()
            }
        };
        let mut want: Vec<Row> = truth
            .iter()
            .map(|e| (key(&e.client), e.category, opt(e.status), e.generated_by))
            .collect();
        let mut got: Vec<Row> = a
            .requests
            .iter()
            .map(|r| {
                (
                    key(&r.client.map_or("?".to_string(), |c| c.to_string())),
                    r.category,
                    opt(r.status),
                    r.generated_by,
                )
            })
            .collect();
        want.sort();
        got.sort();
        if want != got {
            let missing: Vec<&Row> = want.iter().filter(|w| !got.contains(w)).collect();
            let extra: Vec<&Row> = got.iter().filter(|g| !want.contains(g)).collect();
            failures.push(format!(
                "{}: expected but not found {missing:?}; found but not expected {extra:?}",
                sc.name
            ));
        }
        // Health checks are never client requests.
        assert_eq!(
            a.summary.requests as usize,
            a.requests.len(),
            "{}: every request kept with keep_ok",
            sc.name
        );
        let _ = std::fs::remove_file(&path);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn golden(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("ALBSCOPE_BLESS").is_some() {
        std::fs::write(path, actual).expect("write golden file");
        return None;
    }
    let expected = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(_) => {
            return Some(format!(
                "{} missing (run ALBSCOPE_BLESS=1 cargo test --test analyze_samples)",
                path.display()
            ))
        }
    };
    if expected == actual {
        return None;
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
        .unwrap_or_else(|| "different length".into());
    Some(format!("{} differs at {first}", path.display()))
}

#[test]
fn sample_reports_match_golden_files() {
    let mut problems = Vec::new();
    for sc in scenarios::all() {
        let pcap = PathBuf::from(format!("samples/{}.pcap", sc.name));
        if !pcap.exists() {
            problems.push(format!("{} missing", pcap.display()));
            continue;
        }
        let a = analyze(&pcap, false);
        let text = expected_report(&a, false).expect("text");
        let json = expected_report(&a, true).expect("json");
        for (ext, body) in [("expected.txt", &text), ("expected.json", &json)] {
            let p = PathBuf::from(format!("samples/{}.{ext}", sc.name));
            if let Some(p) = golden(&p, body) {
                problems.push(p);
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn text_report_never_colours_and_json_has_schema_version() {
    let pcap = PathBuf::from("samples/keepalive_race.pcap");
    let a = analyze(&pcap, false);
    let mut text = Vec::new();
    write_text(&a, &TextOptions::default(), &mut text).expect("text");
    let text = String::from_utf8(text).expect("utf8");
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("(keepalive_race)"));
    assert!(text.contains("keepAliveTimeout"), "{text}");
    let mut json = Vec::new();
    write_json(&a, &mut json).expect("json");
    let v: serde_json::Value = serde_json::from_slice(&json).expect("parse");
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["requests"][0]["category"], Category::KeepaliveRace.name());
}
