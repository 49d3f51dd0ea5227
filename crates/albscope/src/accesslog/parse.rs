//! One access-log line to one [`LogEntry`]: a quote-aware tokenizer, then field conversion.

use super::{HostPort, LogEntry, LogParseError};
use crate::capture::{Duration, Timestamp};

/// Fewest fields a line must have: `type` through `sent_bytes`. Older logs stop earlier than the
/// current 33 fields; every field after the twelfth is optional.
pub const MIN_FIELDS: usize = 12;

/// Names of the documented fields, in order (AWS "Access log entries", Application Load Balancer).
pub const FIELD_NAMES: [&str; 30] = [
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
];

/// Fields that AWS appended after `conn_trace_id` (kept in [`LogEntry::extra`], in this order).
pub const EXTRA_FIELD_NAMES: [&str; 3] = [
    "transformed_host",
    "transformed_uri",
    "request_transform_status",
];

/// Most fields kept per line; later ones are ignored (a cap on memory per line).
const MAX_FIELDS: usize = 64;

/// One field as it appears in the line: its text without surrounding quotes.
#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    text: &'a str,
    /// Holds a backslash escape that [`unescape`] must resolve.
    escaped: bool,
}

/// Splits a line into fields: runs of spaces or tabs separate them, a field that starts with `"`
/// runs to the next unescaped `"` (a backslash escapes the next character).
fn tokenize<'a>(line: &'a str, out: &mut Vec<Token<'a>>) -> Result<(), LogParseError> {
    let bytes = line.as_bytes();
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b' ') | Some(b'\t') => {
                i += 1;
                continue;
            }
            Some(b'"') => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                let mut closed = None;
                while let Some(&b) = bytes.get(j) {
                    match b {
                        b'\\' => {
                            escaped = true;
                            j += 2;
                        }
                        b'"' => {
                            closed = Some(j);
                            break;
                        }
                        _ => j += 1,
                    }
                }
                let Some(end) = closed else {
                    return Err(field_error(
                        out.len(),
                        format!("quoted field opened at byte {} is never closed", i + 1),
                    ));
                };
                match bytes.get(end + 1) {
                    None | Some(b' ') | Some(b'\t') => {}
                    Some(_) => {
                        return Err(field_error(
                            out.len(),
                            format!("text right after the closing quote at byte {}", end + 1),
                        ))
                    }
                }
                if out.len() < MAX_FIELDS {
                    out.push(Token {
                        text: line.get(start..end).unwrap_or(""),
                        escaped,
                    });
                }
                i = end + 1;
            }
            Some(_) => {
                let start = i;
                while let Some(&b) = bytes.get(i) {
                    if b == b' ' || b == b'\t' {
                        break;
                    }
                    i += 1;
                }
                if out.len() < MAX_FIELDS {
                    out.push(Token {
                        text: line.get(start..i).unwrap_or(""),
                        escaped: false,
                    });
                }
            }
            None => break,
        }
    }
    Ok(())
}

/// Resolves `\"` and `\\`; any other backslash sequence (`\x00`, as AWS writes control bytes) is
/// kept as written.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn field_error(index: usize, reason: String) -> LogParseError {
    LogParseError {
        field: FIELD_NAMES.get(index).copied(),
        field_index: Some(index + 1),
        reason,
    }
}

