//! Markdown report for a ticket (GitHub / GitLab / Jira with Markdown): the verdict, a summary
//! table, the CloudWatch counterparts (whole window and per minute), the per-target and
//! connection-reuse views, then one section per failed request with its key facts, evidence,
//! fix and a fenced timeline block. Under `--max-bytes` (default [`DEFAULT_MAX_BYTES`]) a longer
//! report details only the first failed requests of each category and counts the rest.
//!
//! Every capture-derived string is escaped: table cells and prose backslash-escape Markdown
//! punctuation and HTML brackets; timeline blocks use a fence longer than any backtick run.
//! Code (fix commands, settings, category names) is written as code spans from rich text.

use super::header;
use super::views;
use super::words;
use crate::diagnose::{Analysis, Finding};
use crate::taxonomy::Category;
use indexmap::IndexMap;
use std::io::{self, Write};

/// Most failed requests written in full (the rest are counted).
pub const MAX_DETAILED: usize = 200;

/// The default `--max-bytes` of the Markdown report: under a GitHub comment's 65,536
/// characters with room to spare.
pub const DEFAULT_MAX_BYTES: usize = 60_000;

/// Markdown rendering options.
#[derive(Clone, Debug)]
pub struct MarkdownOptions {
    /// Keep the document under this many bytes (`None`: no limit) by listing the first failed
    /// requests of each category in full and counting the rest.
    pub max_bytes: Option<usize>,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            max_bytes: Some(DEFAULT_MAX_BYTES),
        }
    }
}

/// How much of the failures a rendering lists.
#[derive(Copy, Clone, Debug)]
struct Limits {
    /// Most failed requests listed per category (`None`: all).
    per_category: Option<usize>,
    /// Most ok requests listed (`--all`).
    ok_rows: usize,
}

/// Rich text as Markdown: prose escaped, code as code spans.
pub fn md_rich(r: &words::Rich) -> String {
    r.0.iter()
        .map(|p| match p {
            words::Piece::Text(t) => md_escape(t),
            words::Piece::Code(c) => code(c),
        })
        .collect()
}

/// Escapes text for Markdown prose and table cells (one line, no raw HTML, no emphasis).
pub fn md_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '#' | '|' | '!' | '~' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '_' => {
                // Intraword underscores never emphasise (CommonMark); escape the others.
                let word = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                if !(word(i.checked_sub(1)) && word(i.checked_add(1))) {
                    o.push('\\');
                }
                o.push('_');
            }
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\n' | '\r' | '\t' => o.push(' '),
            c if c.is_control() => o.push_str(&c.escape_unicode().to_string()),
            c => o.push(c),
        }
    }
    o
}

/// Inline code span for `s`, with backticks made harmless.
fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if clean.contains('`') {
        // A code span cannot hold a backtick safely in every renderer; escape as prose.
        md_escape(&clean)
    } else {
        format!("`{clean}`")
    }
}

fn table<const N: usize>(
    out: &mut dyn Write,
    head: &[&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let h: Vec<String> = head.iter().map(|c| md_escape(c)).collect();
    writeln!(out, "| {} |", h.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(N))?;
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md_escape(c)).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    Ok(())
}

