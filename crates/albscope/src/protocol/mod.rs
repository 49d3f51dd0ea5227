//! Protocol layer: reads the reassembled streams of each connection as HTTP/1.x (`httparse`) or
//! TLS (`tls-parser`) or HTTP/2 (frames, `loona-hpack`) and turns them into request/response exchanges and handshake facts.
//!
//! [`ProtocolTracker`] is a [`crate::flow::FlowSink`] adapter: it owns per-connection parser state
//! and reports to an [`AppSink`] each exchange as soon as it is finished
//! ([`AppSink::exchange`]) and each connection when it closes ([`AppSink::closed`]), so that
//! nothing is held longer than the connection or exchange it belongs to.
//!
//! Inside: `http` holds the pure incremental HTTP/1.x parsers (request side and response side;
//! only the header block being read is buffered, bodies are counted by Content-Length, by an
//! incremental chunked decoder, or until the stream ends), `tls` the record reader (hellos,
//! alerts, application-data bursts), `http2` the HTTP/2 frame reader, HPACK and streams (one
//! exchange per stream; selected by the client preface) and `tracker` the per-connection state: application
//! detection from the first bytes, the queue of exchanges waiting for their responses, and the
//! hand-over to the [`AppSink`]. Results never depend on how the streams were cut into packets.

pub(crate) mod box_pool;
pub mod decrypt;
mod exchange_box;
mod headers;
mod http;
mod http2;
mod keepalive;
mod recycle;
pub(crate) mod return_lane;
mod tls;
mod tracker;

pub use decrypt::{
    tls_cipher_name, tls_version_name, Alpn, DecryptInfo, DecryptStatus, KeyLog, KeyLogProblem,
    KeyLogProblemKind,
};
pub use exchange_box::ExchangeBox;
pub use headers::{Headers, Known};
pub use http2::{
    grpc_code_name, grpc_outcome, grpc_status_for_http, GrpcOutcome, H2ErrorCode, H2GoAway,
    H2Reset, H2Stall, H2Stream, WindowScope,
};
pub use tracker::{
    request_line_hash, InFlight, ProtocolConfig, ProtocolStats, ProtocolTracker,
    MAX_IN_FLIGHT_LINES,
};

use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{ConnId, ConnKey, ConnSummary, Dir};

/// What a connection carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// No payload in either direction.
    Empty,
    /// HTTP in clear text: HTTP/1.x, or HTTP/2 when the client stream began with the HTTP/2
    /// preface (its exchanges then carry [`HttpExchange::h2`]).
    Http,
    /// TLS (opaque after the handshake).
    Tls,
    /// Payload that is neither.
    Unknown,
}

/// One header as an owned (name, value) pair: a way to build [`Headers`] by hand
/// (`Headers::from(vec![...])`); parsed messages hold [`Headers`].
pub type Header = (String, String);

/// A parsed HTTP request.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// Time of the packet carrying its first byte.
    pub first_byte: Timestamp,
    /// That packet.
    pub first_pos: PacketPos,
    /// When the header block was complete.
    pub headers_done: Option<Timestamp>,
    /// When the whole request (with body) was received; `None` if it never was.
    pub complete: Option<Timestamp>,
    /// Minor version (0 or 1) of HTTP/1.x; 2 for HTTP/2.
    pub version: u8,
    /// Headers in order (capped by [`ProtocolConfig::max_headers`]); for HTTP/2 the regular
    /// headers, with `:authority` first as `host` when no Host header was sent; look one up
    /// with [`header`] or [`Headers::known`]. Their buffer also holds the method and target
    /// ([`HttpRequest::method`], [`HttpRequest::target`]; set them with
    /// [`Headers::set_start_line`]).
    pub headers: Headers,
    /// Size of the header block in bytes.
    pub header_bytes: usize,
    /// Declared Content-Length.
    pub content_length: Option<u64>,
    /// Transfer-Encoding: chunked.
    pub chunked: bool,
    /// Body bytes received.
    pub body_bytes: u64,
}

