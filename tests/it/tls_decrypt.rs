//! TLS decryption with a key log: whole synthetic sessions of every supported suite (cut into
//! segments, with gaps and damage), and the real recordings in `samples/tls/` cross-checked
//! against tshark (`-o tls.keylog_file:`) when it is installed.

use albscope::protocol::{DecryptStatus, KeyLog};
use albscope_testkit::tls_sessions::{
    drive, tls_streams, tls_streams_with, Cut, TlsStreams, SUITES,
};
use std::path::Path;
use std::process::Command;

fn exchanges(n: usize, body: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let req = format!("GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes();
            let status = if i % 2 == 0 { 200 } else { 503 };
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {body}\r\n\r\n{}",
                "z".repeat(body)
            )
            .into_bytes();
            (req, resp)
        })
        .collect()
}

fn session(suite: u16, n: usize, body: usize, record: usize) -> TlsStreams {
    tls_streams(suite, 7, &exchanges(n, body), record).expect("supported suite")
}

#[test]
fn every_suite_decrypts_whatever_the_segmentation() {
    for suite in SUITES {
        for seg in [1, 7, 100, usize::MAX] {
            let s = session(suite, 3, 500, 200);
            let d = drive(&s, &s.keys, &[Cut::Segments(seg)]);
            assert_eq!(
                d.statuses,
                vec![200, 503, 200],
                "suite {suite:#06x} seg {seg}"
            );
            assert_eq!(d.decrypted_exchanges, 3);
            let info = d
                .record
                .and_then(|r| r.decryption)
                .expect("decryption info");
            assert_eq!(info.status, DecryptStatus::Decrypted);
            assert_eq!(info.failures, 0);
        }
    }
}

/// An HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HTTP/2 connection (client bytes, server bytes) in two rounds: streams 1 and 3 opened at
/// once (GET / and GET /index.html, HPACK static entries), stream 1 answered 200 with a body,
/// then stream 3 answered 500 in the next round.
fn h2_rounds() -> Vec<(Vec<u8>, Vec<u8>)> {
    const END_STREAM: u8 = 0x1;
    const END_HEADERS: u8 = 0x4;
    let mut c1 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    c1.extend(h2_frame(4, 0, 0, &[]));
    c1.extend(h2_frame(
        1,
        END_STREAM | END_HEADERS,
        1,
        &[0x82, 0x84, 0x86],
    ));
    c1.extend(h2_frame(
        1,
        END_STREAM | END_HEADERS,
        3,
        &[0x82, 0x85, 0x86],
    ));
    let mut s1 = h2_frame(4, 0, 0, &[]);
    s1.extend(h2_frame(4, 0x1, 0, &[]));
    s1.extend(h2_frame(1, END_HEADERS, 1, &[0x88]));
    s1.extend(h2_frame(0, END_STREAM, 1, &[b'z'; 300]));
    let c2 = h2_frame(4, 0x1, 0, &[]);
    let s2 = h2_frame(1, END_STREAM | END_HEADERS, 3, &[0x8e]);
    vec![(c1, s1), (c2, s2)]
}

#[test]
fn http2_inside_tls13_is_parsed_one_exchange_per_stream_whatever_the_segmentation() {
    // The inner protocol is found by the preface (these sessions negotiate no ALPN).
    for suite in [0x1301, 0x1303] {
        for record in [5, 64, 16_000] {
            for seg in [1, 7, 100, usize::MAX] {
                let s = tls_streams(suite, 9, &h2_rounds(), record).expect("suite");
                let d = drive(&s, &s.keys, &[Cut::Segments(seg)]);
                let at = format!("suite {suite:#06x} record {record} seg {seg}");
                assert_eq!(d.statuses, vec![200, 500], "{at}");
                assert_eq!(d.decrypted_exchanges, 2, "{at}");
                let r = d.record.expect("closed");
                assert!(r.unfinished.is_empty(), "{at}");
                let info = r.decryption.expect("info");
                assert_eq!(info.status, DecryptStatus::Decrypted, "{at}");
                assert!(info.parsed, "{at}");
                assert_eq!(info.failures, 0, "{at}");
            }
        }
    }
}

