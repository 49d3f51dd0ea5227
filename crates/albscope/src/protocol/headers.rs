//! [`Headers`]: the header lines of one HTTP message in one buffer (names as sent, values decoded
//! lossily as UTF-8) with their spans, the words of its start line (method and target, reason
//! phrase) in the same buffer, and the headers the analysis reads ([`Known`]) located once while
//! parsing. One allocation per message read by the fast reader (its text; the header lines
//! are read again from it when iterated), two for others (text and spans), whatever the header
//! count; a lookup of a known name is
//! an index, any other name a scan.

use std::fmt;

/// The headers the analysis reads, located once when a message is parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// `Host`.
    Host,
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// `X-Forwarded-Port`.
    XForwardedPort,
    /// `X-Forwarded-Proto`.
    XForwardedProto,
    /// `X-Amzn-Trace-Id`.
    XAmznTraceId,
    /// `Server`.
    Server,
    /// `X-Powered-By`.
    XPoweredBy,
    /// `User-Agent`.
    UserAgent,
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding`.
    TransferEncoding,
    /// `Connection`.
    Connection,
    /// `Keep-Alive`.
    KeepAlive,
    /// `Content-Type`.
    ContentType,
    /// `grpc-status`.
    GrpcStatus,
}

/// Lower-case names of [`Known`], in its order.
const KNOWN_NAMES: [&str; 14] = [
    "host",
    "x-forwarded-for",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-amzn-trace-id",
    "server",
    "x-powered-by",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "content-type",
    "grpc-status",
];

const KNOWN_ALL: [Known; 14] = [
    Known::Host,
    Known::XForwardedFor,
    Known::XForwardedPort,
    Known::XForwardedProto,
    Known::XAmznTraceId,
    Known::Server,
    Known::XPoweredBy,
    Known::UserAgent,
    Known::ContentLength,
    Known::TransferEncoding,
    Known::Connection,
    Known::KeepAlive,
    Known::ContentType,
    Known::GrpcStatus,
];

impl Known {
    /// The known header called `name` (any case).
    pub fn from_name(name: &str) -> Option<Known> {
        Known::from_name_bytes(name.as_bytes())
    }

    /// The known header called `name` (any case), from the name's bytes.
    pub(crate) fn from_name_bytes(name: &[u8]) -> Option<Known> {
        let i = known_index(name)?;
        KNOWN_ALL.get(i).copied()
    }

    /// The header's name in lower case.
    pub fn name(self) -> &'static str {
        KNOWN_NAMES[self as usize]
    }
}

/// The index in [`KNOWN_NAMES`] of `name` (any case): the one candidate of its length and
/// first letter (and third, for the two of 15 bytes), then one comparison.
fn known_index(b: &[u8]) -> Option<usize> {
    // `| 0x20` lower-cases an ASCII letter; the comparison below confirms the whole name.
    let lower = |i: usize| b.get(i).map(|c| c | 0x20);
    let i = match (b.len(), lower(0)?) {
        (4, b'h') => 0,
        (6, b's') => 5,
        (10, b'u') => 7,
        (10, b'c') => 10,
        (10, b'k') => 11,
        (11, b'g') => 13,
        (12, b'x') => 6,
        (12, b'c') => 12,
        (14, b'c') => 8,
        (15, b'x') if lower(2) == Some(b'f') => 1,
        (15, b'x') => 4,
        (16, b'x') => 2,
        (17, b'x') => 3,
        (17, b't') => 9,
        _ => return None,
    };
    KNOWN_NAMES
        .get(i)
        .is_some_and(|k| eq_folded(b, k.as_bytes()))
        .then_some(i)
}

/// Field names recognised without a scan for the colon (see [`named_line`]): the [`Known`]
/// ones and other common ones (RFC 9110's content negotiation, caching, conditional and
/// connection fields, cookies, CORS' Origin), lower case, with the [`Known`] header each is.
const LINE_NAMES: [(&str, Option<Known>); 33] = [
    ("host", Some(Known::Host)),
    ("x-forwarded-for", Some(Known::XForwardedFor)),
    ("x-forwarded-port", Some(Known::XForwardedPort)),
    ("x-forwarded-proto", Some(Known::XForwardedProto)),
    ("x-amzn-trace-id", Some(Known::XAmznTraceId)),
    ("server", Some(Known::Server)),
    ("x-powered-by", Some(Known::XPoweredBy)),
    ("user-agent", Some(Known::UserAgent)),
    ("content-length", Some(Known::ContentLength)),
    ("transfer-encoding", Some(Known::TransferEncoding)),
    ("connection", Some(Known::Connection)),
    ("keep-alive", Some(Known::KeepAlive)),
    ("content-type", Some(Known::ContentType)),
    ("grpc-status", Some(Known::GrpcStatus)),
    ("accept", None),
    ("accept-encoding", None),
    ("accept-language", None),
    ("accept-ranges", None),
    ("age", None),
    ("authorization", None),
    ("cache-control", None),
    ("cookie", None),
    ("date", None),
    ("etag", None),
    ("expires", None),
    ("if-modified-since", None),
    ("if-none-match", None),
    ("last-modified", None),
    ("location", None),
    ("origin", None),
    ("pragma", None),
    ("referer", None),
    ("set-cookie", None),
];

/// The field name of [`LINE_NAMES`] (any case) that, with a colon, starts `line`: the
/// [`Known`] header it is (if any) and the name's length. The candidates of the line's first
/// letter are tried by where their colon would be, shortest first, and the first colon there
/// decides (the name ends at the line's first colon, and these names hold none): one switch,
/// one comparison, no scan. `None` for any other line.
pub(crate) fn named_line(line: &[u8]) -> Option<(Option<Known>, usize)> {
    let colon = |n: usize| line.get(n) == Some(&b':');
    let lower = |n: usize| line.get(n).map(|c| c | 0x20);
    let i = match lower(0)? {
        b'a' if colon(3) => 18,
        b'a' if colon(6) => 14,
        b'a' if colon(13) => match lower(1) {
            Some(b'c') => 17,
            _ => 19,
        },
        b'a' if colon(15) => match lower(7) {
            Some(b'e') => 15,
            _ => 16,
        },
        b'c' if colon(6) => 21,
        b'c' if colon(10) => 10,
        b'c' if colon(12) => 12,
        b'c' if colon(13) => 20,
        b'c' if colon(14) => 8,
        b'd' if colon(4) => 22,
        b'e' if colon(4) => 23,
        b'e' if colon(7) => 24,
        b'g' if colon(11) => 13,
        b'h' if colon(4) => 0,
        b'i' if colon(13) => 26,
        b'i' if colon(17) => 25,
        b'k' if colon(10) => 11,
        b'l' if colon(8) => 28,
        b'l' if colon(13) => 27,
        b'o' if colon(6) => 29,
        b'p' if colon(6) => 30,
        b'r' if colon(7) => 31,
        b's' if colon(6) => 5,
        b's' if colon(10) => 32,
        b't' if colon(17) => 9,
        b'u' if colon(10) => 7,
        b'x' if colon(12) => 6,
        b'x' if colon(15) => match lower(2) {
            Some(b'f') => 1,
            _ => 4,
        },
        b'x' if colon(16) => 2,
        b'x' if colon(17) => 3,
        _ => return None,
    };
    let (name, k) = LINE_NAMES.get(i)?;
    let name = name.as_bytes();
    eq_folded(line.get(..name.len())?, name).then_some((*k, name.len()))
}

/// `name` equals `lower` (lower-case letters and dashes, at least 4 bytes) in any case, compared
/// 8 (or 4) bytes at a time: a letter's byte may differ from it only by the case bit (0x20), a
/// dash not at all.
fn eq_folded(name: &[u8], lower: &[u8]) -> bool {
    fn word8(s: &[u8], i: usize) -> u64 {
        s.get(i..i + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    }
    fn word4(s: &[u8], i: usize) -> u64 {
        s.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    }
    // Letters have bit 0x40 set, a dash has not: shifted down, it marks where the case bit may
    // differ.
    let same = |w: u64, k: u64| w | ((k >> 1) & 0x2020_2020_2020_2020) == k;
    let n = lower.len();
    if name.len() != n || n < 4 {
        return name.eq_ignore_ascii_case(lower);
    }
    if n < 8 {
        return same(word4(name, 0), word4(lower, 0))
            && same(word4(name, n - 4), word4(lower, n - 4));
    }
    let mut i = 0;
    while i + 8 < n {
        if !same(word8(name, i), word8(lower, i)) {
            return false;
        }
        i += 8;
    }
    same(word8(name, n - 8), word8(lower, n - 8))
}

/// A range of [`Headers::text`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Range {
    start: u32,
    end: u32,
}

impl Range {
    /// The bytes `start..end` of a block shorter than 4 GiB (empty: the empty range at 0).
    pub(crate) fn within(start: usize, end: usize) -> Range {
        if start >= end {
            return Range::default();
        }
        Range {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The bytes `start..end` of a block (empty: the empty range at 0, as for a missing word);
    /// `None` when an offset does not fit.
    pub(crate) fn of(start: usize, end: usize) -> Option<Range> {
        if start >= end {
            return Some(Range::default());
        }
        Some(Range {
            start: off(start)?,
            end: off(end)?,
        })
    }
}

/// Where one header sits in [`Headers::text`]: its name and its value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Span {
    name: Range,
    value: Range,
}

/// Where the first value of each [`Known`] header sits.
#[derive(Copy, Clone, Debug, Default)]
struct KnownAt {
    value: [Range; KNOWN_NAMES.len()],
    /// Bit `k`: the `k`th known header is present.
    present: u16,
}

impl KnownAt {
    /// Records the value of known header `k` unless an earlier one was.
    fn note(&mut self, k: usize, value: Range) {
        let bit = 1u16 << k;
        if self.present & bit == 0 {
            if let Some(slot) = self.value.get_mut(k) {
                *slot = value;
                self.present |= bit;
            }
        }
    }

    fn get(&self, k: usize) -> Option<Range> {
        (self.present & (1u16 << k) != 0)
            .then(|| self.value.get(k).copied())
            .flatten()
    }
}

/// The header lines of one message (in order, capped by the parser's header count), with the
/// first occurrence of each [`Known`] header located, and the words of its start line (the
/// request line's method and target, or the status line's reason phrase) in the same buffer.
///
/// A block read by the fast reader (printable ASCII `Name: value` lines) keeps no list of
/// spans: its header lines are read again from the text when iterated (only the known
/// headers' values are located), so such a message costs one allocation, its text.
#[derive(Clone, Default)]
pub struct Headers {
    /// The names, values and start-line words, where the spans (or the lines) say.
    text: String,
    spans: Vec<Span>,
    /// The start line's two words (method and target; reason phrase and nothing).
    line: [Range; 2],
    /// The first value of each [`Known`] header among the indexed lines.
    known: KnownAt,
    /// When not 0: the text is a header block of that many indexed `Name: value` lines after
    /// its start line (and `spans` is empty).
    lined: u32,
}

/// The `Name: value` lines of a header block read by the fast reader, after its start line.
struct Lines<'h> {
    text: &'h str,
    at: usize,
    left: u32,
}

impl<'h> Iterator for Lines<'h> {
    type Item = (&'h str, &'h str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let rest = self.text.get(self.at..)?;
        let lf = rest.find('\n')?;
        self.at += lf + 1;
        self.left -= 1;
        let line = rest.get(..lf)?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (name, value) = line.split_once(':')?;
        Some((name, value.trim_matches(' ')))
    }
}

/// `n` as a `u32` offset, when it fits.
fn off(n: usize) -> Option<u32> {
    u32::try_from(n).ok()
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers from (name, value) pairs, in order (for tests and hand-built messages).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.push(n, v);
        }
        h
    }

    /// The first `max` headers httparse read, values decoded lossily.
    #[cfg(test)]
    pub(crate) fn from_raw(raw: &[httparse::Header<'_>], max: usize) -> Self {
        let raw = raw.get(..max.min(raw.len())).unwrap_or(&[]);
        let bytes: usize = raw.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut h = Headers {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(raw.len()),
            ..Headers::default()
        };
        for r in raw {
            match std::str::from_utf8(r.value) {
                Ok(v) => h.add(r.name, v),
                Err(_) => h.add(r.name, &String::from_utf8_lossy(r.value)),
            }
        }
        h
    }

    /// Appends `s` to the text; its range.
    fn append(&mut self, s: &str) -> Option<Range> {
        let start = off(self.text.len())?;
        let end = off(self.text.len().checked_add(s.len())?)?;
        self.text.push_str(s);
        Some(Range { start, end })
    }

    /// Sets the start line's words: a request's method and target, or a response's reason
    /// phrase and "" (see [`Headers::start_line`]).
    pub fn set_start_line(&mut self, first: &str, second: &str) {
        let mut set = |i: usize, s: &str| {
            let r = if s.is_empty() {
                Some(Range::default())
            } else {
                self.append(s)
            };
            if let (Some(r), Some(slot)) = (r, self.line.get_mut(i)) {
                *slot = r;
            }
        };
        set(0, first);
        set(1, second);
    }

    /// The start line's words: (method, target) of a request, (reason phrase, "") of a
    /// response; empty when none was set.
    pub fn start_line(&self) -> (&str, &str) {
        let [a, b] = &self.line;
        (self.range(a), self.range(b))
    }

    fn range(&self, r: &Range) -> &str {
        self.text
            .get(r.start as usize..r.end as usize)
            .unwrap_or("")
    }

    /// Appends one header.
    pub fn push(&mut self, name: &str, value: &str) {
        self.unline();
        self.add(name, value);
    }

    /// The header lines as spans (before one is appended to lines read from a block).
    fn unline(&mut self) {
        if self.lined == 0 {
            return;
        }
        let base = self.text.as_ptr() as usize;
        let at = |s: &str| {
            let start = (s.as_ptr() as usize).wrapping_sub(base);
            Range::within(start, start + s.len())
        };
        let spans: Vec<Span> = self
            .lines()
            .map(|(n, v)| Span {
                name: at(n),
                value: at(v),
            })
            .collect();
        self.spans = spans;
        self.lined = 0;
    }

    /// The header lines of a block read by the fast reader (none otherwise).
    fn lines(&self) -> Lines<'_> {
        Lines {
            text: &self.text,
            at: self.text.find('\n').map_or(self.text.len(), |i| i + 1),
            left: self.lined,
        }
    }

    /// Appends one header (the text's room is the caller's business).
    fn add(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        let (Some(name_r), Some(value_r)) = (self.append(name), self.append(value)) else {
            self.text.truncate(start);
            return;
        };
        index_line(
            &mut self.spans,
            &mut self.known,
            known_index(name.as_bytes()),
            name_r,
            value_r,
        );
    }

    fn at(&self, s: &Span) -> (&str, &str) {
        (self.range(&s.name), self.range(&s.value))
    }

    /// The value of the first header called `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        match Known::from_name(name) {
            Some(k) => self.known(k),
            None => self.scan(name),
        }
    }

    /// The value of the first `k` header: an index, no scan.
    pub fn known(&self, k: Known) -> Option<&str> {
        self.known.get(k as usize).map(|r| self.range(&r))
    }

    fn scan(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// (name, value) of every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|s| self.at(s)).chain(self.lines())
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.spans.len() + self.lined as usize
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the headers for which `keep(name, value)` is true (and the start line).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let old = std::mem::take(self);
        for (n, v) in old.iter() {
            if keep(n, v) {
                self.push(n, v);
            }
        }
        let (a, b) = old.start_line();
        if !a.is_empty() || !b.is_empty() {
            self.set_start_line(a, b);
        }
    }

    /// Heap bytes held, for memory estimates: by length, not capacity (the text's buffer is a
    /// recycled one whose room depends on the thread's history, and an estimate must not).
    pub fn heap_bytes(&self) -> usize {
        self.text.len() + self.spans.len() * std::mem::size_of::<Span>()
    }

    /// The headers of a parsed header block, `block` itself as their text (no copy) when it is
    /// valid UTF-8 (nearly always), else its names and values decoded lossily one by one.
    pub(crate) fn from_block(block: Vec<u8>, index: BlockIndex) -> Self {
        match String::from_utf8(block) {
            Ok(text) => Headers {
                text,
                spans: index.spans,
                line: index.line,
                known: index.known,
                lined: index.lined,
            },
            // The fast reader takes printable ASCII only: its blocks are never here.
            Err(e) if index.lined > 0 => Headers {
                text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                spans: Vec::new(),
                line: index.line,
                known: index.known,
                lined: index.lined,
            },
            Err(e) => {
                let bytes = e.into_bytes();
                let part = |r: &Range| {
                    String::from_utf8_lossy(
                        bytes.get(r.start as usize..r.end as usize).unwrap_or(&[]),
                    )
                };
                let mut h = Headers::new();
                for s in &index.spans {
                    h.push(&part(&s.name), &part(&s.value));
                }
                let [a, b] = &index.line;
                h.set_start_line(&part(a), &part(b));
                h
            }
        }
    }
}

