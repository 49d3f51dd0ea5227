//! Opening inputs (files, stdin, in-memory readers; plain or gzip) and merging their packets in
//! timestamp order.

use super::blocks;
use super::ends::InputEnds;
use super::input::{FileInput, OpenError, Stream, INITIAL_BUFFER};
use super::sniff::{self, Magic};
use super::source::{read_prefix, Counting, Filling, Shared};
use super::{CaptureError, Duration, PacketRef, Timestamp};
use flate2::read::MultiGzDecoder;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `ts` corrected for a clock `ahead` of the others.
fn shift(ts: Timestamp, ahead: Duration) -> Timestamp {
    Timestamp(ts.0.saturating_sub(ahead.0))
}

/// Bytes looked at to recognise a file.
const SNIFF_LEN: usize = 512;

/// What was read from one input file, for the report's "inputs" section.
#[derive(Clone, Debug, Default)]
pub struct InputSummary {
    /// The path as given (`-` for stdin).
    pub file: String,
    /// `pcap`, `pcap-ns` or `pcapng`, with `+gzip` when compressed; `unreadable` when the input
    /// could not be opened as a capture (then `damage` says why).
    pub format: String,
    /// Packets read.
    pub packets: u64,
    /// Bytes of capture read (decompressed).
    pub bytes: u64,
    /// Set when the file stopped early; the message names packet and offset.
    pub damage: Option<String>,
    /// Packets whose timestamp ran backwards by more than a second, was implausible or
    /// overflowed: their time was replaced by the file's latest good one (or they were left
    /// out before any). Absent when 0.
    pub time_anomalies: u64,
    /// The first such packet (number, what was wrong, what was done). Absent when none.
    pub time_note: Option<String>,
}

/// How long opening a FIFO (or another non-regular input) may wait for a writer before the input
/// is reported as unreadable and the others are analysed.
pub const STREAM_OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where an input's bytes come from.
enum Origin {
    Path(PathBuf),
    Stdin,
    Reader(Box<dyn Read + Send>),
}

/// One input as given on the command line, open or not.
struct Input {
    name: String,
    format: String,
    size: Option<u64>,
    shared: Arc<Shared>,
    file: Option<FileInput>,
    damage: Option<String>,
    /// How far this input's clock is ahead of the others': subtracted from its timestamps
    /// before the merge (see [`CaptureReader::set_clock_offset`]).
    ahead: Duration,
    /// Its first packet's time as read (before `ahead`), `None` when it has none.
    first: Option<Timestamp>,
    /// Its latest packet's corrected time so far (the last one once it ended).
    latest: Option<Timestamp>,
    /// The longest time between two of its consecutive packets so far.
    longest_silence: Duration,
}

/// Reads one or more capture files and yields their packets merged in timestamp order.
///
/// Each input keeps its next packet parsed in its own read buffer; the earliest of these is
/// handed out (ties go to the input given first). Packets of one input are always handed out in
/// file order. Damage stops only the damaged input (see [`CaptureReader::problems`]).
pub struct CaptureReader {
    inputs: Vec<Input>,
    heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    last: Option<usize>,
    problems: Vec<CaptureError>,
    /// Some input holds TLS key logs not yet taken.
    key_logs_waiting: bool,
    /// Each input's end, set when it has no more packets ([`CaptureReader::input_ends`]).
    ends: InputEnds,
}

impl CaptureReader {
    /// Opens every input (`-` is stdin). Fails only when no input can be opened as a capture;
    /// otherwise inputs that could not be opened are listed in [`CaptureReader::problems`].
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Self, CaptureError> {
        let origins = paths
            .iter()
            .map(|p| {
                let p = p.as_ref();
                let name = p.display().to_string();
                if p.as_os_str() == "-" {
                    (name, Origin::Stdin)
                } else {
                    (name, Origin::Path(p.to_path_buf()))
                }
            })
            .collect();
        Self::open_origins(origins)
    }

    /// Opens files under other names: each `(name, path)` is read from `path` and called `name`
    /// in messages and summaries (e.g. stdin spooled to a temporary file, still called `-`).
    pub fn open_named(inputs: &[(String, PathBuf)]) -> Result<Self, CaptureError> {
        let origins = inputs
            .iter()
            .map(|(name, path)| {
                if path.as_os_str() == "-" {
                    (name.clone(), Origin::Stdin)
                } else {
                    (name.clone(), Origin::Path(path.clone()))
                }
            })
            .collect();
        Self::open_origins(origins)
    }

