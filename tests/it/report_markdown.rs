//! The report for a ticket (issue 15): the verdict comes first in every format, the Markdown is
//! CommonMark with fix commands as code spans and stays under `--max-bytes` (default 60,000)
//! on the largest sample and on a synthetic capture with hundreds of failures, and the
//! CloudWatch counterparts per minute add up to the whole window.

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::markdown::DEFAULT_MAX_BYTES;
use albscope::report::{write_markdown, write_markdown_with, MarkdownOptions};
use albscope_synth::alb::{Outcome, Req, Resp, Target, World, WorldCfg};
use albscope_synth::frame::sa4;
use albscope_synth::http::ServerKind;
use albscope_synth::tcp::{MS, SEC};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn analyze(path: &Path) -> Analysis {
    let mut r = CaptureReader::open(&[path]).expect("open capture");
    analyze_capture(
        &mut r,
        &PipelineConfig::default(),
        AlbConfig::default(),
        false,
    )
}

/// A file in cargo's scratch directory for integration tests (under `target/`), so nothing is
/// left in the system's temporary directory.
fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The capture of [`build_many_failures`] with 400 failures, built once per test run.
fn many_failures() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| build_many_failures(400)).clone()
}

/// A capture with `n` failed requests over several minutes: refused connects, target 500s,
/// targets closing before answering, malformed answers and ALB 503s without a target.
fn build_many_failures(n: usize) -> PathBuf {
    let path = tmp(&format!("many-{n}.pcap"));
    let mut w = World::new(WorldCfg {
        seed: 15,
        ..Default::default()
    });
    let node = w.add_node([10, 0, 1, 25], 1001);
    w.add_target(Target::new(sa4([10, 0, 2, 15], 80), ServerKind::Apache));
    w.add_target(Target::new(sa4([10, 0, 2, 37], 8080), ServerKind::Express));
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let start = albscope_synth::alb::EPOCH + 500 * MS;
    let mut t = start;
    for i in 0..n {
        let client = IpAddr::from([198, 51, 100, (i % 200) as u8 + 1]);
        let f = w.open(client, node, t);
        let path = format!("/api/items/{i}?q=`x`|*y*");
        let (target, outcome) = match i % 5 {
            0 => (2, Outcome::Refused),
            1 => (0, Outcome::Respond(Resp::new(500, b"boom"))),
            2 => (
                1,
                Outcome::ClosedBeforeResponse {
                    after: 3 * MS,
                    rst: i % 2 == 0,
                },
            ),
            3 => (0, Outcome::Malformed(b"Fatal error: ` | <b>\r\n".to_vec())),
            _ => (0, Outcome::NoTarget(503)),
        };
        let end = w.request(f, t + 2 * MS, &Req::get(&path), target, outcome);
        w.close_front(f, end + MS);
        // About 2 requests a second: hundreds of failures span several minutes.
        t = end.max(t) + 450 * MS;
    }
    w.finish(t + SEC);
    // Written aside and renamed: another test process may be reading the same path.
    let part = tmp(&format!("many-{n}.{}.part", std::process::id()));
    std::fs::write(&part, w.to_pcap()).unwrap();
    std::fs::rename(&part, &path).unwrap();
    path
}

/// The text of every code span and the prose of the document.
fn parse(md: &str) -> (Vec<String>, String) {
    let mut code = Vec::new();
    let mut prose = String::new();
    let mut in_block = false;
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => in_block = true,
            Event::End(TagEnd::CodeBlock) => in_block = false,
            Event::Code(c) => code.push(c.to_string()),
            Event::Text(t) if !in_block => prose.push_str(&t),
            _ => {}
        }
    }
    (code, prose)
}

