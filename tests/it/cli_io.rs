//! Issue 14, the command line's side: outputs never touch inputs (also through a symlink or a
//! hard link), a closed stdout ends every command quietly with exit 0, `-` is stdin and
//! stdout everywhere, damaged timestamps are noted and kept out of durations, `check` diffs
//! the structured analysis and writes JUnit, `explain-log` exits 3 on a non-log, the same input
//! options on every command, and zstd-compressed captures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_albscope");

fn albscope(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run albscope")
}

fn albscope_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run albscope");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("feed stdin");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

fn tmp(name: &str) -> PathBuf {
    let dir = crate::scratch::dir("cli-io");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("samples").join(name)).expect("sample")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Offsets of every record of a classic little-endian pcap.
fn records(pcap: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        out.push(off);
        let incl = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().expect("4 bytes"));
        off += 16 + incl as usize;
    }
    out
}

#[test]
fn an_output_that_is_an_input_is_refused_before_any_work() {
    let original = sample("mixed.pcap");
    let cap = tmp("safety-in.pcap");
    std::fs::write(&cap, &original).expect("write");
    let link = tmp("safety-link.pcap");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&cap, &link).expect("symlink");
    let hard = tmp("safety-hard.pcap");
    let _ = std::fs::remove_file(&hard);
    std::fs::hard_link(&cap, &hard).expect("hard link");
    let other_spelling = format!("{}/./{}", s(cap.parent().expect("dir")), "safety-in.pcap");
    let cases: Vec<Vec<&str>> = vec![
        vec!["analyze", s(&cap), "-o", s(&cap)],
        vec!["analyze", s(&cap), "-o", s(&link)],
        vec!["analyze", s(&link), "-o", s(&cap)],
        vec!["analyze", s(&hard), "-o", s(&cap)],
        vec!["analyze", s(&cap), "-o", &other_spelling],
        vec!["extract", s(&cap), "--request", "f12.0", "-w", s(&cap)],
        vec!["extract", s(&cap), "--request", "f12.0", "-w", s(&link)],
        vec!["check", s(&cap), "--expected", s(&cap), "--bless"],
        vec!["check", s(&cap), "--expected", s(&link), "--bless"],
        vec![
            "analyze",
            "-r",
            s(&cap),
            "--access-log",
            s(&link),
            "-o",
            s(&link),
        ],
    ];
    for args in cases {
        let out = albscope(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("refusing to overwrite an input"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read(&cap).expect("read"), original, "{args:?}");
    }
}

#[test]
fn a_failed_run_leaves_the_previous_output_as_it_was() {
    // Its own folder: other tests write outputs beside theirs at the same time.
    let dir = tmp("failed-run");
    std::fs::create_dir_all(&dir).expect("dir");
    let report = dir.join("previous.txt");
    std::fs::write(&report, "previous report\n").expect("write");
    let junk = tmp("junk.txt");
    std::fs::write(&junk, "not a capture\n").expect("write");
    let out = albscope(&["analyze", s(&junk), "-o", s(&report)]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&report).expect("read"),
        "previous report\n"
    );
    // A good run replaces it whole; no temporary file is left beside it.
    let out = albscope(&["analyze", "samples/mixed.pcap", "-o", s(&report)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&report)
        .expect("read")
        .starts_with("albscope:"));
    let leftovers = std::fs::read_dir(report.parent().expect("dir"))
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".albscope-"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn an_unwritable_output_fails_at_once_with_the_os_error() {
    let start = std::time::Instant::now();
    let out = albscope(&[
        "analyze",
        "samples/mixed.pcap",
        "-o",
        "/nonexistent-dir/report.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cannot write /nonexistent-dir/report.txt: No such file or directory"),
        "{err}"
    );
    assert!(start.elapsed().as_secs() < 30);
}

