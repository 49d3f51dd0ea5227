//! The failure taxonomy of DOMAIN.md, in one place: the [`Category`] names, who generates an
//! error ([`GeneratedBy`]), how sure a verdict is ([`Confidence`]), what each category means,
//! and the fix templates with the keep-alive defaults of common target servers ([`fix_text`],
//! [`SERVER_KEEPALIVE`]).
//!
//! A bottom-level module: it knows nothing of the layers. The capture analysis (`diagnose`), the
//! access-log explainer (`accesslog`), the reports and the sample builder all speak its names, so
//! a category name is written out once, in [`Category::name`].

mod fix;

pub use fix::{
    fix_text, keepalive_hint, racing_knobs, recognise, FixExtra, FixFacts, ServerKeepAlive,
    TargetServer, DEFAULT_IDLE_TIMEOUT, KEEPALIVE_MARGIN_S, SERVER_KEEPALIVE,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Failure category (DOMAIN.md taxonomy; names serialised verbatim).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// ALB's SYN answered by RST.
    TargetConnectRefused,
    /// ALB's SYN answered by ICMP destination unreachable.
    TargetUnreachableIcmp,
    /// Request sent, then FIN or RST from the target before any response byte.
    TargetClosedBeforeResponse,
    /// The target's keep-alive timer closed a reused idle connection as the request went out.
    KeepaliveRace,
    /// The target's bytes are not a valid HTTP response.
    MalformedResponse,
    /// Response header block over 32 KB.
    ResponseHeaderTooLarge,
    /// Back-end TLS handshake answered by RST, FIN or an alert.
    TargetTlsHandshakeFailed,
    /// The ALB closed the back end while the target was silent, before the idle timeout.
    DeregistrationAbort,
    /// SYN and retransmissions unanswered for 10 s.
    TargetConnectTimeout,
    /// Back-end TLS handshake not complete within 10 s.
    TargetTlsHandshakeTimeout,
    /// No response before the ALB idle timeout.
    TargetIdleTimeout,
    /// Content-Length larger than the body that followed.
    IncompleteBody,
    /// The target's own 5xx, relayed.
    TargetGeneratedError,
    /// The client closed before the ALB answered (ALB logs 460).
    ClientClosed,
    /// The ALB answered an error without any back-end attempt in the capture.
    NoTargetAttempt,
    /// A non-error response, relayed normally.
    Ok,
    /// Not one of the above: the capture does not show enough (said why in the evidence).
    Undetermined,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 17] = [
        Category::TargetConnectRefused,
        Category::TargetUnreachableIcmp,
        Category::TargetClosedBeforeResponse,
        Category::KeepaliveRace,
        Category::MalformedResponse,
        Category::ResponseHeaderTooLarge,
        Category::TargetTlsHandshakeFailed,
        Category::DeregistrationAbort,
        Category::TargetConnectTimeout,
        Category::TargetTlsHandshakeTimeout,
        Category::TargetIdleTimeout,
        Category::IncompleteBody,
        Category::TargetGeneratedError,
        Category::ClientClosed,
        Category::NoTargetAttempt,
        Category::Undetermined,
        Category::Ok,
    ];

    /// The category's name as used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Category::TargetConnectRefused => "target_connect_refused",
            Category::TargetUnreachableIcmp => "target_unreachable_icmp",
            Category::TargetClosedBeforeResponse => "target_closed_before_response",
            Category::KeepaliveRace => "keepalive_race",
            Category::MalformedResponse => "malformed_response",
            Category::ResponseHeaderTooLarge => "response_header_too_large",
            Category::TargetTlsHandshakeFailed => "target_tls_handshake_failed",
            Category::DeregistrationAbort => "deregistration_abort",
            Category::TargetConnectTimeout => "target_connect_timeout",
            Category::TargetTlsHandshakeTimeout => "target_tls_handshake_timeout",
            Category::TargetIdleTimeout => "target_idle_timeout",
            Category::IncompleteBody => "incomplete_body",
            Category::TargetGeneratedError => "target_generated_error",
            Category::ClientClosed => "client_closed",
            Category::NoTargetAttempt => "no_target_attempt",
            Category::Ok => "ok",
            Category::Undetermined => "undetermined",
        }
    }

    /// Parses a category name.
    pub fn from_name(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.name() == s)
    }

    /// True for every category but `ok`.
    pub fn is_failure(self) -> bool {
        self != Category::Ok
    }

    /// What the category means, in a few words (the reports' legends).
    pub fn meaning(self) -> &'static str {
        match self {
            Category::TargetConnectRefused => "target refused the connection (RST to SYN)",
            Category::TargetUnreachableIcmp => "target unreachable (ICMP)",
            Category::TargetClosedBeforeResponse => "target closed/reset before answering",
            Category::KeepaliveRace => "target's keep-alive timeout raced the ALB",
            Category::MalformedResponse => "target's response is not valid HTTP",
            Category::ResponseHeaderTooLarge => "target's response headers over 32 KB",
            Category::TargetTlsHandshakeFailed => "back-end TLS handshake failed",
            Category::DeregistrationAbort => "ALB aborted a request (deregistration delay)",
            Category::TargetConnectTimeout => "ALB could not connect within 10 s",
            Category::TargetTlsHandshakeTimeout => "back-end TLS handshake took over 10 s",
            Category::TargetIdleTimeout => "target slower than the ALB idle timeout",
            Category::IncompleteBody => {
                "response body cut short, before its Content-Length or last chunk"
            }
            Category::TargetGeneratedError => "the target's own 5xx, relayed",
            Category::ClientClosed => "client gave up first (ALB logs 460)",
            Category::NoTargetAttempt => "ALB answered without trying a target",
            Category::Ok => "answered normally",
            Category::Undetermined => "cause not visible in the capture",
        }
    }
}