fn fence_for(body: &str) -> String {
    let mut longest = 0usize;
    let mut run = 0usize;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// Writes the Markdown report under the default size limit ([`DEFAULT_MAX_BYTES`]).
pub fn write_markdown(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    write_markdown_with(a, &MarkdownOptions::default(), out)
}

/// Writes the Markdown report. With `max_bytes`, a report that would be longer lists only the
/// first failed requests of each category (as many as fit), counts the rest and says so;
/// when even the summary does not fit, it is cut at a line and says so.
pub fn write_markdown_with(
    a: &Analysis,
    opts: &MarkdownOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let all = Limits {
        per_category: None,
        ok_rows: super::html::MAX_TABLE_ROWS,
    };
    let Some(max) = opts.max_bytes.filter(|m| *m > 0) else {
        return render(a, all, None, out);
    };
    let mut buf = Vec::new();
    render(a, all, None, &mut buf)?;
    if buf.len() <= max {
        return out.write_all(&buf);
    }
    for k in [100, 50, 20, 10, 5, 3, 2, 1, 0] {
        buf.clear();
        let lim = Limits {
            per_category: Some(k),
            ok_rows: k,
        };
        render(a, lim, Some(max), &mut buf)?;
        if buf.len() <= max {
            return out.write_all(&buf);
        }
    }
    // Even the summary is too long (thousands of targets): cut at a line.
    let note = format!(
        "\n**Cut here to stay under {max} bytes** (`--max-bytes`); `--format json` has \
         everything.\n"
    );
    let room = max.saturating_sub(note.len());
    let cut = buf
        .get(..room)
        .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
        .map_or(0, |i| i + 1);
    out.write_all(buf.get(..cut).unwrap_or_default())?;
    out.write_all(note.as_bytes())
}

/// The first `k` failed requests of each category, in their order; and per category how many
/// are left out.
fn first_of_each<'a>(
    failed: &[&'a Finding],
    k: Option<usize>,
) -> (Vec<&'a Finding>, IndexMap<Category, usize>) {
    let Some(k) = k else {
        return (failed.to_vec(), IndexMap::new());
    };
    let mut seen: IndexMap<Category, usize> = IndexMap::new();
    let mut left: IndexMap<Category, usize> = IndexMap::new();
    let mut keep = Vec::new();
    for f in failed {
        let n = seen.entry(f.category).or_default();
        if *n < k {
            *n += 1;
            keep.push(*f);
        } else {
            *left.entry(f.category).or_default() += 1;
        }
    }
    let order = |c: &Category| Category::ALL.iter().position(|x| x == c);
    left.sort_by(|a, _, b, _| order(a).cmp(&order(b)));
    (keep, left)
}

fn render(a: &Analysis, lim: Limits, max: Option<usize>, out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<String> = a.inputs.iter().map(|i| md_escape(i)).collect();
    writeln!(out, "# albscope report: {}", names.join(", "))?;
    writeln!(out)?;
    let verdict = words::verdict(&crate::diagnose::verdict::Verdict::of(a));
    writeln!(out, "**Verdict:** {}", md_rich(&verdict))?;
    writeln!(out)?;
    let s = &a.summary;
    let facts: Vec<[String; 2]> = header::facts(a)
        .into_iter()
        .map(|f| [f.label.to_string(), f.text])
        .collect();
    table(out, &["", "summary"], &facts)?;

    if !s.by_category.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Requests by category")?;
        writeln!(out)?;
        let rows = views::category_rows(a);
        table(out, &views::CATEGORY_HEAD, &rows)?;
    }

    writeln!(out)?;
    writeln!(out, "## CloudWatch counterparts")?;
    writeln!(out)?;
    writeln!(
        out,
        "What CloudWatch (`AWS/ApplicationELB`) should show for the capture window {}.",
        md_escape(&header::capture_window(&a.capture))
    )?;
    writeln!(out)?;
    table(out, &views::CW_HEAD, &views::cloudwatch_rows(a))?;
    let (periods, not_listed) = views::period_rows(a);
    writeln!(out)?;
    writeln!(out, "## CloudWatch per minute")?;
    writeln!(out)?;
    writeln!(
        out,
        "Periods with requests, aligned to the minute as CloudWatch publishes them; {}.",
        md_escape(views::PERIOD_COLUMNS)
    )?;
    writeln!(out)?;
    table(out, &views::PERIOD_HEAD, &periods)?;
    let notes = views::period_notes(a, not_listed);
    if !notes.is_empty() {
        writeln!(out)?;
        for n in notes {
            writeln!(out, "- {}", md_rich(&words::spans(&n)))?;
        }
    }
    if !a.metrics.by_target.is_empty() {
        writeln!(out)?;
        writeln!(out, "## By target")?;
        writeln!(out)?;
        table(out, &views::TARGET_HEAD, &views::target_rows(a))?;
        let lat = views::target_latency_rows(a);
        if !lat.is_empty() {
            writeln!(out)?;
            table(out, &views::TARGET_LAT_HEAD, &lat)?;
        }
    }
    if !a.metrics.by_connection.is_empty() {
        writeln!(out)?;
        writeln!(out, "## By back-end connection reuse")?;
        writeln!(out)?;
        writeln!(
            out,
            "Keep-alive problems show here first: failures on reused connections."
        )?;
        writeln!(out)?;
        table(out, &views::REUSE_HEAD, &views::reuse_rows(a))?;
    }
    writeln!(out)?;
    writeln!(out, "Latency: {}.", md_escape(views::LATENCY_METHOD))?;

    let h = &a.health_checks;
    if h.checks > 0 {
        writeln!(out)?;
        writeln!(out, "## Health checks (not client requests)")?;
        writeln!(out)?;
        table(out, &views::HEALTH_HEAD, &views::health_rows(a))?;
        if let Some(t) = header::health_not_visible_text(h.not_visible) {
            writeln!(out)?;
            writeln!(out, "{}.", md_escape(&t))?;
        }
    }

    if let Some(j) = &a.access_log_join {
        writeln!(out)?;
        writeln!(out, "## Access log")?;
        writeln!(out)?;
        for line in super::join_summary_lines(j) {
            let depth = line.len() - line.trim_start().len();
            writeln!(
                out,
                "{}- {}",
                " ".repeat(depth),
                md_escape(line.trim_start())
            )?;
        }
    }

    let all_failed: Vec<&Finding> = a
        .requests
        .iter()
        .filter(|f| f.category.is_failure() && !f.outcome_not_visible)
        .collect();
    writeln!(out)?;
    if all_failed.is_empty() {
        writeln!(out, "No failed requests.")?;
        return write_ok_requests(out, a, lim);
    }
    writeln!(
        out,
        "## {} ({})",
        views::request_list_title(a, views::RequestList::Failures),
        all_failed.len()
    )?;
    writeln!(out)?;
    let (failed, left) = first_of_each(&all_failed, lim.per_category);
    if let (Some(k), Some(max)) = (lim.per_category, max) {
        let left: Vec<String> = left
            .iter()
            .map(|(c, n)| format!("{} {n}", code(c.name())))
            .collect();
        writeln!(
            out,
            "To stay under {max} bytes (a GitHub comment holds 65,536 characters; \
             `--max-bytes`), this lists {} and counts the other {}: {}. `--format json` (or \
             `--max-bytes 0`) lists them all.",
            if k == 0 {
                "no failed request".to_string()
            } else if k == 1 {
                "the first failed request of each category".to_string()
            } else {
                format!("the first {k} failed requests of each category")
            },
            all_failed.len() - failed.len(),
            left.join(", ")
        )?;
        writeln!(out)?;
    }
    if failed.is_empty() {
        return write_ok_requests(out, a, lim);
    }
    let rows: Vec<[String; 7]> = failed
        .iter()
        .take(super::html::MAX_TABLE_ROWS)
        .enumerate()
        .map(|(i, f)| {
            [
                (i + 1).to_string(),
                words::time_of_day(f.time),
                f.id.to_string(),
                f.category.name().into(),
                views::status_text(f),
                views::request_text(f),
                f.target.map_or("-".to_string(), |t| t.to_string()),
            ]
        })
        .collect();
    table(
        out,
        &[
            "#",
            "time (UTC)",
            "id",
            "category",
            "status",
            "request",
            "target",
        ],
        &rows,
    )?;
    if failed.len() > super::html::MAX_TABLE_ROWS {
        writeln!(
            out,
            "\n{} more failed requests not listed (use `--format json`).",
            failed.len() - super::html::MAX_TABLE_ROWS
        )?;
    }
    for (i, f) in failed.iter().take(MAX_DETAILED).enumerate() {
        write_finding(out, &a.inputs, i + 1, f)?;
        write_wireshark(out, a, f)?;
    }
    if failed.len() > MAX_DETAILED {
        writeln!(out)?;
        writeln!(
            out,
            "{} more failed requests are listed in the table above but not detailed here \
             (use `--format json` for all of them).",
            failed.len() - MAX_DETAILED
        )?;
    }
    write_ok_requests(out, a, lim)
}

