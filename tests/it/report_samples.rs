//! End-to-end checks of the report layer on `samples/*.pcap`: the CloudWatch/per-target metrics
//! agree with the per-request results, the Markdown reports match their golden files
//! (`ALBSCOPE_BLESS=1 cargo test` rewrites them), and every failed request extracted to a slice
//! re-analyses to the same finding (and opens in tshark when it is installed).

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::metrics::response_time;
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::slice::{alb_addresses, safe_name, write_slices, SliceSpec};
use albscope::report::write_markdown;
use albscope::taxonomy::{Category, GeneratedBy};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `samples/*.pcap` (synthetic) and `samples/real/*.pcap` (recorded), sorted.
fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    for dir in ["samples", "samples/real"] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        v.extend(
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .map(|p| Path::new(dir).join(p.file_name().unwrap())),
        );
    }
    v.sort();
    assert!(v.len() >= 20, "samples missing: {v:?}");
    v
}

fn analyze(path: &Path, keep_ok: bool) -> Analysis {
    let mut r = CaptureReader::open(&[path]).expect("open capture");
    analyze_capture(
        &mut r,
        &PipelineConfig::default(),
        AlbConfig::default(),
        keep_ok,
    )
}

fn nearest_rank(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).max(1);
    v.get(rank - 1).copied()
}

#[test]
fn metrics_agree_with_the_per_request_results() {
    let mut total_requests = 0;
    for p in samples() {
        let a = analyze(&p, true);
        let name = p.display();
        let cw = &a.metrics.cloudwatch.counts;
        let reqs = &a.requests;
        total_requests += reqs.len();
        assert_eq!(cw.request_count as usize, reqs.len(), "{name}");
        assert_eq!(cw.request_count, a.summary.requests, "{name}");
        let lb = |code: Option<u16>| {
            reqs.iter()
                .filter(|f| f.generated_by == Some(GeneratedBy::Lb))
                .filter(|f| match code {
                    Some(c) => f.status == Some(c),
                    None => f.status.is_some_and(|s| (500..600).contains(&s)),
                })
                .count() as u64
        };
        assert_eq!(cw.elb_502, lb(Some(502)), "{name} ELB 502");
        assert_eq!(cw.elb_504, lb(Some(504)), "{name} ELB 504");
        assert_eq!(cw.elb_5xx, lb(None), "{name} ELB 5xx");
        let target = |class: u16| {
            reqs.iter()
                .filter(|f| {
                    f.access_log
                        .target_status_code
                        .is_some_and(|s| s / 100 == class)
                })
                .count() as u64
        };
        assert_eq!(
            (cw.target_2xx, cw.target_3xx, cw.target_4xx, cw.target_5xx),
            (target(2), target(3), target(4), target(5)),
            "{name} target codes"
        );
        let cats =
            |cs: &[Category]| reqs.iter().filter(|f| cs.contains(&f.category)).count() as u64;
        assert_eq!(
            cw.target_connection_errors,
            cats(&[
                Category::TargetConnectRefused,
                Category::TargetUnreachableIcmp,
                Category::TargetConnectTimeout
            ]),
            "{name}"
        );
        assert_eq!(
            cw.target_tls_errors,
            cats(&[
                Category::TargetTlsHandshakeFailed,
                Category::TargetTlsHandshakeTimeout
            ]),
            "{name}"
        );
        let mut rts: Vec<f64> = reqs.iter().filter_map(response_time).collect();
        let rt = &a.metrics.cloudwatch.target_response_time;
        assert_eq!(rt.count as usize, rts.len(), "{name}");
        for (q, got) in [
            (0.5, rt.p50.map(|d| d.as_secs_f64())),
            (0.9, rt.p90.map(|d| d.as_secs_f64())),
            (0.99, rt.p99.map(|d| d.as_secs_f64())),
            (1.0, rt.max.map(|d| d.as_secs_f64())),
        ] {
            match (nearest_rank(&mut rts, q), got) {
                (None, None) => {}
                (Some(e), Some(g)) => {
                    assert!(
                        (g - e).abs() <= e * 0.01 + 2e-6,
                        "{name} p{q}: {g} vs exact {e}"
                    )
                }
                other => panic!("{name} p{q}: {other:?}"),
            }
        }
        // Per target and per reuse class: the same totals as the summary.
        for (t, s) in &a.summary.by_target {
            let m = &a.metrics.by_target[t];
            assert_eq!(
                (m.all.requests, m.all.failed),
                (s.requests, s.failed),
                "{name} {t:?}"
            );
            let split = m.fresh.requests + m.reused.requests;
            let want = if *t == albscope::diagnose::TargetRow::NoTarget {
                0
            } else {
                m.all.requests
            };
            assert_eq!(split, want, "{name} {t:?}: fresh + reused");
        }
        let by_conn: u64 = a.metrics.by_connection.values().map(|g| g.requests).sum();
        assert_eq!(by_conn, a.summary.requests, "{name}");
        // Accumulated over every request, whether or not ok ones are kept.
        assert_eq!(analyze(&p, false).metrics, a.metrics, "{name}");
    }
    assert!(
        total_requests > 150,
        "the samples hold requests: {total_requests}"
    );
}