/// A parsed HTTP response (final, non-1xx).
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// Time of the packet carrying its first byte.
    pub first_byte: Timestamp,
    /// That packet.
    pub first_pos: PacketPos,
    /// When the header block was complete.
    pub headers_done: Timestamp,
    /// When the body was complete; `None` when it never was (connection ended first).
    pub complete: Option<Timestamp>,
    /// Status code.
    pub status: u16,
    /// Minor version of HTTP/1.x; 2 for HTTP/2.
    pub version: u8,
    /// Headers in order (capped); look one up with [`header`] or [`Headers::known`]. Their
    /// buffer also holds the reason phrase ([`HttpResponse::reason`]; set it with
    /// [`Headers::set_start_line`]).
    pub headers: Headers,
    /// Size of the header block in bytes.
    pub header_bytes: usize,
    /// Declared Content-Length.
    pub content_length: Option<u64>,
    /// Transfer-Encoding: chunked.
    pub chunked: bool,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Interim 1xx responses that came before it (e.g. 100 Continue), in order.
    pub interim: Vec<Interim>,
}

impl HttpRequest {
    /// Method, as sent.
    pub fn method(&self) -> &str {
        self.headers.start_line().0
    }

    /// Request target as sent (path and query, or absolute form).
    pub fn target(&self) -> &str {
        self.headers.start_line().1
    }
}

impl HttpResponse {
    /// Reason phrase (empty for HTTP/2).
    pub fn reason(&self) -> &str {
        self.headers.start_line().0
    }
}

/// An interim (1xx) response: its status and where it was seen (a `100 Continue` comes long
/// before the final response of a large upload).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Interim {
    /// The 1xx status.
    pub status: u16,
    /// Time of the packet carrying its first byte.
    pub at: Timestamp,
    /// That packet.
    pub pos: PacketPos,
}

/// Why a response could not be read as HTTP.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResponseErrorKind {
    /// The bytes are not a valid HTTP/1.x response.
    Malformed,
    /// The header block grew past [`ProtocolConfig::max_response_header_bytes`] (ALB: 32 KB).
    HeaderTooLarge,
    /// Part of the response is missing from the capture, so it could not be followed.
    Gap,
}

/// A response that could not be parsed, with the evidence.
#[derive(Clone, Debug)]
pub struct ResponseError {
    /// What is wrong.
    pub kind: ResponseErrorKind,
    /// Time of the first byte of the response.
    pub first_byte: Timestamp,
    /// That packet.
    pub first_pos: PacketPos,
    /// Stream offset where the bad bytes start.
    pub offset: u64,
    /// Bytes received for this response so far.
    pub bytes: u64,
    /// The first bytes of the response, raw (at most 64).
    pub excerpt: Vec<u8>,
    /// Why it could not be read.
    pub reason: ResponseErrorReason,
    /// The status, when those bytes start with a readable HTTP/1.x status line.
    pub status: Option<u16>,
    /// Where the Server header's value sits in `excerpt` (start, end), when one of the
    /// complete header lines there holds it: see [`ResponseError::server`].
    pub server_at: Option<(u8, u8)>,
}

impl ResponseError {
    /// An error of `kind` for the response that started at `first_byte`/`first_pos`, found at
    /// stream `offset` after `bytes`, with its leading bytes `excerpt` (their status line, and
    /// Server header, read at once).
    pub fn new(
        kind: ResponseErrorKind,
        first_byte: Timestamp,
        first_pos: PacketPos,
        offset: u64,
        bytes: u64,
        reason: ResponseErrorReason,
        excerpt: Vec<u8>,
    ) -> Self {
        let mut err = ResponseError {
            kind,
            first_byte,
            first_pos,
            offset,
            bytes,
            excerpt: Vec::new(),
            reason,
            status: None,
            server_at: None,
        };
        err.set_excerpt(excerpt);
        err
    }

    /// Keeps `excerpt` as the response's first bytes and reads the status line (and Server
    /// header) at its start.
    pub fn set_excerpt(&mut self, excerpt: Vec<u8>) {
        (self.status, self.server_at) = status_line(&excerpt);
        self.excerpt = excerpt;
    }

    /// The Server header readable in the excerpt (escaped as by [`escape_bytes`], trimmed).
    pub fn server(&self) -> Option<String> {
        let (a, b) = self.server_at?;
        let value = self.excerpt.get(usize::from(a)..usize::from(b))?;
        Some(escape_bytes(value).trim().to_string())
    }
}

