//! The frame reader of one direction: the client preface, 9-byte frame headers, payloads.
//!
//! Payloads of control and header frames are buffered up to a cap (larger ones are skipped and
//! reported as such); DATA payloads are counted, never kept (only a padded frame's pad length
//! is read). A gap inside a DATA payload or inside a skipped payload is absorbed; any other gap
//! loses the frame boundaries and stops the direction.

use crate::capture::{PacketPos, Timestamp};
use crate::protocol::http::{match_literal, Match, Seg};

/// The client connection preface.
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Does `p` (the first bytes of a client stream) start with the HTTP/2 preface?
pub(crate) fn match_preface(p: &[u8]) -> Match {
    match_literal(p, PREFACE)
}

/// Frame types (RFC 9113 section 6).
pub(crate) mod kind {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    pub const SETTINGS: u8 = 4;
    pub const PUSH_PROMISE: u8 = 5;
    pub const GOAWAY: u8 = 7;
    pub const WINDOW_UPDATE: u8 = 8;
    pub const CONTINUATION: u8 = 9;
}

/// Frame flags.
pub(crate) mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// A frame header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl FrameHeader {
    /// Reads the 9 header bytes.
    pub fn parse(b: &[u8; 9]) -> Self {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    /// Whether the flag is set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Where and when a frame started, and when its last byte arrived.
#[derive(Copy, Clone, Debug)]
pub(crate) struct FrameAt {
    pub ts: Timestamp,
    pub pos: PacketPos,
    pub end: Timestamp,
}

/// Why a payload was not kept.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SkipWhy {
    /// Larger than the buffering cap.
    TooLarge,
    /// Bytes of it are missing from the capture.
    Gap,
    /// Its buffer was given up for the memory budget.
    Memory,
}

/// What the reader found.
#[derive(Debug)]
pub(crate) enum FrameEvent<'a> {
    /// A complete non-DATA frame with its payload.
    Frame(FrameHeader, &'a [u8]),
    /// A DATA frame: its body bytes (without padding).
    Data(FrameHeader, u64),
    /// A non-DATA frame whose payload was not kept.
    Skipped(FrameHeader, SkipWhy),
    /// The client stream does not start with the preface.
    BadPreface,
    /// Frame boundaries were lost (gap between frames or in a header); nothing more is read.
    Lost,
}

#[derive(Debug, Default)]
enum State {
    /// This many preface bytes matched so far.
    Preface(usize),
    #[default]
    Header,
    Payload {
        hdr: FrameHeader,
        left: u32,
        /// Why the payload is not being kept (`None`: buffered).
        skip: Option<SkipWhy>,
        /// DATA: pad length, once read (padded frames).
        pad: Option<u8>,
    },
    Lost,
}

/// The frame reader of one direction.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    state: State,
    head: [u8; 9],
    head_len: usize,
    payload: Vec<u8>,
    start: Option<(Timestamp, PacketPos)>,
    max_payload: usize,
    /// Stream offset of the next byte expected.
    pub offset: u64,
}

impl FrameReader {
    /// A reader buffering payloads up to `max_payload` bytes; `preface`: the client side.
    pub fn new(max_payload: usize, preface: bool) -> Self {
        FrameReader {
            state: if preface {
                State::Preface(0)
            } else {
                State::Header
            },
            max_payload,
            ..FrameReader::default()
        }
    }

    /// Heap held.
    pub fn memory(&self) -> usize {
        self.payload.capacity()
    }

    /// Gives up the payload being buffered (the frame is reported as skipped when it ends).
    /// Returns the bytes released.
    pub fn release(&mut self) -> usize {
        let held = self.payload.capacity();
        if let State::Payload { skip, hdr, .. } = &mut self.state {
            if skip.is_none() && hdr.kind != kind::DATA {
                *skip = Some(SkipWhy::Memory);
            }
        }
        self.payload = Vec::new();
        held
    }

