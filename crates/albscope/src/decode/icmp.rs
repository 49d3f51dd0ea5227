//! ICMP and ICMPv6 error messages that quote a TCP packet.

use super::IcmpError;
use etherparse::{ip_number, LaxIpSlice};

/// Name of an ICMPv4 error type and code, `None` when the type is not an error we report.
fn v4_names(icmp_type: u8, code: u8) -> Option<(&'static str, &'static str)> {
    let t = match icmp_type {
        3 => "destination unreachable",
        4 => "source quench",
        11 => "time exceeded",
        12 => "parameter problem",
        _ => return None,
    };
    let c = match (icmp_type, code) {
        (3, 0) => "network unreachable",
        (3, 1) => "host unreachable",
        (3, 2) => "protocol unreachable",
        (3, 3) => "port unreachable",
        (3, 4) => "fragmentation needed and DF set",
        (3, 5) => "source route failed",
        (3, 6) => "destination network unknown",
        (3, 7) => "destination host unknown",
        (3, 8) => "source host isolated",
        (3, 9) => "network administratively prohibited",
        (3, 10) => "host administratively prohibited",
        (3, 11) => "network unreachable for type of service",
        (3, 12) => "host unreachable for type of service",
        (3, 13) => "communication administratively prohibited",
        (3, 14) => "host precedence violation",
        (3, 15) => "precedence cutoff in effect",
        (4, _) => "source quench",
        (11, 0) => "TTL exceeded in transit",
        (11, 1) => "fragment reassembly time exceeded",
        (12, 0) => "pointer indicates the error",
        (12, 1) => "missing a required option",
        (12, 2) => "bad length",
        _ => "unknown code",
    };
    Some((t, c))
}

/// Name of an ICMPv6 error type and code, `None` when the type is not an error.
fn v6_names(icmp_type: u8, code: u8) -> Option<(&'static str, &'static str)> {
    let t = match icmp_type {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded",
        4 => "parameter problem",
        _ => return None,
    };
    let c = match (icmp_type, code) {
        (1, 0) => "no route to destination",
        (1, 1) => "communication with destination administratively prohibited",
        (1, 2) => "beyond scope of source address",
        (1, 3) => "address unreachable",
        (1, 4) => "port unreachable",
        (1, 5) => "source address failed ingress/egress policy",
        (1, 6) => "reject route to destination",
        (1, 7) => "error in source routing header",
        (2, _) => "packet too big",
        (3, 0) => "hop limit exceeded in transit",
        (3, 1) => "fragment reassembly time exceeded",
        (4, 0) => "erroneous header field encountered",
        (4, 1) => "unrecognized next header type",
        (4, 2) => "unrecognized IPv6 option",
        _ => "unknown code",
    };
    Some((t, c))
}

/// Human description of an ICMP error, e.g.
/// "destination unreachable: host unreachable (type 3, code 1)". `None` for non-error types.
pub fn describe_icmp_error(v6: bool, icmp_type: u8, code: u8) -> Option<String> {
    let (t, c) = if v6 {
        v6_names(icmp_type, code)?
    } else {
        v4_names(icmp_type, code)?
    };
    let family = if v6 { "ICMPv6 " } else { "" };
    Some(if t == c {
        format!("{t} ({family}type {icmp_type}, code {code})")
    } else {
        format!("{t}: {c} ({family}type {icmp_type}, code {code})")
    })
}

/// Whether an ICMP type is an error this decoder reports (cheap check before parsing).
pub(crate) fn is_error_type(v6: bool, icmp_type: u8) -> bool {
    if v6 {
        matches!(icmp_type, 1..=4)
    } else {
        matches!(icmp_type, 3 | 4 | 11 | 12)
    }
}

/// Parses the packet quoted by an ICMP error; `Some` when it is IP carrying the start of a TCP
/// header (at least the ports; the sequence number when 8 bytes are quoted).
pub(crate) fn quoted_tcp(v6: bool, icmp_type: u8, code: u8, quoted: &[u8]) -> Option<IcmpError> {
    if !is_error_type(v6, icmp_type) {
        return None;
    }
    let (ip, _) = LaxIpSlice::from_slice(quoted).ok()?;
    // A quoted non-first fragment carries no TCP header.
    let first_fragment = match &ip {
        LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
        LaxIpSlice::Ipv6(v6s) => super::ipv6::fragment_header(v6s.extensions())
            .map_or(true, |f| f.fragment_offset().value() == 0),
    };
    let payload = ip.payload();
    if payload.ip_number != ip_number::TCP || !first_fragment {
        return None;
    }
    let tcp = payload.payload;
    let src_port = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dst_port = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let quoted_seq = match tcp.get(4..8) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    };
    Some(IcmpError {
        v6,
        icmp_type,
        code,
        description: describe_icmp_error(v6, icmp_type, code)?,
        quoted_src: ip.source_addr(),
        quoted_dst: ip.destination_addr(),
        quoted_src_port: src_port,
        quoted_dst_port: dst_port,
        quoted_seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_type_and_code() {
        let d = |v6, t, c| describe_icmp_error(v6, t, c).unwrap();
        assert_eq!(
            d(false, 3, 3),
            "destination unreachable: port unreachable (type 3, code 3)"
        );
        assert_eq!(
            d(false, 3, 4),
            "destination unreachable: fragmentation needed and DF set (type 3, code 4)"
        );
        assert_eq!(d(false, 4, 0), "source quench (type 4, code 0)");
        assert_eq!(
            d(false, 11, 0),
            "time exceeded: TTL exceeded in transit (type 11, code 0)"
        );
        assert_eq!(
            d(false, 12, 2),
            "parameter problem: bad length (type 12, code 2)"
        );
        assert_eq!(
            d(false, 3, 99),
            "destination unreachable: unknown code (type 3, code 99)"
        );
        assert_eq!(
            d(true, 1, 1),
            "destination unreachable: communication with destination administratively \
             prohibited (ICMPv6 type 1, code 1)"
        );
        assert_eq!(d(true, 2, 0), "packet too big (ICMPv6 type 2, code 0)");
        assert_eq!(
            d(true, 3, 0),
            "time exceeded: hop limit exceeded in transit (ICMPv6 type 3, code 0)"
        );
        assert_eq!(
            d(true, 4, 1),
            "parameter problem: unrecognized next header type (ICMPv6 type 4, code 1)"
        );
        // Echo and other informational types are not errors.
        assert_eq!(describe_icmp_error(false, 8, 0), None);
        assert_eq!(describe_icmp_error(true, 128, 0), None);
    }

    #[test]
    fn short_quotes() {
        // IPv4 header (20 bytes, protocol TCP) + only the two ports: no sequence number.
        let mut q = vec![
            0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        q.extend_from_slice(&[0x1f, 0x90, 0x00, 0x50]);
        let e = quoted_tcp(false, 3, 1, &q).unwrap();
        assert_eq!((e.quoted_src_port, e.quoted_dst_port), (8080, 80));
        assert_eq!(e.quoted_seq, None);
        // Fewer than 4 TCP bytes, or not an error type: nothing.
        assert!(quoted_tcp(false, 3, 1, &q[..22]).is_none());
        assert!(quoted_tcp(false, 0, 0, &q).is_none());
        // A quoted non-first fragment carries no TCP header.
        let mut frag = q.clone();
        frag[7] = 1;
        assert!(quoted_tcp(false, 3, 1, &frag).is_none());
    }
}
