//! The fast reader of a header block: the common block — printable ASCII lines (no tab, no
//! byte above 0x7e), a well-formed start line, `Name: value` header lines — read in one pass
//! with what the parsers need of it (the start line's words, the headers indexed up to the
//! count cap, the framing). Any other block (or one with more than [`MAX_LINES`] headers) is
//! left to httparse: on the blocks this reader accepts, httparse reads the same words, names
//! and values (its leading and trailing whitespace of a value, its empty reason phrase), so
//! which reader read a block never shows.

use super::head::{content_length, is_chunked, Head};
use crate::protocol::headers::{named_line, BlockIndex, Range};
use crate::protocol::Known;

/// Most header lines this reader takes (a block with more goes to httparse).
const MAX_LINES: usize = 64;

/// httparse's token characters (method, header names).
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// Eight bytes: the high bit of the first byte that is not printable ASCII (below 0x20 or
/// above 0x7e) is set, and no bit below it (bits above it may be set: the borrow of the first
/// test runs upwards).
fn control_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    ((w.wrapping_sub(0x20 * ONES) & !w) | ((w & !HIGH).wrapping_add(ONES) | w)) & HIGH
}

/// The index of the first byte of `input` from `i` on that is not printable ASCII (the end of
/// a line): sixteen bytes at a time while they are all printable (one vector test: what the
/// compiler makes of [`printable16`]), then the word holding the first one.
#[inline(always)]
fn first_control(input: &[u8], i: usize) -> Option<usize> {
    let mut at = i;
    let mut chunks = input.get(i..)?.chunks_exact(16);
    for c in &mut chunks {
        if !printable16(c) {
            let (lo, hi) = c.split_at(8);
            let m = control_mask(word(lo));
            if m != 0 {
                return Some(at + (m.trailing_zeros() / 8) as usize);
            }
            let m = control_mask(word(hi));
            return Some(at + 8 + (m.trailing_zeros() / 8) as usize);
        }
        at += 16;
    }
    first_of::<false>(input, at)
}

/// Whether the first sixteen bytes of `c` are all printable ASCII: written as a fold over a
/// fixed length so that it compiles to one SSE2 compare and mask (no branch per byte).
#[inline(always)]
fn printable16(c: &[u8]) -> bool {
    let mut b = [0u8; 16];
    if let Some(c) = c.get(..16) {
        b.copy_from_slice(c);
    }
    b.iter()
        .fold(true, |ok, &x| ok & (x.wrapping_sub(0x20) < 0x5f))
}

/// The index of the first colon of `input` from `i` on, eight bytes at a time (a header
/// name's end; the name is checked by the caller).
fn first_colon(input: &[u8], i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = i;
    let mut words = input.get(i..)?.chunks_exact(8);
    for c in &mut words {
        // The first zero byte of `w ^ ':::'` (the borrow runs upwards only).
        let x = word(c) ^ (u64::from(b':') * ONES);
        let m = x.wrapping_sub(ONES) & !x & HIGH;
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b':')
        .map(|j| at + j)
}

/// The index of the first byte of `input` from `i` on that is a colon or not printable ASCII
/// (the end of a header line's name, or of a line without a colon).
#[cfg(test)]
fn first_colon_or_control(input: &[u8], i: usize) -> Option<usize> {
    first_of::<true>(input, i)
}

/// The index of the first space in `line` (a request line's word), eight bytes at a time:
/// cheaper than `memchr`'s set-up on words this short.
fn first_space(line: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = line.chunks_exact(8);
    let mut at = 0;
    for c in &mut words {
        // The first zero byte of `w ^ '   '` (the borrow runs upwards only).
        let x = word(c) ^ (u64::from(b' ') * ONES);
        let m = x.wrapping_sub(ONES) & !x & HIGH;
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b' ')
        .map(|j| at + j)
}

