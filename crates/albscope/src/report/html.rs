//! Self-contained HTML report for a ticket attachment: inline CSS, SVG and one small inline
//! script, no network fetch (a Content-Security-Policy forbids any, and lets only that script
//! run, by its hash). The time strip (when requests failed), the summary, the failed requests
//! (an index by category and target, a filter bar, a table, then for each failure, up to
//! [`MAX_DIAGRAMS`], a permalinked section with a three-lane sequence diagram, the evidence, the
//! access-log view and the fix), then the reference tables: CloudWatch counterparts, per-target
//! view with the response-time distribution, connection reuse, health checks.
//!
//! Every capture-derived string goes through [`esc`] (text and attribute context alike). This file
//! writes the page; `diagram` draws the sequence diagrams, `strip` the time strip, `latency` the
//! response-time distribution, `legend` the colour legend, `nav` anchors, index and filters,
//! `palette` the colours. Everything stays readable without script and in print.

use super::header;
use super::views;
use super::words;
use crate::diagnose::{Analysis, Finding};
use std::fmt::Write as _;
use std::io::{self, Write};

mod diagram;
mod latency;
mod legend;
mod nav;
mod palette;
mod periods;
mod strip;
mod verdict;

use diagram::diagram;

/// Most failed requests drawn (the rest are listed in the table and counted).
pub const MAX_DIAGRAMS: usize = 200;
/// Most rows in the failed-requests table.
pub const MAX_TABLE_ROWS: usize = 5_000;

/// The page's one inline script (the failure filters), for tests that check it is the only one.
pub fn nav_script() -> &'static str {
    nav::SCRIPT
}

