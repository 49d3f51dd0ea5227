//! Damaged captures: every classic-pcap sample (synthetic and real) cut at many offsets (around every sampled record boundary and at
//! random places) and with random bytes flipped (fixed seed). Every run must finish without a
//! panic; a cut run must still report every connection that ended before the cut, exactly as
//! the full run does (and, in the analysis, every request whose connections all ended before
//! it); and the damage must be reported with file, packet number and byte offset.

use albscope::alb::AlbConfig;
use albscope::capture::{CaptureError, CaptureReader, Timestamp};
use albscope::diagnose::{analyze_capture, Analysis, Finding};
use albscope::flow::{CloseReason, ConnId, ConnSummary, FlowEvent, FlowSink};
use albscope::pipeline::{run_app, run_flows, Clock, PipelineConfig, RunStats};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange};
use albscope_synth::rng::SplitMix64;
use std::path::PathBuf;

/// Samples cut and flipped most thoroughly; every other classic-pcap sample (synthetic and
/// real, see [`samples`]) gets fewer cuts and flips.
const THOROUGH: &[&str] = &[
    "healthy",
    "mixed",
    "target_connect_refused",
    "keepalive_race",
    "mirror-truncated",
    "tls-frontend",
    "incomplete_body",
];

/// Every little-endian classic pcap under samples/ and samples/real/, as (name relative to
/// samples/ without `.pcap`, thorough), the [`THOROUGH`] ones first.
fn samples() -> Vec<(String, bool)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut names: Vec<String> = Vec::new();
    for dir in ["", "real"] {
        let entries = std::fs::read_dir(root.join(dir)).expect("samples folder");
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".pcap") else {
                continue;
            };
            let name = if dir.is_empty() {
                stem.to_string()
            } else {
                format!("{dir}/{stem}")
            };
            let head = sample(&name);
            if matches!(
                head.get(..4),
                Some([0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1])
            ) && !THOROUGH.contains(&name.as_str())
            {
                names.push(name);
            }
        }
    }
    names.sort();
    let mut out: Vec<(String, bool)> = THOROUGH.iter().map(|n| (n.to_string(), true)).collect();
    out.extend(names.into_iter().map(|n| (n, false)));
    assert!(out.len() > 40, "samples missing: {}", out.len());
    out
}

fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(format!("{name}.pcap"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One record of a (classic pcap) file: its packet number, start and end byte offsets, time.
#[derive(Clone, Copy, Debug)]
struct Record {
    number: u64,
    start: u64,
    end: u64,
    ts: Timestamp,
}

/// The record layout of a pcap file, read with the capture layer itself (the 16-byte pcap record
/// header precedes each frame).
fn records(name: &str, data: &[u8]) -> Vec<Record> {
    assert!(
        matches!(
            data.get(..4),
            Some([0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1])
        ),
        "{name}: the damage test expects little-endian classic pcap samples"
    );
    let mut reader = open(name, data).expect("sample opens");
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        out.push(Record {
            number: p.pos.number,
            start: p.pos.offset,
            end: p.pos.offset + 16 + p.data.len() as u64,
            ts: p.ts,
        });
    }
    assert!(reader.problems().is_empty(), "{name}: sample is damaged");
    assert_eq!(
        out.last().map(|r| r.end),
        Some(data.len() as u64),
        "{name}: records do not tile the file"
    );
    out
}

fn open(name: &str, data: &[u8]) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader(name, Box::new(std::io::Cursor::new(data.to_vec())))
}

#[derive(Default)]
struct Closed(Vec<ConnSummary>);

impl FlowSink for Closed {
    fn on_flow_event(&mut self, _: ConnId, event: FlowEvent<'_>) {
        if let FlowEvent::Close(s) = event {
            self.0.push(*s);
        }
    }
}

