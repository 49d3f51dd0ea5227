//! The human-readable report: summary, ALB nodes and targets, then each failed request with its
//! headline, evidence, fix, access-log view and timeline.

use super::views::{self, category_meaning};
use crate::diagnose::{Analysis, Category, Finding, GeneratedBy};
use std::io::{self, Write};

/// Text rendering options.
#[derive(Clone, Debug, Default)]
pub struct TextOptions {
    /// Use ANSI colours (only when writing to a terminal).
    pub color: bool,
}

struct Style {
    on: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn red(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

fn opt_secs(v: Option<f64>) -> String {
    match v {
        None => "?".into(),
        Some(x) if x < 0.0 => "-1".into(),
        Some(x) => format!("{x:.3}"),
    }
}

/// Writes the text report.
pub fn write_text(a: &Analysis, opts: &TextOptions, out: &mut dyn Write) -> io::Result<()> {
    let st = Style { on: opts.color };
    writeln!(
        out,
        "{}",
        st.bold(&format!("albscope: {}", a.inputs.join(", ")))
    )?;
    if let (Some(f), Some(l)) = (&a.capture.first, &a.capture.last) {
        writeln!(
            out,
            "capture:   {f} .. {l} ({:.3} s, {} packets)",
            a.capture.duration_s, a.stats.packets
        )?;
    } else {
        writeln!(out, "capture:   no packets")?;
    }
    writeln!(out, "vantage:   {}", a.vantage.describe())?;
    for p in &a.stats.problems {
        writeln!(out, "damage:    {p} (analysed up to the damage)")?;
    }
    if a.alb_nodes.is_empty() {
        writeln!(
            out,
            "ALB nodes: none recognised (name them with --alb-ip, or --listener-port/--target-port)"
        )?;
    }
    for n in &a.alb_nodes {
        let ports: Vec<String> = n.listener_ports.iter().map(u16::to_string).collect();
        writeln!(
            out,
            "ALB node:  {}{} - {} front-end, {} back-end connections, {} health checks",
            n.ip,
            if ports.is_empty() {
                String::new()
            } else {
                format!(" (listener port {})", ports.join(", "))
            },
            n.front_connections,
            n.back_connections,
            n.health_checks
        )?;
        for e in &n.evidence {
            writeln!(out, "           {}", st.dim(&format!("why: {e}")))?;
        }
    }
    for t in &a.targets {
        let mut facts = Vec::new();
        if let Some(s) = &t.server {
            facts.push(format!("Server: {s}"));
        }
        if let Some(s) = &t.powered_by {
            facts.push(format!("X-Powered-By: {s}"));
        }
        if let Some(k) = t.keepalive_timeout_s {
            let k = if k.fract() == 0.0 {
                format!("{k:.0}")
            } else {
                format!("{k:.3}")
            };
            facts.push(format!("closes idle keep-alive connections after {k} s"));
        }
        writeln!(
            out,
            "target:    {}{}",
            t.target,
            if facts.is_empty() {
                String::new()
            } else {
                format!(" ({})", facts.join("; "))
            }
        )?;
    }
    writeln!(
        out,
        "timers:    ALB idle timeout {:.0} s ({}), connect timeout {:.0} s",
        a.timers.idle_timeout_s,
        match a.timers.idle_timeout_source.as_str() {
            "config" => "given",
            "inferred" => "inferred from the ALB's own idle closes",
            _ => "AWS default; set --idle-timeout if yours differs",
        },
        a.timers.connect_timeout_s
    )?;

    // Summary table.
    writeln!(out)?;
    let s = &a.summary;
    writeln!(
        out,
        "{}",
        st.bold(&format!(
            "Summary: {} client requests, {} ok, {} failed",
            s.requests, s.ok, s.failed
        ))
    )?;
    if !s.by_category.is_empty() {
        let rows: Vec<[String; 4]> = s
            .by_category
            .iter()
            .map(|(name, c)| {
                let statuses: Vec<String> = c
                    .statuses
                    .iter()
                    .map(|(k, v)| format!("{k} x{v}"))
                    .collect();
                let mut by = Vec::new();
                if c.generated_by_lb > 0 {
                    by.push(format!("ALB {}", c.generated_by_lb));
                }
                if c.generated_by_target > 0 {
                    by.push(format!("target {}", c.generated_by_target));
                }
                let meaning = Category::from_name(name)
                    .map(category_meaning)
                    .unwrap_or_default();
                [
                    format!("{name} ({meaning})"),
                    c.count.to_string(),
                    statuses.join(", "),
                    if by.is_empty() {
                        "-".into()
                    } else {
                        by.join(", ")
                    },
                ]
            })
            .collect();
        table(
            out,
            &["category", "count", "status", "generated by"],
            &rows,
            "  ",
            &[false, true, false, false],
        )?;
    }
    let failing_targets: Vec<String> = s
        .by_target
        .iter()
        .filter(|(_, t)| t.failed > 0)
        .map(|(k, t)| format!("{k}: {} of {} failed", t.failed, t.requests))
        .collect();
    if !failing_targets.is_empty() {
        writeln!(out, "  by target: {}", failing_targets.join("; "))?;
    }
    write_metrics(out, &st, a)?;
    let h = &a.health_checks;
    if h.checks > 0 {
        writeln!(
            out,
            "Health checks (not client requests): {} seen, {} failed",
            h.checks, h.failed
        )?;
        for (t, c) in &h.by_target {
            let statuses: Vec<String> = c
                .statuses
                .iter()
                .map(|(k, v)| format!("{k} x{v}"))
                .collect();
            writeln!(
                out,
                "  {t}: {} checks, {} failed ({})",
                c.checks,
                c.failed,
                statuses.join(", ")
            )?;
        }
        for f in h.failures.iter().take(10) {
            writeln!(
                out,
                "  failed {} {} -> {} {}: {}{}",
                f.time,
                f.node,
                f.target,
                f.path.as_deref().unwrap_or(""),
                f.problem,
                f.packet
                    .as_ref()
                    .map(|p| format!(" (packet {p})"))
                    .unwrap_or_default()
            )?;
        }
    }

    if let Some(j) = &a.access_log_join {
        writeln!(out)?;
        for (i, line) in super::join_summary_lines(j).iter().enumerate() {
            if i == 0 {
                writeln!(out, "{}", st.bold(line))?;
            } else {
                writeln!(out, "  {line}")?;
            }
        }
    }
    let shown: Vec<&Finding> = a.requests.iter().collect();
    if shown.is_empty() {
        writeln!(out)?;
        writeln!(out, "No failed requests.")?;
    } else {
        writeln!(out)?;
        let title = if a.includes_ok {
            "Requests"
        } else {
            "Failed requests"
        };
        writeln!(out, "{}", st.bold(title))?;
        for (i, f) in shown.iter().enumerate() {
            write_request(out, &st, i + 1, f)?;
        }
    }
    if a.stats.decode.truncated > 0 || a.stats.flow.evicted > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "note: {} truncated frames, {} connections evicted",
            a.stats.decode.truncated, a.stats.flow.evicted
        )?;
    }
    Ok(())
}

