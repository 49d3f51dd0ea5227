//! The skeleton floor of the throughput bench: a [`FlowSink`] that finds every HTTP/1 head in
//! each connection direction's in-order payload and parses it with `httparse`, counting them,
//! and does nothing else. It is the least work a design that parses every head must add to
//! `flows` (capture -> decode -> flow): no exchanges built, no pairing, no diagnosis. With
//! [`HeadReader::Scan`] it reads only what the framing needs from each head instead: about the
//! least a design that finds every head must do.
//!
//! Bodies are skipped by their framing (Content-Length, chunked via
//! `httparse::parse_chunk_size`, none for 1xx/204/304 and responses to HEAD), so body bytes are
//! not scanned. A head split over segments is buffered until its end. After a gap, an unparsable
//! head, or a head that starts before the capture, the direction scans for the next head start
//! (`HTTP/1.` for a response, the start of a line holding ` HTTP/1.` for a request) and may
//! miss a head or take body bytes for one: a skeleton, not a parser. A direction whose first
//! bytes after a captured SYN are not an HTTP/1 head (TLS, HTTP/2) is ignored, and so is one
//! after a response without framing (read until close) or a 101.

use albscope::flow::{ConnId, Dir, FlowEvent, FlowSink};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// Longest head (or chunk-size line, or trailer) buffered before giving up and scanning.
const MAX_HEAD: usize = 64 * 1024;

/// Most header lines parsed in one head.
const MAX_HEADERS: usize = 128;

/// Most requests remembered per connection (whether each was HEAD) before their responses.
const MAX_PENDING: usize = 1024;

/// What the skeleton counted.
#[derive(Debug, Default)]
pub struct SkeletonCounts {
    /// Request heads parsed.
    pub requests: u64,
    /// Response heads parsed (1xx included).
    pub responses: u64,
    /// Times a direction lost its framing and scanned for the next head.
    pub resyncs: u64,
    /// Directions ignored (not HTTP/1 from their start, read until close, or upgraded).
    pub ignored: u64,
    /// Connections closed.
    pub closed: u64,
}

/// Where a direction is in its stream.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// The first head of a direction whose start was captured.
    First,
    /// A head.
    Head,
    /// That many body bytes, then a head.
    Body(u64),
    /// A chunk-size line.
    ChunkSize,
    /// That many bytes of chunk data and its CRLF, then a chunk-size line.
    ChunkData(u64),
    /// The trailer section after the last chunk, then a head.
    Trailer,
    /// The start of the next head, by scanning.
    Scan,
    /// Nothing more (not HTTP/1, or read until close).
    Ignore,
}

/// One direction of a connection.
#[derive(Debug)]
struct Side {
    want: Want,
    /// The start of an element (head, chunk-size line, trailer) not complete yet.
    partial: Vec<u8>,
}

impl Side {
    fn new(want: Want) -> Self {
        Side {
            want,
            partial: Vec::new(),
        }
    }
}

/// Both directions of a connection, and whether each request still unanswered was HEAD.
#[derive(Debug)]
struct Conn {
    sides: [Side; 2],
    head_requests: VecDeque<bool>,
}

/// Hashes a connection id (sequential numbers) by one multiplication.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// How the skeleton reads a head.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum HeadReader {
    /// `httparse`: the request or status line and every header line tokenised.
    #[default]
    Httparse,
    /// Only what the framing needs: the end of the head (`\r\n\r\n`), the first line's
    /// shape (a method's capital, or `HTTP/1.` and the status code), and the lines starting
    /// with `Content-Length:` or `Transfer-Encoding:`. No other header is looked at.
    Scan,
}

/// The skeleton sink: counts HTTP/1 heads per direction (see the module comment).
#[derive(Default)]
pub struct Skeleton {
    conns: HashMap<u64, Conn, BuildHasherDefault<IdHasher>>,
    /// How heads are read.
    pub reader: HeadReader,
    /// What it counted.
    pub counts: SkeletonCounts,
}

