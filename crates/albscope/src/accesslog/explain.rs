//! Explains one access-log entry from its fields alone, with the reasoning of the field article
//! (`seeds/000_228cbe30ade89923.txt`) and the AWS documentation of the fields and error codes.
//!
//! The signals: who answered (`elb_status_code` against `target_status_code`), which steps
//! happened (`-1` processing times), how long the ALB held the request
//! (`request_creation_time` -> `time`, compared with the fixed 10 s connect timeout and the idle
//! timeout), the target port, and `error_reason` / `classification` when AWS filled them.
//! A capture tells apart what the log cannot (RST against ICMP, garbage against a 33 KB
//! header); the confidence says how far the log alone goes.

use super::LogEntry;
use crate::capture::Duration;
use crate::taxonomy::{
    racing_knobs, Category, Confidence, GeneratedBy, DEFAULT_IDLE_TIMEOUT, KEEPALIVE_MARGIN_S,
};
use serde::Serialize;

/// Settings the fields cannot tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplainOptions {
    /// The load balancer's idle timeout (default 60 s).
    pub idle_timeout: Duration,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// What one access-log entry says about its request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The failure category (`ok` for a non-error); serialised by its name.
    pub category: Category,
    /// How far the log fields alone support the category.
    pub confidence: Confidence,
    /// `lb` when the ALB produced the status the client got, `target` when it relayed the
    /// target's; `None` for a non-error.
    pub generated_by: Option<GeneratedBy>,
    /// The evidence, one sentence each, naming the fields and values it rests on.
    pub reasons: Vec<String>,
    /// Other categories the same fields fit (a capture tells them apart).
    pub also_possible: Vec<Category>,
    /// What to change or check (empty when nothing is to be fixed; `null` in JSON then).
    #[serde(serialize_with = "empty_as_null")]
    pub fix: String,
}

/// Writes an empty string as `null` (absent values are `null` in every JSON output).
fn empty_as_null<S: serde::Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    if s.is_empty() {
        ser.serialize_none()
    } else {
        ser.serialize_str(s)
    }
}

const SEC: i64 = 1_000_000_000;
const CONNECT_TIMEOUT: Duration = Duration(10 * SEC);

/// Explains `e` with the default options (idle timeout 60 s).
pub fn explain(e: &LogEntry) -> Explanation {
    explain_with(e, &ExplainOptions::default())
}

fn secs(d: Duration) -> String {
    d.to_string()
}

fn opt_secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.3}", d.as_secs_f64()))
        .unwrap_or_else(|| "-1".to_string())
}

fn status(s: Option<u16>) -> String {
    s.map(|s| s.to_string()).unwrap_or_else(|| "-".to_string())
}

struct Builder {
    x: Explanation,
}

impl Builder {
    fn new(category: Category, confidence: Confidence, by: Option<GeneratedBy>) -> Self {
        Builder {
            x: Explanation {
                category,
                confidence,
                generated_by: by,
                reasons: Vec::new(),
                also_possible: Vec::new(),
                fix: String::new(),
            },
        }
    }
    fn reason(mut self, r: impl Into<String>) -> Self {
        self.x.reasons.push(r.into());
        self
    }
    fn also(mut self, cats: &[Category]) -> Self {
        self.x.also_possible.extend_from_slice(cats);
        self
    }
    fn fix(mut self, f: impl Into<String>) -> Explanation {
        self.x.fix = f.into();
        self.x
    }
}

