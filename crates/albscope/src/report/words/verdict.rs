//! The verdict in words (the first sentences of every report), and rich text: prose with code
//! spans, which text writes plainly, Markdown as code spans and HTML as `<code>`.

use crate::capture::Duration;
use crate::diagnose::verdict::{FailureGroup, KeepAliveFacts, Verdict};
use crate::diagnose::TargetRow;
use crate::taxonomy::Category;

/// A piece of rich text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Prose.
    Text(String),
    /// Code: a command, a setting, a category name.
    Code(String),
}

/// Rich text: prose and code spans in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rich(pub Vec<Piece>);

impl Rich {
    fn text(&mut self, s: impl Into<String>) -> &mut Self {
        let s = s.into();
        match self.0.last_mut() {
            Some(Piece::Text(t)) => t.push_str(&s),
            _ => self.0.push(Piece::Text(s)),
        }
        self
    }

    fn code(&mut self, s: impl Into<String>) -> &mut Self {
        self.0.push(Piece::Code(s.into()));
        self
    }

    /// The plain text (code written as it is, without marks).
    pub fn plain(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(s) | Piece::Code(s) => s.as_str(),
            })
            .collect()
    }
}

/// Splits a sentence that marks code with backticks (as the fix templates do) into rich text;
/// an unpaired backtick stays prose.
pub fn spans(s: &str) -> Rich {
    let mut r = Rich::default();
    let parts: Vec<&str> = s.split('`').collect();
    // An even number of backticks gives an odd number of parts: code is every second part.
    let paired = parts.len() % 2 == 1;
    for (i, p) in parts.iter().enumerate() {
        if paired && i % 2 == 1 && !p.is_empty() {
            r.code(*p);
        } else if paired {
            r.text(*p);
        } else {
            if i > 0 {
                r.text("`");
            }
            r.text(*p);
        }
    }
    r
}

/// `5 s`, `2.2 s`: a timer in seconds, to the tenth.
fn timer(d: Duration) -> String {
    let tenths = (d.0 + 50_000_000).div_euclid(100_000_000);
    if tenths % 10 == 0 {
        format!("{} s", tenths / 10)
    } else {
        format!("{:.1} s", tenths as f64 / 10.0)
    }
}

/// What a group's failures without a back-end attempt in the capture are said to be: there was
/// none (`no_target_attempt`), or (any other category, e.g. an ALB 502 or 504, which come only
/// after trying a target) the attempt is not in the capture.
fn no_target_name(g: &FailureGroup) -> &'static str {
    if g.category == Category::NoTargetAttempt {
        NO_TARGET_ATTEMPT
    } else {
        ATTEMPT_NOT_SEEN
    }
}

const NO_TARGET_ATTEMPT: &str = "no target attempt";
const ATTEMPT_NOT_SEEN: &str = "the target attempt not seen in the capture";

/// Where a group's failures happened: ` on 10.0.2.37:8080 and 10.0.2.15:80`, ` with no
/// target attempt`, ` with the target attempt not seen in the capture`, or nothing when the
/// capture cannot show targets.
fn where_(r: &mut Rich, g: &FailureGroup, back_end_captured: bool) {
    let mut names: Vec<String> = g
        .targets
        .iter()
        .filter_map(|(row, _)| match row {
            TargetRow::Target(ep) => Some(ep.to_string()),
            TargetRow::NoTarget if back_end_captured => Some(no_target_name(g).into()),
            TargetRow::NoTarget => None,
            TargetRow::Others => Some("other targets".into()),
        })
        .collect();
    if g.other_targets > 0 {
        names.push(format!(
            "{} other {}",
            g.other_targets,
            if g.other_targets == 1 {
                "target"
            } else {
                "targets"
            }
        ));
    }
    match names.as_slice() {
        [] => {}
        [only] if only == NO_TARGET_ATTEMPT || only == ATTEMPT_NOT_SEEN => {
            r.text(format!(" with {only}"));
        }
        [only] => {
            r.text(format!(" on {only}"));
        }
        [init @ .., last] => {
            r.text(format!(" on {} and {last}", init.join(", ")));
        }
    }
}

