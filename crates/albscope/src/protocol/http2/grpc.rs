//! gRPC over HTTP/2: the status of a call, from its trailers (or a trailers-only response), or,
//! when the response is an HTTP error without gRPC status (an ALB or proxy answering itself),
//! the status gRPC clients derive from the HTTP status.

use crate::protocol::{pair_header, HttpExchange, Known};

/// What a gRPC call ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcOutcome {
    /// The gRPC status code the client sees (0 OK, 14 UNAVAILABLE, ...), when known.
    pub status: Option<u32>,
    /// `grpc-message`, percent-decoded lossily.
    pub message: Option<String>,
    /// The status was not sent by the server: it is derived from this HTTP status (the
    /// gRPC HTTP-to-status mapping), as a client would.
    pub from_http: Option<u16>,
}

/// Is the exchange a gRPC call (content-type `application/grpc`, `application/grpc+proto`, ...)?
fn is_grpc(ex: &HttpExchange) -> bool {
    let grpc = |v: Option<&str>| {
        // `application/grpc`, `application/grpc+proto`, `application/grpc;...`, any case,
        // compared in place (no lowercase copy per request).
        v.is_some_and(|v| {
            let v = v.trim().as_bytes();
            v.get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
                && matches!(v.get(16), None | Some(b'+' | b';'))
        })
    };
    grpc(
        ex.request
            .as_ref()
            .and_then(|r| r.headers.known(Known::ContentType)),
    ) || grpc(
        ex.response
            .as_ref()
            .and_then(|r| r.headers.known(Known::ContentType)),
    )
}

/// The gRPC outcome of an exchange, when it is a gRPC call with a response.
pub fn grpc_outcome(ex: &HttpExchange) -> Option<GrpcOutcome> {
    if !is_grpc(ex) {
        return None;
    }
    let resp = ex.response.as_ref()?;
    let trailers = ex.h2.as_ref().map(|h| h.trailers.as_slice()).unwrap_or(&[]);
    let lookup = |name: &str| pair_header(trailers, name).or_else(|| resp.headers.get(name));
    let status = lookup("grpc-status").and_then(|s| s.trim().parse::<u32>().ok());
    let message = lookup("grpc-message").map(percent_decode);
    if status.is_some() {
        return Some(GrpcOutcome {
            status,
            message,
            from_http: None,
        });
    }
    if resp.status != 200 {
        return Some(GrpcOutcome {
            status: Some(grpc_status_for_http(resp.status)),
            message,
            from_http: Some(resp.status),
        });
    }
    // A 200 whose trailers are missing (stream not finished or not captured).
    Some(GrpcOutcome {
        status: None,
        message,
        from_http: None,
    })
}

/// The gRPC status a client reports for an HTTP response without `grpc-status` (gRPC's
/// "HTTP to gRPC status code mapping": 400 INTERNAL, 401 UNAUTHENTICATED, 403
/// PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, others UNKNOWN).
pub fn grpc_status_for_http(status: u16) -> u32 {
    match status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => 14,
        _ => 2,
    }
}

/// The name of a gRPC status code (`OK`, `CANCELLED`, ... `UNAUTHENTICATED`).
pub fn grpc_code_name(code: u32) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
}

/// `grpc-message` is percent-encoded (RFC 3986 style); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
        if c == b'%' {
            if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
