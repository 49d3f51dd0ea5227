//! The `verdict` object of the JSON document.

use crate::diagnose::verdict::{FailureGroup, KeepAliveFacts, Verdict};
use crate::diagnose::{Analysis, TargetRow};
use crate::report::views::{secs, target_row_name};
use crate::report::words;
use serde::Serialize;

/// `verdict`.
#[derive(Serialize)]
pub(super) struct VerdictOut {
    text: String,
    requests: u64,
    failed: u64,
    in_flight_at_end: u64,
    /// Only when some: requests whose outcome is not visible.
    #[serde(skip_serializing_if = "is_zero")]
    outcome_not_visible: u64,
    groups: Vec<GroupOut>,
    other_groups: usize,
    other_failures: u64,
    risks: Vec<KeepAliveOut>,
    other_risks: usize,
}

impl VerdictOut {
    pub(super) fn new(a: &Analysis) -> Self {
        let v = Verdict::of(a);
        VerdictOut {
            text: words::verdict(&v).plain(),
            requests: v.requests,
            failed: v.failed,
            in_flight_at_end: v.in_flight_at_end,
            outcome_not_visible: v.outcome_not_visible,
            groups: v.groups.iter().map(GroupOut::new).collect(),
            other_groups: v.other_groups,
            other_failures: v.other_failures,
            risks: v.risks.iter().map(KeepAliveOut::new).collect(),
            other_risks: v.other_risks,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One of `verdict.groups`.
#[derive(Serialize)]
struct GroupOut {
    category: &'static str,
    count: u64,
    targets: Vec<TargetCountOut>,
    other_targets: usize,
    candidates: Vec<&'static str>,
    keepalive: Vec<KeepAliveOut>,
    /// Only for a group with gRPC errors (the verdict names them).
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc: Option<GrpcErrorsOut>,
}

/// `verdict.groups[].grpc`: the gRPC status codes the target answered with under a non-5xx HTTP
/// status, most often first, and whether every failure of the group is one.
#[derive(Serialize)]
struct GrpcErrorsOut {
    errors: Vec<GrpcCodeOut>,
    only: bool,
}

/// One gRPC status code and its name (`null` for a code gRPC does not define).
#[derive(Serialize)]
struct GrpcCodeOut {
    code: u32,
    name: Option<&'static str>,
}

/// A target of a group and its failures there.
#[derive(Serialize)]
struct TargetCountOut {
    target: Option<String>,
    count: u64,
}

impl GroupOut {
    fn new(g: &FailureGroup) -> Self {
        GroupOut {
            category: g.category.name(),
            count: g.count,
            targets: g
                .targets
                .iter()
                .map(|(row, count)| TargetCountOut {
                    target: match row {
                        TargetRow::NoTarget => None,
                        _ => Some(target_row_name(row)),
                    },
                    count: *count,
                })
                .collect(),
            other_targets: g.other_targets,
            candidates: g.candidates.iter().map(|c| c.name()).collect(),
            keepalive: g.keepalive.iter().map(KeepAliveOut::new).collect(),
            grpc: (!g.grpc_errors.is_empty()).then(|| GrpcErrorsOut {
                errors: g
                    .grpc_errors
                    .iter()
                    .map(|&code| GrpcCodeOut {
                        code,
                        name: crate::protocol::grpc_code_name(code),
                    })
                    .collect(),
                only: g.grpc_only,
            }),
        }
    }
}

/// A target's keep-alive facts.
#[derive(Serialize)]
struct KeepAliveOut {
    target: String,
    server: Option<&'static str>,
    observed_s: Option<f64>,
    announced_s: Option<f64>,
    idle_timeout_s: f64,
    races: bool,
    setting: Option<&'static str>,
    wanted_s: f64,
}

impl KeepAliveOut {
    fn new(k: &KeepAliveFacts) -> Self {
        KeepAliveOut {
            target: k.target.to_string(),
            server: k.server.map(|s| s.keepalive().name),
            observed_s: k.observed.map(secs),
            announced_s: k.announced.map(secs),
            idle_timeout_s: secs(k.idle_timeout),
            races: k.races(),
            setting: k.server.map(|s| s.keepalive().option),
            wanted_s: secs(k.wanted),
        }
    }
}
