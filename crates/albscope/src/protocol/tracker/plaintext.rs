//! Decrypted TLS application data: chooses the parser of the inner protocol (by ALPN, else by
//! the client's first bytes, as for a clear-text stream) once per connection, and feeds it the
//! plaintext as a stream of its own, with its own offsets, through the same entry points as
//! clear-text bytes (the HTTP/1.x parsers, or the HTTP/2 parser as on an `h2c` connection).
//! Pieces that arrive before the choice can be made are held, charged to the buffer budget.

use super::*;
use crate::protocol::decrypt::Alpn;

/// The protocol inside a decrypted TLS connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inner {
    /// HTTP/1.x: the clear-text parsers.
    Http1,
    /// HTTP/2 (ALPN `h2` or the connection preface): the HTTP/2 parser.
    Http2,
}

/// Plaintext held while the inner protocol is not known yet, at most (then it is decided from
/// what was seen).
const MAX_UNDECIDED: usize = 16 * 1024;

/// The inner protocol from the negotiated ALPN, else from the client's first plaintext bytes
/// (`client`; `server` are the server's, when it spoke first). `None`: not known yet (the
/// client's bytes so far are the start of the HTTP/2 preface, or it has not spoken), unless
/// `force`d (a gap, the end of the connection, too much held).
pub(super) fn inner_protocol(
    alpn: Option<&Alpn>,
    client: &[u8],
    server: &[u8],
    force: bool,
) -> Option<Inner> {
    match alpn {
        Some(Alpn::H2) => return Some(Inner::Http2),
        Some(Alpn::Http1) => return Some(Inner::Http1),
        _ => {}
    }
    match match_preface(client) {
        Match::Yes => Some(Inner::Http2),
        Match::No => Some(Inner::Http1),
        // "PRI " is no HTTP/1.x method.
        Match::Maybe if !client.is_empty() => force.then_some(if client.len() >= 4 {
            Inner::Http2
        } else {
            Inner::Http1
        }),
        // The server spoke first: an HTTP/2 server's SETTINGS (an HTTP/1.x server waits).
        Match::Maybe => force.then_some(if looks_like_settings(server) {
            Inner::Http2
        } else {
            Inner::Http1
        }),
    }
}

impl Conn {
    /// Bytes of the plaintext held while the inner protocol is not known.
    pub(super) fn undecided_bytes(&self) -> usize {
        self.undecided
            .iter()
            .map(|p| match p {
                Plain::Data { bytes, .. } => bytes.capacity(),
                Plain::Gap { .. } => 0,
            })
            .sum()
    }

    /// The first bytes of direction `dir` among the held pieces (up to a gap of that direction).
    fn undecided_prefix(&self, dir: Dir) -> (Vec<u8>, bool) {
        let mut prefix = Vec::new();
        for p in &self.undecided {
            match p {
                Plain::Data { dir: d, bytes, .. } if *d == dir => {
                    let room = DETECT_BYTES.saturating_sub(prefix.len());
                    prefix.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
                }
                Plain::Gap { dir: d, .. } if *d == dir => return (prefix, true),
                _ => {}
            }
        }
        (prefix, false)
    }
}

impl Work {
    /// Feeds the decrypted pieces of the last event to the connection's inner parsers.
    pub(super) fn plaintext(&mut self, c: &mut Conn, sink: &mut dyn AppSink) {
        if self.plain.is_empty() {
            return;
        }
        let mut pieces = std::mem::take(&mut self.plain);
        for piece in pieces.drain(..) {
            if c.inner.is_some() {
                self.plain_piece(c, piece, sink);
            } else {
                c.undecided.push(piece);
                self.decide_inner(c, false, sink);
            }
        }
        // Keep the scratch buffer's allocation.
        self.plain = pieces;
    }

    /// Chooses the inner protocol when the held pieces (or `force`) allow, and replays them.
    pub(super) fn decide_inner(&mut self, c: &mut Conn, force: bool, sink: &mut dyn AppSink) {
        if c.inner.is_some() || c.undecided.is_empty() {
            return;
        }
        let (client, client_gap) = c.undecided_prefix(Dir::ToServer);
        let (server, _) = c.undecided_prefix(Dir::ToClient);
        let force = force || client_gap || c.undecided_bytes() >= MAX_UNDECIDED;
        let alpn = c.decrypt.as_ref().and_then(|d| d.info.alpn.as_ref());
        let Some(inner) = inner_protocol(alpn, &client, &server, force) else {
            return;
        };
        c.inner = Some(inner);
        c.ctx.decrypted = true;
        if let Some(d) = c.decrypt.as_mut() {
            d.info.parsed = true;
        }
        match inner {
            Inner::Http1 => {
                c.http = Some(Box::new(HttpConn::new(
                    RequestParser::new(
                        self.config.max_request_header_bytes,
                        self.config.max_headers,
                    ),
                    ResponseParser::new(
                        self.config.max_response_header_bytes,
                        self.config.max_headers,
                    ),
                )));
            }
            Inner::Http2 => {
                if !c.continuation {
                    self.stats.h2_connections += 1;
                }
                c.h2 = Some(Box::new(H2Conn::new(
                    self.config.max_request_header_bytes,
                    self.config.max_response_header_bytes,
                    self.config.max_headers,
                )));
            }
        }
        for piece in std::mem::take(&mut c.undecided) {
            self.plain_piece(c, piece, sink);
        }
    }

    /// One decrypted piece to the inner parser, at its offset in the plaintext stream.
    fn plain_piece(&mut self, c: &mut Conn, piece: Plain, sink: &mut dyn AppSink) {
        match piece {
            Plain::Data {
                dir,
                ts,
                pos,
                bytes,
            } => {
                let d = dir.index();
                let offset = c.plain_offset.get(d).copied().unwrap_or(0);
                if let Some(o) = c.plain_offset.get_mut(d) {
                    *o = o.saturating_add(bytes.len() as u64);
                }
                let seg = Seg {
                    ts,
                    pos,
                    offset,
                    bytes: &bytes,
                };
                if let Some(h2) = c.h2.as_mut() {
                    h2.feed(dir, seg);
                    Self::hand_over_h2(c, &mut self.stats, sink);
                } else {
                    self.feed_http(c, dir, seg, sink);
                }
            }
            Plain::Gap { dir, ts, len } => {
                let d = dir.index();
                let offset = c.plain_offset.get(d).copied().unwrap_or(0);
                if let Some(o) = c.plain_offset.get_mut(d) {
                    *o = o.saturating_add(len);
                }
                if len == 0 {
                    return;
                }
                if let Some(h2) = c.h2.as_mut() {
                    h2.gap(dir, ts, len);
                    Self::hand_over_h2(c, &mut self.stats, sink);
                } else {
                    self.gap_http(c, dir, ts, offset, len, sink);
                }
            }
        }
    }
}