fn flows(name: &str, data: &[u8]) -> Result<(Vec<ConnSummary>, RunStats), CaptureError> {
    let mut reader = open(name, data)?;
    let mut sink = Closed::default();
    let stats = run_flows(&mut reader, &PipelineConfig::default(), &mut sink);
    Ok((sink.0, stats))
}

/// Runs the whole pipeline (capture -> protocol) and counts what it reports.
#[derive(Default)]
struct AppCount {
    exchanges: u64,
    connections: u64,
}

impl AppSink for AppCount {
    fn exchange(&mut self, _: &ConnContext, _: HttpExchange) {
        self.exchanges += 1;
    }
    fn closed(&mut self, _: ConnectionRecord) {
        self.connections += 1;
    }
}

impl Clock for AppCount {
    fn tick(&mut self, _: Timestamp) {}
}

fn app(name: &str, data: &[u8]) -> Option<(AppCount, RunStats)> {
    let mut reader = open(name, data).ok()?;
    let mut sink = AppCount::default();
    let stats = run_app(&mut reader, &PipelineConfig::default(), &mut sink);
    Some((sink, stats))
}

fn analysis(name: &str, data: &[u8]) -> Option<Analysis> {
    let mut reader = open(name, data).ok()?;
    Some(analyze_capture(
        &mut reader,
        &PipelineConfig::default(),
        AlbConfig::default(),
        true,
    ))
}

/// Whether every connection a finding names (its id's connection, and every connection sharing
/// its client or target endpoint) ended before `lost_from`.
fn ended_before(f: &Finding, conns: &[ConnSummary], lost_from: Option<Timestamp>) -> bool {
    let Some(lost) = lost_from else {
        return true;
    };
    let own = Some(f.id.conn);
    let endpoints: Vec<albscope::flow::Endpoint> =
        [f.client, f.target].iter().filter_map(|e| *e).collect();
    conns
        .iter()
        .filter(|c| {
            Some(c.id.0) == own
                || endpoints.contains(&c.key.client)
                || endpoints.contains(&c.key.server)
        })
        .all(|c| last_seen(c) < lost)
}

/// When the connection's last packet was seen: its end, or a later ICMP error quoting it
/// (which is not a TCP packet, so does not move `end`).
fn last_seen(c: &ConnSummary) -> Timestamp {
    c.events.iter().map(|e| e.ts).fold(c.end, Timestamp::max)
}

/// The parts of a summary that must not change when later packets are missing.
fn essence(s: &ConnSummary) -> String {
    format!(
        "{:?} {:?} {:?} {} {:?} {} {} {:?}",
        s.key, s.start, s.end, s.saw_syn, s.dirs, s.state, s.history, s.events
    )
}

/// Cut offsets for a file: around `records` sampled record boundaries (just before, at, just
/// after, in the middle of the record header and of the data) and at `random` seeded places.
fn cut_points(recs: &[Record], len: u64, seed: u64, records: usize, random: usize) -> Vec<u64> {
    let mut cuts = vec![0, 1, 3, 4, 10, 23, 24, 25];
    let step = (recs.len() / records).max(1);
    for r in recs.iter().step_by(step) {
        for c in [
            r.start - 1,
            r.start,
            r.start + 1,
            r.start + 8,
            r.start + 15,
            r.start + 16,
        ] {
            cuts.push(c);
        }
        cuts.push((r.start + 16 + r.end) / 2);
        cuts.push(r.end - 1);
    }
    let mut rng = SplitMix64::new(seed);
    for _ in 0..random {
        cuts.push(rng.range(0, len - 1));
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|c| *c < len);
    cuts
}