    /// Reads one capture from any byte source (stdin, memory, a socket); `name` names it in
    /// messages. Plain or gzip-compressed, like a file.
    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        Self::from_readers(vec![(name.to_string(), reader)])
    }

    /// Reads several captures from byte sources, merged in timestamp order like files.
    pub fn from_readers(
        readers: Vec<(String, Box<dyn Read + Send>)>,
    ) -> Result<Self, CaptureError> {
        let origins = readers
            .into_iter()
            .map(|(name, r)| (name, Origin::Reader(r)))
            .collect();
        Self::open_origins(origins)
    }

    fn open_origins(origins: Vec<(String, Origin)>) -> Result<Self, CaptureError> {
        let mut reader = CaptureReader {
            inputs: Vec::with_capacity(origins.len()),
            heap: BinaryHeap::new(),
            last: None,
            problems: Vec::new(),
            key_logs_waiting: false,
            ends: InputEnds::new(origins.len()),
        };
        let mut first_error = None;
        let mut any_open = false;
        for (index, (name, origin)) in origins.into_iter().enumerate() {
            let shared = Arc::new(Shared::default());
            let mut input = Input {
                name: name.clone(),
                format: "unreadable".to_string(),
                size: None,
                shared: shared.clone(),
                file: None,
                damage: None,
                ahead: Duration(0),
                first: None,
                latest: None,
                longest_silence: Duration(0),
            };
            let opened = if index > usize::from(u16::MAX) {
                Err(CaptureError::Io {
                    file: PathBuf::from(&name),
                    source: std::io::Error::other("too many inputs (at most 65536)"),
                })
            } else {
                open_one(&name, origin, shared, &mut input.size)
            };
            match opened {
                Ok((file, format)) => {
                    any_open = true;
                    input.format = format;
                    input.file = Some(file);
                }
                Err(e) => {
                    input.damage = Some(e.to_string());
                    if first_error.is_none() {
                        first_error = Some(e);
                    } else {
                        reader.problems.push(e);
                    }
                }
            }
            reader.inputs.push(input);
        }
        if !any_open {
            return Err(first_error.unwrap_or_else(|| CaptureError::NotACapture {
                file: PathBuf::from("(no input)"),
                looks_like: "nothing: no input was given".to_string(),
            }));
        }
        if let Some(e) = first_error {
            reader.problems.insert(0, e);
        }
        for i in 0..reader.inputs.len() {
            reader.advance(i);
            if let Some(input) = reader.inputs.get_mut(i) {
                input.first = input
                    .file
                    .as_ref()
                    .and_then(FileInput::pending)
                    .map(|p| p.ts);
            }
        }
        Ok(reader)
    }

    /// Parses input `i`'s next packet and queues it, or closes the input at its end or damage.
    fn advance(&mut self, i: usize) {
        if let Some(ts) = self.parse_next(i) {
            self.heap.push(Reverse((ts, i)));
        }
    }

    /// Parses input `i`'s next packet; its corrected time, or `None` when the input ended or
    /// is damaged (then closed).
    #[inline]
    fn parse_next(&mut self, i: usize) -> Option<Timestamp> {
        let input = self.inputs.get_mut(i)?;
        let Some(file) = input.file.as_mut() else {
            self.ends.set(i, None);
            return None;
        };
        if !file.is_open() {
            return None;
        }
        let result = file.advance();
        self.key_logs_waiting |= !file.tls_key_logs.is_empty();
        match result {
            Ok(true) => {
                let ts = file.pending().map(|p| shift(p.ts, input.ahead));
                if let (Some(t), Some(l)) = (ts, input.latest) {
                    input.longest_silence = input.longest_silence.max(t.since(l));
                }
                input.latest = ts.or(input.latest);
                return ts;
            }
            Ok(false) => file.close(),
            Err(e) => {
                input.damage = Some(e.to_string());
                file.close();
                self.problems.push(e);
            }
        }
        // No more packets: the input ended with its latest one (or when its interface
        // statistics say the recording ended, if later), told before any later packet is
        // handed out.
        let stats_end = file.stats_end.map(|t| shift(t, input.ahead));
        let end = match (input.latest, stats_end) {
            (Some(l), Some(s)) => Some(l.max(s)),
            (l, _) => l,
        };
        self.ends.set_silence(i, input.longest_silence);
        self.ends.set(i, end);
        None
    }

    /// Hands the reading of the classic pcap inputs (the file reads, with their kernel copy,
    /// and any decompression) to the caller's thread: it calls [`blocks::ReadAhead::top_up`]
    /// now and then, while this reader parses their records in place in the blocks read.
    /// Only regular files are handed over (a read from a pipe may wait for its writer, and
    /// the caller's thread must not). `None` when no input can be (pcapng, for one).
    pub(crate) fn hand_over_reading(&mut self) -> Option<blocks::ReadAhead> {
        let mut which = Vec::new();
        let mut files = Vec::new();
        for (i, input) in self.inputs.iter_mut().enumerate() {
            if input.size.is_none() {
                continue;
            }
            if let Some(handed) = input
                .file
                .as_mut()
                .filter(|f| f.is_open())
                .and_then(FileInput::hand_over)
            {
                which.push(i);
                files.push(handed);
            }
        }
        if files.is_empty() {
            return None;
        }
        let (read_ahead, parsers) = blocks::hand_over(files);
        for (i, parser) in which.into_iter().zip(parsers) {
            if let Some(file) = self.inputs.get_mut(i).and_then(|x| x.file.as_mut()) {
                file.take_blocks(parser);
            }
        }
        Some(read_ahead)
    }

    /// The next packet in timestamp order across all inputs, or `None` at the end of all inputs.
    pub fn next_packet(&mut self) -> Option<PacketRef<'_>> {
        let next = match self.last.take() {
            Some(i) => {
                if let Some(file) = self.inputs.get_mut(i).and_then(|x| x.file.as_mut()) {
                    file.consume_pending();
                }
                if self.heap.is_empty() {
                    // Every other input ended (an open one always has its next packet queued):
                    // input `i` needs no merge, nor the queue.
                    self.parse_next(i).map(|ts| (ts, i))
                } else {
                    self.advance(i);
                    self.heap.pop().map(|Reverse(next)| next)
                }
            }
            None => self.heap.pop().map(|Reverse(next)| next),
        };
        let (ts, i) = next?;
        self.last = Some(i);
        let mut p = self
            .inputs
            .get(i)?
            .file
            .as_ref()?
            .packet_ref(u16::try_from(i).unwrap_or(u16::MAX))?;
        p.ts = ts;
        Some(p)
    }

    /// Corrects input `file`'s clock: it is `ahead` of the others' (negative: behind), so
    /// `ahead` is subtracted from each of its timestamps before the inputs are merged. Every
    /// later layer (ordering, timers, pairing, the report) then sees the corrected time; the
    /// packet positions ([`super::PacketPos`]) still name the packets in the file as recorded.
    /// Call before reading the first packet; an unknown `file` is ignored.
    pub fn set_clock_offset(&mut self, file: usize, ahead: Duration) {
        let Some(input) = self.inputs.get_mut(file) else {
            return;
        };
        input.ahead = ahead;
        input.latest = input.first.map(|t| shift(t, ahead));
        // Re-queue the packets already parsed at open with their corrected times.
        let heap = std::mem::take(&mut self.heap);
        for Reverse((_, i)) in heap {
            if let Some(p) = self
                .inputs
                .get(i)
                .and_then(|x| x.file.as_ref())
                .and_then(FileInput::pending)
            {
                let ahead = self.inputs.get(i).map_or(Duration(0), |x| x.ahead);
                self.heap.push(Reverse((shift(p.ts, ahead), i)));
            }
        }
    }

    /// Whether TLS key logs from Decryption Secrets Blocks wait to be taken (those before the
    /// first packet are read when the inputs open).
    pub fn has_tls_key_logs(&self) -> bool {
        self.key_logs_waiting
    }

    /// TLS key logs (NSS key log text) from pcapng Decryption Secrets Blocks read since the
    /// last call, each with the name of the input that carried it. Blocks are read as the
    /// packets around them are, so call this before each [`CaptureReader::next_packet`].
    pub fn take_tls_key_logs(&mut self) -> Vec<(String, Vec<u8>)> {
        if !self.key_logs_waiting {
            return Vec::new();
        }
        self.key_logs_waiting = false;
        let mut out = Vec::new();
        for input in &mut self.inputs {
            if let Some(file) = input.file.as_mut() {
                for text in file.tls_key_logs.drain(..) {
                    out.push((input.name.clone(), text));
                }
            }
        }
        out
    }

    /// Each input's first packet time (its clock corrected as set by
    /// [`CaptureReader::set_clock_offset`]; `None` for an input without packets), indexed by
    /// [`super::PacketPos::file`]: from then on what that input shows is captured.
    pub fn input_starts(&self) -> Vec<Option<Timestamp>> {
        self.inputs
            .iter()
            .map(|i| i.first.map(|t| shift(t, i.ahead)))
            .collect()
    }

    /// Each input's end (its last packet's corrected time), set as the reader finds it, before
    /// it hands out any later packet: a handle to keep (and read on another thread) while the
    /// inputs are read.
    pub fn input_ends(&self) -> InputEnds {
        self.ends.clone()
    }

    /// Names of the input files, indexed by [`super::PacketPos::file`].
    pub fn file_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }

    /// Problems met so far: inputs that could not be opened, and damage (one entry per damaged
    /// file); reading went on past each.
    pub fn problems(&self) -> &[CaptureError] {
        &self.problems
    }

    /// Per-input statistics so far, one per input in the order given.
    pub fn summaries(&self) -> Vec<InputSummary> {
        self.inputs
            .iter()
            .map(|i| InputSummary {
                file: i.name.clone(),
                format: i.format.clone(),
                packets: i.file.as_ref().map_or(0, |f| f.yielded()),
                bytes: i.file.as_ref().map_or(0, |f| f.bytes()),
                damage: i.damage.clone(),
                time_anomalies: i.file.as_ref().map_or(0, |f| f.times.count),
                time_note: i.file.as_ref().and_then(|f| {
                    f.times.first.as_ref().map(|first| {
                        let more = f.times.count.saturating_sub(1);
                        if more == 0 {
                            format!("{} {first}", i.name)
                        } else {
                            format!("{} {first} (and {more} more in this file)", i.name)
                        }
                    })
                }),
            })
            .collect()
    }

    /// Bytes consumed so far across inputs (compressed size where compressed), for progress.
    pub fn bytes_consumed(&self) -> u64 {
        self.inputs.iter().map(|i| i.shared.consumed()).sum()
    }

    /// Total size on disk of the inputs being read, when all are known (not for stdin, pipes or
    /// readers), for progress. Inputs that could not be opened do not count.
    pub fn total_bytes(&self) -> Option<u64> {
        self.inputs
            .iter()
            .filter(|i| i.file.is_some())
            .map(|i| i.size)
            .sum()
    }
}

