//! Plain-text lines for the access-log join, shared by every renderer: the text report prints
//! them as they are; Markdown and HTML renderers can escape and wrap the same lines.

use crate::capture::Duration;
use crate::diagnose::logjoin::{
    secs_or_minus1, Disagreement, JoinMethod, LogJoinSummary, LoggedEntry, ProcessingTime,
    TargetStatusReading,
};

/// Seconds as the access log writes them: `0.012`, or `-1` for a negative value.
fn secs(v: f64) -> String {
    if v < 0.0 {
        "-1".into()
    } else {
        format!("{v:.3}")
    }
}

/// A logged processing time as the log writes it (`-1` for none).
fn log_secs(d: Option<Duration>) -> String {
    secs(secs_or_minus1(d))
}

/// A status as the log writes it: `502`, or `-` for none.
fn status(s: Option<u16>) -> String {
    s.map_or_else(|| "-".to_string(), |s| s.to_string())
}

/// How a log entry was joined, for display: `trace id`, `client ip:port + time`, ...
pub fn join_method_text(m: JoinMethod) -> &'static str {
    match m {
        JoinMethod::TraceId => "trace id",
        JoinMethod::ClientTime => "client ip:port + time",
        JoinMethod::TargetTime => "target ip:port + time, the only candidate",
    }
}

/// The access-log field name of a processing time.
pub fn processing_time_name(p: ProcessingTime) -> &'static str {
    match p {
        ProcessingTime::Request => "request_processing_time",
        ProcessingTime::Target => "target_processing_time",
        ProcessingTime::Response => "response_processing_time",
    }
}

/// One disagreement between a log line and the capture, as one sentence naming the field.
pub fn disagreement_text(d: &Disagreement) -> String {
    match d {
        Disagreement::ElbStatus { log, capture } => format!(
            "elb_status_code: the log says {}, the capture shows {capture}",
            status(*log)
        ),
        Disagreement::TargetStatus {
            log,
            capture,
            reading,
        } => match (reading, log, capture) {
            (TargetStatusReading::LateReplyNotRelayed, Some(s), _) => format!(
                "target_status_code: the log says {s}, but the capture shows the target sent no \
                 response within the idle timeout (a late reply is answered by the ALB's RST, \
                 never relayed): that {s} is what the target's own log would say"
            ),
            (TargetStatusReading::AnsweredAfterClientLeft, _, Some(s)) => format!(
                "target_status_code: the log says -, the capture shows the target answered {s} \
                 after the client had gone (the ALB logged the request when the client closed)"
            ),
            _ => format!(
                "target_status_code: the log says {}, the capture shows {}",
                status(*log),
                status(*capture)
            ),
        },
        Disagreement::Processing {
            field,
            log,
            capture_s,
            tolerance_s,
        } => {
            let name = processing_time_name(*field);
            let log = secs_or_minus1(*log);
            match (log < 0.0, *capture_s < 0.0) {
                (true, _) => format!(
                    "{name}: the log says -1 (step never happened), the capture shows it took {} s",
                    secs(*capture_s)
                ),
                (false, true) => format!(
                    "{name}: the log says {} s, the capture shows the step never happened",
                    secs(log)
                ),
                (false, false) => format!(
                    "{name}: the log says {} s, the capture {} s (more than {tolerance_s} s apart)",
                    secs(log),
                    secs(*capture_s)
                ),
            }
        }
        Disagreement::CreationTime { log_minus_capture } => format!(
            "request_creation_time: the log's is {} {} the capture's first byte (clocks apart, or \
             the capture's timestamps are off)",
            Duration(log_minus_capture.0.saturating_abs()),
            if log_minus_capture.0 > 0 {
                "after"
            } else {
                "before"
            }
        ),
        Disagreement::Target { log, capture } => {
            format!("target: the log says {log}, the capture shows {capture}")
        }
    }
}

/// The joined log line of one request, as lines without markup: first the log's key fields in
/// the order of the capture's `access log:` view (request/target/response processing time,
/// elb_status_code, target_status_code), where the line is and how it was joined; then one line
/// per disagreement, prefixed `disagrees: `.
pub fn logged_lines(l: &LoggedEntry) -> Vec<String> {
    let mut out = vec![format!(
        "{} {} {} {} {}   client {} -> target {}, answered {} ({}, joined by {})",
        log_secs(l.request_processing_time),
        log_secs(l.target_processing_time),
        log_secs(l.response_processing_time),
        status(l.elb_status_code),
        status(l.target_status_code),
        l.client,
        l.target
            .as_ref()
            .map_or_else(|| "-".to_string(), |t| t.to_string()),
        l.time.to_rfc3339(),
        l.source,
        join_method_text(l.joined_by)
    )];
    if let Some(r) = l.error_reason.as_deref().filter(|r| *r != "-") {
        out.push(format!("error_reason: {r}"));
    }
    if l.disagreements.is_empty() {
        out.push("agrees with the capture".into());
    }
    for d in &l.disagreements {
        out.push(format!("disagrees: {}", disagreement_text(d)));
    }
    out
}

