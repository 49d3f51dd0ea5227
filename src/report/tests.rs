use super::*;
use crate::alb::testutil::*;
use crate::alb::{AlbConfig, AlbTracker, PathSink};
use crate::diagnose::Analyzer;
use crate::flow::Dir::{ToClient, ToServer};
use crate::flow::TcpEventKind as K;
use crate::protocol::{AppKind, AppSink};

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
    let b = b.ev(10_001, ToClient, K::Fin).ev(10_002, ToServer, K::Rst);
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
    let mut a = Analyzer::new(vec!["t.pcap".into()], keep_ok);
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
    assert_eq!(v["schema_version"], 1);
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
    assert_eq!(reqs[1]["category"], "keepalive_race");
    assert_eq!(reqs[1]["generated_by"], "lb");
    assert_eq!(reqs[1]["access_log"]["target_status_code"], "-");
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
