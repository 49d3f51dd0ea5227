//! Incremental HTTP/1.x stream parsers (request side and response side).
//!
//! Only the header block of the message being read is buffered (capped); bodies are counted, not
//! kept. The chunked decoder is a byte-level state machine. Results depend only on the stream
//! content, never on how it was split into segments.
//!
//! - `request.rs`: the request parser (client to server);
//! - `response.rs`: the response parser (server to client: interim responses, bodies by request
//!   kind, unreadable responses);
//! - `fast.rs`: the one-pass reader of the common well-formed header block (others go to
//!   httparse);
//! - `head.rs`: collecting a header block up to its cap, and what its headers say (framing);
//! - `body.rs`: body framing and the chunked decoder;
//! - `resync.rs`: finding the next message start after garbage or a gap.

mod body;
mod fast;
mod head;
mod request;
mod response;
mod resync;

pub(crate) use request::{ReqEvent, RequestParser};
pub(crate) use response::{Pending, ReqKind, RespEvent, ResponseParser};
pub(crate) use resync::{match_literal, match_method, Match};

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

#[cfg(test)]
mod tests;
