//! Clock offsets between input files: what the analysis reports about them
//! ([`clock_offsets`]), and the two-pass analysis of several files that estimates and applies
//! them ([`analyze_files`]).
//!
//! Where the offset is applied: in the capture reader, to each packet's timestamp of the file
//! before the files are merged ([`CaptureReader::set_clock_offset`]), so that ordering, flow
//! and protocol timing, the ALB timers and pairing all see one clock. The estimate needs the
//! linked requests of a whole pass, so a disagreeing set of files is read twice (the cost:
//! one more read and analysis of every file; files that agree within [`CLOCK_REPORT_MIN`] are
//! read once when no access log is joined). With an access log, several files are always read
//! twice: the first pass also measures the log's clock against the corrected capture clock
//! ([`LogClockProbe`]), which the joining pass then applies to the log's times. A stream (stdin, a FIFO) cannot be read again:
//! with one among the inputs (`rereadable` false) the estimate is reported, not applied (the
//! report says to give `--time-offset`); the CLI copies streams to temporary files only where
//! it reads them twice anyway (with `--access-log`).

use super::logjoin::clock::LogClockProbe;
use super::logjoin::LogIndex;
use super::{analyze_capture_probing, Analysis, ClockOffset, Keep};
use crate::alb::{AlbConfig, ClockEstimate, FileOffset, Knowledge, OffsetSource};
use crate::capture::{CaptureError, CaptureReader, Duration};
use crate::pipeline::PipelineConfig;
use std::path::PathBuf;

/// Analyses the files `named` (`(name, path)`, as [`CaptureReader::open_named`]) together,
/// their clocks corrected by `alb.clock_offsets` (given) and, for files without one, by the
/// offsets the linked requests of a first pass show (only when `rereadable`: every input can be
/// opened again). `keep` is called for each pass.
pub fn analyze_files(
    named: &[(String, PathBuf)],
    rereadable: bool,
    pipeline: &PipelineConfig,
    mut alb: AlbConfig,
    keep: impl Fn() -> Keep,
    log: Option<LogIndex>,
) -> Result<Analysis, CaptureError> {
    let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
    let analyze = |alb: AlbConfig,
                   log: Option<LogIndex>,
                   probe: Option<LogClockProbe>|
     -> Result<(Analysis, Option<LogClockProbe>), CaptureError> {
        let mut reader = CaptureReader::open_named(named)?;
        for o in &alb.clock_offsets {
            reader.set_clock_offset(usize::from(o.file), o.ahead);
        }
        Ok(analyze_capture_probing(
            &mut reader,
            pipeline,
            alb,
            keep(),
            log,
            probe,
        ))
    };
    let estimate = rereadable && names.len() > 1 && alb.clock_offsets.len() + 1 < names.len();
    // With an access log, several files are read twice also when every offset is given: the
    // log's clock is measured against theirs first.
    let probe_log = rereadable && names.len() > 1 && log.is_some();
    if !estimate && !probe_log {
        return Ok(analyze(alb, log, None)?.0);
    }
    // The first pass also measures the access log's clock, so that the joining pass compares
    // its times on the capture's clock from its first request on.
    let probe = log.as_ref().map(LogClockProbe::new);
    let (first, probe) = analyze(alb.clone(), None, probe)?;
    let estimated: Vec<FileOffset> = first
        .clock_offsets
        .iter()
        .filter(|c| !c.applied && c.requests > 0)
        .filter_map(|c| {
            let file = names.iter().position(|n| *n == c.file)?;
            let reference = names.iter().position(|n| Some(n) == c.reference.as_ref())?;
            Some(FileOffset {
                file: u16::try_from(file).ok()?,
                ahead: c.ahead,
                source: OffsetSource::Estimated {
                    reference: u16::try_from(reference).ok()?,
                    requests: c.requests,
                },
            })
        })
        .collect();
    if estimated.is_empty() && log.is_none() {
        return Ok(first);
    }
    let mut log = log;
    if let (Some(log), Some(probe)) = (&mut log, probe) {
        // The joining pass takes the estimated offsets off their files' timestamps too.
        let later = |file: u16| {
            estimated
                .iter()
                .find(|o| o.file == file)
                .map_or(Duration(0), |o| o.ahead)
        };
        if let Some(offset) = probe.offset(later) {
            log.set_clock_offset(offset);
        }
    }
    alb.clock_offsets.extend(estimated);
    Ok(analyze(alb, log, None)?.0)
}

