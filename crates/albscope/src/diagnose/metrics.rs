//! Capture-derived CloudWatch counterparts, the per-target view and the back-end
//! connection-reuse view, accumulated while requests are diagnosed (ok ones included, though
//! they are not kept), plus the connections of each kept request (for `extract` and diagrams).
//!
//! Latency (`TargetResponseTime`, = the access log's `target_processing_time`) is accumulated in
//! a streaming log-bucket histogram: buckets grow by 2 % from 1 µs, so a percentile is reported
//! within 1 % of the exact nearest-rank value; `max` is exact. Memory is a few hundred buckets per
//! histogram whatever the capture size.

use super::tally::Tally;
use super::{Finding, RequestId};
use crate::alb::{Leg, RequestPath};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::decode::MirrorSession;
use crate::flow::Endpoint;
use crate::taxonomy::{BackEndErrorMetric, Category, GeneratedBy};
use indexmap::IndexMap;
use std::collections::BTreeMap;

/// Bucket growth factor of the latency histogram.
const GROWTH: f64 = 1.02;
/// Smallest value with its own bucket (seconds); below it everything is one bucket.
const FLOOR_S: f64 = 1e-6;

/// A streaming histogram of non-negative durations (seconds) with log-spaced buckets.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// Values per bucket, dense from bucket `first` on: a value's count is found by one
    /// subtraction (no search). It spans the buckets seen, from the smallest to the largest
    /// value (a few hundred for real latencies; at most ~1,900 for the longest difference of
    /// two timestamps); empty buckets are skipped when read.
    counts: Vec<u64>,
    /// The bucket of `counts[0]`.
    first: i32,
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl Histogram {
    fn bucket(v: f64) -> i32 {
        if v < FLOOR_S {
            return -1;
        }
        let i = ((v / FLOOR_S).ln() / GROWTH.ln()).floor();
        if i.is_finite() {
            i.clamp(0.0, 100_000.0) as i32
        } else {
            -1
        }
    }

    /// Adds one value (negative and non-finite values are ignored).
    pub fn record(&mut self, v: f64) {
        self.record_in(v, Self::bucket(v));
    }

    /// [`Histogram::record`] with `v`'s bucket already computed (one value recorded in
    /// several histograms is bucketed once).
    fn record_in(&mut self, v: f64, bucket: i32) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        let at = i64::from(bucket) - i64::from(self.first);
        match self
            .counts
            .get_mut(usize::try_from(at).unwrap_or(usize::MAX))
        {
            Some(n) => *n += 1,
            None => self.widen(bucket, 1),
        }
        self.count += 1;
        self.sum += v;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }

    /// Counts `v` in the count and the sum only (in the order values come, as
    /// [`Histogram::record`] does): its bucket, and the min and max, are taken later from a
    /// histogram that recorded it in full ([`Histogram::absorb_buckets`]).
    fn count_only(&mut self, v: f64) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        self.count += 1;
        self.sum += v;
    }

    /// Adds `other`'s values per bucket, and its min and max, to this histogram's (not its
    /// count and sum: see [`Histogram::count_only`]). Bucket counts are integers and min and
    /// max of non-negative finite values do not depend on the order they are taken in, so
    /// the result is what recording each value here would have given.
    fn absorb_buckets(&mut self, other: &Histogram) {
        for (bucket, n) in other.filled() {
            let at = i64::from(bucket) - i64::from(self.first);
            match self
                .counts
                .get_mut(usize::try_from(at).unwrap_or(usize::MAX))
            {
                Some(c) => *c += n,
                None => self.widen(bucket, n),
            }
        }
        let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        self.min = pick(self.min, other.min, f64::min);
        self.max = pick(self.max, other.max, f64::max);
    }

    /// Counts `n` values in `bucket`, outside the buckets spanned so far: the span grows to
    /// take it in.
    fn widen(&mut self, bucket: i32, n: u64) {
        if self.counts.is_empty() {
            self.first = bucket;
            self.counts.push(n);
            return;
        }
        if bucket < self.first {
            let grow = usize::try_from(i64::from(self.first) - i64::from(bucket)).unwrap_or(0);
            self.counts.splice(0..0, std::iter::repeat(0).take(grow));
            self.first = bucket;
            if let Some(c) = self.counts.first_mut() {
                *c += n;
            }
        } else {
            let at = usize::try_from(i64::from(bucket) - i64::from(self.first)).unwrap_or(0);
            self.counts.resize(at + 1, 0);
            if let Some(c) = self.counts.last_mut() {
                *c += n;
            }
        }
    }

    /// The buckets with values, smallest first: (bucket, values).
    fn filled(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        (self.first..)
            .zip(self.counts.iter().copied())
            .filter(|&(_, n)| n > 0)
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The buckets, smallest values first: (lower bound in seconds, values). Values below
    /// 1 µs share the bucket with lower bound 0.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.filled().map(|(i, n)| {
            let lo = if i < 0 { 0.0 } else { FLOOR_S * GROWTH.powi(i) };
            (lo, n)
        })
    }

    /// The nearest-rank `q` quantile (0 < q <= 1), within 1 % of the exact value.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, n) in self.filled() {
            seen += n;
            if seen >= rank {
                let v = if i < 0 {
                    0.0
                } else {
                    FLOOR_S * GROWTH.powf(f64::from(i) + 0.5)
                };
                let (lo, hi) = (self.min.unwrap_or(v), self.max.unwrap_or(v));
                return Some(v.clamp(lo, hi));
            }
        }
        self.max
    }

    /// The summary shown in reports.
    pub fn summary(&self) -> Latency {
        let r = |v: Option<f64>| v.map(to_micros);
        Latency {
            count: self.count,
            p50: r(self.quantile(0.5)),
            p90: r(self.quantile(0.9)),
            p99: r(self.quantile(0.99)),
            max: r(self.max),
            mean: r((self.count > 0).then(|| self.sum / self.count as f64)),
        }
    }
}

