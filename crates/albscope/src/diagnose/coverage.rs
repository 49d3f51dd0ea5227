//! What span of time each input covers and which vantage it shows (several inputs only): a
//! vantage an input alone shows is in the capture only over its span, and requests outside it
//! are judged from the other side alone.

use super::CaptureSpan;
use crate::alb::Knowledge;
use crate::capture::{Duration, Timestamp};
use serde::Serialize;

/// An input that starts or ends less than this apart from the whole capture covers it as far
/// as a report says: two recordings started or stopped by hand a moment apart.
pub const COVERAGE_REPORT_MIN: Duration = Duration(1_000_000_000);

/// One input's span and the vantages it showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputCoverage {
    /// The input's name as given.
    pub file: String,
    /// Its first packet (clock-corrected), `None` when it had none.
    pub start: Option<Timestamp>,
    /// Its last packet (clock-corrected), `None` when it had none.
    pub end: Option<Timestamp>,
    /// It showed front-end (client) connections.
    pub front: bool,
    /// It showed an ALB node's back-end connections or health checks.
    pub back: bool,
}

impl InputCoverage {
    /// True when it showed one vantage only: outside its span, requests are judged from the
    /// other side alone.
    pub fn one_side(&self) -> bool {
        self.front != self.back
    }

    /// How long after the start of the whole `capture` it started, when at least
    /// [`COVERAGE_REPORT_MIN`].
    pub fn started_late(&self, capture: &CaptureSpan) -> Option<Duration> {
        let gap = self.start?.since(capture.first?);
        (gap >= COVERAGE_REPORT_MIN).then_some(gap)
    }

    /// How long before the end of the whole `capture` it ended, when at least
    /// [`COVERAGE_REPORT_MIN`].
    pub fn ended_early(&self, capture: &CaptureSpan) -> Option<Duration> {
        let gap = capture.last?.since(self.end?);
        (gap >= COVERAGE_REPORT_MIN).then_some(gap)
    }
}

/// Each input's [`InputCoverage`], in the order given; empty with one input (it covers the
/// whole capture).
pub fn input_coverage(known: &Knowledge, files: &[String]) -> Vec<InputCoverage> {
    let spans = known.coverage().spans();
    if spans.len() <= 1 {
        return Vec::new();
    }
    let back = known.back_inputs();
    spans
        .iter()
        .zip(files)
        .enumerate()
        .map(|(i, (span, file))| {
            let index = u16::try_from(i).unwrap_or(u16::MAX);
            InputCoverage {
                file: file.clone(),
                start: span.start,
                end: span.start.and(span.end),
                front: known.front_inputs().iter().any(|f| f == index),
                back: back.contains(&index),
            }
        })
        .collect()
}

/// The inputs of one recording, by index into the inputs: one machine's capture cut into
/// consecutive files (tcpdump `-C`/`-G` rotation), or one input alone. Files are taken for
/// pieces of one recording when they do not overlap in time and no vantage they show
/// contradicts the others' (a piece showing only the front end does not continue one that
/// showed only the back end): each input, by start, continues the recording that ended last
/// before it started among those it fits. Inputs without packets are alone.
pub fn recordings(inputs: &[InputCoverage]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|i| (inputs.get(*i).and_then(|c| c.start), *i));
    // Per recording: its inputs, latest end, and whether it showed the front, the back end.
    let mut out: Vec<(Vec<usize>, Timestamp, bool, bool)> = Vec::new();
    for i in order {
        let Some(c) = inputs.get(i) else { continue };
        let (Some(start), Some(end)) = (c.start, c.end) else {
            out.push((vec![i], Timestamp(i64::MIN), false, false));
            continue;
        };
        let fits = |r: &(Vec<usize>, Timestamp, bool, bool)| {
            let (front, back) = (r.2 || c.front, r.3 || c.back);
            let one_sided_before = r.2 != r.3;
            let one_sided_now = c.front != c.back;
            // Both one-sided, each another side: two machines' recordings.
            let contradicts = one_sided_before && one_sided_now && (r.2 != c.front);
            r.1 < start && !r.0.is_empty() && (front || back) && !contradicts
        };
        let best = out
            .iter_mut()
            .filter(|r| r.1 != Timestamp(i64::MIN))
            .filter(|r| fits(r))
            .max_by_key(|r| r.1);
        match best {
            Some(r) => {
                r.0.push(i);
                r.1 = end;
                r.2 |= c.front;
                r.3 |= c.back;
            }
            None => out.push((vec![i], end, c.front, c.back)),
        }
    }
    out.into_iter().map(|r| r.0).collect()
}