/// Runs a command whose stdout reader is gone before it writes anything.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run albscope");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait")
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let expected = tmp("pipe-expected.json");
    let bless = albscope(&[
        "check",
        "samples/mixed.pcap",
        "--expected",
        s(&expected),
        "--bless",
    ]);
    assert_eq!(bless.status.code(), Some(0), "{}", stderr(&bless));
    let slices = tmp("pipe-slices");
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for format in ["text", "json", "ndjson", "markdown", "html"] {
        cases.push(vec![
            "analyze",
            "--all",
            "--format",
            format,
            "samples/mixed.pcap",
        ]);
    }
    for format in ["table", "json", "ndjson"] {
        cases.push(vec!["flows", "--format", format, "samples/mixed.pcap"]);
    }
    for format in ["text", "json", "ndjson"] {
        cases.push(vec![
            "explain-log",
            "--all",
            "--format",
            format,
            "samples/access-logs/mixed.log",
        ]);
    }
    for format in ["text", "junit"] {
        cases.push(vec![
            "check",
            "--format",
            format,
            "samples/mixed.pcap",
            "--expected",
            s(&expected),
        ]);
    }
    cases.push(vec![
        "check",
        "samples/mixed.pcap",
        "--expected",
        s(&expected),
        "--bless",
    ]);
    cases.push(vec![
        "extract",
        "samples/mixed.pcap",
        "--failed",
        "-d",
        s(&slices),
    ]);
    cases.push(vec![
        "extract",
        "samples/mixed.pcap",
        "--request",
        "f12.0",
        "-w",
        "-",
    ]);
    for args in cases {
        let out = with_closed_stdout(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_stdout_slice_spool_is_a_fresh_temporary_file() {
    // `extract -w -` spools the slice before copying it to stdout. The spool is a new file of
    // its own: a folder, a FIFO or another run's file at any fixed name in the temporary
    // folder must not stop or block it.
    let tmpdir = crate::scratch::dir("spool-tmpdir");
    std::fs::create_dir_all(tmpdir.join("albscope-slice.pcap")).expect("blocking folder");
    let out = Command::new(BIN)
        .args([
            "extract",
            "samples/mixed.pcap",
            "--request",
            "f12.0",
            "-w",
            "-",
        ])
        .env("TMPDIR", &tmpdir)
        .output()
        .expect("run albscope");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        &out.stdout[..4],
        &[0x4d, 0x3c, 0xb2, 0xa1],
        "a pcap on stdout"
    );
    let left: Vec<_> = std::fs::read_dir(&tmpdir)
        .expect("tmpdir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "only the folder is left, the spool is gone: {left:?}"
    );
}

#[test]
fn dash_is_stdin_and_stdout_everywhere() {
    let pcap = sample("mixed.pcap");
    // extract reads its input twice: stdin is spooled.
    let out = albscope_stdin(&["extract", "-", "--request", "f12.0", "-w", "-"], &pcap);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A nanosecond pcap (the slice keeps the capture's resolution).
    assert_eq!(
        &out.stdout[..4],
        &[0x4d, 0x3c, 0xb2, 0xa1],
        "a pcap on stdout"
    );
    assert!(stderr(&out).contains("-: 12 packets"), "{}", stderr(&out));
    assert!(!Path::new("-").exists(), "no file named '-'");
    // The slice read back from stdin.
    let again = albscope_stdin(&["analyze", "--alb-ip", "10.0.1.25", "-"], &out.stdout);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("target_connect_refused"));
    // -o - is stdout; --access-log with stdin reads the capture's span from the spool.
    let out = albscope_stdin(
        &[
            "analyze",
            "-",
            "--access-log",
            "samples/access-logs/mixed.log",
            "--format",
            "json",
            "-o",
            "-",
        ],
        &pcap,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["inputs"][0], "-");
}

#[test]
fn missing_inputs_are_usage_errors_with_the_os_error() {
    for args in [
        vec!["analyze", "samples/mixed.pcap", "missing.pcap"],
        vec!["flows", "samples/mixed.pcap", "missing.pcap"],
        vec!["extract", "missing.pcap", "--failed", "-d", "/tmp"],
        vec!["check", "missing.pcap", "--expected", "x.json"],
        vec!["explain-log", "missing.log"],
        vec![
            "analyze",
            "samples/mixed.pcap",
            "--access-log",
            "missing.log",
        ],
    ] {
        let out = albscope(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("No such file or directory"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn explain_log_on_a_non_log_exits_3_and_says_what_it_is() {
    let out = albscope(&["explain-log", "README.md"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("README.md: not an ALB access log (it looks like plain text"),
        "{err}"
    );
    assert!(!err.contains("skipped"), "{err}");
    let out = albscope(&["explain-log", "samples/mixed.pcap"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("a pcap capture; use `albscope analyze`"));
    // With a real log beside it: the log is explained, exit 4 (partial).
    let out = albscope(&["explain-log", "README.md", "samples/access-logs/mixed.log"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Summary:"));
}

#[test]
fn every_capture_command_takes_the_same_input_options() {
    for cmd in ["analyze", "flows"] {
        let out = albscope(&[
            cmd,
            "-r",
            "samples/mixed.pcap",
            "--vxlan-port",
            "4790",
            "--geneve-port",
            "6082",
            "--no-progress",
        ]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stderr(&out));
    }
    let out = albscope(&[
        "check",
        "-r",
        "samples/mixed.pcap",
        "--geneve-port",
        "6082",
        "--no-progress",
        "--expected",
        s(&tmp("opts.json")),
        "--bless",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = albscope(&[
        "extract",
        "-r",
        "samples/mixed.pcap",
        "--geneve-port",
        "6082",
        "--no-progress",
        "--request",
        "f12.0",
        "-w",
        s(&tmp("opts.pcap")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // extract joins no log, so it does not offer the log's limit either.
    let help = albscope(&["extract", "--help"]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("--max-log-entries"));
    // --idle-timeout is whole seconds everywhere.
    for cmd in ["analyze", "explain-log"] {
        let path = if cmd == "analyze" {
            "samples/mixed.pcap"
        } else {
            "samples/access-logs/mixed.log"
        };
        let out = albscope(&[cmd, "--idle-timeout", "1.5", path]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let out = albscope(&[cmd, "--idle-timeout", "2", path]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stderr(&out));
    }
}

#[test]
fn color_follows_the_flag_and_the_environment() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        String::from_utf8_lossy(&out.stdout).contains('\u{1b}')
    };
    let cap = "samples/keepalive_race.pcap";
    assert!(!run(&["analyze", cap], &[]));
    assert!(run(&["analyze", "--color", "always", cap], &[]));
    assert!(!run(
        &["analyze", "--color", "never", cap],
        &[("CLICOLOR_FORCE", "1")]
    ));
    assert!(run(&["analyze", cap], &[("CLICOLOR_FORCE", "1")]));
}

#[test]
fn check_diffs_the_analysis_by_request_and_field() {
    let expected = tmp("diff-expected.json");
    let out = albscope(&[
        "check",
        "samples/keepalive_race.pcap",
        "--expected",
        s(&expected),
        "--bless",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The capture path typed differently still matches.
    let out = albscope(&[
        "check",
        "./samples/../samples/keepalive_race.pcap",
        "--expected",
        s(&expected),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // One changed category: one difference naming request, field, old -> new.
    let text = std::fs::read_to_string(&expected).expect("read");
    // In the request (the verdict, before it, names the category too).
    let at = text.find("\"requests\": [").expect("requests");
    let changed = format!(
        "{}{}",
        &text[..at],
        text[at..].replacen(
            "\"category\": \"keepalive_race\"",
            "\"category\": \"client_closed\"",
            1,
        )
    );
    assert_ne!(text, changed);
    std::fs::write(&expected, changed).expect("write");
    let out = albscope(&[
        "check",
        "samples/keepalive_race.pcap",
        "--expected",
        s(&expected),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("category: \"client_closed\" -> \"keepalive_race\""),
        "{report}"
    );
    assert!(report.starts_with("1 difference from"), "{report}");
    // JUnit: one test case per request plus the report; the failure carries the diff.
    let out = albscope(&[
        "check",
        "samples/keepalive_race.pcap",
        "--expected",
        s(&expected),
        "--format",
        "junit",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("<failure message=\"1 difference\">category: &quot;client_closed&quot; -&gt; &quot;keepalive_race&quot;</failure>"), "{xml}");
    assert!(xml.contains("name=\"report\"/>"), "{xml}");
}

#[test]
fn check_of_a_text_report_is_a_real_line_diff() {
    let expected = tmp("diff-expected.txt");
    let out = albscope(&[
        "check",
        "samples/mixed.pcap",
        "--expected",
        s(&expected),
        "--bless",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&expected).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(3, "an extra line");
    std::fs::write(&expected, lines.join("\n") + "\n").expect("write");
    let out = albscope(&["check", "samples/mixed.pcap", "--expected", s(&expected)]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.starts_with("1 difference from"), "{report}");
    assert!(report.contains("- an extra line"), "{report}");
}

#[test]
fn timestamps_far_off_are_noted_and_kept_out_of_durations() {
    /// The sample with packet `index` (0-based) given `secs` (or its seconds moved by `shift`).
    fn with_time(name: &str, index: usize, secs: Option<u32>, shift: i64) -> Vec<u8> {
        let mut pcap = sample(name);
        let r = records(&pcap)[index];
        let old = u32::from_le_bytes(pcap[r..r + 4].try_into().expect("4"));
        let new = secs.unwrap_or((i64::from(old) + shift) as u32);
        pcap[r..r + 4].copy_from_slice(&new.to_le_bytes());
        pcap
    }
    let cases = [
        // seconds = 0xFFFFFFFF: a year-2106 packet (was an 80-year capture span).
        (
            "healthy.pcap",
            with_time("healthy.pcap", 5, Some(u32::MAX), 0),
            6,
            "outside any plausible capture time",
        ),
        // A packet three hours before the packets around it.
        (
            "healthy.pcap",
            with_time("healthy.pcap", 8, None, -10_800),
            9,
            "runs 10800.000 s back",
        ),
        // The ALB's 502 three hours before its request (was "-10799999.500 ms" in the
        // timeline).
        (
            "keepalive_race.pcap",
            with_time("keepalive_race.pcap", 53, None, -10_800),
            54,
            "runs 10800.000 s back",
        ),
    ];
    for (n, (name, bytes, packet, what)) in cases.into_iter().enumerate() {
        let path = tmp(&format!("time-{n}.pcap"));
        std::fs::write(&path, &bytes).expect("write");
        let out = albscope(&["analyze", "--all", "--format", "json", s(&path)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["stats"]["time_anomalies"], 1, "{name}");
        let note = v["stats"]["inputs"][0]["time_note"].as_str().expect("note");
        assert!(
            note.contains(&format!("packet {packet}: ")) && note.contains(what),
            "{note}"
        );
        // The capture span is the sample's own (seconds, not decades) and no duration is
        // hours negative.
        let text = albscope(&["analyze", "--all", s(&path)]);
        let text = String::from_utf8_lossy(&text.stdout);
        let reference = albscope(&["analyze", "--all", &format!("samples/{name}")]);
        let reference = String::from_utf8_lossy(&reference.stdout);
        let span = |t: &str| t.lines().nth(1).unwrap_or_default().to_string();
        assert_eq!(span(&text), span(&reference), "{name}");
        assert!(text.contains("packet with an unusable timestamp"), "{text}");
        for bad in ["-1079", "-1080", "after -"] {
            assert!(!text.contains(bad), "{bad}: {text}");
        }
    }
}

/// A pcapng with one interface whose if_tsoffset is `offset` and the first `n` frames of a
/// classic pcap.
fn pcapng_with_offset(pcap: &[u8], offset: i64, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&len.to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // Ethernet
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    idb.extend_from_slice(&14u16.to_le_bytes()); // if_tsoffset
    idb.extend_from_slice(&8u16.to_le_bytes());
    idb.extend_from_slice(&offset.to_le_bytes());
    idb.extend_from_slice(&[0; 4]); // opt_endofopt
    block(&mut out, 1, &idb);
    for &r in records(pcap).iter().take(n) {
        let secs = u64::from(u32::from_le_bytes(pcap[r..r + 4].try_into().expect("4")));
        let usec = u64::from(u32::from_le_bytes(
            pcap[r + 4..r + 8].try_into().expect("4"),
        ));
        let incl = u32::from_le_bytes(pcap[r + 8..r + 12].try_into().expect("4"));
        let orig = u32::from_le_bytes(pcap[r + 12..r + 16].try_into().expect("4"));
        let units = secs * 1_000_000 + usec;
        let data = &pcap[r + 16..r + 16 + incl as usize];
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(units as u32).to_le_bytes());
        epb.extend_from_slice(&incl.to_le_bytes());
        epb.extend_from_slice(&orig.to_le_bytes());
        epb.extend_from_slice(data);
        while epb.len() % 4 != 0 {
            epb.push(0);
        }
        block(&mut out, 6, &epb);
    }
    out
}

#[test]
fn an_absurd_if_tsoffset_is_ignored_and_noted() {
    let ng = pcapng_with_offset(&sample("healthy.pcap"), 1 << 62, 40);
    let path = tmp("offset.pcapng");
    std::fs::write(&path, ng).expect("write");
    let out = albscope(&["analyze", "--format", "json", s(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["stats"]["time_anomalies"], 40);
    let note = v["stats"]["inputs"][0]["time_note"].as_str().expect("note");
    assert!(note.contains("if_tsoffset 4611686018427387904 s"), "{note}");
    assert!(note.contains("(and 39 more in this file)"), "{note}");
    let first = v["stats"]["first_ts"].as_i64().expect("first_ts");
    assert!(
        first / 1_000_000_000 < 4_102_444_800,
        "not pinned to 2262: {first}"
    );
}

#[test]
fn zstd_compressed_captures_read_like_plain_ones() {
    let plain = sample("mixed.pcap");
    let fast = ruzstd::encoding::compress_to_vec(
        plain.as_slice(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    assert_eq!(&fast[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    // Two frames, as `cat a.zst b.zst` makes them.
    let (head, tail) = plain.split_at(plain.len() / 2);
    let mut two =
        ruzstd::encoding::compress_to_vec(head, ruzstd::encoding::CompressionLevel::Uncompressed);
    two.extend(ruzstd::encoding::compress_to_vec(
        tail,
        ruzstd::encoding::CompressionLevel::Fastest,
    ));
    let reference = albscope(&["flows", "--format", "json", "samples/mixed.pcap"]);
    assert_eq!(reference.status.code(), Some(0));
    for (name, bytes) in [("mixed.pcap.zst", fast), ("mixed-two.pcap.zst", two)] {
        let path = tmp(name);
        std::fs::write(&path, &bytes).expect("write");
        let out = albscope(&["flows", "--format", "json", s(&path)]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(out.stdout, reference.stdout, "{name}");
        let out = albscope(&["analyze", "--format", "json", s(&path)]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["stats"]["inputs"][0]["format"], "pcap+zstd");
        // From stdin too.
        let out = albscope_stdin(&["flows", "--format", "json", "-"], &bytes);
        assert_eq!(out.stdout, reference.stdout, "{name} on stdin");
    }
}

#[test]
fn a_fifo_nobody_writes_does_not_hold_back_the_other_inputs() {
    let fifo = tmp("nobody.fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let out = albscope(&[
        "analyze",
        "--format",
        "json",
        "samples/mixed.pcap",
        s(&fifo),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is a FIFO: read once, as a stream"), "{err}");
    assert!(err.contains("nothing wrote to it within 5 s"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["summary"]["requests"].as_u64().expect("count") > 0);
}

#[test]
fn an_interrupted_run_leaves_the_previous_output_and_no_temporary_file() {
    let dir = tmp("interrupt");
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("slow.fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let report = dir.join("report.txt");
    std::fs::write(&report, "previous\n").expect("write");
    // The FIFO keeps the run waiting (up to 5 s) while the temporary output exists.
    let child = Command::new(BIN)
        .args(["analyze", "samples/mixed.pcap", s(&fifo), "-o", s(&report)])
        .stderr(Stdio::null())
        .spawn()
        .expect("run albscope");
    let temps = || {
        std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".albscope-"))
            .count()
    };
    let start = std::time::Instant::now();
    while temps() == 0 && start.elapsed().as_secs() < 4 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(temps(), 1, "the output is written to a temporary file");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    assert_eq!(temps(), 0, "the temporary file is removed");
    assert_eq!(
        std::fs::read_to_string(&report).expect("read"),
        "previous\n"
    );
}

#[test]
fn an_output_that_is_a_fifo_or_device_is_written_in_place_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let fifo = tmp("report-out.fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read(&reader_path).expect("read fifo"));
    let out = albscope(&[
        "analyze",
        "samples/keepalive_race.pcap",
        "--format",
        "json",
        "-o",
        s(&fifo),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = reader.join().expect("reader");
    assert!(String::from_utf8_lossy(&got).contains("\"schema_version\""));
    let meta = std::fs::metadata(&fifo).expect("fifo still there");
    assert!(
        meta.file_type().is_fifo(),
        "the FIFO was replaced by a file"
    );
    // /dev/null is a device: it must stay one (renaming over it would replace it).
    let out = albscope(&["analyze", "samples/keepalive_race.pcap", "-o", "/dev/null"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let null = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(null.file_type().is_char_device(), "/dev/null was replaced");
}
