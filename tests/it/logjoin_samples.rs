//! Access-log join against the bundled samples: each `samples/<name>.pcap` with its
//! `samples/access-logs/<name>.log` (written by the synth builder; `ALBSCOPE_BLESS=1` rewrites
//! them), by trace id, by client ip:port + time when trace ids are stripped, with the
//! deliberate disagreements and gaps of `client_closed` and `mixed`.

use albscope::accesslog::LogReader;
use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::logjoin::{JoinMethod, JoinOptions, LogIndex};
use albscope::diagnose::{analyze_capture_with_log, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::taxonomy::Category;
use albscope_synth::scenarios::all;
use std::io::Cursor;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn log_path(name: &str) -> PathBuf {
    root().join("access-logs").join(format!("{name}.log"))
}

/// Analyses `samples/<name>.pcap` (ok requests kept) joined to the log `text`.
fn analyze(name: &str, text: &str) -> Analysis {
    let reader = LogReader::from_reader(
        &format!("{name}.log"),
        Box::new(Cursor::new(text.as_bytes().to_vec())),
    );
    let index = LogIndex::from_reader(reader, JoinOptions::default()).expect("log reads");
    let mut cap = CaptureReader::open(&[root().join(format!("{name}.pcap"))]).expect("open");
    analyze_capture_with_log(
        &mut cap,
        &PipelineConfig::default(),
        AlbConfig::default(),
        albscope::diagnose::Keep::new(true),
        Some(index),
    )
}

fn committed_log(name: &str) -> String {
    std::fs::read_to_string(log_path(name)).expect("committed access log")
}

/// Replaces every `"Root=..."` trace id of a log with `"-"`.
fn strip_trace_ids(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.split(' ')
                .map(|f| if f.starts_with("\"Root=") { "\"-\"" } else { f })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn committed_access_logs_match_builder() {
    let bless = std::env::var_os("ALBSCOPE_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for s in all() {
        let text = s.access_log();
        assert_eq!(text, s.access_log(), "{} log is not deterministic", s.name);
        if bless {
            std::fs::create_dir_all(root().join("access-logs")).expect("dir");
            std::fs::write(log_path(s.name), &text).expect("write log");
            continue;
        }
        if std::fs::read_to_string(log_path(s.name)).ok().as_deref() != Some(text.as_str()) {
            stale.push(s.name);
        }
    }
    assert!(
        stale.is_empty(),
        "access logs differ from the builder (rerun with ALBSCOPE_BLESS=1): {stale:?}"
    );
}

#[test]
fn every_line_is_a_well_formed_entry_of_the_documented_format() {
    for s in all() {
        let text = committed_log(s.name);
        let truth = s.expected();
        let extra = if s.name == "mixed" { 1 } else { 0 }; // +2 uncaptured, -1 lost
        assert_eq!(text.lines().count(), truth.len() + extra, "{}", s.name);
        for line in text.lines() {
            let e = albscope::accesslog::parse_line(line)
                .unwrap_or_else(|err| panic!("{}: {err}: {line}", s.name));
            assert_eq!(e.field_count, 33, "{line}");
            assert_eq!(e.elb, "app/alb-demo/1fa8b17e4c17e7c7");
            assert!(e.kind == "http" || e.kind == "https");
            let trace = e.trace_id.as_deref().unwrap_or("");
            assert!(trace.starts_with("Root=1-") && trace.len() == 40, "{trace}");
            assert!(
                e.request_creation_time.is_some_and(|c| c <= e.time),
                "{line}"
            );
            if e.target.is_some() {
                assert!(e.target_group_arn.is_some(), "{line}");
            }
        }
    }
}

#[test]
fn every_sample_joins_its_log() {
    for s in all() {
        let a = analyze(s.name, &committed_log(s.name));
        let j = a.access_log_join.as_ref().expect("join summary");
        assert_eq!(j.requests, a.summary.requests, "{}", s.name);
        assert_eq!(a.requests.len() as u64, a.summary.requests, "{}", s.name);
        for f in &a.requests {
            let by = f.logged.as_ref().map(|l| l.joined_by);
            let has_trace = f.trace_id.is_some();
            match (has_trace, f.client.is_some()) {
                // The mixed sample's lost line is the only trace-id request left over.
                (true, _) if s.name == "mixed" && by.is_none() => {
                    assert_eq!(f.category, Category::Ok, "{}: {}", s.name, f.id)
                }
                (true, _) => assert_eq!(by, Some(JoinMethod::TraceId), "{}: {}", s.name, f.id),
                (false, true) => {
                    assert_eq!(by, Some(JoinMethod::ClientTime), "{}: {}", s.name, f.id)
                }
                // Back end only and no request sent (failed connect): the one entry for that
                // target at that time.
                (false, false) => {
                    assert_eq!(by, Some(JoinMethod::TargetTime), "{}: {}", s.name, f.id)
                }
            }
            if let Some(l) = &f.logged {
                // The right line: same request target and, where the capture shows it, client.
                if let (Some(p), Some(r)) = (&f.path, &l.request) {
                    assert!(
                        r.contains(&format!("{p} HTTP/1.1"))
                            || r.contains(&format!("{p} HTTP/2.0")),
                        "{}: {r} vs {p}",
                        s.name
                    );
                }
                if let Some(c) = &f.client {
                    assert_eq!(l.client.to_string(), c.to_string(), "{}", s.name);
                }
                if let Some(t) = &f.target {
                    assert_eq!(
                        l.target.as_ref().map(|t| t.to_string()),
                        Some(t.to_string()),
                        "{}",
                        s.name
                    );
                }
                // The synthetic ALB logs what the capture shows, except that it logs a 460
                // when the client goes (before the target's late answer).
                if f.category == Category::ClientClosed {
                    assert!(!l.disagreements.is_empty(), "{}: {}", s.name, f.id);
                } else if s.name == "mirror-truncated"
                    && f.evidence.iter().any(|e| {
                        matches!(
                            e,
                            albscope::diagnose::Evidence::RequestNotReadable { .. }
                                | albscope::diagnose::Evidence::OpaqueRequestSent { .. }
                        )
                    })
                {
                    // The truncated mirror lost the back-end request: the capture's view says
                    // it was never sent (-1), the log knows better.
                    assert!(l.disagreements.iter().all(|d| {
                        albscope::report::disagreement_text(d).starts_with(
                            "request_processing_time: the log says 0.001 s, the capture shows \
                             the step never happened",
                        )
                    }));
                } else {
                    assert!(
                        l.disagreements.is_empty(),
                        "{}: {} {:?}",
                        s.name,
                        f.id,
                        l.disagreements
                    );
                }
            }
        }
        let lost = u64::from(s.name == "mixed");
        assert_eq!(j.requests_without_entry, lost, "{}", s.name);
        assert_eq!(
            j.joined,
            j.requests - j.requests_without_entry,
            "{}",
            s.name
        );
        let uncaptured = if s.name == "mixed" { 2 } else { 0 };
        assert_eq!(j.entries_without_request, uncaptured, "{}", s.name);
        assert_eq!(j.entries_outside_capture, 0, "{}", s.name);
    }
}

#[test]
fn without_trace_ids_the_join_falls_back_to_client_and_time() {
    for name in ["mixed", "target_idle_timeout", "tls-frontend", "healthy"] {
        let with = analyze(name, &committed_log(name));
        let without = analyze(name, &strip_trace_ids(&committed_log(name)));
        let j = without.access_log_join.as_ref().expect("summary");
        assert_eq!(j.joined_by_trace_id, 0, "{name}");
        let jw = with.access_log_join.as_ref().expect("summary");
        assert_eq!(j.joined, jw.joined, "{name}: same number joined");
        assert_eq!(j.joined_by_client_time, j.joined, "{name}");
        // The same line for every request.
        for (a, b) in with.requests.iter().zip(&without.requests) {
            assert_eq!(a.id, b.id);
            assert_eq!(
                a.logged.as_ref().map(|l| &l.source),
                b.logged.as_ref().map(|l| &l.source),
                "{name}: {}",
                a.id
            );
        }
    }
}

#[test]
fn disagreements_are_flagged() {
    // client_closed: the ALB logged 460 with no target status when the client went; the capture
    // shows the target's later 200.
    let a = analyze("client_closed", &committed_log("client_closed"));
    let f = a
        .requests
        .iter()
        .find(|f| f.category == Category::ClientClosed)
        .expect("client_closed request");
    let l = f.logged.as_ref().expect("joined");
    assert_eq!(l.elb_status_code, Some(460));
    let d = sentences(l).join("\n");
    assert!(d.contains("target_status_code: the log says -"), "{d}");
    assert!(d.contains("target_processing_time: the log says -1"), "{d}");
    assert_eq!(
        a.access_log_join.as_ref().map(|j| j.with_disagreements),
        Some(1)
    );

    // target_idle_timeout with a line as the target would log it (200 after 70 s) and a status
    // the ALB did not send.
    let text = committed_log("target_idle_timeout")
        .replace(" 0.000 -1 -1 504 - ", " 0.000 70.000 0.000 502 200 ");
    let a = analyze("target_idle_timeout", &text);
    let f = a
        .requests
        .iter()
        .find(|f| f.category == Category::TargetIdleTimeout)
        .expect("idle timeout request");
    let d = sentences(f.logged.as_deref().expect("joined")).join("\n");
    assert!(
        d.contains("elb_status_code: the log says 502, the capture shows 504"),
        "{d}"
    );
    assert!(d.contains("target_status_code: the log says 200"), "{d}");
    assert!(d.contains("idle timeout"), "{d}");
    assert!(d.contains("response_processing_time"), "{d}");

    // A processing time beyond the tolerance.
    let text = committed_log("target_generated_error").replacen(
        " 0.008 0.000 504 504 ",
        " 0.508 0.000 504 504 ",
        1,
    );
    let a = analyze("target_generated_error", &text);
    let all_d: Vec<String> = a
        .requests
        .iter()
        .filter_map(|f| f.logged.as_deref())
        .flat_map(sentences)
        .collect();
    assert_eq!(all_d.len(), 1, "{all_d:?}");
    assert!(
        all_d[0].starts_with("target_processing_time: the log says 0.508 s, the capture 0.008 s")
    );
}

#[test]
fn unjoined_requests_and_entries_are_counted_and_listed() {
    let a = analyze("mixed", &committed_log("mixed"));
    let j = a.access_log_join.as_ref().expect("summary");
    assert_eq!(j.requests_without_entry, 1);
    assert_eq!(j.unlogged_requests.len(), 1);
    assert_eq!(j.entries_without_request, 2);
    let clients: Vec<String> = j
        .uncaptured_entries
        .iter()
        .map(|e| e.client.to_string())
        .collect();
    assert_eq!(clients, ["198.51.100.7:51234", "54.206.12.90:61002"]);
    assert!(j
        .uncaptured_entries
        .iter()
        .all(|e| e.source.starts_with("mixed.log:")));

    // A log of another day: nothing joins, everything is outside the capture's time span.
    let shifted = committed_log("keepalive_race").replace("2025-12-11T", "2025-12-12T");
    let a = analyze("keepalive_race", &strip_trace_ids(&shifted));
    let j = a.access_log_join.as_ref().expect("summary");
    assert_eq!(j.joined, 0);
    assert_eq!(j.requests_without_entry, j.requests);
    assert_eq!(j.entries_without_request, 0);
    assert_eq!(j.entries_outside_capture, j.entries);

    // Malformed lines are skipped and counted.
    let noisy = format!("not a log line\n{}", committed_log("keepalive_race"));
    let a = analyze("keepalive_race", &noisy);
    let j = a.access_log_join.as_ref().expect("summary");
    assert_eq!(j.malformed_lines, 1);
    assert_eq!(j.joined, j.requests);
}

/// The disagreements of a joined line, as the reports word them.
fn sentences(l: &albscope::diagnose::logjoin::LoggedEntry) -> Vec<String> {
    l.disagreements
        .iter()
        .map(albscope::report::disagreement_text)
        .collect()
}
