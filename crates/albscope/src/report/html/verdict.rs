//! The verdict block at the top of the page, and rich text (prose with code spans) as HTML.

use super::esc;
use crate::diagnose::verdict::Verdict;
use crate::diagnose::Analysis;
use crate::report::words::{self, Piece, Rich};

/// Rich text as HTML: prose escaped, code in `<code>`.
pub fn rich(r: &Rich) -> String {
    r.0.iter()
        .map(|p| match p {
            Piece::Text(t) => esc(t),
            Piece::Code(c) => format!("<code>{}</code>", esc(c)),
        })
        .collect()
}

/// The verdict as one block: what happened and what to do.
pub fn verdict_block(a: &Analysis) -> String {
    let v = Verdict::of(a);
    // Inline styles keep this block independent of the page's style sheet.
    let (class, colours) = if v.failed > 0 {
        (
            "verdict bad",
            "border-left:5px solid #b91c1c;background:#fef2f2",
        )
    } else if !v.risks.is_empty() {
        (
            "verdict risk",
            "border-left:5px solid #d97706;background:#fffbeb",
        )
    } else {
        (
            "verdict good",
            "border-left:5px solid #15803d;background:#f0fdf4",
        )
    };
    format!(
        "<section class=\"{class}\" id=\"verdict\" style=\"{colours};padding:10px 14px;\
         margin:12px 0 18px;font-size:15px\"><b>Verdict:</b> {}</section>\n",
        rich(&words::verdict(&v))
    )
}
