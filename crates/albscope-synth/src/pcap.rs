//! Capture file writers: classic pcap (microsecond or nanosecond timestamps, either byte order)
//! and a minimal pcapng (SHB, one IDB with `if_tsresol`, EPBs), writing into any `io::Write`.

use std::io::{self, Write};

/// Timestamps on the scenario clock: nanoseconds since the Unix epoch.
pub type Nanos = u64;

/// Link-layer header types used by the writers (values from the tcpdump LINKTYPE registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// BSD loopback (4-byte host-order address family).
    Null,
    /// Ethernet II (optionally with 802.1Q tags).
    Ethernet,
    /// Raw IPv4/IPv6 packet, no link header.
    Raw,
    /// Linux "cooked" capture v1 (`tcpdump -i any`).
    LinuxSll,
    /// Linux "cooked" capture v2.
    LinuxSll2,
}

impl LinkType {
    /// The LINKTYPE_ number written in the file header / IDB.
    pub fn code(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
        }
    }
}

/// Timestamp resolution of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResolution {
    /// Magic 0xa1b2c3d4, microsecond fractions.
    Micro,
    /// Magic 0xa1b23c4d, nanosecond fractions.
    Nano,
}

/// Byte order of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little endian (what x86 tcpdump writes).
    Little,
    /// Big endian.
    Big,
}

fn put_u16(out: &mut Vec<u8>, order: ByteOrder, v: u16) {
    match order {
        ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
        ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
    }
}

fn put_u32(out: &mut Vec<u8>, order: ByteOrder, v: u32) {
    match order {
        ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
        ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
    }
}