/// Records a header line (known header `k`, when it is one) at `name` and `value`.
fn index_line(
    spans: &mut Vec<Span>,
    known: &mut KnownAt,
    k: Option<usize>,
    name: Range,
    value: Range,
) {
    spans.push(Span { name, value });
    if let Some(k) = k {
        known.note(k, value);
    }
}

/// Where the start-line words and the header lines of a header block sit in it, recorded while
/// the block is parsed (before its buffer becomes the [`Headers`]' text).
#[derive(Debug, Default)]
pub(crate) struct BlockIndex {
    spans: Vec<Span>,
    line: [Range; 2],
    known: KnownAt,
    /// Header lines of a block read by the fast reader (then `spans` is empty).
    lined: u32,
}

impl BlockIndex {
    /// An index for the block at `block` with room for `lines` header lines, with its start
    /// line's words (slices of `block`; one that is not, e.g. httparse's empty reason phrase
    /// for one it could not read, stays empty).
    pub(crate) fn new(block: &[u8], lines: usize, line: (&str, &str)) -> Self {
        BlockIndex {
            spans: Vec::with_capacity(lines),
            line: [
                locate(block, line.0.as_bytes()),
                locate(block, line.1.as_bytes()),
            ],
            known: KnownAt::default(),
            lined: 0,
        }
    }