/// With `--all`: the ok requests, one compact table row each, after the failed ones.
fn write_ok_requests(out: &mut dyn Write, a: &Analysis, lim: Limits) -> io::Result<()> {
    if !a.includes_ok || a.summary.ok == 0 {
        return Ok(());
    }
    let (rows, rest) = views::ok_rows(a, lim.ok_rows);
    writeln!(out)?;
    writeln!(out, "## Ok requests ({})", a.summary.ok)?;
    writeln!(out)?;
    if !rows.is_empty() {
        table(out, &views::OK_HEAD, &rows)?;
    }
    if rest > 0 {
        writeln!(
            out,
            "\n{rest} more ok requests not listed (use `--format json`)."
        )?;
    }
    Ok(())
}

/// The failure's Wireshark display filter and `extract` command, as a short list after it.
fn write_wireshark(out: &mut dyn Write, a: &Analysis, f: &Finding) -> io::Result<()> {
    let Some(ws) = super::wireshark::for_request(a, f) else {
        return Ok(());
    };
    writeln!(out)?;
    for ff in &ws.filters {
        let file = if ws.filters.len() == 1 {
            String::new()
        } else {
            format!(" (in {})", code(super::wireshark::file_name(a, ff.file)))
        };
        writeln!(out, "- **Wireshark filter{file}:** {}", code(&ff.filter))?;
    }
    writeln!(out, "- **Extract:** {}", code(&ws.extract))
}

