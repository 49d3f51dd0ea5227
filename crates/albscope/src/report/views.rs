//! Tables every renderer shows the same way (CloudWatch counterparts, per-target and
//! connection-reuse views), as plain rows of strings; each format only lays them out.

use crate::capture::Duration;
use crate::diagnose::metrics::{
    uncounted, ConnReuse, CwCounts, CwMetric, CwPeriod, GroupStats, Latency, Uncounted,
};
use crate::diagnose::{round3, Analysis, TargetRow};
use indexmap::IndexMap;

/// Seconds of `d` rounded to milliseconds, as every report shows a timer or span.
pub fn secs(d: Duration) -> f64 {
    round3(d.as_secs_f64())
}

/// Renders seconds for a report cell: `850 µs`, `12.3 ms`, `60.000 s`, `-` when unknown.
pub fn dur(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x < 0.001 => format!("{:.0} µs", x * 1e6),
        Some(x) if x < 1.0 => format!("{:.1} ms", x * 1e3),
        Some(x) => format!("{x:.3} s"),
    }
}

/// Seconds of a latency (whole microseconds, so exactly the microseconds over 10^6).
pub fn latency_secs(d: Duration) -> f64 {
    (d.0 / 1_000) as f64 / 1e6
}

/// `p50 / p90 / p99 / max` in one cell.
pub fn latency_cell(l: &Latency) -> String {
    if l.count == 0 {
        return "-".into();
    }
    format!(
        "{} / {} / {} / {}",
        dur(l.p50.map(latency_secs)),
        dur(l.p90.map(latency_secs)),
        dur(l.p99.map(latency_secs)),
        dur(l.max.map(latency_secs))
    )
}

/// Header of the CloudWatch table.
pub const CW_HEAD: [&str; 3] = ["CloudWatch metric", "value", "from the capture"];

