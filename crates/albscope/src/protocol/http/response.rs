//! The response parser (server-to-client stream): interim responses, whether a body follows
//! (by the request answered and the status), bodies, unreadable responses (with an excerpt) and
//! resynchronisation on the next status line.

use super::body::{body_gap, feed_body, Body, ChunkedDecoder, GapResult};
use super::fast;
use super::head::{heap_slots, read_headers, Head, HeadBuf, HeadStep, STACK_SLOTS};
use super::resync::{match_literal, match_response_line, Match, Resync};
use super::{MsgStart, Seg};
use crate::capture::{PacketPos, Timestamp};
use crate::protocol::{
    ExchangeBox, Headers, HttpResponse, Interim, ResponseError, ResponseErrorKind,
    ResponseErrorReason,
};

/// Interim responses remembered per final response.
const MAX_INTERIM: usize = 16;
/// Excerpt length for errors.
const EXCERPT_LEN: usize = 64;

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

/// The kinds of the open requests that responses will answer, oldest first: asked only when a
/// final response head is read (not listed at every packet of the answer).
pub(crate) trait Pending {
    /// The kind of the `n`th (0-based) request still to be answered; [`ReqKind::Other`] past
    /// the last.
    fn kind(&self, n: usize) -> ReqKind;
}

impl Pending for [ReqKind] {
    fn kind(&self, n: usize) -> ReqKind {
        self.get(n).copied().unwrap_or(ReqKind::Other)
    }
}

/// What the response parser found. A response travels in the (recycled) box of an exchange
/// ([`ExchangeBox`], only [`HttpExchange::response`](crate::protocol::HttpExchange) set) from
/// when its head is read: a pointer is moved, not the response.
#[derive(Debug)]
pub(crate) enum RespEvent {
    /// A final response (or an unreadable one) begins: it answers the oldest open request.
    Start,
    /// The response is complete.
    Complete(ExchangeBox),
    /// The stream ended with the response body short.
    Partial(ExchangeBox),
    /// The response could not be read; the partial response when its head had been read.
    Error(Box<ResponseError>, Option<ExchangeBox>),
    /// The header block of the response just started was skipped (memory limit); an `Error`
    /// follows.
    Skipped,
}

#[derive(Debug)]
enum RespState {
    Idle,
    Head,
    /// The body of the response in the box (its `response` is set).
    Body(Body, ExchangeBox),
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
    interim: Vec<Interim>,
    /// Bytes received for the current response.
    bytes: u64,
    max_header_bytes: usize,
    max_headers: usize,
}

