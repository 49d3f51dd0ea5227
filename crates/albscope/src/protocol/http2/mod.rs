//! HTTP/2 (RFC 9113) on one connection: frames, HPACK header blocks, one exchange per stream.
//!
//! Selected by what the bytes show: the client connection preface
//! (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) at the start of the client's stream (h2c with prior
//! knowledge, or h2 once TLS is decrypted). Streams map into the same [`HttpExchange`] the
//! HTTP/1.x parsers produce (pseudo-headers into method, target, status; `:authority` as the
//! Host header when none is sent), with the HTTP/2 facts of the stream in
//! [`HttpExchange::h2`]: its id, trailers, `RST_STREAM`, the `GOAWAY` that refused it, and
//! flow-control stalls.
//!
//! - `frame.rs`: the incremental frame reader of one direction (preface, 9-byte headers,
//!   payloads buffered up to a cap, DATA counted, not kept; gaps inside DATA are skipped);
//! - `hpack.rs`: the guarded HPACK decoder (`loona-hpack`) of one direction;
//! - `conn.rs`: the connection state (settings, windows, streams) that settles exchanges;
//! - `grpc.rs`: the gRPC status of an exchange (trailers, trailers-only, or the HTTP status
//!   mapped as gRPC clients map it).

mod conn;
mod frame;
mod grpc;
mod hpack;

pub(crate) use conn::{H2Conn, H2Counters};
pub(crate) use frame::match_preface;
pub use grpc::{grpc_code_name, grpc_outcome, grpc_status_for_http, GrpcOutcome};

use super::Header;
use crate::capture::{PacketPos, Timestamp};
use crate::flow::Dir;

#[cfg(doc)]
use super::HttpExchange;

/// An HTTP/2 error code (RFC 9113 section 7) as sent in `RST_STREAM` or `GOAWAY`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct H2ErrorCode(pub u32);

impl H2ErrorCode {
    /// `REFUSED_STREAM` (0x7): the stream was closed before any processing; the request can be
    /// retried safely (RFC 9113 section 8.7).
    pub const REFUSED_STREAM: H2ErrorCode = H2ErrorCode(7);

    /// The registered name (`NO_ERROR`, `PROTOCOL_ERROR`, ... `HTTP_1_1_REQUIRED`), or `None`
    /// for an unregistered code.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        usize::try_from(self.0)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
    }
}

/// A stream reset (`RST_STREAM`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct H2Reset {
    /// Who sent it: `ToClient` means the server (the target, on a back-end leg).
    pub dir: Dir,
    /// Its error code.
    pub code: H2ErrorCode,
    /// When.
    pub ts: Timestamp,
    /// The packet carrying the frame's first byte.
    pub pos: PacketPos,
}

/// A `GOAWAY`: the sender accepts no stream above `last_stream_id`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct H2GoAway {
    /// Who sent it.
    pub dir: Dir,
    /// The highest stream id the sender processed (or may still process).
    pub last_stream_id: u32,
    /// Its error code.
    pub code: H2ErrorCode,
    /// When.
    pub ts: Timestamp,
    /// The packet carrying the frame's first byte.
    pub pos: PacketPos,
}

/// Which flow-control window ran out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WindowScope {
    /// The stream's own window.
    Stream,
    /// The connection's window (shared by all streams).
    Connection,
}

/// A flow-control stall: the sender's window reached zero while its side of the stream was
/// still open (more data pending).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct H2Stall {
    /// Direction of the data that stalled (`ToClient`: the response body).
    pub dir: Dir,
    /// Which window.
    pub scope: WindowScope,
    /// When the DATA frame that exhausted the window arrived.
    pub ts: Timestamp,
    /// Its packet.
    pub pos: PacketPos,
    /// When a `WINDOW_UPDATE` reopened the window, if one did.
    pub resumed: Option<Timestamp>,
}

/// What HTTP/2 showed about the stream of one exchange.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct H2Stream {
    /// Stream id.
    pub id: u32,
    /// Trailers (a header block after the response's), in order (capped).
    pub trailers: Vec<Header>,
    /// The stream was reset.
    pub reset: Option<H2Reset>,
    /// The server's `GOAWAY` whose last stream id is below this stream's (it was refused
    /// unprocessed).
    pub refused_by: Option<H2GoAway>,
    /// Flow-control stalls (at most [`MAX_STALLS`]).
    pub stalls: Vec<H2Stall>,
    /// A header block of this stream could not be decoded (HPACK state lost or invalid).
    pub undecodable_headers: bool,
}

/// Stalls kept per stream.
pub const MAX_STALLS: usize = 4;

#[cfg(test)]
mod tests;
