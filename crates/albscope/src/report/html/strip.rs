//! The time strip: client requests per time bin above the failures per bin by category, on a
//! wall-clock UTC axis, so the picture lines up with a CloudWatch alarm or a deploy. The bin
//! width comes from the capture's duration (at most about 60 bins; bins aligned to multiples of
//! their width, so 60 s bins are CloudWatch minutes). A bin with failures links to its first
//! failure.

use super::{esc, nav, palette};
use crate::capture::Timestamp;
use crate::diagnose::series::{Bin, WIDTHS_NS};
use crate::diagnose::{Analysis, Finding};
use crate::taxonomy::Category;
use std::fmt::Write as _;

/// Most bins drawn.
const TARGET_BINS: i64 = 80;
/// The bin widths the strip chooses from (seconds); one is used when it is a multiple of the
/// width the series holds.
const DISPLAY_WIDTHS_S: [f64; 21] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    3600.0, 7200.0, 21600.0, 43200.0, 86400.0, 604800.0,
];
const W: f64 = 1120.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const REQ_H: f64 = 56.0;
const FAIL_H: f64 = 70.0;

/// The display bin width for a window of `span_ns`, no finer than the series holds.
fn bin_width(span_ns: i64, finest: i64) -> i64 {
    DISPLAY_WIDTHS_S
        .iter()
        .map(|s| (s * 1e9).round() as i64)
        .chain(WIDTHS_NS)
        .filter(|w| *w >= finest && w % finest.max(1) == 0)
        .find(|w| span_ns / w <= TARGET_BINS)
        .unwrap_or(finest)
}

/// A wall-clock label: `HH:MM:SS` (with tenths below 1 s bins), `HH:MM` for minute bins and
/// over; the date is given once in the caption.
fn clock(t: Timestamp, width_ns: i64) -> String {
    let s = t.to_rfc3339();
    let tod = s.get(11..).unwrap_or(&s);
    if width_ns < 1_000_000_000 {
        tod.get(..10).unwrap_or(tod).to_string()
    } else if width_ns < 60_000_000_000 {
        tod.get(..8).unwrap_or(tod).to_string()
    } else if width_ns < 86_400_000_000_000 {
        tod.get(..5).unwrap_or(tod).to_string()
    } else {
        s.get(..10).unwrap_or(&s).to_string()
    }
}

/// A bin width in words: `100 ms`, `1 s`, `5 min`.
fn width_words(w: i64) -> String {
    let s = w as f64 / 1e9;
    if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 86_400.0 {
        format!("{:.0} h", s / 3600.0)
    } else {
        format!("{:.0} d", s / 86_400.0)
    }
}

fn bin_title(start: Timestamp, w: i64, b: &Bin) -> String {
    let mut t = format!(
        "{} – {} UTC: {} request{}, {} failed",
        clock(start, w.min(1_000_000_000)),
        clock(
            start.plus(crate::capture::Duration(w)),
            w.min(1_000_000_000)
        ),
        b.requests,
        if b.requests == 1 { "" } else { "s" },
        b.failures()
    );
    for (c, n) in &b.failed {
        let _ = write!(t, "; {} {n}", c.name());
    }
    t
}

