//! The facts every report states before its tables, written once: the capture window, ALB
//! nodes and why they are taken for nodes, targets, timers, damage and limit notes, and why
//! health checks failed.

use super::views::{latency_cell, secs, OTHER_TARGETS};
use crate::alb::{HealthProblem, NoAnswer, NodeEvidence, TimerSource};
use crate::diagnose::{
    Analysis, CaptureSpan, ClockOffset, LinkedAddress, NodeReport, Summary, TargetReport,
    TargetRow, Timers,
};

/// The capture window: `first .. last (18.432 s)`, or `no packets`.
pub fn capture_window(c: &CaptureSpan) -> String {
    match (c.first, c.last) {
        (Some(a), Some(b)) => format!(
            "{} .. {} ({:.3} s)",
            a.to_rfc3339(),
            b.to_rfc3339(),
            secs(c.duration)
        ),
        _ => "no packets".into(),
    }
}

/// A timer source's name (as JSON writes it): `default`, `config` or `inferred`.
pub fn timer_source_name(s: TimerSource) -> &'static str {
    match s {
        TimerSource::Default => "default",
        TimerSource::Config => "config",
        TimerSource::Inferred => "inferred",
    }
}

/// Why an address is taken for an ALB node, in words.
pub fn node_evidence_text(e: NodeEvidence) -> &'static str {
    match e {
        NodeEvidence::Configured => "given with --alb-ip",
        NodeEvidence::SendsHealthChecks => "sends health checks (User-Agent: ELB-HealthChecker)",
        NodeEvidence::SendsAlbHeaders => {
            "sends requests carrying X-Amzn-Trace-Id and X-Forwarded-For"
        }
        NodeEvidence::AnswersAsAwselb => "answers clients with Server: awselb/2.0",
        NodeEvidence::AcceptsAndOpens => "accepts connections and opens connections to others",
        NodeEvidence::AnswersClients => {
            "answers HTTP requests that carry none of the headers an ALB adds (assumed to be \
             the ALB because nothing else in the capture is recognised as one; name it with \
             --alb-ip)"
        }
        NodeEvidence::ForwardsCutShort => {
            "sends requests carrying X-Forwarded-For, -Proto and -Port in heads the \
             capture cut short (assumed to be the ALB because nothing else in the capture is \
             recognised as one; name it with --alb-ip)"
        }
        NodeEvidence::ServesSameSite => {
            "answers the same Host on the same listener port as a recognised ALB node (another \
             node of the same load balancer)"
        }
        NodeEvidence::HealthCheckCadence => {
            "opens short connections to a target at a steady interval, like health checks \
             (assumed to be the ALB because nothing else in the capture is recognised as one; \
             name it with --alb-ip)"
        }
        NodeEvidence::OpensToSeveralTargets => {
            "opens connections to several private servers on the same port, like a node \
             spreading requests over a target group (assumed to be the ALB because nothing else \
             in the capture is recognised as one; name it with --alb-ip)"
        }
        NodeEvidence::AcceptsPublicTlsClients => {
            "accepts TLS connections on one port from several public clients, itself private, \
             like an internet-facing node's front end (assumed to be the ALB because nothing \
             else in the capture is recognised as one; name it with --alb-ip)"
        }
        NodeEvidence::OpenedFailedConnect => {
            "opened a connection that never got going (assumed to be the ALB because nothing \
             else in the capture is recognised as one; name it with --alb-ip)"
        }
    }
}

/// Why a health check failed, in words: `answered 503`, `SYN unanswered (connection timed
/// out)`, `failed` when no reason was recorded.
pub fn health_problem_text(p: Option<&HealthProblem>) -> String {
    let Some(p) = p else {
        return "failed".into();
    };
    match p {
        HealthProblem::Status(s) => format!("answered {s}"),
        HealthProblem::NoAnswer {
            how,
            unmatched_attempt,
        } => {
            let what = match how {
                NoAnswer::Unknown => "no response".to_string(),
                NoAnswer::Icmp(e) => format!(
                    "ICMP {} (type {} code {})",
                    e.description, e.icmp_type, e.code
                ),
                NoAnswer::Refused => "connection refused (SYN answered by RST)".into(),
                NoAnswer::SynUnanswered => "SYN unanswered (connection timed out)".into(),
                NoAnswer::TlsIncomplete => "TLS handshake did not complete".into(),
                NoAnswer::Closed => "connection closed without a response".into(),
            };
            if *unmatched_attempt {
                format!("{what} (no client request matched this connection attempt)")
            } else {
                what
            }
        }
    }
}

