//! Compares `albscope flows --format json` with `tshark -z conv,tcp` on a VXLAN capture built
//! here (handshakes, data, a duplicate frame, a refused connect, SYN retransmissions, port reuse,
//! a mid-stream connection) and on every `samples/*.pcap` present. Checks the connection count
//! and, per connection, the frames and frame bytes each way. Skipped when tshark is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tshark_present() -> bool {
    Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// A tiny pcap writer: Ethernet / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv4 / TCP.

struct Pcap {
    bytes: Vec<u8>,
    ip_id: u16,
}

fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for pair in data.chunks(2) {
        let word = (pair[0] as u32) << 8 | pair.get(1).copied().unwrap_or(0) as u32;
        sum += word;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend(total.to_be_bytes());
    h.extend(id.to_be_bytes());
    h.extend([0x40, 0, 64, proto, 0, 0]);
    h.extend(src);
    h.extend(dst);
    let c = checksum(&h, 0);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend(payload);
    h
}

fn ethernet(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend(payload);
    f
}

#[derive(Clone, Copy)]
struct Tuple {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
}

impl Pcap {
    fn new() -> Self {
        let mut bytes = Vec::new();
        bytes.extend(0xa1b2c3d4u32.to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(4u16.to_le_bytes());
        bytes.extend([0; 8]);
        bytes.extend(65535u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        Pcap { bytes, ip_id: 1 }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        t: Tuple,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        data: &[u8],
        usec: u64,
        repeat: usize,
    ) {
        let ((sip, sport), (dip, dport)) = if from_client {
            (t.client, t.server)
        } else {
            (t.server, t.client)
        };
        let mut tcp = Vec::new();
        tcp.extend(sport.to_be_bytes());
        tcp.extend(dport.to_be_bytes());
        tcp.extend(seq.to_be_bytes());
        tcp.extend(ack.to_be_bytes());
        tcp.extend([0x50, flags]);
        tcp.extend(64240u16.to_be_bytes());
        tcp.extend([0, 0, 0, 0]);
        tcp.extend(data);
        let mut pseudo = Vec::new();
        pseudo.extend(sip);
        pseudo.extend(dip);
        pseudo.extend([0, 6]);
        pseudo.extend((tcp.len() as u16).to_be_bytes());
        pseudo.extend(&tcp);
        let c = checksum(&pseudo, 0);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        self.ip_id = self.ip_id.wrapping_add(1);
        let inner = ethernet(&ipv4(sip, dip, 6, self.ip_id, &tcp));
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
        vx.extend(&inner);
        let mut udp = Vec::new();
        udp.extend((49152 + (sport ^ dport) % 1000).to_be_bytes());
        udp.extend(4789u16.to_be_bytes());
        udp.extend(((8 + vx.len()) as u16).to_be_bytes());
        udp.extend([0, 0]);
        udp.extend(&vx);
        let frame = ethernet(&ipv4([10, 9, 0, 5], [10, 9, 0, 9], 17, 7, &udp));
        for _ in 0..repeat {
            let ts = 1_765_000_000_000_000u64 + usec;
            self.bytes.extend(((ts / 1_000_000) as u32).to_le_bytes());
            self.bytes.extend(((ts % 1_000_000) as u32).to_le_bytes());
            self.bytes.extend((frame.len() as u32).to_le_bytes());
            self.bytes.extend((frame.len() as u32).to_le_bytes());
            self.bytes.extend(&frame);
        }
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;

fn build_capture(path: &Path) {
    let mut p = Pcap::new();
    let alb = [10, 0, 1, 10];
    let target = [10, 0, 2, 20];
    let a = Tuple {
        client: (alb, 41000),
        server: (target, 8080),
    };
    // A full exchange, with one frame mirrored twice.
    p.tcp(a, true, SYN, 100, 0, b"", 0, 1);
    p.tcp(a, false, SYN | ACK, 900, 101, b"", 100, 1);
    p.tcp(a, true, ACK, 101, 901, b"", 200, 1);
    p.tcp(
        a,
        true,
        PSH | ACK,
        101,
        901,
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        300,
        2,
    );
    p.tcp(
        a,
        false,
        PSH | ACK,
        901,
        128,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        900,
        1,
    );
    p.tcp(a, true, FIN | ACK, 128, 939, b"", 1000, 1);
    p.tcp(a, false, FIN | ACK, 939, 129, b"", 1100, 1);
    p.tcp(a, true, ACK, 129, 940, b"", 1200, 1);
    // A refused connect.
    let b = Tuple {
        client: (alb, 41001),
        server: (target, 8081),
    };
    p.tcp(b, true, SYN, 5000, 0, b"", 2000, 1);
    p.tcp(b, false, RST | ACK, 0, 5001, b"", 2100, 1);
    // An unanswered SYN, retransmitted.
    let c = Tuple {
        client: (alb, 41002),
        server: ([10, 0, 2, 21], 8080),
    };
    for (i, t) in [3000u64, 1_003_000, 3_003_000].iter().enumerate() {
        let _ = i;
        p.tcp(c, true, SYN, 7000, 0, b"", *t, 1);
    }
    // Port reuse: the 4-tuple of `a` again, new ISN, after the first closed.
    p.tcp(a, true, SYN, 55_555, 0, b"", 4_000_000, 1);
    p.tcp(a, false, SYN | ACK, 66_666, 55_556, b"", 4_000_100, 1);
    p.tcp(a, true, ACK, 55_556, 66_667, b"", 4_000_200, 1);
    p.tcp(a, true, RST | ACK, 55_556, 66_667, b"", 4_000_300, 1);
    // Mid-stream traffic (no SYN captured).
    let d = Tuple {
        client: ([10, 0, 3, 30], 52000),
        server: (alb, 443),
    };
    p.tcp(
        d,
        true,
        PSH | ACK,
        1,
        1,
        b"\x17\x03\x03\x00\x05hello",
        5_000_000,
        1,
    );
    p.tcp(d, false, ACK, 1, 11, b"", 5_000_100, 1);
    std::fs::write(path, &p.bytes).expect("write capture");
}

// ---------------------------------------------------------------------------------------------

/// Per connection (endpoints as "ip:port" sorted pair, occurrence index): frames and bytes from
/// the lower endpoint to the higher and back.
type Table = BTreeMap<(String, String, usize), [(u64, u64); 2]>;

/// Like [`Table`], with the unit tshark printed each byte count in (1 = exact bytes, 1000 = kB).
type TsharkTable = BTreeMap<(String, String, usize), [(u64, u64, u64); 2]>;

fn key_of(a: &str, b: &str) -> (String, String, bool) {
    if a <= b {
        (a.to_string(), b.to_string(), false)
    } else {
        (b.to_string(), a.to_string(), true)
    }
}

/// Parses a byte count as tshark prints it ("918 bytes", "1,234 bytes", "12 kB"): the number
/// and its unit in bytes.
fn parse_bytes(num: &str, unit: &str) -> Option<(u64, u64)> {
    let n: u64 = num.replace(',', "").parse().ok()?;
    let mult = match unit {
        "bytes" | "B" => 1,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    Some((n, mult))
}

/// Runs tshark and parses its TCP conversation table.
fn tshark_conversations(capture: &Path) -> TsharkTable {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-d", "udp.port==4789,vxlan", "-q", "-z", "conv,tcp"])
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut table = TsharkTable::new();
    for line in text.lines() {
        let tok: Vec<&str> = line.split_whitespace().collect();
        if tok.len() < 9 || tok.get(1) != Some(&"<->") {
            continue;
        }
        // A <-> B  frames(B->A) bytes unit  frames(A->B) bytes unit  total ...
        let (fa, ba, ua) = (tok[3], tok[4], tok[5]);
        let (fb, bb, ub) = (tok[6], tok[7], tok[8]);
        let (Some((bytes_ba, mult_ba)), Some((bytes_ab, mult_ab))) =
            (parse_bytes(ba, ua), parse_bytes(bb, ub))
        else {
            panic!("unexpected tshark line: {line}");
        };
        let frames_ba: u64 = fa.replace(',', "").parse().expect("frames");
        let frames_ab: u64 = fb.replace(',', "").parse().expect("frames");
        let (lo, hi, swapped) = key_of(tok[0], tok[2]);
        let ab = (frames_ab, bytes_ab, mult_ab);
        let ba = (frames_ba, bytes_ba, mult_ba);
        let (lo_hi, hi_lo) = if swapped { (ba, ab) } else { (ab, ba) };
        let mut n = 0;
        while table.contains_key(&(lo.clone(), hi.clone(), n)) {
            n += 1;
        }
        table.insert((lo, hi, n), [lo_hi, hi_lo]);
    }
    table
}

fn albscope_conversations(capture: &Path) -> Table {
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args(["flows", "--format", "json", "--no-progress"])
        .arg(capture)
        .output()
        .expect("run albscope");
    assert!(
        out.status.code() == Some(0),
        "albscope flows failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    let mut table = Table::new();
    for f in flows.as_array().expect("array") {
        // tshark writes IPv6 endpoints without brackets.
        let unbracket = |s: &str| s.replace(['[', ']'], "");
        let o = unbracket(f["originator"].as_str().expect("originator"));
        let r = unbracket(f["responder"].as_str().expect("responder"));
        let dir = |d: &str| {
            (
                f[d]["frames"].as_u64().expect("frames"),
                f[d]["frame_bytes"].as_u64().expect("frame_bytes"),
            )
        };
        let (lo, hi, swapped) = key_of(&o, &r);
        let pair = if swapped {
            [dir("resp"), dir("orig")]
        } else {
            [dir("orig"), dir("resp")]
        };
        let mut n = 0;
        while table.contains_key(&(lo.clone(), hi.clone(), n)) {
            n += 1;
        }
        table.insert((lo, hi, n), pair);
    }
    table
}

fn compare(capture: &Path) {
    let want = tshark_conversations(capture);
    let got = albscope_conversations(capture);
    let name = capture.display();
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: connection count (albscope {got:?}, tshark {want:?})"
    );
    for (k, w) in &want {
        let g = got
            .get(k)
            .unwrap_or_else(|| panic!("{name}: tshark conversation {k:?} missing"));
        for d in 0..2 {
            let (frames, bytes, unit) = w[d];
            assert_eq!(g[d].0, frames, "{name}: {k:?} frames, direction {d}");
            // tshark prints large counts in kB/MB, cut to whole units.
            assert!(
                g[d].1 / unit == bytes,
                "{name}: {k:?} bytes, direction {d}: albscope {} vs tshark {bytes} x {unit}",
                g[d].1
            );
        }
    }
}

#[test]
fn flows_match_tshark_conversations() {
    if !tshark_present() {
        eprintln!("skipped: tshark not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("albscope-flow-vs-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let built = dir.join("built.pcap");
    build_capture(&built);
    compare(&built);
    let _ = std::fs::remove_dir_all(&dir);

    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for f in &files {
        compare(f);
    }
    eprintln!("compared {} sample captures with tshark", files.len() + 1);
}
