//! The request parser (client-to-server stream): request heads, bodies, resynchronisation on the
//! next request line after an unreadable request.

use super::body::{body_gap, feed_body, Body, ChunkedDecoder, GapResult};
use super::fast;
use super::head::{heap_slots, read_headers, Head, HeadBuf, HeadStep, STACK_SLOTS};
use super::resync::{match_method, Match, Resync};
use super::{MsgStart, Seg};
use crate::capture::Timestamp;
use crate::protocol::{ExchangeBox, Headers, HttpRequest};

/// What the request parser found.
#[derive(Debug)]
pub(crate) enum ReqEvent {
    /// A request header block was read: the request, built in the (recycled) box of the
    /// exchange it starts (only [`HttpExchange::request`](crate::protocol::HttpExchange) set),
    /// so that it is never copied on its way to the connection's queue and the sink.
    Head(ExchangeBox),
    /// Body bytes of the current request (including bytes lost in a gap).
    Body(u64),
    /// The current request is complete.
    Done(Timestamp),
    /// A request could not be read (gap in its header block, invalid, too large).
    Dropped,
    /// The header block being read was cut short by bytes missing from the capture (reported
    /// before its `Dropped`) after a request line and whole header lines carrying the three
    /// forwarding headers an ALB adds: `X-Forwarded-For`, `X-Forwarded-Proto` and
    /// `X-Forwarded-Port` (what an ALB node's request still shows when a mirror truncates it,
    /// the X-Amzn-Trace-Id after them lost).
    ForwardedCutShort,
    /// Bytes of a request were lost from the capture (a gap while no request was being read,
    /// or inside a header block): a request was under way from this time (its first captured
    /// byte, else the gap).
    Lost(Timestamp),
    /// The header block of the request just reported by `Head` (from its request line only)
    /// was skipped because a memory limit was reached; this many bytes of it had been held.
    Skipped(usize),
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