/// `7 answered, status not visible (health check over TLS: ...)`: health checks whose answer
/// is encrypted, neither passed nor failed; `None` when there are none.
pub fn health_not_visible_text(n: u64) -> Option<String> {
    (n > 0).then(|| {
        format!(
            "{n} answered, status not visible (health check over TLS: the target answered but \
             its status is encrypted, neither passed nor failed; --tls-keylog reads it)"
        )
    })
}

/// `7 client requests: 6 ok, 1 failed`.
pub fn requests_fact(s: &Summary) -> String {
    format!(
        "{} client requests{}: {} ok, {} failed",
        s.requests,
        tls_inferred_text(s.inferred_from_tls),
        s.ok,
        s.failed
    )
}

/// ` (3 inferred from TLS records)` when some requests were seen only as TLS application
/// data, else nothing.
pub fn tls_inferred_text(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} inferred from TLS records)")
    }
}

/// The overall target response time percentiles, as one summary fact.
pub fn latency_fact(a: &Analysis) -> String {
    let rt = &a.metrics.cloudwatch.target_response_time;
    format!(
        "target response time p50/p90/p99/max over all {} requests with a target response: {}",
        rt.count,
        latency_cell(rt)
    )
}

/// A damaged input's message, with what was done about it.
pub fn damage_text(problem: &str) -> String {
    format!("{problem} (analysed up to the damage)")
}

/// A node's listener ports: `80, 443`, or `?` when none was seen.
pub fn listener_ports(n: &NodeReport) -> String {
    if n.listener_ports.is_empty() {
        "?".into()
    } else {
        let ports: Vec<String> = n.listener_ports.iter().map(u16::to_string).collect();
        ports.join(", ")
    }
}

/// What is known of a target: `Server: x`, `X-Powered-By: y`, its keep-alive timeout (in
/// seconds, worded by `keepalive`) and the one it announces (`announces Keep-Alive:
/// timeout=5`).
pub fn target_facts(t: &TargetReport, keepalive: impl Fn(f64) -> String) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(s) = &t.server {
        facts.push(format!("Server: {s}"));
    }
    if let Some(s) = &t.powered_by {
        facts.push(format!("X-Powered-By: {s}"));
    }
    if let Some(k) = t.keepalive_timeout.map(secs) {
        facts.push(keepalive(k));
    }
    if let Some(n) = t.announced_keepalive.map(secs) {
        facts.push(format!("announces Keep-Alive: timeout={n}"));
    }
    facts
}

/// `ALB idle timeout 60 s (default), connect timeout 10 s`, the idle timeout's source in the words of `source` ([`timer_source_name`] or
/// [`timer_source_text`]).
pub fn timers_line(t: &Timers, source: fn(TimerSource) -> &'static str) -> String {
    format!(
        "ALB idle timeout {:.0} s ({}), connect timeout {:.0} s",
        secs(t.idle_timeout),
        source(t.idle_timeout_source),
        secs(t.connect_timeout)
    )
}

/// Where the idle timeout came from, for a reader: `given`, `inferred from the ALB's own idle
/// closes`, or the AWS default and how to change it.
pub fn timer_source_text(s: TimerSource) -> &'static str {
    match s {
        TimerSource::Config => "given",
        TimerSource::Inferred => "inferred from the ALB's own idle closes",
        TimerSource::Default => "AWS default; set --idle-timeout if yours differs",
    }
}

