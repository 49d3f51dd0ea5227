//! Community ID flow hashing, version 1: the flow identifier Zeek, Suricata, Arkime, Elastic
//! and Wireshark share (<https://github.com/corelight/community-id-spec>), so a connection
//! albscope names can be looked up in their logs.
//!
//! `1:` + base64(SHA-1(seed (u16 BE) | src ip | dst ip | proto | 0 | src port (BE) | dst port
//! (BE))), where the endpoints are ordered so both directions hash alike: the smaller address
//! first, or the smaller port first when the addresses are equal.

use super::{ConnKey, Endpoint};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// IANA protocol number of TCP.
const TCP: u8 = 6;

/// The Community ID (v1, seed 0) of the TCP connection between `a` and `b` (either order):
/// `1:wCb3OG7yAFWelaUydu0D+125CLM=`.
pub fn community_id(a: Endpoint, b: Endpoint) -> String {
    community_id_seeded(a, b, 0)
}

/// The Community ID (v1) of the TCP connection between `a` and `b` with hash seed `seed`.
pub fn community_id_seeded(a: Endpoint, b: Endpoint, seed: u16) -> String {
    let (oa, ob) = (Octets::of(a.ip), Octets::of(b.ip));
    let ((src, so), (dst, dso)) = if (oa.bytes(), a.port) <= (ob.bytes(), b.port) {
        ((a, oa), (b, ob))
    } else {
        ((b, ob), (a, oa))
    };
    // The hashed message in one buffer (at most 2 + 16 + 16 + 2 + 4 bytes): no allocation.
    let mut msg = [0u8; 40];
    let mut len = 0;
    for part in [
        &seed.to_be_bytes()[..],
        so.bytes(),
        dso.bytes(),
        &[TCP, 0][..],
        &src.port.to_be_bytes()[..],
        &dst.port.to_be_bytes()[..],
    ] {
        if let Some(to) = msg.get_mut(len..len + part.len()) {
            to.copy_from_slice(part);
        }
        len += part.len();
    }
    let digest = Sha1::digest(msg.get(..len).unwrap_or(&msg));
    let mut id = String::with_capacity(2 + 28);
    id.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut id);
    id
}

/// An address in network byte order (4 or 16 bytes), on the stack.
#[derive(Clone, Copy)]
struct Octets {
    buf: [u8; 16],
    len: usize,
}

impl Octets {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => {
                let mut buf = [0u8; 16];
                buf[..4].copy_from_slice(&a.octets());
                Octets { buf, len: 4 }
            }
            IpAddr::V6(a) => Octets {
                buf: a.octets(),
                len: 16,
            },
        }
    }

    /// The 4 or 16 bytes (compared as the bytes, lexicographically).
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&self.buf)
    }
}

impl ConnKey {
    /// The connection's Community ID (v1, seed 0); the mirror session does not enter it.
    pub fn community_id(&self) -> String {
        community_id(self.client, self.server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').expect("ip:port");
        Endpoint {
            ip: ip.trim_matches(['[', ']']).parse().expect("ip"),
            port: port.parse().expect("port"),
        }
    }

    /// The spec's published TCP vectors (`baseline/README.md` of community-id-spec: seed 0 and
    /// seed 1). IPv6 is checked against tshark's `communityid` in tests/it/cli_conventions.
    #[test]
    fn matches_the_spec_test_vectors() {
        let cases = [
            (
                "1.2.3.4:1122",
                "5.6.7.8:3344",
                0,
                "1:wCb3OG7yAFWelaUydu0D+125CLM=",
            ),
            (
                "1.2.3.4:1122",
                "5.6.7.8:3344",
                1,
                "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=",
            ),
        ];
        for (a, b, seed, want) in cases {
            assert_eq!(
                community_id_seeded(ep(a), ep(b), seed),
                want,
                "{a} {b} {seed}"
            );
            assert_eq!(
                community_id_seeded(ep(b), ep(a), seed),
                want,
                "{b} {a} {seed}"
            );
        }
    }

    /// The straightforward form (addresses as byte vectors, hashed piece by piece).
    fn reference(a: Endpoint, b: Endpoint, seed: u16) -> String {
        let octets = |ip: IpAddr| match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let (src, dst) = if (octets(a.ip), a.port) <= (octets(b.ip), b.port) {
            (a, b)
        } else {
            (b, a)
        };
        let mut h = Sha1::new();
        h.update(seed.to_be_bytes());
        h.update(octets(src.ip));
        h.update(octets(dst.ip));
        h.update([TCP, 0]);
        h.update(src.port.to_be_bytes());
        h.update(dst.port.to_be_bytes());
        let digest = base64::engine::general_purpose::STANDARD.encode(h.finalize());
        format!("1:{digest}")
    }

    proptest::proptest! {
        /// Either family, either order, any seed: the same ID as the reference form.
        #[test]
        fn same_as_the_reference(
            a4: [u8; 4], a6: [u8; 16], b4: [u8; 4], b6: [u8; 16], a_v6: bool, b_v6: bool,
            pa: u16, pb: u16, seed: u16,
        ) {
            let ip = |v6: bool, v4b: [u8; 4], v6b: [u8; 16]| {
                if v6 { IpAddr::from(v6b) } else { IpAddr::from(v4b) }
            };
            let a = Endpoint { ip: ip(a_v6, a4, a6), port: pa };
            let b = Endpoint { ip: ip(b_v6, b4, b6), port: pb };
            proptest::prop_assert_eq!(community_id_seeded(a, b, seed), reference(a, b, seed));
        }
    }

    #[test]
    fn equal_addresses_order_by_port() {
        let a = ep("10.0.0.1:80");
        let b = ep("10.0.0.1:40000");
        assert_eq!(community_id(a, b), community_id(b, a));
        assert_ne!(community_id(a, b), community_id(a, ep("10.0.0.1:40001")));
    }
}