fn write_finding(out: &mut dyn Write, files: &[String], n: usize, f: &Finding) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "### {n}. {}", md_escape(&words::headline(f)))?;
    writeln!(out)?;
    writeln!(
        out,
        "- **Category:** {} ({})",
        code(f.category.name()),
        f.category.meaning()
    )?;
    writeln!(
        out,
        "- **Status:** {}",
        md_escape(&views::status_sentence(f))
    )?;
    if let Some(legs) = words::decrypted_legs(f.decrypted) {
        writeln!(out, "- **Decrypted:** {legs}")?;
    }
    if let Some(g) = &f.grpc {
        writeln!(out, "- **gRPC:** {}", md_escape(&words::grpc_line(g)))?;
    }
    writeln!(
        out,
        "- **Request:** {}{} at {} (id {})",
        code(&views::request_text(f)),
        f.host
            .as_ref()
            .map(|h| format!(", Host {}", code(h)))
            .unwrap_or_default(),
        md_escape(&words::time(f.time)),
        code(&f.id.to_string())
    )?;
    writeln!(
        out,
        "- **Path:** {}",
        md_escape(&words::path_line(f, " → ", false))
    )?;
    if let Some(t) = &f.trace_id {
        writeln!(out, "- **Trace id:** {}", code(t))?;
    }
    if let Some(s) = &f.target_server {
        writeln!(out, "- **Target Server header:** {}", code(s))?;
    }
    writeln!(
        out,
        "- **Access log:** {} ({})",
        code(&views::access_log_line(f)),
        md_escape(views::ACCESS_LOG_COLUMNS)
    )?;
    if let Some(l) = &f.logged {
        for (i, line) in super::logged_lines(l).iter().enumerate() {
            let prefix = if i == 0 { "- **Logged:** " } else { "  - " };
            writeln!(out, "{prefix}{}", md_escape(line))?;
        }
    }
    if let Some(fix) = &f.fix {
        writeln!(out, "- **Fix:** {}", md_rich(&words::spans(fix)))?;
    }
    if !f.evidence.is_empty() {
        writeln!(out)?;
        writeln!(out, "Evidence:")?;
        writeln!(out)?;
        for e in &f.evidence {
            writeln!(out, "- {}", md_escape(&words::evidence(files, e)))?;
        }
    }
    if !f.notes.is_empty() {
        writeln!(out)?;
        writeln!(out, "Notes:")?;
        writeln!(out)?;
        for e in words::notes(&f.notes) {
            writeln!(out, "- {}", md_escape(&e))?;
        }
    }
    if !f.timeline.is_empty() {
        let mut body = String::new();
        for e in &f.timeline {
            let [rel, _, dir, event, packet] = words::timeline_row(e, f.time, files, " -> ");
            body.push_str(&format!(
                "{:>12}  {:<15}  {}{}\n",
                rel,
                dir,
                event.replace(['\n', '\r'], " "),
                if packet.is_empty() {
                    String::new()
                } else {
                    format!("  [{packet}]")
                }
            ));
        }
        let fence = fence_for(&body);
        writeln!(out)?;
        writeln!(out, "Timeline (from the request's first byte):")?;
        writeln!(out)?;
        writeln!(out, "{fence}text")?;
        write!(out, "{body}")?;
        writeln!(out, "{fence}")?;
    }
    Ok(())
}
