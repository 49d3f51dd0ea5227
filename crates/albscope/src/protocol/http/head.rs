//! Header blocks: collecting one up to its terminating empty line within the size cap, and
//! reading from its headers what the parsers need (headers kept up to a count cap, framing).

use crate::protocol::Headers;

/// A header buffer larger than this is freed rather than kept for the next message.
const RETAINED_HEAD_CAPACITY: usize = 8 * 1024;

/// Finds the end of a header block (index after the empty line) searching from `from`.
pub(super) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    // From one line feed to the next (memchr), not byte by byte.
    while let Some(k) = buf.get(j..).and_then(|rest| memchr::memchr(b'\n', rest)) {
        j += k;
        match (buf.get(j + 1), buf.get(j + 2)) {
            (Some(b'\n'), _) => return Some(j + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(j + 3),
            _ => {}
        }
        j += 1;
    }
    None
}

/// Result of reading a header block.
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) version: u8,
    pub(super) headers: Headers,
    pub(super) content_length: Result<Option<u64>, &'static str>,
    pub(super) chunked: bool,
}

/// The first `max` headers httparse read from `block`, as names and (lossily decoded) values,
/// with the start line's words `line` (method and target, or reason phrase and "").
pub(super) fn collect_headers(
    block: &[u8],
    raw: &[httparse::Header<'_>],
    max: usize,
    line: (&str, &str),
) -> Headers {
    Headers::from_raw_in(block, raw, max, line)
}

/// Content-Length (all values must agree) and chunked-ness from raw headers.
pub(super) fn framing(raw: &[httparse::Header<'_>]) -> (Result<Option<u64>, &'static str>, bool) {
    let mut cl: Result<Option<u64>, &'static str> = Ok(None);
    let mut chunked = false;
    for h in raw {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).unwrap_or("").trim();
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
                        cl = Err("invalid Content-Length");
                    }
                    (Some(n), Some(t)) if n != t => cl = Err("conflicting Content-Length values"),
                    (Some(n), _) => this = Some(n),
                }
            }
            if let (Ok(prev), Some(t)) = (cl, this) {
                match prev {
                    Some(p) if p != t => cl = Err("conflicting Content-Length values"),
                    _ => cl = Ok(Some(t)),
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let v = String::from_utf8_lossy(h.value);
            chunked = v
                .split(',')
                .map(str::trim)
                .rfind(|s| !s.is_empty())
                .is_some_and(|s| s.eq_ignore_ascii_case("chunked"));
        }
    }
    (cl, chunked)
}

/// Header slots on the stack: enough for most messages (more lines take a heap vector).
pub(super) const STACK_SLOTS: usize = 64;

/// Room for every header of `block` (one per line at most) for `httparse`: `stack` when it is
/// large enough, else `heap`, grown to fit.
pub(super) fn header_slots<'s, 'b>(
    block: &[u8],
    stack: &'s mut [httparse::Header<'b>; STACK_SLOTS],
    heap: &'s mut Vec<httparse::Header<'b>>,
) -> &'s mut [httparse::Header<'b>] {
    let lines = memchr_count(block).max(1);
    if lines <= STACK_SLOTS {
        &mut stack[..lines]
    } else {
        heap.resize(lines, httparse::EMPTY_HEADER);
        heap.as_mut_slice()
    }
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
    /// Forgets the block (frees a large buffer).
    pub(super) fn clear(&mut self) {
        if self.buf.capacity() > RETAINED_HEAD_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.scan = 0;
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
                self.buf.extend_from_slice(input.get(..end).unwrap_or(&[]));
                return if end > cap {
                    HeadStep::TooLarge { used: end }
                } else {
                    HeadStep::Done { used: end }
                };
            }
        }
        self.buf.extend_from_slice(input);
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
