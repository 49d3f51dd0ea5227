//! Tables every renderer shows the same way (CloudWatch counterparts, per-target and
//! connection-reuse views), as plain rows of strings; each format only lays them out.

use crate::diagnose::metrics::{GroupStats, Latency};
use crate::diagnose::Analysis;
use crate::taxonomy::Category;

/// Renders seconds for a report cell: `850 µs`, `12.3 ms`, `60.000 s`, `-` when unknown.
pub fn dur(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x < 0.001 => format!("{:.0} µs", x * 1e6),
        Some(x) if x < 1.0 => format!("{:.1} ms", x * 1e3),
        Some(x) => format!("{x:.3} s"),
    }
}

/// `p50 / p90 / p99 / max` in one cell.
pub fn latency_cell(l: &Latency) -> String {
    if l.count == 0 {
        return "-".into();
    }
    format!(
        "{} / {} / {} / {}",
        dur(l.p50_s),
        dur(l.p90_s),
        dur(l.p99_s),
        dur(l.max_s)
    )
}

/// Header of the CloudWatch table.
pub const CW_HEAD: [&str; 3] = ["CloudWatch metric", "value", "from the capture"];

/// Rows of the CloudWatch table: metric name, value, what it counts here.
pub fn cloudwatch_rows(a: &Analysis) -> Vec<[String; 3]> {
    let c = &a.metrics.cloudwatch;
    let inferred = if c.elb_codes_inferred > 0 {
        format!(
            " ({} inferred: front end not captured)",
            c.elb_codes_inferred
        )
    } else {
        String::new()
    };
    let rt = &c.target_response_time;
    let n = |v: u64| v.to_string();
    vec![
        [
            "RequestCount".into(),
            n(c.request_count),
            "client requests (health checks excluded)".into(),
        ],
        [
            "HTTPCode_ELB_502_Count".into(),
            n(c.elb_502),
            "502s the ALB generated".into(),
        ],
        [
            "HTTPCode_ELB_504_Count".into(),
            n(c.elb_504),
            "504s the ALB generated".into(),
        ],
        [
            "HTTPCode_ELB_5XX_Count".into(),
            n(c.elb_5xx),
            format!("5xx the ALB generated{inferred}"),
        ],
        [
            "HTTPCode_Target_2XX_Count".into(),
            n(c.target_2xx),
            "2xx sent by targets".into(),
        ],
        [
            "HTTPCode_Target_3XX_Count".into(),
            n(c.target_3xx),
            "3xx sent by targets".into(),
        ],
        [
            "HTTPCode_Target_4XX_Count".into(),
            n(c.target_4xx),
            "4xx sent by targets".into(),
        ],
        [
            "HTTPCode_Target_5XX_Count".into(),
            n(c.target_5xx),
            "5xx sent by targets (relayed)".into(),
        ],
        [
            "TargetConnectionErrorCount".into(),
            n(c.target_connection_errors),
            "back-end connects refused, unreachable or timed out".into(),
        ],
        [
            "TargetTLSNegotiationErrorCount".into(),
            n(c.target_tls_errors),
            "back-end TLS handshakes failed or timed out".into(),
        ],
        [
            "TargetResponseTime p50/p90/p99/max".into(),
            latency_cell(rt),
            format!("request sent → response headers, {} requests", rt.count),
        ],
    ]
}

/// Header of the per-target table.
pub const TARGET_HEAD: [&str; 6] = [
    "target",
    "requests",
    "failed",
    "failures by category",
    "fresh conn: req/failed",
    "reused conn: req/failed",
];

