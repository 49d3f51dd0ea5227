//! The colour legend of the sequence diagrams (once, before the failures; each diagram also
//! carries a one-line legend of the kinds it draws) and what a packet number is.

use super::esc;
use super::palette::{self, Kind, KIND_LEGEND};
use std::fmt::Write as _;

/// What the numbers on the arrows are.
pub(super) const PACKET_WORDS: &str = "packet #197 is packet number 197 in the capture file, \
     as Wireshark shows it in its No. column (display filter frame.number == 197; Go to Packet, \
     Ctrl-G)";

/// The legend block (id `legend`).
pub(super) fn page_legend(h: &mut String) {
    h.push_str(
        "<div class=\"legend\" id=\"legend\"><b>Reading the diagrams</b><ul class=\"keys\">",
    );
    for (k, words) in KIND_LEGEND {
        let c = palette::kind(k);
        let _ = write!(
            h,
            "<li><svg width=\"34\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"27\" y2=\"5\" stroke=\"{c}\" stroke-width=\"2.2\"/><path d=\"M26,1 L33,5 L26,9 z\" fill=\"{c}\"/></svg>{}</li>",
            esc(words)
        );
    }
    h.push_str(
        "<li><svg width=\"34\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"33\" y2=\"5\" stroke=\"#4b5563\" stroke-width=\"1.6\" stroke-dasharray=\"5 3\"/></svg>dashed: a retransmission (sent again)</li>\
         <li><i class=\"band\"></i>shaded: the back-end connection idle (kept alive) before the request</li></ul>",
    );
    let _ = writeln!(
        h,
        "<p class=\"note\">Three lifelines: the client, the ALB node, the target; time runs down. \
         Arrows slant the way packets travel: the end where the capture saw the packet is at its \
         time, the other end a little later (or earlier). Long gaps are shortened and marked \
         \"… later\"; brackets on the right name the timers that ended the request. {}.</p></div>",
        esc(PACKET_WORDS)
    );
}

/// One SVG line naming the kinds a diagram draws, at `y`.
pub(super) fn diagram_legend(s: &mut String, kinds: &[Kind], y: f64, x0: f64) {
    let mut seen = [false; KIND_LEGEND.len()];
    for k in kinds {
        if let Some(x) = seen.get_mut(palette::legend_index(*k)) {
            *x = true;
        }
    }
    let mut x = x0;
    for (i, (k, words)) in KIND_LEGEND.iter().enumerate() {
        if !seen.get(i).copied().unwrap_or(false) {
            continue;
        }
        let c = palette::kind(*k);
        let _ = write!(
            s,
            "<line x1=\"{x:.0}\" y1=\"{:.1}\" x2=\"{:.0}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-width=\"2.2\"/>\
             <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"10.5\" fill=\"#374151\">{}</text>",
            y - 3.5,
            x + 18.0,
            y - 3.5,
            x + 22.0,
            y,
            esc(words)
        );
        x += 30.0 + 5.6 * words.chars().count() as f64;
    }
    let _ = write!(
        s,
        "<text x=\"{x:.0}\" y=\"{y:.1}\" font-size=\"10.5\" fill=\"#6b7280\">· #N = packet number in the capture (Wireshark's No.)</text>"
    );
}
