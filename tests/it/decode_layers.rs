//! Decoder tests over hand-built frames: link types, VLANs, mirror tunnels, fragments,
//! truncation, checksums and ICMP errors.

use albscope::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{
    supported_link_types, DecodeConfig, Decoded, Decoder, Encap, MirrorSession, Transport,
};
use etherparse::{IpFragOffset, IpNumber, Ipv4Header, PacketBuilder};
use std::net::IpAddr;

const CLIENT: [u8; 4] = [10, 0, 1, 5];
const TARGET: [u8; 4] = [10, 0, 2, 9];
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn pkt(link: LinkType, data: &[u8]) -> PacketRef<'_> {
    PacketRef {
        pos: PacketPos::default(),
        ts: Timestamp::default(),
        link,
        orig_len: data.len() as u32,
        data,
    }
}

/// Raw IPv4 packet carrying a TCP segment (PSH|ACK), correct checksums.
fn ipv4_tcp(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(CLIENT, TARGET, 64)
        .tcp(40000, 80, seq, 1000)
        .ack(7)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn ipv6_tcp(seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(v6(1), v6(2), 64)
        .tcp(40000, 443, seq, 1000)
        .syn()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn v6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = last;
    a
}

/// Ethernet II header + optional VLAN tags (tpid, vid) + ether type + payload.
fn eth(tags: &[(u16, u16)], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    for (tpid, vid) in tags {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&vid.to_be_bytes());
    }
    v.extend_from_slice(&ether_type.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn expect_tcp<'a>(d: &'a Decoded<'_>) -> &'a albscope::decode::TcpSegment<'a> {
    match &d.transport {
        Transport::Tcp(t) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

fn assert_plain_tcp(d: &Decoded<'_>, payload: &[u8]) {
    assert_eq!(d.src, IpAddr::from(CLIENT));
    assert_eq!(d.dst, IpAddr::from(TARGET));
    let t = expect_tcp(d);
    assert_eq!((t.src_port, t.dst_port, t.seq, t.ack), (40000, 80, 1234, 7));
    assert!(t.flags.ack && t.flags.psh && !t.flags.syn);
    assert_eq!(&*t.payload, payload);
    assert_eq!(t.missing_payload, 0);
    assert_eq!(t.checksum_ok, Some(true));
}

#[test]
fn ethernet_ipv4_tcp() {
    let ip = ipv4_tcp(1234, b"GET / HTTP/1.1\r\n\r\n");
    let frame = eth(&[], 0x0800, &ip);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_plain_tcp(&d, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(d.session, MirrorSession::DIRECT);
    assert_eq!(d.ip_len, ip.len() as u32);
    assert!(d.ip_id.is_some());
    assert_eq!(dec.stats().tcp, 1);
    assert_eq!(dec.stats().frames, 1);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let ip = ipv4_tcp(1234, b"");
    let mut frame = eth(&[], 0x0800, &ip);
    frame.resize(60, 0);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_plain_tcp(&d, b"");
}

#[test]
fn vlan_qinq_and_deep_stacks() {
    let ip = ipv4_tcp(1234, b"abc");
    let cases: Vec<Vec<(u16, u16)>> = vec![
        vec![(0x8100, 10)],
        vec![(0x88a8, 100), (0x8100, 10)],
        vec![(0x9100, 100), (0x8100, 10)],
        // deeper than etherparse's own 3-tag limit
        vec![
            (0x88a8, 1),
            (0x8100, 2),
            (0x8100, 3),
            (0x8100, 4),
            (0x8100, 5),
        ],
    ];
    for tags in cases {
        let frame = eth(&tags, 0x0800, &ip);
        let mut dec = Decoder::default();
        let d = dec
            .decode(&pkt(LinkType::ETHERNET, &frame))
            .unwrap_or_else(|| panic!("{tags:?}"));
        assert_plain_tcp(&d, b"abc");
    }
    // Beyond the cap the frame is not decoded, and counted.
    let tags: Vec<(u16, u16)> = (0..12).map(|i| (0x8100, i)).collect();
    let frame = eth(&tags, 0x0800, &ip);
    let mut dec = Decoder::default();
    assert!(dec.decode(&pkt(LinkType::ETHERNET, &frame)).is_none());
    assert_eq!(dec.stats().other + dec.stats().malformed, 1);
}

#[test]
fn raw_ip_link_types() {
    let ip4 = ipv4_tcp(1234, b"x");
    let ip6 = ipv6_tcp(99, b"y");
    for link in [LinkType::RAW, LinkType::RAW_ALT12, LinkType::RAW_ALT14] {
        let mut dec = Decoder::default();
        assert_plain_tcp(&dec.decode(&pkt(link, &ip4)).unwrap(), b"x");
        let d = dec.decode(&pkt(link, &ip6)).unwrap();
        assert_eq!(d.src, IpAddr::from(v6(1)));
        assert_eq!(expect_tcp(&d).seq, 99);
    }
    let mut dec = Decoder::default();
    assert_plain_tcp(&dec.decode(&pkt(LinkType::IPV4, &ip4)).unwrap(), b"x");
    let d = dec.decode(&pkt(LinkType::IPV6, &ip6)).unwrap();
    assert_eq!(expect_tcp(&d).dst_port, 443);
    assert_eq!(d.ip_id, None);
    assert_eq!(d.ip_len, ip6.len() as u32);
}

#[test]
fn linux_sll_and_sll2() {
    let ip = ipv4_tcp(1234, b"sll");
    // SLL: packet type, ARPHRD (772 = loopback, which etherparse alone rejects), addr len,
    // 8 address bytes, protocol.
    let mut sll = vec![0, 0, 0x03, 0x04, 0, 6];
    sll.extend_from_slice(&[0; 8]);
    sll.extend_from_slice(&0x0800u16.to_be_bytes());
    sll.extend_from_slice(&ip);
    let mut dec = Decoder::default();
    assert_plain_tcp(
        &dec.decode(&pkt(LinkType::LINUX_SLL, &sll)).unwrap(),
        b"sll",
    );

    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, 8 address bytes.
    let mut sll2 = Vec::new();
    sll2.extend_from_slice(&0x0800u16.to_be_bytes());
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(&3u32.to_be_bytes());
    sll2.extend_from_slice(&1u16.to_be_bytes());
    sll2.extend_from_slice(&[0, 6]);
    sll2.extend_from_slice(&[0; 8]);
    assert_eq!(sll2.len(), 20);
    sll2.extend_from_slice(&ip);
    assert_plain_tcp(
        &dec.decode(&pkt(LinkType::LINUX_SLL2, &sll2)).unwrap(),
        b"sll",
    );

    // Too short for the header: malformed.
    assert!(dec
        .decode(&pkt(LinkType::LINUX_SLL2, &sll2[..10]))
        .is_none());
    assert_eq!(dec.stats().malformed, 1);
}

#[test]
fn bsd_null_both_byte_orders_and_loop() {
    let ip4 = ipv4_tcp(1234, b"lo");
    let ip6 = ipv6_tcp(5, b"lo6");
    let mut dec = Decoder::default();
    for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let mut f = af.to_vec();
        f.extend_from_slice(&ip4);
        assert_plain_tcp(&dec.decode(&pkt(LinkType::NULL, &f)).unwrap(), b"lo");
        assert_plain_tcp(&dec.decode(&pkt(LinkType::LOOP, &f)).unwrap(), b"lo");
    }
    for af in [24u32, 28, 30] {
        for bytes in [af.to_le_bytes(), af.to_be_bytes()] {
            let mut f = bytes.to_vec();
            f.extend_from_slice(&ip6);
            let d = dec.decode(&pkt(LinkType::NULL, &f)).unwrap();
            assert_eq!(expect_tcp(&d).seq, 5);
        }
    }
    // An unknown address family is "other", not an error.
    let mut f = 17u32.to_le_bytes().to_vec();
    f.extend_from_slice(&ip4);
    assert!(dec.decode(&pkt(LinkType::NULL, &f)).is_none());
    assert_eq!(dec.stats().other, 1);
}

#[test]
fn unknown_link_type_is_counted_and_remembered() {
    let mut dec = Decoder::default();
    let ip = ipv4_tcp(1, b"");
    assert!(dec.decode(&pkt(LinkType(147), &ip)).is_none());
    assert!(dec.decode(&pkt(LinkType(147), &ip)).is_none());
    assert!(dec.decode(&pkt(LinkType(9), &ip)).is_none());
    assert_eq!(dec.stats().unknown_link, 3);
    assert_eq!(dec.stats().unknown_link_types, vec![9, 147]);
    let msg = albscope::decode::describe_unsupported_link(147);
    assert!(msg.starts_with("link type 147 is not supported; albscope reads: "));
    assert!(msg.contains("Ethernet (1)") && msg.contains("SLL2"));
    assert!(supported_link_types().iter().any(|(n, _)| *n == 276));
    assert!(!supported_link_types().iter().any(|(n, _)| *n == 147));
}

fn vxlan_frame(outer_src: [u8; 4], dport: u16, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(outer_src, [10, 9, 9, 9], 64)
        .udp(51000, dport)
        .write(&mut v, &payload)
        .unwrap();
    v
}

#[test]
fn vxlan_with_vni_and_outer_source() {
    let inner = eth(&[(0x8100, 7)], 0x0800, &ipv4_tcp(1234, b"inner"));
    let frame = vxlan_frame([172, 31, 0, 4], 4789, 0x00abcdef, &inner);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_plain_tcp(&d, b"inner");
    assert_eq!(
        d.session,
        MirrorSession {
            encap: Encap::Vxlan,
            vni: Some(0x00abcdef),
            outer_src: Some(IpAddr::from([172, 31, 0, 4])),
        }
    );
    assert_eq!(d.session.to_string(), "vxlan vni 11259375 from 172.31.0.4");
    assert_eq!(dec.stats().vxlan, 1);
    assert_eq!(dec.stats().tcp, 1);

    // A user-named port works too; the default port then is plain UDP.
    let cfg = DecodeConfig {
        vxlan_ports: vec![4790],
        ..Default::default()
    };
    let mut dec = Decoder::new(cfg);
    let frame = vxlan_frame([172, 31, 0, 4], 4790, 5, &inner);
    assert_eq!(
        dec.decode(&pkt(LinkType::ETHERNET, &frame))
            .unwrap()
            .session
            .vni,
        Some(5)
    );
    let frame = vxlan_frame([172, 31, 0, 4], 4789, 5, &inner);
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
}

#[test]
fn nested_tunnels_keep_outermost_session_and_are_capped() {
    let inner = eth(&[], 0x0800, &ipv4_tcp(1234, b"deep"));
    let mid = vxlan_frame([192, 168, 0, 2], 4789, 2, &inner);
    let outer = vxlan_frame([192, 168, 0, 1], 4789, 1, &mid);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &outer)).unwrap();
    assert_plain_tcp(&d, b"deep");
    assert_eq!(d.session.vni, Some(1));
    assert_eq!(d.session.outer_src, Some(IpAddr::from([192, 168, 0, 1])));
    assert_eq!(dec.stats().vxlan, 2);

    let cfg = DecodeConfig {
        max_tunnel_depth: 1,
        ..Default::default()
    };
    let mut dec = Decoder::new(cfg);
    let d = dec.decode(&pkt(LinkType::ETHERNET, &outer)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
    assert_eq!(dec.stats().bad_tunnel, 1);
}

#[test]
fn invalid_vxlan_is_other_and_counted() {
    let inner = eth(&[], 0x0800, &ipv4_tcp(1234, b"x"));
    let mut frame = vxlan_frame([172, 31, 0, 4], 4789, 1, &inner);
    // Clear the I flag (first VXLAN byte after Ethernet 14 + IPv4 20 + UDP 8).
    frame[42] = 0;
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
    assert_eq!(d.src, IpAddr::from([172, 31, 0, 4]));
    assert_eq!(d.session, MirrorSession::DIRECT);
    assert_eq!(dec.stats().bad_tunnel, 1);
    assert_eq!(dec.stats().other, 1);
    assert_eq!(dec.stats().vxlan, 0);
}

fn geneve_frame(proto: u16, options: &[u8], vni: u32, inner: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut payload = vec![(options.len() / 4) as u8, 0];
    payload.extend_from_slice(&proto.to_be_bytes());
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(options);
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 100, 0, 1], [10, 100, 0, 2], 64)
        .udp(51000, 6081)
        .write(&mut v, &payload)
        .unwrap();
    v
}

