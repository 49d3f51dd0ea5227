//! `albscope check`: re-analyses captures and compares the result with an expected report,
//! exiting 1 on a difference. A `.json` expected file is compared as the structured analysis
//! (request by request, by id, field by field: `f2.0 category: a -> b`); a text one line by
//! line with a real diff (a shifted line is one change, not forty). Capture paths are compared
//! by file name, so `./x.pcap` and `x.pcap` match. `--format junit` writes a JUnit XML report
//! for CI; `--bless` (re)writes the expected file.

use super::analyze::{access_log_index, run_analysis_with_log, AccessLogArgs, AnalysisOptions};
use super::io::{self, Inputs, OutputFile, Sink};
use super::{CliError, EXIT_FINDINGS, EXIT_OK};
use albscope::report::expected_report;
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Most difference lines printed per request or report part; the rest are counted.
const MAX_LINES: usize = 200;

/// Output format of `albscope check`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// A readable list of what changed.
    Text,
    /// JUnit XML for CI systems: one test case per request (JSON expected file) or per
    /// report (text expected file); failures carry the difference.
    Junit,
}

/// Arguments of `albscope check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The expected report: `.json` (the analysis compared request by request, field by
    /// field) or text (compared line by line).
    #[arg(long, value_name = "FILE")]
    pub expected: PathBuf,
    /// Write the expected file from this analysis instead of comparing.
    #[arg(long)]
    pub bless: bool,
    /// Output format of the comparison.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Write the comparison to FILE instead of stdout (`-`: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Access logs to join (as `analyze --access-log`): the expected report then holds the
    /// joined log lines and where they disagree with the capture.
    #[command(flatten)]
    pub log: AccessLogArgs,
    /// ALB and capture options.
    #[command(flatten)]
    pub options: AnalysisOptions,
}

fn is_json(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Replaces every path ending in one of `names` (a file name, after a `/`) by the bare name,
/// so that reports of `./x.pcap` and `dir/../x.pcap` compare equal.
pub fn normalize_paths(text: &str, names: &[String]) -> String {
    let mut out = text.to_string();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let needle = format!("/{name}");
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&needle) {
            let (before, after) = rest.split_at(at);
            // Drop the path before the name: back to whitespace, a quote or a bracket.
            let keep = before
                .rfind(|c: char| c.is_whitespace() || "\"'([{<,=".contains(c))
                .map_or(0, |i| {
                    i + before[i..].chars().next().map_or(1, char::len_utf8)
                });
            result.push_str(&before[..keep]);
            result.push_str(name);
            rest = &after[needle.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// One difference: where (a request id, or `report`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The request id, or `report` for the rest of the report.
    pub case: String,
    /// What changed, e.g. `category: "keepalive_race" -> "target_closed"`.
    pub what: String,
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Field-by-field differences of two JSON values under `path`.
fn diff_values(path: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            for (k, ev) in eo {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match ao.get(k) {
                    Some(av) => diff_values(&p, ev, av, out),
                    None => out.push(format!("{p}: {} -> (absent)", short(ev))),
                }
            }
            for (k, av) in ao {
                if !eo.contains_key(k) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.push(format!("{p}: (absent) -> {}", short(av)));
                }
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                diff_values(&format!("{path}[{i}]"), ev, av, out);
            }
            if ea.len() != aa.len() {
                out.push(format!("{path}: {} items -> {} items", ea.len(), aa.len()));
            }
        }
        _ if e != a => out.push(format!("{path}: {} -> {}", short(e), short(a))),
        _ => {}
    }
}

