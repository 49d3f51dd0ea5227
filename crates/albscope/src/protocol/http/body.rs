//! Message bodies: how a body is delimited (length, chunked, until close), and the chunked
//! transfer-coding decoder, a byte-level state machine that counts data bytes without keeping
//! them.

/// Longest chunk-size line (hex digits) accepted.
const MAX_CHUNK_DIGITS: u8 = 16;

/// Chunked transfer-coding decoder that counts data bytes without keeping them.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ChunkState {
    Size { digits: u8, value: u64 },
    Ext { value: u64 },
    SizeLf { value: u64 },
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    FinalLf,
    Done,
}

/// Result of feeding the chunked decoder.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ChunkOut {
    /// Bytes of the input consumed (all of it unless `done` or `error`).
    pub consumed: usize,
    /// Chunk data bytes among them.
    pub data: u64,
    /// The final chunk and trailers were read.
    pub done: bool,
    /// The coding is invalid.
    pub error: Option<&'static str>,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: ChunkState::Size {
                digits: 0,
                value: 0,
            },
        }
    }

    fn end_size_line(value: u64) -> ChunkState {
        if value == 0 {
            ChunkState::TrailerStart
        } else {
            ChunkState::Data(value)
        }
    }

    /// Feeds bytes; stops at the end of the body or at the first invalid byte.
    pub fn feed(&mut self, bytes: &[u8]) -> ChunkOut {
        let mut out = ChunkOut::default();
        let mut i = 0;
        while i < bytes.len() {
            if let ChunkState::Data(r) = self.state {
                let avail = (bytes.len() - i) as u64;
                let n = r.min(avail);
                out.data += n;
                i += n as usize;
                self.state = if n == r {
                    ChunkState::DataCr
                } else {
                    ChunkState::Data(r - n)
                };
                continue;
            }
            let Some(&b) = bytes.get(i) else { break };
            let next = match self.state {
                ChunkState::Size { digits, value } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= MAX_CHUNK_DIGITS {
                            Err("chunk size too long")
                        } else {
                            let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                            match value.checked_mul(16).and_then(|v| v.checked_add(d)) {
                                Some(v) => Ok(ChunkState::Size {
                                    digits: digits + 1,
                                    value: v,
                                }),
                                None => Err("chunk size overflow"),
                            }
                        }
                    }
                    b';' | b' ' | b'\t' if digits > 0 => Ok(ChunkState::Ext { value }),
                    b'\r' if digits > 0 => Ok(ChunkState::SizeLf { value }),
                    b'\n' if digits > 0 => Ok(Self::end_size_line(value)),
                    _ => Err("invalid chunk size line"),
                },
                ChunkState::Ext { value } => match b {
                    b'\r' => Ok(ChunkState::SizeLf { value }),
                    b'\n' => Ok(Self::end_size_line(value)),
                    _ => Ok(ChunkState::Ext { value }),
                },
                ChunkState::SizeLf { value } => match b {
                    b'\n' => Ok(Self::end_size_line(value)),
                    _ => Err("expected LF after chunk size"),
                },
                ChunkState::DataCr => match b {
                    b'\r' => Ok(ChunkState::DataLf),
                    b'\n' => Ok(ChunkState::Size {
                        digits: 0,
                        value: 0,
                    }),
                    _ => Err("expected CRLF after chunk data"),
                },
                ChunkState::DataLf => match b {
                    b'\n' => Ok(ChunkState::Size {
                        digits: 0,
                        value: 0,
                    }),
                    _ => Err("expected LF after chunk data"),
                },
                ChunkState::TrailerStart => match b {
                    b'\r' => Ok(ChunkState::FinalLf),
                    b'\n' => Ok(ChunkState::Done),
                    _ => Ok(ChunkState::TrailerLine),
                },
                ChunkState::TrailerLine => match b {
                    b'\n' => Ok(ChunkState::TrailerStart),
                    _ => Ok(ChunkState::TrailerLine),
                },
                ChunkState::FinalLf => match b {
                    b'\n' => Ok(ChunkState::Done),
                    _ => Err("expected LF after last chunk"),
                },
                ChunkState::Data(_) | ChunkState::Done => Ok(self.state),
            };
            match next {
                Ok(s) => {
                    self.state = s;
                    i += 1;
                }
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
            if self.state == ChunkState::Done {
                break;
            }
        }
        out.consumed = i;
        out.done = self.state == ChunkState::Done;
        out
    }

    /// `len` bytes are missing: fine inside chunk data, otherwise the decoder loses sync
    /// (returns false).
    pub fn gap(&mut self, len: u64) -> bool {
        match self.state {
            ChunkState::Data(r) if len <= r => {
                self.state = if len == r {
                    ChunkState::DataCr
                } else {
                    ChunkState::Data(r - len)
                };
                true
            }
            _ => false,
        }
    }
}

/// How a body is delimited.
#[derive(Clone, Debug)]
pub(super) enum Body {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// What a gap in the stream did to the body being read.
pub(super) enum GapResult {
    /// The gap lies inside the body; the body goes on.
    Inside,
    /// The body ended within the gap after `n` of its bytes.
    Finished(u64),
    /// Sync lost.
    Lost,
}

/// `len` bytes of the body are missing.
pub(super) fn body_gap(body: &mut Body, len: u64) -> GapResult {
    match body {
        Body::UntilClose => GapResult::Inside,
        Body::Length(r) => {
            if len < *r {
                *r -= len;
                GapResult::Inside
            } else {
                let n = *r;
                *r = 0;
                GapResult::Finished(n)
            }
        }
        Body::Chunked(d) => {
            if d.gap(len) {
                GapResult::Inside
            } else {
                GapResult::Lost
            }
        }
    }
}

/// Feeds body bytes: ((consumed, body bytes), done, error).
pub(super) fn feed_body(
    body: &mut Body,
    rest: &[u8],
) -> ((usize, u64), bool, Option<&'static str>) {
    match body {
        Body::UntilClose => ((rest.len(), rest.len() as u64), false, None),
        Body::Length(r) => {
            let n = (*r).min(rest.len() as u64);
            *r -= n;
            ((n as usize, n), *r == 0, None)
        }
        Body::Chunked(d) => {
            let o = d.feed(rest);
            ((o.consumed, o.data), o.done, o.error)
        }
    }
}