/// `Node.js, keep-alive 5 s < ALB idle timeout 60 s: set keepAliveTimeout to 65 s`.
fn keepalive(r: &mut Rich, k: &KeepAliveFacts) {
    let ka = k.server.map(|s| s.keepalive());
    if let Some(ka) = ka {
        r.text(ka.name);
        r.text(", ");
    }
    match k.observed.or(k.announced) {
        Some(o) if o < k.idle_timeout => r.text(format!(
            "{} < ALB idle timeout {}",
            keepalive_value(k, o),
            timer(k.idle_timeout)
        )),
        Some(o) => r.text(format!(
            "{}, ALB idle timeout {}",
            keepalive_value(k, o),
            timer(k.idle_timeout)
        )),
        None => r.text(format!("ALB idle timeout {}", timer(k.idle_timeout))),
    };
    set(r, k);
}

/// `keep-alive 5 s` (observed), or `announced keep-alive 5 s` when only announced.
fn keepalive_value(k: &KeepAliveFacts, value: Duration) -> String {
    if k.observed.is_some() {
        format!("keep-alive {}", timer(value))
    } else {
        format!("announced keep-alive {}", timer(value))
    }
}

/// `: set keepAliveTimeout to 65 s`.
fn set(r: &mut Rich, k: &KeepAliveFacts) {
    r.text(": set ");
    match k.server {
        Some(s) => r.code(s.keepalive().option),
        None => r.text("the target's keep-alive timeout"),
    };
    r.text(format!(" to {}", timer(k.wanted)));
}

/// The keep-alive facts of a group, each prefixed by its target when there are several.
fn keepalives<'a>(r: &mut Rich, ks: impl Iterator<Item = &'a KeepAliveFacts>, several: bool) {
    for (i, k) in ks.enumerate() {
        if i > 0 {
            r.text("; ");
        }
        if several {
            r.text(format!("{}: ", k.target));
        }
        keepalive(r, k);
    }
}

fn group(r: &mut Rich, g: &FailureGroup, back_end_captured: bool) {
    r.text(format!("{} ", g.count));
    r.code(g.category.name());
    where_(r, g, back_end_captured);
    r.text(" (");
    let several = g.targets.len() > 1;
    match g.category {
        Category::KeepaliveRace if !g.keepalive.is_empty() => {
            keepalives(r, g.keepalive.iter(), several)
        }
        Category::Undetermined => {
            r.text(Category::Undetermined.meaning());
            if !g.candidates.is_empty() {
                r.text("; may be ");
                for (i, c) in g.candidates.iter().take(3).enumerate() {
                    if i > 0 {
                        r.text(" or ");
                    }
                    r.code(c.name());
                }
            }
        }
        Category::TargetGeneratedError if !g.grpc_errors.is_empty() => {
            r.text(grpc_errors_text(g));
        }
        c => {
            r.text(c.meaning());
            if g.keepalive.iter().any(KeepAliveFacts::races) {
                r.text("; ");
                keepalives(r, g.keepalive.iter().filter(|k| k.races()), several);
            }
        }
    }
    r.text(")");
}