/// Eight bytes: the high bit of the first byte that is not printable ASCII (or, with `COLON`,
/// is a colon) is set, and no bit below it (the lowest set bit of the union of two such masks
/// is the first of either).
#[inline(always)]
fn stop_mask<const COLON: bool>(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let m = control_mask(w);
    if COLON {
        // The first zero byte of `w ^ ':::'` (the borrow runs upwards only).
        let x = w ^ (u64::from(b':') * ONES);
        m | (x.wrapping_sub(ONES) & !x & HIGH)
    } else {
        m
    }
}

/// The first byte of `input` from `i` on that [`stop_mask`] marks: eight bytes at a time,
/// then one. (Two words per test measured no better.)
#[inline(always)]
fn first_of<const COLON: bool>(input: &[u8], i: usize) -> Option<usize> {
    let mut at = i;
    let mut words = input.get(i..)?.chunks_exact(8);
    for c in &mut words {
        let m = stop_mask::<COLON>(word(c));
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| (COLON && b == b':') || !(0x20..0x7f).contains(&b))
        .map(|j| at + j)
}

/// The little-endian word of the first eight bytes of `c` (`chunks_exact`: one load, no bounds
/// check per byte).
#[inline(always)]
fn word(c: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if let Some(c) = c.get(..8) {
        b.copy_from_slice(c);
    }
    u64::from_le_bytes(b)
}

/// The line of `input` starting at `start`, all of printable ASCII ended by CR LF (or a bare
/// LF): (its end, the start of the next one). `None` when it holds another byte, does not end
/// in `input` or the next line would start past `cap`.
fn line_at(input: &[u8], start: usize, cap: usize) -> Option<(usize, usize)> {
    let end = first_control(input, start)?;
    Some((end, line_end(input, end, cap)?))
}

/// The start of the line after the one whose first byte that is not printable ASCII is at
/// `end`, when that byte begins a CR LF or is a bare LF and the next line starts within `cap`.
#[inline(always)]
fn line_end(input: &[u8], end: usize, cap: usize) -> Option<usize> {
    let next = match input.get(end..end + 2) {
        Some(b"\r\n") => end + 2,
        _ if input.get(end) == Some(&b'\n') => end + 1,
        _ => return None,
    };
    (next <= cap).then_some(next)
}

/// A request head at the start of `input`, when it is a block this reader takes, complete in
/// `input` and at most `cap` bytes long: (its length, what it says), `max` headers indexed.
pub(super) fn request(input: &[u8], cap: usize, max: usize) -> Option<(usize, Head)> {
    // Every offset of the block fits in the `u32` of a [`Range`].
    let cap = cap.min(u32::MAX as usize);
    let (end, next) = line_at(input, 0, cap)?;
    let line = input.get(..end)?;
    let sp = first_space(line)?;
    let method = line.get(..sp)?;
    if method.is_empty() || !method.iter().all(|&b| TOKEN[usize::from(b)]) {
        return None;
    }
    let rest = line.get(sp + 1..)?;
    let sp2 = first_space(rest)?;
    if sp2 == 0 {
        return None;
    }
    let version = match rest.get(sp2 + 1..)? {
        b"HTTP/1.0" => 0,
        b"HTTP/1.1" => 1,
        _ => return None,
    };
    let words = [Range::of(0, sp)?, Range::of(sp + 1, sp + 1 + sp2)?];
    let mut head = Head {
        status: 0,
        version,
        connect: method.eq_ignore_ascii_case(b"CONNECT"),
        index: BlockIndex::lined(words),
        content_length: Ok(None),
        chunked: false,
    };
    let len = headers(input, next, cap, max, &mut head)?;
    Some((len, head))
}