impl Category {
    /// The status the ALB itself generates for this category, when the category fixes it
    /// (DOMAIN.md: 502 or 504 "from ALB"). `None` where the status is not the ALB's own or not
    /// fixed: the target's answer (`ok`, `target_generated_error`), a cut body, the client
    /// leaving, an ALB answer without attempt (any 5xx), `undetermined`.
    pub fn alb_status(self) -> Option<u16> {
        match self {
            Category::TargetConnectRefused
            | Category::TargetUnreachableIcmp
            | Category::TargetClosedBeforeResponse
            | Category::KeepaliveRace
            | Category::MalformedResponse
            | Category::ResponseHeaderTooLarge
            | Category::TargetTlsHandshakeFailed
            | Category::DeregistrationAbort => Some(502),
            Category::TargetConnectTimeout
            | Category::TargetTlsHandshakeTimeout
            | Category::TargetIdleTimeout => Some(504),
            Category::IncompleteBody
            | Category::TargetGeneratedError
            | Category::ClientClosed
            | Category::NoTargetAttempt
            | Category::Ok
            | Category::Undetermined => None,
        }
    }

    /// Who generated the answer and its status when every one of `candidates` (an
    /// `undetermined` verdict's) implies the same: the ALB and one status. `None` for no
    /// candidates, or candidates that disagree (a target's error beside an ALB's, a 502 beside
    /// a 504, the client leaving).
    pub fn common_answer(candidates: &[Category]) -> Option<(GeneratedBy, u16)> {
        let (first, rest) = candidates.split_first()?;
        let status = first.alb_status()?;
        rest.iter()
            .all(|c| c.alb_status() == Some(status))
            .then_some((GeneratedBy::Lb, status))
    }
}

/// The CloudWatch count of back-end errors a category adds to (besides the status codes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackEndErrorMetric {
    /// `TargetConnectionErrorCount`: the ALB's connect was refused, unreachable or timed out.
    TargetConnection,
    /// `TargetTLSNegotiationErrorCount`: the ALB's TLS handshake with the target failed or
    /// timed out.
    TargetTlsNegotiation,
}

impl Category {
    /// The back-end error count this category adds to, when it does.
    pub fn back_end_error_metric(self) -> Option<BackEndErrorMetric> {
        match self {
            Category::TargetConnectRefused
            | Category::TargetUnreachableIcmp
            | Category::TargetConnectTimeout => Some(BackEndErrorMetric::TargetConnection),
            Category::TargetTlsHandshakeFailed | Category::TargetTlsHandshakeTimeout => {
                Some(BackEndErrorMetric::TargetTlsNegotiation)
            }
            _ => None,
        }
    }

