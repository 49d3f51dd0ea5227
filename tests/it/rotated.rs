//! `samples/real/rotated/`: real recordings cut the way tcpdump's rotation (`-C size`, `-G
//! seconds`) cuts one machine's capture into consecutive files, with `editcap -F pcap` (see
//! samples/real/README.md): `nta0..2.pcap` are `no_target_attempt.pcap` cut between each
//! request and the ALB's answer to it; `target0..2.pcap` and `behind0..2.pcap` are
//! `two_machines/target-host.pcap` and `target-host-behind.pcap` cut every 17 packets. Given in
//! any order, the pieces read as the whole file: a request across a boundary is not "back end
//! not in the capture", the pieces of one machine are neither separate vantages nor separate
//! clocks; a piece left out is a gap, never read as "no back-end attempt".

use crate::multi_file_samples::analyze_recording;
use crate::two_machines::{claims_no_attempt, fits};
use albscope::alb::PairingNote;
use albscope::diagnose::{Analysis, Note};
use albscope::taxonomy::Category;

const DIR: &str = "samples/real/rotated";

/// What a report says of each request: client port, category, status, notes.
fn rows(a: &Analysis) -> Vec<(u16, Category, Option<u16>, Vec<Note>)> {
    a.requests
        .iter()
        .map(|r| {
            (
                r.client.map_or(0, |c| c.port),
                r.category,
                r.status,
                r.notes.clone(),
            )
        })
        .collect()
}

/// [`rows`] with the notes' kinds only (no times).
fn loose_rows(a: &Analysis) -> Vec<(u16, Category, Option<u16>, Vec<String>)> {
    rows(a)
        .into_iter()
        .map(|(port, cat, status, notes)| {
            let kinds = notes
                .iter()
                .map(|n| {
                    let d = format!("{n:?}");
                    d.split('(').take(2).collect::<Vec<_>>().join("(")
                })
                .collect();
            (port, cat, status, kinds)
        })
        .collect()
}

fn available() -> bool {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(DIR)
        .exists()
}

#[test]
fn a_request_across_a_rotation_boundary_reads_as_in_the_whole_file() {
    if !available() {
        return;
    }
    let whole = analyze_recording("samples/real", &["no_target_attempt.pcap"]);
    for files in [
        ["nta0.pcap", "nta1.pcap", "nta2.pcap"],
        ["nta2.pcap", "nta0.pcap", "nta1.pcap"],
        ["nta1.pcap", "nta2.pcap", "nta0.pcap"],
    ] {
        let a = analyze_recording(DIR, &files);
        assert_eq!(a.requests.len(), 2, "{files:?}");
        for r in &a.requests {
            assert_eq!(r.category, Category::NoTargetAttempt, "{files:?}");
            assert!(
                r.notes
                    .contains(&Note::Pairing(PairingNote::NoBackEndAttempt)),
                "{files:?}: {:?}",
                r.notes
            );
        }
        assert_eq!(rows(&a), rows(&whole), "{files:?}");
    }
}

#[test]
fn rotated_target_files_read_as_the_whole_target_file() {
    if !available() {
        return;
    }
    let whole = analyze_recording(
        "samples/real",
        &[
            "two_machines/client-host.pcap",
            "two_machines/target-host.pcap",
        ],
    );
    let client = "../two_machines/client-host.pcap";
    for files in [
        [client, "target0.pcap", "target1.pcap", "target2.pcap"],
        ["target2.pcap", client, "target0.pcap", "target1.pcap"],
        ["target1.pcap", "target0.pcap", "target2.pcap", client],
    ] {
        let a = analyze_recording(DIR, &files);
        assert_eq!(rows(&a), rows(&whole), "{files:?}");
        assert!(
            a.clock_offsets.is_empty(),
            "{files:?}: {:?}",
            a.clock_offsets
        );
        // One recording in the report, and the target side's end is what to capture longer.
        let md = markdown(&a);
        assert_eq!(md.matches("| Coverage |").count(), 1, "{files:?}");
        assert!(
            md.contains("rotated/target0.pcap, samples/real/rotated/target1.pcap, samples/real/rotated/target2.pcap (one recording in 3 files) covers"),
            "{files:?}: {md}"
        );
        assert!(md.contains(
            "capture longer on the target side (its capture ended at 2026-12-07T18:04:19.606125Z)"
        ));
        assert!(!md.contains("capture the targets' ENIs"), "{files:?}");
    }
}

fn markdown(a: &Analysis) -> String {
    let mut out = Vec::new();
    albscope::report::write_markdown(&a.failures_only(), &mut out).expect("markdown");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn rotated_files_of_a_skewed_clock_share_its_offset() {
    if !available() {
        return;
    }
    let whole = analyze_recording(
        "samples/real",
        &[
            "two_machines/client-host.pcap",
            "two_machines/target-host-behind.pcap",
        ],
    );
    let client = "../two_machines/client-host.pcap";
    for files in [
        [client, "behind0.pcap", "behind1.pcap", "behind2.pcap"],
        ["behind2.pcap", "behind1.pcap", client, "behind0.pcap"],
    ] {
        let a = analyze_recording(DIR, &files);
        // The same verdicts (times within the estimates' few µs apart).
        assert_eq!(loose_rows(&a), loose_rows(&whole), "{files:?}");
        // Every piece 2.1 s behind the client's file once corrected (the pieces corrected, or
        // the client's file when a piece is the reference), within 5 ms.
        let applied = |f: &str| {
            a.clock_offsets
                .iter()
                .find(|c| c.file.ends_with(f) && c.applied)
                .map_or(0, |c| c.ahead.0)
        };
        for piece in ["behind0.pcap", "behind1.pcap", "behind2.pcap"] {
            let behind = applied(piece) - applied("client-host.pcap");
            assert!(
                (behind + 2_100_000_000).abs() < 5_000_000,
                "{files:?}: {piece}: {behind} ns, {:?}",
                a.clock_offsets
            );
        }
    }
}

#[test]
fn a_missing_rotated_file_is_a_gap_not_a_missing_attempt() {
    if !available() {
        return;
    }
    let client = "../two_machines/client-host.pcap";
    // target1.pcap (18:04:12.138 .. 18:04:13.910: /err/b4, /rst/b5, /down/b6 and /slow/b7's
    // request) left out, as `-W` overwriting it would.
    let a = analyze_recording(DIR, &[client, "target0.pcap", "target2.pcap"]);
    let span = |f: &str| {
        let c = a
            .input_coverage
            .iter()
            .find(|c| c.file.ends_with(f))
            .unwrap_or_else(|| panic!("no coverage of {f}"));
        (c.start.expect("start"), c.end.expect("end"))
    };
    let (gap_from, gap_to) = (span("target0.pcap").1, span("target2.pcap").0);
    let mut in_gap = 0;
    for r in &a.requests {
        assert!(
            fits(r),
            "{:?} {:?} {:?} {:?}",
            r.client,
            r.path,
            r.category,
            r.status
        );
        if r.time > gap_from && r.time < gap_to && r.target.is_none() {
            in_gap += 1;
            assert!(!claims_no_attempt(r), "{:?}: {:?}", r.client, r.notes);
        }
    }
    assert!(in_gap >= 3, "{in_gap} front-only requests in the gap");
    // The report says where the gap is.
    let md = markdown(&a);
    assert!(
        md.contains(
            "target0.pcap .. samples/real/rotated/target2.pcap: no packet from 2026-12-07T18:04:11.695943Z \
             to 2026-12-07T18:04:13.914180Z (2.218 s)"
        ),
        "{md}"
    );
}