/// What the analysis could not see or had to cut short (input damage aside), one sentence each:
/// every counter of lost, unreadable or limited input that is not zero.
pub fn limit_notes(a: &Analysis) -> Vec<String> {
    let d = &a.stats.decode;
    let f = &a.stats.flow;
    let p = &a.stats.protocol;
    let g = &a.alb_limits;
    let mut out = Vec::new();
    let mut note = |n: u64, text: String| {
        if n > 0 {
            out.push(text);
        }
    };
    note(
        d.truncated,
        format!(
            "{} frames cut short by the snap length or the mirror (payload past the cut is missing)",
            d.truncated
        ),
    );
    note(
        d.malformed,
        format!(
            "{} frames could not be decoded and were skipped",
            d.malformed
        ),
    );
    note(
        d.header_cut,
        format!(
            "{} frames were cut inside their own headers (the snap length or the mirror \
             session's packet length is too small): capture whole frames (tcpdump -s 0) or at \
             least 256 bytes of each (VXLAN and the inner headers take up to 150)",
            d.header_cut
        ),
    );
    let types: Vec<String> = d.unknown_link_types.iter().map(u32::to_string).collect();
    note(
        d.unknown_link,
        format!(
            "{} frames of a link type albscope does not read ({})",
            d.unknown_link,
            types.join(", ")
        ),
    );
    let times: Vec<&str> = a
        .stats
        .inputs
        .iter()
        .filter_map(|i| i.time_note.as_deref())
        .collect();
    note(
        a.stats.time_anomalies,
        format!(
            "{} packet{} with an unusable timestamp (backwards by over 1 s, implausible or \
             overflowing), kept out of durations: {}",
            a.stats.time_anomalies,
            if a.stats.time_anomalies == 1 { "" } else { "s" },
            times.join("; ")
        ),
    );
    note(
        d.bad_tunnel,
        format!(
            "{} mirror tunnel packets could not be unwrapped",
            d.bad_tunnel
        ),
    );
    let fragments = d.fragments_dropped + d.reassembly_evicted + d.reassembly_expired;
    note(
        fragments,
        format!(
            "{fragments} IP fragments dropped (datagram incomplete, or over the reassembly limit)"
        ),
    );
    note(
        d.bad_checksum,
        format!(
            "{} TCP segments with a bad checksum (kept: mirrored and offloaded packets often carry one)",
            d.bad_checksum
        ),
    );
    note(
        f.evicted,
        format!(
            "{} connections closed out early because the connection table was full (--max-connections)",
            f.evicted
        ),
    );
    note(
        f.gaps,
        format!(
            "{} gaps in TCP streams ({} bytes never captured)",
            f.gaps, f.gap_bytes
        ),
    );
    note(
        f.memory_skipped_bytes,
        format!(
            "{} bytes on {} connections skipped (memory limit: the buffer budget or the \
             out-of-order cap); they may be in the capture",
            f.memory_skipped_bytes, f.memory_limited_connections
        ),
    );
    note(
        p.headers_skipped,
        format!(
            "{} header blocks skipped (memory limit): their requests are undetermined",
            p.headers_skipped
        ),
    );
    note(
        f.continuations,
        format!(
            "{} connections closed out early were seen again and followed on (counted once)",
            f.continuations
        ),
    );
    note(
        f.conflicts,
        format!(
            "{} retransmitted bytes differed from the first copy (the first was kept)",
            f.conflicts
        ),
    );
    note(
        p.requests_dropped,
        format!(
            "{} requests could not be read (bytes missing, not HTTP, or headers over the ALB's 64 KB)",
            p.requests_dropped
        ),
    );
    // Those whose request the capture does not hold on either leg are noted below.
    let before = a.summary.answered_before_capture;
    let orphans = p.orphan_responses.saturating_sub(before);
    note(
        orphans,
        format!("{orphans} responses answered no request seen in the capture"),
    );
    note(
        before,
        format!(
            "{before} responses answered requests sent before the capture started (in flight at \
             its start): not counted as client requests"
        ),
    );
    note(
        p.queue_overflows,
        format!(
            "{} pipelined requests not followed (too many outstanding on one connection)",
            p.queue_overflows
        ),
    );
    let decrypt_seen = p.tls_decrypted
        + p.tls_keys_missing
        + p.tls_handshake_missing
        + p.tls_not_established
        + p.tls_unsupported_cipher
        + p.tls_decrypt_failed;
    note(decrypt_seen, decryption_note(p));
    note(
        p.tls_errors,
        format!(
            "{} TLS records or handshake messages could not be read",
            p.tls_errors
        ),
    );
    note(
        g.legs_paired_early,
        format!(
            "{} request legs were paired before their window closed because the pairing memory \
             ({} MiB, --pairing-memory) was full: some front/back pairs may be missed",
            g.legs_paired_early,
            g.pairing_budget_bytes >> 20
        ),
    );
    note(
        g.late_legs_dropped,
        format!(
            "{} back-end legs stopped waiting for a late TLS front end (too many were waiting)",
            g.late_legs_dropped
        ),
    );
    note(
        g.front_legs_decided_early,
        format!(
            "{} failed front-end requests were decided before their ALB node's back end showed in \
             the capture (too many waited): their back end was called not captured, though it \
             was at their time",
            g.front_legs_decided_early
        ),
    );
    note(
        g.nodes_over_limit,
        format!(
            "{} connections of ALB nodes past the first 10 000 were not counted per node",
            g.nodes_over_limit
        ),
    );
    note(
        g.targets_over_limit,
        format!(
            "{} connections went to targets past the first 10 000, not tracked one by one",
            g.targets_over_limit
        ),
    );
    note(
        g.sessions_over_limit,
        format!(
            "{} connections came through mirror sessions not listed for their node (over 64)",
            g.sessions_over_limit
        ),
    );
    note(
        g.resets_not_followed,
        format!(
            "{} target resets at a request were diagnosed without the connects after them \
             (over 256 on one target or 10 000 in all): they stay undetermined",
            g.resets_not_followed
        ),
    );
    let others = a.summary.by_target.get(&TargetRow::Others);
    note(
        others.map_or(0, |t| t.requests),
        format!(
            "{} requests to targets past the first {} share the row \"{}\"",
            others.map_or(0, |t| t.requests),
            crate::diagnose::MAX_TARGET_ROWS,
            OTHER_TARGETS
        ),
    );
    note(
        a.requests_not_kept,
        format!(
            "{} more requests are counted above but not listed (--max-requests)",
            a.requests_not_kept
        ),
    );
    out
}