/// A response head at the start of `input`, as [`request`] does for requests.
pub(super) fn response(input: &[u8], cap: usize, max: usize) -> Option<(usize, Head)> {
    let cap = cap.min(u32::MAX as usize);
    let (end, next) = line_at(input, 0, cap)?;
    let line = input.get(..end)?;
    let version = match line.get(..9)? {
        b"HTTP/1.0 " => 0,
        b"HTTP/1.1 " => 1,
        _ => return None,
    };
    let status = match line.get(9..12)? {
        &[a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return None,
    };
    // Nothing after the code, or a space and the reason phrase (possibly empty).
    let reason = match line.get(12) {
        None => Range::default(),
        Some(b' ') => Range::of(13, line.len())?,
        Some(_) => return None,
    };
    let mut head = Head {
        status,
        version,
        connect: false,
        index: BlockIndex::lined([reason, Range::default()]),
        content_length: Ok(None),
        chunked: false,
    };
    let len = headers(input, next, cap, max, &mut head)?;
    Some((len, head))
}

/// Reads the header lines of the block at the start of `input` from `start` (after its start
/// line) up to its empty line, each into `head` as it is found (the first `max` indexed; the
/// Content-Length and chunked-ness from all): the block's length. `None` when a line is not
/// a printable ASCII `Name: value` line, the block does not end in `input` or within `cap`
/// bytes, or has more than [`MAX_LINES`] header lines.
///
/// One pass per line: a known or common name is recognised by its first letter and where its
/// colon would be ([`named_line`]), before any scan; another name is read up to its colon and
/// checked to be a token; then the line's end is found (and the value checked printable)
/// sixteen bytes at a time. Only a known header's value is trimmed.
fn headers(
    input: &[u8],
    mut start: usize,
    cap: usize,
    max: usize,
    head: &mut Head,
) -> Option<usize> {
    let mut n = 0;
    loop {
        let line = input.get(start..)?;
        let first = *line.first()?;
        if !(0x20..0x7f).contains(&first) {
            // Only the empty line ending the block is taken.
            return line_end(input, start, cap);
        }
        if n == MAX_LINES {
            return None;
        }
        let (k, colon) = match named_line(line) {
            Some((k, len)) => (k, start + len),
            None => {
                // The name: token characters (never a line's end) up to the colon.
                let colon = first_colon(input, start)?;
                if colon == start || !is_token(input.get(start..colon)?) {
                    return None;
                }
                (None, colon)
            }
        };
        let end = first_control(input, colon + 1)?;
        let next = line_end(input, end, cap)?;
        let Some(k) = k else {
            // An unknown header's value is never looked at here (only counted): no trimming.
            if n < max {
                head.index.add_line(None, Range::default());
            }
            n += 1;
            start = next;
            continue;
        };
        // The value without the spaces around it.
        let value = input.get(colon + 1..end)?;
        let lead = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
        let value = value.get(lead..)?;
        let value = value.get(..value.iter().rposition(|&b| b != b' ').map_or(0, |j| j + 1))?;
        match k {
            Known::ContentLength => digits_length(value, &mut head.content_length),
            Known::TransferEncoding => head.chunked = is_chunked(value),
            _ => {}
        }
        if n < max {
            let from = colon + 1 + lead;
            head.index
                .add_line(Some(k), Range::within(from, from + value.len()));
        }
        n += 1;
        start = next;
    }
}

/// The reader of header lines before the one-pass [`headers`]: the reference its tests
/// compare against.
#[cfg(test)]
fn headers_old(
    input: &[u8],
    mut start: usize,
    cap: usize,
    max: usize,
    head: &mut Head,
) -> Option<usize> {
    let mut n = 0;
    loop {
        // One pass over the line: up to the colon ending its name, then on to its end.
        let colon = first_colon_or_control(input, start)?;
        if input.get(colon) != Some(&b':') {
            // No colon: only the empty line ending the block is taken.
            return if colon == start {
                line_end(input, colon, cap)
            } else {
                None
            };
        }
        if n == MAX_LINES {
            return None;
        }
        let end = first_control(input, colon + 1)?;
        let next = line_end(input, end, cap)?;
        let name = input.get(start..colon)?;
        // An unknown header's value is never looked at here (only counted): no trimming.
        let Some(k) = Known::from_name_bytes(name) else {
            // The name: token characters up to the colon (a known name is made of them).
            if name.is_empty() || !is_token(name) {
                return None;
            }
            if n < max {
                head.index.add_line(None, Range::default());
            }
            n += 1;
            start = next;
            continue;
        };
        // The value without the spaces around it.
        let value = input.get(colon + 1..end)?;
        let lead = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
        let value = value.get(lead..)?;
        let value = value.get(..value.iter().rposition(|&b| b != b' ').map_or(0, |j| j + 1))?;
        match k {
            Known::ContentLength => digits_length(value, &mut head.content_length),
            Known::TransferEncoding => head.chunked = is_chunked(value),
            _ => {}
        }
        if n < max {
            let from = colon + 1 + lead;
            head.index
                .add_line(Some(k), Range::within(from, from + value.len()));
        }
        n += 1;
        start = next;
    }
}

/// Whether every byte of `name` is a token character: four table lookups at a time, without
/// a branch per byte.
fn is_token(name: &[u8]) -> bool {
    let t = |b: u8| TOKEN[usize::from(b)];
    let mut quads = name.chunks_exact(4);
    let mut ok = true;
    for q in &mut quads {
        if let &[a, b, c, d] = q {
            ok &= t(a) & t(b) & t(c) & t(d);
        }
    }
    ok && quads.remainder().iter().all(|&b| t(b))
}

/// Folds a Content-Length value into `cl` as [`content_length`] does, at once when it is
/// plain digits.
fn digits_length(value: &[u8], cl: &mut Result<Option<u64>, &'static str>) {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return content_length(value, cl);
    }
    let n = value
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    match *cl {
        Ok(Some(p)) if p != n => *cl = Err("conflicting Content-Length values"),
        Ok(_) => *cl = Ok(Some(n)),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colons_found() {
        let f = |b: &[u8]| first_colon_or_control(b, 0);
        assert_eq!(f(b"Host: x"), Some(4));
        assert_eq!(f(b"X-Forwarded-For: 1"), Some(15));
        assert_eq!(f(b"0123456789abcdef:"), Some(16));
        assert_eq!(f(b"0123456789abcdef"), None);
        assert_eq!(f(b"01234567:9abc:ef"), Some(8));
        assert_eq!(f(b"\x3b\x3a"), Some(1));
        assert_eq!(f(b"\x39\x3a\x3a\x00\x01\x02\x03\x04\x3a"), Some(1));
        // Whichever of a colon and a byte that is not printable comes first.
        assert_eq!(f(b"Name\r\n: x"), Some(4));
        assert_eq!(f(b"Name-long-\x7f: x"), Some(10));
        assert_eq!(f(b"a:\x00"), Some(1));
        assert_eq!(first_colon_or_control(b"a:b:c\n", 2), Some(3));
    }

    /// What the scans must say, a byte at a time.
    fn naive(input: &[u8], i: usize, colon: bool) -> Option<usize> {
        let rest = input.get(i..)?;
        rest.iter()
            .position(|&b| (colon && b == b':') || !(0x20..0x7f).contains(&b))
            .map(|j| i + j)
    }

    /// Every length, start and position of the first hit (with another after it), through
    /// the eight-byte and byte-at-a-time parts alike.
    #[test]
    fn scans_agree_with_a_byte_at_a_time() {
        let hits = [
            b':', b'\r', b'\n', 0x00, 0x1f, 0x7f, 0x80, 0xff, b' ', b'~', b'A',
        ];
        for len in 0..41 {
            for at in 0..len {
                for &b in &hits {
                    for &after in &[b':', 0x05, 0xff, b'x'] {
                        let mut s: Vec<u8> = (0..len).map(|j| b'a' + (j % 26) as u8).collect();
                        s[at] = b;
                        if at + 1 < len {
                            s[at + 1] = after;
                        }
                        for i in [0, 1, 3, 8, 9, 17].into_iter().filter(|&i| i <= len + 1) {
                            assert_eq!(first_control(&s, i), naive(&s, i, false), "{s:?} {i}");
                            assert_eq!(
                                first_colon_or_control(&s, i),
                                naive(&s, i, true),
                                "{s:?} {i}"
                            );
                            let colon = s
                                .get(i..)
                                .and_then(|r| r.iter().position(|&b| b == b':').map(|j| i + j));
                            assert_eq!(first_colon(&s, i), colon, "{s:?} {i}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn spaces_found() {
        for len in 0..30 {
            for at in 0..=len {
                for after in [b' ', b'!', 0x00, 0xa0] {
                    let mut s = vec![b'a'; len];
                    if let Some(x) = s.get_mut(at) {
                        *x = b' ';
                    }
                    if let Some(x) = s.get_mut(at + 1) {
                        *x = after;
                    }
                    let want = s.iter().position(|&b| b == b' ');
                    assert_eq!(first_space(&s), want, "{s:?}");
                }
            }
        }
        assert_eq!(first_space(b"GET /a HTTP/1.1"), Some(3));
        assert_eq!(first_space(b"/static/p200.json HTTP/1.1"), Some(17));
    }

    #[test]
    fn token_names() {
        for len in 0..12 {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut name = vec![b'a'; len];
                    name[at] = b;
                    let want = name.iter().all(|&c| TOKEN[usize::from(c)]);
                    assert_eq!(is_token(&name), want, "{}", name.escape_ascii());
                }
            }
        }
    }

    #[test]
    fn first_byte_not_printable() {
        assert_eq!(first_control(b"Host: a.example.com:8080\r\n", 0), Some(24));
        assert_eq!(first_control(b"short", 0), None);
        assert_eq!(first_control(b"Host: a.example\tcom", 0), Some(15));
        assert_eq!(
            first_control(b"Host: caf\xc3\xa9 latte and more", 0),
            Some(9)
        );
        assert_eq!(first_control(b"x\x7f", 0), Some(1));
        assert_eq!(first_control(b"0123456789abcdef\r", 0), Some(16));
        assert_eq!(first_control(b"\x1f0123456789abcdef", 0), Some(0));
        assert_eq!(first_control(b"a\x00\x01\x1f bc\xff", 2), Some(2));
        // The first of several, whatever comes after it.
        for at in 0..16 {
            let mut b = *b"0123456789abcdef";
            b[at] = 0x05;
            if at < 15 {
                b[at + 1] = 0xff;
            }
            assert_eq!(first_control(&b, 0), Some(at));
        }
    }
}

#[cfg(test)]
mod same_as_httparse {
    use super::super::request::parse_request_head;
    use super::super::response::parse_response_head;
    use super::*;
    use crate::protocol::Headers;

    /// What a reading says, comparable.
    type Said = (
        u16,
        u8,
        bool,
        Result<Option<u64>, &'static str>,
        bool,
        (String, String),
        Vec<(String, String)>,
    );

    fn said(block: &[u8], h: Head) -> Said {
        let headers = Headers::from_block(block.to_vec(), h.index);
        let (a, b) = headers.start_line();
        (
            h.status,
            h.version,
            h.connect,
            h.content_length,
            h.chunked,
            (a.to_string(), b.to_string()),
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The fast reader takes `block` only when httparse reads it the same way.
    fn check(block: &[u8], max: usize) -> bool {
        let req = request(block, usize::MAX, max).filter(|(n, _)| *n == block.len());
        let taken = req.is_some();
        if let Some((_, h)) = req {
            let slow = parse_request_head(block, max).ok();
            let slow = slow.map(|s| said(block, s));
            assert_eq!(Some(said(block, h)), slow, "{}", block.escape_ascii());
        }
        let resp = response(block, usize::MAX, max).filter(|(n, _)| *n == block.len());
        let taken = taken || resp.is_some();
        if let Some((_, h)) = resp {
            let slow = parse_response_head(block, max).ok();
            let slow = slow.map(|s| said(block, s));
            assert_eq!(Some(said(block, h)), slow, "{}", block.escape_ascii());
        }
        taken
    }

    #[test]
    fn common_blocks_are_taken_and_read_alike() {
        let blocks: [&[u8]; 8] = [
            b"GET /a?b=1 HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For:  10.0.0.1 \r\nEmpty:\r\nSpaces:   \r\nContent-Length: 5\r\n\r\n",
            b"POST /x HTTP/1.0\nHost: h\nTransfer-Encoding: gzip, chunked\n\n",
            b"CONNECT h:443 HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3, 3\r\n\r\n",
            b"HTTP/1.1 502\r\nServer: awselb/2.0\r\n\r\n",
            b"HTTP/1.0 404  Not  Found \r\nConnection: close\r\n\r\n",
            b"HTTP/1.1 200 \r\ncontent-length: x\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
        ];
        for b in blocks {
            assert!(check(b, 128), "{}", b.escape_ascii());
            assert!(check(b, 1), "{}", b.escape_ascii());
        }
    }

    #[test]
    fn uncommon_blocks_are_left_to_httparse() {
        let blocks: [&[u8]; 12] = [
            b"GET /a HTTP/1.1\r\nHost:\ta\r\n\r\n",
            b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
            b"GET  /a HTTP/1.1\r\n\r\n",
            b"GET /a HTTP/1.2\r\n\r\n",
            b"GET /a HTTP/1.1 \r\n\r\n",
            b"GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET /a HTTP/1.1\r\n folded\r\n\r\n",
            b"GET /a HTTP/1.1\r\nX: a\rb\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 20x OK\r\n\r\n",
            b"HTTP/1.1 200 caf\xc3\xa9\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        ];
        for b in blocks {
            assert!(!check(b, 128), "{}", b.escape_ascii());
        }
    }

    #[test]
    fn mutated_blocks_never_read_differently() {
        let seeds: [&[u8]; 2] = [
            b"GET /p?q=1 HTTP/1.1\r\nHost: a.b:80\r\nUser-Agent: x/1 (y)\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\nX-A:b\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\nServer: s\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
        ];
        let bytes = [
            b' ', b'\t', b':', b'\r', b'\n', b'\x7f', b'\x80', b'A', b'1', b'/', 0,
        ];
        let mut taken = 0;
        for seed in seeds {
            for at in 0..seed.len() {
                for &b in &bytes {
                    let mut m = seed.to_vec();
                    m[at] = b;
                    // Cut at the first empty line, as the head buffer does.
                    let end = super::super::head::find_head_end(&m, 0).unwrap_or(m.len());
                    m.truncate(end);
                    taken += usize::from(check(&m, 3));
                    let mut ins = seed.to_vec();
                    ins.insert(at, b);
                    let end = super::super::head::find_head_end(&ins, 0).unwrap_or(ins.len());
                    ins.truncate(end);
                    taken += usize::from(check(&ins, 128));
                }
            }
        }
        assert!(taken > 1000, "{taken}");
    }
}

#[cfg(test)]
mod same_as_before {
    //! The one-pass [`headers`] against the reader it replaced ([`headers_old`]), on random
    //! and mutated header blocks: the same length, index and framing, or both `None`.
    use super::*;
    use proptest::prelude::*;

    fn fresh() -> Head {
        Head {
            status: 0,
            version: 1,
            connect: false,
            index: BlockIndex::lined([Range::default(); 2]),
            content_length: Ok(None),
            chunked: false,
        }
    }

    /// Both readers on `input` from `start`; what they said, compared.
    fn agree(input: &[u8], start: usize, cap: usize, max: usize) -> bool {
        let (mut a, mut b) = (fresh(), fresh());
        let new = headers(input, start, cap, max, &mut a);
        let old = headers_old(input, start, cap, max, &mut b);
        assert_eq!(new, old, "{}", input.escape_ascii());
        if new.is_some() {
            assert_eq!(format!("{:?}", a.index), format!("{:?}", b.index));
            assert_eq!(a.content_length, b.content_length);
            assert_eq!(a.chunked, b.chunked);
        }
        new.is_some()
    }

    const NAMES: [&str; 14] = [
        "Host",
        "x-forwarded-FOR",
        "X-Amzn-Trace-Id",
        "Content-Length",
        "content-type",
        "Transfer-Encoding",
        "Connection",
        "Server",
        "Date",
        "X-Backend",
        "Accept-Encoding",
        "Cache-Control",
        "X Bad",
        "H:st",
    ];

    /// Bytes a value (or a name) may hold: printable, spaces, colons, controls, high bytes.
    fn any_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => b'a'..=b'z',
            1 => Just(b' '),
            1 => Just(b':'),
            1 => Just(b','),
            1 => b'0'..=b'9',
            1 => prop::sample::select(vec![b'\t', b'\r', b'\n', 0u8, 0x7f, 0x80, 0xc3, 0xff]),
        ]
    }

    fn line() -> impl Strategy<Value = Vec<u8>> {
        let name = prop_oneof![
            4 => prop::sample::select(NAMES.to_vec()).prop_map(|n| n.as_bytes().to_vec()),
            1 => prop::collection::vec(any_byte(), 0..20),
        ];
        let value = prop_oneof![
            2 => prop::sample::select(vec!["5", " 12 ", "chunked", "gzip, chunked", "3, 3", "x"])
                .prop_map(|v| v.as_bytes().to_vec()),
            3 => prop::collection::vec(any_byte(), 0..70),
        ];
        let sep = prop::sample::select(vec![&b": "[..], b":", b" : ", b"", b":  "]);
        let eol = prop::sample::select(vec![&b"\r\n"[..], b"\r\n", b"\n", b"\r", b""]);
        (name, sep, value, eol).prop_map(|(n, s, v, e)| [n, s.to_vec(), v, e.to_vec()].concat())
    }

    fn block() -> impl Strategy<Value = Vec<u8>> {
        let end = prop::sample::select(vec![&b"\r\n"[..], b"\n", b"", b"\r\nbody\x00\xff"]);
        (prop::collection::vec(line(), 0..12), end)
            .prop_map(|(lines, end)| [lines.concat(), end.to_vec()].concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn random_blocks_read_alike(
            b in block(),
            max in prop::sample::select(vec![0usize, 1, 3, 128]),
            cap in prop::sample::select(vec![usize::MAX, 40, 200]),
        ) {
            let mut input = b"GET / HTTP/1.1\r\n".to_vec();
            input.extend_from_slice(&b);
            agree(&input, 16, cap, max);
            agree(&b, 0, cap, max);
        }

        #[test]
        fn mutated_blocks_read_alike(
            edits in prop::collection::vec((0usize..400, any_byte(), any::<bool>()), 1..4),
            seed in 0usize..2,
        ) {
            let seeds: [&[u8]; 2] = [
                b"Host: lab-alb-1.eu-west-1.elb.amazonaws.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: */*\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nX-Amzn-Trace-Id: Root=1-6b15c6a9-478a4910e323e5a5b1b812a4\r\nX-Forwarded-For: 198.51.100.43\r\n\r\n",
                b"Server: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 20:33:45 GMT\r\nContent-Type: application/json\r\nContent-Length: 20480\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nX-Backend: b1\r\n\r\n{\"id\":1}",
            ];
            let mut m = seeds[seed].to_vec();
            for (at, byte, insert) in edits {
                let at = at % (m.len() + 1);
                if insert || at == m.len() {
                    m.insert(at, byte);
                } else {
                    m[at] = byte;
                }
            }
            agree(&m, 0, usize::MAX, 128);
            agree(&m, 0, usize::MAX, 2);
        }
    }

    #[test]
    fn common_blocks_are_taken() {
        let blocks: [&[u8]; 3] = [
            b"Host: a\r\nX-Forwarded-For:  10.0.0.1 \r\nEmpty:\r\nSpaces:   \r\nContent-Length: 5\r\n\r\n",
            b"Host: h\nTransfer-Encoding: gzip, chunked\n\n",
            b"\r\n",
        ];
        for b in blocks {
            assert!(agree(b, 0, usize::MAX, 128), "{}", b.escape_ascii());
        }
        // Too many lines, a line past the cap, a name with a space, a bare CR.
        let many = "X-A: b\r\n".repeat(MAX_LINES + 1) + "\r\n";
        assert!(!agree(many.as_bytes(), 0, usize::MAX, 128));
        assert!(!agree(b"Host: a\r\n\r\n", 0, 5, 128));
        assert!(!agree(b"X Y: a\r\n\r\n", 0, usize::MAX, 128));
        assert!(!agree(b"Host: a\rb\r\n\r\n", 0, usize::MAX, 128));
    }
}