impl Skeleton {
    /// A skeleton reading heads with `reader`.
    pub fn new(reader: HeadReader) -> Self {
        Skeleton {
            reader,
            ..Skeleton::default()
        }
    }
}

impl FlowSink for Skeleton {
    fn on_flow_event(&mut self, conn: ConnId, event: FlowEvent<'_>) {
        match event {
            FlowEvent::Open { saw_syn, .. } => {
                let want = if saw_syn { Want::First } else { Want::Scan };
                self.conns.insert(
                    conn.0,
                    Conn {
                        sides: [Side::new(want), Side::new(want)],
                        head_requests: VecDeque::new(),
                    },
                );
            }
            FlowEvent::Data { dir, bytes, .. } => {
                let c = self.conns.entry(conn.0).or_insert_with(|| Conn {
                    sides: [Side::new(Want::Scan), Side::new(Want::Scan)],
                    head_requests: VecDeque::new(),
                });
                feed(c, dir, bytes, self.reader, &mut self.counts);
            }
            FlowEvent::Gap { dir, .. } => {
                if let Some(c) = self.conns.get_mut(&conn.0) {
                    let side = &mut c.sides[index(dir)];
                    side.partial.clear();
                    if side.want != Want::Ignore {
                        side.want = Want::Scan;
                        self.counts.resyncs += 1;
                    }
                }
            }
            FlowEvent::Close(_) => {
                self.conns.remove(&conn.0);
                self.counts.closed += 1;
            }
            FlowEvent::Fin { .. } | FlowEvent::Rst { .. } => {}
        }
    }
}

