//! Every both-legs sample cut into a back-end-only and a front-end-only copy
//! (`albscope_testkit::vantage`), each analysed and scored against the both-legs analysis
//! (`albscope_testkit::vantage_score`). `cargo test -p albscope-cli --test it vantage_cuts --
//! --nocapture` prints the table.

use albscope_testkit::vantage_score::{format_table, score_sample, total, Row};
use std::path::Path;
use std::sync::OnceLock;

/// Every both-legs capture in `samples/` (default timers) and `samples/real/` (idle timeout 5 s,
/// as their README says; the `.target.pcap` files are back-end captures already).
fn scoreboard() -> &'static Vec<Row> {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows = Vec::new();
        for (dir, idle) in [("samples", None), ("samples/real", Some(5_000))] {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .expect("samples directory")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .filter(|p| !p.to_string_lossy().ends_with(".target.pcap"))
                .collect();
            files.sort();
            for path in files {
                let bytes = std::fs::read(&path).expect("read sample");
                let name = path.to_string_lossy().to_string();
                match score_sample(&name, &bytes, idle) {
                    Ok(Some(r)) => rows.extend(r),
                    Ok(None) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        rows
    })
}

#[test]
fn prints_the_scoreboard() {
    let rows = scoreboard();
    println!("{}", format_table(rows));
    assert!(Path::new("samples/mixed.pcap").exists());
}
