//! HTTP/2 on the wire for samples: frames and header blocks (HPACK literals without indexing,
//! no Huffman: valid for any decoder, and readable in a hex dump).

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types used here.
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0;
    /// HEADERS.
    pub const HEADERS: u8 = 1;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 4;
    /// GOAWAY.
    pub const GOAWAY: u8 = 7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 8;
}

/// END_STREAM.
pub const END_STREAM: u8 = 0x1;
/// END_HEADERS.
pub const END_HEADERS: u8 = 0x4;

/// One frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `prefix`-bit prefix, the first byte's high bits from `first`.
fn int(out: &mut Vec<u8>, first: u8, prefix: u8, mut v: usize) {
    let max = (1usize << prefix) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A header block: every field a literal without indexing, new name.
pub fn block(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in headers {
        b.push(0x00);
        int(&mut b, 0, 7, n.len());
        b.extend_from_slice(n.as_bytes());
        int(&mut b, 0, 7, v.len());
        b.extend_from_slice(v.as_bytes());
    }
    b
}

/// A HEADERS frame with a whole header block.
pub fn headers(stream: u32, end_stream: bool, fields: &[(&str, &str)]) -> Vec<u8> {
    let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
    frame(kind::HEADERS, flags, stream, &block(fields))
}

/// DATA frames carrying `body` (at most 16 384 bytes each), the last with END_STREAM when
/// `end_stream`.
pub fn data(stream: u32, body: &[u8], end_stream: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = if body.is_empty() {
        vec![&[][..]]
    } else {
        body.chunks(16_384).collect()
    };
    let n = chunks.len();
    for (i, c) in chunks.into_iter().enumerate() {
        let flags = if end_stream && i + 1 == n {
            END_STREAM
        } else {
            0
        };
        out.extend(frame(kind::DATA, flags, stream, c));
    }
    out
}

/// SETTINGS with (id, value) pairs.
pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(kind::SETTINGS, 0, 0, &p)
}

/// SETTINGS acknowledgement.
pub fn settings_ack() -> Vec<u8> {
    frame(kind::SETTINGS, 0x1, 0, &[])
}

/// RST_STREAM with an error code.
pub fn rst(stream: u32, code: u32) -> Vec<u8> {
    frame(kind::RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// GOAWAY with the last stream id and an error code.
pub fn goaway(last_stream: u32, code: u32) -> Vec<u8> {
    let mut p = last_stream.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    frame(kind::GOAWAY, 0, 0, &p)
}

/// WINDOW_UPDATE.
pub fn window_update(stream: u32, incr: u32) -> Vec<u8> {
    frame(kind::WINDOW_UPDATE, 0, stream, &incr.to_be_bytes())
}