/// Why a response could not be read, as the parser found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseErrorReason {
    /// The bytes do not start with `HTTP/`.
    NotHttp,
    /// The header block grew past this many bytes.
    HeaderBlockTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The header block ended before it was complete.
    IncompleteHead,
    /// The header block is not valid HTTP.
    InvalidHead {
        /// What the parser found wrong.
        parser: httparse::Error,
    },
    /// The connection ended inside the header block.
    EndedInHead,
    /// The body's framing (Content-Length or chunks) is invalid.
    BadFraming {
        /// What is wrong.
        what: &'static str,
    },
    /// Bytes of the header block are missing from the capture.
    HeadBytesMissing {
        /// Missing bytes.
        len: u64,
    },
    /// The header block was skipped after this many bytes: the buffer memory limit was reached
    /// (the bytes may be in the capture).
    HeadSkipped {
        /// Bytes held when it was skipped.
        held: usize,
    },
    /// Bytes of a chunked body are missing, so its framing was lost.
    ChunkedFramingLost {
        /// Missing bytes.
        len: u64,
    },
}

/// One request and what came back for it, on one connection.
#[derive(Clone, Debug)]
pub struct HttpExchange {
    /// 0-based position of this exchange on its connection (> 0 means a reused connection).
    pub index: u32,
    /// Time between the end of the previous exchange on this connection and this request's
    /// first byte; `None` for the first one, and when the previous exchange had not ended when
    /// this request was read (pipelining) or never ended.
    pub idle_before: Option<Duration>,
    /// The request (`None` when the stream started mid-request or the request was unparseable).
    pub request: Option<HttpRequest>,
    /// When a request whose bytes the capture lost (a gap where it starts or inside its
    /// header block: mirror loss or truncation) was under way: its first captured byte, else
    /// the gap. Only with `request` `None`; it stands for the request's time.
    pub request_lost_at: Option<Timestamp>,
    /// The response, when one was parsed.
    pub response: Option<HttpResponse>,
    /// Set when response bytes arrived but could not be parsed.
    pub response_error: Option<ResponseError>,
    /// The header block sent in this direction (`ToServer`: the request's, `ToClient`: the
    /// response's) was skipped because a memory limit was reached (the buffer budget, or the
    /// out-of-order cap in front of it): the bytes may be in the capture, so the exchange is
    /// undetermined for that reason, not "never captured".
    pub headers_skipped: Option<Dir>,
    /// The HTTP/2 stream of this exchange (`None` for HTTP/1.x).
    pub h2: Option<Box<H2Stream>>,
}

/// TLS ClientHello facts.
#[derive(Clone, Debug)]
pub struct ClientHelloInfo {
    /// When.
    pub ts: Timestamp,
    /// Which packet.
    pub pos: PacketPos,
    /// Legacy version field, e.g. "TLSv1.2".
    pub legacy_version: String,
    /// supported_versions extension, e.g. ["TLSv1.3", "TLSv1.2"].
    pub supported_versions: Vec<String>,
    /// Cipher suites by IANA name (or hex).
    pub ciphers: Vec<String>,
    /// Server name indication.
    pub sni: Option<String>,
    /// ALPN protocols.
    pub alpn: Vec<String>,
}

/// TLS ServerHello facts.
#[derive(Clone, Debug)]
pub struct ServerHelloInfo {
    /// When.
    pub ts: Timestamp,
    /// Which packet.
    pub pos: PacketPos,
    /// Negotiated version.
    pub version: String,
    /// Chosen cipher suite.
    pub cipher: String,
    /// Chosen ALPN protocol.
    pub alpn: Option<String>,
}

/// A TLS alert.
#[derive(Clone, Debug)]
pub struct TlsAlertInfo {
    /// When.
    pub ts: Timestamp,
    /// Which packet.
    pub pos: PacketPos,
    /// Sender's direction.
    pub dir: Dir,
    /// "warning", "fatal", or "encrypted" when it came after the handshake.
    pub level: String,
    /// e.g. "handshake_failure", "protocol_version".
    pub description: String,
}