    /// An index of a block read by the fast reader (printable ASCII `Name: value` lines, read
    /// again from the text when iterated), with the start line's words at `line`.
    pub(crate) fn lined(line: [Range; 2]) -> Self {
        BlockIndex {
            spans: Vec::new(),
            line,
            known: KnownAt::default(),
            lined: 0,
        }
    }

    /// Counts the next header line of a block read by the fast reader; `k` is what
    /// [`Known::from_name`] says of its name, `value` where its value sits.
    pub(crate) fn add_line(&mut self, k: Option<Known>, value: Range) {
        self.lined = self.lined.saturating_add(1);
        if let Some(k) = k {
            self.known.note(k as usize, value);
        }
    }

    /// Records the next header line, `name` and `value` being slices of `block`; `k` is what
    /// [`Known::from_name`] says of the name.
    pub(crate) fn add(&mut self, block: &[u8], name: &str, value: &[u8], k: Option<Known>) {
        index_line(
            &mut self.spans,
            &mut self.known,
            k.map(|k| k as usize),
            locate(block, name.as_bytes()),
            locate(block, value),
        );
    }
}

/// The range of `part` in `block`, when it is a slice of it (else empty).
fn locate(block: &[u8], part: &[u8]) -> Range {
    let start = (part.as_ptr() as usize).wrapping_sub(block.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= block.len() && !part.is_empty() => match (off(start), off(end)) {
            (Some(start), Some(end)) => Range { start, end },
            _ => Range::default(),
        },
        _ => Range::default(),
    }
}