/// Explains `e`: the failure category of a 4xx/5xx entry (`ok` for anything else), who produced
/// the status, how sure the fields alone make it, the evidence, and the fix.
pub fn explain_with(e: &LogEntry, opts: &ExplainOptions) -> Explanation {
    let Some(elb) = e.elb_status_code.filter(|s| *s >= 400) else {
        return explain_ok(e);
    };
    let tgt = e.target_status_code;
    let times = format!(
        "processing times {} {} {} (request, target, response; -1 = step never happened)",
        opt_secs(e.request_processing_time),
        opt_secs(e.target_processing_time),
        opt_secs(e.response_processing_time)
    );

    if elb == 460 {
        let mut b = Builder::new(
            Category::ClientClosed,
            Confidence::Certain,
            Some(GeneratedBy::Lb),
        )
        .reason(
            "elb_status_code 460: the client closed its connection before the ALB could answer; \
             the client received no response",
        );
        if let Some(el) = e.elapsed() {
            b = b.reason(format!(
                "the client gave up {} after sending the request",
                secs(el)
            ));
        }
        if e.request_processing_time.is_some() {
            b = b.reason(format!(
                "request_processing_time is set: the request had already reached the target {}",
                e.target.as_ref().map(|t| t.to_string()).unwrap_or_default()
            ));
        }
        return b.fix(
            "Raise the client's timeout above the slowest legitimate response time, or make the \
             target answer faster; the target may still have processed the request.",
        );
    }

    if let Some(t) = tgt {
        if t == elb {
            let mut b = Builder::new(
                Category::TargetGeneratedError,
                Confidence::Certain,
                Some(GeneratedBy::Target),
            )
            .reason(format!(
                "elb_status_code = target_status_code = {elb}: the target answered {elb} \
                     itself and the ALB relayed it (CloudWatch HTTPCode_Target_{}XX_Count)",
                elb / 100
            ));
            if let Some(tp) = e.target_processing_time {
                b = b.reason(format!("the target answered after {}", secs(tp)));
            }
            let fix = if elb == 502 || elb == 504 {
                "The target acts as a proxy here: its own upstream (application server, \
                 database, auth service) failed or timed out. Check the target's logs for this \
                 request (log the X-Amzn-Trace-Id header to correlate)."
            } else {
                "The error comes from the application on the target: check its logs for this \
                 request (log the X-Amzn-Trace-Id header to correlate)."
            };
            return b.fix(fix);
        }
    }

    if let Some(x) = explain_error_reason(e, elb) {
        return x;
    }

    if let Some(t) = tgt {
        // The target answered a different status than the client got.
        let base = format!(
            "target_status_code {t} but elb_status_code {elb}: the ALB read the target's status \
             line and still answered {elb} itself"
        );
        return match elb {
            502 => Builder::new(Category::MalformedResponse, Confidence::Possible, Some(GeneratedBy::Lb))
                .reason(base)
                .reason("the rest of the response was not acceptable: invalid headers, or a header block over 32 KB")
                .also(&[Category::ResponseHeaderTooLarge])
                .fix("Capture the target's response (tcpdump on the target) and check its headers: valid HTTP/1.1 syntax, total header size under 32 KB."),
            504 => Builder::new(Category::IncompleteBody, Confidence::Possible, Some(GeneratedBy::Lb))
                .reason(base)
                .reason("a 504 after response headers means the ALB waited for the rest of the response: usually a Content-Length larger than the body sent")
                .also(&[Category::TargetIdleTimeout])
                .fix("Make the target send exactly Content-Length bytes (or use chunked encoding) and finish the response before the idle timeout."),
            _ => Builder::new(Category::NoTargetAttempt, Confidence::Possible, Some(GeneratedBy::Lb))
                .reason(base)
                .fix("Compare the target's response with the ALB limits and listener rules for this path."),
        };
    }

    if elb == 502 || elb == 504 {
        if e.target.is_none() {
            return Builder::new(Category::NoTargetAttempt, Confidence::Likely, Some(GeneratedBy::Lb))
                .reason(format!(
                    "elb_status_code {elb} with target:port '-': no target was chosen (incomplete \
                     request from the client, or a Lambda target without an error_reason)"
                ))
                .reason(times)
                .fix("Check that the target group has registered targets and that the client sends a complete request.");
        }
        return explain_lb_5xx(e, elb, opts, times);
    }

    explain_other_lb_error(e, elb, times)
}