/// CloudWatch counterparts, the per-target view and the connection-reuse view.
fn write_metrics(out: &mut dyn Write, st: &Style, a: &Analysis) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        st.bold(&format!(
            "CloudWatch counterparts for the capture window {}",
            crate::diagnose::metrics::window(&a.capture)
        ))
    )?;
    table(
        out,
        &views::CW_HEAD,
        &views::cloudwatch_rows(a),
        "  ",
        &[false, true, false],
    )?;
    if !a.metrics.by_target.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", st.bold("By target"))?;
        table(
            out,
            &views::TARGET_HEAD,
            &views::target_rows(a),
            "  ",
            &[false, true, true, false, true, true],
        )?;
        let lat = views::target_latency_rows(a);
        if !lat.is_empty() {
            writeln!(out)?;
            table(
                out,
                &views::TARGET_LAT_HEAD,
                &lat,
                "  ",
                &[false, false, false, false],
            )?;
        }
    }
    if !a.metrics.by_connection.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            st.bold("By back-end connection reuse (keep-alive problems show here first)")
        )?;
        table(
            out,
            &views::REUSE_HEAD,
            &views::reuse_rows(a),
            "  ",
            &[false, true, true, false, false],
        )?;
    }
    writeln!(
        out,
        "  {}",
        st.dim(&format!("latency: {}", a.metrics.method))
    )?;
    Ok(())
}