fn requests_by_id(doc: &Value) -> BTreeMap<String, &Value> {
    doc.get("requests")
        .and_then(Value::as_array)
        .map(|reqs| {
            reqs.iter()
                .map(|r| {
                    let id = match r.get("id") {
                        Some(Value::String(s)) => s.clone(),
                        other => other.map_or("?".into(), Value::to_string),
                    };
                    (id, r)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn label(r: &Value) -> String {
    let s = |k: &str| match r.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(v) => v.to_string(),
    };
    format!(
        "{} {} {}, {} status {} by {}",
        s("method"),
        s("path"),
        s("time"),
        s("category"),
        s("status"),
        s("generated_by")
    )
}

/// One difference when the expected document was written with another `schema_version` than
/// the actual one (field by field they would differ everywhere): says which versions and how
/// to re-create the file.
pub fn schema_mismatch(expected: &Value, actual: &Value) -> Option<Difference> {
    let (e, a) = (expected.get("schema_version"), actual.get("schema_version"));
    if e == a {
        return None;
    }
    let version = |v: Option<&Value>| v.map_or("none".to_string(), Value::to_string);
    Some(Difference {
        case: "report".into(),
        what: format!(
            "schema_version: the expected file has {}, this albscope writes {}; not compared \
             field by field (the JSON changed shape, see the README's JSON section); re-create \
             it with --bless and review the diff",
            version(e),
            version(a)
        ),
    })
}

/// Compares two JSON analyses: requests by id, field by field, then the rest of the report.
pub fn diff_requests(expected: &Value, actual: &Value) -> Vec<Difference> {
    let e = requests_by_id(expected);
    let a = requests_by_id(actual);
    let mut out = Vec::new();
    let mut push = |case: &str, what: String| {
        out.push(Difference {
            case: case.to_string(),
            what,
        })
    };
    for (id, er) in &e {
        match a.get(id) {
            None => push(id, format!("missing now (was {})", label(er))),
            Some(ar) => {
                let mut lines = Vec::new();
                diff_values("", er, ar, &mut lines);
                for l in lines {
                    push(id, l);
                }
            }
        }
    }
    for (id, ar) in &a {
        if !e.contains_key(id) {
            push(id, format!("new request: {}", label(ar)));
        }
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("requests");
        }
        v
    };
    let mut lines = Vec::new();
    diff_values("", &strip(expected), &strip(actual), &mut lines);
    for l in lines {
        push("report", l);
    }
    out
}

/// Line diff of two texts (unified, one line of context), as difference entries.
pub fn diff_text(expected: &str, actual: &str) -> Vec<Difference> {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut out = Vec::new();
    for group in diff.grouped_ops(1) {
        let (first, last) = match (group.first(), group.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => continue,
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        let mut what = format!(
            "@@ -{},{} +{},{} @@",
            old.start + 1,
            old.len(),
            new.start + 1,
            new.len()
        );
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                what.push('\n');
                what.push(sign);
                what.push(' ');
                what.push_str(change.value().trim_end_matches(['\n', '\r']));
            }
        }
        out.push(Difference {
            case: "report".into(),
            what,
        });
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes a JUnit XML report: one test case per request id in `cases` (plus `report`).
fn write_junit(
    out: &mut dyn Write,
    suite: &str,
    cases: &[String],
    diffs: &[Difference],
) -> std::io::Result<()> {
    let failed: Vec<&String> = cases
        .iter()
        .filter(|c| diffs.iter().any(|d| &d.case == *c))
        .collect();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="albscope check" tests="{}" failures="{}">"#,
        cases.len(),
        failed.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{}">"#,
        xml_escape(suite),
        cases.len(),
        failed.len()
    )?;
    for case in cases {
        let lines: Vec<&str> = diffs
            .iter()
            .filter(|d| &d.case == case)
            .map(|d| d.what.as_str())
            .collect();
        write!(
            out,
            r#"    <testcase classname="{}" name="{}""#,
            xml_escape(suite),
            xml_escape(case)
        )?;
        if lines.is_empty() {
            writeln!(out, "/>")?;
        } else {
            writeln!(out, ">")?;
            writeln!(
                out,
                r#"      <failure message="{} difference{}">{}</failure>"#,
                lines.len(),
                if lines.len() == 1 { "" } else { "s" },
                xml_escape(&lines.join("\n"))
            )?;
            writeln!(out, "    </testcase>")?;
        }
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

/// Writes the differences for people, grouped by request.
fn write_text(out: &mut dyn Write, expected: &Path, diffs: &[Difference]) -> std::io::Result<()> {
    writeln!(
        out,
        "{} difference{} from {}:",
        diffs.len(),
        if diffs.len() == 1 { "" } else { "s" },
        expected.display()
    )?;
    let mut case = "";
    for (n, d) in diffs.iter().enumerate() {
        if n == MAX_LINES {
            writeln!(out, "  ... {} more differences", diffs.len() - MAX_LINES)?;
            break;
        }
        if d.case != case {
            case = &d.case;
            writeln!(out, "  {case}:")?;
        }
        for line in d.what.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

/// Runs `albscope check`.
pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    args.options.alb_config()?;
    args.options.pipeline_config()?;
    let paths = args.options.input.paths();
    let mut read = paths.clone();
    read.extend(args.log.access_log.iter().cloned());
    let blessed = if args.bless {
        Some(OutputFile::create(&args.expected, &read, "--expected")?)
    } else {
        None
    };
    // The expected file is read before the analysis: a missing one fails at once.
    let expected = if args.bless {
        String::new()
    } else {
        std::fs::read_to_string(&args.expected).map_err(|e| {
            CliError::Usage(format!(
                "cannot read {}: {e} (use --bless to create it)",
                args.expected.display()
            ))
        })?
    };
    read.push(args.expected.clone());
    let sink = Sink::open(args.output.as_deref(), &read, "-o")?;
    let inputs = Inputs::prepare(&paths, !args.log.access_log.is_empty())?;
    let log = access_log_index(&args.log, &inputs)?;
    let analysis = run_analysis_with_log(&inputs, &args.options, false, log)?;
    let json = is_json(&args.expected);
    let actual = expected_report(&analysis, json)?;
    if let Some(mut file) = blessed {
        file.file().write_all(actual.as_bytes()).map_err(|e| {
            CliError::Usage(format!("cannot write {}: {e}", args.expected.display()))
        })?;
        file.commit()?;
        io::say(format_args!("wrote {}", args.expected.display()))?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let expected = normalize_paths(&expected, &names);
    let actual = normalize_paths(&actual, &names);
    let (diffs, mut cases) = if json {
        let e: Value = serde_json::from_str(&expected).map_err(|e| {
            CliError::Usage(format!("{} is not JSON: {e}", args.expected.display()))
        })?;
        let a: Value = serde_json::from_str(&actual)
            .map_err(|e| CliError::Usage(format!("internal: analysis is not JSON: {e}")))?;
        if let Some(d) = schema_mismatch(&e, &a) {
            (vec![d], Vec::new())
        } else {
            let mut cases: Vec<String> = requests_by_id(&e).into_keys().collect();
            for id in requests_by_id(&a).into_keys() {
                if !cases.contains(&id) {
                    cases.push(id);
                }
            }
            (diff_requests(&e, &a), cases)
        }
    } else {
        (diff_text(&expected, &actual), Vec::new())
    };
    cases.push("report".into());
    let suite = names.join(" ");
    let expected_path = args.expected.clone();
    let requests = analysis.summary.requests;
    let format = args.format;
    let diffs_ref = &diffs;
    sink.write_with(|w| match format {
        CheckFormat::Junit => write_junit(w, &suite, &cases, diffs_ref),
        CheckFormat::Text if diffs_ref.is_empty() => writeln!(
            w,
            "ok: {requests} requests match {}",
            expected_path.display()
        ),
        CheckFormat::Text => write_text(w, &expected_path, diffs_ref),
    })?;
    Ok(ExitCode::from(if diffs.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_diff_names_request_and_field() {
        let e: Value = serde_json::json!({"requests": [
            {"id": "f1.0", "method": "GET", "path": "/", "time": "t", "category": "ok",
             "status": 200, "generated_by": "target"},
            {"id": "f2.0", "method": "GET", "path": "/", "time": "t",
             "category": "keepalive_race", "status": 502, "generated_by": "lb"}]});
        let a: Value = serde_json::json!({"requests": [
            {"id": "f1.0", "method": "GET", "path": "/", "time": "t", "category": "ok",
             "status": 200, "generated_by": "target"},
            {"id": "f2.0", "method": "GET", "path": "/", "time": "t",
             "category": "target_closed_before_response", "status": 502,
             "generated_by": "lb"}]});
        let d = diff_requests(&e, &a);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].case, "f2.0");
        assert_eq!(
            d[0].what,
            "category: \"keepalive_race\" -> \"target_closed_before_response\""
        );
        assert!(diff_requests(&e, &e).is_empty());
    }

    #[test]
    fn one_shifted_line_is_one_change() {
        let e: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let a = format!("inserted\n{e}");
        let d = diff_text(&e, &a);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].what.contains("+ inserted"));
    }

    #[test]
    fn paths_compare_by_file_name() {
        let names = vec!["x.pcap".to_string()];
        assert_eq!(
            normalize_paths("\"./samples/x.pcap\" and samples/x.pcap", &names),
            "\"x.pcap\" and x.pcap"
        );
    }
}
