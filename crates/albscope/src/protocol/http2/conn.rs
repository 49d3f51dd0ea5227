//! The HTTP/2 state of one connection: frame readers and HPACK decoders per direction,
//! settings and flow-control windows, and the streams in flight. Each stream becomes one
//! [`HttpExchange`], handed out when its response ends or it is reset; streams still open at
//! the close are taken with [`H2Conn::take_unfinished`].

use super::frame::{flag, kind, FrameAt, FrameEvent, FrameHeader, FrameReader, SkipWhy};
use super::hpack::{Block, HeaderDecoder};
use super::{H2ErrorCode, H2GoAway, H2Reset, H2Stall, H2Stream, WindowScope, MAX_STALLS};
use crate::capture::Timestamp;
use crate::flow::Dir;
use crate::protocol::http::Seg;
use crate::protocol::{
    pair_header, Headers, HttpExchange, HttpRequest, HttpResponse, Interim, Known, ResponseError,
    ResponseErrorKind, ResponseErrorReason,
};

/// Streams tracked at once per connection (more are counted, not followed).
const MAX_STREAMS: usize = 256;
/// The initial flow-control window (RFC 9113 section 6.9.2).
const INITIAL_WINDOW: i64 = 65_535;
/// Interim responses kept per stream.
const MAX_INTERIM: usize = 16;
/// GOAWAY frames remembered per connection.
const MAX_GOAWAYS: usize = 8;

/// What was counted on a connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct H2Counters {
    /// Frames read.
    pub frames: u64,
    /// Header blocks that could not be decoded (HPACK state lost or invalid).
    pub undecodable_blocks: u64,
    /// Frames whose payload was not kept (too large, gap, memory limit).
    pub frames_skipped: u64,
    /// Header blocks skipped for the memory limit.
    pub blocks_skipped_memory: u64,
    /// Bytes of buffers given up for the memory limit.
    pub bytes_released: u64,
    /// Streams not followed because too many were open.
    pub streams_over_cap: u64,
    /// Directions whose frame boundaries were lost (gap, bad preface).
    pub lost_directions: u64,
    /// RST_STREAM frames.
    pub resets: u64,
    /// GOAWAY frames.
    pub goaways: u64,
    /// Flow-control stalls.
    pub stalls: u64,
}

/// One stream in flight.
#[derive(Debug)]
struct Stream {
    id: u32,
    ex: HttpExchange,
    h2: H2Stream,
    req_head: bool,
    resp_final: bool,
    /// Interim (1xx) responses before the final one.
    interim: Vec<Interim>,
    /// Send windows per direction of data.
    win: [i64; 2],
    /// Index in `h2.stalls` of an open stall per direction.
    stalled: [Option<usize>; 2],
}

/// A header block being collected over CONTINUATION frames.
#[derive(Debug)]
struct Pending {
    stream: u32,
    block: Vec<u8>,
    at: FrameAt,
    end_stream: bool,
    /// Part of it was not kept (too large, gap, memory).
    lost: Option<SkipWhy>,
    promise: bool,
}

/// The HTTP/2 state of a connection.
#[derive(Debug)]
pub(crate) struct H2Conn {
    readers: [FrameReader; 2],
    decoders: [HeaderDecoder; 2],
    pending: [Option<Pending>; 2],
    streams: Vec<Stream>,
    conn_win: [i64; 2],
    initial_win: [i64; 2],
    /// An open connection-level stall per direction: (stream id, index in its stalls).
    conn_stalled: [Option<(u32, usize)>; 2],
    next_index: u32,
    /// Exchanges handed out finished.
    pub finished: u32,
    /// When the last finished exchange ended.
    pub last_end: Option<Timestamp>,
    /// GOAWAY frames in order (capped).
    pub goaways: Vec<H2GoAway>,
    max_header_bytes: [usize; 2],
    max_headers: usize,
    /// Counters.
    pub counters: H2Counters,
    /// Finished exchanges not yet taken.
    out: Vec<HttpExchange>,
}