/// The vantage point in words (the header's `vantage` line).
pub fn vantage_text(v: crate::alb::Vantage) -> &'static str {
    use crate::alb::Vantage;
    match v {
        Vantage::BothLegs => "both legs (front end client->ALB and back end ALB->target)",
        Vantage::BackEndOnly => {
            "back end only (ALB->target); what the client got is inferred, and a client that \
             left before its answer (ALB logs 460) is not visible when the ALB took the \
             target's answer anyway"
        }
        Vantage::FrontEndOnly => "front end only (client->ALB); the back end is not in the capture",
        Vantage::Unknown => {
            "unknown: no ALB traffic recognised (no awselb answer, ALB-added headers or \
             health checks); name the ALB with --alb-ip and --listener-port (a capture of its \
             clients' side) or --target-port (of its targets' side)"
        }
    }
}

/// The header note on TLS decryption with a key log: how many connections were decrypted, why
/// the others stayed opaque, and what was lost.
fn decryption_note(p: &crate::protocol::ProtocolStats) -> String {
    let mut parts = vec![format!(
        "TLS decryption with the key log: {} connection{} decrypted",
        p.tls_decrypted,
        if p.tls_decrypted == 1 { "" } else { "s" }
    )];
    let opaque = [
        (
            p.tls_keys_missing,
            "opaque: no key log line for their session",
        ),
        (
            p.tls_handshake_missing,
            "opaque: their hellos were not captured",
        ),
        (
            p.tls_not_established,
            "with no ServerHello (handshake not completed)",
        ),
        (
            p.tls_unsupported_cipher,
            "opaque: cipher suite not decrypted (only AEAD suites are)",
        ),
        (
            p.tls_decrypt_failed,
            "opaque: their keys opened no record (wrong key?)",
        ),
    ];
    for (n, why) in opaque {
        if n > 0 {
            parts.push(format!("{n} {why}"));
        }
    }
    if p.tls_decrypt_failures > 0 {
        parts.push(format!(
            "{} records failed to authenticate",
            p.tls_decrypt_failures
        ));
    }
    if p.tls_records_lost > 0 || p.tls_resyncs > 0 {
        parts.push(format!(
            "{} records lost in capture gaps, record stream found again {} times",
            p.tls_records_lost, p.tls_resyncs
        ));
    }
    if p.tls_unsynced > 0 {
        parts.push(format!(
            "{} directions opaque after a gap (no record found again)",
            p.tls_unsynced
        ));
    }
    parts.join("; ")
}

/// One fact of the Markdown and HTML header tables: its row label, its sentence, and whether it
/// warns (damage, limits).
#[derive(Clone, Debug)]
pub struct Fact {
    /// The row label: `Requests`, `ALB node`, `Clock`, ...
    pub label: &'static str,
    /// The sentence.
    pub text: String,
    /// A warning (input damage or a limit note).
    pub warn: bool,
}

/// A target's keep-alive timeout in words: `closes idle keep-alive connections after 5 s`.
pub fn keepalive_text(k: f64) -> String {
    let k = if k.fract() == 0.0 {
        format!("{k:.0}")
    } else {
        format!("{k:.3}")
    };
    format!("closes idle keep-alive connections after {k} s")
}

/// A node's one-line description for a fact table: address, listener ports, connections, health
/// checks, why it is taken for a node and the addresses linked to it.
pub fn node_fact(n: &NodeReport) -> String {
    let mut parts = vec![format!(
        "{} (listener {}; {} front-end, {} back-end connections, {} health checks)",
        n.ip,
        listener_ports(n),
        n.front_connections,
        n.back_connections,
        n.health_checks
    )];
    parts.extend(
        n.evidence
            .iter()
            .map(|e| format!("why: {}", node_evidence_text(*e))),
    );
    parts.extend(
        n.front_addresses
            .iter()
            .map(|l| format!("also: {}", linked_address_text(l))),
    );
    parts.join("; ")
}

