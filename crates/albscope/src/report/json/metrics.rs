//! The `metrics` block of the JSON document.

use super::document::by_category;
use crate::alb::Vantage;
use crate::diagnose::metrics::{
    uncounted, CloudWatch, CwCounts, CwPeriod, GroupStats, Latency, Metrics, TargetStats,
    Uncounted, PERIOD_SECS,
};
use crate::report::views::{latency_secs, reuse_name, target_row_name, LATENCY_METHOD};
use indexmap::IndexMap;
use serde::Serialize;

/// `metrics`.
#[derive(Serialize)]
pub(super) struct MetricsOut {
    method: &'static str,
    cloudwatch: CloudWatchOut,
    by_target: IndexMap<String, TargetStatsOut>,
    by_connection: IndexMap<&'static str, GroupOut>,
    periods: Vec<PeriodOut>,
    requests_past_periods: u64,
    uncounted: Vec<UncountedOut>,
}

impl MetricsOut {
    pub(super) fn new(m: &Metrics, vantage: Vantage) -> Self {
        MetricsOut {
            method: LATENCY_METHOD,
            cloudwatch: CloudWatchOut::new(&m.cloudwatch),
            by_target: m
                .by_target
                .iter()
                .map(|(k, t)| (target_row_name(k), TargetStatsOut::new(t)))
                .collect(),
            by_connection: m
                .by_connection
                .iter()
                .map(|(k, g)| (reuse_name(*k), GroupOut::new(g)))
                .collect(),
            periods: m.periods.iter().map(PeriodOut::new).collect(),
            requests_past_periods: m.requests_past_periods,
            uncounted: uncounted(vantage)
                .into_iter()
                .map(UncountedOut::new)
                .collect(),
        }
    }
}

/// The counts under CloudWatch's metric names, shared by `metrics.cloudwatch` and each of
/// `metrics.periods` (flattened into both, in this order).
#[derive(Serialize)]
struct CountsOut {
    #[serde(rename = "RequestCount")]
    request_count: u64,
    #[serde(rename = "HTTPCode_ELB_502_Count")]
    elb_502: u64,
    #[serde(rename = "HTTPCode_ELB_503_Count")]
    elb_503: u64,
    #[serde(rename = "HTTPCode_ELB_504_Count")]
    elb_504: u64,
    #[serde(rename = "HTTPCode_ELB_5XX_Count")]
    elb_5xx: u64,
    #[serde(rename = "HTTPCode_Target_2XX_Count")]
    target_2xx: u64,
    #[serde(rename = "HTTPCode_Target_3XX_Count")]
    target_3xx: u64,
    #[serde(rename = "HTTPCode_Target_4XX_Count")]
    target_4xx: u64,
    #[serde(rename = "HTTPCode_Target_5XX_Count")]
    target_5xx: u64,
    #[serde(rename = "TargetConnectionErrorCount")]
    target_connection_errors: u64,
    #[serde(rename = "TargetTLSNegotiationErrorCount")]
    target_tls_errors: u64,
}

impl CountsOut {
    fn new(c: &CwCounts) -> Self {
        CountsOut {
            request_count: c.request_count,
            elb_502: c.elb_502,
            elb_503: c.elb_503,
            elb_504: c.elb_504,
            elb_5xx: c.elb_5xx,
            target_2xx: c.target_2xx,
            target_3xx: c.target_3xx,
            target_4xx: c.target_4xx,
            target_5xx: c.target_5xx,
            target_connection_errors: c.target_connection_errors,
            target_tls_errors: c.target_tls_errors,
        }
    }
}

/// `metrics.cloudwatch`: CloudWatch's metric names.
#[derive(Serialize)]
struct CloudWatchOut {
    #[serde(flatten)]
    counts: CountsOut,
    #[serde(rename = "TargetResponseTime")]
    target_response_time: LatencyOut,
    elb_codes_inferred: u64,
}

impl CloudWatchOut {
    fn new(c: &CloudWatch) -> Self {
        CloudWatchOut {
            counts: CountsOut::new(&c.counts),
            target_response_time: LatencyOut::new(&c.target_response_time),
            elb_codes_inferred: c.counts.elb_codes_inferred,
        }
    }
}

/// One of `metrics.periods`: CloudWatch's names, for one minute.
#[derive(Serialize)]
struct PeriodOut {
    start: String,
    period_s: i64,
    #[serde(flatten)]
    counts: CountsOut,
    #[serde(rename = "TargetResponseTime_avg_s")]
    target_response_time_avg_s: Option<f64>,
    elb_codes_inferred: u64,
}

impl PeriodOut {
    fn new(p: &CwPeriod) -> Self {
        PeriodOut {
            start: p.start.to_rfc3339(),
            period_s: PERIOD_SECS,
            counts: CountsOut::new(&p.counts),
            target_response_time_avg_s: p.target_response_time_avg.map(latency_secs),
            elb_codes_inferred: p.counts.elb_codes_inferred,
        }
    }
}

/// One of `metrics.uncounted`: a metric this vantage cannot count fully, and why.
#[derive(Serialize)]
struct UncountedOut {
    metric: Option<&'static str>,
    reason: &'static str,
}

impl UncountedOut {
    fn new(u: Uncounted) -> Self {
        match u {
            Uncounted::BackEndNotCaptured(m) => UncountedOut {
                metric: Some(m.name()),
                reason: "back_end_not_captured",
            },
            Uncounted::FrontEndNotCaptured(m) => UncountedOut {
                metric: Some(m.name()),
                reason: "front_end_not_captured",
            },
            Uncounted::NoAlbRecognised => UncountedOut {
                metric: None,
                reason: "no_alb_recognised",
            },
        }
    }
}

/// A latency summary (seconds, null when nothing was measured).
#[derive(Serialize)]
struct LatencyOut {
    count: u64,
    p50_s: Option<f64>,
    p90_s: Option<f64>,
    p99_s: Option<f64>,
    max_s: Option<f64>,
    mean_s: Option<f64>,
}

impl LatencyOut {
    fn new(l: &Latency) -> Self {
        LatencyOut {
            count: l.count,
            p50_s: l.p50.map(latency_secs),
            p90_s: l.p90.map(latency_secs),
            p99_s: l.p99.map(latency_secs),
            max_s: l.max.map(latency_secs),
            mean_s: l.mean.map(latency_secs),
        }
    }
}

/// Requests, failures and latency of one group.
#[derive(Serialize)]
struct GroupOut {
    requests: u64,
    failed: u64,
    by_category: IndexMap<&'static str, u64>,
    latency: LatencyOut,
}

impl GroupOut {
    fn new(g: &GroupStats) -> Self {
        GroupOut {
            requests: g.requests,
            failed: g.failed,
            by_category: by_category(&g.by_category),
            latency: LatencyOut::new(&g.latency),
        }
    }
}

/// One of `metrics.by_target`: the target's group, then its fresh and reused ones.
#[derive(Serialize)]
struct TargetStatsOut {
    #[serde(flatten)]
    all: GroupOut,
    fresh: GroupOut,
    reused: GroupOut,
    /// Requests first seen on a connection opened before the capture (only when some were).
    #[serde(skip_serializing_if = "Option::is_none")]
    opened_before_capture: Option<GroupOut>,
}

impl TargetStatsOut {
    fn new(t: &TargetStats) -> Self {
        TargetStatsOut {
            all: GroupOut::new(&t.all),
            fresh: GroupOut::new(&t.fresh),
            reused: GroupOut::new(&t.reused),
            opened_before_capture: (t.opened_before_capture.requests > 0)
                .then(|| GroupOut::new(&t.opened_before_capture)),
        }
    }
}
