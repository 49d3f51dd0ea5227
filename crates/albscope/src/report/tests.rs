use super::*;
use crate::alb::testutil::*;
use crate::alb::{AlbConfig, AlbTracker, PathSink};
use crate::diagnose::{Analyzer, Keep};
use crate::flow::Dir::{ToClient, ToServer};
use crate::flow::TcpEventKind as K;
use crate::protocol::{AppKind, AppSink};
use crate::taxonomy::Category;

/// A keep-alive race and an ok request, analysed.
fn sample(keep_ok: bool) -> crate::diagnose::Analysis {
    let mut tr = AlbTracker::new(AlbConfig::default(), Collect::default());
    for (id, port, req, status) in [(1u64, 40000u16, 1_000i64, 200u16), (3, 40001, 10_000, 502)] {
        let c = Conn::new(id, ep(CLIENT, port), ep(ALB, 80), req - 2).handshake(req - 2);
        let server = if status == 502 {
            "awselb/2.0"
        } else {
            "Apache/2.4.58"
        };
        tr.exchange(
            &c.ctx(false),
            exch(
                0,
                None,
                Some(get(req, "/x", front_headers())),
                Some(resp(req + 20, status, server, 10)),
            ),
        );
    }
    let b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 990).handshake(990);
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(1_001, "/x", back_headers(CLIENT))),
            Some(resp(1_010, 200, "Apache/2.4.58", 10)),
        ),
    );
    // The target's FIN captured just before the request: it left before the request arrived
    // (a keep-alive race even with the target's timer unknown).
    let b = b.ev(10_000, ToClient, K::Fin).ev(10_002, ToServer, K::Rst);
    tr.closed(b.record(
        AppKind::Http,
        vec![exch(
            1,
            Some(8_991),
            Some(get(10_001, "/x", back_headers(CLIENT))),
            None,
        )],
        1,
        Some(1_010),
    ));
    let (sink, known) = tr.finish();
    let mut a = Analyzer::new(vec!["t.pcap".into()], Keep::new(keep_ok));
    for p in sink.paths {
        a.path(p, &known);
    }
    a.finish(&known, crate::pipeline::RunStats::default())
}

