//! Decrypted TLS application data: chooses the parser of the inner protocol (by ALPN, then by
//! the first bytes, as for a clear-text stream) and feeds it the plaintext as a stream of its
//! own, with its own offsets, through the same entry points as clear-text bytes (the HTTP/1.x
//! parsers, or the HTTP/2 parser as on an `h2c` connection).

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

/// The start of the client connection preface of HTTP/2 (RFC 9113 3.4).
const H2_PREFACE_START: &[u8] = b"PRI * HTTP/2.0";

/// The inner protocol from the negotiated ALPN, else from the first plaintext bytes.
pub(super) fn inner_protocol(alpn: Option<&Alpn>, first: &[u8]) -> Inner {
    match alpn {
        Some(Alpn::H2) => Inner::Http2,
        Some(Alpn::Http1) => Inner::Http1,
        _ if first.starts_with(H2_PREFACE_START) => Inner::Http2,
        _ => Inner::Http1,
    }
}

impl ProtocolTracker {
    /// Feeds the decrypted pieces of the last event to the connection's inner parsers.
    pub(super) fn plaintext(&mut self, c: &mut Conn, sink: &mut dyn AppSink) {
        if self.plain.is_empty() {
            return;
        }
        let mut pieces = std::mem::take(&mut self.plain);
        for piece in pieces.drain(..) {
            match piece {
                Plain::Data {
                    dir,
                    ts,
                    pos,
                    bytes,
                } => {
                    let inner = *c.inner.get_or_insert_with(|| {
                        let alpn = c.decrypt.as_ref().and_then(|d| d.info.alpn.as_ref());
                        inner_protocol(alpn, &bytes)
                    });
                    if c.http.is_none() && c.h2.is_none() {
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
                    }
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
                    self.feed_inner(c, dir, seg, sink);
                }
                Plain::Gap { dir, ts, len } => {
                    let d = dir.index();
                    let offset = c.plain_offset.get(d).copied().unwrap_or(0);
                    if let Some(o) = c.plain_offset.get_mut(d) {
                        *o = o.saturating_add(len);
                    }
                    if len > 0 {
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
        // Keep the scratch buffer's allocation.
        self.plain = pieces;
    }

    /// Decrypted bytes to the inner parser: HTTP/2 when the connection speaks it, else HTTP/1.x.
    fn feed_inner(&mut self, c: &mut Conn, dir: Dir, seg: Seg<'_>, sink: &mut dyn AppSink) {
        if let Some(h2) = c.h2.as_mut() {
            h2.feed(dir, seg);
            Self::hand_over_h2(c, &mut self.stats, sink);
        } else {
            self.feed_http(c, dir, seg, sink);
        }
    }
}