impl PartialEq for Histogram {
    /// Equal when they hold the same values per bucket (however wide their spans).
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count
            && self.sum == other.sum
            && self.min == other.min
            && self.max == other.max
            && self.filled().eq(other.filled())
    }
}

/// Seconds rounded to the microsecond.
fn to_micros(secs: f64) -> Duration {
    Duration(((secs * 1e6).round() as i64).saturating_mul(1_000))
}

/// Latency percentiles, rounded to the microsecond; `None` when nothing was measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    /// Values measured.
    pub count: u64,
    /// Median.
    pub p50: Option<Duration>,
    /// 90th percentile.
    pub p90: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// Largest value (exact).
    pub max: Option<Duration>,
    /// Mean.
    pub mean: Option<Duration>,
}

/// What CloudWatch (namespace `AWS/ApplicationELB`) would show for the capture window, derived
/// from the requests in the capture. Health checks are excluded, as CloudWatch excludes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloudWatch {
    /// The counts, over the whole window.
    pub counts: CwCounts,
    /// Request sent -> response headers received, over every request with a target response.
    pub target_response_time: Latency,
}

/// Requests, failures and latency of one group (a target, or fresh/reused connections).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupStats {
    /// Client requests.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Failed, by category.
    pub by_category: IndexMap<Category, u64>,
    /// Target response time.
    pub latency: Latency,
    /// Target response time, the distribution (for the report's per-target picture).
    pub histogram: Histogram,
}

/// One target: totals, and split by back-end connection reuse.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetStats {
    /// All requests to this target.
    pub all: GroupStats,
    /// Requests sent on a connection opened for them.
    pub fresh: GroupStats,
    /// Requests sent on a kept-alive connection that had carried an earlier request.
    pub reused: GroupStats,
    /// Requests first seen on a connection opened before the capture (no SYN): fresh or
    /// reused is not known.
    pub opened_before_capture: GroupStats,
}

/// Whether a request's back-end connection was opened for it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnReuse {
    /// Opened for the request.
    Fresh,
    /// Kept alive after an earlier request.
    Reused,
    /// The first request seen on a connection opened before the capture (no SYN captured):
    /// whether it carried earlier requests is not known.
    OpenedBeforeCapture,
    /// No back-end leg seen.
    NoBackEnd,
}

