//! A pcapng writer (little-endian): a Section Header Block, one Interface Description Block per
//! link type (nanosecond timestamps, `if_tsresol` = 9) and an Enhanced Packet Block per packet,
//! with packet comments (`opt_comment`) where given. Every block and option is padded to 32
//! bits and carries its total length at both ends, as the pcapng specification
//! (draft-ietf-opsawg-pcapng) requires.

use crate::capture::{LinkType, Timestamp};
use std::io::{self, Write};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_TSRESOL: u16 = 9;
/// Longest option value (its length field is 16 bits).
const MAX_OPTION: usize = u16::MAX as usize;

/// One packet to write.
#[derive(Clone, Copy, Debug)]
pub struct NgPacket<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type (one interface is written per distinct link type).
    pub link: LinkType,
    /// Length on the wire (at least the captured length is written).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Packet comments (each one `opt_comment`; longer than 65,535 bytes are cut at a
    /// character boundary).
    pub comments: &'a [String],
}

/// Appends one option (code, length, value padded to 32 bits).
fn option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = value.get(..value.len().min(MAX_OPTION)).unwrap_or(value);
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    buf.extend_from_slice(value);
    buf.extend_from_slice(&[0u8; 3][..pad4(value.len())]);
}

/// A comment cut to the option limit at a character boundary.
fn comment_bytes(c: &str) -> &[u8] {
    if c.len() <= MAX_OPTION {
        return c.as_bytes();
    }
    let mut end = MAX_OPTION;
    while !c.is_char_boundary(end) {
        end -= 1;
    }
    c.get(..end).unwrap_or("").as_bytes()
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Writes one block: type, total length, body padded to 32 bits, total length again.
fn block(w: &mut dyn Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let pad = pad4(body.len());
    let len = u32::try_from(12 + body.len() + pad)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block over 4 GiB"))?;
    w.write_all(&kind.to_le_bytes())?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(body)?;
    w.write_all(&[0u8; 3][..pad])?;
    w.write_all(&len.to_le_bytes())
}

/// Writes `packets` as one pcapng section; `snaplen` is written on every interface.
pub fn write_pcapng(w: &mut dyn Write, packets: &[NgPacket<'_>], snaplen: u32) -> io::Result<()> {
    let mut links: Vec<LinkType> = Vec::new();
    for p in packets {
        if !links.contains(&p.link) {
            links.push(p.link);
        }
    }
    if links.is_empty() {
        links.push(LinkType::ETHERNET);
    }
    let mut shb = Vec::with_capacity(40);
    shb.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    // Section length not given.
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    option(&mut shb, SHB_USERAPPL, b"albscope");
    option(&mut shb, OPT_ENDOFOPT, &[]);
    block(w, SHB, &shb)?;
    for l in &links {
        let mut idb = Vec::with_capacity(20);
        idb.extend_from_slice(&u16::try_from(l.0).unwrap_or(0).to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&snaplen.to_le_bytes());
        option(&mut idb, IF_TSRESOL, &[9]);
        option(&mut idb, OPT_ENDOFOPT, &[]);
        block(w, IDB, &idb)?;
    }
    let mut epb = Vec::new();
    for p in packets {
        let iface = links.iter().position(|l| *l == p.link).unwrap_or(0);
        let ts = u64::try_from(p.ts.0).unwrap_or(0);
        let cap = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
        epb.clear();
        epb.extend_from_slice(&u32::try_from(iface).unwrap_or(0).to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&cap.to_le_bytes());
        epb.extend_from_slice(&p.orig_len.max(cap).to_le_bytes());
        epb.extend_from_slice(p.data);
        epb.extend_from_slice(&[0u8; 3][..pad4(p.data.len())]);
        if !p.comments.is_empty() {
            for c in p.comments {
                option(&mut epb, OPT_COMMENT, comment_bytes(c));
            }
            option(&mut epb, OPT_ENDOFOPT, &[]);
        }
        block(w, EPB, &epb)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
