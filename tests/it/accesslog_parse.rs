//! Parser tolerance and the explanation of entries beyond the article's examples.

use albscope::accesslog::{explain, explain_with, parse_line, ExplainOptions};
use albscope::capture::Duration;
use albscope::taxonomy::{Category, Confidence, GeneratedBy};
use proptest::prelude::*;

/// The 33 fields of a current log line, as tokens (quoted ones with their quotes).
fn base() -> Vec<String> {
    [
        "http",
        "2025-12-12T10:00:10.500000Z",
        "app/alb-demo/1fa8b17e4c17e7c7",
        "13.239.55.82:57570",
        "172.31.6.52:80",
        "0.001",
        "-1",
        "-1",
        "502",
        "-",
        "104",
        "277",
        r#""GET http://example.com:80/ HTTP/1.1""#,
        r#""curl/8.11.1""#,
        "-",
        "-",
        "arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841",
        r#""Root=1-693bf591-7bbe21550445d86979e9a8d2""#,
        r#""-""#,
        r#""-""#,
        "0",
        "2025-12-12T10:00:10.480000Z",
        r#""forward""#,
        r#""-""#,
        r#""-""#,
        r#""172.31.6.52:80""#,
        r#""-""#,
        r#""-""#,
        r#""-""#,
        "TID_163681a1d7e275408c1e2a4b2f2fe36d",
        r#""-""#,
        r#""-""#,
        r#""-""#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn with(changes: &[(usize, &str)]) -> String {
    let mut f = base();
    for (i, v) in changes {
        f[*i] = v.to_string();
    }
    f.join(" ")
}

#[test]
fn older_logs_with_fewer_trailing_fields_parse() {
    let f = base();
    for n in [12usize, 18, 20, 25, 27, 29, 30] {
        let line = f[..n].join(" ");
        let e = parse_line(&line).unwrap_or_else(|err| panic!("{n} fields: {err}"));
        assert_eq!(e.field_count, n);
        assert_eq!(e.elb_status_code, Some(502));
        assert!(e.extra.is_empty());
        assert_eq!(e.request_creation_time.is_some(), n > 21);
        assert_eq!(e.conn_trace_id.is_some(), n > 29);
    }
    assert!(parse_line(&f[..11].join(" ")).is_err());
}

#[test]
fn extra_trailing_fields_are_kept() {
    let mut f = base();
    f[30] = r#""api.example.com""#.into();
    f[32] = r#""TransformSucceeded""#.into();
    f.push(r#""future \"field\"""#.into());
    f.push("bare".into());
    let e = parse_line(&f.join(" ")).unwrap();
    assert_eq!(e.field_count, 35);
    assert_eq!(
        e.extra,
        vec![
            "api.example.com",
            "-",
            "TransformSucceeded",
            r#"future "field""#,
            "bare"
        ]
    );
    assert_eq!(e.extra_field("transformed_host"), Some("api.example.com"));
    assert_eq!(e.extra_field("transformed_uri"), None);
    assert_eq!(
        e.extra_field("request_transform_status"),
        Some("TransformSucceeded")
    );
}

#[test]
fn quoted_fields_with_escaped_quotes_and_spaces() {
    let line = with(&[
        (
            12,
            r#""GET http://example.com:80/a%20b?q=\"x y\" HTTP/1.1""#,
        ),
        (13, r#""Mozilla/5.0 (X11; \"quoted\" \\ back)""#),
    ]);
    let e = parse_line(&line).unwrap();
    assert_eq!(
        e.request.as_deref(),
        Some(r#"GET http://example.com:80/a%20b?q="x y" HTTP/1.1"#)
    );
    assert_eq!(
        e.user_agent.as_deref(),
        Some(r#"Mozilla/5.0 (X11; "quoted" \ back)"#)
    );
    assert_eq!(e.field_count, 33);
}

#[test]
fn ipv6_clients_and_targets() {
    let e = parse_line(&with(&[(3, "[2001:db8::1]:443"), (4, "2001:db8::2:8080")])).unwrap();
    assert_eq!(e.client.ip, "2001:db8::1");
    assert_eq!(e.client.port, Some(443));
    let t = e.target.unwrap();
    assert_eq!((t.ip.as_str(), t.port), ("2001:db8::2", Some(8080)));
    assert_eq!(t.to_string(), "[2001:db8::2]:8080");
}

#[test]
fn dash_and_minus_one_become_none() {
    let e = parse_line(&with(&[
        (4, "-"),
        (5, "-1"),
        (9, "-"),
        (20, "-"),
        (21, "-"),
    ]))
    .unwrap();
    assert!(e.target.is_none());
    assert!(e.request_processing_time.is_none());
    assert!(e.target_status_code.is_none());
    assert!(e.matched_rule_priority.is_none());
    assert!(e.request_creation_time.is_none());
    assert!(e.domain_name.is_none());
    let rule_error = parse_line(&with(&[(20, "-1")])).unwrap();
    assert_eq!(rule_error.matched_rule_priority, Some(-1));
}

#[test]
fn malformed_lines_name_the_field() {
    let cases = [
        (with(&[(1, "yesterday")]), "time"),
        (with(&[(8, "5O2")]), "elb_status_code"),
        (with(&[(5, "fast")]), "request_processing_time"),
        (with(&[(3, "13.239.55.82:port")]), "client:port"),
        (with(&[(10, "-5")]), "received_bytes"),
        (with(&[(21, "2025-12-12")]), "request_creation_time"),
    ];
    for (line, field) in cases {
        let err = parse_line(&line).unwrap_err();
        assert_eq!(err.field, Some(field), "{err}");
        assert!(err.to_string().contains(field));
    }
    let unterminated =
        parse_line(r#"http 2025-12-12T10:00:10.500000Z a 1.2.3.4:5 - -1 -1 -1 400 - 0 0 "GET /"#);
    assert!(unterminated.unwrap_err().reason.contains("never closed"));
    assert!(parse_line("").is_err());
    assert!(parse_line("hello world").is_err());
}

#[test]
fn crlf_line_endings_are_tolerated() {
    let line = format!("{}\r", with(&[]));
    assert_eq!(parse_line(&line).unwrap().field_count, 33);
}

fn cat(line: &str) -> (Category, Confidence) {
    let x = explain(&parse_line(line).unwrap());
    (x.category, x.confidence)
}

#[test]
fn keepalive_race_hint_when_closed_right_after_dispatch() {
    // 0.001 -1 -1 502 -, 20 ms after the request arrived.
    let x = explain(&parse_line(&with(&[])).unwrap());
    assert_eq!(x.category, Category::TargetClosedBeforeResponse);
    assert!(x.also_possible.contains(&Category::KeepaliveRace));
    assert!(x.reasons.iter().any(|r| r.contains("keep-alive")));
    assert_eq!(x.generated_by, Some(GeneratedBy::Lb));
}

#[test]
fn idle_timeout_option_is_honoured() {
    // 0.001 -1 -1 504 - after 30 s: an idle timeout only if it is set to 30 s.
    let line = with(&[(8, "504"), (1, "2025-12-12T10:00:40.480000Z")]);
    let e = parse_line(&line).unwrap();
    let default = explain(&e);
    assert_eq!(default.category, Category::TargetIdleTimeout);
    assert_eq!(default.confidence, Confidence::Possible);
    let opts = ExplainOptions {
        idle_timeout: Duration(30_000_000_000),
    };
    assert_eq!(explain_with(&e, &opts).confidence, Confidence::Likely);
}

#[test]
fn status_codes_the_alb_generates_itself() {
    assert_eq!(
        cat(&with(&[(8, "460"), (5, "-1")])),
        (Category::ClientClosed, Confidence::Certain)
    );
    assert_eq!(
        cat(&with(&[(8, "503"), (4, "-"), (5, "-1"), (25, r#""-""#)])),
        (Category::NoTargetAttempt, Confidence::Certain)
    );
    let xff = explain(&parse_line(&with(&[(8, "463"), (4, "-"), (5, "-1")])).unwrap());
    assert_eq!(xff.category, Category::NoTargetAttempt);
    assert!(xff.reasons.iter().any(|r| r.contains("X-Forwarded-For")));
    let fixed = explain(
        &parse_line(&with(&[
            (8, "404"),
            (4, "-"),
            (5, "-1"),
            (22, r#""fixed-response""#),
        ]))
        .unwrap(),
    );
    assert!(fixed.reasons.iter().any(|r| r.contains("fixed")));
    let desync = explain(
        &parse_line(&with(&[
            (8, "400"),
            (4, "-"),
            (5, "-1"),
            (27, r#""Severe""#),
            (28, r#""BadContentLength""#),
        ]))
        .unwrap(),
    );
    assert!(desync
        .reasons
        .iter()
        .any(|r| r.contains("BadContentLength")));
}

#[test]
fn relayed_target_errors_of_any_status() {
    let x =
        explain(&parse_line(&with(&[(8, "500"), (9, "500"), (6, "0.200"), (7, "0.000")])).unwrap());
    assert_eq!(
        (x.category, x.generated_by),
        (Category::TargetGeneratedError, Some(GeneratedBy::Target))
    );
    let x =
        explain(&parse_line(&with(&[(8, "404"), (9, "404"), (6, "0.002"), (7, "0.000")])).unwrap());
    assert_eq!(x.category, Category::TargetGeneratedError);
}

#[test]
fn error_reason_drives_lambda_auth_and_waf_entries() {
    let lambda = with(&[
        (4, "-"),
        (5, "0.000"),
        (6, "0.001"),
        (7, "0.000"),
        (24, r#""LambdaInvalidResponse""#),
        (25, r#""-""#),
    ]);
    assert_eq!(
        cat(&lambda),
        (Category::MalformedResponse, Confidence::Certain)
    );
    let throttled = with(&[(4, "-"), (8, "503"), (24, r#""LambdaThrottling""#)]);
    assert_eq!(
        cat(&throttled),
        (Category::NoTargetAttempt, Confidence::Certain)
    );
    let idp = explain(
        &parse_line(&with(&[
            (4, "-"),
            (8, "500"),
            (5, "-1"),
            (24, r#""AuthTokenEpRequestTimeout""#),
        ]))
        .unwrap(),
    );
    assert_eq!(idp.category, Category::NoTargetAttempt);
    assert!(idp.reasons.iter().any(|r| r.contains("identity provider")));
    let waf = with(&[
        (4, "-"),
        (8, "500"),
        (5, "-1"),
        (24, r#""WAFConnectionTimeout""#),
    ]);
    assert_eq!(cat(&waf).0, Category::NoTargetAttempt);
}

#[test]
fn connect_failures_without_dispatch() {
    // -1 -1 -1 502 after 3 s: ICMP host unreachable fits better than RST; both named.
    let slow =
        explain(&parse_line(&with(&[(5, "-1"), (1, "2025-12-12T10:00:13.480000Z")])).unwrap());
    assert_eq!(slow.category, Category::TargetUnreachableIcmp);
    assert_eq!(slow.confidence, Confidence::Possible);
    assert!(slow.also_possible.contains(&Category::TargetConnectRefused));
    assert!(slow
        .also_possible
        .contains(&Category::TargetClosedBeforeResponse));
    // -1 -1 -1 504 after the idle timeout: idle timeout, not connect timeout.
    let idle = with(&[(5, "-1"), (8, "504"), (1, "2025-12-12T10:01:10.490000Z")]);
    assert_eq!(
        cat(&idle),
        (Category::TargetIdleTimeout, Confidence::Likely)
    );
    // -1 -1 -1 504 after 10 s to port 443: TLS handshake timeout named as alternative.
    let tls = explain(
        &parse_line(&with(&[
            (5, "-1"),
            (8, "504"),
            (4, "10.0.0.9:443"),
            (1, "2025-12-12T10:00:20.481000Z"),
        ]))
        .unwrap(),
    );
    assert_eq!(tls.category, Category::TargetConnectTimeout);
    assert!(tls
        .also_possible
        .contains(&Category::TargetTlsHandshakeTimeout));
}

#[test]
fn success_entries_are_ok() {
    let x =
        explain(&parse_line(&with(&[(8, "200"), (9, "200"), (6, "0.010"), (7, "0.000")])).unwrap());
    assert_eq!(
        (x.category, x.generated_by),
        (Category::Ok, Some(GeneratedBy::Target))
    );
    let redirect = explain(
        &parse_line(&with(&[
            (8, "301"),
            (4, "-"),
            (5, "-1"),
            (22, r#""redirect""#),
        ]))
        .unwrap(),
    );
    assert_eq!(
        (redirect.category, redirect.generated_by),
        (Category::Ok, Some(GeneratedBy::Lb))
    );
}

proptest! {
    #[test]
    fn random_text_never_panics(s in ".{0,400}") {
        let _ = parse_line(&s);
    }

    #[test]
    fn mutated_lines_never_panic(cut in 0usize..600, junk in "[ \"\\\\a-z0-9:.\\-\\[\\]]{0,20}") {
        let line = with(&[]);
        let at = cut.min(line.len());
        let (a, b) = line.split_at(at);
        let mutated = format!("{a}{junk}{b}");
        if let Ok(e) = parse_line(&mutated) {
            let _ = explain(&e);
        }
        let _ = parse_line(a);
    }
}
