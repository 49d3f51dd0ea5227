//! HTTP/1.1 message text as the parties of an ALB conversation write it: target servers
//! (Apache, Express, gunicorn, nginx) with their own headers, ALB-generated error pages, dates.

use super::pcap::Nanos;
use super::tcp::SEC;
use albscope::taxonomy::TargetServer;

/// The kind of server software on a target: decides its headers and keep-alive timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// Apache httpd 2.4 on Ubuntu (`KeepAliveTimeout` 5 s).
    Apache,
    /// Node.js Express (`X-Powered-By: Express`, no Server header, keep-alive 5 s).
    Express,
    /// gunicorn (keep-alive 2 s).
    Gunicorn,
    /// nginx (keepalive_timeout 75 s).
    Nginx,
}

impl ServerKind {
    /// The server's default idle keep-alive timeout (the taxonomy's table).
    pub fn keepalive(self) -> Nanos {
        let server = match self {
            ServerKind::Apache => TargetServer::Apache,
            ServerKind::Express => TargetServer::NodeJs,
            ServerKind::Gunicorn => TargetServer::Gunicorn,
            ServerKind::Nginx => TargetServer::Nginx,
        };
        server.keepalive().default_keepalive.0.unsigned_abs()
    }

    /// Identity headers the server puts on every response.
    pub fn identity_headers(self) -> Vec<(String, String)> {
        let h = |a: &str, b: &str| (a.to_string(), b.to_string());
        match self {
            ServerKind::Apache => vec![
                h("Server", "Apache/2.4.58 (Ubuntu)"),
                h("Keep-Alive", "timeout=5, max=100"),
                h("Connection", "Keep-Alive"),
            ],
            ServerKind::Express => vec![
                h("X-Powered-By", "Express"),
                h("Connection", "keep-alive"),
                h("Keep-Alive", "timeout=5"),
            ],
            ServerKind::Gunicorn => vec![h("Server", "gunicorn"), h("Connection", "keep-alive")],
            ServerKind::Nginx => vec![h("Server", "nginx/1.24.0"), h("Connection", "keep-alive")],
        }
    }

    /// Default content type of its responses.
    pub fn content_type(self) -> &'static str {
        match self {
            ServerKind::Apache => "text/html; charset=UTF-8",
            ServerKind::Express => "application/json; charset=utf-8",
            ServerKind::Gunicorn => "application/json",
            ServerKind::Nginx => "text/html",
        }
    }
}

/// Standard reason phrase.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// RFC 7231 IMF-fixdate of a scenario time, e.g. `Thu, 11 Dec 2025 16:42:57 GMT`.
pub fn http_date(t: Nanos) -> String {
    let secs = t / SEC;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WD[(days.rem_euclid(7)) as usize],
        d,
        MON[((m - 1) as usize).min(11)],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The body of an ALB-generated error page (nginx-style, as awselb/2.0 sends it).
pub fn alb_error_body(status: u16) -> String {
    let title = match status {
        502 => "502 Bad Gateway",
        503 => "503 Service Temporarily Unavailable",
        504 => "504 Gateway Time-out",
        460 => "460",
        400 => "400 Bad Request",
        _ => "500 Internal Server Error",
    };
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
}

/// A complete ALB-generated error response (`Server: awselb/2.0`, `Connection: keep-alive`).
pub fn alb_error_response(status: u16, t: Nanos) -> Vec<u8> {
    let body = alb_error_body(status);
    let reason = match status {
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        s => reason(s),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nServer: awselb/2.0\r\nDate: {}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        http_date(t),
        body.len()
    )
    .into_bytes()
}

/// Joins a start line, headers and body into message bytes.
pub fn message(start: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Encodes a body in chunked transfer coding with chunks of at most `chunk` bytes.
pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    for c in body.chunks(chunk.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_matches_seed_article() {
        assert_eq!(
            http_date(1_765_471_377 * SEC),
            "Thu, 11 Dec 2025 16:42:57 GMT"
        );
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(951_782_400 * SEC),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn alb_pages_have_real_lengths() {
        // Content-Length values seen in the seed article's curl output.
        assert_eq!(alb_error_body(502).len(), 122);
        assert_eq!(alb_error_body(504).len(), 132);
        let r = String::from_utf8(alb_error_response(502, 0)).expect("utf8");
        assert!(r.starts_with("HTTP/1.1 502 Bad Gateway\r\nServer: awselb/2.0\r\n"));
        assert!(r.contains("Connection: keep-alive\r\n"));
    }

    #[test]
    fn chunked_encoding() {
        assert_eq!(
            chunked(b"hello world", 5),
            b"5\r\nhello\r\n5\r\n worl\r\n1\r\nd\r\n0\r\n\r\n"
        );
    }
}