    /// The back-end error count every one of `candidates` (an `undetermined` verdict's) adds
    /// to, when they all agree (like [`Category::common_answer`] for the status): e.g. a
    /// refused connect or an ICMP unreachable is a target connection error either way. `None`
    /// for no candidates or candidates that disagree.
    pub fn common_back_end_error(candidates: &[Category]) -> Option<BackEndErrorMetric> {
        let (first, rest) = candidates.split_first()?;
        let metric = first.back_end_error_metric()?;
        rest.iter()
            .all(|c| c.back_end_error_metric() == Some(metric))
            .then_some(metric)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who produced the status the client got.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratedBy {
    /// The load balancer itself.
    Lb,
    /// The target (relayed by the ALB).
    Target,
}

impl GeneratedBy {
    /// The name as used in JSON: `lb` or `target`.
    pub fn name(self) -> &'static str {
        match self {
            GeneratedBy::Lb => "lb",
            GeneratedBy::Target => "target",
        }
    }
}

impl fmt::Display for GeneratedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How far the evidence at hand supports a category (the access-log explainer's verdicts: the
/// log fields alone often fit more than one category, a capture tells them apart).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The evidence allows no other category.
    Certain,
    /// The most probable category; others fit less well.
    Likely,
    /// One of several categories the evidence fits equally.
    Possible,
}

impl Confidence {
    /// The name as used in JSON: `certain`, `likely` or `possible`.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
            Confidence::Possible => "possible",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_answer_only_when_every_candidate_agrees() {
        let race = [
            Category::KeepaliveRace,
            Category::TargetClosedBeforeResponse,
        ];
        assert_eq!(Category::common_answer(&race), Some((GeneratedBy::Lb, 502)));
        let timeouts = [
            Category::TargetConnectTimeout,
            Category::TargetTlsHandshakeTimeout,
            Category::TargetIdleTimeout,
        ];
        assert_eq!(
            Category::common_answer(&timeouts),
            Some((GeneratedBy::Lb, 504))
        );
        for disagree in [
            &[
                Category::TargetGeneratedError,
                Category::TargetClosedBeforeResponse,
            ][..],
            &[Category::ClientClosed, Category::DeregistrationAbort],
            &[Category::TargetIdleTimeout, Category::DeregistrationAbort],
            &[Category::IncompleteBody, Category::ClientClosed],
            &[Category::TargetGeneratedError],
            &[],
        ] {
            assert_eq!(Category::common_answer(disagree), None, "{disagree:?}");
        }
    }

    #[test]
    fn common_back_end_error_only_when_every_candidate_agrees() {
        use BackEndErrorMetric::*;
        let connect = [
            Category::TargetConnectRefused,
            Category::TargetUnreachableIcmp,
            Category::TargetConnectTimeout,
        ];
        assert_eq!(
            Category::common_back_end_error(&connect),
            Some(TargetConnection)
        );
        let tls = [
            Category::TargetTlsHandshakeFailed,
            Category::TargetTlsHandshakeTimeout,
        ];
        assert_eq!(
            Category::common_back_end_error(&tls),
            Some(TargetTlsNegotiation)
        );
        for disagree in [
            &[
                Category::TargetConnectTimeout,
                Category::TargetTlsHandshakeTimeout,
            ][..],
            &[
                Category::TargetConnectRefused,
                Category::TargetClosedBeforeResponse,
            ],
            &[Category::TargetIdleTimeout],
            &[],
        ] {
            assert_eq!(
                Category::common_back_end_error(disagree),
                None,
                "{disagree:?}"
            );
        }
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.name()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.name())
            );
        }
        for g in [GeneratedBy::Lb, GeneratedBy::Target] {
            assert_eq!(
                serde_json::to_string(&g).unwrap(),
                format!("\"{}\"", g.name())
            );
        }
        for c in [
            Confidence::Certain,
            Confidence::Likely,
            Confidence::Possible,
        ] {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.name())
            );
        }
    }
}