#[test]
fn geneve_with_options_carrying_ethernet_and_ipv4() {
    // One 8-byte option: class, type, length(1 word), 4 bytes of data.
    let options = [0x01, 0x08, 0x80, 0x01, 1, 2, 3, 4];
    let inner_eth = eth(&[], 0x0800, &ipv4_tcp(1234, b"gen-eth"));
    let frame = geneve_frame(0x6558, &options, 77, &inner_eth);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_plain_tcp(&d, b"gen-eth");
    assert_eq!(d.session.encap, Encap::Geneve);
    assert_eq!(d.session.vni, Some(77));
    assert_eq!(d.session.outer_src, Some(IpAddr::from([10, 100, 0, 1])));

    let frame = geneve_frame(0x0800, &options, 78, &ipv4_tcp(1234, b"gen-ip"));
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_plain_tcp(&d, b"gen-ip");
    assert_eq!(d.session.vni, Some(78));

    let frame = geneve_frame(0x86DD, &[], 79, &ipv6_tcp(3, b"gen-ip6"));
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_eq!(&*expect_tcp(&d).payload, b"gen-ip6");
    assert_eq!(dec.stats().geneve, 3);

    // Unknown protocol type: other, counted.
    let frame = geneve_frame(0x1234, &[], 80, &ipv6_tcp(3, b""));
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
    assert_eq!(dec.stats().bad_tunnel, 1);
}