fn explain_ok(e: &LogEntry) -> Explanation {
    let by = match (e.elb_status_code, e.target_status_code) {
        (Some(_), Some(_)) => Some(GeneratedBy::Target),
        (Some(_), None) => Some(GeneratedBy::Lb),
        _ => None,
    };
    let mut b = Builder::new(Category::Ok, Confidence::Certain, by);
    b = b.reason(match e.target_status_code {
        Some(t) => format!(
            "elb_status_code {} relayed from the target's {t}",
            status(e.elb_status_code)
        ),
        None => format!(
            "elb_status_code {} answered by the ALB itself (actions: {})",
            status(e.elb_status_code),
            e.actions_executed.as_deref().unwrap_or("-")
        ),
    });
    b.fix("")
}

/// The ALB answered 502/504 itself after choosing a target: which step failed.
fn explain_lb_5xx(e: &LogEntry, elb: u16, opts: &ExplainOptions, times: String) -> Explanation {
    let target = e.target.as_ref().map(|t| t.to_string()).unwrap_or_default();
    let tls_port = e
        .target
        .as_ref()
        .and_then(|t| t.port)
        .is_some_and(|p| p == 443 || p == 8443);
    let elapsed = e.elapsed();
    let el_text = elapsed
        .map(|d| format!("{} between request_creation_time and time", secs(d)))
        .unwrap_or_else(|| "request_creation_time missing: time held unknown".to_string());
    let idle = opts.idle_timeout;
    let near = |d: Duration, goal: Duration, before: i64, after: i64| {
        d.0 >= goal.0 - before && d.0 <= goal.0 + after
    };
    let at_connect_timeout = elapsed.is_some_and(|d| near(d, CONNECT_TIMEOUT, SEC / 2, 2 * SEC));
    let at_idle = elapsed.is_some_and(|d| near(d, idle, SEC / 2, 3 * SEC));
    let ts = format!(
        "target_status_code '-': the ALB got no usable HTTP response from {target}, so it \
         generated the {elb} (CloudWatch HTTPCode_ELB_{elb}_Count)"
    );
    let fix_idle = format!(
        "The target did not answer within the idle timeout ({}). If such slow responses are \
         legitimate, raise the ALB idle timeout above them (and the target's keep-alive timeout \
         above that); otherwise find why the target hangs (thread pool, database, upstream). The \
         target may still finish and log a 200 for this request.",
        secs(idle)
    );

    match (
        e.request_processing_time,
        e.target_processing_time,
        e.response_processing_time,
    ) {
        // Never dispatched: the connection (or TLS handshake) to the target failed.
        (None, None, None) => {
            let never =
                "all three processing times are -1: the request was never sent to the target";
            if elb == 504 {
                if at_connect_timeout || elapsed.is_none() {
                    let conf = if at_connect_timeout {
                        Confidence::Likely
                    } else {
                        Confidence::Possible
                    };
                    let mut b = Builder::new(Category::TargetConnectTimeout, conf, Some(GeneratedBy::Lb))
                        .reason(ts)
                        .reason(never)
                        .reason(format!(
                            "{el_text}: the ALB waits 10 s (fixed) for the target's SYN-ACK, then gives up with 504"
                        ));
                    if tls_port {
                        b = b
                            .reason(format!("target port {} suggests an HTTPS target group, where a TLS handshake that stalls for 10 s ends the same way", e.target.as_ref().and_then(|t| t.port).unwrap_or(0)))
                            .also(&[Category::TargetTlsHandshakeTimeout]);
                    }
                    return b.fix(
                        "Nothing answered the ALB's connection attempt: check the security group \
                         and network ACL of the target (ingress from the ALB subnets on the target \
                         port, and return traffic on ephemeral ports 1024-65535), the ALB's egress \
                         rules, routing, and host firewalls (iptables, ufw, SELinux, endpoint \
                         security). CloudWatch TargetConnectionErrorCount counts these.",
                    );
                }
                if at_idle {
                    return Builder::new(Category::TargetIdleTimeout, Confidence::Likely, Some(GeneratedBy::Lb))
                        .reason(ts)
                        .reason(never)
                        .reason(format!("{el_text}, the idle timeout: AWS logs -1 processing times when the target does not respond before the idle timeout"))
                        .fix(fix_idle);
                }
                return Builder::new(Category::TargetConnectTimeout, Confidence::Possible, Some(GeneratedBy::Lb))
                    .reason(ts)
                    .reason(never)
                    .reason(format!(
                        "{el_text}: neither the 10 s connect timeout nor the {} idle timeout (pass --idle-timeout if yours differs)",
                        secs(idle)
                    ))
                    .also(&[Category::TargetIdleTimeout])
                    .fix("Check connectivity from the ALB subnets to the target port (security groups, network ACLs, routing, host firewall), and the ALB idle timeout setting.");
            }
            // 502 without dispatch: the connection or the TLS handshake was rejected.
            let quick = elapsed.is_some_and(|d| d.0 < SEC);
            let held = if quick {
                format!("{el_text}: the target rejected the attempt at once (no timeout involved)")
            } else {
                el_text.clone()
            };
            if tls_port {
                return Builder::new(Category::TargetTlsHandshakeFailed, Confidence::Possible, Some(GeneratedBy::Lb))
                    .reason(ts)
                    .reason(never)
                    .reason(held)
                    .reason(format!(
                        "target port {} suggests an HTTPS target group: a TLS handshake the target rejects (RST or alert after the ALB's ClientHello) logs exactly like a refused connection",
                        e.target.as_ref().and_then(|t| t.port).unwrap_or(0)
                    ))
                    .reason(match &e.ssl_cipher {
                        Some(cipher) => format!("ssl_cipher {cipher} / {} is the client-side TLS; the back-end handshake uses the ALB's own policy, which the target must accept", e.ssl_protocol.as_deref().unwrap_or("-")),
                        None => "the client connection is plain HTTP; the back-end TLS is independent of it".to_string(),
                    })
                    .also(&[Category::TargetConnectRefused, Category::TargetUnreachableIcmp])
                    .fix("Check the TLS versions and cipher suites the target accepts against the ALB's back-end policy (usually a cipher mismatch: the target sends RST right after the ClientHello); ssldump or a capture on the target shows it. CloudWatch TargetTLSNegotiationErrorCount counts these; TargetConnectionErrorCount counts refused connections.");
            }
            let (cat, alt) = if quick || elapsed.is_none() {
                (
                    Category::TargetConnectRefused,
                    Category::TargetUnreachableIcmp,
                )
            } else {
                (
                    Category::TargetUnreachableIcmp,
                    Category::TargetConnectRefused,
                )
            };
            let mut b = Builder::new(cat, Confidence::Possible, Some(GeneratedBy::Lb))
                .reason(ts)
                .reason(never)
                .reason(held)
                .reason("a TCP RST (nothing listening on the port, or an overloaded target) and an ICMP destination unreachable both log as -1 -1 -1 502; only a capture tells which");
            if !quick && elapsed.is_some() {
                b = b.reason("a delay of a second or more before the 502 fits an ICMP host unreachable (sent after address resolution on the target's subnet fails) better than a RST");
            }
            b = b.reason("AWS also logs -1 processing times when the target closes a connection before the request could be sent on it");
            b.also(&[alt, Category::TargetClosedBeforeResponse]).fix(format!(
                "Check that the application listens on {target} (ss -anp | grep <port>; did it crash?), \
                 that it is not shedding connections under load, and that the ALB subnets can reach the \
                 target and port (routing, firewall appliance, host firewall). CloudWatch \
                 TargetConnectionErrorCount counts these."
            ))
        }
        // Dispatched, no response headers.
        (Some(rpt), None, _) => {
            let sent = format!(
                "request_processing_time {}: the ALB sent the request to the target; \
                 target_processing_time -1: no response headers came back",
                secs(rpt)
            );
            if elb == 504 {
                let conf = if at_idle {
                    Confidence::Likely
                } else {
                    Confidence::Possible
                };
                let mut b = Builder::new(Category::TargetIdleTimeout, conf, Some(GeneratedBy::Lb))
                    .reason(ts)
                    .reason(sent);
                b = if at_idle {
                    b.reason(format!(
                        "{el_text}: the idle timeout ({}) ran out, the ALB closed the back-end connection and answered 504",
                        secs(idle)
                    ))
                } else {
                    b.reason(format!(
                        "{el_text}, not the {} idle timeout assumed (pass --idle-timeout if yours differs)",
                        secs(idle)
                    ))
                };
                return b.fix(fix_idle);
            }
            let waited = elapsed.map(|d| Duration(d.0.saturating_sub(rpt.0)));
            if waited.is_some_and(|w| w.0 >= SEC) && !at_idle {
                let w = waited.unwrap_or_default();
                return Builder::new(Category::DeregistrationAbort, Confidence::Possible, Some(GeneratedBy::Lb))
                    .reason(ts)
                    .reason(sent)
                    .reason(format!(
                        "{el_text}: the target held the request {} without answering, then the connection ended before the {} idle timeout",
                        secs(w),
                        secs(idle)
                    ))
                    .reason("when the target was being deregistered, the ALB aborts its in-flight requests once the deregistration delay runs out; otherwise the target itself closed the connection mid-request (crash, worker timeout)")
                    .also(&[Category::TargetClosedBeforeResponse])
                    .fix("If the target was deregistered (Auto Scaling, deployment) at that time, raise the target group's deregistration delay above the longest request time. Otherwise check the target for a crash or a worker timeout (gunicorn --timeout, PHP max_execution_time) around that time.");
            }
            let mut b = Builder::new(
                Category::TargetClosedBeforeResponse,
                Confidence::Likely,
                Some(GeneratedBy::Lb),
            )
            .reason(ts)
            .reason(sent);
            match waited {
                Some(w) => {
                    b = b
                        .reason(format!(
                            "{el_text}: the connection ended {} after the request went out, without a response",
                            secs(w)
                        ))
                        .reason("so soon after dispatch, this is the keep-alive race: the ALB reused an idle connection just as the target's keep-alive timer closed it (FIN or RST)")
                        .also(&[Category::KeepaliveRace]);
                }
                None => b = b.reason(el_text),
            }
            b.fix(format!(
                "Set the target's keep-alive timeout a few seconds above the ALB idle timeout (e.g. {} s for {}): {}. Also check the target's logs for crashes at that time.",
                idle.0 / SEC + KEEPALIVE_MARGIN_S as i64,
                secs(idle),
                racing_knobs()
            ))
        }
        // Response headers began (target_processing_time set) but no target status logged.
        (_, Some(tpt), _) => {
            let got = format!(
                "target_processing_time {}: the target started answering, yet no target_status_code was logged: the ALB could not use what it received",
                secs(tpt)
            );
            if elb == 502 {
                return Builder::new(Category::MalformedResponse, Confidence::Likely, Some(GeneratedBy::Lb))
                    .reason(ts)
                    .reason(got)
                    .reason("the target's bytes were not a valid HTTP response, or its header block exceeded 32 KB; the log cannot tell which")
                    .also(&[Category::ResponseHeaderTooLarge])
                    .fix("Capture the target's raw response (tcpdump on the target, or curl -v straight to the target) and check the status line and headers: valid HTTP/1.1 syntax and under 32 KB of headers in total.");
            }
            Builder::new(Category::IncompleteBody, Confidence::Possible, Some(GeneratedBy::Lb))
                .reason(ts)
                .reason(got)
                .reason(format!("{el_text}: the ALB waited for the rest of the response"))
                .also(&[Category::TargetIdleTimeout])
                .fix("Make the target send exactly Content-Length bytes (or use chunked encoding) and finish the response before the idle timeout.")
        }
        // request -1 but response time set: not a documented combination.
        (None, None, Some(_)) => Builder::new(
            Category::NoTargetAttempt,
            Confidence::Possible,
            Some(GeneratedBy::Lb),
        )
        .reason(ts)
        .reason(times)
        .fix("Unusual combination of processing times; check the target's health and logs."),
    }
}