/// A burst of TLS application data in one direction (request/response timing on an opaque
/// connection: a client burst followed by a server burst is one exchange).
#[derive(Clone, Debug)]
pub struct TlsBurst {
    /// Direction.
    pub dir: Dir,
    /// First record's time.
    pub first: Timestamp,
    /// Its packet.
    pub first_pos: PacketPos,
    /// Last record's time.
    pub last: Timestamp,
    /// Application data bytes.
    pub bytes: u64,
    /// Microseconds (saturating) from the end of its last record that can hold an HTTP byte
    /// (more than [`ALERT_SIZED_RECORD`] bytes) to `last`: the trailing TLS 1.3 alerts (a
    /// close_notify, encrypted like application data) after its data; 0 when none. (32 bits
    /// in the room `dir` leaves, so a burst does not grow.)
    pub tail_us: u32,
    /// Bytes (saturating) of those trailing TLS 1.3 alerts, counted in `bytes` (see
    /// [`TlsBurst::data_bytes`]); 0 when none. (16 bits in the room left beside `tail_us`.)
    pub tail_bytes: u16,
    /// How many of its first records belong to the connection's run of records shaped like
    /// TLS 1.3 session tickets ([`TicketRun`]; saturating; the last byte of room beside
    /// `tail_bytes`, so a burst does not grow).
    pub tickets: u8,
}

impl TlsBurst {
    /// End of its last record that can hold an HTTP byte: where its data ended, trailing TLS
    /// 1.3 alerts aside (see [`TlsBurst::tail_us`]).
    pub fn data_last(&self) -> Timestamp {
        Timestamp(
            self.last
                .0
                .saturating_sub(i64::from(self.tail_us).saturating_mul(1000)),
        )
    }

    /// Bytes of its records that can hold HTTP bytes: `bytes` without the trailing TLS 1.3
    /// alerts (a close_notify after an answer is no part of it; see [`TlsBurst::tail_us`]).
    pub fn data_bytes(&self) -> u64 {
        self.bytes.saturating_sub(u64::from(self.tail_bytes))
    }
}

/// Largest application-data record (bytes after its 5-byte header) that is only an alert: a
/// TLS 1.3 alert is 2 bytes, its inner content type and a 16-byte AEAD tag.
pub const ALERT_SIZED_RECORD: usize = 19;

/// The server's first application-data records of a TLS 1.3 connection whose handshake was
/// seen, when they have the shape of NewSessionTicket messages (RFC 8446 4.6.1): a TLS 1.3
/// server sends its tickets on its own, encrypted like application data, right after it reads
/// the client's Finished and before it can have read the request that follows it; on the
/// wire they often come after that request (sent in the same flight as the Finished). A run
/// holds records of one size within [`TicketRun::RECORD`] (a server's tickets share one
/// format: OpenSSL sends two of 266 or 74 bytes, one after a resumed handshake), sent before
/// any other server record and no later than the server's first burst after a client record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TicketRun {
    /// Size (bytes after the 5-byte header) of each record of the run; 0 when none.
    pub record: u16,
    /// Records in the run (saturating).
    pub count: u8,
}

/// What a server burst is, given the connection's [`TicketRun`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketAnswer {
    /// It holds data beyond session-ticket-shaped records: an answer.
    Answer,
    /// Only records of a run of two or more equal records (and alerts): session tickets, no
    /// answer (an answer the size of a ticket, twice over or beside one, is not taken).
    TicketsOnly,
    /// One record that may be a server's single session ticket (a resumed handshake, a server
    /// sending one) or a whole small answer: its size cannot tell.
    TicketOrAnswer,
}

impl TicketRun {
    /// Record sizes a NewSessionTicket can have: from the smallest message (4-byte header,
    /// lifetime, age_add, an empty nonce, a 1-byte ticket, no extensions: 18 bytes) with the
    /// 17 bytes of TLS 1.3 record overhead, to a ticket of about 4 KB (stateless tickets
    /// carry the encrypted session state: a few hundred bytes in common servers).
    pub const RECORD: std::ops::RangeInclusive<usize> = 35..=4096;

    /// What server burst `b` is: [`TicketAnswer::Answer`] unless its data is all records of
    /// the run.
    pub fn answer(&self, b: &TlsBurst) -> TicketAnswer {
        let tickets = u64::from(b.tickets) * u64::from(self.record);
        if b.tickets == 0 || b.data_bytes() > tickets {
            TicketAnswer::Answer
        } else if self.count >= 2 {
            TicketAnswer::TicketsOnly
        } else {
            TicketAnswer::TicketOrAnswer
        }
    }
}

