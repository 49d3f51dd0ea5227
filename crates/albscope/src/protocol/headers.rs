//! [`Headers`]: the header lines of one HTTP message in one buffer (names as sent, values decoded
//! lossily as UTF-8) with their spans, and the headers the analysis reads ([`Known`]) located
//! once while parsing. Two allocations per message, whatever its header count; a lookup of a
//! known name is an index, any other name a scan.

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

/// Where one header sits in [`Headers::text`]: name `start..name_end`, value
/// `name_end..value_end`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    name_end: u32,
    value_end: u32,
}

/// The header lines of one message (in order, capped by the parser's header count), with the
/// first occurrence of each [`Known`] header located.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name and value, one after the other.
    text: String,
    spans: Vec<Span>,
    /// Per [`Known`] header: 1 + the index of its first line, 0 when absent (or past 254).
    known: [u8; KNOWN_NAMES.len()],
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

    /// The first `max` headers httparse read from `block`, values decoded lossily. When the
    /// whole block is valid UTF-8 (nearly always) it is checked once and each value is a slice
    /// of it, not checked again.
    pub(crate) fn from_raw_in(block: &[u8], raw: &[httparse::Header<'_>], max: usize) -> Self {
        let Ok(text) = std::str::from_utf8(block) else {
            return Self::from_raw(raw, max);
        };
        let raw = raw.get(..max.min(raw.len())).unwrap_or(&[]);
        let bytes: usize = raw.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut h = Headers {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(raw.len()),
            known: [0; KNOWN_NAMES.len()],
        };
        for r in raw {
            let within = (r.value.as_ptr() as usize)
                .checked_sub(block.as_ptr() as usize)
                .and_then(|off| text.get(off..off.checked_add(r.value.len())?));
            match within {
                Some(v) => h.push(r.name, v),
                None => match std::str::from_utf8(r.value) {
                    Ok(v) => h.push(r.name, v),
                    Err(_) => h.push(r.name, &String::from_utf8_lossy(r.value)),
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
            known: [0; KNOWN_NAMES.len()],
        };
        for r in raw {
            match std::str::from_utf8(r.value) {
                Ok(v) => h.push(r.name, v),
                Err(_) => h.push(r.name, &String::from_utf8_lossy(r.value)),
            }
        }
        h
    }

    /// Appends one header.
    pub fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let name_end = self.text.len();
        self.text.push_str(value);
        let (Ok(start), Ok(name_end), Ok(value_end)) = (
            u32::try_from(start),
            u32::try_from(name_end),
            u32::try_from(self.text.len()),
        ) else {
            self.text.truncate(start);
            return;
        };
        let index = self.spans.len();
        self.spans.push(Span {
            start,
            name_end,
            value_end,
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
        let name = self
            .text
            .get(s.start as usize..s.name_end as usize)
            .unwrap_or("");
        let value = self
            .text
            .get(s.name_end as usize..s.value_end as usize)
            .unwrap_or("");
        (name, value)
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

    /// Keeps only the headers for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let old = std::mem::take(self);
        for (n, v) in old.iter() {
            if keep(n, v) {
                self.push(n, v);
            }
        }
    }

    /// Heap bytes held (capacities, for memory estimates).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.spans.capacity() * std::mem::size_of::<Span>()
    }
}

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
        let fast = Headers::from_raw_in(block, req.headers, 8);
        assert_eq!(fast, Headers::from_raw(req.headers, 8));
        assert_eq!(fast.known(Known::XForwardedFor), Some("10.0.0.1"));
        assert_eq!(fast.known(Known::XAmznTraceId), Some("Root=1"));
        assert_eq!(fast.get("empty"), Some(""));
        let other = [httparse::Header {
            name: "Server",
            value: b"caf\xe9",
        }];
        assert_eq!(
            Headers::from_raw_in(block, &other, 8).get("server"),
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