/// `error_reason` set by the ALB (Lambda targets, authenticate actions, WAF, weighted groups).
fn explain_error_reason(e: &LogEntry, elb: u16) -> Option<Explanation> {
    let er = e.error_reason.as_deref()?;
    let said = format!("error_reason {er}");
    let x = if let Some(rest) = er.strip_prefix("Lambda") {
        let lambda = "the target is a Lambda function";
        match rest {
            "InvalidResponse" => Builder::new(Category::MalformedResponse, Confidence::Certain, Some(GeneratedBy::Lb))
                .reason(format!("{said}: the function's response is malformed or misses required fields"))
                .reason(lambda)
                .fix("Return the ALB response shape from the function: statusCode, statusDescription, headers (or multiValueHeaders), body, isBase64Encoded."),
            "ResponseTooLarge" => Builder::new(Category::MalformedResponse, Confidence::Certain, Some(GeneratedBy::Lb))
                .reason(format!("{said}: the function's response exceeded 1 MB"))
                .reason(lambda)
                .fix("Keep Lambda responses behind an ALB under 1 MB (serve large objects from S3)."),
            "Unhandled" => Builder::new(Category::TargetGeneratedError, Confidence::Certain, Some(GeneratedBy::Lb))
                .reason(format!("{said}: the function threw an unhandled exception"))
                .reason(lambda)
                .fix("Read the function's CloudWatch Logs for the exception."),
            "ConnectionTimeout" => Builder::new(Category::TargetConnectTimeout, Confidence::Certain, Some(GeneratedBy::Lb))
                .reason(format!("{said}: an attempt to connect to Lambda timed out"))
                .fix("A Lambda-side problem (LambdaInternalError): retry, and contact AWS support if it persists."),
            _ => Builder::new(Category::NoTargetAttempt, Confidence::Certain, Some(GeneratedBy::Lb))
                .reason(format!("{said}: Lambda could not run the function (permissions, throttling, VPC/KMS setup, request too large or not UTF-8, or a Lambda-internal error)"))
                .reason(lambda)
                .fix(format!("Fix the condition named by {er} (see the AWS access-log error reason codes); check the function's permissions, concurrency, VPC and KMS settings.")),
        }
    } else if er.starts_with("Auth") {
        let idp = matches!(
            er,
            "AuthTokenEpRequestFailed"
                | "AuthTokenEpRequestTimeout"
                | "AuthUserinfoEpRequestFailed"
                | "AuthUserinfoEpRequestTimeout"
                | "AuthUnhandledException"
                | "AuthMissingHostHeader"
                | "AuthUserinfoResponseSizeExceeded"
        );
        Builder::new(Category::NoTargetAttempt, Confidence::Certain, Some(GeneratedBy::Lb))
            .reason(format!("{said}: the listener rule's authenticate action failed, the request never reached a target"))
            .reason(if idp {
                "the identity provider failed or was unreachable (CloudWatch ELBAuthError / ELBAuthUserClaimsSizeExceeded): an availability problem, not the client's"
            } else {
                "the client's authentication data was not valid (CloudWatch ELBAuthFailure)"
            })
            .fix(if idp {
                "Check the IdP's token and user-info endpoints are reachable from the ALB (outbound security group rules, DNS) and answer in time; keep user claims under 11 KB."
            } else {
                "Usually the client's expired or tampered session cookie or a replayed login callback; check the IdP client configuration if it affects many clients."
            })
    } else if er.starts_with("WAF") {
        Builder::new(Category::NoTargetAttempt, Confidence::Certain, Some(GeneratedBy::Lb))
            .reason(format!("{said}: the ALB could not get a verdict from AWS WAF for this request"))
            .fix("Check AWS WAF service health and the web ACL association; consider the ALB attribute waf.fail_open.enabled.")
    } else if er.starts_with("AWSALBTG") || er.starts_with("WeightedTargetGroups") {
        Builder::new(Category::NoTargetAttempt, Confidence::Certain, Some(GeneratedBy::Lb))
            .reason(format!("{said}: routing to weighted target groups failed (e.g. an AWSALBTG cookie that is not valid, such as URL-encoded)"))
            .fix("Make clients send the AWSALBTG stickiness cookie back unmodified.")
    } else {
        return None;
    };
    let mut x = x;
    x.reasons.push(format!("elb_status_code {elb}"));
    Some(x)
}

