//! One open capture file: the pcap-parser streaming reader over it, the per-section interface
//! table for pcapng, and the packet that is parsed but not yet handed out.
//!
//! Framing is checked here before pcap-parser parses a record: the record (or block) length is
//! read from its header, validated against caps, and the buffer is refilled (and grown up to
//! [`MAX_BUFFER`]) until the whole record is present. Only then is the parser called, so its
//! `Incomplete` always means "refill" and never hides a malformed block, and nothing is read
//! past a damaged record.

use super::blocks::{BlockReader, HandedOver};
use super::source::{Filling, Shared};
use super::time_guard::{clamp_ts, plausible, TimeGuard};
use super::{CaptureError, LinkType, PacketPos, PacketRef, Timestamp};
use pcap_parser::pcapng::SecretsType;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Initial read buffer per file; holds any record of the largest usual snaplen (256 KiB).
pub(crate) const INITIAL_BUFFER: usize = 512 * 1024;
/// The read buffer never grows beyond this; a record or block larger than it is damage.
pub(crate) const MAX_BUFFER: usize = 16 * 1024 * 1024;
/// Captured lengths above this (and above the snaplen) are absurd.
pub(crate) const MAX_PACKET: u32 = 256 * 1024;
/// A captured length may exceed a small snaplen by this much before it is called absurd.
const SNAPLEN_SLACK: u32 = 64 * 1024;

const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const OBSOLETE_PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
const BOM_LE: u32 = 0x1A2B_3C4D;
const BOM_BE: u32 = 0x4D3C_2B1A;

/// The reader stack under the parser.
pub(crate) type Stream = Filling<Box<dyn Read + Send>>;

/// pcap-parser's streaming reader for the file's format.
enum Parser {
    Legacy(LegacyPcapReader<Detachable>),
    Ng(PcapNGReader<Stream>),
    /// A classic pcap file whose reading was handed to another thread (`blocks`).
    Blocks(BlockReader),
}

impl Parser {
    fn it(&self) -> &dyn PcapReaderIterator {
        match self {
            Parser::Legacy(r) => r,
            Parser::Ng(r) => r,
            Parser::Blocks(r) => r,
        }
    }
    fn it_mut(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Parser::Legacy(r) => r,
            Parser::Ng(r) => r,
            Parser::Blocks(r) => r,
        }
    }
}

/// A classic pcap file's stream under its parser, which [`FileInput::hand_over`] can take out
/// (pcap-parser's reader does not give its stream back).
struct Detachable(Arc<Mutex<Option<Stream>>>);

impl Read for Detachable {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut stream) => stream.as_mut().map_or(Ok(0), |s| s.read(buf)),
            Err(_) => Ok(0),
        }
    }
}

/// Timestamp resolution of a pcapng interface.
#[derive(Copy, Clone, Debug)]
enum Resolution {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

impl Resolution {
    fn from_tsresol(v: u8) -> Self {
        if v & 0x80 == 0 {
            Resolution::Pow10(v)
        } else {
            Resolution::Pow2(v & 0x7f)
        }
    }

    /// Nanoseconds in `units` of this resolution.
    fn to_nanos(self, units: u64) -> i128 {
        let units = units as u128;
        let ns = match self {
            Resolution::Pow10(n) if n <= 9 => units * 10u128.pow(9 - n as u32),
            Resolution::Pow10(n) => match 10u128.checked_pow(n as u32 - 9) {
                Some(div) => units / div,
                None => 0,
            },
            Resolution::Pow2(n) => (units * 1_000_000_000) >> n,
        };
        ns as i128
    }
}

/// What a pcapng Interface Description Block said.
#[derive(Clone, Debug)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// `if_tsoffset`, seconds.
    offset_secs: i64,
}

/// Format-specific state.
enum Format {
    Legacy {
        link: LinkType,
        snaplen: u32,
        nanos: bool,
        big_endian: bool,
        record_header: usize,
    },
    Ng {
        big_endian: bool,
        interfaces: Vec<Interface>,
        last_ts: Timestamp,
    },
}

/// The packet parsed and waiting in the buffer to be handed out.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    data_start: usize,
    data_len: usize,
    record_len: usize,
    number: u64,
    offset: u64,
}

/// Why [`FileInput::open`] could not start reading.
pub(crate) enum OpenError {
    /// The header itself is cut or malformed: damage at packet 1.
    Damaged(String),
}