fn index(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

/// In-order bytes of one direction: completes a buffered element first, then the rest.
fn feed(conn: &mut Conn, dir: Dir, bytes: &[u8], reader: HeadReader, counts: &mut SkeletonCounts) {
    let i = index(dir);
    if conn.sides[i].partial.is_empty() {
        run(conn, dir, bytes, reader, counts);
        return;
    }
    // The element buffered so far starts at the buffer's first byte: parse it again, whole.
    let mut joined = std::mem::take(&mut conn.sides[i].partial);
    joined.extend_from_slice(bytes);
    run(conn, dir, &joined, reader, counts);
    if conn.sides[i].partial.is_empty() {
        joined.clear();
        conn.sides[i].partial = joined; // keep the allocation
    }
}

/// Walks `data` by the direction's framing, parsing each head; keeps an incomplete element.
fn run(
    conn: &mut Conn,
    dir: Dir,
    mut data: &[u8],
    reader: HeadReader,
    counts: &mut SkeletonCounts,
) {
    let i = index(dir);
    while !data.is_empty() {
        let want = conn.sides[i].want;
        let (used, next) = match want {
            Want::Ignore => return,
            Want::Body(n) | Want::ChunkData(n) => {
                let take = n.min(data.len() as u64);
                let after = if matches!(want, Want::Body(_)) {
                    Want::Head
                } else {
                    Want::ChunkSize
                };
                let next = match (n - take, want) {
                    (0, _) => after,
                    (left, Want::Body(_)) => Want::Body(left),
                    (left, _) => Want::ChunkData(left),
                };
                (take as usize, next)
            }
            Want::First | Want::Head => match read_head(conn, dir, data, reader, counts) {
                Step::Done(used, next) => (used, next),
                Step::Partial => return keep(&mut conn.sides[i], data, counts),
                Step::Bad if want == Want::First => {
                    counts.ignored += 1;
                    (data.len(), Want::Ignore)
                }
                Step::Bad => {
                    // past this start, or the scan would find it again
                    counts.resyncs += 1;
                    (1, Want::Scan)
                }
            },
            Want::ChunkSize => match httparse::parse_chunk_size(data) {
                Ok(httparse::Status::Complete((used, 0))) => (used, Want::Trailer),
                Ok(httparse::Status::Complete((used, size))) => {
                    (used, Want::ChunkData(size.saturating_add(2)))
                }
                Ok(httparse::Status::Partial) => return keep(&mut conn.sides[i], data, counts),
                Err(_) => {
                    counts.resyncs += 1;
                    (0, Want::Scan)
                }
            },
            Want::Trailer => {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                match httparse::parse_headers(data, &mut headers) {
                    Ok(httparse::Status::Complete((used, _))) => (used, Want::Head),
                    Ok(httparse::Status::Partial) => return keep(&mut conn.sides[i], data, counts),
                    Err(_) => {
                        counts.resyncs += 1;
                        (0, Want::Scan)
                    }
                }
            }
            Want::Scan => match head_start(dir, data) {
                Some(at) => (at, Want::Head),
                None => return,
            },
        };
        conn.sides[i].want = next;
        data = &data[used..];
    }
}

/// What parsing a head gave.
enum Step {
    /// Complete: its length and what follows it.
    Done(usize, Want),
    /// Not complete in the data so far.
    Partial,
    /// Not an HTTP/1 head.
    Bad,
}

/// Reads the head at the start of `data` with `reader`.
fn read_head(
    conn: &mut Conn,
    dir: Dir,
    data: &[u8],
    reader: HeadReader,
    counts: &mut SkeletonCounts,
) -> Step {
    match reader {
        HeadReader::Httparse => head(conn, dir, data, counts),
        HeadReader::Scan => scan_head(conn, dir, data, counts),
    }
}

/// [`head`] reading only what the framing needs (see [`HeadReader::Scan`]).
fn scan_head(conn: &mut Conn, dir: Dir, data: &[u8], counts: &mut SkeletonCounts) -> Step {
    static END: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let end_of_head = END.get_or_init(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
    let Some(end) = end_of_head.find(data) else {
        return Step::Partial;
    };
    let head = &data[..end + 4];
    let mut chunked = false;
    let mut length = None;
    for nl in memchr::memchr_iter(b'\n', &head[..end + 2]) {
        let line = &head[nl + 1..];
        match line.first() {
            Some(b'c' | b'C') if starts_with_lower(line, b"content-length:") => {
                let value = &line[15..];
                let stop = memchr::memchr(b'\r', value).unwrap_or(value.len());
                length = digits(value[..stop].trim_ascii());
            }
            Some(b't' | b'T') if starts_with_lower(line, b"transfer-encoding:") => {
                let value = &line[18..];
                let stop = memchr::memchr(b'\r', value).unwrap_or(value.len());
                chunked = value[..stop].trim_ascii().eq_ignore_ascii_case(b"chunked");
            }
            _ => {}
        }
    }
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::None,
    };
    let next = match dir {
        Dir::ToServer => {
            if !head[0].is_ascii_uppercase() {
                return Step::Bad;
            }
            counts.requests += 1;
            if conn.head_requests.len() < MAX_PENDING {
                conn.head_requests.push_back(head.starts_with(b"HEAD "));
            }
            match framing {
                Framing::Chunked => Want::ChunkSize,
                Framing::Length(0) | Framing::None => Want::Head,
                Framing::Length(n) => Want::Body(n),
            }
        }
        Dir::ToClient => {
            let code = match head.get(..12) {
                Some([b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', code @ ..]) => {
                    digits(code)
                }
                _ => None,
            };
            let Some(code) = code else {
                return Step::Bad;
            };
            counts.responses += 1;
            response_next(conn, code, framing, counts)
        }
    };
    Step::Done(end + 4, next)
}

/// Whether `line` starts with `lower` (lowercase ASCII), ignoring case.
fn starts_with_lower(line: &[u8], lower: &[u8]) -> bool {
    line.len() >= lower.len() && line[..lower.len()].eq_ignore_ascii_case(lower)
}

/// What follows a response head with status `code` and body `framing`.
fn response_next(
    conn: &mut Conn,
    code: u64,
    framing: Framing,
    counts: &mut SkeletonCounts,
) -> Want {
    let to_head = code >= 200 && conn.head_requests.pop_front().unwrap_or(false);
    if code == 101 {
        counts.ignored += 1;
        Want::Ignore
    } else if code < 200 || code == 204 || code == 304 || to_head {
        Want::Head
    } else {
        match framing {
            Framing::Chunked => Want::ChunkSize,
            Framing::Length(0) => Want::Head,
            Framing::Length(n) => Want::Body(n),
            Framing::None => {
                counts.ignored += 1;
                Want::Ignore
            }
        }
    }
}

/// Parses the head at the start of `data` (a request to the server, a response to the client),
/// counts it, and says how its body is framed.
fn head(conn: &mut Conn, dir: Dir, data: &[u8], counts: &mut SkeletonCounts) -> Step {
    // left uninitialised: httparse writes only the ones it fills
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    match dir {
        Dir::ToServer => {
            let mut req = httparse::Request::new(&mut []);
            let used = match req.parse_with_uninit_headers(data, &mut headers) {
                Ok(httparse::Status::Complete(used)) => used,
                Ok(httparse::Status::Partial) => return Step::Partial,
                Err(_) => return Step::Bad,
            };
            counts.requests += 1;
            if conn.head_requests.len() < MAX_PENDING {
                conn.head_requests.push_back(req.method == Some("HEAD"));
            }
            let next = match framing(req.headers) {
                Framing::Chunked => Want::ChunkSize,
                Framing::Length(0) | Framing::None => Want::Head,
                Framing::Length(n) => Want::Body(n),
            };
            Step::Done(used, next)
        }
        Dir::ToClient => {
            let mut resp = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                &mut resp,
                data,
                &mut headers,
            );
            let used = match parsed {
                Ok(httparse::Status::Complete(used)) => used,
                Ok(httparse::Status::Partial) => return Step::Partial,
                Err(_) => return Step::Bad,
            };
            counts.responses += 1;
            let code = u64::from(resp.code.unwrap_or(0));
            let next = response_next(conn, code, framing(resp.headers), counts);
            Step::Done(used, next)
        }
    }
}

/// How a message's body is delimited, by its headers.
enum Framing {
    Chunked,
    Length(u64),
    None,
}

fn framing(headers: &[httparse::Header<'_>]) -> Framing {
    let mut length = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Framing::Chunked;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            length = digits(h.value.trim_ascii());
        }
    }
    length.map_or(Framing::None, Framing::Length)
}

