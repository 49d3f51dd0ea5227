//! The verdict: what happened and what to do, as typed values built once from an [`Analysis`]
//! for the first sentences of every report (`report/words/verdict.rs` words it).
//!
//! Failures are grouped by category from the summary's per-target counts (complete even when
//! `--max-requests` kept only some findings), largest first, each with its targets (largest
//! first); the first [`MAX_GROUPS`] groups and [`MAX_TARGETS`] targets of each are named and
//! the rest counted. A target whose keep-alive timeout (observed, else announced with
//! `Keep-Alive: timeout=N`) is below the ALB idle timeout is a risk (a keep-alive race waiting
//! to happen) even when nothing failed.

use super::{Analysis, TargetRow};
use crate::capture::Duration;
use crate::flow::Endpoint;
use crate::taxonomy::{recognise, Category, TargetServer, KEEPALIVE_MARGIN_S};

/// Most failure groups the verdict names (the rest are counted).
pub const MAX_GROUPS: usize = 3;
/// Most targets named per failure group (the rest are counted).
pub const MAX_TARGETS: usize = 2;
/// Most keep-alive risks the verdict names (the rest are counted).
pub const MAX_RISKS: usize = 2;

/// The verdict of an analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Client requests seen.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Still waiting for an answer when the capture ended (neither ok nor failed).
    pub in_flight_at_end: u64,
    /// Requests whose outcome is not visible (an encrypted front end alone, or a target's
    /// encrypted answer with no answer to the client readable; neither ok nor failed).
    pub outcome_not_visible: u64,
    /// Of them, the target's answers seen over TLS with no status readable (answered, status
    /// not visible).
    pub answered_not_visible: u64,
    /// The encrypted front end's connections and exchanges whose outcome is not visible.
    pub encrypted: EncryptedCounts,
    /// No node recognised, and TLS connections that may be a node's: their encrypted
    /// exchanges and the most likely candidate's flags (see [`Analysis::alb_candidates`]).
    pub unrecognised_tls: Option<UnrecognisedTls>,
    /// Client TLS handshakes with the ALB that failed (no request was made).
    pub client_tls_failures: u64,
    /// The alerts of the first of them (description, sent by the ALB), each once.
    pub client_tls_alerts: Vec<(bool, String)>,
    /// False when the capture cannot show back ends (front end only, or no ALB recognised):
    /// a failure without a target seen then says nothing about a target attempt.
    pub back_end_captured: bool,
    /// The largest failure groups, largest first.
    pub groups: Vec<FailureGroup>,
    /// Failure groups not named, and their failures.
    pub other_groups: usize,
    /// Failures in the groups not named.
    pub other_failures: u64,
    /// Targets that close idle keep-alive connections before the ALB does (seen, or announced)
    /// and had no keep-alive race counted against them.
    pub risks: Vec<KeepAliveFacts>,
    /// Risks not named.
    pub other_risks: usize,
}

/// TLS connections of a capture that recognised no ALB node, in a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnrecognisedTls {
    /// The most likely candidate's encrypted exchanges (outcome not visible).
    pub exchanges: u64,
    /// Its connections.
    pub connections: u64,
    /// The flags that would name it (`--alb-ip IP --listener-port P`).
    pub flags: String,
    /// The next candidate is as likely: the capture cannot tell which end is the ALB.
    pub tie: bool,
    /// The candidate received plain-HTTP requests it did not answer (`exchanges` counts
    /// them), rather than TLS connections.
    pub plain_http: bool,
}

/// The encrypted front end seen without keys and without the back end, in a verdict.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptedCounts {
    /// Connections with exchanges whose outcome is not visible.
    pub connections: u64,
    /// Of which HTTP/2 (requests cannot be counted from TLS records).
    pub http2_connections: u64,
    /// Exchanges whose outcome is not visible.
    pub exchanges: u64,
}

/// Failures of one category.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureGroup {
    /// The category (`undetermined` stays undetermined).
    pub category: Category,
    /// Failures.
    pub count: u64,
    /// Where, most failures first: a target, no back-end attempt, or the targets past the
    /// table limit; with the failures of the category there.
    pub targets: Vec<(TargetRow, u64)>,
    /// Targets not named.
    pub other_targets: usize,
    /// For `undetermined`: the categories the kept findings of this group may be, most often
    /// named first.
    pub candidates: Vec<Category>,
    /// For keep-alive categories: the keep-alive facts of the named targets where they are
    /// known (a server recognised or a keep-alive timeout observed).
    pub keepalive: Vec<KeepAliveFacts>,
    /// For `target_generated_error`: the gRPC status codes the target answered with under a
    /// non-5xx HTTP status (trailers), in the kept findings of this group, most often first.
    pub grpc_errors: Vec<u32>,
    /// True when every kept finding of this group is such a gRPC error (none an HTTP 5xx).
    pub grpc_only: bool,
}

