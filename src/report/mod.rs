//! Report layer: renders an [`Analysis`] as text, JSON or NDJSON. Every renderer reads the same
//! model and never re-analyses (Markdown/HTML renderers are to be added here the same way).

mod json;
mod text;

pub use json::{write_json, write_ndjson};
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
    }
}

#[cfg(test)]
mod tests;
