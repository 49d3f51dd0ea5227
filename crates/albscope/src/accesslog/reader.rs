//! Streaming reader over many access-log inputs: files (plain or gzip, detected by magic bytes),
//! folders (recursive), and `-` for stdin. One line in memory at a time.

use super::{parse_line, LogEntry, LogParseError};
use flate2::read::MultiGzDecoder;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Longest line kept; a longer one is skipped to its end and reported as malformed.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Deepest folder nesting followed.
const MAX_DEPTH: usize = 32;

/// Where a line came from: index into [`LogReader::file_names`] and 1-based line number.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LinePos {
    /// Index of the input file.
    pub file: u32,
    /// 1-based line number within that (decompressed) file.
    pub line: u64,
}

/// A line that is not an access-log entry: file, line number and reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MalformedLine {
    /// File name as given (`-` for stdin).
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// Why it was rejected.
    pub error: LogParseError,
}

impl std::fmt::Display for MalformedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.error)
    }
}

/// One item of the stream.
#[derive(Debug)]
pub enum LogRecord {
    /// A parsed line.
    Entry {
        /// Where it was read.
        pos: LinePos,
        /// The entry.
        entry: Box<LogEntry>,
    },
    /// A line that could not be parsed (skipped, counted).
    Malformed(MalformedLine),
    /// A file that could not be opened, or failed mid-way (lines before the failure were read).
    InputError {
        /// File name as given.
        file: String,
        /// 1-based number of the line being read when it failed (0: could not open).
        line: u64,
        /// The error.
        error: io::Error,
    },
}

/// Counters over everything read so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReaderStats {
    /// Files opened (stdin counts as one).
    pub files_opened: u64,
    /// Files that could not be opened or broke off mid-way.
    pub files_failed: u64,
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Lines parsed into entries.
    pub entries: u64,
    /// Lines skipped as malformed.
    pub malformed: u64,
    /// Bytes of line text read (after decompression).
    pub bytes: u64,
}

enum Source {
    Stdin,
    Path(PathBuf),
}

struct Current {
    file: u32,
    name: String,
    line: u64,
    reader: Box<dyn BufRead>,
}

/// Streams [`LogRecord`]s from a list of inputs, one file after the other, in the order given
/// (folder contents sorted by name). Use it as an iterator.
pub struct LogReader {
    pending: std::vec::IntoIter<Source>,
    names: Vec<String>,
    current: Option<Current>,
    buf: Vec<u8>,
    stats: ReaderStats,
    problems: Vec<LogRecord>,
}

impl LogReader {
    /// Prepares to read `inputs`: files, folders (walked recursively for `*.log`, `*.gz`,
    /// `*.txt`, hidden names skipped) and `-` (stdin). Paths that do not exist are reported as
    /// [`LogRecord::InputError`] when the stream reaches them; nothing is opened yet.
    pub fn new<P: AsRef<Path>>(inputs: &[P]) -> LogReader {
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        for input in inputs {
            let p = input.as_ref();
            if p.as_os_str() == "-" {
                sources.push(Source::Stdin);
            } else if p.is_dir() {
                let mut found = Vec::new();
                if let Err(error) = walk(p, 0, &mut found) {
                    problems.push(LogRecord::InputError {
                        file: p.display().to_string(),
                        line: 0,
                        error,
                    });
                }
                found.sort();
                sources.extend(found.into_iter().map(Source::Path));
            } else {
                sources.push(Source::Path(p.to_path_buf()));
            }
        }
        let stats = ReaderStats {
            files_failed: problems.len() as u64,
            ..ReaderStats::default()
        };
        LogReader {
            pending: sources.into_iter(),
            names: Vec::new(),
            current: None,
            buf: Vec::with_capacity(1024),
            stats,
            problems,
        }
    }

    /// Reads from any [`BufRead`] (gzip detected), named `name` in messages. For tests and for
    /// callers that already hold a stream.
    pub fn from_reader(name: &str, reader: Box<dyn BufRead>) -> LogReader {
        let mut r = LogReader::new::<&Path>(&[]);
        match open_stream(reader) {
            Ok(reader) => {
                r.names.push(name.to_string());
                r.stats.files_opened += 1;
                r.current = Some(Current {
                    file: 0,
                    name: name.to_string(),
                    line: 0,
                    reader,
                });
            }
            Err(error) => {
                r.stats.files_failed += 1;
                r.problems.push(LogRecord::InputError {
                    file: name.to_string(),
                    line: 0,
                    error,
                });
            }
        }
        r
    }

    /// Names of the files opened so far, indexed by [`LinePos::file`].
    pub fn file_names(&self) -> &[String] {
        &self.names
    }