/// Rows of the CloudWatch table: metric name, value, what it counts here.
pub fn cloudwatch_rows(a: &Analysis) -> Vec<[String; 3]> {
    let c = &a.metrics.cloudwatch.counts;
    let inferred = if c.elb_codes_inferred > 0 {
        format!(
            " ({} inferred: front end not captured)",
            c.elb_codes_inferred
        )
    } else {
        String::new()
    };
    let rt = &a.metrics.cloudwatch.target_response_time;
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
            "HTTPCode_ELB_503_Count".into(),
            n(c.elb_503),
            "503s the ALB generated".into(),
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

/// Most one-minute periods the text, Markdown and HTML tables list (JSON lists them all).
pub const MAX_PERIOD_ROWS: usize = 60;

/// Header of the per-minute CloudWatch table (the metric of each column in
/// [`PERIOD_COLUMNS`]).
pub const PERIOD_HEAD: [&str; 13] = [
    "minute (UTC)",
    "requests",
    "ELB 502",
    "ELB 503",
    "ELB 504",
    "ELB 5XX",
    "target 2XX",
    "target 3XX",
    "target 4XX",
    "target 5XX",
    "conn errors",
    "TLS errors",
    "resp. time avg",
];

/// What the per-minute table's columns are, in CloudWatch's names.
pub const PERIOD_COLUMNS: &str = "columns: RequestCount, HTTPCode_ELB_502/503/504/5XX_Count, \
                    HTTPCode_Target_2XX..5XX_Count, TargetConnectionErrorCount, \
                    TargetTLSNegotiationErrorCount, TargetResponseTime (Average); \
                    each request counts in the minute it arrived";

fn period_cells(label: String, c: &CwCounts, avg: Option<Duration>) -> [String; 13] {
    let n = |v: u64| v.to_string();
    [
        label,
        n(c.request_count),
        n(c.elb_502),
        n(c.elb_503),
        n(c.elb_504),
        n(c.elb_5xx),
        n(c.target_2xx),
        n(c.target_3xx),
        n(c.target_4xx),
        n(c.target_5xx),
        n(c.target_connection_errors),
        n(c.target_tls_errors),
        dur(avg.map(latency_secs)),
    ]
}

/// A period's start as the table shows it: `2024-03-05 14:02`.
pub fn minute_label(p: &CwPeriod) -> String {
    let t = p.start.to_rfc3339();
    t.get(..16).unwrap_or(&t).replace('T', " ")
}

/// Rows of the per-minute CloudWatch table: the periods with traffic (past
/// [`MAX_PERIOD_ROWS`], those with an error first, in time order), then the whole window; and
/// how many periods with traffic are not listed.
pub fn period_rows(a: &Analysis) -> (Vec<[String; 13]>, usize) {
    let m = &a.metrics;
    let errors = |p: &&CwPeriod| {
        let c = &p.counts;
        c.elb_5xx + c.target_5xx + c.target_connection_errors + c.target_tls_errors > 0
    };
    let mut shown: Vec<&CwPeriod> = if m.periods.len() > MAX_PERIOD_ROWS {
        m.periods
            .iter()
            .filter(errors)
            .take(MAX_PERIOD_ROWS)
            .collect()
    } else {
        m.periods.iter().collect()
    };
    if shown.len() < MAX_PERIOD_ROWS.min(m.periods.len()) {
        // Fill with periods without errors, keeping time order.
        let room = MAX_PERIOD_ROWS - shown.len();
        shown.extend(m.periods.iter().filter(|p| !errors(p)).take(room));
        shown.sort_by_key(|p| p.start);
    }
    let rest = m.periods.len().saturating_sub(shown.len());
    let mut rows: Vec<[String; 13]> = shown
        .iter()
        .map(|p| period_cells(minute_label(p), &p.counts, p.target_response_time_avg))
        .collect();
    let c = &m.cloudwatch;
    rows.push(period_cells(
        "whole window".into(),
        &c.counts,
        c.target_response_time.mean,
    ));
    (rows, rest)
}

/// The notes under the per-minute table: periods not listed, and why a CloudWatch metric is
/// not fully counted from this capture's vantage; one sentence each.
pub fn period_notes(a: &Analysis, not_listed: usize) -> Vec<String> {
    let mut v = Vec::new();
    if not_listed > 0 {
        v.push(format!(
            "{not_listed} more minutes with requests are not listed here (the ones with errors \
             come first; JSON `metrics.periods` has them all)"
        ));
    }
    if a.metrics.requests_past_periods > 0 {
        v.push(format!(
            "{} requests arrived after the first {} minutes with requests: they count in the \
             whole window only",
            a.metrics.requests_past_periods,
            crate::diagnose::metrics::MAX_PERIODS
        ));
    }
    v.extend(uncounted_notes(a));
    v.extend(not_visible_notes(a));
    v
}

/// What an encrypted front end seen alone leaves out of the CloudWatch counterparts.
fn not_visible_notes(a: &Analysis) -> Vec<String> {
    let s = &a.summary;
    let e = &s.encrypted_front;
    let mut v = Vec::new();
    if e.http2_exchanges > 0 {
        v.push(format!(
            "`RequestCount`: the {} exchanges on {} connections offering HTTP/2 are not counted \
             (the requests they carry cannot be counted from TLS records)",
            e.http2_exchanges, e.http2_connections
        ));
    }
    if s.outcome_not_visible > 0 {
        v.push(format!(
            "`HTTPCode_*`: the status of {} requests is encrypted (outcome not visible), so \
             they are in no code count",
            s.outcome_not_visible
        ));
    }
    v
}

/// Why a CloudWatch metric is not fully counted from this capture's vantage, one sentence each
/// (the metric's name marked as code with backticks).
pub fn uncounted_notes(a: &Analysis) -> Vec<String> {
    uncounted(a.vantage)
        .into_iter()
        .map(|u| match u {
            Uncounted::BackEndNotCaptured(m) => format!(
                "`{}`: the back end is not in the capture, so {}",
                m.name(),
                match m {
                    CwMetric::TargetCodes => {
                        "a target's answer is counted only where the capture shows it came \
                    from the target"
                    }
                    CwMetric::TargetResponseTime => "it is not measured",
                    _ => "it is counted only where the front end proves the cause",
                }
            ),
            Uncounted::FrontEndNotCaptured(m) => format!(
                "`{}`: the front end is not in the capture, so {}",
                m.name(),
                match m {
                    CwMetric::ElbCodes => {
                        "the codes are inferred from the back end, and answers the ALB gave \
                    without trying a target (503s) are missing"
                    }
                    _ => "requests the ALB answered without trying a target are missing",
                }
            ),
            Uncounted::NoAlbRecognised => {
                "no ALB traffic was recognised, so none of these counts can be trusted".into()
            }
        })
        .collect()
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

/// The row of the targets past [`crate::diagnose::MAX_TARGET_ROWS`], as tables name it.
pub const OTHER_TARGETS: &str = "(other targets)";

/// A per-target table's row name: `ip:port`, `-` (no back-end attempt) or
/// [`OTHER_TARGETS`] (as JSON keys write it).
pub fn target_row_name(row: &TargetRow) -> String {
    match row {
        TargetRow::Target(ep) => ep.to_string(),
        TargetRow::NoTarget => "-".into(),
        TargetRow::Others => OTHER_TARGETS.into(),
    }
}

/// A status for counts tables (and JSON keys): `502`, or `-` for none.
pub fn status_name(s: Option<u16>) -> String {
    s.map_or_else(|| "-".into(), |s| s.to_string())
}

/// Statuses and their counts in one cell: `502 x3, - x1`.
pub fn statuses_cell(statuses: &IndexMap<Option<u16>, u64>) -> String {
    statuses
        .iter()
        .map(|(k, v)| format!("{} x{v}", status_name(*k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A back-end connection reuse class's name (as JSON keys write it): `fresh`, `reused`,
/// `opened_before_capture`, `none`.
pub fn reuse_name(r: ConnReuse) -> &'static str {
    match r {
        ConnReuse::Fresh => "fresh",
        ConnReuse::Reused => "reused",
        ConnReuse::OpenedBeforeCapture => "opened_before_capture",
        ConnReuse::NoBackEnd => "none",
    }
}

/// How latency percentiles are computed, for the reports' latency note and JSON
/// `metrics.method`.
pub const LATENCY_METHOD: &str = "streaming log-bucket histogram (2 % buckets): percentiles \
                                  within 1 % of the exact value, max exact; over every \
                                  request, ok ones included";

/// Header of the health-check table.
pub const HEALTH_HEAD: [&str; 4] = ["target", "checks", "failed", "statuses"];

/// Rows of the health-check table: target, checks, failed, statuses (readable ones, then
/// `answered, status not visible xN` for encrypted answers: neither passed nor failed).
pub fn health_rows(a: &Analysis) -> Vec<[String; 4]> {
    a.health_checks
        .by_target
        .iter()
        .map(|(t, c)| {
            let mut statuses = statuses_cell(&c.statuses);
            if c.not_visible > 0 {
                if !statuses.is_empty() {
                    statuses.push_str(", ");
                }
                statuses.push_str(&format!("answered, status not visible x{}", c.not_visible));
            }
            [
                target_row_name(t),
                c.checks.to_string(),
                c.failed.to_string(),
                statuses,
            ]
        })
        .collect()
}

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
                if *k == TargetRow::NoTarget {
                    "(no back-end attempt)".into()
                } else {
                    target_row_name(k)
                },
                t.all.requests.to_string(),
                t.all.failed.to_string(),
                cats(&t.all),
                format!("{}/{}", t.fresh.requests, t.fresh.failed),
                reused_cell(t),
            ]
        })
        .collect()
}

/// A target's reused-connection cell: `req/failed`, plus the requests whose connection was
/// opened before the capture (fresh or reused not known), when there are any.
fn reused_cell(t: &crate::diagnose::metrics::TargetStats) -> String {
    let reused = format!("{}/{}", t.reused.requests, t.reused.failed);
    let unknown = &t.opened_before_capture;
    if unknown.requests == 0 {
        return reused;
    }
    format!(
        "{reused} (+ {}/{} on connections opened before the capture: fresh or reused unknown)",
        unknown.requests, unknown.failed
    )
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
        .filter(|(k, _)| **k != TargetRow::NoTarget)
        .map(|(k, t)| {
            [
                target_row_name(k),
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
                match k {
                    ConnReuse::Fresh => "fresh (opened for the request)".into(),
                    ConnReuse::Reused => "reused (kept alive)".into(),
                    ConnReuse::OpenedBeforeCapture => {
                        "opened before the capture (fresh or reused unknown)".into()
                    }
                    ConnReuse::NoBackEnd => "none seen".into(),
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
        .map(|(cat, c)| {
            let mut by = Vec::new();
            if c.generated_by_lb > 0 {
                by.push(format!("ALB {}", c.generated_by_lb));
            }
            if c.generated_by_target > 0 {
                by.push(format!("target {}", c.generated_by_target));
            }
            [
                cat.name().into(),
                cat.meaning().into(),
                c.count.to_string(),
                statuses_cell(&c.statuses),
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
    super::words::access_log_line(&f.access_log)
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

/// A failure's status in a sentence: the code and who generated it, how it was inferred when
/// not seen, or why there is none.
pub fn status_sentence(f: &crate::diagnose::Finding) -> String {
    use crate::diagnose::Cause;
    use crate::taxonomy::{Category, GeneratedBy};
    let who = match f.generated_by {
        Some(GeneratedBy::Lb) => "the ALB generated it",
        Some(GeneratedBy::Target) => "the target generated it (relayed by the ALB)",
        None if f.status.is_some() => "who generated it is not proved by the capture",
        None => "nobody answered",
    };
    match (f.status, f.category) {
        (Some(s), _) => format!(
            "{s}{} - {who}",
            match (f.status_inferred, &f.client) {
                (true, Some(_)) if f.front_encrypted => {
                    " (inferred from the back end: the front end is encrypted)"
                }
                (true, Some(_)) => {
                    " (inferred from the back end: the answer to the client is not in the capture)"
                }
                (true, None) => {
                    " (inferred from the back end: the front end is not in the capture)"
                }
                _ => "",
            }
        ),
        (None, Category::IncompleteBody) => {
            "no complete response: the client got headers and part of the body, then the ALB \
             closed the connection"
                .to_string()
        }
        (None, Category::ClientClosed) => {
            "none: the client had gone (the ALB logs 460)".to_string()
        }
        (None, _) if matches!(f.cause, Cause::AnsweredStatusNotVisible) => {
            "not visible: the target's answer is encrypted (TLS) and the front end is not in \
             the capture (or not readable), so neither the status nor what the client got (the \
             target's answer relayed, or the ALB's own error) can be read; none is guessed"
                .to_string()
        }
        (None, _) if matches!(f.cause, Cause::TlsAnswer) => {
            "not visible: the target's answer is encrypted (TLS)".to_string()
        }
        (None, _)
            if matches!(
                f.cause,
                Cause::OutcomeNotVisible
                    | Cause::EncryptedMaybeAlbError
                    | Cause::EncryptedAnswerUnmatched
            ) =>
        {
            "not visible: the ALB's answer to the client is encrypted (TLS) and the back end \
             is not in the capture, so neither its status nor who generated it (the ALB or a \
             target) can be read; none is guessed"
                .to_string()
        }
        // Seen from the back end alone, the answer to the client is not in the capture:
        // nothing says nobody answered.
        (None, Category::Undetermined) if f.client.is_none() && f.target.is_some() => {
            "not seen: the front end is not in the capture".to_string()
        }
        (None, _) => match &f.client_stream_reset {
            Some(r) => super::words::client_stream_reset(r),
            None => format!("none seen - {who}"),
        },
    }
}

/// What the access-log view's columns are, and what `-1` and `?` mean.
pub const ACCESS_LOG_COLUMNS: &str = "request/target/response processing time, elb_status_code, \
     target_status_code; -1 = never happened, ? = not in the capture";

/// The request for tables: "GET /x", or "(TLS, opaque)" when the request could not be read.
pub fn request_text(f: &crate::diagnose::Finding) -> String {
    match (&f.method, &f.path) {
        (Some(m), Some(p)) => format!("{m} {p}"),
        _ => "(TLS, opaque)".into(),
    }
}

/// Which requests a report's list of requests holds, for its title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestList {
    /// The failed requests (and those still in flight at the end of the capture); the ok
    /// requests, where kept, are listed apart (Markdown, HTML).
    Failures,
    /// Every kept request, ok ones included where kept (the text report).
    Kept,
}

/// The title of a report's list of requests, the same rule in every format: the requests
/// still in flight when the capture ended are listed with the failed ones but are not failures,
/// so a list that holds some says so; with the ok requests kept in the same list it is
/// "Requests".
pub fn request_list_title(a: &Analysis, list: RequestList) -> &'static str {
    if list == RequestList::Kept && a.includes_ok {
        "Requests"
    } else if a.summary.in_flight_at_end > 0 {
        "Failed requests, and requests in flight at the end of the capture"
    } else {
        "Failed requests"
    }
}

/// How many requests the list of failed requests stands for: the failed ones and those still
/// in flight at the end of the capture (kept or only counted), at least `listed`.
pub fn failures_total(a: &Analysis, listed: usize) -> u64 {
    (a.summary.failed + a.summary.in_flight_at_end).max(listed as u64)
}

/// Header of the ok-requests list (`--all`), shown compactly after the failed requests.
pub const OK_HEAD: [&str; 6] = ["time (UTC)", "id", "status", "request", "client", "target"];

/// The ok requests of the analysis (kept with `--all`), one compact row each, at most `max`;
/// and how many ok requests are counted in the summary but not listed (past `max` or past
/// `--max-requests`).
pub fn ok_rows(a: &Analysis, max: usize) -> (Vec<[String; 6]>, u64) {
    let rows: Vec<[String; 6]> = a
        .requests
        .iter()
        .filter(|f| !f.category.is_failure())
        .take(max)
        .map(|f| {
            [
                super::words::time_of_day(f.time),
                f.id.to_string(),
                status_text(f),
                request_text(f),
                f.client.map_or_else(|| "-".into(), |c| c.to_string()),
                f.target.map_or_else(|| "-".into(), |t| t.to_string()),
            ]
        })
        .collect();
    let rest = a.summary.ok.saturating_sub(rows.len() as u64);
    (rows, rest)
}