/// The metrics section of an analysis. Latency percentiles come from a streaming log-bucket
/// histogram (2 % buckets): within 1 % of the exact value, max exact; over every request, ok
/// ones included.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// CloudWatch counterparts for the capture window (see `capture` for the window).
    pub cloudwatch: CloudWatch,
    /// By target (sorted by [`super::sort_target_rows`]).
    pub by_target: IndexMap<super::TargetRow, TargetStats>,
    /// By back-end connection: fresh, reused, opened before the capture, none seen (in that
    /// order; a class appears only when it has requests).
    pub by_connection: IndexMap<ConnReuse, GroupStats>,
    /// Requests and failures over time (the report's time strip).
    pub series: super::series::TimeSeries,
    /// The CloudWatch counterparts per 60 s period aligned to the wall-clock minute, as
    /// CloudWatch publishes them: only periods with a request, in time order, at most
    /// [`MAX_PERIODS`] (the rest are counted in `periods_not_listed`).
    pub periods: Vec<CwPeriod>,
    /// Requests in periods past the first [`MAX_PERIODS`] (counted in the whole-window sums
    /// only).
    pub requests_past_periods: u64,
}

/// Most one-minute periods kept (a week of minutes).
pub const MAX_PERIODS: usize = 7 * 24 * 60;

/// CloudWatch's period for ALB metrics, in seconds.
pub const PERIOD_SECS: i64 = 60;

/// The counts CloudWatch publishes, for one period or the whole window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CwCounts {
    /// `RequestCount`.
    pub request_count: u64,
    /// `HTTPCode_ELB_502_Count`.
    pub elb_502: u64,
    /// `HTTPCode_ELB_503_Count`.
    pub elb_503: u64,
    /// `HTTPCode_ELB_504_Count`.
    pub elb_504: u64,
    /// `HTTPCode_ELB_5XX_Count`.
    pub elb_5xx: u64,
    /// `HTTPCode_Target_2XX_Count`.
    pub target_2xx: u64,
    /// `HTTPCode_Target_3XX_Count`.
    pub target_3xx: u64,
    /// `HTTPCode_Target_4XX_Count`.
    pub target_4xx: u64,
    /// `HTTPCode_Target_5XX_Count`.
    pub target_5xx: u64,
    /// `TargetConnectionErrorCount`.
    pub target_connection_errors: u64,
    /// `TargetTLSNegotiationErrorCount`.
    pub target_tls_errors: u64,
    /// Of the ELB codes, how many were inferred from the back end (front end not captured).
    pub elb_codes_inferred: u64,
}

impl CwCounts {
    /// Counts one diagnosed client request.
    pub fn add(&mut self, f: &Tally) {
        self.request_count += 1;
        if f.generated_by == Some(GeneratedBy::Lb) {
            if let Some(s) = f.status.filter(|s| (500..600).contains(s)) {
                self.elb_5xx += 1;
                self.elb_502 += u64::from(s == 502);
                self.elb_503 += u64::from(s == 503);
                self.elb_504 += u64::from(s == 504);
                self.elb_codes_inferred += u64::from(f.status_inferred);
            }
        }
        match f.target_status {
            Some(200..=299) => self.target_2xx += 1,
            Some(300..=399) => self.target_3xx += 1,
            Some(400..=499) => self.target_4xx += 1,
            Some(500..=599) => self.target_5xx += 1,
            _ => {}
        }
        match f.back_end_error {
            Some(BackEndErrorMetric::TargetConnection) => self.target_connection_errors += 1,
            Some(BackEndErrorMetric::TargetTlsNegotiation) => self.target_tls_errors += 1,
            None => {}
        }
    }
}