#[test]
fn http2_inside_tls_survives_a_lost_record() {
    // The server's first application record (SETTINGS, SETTINGS ACK, stream 1's HEADERS) is
    // lost in a gap: both streams still come out as exchanges, stream 1 without its status.
    let s = tls_streams(0x1301, 9, &h2_rounds(), 64).expect("suite");
    let mut cuts = vec![Cut::Segments(usize::MAX); 4];
    cuts.extend([Cut::Segments(30), Cut::Gap(40), Cut::Segments(usize::MAX)]);
    let d = drive(&s, &s.keys, &cuts);
    assert_eq!(d.statuses.len(), 2, "{:?}", d.statuses);
    assert_eq!(d.statuses.first(), Some(&0), "{:?}", d.statuses);
    let info = d.record.expect("closed").decryption.expect("info");
    assert!(info.parsed);
    assert_eq!(info.failures, 0);
    assert_eq!(info.lost_records, 1);
}

#[test]
fn tls13_key_updates_are_followed() {
    for suite in [0x1301, 0x1302, 0x1303] {
        let s = tls_streams_with(suite, 5, &exchanges(3, 300), 128, true).expect("suite");
        let d = drive(&s, &s.keys, &[Cut::Segments(50)]);
        assert_eq!(d.statuses, vec![200, 503, 200], "suite {suite:#06x}");
        let info = d.record.and_then(|r| r.decryption).expect("info");
        assert_eq!(info.key_updates, 6, "suite {suite:#06x}");
        assert_eq!(info.failures, 0);
    }
}

#[test]
fn a_gap_inside_a_record_loses_that_record_only() {
    for suite in SUITES {
        // Records of 200 plaintext bytes; the second response's body loses 50 bytes inside
        // one record: its framing is kept, the next exchange reads on.
        let s = session(suite, 3, 1000, 200);
        let mut cuts = Vec::new();
        let mut pieces = 0;
        for (i, (_, bytes)) in s.pieces.iter().enumerate() {
            if i == s.pieces.len() - 3 {
                // The second response: 300 bytes, a 50-byte gap, the rest.
                cuts.extend([Cut::Segments(300), Cut::Gap(50), Cut::Segments(bytes.len())]);
            } else {
                cuts.push(Cut::Segments(bytes.len()));
            }
            pieces += 1;
        }
        assert!(pieces > 3);
        let d = drive(&s, &s.keys, &cuts);
        assert_eq!(d.statuses, vec![200, 503, 200], "suite {suite:#06x}");
        let info = d.record.and_then(|r| r.decryption).expect("info");
        assert_eq!(info.lost_records, 1, "suite {suite:#06x}");
        assert_eq!(info.resyncs, 0);
    }
}

#[test]
fn a_gap_across_record_headers_resynchronises_at_the_next_record() {
    for suite in SUITES {
        let s = session(suite, 3, 3000, 256);
        let mut cuts = Vec::new();
        for (i, (_, bytes)) in s.pieces.iter().enumerate() {
            if i == s.pieces.len() - 3 {
                // 1000 bytes gone across several records of the second response.
                cuts.extend([
                    Cut::Segments(600),
                    Cut::Gap(1000),
                    Cut::Segments(bytes.len()),
                ]);
            } else {
                cuts.push(Cut::Segments(bytes.len()));
            }
        }
        let d = drive(&s, &s.keys, &cuts);
        assert_eq!(d.statuses, vec![200, 503, 200], "suite {suite:#06x}");
        let info = d.record.and_then(|r| r.decryption).expect("info");
        assert_eq!(info.resyncs, 1, "suite {suite:#06x}");
        assert!(info.lost_records >= 3, "{info:?}");
        assert!(info.unsynced.is_empty());
    }
}

#[test]
fn a_gap_of_more_records_than_are_tried_leaves_the_rest_opaque_and_says_so() {
    // Records of 16 plaintext bytes: a 6000-byte gap loses more records than the sequence
    // numbers tried after it; the search gives up after a bounded number of headers.
    let s = session(0x1301, 3, 12_000, 16);
    let mut cuts = Vec::new();
    for (i, (_, bytes)) in s.pieces.iter().enumerate() {
        if i == s.pieces.len() - 3 {
            cuts.extend([
                Cut::Segments(300),
                Cut::Gap(6000),
                Cut::Segments(bytes.len()),
            ]);
        } else {
            cuts.push(Cut::Segments(bytes.len()));
        }
    }
    let d = drive(&s, &s.keys, &cuts);
    let info = d.record.and_then(|r| r.decryption).expect("info");
    assert_eq!(
        info.unsynced,
        vec![albscope::flow::Dir::ToClient],
        "{info:?}"
    );
    assert_eq!(d.statuses.first(), Some(&200));
}

