//! Capture layer tests: pcap and pcapng bytes are written by hand here, independent of the other
//! layers (and of `synth`).

use albscope::capture::{CaptureError, CaptureReader, LinkType, PacketPos, Timestamp};
use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// Writers

/// A packet to write: seconds, fraction (µs or ns for pcap; ignored for pcapng), data, wire length.
#[derive(Clone)]
struct Pkt {
    secs: u32,
    frac: u32,
    data: Vec<u8>,
    orig: u32,
}

fn pkt(secs: u32, frac: u32, data: &[u8]) -> Pkt {
    Pkt {
        secs,
        frac,
        data: data.to_vec(),
        orig: data.len() as u32,
    }
}

fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u16b(v: u16, be: bool) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// Classic pcap bytes and the byte offset of every record.
fn pcap(be: bool, nanos: bool, link: u32, snaplen: u32, pkts: &[Pkt]) -> (Vec<u8>, Vec<usize>) {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut out = Vec::new();
    out.extend(u32b(magic, be));
    out.extend(u16b(2, be));
    out.extend(u16b(4, be));
    out.extend(u32b(0, be));
    out.extend(u32b(0, be));
    out.extend(u32b(snaplen, be));
    out.extend(u32b(link, be));
    let mut offsets = Vec::new();
    for p in pkts {
        offsets.push(out.len());
        out.extend(u32b(p.secs, be));
        out.extend(u32b(p.frac, be));
        out.extend(u32b(p.data.len() as u32, be));
        out.extend(u32b(p.orig, be));
        out.extend(&p.data);
    }
    (out, offsets)
}

/// pcapng writer; `offsets` records where each packet block starts.
struct Ng {
    be: bool,
    out: Vec<u8>,
    offsets: Vec<usize>,
}

impl Ng {
    fn new() -> Self {
        Ng {
            be: false,
            out: Vec::new(),
            offsets: Vec::new(),
        }
    }

    fn block(&mut self, btype: u32, body: &[u8]) {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let be = self.be;
        self.out.extend(u32b(btype, be));
        self.out.extend(u32b(len, be));
        self.out.extend(body);
        self.out.extend(std::iter::repeat(0).take(pad));
        self.out.extend(u32b(len, be));
    }

    fn shb(&mut self, be: bool) -> &mut Self {
        self.be = be;
        let mut body = Vec::new();
        body.extend(u32b(0x1A2B_3C4D, be));
        body.extend(u16b(1, be));
        body.extend(u16b(0, be));
        body.extend([0xff; 8]); // section length unknown
        self.block(0x0A0D_0D0A, &body);
        self
    }

    fn idb(
        &mut self,
        link: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        body.extend(u16b(link, be));
        body.extend(u16b(0, be));
        body.extend(u32b(snaplen, be));
        if let Some(r) = tsresol {
            body.extend(u16b(9, be));
            body.extend(u16b(1, be));
            body.extend([r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend(u16b(14, be));
            body.extend(u16b(8, be));
            body.extend(if be { o.to_be_bytes() } else { o.to_le_bytes() });
        }
        if tsresol.is_some() || tsoffset.is_some() {
            body.extend([0, 0, 0, 0]); // opt_endofopt
        }
        self.block(1, &body);
        self
    }

    fn epb(&mut self, if_id: u32, units: u64, data: &[u8], orig: u32) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        body.extend(u32b(if_id, be));
        body.extend(u32b((units >> 32) as u32, be));
        body.extend(u32b(units as u32, be));
        body.extend(u32b(data.len() as u32, be));
        body.extend(u32b(orig, be));
        body.extend(data);
        body.extend(std::iter::repeat(0).take((4 - data.len() % 4) % 4));
        self.offsets.push(self.out.len());
        self.block(6, &body);
        self
    }

    fn spb(&mut self, orig: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend(u32b(orig, self.be));
        body.extend(data);
        self.offsets.push(self.out.len());
        self.block(3, &body);
        self
    }

    /// Obsolete Packet Block (type 2).
    fn pb(&mut self, if_id: u16, units: u64, data: &[u8]) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        body.extend(u16b(if_id, be));
        body.extend(u16b(0, be));
        body.extend(u32b((units >> 32) as u32, be));
        body.extend(u32b(units as u32, be));
        body.extend(u32b(data.len() as u32, be));
        body.extend(u32b(data.len() as u32, be));
        body.extend(data);
        self.offsets.push(self.out.len());
        self.block(2, &body);
        self
    }