/// Opens one input: raw source, gzip detection, capture detection, header.
fn open_one(
    name: &str,
    origin: Origin,
    shared: Arc<Shared>,
    size: &mut Option<u64>,
) -> Result<(FileInput, String), CaptureError> {
    let file = PathBuf::from(name);
    let io_err = |source| CaptureError::Io {
        file: file.clone(),
        source,
    };
    let raw: Box<dyn Read + Send> = match origin {
        Origin::Path(path) => {
            let f = open_file(&path).map_err(io_err)?;
            let meta = f.metadata().map_err(io_err)?;
            if meta.is_dir() {
                return Err(io_err(std::io::Error::other("is a directory")));
            }
            // Pipes and devices have no meaningful size.
            *size = meta.is_file().then_some(meta.len());
            Box::new(f)
        }
        Origin::Stdin => Box::new(std::io::stdin()),
        Origin::Reader(r) => r,
    };
    let mut raw = Counting::new(raw, shared.clone());
    let (prefix, err) = read_prefix(&mut raw, SNIFF_LEN);
    if let Some(e) = err {
        if prefix.is_empty() {
            return Err(io_err(e));
        }
        shared.set_error(e.to_string());
    }
    let gzip = sniff::is_gzip(&prefix);
    let zstd = !gzip && sniff::is_zstd(&prefix);
    let (prefix, rest): (Vec<u8>, Box<dyn Read + Send>) = if zstd {
        let mut decoder: Box<dyn Read + Send> =
            Box::new(ZstdFrames::new(Box::new(Cursor::new(prefix).chain(raw))));
        let (inner, err) = read_prefix(&mut decoder, SNIFF_LEN);
        match err {
            Some(e) if inner.is_empty() => {
                return Err(CaptureError::NotACapture {
                    file,
                    looks_like: format!("zstd data that cannot be decompressed ({e})"),
                })
            }
            Some(e) => {
                shared.set_error(format!("zstd stream: {e}"));
                (inner, Box::new(std::io::empty()))
            }
            None => (inner, decoder),
        }
    } else if gzip {
        let mut decoder: Box<dyn Read + Send> =
            Box::new(MultiGzDecoder::new(Cursor::new(prefix).chain(raw)));
        let (inner, err) = read_prefix(&mut decoder, SNIFF_LEN);
        match err {
            Some(e) if inner.is_empty() => {
                return Err(CaptureError::NotACapture {
                    file,
                    looks_like: format!("gzip data that cannot be decompressed ({e})"),
                })
            }
            Some(e) => {
                shared.set_error(format!("gzip stream: {e}"));
                (inner, Box::new(std::io::empty()))
            }
            None => (inner, decoder),
        }
    } else {
        (prefix, Box::new(raw))
    };
    let magic = sniff::magic(&prefix);
    if magic == Magic::Other {
        return Err(CaptureError::NotACapture {
            file,
            looks_like: sniff::describe(&prefix, gzip, zstd),
        });
    }
    let damaged = |reason: String| CaptureError::Damaged {
        file: file.clone(),
        packet: 1,
        offset: 0,
        reason,
    };
    let have = prefix.len();
    // A stream that ended inside the sniffed prefix is tiny: start with a small buffer.
    let initial = if have < SNIFF_LEN {
        4096
    } else {
        INITIAL_BUFFER
    };
    let shb_len = if prefix.get(8..12) == Some(&[0x4d, 0x3c, 0x2b, 0x1a]) {
        prefix
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    } else {
        prefix
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    };
    let label = if gzip {
        "gzip stream: "
    } else if zstd {
        "zstd stream: "
    } else {
        ""
    };
    let stream: Stream = Filling::new(
        Box::new(Cursor::new(prefix).chain(rest)),
        shared.clone(),
        label,
    );
    let suffix = if gzip {
        "+gzip"
    } else if zstd {
        "+zstd"
    } else {
        ""
    };
    let result = match magic {
        Magic::Pcap => {
            if have < sniff::PCAP_HEADER_LEN {
                return Err(damaged(format!(
                    "the file ends inside the 24-byte pcap file header ({have} bytes present)"
                )));
            }
            FileInput::open_pcap(name, stream, shared, initial)
                .map(|(f, fmt)| (f, format!("{fmt}{suffix}")))
        }
        _ => FileInput::open_pcapng(name, stream, shared, shb_len, initial)
            .map(|f| (f, format!("pcapng{suffix}"))),
    };
    result.map_err(|OpenError::Damaged(reason)| damaged(reason))
}