fn write_request(out: &mut dyn Write, st: &Style, n: usize, f: &Finding) -> io::Result<()> {
    writeln!(out)?;
    let head = format!("[{n}] {}", f.headline);
    let head = if f.category.is_failure() {
        st.red(&head)
    } else {
        st.bold(&head)
    };
    writeln!(out, "{head}")?;
    let req = &f.request;
    writeln!(out, "    request:   {req}  at {}  [{}]", f.time, f.id)?;
    writeln!(
        out,
        "    path:      client {} -> ALB {} -> target {}",
        match (&f.client, &f.client_ip) {
            (Some(c), _) => c.clone(),
            (None, Some(ip)) => format!("{ip} (from X-Forwarded-For; front end not captured)"),
            (None, None) => "(not captured)".to_string(),
        },
        f.alb.as_deref().unwrap_or("?"),
        f.target.as_deref().unwrap_or("(none)")
    )?;
    let who = match f.generated_by {
        Some(GeneratedBy::Lb) => "the ALB generated it",
        Some(GeneratedBy::Target) => "the target generated it (relayed by the ALB)",
        None => "nobody answered",
    };
    let status = match (f.status, f.category) {
        (Some(s), _) => format!(
            "{s}{} - {who}",
            match (f.status_inferred, &f.client) {
                (true, Some(_)) if f.front_encrypted => {
                    " (inferred from the back end: the front end is encrypted)"
                }
                (true, Some(_)) => {
                    " (inferred from the back end: the answer to the client is not in the capture)"
                }
                (true, None) => {
                    " (inferred from the back end: the front end is not in the capture)"
                }
                _ => "",
            }
        ),
        (None, Category::IncompleteBody) => {
            "no complete response: the client got headers and part of the body, then the ALB \
             closed the connection"
                .to_string()
        }
        (None, Category::ClientClosed) => {
            "none: the client had gone (the ALB logs 460)".to_string()
        }
        (None, _) => format!("none seen - {who}"),
    };
    writeln!(out, "    status:    {status}")?;
    if let Some(t) = &f.trace_id {
        writeln!(out, "    trace id:  {t}")?;
    }
    if !f.evidence.is_empty() {
        writeln!(out, "    evidence:")?;
        for e in &f.evidence {
            writeln!(out, "      - {e}")?;
        }
    }
    if let Some(fix) = &f.fix {
        writeln!(out, "    fix:       {}", st.bold(fix))?;
    }
    let al = &f.access_log;
    writeln!(
        out,
        "    access log: {} {} {} {} {}   {}",
        opt_secs(al.request_processing_time),
        opt_secs(al.target_processing_time),
        opt_secs(al.response_processing_time),
        al.elb_status_code
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into()),
        al.target_status_code,
        st.dim(
            "(request/target/response processing time, elb_status_code, target_status_code; \
             -1 = never happened, ? = not in the capture)"
        )
    )?;
    if let Some(l) = &f.logged {
        for (i, line) in super::logged_lines(l).iter().enumerate() {
            if i == 0 {
                writeln!(out, "    logged:     {line}")?;
            } else if line.starts_with("disagrees:") {
                writeln!(out, "      {}", st.red(line))?;
            } else {
                writeln!(out, "      {line}")?;
            }
        }
    }
    for note in &f.notes {
        writeln!(out, "    note:      {note}")?;
    }
    if !f.timeline.is_empty() {
        writeln!(out, "    timeline:")?;
        let rows: Vec<[String; 5]> = f
            .timeline
            .iter()
            .map(|e| {
                [
                    format!("{:+.3} ms", e.rel_ms),
                    e.time.get(11..).unwrap_or(&e.time).to_string(),
                    e.direction.replace("->", " -> ").replace("alb", "ALB"),
                    e.event.clone(),
                    e.packet.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            out,
            &["rel", "time (UTC)", "direction", "event", "packet"],
            &rows,
            "      ",
            &[true, false, false, false, false],
        )?;
    }
    Ok(())
}

/// Writes an aligned table; `right` marks right-aligned columns.
fn table<const N: usize>(
    out: &mut dyn Write,
    head: &[&str; N],
    rows: &[[String; N]],
    indent: &str,
    right: &[bool; N],
) -> io::Result<()> {
    let mut w = [0usize; N];
    for (i, h) in head.iter().enumerate() {
        if let Some(x) = w.get_mut(i) {
            *x = h.chars().count();
        }
    }
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::from(indent);
        for (i, c) in cells.iter().enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            let pad = width.saturating_sub(c.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < cells.len() {
                s.push_str("  ");
            }
        }
        s.trim_end().to_string()
    };
    writeln!(
        out,
        "{}",
        line(head.iter().map(|h| h.to_string()).collect())
    )?;
    for r in rows {
        writeln!(out, "{}", line(r.to_vec()))?;
    }
    Ok(())
}