#[test]
fn wrong_or_missing_keys_leave_the_connection_opaque_and_say_why() {
    for suite in SUITES {
        let s = session(suite, 2, 100, 200);
        // Another session's keys: no line for this one.
        let other = tls_streams(suite, 99, &exchanges(1, 10), 10).expect("suite");
        let mut wrong = KeyLog::default();
        wrong.merge(&other.keys);
        let d = drive(&s, &wrong, &[]);
        assert_eq!(d.decrypted_exchanges, 0);
        let info = d.record.and_then(|r| r.decryption).expect("info");
        assert_eq!(
            info.status,
            DecryptStatus::KeysMissing,
            "suite {suite:#06x}"
        );
        // Damaged records: counted as failures, never a panic.
        let cuts: Vec<Cut> = (0..400)
            .map(|i| {
                if i % 17 == 16 {
                    Cut::Flip
                } else {
                    Cut::Segments(13)
                }
            })
            .collect();
        let d = drive(&s, &s.keys, &cuts);
        let info = d.record.and_then(|r| r.decryption).expect("info");
        assert!(info.failures > 0 || info.resyncs > 0, "{info:?}");
    }
}

/// A sample with its key log: `samples/tls/<name>.pcap` (or `.pcapng`) and `<name>.keys`.
const SAMPLES: &[(&str, &str)] = &[
    ("tls13_h1.pcap", "tls13_h1.keys"),
    ("tls12_h1.pcap", "tls12_h1.keys"),
    ("https_backend.pcap", "https_backend.keys"),
    ("tls_gap.pcap", "tls_gap.keys"),
    ("tls13_dsb.pcapng", ""),
    ("tls13_h2.pcap", "tls13_h2.keys"),
];

fn albscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(args)
        .output()
        .expect("albscope runs")
}

fn dir() -> &'static Path {
    Path::new("samples/tls")
}

