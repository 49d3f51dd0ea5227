//! The HPACK decoder of one direction (`loona-hpack`), guarded: its dynamic table is capped,
//! a header block that fails to decode (or makes the decoder panic) poisons the direction's
//! state, and later blocks are reported undecodable rather than decoded wrongly.

use crate::protocol::Header;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Largest dynamic table accepted (RFC 7541 size updates above it are errors). Browsers
/// advertise up to 64 KiB.
const MAX_TABLE: usize = 64 * 1024;

/// A decoded header block: pseudo-headers and regular headers apart.
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// `:method`, `:path`, `:authority`, `:scheme`, `:status`, ... in order.
    pub pseudo: Vec<Header>,
    /// Regular headers (capped).
    pub headers: Vec<Header>,
    /// Headers beyond the cap (not kept).
    pub dropped: usize,
}

impl Block {
    /// A pseudo-header's value.
    pub fn pseudo(&self, name: &str) -> Option<&str> {
        crate::protocol::pair_header(&self.pseudo, name)
    }
}

/// The guarded decoder.
pub(crate) struct HeaderDecoder {
    inner: loona_hpack::Decoder<'static>,
    /// The table no longer matches the encoder's (a block was lost or invalid).
    poisoned: bool,
}

impl std::fmt::Debug for HeaderDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDecoder")
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        let mut inner = loona_hpack::Decoder::new();
        inner.set_max_allowed_table_size(MAX_TABLE);
        HeaderDecoder {
            inner,
            poisoned: false,
        }
    }
}

impl HeaderDecoder {
    /// A header block of this direction was lost: later ones cannot be decoded.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Decodes one complete header block; `None` when it cannot be (and from then on).
    pub fn decode(&mut self, block: &[u8], max_headers: usize) -> Option<Block> {
        if self.poisoned {
            return None;
        }
        let mut out = Block::default();
        let inner = &mut self.inner;
        let result = catch_unwind(AssertUnwindSafe(|| {
            inner.decode_with_cb(block, |name, value| {
                let name = String::from_utf8_lossy(&name).into_owned();
                let value = String::from_utf8_lossy(&value).into_owned();
                if name.starts_with(':') {
                    if out.pseudo.len() < 8 {
                        out.pseudo.push((name, value));
                    }
                } else if out.headers.len() < max_headers {
                    out.headers.push((name, value));
                } else {
                    out.dropped += 1;
                }
            })
        }));
        match result {
            Ok(Ok(())) => Some(out),
            _ => {
                self.poisoned = true;
                None
            }
        }
    }
}
