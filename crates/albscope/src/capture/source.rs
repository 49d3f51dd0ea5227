//! Byte sources under the capture parser: counting the raw bytes read (for progress), reading in
//! full buffers (so short reads from gzip or pipes never look like the end of the file), and
//! remembering a read error so it can be reported as damage with file, packet and offset.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// State shared between an input's reader stack and the [`super::CaptureReader`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Raw (possibly compressed) bytes read from the underlying file so far.
    consumed: AtomicU64,
    /// The first read error met below the parser, if any.
    error: Mutex<Option<String>>,
}

impl Shared {
    /// Raw bytes read so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// The read error met, if any.
    pub(crate) fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Remembers a read error (the first one wins).
    pub(crate) fn set_error(&self, message: String) {
        if let Ok(mut slot) = self.error.lock() {
            if slot.is_none() {
                *slot = Some(message);
            }
        }
    }
}

/// Counts the bytes read from the raw source.
pub(crate) struct Counting<R> {
    inner: R,
    shared: Arc<Shared>,
}

impl<R> Counting<R> {
    /// Wraps `inner`, adding what is read to `shared`.
    pub(crate) fn new(inner: R, shared: Arc<Shared>) -> Self {
        Counting { inner, shared }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.shared.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Fills the whole buffer on every read unless the source ends. A read error is remembered in
/// [`Shared`] and turned into an end of file, so the parser sees a cut file and the reader can
/// name the error in the damage report.
pub(crate) struct Filling<R> {
    inner: R,
    shared: Arc<Shared>,
    failed: bool,
    label: &'static str,
}

impl<R> Filling<R> {
    /// Wraps `inner`; `label` prefixes error messages (e.g. `gzip stream: `).
    pub(crate) fn new(inner: R, shared: Arc<Shared>, label: &'static str) -> Self {
        Filling {
            inner,
            shared,
            failed: false,
            label,
        }
    }
}

impl<R: Read> Read for Filling<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut total = 0;
        while total < buf.len() && !self.failed {
            let Some(space) = buf.get_mut(total..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = true;
                    self.shared.set_error(format!("{}{e}", self.label));
                }
            }
        }
        Ok(total)
    }
}

/// Reads up to `limit` bytes from the start of `reader`. Returns the bytes and the error that
/// stopped reading early, if any.
pub(crate) fn read_prefix(reader: &mut dyn Read, limit: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut prefix = vec![0u8; limit];
    let mut total = 0;
    while total < limit {
        let Some(space) = prefix.get_mut(total..) else {
            break;
        };
        match reader.read(space) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                prefix.truncate(total);
                return (prefix, Some(e));
            }
        }
    }
    prefix.truncate(total);
    (prefix, None)
}