#[test]
fn cut_captures_keep_everything_before_the_cut_and_say_where() {
    let mut checked_requests = 0usize;
    for (si, (name, thorough)) in samples().iter().enumerate() {
        let (name, thorough) = (name.as_str(), *thorough);
        let data = sample(name);
        let recs = records(name, &data);
        let (full, _) = flows(name, &data).expect("full sample");
        assert!(!full.is_empty(), "{name}: no connections");
        let mut checked_conns = 0usize;
        let full_analysis = analysis(name, &data).expect("full sample");
        assert!(
            !full_analysis.requests.is_empty() || !thorough,
            "{name}: no requests"
        );
        let (records, random) = if thorough { (16, 20) } else { (5, 6) };
        for (ci, cut) in cut_points(&recs, data.len() as u64, si as u64, records, random)
            .into_iter()
            .enumerate()
        {
            let cut_data = &data[..cut as usize];
            // Packets wholly inside the cut file.
            let kept = recs.iter().take_while(|r| r.end <= cut).count();
            if cut < 24 {
                // Not even a file header: the reader refuses the input, naming it.
                let err = open(name, cut_data).err().expect("a cut header is refused");
                assert!(err.to_string().contains(name), "{err}");
                continue;
            }
            let (got, stats) = flows(name, cut_data).expect("a cut capture still opens");
            assert_eq!(stats.packets, kept as u64, "{name} cut at {cut}");
            let at_boundary = recs.iter().any(|r| r.end == cut) || cut == 24;
            if at_boundary {
                assert!(
                    stats.problems.is_empty(),
                    "{name} cut at {cut}: {:?}",
                    stats.problems
                );
            } else {
                let next = recs[kept];
                assert_eq!(stats.problems.len(), 1, "{name} cut at {cut}");
                let msg = &stats.problems[0];
                let want = format!("packet {} at byte offset {}", next.number, next.start);
                assert!(
                    msg.contains(name) && msg.contains(&want),
                    "{msg} (want {want})"
                );
                let damage = stats.inputs[0].damage.as_deref().unwrap_or("");
                assert!(damage.contains(&want), "input summary: {damage}");
            }
            // Every connection whose last packet precedes the first packet lost is reported
            // unchanged (only how it was closed out may differ: expired vs end of capture).
            let lost_from = recs.get(kept).map(|r| r.ts);
            for conn in &full {
                if lost_from.is_some_and(|t| last_seen(conn) >= t) {
                    continue;
                }
                let same = got
                    .iter()
                    .find(|g| g.key == conn.key && g.start == conn.start);
                let same = same.unwrap_or_else(|| {
                    panic!("{name} cut at {cut}: connection {:?} lost", conn.key)
                });
                assert_eq!(essence(same), essence(conn), "{name} cut at {cut}");
                let reasons_ok = same.close_reason == conn.close_reason
                    || (conn.close_reason == CloseReason::Expired
                        && same.close_reason == CloseReason::EndOfCapture);
                assert!(reasons_ok, "{name} cut at {cut}: {:?}", same.close_reason);
                checked_conns += 1;
            }
            // The whole analysis runs to the end on the same cut (every third cut: time), and
            // every request whose connections all ended before the first lost packet is still
            // reported.
            if ci % 3 == 0 {
                let (counts, app_stats) = app(name, cut_data).expect("opens");
                assert_eq!(counts.connections, app_stats.flow.connections);
                assert_eq!(app_stats.problems, stats.problems);
                let cut_analysis = analysis(name, cut_data).expect("opens");
                assert_eq!(cut_analysis.stats.problems, stats.problems);
                for f in &full_analysis.requests {
                    if !ended_before(f, &full, lost_from) {
                        continue;
                    }
                    let same = cut_analysis.requests.iter().find(|g| g.id == f.id);
                    let same = same.unwrap_or_else(|| {
                        panic!(
                            "{name} cut at {cut}: request {} ({:?}) lost",
                            f.id, f.request
                        )
                    });
                    assert_eq!((&same.time, &same.request), (&f.time, &f.request));
                    checked_requests += 1;
                }
            }
        }
        assert!(
            checked_conns > full.len() || !thorough,
            "{name}: too few connections compared"
        );
    }
    // Samples whose back-end connection lives to the end have no request to compare.
    assert!(
        checked_requests > 20,
        "too few requests compared: {checked_requests}"
    );
}

