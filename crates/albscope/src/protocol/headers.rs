//! [`Headers`]: the header lines of one HTTP message in one buffer (names as sent, values decoded
//! lossily as UTF-8) with their spans, the words of its start line (method and target, reason
//! phrase) in the same buffer, and the headers the analysis reads ([`Known`]) located once while
//! parsing. Two allocations per message, whatever its header count; a lookup of a known name is
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
fn known_index(name: &str) -> Option<usize> {
    let b = name.as_bytes();
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
        .is_some_and(|k| k.eq_ignore_ascii_case(name))
        .then_some(i)
}

/// A range of [`Headers::text`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Range {
    start: u32,
    end: u32,
}

/// Where one header sits in [`Headers::text`]: its name and its value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Span {
    name: Range,
    value: Range,
}

/// Bytes of index per header line charged by [`Headers::heap_bytes`] (the estimate the pairing
/// budget uses; it stays as it was when the index took 12 bytes per line).
const SPAN_CHARGE: usize = 12;

/// The header lines of one message (in order, capped by the parser's header count), with the
/// first occurrence of each [`Known`] header located, and the words of its start line (the
/// request line's method and target, or the status line's reason phrase) in the same buffer.
#[derive(Clone, Default)]
pub struct Headers {
    /// The names, values and start-line words, where the spans say.
    text: String,
    spans: Vec<Span>,
    /// The start line's two words (method and target; reason phrase and nothing).
    line: [Range; 2],
    /// Built by [`Headers::push`] (by hand, HTTP/2, `retain`): the heap estimate is the
    /// buffers' growth; else the exact sizes of a parsed block's names and values.
    pushed: bool,
    /// Per [`Known`] header: 1 + the index of its first line, 0 when absent (or past 254).
    known: [u8; KNOWN_NAMES.len()],
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

    /// The first `max` headers httparse read from `block`, values decoded lossily, with the
    /// start line's words `first` and `second` (method and target, or reason phrase and "").
    /// When the whole block is valid UTF-8 (nearly always) it is checked once and each value is
    /// a slice of it, not checked again.
    pub(crate) fn from_raw_in(
        block: &[u8],
        raw: &[httparse::Header<'_>],
        max: usize,
        line: (&str, &str),
    ) -> Self {
        let Ok(text) = std::str::from_utf8(block) else {
            let mut h = Self::from_raw(raw, max);
            h.set_start_line(line.0, line.1);
            return h;
        };
        let raw = raw.get(..max.min(raw.len())).unwrap_or(&[]);
        let bytes: usize = raw.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut h = Headers {
            text: String::with_capacity(bytes + line.0.len() + line.1.len()),
            spans: Vec::with_capacity(raw.len()),
            line: [Range::default(); 2],
            pushed: false,
            known: [0; KNOWN_NAMES.len()],
        };
        h.set_start_line(line.0, line.1);
        for r in raw {
            let within = (r.value.as_ptr() as usize)
                .checked_sub(block.as_ptr() as usize)
                .and_then(|off| text.get(off..off.checked_add(r.value.len())?));
            match within {
                Some(v) => h.add(r.name, v),
                None => match std::str::from_utf8(r.value) {
                    Ok(v) => h.add(r.name, v),
                    Err(_) => h.add(r.name, &String::from_utf8_lossy(r.value)),
                },
            }
        }
        h
    }

    /// The first `max` headers httparse read, values decoded lossily.
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
        self.pushed = true;
        self.add(name, value);
    }

    /// Appends one header (the text's room is the caller's business).
    fn add(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        let (Some(name_r), Some(value_r)) = (self.append(name), self.append(value)) else {
            self.text.truncate(start);
            return;
        };
        self.index(name, name_r, value_r);
    }

    /// Records a header line whose name and value are at `name_r` and `value_r`.
    fn index(&mut self, name: &str, name_r: Range, value_r: Range) {
        let index = self.spans.len();
        self.spans.push(Span {
            name: name_r,
            value: value_r,
        });
        if let Some(k) = known_index(name) {
            if let (Some(slot), Ok(i)) = (self.known.get_mut(k), u8::try_from(index + 1)) {
                if *slot == 0 && i < u8::MAX {
                    *slot = i;
                }
            }
        }
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
        match self.known.get(k as usize).copied().unwrap_or(0) {
            // Absent from the indexed lines; only a message with more lines may have it later.
            0 if self.spans.len() < usize::from(u8::MAX) => None,
            0 => self.scan(k.name()),
            i => self.spans.get(usize::from(i) - 1).map(|s| self.at(s).1),
        }
    }

    fn scan(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// (name, value) of every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|s| self.at(s))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
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

    /// Heap bytes charged for the headers (an estimate for the pairing budget): the names and
    /// values and 12 bytes of index per line, as their buffers grew when pushed one by one
    /// (hand-built), else exactly (parsed). The start line is not in it: it is charged as the
    /// message's own words.
    pub fn heap_bytes(&self) -> usize {
        if !self.pushed {
            let text: usize = self.iter().map(|(n, v)| n.len() + v.len()).sum();
            return text + self.spans.len() * SPAN_CHARGE;
        }
        // As `String` and `Vec` grow: at least double, at least 8 bytes / 4 entries.
        let (mut len, mut cap) = (0usize, 0usize);
        let mut grow = |add: usize| {
            len += add;
            if len > cap {
                cap = len.max(cap * 2).max(8);
            }
        };
        for (n, v) in self.iter() {
            grow(n.len());
            grow(v.len());
        }
        let spans = match self.spans.len() {
            0 => 0,
            n => n.next_power_of_two().max(4),
        };
        cap + spans * SPAN_CHARGE
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
            assert_eq!(known_index(name), Some(i), "{name}");
            assert_eq!(known_index(&name.to_ascii_uppercase()), Some(i), "{name}");
            assert_eq!(Known::from_name(name).map(Known::name), Some(*name));
        }
        assert_eq!(known_index("x-request-id"), None);
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

    #[test]
    fn values_sliced_from_a_valid_block_equal_the_checked_ones() {
        let block = b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 10.0.0.1\r\nx-amzn-trace-id: Root=1\r\nEmpty:\r\n\r\n";
        let mut slots = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut slots);
        assert!(req.parse(block).is_ok_and(|s| s.is_complete()));
        let fast = Headers::from_raw_in(block, req.headers, 8, ("GET", "/"));
        assert!(fast.iter().eq(Headers::from_raw(req.headers, 8).iter()));
        assert_eq!(fast.start_line(), ("GET", "/"));
        assert_eq!(fast.known(Known::XForwardedFor), Some("10.0.0.1"));
        assert_eq!(fast.known(Known::XAmznTraceId), Some("Root=1"));
        assert_eq!(fast.get("empty"), Some(""));
        let other = [httparse::Header {
            name: "Server",
            value: b"caf\xe9",
        }];
        assert_eq!(
            Headers::from_raw_in(block, &other, 8, ("", "")).get("server"),
            Some("caf\u{fffd}")
        );
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