#[test]
fn ipv6_tcp_with_extension_header() {
    // Hop-by-hop options header (8 bytes: next=TCP, len=0, PadN) before TCP.
    let plain = ipv6_tcp(42, b"hello6");
    let mut pkt6 = plain[..40].to_vec();
    pkt6[6] = 0; // next header: hop-by-hop
    let plen = u16::from_be_bytes([plain[4], plain[5]]) + 8;
    pkt6[4..6].copy_from_slice(&plen.to_be_bytes());
    pkt6.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    pkt6.extend_from_slice(&plain[40..]);
    let frame = eth(&[], 0x86DD, &pkt6);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    let t = expect_tcp(&d);
    assert_eq!((t.seq, t.dst_port), (42, 443));
    assert!(t.flags.syn);
    assert_eq!(&*t.payload, b"hello6");
    assert_eq!(t.checksum_ok, Some(true));
    assert_eq!(d.ip_len, pkt6.len() as u32);
}

/// Splits an IPv4 TCP packet into fragments whose payloads are `sizes` bytes (multiples of 8
/// except the last, which takes the rest).
fn fragments(ip: &[u8], id: u16, sizes: &[usize]) -> Vec<Vec<u8>> {
    let l4 = &ip[20..];
    let mut out = Vec::new();
    let mut off = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let last = i + 1 == sizes.len();
        let end = if last { l4.len() } else { off + size };
        let part = &l4[off..end];
        let mut h = Ipv4Header::new(part.len() as u16, 64, IpNumber::TCP, CLIENT, TARGET).unwrap();
        h.identification = id;
        h.more_fragments = !last;
        h.fragment_offset = IpFragOffset::try_new((off / 8) as u16).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut f = h.to_bytes().to_vec();
        f.extend_from_slice(part);
        out.push(f);
        off = end;
    }
    out
}