/// A target with what is known of it: `10.0.2.37:8080 (Server: x; closes idle ...)`.
pub fn target_fact(t: &TargetReport) -> String {
    let f = target_facts(t, keepalive_text);
    if f.is_empty() {
        t.target.to_string()
    } else {
        format!("{} ({})", t.target, f.join("; "))
    }
}

/// `7 client requests: 6 ok, 1 failed`, with the requests still in flight at the end and those
/// whose outcome is not visible.
pub fn requests_line(s: &Summary) -> String {
    format!(
        "{}{}{}",
        requests_fact(s),
        in_flight_text(s.in_flight_at_end),
        not_visible_text(s)
    )
}

/// `2 client TLS handshakes with the ALB failed (no request was made; CloudWatch
/// ClientTLSNegotiationErrorCount)`, when some did.
pub fn client_tls_fact(s: &Summary) -> Option<String> {
    let n = s.client_tls_failures;
    (n > 0).then(|| {
        format!(
            "{n} client TLS {} with the ALB failed (no request was made; CloudWatch \
             ClientTLSNegotiationErrorCount){}",
            if n == 1 { "handshake" } else { "handshakes" },
            if n as usize > s.client_tls_failure_list.len() {
                format!(", the first {} by time:", s.client_tls_failure_list.len())
            } else {
                String::new()
            }
        )
    })
}

/// One failed client TLS handshake: `2025-12-11T16:42:57.3Z 13.211.35.216:40000 -> 10.0.1.25:443:
/// the ALB's alert handshake_failure (the client offered TLSv1.0) (packet #5)`.
pub fn client_tls_failure_text(files: &[String], f: &crate::alb::ClientTlsFailure) -> String {
    let what = match &f.alert {
        Some((true, d)) => format!("the ALB's alert {d}"),
        Some((false, d)) => format!("the client's alert {d}"),
        None => "the ALB closed the connection before the handshake completed".to_string(),
    };
    let selected = f
        .selected
        .as_ref()
        .map(|v| format!(", the ALB selected {v}"))
        .unwrap_or_default();
    format!(
        "{} {} -> {}: {what} (the client offered {}{selected}; packet {})",
        f.time.to_rfc3339(),
        f.client,
        f.alb,
        f.offered.join("/"),
        crate::diagnose::packet_ref(files, f.pos)
    )
}

/// `1 client connect to the listener got no answer (...)`, when one did: its possible causes
/// and what tells them apart.
pub fn listener_silent_fact(s: &Summary) -> Option<String> {
    let n = s.listener_silent;
    (n > 0).then(|| {
        format!(
            "{n} client {} to the listener got no answer: SYN retransmitted, never a SYN-ACK (no \
             request was made, and the ALB logged nothing). Undetermined: a security group or \
             network ACL dropping the SYN (inbound drops are never mirrored on the node's ENI), \
             an address that is no ALB node any more (a scale-in; a client on a cached DNS \
             answer), or a port with no listener. To tell: VPC Flow Logs of the node's ENI \
             (REJECT), the ALB's current addresses (dig its DNS name), its listeners and \
             security groups, a capture on the node's ENI at the same time{}",
            if n == 1 { "connect" } else { "connects" },
            if n as usize > s.listener_silent_list.len() {
                format!("; the first {} by time:", s.listener_silent_list.len())
            } else {
                ":".to_string()
            }
        )
    })
}

/// One unanswered client connect: `2025-12-11T16:42:57.3Z 10.0.5.38:40033 -> 10.0.1.25:80: 5
/// SYNs over 15.000 s (packet #9)`.
pub fn listener_silent_text(files: &[String], f: &crate::alb::ListenerSilent) -> String {
    format!(
        "{} {} -> {}: {} SYNs over {:.3} s, no answer (first SYN: packet {})",
        f.time.to_rfc3339(),
        f.client,
        f.alb,
        f.syns,
        f.last.since(f.time).as_secs_f64(),
        crate::diagnose::packet_ref(files, f.pos)
    )
}

