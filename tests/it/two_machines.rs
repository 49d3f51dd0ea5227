//! `samples/real/two_machines/` (tools/realcap/record_twomach.sh): one failure mix recorded by
//! a tcpdump on the client host (client <-> ALB, Ethernet) and one on the target host
//! (ALB <-> target, `tcpdump -i any`: Linux cooked SLL2, another snap length), the target's
//! started ~9 s later and stopped ~6 s earlier, and the target file also with its clock moved
//! +0.35 s and -2.1 s (`editcap -t`). The node has one address on both legs (nothing to link),
//! yet the pair's clock offset is estimated from its requests and applied; every request is
//! reported once, as the truth (`truth.log`: the client's results and HAProxy's log) says where
//! the files show it and undetermined with the truth among the candidates where they cannot
//! (outside the target file's span), whatever the order and the skew; each file alone is never
//! confidently wrong; the Markdown report of the -2.1 s pair matches `expected.md`
//! (`ALBSCOPE_BLESS=1` rewrites it).

use crate::multi_file_samples::bless;
use albscope::diagnose::{Analysis, Finding};
use albscope::taxonomy::Category;
use std::path::PathBuf;

const CLIENT: &str = "client-host.pcap";

/// The target host's files and how far their clocks are ahead of the client host's (ns).
const TARGETS: [(&str, i64); 3] = [
    ("target-host.pcap", 0),
    ("target-host-ahead.pcap", 350_000_000),
    ("target-host-behind.pcap", -2_100_000_000),
];

/// Per client request (truth.log): client port, path, what happened, the status it got.
const TRUTH: [(u16, &str, Category, u16); 19] = [
    (40701, "/ok/a1", Category::Ok, 200),
    (40702, "/err/a2", Category::TargetGeneratedError, 500),
    (40703, "/down/a3", Category::TargetConnectRefused, 502),
    (40704, "/rst/a4", Category::TargetClosedBeforeResponse, 502),
    (40705, "/ok/a5", Category::Ok, 200),
    (40711, "/ok/b1", Category::Ok, 200),
    (40712, "/race/b2", Category::KeepaliveRace, 502),
    (40713, "/ok/b3", Category::Ok, 200),
    (40714, "/err/b4", Category::TargetGeneratedError, 500),
    (40715, "/rst/b5", Category::TargetClosedBeforeResponse, 502),
    (40716, "/down/b6", Category::TargetConnectRefused, 502),
    (40717, "/slow/b7", Category::TargetIdleTimeout, 504),
    (40718, "/ok/b8", Category::Ok, 200),
    (40719, "/slow/b9", Category::TargetIdleTimeout, 504),
    (40721, "/err/c1", Category::TargetGeneratedError, 500),
    (40722, "/down/c2", Category::TargetConnectRefused, 502),
    (40723, "/rst/c3", Category::TargetClosedBeforeResponse, 502),
    (40724, "/ok/c4", Category::Ok, 200),
    (40725, "/ok/c5", Category::Ok, 200),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/real/two_machines")
}

/// The files analysed together in this order, as the CLI does (`--idle-timeout 5`).
fn run(files: &[&str]) -> Analysis {
    crate::multi_file_samples::analyze_recording("samples/real/two_machines", files)
}

/// True when `r` is what the truth says of its request (by client port where the front end is
/// captured, else by path), or undetermined with the truth among its candidates and no other
/// status than the truth's, or still in flight when its capture ended (no claim).
fn fits(r: &Finding) -> bool {
    if r.in_flight_at_end && r.category == Category::Undetermined && r.status.is_none() {
        return true;
    }
    TRUTH.iter().any(|(port, path, cat, status)| {
        let same = match (r.client, r.path.as_deref()) {
            (Some(c), _) => c.port == *port,
            (None, Some(p)) => p == *path,
            (None, None) => true,
        };
        let undetermined = r.category == Category::Undetermined;
        same && (r.status == Some(*status) || (undetermined && r.status.is_none()))
            && (r.category == *cat || (undetermined && r.candidates.contains(cat)))
    })
}

/// What the pair shows, in time order: the overlap of the two files exactly as the truth says;
/// before and after the target file, the ALB's own 502s undetermined (their back end is not
/// captured), the target's 500s and the ALB's 504 at the idle timeout read from the client's
/// side.
fn pair_rows() -> Vec<(u16, Category, Option<u16>)> {
    let outside = |port: u16| matches!(port, 40703 | 40704 | 40722 | 40723);
    TRUTH
        .iter()
        .map(|(port, _, cat, status)| {
            let cat = if outside(*port) {
                Category::Undetermined
            } else {
                *cat
            };
            (*port, cat, Some(*status))
        })
        .collect()
}

#[test]
fn pair_in_both_orders_and_every_skew_matches_the_truth() {
    if !dir().exists() {
        return;
    }
    for (target, ahead) in TARGETS {
        for files in [[CLIENT, target], [target, CLIENT]] {
            let a = run(&files);
            let got: Vec<(u16, Category, Option<u16>)> = a
                .requests
                .iter()
                .map(|r| (r.client.map_or(0, |c| c.port), r.category, r.status))
                .collect();
            assert_eq!(got, pair_rows(), "{files:?}");
            for r in &a.requests {
                assert!(fits(r), "{files:?}: {:?} {:?}", r.client, r.category);
            }
            // The offset, as the target file's against the client's, within 5 ms.
            let target_ahead = a.clock_offsets.iter().find_map(|c| {
                let sign = if c.file.ends_with(target) { 1 } else { -1 };
                c.applied.then_some(sign * c.ahead.0)
            });
            if ahead == 0 {
                assert_eq!(target_ahead, None, "{files:?}: no offset to apply");
            } else {
                let got = target_ahead.unwrap_or_else(|| panic!("{files:?}: no offset"));
                assert!((got - ahead).abs() < 5_000_000, "{files:?}: {got} ns");
            }
        }
    }
}

#[test]
fn each_file_alone_is_never_confidently_wrong() {
    if !dir().exists() {
        return;
    }
    for file in [CLIENT, TARGETS[0].0, TARGETS[2].0] {
        let a = run(&[file]);
        assert!(!a.requests.is_empty(), "{file}");
        for r in &a.requests {
            assert!(
                fits(r),
                "{file}: {:?} {:?} {:?} {:?}",
                r.client,
                r.path,
                r.category,
                r.status
            );
        }
    }
}

#[test]
fn report_matches_golden() {
    if !dir().exists() {
        return;
    }
    let a = run(&[CLIENT, TARGETS[2].0]);
    let mut out = Vec::new();
    albscope::report::write_markdown(&a.failures_only(), &mut out).expect("markdown");
    let md = String::from_utf8(out).expect("utf-8");
    let golden = dir().join("expected.md");
    if bless() {
        std::fs::write(&golden, &md).expect("write golden");
    } else {
        assert_eq!(
            std::fs::read_to_string(&golden).ok().as_deref(),
            Some(&md[..]),
            "{} differs (ALBSCOPE_BLESS=1 rewrites it)",
            golden.display()
        );
    }
}
