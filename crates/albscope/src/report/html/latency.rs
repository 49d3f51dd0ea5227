//! The target response-time distribution: one small histogram per target on a shared
//! logarithmic axis (five bins a decade), with the median and 99th percentile marked. Drawn
//! from each target's streaming histogram (every request, ok ones included).

use super::{esc, nav};
use crate::diagnose::metrics::TargetStats;
use crate::diagnose::{Analysis, TargetRow};
use crate::report::views;
use std::fmt::Write as _;

const W: f64 = 1120.0;
const LABEL_W: f64 = 210.0;
const ROW_H: f64 = 40.0;
const BINS_PER_DECADE: f64 = 5.0;
/// Most targets drawn.
const MAX_ROWS: usize = 40;

fn decade_label(e: i32) -> String {
    views::dur(Some(10f64.powi(e)))
        .replace(".0 ", " ")
        .replace(".000 ", " ")
}

/// Writes the picture (nothing when no target answered).
pub(super) fn distribution(h: &mut String, a: &Analysis) {
    let rows: Vec<(&TargetRow, &TargetStats)> = a
        .metrics
        .by_target
        .iter()
        .filter(|(_, t)| t.all.histogram.count() > 0)
        .take(MAX_ROWS)
        .collect();
    if rows.is_empty() {
        return;
    }
    // The shared axis: whole decades around every value (at least two).
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for (_, t) in &rows {
        for (v, _) in t.all.histogram.buckets() {
            let v = v.max(1e-6);
            lo = lo.min(v);
            hi = hi.max(v * 1.02);
        }
    }
    let mut d0 = lo.log10().floor() as i32;
    let d1 = (hi.log10().ceil() as i32).max(d0 + 2);
    d0 = d0.min(d1 - 2);
    let plot_x = LABEL_W + 10.0;
    let plot_w = W - plot_x - 20.0;
    let x_of = |v: f64| {
        let e = v.max(1e-9).log10().clamp(f64::from(d0), f64::from(d1));
        plot_x + (e - f64::from(d0)) / f64::from(d1 - d0) * plot_w
    };
    let nbins = (f64::from(d1 - d0) * BINS_PER_DECADE) as usize;
    let height = 20.0 + ROW_H * rows.len() as f64 + 36.0;
    let _ = write!(
        h,
        "<figure class=\"dist\" id=\"latency\"><svg class=\"dist\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height:.0}\" width=\"{W}\" height=\"{height:.0}\" role=\"img\" aria-label=\"target response time distribution per target\">"
    );
    for (r, (key, t)) in rows.iter().enumerate() {
        let top = 20.0 + ROW_H * r as f64;
        let base = top + ROW_H - 8.0;
        let mut counts = vec![0u64; nbins.max(1)];
        for (v, c) in t.all.histogram.buckets() {
            let e = (v.max(1e-9) * 1.01).log10() - f64::from(d0);
            let i = ((e * BINS_PER_DECADE).floor().max(0.0) as usize).min(counts.len() - 1);
            counts[i] += c;
        }
        let max = counts.iter().copied().max().unwrap_or(1).max(1);
        let name = match key {
            TargetRow::Target(e) => e.to_string(),
            TargetRow::NoTarget => "(no back-end attempt)".into(),
            TargetRow::Others => "(other targets)".into(),
        };
        let label = format!("{name} ({})", t.all.histogram.count());
        match nav::target_row_id(key).filter(|_| t.all.failed > 0) {
            Some(id) => {
                let _ = write!(
                    h,
                    "<a href=\"#{id}\"><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" font-size=\"12\" fill=\"#1d4ed8\">{}</text></a>",
                    LABEL_W,
                    base - 6.0,
                    esc(&label)
                );
            }
            None => {
                let _ = write!(
                    h,
                    "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" font-size=\"12\" fill=\"#111827\">{}</text>",
                    LABEL_W,
                    base - 6.0,
                    esc(&label)
                );
            }
        }
        let _ = write!(
            h,
            "<line x1=\"{plot_x:.0}\" y1=\"{base:.0}\" x2=\"{:.0}\" y2=\"{base:.0}\" stroke=\"#e5e7eb\"/>",
            plot_x + plot_w
        );
        let bw = plot_w / counts.len() as f64;
        for (i, &c) in counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let bh = (c as f64 / max as f64 * (ROW_H - 12.0)).max(1.5);
            let from = 10f64.powf(f64::from(d0) + i as f64 / BINS_PER_DECADE);
            let to = from * 10f64.powf(1.0 / BINS_PER_DECADE);
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#60a5fa\"><title>{}</title></rect>",
                plot_x + bw * i as f64 + 0.5,
                base - bh,
                (bw - 1.0).max(0.5),
                esc(&format!(
                    "{name}: {c} response{} between {} and {}",
                    if c == 1 { "" } else { "s" },
                    views::dur(Some(from)),
                    views::dur(Some(to))
                ))
            );
        }
        let l = &t.all.latency;
        for (v, what, color) in [(l.p50, "p50", "#111827"), (l.p99, "p99", "#dc2626")] {
            if let Some(v) = v {
                let x = x_of(v.as_secs_f64());
                let _ = write!(
                    h,
                    "<line x1=\"{x:.1}\" y1=\"{:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"><title>{what} {}</title></line>\
                     <text x=\"{:.1}\" y=\"{:.0}\" font-size=\"9.5\" fill=\"{color}\">{what}</text>",
                    top + 2.0,
                    base,
                    esc(&views::dur(Some(v.as_secs_f64()))),
                    x + 2.0,
                    top + 9.0
                );
            }
        }
    }
    let axis = 20.0 + ROW_H * rows.len() as f64 + 4.0;
    for e in d0..=d1 {
        let x = x_of(10f64.powi(e));
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" y1=\"16\" x2=\"{x:.1}\" y2=\"{axis:.0}\" stroke=\"#f3f4f6\"/>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#374151\">{}</text>",
            axis + 14.0,
            esc(&decade_label(e))
        );
    }
    let _ = writeln!(
        h,
        "<text x=\"{plot_x:.0}\" y=\"12\" font-size=\"12\" font-weight=\"600\" fill=\"#374151\">target response time (request sent → response headers), log scale; bars: requests per bin; dashed: p50 and p99</text></svg></figure>"
    );
}
