//! The verdict: what happened and what to do, as typed values built once from an [`Analysis`]
//! for the first sentences of every report (`report/words/verdict.rs` words it).
//!
//! Failures are grouped by (category, target) from the summary's per-target counts (complete
//! even when `--max-requests` kept only some findings), largest first; the first
//! [`MAX_GROUPS`] are named and the rest counted. A target whose observed keep-alive timeout is
//! below the ALB idle timeout is a risk (a keep-alive race waiting to happen) even when nothing
//! failed.

use super::{Analysis, TargetRow};
use crate::capture::Duration;
use crate::flow::Endpoint;
use crate::taxonomy::{recognise, Category, TargetServer, KEEPALIVE_MARGIN_S};

/// Most failure groups the verdict names (the rest are counted).
pub const MAX_GROUPS: usize = 3;
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
    /// The largest failure groups, largest first.
    pub groups: Vec<FailureGroup>,
    /// Failure groups not named, and their failures.
    pub other_groups: usize,
    /// Failures in the groups not named.
    pub other_failures: u64,
    /// Targets that close idle keep-alive connections before the ALB does and had no
    /// keep-alive race counted against them.
    pub risks: Vec<KeepAliveFacts>,
    /// Risks not named.
    pub other_risks: usize,
}

/// Failures of one category on one target (or with no target).
#[derive(Clone, Debug, PartialEq)]
pub struct FailureGroup {
    /// The category (`undetermined` stays undetermined).
    pub category: Category,
    /// Failures.
    pub count: u64,
    /// Where: a target, no back-end attempt, or the targets past the table limit.
    pub target: TargetRow,
    /// For `undetermined`: the categories the kept findings of this group may be, most often
    /// named first.
    pub candidates: Vec<Category>,
    /// For keep-alive categories: the target's keep-alive facts.
    pub keepalive: Option<KeepAliveFacts>,
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
    /// The ALB idle timeout in force.
    pub idle_timeout: Duration,
    /// The keep-alive timeout to set: the idle timeout plus [`KEEPALIVE_MARGIN_S`], whole
    /// seconds.
    pub wanted: Duration,
}

impl KeepAliveFacts {
    /// True when the observed keep-alive timeout is below the ALB idle timeout.
    pub fn races(&self) -> bool {
        self.observed.is_some_and(|k| k < self.idle_timeout)
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
        idle_timeout: idle,
        wanted: Duration(wanted_s.saturating_mul(1_000_000_000)),
    }
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
                let keepalive = match row {
                    TargetRow::Target(ep) if keepalive_category(category) => {
                        Some(keepalive_facts(a, *ep))
                    }
                    _ => None,
                };
                groups.push(FailureGroup {
                    category,
                    count,
                    target: *row,
                    candidates: Vec::new(),
                    keepalive,
                });
            }
        }
        // Largest first; ties in the taxonomy's order, then the summary's target order.
        let order = |c: Category| Category::ALL.iter().position(|x| *x == c);
        groups.sort_by(|x, y| {
            y.count
                .cmp(&x.count)
                .then(order(x.category).cmp(&order(y.category)))
        });
        let named = groups.len().min(MAX_GROUPS);
        let rest = groups.split_off(named);
        for g in &mut groups {
            if g.category == Category::Undetermined {
                g.candidates = candidates(a, g.target);
            }
        }
        let raced: Vec<Endpoint> = s
            .by_target
            .iter()
            .filter(|(_, t)| t.by_category.contains_key(&Category::KeepaliveRace))
            .filter_map(|(row, _)| match row {
                TargetRow::Target(ep) => Some(*ep),
                _ => None,
            })
            .collect();
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
            groups,
            other_groups: rest.len(),
            other_failures: rest.iter().map(|g| g.count).sum(),
            risks,
            other_risks,
        }
    }
}

/// The candidates of the kept undetermined findings on `row`, most often named first (ties
/// in the taxonomy's order).
fn candidates(a: &Analysis, row: TargetRow) -> Vec<Category> {
    let mut n: Vec<(Category, usize)> = Vec::new();
    for f in a
        .requests
        .iter()
        .filter(|f| f.category == Category::Undetermined && f.is_failure())
    {
        let on_row = match row {
            TargetRow::Target(ep) => f.target == Some(ep),
            TargetRow::NoTarget => f.target.is_none(),
            TargetRow::Others => true,
        };
        if !on_row {
            continue;
        }
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
