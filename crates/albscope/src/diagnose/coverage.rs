//! What span of time each input covers and which vantage it shows (several inputs only): a
//! vantage an input alone shows is in the capture only over its span, and requests outside it
//! are judged from the other side alone.

use super::CaptureSpan;
use crate::alb::Knowledge;
use crate::capture::{Duration, Timestamp};

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