/// A time inside a recording's span when none of its inputs has packets for longer than a
/// rotation boundary's silence ([`crate::alb::JOIN_MAX`]): a file missing (e.g. overwritten
/// by `-W`) or the recording paused. What the recording shows is not in the capture then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CoverageGap {
    /// The last packet before it (of input `before`).
    pub from: Timestamp,
    /// The first packet after it (of input `after`).
    pub to: Timestamp,
    /// The input that ends before it.
    pub before: String,
    /// The input that starts after it.
    pub after: String,
}

/// One recording's span (see [`recordings`]), the vantages it showed and its gaps; listed
/// for a recording of several inputs, or one whose span is not the whole capture's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingCoverage {
    /// Its inputs' names, by start.
    pub files: Vec<String>,
    /// Its first packet (clock-corrected).
    pub start: Option<Timestamp>,
    /// Its last packet (clock-corrected).
    pub end: Option<Timestamp>,
    /// It showed front-end (client) connections.
    pub front: bool,
    /// It showed an ALB node's back-end connections or health checks.
    pub back: bool,
    /// The times inside its span that none of its inputs covers.
    pub gaps: Vec<CoverageGap>,
}

impl RecordingCoverage {
    /// Its span and vantages as one input's (for [`InputCoverage::started_late`] and the
    /// like).
    pub fn as_input(&self) -> InputCoverage {
        InputCoverage {
            file: self.files.join(", "),
            start: self.start,
            end: self.end,
            front: self.front,
            back: self.back,
        }
    }
}

/// Each recording of several inputs (see [`recordings`]), with its gaps, in the order of
/// their first input given; empty with one input.
pub fn recording_coverage(known: &Knowledge, inputs: &[InputCoverage]) -> Vec<RecordingCoverage> {
    if inputs.len() <= 1 {
        return Vec::new();
    }
    let mut groups = recordings(inputs);
    groups.sort_by_key(|g| g.iter().min().copied());
    groups
        .into_iter()
        .map(|g| {
            let mut files: Vec<&InputCoverage> = g.iter().filter_map(|i| inputs.get(*i)).collect();
            files.sort_by_key(|c| c.start);
            let indices = g.iter().filter_map(|i| u16::try_from(*i).ok());
            let segments = known.coverage().segments(indices);
            let name = |f: u16| {
                inputs
                    .get(usize::from(f))
                    .map(|c| c.file.clone())
                    .unwrap_or_default()
            };
            let gaps = segments
                .windows(2)
                .filter_map(|w| {
                    let (a, b) = (w.first()?, w.get(1)?);
                    let before = *a
                        .files
                        .iter()
                        .rfind(|f| known.coverage().end(**f) == a.end)?;
                    Some(CoverageGap {
                        from: a.end,
                        to: b.start,
                        before: name(before),
                        after: name(*b.files.first()?),
                    })
                })
                .collect();
            RecordingCoverage {
                files: files.iter().map(|c| c.file.clone()).collect(),
                start: files.iter().filter_map(|c| c.start).min(),
                end: files.iter().filter_map(|c| c.end).max(),
                front: files.iter().any(|c| c.front),
                back: files.iter().any(|c| c.back),
                gaps,
            }
        })
        .collect()
}