impl CwCounts {
    /// Adds `o`'s counts to these.
    fn merge(&mut self, o: &CwCounts) {
        // Destructured: a count added to the struct is a compile error here until merged.
        let CwCounts {
            request_count,
            elb_502,
            elb_503,
            elb_504,
            elb_5xx,
            target_2xx,
            target_3xx,
            target_4xx,
            target_5xx,
            target_connection_errors,
            target_tls_errors,
            elb_codes_inferred,
        } = o;
        self.request_count += request_count;
        self.elb_502 += elb_502;
        self.elb_503 += elb_503;
        self.elb_504 += elb_504;
        self.elb_5xx += elb_5xx;
        self.target_2xx += target_2xx;
        self.target_3xx += target_3xx;
        self.target_4xx += target_4xx;
        self.target_5xx += target_5xx;
        self.target_connection_errors += target_connection_errors;
        self.target_tls_errors += target_tls_errors;
        self.elb_codes_inferred += elb_codes_inferred;
    }
}

/// One CloudWatch period: the minute `[start, start + 60 s)` on the capture's clock (UTC).
#[derive(Clone, Debug, PartialEq)]
pub struct CwPeriod {
    /// Start of the minute.
    pub start: Timestamp,
    /// The counts of the requests that arrived in it.
    pub counts: CwCounts,
    /// `TargetResponseTime` Average over the period's requests with a target response.
    pub target_response_time_avg: Option<Duration>,
}

/// A CloudWatch metric the capture cannot count from its vantage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CwMetric {
    /// `RequestCount`.
    RequestCount,
    /// `HTTPCode_ELB_*` (502, 503, 504, 5XX).
    ElbCodes,
    /// `HTTPCode_Target_*_Count`.
    TargetCodes,
    /// `TargetConnectionErrorCount`.
    TargetConnectionErrors,
    /// `TargetTLSNegotiationErrorCount`.
    TargetTlsErrors,
    /// `TargetResponseTime`.
    TargetResponseTime,
}

impl CwMetric {
    /// The metric's CloudWatch name (a family written with `*`).
    pub fn name(self) -> &'static str {
        match self {
            CwMetric::RequestCount => "RequestCount",
            CwMetric::ElbCodes => "HTTPCode_ELB_*_Count",
            CwMetric::TargetCodes => "HTTPCode_Target_*_Count",
            CwMetric::TargetConnectionErrors => "TargetConnectionErrorCount",
            CwMetric::TargetTlsErrors => "TargetTLSNegotiationErrorCount",
            CwMetric::TargetResponseTime => "TargetResponseTime",
        }
    }
}

/// Why a metric is not fully counted from a vantage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Uncounted {
    /// Only the front end was captured: what targets sent is counted only where the ALB
    /// relayed it, and back-end connection failures only where the diagnosis is certain.
    BackEndNotCaptured(CwMetric),
    /// Only the back end was captured: what the ALB sent clients is inferred, and requests
    /// the ALB answered without trying a target are missing.
    FrontEndNotCaptured(CwMetric),
    /// No ALB traffic recognised: none of the counts can be trusted.
    NoAlbRecognised,
}

/// The metrics a capture from `vantage` cannot count fully.
pub fn uncounted(vantage: crate::alb::Vantage) -> Vec<Uncounted> {
    use crate::alb::Vantage;
    match vantage {
        Vantage::BothLegs => Vec::new(),
        Vantage::FrontEndOnly => vec![
            Uncounted::BackEndNotCaptured(CwMetric::TargetCodes),
            Uncounted::BackEndNotCaptured(CwMetric::TargetConnectionErrors),
            Uncounted::BackEndNotCaptured(CwMetric::TargetTlsErrors),
            Uncounted::BackEndNotCaptured(CwMetric::TargetResponseTime),
        ],
        Vantage::BackEndOnly => vec![
            Uncounted::FrontEndNotCaptured(CwMetric::RequestCount),
            Uncounted::FrontEndNotCaptured(CwMetric::ElbCodes),
        ],
        Vantage::Unknown => vec![Uncounted::NoAlbRecognised],
    }
}

