//! An HTTPS front end seen without keys and without the back end
//! (`samples/encrypted-front/`, `scenarios::encrypted_front`): exchanges whose status is
//! encrypted are counted as "outcome not visible" (neither ok nor failed, never a non-zero
//! exit), what the front end proves stays reported (a client giving up, an answer at the idle
//! timeout as an undetermined candidate), HTTP/2 exchanges are not counted as requests, and
//! the reports match their goldens in every format (`ALBSCOPE_BLESS=1` rewrites the files and
//! the goldens).

use crate::multi_file_samples::bless;
use albscope_synth::scenarios::encrypted_front;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/encrypted-front")
}

/// `albscope analyze FILE --listener-port 443 ARGS` from the repository root (so the report
/// names the file as `samples/...`).
fn analyze(file: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["analyze", file, "--listener-port", "443"])
        .args(args)
        .output()
        .expect("run albscope")
}

fn json(file: &str, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = analyze(file, &all);
    serde_json::from_slice(&out.stdout).expect("a JSON document")
}

#[test]
fn committed_files_match_builder() {
    let mut stale = Vec::new();
    for s in encrypted_front() {
        let bytes = s.build();
        assert!(bytes.len() < 1 << 20, "{} over 1 MB", s.name);
        let path = dir().join(format!("{}.pcap", s.name));
        if bless() {
            std::fs::create_dir_all(dir()).expect("sample directory");
            std::fs::write(&path, &bytes).expect("write sample");
        } else if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(stale.is_empty(), "rerun with ALBSCOPE_BLESS=1: {stale:?}");
}

/// The samples with goldens and the options they are analysed with: the builder's, and the
/// real recording (`tools/realcap/record_tls.sh front_only`, HAProxy's 5 s server timeout).
fn golden_samples() -> Vec<(String, Vec<&'static str>)> {
    let mut v: Vec<(String, Vec<&'static str>)> = encrypted_front()
        .iter()
        .map(|s| (s.name.to_string(), vec![]))
        .collect();
    v.push(("real_front_only".to_string(), vec!["--idle-timeout", "5"]));
    v
}

#[test]
fn reports_match_golden_files() {
    let mut problems = Vec::new();
    for (name, extra) in golden_samples() {
        let file = format!("samples/encrypted-front/{name}.pcap");
        for (format, ext) in [
            ("text", "txt"),
            ("json", "json"),
            ("markdown", "md"),
            ("html", "html"),
        ] {
            let mut args = vec!["--format", format];
            args.extend_from_slice(&extra);
            let out = analyze(&file, &args);
            assert_eq!(out.status.code(), Some(0), "{file} {format}");
            let path = dir().join(format!("{name}.expected.{ext}"));
            if bless() {
                std::fs::write(&path, &out.stdout).expect("write golden");
            } else if std::fs::read(&path).ok().as_deref() != Some(&out.stdout[..]) {
                problems.push(path.display().to_string());
            }
        }
    }
    assert!(problems.is_empty(), "differ from golden: {problems:?}");
}

/// The real recording without its keys, scored against the same recording decrypted with them
/// (`albscope_testkit::vantage_score`): every failed request is stated as not visible, said
/// undetermined with the right candidate, or proved; none is missed or wrong, none counted
/// twice.
#[test]
fn real_recording_without_keys_is_never_wrong() {
    use albscope_testkit::vantage_score::score;
    let file = "samples/encrypted-front/real_front_only.pcap";
    let keys = "samples/encrypted-front/real_front_only.keys";
    let truth = json(
        file,
        &["--all", "--idle-timeout", "5", "--tls-keylog", keys],
    );
    let seen = json(file, &["--all", "--idle-timeout", "5"]);
    assert_eq!(truth["summary"]["requests"], 10, "{}", truth["summary"]);
    assert_eq!(truth["summary"]["failed"], 5, "{}", truth["summary"]);
    let s = score(&truth, &seen);
    assert_eq!(
        (s.wrong, s.missed, s.extra, s.ok_missed),
        (0, 0, 0, 0),
        "{:?}",
        s.details
    );
    // client_closed proved; the 504 undetermined (may be the idle timeout); the target's two
    // 500s and HAProxy's 502 not visible
    assert_eq!(
        (s.proved, s.undetermined, s.not_visible),
        (1, 1, 3),
        "{:?}",
        s.details
    );
    assert_eq!(seen["summary"]["client_tls_failures"]["count"], 1);
    assert_eq!(
        seen["summary"]["client_tls_failures"]["first"][0]["alert"],
        "protocol_version"
    );
}

/// Truth: 3 ok, a target 500 and a refused connect (ALB 502) behind TLS, an idle timeout (the
/// ALB's 504 60 s after the request), a client that gave up, and a client whose handshake the
/// ALB refused. The front end proves the client giving up and the refused handshake, suggests
/// the idle timeout by timing, and cannot see the other five.
#[test]
fn the_headline_is_honest() {
    let v = json(
        "samples/encrypted-front/https-frontend-only.pcap",
        &["--all"],
    );
    let s = &v["summary"];
    assert_eq!(s["requests"], 7);
    assert_eq!(s["ok"], 0);
    assert_eq!(s["failed"], 2);
    assert_eq!(s["outcome_not_visible"], 5);
    assert_eq!(s["encrypted_front"]["connections"], 2);
    assert_eq!(s["encrypted_front"]["exchanges"], 5);
    assert_eq!(s["encrypted_front"]["http2_connections"], 0);
    assert_eq!(s["by_category"]["client_closed"]["count"], 1);
    assert_eq!(s["by_category"]["undetermined"]["count"], 1);
    // The refused handshake: no request, reported apart with the ALB's alert.
    assert_eq!(s["client_tls_failures"]["count"], 1);
    assert_eq!(
        s["client_tls_failures"]["first"][0]["alert"],
        "handshake_failure"
    );
    assert_eq!(s["client_tls_failures"]["first"][0]["alert_from"], "lb");
    let text = v["verdict"]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("the outcome of 5 is not visible")
            && text.contains("The front end is encrypted: 2 connections, 5 exchanges"),
        "{text}"
    );
    let reqs = v["requests"].as_array().expect("requests");
    let idle = reqs
        .iter()
        .find(|r| r["category"] == "undetermined" && r["outcome_not_visible"].is_null())
        .expect("the idle-timeout exchange");
    assert_eq!(idle["candidates"][0], "target_idle_timeout");
    assert_eq!(
        reqs.iter()
            .filter(|r| r["outcome_not_visible"] == true)
            .count(),
        5
    );
}

/// Not-visible outcomes are not failures: no `--fail-on` condition matches them, not even
/// `undetermined`.
#[test]
fn not_visible_outcomes_do_not_fail_the_run() {
    let file = "samples/https-split-addrs/client-side.pcap";
    let out = analyze(file, &["--fail-on", "undetermined,lb-5xx,any-5xx"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&analyze(file, &[]).stdout).to_string();
    assert!(
        text.contains(
            "Summary: 10 client requests (10 inferred from TLS records), 0 ok, 0 failed, 10 \
             outcome not visible"
        ),
        "{text}"
    );
    assert!(!text.contains("10 of 10"), "{text}");
}

/// HTTP/2 (the clients offer h2: an ALB selects it): the exchanges are not requests.
#[test]
fn http2_exchanges_are_not_requests() {
    use albscope_testkit::vantage::{cut_capture, AlbEndpoints};
    let bytes = std::fs::read("samples/http2-frontend.pcap").expect("sample");
    let whole = albscope_testkit::vantage_score::analyze_json("h2", &bytes, None);
    let alb = AlbEndpoints::from_analysis_json(&whole);
    let cut = cut_capture(&bytes, &alb).expect("cut");
    let v =
        albscope_testkit::vantage_score::analyze_json_told("h2", &cut.front_end, None, Some(&alb));
    let s = &v["summary"];
    assert_eq!(s["requests"], 0, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["encrypted_front"]["http2_connections"], 2, "{s}");
    assert!(
        s["encrypted_front"]["http2_exchanges"].as_u64() > Some(0),
        "{s}"
    );
    assert!(v["requests"].as_array().is_some_and(Vec::is_empty));
    let text = v["verdict"]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("requests cannot be counted from TLS records"),
        "{text}"
    );
}
