//! TCP checksum (RFC 793 / RFC 1071) over the pseudo header and the segment, summing 64-bit
//! words in add-with-carry chains: the same value etherparse's
//! `TcpSlice::calc_checksum_*` gives, at a fraction of the cost (it is computed for every
//! completely captured segment).

use std::net::IpAddr;

/// The checksum a TCP segment (`segment` = header and payload, its checksum field included but
/// not counted) should carry between `src` and `dst`; `None` when the segment is too long for
/// the pseudo header's length field (or the addresses are of different families, when both are
/// taken as IPv4 zero addresses, as etherparse did).
pub(super) fn tcp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Option<u16> {
    // Words are summed in native byte order (RFC 1071: the one's complement sum of byte-swapped
    // words is the byte-swapped sum), as wider native words (2^16 = 1 modulo 0xffff, so a
    // 32- or 64-bit word is the sum of its 16-bit words); numbers (length, protocol) are added
    // as the words their big-endian bytes make. The segment is summed in one pass, its
    // checksum field included (no split around bytes 16..18: a call of per-part work fewer).
    let be = |v: u16| u64::from(u16::from_ne_bytes(v.to_be_bytes()));
    // The pseudo header, the protocol number and the checksum field's complement (adding it
    // takes the field out again: one's complement subtraction), in a sum of at most 37 bits.
    let mut sum: u64 = be(6);
    match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(segment.len()).ok()?;
            sum += fold_128(u64_pair_sum(s.octets()) + u64_pair_sum(d.octets()));
            sum += be((len >> 16) as u16) + be(len as u16);
        }
        (s, d) => {
            let len = u16::try_from(segment.len()).ok()?;
            if let (IpAddr::V4(s), IpAddr::V4(d)) = (s, d) {
                sum += u64::from(u32::from_ne_bytes(s.octets()));
                sum += u64::from(u32::from_ne_bytes(d.octets()));
            }
            sum += be(len);
        }
    }
    let body = match segment.get(16..18) {
        Some(&[a, b]) => {
            sum += u64::from(!u16::from_ne_bytes([a, b]));
            segment
        }
        _ => segment.get(..16).unwrap_or(segment),
    };
    sum += sum_words(body);
    Some(!u16::from_be_bytes(fold(sum).to_ne_bytes()))
}

/// The sum of the two native 64-bit words of an IPv6 address (at most 65 bits).
fn u64_pair_sum(b: [u8; 16]) -> u128 {
    let v = u128::from_ne_bytes(b);
    (v >> 64) + (v & u128::from(u64::MAX))
}

/// Sum of the native-order 16-bit words of `bytes` (a last odd byte padded with a zero), at
/// most 34 bits, the same value modulo 0xffff: 64-bit words added in a chain of
/// add-with-carry, eight to a block (one instruction a word), each block's last carry added
/// back in at bit 0 (2^64 = 1 modulo 0xffff, RFC 1071's end-around carry), then the last part
/// word.
fn sum_words(bytes: &[u8]) -> u64 {
    let mut blocks = bytes.chunks_exact(64);
    let mut acc = 0u64;
    for block in &mut blocks {
        let mut carry = false;
        for w in block.chunks_exact(8) {
            let w = u64::from_ne_bytes(w.try_into().unwrap_or([0; 8]));
            (acc, carry) = add_with_carry(acc, w, carry);
        }
        acc = end_around(acc, u64::from(carry));
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        acc = end_around(acc, u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])));
    }
    (acc & 0xffff_ffff) + (acc >> 32) + part_word(words.remainder())
}

/// `a + b + carry` and its carry out: `u64::carrying_add` (newer than the crate's minimum Rust),
/// which the compiler makes one `adc`.
#[inline(always)]
fn add_with_carry(a: u64, b: u64, carry: bool) -> (u64, bool) {
    let (sum, c1) = a.overflowing_add(b);
    let (sum, c2) = sum.overflowing_add(u64::from(carry));
    (sum, c1 | c2)
}

/// `acc + w` with the carry out of 64 bits added back in at bit 0 (2^64 = 1 modulo 0xffff);
/// that cannot carry again (a sum that carried is at most 2^64 - 2).
#[inline(always)]
fn end_around(acc: u64, w: u64) -> u64 {
    let (sum, carry) = acc.overflowing_add(w);
    sum + u64::from(carry)
}

/// What a part word of up to 7 bytes (starting at an even offset) adds, modulo 0xffff, as
/// its zero-padded 64-bit word would: its 4- and 2-byte pieces as native words (a piece's
/// place in the word is a multiple of 16 bits, and 2^16 = 1 modulo 0xffff), and a last odd
/// byte as the first byte of a native 16-bit word. (A copy of a run-time length into an 8-byte
/// word was a memcpy call per segment.)
fn part_word(b: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut rest = b;
    if let Some((four, tail)) = rest.split_first_chunk::<4>() {
        sum += u64::from(u32::from_ne_bytes(*four));
        rest = tail;
    }
    if let Some((two, tail)) = rest.split_first_chunk::<2>() {
        sum += u64::from(u16::from_ne_bytes(*two));
        rest = tail;
    }
    if let Some(&last) = rest.first() {
        sum += u64::from(u16::from_ne_bytes([last, 0]));
    }
    sum
}

/// Folds a 128-bit sum to 33 bits, keeping its value modulo 0xffff (2^64 = 2^32 = 1).
fn fold_128(sum: u128) -> u64 {
    let sum = (sum & u128::from(u64::MAX)) + (sum >> 64);
    let sum = ((sum & u128::from(u64::MAX)) + (sum >> 64)) as u64;
    (sum & 0xffff_ffff) + (sum >> 32)
}