/// `, 10 outcome not visible (encrypted front end: neither ok nor failed)`, `, 3 answered,
/// status not visible (encrypted back end, ...)` and, for HTTP/2
/// connections, `; 14 more exchanges on 2 HTTP/2 connections (requests cannot be counted from
/// TLS records)`; nothing when every outcome is visible.
pub fn not_visible_text(s: &Summary) -> String {
    let mut out = String::new();
    let front = s.outcome_not_visible.saturating_sub(s.answered_not_visible);
    if front > 0 {
        out.push_str(&format!(
            ", {front} outcome not visible (encrypted front end: neither ok nor failed)"
        ));
    }
    if s.answered_not_visible > 0 {
        out.push_str(&format!(
            ", {} answered, status not visible (encrypted back end, front end not readable: \
             neither ok nor failed)",
            s.answered_not_visible
        ));
    }
    let e = &s.encrypted_front;
    if e.http2_exchanges > 0 {
        out.push_str(&format!(
            "; {} {} on {} {} offering HTTP/2 whose outcome is not visible (requests cannot be \
             counted from TLS records)",
            e.http2_exchanges,
            if e.http2_exchanges == 1 {
                "exchange"
            } else {
                "exchanges"
            },
            e.http2_connections,
            if e.http2_connections == 1 {
                "connection"
            } else {
                "connections"
            }
        ));
    }
    out
}

/// `, 2 in flight at end of capture (not failures)` when some were, else nothing.
pub fn in_flight_text(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} in flight at end of capture (not failures)")
    }
}

/// The header facts the Markdown and HTML reports tabulate, in order: requests, capture,
/// vantage, latency, ALB nodes, clock offsets, targets, timers, damage and limit notes (the text
/// report states the same facts line by line).
pub fn facts(a: &Analysis) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut fact = |label, text: String, warn| out.push(Fact { label, text, warn });
    fact("Requests", requests_line(&a.summary), false);
    if let Some(t) = client_tls_fact(&a.summary) {
        fact("Client TLS", t, true);
    }
    for f in &a.summary.client_tls_failure_list {
        fact("Client TLS", client_tls_failure_text(&a.inputs, f), true);
    }
    if let Some(t) = listener_silent_fact(&a.summary) {
        fact("Unanswered connects", t, true);
    }
    for f in &a.summary.listener_silent_list {
        fact(
            "Unanswered connects",
            listener_silent_text(&a.inputs, f),
            true,
        );
    }
    fact(
        "Capture",
        format!(
            "{}, {} packets, inputs: {}",
            capture_window(&a.capture),
            a.stats.packets,
            a.inputs.join(", ")
        ),
        false,
    );
    fact("Vantage", vantage_text(a.vantage).into(), false);
    fact("Latency", latency_fact(a), false);
    if a.alb_nodes.is_empty() {
        fact("ALB nodes", NO_NODES.into(), false);
    }
    for c in candidate_texts(a) {
        fact("Candidate", c, true);
    }
    for n in &a.alb_nodes {
        fact("ALB node", node_fact(n), false);
    }
    for c in &a.clock_offsets {
        fact("Clock", clock_offset_text(c), false);
    }
    for r in &a.recordings {
        for t in recording_texts(r, &a.capture) {
            fact("Coverage", t, false);
        }
    }
    if a.targets.is_empty() {
        fact("Targets", "none seen".into(), false);
    }
    for t in &a.targets {
        fact("Target", target_fact(t), false);
    }
    fact("Timers", timers_line(&a.timers, timer_source_text), false);
    for p in &a.stats.problems {
        fact("Damage", damage_text(p), true);
    }
    for n in limit_notes(a) {
        fact("Note", n, true);
    }
    out
}

/// One likely ALB node, named when none was recognised (`rank` 0 is the most likely; `tie`
/// when the next one is as likely): what it did, and the flags that would name it.
pub fn candidate_text(c: &crate::alb::NodeCandidate, rank: usize, tie: bool) -> String {
    use crate::alb::CandidateReading;
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let likely = match (rank, tie, c.names_favour(), &c.reading) {
        (0, false, true, CandidateReading::Opener { .. }) => {
            "; the most likely: no ClientHello it sent names the server (no SNI), as an ALB \
             node's to its targets (it connects to their addresses), while clients reach an \
             ALB listener by its DNS name and send that name"
        }
        (0, false, true, _) => {
            "; the most likely: every ClientHello to it names the server (SNI), as clients \
             reaching an ALB listener by its DNS name do (an ALB node sends none to its targets)"
        }
        (0, false, _, _) => "; the most likely",
        (_, true, _, _) => {
            "; as likely as the next candidate: the capture cannot tell which end is the ALB"
        }
        _ => "",
    };
    let exchanges = if c.exchanges > 0 {
        format!(
            ", {} whose outcome is not visible",
            plural(c.exchanges, "encrypted exchange", "encrypted exchanges")
        )
    } else {
        String::new()
    };
    let (did, side) = match &c.reading {
        CandidateReading::Listener { port } => (
            format!(
                "accepts TLS on port {port} from {} ({}{exchanges}){}",
                plural(c.peers, "client address", "client addresses"),
                plural(c.connections, "connection", "connections"),
                if c.plays_both {
                    " and also opens connections to others"
                } else {
                    ""
                }
            ),
            "its front end (a listener)",
        ),
        CandidateReading::HttpListener { port } => (
            format!(
                "received {} in plain HTTP on port {port} from {} ({}) and answered none \
                 in the capture{}",
                plural(c.exchanges, "request", "requests"),
                plural(c.peers, "client address", "client addresses"),
                plural(c.connections, "connection", "connections"),
                if c.plays_both {
                    " and also opens connections to others"
                } else {
                    ""
                }
            ),
            "its front end (a listener)",
        ),
        CandidateReading::Opener { target_ports } => {
            let ports: Vec<String> = target_ports.iter().map(u16::to_string).collect();
            (
                format!(
                    "opens TLS connections to {} on port {} ({}{exchanges}){}",
                    plural(c.peers, "private server", "private servers"),
                    ports.join(", "),
                    plural(c.connections, "connection", "connections"),
                    if c.plays_both {
                        " and also accepts connections"
                    } else {
                        ""
                    }
                ),
                "its back end (HTTPS targets)",
            )
        }
    };
    format!(
        "{} (not recognised: nothing readable proves it{likely}) {did}; if it is an ALB node, \
         the capture shows {side}: pass {}",
        c.ip,
        c.flags().join(" ")
    )
}

