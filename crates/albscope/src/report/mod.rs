//! Report layer: renders an [`Analysis`] as text, JSON, NDJSON, Markdown or HTML. Every
//! renderer reads the same model and never re-analyses. [`slice`] writes the packets of chosen
//! requests back out as small captures (`albscope extract`).

pub mod header;
pub mod html;
mod json;
mod logjoin;
pub mod markdown;
pub mod pcapng;
pub mod slice;
mod text;
pub mod views;
pub mod wireshark;
pub mod words;

pub use html::write_html;
pub use json::{write_json, write_json_on, write_ndjson, LoggedOut, SCHEMA_VERSION};
pub use logjoin::{disagreement_text, join_summary_lines, logged_lines};
pub use markdown::{write_markdown, write_markdown_with, MarkdownOptions};
pub use text::{write_text, TextOptions};

use crate::diagnose::Analysis;
use std::io::{self, Write};

/// Output format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable report.
    Text,
    /// One JSON document.
    Json,
    /// One JSON request per line, then a summary line.
    Ndjson,
    /// Markdown for a ticket.
    Markdown,
    /// One self-contained HTML file with sequence diagrams.
    Html,
}

/// Renders `analysis` in `format` to `out`.
pub fn render(
    analysis: &Analysis,
    format: Format,
    text: &TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => write_text(analysis, text, out),
        Format::Json => write_json(analysis, out),
        Format::Ndjson => write_ndjson(analysis, out),
        Format::Markdown => write_markdown(analysis, out),
        Format::Html => write_html(analysis, out),
    }
}

/// The report `albscope check` compares and golden files hold: the failed requests only, as
/// JSON (`json`) or as the default text report (no colour), without the run-dependent memory
/// estimate (`alb_limits.pairing_peak_bytes`, written as 0).
pub fn expected_report(analysis: &Analysis, json: bool) -> io::Result<String> {
    let mut a = analysis.failures_only();
    // An estimate from struct sizes, which change with the compiler: not part of what a
    // report is expected to say.
    a.alb_limits.pairing_peak_bytes = 0;
    let mut buf = Vec::new();
    if json {
        write_json(&a, &mut buf)?;
    } else {
        write_text(&a, &TextOptions::default(), &mut buf)?;
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests;
