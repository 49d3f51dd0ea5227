//! Throughput of the capture reader on a plain single-file pcap (run on demand:
//! `cargo test --release --test capture_perf -- --ignored --nocapture`).

use albscope::capture::CaptureReader;
use std::io::{BufWriter, Write};
use std::time::Instant;

#[test]
#[ignore = "measures throughput on a ~400 MB file; run with --release --ignored"]
fn plain_pcap_throughput() {
    let path = std::env::temp_dir().join(format!("albscope-perf-{}.pcap", std::process::id()));
    let mut packets = 0u64;
    let mut payload = 0u64;
    {
        let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
            w.write_all(&v.to_le_bytes()).unwrap();
        }
        let data = vec![0x5au8; 1514];
        // A mix of sizes like real traffic: ACKs, mid-size and full frames.
        for i in 0..600_000u32 {
            let len = [66u32, 590, 1514, 1514, 1514][i as usize % 5];
            for v in [1_700_000_000 + i / 10_000, i % 10_000, len, len] {
                w.write_all(&v.to_le_bytes()).unwrap();
            }
            w.write_all(&data[..len as usize]).unwrap();
            packets += 1;
            payload += u64::from(len);
        }
    }
    let size = std::fs::metadata(&path).unwrap().len();
    // Read twice; the second pass is served from the page cache.
    for pass in 0..2 {
        let start = Instant::now();
        let mut reader = CaptureReader::open(&[&path]).unwrap();
        let (mut n, mut bytes, mut check) = (0u64, 0u64, 0u64);
        while let Some(p) = reader.next_packet() {
            n += 1;
            bytes += p.data.len() as u64;
            check = check.wrapping_add(u64::from(p.data[0]));
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(n, packets);
        assert_eq!(bytes, payload);
        assert_eq!(check, packets * 0x5a);
        assert_eq!(reader.bytes_consumed(), size);
        println!(
            "pass {pass}: {n} packets, {:.0} MB in {secs:.3} s: {:.2} GB/s, {:.1} Mpkt/s",
            size as f64 / 1e6,
            size as f64 / secs / 1e9,
            n as f64 / secs / 1e6
        );
    }
    let _ = std::fs::remove_file(&path);
}