/// One TCP connection of a request, as `extract` finds it again in the capture.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnRef {
    /// Mirror session it was seen through.
    pub session: MirrorSession,
    /// Opener.
    pub client: Endpoint,
    /// Responder.
    pub server: Endpoint,
    /// First packet.
    pub start: Timestamp,
    /// Last packet, when the connection was seen to end within the analysis window.
    pub end: Option<Timestamp>,
    /// Its first packet's position.
    pub first_packet: PacketPos,
    /// Its last packet's position (TCP segment or matched ICMP error), when it was seen to end
    /// within the analysis window.
    pub last_packet: Option<PacketPos>,
    /// True when an earlier request used this connection.
    pub reused: bool,
    /// Idle time before this request on a reused connection (seconds).
    pub idle_before_s: Option<f64>,
}

impl ConnRef {
    /// The connections finding `f`'s evidence cites beside its own.
    fn cited(f: &Finding) -> Vec<ConnRef> {
        f.evidence
            .iter()
            .flat_map(|e| e.cited_conns())
            .map(|c| ConnRef {
                session: c.key.session,
                client: c.key.client,
                server: c.key.server,
                start: c.first.0,
                end: Some(c.last.0),
                first_packet: c.first.1,
                last_packet: Some(c.last.1),
                reused: false,
                idle_before_s: None,
            })
            .collect()
    }

    fn of(leg: &Leg) -> ConnRef {
        let ex = leg.exchange.as_ref();
        ConnRef {
            session: leg.conn.key.session,
            client: leg.conn.key.client,
            server: leg.conn.key.server,
            start: leg
                .record
                .as_ref()
                .map_or(leg.conn.opened, |r| r.tcp.start.min(leg.conn.opened)),
            end: leg.record.as_ref().map(|r| r.tcp.end),
            first_packet: leg.record.as_ref().map_or(leg.conn.opened_pos, |r| {
                if r.tcp.start < leg.conn.opened {
                    r.tcp.first_pos
                } else {
                    leg.conn.opened_pos
                }
            }),
            last_packet: leg.record.as_ref().map(|r| r.tcp.last_pos),
            reused: leg.index() > 0,
            idle_before_s: ex.and_then(|e| e.idle_before).map(|d| d.as_secs_f64()),
        }
    }
}

/// The front and back connections of one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestConns {
    /// Client -> ALB.
    pub front: Option<ConnRef>,
    /// ALB -> target.
    pub back: Option<ConnRef>,
    /// Other connections the finding's evidence rests on (e.g. the refused connects after a
    /// target's reset), so that its slice holds them too.
    pub cited: Vec<ConnRef>,
}

#[derive(Default)]
struct GroupAcc {
    requests: u64,
    failed: u64,
    by_category: IndexMap<Category, u64>,
    latency: Histogram,
}

impl GroupAcc {
    /// Counts `f`; `rt` is its response time and that time's histogram bucket, recorded in
    /// full in a `leaf` group, else in the count and sum only (its bucket is absorbed from
    /// the leaf at the end, [`Collector::finish`]).
    fn add(&mut self, f: &Tally, rt: Option<(f64, i32)>, leaf: bool) {
        self.requests += 1;
        if f.is_failure() {
            self.failed += 1;
            *self.by_category.entry(f.category).or_default() += 1;
        }
        if let Some((x, bucket)) = rt {
            if leaf {
                self.latency.record_in(x, bucket);
            } else {
                self.latency.count_only(x);
            }
        }
    }
    fn stats(&self) -> GroupStats {
        // In the taxonomy's order, not the order first seen (which follows processing order).
        let mut by_category = self.by_category.clone();
        let order = |c: &Category| Category::ALL.iter().position(|x| x == c);
        by_category.sort_by(|a, _, b, _| order(a).cmp(&order(b)));
        GroupStats {
            requests: self.requests,
            failed: self.failed,
            by_category,
            latency: self.latency.summary(),
            histogram: self.latency.clone(),
        }
    }
}

#[derive(Default)]
struct TargetAcc {
    all: GroupAcc,
    fresh: GroupAcc,
    reused: GroupAcc,
    opened_before_capture: GroupAcc,
}

