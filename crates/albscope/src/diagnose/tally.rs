//! The small record the aggregates of a diagnosed request are counted from ([`Tally`]): the
//! summary counts ([`super::Summary`]), the metrics and histograms ([`super::metrics`]) and the
//! time series ([`super::series`]) read only these fields, so a plain ok request (the common
//! case) fills it straight from its legs without building a [`Finding`].

use super::evidence::{Cause, Evidence};
use super::metrics::{conn_reuse, ConnReuse};
use super::model::{RequestSeen, Step};
use super::Finding;
use crate::alb::RequestPath;
use crate::capture::{Duration, Timestamp};
use crate::flow::Endpoint;
use crate::taxonomy::{BackEndErrorMetric, Category, GeneratedBy};

/// What the aggregates read of one diagnosed request.
///
/// Why every aggregate is the same whichever way the record was filled: counting
/// ([`super::Analyzer`]'s `count`), [`super::metrics::Collector::observe`] and
/// [`super::metrics::CwCounts::add`] read a finding only through the fields below, each set by
/// [`Tally::of`] to exactly the value (or the function of the finding) they read before; the
/// target and its connection's reuse come from the path in both cases. A record filled by the
/// fast path ([`super::classify`]'s `plain_ok_tally`) is checked in debug builds to equal
/// [`Tally::of`] of the full verdict, so the counts, histograms, per-target and per-connection
/// metrics, periods and series are the same. The findings kept (`--max-requests`, `--all`)
/// are still built in full by the rules, and the fast path is taken only for a request that
/// is not kept and not joined to an access log (whose words it would need).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Tally {
    /// When the request started ([`Finding::time`]).
    pub time: Timestamp,
    /// Its category.
    pub category: Category,
    /// The status the client got.
    pub status: Option<u16>,
    /// Who produced the status.
    pub generated_by: Option<GeneratedBy>,
    /// The status was inferred from the back end.
    pub status_inferred: bool,
    /// The target's status (the access log's `target_status_code`).
    pub target_status: Option<u16>,
    /// The target's processing time, when the access log shows one.
    pub response_time: Option<Duration>,
    /// The CloudWatch back-end error count it adds to (an undetermined failure's only when the
    /// ALB's own answer is established and its candidates agree).
    pub back_end_error: Option<BackEndErrorMetric>,
    /// Still waiting for its answer at the end of the capture.
    pub in_flight_at_end: bool,
    /// Its outcome is not visible.
    pub outcome_not_visible: bool,
    /// The target answered, the status not visible ([`Cause::AnsweredStatusNotVisible`]).
    pub answered_not_visible: bool,
    /// The front-end connection may carry HTTP/2 ([`Finding::front_http2`]).
    pub front_http2: bool,
    /// Seen only as TLS application data ([`RequestSeen::Encrypted`]).
    pub from_tls: bool,
    /// The idle timeout it shows the ALB giving up after, when it shows one.
    pub idle_seen: Option<Duration>,
    /// The target, none without a back-end attempt.
    pub target: Option<Endpoint>,
    /// Whether its back-end connection was opened for it.
    pub reuse: ConnReuse,
}

impl Tally {
    /// The record of finding `f` diagnosed from `path`.
    pub fn of(f: &Finding, path: &RequestPath) -> Tally {
        let back = path.back.as_deref();
        Tally {
            time: f.time,
            category: f.category,
            status: f.status,
            generated_by: f.generated_by,
            status_inferred: f.status_inferred,
            target_status: f.access_log.target_status_code,
            response_time: match f.access_log.target_processing_time {
                Step::Took(d) => Some(d),
                _ => None,
            },
            back_end_error: back_end_error(f.category, f.generated_by, &f.candidates),
            in_flight_at_end: f.in_flight_at_end,
            outcome_not_visible: f.outcome_not_visible,
            answered_not_visible: f.cause == Cause::AnsweredStatusNotVisible,
            front_http2: f.front_http2,
            from_tls: matches!(f.request, RequestSeen::Encrypted { .. }),
            idle_seen: idle_seen(f),
            target: back.map(|b| b.conn.key.server),
            reuse: back.map_or(ConnReuse::NoBackEnd, conn_reuse),
        }
    }

    /// A failed request: as [`Finding::is_failure`].
    pub fn is_failure(&self) -> bool {
        self.category.is_failure() && !self.in_flight_at_end && !self.outcome_not_visible
    }

    /// An HTTP/2 exchange whose outcome is not visible: not a request (counted with its
    /// connection only, never listed nor in the metrics).
    pub fn exchange_only(&self) -> bool {
        self.outcome_not_visible && self.front_http2
    }

    /// The target's processing time in seconds (exact, not the access log's milliseconds: a
    /// target on the same host answers in well under 0.5 ms, which the log writes as 0.000).
    pub fn response_secs(&self) -> Option<f64> {
        self.response_time.map(|d| d.as_secs_f64())
    }
}

/// The CloudWatch back-end error count a request of `category` adds to: an undetermined
/// failure counts where it counts whichever candidate it is, and only when the ALB's own answer
/// is established (as for its status: `generated_by`).
pub fn back_end_error(
    category: Category,
    generated_by: Option<GeneratedBy>,
    candidates: &[Category],
) -> Option<BackEndErrorMetric> {
    match category {
        Category::Undetermined if generated_by == Some(GeneratedBy::Lb) => {
            Category::common_back_end_error(candidates)
        }
        c => c.back_end_error_metric(),
    }
}

/// The idle timeout a finding shows the ALB giving up after, when it shows one (also when,
/// seen from the back end alone, the client may have left before: the close still shows the
/// timer).
fn idle_seen(f: &Finding) -> Option<Duration> {
    let at_idle = matches!(f.cause, Cause::AlbClosedAtIdleTimeout { .. });
    if f.category != Category::TargetIdleTimeout && !at_idle {
        return None;
    }
    f.evidence.iter().find_map(|e| match e {
        Evidence::IdleTimeoutByTiming {
            idle: Some(idle), ..
        } => Some(*idle),
        Evidence::MatchesIdleTimeout { elapsed, .. }
        | Evidence::IdleTimeoutByTiming { elapsed, .. } => {
            Some(Duration::from_secs_f64(elapsed.as_secs_f64().round()))
        }
        _ => None,
    })
}
