//! Mirror tunnel headers: VXLAN (RFC 7348) and GENEVE (RFC 8926). etherparse has neither.

use super::link::NetInput;
use etherparse::EtherType;

/// A parsed tunnel header: the virtual network id and what it carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tunnel<'a> {
    /// VXLAN/GENEVE virtual network id (24 bits).
    pub vni: u32,
    /// The encapsulated packet.
    pub inner: NetInput<'a>,
}

/// Reads the 24-bit value at bytes `at..at+3`.
fn be24(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(3)?)?;
    Some((u32::from(*b.first()?) << 16) | (u32::from(*b.get(1)?) << 8) | u32::from(*b.get(2)?))
}

/// Parses an 8-byte VXLAN header (I flag must be set) followed by an Ethernet frame.
pub(crate) fn vxlan(payload: &[u8]) -> Option<Tunnel<'_>> {
    let flags = *payload.first()?;
    if flags & 0x08 == 0 {
        return None;
    }
    let vni = be24(payload, 4)?;
    let inner = payload.get(8..)?;
    Some(Tunnel {
        vni,
        inner: NetInput::Ethernet(inner),
    })
}

/// Parses a GENEVE header (version 0, variable options) carrying Ethernet, IPv4 or IPv6.
pub(crate) fn geneve(payload: &[u8]) -> Option<Tunnel<'_>> {
    let b0 = *payload.first()?;
    if b0 >> 6 != 0 {
        return None;
    }
    let opt_len = usize::from(b0 & 0x3f) * 4;
    let proto = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let vni = be24(payload, 4)?;
    let inner = payload.get(8usize.checked_add(opt_len)?..)?;
    let inner = match proto {
        0x6558 => NetInput::Ethernet(inner),
        0x0800 => NetInput::EtherType(EtherType::IPV4, inner),
        0x86DD => NetInput::EtherType(EtherType::IPV6, inner),
        _ => return None,
    };
    Some(Tunnel { vni, inner })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_header() {
        let t = vxlan(&[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xaa]).unwrap();
        assert_eq!(t.vni, 0x123456);
        assert!(matches!(t.inner, NetInput::Ethernet(&[0xaa])));
        assert!(vxlan(&[0x00, 0, 0, 0, 0x12, 0x34, 0x56, 0]).is_none());
        assert!(vxlan(&[0x08, 0, 0, 0, 0x12]).is_none());
    }

    #[test]
    fn geneve_header() {
        // 2 words of options, IPv4 payload.
        let mut h = vec![2, 0, 0x08, 0x00, 0, 0, 9, 0];
        h.extend_from_slice(&[0; 8]);
        h.push(0x45);
        let t = geneve(&h).unwrap();
        assert_eq!(t.vni, 9);
        assert!(matches!(
            t.inner,
            NetInput::EtherType(EtherType::IPV4, &[0x45])
        ));
        // Options longer than the datagram, wrong version, unknown protocol.
        assert!(geneve(&[8, 0, 0x65, 0x58, 0, 0, 9, 0]).is_none());
        assert!(geneve(&[0x40, 0, 0x65, 0x58, 0, 0, 9, 0]).is_none());
        assert!(geneve(&[0, 0, 0x12, 0x34, 0, 0, 9, 0]).is_none());
    }
}
