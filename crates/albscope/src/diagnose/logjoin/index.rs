//! The index of the access log: every entry, by trace id Root, client and target endpoint.

use super::{trace_root, JoinOptions, LogJoinSummary, SPAN_MARGIN};
use crate::accesslog::LogEntry;
use crate::capture::{Duration, Timestamp};
use std::collections::HashMap;
use std::net::IpAddr;

pub(super) struct Indexed {
    pub(super) source: String,
    pub(super) entry: LogEntry,
    pub(super) used: bool,
}

/// The access log, indexed by trace id Root and by client endpoint, with the join state.
pub struct LogIndex {
    pub(super) opts: JoinOptions,
    pub(super) files: Vec<String>,
    pub(super) malformed: u64,
    pub(super) entries: Vec<Indexed>,
    pub(super) by_trace: HashMap<String, Vec<u32>>,
    pub(super) by_client: HashMap<(IpAddr, u16), Vec<u32>>,
    pub(super) by_target: HashMap<(IpAddr, u16), Vec<u32>>,
    /// Entries skipped because they lie far outside the known capture span.
    pub(super) skipped_outside: u64,
    /// Entries skipped past `max_entries`.
    pub(super) not_indexed: u64,
    pub(super) summary: LogJoinSummary,
    /// The log's clock against the capture's.
    pub(super) clock: super::clock::LogClock,
}

impl LogIndex {
    /// An empty index with these tolerances; `files` names the log inputs.
    pub fn new(opts: JoinOptions, files: Vec<String>) -> LogIndex {
        LogIndex {
            opts,
            files,
            malformed: 0,
            entries: Vec::new(),
            by_trace: HashMap::new(),
            by_client: HashMap::new(),
            by_target: HashMap::new(),
            skipped_outside: 0,
            not_indexed: 0,
            summary: LogJoinSummary::default(),
            clock: super::clock::LogClock::default(),
        }
    }

    /// Reads a whole [`crate::accesslog::LogReader`] stream into an index. Malformed lines are
    /// counted; an input that cannot be read is returned as the error (with its file name).
    pub fn from_reader(
        mut reader: crate::accesslog::LogReader,
        opts: JoinOptions,
    ) -> Result<LogIndex, String> {
        use crate::accesslog::LogRecord;
        let mut idx = LogIndex::new(opts, Vec::new());
        while let Some(rec) = reader.next() {
            match rec {
                LogRecord::Entry { pos, entry } => {
                    let src = format!("{}:{}", reader.file_name(pos.file), pos.line);
                    idx.add(src, *entry);
                }
                LogRecord::Malformed(_) => idx.malformed += 1,
                LogRecord::InputError { file, line, error } => {
                    return Err(if line == 0 {
                        format!("{file}: {error}")
                    } else {
                        format!("{file}:{line}: {error}")
                    })
                }
            }
        }
        idx.files = reader.file_names().to_vec();
        Ok(idx)
    }

    /// Adds one entry read at `source` (`file:line`).
    pub fn add(&mut self, source: String, mut entry: LogEntry) {
        if let Some((first, last)) = self.opts.capture_span {
            let margin = Duration(self.opts.time_tolerance.0.saturating_add(SPAN_MARGIN.0));
            let t = entry.request_creation_time.unwrap_or(entry.time);
            let from = first.plus(Duration(margin.0.saturating_neg()));
            let to = last.plus(margin);
            let near = |t: Timestamp| t >= from && t <= to;
            if !near(t) && !near(entry.time) {
                self.skipped_outside += 1;
                return;
            }
        }
        let i = match u32::try_from(self.entries.len()) {
            Ok(i) if self.entries.len() < self.opts.max_entries => i,
            _ => {
                self.not_indexed += 1;
                return;
            }
        };
        entry.raw = String::new();
        if let Some(root) = entry.trace_id.as_deref().and_then(trace_root) {
            self.by_trace.entry(root).or_default().push(i);
        }
        if let Ok(ip) = entry.client.ip.parse::<IpAddr>() {
            if let Some(port) = entry.client.port {
                self.by_client.entry((ip, port)).or_default().push(i);
            }
        }
        if let Some(key) = entry
            .target
            .as_ref()
            .and_then(|t| Some((t.ip.parse::<IpAddr>().ok()?, t.port?)))
        {
            self.by_target.entry(key).or_default().push(i);
        }
        self.entries.push(Indexed {
            source,
            entry,
            used: false,
        });
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Uses the log's clock offset measured in an earlier pass (against this pass's clock).
    pub fn set_clock_offset(&mut self, offset: super::clock::LogClockOffset) {
        self.clock.set_prior(offset);
    }

    /// Entry `i`'s `request_creation_time` as logged.
    pub(super) fn created(&self, i: u32) -> Option<Timestamp> {
        self.entries
            .get(i as usize)
            .and_then(|e| e.entry.request_creation_time)
    }
}