/// Accumulates [`Metrics`] (and kept requests' connections) one request at a time.
#[derive(Default)]
pub struct Collector {
    response_time: Histogram,
    targets: IndexMap<super::TargetRow, TargetAcc, crate::alb::FastHash>,
    conns: IndexMap<ConnReuse, GroupAcc, crate::alb::FastHash>,
    /// Each [`ConnReuse`]'s index in `conns` (by its discriminant), once it has one.
    conn_slots: [Option<usize>; 4],
    kept: IndexMap<RequestId, RequestConns>,
    /// Most entries `kept` will hold (its growth stops there); 0: not known.
    kept_limit: usize,
    series: super::series::TimeSeries,
    /// The counts of the requests past the first [`MAX_PERIODS`] periods (the whole window's
    /// are these and the periods', summed at the end: integers, so the sum is exact).
    past_periods: CwCounts,
    periods: BTreeMap<i64, PeriodAcc>,
    requests_past_periods: u64,
}

#[derive(Default)]
struct PeriodAcc {
    counts: CwCounts,
    rt_sum: f64,
    rt_count: u64,
}

/// The target response time of a finding (seconds), when the target answered (what
/// [`Tally::response_secs`] counts).
pub fn response_time(f: &Finding) -> Option<f64> {
    // Exact, not the access log's milliseconds: a target on the same host answers in well
    // under 0.5 ms, which the log would write as 0.000.
    match f.access_log.target_processing_time {
        super::Step::Took(d) => Some(d.as_secs_f64()),
        _ => None,
    }
}

/// Whether back-end leg `b`'s connection was opened for its request: a later request on its
/// connection is reused; the first one seen is fresh only when the connection's SYN is in the
/// capture (else earlier requests may have gone before the capture started).
pub fn conn_reuse(b: &crate::alb::Leg) -> ConnReuse {
    if b.index() > 0 {
        ConnReuse::Reused
    } else if b.conn.saw_syn {
        ConnReuse::Fresh
    } else {
        ConnReuse::OpenedBeforeCapture
    }
}

impl Collector {
    /// A collector whose kept-connections map never grows past `max` entries (the most
    /// requests kept in full).
    pub fn with_kept_limit(mut self, max: usize) -> Self {
        self.kept_limit = max;
        self
    }

    /// Counts one diagnosed request (not an HTTP/2 exchange whose outcome is not visible).
    pub fn observe(&mut self, f: &Tally) {
        // A request whose outcome is not visible is not a failure.
        let category = if f.outcome_not_visible {
            Category::Ok
        } else {
            f.category
        };
        self.series.record(f.time, category);
        let minute = f.time.0.div_euclid(PERIOD_SECS * 1_000_000_000);
        let rt = f.response_secs();
        let rt_bucket = rt.map(|x| (x, Histogram::bucket(x)));
        if let Some(x) = rt {
            self.response_time.count_only(x);
        }
        let add = |p: &mut PeriodAcc| {
            p.counts.add(f);
            if let Some(x) = rt {
                p.rt_sum += x;
                p.rt_count += 1;
            }
        };
        // Requests come nearly in time order: most fall in the last minute (no search, one
        // walk to it).
        let in_last = match self.periods.last_entry() {
            Some(mut last) if *last.key() == minute => {
                add(last.get_mut());
                true
            }
            _ => false,
        };
        if in_last {
            // Counted.
        } else if self.periods.len() < MAX_PERIODS || self.periods.contains_key(&minute) {
            add(self.periods.entry(minute).or_default());
        } else {
            self.requests_past_periods += 1;
            self.past_periods.add(f);
        }
        let reuse = f.reuse;
        // Every response time has a back end: its leaf group below records it in full.
        debug_assert!(rt.is_none() || reuse != ConnReuse::NoBackEnd);
        let row = super::target_row(&self.targets, f.target);
        let t = self.targets.entry(row).or_default();
        t.all.add(f, rt_bucket, false);
        match reuse {
            ConnReuse::Fresh => t.fresh.add(f, rt_bucket, true),
            ConnReuse::Reused => t.reused.add(f, rt_bucket, true),
            ConnReuse::OpenedBeforeCapture => t.opened_before_capture.add(f, rt_bucket, true),
            ConnReuse::NoBackEnd => {}
        }
        // Found by its slot (the map's order stays the order first seen, as with `entry`).
        let at = reuse as usize;
        let slot = match self.conn_slots.get(at).copied().flatten() {
            Some(slot) => slot,
            None => {
                let e = self.conns.entry(reuse);
                let slot = e.index();
                e.or_default();
                if let Some(s) = self.conn_slots.get_mut(at) {
                    *s = Some(slot);
                }
                slot
            }
        };
        if let Some((_, g)) = self.conns.get_index_mut(slot) {
            g.add(f, rt_bucket, false);
        }
    }

