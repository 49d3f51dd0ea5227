//! The ALB layer holds only a time window of unpaired legs: on a capture much longer than the
//! window, what it holds stays well below the number of requests (memory grows with
//! concurrency, not with capture length), and every request is still reported once.

use albscope::alb::{AlbConfig, AlbTracker};
use albscope::capture::{CaptureReader, Duration, Timestamp};
use albscope::diagnose::Analyzer;
use albscope::pipeline::{run_app, Clock, PipelineConfig};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange};

struct Probe {
    inner: AlbTracker<Analyzer>,
    max_pending: usize,
    ticks: u32,
}

impl Probe {
    fn note(&mut self) {
        self.max_pending = self.max_pending.max(self.inner.pending_len());
    }
}

impl AppSink for Probe {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.inner.exchange(conn, exchange);
        self.note();
    }
    fn closed(&mut self, record: ConnectionRecord) {
        self.inner.closed(record);
        self.note();
    }
}

impl Clock for Probe {
    fn tick(&mut self, now: Timestamp) {
        self.inner.tick(now);
        self.ticks += 1;
        self.note();
    }
}

#[test]
fn pending_legs_stay_within_the_window() {
    let path = crate::scratch::dir("stream").join("stream.pcap");
    let file = std::fs::File::create(&path).expect("create");
    // One keep-alive client at a time: about three minutes of traffic.
    albscope_synth::bulk::write_http_load(file, 30_000_000, 1, 7).expect("write load");
    let config = AlbConfig {
        // A short window (1 + 1 + 30 s) so that the capture spans several of them.
        idle_timeout: Some(Duration::from_millis(1_000)),
        connect_timeout: Duration::from_millis(1_000),
        ..AlbConfig::default()
    };
    let mut reader = CaptureReader::open(&[&path]).expect("open");
    let files = reader.file_names();
    let mut probe = Probe {
        inner: AlbTracker::new(
            config,
            Analyzer::new(files, albscope::diagnose::Keep::new(false)),
        ),
        max_pending: 0,
        ticks: 0,
    };
    let stats = run_app(&mut reader, &PipelineConfig::default(), &mut probe);
    let (analyzer, known) = probe.inner.finish();
    let analysis = analyzer.finish(&known, stats);
    let _ = std::fs::remove_file(&path);

    let requests = analysis.summary.requests as usize;
    let span = analysis.capture.duration.as_secs_f64();
    assert!(span > 150.0, "capture spans {span} s");
    assert!(probe.ticks > 3, "{} clock ticks", probe.ticks);
    assert!(requests > 300, "{requests} requests");
    assert_eq!(analysis.summary.failed, 0, "{:?}", analysis.summary);
    // Two legs per request. The window is 32 s and the pipeline ticks every 4096 packets
    // (about every 20-30 s here), so at most about a third of a three-minute capture is held.
    let legs = 2 * requests;
    eprintln!(
        "held at most {} of {legs} legs over {span} s",
        probe.max_pending
    );
    assert!(
        probe.max_pending * 10 < legs * 6,
        "held {} of {legs} legs",
        probe.max_pending
    );
}