#[test]
fn markdown_reports_match_golden_files() {
    let bless = std::env::var_os("ALBSCOPE_BLESS").is_some();
    let mut diffs = Vec::new();
    for p in samples() {
        let a = analyze(&p, false);
        let mut out = Vec::new();
        write_markdown(&a, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        let golden = p.with_extension("expected.md");
        if bless {
            std::fs::write(&golden, &md).unwrap();
            continue;
        }
        check_golden(&golden, &md, &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "Markdown reports differ (ALBSCOPE_BLESS=1 cargo test --test report_samples rewrites \
         them):\n{}",
        diffs.join("\n")
    );
}

fn tshark_count(path: &Path) -> Option<usize> {
    let out = Command::new("tshark").arg("-r").arg(path).output().ok()?;
    assert!(
        out.status.success(),
        "tshark -r {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).lines().count())
}

/// Slices that do not re-analyse to the same finding, and why (sample, request path).
/// - The IPv6 back-end attempt of `target_unreachable_icmp` (`/v6`): the ALB layer attributes
///   the node's IPv6 address to it through the mirror session only when it already knows a
///   target on that port from other traffic (`Knowledge::classify`); the slice has none, so the
///   attempt is taken for a front-end connection (listener and target port are both 80).
/// - The failures of `proxy-two-interfaces`: a node seen under two addresses is linked on
///   several requests (`albscope::alb::MIN_LINK_REQUESTS`); a slice holds one, so its legs stay
///   apart (the front end `undetermined` with the truth among its candidates, the back end
///   diagnosed alone).
///
/// (The reset request of `hc_cadence_refused`, whose verdict rests on the refused connects to
/// the target after the reset, is no longer one: its slice holds the connections its evidence
/// cites, `RequestConns::cited`.)
const KNOWN_SLICE_LIMITS: &[(&str, &str)] = &[
    ("target_unreachable_icmp", "/v6"),
    ("proxy-two-interfaces", "/old"),
    ("proxy-two-interfaces", "/api/pay"),
];

#[test]
fn every_failed_request_slice_reanalyses_to_the_same_finding() {
    let dir = crate::scratch::dir("slices");
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = 0;
    let mut tshark_seen = false;
    let mut mismatches = Vec::new();
    let mut needed_alb_ip = Vec::new();
    for p in samples() {
        let a = analyze(&p, false);
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let stem = if p.starts_with("samples/real") {
            format!("real-{stem}")
        } else {
            stem
        };
        let failed: Vec<_> = a
            .requests
            .iter()
            .filter(|f| f.category.is_failure())
            .collect();
        let specs: Vec<SliceSpec> = failed
            .iter()
            .map(|f| {
                SliceSpec::of_request(
                    dir.join(format!(
                        "{stem}-{}-{}.pcap",
                        safe_name(&f.id.to_string()),
                        f.category
                    )),
                    &a.connections[&f.id],
                )
            })
            .collect();
        let mut r = CaptureReader::open(&[&p]).unwrap();
        let results = write_slices(&mut r, &Default::default(), &specs).unwrap();
        assert_eq!(results.len(), specs.len());
        for (f, res) in failed.iter().zip(&results) {
            assert!(res.packets > 0, "{}: empty slice for {}", p.display(), f.id);
            // A request the ALB layer paired by time order among several candidates may pair
            // with another of them once the others are gone: same category and status then.
            let ambiguous = f.notes.iter().any(|n| {
                matches!(
                    n,
                    albscope::diagnose::Note::Pairing(albscope::alb::PairingNote::Ambiguous { .. })
                )
            });
            // A slice holding a failed connect alone shows no health-check cadence and no
            // front end: a failed health check looks the same, so it is undetermined with the
            // category among its candidates and no client status inferred.
            let same = |b: &Analysis| {
                b.requests.iter().any(|g| {
                    let maybe_check = g.category == Category::Undetermined
                        && g.candidates == [f.category]
                        && g.status.is_none();
                    // A slice holds the request's connections alone: a keep-alive race whose
                    // target timer the capture showed elsewhere (its idle closes) can lose it,
                    // and a reset at the request is then undetermined, the race a candidate.
                    let timer_lost = f.category == Category::KeepaliveRace
                        && g.category == Category::Undetermined
                        && g.candidates.contains(&Category::KeepaliveRace)
                        && g.status == f.status;
                    (maybe_check
                        || timer_lost
                        || (g.category == f.category && g.status == f.status))
                        && (ambiguous
                            || (g.method == f.method && g.path == f.path && g.time == f.time))
                })
            };
            let mut b = analyze(&res.path, false);
            if !same(&b) {
                // A slice may lack what identified the ALB node (e.g. a refused connect seen
                // from the target's ENI): name the node, as `extract` tells the user to.
                let cfg = AlbConfig {
                    alb_ips: alb_addresses(&a.connections[&f.id]),
                    ..AlbConfig::default()
                };
                let mut r = CaptureReader::open(&[&res.path]).unwrap();
                b = analyze_capture(&mut r, &PipelineConfig::default(), cfg, false);
                needed_alb_ip.push(format!("{}:{}", stem, f.id));
            }
            let known = KNOWN_SLICE_LIMITS
                .iter()
                .any(|(s, path)| *s == stem && f.path.as_deref().unwrap_or("") == *path);
            if !same(&b) && known {
                eprintln!("known limit: {stem} {} {:?}", f.id, f.path);
            } else if !same(&b) {
                mismatches.push(format!(
                    "{}: slice of {} ({} {:?} {}) re-analyses to {:?}",
                    p.display(),
                    f.id,
                    f.category,
                    f.status,
                    f.time.to_rfc3339(),
                    b.requests
                        .iter()
                        .map(|g| (g.id.to_string(), g.category, g.status, g.time.to_rfc3339()))
                        .collect::<Vec<_>>()
                ));
            }
            // tshark starts slowly: open the first slice of each sample (one per capture's
            // framing) in it; the display-filter test checks every failure's packets in one run.
            let first_of_sample = std::ptr::eq(*f, failed[0]);
            if let Some(n) = first_of_sample.then(|| tshark_count(&res.path)).flatten() {
                tshark_seen = true;
                assert_eq!(
                    n as u64,
                    res.packets,
                    "tshark sees every packet of {}",
                    res.path.display()
                );
            }
            checked += 1;
        }
    }
    if !tshark_seen {
        eprintln!("note: tshark not installed; slices were not opened in tshark");
    }
    eprintln!("slices re-analysed with --alb-ip: {needed_alb_ip:?}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked >= 30, "failed requests checked: {checked}");
}

#[test]
fn extract_cli_writes_one_slice_per_failed_request_of_mixed() {
    let dir = crate::scratch::dir("extract");
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(["extract", "samples/mixed.pcap", "--failed", "-d"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = analyze(Path::new("samples/mixed.pcap"), false);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = a
        .requests
        .iter()
        .filter(|f| f.category.is_failure())
        .map(|f| format!("{}-{}.pcap", f.id, f.category))
        .collect();
    want.sort();
    assert_eq!(names, want);
    // One request by id, re-analysed.
    let f = &a.requests[0];
    let one = dir.join("one.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args([
            "extract",
            "samples/mixed.pcap",
            "--request",
            &f.id.to_string(),
            "-w",
        ])
        .arg(&one)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = analyze(&one, false);
    assert!(b
        .requests
        .iter()
        .any(|g| g.category == f.category && g.status == f.status));
    let bad = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(["extract", "samples/mixed.pcap", "--request", "nope", "-w"])
        .arg(dir.join("x.pcap"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "unknown id is a usage error");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Decodes a capture: per TCP connection key (session, endpoints in order of first packet),
/// its packets' (timestamp, bytes).
type Conns = Vec<(
    albscope::decode::MirrorSession,
    albscope::flow::Endpoint,
    albscope::flow::Endpoint,
    Vec<(i64, Vec<u8>)>,
)>;

fn tcp_conns(path: &Path) -> (Conns, Vec<u32>) {
    use albscope::decode::{Decoder, Transport};
    use albscope::flow::Endpoint;
    let mut r = CaptureReader::open(&[path]).unwrap();
    let mut d = Decoder::new(Default::default());
    let mut conns: Conns = Vec::new();
    let mut links = Vec::new();
    while let Some(p) = r.next_packet() {
        if !links.contains(&p.link.0) {
            links.push(p.link.0);
        }
        let Some(x) = d.decode(&p) else { continue };
        let Transport::Tcp(t) = &x.transport else {
            continue;
        };
        let a = Endpoint {
            ip: x.src,
            port: t.src_port,
        };
        let b = Endpoint {
            ip: x.dst,
            port: t.dst_port,
        };
        let rec = (p.ts.0, p.data.to_vec());
        match conns
            .iter_mut()
            .find(|c| c.0 == x.session && ((c.1 == a && c.2 == b) || (c.1 == b && c.2 == a)))
        {
            Some(c) => c.3.push(rec),
            None => conns.push((x.session, a, b, vec![rec])),
        }
    }
    (conns, links)
}

#[test]
fn slices_keep_exactly_the_packets_of_the_chosen_connections() {
    use albscope::capture::Timestamp;
    use albscope::diagnose::metrics::ConnRef;
    let dir = crate::scratch::dir("slice-raw");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "mixed.pcap",
        "sll2-pcapng.pcap",
        "geneve.pcap",
        "linux-sll.pcap",
    ] {
        let p = Path::new("samples").join(name);
        let (conns, links) = tcp_conns(&p);
        assert!(conns.len() >= 2, "{name}: {} connections", conns.len());
        let chosen: Vec<_> = conns.iter().step_by(conns.len() / 2).take(2).collect();
        let spec = SliceSpec {
            path: dir.join(name),
            conns: chosen
                .iter()
                .map(|c| ConnRef {
                    session: c.0,
                    client: c.1,
                    server: c.2,
                    start: Timestamp(c.3.first().unwrap().0),
                    end: Some(Timestamp(c.3.last().unwrap().0)),
                    first_packet: Default::default(),
                    last_packet: None,
                    reused: false,
                    idle_before_s: None,
                })
                .collect(),
            pcapng: false,
            comments: Vec::new(),
        };
        let mut r = CaptureReader::open(&[&p]).unwrap();
        let res = write_slices(&mut r, &Default::default(), std::slice::from_ref(&spec)).unwrap();
        let want: usize = chosen.iter().map(|c| c.3.len()).sum();
        assert_eq!(res[0].packets as usize, want, "{name}");
        assert_eq!(
            res[0].format,
            if links.len() == 1 { "pcap" } else { "pcapng" }
        );
        // Read back: the same frames, same link type, nanosecond timestamps.
        let (back, back_links) = tcp_conns(&spec.path);
        assert_eq!(back_links, links, "{name}: link type kept");
        let mut got: Vec<(i64, Vec<u8>)> = back.into_iter().flat_map(|c| c.3).collect();
        let mut exp: Vec<(i64, Vec<u8>)> = chosen.iter().flat_map(|c| c.3.clone()).collect();
        got.sort();
        exp.sort();
        assert_eq!(got, exp, "{name}: exactly the chosen connections' frames");
        if let Some(n) = tshark_count(&spec.path) {
            assert_eq!(n, want, "{name}: tshark reads every packet");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn slices_across_link_types_are_pcapng_readable_by_tshark() {
    use albscope::capture::Timestamp;
    use albscope::diagnose::metrics::ConnRef;
    let a = Path::new("samples/linux-sll.pcap");
    let b = Path::new("samples/mixed.pcap");
    let (ca, la) = tcp_conns(a);
    let (cb, lb) = tcp_conns(b);
    assert_ne!(la, lb, "two link types");
    let pick = [&ca[0], &cb[0]];
    let dir = crate::scratch::dir("slice-ng");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = SliceSpec {
        path: dir.join("two-links.pcap"),
        conns: pick
            .iter()
            .map(|c| ConnRef {
                session: c.0,
                client: c.1,
                server: c.2,
                start: Timestamp(c.3.first().unwrap().0),
                end: Some(Timestamp(c.3.last().unwrap().0)),
                first_packet: Default::default(),
                last_packet: None,
                reused: false,
                idle_before_s: None,
            })
            .collect(),
        pcapng: false,
        comments: Vec::new(),
    };
    let mut r = CaptureReader::open(&[a, b]).unwrap();
    let res = write_slices(&mut r, &Default::default(), std::slice::from_ref(&spec)).unwrap();
    assert_eq!(res[0].format, "pcapng");
    let want: usize = pick.iter().map(|c| c.3.len()).sum();
    assert_eq!(res[0].packets as usize, want);
    let (back, links) = tcp_conns(&spec.path);
    assert_eq!(links.len(), 2, "both link types kept");
    let mut got: Vec<(i64, Vec<u8>)> = back.into_iter().flat_map(|c| c.3).collect();
    let mut exp: Vec<(i64, Vec<u8>)> = pick.iter().flat_map(|c| c.3.clone()).collect();
    got.sort();
    exp.sort();
    assert_eq!(got, exp);
    if let Some(n) = tshark_count(&spec.path) {
        assert_eq!(n, want, "tshark reads the pcapng slice");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_format_notes_the_limits_a_run_hit() {
    let mut a = analyze(Path::new("samples/mixed.pcap"), false);
    a.alb_limits.legs_paired_early = 7;
    a.alb_limits.targets_over_limit = 3;
    a.requests_not_kept = 2;
    a.stats.flow.conflicts = 5;
    let wanted = [
        "7 request legs were paired before their window closed",
        "3 connections went to targets past the first 10 000",
        "2 more requests are counted above but not listed (--max-requests)",
        "5 retransmitted bytes differed from the first copy",
    ];
    let mut text = Vec::new();
    albscope::report::write_text(&a, &Default::default(), &mut text).expect("text");
    let text = String::from_utf8(text).expect("utf-8");
    let mut md = Vec::new();
    write_markdown(&a, &mut md).expect("markdown");
    let md = String::from_utf8(md).expect("utf-8");
    let mut html = Vec::new();
    albscope::report::write_html(&a, &mut html).expect("html");
    let html = String::from_utf8(html).expect("utf-8");
    for w in wanted {
        assert!(text.contains(&format!("note:      {w}")), "text lacks {w}");
        assert!(md.contains(&format!("| Note | {w}")), "markdown lacks {w}");
        assert!(html.contains(w), "html lacks {w}");
    }
}

/// Compares `actual` with the golden file `golden`; a difference (the first differing line) or
/// an unreadable golden is pushed onto `diffs`.
pub(crate) fn check_golden(golden: &Path, actual: &str, diffs: &mut Vec<String>) {
    match std::fs::read_to_string(golden) {
        Ok(g) if g == actual => {}
        Ok(g) => {
            let line = g
                .lines()
                .zip(actual.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(g.lines().count().min(actual.lines().count()));
            diffs.push(format!(
                "{}: differs at line {} (expected {:?}, got {:?})",
                golden.display(),
                line + 1,
                g.lines().nth(line),
                actual.lines().nth(line)
            ));
        }
        Err(e) => diffs.push(format!("{}: {e}", golden.display())),
    }
}
