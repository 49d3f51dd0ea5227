//! The committed samples are exactly what the builder produces (deterministic and current).
//! Run with `ALBSCOPE_BLESS=1` to rewrite them.

use std::path::PathBuf;

use albscope::taxonomy::{Category, GeneratedBy};
use albscope_synth::scenarios::all;

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

/// (destination "ip:port", TCP payload) of every TCP packet, whatever the file format, link
/// type and tunnel (VXLAN: inner Ethernet; GENEVE: inner IP).
fn inner_payloads(pcap: &[u8]) -> Vec<(String, Vec<u8>)> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use pcap_parser::{Block, PcapBlockOwned, PcapError};
    fn slice(link: i32, data: &[u8]) -> Option<SlicedPacket<'_>> {
        let p = match link {
            1 => SlicedPacket::from_ethernet(data).ok()?,
            113 => SlicedPacket::from_linux_sll(data).ok()?,
            276 => SlicedPacket::from_ip(data.get(20..)?).ok()?,
            _ => SlicedPacket::from_ip(data).ok()?,
        };
        if let Some(TransportSlice::Udp(u)) = &p.transport {
            let inner = u.payload().get(8..)?;
            return match u.destination_port() {
                4789 => SlicedPacket::from_ethernet(inner).ok(),
                6081 => SlicedPacket::from_ip(inner).ok(),
                _ => None,
            };
        }
        Some(p)
    }
    let mut reader = pcap_parser::create_reader(1 << 20, pcap).expect("reader");
    let mut out = Vec::new();
    let mut link = 1;
    loop {
        match reader.next() {
            Ok((off, block)) => {
                {
                    let data = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            link = h.network.0;
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            link = idb.linktype.0;
                            None
                        }
                        PcapBlockOwned::Legacy(b) => Some(b.data),
                        PcapBlockOwned::NG(Block::EnhancedPacket(b)) => {
                            b.data.get(..b.caplen as usize)
                        }
                        _ => None,
                    };
                    let inner = data.and_then(|d| slice(link, d));
                    if let Some(p) = inner {
                        let dst = match &p.net {
                            Some(NetSlice::Ipv4(v)) => v.header().destination_addr().to_string(),
                            Some(NetSlice::Ipv6(v)) => {
                                format!("[{}]", v.header().destination_addr())
                            }
                            _ => String::new(),
                        };
                        if let Some(TransportSlice::Tcp(t)) = p.transport {
                            out.push((
                                format!("{dst}:{}", t.destination_port()),
                                t.payload().to_vec(),
                            ));
                        }
                    }
                }
                reader.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("{e:?}"),
        }
    }
    out
}

#[test]
fn ground_truth_matches_what_the_client_received() {
    // Captures where the front end is visible in clear text.
    // Captures where the client's front end is visible in clear text and complete.
    // h2c_streams: the front end is HTTP/2 (binary frames); its truth is checked through the
    // analysis (analyze_samples) and against tshark (h2_vs_tshark).
    let skip = [
        "backend-vantage",
        "tls-frontend",
        "http2-frontend",
        "h2-front-acks",
        "mirror-truncated",
        "h2c_streams",
    ];
    for s in all().into_iter().filter(|s| !skip.contains(&s.name)) {
        let (bytes, truth) = s.build_with_truth();
        let rows = inner_payloads(&bytes);
        for e in &truth {
            let to_client: Vec<&Vec<u8>> = rows
                .iter()
                .filter(|(dst, p)| dst == &e.client && p.starts_with(b"HTTP/1.1 "))
                .map(|(_, p)| p)
                .collect();
            let Some(status) = e.status else {
                continue;
            };
            let prefix = format!("HTTP/1.1 {status} ");
            let hit = to_client
                .iter()
                .find(|p| p.starts_with(prefix.as_bytes()))
                .unwrap_or_else(|| panic!("{}: no {status} to {}", s.name, e.client));
            let from_alb = String::from_utf8_lossy(hit).contains("Server: awselb/2.0\r\n");
            assert_eq!(
                from_alb,
                e.generated_by == Some(GeneratedBy::Lb),
                "{}: {e:?}",
                s.name
            );
        }
        // Exactly one complete response per request: per (client, status), the responses the
        // client got match the ground truth (an incomplete body's 200 headers count as extra).
        for e in truth.iter().filter(|e| e.status.is_some()) {
            let status = e.status.unwrap_or(0);
            let want = truth
                .iter()
                .filter(|x| x.client == e.client && x.status == Some(status))
                .count();
            let incomplete = truth
                .iter()
                .filter(|x| x.client == e.client && x.category == Category::IncompleteBody)
                .count();
            let prefix = format!("HTTP/1.1 {status} ");
            let got = rows
                .iter()
                .filter(|(dst, p)| dst == &e.client && p.starts_with(prefix.as_bytes()))
                .count();
            assert!(
                got >= want && got <= want + incomplete,
                "{}: {} got {got} x {status}, truth says {want}",
                s.name,
                e.client
            );
        }
    }
}
