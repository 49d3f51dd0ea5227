//! Access-log throughput: writes one million realistic ALB access-log lines (mostly 200, with
//! 502/504/460/503 and target 5xx mixed in) to a temporary file, then times streaming
//! parse + explain of the whole file and prints lines/s and MB/s.
//!
//! `cargo bench --bench accesslog` (optionally `-- LINES` to change the line count).

#[path = "support/rss.rs"]
mod rss;

use albscope::accesslog::{explain_with, ExplainOptions, LogReader, LogRecord};
use albscope::diagnose::logjoin::{JoinOptions, LogIndex};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::time::Instant;

/// A small deterministic generator (xorshift64*), so every run measures the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PATHS: [&str; 6] = [
    "/",
    "/api/v1/orders?id=42",
    "/static/app.js",
    "/login",
    "/delay.php",
    "/api/v1/search?q=red%20shoes",
];
const AGENTS: [&str; 4] = [
    "curl/8.11.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "python-requests/2.32.3",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \\\"quoted\\\" Mobile/15E148",
];

fn rfc3339(epoch_us: i64) -> String {
    albscope::capture::Timestamp(epoch_us * 1000).to_rfc3339()
}

fn write_line(w: &mut impl Write, rng: &mut Rng, i: u64) -> std::io::Result<()> {
    let created_us: i64 = 1_765_500_000_000_000 + (i as i64) * 300;
    let target = format!("172.31.{}.{}:80", rng.below(4), 10 + rng.below(40));
    // (rpt, tpt, rspt, elb, target status, held µs, target shown)
    let roll = rng.below(1000);
    let (rpt, tpt, rspt, elb, tgt, held_us, tshown): (&str, String, &str, u16, String, i64, bool) =
        match roll {
            0..=939 => {
                let t = rng.below(400_000) as i64;
                (
                    "0.001",
                    format!("{:.3}", t as f64 / 1e6),
                    "0.000",
                    200,
                    "200".into(),
                    t + 1500,
                    true,
                )
            }
            940..=959 => (
                "0.001",
                "0.012".into(),
                "0.000",
                502,
                "502".into(),
                14_000,
                true,
            ),
            960..=969 => ("-1", "-1".into(), "-1", 502, "-".into(), 1_200, true),
            970..=976 => ("-1", "-1".into(), "-1", 504, "-".into(), 10_000_300, true),
            977..=983 => (
                "0.001",
                "-1".into(),
                "-1",
                504,
                "-".into(),
                60_004_000,
                true,
            ),
            984..=989 => ("0.001", "-1".into(), "-1", 502, "-".into(), 3_000, true),
            990..=994 => ("0.000", "-1".into(), "-1", 460, "-".into(), 5_000_000, true),
            _ => ("-1", "-1".into(), "-1", 503, "-".into(), 200, false),
        };
    let tfield = if tshown { target.as_str() } else { "-" };
    let tlist = if tshown {
        format!("\"{target}\"")
    } else {
        "\"-\"".into()
    };
    writeln!(
        w,
        "http {} app/alb-demo/1fa8b17e4c17e7c7 13.239.{}.{}:{} {tfield} {rpt} {tpt} {rspt} {elb} {tgt} {} {} \"GET http://alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com:80{} HTTP/1.1\" \"{}\" - - arn:aws:elasticloadbalancing:ap-southeast-2:592752082067:targetgroup/alb-demo/e1419229e570d841 \"Root=1-693bf591-{:024x}\" \"-\" \"-\" 0 {} \"forward\" \"-\" \"-\" {tlist} \"{tgt}\" \"-\" \"-\" TID_{:032x} \"-\" \"-\" \"-\"",
        rfc3339(created_us + held_us),
        rng.below(256),
        rng.below(256),
        1024 + rng.below(60000),
        100 + rng.below(900),
        200 + rng.below(20000),
        PATHS[rng.below(PATHS.len() as u64) as usize],
        AGENTS[rng.below(AGENTS.len() as u64) as usize],
        rng.next() as u128 & ((1u128 << 96) - 1),
        rfc3339(created_us),
        rng.next() as u128 | ((rng.next() as u128) << 64),
    )
}

fn main() -> std::io::Result<()> {
    let lines: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let path = std::env::temp_dir().join(format!(
        "albscope-bench-accesslog-{}.log",
        std::process::id()
    ));
    let t0 = Instant::now();
    {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for i in 0..lines {
            write_line(&mut w, &mut rng, i)?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&path)?.len();
    println!(
        "generated {lines} lines, {:.1} MB in {:.2} s",
        size as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );

    let opts = ExplainOptions::default();
    let start = Instant::now();
    let mut reader = LogReader::new(&[&path]);
    let mut by_category: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut malformed = 0u64;
    for rec in reader.by_ref() {
        match rec {
            LogRecord::Entry { entry, .. } => {
                if entry.is_error() {
                    *by_category
                        .entry(explain_with(&entry, &opts).category.name())
                        .or_default() += 1;
                }
            }
            LogRecord::Malformed(m) => {
                malformed += 1;
                if malformed < 5 {
                    eprintln!("{m}");
                }
            }
            LogRecord::InputError { error, .. } => eprintln!("{error}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = reader.stats().clone();

    // The join's index (analyze --access-log) holds every entry: its memory per entry.
    rss::reset_peak();
    let before = rss::current_bytes();
    let start = Instant::now();
    let index = LogIndex::from_reader(LogReader::new(&[&path]), JoinOptions::default());
    let index_secs = start.elapsed().as_secs_f64();
    let grown = rss::peak_bytes().saturating_sub(before);
    let indexed = index.as_ref().map_or(0, LogIndex::len);
    drop(index);
    let _ = std::fs::remove_file(&path);
    println!(
        "parse+explain: {} entries ({} malformed) in {secs:.2} s = {:.0} lines/s, {:.1} MB/s",
        stats.entries,
        malformed,
        stats.lines as f64 / secs,
        size as f64 / 1e6 / secs
    );
    println!(
        "join index: {indexed} entries in {index_secs:.2} s, peak RSS +{:.1} MiB = {:.0} bytes per \
         entry (limit --max-log-entries, default {})",
        grown as f64 / 1048576.0,
        grown as f64 / indexed.max(1) as f64,
        albscope::diagnose::logjoin::DEFAULT_MAX_LOG_ENTRIES
    );
    for (cat, n) in by_category {
        println!("  {cat:<32} {n:>8}");
    }
    if malformed > 0 || stats.entries != lines {
        eprintln!("unexpected: not every generated line parsed");
        std::process::exit(1);
    }
    Ok(())
}
