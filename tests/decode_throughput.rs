//! Rough decoder throughput (ignored by default; run with
//! `cargo test --release --test decode_throughput -- --ignored --nocapture`).

use albscope::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{DecodeConfig, Decoder, Transport};
use etherparse::PacketBuilder;
use std::time::Instant;

fn frames(vxlan: bool, size: usize) -> Vec<Vec<u8>> {
    (0..1000u32)
        .map(|i| {
            let payload = vec![b'x'; size];
            let mut inner = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(40000, 80, i * 1400, 1000)
                .ack(1)
                .write(&mut inner, &payload)
                .unwrap();
            if !vxlan {
                return inner;
            }
            let mut v = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
            v.extend_from_slice(&inner);
            let mut outer = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
                .udp(50000, 4789)
                .write(&mut outer, &v)
                .unwrap();
            outer
        })
        .collect()
}

fn run(label: &str, frames: &[Vec<u8>], verify: bool) -> f64 {
    let mut dec = Decoder::new(DecodeConfig {
        verify_checksums: verify,
        ..Default::default()
    });
    let rounds = 200;
    let bytes: usize = frames.iter().map(Vec::len).sum::<usize>() * rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        for f in frames {
            let p = PacketRef {
                pos: PacketPos::default(),
                ts: Timestamp::default(),
                link: LinkType::ETHERNET,
                orig_len: f.len() as u32,
                data: f,
            };
            if let Some(d) = dec.decode(&p) {
                if let Transport::Tcp(t) = &d.transport {
                    std::hint::black_box(&t.payload);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let gbps = bytes as f64 / secs / 1e9;
    let pps = (frames.len() * rounds) as f64 / secs / 1e6;
    println!("{label:32} {gbps:6.2} GB/s  {pps:5.2} Mpkt/s  (checksum {verify})");
    assert_eq!(dec.stats().tcp as usize, frames.len() * rounds);
    gbps
}

#[test]
#[ignore]
fn decode_throughput() {
    let plain = frames(false, 1400);
    let vx = frames(true, 1400);
    let acks = frames(true, 0);
    run("ethernet/ipv4/tcp 1454B", &plain, false);
    run("ethernet/ipv4/tcp 1454B", &plain, true);
    run("vxlan ethernet/ipv4/tcp 1504B", &vx, false);
    run("vxlan ethernet/ipv4/tcp 1504B", &vx, true);
    run("vxlan pure ACK 104B", &acks, false);
    run("vxlan pure ACK 104B", &acks, true);
}