    fn unknown(&mut self, btype: u32, body: &[u8]) -> &mut Self {
        self.block(btype, body);
        self
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Reading helpers

#[derive(Debug, Clone, PartialEq)]
struct Got {
    pos: PacketPos,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

fn drain(reader: &mut CaptureReader) -> Vec<Got> {
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        out.push(Got {
            pos: p.pos,
            ts: p.ts,
            link: p.link,
            orig_len: p.orig_len,
            data: p.data.to_vec(),
        });
    }
    out
}

fn mem(name: &str, bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader(name, Box::new(Cursor::new(bytes)))
}

fn read_all(name: &str, bytes: Vec<u8>) -> (Vec<Got>, Vec<String>) {
    let mut r = mem(name, bytes).expect("opens");
    let got = drain(&mut r);
    let problems = r.problems().iter().map(|p| p.to_string()).collect();
    (got, problems)
}

/// A temporary file removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, bytes: &[u8]) -> Self {
        let path = crate::scratch::dir("capture").join(tag);
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A reader handing out at most `chunk` bytes per call, like a pipe.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A reader that fails after `ok` bytes.
struct Failing {
    data: Vec<u8>,
    at: usize,
    ok: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.ok {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn three_packets() -> Vec<Pkt> {
    vec![
        pkt(1_700_000_000, 1, b"first packet"),
        pkt(1_700_000_001, 999_999, b"second"),
        Pkt {
            secs: 1_700_000_002,
            frac: 500,
            data: vec![0xab; 60],
            orig: 1514,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Classic pcap

#[test]
fn pcap_all_byte_orders_and_resolutions() {
    for be in [false, true] {
        for nanos in [false, true] {
            let pkts = three_packets();
            let (bytes, offsets) = pcap(be, nanos, 1, 65535, &pkts);
            let mut r = mem("x.pcap", bytes.clone()).unwrap();
            let got = drain(&mut r);
            assert_eq!(got.len(), 3, "be={be} nanos={nanos}");
            for (i, (g, p)) in got.iter().zip(&pkts).enumerate() {
                let frac_ns = if nanos { p.frac } else { p.frac * 1000 };
                assert_eq!(g.ts, Timestamp::from_parts(p.secs as i64, frac_ns));
                assert_eq!(g.data, p.data);
                assert_eq!(g.orig_len, p.orig);
                assert_eq!(g.link, LinkType::ETHERNET);
                assert_eq!(
                    g.pos,
                    PacketPos {
                        file: 0,
                        number: i as u64 + 1,
                        offset: offsets[i] as u64
                    }
                );
            }
            assert!(r.problems().is_empty());
            let s = &r.summaries()[0];
            assert_eq!(s.format, if nanos { "pcap-ns" } else { "pcap" });
            assert_eq!(s.packets, 3);
            assert_eq!(s.bytes, bytes.len() as u64);
            assert_eq!(s.damage, None);
            assert_eq!(r.total_bytes(), None);
            assert_eq!(r.bytes_consumed(), bytes.len() as u64);
        }
    }
}

#[test]
fn pcap_link_type_is_passed_through_and_fcs_bits_masked() {
    let (bytes, _) = pcap(false, false, 0x1000_00c5, 65535, &[pkt(1, 0, b"x")]);
    let (got, _) = read_all("odd.pcap", bytes);
    assert_eq!(got[0].link, LinkType(0xc5));
}

#[test]
fn orig_len_is_never_below_captured_length() {
    let mut p = pkt(1, 0, b"0123456789");
    p.orig = 3;
    let (bytes, _) = pcap(false, false, 1, 65535, &[p]);
    let (got, _) = read_all("x.pcap", bytes);
    assert_eq!(got[0].orig_len, 10);
}

// ---------------------------------------------------------------------------------------------
// pcapng

/// Two sections (little then big endian), interfaces of different link types and resolutions,
/// EPB, SPB, obsolete PB, an unknown block and a name-resolution-like block skipped.
fn sample_pcapng() -> (Vec<u8>, Vec<usize>) {
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 65535, None, None) // Ethernet, µs
        .idb(101, 0, Some(9), Some(1_700_000_100)) // raw IP, ns, +1 700 000 100 s
        .epb(0, 1_700_000_000_123_456, b"eth frame", 9)
        .unknown(0x4000_0001, b"local use block body")
        .epb(1, 5_000_000_007, b"raw ip", 1500)
        .spb(4, b"spb-data") // captured = min(orig 4, data 8) = 4
        .unknown(4, &[0u8; 8]) // name resolution block, only the end marker
        .pb(0, 1_700_000_200_000_000, b"old pb");
    // A new section has its own clock: its times may be earlier than the first section's.
    ng.shb(true)
        .idb(113, 96, Some(0x80 | 20), None) // Linux SLL, 2^-20 s
        .epb(
            0,
            3 << 20 | 1 << 19,
            b"sll frame in a big-endian section",
            40,
        )
        .idb(276, 65535, Some(3), Some(-5)) // SLL2, ms, -5 s
        .epb(1, 12_345, b"sll2", 4);
    (ng.out, ng.offsets)
}

#[test]
fn pcapng_sections_interfaces_and_block_kinds() {
    let (bytes, offsets) = sample_pcapng();
    let mut r = mem("x.pcapng", bytes.clone()).unwrap();
    let got = drain(&mut r);
    assert!(r.problems().is_empty(), "{:?}", r.problems());
    let want: Vec<(i64, u32, &[u8], u32)> = vec![
        (1_700_000_000_123_456_000, 1, b"eth frame", 9),
        (1_700_000_105_000_000_007, 101, b"raw ip", 1500),
        (1_700_000_105_000_000_007, 101, b"spb-", 4), // SPB: interface 0 link? see below
        (1_700_000_200_000_000_000, 1, b"old pb", 6),
        (3_500_000_000, 113, b"sll frame in a big-endian section", 40),
        (7_345_000_000, 276, b"sll2", 4),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.pos.number, i as u64 + 1);
        assert_eq!(g.pos.offset, offsets[i] as u64, "packet {i}");
        assert_eq!(g.data, w.2, "packet {i}");
        assert_eq!(g.orig_len, w.3, "packet {i}");
        if i == 2 {
            // A Simple Packet Block has no timestamp (it takes the previous one) and uses the
            // first interface of its section.
            assert_eq!(g.link, LinkType::ETHERNET);
            assert_eq!(g.ts, got[1].ts);
        } else {
            assert_eq!(g.ts, Timestamp(w.0), "packet {i}");
            assert_eq!(g.link, LinkType(w.1), "packet {i}");
        }
    }
    let s = &r.summaries()[0];
    assert_eq!(s.format, "pcapng");
    assert_eq!(s.packets, 6);
    assert_eq!(s.bytes, bytes.len() as u64);
}

#[test]
fn pcapng_spb_respects_interface_snaplen() {
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 5, None, None)
        .spb(100, b"0123456789ab");
    let (got, problems) = read_all("x.pcapng", ng.out);
    assert!(problems.is_empty());
    assert_eq!(got[0].data, b"01234");
    assert_eq!(got[0].orig_len, 100);
}

#[test]
fn pcapng_big_legitimate_block_grows_the_buffer() {
    let mut ng = Ng::new();
    ng.shb(false)
        .idb(1, 0, None, None)
        .unknown(0x0BAD, &vec![7u8; 3 << 20]) // a 3 MiB custom block
        .epb(0, 1, b"after", 5);
    let (got, problems) = read_all("big.pcapng", ng.out);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, b"after");
}

// ---------------------------------------------------------------------------------------------
// gzip, readers, files

#[test]
fn gzip_of_both_formats_is_detected_by_content() {
    let (plain, _) = pcap(false, true, 1, 65535, &three_packets());
    let (ng, _) = sample_pcapng();
    for (bytes, format, n) in [(plain, "pcap-ns+gzip", 3), (ng, "pcapng+gzip", 6)] {
        let expected = read_all("plain", bytes.clone()).0;
        let gz = gzip(&bytes);
        // A name without .gz: detection is by magic bytes.
        let file = TempFile::new(&format!("gz-{format}.cap"), &gz);
        let mut r = CaptureReader::open(&[&file.0]).unwrap();
        let got = drain(&mut r);
        assert_eq!(got.len(), n);
        assert_eq!(got, expected);
        let s = &r.summaries()[0];
        assert_eq!(s.format, format);
        assert_eq!(s.bytes, bytes.len() as u64);
        assert_eq!(r.total_bytes(), Some(gz.len() as u64));
        assert_eq!(r.bytes_consumed(), gz.len() as u64);
    }
}

#[test]
fn multi_member_gzip_is_read_whole() {
    let (bytes, _) = pcap(false, false, 1, 65535, &three_packets());
    let (head, tail) = bytes.split_at(50);
    let mut gz = gzip(head);
    gz.extend(gzip(tail));
    let (got, problems) = read_all("multi.gz", gz);
    assert!(problems.is_empty());
    assert_eq!(got.len(), 3);
}

#[test]
fn trickling_reader_gives_the_same_packets() {
    let (bytes, _) = sample_pcapng();
    let expected = read_all("a", bytes.clone()).0;
    for chunk in [1, 3, 7] {
        let reader = Trickle {
            data: gzip(&bytes),
            at: 0,
            chunk,
        };
        let mut r = CaptureReader::from_reader("-", Box::new(reader)).unwrap();
        assert_eq!(drain(&mut r), expected);
        assert!(r.problems().is_empty());
        assert_eq!(r.file_names(), vec!["-".to_string()]);
    }
}

#[test]
fn read_error_mid_file_is_damage_after_the_good_packets() {
    let (bytes, offsets) = pcap(false, false, 1, 65535, &three_packets());
    let reader = Failing {
        data: bytes,
        at: 0,
        ok: offsets[2] + 3,
    };
    let mut r = CaptureReader::from_reader("flaky.pcap", Box::new(reader)).unwrap();
    assert_eq!(drain(&mut r).len(), 2);
    match r.problems() {
        [CaptureError::Damaged {
            packet,
            offset,
            reason,
            ..
        }] => {
            assert_eq!(*packet, 3);
            assert_eq!(*offset, offsets[2] as u64);
            assert!(reason.contains("disk on fire"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn merge_of_three_inputs_in_timestamp_order() {
    // File k has packets at times k, k+3, k+6, ... (µs); file 2 also has a tie with file 0.
    let mk = |k: u32, n: u32| -> Vec<Pkt> {
        (0..n)
            .map(|j| pkt(10, k + 3 * j, &[k as u8, j as u8]))
            .collect()
    };
    let mut f2 = mk(2, 4);
    f2.insert(0, pkt(10, 0, &[2, 99])); // same time as file 0's first packet
    let (a, ao) = pcap(false, false, 1, 65535, &mk(0, 5));
    let (b, bo) = pcap(
        true,
        true,
        1,
        65535,
        &mk(1, 4)
            .iter()
            .map(|p| pkt(p.secs, p.frac * 1000, &p.data))
            .collect::<Vec<_>>(),
    );
    let mut ng = Ng::new();
    ng.shb(false).idb(1, 0, None, None);
    for p in &f2 {
        ng.epb(0, 10_000_000 + p.frac as u64, &p.data, 2);
    }
    let offsets = [ao, bo, ng.offsets.clone()];
    let files = [
        TempFile::new("m0", &a),
        TempFile::new("m1", &gzip(&b)),
        TempFile::new("m2", &ng.out),
    ];
    let paths: Vec<&PathBuf> = files.iter().map(|f| &f.0).collect();
    let mut r = CaptureReader::open(&paths).unwrap();
    let got = drain(&mut r);
    assert_eq!(got.len(), 5 + 4 + 5);
    for w in got.windows(2) {
        assert!(w[0].ts <= w[1].ts, "{w:?}");
        if w[0].ts == w[1].ts {
            assert!(
                w[0].pos.file < w[1].pos.file,
                "tie goes to the earlier file"
            );
        }
    }
    for g in &got {
        let f = g.pos.file as usize;
        // data[1] is the sequence number within the file (99 for file 2's extra first packet).
        let number = if f == 2 {
            if g.data[1] == 99 {
                1
            } else {
                g.data[1] as u64 + 2
            }
        } else {
            g.data[1] as u64 + 1
        };
        assert_eq!(g.data[0] as usize, f);
        assert_eq!(g.pos.number, number);
        assert_eq!(g.pos.offset, offsets[f][number as usize - 1] as u64);
    }
    let names = r.file_names();
    assert_eq!(names[1], files[1].0.display().to_string());
    let formats: Vec<String> = r.summaries().into_iter().map(|s| s.format).collect();
    assert_eq!(formats, ["pcap", "pcap-ns+gzip", "pcapng"]);
    let total = a.len() + gzip(&b).len() + ng.out.len();
    assert_eq!(r.total_bytes(), Some(total as u64));
}

// ---------------------------------------------------------------------------------------------
// Damage

/// Cuts `bytes` at every offset. Record boundaries are where a cut is a clean end of file; any
/// other cut must be reported as damage naming the first packet not read and its offset. Cuts
/// inside the first 4 bytes leave nothing recognisable: open fails with "not a capture".
fn check_every_cut(
    bytes: &[u8],
    header_end: usize,
    packet_offsets: &[usize],
    boundaries: &[usize],
) {
    let all = read_all("full", bytes.to_vec()).0;
    assert_eq!(all.len(), packet_offsets.len());
    for cut in 0..=bytes.len() {
        let part = bytes[..cut].to_vec();
        let opened = mem("cut.cap", part);
        if cut < 4 {
            assert!(
                matches!(opened, Err(CaptureError::NotACapture { .. })),
                "cut {cut}"
            );
            continue;
        }
        if cut < header_end {
            match opened {
                Err(CaptureError::Damaged {
                    packet,
                    offset,
                    ref file,
                    ..
                }) => {
                    assert_eq!((packet, offset), (1, 0), "cut {cut}");
                    assert_eq!(file, &PathBuf::from("cut.cap"));
                }
                other => panic!("cut {cut}: {:?}", other.err()),
            }
            continue;
        }
        let mut r = opened.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let got = drain(&mut r);
        // A packet is complete when its record (ending at the next boundary) ends before the cut.
        let complete = packet_offsets
            .iter()
            .filter(|&&o| boundaries.iter().copied().filter(|&b| b > o).min().unwrap() <= cut)
            .count();
        assert_eq!(got, all[..complete].to_vec(), "cut {cut}");
        let clean = boundaries.contains(&cut);
        let problems = r.problems();
        if clean {
            assert!(problems.is_empty(), "cut {cut}: {problems:?}");
            assert_eq!(r.summaries()[0].damage, None);
        } else {
            match problems {
                [CaptureError::Damaged {
                    packet,
                    offset,
                    file,
                    ..
                }] => {
                    assert_eq!(*packet, complete as u64 + 1, "cut {cut}");
                    let last_boundary = boundaries.iter().filter(|&&b| b <= cut).max().unwrap();
                    assert_eq!(*offset, *last_boundary as u64, "cut {cut}");
                    assert_eq!(file, &PathBuf::from("cut.cap"));
                }
                other => panic!("cut {cut}: {other:?}"),
            }
            assert!(r.summaries()[0].damage.is_some());
        }
    }
}

#[test]
fn pcap_cut_at_every_offset() {
    let (bytes, offsets) = pcap(false, false, 1, 65535, &three_packets());
    let mut boundaries = vec![24];
    boundaries.extend(offsets.iter().skip(1));
    boundaries.push(bytes.len());
    check_every_cut(&bytes, 24, &offsets, &boundaries);
}

#[test]
fn pcapng_cut_at_every_offset() {
    let (bytes, offsets) = sample_pcapng();
    // Every block end is a clean boundary.
    let mut boundaries = Vec::new();
    let mut at = 0;
    let mut be = false;
    while at < bytes.len() {
        let t = &bytes[at..];
        if t[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            be = t[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
        }
        let len = if be {
            u32::from_be_bytes(t[4..8].try_into().unwrap())
        } else {
            u32::from_le_bytes(t[4..8].try_into().unwrap())
        } as usize;
        at += len;
        boundaries.push(at);
    }
    check_every_cut(&bytes, boundaries[0], &offsets, &boundaries);
}

#[test]
fn gzip_cut_never_panics_and_keeps_earlier_packets() {
    let (bytes, _) = pcap(false, false, 1, 65535, &three_packets());
    let gz = gzip(&bytes);
    for cut in 0..gz.len() {
        if let Ok(mut r) = mem("cut.gz", gz[..cut].to_vec()) {
            let got = drain(&mut r);
            assert!(got.len() <= 3);
            assert_eq!(
                r.problems().len(),
                1,
                "cut {cut}: a cut gzip stream is damage"
            );
        }
    }
}

#[test]
fn absurd_caplen_stops_that_file_only() {
    let pkts = three_packets();
    let (mut bad, offsets) = pcap(false, false, 1, 65535, &pkts);
    bad[offsets[1] + 8..offsets[1] + 12].copy_from_slice(&1_000_000u32.to_le_bytes());
    let (good, _) = pcap(false, false, 1, 65535, &pkts);
    let mut r = CaptureReader::from_readers(vec![
        ("bad.pcap".into(), Box::new(Cursor::new(bad))),
        ("good.pcap".into(), Box::new(Cursor::new(good))),
    ])
    .unwrap();
    let got = drain(&mut r);
    assert_eq!(got.iter().filter(|g| g.pos.file == 0).count(), 1);
    assert_eq!(got.iter().filter(|g| g.pos.file == 1).count(), 3);
    let msg = r.problems()[0].to_string();
    assert!(
        msg.starts_with(&format!(
            "bad.pcap: packet 2 at byte offset {}: absurd captured length 1000000",
            offsets[1]
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with("the packets before it were analysed"),
        "{msg}"
    );
    let s = r.summaries();
    assert_eq!(s[0].packets, 1);
    assert_eq!(s[0].damage.as_deref(), Some(msg.as_str()));
    assert_eq!(s[1].packets, 3);
}

#[test]
fn caplen_far_above_a_small_snaplen_is_damage() {
    let (bytes, _) = pcap(false, false, 1, 96, &[pkt(1, 0, &vec![0u8; 100_000])]);
    let (got, problems) = read_all("snap.pcap", bytes);
    assert!(got.is_empty());
    assert!(
        problems[0].contains("far above the snaplen 96"),
        "{problems:?}"
    );
}

#[test]
fn legitimate_256k_packet_is_read() {
    let big = vec![0x42u8; 262_144];
    let (bytes, _) = pcap(
        false,
        false,
        1,
        262_144,
        &[pkt(1, 0, &big), pkt(2, 0, b"next")],
    );
    let (got, problems) = read_all("big.pcap", bytes);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].data.len(), 262_144);
}

#[test]
fn bad_pcapng_block_lengths_are_damage() {
    let base = || {
        let mut ng = Ng::new();
        ng.shb(false).idb(1, 0, None, None).epb(0, 1, b"good", 4);
        ng
    };
    // (how to break the next block, expected reason fragment)
    type Breaker = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(Breaker, &str)> = vec![
        (
            Box::new(|v: &mut Vec<u8>| {
                v.extend([6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0])
            }),
            "bad block length 13",
        ),
        (
            Box::new(|v: &mut Vec<u8>| v.extend([6, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0])),
            "bad block length 8",
        ),
        (
            Box::new(|v: &mut Vec<u8>| v.extend([6, 0, 0, 0, 0, 0, 0, 0x7f, 0, 0, 0, 0])),
            "over the 16 MiB limit",
        ),
        (
            Box::new(|v: &mut Vec<u8>| v.extend(b"garbage garbage garbage garbage!")),
            "bad block length",
        ),
        (
            Box::new(|v: &mut Vec<u8>| {
                // An EPB whose trailing length differs from its leading one.
                let mut ng = Ng::new();
                ng.epb(0, 2, b"xx", 2);
                let n = ng.out.len();
                ng.out[n - 4] ^= 4;
                v.extend(ng.out);
            }),
            "says 36 bytes at its start and 32 at its end",
        ),
        (
            Box::new(|v: &mut Vec<u8>| {
                // An EPB whose captured length overruns its block.
                let mut ng = Ng::new();
                ng.epb(0, 2, b"xxxx", 4);
                ng.out[20..24].copy_from_slice(&400u32.to_le_bytes());
                v.extend(ng.out);
            }),
            "malformed enhanced packet block",
        ),
        (
            Box::new(|v: &mut Vec<u8>| {
                let mut ng = Ng::new();
                ng.epb(7, 2, b"xxxx", 4);
                v.extend(ng.out);
            }),
            "refers to interface 7",
        ),
    ];
    for (i, (breaker, fragment)) in cases.iter().enumerate() {
        let mut ng = base();
        let damage_at = ng.out.len();
        breaker(&mut ng.out);
        ng.epb(0, 3, b"never reached", 13);
        let mut r = mem("broken.pcapng", ng.out).unwrap();
        let got = drain(&mut r);
        assert_eq!(got.len(), 1, "case {i}");
        match r.problems() {
            [CaptureError::Damaged {
                file,
                packet,
                offset,
                reason,
            }] => {
                assert_eq!(file, &PathBuf::from("broken.pcapng"));
                assert_eq!(*packet, 2, "case {i}");
                assert_eq!(*offset, damage_at as u64, "case {i}");
                assert!(reason.contains(fragment), "case {i}: {reason}");
            }
            other => panic!("case {i}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Not a capture

fn not_a_capture(bytes: &[u8]) -> String {
    let file = TempFile::new("notcap", bytes);
    match CaptureReader::open(&[&file.0]) {
        Err(e @ CaptureError::NotACapture { .. }) => {
            let msg = e.to_string();
            assert!(msg.starts_with(&file.0.display().to_string()), "{msg}");
            msg
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn not_a_capture_says_what_it_looks_like() {
    assert!(not_a_capture(b"").ends_with("(it looks like an empty file (0 bytes))"));
    assert!(not_a_capture(b"\xd4\xc3").contains("too short to be a capture (2 bytes)"));
    assert!(not_a_capture(b"hello there\nsecond line\n")
        .contains("plain text (starting \"hello there\")"));
    let log = "h2 2025-12-11T16:42:57.298415Z app/alb/123 10.0.0.1:4242 10.0.1.2:80 0.000 -1 -1 502 - 100 200 \"GET https://x:443/ HTTP/2.0\" \"-\" - - arn - \"-\" \"-\" \"-\" 0 2025-12-11T16:42:57.000000Z \"forward\" \"-\" \"-\" \"10.0.1.2:80\" \"-\" \"-\" \"-\"\n";
    let m = not_a_capture(log.as_bytes());
    assert!(
        m.ends_with("(it looks like an ALB access log; use `albscope explain-log`)"),
        "{m}"
    );
    assert!(not_a_capture(&gzip(log.as_bytes())).contains("a gzip-compressed ALB access log"));
    assert!(not_a_capture(&gzip(b"just words")).contains("gzip-compressed plain text"));
    assert!(not_a_capture(b"<!doctype html>\n<html>").contains("an HTML document"));
    assert!(not_a_capture(b"{\"records\": []}").contains("JSON"));
    assert!(not_a_capture(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0])
        .contains("unknown binary data (first bytes 7f 45 4c 46)"));
    assert!(not_a_capture(&[0x1f, 0x8b, 8, 0, 1, 2, 3])
        .contains("gzip data that cannot be decompressed"));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = CaptureReader::open(&["/nonexistent/albscope/x.pcap"])
        .err()
        .unwrap();
    assert!(matches!(err, CaptureError::Io { .. }));
    assert!(err
        .to_string()
        .starts_with("/nonexistent/albscope/x.pcap: "));
}

#[test]
fn bad_inputs_beside_a_good_one_become_problems() {
    let (good, _) = pcap(false, false, 1, 65535, &three_packets());
    let good = TempFile::new("good-beside", &good);
    let text = TempFile::new("text-beside", b"not a capture at all\n");
    let paths = [
        text.0.clone(),
        PathBuf::from("/nonexistent/y.pcap"),
        good.0.clone(),
    ];
    let mut r = CaptureReader::open(&paths).unwrap();
    let got = drain(&mut r);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.pos.file == 2));
    assert_eq!(r.problems().len(), 2);
    assert!(matches!(r.problems()[0], CaptureError::NotACapture { .. }));
    assert!(matches!(r.problems()[1], CaptureError::Io { .. }));
    let s = r.summaries();
    assert_eq!(s[0].format, "unreadable");
    assert!(s[0].damage.as_ref().unwrap().contains("plain text"));
    assert_eq!(s[2].packets, 3);
}

// ---------------------------------------------------------------------------------------------
// Random bytes

fn drain_count(bytes: Vec<u8>) -> usize {
    match mem("fuzz", bytes) {
        Ok(mut r) => {
            let mut n = 0;
            while let Some(p) = r.next_packet() {
                assert!(p.data.len() <= 16 << 20);
                assert!(p.orig_len as usize >= p.data.len());
                n += 1;
            }
            let _ = r.summaries();
            n
        }
        Err(_) => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes_after_a_pcap_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048), be in any::<bool>()) {
        let (mut bytes, _) = pcap(be, false, 1, 65535, &[]);
        bytes.extend(tail);
        drain_count(bytes);
    }

    #[test]
    fn random_bytes_after_a_pcapng_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048), be in any::<bool>()) {
        let mut ng = Ng::new();
        ng.shb(be).idb(1, 0, Some(9), None);
        ng.out.extend(tail);
        drain_count(ng.out);
    }

    #[test]
    fn mutated_pcapng_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let (mut bytes, _) = sample_pcapng();
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        drain_count(bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        drain_count(bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// stdin

/// Child half of `dash_reads_standard_input`: reads `-` and prints what it got.
#[test]
fn stdin_child() {
    if std::env::var_os("ALBSCOPE_STDIN_CHILD").is_none() {
        return;
    }
    let mut r = CaptureReader::open(&["-"]).unwrap();
    let got = drain(&mut r);
    let s = &r.summaries()[0];
    println!(
        "STDIN-RESULT {} {} {} {:?} {}",
        got.len(),
        s.file,
        s.format,
        r.total_bytes(),
        got.iter().map(|g| g.data.len()).sum::<usize>()
    );
}

#[test]
fn dash_reads_standard_input() {
    use std::process::{Command, Stdio};
    let (bytes, _) = pcap(true, false, 1, 65535, &three_packets());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "capture_reader::stdin_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ALBSCOPE_STDIN_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let gz = gzip(&bytes);
    let writer = std::thread::spawn(move || stdin.write_all(&gz));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.find("STDIN-RESULT").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no result in {text}"));
    let payload: usize = three_packets().iter().map(|p| p.data.len()).sum();
    assert_eq!(line, format!("STDIN-RESULT 3 - pcap+gzip None {payload}"));
}

/// An Interface Statistics Block with `isb_endtime` (option 3) at `units`.
fn isb_end(ng: &mut Ng, if_id: u32, units: u64) {
    let be = ng.be;
    let mut body = Vec::new();
    body.extend(u32b(if_id, be));
    body.extend(u32b((units >> 32) as u32, be));
    body.extend(u32b(units as u32, be));
    body.extend(u16b(3, be));
    body.extend(u16b(8, be));
    body.extend(u32b((units >> 32) as u32, be));
    body.extend(u32b(units as u32, be));
    body.extend([0, 0, 0, 0]); // opt_endofopt
    ng.unknown(5, &body);
}

#[test]
fn each_input_end_is_told_before_any_later_packet() {
    // Input 0: packets at 10 s .. 10.000004 s; input 1 (pcapng, big-endian, with interface
    // statistics saying its recording ended at 10.000050 s): 10.000001 s and 10.000003 s;
    // input 2: 10.000100 s.
    let (a, _) = pcap(
        false,
        false,
        1,
        65535,
        &[pkt(10, 0, &[0]), pkt(10, 4, &[1])],
    );
    let mut ng = Ng::new();
    ng.shb(true).idb(1, 0, None, None);
    ng.epb(0, 10_000_001, &[2], 1).epb(0, 10_000_003, &[3], 1);
    isb_end(&mut ng, 0, 10_000_050);
    let (c, _) = pcap(false, false, 1, 65535, &[pkt(10, 100, &[4])]);
    let mut r = CaptureReader::from_readers(vec![
        ("a".into(), Box::new(Cursor::new(a)) as Box<dyn Read + Send>),
        ("b".into(), Box::new(Cursor::new(ng.out.clone()))),
        ("c".into(), Box::new(Cursor::new(c))),
    ])
    .expect("opens");
    let ends = r.input_ends();
    let us = |u: i64| Timestamp(10_000_000_000 + u * 1000);
    let last_packet = [us(4), us(3), us(100)];
    let mut seen = Vec::new();
    while let Some(p) = r.next_packet() {
        // Every input whose last packet came before this one has said it ended.
        for (f, last) in last_packet.iter().enumerate() {
            if *last < p.ts {
                assert!(ends.end(f as u16).is_some(), "input {f} at {:?}", p.ts);
            }
        }
        seen.push((p.pos.file, p.ts, [ends.end(0), ends.end(1)]));
    }
    assert_eq!(seen.len(), 5);
    // At the last packet (input 2's), inputs 0 and 1 were known ended.
    assert_eq!(seen[4].2, [Some(us(4)), Some(us(50))]);
    // Input 1's end is its interface statistics' end time, later than its last packet.
    assert_eq!(ends.end(1), Some(us(50)));
    assert_eq!(ends.end(2), Some(us(100)));
}