    /// Reads a segment, calling `out` for each event with the frame's position.
    pub fn feed(&mut self, seg: Seg<'_>, out: &mut dyn FnMut(FrameEvent<'_>, FrameAt)) {
        self.offset = seg.offset.saturating_add(seg.bytes.len() as u64);
        let mut rest = seg.bytes;
        let here = FrameAt {
            ts: seg.ts,
            pos: seg.pos,
            end: seg.ts,
        };
        while !rest.is_empty() {
            match &mut self.state {
                State::Lost => return,
                State::Preface(n) => {
                    let want = PREFACE.get(*n..).unwrap_or(&[]);
                    let take = want.len().min(rest.len());
                    if rest.get(..take) != want.get(..take) {
                        self.state = State::Lost;
                        out(FrameEvent::BadPreface, here);
                        return;
                    }
                    *n += take;
                    rest = rest.get(take..).unwrap_or(&[]);
                    if *n >= PREFACE.len() {
                        self.state = State::Header;
                    }
                }
                State::Header => {
                    if self.head_len == 0 {
                        self.start = Some((seg.ts, seg.pos));
                    }
                    let take = (9 - self.head_len).min(rest.len());
                    if let (Some(dst), Some(src)) = (
                        self.head.get_mut(self.head_len..self.head_len + take),
                        rest.get(..take),
                    ) {
                        dst.copy_from_slice(src);
                    }
                    self.head_len += take;
                    rest = rest.get(take..).unwrap_or(&[]);
                    if self.head_len == 9 {
                        self.head_len = 0;
                        let hdr = FrameHeader::parse(&self.head);
                        let skip = (hdr.kind != kind::DATA && hdr.len as usize > self.max_payload)
                            .then_some(SkipWhy::TooLarge);
                        self.state = State::Payload {
                            hdr,
                            left: hdr.len,
                            skip,
                            pad: None,
                        };
                        if hdr.len == 0 {
                            self.end_frame(seg.ts, out);
                        }
                    }
                }
                State::Payload {
                    hdr,
                    left,
                    skip,
                    pad,
                } => {
                    let take = (*left as usize).min(rest.len());
                    let chunk = rest.get(..take).unwrap_or(&[]);
                    if hdr.kind == kind::DATA {
                        if hdr.has(flag::PADDED) && pad.is_none() && *left == hdr.len {
                            *pad = chunk.first().copied();
                        }
                    } else if skip.is_none() {
                        self.payload.extend_from_slice(chunk);
                    }
                    *left -= take as u32;
                    rest = rest.get(take..).unwrap_or(&[]);
                    if *left == 0 {
                        self.end_frame(seg.ts, out);
                    }
                }
            }
        }
    }

    /// A frame's payload is complete.
    fn end_frame(&mut self, end: Timestamp, out: &mut dyn FnMut(FrameEvent<'_>, FrameAt)) {
        let State::Payload { hdr, skip, pad, .. } = std::mem::take(&mut self.state) else {
            return;
        };
        let (ts, pos) = self.start.take().unwrap_or((end, PacketPos::default()));
        let at = FrameAt { ts, pos, end };
        if hdr.kind == kind::DATA {
            let padding = if hdr.has(flag::PADDED) {
                u64::from(pad.unwrap_or(0)) + 1
            } else {
                0
            };
            out(
                FrameEvent::Data(hdr, u64::from(hdr.len).saturating_sub(padding)),
                at,
            );
        } else if let Some(why) = skip {
            out(FrameEvent::Skipped(hdr, why), at);
        } else {
            out(FrameEvent::Frame(hdr, &self.payload), at);
        }
        self.payload.clear();
        if self.payload.capacity() > 16 * 1024 {
            self.payload = Vec::new();
        }
        self.state = State::Header;
    }

    /// `len` bytes are missing at the current position.
    pub fn gap(&mut self, ts: Timestamp, len: u64, out: &mut dyn FnMut(FrameEvent<'_>, FrameAt)) {
        self.offset = self.offset.saturating_add(len);
        let here = FrameAt {
            ts,
            pos: PacketPos::default(),
            end: ts,
        };
        match &mut self.state {
            State::Lost => {}
            State::Payload {
                hdr, left, skip, ..
            } if u64::from(*left) >= len && self.head_len == 0 => {
                *left -= len as u32;
                if hdr.kind != kind::DATA {
                    *skip = Some(SkipWhy::Gap);
                    self.payload = Vec::new();
                }
                if *left == 0 {
                    self.end_frame(ts, out);
                }
            }
            _ => {
                self.state = State::Lost;
                self.payload = Vec::new();
                out(FrameEvent::Lost, here);
            }
        }
    }
}
