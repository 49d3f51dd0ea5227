//! Errors of the capture layer: each names the file and, for damage, the packet and offset.

use std::fmt;
use std::path::PathBuf;

/// What went wrong reading a capture file.
#[derive(Debug)]
pub enum CaptureError {
    /// The file could not be opened or read.
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a pcap or pcapng capture; `looks_like` says what it seems to be instead.
    NotACapture {
        /// The file.
        file: PathBuf,
        /// A short description of what the bytes look like (text, an ALB access log, gzip, empty ...).
        looks_like: String,
    },
    /// The file is a capture but is damaged from `offset` on; packets before it were read.
    Damaged {
        /// The file.
        file: PathBuf,
        /// 1-based number of the packet that could not be read.
        packet: u64,
        /// Byte offset (in the decompressed file) where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io { file, source } => write!(f, "{}: {source}", file.display()),
            CaptureError::NotACapture { file, looks_like } => write!(
                f,
                "{}: not a pcap or pcapng capture (it looks like {looks_like})",
                file.display()
            ),
            CaptureError::Damaged { file, packet, offset, reason } => write!(
                f,
                "{}: packet {packet} at byte offset {offset}: {reason}; the packets before it were analysed",
                file.display()
            ),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