/// What the TLS layer of a connection showed.
#[derive(Clone, Debug, Default)]
pub struct TlsInfo {
    /// The client's hello.
    pub client_hello: Option<ClientHelloInfo>,
    /// The server's hello.
    pub server_hello: Option<ServerHelloInfo>,
    /// When the handshake was seen to complete (first application data after both Finished).
    pub established: Option<Timestamp>,
    /// Alerts in order.
    pub alerts: Vec<TlsAlertInfo>,
    /// Application-data bursts in order (capped).
    pub bursts: Vec<TlsBurst>,
    /// Bursts not recorded because the cap was reached (saturating; with `h2_signs` in the
    /// room one u64 took, so a connection record does not grow).
    pub bursts_dropped: u32,
    /// What the sizes of its TLS 1.3 application-data records show of HTTP/2.
    pub h2_signs: Http2Signs,
    /// The server's first records shaped like TLS 1.3 session tickets.
    pub tickets: TicketRun,
}

/// Signs of HTTP/2 in the sizes of a TLS 1.3 connection's application-data records, read
/// without keys (filled only for TLS 1.3, whose record overhead is fixed: one content-type
/// byte and a 16-byte AEAD tag, plus padding that only makes the plaintext smaller, so each
/// size below is an upper bound). TLS 1.2 shows the ALPN selection in its ServerHello and needs
/// none of them; its overhead depends on the cipher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Http2Signs {
    /// Plaintext bytes of the client's first application-data record, 0 before it (an empty
    /// one counts as 1): an HTTP/2 client's starts with the 24-byte connection preface and a
    /// SETTINGS frame (33 bytes at least).
    pub client_first: u16,
    /// Client records that open a burst right after a server answer and carry exactly 9
    /// bytes where no HTTP/1 request body fits (see `H2Shape::note` in `tls.rs`): an HTTP/2
    /// SETTINGS acknowledgement (an empty frame), which an HTTP/2 client owes the server's
    /// SETTINGS and often sends alone. Saturating.
    pub client_settings_acks: u8,
    /// Server answers early in the connection made of one record of exactly 9 bytes: its
    /// own SETTINGS acknowledgement, sent alone (an HTTP/1 answer starts with a status line).
    /// Saturating.
    pub server_settings_acks: u8,
}

/// Where a connection stood at the moment one of its exchanges finished.
#[derive(Clone, Debug)]
pub struct ConnContext {
    /// Connection number.
    pub id: ConnId,
    /// Who and where.
    pub key: ConnKey,
    /// Time of its first packet (the SYN when captured).
    pub opened: Timestamp,
    /// Its first packet.
    pub opened_pos: PacketPos,
    /// Whether its payload is TLS.
    pub tls: bool,
    /// Whether its exchanges were read from decrypted TLS records (`--tls-keylog`).
    pub decrypted: bool,
    /// Whether its opening (the originator's SYN) is in the capture.
    pub saw_syn: bool,
}

/// A finished connection with everything the protocol layer read from it.
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    /// TCP-level summary and timeline.
    pub tcp: ConnSummary,
    /// What it carried.
    pub app: AppKind,
    /// Exchanges that had not finished when the connection closed (a request with no or a
    /// partial response, a response cut short ...). Finished ones went to [`AppSink::exchange`].
    pub unfinished: Vec<HttpExchange>,
    /// How many exchanges were reported through [`AppSink::exchange`] before the close.
    pub finished_exchanges: u32,
    /// Time the last finished exchange ended (for idle-before-close measurements).
    pub last_exchange_end: Option<Timestamp>,
    /// When the connection became a tunnel (`101 Switching Protocols` to a WebSocket or
    /// another protocol, a CONNECT answered 2xx); `last_exchange_end` is then the time of the
    /// tunnel's last bytes, and a close is the tunnel's end, not a keep-alive timer.
    pub tunnel_since: Option<Timestamp>,
    /// The last finished exchange's response ended the connection by its own headers
    /// (`Connection: close`, HTTP/1.0 without keep-alive): a close after it honours them and
    /// is no keep-alive timer.
    pub last_response_closes: bool,
    /// TLS facts, when the connection is TLS.
    pub tls: Option<TlsInfo>,
    /// Bytes at the start of a stream that were neither HTTP nor TLS, escaped (at most 64).
    pub unknown_excerpt: Option<String>,
    /// What decryption did, on a TLS connection when a key log was given (boxed: most
    /// connections have none).
    pub decryption: Option<Box<DecryptInfo>>,
}