impl Drop for Headers {
    /// The text's buffer goes back to the parsers ([`super::recycle`]).
    fn drop(&mut self) {
        super::recycle::give(std::mem::take(&mut self.text).into_bytes());
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.start_line() == other.start_line() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Headers::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Headers {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> Self {
        Headers::from_pairs(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_known_and_other_names() {
        let h = Headers::from_pairs([
            ("Host", "a.example"),
            ("X-Custom", "1"),
            ("host", "second"),
            ("SERVER", "awselb/2.0"),
        ]);
        assert_eq!(h.get("host"), Some("a.example"));
        assert_eq!(h.get("HOST"), Some("a.example"));
        assert_eq!(h.known(Known::Server), Some("awselb/2.0"));
        assert_eq!(h.get("x-custom"), Some("1"));
        assert_eq!(h.get("x-forwarded-for"), None);
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.len(), 4);
        let names: Vec<&str> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Host", "X-Custom", "host", "SERVER"]);
    }

    #[test]
    fn every_known_name_is_found_by_length() {
        for (i, name) in KNOWN_NAMES.iter().enumerate() {
            assert_eq!(known_index(name.as_bytes()), Some(i), "{name}");
            assert_eq!(
                known_index(name.to_ascii_uppercase().as_bytes()),
                Some(i),
                "{name}"
            );
            assert_eq!(Known::from_name(name).map(Known::name), Some(*name));
        }
        assert_eq!(known_index(b"x-request-id"), None);
        // Only the case bit of a letter may differ: not a dash's, nor any other bit.
        assert_eq!(known_index(b"X-FORWARDED-FOR"), Some(1));
        assert_eq!(known_index(b"x\rforwarded-for"), None);
        assert_eq!(known_index(b"x-forwarded-fos"), None);
        assert_eq!(known_index(b"hosT"), Some(0));
        assert_eq!(known_index(b"h0st"), None);
        assert_eq!(known_index(b"Server"), Some(5));
        assert_eq!(known_index("Serve\u{7f}".as_bytes()), None);
        assert_eq!(known_index(b"content-lengtH"), Some(8));
        assert_eq!(known_index(b"content_length"), None);
    }

    /// What [`named_line`] must say: the name up to the first colon, looked up in
    /// [`LINE_NAMES`] one by one.
    fn named_line_by_colon(line: &[u8]) -> Option<(Option<Known>, usize)> {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line.get(..colon)?;
        let (_, k) = LINE_NAMES
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))?;
        Some((*k, colon))
    }

    #[test]
    fn named_lines_found_without_a_colon_scan() {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (name, _) in LINE_NAMES {
            for n in [name.to_string(), name.to_ascii_uppercase()] {
                lines.push(format!("{n}: v").into_bytes());
                lines.push(format!("{n}:").into_bytes());
                lines.push(format!("{n}x: v").into_bytes());
                lines.push(n.clone().into_bytes());
                lines.push(n.get(..n.len() - 1).unwrap_or("").into());
                // An earlier colon makes the name shorter.
                lines.push(format!("{}:{}: v", &n[..2], &n[3..]).into_bytes());
                // Another name of the same length and first letter.
                let mut other = n.clone().into_bytes();
                other[n.len() - 1] ^= 1;
                other.extend_from_slice(b": v");
                lines.push(other);
            }
        }
        for x in [
            &b"x:"[..],
            b"",
            b":",
            b"c:",
            b"xxxxxxxxxxxx:",
            b"connection:content-type:",
        ] {
            lines.push(x.to_vec());
        }
        for line in &lines {
            assert_eq!(
                named_line(line),
                named_line_by_colon(line),
                "{}",
                line.escape_ascii()
            );
        }
        assert_eq!(named_line(b"Host: a"), Some((Some(Known::Host), 4)));
        assert_eq!(
            named_line(b"x-amzn-trace-id:1"),
            Some((Some(Known::XAmznTraceId), 15))
        );
        assert_eq!(named_line(b"Accept-Language: en"), Some((None, 15)));
        assert_eq!(named_line(b"X-Backend: b1"), None);
        // The Known ones are the first of the table, in Known's order.
        for (i, k) in KNOWN_ALL.iter().enumerate() {
            assert_eq!(LINE_NAMES[i], (KNOWN_NAMES[i], Some(*k)));
        }
    }

    #[test]
    fn retain_relocates_known_headers() {
        let mut h = Headers::from_pairs([("Server", "nginx"), ("Host", "x")]);
        h.retain(|n, _| !n.eq_ignore_ascii_case("server"));
        assert_eq!(h.get("server"), None);
        assert_eq!(h.get("host"), Some("x"));
    }

    #[test]
    fn lossy_values_from_raw() {
        let raw = [
            httparse::Header {
                name: "Server",
                value: b"caf\xe9",
            },
            httparse::Header {
                name: "Host",
                value: b"h",
            },
        ];
        let h = Headers::from_raw(&raw, 1);
        assert_eq!(h.get("server"), Some("caf\u{fffd}"));
        assert_eq!(h.get("host"), None);
    }

    fn parsed(block: &[u8]) -> Headers {
        let mut slots = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut slots);
        assert!(req.parse(block).is_ok_and(|s| s.is_complete()));
        let line = (req.method.unwrap_or(""), req.path.unwrap_or(""));
        let mut index = BlockIndex::new(block, req.headers.len(), line);
        for r in req.headers.iter() {
            index.add(block, r.name, r.value, Known::from_name(r.name));
        }
        let expected = Headers::from_raw(req.headers, 8);
        let h = Headers::from_block(block.to_vec(), index);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
        h
    }

