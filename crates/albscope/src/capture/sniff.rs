//! Recognising capture files by their first bytes, and saying what a file looks like when it is
//! not a capture (empty, text, an ALB access log, HTML, JSON, another compressor, binary).

/// What the first bytes say the file is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    /// Classic pcap (any byte order, µs or ns, or the modified format).
    Pcap,
    /// pcapng (starts with a Section Header Block).
    PcapNg,
    /// Not a capture.
    Other,
}

/// Size of the classic pcap file header.
pub(crate) const PCAP_HEADER_LEN: usize = 24;

/// Classifies the start of a (decompressed) file.
pub(crate) fn magic(prefix: &[u8]) -> Magic {
    match prefix.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0xc3, 0xd4])
        | Some([0x4d, 0x3c, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0x3c, 0x4d])
        | Some([0x34, 0xcd, 0xb2, 0xa1]) => Magic::Pcap,
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => Magic::PcapNg,
        _ => Magic::Other,
    }
}

/// Whether the bytes start with the gzip magic.
pub(crate) fn is_gzip(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0x1f, 0x8b])
}

/// Whether the bytes start with the zstd frame magic (28 b5 2f fd).
pub(crate) fn is_zstd(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// A short description of what `prefix` (the first bytes of a file that is not a capture) looks
/// like, to complete "it looks like ...". `gzip` (`zstd`) says the bytes came out of a gzip
/// (zstd) stream.
pub(crate) fn describe(prefix: &[u8], gzip: bool, zstd: bool) -> String {
    if zstd {
        return format!("zstd-compressed {}", describe(prefix, false, false));
    }
    let gz = if gzip { "gzip-compressed " } else { "" };
    if prefix.is_empty() {
        return if gzip {
            "a gzip file holding nothing".to_string()
        } else {
            "an empty file (0 bytes)".to_string()
        };
    }
    if let Some(other) = other_compression(prefix) {
        return format!("{gz}{other}-compressed data; decompress it first");
    }
    if prefix.len() < 4 {
        return format!(
            "a {gz}file too short to be a capture ({} bytes)",
            prefix.len()
        );
    }
    if let Some(text) = as_text(prefix) {
        let trimmed = text.trim_start();
        if is_alb_access_log(trimmed) {
            let article = if gzip { "a" } else { "an" };
            return format!("{article} {gz}ALB access log; use `albscope explain-log`");
        }
        let lower: String = trimmed.chars().take(64).collect::<String>().to_lowercase();
        if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
            return format!("{}{gz}HTML document", if gzip { "a " } else { "an " });
        }
        if lower.starts_with("<?xml") {
            return format!("{gz}XML");
        }
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            return format!("{gz}JSON");
        }
        return format!("{gz}plain text (starting {:?})", first_line(trimmed));
    }
    let hex: Vec<String> = prefix.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{gz}unknown binary data (first bytes {})", hex.join(" "))
}

/// What a file starting with `prefix` looks like, for a command that expected something else
/// (e.g. `explain-log` given a capture): names captures and compressed data too.
pub fn looks_like(prefix: &[u8]) -> String {
    if is_gzip(prefix) {
        return "gzip-compressed data that is not an access log".to_string();
    }
    if is_zstd(prefix) {
        return "zstd-compressed data (a compressed capture? use `albscope analyze`)".to_string();
    }
    match magic(prefix) {
        Magic::Pcap => "a pcap capture; use `albscope analyze`".to_string(),
        Magic::PcapNg => "a pcapng capture; use `albscope analyze`".to_string(),
        Magic::Other => describe(prefix, false, false),
    }
}

/// Whether the first non-blank line of `prefix` starts like an ALB access-log entry. Compressed
/// data answers true (only reading it can tell).
pub fn starts_like_access_log(prefix: &[u8]) -> bool {
    if is_gzip(prefix) {
        return true;
    }
    let Some(text) = as_text(prefix) else {
        return false;
    };
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or(true, is_alb_access_log)
}