/// Parses one access-log line (without its line terminator; a trailing `\r` is ignored).
///
/// Errors name the field (1-based) and why it was rejected; the caller adds file and line.
pub fn parse_line(line: &str) -> Result<LogEntry, LogParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut tokens = Vec::with_capacity(40);
    tokenize(line, &mut tokens)?;
    if tokens.len() < MIN_FIELDS {
        return Err(LogParseError {
            field: None,
            field_index: None,
            reason: format!(
                "{} fields, an access-log line has at least {MIN_FIELDS} (type .. sent_bytes)",
                tokens.len()
            ),
        });
    }
    let tok = |i: usize| tokens.get(i).copied();
    let text = |i: usize| tok(i).map(|t| t.text).unwrap_or("-");

    let kind = text(0);
    if kind == "-" || kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(field_error(
            0,
            format!("request type {kind:?} is not a word"),
        ));
    }
    let time = parse_rfc3339(text(1)).map_err(|r| field_error(1, r))?;
    let client = HostPort::parse(text(3)).map_err(|r| field_error(3, r))?;
    let target = match text(4) {
        "-" => None,
        t => Some(HostPort::parse(t).map_err(|r| field_error(4, r))?),
    };
    let request_processing_time = parse_seconds(text(5)).map_err(|r| field_error(5, r))?;
    let target_processing_time = parse_seconds(text(6)).map_err(|r| field_error(6, r))?;
    let response_processing_time = parse_seconds(text(7)).map_err(|r| field_error(7, r))?;
    let elb_status_code = parse_status(text(8)).map_err(|r| field_error(8, r))?;
    let target_status_code = parse_status(text(9)).map_err(|r| field_error(9, r))?;
    let received_bytes = parse_count(text(10)).map_err(|r| field_error(10, r))?;
    let sent_bytes = parse_count(text(11)).map_err(|r| field_error(11, r))?;
    let opt = |i: usize| tok(i).and_then(opt_string);
    let matched_rule_priority = match text(20) {
        "-" => None,
        t => Some(
            t.parse::<i32>()
                .map_err(|_| field_error(20, format!("rule priority {t:?} is not a number")))?,
        ),
    };
    let request_creation_time = match text(21) {
        "-" => None,
        t => Some(parse_rfc3339(t).map_err(|r| field_error(21, r))?),
    };
    let extra = tokens
        .iter()
        .skip(FIELD_NAMES.len())
        .map(|t| {
            if t.escaped {
                unescape(t.text)
            } else {
                t.text.to_string()
            }
        })
        .collect();
    Ok(LogEntry {
        kind: kind.to_string(),
        time,
        elb: text(2).to_string(),
        client,
        target,
        request_processing_time,
        target_processing_time,
        response_processing_time,
        elb_status_code,
        target_status_code,
        received_bytes,
        sent_bytes,
        request: opt(12),
        user_agent: opt(13),
        ssl_cipher: opt(14),
        ssl_protocol: opt(15),
        target_group_arn: opt(16),
        trace_id: opt(17),
        domain_name: opt(18),
        chosen_cert_arn: opt(19),
        matched_rule_priority,
        request_creation_time,
        actions_executed: opt(22),
        redirect_url: opt(23),
        error_reason: opt(24),
        target_port_list: opt(25),
        target_status_code_list: opt(26),
        classification: opt(27),
        classification_reason: opt(28),
        conn_trace_id: opt(29),
        extra,
        field_count: tokens.len(),
        raw: line.to_string(),
    })
}

/// `-` (and an empty quoted field) is "not set".
fn opt_string(t: Token<'_>) -> Option<String> {
    if t.text == "-" || t.text.is_empty() {
        None
    } else if t.escaped {
        Some(unescape(t.text))
    } else {
        Some(t.text.to_string())
    }
}

/// A processing time in seconds (`0.001`); `-1` (the step never happened) and `-` are `None`.
fn parse_seconds(t: &str) -> Result<Option<Duration>, String> {
    if t == "-1" || t == "-" || t == "-1.0" || t == "-1.000" {
        return Ok(None);
    }
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 10 || !digits_ok(int) || !digits_ok(frac) {
        return Err(format!("{t:?} is not a time in seconds"));
    }
    let secs: i64 = int
        .parse()
        .map_err(|_| format!("{t:?} is not a time in seconds"))?;
    let mut nanos: i64 = 0;
    let mut scale: i64 = 100_000_000;
    for b in frac.bytes().take(9) {
        nanos += i64::from(b - b'0') * scale;
        scale /= 10;
    }
    Ok(Some(Duration(
        secs.saturating_mul(1_000_000_000).saturating_add(nanos),
    )))
}

/// An HTTP status code (100..=999, ALB logs `000` too) or `-`.
fn parse_status(t: &str) -> Result<Option<u16>, String> {
    if t == "-" {
        return Ok(None);
    }
    if t.len() != 3 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("status code {t:?} is not three digits"));
    }
    t.parse::<u16>()
        .map(Some)
        .map_err(|_| format!("status code {t:?} is not a number"))
}

/// A byte count or `-`.
fn parse_count(t: &str) -> Result<Option<u64>, String> {
    if t == "-" {
        return Ok(None);
    }
    t.parse::<u64>()
        .map(Some)
        .map_err(|_| format!("byte count {t:?} is not a number"))
}

