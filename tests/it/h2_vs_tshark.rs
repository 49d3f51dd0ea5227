//! Compares the HTTP/2 requests and response statuses albscope reads with tshark's HTTP/2
//! dissector (`-d tcp.port==P,http2` for h2c) on every HTTP/2 sample: the number of requests
//! (HEADERS with `:method`) and the multiset of final statuses (HEADERS with `:status`, 1xx
//! aside). Skipped when tshark is not installed.

use albscope::capture::{CaptureReader, Timestamp};
use albscope::pipeline::{run_app, Clock, PipelineConfig};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange};
use std::path::Path;
use std::process::Command;

/// HTTP/2 samples and the TCP ports tshark must decode as HTTP/2 (h2c has no ALPN to tell).
const SAMPLES: &[(&str, &[u16])] = &[
    ("samples/real/h2c_streams.pcap", &[80, 8080]),
    ("samples/real/h2c_streams.target.pcap", &[8080]),
    ("samples/real/grpc_status.pcap", &[80, 8080, 8081]),
    ("samples/real/grpc_status.target.pcap", &[8080]),
    ("samples/h2c_streams.pcap", &[80, 8080]),
];

#[derive(Default)]
struct Collect {
    requests: usize,
    statuses: Vec<u16>,
}

impl Collect {
    fn add(&mut self, ex: &HttpExchange) {
        if ex.h2.is_none() {
            return;
        }
        self.requests += usize::from(ex.request.is_some());
        if let Some(r) = &ex.response {
            self.statuses.push(r.status);
        }
    }
}

impl AppSink for Collect {
    fn exchange(&mut self, _: &ConnContext, ex: HttpExchange) {
        self.add(&ex);
    }
    fn closed(&mut self, record: ConnectionRecord) {
        for ex in &record.unfinished {
            self.add(ex);
        }
    }
}

impl Clock for Collect {
    fn tick(&mut self, _: Timestamp) {}
}

fn albscope_view(path: &Path) -> (usize, Vec<u16>) {
    let mut reader = CaptureReader::open(&[path]).unwrap();
    let mut c = Collect::default();
    run_app(&mut reader, &PipelineConfig::default(), &mut c);
    c.statuses.sort_unstable();
    (c.requests, c.statuses)
}

/// `None` when tshark is not installed.
fn tshark_view(path: &Path, ports: &[u16]) -> Option<(usize, Vec<u16>)> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path);
    for p in ports {
        cmd.arg("-d").arg(format!("tcp.port=={p},http2"));
    }
    cmd.args(["-Y", "http2.type==1", "-T", "fields"]);
    cmd.args(["-e", "http2.headers.method", "-e", "http2.headers.status"]);
    let out = cmd.output().ok()?;
    assert!(
        out.status.success(),
        "tshark on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut requests = 0;
    let mut statuses = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut cols = line.split('\t');
        let methods = cols.next().unwrap_or("");
        let codes = cols.next().unwrap_or("");
        requests += methods.split(',').filter(|m| !m.is_empty()).count();
        statuses.extend(
            codes
                .split(',')
                .filter_map(|s| s.trim().parse::<u16>().ok())
                .filter(|s| *s >= 200),
        );
    }
    statuses.sort_unstable();
    Some((requests, statuses))
}

#[test]
fn http2_requests_and_statuses_agree_with_tshark() {
    let mut checked = 0;
    let mut diffs = Vec::new();
    for (file, ports) in SAMPLES {
        let path = Path::new(file);
        if !path.exists() {
            diffs.push(format!("{file}: missing"));
            continue;
        }
        let ours = albscope_view(path);
        assert!(ours.0 > 0, "{file}: no HTTP/2 request read");
        let Some(theirs) = tshark_view(path, ports) else {
            eprintln!("tshark not installed: HTTP/2 cross-check skipped");
            return;
        };
        checked += 1;
        if ours != theirs {
            diffs.push(format!("{file}: albscope {ours:?}, tshark {theirs:?}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(checked > 0);
}