    #[test]
    fn headers_of_a_block_are_its_slices() {
        let block = b"GET /a?b HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For:  10.0.0.1 \r\nx-amzn-trace-id: Root=1\r\nEmpty:\r\n\r\n";
        let h = parsed(block);
        assert_eq!(h.start_line(), ("GET", "/a?b"));
        assert_eq!(h.known(Known::XForwardedFor), Some("10.0.0.1"));
        assert_eq!(h.known(Known::XAmznTraceId), Some("Root=1"));
        assert_eq!(h.get("empty"), Some(""));
        assert_eq!(h.get("HOST"), Some("a.example"));
        // Not UTF-8: each value decoded lossily.
        let h = parsed(b"GET /x HTTP/1.1\r\nServer: caf\xe9\r\nHost: h\r\n\r\n");
        assert_eq!(h.get("server"), Some("caf\u{fffd}"));
        assert_eq!(h.get("host"), Some("h"));
        assert_eq!(h.start_line(), ("GET", "/x"));
    }

    #[test]
    fn many_headers_still_found() {
        let names: Vec<String> = (0..300).map(|i| format!("x-h{i}")).collect();
        let mut h = Headers::from_pairs(names.iter().map(|n| (n.as_str(), "v")));
        h.push("Host", "late");
        assert_eq!(h.get("host"), Some("late"));
        assert_eq!(h.get("x-h299"), Some("v"));
    }
}
