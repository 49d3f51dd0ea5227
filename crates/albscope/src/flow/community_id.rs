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
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

/// The address in network byte order (4 or 16 bytes).
fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
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

    #[test]
    fn equal_addresses_order_by_port() {
        let a = ep("10.0.0.1:80");
        let b = ep("10.0.0.1:40000");
        assert_eq!(community_id(a, b), community_id(b, a));
        assert_ne!(community_id(a, b), community_id(a, ep("10.0.0.1:40001")));
    }
}