#[test]
fn text_report_explains_the_failure() {
    let a = sample(false);
    let mut out = Vec::new();
    write_text(&a, &TextOptions::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    if std::env::var_os("SHOW").is_some() {
        println!("{text}");
    }
    assert!(
        text.contains("Summary: 2 client requests, 1 ok, 1 failed"),
        "{text}"
    );
    assert!(
        text.contains("[1] 502 from the ALB: keep-alive race"),
        "{text}"
    );
    assert!(text.contains("KeepAliveTimeout 65"), "{text}");
    assert!(text.contains("FIN from target"), "{text}");
    assert!(!text.contains("\x1b["), "no colour unless asked");
    assert!(!text.contains("[2]"), "ok requests only with --all");
    let mut out = Vec::new();
    write_text(&sample(true), &TextOptions::default(), &mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("200 from the target: relayed normally (ok)"));
}

#[test]
fn json_and_ndjson_carry_the_contract_fields() {
    let a = sample(true);
    let mut out = Vec::new();
    write_json(&a, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 2);
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    for r in reqs {
        for k in [
            "id",
            "client",
            "alb",
            "target",
            "method",
            "path",
            "status",
            "status_inferred",
            "generated_by",
            "category",
            "trace_id",
            "access_log",
            "timeline",
            "evidence",
            "fix",
            "notes",
        ] {
            assert!(r.get(k).is_some(), "missing {k} in {r}");
        }
    }
    assert_eq!(reqs[1]["category"], Category::KeepaliveRace.name());
    assert_eq!(reqs[1]["generated_by"], "lb");
    assert!(reqs[1]["access_log"]["target_status_code"].is_null());
    let mut out = Vec::new();
    write_ndjson(&a, &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["record"], "request");
    assert_eq!(lines[2]["record"], "summary");
    assert!(lines[2].get("requests").is_none());
}

fn analyze(tr: AlbTracker<Collect>, keep_ok: bool) -> crate::diagnose::Analysis {
    let (sink, known) = tr.finish();
    let mut a = Analyzer::new(vec!["t.pcap".into()], Keep::new(keep_ok));
    for p in sink.paths {
        a.path(p, &known);
    }
    a.finish(&known, crate::pipeline::RunStats::default())
}

fn alb_tracker() -> AlbTracker<Collect> {
    AlbTracker::new(
        AlbConfig {
            alb_ips: vec![ALB.parse().unwrap()],
            ..AlbConfig::default()
        },
        Collect::default(),
    )
}

fn front(tr: &mut AlbTracker<Collect>, id: u64, port: u16, req: i64, resp_ms: i64, status: u16) {
    let c = Conn::new(id, ep(CLIENT, port), ep(ALB, 80), req - 2).handshake(req - 2);
    tr.exchange(
        &c.ctx(false),
        exch(
            0,
            None,
            Some(get(req, "/x", front_headers())),
            Some(resp(resp_ms, status, "awselb/2.0", 10)),
        ),
    );
}

/// A connect timeout (SYN + 3 retransmissions, 504 after 10 s) and an idle timeout (504 after
/// 60 s), analysed.
fn timeouts() -> crate::diagnose::Analysis {
    let mut tr = alb_tracker();
    front(&mut tr, 1, 40000, 100, 10_101, 504);
    let syn = |r| K::Syn { retransmission: r };
    let b = Conn::new(2, ep(ALB, 50002), ep(TARGET, 80), 101)
        .ev(101, ToServer, syn(false))
        .ev(1_101, ToServer, syn(true))
        .ev(3_101, ToServer, syn(true))
        .ev(7_101, ToServer, syn(true));
    tr.closed(b.record(AppKind::Empty, vec![], 0, None));
    front(&mut tr, 3, 40001, 200_000, 260_004, 504);
    let b = Conn::new(4, ep(ALB, 50004), ep(TARGET, 80), 200_001)
        .handshake(200_001)
        .ev(260_003, ToServer, K::Fin)
        .ev(270_003, ToServer, K::Rst);
    let ex = exch(
        0,
        None,
        Some(get(200_003, "/x", back_headers(CLIENT))),
        Some(resp(270_002, 200, "Apache", 5)),
    );
    tr.closed(b.record(AppKind::Http, vec![ex], 0, None));
    analyze(tr, false)
}

fn render_to_string(a: &crate::diagnose::Analysis, f: Format) -> String {
    let mut out = Vec::new();
    render(a, f, &TextOptions::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn metrics_count_every_request_including_ok_ones() {
    let a = sample(false);
    let cw = &a.metrics.cloudwatch.counts;
    assert_eq!(cw.request_count, 2);
    assert_eq!((cw.elb_502, cw.elb_5xx, cw.target_2xx), (1, 1, 1));
    let rt = &a.metrics.cloudwatch.target_response_time;
    assert_eq!(rt.count, 1, "the ok request's latency");
    let ep = "172.31.6.52:80".parse::<std::net::SocketAddr>().unwrap();
    let row = crate::diagnose::TargetRow::Target(crate::flow::Endpoint {
        ip: ep.ip(),
        port: ep.port(),
    });
    let t = &a.metrics.by_target[&row];
    assert_eq!((t.fresh.requests, t.fresh.failed), (1, 0));
    assert_eq!((t.reused.requests, t.reused.failed), (1, 1));
    assert_eq!(
        a.metrics.by_connection[&crate::diagnose::metrics::ConnReuse::Reused].by_category
            [&Category::KeepaliveRace],
        1
    );
    let c = &a.connections[&"f3.0".parse::<crate::diagnose::RequestId>().unwrap()];
    let back = c.back.as_ref().unwrap();
    assert!(back.reused);
    assert!((back.idle_before_s.unwrap() - 8.991).abs() < 1e-6);
    let t = timeouts();
    let cw = &t.metrics.cloudwatch.counts;
    assert_eq!((cw.elb_504, cw.target_connection_errors), (2, 1));
    for f in [
        Format::Text,
        Format::Json,
        Format::Ndjson,
        Format::Markdown,
        Format::Html,
    ] {
        let s = render_to_string(&a, f);
        for k in [
            "HTTPCode_ELB_502_Count",
            "HTTPCode_ELB_504_Count",
            "HTTPCode_ELB_5XX_Count",
            "HTTPCode_Target_5XX_Count",
            "HTTPCode_Target_2XX_Count",
            "TargetConnectionErrorCount",
            "TargetTLSNegotiationErrorCount",
            "RequestCount",
            "TargetResponseTime",
        ] {
            assert!(s.contains(k), "{f:?} lacks {k}");
        }
        assert!(s.contains("reused"), "{f:?} lacks the reuse view");
    }
}

#[test]
fn a_connection_opened_before_the_capture_is_neither_fresh_nor_reused() {
    use crate::diagnose::metrics::ConnReuse;
    // Its first request seen may not be its first: no SYN, so fresh is not proved.
    let mut tr = alb_tracker();
    front(&mut tr, 1, 40000, 1_000, 1_020, 200);
    let mut b = Conn::new(2, ep(ALB, 50000), ep(TARGET, 80), 1_001);
    b.s.saw_syn = false;
    tr.exchange(
        &b.ctx(false),
        exch(
            0,
            None,
            Some(get(1_001, "/x", back_headers(CLIENT))),
            Some(resp(1_010, 200, "Apache/2.4.58", 10)),
        ),
    );
    let a = analyze(tr, true);
    let by = &a.metrics.by_connection;
    assert_eq!(
        by.keys().copied().collect::<Vec<_>>(),
        vec![ConnReuse::OpenedBeforeCapture]
    );
    let t = a.metrics.by_target.values().next().unwrap();
    assert_eq!(
        (
            t.fresh.requests,
            t.reused.requests,
            t.opened_before_capture.requests
        ),
        (0, 0, 1)
    );
    let md = render_to_string(&a, Format::Markdown);
    assert!(
        md.contains("| opened before the capture (fresh or reused unknown) | 1 | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("on connections opened before the capture"),
        "{md}"
    );
    let json = render_to_string(&a, Format::Json);
    assert!(json.contains("\"opened_before_capture\""), "{json}");
}

#[test]
fn markdown_has_summary_table_headings_and_fenced_timelines() {
    let a = sample(true);
    let md = render_to_string(&a, Format::Markdown);
    if std::env::var_os("SHOW").is_some() {
        println!("{md}");
    }
    assert!(md.starts_with("# albscope report: t.pcap\n"));
    assert!(
        md.contains("| Requests | 2 client requests: 1 ok, 1 failed |"),
        "{md}"
    );
    assert!(md.contains("## Failed requests (1)"));
    assert!(
        md.contains("### 1. 502 from the ALB: keep-alive race"),
        "{md}"
    );
    assert!(md.contains("```text\n"));
    assert!(md.contains("FIN from target"));
    // With --all the ok request is a row of the compact list; only the failure gets a section.
    assert!(md.contains("## Ok requests (1)"), "{md}");
    assert_eq!(md.matches("\n### ").count(), 1);
}

#[test]
fn markdown_escapes_capture_text() {
    assert_eq!(
        markdown::md_escape("a|b <img src=x> *y* `z` _e_ a_b"),
        "a\\|b &lt;img src=x&gt; \\*y\\* \\`z\\` \\_e\\_ a_b"
    );
    let mut a = sample(false);
    a.requests[0].timeline[0].kind = crate::diagnose::EventKind::Request {
        method: "GET".into(),
        target: "```\n# injected".into(),
        host: None,
        incomplete: false,
    };
    a.requests[0].path = Some("/x|`y`\n## h".into());
    let md = render_to_string(&a, Format::Markdown);
    assert!(!md.contains("\n## h"), "{md}");
    assert!(!md.contains("\n# injected"), "{md}");
    assert!(
        md.contains("````text"),
        "fence longer than any backtick run: {md}"
    );
}

fn hostile(mut a: crate::diagnose::Analysis) -> crate::diagnose::Analysis {
    let evil = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
    let f = &mut a.requests[0];
    f.path = Some(format!("/{evil}").into());
    f.host = Some(evil.into());
    f.cause = crate::diagnose::Cause::TargetOwnError {
        server: Some(evil.into()),
    };
    f.evidence.push(crate::diagnose::Evidence::TargetServer {
        server: evil.into(),
    });
    f.target_server = Some(evil.into());
    f.fix = Some(evil.into());
    f.evidence.push(crate::diagnose::Evidence::TlsAlert {
        level: evil.into(),
        description: evil.into(),
        at: crate::diagnose::At {
            time: f.time,
            packet: crate::capture::PacketPos::default(),
        },
    });
    for e in &mut f.timeline {
        e.kind = crate::diagnose::EventKind::Request {
            method: "GET".into(),
            target: evil.into(),
            host: Some(evil.into()),
            incomplete: false,
        };
    }
    a.inputs = vec![evil.into()];
    a.targets[0].server = Some(evil.into());
    a.stats.problems.push(evil.into());
    a
}

#[test]
fn html_escapes_every_capture_derived_string() {
    let a = hostile(sample(false));
    let html = render_to_string(&a, Format::Html);
    let lower = html.to_ascii_lowercase();
    // The one script is the report's own filter script (its hash is the only one the CSP allows).
    assert_eq!(lower.matches("<script").count(), 1, "script injected");
    assert!(html.contains(&format!("<script>{}</script>", html::nav_script())));
    assert!(!lower.contains("<img"), "img injected");
    assert!(!html.contains("alert(1)</script>"), "raw capture text");
    assert!(!html.contains("\"><script"), "attribute breakout");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        html.contains("default-src 'none'"),
        "CSP forbids scripts and fetches"
    );
    // Markdown: raw text only inside code spans and fenced blocks (shown literally).
    let md = render_to_string(&a, Format::Markdown);
    let mut prose = String::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let mut in_code = false;
            for c in line.chars() {
                if c == '`' {
                    in_code = !in_code;
                } else if !in_code {
                    prose.push(c);
                }
            }
            prose.push('\n');
        }
    }
    assert!(!prose.to_ascii_lowercase().contains("<script"), "{prose}");
    assert!(!prose.to_ascii_lowercase().contains("<img"), "{prose}");
}

#[test]
fn html_is_self_contained_with_a_diagram_per_failure() {
    let a = timeouts();
    if std::env::var_os("SHOW").is_some() {
        println!("{}", render_to_string(&a, Format::Text));
    }
    let html = render_to_string(&a, Format::Html);
    if let Some(p) = std::env::var_os("HTML_OUT") {
        std::fs::write(p, &html).unwrap();
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<script").count(), 1, "only the filter script");
    for bad in [
        "http://", "https://", "<link", "@import", "url(http", "src=",
    ] {
        let n = html.matches(bad).count();
        // The only URL is the SVG namespace identifier (not fetched).
        let allowed = if bad == "http://" {
            html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        } else {
            0
        };
        assert_eq!(n, allowed, "{bad} found");
    }
    assert_eq!(html.matches("<svg class=\"seq\"").count(), 2);
    for lane in [
        "client 13.239.55.82:40000",
        "ALB node 172.31.1.158:80",
        "target 172.31.6.52:80",
    ] {
        assert!(html.contains(lane), "lane {lane}");
    }
    assert!(html.contains("10 s connect timeout"), "connect timer named");
    assert!(html.contains("60.0 s idle timeout"), "idle timer named");
    assert!(html.contains("SYN retransmission #3"));
    // Keep-alive race: the idle before the request on the reused connection is shown.
    let html = render_to_string(&sample(false), Format::Html);
    assert!(
        html.contains("9 s keep-alive idle"),
        "keep-alive idle labelled"
    );
    assert!(
        html.contains("previous response ended"),
        "the response that started the idle period is drawn"
    );
}

#[test]
fn html_caps_diagrams_and_says_how_many_more() {
    let mut a = sample(false);
    let f = a.requests[0].clone();
    a.requests = (0..html::MAX_DIAGRAMS + 7)
        .map(|i| {
            let mut g = f.clone();
            g.id.conn = i as u64;
            g
        })
        .collect();
    let html = render_to_string(&a, Format::Html);
    assert_eq!(
        html.matches("<svg class=\"seq\"").count(),
        html::MAX_DIAGRAMS
    );
    assert!(html.contains("7 more are listed in the table above only"));
}

#[test]
fn the_verdict_is_the_first_thing_every_format_says() {
    let a = sample(false);
    let v = crate::diagnose::verdict::Verdict::of(&a);
    assert_eq!((v.requests, v.failed, v.groups.len()), (2, 1, 1));
    assert_eq!(v.groups[0].category, Category::KeepaliveRace);
    let plain = words::verdict(&v).plain();
    assert!(
        plain.starts_with("1 of 2 requests failed: 1 keepalive_race on 172.31.6.52:80"),
        "{plain}"
    );
    let text = render_to_string(&a, Format::Text);
    assert_eq!(
        text.lines().nth(1),
        Some(format!("verdict:   {plain}").as_str())
    );
    let md = render_to_string(&a, Format::Markdown);
    assert!(
        md.lines().nth(2).is_some_and(
            |l| l.starts_with("**Verdict:** 1 of 2 requests failed: 1 `keepalive_race`")
        ),
        "{md}"
    );
    let html = render_to_string(&a, Format::Html);
    let body = html.split("<body>").nth(1).unwrap_or_default();
    assert!(body.find("id=\"verdict\"") < body.find("<h2>"), "{html}");
    let json: serde_json::Value =
        serde_json::from_str(&render_to_string(&a, Format::Json)).unwrap();
    assert_eq!(json["verdict"]["text"], plain.as_str());
}

#[test]
fn cloudwatch_periods_split_at_the_wall_clock_minute() {
    let mut tr = alb_tracker();
    front(&mut tr, 1, 40000, 59_000, 59_010, 502);
    front(&mut tr, 3, 40001, 59_900, 59_910, 503);
    front(&mut tr, 5, 40002, 61_000, 61_010, 502);
    let a = analyze(tr, false);
    let p = &a.metrics.periods;
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].start.0 % 60_000_000_000, 0, "aligned to the minute");
    assert_eq!(p[1].start.0 - p[0].start.0, 60_000_000_000);
    assert_eq!(
        (
            p[0].counts.request_count,
            p[0].counts.elb_502,
            p[0].counts.elb_503
        ),
        (2, 1, 1)
    );
    assert_eq!((p[1].counts.request_count, p[1].counts.elb_502), (1, 1));
    assert_eq!(a.metrics.cloudwatch.counts.elb_503, 1);
    let (rows, rest) = views::period_rows(&a);
    assert_eq!(
        (rows.len(), rest),
        (3, 0),
        "two minutes and the whole window"
    );
    assert_eq!(rows[2][0], "whole window");
    assert_eq!(rows[2][1], "3");
    // Front end only: the notes say what cannot be counted.
    let notes = views::period_notes(&a, 0);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("`HTTPCode_Target_*_Count`")),
        "{notes:?}"
    );
    for f in [Format::Text, Format::Markdown, Format::Html] {
        let s = render_to_string(&a, f);
        assert!(s.contains("CloudWatch per minute"), "{f:?}");
        assert!(s.contains("whole window"), "{f:?}");
        assert!(s.contains("HTTPCode_Target_*_Count"), "{f:?}");
    }
}

