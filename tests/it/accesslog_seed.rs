//! The field article's access-log lines (seeds/000_228cbe30ade89923.txt), verbatim, each with the
//! category the article gives it.

use albscope::accesslog::{explain, parse_line};
use albscope::taxonomy::{Category, Confidence, GeneratedBy};

/// (line, category, generated_by, what the article says).
const SEED_LINES: [(&str, Category, GeneratedBy, &str); 8] = [
    (
        r#"http 2025-12-11T13:28:14.162359Z app/alb-demo/1fa8b17e4c17e7c7 13.211.35.216:46882 172.31.6.52:80 0.001 0.001 0.000 504 504 116 556 "GET http://alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com:80/ HTTP/1.1" "curl/8.11.1" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693ac6ee-3bda59cb0f9d3c69591e8c87" "-" "-" 0 2025-12-11T13:28:14.159000Z "forward" "-" "-" "172.31.6.52:80" "504" "-" "-" TID_1cda3a622035454996cd2c4a60867901 "-" "-" "-""#,
        Category::TargetGeneratedError,
        GeneratedBy::Target,
        "1: Apache's own 504, relayed",
    ),
    (
        r#"http 2025-12-11T13:25:29.260298Z app/alb-demo/1fa8b17e4c17e7c7 49.47.11.159:64058 172.31.6.52:80 -1 -1 -1 504 - 493 694 "GET http://alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com:80/ HTTP/1.1" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693ac63f-3f64318a72204f902374768c" "-" "-" 0 2025-12-11T13:25:19.259000Z "forward" "-" "-" "172.31.6.52:80" "-" "-" "-" TID_6d4d2ee3c4ccf64da4478d7b7ba08093 "-" "-" "-""#,
        Category::TargetConnectTimeout,
        GeneratedBy::Lb,
        "2: ALB 504, 10 s from creation to response",
    ),
    (
        r#"http 2025-12-11T16:42:57.298415Z app/alb-demo/1fa8b17e4c17e7c7 13.211.35.216:45530 172.31.6.52:80 -1 -1 -1 502 - 116 277 "GET http://alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com:80/ HTTP/1.1" "curl/8.11.1" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693af491-5a6814f5635754d41bcc7a78" "-" "-" 0 2025-12-11T16:42:57.297000Z "forward" "-" "-" "172.31.6.52:80" "-" "-" "-" TID_58ffb8be714132458bbf068001512610 "-" "-" "-""#,
        Category::TargetConnectRefused,
        GeneratedBy::Lb,
        "3: 502, SYN answered by RST",
    ),
    (
        r#"http 2025-12-12T06:19:41.701455Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:55614 172.31.6.52:80 0.000 11.083 -1 502 - 39 277 "GET http://52.63.142.248:80/ HTTP/1.1" "-" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693bb3f2-71b560c458bf732c4d88fcf8" "-" "-" 0 2025-12-12T06:19:28.938000Z "forward" "-" "-" "172.31.6.52:80" "-" "-" "-" TID_aedf5f6ebcb04c44bc925caec81449a4 "-" "-" "-""#,
        Category::MalformedResponse,
        GeneratedBy::Lb,
        "4: garbage response after 11.083 s",
    ),
    (
        r#"h2 2025-12-12T07:46:28.345473Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:55608 172.31.6.52:443 -1 -1 -1 502 - 42 192 "GET https://demo.ultimatenetworkwarrior.com:443/ HTTP/2.0" "curl/8.11.1" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo-https/fbf6f0e501cf0e4e "Root=1-693bc854-5f79074a0775e27e2223ebf3" "demo.ultimatenetworkwarrior.com" "arn:aws:acm:ap-southeast-2:592752082067:certificate/56609dae-79ce-4b2b-b54a-55a73dca1485" 0 2025-12-12T07:46:28.343000Z "forward" "-" "-" "172.31.6.52:443" "-" "-" "-" TID_9b58dfc3ffd1f642b5f5ce813d6f3f12 "-" "-" "-""#,
        Category::TargetTlsHandshakeFailed,
        GeneratedBy::Lb,
        "5: back-end TLS handshake rejected (cipher mismatch)",
    ),
    (
        r#"http 2025-12-12T10:59:55.716475Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:57570 172.31.6.52:80 0.001 -1 -1 502 - 104 277 "GET http://demo.ultimatenetworkwarrior.com:80/delay.php HTTP/1.1" "curl/8.11.1" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693bf591-7bbe21550445d86979e9a8d2" "-" "-" 0 2025-12-12T10:59:29.358000Z "forward" "-" "-" "172.31.6.52:80" "-" "-" "-" TID_163681a1d7e275408c1e2a4b2f2fe36d "-" "-" "-""#,
        Category::DeregistrationAbort,
        GeneratedBy::Lb,
        "6: deregistration delay ran out (26 s)",
    ),
    (
        r#"http 2025-12-12T11:56:36.046112Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:42974 172.31.6.52:80 -1 -1 -1 504 - 116 292 "GET http://alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com:80/ HTTP/1.1" "curl/8.11.1" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693c02ea-0255ce967cdbe009768fbc2e" "-" "-" 0 2025-12-12T11:56:26.046000Z "forward" "-" "-" "172.31.6.52:80" "-" "-" "-" TID_1a741ab29cde2146ac30c20a6a9c5bee "-" "-" "-""#,
        Category::TargetConnectTimeout,
        GeneratedBy::Lb,
        "7: 504, exact 10 s connect timeout",
    ),
    (
        r#"http 2025-12-12T12:25:28.147346Z app/alb-demo/1fa8b17e4c17e7c7 13.239.55.82:43630 172.31.6.52:80 0.001 -1 -1 504 - 125 292 "GET http://alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com:80/delay.php HTTP/1.1" "curl/8.11.1" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 "Root=1-693c097c-562c3d024a7d9aee7d99d8aa" "-" "-" 0 2025-12-12T12:24:28.143000Z "forward" "-" "-" "172.31.6.52:80" "-" "-" "-" TID_c1253952281bca4cb882b610f5c2220a "-" "-" "-""#,
        Category::TargetIdleTimeout,
        GeneratedBy::Lb,
        "8: 504, 60 s idle timeout",
    ),
];

