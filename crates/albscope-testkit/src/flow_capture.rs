//! Shared by the flow integration tests: writes a small VXLAN capture by hand.
//!
//! Connections in it, in order of first packet:
//! 0. 10.0.1.10:41000 -> 10.0.2.20:8080: handshake, request (mirrored twice), response, FINs: SF
//! 1. the 4-tuple of 0 again with a new ISN, 0.3 ms after its last ACK: port reuse; handshake
//!    then RST from the originator: RSTO
//! 2. 10.0.1.10:41001 -> 10.0.2.20:8081: SYN answered by RST: REJ
//! 3. 10.0.1.10:41002 -> 10.0.2.21:8080: SYN sent three times, unanswered: S0
//! 4. 10.0.3.30:52000 -> 10.0.1.10:443: mid-stream (no SYN): OTH

#![allow(dead_code)]

use std::path::Path;

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

/// Writes the capture described above to `path`.
pub fn build_capture(path: &Path) {
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
    // Port reuse: the 4-tuple of `a` again, new ISN, while the first is in its close grace.
    p.tcp(a, true, SYN, 55_555, 0, b"", 1_500, 1);
    p.tcp(a, false, SYN | ACK, 66_666, 55_556, b"", 1_600, 1);
    p.tcp(a, true, ACK, 55_556, 66_667, b"", 1_700, 1);
    p.tcp(a, true, RST | ACK, 55_556, 66_667, b"", 1_800, 1);
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