    /// Name of file `index` (`?` when unknown).
    pub fn file_name(&self, index: u32) -> &str {
        self.names
            .get(index as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }

    /// Counters so far (final once the iterator is exhausted).
    pub fn stats(&self) -> &ReaderStats {
        &self.stats
    }

    fn open_next(&mut self) -> Option<LogRecord> {
        let source = self.pending.next()?;
        let (name, opened) = match source {
            Source::Stdin => (
                "-".to_string(),
                open_stream(Box::new(BufReader::with_capacity(
                    64 * 1024,
                    io::stdin().lock(),
                ))),
            ),
            Source::Path(p) => {
                let name = p.display().to_string();
                let opened = File::open(&p)
                    .and_then(|f| open_stream(Box::new(BufReader::with_capacity(64 * 1024, f))));
                (name, opened)
            }
        };
        match opened {
            Ok(reader) => {
                let file = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
                self.names.push(name.clone());
                self.stats.files_opened += 1;
                self.current = Some(Current {
                    file,
                    name,
                    line: 0,
                    reader,
                });
                None
            }
            Err(error) => {
                self.stats.files_failed += 1;
                Some(LogRecord::InputError {
                    file: name,
                    line: 0,
                    error,
                })
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = LogRecord;

    fn next(&mut self) -> Option<LogRecord> {
        if let Some(p) = self.problems.pop() {
            return Some(p);
        }
        loop {
            let Some(cur) = self.current.as_mut() else {
                if let Some(problem) = self.open_next() {
                    return Some(problem);
                }
                // open_next returned None without opening a file: nothing is pending.
                self.current.as_ref()?;
                continue;
            };
            self.buf.clear();
            match read_line_capped(cur.reader.as_mut(), &mut self.buf, MAX_LINE_BYTES) {
                Ok(LineRead::Eof) => {
                    self.current = None;
                }
                Err(error) => {
                    let rec = LogRecord::InputError {
                        file: cur.name.clone(),
                        line: cur.line + 1,
                        error,
                    };
                    self.stats.files_failed += 1;
                    self.current = None;
                    return Some(rec);
                }
                Ok(LineRead::TooLong(n)) => {
                    cur.line += 1;
                    self.stats.lines += 1;
                    self.stats.malformed += 1;
                    self.stats.bytes += n;
                    return Some(LogRecord::Malformed(MalformedLine {
                        file: cur.name.clone(),
                        line: cur.line,
                        error: LogParseError {
                            field: None,
                            field_index: None,
                            reason: format!("line of {n} bytes, longer than {MAX_LINE_BYTES}"),
                        },
                    }));
                }
                Ok(LineRead::Line) => {
                    cur.line += 1;
                    self.stats.lines += 1;
                    self.stats.bytes += self.buf.len() as u64;
                    let text = String::from_utf8_lossy(&self.buf);
                    let trimmed = text.trim_end_matches(['\n', '\r']);
                    if trimmed.trim().is_empty() {
                        continue;
                    }
                    return Some(match parse_line(trimmed) {
                        Ok(entry) => {
                            self.stats.entries += 1;
                            LogRecord::Entry {
                                pos: LinePos {
                                    file: cur.file,
                                    line: cur.line,
                                },
                                entry: Box::new(entry),
                            }
                        }
                        Err(error) => {
                            self.stats.malformed += 1;
                            LogRecord::Malformed(MalformedLine {
                                file: cur.name.clone(),
                                line: cur.line,
                                error,
                            })
                        }
                    });
                }
            }
        }
    }
}

/// Wraps a stream in a gzip decoder when it starts with the gzip magic bytes `1f 8b`.
fn open_stream(mut reader: Box<dyn BufRead>) -> io::Result<Box<dyn BufRead>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            64 * 1024,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(reader)
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        // file_type() does not follow symlinks: symlinked folders are not walked (no loops).
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            walk(&path, depth + 1, out)?;
        } else if name.ends_with(".log") || name.ends_with(".gz") || name.ends_with(".txt") {
            out.push(path);
        }
    }
    Ok(())
}

enum LineRead {
    Eof,
    Line,
    /// The line was longer than the cap; this many bytes were skipped.
    TooLong(u64),
}

/// Reads up to and including the next `\n` into `buf`, keeping at most `cap` bytes; a longer
/// line is consumed to its end and reported as [`LineRead::TooLong`].
fn read_line_capped(r: &mut dyn BufRead, buf: &mut Vec<u8>, cap: usize) -> io::Result<LineRead> {
    let mut total: u64 = 0;
    let mut too_long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if total == 0 {
                LineRead::Eof
            } else if too_long {
                LineRead::TooLong(total)
            } else {
                LineRead::Line
            });
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            if buf.len() + take > cap {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
            }
        }
        total += take as u64;
        r.consume(take);
        if done {
            return Ok(if too_long {
                LineRead::TooLong(total)
            } else {
                LineRead::Line
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn capped_reader_skips_long_lines_and_keeps_counting() {
        let data = format!("short\n{}\nnext", "x".repeat(100));
        let mut r = BufReader::with_capacity(16, Cursor::new(data.into_bytes()));
        let mut buf = Vec::new();
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 50).unwrap(),
            LineRead::Line
        ));
        assert_eq!(buf, b"short\n");
        buf.clear();
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 50).unwrap(),
            LineRead::TooLong(101)
        ));
        buf.clear();
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 50).unwrap(),
            LineRead::Line
        ));
        assert_eq!(buf, b"next");
        buf.clear();
        assert!(matches!(
            read_line_capped(&mut r, &mut buf, 50).unwrap(),
            LineRead::Eof
        ));
    }
}