    /// Keeps the connections of `f`, a request kept in full, diagnosed from `path`.
    pub fn keep_conns(&mut self, path: &RequestPath, f: &Finding) {
        // One entry per kept finding (~0.35 KB): grow by a quarter, not by doubling, and
        // not past the most kept.
        if self.kept.len() == self.kept.capacity() {
            let max = if self.kept_limit > 0 {
                self.kept_limit
            } else {
                usize::MAX
            };
            self.kept
                .reserve_exact(super::kept_growth(self.kept.len(), max));
        }
        self.kept.insert(
            f.id,
            RequestConns {
                front: path.front.as_deref().map(ConnRef::of),
                back: path.back.as_deref().map(ConnRef::of),
                cited: ConnRef::cited(f),
            },
        );
    }

    /// Records again the connections of kept request `id` (its path got connection records).
    pub fn refresh_conns(&mut self, path: &RequestPath, id: RequestId) {
        if let Some(c) = self.kept.get_mut(&id) {
            c.front = path.front.as_deref().map(ConnRef::of);
            c.back = path.back.as_deref().map(ConnRef::of);
        }
    }

    /// The metrics, and the connections of the kept requests by request id.
    ///
    /// Each response time was recorded in full (bucket, min, max) once, in its target's
    /// group of its connection's reuse (fresh, reused, opened before the capture: a request
    /// with a response time has a back end); the target's total, the per-reuse rows and the
    /// whole window counted it in their count and sum only, in the order the requests came.
    /// They take its bucket, min and max here ([`Histogram::absorb_buckets`]): the same
    /// histograms as recording every value in each.
    pub fn finish(mut self) -> (Metrics, IndexMap<RequestId, RequestConns>) {
        for t in self.targets.values_mut() {
            let TargetAcc {
                all,
                fresh,
                reused,
                opened_before_capture,
            } = t;
            for (reuse, leaf) in [
                (ConnReuse::Fresh, &*fresh),
                (ConnReuse::Reused, &*reused),
                (ConnReuse::OpenedBeforeCapture, &*opened_before_capture),
            ] {
                if leaf.latency.count == 0 {
                    continue;
                }
                all.latency.absorb_buckets(&leaf.latency);
                self.response_time.absorb_buckets(&leaf.latency);
                if let Some(g) = self.conns.get_mut(&reuse) {
                    g.latency.absorb_buckets(&leaf.latency);
                }
            }
        }
        let mut total = std::mem::take(&mut self.past_periods);
        for p in self.periods.values() {
            total.merge(&p.counts);
        }
        let periods = std::mem::take(&mut self.periods)
            .into_iter()
            .map(|(minute, p)| CwPeriod {
                start: Timestamp(minute.saturating_mul(PERIOD_SECS * 1_000_000_000)),
                counts: p.counts,
                target_response_time_avg: (p.rt_count > 0)
                    .then(|| to_micros(p.rt_sum / p.rt_count as f64)),
            })
            .collect();
        super::sort_target_rows(&mut self.targets);
        let order = |k: &ConnReuse| match k {
            ConnReuse::Fresh => 0,
            ConnReuse::Reused => 1,
            ConnReuse::OpenedBeforeCapture => 2,
            ConnReuse::NoBackEnd => 3,
        };
        self.conns.sort_by(|a, _, b, _| order(a).cmp(&order(b)));
        let metrics = Metrics {
            cloudwatch: CloudWatch {
                counts: total,
                target_response_time: self.response_time.summary(),
            },
            by_target: self
                .targets
                .iter()
                .map(|(k, t)| {
                    (
                        *k,
                        TargetStats {
                            all: t.all.stats(),
                            fresh: t.fresh.stats(),
                            reused: t.reused.stats(),
                            opened_before_capture: t.opened_before_capture.stats(),
                        },
                    )
                })
                .collect(),
            by_connection: self.conns.iter().map(|(k, g)| (*k, g.stats())).collect(),
            series: self.series,
            periods,
            requests_past_periods: self.requests_past_periods,
        };
        (metrics, self.kept)
    }
}