#[test]
fn ipv4_fragments_reassembled_in_and_out_of_order() {
    let body: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let ip = ipv4_tcp(1234, &body);
    let frags = fragments(&ip, 0x4242, &[64, 128, 0]);
    assert_eq!(frags.len(), 3);
    for order in [[0usize, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let mut dec = Decoder::default();
        let mut done = Vec::new();
        for &i in &order {
            let frame = eth(&[], 0x0800, &frags[i]);
            let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
            if let Transport::Tcp(t) = &d.transport {
                assert!(matches!(t.payload, std::borrow::Cow::Owned(_)));
                assert_eq!(d.ip_id, Some(0x4242));
                assert_eq!(d.ip_len, ip.len() as u32);
                done.push((t.seq, t.payload.to_vec(), t.checksum_ok, t.missing_payload));
            } else {
                assert!(matches!(d.transport, Transport::Other));
            }
        }
        assert_eq!(
            done,
            vec![(1234, body.clone(), Some(true), 0)],
            "order {order:?}"
        );
        assert_eq!(dec.stats().ip_fragments, 3);
        assert_eq!(dec.stats().ip_reassembled, 1);
        assert_eq!(dec.stats().tcp, 1);
        assert_eq!(dec.stats().other, 2);
    }
}

#[test]
fn reassembly_caps_drop_oldest_datagram() {
    let ip = ipv4_tcp(1, &[7u8; 200]);
    let cfg = DecodeConfig {
        max_fragment_datagrams: 2,
        ..Default::default()
    };
    let mut dec = Decoder::new(cfg);
    let mut lasts = Vec::new();
    for id in 0..3u16 {
        let frags = fragments(&ip, id, &[64, 0]);
        dec.decode(&pkt(LinkType::RAW, &frags[0])).unwrap();
        lasts.push(frags[1].clone());
    }
    assert_eq!(dec.stats().reassembly_evicted, 1);
    // The oldest (id 0) was dropped; ids 2 and 1 still complete (fed newest first, so that
    // id 0's lone last fragment does not itself evict one of them).
    let done: Vec<bool> = lasts
        .iter()
        .rev()
        .map(|f| {
            matches!(
                dec.decode(&pkt(LinkType::RAW, f)).unwrap().transport,
                Transport::Tcp(_)
            )
        })
        .collect();
    assert_eq!(done, vec![true, true, false]);
}

#[test]
fn truncated_capture_reports_missing_payload() {
    let body = vec![b'a'; 1000];
    let frame = eth(&[], 0x0800, &ipv4_tcp(1234, &body));
    let cut = &frame[..14 + 20 + 20 + 100];
    let p = PacketRef {
        orig_len: frame.len() as u32,
        ..pkt(LinkType::ETHERNET, cut)
    };
    let mut dec = Decoder::default();
    let d = dec.decode(&p).unwrap();
    let t = expect_tcp(&d);
    assert_eq!(t.payload.len(), 100);
    assert_eq!(t.missing_payload, 900);
    assert_eq!(t.checksum_ok, None);
    assert_eq!(d.ip_len, 1040);
    assert_eq!(dec.stats().truncated, 1);
    assert_eq!(dec.stats().bad_checksum, 0);
}

#[test]
fn a_snap_length_inside_the_headers_is_counted_apart() {
    // tcpdump -s 96 on a mirror target: the cut falls inside the inner TCP header.
    let inner = eth(&[], 0x0800, &ipv4_tcp(1234, &[b'z'; 500]));
    let frame = vxlan_frame([172, 31, 0, 4], 4789, 9, &inner);
    let p = PacketRef {
        orig_len: frame.len() as u32,
        ..pkt(LinkType::ETHERNET, &frame[..96])
    };
    let mut dec = Decoder::default();
    let _ = dec.decode(&p);
    let s = dec.stats();
    assert_eq!((s.truncated, s.malformed, s.header_cut), (1, 1, 1));
    // Cut in the payload: truncated, not cut in the headers.
    let p = PacketRef {
        orig_len: frame.len() as u32,
        ..pkt(LinkType::ETHERNET, &frame[..200])
    };
    assert!(dec.decode(&p).is_some());
    assert_eq!((dec.stats().truncated, dec.stats().header_cut), (2, 1));
}

#[test]
fn mirror_truncation_inside_complete_vxlan_frame() {
    // The mirror session cut the inner packet; the outer frame is whole.
    let inner_ip = ipv4_tcp(1234, &[b'z'; 500]);
    let inner = eth(&[], 0x0800, &inner_ip[..20 + 20 + 60]);
    let frame = vxlan_frame([172, 31, 0, 4], 4789, 9, &inner);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    let t = expect_tcp(&d);
    assert_eq!(t.payload.len(), 60);
    assert_eq!(t.missing_payload, 440);
    assert_eq!(d.ip_len, 540);
    assert_eq!(dec.stats().truncated, 1);
}

#[test]
fn bad_checksum_is_counted_but_returned() {
    let mut ip = ipv4_tcp(1234, b"payload");
    let last = ip.len() - 1;
    ip[last] ^= 0xff;
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::RAW, &ip)).unwrap();
    let t = expect_tcp(&d);
    assert_eq!(t.checksum_ok, Some(false));
    assert_eq!(dec.stats().bad_checksum, 1);
    assert_eq!(dec.stats().tcp, 1);

    // Verification switched off: not checked, not counted.
    let cfg = DecodeConfig {
        verify_checksums: false,
        ..Default::default()
    };
    let mut dec = Decoder::new(cfg);
    let d = dec.decode(&pkt(LinkType::RAW, &ip)).unwrap();
    assert_eq!(expect_tcp(&d).checksum_ok, None);
    assert_eq!(dec.stats().bad_checksum, 0);
}