    /// When the request being read started, while one is (head or body not yet complete).
    pub fn in_progress_since(&self) -> Option<Timestamp> {
        match self.state {
            ReqState::Head | ReqState::Body(_) => self.start.map(|s| s.ts),
            ReqState::Idle | ReqState::Resync(_) | ReqState::Stopped => None,
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
                ReqState::Head if self.head.buf.is_empty() => {
                    // A block that starts here is read in place when it is a common one.
                    match fast::request(rest, self.max_header_bytes, self.max_headers) {
                        Some((used, h)) => {
                            self.head.extend(rest.get(..used).unwrap_or(&[]));
                            i += used;
                            self.head_read(h, seg.ts, out);
                        }
                        None => self.push_head(rest, seg.ts, &mut i, out),
                    }
                }
                ReqState::Head => self.push_head(rest, seg.ts, &mut i, out),
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

    /// Takes `rest` into the header block being read (`i` advanced past what was taken).
    fn push_head(&mut self, rest: &[u8], ts: Timestamp, i: &mut usize, out: &mut Vec<ReqEvent>) {
        match self.head.push(rest, self.max_header_bytes) {
            HeadStep::More => *i += rest.len(),
            HeadStep::TooLarge { .. } => {
                out.push(ReqEvent::Dropped);
                self.stop();
            }
            HeadStep::Done { used } => {
                *i += used;
                self.head_done(ts, out);
            }
        }
    }

    fn head_done(&mut self, ts: Timestamp, out: &mut Vec<ReqEvent>) {
        if self.start.is_none() {
            self.resync(false);
            return;
        }
        let block = &self.head.buf;
        let fast = fast::request(block, usize::MAX, self.max_headers)
            .filter(|(used, _)| *used == block.len())
            .map(|(_, h)| h);
        match fast.map_or_else(|| parse_request_head(block, self.max_headers), Ok) {
            Err(_) => {
                out.push(ReqEvent::Dropped);
                self.resync(false);
            }
            Ok(h) => self.head_read(h, ts, out),
        }
    }

    /// Reports the request whose header block (in the header buffer) says `h`.
    fn head_read(&mut self, h: Head, ts: Timestamp, out: &mut Vec<ReqEvent>) {
        let Some(start) = self.start else {
            self.resync(false);
            return;
        };
        let header_bytes = self.head.buf.len();
        let (content_length, body) = match (h.chunked, h.content_length) {
            (true, _) => (None, Some(Body::Chunked(ChunkedDecoder::new()))),
            (false, Ok(Some(n))) if n > 0 => (Some(n), Some(Body::Length(n))),
            (false, Ok(n)) => (n, None),
            (false, Err(_)) => (None, None),
        };
        let upgrade = h.connect;
        // The block's buffer becomes the headers' text (the parser starts a new one).
        let headers = Headers::from_block(self.head.take(), h.index);
        let mut ex = ExchangeBox::empty();
        ex.request = Some(HttpRequest {
            first_byte: start.ts,
            first_pos: start.pos,
            headers_done: Some(ts),
            complete: None,
            version: h.version,
            headers,
            header_bytes,
            content_length,
            chunked: h.chunked,
            body_bytes: 0,
        });
        out.push(ReqEvent::Head(ex));
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

    /// True when the header block read so far starts with a request line and its whole lines
    /// (those ended by a line feed) carry `X-Forwarded-For`, `X-Forwarded-Proto` and
    /// `X-Forwarded-Port` (see [`ReqEvent::ForwardedCutShort`]).
    fn forwarded_head_so_far(&self) -> bool {
        let buf = &self.head.buf;
        let mut lines = buf.split(|&b| b == b'\n');
        let Some(first) = lines.next() else {
            return false;
        };
        if match_method(first.strip_suffix(b"\r").unwrap_or(first)) != Match::Yes {
            return false;
        }
        // The last piece has no line feed after it: cut short, not a whole line.
        let whole = buf
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            .saturating_sub(1);
        let named = |line: &[u8], name: &[u8]| {
            line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name)
                && line[name.len()] == b':'
        };
        let (mut xff, mut proto, mut port) = (false, false, false);
        for line in lines.take(whole) {
            xff |= named(line, b"x-forwarded-for");
            proto |= named(line, b"x-forwarded-proto");
            port |= named(line, b"x-forwarded-port");
        }
        xff && proto && port
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
        let method = String::from_utf8_lossy(parts.next()?);
        let target = String::from_utf8_lossy(parts.next().unwrap_or(&[]));
        let mut headers = crate::protocol::Headers::new();
        headers.set_start_line(&method, &target);
        let version = match parts.next() {
            Some(b"HTTP/1.0") => 0,
            _ => 1,
        };
        Some(HttpRequest {
            first_byte: start.ts,
            first_pos: start.pos,
            headers_done: None,
            complete: None,
            version,
            headers,
            header_bytes: self.head.buf.len(),
            content_length: None,
            chunked: false,
            body_bytes: 0,
        })
    }

    /// Heap held by the header buffer.
    pub fn memory(&self) -> usize {
        self.head.buf.capacity()
    }

    /// Skips the header block being read (a memory limit was reached): reports the request
    /// from its request line ([`ReqEvent::Head`], then [`ReqEvent::Skipped`]), frees the buffer
    /// and looks for the next request line. Nothing happens outside a header block.
    pub fn skip_head(&mut self, out: &mut Vec<ReqEvent>) {
        if !matches!(self.state, ReqState::Head) {
            return;
        }
        let held = self.head.buf.len();
        match self.partial_request() {
            Some(req) => {
                let mut ex = ExchangeBox::empty();
                ex.request = Some(req);
                out.push(ReqEvent::Head(ex));
                out.push(ReqEvent::Skipped(held));
            }
            None => out.push(ReqEvent::Dropped),
        }
        self.head.buf = Vec::new();
        self.head.clear();
        self.resync(true);
    }

    /// `len` bytes at the current position are missing. The bytes after the gap are checked
    /// for a request line at once (a gap usually ends at a packet boundary).
    pub fn gap(&mut self, ts: Timestamp, len: u64, out: &mut Vec<ReqEvent>) {
        match &mut self.state {
            ReqState::Stopped => {}
            ReqState::Idle => {
                // Client bytes lost between requests: the start of a request.
                out.push(ReqEvent::Lost(ts));
                self.resync(false);
            }
            ReqState::Resync(_) => self.resync(false),
            ReqState::Head => {
                if self.forwarded_head_so_far() {
                    out.push(ReqEvent::ForwardedCutShort);
                }
                out.push(ReqEvent::Dropped);
                out.push(ReqEvent::Lost(self.start.map_or(ts, |s| s.ts)));
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

/// Parses a complete request header block.
pub(super) fn parse_request_head(block: &[u8], max_headers: usize) -> Result<Head, String> {
    let mut stack = [httparse::EMPTY_HEADER; STACK_SLOTS];
    let parsed = match parse_request_in(block, &mut stack, max_headers) {
        Err(httparse::Error::TooManyHeaders) => {
            parse_request_in(block, &mut heap_slots(block), max_headers)
        }
        other => other,
    };
    match parsed {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err("incomplete header block".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a request header block with `slots` for its headers (`None`: incomplete).
fn parse_request_in<'b>(
    block: &'b [u8],
    slots: &mut [httparse::Header<'b>],
    max_headers: usize,
) -> Result<Option<Head>, httparse::Error> {
    let mut req = httparse::Request::new(slots);
    match req.parse(block)? {
        httparse::Status::Complete(_) => {
            let method = req.method.unwrap_or("");
            let line = (method, req.path.unwrap_or(""));
            let (index, content_length, chunked) =
                read_headers(block, req.headers, max_headers, line);
            Ok(Some(Head {
                status: 0,
                version: req.version.unwrap_or(1),
                connect: method.eq_ignore_ascii_case("CONNECT"),
                index,
                content_length,
                chunked,
            }))
        }
        httparse::Status::Partial => Ok(None),
    }
}