/// Receives exchanges and finished connections from the [`ProtocolTracker`].
pub trait AppSink {
    /// An exchange finished (its response was complete) on connection `conn`.
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange);
    /// [`AppSink::exchange`] with the exchange in its box, as the protocol layer reports
    /// HTTP/1.x exchanges: a sink that keeps the exchange keeps the box (no copy). By default
    /// the exchange is taken out of it.
    fn exchange_boxed(&mut self, conn: &ConnContext, exchange: ExchangeBox) {
        self.exchange(conn, exchange.into_inner());
    }
    /// A connection finished.
    fn closed(&mut self, record: ConnectionRecord);
    /// A request head on `conn` was cut short by bytes missing from the capture after whole
    /// lines carrying the forwarding headers an ALB adds (`X-Forwarded-For`, `-Proto` and
    /// `-Port`): its opener forwards clients' requests, although the request itself cannot be
    /// read. Nothing by default.
    fn forwarded_head_cut_short(&mut self, conn: &ConnContext) {
        let _ = conn;
    }
}

/// Looks up a header by case-insensitive name (the first one of that name): an index for the
/// [`Known`] headers, a scan for others.
pub fn header<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers.get(name)
}

/// The first value of header `name` (case-insensitive) in a plain list of pairs (HTTP/2
/// pseudo-headers and trailers, which are kept as decoded).
pub fn pair_header<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Escapes bytes for display: printable ASCII as is, `\r` `\n` `\t` as such, others as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The status (and Server header) readable at the start of a response that could not be
/// parsed whole: a `HTTP/1.x NNN` line, and the complete header lines after it (the last
/// piece may be cut).
fn status_line(head: &[u8]) -> (Option<u16>, Option<(u8, u8)>) {
    let pieces = crlf_pieces(head);
    let mut lines = pieces.into_iter();
    let Some(rest) = lines.next().and_then(|l| l.strip_prefix(b"HTTP/1.")) else {
        return (None, None);
    };
    let status = rest
        .get(2..5)
        .filter(|c| c.iter().all(u8::is_ascii_digit))
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|s| (100..=999).contains(s));
    let Some(status) = status else {
        return (None, None);
    };
    // Each piece's start in `head`.
    let mut start = pieces_start(head);
    let parts: Vec<&[u8]> = lines.collect();
    let complete = parts.len().saturating_sub(1);
    let server = parts.iter().take(complete).find_map(|l| {
        let at = start.next()?;
        let colon = l.iter().position(|b| *b == b':')?;
        let name = escape_bytes(l.get(..colon)?);
        let from = u8::try_from(at + colon + 1).ok()?;
        let to = u8::try_from(at + l.len()).ok()?;
        name.trim()
            .eq_ignore_ascii_case("server")
            .then_some((from, to))
    });
    (Some(status), server)
}

/// Where each piece after the first (of [`crlf_pieces`]) starts in `bytes`.
fn pieces_start(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == b"\r\n")
        .map(|(i, _)| i + 2)
}

/// The pieces of `bytes` between CRLFs (the last one after the last CRLF).
fn crlf_pieces(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        out.push(rest.get(..i).unwrap_or(&[]));
        rest = rest.get(i + 2..).unwrap_or(&[]);
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod status_line_tests {
    use super::*;

    fn err(raw: &[u8]) -> ResponseError {
        let mut e = ResponseError {
            kind: ResponseErrorKind::Gap,
            first_byte: Timestamp(0),
            first_pos: PacketPos::default(),
            offset: 0,
            bytes: 0,
            excerpt: Vec::new(),
            reason: ResponseErrorReason::EndedInHead,
            status: None,
            server_at: None,
        };
        e.set_excerpt(raw.to_vec());
        e
    }

    #[test]
    fn reads_status_and_complete_server_lines_only() {
        let e = err(b"HTTP/1.1 503 Busy\r\nServer:  Apache \r\nDate: x");
        assert_eq!(
            (e.status, e.server().as_deref()),
            (Some(503), Some("Apache"))
        );
        // The last piece may be cut: a Server line without its CRLF does not count.
        let e = err(b"HTTP/1.1 200 OK\r\nServer: Apa");
        assert_eq!((e.status, e.server()), (Some(200), None));
        let e = err(b"HTTP/1.0 99 x\r\n");
        assert_eq!(e.status, None);
        let e = err(b"\x00HTTP/1.1 200 OK\r\n");
        assert_eq!(e.status, None);
        // Non-printable bytes of the value are kept escaped.
        let e = err(b"HTTP/1.1 502 x\r\nserver: a\x01b\r\n");
        assert_eq!(e.server().as_deref(), Some("a\\x01b"));
    }
}