/// A decimal number (`None`: empty, not digits, or too large).
fn digits(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Buffers the incomplete element at the start of `data` (or gives up on one too long).
fn keep(side: &mut Side, data: &[u8], counts: &mut SkeletonCounts) {
    if data.len() > MAX_HEAD {
        side.partial.clear();
        side.want = Want::Scan;
        counts.resyncs += 1;
    } else {
        side.partial.extend_from_slice(data);
    }
}

/// Where the next head seems to start in `data`: a response's `HTTP/1.`, or the start of the
/// line holding a request line's ` HTTP/1.` (when that line starts in `data`; the start of
/// `data` counts as a line start when it is an uppercase letter).
fn head_start(dir: Dir, data: &[u8]) -> Option<usize> {
    match dir {
        Dir::ToClient => memchr::memmem::find(data, b"HTTP/1."),
        Dir::ToServer => {
            let mut from = 0;
            while let Some(at) = memchr::memmem::find(&data[from..], b" HTTP/1.") {
                let version = from + at;
                match memchr::memrchr(b'\n', &data[from..version]) {
                    Some(nl) => return Some(from + nl + 1),
                    // a line at the start of the data (a segment often starts a request)
                    None if from == 0 && data[0].is_ascii_uppercase() => return Some(0),
                    None => {}
                }
                from = version + 1;
            }
            None
        }
    }
}
