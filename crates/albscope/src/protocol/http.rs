//! Incremental HTTP/1.x stream parsers (request side and response side).
//!
//! Only the header block of the message being read is buffered (capped); bodies are counted, not
//! kept. The chunked decoder is a byte-level state machine. Results depend only on the stream
//! content, never on how it was split into segments.

use super::{
    Header, HttpRequest, HttpResponse, ResponseError, ResponseErrorKind, ResponseErrorReason,
};
use crate::capture::{PacketPos, Timestamp};

/// A piece of one direction's stream.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Seg<'a> {
    pub ts: Timestamp,
    pub pos: PacketPos,
    pub offset: u64,
    pub bytes: &'a [u8],
}

/// Where a message started.
#[derive(Copy, Clone, Debug)]
struct MsgStart {
    ts: Timestamp,
    pos: PacketPos,
    offset: u64,
}

/// Longest method token accepted when detecting / resynchronising on requests.
const MAX_METHOD_LEN: usize = 20;
/// Longest chunk-size line (hex digits) accepted.
const MAX_CHUNK_DIGITS: u8 = 16;
/// Interim responses remembered per final response.
const MAX_INTERIM: usize = 16;
/// A header buffer larger than this is freed rather than kept for the next message.
const RETAINED_HEAD_CAPACITY: usize = 8 * 1024;
/// Excerpt length for errors.
const EXCERPT_LEN: usize = 64;

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

