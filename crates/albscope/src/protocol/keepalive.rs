//! What a response's own headers say about its connection: closed after it (`Connection:
//! close`, or HTTP/1.0 without keep-alive), or kept alive for `Keep-Alive: timeout=N` seconds.

use super::{HttpResponse, Known};
use crate::capture::Duration;

/// True when `token` is one of the comma-separated tokens of `value` (case-insensitive).
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

impl HttpResponse {
    /// True when the response ends its connection by its own headers: `Connection: close`, or
    /// an HTTP/1.0 response without `Connection: keep-alive`. The server closing the
    /// connection afterwards honours them; it is no keep-alive timer.
    pub fn closes_connection(&self) -> bool {
        let connection = self.headers.known(Known::Connection).unwrap_or("");
        if has_token(connection, "close") {
            return true;
        }
        self.version == 0 && !has_token(connection, "keep-alive")
    }

    /// The idle keep-alive timeout the response announces (`Keep-Alive: timeout=N`, whole
    /// seconds), on a response that keeps its connection open; `None` when not announced.
    pub fn announced_keepalive(&self) -> Option<Duration> {
        if self.closes_connection() || self.version >= 2 {
            return None;
        }
        let value = self.headers.known(Known::KeepAlive)?;
        value.split(',').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("timeout") {
                return None;
            }
            let secs: u32 = v.trim().trim_matches('"').parse().ok()?;
            Some(Duration::from_secs_f64(f64::from(secs)))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::alb::testutil::{hdrs, resp};

    #[test]
    fn reads_connection_close_and_keep_alive_timeout() {
        let mut r = resp(0, 200, "x", 1);
        assert!(!r.closes_connection());
        assert_eq!(r.announced_keepalive(), None);
        r.headers = hdrs(&[("Keep-Alive", "timeout=5, max=100")]);
        assert_eq!(r.announced_keepalive().map(|d| d.as_secs_f64()), Some(5.0));
        r.headers = hdrs(&[("Keep-Alive", "max=100")]);
        assert_eq!(r.announced_keepalive(), None);
        r.headers = hdrs(&[
            ("Connection", "Keep-Alive, Close"),
            ("Keep-Alive", "timeout=5"),
        ]);
        assert!(r.closes_connection());
        assert_eq!(r.announced_keepalive(), None);
        r.version = 0;
        r.headers = hdrs(&[("Server", "SimpleHTTP/0.6")]);
        assert!(r.closes_connection());
        r.headers = hdrs(&[("Connection", "keep-alive"), ("Keep-Alive", "timeout=15")]);
        assert!(!r.closes_connection());
        assert_eq!(r.announced_keepalive().map(|d| d.as_secs_f64()), Some(15.0));
    }
}
