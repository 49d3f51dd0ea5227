//! Plain-text lines for the access-log join, shared by every renderer: the text report prints
//! them as they are; Markdown and HTML renderers can escape and wrap the same lines.

use crate::diagnose::logjoin::{LogJoinSummary, LoggedEntry};

fn secs(v: f64) -> String {
    if v < 0.0 {
        "-1".into()
    } else {
        format!("{v:.3}")
    }
}

/// The joined log line of one request, as lines without markup: first the log's key fields in
/// the order of the capture's `access log:` view (request/target/response processing time,
/// elb_status_code, target_status_code), where the line is and how it was joined; then one line
/// per disagreement, prefixed `disagrees: `.
pub fn logged_lines(l: &LoggedEntry) -> Vec<String> {
    let mut out = vec![format!(
        "{} {} {} {} {}   client {} -> target {}, answered {} ({}, joined by {})",
        secs(l.request_processing_time),
        secs(l.target_processing_time),
        secs(l.response_processing_time),
        l.elb_status_code
            .map_or_else(|| "-".to_string(), |s| s.to_string()),
        l.target_status_code,
        l.client,
        l.target.as_deref().unwrap_or("-"),
        l.time,
        l.source,
        l.joined_by.describe()
    )];
    if let Some(r) = l.error_reason.as_deref().filter(|r| *r != "-") {
        out.push(format!("error_reason: {r}"));
    }
    if l.disagreements.is_empty() {
        out.push("agrees with the capture".into());
    }
    for d in &l.disagreements {
        out.push(format!("disagrees: {d}"));
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
    if !s.disagreeing_requests.is_empty() {
        let more = s
            .with_disagreements
            .saturating_sub(s.disagreeing_requests.len() as u64);
        out.push(format!(
            "log and capture disagree on: {}{}",
            s.disagreeing_requests.join(", "),
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
            r.time,
            r.client.as_deref().unwrap_or("?"),
            r.request,
            r.status.map_or_else(|| "-".to_string(), |s| s.to_string()),
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
            e.time,
            e.client,
            e.request.as_deref().unwrap_or("-"),
            e.elb_status_code
                .map_or_else(|| "-".to_string(), |s| s.to_string()),
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