#[test]
fn markdown_stays_under_max_bytes_listing_the_first_of_each_category() {
    let mut a = timeouts();
    let first = a.requests.clone();
    for i in 0..300 {
        for f in &first {
            let mut f = f.clone();
            f.id = format!("f{}.0", 1000 + i).parse().unwrap();
            a.requests.push(f);
        }
    }
    let full = render_to_string(&a, Format::Markdown);
    let opts = markdown::MarkdownOptions {
        max_bytes: Some(20_000),
    };
    let mut out = Vec::new();
    markdown::write_markdown_with(&a, &opts, &mut out).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(full.len() > 30_000, "{}", full.len());
    assert!(md.len() <= 20_000, "{}", md.len());
    assert!(md.contains("To stay under 20000 bytes"), "{md}");
    assert!(md.contains("failed requests of each category and counts the other"));
    for c in ["target_connect_timeout", "target_idle_timeout"] {
        assert!(md.contains(&format!("- **Category:** `{c}`")), "{c}");
    }
    // The default limit leaves a small report alone.
    assert_eq!(render_to_string(&timeouts(), Format::Markdown), {
        let mut out = Vec::new();
        markdown::write_markdown_with(
            &timeouts(),
            &markdown::MarkdownOptions { max_bytes: None },
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    });
}

#[test]
fn fix_code_spans_stay_escaped_when_the_capture_supplies_backticks() {
    let mut a = sample(false);
    a.requests[0].fix = Some("run `<img src=x onerror=alert(1)>` then `a|b` and `x".into());
    let md = render_to_string(&a, Format::Markdown);
    assert!(!md.contains("<img"), "{md}");
    let html = render_to_string(&a, Format::Html);
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("<code>a|b</code>") || html.contains("`x"),
        "{html}"
    );
}