impl H2Conn {
    /// A connection whose header blocks are capped at `max_request_header_bytes` (client)
    /// and `max_response_header_bytes` (server), keeping at most `max_headers` headers each.
    pub fn new(
        max_request_header_bytes: usize,
        max_response_header_bytes: usize,
        max_headers: usize,
    ) -> Self {
        H2Conn {
            readers: [
                FrameReader::new(max_request_header_bytes, true),
                FrameReader::new(max_response_header_bytes, false),
            ],
            decoders: [HeaderDecoder::default(), HeaderDecoder::default()],
            pending: [None, None],
            streams: Vec::new(),
            conn_win: [INITIAL_WINDOW; 2],
            initial_win: [INITIAL_WINDOW; 2],
            conn_stalled: [None, None],
            next_index: 0,
            finished: 0,
            last_end: None,
            goaways: Vec::new(),
            max_header_bytes: [max_request_header_bytes, max_response_header_bytes],
            max_headers,
            counters: H2Counters::default(),
            out: Vec::new(),
        }
    }

    /// Heap held in buffers (frame payloads, header blocks being collected).
    pub fn memory(&self) -> usize {
        let pending: usize = self
            .pending
            .iter()
            .flatten()
            .map(|p| p.block.capacity())
            .sum();
        self.readers
            .iter()
            .map(FrameReader::memory)
            .sum::<usize>()
            .saturating_add(pending)
    }

    /// Gives the buffers up for the memory budget: the frames and header blocks being read
    /// are skipped (their streams marked), the HPACK state of those directions is lost.
    /// Returns the bytes released.
    pub fn release(&mut self) -> usize {
        let mut released = 0;
        for (d, r) in self.readers.iter_mut().enumerate() {
            let n = r.release();
            if n > 0 {
                if let Some(dec) = self.decoders.get_mut(d) {
                    dec.poison();
                }
            }
            released += n;
        }
        for p in self.pending.iter_mut().flatten() {
            released += p.block.capacity();
            p.block = Vec::new();
            p.lost = Some(SkipWhy::Memory);
        }
        self.counters.bytes_released += released as u64;
        released
    }

    /// Stream bytes in direction `dir`.
    pub fn feed(&mut self, dir: Dir, seg: Seg<'_>) {
        let d = dir.index();
        let Some(reader) = self.readers.get_mut(d) else {
            return;
        };
        let mut reader = std::mem::take(reader);
        reader.feed(seg, &mut |ev, at| self.event(dir, ev, at));
        if let Some(r) = self.readers.get_mut(d) {
            *r = reader;
        }
    }

    /// `len` bytes of direction `dir` are missing from the capture.
    pub fn gap(&mut self, dir: Dir, ts: Timestamp, len: u64) {
        let d = dir.index();
        let Some(reader) = self.readers.get_mut(d) else {
            return;
        };
        let mut reader = std::mem::take(reader);
        reader.gap(ts, len, &mut |ev, at| self.event(dir, ev, at));
        if let Some(r) = self.readers.get_mut(d) {
            *r = reader;
        }
    }