/// Each input file's clock offset: the one applied before the analysis (given or estimated in
/// an earlier pass) plus what the linked requests still show, or what they show when nothing
/// was applied.
pub fn clock_offsets(known: &Knowledge, files: &[String]) -> Vec<ClockOffset> {
    let name = |i: u16| {
        files
            .get(usize::from(i))
            .cloned()
            .unwrap_or_else(|| format!("file {i}"))
    };
    let mut out: Vec<ClockOffset> = Vec::new();
    let estimates = one_clock_per_recording(known, files);
    for applied in &known.config.clock_offsets {
        let residual = estimates
            .iter()
            .find(|e| e.file == applied.file)
            .map_or(0, |e| e.ahead.0);
        let (reference, requests) = match applied.source {
            OffsetSource::Given => (None, 0),
            OffsetSource::Estimated {
                reference,
                requests,
            } => (Some(name(reference)), requests),
        };
        let residual = if residual.unsigned_abs() < CLOCK_REPORT_MIN.0.unsigned_abs() {
            0
        } else {
            residual
        };
        out.push(ClockOffset {
            file: name(applied.file),
            ahead: applied.ahead,
            reference,
            requests,
            applied: true,
            residual: Duration(residual),
        });
    }
    for e in &estimates {
        if known.config.clock_offsets.iter().any(|a| a.file == e.file) {
            continue;
        }
        // Within the pairing tolerance the files agree: nothing to report.
        if e.ahead.0.unsigned_abs() < CLOCK_REPORT_MIN.0.unsigned_abs() {
            continue;
        }
        out.push(ClockOffset {
            file: name(e.file),
            ahead: e.ahead,
            reference: Some(name(e.reference)),
            requests: e.requests,
            applied: false,
            residual: Duration(0),
        });
    }
    out
}

/// The linked requests' clock estimates with one clock per recording (files cut from one
/// machine's capture by rotation, [`super::coverage::recordings`]): none between two files of
/// one recording, and the best-supported estimate of a recording's file (most requests) for
/// each of its files (those given `--time-offset` apart).
fn one_clock_per_recording(known: &Knowledge, files: &[String]) -> Vec<ClockEstimate> {
    let estimates = known.links.clocks();
    if files.len() <= 2 || estimates.is_empty() {
        return estimates.to_vec();
    }
    let groups = super::coverage::recordings(&super::input_coverage(known, files));
    let group_of = |f: u16| groups.iter().position(|g| g.contains(&usize::from(f)));
    let apart: Vec<&ClockEstimate> = estimates
        .iter()
        .filter(|e| group_of(e.file).is_none() || group_of(e.file) != group_of(e.reference))
        .collect();
    let given = |f: u16| known.config.clock_offsets.iter().any(|a| a.file == f);
    let mut out: Vec<ClockEstimate> = Vec::new();
    for e in &apart {
        let members: Vec<u16> = match group_of(e.file) {
            Some(g) => groups
                .get(g)
                .into_iter()
                .flatten()
                .filter_map(|i| u16::try_from(*i).ok())
                .collect(),
            None => vec![e.file],
        };
        // The recording's best estimate speaks for all its files.
        let best = apart
            .iter()
            .filter(|o| members.contains(&o.file))
            .max_by_key(|o| (o.requests, std::cmp::Reverse(o.file)));
        if best.is_some_and(|b| b.file != e.file) {
            continue;
        }
        for m in members {
            if (m == e.file || !given(m)) && !out.iter().any(|o| o.file == m) {
                out.push(ClockEstimate {
                    file: m,
                    ..(*e).clone()
                });
            }
        }
    }
    out.sort_by_key(|c| c.file);
    out
}

/// Smallest clock difference between files worth reporting (the pairing tolerance).
pub const CLOCK_REPORT_MIN: Duration = Duration(2_000_000);
