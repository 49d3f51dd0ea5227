//! The CloudWatch counterparts per minute, as a table with its notes.

use super::{esc, table};
use crate::diagnose::Analysis;
use crate::report::{views, words};

/// The per-minute table (periods with requests, then the whole window) and its notes.
pub fn periods(h: &mut String, a: &Analysis) {
    let (rows, not_listed) = views::period_rows(a);
    h.push_str("<h3>CloudWatch per minute</h3>");
    h.push_str(&format!(
        "<p>Periods with requests, aligned to the minute as CloudWatch publishes them; {}.</p>",
        esc(views::PERIOD_COLUMNS)
    ));
    let mut num = [true; 13];
    num[0] = false;
    table(h, &views::PERIOD_HEAD, &rows, &num);
    let notes = views::period_notes(a, not_listed);
    if !notes.is_empty() {
        h.push_str("<ul class=\"note\">");
        for n in notes {
            h.push_str(&format!(
                "<li>{}</li>",
                super::verdict::rich(&words::spans(&n))
            ));
        }
        h.push_str("</ul>");
    }
}