#[test]
fn flipped_bytes_never_panic_and_damage_is_located() {
    for (si, (name, thorough)) in samples().iter().enumerate() {
        let name = name.as_str();
        let data = sample(name);
        let recs = records(name, &data);
        let mut rng = SplitMix64::new(1000 + si as u64);
        let mut located = 0;
        let rounds = if *thorough { 40 } else { 12 };
        for round in 0..rounds {
            let mut bad = data.clone();
            let flips = 1 + rng.range(0, 7) as usize;
            let mut first = u64::MAX;
            for _ in 0..flips {
                // Half of the rounds aim at record headers, where damage is detectable.
                let at = if round % 2 == 0 {
                    let r = recs[rng.range(0, recs.len() as u64 - 1) as usize];
                    r.start + rng.range(0, 15)
                } else {
                    rng.range(0, data.len() as u64 - 1)
                };
                bad[at as usize] ^= 1u8 << rng.range(0, 7);
                first = first.min(at);
            }
            let Some((counts, stats)) = app(name, &bad) else {
                // Only a damaged file header can make the input unreadable.
                assert!(first < 24, "{name} round {round}: refused");
                continue;
            };
            assert_eq!(counts.connections, stats.flow.connections);
            assert!(stats.problems.len() <= 1);
            // The full analysis finishes too, and reports the same damage.
            let a = analysis(name, &bad).expect("opened once already");
            assert_eq!(a.stats.problems, stats.problems);
            if let Some(msg) = stats.problems.first() {
                // Damage is reported at or after the record holding the first flipped byte.
                let flipped_rec = recs.iter().find(|r| r.end > first).map_or(0, |r| r.number);
                let (packet, offset) = parse_location(msg)
                    .unwrap_or_else(|| panic!("{name}: damage without location: {msg}"));
                assert!(msg.contains(name), "{msg}");
                assert!(packet >= flipped_rec || first < 24, "{msg}");
                assert!(offset >= first.min(24) || first < 24, "{msg}");
                assert!(stats.packets >= flipped_rec.saturating_sub(1) || first < 24);
                located += 1;
            }
        }
        assert!(
            located > 0 || !thorough,
            "{name}: no flip was ever detected as damage"
        );
    }
}

/// `(packet, offset)` from "... packet N at byte offset M: ...".
fn parse_location(msg: &str) -> Option<(u64, u64)> {
    let rest = &msg[msg.find("packet ")? + 7..];
    let (packet, rest) = rest.split_once(" at byte offset ")?;
    let offset: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((packet.parse().ok()?, offset.parse().ok()?))
}

/// Issue 12: a request still waiting for its answer when the capture (or a damaged file) ends
/// is in flight, not failed: cut `target_idle_timeout` after the request reached the target
/// (packet 22, before the ALB's 504), and at a byte inside the next record.
#[test]
fn requests_open_at_the_end_are_in_flight_not_failed() {
    let name = "target_idle_timeout";
    let data = sample(name);
    let recs = records(name, &data);
    let after_request = recs.iter().find(|r| r.number == 22).expect("packet 22");
    for cut in [after_request.end, after_request.end + 20] {
        let a = analysis(name, &data[..cut as usize]).expect("cut opens");
        assert_eq!(a.summary.in_flight_at_end, 1, "cut at {cut}");
        assert_eq!(a.summary.failed, 0, "cut at {cut}: {:?}", a.summary);
        let f = a
            .requests
            .iter()
            .find(|f| f.in_flight_at_end)
            .expect("the in-flight request is listed");
        assert_eq!(f.path.as_deref(), Some("/delay.php"));
        assert!(!f.is_failure());
    }
    // The whole capture: the same request is a failure (the 504 is in it).
    let a = analysis(name, &data).expect("sample opens");
    assert_eq!(a.summary.in_flight_at_end, 0);
    assert_eq!(a.summary.failed, 1);
}
