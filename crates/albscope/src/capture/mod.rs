//! Capture layer: reads pcap and pcapng files (plain, gzip- or zstd-compressed, several files merged in
//! timestamp order, or stdin) and yields one [`PacketRef`] per captured frame.
//!
//! Damage is data, not a crash: a file cut mid-record or carrying an absurd length stops *that
//! file* with a [`CaptureError`] naming file, packet number and byte offset; packets before the
//! damage have already been yielded, and the other files go on.
//!
//! A file cut exactly at a record boundary cannot be told apart from a complete file and ends
//! cleanly; a cut anywhere else (inside a record header, its data, a pcapng block, or the file
//! header) is reported as damage. A file shorter than 4 bytes is "not a capture" (too short or
//! empty). Per-packet work allocates nothing: each input keeps its next packet in its read buffer
//! (512 KiB, grown for big records up to 16 MiB, never beyond).

pub(crate) mod blocks;
mod ends;
mod error;
mod input;
mod reader;
pub(crate) mod sniff;
mod source;
mod time_guard;

pub use ends::InputEnds;
pub use error::CaptureError;
pub use reader::{CaptureReader, InputSummary, STREAM_OPEN_WAIT};
pub use sniff::{looks_like, starts_like_access_log};

use serde::Serialize;
use std::fmt;

/// A point in time, in nanoseconds since the Unix epoch. One clock for every layer.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Builds a timestamp from whole seconds and nanoseconds.
    pub fn from_parts(secs: i64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }
    /// Seconds since the epoch as a float (for display and JSON).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Signed duration `self - earlier` in nanoseconds.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
    /// Adds a duration.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }
    /// RFC 3339 UTC rendering with microseconds, e.g. `2025-12-11T16:42:57.298415Z`.
    pub fn to_rfc3339(self) -> String {
        let mut out = Vec::with_capacity(RFC3339_LEN);
        self.write_rfc3339(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }
    /// Appends [`Timestamp::to_rfc3339`]'s text to `out` (without a `String` and the
    /// formatting machinery for the years 0 to 9999; for writers of many timestamps).
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        match self.rfc3339_bytes() {
            Some(b) => out.extend_from_slice(&b),
            None => out.extend_from_slice(self.rfc3339_formatted().as_bytes()),
        }
    }
    /// Appends [`Timestamp::to_rfc3339`]'s text to a `String` (without a `String` of its own
    /// for the years 0 to 9999).
    pub fn push_rfc3339(self, out: &mut String) {
        match self.rfc3339_bytes() {
            Some(b) => out.push_str(std::str::from_utf8(&b).unwrap_or("")),
            None => out.push_str(&self.rfc3339_formatted()),
        }
    }
    /// The RFC 3339 text for the years 0 to 9999, written digit by digit.
    fn rfc3339_bytes(self) -> Option<[u8; RFC3339_LEN]> {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                if let Some(slot) = b.get_mut(i) {
                    *slot = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        let sod = sod as u64;
        put(0, 4, y as u64);
        put(5, 2, u64::from(m));
        put(8, 2, u64::from(d));
        put(11, 2, sod / 3600);
        put(14, 2, (sod / 60) % 60);
        put(17, 2, sod % 60);
        put(20, 6, nanos as u64 / 1000);
        Some(b)
    }
    /// [`Timestamp::to_rfc3339`] through `format!` (any year).
    fn rfc3339_formatted(self) -> String {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            nanos / 1000
        )
    }
}

/// A signed span of time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Duration(pub i64);

impl Duration {
    /// Builds a duration from float seconds.
    pub fn from_secs_f64(s: f64) -> Self {
        Duration((s * 1e9).round() as i64)
    }
    /// Builds a duration from milliseconds.
    pub fn from_millis(ms: i64) -> Self {
        Duration(ms.saturating_mul(1_000_000))
    }
    /// The span in float seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl fmt::Display for Duration {
    /// Human rendering: `850 µs`, `12.3 ms`, `10.002 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        if ns < 1_000_000 {
            write!(f, "{sign}{} µs", ns / 1000)
        } else if ns < 1_000_000_000 {
            write!(f, "{sign}{:.1} ms", ns as f64 / 1e6)
        } else {
            write!(f, "{sign}{:.3} s", ns as f64 / 1e9)
        }
    }
}

/// Length of [`Timestamp::to_rfc3339`]'s text for the years 0 to 9999.
const RFC3339_LEN: usize = 27;

/// Converts days since 1970-01-01 to a civil (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where a packet sits in the input: which file, its 1-based packet number in that file, and the
/// byte offset of its record in the (decompressed) file. Carried to every finding as evidence.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PacketPos {
    /// Index into the list of input files (see [`CaptureReader::file_names`]).
    pub file: u16,
    /// 1-based packet number within that file, as Wireshark numbers frames.
    pub number: u64,
    /// Byte offset of the packet record within the decompressed file.
    pub offset: u64,
}

/// Link-layer type of a packet, as numbered by the pcap LINKTYPE_ registry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback (4-byte address family in host byte order).
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (IPv4 or IPv6, from the version nibble).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback (4-byte address family in network byte order).
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// DLT_RAW as some systems number it (12 or 14).
    pub const RAW_ALT12: LinkType = LinkType(12);
    /// DLT_RAW as some systems number it (14).
    pub const RAW_ALT14: LinkType = LinkType(14);
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Copy, Clone, Debug)]
pub struct PacketRef<'a> {
    /// Where it is in the input.
    pub pos: PacketPos,
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Link type of the interface it was captured on.
    pub link: LinkType,
    /// Length of the frame on the wire; larger than `data.len()` when the capture truncated it.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

#[cfg(test)]
mod rfc3339_tests {
    use super::Timestamp;
    use proptest::prelude::*;

    #[test]
    fn known_values_and_extremes() {
        assert_eq!(
            Timestamp(1_796_589_211_495_753_123).to_rfc3339(),
            "2026-12-06T20:33:31.495753Z"
        );
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999999Z");
        for ts in [i64::MIN, i64::MAX, 1, 999, -1_000_000_001] {
            let t = Timestamp(ts);
            assert_eq!(t.to_rfc3339(), t.rfc3339_formatted());
        }
    }

    proptest! {
        /// The fast writer gives `format!`'s text.
        #[test]
        fn fast_writer_matches_format(ts in any::<i64>(), near in -5_000_000_000_000_000_000i64..5_000_000_000_000_000_000i64) {
            for t in [Timestamp(ts), Timestamp(near)] {
                prop_assert_eq!(t.to_rfc3339(), t.rfc3339_formatted());
            }
        }
    }
}
