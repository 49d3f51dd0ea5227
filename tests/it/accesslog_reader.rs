//! The streaming reader (files, gzip, folders, malformed lines) and `albscope explain-log`.

use albscope::accesslog::{LogReader, LogRecord};
use albscope::taxonomy::Category;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SEED: &str = include_str!("../../samples/access-logs/seed-article.log");

fn scratch(name: &str) -> PathBuf {
    let dir = crate::scratch::dir(&format!("accesslog-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Entries (file, line, status), malformed (file, line), failed files, and the reader.
type Collected = (
    Vec<(String, u64, u16)>,
    Vec<(String, u64)>,
    Vec<String>,
    LogReader,
);

fn collect(inputs: &[PathBuf]) -> Collected {
    let mut reader = LogReader::new(inputs);
    let (mut entries, mut malformed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(rec) = reader.next() {
        match rec {
            LogRecord::Entry { pos, entry } => entries.push((
                reader.file_name(pos.file).to_string(),
                pos.line,
                entry.elb_status_code.unwrap_or(0),
            )),
            LogRecord::Malformed(m) => malformed.push((m.file.clone(), m.line)),
            LogRecord::InputError { file, .. } => failed.push(file),
        }
    }
    (entries, malformed, failed, reader)
}

#[test]
fn malformed_lines_are_skipped_with_their_line_numbers() {
    let dir = scratch("malformed");
    let lines: Vec<&str> = SEED.lines().collect();
    let text = format!(
        "{}\nnot an access log line\n\n{}\nhttp broken \"quote\n{}\n",
        lines[0], lines[1], lines[2]
    );
    let f = dir.join("a.log");
    std::fs::write(&f, text).unwrap();
    let (entries, malformed, failed, reader) = collect(std::slice::from_ref(&f));
    assert_eq!(
        entries.iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![1, 4, 6]
    );
    let name = f.display().to_string();
    assert_eq!(malformed, vec![(name.clone(), 2), (name, 5)]);
    assert!(failed.is_empty());
    let s = reader.stats();
    assert_eq!(
        (s.lines, s.entries, s.malformed, s.files_opened),
        (6, 3, 2, 1)
    );
}

#[test]
fn gzip_is_detected_by_magic_not_name() {
    let dir = scratch("gzip");
    let gz = dir.join("alb.log.gz");
    std::fs::write(&gz, gzip(SEED.as_bytes())).unwrap();
    let disguised = dir.join("plain-name.log");
    std::fs::write(&disguised, gzip(SEED.as_bytes())).unwrap();
    let (entries, malformed, _, _) = collect(&[gz, disguised]);
    assert_eq!(entries.len(), 16);
    assert!(malformed.is_empty());
    assert_eq!(entries[8].1, 1);
}

#[test]
fn concatenated_gzip_members_are_all_read() {
    let dir = scratch("multigz");
    let mut data = gzip(SEED.as_bytes());
    data.extend(gzip(SEED.as_bytes()));
    let f = dir.join("two-members.log.gz");
    std::fs::write(&f, data).unwrap();
    let (entries, _, _, _) = collect(&[f]);
    assert_eq!(entries.len(), 16);
    assert_eq!(entries[15].1, 16);
}

#[test]
fn truncated_gzip_reports_an_input_error_after_the_good_lines() {
    let dir = scratch("truncgz");
    let big: String = SEED.repeat(200);
    let data = gzip(big.as_bytes());
    let f = dir.join("cut.log.gz");
    std::fs::write(&f, &data[..data.len() / 2]).unwrap();
    let good = dir.join("good.log");
    std::fs::write(&good, SEED).unwrap();
    let (entries, _, failed, reader) = collect(&[f, good]);
    assert_eq!(failed.len(), 1);
    assert!(entries.len() > 8, "lines before the cut are read");
    assert_eq!(
        entries.iter().filter(|e| e.0.ends_with("good.log")).count(),
        8
    );
    assert_eq!(reader.stats().files_failed, 1);
}

#[test]
fn folders_are_walked_recursively_in_name_order() {
    let dir = scratch("folder");
    let nested = dir.join("AWSLogs/123/elasticloadbalancing/ap-southeast-2/2025/12/12");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("b.log.gz"), gzip(SEED.as_bytes())).unwrap();
    std::fs::write(dir.join("a.log"), SEED).unwrap();
    std::fs::write(dir.join(".hidden.log"), "garbage\n").unwrap();
    std::fs::write(dir.join("notes.md"), "garbage\n").unwrap();
    let (entries, malformed, failed, reader) = collect(std::slice::from_ref(&dir));
    assert_eq!(entries.len(), 16);
    assert!(malformed.is_empty() && failed.is_empty());
    assert_eq!(reader.file_names().len(), 2);
    // Sorted by path bytes: "AWSLogs/..." before "a.log".
    assert!(reader.file_names()[0].ends_with("12/b.log.gz"));
    assert!(reader.file_names()[1].ends_with("a.log"));
}

#[test]
fn missing_files_are_reported_and_the_rest_is_read() {
    let dir = scratch("missing");
    let good = dir.join("good.log");
    std::fs::write(&good, SEED).unwrap();
    let (entries, _, failed, _) = collect(&[dir.join("nope.log"), good]);
    assert_eq!(entries.len(), 8);
    assert_eq!(failed.len(), 1);
}

fn albscope(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/access-logs/seed-article.log")
        .display()
        .to_string()
}

#[test]
fn cli_text_output_and_summary() {
    let (code, out, err) = albscope(&["explain-log", &sample()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("=> target_connect_refused (possible, generated by the ALB)"));
    assert!(out.contains("By category:"));
    assert!(out.contains("172.31.6.52:443"));
    assert!(out.contains("seed-article.log:5"));
}

#[test]
fn cli_json_is_one_valid_document() {
    let (code, out, _) = albscope(&["explain-log", "--format", "json", &sample()], None);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 8);
    assert_eq!(entries[5]["category"], Category::DeregistrationAbort.name());
    assert_eq!(entries[5]["line"], 6);
    assert_eq!(
        v["summary"]["by_category"][Category::TargetConnectTimeout.name()],
        2
    );
}

#[test]
fn cli_ndjson_from_stdin_single_line() {
    let line = SEED.lines().nth(6).unwrap();
    let (code, out, _) = albscope(&["explain-log", "--format", "ndjson"], Some(line));
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["record"], "entry");
    assert_eq!(rows[0]["category"], Category::TargetConnectTimeout.name());
    assert_eq!(rows[0]["file"], "-");
    assert_eq!(rows[1]["record"], "summary");
}

#[test]
fn cli_all_includes_successes() {
    let ok = SEED
        .lines()
        .next()
        .unwrap()
        .replace(" 504 504 ", " 200 200 ");
    let input = format!("{ok}\n{}\n", SEED.lines().nth(1).unwrap());
    let (_, errors_only, _) = albscope(&["explain-log", "--format", "ndjson", "-"], Some(&input));
    assert_eq!(errors_only.lines().count(), 2);
    let (_, all, _) = albscope(
        &["explain-log", "--all", "--format", "ndjson", "-"],
        Some(&input),
    );
    assert_eq!(all.lines().count(), 3);
    assert!(all.contains("\"category\":\"ok\""));
}

#[test]
fn cli_exit_codes() {
    let (code, _, err) = albscope(&["explain-log", "-"], Some("garbage\nmore garbage\n"));
    assert_eq!(code, 3);
    assert!(err.contains("-:1:") && err.contains("-:2:"), "{err}");
    let (code, _, _) = albscope(&["explain-log", "--idle-timeout", "0", &sample()], None);
    assert_eq!(code, 2);
    // A missing file is a usage error (exit 2) naming the OS error, before any work.
    let (code, out, err) = albscope(&["explain-log", "/nonexistent/x.log", &sample()], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("No such file or directory") && out.is_empty(),
        "{err}"
    );
    let (code, _, _) = albscope(&["explain-log", "/nonexistent/x.log"], None);
    assert_eq!(code, 2);
    let (code, _, _) = albscope(&["explain-log", "-"], Some(""));
    assert_eq!(code, 0);
}