/// The join summary as lines without markup: the first is the headline, the others are
/// details (indent them one level).
pub fn join_summary_lines(s: &LogJoinSummary) -> Vec<String> {
    let mut out = vec![format!(
        "Access log: {} entries from {} file{}{}; {} of {} captured requests joined ({} by trace \
         id, {} by client ip:port + time{}), {} with disagreements",
        s.entries,
        s.files.len(),
        if s.files.len() == 1 { "" } else { "s" },
        if s.malformed_lines > 0 {
            format!(" ({} malformed lines skipped)", s.malformed_lines)
        } else {
            String::new()
        },
        s.joined,
        s.requests,
        s.joined_by_trace_id,
        s.joined_by_client_time,
        if s.joined_by_target_time > 0 {
            format!(", {} by target ip:port + time", s.joined_by_target_time)
        } else {
            String::new()
        },
        s.with_disagreements
    )];
    if let Some(c) = s.log_clock {
        let secs = c.ahead.0 as f64 / 1e9;
        out.push(format!(
            "log clock: {:.3} s {} the capture's (measured on {} requests joined by trace id); \
             the log's times were compared on the capture's clock",
            secs.abs(),
            if secs < 0.0 { "behind" } else { "ahead of" },
            c.requests
        ));
    }
    if !s.disagreeing_requests.is_empty() {
        let more = s
            .with_disagreements
            .saturating_sub(s.disagreeing_requests.len() as u64);
        out.push(format!(
            "log and capture disagree on: {}{}",
            s.disagreeing_requests
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if s.entries_not_indexed > 0 {
        out.push(format!(
            "{} log entries were read after the index was full (--max-log-entries) and not \
             joined: requests they belong to show as without entry",
            s.entries_not_indexed
        ));
    }
    out.push(format!(
        "captured requests with no log entry: {}{}",
        s.requests_without_entry,
        if s.requests_without_entry > 0 {
            " (ALB access logging is best effort; or the log does not cover them; requests \
             seen only as a failed back-end connect carry neither trace id nor client)"
        } else {
            ""
        }
    ));
    for r in &s.unlogged_requests {
        out.push(format!(
            "  {} {} client {} {} -> {} ({})",
            r.id,
            r.time.to_rfc3339(),
            r.client.map_or("?".to_string(), |c| c.to_string()),
            super::words::request_seen(&r.request),
            status(r.status),
            r.category
        ));
    }
    if s.requests_without_entry > s.unlogged_requests.len() as u64 {
        out.push(format!(
            "  ... and {} more",
            s.requests_without_entry - s.unlogged_requests.len() as u64
        ));
    }
    out.push(format!(
        "log entries with no captured request: {}{}{}",
        s.entries_without_request,
        if s.entries_without_request > 0 {
            " (another ALB node whose ENI is not mirrored, packets the mirror dropped, or a \
             leg the capture does not hold)"
        } else {
            ""
        },
        if s.entries_outside_capture > 0 {
            format!(
                " (and {} outside the capture's time span, not counted)",
                s.entries_outside_capture
            )
        } else {
            String::new()
        }
    ));
    for e in &s.uncaptured_entries {
        out.push(format!(
            "  {} {} client {} \"{}\" -> {} ({})",
            e.source,
            e.time.to_rfc3339(),
            e.client,
            e.request.as_deref().unwrap_or("-"),
            status(e.elb_status_code),
            e.trace_id.as_deref().unwrap_or("no trace id")
        ));
    }
    if s.entries_without_request > s.uncaptured_entries.len() as u64 {
        out.push(format!(
            "  ... and {} more",
            s.entries_without_request - s.uncaptured_entries.len() as u64
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreements_are_one_sentence_naming_the_field() {
        let text = |d: Disagreement| disagreement_text(&d);
        assert_eq!(
            text(Disagreement::ElbStatus {
                log: Some(200),
                capture: 504
            }),
            "elb_status_code: the log says 200, the capture shows 504"
        );
        assert!(text(Disagreement::TargetStatus {
            log: Some(200),
            capture: None,
            reading: TargetStatusReading::LateReplyNotRelayed
        })
        .contains("no response within the idle timeout"));
        assert_eq!(
            text(Disagreement::Processing {
                field: ProcessingTime::Target,
                log: Some(Duration::from_millis(70_000)),
                capture_s: -1.0,
                tolerance_s: 0.1
            }),
            "target_processing_time: the log says 70.000 s, the capture shows the step never \
             happened"
        );
        assert!(text(Disagreement::Processing {
            field: ProcessingTime::Request,
            log: None,
            capture_s: 0.0,
            tolerance_s: 0.1
        })
        .starts_with("request_processing_time: the log says -1"));
        assert_eq!(
            text(Disagreement::Processing {
                field: ProcessingTime::Response,
                log: Some(Duration::from_millis(500)),
                capture_s: 0.2,
                tolerance_s: 0.1
            }),
            "response_processing_time: the log says 0.500 s, the capture 0.200 s (more than 0.1 \
             s apart)"
        );
    }
}