    /// Exchanges finished since the last call.
    pub fn take_finished(&mut self) -> std::vec::Drain<'_, HttpExchange> {
        self.out.drain(..)
    }

    /// The streams still open (at the close), oldest first.
    pub fn take_unfinished(&mut self) -> Vec<HttpExchange> {
        std::mem::take(&mut self.streams)
            .into_iter()
            .map(Stream::into_exchange)
            .collect()
    }

    fn event(&mut self, dir: Dir, ev: FrameEvent<'_>, at: FrameAt) {
        match ev {
            FrameEvent::Frame(hdr, payload) => {
                self.counters.frames += 1;
                self.frame(dir, hdr, payload, at);
            }
            FrameEvent::Data(hdr, body) => {
                self.counters.frames += 1;
                self.data(dir, hdr, body, at);
            }
            FrameEvent::Skipped(hdr, why) => {
                self.counters.frames += 1;
                self.counters.frames_skipped += 1;
                self.skipped(dir, hdr, why, at);
            }
            FrameEvent::BadPreface | FrameEvent::Lost => {
                self.counters.lost_directions += 1;
                if let Some(p) = self.pending.get_mut(dir.index()).and_then(Option::take) {
                    if let Some(s) = self.stream_mut(p.stream) {
                        s.h2.undecodable_headers = true;
                    }
                }
            }
        }
    }

    fn stream_mut(&mut self, id: u32) -> Option<&mut Stream> {
        self.streams.iter_mut().find(|s| s.id == id)
    }

    fn frame(&mut self, dir: Dir, hdr: FrameHeader, payload: &[u8], at: FrameAt) {
        let d = dir.index();
        if hdr.kind != kind::CONTINUATION {
            if let Some(p) = self.pending.get_mut(d).and_then(Option::take) {
                // A header block interrupted by another frame: a protocol error; its headers
                // (and the HPACK state) are lost.
                self.undecodable(dir, p.stream);
            }
        }
        match hdr.kind {
            kind::HEADERS | kind::PUSH_PROMISE => {
                let promise = hdr.kind == kind::PUSH_PROMISE;
                let Some(fragment) = header_fragment(&hdr, payload) else {
                    self.undecodable(dir, hdr.stream);
                    return;
                };
                let pending = Pending {
                    stream: hdr.stream,
                    block: Vec::new(),
                    at,
                    end_stream: !promise && hdr.has(flag::END_STREAM),
                    lost: None,
                    promise,
                };
                if hdr.has(flag::END_HEADERS) {
                    self.block(dir, pending, fragment);
                } else if let Some(slot) = self.pending.get_mut(d) {
                    let mut pending = pending;
                    pending.block.extend_from_slice(fragment);
                    *slot = Some(pending);
                }
            }
            kind::CONTINUATION => {
                let cap = self.max_header_bytes.get(d).copied().unwrap_or(0);
                let Some(mut p) = self.pending.get_mut(d).and_then(Option::take) else {
                    return;
                };
                if p.stream != hdr.stream {
                    self.undecodable(dir, p.stream);
                    return;
                }
                if p.lost.is_none() {
                    if p.block.len().saturating_add(payload.len()) > cap {
                        p.lost = Some(SkipWhy::TooLarge);
                        p.block = Vec::new();
                    } else {
                        p.block.extend_from_slice(payload);
                    }
                }
                if hdr.has(flag::END_HEADERS) {
                    p.at.end = at.end;
                    let block = std::mem::take(&mut p.block);
                    self.block(dir, p, &block);
                } else if let Some(slot) = self.pending.get_mut(d) {
                    *slot = Some(p);
                }
            }
            kind::RST_STREAM => {
                self.counters.resets += 1;
                let code = H2ErrorCode(be32(payload, 0).unwrap_or(0));
                let reset = H2Reset {
                    dir,
                    code,
                    ts: at.ts,
                    pos: at.pos,
                };
                if let Some(s) = self.stream_mut(hdr.stream) {
                    s.h2.reset = Some(reset);
                    self.finish(hdr.stream, at.end);
                }
            }
            kind::SETTINGS if !hdr.has(flag::ACK) && hdr.stream == 0 => {
                for entry in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([entry[0], entry[1]]);
                    let value = be32(entry, 2).unwrap_or(0);
                    if id == 4 {
                        // The sender's receive window: the send window of the other direction.
                        let o = dir.reverse().index();
                        let value = i64::from(value);
                        if let Some(init) = self.initial_win.get_mut(o) {
                            let delta = value - *init;
                            *init = value;
                            for s in &mut self.streams {
                                if let Some(w) = s.win.get_mut(o) {
                                    *w = w.saturating_add(delta);
                                }
                            }
                        }
                    }
                }
            }
            kind::WINDOW_UPDATE => {
                let incr = i64::from(be32(payload, 0).unwrap_or(0) & 0x7fff_ffff);
                let o = dir.reverse();
                self.window_update(o, hdr.stream, incr, at.ts);
            }
            kind::GOAWAY => {
                self.counters.goaways += 1;
                let goaway = H2GoAway {
                    dir,
                    last_stream_id: be32(payload, 0).unwrap_or(0) & 0x7fff_ffff,
                    code: H2ErrorCode(be32(payload, 4).unwrap_or(0)),
                    ts: at.ts,
                    pos: at.pos,
                };
                if self.goaways.len() < MAX_GOAWAYS {
                    self.goaways.push(goaway);
                }
                if dir == Dir::ToClient {
                    for s in &mut self.streams {
                        if s.id > goaway.last_stream_id && s.id % 2 == 1 {
                            s.h2.refused_by.get_or_insert(goaway);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A complete header block of stream `p.stream` with its last fragment `tail` (the whole
    /// block when `p.block` is empty).
    fn block(&mut self, dir: Dir, p: Pending, tail: &[u8]) {
        let d = dir.index();
        let cap = self.max_header_bytes.get(d).copied().unwrap_or(0);
        let mut lost = p.lost;
        let joined;
        let bytes: &[u8] = if p.block.is_empty() {
            tail
        } else {
            let mut b = p.block;
            b.extend_from_slice(tail);
            joined = b;
            &joined
        };
        if lost.is_none() && bytes.len() > cap {
            lost = Some(SkipWhy::TooLarge);
        }
        let header_bytes = bytes.len();
        let decoded = match lost {
            None => self
                .decoders
                .get_mut(d)
                .and_then(|dec| dec.decode(bytes, self.max_headers)),
            Some(_) => {
                if let Some(dec) = self.decoders.get_mut(d) {
                    dec.poison();
                }
                None
            }
        };
        if p.promise {
            return;
        }
        match lost {
            Some(why) => self.lost_block(dir, p.stream, why, p.at, header_bytes),
            None => match decoded {
                Some(block) => match dir {
                    Dir::ToServer => self.request_block(p.stream, block, p.at, header_bytes),
                    Dir::ToClient => self.response_block(p.stream, block, p.at, header_bytes),
                },
                None => self.undecodable(dir, p.stream),
            },
        }
        if p.end_stream {
            self.end_side(dir, p.stream, p.at.end);
        }
    }

    /// The stream `id`, opened (as exchange) when the client starts it or the server answers
    /// one not seen opening.
    fn open(&mut self, id: u32, ts: Timestamp) -> Option<&mut Stream> {
        if let Some(at) = self.streams.iter().position(|s| s.id == id) {
            return self.streams.get_mut(at);
        }
        if id == 0 {
            return None;
        }
        if self.streams.len() >= MAX_STREAMS {
            self.counters.streams_over_cap += 1;
            return None;
        }
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        let idle_before = if index > 0 && self.streams.is_empty() {
            self.last_end.map(|e| ts.since(e))
        } else {
            None
        };
        let o = [self.initial_win[0], self.initial_win[1]];
        let refused_by = self
            .goaways
            .iter()
            .find(|g| g.dir == Dir::ToClient && id > g.last_stream_id && id % 2 == 1)
            .copied();
        self.streams.push(Stream {
            id,
            ex: HttpExchange {
                index,
                idle_before,
                request: None,
                request_lost_at: None,
                response: None,
                response_error: None,
                headers_skipped: None,
                h2: None,
            },
            h2: H2Stream {
                id,
                refused_by,
                ..H2Stream::default()
            },
            req_head: false,
            resp_final: false,
            interim: Vec::new(),
            win: o,
            stalled: [None, None],
        });
        self.streams.last_mut()
    }

    fn request_block(&mut self, id: u32, block: Block, at: FrameAt, header_bytes: usize) {
        let Some(s) = self.open(id, at.ts) else {
            return;
        };
        if s.req_head {
            // Request trailers: not kept.
            return;
        }
        s.req_head = true;
        let method = block.pseudo(":method").unwrap_or("").to_string();
        let authority = block.pseudo(":authority").map(str::to_string);
        let target = block
            .pseudo(":path")
            .map(str::to_string)
            .or_else(|| authority.clone())
            .unwrap_or_default();
        let mut headers = block.headers;
        if let Some(a) = authority {
            if pair_header(&headers, "host").is_none() {
                headers.insert(0, ("host".to_string(), a));
            }
        }
        let mut headers: Headers = headers.into();
        headers.set_start_line(&method, &target);
        let content_length = headers
            .known(Known::ContentLength)
            .and_then(|v| v.trim().parse().ok());
        s.ex.request = Some(HttpRequest {
            first_byte: at.ts,
            first_pos: at.pos,
            headers_done: Some(at.end),
            complete: None,
            version: 2,
            headers,
            header_bytes,
            content_length,
            chunked: false,
            body_bytes: 0,
        });
    }

    fn response_block(&mut self, id: u32, block: Block, at: FrameAt, header_bytes: usize) {
        let Some(s) = self.open(id, at.ts) else {
            return;
        };
        if s.resp_final {
            s.h2.trailers = block.headers;
            return;
        }
        let status = block
            .pseudo(":status")
            .and_then(|v| v.trim().parse::<u16>().ok());
        let Some(status) = status.filter(|s| (100..=999).contains(s)) else {
            s.h2.undecodable_headers = true;
            return;
        };
        if (100..200).contains(&status) {
            // Remembered on the final response when it comes.
            if s.interim.len() < MAX_INTERIM {
                s.interim.push(Interim {
                    status,
                    at: at.ts,
                    pos: at.pos,
                });
            }
            return;
        }
        s.resp_final = true;
        let interim = std::mem::take(&mut s.interim);
        let headers: Headers = block.headers.into();
        let content_length = headers
            .known(Known::ContentLength)
            .and_then(|v| v.trim().parse().ok());
        s.ex.response = Some(HttpResponse {
            first_byte: at.ts,
            first_pos: at.pos,
            headers_done: at.end,
            complete: None,
            status,
            version: 2,
            headers,
            header_bytes,
            content_length,
            chunked: false,
            body_bytes: 0,
            interim,
        });
    }

    /// A header block that was not kept whole.
    fn lost_block(&mut self, dir: Dir, id: u32, why: SkipWhy, at: FrameAt, bytes: usize) {
        match why {
            SkipWhy::Memory => self.counters.blocks_skipped_memory += 1,
            _ => self.counters.undecodable_blocks += 1,
        }
        let limit = self.max_header_bytes.get(dir.index()).copied().unwrap_or(0);
        let Some(s) = self.open(id, at.ts) else {
            return;
        };
        match (why, dir) {
            (SkipWhy::Memory, _) => s.ex.headers_skipped = Some(dir),
            (SkipWhy::TooLarge, Dir::ToClient) if !s.resp_final => {
                s.resp_final = true;
                s.ex.response_error = Some(ResponseError::new(
                    ResponseErrorKind::HeaderTooLarge,
                    at.ts,
                    at.pos,
                    0,
                    bytes as u64,
                    ResponseErrorReason::HeaderBlockTooLarge { limit },
                    Vec::new(),
                ));
            }
            _ => s.h2.undecodable_headers = true,
        }
    }

    fn undecodable(&mut self, dir: Dir, id: u32) {
        self.counters.undecodable_blocks += 1;
        if let Some(dec) = self.decoders.get_mut(dir.index()) {
            dec.poison();
        }
        if let Some(s) = self.stream_mut(id) {
            s.h2.undecodable_headers = true;
        }
    }

    fn skipped(&mut self, dir: Dir, hdr: FrameHeader, why: SkipWhy, at: FrameAt) {
        let d = dir.index();
        match hdr.kind {
            kind::HEADERS | kind::PUSH_PROMISE => {
                let p = Pending {
                    stream: hdr.stream,
                    block: Vec::new(),
                    at,
                    end_stream: hdr.kind == kind::HEADERS && hdr.has(flag::END_STREAM),
                    lost: Some(why),
                    promise: hdr.kind == kind::PUSH_PROMISE,
                };
                if hdr.has(flag::END_HEADERS) {
                    self.block(dir, p, &[]);
                } else if let Some(slot) = self.pending.get_mut(d) {
                    *slot = Some(p);
                }
            }
            kind::CONTINUATION => {
                if let Some(p) = self.pending.get_mut(d).and_then(Option::as_mut) {
                    p.lost.get_or_insert(why);
                    p.block = Vec::new();
                }
                if hdr.has(flag::END_HEADERS) {
                    if let Some(p) = self.pending.get_mut(d).and_then(Option::take) {
                        self.block(dir, p, &[]);
                    }
                }
            }
            _ => {}
        }
    }

    fn data(&mut self, dir: Dir, hdr: FrameHeader, body: u64, at: FrameAt) {
        let d = dir.index();
        let len = i64::from(hdr.len);
        if let Some(w) = self.conn_win.get_mut(d) {
            *w -= len;
        }
        let conn_win = self.conn_win.get(d).copied().unwrap_or(1);
        let conn_open_stall = self.conn_stalled.get(d).copied().flatten().is_some();
        let end = hdr.has(flag::END_STREAM);
        let mut new_conn_stall = None;
        if let Some(s) = self.stream_mut(hdr.stream) {
            match dir {
                Dir::ToServer => {
                    if let Some(r) = s.ex.request.as_mut() {
                        r.body_bytes = r.body_bytes.saturating_add(body);
                    }
                }
                Dir::ToClient => {
                    if let Some(r) = s.ex.response.as_mut() {
                        r.body_bytes = r.body_bytes.saturating_add(body);
                    }
                }
            }
            let win = s.win.get_mut(d).map(|w| {
                *w -= len;
                *w
            });
            if !end && len > 0 {
                let stall = |scope| H2Stall {
                    dir,
                    scope,
                    ts: at.end,
                    pos: at.pos,
                    resumed: None,
                };
                let open = s.stalled.get(d).copied().flatten().is_some();
                if win.is_some_and(|w| w <= 0) && !open && s.h2.stalls.len() < MAX_STALLS {
                    s.h2.stalls.push(stall(WindowScope::Stream));
                    if let Some(slot) = s.stalled.get_mut(d) {
                        *slot = Some(s.h2.stalls.len() - 1);
                    }
                    self.counters.stalls += 1;
                } else if conn_win <= 0 && !conn_open_stall && s.h2.stalls.len() < MAX_STALLS {
                    s.h2.stalls.push(stall(WindowScope::Connection));
                    new_conn_stall = Some((s.id, s.h2.stalls.len() - 1));
                    self.counters.stalls += 1;
                }
            }
        }
        if let (Some(n), Some(slot)) = (new_conn_stall, self.conn_stalled.get_mut(d)) {
            *slot = Some(n);
        }
        if end {
            self.end_side(dir, hdr.stream, at.end);
        }
    }

    /// A WINDOW_UPDATE for data in direction `data_dir`.
    fn window_update(&mut self, data_dir: Dir, stream: u32, incr: i64, ts: Timestamp) {
        let d = data_dir.index();
        if stream == 0 {
            if let Some(w) = self.conn_win.get_mut(d) {
                *w = w.saturating_add(incr);
                if *w > 0 {
                    if let Some((id, i)) = self.conn_stalled.get_mut(d).and_then(Option::take) {
                        if let Some(st) = self.stream_mut(id).and_then(|s| s.h2.stalls.get_mut(i)) {
                            st.resumed.get_or_insert(ts);
                        }
                    }
                }
            }
        } else if let Some(s) = self.stream_mut(stream) {
            if let Some(w) = s.win.get_mut(d) {
                *w = w.saturating_add(incr);
                if *w > 0 {
                    if let Some(i) = s.stalled.get_mut(d).and_then(Option::take) {
                        if let Some(st) = s.h2.stalls.get_mut(i) {
                            st.resumed.get_or_insert(ts);
                        }
                    }
                }
            }
        }
    }

    /// END_STREAM in direction `dir`.
    fn end_side(&mut self, dir: Dir, id: u32, ts: Timestamp) {
        match dir {
            Dir::ToServer => {
                if let Some(r) = self.stream_mut(id).and_then(|s| s.ex.request.as_mut()) {
                    r.complete.get_or_insert(ts);
                }
            }
            Dir::ToClient => {
                let Some(s) = self.stream_mut(id) else {
                    return;
                };
                if let Some(r) = s.ex.response.as_mut() {
                    r.complete.get_or_insert(ts);
                }
                self.finish(id, ts);
            }
        }
    }

    /// The stream is over (response ended, or reset): hands its exchange out.
    fn finish(&mut self, id: u32, ts: Timestamp) {
        let Some(at) = self.streams.iter().position(|s| s.id == id) else {
            return;
        };
        let s = self.streams.remove(at);
        for (d, c) in self.conn_stalled.iter_mut().enumerate() {
            if c.is_some_and(|(sid, _)| sid == id) {
                let _ = d;
                *c = None;
            }
        }
        self.finished = self.finished.saturating_add(1);
        self.last_end = Some(ts);
        self.out.push(s.into_exchange());
    }
}

impl Stream {
    fn into_exchange(self) -> HttpExchange {
        let mut ex = self.ex;
        ex.h2 = Some(Box::new(self.h2));
        ex
    }
}

/// The header block fragment of a HEADERS or PUSH_PROMISE payload (padding, priority and the
/// promised stream id removed); `None` when the lengths are inconsistent.
fn header_fragment<'a>(hdr: &FrameHeader, payload: &'a [u8]) -> Option<&'a [u8]> {
    let mut start = 0usize;
    let mut pad = 0usize;
    if hdr.has(flag::PADDED) {
        pad = usize::from(*payload.first()?);
        start = 1;
    }
    if hdr.kind == kind::HEADERS && hdr.has(flag::PRIORITY) {
        start += 5;
    }
    if hdr.kind == kind::PUSH_PROMISE {
        start += 4;
    }
    let end = payload.len().checked_sub(pad)?;
    payload.get(start..end)
}

/// A big-endian u32 at `at`.
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}
