//! Estimates of the heap a held leg or connection record costs, for the pairing memory budget
//! ([`super::AlbConfig::max_pending_bytes`]). They count the structs and every owned string and
//! list (by length, plus a word of allocator overhead each), so they err on the high side.

use super::{ClosedConn, Leg};
use crate::protocol::{Headers, HttpExchange, TlsInfo};
use std::mem::size_of;

/// Allocator bookkeeping charged per heap allocation.
const PER_ALLOCATION: usize = 16;

fn string(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.len() + PER_ALLOCATION
    }
}

fn bytes(b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        b.len() + PER_ALLOCATION
    }
}

fn headers(h: &Headers) -> usize {
    match h.heap_bytes() {
        0 => 0,
        n => n + 2 * PER_ALLOCATION,
    }
}

/// Heap bytes of a plain list of header pairs (HTTP/2 trailers).
fn pairs(h: &[(String, String)]) -> usize {
    if h.is_empty() {
        return 0;
    }
    std::mem::size_of_val(h)
        + PER_ALLOCATION
        + h.iter().map(|(n, v)| string(n) + string(v)).sum::<usize>()
}

fn exchange(ex: &HttpExchange) -> usize {
    let mut n = 0;
    if let Some(r) = &ex.request {
        n += string(r.method()) + string(r.target()) + headers(&r.headers);
    }
    if let Some(r) = &ex.response {
        n += string(r.reason()) + headers(&r.headers);
    }
    if let Some(e) = &ex.response_error {
        n += bytes(&e.excerpt);
    }
    if let Some(h) = &ex.h2 {
        n += size_of::<crate::protocol::H2Stream>()
            + PER_ALLOCATION
            + pairs(&h.trailers)
            + std::mem::size_of_val(h.stalls.as_slice());
    }
    n
}

fn tls(t: &TlsInfo) -> usize {
    let list = |v: &[String]| -> usize {
        if v.is_empty() {
            0
        } else {
            std::mem::size_of_val(v) + PER_ALLOCATION + v.iter().map(|s| string(s)).sum::<usize>()
        }
    };
    let mut n = size_of::<TlsInfo>();
    if let Some(c) = &t.client_hello {
        n += string(&c.legacy_version)
            + list(&c.supported_versions)
            + list(&c.ciphers)
            + c.sni.as_deref().map_or(0, string)
            + list(&c.alpn);
    }
    if let Some(s) = &t.server_hello {
        n += string(&s.version) + string(&s.cipher) + s.alpn.as_deref().map_or(0, string);
    }
    n += t
        .alerts
        .iter()
        .map(|a| std::mem::size_of_val(a) + string(&a.level) + string(&a.description))
        .sum::<usize>();
    n + t.bursts.capacity() * size_of::<crate::protocol::TlsBurst>()
}

/// Heap bytes a connection record costs (its shared box, events, strings and TLS facts).
pub(super) fn closed_conn(c: &ClosedConn) -> usize {
    // The Arc's two counters, then the record.
    2 * size_of::<usize>()
        + size_of::<ClosedConn>()
        + PER_ALLOCATION
        + c.tcp.events.capacity() * size_of::<crate::flow::TcpEvent>()
        + PER_ALLOCATION
        + c.tcp.state.capacity()
        + PER_ALLOCATION
        + c.tcp.history.capacity()
        + PER_ALLOCATION
        + c.tls.as_ref().map_or(0, tls)
        + c.decryption.as_ref().map_or(0, |d| {
            size_of::<crate::protocol::DecryptInfo>() + PER_ALLOCATION + d.unsynced.capacity()
        })
        + c.unknown_excerpt.as_deref().map_or(0, string)
}

/// Heap bytes a held leg costs (its box, its exchange's box and its slot in the queue), not
/// counting a connection record it shares.
pub(super) fn leg(l: &Leg) -> usize {
    size_of::<Leg>()
        + PER_ALLOCATION
        + size_of::<super::Pending>()
        + l.exchange.as_deref().map_or(0, |ex| {
            size_of::<HttpExchange>() + PER_ALLOCATION + exchange(ex)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::RequestPath;
    use crate::protocol::{ConnContext, HttpRequest, HttpResponse};

    /// What one exchange's hand-off moves: printed with `--nocapture`, and bounded so that a
    /// field added to one of them is a decision (each is moved or copied per request).
    #[test]
    fn hand_off_sizes() {
        let sizes = [
            ("HttpExchange", size_of::<HttpExchange>()),
            ("HttpRequest", size_of::<HttpRequest>()),
            ("HttpResponse", size_of::<HttpResponse>()),
            ("Headers", size_of::<Headers>()),
            ("ConnContext", size_of::<ConnContext>()),
            ("Leg", size_of::<Leg>()),
            ("RequestPath", size_of::<RequestPath>()),
            ("Pending", size_of::<super::super::Pending>()),
        ];
        for (name, n) in sizes {
            println!("size_of::<{name}>() = {n}");
        }
        // Today (Rust 1.95, x86-64): 744, 992 and 64 bytes.
        assert!(size_of::<HttpExchange>() <= 768);
        // The exchange is boxed (`ExchangeBox`): a leg is its connection and a pointer.
        assert!(size_of::<Leg>() <= 288);
        // Its legs are boxed: handing a pair over moves pointers.
        assert!(size_of::<RequestPath>() <= 96);
    }
}