/// Escapes text for HTML element content and quoted attribute values (also inside SVG).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root{--fg:#1f2937;--mut:#6b7280;--bd:#d1d5db;--bg2:#f3f4f6;--red:#b91c1c;--grn:#15803d}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);margin:0;background:#fff}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:30px 0 10px;border-bottom:2px solid var(--bd);padding-bottom:4px}
h3{font-size:16px;margin:0 0 8px}
.sub{color:var(--mut);margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid var(--bd);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg2);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
.facts th{width:140px}
.cat{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-family:ui-monospace,Menlo,Consolas,monospace;background:#fee2e2;color:var(--red);white-space:nowrap}
.cat.ok{background:#dcfce7;color:var(--grn)}
.req{border:1px solid var(--bd);border-radius:8px;padding:14px 16px;margin:18px 0;page-break-inside:avoid}
.req .head{color:var(--red);font-weight:600}
.kv{display:grid;grid-template-columns:150px 1fr;gap:2px 12px;margin:8px 0 10px}
.kv div:nth-child(odd){color:var(--mut)}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.fix{background:#ecfdf5;border-left:4px solid var(--grn);padding:6px 10px;margin:10px 0}
.note{color:var(--mut)}
svg.seq{display:block;max-width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px;background:#fff;margin:8px 0}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
details{margin:6px 0} summary{cursor:pointer;color:#374151}
.warn{background:#fef3c7;border-left:4px solid #d97706;padding:6px 10px}
a{color:#1d4ed8}
[hidden]{display:none!important}
nav.toc{margin:4px 0 14px;font-size:13px} nav.toc a{margin-right:12px}
figure{margin:8px 0 14px} figure svg{display:block;max-width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px;background:#fff}
figcaption{font-size:12.5px;margin-top:4px}
.key{margin-right:12px;white-space:nowrap;text-decoration:none;color:var(--fg)} .key i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px;border-radius:2px}
nav.index{display:grid;grid-template-columns:1fr 1fr;gap:4px 24px;font-size:13px;margin:6px 0 10px} nav.index ul{margin:4px 0;padding-left:18px}
.filters{background:var(--bg2);border:1px solid var(--bd);border-radius:6px;padding:6px 10px;margin:8px 0;font-size:13px}
.legend{border:1px solid var(--bd);border-radius:6px;padding:8px 12px;margin:12px 0;font-size:13px} .legend .keys{display:flex;flex-wrap:wrap;gap:2px 18px;list-style:none;padding:0;margin:6px 0}
.legend svg{vertical-align:middle;margin-right:6px} .band{display:inline-block;width:30px;height:10px;background:#fef3c7;margin-right:6px;vertical-align:middle}
a.perma{font-weight:400;font-size:13px;margin-left:8px;color:var(--mut);text-decoration:none}
@media print{.filters,nav.toc{display:none!important} .req{break-inside:avoid} a{color:inherit;text-decoration:none} tr[hidden]{display:table-row!important} section[hidden]{display:block!important}}
"#;

/// Writes the HTML report.
pub fn write_html(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("albscope report: {}", a.inputs.join(", "));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>\n",
        nav::csp(),
        esc(&title)
    );
    let _ = write!(h, "<h1>{}</h1>", esc(&title));
    h.push_str(&verdict::verdict_block(a));
    let s = &a.summary;
    let _ = writeln!(
        h,
        "<p class=\"sub\">{} client requests, {} ok, <b>{} failed</b> &middot; generated by \
         albscope {}</p>",
        s.requests,
        s.ok,
        s.failed,
        esc(env!("CARGO_PKG_VERSION"))
    );
    contents(&mut h, a);
    let failed: Vec<&Finding> = a
        .requests
        .iter()
        .filter(|f| f.category.is_failure() && !f.outcome_not_visible)
        .collect();
    let listed = &failed[..failed.len().min(MAX_TABLE_ROWS)];
    let anchors = nav::request_anchors(listed);
    if a.metrics.series.bins().next().is_some() {
        h.push_str("<section id=\"when\"><h2>When</h2>");
        strip::strip(&mut h, a, listed, &anchors);
        h.push_str("</section>\n");
    }
    h.push_str("<section id=\"summary\">");
    summary(&mut h, a);
    h.push_str("</section>\n<section id=\"failures\">");
    failures(&mut h, a, listed, &anchors);
    h.push_str("</section>\n<section id=\"reference\">");
    metrics(&mut h, a);
    health(&mut h, a);
    if let Some(j) = &a.access_log_join {
        h.push_str("<h2>Access log</h2><ul>");
        for line in super::join_summary_lines(j) {
            let _ = write!(h, "<li>{}</li>", esc(line.trim_start()));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>\n");
    ok_requests(&mut h, a);
    let _ = writeln!(h, "</main><script>{}</script></body></html>", nav::SCRIPT);
    out.write_all(h.as_bytes())
}

/// The page's contents line: links to the sections that exist.
fn contents(h: &mut String, a: &Analysis) {
    let failed = a
        .requests
        .iter()
        .any(|f| f.category.is_failure() && !f.outcome_not_visible);
    h.push_str("<nav class=\"toc\" aria-label=\"contents\">");
    if a.metrics.series.bins().next().is_some() {
        h.push_str("<a href=\"#when\">When</a>");
    }
    h.push_str("<a href=\"#summary\">Summary</a>");
    let _ = write!(
        h,
        "<a href=\"#failures\">{} ({})</a>",
        views::request_list_title(a, views::RequestList::Failures),
        views::failures_total(a, 0)
    );
    if failed {
        h.push_str("<a href=\"#legend\">Reading the diagrams</a>");
    }
    h.push_str("<a href=\"#reference\">CloudWatch</a>");
    if !a.metrics.by_target.is_empty() {
        h.push_str("<a href=\"#targets\">By target</a>");
    }
    h.push_str("</nav>\n");
}

fn table<const N: usize>(h: &mut String, head: &[&str; N], rows: &[[String; N]], num: &[bool; N]) {
    let rows: Vec<[String; N]> = rows.iter().map(|r| r.clone().map(|c| esc(&c))).collect();
    table_html(h, head, &rows, num);
}

/// A table whose cells are HTML already (escaped by the caller).
fn table_html<const N: usize>(
    h: &mut String,
    head: &[&str; N],
    rows: &[[String; N]],
    num: &[bool; N],
) {
    h.push_str("<table><tr>");
    for c in head {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for r in rows {
        h.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let cls = if num.get(i).copied().unwrap_or(false) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(h, "<td{cls}>{c}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn summary(h: &mut String, a: &Analysis) {
    h.push_str("<h2>Summary</h2><table class=\"facts\">");
    let mut row = |k: &str, v: String| {
        let _ = write!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    for f in header::facts(a) {
        let text = esc(&f.text);
        row(
            f.label,
            if f.warn {
                format!("<span class=\"warn\">{text}</span>")
            } else {
                text
            },
        );
    }
    h.push_str("</table>\n");
    let s = &a.summary;
    if !s.by_category.is_empty() {
        h.push_str("<h3>Requests by category</h3>");
        let rows: Vec<[String; 5]> = views::category_rows(a)
            .into_iter()
            .zip(s.by_category.keys())
            .map(|(r, c)| {
                let mut r = r.map(|x| esc(&x));
                if c.is_failure() {
                    r[0] = format!(
                        "<a href=\"#{}\" data-fcat=\"{}\"><span class=\"cat\" style=\"border-left:6px solid {}\">{}</span></a>",
                        nav::category_id(*c),
                        esc(c.name()),
                        palette::category(*c),
                        r[0]
                    );
                }
                r
            })
            .collect();
        table_html(
            h,
            &views::CATEGORY_HEAD,
            &rows,
            &[false, false, true, false, false],
        );
    }
}

fn metrics(h: &mut String, a: &Analysis) {
    let _ = write!(
        h,
        "<h2>CloudWatch counterparts</h2><p>What CloudWatch (<code>AWS/ApplicationELB</code>) \
         should show for the capture window {}.</p>",
        esc(&header::capture_window(&a.capture))
    );
    table(
        h,
        &views::CW_HEAD,
        &views::cloudwatch_rows(a),
        &[false, true, false],
    );
    periods::periods(h, a);
    if !a.metrics.by_target.is_empty() {
        h.push_str("<h2 id=\"targets\">By target</h2>");
        let rows: Vec<[String; 6]> = views::target_rows(a)
            .into_iter()
            .zip(a.metrics.by_target.iter())
            .map(|(r, (k, t))| {
                let mut r = r.map(|x| esc(&x));
                if let Some(id) = nav::target_row_id(k).filter(|_| t.all.failed > 0) {
                    r[0] = format!("<a href=\"#{id}\">{}</a>", r[0]);
                }
                r
            })
            .collect();
        table_html(
            h,
            &views::TARGET_HEAD,
            &rows,
            &[false, true, true, false, true, true],
        );
        latency::distribution(h, a);
        let lat = views::target_latency_rows(a);
        if !lat.is_empty() {
            table(
                h,
                &views::TARGET_LAT_HEAD,
                &lat,
                &[false, false, false, false],
            );
        }
    }
    if !a.metrics.by_connection.is_empty() {
        h.push_str(
            "<h2>By back-end connection reuse</h2><p>Keep-alive problems show here first: \
             failures on reused connections.</p>",
        );
        table(
            h,
            &views::REUSE_HEAD,
            &views::reuse_rows(a),
            &[false, true, true, false, false],
        );
    }
    let _ = write!(
        h,
        "<p class=\"note\">Latency: {}.</p>",
        esc(views::LATENCY_METHOD)
    );
}

fn health(h: &mut String, a: &Analysis) {
    let hc = &a.health_checks;
    if hc.checks == 0 {
        return;
    }
    let _ = write!(
        h,
        "<h2>Health checks</h2><p>{} health checks (not client requests), {} failed{}.</p>",
        hc.checks,
        hc.failed,
        header::health_not_visible_text(hc.not_visible)
            .map(|t| format!(", {}", esc(&t)))
            .unwrap_or_default()
    );
    table(
        h,
        &views::HEALTH_HEAD,
        &views::health_rows(a),
        &[false, true, true, false],
    );
}

/// The failed requests: the index and filter bar, the table (rows past [`MAX_DIAGRAMS`] carry
/// their failure's anchor), the legend, then one section per failure. `listed` are the failures
/// in the table, `anchors` their permalinks.
fn failures(h: &mut String, a: &Analysis, listed: &[&Finding], anchors: &[String]) {
    let total = views::failures_total(a, listed.len());
    if listed.is_empty() {
        h.push_str("<h2>Failed requests</h2><p>No failed requests.</p>");
        return;
    }
    let _ = write!(
        h,
        "<h2>{} ({total})</h2>",
        views::request_list_title(a, views::RequestList::Failures)
    );
    nav::index(h, a, listed, anchors);
    h.push_str(
        "<table class=\"failed\"><tr><th>#</th><th>time (UTC)</th><th>id</th><th>category</th><th>status</th>\
         <th>request</th><th>client</th><th>target</th></tr>\n",
    );
    for (i, (f, anchor)) in listed.iter().zip(anchors).enumerate() {
        let n = i + 1;
        let (row_id, link) = if i < MAX_DIAGRAMS {
            (String::new(), format!("<a href=\"#{anchor}\">{n}</a>"))
        } else {
            (format!(" id=\"{anchor}\""), n.to_string())
        };
        let _ = writeln!(
            h,
            "<tr{row_id}{}><td class=\"n\">{link}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td>\
             <td><span class=\"cat\" style=\"border-left:6px solid {}\">{}</span></td><td>{}</td><td class=\"mono\">{}</td>\
             <td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            nav::data_attrs(f),
            esc(&words::time_of_day(f.time)),
            esc(&f.id.to_string()),
            palette::category(f.category),
            esc(f.category.name()),
            esc(&views::status_text(f)),
            esc(&views::request_text(f)),
            esc(&f.client.map_or("-".to_string(), |c| c.to_string())),
            esc(&f.target.map_or("-".to_string(), |t| t.to_string()))
        );
    }
    h.push_str("</table>\n");
    let all_failed = a
        .requests
        .iter()
        .filter(|f| f.category.is_failure() && !f.outcome_not_visible)
        .count();
    if all_failed > listed.len() {
        let _ = write!(
            h,
            "<p class=\"warn\">{} more failed requests not listed (use --format json).</p>",
            all_failed - listed.len()
        );
    }
    legend::page_legend(h);
    for (i, (f, anchor)) in listed.iter().zip(anchors).take(MAX_DIAGRAMS).enumerate() {
        finding(h, a, i + 1, anchor, f);
    }
    if listed.len() > MAX_DIAGRAMS {
        let _ = write!(
            h,
            "<p class=\"warn\">Diagrams are drawn for the first {MAX_DIAGRAMS} failed requests; \
             {} more are listed in the table above only.</p>",
            listed.len() - MAX_DIAGRAMS
        );
    }
}

/// With `--all`: the ok requests, one compact table row each (no diagrams), after the failed
/// ones.
fn ok_requests(h: &mut String, a: &Analysis) {
    if !a.includes_ok || a.summary.ok == 0 {
        return;
    }
    let (rows, rest) = views::ok_rows(a, MAX_TABLE_ROWS);
    let _ = write!(h, "<h2>Ok requests ({})</h2>", a.summary.ok);
    if !rows.is_empty() {
        table(h, &views::OK_HEAD, &rows, &[false; 6]);
    }
    if rest > 0 {
        let _ = write!(
            h,
            "<p class=\"warn\">{rest} more ok requests not listed (use --format json).</p>"
        );
    }
}

fn finding(h: &mut String, a: &Analysis, n: usize, anchor: &str, f: &Finding) {
    let _ = write!(
        h,
        "<section class=\"req\" id=\"{anchor}\"{}><h3><span class=\"head\">{n}. {}</span>\
         <a class=\"perma\" href=\"#{anchor}\" title=\"permalink to this failure\">#{}</a></h3>",
        nav::data_attrs(f),
        esc(&words::headline(f)),
        esc(&f.id.to_string())
    );
    h.push_str("<div class=\"kv\">");
    let mut kv = |k: &str, v: String| {
        let _ = write!(h, "<div>{}</div><div>{v}</div>", esc(k));
    };
    kv(
        "category",
        format!(
            "<a href=\"#{}\"><span class=\"cat\" style=\"border-left:6px solid {}\">{}</span></a> {}",
            nav::category_id(f.category),
            palette::category(f.category),
            esc(f.category.name()),
            esc(f.category.meaning())
        ),
    );
    kv("status", esc(&views::status_sentence(f)));
    if let Some(legs) = words::decrypted_legs(f.decrypted) {
        kv("decrypted", esc(legs));
    }
    if let Some(g) = &f.grpc {
        kv("gRPC", esc(&words::grpc_line(g)));
    }
    kv(
        "request",
        format!(
            "<code>{}</code>{} at {} (id <code>{}</code>)",
            esc(&views::request_text(f)),
            f.host
                .as_ref()
                .map(|x| format!(", Host <code>{}</code>", esc(x)))
                .unwrap_or_default(),
            esc(&words::time(f.time)),
            esc(&f.id.to_string())
        ),
    );
    kv("path", esc(&words::path_line(f, " → ", false)));
    if let Some(t) = &f.trace_id {
        kv("trace id", format!("<code>{}</code>", esc(t)));
    }
    if let Some(s) = &f.target_server {
        kv("target Server", format!("<code>{}</code>", esc(s)));
    }
    if let Some(ws) = super::wireshark::for_request(a, f) {
        for ff in &ws.filters {
            let key = if ws.filters.len() == 1 {
                "Wireshark filter".to_string()
            } else {
                format!(
                    "Wireshark filter ({})",
                    super::wireshark::file_name(a, ff.file)
                )
            };
            kv(&key, format!("<code>{}</code>", esc(&ff.filter)));
        }
        kv("extract", format!("<code>{}</code>", esc(&ws.extract)));
    }
    h.push_str("</div>");
    h.push_str(&diagram(a, f, a.connections.get(&f.id), anchor));
    if !f.evidence.is_empty() {
        h.push_str("<b>Evidence</b><ul>");
        for e in &f.evidence {
            let _ = write!(h, "<li>{}</li>", esc(&words::evidence(&a.inputs, e)));
        }
        h.push_str("</ul>");
    }
    let al = &f.access_log;
    let secs = |v| words::step(v, "? (leg not captured)");
    let _ = write!(
        h,
        "<b>Access-log view</b> (what the ALB would log; {})",
        esc(views::ACCESS_LOG_COLUMNS)
    );
    table(
        h,
        &[
            "request_processing_time",
            "target_processing_time",
            "response_processing_time",
            "elb_status_code",
            "target_status_code",
            "trace_id",
        ],
        &[[
            secs(al.request_processing_time),
            secs(al.target_processing_time),
            secs(al.response_processing_time),
            words::status_or_dash(al.elb_status_code),
            words::status_or_dash(al.target_status_code),
            al.trace_id.as_deref().unwrap_or("-").to_string(),
        ]],
        &[true, true, true, true, true, false],
    );
    if let Some(l) = &f.logged {
        h.push_str("<b>Logged</b> (the access-log line joined to this request)<ul>");
        for line in super::logged_lines(l) {
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        h.push_str("</ul>");
    }
    if let Some(fix) = &f.fix {
        let fix = verdict::rich(&words::spans(fix));
        let _ = write!(h, "<div class=\"fix\"><b>Fix:</b> {fix}</div>");
    }
    for note in words::notes(&f.notes) {
        let _ = write!(h, "<p class=\"note\">Note: {}</p>", esc(&note));
    }
    if !f.timeline.is_empty() {
        h.push_str("<details><summary>Timeline (packets)</summary>");
        let rows: Vec<[String; 5]> = f
            .timeline
            .iter()
            .map(|e| words::timeline_row(e, f.time, &a.inputs, " → "))
            .collect();
        table(
            h,
            &["rel", "time (UTC)", "direction", "event", "packet"],
            &rows,
            &[true, false, false, false, false],
        );
        h.push_str("</details>");
    }
    h.push_str("</section>\n");
}
