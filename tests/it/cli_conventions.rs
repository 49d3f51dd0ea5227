//! The conventions every command follows (issue 14): `null` for every absent value in JSON and
//! NDJSON, `check` naming a schema change, timeline durations in their largest unit, `--all` in
//! every format, Community ID flow hashes, captures on stdin refused by `explain-log`.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn albscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(args)
        .output()
        .expect("run albscope")
}

fn tmp(name: &str) -> PathBuf {
    let dir = crate::scratch::dir("conv");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn samples(ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("samples")
        .expect("samples")
        .filter_map(|e| e.ok())
        .map(|e| e.path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(ext))
        .collect();
    v.sort();
    v
}

/// Every scalar string that stands for "nothing" (`"-"`, `""`), with its path.
fn absent_strings(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s == "-" || s.is_empty() => out.push(format!("{path} = {s:?}")),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                absent_strings(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                absent_strings(x, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

fn json_docs(out: &Output) -> Vec<Value> {
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
            .collect(),
    }
}

fn assert_no_absent_strings(args: &[&str]) {
    let out = albscope(args);
    assert!(out.status.code().unwrap_or(9) <= 1, "{args:?}: {out:?}");
    let mut found = Vec::new();
    for doc in json_docs(&out) {
        absent_strings(&doc, "", &mut found);
    }
    assert!(found.is_empty(), "{args:?}: {found:#?}");
}

#[test]
fn absent_values_are_null_in_every_json_output() {
    for pcap in samples(".pcap") {
        for format in ["json", "ndjson"] {
            assert_no_absent_strings(&["analyze", &pcap, "--all", "--format", format]);
            assert_no_absent_strings(&["flows", &pcap, "--format", format]);
        }
        let name = pcap
            .trim_start_matches("samples/")
            .trim_end_matches(".pcap");
        let log = format!("samples/access-logs/{name}.log");
        if std::path::Path::new(&log).exists() {
            assert_no_absent_strings(&[
                "analyze",
                &pcap,
                "--all",
                "--access-log",
                &log,
                "--format",
                "json",
            ]);
        }
    }
    for log in std::fs::read_dir("samples/access-logs").expect("logs") {
        let log = log.expect("entry").path().to_string_lossy().into_owned();
        for format in ["json", "ndjson"] {
            assert_no_absent_strings(&["explain-log", &log, "--all", "--format", format]);
        }
    }
    // The statuses the target never sent are null, not "-".
    let out = albscope(&[
        "analyze",
        "samples/target_connect_refused.pcap",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["schema_version"], 2);
    let r = &v["requests"][0];
    assert!(r["access_log"]["target_status_code"].is_null(), "{r}");
    assert_eq!(r["access_log"]["elb_status_code"], 502, "{r}");
}

#[test]
fn check_names_a_schema_version_change_once() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string("samples/mixed.expected.json").expect("expected"),
    )
    .expect("json");
    let mut old = expected.clone();
    old["schema_version"] = Value::from(1);
    // A version-1 file also differs in shape: it would otherwise list one line per request.
    if let Some(reqs) = old["requests"].as_array_mut() {
        for r in reqs {
            r["access_log"]["target_status_code"] = Value::from("-");
        }
    }
    let path = tmp("mixed.v1.json");
    std::fs::write(&path, serde_json::to_string_pretty(&old).expect("json")).expect("write");
    let out = albscope(&[
        "check",
        "samples/mixed.pcap",
        "--expected",
        path.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1 difference from"), "{text}");
    assert!(
        text.contains("the expected file has 1, this albscope writes 2"),
        "{text}"
    );
    assert!(text.contains("--bless"), "{text}");
    let out = albscope(&[
        "check",
        "samples/mixed.pcap",
        "--expected",
        path.to_str().expect("utf-8"),
        "--format",
        "junit",
    ]);
    let xml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(xml.matches("<testcase").count(), 1, "{xml}");
    assert!(xml.contains("schema_version"), "{xml}");
}

#[test]
fn timeline_offsets_use_the_largest_fitting_unit() {
    let text =
        String::from_utf8_lossy(&albscope(&["analyze", "samples/target_idle_timeout.pcap"]).stdout)
            .into_owned();
    assert!(text.contains("+60.000 s"), "{text}");
    assert!(text.contains("+0 µs"), "{text}");
    assert!(!text.contains("60000."), "{text}");
    let md = String::from_utf8_lossy(
        &albscope(&[
            "analyze",
            "samples/target_connect_timeout.pcap",
            "--format",
            "markdown",
        ])
        .stdout,
    )
    .into_owned();
    assert!(md.contains("+1.000 s"), "{md}");
    assert!(md.contains("+150 µs"), "{md}");
    let html = String::from_utf8_lossy(
        &albscope(&[
            "analyze",
            "samples/target_idle_timeout.pcap",
            "--format",
            "html",
        ])
        .stdout,
    )
    .into_owned();
    assert!(html.contains("+60.000 s"), "html timeline");
    assert!(!html.contains("60000.000 ms"), "html timeline");
    // JSON keeps the number of milliseconds.
    let v: serde_json::Value = serde_json::from_slice(
        &albscope(&[
            "analyze",
            "samples/target_idle_timeout.pcap",
            "--format",
            "json",
        ])
        .stdout,
    )
    .expect("json");
    assert!(v["requests"][0]["timeline"][1]["rel_ms"].is_number());
}

#[test]
fn all_lists_ok_requests_in_every_format() {
    let run = |format: &str, all: bool| {
        let mut args = vec!["analyze", "samples/mixed.pcap", "--format", format];
        if all {
            args.push("--all");
        }
        let out = albscope(&args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let v: Value = serde_json::from_str(&run("json", true)).expect("json");
    let ok_ids: Vec<String> = v["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| r["category"] == "ok")
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    let ok = v["summary"]["ok"].as_u64().expect("ok count");
    assert!(ok > 0 && ok_ids.len() as u64 == ok, "{ok} {ok_ids:?}");
    let md = run("markdown", true);
    assert!(md.contains(&format!("## Ok requests ({ok})")), "{md}");
    let html = run("html", true);
    assert!(
        html.contains(&format!("<h2>Ok requests ({ok})</h2>")),
        "html"
    );
    let text = run("text", true);
    for id in &ok_ids {
        assert!(md.contains(&format!("| {id} |")), "markdown lacks {id}");
        assert!(html.contains(&format!("<td>{id}</td>")), "html lacks {id}");
        assert!(text.contains(id.as_str()), "text lacks {id}");
    }
    // After the failed requests, and only with --all.
    assert!(md.find("## Failed requests") < md.find("## Ok requests"));
    assert!(html.find("<h2>Failed requests") < html.find("<h2>Ok requests"));
    assert!(!run("markdown", false).contains("Ok requests"));
    assert!(!run("html", false).contains("Ok requests"));
    // A capture with no failure still lists its ok requests.
    let out = albscope(&[
        "analyze",
        "samples/healthy.pcap",
        "--all",
        "--format",
        "markdown",
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("No failed requests.") && md.contains("## Ok requests ("),
        "{md}"
    );
}

/// The distinct Community IDs tshark computes for the TCP packets of `pcap` (None when tshark
/// or its `communityid` post-dissector is not available).
fn tshark_community_ids(pcap: &str) -> Option<std::collections::BTreeSet<String>> {
    let out = Command::new("tshark")
        .args(["-r", pcap, "--enable-protocol", "communityid"])
        .args([
            "-Y",
            "tcp && !icmp && !icmpv6",
            "-T",
            "fields",
            "-e",
            "communityid",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn community_ids_match_tshark_and_name_each_leg() {
    let mut compared = 0;
    for pcap in samples(".pcap") {
        let flows: Vec<Value> =
            serde_json::from_slice(&albscope(&["flows", &pcap, "--format", "json"]).stdout)
                .expect("flows json");
        let ours: std::collections::BTreeSet<String> = flows
            .iter()
            .map(|c| {
                c["community_id"]
                    .as_str()
                    .expect("community_id")
                    .to_string()
            })
            .collect();
        assert!(
            ours.iter().all(|c| c.starts_with("1:") && c.len() == 30),
            "{ours:?}"
        );
        if let Some(theirs) = tshark_community_ids(&pcap) {
            assert_eq!(ours, theirs, "{pcap}");
            compared += 1;
        }
        // Each request names its captured legs' connections, and only those.
        let v: Value = serde_json::from_slice(
            &albscope(&["analyze", &pcap, "--all", "--format", "json"]).stdout,
        )
        .expect("json");
        for r in v["requests"].as_array().expect("requests") {
            let front = &r["community_id"];
            let back = &r["back_community_id"];
            assert_eq!(front.is_null(), r["client"].is_null(), "{pcap} {r}");
            assert_eq!(back.is_null(), r["target"].is_null(), "{pcap} {r}");
            for c in [front, back].into_iter().filter_map(Value::as_str) {
                assert!(ours.contains(c), "{pcap}: {c} is no connection of flows");
            }
        }
    }
    if compared == 0 {
        eprintln!("skipped the tshark comparison: tshark without communityid");
    }
}

#[test]
fn a_capture_on_stdin_is_refused_by_explain_log_like_a_file() {
    let pcap = std::fs::read("samples/mixed.pcap").expect("sample");
    let mut child = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .arg("explain-log")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run albscope");
    let mut stdin = child.stdin.take().expect("stdin");
    // The reader may stop early: a broken pipe here is fine.
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &pcap);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("stdin: not an ALB access log"), "{err}");
    assert!(err.contains("looks like a pcap capture"), "{err}");
    assert!(!err.contains("skipped"), "no line-by-line messages: {err}");
    // A log on stdin is still read.
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .arg("explain-log")
        .stdin(std::fs::File::open("samples/access-logs/mixed.log").expect("log"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Summary:"));
}

#[test]
fn the_stdin_spool_is_removed_on_interrupt() {
    let dir = tmp("spool");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // With an access log the capture is read twice, so stdin is spooled to a temporary file;
    // stdin kept open keeps the run copying while the spool exists.
    let mut child = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args([
            "analyze",
            "-",
            "--access-log",
            "samples/access-logs/mixed.log",
        ])
        .env("TMPDIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run albscope");
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, &[0u8; 4096]).expect("write");
    let spools = || {
        std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("albscope-input-")
            })
            .count()
    };
    let start = std::time::Instant::now();
    while spools() == 0 && start.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(spools(), 1, "stdin is spooled to a temporary file");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    drop(stdin);
    assert!(!status.success());
    assert_eq!(spools(), 0, "the spool is removed");
}
