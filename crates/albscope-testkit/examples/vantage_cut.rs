//! Cuts one both-legs capture into its back-end-only and front-end-only copies, writes them next
//! to each other and prints the scoreboard of the three.
//!
//! `cargo run -p albscope-testkit --example vantage_cut -- CAPTURE OUT_DIR [IDLE_TIMEOUT_S]`
//! writes `OUT_DIR/<name>.back.pcap` and `OUT_DIR/<name>.front.pcap` (same format as CAPTURE,
//! pcapng stays pcapng despite the extension).

use albscope_testkit::vantage::{cut_capture, AlbEndpoints};
use albscope_testkit::vantage_score::{analyze_json, format_table, score_sample};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(out_dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: vantage_cut CAPTURE OUT_DIR [IDLE_TIMEOUT_S]");
        return ExitCode::from(2);
    };
    let idle_ms = match args.get(2).map(|s| s.parse::<f64>()) {
        None => None,
        Some(Ok(s)) => Some((s * 1000.0).round() as i64),
        Some(Err(e)) => {
            eprintln!("idle timeout: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::from(1);
        }
    };
    let original = analyze_json(input, &bytes, idle_ms);
    let alb = AlbEndpoints::from_analysis_json(&original);
    let cut = match cut_capture(&bytes, &alb) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::from(1);
        }
    };
    let stem = PathBuf::from(input)
        .file_stem()
        .map_or("capture".to_string(), |s| s.to_string_lossy().to_string());
    for (leg, data) in [("back", &cut.back_end), ("front", &cut.front_end)] {
        let path = PathBuf::from(out_dir).join(format!("{stem}.{leg}.pcap"));
        if let Err(e) = std::fs::write(&path, data) {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("wrote {}", path.display());
    }
    println!("{alb:?}\n{:?}", cut.stats);
    match score_sample(input, &bytes, idle_ms) {
        Ok(Some(rows)) => println!("{}", format_table(&rows)),
        Ok(None) => println!("(not a both-legs capture: no score)"),
        Err(e) => eprintln!("{e}"),
    }
    ExitCode::SUCCESS
}
