//! What a response's own headers say about its connection: closed after it (`Connection:
//! close`, or HTTP/1.0 without keep-alive), or kept alive for `Keep-Alive: timeout=N` seconds.

use super::{HttpResponse, Known};
use crate::capture::Duration;

/// True when `token` is one of the comma-separated tokens of `value` (case-insensitive).
fn has_token(value: &str, token: &str) -> bool {
    if value.len() <= token.len() {
        // No piece of it is longer than itself: only the whole value may be the token.
        return value.eq_ignore_ascii_case(token);
    }
    if value.is_ascii() {
        // What `str::trim` trims in ASCII text.
        let space = |b: &u8| matches!(b, b' ' | b'\t'..=b'\r');
        return value.as_bytes().split(|&b| b == b',').any(|t| {
            let from = t.iter().position(|b| !space(b)).unwrap_or(t.len());
            let to = t.iter().rposition(|b| !space(b)).map_or(from, |j| j + 1);
            t.get(from..to)
                .is_some_and(|t| t.eq_ignore_ascii_case(token.as_bytes()))
        });
    }
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
    fn tokens_as_split_and_trimmed() {
        use super::has_token;
        for (value, token, want) in [
            ("close", "close", true),
            ("Close", "close", true),
            ("clos", "close", false),
            ("keep-alive", "close", false),
            ("keep-alive, close", "close", true),
            ("\x0bclose\r", "close", true),
            ("x,close ,y", "close", true),
            ("x,clo se", "close", false),
            ("\u{a0}close", "close", true),
            ("\u{a0}closed", "close", false),
        ] {
            assert_eq!(has_token(value, token), want, "{value:?}");
            let split = value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token));
            assert_eq!(split, want, "{value:?}");
        }
    }

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