/// Other compressors people feed us by mistake.
fn other_compression(prefix: &[u8]) -> Option<&'static str> {
    if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else if prefix.starts_with(b"BZh") {
        Some("bzip2")
    } else if prefix.starts_with(b"PK\x03\x04") {
        Some("zip")
    } else if prefix.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        Some("lz4")
    } else {
        None
    }
}

/// The bytes as text when they are UTF-8 (a character cut at the end is allowed) without control
/// characters other than whitespace.
fn as_text(prefix: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(prefix) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(prefix.get(..e.valid_up_to())?).ok()?
        }
        Err(_) => return None,
    };
    let printable = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'));
    printable.then_some(text)
}

/// The first line, shortened to 60 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut short: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        short.push('…');
    }
    short
}

/// Whether a line starts like an ALB access log entry: a request type (`http`, `https`, `h2`,
/// `ws`, `wss`, `grpcs`), a space, and an RFC 3339 timestamp.
pub(crate) fn is_alb_access_log(line: &str) -> bool {
    let Some((kind, rest)) = line.split_once(' ') else {
        return false;
    };
    matches!(kind, "http" | "https" | "h2" | "ws" | "wss" | "grpcs") && starts_with_rfc3339(rest)
}

/// `YYYY-MM-DDTHH:MM:SS` at the start of `s`.
fn starts_with_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(head) = b.get(..19) else {
        return false;
    };
    head.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        _ => c.is_ascii_digit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_capture_magics() {
        assert_eq!(magic(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]), Magic::Pcap);
        assert_eq!(magic(&[0xa1, 0xb2, 0x3c, 0x4d]), Magic::Pcap);
        assert_eq!(magic(&[0x0a, 0x0d, 0x0d, 0x0a]), Magic::PcapNg);
        assert_eq!(magic(&[0x0a, 0x0d, 0x0d]), Magic::Other);
        assert_eq!(magic(b"hello"), Magic::Other);
    }

    #[test]
    fn describes_non_captures() {
        assert_eq!(describe(b"", false, false), "an empty file (0 bytes)");
        assert!(describe(b"ab", false, false).contains("too short"));
        let log = b"https 2025-12-11T16:42:57.298415Z app/my-alb/50dc6c495c0c9188 1.2.3.4:5 - -1 -1 -1 502";
        assert_eq!(
            describe(log, false, false),
            "an ALB access log; use `albscope explain-log`"
        );
        assert_eq!(
            describe(log, true, false),
            "a gzip-compressed ALB access log; use `albscope explain-log`"
        );
        assert!(!is_alb_access_log("https not-a-date"));
        assert!(!is_alb_access_log("ftp 2025-12-11T16:42:57Z"));
        assert_eq!(
            describe(b"<!DOCTYPE html><html>", false, false),
            "an HTML document"
        );
        assert_eq!(describe(b"  {\"a\": 1}", false, false), "JSON");
        assert_eq!(
            describe(b"hello world\nsecond", false, false),
            "plain text (starting \"hello world\")"
        );
        assert_eq!(
            describe(&[0x4d, 0x5a, 0x90, 0x00, 0x03], false, false),
            "unknown binary data (first bytes 4d 5a 90 00)"
        );
        assert!(describe(b"BZh91AY", false, false).starts_with("bzip2-compressed"));
    }

    #[test]
    fn zstd_and_access_log_sniffing() {
        assert!(is_zstd(&[0x28, 0xb5, 0x2f, 0xfd, 0]));
        assert!(!is_zstd(&[0x1f, 0x8b]));
        assert_eq!(
            looks_like(&[0xd4, 0xc3, 0xb2, 0xa1]),
            "a pcap capture; use `albscope analyze`"
        );
        let log = b"\nhttps 2025-12-11T16:42:57.298415Z app/x 1.2.3.4:5 - -1 -1 -1 502";
        assert!(starts_like_access_log(log));
        assert!(!starts_like_access_log(
            b"# albscope\nhttps 2025-12-11T16:42:57Z"
        ));
        assert!(!starts_like_access_log(&[0xd4, 0xc3, 0xb2, 0xa1, 0, 0]));
        assert!(starts_like_access_log(b""));
    }
}