impl ResponseParser {
    /// When the response being read started, while one is (or while the stream is being
    /// searched or counted after an unreadable one: a report of it may still come).
    pub fn in_progress_since(&self) -> Option<Timestamp> {
        match self.state {
            RespState::Head
            | RespState::Body(..)
            | RespState::Resync(_)
            | RespState::Failed(..) => self.start.map(|s| s.ts),
            RespState::Idle | RespState::Stopped => None,
        }
    }

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
        let err = ResponseError::new(
            kind,
            start.ts,
            start.pos,
            offset,
            self.bytes,
            reason,
            Vec::new(),
        );
        self.head.clear();
        self.state = RespState::Failed(Box::new(err), excerpt);
    }

    /// Feeds a segment. `pending` gives the kinds of the open requests (oldest first) that
    /// responses will answer.
    pub fn feed<P: Pending + ?Sized>(
        &mut self,
        seg: Seg<'_>,
        pending: &P,
        out: &mut Vec<RespEvent>,
    ) {
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
                RespState::Head if self.head.buf.is_empty() => {
                    // A block that starts here is read in place when it is a common one.
                    match fast::response(rest, self.max_header_bytes, self.max_headers) {
                        Some((used, h)) => {
                            self.head.extend(rest.get(..used).unwrap_or(&[]));
                            self.bytes = self.bytes.saturating_add(used as u64);
                            i += used;
                            self.head_read(h, seg.ts, pending, &mut used_requests, out);
                        }
                        None => i += self.push_head(rest, &seg, pending, &mut used_requests, out),
                    }
                }
                RespState::Head => {
                    i += self.push_head(rest, &seg, pending, &mut used_requests, out)
                }
                RespState::Body(body, ex) => {
                    let (used, done, err) = feed_body(body, rest);
                    i += used.0;
                    self.bytes = self.bytes.saturating_add(used.0 as u64);
                    if let Some(resp) = ex.response.as_mut() {
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
        if let RespState::Body(_, ex) = state {
            if let Some(resp) = ex.response.as_ref() {
                let err = ResponseError::new(
                    kind,
                    resp.first_byte,
                    resp.first_pos,
                    offset,
                    self.bytes,
                    reason,
                    Vec::new(),
                );
                out.push(RespEvent::Error(Box::new(err), Some(ex)));
            }
        }
        self.state = RespState::Resync(Resync::anywhere());
    }

    fn complete(&mut self, ts: Timestamp, out: &mut Vec<RespEvent>) {
        let state = std::mem::replace(&mut self.state, RespState::Idle);
        if let RespState::Body(_, mut ex) = state {
            if let Some(resp) = ex.response.as_mut() {
                resp.complete = Some(ts);
            }
            out.push(RespEvent::Complete(ex));
        }
    }

    /// Takes `rest` into the header block being read; the bytes taken.
    fn push_head<P: Pending + ?Sized>(
        &mut self,
        rest: &[u8],
        seg: &Seg<'_>,
        pending: &P,
        used_requests: &mut usize,
        out: &mut Vec<RespEvent>,
    ) -> usize {
        let step = self.head.push(rest, self.max_header_bytes);
        let used = match step {
            HeadStep::More => rest.len(),
            HeadStep::Done { used } | HeadStep::TooLarge { used } => used,
        };
        self.bytes = self.bytes.saturating_add(used as u64);
        let start_off = self.start.map(|s| s.offset).unwrap_or(seg.offset);
        if match_literal(&self.head.buf, b"HTTP/") == Match::No {
            out.push(RespEvent::Start);
            self.fail(
                ResponseErrorKind::Malformed,
                start_off,
                ResponseErrorReason::NotHttp,
            );
            return used;
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
            HeadStep::Done { .. } => self.head_done(seg.ts, pending, used_requests, out),
        }
        used
    }

    fn head_done<P: Pending + ?Sized>(
        &mut self,
        ts: Timestamp,
        pending: &P,
        used_requests: &mut usize,
        out: &mut Vec<RespEvent>,
    ) {
        let block = &self.head.buf;
        let fast = fast::response(block, usize::MAX, self.max_headers)
            .filter(|(used, _)| *used == block.len())
            .map(|(_, h)| h);
        match fast.map_or_else(|| parse_response_head(block, self.max_headers), Ok) {
            Ok(h) => self.head_read(h, ts, pending, used_requests, out),
            Err(e) => {
                let offset = self.start.map_or(0, |s| s.offset);
                out.push(RespEvent::Start);
                self.fail(ResponseErrorKind::Malformed, offset, e);
            }
        }
    }

    /// Reports the response whose header block (in the header buffer) says `h`: an interim
    /// one is remembered, a final one answers the next of the `pending` requests.
    fn head_read<P: Pending + ?Sized>(
        &mut self,
        h: Head,
        ts: Timestamp,
        pending: &P,
        used_requests: &mut usize,
        out: &mut Vec<RespEvent>,
    ) {
        let start = self.start.unwrap_or(MsgStart {
            ts,
            pos: PacketPos::default(),
            offset: 0,
        });
        let header_bytes = self.head.buf.len();
        if (100..200).contains(&h.status) && h.status != 101 {
            self.head.clear();
            if self.interim.len() < MAX_INTERIM {
                self.interim.push(Interim {
                    status: h.status,
                    at: start.ts,
                    pos: start.pos,
                });
            }
            self.state = RespState::Idle;
            return;
        }
        let kind = pending.kind(*used_requests);
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
        // The block's buffer becomes the headers' text (the parser starts a new one).
        let headers = Headers::from_block(self.head.take(), h.index);
        self.head.clear();
        let tunnel =
            h.status == 101 || (kind == ReqKind::Connect && (200..300).contains(&h.status));
        let no_body = tunnel || kind == ReqKind::Head || h.status == 204 || h.status == 304;
        let body = if no_body {
            None
        } else if h.chunked {
            Some(Body::Chunked(ChunkedDecoder::new()))
        } else if let Some(n) = content_length {
            (n > 0).then_some(Body::Length(n))
        } else {
            Some(Body::UntilClose)
        };
        // Built in the box it travels in from now on.
        let mut ex = ExchangeBox::empty();
        ex.response = Some(HttpResponse {
            first_byte: start.ts,
            first_pos: start.pos,
            headers_done: ts,
            complete: body.is_none().then_some(ts),
            status: h.status,
            version: h.version,
            headers,
            header_bytes,
            content_length,
            chunked: h.chunked,
            body_bytes: 0,
            interim: std::mem::take(&mut self.interim),
        });
        match body {
            Some(b) => self.state = RespState::Body(b, ex),
            None => {
                out.push(RespEvent::Complete(ex));
                self.state = if tunnel {
                    RespState::Stopped
                } else {
                    RespState::Idle
                };
            }
        }
    }

    /// Heap held by the header buffer and the interim statuses.
    pub fn memory(&self) -> usize {
        self.head.buf.capacity()
    }

    /// Skips the header block being read (a memory limit was reached): reports the response
    /// as started and unreadable ([`RespEvent::Skipped`], then a [`ResponseErrorKind::Gap`]
    /// error), frees the buffer and looks for the next status line. Returns the bytes skipped;
    /// nothing happens outside a header block.
    pub fn skip_head(&mut self, ts: Timestamp, out: &mut Vec<RespEvent>) -> usize {
        if !matches!(self.state, RespState::Head) {
            return 0;
        }
        let held = self.head.buf.len();
        let start = self.start.unwrap_or(MsgStart {
            ts,
            pos: PacketPos::default(),
            offset: 0,
        });
        let excerpt = self.head.buf.get(..EXCERPT_LEN).unwrap_or(&self.head.buf);
        let err = ResponseError::new(
            ResponseErrorKind::Gap,
            start.ts,
            start.pos,
            start.offset,
            self.bytes,
            ResponseErrorReason::HeadSkipped { held },
            excerpt.to_vec(),
        );
        out.push(RespEvent::Start);
        out.push(RespEvent::Skipped);
        out.push(RespEvent::Error(Box::new(err), None));
        self.head.buf = Vec::new();
        self.head.clear();
        self.state = RespState::Resync(Resync::anywhere());
        held
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
                let err = ResponseError::new(
                    ResponseErrorKind::Gap,
                    start.ts,
                    start.pos,
                    offset,
                    self.bytes.saturating_add(len),
                    ResponseErrorReason::HeadBytesMissing { len },
                    excerpt.to_vec(),
                );
                out.push(RespEvent::Start);
                out.push(RespEvent::Error(Box::new(err), None));
                self.head.clear();
                self.state = RespState::Resync(Resync::anywhere());
            }
            RespState::Body(body, ex) => {
                self.bytes = self.bytes.saturating_add(len);
                let resp = ex.response.as_mut();
                match body_gap(body, len) {
                    GapResult::Inside => {
                        if let Some(resp) = resp {
                            resp.body_bytes = resp.body_bytes.saturating_add(len);
                        }
                    }
                    GapResult::Finished(n) => {
                        if let Some(resp) = resp {
                            resp.body_bytes = resp.body_bytes.saturating_add(n);
                        }
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
            RespState::Body(Body::UntilClose, mut ex) => {
                if let Some(resp) = ex.response.as_mut() {
                    resp.complete = Some(ts);
                }
                out.push(RespEvent::Complete(ex));
            }
            RespState::Body(_, ex) => out.push(RespEvent::Partial(ex)),
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

/// Parses a complete response header block.
pub(super) fn parse_response_head(
    block: &[u8],
    max_headers: usize,
) -> Result<Head, ResponseErrorReason> {
    let mut stack = [httparse::EMPTY_HEADER; STACK_SLOTS];
    let parsed = match parse_response_in(block, &mut stack, max_headers) {
        Err(httparse::Error::TooManyHeaders) => {
            parse_response_in(block, &mut heap_slots(block), max_headers)
        }
        other => other,
    };
    match parsed {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err(ResponseErrorReason::IncompleteHead),
        Err(e) => Err(ResponseErrorReason::InvalidHead { parser: e }),
    }
}

/// Parses a response header block with `slots` for its headers (`None`: incomplete).
fn parse_response_in<'b>(
    block: &'b [u8],
    slots: &mut [httparse::Header<'b>],
    max_headers: usize,
) -> Result<Option<Head>, httparse::Error> {
    let mut resp = httparse::Response::new(slots);
    match resp.parse(block)? {
        httparse::Status::Complete(_) => {
            let line = (resp.reason.unwrap_or(""), "");
            let (index, content_length, chunked) =
                read_headers(block, resp.headers, max_headers, line);
            Ok(Some(Head {
                status: resp.code.unwrap_or(0),
                version: resp.version.unwrap_or(1),
                connect: false,
                index,
                content_length,
                chunked,
            }))
        }
        httparse::Status::Partial => Ok(None),
    }
}