/// The capture window a [`Metrics`] covers, as one line (`first .. last (N s)`).
#[cfg(test)]
mod tests {
    use super::*;

    fn exact(v: &mut [f64], q: f64) -> f64 {
        v.sort_by(f64::total_cmp);
        let rank = ((q * v.len() as f64).ceil() as usize).max(1);
        v[rank - 1]
    }

    #[test]
    fn histogram_percentiles_are_within_one_percent() {
        let mut h = Histogram::default();
        let mut vals = Vec::new();
        let mut x = 0.000_37f64;
        for i in 0..5000u32 {
            x = (x * 1.37 + f64::from(i % 17) * 0.0013) % 61.0;
            h.record(x);
            vals.push(x);
        }
        for q in [0.5, 0.9, 0.99] {
            let e = exact(&mut vals, q);
            let got = h.quantile(q).unwrap();
            assert!((got - e).abs() <= e * 0.01 + 1e-6, "q{q}: {got} vs {e}");
        }
        let s = h.summary();
        assert_eq!(s.count, 5000);
        let max = vals.iter().copied().fold(0.0, f64::max);
        assert!((s.max.unwrap().as_secs_f64() - max).abs() < 1e-6);
        assert!(h.counts.len() < 1200, "bounded: {}", h.counts.len());
    }

    #[test]
    fn each_vantage_names_what_it_cannot_count() {
        use crate::alb::Vantage;
        assert!(uncounted(Vantage::BothLegs).is_empty());
        let front = uncounted(Vantage::FrontEndOnly);
        assert!(front.contains(&Uncounted::BackEndNotCaptured(CwMetric::TargetCodes)));
        let back = uncounted(Vantage::BackEndOnly);
        assert!(back.contains(&Uncounted::FrontEndNotCaptured(CwMetric::ElbCodes)));
        assert_eq!(
            uncounted(Vantage::Unknown),
            vec![Uncounted::NoAlbRecognised]
        );
        assert_eq!(CwMetric::TargetCodes.name(), "HTTPCode_Target_*_Count");
    }

    /// A histogram that counts values in its count and sum only and takes their buckets, min
    /// and max from the histograms that recorded them in full equals one that recorded every
    /// value itself.
    #[test]
    fn absorbed_buckets_equal_recording_every_value() {
        let (mut whole, mut derived) = (Histogram::default(), Histogram::default());
        let mut leaves = [Histogram::default(), Histogram::default()];
        let mut x = 0.000_37f64;
        for i in 0..3000u32 {
            x = (x * 1.37 + f64::from(i % 13) * 0.0011) % 47.0;
            let v = if i % 7 == 0 { x * 1e-4 } else { x };
            whole.record(v);
            derived.count_only(v);
            leaves[(i % 3 == 0) as usize].record(v);
        }
        derived.count_only(f64::NAN);
        derived.count_only(-1.0);
        for leaf in &leaves {
            derived.absorb_buckets(leaf);
        }
        derived.absorb_buckets(&Histogram::default());
        assert_eq!(derived, whole);
        assert_eq!(derived.summary(), whole.summary());
        assert_eq!(
            derived.buckets().collect::<Vec<_>>(),
            whole.buckets().collect::<Vec<_>>()
        );
    }

    #[test]
    fn histogram_ignores_nonsense_and_handles_zero() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        h.record(f64::NAN);
        h.record(-1.0);
        h.record(f64::INFINITY);
        assert_eq!(h.count(), 0);
        h.record(0.0);
        assert_eq!(h.quantile(0.99), Some(0.0));
        h.record(60.0);
        assert_eq!(h.summary().max, Some(Duration::from_millis(60_000)));
    }
}