/// Finds the end of a header block (index after the empty line) searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    while j < buf.len() {
        if buf.get(j) == Some(&b'\n') {
            match (buf.get(j + 1), buf.get(j + 2)) {
                (Some(b'\n'), _) => return Some(j + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(j + 3),
                _ => {}
            }
        }
        j += 1;
    }
    None
}

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
enum Body {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// Result of reading a header block.
struct Head {
    method: String,
    target: String,
    status: u16,
    reason: String,
    version: u8,
    headers: Vec<Header>,
    content_length: Result<Option<u64>, &'static str>,
    chunked: bool,
}

fn collect_headers(raw: &[httparse::Header<'_>], max: usize) -> Vec<Header> {
    raw.iter()
        .take(max)
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Content-Length (all values must agree) and chunked-ness from raw headers.
fn framing(raw: &[httparse::Header<'_>]) -> (Result<Option<u64>, &'static str>, bool) {
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

fn header_slots(block: &[u8]) -> Vec<httparse::Header<'static>> {
    let lines = block.iter().filter(|&&b| b == b'\n').count();
    vec![httparse::EMPTY_HEADER; lines.max(1)]
}

fn parse_request_head(block: &[u8], max_headers: usize) -> Result<Head, String> {
    let mut slots = header_slots(block);
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(block) {
        Ok(httparse::Status::Complete(_)) => {
            let (content_length, chunked) = framing(req.headers);
            Ok(Head {
                method: req.method.unwrap_or("").to_string(),
                target: req.path.unwrap_or("").to_string(),
                status: 0,
                reason: String::new(),
                version: req.version.unwrap_or(1),
                headers: collect_headers(req.headers, max_headers),
                content_length,
                chunked,
            })
        }
        Ok(httparse::Status::Partial) => Err("incomplete header block".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_response_head(block: &[u8], max_headers: usize) -> Result<Head, ResponseErrorReason> {
    let mut slots = header_slots(block);
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(block) {
        Ok(httparse::Status::Complete(_)) => {
            let (content_length, chunked) = framing(resp.headers);
            Ok(Head {
                method: String::new(),
                target: String::new(),
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_string(),
                version: resp.version.unwrap_or(1),
                headers: collect_headers(resp.headers, max_headers),
                content_length,
                chunked,
            })
        }
        Ok(httparse::Status::Partial) => Err(ResponseErrorReason::IncompleteHead),
        Err(e) => Err(ResponseErrorReason::InvalidHead { parser: e }),
    }
}

/// Accumulates a header block until its terminating empty line.
#[derive(Debug, Default)]
struct HeadBuf {
    buf: Vec<u8>,
    scan: usize,
}

enum HeadStep {
    /// Header block complete: its length; `used` bytes of the input were taken.
    Done { used: usize },
    /// All input taken, still incomplete.
    More,
    /// Over the cap.
    TooLarge { used: usize },
}

impl HeadBuf {
    fn clear(&mut self) {
        if self.buf.capacity() > RETAINED_HEAD_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.scan = 0;
    }
    fn push(&mut self, input: &[u8], cap: usize) -> HeadStep {
        let old = self.buf.len();
        let room = cap.saturating_add(4).saturating_sub(old);
        let take = input.len().min(room);
        self.buf.extend_from_slice(input.get(..take).unwrap_or(&[]));
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

/// Looks for the start of a line that begins a message, across segments.
#[derive(Debug)]
struct Resync {
    /// Bytes of the current line so far (only while they may still match).
    line: Vec<u8>,
    line_start: Option<MsgStart>,
    /// Currently skipping to the end of a line that cannot match.
    skipping: bool,
    /// Match anywhere, not only at a line start (responses: a lost body may end mid-line).
    anywhere: bool,
}

impl Resync {
    fn new(skipping: bool) -> Self {
        Resync {
            line: Vec::new(),
            line_start: None,
            skipping,
            anywhere: false,
        }
    }

    fn anywhere() -> Self {
        Resync {
            line: Vec::new(),
            line_start: None,
            skipping: false,
            anywhere: true,
        }
    }

    /// Scans `seg.bytes[i..]`. Returns the index where scanning stopped and, when a message start
    /// was found, the bytes of it seen so far (the line prefix) with its start.
    fn scan(
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

fn match_response_line(p: &[u8]) -> Match {
    match_literal(p, b"HTTP/1.")
}

/// What the request parser found.
#[derive(Debug)]
pub(crate) enum ReqEvent {
    /// A request header block was read.
    Head(Box<HttpRequest>),
    /// Body bytes of the current request (including bytes lost in a gap).
    Body(u64),
    /// The current request is complete.
    Done(Timestamp),
    /// A request could not be read (gap in its header block, invalid, too large).
    Dropped,
}

#[derive(Debug)]
enum ReqState {
    Idle,
    Head,
    Body(Body),
    Resync(Resync),
    /// No longer HTTP (tunnel or upgrade) or given up.
    Stopped,
}

/// Incremental parser for the client-to-server stream.
#[derive(Debug)]
pub(crate) struct RequestParser {
    state: ReqState,
    head: HeadBuf,
    start: Option<MsgStart>,
    max_header_bytes: usize,
    max_headers: usize,
}

impl RequestParser {
    /// A parser with the given caps.
    pub fn new(max_header_bytes: usize, max_headers: usize) -> Self {
        RequestParser {
            state: ReqState::Idle,
            head: HeadBuf::default(),
            start: None,
            max_header_bytes,
            max_headers,
        }
    }

    /// A parser for a stream that did not start with a request: it looks for the next line
    /// that starts with a method (`skip_first_line`: not at the very first byte).
    pub fn resyncing(max_header_bytes: usize, max_headers: usize, skip_first_line: bool) -> Self {
        let mut p = RequestParser::new(max_header_bytes, max_headers);
        p.resync(skip_first_line);
        p
    }

    /// Stops parsing (the stream is no longer HTTP).
    pub fn stop(&mut self) {
        self.state = ReqState::Stopped;
        self.head.clear();
    }

    fn resync(&mut self, skipping: bool) {
        self.head.clear();
        self.state = ReqState::Resync(Resync::new(skipping));
    }

    /// Feeds a segment.
    pub fn feed(&mut self, seg: Seg<'_>, out: &mut Vec<ReqEvent>) {
        let mut i = 0;
        while i < seg.bytes.len() {
            let rest = seg.bytes.get(i..).unwrap_or(&[]);
            match &mut self.state {
                ReqState::Stopped => return,
                ReqState::Idle => {
                    let skip = rest
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count();
                    i += skip;
                    if i < seg.bytes.len() {
                        self.start = Some(MsgStart {
                            ts: seg.ts,
                            pos: seg.pos,
                            offset: seg.offset.saturating_add(i as u64),
                        });
                        self.head.clear();
                        self.state = ReqState::Head;
                    }
                }
                ReqState::Head => match self.head.push(rest, self.max_header_bytes) {
                    HeadStep::More => i = seg.bytes.len(),
                    HeadStep::TooLarge { .. } => {
                        out.push(ReqEvent::Dropped);
                        self.stop();
                        return;
                    }
                    HeadStep::Done { used } => {
                        i += used;
                        self.head_done(seg.ts, out);
                    }
                },
                ReqState::Body(body) => {
                    let (used, done, err) = feed_body(body, rest);
                    i += used.0;
                    if used.1 > 0 {
                        out.push(ReqEvent::Body(used.1));
                    }
                    if err.is_some() {
                        out.push(ReqEvent::Dropped);
                        self.resync(true);
                    } else if done {
                        out.push(ReqEvent::Done(seg.ts));
                        self.state = ReqState::Idle;
                    }
                }
                ReqState::Resync(r) => {
                    let (next, found) = r.scan(&seg, i, match_method);
                    i = next;
                    if let Some((prefix, start)) = found {
                        self.start = Some(start);
                        self.head.clear();
                        self.state = ReqState::Head;
                        if let HeadStep::Done { .. } =
                            self.head.push(&prefix, self.max_header_bytes)
                        {
                            self.head_done(seg.ts, out);
                        }
                    }
                }
            }
        }
    }

    fn head_done(&mut self, ts: Timestamp, out: &mut Vec<ReqEvent>) {
        let Some(start) = self.start else {
            self.resync(false);
            return;
        };
        let header_bytes = self.head.buf.len();
        match parse_request_head(&self.head.buf, self.max_headers) {
            Err(_) => {
                out.push(ReqEvent::Dropped);
                self.resync(false);
            }
            Ok(h) => {
                let (content_length, body) = match (h.chunked, h.content_length) {
                    (true, _) => (None, Some(Body::Chunked(ChunkedDecoder::new()))),
                    (false, Ok(Some(n))) if n > 0 => (Some(n), Some(Body::Length(n))),
                    (false, Ok(n)) => (n, None),
                    (false, Err(_)) => (None, None),
                };
                let upgrade = h.method.eq_ignore_ascii_case("CONNECT");
                let req = HttpRequest {
                    first_byte: start.ts,
                    first_pos: start.pos,
                    headers_done: Some(ts),
                    complete: None,
                    method: h.method,
                    target: h.target,
                    version: h.version,
                    headers: h.headers,
                    header_bytes,
                    content_length,
                    chunked: h.chunked,
                    body_bytes: 0,
                };
                out.push(ReqEvent::Head(Box::new(req)));
                self.head.clear();
                match body {
                    Some(b) => self.state = ReqState::Body(b),
                    None => {
                        out.push(ReqEvent::Done(ts));
                        self.state = if upgrade {
                            ReqState::Stopped
                        } else {
                            ReqState::Idle
                        };
                    }
                }
            }
        }
    }

    /// The request whose header block was still incomplete when the stream ended, built from
    /// its request line (no headers, `headers_done` unset); `None` when no request was begun or
    /// the line is not a request line.
    pub fn partial_request(&self) -> Option<HttpRequest> {
        if !matches!(self.state, ReqState::Head) {
            return None;
        }
        let start = self.start?;
        let line_end = self
            .head
            .buf
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.head.buf.len());
        let line = self.head.buf.get(..line_end)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if match_method(line) != Match::Yes {
            return None;
        }
        let mut parts = line.splitn(3, |&b| b == b' ');
        let method = String::from_utf8_lossy(parts.next()?).into_owned();
        let target = String::from_utf8_lossy(parts.next().unwrap_or(&[])).into_owned();
        let version = match parts.next() {
            Some(b"HTTP/1.0") => 0,
            _ => 1,
        };
        Some(HttpRequest {
            first_byte: start.ts,
            first_pos: start.pos,
            headers_done: None,
            complete: None,
            method,
            target,
            version,
            headers: Vec::new(),
            header_bytes: self.head.buf.len(),
            content_length: None,
            chunked: false,
            body_bytes: 0,
        })
    }

    /// `len` bytes at the current position are missing. The bytes after the gap are checked
    /// for a request line at once (a gap usually ends at a packet boundary).
    pub fn gap(&mut self, ts: Timestamp, len: u64, out: &mut Vec<ReqEvent>) {
        match &mut self.state {
            ReqState::Stopped => {}
            ReqState::Idle | ReqState::Resync(_) => self.resync(false),
            ReqState::Head => {
                out.push(ReqEvent::Dropped);
                self.resync(false);
            }
            ReqState::Body(body) => match body_gap(body, len) {
                GapResult::Inside => out.push(ReqEvent::Body(len)),
                GapResult::Finished(n) => {
                    out.push(ReqEvent::Body(n));
                    out.push(ReqEvent::Done(ts));
                    if n < len {
                        self.resync(false);
                    } else {
                        self.state = ReqState::Idle;
                    }
                }
                GapResult::Lost => {
                    out.push(ReqEvent::Dropped);
                    self.resync(false);
                }
            },
        }
    }
}

enum GapResult {
    /// The gap lies inside the body; the body goes on.
    Inside,
    /// The body ended within the gap after `n` of its bytes.
    Finished(u64),
    /// Sync lost.
    Lost,
}

fn body_gap(body: &mut Body, len: u64) -> GapResult {
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
fn feed_body(body: &mut Body, rest: &[u8]) -> ((usize, u64), bool, Option<&'static str>) {
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

/// What kind of request a response answers (decides whether it has a body).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReqKind {
    /// HEAD: no body in the response.
    Head,
    /// CONNECT: a 2xx starts a tunnel.
    Connect,
    /// Anything else.
    Other,
}

/// What the response parser found.
#[derive(Debug)]
pub(crate) enum RespEvent {
    /// A final response (or an unreadable one) begins: it answers the oldest open request.
    Start,
    /// The response is complete.
    Complete(Box<HttpResponse>),
    /// The stream ended with the response body short.
    Partial(Box<HttpResponse>),
    /// The response could not be read; the partial response when its head had been read.
    Error(Box<ResponseError>, Option<Box<HttpResponse>>),
}

#[derive(Debug)]
enum RespState {
    Idle,
    Head,
    Body(Body, Box<HttpResponse>),
    Resync(Resync),
    /// Unreadable: collecting the excerpt and counting bytes until the stream ends.
    Failed(Box<ResponseError>, Vec<u8>),
    /// No longer parsed (tunnel, stream finished, after an error).
    Stopped,
}

/// Incremental parser for the server-to-client stream.
#[derive(Debug)]
pub(crate) struct ResponseParser {
    state: RespState,
    head: HeadBuf,
    start: Option<MsgStart>,
    interim: Vec<u16>,
    /// Bytes received for the current response.
    bytes: u64,
    max_header_bytes: usize,
    max_headers: usize,
}

impl ResponseParser {
    /// A parser with the given caps.
    pub fn new(max_header_bytes: usize, max_headers: usize) -> Self {
        ResponseParser {
            state: RespState::Idle,
            head: HeadBuf::default(),
            start: None,
            interim: Vec::new(),
            bytes: 0,
            max_header_bytes,
            max_headers,
        }
    }

    /// A parser for a stream that did not start with a response: it looks for "HTTP/1.".
    pub fn resyncing(max_header_bytes: usize, max_headers: usize) -> Self {
        let mut p = ResponseParser::new(max_header_bytes, max_headers);
        p.state = RespState::Resync(Resync::anywhere());
        p
    }

    fn begin(&mut self, start: MsgStart) {
        self.start = Some(start);
        self.head.clear();
        self.bytes = 0;
        self.state = RespState::Head;
    }

    fn fail(&mut self, kind: ResponseErrorKind, offset: u64, reason: ResponseErrorReason) {
        let start = self.start.unwrap_or(MsgStart {
            ts: Timestamp(0),
            pos: PacketPos::default(),
            offset,
        });
        let excerpt: Vec<u8> = self.head.buf.iter().take(EXCERPT_LEN).copied().collect();
        let err = ResponseError {
            kind,
            first_byte: start.ts,
            first_pos: start.pos,
            offset,
            bytes: self.bytes,
            excerpt: Vec::new(),
            reason,
            status: None,
            server_at: None,
        };
        self.head.clear();
        self.state = RespState::Failed(Box::new(err), excerpt);
    }

    /// Feeds a segment. `pending` lists the kinds of the open requests (oldest first) that
    /// responses will answer.
    pub fn feed(&mut self, seg: Seg<'_>, pending: &[ReqKind], out: &mut Vec<RespEvent>) {
        let mut used_requests = 0usize;
        let mut i = 0;
        while i < seg.bytes.len() {
            let rest = seg.bytes.get(i..).unwrap_or(&[]);
            match &mut self.state {
                RespState::Stopped => return,
                RespState::Idle => {
                    let skip = rest
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count();
                    i += skip;
                    if i < seg.bytes.len() {
                        self.begin(MsgStart {
                            ts: seg.ts,
                            pos: seg.pos,
                            offset: seg.offset.saturating_add(i as u64),
                        });
                    }
                }
                RespState::Head => {
                    let step = self.head.push(rest, self.max_header_bytes);
                    let used = match step {
                        HeadStep::More => rest.len(),
                        HeadStep::Done { used } | HeadStep::TooLarge { used } => used,
                    };
                    self.bytes = self.bytes.saturating_add(used as u64);
                    i += used;
                    let start_off = self.start.map(|s| s.offset).unwrap_or(seg.offset);
                    if match_literal(&self.head.buf, b"HTTP/") == Match::No {
                        out.push(RespEvent::Start);
                        self.fail(
                            ResponseErrorKind::Malformed,
                            start_off,
                            ResponseErrorReason::NotHttp,
                        );
                        continue;
                    }
                    match step {
                        HeadStep::More => {}
                        HeadStep::TooLarge { .. } => {
                            out.push(RespEvent::Start);
                            let cap = self.max_header_bytes;
                            self.fail(
                                ResponseErrorKind::HeaderTooLarge,
                                start_off,
                                ResponseErrorReason::HeaderBlockTooLarge { limit: cap },
                            );
                        }
                        HeadStep::Done { .. } => {
                            self.head_done(seg.ts, pending, &mut used_requests, out);
                        }
                    }
                }
                RespState::Body(body, _) => {
                    let (used, done, err) = feed_body(body, rest);
                    i += used.0;
                    self.bytes = self.bytes.saturating_add(used.0 as u64);
                    if let RespState::Body(_, resp) = &mut self.state {
                        resp.body_bytes = resp.body_bytes.saturating_add(used.1);
                    }
                    if let Some(e) = err {
                        let off = seg.offset.saturating_add(i as u64);
                        let reason = ResponseErrorReason::BadFraming { what: e };
                        self.body_error(ResponseErrorKind::Malformed, off, reason, out);
                    } else if done {
                        self.complete(seg.ts, out);
                    }
                }
                RespState::Resync(r) => {
                    let (next, found) = r.scan(&seg, i, match_response_line);
                    i = next;
                    if let Some((prefix, start)) = found {
                        self.begin(start);
                        // The prefix never contains a complete header block.
                        let _ = self.head.push(&prefix, self.max_header_bytes);
                        self.bytes = prefix.len() as u64;
                    }
                }
                RespState::Failed(err, excerpt) => {
                    let room = EXCERPT_LEN.saturating_sub(excerpt.len());
                    excerpt.extend_from_slice(rest.get(..room.min(rest.len())).unwrap_or(&[]));
                    err.bytes = err.bytes.saturating_add(rest.len() as u64);
                    i = seg.bytes.len();
                }
            }
        }
    }

    fn body_error(
        &mut self,
        kind: ResponseErrorKind,
        offset: u64,
        reason: ResponseErrorReason,
        out: &mut Vec<RespEvent>,
    ) {
        let state = std::mem::replace(&mut self.state, RespState::Stopped);
        if let RespState::Body(_, resp) = state {
            let err = ResponseError {
                kind,
                first_byte: resp.first_byte,
                first_pos: resp.first_pos,
                offset,
                bytes: self.bytes,
                excerpt: Vec::new(),
                reason,
                status: None,
                server_at: None,
            };
            out.push(RespEvent::Error(Box::new(err), Some(resp)));
        }
        self.state = RespState::Resync(Resync::anywhere());
    }

    fn complete(&mut self, ts: Timestamp, out: &mut Vec<RespEvent>) {
        let state = std::mem::replace(&mut self.state, RespState::Idle);
        if let RespState::Body(_, mut resp) = state {
            resp.complete = Some(ts);
            out.push(RespEvent::Complete(resp));
        }
    }

    fn head_done(
        &mut self,
        ts: Timestamp,
        pending: &[ReqKind],
        used_requests: &mut usize,
        out: &mut Vec<RespEvent>,
    ) {
        let start = self.start.unwrap_or(MsgStart {
            ts,
            pos: PacketPos::default(),
            offset: 0,
        });
        let header_bytes = self.head.buf.len();
        let h = match parse_response_head(&self.head.buf, self.max_headers) {
            Ok(h) => h,
            Err(e) => {
                out.push(RespEvent::Start);
                self.fail(ResponseErrorKind::Malformed, start.offset, e);
                return;
            }
        };
        if (100..200).contains(&h.status) && h.status != 101 {
            self.head.clear();
            if self.interim.len() < MAX_INTERIM {
                self.interim.push(h.status);
            }
            self.state = RespState::Idle;
            return;
        }
        let kind = pending
            .get(*used_requests)
            .copied()
            .unwrap_or(ReqKind::Other);
        *used_requests += 1;
        out.push(RespEvent::Start);
        let content_length = match h.content_length {
            Ok(cl) => cl,
            Err(e) if !h.chunked => {
                let reason = ResponseErrorReason::BadFraming { what: e };
                self.fail(ResponseErrorKind::Malformed, start.offset, reason);
                return;
            }
            Err(_) => None,
        };
        self.head.clear();
        let tunnel =
            h.status == 101 || (kind == ReqKind::Connect && (200..300).contains(&h.status));
        let no_body = tunnel || kind == ReqKind::Head || h.status == 204 || h.status == 304;
        let resp = Box::new(HttpResponse {
            first_byte: start.ts,
            first_pos: start.pos,
            headers_done: ts,
            complete: None,
            status: h.status,
            reason: h.reason,
            version: h.version,
            headers: h.headers,
            header_bytes,
            content_length,
            chunked: h.chunked,
            body_bytes: 0,
            interim: std::mem::take(&mut self.interim),
        });
        let body = if no_body {
            None
        } else if h.chunked {
            Some(Body::Chunked(ChunkedDecoder::new()))
        } else if let Some(n) = content_length {
            (n > 0).then_some(Body::Length(n))
        } else {
            Some(Body::UntilClose)
        };
        match body {
            Some(b) => self.state = RespState::Body(b, resp),
            None => {
                let mut resp = resp;
                resp.complete = Some(ts);
                out.push(RespEvent::Complete(resp));
                self.state = if tunnel {
                    RespState::Stopped
                } else {
                    RespState::Idle
                };
            }
        }
    }

    /// `len` bytes at stream offset `offset` are missing.
    pub fn gap(&mut self, ts: Timestamp, offset: u64, len: u64, out: &mut Vec<RespEvent>) {
        match &mut self.state {
            RespState::Stopped => {}
            RespState::Failed(err, _) => err.bytes = err.bytes.saturating_add(len),
            RespState::Resync(_) => self.state = RespState::Resync(Resync::anywhere()),
            RespState::Idle | RespState::Head => {
                if matches!(self.state, RespState::Idle) {
                    self.start = Some(MsgStart {
                        ts,
                        pos: PacketPos::default(),
                        offset,
                    });
                    self.bytes = 0;
                }
                let start = self.start.unwrap_or(MsgStart {
                    ts,
                    pos: PacketPos::default(),
                    offset,
                });
                let excerpt = self.head.buf.get(..EXCERPT_LEN).unwrap_or(&self.head.buf);
                let mut err = ResponseError {
                    kind: ResponseErrorKind::Gap,
                    first_byte: start.ts,
                    first_pos: start.pos,
                    offset,
                    bytes: self.bytes.saturating_add(len),
                    excerpt: Vec::new(),
                    reason: ResponseErrorReason::HeadBytesMissing { len },
                    status: None,
                    server_at: None,
                };
                err.set_excerpt(excerpt.to_vec());
                out.push(RespEvent::Start);
                out.push(RespEvent::Error(Box::new(err), None));
                self.head.clear();
                self.state = RespState::Resync(Resync::anywhere());
            }
            RespState::Body(body, resp) => {
                self.bytes = self.bytes.saturating_add(len);
                match body_gap(body, len) {
                    GapResult::Inside => resp.body_bytes = resp.body_bytes.saturating_add(len),
                    GapResult::Finished(n) => {
                        resp.body_bytes = resp.body_bytes.saturating_add(n);
                        self.complete(ts, out);
                        if n < len {
                            self.state = RespState::Resync(Resync::anywhere());
                        }
                    }
                    GapResult::Lost => self.body_error(
                        ResponseErrorKind::Gap,
                        offset,
                        ResponseErrorReason::ChunkedFramingLost { len },
                        out,
                    ),
                }
            }
        }
    }

    /// The stream ended (FIN, RST or close) at `ts`.
    pub fn finish(&mut self, ts: Timestamp, out: &mut Vec<RespEvent>) {
        let state = std::mem::replace(&mut self.state, RespState::Stopped);
        match state {
            RespState::Body(Body::UntilClose, mut resp) => {
                resp.complete = Some(ts);
                out.push(RespEvent::Complete(resp));
            }
            RespState::Body(_, resp) => out.push(RespEvent::Partial(resp)),
            RespState::Head => {
                let off = self.start.map(|s| s.offset).unwrap_or(0);
                let reason = match parse_response_head(&self.head.buf, self.max_headers) {
                    Err(e) if e != ResponseErrorReason::IncompleteHead => e,
                    _ => ResponseErrorReason::EndedInHead,
                };
                out.push(RespEvent::Start);
                self.fail(ResponseErrorKind::Malformed, off, reason);
                self.finish(ts, out);
            }
            RespState::Failed(mut err, excerpt) => {
                err.set_excerpt(excerpt);
                out.push(RespEvent::Error(err, None));
            }
            RespState::Idle | RespState::Resync(_) | RespState::Stopped => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(bytes: &[u8]) -> Seg<'_> {
        Seg {
            ts: Timestamp(7),
            pos: PacketPos::default(),
            offset: 0,
            bytes,
        }
    }

    #[test]
    fn chunked_decoder_counts_data_and_reads_trailers() {
        let body = b"4\r\nWiki\r\n5;name=v\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let mut d = ChunkedDecoder::new();
        let out = d.feed(body);
        assert!(out.done);
        assert_eq!(out.error, None);
        assert_eq!(out.data, 4 + 5 + 14);
        assert_eq!(&body[out.consumed..], b"NEXT");
    }

    #[test]
    fn chunked_decoder_byte_by_byte_matches_whole() {
        let body = b"a\r\n0123456789\r\n0\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut data = 0;
        let mut done = false;
        for b in body.iter() {
            let o = d.feed(std::slice::from_ref(b));
            assert_eq!(o.consumed, 1);
            data += o.data;
            done = o.done;
        }
        assert!(done);
        assert_eq!(data, 10);
    }

    #[test]
    fn chunked_decoder_rejects_bad_size_and_overflow() {
        assert!(ChunkedDecoder::new().feed(b"zz\r\n").error.is_some());
        assert!(ChunkedDecoder::new()
            .feed(b"fffffffffffffffff\r\n")
            .error
            .is_some());
        assert!(ChunkedDecoder::new().feed(b"2\r\nabX").error.is_some());
    }

    #[test]
    fn chunked_gap_inside_data_only() {
        let mut d = ChunkedDecoder::new();
        d.feed(b"10\r\nab");
        assert!(d.gap(10));
        let o = d.feed(b"cdef\r\n0\r\n\r\n");
        assert!(o.done);
        assert_eq!(o.data, 4);
        let mut d = ChunkedDecoder::new();
        d.feed(b"2\r\nab");
        assert!(!d.gap(5));
    }

    #[test]
    fn prefix_matchers() {
        assert_eq!(match_method(b"GET /"), Match::Yes);
        assert_eq!(match_method(b"GE"), Match::Maybe);
        assert_eq!(match_method(b"get /"), Match::No);
        assert_eq!(match_method(b" GET"), Match::No);
        assert_eq!(match_literal(b"HTT", b"HTTP/"), Match::Maybe);
        assert_eq!(match_literal(b"HTTP/1.1", b"HTTP/"), Match::Yes);
        assert_eq!(match_literal(b"HTTX", b"HTTP/"), Match::No);
    }

    #[test]
    fn head_end_accepts_bare_lf() {
        assert_eq!(find_head_end(b"a\r\nb\r\n\r\nrest", 0), Some(8));
        assert_eq!(find_head_end(b"a\nb\n\nrest", 0), Some(5));
        assert_eq!(find_head_end(b"a\r\nb\r\n\r", 0), None);
    }

    #[test]
    fn conflicting_content_length_is_malformed() {
        let mut p = ResponseParser::new(1024, 16);
        let mut out = Vec::new();
        p.feed(
            seg(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"),
            &[ReqKind::Other],
            &mut out,
        );
        p.finish(Timestamp(9), &mut out);
        assert!(matches!(out.first(), Some(RespEvent::Start)));
        match out.get(1) {
            Some(RespEvent::Error(e, None)) => {
                assert_eq!(e.kind, ResponseErrorKind::Malformed);
                assert!(
                    matches!(e.reason, ResponseErrorReason::BadFraming { what } if what.contains("Content-Length")),
                    "{:?}",
                    e.reason
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn switching_protocols_stops_parsing() {
        let mut p = ResponseParser::new(1024, 16);
        let mut out = Vec::new();
        p.feed(
            seg(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
            &[ReqKind::Other],
            &mut out,
        );
        p.finish(Timestamp(9), &mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[1], RespEvent::Complete(r) if r.status == 101));
    }

    #[test]
    fn request_header_cap_drops_and_stops() {
        let mut p = RequestParser::new(32, 16);
        let mut out = Vec::new();
        p.feed(
            seg(b"GET / HTTP/1.1\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"),
            &mut out,
        );
        assert!(matches!(out.as_slice(), [ReqEvent::Dropped]));
        out.clear();
        p.feed(seg(b"GET / HTTP/1.1\r\n\r\n"), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn headers_are_capped_but_parsed() {
        let mut block = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..50 {
            block.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        block.extend_from_slice(b"\r\n");
        let mut p = RequestParser::new(64 * 1024, 10);
        let mut out = Vec::new();
        p.feed(seg(&block), &mut out);
        match out.first() {
            Some(ReqEvent::Head(r)) => {
                assert_eq!(r.headers.len(), 10);
                assert_eq!(r.header_bytes, block.len());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