/// 4xx and 5xx other than 502/504, generated by the ALB (target_status_code '-').
fn explain_other_lb_error(e: &LogEntry, elb: u16, times: String) -> Explanation {
    let actions = e.actions_executed.as_deref().unwrap_or("-");
    let has_action = |a: &str| actions.split(',').any(|x| x == a);
    let base = format!(
        "elb_status_code {elb}, target_status_code '-': the ALB answered without a target response"
    );
    let b = Builder::new(
        Category::NoTargetAttempt,
        Confidence::Certain,
        Some(GeneratedBy::Lb),
    )
    .reason(base);
    if has_action("fixed-response") {
        return b
            .reason(format!("actions_executed {actions}: a listener rule returned a fixed {elb} response by configuration"))
            .fix("This status is configured on the listener rule (fixed-response action); change the rule if it is not intended.");
    }
    if let Some(class) = &e.classification {
        if class == "Severe" || (class == "Ambiguous" && elb == 400) {
            return b
                .reason(format!(
                    "classification {class} ({}): desync mitigation rejected the request as not RFC 7230 compliant",
                    e.classification_reason.as_deref().unwrap_or("-")
                ))
                .fix("Fix the client's request framing (Content-Length / Transfer-Encoding / header syntax), or review the ALB desync mitigation mode.");
        }
    }
    let (what, fix) = match elb {
        400 => ("the client sent a malformed request (bad syntax, header over 16 KB, request headers over 64 KB, or HTTP/1.0 without Host)", "Check the client's request: header sizes, syntax, and that it does not send plain HTTP to an HTTPS listener."),
        401 => ("an authenticate action rejected the user", "Check the listener rule's authenticate action and the user's credentials."),
        403 => (if has_action("waf") { "AWS WAF blocked the request (actions_executed contains waf)" } else { "the request was forbidden by the ALB (AWS WAF rule or listener configuration)" }, "Check which AWS WAF rule matched (WAF logs) or the listener rule for this path."),
        405 => ("the method is not allowed by the ALB (e.g. TRACE)", "Do not send that method to the ALB."),
        408 => ("the client did not send a full request within the idle timeout", "Look at the client or its network: it opened the request but stopped sending (slow client, or a mismatched Content-Length)."),
        413 => ("the request was too large (a Lambda target accepts at most 1 MB)", "Shrink the request body, or use a non-Lambda target for large uploads."),
        414 => ("the request line exceeded 16 KB", "Shorten the URL (query string)."),
        463 => ("the X-Forwarded-For header had more than 30 addresses", "Find the proxy chain that keeps appending X-Forwarded-For (often a forwarding loop) and cut it."),
        464 => ("the request protocol does not match the target group's protocol version (e.g. gRPC or HTTP/2 to an HTTP/1.1 group, or the reverse)", "Match the target group's protocol version to what clients send."),
        500 => ("the ALB failed internally, or an authenticate/WAF step failed before forwarding", "Check error_reason and actions_executed; retry, and contact AWS support if it persists."),
        501 => ("the request used a Transfer-Encoding the ALB does not support", "Send Transfer-Encoding: chunked (or none)."),
        503 => (if e.target.is_none() { "no target was available: the target group has no registered targets (or every rule forwards to an empty group)" } else { "the ALB could not send the request to the target" }, "Register healthy targets in the target group used by this rule; check target health and Auto Scaling activity at that time."),
        505 => ("the client used an HTTP version the ALB does not support", "Use HTTP/1.0, 1.1 or 2."),
        561 => ("the identity provider returned an error during the authenticate action (unauthorized)", "Check the IdP's logs and the authenticate action's client settings."),
        _ => ("the ALB produced this error itself", "See the AWS documentation of ALB HTTP error codes for this status."),
    };
    let b = b.reason(format!("{elb}: {what}"));
    let b = if e.target.is_none() {
        b.reason("target:port '-': no target was chosen")
    } else {
        b.reason(times)
    };
    b.fix(fix)
}
