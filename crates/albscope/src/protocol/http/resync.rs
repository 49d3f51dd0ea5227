//! Finding the next message start in a stream after garbage, an unreadable message or a gap:
//! prefix matchers for request and status lines, and a line scanner that works across segments.

use super::{MsgStart, Seg};

/// Longest method token accepted when detecting / resynchronising on requests.
const MAX_METHOD_LEN: usize = 20;

/// Whether a prefix is (or may become) the start of a message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    Yes,
    No,
    Maybe,
}

/// Does `p` start with an HTTP method token followed by a space?
pub(crate) fn match_method(p: &[u8]) -> Match {
    for (i, &b) in p.iter().enumerate() {
        if b == b' ' {
            return if i == 0 { Match::No } else { Match::Yes };
        }
        if !(b.is_ascii_uppercase() || b == b'-' || b == b'_') || i >= MAX_METHOD_LEN {
            return Match::No;
        }
    }
    Match::Maybe
}

/// Does `p` start with `lit`?
pub(crate) fn match_literal(p: &[u8], lit: &[u8]) -> Match {
    let n = p.len().min(lit.len());
    if p.get(..n) != lit.get(..n) {
        Match::No
    } else if p.len() >= lit.len() {
        Match::Yes
    } else {
        Match::Maybe
    }
}

/// Looks for the start of a line that begins a message, across segments.
#[derive(Debug)]
pub(super) struct Resync {
    /// Bytes of the current line so far (only while they may still match).
    line: Vec<u8>,
    line_start: Option<MsgStart>,
    /// Currently skipping to the end of a line that cannot match.
    skipping: bool,
    /// Match anywhere, not only at a line start (responses: a lost body may end mid-line).
    anywhere: bool,
}

impl Resync {
    pub(super) fn new(skipping: bool) -> Self {
        Resync {
            line: Vec::new(),
            line_start: None,
            skipping,
            anywhere: false,
        }
    }

    pub(super) fn anywhere() -> Self {
        Resync {
            line: Vec::new(),
            line_start: None,
            skipping: false,
            anywhere: true,
        }
    }

    /// Scans `seg.bytes[i..]`. Returns the index where scanning stopped and, when a message start
    /// was found, the bytes of it seen so far (the line prefix) with its start.
    pub(super) fn scan(
        &mut self,
        seg: &Seg<'_>,
        mut i: usize,
        matcher: fn(&[u8]) -> Match,
    ) -> (usize, Option<(Vec<u8>, MsgStart)>) {
        while let Some(&b) = seg.bytes.get(i) {
            if self.skipping {
                if b == b'\n' {
                    self.skipping = false;
                }
                i += 1;
                continue;
            }
            if self.line.is_empty() {
                if b == b'\r' || b == b'\n' {
                    i += 1;
                    continue;
                }
                self.line_start = Some(MsgStart {
                    ts: seg.ts,
                    pos: seg.pos,
                    offset: seg.offset.saturating_add(i as u64),
                });
            }
            self.line.push(b);
            i += 1;
            match matcher(&self.line) {
                Match::Yes => {
                    let start = self.line_start.unwrap_or(MsgStart {
                        ts: seg.ts,
                        pos: seg.pos,
                        offset: seg.offset,
                    });
                    return (i, Some((std::mem::take(&mut self.line), start)));
                }
                Match::No if self.anywhere => {
                    self.line.clear();
                    if matcher(&[b]) != Match::No {
                        self.line.push(b);
                        self.line_start = Some(MsgStart {
                            ts: seg.ts,
                            pos: seg.pos,
                            offset: seg.offset.saturating_add((i as u64).saturating_sub(1)),
                        });
                    }
                }
                Match::No => {
                    self.skipping = b != b'\n';
                    self.line.clear();
                }
                Match::Maybe => {}
            }
        }
        (i, None)
    }
}

/// Does `p` start with a status line (`HTTP/1.`)?
pub(super) fn match_response_line(p: &[u8]) -> Match {
    match_literal(p, b"HTTP/1.")
}