/// A target's keep-alive facts against the ALB idle timeout, and the value to set.
#[derive(Clone, Debug, PartialEq)]
pub struct KeepAliveFacts {
    /// The target.
    pub target: Endpoint,
    /// Its server, when recognised from `Server` / `X-Powered-By`.
    pub server: Option<TargetServer>,
    /// Its keep-alive timeout as observed (its idle closes), when seen.
    pub observed: Option<Duration>,
    /// The keep-alive timeout it announces (`Keep-Alive: timeout=N`), when it does.
    pub announced: Option<Duration>,
    /// The ALB idle timeout in force.
    pub idle_timeout: Duration,
    /// The keep-alive timeout to set: the idle timeout plus [`KEEPALIVE_MARGIN_S`], whole
    /// seconds.
    pub wanted: Duration,
}

impl KeepAliveFacts {
    /// True when the target's keep-alive timeout is below the ALB idle timeout: the one
    /// observed (what it does), else the one it announces.
    pub fn races(&self) -> bool {
        self.observed
            .or(self.announced)
            .is_some_and(|k| k < self.idle_timeout)
    }
}

/// Keep-alive facts of `target` in `a`.
fn keepalive_facts(a: &Analysis, target: Endpoint) -> KeepAliveFacts {
    let t = a.targets.iter().find(|t| t.target == target);
    let idle = a.timers.idle_timeout;
    let wanted_s = (idle.as_secs_f64().round() as i64).saturating_add(KEEPALIVE_MARGIN_S as i64);
    KeepAliveFacts {
        target,
        server: t.and_then(|t| recognise(t.server.as_deref(), t.powered_by.as_deref())),
        observed: t.and_then(|t| t.keepalive_timeout),
        announced: t.and_then(|t| t.announced_keepalive),
        idle_timeout: idle,
        wanted: Duration(wanted_s.saturating_mul(1_000_000_000)),
    }
}

/// The gRPC status a finding failed by when its HTTP status is not an error: the target's
/// non-OK gRPC status from its trailers (not one derived from an HTTP status).
fn grpc_error(f: &super::Finding) -> Option<u32> {
    let g = f.grpc.as_ref()?;
    let http_error = f.status.is_some_and(|s| s >= 500);
    match g.status {
        Some(s) if s != 0 && g.from_http.is_none() && !http_error => Some(s),
        _ => None,
    }
}

/// The gRPC error codes of the kept findings of `category`, most often first (ties by code),
/// and whether every one of those findings is such a gRPC error.
fn grpc_errors(a: &Analysis, category: Category) -> (Vec<u32>, bool) {
    let mut counts: Vec<(u32, u64)> = Vec::new();
    let mut all = true;
    let mut any = false;
    for f in a.requests.iter().filter(|f| f.category == category) {
        any = true;
        match grpc_error(f) {
            Some(code) => match counts.iter_mut().find(|c| c.0 == code) {
                Some(c) => c.1 += 1,
                None => counts.push((code, 1)),
            },
            None => all = false,
        }
    }
    counts.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let codes: Vec<u32> = counts.into_iter().map(|c| c.0).collect();
    let only = any && all && !codes.is_empty();
    (codes, only)
}

/// Categories whose fix is the target's keep-alive timeout.
fn keepalive_category(c: Category) -> bool {
    matches!(
        c,
        Category::KeepaliveRace | Category::TargetClosedBeforeResponse
    )
}

