//! The decoder never panics, whatever the bytes and link type.

use albscope::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{supported_link_types, DecodeConfig, Decoder, Transport};
use etherparse::PacketBuilder;
use proptest::prelude::*;

fn decode_all(dec: &mut Decoder, link: u32, data: &[u8], orig_extra: u32) {
    let p = PacketRef {
        pos: PacketPos::default(),
        ts: Timestamp::default(),
        link: LinkType(link),
        orig_len: (data.len() as u32).saturating_add(orig_extra),
        data,
    };
    if let Some(d) = dec.decode(&p) {
        if let Transport::Tcp(t) = &d.transport {
            assert!(
                t.payload.len() <= data.len() || matches!(t.payload, std::borrow::Cow::Owned(_))
            );
        }
    }
}

/// A VXLAN-in-Ethernet frame around an Ethernet/IPv4/TCP frame, as a seed for mutation.
fn seed_frame() -> Vec<u8> {
    let mut inner = vec![0u8; 12];
    inner.extend_from_slice(&[0x08, 0x00]);
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(1, 80, 5, 100)
        .write(&mut inner, b"GET / HTTP/1.1\r\n")
        .unwrap();
    let mut payload = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    payload.extend_from_slice(&inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 2], 64)
        .udp(1000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(
        link_index in 0usize..12,
        data in proptest::collection::vec(any::<u8>(), 0..200),
        extra in 0u32..3000,
    ) {
        let links: Vec<u32> = supported_link_types().iter().map(|(n, _)| *n).collect();
        let link = links.get(link_index).copied().unwrap_or(147);
        let mut dec = Decoder::new(DecodeConfig::default());
        decode_all(&mut dec, link, &data, extra);
        prop_assert_eq!(dec.stats().frames, 1);
    }

    #[test]
    fn mutated_tunnel_frames_never_panic(
        flips in proptest::collection::vec((0usize..120, any::<u8>()), 1..6),
        cut in 0usize..130,
    ) {
        let mut frame = seed_frame();
        for (at, val) in flips {
            if let Some(b) = frame.get_mut(at) {
                *b = val;
            }
        }
        frame.truncate(frame.len().saturating_sub(cut));
        let mut dec = Decoder::default();
        decode_all(&mut dec, 1, &frame, cut as u32);
        prop_assert_eq!(dec.stats().frames, 1);
    }

    #[test]
    fn random_fragment_streams_stay_bounded(
        frags in proptest::collection::vec(
            (any::<u16>(), 0u16..8192, any::<bool>(), 0usize..64), 1..60),
    ) {
        let cfg = DecodeConfig { max_fragment_datagrams: 4, max_fragment_bytes: 2048, ..Default::default() };
        let mut dec = Decoder::new(cfg);
        for (id, off, more, len) in frags {
            let mut h = etherparse::Ipv4Header::new(
                len as u16, 64, etherparse::IpNumber::TCP, [1, 1, 1, 1], [2, 2, 2, 2]).unwrap();
            h.identification = id % 8;
            h.more_fragments = more;
            h.fragment_offset = etherparse::IpFragOffset::try_new(off).unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut ip = h.to_bytes().to_vec();
            ip.extend(std::iter::repeat(0xab).take(len));
            decode_all(&mut dec, 101, &ip, 0);
            let (datagrams, bytes) = dec.reassembly_usage();
            prop_assert!(datagrams <= 4, "{} datagrams pending", datagrams);
            prop_assert!(bytes <= 2048, "{} bytes buffered", bytes);
        }
    }
}
