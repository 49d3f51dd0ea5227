//! Link-layer dispatch: turns a frame of a given pcap link type into the bytes etherparse should
//! parse next (an Ethernet frame, an ether-typed payload, or a bare IP packet).

use crate::capture::LinkType;
use etherparse::EtherType;

/// Every link type the decoder reads, with a human name (for "not supported" messages).
const SUPPORTED: &[(u32, &str)] = &[
    (0, "BSD loopback (NULL)"),
    (1, "Ethernet"),
    (12, "raw IP"),
    (14, "raw IP"),
    (101, "raw IP"),
    (108, "OpenBSD loopback (LOOP)"),
    (113, "Linux cooked capture (SLL)"),
    (228, "raw IPv4"),
    (229, "raw IPv6"),
    (276, "Linux cooked capture v2 (SLL2)"),
];

/// The link types the decoder reads, as (LINKTYPE_ number, name).
pub fn supported_link_types() -> &'static [(u32, &'static str)] {
    SUPPORTED
}

/// A sentence for the report about an unsupported link type, e.g.
/// "link type 147 is not supported; albscope reads: Ethernet (1), ...".
pub fn describe_unsupported_link(link: u32) -> String {
    let mut names = String::new();
    for (i, (num, name)) in SUPPORTED.iter().enumerate() {
        if i > 0 {
            names.push_str(", ");
        }
        names.push_str(&format!("{name} ({num})"));
    }
    format!("link type {link} is not supported; albscope reads: {names}")
}

/// What comes after the link layer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NetInput<'a> {
    /// An Ethernet II frame (VLAN tags allowed).
    Ethernet(&'a [u8]),
    /// A payload identified by an ether type.
    EtherType(EtherType, &'a [u8]),
    /// An IP packet whose version nibble decides.
    Ip(&'a [u8]),
}

/// Result of peeling the link layer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Link<'a> {
    /// Something etherparse can parse.
    Net(NetInput<'a>),
    /// A frame of a known link type that carries no IP (ARP, other address families).
    NotIp,
    /// The link header itself is cut short.
    Malformed,
    /// A link type the decoder does not know.
    Unsupported,
}

/// BSD address families meaning IPv4 / IPv6 (IPv6 differs between BSDs: 24, 28, 30).
fn address_family(af: u32) -> Option<EtherType> {
    match af {
        2 => Some(EtherType::IPV4),
        24 | 28 | 30 => Some(EtherType::IPV6),
        _ => None,
    }
}

/// Reads a big-endian u16 at `at`.
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Peels the link layer of `data` according to `link`.
pub(crate) fn peel(link: LinkType, data: &[u8]) -> Link<'_> {
    match link {
        LinkType::ETHERNET => Link::Net(NetInput::Ethernet(data)),
        LinkType::RAW | LinkType::RAW_ALT12 | LinkType::RAW_ALT14 => match data.first() {
            None => Link::Malformed,
            Some(b) if b >> 4 == 4 || b >> 4 == 6 => Link::Net(NetInput::Ip(data)),
            Some(_) => Link::NotIp,
        },
        LinkType::IPV4 => Link::Net(NetInput::EtherType(EtherType::IPV4, data)),
        LinkType::IPV6 => Link::Net(NetInput::EtherType(EtherType::IPV6, data)),
        LinkType::NULL | LinkType::LOOP => {
            // NULL stores the family in the capturing host's byte order, LOOP in network
            // order; the values are small, so trying both orders is unambiguous.
            let Some(head) = data.get(..4) else {
                return Link::Malformed;
            };
            let mut af = [0u8; 4];
            af.copy_from_slice(head);
            let rest = data.get(4..).unwrap_or(&[]);
            match address_family(u32::from_le_bytes(af))
                .or_else(|| address_family(u32::from_be_bytes(af)))
            {
                Some(et) => Link::Net(NetInput::EtherType(et, rest)),
                None => Link::NotIp,
            }
        }
        // SLL and SLL2 are read by hand: etherparse's LinuxSllSlice rejects ARPHRD types such as
        // LOOPBACK (772) and NONE (tun devices) that "any"-interface captures carry.
        LinkType::LINUX_SLL => match (be16(data, 14), data.get(16..)) {
            (Some(proto), Some(rest)) => ether_typed(proto, rest),
            _ => Link::Malformed,
        },
        LinkType::LINUX_SLL2 => match (be16(data, 0), data.get(20..)) {
            (Some(proto), Some(rest)) => ether_typed(proto, rest),
            _ => Link::Malformed,
        },
        _ => Link::Unsupported,
    }
}

/// A cooked-capture protocol field: values below 0x0600 are not ether types (802.2, CAN...).
fn ether_typed(proto: u16, rest: &[u8]) -> Link<'_> {
    if proto < 0x0600 {
        Link::NotIp
    } else {
        Link::Net(NetInput::EtherType(EtherType(proto), rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_type_is_peeled() {
        let frame = [0u8; 64];
        for (num, _) in supported_link_types() {
            assert!(
                !matches!(peel(LinkType(*num), &frame), Link::Unsupported),
                "{num}"
            );
        }
        assert!(matches!(peel(LinkType(147), &frame), Link::Unsupported));
    }

    #[test]
    fn short_and_non_ip_headers() {
        assert!(matches!(peel(LinkType::NULL, &[2, 0]), Link::Malformed));
        assert!(matches!(
            peel(LinkType::LINUX_SLL, &[0; 15]),
            Link::Malformed
        ));
        assert!(matches!(peel(LinkType::RAW, &[]), Link::Malformed));
        assert!(matches!(peel(LinkType::RAW, &[0x10]), Link::NotIp));
        // SLL2 carrying 802.2 (protocol 0x0004) is not IP.
        let mut sll2 = vec![0, 4];
        sll2.extend_from_slice(&[0; 18]);
        assert!(matches!(peel(LinkType::LINUX_SLL2, &sll2), Link::NotIp));
    }
}
