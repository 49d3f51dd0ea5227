//! Header blocks: collecting one up to its terminating empty line within the size cap, and
//! reading from its headers what the parsers need (headers kept up to a count cap, framing).

use crate::protocol::headers::BlockIndex;
use crate::protocol::recycle;
use crate::protocol::Known;

/// A header buffer larger than this is freed rather than kept for the next message.
const RETAINED_HEAD_CAPACITY: usize = 8 * 1024;

/// Finds the end of a header block (index after the empty line) searching from `from`: after
/// the first line feed that is followed by another (`\n\n`) or by `\r\n`.
pub(super) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static CRLF_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\r\n"));
    static LF_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));
    let rest = buf.get(from..)?;
    // The usual `\r\n\r\n` in one pass; a bare `\n\n` ends the block only where it comes first.
    let crlf = CRLF_END.find(rest);
    let lf_within = rest.get(..crlf.map_or(rest.len(), |j| j + 1))?;
    match (LF_END.find(lf_within), crlf) {
        (Some(j), _) => Some(from + j + 2),
        (None, Some(j)) => Some(from + j + 3),
        (None, None) => None,
    }
}

/// Result of reading a header block.
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) version: u8,
    /// A CONNECT request.
    pub(super) connect: bool,
    /// Where the start line's words and the headers sit in the block.
    pub(super) index: BlockIndex,
    pub(super) content_length: Result<Option<u64>, &'static str>,
    pub(super) chunked: bool,
}

/// Reads the headers httparse found in `block` in one pass: the first `max` of them indexed
/// (with the start line's words `line`), and the framing (Content-Length, all values of which
/// must agree; chunked-ness) from all of them.
pub(super) fn read_headers(
    block: &[u8],
    raw: &[httparse::Header<'_>],
    max: usize,
    line: (&str, &str),
) -> (BlockIndex, Result<Option<u64>, &'static str>, bool) {
    let mut index = BlockIndex::new(block, raw.len().min(max), line);
    let mut cl: Result<Option<u64>, &'static str> = Ok(None);
    let mut chunked = false;
    for (i, h) in raw.iter().enumerate() {
        let k = Known::from_name(h.name);
        match k {
            Some(Known::ContentLength) => content_length(h.value, &mut cl),
            Some(Known::TransferEncoding) => chunked = is_chunked(h.value),
            _ => {}
        }
        if i < max {
            index.add(block, h.name, h.value, k);
        }
    }
    (index, cl, chunked)
}

/// Folds one Content-Length value into `cl` (all values must agree).
pub(super) fn content_length(value: &[u8], cl: &mut Result<Option<u64>, &'static str>) {
    let v = std::str::from_utf8(value).unwrap_or("").trim();
    let mut this: Option<u64> = None;
    for part in v.split(',') {
        let p = part.trim();
        let n = if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse::<u64>().ok()
        } else {
            None
        };
        match (n, this) {
            (None, _) => {
                *cl = Err("invalid Content-Length");
            }
            (Some(n), Some(t)) if n != t => *cl = Err("conflicting Content-Length values"),
            (Some(n), _) => this = Some(n),
        }
    }
    if let (Ok(prev), Some(t)) = (*cl, this) {
        match prev {
            Some(p) if p != t => *cl = Err("conflicting Content-Length values"),
            _ => *cl = Ok(Some(t)),
        }
    }
}

/// Whether a Transfer-Encoding value ends with `chunked`.
pub(super) fn is_chunked(value: &[u8]) -> bool {
    let v = String::from_utf8_lossy(value);
    v.split(',')
        .map(str::trim)
        .rfind(|s| !s.is_empty())
        .is_some_and(|s| s.eq_ignore_ascii_case("chunked"))
}

/// Header slots on the stack: enough for most messages (a block with more headers is parsed
/// again with [`heap_slots`]).
pub(super) const STACK_SLOTS: usize = 64;

/// Header slots for a block whose headers did not fit in [`STACK_SLOTS`]: one per line.
pub(super) fn heap_slots<'b>(block: &[u8]) -> Vec<httparse::Header<'b>> {
    vec![httparse::EMPTY_HEADER; memchr_count(block).max(1)]
}

fn memchr_count(block: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', block).count()
}

/// Accumulates a header block until its terminating empty line.
#[derive(Debug, Default)]
pub(super) struct HeadBuf {
    pub(super) buf: Vec<u8>,
    scan: usize,
}

/// Result of [`HeadBuf::push`].
pub(super) enum HeadStep {
    /// Header block complete: its length; `used` bytes of the input were taken.
    Done { used: usize },
    /// All input taken, still incomplete.
    More,
    /// Over the cap.
    TooLarge { used: usize },
}

impl HeadBuf {
    /// Takes the complete block's buffer (to become its message's headers): the buffer itself
    /// when its room is the block's size class ([`recycle::room`]; a block read in one piece),
    /// else a copy in a buffer of that room (the grown buffer stays for the next block).
    pub(super) fn take(&mut self) -> Vec<u8> {
        self.scan = 0;
        let len = self.buf.len();
        if self.buf.capacity() == recycle::room(len) {
            return std::mem::take(&mut self.buf);
        }
        let mut block = recycle::buffer(len);
        block.extend_from_slice(&self.buf);
        self.clear();
        block
    }

    /// Forgets the block (frees a large buffer).
    pub(super) fn clear(&mut self) {
        if self.buf.capacity() > RETAINED_HEAD_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.scan = 0;
    }

    /// Appends `bytes` to the block; a block's first bytes go into a recycled buffer of their
    /// size class ([`recycle::buffer`]), so that an idle connection holds none.
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        if self.buf.capacity() == 0 && !bytes.is_empty() {
            self.buf = recycle::buffer(bytes.len());
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Takes input up to the end of the block, or up to `cap` bytes of block.
    pub(super) fn push(&mut self, input: &[u8], cap: usize) -> HeadStep {
        let old = self.buf.len();
        let room = cap.saturating_add(4).saturating_sub(old);
        let take = input.len().min(room);
        let input = input.get(..take).unwrap_or(&[]);
        if old == 0 && self.scan == 0 {
            // A block starting in this input (the common case): look for its end in place and
            // copy only the block, not the body bytes after it.
            if let Some(end) = find_head_end(input, 0) {
                self.extend(input.get(..end).unwrap_or(&[]));
                return if end > cap {
                    HeadStep::TooLarge { used: end }
                } else {
                    HeadStep::Done { used: end }
                };
            }
        }
        self.extend(input);
        match find_head_end(&self.buf, self.scan) {
            Some(end) => {
                self.buf.truncate(end);
                let used = end.saturating_sub(old);
                if end > cap {
                    HeadStep::TooLarge { used }
                } else {
                    HeadStep::Done { used }
                }
            }
            None => {
                self.scan = self.buf.len().saturating_sub(3);
                if self.buf.len() > cap {
                    HeadStep::TooLarge { used: take }
                } else {
                    HeadStep::More
                }
            }
        }
    }
}