/// Parses an RFC 3339 time as ALB writes it (`2025-12-11T16:42:57.298415Z`); also accepts a
/// numeric offset (`+02:00`) and any number of fraction digits (nanoseconds kept).
pub fn parse_rfc3339(t: &str) -> Result<Timestamp, String> {
    let bad = || format!("{t:?} is not an RFC 3339 time");
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = b.get(from..from + len)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return Err(bad());
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return Err(bad());
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return Err(format!("{t:?} has a field out of range"));
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if sep(i, b".,") {
        i += 1;
        let mut scale: i64 = 100_000_000;
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            nanos += i64::from(d - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset_secs = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(&s @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
            let (Some(oh), Some(om)) = (num(i + 1, 2), num(i + 4, 2)) else {
                return Err(bad());
            };
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if s == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec.min(59) - offset_secs;
    Ok(Timestamp::from_parts(secs, nanos as u32))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_capture_rendering() {
        for s in [
            "2025-12-11T16:42:57.298415Z",
            "1970-01-01T00:00:00.000000Z",
            "2024-02-29T23:59:59.999999Z",
            "2000-03-01T12:00:00.000001Z",
        ] {
            let ts = parse_rfc3339(s).unwrap();
            assert_eq!(ts.to_rfc3339(), s);
        }
    }

    #[test]
    fn rfc3339_offsets_and_fractions() {
        let z = parse_rfc3339("2025-12-11T16:42:57Z").unwrap();
        let plus = parse_rfc3339("2025-12-11T18:42:57+02:00").unwrap();
        assert_eq!(z, plus);
        let nano = parse_rfc3339("2025-12-11T16:42:57.123456789Z").unwrap();
        assert_eq!(nano.0 - z.0, 123_456_789);
    }

    #[test]
    fn rfc3339_rejects_garbage() {
        for s in [
            "",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-12-11T24:00:00Z",
            "2025-12-11T16:42:57.Z",
            "2025-12-11T16:42:57",
            "2025-12-11T16:42:57.1Zx",
            "2025/12/11T16:42:57Z",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s}");
        }
    }

    #[test]
    fn seconds_fields() {
        assert_eq!(parse_seconds("-1").unwrap(), None);
        assert_eq!(parse_seconds("0.001").unwrap(), Some(Duration(1_000_000)));
        assert_eq!(
            parse_seconds("11.083").unwrap(),
            Some(Duration(11_083_000_000))
        );
        assert_eq!(parse_seconds("3").unwrap(), Some(Duration(3_000_000_000)));
        assert!(parse_seconds("-2").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("1e3").is_err());
        assert!(parse_seconds(".5").is_err());
    }

    #[test]
    fn tokenizer_handles_quotes_and_escapes() {
        let mut out = Vec::new();
        tokenize(r#"a "b c" "d \"e\" \\ f" -"#, &mut out).unwrap();
        let texts: Vec<_> = out.iter().map(|t| t.text).collect();
        assert_eq!(texts, vec!["a", "b c", r#"d \"e\" \\ f"#, "-"]);
        assert_eq!(unescape(out[2].text), r#"d "e" \ f"#);
        assert!(tokenize(r#"a "b c"#, &mut Vec::new()).is_err());
        assert!(tokenize(r#"a "b"c d"#, &mut Vec::new()).is_err());
    }

    #[test]
    fn host_port_forms() {
        let v4 = HostPort::parse("10.0.0.1:80").unwrap();
        assert_eq!((v4.ip.as_str(), v4.port), ("10.0.0.1", Some(80)));
        let v6 = HostPort::parse("[::1]:443").unwrap();
        assert_eq!((v6.ip.as_str(), v6.port), ("::1", Some(443)));
        assert_eq!(v6.to_string(), "[::1]:443");
        let bare6 = HostPort::parse("2001:db8::7:51234").unwrap();
        assert_eq!(
            (bare6.ip.as_str(), bare6.port),
            ("2001:db8::7", Some(51234))
        );
        assert!(HostPort::parse("10.0.0.1:http").is_err());
        assert!(HostPort::parse("[::1").is_err());
        assert!(HostPort::parse("10.0.0.1\x1b[31m:80").is_err());
        assert_eq!(
            HostPort::parse("[fe80::1%eth0]:443").unwrap().ip,
            "fe80::1%eth0"
        );
    }
}