fn markdown(a: &Analysis, max: Option<usize>) -> String {
    let mut out = Vec::new();
    write_markdown_with(a, &MarkdownOptions { max_bytes: max }, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn fix_commands_are_code_spans_not_escaped_backticks() {
    let a = analyze(Path::new("samples/target_connect_refused.pcap"));
    let md = markdown(&a, None);
    assert!(!md.contains("\\`"), "escaped backticks in:\n{md}");
    let (code, prose) = parse(&md);
    assert!(
        code.iter().any(|c| c == "ss -ltnp | grep :80"),
        "fix command not a code span: {code:?}"
    );
    assert!(!prose.contains('`'), "backticks left in prose");
    assert!(
        code.iter().any(|c| c == "target_connect_refused"),
        "{code:?}"
    );
}

#[test]
fn the_verdict_comes_first_in_every_format() {
    let bin = env!("CARGO_BIN_EXE_albscope");
    let run = |format: &str| {
        let out = Command::new(bin)
            .args(["analyze", "samples/keepalive_race.pcap", "--format", format])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let want = "1 of 7 requests failed: 1 keepalive_race on 10.0.2.37:8080 (Node.js, keep-alive \
                5 s < ALB idle timeout 60 s: set keepAliveTimeout to 65 s).";
    let text = run("text");
    assert_eq!(
        text.lines().nth(1),
        Some(format!("verdict:   {want}").as_str())
    );
    let md = run("markdown");
    let first_para = md.split("\n\n").nth(1).unwrap();
    assert!(
        first_para.starts_with("**Verdict:** 1 of 7"),
        "{first_para}"
    );
    let (code, _) = parse(first_para);
    assert_eq!(code, ["keepalive_race", "keepAliveTimeout"]);
    let html = run("html");
    let body = html.split("<body>").nth(1).unwrap();
    let verdict = body.find("id=\"verdict\"").expect("verdict block");
    assert!(
        verdict < body.find("<h2>").unwrap(),
        "verdict before the tables"
    );
    assert!(html.contains("set <code>keepAliveTimeout</code> to 65 s"));
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let v = &json["verdict"];
    assert_eq!(v["text"], want);
    assert_eq!(v["failed"], 1);
    let g = &v["groups"][0];
    assert_eq!(g["category"], "keepalive_race");
    assert_eq!(g["targets"][0]["target"], "10.0.2.37:8080");
    let k = &g["keepalive"][0];
    assert_eq!(k["server"], "Node.js");
    assert_eq!(k["observed_s"], 5.0);
    assert_eq!(k["idle_timeout_s"], 60.0);
    assert_eq!(k["wanted_s"], 65.0);
    assert_eq!(k["setting"], "keepAliveTimeout");
}

#[test]
fn a_keepalive_risk_is_named_before_any_502() {
    let a = analyze(Path::new("samples/healthy.pcap"));
    assert_eq!(a.summary.failed, 0);
    let md = markdown(&a, None);
    let verdict = md.lines().nth(2).unwrap();
    assert!(
        verdict.contains("All 11 requests were answered normally. Risk: 10.0.2.15:80 (Apache httpd, keep-alive 5 s: set `KeepAliveTimeout` to 65 s)"),
        "{verdict}"
    );
    assert!(verdict.contains("`keepalive_race` waiting to happen"));
}

#[test]
fn undetermined_stays_undetermined_in_the_verdict() {
    let a = analyze(Path::new("samples/frontend-vantage.pcap"));
    let v = albscope::diagnose::verdict::Verdict::of(&a);
    let g = v
        .groups
        .iter()
        .find(|g| g.category == albscope::taxonomy::Category::Undetermined)
        .expect("an undetermined group");
    assert!(!g.candidates.is_empty());
    let text = albscope::report::words::verdict(&v).plain();
    assert!(
        text.contains("1 undetermined (cause not visible in the capture; may be "),
        "{text}"
    );
}

#[test]
fn markdown_of_every_sample_is_commonmark_under_the_limit() {
    let mut largest = (0, String::new());
    for dir in ["samples", "samples/real"] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "pcap") {
                continue;
            }
            let a = analyze(&p);
            let mut out = Vec::new();
            write_markdown(&a, &mut out).unwrap();
            let md = String::from_utf8(out).unwrap();
            assert!(md.len() <= DEFAULT_MAX_BYTES, "{}", p.display());
            let (code, prose) = parse(&md);
            assert!(
                !prose.contains('`'),
                "{}: a backtick outside code",
                p.display()
            );
            if a.requests.iter().any(|f| f.fix.is_some()) {
                assert!(!code.is_empty(), "{}", p.display());
            }
            if md.len() > largest.0 {
                largest = (md.len(), p.display().to_string());
            }
        }
    }
    eprintln!("largest Markdown: {} bytes ({})", largest.0, largest.1);
}

