use super::*;
use crate::capture::CaptureReader;
use pcap_parser::{PcapBlockOwned, PcapError};

/// What the project's own reader reads back: (link, ts, caplen, origlen, data) per packet.
fn own_read(bytes: &[u8]) -> Vec<(u32, i64, usize, u32, Vec<u8>)> {
    let mut r =
        CaptureReader::from_reader("t.pcapng", Box::new(std::io::Cursor::new(bytes.to_vec())))
            .unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push((p.link.0, p.ts.0, p.data.len(), p.orig_len, p.data.to_vec()));
    }
    assert!(r.problems().is_empty(), "{:?}", r.problems());
    out
}

/// The comments per packet, as pcap-parser reads them.
fn comments_of(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut r = pcap_parser::create_reader(1 << 18, bytes).unwrap();
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok((off, block)) => {
                if let PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(e)) = block {
                    out.push(
                        e.options
                            .iter()
                            .filter(|o| o.code == pcap_parser::OptionCode::Comment)
                            .map(|o| {
                                // pcap-parser hands the value with its padding.
                                let v = o.value.to_vec();
                                let end = v.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
                                String::from_utf8(v[..end].to_vec()).unwrap()
                            })
                            .collect(),
                    );
                }
                r.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
            Err(e) => panic!("{e:?}"),
        }
    }
    out
}

fn sample() -> (Vec<Vec<u8>>, Vec<Vec<String>>) {
    let data = vec![
        vec![0xaa; 60],
        vec![0xbb; 61],
        vec![0xcc; 62],
        vec![0xdd; 63],
    ];
    let comments = vec![
        vec!["albscope f3.0 (keepalive_race): the target sent FIN".to_string()],
        Vec::new(),
        vec!["one".to_string(), "two, ünïcode".to_string()],
        vec!["x".repeat(5)],
    ];
    (data, comments)
}

fn packets<'a>(data: &'a [Vec<u8>], comments: &'a [Vec<String>]) -> Vec<NgPacket<'a>> {
    data.iter()
        .zip(comments)
        .enumerate()
        .map(|(i, (d, c))| NgPacket {
            ts: Timestamp(1_765_471_377_123_456_789 + i as i64),
            link: if i == 3 {
                LinkType(113)
            } else {
                LinkType::ETHERNET
            },
            orig_len: d.len() as u32 + 4,
            data: d,
            comments: c,
        })
        .collect()
}

#[test]
fn round_trips_through_the_own_reader_and_pcap_parser() {
    let (data, cm) = sample();
    let mut out = Vec::new();
    write_pcapng(&mut out, &packets(&data, &cm), 262_144).unwrap();
    assert_eq!(out.len() % 4, 0, "blocks are 32-bit aligned");
    let back = own_read(&out);
    assert_eq!(back.len(), 4);
    for (i, (link, ts, cap, orig, bytes)) in back.iter().enumerate() {
        assert_eq!(*link, if i == 3 { 113 } else { 1 });
        assert_eq!(
            *ts,
            1_765_471_377_123_456_789 + i as i64,
            "nanoseconds kept"
        );
        assert_eq!(*cap, data[i].len());
        assert_eq!(*orig, data[i].len() as u32 + 4);
        assert_eq!(bytes, &data[i]);
    }
    assert_eq!(comments_of(&out), cm);
}

#[test]
fn long_comments_are_cut_at_a_character_boundary() {
    let c = "é".repeat(40_000);
    let cut = comment_bytes(&c).len();
    assert!(cut <= MAX_OPTION && std::str::from_utf8(comment_bytes(&c)).is_ok());
    let data = vec![vec![1u8; 10]];
    let cm = vec![vec![c]];
    let mut out = Vec::new();
    write_pcapng(&mut out, &packets(&data, &cm), 65535).unwrap();
    assert_eq!(own_read(&out).len(), 1);
    assert_eq!(comments_of(&out)[0][0].len(), cut);
}

#[test]
fn tshark_reads_the_comments() {
    let Ok(o) = std::process::Command::new("tshark")
        .arg("--version")
        .output()
    else {
        eprintln!("tshark not installed: skipped");
        return;
    };
    if !o.status.success() {
        return;
    }
    let (data, cm) = sample();
    let mut out = Vec::new();
    write_pcapng(&mut out, &packets(&data, &cm), 262_144).unwrap();
    let path = std::env::temp_dir().join(format!("albscope-pcapng-{}.pcapng", std::process::id()));
    std::fs::write(&path, &out).unwrap();
    let run = |field: &str| {
        let o = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-E",
                "occurrence=a",
                "-E",
                "aggregator=|",
                "-e",
                field,
            ])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    // Wireshark 4.0 names the field frame.comment; older ones pkt_comment.
    let (ok, text) = match run("frame.comment") {
        (true, t) => (true, t),
        _ => run("pkt_comment"),
    };
    let _ = std::fs::remove_file(&path);
    assert!(ok, "tshark read the file");
    let lines: Vec<&str> = text.lines().collect();
    let want: Vec<String> = cm.iter().map(|c| c.join("|")).collect();
    assert_eq!(lines, want);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any packets with any comments read back unchanged (own reader: bytes, times, lengths,
    /// link types; pcap-parser: comments).
    #[test]
    fn any_packets_round_trip(
        pkts in proptest::collection::vec(
            (
                // Plausible times (the reader's time guard repairs others).
                946_684_800_000_000_000i64..4_000_000_000_000_000_000,
                proptest::sample::select(vec![1u32, 101, 113, 276]),
                proptest::collection::vec(proptest::num::u8::ANY, 0..300),
                0u32..64,
                proptest::collection::vec("[a-z é#:()]{0,40}", 0..3),
            ),
            0..12,
        )
    ) {
        let mut pkts = pkts;
        // In time order, as the reader's time guard expects.
        pkts.sort_by_key(|p| p.0);
        let data: Vec<Vec<u8>> = pkts.iter().map(|p| p.2.clone()).collect();
        let comments: Vec<Vec<String>> = pkts.iter().map(|p| p.4.clone()).collect();
        let ng: Vec<NgPacket<'_>> = pkts
            .iter()
            .zip(&data)
            .zip(&comments)
            .map(|((p, d), c)| NgPacket {
                ts: Timestamp(p.0),
                link: LinkType(p.1),
                orig_len: d.len() as u32 + p.3,
                data: d,
                comments: c,
            })
            .collect();
        let mut out = Vec::new();
        write_pcapng(&mut out, &ng, 262_144).unwrap();
        let back = own_read(&out);
        proptest::prop_assert_eq!(back.len(), pkts.len());
        for (b, p) in back.iter().zip(&pkts) {
            proptest::prop_assert_eq!(b.0, p.1);
            proptest::prop_assert_eq!(b.1, p.0);
            proptest::prop_assert_eq!(&b.4, &p.2);
            proptest::prop_assert_eq!(b.3, p.2.len() as u32 + p.3);
        }
        proptest::prop_assert_eq!(comments_of(&out), comments);
    }
}