#[test]
fn every_seed_line_gets_the_article_category() {
    for (line, category, by, note) in SEED_LINES {
        let entry = parse_line(line).unwrap_or_else(|e| panic!("{note}: {e}"));
        let x = explain(&entry);
        assert_eq!(x.category, category, "{note}: {x:?}");
        assert_eq!(x.generated_by, Some(by), "{note}");
        assert!(!x.reasons.is_empty(), "{note}");
        assert!(!x.fix.is_empty(), "{note}");
    }
}

#[test]
fn seed_lines_parse_all_33_fields() {
    for (line, _, _, note) in SEED_LINES {
        let e = parse_line(line).unwrap();
        assert_eq!(e.field_count, 33, "{note}");
        assert_eq!(e.extra.len(), 3, "{note}");
        assert_eq!(e.raw, line);
        assert!(e.conn_trace_id.as_deref().unwrap_or("").starts_with("TID_"));
        assert!(e.trace_id.as_deref().unwrap_or("").starts_with("Root=1-"));
        assert_eq!(
            e.target.as_ref().map(|t| t.ip.as_str()),
            Some("172.31.6.52")
        );
    }
}

#[test]
fn seed_confidences_follow_what_the_fields_can_tell() {
    let conf = |i: usize| explain(&parse_line(SEED_LINES[i].0).unwrap());
    // Relayed status: certain.
    assert_eq!(conf(0).confidence, Confidence::Certain);
    // RST vs ICMP cannot be told from the log: possible, both named.
    let refused = conf(2);
    assert_eq!(refused.confidence, Confidence::Possible);
    assert!(refused
        .also_possible
        .contains(&Category::TargetUnreachableIcmp));
    // TLS on port 443: possible, with the reason saying why.
    let tls = conf(4);
    assert_eq!(tls.confidence, Confidence::Possible);
    assert!(tls.reasons.iter().any(|r| r.contains("443")), "{tls:?}");
    // Exact 10 s / 60 s: likely.
    assert_eq!(conf(6).confidence, Confidence::Likely);
    assert_eq!(conf(7).confidence, Confidence::Likely);
    // Malformed vs header too large: named as alternative.
    assert!(conf(3)
        .also_possible
        .contains(&Category::ResponseHeaderTooLarge));
}

#[test]
fn sample_file_holds_the_same_lines() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/access-logs/seed-article.log"
    ))
    .unwrap();
    let file_lines: Vec<&str> = text.lines().collect();
    let seed: Vec<&str> = SEED_LINES.iter().map(|s| s.0).collect();
    assert_eq!(file_lines, seed);
}