impl Verdict {
    /// Builds the verdict of `a`.
    pub fn of(a: &Analysis) -> Verdict {
        let s = &a.summary;
        let mut groups: Vec<FailureGroup> = Vec::new();
        for (row, t) in &s.by_target {
            for (&category, &count) in &t.by_category {
                if !category.is_failure() || count == 0 {
                    continue;
                }
                let g = match groups.iter_mut().find(|g| g.category == category) {
                    Some(g) => g,
                    None => {
                        groups.push(FailureGroup {
                            category,
                            count: 0,
                            targets: Vec::new(),
                            other_targets: 0,
                            candidates: Vec::new(),
                            keepalive: Vec::new(),
                            grpc_errors: Vec::new(),
                            grpc_only: false,
                        });
                        let Some(g) = groups.last_mut() else { continue };
                        g
                    }
                };
                g.count += count;
                g.targets.push((*row, count));
            }
        }
        // Largest first; ties in the taxonomy's order (targets: in the summary's order).
        let order = |c: Category| Category::ALL.iter().position(|x| *x == c);
        groups.sort_by(|x, y| {
            y.count
                .cmp(&x.count)
                .then(order(x.category).cmp(&order(y.category)))
        });
        for g in &mut groups {
            g.targets.sort_by_key(|t| std::cmp::Reverse(t.1));
            g.other_targets = g.targets.len().saturating_sub(MAX_TARGETS);
            g.targets.truncate(MAX_TARGETS);
            if keepalive_category(g.category) {
                g.keepalive = g
                    .targets
                    .iter()
                    .filter_map(|(row, _)| match row {
                        TargetRow::Target(ep) => Some(keepalive_facts(a, *ep)),
                        _ => None,
                    })
                    .filter(|k| k.server.is_some() || k.observed.is_some() || k.announced.is_some())
                    .collect();
            }
        }
        for g in &mut groups {
            if g.category == Category::TargetGeneratedError {
                (g.grpc_errors, g.grpc_only) = grpc_errors(a, g.category);
            }
        }
        let named = groups.len().min(MAX_GROUPS);
        let rest = groups.split_off(named);
        for g in &mut groups {
            if g.category == Category::Undetermined {
                g.candidates = candidates(a);
            }
        }
        // Targets whose keep-alive is already spoken of: a race counted, or facts named.
        let mut raced: Vec<Endpoint> = s
            .by_target
            .iter()
            .filter(|(_, t)| t.by_category.contains_key(&Category::KeepaliveRace))
            .filter_map(|(row, _)| match row {
                TargetRow::Target(ep) => Some(*ep),
                _ => None,
            })
            .collect();
        raced.extend(
            groups
                .iter()
                .flat_map(|g| &g.keepalive)
                .filter(|k| k.races())
                .map(|k| k.target),
        );
        let mut risks: Vec<KeepAliveFacts> = a
            .targets
            .iter()
            .filter(|t| !raced.contains(&t.target))
            .map(|t| keepalive_facts(a, t.target))
            .filter(KeepAliveFacts::races)
            .collect();
        let other_risks = risks.len().saturating_sub(MAX_RISKS);
        risks.truncate(MAX_RISKS);
        Verdict {
            requests: s.requests,
            failed: s.failed,
            in_flight_at_end: s.in_flight_at_end,
            outcome_not_visible: s.outcome_not_visible,
            answered_not_visible: s.answered_not_visible,
            encrypted: EncryptedCounts {
                connections: s.encrypted_front.connections,
                http2_connections: s.encrypted_front.http2_connections,
                exchanges: s.encrypted_front.exchanges,
            },
            unrecognised_tls: a.alb_candidates.first().map(|c| UnrecognisedTls {
                exchanges: c.exchanges,
                connections: c.connections,
                flags: c.flags().join(" "),
                tie: a.alb_candidates.get(1).is_some_and(|n| c.ties_with(n)),
                plain_http: matches!(c.reading, crate::alb::CandidateReading::HttpListener { .. }),
            }),
            client_tls_failures: s.client_tls_failures,
            client_tls_alerts: {
                let mut v: Vec<(bool, String)> = Vec::new();
                for a in s
                    .client_tls_failure_list
                    .iter()
                    .filter_map(|f| f.alert.clone())
                {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
                v
            },
            back_end_captured: matches!(
                a.vantage,
                crate::alb::Vantage::BothLegs | crate::alb::Vantage::BackEndOnly
            ),
            groups,
            other_groups: rest.len(),
            other_failures: rest.iter().map(|g| g.count).sum(),
            risks,
            other_risks,
        }
    }
}

/// The candidates of the kept undetermined findings, most often named first (ties in the
/// taxonomy's order).
fn candidates(a: &Analysis) -> Vec<Category> {
    let mut n: Vec<(Category, usize)> = Vec::new();
    for f in a
        .requests
        .iter()
        .filter(|f| f.category == Category::Undetermined && f.is_failure())
    {
        for c in &f.candidates {
            match n.iter_mut().find(|(x, _)| x == c) {
                Some((_, k)) => *k += 1,
                None => n.push((*c, 1)),
            }
        }
    }
    let order = |c: Category| Category::ALL.iter().position(|x| *x == c);
    n.sort_by(|x, y| y.1.cmp(&x.1).then(order(x.0).cmp(&order(y.0))));
    n.into_iter().map(|(c, _)| c).collect()
}
