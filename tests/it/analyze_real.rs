//! The real recordings in `samples/real/` (HAProxy standing in for an ALB node, real targets),
//! analysed with `--idle-timeout 5` as their README says, against the ground truth written in
//! `samples/real/README.md` by the engineer who recorded them: per client request, its client
//! port (front end captured) and category.

use albscope::alb::AlbConfig;
use albscope::capture::{CaptureReader, Duration};
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use std::path::Path;

fn analyze(file: &str) -> Option<Analysis> {
    let path = Path::new("samples/real").join(file);
    if !path.exists() {
        return None;
    }
    let mut reader = CaptureReader::open(&[&path]).ok()?;
    let config = AlbConfig {
        idle_timeout: Some(Duration::from_millis(5_000)),
        ..AlbConfig::default()
    };
    Some(analyze_capture(
        &mut reader,
        &PipelineConfig::default(),
        config,
        true,
    ))
}

/// `(client port or 0 when the front end is not captured, category, status, generated_by)`.
type Want = (u16, &'static str, Option<u16>, Option<&'static str>);

const LB: Option<&str> = Some("lb");
const TG: Option<&str> = Some("target");

fn truth() -> Vec<(&'static str, Vec<Want>)> {
    vec![
        (
            "ok_keepalive.pcap",
            vec![
                (40001, "ok", Some(200), TG),
                (40001, "ok", Some(200), TG),
                (40002, "ok", Some(200), TG),
                (40003, "ok", Some(200), TG),
                (40004, "ok", Some(200), TG),
            ],
        ),
        (
            "ok_keepalive.target.pcap",
            vec![(0, "ok", Some(200), TG); 5],
        ),
        (
            "keepalive_race.pcap",
            vec![
                (40011, "ok", Some(200), TG),
                (40012, "keepalive_race", Some(502), LB),
                (40013, "ok", Some(200), TG),
                (40014, "ok", Some(200), TG),
                (40015, "ok", Some(200), TG),
            ],
        ),
        (
            "keepalive_race.target.pcap",
            vec![
                (0, "ok", Some(200), TG),
                (0, "keepalive_race", Some(502), LB),
                (0, "ok", Some(200), TG),
                (0, "ok", Some(200), TG),
                (0, "ok", Some(200), TG),
            ],
        ),
        (
            "closed_fin.pcap",
            vec![
                (40021, "ok", Some(200), TG),
                (40022, "target_closed_before_response", Some(502), LB),
            ],
        ),
        (
            "closed_rst.pcap",
            vec![
                (40031, "ok", Some(200), TG),
                (40032, "target_closed_before_response", Some(502), LB),
            ],
        ),
        (
            "malformed_response.pcap",
            vec![
                (40041, "ok", Some(200), TG),
                (40042, "malformed_response", Some(502), LB),
            ],
        ),
        (
            "header_too_large.pcap",
            vec![(40051, "response_header_too_large", Some(502), LB)],
        ),
        (
            "idle_timeout.pcap",
            vec![
                (40061, "ok", Some(200), TG),
                (40062, "target_idle_timeout", Some(504), LB),
            ],
        ),
        (
            "idle_timeout.target.pcap",
            vec![
                (0, "ok", Some(200), TG),
                (0, "target_idle_timeout", Some(504), LB),
            ],
        ),
        (
            "incomplete_body.pcap",
            vec![(40071, "incomplete_body", None, LB)],
        ),
        (
            "target_5xx.pcap",
            vec![
                (40081, "target_generated_error", Some(500), TG),
                (40082, "target_generated_error", Some(502), TG),
                (40083, "ok", Some(200), TG),
            ],
        ),
        (
            "connect_refused.pcap",
            vec![
                (40091, "target_connect_refused", Some(502), LB),
                (40092, "target_connect_refused", Some(502), LB),
            ],
        ),
        (
            "unreachable_icmp.pcap",
            vec![
                (40101, "target_unreachable_icmp", Some(502), LB),
                (40102, "target_unreachable_icmp", Some(502), LB),
            ],
        ),
        (
            "connect_timeout.pcap",
            vec![(40111, "target_connect_timeout", Some(504), LB)],
        ),
        (
            "connect_timeout_return_path.pcap",
            vec![(40121, "target_connect_timeout", Some(504), LB)],
        ),
        (
            "connect_timeout_return_path.target.pcap",
            vec![(0, "target_connect_timeout", Some(504), LB)],
        ),
        (
            "tls_handshake_failed.pcap",
            vec![
                (40131, "target_tls_handshake_failed", Some(502), LB),
                (40132, "target_tls_handshake_failed", Some(502), LB),
            ],
        ),
        (
            "tls_handshake_timeout.pcap",
            vec![(40141, "target_tls_handshake_timeout", Some(504), LB)],
        ),
        (
            "no_target_attempt.pcap",
            vec![
                (40161, "no_target_attempt", Some(503), LB),
                (40162, "no_target_attempt", Some(503), LB),
            ],
        ),
        (
            "client_closed.pcap",
            vec![(40171, "client_closed", None, None)],
        ),
        (
            "deregistration_abort.pcap",
            vec![(40181, "deregistration_abort", Some(502), LB)],
        ),
        (
            "mixed_two_nodes.pcap",
            vec![
                (40201, "ok", Some(200), TG),
                (40241, "ok", Some(200), TG),
                (40241, "target_generated_error", Some(500), TG),
                (40241, "ok", Some(200), TG),
                (40202, "target_generated_error", Some(500), TG),
                (40203, "target_closed_before_response", Some(502), LB),
                (40242, "ok", Some(200), TG),
                (40204, "ok", Some(200), TG),
                (40205, "malformed_response", Some(502), LB),
                (40206, "target_idle_timeout", Some(504), LB),
                (40243, "ok", Some(200), TG),
                (40207, "ok", Some(200), TG),
                (40221, "ok", Some(200), TG),
                (40222, "ok", Some(200), TG),
                (40223, "target_closed_before_response", Some(502), LB),
                (40224, "response_header_too_large", Some(502), LB),
                (40225, "incomplete_body", None, LB),
                (40226, "ok", Some(200), TG),
                (40227, "ok", Some(200), TG),
            ],
        ),
    ]
}