/// Opens a file for reading. A FIFO or device is opened on another thread and waited on for at
/// most [`STREAM_OPEN_WAIT`] (opening a FIFO blocks until a writer comes), so that a FIFO nobody
/// writes to is reported instead of hanging the run.
fn open_file(path: &Path) -> std::io::Result<std::fs::File> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() || meta.is_dir() {
        return std::fs::File::open(path);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::File::open(owned));
    });
    match rx.recv_timeout(STREAM_OPEN_WAIT) {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "not a regular file and nothing wrote to it within {} s (a FIFO without a writer?)",
                STREAM_OPEN_WAIT.as_secs()
            ),
        )),
    }
}

/// Decompresses a zstd stream of one or more frames (as `zstd` writes and `cat` joins them).
struct ZstdFrames {
    /// The current frame's decoder; `None` before the first frame and after the last.
    decoder: Option<
        ruzstd::decoding::StreamingDecoder<
            BufReader<Box<dyn Read + Send>>,
            ruzstd::decoding::FrameDecoder,
        >,
    >,
    /// The source between frames.
    source: Option<BufReader<Box<dyn Read + Send>>>,
}

impl ZstdFrames {
    fn new(source: Box<dyn Read + Send>) -> Self {
        ZstdFrames {
            decoder: None,
            source: Some(BufReader::new(source)),
        }
    }
}

impl Read for ZstdFrames {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(decoder) = self.decoder.as_mut() {
                let n = decoder.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                // This frame is done: the next one, if any bytes follow.
                self.source = self.decoder.take().map(|d| d.into_inner());
            }
            let Some(mut source) = self.source.take() else {
                return Ok(0);
            };
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let decoder = ruzstd::decoding::StreamingDecoder::new(source)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            self.decoder = Some(decoder);
        }
    }
}
