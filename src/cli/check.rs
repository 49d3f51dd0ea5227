//! `albscope check`: re-analyses captures and compares the result with an expected report
//! (JSON: the failed requests' category/status/generated_by, request by request; text: the
//! whole default report), exiting 1 on a difference. `--bless` (re)writes the expected file.

use super::analyze::{access_log_index, run_analysis_with_log, AnalysisOptions};
use super::{CliError, EXIT_FINDINGS, EXIT_OK};
use albscope::report::expected_report;
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `albscope check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Capture files.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// The expected report: `.json` (failed requests compared one by one) or text (compared
    /// whole).
    #[arg(long, value_name = "FILE")]
    pub expected: PathBuf,
    /// Write the expected file from this analysis instead of comparing.
    #[arg(long)]
    pub bless: bool,
    /// ALB access logs to join (as `analyze --access-log`): the expected report then holds
    /// the joined log lines and where they disagree with the capture.
    #[arg(long = "access-log", value_name = "FILE", num_args = 1..)]
    pub access_log: Vec<PathBuf>,
    /// ALB and capture options.
    #[command(flatten)]
    pub options: AnalysisOptions,
}

fn is_json(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The comparable facts of one request: `(label, category, status, generated_by)`.
type Row = (String, String, String, String);

fn rows(doc: &Value) -> BTreeMap<String, Row> {
    let mut out = BTreeMap::new();
    let empty = Vec::new();
    let reqs = doc
        .get("requests")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for r in reqs {
        let s = |k: &str| match r.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "null".into(),
            Some(v) => v.to_string(),
        };
        let label = format!("{} {} {}", s("method"), s("path"), s("time"));
        out.insert(
            s("id"),
            (label, s("category"), s("status"), s("generated_by")),
        );
    }
    out
}

/// Compares the request rows of two JSON reports; returns the difference lines.
pub fn diff_requests(expected: &Value, actual: &Value) -> Vec<String> {
    let e = rows(expected);
    let a = rows(actual);
    let mut out = Vec::new();
    for (id, er) in &e {
        match a.get(id) {
            None => out.push(format!(
                "- {id} {}: expected {} status {} by {}, now missing",
                er.0, er.1, er.2, er.3
            )),
            Some(ar) if (&ar.1, &ar.2, &ar.3) != (&er.1, &er.2, &er.3) => out.push(format!(
                "~ {id} {}: expected {} status {} by {}, got {} status {} by {}",
                er.0, er.1, er.2, er.3, ar.1, ar.2, ar.3
            )),
            Some(_) => {}
        }
    }
    for (id, ar) in &a {
        if !e.contains_key(id) {
            out.push(format!(
                "+ {id} {}: new request {} status {} by {}",
                ar.0, ar.1, ar.2, ar.3
            ));
        }
    }
    out
}

/// Line diff of two texts (first differing lines, with line numbers).
pub fn diff_text(expected: &str, actual: &str) -> Vec<String> {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = Vec::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            if let Some(x) = x {
                out.push(format!("line {}: - {x}", i + 1));
            }
            if let Some(y) = y {
                out.push(format!("line {}: + {y}", i + 1));
            }
            if out.len() >= 40 {
                out.push("... (more differences)".into());
                break;
            }
        }
    }
    out
}

/// Runs `albscope check`.
pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    let log = access_log_index(&args.access_log, &args.inputs, &args.options)?;
    let analysis = run_analysis_with_log(&args.inputs, &args.options, false, log)?;
    let json = is_json(&args.expected);
    let actual = expected_report(&analysis, json)?;
    if args.bless {
        std::fs::write(&args.expected, &actual).map_err(|e| {
            CliError::Usage(format!("cannot write {}: {e}", args.expected.display()))
        })?;
        println!("wrote {}", args.expected.display());
        return Ok(ExitCode::from(EXIT_OK));
    }
    let expected = std::fs::read_to_string(&args.expected).map_err(|e| {
        CliError::Usage(format!(
            "cannot read {}: {e} (use --bless to create it)",
            args.expected.display()
        ))
    })?;
    let diffs = if json {
        let e: Value = serde_json::from_str(&expected).map_err(|e| {
            CliError::Usage(format!("{} is not JSON: {e}", args.expected.display()))
        })?;
        let a: Value = serde_json::from_str(&actual)
            .map_err(|e| CliError::Usage(format!("internal: analysis is not JSON: {e}")))?;
        diff_requests(&e, &a)
    } else {
        diff_text(&expected, &actual)
    };
    if diffs.is_empty() {
        println!(
            "ok: {} requests match {}",
            analysis.summary.requests,
            args.expected.display()
        );
        Ok(ExitCode::from(EXIT_OK))
    } else {
        println!(
            "{} differences from {}:",
            diffs.len(),
            args.expected.display()
        );
        for d in diffs {
            println!("  {d}");
        }
        Ok(ExitCode::from(EXIT_FINDINGS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_diff_names_changes() {
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
        assert!(d[0].contains("keepalive_race") && d[0].contains("target_closed"));
        assert!(diff_requests(&e, &e).is_empty());
    }
}