#[test]
fn real_recordings_match_their_ground_truth() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, want) in truth() {
        let Some(a) = analyze(file) else {
            failures.push(format!("{file}: missing"));
            continue;
        };
        checked += 1;
        let mut want: Vec<(u16, String, Option<u16>, Option<String>)> = want
            .into_iter()
            .map(|(p, c, s, g)| (p, c.to_string(), s, g.map(str::to_string)))
            .collect();
        let mut got: Vec<(u16, String, Option<u16>, Option<String>)> = a
            .requests
            .iter()
            .map(|r| {
                let port = r
                    .client
                    .as_deref()
                    .and_then(|c| c.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                (
                    port,
                    r.category.name().to_string(),
                    r.status,
                    r.generated_by.map(|g| g.to_string()),
                )
            })
            .collect();
        want.sort();
        got.sort();
        if want != got {
            failures.push(format!("{file}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mixed_two_nodes_shows_both_nodes_and_health_checks_apart() {
    let Some(a) = analyze("mixed_two_nodes.pcap") else {
        panic!("samples/real/mixed_two_nodes.pcap missing");
    };
    let mut nodes: Vec<String> = a.alb_nodes.iter().map(|n| n.ip.to_string()).collect();
    nodes.sort();
    assert_eq!(nodes, ["10.99.0.1", "10.99.0.2"]);
    assert!(a.health_checks.checks > 0);
    assert_eq!(
        a.summary.requests, 19,
        "health checks are not client requests"
    );
    // The target that closes idle connections after 2 s is recognised from those closes.
    let t2 = a
        .targets
        .iter()
        .find(|t| t.target.to_string() == "10.99.1.12:8080")
        .expect("target t2");
    let ka = t2
        .keepalive_timeout
        .expect("keep-alive read from idle closes")
        .as_secs_f64();
    assert!((ka - 2.0).abs() < 0.3, "{ka}");
}