/// Writes the time strip (nothing when the capture holds no client request).
pub(super) fn strip(h: &mut String, a: &Analysis, failed: &[&Finding], anchors: &[String]) {
    let series = &a.metrics.series;
    let (Some((first, _)), Some((last, _))) = (series.bins().next(), series.bins().last()) else {
        return;
    };
    let from = a.capture.first.map_or(first, |t| t.min(first));
    let to = a
        .capture
        .last
        .map_or(last, |t| t.max(last))
        .max(Timestamp(last.0.saturating_add(series.width_ns())));
    let w = bin_width(to.0.saturating_sub(from.0), series.width_ns());
    let bins = series.regrouped(w);
    let start = from.0.div_euclid(w) * w;
    let n = ((to.0.saturating_sub(start)).div_euclid(w) + 1).clamp(1, 4 * TARGET_BINS) as usize;
    let bw = (W - LEFT - RIGHT) / n as f64;
    let max_req = bins.values().map(|b| b.requests).max().unwrap_or(1).max(1);
    let max_fail = bins.values().map(Bin::failures).max().unwrap_or(0);
    let fail_top = 24.0 + REQ_H + 14.0;
    let axis_y = fail_top + FAIL_H;
    let height = axis_y + 34.0;
    let day = from.to_rfc3339();
    let _ = write!(
        h,
        "<figure class=\"strip\" id=\"strip\"><svg class=\"strip\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height:.0}\" width=\"{W}\" height=\"{height:.0}\" role=\"img\" aria-label=\"client requests and failures over time\">"
    );
    // Panel labels and scales.
    let _ = write!(
        h,
        "<text x=\"{LEFT}\" y=\"14\" font-size=\"12\" font-weight=\"600\" fill=\"#374151\">client requests per {} (max {max_req})</text>\
         <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"12\" font-weight=\"600\" fill=\"#991b1b\">failed requests by category (max {max_fail})</text>\
         <line x1=\"{LEFT}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"#d1d5db\"/>\
         <line x1=\"{LEFT}\" y1=\"{axis_y:.0}\" x2=\"{:.0}\" y2=\"{axis_y:.0}\" stroke=\"#9ca3af\"/>",
        esc(&width_words(w)),
        LEFT,
        fail_top - 3.0,
        24.0 + REQ_H,
        W - RIGHT,
        24.0 + REQ_H,
        W - RIGHT
    );
    for i in 0..n {
        let b0 = start.saturating_add(w.saturating_mul(i as i64));
        let x = LEFT + bw * i as f64;
        let Some(b) = bins.get(&b0) else { continue };
        let title = esc(&bin_title(Timestamp(b0), w, b));
        let rh = (b.requests as f64 / max_req as f64 * REQ_H).max(1.0);
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{rh:.1}\" fill=\"#9ca3af\"><title>{title}</title></rect>",
            x + 0.5,
            24.0 + REQ_H - rh,
            (bw - 1.0).max(0.5)
        );
        if b.failures() == 0 || max_fail == 0 {
            continue;
        }
        let first_failure = failed
            .iter()
            .zip(anchors)
            .find(|(f, _)| f.time.0 >= b0 && f.time.0 < b0.saturating_add(w));
        if let Some((_, id)) = first_failure {
            let _ = write!(h, "<a href=\"#{id}\">");
        }
        let mut y = axis_y;
        let mut cats: Vec<&(Category, u64)> = b.failed.iter().collect();
        cats.sort_by_key(|(c, _)| Category::ALL.iter().position(|x| x == c));
        for (c, k) in cats {
            let fh = (*k as f64 / max_fail as f64 * (FAIL_H - 4.0)).max(2.0);
            y -= fh;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{fh:.1}\" fill=\"{}\"><title>{title}</title></rect>",
                x + 0.5,
                (bw - 1.0).max(0.5),
                palette::category(*c)
            );
        }
        if first_failure.is_some() {
            h.push_str("</a>");
        }
    }
    // The clock axis: about eight labels, at round wall-clock times.
    let span = w.saturating_mul(n as i64);
    let tick = DISPLAY_WIDTHS_S
        .iter()
        .map(|s| (s * 1e9).round() as i64)
        .chain(WIDTHS_NS)
        .find(|t| *t >= span / 8 && t % w == 0)
        .unwrap_or(span.max(1));
    let mut t = start.div_euclid(tick) * tick;
    if t < start {
        t = t.saturating_add(tick);
    }
    while t <= start.saturating_add(span) {
        let x = LEFT + (t - start) as f64 / w as f64 * bw;
        let anchor = if x > W - RIGHT - 30.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" y1=\"{axis_y:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"#9ca3af\"/>\
             <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"{anchor}\" font-size=\"11\" fill=\"#374151\">{}</text>",
            axis_y + 5.0,
            axis_y + 18.0,
            esc(&clock(Timestamp(t), tick))
        );
        t = t.saturating_add(tick);
    }
    let _ = write!(
        h,
        "<text x=\"{LEFT}\" y=\"{:.0}\" font-size=\"11\" fill=\"#6b7280\">UTC, {} · bins of {} aligned to the clock</text></svg>",
        axis_y + 32.0,
        esc(day.get(..10).unwrap_or(&day)),
        esc(&width_words(w))
    );
    // The legend: the categories drawn, each linking to its failures.
    let mut drawn: Vec<Category> = Vec::new();
    for b in bins.values() {
        for (c, _) in &b.failed {
            if !drawn.contains(c) {
                drawn.push(*c);
            }
        }
    }
    drawn.sort_by_key(|c| Category::ALL.iter().position(|x| x == c));
    h.push_str("<figcaption>");
    if drawn.is_empty() {
        h.push_str("No failed requests in the capture.");
    }
    for c in drawn {
        let _ = write!(
            h,
            "<a class=\"key\" href=\"#{}\" data-fcat=\"{}\"><i style=\"background:{}\"></i>{}</a> ",
            nav::category_id(c),
            esc(c.name()),
            palette::category(c),
            esc(c.name())
        );
    }
    let _ =
        writeln!(
        h,
        "<span class=\"note\">Grey: every client request (ok ones included). Each request sits \
         at its arrival; CloudWatch counts it when it ends (a timeout up to {} later). Click a \
         coloured bar to jump to the first failure in it.</span></figcaption></figure>",
        esc(&width_words(a.timers.idle_timeout.0.max(a.timers.connect_timeout.0)))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_width_follows_the_capture_length() {
        assert_eq!(bin_width(18_000_000_000, 100_000_000), 500_000_000);
        assert_eq!(bin_width(124_000_000_000, 100_000_000), 2_000_000_000);
        assert_eq!(bin_width(3_600_000_000_000, 100_000_000), 60_000_000_000);
        assert_eq!(bin_width(1_000_000, 100_000_000), 100_000_000);
        assert_eq!(bin_width(18_000_000_000, 1_000_000_000), 1_000_000_000);
        // Held at 2 s: 5 s is not a multiple, 10 s is.
        assert_eq!(bin_width(600_000_000_000, 2_000_000_000), 10_000_000_000);
    }

    #[test]
    fn clock_labels() {
        let t = Timestamp(1_765_471_377_298_000_000);
        assert_eq!(clock(t, 1_000_000_000), "16:42:57");
        assert_eq!(clock(t, 100_000_000), "16:42:57.2");
        assert_eq!(clock(t, 60_000_000_000), "16:42");
    }
}
