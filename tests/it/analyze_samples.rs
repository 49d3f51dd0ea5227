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
    let dir = crate::scratch::dir("analyze");
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
        // An `undetermined` finding counts as its true category when that is one of its
        // candidates (the capture cannot tell them apart, and says so); one that names no
        // status (the client's answer not seen: it may have got nothing) claims none.
        let mut got: Vec<Row> = a
            .requests
            .iter()
            .map(|r| {
                let client = key(&r.client.map_or("?".to_string(), |c| c.to_string()));
                let status = opt(r.status);
                let claims_none = r.status.is_none() && r.generated_by.is_none();
                let found = want.iter().find(|w| {
                    r.category == Category::Undetermined
                        && w.0 == client
                        && ((w.2 == status && w.3 == r.generated_by) || claims_none)
                        && r.candidates.contains(&w.1)
                });
                match found {
                    Some(w) => (client, w.1, w.2.clone(), w.3),
                    None => (client, r.category, status, r.generated_by),
                }
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

/// Issue 12: seen from the targets' side, health checks are never client requests, also when
/// they fail (a SYN answered by RST every 10 s: nothing listens) or run over TLS (one short
/// TLS connection every 10 s). A client request refused once is still a client request.
#[test]
fn health_checks_from_the_targets_side_are_not_client_requests() {
    use albscope_synth::alb::{Outcome, Req, Target, Vantage, World, WorldCfg, EPOCH};
    use albscope_synth::http::ServerKind;
    use albscope_synth::tcp::{MS, SEC};
    let mut w = World::new(WorldCfg {
        vantage: Vantage::Target,
        ..Default::default()
    });
    let n = w.add_node([10, 0, 1, 25], 1001);
    let up = w.add_target(Target::new(
        "10.0.2.15:80".parse().expect("addr"),
        ServerKind::Apache,
    ));
    let down = w.add_target(Target::new(
        "10.0.2.37:8080".parse().expect("addr"),
        ServerKind::Express,
    ));
    let mut secure = Target::new("10.0.2.50:443".parse().expect("addr"), ServerKind::Nginx);
    secure.tls = true;
    let secure = w.add_target(secure);
    w.health_checks(n, up, EPOCH, EPOCH + 60 * SEC, 10 * SEC);
    w.health_checks_refused(n, down, EPOCH + 2 * SEC, EPOCH + 60 * SEC, 10 * SEC);
    w.health_checks(n, secure, EPOCH + 4 * SEC, EPOCH + 60 * SEC, 10 * SEC);
    let f = w.open("198.51.100.7".parse().expect("ip"), n, EPOCH + 25 * SEC);
    w.request(
        f,
        EPOCH + 25 * SEC + MS,
        &Req::get("/"),
        down,
        Outcome::Refused,
    );
    w.finish(EPOCH + 70 * SEC);
    let path = tmp_file("health-checks-target-side", &w.to_pcap());
    let a = analyze(&path, true);
    let _ = std::fs::remove_file(&path);
    let checks_of = |t: &str| {
        a.health_checks
            .by_target
            .iter()
            .find(|(k, _)| format!("{k:?}").contains(t))
            .map_or(0, |(_, v)| v.checks)
    };
    assert_eq!(checks_of("10.0.2.15"), 6, "{:?}", a.health_checks);
    assert_eq!(checks_of("10.0.2.37"), 6, "{:?}", a.health_checks);
    assert_eq!(checks_of("10.0.2.50"), 6, "{:?}", a.health_checks);
    assert_eq!(a.health_checks.failed, 6, "{:?}", a.health_checks);
    let cats: Vec<Category> = a.requests.iter().map(|r| r.category).collect();
    assert_eq!(
        cats,
        vec![Category::TargetConnectRefused],
        "{:#?}",
        a.requests
    );
}

/// A target that answers `Connection: close` and closes 1.5 s later honours its own header: no
/// keep-alive timeout is read from that close, no race risk named, and the ALB's next request
/// (on a new connection) is judged on its own.
#[test]
fn a_close_after_connection_close_is_no_keepalive_timer() {
    let a = analyze(Path::new("samples/connection_close.pcap"), false);
    assert!(
        a.targets.iter().all(|t| t.keepalive_timeout.is_none()),
        "{:?}",
        a.targets
    );
    let v = albscope::diagnose::verdict::Verdict::of(&a);
    assert!(v.risks.is_empty(), "{:?}", v.risks);
    let cats: Vec<Category> = a.requests.iter().map(|r| r.category).collect();
    assert_eq!(cats, vec![Category::TargetClosedBeforeResponse]);
    assert!(a.requests.iter().all(|r| r
        .evidence
        .iter()
        .all(|e| !matches!(e, albscope::diagnose::Evidence::KeepaliveMatches { .. }))));
}

/// `frontend-syn-unanswered` (clients' ENIs): a client's SYNs to the listener that never got
/// an answer made no request and no log line, but are stated (undetermined: the capture cannot
/// tell a security group or network ACL drop from a node address gone or no listener), apart
/// from the requests, which they do not change.
#[test]
fn front_end_alone_states_a_connect_the_listener_never_answered() {
    let a = analyze(Path::new("samples/frontend-syn-unanswered.pcap"), true);
    let s = &a.summary;
    assert_eq!((s.requests, s.failed), (4, 1));
    assert_eq!(s.listener_silent, 1);
    let silent = s.listener_silent_list.first().expect("listed");
    assert_eq!(silent.client.ip.to_string(), "10.0.5.38");
    assert_eq!(silent.alb.to_string(), "10.0.1.25:80");
    assert_eq!(silent.syns, 5);
    // one SYN alone (the capture ends before any retransmission) is not stated
    let (bytes, _) = scenarios::all()
        .into_iter()
        .find(|s| s.name == "frontend-syn-unanswered")
        .expect("scenario")
        .build_with_truth();
    let mut healthy_cut = 0;
    for n in 1..=bytes.len() {
        // cut after each packet: a SYN record is 16 + frame bytes; stop at whole packets only
        let Some(cut) = whole_packets(&bytes, n) else {
            break;
        };
        let path = tmp_file("syn-unanswered-cut", &cut);
        let b = analyze(&path, true);
        if let Some(f) = b.summary.listener_silent_list.first() {
            assert!(f.syns >= 2, "cut {n}: {f:?}");
        } else {
            healthy_cut += 1;
        }
    }
    assert!(healthy_cut > 0);
}

/// The first `n` packets of a little-endian classic pcap, `None` past its end.
fn whole_packets(bytes: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut end = 24;
    for _ in 0..n {
        let len = bytes.get(end + 8..end + 12)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        end += 16 + len;
    }
    bytes.get(..end).map(<[u8]>::to_vec)
}