#[test]
fn hundreds_of_failures_fit_a_github_comment() {
    let path = many_failures();
    let a = analyze(&path);
    assert!(a.summary.failed >= 390, "{:?}", a.summary);
    let full = markdown(&a, None);
    assert!(full.len() > 2 * DEFAULT_MAX_BYTES, "{} bytes", full.len());
    let md = markdown(&a, Some(DEFAULT_MAX_BYTES));
    eprintln!(
        "{} failures: {} bytes uncut, {} bytes with the default --max-bytes",
        a.summary.failed,
        full.len(),
        md.len()
    );
    assert!(md.len() <= DEFAULT_MAX_BYTES, "{} bytes", md.len());
    assert!(md.contains("To stay under 60000 bytes"), "says it was cut");
    assert!(md.contains("failed requests of each category"));
    // Every category keeps its first failures in full.
    for c in a.summary.by_category.keys().filter(|c| c.is_failure()) {
        assert!(
            md.contains(&format!("- **Category:** `{}`", c.name())),
            "{c} not detailed"
        );
    }
    // The capture's own backticks (in paths) stay escaped prose; the fix commands are code.
    let (code, prose) = parse(&md);
    assert!(!prose.contains("ss -ltnp"));
    assert!(code.iter().any(|c| c == "ss -ltnp | grep :80"), "{code:?}");
    // A tighter limit still holds, down to the summary alone.
    for max in [20_000, 8_000, 1_500] {
        let md = markdown(&a, Some(max));
        assert!(md.len() <= max, "{max}: {} bytes", md.len());
        parse(&md);
    }
    // The binary applies the default, and refuses it with other formats.
    let bin = env!("CARGO_BIN_EXE_albscope");
    let p = path.to_str().unwrap();
    let out = Command::new(bin)
        .args(["analyze", p, "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.stdout.len() <= DEFAULT_MAX_BYTES);
    let out = Command::new(bin)
        .args(["analyze", p, "--format", "markdown", "--max-bytes", "0"])
        .output()
        .unwrap();
    assert_eq!(out.stdout.len(), full.len());
    let out = Command::new(bin)
        .args(["analyze", p, "--format", "json", "--max-bytes", "1000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("markdown only"));
}

#[test]
fn cloudwatch_periods_are_wall_clock_minutes_that_add_up() {
    let a = analyze(&many_failures());
    let m = &a.metrics;
    assert!(m.periods.len() >= 3, "{} periods", m.periods.len());
    let mut sum = albscope::diagnose::metrics::CwCounts::default();
    for p in &m.periods {
        assert_eq!(p.start.0 % 60_000_000_000, 0, "aligned to the minute");
        assert!(p.counts.request_count > 0, "only periods with traffic");
        let c = &p.counts;
        sum.request_count += c.request_count;
        sum.elb_502 += c.elb_502;
        sum.elb_503 += c.elb_503;
        sum.target_5xx += c.target_5xx;
        sum.target_connection_errors += c.target_connection_errors;
    }
    let cw = &m.cloudwatch.counts;
    assert_eq!(sum.request_count, cw.request_count);
    assert_eq!(sum.elb_502, cw.elb_502);
    assert_eq!(sum.elb_503, cw.elb_503);
    assert!(
        cw.elb_503 >= 70,
        "the ALB's 503s are counted: {}",
        cw.elb_503
    );
    assert_eq!(sum.target_5xx, cw.target_5xx);
    assert_eq!(sum.target_connection_errors, cw.target_connection_errors);
    // JSON: an array of periods, each with CloudWatch's names.
    let mut out = Vec::new();
    albscope::report::write_json(&a, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let periods = v["metrics"]["periods"].as_array().unwrap();
    assert_eq!(periods.len(), m.periods.len());
    assert_eq!(periods[0]["period_s"], 60);
    assert!(periods[0]["start"]
        .as_str()
        .unwrap()
        .ends_with(":00.000000Z"));
    assert!(periods[0].get("HTTPCode_ELB_503_Count").is_some());
    assert_eq!(
        v["metrics"]["cloudwatch"]["HTTPCode_ELB_503_Count"],
        cw.elb_503
    );
    // Text: the per-minute table ends with the whole window.
    let bin = env!("CARGO_BIN_EXE_albscope");
    let out = Command::new(bin)
        .args(["analyze", "samples/mixed.pcap"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("CloudWatch per minute"));
    assert!(text.contains("  2025-12-11 16:43 "), "{text}");
    assert!(text.contains("  whole window "));
}

#[test]
fn a_one_legged_capture_says_what_it_cannot_count() {
    let a = analyze(Path::new("samples/frontend-vantage.pcap"));
    let mut out = Vec::new();
    write_markdown(&a, &mut out).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(
        md.contains("- `HTTPCode_Target_*_Count`: the back end is not in the capture"),
        "{md}"
    );
    let a = analyze(Path::new("samples/backend-vantage.pcap"));
    let notes = albscope::report::views::uncounted_notes(&a);
    assert!(notes
        .iter()
        .any(|n| n.starts_with("`HTTPCode_ELB_*_Count`")));
}

/// Text, Markdown and HTML title the list of failed requests by one rule: a list that also
/// holds requests still in flight at the end of the capture (not failures) says so, and one
/// without them is "Failed requests".
#[test]
fn every_format_titles_requests_in_flight_apart_from_failed_ones() {
    const IN_FLIGHT: &str = "Failed requests, and requests in flight at the end of the capture";
    for (sample, in_flight) in [
        ("samples/artifacts/body_in_flight_at_end.pcap", true),
        ("samples/artifacts/ends_mid_connect.pcap", true),
        ("samples/mixed.pcap", false),
    ] {
        let a = analyze(Path::new(sample));
        assert_eq!(a.summary.in_flight_at_end > 0, in_flight, "{sample}");
        let mut text = Vec::new();
        albscope::report::write_text(&a, &albscope::report::TextOptions::default(), &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        let mut md = Vec::new();
        write_markdown(&a, &mut md).unwrap();
        let md = String::from_utf8(md).unwrap();
        let mut html = Vec::new();
        albscope::report::write_html(&a, &mut html).unwrap();
        let html = String::from_utf8(html).unwrap();
        let total = a.summary.failed + a.summary.in_flight_at_end;
        if in_flight {
            assert!(
                text.contains(&format!("\n{IN_FLIGHT}\n")),
                "{sample}: {text}"
            );
            assert!(
                md.contains(&format!("\n## {IN_FLIGHT} ({total})\n")),
                "{sample}: {md}"
            );
            assert!(
                html.contains(&format!("<h2>{IN_FLIGHT} ({total})</h2>")),
                "{sample}"
            );
            assert!(
                html.contains(&format!("<a href=\"#failures\">{IN_FLIGHT} ({total})</a>")),
                "{sample}: the contents line names the section as it is titled"
            );
        } else {
            for (format, report) in [("text", &text), ("markdown", &md), ("html", &html)] {
                assert!(!report.contains(IN_FLIGHT), "{sample}: {format}");
            }
            assert!(text.contains("\nFailed requests\n"), "{sample}");
            assert!(
                md.contains(&format!("\n## Failed requests ({total})\n")),
                "{sample}"
            );
            assert!(
                html.contains(&format!("<h2>Failed requests ({total})</h2>")),
                "{sample}"
            );
        }
    }
}
