//! Reading and merging capture files. (Placeholder: implemented by the capture work item.)

use super::{CaptureError, PacketRef};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What was read from one input file, for the report's "inputs" section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InputSummary {
    /// The path as given (`-` for stdin).
    pub file: String,
    /// `pcap`, `pcapng`, with `+gzip` when compressed.
    pub format: String,
    /// Packets read.
    pub packets: u64,
    /// Bytes of capture read (decompressed).
    pub bytes: u64,
    /// Set when the file stopped early; the message names packet and offset.
    pub damage: Option<String>,
}

/// Reads one or more capture files and yields their packets merged in timestamp order.
pub struct CaptureReader {
    files: Vec<PathBuf>,
}

impl CaptureReader {
    /// Opens every input (`-` is stdin). Fails only when no input can be opened as a capture.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Self, CaptureError> {
        Ok(CaptureReader {
            files: paths.iter().map(|p| p.as_ref().to_path_buf()).collect(),
        })
    }

    /// The next packet in timestamp order across all inputs, or `None` at the end of all inputs.
    pub fn next_packet(&mut self) -> Option<PacketRef<'_>> {
        None
    }

    /// Names of the input files, indexed by [`super::PacketPos::file`].
    pub fn file_names(&self) -> Vec<String> {
        self.files.iter().map(|p| p.display().to_string()).collect()
    }

    /// Damage met so far (one entry per damaged file); reading went on past each.
    pub fn problems(&self) -> &[CaptureError] {
        &[]
    }

    /// Per-input statistics so far.
    pub fn summaries(&self) -> Vec<InputSummary> {
        Vec::new()
    }

    /// Bytes consumed so far across inputs (compressed size where compressed), for progress.
    pub fn bytes_consumed(&self) -> u64 {
        0
    }

    /// Total size of the inputs on disk when known (not for stdin), for progress.
    pub fn total_bytes(&self) -> Option<u64> {
        None
    }
}