/// Writer of classic libpcap files.
pub struct PcapWriter<W: Write> {
    out: W,
    res: TsResolution,
    order: ByteOrder,
    snaplen: u32,
    buf: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header and returns the writer.
    pub fn new(
        mut out: W,
        link: LinkType,
        snaplen: u32,
        res: TsResolution,
        order: ByteOrder,
    ) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        let magic = match res {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        put_u32(&mut h, order, magic);
        put_u16(&mut h, order, 2);
        put_u16(&mut h, order, 4);
        put_u32(&mut h, order, 0);
        put_u32(&mut h, order, 0);
        put_u32(&mut h, order, snaplen);
        put_u32(&mut h, order, link.code());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            res,
            order,
            snaplen,
            buf: Vec::with_capacity(16),
        })
    }

    /// Ethernet, microseconds, little endian, snaplen 262144: the usual tcpdump file.
    pub fn ethernet(out: W) -> io::Result<Self> {
        Self::new(
            out,
            LinkType::Ethernet,
            262_144,
            TsResolution::Micro,
            ByteOrder::Little,
        )
    }

    /// Writes one record. `data` is what was captured; `orig_len` the length on the wire
    /// (at least `data.len()`). Data beyond the snaplen is cut.
    pub fn write_packet(&mut self, ts: Nanos, data: &[u8], orig_len: usize) -> io::Result<()> {
        let cap = data.len().min(self.snaplen as usize);
        let secs = (ts / 1_000_000_000) as u32;
        let frac = match self.res {
            TsResolution::Micro => ((ts % 1_000_000_000) / 1000) as u32,
            TsResolution::Nano => (ts % 1_000_000_000) as u32,
        };
        self.buf.clear();
        put_u32(&mut self.buf, self.order, secs);
        put_u32(&mut self.buf, self.order, frac);
        put_u32(&mut self.buf, self.order, cap as u32);
        put_u32(&mut self.buf, self.order, orig_len.max(cap) as u32);
        self.out.write_all(&self.buf)?;
        self.out.write_all(data.get(..cap).unwrap_or(data))
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writer of a minimal pcapng file: one section, one interface, enhanced packet blocks.
pub struct PcapNgWriter<W: Write> {
    out: W,
    /// Timestamp units per second (10^tsresol).
    units_per_sec: u64,
    order: ByteOrder,
    snaplen: u32,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the Section Header Block and one Interface Description Block whose
    /// `if_tsresol` is 10^-`tsresol_exp` seconds (6 = µs, 9 = ns).
    pub fn new(
        mut out: W,
        link: LinkType,
        snaplen: u32,
        tsresol_exp: u8,
        order: ByteOrder,
    ) -> io::Result<Self> {
        let mut b = Vec::new();
        // SHB
        put_u32(&mut b, order, 0x0A0D_0D0A);
        put_u32(&mut b, order, 28);
        put_u32(&mut b, order, 0x1A2B_3C4D);
        put_u16(&mut b, order, 1);
        put_u16(&mut b, order, 0);
        let unknown_len = u64::MAX;
        match order {
            ByteOrder::Little => b.extend_from_slice(&unknown_len.to_le_bytes()),
            ByteOrder::Big => b.extend_from_slice(&unknown_len.to_be_bytes()),
        }
        put_u32(&mut b, order, 28);
        // IDB with if_tsresol option (code 9, length 1) + opt_endofopt
        let idb_len = 20 + 8 + 4;
        put_u32(&mut b, order, 1);
        put_u32(&mut b, order, idb_len);
        put_u16(&mut b, order, link.code() as u16);
        put_u16(&mut b, order, 0);
        put_u32(&mut b, order, snaplen);
        put_u16(&mut b, order, 9);
        put_u16(&mut b, order, 1);
        b.extend_from_slice(&[tsresol_exp, 0, 0, 0]);
        put_u16(&mut b, order, 0);
        put_u16(&mut b, order, 0);
        put_u32(&mut b, order, idb_len);
        out.write_all(&b)?;
        let units_per_sec = 10u64.saturating_pow(u32::from(tsresol_exp.min(9)));
        Ok(PcapNgWriter {
            out,
            units_per_sec,
            order,
            snaplen,
        })
    }

    /// Writes one Enhanced Packet Block on interface 0.
    pub fn write_packet(&mut self, ts: Nanos, data: &[u8], orig_len: usize) -> io::Result<()> {
        let cap = data.len().min(self.snaplen as usize);
        let padded = cap.div_ceil(4) * 4;
        let total = (32 + padded) as u32;
        let units = (ts / 1_000_000_000) * self.units_per_sec
            + (ts % 1_000_000_000) * self.units_per_sec / 1_000_000_000;
        let mut b = Vec::with_capacity(28);
        put_u32(&mut b, self.order, 6);
        put_u32(&mut b, self.order, total);
        put_u32(&mut b, self.order, 0);
        put_u32(&mut b, self.order, (units >> 32) as u32);
        put_u32(&mut b, self.order, units as u32);
        put_u32(&mut b, self.order, cap as u32);
        put_u32(&mut b, self.order, orig_len.max(cap) as u32);
        self.out.write_all(&b)?;
        self.out.write_all(data.get(..cap).unwrap_or(data))?;
        self.out.write_all(&[0u8; 3][..padded - cap])?;
        b.clear();
        put_u32(&mut b, self.order, total);
        self.out.write_all(&b)
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::{PcapBlockOwned, PcapError};

    fn read_all(bytes: &[u8]) -> Vec<(u64, Vec<u8>, u32)> {
        let mut reader = pcap_parser::create_reader(65536, bytes).expect("reader");
        let mut out = Vec::new();
        let mut if_res: u64 = 1_000_000;
        let mut legacy_nano = false;
        loop {
            match reader.next() {
                Ok((off, block)) => {
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            legacy_nano = h.is_nanosecond_precision();
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let ns = if legacy_nano {
                                b.ts_usec as u64
                            } else {
                                b.ts_usec as u64 * 1000
                            };
                            out.push((
                                b.ts_sec as u64 * 1_000_000_000 + ns,
                                b.data.to_vec(),
                                b.origlen,
                            ));
                        }
                        PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(idb)) => {
                            if_res = idb.ts_resolution().unwrap_or(1_000_000);
                        }
                        PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(epb)) => {
                            let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                            let ns = units / if_res * 1_000_000_000
                                + units % if_res * 1_000_000_000 / if_res;
                            out.push((ns, epb.data[..epb.caplen as usize].to_vec(), epb.origlen));
                        }
                        _ => {}
                    }
                    reader.consume(off);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
                Err(e) => panic!("parse error {e:?}"),
            }
        }
        out
    }

    const TS: Nanos = 1_765_471_377_123_456_789;

    #[test]
    fn classic_variants_roundtrip() {
        for res in [TsResolution::Micro, TsResolution::Nano] {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let mut w =
                    PcapWriter::new(Vec::new(), LinkType::Ethernet, 64, res, order).expect("hdr");
                w.write_packet(TS, &[1, 2, 3, 4, 5], 5).expect("w");
                w.write_packet(TS + 1000, &[9u8; 100], 120).expect("w");
                let bytes = w.into_inner().expect("inner");
                let pkts = read_all(&bytes);
                assert_eq!(pkts.len(), 2);
                let want = match res {
                    TsResolution::Micro => TS / 1000 * 1000,
                    TsResolution::Nano => TS,
                };
                assert_eq!(pkts[0].0, want, "{res:?} {order:?}");
                assert_eq!(pkts[0].1, vec![1, 2, 3, 4, 5]);
                assert_eq!(pkts[1].1.len(), 64, "cut to snaplen");
                assert_eq!(pkts[1].2, 120);
            }
        }
    }

    #[test]
    fn pcapng_roundtrip() {
        for exp in [6u8, 9] {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let mut w =
                    PcapNgWriter::new(Vec::new(), LinkType::Raw, 65535, exp, order).expect("hdr");
                w.write_packet(TS, &[0x45, 0, 0, 5, 7], 40).expect("w");
                let bytes = w.into_inner().expect("inner");
                assert_eq!(bytes.len() % 4, 0);
                let pkts = read_all(&bytes);
                assert_eq!(pkts.len(), 1);
                let want = if exp == 6 { TS / 1000 * 1000 } else { TS };
                assert_eq!(pkts[0].0, want);
                assert_eq!(pkts[0].1, vec![0x45, 0, 0, 5, 7]);
                assert_eq!(pkts[0].2, 40);
            }
        }
    }
}