/// The candidate lines of an analysis that recognised no node, most likely first.
pub fn candidate_texts(a: &Analysis) -> Vec<String> {
    let c = &a.alb_candidates;
    c.iter()
        .enumerate()
        .map(|(i, x)| candidate_text(x, i, c.get(i + 1).is_some_and(|n| x.ties_with(n))))
        .collect()
}

/// What the header says when no ALB node was recognised.
pub const NO_NODES: &str =
    "none recognised (name them with --alb-ip, or --listener-port/--target-port)";

/// How a node's other address was linked to it: `52.94.133.131, the address its clients reach
/// it at (linked on 9 requests: ...)`.
pub fn linked_address_text(l: &LinkedAddress) -> String {
    if l.tls_timing {
        return format!(
            "{}, the address its clients reach it at (linked on {} requests: each back-end \
             request's last X-Forwarded-For entry is a client with a TLS connection to it on the \
             X-Forwarded-Port listener (X-Forwarded-Proto https), whose application-data burst \
             came at one consistent time difference before it; the requests inside TLS are not \
             readable)",
            l.ip, l.requests
        );
    }
    if l.requests < crate::alb::MIN_LINK_REQUESTS {
        // Fewer requests than an agreement needs: linked on an exact match no other address
        // competes for.
        let (n, s) = if l.requests == 1 {
            ("its ", "")
        } else {
            ("each ", "s")
        };
        return format!(
            "{}, the address its clients reach it at (linked on {} request{s}: {n}back-end \
             request's last X-Forwarded-For entry, X-Forwarded-Port, method, URI and Host match \
             a front-end request to it exactly, sent milliseconds before, and no other address \
             has a request matching it)",
            l.ip, l.requests
        );
    }
    format!(
        "{}, the address its clients reach it at (linked on {} requests: each back-end request's \
         last X-Forwarded-For entry, X-Forwarded-Port, method, URI and Host match a front-end \
         request to it, at one consistent time difference)",
        l.ip, l.requests
    )
}

/// An input that shows one vantage only and started after the capture or ended before it (by
/// [`COVERAGE_REPORT_MIN`](crate::diagnose::COVERAGE_REPORT_MIN) or more):
/// its span, and that requests outside it are judged from the other side alone, e.g.
/// `target.pcap covers 18:04:08.850000Z .. 18:04:19.610000Z (started 9.214 s after the
/// capture and ended 6.208 s before it); it shows the back end only: requests before its start
/// or after its end are judged from the front end alone`. `None` for any other input.
pub fn coverage_text(c: &crate::diagnose::InputCoverage, capture: &CaptureSpan) -> Option<String> {
    let (start, end) = (c.start?, c.end?);
    if !c.one_side() {
        return None;
    }
    let late = c.started_late(capture);
    let early = c.ended_early(capture);
    let when = match (late, early) {
        (None, None) => return None,
        (Some(l), None) => format!("started {:.3} s after the capture", secs(l)),
        (None, Some(e)) => format!("ended {:.3} s before the capture", secs(e)),
        (Some(l), Some(e)) => format!(
            "started {:.3} s after the capture and ended {:.3} s before it",
            secs(l),
            secs(e)
        ),
    };
    let outside = match (late.is_some(), early.is_some()) {
        (true, true) => "before its start or after its end",
        (true, false) => "before its start",
        _ => "after its end",
    };
    let (shows, judged) = if c.back {
        ("the back end only: requests", "the front end alone")
    } else {
        ("the front end only: back-end legs", "the back end alone")
    };
    Some(format!(
        "{} covers {} .. {} ({when}); it shows {shows} {outside} are judged from {judged}",
        c.file,
        start.to_rfc3339(),
        end.to_rfc3339()
    ))
}