#[test]
fn icmp_host_unreachable_quoting_tcp() {
    let original = ipv4_tcp(0xdeadbeef, b"request");
    let router = [10, 0, 2, 1];
    let mut v = Vec::new();
    PacketBuilder::ipv4(router, CLIENT, 64)
        .icmpv4_raw(3, 1, [0; 4])
        .write(&mut v, &original[..28])
        .unwrap();
    let frame = eth(&[], 0x0800, &v);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::ETHERNET, &frame)).unwrap();
    assert_eq!(d.src, IpAddr::from(router));
    assert_eq!(d.dst, IpAddr::from(CLIENT));
    let Transport::IcmpError(e) = &d.transport else {
        panic!("{:?}", d.transport)
    };
    assert!(!e.v6);
    assert_eq!((e.icmp_type, e.code), (3, 1));
    assert_eq!(
        e.description,
        "destination unreachable: host unreachable (type 3, code 1)"
    );
    assert_eq!(e.quoted_src, IpAddr::from(CLIENT));
    assert_eq!(e.quoted_dst, IpAddr::from(TARGET));
    assert_eq!((e.quoted_src_port, e.quoted_dst_port), (40000, 80));
    assert_eq!(e.quoted_seq, Some(0xdeadbeef));
    assert_eq!(dec.stats().icmp_errors, 1);

    // Administratively prohibited, and an ICMP error quoting UDP is "other".
    let mut v = Vec::new();
    PacketBuilder::ipv4(router, CLIENT, 64)
        .icmpv4_raw(3, 13, [0; 4])
        .write(&mut v, &original[..28])
        .unwrap();
    let d = dec.decode(&pkt(LinkType::RAW, &v)).unwrap();
    let Transport::IcmpError(e) = &d.transport else {
        panic!()
    };
    assert_eq!(
        e.description,
        "destination unreachable: communication administratively prohibited (type 3, code 13)"
    );
    let mut udp = Vec::new();
    PacketBuilder::ipv4(CLIENT, TARGET, 64)
        .udp(1, 2)
        .write(&mut udp, b"x")
        .unwrap();
    let mut v = Vec::new();
    PacketBuilder::ipv4(router, CLIENT, 64)
        .icmpv4_raw(3, 3, [0; 4])
        .write(&mut v, &udp[..28])
        .unwrap();
    let d = dec.decode(&pkt(LinkType::RAW, &v)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
}