/// Folds a sum of 16-bit words to 16 bits with end-around carry, in four fixed steps (enough
/// for any 64-bit sum); a sum that is not zero folds to 1..=0xffff. Every sum here holds the
/// protocol number, so the result is the one 16-bit value of its class modulo 0xffff, whatever
/// the order the words were added in.
fn fold(sum: u64) -> u16 {
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    ((sum & 0xffff) + (sum >> 16)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::TcpSlice;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A TCP header of `header_len` bytes (data offset set) followed by `payload`.
    fn segment(header: &[u8; 20], options: usize, payload: &[u8]) -> Vec<u8> {
        let mut s = header.to_vec();
        let header_len = 20 + options * 4;
        s[12] = ((header_len / 4) as u8) << 4 | (s[12] & 0x0f);
        s.extend(std::iter::repeat(1u8).take(options * 4));
        s.extend_from_slice(payload);
        s
    }

    /// Whether two checksums are the same one's complement value (0 and 0xffff both zero).
    fn same(a: u16, b: u16) -> bool {
        a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
    }

    proptest! {
        /// Agrees with etherparse on arbitrary headers, options, payloads and addresses.
        #[test]
        fn matches_etherparse(
            header in any::<[u8; 20]>(),
            options in 0usize..=10,
            payload in proptest::collection::vec(any::<u8>(), 0..3000),
            s4 in any::<[u8; 4]>(), d4 in any::<[u8; 4]>(),
            s6 in any::<[u8; 16]>(), d6 in any::<[u8; 16]>(),
        ) {
            let seg = segment(&header, options, &payload);
            let tcp = TcpSlice::from_slice(&seg).expect("valid header");
            let v4 = tcp_checksum(Ipv4Addr::from(s4).into(), Ipv4Addr::from(d4).into(), &seg);
            let want = tcp.calc_checksum_ipv4(s4, d4).expect("fits");
            prop_assert!(same(v4.expect("fits"), want), "{:?} vs {want}", v4);
            let v6 = tcp_checksum(Ipv6Addr::from(s6).into(), Ipv6Addr::from(d6).into(), &seg);
            let want = tcp.calc_checksum_ipv6(s6, d6).expect("fits");
            prop_assert!(same(v6.expect("fits"), want), "{:?} vs {want}", v6);
        }
    }

    /// RFC 1071 written out: the one's complement sum of big-endian 16-bit words of the
    /// pseudo header and the segment (checksum field as zero, an odd last byte padded).
    fn plain_sum(src: [u8; 4], dst: [u8; 4], segment: &[u8]) -> u16 {
        let mut bytes = [&src[..], &dst[..], &[0, 6]].concat();
        bytes.extend_from_slice(&(segment.len() as u16).to_be_bytes());
        let mut seg = segment.to_vec();
        for i in [16, 17] {
            if let Some(b) = seg.get_mut(i) {
                *b = 0;
            }
        }
        bytes.extend_from_slice(&seg);
        let mut sum: u64 = bytes
            .chunks(2)
            .map(|w| u64::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// Every length around the 64-byte blocks and the part word, with bytes that make every
    /// add carry (all ones) or none, agrees with the plain sum.
    #[test]
    fn carries_across_blocks_match_the_plain_sum() {
        for fill in [0xffu8, 0xfe, 0x80, 0x01, 0x00] {
            let data = vec![fill; 600];
            for len in 0..data.len() {
                let seg = &data[..len];
                for (s, d) in [([0xff; 4], [0xff; 4]), ([10, 0, 0, 1], [10, 0, 0, 2])] {
                    let got = tcp_checksum(IpAddr::from(s), IpAddr::from(d), seg);
                    let want = plain_sum(s, d, seg);
                    assert!(same(got.expect("fits"), want), "fill {fill:#x} len {len}");
                }
            }
        }
    }

    #[test]
    fn a_known_segment_and_the_limits() {
        // SYN 10.0.0.1:40000 -> 10.0.0.2:80, checksum 0 in the header: the right value is the
        // complement of the sum of the pseudo header and header words.
        let mut seg = [0u8; 20];
        seg[0..2].copy_from_slice(&40000u16.to_be_bytes());
        seg[2..4].copy_from_slice(&80u16.to_be_bytes());
        seg[12] = 5 << 4;
        seg[13] = 0x02;
        let src = IpAddr::from([10, 0, 0, 1]);
        let dst = IpAddr::from([10, 0, 0, 2]);
        let words: u32 = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20 + 40000 + 80 + 0x5002;
        let folded = (words & 0xffff) + (words >> 16);
        assert_eq!(tcp_checksum(src, dst, &seg), Some(!(folded as u16)));
        // Too long for the IPv4 pseudo header's 16-bit length.
        let big = vec![0u8; 70_000];
        assert_eq!(tcp_checksum(src, dst, &big), None);
        let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert!(tcp_checksum(v6, v6, &big).is_some());
        // All ones, odd length: every add carries; still etherparse's value.
        let ones = segment(&[0xff; 20], 0, &[0xff; 65_001]);
        let tcp = TcpSlice::from_slice(&ones).expect("valid header");
        let want = tcp
            .calc_checksum_ipv6([0xff; 16], [0xff; 16])
            .expect("fits");
        let got = tcp_checksum(IpAddr::from([0xff; 16]), IpAddr::from([0xff; 16]), &ones);
        assert!(same(got.expect("fits"), want), "{got:?} vs {want}");
        // Shorter than a header: summed as it is, no panic.
        assert!(tcp_checksum(src, dst, &[1, 2, 3]).is_some());
    }
}