/// A target's gRPC errors in a verdict: `the target's gRPC error INTERNAL (13), relayed`, or
/// `the target's own 5xx or gRPC error ...` when some of the group were HTTP errors.
fn grpc_errors_text(g: &FailureGroup) -> String {
    let codes: Vec<String> = g
        .grpc_errors
        .iter()
        .map(|&c| match crate::protocol::grpc_code_name(c) {
            Some(n) => format!("{n} ({c})"),
            None => format!("code {c}"),
        })
        .collect();
    format!(
        "the target's {}gRPC error{} {}, relayed",
        if g.grpc_only { "" } else { "own 5xx or " },
        if codes.len() == 1 { "" } else { "s" },
        codes.join(", ")
    )
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `The front end is encrypted: 3 connections, 10 exchanges whose outcome is not visible.`
/// with what to capture, when some exchanges' outcome is not visible.
fn encrypted(r: &mut Rich, v: &Verdict) {
    let e = &v.encrypted;
    if e.exchanges == 0 {
        return;
    }
    if !r.0.is_empty() {
        r.text(" ");
    }
    r.text(format!(
        "The front end is encrypted: {}, {} whose outcome is not visible",
        plural(e.connections, "connection", "connections"),
        plural(e.exchanges, "exchange", "exchanges")
    ));
    if e.http2_connections > 0 {
        r.text(format!(
            " (HTTP/2 offered on {}: requests cannot be counted from TLS records)",
            if e.http2_connections == e.connections && e.connections > 1 {
                "all of them".to_string()
            } else if e.http2_connections == e.connections {
                "it".to_string()
            } else {
                plural(e.http2_connections, "connection", "connections")
            }
        ));
    }
    if v.back_end_captured {
        // The back end is in the capture and shows no request for them.
        r.text(
            ". The back end shows no request for them (HTTP/2 control exchanges, or requests \
                the ALB answered itself). To see them: give the clients' TLS keys with ",
        );
    } else {
        r.text(
            ". To see them: capture the targets' side (the ALB's back-end connections) or \
                give the clients' TLS keys with ",
        );
    }
    r.code("--tls-keylog");
    r.text(".");
}

/// `3 answered, status not visible: ...`: the target's answers seen over TLS whose status the
/// capture cannot read, and what to capture to read it.
fn answered_not_visible(r: &mut Rich, v: &Verdict) {
    let n = v.answered_not_visible;
    if n == 0 {
        return;
    }
    if !r.0.is_empty() {
        r.text(" ");
    }
    r.text(format!(
        "{n} answered, status not visible: the target's {} encrypted (TLS) and the front end \
         is not in the capture (or not readable), so neither the status nor what the client got \
         (the target's answer relayed, or the ALB's own error) can be read; none is guessed. To \
         read {}: capture the front end too (client->ALB) or give the back-end TLS keys with ",
        if n == 1 { "answer is" } else { "answers are" },
        if n == 1 { "it" } else { "them" },
    ));
    r.code("--tls-keylog");
    r.text(".");
}

/// `2 client TLS handshakes failed (the ALB's alert handshake_failure): no request was made; ...`
fn client_tls(r: &mut Rich, v: &Verdict) {
    let n = v.client_tls_failures;
    if n == 0 {
        return;
    }
    if !r.0.is_empty() {
        r.text(" ");
    }
    r.text(format!(
        "{} failed",
        plural(n, "client TLS handshake", "client TLS handshakes")
    ));
    if !v.client_tls_alerts.is_empty() {
        let alerts: Vec<String> = v
            .client_tls_alerts
            .iter()
            .map(|(alb, d)| {
                format!(
                    "{} alert {d}",
                    if *alb { "the ALB's" } else { "the client's" }
                )
            })
            .collect();
        r.text(format!(" ({})", alerts.join(", ")));
    }
    r.text(
        ": no request was made; compare the clients' TLS versions and ciphers with the \
            listener's security policy.",
    );
}

/// The verdict's sentences: what failed, where and what to set; then the keep-alive risks.
pub fn verdict(v: &Verdict) -> Rich {
    let mut r = Rich::default();
    let visible = v.requests.saturating_sub(v.outcome_not_visible);
    if let (0, Some(u)) = (
        v.requests,
        v.unrecognised_tls.as_ref().filter(|u| u.plain_http),
    ) {
        r.text(format!(
            "No ALB node was recognised: the capture holds {} in plain HTTP ({}) that nothing \
             answered, and nothing readable names an ALB (no awselb answer, ALB-added headers \
             or health checks); nothing is guessed. If the most likely candidate is the node, \
             run again with ",
            plural(u.exchanges, "request", "requests"),
            plural(u.connections, "connection", "connections"),
        ));
        r.code(u.flags.clone());
        r.text(" to have each request explained (a client that closed first, the ALB's timers).");
    } else if let (0, Some(u)) = (v.requests, &v.unrecognised_tls) {
        r.text(format!(
            "No ALB node was recognised: the capture holds {} ({}, no keys) between addresses \
             that may be a node and its clients or targets; their outcome is not visible and \
             nothing is guessed. If the most likely candidate is the node{}, run again with ",
            plural(u.exchanges, "encrypted exchange", "encrypted exchanges"),
            plural(u.connections, "TLS connection", "TLS connections"),
            if u.tie {
                " (the capture cannot tell it from the next one)"
            } else {
                ""
            }
        ));
        r.code(u.flags.clone());
        r.text(
            "; to see the outcomes, give the TLS keys with --tls-keylog or capture the other \
             leg of the node too (its targets' side, or its clients').",
        );
    } else if v.requests == 0 && v.encrypted.exchanges == 0 {
        r.text("No client requests were recognised in the capture.");
    } else if v.failed == 0 && visible == 0 {
        // Nothing but exchanges whose outcome is not visible: the sentence below says it.
    } else if v.failed == 0 {
        let of_visible = if v.outcome_not_visible > 0 {
            " whose outcome is visible"
        } else {
            ""
        };
        if v.in_flight_at_end > 0 {
            r.text(format!(
                "None of the {}{of_visible} failed ({} still in flight when the capture ended).",
                plural(visible, "request", "requests"),
                v.in_flight_at_end
            ));
        } else if visible == 1 {
            r.text(format!(
                "The one request{of_visible} was answered normally."
            ));
        } else {
            r.text(format!(
                "All {visible} requests{of_visible} were answered normally."
            ));
        }
    } else {
        r.text(format!(
            "{} of {} failed: ",
            v.failed,
            plural(v.requests, "request", "requests")
        ));
        for (i, g) in v.groups.iter().enumerate() {
            if i > 0 {
                r.text(", ");
            }
            group(&mut r, g, v.back_end_captured);
        }
        if v.other_groups > 0 {
            r.text(format!(
                ", and {} more in {} other {}",
                v.other_failures,
                v.other_groups,
                if v.other_groups == 1 {
                    "group"
                } else {
                    "groups"
                }
            ));
        }
        if v.in_flight_at_end > 0 {
            r.text(format!(
                "; {} still in flight when the capture ended",
                v.in_flight_at_end
            ));
        }
        if v.outcome_not_visible > 0 {
            r.text(format!(
                "; the outcome of {} is not visible",
                v.outcome_not_visible
            ));
        }
        r.text(".");
    }
    encrypted(&mut r, v);
    answered_not_visible(&mut r, v);
    client_tls(&mut r, v);
    if !v.risks.is_empty() {
        r.text(" Risk: ");
        for (i, k) in v.risks.iter().enumerate() {
            if i > 0 {
                r.text(" and ");
            }
            r.text(format!("{} (", k.target));
            if let Some(s) = k.server {
                r.text(format!("{}, ", s.keepalive().name));
            }
            r.text(match k.observed.or(k.announced) {
                Some(v) => keepalive_value(k, v),
                None => "keep-alive ?".into(),
            });
            set(&mut r, k);
            r.text(")");
        }
        if v.other_risks > 0 {
            r.text(format!(" and {} more", v.other_risks));
        }
        let one = v.risks.len() == 1 && v.other_risks == 0;
        r.text(format!(
            " {} idle keep-alive connections before the ALB idle timeout ({}): a ",
            if one { "closes" } else { "close" },
            v.risks
                .first()
                .map_or_else(String::new, |k| timer(k.idle_timeout))
        ));
        r.code(Category::KeepaliveRace.name());
        r.text(" waiting to happen.");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::TargetServer;

    fn ep(ip: [u8; 4], port: u16) -> crate::flow::Endpoint {
        crate::flow::Endpoint {
            ip: ip.into(),
            port,
        }
    }

    fn s(secs: i64) -> Duration {
        Duration(secs * 1_000_000_000)
    }

    fn ka(server: Option<TargetServer>, observed: Option<i64>) -> KeepAliveFacts {
        KeepAliveFacts {
            target: ep([10, 0, 2, 37], 8080),
            server,
            observed: observed.map(s),
            announced: None,
            idle_timeout: s(60),
            wanted: s(65),
        }
    }

    fn v(groups: Vec<FailureGroup>) -> Verdict {
        Verdict {
            requests: 109,
            failed: groups.iter().map(|g| g.count).sum(),
            in_flight_at_end: 0,
            outcome_not_visible: 0,
            answered_not_visible: 0,
            encrypted: Default::default(),
            unrecognised_tls: None,
            client_tls_failures: 0,
            client_tls_alerts: Vec::new(),
            back_end_captured: true,
            groups,
            other_groups: 0,
            other_failures: 0,
            risks: Vec::new(),
            other_risks: 0,
        }
    }

    #[test]
    fn the_issue_example_reads_as_asked() {
        let race = FailureGroup {
            category: Category::KeepaliveRace,
            count: 1,
            targets: vec![(TargetRow::Target(ep([10, 0, 2, 37], 8080)), 1)],
            other_targets: 0,
            candidates: vec![],
            keepalive: vec![ka(Some(TargetServer::NodeJs), Some(5))],
            grpc_errors: vec![],
            grpc_only: false,
        };
        let refused = FailureGroup {
            category: Category::TargetConnectRefused,
            count: 1,
            targets: vec![(TargetRow::Target(ep([10, 0, 2, 88], 80)), 1)],
            other_targets: 0,
            candidates: vec![],
            keepalive: vec![],
            grpc_errors: vec![],
            grpc_only: false,
        };
        let r = verdict(&v(vec![race, refused]));
        assert_eq!(
            r.plain(),
            "2 of 109 requests failed: 1 keepalive_race on 10.0.2.37:8080 (Node.js, keep-alive \
             5 s < ALB idle timeout 60 s: set keepAliveTimeout to 65 s), 1 \
             target_connect_refused on 10.0.2.88:80 (target refused the connection (RST to \
             SYN))."
        );
        assert!(r.0.contains(&Piece::Code("keepAliveTimeout".into())));
        assert!(r.0.contains(&Piece::Code("keepalive_race".into())));
    }

    #[test]
    fn undetermined_is_never_a_confident_category() {
        let g = FailureGroup {
            category: Category::Undetermined,
            count: 3,
            targets: vec![(TargetRow::NoTarget, 3)],
            other_targets: 0,
            candidates: vec![
                Category::KeepaliveRace,
                Category::TargetClosedBeforeResponse,
            ],
            keepalive: vec![],
            grpc_errors: vec![],
            grpc_only: false,
        };
        let mut x = v(vec![g]);
        x.other_groups = 2;
        x.other_failures = 5;
        let t = verdict(&x).plain();
        assert!(
            t.contains(
                "3 undetermined with the target attempt not seen in the capture (cause not \
                 visible in the capture; may be keepalive_race or \
                 target_closed_before_response)"
            ),
            "{t}"
        );
        assert!(t.contains(", and 5 more in 2 other groups."), "{t}");
    }

    #[test]
    fn only_no_target_attempt_says_there_was_no_attempt() {
        let g = FailureGroup {
            category: Category::NoTargetAttempt,
            count: 2,
            targets: vec![(TargetRow::NoTarget, 2)],
            other_targets: 0,
            candidates: vec![],
            keepalive: vec![],
            grpc_errors: vec![],
            grpc_only: false,
        };
        let t = verdict(&v(vec![g])).plain();
        assert!(
            t.contains("2 no_target_attempt with no target attempt ("),
            "{t}"
        );
        assert!(!t.contains("not seen"), "{t}");
    }

    #[test]
    fn a_visible_risk_is_named_before_anything_failed() {
        let mut x = v(vec![]);
        x.risks = vec![ka(Some(TargetServer::Gunicorn), Some(2))];
        let t = verdict(&x).plain();
        assert_eq!(
            t,
            "All 109 requests were answered normally. Risk: 10.0.2.37:8080 (gunicorn, \
             keep-alive 2 s: set --keep-alive to 65 s) closes idle keep-alive connections \
             before the ALB idle timeout (60 s): a keepalive_race waiting to happen."
        );
    }

    #[test]
    fn backticks_become_code_spans() {
        let r = spans("listen on 80 (`ss -ltnp | grep :80`: did it crash?)");
        assert_eq!(
            r.0,
            vec![
                Piece::Text("listen on 80 (".into()),
                Piece::Code("ss -ltnp | grep :80".into()),
                Piece::Text(": did it crash?)".into()),
            ]
        );
        assert_eq!(spans("a ` b").0, vec![Piece::Text("a ` b".into())]);
        assert_eq!(spans("plain").plain(), "plain");
    }

    #[test]
    fn a_grpc_error_under_http_200_is_worded_as_one() {
        let g = |only| FailureGroup {
            category: Category::TargetGeneratedError,
            count: 1,
            targets: vec![(TargetRow::Target(ep([10, 0, 2, 37], 8080)), 1)],
            other_targets: 0,
            candidates: vec![],
            keepalive: vec![],
            grpc_errors: vec![13],
            grpc_only: only,
        };
        let r = verdict(&v(vec![g(true)])).plain();
        assert!(
            r.contains("(the target's gRPC error INTERNAL (13), relayed)"),
            "{r}"
        );
        let r = verdict(&v(vec![g(false)])).plain();
        assert!(
            r.contains("the target's own 5xx or gRPC error INTERNAL (13)"),
            "{r}"
        );
    }

    #[test]
    fn an_encrypted_front_end_alone_is_not_a_failure() {
        let mut x = v(vec![]);
        x.requests = 10;
        x.outcome_not_visible = 10;
        x.back_end_captured = false;
        x.encrypted = crate::diagnose::verdict::EncryptedCounts {
            connections: 3,
            http2_connections: 0,
            exchanges: 10,
        };
        let t = verdict(&x).plain();
        assert!(
            t.starts_with(
                "The front end is encrypted: 3 connections, 10 exchanges whose outcome is not \
                 visible. To see them: capture the targets' side"
            ),
            "{t}"
        );
        assert!(!t.contains("failed") && !t.contains("normally"), "{t}");
        // Some visible: the ok ones are said to be the visible ones.
        x.requests = 12;
        let t = verdict(&x).plain();
        assert!(
            t.starts_with("All 2 requests whose outcome is visible were answered normally."),
            "{t}"
        );
    }

    #[test]
    fn http2_exchanges_are_not_requests() {
        let mut x = v(vec![]);
        x.requests = 0;
        x.encrypted = crate::diagnose::verdict::EncryptedCounts {
            connections: 2,
            http2_connections: 2,
            exchanges: 14,
        };
        let t = verdict(&x).plain();
        assert!(
            t.starts_with(
                "The front end is encrypted: 2 connections, 14 exchanges whose outcome is not \
                 visible (HTTP/2 offered on all of them: requests cannot be counted from TLS \
                 records)."
            ),
            "{t}"
        );
        assert!(!t.contains("No client requests"), "{t}");
    }
}