#[test]
fn icmpv6_port_unreachable_quoting_tcp() {
    let original = ipv6_tcp(77, b"hi");
    let mut v = Vec::new();
    PacketBuilder::ipv6(v6(9), v6(1), 64)
        .icmpv6_raw(1, 4, [0; 4])
        .write(&mut v, &original[..48])
        .unwrap();
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::IPV6, &v)).unwrap();
    assert_eq!(d.src, IpAddr::from(v6(9)));
    let Transport::IcmpError(e) = &d.transport else {
        panic!("{:?}", d.transport)
    };
    assert!(e.v6);
    assert_eq!(
        e.description,
        "destination unreachable: port unreachable (ICMPv6 type 1, code 4)"
    );
    assert_eq!((e.quoted_src_port, e.quoted_dst_port), (40000, 443));
    assert_eq!(e.quoted_seq, Some(77));
    assert_eq!(e.quoted_dst, IpAddr::from(v6(2)));
}

#[test]
fn non_ip_and_garbage_frames() {
    let mut dec = Decoder::default();
    // ARP
    let arp = eth(&[], 0x0806, &[0u8; 28]);
    assert!(dec.decode(&pkt(LinkType::ETHERNET, &arp)).is_none());
    // IPv4 ether type with a broken header
    let bad = eth(&[], 0x0800, &[0x45, 0, 0]);
    assert!(dec.decode(&pkt(LinkType::ETHERNET, &bad)).is_none());
    // Runt frame
    assert!(dec.decode(&pkt(LinkType::ETHERNET, &[1, 2, 3])).is_none());
    // TCP with its header cut: Some(Other), malformed
    let ip = ipv4_tcp(1, b"");
    let d = dec.decode(&pkt(LinkType::RAW, &ip[..30])).unwrap();
    assert!(matches!(d.transport, Transport::Other));
    let s = dec.stats();
    assert_eq!(s.frames, 4);
    assert_eq!(s.other, 1);
    assert_eq!(s.malformed, 3);
}