#[test]
fn an_announced_keepalive_below_the_idle_timeout_is_shown_and_a_risk() {
    use crate::diagnose::TargetReport;
    let mut a = sample(false);
    let announcing = crate::flow::Endpoint {
        ip: [10, 0, 2, 99].into(),
        port: 8080,
    };
    let silent = crate::flow::Endpoint {
        ip: [10, 0, 2, 98].into(),
        port: 8080,
    };
    a.targets.push(TargetReport {
        target: announcing,
        server: Some("Apache/2.4.58".into()),
        powered_by: None,
        keepalive_timeout: None,
        announced_keepalive: Some(crate::capture::Duration::from_secs_f64(5.0)),
    });
    a.targets.push(TargetReport {
        target: silent,
        server: Some("Apache/2.4.58".into()),
        powered_by: None,
        keepalive_timeout: None,
        announced_keepalive: None,
    });
    let v = crate::diagnose::verdict::Verdict::of(&a);
    let risky: Vec<_> = v.risks.iter().map(|k| k.target).collect();
    assert!(risky.contains(&announcing), "{risky:?}");
    assert!(!risky.contains(&silent), "{risky:?}");
    let plain = words::verdict(&v).plain();
    assert!(
        plain.contains("10.0.2.99:8080 (Apache httpd, announced keep-alive 5 s: set"),
        "{plain}"
    );
    let text = render_to_string(&a, Format::Text);
    assert!(
        text.contains("10.0.2.99:8080 (Server: Apache/2.4.58; announces Keep-Alive: timeout=5)"),
        "{text}"
    );
    assert!(text.contains("target:    10.0.2.98:8080 (Server: Apache/2.4.58)\n"));
    // Not below the idle timeout: no risk.
    a.targets.iter_mut().for_each(|t| {
        if t.target == announcing {
            t.announced_keepalive = Some(crate::capture::Duration::from_secs_f64(75.0));
        }
    });
    let v = crate::diagnose::verdict::Verdict::of(&a);
    assert!(!v.risks.iter().any(|k| k.target == announcing));
}

#[test]
fn json_written_on_two_threads_is_the_same_bytes() {
    let mut a = sample(true);
    let one = a.requests.clone();
    // Enough requests for runs on both threads, and a last run cut short.
    for n in [0usize, 1, 2, 63, 64, 65, 128, 129, 301] {
        a.requests = one.iter().cycle().take(n).cloned().collect();
        let mut want = Vec::new();
        write_json(&a, &mut want).unwrap();
        for threads in [2, 4] {
            let mut got = Vec::new();
            write_json_on(&a, &mut got, threads).unwrap();
            assert!(got == want, "{n} requests on {threads} threads differ");
        }
    }
}