fn cats(g: &GroupStats) -> String {
    if g.by_category.is_empty() {
        return "-".into();
    }
    g.by_category
        .iter()
        .map(|(k, v)| format!("{k} x{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of the per-target table (with a latency column appended by [`target_latency_rows`]).
pub fn target_rows(a: &Analysis) -> Vec<[String; 6]> {
    a.metrics
        .by_target
        .iter()
        .map(|(k, t)| {
            [
                if k == "-" {
                    "(no back-end attempt)".into()
                } else {
                    k.clone()
                },
                t.all.requests.to_string(),
                t.all.failed.to_string(),
                cats(&t.all),
                format!("{}/{}", t.fresh.requests, t.fresh.failed),
                format!("{}/{}", t.reused.requests, t.reused.failed),
            ]
        })
        .collect()
}

/// Header of the per-target latency table.
pub const TARGET_LAT_HEAD: [&str; 4] = [
    "target",
    "response time p50/p90/p99/max",
    "fresh conn",
    "reused conn",
];

/// Per-target latency rows (all, fresh, reused).
pub fn target_latency_rows(a: &Analysis) -> Vec<[String; 4]> {
    a.metrics
        .by_target
        .iter()
        .filter(|(k, _)| k.as_str() != "-")
        .map(|(k, t)| {
            [
                k.clone(),
                latency_cell(&t.all.latency),
                latency_cell(&t.fresh.latency),
                latency_cell(&t.reused.latency),
            ]
        })
        .collect()
}

/// Header of the connection-reuse table.
pub const REUSE_HEAD: [&str; 5] = [
    "back-end connection",
    "requests",
    "failed",
    "failures by category",
    "response time p50/p90/p99/max",
];

/// Rows of the connection-reuse table.
pub fn reuse_rows(a: &Analysis) -> Vec<[String; 5]> {
    a.metrics
        .by_connection
        .iter()
        .map(|(k, g)| {
            [
                match k.as_str() {
                    "fresh" => "fresh (opened for the request)".into(),
                    "reused" => "reused (kept alive)".into(),
                    _ => "none seen".into(),
                },
                g.requests.to_string(),
                g.failed.to_string(),
                cats(g),
                latency_cell(&g.latency),
            ]
        })
        .collect()
}

/// Column heads of [`category_rows`].
pub const CATEGORY_HEAD: [&str; 5] = ["category", "meaning", "count", "status", "generated by"];

/// One row per category of the summary: name, meaning, count, statuses ("502 x3") and who
/// generated them ("ALB 2, target 1" or "-").
pub fn category_rows(a: &Analysis) -> Vec<[String; 5]> {
    a.summary
        .by_category
        .iter()
        .map(|(name, c)| {
            let statuses: Vec<String> = c
                .statuses
                .iter()
                .map(|(k, v)| format!("{k} x{v}"))
                .collect();
            let mut by = Vec::new();
            if c.generated_by_lb > 0 {
                by.push(format!("ALB {}", c.generated_by_lb));
            }
            if c.generated_by_target > 0 {
                by.push(format!("target {}", c.generated_by_target));
            }
            [
                name.clone(),
                Category::from_name(name)
                    .map(Category::meaning)
                    .unwrap_or_default()
                    .into(),
                c.count.to_string(),
                statuses.join(", "),
                if by.is_empty() {
                    "-".into()
                } else {
                    by.join(", ")
                },
            ]
        })
        .collect()
}

/// The access-log fields of a finding as the log line would show them.
pub fn access_log_line(f: &crate::diagnose::Finding) -> String {
    let s = |v: Option<f64>| match v {
        None => "?".to_string(),
        Some(x) if x < 0.0 => "-1".into(),
        Some(x) => format!("{x:.3}"),
    };
    let al = &f.access_log;
    format!(
        "{} {} {} {} {}",
        s(al.request_processing_time),
        s(al.target_processing_time),
        s(al.response_processing_time),
        al.elb_status_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        al.target_status_code
    )
}

/// What the client got, for tables: "502 by ALB", "504 (inferred) by ALB", "none".
pub fn status_text(f: &crate::diagnose::Finding) -> String {
    let st = f
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "none".into());
    let inf = if f.status_inferred { " (inferred)" } else { "" };
    let by = match f.generated_by {
        Some(crate::taxonomy::GeneratedBy::Lb) => " by ALB",
        Some(crate::taxonomy::GeneratedBy::Target) => " by target",
        None => "",
    };
    format!("{st}{inf}{by}")
}

/// The request for tables: "GET /x", or "(TLS, opaque)" when the request could not be read.
pub fn request_text(f: &crate::diagnose::Finding) -> String {
    match (&f.method, &f.path) {
        (Some(m), Some(p)) => format!("{m} {p}"),
        _ => "(TLS, opaque)".into(),
    }
}

/// What the analysis could not see or had to cut short (input damage aside), one sentence each:
/// every counter of lost, unreadable or limited input that is not zero.
pub fn limit_notes(a: &Analysis) -> Vec<String> {
    let d = &a.stats.decode;
    let f = &a.stats.flow;
    let p = &a.stats.protocol;
    let g = &a.alb_limits;
    let mut out = Vec::new();
    let mut note = |n: u64, text: String| {
        if n > 0 {
            out.push(text);
        }
    };
    note(
        d.truncated,
        format!(
            "{} frames cut short by the snap length or the mirror (payload past the cut is missing)",
            d.truncated
        ),
    );
    note(
        d.malformed,
        format!(
            "{} frames could not be decoded and were skipped",
            d.malformed
        ),
    );
    let types: Vec<String> = d.unknown_link_types.iter().map(u32::to_string).collect();
    note(
        d.unknown_link,
        format!(
            "{} frames of a link type albscope does not read ({})",
            d.unknown_link,
            types.join(", ")
        ),
    );
    note(
        d.bad_tunnel,
        format!(
            "{} mirror tunnel packets could not be unwrapped",
            d.bad_tunnel
        ),
    );
    let fragments = d.fragments_dropped + d.reassembly_evicted + d.reassembly_expired;
    note(
        fragments,
        format!(
            "{fragments} IP fragments dropped (datagram incomplete, or over the reassembly limit)"
        ),
    );
    note(
        d.bad_checksum,
        format!(
            "{} TCP segments with a bad checksum (kept: mirrored and offloaded packets often carry one)",
            d.bad_checksum
        ),
    );
    note(
        f.evicted,
        format!(
            "{} connections closed out early because the connection table was full (--max-connections)",
            f.evicted
        ),
    );
    note(
        f.gaps,
        format!(
            "{} gaps in TCP streams ({} bytes never captured)",
            f.gaps, f.gap_bytes
        ),
    );
    note(
        f.memory_skipped_bytes,
        format!(
            "{} bytes on {} connections skipped (memory limit: the buffer budget or the \
             out-of-order cap); they may be in the capture",
            f.memory_skipped_bytes, f.memory_limited_connections
        ),
    );
    note(
        p.headers_skipped,
        format!(
            "{} header blocks skipped (memory limit): their requests are undetermined",
            p.headers_skipped
        ),
    );
    note(
        f.continuations,
        format!(
            "{} connections closed out early were seen again and followed on (counted once)",
            f.continuations
        ),
    );
    note(
        f.conflicts,
        format!(
            "{} retransmitted bytes differed from the first copy (the first was kept)",
            f.conflicts
        ),
    );
    note(
        p.requests_dropped,
        format!(
            "{} requests could not be read (bytes missing, not HTTP, or headers over the ALB's 64 KB)",
            p.requests_dropped
        ),
    );
    note(
        p.orphan_responses,
        format!(
            "{} responses answered no request seen in the capture",
            p.orphan_responses
        ),
    );
    note(
        p.queue_overflows,
        format!(
            "{} pipelined requests not followed (too many outstanding on one connection)",
            p.queue_overflows
        ),
    );
    note(
        p.tls_errors,
        format!(
            "{} TLS records or handshake messages could not be read",
            p.tls_errors
        ),
    );
    note(
        g.legs_paired_early,
        format!(
            "{} request legs were paired before their window closed because the pairing memory \
             ({} MiB, --pairing-memory) was full: some front/back pairs may be missed",
            g.legs_paired_early,
            g.pairing_budget_bytes >> 20
        ),
    );
    note(
        g.late_legs_dropped,
        format!(
            "{} back-end legs stopped waiting for a late TLS front end (too many were waiting)",
            g.late_legs_dropped
        ),
    );
    note(
        g.nodes_over_limit,
        format!(
            "{} connections of ALB nodes past the first 10 000 were not counted per node",
            g.nodes_over_limit
        ),
    );
    note(
        g.targets_over_limit,
        format!(
            "{} connections went to targets past the first 10 000, not tracked one by one",
            g.targets_over_limit
        ),
    );
    note(
        g.sessions_over_limit,
        format!(
            "{} connections came through mirror sessions not listed for their node (over 64)",
            g.sessions_over_limit
        ),
    );
    let others = a.summary.by_target.get(crate::diagnose::OTHER_TARGETS);
    note(
        others.map_or(0, |t| t.requests),
        format!(
            "{} requests to targets past the first {} share the row \"{}\"",
            others.map_or(0, |t| t.requests),
            crate::diagnose::MAX_TARGET_ROWS,
            crate::diagnose::OTHER_TARGETS
        ),
    );
    note(
        a.requests_not_kept,
        format!(
            "{} more requests are counted above but not listed (--max-requests)",
            a.requests_not_kept
        ),
    );
    out
}