#[test]
fn ipv6_fragments_reassembled() {
    let body: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
    let full = ipv6_tcp(555, &body);
    let l4 = &full[40..];
    let split = 96;
    let frag = |off: usize, part: &[u8], more: bool| {
        let mut v = full[..40].to_vec();
        v[6] = 44; // next header: fragment
        v[4..6].copy_from_slice(&((part.len() + 8) as u16).to_be_bytes());
        v.extend_from_slice(&[6, 0]);
        v.extend_from_slice(&(((off / 8) as u16) << 3 | u16::from(more)).to_be_bytes());
        v.extend_from_slice(&0x01020304u32.to_be_bytes());
        v.extend_from_slice(part);
        v
    };
    let second = frag(split, &l4[split..], false);
    let first = frag(0, &l4[..split], true);
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::IPV6, &second)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
    let d = dec.decode(&pkt(LinkType::IPV6, &first)).unwrap();
    let t = expect_tcp(&d);
    assert_eq!(t.seq, 555);
    assert_eq!(&*t.payload, &body[..]);
    assert_eq!(t.checksum_ok, Some(true));
    assert_eq!(dec.stats().ip_fragments, 2);
    assert_eq!(dec.stats().ip_reassembled, 1);
}

#[test]
fn truncated_fragment_is_dropped_and_counted() {
    let ip = ipv4_tcp(1, &[1u8; 200]);
    let frags = fragments(&ip, 9, &[64, 0]);
    let cut = &frags[0][..40];
    let p = PacketRef {
        orig_len: frags[0].len() as u32,
        ..pkt(LinkType::RAW, cut)
    };
    let mut dec = Decoder::default();
    assert!(matches!(
        dec.decode(&p).unwrap().transport,
        Transport::Other
    ));
    assert_eq!(dec.stats().fragments_dropped, 1);
    assert_eq!(dec.stats().truncated, 1);
    assert_eq!(dec.reassembly_usage(), (0, 0));
}

#[test]
fn tso_capture_with_zero_total_length() {
    // Outgoing TSO packets captured on the host carry IPv4 total length 0.
    let mut ip = ipv4_tcp(1234, b"offloaded");
    ip[2] = 0;
    ip[3] = 0;
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::RAW, &ip)).unwrap();
    let t = expect_tcp(&d);
    assert_eq!(&*t.payload, b"offloaded");
    assert_eq!(t.missing_payload, 0);
    assert_eq!(t.checksum_ok, None);
    assert_eq!(d.ip_len, ip.len() as u32);
    assert_eq!(dec.stats().truncated, 0);
}

#[test]
fn icmpv6_quote_with_cut_extension_chain() {
    // Regression (found by fuzzing): the quoted IPv6 header announces destination options,
    // whose header in turn announces another one that the quote no longer contains. Walking
    // etherparse's extension iterator past the validated headers read out of bounds.
    let mut quoted = ipv6_tcp(1, b"")[..40].to_vec();
    quoted[6] = 60; // next header: destination options
    quoted.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    let mut v = Vec::new();
    PacketBuilder::ipv6(v6(9), v6(1), 64)
        .icmpv6_raw(1, 4, [0; 4])
        .write(&mut v, &quoted)
        .unwrap();
    let mut dec = Decoder::default();
    let d = dec.decode(&pkt(LinkType::IPV6, &v)).unwrap();
    assert!(matches!(d.transport, Transport::Other));
    assert_eq!(dec.stats().other, 1);
}
