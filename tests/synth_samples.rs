//! The committed samples are exactly what the builder produces (deterministic and current).
//! Run with `ALBSCOPE_BLESS=1` to rewrite them.

use std::path::PathBuf;

use albscope::synth::scenarios::all;

fn sample_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(format!("{name}.pcap"))
}

#[test]
fn committed_samples_match_builder() {
    let bless = std::env::var_os("ALBSCOPE_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for s in all() {
        let bytes = s.build();
        let path = sample_path(s.name);
        if bless {
            std::fs::write(&path, &bytes).expect("write sample");
            continue;
        }
        match std::fs::read(&path) {
            Ok(on_disk) if on_disk == bytes => {}
            _ => stale.push(s.name),
        }
    }
    assert!(
        stale.is_empty(),
        "samples differ from the builder (rerun with ALBSCOPE_BLESS=1): {stale:?}"
    );
}

#[test]
fn building_twice_is_identical() {
    for s in all() {
        assert_eq!(s.build(), s.build(), "{} is not deterministic", s.name);
    }
}

#[test]
fn every_scenario_has_ground_truth_and_sane_size() {
    let names: Vec<&str> = all().iter().map(|s| s.name).collect();
    let mut dedup = names.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "duplicate scenario names");
    for s in all() {
        let (bytes, truth) = s.build_with_truth();
        assert!(!truth.is_empty(), "{} has no ground truth", s.name);
        assert!(
            bytes.len() > 24 && bytes.len() < 1_000_000,
            "{}: {} bytes",
            s.name,
            bytes.len()
        );
        for e in &truth {
            assert!(e.client.contains(':'), "{}: client {:?}", s.name, e.client);
            assert!(matches!(e.generated_by, None | Some("lb") | Some("target")));
        }
    }
}

#[test]
fn samples_readme_lists_every_sample() {
    let readme = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/README.md"),
    )
    .expect("samples/README.md");
    for s in all() {
        assert!(
            readme.contains(&format!("{}.pcap", s.name)),
            "README misses {}",
            s.name
        );
    }
}