fn analyze_json(pcap: &str, keys: &str) -> serde_json::Value {
    let p = dir().join(pcap);
    let k = dir().join(keys);
    let mut args = vec![
        "analyze",
        "--idle-timeout",
        "5",
        "--all",
        "--format",
        "json",
        "--no-progress",
    ];
    if !keys.is_empty() {
        args.extend(["--tls-keylog", k.to_str().unwrap()]);
    }
    args.push(p.to_str().unwrap());
    let out = albscope(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn samples_are_decrypted_and_the_failing_request_is_diagnosed() {
    for (pcap, keys) in SAMPLES {
        let a = analyze_json(pcap, keys);
        let reqs = a["requests"].as_array().expect("requests");
        assert!(!reqs.is_empty(), "{pcap}");
        for r in reqs {
            assert!(
                r["decrypted"].as_array().is_some_and(|l| !l.is_empty()),
                "{pcap}: {r}"
            );
            assert!(r["method"].is_string(), "{pcap}");
        }
        let p = &a["stats"]["protocol"];
        assert_eq!(p["tls_decrypted"], p["tls_connections"], "{pcap}");
        if *pcap == "tls13_h2.pcap" {
            // HTTP/2 front end: the target resets one stream's request (HAProxy refuses the
            // stream), and answers another with garbage (the ALB's 502, read from the stream).
            assert!(reqs
                .iter()
                .any(|r| r["category"] == "target_closed_before_response"));
            assert!(reqs
                .iter()
                .any(|r| r["category"] == "malformed_response" && r["status"] == 502));
        } else if *pcap != "tls_gap.pcap" {
            // The target resets one request; the ALB's 502 is read from the decrypted leg.
            assert!(
                reqs.iter().any(|r| r["category"] == "target_closed_before_response"
                    && r["status"] == 502),
                "{pcap}"
            );
        }
    }
}

#[test]
fn without_keys_the_samples_stay_opaque_and_wrong_keys_say_so() {
    let a = analyze_json("tls13_h1.pcap", "");
    assert!(a["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["decrypted"].is_null()));
    let a = analyze_json("tls13_h1.pcap", "tls12_h1.keys");
    assert_eq!(a["stats"]["protocol"]["tls_keys_missing"], 3);
}

#[test]
fn http2_streams_in_tls_pair_with_the_back_end_requests_found_without_keys() {
    // Without keys the clear-text back end shows every request; with keys each front-end
    // HTTP/2 stream pairs with its back-end HTTP/1.1 request by headers: the same requests,
    // none counted twice, the same categories.
    let rows = |a: &serde_json::Value| {
        let mut v: Vec<(String, String)> = a["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .map(|r| {
                let path = r["path"].as_str().unwrap_or_default().to_string();
                (path, r["category"].as_str().unwrap_or_default().to_string())
            })
            .collect();
        v.sort();
        v
    };
    let without = analyze_json("tls13_h2.pcap", "");
    let with = analyze_json("tls13_h2.pcap", "tls13_h2.keys");
    assert_eq!(rows(&without).len(), 5);
    assert_eq!(rows(&with), rows(&without));
    for r in with["requests"].as_array().expect("requests") {
        assert_eq!(r["pairing"], "headers", "{r}");
        assert_eq!(r["decrypted"], serde_json::json!(["front"]), "{r}");
    }
    assert!(without["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .all(|r| r["decrypted"].is_null()));
}

#[test]
fn malformed_key_log_lines_are_reported_with_file_and_line() {
    let tmp = crate::scratch::dir("tls").join("bad.keys");
    let good = std::fs::read_to_string(dir().join("tls13_h1.keys")).unwrap();
    std::fs::write(&tmp, format!("garbage line\n{good}CLIENT_RANDOM 00 11\n")).unwrap();
    let p = dir().join("tls13_h1.pcap");
    let out = albscope(&[
        "flows",
        "--format",
        "json",
        "--tls-keylog",
        tmp.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&tmp);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let name = tmp.display().to_string();
    assert!(
        err.contains(&format!("{name}:1: not a key log line")),
        "{err}"
    );
    let last = good.lines().count() + 2;
    assert!(
        err.contains(&format!("{name}:{last}: the client random")),
        "{err}"
    );
    let flows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let decrypted = flows
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tls"]["decrypted"] == true)
        .count();
    assert_eq!(decrypted, 3);
}

/// Requests (client port, server port, uri) and responses (client port, server port, status).
type Rows = (Vec<(u16, u16, String)>, Vec<(u16, u16, u16)>);

/// (client port, server port, uri or status) rows of every decrypted HTTP request and response,
/// as tshark reads them; `None` when tshark is not installed.
fn tshark_rows(pcap: &Path, keys: &Path) -> Option<Rows> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keys.display()))
        .args([
            "-Y",
            "tls && (http.request || http.response)",
            "-T",
            "fields",
        ])
        .args(["-e", "tcp.srcport", "-e", "tcp.dstport"])
        .args(["-e", "http.request.uri", "-e", "http.response.code"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut reqs = Vec::new();
    let mut resps = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let port = |i: usize| f.get(i).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
        match (f.get(2), f.get(3)) {
            (Some(uri), _) if !uri.is_empty() => reqs.push((port(0), port(1), uri.to_string())),
            (_, Some(code)) if !code.is_empty() => {
                resps.push((port(1), port(0), code.parse().unwrap_or(0)))
            }
            _ => {}
        }
    }
    Some((reqs, resps))
}

/// The same rows for HTTP/2 inside TLS: `:path` of every HEADERS frame from the client and
/// `:status` of every HEADERS frame from the server (several streams' frames share a packet:
/// tshark lists their fields comma-separated); `None` when tshark is not installed.
fn tshark_h2_rows(pcap: &Path, keys: &Path) -> Option<Rows> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keys.display()))
        .args(["-Y", "tls && http2.type==1", "-T", "fields"])
        .args(["-e", "tcp.srcport", "-e", "tcp.dstport"])
        .args(["-e", "http2.headers.path", "-e", "http2.headers.status"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut reqs = Vec::new();
    let mut resps = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let port = |i: usize| f.get(i).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
        let list = |i: usize| {
            f.get(i)
                .map(|v| v.split(',').filter(|x| !x.is_empty()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        for path in list(2) {
            reqs.push((port(0), port(1), path.to_string()));
        }
        for code in list(3) {
            resps.push((port(1), port(0), code.parse().unwrap_or(0)));
        }
    }
    Some((reqs, resps))
}

/// The same rows from albscope's decrypted exchanges (library pipeline, every leg).
fn albscope_rows(pcap: &Path, keys: &Path) -> Rows {
    use albscope::capture::{CaptureReader, Timestamp};
    use albscope::pipeline::{run_app, Clock, PipelineConfig};
    use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange};
    #[derive(Default)]
    struct Collect(Vec<(u16, u16, String)>, Vec<(u16, u16, u16)>);
    impl Collect {
        fn add(&mut self, c: u16, s: u16, ex: &HttpExchange) {
            if let Some(r) = &ex.request {
                self.0.push((c, s, r.target().to_string()));
            }
            if let Some(r) = &ex.response {
                self.1.push((c, s, r.status));
            }
        }
    }
    impl AppSink for Collect {
        fn exchange(&mut self, conn: &ConnContext, ex: HttpExchange) {
            if conn.decrypted {
                self.add(conn.key.client.port, conn.key.server.port, &ex);
            }
        }
        fn closed(&mut self, r: ConnectionRecord) {
            if r.decryption.as_ref().is_some_and(|d| d.plaintext_bytes > 0) {
                for ex in &r.unfinished {
                    self.add(r.tcp.key.client.port, r.tcp.key.server.port, ex);
                }
            }
        }
    }
    impl Clock for Collect {
        fn tick(&mut self, _: Timestamp) {}
    }
    let mut log = KeyLog::default();
    log.add_text("k", &std::fs::read(keys).unwrap());
    let mut config = PipelineConfig::default();
    config.protocol.keys = std::sync::Arc::new(log);
    let mut reader = CaptureReader::open(&[pcap]).unwrap();
    let mut rows = Collect::default();
    run_app(&mut reader, &config, &mut rows);
    (rows.0, rows.1)
}

#[test]
fn tshark_and_albscope_agree_on_decrypted_requests_and_statuses() {
    let mut checked = 0;
    for (pcap, keys) in SAMPLES.iter().filter(|(_, k)| !k.is_empty()) {
        let (p, k) = (dir().join(pcap), dir().join(keys));
        let Some((mut t_req, mut t_resp)) = tshark_rows(&p, &k) else {
            eprintln!("tshark not installed: skipped");
            return;
        };
        let Some((h2_req, h2_resp)) = tshark_h2_rows(&p, &k) else {
            eprintln!("tshark not installed: skipped");
            return;
        };
        t_req.extend(h2_req);
        t_resp.extend(h2_resp);
        let (mut a_req, mut a_resp) = albscope_rows(&p, &k);
        for v in [&mut t_req, &mut a_req] {
            v.sort();
        }
        for v in [&mut t_resp, &mut a_resp] {
            v.sort();
        }
        assert_eq!(a_req, t_req, "{pcap}: requests");
        if *pcap == "tls_gap.pcap" {
            // tshark reads no response after the gap (its TLS stream stops there); albscope
            // finds the records again: every response tshark read, albscope read too.
            assert!(t_resp.iter().all(|r| a_resp.contains(r)), "{pcap}");
            assert_eq!(a_resp.len(), a_req.len(), "{pcap}: {a_resp:?}");
        } else {
            assert_eq!(a_resp, t_resp, "{pcap}: statuses");
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// Text and JSON reports of each sample analysed with its keys (`--idle-timeout 5`), against
/// `samples/tls/<name>.expected.txt` / `.expected.json` (`ALBSCOPE_BLESS=1` rewrites them).
#[test]
fn sample_reports_match_golden_files() {
    use albscope::alb::AlbConfig;
    use albscope::capture::{CaptureReader, Duration};
    use albscope::diagnose::analyze_capture;
    use albscope::pipeline::PipelineConfig;
    use albscope::report::expected_report;
    let bless = std::env::var_os("ALBSCOPE_BLESS").is_some();
    let mut problems = Vec::new();
    for (pcap, keys) in SAMPLES {
        let mut config = PipelineConfig::default();
        if !keys.is_empty() {
            let mut log = KeyLog::default();
            log.add_text(keys, &std::fs::read(dir().join(keys)).expect("keys"));
            config.protocol.keys = std::sync::Arc::new(log);
        }
        let mut reader = CaptureReader::open(&[dir().join(pcap)]).expect("sample");
        let alb = AlbConfig {
            idle_timeout: Some(Duration::from_millis(5_000)),
            ..AlbConfig::default()
        };
        let a = analyze_capture(&mut reader, &config, alb, true);
        let stem = pcap.split('.').next().unwrap_or(pcap);
        for (ext, json) in [("expected.txt", false), ("expected.json", true)] {
            let body = expected_report(&a, json).expect("report");
            let path = dir().join(format!("{stem}.{ext}"));
            if bless {
                std::fs::write(&path, &body).expect("write golden");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(body.as_str()) {
                problems.push(format!(
                    "{} differs (ALBSCOPE_BLESS=1 rewrites it)",
                    path.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