/// One open capture file.
pub(crate) struct FileInput {
    name: String,
    parser: Option<Parser>,
    format: Format,
    capacity: usize,
    shared: Arc<Shared>,
    parsed: u64,
    pending: Option<Pending>,
    /// Decompressed bytes consumed when the parser was dropped.
    final_bytes: u64,
    /// Timestamps that ran backwards, were implausible or overflowed.
    pub(crate) times: TimeGuard,
    /// TLS key logs from Decryption Secrets Blocks met and not yet taken.
    pub(crate) tls_key_logs: Vec<Vec<u8>>,
    /// The latest `isb_endtime` of the pcapng Interface Statistics Blocks met (when the
    /// recording of an interface ended, maybe after its last packet), on the file's clock.
    pub(crate) stats_end: Option<Timestamp>,
    /// A classic pcap file's stream, for [`FileInput::hand_over`].
    detachable: Option<Arc<Mutex<Option<Stream>>>>,
}

/// Outcome of trying to get more bytes into the buffer.
enum Fill {
    More,
    Eof,
}

fn read_u32(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn read_u16(b: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// Byte offset of `inner` within the buffer starting at address `base` with `len` bytes.
fn offset_in(base: usize, len: usize, inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(base)?;
    (start.checked_add(inner.len())? <= len).then_some(start)
}

/// A short reason for a parser error (never the raw input bytes).
fn parse_error_reason(what: &str, e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("malformed {what} ({kind:?})"),
        PcapError::OwnedNomError(_, kind) => format!("malformed {what} ({kind:?})"),
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::BufferTooSmall => {
            format!("malformed {what} (its contents overrun its length)")
        }
        other => format!("malformed {what} ({other})"),
    }
}

fn block_name(block_type: u32) -> String {
    match block_type {
        SHB_TYPE => "section header block".into(),
        IDB_TYPE => "interface description block".into(),
        OBSOLETE_PB_TYPE => "packet block".into(),
        SPB_TYPE => "simple packet block".into(),
        EPB_TYPE => "enhanced packet block".into(),
        other => format!("block of type {other:#x}"),
    }
}

/// The largest captured length accepted for a packet on an interface with `snaplen`.
fn caplen_limit(snaplen: u32) -> u32 {
    let snap = snaplen.min(MAX_BUFFER as u32 / 2);
    MAX_PACKET.max(snap)
}

/// Checks a captured length; returns the reason when it is absurd.
fn check_caplen(caplen: u32, snaplen: u32) -> Option<String> {
    let limit = caplen_limit(snaplen);
    if caplen > limit {
        return Some(format!(
            "absurd captured length {caplen} (limit {limit} bytes, snaplen {snaplen})"
        ));
    }
    if snaplen > 0 && caplen > snaplen.saturating_add(SNAPLEN_SLACK) {
        return Some(format!(
            "absurd captured length {caplen}: far above the snaplen {snaplen}"
        ));
    }
    None
}

impl FileInput {
    /// Starts reading a classic pcap stream whose first bytes were checked by the caller, with a
    /// read buffer of `initial` bytes (grown on demand).
    pub(crate) fn open_pcap(
        name: &str,
        stream: Stream,
        shared: Arc<Shared>,
        initial: usize,
    ) -> Result<(Self, &'static str), OpenError> {
        let source = Arc::new(Mutex::new(Some(stream)));
        let detachable = Detachable(Arc::clone(&source));
        let mut reader = LegacyPcapReader::new(initial, detachable).map_err(|e| {
            OpenError::Damaged(match e {
                PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                    "the file ends inside the 24-byte pcap file header".to_string()
                }
                other => format!("unreadable pcap file header ({other})"),
            })
        })?;
        let header = match reader.next() {
            Ok((_, PcapBlockOwned::LegacyHeader(h))) => h,
            _ => return Err(OpenError::Damaged("unreadable pcap file header".into())),
        };
        let format = if header.is_nanosecond_precision() {
            "pcap-ns"
        } else {
            "pcap"
        };
        let fmt = Format::Legacy {
            link: LinkType((header.network.0 as u32) & 0xffff),
            snaplen: header.snaplen,
            nanos: header.is_nanosecond_precision(),
            big_endian: header.is_bigendian(),
            record_header: if header.is_modified_format() { 24 } else { 16 },
        };
        reader.consume_noshift(header.size());
        Ok((
            FileInput {
                name: name.to_string(),
                parser: Some(Parser::Legacy(reader)),
                format: fmt,
                capacity: initial,
                shared,
                parsed: 0,
                pending: None,
                final_bytes: 0,
                times: TimeGuard::default(),
                tls_key_logs: Vec::new(),
                stats_end: None,
                detachable: Some(source),
            },
            format,
        ))
    }

    /// Starts reading a pcapng stream. `shb_len` is the first block's length, from the prefix.
    /// `initial` is the starting buffer size (smaller than [`INITIAL_BUFFER`] for tiny inputs).
    pub(crate) fn open_pcapng(
        name: &str,
        stream: Stream,
        shared: Arc<Shared>,
        shb_len: Option<u32>,
        initial: usize,
    ) -> Result<Self, OpenError> {
        let capacity = match shb_len {
            Some(len) if len as usize > MAX_BUFFER => {
                return Err(OpenError::Damaged(format!(
                    "section header block length {len} exceeds the {} MiB limit",
                    MAX_BUFFER >> 20
                )))
            }
            Some(len) if len as usize >= initial => (len as usize + 1).next_power_of_two(),
            _ => initial,
        };
        let reader = PcapNGReader::new(capacity, stream).map_err(|e| {
            OpenError::Damaged(match e {
                PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                    "the file ends inside the first section header block".to_string()
                }
                other => parse_error_reason("section header block", &other),
            })
        })?;
        Ok(FileInput {
            name: name.to_string(),
            parser: Some(Parser::Ng(reader)),
            format: Format::Ng {
                big_endian: false,
                interfaces: Vec::new(),
                last_ts: Timestamp::default(),
            },
            capacity,
            shared,
            parsed: 0,
            pending: None,
            final_bytes: 0,
            times: TimeGuard::default(),
            tls_key_logs: Vec::new(),
            stats_end: None,
            detachable: None,
        })
    }

    /// Takes this file's stream and unread bytes out of its parser, when it is an open classic
    /// pcap file of standard records (the only kind [`BlockReader`] parses); the parser is
    /// replaced by [`FileInput::take_blocks`]'s.
    pub(crate) fn hand_over(&mut self) -> Option<HandedOver> {
        let Format::Legacy {
            big_endian,
            record_header: 16,
            ..
        } = self.format
        else {
            return None;
        };
        let Some(Parser::Legacy(r)) = &self.parser else {
            return None;
        };
        let stream = self.detachable.as_ref()?.lock().ok()?.take()?;
        Some(HandedOver {
            stream,
            buffered: r.data().to_vec(),
            consumed: r.consumed(),
            exhausted: r.reader_exhausted(),
            big_endian,
        })
    }

    /// Parses on from `blocks` (made of what [`FileInput::hand_over`] took); the waiting packet
    /// stays where it was in the unread bytes.
    pub(crate) fn take_blocks(&mut self, blocks: BlockReader) {
        self.detachable = None;
        self.parser = Some(Parser::Blocks(blocks));
    }

    /// Packets handed out so far.
    pub(crate) fn yielded(&self) -> u64 {
        self.parsed - u64::from(self.pending.is_some())
    }

    /// Decompressed bytes consumed so far (the offset of the next record).
    pub(crate) fn bytes(&self) -> u64 {
        self.parser
            .as_ref()
            .map_or(self.final_bytes, |p| p.it().consumed() as u64)
    }

    /// The waiting packet, if any.
    pub(crate) fn pending(&self) -> Option<&Pending> {
        self.pending.as_ref()
    }

    /// Drops the parser and its buffer (at the end of the file or after damage).
    pub(crate) fn close(&mut self) {
        self.final_bytes = self.bytes();
        self.pending = None;
        self.parser = None;
    }

    /// Whether the file is still being read.
    pub(crate) fn is_open(&self) -> bool {
        self.parser.is_some()
    }

    /// The waiting packet as a [`PacketRef`] into the buffer.
    pub(crate) fn packet_ref(&self, file: u16) -> Option<PacketRef<'_>> {
        let p = self.pending.as_ref()?;
        let data = self
            .parser
            .as_ref()?
            .it()
            .data()
            .get(p.data_start..p.data_start.checked_add(p.data_len)?)?;
        Some(PacketRef {
            pos: PacketPos {
                file,
                number: p.number,
                offset: p.offset,
            },
            ts: p.ts,
            link: p.link,
            orig_len: p.orig_len,
            data,
        })
    }

    /// Releases the waiting packet's record from the buffer.
    pub(crate) fn consume_pending(&mut self) {
        if let (Some(p), Some(parser)) = (self.pending.take(), self.parser.as_mut()) {
            parser.it_mut().consume_noshift(p.record_len);
        }
    }

    /// Parses the next packet into `pending`. `Ok(false)` at a clean end of file.
    // Inlined into `CaptureReader::advance` (once per packet) whatever the codegen-unit split.
    #[inline]
    pub(crate) fn advance(&mut self) -> Result<bool, CaptureError> {
        if self.pending.is_some() {
            return Ok(true);
        }
        let result = match self.format {
            Format::Legacy { .. } => self.advance_legacy(),
            Format::Ng { .. } => self.advance_ng(),
        };
        result.map_err(|reason| self.damage(reason))
    }

    fn damage(&self, reason: String) -> CaptureError {
        CaptureError::Damaged {
            file: PathBuf::from(&self.name),
            packet: self.parsed + 1,
            offset: self.bytes(),
            reason,
        }
    }

    /// Makes sure `need` bytes can be buffered and reads more. `Fill::Eof` when the source ended.
    fn fill(&mut self, need: usize) -> Result<Fill, String> {
        let Some(parser) = self.parser.as_mut() else {
            return Ok(Fill::Eof);
        };
        let it = parser.it_mut();
        if it.reader_exhausted() {
            return Ok(Fill::Eof);
        }
        if need >= self.capacity {
            if need > MAX_BUFFER {
                return Err(format!(
                    "record of {need} bytes exceeds the {} MiB limit",
                    MAX_BUFFER >> 20
                ));
            }
            let new_cap = need
                .checked_add(1)
                .map_or(MAX_BUFFER, usize::next_power_of_two)
                .min(MAX_BUFFER.saturating_add(1));
            it.grow(new_cap);
            self.capacity = new_cap;
        }
        it.refill().map_err(|e| format!("read error ({e})"))?;
        Ok(Fill::More)
    }

    /// The reason for stopping when the file ends with `have` of `need` bytes of a record.
    fn cut_reason(&self, have: usize, need: usize, what: &str) -> String {
        match self.shared.error() {
            Some(e) => format!("read error: {e}"),
            None => {
                format!("the file is cut off inside this {what} ({have} of {need} bytes present)")
            }
        }
    }

    fn advance_legacy(&mut self) -> Result<bool, String> {
        let Format::Legacy {
            link,
            snaplen,
            nanos,
            big_endian,
            record_header,
        } = self.format
        else {
            return Ok(false);
        };
        loop {
            let Some(parser) = self.parser.as_mut() else {
                return Ok(false);
            };
            // Statically dispatched (this is the legacy reader): inlined, once per packet.
            let data = match &*parser {
                Parser::Legacy(r) => r.data(),
                Parser::Blocks(r) => r.data(),
                Parser::Ng(r) => r.data(),
            };
            let have = data.len();
            // A standard record header, read at once: seconds, fraction, captured and original
            // lengths.
            let header = match data.first_chunk::<16>() {
                Some(&[s0, s1, s2, s3, f0, f1, f2, f3, c0, c1, c2, c3, o0, o1, o2, o3])
                    if record_header == 16 =>
                {
                    let num = |b: [u8; 4]| {
                        if big_endian {
                            u32::from_be_bytes(b)
                        } else {
                            u32::from_le_bytes(b)
                        }
                    };
                    Some((
                        num([s0, s1, s2, s3]),
                        num([f0, f1, f2, f3]),
                        num([c0, c1, c2, c3]),
                        num([o0, o1, o2, o3]),
                    ))
                }
                _ => None,
            };
            let caplen = match header {
                Some((_, _, caplen, _)) => Some(caplen),
                None => read_u32(data, 8, big_endian),
            };
            let need = match caplen {
                Some(caplen) if have >= record_header => {
                    if let Some(reason) = check_caplen(caplen, snaplen) {
                        return Err(reason);
                    }
                    record_header + caplen as usize
                }
                _ => record_header,
            };
            if have < need {
                match self.fill(need)? {
                    Fill::More => continue,
                    Fill::Eof if have == 0 => {
                        return match self.shared.error() {
                            Some(e) => Err(format!("read error: {e}")),
                            None => Ok(false),
                        };
                    }
                    Fill::Eof => return Err(self.cut_reason(have, need, "record")),
                }
            }
            let offset = match &*parser {
                Parser::Legacy(r) => r.consumed(),
                Parser::Blocks(r) => r.consumed(),
                Parser::Ng(r) => r.consumed(),
            } as u64;
            // The whole record is buffered (checked above): a standard record header is read
            // (above) as pcap-parser reads it; the modified format (which pcap-parser always
            // reads little-endian) goes through pcap-parser.
            let fields = match header {
                Some((sec, frac, caplen, orig)) => {
                    (Some(sec), Some(frac), Some(caplen), Some(orig))
                }
                None => (None, None, None, None),
            };
            let (ts_sec, ts_frac, caplen, origlen, data_start, record_len) = match fields {
                (Some(sec), Some(frac), Some(caplen), Some(orig)) if need <= have => {
                    (sec, frac, caplen, orig, record_header, need)
                }
                _ => {
                    let base = data.as_ptr() as usize;
                    let (record_len, block) = match parser.it_mut().next() {
                        Ok((len, PcapBlockOwned::Legacy(b))) => (len, b),
                        Ok(_) => return Err("unexpected record".into()),
                        Err(e) => return Err(parse_error_reason("record", &e)),
                    };
                    let Some(data_start) = offset_in(base, have, block.data) else {
                        return Err("record outside the buffer".into());
                    };
                    let caplen = block.data.len() as u32;
                    (
                        block.ts_sec,
                        block.ts_usec,
                        caplen,
                        block.origlen,
                        data_start,
                        record_len,
                    )
                }
            };
            let frac = if nanos {
                i64::from(ts_frac)
            } else {
                i64::from(ts_frac) * 1000
            };
            let raw = Timestamp(i64::from(ts_sec) * 1_000_000_000 + frac);
            self.parsed += 1;
            let ts = self.times.vet(self.parsed, raw, false);
            self.pending = Some(Pending {
                ts,
                link,
                orig_len: origlen.max(caplen),
                data_start,
                data_len: caplen as usize,
                record_len,
                number: self.parsed,
                offset,
            });
            return Ok(true);
        }
    }

    fn advance_ng(&mut self) -> Result<bool, String> {
        loop {
            let Format::Ng {
                big_endian: section_be,
                ..
            } = self.format
            else {
                return Ok(false);
            };
            let Some(parser) = self.parser.as_mut() else {
                return Ok(false);
            };
            let data = parser.it().data();
            let have = data.len();
            // Block header: type, length; for a section header the byte-order magic decides.
            let mut need = 12usize;
            let mut block_type = 0;
            let mut big_endian = section_be;
            if have >= 12 {
                block_type = read_u32(data, 0, section_be).unwrap_or(0);
                if block_type == SHB_TYPE {
                    big_endian = match read_u32(data, 8, false) {
                        Some(BOM_LE) => false,
                        Some(BOM_BE) => true,
                        other => {
                            return Err(format!(
                                "section header block with a bad byte-order magic {:#010x}",
                                other.unwrap_or(0)
                            ))
                        }
                    };
                }
                let len = read_u32(data, 4, big_endian).unwrap_or(0);
                if len < 12 || len % 4 != 0 {
                    return Err(format!(
                        "bad block length {len} in a {} (must be at least 12 and a multiple of 4)",
                        block_name(block_type)
                    ));
                }
                if len as usize > MAX_BUFFER {
                    return Err(format!(
                        "bad block length {len} in a {} (over the {} MiB limit)",
                        block_name(block_type),
                        MAX_BUFFER >> 20
                    ));
                }
                need = len as usize;
            }
            if have < need {
                match self.fill(need)? {
                    Fill::More => continue,
                    Fill::Eof if have == 0 => {
                        return match self.shared.error() {
                            Some(e) => Err(format!("read error: {e}")),
                            None => Ok(false),
                        };
                    }
                    Fill::Eof => {
                        let what = if have >= 12 {
                            block_name(block_type)
                        } else {
                            "block header".to_string()
                        };
                        return Err(self.cut_reason(have, need, &what));
                    }
                }
            }
            let trailer = read_u32(data, need - 4, big_endian).unwrap_or(0);
            if trailer as usize != need {
                return Err(format!(
                    "bad block length: a {} says {need} bytes at its start and {trailer} at its end",
                    block_name(block_type)
                ));
            }
            let offset = parser.it().consumed() as u64;
            let base = data.as_ptr() as usize;
            let (record_len, block) = match parser.it_mut().next() {
                Ok((len, PcapBlockOwned::NG(b))) => (len, b),
                Ok(_) => return Err(format!("unexpected {}", block_name(block_type))),
                Err(e) => return Err(parse_error_reason(&block_name(block_type), &e)),
            };
            if record_len != need {
                return Err(format!(
                    "malformed {} (parsed {record_len} bytes of {need})",
                    block_name(block_type)
                ));
            }
            let Format::Ng {
                big_endian: section_be,
                interfaces,
                last_ts,
            } = &mut self.format
            else {
                return Ok(false);
            };
            // (interface index, units, captured slice, original length); None: not a packet.
            let packet: Option<(usize, Option<u64>, &[u8], u32)> = match &block {
                Block::SectionHeader(shb) => {
                    *section_be = shb.big_endian();
                    interfaces.clear();
                    // A new section is a new capture (`cat a.pcapng b.pcapng`): its own clock.
                    self.times.latest = None;
                    None
                }
                Block::InterfaceDescription(idb) => {
                    let mut tsresol = 6u8;
                    let mut offset_secs = 0i64;
                    for opt in &idb.options {
                        let value = opt.value();
                        match opt.code.0 {
                            9 => tsresol = value.first().copied().unwrap_or(6),
                            14 => {
                                if let Some(b) = value.get(..8).and_then(|b| b.try_into().ok()) {
                                    offset_secs = if *section_be {
                                        i64::from_be_bytes(b)
                                    } else {
                                        i64::from_le_bytes(b)
                                    };
                                }
                            }
                            _ => {}
                        }
                    }
                    interfaces.push(Interface {
                        link: LinkType((idb.linktype.0 as u32) & 0xffff),
                        snaplen: idb.snaplen,
                        resolution: Resolution::from_tsresol(tsresol),
                        offset_secs,
                    });
                    None
                }
                Block::InterfaceStatistics(isb) => {
                    // `isb_endtime` (option 3): when the interface's recording ended.
                    let be = *section_be;
                    let end = isb.options.iter().find(|o| o.code.0 == 3).and_then(|o| {
                        let v = o.value();
                        let high = u64::from(read_u32(v, 0, be)?);
                        Some((high << 32) | u64::from(read_u32(v, 4, be)?))
                    });
                    if let (Some(u), Some(iface)) = (end, interfaces.get(isb.if_id as usize)) {
                        let ns = iface.resolution.to_nanos(u)
                            + i128::from(iface.offset_secs) * 1_000_000_000;
                        if plausible(ns) {
                            let t = clamp_ts(ns);
                            self.stats_end = Some(self.stats_end.map_or(t, |e| e.max(t)));
                        }
                    }
                    None
                }
                Block::DecryptionSecrets(dsb) => {
                    if dsb.secrets_type == SecretsType::TlsKeyLog {
                        let len = (dsb.secrets_len as usize).min(dsb.data.len());
                        self.tls_key_logs
                            .push(dsb.data.get(..len).unwrap_or(&[]).to_vec());
                    }
                    None
                }
                Block::EnhancedPacket(epb) => {
                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let len = (epb.caplen as usize).min(epb.data.len());
                    let captured = epb.data.get(..len).unwrap_or(&[]);
                    Some((epb.if_id as usize, Some(units), captured, epb.origlen))
                }
                Block::SimplePacket(spb) => {
                    let snap = interfaces.first().map_or(0, |i| i.snaplen);
                    let mut len = (spb.origlen as usize).min(spb.data.len());
                    if snap > 0 {
                        len = len.min(snap as usize);
                    }
                    Some((0, None, spb.data.get(..len).unwrap_or(&[]), spb.origlen))
                }
                Block::Unknown(ub) => {
                    let btype = if *section_be {
                        ub.block_type.swap_bytes()
                    } else {
                        ub.block_type
                    };
                    if btype == OBSOLETE_PB_TYPE {
                        let be = *section_be;
                        let d = ub.data;
                        let fields = (
                            read_u16(d, 0, be),
                            read_u32(d, 4, be),
                            read_u32(d, 8, be),
                            read_u32(d, 12, be),
                            read_u32(d, 16, be),
                        );
                        let (Some(if_id), Some(hi), Some(lo), Some(caplen), Some(orig)) = fields
                        else {
                            return Err("malformed packet block (too short)".into());
                        };
                        let Some(captured) = d.get(20..).and_then(|p| p.get(..caplen as usize))
                        else {
                            return Err(format!(
                                "malformed packet block (captured length {caplen} overruns the block)"
                            ));
                        };
                        let units = (u64::from(hi) << 32) | u64::from(lo);
                        Some((if_id as usize, Some(units), captured, orig))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            let Some((if_id, units, captured, orig_len)) = packet else {
                parser.it_mut().consume_noshift(record_len);
                continue;
            };
            let Some(iface) = interfaces.get(if_id) else {
                return Err(format!(
                    "{} refers to interface {if_id}, but the section describes {}",
                    block_name(block_type),
                    interfaces.len()
                ));
            };
            let caplen = captured.len() as u32;
            if let Some(reason) = check_caplen(caplen, iface.snaplen) {
                return Err(reason);
            }
            let mut offset_ignored = false;
            let (raw, overflow) = match units {
                Some(u) => {
                    let no_offset = iface.resolution.to_nanos(u);
                    let ns = no_offset + i128::from(iface.offset_secs) * 1_000_000_000;
                    if iface.offset_secs != 0 && !plausible(ns) && plausible(no_offset) {
                        // An absurd if_tsoffset: the times without it are usable.
                        offset_ignored = true;
                        (clamp_ts(no_offset), false)
                    } else {
                        (
                            clamp_ts(ns),
                            ns > i128::from(i64::MAX) || ns < i128::from(i64::MIN),
                        )
                    }
                }
                None => (*last_ts, false),
            };
            let Some(data_start) = offset_in(base, have, captured) else {
                return Err("packet outside the buffer".into());
            };
            self.parsed += 1;
            if offset_ignored {
                self.times.note(
                    self.parsed,
                    format!(
                        "its interface's if_tsoffset {} s puts it outside any plausible capture \
                         time; the offset was ignored",
                        iface.offset_secs
                    ),
                );
            }
            let ts = self.times.vet(self.parsed, raw, overflow);
            *last_ts = ts;
            self.pending = Some(Pending {
                ts,
                link: iface.link,
                orig_len: orig_len.max(caplen),
                data_start,
                data_len: captured.len(),
                record_len,
                number: self.parsed,
                offset,
            });
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_convert_to_nanoseconds() {
        assert_eq!(
            Resolution::from_tsresol(6).to_nanos(1_500_000),
            1_500_000_000
        );
        assert_eq!(Resolution::from_tsresol(9).to_nanos(42), 42);
        assert_eq!(Resolution::from_tsresol(0).to_nanos(3), 3_000_000_000);
        assert_eq!(Resolution::from_tsresol(12).to_nanos(5_000), 5);
        assert_eq!(
            Resolution::from_tsresol(0x80 | 10).to_nanos(1024),
            1_000_000_000
        );
        assert_eq!(Resolution::from_tsresol(0x80).to_nanos(2), 2_000_000_000);
        // Absurd resolutions never overflow or panic.
        assert_eq!(Resolution::from_tsresol(127).to_nanos(u64::MAX), 0);
        assert_eq!(Resolution::from_tsresol(0xff).to_nanos(u64::MAX), 0);
        assert!(Resolution::from_tsresol(0).to_nanos(u64::MAX) > 0);
        assert_eq!(clamp_ts(i128::MAX), Timestamp(i64::MAX));
    }

    #[test]
    fn captured_length_limits() {
        assert_eq!(check_caplen(1514, 65535), None);
        assert_eq!(check_caplen(262_144, 262_144), None);
        assert_eq!(check_caplen(1500, 96), None);
        assert!(check_caplen(262_145, 65535)
            .unwrap()
            .contains("absurd captured length"));
        assert!(check_caplen(70_000, 96)
            .unwrap()
            .contains("far above the snaplen 96"));
        assert_eq!(check_caplen(1_000_000, 1 << 20), None);
        assert!(check_caplen(u32::MAX, u32::MAX).is_some());
        assert_eq!(caplen_limit(0), MAX_PACKET);
    }
}
