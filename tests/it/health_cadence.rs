//! Health checks recognised by their cadence (a connection attempt that carries no request, on
//! a steady interval from a node to a target) never take a client's failed attempt: a client
//! whose refused connects fall on a steady schedule still gets `target_connect_refused`, and
//! refused checks with no client request beside them stay health checks.

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::taxonomy::Category;
use albscope_synth::alb::{Outcome, Req, Resp, Target, World, WorldCfg, EPOCH};
use albscope_synth::frame::sa4;
use albscope_synth::http::ServerKind;
use albscope_synth::tcp::{MS, SEC};
use std::net::IpAddr;
use std::path::PathBuf;

fn analyze(w: &World, name: &str) -> Analysis {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("health-cadence-{name}.{}.pcap", std::process::id()));
    std::fs::write(&path, w.to_pcap()).expect("write capture");
    let mut r = CaptureReader::open(&[&path]).expect("open capture");
    let a = analyze_capture(
        &mut r,
        &PipelineConfig::default(),
        AlbConfig::default(),
        true,
    );
    let _ = std::fs::remove_file(&path);
    a
}

fn count(a: &Analysis, c: Category) -> usize {
    a.requests.iter().filter(|f| f.category == c).count()
}

#[test]
fn a_client_refused_on_a_steady_schedule_is_not_a_health_check() {
    let mut w = World::new(WorldCfg {
        seed: 7,
        ..Default::default()
    });
    let node = w.add_node([10, 0, 1, 25], 1001);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut t = EPOCH + 500 * MS;
    // Exactly every 2 s (a cron-like client): six refused attempts, each a 502.
    for i in 0..6u8 {
        let f = w.open(IpAddr::from([198, 51, 100, i + 1]), node, t);
        let end = w.request(f, t + 2 * MS, &Req::get("/job"), 0, Outcome::Refused);
        w.close_front(f, end + MS);
        t += 2 * SEC;
    }
    w.finish(t + SEC);
    let a = analyze(&w, "client");
    assert_eq!(a.summary.requests, 6, "{:?}", a.summary);
    assert_eq!(
        count(&a, Category::TargetConnectRefused),
        6,
        "{:?}",
        a.summary
    );
    assert_eq!(count(&a, Category::NoTargetAttempt), 0);
    assert_eq!(a.health_checks.checks, 0, "{:?}", a.health_checks);
}

#[test]
fn refused_health_checks_beside_client_traffic_stay_health_checks() {
    let mut w = World::new(WorldCfg {
        seed: 8,
        ..Default::default()
    });
    let node = w.add_node([10, 0, 1, 25], 1001);
    w.add_target(Target::new(sa4([10, 0, 2, 15], 80), ServerKind::Apache));
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let start = EPOCH + 500 * MS;
    // Target 1 refuses its checks every 5 s; clients only ever reach target 0.
    w.health_checks_refused(node, 1, start, start + 30 * SEC, 5 * SEC);
    let mut t = start + 700 * MS;
    for i in 0..5u8 {
        let f = w.open(IpAddr::from([198, 51, 100, i + 1]), node, t);
        let ok = Outcome::Respond(Resp::new(200, b"ok"));
        let end = w.request(f, t + 2 * MS, &Req::get("/"), 0, ok);
        w.close_front(f, end + MS);
        t += 3 * SEC;
    }
    w.finish(start + 31 * SEC);
    let a = analyze(&w, "checks");
    assert_eq!(a.summary.requests, 5, "{:?}", a.summary);
    assert_eq!(a.summary.failed, 0, "{:?}", a.summary);
    assert_eq!(a.health_checks.checks, 6, "{:?}", a.health_checks);
    assert_eq!(a.health_checks.failed, 6, "{:?}", a.health_checks);
}