/// What a report says of one recording ([`crate::diagnose::RecordingCoverage`]): its span as
/// [`coverage_text`] says an input's (its files named together, `a.pcap, b.pcap (one recording
/// in 2 files)`), then each gap, e.g. `target1.pcap .. target3.pcap: no packet from
/// 18:04:11.695943Z to 18:04:13.914180Z (2.218 s), longer than a rotation boundary leaves (a
/// file missing, or the recording paused); it shows the back end only: requests then are
/// judged from the front end alone`.
pub fn recording_texts(
    r: &crate::diagnose::RecordingCoverage,
    capture: &CaptureSpan,
) -> Vec<String> {
    let mut c = r.as_input();
    if r.files.len() > 1 {
        c.file = format!("{} (one recording in {} files)", c.file, r.files.len());
    }
    let mut out: Vec<String> = coverage_text(&c, capture).into_iter().collect();
    let then = match (r.front, r.back) {
        (false, true) => {
            "it shows the back end only: requests then are judged from the front end alone"
        }
        (true, false) => {
            "it shows the front end only: back-end legs then are judged from the back end alone"
        }
        _ => "what it shows then is not in the capture",
    };
    for g in &r.gaps {
        out.push(format!(
            "{} .. {}: no packet from {} to {} ({:.3} s), longer than a rotation boundary \
             leaves (a file missing, or the recording paused); {then}",
            g.before,
            g.after,
            g.from.to_rfc3339(),
            g.to.to_rfc3339(),
            secs(g.to.since(g.from))
        ));
    }
    out
}

/// A file's clock against another's: `target-side.pcap is 1.350 s behind client-side.pcap
/// (estimated from 9 linked requests; its timestamps were corrected)`.
pub fn clock_offset_text(c: &ClockOffset) -> String {
    let secs = c.ahead.0 as f64 / 1e9;
    let way = if secs < 0.0 { "behind" } else { "ahead of" };
    let against = c.reference.as_deref().unwrap_or("the other inputs");
    let how = if c.requests > 0 {
        format!("estimated from {} linked requests", c.requests)
    } else {
        "given with --time-offset".to_string()
    };
    let done = if c.applied {
        "its timestamps were corrected before the analysis"
    } else {
        "not corrected: give --time-offset FILE=SECONDS, or give the files as files rather than stdin or a FIFO"
    };
    let left = if c.residual.0 == 0 {
        String::new()
    } else {
        format!(
            "; linked requests still show {:+.3} s after it",
            c.residual.0 as f64 / 1e9
        )
    };
    format!(
        "{} is {:.3} s {way} {against} ({how}; {done}{left})",
        c.file,
        secs.abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_problems_are_worded_as_before() {
        let no_answer = |how, unmatched_attempt| {
            health_problem_text(Some(&HealthProblem::NoAnswer {
                how,
                unmatched_attempt,
            }))
        };
        assert_eq!(health_problem_text(None), "failed");
        assert_eq!(
            health_problem_text(Some(&HealthProblem::Status(503))),
            "answered 503"
        );
        assert_eq!(no_answer(NoAnswer::Unknown, false), "no response");
        assert_eq!(
            no_answer(NoAnswer::Refused, false),
            "connection refused (SYN answered by RST)"
        );
        assert_eq!(
            no_answer(NoAnswer::SynUnanswered, true),
            "SYN unanswered (connection timed out) (no client request matched this connection \
             attempt)"
        );
        assert_eq!(
            no_answer(NoAnswer::TlsIncomplete, false),
            "TLS handshake did not complete"
        );
        assert_eq!(
            no_answer(NoAnswer::Closed, false),
            "connection closed without a response"
        );
        let icmp = crate::decode::IcmpError {
            v6: false,
            icmp_type: 3,
            code: 1,
            description: "destination unreachable: host unreachable".into(),
            quoted_src: [10, 0, 1, 25].into(),
            quoted_dst: [10, 0, 2, 9].into(),
            quoted_src_port: 40000,
            quoted_dst_port: 80,
            quoted_seq: None,
        };
        assert_eq!(
            no_answer(NoAnswer::Icmp(icmp), false),
            "ICMP destination unreachable: host unreachable (type 3 code 1)"
        );
    }
}
